//! What the node-feature integration tests share: etcd + an in-process
//! apiserver and a client for it, bounded waiting, and a kubelet runner.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::Client;

/// The bearer token upstream kubectl uses against the test apiserver.
pub const TOKEN: &str = "kubelet-node-features-token";

/// A real etcd, the in-process apiserver, and a client.
pub struct Cluster {
    pub client: Client,
    pub running: apiserver::server::Running,
    _etcd: etcd_harness::Etcd,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.running.stop.send(true);
    }
}

pub async fn cluster(dir: &std::path::Path) -> Cluster {
    let etcd = etcd_harness::Etcd::start().expect("etcd");
    let prefix = etcd.unique_prefix();
    let mut cfg = apiserver::Config::for_test(etcd.endpoint(), &prefix, dir.join("certs"));
    // Upstream kubectl asks for a password without credentials: a token.
    std::fs::create_dir_all(dir).unwrap();
    let tokens = dir.join("tokens.csv");
    std::fs::write(
        &tokens,
        format!("{TOKEN},admin,admin-uid,\"system:masters\"\n"),
    )
    .unwrap();
    cfg.token_auth_file = Some(tokens);
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
    Cluster {
        client: Client::try_from(kc).unwrap(),
        running,
        _etcd: etcd,
    }
}

/// Polls `f` until it yields a value; panics after `patience`.
pub async fn wait_within<T, F, Fut>(what: &str, patience: Duration, mut f: F) -> T
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
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A kubelet running in-process until [`Kubelet::stop`].
pub struct Kubelet {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), kubelet::Error>>>,
}

impl Kubelet {
    pub fn start(client: Client, runtime: Arc<dyn cri::Runtime>, opts: kubelet::Options) -> Self {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(kubelet::run_with(client, runtime, opts, async {
            let _ = rx.await;
        }));
        Kubelet {
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}
