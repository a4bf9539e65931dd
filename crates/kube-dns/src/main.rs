//! `kube-dns`: the cluster DNS server's flags, then `dns::run`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

/// The cluster DNS server: answers for the cluster zone from Services and
/// EndpointSlices and forwards other names to the host's resolvers.
#[derive(Parser, Debug)]
#[command(name = "kube-dns", version)]
struct Flags {
    /// Path to a kubeconfig file for the apiserver connection (default: the
    /// in-cluster or ~/.kube/config configuration).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// The cluster's DNS domain.
    #[arg(long, default_value = "cluster.local")]
    cluster_domain: String,
    /// TTL of cluster records, in seconds.
    #[arg(long, default_value_t = 5)]
    ttl: u32,
    /// UDP and TCP listen address for DNS.
    #[arg(long, default_value = "0.0.0.0:53")]
    dns_bind_address: String,
    /// Listen address of /health (empty: off).
    #[arg(long, default_value = ":8080")]
    health_bind_address: String,
    /// Listen address of /ready (empty: off).
    #[arg(long, default_value = ":8181")]
    ready_bind_address: String,
    /// Listen address of /metrics (empty: off).
    #[arg(long, default_value = ":9153")]
    metrics_bind_address: String,
    /// The resolv.conf whose nameservers get names outside the zone.
    #[arg(long, default_value = "/etc/resolv.conf")]
    resolv_conf: PathBuf,
    /// Upstream servers (`ip:port`, repeatable) instead of --resolv-conf.
    #[arg(long = "upstream", value_delimiter = ',')]
    upstreams: Vec<String>,
    /// Seconds to wait for each upstream.
    #[arg(long, default_value_t = 2)]
    forward_timeout: u64,
    /// Keep this Service (`namespace/name`, no selector) and an
    /// EndpointSlice pointing at this server.
    #[arg(long)]
    register_service: Option<String>,
    /// The DNS Service's ClusterIP (the tenth address of the service range).
    #[arg(long)]
    service_ip: Option<IpAddr>,
    /// The address the EndpointSlice advertises (this node's IP).
    #[arg(long)]
    advertise_address: Option<IpAddr>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // hickory-server logs every request at info.
                .unwrap_or_else(|_| "info,hickory_server=warn,hickory_proto=warn".into()),
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

/// `:8080` means every address; empty means off.
fn bind_address(flag: &str, value: &str) -> anyhow::Result<Option<SocketAddr>> {
    if value.is_empty() {
        return Ok(None);
    }
    let full = if value.starts_with(':') {
        format!("0.0.0.0{value}")
    } else {
        value.to_string()
    };
    full.parse()
        .map(Some)
        .with_context(|| format!("--{flag}: {value:?} is not host:port"))
}

async fn client(kubeconfig: Option<&PathBuf>) -> anyhow::Result<kube::Client> {
    let config = match kubeconfig {
        Some(p) => {
            let kc = kube::config::Kubeconfig::read_from(p)
                .with_context(|| format!("read kubeconfig {}", p.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .context("load kubeconfig")?
        }
        None => kube::Config::infer().await.context("infer kube config")?,
    };
    kube::Client::try_from(config).context("build client")
}

async fn run(flags: Flags) -> anyhow::Result<()> {
    let dns_bind_address = bind_address("dns-bind-address", &flags.dns_bind_address)?
        .context("--dns-bind-address must not be empty")?;
    let upstreams = if flags.upstreams.is_empty() {
        dns::Upstreams::ResolvConf(flags.resolv_conf)
    } else {
        dns::Upstreams::Explicit(
            flags
                .upstreams
                .iter()
                .map(|u| u.parse().with_context(|| format!("--upstream {u:?}")))
                .collect::<anyhow::Result<_>>()?,
        )
    };
    let registration = match &flags.register_service {
        None => None,
        Some(target) => {
            let (namespace, name) = dns::Registration::parse_target(target)?;
            Some(dns::Registration {
                namespace,
                name,
                service_ip: flags
                    .service_ip
                    .context("--register-service needs --service-ip")?,
                advertise_address: flags
                    .advertise_address
                    .context("--register-service needs --advertise-address")?,
                dns_port: dns_bind_address.port(),
                metrics_port: None,
            })
        }
    };
    let config = dns::Config {
        cluster_domain: flags.cluster_domain,
        ttl: flags.ttl,
        dns_bind_address,
        health_bind_address: bind_address("health-bind-address", &flags.health_bind_address)?,
        ready_bind_address: bind_address("ready-bind-address", &flags.ready_bind_address)?,
        metrics_bind_address: bind_address("metrics-bind-address", &flags.metrics_bind_address)?,
        upstreams,
        forward_timeout: Duration::from_secs(flags.forward_timeout.max(1)),
        service_ip: flags.service_ip,
        registration,
    };
    let client = client(flags.kubeconfig.as_ref()).await?;
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    dns::run(client, config, shutdown).await?;
    Ok(())
}
