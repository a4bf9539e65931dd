//! The node lifecycle controller (upstream `pkg/controller/nodelifecycle`).
//!
//! Every `--node-monitor-period` each Node is checked: its health "probe"
//! time is when this controller last saw the kubelet renew the Node's
//! Lease in `kube-node-lease` or change the Ready heartbeat (local time, so
//! clock skew does not matter; a restart starts every Node afresh). A Node
//! not heard from for `--node-monitor-grace-period` (or
//! `--node-startup-grace-period` before its first Ready condition) gets
//! Ready, MemoryPressure, DiskPressure and PIDPressure set to Unknown, and
//! the pods on it lose their Ready condition.
//!
//! Taints follow the conditions, level-triggered: `NoSchedule` taints for
//! not-ready, unreachable, memory/disk/PID pressure, network-unavailable
//! and `spec.unschedulable`; `NoExecute` `not-ready` / `unreachable` (with
//! `timeAdded`) for Ready False / Unknown, which the taint eviction
//! controller acts on. As upstream, when every Node of a zone is not Ready
//! (a "full disruption", most likely a network partition of the control
//! plane) no `NoExecute` taints are kept in that zone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use client_support::{InformerEvent, WorkQueue};
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use serde_json::json;
use tokio::time::Instant;

use crate::events::{record, EventType};
use crate::util::{is_code, is_pod_ready, now};
use crate::worker::run_workers;
use crate::{Context, Error};

/// Where kubelets keep their heartbeat Leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";
/// Taint for a Node whose Ready condition is False.
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Taint for a Node whose Ready condition is Unknown.
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// Taint mirroring `spec.unschedulable`.
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
const COMPONENT: &str = "node-controller";

/// Conditions set to Unknown when the kubelet goes silent.
const MONITORED: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// The `NoSchedule` taints this controller owns: condition, status, key.
const NO_SCHEDULE_TAINTS: [(&str, &str, &str); 6] = [
    ("Ready", "False", TAINT_NOT_READY),
    ("Ready", "Unknown", TAINT_UNREACHABLE),
    (
        "MemoryPressure",
        "True",
        "node.kubernetes.io/memory-pressure",
    ),
    ("DiskPressure", "True", "node.kubernetes.io/disk-pressure"),
    (
        "NetworkUnavailable",
        "True",
        "node.kubernetes.io/network-unavailable",
    ),
    ("PIDPressure", "True", "node.kubernetes.io/pid-pressure"),
];

/// What was last seen of a Node's heartbeats, and when.
#[derive(Debug)]
struct Health {
    heartbeat: Option<Time>,
    lease_renew: Option<String>,
    probe: Instant,
}

/// The controller: a queue of Node names and the heartbeat records.
pub struct NodeLifecycleController {
    ctx: Arc<Context>,
    queue: WorkQueue<String>,
    health: Arc<Mutex<HashMap<String, Health>>>,
}

