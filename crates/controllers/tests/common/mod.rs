//! An apiserver over a real etcd, a client for it, the controllers
//! in-process, and a fake kubelet that marks pods ready.
#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Client;
use serde_json::json;

pub struct TestEnv {
    pub etcd: etcd_harness::Etcd,
    pub running: apiserver::server::Running,
    pub client: Client,
    dir: std::path::PathBuf,
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let _ = self.running.stop.send(true);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl TestEnv {
    pub async fn start() -> TestEnv {
        let etcd = etcd_harness::Etcd::start().expect("etcd");
        let prefix = etcd.unique_prefix();
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("controllers-test-{}-{n}", std::process::id()));
        let cfg = apiserver::Config::for_test(etcd.endpoint(), &prefix, dir.join("certs"));
        let running = apiserver::server::start(cfg)
            .await
            .expect("start apiserver");
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
        let client = Client::try_from(kc).unwrap();
        TestEnv {
            etcd,
            running,
            client,
            dir,
        }
    }

    /// Runs the controllers (no leader election) until the handle is aborted.
    pub fn start_controllers(&self, controllers: &[&str]) -> tokio::task::JoinHandle<()> {
        self.start_controllers_with(controllers, controllers::Options::default())
    }

    /// As [`TestEnv::start_controllers`] with other options.
    pub fn start_controllers_with(
        &self,
        controllers: &[&str],
        base: controllers::Options,
    ) -> tokio::task::JoinHandle<()> {
        let opts = controllers::Options {
            leader_elect: false,
            controllers: controllers.iter().map(|s| s.to_string()).collect(),
            secure_port: 0,
            ..base
        };
        let client = self.client.clone();
        tokio::spawn(async move {
            let m = Arc::new(controllers::Metrics::default());
            controllers::run_controllers(client, opts, m, std::future::pending())
                .await
                .unwrap();
        })
    }

    pub async fn namespace(&self, name: &str) {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        api.create(&PostParams::default(), &ns).await.unwrap();
    }

    /// A fake kubelet: marks every pod in `ns` Running and Ready.
    pub fn kubelet(&self, ns: &str) -> tokio::task::JoinHandle<()> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        tokio::spawn(async move {
            let mut s = Box::pin(
                watcher(api.clone(), watcher::Config::default())
                    .default_backoff()
                    .applied_objects(),
            );
            while let Some(Ok(p)) = s.next().await {
                let ready = p
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                if ready || p.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                let now = k8s_openapi::jiff::Timestamp::from_second(
                    k8s_openapi::jiff::Timestamp::now().as_second(),
                )
                .unwrap()
                .to_string();
                let name = p.metadata.name.clone().unwrap();
                let _ = api
                    .patch_status(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({"status": {"phase": "Running", "conditions": [
                            {"type": "Ready", "status": "True", "lastTransitionTime": now}
                        ]}})),
                    )
                    .await;
            }
        })
    }
}

/// Polls `f` until it returns `Some`, for at most `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Active (not deleting) pods in `ns`.
pub async fn active_pods(c: &Client, ns: &str) -> Vec<Pod> {
    let api: Api<Pod> = Api::namespaced(c.clone(), ns);
    api.list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect()
}
