//! scheduler-bench: upstream scheduler_perf's SchedulingBasic shape on this
//! machine. A fresh etcd and the release kube-apiserver; N Node objects
//! (no kubelets); in the same run, the apiserver's raw pod create and
//! `pods/binding` throughput (the ceiling any scheduler here is bound by);
//! then the release kube-scheduler schedules M pods while a watch counts
//! bindings per second. Writes `docs/bench/scheduler.{md,json}`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Parser;
use http::Method;
use http_body_util::BodyExt;
use serde::Serialize;
use tokio::time::Instant;

use bench::client::ApiClient;
use bench::load::{fixed_count, percentile, Summary};
use bench::probe::{Probe, Usage};
use bench::procs::{free_port, ApiServer, TempDir};
use bench::report::Machine;

/// Upstream scheduler_perf's CI floor for SchedulingBasic 5000 nodes.
const UPSTREAM_FLOOR: f64 = 680.0;
/// Our goal on this machine.
const GOAL: f64 = 2000.0;

#[derive(Parser, Debug, Clone)]
#[command(name = "scheduler-bench")]
struct Flags {
    /// Node objects created before the measured phase.
    #[arg(long, default_value_t = 5000)]
    nodes: u64,
    /// Pods the scheduler schedules in the measured phase.
    #[arg(long, default_value_t = 10000)]
    pods: u64,
    /// Pods created before the scheduler starts, then drained (the
    /// scheduler's own throughput, not bounded by the create rate).
    #[arg(long, default_value_t = 10000)]
    backlog_pods: u64,
    /// Pods created and bound directly through the API for the baseline.
    #[arg(long, default_value_t = 2000)]
    baseline_pods: u64,
    /// Concurrent API clients creating objects.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// HTTP/2 connections to the apiserver.
    #[arg(long, default_value_t = 2)]
    connections: usize,
    /// Give up on the measured phase after this many seconds.
    #[arg(long, default_value_t = 600.0)]
    timeout_secs: f64,
    /// Where scheduler.md and scheduler.json are written.
    #[arg(long, default_value = "docs/bench")]
    out_dir: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
struct Throughput {
    /// Pods scheduled per second over the whole phase.
    average: f64,
    /// Per-second samples (upstream's SchedulingThroughput percentiles).
    p50: f64,
    p90: f64,
    p99: f64,
    samples: Vec<u64>,
    seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
struct SchedulerReport {
    machine: Machine,
    nodes: u64,
    pods: u64,
    concurrency: usize,
    node_create_per_sec: f64,
    baseline_create: Summary,
    baseline_bind: Summary,
    scheduled: Throughput,
    scheduled_count: u64,
    backlog_pods: u64,
    backlog: Throughput,
    backlog_count: u64,
    create_phase_per_sec: f64,
    attempt_p50_ms: Option<f64>,
    attempt_p99_ms: Option<f64>,
    usage: Usage,
    scheduler_rss_mib: Option<f64>,
}

fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(async {
        tokio::select! {
            r = run(&flags) => Some(r),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    let Some(report) = report else {
        std::process::exit(130);
    };
    let report = report?;
    std::fs::create_dir_all(&flags.out_dir)?;
    std::fs::write(
        flags.out_dir.join("scheduler.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    let md = markdown(&report);
    std::fs::write(flags.out_dir.join("scheduler.md"), &md)?;
    println!("{md}");
    eprintln!(
        "bench: wrote {}/scheduler.md and scheduler.json",
        flags.out_dir.display()
    );
    Ok(())
}

fn node_json(i: u64) -> Bytes {
    let zone = i % 3;
    serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": format!("node-{i}"), "labels": {
            "kubernetes.io/hostname": format!("node-{i}"),
            "topology.kubernetes.io/zone": format!("zone-{zone}")}},
        "status": {
            "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "100Gi"},
            "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "100Gi"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "hollow", "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                            "lastTransitionTime": "2026-01-01T00:00:00Z"}],
            "addresses": [{"type": "InternalIP", "address": format!("10.{}.{}.{}", 100 + i / 65536, (i / 256) % 256, i % 256)}]
        }
    })
    .to_string()
    .into()
}