impl NodeLifecycleController {
    /// Subscribes to Nodes and node Leases; wants the pod store.
    pub fn new(ctx: Arc<Context>) -> Self {
        let queue: WorkQueue<String> = WorkQueue::new();
        let q = queue.clone();
        ctx.nodes.subscribe(move |ev| match ev {
            InformerEvent::Applied { new, .. } => q.add(new.name_any()),
            InformerEvent::Deleted(n) => q.add(n.name_any()),
        });
        let q = queue.clone();
        ctx.node_leases.subscribe(move |ev| {
            if let InformerEvent::Applied { new, .. } = ev {
                q.add(new.name_any());
            }
        });
        ctx.pods.want();
        NodeLifecycleController {
            ctx,
            queue,
            health: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The work queue (shut down to stop).
    pub fn queue(&self) -> WorkQueue<String> {
        self.queue.clone()
    }

    /// Runs the workers; each Node requeues itself every monitor period.
    pub async fn run(self) {
        let ctx = self.ctx.clone();
        let health = self.health.clone();
        run_workers(
            "nodelifecycle",
            self.queue,
            1,
            ctx.metrics.clone(),
            move |key| {
                let ctx = ctx.clone();
                let health = health.clone();
                async move { sync(&ctx, &health, &key).await }
            },
        )
        .await;
    }
}

fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

fn ready_status(node: &Node) -> &str {
    condition(node, "Ready").map_or("Unknown", |c| c.status.as_str())
}

/// Records what is seen now; returns when the Node was last heard from.
fn observe(ctx: &Context, health: &Mutex<HashMap<String, Health>>, node: &Node) -> Instant {
    let name = node.name_any();
    let heartbeat = condition(node, "Ready").and_then(|c| c.last_heartbeat_time.clone());
    let lease_renew = ctx
        .node_leases
        .store()
        .get(&ObjectRef::new(&name).within(NODE_LEASE_NAMESPACE))
        .and_then(|l| {
            l.spec
                .as_ref()?
                .renew_time
                .as_ref()
                .map(|t| t.0.to_string())
        });
    let mut map = health.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    let h = map.entry(name).or_insert_with(|| Health {
        heartbeat: heartbeat.clone(),
        lease_renew: lease_renew.clone(),
        probe: now,
    });
    if h.heartbeat != heartbeat || (lease_renew.is_some() && h.lease_renew != lease_renew) {
        h.heartbeat = heartbeat;
        h.lease_renew = lease_renew;
        h.probe = now;
    }
    h.probe
}

/// The conditions with every monitored one set to Unknown (upstream's
/// reasons and messages); `None` when nothing changes.
pub fn mark_unknown(node: &Node, at: &Time) -> Option<Vec<NodeCondition>> {
    let mut conds = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let mut changed = false;
    for t in MONITORED {
        match conds.iter_mut().find(|c| c.type_ == t) {
            Some(c) if c.status == "Unknown" => {}
            Some(c) => {
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c.last_transition_time = Some(at.clone());
                changed = true;
            }
            None => {
                conds.push(NodeCondition {
                    type_: t.into(),
                    status: "Unknown".into(),
                    reason: Some("NodeStatusNeverUpdated".into()),
                    message: Some("Kubelet never posted node status.".into()),
                    last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                    last_transition_time: Some(at.clone()),
                });
                changed = true;
            }
        }
    }
    changed.then_some(conds)
}

/// The Node's taints with this controller's ones reconciled to its
/// conditions; `None` when nothing changes. `no_execute` is false during a
/// full disruption of the Node's zone.
pub fn desired_taints(node: &Node, no_execute: bool, at: &Time) -> Option<Vec<Taint>> {
    let old = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let mut want: Vec<(&str, &str)> = Vec::new();
    for (cond, status, key) in NO_SCHEDULE_TAINTS {
        if condition(node, cond).is_some_and(|c| c.status == status) {
            want.push((key, "NoSchedule"));
        }
    }
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        want.push((TAINT_UNSCHEDULABLE, "NoSchedule"));
    }
    if no_execute {
        match ready_status(node) {
            "False" => want.push((TAINT_NOT_READY, "NoExecute")),
            "Unknown" => want.push((TAINT_UNREACHABLE, "NoExecute")),
            _ => {}
        }
    }
    let managed = |t: &Taint| {
        let ns = t.effect == "NoSchedule"
            && (NO_SCHEDULE_TAINTS.iter().any(|(_, _, k)| *k == t.key)
                || t.key == TAINT_UNSCHEDULABLE);
        let ne =
            t.effect == "NoExecute" && (t.key == TAINT_NOT_READY || t.key == TAINT_UNREACHABLE);
        ns || ne
    };
    let mut taints: Vec<Taint> = old
        .iter()
        .filter(|t| !managed(t) || want.contains(&(t.key.as_str(), t.effect.as_str())))
        .cloned()
        .collect();
    for (key, effect) in want {
        if !taints.iter().any(|t| t.key == key && t.effect == effect) {
            taints.push(Taint {
                key: key.into(),
                effect: effect.into(),
                value: None,
                time_added: (effect == "NoExecute").then(|| at.clone()),
            });
        }
    }
    (taints != old).then_some(taints)
}

/// Whether every Node in `zone` is not Ready (upstream's FullDisruption).
fn zone_fully_disrupted(ctx: &Context, zone: Option<&String>) -> bool {
    let nodes = ctx
        .nodes
        .store()
        .state_filter(|n| n.metadata.labels.as_ref().and_then(|l| l.get(ZONE_LABEL)) == zone);
    !nodes.is_empty() && nodes.iter().all(|n| ready_status(n) != "True")
}

#[tracing::instrument(skip(ctx, health), fields(node = %name))]
async fn sync(
    ctx: &Context,
    health: &Mutex<HashMap<String, Health>>,
    name: &str,
) -> Result<Option<Duration>, Error> {
    let Some(cached) = ctx.nodes.store().get(&ObjectRef::<Node>::new(name)) else {
        health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        return Ok(None);
    };
    let mut node = (*cached).clone();
    let probe = observe(ctx, health, &node);
    let grace = if condition(&node, "Ready").is_some() {
        ctx.opts.node_monitor_grace_period
    } else {
        ctx.opts.node_startup_grace_period
    };
    let api: Api<Node> = Api::all(ctx.client.clone());
    let at = now();
    let was_ready = ready_status(&node) == "True";
    if probe.elapsed() > grace {
        if let Some(conds) = mark_unknown(&node, &at) {
            tracing::info!("node stopped posting status; marking it Unknown");
            node.status.get_or_insert_with(Default::default).conditions = Some(conds);
            node = api
                .replace_status(name, &PostParams::default(), &node)
                .await
                .map_err(Error::kube(format!("marking node {name} Unknown")))?;
            if was_ready {
                record(
                    ctx,
                    COMPONENT,
                    &node,
                    EventType::Normal,
                    "NodeNotReady",
                    &format!("Node {name} status is now: NodeNotReady"),
                )
                .await;
            }
        }
    }
    let zone = node
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(ZONE_LABEL));
    let no_execute = !zone_fully_disrupted(ctx, zone) || ready_status(&node) == "True";
    if let Some(taints) = desired_taints(&node, no_execute, &at) {
        tracing::info!(taints = ?taints.iter().map(|t| format!("{}:{}", t.key, t.effect)).collect::<Vec<_>>(), "updating node taints");
        let patch = json!({
            "metadata": {"resourceVersion": node.metadata.resource_version},
            "spec": {"taints": taints},
        });
        api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(Error::kube(format!("updating taints of node {name}")))?;
    }
    if ready_status(&node) == "Unknown" {
        mark_pods_not_ready(ctx, name).await?;
    }
    Ok(Some(ctx.opts.node_monitor_period))
}

