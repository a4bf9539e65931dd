//! Node IPAM, node lifecycle with taint eviction, TTL-after-finished,
//! replicationcontroller and disruption controllers in-process against a
//! real apiserver and etcd. No kubelet runs: the tests post node and pod
//! status through the status subresource and renew node Leases as a
//! kubelet would.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{active_pods, eventually, TestEnv};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, ReplicationController};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

fn now_str() -> String {
    k8s_openapi::jiff::Timestamp::from_second(k8s_openapi::jiff::Timestamp::now().as_second())
        .unwrap()
        .to_string()
}

async fn create_node(c: &Client, name: &str) {
    let api: Api<Node> = Api::all(c.clone());
    let n: Node = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    api.create(&PostParams::default(), &n).await.unwrap();
}

fn pod_cidrs(n: &Node) -> Vec<String> {
    n.spec
        .as_ref()
        .and_then(|s| s.pod_cidrs.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn node_ipam_gives_distinct_subnets_and_frees_them_on_delete() {
    let env = TestEnv::start().await;
    let opts = || controllers::Options {
        allocate_node_cidrs: true,
        // Four /24s: three nodes, one spare.
        cluster_cidr: Some("10.77.0.0/22".into()),
        ..controllers::Options::default()
    };
    let c1 = env.start_controllers_with(&["nodeipam"], opts());
    for n in ["ipam-a", "ipam-b", "ipam-c"] {
        create_node(&env.client, n).await;
    }
    let api: Api<Node> = Api::all(env.client.clone());
    let got = eventually(30, "3 nodes with pod CIDRs", || {
        let api = api.clone();
        async move {
            let nodes = api.list(&Default::default()).await.unwrap().items;
            let cidrs: Vec<Vec<String>> = nodes.iter().map(pod_cidrs).collect();
            (cidrs.len() == 3 && cidrs.iter().all(|c| c.len() == 1)).then_some(nodes)
        }
    })
    .await;
    let all: BTreeSet<String> = got.iter().map(|n| pod_cidrs(n)[0].clone()).collect();
    assert_eq!(all.len(), 3, "distinct: {all:?}");
    for n in &got {
        let c = &pod_cidrs(n)[0];
        assert!(c.starts_with("10.77.") && c.ends_with(".0/24"), "{c}");
        assert_eq!(n.spec.as_ref().unwrap().pod_cidr.as_ref(), Some(c));
    }
    // A restarted controller rebuilds its map: the 4th node gets the spare.
    c1.abort();
    let _ = c1.await;
    let _c2 = env.start_controllers_with(&["nodeipam"], opts());
    create_node(&env.client, "ipam-d").await;
    let d = eventually(30, "4th node CIDR", || {
        let api = api.clone();
        async move {
            pod_cidrs(&api.get("ipam-d").await.unwrap())
                .first()
                .cloned()
        }
    })
    .await;
    assert!(!all.contains(&d), "{d} given twice");
    // The range is full now; a 5th node waits until one is deleted.
    create_node(&env.client, "ipam-e").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(pod_cidrs(&api.get("ipam-e").await.unwrap()).is_empty());
    let freed = pod_cidrs(&api.get("ipam-b").await.unwrap())[0].clone();
    api.delete("ipam-b", &DeleteParams::default())
        .await
        .unwrap();
    let e = eventually(60, "5th node gets the freed CIDR", || {
        let api = api.clone();
        async move {
            pod_cidrs(&api.get("ipam-e").await.unwrap())
                .first()
                .cloned()
        }
    })
    .await;
    assert_eq!(e, freed);
}

/// Posts a kubelet-like Ready status with a fresh heartbeat.
async fn post_ready(c: &Client, node: &str) {
    let api: Api<Node> = Api::all(c.clone());
    let now = now_str();
    api.patch_status(
        node,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
             "lastHeartbeatTime": now, "lastTransitionTime": now},
            {"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": now, "lastTransitionTime": now},
            {"type": "DiskPressure", "status": "False", "lastHeartbeatTime": now, "lastTransitionTime": now},
            {"type": "PIDPressure", "status": "False", "lastHeartbeatTime": now, "lastTransitionTime": now}
        ]}})),
    )
    .await
    .unwrap();
}

/// Renews the node's Lease in kube-node-lease (creating it first).
async fn renew_lease(c: &Client, node: &str) {
    let api: Api<Lease> = Api::namespaced(c.clone(), "kube-node-lease");
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": node},
        "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": now}
    }))
    .unwrap();
    if api.create(&PostParams::default(), &lease).await.is_err() {
        let _ = api
            .patch(
                node,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"renewTime": now}})),
            )
            .await;
    }
}

