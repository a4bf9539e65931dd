//! Helpers shared by the controllers: pod state, selectors, owner
//! references, expectations (upstream `controller_utils.go`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ObjectMeta, OwnerReference, Time,
};
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use tokio::time::Instant;

/// Now, as a Kubernetes `Time`.
pub fn now() -> Time {
    // Seconds precision, as upstream's metav1.Time serialises.
    let t = Timestamp::now();
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

pub use client_support::selectors::label_selector_matches as selector_matches;

/// Whether a selector has no requirements (upstream refuses to act on those).
pub fn selector_is_empty(sel: &LabelSelector) -> bool {
    sel.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
        && sel.match_expressions.as_ref().is_none_or(Vec::is_empty)
}

/// The controlling owner reference, if any.
pub fn controller_ref(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// A controller reference to `owner` (`controller` and `blockOwnerDeletion` set).
pub fn owner_ref<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).to_string(),
        kind: K::kind(&()).to_string(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// `namespace/name` of an object.
pub fn key_of<K: Resource>(o: &K) -> String {
    client_support::informer::key_of(o)
}

/// Whether the object has a deletion timestamp.
pub fn is_deleting(meta: &ObjectMeta) -> bool {
    meta.deletion_timestamp.is_some()
}

/// Not finished and not being deleted (upstream `IsPodActive`).
pub fn is_pod_active(p: &Pod) -> bool {
    let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
    !matches!(phase, Some("Succeeded") | Some("Failed")) && p.metadata.deletion_timestamp.is_none()
}

/// The `Ready` condition's status and last transition time.
fn ready_condition(p: &Pod) -> Option<(bool, Option<Timestamp>)> {
    p.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Ready")
        .map(|c| {
            (
                c.status == "True",
                c.last_transition_time.as_ref().map(|t| t.0),
            )
        })
}

/// Whether the pod's `Ready` condition is true.
pub fn is_pod_ready(p: &Pod) -> bool {
    ready_condition(p).is_some_and(|(r, _)| r)
}

/// Ready for at least `min_ready_seconds` (upstream `IsPodAvailable`).
pub fn is_pod_available(p: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match ready_condition(p) {
        Some((true, t)) => {
            if min_ready_seconds <= 0 {
                return true;
            }
            match t {
                Some(t) => t.as_second() + i64::from(min_ready_seconds) <= now.as_second(),
                None => false,
            }
        }
        _ => false,
    }
}

/// A pod for `template`, named `<prefix>-<random>` by the apiserver's
/// `generateName`, controlled by `owner` (upstream `GetPodFromTemplate`).
pub fn pod_from_template(template: &PodTemplateSpec, prefix: &str, owner: OwnerReference) -> Pod {
    let tm = template.metadata.clone().unwrap_or_default();
    let mut gen = format!("{prefix}-");
    if gen.len() > 58 {
        // generateName is cut so the 5 random characters fit in 63.
        gen.truncate(58);
    }
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(gen),
            labels: tm.labels,
            annotations: tm.annotations,
            finalizers: tm.finalizers,
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

#[derive(Debug)]
struct Expectation {
    add: i64,
    del: HashSet<String>,
    at: Instant,
}

/// Creations and deletions a controller has asked for but not yet seen in
/// its informer (upstream `UIDTrackingControllerExpectations`): while any
/// are pending, the controller does not create or delete more, so a burst
/// never over-creates from a stale cache. Expire after five minutes.
#[derive(Debug, Default)]
pub struct Expectations {
    inner: Mutex<HashMap<String, Expectation>>,
}

const EXPECTATIONS_TTL: Duration = Duration::from_secs(300);

impl Expectations {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Expectation>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `key` may act: nothing pending, or the record expired.
    pub fn satisfied(&self, key: &str) -> bool {
        match self.lock().get(key) {
            None => true,
            Some(e) => (e.add <= 0 && e.del.is_empty()) || e.at.elapsed() > EXPECTATIONS_TTL,
        }
    }

    /// Expects `n` creations.
    pub fn expect_creations(&self, key: &str, n: usize) {
        self.lock().insert(
            key.to_string(),
            Expectation {
                add: n as i64,
                del: HashSet::new(),
                at: Instant::now(),
            },
        );
    }

    /// Expects the deletion of these pods (`namespace/name`).
    pub fn expect_deletions(&self, key: &str, pods: Vec<String>) {
        self.lock().insert(
            key.to_string(),
            Expectation {
                add: 0,
                del: pods.into_iter().collect(),
                at: Instant::now(),
            },
        );
    }

    /// One creation seen (or one that will never happen).
    pub fn creation_observed(&self, key: &str) {
        if let Some(e) = self.lock().get_mut(key) {
            e.add -= 1;
        }
    }

    /// One pod's deletion seen (or it will never happen).
    pub fn deletion_observed(&self, key: &str, pod: &str) {
        if let Some(e) = self.lock().get_mut(key) {
            e.del.remove(pod);
        }
    }

    /// Forgets `key` (its owner is gone).
    pub fn delete(&self, key: &str) {
        self.lock().remove(key);
    }
}

/// Runs `n` calls of `f` in batches of 1, 2, 4, ... (upstream
/// `slowStartBatch`), stopping at the first batch with an error; returns
/// how many succeeded and the first error.
pub async fn slow_start_batch<F, Fut, E>(n: usize, initial: usize, f: F) -> (usize, Option<E>)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
{
    let mut remaining = n;
    let mut successes = 0;
    let mut batch = initial.min(remaining).max(1);
    while remaining > 0 && batch > 0 {
        let results = futures::future::join_all((0..batch).map(|_| f())).await;
        let mut first_err = None;
        for r in results {
            match r {
                Ok(()) => successes += 1,
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(e);
                    }
                }
            }
        }
        if first_err.is_some() {
            return (successes, first_err);
        }
        remaining -= batch;
        batch = (2 * batch).min(remaining);
    }
    (successes, None)
}

/// Whether an apiserver error is this HTTP code.
pub fn is_code(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

/// Deletes a pod by name, conditioned on its uid so a same-named successor
/// is never hit; a pod already gone (404) or replaced (409) is fine.
pub async fn delete_pod(ctx: &crate::Context, p: &Pod) -> Result<(), crate::Error> {
    use kube::api::{DeleteParams, Preconditions};
    use kube::{Api, ResourceExt};
    let ns = p.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: p.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&p.name_any(), &dp).await {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, 404) || is_code(&e, 409) => Ok(()),
        Err(e) => Err(crate::Error::kube(format!(
            "deleting pod {ns}/{}",
            p.name_any()
        ))(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    #[test]
    fn selectors() {
        let mut l = BTreeMap::new();
        l.insert("app".to_string(), "web".to_string());
        l.insert("tier".to_string(), "fe".to_string());
        let sel = LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["fe".into(), "be".into()]),
            }]),
        };
        assert!(selector_matches(&sel, Some(&l)));
        l.insert("tier".into(), "db".into());
        assert!(!selector_matches(&sel, Some(&l)));
        assert!(selector_matches(&LabelSelector::default(), None));
        assert!(selector_is_empty(&LabelSelector::default()));
    }

    #[tokio::test]
    async fn slow_start_batches_double() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = AtomicUsize::new(0);
        let (ok, err) = slow_start_batch(10, 1, || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Ok::<(), ()>(()) }
        })
        .await;
        assert_eq!((ok, err), (10, None));
        // Batches 1, 2, 4, 3.
        let calls = AtomicUsize::new(0);
        let (ok, err) = slow_start_batch(10, 1, || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n >= 4 {
                    Err("quota")
                } else {
                    Ok(())
                }
            }
        })
        .await;
        // 1 + 2 succeed, the batch of 4 has one success and fails.
        assert_eq!((ok, err), (4, Some("quota")));
    }

    #[test]
    fn expectations() {
        let e = Expectations::default();
        assert!(e.satisfied("a"));
        e.expect_creations("a", 2);
        assert!(!e.satisfied("a"));
        e.creation_observed("a");
        e.creation_observed("a");
        assert!(e.satisfied("a"));
        e.expect_deletions("a", vec!["ns/p".into()]);
        assert!(!e.satisfied("a"));
        e.deletion_observed("a", "ns/p");
        assert!(e.satisfied("a"));
    }
}
