//! Inter-pod affinity, topology spread and preemption against a real etcd
//! and apiserver.

mod common;

use std::collections::BTreeMap;

use common::{cpu, eventually, merge, Cluster};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;

#[tokio::test]
async fn required_anti_affinity_spreads_replicas_one_per_node() {
    let c = Cluster::start().await;
    for n in ["n1", "n2", "n3"] {
        c.node(n, "4", "8Gi", json!({})).await;
    }
    let spec = json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "web"}}}]}}});
    for i in 0..4 {
        c.labelled_pod(&format!("web-{i}"), json!({"app": "web"}), spec.clone())
            .await;
    }
    let pods = c.pods();
    let (bound, pending) = eventually("3 bound, 1 unschedulable", || {
        let pods = pods.clone();
        async move {
            let list = pods.list(&ListParams::default()).await.ok()?;
            let mut bound = BTreeMap::new();
            let mut pending = Vec::new();
            for p in list.items {
                let name = p.metadata.name.clone().unwrap();
                match p.spec.as_ref().and_then(|s| s.node_name.clone()) {
                    Some(n) => {
                        bound.insert(n, name);
                    }
                    None => {
                        let msg = p
                            .status?
                            .conditions?
                            .into_iter()
                            .find(|c| c.type_ == "PodScheduled")?
                            .message?;
                        pending.push(msg);
                    }
                }
            }
            // An attempt made before every node's status arrived may have
            // written another message first.
            (bound.len() == 3 && pending.len() == 1 && pending[0] == EXPECTED)
                .then_some((bound, pending))
        }
    })
    .await;
    assert_eq!(bound.keys().collect::<Vec<_>>(), ["n1", "n2", "n3"]);
    assert_eq!(pending, [EXPECTED]);
}

const EXPECTED: &str = "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. \
     preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod..";

#[tokio::test]
async fn topology_spread_holds_max_skew_across_zones() {
    let c = Cluster::start().await;
    // z1's nodes are much roomier, so resource scoring alone would pack it.
    for (n, zone, cpus) in [
        ("a1", "z1", "32"),
        ("a2", "z1", "32"),
        ("b1", "z2", "2"),
        ("b2", "z2", "2"),
        ("c1", "z3", "2"),
    ] {
        c.node(
            n,
            cpus,
            "64Gi",
            json!({"metadata": {"labels": {"topology.kubernetes.io/zone": zone}}}),
        )
        .await;
    }
    // Node events arrive in order: once a pod pinned to the last node
    // created binds, the scheduler has seen every node with its status, so
    // no spread decision below is made against a partial zone list.
    let mut probe = cpu("100m");
    merge(
        &mut probe,
        json!({"nodeSelector": {"kubernetes.io/hostname": "c1"}}),
    );
    c.pod("probe", probe).await;
    assert_eq!(c.bound_node("probe").await, "c1");
    let mut spec = cpu("500m");
    merge(
        &mut spec,
        json!({"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "spread"}}}]}),
    );
    for i in 0..6 {
        c.labelled_pod(&format!("s{i}"), json!({"app": "spread"}), spec.clone())
            .await;
    }
    let mut per_zone: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..6 {
        let n = c.bound_node(&format!("s{i}")).await;
        *per_zone.entry(n[..1].to_string()).or_default() += 1;
    }
    assert_eq!(
        per_zone.into_iter().collect::<Vec<_>>(),
        vec![
            ("a".to_string(), 2),
            ("b".to_string(), 2),
            ("c".to_string(), 2)
        ]
    );
}

#[tokio::test]
async fn a_high_priority_pod_preempts_the_lowest_priority_victim() {
    let c = Cluster::start().await;
    c.node("full", "3", "8Gi", json!({})).await;
    // Priorities come from PriorityClasses, resolved by the apiserver's
    // Priority admission (a pod may not set spec.priority itself).
    let classes: Api<PriorityClass> = Api::all(c.client.clone());
    for (name, value) in [("p1", 1), ("p5", 5), ("p100", 100)] {
        let pc: PriorityClass =
            serde_json::from_value(json!({"metadata": {"name": name}, "value": value})).unwrap();
        classes.create(&PostParams::default(), &pc).await.unwrap();
    }
    let with_prio = |cpus: &str, prio: i32| {
        let mut s = cpu(cpus);
        s["priorityClassName"] = json!(format!("p{prio}"));
        s
    };
    c.pod("low", with_prio("1", 1)).await;
    c.pod("mid", with_prio("2", 5)).await;
    assert_eq!(c.bound_node("low").await, "full");
    assert_eq!(c.bound_node("mid").await, "full");
    let high = c.pod("high", with_prio("1", 100)).await;
    let pods = c.pods();
    // The victim is deleted gracefully and the preemptor nominated.
    eventually("low is terminating", || {
        let pods = pods.clone();
        async move { pods.get("low").await.ok()?.metadata.deletion_timestamp }
    })
    .await;
    let nominated = eventually("high nominated", || {
        let pods = pods.clone();
        async move { pods.get("high").await.ok()?.status?.nominated_node_name }
    })
    .await;
    assert_eq!(nominated, "full");
    assert!(pods
        .get("mid")
        .await
        .unwrap()
        .metadata
        .deletion_timestamp
        .is_none());
    let events: Api<Event> = Api::namespaced(c.client.clone(), "default");
    let ev = eventually("Preempted event", || {
        let events = events.clone();
        async move {
            events
                .list(&ListParams::default())
                .await
                .ok()?
                .items
                .into_iter()
                .find(|e| {
                    e.reason.as_deref() == Some("Preempted")
                        && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("low")
                })
        }
    })
    .await;
    assert_eq!(
        ev.note.unwrap(),
        format!(
            "Preempted by pod {} on node full",
            high.metadata.uid.unwrap()
        )
    );
    // Still waiting: the victim has not terminated.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(pods
        .get("high")
        .await
        .unwrap()
        .spec
        .unwrap()
        .node_name
        .is_none());
    // The kubelet's part: remove the terminating victim.
    pods.delete("low", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    assert_eq!(c.bound_node("high").await, "full");
}
