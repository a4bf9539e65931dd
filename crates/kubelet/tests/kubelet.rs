//! The kubelet in-process against a real etcd, an in-process apiserver and
//! a private containerd (`cri::testing`): node registration, the Lease, and
//! a busybox pod from creation to deletion. Needs root and containerd.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cri::testing::Containerd;
use cri::Runtime;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, PostParams};
use kube::Client;
use serde_json::json;

const PATIENCE: Duration = Duration::from_secs(30);

async fn apiserver(
    dir: &std::path::Path,
) -> (etcd_harness::Etcd, apiserver::server::Running, Client) {
    let etcd = etcd_harness::Etcd::start().expect("etcd");
    let prefix = etcd.unique_prefix();
    let cfg = apiserver::Config::for_test(etcd.endpoint(), &prefix, dir.join("certs"));
    let running = apiserver::server::start(cfg).await.expect("apiserver");
    for _ in 0..600 {
        if running.state.openapi.get().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pem = std::fs::read(&running.ca_file).unwrap();
    let ders: Vec<Vec<u8>> = rustls_pemfile::certs(&mut pem.as_slice())
        .map(|c| c.unwrap().to_vec())
        .collect();
    let url = format!("https://127.0.0.1:{}", running.addr.port());
    let mut kc = kube::Config::new(url.parse().unwrap());
    kc.root_cert = Some(ders);
    kc.default_namespace = "default".into();
    (etcd, running, Client::try_from(kc).unwrap())
}

async fn wait_for<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_lease_and_a_busybox_pod() {
    let ctd = Containerd::start().unwrap_or_else(|e| panic!("containerd: {e}"));
    let dir = std::env::temp_dir().join(format!("kubelet-it-{}", std::process::id()));
    let (_etcd, running, client) = apiserver(&dir).await;
    let runtime = Arc::new(cri::CriRuntime::connect(ctd.socket()).await.expect("CRI"));
    let opts = kubelet::Options {
        hostname_override: Some("node-a".into()),
        node_ip: Some("127.0.0.1".into()),
        root_dir: dir.join("root"),
        cluster_dns: vec!["10.0.0.10".into()],
        cgroup_root: ctd.cgroup_root(),
        cni_conf_dir: None,
        pod_log_dir: ctd.pod_log_root(),
        ..kubelet::Options::default()
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let kubelet = tokio::spawn(kubelet::run_with(
        client.clone(),
        runtime.clone(),
        opts,
        async {
            let _ = stop_rx.await;
        },
    ));

    // The Node: registered, Ready, with capacity and node info; the Lease.
    let nodes: Api<Node> = Api::all(client.clone());
    let node = wait_for("node Ready", || async {
        let n = nodes.get_opt("node-a").await.ok()??;
        let ready = n
            .status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        ready.then_some(n)
    })
    .await;
    let status = node.status.unwrap();
    let cap = status.capacity.unwrap();
    for k in ["cpu", "memory", "ephemeral-storage", "pods"] {
        assert!(cap.contains_key(k), "{k} in {cap:?}");
    }
    let info = status.node_info.unwrap();
    assert_eq!(info.kubelet_version, "v1.33.0");
    assert!(
        info.container_runtime_version.starts_with("containerd://"),
        "{info:?}"
    );
    assert!(status
        .addresses
        .unwrap()
        .iter()
        .any(|a| a.type_ == "InternalIP" && a.address == "127.0.0.1"));
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let lease = wait_for("lease", || async { leases.get_opt("node-a").await.ok()? }).await;
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("node-a"));
    assert_eq!(spec.lease_duration_seconds, Some(40));

    // A pod bound to the node runs.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": "hello"},
        "spec": {"nodeName": "node-a", "terminationGracePeriodSeconds": 1, "containers": [{
            "name": "c", "image": "busybox:1.35", "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c", "echo hi; sleep 3600"]}]}
    }))
    .unwrap();
    let created = pods
        .create(&PostParams::default(), &p)
        .await
        .expect("create pod");
    let uid = created.metadata.uid.clone().unwrap();
    let running_pod = wait_for("pod Running and Ready", || async {
        let p = pods.get("hello").await.ok()?;
        let s = p.status.as_ref()?;
        let ready = s
            .conditions
            .as_ref()?
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        (s.phase.as_deref() == Some("Running") && ready && s.pod_ip.is_some()).then_some(p)
    })
    .await;
    let s = running_pod.status.unwrap();
    let ip = s.pod_ip.unwrap();
    assert!(ip.starts_with(&format!("10.250.{}.", ctd.slot())), "{ip}");
    let cs = &s.container_statuses.unwrap()[0];
    assert!(cs.ready && cs.state.as_ref().unwrap().running.is_some());
    assert!(cs
        .container_id
        .as_deref()
        .unwrap()
        .starts_with("containerd://"));
    assert_eq!(s.host_ip.as_deref(), Some("127.0.0.1"));
    let log = ctd
        .pod_log_root()
        .join(format!("default_hello_{uid}"))
        .join("c/0.log");
    wait_for("log line", || async {
        std::fs::read_to_string(&log)
            .ok()?
            .contains(" stdout F hi")
            .then_some(())
    })
    .await;

    // Deletion: the kubelet stops it, removes the sandbox and the object.
    pods.delete("hello", &DeleteParams::default())
        .await
        .expect("delete");
    wait_for("pod gone", || async {
        matches!(pods.get_opt("hello").await, Ok(None)).then_some(())
    })
    .await;
    let left = runtime.list_pod_sandbox(None).await.unwrap();
    assert!(left.is_empty(), "sandboxes left: {left:?}");

    let _ = stop_tx.send(());
    kubelet.await.unwrap().unwrap();
    let _ = running.stop.send(true);
    let _ = std::fs::remove_dir_all(&dir);
}
