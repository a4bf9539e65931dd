//! The replicaset controller (upstream `pkg/controller/replicaset`), also
//! run for ReplicationControllers (upstream wraps the same code for them):
//! [`ReplicaOwner`] is what the logic needs of either kind.
//!
//! For each ReplicaSet: claim the active pods its selector matches (adopt
//! orphans, release children that no longer match), then create or delete
//! pods so their number equals `spec.replicas`. Creations and deletions are
//! recorded as expectations and nothing more is done for that ReplicaSet
//! until the pod informer has seen them, so a burst never over-creates.
//! Creations go in slow-start batches (1, 2, 4, ...); deletions pick pods in
//! upstream's order ([`delete_order`]). Status counts are written through
//! the status subresource.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use client_support::{InformerEvent, WorkQueue};
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use crate::context::Shared;
use crate::Options;

use crate::util::{
    controller_ref, is_code, is_pod_active, is_pod_available, is_pod_ready, key_of, owner_ref,
    pod_from_template, selector_matches, slow_start_batch, Expectations,
};
use crate::worker::run_workers;
use crate::{Context, Error};

/// At most this many pods are created or deleted per sync (upstream `BurstReplicas`).
pub const BURST_REPLICAS: usize = 500;
/// Pod annotation lowering a pod's deletion priority cost.
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// What the replica logic needs of the kind that owns the pods: a
/// ReplicaSet, or a ReplicationController (whose selector is a plain map
/// and whose status has the same fields).
pub trait ReplicaOwner:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + std::fmt::Debug
    + Send
    + Sync
    + serde::de::DeserializeOwned
    + serde::Serialize
    + 'static
{
    /// The controller's short name (metrics, logs).
    const NAME: &'static str;
    /// The shared informer of this kind.
    fn informer(ctx: &Context) -> &Shared<Self>;
    /// Its `--concurrent-*-syncs`.
    fn workers(opts: &Options) -> usize;
    /// The pod selector (empty: matches nothing here).
    fn selector(&self) -> LabelSelector;
    /// `spec.replicas` (default 1).
    fn replicas(&self) -> i32;
    /// `spec.minReadySeconds`.
    fn min_ready_seconds(&self) -> i32;
    /// `spec.template`.
    fn template(&self) -> Option<PodTemplateSpec>;
    /// The current status, in ReplicaSet form.
    fn replica_status(&self) -> ReplicaSetStatus;
}

impl ReplicaOwner for ReplicaSet {
    const NAME: &'static str = "replicaset";
    fn informer(ctx: &Context) -> &Shared<Self> {
        &ctx.replicasets
    }
    fn workers(opts: &Options) -> usize {
        opts.concurrent_replicaset_syncs
    }
    fn selector(&self) -> LabelSelector {
        self.spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default()
    }
    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0)
    }
    fn template(&self) -> Option<PodTemplateSpec> {
        self.spec.as_ref().and_then(|s| s.template.clone())
    }
    fn replica_status(&self) -> ReplicaSetStatus {
        self.status.clone().unwrap_or_default()
    }
}

/// The API group of an `apiVersion` (`""` for `v1`).
fn api_group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
}

/// The controller of one owner kind: its queue and expectations.
pub struct ReplicaController<K: ReplicaOwner> {
    ctx: Arc<Context>,
    queue: WorkQueue<String>,
    expectations: Arc<Expectations>,
    kind: std::marker::PhantomData<fn() -> K>,
}

/// The replicaset controller.
pub type ReplicaSetController = ReplicaController<ReplicaSet>;

fn rs_for_pod<K: ReplicaOwner>(ctx: &Context, pod: &Pod) -> Option<Arc<K>> {
    let r = controller_ref(&pod.metadata)?;
    if r.kind != K::kind(&()) || api_group(&r.api_version) != K::group(&()) {
        return None;
    }
    let ns = pod.namespace()?;
    let rs = K::informer(ctx)
        .store()
        .get(&ObjectRef::<K>::new(&r.name).within(&ns))?;
    (rs.meta().uid.as_deref() == Some(r.uid.as_str())).then_some(rs)
}

fn matching_rss<K: ReplicaOwner>(ctx: &Context, pod: &Pod) -> Vec<Arc<K>> {
    let ns = pod.namespace();
    K::informer(ctx).store().state_filter(|rs| {
        let sel = rs.selector();
        rs.namespace() == ns
            && !crate::util::selector_is_empty(&sel)
            && selector_matches(&sel, pod.metadata.labels.as_ref())
    })
}

