//! VolumeBinding and VolumeRestrictions against a real etcd and apiserver,
//! with the PV binder of the `controllers` crate running in-process.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{eventually, Cluster};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{json, Value};

const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";

/// A cluster whose PreBind gives up after 30 s, plus the PV binder.
async fn cluster() -> (Cluster, tokio::task::JoinHandle<()>) {
    let c = scheduler_only(Duration::from_secs(30)).await;
    let binder = start_binder(&c);
    (c, binder)
}

async fn scheduler_only(bind_timeout: Duration) -> Cluster {
    let mut cfg = scheduler::Config {
        leader_elect: false,
        ..Default::default()
    };
    cfg.profiles[0].bind_timeout = bind_timeout;
    Cluster::start_with(cfg).await
}

/// The `controllers` crate's PV binder, in-process.
fn start_binder(c: &Cluster) -> tokio::task::JoinHandle<()> {
    let opts = controllers::Options {
        leader_elect: false,
        controllers: vec!["persistentvolume-binder-controller".into()],
        secure_port: 0,
        ..controllers::Options::default()
    };
    let client = c.client.clone();
    tokio::spawn(async move {
        let m = Arc::new(controllers::Metrics::default());
        controllers::run_controllers(client, opts, m, std::future::pending())
            .await
            .unwrap();
    })
}

async fn class(c: &Cluster, name: &str, mode: &str) {
    let api: Api<StorageClass> = Api::all(c.client.clone());
    let sc = json!({"metadata": {"name": name}, "provisioner": "kubernetes.io/no-provisioner",
                    "volumeBindingMode": mode});
    api.create(&PostParams::default(), &serde_json::from_value(sc).unwrap())
        .await
        .unwrap();
}

