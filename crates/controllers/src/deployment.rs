//! The deployment controller (upstream `pkg/controller/deployment`).
//!
//! A Deployment owns ReplicaSets named `<deployment>-<hash>`, the hash
//! being taken over the pod template and `status.collisionCount`
//! ([`compute_hash`]) and also set as the `pod-template-hash` label of the
//! ReplicaSet, its selector and its pods. The ReplicaSet whose template
//! equals the Deployment's (ignoring that label) is the new one; the others
//! are old. RollingUpdate scales the new one up within `maxSurge` and the
//! old ones down within `maxUnavailable`; Recreate scales the old ones to
//! zero, waits for their pods to go, then scales the new one up. A change
//! of `spec.replicas` alone scales every active ReplicaSet proportionally.
//! `revisionHistoryLimit` old ReplicaSets with no replicas are kept.
//! Rolling back (`kubectl rollout undo`) is a template change that matches
//! an old ReplicaSet, which becomes the new one with the next revision.
//!
//! Every ReplicaSet and Deployment write carries the `resourceVersion` it
//! was computed from, so a decision made on a stale cache fails with 409
//! and is redone rather than overshooting `maxSurge`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use client_support::{InformerEvent, WorkQueue};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, PostParams, Preconditions};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use crate::util::{
    controller_ref, is_code, key_of, owner_ref, selector_is_empty, selector_matches,
};
use crate::worker::run_workers;
use crate::{Context, Error};

/// The label (and hash) distinguishing a Deployment's ReplicaSets.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
/// Revision of a ReplicaSet (and of its Deployment).
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// Earlier revisions a reused ReplicaSet had.
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// `spec.replicas` of the Deployment when the ReplicaSet was last scaled.
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// `spec.replicas + maxSurge` then.
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";

/// Annotations not copied from a Deployment to its ReplicaSets.
const SKIP_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

// Condition reasons, as upstream.
const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
const RS_UPDATED: &str = "ReplicaSetUpdated";
const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
const TIMED_OUT: &str = "ProgressDeadlineExceeded";
const PAUSED: &str = "DeploymentPaused";
const RESUMED: &str = "DeploymentResumed";
const MIN_AVAILABLE: &str = "MinimumReplicasAvailable";
const MIN_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

// ---------------------------------------------------------------------------
// Pure helpers (upstream deployment/util).

/// Upstream `rand.SafeEncodeString`: each byte mapped into an alphabet
/// without vowels or look-alike characters.
pub fn safe_encode_string(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.bytes()
        .map(|b| ALPHANUMS[b as usize % ALPHANUMS.len()] as char)
        .collect()
}

/// FNV-1a, 32 bits.
pub fn fnv32a(data: &[u8], mut h: u32) -> u32 {
    for b in data {
        h ^= u32::from(*b);
        h = h.wrapping_mul(16_777_619);
    }
    h
}

/// FNV-32a's offset basis.
pub const FNV32_OFFSET: u32 = 2_166_136_261;

/// The `pod-template-hash`: FNV-32a over the template, then (if set) the
/// collision count as 8 little-endian bytes (the low 4 holding the
/// count), its decimal rendering passed through [`safe_encode_string`]
/// (upstream `controller.ComputeHash`). Upstream feeds the hash with a
/// go-spew dump of the Go struct; this feeds it the template's JSON, so
/// the names have upstream's shape but not the same characters.
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let bytes = serde_json::to_vec(template).unwrap_or_default();
    let mut h = fnv32a(&bytes, FNV32_OFFSET);
    if let Some(c) = collision_count {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&(c as u32).to_le_bytes());
        h = fnv32a(&b, h);
    }
    safe_encode_string(&h.to_string())
}

/// Upstream `intstr.GetScaledValueFromIntOrPercent`.
pub fn scaled_value(v: &IntOrString, total: i32, round_up: bool) -> Result<i32, String> {
    match v {
        IntOrString::Int(i) => Ok(*i),
        IntOrString::String(s) => {
            let p = s
                .strip_suffix('%')
                .ok_or_else(|| format!("invalid value for IntOrString: invalid type: string is not a percentage: {s:?}"))?;
            let p: i64 = p
                .parse()
                .map_err(|_| format!("invalid value for IntOrString: invalid value {s:?}"))?;
            let num = p * i64::from(total);
            let v = if round_up {
                (num + 99).div_euclid(100)
            } else {
                num.div_euclid(100)
            };
            Ok(v as i32)
        }
    }
}

/// Upstream `ResolveFenceposts`: surge rounds up, unavailable rounds down,
/// and both zero means one unavailable.
pub fn resolve_fenceposts(
    surge: Option<&IntOrString>,
    unavailable: Option<&IntOrString>,
    desired: i32,
) -> (i32, i32) {
    let default = IntOrString::String("25%".into());
    let s = scaled_value(surge.unwrap_or(&default), desired, true).unwrap_or(0);
    let u = scaled_value(unavailable.unwrap_or(&default), desired, false).unwrap_or(0);
    if s == 0 && u == 0 {
        (0, 1)
    } else {
        (s, u)
    }
}

fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn is_rolling(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate")
}

fn rolling_params(d: &Deployment) -> (Option<IntOrString>, Option<IntOrString>) {
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    (
        ru.and_then(|r| r.max_surge.clone()),
        ru.and_then(|r| r.max_unavailable.clone()),
    )
}

/// `maxSurge` resolved against `spec.replicas` (0 for Recreate).
pub fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling(d) {
        return 0;
    }
    let (s, u) = rolling_params(d);
    resolve_fenceposts(s.as_ref(), u.as_ref(), replicas(d)).0
}

/// `maxUnavailable` resolved against `spec.replicas`, at most `replicas`.
pub fn max_unavailable(d: &Deployment) -> i32 {
    if !is_rolling(d) || replicas(d) == 0 {
        return 0;
    }
    let (s, u) = rolling_params(d);
    resolve_fenceposts(s.as_ref(), u.as_ref(), replicas(d))
        .1
        .min(replicas(d))
}

fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}
fn rs_status_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map(|s| s.replicas).unwrap_or(0)
}
fn rs_available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}
fn rs_ready(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}
fn annotation_i32(rs: &ReplicaSet, k: &str) -> Option<i32> {
    rs.metadata.annotations.as_ref()?.get(k)?.parse().ok()
}
fn revision_of(rs: &ReplicaSet) -> i64 {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Sum of `spec.replicas`.
pub fn spec_sum(rss: &[ReplicaSet]) -> i32 {
    rss.iter().map(rs_replicas).sum()
}

/// Replicas the new ReplicaSet may have now (upstream `NewRSNewReplicas`).
pub fn new_rs_new_replicas(d: &Deployment, all: &[ReplicaSet], new_rs: &ReplicaSet) -> i32 {
    if !is_rolling(d) {
        return replicas(d);
    }
    // An old ReplicaSet's pods count until its controller has removed them
    // (status.replicas above spec.replicas while it scales down), so the
    // surge bound holds for pods that exist, not only for replica counts:
    // upstream counts spec alone and can briefly run maxSurge + 1 pods.
    let new_name = new_rs.metadata.name.as_deref();
    let current: i32 = all
        .iter()
        .map(|rs| {
            let spec = rs_replicas(rs);
            if rs.metadata.name.as_deref() == new_name {
                spec
            } else {
                spec.max(rs.status.as_ref().map_or(0, |s| s.replicas))
            }
        })
        .sum();
    let max_total = replicas(d) + max_surge(d);
    if current >= max_total {
        return rs_replicas(new_rs);
    }
    let up = (max_total - current).min(replicas(d) - rs_replicas(new_rs));
    rs_replicas(new_rs) + up
}

/// Templates equal apart from the `pod-template-hash` label.
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let strip = |t: &PodTemplateSpec| {
        let mut t = t.clone();
        let m = t.metadata.get_or_insert_with(ObjectMeta::default);
        if let Some(l) = m.labels.as_mut() {
            l.remove(POD_TEMPLATE_HASH);
            if l.is_empty() {
                m.labels = None;
            }
        }
        serde_json::to_value(&t).unwrap_or_default()
    };
    strip(a) == strip(b)
}

fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> std::cmp::Ordering {
    let ta = a.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let tb = b.metadata.creation_timestamp.as_ref().map(|t| t.0);
    ta.cmp(&tb).then_with(|| a.name_any().cmp(&b.name_any()))
}

fn active(rss: &[ReplicaSet]) -> Vec<ReplicaSet> {
    rss.iter().filter(|r| rs_replicas(r) > 0).cloned().collect()
}

/// The proportional share of `to_add` for one ReplicaSet (upstream
/// `GetProportion` with `getReplicaSetFraction`).
pub fn proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if rs_replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = if replicas(d) == 0 {
        -rs_replicas(rs)
    } else {
        let deployment_replicas = replicas(d) + max_surge(d);
        let annotated = annotation_i32(rs, MAX_REPLICAS)
            .unwrap_or_else(|| d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0));
        if annotated == 0 {
            0
        } else {
            let size =
                f64::from(rs_replicas(rs)) * f64::from(deployment_replicas) / f64::from(annotated);
            size.round() as i32 - rs_replicas(rs)
        }
    };
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

fn new_condition(type_: &str, status: &str, reason: &str, message: String) -> DeploymentCondition {
    let now = crate::util::now();
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(now.clone()),
        last_transition_time: Some(now),
    }
}

fn get_condition<'a>(s: &'a DeploymentStatus, t: &str) -> Option<&'a DeploymentCondition> {
    s.conditions.iter().flatten().find(|c| c.type_ == t)
}

/// Upstream `SetDeploymentCondition`: same status and reason changes
/// nothing; same status keeps the transition time.
fn set_condition(s: &mut DeploymentStatus, mut c: DeploymentCondition) {
    if let Some(cur) = get_condition(s, &c.type_) {
        if cur.status == c.status && cur.reason == c.reason {
            return;
        }
        if cur.status == c.status {
            c.last_transition_time = cur.last_transition_time.clone();
        }
    }
    let conds = s.conditions.get_or_insert_with(Vec::new);
    conds.retain(|x| x.type_ != c.type_);
    conds.push(c);
}

fn remove_condition(s: &mut DeploymentStatus, t: &str) {
    if let Some(c) = s.conditions.as_mut() {
        c.retain(|x| x.type_ != t);
    }
}

fn progress_deadline(d: &Deployment) -> Option<i32> {
    d.spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .filter(|s| *s != i32::MAX)
}

/// Upstream `DeploymentComplete`.
pub fn deployment_complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let r = replicas(d);
    s.updated_replicas.unwrap_or(0) == r
        && s.replicas.unwrap_or(0) == r
        && s.available_replicas.unwrap_or(0) == r
        && s.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

fn deployment_progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let old_old = old.replicas.unwrap_or(0) - old.updated_replicas.unwrap_or(0);
    let new_old = new.replicas.unwrap_or(0) - new.updated_replicas.unwrap_or(0);
    new.updated_replicas.unwrap_or(0) > old.updated_replicas.unwrap_or(0)
        || new_old < old_old
        || new.ready_replicas.unwrap_or(0) > old.ready_replicas.unwrap_or(0)
        || new.available_replicas.unwrap_or(0) > old.available_replicas.unwrap_or(0)
}

fn deployment_timed_out(d: &Deployment, s: &DeploymentStatus, now: Timestamp) -> bool {
    let Some(deadline) = progress_deadline(d) else {
        return false;
    };
    let Some(c) = get_condition(s, "Progressing") else {
        return false;
    };
    match c.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => false,
        Some(TIMED_OUT) => true,
        _ => c
            .last_update_time
            .as_ref()
            .is_some_and(|t| t.0.as_second() + i64::from(deadline) < now.as_second()),
    }
}

/// Upstream `calculateStatus`.
pub fn calculate_status(
    all: &[ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    d: &Deployment,
) -> DeploymentStatus {
    let available: i32 = all.iter().map(rs_available).sum();
    let total = spec_sum(all);
    let old = d.status.clone().unwrap_or_default();
    let mut s = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(all.iter().map(rs_status_replicas).sum()),
        updated_replicas: Some(new_rs.map(rs_status_replicas).unwrap_or(0)),
        ready_replicas: Some(all.iter().map(rs_ready).sum()),
        available_replicas: Some(available),
        unavailable_replicas: Some((total - available).max(0)),
        collision_count: old.collision_count,
        conditions: old.conditions.clone(),
        terminating_replicas: old.terminating_replicas,
    };
    if available >= replicas(d) - max_unavailable(d) {
        set_condition(
            &mut s,
            new_condition(
                "Available",
                "True",
                MIN_AVAILABLE,
                "Deployment has minimum availability.".into(),
            ),
        );
    } else {
        set_condition(
            &mut s,
            new_condition(
                "Available",
                "False",
                MIN_UNAVAILABLE,
                "Deployment does not have minimum availability.".into(),
            ),
        );
    }
    s
}

