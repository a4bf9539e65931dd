//! The namespace controller (upstream `pkg/controller/namespace`).
//!
//! When a namespace has a deletion timestamp it is set to `Terminating`,
//! then every namespaced resource the API's discovery lists as deletable is
//! emptied in it (`deletecollection` where supported, else one delete per
//! object, background propagation). While objects remain (finalizers,
//! graceful pods) the namespace is checked again later; the status
//! conditions say why, as upstream. Once nothing remains the `kubernetes`
//! finalizer is removed through `PUT /api/v1/namespaces/<ns>/finalize` and
//! the apiserver deletes the namespace.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use client_support::{InformerEvent, WorkQueue};
use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition, NamespaceStatus};
use kube::api::{
    DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, PropagationPolicy,
};
use kube::discovery::{verbs, ApiCapabilities, ApiResource, Discovery, Scope};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::util::is_code;
use crate::worker::run_workers;
use crate::{Context, Error};

/// The finalizer this controller owns.
pub const FINALIZER: &str = "kubernetes";

const DISCOVERY: &str = "NamespaceDeletionDiscoveryFailure";
const GV_PARSING: &str = "NamespaceDeletionGroupVersionParsingFailure";
const CONTENT_FAILURE: &str = "NamespaceDeletionContentFailure";
const CONTENT_REMAINING: &str = "NamespaceContentRemaining";
const FINALIZERS_REMAINING: &str = "NamespaceFinalizersRemaining";

