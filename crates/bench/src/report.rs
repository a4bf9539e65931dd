//! The results: machine description, raw numbers (JSON) and the table
//! (Markdown) that `docs/bench/` keeps, so a later run can be compared.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::api::ListResult;
use crate::load::Summary;
use crate::probe::Usage;
use crate::raw_etcd::Baseline;
use crate::watch::WatchResult;

/// Later goals, as ratios to the raw etcd baseline.
pub const GOAL_CREATE_VS_PUT: f64 = 0.7;
pub const GOAL_GET_VS_READ: f64 = 1.5;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
    pub etcd_version: String,
    pub rustc_version: String,
    pub git_commit: String,
    pub date: String,
}

impl Machine {
    pub fn collect(etcd_bin: &str) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        Machine {
            nproc: std::thread::available_parallelism().map_or(0, usize::from),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| {
                    l.strip_prefix("model name")?
                        .split_once(':')
                        .map(|(_, v)| v.trim().to_string())
                })
                .unwrap_or_else(|| "unknown".into()),
            memory_gib: (mem_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| "unknown".into(), |s| s.trim().to_string()),
            etcd_version: first_line(etcd_bin, &["--version"])
                .trim_start_matches("etcd Version: ")
                .to_string(),
            rustc_version: first_line("rustc", &["--version"]),
            git_commit: first_line("git", &["describe", "--always", "--dirty"]),
            date: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }
    }
}

fn first_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// The knobs of this run.
#[derive(Debug, Clone, Serialize)]
pub struct Params {
    pub concurrency: usize,
    pub object_size_bytes: usize,
    pub warmup_secs: f64,
    pub duration_secs: f64,
    pub read_keys: usize,
    pub list_size: usize,
    pub watch_events: u64,
    pub http2_connections: usize,
    pub client_threads: usize,
    pub etcd_fsync: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiResults {
    pub create: Summary,
    pub get: Summary,
    pub list: ListResult,
    pub watch: WatchResult,
}

#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    pub name: String,
    pub target: f64,
    pub actual: f64,
    pub met: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub params: Params,
    pub etcd: Baseline,
    pub apiserver: ApiResults,
    pub goals: Vec<Goal>,
}

impl Report {
    pub fn new(machine: Machine, params: Params, etcd: Baseline, apiserver: ApiResults) -> Report {
        let goal = |name: &str, target: f64, actual: f64| Goal {
            name: name.into(),
            target,
            actual,
            met: actual >= target,
        };
        let goals = vec![
            goal(
                "apiserver creates / raw etcd txn puts",
                GOAL_CREATE_VS_PUT,
                ratio(apiserver.create.ops_per_sec, etcd.txn_put.ops_per_sec),
            ),
            goal(
                "apiserver gets / raw etcd linearizable reads (needs a watch cache)",
                GOAL_GET_VS_READ,
                ratio(apiserver.get.ops_per_sec, etcd.get.ops_per_sec),
            ),
        ];
        Report {
            machine,
            params,
            etcd,
            apiserver,
            goals,
        }
    }