fn status_eq(a: &DeploymentStatus, b: &DeploymentStatus) -> bool {
    let n = |s: &DeploymentStatus| {
        let mut s = s.clone();
        for f in [
            &mut s.replicas,
            &mut s.updated_replicas,
            &mut s.ready_replicas,
            &mut s.available_replicas,
            &mut s.unavailable_replicas,
        ] {
            if f.is_none() {
                *f = Some(0);
            }
        }
        if s.conditions.as_ref().is_some_and(Vec::is_empty) {
            s.conditions = None;
        }
        s
    };
    n(a) == n(b)
}

// ---------------------------------------------------------------------------
// The controller.

/// The controller and its queue.
pub struct DeploymentController {
    ctx: Arc<Context>,
    queue: WorkQueue<String>,
}

fn deployment_for_rs(ctx: &Context, rs: &ReplicaSet) -> Option<Arc<Deployment>> {
    let r = controller_ref(&rs.metadata)?;
    if r.kind != "Deployment" {
        return None;
    }
    let d = ctx
        .deployments
        .store()
        .get(&ObjectRef::<Deployment>::new(&r.name).within(&rs.namespace()?))?;
    (d.metadata.uid.as_deref() == Some(r.uid.as_str())).then_some(d)
}

impl DeploymentController {
    /// Subscribes to Deployments, ReplicaSets and pods.
    pub fn new(ctx: Arc<Context>) -> Self {
        let queue: WorkQueue<String> = WorkQueue::new();
        let q = queue.clone();
        ctx.deployments.subscribe(move |ev| match ev {
            InformerEvent::Applied { new, .. } => q.add(key_of(&**new)),
            InformerEvent::Deleted(d) => q.add(key_of(&**d)),
        });
        let q = queue.clone();
        let weak = Arc::downgrade(&ctx);
        ctx.replicasets.subscribe(move |ev| {
            let Some(ctx) = weak.upgrade() else { return };
            let (old, rs) = match ev {
                InformerEvent::Applied { old, new } => (old.clone(), new.clone()),
                InformerEvent::Deleted(rs) => (None, rs.clone()),
            };
            if let Some(old) = old {
                if controller_ref(&old.metadata).map(|r| &r.uid)
                    != controller_ref(&rs.metadata).map(|r| &r.uid)
                {
                    if let Some(d) = deployment_for_rs(&ctx, &old) {
                        q.add(key_of(&*d));
                    }
                }
            }
            if let Some(d) = deployment_for_rs(&ctx, &rs) {
                q.add(key_of(&*d));
            } else if controller_ref(&rs.metadata).is_none() {
                let ns = rs.namespace();
                for d in ctx.deployments.store().state() {
                    if d.namespace() == ns
                        && d.spec.as_ref().is_some_and(|s| {
                            !selector_is_empty(&s.selector)
                                && selector_matches(&s.selector, rs.metadata.labels.as_ref())
                        })
                    {
                        q.add(key_of(&*d));
                    }
                }
            }
        });
        let q = queue.clone();
        let weak = Arc::downgrade(&ctx);
        ctx.pods.subscribe(move |ev| {
            // Recreate waits for old pods to go.
            let InformerEvent::Deleted(pod) = ev else {
                return;
            };
            let Some(ctx) = weak.upgrade() else { return };
            let Some(r) = controller_ref(&pod.metadata) else {
                return;
            };
            let Some(ns) = pod.namespace() else { return };
            if let Some(rs) = ctx
                .replicasets
                .store()
                .get(&ObjectRef::<ReplicaSet>::new(&r.name).within(&ns))
            {
                if let Some(d) = deployment_for_rs(&ctx, &rs) {
                    if !is_rolling(&d) {
                        q.add(key_of(&*d));
                    }
                }
            }
        });
        DeploymentController { ctx, queue }
    }

    /// The work queue (shut down to stop).
    pub fn queue(&self) -> WorkQueue<String> {
        self.queue.clone()
    }

    /// Runs the workers until the queue is shut down.
    pub async fn run(self) {
        let ctx = self.ctx.clone();
        let n = ctx.opts.concurrent_deployment_syncs;
        run_workers(
            "deployment",
            self.queue,
            n,
            ctx.metrics.clone(),
            move |key| {
                let ctx = ctx.clone();
                async move {
                    let mut s = Sync {
                        ctx: &ctx,
                        requeue: None,
                    };
                    s.sync(&key).await?;
                    Ok(s.requeue)
                }
            },
        )
        .await;
    }
}

struct Sync<'a> {
    ctx: &'a Context,
    requeue: Option<Duration>,
}

