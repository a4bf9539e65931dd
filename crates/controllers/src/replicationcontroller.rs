//! The replicationcontroller controller (upstream
//! `pkg/controller/replication`): the replicaset logic run for the older
//! core/v1 kind, as upstream does through an adapter. Only the adapter
//! lives here; see [`crate::replicaset`] for the behaviour.

use k8s_openapi::api::apps::v1::ReplicaSetStatus;
use k8s_openapi::api::core::v1::{PodTemplateSpec, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::context::Shared;
use crate::replicaset::{ReplicaController, ReplicaOwner};
use crate::{Context, Options};

/// The replicationcontroller controller.
pub type ReplicationControllerController = ReplicaController<ReplicationController>;

impl ReplicaOwner for ReplicationController {
    const NAME: &'static str = "replicationcontroller";
    fn informer(ctx: &Context) -> &Shared<Self> {
        &ctx.replicationcontrollers
    }
    fn workers(opts: &Options) -> usize {
        opts.concurrent_rc_syncs
    }
    /// The map selector as `matchLabels` (the apiserver defaults an empty
    /// one to the template's labels).
    fn selector(&self) -> LabelSelector {
        LabelSelector {
            match_labels: self.spec.as_ref().and_then(|s| s.selector.clone()),
            match_expressions: None,
        }
    }
    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0)
    }
    fn template(&self) -> Option<PodTemplateSpec> {
        self.spec.as_ref().and_then(|s| s.template.clone())
    }
    /// Same field names in both kinds, so a JSON round trip converts.
    fn replica_status(&self) -> ReplicaSetStatus {
        self.status
            .as_ref()
            .and_then(|s| serde_json::to_value(s).ok())
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn adapter_reads_the_map_selector_and_status() {
        let rc: ReplicationController = serde_json::from_value(json!({
            "metadata": {"name": "r", "namespace": "ns"},
            "spec": {"selector": {"app": "web"}, "minReadySeconds": 4,
                     "template": {"metadata": {"labels": {"app": "web"}}}},
            "status": {"replicas": 2, "readyReplicas": 1, "observedGeneration": 3,
                       "conditions": [{"type": "ReplicaFailure", "status": "True"}]}
        }))
        .unwrap();
        assert_eq!(rc.replicas(), 1);
        assert_eq!(rc.min_ready_seconds(), 4);
        let sel = rc.selector();
        assert_eq!(sel.match_labels.unwrap()["app"], "web");
        let st = rc.replica_status();
        assert_eq!(
            (st.replicas, st.ready_replicas, st.observed_generation),
            (2, Some(1), Some(3))
        );
        assert_eq!(st.conditions.unwrap()[0].type_, "ReplicaFailure");
    }
}
