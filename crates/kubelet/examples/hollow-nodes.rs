//! Runs N hollow kubelets (fake runtime) in one process against a cluster:
//!
//! ```sh
//! cargo run -p kubelet --example hollow-nodes -- --count 50 \
//!     --kubeconfig ~/.kube/config --name-prefix hollow
//! ```
//!
//! Each registers its own Node and Lease and runs the pods bound to it
//! in memory. Ctrl-C stops them.

use std::path::PathBuf;

fn usage() -> ! {
    eprintln!(
        "usage: hollow-nodes [--count N] [--kubeconfig PATH] [--name-prefix PREFIX] [--root-dir DIR] [--max-pods N]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut h = kubelet::hollow::HollowOptions::default();
    let mut kubeconfig: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| usage())
        };
        match flag.as_str() {
            "--count" => h.count = value().parse().unwrap_or_else(|_| usage()),
            "--kubeconfig" => kubeconfig = Some(value().into()),
            "--name-prefix" => h.name_prefix = value(),
            "--root-dir" => h.root_dir = value().into(),
            "--max-pods" => h.max_pods = value().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let config = match kubeconfig {
        Some(p) => {
            let kc = kube::config::Kubeconfig::read_from(&p).unwrap_or_else(|e| {
                eprintln!("reading {}: {e}", p.display());
                std::process::exit(1)
            });
            kube::Config::from_custom_kubeconfig(kc, &Default::default()).await
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| kube::config::KubeconfigError::LoadContext(e.to_string())),
    }
    .unwrap_or_else(|e| {
        eprintln!("client configuration: {e}");
        std::process::exit(1)
    });
    let client = kube::Client::try_from(config).unwrap_or_else(|e| {
        eprintln!("client: {e}");
        std::process::exit(1)
    });
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(e) = kubelet::hollow::run_hollow(client, h, shutdown).await {
        eprintln!("hollow nodes: {e}");
        std::process::exit(1);
    }
}