fn taints(n: &Node) -> Vec<(String, String)> {
    n.spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.effect))
        .collect()
}

fn ready(n: &Node) -> Option<(String, Option<String>, Option<String>)> {
    n.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

#[tokio::test]
async fn silent_node_goes_unknown_is_tainted_and_its_pods_are_evicted() {
    let env = TestEnv::start().await;
    let c = env.client.clone();
    let nsapi: Api<Namespace> = Api::all(c.clone());
    for ns in ["kube-node-lease", "lc"] {
        let n: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
        let _ = nsapi.create(&PostParams::default(), &n).await;
    }
    for n in ["alive", "lost"] {
        create_node(&c, n).await;
        post_ready(&c, n).await;
        renew_lease(&c, n).await;
    }
    // The "kubelets": both renew their Lease until `lost_stops` is set.
    let lost_stops = Arc::new(AtomicBool::new(false));
    let stop = lost_stops.clone();
    let hc = c.clone();
    let heartbeats = tokio::spawn(async move {
        loop {
            renew_lease(&hc, "alive").await;
            if !stop.load(Ordering::SeqCst) {
                renew_lease(&hc, "lost").await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let pods: Api<Pod> = Api::namespaced(c.clone(), "lc");
    let unreachable = "node.kubernetes.io/unreachable";
    for (name, tolerations) in [
        // The DefaultTolerationSeconds admission gives it 300 s.
        ("plain", json!([])),
        (
            "short",
            json!([{"key": unreachable, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2}]),
        ),
        ("forever", json!([{"operator": "Exists"}])),
    ] {
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"nodeName": "lost", "tolerations": tolerations,
                     "containers": [{"name": "c", "image": "busybox"}]}
        }))
        .unwrap();
        pods.create(&PostParams::default(), &p).await.unwrap();
        pods.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": now_str()}]}})),
        )
        .await
        .unwrap();
    }
    let opts = controllers::Options {
        node_monitor_grace_period: Duration::from_secs(3),
        node_monitor_period: Duration::from_millis(500),
        ..controllers::Options::default()
    };
    let _ctl = env.start_controllers_with(&["nodelifecycle", "taint-eviction-controller"], opts);
    let nodes: Api<Node> = Api::all(c.clone());
    // Healthy for now: no taints, pods stay.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(ready(&nodes.get("lost").await.unwrap()).unwrap().0, "True");
    assert_eq!(active_pods(&c, "lc").await.len(), 3);

    lost_stops.store(true, Ordering::SeqCst);
    let lost = eventually(60, "lost node Unknown and tainted", || {
        let nodes = nodes.clone();
        async move {
            let n = nodes.get("lost").await.unwrap();
            let t = taints(&n);
            (ready(&n)?.0 == "Unknown"
                && t.contains(&(unreachable.into(), "NoExecute".into()))
                && t.contains(&(unreachable.into(), "NoSchedule".into())))
            .then_some(n)
        }
    })
    .await;
    let (_, reason, message) = ready(&lost).unwrap();
    assert_eq!(reason.as_deref(), Some("NodeStatusUnknown"));
    assert_eq!(
        message.as_deref(),
        Some("Kubelet stopped posting node status.")
    );
    for t in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
        let cond = lost
            .status
            .as_ref()
            .unwrap()
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == t)
            .unwrap();
        assert_eq!(cond.status, "Unknown", "{t}");
    }
    // The healthy node is left alone.
    let alive = nodes.get("alive").await.unwrap();
    assert_eq!(ready(&alive).unwrap().0, "True");
    assert!(taints(&alive).is_empty(), "{:?}", taints(&alive));
    // Its pods are no longer Ready; the 2 s toleration runs out.
    let names = eventually(60, "short-tolerating pod evicted", || {
        let c = c.clone();
        async move {
            let names: BTreeSet<String> = active_pods(&c, "lc")
                .await
                .iter()
                .map(|p| p.name_any())
                .collect();
            (!names.contains("short")).then_some(names)
        }
    })
    .await;
    assert!(
        names.contains("forever") && names.contains("plain"),
        "{names:?}"
    );
    eventually(30, "pods marked not ready", || {
        let pods = pods.clone();
        async move {
            let p = pods.get("forever").await.unwrap();
            let r = p
                .status?
                .conditions?
                .into_iter()
                .find(|c| c.type_ == "Ready")?;
            (r.status == "False").then_some(())
        }
    })
    .await;
    // A NoExecute taint the plain pod does not tolerate at all evicts it at once.
    nodes
        .patch(
            "lost",
            &PatchParams::default(),
            &Patch::Json::<()>(
                serde_json::from_value(json!([{"op": "add", "path": "/spec/taints/-",
                    "value": {"key": "example.com/evict", "effect": "NoExecute"}}]))
                .unwrap(),
            ),
        )
        .await
        .unwrap();
    let names = eventually(30, "untolerating pod evicted", || {
        let c = c.clone();
        async move {
            let names: BTreeSet<String> = active_pods(&c, "lc")
                .await
                .iter()
                .map(|p| p.name_any())
                .collect();
            (!names.contains("plain")).then_some(names)
        }
    })
    .await;
    assert_eq!(names, BTreeSet::from(["forever".to_string()]));
    // The kubelet comes back: Ready again, the controller's taints go,
    // the foreign one stays.
    lost_stops.store(false, Ordering::SeqCst);
    post_ready(&c, "lost").await;
    let t = eventually(60, "taints removed", || {
        let nodes = nodes.clone();
        async move {
            let t = taints(&nodes.get("lost").await.unwrap());
            (!t.iter().any(|(k, _)| k == unreachable)).then_some(t)
        }
    })
    .await;
    assert_eq!(
        t,
        [("example.com/evict".to_string(), "NoExecute".to_string())]
    );
    heartbeats.abort();
}