    pub fn write(&self, dir: &Path, name: &str) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(
            dir.join(format!("{name}.json")),
            serde_json::to_string_pretty(self)? + "\n",
        )?;
        std::fs::write(dir.join(format!("{name}.md")), self.markdown())?;
        Ok(())
    }

    pub fn markdown(&self) -> String {
        let (m, p, e, a) = (&self.machine, &self.params, &self.etcd, &self.apiserver);
        let mut s = String::new();
        let _ = writeln!(s, "# kube-apiserver vs raw etcd\n");
        let _ = writeln!(
            s,
            "Written by `make bench TARGET=apiserver` ({}); raw numbers in `apiserver.json`. \
             One run on a small shared machine: differences under ~15% are noise.\n",
            m.date
        );
        let _ = writeln!(s, "## Results\n");
        let _ = writeln!(s, "| operation | ops/s | p50 | p99 | vs etcd | notes |");
        let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | --- |");
        row(
            &mut s,
            "etcd txn put (`create_revision == 0`)",
            &e.txn_put,
            "baseline",
            "",
        );
        row(
            &mut s,
            "etcd linearizable get (one key)",
            &e.get,
            "baseline",
            "",
        );
        let create_ratio = format!(
            "{:.2}× puts",
            ratio(a.create.ops_per_sec, e.txn_put.ops_per_sec)
        );
        row(
            &mut s,
            "apiserver create (POST ConfigMap)",
            &a.create,
            &create_ratio,
            "",
        );
        let get_ratio = format!("{:.2}× reads", ratio(a.get.ops_per_sec, e.get.ops_per_sec));
        row(
            &mut s,
            "apiserver get (GET ConfigMap)",
            &a.get,
            &get_ratio,
            "",
        );
        let list_note = format!(
            "{:.0} objects/s; {} objects, {} KiB per list",
            a.list.objects_per_sec,
            a.list.items_per_list,
            a.list.bytes_per_list / 1024
        );
        row(
            &mut s,
            &format!("apiserver list ({} objects)", a.list.items_per_list),
            &a.list.lists,
            "–",
            &list_note,
        );
        let w = &a.watch;
        let mut watch_note = format!(
            "{} of {} events; p50/p99 = delay from create response to event",
            w.events, w.expected
        );
        if w.create_errors > 0 {
            let _ = write!(
                watch_note,
                "; {} create errors: {}",
                w.create_errors,
                w.first_error.as_deref().unwrap_or("")
            );
        }
        let _ = writeln!(
            s,
            "| apiserver watch (events delivered) | {:.0} | {:.2} ms | {:.2} ms | – | {watch_note} |",
            w.events_per_sec, w.delay_p50_ms, w.delay_p99_ms
        );

        let _ = writeln!(s, "\n## Goals\n");
        let _ = writeln!(s, "| goal | target | now | status |");
        let _ = writeln!(s, "| --- | ---: | ---: | --- |");
        for g in &self.goals {
            let status = if g.met { "met" } else { "not yet" };
            let _ = writeln!(
                s,
                "| {} | ≥ {:.2}× | {:.2}× | {status} |",
                g.name, g.target, g.actual
            );
        }

        let _ = writeln!(s, "\n## Cost per operation\n");
        let _ = writeln!(
            s,
            "CPU time each process spent in the measured window divided by the operations completed \
             (µs/op), the average number of cores it kept busy (the machine has {} cores shared by all \
             three processes; \"others\" is everything else running, i.e. noise), and the etcd KV RPCs each operation caused (from etcd's `/metrics`).\n",
            m.nproc
        );
        let _ = writeln!(
            s,
            "| phase | etcd µs/op | kube-apiserver µs/op | bench client µs/op | cores busy (etcd / apiserver / client / others) | etcd RPCs/op |"
        );
        let _ = writeln!(s, "| --- | ---: | ---: | ---: | --- | --- |");
        usage_row(&mut s, "etcd txn put", &e.txn_put.usage);
        usage_row(&mut s, "etcd get", &e.get.usage);
        usage_row(&mut s, "apiserver create", &a.create.usage);
        usage_row(&mut s, "apiserver get", &a.get.usage);
        usage_row(&mut s, "apiserver list", &a.list.lists.usage);
        usage_row(&mut s, "apiserver watch (per event)", &a.watch.usage);

        let _ = writeln!(s, "\n## How it was measured\n");
        let _ = writeln!(
            s,
            "- {} closed-loop workers per phase, {:.0} s warm-up then {:.0} s measured; objects are \
             ConfigMaps of {} bytes of JSON (the raw etcd value is the same bytes; the apiserver stores \
             a somewhat larger object with its metadata). Order: etcd puts, apiserver creates, etcd gets, \
             apiserver gets, list, watch, so each compared pair runs back to back.",
            p.concurrency, p.warmup_secs, p.duration_secs, p.object_size_bytes
        );
        let _ = writeln!(
            s,
            "- etcd: one member, its own process, data in a temp dir, {}. The baseline uses etcd-client over \
             one gRPC connection, like the apiserver's storage layer; the apiserver's runs use the same etcd.",
            if p.etcd_fsync { "fsync on" } else { "`--unsafe-no-fsync` (as etcd-harness starts it), so disk speed is out of the picture" }
        );
        let _ = writeln!(
            s,
            "- kube-apiserver: the release binary in its own process; the client speaks HTTP/2 over TLS on {} \
             multiplexed connection(s) with a bearer token, as client-go does.",
            p.http2_connections
        );
        let _ = writeln!(
            s,
            "- get: single objects scattered over {} keys written by the put/create phase. list: one namespace \
             holding {} objects, no paging. watch: one watch from the namespace's list revision while {} \
             objects are created by the same workers; events/s counts from the first create to the last event.",
            p.read_keys, p.list_size, p.watch_events
        );
        let _ = writeln!(s, "\n## Machine\n");
        let _ = writeln!(s, "| | |\n| --- | --- |");
        let _ = writeln!(s, "| CPUs (nproc) | {} |", m.nproc);
        let _ = writeln!(s, "| CPU model | {} |", m.cpu_model);
        let _ = writeln!(s, "| memory | {} GiB |", m.memory_gib);
        let _ = writeln!(s, "| kernel | {} |", m.kernel);
        let _ = writeln!(s, "| etcd | {} |", m.etcd_version);
        let _ = writeln!(s, "| rustc | {} |", m.rustc_version);
        let _ = writeln!(s, "| commit | {} |", m.git_commit);
        let _ = writeln!(s, "| date | {} |", m.date);
        s
    }
}

fn row(s: &mut String, name: &str, x: &Summary, vs: &str, note: &str) {
    let mut note = note.to_string();
    if x.errors > 0 {
        if !note.is_empty() {
            note.push_str("; ");
        }
        let _ = write!(
            note,
            "{} errors: {}",
            x.errors,
            x.first_error.as_deref().unwrap_or("").replace('|', "/")
        );
    }
    let _ = writeln!(
        s,
        "| {name} | {:.0} | {:.2} ms | {:.2} ms | {vs} | {note} |",
        x.ops_per_sec, x.p50_ms, x.p99_ms
    );
}

fn usage_row(s: &mut String, phase: &str, u: &Usage) {
    let get = |name: &str| u.cpu.iter().find(|c| c.process == name);
    let us = |name: &str| get(name).map_or("–".to_string(), |c| format!("{:.0}", c.us_per_op));
    let cores = |name: &str| get(name).map_or("–".to_string(), |c| format!("{:.2}", c.cores));
    let rpcs: Vec<String> = u
        .etcd_rpcs_per_op
        .iter()
        .map(|(m, n)| format!("{m} {n:.2}"))
        .collect();
    let _ = writeln!(
        s,
        "| {phase} | {} | {} | {} | {} / {} / {} / {} | {} |",
        us("etcd"),
        us("kube-apiserver"),
        us("bench"),
        cores("etcd"),
        cores("kube-apiserver"),
        cores("bench"),
        u.other_cores.map_or("–".to_string(), |c| format!("{c:.2}")),
        if rpcs.is_empty() {
            "–".to_string()
        } else {
            rpcs.join(", ")
        }
    );
}

/// `a / b`, or 0 when there is no baseline.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}
