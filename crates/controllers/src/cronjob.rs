//! The cronjob controller (upstream `pkg/controller/cronjob`, the v2
//! controller).
//!
//! Schedules are the standard five fields (minute, hour, day of month,
//! month, day of week; lists, ranges, steps, `*` and `?`, month and weekday
//! names) or the macros `@yearly`, `@annually`, `@monthly`, `@weekly`,
//! `@daily`, `@midnight`, `@hourly`; as upstream's parser, when day of
//! month or day of week is `*` both must match, otherwise either.
//!
//! `timeZone`: unset (the controller's zone, UTC here), `UTC`, `GMT` and
//! their `Etc/` aliases, and the fixed `Etc/GMT+N` / `Etc/GMT-N` zones.
//! Other IANA zones are not supported yet (no time-zone database is
//! linked): such CronJobs are skipped with a warning.
//!
//! A sync: track the CronJob's Jobs (unfinished owned Jobs are `active`,
//! finished ones leave it and move `lastSuccessfulTime`), delete finished
//! Jobs beyond `successfulJobsHistoryLimit` (3) and
//! `failedJobsHistoryLimit` (1), oldest first; then, unless suspended, find
//! the most recent missed schedule time after `lastScheduleTime` (or the
//! creation time), honouring `startingDeadlineSeconds`, apply the
//! `concurrencyPolicy` (Forbid skips while a Job runs, Replace deletes the
//! running ones), create Job `<cronjob>-<scheduled time in minutes since
//! the epoch>` and set `lastScheduleTime`; then requeue for the next time.

use std::sync::Arc;
use std::time::Duration;

use chrono::{
    DateTime, Datelike, Duration as CDuration, FixedOffset, NaiveDateTime, TimeZone, Timelike, Utc,
};
use client_support::{InformerEvent, WorkQueue};
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::util::{controller_ref, is_code, key_of, owner_ref};
use crate::worker::run_workers;
use crate::{Context, Error};

/// Annotation on created Jobs with their scheduled time.
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// A parsed schedule: one bit per allowed value of each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    dom_star: bool,
    dow_star: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn parse_value(s: &str, names: &[&str], offset: u32) -> Result<u32, String> {
    let l = s.to_ascii_lowercase();
    if let Some(i) = names.iter().position(|n| *n == l) {
        return Ok(i as u32 + offset);
    }
    s.parse::<u32>()
        .map_err(|_| format!("failed to parse int from {s}"))
}

/// Parses one field into a bit set; returns it and whether it was `*`.
fn parse_field(
    f: &str,
    min: u32,
    max: u32,
    names: &[&str],
    offset: u32,
) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let mut star = false;
    for part in f.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                Some(
                    s.parse::<u32>()
                        .map_err(|_| format!("failed to parse int from {s}"))?,
                ),
            ),
            None => (part, None),
        };
        let (mut lo, mut hi, mut is_star) = if range == "*" || range == "?" {
            (min, max, true)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                parse_value(a, names, offset)?,
                parse_value(b, names, offset)?,
                false,
            )
        } else {
            let v = parse_value(range, names, offset)?;
            (v, v, false)
        };
        if let Some(st) = step {
            if st == 0 {
                return Err(format!("step of range should be a positive number: {part}"));
            }
            if !is_star && !range.contains('-') {
                // "N/step" means "N-max/step".
                hi = max;
            }
            if st > 1 {
                is_star = false;
            }
        }
        if lo < min {
            return Err(format!(
                "beginning of range ({lo}) below minimum ({min}): {part}"
            ));
        }
        if hi > max {
            return Err(format!("end of range ({hi}) above maximum ({max}): {part}"));
        }
        if lo > hi {
            return Err(format!(
                "beginning of range ({lo}) beyond end of range ({hi}): {part}"
            ));
        }
        let st = step.unwrap_or(1);
        while lo <= hi {
            bits |= 1 << lo;
            lo += st;
        }
        star |= is_star;
    }
    Ok((bits, star))
}

