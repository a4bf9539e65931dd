//! proxy-bench: the Service data plane's two programs on this machine.
//!
//! nftables: a full sync of N Services × E endpoints through the proxy
//! library (model → `ruleset::build` → `nft::full` → JSON → `nft -j -f -`,
//! what `Syncer::sync` does) into a bench-owned table, against `nft -f` of
//! the same transaction rendered as text, alternating in the same run; then
//! one endpoint change at a time as an incremental sync. The table is
//! deleted at the end, on error and on Ctrl-C.
//!
//! DNS: the `dns` crate's server on 127.0.0.1 (ephemeral port) with an
//! index of D Services, driven by `dns::loadgen` over loopback, against a
//! fixed-answer UDP responder driven by the same generator.
//!
//! Writes `docs/bench/proxy.{md,json}`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use hickory_proto::rr::{Name, RecordType};
use serde::Serialize;

use bench::cpu::cpu_seconds;
use bench::load::percentile;
use bench::procs::TempDir;
use bench::report::{Goal, Machine};
use bench::svc_model;
use proxy::nft::{self, Nft};
use proxy::{NftCli, RulesetConfig};

/// A full sync through the library may take this much longer than `nft -f`.
const GOAL_FULL_RATIO: f64 = 1.2;
/// One endpoint change, end to end.
const GOAL_INCREMENTAL_P50_MS: f64 = 20.0;

