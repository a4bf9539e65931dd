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
        // Never the real kubelet's 10250 (a `make cluster` may run).
        address: std::net::Ipv4Addr::LOCALHOST.into(),
        port: 0,
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

/// `wait_for` with its own patience.
async fn wait_within<T, F, Fut>(what: &str, patience: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + patience;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Unmounts what a failed test left mounted under its directory (tmpfs
/// emptyDirs), so no mount outlives the test.
struct UnmountOnDrop(std::path::PathBuf);

impl Drop for UnmountOnDrop {
    fn drop(&mut self) {
        for m in kubelet::volumes::mounts_below(&self.0) {
            let _ = std::process::Command::new("umount").arg(&m).status();
        }
    }
}

/// The runtime id of a container from the pod's status.
fn container_id(p: &Pod, name: &str) -> Option<String> {
    p.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == name)?
        .container_id
        .as_deref()?
        .strip_prefix("containerd://")
        .map(String::from)
}

async fn exec_out(runtime: &cri::CriRuntime, id: &str, cmd: &[&str]) -> String {
    let cmd: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
    let r = runtime
        .exec_sync(id, &cmd, Duration::from_secs(10))
        .await
        .expect("ExecSync");
    String::from_utf8_lossy(&r.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_env_and_probes_in_containerd() {
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
    let ctd = Containerd::start().unwrap_or_else(|e| panic!("containerd: {e}"));
    let dir = std::env::temp_dir().join(format!("kubelet-vol-it-{}", std::process::id()));
    let _unmount = UnmountOnDrop(dir.clone());
    let (_etcd, running, client) = apiserver(&dir).await;
    let runtime = Arc::new(cri::CriRuntime::connect(ctd.socket()).await.expect("CRI"));
    let root = dir.join("root");
    let opts = kubelet::Options {
        hostname_override: Some("node-v".into()),
        node_ip: Some("127.0.0.1".into()),
        root_dir: root.clone(),
        cgroup_root: ctd.cgroup_root(),
        cni_conf_dir: None,
        pod_log_dir: ctd.pod_log_root(),
        // Never the real kubelet's 10250 (a `make cluster` may run).
        address: std::net::Ipv4Addr::LOCALHOST.into(),
        port: 0,
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

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "app-config"},
            "data": {"greeting": "hello"}}))
        .unwrap(),
    )
    .await
    .expect("create configmap");
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "app-secret"},
                "stringData": {"password": "s3cret"}}))
            .unwrap(),
        )
        .await
        .expect("create secret");

    // A ConfigMap volume, a Secret env var, an emptyDir shared with an
    // init container.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let host_dir = dir.join("host-path");
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": "vol"},
        "spec": {"nodeName": "node-v", "terminationGracePeriodSeconds": 1,
            "initContainers": [{"name": "init", "image": "busybox:1.35",
                "imagePullPolicy": "IfNotPresent",
                "command": ["sh", "-c", "echo init-was-here > /shared/from-init"],
                "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]}],
            "containers": [{"name": "app", "image": "busybox:1.35",
                "imagePullPolicy": "IfNotPresent",
                "command": ["sleep", "3600"],
                "env": [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "app-secret", "key": "password"}}}],
                "volumeMounts": [{"name": "config", "mountPath": "/etc/config"},
                                 {"name": "shared", "mountPath": "/shared"},
                                 {"name": "mem", "mountPath": "/mem"},
                                 {"name": "host", "mountPath": "/host"}]}],
            "volumes": [{"name": "config", "configMap": {"name": "app-config"}},
                        {"name": "shared", "emptyDir": {}},
                        {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
                        {"name": "host", "hostPath": {"path": host_dir.display().to_string(), "type": "DirectoryOrCreate"}}]}
    }))
    .unwrap();
    let created = pods
        .create(&PostParams::default(), &p)
        .await
        .expect("create pod");
    let uid = created.metadata.uid.clone().unwrap();
    let running_pod = wait_within("pod vol Running", Duration::from_secs(60), || async {
        let p = pods.get("vol").await.ok()?;
        (p.status.as_ref()?.phase.as_deref() == Some("Running")).then_some(p)
    })
    .await;
    let id = container_id(&running_pod, "app").expect("container id");
    assert_eq!(
        exec_out(&runtime, &id, &["cat", "/etc/config/greeting"]).await,
        "hello"
    );
    assert_eq!(
        exec_out(&runtime, &id, &["sh", "-c", "echo $PASSWORD"]).await,
        "s3cret"
    );
    assert_eq!(
        exec_out(&runtime, &id, &["cat", "/shared/from-init"]).await,
        "init-was-here"
    );
    let mem = exec_out(&runtime, &id, &["grep", " /mem ", "/proc/mounts"]).await;
    assert!(
        mem.starts_with("tmpfs") && mem.contains("size=16384k"),
        "{mem}"
    );
    exec_out(&runtime, &id, &["sh", "-c", "echo from-pod > /host/f"]).await;
    assert_eq!(
        std::fs::read_to_string(host_dir.join("f")).unwrap().trim(),
        "from-pod"
    );
    let links = exec_out(&runtime, &id, &["ls", "-a", "/etc/config"]).await;
    assert!(links.contains("..data"), "{links}");

    // Edit the ConfigMap: the running container sees the new content.
    cms.patch(
        "app-config",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"data": {"greeting": "bonjour"}})),
    )
    .await
    .expect("patch configmap");
    let rt = runtime.clone();
    wait_within(
        "the edited ConfigMap in the pod",
        Duration::from_secs(90),
        || {
            let rt = rt.clone();
            let id = id.clone();
            async move {
                (exec_out(&rt, &id, &["cat", "/etc/config/greeting"]).await == "bonjour")
                    .then_some(())
            }
        },
    )
    .await;

    // A failing liveness exec probe restarts the container.
    let live: Pod = serde_json::from_value(json!({
        "metadata": {"name": "live"},
        "spec": {"nodeName": "node-v", "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "c", "image": "busybox:1.35",
                "imagePullPolicy": "IfNotPresent",
                "command": ["sleep", "3600"],
                "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]},
                                  "periodSeconds": 1, "failureThreshold": 2}}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &live)
        .await
        .expect("create pod live");
    wait_within("a liveness restart", Duration::from_secs(90), || async {
        let p = pods.get("live").await.ok()?;
        let cs = p.status?.container_statuses?;
        (cs.first()?.restart_count >= 1).then_some(())
    })
    .await;

    // Deletion removes the pods' volume directories.
    for name in ["vol", "live"] {
        pods.delete(name, &DeleteParams::default())
            .await
            .expect("delete");
    }
    wait_within("pods gone", Duration::from_secs(120), || async {
        let left = pods.list(&Default::default()).await.ok()?;
        left.items.is_empty().then_some(())
    })
    .await;
    wait_for("volume directory removed", || async {
        (!root.join("pods").join(&uid).exists()).then_some(())
    })
    .await;

    let _ = stop_tx.send(());
    kubelet.await.unwrap().unwrap();
    let _ = running.stop.send(true);
    let _ = std::fs::remove_dir_all(&dir);
}