impl Schedule {
    /// Parses a standard schedule or macro (upstream `cron.ParseStandard`).
    pub fn parse(spec: &str) -> Result<Schedule, String> {
        let spec = spec.trim();
        let expanded = match spec {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            s if s.starts_with('@') => return Err(format!("unrecognized descriptor: {s}")),
            s => s,
        };
        let f: Vec<&str> = expanded.split_whitespace().collect();
        if f.len() != 5 {
            return Err(format!(
                "expected exactly 5 fields, found {}: {spec}",
                f.len()
            ));
        }
        let (minute, _) = parse_field(f[0], 0, 59, &[], 0)?;
        let (hour, _) = parse_field(f[1], 0, 23, &[], 0)?;
        let (dom, dom_star) = parse_field(f[2], 1, 31, &[], 0)?;
        let (month, _) = parse_field(f[3], 1, 12, &MONTHS, 1)?;
        let (dow, dow_star) = parse_field(f[4], 0, 6, &DAYS, 0)?;
        Ok(Schedule {
            minute,
            hour,
            dom,
            month,
            dow,
            dom_star,
            dow_star,
        })
    }

    fn day_matches(&self, t: &NaiveDateTime) -> bool {
        let d = self.dom & (1 << t.day()) != 0;
        let w = self.dow & (1 << t.weekday().num_days_from_sunday()) != 0;
        if self.dom_star || self.dow_star {
            d && w
        } else {
            d || w
        }
    }

    /// The first activation strictly after `after`, in the zone `tz`
    /// (`None` if none within five years).
    pub fn next(&self, after: DateTime<Utc>, tz: FixedOffset) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&tz).naive_local();
        let mut t = local.with_second(0)?.with_nanosecond(0)? + CDuration::minutes(1);
        let limit = t.year() + 5;
        while t.year() <= limit {
            if self.month & (1 << t.month()) == 0 {
                let (y, m) = if t.month() == 12 {
                    (t.year() + 1, 1)
                } else {
                    (t.year(), t.month() + 1)
                };
                t = chrono::NaiveDate::from_ymd_opt(y, m, 1)?.and_hms_opt(0, 0, 0)?;
                continue;
            }
            if !self.day_matches(&t) {
                t = t.date().succ_opt()?.and_hms_opt(0, 0, 0)?;
                continue;
            }
            if self.hour & (1 << t.hour()) == 0 {
                t = t.date().and_hms_opt(t.hour(), 0, 0)? + CDuration::hours(1);
                continue;
            }
            if self.minute & (1 << t.minute()) == 0 {
                t += CDuration::minutes(1);
                continue;
            }
            return tz
                .from_local_datetime(&t)
                .single()
                .map(|d| d.with_timezone(&Utc));
        }
        None
    }
}

/// The fixed offset of a supported `timeZone` (see the module docs).
pub fn parse_time_zone(tz: Option<&str>) -> Result<FixedOffset, String> {
    let utc = FixedOffset::east_opt(0).ok_or("offset")?;
    let Some(name) = tz.filter(|s| !s.is_empty()) else {
        return Ok(utc);
    };
    let n = name.strip_prefix("Etc/").unwrap_or(name);
    match n {
        "UTC" | "UCT" | "GMT" | "Zulu" | "Universal" | "Greenwich" | "GMT0" | "GMT+0" | "GMT-0" => {
            Ok(utc)
        }
        _ if name.starts_with("Etc/GMT") => {
            let rest = &name["Etc/GMT".len()..];
            let (sign, num) = rest.split_at(1);
            let h: i32 = num
                .parse()
                .map_err(|_| format!("unknown time zone {name}"))?;
            // POSIX signs: Etc/GMT+5 is five hours behind UTC.
            let secs = match sign {
                "+" if h <= 12 => -h * 3600,
                "-" if h <= 14 => h * 3600,
                _ => return Err(format!("unknown time zone {name}")),
            };
            FixedOffset::east_opt(secs).ok_or_else(|| format!("unknown time zone {name}"))
        }
        _ => Err(format!("unsupported time zone {name}")),
    }
}

