//! The disruption controller (upstream `pkg/controller/disruption`): the
//! status of every PodDisruptionBudget.
//!
//! `expectedPods` and `desiredHealthy` come from the spec: a whole-number
//! `minAvailable` is the desired count over the selected pods; a
//! percentage, or any `maxUnavailable`, is taken of the summed scale of the
//! pods' controllers (a ReplicaSet's owning Deployment, ReplicaSet,
//! ReplicationController, StatefulSet), rounded up. `currentHealthy`
//! counts the selected pods that are Ready, not being deleted and not
//! recently evicted (`disruptedPods`, forgotten after two minutes);
//! `disruptionsAllowed` is the surplus, and the `DisruptionAllowed`
//! condition says `SufficientPods` / `InsufficientPods`, or `SyncFailed`
//! when a controller cannot be found (then no disruption is allowed).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use client_support::{InformerEvent, WorkQueue};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};

use crate::events::{record, EventType};
use crate::util::{controller_ref, is_code, is_pod_ready, key_of, now, selector_matches};
use crate::worker::run_workers;
use crate::{Context, Error};

/// How long an eviction recorded in `disruptedPods` counts (upstream `DeletionTimeout`).
pub const DELETION_TIMEOUT: Duration = Duration::from_secs(120);
const COMPONENT: &str = "controllermanager";

/// The controller: a queue of PDB keys.
pub struct DisruptionController {
    ctx: Arc<Context>,
    queue: WorkQueue<String>,
}

fn pdb_selects(pdb: &PodDisruptionBudget, labels: Option<&BTreeMap<String, String>>) -> bool {
    match pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) {
        Some(sel) => selector_matches(sel, labels),
        None => false,
    }
}

/// Queues every PDB of a namespace (a controller's scale changed).
fn enqueue_namespace(ctx: &Context, q: &WorkQueue<String>, ns: Option<String>) {
    for pdb in ctx.pdbs.store().state_filter(|p| p.namespace() == ns) {
        q.add(key_of(&*pdb));
    }
}

impl DisruptionController {
    /// Subscribes to PDBs, pods and the pods' controllers.
    pub fn new(ctx: Arc<Context>) -> Self {
        let queue: WorkQueue<String> = WorkQueue::new();
        let q = queue.clone();
        ctx.pdbs.subscribe(move |ev| match ev {
            InformerEvent::Applied { new, .. } => q.add(key_of(&**new)),
            InformerEvent::Deleted(p) => q.add(key_of(&**p)),
        });
        let q = queue.clone();
        let weak = Arc::downgrade(&ctx);
        ctx.pods.subscribe(move |ev| {
            let Some(ctx) = weak.upgrade() else { return };
            let (old, new) = match ev {
                InformerEvent::Applied { old, new } => (old.as_deref(), &**new),
                InformerEvent::Deleted(p) => (None, &**p),
            };
            let ns = new.namespace();
            for pdb in ctx.pdbs.store().state_filter(|p| {
                p.namespace() == ns
                    && (pdb_selects(p, new.metadata.labels.as_ref())
                        || old.is_some_and(|o| pdb_selects(p, o.metadata.labels.as_ref())))
            }) {
                q.add(key_of(&*pdb));
            }
        });
        macro_rules! on_scale_change {
            ($informer:ident) => {{
                let q = queue.clone();
                let weak = Arc::downgrade(&ctx);
                ctx.$informer.subscribe(move |ev| {
                    let Some(ctx) = weak.upgrade() else { return };
                    let ns = match ev {
                        InformerEvent::Applied { new, .. } => new.namespace(),
                        InformerEvent::Deleted(o) => o.namespace(),
                    };
                    enqueue_namespace(&ctx, &q, ns);
                });
            }};
        }
        on_scale_change!(replicasets);
        on_scale_change!(deployments);
        on_scale_change!(statefulsets);
        on_scale_change!(replicationcontrollers);
        DisruptionController { ctx, queue }
    }

    /// The work queue (shut down to stop).
    pub fn queue(&self) -> WorkQueue<String> {
        self.queue.clone()
    }

    /// Runs the workers.
    pub async fn run(self) {
        let ctx = self.ctx.clone();
        run_workers(
            "disruption",
            self.queue,
            2,
            ctx.metrics.clone(),
            move |key| {
                let ctx = ctx.clone();
                async move { sync(&ctx, &key).await }
            },
        )
        .await;
    }
}

