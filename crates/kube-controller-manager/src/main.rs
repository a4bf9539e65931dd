//! kube-controller-manager: upstream's flags, then `controllers::run`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Runs the Kubernetes controllers.
#[derive(Parser, Debug)]
#[command(name = "kube-controller-manager", version)]
struct Flags {
    /// Path to a kubeconfig file with the apiserver's address and credentials.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Run only while holding the kube-system/kube-controller-manager Lease.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    leader_elect: bool,
    /// Lease duration for leader election.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    leader_elect_lease_duration: Duration,
    /// Renew deadline for leader election.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    leader_elect_renew_deadline: Duration,
    /// Retry period for leader election.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    leader_elect_retry_period: Duration,
    /// Controllers to enable: '*' (all on by default), 'foo', '-foo'.
    #[arg(long, value_delimiter = ',', default_value = "*")]
    controllers: Vec<String>,
    /// CIDR range for pods, from which node IPAM gives each node its podCIDR
    /// (an IPv4 and an IPv6 range separated by a comma for dual-stack).
    #[arg(long)]
    cluster_cidr: Option<String>,
    /// Allocate and set pod CIDRs for nodes from --cluster-cidr.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    allocate_node_cidrs: bool,
    /// Mask size of node CIDRs (IPv4).
    #[arg(long, default_value_t = 24)]
    node_cidr_mask_size: u8,
    /// Mask size of node CIDRs (IPv6).
    #[arg(long, default_value_t = 64)]
    node_cidr_mask_size_ipv6: u8,
    /// Time a node may be unresponsive before it is marked unhealthy.
    #[arg(long, default_value = "50s", value_parser = parse_duration)]
    node_monitor_grace_period: Duration,
    /// Time a starting node may be unresponsive before it is marked unhealthy.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    node_startup_grace_period: Duration,
    /// Period for checking each node's health.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    node_monitor_period: Duration,
    /// ReplicationControllers synced concurrently.
    #[arg(long, default_value_t = 5)]
    concurrent_rc_syncs: usize,
    /// Workers of the TTL-after-finished controller.
    #[arg(long, default_value_t = 5)]
    concurrent_ttl_after_finished_syncs: usize,
    /// Deployments synced concurrently.
    #[arg(long, default_value_t = 5)]
    concurrent_deployment_syncs: usize,
    /// ReplicaSets synced concurrently.
    #[arg(long, default_value_t = 5)]
    concurrent_replicaset_syncs: usize,
    /// Namespaces synced concurrently.
    #[arg(long, default_value_t = 10)]
    concurrent_namespace_syncs: usize,
    /// Garbage collector workers.
    #[arg(long, default_value_t = 20)]
    concurrent_gc_syncs: usize,
    /// Endpoints synced concurrently.
    #[arg(long, default_value_t = 5)]
    concurrent_endpoint_syncs: usize,
    /// Services synced concurrently by the endpointslice controller.
    #[arg(long, default_value_t = 5)]
    concurrent_service_endpoint_syncs: usize,
    /// Most endpoints in one EndpointSlice.
    #[arg(long, default_value_t = 100)]
    max_endpoints_per_slice: usize,
    /// Jobs synced concurrently.
    #[arg(long, default_value_t = 5)]
    concurrent_job_syncs: usize,
    /// CronJobs synced concurrently.
    #[arg(long, default_value_t = 5)]
    concurrent_cron_job_syncs: usize,
    /// StatefulSets synced concurrently.
    #[arg(long, default_value_t = 5)]
    concurrent_statefulset_syncs: usize,
    /// DaemonSets synced concurrently.
    #[arg(long, default_value_t = 2)]
    concurrent_daemonset_syncs: usize,
    /// CA bundle published as the kube-root-ca.crt ConfigMap in every namespace.
    #[arg(long)]
    root_ca_file: Option<PathBuf>,
    /// Where the local-path provisioner creates volume directories.
    #[arg(long, default_value = "/var/lib/local-path-provisioner")]
    local_path_root: PathBuf,
    /// Address for /healthz and /metrics.
    #[arg(long, default_value = "127.0.0.1")]
    bind_address: IpAddr,
    /// Port for /healthz and /metrics (plain HTTP for now; 0 disables).
    #[arg(long, default_value_t = 10257)]
    secure_port: u16,
}

/// Go-style durations (`15s`, `500ms`, `1m30s`), as upstream's flags.
fn parse_duration(s: &str) -> Result<Duration, String> {
    apimachinery::duration::parse_go_duration(s).map_err(|e| e.to_string())
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let f = Flags::parse();
    let opts = controllers::Options {
        kubeconfig: f.kubeconfig,
        leader_elect: f.leader_elect,
        lease_duration: f.leader_elect_lease_duration,
        renew_deadline: f.leader_elect_renew_deadline,
        retry_period: f.leader_elect_retry_period,
        controllers: f.controllers,
        cluster_cidr: f.cluster_cidr,
        allocate_node_cidrs: f.allocate_node_cidrs,
        node_cidr_mask_size: f.node_cidr_mask_size,
        node_cidr_mask_size_ipv6: f.node_cidr_mask_size_ipv6,
        node_monitor_grace_period: f.node_monitor_grace_period,
        node_startup_grace_period: f.node_startup_grace_period,
        node_monitor_period: f.node_monitor_period,
        concurrent_rc_syncs: f.concurrent_rc_syncs,
        concurrent_ttl_after_finished_syncs: f.concurrent_ttl_after_finished_syncs,
        concurrent_deployment_syncs: f.concurrent_deployment_syncs,
        concurrent_replicaset_syncs: f.concurrent_replicaset_syncs,
        concurrent_namespace_syncs: f.concurrent_namespace_syncs,
        concurrent_gc_syncs: f.concurrent_gc_syncs,
        concurrent_endpoint_syncs: f.concurrent_endpoint_syncs,
        concurrent_service_endpoint_syncs: f.concurrent_service_endpoint_syncs,
        max_endpoints_per_slice: f.max_endpoints_per_slice,
        concurrent_job_syncs: f.concurrent_job_syncs,
        concurrent_cron_job_syncs: f.concurrent_cron_job_syncs,
        concurrent_statefulset_syncs: f.concurrent_statefulset_syncs,
        concurrent_daemonset_syncs: f.concurrent_daemonset_syncs,
        root_ca_file: f.root_ca_file,
        local_path_root: f.local_path_root,
        bind_address: f.bind_address,
        secure_port: f.secure_port,
        ..controllers::Options::default()
    };
    controllers::run(opts, shutdown_signal()).await?;
    Ok(())
}
