//! `kubectl drain`: cordons the node, then evicts (policy/v1 Eviction, or
//! DELETE with `--disable-eviction`) every pod on it that may go, after
//! upstream's filters (DaemonSet-managed, mirror, emptyDir, unmanaged), and
//! waits for them to disappear.

use std::time::{Duration, Instant};

use clap::Args;
use http::Method;
use serde_json::{json, Value};

use crate::client::{q, Client};
use crate::cmd::cordon::{select_nodes, set_unschedulable, strip_error, DryRun};
use crate::{print, Ctx, Error};

/// How long to wait before retrying an eviction refused with 429 (upstream's
/// `EvictErrorRetryDelay`).
const RETRY_DELAY: Duration = Duration::from_secs(5);

/// `kubectl drain`.
#[derive(Args, Debug)]
pub struct DrainArgs {
    pub args: Vec<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub force: bool,
    #[arg(long = "ignore-daemonsets", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub ignore_daemonsets: bool,
    #[arg(long = "delete-emptydir-data", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub delete_emptydir_data: bool,
    #[arg(long = "grace-period", default_value_t = -1, allow_negative_numbers = true)]
    pub grace_period: i64,
    #[arg(long, default_value = "0s")]
    pub timeout: String,
    #[arg(long = "pod-selector")]
    pub pod_selector: Option<String>,
    #[arg(long = "disable-eviction", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub disable_eviction: bool,
    #[arg(long = "skip-wait-for-delete-timeout", default_value_t = 0)]
    pub skip_wait_for_delete_timeout: i64,
    #[arg(long = "chunk-size", default_value_t = 500)]
    pub chunk_size: i64,
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "unchanged", default_value = "none")]
    pub dry_run: String,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
}

// Upstream's filter messages (kubectl 1.33 wording: the unmanaged one
// already starts with "cannot delete", and errors prefix it again).
const DAEMONSET_FATAL: &str = "DaemonSet-managed Pods (use --ignore-daemonsets to ignore)";
const DAEMONSET_WARNING: &str = "ignoring DaemonSet-managed Pods";
const LOCAL_STORAGE_FATAL: &str =
    "Pods with local storage (use --delete-emptydir-data to override)";
const LOCAL_STORAGE_WARNING: &str = "deleting Pods with local storage";
const UNMANAGED_FATAL: &str =
    "cannot delete Pods that declare no controller (use --force to override)";
const UNMANAGED_WARNING: &str = "deleting Pods that declare no controller";

/// What a filter decided for one pod.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Okay,
    Skip,
    Warning { delete: bool, message: String },
    Error(String),
}

impl Verdict {
    fn deletes(&self) -> bool {
        matches!(self, Verdict::Okay | Verdict::Warning { delete: true, .. })
    }
}

/// The filter settings.
struct Filters {
    force: bool,
    ignore_daemonsets: bool,
    delete_emptydir_data: bool,
    skip_deleted_after: i64,
}

fn controller_of(pod: &Value) -> Option<&Value> {
    pod["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
}

fn finished(pod: &Value) -> bool {
    matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    )
}

impl Filters {
    /// Runs upstream's filters in order until one keeps the pod; the last
    /// verdict reached is the pod's (so a later `Okay` replaces an earlier
    /// warning, as upstream's loop does). `daemonset` is the lookup of the
    /// pod's DaemonSet, when it has one.
    fn verdict(&self, pod: &Value, daemonset: Option<Result<(), Error>>) -> Verdict {
        let checks: [&dyn Fn() -> Verdict; 5] = [
            &|| self.skip_deleted(pod),
            &|| self.daemonset(pod, daemonset.as_ref()),
            &|| mirror(pod),
            &|| self.local_storage(pod),
            &|| self.unreplicated(pod),
        ];
        let mut v = Verdict::Okay;
        for check in checks {
            v = check();
            if !v.deletes() {
                break;
            }
        }
        v
    }

    fn skip_deleted(&self, pod: &Value) -> Verdict {
        if self.skip_deleted_after > 0 {
            if let Some(ts) = pod["metadata"]["deletionTimestamp"].as_str() {
                if seconds_since(ts).is_some_and(|s| s > self.skip_deleted_after) {
                    return Verdict::Skip;
                }
            }
        }
        Verdict::Okay
    }

