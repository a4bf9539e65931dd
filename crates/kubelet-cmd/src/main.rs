//! `kubelet`: upstream's flags, then `kubelet::run`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// The Kubernetes node agent.
#[derive(Parser, Debug)]
#[command(name = "kubelet", version)]
struct Flags {
    /// Path to a kubeconfig file for the apiserver connection.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// The Node's name instead of the host name.
    #[arg(long)]
    hostname_override: Option<String>,
    /// The node's IP address (InternalIP, hostIP).
    #[arg(long)]
    node_ip: Option<String>,
    /// The CRI runtime's socket.
    #[arg(long, default_value = "unix:///run/containerd/containerd.sock")]
    container_runtime_endpoint: String,
    /// The kubelet's state directory.
    #[arg(long, default_value = "/var/lib/kubelet")]
    root_dir: PathBuf,
    /// Cluster DNS server addresses (comma-separated).
    #[arg(long, value_delimiter = ',')]
    cluster_dns: Vec<String>,
    /// The cluster's DNS domain.
    #[arg(long, default_value = "cluster.local")]
    cluster_domain: String,
    /// Most pods this node runs.
    #[arg(long, default_value_t = 110)]
    max_pods: u32,
    /// Labels to register the Node with (`k=v,k2=v2`).
    #[arg(long, default_value = "")]
    node_labels: String,
    /// Taints to register the Node with (`key=value:Effect,...`).
    #[arg(long, default_value = "")]
    register_with_taints: String,
    /// The cgroup driver (only cgroupfs works here).
    #[arg(long, default_value = "cgroupfs")]
    cgroup_driver: String,
    /// The root cgroup for pods (they go under `<root>/kubepods`).
    #[arg(long, default_value = "")]
    cgroup_root: String,
    /// The node's pod CIDR (written into the CNI bridge configuration).
    #[arg(long)]
    pod_cidr: Option<String>,
    /// Where the CNI configuration goes.
    #[arg(long, default_value = "/etc/cni/net.d")]
    cni_conf_dir: PathBuf,
    /// The resolv.conf for pods with dnsPolicy Default.
    #[arg(long, default_value = "/etc/resolv.conf")]
    resolv_conf: PathBuf,
    /// The IP address the kubelet API listens on.
    #[arg(long, default_value = "0.0.0.0")]
    address: std::net::IpAddr,
    /// The kubelet API's HTTPS port.
    #[arg(long, default_value_t = 10250)]
    port: u16,
    /// The kubelet API's serving certificate (self-signed in
    /// `<root-dir>/pki` when neither file is given).
    #[arg(long)]
    tls_cert_file: Option<PathBuf>,
    /// The key of `--tls-cert-file`.
    #[arg(long)]
    tls_private_key_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    match run(Flags::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(flags: Flags) -> anyhow::Result<()> {
    let opts = kubelet::Options {
        kubeconfig: flags.kubeconfig,
        hostname_override: flags.hostname_override,
        node_ip: flags.node_ip,
        container_runtime_endpoint: flags.container_runtime_endpoint,
        root_dir: flags.root_dir,
        cluster_dns: flags.cluster_dns,
        cluster_domain: flags.cluster_domain,
        max_pods: flags.max_pods,
        node_labels: kubelet::node::parse_labels(&flags.node_labels)
            .map_err(|e| anyhow::anyhow!("--node-labels: {e}"))?,
        register_with_taints: kubelet::node::parse_taints(&flags.register_with_taints)
            .map_err(|e| anyhow::anyhow!("--register-with-taints: {e}"))?,
        cgroup_driver: flags.cgroup_driver,
        cgroup_root: flags.cgroup_root,
        pod_cidr: flags.pod_cidr,
        cni_conf_dir: Some(flags.cni_conf_dir),
        resolv_conf: flags.resolv_conf,
        address: flags.address,
        port: flags.port,
        tls_cert_file: flags.tls_cert_file,
        tls_private_key_file: flags.tls_private_key_file,
        ..kubelet::Options::default()
    };
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
    };
    kubelet::run(opts, shutdown).await?;
    Ok(())
}