impl Sync<'_> {
    fn rs_api(&self, ns: &str) -> Api<ReplicaSet> {
        Api::namespaced(self.ctx.client.clone(), ns)
    }
    fn d_api(&self, ns: &str) -> Api<Deployment> {
        Api::namespaced(self.ctx.client.clone(), ns)
    }

    async fn sync(&mut self, key: &str) -> Result<(), Error> {
        let (ns, name) = client_support::informer::split_key(key);
        let ns = ns.unwrap_or("default");
        let Some(d) = self
            .ctx
            .deployments
            .store()
            .get(&ObjectRef::<Deployment>::new(name).within(ns))
        else {
            return Ok(());
        };
        let mut d = (*d).clone();
        let selector = d
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        if selector_is_empty(&selector) {
            // Upstream: "This deployment will select all pods"; only observe.
            let mut st = d.status.clone().unwrap_or_default();
            if st.observed_generation != d.metadata.generation {
                st.observed_generation = d.metadata.generation;
                self.write_status(&mut d, st).await?;
            }
            return Ok(());
        }
        let rs_list = self.claim_replicasets(&d, &selector).await?;
        if d.metadata.deletion_timestamp.is_some() {
            return self.sync_status_only(&mut d, rs_list).await;
        }
        self.check_paused_conditions(&mut d).await?;
        let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        if paused {
            return self.sync_scale(&mut d, rs_list).await;
        }
        if self.is_scaling_event(&mut d, &rs_list).await? {
            return self.sync_scale(&mut d, rs_list).await;
        }
        if is_rolling(&d) {
            self.rollout_rolling(&mut d, rs_list).await
        } else {
            self.rollout_recreate(&mut d, rs_list).await
        }
    }

    /// ReplicaSets this Deployment controls after adopting matching orphans
    /// and releasing ones that no longer match (upstream `ClaimReplicaSets`).
    async fn claim_replicasets(
        &self,
        d: &Deployment,
        sel: &LabelSelector,
    ) -> Result<Vec<ReplicaSet>, Error> {
        let ns = d.namespace().unwrap_or_default();
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let deleting = d.metadata.deletion_timestamp.is_some();
        let api = self.rs_api(&ns);
        let mut out = Vec::new();
        let mut fresh_checked = false;
        for rs in self.ctx.replicasets.store().state() {
            if rs.namespace().as_deref() != Some(ns.as_str()) {
                continue;
            }
            let matches = selector_matches(sel, rs.metadata.labels.as_ref());
            match controller_ref(&rs.metadata) {
                Some(r) if r.uid == uid => {
                    if matches || deleting {
                        out.push((*rs).clone());
                    } else if rs.metadata.deletion_timestamp.is_none() {
                        let mut r2 = (*rs).clone();
                        if let Some(refs) = r2.metadata.owner_references.as_mut() {
                            refs.retain(|r| r.uid != uid);
                        }
                        match api
                            .replace(&rs.name_any(), &PostParams::default(), &r2)
                            .await
                        {
                            Ok(_) => {}
                            Err(e) if is_code(&e, 404) => {}
                            Err(e) => {
                                return Err(Error::kube(format!(
                                    "releasing replicaset {ns}/{}",
                                    rs.name_any()
                                ))(e))
                            }
                        }
                    }
                }
                Some(_) => {}
                None => {
                    if !matches || deleting || rs.metadata.deletion_timestamp.is_some() {
                        continue;
                    }
                    if !fresh_checked {
                        let fresh =
                            self.d_api(&ns)
                                .get(&d.name_any())
                                .await
                                .map_err(Error::kube(format!(
                                    "getting deployment {ns}/{}",
                                    d.name_any()
                                )))?;
                        if fresh.metadata.uid.as_deref() != Some(uid.as_str())
                            || fresh.metadata.deletion_timestamp.is_some()
                        {
                            return Ok(out);
                        }
                        fresh_checked = true;
                    }
                    let mut r2 = (*rs).clone();
                    r2.metadata
                        .owner_references
                        .get_or_insert_with(Vec::new)
                        .push(owner_ref(d));
                    match api
                        .replace(&rs.name_any(), &PostParams::default(), &r2)
                        .await
                    {
                        Ok(a) => out.push(a),
                        Err(e) if is_code(&e, 404) => {}
                        Err(e) => {
                            return Err(Error::kube(format!(
                                "adopting replicaset {ns}/{}",
                                rs.name_any()
                            ))(e))
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    async fn write_status(
        &self,
        d: &mut Deployment,
        status: DeploymentStatus,
    ) -> Result<(), Error> {
        let ns = d.namespace().unwrap_or_default();
        let mut body = d.clone();
        body.status = Some(status);
        let updated = self
            .d_api(&ns)
            .replace_status(&d.name_any(), &PostParams::default(), &body)
            .await
            .map_err(Error::kube(format!(
                "updating status of deployment {ns}/{}",
                d.name_any()
            )))?;
        *d = updated;
        Ok(())
    }

    /// Sets the Deployment's revision annotation (a metadata-only update).
    async fn set_deployment_revision(
        &self,
        d: &mut Deployment,
        revision: &str,
    ) -> Result<(), Error> {
        if d.annotations().get(REVISION).map(String::as_str) == Some(revision) {
            return Ok(());
        }
        let ns = d.namespace().unwrap_or_default();
        let mut body = d.clone();
        body.annotations_mut()
            .insert(REVISION.into(), revision.into());
        let updated = self
            .d_api(&ns)
            .replace(&d.name_any(), &PostParams::default(), &body)
            .await
            .map_err(Error::kube(format!(
                "updating deployment {ns}/{}",
                d.name_any()
            )))?;
        *d = updated;
        Ok(())
    }

    async fn check_paused_conditions(&self, d: &mut Deployment) -> Result<(), Error> {
        if progress_deadline(d).is_none() {
            return Ok(());
        }
        let mut st = d.status.clone().unwrap_or_default();
        let cond = get_condition(&st, "Progressing").cloned();
        if cond.as_ref().and_then(|c| c.reason.as_deref()) == Some(TIMED_OUT) {
            return Ok(());
        }
        let paused_cond = cond.as_ref().and_then(|c| c.reason.as_deref()) == Some(PAUSED);
        let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        if paused && !paused_cond {
            set_condition(
                &mut st,
                new_condition(
                    "Progressing",
                    "Unknown",
                    PAUSED,
                    "Deployment is paused".into(),
                ),
            );
        } else if !paused && paused_cond {
            set_condition(
                &mut st,
                new_condition(
                    "Progressing",
                    "Unknown",
                    RESUMED,
                    "Deployment is resumed".into(),
                ),
            );
        } else {
            return Ok(());
        }
        self.write_status(d, st).await
    }

    /// Splits into (new, old) and brings the new one's annotations up to
    /// date; creates it when `create` (upstream
    /// `getAllReplicaSetsAndSyncRevision`).
    async fn new_and_old(
        &self,
        d: &mut Deployment,
        rs_list: &[ReplicaSet],
        create: bool,
    ) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>), Error> {
        let template = d
            .spec
            .as_ref()
            .map(|s| s.template.clone())
            .unwrap_or_default();
        let mut sorted = rs_list.to_vec();
        sorted.sort_by(by_creation);
        let new_idx = sorted.iter().position(|rs| {
            rs.spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .is_some_and(|t| equal_ignore_hash(t, &template))
        });
        let existing = new_idx.map(|i| sorted[i].clone());
        let olds: Vec<ReplicaSet> = sorted
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != new_idx)
            .map(|(_, r)| r.clone())
            .collect();
        let max_old = olds.iter().map(revision_of).max().unwrap_or(0);
        let new_revision = (max_old + 1).to_string();
        let ns = d.namespace().unwrap_or_default();

        if let Some(rs) = existing {
            let mut copy = rs.clone();
            let changed = set_new_rs_annotations(d, &mut copy, &new_revision, true);
            let mrs = d.spec.as_ref().and_then(|s| s.min_ready_seconds);
            let mrs_changed = copy.spec.as_ref().and_then(|s| s.min_ready_seconds) != mrs;
            let rs = if changed || mrs_changed {
                if let Some(s) = copy.spec.as_mut() {
                    s.min_ready_seconds = mrs;
                }
                self.rs_api(&ns)
                    .replace(&copy.name_any(), &PostParams::default(), &copy)
                    .await
                    .map_err(Error::kube(format!(
                        "updating replicaset {ns}/{}",
                        copy.name_any()
                    )))?
            } else {
                rs
            };
            let rev = rs.annotations().get(REVISION).cloned().unwrap_or_default();
            self.set_deployment_revision(d, &rev).await?;
            let st = d.status.clone().unwrap_or_default();
            if progress_deadline(d).is_some() && get_condition(&st, "Progressing").is_none() {
                let mut st = st;
                set_condition(
                    &mut st,
                    new_condition(
                        "Progressing",
                        "True",
                        FOUND_NEW_RS,
                        format!("Found new replica set {:?}", rs.name_any()),
                    ),
                );
                self.write_status(d, st).await?;
            }
            return Ok((Some(rs), olds));
        }
        if !create {
            return Ok((None, olds));
        }

        let collision = d.status.as_ref().and_then(|s| s.collision_count);
        let hash = compute_hash(&template, collision);
        let mut new_template = template.clone();
        new_template
            .metadata
            .get_or_insert_with(ObjectMeta::default)
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let mut sel = d
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        sel.match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let name = format!("{}-{}", d.name_any(), hash);
        let mut new_rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                owner_references: Some(vec![owner_ref(d)]),
                labels: new_template
                    .metadata
                    .as_ref()
                    .and_then(|m| m.labels.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: d.spec.as_ref().and_then(|s| s.min_ready_seconds),
                selector: sel,
                template: Some(new_template),
            }),
            status: None,
        };
        let mut all = olds.clone();
        all.push(new_rs.clone());
        let want = new_rs_new_replicas(d, &all, &new_rs);
        if let Some(s) = new_rs.spec.as_mut() {
            s.replicas = Some(want);
        }
        set_new_rs_annotations(d, &mut new_rs, &new_revision, false);
        set_replicas_annotations(&mut new_rs, replicas(d), replicas(d) + max_surge(d));
        let created = match self
            .rs_api(&ns)
            .create(&PostParams::default(), &new_rs)
            .await
        {
            Ok(rs) => rs,
            Err(e) if is_code(&e, 409) => {
                // Same name: ours with this template (a restart after
                // creating it), or a hash collision.
                let existing = self
                    .rs_api(&ns)
                    .get(&name)
                    .await
                    .map_err(Error::kube(format!("getting replicaset {ns}/{name}")))?;
                let ours = controller_ref(&existing.metadata)
                    .is_some_and(|r| Some(&r.uid) == d.metadata.uid.as_ref());
                if ours
                    && existing
                        .spec
                        .as_ref()
                        .and_then(|s| s.template.as_ref())
                        .is_some_and(|t| equal_ignore_hash(t, &template))
                {
                    return Err(Error::Retry(format!(
                        "replicaset {ns}/{name} exists; waiting for the cache"
                    )));
                }
                let mut st = d.status.clone().unwrap_or_default();
                st.collision_count = Some(st.collision_count.unwrap_or(0) + 1);
                self.write_status(d, st).await?;
                return Err(Error::Retry(format!(
                    "hash collision for replicaset {ns}/{name}"
                )));
            }
            Err(e) => return Err(Error::kube(format!("creating replicaset {ns}/{name}"))(e)),
        };
        tracing::info!(deployment = %key_of(d), replicaset = %name, replicas = want, "created new replica set");
        self.set_deployment_revision(d, &new_revision).await?;
        if progress_deadline(d).is_some() {
            let mut st = d.status.clone().unwrap_or_default();
            set_condition(
                &mut st,
                new_condition(
                    "Progressing",
                    "True",
                    NEW_RS_CREATED,
                    format!("Created new replica set {name:?}"),
                ),
            );
            self.write_status(d, st).await?;
        }
        Ok((Some(created), olds))
    }

    /// Scales one ReplicaSet (and refreshes its replica annotations) with
    /// its resourceVersion; returns the stored result.
    async fn scale_rs(
        &self,
        rs: &ReplicaSet,
        n: i32,
        d: &Deployment,
    ) -> Result<(bool, ReplicaSet), Error> {
        let size = rs_replicas(rs) != n;
        let desired = replicas(d);
        let max = desired + max_surge(d);
        let ann = annotation_i32(rs, DESIRED_REPLICAS) != Some(desired)
            || annotation_i32(rs, MAX_REPLICAS) != Some(max);
        if !size && !ann {
            return Ok((false, rs.clone()));
        }
        let mut copy = rs.clone();
        if let Some(s) = copy.spec.as_mut() {
            s.replicas = Some(n);
        }
        set_replicas_annotations(&mut copy, desired, max);
        let ns = rs.namespace().unwrap_or_default();
        let updated = self
            .rs_api(&ns)
            .replace(&rs.name_any(), &PostParams::default(), &copy)
            .await
            .map_err(Error::kube(format!(
                "scaling replicaset {ns}/{} to {n}",
                rs.name_any()
            )))?;
        if size {
            tracing::info!(replicaset = %key_of(rs), from = rs_replicas(rs), to = n, "scaled replica set");
        }
        Ok((size, updated))
    }

    async fn is_scaling_event(
        &self,
        d: &mut Deployment,
        rs_list: &[ReplicaSet],
    ) -> Result<bool, Error> {
        let (new_rs, olds) = self.new_and_old(d, rs_list, false).await?;
        let mut all = olds;
        all.extend(new_rs);
        Ok(active(&all)
            .iter()
            .any(|rs| annotation_i32(rs, DESIRED_REPLICAS).is_some_and(|v| v != replicas(d))))
    }

    async fn sync_status_only(
        &self,
        d: &mut Deployment,
        rs_list: Vec<ReplicaSet>,
    ) -> Result<(), Error> {
        let (new_rs, olds) = self.new_and_old(d, &rs_list, false).await?;
        let mut all = olds;
        all.extend(new_rs.clone());
        let st = calculate_status(&all, new_rs.as_ref(), d);
        if status_eq(&st, &d.status.clone().unwrap_or_default()) {
            return Ok(());
        }
        self.write_status(d, st).await
    }

    /// Scaling or paused (upstream `sync`).
    async fn sync_scale(
        &mut self,
        d: &mut Deployment,
        rs_list: Vec<ReplicaSet>,
    ) -> Result<(), Error> {
        let (new_rs, olds) = self.new_and_old(d, &rs_list, false).await?;
        let (new_rs, olds) = self.scale(d, new_rs, olds).await?;
        if d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false) {
            self.cleanup(d, &olds).await?;
        }
        let mut all = olds;
        all.extend(new_rs.clone());
        let st = calculate_status(&all, new_rs.as_ref(), d);
        if status_eq(&st, &d.status.clone().unwrap_or_default()) {
            return Ok(());
        }
        self.write_status(d, st).await
    }

    async fn scale(
        &self,
        d: &Deployment,
        new_rs: Option<ReplicaSet>,
        mut olds: Vec<ReplicaSet>,
    ) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>), Error> {
        // One active (or none: the newest) takes the whole count.
        olds.sort_by(|a, b| by_creation(b, a));
        let mut all = olds.clone();
        all.extend(new_rs.clone());
        let act = active(&all);
        let only = match act.len() {
            0 => new_rs.clone().or_else(|| olds.first().cloned()),
            1 => Some(act[0].clone()),
            _ => None,
        };
        if let Some(rs) = only {
            if rs_replicas(&rs) != replicas(d) {
                self.scale_rs(&rs, replicas(d), d).await?;
            }
            return Ok((new_rs, olds));
        }
        // A saturated new ReplicaSet: the old ones go to zero.
        if let Some(n) = &new_rs {
            if annotation_i32(n, DESIRED_REPLICAS) == Some(replicas(d))
                && rs_replicas(n) == replicas(d)
                && rs_available(n) == replicas(d)
            {
                for o in active(&olds) {
                    self.scale_rs(&o, 0, d).await?;
                }
                return Ok((new_rs, olds));
            }
        }
        if is_rolling(d) {
            let mut all = act;
            let current = spec_sum(&all);
            let allowed = if replicas(d) > 0 {
                replicas(d) + max_surge(d)
            } else {
                0
            };
            let to_add = allowed - current;
            if to_add > 0 {
                // Larger first; newer first among equals.
                all.sort_by(|a, b| {
                    rs_replicas(b)
                        .cmp(&rs_replicas(a))
                        .then_with(|| by_creation(b, a))
                });
            } else if to_add < 0 {
                // Larger first; older first among equals.
                all.sort_by(|a, b| {
                    rs_replicas(b)
                        .cmp(&rs_replicas(a))
                        .then_with(|| by_creation(a, b))
                });
            }
            let mut added = 0;
            let mut sizes: Vec<i32> = Vec::new();
            for rs in &all {
                if to_add != 0 {
                    let p = proportion(rs, d, to_add, added);
                    sizes.push(rs_replicas(rs) + p);
                    added += p;
                } else {
                    sizes.push(rs_replicas(rs));
                }
            }
            for (i, rs) in all.iter().enumerate() {
                if i == 0 && to_add != 0 {
                    sizes[0] = (sizes[0] + to_add - added).max(0);
                }
                self.scale_rs(rs, sizes[i], d).await?;
            }
        }
        Ok((new_rs, olds))
    }

    async fn rollout_rolling(
        &mut self,
        d: &mut Deployment,
        rs_list: Vec<ReplicaSet>,
    ) -> Result<(), Error> {
        let (new_rs, olds) = self.new_and_old(d, &rs_list, true).await?;
        let Some(mut new_rs) = new_rs else {
            return Ok(());
        };
        let mut all = olds.clone();
        all.push(new_rs.clone());
        // Scale up the new ReplicaSet.
        let want = replicas(d);
        let target = if rs_replicas(&new_rs) > want {
            Some(want)
        } else if rs_replicas(&new_rs) < want {
            Some(new_rs_new_replicas(d, &all, &new_rs))
        } else {
            None
        };
        if let Some(t) = target {
            let (scaled, updated) = self.scale_rs(&new_rs, t, d).await?;
            new_rs = updated;
            if scaled {
                let mut all = olds.clone();
                all.push(new_rs.clone());
                return self.sync_rollout_status(d, &all, Some(&new_rs)).await;
            }
        }
        // Scale down old ones.
        let mut all = olds.clone();
        all.push(new_rs.clone());
        let (scaled_down, olds) = self.reconcile_old(d, &all, olds, &new_rs).await?;
        let mut all = olds.clone();
        all.push(new_rs.clone());
        if scaled_down {
            return self.sync_rollout_status(d, &all, Some(&new_rs)).await;
        }
        if deployment_complete(d, &d.status.clone().unwrap_or_default()) {
            self.cleanup(d, &olds).await?;
        }
        self.sync_rollout_status(d, &all, Some(&new_rs)).await
    }

    /// Upstream `reconcileOldReplicaSets`; returns whether it scaled and
    /// the old ReplicaSets as stored afterwards.
    async fn reconcile_old(
        &self,
        d: &Deployment,
        all: &[ReplicaSet],
        olds: Vec<ReplicaSet>,
        new_rs: &ReplicaSet,
    ) -> Result<(bool, Vec<ReplicaSet>), Error> {
        let old_count = spec_sum(&olds);
        if old_count == 0 {
            return Ok((false, olds));
        }
        let all_count = spec_sum(all);
        let min_available = replicas(d) - max_unavailable(d);
        let new_unavailable = rs_replicas(new_rs) - rs_available(new_rs);
        let max_scaled_down = all_count - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok((false, olds));
        }
        // First the old ReplicaSets' unhealthy replicas.
        let mut olds = olds;
        olds.sort_by(by_creation);
        let mut cleaned = 0;
        for rs in olds.iter_mut() {
            if cleaned >= max_scaled_down {
                break;
            }
            if rs_replicas(rs) == 0 || rs_replicas(rs) == rs_available(rs) {
                continue;
            }
            let n = (max_scaled_down - cleaned).min(rs_replicas(rs) - rs_available(rs));
            let (_, updated) = self.scale_rs(rs, rs_replicas(rs) - n, d).await?;
            *rs = updated;
            cleaned += n;
        }
        // Then available ones, while enough stay available.
        let mut all2 = olds.clone();
        all2.push(new_rs.clone());
        let available: i32 = all2.iter().map(rs_available).sum();
        let mut scaled = 0;
        if available > min_available {
            let total = available - min_available;
            for rs in olds.iter_mut() {
                if scaled >= total {
                    break;
                }
                if rs_replicas(rs) == 0 {
                    continue;
                }
                let n = rs_replicas(rs).min(total - scaled);
                let (_, updated) = self.scale_rs(rs, rs_replicas(rs) - n, d).await?;
                *rs = updated;
                scaled += n;
            }
        }
        Ok((cleaned + scaled > 0, olds))
    }

    async fn rollout_recreate(
        &mut self,
        d: &mut Deployment,
        rs_list: Vec<ReplicaSet>,
    ) -> Result<(), Error> {
        let (new_rs, mut olds) = self.new_and_old(d, &rs_list, false).await?;
        let mut scaled_down = false;
        for o in olds.iter_mut() {
            if rs_replicas(o) > 0 {
                let (s, updated) = self.scale_rs(o, 0, d).await?;
                *o = updated;
                scaled_down |= s;
            }
        }
        let mut all = olds.clone();
        all.extend(new_rs.clone());
        if scaled_down {
            return self.sync_rollout_status(d, &all, new_rs.as_ref()).await;
        }
        // Wait until no old pod runs.
        let old_running = olds.iter().map(rs_status_replicas).sum::<i32>() > 0 || {
            let new_uid = new_rs.as_ref().and_then(|r| r.metadata.uid.clone());
            let old_uids: Vec<String> =
                olds.iter().filter_map(|r| r.metadata.uid.clone()).collect();
            let ns = d.namespace();
            self.ctx.pods.store().state().iter().any(|p| {
                p.namespace() == ns
                    && controller_ref(&p.metadata).is_some_and(|r| {
                        old_uids.contains(&r.uid) && Some(&r.uid) != new_uid.as_ref()
                    })
                    && !matches!(
                        p.status.as_ref().and_then(|s| s.phase.as_deref()),
                        Some("Failed") | Some("Succeeded")
                    )
            })
        };
        if old_running {
            return self.sync_rollout_status(d, &all, new_rs.as_ref()).await;
        }
        let (new_rs, olds) = match new_rs {
            Some(n) => (n, olds),
            None => {
                let (n, o) = self.new_and_old(d, &rs_list, true).await?;
                match n {
                    Some(n) => (n, o),
                    None => return Ok(()),
                }
            }
        };
        let (_, new_rs) = self.scale_rs(&new_rs, replicas(d), d).await?;
        if deployment_complete(d, &d.status.clone().unwrap_or_default()) {
            self.cleanup(d, &olds).await?;
        }
        let mut all = olds;
        all.push(new_rs.clone());
        self.sync_rollout_status(d, &all, Some(&new_rs)).await
    }

    /// Deletes old ReplicaSets beyond `revisionHistoryLimit`, oldest
    /// revision first, only those scaled to zero with no pods.
    async fn cleanup(&self, d: &Deployment, olds: &[ReplicaSet]) -> Result<(), Error> {
        let Some(limit) = d.spec.as_ref().and_then(|s| s.revision_history_limit) else {
            return Ok(());
        };
        let mut cleanable: Vec<&ReplicaSet> = olds
            .iter()
            .filter(|r| r.metadata.deletion_timestamp.is_none())
            .collect();
        let diff = cleanable.len() as i64 - i64::from(limit);
        if diff <= 0 {
            return Ok(());
        }
        cleanable.sort_by(|a, b| {
            revision_of(a)
                .cmp(&revision_of(b))
                .then_with(|| by_creation(a, b))
        });
        for rs in cleanable.into_iter().take(diff as usize) {
            let observed = rs
                .status
                .as_ref()
                .and_then(|s| s.observed_generation)
                .unwrap_or(0);
            if rs_status_replicas(rs) != 0
                || rs_replicas(rs) != 0
                || rs.metadata.generation.unwrap_or(0) > observed
            {
                continue;
            }
            let ns = rs.namespace().unwrap_or_default();
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: rs.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match self.rs_api(&ns).delete(&rs.name_any(), &dp).await {
                Ok(_) => tracing::info!(replicaset = %key_of(rs), "cleaned up old replica set"),
                Err(e) if is_code(&e, 404) || is_code(&e, 409) => {}
                Err(e) => {
                    return Err(Error::kube(format!(
                        "deleting replicaset {ns}/{}",
                        rs.name_any()
                    ))(e))
                }
            }
        }
        Ok(())
    }

    /// Status with the Progressing condition (upstream `syncRolloutStatus`).
    async fn sync_rollout_status(
        &mut self,
        d: &mut Deployment,
        all: &[ReplicaSet],
        new_rs: Option<&ReplicaSet>,
    ) -> Result<(), Error> {
        let mut st = calculate_status(all, new_rs, d);
        let now = Timestamp::now();
        if progress_deadline(d).is_none() {
            remove_condition(&mut st, "Progressing");
        }
        let cur = d
            .status
            .as_ref()
            .and_then(|s| get_condition(s, "Progressing"))
            .cloned();
        let complete = st.replicas == st.updated_replicas
            && cur.as_ref().and_then(|c| c.reason.as_deref()) == Some(NEW_RS_AVAILABLE);
        if progress_deadline(d).is_some() && !complete {
            let name = d.name_any();
            if deployment_complete(d, &st) {
                let msg = match new_rs {
                    Some(r) => {
                        format!("ReplicaSet {:?} has successfully progressed.", r.name_any())
                    }
                    None => format!("Deployment {name:?} has successfully progressed."),
                };
                set_condition(
                    &mut st,
                    new_condition("Progressing", "True", NEW_RS_AVAILABLE, msg),
                );
            } else if deployment_progressing(d, &st) {
                let msg = match new_rs {
                    Some(r) => format!("ReplicaSet {:?} is progressing.", r.name_any()),
                    None => format!("Deployment {name:?} is progressing."),
                };
                let mut c = new_condition("Progressing", "True", RS_UPDATED, msg);
                if let Some(cur) = &cur {
                    if cur.status == "True" {
                        c.last_transition_time = cur.last_transition_time.clone();
                    }
                    remove_condition(&mut st, "Progressing");
                }
                set_condition(&mut st, c);
            } else if deployment_timed_out(d, &st, now) {
                let msg = match new_rs {
                    Some(r) => format!("ReplicaSet {:?} has timed out progressing.", r.name_any()),
                    None => format!("Deployment {name:?} has timed out progressing."),
                };
                set_condition(
                    &mut st,
                    new_condition("Progressing", "False", TIMED_OUT, msg),
                );
            }
        }
        // ReplicaFailure conditions of the ReplicaSets surface here.
        let failure = new_rs
            .into_iter()
            .chain(all.iter())
            .filter_map(|r| {
                r.status
                    .as_ref()?
                    .conditions
                    .as_ref()?
                    .iter()
                    .find(|c| c.type_ == "ReplicaFailure")
                    .cloned()
            })
            .next();
        match failure {
            Some(f) => set_condition(
                &mut st,
                DeploymentCondition {
                    type_: "ReplicaFailure".into(),
                    status: f.status,
                    reason: f.reason,
                    message: f.message,
                    last_update_time: f.last_transition_time.clone(),
                    last_transition_time: f.last_transition_time,
                },
            ),
            None => remove_condition(&mut st, "ReplicaFailure"),
        }
        if status_eq(&st, &d.status.clone().unwrap_or_default()) {
            self.requeue_stuck(d, &st, now);
            return Ok(());
        }
        self.write_status(d, st.clone()).await?;
        self.requeue_stuck(d, &st, now);
        Ok(())
    }

    /// Checks again when the progress deadline would pass.
    fn requeue_stuck(&mut self, d: &Deployment, st: &DeploymentStatus, now: Timestamp) {
        let Some(deadline) = progress_deadline(d) else {
            return;
        };
        let Some(c) = get_condition(st, "Progressing") else {
            return;
        };
        if matches!(
            c.reason.as_deref(),
            Some(NEW_RS_AVAILABLE) | Some(TIMED_OUT)
        ) || deployment_complete(d, st)
        {
            return;
        }
        let Some(t) = &c.last_update_time else { return };
        let after = t.0.as_second() + i64::from(deadline) - now.as_second();
        self.requeue = Some(Duration::from_secs(after.max(1) as u64));
    }
}