    fn daemonset(&self, pod: &Value, ds: Option<&Result<(), Error>>) -> Verdict {
        let Some(c) = controller_of(pod) else {
            return Verdict::Okay;
        };
        if c["kind"] != "DaemonSet" || c["apiVersion"] != "apps/v1" || finished(pod) {
            return Verdict::Okay;
        }
        match ds {
            Some(Err(e)) if e.is_not_found() && self.force => Verdict::Warning {
                delete: true,
                message: strip_error(e),
            },
            Some(Err(e)) => Verdict::Error(strip_error(e)),
            _ if !self.ignore_daemonsets => Verdict::Error(DAEMONSET_FATAL.into()),
            _ => Verdict::Warning {
                delete: false,
                message: DAEMONSET_WARNING.into(),
            },
        }
    }

    fn local_storage(&self, pod: &Value) -> Verdict {
        let local = pod["spec"]["volumes"]
            .as_array()
            .is_some_and(|vs| vs.iter().any(|v| v.get("emptyDir").is_some()));
        if !local || finished(pod) {
            Verdict::Okay
        } else if self.delete_emptydir_data {
            Verdict::Warning {
                delete: true,
                message: LOCAL_STORAGE_WARNING.into(),
            }
        } else {
            Verdict::Error(LOCAL_STORAGE_FATAL.into())
        }
    }

    fn unreplicated(&self, pod: &Value) -> Verdict {
        if finished(pod) || controller_of(pod).is_some() {
            Verdict::Okay
        } else if self.force {
            Verdict::Warning {
                delete: true,
                message: UNMANAGED_WARNING.into(),
            }
        } else {
            Verdict::Error(UNMANAGED_FATAL.into())
        }
    }
}

fn mirror(pod: &Value) -> Verdict {
    if pod["metadata"]["annotations"]
        .get("kubernetes.io/config.mirror")
        .is_some()
    {
        Verdict::Skip
    } else {
        Verdict::Okay
    }
}

