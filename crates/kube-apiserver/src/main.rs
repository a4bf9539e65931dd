//! kube-apiserver: parses upstream's flags and runs [`apiserver::run`].

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// The Kubernetes API server validates and configures data for the API
/// objects and serves the REST API every other component talks to.
#[derive(Parser, Debug)]
#[command(name = "kube-apiserver", version = "v1.33.0")]
struct Flags {
    /// List of etcd servers to connect with (scheme://ip:port), comma separated.
    #[arg(long, value_delimiter = ',', required = true)]
    etcd_servers: Vec<String>,
    /// The prefix to prepend to all resource paths in etcd.
    #[arg(long, default_value = "/registry")]
    etcd_prefix: String,
    /// The IP address on which to listen for the --secure-port port.
    #[arg(long, default_value = "0.0.0.0")]
    bind_address: IpAddr,
    /// The port on which to serve HTTPS with authentication and authorization.
    #[arg(long, default_value_t = 6443)]
    secure_port: u16,
    /// The IP address on which to advertise the apiserver to members of the cluster.
    #[arg(long)]
    advertise_address: Option<IpAddr>,
    /// File containing the default x509 certificate for HTTPS.
    #[arg(long)]
    tls_cert_file: Option<PathBuf>,
    /// File containing the default x509 private key matching --tls-cert-file.
    #[arg(long)]
    tls_private_key_file: Option<PathBuf>,
    /// The directory where the TLS certs are located; ignored if --tls-cert-file
    /// and --tls-private-key-file are provided.
    #[arg(long, default_value = "/var/run/kubernetes")]
    cert_dir: PathBuf,
    /// If set, the file that will be used to secure the secure port of the API
    /// server via token authentication.
    #[arg(long)]
    token_auth_file: Option<PathBuf>,
    /// Ordered list of plug-ins to do authorization on secure port.
    #[arg(long, value_delimiter = ',', default_value = "AlwaysAllow")]
    authorization_mode: Vec<String>,
    /// A CIDR notation IP range from which to assign service cluster IPs.
    #[arg(long, default_value = "10.0.0.0/24")]
    service_cluster_ip_range: String,
    /// A port range to reserve for services with NodePort visibility.
    #[arg(long, default_value = "30000-32767")]
    service_node_port_range: String,
    /// The maximum number of non-mutating requests in flight at a given time.
    #[arg(long, default_value_t = 400)]
    max_requests_inflight: usize,
    /// The maximum number of mutating requests in flight at a given time.
    #[arg(long, default_value_t = 200)]
    max_mutating_requests_inflight: usize,
    /// Minimum number of seconds a handler must keep a request open (watch timeouts are randomized between this and twice this).
    #[arg(long, default_value_t = 1800)]
    min_request_timeout: u64,
    /// Amount of time to retain events.
    #[arg(long, default_value = "1h0m0s")]
    event_ttl: String,
    /// Log verbosity (accepted for compatibility; use RUST_LOG for filters).
    #[arg(short = 'v', long = "v", default_value_t = 0)]
    verbosity: u8,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    let default_level = match flags.verbosity {
        0..=1 => "info",
        2..=4 => "debug",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let config = apiserver::Config {
        etcd_servers: flags.etcd_servers,
        etcd_prefix: flags.etcd_prefix,
        bind_address: flags.bind_address,
        secure_port: flags.secure_port,
        advertise_address: flags.advertise_address,
        tls_cert_file: flags.tls_cert_file,
        tls_private_key_file: flags.tls_private_key_file,
        cert_dir: flags.cert_dir,
        token_auth_file: flags.token_auth_file,
        authorization_mode: flags.authorization_mode,
        service_cluster_ip_range: flags
            .service_cluster_ip_range
            .parse()
            .map_err(anyhow::Error::msg)
            .context("--service-cluster-ip-range")?,
        service_node_port_range: flags
            .service_node_port_range
            .parse()
            .map_err(anyhow::Error::msg)
            .context("--service-node-port-range")?,
        max_requests_inflight: flags.max_requests_inflight,
        max_mutating_requests_inflight: flags.max_mutating_requests_inflight,
        min_request_timeout: flags.min_request_timeout,
        event_ttl: apiserver::config::parse_go_duration(&flags.event_ttl)
            .map_err(anyhow::Error::msg)
            .context("--event-ttl")?,
    };
    apiserver::run(config, shutdown_signal()).await?;
    Ok(())
}

/// SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
