//! Filter and score plugins, each named and behaving as upstream's
//! in-tree plugin of the same name.
//!
//! A plugin implements [`Plugin`]; [`Failure`] carries upstream's status code
//! (`Unschedulable` or `UnschedulableAndUnresolvable`, which decides whether
//! preemption could help) and the reasons that end up, counted per node, in
//! the `0/N nodes are available: ...` message.

use std::any::Any;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::cache::{Cache, Snapshot};
use crate::nodeinfo::{NodeInfo, PodInfo};

mod affinity;
mod basic;
mod fit;
mod image;
mod interpod;
mod spread;
mod taints;
mod volumebinding;
mod volumelimits;
mod volumerestrictions;

pub use affinity::{node_matches_term, NodeAffinity};
pub use basic::{NodeName, NodePorts, NodeUnschedulable};
pub use fit::{BalancedAllocation, NodeResourcesFit, ScoringStrategy};
pub use image::ImageLocality;
pub use interpod::{
    required_anti_affinity, InterPodAffinity, ERR_AFFINITY, ERR_ANTI_AFFINITY,
    ERR_EXISTING_ANTI_AFFINITY,
};
pub use spread::{PodTopologySpread, ERR_CONSTRAINTS, ERR_MISSING_LABEL};
pub use taints::{tolerates, TaintToleration};
pub use volumebinding::{
    PodVolumes, PreBindError, VolumeBinding, ERR_BIND_CONFLICT, ERR_NODE_CONFLICT,
    ERR_PV_NOT_EXIST, ERR_UNBOUND_IMMEDIATE,
};
pub use volumelimits::{NodeVolumeLimits, ERR_MAX_VOLUME_COUNT};
pub use volumerestrictions::{VolumeRestrictions, ERR_DISK_CONFLICT, ERR_RWOP_CONFLICT};

/// Upstream's default VolumeBinding `bindTimeoutSeconds` (600 s).
pub fn volumebinding_default_timeout() -> std::time::Duration {
    volumebinding::DEFAULT_BIND_TIMEOUT
}

/// The highest score a plugin gives a node (upstream `MaxNodeScore`).
pub const MAX_NODE_SCORE: i64 = 100;

/// Why a node cannot take the pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// Could change if pods were removed (preemption may help).
    Unschedulable,
    /// Removing pods would not help.
    UnschedulableAndUnresolvable,
}

/// A filter's rejection: the code and the reasons (`Insufficient cpu`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub code: Code,
    pub reasons: Vec<String>,
}

impl Failure {
    pub fn unschedulable(reason: impl Into<String>) -> Failure {
        Failure {
            code: Code::Unschedulable,
            reasons: vec![reason.into()],
        }
    }

    pub fn unresolvable(reason: impl Into<String>) -> Failure {
        Failure {
            code: Code::UnschedulableAndUnresolvable,
            reasons: vec![reason.into()],
        }
    }
}

/// What a plugin's [`Plugin::pre_filter`] computes once per cycle for its
/// [`Plugin::filter_with`] (upstream's CycleState entry); `None`: skip.
pub type State = Option<Arc<dyn Any + Send + Sync>>;

/// A scheduling plugin. Filters implement [`Plugin::filter`], scorers
/// [`Plugin::score`] (0..=100 after [`Plugin::normalize`]).
pub trait Plugin: Send + Sync {
    /// Upstream's plugin name (`NodeResourcesFit`, ...).
    fn name(&self) -> &'static str;

    /// Whether the node can take the pod.
    fn filter(&self, _pod: &PodInfo, _node: &NodeInfo) -> Result<(), Failure> {
        Ok(())
    }

    /// Computes per-cycle state from the whole snapshot (upstream
    /// PreFilter); a failure rejects the pod on every node at once.
    fn pre_filter(&self, _pod: &PodInfo, _snapshot: &Snapshot) -> Result<State, Failure> {
        Ok(None)
    }

    /// Filter with the state from [`Plugin::pre_filter`]; plugins without
    /// state implement [`Plugin::filter`] instead.
    fn filter_with(
        &self,
        pod: &PodInfo,
        node: &NodeInfo,
        _state: Option<&(dyn Any + Send + Sync)>,
    ) -> Result<(), Failure> {
        self.filter(pod, node)
    }