/// Condition types in upstream's order, with their OK reason and message.
const OK: &[(&str, &str, &str)] = &[
    (
        DISCOVERY,
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    (
        GV_PARSING,
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    (
        CONTENT_FAILURE,
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    (
        CONTENT_REMAINING,
        "ContentRemoved",
        "All content successfully removed",
    ),
    (
        FINALIZERS_REMAINING,
        "ContentHasNoFinalizers",
        "All content-preserving finalizers finished",
    ),
];

/// The controller and its queue.
pub struct NamespaceController {
    ctx: Arc<Context>,
    queue: WorkQueue<String>,
}

impl NamespaceController {
    /// Subscribes to namespaces.
    pub fn new(ctx: Arc<Context>) -> Self {
        let queue = WorkQueue::new();
        let q = queue.clone();
        ctx.namespaces.subscribe(move |ev| {
            if let InformerEvent::Applied { new, .. } = ev {
                if new.metadata.deletion_timestamp.is_some() {
                    q.add(new.name_any());
                }
            }
        });
        NamespaceController { ctx, queue }
    }

    /// The work queue (shut down to stop).
    pub fn queue(&self) -> WorkQueue<String> {
        self.queue.clone()
    }

    /// Runs the workers until the queue is shut down.
    pub async fn run(self) {
        let ctx = self.ctx.clone();
        let n = ctx.opts.concurrent_namespace_syncs;
        run_workers(
            "namespace",
            self.queue,
            n,
            ctx.metrics.clone(),
            move |name| {
                let ctx = ctx.clone();
                async move { sync(&ctx, &name).await }
            },
        )
        .await;
    }
}

/// What deleting content found.
#[derive(Default, Debug)]
struct Outcome {
    discovery_err: Option<String>,
    delete_errs: Vec<String>,
    /// `resource.group` -> objects remaining.
    remaining: BTreeMap<String, usize>,
    /// finalizer -> objects carrying it.
    finalizers: BTreeMap<String, usize>,
    estimate: i64,
}

fn conditions(old: &[NamespaceCondition], out: &Outcome) -> Vec<NamespaceCondition> {
    let now = crate::util::now();
    let failing = |t: &str| -> Option<(&'static str, String)> {
        match t {
            DISCOVERY => out.discovery_err.as_ref().map(|e| {
                (
                    "DiscoveryFailed",
                    format!("Discovery failed for some groups, {e}"),
                )
            }),
            CONTENT_FAILURE if !out.delete_errs.is_empty() => Some((
                "ContentDeletionFailed",
                format!(
                    "Failed to delete all resource types, {} remaining: {}",
                    out.delete_errs.len(),
                    out.delete_errs.join(", ")
                ),
            )),
            CONTENT_REMAINING if !out.remaining.is_empty() => Some((
                "SomeResourcesRemain",
                format!(
                    "Some resources are remaining: {}",
                    out.remaining
                        .iter()
                        .map(|(r, n)| format!("{r} has {n} resource instances"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            FINALIZERS_REMAINING if !out.finalizers.is_empty() => Some((
                "SomeFinalizersRemain",
                format!(
                    "Some content in the namespace has finalizers remaining: {}",
                    out.finalizers
                        .iter()
                        .map(|(f, n)| format!("{f} in {n} resource instances"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            _ => None,
        }
    };
    let mut conds = Vec::new();
    for (t, ok_reason, ok_msg) in OK {
        let (status, reason, message) = match failing(t) {
            Some((r, m)) => ("True", r.to_string(), m),
            None => ("False", ok_reason.to_string(), ok_msg.to_string()),
        };
        let prev = old.iter().find(|c| c.type_ == *t);
        let ltt = match prev {
            Some(p) if p.status == status => p.last_transition_time.clone(),
            _ => Some(now.clone()),
        };
        conds.push(NamespaceCondition {
            type_: t.to_string(),
            status: status.into(),
            reason: Some(reason),
            message: Some(message),
            last_transition_time: ltt,
        });
    }
    conds
}

/// Namespaced resources that can be listed and deleted, per discovery.
fn deletable(discovery: &Discovery) -> Vec<(ApiResource, ApiCapabilities)> {
    let mut out = Vec::new();
    for g in discovery.groups() {
        for (ar, caps) in g.recommended_resources() {
            if caps.scope == Scope::Namespaced
                && caps.supports_operation(verbs::DELETE)
                && caps.supports_operation(verbs::LIST)
            {
                out.push((ar, caps));
            }
        }
    }
    out
}

async fn delete_content(ctx: &Context, ns: &str) -> Outcome {
    let mut out = Outcome::default();
    let discovery = match Discovery::new(ctx.client.clone()).run().await {
        Ok(d) => d,
        Err(e) => {
            out.discovery_err = Some(e.to_string());
            return out;
        }
    };
    let bg = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    for (ar, caps) in deletable(&discovery) {
        let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), ns, &ar);
        let gr = format!("{}.{}", ar.plural, ar.group);
        if caps.supports_operation(verbs::DELETE_COLLECTION) {
            if let Err(e) = api.delete_collection(&bg, &ListParams::default()).await {
                if !is_code(&e, 404) && !is_code(&e, 405) {
                    out.delete_errs.push(format!("{gr}: {e}"));
                    continue;
                }
            }
        }
        let list = match api.list(&ListParams::default()).await {
            Ok(l) => l,
            Err(e) if is_code(&e, 404) => continue,
            Err(e) => {
                out.delete_errs.push(format!("{gr}: {e}"));
                continue;
            }
        };
        if list.items.is_empty() {
            continue;
        }
        if !caps.supports_operation(verbs::DELETE_COLLECTION) {
            for o in &list.items {
                if o.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                match api.delete(&o.name_any(), &bg).await {
                    Ok(_) => {}
                    Err(e) if is_code(&e, 404) || is_code(&e, 409) => {}
                    Err(e) => out.delete_errs.push(format!("{gr} {}: {e}", o.name_any())),
                }
            }
        }
        // What remains: count it, its finalizers, and how long pods may take.
        let remaining = match api.list(&ListParams::default()).await {
            Ok(l) => l.items,
            Err(_) => list.items,
        };
        if remaining.is_empty() {
            continue;
        }
        out.remaining.insert(gr.clone(), remaining.len());
        for o in &remaining {
            for f in o.finalizers() {
                *out.finalizers.entry(f.clone()).or_default() += 1;
            }
            if ar.group.is_empty() && ar.plural == "pods" {
                let grace = o
                    .metadata
                    .deletion_grace_period_seconds
                    .or_else(|| {
                        o.data
                            .pointer("/spec/terminationGracePeriodSeconds")
                            .and_then(|v| v.as_i64())
                    })
                    .unwrap_or(0);
                out.estimate = out.estimate.max(grace);
            }
        }
    }
    out
}

async fn sync(ctx: &Context, name: &str) -> Result<Option<Duration>, Error> {
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    // A live read: the cache may be behind a finalize we already did.
    let Some(mut ns) = api
        .get_opt(name)
        .await
        .map_err(Error::kube(format!("getting namespace {name}")))?
    else {
        return Ok(None);
    };
    if ns.metadata.deletion_timestamp.is_none() {
        return Ok(None);
    }
    let phase = ns.status.as_ref().and_then(|s| s.phase.clone());
    if phase.as_deref() != Some("Terminating") {
        ns = api
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"phase": "Terminating"}})),
            )
            .await
            .map_err(Error::kube(format!("marking namespace {name} terminating")))?;
    }
    let finalizers = ns
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.clone())
        .unwrap_or_default();
    if !finalizers.iter().any(|f| f == FINALIZER) {
        return Ok(None);
    }
    let out = delete_content(ctx, name).await;
    let old = ns
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let conds = conditions(&old, &out);
    if conds != old {
        let body = json!({"status": {"conditions": conds}});
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(body))
            .await
        {
            Ok(n) => ns = n,
            Err(e) if is_code(&e, 404) => return Ok(None),
            Err(e) => {
                return Err(Error::kube(format!(
                    "updating conditions of namespace {name}"
                ))(e))
            }
        }
    }
    if let Some(e) = out.discovery_err {
        return Err(Error::Retry(format!(
            "namespace {name}: discovery failed: {e}"
        )));
    }
    if !out.delete_errs.is_empty() {
        return Err(Error::Retry(format!(
            "namespace {name}: {}",
            out.delete_errs.join("; ")
        )));
    }
    if !out.remaining.is_empty() {
        tracing::debug!(namespace = name, remaining = ?out.remaining, "content remains");
        return Ok(Some(Duration::from_secs(out.estimate.clamp(1, 15) as u64)));
    }
    // Everything is gone: drop our finalizer.
    let mut body = ns.clone();
    body.spec.get_or_insert_with(Default::default).finalizers =
        Some(finalizers.into_iter().filter(|f| f != FINALIZER).collect());
    body.status.get_or_insert_with(NamespaceStatus::default);
    match api
        .replace_subresource("finalize", name, &PostParams::default(), &body)
        .await
    {
        Ok(_) => {
            tracing::info!(namespace = name, "namespace finalized");
            Ok(None)
        }
        Err(e) if is_code(&e, 404) => Ok(None),
        Err(e) => Err(Error::kube(format!("finalizing namespace {name}"))(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_as_upstream() {
        let mut out = Outcome::default();
        out.remaining.insert("pods.".into(), 2);
        out.finalizers.insert("example.com/keep".into(), 1);
        let c = conditions(&[], &out);
        assert_eq!(c.len(), 5);
        let rem = c.iter().find(|c| c.type_ == CONTENT_REMAINING).unwrap();
        assert_eq!(rem.status, "True");
        assert_eq!(rem.reason.as_deref(), Some("SomeResourcesRemain"));
        assert_eq!(
            rem.message.as_deref(),
            Some("Some resources are remaining: pods. has 2 resource instances")
        );
        let fin = c.iter().find(|c| c.type_ == FINALIZERS_REMAINING).unwrap();
        assert_eq!(
            fin.message.as_deref(),
            Some("Some content in the namespace has finalizers remaining: example.com/keep in 1 resource instances")
        );
        let disc = c.iter().find(|c| c.type_ == DISCOVERY).unwrap();
        assert_eq!(
            (disc.status.as_str(), disc.reason.as_deref()),
            ("False", Some("ResourcesDiscovered"))
        );
        // Unchanged status keeps the transition time.
        let again = conditions(&c, &out);
        assert_eq!(again[0].last_transition_time, c[0].last_transition_time);
    }
}
