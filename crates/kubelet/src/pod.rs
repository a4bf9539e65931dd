//! From a Pod spec to CRI configs: QoS class and cgroup parent, DNS,
//! sandbox config, container config (env with `$(VAR)` expansion, resources).

use std::collections::{BTreeMap, HashMap};

use apimachinery::quantity::Quantity;
use cri::api;
use k8s_openapi::api::core::v1::{Container, Pod, ResourceRequirements};

use crate::objects::Objects;

/// Labels the kubelet puts on sandboxes and containers (as upstream).
pub const LABEL_POD_NAME: &str = "io.kubernetes.pod.name";
/// The pod's namespace.
pub const LABEL_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// The pod's uid: how the kubelet finds a pod's sandboxes and containers.
pub const LABEL_POD_UID: &str = "io.kubernetes.pod.uid";
/// The container's name in the pod spec.
pub const LABEL_CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// Annotation: how often the container has been restarted.
pub const ANNOTATION_RESTART_COUNT: &str = "io.kubernetes.container.restartCount";
/// Annotation: the termination grace period of the container.
pub const ANNOTATION_GRACE: &str = "io.kubernetes.pod.terminationGracePeriod";
/// Annotation: the container's preStop handler (JSON), run before it stops.
pub const ANNOTATION_PRE_STOP: &str = "io.kubernetes.container.preStopHandler";
/// Annotation: the container's ports (JSON), for named hook ports.
pub const ANNOTATION_PORTS: &str = "io.kubernetes.container.ports";

/// What the kubelet knows about its node that pod configs need.
#[derive(Debug, Clone)]
pub struct NodeContext {
    /// The Node's name.
    pub node_name: String,
    /// The node's primary IP (status.hostIP).
    pub node_ip: String,
    /// `--cluster-dns`.
    pub cluster_dns: Vec<String>,
    /// `--cluster-domain`.
    pub cluster_domain: String,
    /// The root of the pod cgroups (`--cgroup-root`), `""` for `/`.
    pub cgroup_root: String,
    /// The directory holding `<ns>_<name>_<uid>` pod log directories.
    pub pod_log_root: std::path::PathBuf,
    /// The host's resolv.conf, for dnsPolicy Default.
    pub resolv_conf: std::path::PathBuf,
    /// Node memory capacity in bytes (for Burstable oom_score_adj).
    pub memory_capacity: i64,
}

/// Upstream's QoS classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QosClass {
    /// Every container has equal cpu and memory requests and limits.
    Guaranteed,
    /// Some requests or limits, not Guaranteed.
    Burstable,
    /// No requests or limits at all.
    BestEffort,
}

impl QosClass {
    /// The name in `status.qosClass`.
    pub fn as_str(self) -> &'static str {
        match self {
            QosClass::Guaranteed => "Guaranteed",
            QosClass::Burstable => "Burstable",
            QosClass::BestEffort => "BestEffort",
        }
    }
}

fn quantity(q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity) -> Option<Quantity> {
    Quantity::parse(&q.0).ok()
}

fn res_get(
    map: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
    name: &str,
) -> Option<Quantity> {
    map.and_then(|m| m.get(name)).and_then(quantity)
}

/// All containers of the pod: init containers first.
pub fn all_containers(pod: &Pod) -> impl Iterator<Item = &Container> {
    let spec = pod.spec.as_ref();
    spec.and_then(|s| s.init_containers.as_ref())
        .into_iter()
        .flatten()
        .chain(spec.map(|s| s.containers.iter()).into_iter().flatten())
}