/// Upstream's SchedulingBasic pod template: one container with small
/// requests.
fn pod_json(ns: &str, name: &str) -> Bytes {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.9",
            "resources": {"requests": {"cpu": "100m", "memory": "500Mi"},
                          "limits": {"cpu": "100m", "memory": "500Mi"}}}]}
    })
    .to_string()
    .into()
}

async fn create_namespace(client: &ApiClient, ns: &str) -> anyhow::Result<()> {
    let body = format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{ns}"}}}}"#);
    client
        .call(Method::POST, "/api/v1/namespaces", Some(body.into()))
        .await?;
    Ok(())
}

/// A fixed-count phase summarised like the apiserver bench's phases.
async fn timed<F, Fut>(n: u64, concurrency: usize, probe: &Probe, op: F) -> anyhow::Result<Summary>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let started = Instant::now();
    let before = probe.snapshot().await;
    let lat: Arc<std::sync::Mutex<Vec<f64>>> = Arc::default();
    let op = Arc::new(op);
    let l = lat.clone();
    let (finished, errors, first_error) =
        fixed_count(n, concurrency, Duration::from_secs(30), move |i| {
            let (op, l) = (op.clone(), l.clone());
            async move {
                let t0 = Instant::now();
                op(i).await?;
                l.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(t0.elapsed().as_secs_f64() * 1000.0);
                Ok(())
            }
        })
        .await;
    let after = probe.snapshot().await;
    if errors > 0 {
        bail!("{errors} of {n} operations failed; first: {first_error:?}");
    }
    let end = finished.iter().flatten().max().copied().unwrap_or(started);
    let lat = std::mem::take(&mut *lat.lock().unwrap_or_else(|e| e.into_inner()));
    let mut s = Summary::new(lat, 0, None, (end - started).as_secs_f64());
    s.usage = probe.usage(&before, &after, s.ops);
    Ok(s)
}

async fn run(flags: &Flags) -> anyhow::Result<SchedulerReport> {
    let etcd_bin = std::env::var("ETCD_BIN").unwrap_or_else(|_| "etcd".into());
    let machine = Machine::collect(&etcd_bin);
    let exe = std::env::current_exe()?;
    let dir = TempDir::new("scheduler-bench")?;

    eprintln!("bench: starting etcd");
    let etcd = tokio::task::spawn_blocking(etcd_harness::Etcd::start)
        .await?
        .context("starting etcd")?;
    let endpoint = etcd.endpoint().to_string();
    let prefix = format!("/scheduler-bench-{}", std::process::id());
    let mut probe = Probe::default();
    probe.set_etcd(endpoint.trim_start_matches("http://"));
    if let Some(pid) = bench::cpu::find_pid_with_arg(&format!("--listen-client-urls={endpoint}")) {
        probe.add_process("etcd", pid);
    }
    let server = ApiServer::start(
        &exe.with_file_name("kube-apiserver"),
        &endpoint,
        &format!("{prefix}/registry"),
        dir.path(),
    )
    .await?;
    probe.add_process("kube-apiserver", server.pid);
    let client = Arc::new(
        ApiClient::connect(
            server.port,
            &server.ca_file,
            &server.token,
            flags.connections,
        )
        .await?,
    );
    server.wait_ready(&client, Duration::from_secs(120)).await?;
    let result = measure(flags, &exe, &dir, &server, client, probe, machine).await;
    let result = result
        .map_err(|e| anyhow::anyhow!("{e:#}\nkube-apiserver log tail:\n{}", server.log_tail()));
    server.stop().await;
    drop(etcd);
    result
}

