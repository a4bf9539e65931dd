//! apiserver-bench: measures raw etcd, then the kube-apiserver over the same
//! etcd, in one run, and writes `docs/bench/apiserver.{md,json}`.
//!
//! etcd, the apiserver and this load generator are three processes so none
//! shares a runtime with another. Everything started here is stopped on the
//! way out, including on error and Ctrl-C.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use bench::client::ApiClient;
use bench::load::Plan;
use bench::probe::Probe;
use bench::procs::{ApiServer, TempDir};
use bench::raw_etcd::{Baseline, RawEtcd};
use bench::report::{ApiResults, Machine, Params, Report};
use bench::{api, cpu, watch};

/// Benchmarks the kube-apiserver against raw etcd on this machine.
#[derive(Parser, Debug, Clone)]
#[command(name = "apiserver-bench")]
struct Flags {
    /// Closed-loop workers per phase.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Size of each object's JSON in bytes.
    #[arg(long, default_value_t = 1024)]
    object_size: usize,
    /// Seconds each phase runs before it is measured.
    #[arg(long, default_value_t = 2.0)]
    warmup_secs: f64,
    /// Seconds each phase is measured.
    #[arg(long, default_value_t = 15.0)]
    duration_secs: f64,
    /// How many written objects the get phases read from.
    #[arg(long, default_value_t = 1000)]
    read_keys: usize,
    /// Objects in the listed collection.
    #[arg(long, default_value_t = 100)]
    list_size: usize,
    /// Objects created while one watch is open.
    #[arg(long, default_value_t = 5000)]
    watch_events: u64,
    /// HTTP/2 connections to the apiserver (client-go uses one per host).
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Worker threads of the load generator (0: one per core).
    #[arg(long, default_value_t = 0)]
    client_threads: usize,
    /// A single request taking longer than this counts as an error.
    #[arg(long, default_value_t = 30.0)]
    op_timeout_secs: f64,
    /// The kube-apiserver binary (default: next to this one).
    #[arg(long)]
    apiserver_bin: Option<PathBuf>,
    /// Where apiserver.md and apiserver.json are written.
    #[arg(long, default_value = "docs/bench")]
    out_dir: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if flags.client_threads > 0 {
        rt.worker_threads(flags.client_threads);
    }
    let rt = rt.enable_all().build()?;
    let outcome = rt.block_on(async {
        tokio::select! {
            r = run(&flags) => Some(r),
            s = interrupted() => {
                eprintln!("bench: interrupted by {s}; stopped what it started");
                None
            }
        }
    });
    // Workers of an interrupted phase may still hold the client; do not wait.
    rt.shutdown_timeout(Duration::from_secs(1));
    let Some(report) = outcome else {
        std::process::exit(130);
    };
    let report = report?;
    report.write(&flags.out_dir, "apiserver")?;
    println!("{}", report.markdown());
    eprintln!(
        "bench: wrote {}/apiserver.md and apiserver.json",
        flags.out_dir.display()
    );
    Ok(())
}

async fn interrupted() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

/// Sets up, measures, tears down. The guards (`etcd`, `server`, `dir`) live
/// in this future, so dropping it on error or interrupt stops what it started.
async fn run(flags: &Flags) -> anyhow::Result<Report> {
    let plan = Plan {
        concurrency: flags.concurrency,
        warmup: Duration::from_secs_f64(flags.warmup_secs),
        duration: Duration::from_secs_f64(flags.duration_secs),
        op_timeout: Duration::from_secs_f64(flags.op_timeout_secs),
    };
    let etcd_bin = std::env::var("ETCD_BIN").unwrap_or_else(|_| "etcd".into());
    let machine = Machine::collect(&etcd_bin);
    let apiserver_bin = match &flags.apiserver_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("kube-apiserver"),
    };
    let dir = TempDir::new("apiserver-bench")?;

    eprintln!("bench: starting etcd");
    let etcd = tokio::task::spawn_blocking(etcd_harness::Etcd::start)
        .await?
        .context("starting etcd")?;
    let endpoint = etcd.endpoint().to_string();
    let prefix = format!("/apiserver-bench-{}", std::process::id());
    let mut probe = Probe::default();
    probe.add_process("bench", "self");
    probe.set_etcd(endpoint.trim_start_matches("http://"));
    match cpu::find_pid_with_arg(&format!("--listen-client-urls={endpoint}")) {
        Some(pid) => probe.add_process("etcd", pid),
        None => eprintln!("bench: etcd is not ours (TEST_ETCD_ENDPOINT?); no etcd CPU numbers"),
    }

    let raw = RawEtcd::connect(&endpoint, &prefix).await?;
    eprintln!("bench: starting {}", apiserver_bin.display());
    let server = ApiServer::start(
        &apiserver_bin,
        &endpoint,
        &format!("{prefix}/registry"),
        dir.path(),
    )
    .await?;
    probe.add_process("kube-apiserver", server.pid);
    let result = phases(flags, plan, &raw, &server, &probe)
        .await
        .map_err(|e| anyhow::anyhow!("{e:#}\nkube-apiserver log tail:\n{}", server.log_tail()));
    server.stop().await;
    let (baseline, apiserver) = result?;
    if let Err(e) = raw.delete_all().await {
        eprintln!("bench: cleaning {prefix} in etcd: {e:#}");
    }
    drop(etcd);

    let params = Params {
        concurrency: flags.concurrency,
        object_size_bytes: flags.object_size,
        warmup_secs: flags.warmup_secs,
        duration_secs: flags.duration_secs,
        read_keys: flags.read_keys,
        list_size: flags.list_size,
        watch_events: flags.watch_events,
        http2_connections: flags.connections,
        client_threads: if flags.client_threads > 0 {
            flags.client_threads
        } else {
            machine.nproc
        },
        etcd_fsync: false,
    };
    Ok(Report::new(machine, params, baseline, apiserver))
}

/// The measured phases. Each apiserver phase runs right after the etcd
/// phase it is compared with, so drifting background load hits both alike.
async fn phases(
    flags: &Flags,
    plan: Plan,
    raw: &RawEtcd,
    server: &ApiServer,
    probe: &Probe,
) -> anyhow::Result<(Baseline, ApiResults)> {
    let client = ApiClient::connect(
        server.port,
        &server.ca_file,
        &server.token,
        flags.connections,
    );
    let client = Arc::new(client.await?);
    server.wait_ready(&client, Duration::from_secs(120)).await?;
    for ns in [api::NS_CRUD, api::NS_LIST, api::NS_WATCH] {
        api::create_namespace(&client, ns).await?;
    }
    let size = flags.object_size;
    let (txn_put, keys) = raw.puts(plan, size, flags.read_keys, probe).await;
    let (create, names) = api::creates(&client, plan, size, flags.read_keys, probe).await;
    let raw_get = raw.gets(plan, keys, probe).await?;
    let get = api::gets(&client, plan, names, probe).await?;
    let list = api::lists(&client, plan, flags.list_size, size, probe).await?;
    let watch_limit = plan.duration.max(Duration::from_secs(60));
    let watch = watch::run(
        &client,
        flags.watch_events,
        flags.concurrency,
        size,
        plan.op_timeout,
        watch_limit,
        probe,
    )
    .await?;
    let baseline = Baseline {
        txn_put,
        get: raw_get,
    };
    Ok((
        baseline,
        ApiResults {
            create,
            get,
            list,
            watch,
        },
    ))
}
