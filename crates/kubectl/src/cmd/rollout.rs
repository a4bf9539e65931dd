//! `kubectl rollout status|history|undo|restart|pause|resume` for
//! deployments, daemon sets and stateful sets, with upstream's status
//! viewers, history table and rollback rules.

mod template;

use std::time::Duration;

use clap::{Args, Subcommand};
use http::Method;
use serde_json::{json, Value};

use crate::cli::FileArgs;
use crate::client::{q, Client};
use crate::cmd::set::common::{self, DryRun, Obj, Query};
use crate::{print, Ctx, Error};

/// `kubectl rollout`.
#[derive(Args, Debug)]
pub struct RolloutArgs {
    #[command(subcommand)]
    pub cmd: RolloutCmd,
}

/// `kubectl rollout <subcommand>`.
#[derive(Subcommand, Debug)]
pub enum RolloutCmd {
    /// Show the status of the rollout.
    Status {
        args: Vec<String>,
        #[command(flatten)]
        files: FileArgs,
        #[arg(short = 'l', long)]
        selector: Option<String>,
        #[arg(long, default_value_t = 0)]
        revision: i64,
        #[arg(short = 'w', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
        watch: bool,
        #[arg(long, default_value = "0s")]
        timeout: String,
    },
    /// View rollout history.
    History {
        args: Vec<String>,
        #[command(flatten)]
        files: FileArgs,
        #[arg(short = 'l', long)]
        selector: Option<String>,
        #[arg(long, default_value_t = 0)]
        revision: i64,
        #[arg(short = 'o', long)]
        output: Option<String>,
    },
    /// Undo a previous rollout.
    Undo {
        args: Vec<String>,
        #[command(flatten)]
        files: FileArgs,
        #[arg(short = 'l', long)]
        selector: Option<String>,
        #[arg(long = "to-revision", default_value_t = 0)]
        to_revision: i64,
        #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "unchanged")]
        dry_run: Option<String>,
        #[arg(short = 'o', long)]
        output: Option<String>,
    },
    /// Restart a resource.
    Restart {
        args: Vec<String>,
        #[command(flatten)]
        files: FileArgs,
        #[arg(short = 'l', long)]
        selector: Option<String>,
        #[arg(short = 'o', long)]
        output: Option<String>,
        #[arg(long = "field-manager", default_value = "kubectl-rollout")]
        field_manager: String,
    },
    /// Mark the provided resource as paused.
    Pause {
        args: Vec<String>,
        #[command(flatten)]
        files: FileArgs,
        #[arg(short = 'o', long)]
        output: Option<String>,
        #[arg(long = "field-manager", default_value = "kubectl-rollout")]
        field_manager: String,
    },
    /// Resume a paused resource.
    Resume {
        args: Vec<String>,
        #[command(flatten)]
        files: FileArgs,
        #[arg(short = 'o', long)]
        output: Option<String>,
        #[arg(long = "field-manager", default_value = "kubectl-rollout")]
        field_manager: String,
    },
}

const NOT_SPECIFIED: &str = "required resource not specified";

/// Runs `kubectl rollout`.
pub async fn run(ctx: &mut Ctx, a: RolloutArgs) -> Result<(), Error> {
    match a.cmd {
        RolloutCmd::Status {
            args,
            files,
            selector,
            revision,
            watch,
            timeout,
        } => {
            status(
                ctx,
                &args,
                &files,
                selector.as_deref(),
                revision,
                watch,
                &timeout,
            )
            .await
        }
        RolloutCmd::History {
            args,
            files,
            selector,
            revision,
            output,
        } => {
            history(
                ctx,
                &args,
                &files,
                selector.as_deref(),
                revision,
                output.as_deref(),
            )
            .await
        }
        RolloutCmd::Undo {
            args,
            files,
            selector,
            to_revision,
            dry_run,
            output,
        } => {
            undo(
                ctx,
                &args,
                &files,
                selector.as_deref(),
                to_revision,
                dry_run.as_deref(),
                output.as_deref(),
            )
            .await
        }
        RolloutCmd::Restart {
            args,
            files,
            selector,
            output,
            ..
        } => {
            toggle(
                ctx,
                &args,
                &files,
                selector.as_deref(),
                output.as_deref(),
                Action::Restart,
            )
            .await
        }
        RolloutCmd::Pause {
            args,
            files,
            output,
            ..
        } => toggle(ctx, &args, &files, None, output.as_deref(), Action::Pause).await,
        RolloutCmd::Resume {
            args,
            files,
            output,
            ..
        } => toggle(ctx, &args, &files, None, output.as_deref(), Action::Resume).await,
    }
}

