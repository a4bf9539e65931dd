//! `node-reset`: removes what a node's containerd and its pods left behind
//! (sandboxes through CRI, then shims, pod processes, network namespaces,
//! the CNI bridge, NAT rules, IP allocations, cgroups and mounts), the way
//! `kubeadm reset` cleans a node. `make down` runs it; the bootstrap
//! script's `reset` will too.
//!
//! With `--phase=pods` it only removes the sandboxes through the running
//! containerd (so CNI DEL runs); `--phase=rest` does everything else once
//! containerd is stopped; `all` (the default) does both in order.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Phase {
    Pods,
    Rest,
    All,
}

/// Resets a node's container state.
#[derive(Parser, Debug)]
#[command(name = "node-reset", version)]
struct Flags {
    /// containerd's CRI socket (`unix://` prefix optional).
    #[arg(long)]
    container_runtime_endpoint: String,
    /// containerd's state directory.
    #[arg(long)]
    containerd_state_dir: PathBuf,
    /// The pods' cgroup root name (cgroupfs driver).
    #[arg(long, default_value = "kubepods")]
    cgroup_root: String,
    /// The CNI bridge.
    #[arg(long, default_value = "cni0")]
    bridge: String,
    /// The CNI network name.
    #[arg(long, default_value = "k8s-pod-network")]
    cni_network: String,
    /// host-local's IP allocation directory for the network.
    #[arg(long)]
    ipam_dir: Option<PathBuf>,
    /// The kubelet's pod log directory (the removed pods' logs go).
    #[arg(long)]
    pod_log_dir: Option<PathBuf>,
    /// Directories to unmount everything under and remove.
    #[arg(long = "remove-dir")]
    remove_dirs: Vec<PathBuf>,
    /// Which part to run.
    #[arg(long, value_enum, default_value = "all")]
    phase: Phase,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let flags = Flags::parse();
    let socket = match cri::parse_endpoint(&flags.container_runtime_endpoint) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: --container-runtime-endpoint: {e}");
            return ExitCode::from(2);
        }
    };
    let cleanup = cri::cleanup::NodeCleanup {
        socket,
        state_dir: flags.containerd_state_dir,
        remove_dirs: flags.remove_dirs,
        cgroup_root: flags.cgroup_root.trim_matches('/').to_string(),
        bridge: flags.bridge,
        cni_network: flags.cni_network,
        ipam_dir: flags.ipam_dir,
        pod_log_dir: flags.pod_log_dir,
    };
    if matches!(flags.phase, Phase::Pods | Phase::All) {
        cleanup.remove_sandboxes();
    }
    if matches!(flags.phase, Phase::Rest | Phase::All) {
        cleanup.run();
    }
    ExitCode::SUCCESS
}