/// Upstream `GetScaledValueFromIntOrPercent`.
pub fn scaled(v: &IntOrString, total: i32, round_up: bool) -> Result<i32, String> {
    match v {
        IntOrString::Int(i) => Ok(*i),
        IntOrString::String(s) => {
            let pct: i64 = s
                .strip_suffix('%')
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("invalid value for IntOrString: invalid value {s:?}"))?;
            let prod = pct * i64::from(total);
            Ok(if round_up {
                (prod + 99).div_euclid(100)
            } else {
                prod.div_euclid(100)
            } as i32)
        }
    }
}

/// The declared scale of the controller of each pod, summed once per
/// controller; pods without a controller are skipped (returned by name).
fn expected_scale(ctx: &Context, pods: &[Arc<Pod>]) -> Result<(i32, Vec<String>), String> {
    let mut scales: HashMap<String, i32> = HashMap::new();
    let mut unmanaged = Vec::new();
    for pod in pods {
        let Some(r) = controller_ref(&pod.metadata) else {
            unmanaged.push(pod.name_any());
            continue;
        };
        if scales.contains_key(&r.uid) {
            continue;
        }
        let ns = pod.namespace().unwrap_or_default();
        let found = find_scale(ctx, &ns, &r.kind, &r.api_version, &r.name, &r.uid);
        match found {
            Some((uid, n)) => {
                scales.insert(r.uid.clone(), 0);
                scales.insert(uid, n);
            }
            None => return Err(format!("found no controllers for pod {:?}", pod.name_any())),
        }
    }
    Ok((scales.values().sum(), unmanaged))
}

fn get<K>(store: &crate::context::Shared<K>, ns: &str, name: &str, uid: &str) -> Option<Arc<K>>
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + Send
        + Sync
        + serde::de::DeserializeOwned
        + 'static,
{
    store
        .store()
        .get(&ObjectRef::<K>::new(name).within(ns))
        .filter(|o| o.meta().uid.as_deref() == Some(uid))
}

/// The (uid, replicas) of the scale that governs a pod's controller.
fn find_scale(
    ctx: &Context,
    ns: &str,
    kind: &str,
    api_version: &str,
    name: &str,
    uid: &str,
) -> Option<(String, i32)> {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    match (group, kind) {
        ("apps", "ReplicaSet") => {
            let rs = get(&ctx.replicasets, ns, name, uid)?;
            if let Some(d) = controller_ref(&rs.metadata).filter(|r| r.kind == "Deployment") {
                let dep = get(&ctx.deployments, ns, &d.name, &d.uid)?;
                let n = dep.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                return Some((d.uid.clone(), n));
            }
            Some((
                uid.into(),
                rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            ))
        }
        ("apps", "StatefulSet") => {
            let ss = get(&ctx.statefulsets, ns, name, uid)?;
            Some((
                uid.into(),
                ss.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            ))
        }
        ("", "ReplicationController") => {
            let rc = get(&ctx.replicationcontrollers, ns, name, uid)?;
            Some((
                uid.into(),
                rc.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            ))
        }
        _ => None,
    }
}

/// What the status is computed from, apart from the PDB itself.
pub struct Observed {
    /// Pods the selector picks.
    pub pods: Vec<Arc<Pod>>,
    /// Summed controller scale (for percentages and maxUnavailable).
    pub scale: i32,
}