impl<K: ReplicaOwner> ReplicaController<K> {
    /// Subscribes to the owners and pods.
    pub fn new(ctx: Arc<Context>) -> Self {
        let queue: WorkQueue<String> = WorkQueue::new();
        let expectations = Arc::new(Expectations::default());
        let q = queue.clone();
        let exp = expectations.clone();
        K::informer(&ctx).subscribe(move |ev| match ev {
            InformerEvent::Applied { new, .. } => q.add(key_of(&**new)),
            InformerEvent::Deleted(rs) => {
                exp.delete(&key_of(&**rs));
                q.add(key_of(&**rs));
            }
        });
        let q = queue.clone();
        let exp = expectations.clone();
        // Weak: the context owns this handler.
        let weak = Arc::downgrade(&ctx);
        ctx.pods.subscribe(move |ev| {
            let Some(ctx) = weak.upgrade() else { return };
            match ev {
                InformerEvent::Applied { old, new } => {
                    let pod_key = key_of(&**new);
                    if new.metadata.deletion_timestamp.is_some() {
                        // A graceful deletion counts as observed at once.
                        if let Some(rs) = rs_for_pod::<K>(&ctx, new) {
                            exp.deletion_observed(&key_of(&*rs), &pod_key);
                            q.add(key_of(&*rs));
                        }
                        return;
                    }
                    if let Some(old) = old {
                        let old_ref = controller_ref(&old.metadata).map(|r| r.uid.clone());
                        let new_ref = controller_ref(&new.metadata).map(|r| r.uid.clone());
                        if old_ref != new_ref {
                            if let Some(rs) = rs_for_pod::<K>(&ctx, old) {
                                q.add(key_of(&*rs));
                            }
                        }
                    }
                    if let Some(rs) = rs_for_pod::<K>(&ctx, new) {
                        let k = key_of(&*rs);
                        if old.is_none() {
                            exp.creation_observed(&k);
                        }
                        q.add(k.clone());
                        // Becoming ready starts the minReadySeconds clock.
                        let mrs = rs.min_ready_seconds();
                        if mrs > 0
                            && is_pod_ready(new)
                            && !old.as_ref().is_some_and(|o| is_pod_ready(o))
                        {
                            q.add_after(k, Duration::from_secs(mrs as u64 + 1));
                        }
                        return;
                    }
                    if controller_ref(&new.metadata).is_none() {
                        let labels_changed = old.as_ref().is_none_or(|o| {
                            o.metadata.labels != new.metadata.labels
                                || controller_ref(&o.metadata).is_some()
                        });
                        if labels_changed {
                            for rs in matching_rss::<K>(&ctx, new) {
                                q.add(key_of(&*rs));
                            }
                        }
                    }
                }
                InformerEvent::Deleted(pod) => {
                    if let Some(rs) = rs_for_pod::<K>(&ctx, pod) {
                        let k = key_of(&*rs);
                        exp.deletion_observed(&k, &key_of(&**pod));
                        q.add(k);
                    }
                }
            }
        });
        ReplicaController {
            ctx,
            queue,
            expectations,
            kind: std::marker::PhantomData,
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
        let n = K::workers(&ctx.opts);
        run_workers(K::NAME, self.queue, n, ctx.metrics.clone(), move |key| {
            let ctx = ctx.clone();
            let exp = exp.clone();
            async move { sync::<K>(&ctx, &exp, &key).await }
        })
        .await;
    }
}

/// Adopts orphans the selector matches and releases children it no longer
/// matches (upstream `ClaimPods`); returns the pods now owned.
async fn claim_pods<K: ReplicaOwner>(
    ctx: &Context,
    rs: &K,
    pods: Vec<Arc<Pod>>,
) -> Result<Vec<Arc<Pod>>, Error> {
    let uid = rs.meta().uid.clone().unwrap_or_default();
    let ns = rs.namespace().unwrap_or_default();
    let sel = rs.selector();
    let deleting = rs.meta().deletion_timestamp.is_some();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let mut owned = Vec::new();
    let mut fresh_checked = false;
    for pod in pods {
        let matches = selector_matches(&sel, pod.metadata.labels.as_ref());
        match controller_ref(&pod.metadata) {
            Some(r) if r.uid == uid => {
                if matches || deleting {
                    owned.push(pod);
                } else if pod.metadata.deletion_timestamp.is_none() {
                    // Release: drop our reference.
                    let mut p = (*pod).clone();
                    if let Some(refs) = p.metadata.owner_references.as_mut() {
                        refs.retain(|r| r.uid != uid);
                    }
                    match api
                        .replace(&pod.name_any(), &PostParams::default(), &p)
                        .await
                    {
                        Ok(_) => {}
                        Err(e) if is_code(&e, 404) => {}
                        Err(e) => {
                            return Err(Error::kube(format!(
                                "releasing pod {ns}/{}",
                                pod.name_any()
                            ))(e))
                        }
                    }
                }
            }
            Some(_) => {}
            None => {
                if !matches || deleting || pod.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                if !fresh_checked {
                    // Adopt only if a live read says the ReplicaSet is not being deleted.
                    let rsapi: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
                    let fresh = rsapi
                        .get(&rs.name_any())
                        .await
                        .map_err(Error::kube(format!(
                            "getting {} {ns}/{}",
                            K::NAME,
                            rs.name_any()
                        )))?;
                    if fresh.meta().uid.as_deref() != Some(uid.as_str())
                        || fresh.meta().deletion_timestamp.is_some()
                    {
                        return Ok(owned);
                    }
                    fresh_checked = true;
                }
                let mut p = (*pod).clone();
                p.metadata
                    .owner_references
                    .get_or_insert_with(Vec::new)
                    .push(owner_ref(rs));
                match api
                    .replace(&pod.name_any(), &PostParams::default(), &p)
                    .await
                {
                    Ok(adopted) => owned.push(Arc::new(adopted)),
                    Err(e) if is_code(&e, 404) => {}
                    Err(e) => {
                        return Err(Error::kube(format!("adopting pod {ns}/{}", pod.name_any()))(e))
                    }
                }
            }
        }
    }
    Ok(owned)
}

async fn sync<K: ReplicaOwner>(
    ctx: &Context,
    exp: &Expectations,
    key: &str,
) -> Result<Option<Duration>, Error> {
    let (ns, name) = client_support::informer::split_key(key);
    let ns = ns.unwrap_or("default");
    let Some(rs) = K::informer(ctx)
        .store()
        .get(&ObjectRef::<K>::new(name).within(ns))
    else {
        exp.delete(key);
        return Ok(None);
    };
    let needs_sync = exp.satisfied(key);
    let all: Vec<Arc<Pod>> = ctx
        .pods
        .store()
        .state_filter(|p| p.metadata.namespace.as_deref() == Some(ns) && is_pod_active(p));
    let owned = claim_pods(ctx, &*rs, all).await?;
    let mut manage_err = None;
    if needs_sync && rs.meta().deletion_timestamp.is_none() {
        if let Err(e) = manage_replicas(ctx, exp, &*rs, &owned, key).await {
            manage_err = Some(e);
        }
    }
    let min_ready = rs.min_ready_seconds();
    let status = calculate_status(&*rs, &owned, manage_err.as_ref(), Timestamp::now());
    let replicas = rs.replicas();
    update_status(ctx, &*rs, &status).await?;
    if let Some(e) = manage_err {
        return Err(e);
    }
    if min_ready > 0
        && status.ready_replicas.unwrap_or(0) == replicas
        && status.available_replicas.unwrap_or(0) != replicas
    {
        return Ok(Some(Duration::from_secs(min_ready as u64)));
    }
    Ok(None)
}

async fn manage_replicas<K: ReplicaOwner>(
    ctx: &Context,
    exp: &Expectations,
    rs: &K,
    pods: &[Arc<Pod>],
    key: &str,
) -> Result<(), Error> {
    let want = rs.replicas().max(0) as usize;
    let ns = rs.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    if pods.len() < want {
        let diff = (want - pods.len()).min(BURST_REPLICAS);
        exp.expect_creations(key, diff);
        let Some(template) = rs.template() else {
            exp.expect_creations(key, 0);
            return Ok(());
        };
        let pod = pod_from_template(&template, &rs.name_any(), owner_ref(rs));
        tracing::debug!(
            replicaset = key,
            need = want,
            creating = diff,
            "too few replicas"
        );
        let (ok, err) = slow_start_batch(diff, 1, || {
            let api = api.clone();
            let pod = pod.clone();
            async move {
                match api.create(&PostParams::default(), &pod).await {
                    Ok(_) => Ok(()),
                    // The namespace is being deleted: nothing will appear.
                    Err(e) if is_code(&e, 403) => Err(e),
                    Err(e) => Err(e),
                }
            }
        })
        .await;
        // Creations that were skipped or failed will never be observed.
        for _ in ok..diff {
            exp.creation_observed(key);
        }
        if let Some(e) = err {
            return Err(Error::kube(format!("creating pods for {} {key}", K::NAME))(
                e,
            ));
        }
    } else if pods.len() > want {
        let diff = (pods.len() - want).min(BURST_REPLICAS);
        let related = related_pods(ctx, rs);
        let victims = pods_to_delete(pods, &related, diff, Timestamp::now());
        let keys: Vec<String> = victims.iter().map(|p| key_of(&**p)).collect();
        exp.expect_deletions(key, keys.clone());
        tracing::debug!(
            replicaset = key,
            need = want,
            deleting = diff,
            "too many replicas"
        );
        let results = futures::future::join_all(victims.iter().map(|p| {
            let api = api.clone();
            let name = p.name_any();
            let uid = p.metadata.uid.clone();
            async move {
                let dp = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid,
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                };
                (name.clone(), api.delete(&name, &dp).await)
            }
        }))
        .await;
        let mut first = None;
        for (name, r) in results {
            match r {
                Ok(_) => {}
                Err(e) => {
                    exp.deletion_observed(key, &format!("{ns}/{name}"));
                    if !is_code(&e, 404) && !is_code(&e, 409) && first.is_none() {
                        first = Some(Error::kube(format!("deleting pod {ns}/{name}"))(e));
                    }
                }
            }
        }
        if let Some(e) = first {
            return Err(e);
        }
    }
    Ok(())
}