    /// Raw scores of all feasible nodes at once (upstream PreScore + Score);
    /// by default [`Plugin::score`] per node. [`Plugin::normalize`] follows.
    fn score_nodes(
        &self,
        pod: &PodInfo,
        nodes: &[&Arc<NodeInfo>],
        snapshot: &Snapshot,
    ) -> Vec<i64> {
        nodes.iter().map(|n| self.score(pod, n, snapshot)).collect()
    }

    /// The node's raw score for the pod.
    fn score(&self, _pod: &PodInfo, _node: &NodeInfo, _snapshot: &Snapshot) -> i64 {
        0
    }

    /// Rescales raw scores of all feasible nodes into 0..=100.
    fn normalize(&self, _scores: &mut [i64]) {}

    /// Upstream Reserve: what the plugin sets aside for the pod on the
    /// chosen node, to be assumed in the cache, written by PreBind and
    /// undone by Unreserve.
    fn reserve(
        &self,
        _pod: &PodInfo,
        _node: &NodeInfo,
        _snapshot: &Snapshot,
    ) -> Result<Option<Arc<dyn Reservation>>, Failure> {
        Ok(None)
    }
}

/// A plugin's reservation for one pod on one node (upstream Reserve,
/// PreBind and Unreserve of the same plugin).
pub trait Reservation: Send + Sync {
    /// The plugin that made it.
    fn plugin(&self) -> &'static str;

    /// Records the reservation in the cache so later cycles see it.
    fn assume(&self, cache: &mut Cache);

    /// Undoes [`Reservation::assume`] (the pod was not bound).
    fn unreserve(&self, cache: &mut Cache);

    /// Writes what was reserved through the API and waits until it took
    /// effect; runs before the pod's binding.
    fn pre_bind(
        self: Arc<Self>,
        client: kube::Client,
    ) -> BoxFuture<'static, Result<(), PreBindError>>;
}

/// Upstream `helper.DefaultNormalizeScore`: scale to `max_priority` by the
/// highest score; `reverse` flips (fewer is better).
pub fn default_normalize(max_priority: i64, reverse: bool, scores: &mut [i64]) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = max_priority);
        }
        return;
    }
    for s in scores.iter_mut() {
        let mut v = max_priority * *s / max;
        if reverse {
            v = max_priority - v;
        }
        *s = v;
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Small builders for plugin unit tests.
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::{Node, Pod};
    use serde_json::{json, Value};

    use crate::nodeinfo::{NodeInfo, PodEntry, PodInfo};

    pub fn node(name: &str, extra: Value) -> NodeInfo {
        let mut v = json!({
            "metadata": {"name": name},
            "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "10Gi"}}
        });
        merge(&mut v, extra);
        let n: Node = serde_json::from_value(v).unwrap();
        let mut ni = NodeInfo::new(name);
        ni.set_node(Arc::new(n));
        ni
    }

    pub fn pod_value(name: &str, spec: Value) -> Value {
        let mut v = json!({"metadata": {"name": name, "namespace": "default"},
                           "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        merge(&mut v["spec"], spec);
        v
    }

    pub fn pod(name: &str, spec: Value) -> PodInfo {
        let p: Pod = serde_json::from_value(pod_value(name, spec)).unwrap();
        PodInfo::new(Arc::new(p))
    }

    pub fn entry(name: &str, spec: Value) -> PodEntry {
        let p: Pod = serde_json::from_value(pod_value(name, spec)).unwrap();
        PodEntry::new(Arc::new(p))
    }

    /// JSON merge (objects merge, everything else replaces).
    pub fn merge(a: &mut Value, b: Value) {
        match (a, b) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_normalize_scales_and_reverses() {
        let mut s = vec![0, 5, 10];
        default_normalize(100, false, &mut s);
        assert_eq!(s, vec![0, 50, 100]);
        let mut s = vec![0, 1, 2];
        default_normalize(100, true, &mut s);
        assert_eq!(s, vec![100, 50, 0]);
        let mut s = vec![0, 0];
        default_normalize(100, true, &mut s);
        assert_eq!(s, vec![100, 100]);
    }
}
