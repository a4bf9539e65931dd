//! `kube-proxy`: upstream's flags, then `proxy::run` (or `proxy::cleanup`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// The Kubernetes network proxy (nftables mode).
#[derive(Parser, Debug)]
#[command(name = "kube-proxy", version)]
struct Flags {
    /// Path to a kubeconfig file for the apiserver connection.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Which proxy mode to use; only `nftables` is implemented.
    #[arg(long, default_value = "nftables")]
    proxy_mode: String,
    /// The CIDR range(s) of pods (comma-separated); traffic from elsewhere
    /// to a cluster IP is masqueraded.
    #[arg(long, value_delimiter = ',')]
    cluster_cidr: Vec<String>,
    /// The node's name instead of the host name (for Local traffic policies).
    #[arg(long)]
    hostname_override: Option<String>,
    /// CIDRs (or `primary`) of node addresses NodePorts answer on; empty
    /// means every local address, 127.0.0.1 included.
    #[arg(long, value_delimiter = ',')]
    nodeport_addresses: Vec<String>,
    /// Address for the healthz server (`/healthz`, `/livez`); port 0 disables.
    #[arg(long, default_value = "0.0.0.0:10256")]
    healthz_bind_address: SocketAddr,
    /// Address for the metrics server (`/metrics`); port 0 disables.
    #[arg(long, default_value = "127.0.0.1:10249")]
    metrics_bind_address: SocketAddr,
    /// How often rules are fully resynced (e.g. `30s`, `1m`).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    sync_period: Duration,
    /// Least time between two syncs (e.g. `1s`, `500ms`).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    min_sync_period: Duration,
    /// The nftables table (family ip) the proxy owns.
    #[arg(long, default_value = "kube-proxy")]
    nft_table: String,
    /// Remove the proxy's rules and exit.
    #[arg(long)]
    cleanup: bool,
}

/// Go-style durations (`15s`, `500ms`, `1m30s`), as upstream's flags.
fn parse_duration(s: &str) -> Result<Duration, String> {
    apimachinery::duration::parse_go_duration(s).map_err(|e| e.to_string())
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
    if flags.cleanup {
        proxy::cleanup(&flags.nft_table).await?;
        return Ok(());
    }
    let cluster_cidr = flags
        .cluster_cidr
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.parse())
        .collect::<Result<Vec<proxy::Cidr>, _>>()
        .map_err(|e| anyhow::anyhow!("--cluster-cidr: {e}"))?;
    let opts = proxy::Options {
        kubeconfig: flags.kubeconfig,
        proxy_mode: flags.proxy_mode,
        cluster_cidr,
        hostname_override: flags.hostname_override,
        nodeport_addresses: proxy::NodePortAddresses::parse(&flags.nodeport_addresses)?,
        healthz_bind_address: Some(flags.healthz_bind_address),
        metrics_bind_address: Some(flags.metrics_bind_address),
        sync_period: flags.sync_period,
        min_sync_period: flags.min_sync_period,
        nft_table: flags.nft_table,
        skip_sysctls: false,
    };
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    proxy::run(opts, shutdown).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5x").is_err());
    }
}
