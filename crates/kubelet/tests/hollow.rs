//! Twenty hollow kubelets (fake runtime) in one process against a real
//! etcd and the in-process apiserver: twenty Ready Nodes with Leases, and
//! a pod bound to one of them Running. Needs etcd, not containerd.

mod support;

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use support::{cluster, wait_within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_hollow_nodes() {
    support::init_tracing();
    let dir = std::env::temp_dir().join(format!("kubelet-hollow-it-{}", std::process::id()));
    let c = cluster(&dir).await;
    let client = c.client.clone();
    let h = kubelet::hollow::HollowOptions {
        count: 20,
        name_prefix: "hollow".into(),
        root_dir: dir.join("nodes"),
        ..Default::default()
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(kubelet::hollow::run_hollow(client.clone(), h, async {
        let _ = stop_rx.await;
    }));

    let nodes: Api<Node> = Api::all(client.clone());
    wait_within("20 Ready nodes", Duration::from_secs(120), || async {
        let list = nodes.list(&ListParams::default()).await.ok()?;
        let ready = list
            .items
            .iter()
            .filter(|n| {
                n.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with("hollow-"))
                    && n.status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .count();
        (ready == 20).then_some(())
    })
    .await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    wait_within("20 leases", Duration::from_secs(60), || async {
        let list = leases.list(&ListParams::default()).await.ok()?;
        let mut holders: Vec<String> = list
            .items
            .iter()
            .filter_map(|l| l.spec.as_ref()?.holder_identity.clone())
            .filter(|h| h.starts_with("hollow-"))
            .collect();
        holders.sort();
        holders.dedup();
        (holders.len() == 20).then_some(())
    })
    .await;

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": "on-hollow"},
        "spec": {"nodeName": "hollow-7", "containers": [{"name": "c", "image": "busybox:1.35"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &p)
        .await
        .expect("create pod");
    let running = wait_within(
        "pod Running on hollow-7",
        Duration::from_secs(60),
        || async {
            let p = pods.get("on-hollow").await.ok()?;
            (p.status.as_ref()?.phase.as_deref() == Some("Running")).then_some(p)
        },
    )
    .await;
    let cs = &running.status.unwrap().container_statuses.unwrap()[0];
    assert!(cs.ready);
    assert!(cs.container_id.as_deref().unwrap().starts_with("fake://"));

    let _ = stop_tx.send(());
    task.await.unwrap().unwrap();
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
}