/// Sets Ready False on the pods of an unreachable Node (upstream
/// `MarkPodsNotReady`); the kubelet that would do so is silent.
async fn mark_pods_not_ready(ctx: &Context, node: &str) -> Result<(), Error> {
    let pods = ctx.pods.store().state_filter(|p| {
        p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node) && is_pod_ready(p)
    });
    let at = now();
    for p in pods {
        let mut pod: Pod = (*p).clone();
        let ns = pod.namespace().unwrap_or_default();
        if let Some(c) = pod
            .status
            .as_mut()
            .and_then(|s| s.conditions.as_mut())
            .and_then(|cs| cs.iter_mut().find(|c| c.type_ == "Ready"))
        {
            c.status = "False".into();
            c.last_transition_time = Some(at.clone());
        }
        let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
        match api
            .replace_status(&pod.name_any(), &PostParams::default(), &pod)
            .await
        {
            Ok(_) => {
                tracing::info!(pod = %format!("{ns}/{}", pod.name_any()), "marked pod not ready")
            }
            Err(e) if is_code(&e, 404) => {}
            Err(e) => {
                return Err(Error::kube(format!(
                    "marking pod {ns}/{} not ready",
                    pod.name_any()
                ))(e))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(v: serde_json::Value) -> Node {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn unknown_conditions_as_upstream() {
        let n = node(json!({
            "metadata": {"name": "n", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "status": {"conditions": [
                {"type": "Ready", "status": "True", "lastHeartbeatTime": "2024-01-01T00:00:10Z"},
                {"type": "MemoryPressure", "status": "False"}
            ]}
        }));
        let at = now();
        let c = mark_unknown(&n, &at).unwrap();
        assert_eq!(c.len(), 4);
        assert!(c.iter().all(|c| c.status == "Unknown"));
        assert_eq!(c[0].reason.as_deref(), Some("NodeStatusUnknown"));
        assert_eq!(
            c[0].message.as_deref(),
            Some("Kubelet stopped posting node status.")
        );
        assert_eq!(c[2].reason.as_deref(), Some("NodeStatusNeverUpdated"));
        let mut n2 = n.clone();
        n2.status.as_mut().unwrap().conditions = Some(c);
        assert!(mark_unknown(&n2, &at).is_none());
    }

    #[test]
    fn taints_follow_conditions_and_keep_foreign_ones() {
        let at = now();
        let n = node(json!({
            "metadata": {"name": "n"},
            "spec": {"unschedulable": true, "taints": [
                {"key": "mine", "effect": "NoSchedule"},
                {"key": TAINT_NOT_READY, "effect": "NoExecute"}
            ]},
            "status": {"conditions": [{"type": "Ready", "status": "Unknown"},
                                      {"type": "DiskPressure", "status": "True"}]}
        }));
        let t = desired_taints(&n, true, &at).unwrap();
        let keys: Vec<(String, String)> = t
            .iter()
            .map(|t| (t.key.clone(), t.effect.clone()))
            .collect();
        assert_eq!(
            keys,
            [
                ("mine".into(), "NoSchedule".into()),
                (TAINT_UNREACHABLE.into(), "NoSchedule".into()),
                (
                    "node.kubernetes.io/disk-pressure".into(),
                    "NoSchedule".into()
                ),
                (TAINT_UNSCHEDULABLE.into(), "NoSchedule".into()),
                (TAINT_UNREACHABLE.into(), "NoExecute".into()),
            ]
        );
        assert!(t[4].time_added.is_some());
        // During a full disruption no NoExecute taint is kept.
        let t = desired_taints(&n, false, &at).unwrap();
        assert!(t.iter().all(|t| t.effect != "NoExecute"));
        // A ready, schedulable node loses them all.
        let ok = node(json!({
            "metadata": {"name": "n"},
            "spec": {"taints": [{"key": TAINT_UNREACHABLE, "effect": "NoExecute"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}
        }));
        assert_eq!(desired_taints(&ok, true, &at).unwrap(), vec![]);
    }
}