/// The status (`Err`: a sync failure message), and when to look again
/// because a recorded disruption expires.
pub fn compute_status(
    pdb: &PodDisruptionBudget,
    seen: &Observed,
    now_ts: Timestamp,
) -> Result<(PodDisruptionBudgetStatus, Option<Duration>), String> {
    let spec = pdb.spec.clone().unwrap_or_default();
    let pods = &seen.pods;
    let (expected, desired) = if let Some(mu) = &spec.max_unavailable {
        let mu = scaled(mu, seen.scale, true)?;
        (seen.scale, (seen.scale - mu).max(0))
    } else if let Some(ma) = &spec.min_available {
        match ma {
            IntOrString::Int(i) => (pods.len() as i32, *i),
            IntOrString::String(_) => (seen.scale, scaled(ma, seen.scale, true)?),
        }
    } else {
        (0, 0)
    };
    let old = pdb.status.clone().unwrap_or_default();
    let mut recheck: Option<Duration> = None;
    let mut disrupted = BTreeMap::new();
    let timeout = DELETION_TIMEOUT.as_secs() as i64;
    for pod in pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let name = pod.name_any();
        let Some(t) = old.disrupted_pods.as_ref().and_then(|m| m.get(&name)) else {
            continue;
        };
        let due = t.0.as_second() + timeout;
        if due > now_ts.as_second() {
            let left = Duration::from_secs((due - now_ts.as_second()) as u64);
            recheck = Some(recheck.map_or(left, |r: Duration| r.min(left)));
            disrupted.insert(name, t.clone());
        }
    }
    let healthy = pods
        .iter()
        .filter(|p| {
            p.metadata.deletion_timestamp.is_none()
                && !disrupted.contains_key(&p.name_any())
                && is_pod_ready(p)
        })
        .count() as i32;
    let mut allowed = healthy - desired;
    if expected <= 0 || allowed <= 0 {
        allowed = 0;
    }
    let gen = pdb.metadata.generation;
    let (status, reason) = if allowed > 0 {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    let conditions = set_condition(old.conditions.clone(), status, reason, "", gen);
    Ok((
        PodDisruptionBudgetStatus {
            current_healthy: healthy,
            desired_healthy: desired,
            disruptions_allowed: allowed,
            expected_pods: expected,
            observed_generation: gen,
            disrupted_pods: if disrupted.is_empty() {
                None
            } else {
                Some(disrupted)
            },
            conditions: Some(conditions),
        },
        recheck,
    ))
}

/// Upstream `meta.SetStatusCondition` for `DisruptionAllowed`: the
/// transition time moves only when the status does.
fn set_condition(
    conds: Option<Vec<Condition>>,
    status: &str,
    reason: &str,
    message: &str,
    gen: Option<i64>,
) -> Vec<Condition> {
    let mut conds = conds.unwrap_or_default();
    let at: Time = now();
    match conds.iter_mut().find(|c| c.type_ == "DisruptionAllowed") {
        Some(c) => {
            if c.status != status {
                c.status = status.into();
                c.last_transition_time = at;
            }
            c.reason = reason.into();
            c.message = message.into();
            c.observed_generation = gen;
        }
        None => conds.push(Condition {
            type_: "DisruptionAllowed".into(),
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
            observed_generation: gen,
            last_transition_time: at,
        }),
    }
    conds
}

/// Compares statuses ignoring condition transition times.
fn same(a: &PodDisruptionBudgetStatus, b: &PodDisruptionBudgetStatus) -> bool {
    let strip = |s: &PodDisruptionBudgetStatus| {
        let mut s = s.clone();
        for c in s.conditions.iter_mut().flatten() {
            c.last_transition_time = Time(Timestamp::UNIX_EPOCH);
        }
        if s.conditions.as_ref().is_some_and(Vec::is_empty) {
            s.conditions = None;
        }
        if s.disrupted_pods.as_ref().is_some_and(BTreeMap::is_empty) {
            s.disrupted_pods = None;
        }
        s
    };
    strip(a) == strip(b)
}