#[tokio::test]
async fn unschedulable_node_gets_the_unschedulable_taint() {
    let env = TestEnv::start().await;
    let c = env.client.clone();
    create_node(&c, "cordoned").await;
    post_ready(&c, "cordoned").await;
    let _ctl = env.start_controllers(&["nodelifecycle"]);
    let nodes: Api<Node> = Api::all(c.clone());
    nodes
        .patch(
            "cordoned",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": true}})),
        )
        .await
        .unwrap();
    let want = (
        "node.kubernetes.io/unschedulable".to_string(),
        "NoSchedule".to_string(),
    );
    eventually(30, "unschedulable taint", || {
        let nodes = nodes.clone();
        let want = want.clone();
        async move {
            taints(&nodes.get("cordoned").await.unwrap())
                .contains(&want)
                .then_some(())
        }
    })
    .await;
    nodes
        .patch(
            "cordoned",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": false}})),
        )
        .await
        .unwrap();
    eventually(30, "taint removed on uncordon", || {
        let nodes = nodes.clone();
        async move {
            taints(&nodes.get("cordoned").await.unwrap())
                .is_empty()
                .then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn finished_jobs_are_deleted_after_their_ttl() {
    let env = TestEnv::start().await;
    env.namespace("ttl").await;
    let _ctl = env.start_controllers(&["ttl-after-finished"]);
    let api: Api<Job> = Api::namespaced(env.client.clone(), "ttl");
    for (name, ttl) in [("zero", Some(0)), ("two", Some(2)), ("keep", None)] {
        let mut j = json!({
            "metadata": {"name": name},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                     "containers": [{"name": "c", "image": "busybox"}]}}}
        });
        if let Some(t) = ttl {
            j["spec"]["ttlSecondsAfterFinished"] = json!(t);
        }
        let j: Job = serde_json::from_value(j).unwrap();
        api.create(&PostParams::default(), &j).await.unwrap();
        // Finished, as the job controller would record it.
        let now = now_str();
        api.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {
                "startTime": now, "completionTime": now, "succeeded": 1,
                "conditions": [
                    {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": now, "lastProbeTime": now},
                    {"type": "Complete", "status": "True", "lastTransitionTime": now, "lastProbeTime": now}
                ]}})),
        )
        .await
        .unwrap();
    }
    eventually(60, "jobs with a TTL deleted", || {
        let api = api.clone();
        async move {
            let names: Vec<String> = api
                .list(&Default::default())
                .await
                .unwrap()
                .items
                .iter()
                .filter(|j| j.metadata.deletion_timestamp.is_none())
                .map(|j| j.name_any())
                .collect();
            (names == ["keep"]).then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn replicationcontroller_keeps_three_pods() {
    let env = TestEnv::start().await;
    env.namespace("rc").await;
    let _ctl = env.start_controllers(&["replicationcontroller"]);
    let _k = env.kubelet("rc");
    let api: Api<ReplicationController> = Api::namespaced(env.client.clone(), "rc");
    let rc: ReplicationController = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"app": "web"},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
    }))
    .unwrap();
    let created = api.create(&PostParams::default(), &rc).await.unwrap();
    let c = env.client.clone();
    let pods = eventually(30, "3 pods", || {
        let c = c.clone();
        async move {
            let p = active_pods(&c, "rc").await;
            (p.len() == 3).then_some(p)
        }
    })
    .await;
    for p in &pods {
        let r = &p.owner_references()[0];
        assert_eq!(
            (r.api_version.as_str(), r.kind.as_str(), r.name.as_str()),
            ("v1", "ReplicationController", "web")
        );
        assert_eq!(Some(r.uid.clone()), created.uid());
        assert_eq!(r.controller, Some(true));
    }
    let pod_api: Api<Pod> = Api::namespaced(c.clone(), "rc");
    let gone = pods[0].name_any();
    pod_api
        .delete(&gone, &DeleteParams::default())
        .await
        .unwrap();
    eventually(30, "replacement", || {
        let c = c.clone();
        let gone = gone.clone();
        async move {
            let p = active_pods(&c, "rc").await;
            (p.len() == 3 && p.iter().all(|p| p.name_any() != gone)).then_some(())
        }
    })
    .await;
    eventually(30, "rc status", || {
        let api = api.clone();
        async move {
            let s = api.get("web").await.unwrap().status?;
            (s.replicas == 3
                && s.ready_replicas == Some(3)
                && s.available_replicas == Some(3)
                && s.fully_labeled_replicas == Some(3)
                && s.observed_generation == Some(1))
            .then_some(())
        }
    })
    .await;
    // Scaling down deletes the surplus.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    eventually(30, "1 pod", || {
        let c = c.clone();
        async move { (active_pods(&c, "rc").await.len() == 1).then_some(()) }
    })
    .await;
}

