//! The job controller (upstream `pkg/controller/job`, 1.33 semantics).
//!
//! For each Job: its pods (controller reference to the Job) carry the
//! `batch.kubernetes.io/job-tracking` finalizer while they count. A sync
//!
//! 1. records pods that finished and still carry the finalizer in
//!    `status.uncountedTerminatedPods` (a status write guarded by the Job's
//!    `resourceVersion`), removes their finalizers, then moves them into
//!    `succeeded`/`failed` (and `completedIndexes` for Indexed jobs), so a
//!    crash at any point neither loses nor double-counts a pod;
//! 2. decides the outcome: `failed > backoffLimit` gives `FailureTarget`
//!    (`BackoffLimitExceeded`), running past `activeDeadlineSeconds` gives
//!    `FailureTarget` (`DeadlineExceeded`), enough successes give
//!    `SuccessCriteriaMet` (`CompletionsReached`); active pods are then
//!    deleted and, once none is left, the terminal `Failed` or `Complete`
//!    condition (with `completionTime`) is added;
//! 3. otherwise creates or deletes pods so `min(parallelism, remaining)`
//!    are active (lowest missing indexes first in Indexed mode, with the
//!    `batch.kubernetes.io/job-completion-index` annotation and label, the
//!    `JOB_COMPLETION_INDEX` variable and hostname `<job>-<index>`), after
//!    the failure back-off (10 s doubling per failure since the last
//!    success, capped at 6 min); a suspended Job has no active pods and the
//!    `Suspended` condition, and resuming resets `startTime`.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use client_support::{InformerEvent, WorkQueue};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, PostParams, Preconditions};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use crate::util::{
    controller_ref, is_code, is_pod_ready, key_of, owner_ref, pod_from_template, Expectations,
};
use crate::worker::run_workers;
use crate::{Context, Error};

/// The finalizer on pods whose outcome the Job has not counted yet.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// Annotation and label with a pod's index in an Indexed Job.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// The environment variable carrying the index.
pub const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// First failure back-off.
pub const BACKOFF_BASE: Duration = Duration::from_secs(10);
/// Longest failure back-off.
pub const BACKOFF_MAX: Duration = Duration::from_secs(360);
/// Default `spec.backoffLimit`.
pub const DEFAULT_BACKOFF_LIMIT: i32 = 6;

/// The back-off before a new pod after `failures` consecutive failures.
pub fn backoff(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let d = BACKOFF_BASE.saturating_mul(1u32 << (failures - 1).min(16));
    d.min(BACKOFF_MAX)
}

/// Formats indexes as upstream's `completedIndexes`: `1,3-5,7`.
pub fn format_indexes(ix: &BTreeSet<i32>) -> String {
    let mut out: Vec<String> = Vec::new();
    let v: Vec<i32> = ix.iter().copied().collect();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        if j == i {
            out.push(v[i].to_string());
        } else {
            out.push(format!("{}-{}", v[i], v[j]));
        }
        i = j + 1;
    }
    out.join(",")
}

/// Parses `completedIndexes`, keeping indexes below `completions`.
pub fn parse_indexes(s: &str, completions: i32) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.parse().ok(), b.parse().ok()),
            None => (part.parse().ok(), part.parse().ok()),
        };
        if let (Some(a), Some(b)) = (a, b) {
            for i in a..=b {
                if (0..completions).contains(&i) {
                    out.insert(i);
                }
            }
        }
    }
    out
}

fn pod_index(p: &Pod) -> Option<i32> {
    p.annotations()
        .get(COMPLETION_INDEX)
        .or_else(|| p.labels().get(COMPLETION_INDEX))
        .and_then(|v| v.parse().ok())
}

fn phase(p: &Pod) -> Option<&str> {
    p.status.as_ref().and_then(|s| s.phase.as_deref())
}

fn has_finalizer(p: &Pod) -> bool {
    p.finalizers().iter().any(|f| f == TRACKING_FINALIZER)
}

