//! The controllers of kube-controller-manager.
//!
//! Start at [`run`]: it builds a client, serves `/healthz` and `/metrics`,
//! waits for the `kube-system/kube-controller-manager` Lease when leader
//! election is on, then runs every enabled controller until `shutdown`
//! resolves. [`run_controllers`] is the same without the client, health
//! server and election, for tests that bring their own client.
//!
//! One module per controller ([`namespace`], [`serviceaccount`],
//! [`replicaset`], [`replicationcontroller`], [`deployment`],
//! [`statefulset`], [`daemonset`], [`job`], [`cronjob`],
//! [`ttlafterfinished`], [`endpoints`], [`endpointslice`],
//! [`garbagecollector`], [`nodeipam`], [`nodelifecycle`],
//! [`tainteviction`], [`disruption`], [`pvbinder`]). Each watches what
//! it needs through the shared informers of [`context::Context`], queues
//! object keys in a [`client_support::WorkQueue`] and syncs one key at a
//! time from the current state (level-triggered), so a restart at any
//! moment converges to the same objects.

pub mod context;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod endpoints;
pub mod endpointslice;
pub mod events;
pub mod garbagecollector;
pub mod health;
pub mod job;
pub mod localpath;
pub mod metrics;
pub mod namespace;
pub mod nodeipam;
pub mod nodelifecycle;
pub mod pvbinder;
pub mod replicaset;
pub mod replicationcontroller;
pub mod serviceaccount;
pub mod statefulset;
pub mod tainteviction;
pub mod ttlafterfinished;
pub mod util;
pub mod worker;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use client_support::{LeaderElectionConfig, LeaderElector};
use kube::Client;

pub use context::Context;
pub use metrics::Metrics;

