//! `/stats/summary` (upstream's `statsapi.Summary` JSON, from CRI
//! `ListContainerStats` and the host's `/proc`) and `/metrics` (a few of
//! the kubelet's gauges in the Prometheus text format).

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use cri::api;
use cri::Runtime;
use serde_json::{json, Value};

use super::ServerError;
use crate::pod::{LABEL_CONTAINER_NAME, LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID};

/// The kernel's clock ticks per second for `/proc/stat` (USER_HZ).
const USER_HZ: u64 = 100;

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn from_nanos(n: i64) -> String {
    rfc3339(Utc.timestamp_nanos(n))
}

fn cpu(c: Option<&api::CpuUsage>) -> Value {
    let Some(c) = c else { return Value::Null };
    let mut v = json!({"time": from_nanos(c.timestamp)});
    if let Some(n) = &c.usage_nano_cores {
        v["usageNanoCores"] = json!(n.value);
    }
    if let Some(n) = &c.usage_core_nano_seconds {
        v["usageCoreNanoSeconds"] = json!(n.value);
    }
    v
}

fn memory(m: Option<&api::MemoryUsage>) -> Value {
    let Some(m) = m else { return Value::Null };
    let mut v = json!({"time": from_nanos(m.timestamp)});
    for (k, f) in [
        ("availableBytes", &m.available_bytes),
        ("usageBytes", &m.usage_bytes),
        ("workingSetBytes", &m.working_set_bytes),
        ("rssBytes", &m.rss_bytes),
        ("pageFaults", &m.page_faults),
        ("majorPageFaults", &m.major_page_faults),
    ] {
        if let Some(n) = f {
            v[k] = json!(n.value);
        }
    }
    v
}

fn sum(values: impl Iterator<Item = Option<u64>>) -> Option<u64> {
    values.fold(None, |acc, v| match (acc, v) {
        (None, v) => v,
        (Some(a), Some(b)) => Some(a + b),
        (a, None) => a,
    })
}

/// The node part from `/proc/stat` and `/proc/meminfo`.
fn node_stats(node_name: &str, started: DateTime<Utc>) -> Value {
    let now = rfc3339(Utc::now());
    let mut node =
        json!({"nodeName": node_name, "systemContainers": [], "startTime": rfc3339(started)});
    if let Ok(stat) = std::fs::read_to_string("/proc/stat") {
        if let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) {
            let f: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal
            let busy: u64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|i| f.get(*i)).sum();
            node["cpu"] =
                json!({"time": now, "usageCoreNanoSeconds": busy * (1_000_000_000 / USER_HZ)});
        }
    }
    if let Ok(info) = std::fs::read_to_string("/proc/meminfo") {
        let kib = |key: &str| {
            info.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .map(|v| v * 1024)
        };
        if let (Some(total), Some(avail), Some(free)) =
            (kib("MemTotal:"), kib("MemAvailable:"), kib("MemFree:"))
        {
            node["memory"] = json!({
                "time": now,
                "availableBytes": avail,
                "usageBytes": total - free,
                "workingSetBytes": total - avail,
            });
        }
    }
    node
}