/// The pod's QoS class, computed as upstream's `GetPodQOS`.
pub fn qos_class(pod: &Pod) -> QosClass {
    let mut any = false;
    let mut guaranteed = true;
    for c in all_containers(pod) {
        let r = c.resources.as_ref();
        let requests = r.and_then(|r| r.requests.as_ref());
        let limits = r.and_then(|r| r.limits.as_ref());
        for name in ["cpu", "memory"] {
            let req = res_get(requests, name).filter(|q| !q.is_zero());
            let lim = res_get(limits, name).filter(|q| !q.is_zero());
            if req.is_some() || lim.is_some() {
                any = true;
            }
            match (req, lim) {
                (_, None) => guaranteed = false,
                (Some(req), Some(lim)) if req.milli_value() != lim.milli_value() => {
                    guaranteed = false
                }
                _ => {}
            }
        }
    }
    if !any {
        QosClass::BestEffort
    } else if guaranteed {
        QosClass::Guaranteed
    } else {
        QosClass::Burstable
    }
}

/// The pod's cgroup parent with the cgroupfs driver:
/// `<root>/kubepods/pod<uid>` (Guaranteed) or
/// `<root>/kubepods/{burstable,besteffort}/pod<uid>`.
pub fn cgroup_parent(cgroup_root: &str, qos: QosClass, uid: &str) -> String {
    let root = cgroup_root.trim_end_matches('/');
    match qos {
        QosClass::Guaranteed => format!("{root}/kubepods/pod{uid}"),
        QosClass::Burstable => format!("{root}/kubepods/burstable/pod{uid}"),
        QosClass::BestEffort => format!("{root}/kubepods/besteffort/pod{uid}"),
    }
}

/// The sandbox's DNS config for the pod's dnsPolicy; `None` leaves the
/// runtime's default.
pub fn dns_config(pod: &Pod, node: &NodeContext) -> Option<api::DnsConfig> {
    let spec = pod.spec.as_ref()?;
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let host_network = spec.host_network.unwrap_or(false);
    let policy = spec.dns_policy.as_deref().unwrap_or("ClusterFirst");
    let domain = node.cluster_domain.trim_end_matches('.');
    let cluster = || api::DnsConfig {
        servers: node.cluster_dns.clone(),
        searches: vec![
            format!("{ns}.svc.{domain}"),
            format!("svc.{domain}"),
            domain.to_string(),
        ],
        options: vec!["ndots:5".into()],
    };
    let mut cfg = match policy {
        "ClusterFirstWithHostNet" if !node.cluster_dns.is_empty() => cluster(),
        "ClusterFirst" if !host_network && !node.cluster_dns.is_empty() => cluster(),
        "None" => api::DnsConfig::default(),
        // Default, or ClusterFirst without cluster DNS / with host network:
        // the host's resolv.conf.
        _ => host_dns(&node.resolv_conf),
    };
    if let Some(extra) = spec.dns_config.as_ref() {
        for s in extra.nameservers.iter().flatten() {
            if !cfg.servers.contains(s) {
                cfg.servers.push(s.clone());
            }
        }
        for s in extra.searches.iter().flatten() {
            if !cfg.searches.contains(s) {
                cfg.searches.push(s.clone());
            }
        }
        for o in extra.options.iter().flatten() {
            let text = match &o.value {
                Some(v) => format!("{}:{v}", o.name.as_deref().unwrap_or_default()),
                None => o.name.clone().unwrap_or_default(),
            };
            let key = text.split(':').next().unwrap_or_default().to_string();
            cfg.options
                .retain(|x| x.split(':').next().unwrap_or_default() != key);
            cfg.options.push(text);
        }
    }
    Some(cfg)
}

/// Parses a resolv.conf into a DNS config.
pub fn parse_resolv_conf(text: &str) -> api::DnsConfig {
    let mut cfg = api::DnsConfig::default();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or_default();
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => cfg.servers.extend(words.next().map(String::from)),
            Some("search") | Some("domain") => {
                cfg.searches = words.map(String::from).collect();
            }
            Some("options") => cfg.options.extend(words.map(String::from)),
            _ => {}
        }
    }
    cfg
}

fn host_dns(path: &std::path::Path) -> api::DnsConfig {
    std::fs::read_to_string(path)
        .map(|t| parse_resolv_conf(&t))
        .unwrap_or_default()
}