#[tracing::instrument(skip(ctx), fields(pdb = %key))]
async fn sync(ctx: &Context, key: &str) -> Result<Option<Duration>, Error> {
    let (ns, name) = client_support::informer::split_key(key);
    let ns = ns.unwrap_or("default");
    let Some(pdb) = ctx
        .pdbs
        .store()
        .get(&ObjectRef::<PodDisruptionBudget>::new(name).within(ns))
    else {
        return Ok(None);
    };
    if pdb.metadata.deletion_timestamp.is_some() {
        return Ok(None);
    }
    let pods = ctx.pods.store().state_filter(|p| {
        p.metadata.namespace.as_deref() == Some(ns) && pdb_selects(&pdb, p.metadata.labels.as_ref())
    });
    let spec = pdb.spec.clone().unwrap_or_default();
    let needs_scale = spec.max_unavailable.is_some()
        || matches!(spec.min_available, Some(IntOrString::String(_)));
    let scale = if needs_scale {
        match expected_scale(ctx, &pods) {
            Ok((n, unmanaged)) => {
                if !unmanaged.is_empty() {
                    record(ctx, COMPONENT, &*pdb, EventType::Warning, "UnmanagedPods",
                        "Pods selected by this PodDisruptionBudget were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value.").await;
                }
                Ok(n)
            }
            Err(e) => Err(e),
        }
    } else {
        Ok(0)
    };
    let computed =
        scale.and_then(|scale| compute_status(&pdb, &Observed { pods, scale }, Timestamp::now()));
    let old = pdb.status.clone().unwrap_or_default();
    let (status, recheck) = match computed {
        Ok(v) => v,
        Err(msg) => {
            record(
                ctx,
                COMPONENT,
                &*pdb,
                EventType::Warning,
                "CalculateExpectedPodCountFailed",
                &msg,
            )
            .await;
            // Fail safe: no disruption while the budget cannot be computed.
            let mut s = old.clone();
            s.disruptions_allowed = 0;
            s.conditions = Some(set_condition(
                s.conditions.take(),
                "False",
                "SyncFailed",
                &msg,
                s.observed_generation,
            ));
            (s, None)
        }
    };
    if !same(&old, &status) {
        let mut fresh = (*pdb).clone();
        fresh.status = Some(status);
        let api: Api<PodDisruptionBudget> = Api::namespaced(ctx.client.clone(), ns);
        match api
            .replace_status(name, &PostParams::default(), &fresh)
            .await
        {
            Ok(_) => {}
            Err(e) if is_code(&e, 404) => return Ok(None),
            Err(e) => return Err(Error::kube(format!("updating status of pdb {key}"))(e)),
        }
    }
    Ok(recheck)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, ready: bool) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {"app": "a"}},
                "status": {"conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
            }))
            .unwrap(),
        )
    }

    fn pdb(spec: serde_json::Value) -> PodDisruptionBudget {
        serde_json::from_value(json!({"metadata": {"name": "b", "generation": 2}, "spec": spec}))
            .unwrap()
    }

    #[test]
    fn percentages_round_up() {
        assert_eq!(scaled(&IntOrString::String("50%".into()), 5, true), Ok(3));
        assert_eq!(scaled(&IntOrString::String("50%".into()), 5, false), Ok(2));
        assert_eq!(scaled(&IntOrString::Int(2), 5, true), Ok(2));
        assert!(scaled(&IntOrString::String("x".into()), 5, true).is_err());
    }

    #[test]
    fn counts_for_each_spec_form() {
        let pods = vec![pod("p1", true), pod("p2", true), pod("p3", false)];
        let seen = Observed { pods, scale: 4 };
        let now_ts = Timestamp::now();
        let (s, _) = compute_status(&pdb(json!({"minAvailable": 1})), &seen, now_ts).unwrap();
        assert_eq!(
            (
                s.expected_pods,
                s.desired_healthy,
                s.current_healthy,
                s.disruptions_allowed
            ),
            (3, 1, 2, 1)
        );
        let c = &s.conditions.as_ref().unwrap()[0];
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("True", "SufficientPods")
        );
        assert_eq!(s.observed_generation, Some(2));
        let (s, _) = compute_status(&pdb(json!({"minAvailable": "75%"})), &seen, now_ts).unwrap();
        assert_eq!(
            (s.expected_pods, s.desired_healthy, s.disruptions_allowed),
            (4, 3, 0)
        );
        let c = &s.conditions.as_ref().unwrap()[0];
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "InsufficientPods")
        );
        let (s, _) = compute_status(&pdb(json!({"maxUnavailable": 1})), &seen, now_ts).unwrap();
        assert_eq!(
            (s.expected_pods, s.desired_healthy, s.disruptions_allowed),
            (4, 3, 0)
        );
        let (s, _) = compute_status(&pdb(json!({"maxUnavailable": "50%"})), &seen, now_ts).unwrap();
        assert_eq!((s.desired_healthy, s.disruptions_allowed), (2, 0));
    }

    #[test]
    fn recent_evictions_are_not_healthy() {
        let now_ts = Timestamp::now();
        let mut b = pdb(json!({"minAvailable": 0}));
        b.status = Some(
            serde_json::from_value(json!({
                "currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0,
                "disruptedPods": {"p1": now().0.to_string(), "p2": "2000-01-01T00:00:00Z"}
            }))
            .unwrap(),
        );
        let seen = Observed {
            pods: vec![pod("p1", true), pod("p2", true)],
            scale: 0,
        };
        let (s, recheck) = compute_status(&b, &seen, now_ts).unwrap();
        assert_eq!(s.current_healthy, 1);
        assert_eq!(s.disrupted_pods.unwrap().len(), 1);
        assert!(recheck.is_some());
    }
}
