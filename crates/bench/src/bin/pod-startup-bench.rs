//! pod-startup-bench: how fast our kubelet turns pods into running
//! containers, and what it costs in memory. Needs root and containerd.
//!
//! A private containerd (`cri::testing::Containerd`, with the busybox and
//! pause images imported), etcd, the release kube-apiserver and the
//! release `kubelet` as children. Baseline first, on the same containerd:
//! `ctr run -d` of the same image (it returns once the task runs), one
//! after another and then all at once. Then the kubelet registers its
//! Node; its memory is read idle, then P busybox pods (`sleep 3600`,
//! `nodeName` set, so no scheduler) are created at once and a watch times
//! each from its create response to `phase: Running`; memory again; the
//! pods are deleted and everything stopped.
//!
//! Writes `docs/bench/pod-startup.{md,json}`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use http::Method;
use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

use bench::cluster::{self, ControlPlane, Memory, Proc};
use bench::cpu::cpu_seconds;
use bench::load::percentile;
use bench::procs::{free_port, TempDir};
use bench::report::{Goal, Machine};
use cri::testing::{Containerd, BUSYBOX_IMAGE};

/// Our goal: pod startup p50 within this factor of raw `ctr run`.
const GOAL_P50_RATIO: f64 = 1.3;
/// Our goal for the idle kubelet.
const GOAL_IDLE_RSS_MIB: f64 = 25.0;
/// Upstream's kubelet resource thresholds (node e2e, "resource usage").
const UPSTREAM_IDLE_MIB: f64 = 200.0;
const UPSTREAM_100_PODS_MIB: f64 = 300.0;
/// The Node the kubelet registers.
const NODE: &str = "bench-node";