/// The pod's log directory: `<root>/<ns>_<name>_<uid>`.
pub fn pod_log_dir(pod: &Pod, node: &NodeContext) -> std::path::PathBuf {
    node.pod_log_root.join(format!(
        "{}_{}_{}",
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata.name.as_deref().unwrap_or_default(),
        pod.metadata.uid.as_deref().unwrap_or_default()
    ))
}

fn pod_labels(pod: &Pod) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = pod
        .metadata
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    labels.insert(
        LABEL_POD_NAME.into(),
        pod.metadata.name.clone().unwrap_or_default(),
    );
    labels.insert(
        LABEL_POD_NAMESPACE.into(),
        pod.metadata.namespace.clone().unwrap_or_default(),
    );
    labels.insert(
        LABEL_POD_UID.into(),
        pod.metadata.uid.clone().unwrap_or_default(),
    );
    labels
}

fn namespace_options(pod: &Pod) -> api::NamespaceOption {
    let spec = pod.spec.as_ref();
    let node_or_pod = |b: Option<bool>| {
        if b.unwrap_or(false) {
            api::NamespaceMode::Node as i32
        } else {
            api::NamespaceMode::Pod as i32
        }
    };
    let pid = if spec.and_then(|s| s.host_pid).unwrap_or(false) {
        api::NamespaceMode::Node
    } else if spec
        .and_then(|s| s.share_process_namespace)
        .unwrap_or(false)
    {
        api::NamespaceMode::Pod
    } else {
        api::NamespaceMode::Container
    };
    api::NamespaceOption {
        network: node_or_pod(spec.and_then(|s| s.host_network)),
        pid: pid as i32,
        ipc: node_or_pod(spec.and_then(|s| s.host_ipc)),
        target_id: String::new(),
    }
}

/// The pod's RunPodSandbox config.
pub fn sandbox_config(pod: &Pod, node: &NodeContext, attempt: u32) -> api::PodSandboxConfig {
    let spec = pod.spec.clone().unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let host_network = spec.host_network.unwrap_or(false);
    let hostname = if host_network {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default()
    } else {
        let mut h = spec.hostname.clone().unwrap_or_else(|| name.clone());
        h.truncate(63);
        h.trim_end_matches(['-', '.']).to_string()
    };
    let mut port_mappings = Vec::new();
    for c in &spec.containers {
        for p in c.ports.iter().flatten() {
            let Some(host_port) = p.host_port.filter(|p| *p > 0) else {
                continue;
            };
            let protocol = match p.protocol.as_deref() {
                Some("UDP") => api::Protocol::Udp,
                Some("SCTP") => api::Protocol::Sctp,
                _ => api::Protocol::Tcp,
            };
            port_mappings.push(api::PortMapping {
                protocol: protocol as i32,
                container_port: p.container_port,
                host_port,
                host_ip: p.host_ip.clone().unwrap_or_default(),
            });
        }
    }
    let sysctls = spec
        .security_context
        .as_ref()
        .and_then(|s| s.sysctls.as_ref())
        .map(|s| {
            s.iter()
                .map(|s| (s.name.clone(), s.value.clone()))
                .collect()
        })
        .unwrap_or_default();
    let psc = spec.security_context.as_ref();
    api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name,
            uid: uid.clone(),
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            attempt,
        }),
        hostname,
        log_directory: pod_log_dir(pod, node).display().to_string(),
        dns_config: dns_config(pod, node),
        port_mappings,
        labels: pod_labels(pod),
        annotations: pod
            .metadata
            .annotations
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        linux: Some(api::LinuxPodSandboxConfig {
            cgroup_parent: cgroup_parent(&node.cgroup_root, qos_class(pod), &uid),
            security_context: Some(api::LinuxSandboxSecurityContext {
                namespace_options: Some(namespace_options(pod)),
                run_as_user: psc
                    .and_then(|s| s.run_as_user)
                    .map(|value| api::Int64Value { value }),
                run_as_group: psc
                    .and_then(|s| s.run_as_group)
                    .map(|value| api::Int64Value { value }),
                supplemental_groups: psc
                    .and_then(|s| s.supplemental_groups.clone())
                    .unwrap_or_default(),
                ..Default::default()
            }),
            sysctls,
            ..Default::default()
        }),
    }
}