/// A 1Gi `local` volume pinned to `node` by required node affinity, or a
/// `hostPath` one usable anywhere.
async fn volume(c: &Cluster, name: &str, class: &str, node: Option<&str>, modes: Value) {
    let mut v = json!({
        "metadata": {"name": name},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": modes,
                 "storageClassName": class, "persistentVolumeReclaimPolicy": "Retain",
                 "local": {"path": format!("/mnt/{name}")}}
    });
    match node {
        Some(n) => {
            v["spec"]["nodeAffinity"] = json!({"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [n]}]}]}});
        }
        None => {
            let spec = v["spec"].as_object_mut().unwrap();
            spec.remove("local");
            spec.insert("hostPath".into(), json!({"path": format!("/mnt/{name}")}));
        }
    }
    let api: Api<PersistentVolume> = Api::all(c.client.clone());
    api.create(&PostParams::default(), &serde_json::from_value(v).unwrap())
        .await
        .unwrap();
}

/// Waits until the PV binder has seen the volume (it marks it Available):
/// a claim created before that would wait for a resync the binder here
/// does not do yet.
async fn available(c: &Cluster, name: &'static str) {
    let api: Api<PersistentVolume> = Api::all(c.client.clone());
    eventually(&format!("volume {name} Available"), || {
        let api = api.clone();
        async move {
            let v = api.get(name).await.ok()?;
            (v.status?.phase.as_deref() == Some("Available")).then_some(())
        }
    })
    .await
}

async fn claim(c: &Cluster, name: &str, class: &str, modes: Value) {
    let v = json!({
        "metadata": {"name": name},
        "spec": {"accessModes": modes, "storageClassName": class,
                 "resources": {"requests": {"storage": "1Gi"}}}
    });
    claims(c)
        .create(&PostParams::default(), &serde_json::from_value(v).unwrap())
        .await
        .unwrap();
}

fn claims(c: &Cluster) -> Api<PersistentVolumeClaim> {
    Api::namespaced(c.client.clone(), "default")
}

/// Waits until the claim is bound; returns its volume.
async fn bound_volume(c: &Cluster, name: &'static str) -> String {
    let api = claims(c);
    eventually(&format!("claim {name} bound"), || {
        let api = api.clone();
        async move {
            let pvc = api.get(name).await.ok()?;
            (pvc.status?.phase.as_deref() == Some("Bound"))
                .then_some(())
                .and(pvc.spec?.volume_name)
        }
    })
    .await
}

fn with_claim(claim: &str, extra: Value) -> Value {
    let mut v =
        json!({"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]});
    common::merge(&mut v, extra);
    v
}

/// Waits until the pod's PodScheduled condition is False with `message`.
async fn unschedulable_with(c: &Cluster, pod: &'static str, message: String) {
    let pods = c.pods();
    let m = message.clone();
    eventually(
        &format!("{pod}: PodScheduled False with {message:?}"),
        || {
            let pods = pods.clone();
            let m = m.clone();
            async move {
                let p = pods.get(pod).await.ok()?;
                assert!(
                    p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none(),
                    "{pod} must stay pending"
                );
                p.status?.conditions?.into_iter().find(|c| {
                    c.type_ == "PodScheduled"
                        && c.status == "False"
                        && c.reason.as_deref() == Some("Unschedulable")
                        && c.message.as_deref() == Some(m.as_str())
                })
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_wait_for_first_consumer_claim_binds_on_the_node_the_pod_fits() {
    let (c, _binder) = cluster().await;
    class(&c, "local", "WaitForFirstConsumer").await;
    c.node(
        "node-a",
        "2",
        "4Gi",
        json!({"metadata": {"labels": {"disk": "hdd"}}}),
    )
    .await;
    c.node(
        "node-b",
        "2",
        "4Gi",
        json!({"metadata": {"labels": {"disk": "ssd"}}}),
    )
    .await;
    volume(
        &c,
        "pv-a",
        "local",
        Some("node-a"),
        json!(["ReadWriteOnce"]),
    )
    .await;
    volume(
        &c,
        "pv-b",
        "local",
        Some("node-b"),
        json!(["ReadWriteOnce"]),
    )
    .await;
    claim(&c, "data", "local", json!(["ReadWriteOnce"])).await;
    c.pod(
        "p",
        with_claim("data", json!({"nodeSelector": {"disk": "ssd"}})),
    )
    .await;
    assert_eq!(c.bound_node("p").await, "node-b");
    // The claim was bound before the pod: right after the pod's binding
    // shows, the claim already is.
    let pvc = claims(&c).get("data").await.unwrap();
    assert_eq!(
        pvc.spec.as_ref().and_then(|s| s.volume_name.as_deref()),
        Some("pv-b")
    );
    assert_eq!(
        pvc.metadata.annotations.as_ref().unwrap()[SELECTED_NODE],
        "node-b"
    );
    assert_eq!(bound_volume(&c, "data").await, "pv-b");
    let pvs: Api<PersistentVolume> = Api::all(c.client.clone());
    let a = pvs.get("pv-a").await.unwrap();
    assert!(a.spec.unwrap().claim_ref.is_none(), "pv-a stays free");
}

#[tokio::test]
async fn a_pod_follows_its_bound_volume_to_the_volume_node() {
    let (c, _binder) = cluster().await;
    for n in ["node-a", "node-b", "node-c"] {
        c.node(n, "2", "4Gi", json!({})).await;
    }
    // No class: the PV binder binds it at once.
    volume(&c, "pv-a", "", Some("node-a"), json!(["ReadWriteOnce"])).await;
    available(&c, "pv-a").await;
    claim(&c, "data", "", json!(["ReadWriteOnce"])).await;
    assert_eq!(bound_volume(&c, "data").await, "pv-a");
    for i in 0..3 {
        let name: &'static str = ["p0", "p1", "p2"][i];
        c.pod(name, with_claim("data", json!({}))).await;
        assert_eq!(c.bound_node(name).await, "node-a");
    }
}

#[tokio::test]
async fn a_missing_claim_is_reported_as_upstream_does() {
    let (c, _binder) = cluster().await;
    c.node("node-a", "2", "4Gi", json!({})).await;
    c.node("node-b", "2", "4Gi", json!({})).await;
    c.pod("p", with_claim("nope", json!({}))).await;
    unschedulable_with(
        &c,
        "p",
        "0/2 nodes are available: persistentvolumeclaim \"nope\" not found. \
         preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.."
            .into(),
    )
    .await;
}

#[tokio::test]
async fn an_unbound_immediate_claim_keeps_the_pod_pending_until_it_binds() {
    let (c, _binder) = cluster().await;
    class(&c, "now", "Immediate").await;
    c.node("node-a", "2", "4Gi", json!({})).await;
    c.node("node-b", "2", "4Gi", json!({})).await;
    claim(&c, "data", "now", json!(["ReadWriteOnce"])).await;
    c.pod("p", with_claim("data", json!({}))).await;
    unschedulable_with(
        &c,
        "p",
        "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. \
         preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.."
            .into(),
    )
    .await;
    // A volume appears, the binder binds the claim, and that event
    // retries the pod. (The PV binder here has no periodic resync yet, so
    // the claim is touched to have it look again.)
    volume(&c, "pv-b", "now", Some("node-b"), json!(["ReadWriteOnce"])).await;
    claims(&c)
        .patch(
            "data",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"retry": "1"}}})),
        )
        .await
        .unwrap();
    assert_eq!(bound_volume(&c, "data").await, "pv-b");
    assert_eq!(c.bound_node("p").await, "node-b");
}

#[tokio::test]
async fn a_read_write_once_pod_claim_admits_a_single_pod() {
    let (c, _binder) = cluster().await;
    c.node("node-a", "2", "4Gi", json!({})).await;
    c.node("node-b", "2", "4Gi", json!({})).await;
    volume(&c, "pv-once", "", None, json!(["ReadWriteOncePod"])).await;
    available(&c, "pv-once").await;
    claim(&c, "once", "", json!(["ReadWriteOncePod"])).await;
    assert_eq!(bound_volume(&c, "once").await, "pv-once");
    c.pod("first", with_claim("once", json!({}))).await;
    c.bound_node("first").await;
    c.pod("second", with_claim("once", json!({}))).await;
    unschedulable_with(
        &c,
        "second",
        "0/2 nodes are available: 2 node has pod using PersistentVolumeClaim with the same name \
         and ReadWriteOncePod access mode. preemption: 0/2 nodes are available: \
         2 No preemption victims found for incoming pod.."
            .into(),
    )
    .await;
    // Once the first pod is gone, the second one gets the claim.
    c.pods()
        .delete("first", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    c.bound_node("second").await;
}

#[tokio::test]
async fn the_pod_waits_unbound_until_its_claim_is_bound() {
    // No PV binder at first: PreBind writes the claimRef and the selected
    // node, then times out, and the pod is not bound.
    let c = scheduler_only(Duration::from_secs(2)).await;
    class(&c, "local", "WaitForFirstConsumer").await;
    c.node("node-a", "2", "4Gi", json!({})).await;
    c.node("node-b", "2", "4Gi", json!({})).await;
    volume(
        &c,
        "pv-b",
        "local",
        Some("node-b"),
        json!(["ReadWriteOnce"]),
    )
    .await;
    claim(&c, "data", "local", json!(["ReadWriteOnce"])).await;
    c.pod("p", with_claim("data", json!({}))).await;
    let pods = c.pods();
    eventually("PreBind timeout reported", || {
        let pods = pods.clone();
        async move {
            let p = pods.get("p").await.ok()?;
            assert!(p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none());
            p.status?.conditions?.into_iter().find(|c| {
                c.type_ == "PodScheduled"
                    && c.reason.as_deref() == Some("SchedulerError")
                    && c.message.as_deref()
                        == Some("running PreBind plugin \"VolumeBinding\": binding volumes: context deadline exceeded")
            })
        }
    })
    .await;
    let pvs: Api<PersistentVolume> = Api::all(c.client.clone());
    let v = pvs.get("pv-b").await.unwrap();
    let r = v.spec.unwrap().claim_ref.unwrap();
    assert_eq!(r.name.as_deref(), Some("data"));
    let pvc = claims(&c).get("data").await.unwrap();
    assert_eq!(pvc.metadata.annotations.unwrap()[SELECTED_NODE], "node-b");
    assert!(pvc.spec.unwrap().volume_name.is_none());
    // The binder completes the binding; the retried pod follows.
    let _binder = start_binder(&c);
    assert_eq!(bound_volume(&c, "data").await, "pv-b");
    assert_eq!(c.bound_node("p").await, "node-b");
}

/// A CSI volume bound (by the PV binder) to a claim of the same name.
async fn csi_claim(c: &Cluster, name: &'static str) {
    let pv = json!({
        "metadata": {"name": format!("pv-{name}")},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "storageClassName": "", "claimRef": {"namespace": "default", "name": name},
                 "csi": {"driver": "disk.csi.example.com", "volumeHandle": format!("vol-{name}")}}
    });
    let api: Api<PersistentVolume> = Api::all(c.client.clone());
    api.create(&PostParams::default(), &serde_json::from_value(pv).unwrap())
        .await
        .unwrap();
    claim(c, name, "", json!(["ReadWriteOnce"])).await;
    bound_volume(c, name).await;
}

#[tokio::test]
async fn csi_attach_limits_of_the_csinode_are_respected() {
    let (c, _binder) = cluster().await;
    c.node("node-a", "2", "4Gi", json!({})).await;
    c.node("node-b", "2", "4Gi", json!({})).await;
    let csinodes: Api<k8s_openapi::api::storage::v1::CSINode> = Api::all(c.client.clone());
    for (n, count) in [("node-a", 1), ("node-b", 8)] {
        let v = json!({"metadata": {"name": n}, "spec": {"drivers": [
            {"name": "disk.csi.example.com", "nodeID": n, "allocatable": {"count": count}}]}});
        csinodes
            .create(&PostParams::default(), &serde_json::from_value(v).unwrap())
            .await
            .unwrap();
    }
    csi_claim(&c, "one").await;
    csi_claim(&c, "two").await;
    let on_a = json!({"nodeSelector": {"kubernetes.io/hostname": "node-a"}});
    c.pod("first", with_claim("one", on_a.clone())).await;
    assert_eq!(c.bound_node("first").await, "node-a");
    // The same volume again needs no new attachment.
    c.pod("again", with_claim("one", on_a.clone())).await;
    assert_eq!(c.bound_node("again").await, "node-a");
    c.pod("second", with_claim("two", on_a)).await;
    unschedulable_with(
        &c,
        "second",
        "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, \
         1 node(s) exceed max volume count. preemption: 0/2 nodes are available: \
         1 No preemption victims found for incoming pod, \
         1 Preemption is not helpful for scheduling.."
            .into(),
    )
    .await;
    c.pod("elsewhere", with_claim("two", json!({}))).await;
    assert_eq!(c.bound_node("elsewhere").await, "node-b");
}