#[derive(Parser, Debug, Clone)]
#[command(name = "pod-startup-bench")]
struct Flags {
    /// Pods created at once for the kubelet.
    #[arg(long, default_value_t = 50)]
    pods: usize,
    /// `ctr run -d` runs per baseline mode.
    #[arg(long, default_value_t = 50)]
    baseline_runs: usize,
    /// Baseline modes: sequential, concurrent or both.
    #[arg(long, default_value = "both")]
    baseline_mode: String,
    /// Seconds the registered kubelet idles before its memory is read.
    #[arg(long, default_value_t = 10.0)]
    settle_secs: f64,
    /// Give up waiting for pods after this many seconds.
    #[arg(long, default_value_t = 300.0)]
    timeout_secs: f64,
    /// Where kube-apiserver and kubelet are (default: next to this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Where pod-startup.md and pod-startup.json are written.
    #[arg(long, default_value = "docs/bench")]
    out_dir: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
struct Startup {
    count: usize,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

impl Startup {
    fn of(mut v: Vec<f64>) -> Startup {
        v.sort_by(f64::total_cmp);
        Startup {
            count: v.len(),
            p50_ms: percentile(&v, 0.50),
            p90_ms: percentile(&v, 0.90),
            p99_ms: percentile(&v, 0.99),
            max_ms: v.last().copied().unwrap_or(0.0),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct PodStartupReport {
    machine: Machine,
    containerd_version: String,
    pods: usize,
    /// `ctr run -d`, one at a time.
    baseline_sequential: Option<Startup>,
    /// `ctr run -d`, all at once.
    baseline_concurrent: Option<Startup>,
    /// Create response to `Running` seen on a watch.
    kubelet: Startup,
    /// First create sent to the last pod Running.
    all_running_secs: f64,
    /// Kubelet CPU seconds from the first create to the last pod Running.
    kubelet_cpu_secs: f64,
    kubelet_idle: Option<Memory>,
    kubelet_with_pods: Option<Memory>,
    /// Seconds from the delete requests until every pod object was gone.
    delete_all_secs: f64,
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
        flags.out_dir.join("pod-startup.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    let md = markdown(&report);
    std::fs::write(flags.out_dir.join("pod-startup.md"), &md)?;
    println!("{md}");
    eprintln!(
        "bench: wrote {}/pod-startup.md and pod-startup.json",
        flags.out_dir.display()
    );
    Ok(())
}

/// Containers the baseline started with `ctr`; removed on drop.
struct RawContainers {
    socket: PathBuf,
    ids: Mutex<Vec<String>>,
}

impl RawContainers {
    fn ctr(&self) -> std::process::Command {
        let mut c = std::process::Command::new("ctr");
        c.arg("-a")
            .arg(&self.socket)
            .args(["-n", "k8s.io"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    /// Kills and removes every container started so far.
    fn remove_all(&self) {
        let ids = std::mem::take(&mut *self.ids.lock().unwrap_or_else(|e| e.into_inner()));
        for id in &ids {
            let _ = self.ctr().args(["task", "delete", "--force", id]).status();
            let _ = self.ctr().args(["container", "delete", id]).status();
        }
    }
}

impl Drop for RawContainers {
    fn drop(&mut self) {
        self.remove_all();
    }
}

/// One `ctr run -d` (returns once the task is running); its wall time.
async fn ctr_run(raw: &RawContainers, cgroup_root: &str, id: String) -> anyhow::Result<f64> {
    raw.ids
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(id.clone());
    let t = Instant::now();
    let out = tokio::process::Command::new("ctr")
        .arg("-a")
        .arg(&raw.socket)
        .args(["-n", "k8s.io", "run", "-d", "--cgroup"])
        .arg(format!("{cgroup_root}/{id}"))
        .args([BUSYBOX_IMAGE, &id, "sleep", "3600"])
        .stdin(Stdio::null())
        .output()
        .await
        .context("running ctr")?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    if !out.status.success() {
        bail!(
            "ctr run {id}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(ms)
}

async fn baseline(
    raw: &Arc<RawContainers>,
    cgroup_root: &str,
    runs: usize,
    concurrent: bool,
    tag: &str,
) -> anyhow::Result<Startup> {
    let mut times = Vec::new();
    if concurrent {
        let mut set = JoinSet::new();
        for i in 0..runs {
            let (raw, root) = (raw.clone(), cgroup_root.to_string());
            let id = format!("bench-raw-{tag}-{i}");
            set.spawn(async move { ctr_run(&raw, &root, id).await });
        }
        while let Some(r) = set.join_next().await {
            times.push(r??);
        }
    } else {
        for i in 0..runs {
            times.push(ctr_run(raw, cgroup_root, format!("bench-raw-{tag}-{i}")).await?);
        }
    }
    let r = raw.clone();
    tokio::task::spawn_blocking(move || r.remove_all()).await?;
    // The kubelet phase must not share containerd with leftovers.
    let out = tokio::process::Command::new("ctr")
        .arg("-a")
        .arg(&raw.socket)
        .args(["-n", "k8s.io", "containers", "list", "-q"])
        .output()
        .await?;
    let left: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("bench-raw-"))
        .map(str::to_string)
        .collect();
    if !left.is_empty() {
        bail!("baseline containers left after removal: {left:?}");
    }
    Ok(Startup::of(times))
}

fn pod_json(ns: &str, i: usize) -> String {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("p-{i}"), "namespace": ns},
        "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "c", "image": "busybox:1.35",
                                 "imagePullPolicy": "IfNotPresent",
                                 "command": ["sleep", "3600"]}]}
    })
    .to_string()
}

async fn node_ready(cp: &ControlPlane) -> anyhow::Result<Option<()>> {
    let Ok((_, body)) = cp
        .client
        .call(Method::GET, &format!("/api/v1/nodes/{NODE}"), None)
        .await
    else {
        return Ok(None);
    };
    let node: serde_json::Value = serde_json::from_slice(&body)?;
    let ready = node["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    Ok(ready.then_some(()))
}

/// Pod log directories the kubelet writes under /var/log/pods for our
/// namespace; removed on drop in case the bench stops before it deletes
/// its pods.
struct PodLogs(String);

impl Drop for PodLogs {
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir("/var/log/pods") else {
            return;
        };
        for e in entries.flatten() {
            if e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&format!("{}_", self.0)))
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

async fn run(flags: &Flags) -> anyhow::Result<PodStartupReport> {
    let etcd_bin = std::env::var("ETCD_BIN").unwrap_or_else(|_| "etcd".into());
    let machine = Machine::collect(&etcd_bin);
    let bin_dir = match &flags.bin_dir {
        Some(d) => d.clone(),
        None => cluster::default_bin_dir()?,
    };
    let dir = TempDir::new("pod-startup-bench")?;
    eprintln!("bench: starting a private containerd (imports busybox and pause)");
    let ctd = tokio::task::spawn_blocking(Containerd::start)
        .await?
        .context("starting containerd (needs root; hack/install-deps.sh)")?;
    let containerd_version = std::process::Command::new("containerd")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let raw = Arc::new(RawContainers {
        socket: ctd.socket(),
        ids: Mutex::default(),
    });
    let result = measure(flags, &bin_dir, &dir, &ctd, &raw).await;
    // Containers first, then containerd (its drop removes sandboxes, shims,
    // cgroups, the bridge and its directory).
    let r2 = raw.clone();
    let _ = tokio::task::spawn_blocking(move || r2.remove_all()).await;
    tokio::task::spawn_blocking(move || drop(ctd)).await?;
    let Measured {
        kubelet: k,
        sequential: seq,
        concurrent: conc,
    } = result?;
    let idle = k.idle;
    let mut goals = vec![Goal {
        name: "idle kubelet RSS (MiB)".into(),
        target: GOAL_IDLE_RSS_MIB,
        actual: idle.map_or(0.0, |m| m.rss_mib),
        met: idle.is_some_and(|m| m.rss_mib <= GOAL_IDLE_RSS_MIB),
    }];
    let raw_ref = conc.as_ref().or(seq.as_ref());
    if let Some(b) = raw_ref {
        let ratio = bench::report::ratio(k.startup.p50_ms, b.p50_ms);
        goals.insert(
            0,
            Goal {
                name: format!(
                    "pod startup p50 / raw `ctr run` p50 ({})",
                    if conc.is_some() {
                        "concurrent"
                    } else {
                        "sequential"
                    }
                ),
                target: GOAL_P50_RATIO,
                actual: ratio,
                met: ratio <= GOAL_P50_RATIO,
            },
        );
    }
    Ok(PodStartupReport {
        machine,
        containerd_version,
        pods: flags.pods,
        baseline_sequential: seq,
        baseline_concurrent: conc,
        kubelet: k.startup,
        all_running_secs: k.all_running_secs,
        kubelet_cpu_secs: k.cpu_secs,
        kubelet_idle: idle,
        kubelet_with_pods: k.with_pods,
        delete_all_secs: k.delete_all_secs,
        goals,
    })
}

/// What the kubelet phase measured.
struct KubeletPhase {
    startup: Startup,
    idle: Option<Memory>,
    with_pods: Option<Memory>,
    all_running_secs: f64,
    cpu_secs: f64,
    delete_all_secs: f64,
}

/// The kubelet phase and the two baselines.
struct Measured {
    kubelet: KubeletPhase,
    sequential: Option<Startup>,
    concurrent: Option<Startup>,
}

async fn measure(
    flags: &Flags,
    bin_dir: &Path,
    dir: &TempDir,
    ctd: &Containerd,
    raw: &Arc<RawContainers>,
) -> anyhow::Result<Measured> {
    let cgroup_root = ctd.cgroup_root();
    let (seq_on, conc_on) = match flags.baseline_mode.as_str() {
        "both" => (true, true),
        "sequential" => (true, false),
        "concurrent" => (false, true),
        other => bail!("--baseline-mode {other}: want sequential, concurrent or both"),
    };
    let mut seq = None;
    let mut conc = None;
    if seq_on {
        eprintln!(
            "bench: baseline: {} x ctr run -d, one at a time",
            flags.baseline_runs
        );
        seq = Some(baseline(raw, &cgroup_root, flags.baseline_runs, false, "s").await?);
    }
    if conc_on {
        eprintln!(
            "bench: baseline: {} x ctr run -d, all at once",
            flags.baseline_runs
        );
        conc = Some(baseline(raw, &cgroup_root, flags.baseline_runs, true, "c").await?);
    }

    let cp = ControlPlane::start(bin_dir, dir.path(), "pod-startup-bench").await?;
    let kubeconfig = dir.path().join("kubelet.kubeconfig");
    cp.write_kubeconfig(&kubeconfig)?;
    let ns = format!("pod-startup-{}", std::process::id());
    let _logs = PodLogs(ns.clone());
    let kubelet_args = vec![
        format!("--kubeconfig={}", kubeconfig.display()),
        format!("--hostname-override={NODE}"),
        "--node-ip=127.0.0.1".into(),
        format!(
            "--container-runtime-endpoint=unix://{}",
            ctd.socket().display()
        ),
        format!("--root-dir={}", dir.path().join("kubelet").display()),
        format!("--cgroup-root={cgroup_root}"),
        format!(
            "--cni-conf-dir={}",
            dir.path().join("kubelet-cni-unused").display()
        ),
        "--address=127.0.0.1".into(),
        format!("--port={}", free_port()?),
    ];
    eprintln!("bench: starting the kubelet");
    let mut kubelet = Proc::spawn(
        "kubelet",
        &bin_dir.join("kubelet"),
        &kubelet_args,
        dir.path().join("kubelet.log"),
    )
    .context("cargo build --release -p kubelet-cmd")?;
    let result = pods_phase(flags, &cp, &mut kubelet, &ns).await;
    let result = result.map_err(|e| {
        anyhow::anyhow!(
            "{e:#}\nkubelet log tail:\n{}\nkube-apiserver log tail:\n{}",
            kubelet.log_tail(30),
            cp.server.log_tail()
        )
    });
    kubelet.stop(Duration::from_secs(10)).await;
    cp.stop().await;
    Ok(Measured {
        kubelet: result?,
        sequential: seq,
        concurrent: conc,
    })
}

async fn pods_phase(
    flags: &Flags,
    cp: &ControlPlane,
    kubelet: &mut Proc,
    ns: &str,
) -> anyhow::Result<KubeletPhase> {
    cluster::wait_until("node Ready", Duration::from_secs(90), || {
        let alive = kubelet.check_alive();
        async move {
            alive?;
            node_ready(cp).await
        }
    })
    .await?;
    eprintln!(
        "bench: node Ready; idling {:.0} s before reading the kubelet's memory",
        flags.settle_secs
    );
    tokio::time::sleep(Duration::from_secs_f64(flags.settle_secs)).await;
    let idle = cluster::memory(kubelet.pid);

    cp.create_namespace(ns).await?;
    let path = format!("/api/v1/namespaces/{ns}/pods");
    let rv = cluster::list_revision(&cp.client, &path).await?;
    let n = flags.pods;
    let deadline = Instant::now() + Duration::from_secs_f64(flags.timeout_secs);
    let running: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; n]));
    let watcher = {
        let (client, running, path) = (cp.client.clone(), running.clone(), path.clone());
        tokio::spawn(async move {
            let mut seen = 0;
            cluster::watch_events(&client, &path, &rv, deadline, |_, obj, at| {
                if obj["status"]["phase"] != "Running" {
                    return false;
                }
                let i = obj["metadata"]["name"]
                    .as_str()
                    .and_then(|s| s.strip_prefix("p-"))
                    .and_then(|s| s.parse::<usize>().ok());
                let mut r = running.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(slot) = i.and_then(|i| r.get_mut(i)) {
                    if slot.is_none() {
                        *slot = Some(at);
                        seen += 1;
                    }
                }
                seen >= n
            })
            .await
        })
    };
    // Give the watch a moment to be established.
    tokio::time::sleep(Duration::from_millis(300)).await;