async fn set_ready(api: &Api<Pod>, name: &str, ready: bool) {
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": if ready {"True"} else {"False"}, "lastTransitionTime": now_str()}]}})),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn pdb_status_counts_healthy_pods_against_the_budget() {
    let env = TestEnv::start().await;
    env.namespace("pdb").await;
    let _ctl = env.start_controllers(&["replicaset", "disruption"]);
    let c = env.client.clone();
    let rs: k8s_openapi::api::apps::v1::ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "app"},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
    }))
    .unwrap();
    Api::<k8s_openapi::api::apps::v1::ReplicaSet>::namespaced(c.clone(), "pdb")
        .create(&PostParams::default(), &rs)
        .await
        .unwrap();
    let pods = eventually(30, "4 pods", || {
        let c = c.clone();
        async move {
            let p = active_pods(&c, "pdb").await;
            (p.len() == 4).then_some(p)
        }
    })
    .await;
    let pod_api: Api<Pod> = Api::namespaced(c.clone(), "pdb");
    // Three of the four are ready.
    for p in &pods[..3] {
        set_ready(&pod_api, &p.name_any(), true).await;
    }
    let api: Api<PodDisruptionBudget> = Api::namespaced(c.clone(), "pdb");
    for (name, spec) in [
        ("min2", json!({"minAvailable": 2})),
        ("max50", json!({"maxUnavailable": "50%"})),
        ("min100", json!({"minAvailable": "100%"})),
    ] {
        let mut spec = spec;
        spec["selector"] = json!({"matchLabels": {"app": "db"}});
        let b: PodDisruptionBudget =
            serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap();
        api.create(&PostParams::default(), &b).await.unwrap();
    }
    // (expected, desired, healthy, allowed, condition status, reason)
    let want = |name: &'static str, w: (i32, i32, i32, i32, &'static str, &'static str)| {
        let api = api.clone();
        async move {
            eventually(30, name, || {
                let api = api.clone();
                async move {
                    let b = api.get(name).await.unwrap();
                    let s = b.status?;
                    let cond = s
                        .conditions
                        .as_ref()?
                        .iter()
                        .find(|c| c.type_ == "DisruptionAllowed")?
                        .clone();
                    let got = (
                        s.expected_pods,
                        s.desired_healthy,
                        s.current_healthy,
                        s.disruptions_allowed,
                        cond.status.as_str(),
                        cond.reason.as_str(),
                    );
                    let w2 = (w.0, w.1, w.2, w.3, w.4, w.5);
                    (got == w2 && s.observed_generation == b.metadata.generation).then_some(())
                }
            })
            .await
        }
    };
    want("min2", (4, 2, 3, 1, "True", "SufficientPods")).await;
    want("max50", (4, 2, 3, 1, "True", "SufficientPods")).await;
    want("min100", (4, 4, 3, 0, "False", "InsufficientPods")).await;
    // One more not ready: min2 is at its limit.
    set_ready(&pod_api, &pods[0].name_any(), false).await;
    want("min2", (4, 2, 2, 0, "False", "InsufficientPods")).await;
    set_ready(&pod_api, &pods[3].name_any(), true).await;
    set_ready(&pod_api, &pods[0].name_any(), true).await;
    want("min100", (4, 4, 4, 0, "False", "InsufficientPods")).await;
    want("max50", (4, 2, 4, 2, "True", "SufficientPods")).await;
}

