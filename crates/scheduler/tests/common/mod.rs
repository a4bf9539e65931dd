//! A real etcd, an in-process apiserver and the scheduler running in-process.
#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};

pub struct Cluster {
    pub client: Client,
    pub metrics: Arc<scheduler::Metrics>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _running: apiserver::server::Running,
    _etcd: etcd_harness::Etcd,
    dir: std::path::PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Cluster {
    pub async fn start() -> Cluster {
        Self::start_with(scheduler::Config::default()).await
    }

    pub async fn start_with(cfg: scheduler::Config) -> Cluster {
        let etcd = etcd_harness::Etcd::start().expect("etcd");
        let prefix = etcd.unique_prefix();
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("scheduler-test-{}-{n}", std::process::id()));
        let running = apiserver::server::start(apiserver::Config::for_test(
            etcd.endpoint(),
            &prefix,
            dir.join("certs"),
        ))
        .await
        .expect("start apiserver");
        let url = format!("https://127.0.0.1:{}", running.addr.port());
        let mut kc = kube::Config::new(url.parse().unwrap());
        kc.accept_invalid_certs = true;
        kc.default_namespace = "default".into();
        let client = Client::try_from(kc).unwrap();
        // The default namespace may take a moment to exist.
        let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
        for _ in 0..100 {
            if ns.get_opt("default").await.ok().flatten().is_some() {
                break;
            }
            let _ = ns
                .create(
                    &PostParams::default(),
                    &serde_json::from_value(json!({"metadata": {"name": "default"}})).unwrap(),
                )
                .await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let metrics = Arc::new(scheduler::Metrics::default());
        let sched = scheduler::Scheduler::new(client.clone(), cfg, metrics.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(sched.run(async move {
            let _ = rx.await;
        }));
        Cluster {
            client,
            metrics,
            stop: Some(tx),
            _running: running,
            _etcd: etcd,
            dir,
        }
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// Creates a Node with capacity/allocatable and a Ready condition
    /// (written through the status subresource, as a kubelet would).
    pub async fn node(&self, name: &str, cpu: &str, memory: &str, extra: Value) -> Node {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let mut v = json!({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}});
        merge(&mut v, extra);
        let n: Node = serde_json::from_value(v).unwrap();
        nodes.create(&PostParams::default(), &n).await.unwrap();
        let res = json!({"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "10Gi"});
        let status = json!({"status": {
            "capacity": res, "allocatable": res,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status"}]
        }});
        nodes
            .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
            .await
            .unwrap()
    }

    pub async fn pod(&self, name: &str, spec: Value) -> Pod {
        let mut v = json!({"metadata": {"name": name},
                           "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        merge(&mut v["spec"], spec);
        self.pods()
            .create(&PostParams::default(), &serde_json::from_value(v).unwrap())
            .await
            .unwrap()
    }

    /// Creates a pod with labels.
    pub async fn labelled_pod(&self, name: &str, labels: Value, spec: Value) -> Pod {
        let mut v = json!({"metadata": {"name": name, "labels": labels},
                           "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        merge(&mut v["spec"], spec);
        self.pods()
            .create(&PostParams::default(), &serde_json::from_value(v).unwrap())
            .await
            .unwrap()
    }

    /// Waits (bounded) until the pod is bound; returns the node.
    pub async fn bound_node(&self, name: &str) -> String {
        let pods = self.pods();
        eventually(&format!("pod {name} bound"), || {
            let pods = pods.clone();
            async move {
                pods.get(name)
                    .await
                    .ok()
                    .and_then(|p| p.spec.and_then(|s| s.node_name))
            }
        })
        .await
    }
}

pub fn cpu(c: &str) -> Value {
    json!({"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": c}}}]})
}

pub fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

/// Polls `f` until it yields `Some`, for at most `PATIENCE` (env
/// `SCHEDULER_TEST_PATIENCE_SECS`, default 30 s).
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let secs = std::env::var("SCHEDULER_TEST_PATIENCE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {secs}s waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