#[derive(Parser, Debug, Clone)]
#[command(name = "proxy-bench")]
struct Flags {
    /// Services in the nftables full sync.
    #[arg(long, default_value_t = 10_000)]
    services: u32,
    /// Ready endpoints per service.
    #[arg(long, default_value_t = 10)]
    endpoints: u32,
    /// Full syncs per path (library and `nft -f`), alternating.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Incremental syncs of one changed endpoint each, per path (library,
    /// and `nft -f -` of the diff as text; they alternate).
    #[arg(long, default_value_t = 50)]
    changes: usize,
    /// The nftables table (family ip); default `bench-proxy-<pid>`.
    #[arg(long)]
    table: Option<String>,
    /// Services in the DNS server's index.
    #[arg(long, default_value_t = 1000)]
    dns_services: u32,
    /// Concurrent closed-loop DNS clients.
    #[arg(long, default_value_t = 8)]
    dns_concurrency: usize,
    /// Seconds each DNS load phase runs.
    #[arg(long, default_value_t = 10.0)]
    dns_duration_secs: f64,
    /// Skip the nftables part (it needs root and nft).
    #[arg(long)]
    skip_nft: bool,
    /// Skip the DNS part.
    #[arg(long)]
    skip_dns: bool,
    /// Where proxy.md and proxy.json are written.
    #[arg(long, default_value = "docs/bench")]
    out_dir: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
struct Latency {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

impl Latency {
    fn of(mut v: Vec<f64>) -> Latency {
        v.sort_by(f64::total_cmp);
        Latency {
            p50_ms: percentile(&v, 0.50),
            p99_ms: percentile(&v, 0.99),
            max_ms: v.last().copied().unwrap_or(0.0),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct Incremental {
    changes: usize,
    /// Commands in one transaction (median).
    commands_p50: f64,
    /// Build + diff + apply: what one endpoint change costs the proxy.
    total: Latency,
    /// `ruleset::build` of the whole model.
    build: Latency,
    /// `nft::incremental`.
    diff: Latency,
    /// `NftCli::apply`: JSON and one `nft -j -f -` run.
    apply: Latency,
    /// Baseline: `nft -f -` of an equivalent diff rendered as text
    /// (alternate changes), rendering not timed.
    text_apply: Latency,
}

#[derive(Debug, Clone, Serialize)]
struct NftResult {
    table: String,
    services: u32,
    endpoints_per_service: u32,
    chains: usize,
    commands: usize,
    json_bytes: usize,
    text_bytes: usize,
    /// In-process pieces, measured once.
    build_ms: f64,
    full_diff_ms: f64,
    json_ms: f64,
    text_render_ms: f64,
    /// The library path per repeat: build + full + JSON + `nft -j -f -`.
    library_full_ms: Vec<f64>,
    library_full_median_ms: f64,
    /// `nft -f <file>` of the same transaction as text (rendered beforehand).
    nft_text_ms: Vec<f64>,
    nft_text_median_ms: f64,
    ratio: f64,
    incremental: Incremental,
}

#[derive(Debug, Clone, Serialize)]
struct LoadStats {
    sent: u64,
    answered: u64,
    noerror: u64,
    nxdomain: u64,
    failed: u64,
    qps: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// CPU of the whole bench process (server and generator) per answer.
    process_cpu_us_per_query: f64,
}

#[derive(Debug, Clone, Serialize)]
struct DnsResult {
    services: u32,
    concurrency: usize,
    duration_secs: f64,
    server: LoadStats,
    baseline: LoadStats,
}

#[derive(Debug, Clone, Serialize)]
struct ProxyReport {
    machine: Machine,
    nft: Option<NftResult>,
    dns: Option<DnsResult>,
    goals: Vec<Goal>,
}

fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = rt.block_on(async {
        tokio::select! {
            r = run(&flags) => Some(r),
            s = bench::cluster::interrupted() => {
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
        flags.out_dir.join("proxy.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    let md = markdown(&report);
    std::fs::write(flags.out_dir.join("proxy.md"), &md)?;
    println!("{md}");
    eprintln!(
        "bench: wrote {}/proxy.md and proxy.json",
        flags.out_dir.display()
    );
    Ok(())
}

async fn run(flags: &Flags) -> anyhow::Result<ProxyReport> {
    let machine = Machine::collect("etcd");
    let nft = if flags.skip_nft {
        None
    } else {
        Some(nft_part(flags).await?)
    };
    let dns = if flags.skip_dns {
        None
    } else {
        Some(dns_part(flags).await?)
    };
    let mut goals = Vec::new();
    if let Some(n) = &nft {
        goals.push(Goal {
            name: "full sync: library path / `nft -f` text".into(),
            target: GOAL_FULL_RATIO,
            actual: n.ratio,
            met: n.ratio <= GOAL_FULL_RATIO,
        });
        goals.push(Goal {
            name: "one endpoint change, incremental sync p50 (ms)".into(),
            target: GOAL_INCREMENTAL_P50_MS,
            actual: n.incremental.total.p50_ms,
            met: n.incremental.total.p50_ms <= GOAL_INCREMENTAL_P50_MS,
        });
    }
    Ok(ProxyReport {
        machine,
        nft,
        dns,
        goals,
    })
}

// ------------------------------------------------------------- nftables

/// The bench's table; deleted on drop (error, Ctrl-C) and between runs.
struct Table(String);

impl Table {
    /// Deletes the table if it exists (untimed, between runs).
    async fn delete(&self) -> anyhow::Result<()> {
        NftCli::default()
            .apply(&nft::cleanup(&self.0))
            .await
            .with_context(|| format!("deleting table ip {}", self.0))
    }
}

/// Our own `nft` children still running (not zombies): an interrupted sync
/// leaves its `nft` running, and it would recreate the table after we
/// deleted it.
fn running_nft_children() -> Vec<u32> {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // "pid (comm) state ppid ..."
            let Some((head, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let mut f = rest.split_whitespace();
            let (state, ppid) = (f.next(), f.next());
            head.ends_with("(nft") && state != Some("Z") && ppid == Some(me.as_str())
        })
        .collect()
}

impl Drop for Table {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !running_nft_children().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = std::process::Command::new("nft")
            .args(["delete", "table", "ip", &self.0])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    percentile(&s, 0.5)
}

async fn nft_file(path: &std::path::Path) -> anyhow::Result<()> {
    let out = tokio::process::Command::new("nft")
        .arg("-f")
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .await
        .context("running nft")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!(
            "nft -f {}: {}",
            path.display(),
            err.chars().take(2000).collect::<String>()
        );
    }
    Ok(())
}

/// `nft -f -` with `text` on stdin.
async fn nft_stdin(text: &str) -> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("running nft")?;
    let mut stdin = child.stdin.take().context("nft stdin")?;
    stdin.write_all(text.as_bytes()).await?;
    drop(stdin);
    let out = child.wait_with_output().await?;
    if !out.status.success() {
        bail!(
            "nft -f -: {}",
            String::from_utf8_lossy(&out.stderr)
                .chars()
                .take(2000)
                .collect::<String>()
        );
    }
    Ok(())
}

async fn nft_part(flags: &Flags) -> anyhow::Result<NftResult> {
    let table_name = flags
        .table
        .clone()
        .unwrap_or_else(|| format!("bench-proxy-{}", std::process::id()));
    if table_name == "kube-proxy" {
        bail!("refusing to use kube-proxy's table; pick another --table");
    }
    if flags.services > svc_model::MAX_SERVICES
        || u64::from(flags.services) * u64::from(flags.endpoints) + flags.changes as u64
            > u64::from(svc_model::MAX_ENDPOINTS)
    {
        bail!("too many services or endpoints for the bench's address ranges");
    }
    let dir = TempDir::new("proxy-bench")?;
    let table = Table(table_name.clone());
    let (s, e) = (flags.services, flags.endpoints);
    eprintln!("bench: nft: {s} services x {e} endpoints into table ip {table_name}");
    let model = svc_model::model(s, e);
    let cfg = RulesetConfig::new(&table_name, "bench-node");

    // The pieces, once, in process.
    let t = Instant::now();
    let rs = proxy::build(&model, &cfg);
    let build_ms = ms_since(t);
    let t = Instant::now();
    let tx = nft::full(&rs, None);
    let full_diff_ms = ms_since(t);
    let t = Instant::now();
    let json = nft::to_json(&tx).to_string();
    let json_ms = ms_since(t);
    let t = Instant::now();
    let text = nft::to_text(&tx);
    let text_render_ms = ms_since(t);
    let text_file = dir.path().join("full.nft");
    std::fs::write(&text_file, &text)?;
    let (chains, commands, json_bytes, text_bytes) =
        (rs.chain_count(), tx.commands.len(), json.len(), text.len());
    drop((json, text, tx));

    // Both paths from an absent table, alternating which goes first.
    let cli = NftCli::default();
    let mut library_full_ms = Vec::new();
    let mut nft_text_ms = Vec::new();
    for r in 0..flags.repeats.max(1) {
        for library in [r % 2 == 1, r % 2 == 0] {
            table.delete().await?;
            if library {
                let t = Instant::now();
                let rs = proxy::build(&model, &cfg);
                let tx = nft::full(&rs, None);
                cli.apply(&tx).await?;
                library_full_ms.push(ms_since(t));
            } else {
                let t = Instant::now();
                nft_file(&text_file).await?;
                nft_text_ms.push(ms_since(t));
            }
        }
        eprintln!(
            "bench: nft: full sync {}: library {:.0} ms, nft -f {:.0} ms",
            r + 1,
            library_full_ms.last().copied().unwrap_or(0.0),
            nft_text_ms.last().copied().unwrap_or(0.0)
        );
    }
    // Both paths applied the same transaction: the table now holds `rs`.

    // One endpoint change at a time; changes alternate between the library
    // path and the same diff as text through `nft -f -` (the baseline).
    eprintln!("bench: nft: {} incremental syncs per path", flags.changes);
    let mut m = model;
    let mut old = rs;
    let (mut total, mut build, mut diff, mut apply, mut cmds) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut text_apply = Vec::new();
    let mut last_changed = None;
    for c in 0..2 * flags.changes {
        let i = ((c as u64 * 7919) % u64::from(s)) as u32;
        svc_model::replace_endpoint(&mut m, i, s * e + c as u32);
        let t0 = Instant::now();
        let new = proxy::build(&m, &cfg);
        let t1 = Instant::now();
        let tx = nft::incremental(&old, &new).context("an endpoint change gave no diff")?;
        let t2 = Instant::now();
        if c % 2 == 0 {
            cli.apply(&tx).await?;
            let t3 = Instant::now();
            total.push((t3 - t0).as_secs_f64() * 1e3);
            build.push((t1 - t0).as_secs_f64() * 1e3);
            diff.push((t2 - t1).as_secs_f64() * 1e3);
            apply.push((t3 - t2).as_secs_f64() * 1e3);
            cmds.push(tx.commands.len() as f64);
        } else {
            let text = nft::to_text(&tx);
            let t = Instant::now();
            nft_stdin(&text).await?;
            text_apply.push(ms_since(t));
        }
        old = new;
        last_changed = Some((i, s * e + c as u32));
    }
    // The kernel has the last change: its service chain names the fresh
    // endpoint's chain.
    if let Some((i, fresh)) = last_changed {
        let chains = proxy::ruleset::ServiceChains::new(&svc_model::port_name(i));
        let out = tokio::process::Command::new("nft")
            .args(["list", "chain", "ip", &table_name, &chains.service])
            .output()
            .await?;
        let listing = String::from_utf8_lossy(&out.stdout);
        let want = svc_model::endpoint_ip(fresh).to_string();
        if !listing.contains(&want) {
            bail!("the last incremental sync is not in the kernel: {listing}");
        }
    }
    table.delete().await?;
    drop(table);

    let library_full_median_ms = median(&library_full_ms);
    let nft_text_median_ms = median(&nft_text_ms);
    Ok(NftResult {
        table: table_name,
        services: s,
        endpoints_per_service: e,
        chains,
        commands,
        json_bytes,
        text_bytes,
        build_ms,
        full_diff_ms,
        json_ms,
        text_render_ms,
        library_full_ms,
        library_full_median_ms,
        nft_text_ms,
        nft_text_median_ms,
        ratio: bench::report::ratio(library_full_median_ms, nft_text_median_ms),
        incremental: Incremental {
            changes: flags.changes,
            commands_p50: median(&cmds),
            total: Latency::of(total),
            build: Latency::of(build),
            diff: Latency::of(diff),
            apply: Latency::of(apply),
            text_apply: Latency::of(text_apply),
        },
    })
}

// ------------------------------------------------------------------ DNS

fn service(i: u32) -> anyhow::Result<k8s_openapi::api::core::v1::Service> {
    Ok(serde_json::from_value(serde_json::json!({
        "metadata": {"name": svc_model::service_name(i), "namespace": svc_model::NAMESPACE},
        "spec": {"clusterIP": svc_model::cluster_ip(i).to_string(),
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
    }))?)
}

/// One load phase, with the bench process's CPU per answered query.
async fn load(
    target: SocketAddr,
    names: &[(Name, RecordType)],
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<LoadStats> {
    // A short warm-up (sockets, caches), not counted.
    dns::loadgen::run_load(target, names, concurrency, Duration::from_millis(300)).await?;
    let cpu0 = cpu_seconds("self").unwrap_or(0.0);
    let r = dns::loadgen::run_load(target, names, concurrency, duration).await?;
    let cpu = cpu_seconds("self").unwrap_or(0.0) - cpu0;
    if r.noerror == 0 {
        bail!("no NOERROR answers from {target}: {r:?}");
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Ok(LoadStats {
        sent: r.sent,
        answered: r.answered,
        noerror: r.noerror,
        nxdomain: r.nxdomain,
        failed: r.failed,
        qps: r.qps,
        p50_ms: ms(r.p50),
        p99_ms: ms(r.p99),
        max_ms: ms(r.max),
        process_cpu_us_per_query: if r.answered > 0 {
            cpu * 1e6 / r.answered as f64
        } else {
            0.0
        },
    })
}

async fn dns_part(flags: &Flags) -> anyhow::Result<DnsResult> {
    let d = flags.dns_services;
    eprintln!("bench: dns: index of {d} services");
    let mut index = dns::Index::new("cluster.local", None);
    for i in 0..d {
        index.apply_service(&service(i)?);
    }
    if index.service_count() != d as usize {
        bail!("the index holds {} of {d} services", index.service_count());
    }
    let config = dns::Config {
        dns_bind_address: ([127, 0, 0, 1], 0).into(),
        health_bind_address: None,
        ready_bind_address: None,
        metrics_bind_address: None,
        upstreams: dns::Upstreams::Explicit(Vec::new()),
        ..dns::Config::default()
    };
    let server = dns::start_with_index(
        &config,
        Arc::new(RwLock::new(index)),
        Arc::new(dns::Readiness::ready()),
    )
    .await?;
    let names: Vec<(Name, RecordType)> = (0..d)
        .map(|i| {
            let n = format!(
                "{}.{}.svc.cluster.local.",
                svc_model::service_name(i),
                svc_model::NAMESPACE
            );
            Ok((Name::from_ascii(&n)?, RecordType::A))
        })
        .collect::<anyhow::Result<_>>()?;
    let duration = Duration::from_secs_f64(flags.dns_duration_secs);
    eprintln!(
        "bench: dns: our server, {} clients for {:?}",
        flags.dns_concurrency, duration
    );
    let ours = load(server.dns_addr, &names, flags.dns_concurrency, duration).await;
    server.shutdown().await?;
    let ours = ours?;
    if ours.nxdomain > 0 {
        bail!("the server answered NXDOMAIN for indexed services: {ours:?}");
    }

    let (addr, task) =
        bench::dns_echo::serve(([127, 0, 0, 1], 0).into(), Ipv4Addr::new(198, 18, 0, 1)).await?;
    eprintln!("bench: dns: fixed-answer responder, same load");
    let baseline = load(addr, &names, flags.dns_concurrency, duration).await;
    task.abort();
    Ok(DnsResult {
        services: d,
        concurrency: flags.dns_concurrency,
        duration_secs: flags.dns_duration_secs,
        server: ours,
        baseline: baseline?,
    })
}

// --------------------------------------------------------------- report

fn markdown(r: &ProxyReport) -> String {
    use std::fmt::Write as _;
    let m = &r.machine;
    let mut s = String::new();
    let _ = writeln!(s, "# kube-proxy (nftables) and cluster DNS\n");
    let _ = writeln!(
        s,
        "Written by `make bench TARGET=proxy` ({}); raw numbers in `proxy.json`. \
         Machine: {} cores ({}), {} GiB, kernel {}, {}, commit {}. One run on a small \
         shared machine: differences under ~15% are noise.\n",
        m.date, m.nproc, m.cpu_model, m.memory_gib, m.kernel, m.rustc_version, m.git_commit
    );
    if let Some(n) = &r.nft {
        let i = &n.incremental;
        let _ = writeln!(s, "## nftables sync\n");
        let _ = writeln!(
            s,
            "{} ClusterIP Services × {} ready endpoints = {} chains, {} commands \
             ({:.1} MiB of JSON, {:.1} MiB as `nft -f` text), into the bench's own table `ip {}`.\n",
            n.services,
            n.endpoints_per_service,
            n.chains,
            n.commands,
            n.json_bytes as f64 / 1048576.0,
            n.text_bytes as f64 / 1048576.0,
            n.table
        );
        let _ = writeln!(s, "| measure | value |\n| --- | ---: |");
        let _ = writeln!(
            s,
            "| **full sync, library path** (build + diff + JSON + `nft -j -f -`), median | **{:.0} ms** |",
            n.library_full_median_ms
        );
        let _ = writeln!(
            s,
            "| baseline: `nft -f` of the same transaction as text, median | {:.0} ms |",
            n.nft_text_median_ms
        );
        let _ = writeln!(s, "| ratio library / `nft -f` | {:.2}× |", n.ratio);
        let _ = writeln!(
            s,
            "| in process: `ruleset::build` / `nft::full` / JSON / text rendering | {:.0} / {:.0} / {:.0} / {:.0} ms |",
            n.build_ms, n.full_diff_ms, n.json_ms, n.text_render_ms
        );
        let _ = writeln!(
            s,
            "| each run, library | {} ms |",
            join_ms(&n.library_full_ms)
        );
        let _ = writeln!(s, "| each run, `nft -f` | {} ms |", join_ms(&n.nft_text_ms));
        let _ = writeln!(
            s,
            "| **one endpoint change, incremental sync** p50 / p99 / max ({} changes) | **{:.1}** / {:.1} / {:.1} ms |",
            i.changes, i.total.p50_ms, i.total.p99_ms, i.total.max_ms
        );
        let _ = writeln!(
            s,
            "| of which `ruleset::build` (whole model) p50 / p99 | {:.1} / {:.1} ms |",
            i.build.p50_ms, i.build.p99_ms
        );
        let _ = writeln!(
            s,
            "| of which `nft::incremental` p50 / p99 | {:.2} / {:.2} ms |",
            i.diff.p50_ms, i.diff.p99_ms
        );
        let _ = writeln!(
            s,
            "| of which apply (JSON + `nft -j -f -`) p50 / p99 | {:.1} / {:.1} ms |",
            i.apply.p50_ms, i.apply.p99_ms
        );
        let _ = writeln!(
            s,
            "| baseline: the same kind of diff as text through `nft -f -` p50 / p99 | {:.1} / {:.1} ms |",
            i.text_apply.p50_ms, i.text_apply.p99_ms
        );
        let _ = writeln!(
            s,
            "| commands per incremental transaction (median) | {:.0} |\n",
            i.commands_p50
        );
        let _ = writeln!(
            s,
            "Full syncs start from an absent table each time (deleting it is not timed) and \
             alternate which path goes first. The text is rendered before the clock starts; \
             the library path includes building the ruleset from the model. An incremental \
             sync replaces one endpoint of one service (as a rolling update does), rebuilds the \
             ruleset, diffs it against the one applied and applies the diff, as `Syncer::sync` \
             does; every other change instead goes as text through `nft -f -` (the baseline; \
             `nft` pays for reading the table into its cache either way). The bench then checks \
             the kernel's chain for the last change.\n"
        );
    }
    if let Some(d) = &r.dns {
        let _ = writeln!(s, "## Cluster DNS\n");
        let _ = writeln!(
            s,
            "`dns::start_with_index` on 127.0.0.1 with {} Services indexed; `dns::loadgen` runs {} \
             closed-loop UDP clients for {:.0} s asking `A svc-<i>.bench.svc.cluster.local.` over \
             all of them. Baseline: the same generator against a responder that answers every query \
             with one fixed A record from a single receive-answer-send loop. Server, responder and \
             generator share this process and its {}-core runtime.\n",
            d.services, d.concurrency, d.duration_secs, m.nproc
        );
        let _ = writeln!(
            s,
            "| server | queries/s | p50 | p99 | max | failed | process CPU µs/query |"
        );
        let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (name, l) in [
            ("our DNS server (hickory-server + index)", &d.server),
            ("baseline: fixed-answer UDP loop", &d.baseline),
        ] {
            let _ = writeln!(
                s,
                "| {name} | {:.0} | {:.3} ms | {:.3} ms | {:.2} ms | {} | {:.1} |",
                l.qps, l.p50_ms, l.p99_ms, l.max_ms, l.failed, l.process_cpu_us_per_query
            );
        }
        let _ = writeln!(
            s,
            "\nOur server reaches {:.0}% of the loop's throughput; the server's own cost is about \
             {:.1} µs of CPU per query (the difference in process CPU per query).\n",
            100.0 * bench::report::ratio(d.server.qps, d.baseline.qps),
            d.server.process_cpu_us_per_query - d.baseline.process_cpu_us_per_query
        );
    }
    if !r.goals.is_empty() {
        let _ = writeln!(s, "## Goals\n");
        let _ = writeln!(
            s,
            "| goal | target | now | status |\n| --- | ---: | ---: | --- |"
        );
        for g in &r.goals {
            let _ = writeln!(
                s,
                "| {} | ≤ {:.2} | {:.2} | {} |",
                g.name,
                g.target,
                g.actual,
                if g.met { "met" } else { "not yet" }
            );
        }
    }
    s
}

fn join_ms(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}
