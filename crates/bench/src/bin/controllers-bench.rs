//! controllers-bench: how fast the Deployment and ReplicaSet controllers
//! fan a Deployment out into pods, against what the apiserver itself
//! sustains for pod creates.
//!
//! A fresh etcd, the release kube-apiserver and the release
//! kube-controller-manager (`--controllers=replicaset,deployment`,
//! `--leader-elect=false`) as children. Baseline first, from this process
//! over HTTP/2: the same pods created in the ReplicaSet controller's own
//! pattern (bursts of at most 500, each in slow-start batches 1, 2, 4, ...
//! sent together) and closed-loop at a few fixed concurrencies. Then one
//! Deployment of N replicas; a watch counts pod objects as they are created.
//! No kubelet or scheduler runs: pods stay Pending.
//!
//! Writes `docs/bench/controllers.{md,json}`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use http::Method;
use serde::Serialize;
use tokio::time::Instant;

use bench::client::ApiClient;
use bench::cluster::{self, ControlPlane, Memory, Proc};
use bench::load::{fixed_count, percentile};
use bench::probe::{Probe, Usage};
use bench::procs::{free_port, TempDir};
use bench::report::Machine;

/// The ReplicaSet controller's most creates per sync (upstream's
/// `BurstReplicas`, ours too).
const BURST: usize = 500;

#[derive(Parser, Debug, Clone)]
#[command(name = "controllers-bench")]
struct Flags {
    /// Replicas of the measured Deployment.
    #[arg(long, default_value_t = 1000)]
    replicas: u64,
    /// Pods each baseline phase creates.
    #[arg(long, default_value_t = 1000)]
    baseline_pods: u64,
    /// Closed-loop baseline concurrencies (besides the slow-start pattern).
    #[arg(long, value_delimiter = ',', default_value = "16,256")]
    baseline_concurrency: Vec<usize>,
    /// HTTP/2 connections of the bench client.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Give up on the measured phase after this many seconds.
    #[arg(long, default_value_t = 600.0)]
    timeout_secs: f64,
    /// Where kube-apiserver and kube-controller-manager are (default: next
    /// to this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Where controllers.md and controllers.json are written.
    #[arg(long, default_value = "docs/bench")]
    out_dir: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
struct Baseline {
    /// `slow-start` or `closed loop, c=<n>`.
    pattern: String,
    /// Most creates in flight.
    concurrency: usize,
    pods: u64,
    seconds: f64,
    pods_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    usage: Usage,
}

#[derive(Debug, Clone, Serialize)]
struct FanOut {
    replicas: u64,
    created: u64,
    /// Deployment create sent to the first pod's ADDED event.
    first_pod_secs: f64,
    /// Deployment create sent to the last pod's ADDED event.
    all_pods_secs: f64,
    /// `replicas / all_pods_secs`.
    pods_per_sec: f64,
    /// Between the first and the last pod.
    pods_per_sec_after_first: f64,
    /// Pods seen per second, second by second.
    samples: Vec<u64>,
    usage: Usage,
    controller_manager_memory: Option<Memory>,
}

#[derive(Debug, Clone, Serialize)]
struct ControllersReport {
    machine: Machine,
    baselines: Vec<Baseline>,
    deployment: FanOut,
}

fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = rt.block_on(async {
        tokio::select! {
            r = run(&flags) => Some(r),
            s = cluster::interrupted() => {
                eprintln!("bench: interrupted by {s}; cleaning up");
                None
            }
        }
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    let Some(report) = outcome else {
        std::process::exit(130);
    };
    let report = report?;
    std::fs::create_dir_all(&flags.out_dir)?;
    std::fs::write(
        flags.out_dir.join("controllers.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    let md = markdown(&report);
    std::fs::write(flags.out_dir.join("controllers.md"), &md)?;
    println!("{md}");
    eprintln!(
        "bench: wrote {}/controllers.md and controllers.json",
        flags.out_dir.display()
    );
    Ok(())
}

/// The Deployment's pod template, also what the baseline creates.
fn pod_spec() -> serde_json::Value {
    serde_json::json!({
        "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox:1.35", "command": ["sleep", "3600"],
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]
    })
}

fn pod_body(ns: &str, name: &str) -> bytes::Bytes {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "bench"}},
        "spec": pod_spec()
    })
    .to_string()
    .into()
}

async fn create_pod(client: &ApiClient, ns: &str, name: &str) -> anyhow::Result<f64> {
    let t = Instant::now();
    client
        .call(
            Method::POST,
            &format!("/api/v1/namespaces/{ns}/pods"),
            Some(pod_body(ns, name)),
        )
        .await?;
    Ok(t.elapsed().as_secs_f64() * 1e3)
}

