//! The TTL-after-finished controller (upstream
//! `pkg/controller/ttlafterfinished`): a Job with
//! `spec.ttlSecondsAfterFinished` is deleted (background propagation, so
//! the garbage collector removes its pods) that many seconds after its
//! `Complete` or `Failed` condition's transition time. Before deleting, the
//! Job is read again and the delete carries its `resourceVersion`, so a Job
//! whose TTL was just changed is never deleted by mistake.

use std::sync::Arc;
use std::time::Duration;

use client_support::{InformerEvent, WorkQueue};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Preconditions, PropagationPolicy};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use crate::util::{is_code, key_of};
use crate::worker::run_workers;
use crate::{Context, Error};

/// The controller: a queue of Job keys.
pub struct TtlAfterFinishedController {
    ctx: Arc<Context>,
    queue: WorkQueue<String>,
}

/// When a finished Job with a TTL expires (`None`: no TTL, or not finished).
pub fn expires_at(job: &Job) -> Option<Timestamp> {
    let ttl = job.spec.as_ref()?.ttl_seconds_after_finished?;
    let finished = job
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")?;
    let at = finished
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
        .or_else(|| job.status.as_ref()?.completion_time.as_ref().map(|t| t.0))?;
    Some(Timestamp::from_second(at.as_second() + i64::from(ttl.max(0))).unwrap_or(at))
}

fn wanted(job: &Job) -> bool {
    job.metadata.deletion_timestamp.is_none() && expires_at(job).is_some()
}

impl TtlAfterFinishedController {
    /// Subscribes to Jobs.
    pub fn new(ctx: Arc<Context>) -> Self {
        let queue: WorkQueue<String> = WorkQueue::new();
        let q = queue.clone();
        ctx.jobs.subscribe(move |ev| {
            if let InformerEvent::Applied { new, .. } = ev {
                if wanted(new) {
                    q.add(key_of(&**new));
                }
            }
        });
        TtlAfterFinishedController { ctx, queue }
    }

    /// The work queue (shut down to stop).
    pub fn queue(&self) -> WorkQueue<String> {
        self.queue.clone()
    }

    /// Runs the workers.
    pub async fn run(self) {
        let ctx = self.ctx.clone();
        let n = ctx.opts.concurrent_ttl_after_finished_syncs;
        run_workers(
            "ttl-after-finished",
            self.queue,
            n,
            ctx.metrics.clone(),
            move |key| {
                let ctx = ctx.clone();
                async move { sync(&ctx, &key).await }
            },
        )
        .await;
    }
}

/// Time left before `at`, rounded up to a whole second.
fn until(at: Timestamp) -> Option<Duration> {
    let left = at.as_millisecond() - Timestamp::now().as_millisecond();
    (left > 0).then(|| Duration::from_millis(left as u64))
}

#[tracing::instrument(skip(ctx), fields(job = %key))]
async fn sync(ctx: &Context, key: &str) -> Result<Option<Duration>, Error> {
    let (ns, name) = client_support::informer::split_key(key);
    let ns = ns.unwrap_or("default");
    let Some(job) = ctx
        .jobs
        .store()
        .get(&ObjectRef::<Job>::new(name).within(ns))
    else {
        return Ok(None);
    };
    if !wanted(&job) {
        return Ok(None);
    }
    let Some(at) = expires_at(&job) else {
        return Ok(None);
    };
    if let Some(d) = until(at) {
        return Ok(Some(d));
    }
    // The cache may be old: decide again on a fresh read.
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), ns);
    let fresh = match api.get(name).await {
        Ok(j) => j,
        Err(e) if is_code(&e, 404) => return Ok(None),
        Err(e) => return Err(Error::kube(format!("getting job {key}"))(e)),
    };
    if !wanted(&fresh) {
        return Ok(None);
    }
    if let Some(d) = expires_at(&fresh).and_then(until) {
        return Ok(Some(d));
    }
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        preconditions: Some(Preconditions {
            uid: None,
            resource_version: fresh.metadata.resource_version.clone(),
        }),
        ..DeleteParams::default()
    };
    match api.delete(&fresh.name_any(), &dp).await {
        Ok(_) => {
            tracing::info!("deleted finished job whose TTL expired");
            Ok(None)
        }
        Err(e) if is_code(&e, 404) => Ok(None),
        Err(e) => Err(Error::kube(format!("deleting job {key}"))(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expiry_from_the_finish_condition() {
        let job: Job = serde_json::from_value(json!({
            "metadata": {"name": "j"},
            "spec": {"ttlSecondsAfterFinished": 10, "template": {}},
            "status": {"conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"},
                {"type": "Complete", "status": "True", "lastTransitionTime": "2024-01-01T00:00:05Z"}
            ]}
        }))
        .unwrap();
        assert_eq!(
            expires_at(&job).unwrap().to_string(),
            "2024-01-01T00:00:15Z"
        );
        let mut running = job.clone();
        running.status = None;
        assert!(expires_at(&running).is_none());
        let mut no_ttl = job;
        no_ttl.spec.as_mut().unwrap().ttl_seconds_after_finished = None;
        assert!(expires_at(&no_ttl).is_none());
    }
}