/// Upstream `isPodFailed`: phase Failed, or deleted before succeeding.
fn is_failed(p: &Pod) -> bool {
    phase(p) == Some("Failed")
        || (p.metadata.deletion_timestamp.is_some() && phase(p) != Some("Succeeded"))
}

/// When a pod finished: its containers' latest `finishedAt`, else the
/// Ready condition's transition, else its creation.
fn finish_time(p: &Pod) -> Option<Timestamp> {
    let st = p.status.as_ref();
    let fin = st
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| {
            c.state
                .as_ref()?
                .terminated
                .as_ref()?
                .finished_at
                .as_ref()
                .map(|t| t.0)
        })
        .max();
    fin.or_else(|| {
        st?.conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Ready")
            .and_then(|c| c.last_transition_time.as_ref().map(|t| t.0))
    })
    .or_else(|| p.metadata.deletion_timestamp.as_ref().map(|t| t.0))
    .or_else(|| p.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// Time left in the failure back-off (upstream `backoffRecord`): failures
/// after the last success, counted from finished pods.
pub fn remaining_backoff(pods: &[Arc<Pod>], now: Timestamp) -> Duration {
    let last_success = pods
        .iter()
        .filter(|p| phase(p) == Some("Succeeded"))
        .filter_map(|p| finish_time(p))
        .max();
    let failures: Vec<Timestamp> = pods
        .iter()
        .filter(|p| phase(p) == Some("Failed"))
        .filter_map(|p| finish_time(p))
        .filter(|t| last_success.is_none_or(|s| *t > s))
        .collect();
    let Some(last) = failures.iter().max() else {
        return Duration::ZERO;
    };
    let until = last.as_millisecond() + backoff(failures.len() as u32).as_millis() as i64;
    let left = until - now.as_millisecond();
    if left > 0 {
        Duration::from_millis(left as u64)
    } else {
        Duration::ZERO
    }
}

fn cond(job: &Job, type_: &str) -> Option<JobCondition> {
    job.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_ && c.status == "True")
        .cloned()
}

/// Whether the Job has its terminal condition (`Complete` or `Failed`).
pub fn is_finished(job: &Job) -> bool {
    cond(job, "Complete").is_some() || cond(job, "Failed").is_some()
}

fn set_condition(
    status: &mut JobStatus,
    type_: &str,
    state: &str,
    reason: &str,
    message: &str,
    now: &Time,
) {
    let conds = status.conditions.get_or_insert_with(Vec::new);
    if let Some(c) = conds.iter_mut().find(|c| c.type_ == type_) {
        if c.status != state {
            c.last_transition_time = Some(now.clone());
        }
        c.status = state.into();
        c.reason = Some(reason.into());
        c.message = Some(message.into());
        c.last_probe_time = Some(now.clone());
        return;
    }
    conds.push(JobCondition {
        type_: type_.into(),
        status: state.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(now.clone()),
        last_transition_time: Some(now.clone()),
    });
}

/// The pods a job creates for `index` (Indexed mode) or none.
pub fn pod_for(job: &Job, index: Option<i32>) -> Pod {
    let spec = job.spec.clone().unwrap_or_default();
    let name = job.name_any();
    let prefix = match index {
        Some(i) => format!("{name}-{i}"),
        None => name.clone(),
    };
    let mut pod = pod_from_template(&spec.template, &prefix, owner_ref(job));
    pod.metadata
        .finalizers
        .get_or_insert_with(Vec::new)
        .push(TRACKING_FINALIZER.into());
    if let Some(i) = index {
        pod.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(COMPLETION_INDEX.into(), i.to_string());
        pod.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(COMPLETION_INDEX.into(), i.to_string());
        if let Some(ps) = pod.spec.as_mut() {
            if ps.hostname.as_deref().unwrap_or("").is_empty() {
                ps.hostname = Some(format!("{name}-{i}"));
            }
            let env = EnvVar {
                name: COMPLETION_INDEX_ENV.into(),
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        field_path: format!("metadata.annotations['{COMPLETION_INDEX}']"),
                        api_version: None,
                    }),
                    ..EnvVarSource::default()
                }),
                value: None,
            };
            for c in ps
                .containers
                .iter_mut()
                .chain(ps.init_containers.iter_mut().flatten())
            {
                let e = c.env.get_or_insert_with(Vec::new);
                if !e.iter().any(|v| v.name == COMPLETION_INDEX_ENV) {
                    e.push(env.clone());
                }
            }
        }
    }
    pod
}

