//! Hollow nodes: many kubelets in one process over the in-process
//! [`FakeRuntime`], for scale tests (upstream's kubemark).
//!
//! Each hollow kubelet is a full [`run_with`]: its own Node, Lease, pod
//! watch, pod workers, status and events, all through one shared kube
//! [`Client`]. What would touch the machine is off: no kubelet API server,
//! no CNI configuration, no cgroups (the fake runtime has none).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use kube::Client;
use tokio::sync::watch;

use crate::fake::FakeRuntime;
use crate::{run_with, Error, Options};

/// How to run a group of hollow nodes.
#[derive(Debug, Clone)]
pub struct HollowOptions {
    /// How many nodes.
    pub count: usize,
    /// Node names are `<prefix>-<i>`.
    pub name_prefix: String,
    /// Each node keeps its state under `<root_dir>/<node>`.
    pub root_dir: PathBuf,
    /// The InternalIP every hollow node reports.
    pub node_ip: String,
    /// `--max-pods` of each node.
    pub max_pods: u32,
}

impl Default for HollowOptions {
    fn default() -> Self {
        HollowOptions {
            count: 1,
            name_prefix: "hollow-node".into(),
            root_dir: std::env::temp_dir().join("hollow-nodes"),
            node_ip: "127.0.0.1".into(),
            max_pods: 110,
        }
    }
}

/// The options of hollow node `i`.
pub fn node_options(h: &HollowOptions, i: usize) -> Options {
    let name = format!("{}-{i}", h.name_prefix);
    let root = h.root_dir.join(&name);
    Options {
        hostname_override: Some(name),
        node_ip: Some(h.node_ip.clone()),
        pod_log_dir: root.join("logs"),
        root_dir: root,
        max_pods: h.max_pods,
        cni_conf_dir: None,
        runtime: "fake".into(),
        serve_api: false,
        ..Options::default()
    }
}

/// Runs `h.count` hollow kubelets sharing `client` until `shutdown`
/// resolves; the first one to fail stops the rest.
pub async fn run_hollow(
    client: Client,
    h: HollowOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..h.count {
        let mut stop = stop_rx.clone();
        let opts = node_options(&h, i);
        let client = client.clone();
        tasks.spawn(async move {
            let runtime = Arc::new(FakeRuntime::new(&[]));
            run_with(client, runtime, opts, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
        });
    }
    tracing::info!(count = h.count, prefix = %h.name_prefix, "hollow nodes started");
    let result = tokio::select! {
        _ = shutdown => Ok(()),
        Some(r) = tasks.join_next() => match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(Error::Config(format!("a hollow node panicked: {e}"))),
        },
    };
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    result
}