/// Expands `$(VAR)` references as upstream's `expansion.Expand`: a defined
/// variable is replaced, `$$` becomes `$`, anything else stays as written.
pub fn expand(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && i + 1 < bytes.len() {
            match bytes[i + 1] {
                b'$' => {
                    out.push('$');
                    i += 2;
                    continue;
                }
                b'(' => {
                    if let Some(end) = input[i + 2..].find(')') {
                        let name = &input[i + 2..i + 2 + end];
                        match lookup(name) {
                            Some(v) => out.push_str(&v),
                            None => out.push_str(&input[i..i + 3 + end]),
                        }
                        i += 3 + end;
                        continue;
                    }
                }
                _ => {}
            }
        }
        let ch = input[i..].chars().next().unwrap_or_default();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

pub(crate) fn field_ref(pod: &Pod, node: &NodeContext, pod_ip: &str, path: &str) -> Option<String> {
    let m = &pod.metadata;
    let spec = pod.spec.as_ref();
    let from_map = |map: Option<&BTreeMap<String, String>>, key: &str| {
        map.and_then(|m| m.get(key)).cloned().unwrap_or_default()
    };
    if let Some(rest) = path.strip_prefix("metadata.labels['") {
        return Some(from_map(m.labels.as_ref(), rest.trim_end_matches("']")));
    }
    if let Some(rest) = path.strip_prefix("metadata.annotations['") {
        return Some(from_map(
            m.annotations.as_ref(),
            rest.trim_end_matches("']"),
        ));
    }
    Some(match path {
        "metadata.name" => m.name.clone().unwrap_or_default(),
        "metadata.namespace" => m.namespace.clone().unwrap_or_default(),
        "metadata.uid" => m.uid.clone().unwrap_or_default(),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.hostIP" | "status.hostIPs" => node.node_ip.clone(),
        "status.podIP" | "status.podIPs" => pod_ip.to_string(),
        _ => return None,
    })
}

pub(crate) fn resource_field_ref(
    c: &Container,
    node: &NodeContext,
    resource: &str,
    divisor: Option<&str>,
) -> String {
    let divisor = divisor
        .and_then(|d| Quantity::parse(d).ok())
        .map(|q| q.milli_value())
        .filter(|d| *d > 0)
        .unwrap_or(1000);
    let (kind, name) = resource.split_once('.').unwrap_or(("", resource));
    let r = c.resources.as_ref();
    let q = match kind {
        "limits" => res_get(r.and_then(|r| r.limits.as_ref()), name),
        _ => res_get(r.and_then(|r| r.requests.as_ref()), name),
    };
    let milli = match (q, kind, name) {
        (Some(q), _, _) => q.milli_value(),
        (None, "limits", "memory") => i128::from(node.memory_capacity) * 1000,
        (None, "limits", "cpu") => i128::from(crate::node::cpu_count()) * 1_000_000,
        _ => 0,
    };
    // Round up, as upstream's ExtractResourceValueByContainerName does.
    let v = (milli + divisor - 1) / divisor;
    v.to_string()
}

/// Why a container's environment could not be built; the message is
/// upstream's, shown with reason `CreateContainerConfigError`.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// A non-optional ConfigMap is missing.
    #[error("configmap \"{0}\" not found")]
    ConfigMapNotFound(String),
    /// A non-optional Secret is missing.
    #[error("secret \"{0}\" not found")]
    SecretNotFound(String),
    /// A non-optional key is missing.
    #[error("couldn't find key {key} in {kind} {namespace}/{name}")]
    MissingKey {
        /// The key.
        key: String,
        /// `ConfigMap` or `Secret`.
        kind: &'static str,
        /// The pod's namespace.
        namespace: String,
        /// The object.
        name: String,
    },
    /// The object could not be read.
    #[error(transparent)]
    Objects(#[from] crate::objects::ObjectError),
}

/// upstream's `IsEnvVarName`: `[-._a-zA-Z][-._a-zA-Z0-9]*`.
pub fn is_env_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || "-._".contains(c))
        && chars.all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
}