#[tokio::test]
async fn pv_binder_binds_claims_to_matching_volumes_and_reclaims() {
    use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
    let env = TestEnv::start().await;
    env.namespace("pv").await;
    let c = env.client.clone();
    let pvs: Api<PersistentVolume> = Api::all(c.clone());
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(c.clone(), "pv");
    for (name, size, policy, class) in [
        ("pv-small", "1Gi", "Retain", ""),
        ("pv-big", "5Gi", "Delete", ""),
        ("pv-gold", "1Gi", "Retain", "gold"),
    ] {
        let v: PersistentVolume = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": policy, "storageClassName": class,
                     "hostPath": {"path": format!("/tmp/{name}")}}
        }))
        .unwrap();
        pvs.create(&PostParams::default(), &v).await.unwrap();
    }
    let _ctl = env.start_controllers(&["persistentvolume-binder"]);
    let claim = |name: &str, size: &str, class: &str| -> PersistentVolumeClaim {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class,
                     "resources": {"requests": {"storage": size}}}
        }))
        .unwrap()
    };
    for (n, size, class) in [
        ("a", "500Mi", ""),
        ("b", "2Gi", ""),
        ("g", "1Gi", "gold"),
        ("huge", "10Gi", ""),
    ] {
        pvcs.create(&PostParams::default(), &claim(n, size, class))
            .await
            .unwrap();
    }
    let bound_to = |name: &'static str| {
        let pvcs = pvcs.clone();
        async move {
            eventually(30, name, || {
                let pvcs = pvcs.clone();
                async move {
                    let c = pvcs.get(name).await.unwrap();
                    let s = c.status.clone()?;
                    (s.phase.as_deref() == Some("Bound")).then_some(c)
                }
            })
            .await
        }
    };
    let a = bound_to("a").await;
    assert_eq!(
        a.spec.as_ref().unwrap().volume_name.as_deref(),
        Some("pv-small")
    );
    assert_eq!(
        a.annotations()
            .get("pv.kubernetes.io/bind-completed")
            .map(String::as_str),
        Some("yes")
    );
    assert_eq!(
        a.status.as_ref().unwrap().capacity.as_ref().unwrap()["storage"].0,
        "1Gi"
    );
    let b = bound_to("b").await;
    assert_eq!(
        b.spec.as_ref().unwrap().volume_name.as_deref(),
        Some("pv-big")
    );
    let g = bound_to("g").await;
    assert_eq!(
        g.spec.as_ref().unwrap().volume_name.as_deref(),
        Some("pv-gold")
    );
    let small = pvs.get("pv-small").await.unwrap();
    assert_eq!(small.status.unwrap().phase.as_deref(), Some("Bound"));
    let r = small.spec.unwrap().claim_ref.unwrap();
    assert_eq!((r.name.as_deref(), r.uid), (Some("a"), a.uid()));
    // No volume is big enough for this one.
    eventually(30, "huge claim pending", || {
        let pvcs = pvcs.clone();
        async move {
            let s = pvcs.get("huge").await.unwrap().status?;
            (s.phase.as_deref() == Some("Pending")).then_some(())
        }
    })
    .await;
    assert!(pvcs
        .get("huge")
        .await
        .unwrap()
        .spec
        .unwrap()
        .volume_name
        .is_none());
    // Released: Retain keeps the volume, Delete removes it.
    pvcs.delete("a", &DeleteParams::default()).await.unwrap();
    pvcs.delete("b", &DeleteParams::default()).await.unwrap();
    eventually(30, "pv-small released", || {
        let pvs = pvs.clone();
        async move {
            let s = pvs.get("pv-small").await.unwrap().status?;
            (s.phase.as_deref() == Some("Released")).then_some(())
        }
    })
    .await;
    eventually(30, "pv-big deleted", || {
        let pvs = pvs.clone();
        async move { pvs.get_opt("pv-big").await.unwrap().is_none().then_some(()) }
    })
    .await;
    // A released volume is not handed to a new claim.
    pvcs.create(&PostParams::default(), &claim("again", "500Mi", ""))
        .await
        .unwrap();
    eventually(30, "new claim pending", || {
        let pvcs = pvcs.clone();
        async move {
            let s = pvcs.get("again").await.unwrap().status?;
            (s.phase.as_deref() == Some("Pending")).then_some(())
        }
    })
    .await;
}