async fn find(
    ctx: &mut Ctx,
    args: &[String],
    files: &FileArgs,
    selector: Option<&str>,
    cmd: &str,
) -> Result<(Vec<Obj>, Vec<Error>), Error> {
    if args.is_empty() && files.filename.is_empty() {
        return Err(Error::msg(NOT_SPECIFIED));
    }
    let q = Query {
        args,
        files,
        selector,
        all: false,
        allow_empty: true,
        local: false,
        cmd,
    };
    common::find(ctx, &q).await
}

/// `Kind` or `Kind.group`, as Go prints a GroupKind.
fn group_kind(obj: &Obj) -> String {
    if obj.resource.group.is_empty() {
        obj.resource.kind.clone()
    } else {
        format!("{}.{}", obj.resource.kind, obj.resource.group)
    }
}

/// What pause, resume and restart do.
#[derive(Clone, Copy, PartialEq)]
enum Action {
    Pause,
    Resume,
    Restart,
}

/// The changed object for `action`, or the reason it cannot be changed.
fn apply_action(obj: &Value, action: Action, now: &str) -> Result<Value, String> {
    let kind = obj["kind"].as_str().unwrap_or_default();
    let mut m = obj.clone();
    let paused = obj["spec"]["paused"].as_bool().unwrap_or(false);
    match action {
        Action::Pause => {
            if kind != "Deployment" {
                return Err("pausing is not supported".into());
            }
            if paused {
                return Err("is already paused".into());
            }
            m["spec"]["paused"] = json!(true);
        }
        Action::Resume => {
            if kind != "Deployment" {
                return Err("resuming is not supported".into());
            }
            if !paused {
                return Err("is not paused".into());
            }
            if let Some(s) = m["spec"].as_object_mut() {
                s.remove("paused");
            }
        }
        Action::Restart => {
            if !matches!(kind, "Deployment" | "DaemonSet" | "StatefulSet") {
                return Err("restarting is not supported".into());
            }
            if kind == "Deployment" && paused {
                return Err("can't restart paused deployment (run rollout resume first)".into());
            }
            if !m["spec"]["template"]["metadata"].is_object() {
                m["spec"]["template"]["metadata"] = json!({});
            }
            if !m["spec"]["template"]["metadata"]["annotations"].is_object() {
                m["spec"]["template"]["metadata"]["annotations"] = json!({});
            }
            m["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] =
                json!(now);
        }
    }
    Ok(m)
}

async fn toggle(
    ctx: &mut Ctx,
    args: &[String],
    files: &FileArgs,
    selector: Option<&str>,
    output: Option<&str>,
    action: Action,
) -> Result<(), Error> {
    let format = common::parse_format(output)?;
    let (cmd, done, already) = match action {
        Action::Pause => ("kubectl rollout pause", "paused", "already paused"),
        Action::Resume => ("kubectl rollout resume", "resumed", "already resumed"),
        Action::Restart => ("kubectl rollout restart", "restarted", ""),
    };
    let (objs, mut errors) = find(ctx, args, files, selector, cmd).await?;
    let client = ctx.client().await?;
    if action == Action::Restart && objs.is_empty() && errors.is_empty() {
        crate::eprint_line(&format!(
            "No resources found in {} namespace.",
            client.namespace
        ));
        return Ok(());
    }
    let now = apimachinery::meta::now_rfc3339();
    for obj in objs {
        let modified = match apply_action(&obj.object, action, &now) {
            Ok(m) => m,
            Err(why) => {
                errors.push(Error::Verbatim(format!(
                    "error: {} {:?} {why}",
                    obj.resource.group_resource(),
                    obj.name
                )));
                continue;
            }
        };
        let patch = common::merge_diff(&obj.object, &modified);
        if common::is_empty_patch(&patch) {
            if action == Action::Restart {
                errors.push(Error::msg(format!("failed to create patch for {}: if restart has already been triggered within the past second, please wait before attempting to trigger another", obj.name)));
            } else {
                common::report(
                    format.as_ref(),
                    &obj.object,
                    &obj.resource.kind_group(),
                    &obj.name,
                    already,
                )?;
            }
            continue;
        }
        match common::merge_patch(&client, &obj, &patch, DryRun::None).await {
            Ok(actual) => common::report(
                format.as_ref(),
                &actual,
                &obj.resource.kind_group(),
                &obj.name,
                done,
            )?,
            Err(e) => errors.push(Error::msg(format!(
                "failed to patch: {}",
                common::inner_message(&e)
            ))),
        }
    }
    common::aggregate(errors)
}

/// One status message and whether the rollout is done, as upstream's
/// status viewers compute them.
fn status_of(obj: &Value, revision: i64) -> Result<(String, bool), Error> {
    let kind = obj["kind"].as_str().unwrap_or_default();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let generation = obj["metadata"]["generation"].as_i64().unwrap_or(0);
    let st = &obj["status"];
    let observed = st["observedGeneration"].as_i64().unwrap_or(0);
    let n = |v: &Value| v.as_i64().unwrap_or(0);
    match kind {
        "Deployment" => {
            if revision > 0 {
                let rev = obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                    .as_str()
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or_else(|| {
                        Error::msg(format!(
                            "cannot get the revision of deployment {name:?}: revision not found"
                        ))
                    })?;
                if rev != revision {
                    return Err(Error::msg(format!(
                        "desired revision ({revision}) is different from the running revision ({rev})"
                    )));
                }
            }
            if generation > observed {
                return Ok((
                    "Waiting for deployment spec update to be observed...\n".into(),
                    false,
                ));
            }
            let timed_out =
                st["conditions"].as_array().into_iter().flatten().any(|c| {
                    c["type"] == "Progressing" && c["reason"] == "ProgressDeadlineExceeded"
                });
            if timed_out {
                return Err(Error::msg(format!(
                    "deployment {name:?} exceeded its progress deadline"
                )));
            }
            let updated = n(&st["updatedReplicas"]);
            let replicas = obj["spec"]["replicas"].as_i64();
            if let Some(r) = replicas {
                if updated < r {
                    return Ok((format!("Waiting for deployment {name:?} rollout to finish: {updated} out of {r} new replicas have been updated...\n"), false));
                }
            }
            let total = n(&st["replicas"]);
            if total > updated {
                return Ok((format!("Waiting for deployment {name:?} rollout to finish: {} old replicas are pending termination...\n", total - updated), false));
            }
            let available = n(&st["availableReplicas"]);
            if available < updated {
                return Ok((format!("Waiting for deployment {name:?} rollout to finish: {available} of {updated} updated replicas are available...\n"), false));
            }
            Ok((
                format!("deployment {name:?} successfully rolled out\n"),
                true,
            ))
        }
        "DaemonSet" => {
            if obj["spec"]["updateStrategy"]["type"] != "RollingUpdate" {
                return Err(Error::msg(
                    "rollout status is only available for RollingUpdate strategy type",
                ));
            }
            if generation > observed {
                return Ok((
                    "Waiting for daemon set spec update to be observed...\n".into(),
                    false,
                ));
            }
            let desired = n(&st["desiredNumberScheduled"]);
            let updated = n(&st["updatedNumberScheduled"]);
            if updated < desired {
                return Ok((format!("Waiting for daemon set {name:?} rollout to finish: {updated} out of {desired} new pods have been updated...\n"), false));
            }
            let available = n(&st["numberAvailable"]);
            if available < desired {
                return Ok((format!("Waiting for daemon set {name:?} rollout to finish: {available} of {desired} updated pods are available...\n"), false));
            }
            Ok((
                format!("daemon set {name:?} successfully rolled out\n"),
                true,
            ))
        }
        "StatefulSet" => {
            let strategy = &obj["spec"]["updateStrategy"];
            if strategy["type"] != "RollingUpdate" {
                return Err(Error::msg(
                    "rollout status is only available for RollingUpdate strategy type",
                ));
            }
            if observed == 0 || generation > observed {
                return Ok((
                    "Waiting for statefulset spec update to be observed...\n".into(),
                    false,
                ));
            }
            let replicas = obj["spec"]["replicas"].as_i64();
            if let Some(r) = replicas {
                let ready = n(&st["readyReplicas"]);
                if ready < r {
                    return Ok((
                        format!("Waiting for {} pods to be ready...\n", r - ready),
                        false,
                    ));
                }
            }
            let updated = n(&st["updatedReplicas"]);
            if strategy["rollingUpdate"].is_object() {
                if let (Some(r), Some(p)) =
                    (replicas, strategy["rollingUpdate"]["partition"].as_i64())
                {
                    if updated < r - p {
                        return Ok((format!("Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...\n", r - p), false));
                    }
                }
                return Ok((
                    format!(
                        "partitioned roll out complete: {updated} new pods have been updated...\n"
                    ),
                    true,
                ));
            }
            let update_rev = st["updateRevision"].as_str().unwrap_or_default();
            let current_rev = st["currentRevision"].as_str().unwrap_or_default();
            if update_rev != current_rev {
                return Ok((format!("waiting for statefulset rolling update to complete {updated} pods at revision {update_rev}...\n"), false));
            }
            Ok((
                format!(
                    "statefulset rolling update complete {} pods at revision {current_rev}...\n",
                    n(&st["currentReplicas"])
                ),
                true,
            ))
        }
        _ => Err(Error::msg("unsupported")),
    }
}

async fn status(
    ctx: &mut Ctx,
    args: &[String],
    files: &FileArgs,
    selector: Option<&str>,
    revision: i64,
    watch: bool,
    timeout: &str,
) -> Result<(), Error> {
    let cmd = "kubectl rollout status";
    if args.is_empty() && files.filename.is_empty() {
        return Err(Error::msg(NOT_SPECIFIED));
    }
    if revision < 0 {
        return Err(Error::msg(format!(
            "revision must be a positive integer: {revision}"
        )));
    }
    let timeout = crate::parse_go_duration(timeout).ok_or_else(|| {
        common::flag_error(
            cmd,
            "timeout",
            timeout,
            &format!("time: invalid duration {timeout:?}"),
        )
    })?;
    let (objs, errors) = find(ctx, args, files, selector, cmd).await?;
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    let client = ctx.client().await?;
    if objs.is_empty() {
        crate::eprint_line(&format!(
            "No resources found in {} namespace.",
            client.namespace
        ));
        return Ok(());
    }
    for obj in objs {
        if !matches!(
            obj.object["kind"].as_str(),
            Some("Deployment" | "DaemonSet" | "StatefulSet")
        ) {
            return Err(Error::msg(format!(
                "no status viewer has been implemented for {}",
                group_kind(&obj)
            )));
        }
        let run = watch_status(&client, &obj, revision, watch);
        if timeout.is_zero() {
            run.await?;
        } else {
            match tokio::time::timeout(timeout, run).await {
                Ok(r) => r?,
                Err(_) => return Err(Error::msg("timed out waiting for the condition")),
            }
        }
    }
    Ok(())
}

/// Lists the object, then watches it, printing its status on each event
/// until done (or once without `--watch`).
async fn watch_status(client: &Client, obj: &Obj, revision: i64, watch: bool) -> Result<(), Error> {
    let coll = obj.resource.collection_path(obj.namespace.as_deref());
    let sel = q(&format!("metadata.name={}", obj.name));
    let list = client.get(&format!("{coll}?fieldSelector={sel}")).await?;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for item in list["items"].as_array().into_iter().flatten() {
        let mut item = item.clone();
        item["kind"] = json!(obj.resource.kind);
        let (msg, done) = status_of(&item, revision)?;
        print(&msg);
        if done || !watch {
            return Ok(());
        }
    }
    let mut rv = rv;
    loop {
        let path = format!(
            "{coll}?fieldSelector={sel}&watch=true&allowWatchBookmarks=true&resourceVersion={}",
            q(&rv)
        );
        let mut finished: Option<Result<(), Error>> = None;
        let res = client
            .watch(&path, "application/json", |ev| {
                let mut o = ev["object"].clone();
                if let Some(r) = o["metadata"]["resourceVersion"].as_str() {
                    rv = r.to_string();
                }
                match ev["type"].as_str().unwrap_or_default() {
                    "ADDED" | "MODIFIED" => {
                        o["kind"] = json!(obj.resource.kind);
                        match status_of(&o, revision) {
                            Ok((msg, done)) => {
                                print(&msg);
                                if done || !watch {
                                    finished = Some(Ok(()));
                                    return Ok(false);
                                }
                            }
                            Err(e) => {
                                finished = Some(Err(e));
                                return Ok(false);
                            }
                        }
                    }
                    "DELETED" => {
                        finished = Some(Err(Error::msg("object has been deleted")));
                        return Ok(false);
                    }
                    "ERROR" => return Err(Error::Api(Box::new(o))),
                    _ => {}
                }
                Ok(true)
            })
            .await;
        if let Some(f) = finished {
            return f;
        }
        match res {
            Ok(()) | Err(Error::Transport { .. }) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The revision annotation of a ReplicaSet or Deployment.
fn revision_of(obj: &Value) -> Option<i64> {
    obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        .as_str()
        .and_then(|s| s.parse().ok())
}

/// The ReplicaSets (or ControllerRevisions) a workload controls, with
/// their revisions.
async fn owned_history(client: &Client, obj: &Obj) -> Result<Vec<(i64, Value)>, Error> {
    let uid = obj.object["metadata"]["uid"].as_str().unwrap_or_default();
    let ns = obj.namespace.as_deref().unwrap_or("default");
    let deployment = obj.object["kind"] == "Deployment";
    let path = if deployment {
        format!("/apis/apps/v1/namespaces/{ns}/replicasets")
    } else {
        format!("/apis/apps/v1/namespaces/{ns}/controllerrevisions")
    };
    let list = client.get(&path).await.map_err(|e| {
        Error::msg(format!(
            "failed to retrieve replica sets from deployment {}: {}",
            obj.name,
            common::inner_message(&e)
        ))
    })?;
    let mut out = Vec::new();
    for item in list["items"].as_array().into_iter().flatten() {
        let owned = item["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|o| o["uid"] == uid && o["controller"] == true);
        if !owned {
            continue;
        }
        let rev = if deployment {
            revision_of(item)
        } else {
            item["revision"].as_i64()
        };
        if let Some(r) = rev {
            let mut item = item.clone();
            item["kind"] = json!(if deployment {
                "ReplicaSet"
            } else {
                "ControllerRevision"
            });
            item["apiVersion"] = json!("apps/v1");
            out.push((r, item));
        }
    }
    out.sort_by_key(|(r, _)| *r);
    Ok(out)
}

async fn history(
    ctx: &mut Ctx,
    args: &[String],
    files: &FileArgs,
    selector: Option<&str>,
    revision: i64,
    output: Option<&str>,
) -> Result<(), Error> {
    let cmd = "kubectl rollout history";
    if args.is_empty() && files.filename.is_empty() {
        return Err(Error::msg(NOT_SPECIFIED));
    }
    if revision < 0 {
        return Err(Error::msg(format!(
            "revision must be a positive integer: {revision}"
        )));
    }
    let format = common::parse_format(output)?;
    let (objs, errors) = find(ctx, args, files, selector, cmd).await?;
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    let client = ctx.client().await?;
    for obj in objs {
        let kind = obj.object["kind"].as_str().unwrap_or_default().to_string();
        if !matches!(kind.as_str(), "Deployment" | "DaemonSet" | "StatefulSet") {
            return Err(Error::msg(format!(
                "no history viewer has been implemented for {:?}",
                group_kind(&obj)
            )));
        }
        let hist = owned_history(&client, &obj).await?;
        if let Some(f) = format.as_ref().filter(|f| !f.is_table()) {
            for (r, item) in &hist {
                if revision > 0 && *r != revision {
                    continue;
                }
                let mut out = String::new();
                let mut item = item.clone();
                if let Some(m) = item["metadata"].as_object_mut() {
                    m.remove("managedFields");
                }
                crate::output::print_object(f, &item, &mut out)?;
                print(&out);
            }
            continue;
        }
        let text = if hist.is_empty() {
            "No rollout history found.".to_string()
        } else if revision > 0 {
            let Some((_, item)) = hist.iter().find(|(r, _)| *r == revision) else {
                return Err(Error::msg("unable to find the specified revision"));
            };
            let tpl = if kind == "Deployment" {
                let mut t = item["spec"]["template"].clone();
                if let Some(c) = item["metadata"]["annotations"]["kubernetes.io/change-cause"]
                    .as_str()
                    .filter(|c| !c.is_empty())
                {
                    t["metadata"]["annotations"]["kubernetes.io/change-cause"] = json!(c);
                }
                t
            } else {
                template::apply_revision(&obj.object, item)
            };
            template::describe(&tpl)
        } else {
            let mut rows = vec![vec!["REVISION".to_string(), "CHANGE-CAUSE".to_string()]];
            let mut seen = std::collections::BTreeMap::new();
            for (r, item) in &hist {
                let cause = item["metadata"]["annotations"]["kubernetes.io/change-cause"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .unwrap_or("<none>")
                    .to_string();
                seen.insert(*r, cause);
            }
            for (r, cause) in seen {
                rows.push(vec![r.to_string(), cause]);
            }
            template::tabbed(&rows)
        };
        let with = if revision > 0 {
            format!("with revision #{revision}")
        } else {
            String::new()
        };
        print(&format!(
            "{}/{} {with}\n{text}\n",
            obj.resource.kind_group(),
            obj.name
        ));
    }
    Ok(())
}

/// Annotations a rollback keeps from the deployment rather than the
/// ReplicaSet.
const SKIPPED_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

/// A pod template without the `pod-template-hash` label, for comparing.
fn without_hash(t: &Value) -> Value {
    let mut t = t.clone();
    if let Some(l) = t["metadata"]["labels"].as_object_mut() {
        l.remove("pod-template-hash");
        if l.is_empty() {
            if let Some(m) = t["metadata"].as_object_mut() {
                m.remove("labels");
            }
        }
    }
    t
}

async fn undo(
    ctx: &mut Ctx,
    args: &[String],
    files: &FileArgs,
    selector: Option<&str>,
    to_revision: i64,
    dry_run: Option<&str>,
    output: Option<&str>,
) -> Result<(), Error> {
    let cmd = "kubectl rollout undo";
    let dry_run = DryRun::parse(dry_run)?;
    let format = common::parse_format(output)?;
    if args.is_empty() && files.filename.is_empty() {
        return Err(Error::msg(NOT_SPECIFIED));
    }
    let (objs, errors) = find(ctx, args, files, selector, cmd).await?;
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    let client = ctx.client().await?;
    for obj in objs {
        let kind = obj.object["kind"].as_str().unwrap_or_default().to_string();
        if kind == "DaemonSet" || kind == "StatefulSet" {
            controller_revision_undo(&client, &obj, to_revision, dry_run, format.as_ref()).await?;
            continue;
        }
        if kind != "Deployment" {
            return Err(Error::msg(format!(
                "no rollbacker has been implemented for {:?}",
                group_kind(&obj)
            )));
        }
        let hist = owned_history(&client, &obj).await?;
        let target = if to_revision > 0 {
            hist.iter()
                .find(|(r, _)| *r == to_revision)
                .map(|(_, rs)| rs.clone())
                .ok_or_else(|| {
                    Error::msg(format!(
                        "unable to find specified revision {to_revision} in history"
                    ))
                })?
        } else {
            // The newest is the current one; roll back to the one before.
            match hist.len() {
                0 | 1 => {
                    return Err(Error::msg(format!(
                        "no rollout history found for deployment {:?}",
                        obj.name
                    )))
                }
                n => hist[n - 2].1.clone(),
            }
        };
        if dry_run == DryRun::Client {
            let text = template::describe(&target["spec"]["template"]);
            common::report(
                format.as_ref(),
                &obj.object,
                &obj.resource.kind_group(),
                &obj.name,
                &format!("{text} (dry run)"),
            )?;
            continue;
        }
        if obj.object["spec"]["paused"] == true {
            return Err(Error::msg("you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again"));
        }
        if without_hash(&target["spec"]["template"])
            == without_hash(&obj.object["spec"]["template"])
        {
            common::report(
                format.as_ref(),
                &obj.object,
                &obj.resource.kind_group(),
                &obj.name,
                &format!(
                    "skipped rollback (current template already matches revision {to_revision}){}",
                    dry_run.suffix()
                ),
            )?;
            continue;
        }
        let template = without_hash(&target["spec"]["template"]);
        let mut annotations = serde_json::Map::new();
        for k in SKIPPED_ANNOTATIONS {
            if let Some(v) = obj.object["metadata"]["annotations"].get(*k) {
                annotations.insert(k.to_string(), v.clone());
            }
        }
        for (k, v) in target["metadata"]["annotations"]
            .as_object()
            .into_iter()
            .flatten()
        {
            if !SKIPPED_ANNOTATIONS.contains(&k.as_str()) {
                annotations.insert(k.clone(), v.clone());
            }
        }
        let patch = json!([
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": annotations},
        ]);
        client
            .call(
                Method::PATCH,
                &format!("{}{}", obj.path(), dry_run.query()),
                Some("application/json"),
                Some("application/json-patch+json"),
                Some(serde_json::to_vec(&patch).unwrap_or_default()),
            )
            .await
            .map_err(|e| {
                Error::msg(format!(
                    "failed restoring revision {to_revision}: {}",
                    common::inner_message(&e)
                ))
            })?;
        common::report(
            format.as_ref(),
            &obj.object,
            &obj.resource.kind_group(),
            &obj.name,
            &format!("rolled back{}", dry_run.suffix()),
        )?;
    }
    Ok(())
}

/// Rolls a daemon set or stateful set back to a ControllerRevision by
/// patching in the revision's recorded data.
async fn controller_revision_undo(
    client: &Client,
    obj: &Obj,
    to_revision: i64,
    dry_run: DryRun,
    format: Option<&crate::output::Format>,
) -> Result<(), Error> {
    if to_revision < 0 {
        return Err(Error::msg(format!(
            "unable to find specified revision {to_revision} in history"
        )));
    }
    let hist = owned_history(client, obj).await?;
    if to_revision == 0 && hist.len() <= 1 {
        return Err(Error::msg("no last revision to roll back to"));
    }
    let target = if to_revision == 0 {
        hist[hist.len() - 2].1.clone()
    } else {
        hist.iter()
            .find(|(r, _)| *r == to_revision)
            .map(|(_, h)| h.clone())
            .ok_or_else(|| {
                Error::msg(format!(
                    "unable to find specified revision {to_revision} in history"
                ))
            })?
    };
    let kg = obj.resource.kind_group();
    if dry_run == DryRun::Client {
        let text = template::describe(&template::apply_revision(&obj.object, &target));
        return common::report(
            format,
            &obj.object,
            &kg,
            &obj.name,
            &format!("will roll back to {text} (dry run)"),
        );
    }
    if template::apply_revision(&obj.object, &target) == obj.object["spec"]["template"] {
        return common::report(
            format,
            &obj.object,
            &kg,
            &obj.name,
            &format!(
                "skipped rollback (current template already matches revision {to_revision}){}",
                dry_run.suffix()
            ),
        );
    }
    client
        .call(
            Method::PATCH,
            &format!("{}{}", obj.path(), dry_run.query()),
            Some("application/json"),
            Some("application/strategic-merge-patch+json"),
            Some(serde_json::to_vec(&target["data"]).unwrap_or_default()),
        )
        .await
        .map_err(|e| {
            Error::msg(format!(
                "failed restoring revision {to_revision}: {}",
                common::inner_message(&e)
            ))
        })?;
    common::report(
        format,
        &obj.object,
        &kg,
        &obj.name,
        &format!("rolled back{}", dry_run.suffix()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(gen: i64, status: Value) -> Value {
        json!({"kind": "Deployment", "metadata": {"name": "x", "generation": gen},
               "spec": {"replicas": 3}, "status": status})
    }

    #[test]
    fn deployment_status_messages() {
        let (m, done) = status_of(&deploy(2, json!({"observedGeneration": 1})), 0).unwrap();
        assert_eq!(m, "Waiting for deployment spec update to be observed...\n");
        assert!(!done);
        let (m, _) = status_of(
            &deploy(1, json!({"observedGeneration": 1, "updatedReplicas": 1})),
            0,
        )
        .unwrap();
        assert_eq!(m, "Waiting for deployment \"x\" rollout to finish: 1 out of 3 new replicas have been updated...\n");
        let (m, _) = status_of(
            &deploy(1, json!({"observedGeneration": 1, "updatedReplicas": 3, "replicas": 3, "availableReplicas": 1})),
            0,
        )
        .unwrap();
        assert_eq!(m, "Waiting for deployment \"x\" rollout to finish: 1 of 3 updated replicas are available...\n");
        let (m, done) = status_of(
            &deploy(1, json!({"observedGeneration": 1, "updatedReplicas": 3, "replicas": 3, "availableReplicas": 3})),
            0,
        )
        .unwrap();
        assert_eq!(m, "deployment \"x\" successfully rolled out\n");
        assert!(done);
    }

    #[test]
    fn pause_resume_restart() {
        let d = json!({"kind": "Deployment", "spec": {"template": {}}});
        let p = apply_action(&d, Action::Pause, "t").unwrap();
        assert_eq!(p["spec"]["paused"], true);
        assert_eq!(
            apply_action(&p, Action::Pause, "t").unwrap_err(),
            "is already paused"
        );
        assert_eq!(
            apply_action(&d, Action::Resume, "t").unwrap_err(),
            "is not paused"
        );
        assert!(apply_action(&p, Action::Restart, "t").is_err());
        let r = apply_action(&d, Action::Restart, "t").unwrap();
        assert_eq!(
            r["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
            "t"
        );
        let pod = json!({"kind": "Pod"});
        assert_eq!(
            apply_action(&pod, Action::Pause, "t").unwrap_err(),
            "pausing is not supported"
        );
    }

    #[test]
    fn hash_label_ignored() {
        let a = json!({"metadata": {"labels": {"app": "x", "pod-template-hash": "abc"}}});
        let b = json!({"metadata": {"labels": {"app": "x"}}});
        assert_eq!(without_hash(&a), without_hash(&b));
    }
}
