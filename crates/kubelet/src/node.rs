//! The Node object: machine facts, registration, status, and the Lease.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus,
    NodeSystemInfo, Taint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};

/// The version this kubelet reports.
pub const KUBELET_VERSION: &str = "v1.33.0";

/// Number of CPUs (`nproc`).
pub fn cpu_count() -> i64 {
    std::thread::available_parallelism()
        .map(|n| n.get() as i64)
        .unwrap_or(1)
}

/// `MemTotal` from /proc/meminfo, in bytes.
pub fn memory_bytes() -> i64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    parse_meminfo(&text)
}

/// `MemTotal` of a /proc/meminfo text, in bytes.
pub fn parse_meminfo(text: &str) -> i64 {
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<i64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Size in bytes of the filesystem holding `path` (`df`, since statvfs
/// would need unsafe code).
pub fn fs_capacity(path: &Path) -> i64 {
    let mut p = path.to_path_buf();
    while !p.exists() {
        if !p.pop() {
            break;
        }
    }
    std::process::Command::new("df")
        .args(["-P", "-B1", "--output=size"])
        .arg(&p)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .nth(1)
                .and_then(|l| l.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// `PRETTY_NAME` of an os-release text.
pub fn parse_os_release(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// What the node reports that does not change while it runs.
#[derive(Debug, Clone)]
pub struct MachineInfo {
    /// Capacity (= allocatable: no reservations yet).
    pub capacity: BTreeMap<String, Quantity>,
    /// nodeInfo.
    pub info: NodeSystemInfo,
    /// The kubelet API's port (`status.daemonEndpoints.kubeletEndpoint`).
    pub kubelet_port: u16,
}

/// Reads the machine's facts.
pub fn machine_info(root_dir: &Path, max_pods: u32, runtime_version: &str) -> MachineInfo {
    let mut capacity = BTreeMap::new();
    capacity.insert("cpu".into(), Quantity(cpu_count().to_string()));
    capacity.insert(
        "memory".into(),
        Quantity(format!("{}Ki", memory_bytes() / 1024)),
    );
    capacity.insert(
        "ephemeral-storage".into(),
        Quantity(format!("{}Ki", fs_capacity(root_dir) / 1024)),
    );
    capacity.insert("pods".into(), Quantity(max_pods.to_string()));
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let info = NodeSystemInfo {
        architecture: arch.into(),
        operating_system: std::env::consts::OS.into(),
        kernel_version: read_trim("/proc/sys/kernel/osrelease"),
        os_image: parse_os_release(&std::fs::read_to_string("/etc/os-release").unwrap_or_default()),
        container_runtime_version: runtime_version.into(),
        kubelet_version: KUBELET_VERSION.into(),
        kube_proxy_version: String::new(),
        machine_id: read_trim("/etc/machine-id"),
        system_uuid: read_trim("/sys/class/dmi/id/product_uuid"),
        boot_id: read_trim("/proc/sys/kernel/random/boot_id"),
        ..Default::default()
    };
    MachineInfo {
        capacity,
        info,
        kubelet_port: crate::server::DEFAULT_PORT,
    }
}

/// The runtime's readiness, as the Ready condition needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeHealth {
    /// `None` when ready, else the message of the Ready=False condition.
    pub problem: Option<String>,
}

/// Derives the runtime health from CRI Status (upstream's messages).
pub fn runtime_health(status: Result<&cri::api::RuntimeStatus, String>) -> RuntimeHealth {
    let problem = match status {
        Err(e) => Some(format!("container runtime is down: {e}")),
        Ok(s) => {
            let mut problems = Vec::new();
            for kind in ["RuntimeReady", "NetworkReady"] {
                match s.conditions.iter().find(|c| c.r#type == kind) {
                    Some(c) if c.status => {}
                    Some(c) => {
                        let what = if kind == "RuntimeReady" {
                            "container runtime status check may not have completed yet"
                        } else {
                            "container runtime network not ready"
                        };
                        problems.push(format!(
                            "{what}: {kind}=false reason:{} message:{}",
                            c.reason, c.message
                        ));
                    }
                    None => problems.push(format!("container runtime did not report {kind}")),
                }
            }
            (!problems.is_empty()).then(|| problems.join(", "))
        }
    };
    RuntimeHealth { problem }
}

/// The Node status to post (heartbeat times `now`; transition times kept
/// from `old` when a condition's status is unchanged).
pub fn node_status(
    machine: &MachineInfo,
    node_ip: &str,
    hostname: &str,
    health: &RuntimeHealth,
    old: Option<&NodeStatus>,
) -> NodeStatus {
    let now = crate::sync::now_time();
    let old_conds = old.and_then(|s| s.conditions.clone()).unwrap_or_default();
    let cond = |t: &str, status: bool, reason: &str, message: &str| {
        let status = if status { "True" } else { "False" };
        let ltt = old_conds
            .iter()
            .find(|c| c.type_ == t && c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| now.clone());
        NodeCondition {
            type_: t.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            last_heartbeat_time: Some(now.clone()),
            last_transition_time: Some(ltt),
        }
    };
    let ready = match &health.problem {
        None => cond(
            "Ready",
            true,
            "KubeletReady",
            "kubelet is posting ready status",
        ),
        Some(p) => cond("Ready", false, "KubeletNotReady", p),
    };
    NodeStatus {
        capacity: Some(machine.capacity.clone()),
        allocatable: Some(machine.capacity.clone()),
        conditions: Some(vec![
            cond(
                "MemoryPressure",
                false,
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            cond(
                "DiskPressure",
                false,
                "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure",
            ),
            cond(
                "PIDPressure",
                false,
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            ready,
        ]),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: node_ip.into(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: hostname.into(),
            },
        ]),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint {
                port: i32::from(machine.kubelet_port),
            }),
        }),
        node_info: Some(machine.info.clone()),
        ..Default::default()
    }
}

/// Strips the heartbeat times so that two statuses compare on content.
pub fn without_heartbeats(s: &NodeStatus) -> NodeStatus {
    let mut s = s.clone();
    for c in s.conditions.iter_mut().flatten() {
        c.last_heartbeat_time = None;
    }
    s
}

/// Parses `--register-with-taints` (`key=value:Effect,key:Effect`).
pub fn parse_taints(text: &str) -> Result<Vec<Taint>, String> {
    let mut out = Vec::new();
    for t in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (kv, effect) = t
            .rsplit_once(':')
            .ok_or_else(|| format!("invalid taint {t:?}: missing effect"))?;
        if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
            return Err(format!("invalid taint effect {effect:?} in {t:?}"));
        }
        let (key, value) = match kv.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (kv, None),
        };
        out.push(Taint {
            key: key.into(),
            value,
            effect: effect.into(),
            time_added: None,
        });
    }
    Ok(out)
}