    eprintln!("bench: creating {n} pods at once");
    let cpu0 = cpu_seconds(&kubelet.pid.to_string()).unwrap_or(0.0);
    let start = Instant::now();
    let mut creates = JoinSet::new();
    for i in 0..n {
        let (client, path, body) = (cp.client.clone(), path.clone(), pod_json(ns, i));
        creates.spawn(async move {
            client.call(Method::POST, &path, Some(body.into())).await?;
            anyhow::Ok((i, Instant::now()))
        });
    }
    let mut created = vec![None; n];
    while let Some(r) = creates.join_next().await {
        let (i, at) = r??;
        created[i] = Some(at);
    }
    // The watcher returns once every pod was seen Running (or at the
    // deadline); a kubelet that dies meanwhile ends the wait.
    let mut watcher = watcher;
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            r = &mut watcher => {
                r??;
                break;
            }
            _ = tick.tick() => {
                if let Err(e) = kubelet.check_alive() {
                    watcher.abort();
                    return Err(e);
                }
            }
        }
    }
    let done = running.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let cpu = cpu_seconds(&kubelet.pid.to_string()).unwrap_or(0.0) - cpu0;
    let last = done.iter().flatten().max().copied();
    let count = done.iter().flatten().count();
    if count < n {
        bail!(
            "only {count} of {n} pods reached Running within {:.0} s",
            flags.timeout_secs
        );
    }
    let all_running_secs = last.map_or(0.0, |l| (l - start).as_secs_f64());
    let lat: Vec<f64> = created
        .iter()
        .zip(&done)
        .filter_map(|(c, r)| Some(((*r)?.saturating_duration_since((*c)?)).as_secs_f64() * 1e3))
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let with_pods = cluster::memory(kubelet.pid);
    eprintln!("bench: all {n} pods Running in {all_running_secs:.1} s; deleting them");