/// Upstream `SetNewReplicaSetAnnotations`; returns whether anything changed.
fn set_new_rs_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: &str,
    exists: bool,
) -> bool {
    let mut changed = false;
    let dann = d.metadata.annotations.clone().unwrap_or_default();
    let ann = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    for (k, v) in &dann {
        if SKIP_ANNOTATIONS.contains(&k.as_str()) {
            continue;
        }
        if ann.get(k) != Some(v) {
            ann.insert(k.clone(), v.clone());
            changed = true;
        }
    }
    let old_revision = ann.get(REVISION).cloned();
    let old_n: i64 = old_revision
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let new_n: i64 = new_revision.parse().unwrap_or(0);
    if old_n < new_n {
        ann.insert(REVISION.into(), new_revision.into());
        changed = true;
        if let Some(old) = old_revision.filter(|o| !o.is_empty()) {
            let hist = match ann.get(REVISION_HISTORY) {
                Some(h) if !h.is_empty() => format!("{h},{old}"),
                _ => old,
            };
            ann.insert(REVISION_HISTORY.into(), hist);
        }
    }
    if !exists {
        changed = true;
    }
    changed
}

fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) {
    let ann = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    ann.insert(DESIRED_REPLICAS.into(), desired.to_string());
    ann.insert(MAX_REPLICAS.into(), max.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dep(replicas: i32, surge: serde_json::Value, unavail: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavail}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}
        }))
        .unwrap()
    }

    fn rs(name: &str, replicas: i32) -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}}
        }))
        .unwrap()
    }

    #[test]
    fn safe_encode_matches_upstream() {
        // Each byte of the decimal string maps into the 27-character alphabet.
        // '0' = 48, 48 % 27 = 21 -> '4'; '1' -> '5'; '9' = 57 % 27 = 3 -> 'f'.
        assert_eq!(safe_encode_string("0"), "4");
        assert_eq!(safe_encode_string("19"), "5f");
        assert_eq!(safe_encode_string("1234567890").len(), 10);
    }

    #[test]
    fn fnv32a_known_vectors() {
        assert_eq!(fnv32a(b"", FNV32_OFFSET), 0x811c9dc5);
        assert_eq!(fnv32a(b"a", FNV32_OFFSET), 0xe40c292c);
        assert_eq!(fnv32a(b"foobar", FNV32_OFFSET), 0xbf9cf968);
    }

    #[test]
    fn hash_changes_with_template_and_collision_count() {
        let d = dep(3, json!(1), json!(0));
        let t = d.spec.unwrap().template;
        let h0 = compute_hash(&t, None);
        let h1 = compute_hash(&t, Some(1));
        assert_ne!(h0, h1);
        assert_eq!(h0, compute_hash(&t, None));
        assert!(h0
            .chars()
            .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
        assert!(h0.len() <= 10 && !h0.is_empty());
    }

    #[test]
    fn surge_rounds_up_and_unavailable_down() {
        assert_eq!(
            scaled_value(&IntOrString::String("25%".into()), 10, true),
            Ok(3)
        );
        assert_eq!(
            scaled_value(&IntOrString::String("25%".into()), 10, false),
            Ok(2)
        );
        assert_eq!(scaled_value(&IntOrString::Int(4), 10, false), Ok(4));
        assert!(scaled_value(&IntOrString::String("4".into()), 10, false).is_err());
        let d = dep(10, json!("25%"), json!("25%"));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (3, 2));
        // Both zero: one may be unavailable.
        let d = dep(3, json!(0), json!("10%"));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (0, 1));
        // Unavailable is capped at replicas.
        let d = dep(2, json!(0), json!(5));
        assert_eq!(max_unavailable(&d), 2);
        // Defaults 25%/25%.
        let d = dep(4, serde_json::Value::Null, serde_json::Value::Null);
        assert_eq!((max_surge(&d), max_unavailable(&d)), (1, 1));
    }

    #[test]
    fn new_rs_grows_within_surge() {
        let d = dep(10, json!(2), json!(0));
        let old = rs("old", 10);
        let new = rs("new", 0);
        assert_eq!(
            new_rs_new_replicas(&d, &[old.clone(), new.clone()], &new),
            2
        );
        let new = rs("new", 2);
        assert_eq!(new_rs_new_replicas(&d, &[old, new.clone()], &new), 2);
        let old = rs("old", 8);
        assert_eq!(
            new_rs_new_replicas(&d, &[old.clone(), new.clone()], &new),
            4
        );
        // Scaled down to 8 but still 10 pods: no room yet.
        let mut removing = old;
        removing.status = Some(k8s_openapi::api::apps::v1::ReplicaSetStatus {
            replicas: 10,
            ..Default::default()
        });
        assert_eq!(new_rs_new_replicas(&d, &[removing, new.clone()], &new), 2);
    }

    #[test]
    fn proportions() {
        let mut d = dep(15, json!(0), json!(1));
        let mut a = rs("a", 6);
        let mut b = rs("b", 4);
        for r in [&mut a, &mut b] {
            r.metadata.annotations = Some([(MAX_REPLICAS.to_string(), "10".to_string())].into());
        }
        // 10 -> 15: +5 split 3/2.
        assert_eq!(proportion(&a, &d, 5, 0), 3);
        assert_eq!(proportion(&b, &d, 5, 3), 2);
        d.spec.as_mut().unwrap().replicas = Some(0);
        assert_eq!(proportion(&a, &d, -10, 0), -6);
    }

    #[test]
    fn equal_ignoring_hash_label() {
        let d = dep(1, json!(1), json!(0));
        let t = d.spec.unwrap().template;
        let mut t2 = t.clone();
        t2.metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut()
            .unwrap()
            .insert(POD_TEMPLATE_HASH.into(), "abc".into());
        assert!(equal_ignore_hash(&t, &t2));
        t2.spec.as_mut().unwrap().containers[0].image = Some("j".into());
        assert!(!equal_ignore_hash(&t, &t2));
    }

    #[test]
    fn revision_annotations() {
        let d = dep(1, json!(1), json!(0));
        let mut r = rs("x", 1);
        assert!(set_new_rs_annotations(&d, &mut r, "1", false));
        assert_eq!(r.annotations().get(REVISION).map(String::as_str), Some("1"));
        // Reused at revision 3: history keeps 1.
        assert!(set_new_rs_annotations(&d, &mut r, "3", true));
        assert_eq!(r.annotations().get(REVISION).map(String::as_str), Some("3"));
        assert_eq!(
            r.annotations().get(REVISION_HISTORY).map(String::as_str),
            Some("1")
        );
        assert!(!set_new_rs_annotations(&d, &mut r, "3", true));
    }
}