fn bytes_map(m: Option<&BTreeMap<String, k8s_openapi::ByteString>>) -> BTreeMap<String, String> {
    m.into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
        .collect()
}

/// Memoised ConfigMap/Secret data for one container's env.
#[derive(Default)]
struct EnvSources {
    config_maps: HashMap<String, Option<BTreeMap<String, String>>>,
    secrets: HashMap<String, Option<BTreeMap<String, String>>>,
}

impl EnvSources {
    async fn config_map(
        &mut self,
        objects: &dyn Objects,
        ns: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, EnvError> {
        if let Some(v) = self.config_maps.get(name) {
            return Ok(v.clone());
        }
        let v = objects
            .config_map(ns, name)
            .await?
            .map(|cm| cm.data.unwrap_or_default());
        self.config_maps.insert(name.to_string(), v.clone());
        Ok(v)
    }
    async fn secret(
        &mut self,
        objects: &dyn Objects,
        ns: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, EnvError> {
        if let Some(v) = self.secrets.get(name) {
            return Ok(v.clone());
        }
        let v = objects
            .secret(ns, name)
            .await?
            .map(|s| bytes_map(s.data.as_ref()));
        self.secrets.insert(name.to_string(), v.clone());
        Ok(v)
    }
}

fn set_var(vars: &mut Vec<(String, String)>, k: String, v: String) {
    vars.retain(|(n, _)| n != &k);
    vars.push((k, v));
}

/// The container's environment as upstream's `makeEnvironmentVariables`:
/// `envFrom` sources first (keys with `prefix`, invalid names skipped), then
/// `env` entries in order, each value expanded against what came before;
/// `configMapKeyRef`/`secretKeyRef` read through `objects`. A missing
/// non-optional object or key is an [`EnvError`].
pub async fn container_env(
    pod: &Pod,
    c: &Container,
    node: &NodeContext,
    pod_ip: &str,
    objects: &dyn Objects,
) -> Result<Vec<(String, String)>, EnvError> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut sources = EnvSources::default();
    let mut vars: Vec<(String, String)> = Vec::new();
    for from in c.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        let data = if let Some(r) = &from.config_map_ref {
            match sources.config_map(objects, ns, &r.name).await? {
                Some(d) => d,
                None if r.optional.unwrap_or(false) => continue,
                None => return Err(EnvError::ConfigMapNotFound(r.name.clone())),
            }
        } else if let Some(r) = &from.secret_ref {
            match sources.secret(objects, ns, &r.name).await? {
                Some(d) => d,
                None if r.optional.unwrap_or(false) => continue,
                None => return Err(EnvError::SecretNotFound(r.name.clone())),
            }
        } else {
            continue;
        };
        let mut invalid = Vec::new();
        for (k, v) in data {
            let k = format!("{prefix}{k}");
            if !is_env_var_name(&k) {
                invalid.push(k);
                continue;
            }
            set_var(&mut vars, k, v);
        }
        if !invalid.is_empty() {
            tracing::warn!(container = %c.name, "skipping invalid environment variable names: {}", invalid.join(", "));
        }
    }
    for e in c.env.iter().flatten() {
        let value = if let Some(from) = &e.value_from {
            if let Some(f) = &from.field_ref {
                field_ref(pod, node, pod_ip, &f.field_path).unwrap_or_default()
            } else if let Some(r) = &from.resource_field_ref {
                resource_field_ref(
                    c,
                    node,
                    &r.resource,
                    r.divisor.as_ref().map(|d| d.0.as_str()),
                )
            } else if let Some(r) = &from.config_map_key_ref {
                let optional = r.optional.unwrap_or(false);
                let Some(data) = sources.config_map(objects, ns, &r.name).await? else {
                    if optional {
                        continue;
                    }
                    return Err(EnvError::ConfigMapNotFound(r.name.clone()));
                };
                match data.get(&r.key) {
                    Some(v) => v.clone(),
                    None if optional => continue,
                    None => {
                        return Err(EnvError::MissingKey {
                            key: r.key.clone(),
                            kind: "ConfigMap",
                            namespace: ns.to_string(),
                            name: r.name.clone(),
                        })
                    }
                }
            } else if let Some(r) = &from.secret_key_ref {
                let optional = r.optional.unwrap_or(false);
                let Some(data) = sources.secret(objects, ns, &r.name).await? else {
                    if optional {
                        continue;
                    }
                    return Err(EnvError::SecretNotFound(r.name.clone()));
                };
                match data.get(&r.key) {
                    Some(v) => v.clone(),
                    None if optional => continue,
                    None => {
                        return Err(EnvError::MissingKey {
                            key: r.key.clone(),
                            kind: "Secret",
                            namespace: ns.to_string(),
                            name: r.name.clone(),
                        })
                    }
                }
            } else {
                String::new()
            }
        } else {
            let snapshot = vars.clone();
            let lookup = move |name: &str| {
                snapshot
                    .iter()
                    .rev()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            };
            expand(e.value.as_deref().unwrap_or_default(), &lookup)
        };
        set_var(&mut vars, e.name.clone(), value);
    }
    Ok(vars)
}