/// Indexes to create pods for: not succeeded and without an active pod,
/// lowest first, at most `room`.
pub fn missing_indexes(
    completions: i32,
    succeeded: &BTreeSet<i32>,
    active: &HashSet<i32>,
    room: usize,
) -> Vec<i32> {
    (0..completions)
        .filter(|i| !succeeded.contains(i) && !active.contains(i))
        .take(room)
        .collect()
}

/// The controller: queue, pod expectations, and the pods whose finalizer
/// it removed but the cache may still show.
pub struct JobController {
    ctx: Arc<Context>,
    queue: WorkQueue<String>,
    expectations: Arc<Expectations>,
    removed: Arc<Mutex<HashSet<String>>>,
}

fn job_key_for_pod(pod: &Pod) -> Option<String> {
    let r = controller_ref(&pod.metadata)?;
    (r.kind == "Job" && r.api_version.starts_with("batch/"))
        .then(|| format!("{}/{}", pod.namespace().unwrap_or_default(), r.name))
}

impl JobController {
    /// Subscribes to jobs and pods.
    pub fn new(ctx: Arc<Context>) -> Self {
        let queue: WorkQueue<String> = WorkQueue::new();
        let expectations = Arc::new(Expectations::default());
        let q = queue.clone();
        let exp = expectations.clone();
        ctx.jobs.subscribe(move |ev| match ev {
            InformerEvent::Applied { new, .. } => q.add(key_of(&**new)),
            InformerEvent::Deleted(j) => {
                exp.delete(&key_of(&**j));
                q.add(key_of(&**j));
            }
        });
        let q = queue.clone();
        let exp = expectations.clone();
        ctx.pods.subscribe(move |ev| match ev {
            InformerEvent::Applied { old, new } => {
                if let Some(k) = job_key_for_pod(new) {
                    if old.is_none() {
                        exp.creation_observed(&k);
                    }
                    if new.metadata.deletion_timestamp.is_some() {
                        exp.deletion_observed(&k, &key_of(&**new));
                    }
                    q.add(k);
                }
            }
            InformerEvent::Deleted(p) => {
                if let Some(k) = job_key_for_pod(p) {
                    exp.deletion_observed(&k, &key_of(&**p));
                    q.add(k);
                }
            }
        });
        JobController {
            ctx,
            queue,
            expectations,
            removed: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// The work queue (shut down to stop).
    pub fn queue(&self) -> WorkQueue<String> {
        self.queue.clone()
    }

    /// Runs the workers until the queue is shut down.
    pub async fn run(self) {
        let ctx = self.ctx.clone();
        let exp = self.expectations.clone();
        let removed = self.removed.clone();
        let n = ctx.opts.concurrent_job_syncs;
        run_workers("job", self.queue, n, ctx.metrics.clone(), move |key| {
            let ctx = ctx.clone();
            let exp = exp.clone();
            let removed = removed.clone();
            async move { sync(&ctx, &exp, &removed, &key).await }
        })
        .await;
    }
}

/// Removes the tracking finalizer from `pod` (a write guarded by its
/// `resourceVersion`).
async fn remove_finalizer(api: &Api<Pod>, pod: &Pod) -> Result<(), Error> {
    let mut p = pod.clone();
    if let Some(f) = p.metadata.finalizers.as_mut() {
        f.retain(|f| f != TRACKING_FINALIZER);
    }
    match api
        .replace(&pod.name_any(), &PostParams::default(), &p)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, 404) => Ok(()),
        Err(e) => Err(Error::kube(format!(
            "removing finalizer of pod {}",
            pod.name_any()
        ))(e)),
    }
}