/// Upstream `mostRecentScheduleTime`: the latest activation after the
/// earliest time considered and not after `now`, and how many were missed.
pub fn most_recent_schedule_time(
    sched: &Schedule,
    tz: FixedOffset,
    earliest: DateTime<Utc>,
    starting_deadline: Option<i64>,
    now: DateTime<Utc>,
) -> (Option<DateTime<Utc>>, usize) {
    let mut earliest = earliest;
    if let Some(d) = starting_deadline {
        let limit = now - CDuration::seconds(d);
        if limit > earliest {
            earliest = limit;
        }
    }
    let mut last = None;
    let mut missed = 0;
    let mut t = earliest;
    while let Some(n) = sched.next(t, tz) {
        if n > now {
            break;
        }
        last = Some(n);
        missed += 1;
        t = n;
        if missed > 100_000 {
            break;
        }
    }
    (last, missed)
}

/// The Job name for a scheduled time: `<cronjob>-<minutes since epoch>`.
pub fn job_name(cronjob: &str, scheduled: DateTime<Utc>) -> String {
    format!("{cronjob}-{}", scheduled.timestamp() / 60)
}

fn to_time(t: DateTime<Utc>) -> Time {
    Time(k8s_openapi::jiff::Timestamp::from_second(t.timestamp()).unwrap_or_default())
}

fn from_time(t: &Time) -> DateTime<Utc> {
    Utc.timestamp_opt(t.0.as_second(), 0)
        .single()
        .unwrap_or_default()
}

fn job_finished(j: &Job) -> Option<&'static str> {
    for c in j.status.as_ref()?.conditions.iter().flatten() {
        if c.status == "True" {
            if c.type_ == "Complete" {
                return Some("Complete");
            }
            if c.type_ == "Failed" {
                return Some("Failed");
            }
        }
    }
    None
}

/// The clock the controller reads (a seam for tests).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The controller: its queue and clock.
pub struct CronJobController {
    ctx: Arc<Context>,
    queue: WorkQueue<String>,
    clock: Clock,
}

impl CronJobController {
    /// Subscribes to CronJobs and Jobs, with the real clock.
    pub fn new(ctx: Arc<Context>) -> Self {
        Self::with_clock(ctx, Arc::new(Utc::now))
    }

    /// As [`CronJobController::new`] with a given clock.
    pub fn with_clock(ctx: Arc<Context>, clock: Clock) -> Self {
        let queue: WorkQueue<String> = WorkQueue::new();
        let q = queue.clone();
        ctx.cronjobs.subscribe(move |ev| match ev {
            InformerEvent::Applied { new, .. } => q.add(key_of(&**new)),
            InformerEvent::Deleted(c) => q.add(key_of(&**c)),
        });
        let q = queue.clone();
        ctx.jobs.subscribe(move |ev| {
            let j = match ev {
                InformerEvent::Applied { new, .. } => new,
                InformerEvent::Deleted(j) => j,
            };
            if let Some(r) = controller_ref(&j.metadata) {
                if r.kind == "CronJob" {
                    q.add(format!("{}/{}", j.namespace().unwrap_or_default(), r.name));
                }
            }
        });
        CronJobController { ctx, queue, clock }
    }

    /// The work queue (shut down to stop).
    pub fn queue(&self) -> WorkQueue<String> {
        self.queue.clone()
    }

    /// Runs the workers until the queue is shut down.
    pub async fn run(self) {
        let ctx = self.ctx.clone();
        let clock = self.clock.clone();
        let n = ctx.opts.concurrent_cron_job_syncs;
        run_workers("cronjob", self.queue, n, ctx.metrics.clone(), move |key| {
            let ctx = ctx.clone();
            let clock = clock.clone();
            async move { sync(&ctx, &clock, &key).await }
        })
        .await;
    }
}

fn job_ref(j: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: j.metadata.name.clone(),
        namespace: j.metadata.namespace.clone(),
        uid: j.metadata.uid.clone(),
        resource_version: j.metadata.resource_version.clone(),
        ..ObjectReference::default()
    }
}

fn until(t: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (t - now).to_std().unwrap_or_default() + Duration::from_millis(100)
}

/// The Job created for `scheduled` (upstream `getJobFromTemplate2`).
pub fn job_from_template(cj: &CronJob, scheduled: DateTime<Utc>, tz: FixedOffset) -> Job {
    let tmpl = cj
        .spec
        .as_ref()
        .map(|s| s.job_template.clone())
        .unwrap_or_default();
    let tm = tmpl.metadata.unwrap_or_default();
    let mut annotations = tm.annotations.unwrap_or_default();
    annotations.insert(
        SCHEDULED_TIMESTAMP.into(),
        scheduled
            .with_timezone(&tz)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(&cj.name_any(), scheduled)),
            namespace: cj.namespace(),
            labels: tm.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![owner_ref(cj)]),
            ..ObjectMeta::default()
        },
        spec: tmpl.spec,
        status: None,
    }
}

