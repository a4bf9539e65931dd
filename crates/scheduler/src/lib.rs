//! The Kubernetes scheduler, as a library.
//!
//! Start at [`run`] (what the `kube-scheduler` binary calls) or, in tests,
//! [`Scheduler::new`] + [`Scheduler::run`] with a ready `kube::Client`.
//!
//! * [`scheduler`]: informers (kube-rs watchers + reflector stores) for
//!   Nodes, Pods, Namespaces, PodDisruptionBudgets, PVCs, PVs,
//!   StorageClasses and CSINodes feed the [`cache::Cache`] (with assumed
//!   pods and volumes) and the [`queue::SchedulingQueue`]; the loop pops a
//!   pod, runs the [`framework::Framework`] of its profile, reserves and
//!   assumes it on the chosen node, and in a task runs PreBind and binds it
//!   through `pods/binding`.
//! * [`volumes`]: the volume objects and the assume cache behind them.
//! * [`plugins`]: NodeName, NodeUnschedulable, NodePorts, NodeResourcesFit,
//!   NodeAffinity, TaintToleration, VolumeRestrictions, NodeVolumeLimits,
//!   VolumeBinding, PodTopologySpread, InterPodAffinity (filters); NodeResourcesFit, NodeResourcesBalancedAllocation,
//!   TaintToleration, NodeAffinity, ImageLocality, InterPodAffinity,
//!   PodTopologySpread (scores).
//! * [`preemption`]: DefaultPreemption (victims, candidate choice, PDBs).
//! * [`config`]: `KubeSchedulerConfiguration` (`kubescheduler.config.k8s.io/v1`).
//! * [`metrics`] and [`server`]: `/metrics` and `/healthz`.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

pub mod cache;
pub mod config;
pub mod events;
pub mod framework;
pub mod metrics;
pub mod nodeinfo;
pub mod plugins;
pub mod preemption;
pub mod queue;
pub mod resources;
pub mod scheduler;
pub mod server;
pub mod volumes;

pub use config::{Config, Profile};
pub use metrics::Metrics;
pub use scheduler::Scheduler;

/// Errors starting or running the scheduler.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `--config` file is invalid.
    #[error("invalid scheduler configuration: {0}")]
    Config(String),
    /// The `--config` file could not be read.
    #[error("reading {path}")]
    ReadConfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// No usable client configuration (kubeconfig or in-cluster).
    #[error("building the apiserver client from {context}")]
    Client {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The health/metrics port could not be bound.
    #[error("listening on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The `kube-system/kube-scheduler` Lease was lost (the process exits,
    /// as upstream's does, so a fresh start rejoins the election).
    #[error(transparent)]
    LeaderElection(#[from] client_support::LeaderElectionError),
}

/// What the binary hands to [`run`].
#[derive(Clone, Debug)]
pub struct Options {
    /// The parsed `--config` (or the defaults).
    pub config: Config,
    /// `--kubeconfig`; falls back to `clientConnection.kubeconfig`, then to
    /// the usual inference (`KUBECONFIG`, in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// `--bind-address` for the health/metrics port.
    pub bind_address: IpAddr,
    /// `--secure-port` (0: pick a free port).
    pub secure_port: u16,
}

impl Options {
    /// Reads a `--config` file.
    pub fn load_config(path: &std::path::Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadConfig {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_yaml(&text)
    }
}

async fn client(opts: &Options) -> Result<kube::Client, Error> {
    let path = opts
        .kubeconfig
        .clone()
        .or_else(|| opts.config.kubeconfig.clone().map(PathBuf::from));
    // Bindings after a backlog would otherwise exceed the apiserver's
    // in-flight budget and come back as 429s (kube-rs does not retry them).
    client_support::client::build(
        path.as_deref(),
        client_support::client::DEFAULT_MAX_INFLIGHT,
    )
    .await
    .map_err(|e| Error::Client {
        context: e.context,
        source: e.source,
    })
}

/// Runs the scheduler and its health/metrics server until `shutdown`.
pub async fn run(opts: Options, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    let client = client(&opts).await?;
    let addr = SocketAddr::new(opts.bind_address, opts.secure_port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Listen { addr, source })?;
    tracing::info!(addr = %listener.local_addr().unwrap_or(addr), "serving /healthz and /metrics over plain HTTP");
    let metrics = Arc::new(Metrics::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut srx = stop_rx.clone();
    let server = tokio::spawn(server::serve(listener, metrics.clone(), async move {
        let _ = srx.wait_for(|v| *v).await;
    }));
    let leader_elect = opts.config.leader_elect;
    let scheduler = Scheduler::new(client.clone(), opts.config, metrics);
    let result = if leader_elect {
        // Schedule only while holding the Lease, as upstream.
        let elector = client_support::LeaderElector::new(
            client,
            client_support::LeaderElectionConfig::new("kube-system", "kube-scheduler"),
        );
        let work = async move {
            if let Err(e) = scheduler.run(std::future::pending()).await {
                tracing::error!(error = %e, "scheduler stopped");
            }
        };
        elector.run(work, shutdown).await.map_err(Error::from)
    } else {
        scheduler.run(shutdown).await
    };
    let _ = stop_tx.send(true);
    let _ = server.await;
    result
}