/// CRI linux resources from the container's requests and limits (cgroup v1,
/// as upstream: shares from the cpu request, quota from the cpu limit with a
/// 100 ms period, memory limit, oom_score_adj per QoS class).
pub fn linux_resources(
    resources: Option<&ResourceRequirements>,
    qos: QosClass,
    memory_capacity: i64,
) -> api::LinuxContainerResources {
    const PERIOD: i64 = 100_000;
    let requests = resources.and_then(|r| r.requests.as_ref());
    let limits = resources.and_then(|r| r.limits.as_ref());
    let cpu_req = res_get(requests, "cpu").or_else(|| res_get(limits, "cpu"));
    let cpu_lim = res_get(limits, "cpu");
    let mem_req = res_get(requests, "memory").or_else(|| res_get(limits, "memory"));
    let mem_lim = res_get(limits, "memory");
    let shares = match cpu_req {
        Some(q) => ((q.milli_value() as i64) * 1024 / 1000).max(2),
        None => 2,
    };
    let quota = match cpu_lim {
        Some(q) if !q.is_zero() => ((q.milli_value() as i64) * PERIOD / 1000).max(1000),
        _ => 0,
    };
    let oom_score_adj = match qos {
        QosClass::Guaranteed => -997,
        QosClass::BestEffort => 1000,
        QosClass::Burstable => {
            let req = mem_req.map(|q| q.value() as i64).unwrap_or(0);
            let adj = if memory_capacity > 0 {
                1000 - (1000 * req as i128 / memory_capacity as i128) as i64
            } else {
                999
            };
            adj.clamp(2, 999)
        }
    };
    api::LinuxContainerResources {
        cpu_period: if quota > 0 { PERIOD } else { 0 },
        cpu_quota: quota,
        cpu_shares: shares,
        memory_limit_in_bytes: mem_lim.map(|q| q.value() as i64).unwrap_or(0),
        oom_score_adj,
        ..Default::default()
    }
}