async fn sync(ctx: &Context, clock: &Clock, key: &str) -> Result<Option<Duration>, Error> {
    let (ns, name) = client_support::informer::split_key(key);
    let ns = ns.unwrap_or("default");
    let Some(cj) = ctx
        .cronjobs
        .store()
        .get(&ObjectRef::<CronJob>::new(name).within(ns))
    else {
        return Ok(None);
    };
    if cj.metadata.deletion_timestamp.is_some() {
        return Ok(None);
    }
    let now = clock();
    let uid = cj.metadata.uid.clone().unwrap_or_default();
    let spec = cj.spec.clone().unwrap_or_default();
    let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), ns);
    let mut jobs: Vec<Arc<Job>> = ctx.jobs.store().state_filter(|j| {
        j.metadata.namespace.as_deref() == Some(ns)
            && controller_ref(&j.metadata).is_some_and(|r| r.uid == uid)
    });
    let old_status = cj.status.clone().unwrap_or_default();
    let mut status = old_status.clone();
    // Active and last successful.
    let mut active: Vec<ObjectReference> = Vec::new();
    for j in &jobs {
        match job_finished(j) {
            None if j.metadata.deletion_timestamp.is_none() => active.push(job_ref(j)),
            Some("Complete") => {
                if let Some(ct) = j.status.as_ref().and_then(|s| s.completion_time.as_ref()) {
                    if status
                        .last_successful_time
                        .as_ref()
                        .is_none_or(|l| l.0 < ct.0)
                    {
                        status.last_successful_time = Some(ct.clone());
                    }
                }
            }
            _ => {}
        }
    }
    // Keep refs from the old list for Jobs the cache has not seen yet.
    for r in old_status.active.iter().flatten() {
        let known = jobs.iter().any(|j| j.metadata.uid == r.uid);
        if !known && !active.iter().any(|a| a.uid == r.uid) {
            if let Some(n) = r.name.as_deref() {
                match jobs_api.get_opt(n).await {
                    Ok(Some(j)) if j.metadata.uid == r.uid && job_finished(&j).is_none() => {
                        active.push(r.clone())
                    }
                    Ok(_) => {}
                    Err(e) => return Err(Error::kube(format!("getting job {ns}/{n}"))(e)),
                }
            }
        }
    }
    active.sort_by(|a, b| a.name.cmp(&b.name));
    status.active = (!active.is_empty()).then_some(active);
    // History limits.
    for (kind, limit) in [
        ("Complete", spec.successful_jobs_history_limit.unwrap_or(3)),
        ("Failed", spec.failed_jobs_history_limit.unwrap_or(1)),
    ] {
        let mut done: Vec<&Arc<Job>> = jobs
            .iter()
            .filter(|j| job_finished(j) == Some(kind) && j.metadata.deletion_timestamp.is_none())
            .collect();
        let limit = limit.max(0) as usize;
        if done.len() > limit {
            done.sort_by_key(|j| {
                j.status
                    .as_ref()
                    .and_then(|s| s.start_time.as_ref().map(|t| t.0))
                    .or_else(|| j.metadata.creation_timestamp.as_ref().map(|t| t.0))
            });
            let n = done.len() - limit;
            for j in done.into_iter().take(n) {
                delete_job(&jobs_api, j).await?;
            }
        }
    }
    let result = schedule(ctx, &cj, &spec, &mut status, &mut jobs, now).await;
    if status != old_status {
        let body = json!({"status": {
            "active": status.active,
            "lastScheduleTime": status.last_schedule_time,
            "lastSuccessfulTime": status.last_successful_time,
        }});
        let api: Api<CronJob> = Api::namespaced(ctx.client.clone(), ns);
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(body))
            .await
        {
            Ok(_) => {}
            Err(e) if is_code(&e, 404) => {}
            Err(e) => return Err(Error::kube(format!("updating status of cronjob {key}"))(e)),
        }
    }
    result
}

