//! The scheduler against a real etcd and apiserver: placement, taints,
//! unschedulable reporting and retry, profiles, health and metrics.

mod common;

use std::time::Duration;

use common::{cpu, eventually, Cluster};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams};
use serde_json::json;

async fn events_for(c: &Cluster, pod: &str, reason: &str) -> Vec<Event> {
    let api: Api<Event> = Api::namespaced(c.client.clone(), "default");
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| {
            e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(pod)
                && e.reason.as_deref() == Some(reason)
        })
        .collect()
}

/// Waits until the pod's PodScheduled condition carries `message` (a node's
/// status can reach the scheduler just after the pod, so an earlier attempt
/// may have written a different message first).
async fn scheduled_condition(
    c: &Cluster,
    pod: &'static str,
    message: &'static str,
) -> k8s_openapi::api::core::v1::PodCondition {
    let pods = c.pods();
    eventually(&format!("{pod}: PodScheduled with {message:?}"), || {
        let pods = pods.clone();
        async move {
            let p = pods.get(pod).await.ok()?;
            p.status?
                .conditions?
                .into_iter()
                .find(|c| c.type_ == "PodScheduled" && c.message.as_deref() == Some(message))
        }
    })
    .await
}

#[tokio::test]
async fn a_pod_that_fits_only_one_node_lands_there() {
    let c = Cluster::start().await;
    c.node("small", "1", "2Gi", json!({})).await;
    c.node("big", "4", "8Gi", json!({})).await;
    c.node("other", "1", "8Gi", json!({})).await;
    c.pod("p", cpu("2")).await;
    assert_eq!(c.bound_node("p").await, "big");
    let ev = eventually("Scheduled event", || async {
        events_for(&c, "p", "Scheduled").await.pop()
    })
    .await;
    assert_eq!(ev.type_.as_deref(), Some("Normal"));
    assert_eq!(
        ev.note.as_deref(),
        Some("Successfully assigned default/p to big")
    );
    assert_eq!(
        ev.reporting_controller.as_deref(),
        Some("default-scheduler")
    );
    assert_eq!(
        c.metrics.attempts(
            scheduler::metrics::AttemptResult::Scheduled,
            "default-scheduler"
        ),
        1
    );
}

#[tokio::test]
async fn assumed_pods_count_before_their_binding_is_seen() {
    let c = Cluster::start().await;
    c.node("a", "2", "4Gi", json!({})).await;
    c.node("b", "2", "4Gi", json!({})).await;
    for i in 0..4 {
        c.pod(&format!("p{i}"), cpu("1")).await;
    }
    let mut per_node = std::collections::BTreeMap::new();
    for i in 0..4 {
        *per_node
            .entry(c.bound_node(&format!("p{i}")).await)
            .or_insert(0) += 1;
    }
    assert_eq!(
        per_node.into_iter().collect::<Vec<_>>(),
        vec![("a".into(), 2), ("b".into(), 2)]
    );
    // A fifth does not fit anywhere.
    c.pod("p4", cpu("1")).await;
    let cond = scheduled_condition(
        &c,
        "p4",
        "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod..",
    )
    .await;
    assert_eq!(cond.reason.as_deref(), Some("Unschedulable"));
}

#[tokio::test]
async fn taints_keep_pods_off_unless_tolerated() {
    let c = Cluster::start().await;
    let taint = json!({"spec": {"taints": [{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}]}});
    c.node("infra", "8", "16Gi", taint).await;
    c.node("plain", "2", "4Gi", json!({})).await;
    for i in 0..3 {
        c.pod(&format!("w{i}"), json!({})).await;
    }
    for i in 0..3 {
        assert_eq!(c.bound_node(&format!("w{i}")).await, "plain");
    }
    let tolerant = json!({
        "nodeSelector": {"kubernetes.io/hostname": "infra"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}]
    });
    c.pod("tolerant", tolerant).await;
    assert_eq!(c.bound_node("tolerant").await, "infra");
    c.pod(
        "intolerant",
        json!({"nodeSelector": {"kubernetes.io/hostname": "infra"}}),
    )
    .await;
    let cond = scheduled_condition(
        &c,
        "intolerant",
        "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, \
         1 node(s) had untolerated taint {dedicated: infra}. preemption: 0/2 nodes are available: \
         2 Preemption is not helpful for scheduling..",
    )
    .await;
    assert_eq!(cond.status, "False");
    assert_eq!(cond.reason.as_deref(), Some("Unschedulable"));
}

#[tokio::test]
async fn an_unschedulable_pod_is_reported_then_scheduled_when_a_node_is_added() {
    let c = Cluster::start().await;
    c.node("tiny", "1", "2Gi", json!({})).await;
    c.pod("big", cpu("2")).await;
    let expected = "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling..";
    let cond = scheduled_condition(&c, "big", expected).await;
    assert_eq!(cond.status, "False");
    assert_eq!(cond.reason.as_deref(), Some("Unschedulable"));
    let ev = eventually("FailedScheduling event", || async {
        events_for(&c, "big", "FailedScheduling")
            .await
            .into_iter()
            .find(|e| e.note.as_deref() == Some(expected))
    })
    .await;
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    assert_eq!(ev.note.as_deref(), Some(expected));
    assert_eq!(
        ev.reporting_controller.as_deref(),
        Some("default-scheduler")
    );
    assert!(
        c.metrics.attempts(
            scheduler::metrics::AttemptResult::Unschedulable,
            "default-scheduler"
        ) >= 1
    );

    c.node("roomy", "4", "8Gi", json!({})).await;
    assert_eq!(c.bound_node("big").await, "roomy");
}

#[tokio::test]
async fn only_pods_for_a_configured_profile_are_scheduled() {
    let cfg = scheduler::Config::from_yaml(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: default-scheduler\n- schedulerName: packer\n  pluginConfig:\n  - name: NodeResourcesFit\n    args:\n      scoringStrategy:\n        type: MostAllocated\n",
    )
    .unwrap();
    let c = Cluster::start_with(cfg).await;
    c.node("a", "4", "8Gi", json!({})).await;
    c.pod("mine", json!({"schedulerName": "packer"})).await;
    c.pod("theirs", json!({"schedulerName": "someone-else"}))
        .await;
    assert_eq!(c.bound_node("mine").await, "a");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let p = c.pods().get("theirs").await.unwrap();
    assert_eq!(p.spec.unwrap().node_name, None);
    let ev = eventually("Scheduled event from packer", || async {
        events_for(&c, "mine", "Scheduled").await.pop()
    })
    .await;
    assert_eq!(ev.reporting_controller.as_deref(), Some("packer"));
}

#[tokio::test]
async fn health_and_metrics_are_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let metrics = std::sync::Arc::new(scheduler::Metrics::default());
    metrics.observe_attempt(
        scheduler::metrics::AttemptResult::Scheduled,
        "default-scheduler",
        0.01,
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(scheduler::server::serve(l, metrics, std::future::pending()));
    let get = |path: &'static str| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    };
    let h = get("/healthz").await;
    assert!(h.starts_with("HTTP/1.1 200") && h.ends_with("ok"), "{h}");
    let m = get("/metrics").await;
    assert!(m.contains(
        "scheduler_schedule_attempts_total{profile=\"default-scheduler\",result=\"scheduled\"} 1"
    ));
    assert!(m.contains("scheduler_pending_pods{queue=\"active\"} 0"));
    assert!(m.contains("scheduler_scheduling_attempt_duration_seconds_bucket"));
}
