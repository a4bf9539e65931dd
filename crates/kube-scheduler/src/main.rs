//! `kube-scheduler`: upstream's flags, then `scheduler::run`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// The Kubernetes scheduler.
#[derive(Parser, Debug)]
#[command(name = "kube-scheduler", version)]
struct Flags {
    /// Path to a kubeconfig file for the apiserver connection.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Path to a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Start a leader election client before scheduling (accepted; leader
    /// election is not implemented yet).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    leader_elect: bool,
    /// Port for /healthz and /metrics (plain HTTP for now; 0 picks a free port).
    #[arg(long, default_value_t = 10259)]
    secure_port: u16,
    /// Address for the health/metrics port.
    #[arg(long, default_value = "127.0.0.1")]
    bind_address: IpAddr,
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
    let mut config = match &flags.config {
        Some(p) => scheduler::Options::load_config(p)?,
        None => scheduler::Config::default(),
    };
    // The flag wins over leaderElection.leaderElect only when given a config-less run.
    if flags.config.is_none() {
        config.leader_elect = flags.leader_elect;
    }
    let opts = scheduler::Options {
        config,
        kubeconfig: flags.kubeconfig,
        bind_address: flags.bind_address,
        secure_port: flags.secure_port,
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
    scheduler::run(opts, shutdown).await?;
    Ok(())
}