    let t = Instant::now();
    for i in 0..n {
        cp.client
            .call(Method::DELETE, &format!("{path}/p-{i}"), None)
            .await?;
    }
    cluster::wait_until("pods deleted", Duration::from_secs(180), || async {
        let (_, body) = cp.client.call(Method::GET, &path, None).await?;
        let list: serde_json::Value = serde_json::from_slice(&body)?;
        let left: BTreeSet<&str> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["metadata"]["name"].as_str())
            .collect();
        Ok(left.is_empty().then_some(()))
    })
    .await?;
    let delete_all_secs = t.elapsed().as_secs_f64();
    Ok(KubeletPhase {
        startup: Startup::of(lat),
        idle,
        with_pods,
        all_running_secs,
        cpu_secs: cpu,
        delete_all_secs,
    })
}

fn markdown(r: &PodStartupReport) -> String {
    use std::fmt::Write as _;
    let m = &r.machine;
    let mut s = String::new();
    let _ = writeln!(s, "# Pod startup (kubelet on containerd)\n");
    let _ = writeln!(
        s,
        "Written by `make bench TARGET=pod-startup` ({}); raw numbers in `pod-startup.json`. \
         Machine: {} cores ({}), {} GiB, kernel {}, {}, {}, commit {}. One run on a small \
         shared machine: differences under ~15% are noise.\n",
        m.date,
        m.nproc,
        m.cpu_model,
        m.memory_gib,
        m.kernel,
        r.containerd_version,
        m.rustc_version,
        m.git_commit
    );
    let _ = writeln!(
        s,
        "| startup | runs | p50 | p90 | p99 | max |\n| --- | ---: | ---: | ---: | ---: | ---: |"
    );
    let row = |s: &mut String, name: &str, x: &Startup| {
        let _ = writeln!(
            s,
            "| {name} | {} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms |",
            x.count, x.p50_ms, x.p90_ms, x.p99_ms, x.max_ms
        );
    };
    row(
        &mut s,
        &format!(
            "**kubelet: {} pods created at once, create response → Running (watch)**",
            r.pods
        ),
        &r.kubelet,
    );
    if let Some(b) = &r.baseline_concurrent {
        row(&mut s, "baseline: `ctr run -d`, all at once", b);
    }
    if let Some(b) = &r.baseline_sequential {
        row(&mut s, "baseline: `ctr run -d`, one at a time", b);
    }
    let mem = |m: &Option<Memory>| {
        m.map_or("n/a".to_string(), |m| {
            format!("{:.1} MiB (peak {:.1} MiB)", m.rss_mib, m.hwm_mib)
        })
    };
    let _ = writeln!(s, "\n| measure | value |\n| --- | --- |");
    let _ = writeln!(
        s,
        "| all {} pods Running, from the first create | {:.1} s |",
        r.pods, r.all_running_secs
    );
    let _ = writeln!(
        s,
        "| kubelet CPU in that time | {:.2} s |",
        r.kubelet_cpu_secs
    );
    let _ = writeln!(
        s,
        "| kubelet RSS, idle (registered, no pods) | {} |",
        mem(&r.kubelet_idle)
    );
    let _ = writeln!(
        s,
        "| kubelet RSS with {} pods | {} |",
        r.pods,
        mem(&r.kubelet_with_pods)
    );
    let _ = writeln!(
        s,
        "| deleting all pods until the objects are gone | {:.1} s |",
        r.delete_all_secs
    );
    let _ = writeln!(s, "\n## Goals\n");
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
    let _ = writeln!(
        s,
        "\nUpstream's kubelet thresholds (node e2e resource usage): {UPSTREAM_IDLE_MIB:.0} MiB idle, \
         {UPSTREAM_100_PODS_MIB:.0} MiB at 100 pods.\n"
    );
    let _ = writeln!(s, "## How it was measured\n");
    let _ = writeln!(
        s,
        "- One private containerd (`cri::testing`: its own root, socket, CNI bridge and cgroup \
         parent; overlayfs, runc, cgroupfs), images imported beforehand so nothing is pulled."
    );
    let _ = writeln!(
        s,
        "- Baseline: `ctr -n k8s.io run -d` of `{BUSYBOX_IMAGE}` running `sleep 3600` against the \
         same containerd; `-d` returns once the task runs. It makes no pod sandbox (pause \
         container), no CNI network and no API round trips, which a pod needs."
    );
    let _ = writeln!(
        s,
        "- Pods: busybox `sleep 3600` with `nodeName` set, created at once by the bench over \
         HTTP/2; each pod's time runs from its create response to the first watch event with \
         `status.phase: Running`. etcd, the release kube-apiserver and the release `kubelet` \
         are separate processes, so the RSS is the kubelet's own (VmRSS, VmHWM from /proc)."
    );
    s
}