/// Parses `--node-labels` (`k=v,k2=v2`).
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for kv in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("invalid label {kv:?}: want key=value"))?;
        out.insert(k.into(), v.into());
    }
    Ok(out)
}

/// The Node object the kubelet registers.
pub fn initial_node(
    name: &str,
    labels: &BTreeMap<String, String>,
    taints: &[Taint],
    pod_cidr: Option<&str>,
) -> Node {
    let mut l = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), name.to_string()),
        (
            "kubernetes.io/os".to_string(),
            std::env::consts::OS.to_string(),
        ),
        (
            "kubernetes.io/arch".to_string(),
            match std::env::consts::ARCH {
                "x86_64" => "amd64".into(),
                "aarch64" => "arm64".into(),
                o => o.to_string(),
            },
        ),
    ]);
    l.extend(labels.clone());
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(l),
            annotations: Some(BTreeMap::from([(
                "volumes.kubernetes.io/controller-managed-attach-detach".to_string(),
                "true".to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            taints: (!taints.is_empty()).then(|| taints.to_vec()),
            pod_cidr: pod_cidr.map(String::from),
            pod_cidrs: pod_cidr.map(|c| vec![c.to_string()]),
            ..Default::default()
        }),
        status: None,
    }
}

/// The node's Lease in `kube-node-lease`.
pub fn lease(node: &Node, duration_seconds: i32) -> Lease {
    let name = node.metadata.name.clone().unwrap_or_default();
    Lease {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some("kube-node-lease".into()),
            owner_references: node.metadata.uid.clone().map(|uid| {
                vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "Node".into(),
                    name: name.clone(),
                    uid,
                    ..Default::default()
                }]
            }),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(name),
            lease_duration_seconds: Some(duration_seconds),
            renew_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
            ..Default::default()
        }),
    }
}
