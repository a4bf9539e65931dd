//! `kubelet`: upstream's flags, then `kubelet::run`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// The Kubernetes node agent.
///
/// Flags given on the command line override the `--config` file, which
/// overrides the defaults (as upstream).
#[derive(Parser, Debug)]
#[command(name = "kubelet", version)]
struct Flags {
    /// A KubeletConfiguration file (kubelet.config.k8s.io/v1beta1).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Path to a kubeconfig file for the apiserver connection.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// The Node's name instead of the host name.
    #[arg(long)]
    hostname_override: Option<String>,
    /// The node's IP address (InternalIP, hostIP).
    #[arg(long)]
    node_ip: Option<String>,
    /// The CRI runtime's socket [default: unix:///run/containerd/containerd.sock].
    #[arg(long)]
    container_runtime_endpoint: Option<String>,
    /// `remote` (CRI) or `fake` (in-process fake runtime: a hollow node) [default: remote].
    #[arg(long)]
    runtime: Option<String>,
    /// The kubelet's state directory [default: /var/lib/kubelet].
    #[arg(long)]
    root_dir: Option<PathBuf>,
    /// A directory of static pod manifests (YAML or JSON).
    #[arg(long)]
    pod_manifest_path: Option<PathBuf>,
    /// How often the static pod manifests are read again [default: 20s].
    #[arg(long)]
    file_check_frequency: Option<String>,
    /// Cluster DNS server addresses (comma-separated).
    #[arg(long, value_delimiter = ',')]
    cluster_dns: Option<Vec<String>>,
    /// The cluster's DNS domain [default: cluster.local].
    #[arg(long)]
    cluster_domain: Option<String>,
    /// Most pods this node runs [default: 110].
    #[arg(long)]
    max_pods: Option<u32>,
    /// Labels to register the Node with (`k=v,k2=v2`).
    #[arg(long)]
    node_labels: Option<String>,
    /// Taints to register the Node with (`key=value:Effect,...`).
    #[arg(long)]
    register_with_taints: Option<String>,
    /// The cgroup driver (only cgroupfs works here) [default: cgroupfs].
    #[arg(long)]
    cgroup_driver: Option<String>,
    /// The root cgroup for pods (they go under `<root>/kubepods`).
    #[arg(long)]
    cgroup_root: Option<String>,
    /// The node's pod CIDR (written into the CNI bridge configuration).
    #[arg(long)]
    pod_cidr: Option<String>,
    /// Where the CNI configuration goes [default: /etc/cni/net.d].
    #[arg(long)]
    cni_conf_dir: Option<PathBuf>,
    /// The resolv.conf for pods with dnsPolicy Default [default: /etc/resolv.conf].
    #[arg(long)]
    resolv_conf: Option<PathBuf>,
    /// The IP address the kubelet API listens on [default: 0.0.0.0].
    #[arg(long)]
    address: Option<std::net::IpAddr>,
    /// The kubelet API's HTTPS port [default: 10250].
    #[arg(long)]
    port: Option<u16>,
    /// The kubelet API's serving certificate (self-signed in
    /// `<root-dir>/pki` when neither file is given).
    #[arg(long)]
    tls_cert_file: Option<PathBuf>,
    /// The key of `--tls-cert-file`.
    #[arg(long)]
    tls_private_key_file: Option<PathBuf>,
}

/// Defaults, then the `--config` file, then the flags that were given.
fn options(flags: Flags) -> anyhow::Result<kubelet::Options> {
    let mut o = kubelet::Options::default();
    if let Some(path) = &flags.config {
        kubelet::config::KubeletConfiguration::load(path)?.apply(&mut o);
    }
    macro_rules! set {
        ($($flag:ident => $field:ident),* $(,)?) => {
            $(if let Some(v) = flags.$flag { o.$field = v; })*
        };
    }
    set!(
        container_runtime_endpoint => container_runtime_endpoint,
        runtime => runtime,
        root_dir => root_dir,
        cluster_dns => cluster_dns,
        cluster_domain => cluster_domain,
        max_pods => max_pods,
        cgroup_driver => cgroup_driver,
        cgroup_root => cgroup_root,
        resolv_conf => resolv_conf,
        address => address,
        port => port,
    );
    o.kubeconfig = flags.kubeconfig.or(o.kubeconfig);
    o.hostname_override = flags.hostname_override.or(o.hostname_override);
    o.node_ip = flags.node_ip.or(o.node_ip);
    o.pod_cidr = flags.pod_cidr.or(o.pod_cidr);
    o.static_pod_path = flags.pod_manifest_path.or(o.static_pod_path);
    o.tls_cert_file = flags.tls_cert_file.or(o.tls_cert_file);
    o.tls_private_key_file = flags.tls_private_key_file.or(o.tls_private_key_file);
    if let Some(d) = flags.cni_conf_dir {
        o.cni_conf_dir = Some(d);
    }
    if let Some(f) = &flags.file_check_frequency {
        o.file_check_frequency = kubelet::config::parse_go_duration(f)
            .ok_or_else(|| anyhow::anyhow!("--file-check-frequency: invalid duration {f:?}"))?;
    }
    if let Some(l) = &flags.node_labels {
        o.node_labels =
            kubelet::node::parse_labels(l).map_err(|e| anyhow::anyhow!("--node-labels: {e}"))?;
    }
    if let Some(t) = &flags.register_with_taints {
        o.register_with_taints = kubelet::node::parse_taints(t)
            .map_err(|e| anyhow::anyhow!("--register-with-taints: {e}"))?;
    }
    if o.runtime == "fake" {
        // A hollow node touches nothing on the machine.
        o.cni_conf_dir = None;
    }
    Ok(o)
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
    let opts = options(flags)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_config_file() {
        let dir = std::env::temp_dir().join(format!("kubelet-cmd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("config.yaml");
        std::fs::write(
            &cfg,
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nmaxPods: 20\nport: 10350\nclusterDomain: from.file\nstaticPodPath: /etc/kubernetes/manifests\n",
        )
        .unwrap();
        let flags = Flags::parse_from([
            "kubelet",
            "--config",
            cfg.to_str().unwrap(),
            "--max-pods",
            "30",
            "--pod-manifest-path",
            "/srv/manifests",
            "--runtime=fake",
        ]);
        let o = options(flags).unwrap();
        assert_eq!(o.max_pods, 30);
        assert_eq!(o.port, 10350);
        assert_eq!(o.cluster_domain, "from.file");
        assert_eq!(o.static_pod_path, Some(PathBuf::from("/srv/manifests")));
        assert_eq!(o.runtime, "fake");
        assert!(o.cni_conf_dir.is_none());
        let plain = options(Flags::parse_from(["kubelet"])).unwrap();
        assert_eq!(plain.max_pods, 110);
        assert_eq!(plain.port, 10250);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