fn baseline_of(
    pattern: String,
    concurrency: usize,
    mut lat: Vec<f64>,
    seconds: f64,
    usage: Usage,
) -> Baseline {
    lat.sort_by(f64::total_cmp);
    Baseline {
        pattern,
        concurrency,
        pods: lat.len() as u64,
        seconds,
        pods_per_sec: lat.len() as f64 / seconds.max(1e-9),
        p50_ms: percentile(&lat, 0.50),
        p99_ms: percentile(&lat, 0.99),
        usage,
    }
}

/// The ReplicaSet controller's pattern: bursts of at most [`BURST`], each
/// as batches of 1, 2, 4, ... creates sent together.
async fn slow_start(client: &Arc<ApiClient>, n: u64, probe: &Probe) -> anyhow::Result<Baseline> {
    let before = probe.snapshot().await;
    let start = Instant::now();
    let mut lat = Vec::new();
    let mut next = 0u64;
    let mut widest = 0;
    while next < n {
        let mut remaining = BURST.min((n - next) as usize);
        let mut batch = 1usize;
        while remaining > 0 {
            let size = batch.min(remaining);
            widest = widest.max(size);
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..size {
                let (c, name) = (client.clone(), format!("s-{next}"));
                next += 1;
                set.spawn(async move { create_pod(&c, "baseline", &name).await });
            }
            while let Some(r) = set.join_next().await {
                lat.push(r??);
            }
            remaining -= size;
            batch *= 2;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let after = probe.snapshot().await;
    let ops = lat.len() as u64;
    Ok(baseline_of(
        "slow-start batches (as the ReplicaSet controller)".into(),
        widest,
        lat,
        seconds,
        probe.usage(&before, &after, ops),
    ))
}

async fn closed_loop(
    client: &Arc<ApiClient>,
    n: u64,
    concurrency: usize,
    probe: &Probe,
) -> anyhow::Result<Baseline> {
    let before = probe.snapshot().await;
    let start = Instant::now();
    let lat: Arc<Mutex<Vec<f64>>> = Arc::default();
    let (c, l) = (client.clone(), lat.clone());
    let (_, errors, first) = fixed_count(n, concurrency, Duration::from_secs(30), move |i| {
        let (c, l) = (c.clone(), l.clone());
        async move {
            let ms = create_pod(&c, "baseline", &format!("c{concurrency}-{i}")).await?;
            l.lock().unwrap_or_else(|e| e.into_inner()).push(ms);
            Ok(())
        }
    })
    .await;
    let seconds = start.elapsed().as_secs_f64();
    let after = probe.snapshot().await;
    if errors > 0 {
        bail!("{errors} pod creates failed; first: {first:?}");
    }
    let lat = std::mem::take(&mut *lat.lock().unwrap_or_else(|e| e.into_inner()));
    let ops = lat.len() as u64;
    Ok(baseline_of(
        format!("closed loop, {concurrency} workers"),
        concurrency,
        lat,
        seconds,
        probe.usage(&before, &after, ops),
    ))
}

async fn run(flags: &Flags) -> anyhow::Result<ControllersReport> {
    let etcd_bin = std::env::var("ETCD_BIN").unwrap_or_else(|_| "etcd".into());
    let machine = Machine::collect(&etcd_bin);
    let bin_dir = match &flags.bin_dir {
        Some(d) => d.clone(),
        None => cluster::default_bin_dir()?,
    };
    let dir = TempDir::new("controllers-bench")?;
    let mut cp = ControlPlane::start(&bin_dir, dir.path(), "controllers-bench").await?;
    if flags.connections > 1 {
        cp.client = Arc::new(
            ApiClient::connect(
                cp.server.port,
                &cp.server.ca_file,
                &cp.server.token,
                flags.connections,
            )
            .await?,
        );
    }
    let result = measure(flags, &bin_dir, &dir, &cp).await;
    let result = result
        .map_err(|e| anyhow::anyhow!("{e:#}\nkube-apiserver log tail:\n{}", cp.server.log_tail()));
    cp.stop().await;
    let (baselines, deployment) = result?;
    Ok(ControllersReport {
        machine,
        baselines,
        deployment,
    })
}

async fn measure(
    flags: &Flags,
    bin_dir: &std::path::Path,
    dir: &TempDir,
    cp: &ControlPlane,
) -> anyhow::Result<(Vec<Baseline>, FanOut)> {
    cp.create_namespace("baseline").await?;
    let mut baselines = Vec::new();
    eprintln!(
        "bench: baseline: {} pod creates in slow-start batches",
        flags.baseline_pods
    );
    baselines.push(slow_start(&cp.client, flags.baseline_pods, &cp.probe).await?);
    for &c in &flags.baseline_concurrency {
        eprintln!(
            "bench: baseline: {} pod creates, {c} workers",
            flags.baseline_pods
        );
        baselines.push(closed_loop(&cp.client, flags.baseline_pods, c, &cp.probe).await?);
    }

    let kubeconfig = dir.path().join("kcm.kubeconfig");
    cp.write_kubeconfig(&kubeconfig)?;
    let port = free_port()?;
    let args = vec![
        format!("--kubeconfig={}", kubeconfig.display()),
        "--leader-elect=false".into(),
        "--controllers=replicaset,deployment".into(),
        "--bind-address=127.0.0.1".into(),
        format!("--secure-port={port}"),
    ];
    eprintln!("bench: starting kube-controller-manager");
    let mut kcm = Proc::spawn(
        "kube-controller-manager",
        &bin_dir.join("kube-controller-manager"),
        &args,
        dir.path().join("kube-controller-manager.log"),
    )
    .context("cargo build --release -p kube-controller-manager")?;
    let result = fan_out(flags, cp, &mut kcm, port).await;
    let result = result.map_err(|e| {
        anyhow::anyhow!(
            "{e:#}\nkube-controller-manager log tail:\n{}",
            kcm.log_tail(30)
        )
    });
    kcm.stop(Duration::from_secs(5)).await;
    Ok((baselines, result?))
}

async fn fan_out(
    flags: &Flags,
    cp: &ControlPlane,
    kcm: &mut Proc,
    port: u16,
) -> anyhow::Result<FanOut> {
    let health = format!("127.0.0.1:{port}");
    cluster::wait_until(
        "kube-controller-manager healthy",
        Duration::from_secs(60),
        || {
            let alive = kcm.check_alive();
            let health = health.clone();
            async move {
                alive?;
                Ok(cluster::http_get(&health, "/healthz")
                    .await
                    .ok()
                    .map(|_| ()))
            }
        },
    )
    .await?;
    let mut probe = cp.probe.clone();
    probe.add_process("kube-controller-manager", kcm.pid);

    let ns = "measured";
    cp.create_namespace(ns).await?;
    let path = format!("/api/v1/namespaces/{ns}/pods");
    let rv = cluster::list_revision(&cp.client, &path).await?;
    let n = flags.replicas;
    let deadline = Instant::now() + Duration::from_secs_f64(flags.timeout_secs);
    let count = Arc::new(AtomicU64::new(0));
    let times: Arc<Mutex<(Option<Instant>, Option<Instant>)>> = Arc::default();
    let watcher = {
        let (client, count, times, path) = (
            cp.client.clone(),
            count.clone(),
            times.clone(),
            path.clone(),
        );
        tokio::spawn(async move {
            cluster::watch_events(&client, &path, &rv, deadline, |kind, _, at| {
                if kind != "ADDED" {
                    return false;
                }
                let seen = count.fetch_add(1, Ordering::Relaxed) + 1;
                let mut t = times.lock().unwrap_or_else(|e| e.into_inner());
                t.0.get_or_insert(at);
                t.1 = Some(at);
                seen >= n
            })
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    let deployment = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "fan-out", "namespace": ns},
        "spec": {"replicas": n, "selector": {"matchLabels": {"app": "bench"}},
                 "template": {"metadata": {"labels": {"app": "bench"}}, "spec": pod_spec()}}
    });
    eprintln!("bench: creating a Deployment of {n} replicas");
    let before = probe.snapshot().await;
    let start = Instant::now();
    cp.client
        .call(
            Method::POST,
            &format!("/apis/apps/v1/namespaces/{ns}/deployments"),
            Some(deployment.to_string().into()),
        )
        .await?;
    let mut watcher = watcher;
    let mut tick = tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    let mut samples = Vec::new();
    let mut last = 0;
    loop {
        tokio::select! {
            r = &mut watcher => {
                r??;
                break;
            }
            _ = tick.tick() => {
                let now = count.load(Ordering::Relaxed);
                samples.push(now - last);
                last = now;
                if samples.len() % 5 == 0 {
                    eprintln!("bench: {now} of {n} pods");
                }
                if let Err(e) = kcm.check_alive() {
                    watcher.abort();
                    return Err(e);
                }
            }
        }
    }
    let after = probe.snapshot().await;
    let created = count.load(Ordering::Relaxed);
    samples.push(created - last);
    if created < n {
        bail!(
            "only {created} of {n} pods were created within {:.0} s",
            flags.timeout_secs
        );
    }
    let (first, last_at) = *times.lock().unwrap_or_else(|e| e.into_inner());
    let secs = |t: Option<Instant>| t.map_or(0.0, |t| (t - start).as_secs_f64());
    let (first_pod_secs, all_pods_secs) = (secs(first), secs(last_at));
    let spread = all_pods_secs - first_pod_secs;
    Ok(FanOut {
        replicas: n,
        created,
        first_pod_secs,
        all_pods_secs,
        pods_per_sec: n as f64 / all_pods_secs.max(1e-9),
        pods_per_sec_after_first: if spread > 0.0 {
            (n.saturating_sub(1)) as f64 / spread
        } else {
            0.0
        },
        samples,
        usage: probe.usage(&before, &after, created),
        controller_manager_memory: cluster::memory(kcm.pid),
    })
}

fn markdown(r: &ControllersReport) -> String {
    use std::fmt::Write as _;
    let m = &r.machine;
    let d = &r.deployment;
    let mut s = String::new();
    let _ = writeln!(s, "# Controllers: Deployment fan-out\n");
    let _ = writeln!(
        s,
        "Written by `make bench TARGET=controllers` ({}); raw numbers in `controllers.json`. \
         Machine: {} cores ({}), {} GiB, kernel {}, etcd {}, {}, commit {}. One run on a small \
         shared machine: differences under ~15% are noise.\n",
        m.date,
        m.nproc,
        m.cpu_model,
        m.memory_gib,
        m.kernel,
        m.etcd_version,
        m.rustc_version,
        m.git_commit
    );
    let best = r
        .baselines
        .iter()
        .map(|b| b.pods_per_sec)
        .fold(0.0, f64::max);
    let slow = r.baselines.first().map_or(0.0, |b| b.pods_per_sec);
    let _ = writeln!(s, "| measure | value |\n| --- | --- |");
    let _ = writeln!(
        s,
        "| **Deployment of {} replicas → {} pod objects** | **{:.2} s** ({:.0} pods/s) |",
        d.replicas, d.created, d.all_pods_secs, d.pods_per_sec
    );
    let _ = writeln!(s, "| first pod after | {:.3} s |", d.first_pod_secs);
    let _ = writeln!(
        s,
        "| pods/s from the first pod to the last | {:.0} |",
        d.pods_per_sec_after_first
    );
    let mut sorted: Vec<f64> = d.samples.iter().map(|&x| x as f64).collect();
    sorted.sort_by(f64::total_cmp);
    let _ = writeln!(
        s,
        "| pods seen per second, p50 / max | {:.0} / {:.0} |",
        percentile(&sorted, 0.5),
        sorted.last().copied().unwrap_or(0.0)
    );
    let _ = writeln!(
        s,
        "| CPU during the fan-out (cores) | {} |",
        cpu_text(&d.usage)
    );
    let _ = writeln!(
        s,
        "| kube-controller-manager RSS | {} |",
        d.controller_manager_memory
            .map_or("n/a".to_string(), |m| format!(
                "{:.1} MiB (peak {:.1} MiB)",
                m.rss_mib, m.hwm_mib
            ))
    );
    let _ = writeln!(
        s,
        "| fan-out rate / baseline in the controller's pattern | {:.2} |",
        bench::report::ratio(d.pods_per_sec, slow)
    );
    let _ = writeln!(
        s,
        "| fan-out rate / best baseline | {:.2} |\n",
        bench::report::ratio(d.pods_per_sec, best)
    );
    let _ = writeln!(s, "## Baseline: the apiserver's own pod creates\n");
    let _ = writeln!(
        s,
        "| pattern | most in flight | pods | pods/s | p50 | p99 | CPU (cores) |\n| --- | ---: | ---: | ---: | ---: | ---: | --- |"
    );
    for b in &r.baselines {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.0} | {:.1} ms | {:.1} ms | {} |",
            b.pattern,
            b.concurrency,
            b.pods,
            b.pods_per_sec,
            b.p50_ms,
            b.p99_ms,
            cpu_text(&b.usage)
        );
    }
    let _ = writeln!(s, "\n## How it was measured\n");
    let _ = writeln!(
        s,
        "- etcd (one member, `--unsafe-no-fsync`), the release kube-apiserver and the release \
         kube-controller-manager (`--controllers=replicaset,deployment --leader-elect=false`) \
         are separate processes; no scheduler or kubelet runs, so pods stay Pending."
    );
    let _ = writeln!(
        s,
        "- The fan-out clock starts when the Deployment's create is sent and stops at the last \
         pod's ADDED event on a watch opened beforehand; the controller's path includes the \
         Deployment → ReplicaSet step, informer delivery and the ReplicaSet controller's \
         slow-start batches (1, 2, 4, … at most {BURST} per sync, the next sync waiting for its \
         expectations)."
    );
    let _ = writeln!(
        s,
        "- Baselines: the same pod (busybox, 10m CPU, 16Mi) created by this bench over one \
         HTTP/2 connection: first in the controller's pattern (same batch sizes, no informer \
         waits), then closed-loop with a fixed number of workers."
    );
    s
}

fn cpu_text(u: &Usage) -> String {
    u.cpu
        .iter()
        .map(|c| format!("{} {:.2}", c.process, c.cores))
        .collect::<Vec<_>>()
        .join(", ")
}