async fn measure(
    flags: &Flags,
    exe: &Path,
    dir: &TempDir,
    server: &ApiServer,
    client: Arc<ApiClient>,
    mut probe: Probe,
    machine: Machine,
) -> anyhow::Result<SchedulerReport> {
    eprintln!("bench: creating {} nodes", flags.nodes);
    let t0 = Instant::now();
    let c = client.clone();
    timed(flags.nodes, flags.concurrency, &probe, move |i| {
        let c = c.clone();
        async move {
            c.call(Method::POST, "/api/v1/nodes", Some(node_json(i)))
                .await?;
            Ok(())
        }
    })
    .await
    .context("creating nodes")?;
    let node_create_per_sec = flags.nodes as f64 / t0.elapsed().as_secs_f64();

    // Baseline: what the apiserver itself sustains for the two writes a
    // scheduled pod costs (its create and its binding), same client.
    create_namespace(&client, "baseline").await?;
    eprintln!("bench: baseline: {} pod creates", flags.baseline_pods);
    let c = client.clone();
    let baseline_create = timed(flags.baseline_pods, flags.concurrency, &probe, move |i| {
        let c = c.clone();
        async move {
            c.call(
                Method::POST,
                "/api/v1/namespaces/baseline/pods",
                Some(pod_json("baseline", &format!("b-{i}"))),
            )
            .await?;
            Ok(())
        }
    })
    .await?;
    eprintln!("bench: baseline: {} bindings", flags.baseline_pods);
    let c = client.clone();
    let nodes = flags.nodes;
    let baseline_bind = timed(flags.baseline_pods, flags.concurrency, &probe, move |i| {
        let c = c.clone();
        async move {
            let body = serde_json::json!({"apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": format!("b-{i}")},
                "target": {"apiVersion": "v1", "kind": "Node", "name": format!("node-{}", i % nodes)}});
            c.call(
                Method::POST,
                &format!("/api/v1/namespaces/baseline/pods/b-{i}/binding"),
                Some(body.to_string().into()),
            )
            .await?;
            Ok(())
        }
    })
    .await?;

    // A backlog created while no scheduler runs: its drain rate is what the
    // scheduler sustains when pod creation is not the bottleneck.
    create_namespace(&client, "backlog").await?;
    eprintln!("bench: creating {} backlog pods", flags.backlog_pods);
    let c = client.clone();
    timed(flags.backlog_pods, flags.concurrency, &probe, move |i| {
        let c = c.clone();
        async move {
            c.call(
                Method::POST,
                "/api/v1/namespaces/backlog/pods",
                Some(pod_json("backlog", &format!("q-{i}"))),
            )
            .await?;
            Ok(())
        }
    })
    .await
    .context("creating the backlog")?;
    let backlog_bound = Arc::new(AtomicU64::new(0));
    let backlog_watch = {
        let (client, bound) = (client.clone(), backlog_bound.clone());
        tokio::spawn(async move { count_bound(&client, "backlog", &bound).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let backlog_drain = tokio::spawn(drain(
        backlog_bound.clone(),
        flags.backlog_pods,
        Duration::from_secs_f64(flags.timeout_secs),
    ));

    // The scheduler, as a separate process with its own kubeconfig.
    let sched_port = free_port()?;
    let kubeconfig = dir.path().join("scheduler.kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: b\n  cluster:\n    server: https://127.0.0.1:{}\n    certificate-authority: {}\nusers:\n- name: b\n  user:\n    token: {}\ncontexts:\n- name: b\n  context: {{cluster: b, user: b}}\ncurrent-context: b\n",
            server.port,
            server.ca_file.display(),
            server.token
        ),
    )?;
    let log = std::fs::File::create(dir.path().join("kube-scheduler.log"))?;
    let mut sched = tokio::process::Command::new(exe.with_file_name("kube-scheduler"))
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg("--leader-elect=false")
        .arg(format!("--secure-port={sched_port}"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("starting kube-scheduler (cargo build --release -p kube-scheduler)")?;
    let sched_pid = sched.id().context("kube-scheduler exited at once")?;
    probe.add_process("kube-scheduler", sched_pid);
    let health = format!("127.0.0.1:{sched_port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(&health, "/healthz").await.is_err() {
        if Instant::now() > deadline {
            bail!("kube-scheduler did not become healthy");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let backlog = backlog_drain.await?;
    backlog_watch.abort();
    let backlog_count = backlog_bound.load(Ordering::Relaxed);
    eprintln!(
        "bench: backlog of {} drained at {:.0} pods/s",
        flags.backlog_pods, backlog.average
    );

    create_namespace(&client, "measured").await?;
    // Count bindings from a watch, sampled each second.
    let scheduled = Arc::new(AtomicU64::new(0));
    let watch = {
        let (client, scheduled) = (client.clone(), scheduled.clone());
        tokio::spawn(async move { count_bound(&client, "measured", &scheduled).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    eprintln!("bench: creating {} pods for the scheduler", flags.pods);
    let before = probe.snapshot().await;
    let start = Instant::now();
    let c = client.clone();
    let creator = tokio::spawn(timed_creates(c, flags.pods, flags.concurrency));
    let mut samples = Vec::new();
    let mut last = 0;
    let deadline = start + Duration::from_secs_f64(flags.timeout_secs);
    let mut tick = tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    let mut done_at = None;
    while Instant::now() < deadline {
        let now = tick.tick().await;
        let n = scheduled.load(Ordering::Relaxed);
        samples.push(n - last);
        last = n;
        if n >= flags.pods {
            done_at = Some(now);
            break;
        }
        if samples.len() % 5 == 0 {
            eprintln!("bench: {n} of {} pods bound", flags.pods);
        }
    }
    let create_secs = creator.await??;
    let after = probe.snapshot().await;
    watch.abort();
    let count = scheduled.load(Ordering::Relaxed);
    let seconds = done_at
        .unwrap_or_else(Instant::now)
        .duration_since(start)
        .as_secs_f64();
    // The last sample is a partial second; leave it out of the percentiles
    // as upstream's collector does for the trailing window.
    let mut sorted: Vec<f64> = samples
        .iter()
        .take(samples.len().saturating_sub(1).max(1))
        .map(|&x| x as f64)
        .collect();
    sorted.sort_by(f64::total_cmp);
    let metrics = http_get(&health, "/metrics").await.unwrap_or_default();
    let (p50, p99) = attempt_quantiles(&metrics);
    let rss = std::fs::read_to_string(format!("/proc/{sched_pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0);
    let _ = sched.kill().await;
    if count < flags.pods {
        let log =
            std::fs::read_to_string(dir.path().join("kube-scheduler.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        eprintln!(
            "bench: only {count} of {} pods were bound within {}s; kube-scheduler log tail:\n{}",
            flags.pods,
            flags.timeout_secs,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
        for l in metrics
            .lines()
            .filter(|l| l.starts_with("scheduler_schedule_attempts_total"))
        {
            eprintln!("bench: {l}");
        }
        if let Ok((_, body)) = client
            .call(Method::GET, "/api/v1/namespaces/measured/pods/p-0", None)
            .await
        {
            eprintln!("bench: p-0: {}", String::from_utf8_lossy(&body));
        }
    }
    Ok(SchedulerReport {
        machine,
        nodes: flags.nodes,
        pods: flags.pods,
        concurrency: flags.concurrency,
        node_create_per_sec,
        baseline_create,
        baseline_bind,
        scheduled: Throughput {
            average: count as f64 / seconds.max(1e-9),
            p50: percentile(&sorted, 0.50),
            p90: percentile(&sorted, 0.90),
            p99: percentile(&sorted, 0.99),
            samples,
            seconds,
        },
        scheduled_count: count,
        backlog_pods: flags.backlog_pods,
        backlog,
        backlog_count,
        create_phase_per_sec: flags.pods as f64 / create_secs.max(1e-9),
        attempt_p50_ms: p50.map(|s| s * 1000.0),
        attempt_p99_ms: p99.map(|s| s * 1000.0),
        usage: probe.usage(&before, &after, count),
        scheduler_rss_mib: rss,
    })
}

/// Samples `bound` until it reaches `n`: throughput from the first binding
/// to the last, with per-second samples from the first.
async fn drain(bound: Arc<AtomicU64>, n: u64, timeout: Duration) -> Throughput {
    let deadline = Instant::now() + timeout;
    let mut first = None;
    let mut next_sample = None;
    let mut samples = Vec::new();
    let mut last = 0;
    let mut done_at = None;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = Instant::now();
        let c = bound.load(Ordering::Relaxed);
        if first.is_none() && c > 0 {
            first = Some(now);
            next_sample = Some(now + Duration::from_secs(1));
        }
        if next_sample.is_some_and(|t| now >= t) {
            samples.push(c - last);
            last = c;
            next_sample = next_sample.map(|t| t + Duration::from_secs(1));
        }
        if c >= n {
            done_at = Some(now);
            break;
        }
    }
    let count = bound.load(Ordering::Relaxed);
    let start = first.unwrap_or_else(Instant::now);
    let seconds = done_at
        .unwrap_or_else(Instant::now)
        .duration_since(start)
        .as_secs_f64();
    let mut sorted: Vec<f64> = samples.iter().map(|&x| x as f64).collect();
    sorted.sort_by(f64::total_cmp);
    Throughput {
        average: count as f64 / seconds.max(1e-9),
        p50: percentile(&sorted, 0.50),
        p90: percentile(&sorted, 0.90),
        p99: percentile(&sorted, 0.99),
        samples,
        seconds,
    }
}

/// Creates the measured pods; returns how long creating them took.
async fn timed_creates(client: Arc<ApiClient>, n: u64, concurrency: usize) -> anyhow::Result<f64> {
    let start = Instant::now();
    let (_, errors, first) = fixed_count(n, concurrency, Duration::from_secs(30), move |i| {
        let c = client.clone();
        async move {
            c.call(
                Method::POST,
                "/api/v1/namespaces/measured/pods",
                Some(pod_json("measured", &format!("p-{i}"))),
            )
            .await?;
            Ok(())
        }
    })
    .await;
    if errors > 0 {
        bail!("{errors} pod creates failed; first: {first:?}");
    }
    Ok(start.elapsed().as_secs_f64())
}

/// Watches pods in `ns` and counts those that gain a `spec.nodeName`.
async fn count_bound(client: &ApiClient, ns: &str, bound: &AtomicU64) -> anyhow::Result<()> {
    let resp = client
        .send(
            Method::GET,
            &format!("/api/v1/namespaces/{ns}/pods?watch=true"),
            None,
        )
        .await?;
    let mut body = resp.into_body();
    let mut buf: Vec<u8> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&line) else {
                continue;
            };
            let obj = &v["object"];
            if obj["spec"]["nodeName"]
                .as_str()
                .is_some_and(|n| !n.is_empty())
            {
                let name = obj["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if seen.insert(name) {
                    bound.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    Ok(())
}

/// GET over plain HTTP/1.1 (the scheduler's health port).
async fn http_get(addr: &str, path: &str) -> anyhow::Result<String> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = http::Request::get(path)
        .header("host", addr)
        .body(http_body_util::Empty::<Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    if !resp.status().is_success() {
        bail!("{path}: {}", resp.status());
    }
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// p50 and p99 of `scheduler_scheduling_attempt_duration_seconds` (all
/// results), interpolated within buckets as Prometheus does.
fn attempt_quantiles(metrics: &str) -> (Option<f64>, Option<f64>) {
    let mut buckets: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("scheduler_scheduling_attempt_duration_seconds_bucket{")
        else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        let Some(le) = labels
            .split(',')
            .find_map(|l| l.strip_prefix("le=\""))
            .map(|l| l.trim_end_matches('"'))
        else {
            continue;
        };
        let le: f64 = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().unwrap_or(f64::INFINITY)
        };
        let count: f64 = value.trim().parse().unwrap_or(0.0);
        let e = buckets.entry(le.to_bits()).or_insert((le, 0.0));
        e.1 += count;
    }
    let mut cum: Vec<(f64, f64)> = buckets.into_values().collect();
    cum.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = cum.last().map(|x| x.1).unwrap_or(0.0);
    if total <= 0.0 {
        return (None, None);
    }
    let q = |q: f64| {
        let rank = q * total;
        let mut prev = (0.0, 0.0);
        for &(le, c) in &cum {
            if c >= rank {
                if le.is_infinite() {
                    return Some(prev.0);
                }
                let frac = if c > prev.1 {
                    (rank - prev.1) / (c - prev.1)
                } else {
                    1.0
                };
                return Some(prev.0 + (le - prev.0) * frac);
            }
            prev = (le, c);
        }
        None
    };
    (q(0.5), q(0.99))
}

fn markdown(r: &SchedulerReport) -> String {
    let cpu = |u: &Usage| {
        u.cpu
            .iter()
            .map(|c| format!("{} {:.2}", c.process, c.cores))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let opt = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.1}"));
    let baseline_pair = 1.0
        / (1.0 / r.baseline_create.ops_per_sec.max(1e-9)
            + 1.0 / r.baseline_bind.ops_per_sec.max(1e-9));
    format!(
        "# Scheduler benchmark (SchedulingBasic shape)\n\n\
Machine: {nproc} cores ({cpu_model}), {mem} GiB, kernel {kernel}, etcd {etcd}, {rustc}, commit {commit}, {date}.\n\n\
{nodes} Node objects (no kubelets; 32 cores, 128 GiB, 110 pods each, 3 zones), then {pods} pods \
(100m CPU, 500Mi each) created by {conc} concurrent clients while the release kube-scheduler binds them; \
a watch counts bound pods each second. Before that, a backlog of pods created while no scheduler ran is \
drained: the scheduler's own rate when creating pods is not the bound.\n\n\
| measure | value |\n| --- | --- |\n\
| **pods scheduled per second, average** | **{avg:.0}** ({count} pods in {secs:.1} s) |\n\
| per-second samples p50 / p90 / p99 | {p50:.0} / {p90:.0} / {p99:.0} |\n\
| **backlog drain: pods scheduled per second** ({blp} pods created before the scheduler started; first to last binding) | **{bavg:.0}** ({bcount} pods in {bsecs:.1} s) |\n\
| backlog per-second samples p50 / p90 / p99 | {bp50:.0} / {bp90:.0} / {bp99:.0} |\n\
| scheduling attempt latency p50 / p99 (scheduler's histogram) | {ap50} ms / {ap99} ms |\n\
| pod creates by the clients in that phase | {createps:.0} /s |\n\
| baseline: apiserver pod creates alone | {bc:.0} /s (p99 {bcp99:.1} ms) |\n\
| baseline: apiserver `pods/binding` alone | {bb:.0} /s (p99 {bbp99:.1} ms) |\n\
| baseline: create + bind per pod, serialised | {pair:.0} pods/s |\n\
| node creates | {nodesps:.0} /s |\n\
| CPU during the measured phase (cores) | {cpu_use} |\n\
| kube-scheduler peak RSS | {rss} MiB |\n\n\
Upstream's CI floor for this case is {floor:.0} pods/s; our goal is {goal:.0} pods/s. \
Scheduling ratio to the apiserver's create+bind ceiling measured in the same run: {ratio:.2}.\n\n\
## What bounds it\n\n\
- With pods created during the phase, scheduling cannot outrun their creation: the clients created \
{createps:.0} pods/s while etcd, the apiserver, the scheduler and the clients shared {nproc} cores, \
and {avg:.0} pods/s were scheduled ({create_ratio:.2} of the create rate).\n\
- Draining a backlog, the scheduler's own cycle is the bound: {bavg:.0} pods/s, {bind_ratio:.2} of the \
apiserver's binding rate alone ({bb:.0}/s); each binding is also a write the apiserver and etcd must do on \
the same cores. Per cycle the scheduler filters and scores about 10% of the nodes \
(upstream's adaptive percentageOfNodesToScore at 5000 nodes: 500 nodes), touching each node's cached \
info once per plugin.\n",
        nproc = r.machine.nproc,
        cpu_model = r.machine.cpu_model,
        mem = r.machine.memory_gib,
        kernel = r.machine.kernel,
        etcd = r.machine.etcd_version,
        rustc = r.machine.rustc_version,
        commit = r.machine.git_commit,
        date = r.machine.date,
        nodes = r.nodes,
        pods = r.pods,
        conc = r.concurrency,
        avg = r.scheduled.average,
        count = r.scheduled_count,
        secs = r.scheduled.seconds,
        p50 = r.scheduled.p50,
        p90 = r.scheduled.p90,
        p99 = r.scheduled.p99,
        blp = r.backlog_pods,
        bavg = r.backlog.average,
        bcount = r.backlog_count,
        bsecs = r.backlog.seconds,
        bp50 = r.backlog.p50,
        bp90 = r.backlog.p90,
        bp99 = r.backlog.p99,
        ap50 = opt(r.attempt_p50_ms),
        ap99 = opt(r.attempt_p99_ms),
        createps = r.create_phase_per_sec,
        bc = r.baseline_create.ops_per_sec,
        bcp99 = r.baseline_create.p99_ms,
        bb = r.baseline_bind.ops_per_sec,
        bbp99 = r.baseline_bind.p99_ms,
        pair = baseline_pair,
        nodesps = r.node_create_per_sec,
        cpu_use = cpu(&r.usage),
        rss = opt(r.scheduler_rss_mib),
        floor = UPSTREAM_FLOOR,
        goal = GOAL,
        ratio = r.scheduled.average / baseline_pair.max(1e-9),
        create_ratio = r.scheduled.average / r.create_phase_per_sec.max(1e-9),
        bind_ratio = r.backlog.average / r.baseline_bind.ops_per_sec.max(1e-9),
    )
}