/// Errors from the controller manager and its controllers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request to the apiserver failed.
    #[error("{context}: {source}")]
    Kube {
        /// What was being done, naming the object.
        context: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// The kubeconfig could not be loaded.
    #[error("kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The `--kubeconfig` path (or "in-cluster/default").
        path: String,
        /// The loader's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file given by a flag could not be read.
    #[error("{flag} {path}: {source}")]
    File {
        /// The flag.
        flag: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The health/metrics listener could not be bound.
    #[error("serving health on {addr}: {source}")]
    Serve {
        /// The address.
        addr: std::net::SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A flag's value is invalid.
    #[error("invalid {flag} {value:?}: {reason}")]
    InvalidFlag {
        /// The flag.
        flag: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Leader election failed or was lost.
    #[error(transparent)]
    LeaderElection(#[from] client_support::LeaderElectionError),
    /// A sync could not finish yet and must be retried (not a failure of
    /// the apiserver: content remains, a cache is behind, ...).
    #[error("{0}")]
    Retry(String),
}

impl Error {
    /// Wraps a client error with what was being done.
    pub fn kube(context: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let context = context.into();
        move |source| Error::Kube { context, source }
    }

    /// Whether this is a 409 Conflict (retried quietly).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Kube { source, .. } if util::is_code(source, 409))
    }
}

/// The manager's settings (upstream's flags).
#[derive(Clone, Debug)]
pub struct Options {
    /// `--kubeconfig`; the default client configuration when absent.
    pub kubeconfig: Option<PathBuf>,
    /// `--leader-elect`.
    pub leader_elect: bool,
    /// `--leader-elect-lease-duration` (15 s).
    pub lease_duration: Duration,
    /// `--leader-elect-renew-deadline` (10 s).
    pub renew_deadline: Duration,
    /// `--leader-elect-retry-period` (2 s).
    pub retry_period: Duration,
    /// `--controllers`: `*`, `name`, `-name`.
    pub controllers: Vec<String>,
    /// `--cluster-cidr`: the pod range node IPAM allocates from (one CIDR,
    /// or an IPv4 and an IPv6 one separated by a comma).
    pub cluster_cidr: Option<String>,
    /// `--allocate-node-cidrs`: node IPAM runs only when set.
    pub allocate_node_cidrs: bool,
    /// `--node-cidr-mask-size` (24), for IPv4 ranges.
    pub node_cidr_mask_size: u8,
    /// `--node-cidr-mask-size-ipv6` (64), for IPv6 ranges.
    pub node_cidr_mask_size_ipv6: u8,
    /// `--node-monitor-grace-period` (50 s): how long a node may go without
    /// a heartbeat (Lease or status) before it is marked Unknown.
    pub node_monitor_grace_period: Duration,
    /// `--node-startup-grace-period` (60 s): the same for a node that never
    /// posted a Ready condition.
    pub node_startup_grace_period: Duration,
    /// `--node-monitor-period` (5 s): how often each node's health is checked.
    pub node_monitor_period: Duration,
    /// `--concurrent-rc-syncs` (5).
    pub concurrent_rc_syncs: usize,
    /// `--concurrent-ttl-after-finished-syncs` (5).
    pub concurrent_ttl_after_finished_syncs: usize,
    /// `--concurrent-deployment-syncs` (5).
    pub concurrent_deployment_syncs: usize,
    /// `--concurrent-replicaset-syncs` (5).
    pub concurrent_replicaset_syncs: usize,
    /// `--concurrent-namespace-syncs` (10).
    pub concurrent_namespace_syncs: usize,
    /// `--concurrent-serviceaccount-syncs`... upstream has none; 5 workers.
    pub concurrent_serviceaccount_syncs: usize,
    /// `--concurrent-gc-syncs` (20).
    pub concurrent_gc_syncs: usize,
    /// `--concurrent-endpoint-syncs` (5; endpoints).
    pub concurrent_endpoint_syncs: usize,
    /// `--concurrent-service-endpoint-syncs` (5; endpointslice).
    pub concurrent_service_endpoint_syncs: usize,
    /// `--max-endpoints-per-slice` (100).
    pub max_endpoints_per_slice: usize,
    /// `--concurrent-job-syncs` (5).
    pub concurrent_job_syncs: usize,
    /// `--concurrent-cron-job-syncs` (5).
    pub concurrent_cron_job_syncs: usize,
    /// `--concurrent-statefulset-syncs` (5).
    pub concurrent_statefulset_syncs: usize,
    /// `--concurrent-daemonset-syncs` (2).
    pub concurrent_daemonset_syncs: usize,
    /// `--root-ca-file`: published as `kube-root-ca.crt` in every namespace.
    pub root_ca_file: Option<PathBuf>,
    /// `--local-path-root`: where the local-path provisioner puts volume
    /// directories (on the node the volume is pinned to).
    pub local_path_root: PathBuf,
    /// `--bind-address` for `/healthz` and `/metrics`.
    pub bind_address: IpAddr,
    /// `--secure-port` (10257; 0 disables serving).
    pub secure_port: u16,
    /// Most requests the client built by [`client_from`] has in flight at
    /// once; more wait their turn. The apiserver answers mutating requests
    /// beyond its `--max-mutating-requests-inflight` (200 by default) with
    /// 429 and `Retry-After: 1`, and one ReplicaSet sync's last slow-start
    /// batch alone is 245 creates, so without a cap a 1000-pod scale-up
    /// stalls a second on the bounced creates. Upstream's client-go paces
    /// with `--kube-api-qps`/`--kube-api-burst` (20/30) instead, which is
    /// far slower. Watches hold a slot only until their response starts.
    pub max_client_inflight: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            kubeconfig: None,
            leader_elect: true,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            controllers: vec!["*".into()],
            cluster_cidr: None,
            allocate_node_cidrs: false,
            node_cidr_mask_size: 24,
            node_cidr_mask_size_ipv6: 64,
            node_monitor_grace_period: Duration::from_secs(50),
            node_startup_grace_period: Duration::from_secs(60),
            node_monitor_period: Duration::from_secs(5),
            concurrent_rc_syncs: 5,
            concurrent_ttl_after_finished_syncs: 5,
            concurrent_deployment_syncs: 5,
            concurrent_replicaset_syncs: 5,
            concurrent_namespace_syncs: 10,
            concurrent_serviceaccount_syncs: 5,
            concurrent_gc_syncs: 20,
            concurrent_endpoint_syncs: 5,
            concurrent_service_endpoint_syncs: 5,
            max_endpoints_per_slice: endpointslice::DEFAULT_MAX_ENDPOINTS_PER_SLICE,
            concurrent_job_syncs: 5,
            concurrent_cron_job_syncs: 5,
            concurrent_statefulset_syncs: 5,
            concurrent_daemonset_syncs: 2,
            root_ca_file: None,
            local_path_root: PathBuf::from("/var/lib/local-path-provisioner"),
            bind_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            secure_port: 10257,
            max_client_inflight: DEFAULT_MAX_CLIENT_INFLIGHT,
        }
    }
}

/// Default [`Options::max_client_inflight`]: half the apiserver's default
/// mutating budget, leaving the rest to kubelets, the scheduler and users.
pub const DEFAULT_MAX_CLIENT_INFLIGHT: usize = client_support::client::DEFAULT_MAX_INFLIGHT;

/// The controllers this crate has: upstream name and its short alias.
pub const CONTROLLERS: &[(&str, &str)] = &[
    ("namespace-controller", "namespace"),
    ("serviceaccount-controller", "serviceaccount"),
    (
        "root-ca-certificate-publisher-controller",
        "root-ca-cert-publisher",
    ),
    ("replicaset-controller", "replicaset"),
    ("replicationcontroller-controller", "replicationcontroller"),
    ("deployment-controller", "deployment"),
    ("garbage-collector-controller", "garbagecollector"),
    ("endpoints-controller", "endpoint"),
    ("endpointslice-controller", "endpointslice"),
    ("job-controller", "job"),
    ("cronjob-controller", "cronjob"),
    ("statefulset-controller", "statefulset"),
    ("daemonset-controller", "daemonset"),
    ("ttl-after-finished-controller", "ttl-after-finished"),
    ("node-ipam-controller", "nodeipam"),
    ("node-lifecycle-controller", "nodelifecycle"),
    ("taint-eviction-controller", "taint-eviction-controller"),
    ("disruption-controller", "disruption"),
    (
        "persistentvolume-binder-controller",
        "persistentvolume-binder",
    ),
    // Not upstream's (an external provisioner there): k3s/kind's local-path.
    (
        "local-path-provisioner-controller",
        "local-path-provisioner",
    ),
];

/// Upstream `IsControllerEnabled`: an explicit `name` or `-name` (either
/// spelling) wins; otherwise on only if `*` is given.
pub fn controller_enabled(flags: &[String], name: &str) -> bool {
    let alias = CONTROLLERS
        .iter()
        .find(|(n, a)| *n == name || *a == name)
        .map(|(n, a)| (*n, *a))
        .unwrap_or((name, name));
    let mut star = false;
    for f in flags {
        let f = f.trim();
        if f == alias.0 || f == alias.1 {
            return true;
        }
        if let Some(neg) = f.strip_prefix('-') {
            if neg == alias.0 || neg == alias.1 {
                return false;
            }
        }
        if f == "*" {
            star = true;
        }
    }
    star
}

/// Builds the client from `--kubeconfig` (or the default configuration).
pub async fn client_from(opts: &Options) -> Result<Client, Error> {
    client_support::client::build(opts.kubeconfig.as_deref(), opts.max_client_inflight)
        .await
        .map_err(|e| Error::Kubeconfig {
            path: e.context,
            source: e.source,
        })
}

/// Runs kube-controller-manager until `shutdown` resolves: health and
/// metrics, leader election (when enabled), the controllers.
pub async fn run(opts: Options, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    let client = client_from(&opts).await?;
    let metrics = Arc::new(Metrics::default());
    let _health = if opts.secure_port != 0 {
        Some(
            health::serve(
                (opts.bind_address, opts.secure_port).into(),
                metrics.clone(),
            )
            .await?,
        )
    } else {
        None
    };
    run_with_client(client, opts, metrics, shutdown).await
}

/// As [`run`] with a given client and no health server (tests use this).
pub async fn run_with_client(
    client: Client,
    opts: Options,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    if !opts.leader_elect {
        metrics.set_leader(true);
        return run_controllers(client, opts, metrics, shutdown).await;
    }
    let mut cfg = LeaderElectionConfig::new("kube-system", "kube-controller-manager");
    cfg.lease_duration = opts.lease_duration;
    cfg.renew_deadline = opts.renew_deadline;
    cfg.retry_period = opts.retry_period;
    let elector = LeaderElector::new(client.clone(), cfg);
    let mut leading = elector.leading();
    let m = metrics.clone();
    let watch_leader = async move {
        while leading.changed().await.is_ok() {
            m.set_leader(*leading.borrow());
        }
    };
    let work = async {
        // Runs until dropped (shutdown or lost lease).
        let _ = run_controllers(
            client.clone(),
            opts.clone(),
            metrics.clone(),
            std::future::pending(),
        )
        .await;
    };
    tokio::select! {
        r = elector.run(work, shutdown) => r.map_err(Error::from),
        _ = watch_leader => Ok(()),
    }
}

/// Starts every enabled controller and runs them until `shutdown`.
pub async fn run_controllers(
    client: Client,
    opts: Options,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let ctx = Context::new(client, opts.clone(), metrics);
    let on = |n: &str| controller_enabled(&opts.controllers, n);
    let mut runs: Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>> = Vec::new();
    let mut queues = Vec::new();
    if on("namespace-controller") {
        let c = namespace::NamespaceController::new(ctx.clone());
        queues.push(c.queue());
        runs.push(Box::pin(c.run()));
    }
    if on("serviceaccount-controller") {
        let c = serviceaccount::ServiceAccountController::new(ctx.clone());
        queues.push(c.queue());
        runs.push(Box::pin(c.run()));
    }
    if on("root-ca-certificate-publisher-controller") {
        if let Some(path) = &opts.root_ca_file {
            let ca = std::fs::read_to_string(path).map_err(|source| Error::File {
                flag: "--root-ca-file",
                path: path.clone(),
                source,
            })?;
            let c = serviceaccount::RootCaPublisher::new(ctx.clone(), ca);
            queues.push(c.queue());
            runs.push(Box::pin(c.run()));
        }
    }
    if on("replicaset-controller") {
        let c = replicaset::ReplicaSetController::new(ctx.clone());
        queues.push(c.queue());
        runs.push(Box::pin(c.run()));
    }
    if on("replicationcontroller-controller") {
        let c = replicationcontroller::ReplicationControllerController::new(ctx.clone());
        queues.push(c.queue());
        runs.push(Box::pin(c.run()));
    }
    if on("ttl-after-finished-controller") {
        let c = ttlafterfinished::TtlAfterFinishedController::new(ctx.clone());
        queues.push(c.queue());
        runs.push(Box::pin(c.run()));
    }
    if on("node-ipam-controller") && opts.allocate_node_cidrs {
        if let Some(cidrs) = &opts.cluster_cidr {
            let c = nodeipam::NodeIpamController::new(ctx.clone(), cidrs)?;
            queues.push(c.queue());
            runs.push(Box::pin(c.run()));
        } else {
            tracing::warn!("--allocate-node-cidrs is set without --cluster-cidr; node IPAM is off");
        }
    }
    if on("node-lifecycle-controller") {
        let c = nodelifecycle::NodeLifecycleController::new(ctx.clone());
        queues.push(c.queue());
        runs.push(Box::pin(c.run()));
    }
    if on("taint-eviction-controller") {
        let c = tainteviction::TaintEvictionController::new(ctx.clone());
        queues.push(c.queue());
        runs.push(Box::pin(c.run()));
    }
    if on("disruption-controller") {
        let c = disruption::DisruptionController::new(ctx.clone());
        queues.push(c.queue());
        runs.push(Box::pin(c.run()));
    }
    if on("local-path-provisioner-controller") {
        let c = localpath::LocalPathProvisioner::new(ctx.clone());
        queues.push(c.queue());
        runs.push(Box::pin(c.run()));
    }
    if on("persistentvolume-binder-controller") {
        let c = pvbinder::PvBinderController::new(ctx.clone());
        queues.push(c.queue());
        runs.push(Box::pin(c.run()));
    }
    if on("deployment-controller") {
        let c = deployment::DeploymentController::new(ctx.clone());
        queues.push(c.queue());
        runs.push(Box::pin(c.run()));
    }
    if on("endpoints-controller") {
        let c = endpoints::EndpointsController::new(ctx.clone());
        queues.push(c.queue());
        runs.push(Box::pin(c.run()));
    }
    if on("endpointslice-controller") {
        let c = endpointslice::EndpointSliceController::new(ctx.clone());
        queues.push(c.queue());
        runs.push(Box::pin(c.run()));
    }
    if on("job-controller") {
        let c = job::JobController::new(ctx.clone());
        queues.push(c.queue());
        runs.push(Box::pin(c.run()));
    }
    if on("cronjob-controller") {
        let c = cronjob::CronJobController::new(ctx.clone());
        queues.push(c.queue());
        runs.push(Box::pin(c.run()));
    }
    if on("statefulset-controller") {
        let c = statefulset::StatefulSetController::new(ctx.clone());
        queues.push(c.queue());
        runs.push(Box::pin(c.run()));
    }
    if on("daemonset-controller") {
        let c = daemonset::DaemonSetController::new(ctx.clone());
        queues.push(c.queue());
        runs.push(Box::pin(c.run()));
    }
    let mut gc = None;
    if on("garbage-collector-controller") {
        gc = Some(garbagecollector::GarbageCollector::new(ctx.clone()));
    }
    ctx.start().await;
    tracing::info!("informers synced; starting controllers");
    let all = futures::future::join_all(runs);
    let gc_run = async {
        match gc {
            Some(gc) => gc.run().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = shutdown => {}
        _ = all => {}
        _ = gc_run => {}
    }
    for q in queues {
        q.shut_down();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::controller_enabled;

    #[test]
    fn controllers_flag_as_upstream() {
        let f = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(controller_enabled(&f(&["*"]), "deployment-controller"));
        assert!(!controller_enabled(
            &f(&["*", "-deployment"]),
            "deployment-controller"
        ));
        assert!(!controller_enabled(
            &f(&["-deployment-controller", "*"]),
            "deployment"
        ));
        assert!(controller_enabled(
            &f(&["replicaset"]),
            "replicaset-controller"
        ));
        assert!(!controller_enabled(
            &f(&["replicaset"]),
            "namespace-controller"
        ));
    }
}