async fn delete_pods(
    api: &Api<Pod>,
    exp: &Expectations,
    key: &str,
    pods: &[Arc<Pod>],
) -> Result<(), Error> {
    if pods.is_empty() {
        return Ok(());
    }
    exp.expect_deletions(key, pods.iter().map(|p| key_of(&**p)).collect());
    for p in pods {
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid: p.metadata.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&p.name_any(), &dp).await {
            Ok(_) => {}
            Err(e) if is_code(&e, 404) || is_code(&e, 409) => {
                exp.deletion_observed(key, &key_of(&**p))
            }
            Err(e) => {
                exp.deletion_observed(key, &key_of(&**p));
                return Err(Error::kube(format!("deleting pod {}", p.name_any()))(e));
            }
        }
    }
    Ok(())
}

async fn sync(
    ctx: &Context,
    exp: &Expectations,
    removed: &Mutex<HashSet<String>>,
    key: &str,
) -> Result<Option<Duration>, Error> {
    let (ns, name) = client_support::informer::split_key(key);
    let ns = ns.unwrap_or("default").to_string();
    let pod_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let job = ctx
        .jobs
        .store()
        .get(&ObjectRef::<Job>::new(name).within(&ns));
    let uid = job.as_ref().and_then(|j| j.metadata.uid.clone());
    // Pods of this job (or, when it is gone, of any job of that name).
    let pods: Vec<Arc<Pod>> = ctx.pods.store().state_filter(|p| {
        p.metadata.namespace.as_deref() == Some(ns.as_str())
            && controller_ref(&p.metadata).is_some_and(|r| {
                r.kind == "Job" && r.name == name && uid.as_ref().is_none_or(|u| *u == r.uid)
            })
    });
    {
        let mut rm = removed.lock().unwrap_or_else(|e| e.into_inner());
        for p in &pods {
            if !has_finalizer(p) {
                rm.remove(p.metadata.uid.as_deref().unwrap_or(""));
            }
        }
    }
    let Some(job) = job else {
        // Orphaned or deleted: nothing will count these pods any more.
        exp.delete(key);
        for p in pods.iter().filter(|p| has_finalizer(p)) {
            remove_finalizer(&pod_api, p).await?;
        }
        return Ok(None);
    };
    if is_finished(&job) || job.metadata.deletion_timestamp.is_some() {
        for p in pods.iter().filter(|p| has_finalizer(p)) {
            remove_finalizer(&pod_api, p).await?;
        }
        return Ok(None);
    }
    let now_ts = Timestamp::now();
    let now = crate::util::now();
    let spec = job.spec.clone().unwrap_or_default();
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let parallelism = spec.parallelism.unwrap_or(1).max(0);
    let completions = spec.completions;
    let backoff_limit = spec.backoff_limit.unwrap_or(DEFAULT_BACKOFF_LIMIT);
    let suspended = spec.suspend.unwrap_or(false);
    let mut status = job.status.clone().unwrap_or_default();
    let mut uncounted = status.uncounted_terminated_pods.clone().unwrap_or_default();
    let unc_s: HashSet<String> = uncounted.succeeded.iter().flatten().cloned().collect();
    let unc_f: HashSet<String> = uncounted.failed.iter().flatten().cloned().collect();
    let removed_now: HashSet<String> = removed.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut completed = parse_indexes(
        status.completed_indexes.as_deref().unwrap_or(""),
        completions.unwrap_or(0),
    );

    // 1. Newly finished pods into uncountedTerminatedPods.
    let mut new_s = Vec::new();
    let mut new_f = Vec::new();
    for p in &pods {
        let puid = p.metadata.uid.clone().unwrap_or_default();
        if !has_finalizer(p)
            || unc_s.contains(&puid)
            || unc_f.contains(&puid)
            || removed_now.contains(&puid)
        {
            continue;
        }
        if phase(p) == Some("Succeeded") {
            new_s.push(puid);
        } else if is_failed(p) {
            new_f.push(puid);
        }
    }
    let mut job_now = (*job).clone();
    let status_api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    if !new_s.is_empty() || !new_f.is_empty() {
        uncounted
            .succeeded
            .get_or_insert_with(Vec::new)
            .extend(new_s);
        uncounted.failed.get_or_insert_with(Vec::new).extend(new_f);
        status.uncounted_terminated_pods = Some(uncounted.clone());
        job_now.status = Some(status.clone());
        job_now = status_api
            .replace_status(name, &PostParams::default(), &job_now)
            .await
            .map_err(Error::kube(format!("recording finished pods of job {key}")))?;
        status = job_now.status.clone().unwrap_or_default();
    }
    // 2. Their finalizers go.
    let unc_s: HashSet<String> = uncounted.succeeded.iter().flatten().cloned().collect();
    let unc_f: HashSet<String> = uncounted.failed.iter().flatten().cloned().collect();
    for p in &pods {
        let puid = p.metadata.uid.clone().unwrap_or_default();
        if has_finalizer(p)
            && (unc_s.contains(&puid) || unc_f.contains(&puid))
            && !removed_now.contains(&puid)
        {
            remove_finalizer(&pod_api, p).await?;
            removed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(puid);
        }
    }
    // 3. Counted: every uncounted pod whose finalizer is gone.
    let removed_all: HashSet<String> = removed.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let done = |u: &String| {
        removed_all.contains(u)
            || pods
                .iter()
                .find(|p| p.metadata.uid.as_ref() == Some(u))
                .is_none_or(|p| !has_finalizer(p))
    };
    let mut succeeded = status.succeeded.unwrap_or(0);
    let mut failed = status.failed.unwrap_or(0);
    let mut still = UncountedTerminatedPods::default();
    for u in uncounted.succeeded.iter().flatten() {
        if done(u) {
            if indexed {
                let ix = pods
                    .iter()
                    .find(|p| p.metadata.uid.as_ref() == Some(u))
                    .and_then(|p| pod_index(p));
                if let Some(i) = ix.filter(|i| (0..completions.unwrap_or(0)).contains(i)) {
                    completed.insert(i);
                }
            } else {
                succeeded += 1;
            }
        } else {
            still.succeeded.get_or_insert_with(Vec::new).push(u.clone());
        }
    }
    for u in uncounted.failed.iter().flatten() {
        if done(u) {
            failed += 1;
        } else {
            still.failed.get_or_insert_with(Vec::new).push(u.clone());
        }
    }
    if indexed {
        succeeded = completed.len() as i32;
        status.completed_indexes = Some(format_indexes(&completed));
    }
    let pending_uncounted =
        still.succeeded.as_ref().map_or(0, Vec::len) + still.failed.as_ref().map_or(0, Vec::len);
    status.uncounted_terminated_pods = Some(still);
    status.succeeded = Some(succeeded);
    status.failed = Some(failed);

    // Active and terminating pods.
    let active: Vec<Arc<Pod>> = pods
        .iter()
        .filter(|p| crate::util::is_pod_active(p))
        .cloned()
        .collect();
    let terminating = pods
        .iter()
        .filter(|p| {
            p.metadata.deletion_timestamp.is_some()
                && !matches!(phase(p), Some("Succeeded") | Some("Failed"))
        })
        .count() as i32;
    let mut requeue: Option<Duration> = None;
    let satisfied = exp.satisfied(key);

    // Start time, suspension.
    let was_suspended = cond(&job_now, "Suspended").is_some();
    if suspended {
        if !was_suspended {
            set_condition(
                &mut status,
                "Suspended",
                "True",
                "JobSuspended",
                "Job suspended",
                &now,
            );
        }
    } else {
        if was_suspended {
            set_condition(
                &mut status,
                "Suspended",
                "False",
                "JobResumed",
                "Job resumed",
                &now,
            );
            status.start_time = Some(now.clone());
        }
        if status.start_time.is_none() {
            status.start_time = Some(now.clone());
        }
    }

    // Outcome.
    let mut target = cond(&job_now, "FailureTarget")
        .map(|c| {
            (
                "Failed",
                c.reason.unwrap_or_default(),
                c.message.unwrap_or_default(),
            )
        })
        .or_else(|| {
            cond(&job_now, "SuccessCriteriaMet").map(|c| {
                (
                    "Complete",
                    c.reason.unwrap_or_default(),
                    c.message.unwrap_or_default(),
                )
            })
        });
    if target.is_none() {
        let deadline = spec
            .active_deadline_seconds
            .filter(|_| !suspended)
            .and_then(|d| status.start_time.as_ref().map(|s| s.0.as_second() + d));
        let complete = if indexed {
            completions.is_some_and(|c| succeeded >= c)
        } else {
            match completions {
                Some(c) => succeeded >= c,
                None => succeeded > 0 && active.is_empty(),
            }
        };
        if failed > backoff_limit {
            target = Some((
                "Failed",
                "BackoffLimitExceeded".into(),
                "Job has reached the specified backoff limit".into(),
            ));
        } else if deadline.is_some_and(|d| now_ts.as_second() >= d) {
            target = Some((
                "Failed",
                "DeadlineExceeded".into(),
                "Job was active longer than specified deadline".into(),
            ));
        } else if complete {
            target = Some((
                "Complete",
                "CompletionsReached".into(),
                "Reached expected number of succeeded pods".into(),
            ));
        } else if let Some(d) = deadline {
            requeue = Some(Duration::from_secs((d - now_ts.as_second()).max(1) as u64));
        }
        if let Some((t, reason, message)) = &target {
            let ct = if *t == "Failed" {
                "FailureTarget"
            } else {
                "SuccessCriteriaMet"
            };
            set_condition(&mut status, ct, "True", reason, message, &now);
        }
    }

    let mut active_count = active.len() as i32;
    if let Some((t, reason, message)) = &target {
        // Finish: no active pods, then the terminal condition.
        if !active.is_empty() && satisfied {
            delete_pods(&pod_api, exp, key, &active).await?;
        }
        if active.is_empty() && terminating == 0 && pending_uncounted == 0 {
            set_condition(&mut status, t, "True", reason, message, &now);
            if *t == "Complete" {
                status.completion_time = Some(now.clone());
            }
        }
        active_count = 0;
    } else if satisfied {
        let want = if suspended {
            0
        } else if indexed {
            parallelism.min(completions.unwrap_or(0) - succeeded).max(0)
        } else {
            match completions {
                Some(c) => parallelism.min(c - succeeded).max(0),
                None if succeeded > 0 => 0,
                None => parallelism,
            }
        };
        let have = active.len() as i32;
        if have > want {
            // Newest first, as upstream sorts for deletion.
            let mut victims = active.clone();
            victims.sort_by(|a, b| crate::replicaset::delete_order(a, 0, b, 0, now_ts));
            victims.truncate((have - want) as usize);
            delete_pods(&pod_api, exp, key, &victims).await?;
            active_count = want;
        } else if have < want {
            let wait = remaining_backoff(&pods, now_ts);
            if wait > Duration::ZERO {
                requeue = Some(requeue.map_or(wait, |r| r.min(wait)));
            } else {
                let to_create: Vec<Option<i32>> = if indexed {
                    let act: HashSet<i32> = active.iter().filter_map(|p| pod_index(p)).collect();
                    missing_indexes(
                        completions.unwrap_or(0),
                        &completed,
                        &act,
                        (want - have) as usize,
                    )
                    .into_iter()
                    .map(Some)
                    .collect()
                } else {
                    vec![None; (want - have) as usize]
                };
                exp.expect_creations(key, to_create.len());
                let mut first_err = None;
                for ix in &to_create {
                    let pod = pod_for(&job_now, *ix);
                    match pod_api.create(&PostParams::default(), &pod).await {
                        Ok(_) => active_count += 1,
                        Err(e) => {
                            exp.creation_observed(key);
                            if first_err.is_none() {
                                first_err = Some(e);
                            }
                        }
                    }
                }
                if let Some(e) = first_err {
                    return Err(Error::kube(format!("creating pods for job {key}"))(e));
                }
            }
        }
    }
    status.active = Some(active_count.max(0));
    status.ready = Some(active.iter().filter(|p| is_pod_ready(p)).count() as i32);
    status.terminating = Some(terminating);
    let old = job_now.status.clone().unwrap_or_default();
    if old != status {
        job_now.status = Some(status);
        status_api
            .replace_status(name, &PostParams::default(), &job_now)
            .await
            .map_err(Error::kube(format!("updating status of job {key}")))?;
    }
    Ok(requeue)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn backoff_doubles_from_ten_seconds_up_to_six_minutes() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(2), Duration::from_secs(20));
        assert_eq!(backoff(3), Duration::from_secs(40));
        assert_eq!(backoff(6), Duration::from_secs(320));
        assert_eq!(backoff(7), Duration::from_secs(360));
        assert_eq!(backoff(40), Duration::from_secs(360));
    }

    #[test]
    fn completed_indexes_round_trip() {
        let s: BTreeSet<i32> = [0, 1, 2, 4, 6, 7].into();
        assert_eq!(format_indexes(&s), "0-2,4,6-7");
        assert_eq!(parse_indexes("0-2,4,6-7", 10), s);
        assert_eq!(parse_indexes("0-2,9", 5), [0, 1, 2].into());
        assert_eq!(format_indexes(&BTreeSet::new()), "");
        let act: HashSet<i32> = [1].into();
        assert_eq!(missing_indexes(5, &[0, 2].into(), &act, 2), vec![3, 4]);
    }

    fn failed_pod(at: &str) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "p", "creationTimestamp": "2024-01-01T00:00:00Z"},
                "status": {"phase": "Failed", "containerStatuses": [{"name": "c", "image": "i", "imageID": "",
                    "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": 1, "finishedAt": at}}}]}
            }))
            .unwrap(),
        )
    }

    #[test]
    fn backoff_counts_failures_since_the_last_success() {
        let now: Timestamp = "2024-01-01T00:01:00Z".parse().unwrap();
        let pods = vec![
            failed_pod("2024-01-01T00:00:50Z"),
            failed_pod("2024-01-01T00:00:55Z"),
        ];
        // Two failures: 20 s from the last one, 15 s left.
        assert_eq!(remaining_backoff(&pods, now), Duration::from_secs(15));
        assert_eq!(remaining_backoff(&pods[..1], now), Duration::ZERO);
    }

    #[test]
    fn indexed_pods_carry_their_index() {
        let job: Job = serde_json::from_value(json!({
            "metadata": {"name": "pi", "namespace": "ns", "uid": "u"},
            "spec": {"completionMode": "Indexed", "completions": 3,
                "template": {"metadata": {"labels": {"batch.kubernetes.io/job-name": "pi"}},
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}
        }))
        .unwrap();
        let p = pod_for(&job, Some(2));
        assert_eq!(p.metadata.generate_name.as_deref(), Some("pi-2-"));
        assert_eq!(
            p.annotations().get(COMPLETION_INDEX).map(String::as_str),
            Some("2")
        );
        assert_eq!(
            p.labels().get(COMPLETION_INDEX).map(String::as_str),
            Some("2")
        );
        assert_eq!(p.spec.as_ref().unwrap().hostname.as_deref(), Some("pi-2"));
        assert!(p.finalizers().contains(&TRACKING_FINALIZER.to_string()));
        let env = p.spec.as_ref().unwrap().containers[0].env.clone().unwrap();
        assert_eq!(env[0].name, COMPLETION_INDEX_ENV);
        let r = &p.owner_references()[0];
        assert_eq!((r.kind.as_str(), r.controller), ("Job", Some(true)));
    }
}