/// Seconds since an RFC 3339 UTC timestamp (`2024-01-02T03:04:05Z`).
fn seconds_since(ts: &str) -> Option<i64> {
    let t = unix_seconds(ts)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    Some(now - t)
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SSZ` (fractions ignored).
fn unix_seconds(ts: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| ts.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + hh * 3600 + mm * 60 + ss)
}

/// `ns/name`.
fn key(pod: &Value) -> String {
    format!(
        "{}/{}",
        pod["metadata"]["namespace"].as_str().unwrap_or_default(),
        pod["metadata"]["name"].as_str().unwrap_or_default()
    )
}

/// Groups pod keys by message, in first-seen order.
fn grouped<'a>(items: impl Iterator<Item = (&'a str, String)>) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (msg, k) in items {
        match out.iter_mut().find(|(m, _)| m == msg) {
            Some((_, ks)) => ks.push(k),
            None => out.push((msg.to_string(), vec![k])),
        }
    }
    out
}

/// Go's `utilerrors.NewAggregate(errs).Error()`.
fn aggregate_text(errs: &[String]) -> String {
    if errs.len() == 1 {
        errs[0].clone()
    } else {
        format!("[{}]", errs.join(", "))
    }
}

/// The pods to remove from a node, or the filter errors.
async fn pods_for_deletion(
    client: &Client,
    node: &str,
    selector: &str,
    chunk: i64,
    f: &Filters,
) -> Result<(Vec<Value>, Vec<(String, Vec<String>)>), Vec<String>> {
    let mut pods = Vec::new();
    let mut cont = String::new();
    loop {
        let mut path = format!(
            "/api/v1/pods?fieldSelector={}",
            q(&format!("spec.nodeName={node}"))
        );
        if !selector.is_empty() {
            path.push_str(&format!("&labelSelector={}", q(selector)));
        }
        if chunk > 0 {
            path.push_str(&format!("&limit={chunk}"));
        }
        if !cont.is_empty() {
            path.push_str(&format!("&continue={}", q(&cont)));
        }
        let list = client.get(&path).await.map_err(|e| vec![strip_error(&e)])?;
        pods.extend(list["items"].as_array().cloned().unwrap_or_default());
        cont = list["metadata"]["continue"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if cont.is_empty() {
            break;
        }
    }
    let mut verdicts = Vec::new();
    for pod in pods {
        let ds = match controller_of(&pod) {
            Some(c) if c["kind"] == "DaemonSet" && c["apiVersion"] == "apps/v1" => {
                let path = format!(
                    "/apis/apps/v1/namespaces/{}/daemonsets/{}",
                    q(pod["metadata"]["namespace"].as_str().unwrap_or_default()),
                    q(c["name"].as_str().unwrap_or_default())
                );
                Some(client.get(&path).await.map(|_| ()))
            }
            _ => Some(Ok(())),
        };
        let v = f.verdict(&pod, ds);
        verdicts.push((pod, v));
    }
    let errors = grouped(verdicts.iter().filter_map(|(p, v)| match v {
        Verdict::Error(m) => Some((m.as_str(), key(p))),
        _ => None,
    }));
    if !errors.is_empty() {
        return Err(errors
            .into_iter()
            .map(|(m, ks)| format!("cannot delete {m}: {}", ks.join(", ")))
            .collect());
    }
    let warnings = grouped(verdicts.iter().filter_map(|(p, v)| match v {
        Verdict::Warning { message, .. } => Some((message.as_str(), key(p))),
        _ => None,
    }));
    let pods = verdicts
        .into_iter()
        .filter(|(_, v)| v.deletes())
        .map(|(p, _)| p)
        .collect();
    Ok((pods, warnings))
}

/// Runs `kubectl drain`.
pub async fn run(ctx: &mut Ctx, a: DrainArgs) -> Result<(), Error> {
    let dry = DryRun::parse(&a.dry_run)?;
    let nodes = select_nodes(ctx, "drain NODE", &a.args, a.selector.as_deref()).await?;
    let pod_selector = a.pod_selector.clone().unwrap_or_default();
    if !pod_selector.is_empty()
        && apimachinery::selector::LabelSelector::parse(&pod_selector).is_err()
    {
        return Err(Error::msg(
            "--pod-selector=<pod_selector> must be a valid label selector",
        ));
    }
    let timeout = match crate::parse_go_duration(&a.timeout) {
        Some(d) if !d.is_zero() => Some(d),
        Some(_) => None,
        None => {
            // pflag's parse error, reported before anything runs.
            return Err(Error::Verbatim(format!(
                "error: invalid argument \"{}\" for \"--timeout\" flag: time: invalid duration \"{}\"\nSee 'kubectl drain --help' for usage.",
                a.timeout, a.timeout
            )));
        }
    };
    let client = ctx.client().await?;
    set_unschedulable(&client, &nodes, true, dry).await;
    let filters = Filters {
        force: a.force,
        ignore_daemonsets: a.ignore_daemonsets,
        delete_emptydir_data: a.delete_emptydir_data,
        skip_deleted_after: a.skip_wait_for_delete_timeout,
    };
    let mut fatal = Vec::new();
    let mut remaining = Vec::new();
    for node in &nodes {
        let name = node["metadata"]["name"].as_str().unwrap_or_default();
        let res = drain_one(&client, name, &pod_selector, &a, &filters, dry, timeout).await;
        match res {
            Ok(()) => print(&format!("node/{name} drained{}\n", dry.suffix())),
            Err(e) => {
                crate::eprint_line(&format!(
                    "error: unable to drain node \"{name}\" due to error: {e}, continuing command..."
                ));
                fatal.push(e);
                remaining.push(name.to_string());
            }
        }
    }
    if !remaining.is_empty() {
        let mut s = "There are pending nodes to be drained:\n".to_string();
        for n in &remaining {
            s.push_str(&format!(" {n}\n"));
        }
        crate::eprint_line(s.trim_end());
    }
    match fatal.len() {
        0 => Ok(()),
        // kubectl's CheckErr prints every error of a (flattened) aggregate
        // on its own line.
        _ => Err(Error::Verbatim(
            fatal
                .iter()
                .flat_map(|e| e.lines.clone())
                .collect::<Vec<_>>()
                .join("\n"),
        )),
    }
}

/// A failed node: the aggregate's member errors.
struct DrainError {
    lines: Vec<String>,
}

impl std::fmt::Display for DrainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&aggregate_text(&self.lines))
    }
}

async fn drain_one(
    client: &Client,
    node: &str,
    selector: &str,
    a: &DrainArgs,
    f: &Filters,
    dry: DryRun,
    timeout: Option<Duration>,
) -> Result<(), DrainError> {
    let (pods, warnings) = pods_for_deletion(client, node, selector, a.chunk_size, f)
        .await
        .map_err(|lines| DrainError { lines })?;
    if !warnings.is_empty() {
        let w: Vec<String> = warnings
            .iter()
            .map(|(m, ks)| format!("{m}: {}", ks.join(", ")))
            .collect();
        crate::eprint_line(&format!("Warning: {}", w.join("; ")));
    }
    if dry == DryRun::Client {
        for p in &pods {
            print(&format!("evicting pod {} (dry run)\n", key(p)));
        }
        return Ok(());
    }
    let res = remove_pods(client, &pods, a, dry, timeout).await;
    if let Err(e) = res {
        if let Ok((pending, _)) = pods_for_deletion(client, node, selector, a.chunk_size, f).await {
            if !pending.is_empty() {
                let mut s = format!(
                    "There are pending pods in node \"{node}\" when an error occurred: {}\n",
                    aggregate_text(&e)
                );
                for p in &pending {
                    s.push_str(&format!(
                        "pod/{}\n",
                        p["metadata"]["name"].as_str().unwrap_or_default()
                    ));
                }
                crate::eprint_line(s.trim_end());
            }
        }
        return Err(DrainError { lines: e });
    }
    Ok(())
}

fn pod_path(p: &Value) -> String {
    format!(
        "/api/v1/namespaces/{}/pods/{}",
        q(p["metadata"]["namespace"].as_str().unwrap_or_default()),
        q(p["metadata"]["name"].as_str().unwrap_or_default())
    )
}

/// Evicts (or deletes) the pods, then waits for each to be gone.
async fn remove_pods(
    client: &Client,
    pods: &[Value],
    a: &DrainArgs,
    dry: DryRun,
    timeout: Option<Duration>,
) -> Result<(), Vec<String>> {
    if pods.is_empty() {
        return Ok(());
    }
    let start = Instant::now();
    let dry_q = if dry == DryRun::Server {
        "?dryRun=All"
    } else {
        ""
    };
    let mut delete_opts = json!({});
    if a.grace_period >= 0 {
        delete_opts["gracePeriodSeconds"] = json!(a.grace_period);
    }
    if dry == DryRun::Server {
        delete_opts["dryRun"] = json!(["All"]);
    }
    let eviction = !a.disable_eviction && eviction_supported(client).await;
    let mut errors = Vec::new();
    let mut waiting = Vec::new();
    for pod in pods {
        let (ns, name) = (
            pod["metadata"]["namespace"].as_str().unwrap_or_default(),
            pod["metadata"]["name"].as_str().unwrap_or_default(),
        );
        if !eviction {
            let mut body = json!({"kind": "DeleteOptions", "apiVersion": "v1"});
            if let Some(g) = delete_opts.get("gracePeriodSeconds") {
                body["gracePeriodSeconds"] = g.clone();
            }
            let r = client
                .call(
                    Method::DELETE,
                    &format!("{}{dry_q}", pod_path(pod)),
                    Some("application/json"),
                    Some("application/json"),
                    Some(serde_json::to_vec(&body).unwrap_or_default()),
                )
                .await;
            match r {
                Err(e) if !e.is_not_found() => return Err(vec![strip_error(&e)]),
                _ => {}
            }
            if dry != DryRun::Server {
                waiting.push(pod.clone());
            }
            continue;
        }
        let mut body = json!({"apiVersion": "policy/v1", "kind": "Eviction",
            "metadata": {"name": name, "namespace": ns}});
        if delete_opts.as_object().is_some_and(|o| !o.is_empty()) {
            body["deleteOptions"] = delete_opts.clone();
        }
        let mut gone = false;
        loop {
            if dry == DryRun::Server {
                print(&format!("evicting pod {ns}/{name} (server dry run)\n"));
            } else {
                print(&format!("evicting pod {ns}/{name}\n"));
            }
            if timeout.is_some_and(|t| start.elapsed() >= t) {
                errors.push(format!(
                    "error when evicting pods/\"{name}\" -n \"{ns}\": global timeout reached: {}",
                    go_duration(timeout.unwrap_or_default())
                ));
                gone = true;
                break;
            }
            let r = client
                .call(
                    Method::POST,
                    &format!("{}/eviction{dry_q}", pod_path(pod)),
                    Some("application/json"),
                    Some("application/json"),
                    Some(serde_json::to_vec(&body).unwrap_or_default()),
                )
                .await;
            match r {
                Ok(_) => break,
                Err(e) if e.is_not_found() => {
                    gone = true;
                    break;
                }
                Err(e) if e.reason() == Some("TooManyRequests") => {
                    crate::eprint_line(&format!(
                        "error when evicting pods/\"{name}\" -n \"{ns}\" (will retry after {}): {}",
                        go_duration(RETRY_DELAY),
                        strip_error(&e)
                    ));
                    tokio::time::sleep(RETRY_DELAY).await;
                }
                Err(e) => {
                    errors.push(format!(
                        "error when evicting pods/\"{name}\" -n \"{ns}\": {}",
                        strip_error(&e)
                    ));
                    gone = true;
                    break;
                }
            }
        }
        if !gone && dry != DryRun::Server {
            waiting.push(pod.clone());
        }
    }
    let verb = if eviction { "evicted" } else { "deleted" };
    wait_for_delete(client, waiting, verb, timeout, start, eviction, &mut errors).await;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Whether the server serves `pods/eviction` (upstream checks discovery).
async fn eviction_supported(client: &Client) -> bool {
    let Ok(v1) = client.get("/api/v1").await else {
        return false;
    };
    v1["resources"]
        .as_array()
        .is_some_and(|rs| rs.iter().any(|r| r["name"] == "pods/eviction"))
}

/// Polls each second until every pod is gone (or replaced: new UID).
async fn wait_for_delete(
    client: &Client,
    mut pods: Vec<Value>,
    verb: &str,
    timeout: Option<Duration>,
    start: Instant,
    eviction: bool,
    errors: &mut Vec<String>,
) {
    loop {
        let mut pending = Vec::new();
        for pod in pods {
            match client.get(&pod_path(&pod)).await {
                Err(e) if e.is_not_found() => print(&format!(
                    "pod/{} {verb}\n",
                    pod["metadata"]["name"].as_str().unwrap_or_default()
                )),
                Ok(p) if p["metadata"]["uid"] != pod["metadata"]["uid"] => print(&format!(
                    "pod/{} {verb}\n",
                    pod["metadata"]["name"].as_str().unwrap_or_default()
                )),
                Ok(_) => pending.push(pod),
                Err(e) => {
                    errors.push(strip_error(&e));
                    return;
                }
            }
        }
        pods = pending;
        if pods.is_empty() {
            return;
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            for pod in &pods {
                let (ns, name) = (
                    pod["metadata"]["namespace"].as_str().unwrap_or_default(),
                    pod["metadata"]["name"].as_str().unwrap_or_default(),
                );
                if eviction {
                    errors.push(format!("error when waiting for pod \"{name}\" in namespace \"{ns}\" to terminate: context deadline exceeded"));
                }
            }
            if !eviction {
                errors.push("context deadline exceeded".into());
            }
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Go's `time.Duration.String()` for whole seconds and minutes.
fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m{sec}s"),
        (h, m, sec) => format!("{h}h{m}m{sec}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(force: bool, ds: bool, empty: bool) -> Filters {
        Filters {
            force,
            ignore_daemonsets: ds,
            delete_emptydir_data: empty,
            skip_deleted_after: 0,
        }
    }

    #[test]
    fn filters_like_upstream() {
        let bare = json!({"metadata": {"name": "a"}, "spec": {}});
        assert_eq!(
            f(false, false, false).verdict(&bare, Some(Ok(()))),
            Verdict::Error(UNMANAGED_FATAL.into())
        );
        assert!(f(true, false, false).verdict(&bare, Some(Ok(()))).deletes());
        let ds = json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "d", "controller": true}]}, "spec": {}});
        assert_eq!(
            f(false, false, false).verdict(&ds, Some(Ok(()))),
            Verdict::Error(DAEMONSET_FATAL.into())
        );
        assert!(!f(false, true, false).verdict(&ds, Some(Ok(()))).deletes());
        let scratch = json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "controller": true}]}, "spec": {"volumes": [{"name": "t", "emptyDir": {}}]}});
        assert_eq!(
            f(true, true, false).verdict(&scratch, Some(Ok(()))),
            Verdict::Error(LOCAL_STORAGE_FATAL.into())
        );
        let mirror =
            json!({"metadata": {"annotations": {"kubernetes.io/config.mirror": "x"}}, "spec": {}});
        assert_eq!(
            f(false, false, false).verdict(&mirror, Some(Ok(()))),
            Verdict::Skip
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(unix_seconds("1970-01-02T00:00:01Z"), Some(86401));
        assert_eq!(unix_seconds("2024-03-01T00:00:00Z"), Some(1709251200));
    }

    #[test]
    fn durations() {
        assert_eq!(go_duration(Duration::from_secs(5)), "5s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
    }
}