/// Active pods of every ReplicaSet sharing this one's controlling owner
/// (a Deployment's other ReplicaSets), for ranking by co-location.
fn related_pods<K: ReplicaOwner>(ctx: &Context, rs: &K) -> Vec<Arc<Pod>> {
    let ns = rs.namespace();
    let mut uids = vec![rs.meta().uid.clone().unwrap_or_default()];
    if let Some(owner) = controller_ref(rs.meta()) {
        for other in K::informer(ctx).store().state() {
            if other.namespace() == ns
                && controller_ref(other.meta()).is_some_and(|r| r.uid == owner.uid)
            {
                uids.push(other.meta().uid.clone().unwrap_or_default());
            }
        }
    }
    ctx.pods.store().state_filter(|p| {
        p.namespace() == ns
            && is_pod_active(p)
            && controller_ref(&p.metadata).is_some_and(|r| uids.contains(&r.uid))
    })
}

/// Chooses `n` pods to delete: ranked by how many related pods share their
/// node, then in [`delete_order`].
pub fn pods_to_delete(
    pods: &[Arc<Pod>],
    related: &[Arc<Pod>],
    n: usize,
    now: Timestamp,
) -> Vec<Arc<Pod>> {
    let mut per_node: HashMap<&str, i32> = HashMap::new();
    for p in related {
        if let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
            *per_node.entry(node).or_default() += 1;
        }
    }
    let mut ranked: Vec<(i32, &Arc<Pod>)> = pods
        .iter()
        .map(|p| {
            let rank = p
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .and_then(|n| per_node.get(n))
                .copied()
                .unwrap_or(0);
            (rank, p)
        })
        .collect();
    ranked.sort_by(|a, b| delete_order(a.1, a.0, b.1, b.0, now));
    ranked.into_iter().take(n).map(|(_, p)| p.clone()).collect()
}