/// Upstream's `Summary`: the node, then one entry per pod with its
/// containers' CPU, memory and writable-layer usage.
pub async fn summary(
    rt: &dyn Runtime,
    node_name: &str,
    started: DateTime<Utc>,
) -> Result<Value, ServerError> {
    let sandboxes = rt.list_pod_sandbox(None).await?;
    let stats = rt.list_container_stats(None).await?;
    let containers = rt.list_containers(None).await?;
    let created: BTreeMap<&str, i64> = containers
        .iter()
        .map(|c| (c.id.as_str(), c.created_at))
        .collect();
    let mut pods = Vec::new();
    for s in sandboxes
        .iter()
        .filter(|s| s.state == api::PodSandboxState::SandboxReady as i32)
    {
        let label = |k: &str| s.labels.get(k).cloned().unwrap_or_default();
        let uid = label(LABEL_POD_UID);
        let mine: Vec<&api::ContainerStats> = stats
            .iter()
            .filter(|c| {
                c.attributes
                    .as_ref()
                    .is_some_and(|a| a.labels.get(LABEL_POD_UID) == Some(&uid))
            })
            .collect();
        let list: Vec<Value> = mine
            .iter()
            .map(|c| {
                let a = c.attributes.as_ref();
                let id = a.map(|a| a.id.as_str()).unwrap_or_default();
                let mut v = json!({
                    "name": a.and_then(|a| a.labels.get(LABEL_CONTAINER_NAME)).cloned().unwrap_or_default(),
                    "startTime": from_nanos(created.get(id).copied().unwrap_or_default()),
                    "cpu": cpu(c.cpu.as_ref()),
                    "memory": memory(c.memory.as_ref()),
                });
                if let Some(w) = &c.writable_layer {
                    v["rootfs"] = json!({
                        "time": from_nanos(w.timestamp),
                        "usedBytes": w.used_bytes.as_ref().map(|u| u.value),
                        "inodesUsed": w.inodes_used.as_ref().map(|u| u.value),
                    });
                }
                v
            })
            .collect();
        let now = rfc3339(Utc::now());
        pods.push(json!({
            "podRef": {"name": label(LABEL_POD_NAME), "namespace": label(LABEL_POD_NAMESPACE), "uid": uid},
            "startTime": from_nanos(s.created_at),
            "containers": list,
            "cpu": {
                "time": now,
                "usageNanoCores": sum(mine.iter().map(|c| c.cpu.as_ref().and_then(|x| x.usage_nano_cores.as_ref()).map(|v| v.value))),
                "usageCoreNanoSeconds": sum(mine.iter().map(|c| c.cpu.as_ref().and_then(|x| x.usage_core_nano_seconds.as_ref()).map(|v| v.value))),
            },
            "memory": {
                "time": now,
                "usageBytes": sum(mine.iter().map(|c| c.memory.as_ref().and_then(|x| x.usage_bytes.as_ref()).map(|v| v.value))),
                "workingSetBytes": sum(mine.iter().map(|c| c.memory.as_ref().and_then(|x| x.working_set_bytes.as_ref()).map(|v| v.value))),
            },
        }));
    }
    Ok(json!({"node": node_stats(node_name, started), "pods": pods}))
}

/// `kubelet_node_name`, `kubelet_running_pods`, `kubelet_running_containers`
/// (by `container_state`) and the request counter, as upstream names them.
pub async fn metrics(
    rt: &dyn Runtime,
    node_name: &str,
    requests: &BTreeMap<(String, String), u64>,
) -> Result<String, ServerError> {
    let sandboxes = rt.list_pod_sandbox(None).await?;
    let containers = rt.list_containers(None).await?;
    let ready = sandboxes
        .iter()
        .filter(|s| s.state == api::PodSandboxState::SandboxReady as i32)
        .count();
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &containers {
        let state = match api::ContainerState::try_from(c.state) {
            Ok(api::ContainerState::ContainerCreated) => "created",
            Ok(api::ContainerState::ContainerRunning) => "running",
            Ok(api::ContainerState::ContainerExited) => "exited",
            _ => "unknown",
        };
        *by_state.entry(state).or_default() += 1;
    }
    let mut out = String::new();
    out.push_str("# HELP kubelet_node_name [ALPHA] The node's name. The count is always 1.\n");
    out.push_str("# TYPE kubelet_node_name gauge\n");
    out.push_str(&format!("kubelet_node_name{{node=\"{node_name}\"}} 1\n"));
    out.push_str(
        "# HELP kubelet_running_pods [ALPHA] Number of pods that have a running pod sandbox\n",
    );
    out.push_str("# TYPE kubelet_running_pods gauge\n");
    out.push_str(&format!("kubelet_running_pods {ready}\n"));
    out.push_str(
        "# HELP kubelet_running_containers [ALPHA] Number of containers currently running\n",
    );
    out.push_str("# TYPE kubelet_running_containers gauge\n");
    for (state, n) in &by_state {
        out.push_str(&format!(
            "kubelet_running_containers{{container_state=\"{state}\"}} {n}\n"
        ));
    }
    out.push_str("# HELP kubelet_http_requests_total [ALPHA] Number of the http requests received since the server started\n");
    out.push_str("# TYPE kubelet_http_requests_total counter\n");
    for ((method, path), n) in requests {
        out.push_str(&format!(
            "kubelet_http_requests_total{{method=\"{method}\",path=\"{path}\"}} {n}\n"
        ));
    }
    Ok(out)
}