async fn delete_job(api: &Api<Job>, j: &Job) -> Result<(), Error> {
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    match api.delete(&j.name_any(), &dp).await {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, 404) => Ok(()),
        Err(e) => Err(Error::kube(format!("deleting job {}", j.name_any()))(e)),
    }
}

async fn schedule(
    ctx: &Context,
    cj: &CronJob,
    spec: &k8s_openapi::api::batch::v1::CronJobSpec,
    status: &mut CronJobStatus,
    jobs: &mut [Arc<Job>],
    now: DateTime<Utc>,
) -> Result<Option<Duration>, Error> {
    let key = key_of(cj);
    let tz = match parse_time_zone(spec.time_zone.as_deref()) {
        Ok(tz) => tz,
        Err(e) => {
            tracing::warn!(cronjob = %key, error = %e, "not scheduling");
            return Ok(None);
        }
    };
    if spec.suspend.unwrap_or(false) {
        return Ok(None);
    }
    let sched = match Schedule::parse(&spec.schedule) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(cronjob = %key, error = %e, "unparseable schedule");
            return Ok(None);
        }
    };
    let earliest = status
        .last_schedule_time
        .as_ref()
        .or(cj.metadata.creation_timestamp.as_ref())
        .map(from_time)
        .unwrap_or(now);
    let (scheduled, missed) =
        most_recent_schedule_time(&sched, tz, earliest, spec.starting_deadline_seconds, now);
    let next = sched.next(now, tz);
    let requeue = next.map(|n| until(n, now));
    let Some(scheduled) = scheduled else {
        return Ok(requeue);
    };
    if missed > 100 {
        tracing::warn!(cronjob = %key, missed, "too many missed start times; check clock skew");
    }
    if let Some(d) = spec.starting_deadline_seconds {
        if scheduled + CDuration::seconds(d) < now {
            tracing::info!(cronjob = %key, "missed starting window");
            return Ok(requeue);
        }
    }
    let name = job_name(&cj.name_any(), scheduled);
    let active = status.active.clone().unwrap_or_default();
    if active
        .iter()
        .any(|r| r.name.as_deref() == Some(name.as_str()))
    {
        status.last_schedule_time = Some(to_time(scheduled));
        return Ok(requeue);
    }
    let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
    let ns = cj.namespace().unwrap_or_default();
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    if policy == "Forbid" && !active.is_empty() {
        return Ok(requeue);
    }
    if policy == "Replace" {
        for r in &active {
            if let Some(j) = jobs.iter().find(|j| j.metadata.uid == r.uid) {
                delete_job(&api, j).await?;
            }
        }
        status.active = None;
    }
    let job = job_from_template(cj, scheduled, tz);
    let created = match api.create(&PostParams::default(), &job).await {
        Ok(j) => j,
        Err(e) if is_code(&e, 409) => match api.get_opt(&name).await {
            Ok(Some(j))
                if controller_ref(&j.metadata)
                    .is_some_and(|r| Some(&r.uid) == cj.metadata.uid.as_ref()) =>
            {
                j
            }
            Ok(_) => return Ok(requeue),
            Err(e) => return Err(Error::kube(format!("getting job {ns}/{name}"))(e)),
        },
        Err(e) => return Err(Error::kube(format!("creating job {ns}/{name}"))(e)),
    };
    tracing::info!(cronjob = %key, job = %name, "created job");
    if job_finished(&created).is_none() {
        status
            .active
            .get_or_insert_with(Vec::new)
            .push(job_ref(&created));
    }
    status.last_schedule_time = Some(to_time(scheduled));
    Ok(requeue)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn utc() -> FixedOffset {
        FixedOffset::east_opt(0).unwrap()
    }

    #[test]
    fn parses_fields_and_macros() {
        assert_eq!(
            Schedule::parse("@daily").unwrap(),
            Schedule::parse("0 0 * * *").unwrap()
        );
        assert_eq!(
            Schedule::parse("@hourly").unwrap(),
            Schedule::parse("0 * * * *").unwrap()
        );
        assert_eq!(
            Schedule::parse("@weekly").unwrap(),
            Schedule::parse("0 0 * * sun").unwrap()
        );
        assert_eq!(
            Schedule::parse("@annually").unwrap(),
            Schedule::parse("0 0 1 JAN ?").unwrap()
        );
        let s = Schedule::parse("*/15 9-17 * * mon-fri").unwrap();
        assert_eq!(s.minute, (1 << 0) | (1 << 15) | (1 << 30) | (1 << 45));
        assert_eq!(s.dow, 0b0111110);
        assert!(Schedule::parse("* * * *").is_err());
        assert!(Schedule::parse("60 * * * *").is_err());
        assert!(Schedule::parse("* * 0 * *").is_err());
        assert!(Schedule::parse("* * * * 7").is_err());
        assert!(Schedule::parse("*/0 * * * *").is_err());
        assert!(Schedule::parse("@every 5m").is_err());
        assert_eq!(
            Schedule::parse("5/20 * * * *").unwrap().minute,
            (1 << 5) | (1 << 25) | (1 << 45)
        );
    }

    #[test]
    fn next_times() {
        let every = Schedule::parse("* * * * *").unwrap();
        assert_eq!(
            every.next(t("2024-01-01T10:00:30Z"), utc()),
            Some(t("2024-01-01T10:01:00Z"))
        );
        assert_eq!(
            every.next(t("2024-01-01T10:01:00Z"), utc()),
            Some(t("2024-01-01T10:02:00Z"))
        );
        let daily = Schedule::parse("@daily").unwrap();
        assert_eq!(
            daily.next(t("2024-12-31T23:59:00Z"), utc()),
            Some(t("2025-01-01T00:00:00Z"))
        );
        let leap = Schedule::parse("0 12 29 2 *").unwrap();
        assert_eq!(
            leap.next(t("2024-03-01T00:00:00Z"), utc()),
            Some(t("2028-02-29T12:00:00Z"))
        );
        // Day of month OR day of week when both are restricted.
        let or = Schedule::parse("0 0 13 * fri").unwrap();
        assert_eq!(
            or.next(t("2024-09-01T00:00:00Z"), utc()),
            Some(t("2024-09-06T00:00:00Z"))
        );
        // AND when one is a star.
        let and = Schedule::parse("0 0 * * fri").unwrap();
        assert_eq!(
            and.next(t("2024-09-01T00:00:00Z"), utc()),
            Some(t("2024-09-06T00:00:00Z"))
        );
        // Fixed zones: 09:00 in Etc/GMT-2 is 07:00 UTC.
        let nine = Schedule::parse("0 9 * * *").unwrap();
        let tz = parse_time_zone(Some("Etc/GMT-2")).unwrap();
        assert_eq!(
            nine.next(t("2024-01-01T08:00:00Z"), tz),
            Some(t("2024-01-02T07:00:00Z"))
        );
        assert_eq!(
            parse_time_zone(Some("Etc/GMT+5"))
                .unwrap()
                .local_minus_utc(),
            -5 * 3600
        );
        assert_eq!(parse_time_zone(Some("UTC")).unwrap(), utc());
        assert!(parse_time_zone(Some("Mars/Olympus")).is_err());
        let never = Schedule::parse("0 0 31 2 *").unwrap();
        assert_eq!(never.next(t("2024-01-01T00:00:00Z"), utc()), None);
    }

    #[test]
    fn most_recent_and_deadline_and_names() {
        let every = Schedule::parse("* * * * *").unwrap();
        let (last, missed) = most_recent_schedule_time(
            &every,
            utc(),
            t("2024-01-01T10:00:00Z"),
            None,
            t("2024-01-01T10:05:30Z"),
        );
        assert_eq!((last, missed), (Some(t("2024-01-01T10:05:00Z")), 5));
        // A starting deadline only looks back that far.
        let (_, missed) = most_recent_schedule_time(
            &every,
            utc(),
            t("2024-01-01T00:00:00Z"),
            Some(120),
            t("2024-01-01T10:05:30Z"),
        );
        assert_eq!(missed, 2);
        let (none, _) = most_recent_schedule_time(
            &every,
            utc(),
            t("2024-01-01T10:00:00Z"),
            None,
            t("2024-01-01T10:00:59Z"),
        );
        assert_eq!(none, None);
        assert_eq!(
            job_name("hello", t("2024-01-01T10:05:00Z")),
            "hello-28401725"
        );
    }
}
