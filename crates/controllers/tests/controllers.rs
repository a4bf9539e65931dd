//! The controllers in-process against a real apiserver and etcd; a fake
//! kubelet sets pod status through the status subresource.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{active_pods, eventually, TestEnv};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use kube::ResourceExt;
use serde_json::json;

fn rs(name: &str, replicas: i32) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
    }))
    .unwrap()
}

fn deploy(name: &str, replicas: i32, image: &str, surge: i32, unavailable: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": image}]}}}
    }))
    .unwrap()
}

#[tokio::test]
async fn replicaset_creates_pods_and_replaces_a_deleted_one() {
    let env = TestEnv::start().await;
    env.namespace("rs").await;
    let _c = env.start_controllers(&["replicaset"]);
    let _k = env.kubelet("rs");
    let api: Api<ReplicaSet> = Api::namespaced(env.client.clone(), "rs");
    let created = api
        .create(&PostParams::default(), &rs("web", 3))
        .await
        .unwrap();
    let c = env.client.clone();
    let pods = eventually(20, "3 pods", || {
        let c = c.clone();
        async move {
            let p = active_pods(&c, "rs").await;
            (p.len() == 3).then_some(p)
        }
    })
    .await;
    for p in &pods {
        assert!(p.name_any().starts_with("web-"), "{}", p.name_any());
        assert_eq!(p.name_any().len(), "web-".len() + 5);
        let r = &p.owner_references()[0];
        assert_eq!((r.kind.as_str(), r.name.as_str()), ("ReplicaSet", "web"));
        assert_eq!(r.uid, created.uid().unwrap());
        assert_eq!(
            (r.controller, r.block_owner_deletion),
            (Some(true), Some(true))
        );
    }
    // Status catches up, with the pods ready.
    eventually(20, "rs status", || {
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
    // A deleted pod is replaced.
    let pod_api: Api<Pod> = Api::namespaced(env.client.clone(), "rs");
    let gone = pods[0].name_any();
    pod_api
        .delete(&gone, &DeleteParams::default())
        .await
        .unwrap();
    let after = eventually(20, "replacement", || {
        let c = c.clone();
        let gone = gone.clone();
        async move {
            let p = active_pods(&c, "rs").await;
            (p.len() == 3 && p.iter().all(|p| p.name_any() != gone)).then_some(p)
        }
    })
    .await;
    assert_eq!(after.len(), 3);
    // Scale down to 1, then an orphan with matching labels is adopted.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    eventually(20, "1 pod", || {
        let c = c.clone();
        async move { (active_pods(&c, "rs").await.len() == 1).then_some(()) }
    })
    .await;
    let orphan: Pod = serde_json::from_value(json!({
        "metadata": {"name": "orphan", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap();
    pod_api
        .create(&PostParams::default(), &orphan)
        .await
        .unwrap();
    // Adopted, and then one of the two is deleted to get back to 1.
    eventually(20, "adoption and scale back to 1", || {
        let c = c.clone();
        async move {
            let p = active_pods(&c, "rs").await;
            (p.len() == 1 && p[0].owner_references().len() == 1).then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn deployment_rolls_within_max_surge_and_keeps_history() {
    let env = TestEnv::start().await;
    env.namespace("dep").await;
    let _c = env.start_controllers(&["*"]);
    let _k = env.kubelet("dep");
    // Watch pods for the whole test: never more than replicas + maxSurge.
    let max_seen = Arc::new(AtomicUsize::new(0));
    let pod_api: Api<Pod> = Api::namespaced(env.client.clone(), "dep");
    let m = max_seen.clone();
    let watch_task = tokio::spawn(async move {
        let mut live = BTreeSet::new();
        // A relist (after a dropped watch) replaces the set at its end, so
        // pods deleted in the gap are not counted forever.
        let mut relisted: Option<BTreeSet<String>> = None;
        let mut s = Box::pin(watcher(pod_api, watcher::Config::default()).default_backoff());
        while let Some(Ok(ev)) = s.next().await {
            match ev {
                watcher::Event::Init => relisted = Some(BTreeSet::new()),
                watcher::Event::InitApply(p) => {
                    relisted
                        .get_or_insert_with(BTreeSet::new)
                        .insert(p.name_any());
                }
                watcher::Event::InitDone => {
                    if let Some(r) = relisted.take() {
                        live = r;
                    }
                }
                watcher::Event::Apply(p) => {
                    live.insert(p.name_any());
                }
                watcher::Event::Delete(p) => {
                    live.remove(&p.name_any());
                }
            }
            m.fetch_max(live.len(), Ordering::SeqCst);
        }
    });
    let api: Api<Deployment> = Api::namespaced(env.client.clone(), "dep");
    api.create(
        &PostParams::default(),
        &deploy("web", 4, "nginx:1.22", 1, 1),
    )
    .await
    .unwrap();
    let rs_api: Api<ReplicaSet> = Api::namespaced(env.client.clone(), "dep");
    let first = eventually(30, "first rs available", || {
        let rs_api = rs_api.clone();
        async move {
            let l = rs_api.list(&ListParams::default()).await.unwrap().items;
            (l.len() == 1 && l[0].status.as_ref().and_then(|s| s.available_replicas) == Some(4))
                .then(|| l[0].clone())
        }
    })
    .await;
    let hash = first.labels().get("pod-template-hash").cloned().unwrap();
    assert_eq!(first.name_any(), format!("web-{hash}"));
    assert!(hash
        .chars()
        .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
    assert_eq!(
        first
            .annotations()
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str),
        Some("1")
    );
    assert_eq!(
        first
            .annotations()
            .get("deployment.kubernetes.io/desired-replicas")
            .map(String::as_str),
        Some("4")
    );
    assert_eq!(
        first
            .annotations()
            .get("deployment.kubernetes.io/max-replicas")
            .map(String::as_str),
        Some("5")
    );
    let sel = first
        .spec
        .as_ref()
        .unwrap()
        .selector
        .match_labels
        .clone()
        .unwrap();
    assert_eq!(sel.get("pod-template-hash"), Some(&hash));
    // `kubectl set image`.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.23"}]}}}})),
    )
    .await
    .unwrap();
    let d = eventually(60, "rollout complete", || {
        let api = api.clone();
        async move {
            let d = api.get("web").await.unwrap();
            let s = d.status.clone()?;
            let progressing = s
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "Progressing")?;
            (s.updated_replicas == Some(4)
                && s.replicas == Some(4)
                && s.available_replicas == Some(4)
                && progressing.reason.as_deref() == Some("NewReplicaSetAvailable")
                && s.observed_generation == d.metadata.generation)
                .then_some(d)
        }
    })
    .await;
    assert_eq!(
        d.annotations()
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str),
        Some("2")
    );
    let avail = d
        .status
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Available")
        .unwrap();
    assert_eq!(avail.reason.as_deref(), Some("MinimumReplicasAvailable"));
    let rss = rs_api.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(rss.len(), 2);
    let old = rss
        .iter()
        .find(|r| r.name_any() == first.name_any())
        .unwrap();
    assert_eq!(old.spec.as_ref().unwrap().replicas, Some(0));
    let c = env.client.clone();
    eventually(20, "4 pods", || {
        let c = c.clone();
        async move { (active_pods(&c, "dep").await.len() == 4).then_some(()) }
    })
    .await;
    assert!(
        max_seen.load(Ordering::SeqCst) <= 5,
        "surge exceeded: {}",
        max_seen.load(Ordering::SeqCst)
    );
    // Rollback by template (what `kubectl rollout undo` sends): the first
    // ReplicaSet comes back as revision 3.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.22"}]}}}})),
    )
    .await
    .unwrap();
    eventually(60, "rolled back", || {
        let rs_api = rs_api.clone();
        let name = first.name_any();
        async move {
            let r = rs_api.get(&name).await.unwrap();
            (r.annotations()
                .get("deployment.kubernetes.io/revision")
                .map(String::as_str)
                == Some("3")
                && r.status.as_ref().and_then(|s| s.available_replicas) == Some(4))
            .then_some(())
        }
    })
    .await;
    assert!(
        max_seen.load(Ordering::SeqCst) <= 5,
        "surge exceeded: {}",
        max_seen.load(Ordering::SeqCst)
    );
    watch_task.abort();
}

#[tokio::test]
async fn killing_the_controllers_mid_rollout_converges_without_extra_pods() {
    let env = TestEnv::start().await;
    env.namespace("kill").await;
    let _k = env.kubelet("kill");
    let c1 = env.start_controllers(&["*"]);
    let api: Api<Deployment> = Api::namespaced(env.client.clone(), "kill");
    api.create(
        &PostParams::default(),
        &deploy("big", 10, "nginx:1.22", 2, 0),
    )
    .await
    .unwrap();
    let c = env.client.clone();
    eventually(60, "10 pods", || {
        let c = c.clone();
        async move { (active_pods(&c, "kill").await.len() == 10).then_some(()) }
    })
    .await;
    api.patch(
        "big",
        &PatchParams::default(),
        &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.23"}]}}}})),
    )
    .await
    .unwrap();
    // Let the rollout start, then kill the controllers.
    tokio::time::sleep(Duration::from_millis(700)).await;
    c1.abort();
    let _ = c1.await;
    let n = active_pods(&env.client, "kill").await.len();
    assert!(n <= 12, "{n} pods mid-rollout");
    let _c2 = env.start_controllers(&["*"]);
    eventually(90, "rollout completes after restart", || {
        let api = api.clone();
        async move {
            let d = api.get("big").await.unwrap();
            let s = d.status.clone()?;
            (s.updated_replicas == Some(10)
                && s.replicas == Some(10)
                && s.available_replicas == Some(10)
                && s.observed_generation == d.metadata.generation)
                .then_some(())
        }
    })
    .await;
    let c = env.client.clone();
    eventually(20, "exactly 10 pods", || {
        let c = c.clone();
        async move { (active_pods(&c, "kill").await.len() == 10).then_some(()) }
    })
    .await;
    let rs_api: Api<ReplicaSet> = Api::namespaced(env.client.clone(), "kill");
    assert_eq!(
        rs_api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    // And stays at 10.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(active_pods(&env.client, "kill").await.len(), 10);
}

#[tokio::test]
async fn deleting_a_namespace_removes_its_content_then_the_namespace() {
    let env = TestEnv::start().await;
    env.namespace("doomed").await;
    let _c = env.start_controllers(&["*"]);
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), "doomed");
    for i in 0..3 {
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": format!("cm{i}")}})).unwrap();
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
    // One with a finalizer: the namespace waits for it.
    let held: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}),
    )
    .unwrap();
    cms.create(&PostParams::default(), &held).await.unwrap();
    let rss: Api<ReplicaSet> = Api::namespaced(env.client.clone(), "doomed");
    rss.create(&PostParams::default(), &rs("app", 2))
        .await
        .unwrap();
    let ns_api: Api<Namespace> = Api::all(env.client.clone());
    ns_api
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    let ns = eventually(30, "finalizers-remaining condition", || {
        let ns_api = ns_api.clone();
        async move {
            let ns = ns_api.get_opt("doomed").await.unwrap()?;
            let c = ns.status.as_ref()?.conditions.clone()?;
            c.iter()
                .any(|c| c.type_ == "NamespaceFinalizersRemaining" && c.status == "True")
                .then_some(ns)
        }
    })
    .await;
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Terminating"));
    assert_eq!(
        cms.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );
    // Release the finalizer: everything goes, then the namespace.
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    eventually(30, "namespace gone", || {
        let ns_api = ns_api.clone();
        async move {
            ns_api
                .get_opt("doomed")
                .await
                .unwrap()
                .is_none()
                .then_some(())
        }
    })
    .await;
    assert!(active_pods(&env.client, "doomed").await.is_empty());
}

#[tokio::test]
async fn deleting_an_owner_removes_dependents_and_orphan_keeps_them() {
    let env = TestEnv::start().await;
    env.namespace("gc").await;
    let _c = env.start_controllers(&["*"]);
    let api: Api<ReplicaSet> = Api::namespaced(env.client.clone(), "gc");
    api.create(&PostParams::default(), &rs("bg", 2))
        .await
        .unwrap();
    let c = env.client.clone();
    eventually(20, "2 pods", || {
        let c = c.clone();
        async move { (active_pods(&c, "gc").await.len() == 2).then_some(()) }
    })
    .await;
    api.delete("bg", &DeleteParams::background()).await.unwrap();
    eventually(30, "dependents collected", || {
        let c = c.clone();
        async move { active_pods(&c, "gc").await.is_empty().then_some(()) }
    })
    .await;
    // A ConfigMap owned by a ConfigMap (any resource works).
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), "gc");
    let owner = cms
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "owner"}})).unwrap(),
        )
        .await
        .unwrap();
    let dep: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "dep", "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.uid().unwrap()}]}}))
        .unwrap();
    cms.create(&PostParams::default(), &dep).await.unwrap();
    // Orphan: the dependent stays, without the reference.
    cms.delete("owner", &DeleteParams::orphan()).await.unwrap();
    let kept = eventually(30, "orphaned dependent", || {
        let cms = cms.clone();
        async move {
            let owner_gone = cms.get_opt("owner").await.unwrap().is_none();
            let d = cms.get_opt("dep").await.unwrap()?;
            (owner_gone && d.owner_references().is_empty()).then_some(d)
        }
    })
    .await;
    assert_eq!(kept.name_any(), "dep");
    // Foreground: the owner waits for its dependents.
    api.create(&PostParams::default(), &rs("fg", 2))
        .await
        .unwrap();
    eventually(20, "2 pods", || {
        let c = c.clone();
        async move { (active_pods(&c, "gc").await.len() == 2).then_some(()) }
    })
    .await;
    api.delete("fg", &DeleteParams::foreground()).await.unwrap();
    eventually(30, "owner and dependents gone", || {
        let (c, api) = (c.clone(), api.clone());
        async move {
            (active_pods(&c, "gc").await.is_empty() && api.get_opt("fg").await.unwrap().is_none())
                .then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn default_serviceaccount_and_root_ca_in_new_namespaces() {
    let env = TestEnv::start().await;
    let ca = std::env::temp_dir().join(format!("kcm-test-ca-{}.crt", std::process::id()));
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let opts = controllers::Options {
        leader_elect: false,
        secure_port: 0,
        root_ca_file: Some(ca.clone()),
        ..controllers::Options::default()
    };
    let client = env.client.clone();
    let _c = tokio::spawn(async move {
        controllers::run_controllers(client, opts, Default::default(), std::future::pending())
            .await
            .unwrap();
    });
    env.namespace("fresh").await;
    let sas: Api<ServiceAccount> = Api::namespaced(env.client.clone(), "fresh");
    eventually(20, "default serviceaccount", || {
        let sas = sas.clone();
        async move { sas.get_opt("default").await.unwrap().map(|_| ()) }
    })
    .await;
    // Recreated when deleted.
    sas.delete("default", &DeleteParams::default())
        .await
        .unwrap();
    eventually(20, "default serviceaccount again", || {
        let sas = sas.clone();
        async move { sas.get_opt("default").await.unwrap().map(|_| ()) }
    })
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), "fresh");
    let cm = eventually(20, "kube-root-ca.crt", || {
        let cms = cms.clone();
        async move { cms.get_opt("kube-root-ca.crt").await.unwrap() }
    })
    .await;
    assert!(cm.data.unwrap()["ca.crt"].contains("BEGIN CERTIFICATE"));
    let _ = std::fs::remove_file(ca);
}

#[tokio::test]
async fn one_leader_at_a_time_and_handover_on_release() {
    use client_support::{LeaderElectionConfig, LeaderElector};
    let env = TestEnv::start().await;
    let mk = |id: &str| {
        let mut cfg = LeaderElectionConfig::new("kube-system", "test-lease");
        cfg.identity = id.into();
        cfg.lease_duration = Duration::from_secs(3);
        cfg.renew_deadline = Duration::from_secs(2);
        cfg.retry_period = Duration::from_millis(200);
        LeaderElector::new(env.client.clone(), cfg)
    };
    let a = mk("a");
    let mut b = mk("b");
    let (stop_a, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let ta = tokio::spawn(a.run(std::future::pending(), async move {
        let _ = stop_rx.await;
    }));
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(env.client.clone(), "kube-system");
    let l = eventually(10, "a leads", || {
        let leases = leases.clone();
        async move {
            let l = leases.get_opt("test-lease").await.unwrap()?;
            (l.spec.as_ref()?.holder_identity.as_deref() == Some("a")).then_some(l)
        }
    })
    .await;
    let spec = l.spec.unwrap();
    assert_eq!(spec.lease_transitions, Some(0));
    assert_eq!(spec.lease_duration_seconds, Some(3));
    let raw = serde_json::to_value(&spec.renew_time).unwrap();
    let frac = raw.as_str().unwrap().split('.').nth(1).unwrap();
    assert_eq!(frac.len(), 7, "six fractional digits then Z: {raw}");
    // b cannot take it while a renews.
    assert!(!b.try_acquire_or_renew().await.unwrap());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!b.try_acquire_or_renew().await.unwrap());
    // a stops and releases: b takes over at once, one more transition.
    stop_a.send(()).unwrap();
    ta.await.unwrap().unwrap();
    assert!(b.try_acquire_or_renew().await.unwrap());
    let l = leases.get("test-lease").await.unwrap().spec.unwrap();
    assert_eq!(l.holder_identity.as_deref(), Some("b"));
    assert_eq!(l.lease_transitions, Some(1));
}