/// The CreateContainer config for `c`, restart number `attempt`, with its
/// resolved environment ([`container_env`]) and volume mounts.
#[allow(clippy::too_many_arguments)]
pub fn container_config(
    pod: &Pod,
    c: &Container,
    node: &NodeContext,
    sandbox: &api::PodSandboxConfig,
    image: &str,
    env: &[(String, String)],
    mounts: Vec<api::Mount>,
    attempt: u32,
) -> api::ContainerConfig {
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let command = c
        .command
        .iter()
        .flatten()
        .map(|s| expand(s, &lookup))
        .collect();
    let args = c
        .args
        .iter()
        .flatten()
        .map(|s| expand(s, &lookup))
        .collect();
    let mut labels = HashMap::new();
    for key in [LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID] {
        if let Some(v) = sandbox.labels.get(key) {
            labels.insert(key.to_string(), v.clone());
        }
    }
    labels.insert(LABEL_CONTAINER_NAME.into(), c.name.clone());
    let grace = pod
        .spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30);
    let mut annotations = HashMap::from([
        (ANNOTATION_RESTART_COUNT.to_string(), attempt.to_string()),
        (ANNOTATION_GRACE.to_string(), grace.to_string()),
    ]);
    // What StopContainer needs later without the pod spec (as upstream).
    if let Some(h) = c.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref()) {
        if let Ok(v) = serde_json::to_string(h) {
            annotations.insert(ANNOTATION_PRE_STOP.to_string(), v);
        }
    }
    if let Some(p) = c.ports.as_ref().filter(|p| !p.is_empty()) {
        if let Ok(v) = serde_json::to_string(p) {
            annotations.insert(ANNOTATION_PORTS.to_string(), v);
        }
    }
    let sc = c.security_context.as_ref();
    let psc = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    let run_as_user = sc
        .and_then(|s| s.run_as_user)
        .or_else(|| psc.and_then(|s| s.run_as_user));
    let run_as_group = sc
        .and_then(|s| s.run_as_group)
        .or_else(|| psc.and_then(|s| s.run_as_group));
    let capabilities = sc
        .and_then(|s| s.capabilities.as_ref())
        .map(|c| api::Capability {
            add_capabilities: c.add.clone().unwrap_or_default(),
            drop_capabilities: c.drop.clone().unwrap_or_default(),
            ..Default::default()
        });
    api::ContainerConfig {
        metadata: Some(api::ContainerMetadata {
            name: c.name.clone(),
            attempt,
        }),
        image: Some(api::ImageSpec {
            image: image.to_string(),
            ..Default::default()
        }),
        command,
        args,
        working_dir: c.working_dir.clone().unwrap_or_default(),
        envs: env
            .iter()
            .map(|(k, v)| api::KeyValue {
                key: k.clone(),
                value: v.clone(),
            })
            .collect(),
        labels,
        annotations,
        log_path: format!("{}/{attempt}.log", c.name),
        mounts,
        stdin: c.stdin.unwrap_or(false),
        stdin_once: c.stdin_once.unwrap_or(false),
        tty: c.tty.unwrap_or(false),
        linux: Some(api::LinuxContainerConfig {
            resources: Some(linux_resources(
                c.resources.as_ref(),
                qos_class(pod),
                node.memory_capacity,
            )),
            security_context: Some(api::LinuxContainerSecurityContext {
                capabilities,
                privileged: sc.and_then(|s| s.privileged).unwrap_or(false),
                namespace_options: Some(namespace_options(pod)),
                run_as_user: run_as_user.map(|value| api::Int64Value { value }),
                run_as_group: run_as_group.map(|value| api::Int64Value { value }),
                readonly_rootfs: sc
                    .and_then(|s| s.read_only_root_filesystem)
                    .unwrap_or(false),
                supplemental_groups: psc
                    .and_then(|s| s.supplemental_groups.clone())
                    .unwrap_or_default(),
                no_new_privs: sc
                    .and_then(|s| s.allow_privilege_escalation)
                    .map(|a| !a)
                    .unwrap_or(false),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}
