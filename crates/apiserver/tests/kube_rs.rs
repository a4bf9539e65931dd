//! kube-rs (the Rust client the other components use) against the
//! apiserver, unchanged: typed CRUD, conflicts, scale, watcher, events.

mod common;

use common::TestServer;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

async fn client(s: &TestServer) -> Client {
    let pem = std::fs::read(&s.running.ca_file).unwrap();
    let ders: Vec<Vec<u8>> = rustls_pemfile::certs(&mut pem.as_slice())
        .map(|c| c.unwrap().to_vec())
        .collect();
    let url = format!("https://127.0.0.1:{}", s.running.addr.port());
    let mut cfg = kube::Config::new(url.parse().unwrap());
    cfg.root_cert = Some(ders);
    cfg.default_namespace = "default".into();
    Client::try_from(cfg).unwrap()
}

fn cm(name: &str, app: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": app}},
        "data": {"k": "v"}
    }))
    .unwrap()
}

#[tokio::test]
async fn typed_crud_conflicts_and_selectors() {
    let s = TestServer::start().await;
    let c = client(&s).await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "default");
    let created = api
        .create(&PostParams::default(), &cm("a", "x"))
        .await
        .unwrap();
    api.create(&PostParams::default(), &cm("b", "y"))
        .await
        .unwrap();
    let got = api.get("a").await.unwrap();
    assert_eq!(got.uid(), created.uid());
    let l = api
        .list(&ListParams::default().labels("app=x"))
        .await
        .unwrap();
    assert_eq!(l.items.len(), 1);
    let mut stale = created.clone();
    let mut fresh = got.clone();
    fresh.data.as_mut().unwrap().insert("k".into(), "v2".into());
    api.replace("a", &PostParams::default(), &fresh)
        .await
        .unwrap();
    stale.data.as_mut().unwrap().insert("k".into(), "v3".into());
    match api.replace("a", &PostParams::default(), &stale).await {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 409);
            assert_eq!(e.reason, "Conflict");
        }
        other => panic!("expected 409, got {other:?}"),
    }
    match api.get("missing").await {
        Err(kube::Error::Api(e)) => assert_eq!((e.code, e.reason.as_str()), (404, "NotFound")),
        other => panic!("expected 404, got {other:?}"),
    }
    api.delete("a", &DeleteParams::default()).await.unwrap();
    assert!(api.get_opt("a").await.unwrap().is_none());
}

#[tokio::test]
async fn deployments_patch_and_scale() {
    let s = TestServer::start().await;
    let c = client(&s).await;
    let api: Api<Deployment> = Api::namespaced(c, "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx:1.22"}]}}}
    }))
    .unwrap();
    api.create(&PostParams::default(), &d).await.unwrap();
    let p = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"tier": "web"}}})),
        )
        .await
        .unwrap();
    assert_eq!(p.labels().get("tier").map(String::as_str), Some("web"));
    let scale = api
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 4}})),
        )
        .await
        .unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(4));
    assert_eq!(
        api.get_scale("web").await.unwrap().spec.unwrap().replicas,
        Some(4)
    );
}

#[tokio::test]
async fn watcher_sees_changes_and_leases_work() {
    let s = TestServer::start().await;
    let c = client(&s).await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "default");
    let stream = watcher(api.clone(), watcher::Config::default().labels("app=w")).default_backoff();
    let mut stream = Box::pin(stream);
    // The initial list completes (InitDone) before anything exists.
    loop {
        match stream.try_next().await.unwrap() {
            Some(watcher::Event::InitDone) => break,
            Some(_) => {}
            None => panic!("watcher ended"),
        }
    }
    api.create(&PostParams::default(), &cm("w1", "w"))
        .await
        .unwrap();
    let ev = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
        .await
        .expect("event in time")
        .unwrap()
        .unwrap();
    match ev {
        watcher::Event::Apply(o) => assert_eq!(o.name_any(), "w1"),
        other => panic!("unexpected {other:?}"),
    }

    // Leader-election style use of a Lease.
    let leases: Api<Lease> = Api::namespaced(c.clone(), "kube-system");
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "kube-controller-manager"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}
    }))
    .unwrap();
    let mut l = leases.create(&PostParams::default(), &lease).await.unwrap();
    l.spec.as_mut().unwrap().holder_identity = Some("b".into());
    let l2 = leases
        .replace("kube-controller-manager", &PostParams::default(), &l)
        .await
        .unwrap();
    assert_eq!(l2.spec.unwrap().holder_identity.as_deref(), Some("b"));
}

#[tokio::test]
async fn recorder_events_are_visible_as_core_events() {
    let s = TestServer::start().await;
    let c = client(&s).await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "default");
    let obj = api
        .create(&PostParams::default(), &cm("e", "e"))
        .await
        .unwrap();
    let recorder = Recorder::new(
        c.clone(),
        Reporter {
            controller: "test-controller".into(),
            instance: None,
        },
    );
    recorder
        .publish(
            &Event {
                type_: EventType::Normal,
                reason: "Tested".into(),
                note: Some("hello from kube-rs".into()),
                action: "Test".into(),
                secondary: None,
            },
            &obj.object_ref(&()),
        )
        .await
        .unwrap();
    let core: Api<CoreEvent> = Api::namespaced(c, "default");
    let evs = core
        .list(&ListParams::default().fields("involvedObject.name=e"))
        .await
        .unwrap();
    assert_eq!(evs.items.len(), 1);
    let e = &evs.items[0];
    assert_eq!(e.reason.as_deref(), Some("Tested"));
    assert_eq!(e.message.as_deref(), Some("hello from kube-rs"));
}