fn phase_ordinal(p: &Pod) -> i32 {
    match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") => 0,
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 0,
    }
}

fn ready_time(p: &Pod) -> Option<Timestamp> {
    p.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Ready" && c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref().map(|t| t.0))
}

fn max_restarts(p: &Pod) -> i32 {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).max().unwrap_or(0))
        .unwrap_or(0)
}

fn deletion_cost(p: &Pod) -> i32 {
    p.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(POD_DELETION_COST))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `floor(log2(now - t))` in nanoseconds, -1 for `t` not in the past
/// (upstream's logarithmic scale-down buckets).
fn log_bucket(t: Timestamp, now: Timestamp) -> i64 {
    let d = now.as_nanosecond() - t.as_nanosecond();
    if d <= 0 {
        -1
    } else {
        (d as f64).log2() as i64
    }
}

/// Upstream `ActivePodsWithRanks.Less`: which of two pods to delete first.
/// Unassigned before assigned; Pending before Unknown before Running; not
/// ready before ready; lower `pod-deletion-cost` first; more co-located
/// related pods first; ready more recently first; more restarts first;
/// newer first (the time comparisons in logarithmic buckets).
pub fn delete_order(a: &Pod, rank_a: i32, b: &Pod, rank_b: i32, now: Timestamp) -> Ordering {
    let node = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty())
    };
    let (na, nb) = (node(a), node(b));
    if na != nb {
        return if !na {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    let (pa, pb) = (phase_ordinal(a), phase_ordinal(b));
    if pa != pb {
        return pa.cmp(&pb);
    }
    let (ra, rb) = (is_pod_ready(a), is_pod_ready(b));
    if ra != rb {
        return if !ra {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    let (ca, cb) = (deletion_cost(a), deletion_cost(b));
    if ca != cb {
        return ca.cmp(&cb);
    }
    if rank_a != rank_b {
        return rank_b.cmp(&rank_a);
    }
    if ra && rb {
        if let (Some(ta), Some(tb)) = (ready_time(a), ready_time(b)) {
            let (la, lb) = (log_bucket(ta, now), log_bucket(tb, now));
            if la != lb {
                return la.cmp(&lb);
            }
        }
    }
    let (xa, xb) = (max_restarts(a), max_restarts(b));
    if xa != xb {
        return xb.cmp(&xa);
    }
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    if let (Some(ta), Some(tb)) = (created(a), created(b)) {
        let (la, lb) = (log_bucket(ta, now), log_bucket(tb, now));
        if la != lb {
            return la.cmp(&lb);
        }
    }
    Ordering::Equal
}

/// Counts for `status` (upstream `calculateStatus`).
pub fn calculate_status<K: ReplicaOwner>(
    rs: &K,
    pods: &[Arc<Pod>],
    manage_err: Option<&Error>,
    now: Timestamp,
) -> ReplicaSetStatus {
    let template_labels: BTreeMap<String, String> = rs
        .template()
        .and_then(|t| t.metadata)
        .and_then(|m| m.labels)
        .unwrap_or_default();
    let min_ready = rs.min_ready_seconds();
    let mut fully = 0;
    let mut ready = 0;
    let mut available = 0;
    for p in pods {
        let labels = p.metadata.labels.clone().unwrap_or_default();
        if template_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
        {
            fully += 1;
        }
        if is_pod_ready(p) {
            ready += 1;
            if is_pod_available(p, min_ready, now) {
                available += 1;
            }
        }
    }
    let old = rs.replica_status();
    let mut conditions: Vec<ReplicaSetCondition> = old
        .conditions
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ != "ReplicaFailure")
        .collect();
    if let Some(e) = manage_err {
        let want = rs.replicas().max(0) as usize;
        let reason = if pods.len() < want {
            "FailedCreate"
        } else {
            "FailedDelete"
        };
        let prev = old
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "ReplicaFailure")
            .cloned();
        conditions.push(ReplicaSetCondition {
            type_: "ReplicaFailure".into(),
            status: "True".into(),
            reason: Some(reason.into()),
            message: Some(e.to_string()),
            last_transition_time: prev
                .and_then(|c| c.last_transition_time)
                .or_else(|| Some(crate::util::now())),
        });
    }
    ReplicaSetStatus {
        replicas: pods.len() as i32,
        fully_labeled_replicas: Some(fully),
        ready_replicas: Some(ready),
        available_replicas: Some(available),
        observed_generation: rs.meta().generation,
        conditions: if conditions.is_empty() {
            None
        } else {
            Some(conditions)
        },
        terminating_replicas: old.terminating_replicas,
    }
}

async fn update_status<K: ReplicaOwner>(
    ctx: &Context,
    rs: &K,
    status: &ReplicaSetStatus,
) -> Result<(), Error> {
    let old = rs.replica_status();
    let norm = |s: &ReplicaSetStatus| {
        (
            s.replicas,
            s.fully_labeled_replicas.unwrap_or(0),
            s.ready_replicas.unwrap_or(0),
            s.available_replicas.unwrap_or(0),
            s.observed_generation,
            s.conditions.clone().unwrap_or_default(),
        )
    };
    if norm(&old) == norm(status) {
        return Ok(());
    }
    let ns = rs.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    let mut body = serde_json::to_value(status).unwrap_or_default();
    if status.conditions.is_none() {
        body["conditions"] = serde_json::Value::Null;
    }
    match api
        .patch_status(
            &rs.name_any(),
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": body })),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, 404) => Ok(()),
        Err(e) => Err(Error::kube(format!(
            "updating status of {} {ns}/{}",
            K::NAME,
            rs.name_any()
        ))(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(
        name: &str,
        node: Option<&str>,
        phase: &str,
        ready: Option<&str>,
        created: &str,
    ) -> Arc<Pod> {
        let mut v = json!({
            "metadata": {"name": name, "namespace": "ns", "creationTimestamp": created},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": phase}
        });
        if let Some(n) = node {
            v["spec"]["nodeName"] = json!(n);
        }
        if let Some(t) = ready {
            v["status"]["conditions"] =
                json!([{"type": "Ready", "status": "True", "lastTransitionTime": t}]);
        }
        Arc::new(serde_json::from_value(v).unwrap())
    }

    #[test]
    fn deletes_unassigned_then_pending_then_not_ready_then_newest() {
        let now: Timestamp = "2024-01-01T12:00:00Z".parse().unwrap();
        let old = "2024-01-01T00:00:00Z";
        let pods = vec![
            pod("ready-old", Some("n1"), "Running", Some(old), old),
            pod(
                "ready-new",
                Some("n1"),
                "Running",
                Some("2024-01-01T11:59:58Z"),
                "2024-01-01T11:59:50Z",
            ),
            pod("running-notready", Some("n1"), "Running", None, old),
            pod("pending", Some("n1"), "Pending", None, old),
            pod("unassigned", None, "Pending", None, old),
        ];
        let order: Vec<String> = pods_to_delete(&pods, &[], 5, now)
            .iter()
            .map(|p| p.name_any())
            .collect();
        assert_eq!(
            order,
            [
                "unassigned",
                "pending",
                "running-notready",
                "ready-new",
                "ready-old"
            ]
        );
        // Only as many as asked.
        assert_eq!(pods_to_delete(&pods, &[], 2, now).len(), 2);
    }

    #[test]
    fn doubled_up_nodes_go_first() {
        let now: Timestamp = "2024-01-01T12:00:00Z".parse().unwrap();
        let t = "2024-01-01T00:00:00Z";
        let a = pod("a", Some("n1"), "Running", Some(t), t);
        let b = pod("b", Some("n2"), "Running", Some(t), t);
        let c = pod("c", Some("n2"), "Running", Some(t), t);
        let related = vec![a.clone(), b.clone(), c.clone()];
        let first = pods_to_delete(&[a, b, c], &related, 1, now);
        assert_eq!(
            first[0].spec.as_ref().unwrap().node_name.as_deref(),
            Some("n2")
        );
    }

    #[test]
    fn status_counts_available_after_min_ready_seconds() {
        let rs: ReplicaSet = serde_json::from_value(json!({
            "metadata": {"name": "r", "namespace": "ns", "generation": 3},
            "spec": {"replicas": 2, "minReadySeconds": 10, "selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": []}}}
        }))
        .unwrap();
        let now: Timestamp = "2024-01-01T12:00:00Z".parse().unwrap();
        let p1 = pod(
            "p1",
            Some("n"),
            "Running",
            Some("2024-01-01T11:59:55Z"),
            "2024-01-01T11:00:00Z",
        );
        let p2 = pod(
            "p2",
            Some("n"),
            "Running",
            Some("2024-01-01T11:00:00Z"),
            "2024-01-01T11:00:00Z",
        );
        let s = calculate_status(&rs, &[p1, p2], None, now);
        assert_eq!(s.replicas, 2);
        assert_eq!(s.ready_replicas, Some(2));
        assert_eq!(s.available_replicas, Some(1));
        assert_eq!(s.fully_labeled_replicas, Some(0));
        assert_eq!(s.observed_generation, Some(3));
    }
}
