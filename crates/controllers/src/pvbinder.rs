//! The PersistentVolume binder (upstream
//! `pkg/controller/volume/persistentvolume`, static binding only).
//!
//! A Pending claim is bound to the smallest Available volume that
//! satisfies it (storage class, volume mode, access modes, capacity, the
//! claim's selector on the volume's labels); a volume pre-bound to the
//! claim through `claimRef`, or named by the claim's `volumeName`, is
//! taken first. Binding is four writes in upstream's order, each carrying
//! the object's `resourceVersion`: the volume's `claimRef`, its phase
//! Bound, the claim's `volumeName` with `pv.kubernetes.io/bind-completed`,
//! its phase Bound with capacity and access modes. A restart between any
//! two finds the half-done binding through `claimRef` and finishes it, and
//! two claims can never both take one volume (the second write conflicts).
//!
//! A volume whose claim is gone becomes Released; `Retain` keeps it so,
//! `Delete` deletes the PersistentVolume object (there is no storage
//! plugin here to delete the underlying asset), `Recycle` is not supported
//! and marks it Failed. A bound claim whose volume disappears becomes Lost.
//! Claims of a `WaitForFirstConsumer` class wait for the scheduler's
//! `volume.kubernetes.io/selected-node` and then only take volumes whose
//! node affinity admits that node. No dynamic provisioning.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use client_support::selectors::node_matches_term;
use client_support::{InformerEvent, WorkQueue};
use k8s_openapi::api::core::v1::{
    Node, ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimStatus,
};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{DeleteParams, PostParams, Preconditions};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use crate::events::{record, EventType};
use crate::util::{is_code, key_of, now, selector_matches};
use crate::worker::run_workers;
use crate::{Context, Error};

/// Claim annotation: the binding is complete.
pub const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// Annotation on either side: this controller made the link.
pub const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// Claim annotation the scheduler sets for delayed binding.
pub const ANN_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
const COMPONENT: &str = "persistentvolume-controller";
const CLAIM: &str = "claim/";
/// How often Pending claims are looked at again (upstream's resync period).
const RESYNC: Duration = Duration::from_secs(15);
const VOLUME: &str = "volume/";

/// The controller: one queue of `claim/<ns>/<name>` and `volume/<name>` keys.
pub struct PvBinderController {
    ctx: Arc<Context>,
    queue: WorkQueue<String>,
}

fn claim_ref_of(pv: &PersistentVolume) -> Option<&ObjectReference> {
    pv.spec.as_ref()?.claim_ref.as_ref()
}

impl PvBinderController {
    /// Subscribes to volumes, claims and storage classes.
    pub fn new(ctx: Arc<Context>) -> Self {
        let queue: WorkQueue<String> = WorkQueue::new();
        let q = queue.clone();
        ctx.pvcs.subscribe(move |ev| {
            let c = match ev {
                InformerEvent::Applied { new, .. } => new,
                InformerEvent::Deleted(c) => c,
            };
            q.add(format!("{CLAIM}{}", key_of(&**c)));
            if let Some(v) = c.spec.as_ref().and_then(|s| s.volume_name.as_ref()) {
                q.add(format!("{VOLUME}{v}"));
            }
        });
        let q = queue.clone();
        ctx.pvs.subscribe(move |ev| {
            let v = match ev {
                InformerEvent::Applied { new, .. } => new,
                InformerEvent::Deleted(v) => v,
            };
            q.add(format!("{VOLUME}{}", v.name_any()));
            if let Some(r) = claim_ref_of(v) {
                q.add(format!(
                    "{CLAIM}{}/{}",
                    r.namespace.as_deref().unwrap_or_default(),
                    r.name.as_deref().unwrap_or_default()
                ));
            }
        });
        ctx.storageclasses.want();
        ctx.nodes.want();
        PvBinderController { ctx, queue }
    }

    /// The work queue (shut down to stop).
    pub fn queue(&self) -> WorkQueue<String> {
        self.queue.clone()
    }

    /// Runs one worker: claims and volumes are synced one at a time, so a
    /// sync never races another over the same volume.
    pub async fn run(self) {
        let ctx = self.ctx.clone();
        // Upstream resyncs every 15 s: a claim that found no volume is
        // retried when one appears through another path (a provisioner, a
        // volume released elsewhere) without its own object changing.
        let resync = {
            let (ctx, queue) = (ctx.clone(), self.queue.clone());
            async move {
                let mut tick = tokio::time::interval(RESYNC);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    for c in ctx.pvcs.store().state() {
                        let pending = c
                            .status
                            .as_ref()
                            .and_then(|s| s.phase.as_deref())
                            .is_none_or(|p| p == "Pending");
                        if pending {
                            queue.add(format!("{CLAIM}{}", key_of(&*c)));
                        }
                    }
                }
            }
        };
        let workers = run_workers(
            "persistentvolume-binder",
            self.queue,
            1,
            ctx.metrics.clone(),
            move |key| {
                let ctx = ctx.clone();
                async move {
                    if let Some(k) = key.strip_prefix(CLAIM) {
                        sync_claim(&ctx, k).await
                    } else if let Some(k) = key.strip_prefix(VOLUME) {
                        sync_volume(&ctx, k).await
                    } else {
                        Ok(None)
                    }
                }
            },
        );
        tokio::select! {
            _ = workers => {}
            _ = resync => {}
        }
    }
}

fn storage_of(
    q: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) -> Option<i128> {
    let q = q?.get("storage")?;
    apimachinery::quantity::Quantity::parse(&q.0)
        .ok()
        .map(|q| q.milli_value())
}

fn claim_class(c: &PersistentVolumeClaim) -> &str {
    c.spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or("")
}

fn volume_class(v: &PersistentVolume) -> &str {
    v.spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or("")
}

/// Upstream `checkVolumeSatisfyClaim`: capacity, class, volume mode and
/// access modes (the selector is checked only for unbound volumes).
pub fn satisfies(v: &PersistentVolume, c: &PersistentVolumeClaim) -> bool {
    let (Some(vs), Some(cs)) = (v.spec.as_ref(), c.spec.as_ref()) else {
        return false;
    };
    let want = storage_of(cs.resources.as_ref().and_then(|r| r.requests.as_ref())).unwrap_or(0);
    let have = storage_of(vs.capacity.as_ref()).unwrap_or(0);
    let mode = |m: Option<&String>| m.map_or("Filesystem", |s| s.as_str()).to_string();
    let vmodes = vs.access_modes.clone().unwrap_or_default();
    have >= want
        && volume_class(v) == claim_class(c)
        && mode(vs.volume_mode.as_ref()) == mode(cs.volume_mode.as_ref())
        && cs.access_modes.iter().flatten().all(|m| vmodes.contains(m))
}

fn points_to(r: &ObjectReference, c: &PersistentVolumeClaim) -> bool {
    r.name.as_deref() == c.metadata.name.as_deref()
        && r.namespace.as_deref() == c.metadata.namespace.as_deref()
        && r.uid
            .as_deref()
            .is_none_or(|u| u.is_empty() || Some(u) == c.metadata.uid.as_deref())
}

fn phase(v: &PersistentVolume) -> &str {
    v.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// Whether a volume's required node affinity admits `node`.
fn admits(v: &PersistentVolume, node: Option<&Node>) -> bool {
    let Some(req) = v
        .spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
    else {
        return true;
    };
    let Some(node) = node else { return false };
    let name = node.name_any();
    req.node_selector_terms
        .iter()
        .any(|t| node_matches_term(t, &name, node.metadata.labels.as_ref()))
}

/// Upstream `findBestMatchForClaim`: a volume pre-bound to the claim, else
/// the smallest Available (or brand-new Pending) one that satisfies it.
pub fn best_match(
    claim: &PersistentVolumeClaim,
    volumes: &[Arc<PersistentVolume>],
    node: Option<Option<&Node>>,
) -> Option<Arc<PersistentVolume>> {
    let admitted = |v: &PersistentVolume| node.is_none_or(|n| admits(v, n));
    if let Some(v) = volumes.iter().find(|v| {
        claim_ref_of(v).is_some_and(|r| points_to(r, claim)) && satisfies(v, claim) && admitted(v)
    }) {
        return Some(v.clone());
    }
    let selector = claim.spec.as_ref().and_then(|s| s.selector.as_ref());
    volumes
        .iter()
        .filter(|v| {
            // Pending: new, not yet marked Available by its own sync.
            matches!(phase(v), "Available" | "Pending")
                && claim_ref_of(v).is_none()
                && v.metadata.deletion_timestamp.is_none()
                && satisfies(v, claim)
                && selector.is_none_or(|s| selector_matches(s, v.metadata.labels.as_ref()))
                && admitted(v)
        })
        .min_by_key(|v| {
            v.spec
                .as_ref()
                .and_then(|s| storage_of(s.capacity.as_ref()))
        })
        .cloned()
}

fn annotate(meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, k: &str) {
    meta.annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(k.into(), "yes".into());
}

async fn set_volume_phase(
    ctx: &Context,
    v: &PersistentVolume,
    phase_: &str,
    message: Option<&str>,
) -> Result<PersistentVolume, Error> {
    let mut v = v.clone();
    let st = v.status.get_or_insert_with(Default::default);
    if st.phase.as_deref() == Some(phase_) && st.message.as_deref() == message {
        return Ok(v);
    }
    st.phase = Some(phase_.into());
    st.message = message.map(Into::into);
    st.last_phase_transition_time = Some(now());
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    api.replace_status(&v.name_any(), &PostParams::default(), &v)
        .await
        .map_err(Error::kube(format!(
            "setting volume {} {phase_}",
            v.name_any()
        )))
}

async fn set_claim_phase(
    ctx: &Context,
    c: &PersistentVolumeClaim,
    status: PersistentVolumeClaimStatus,
) -> Result<(), Error> {
    let old = c.status.clone().unwrap_or_default();
    if old.phase == status.phase
        && old.capacity == status.capacity
        && old.access_modes == status.access_modes
    {
        return Ok(());
    }
    let mut c = c.clone();
    c.status = Some(PersistentVolumeClaimStatus {
        conditions: old.conditions,
        ..status
    });
    let api: Api<PersistentVolumeClaim> =
        Api::namespaced(ctx.client.clone(), &c.namespace().unwrap_or_default());
    match api
        .replace_status(&c.name_any(), &PostParams::default(), &c)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, 404) => Ok(()),
        Err(e) => Err(Error::kube(format!(
            "setting status of claim {}",
            key_of(&c)
        ))(e)),
    }
}

fn pending() -> PersistentVolumeClaimStatus {
    PersistentVolumeClaimStatus {
        phase: Some("Pending".into()),
        ..Default::default()
    }
}

fn lost() -> PersistentVolumeClaimStatus {
    PersistentVolumeClaimStatus {
        phase: Some("Lost".into()),
        ..Default::default()
    }
}

/// Links `v` and `c` (each step skipped when already done).
async fn bind(ctx: &Context, v: &PersistentVolume, c: &PersistentVolumeClaim) -> Result<(), Error> {
    let key = key_of(c);
    let vapi: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let mut v = v.clone();
    let linked = claim_ref_of(&v)
        .is_some_and(|r| points_to(r, c) && r.uid.as_deref() == c.metadata.uid.as_deref());
    if !linked {
        let by_us = claim_ref_of(&v).is_none();
        v.spec.get_or_insert_with(Default::default).claim_ref = Some(ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("PersistentVolumeClaim".into()),
            name: c.metadata.name.clone(),
            namespace: c.metadata.namespace.clone(),
            uid: c.metadata.uid.clone(),
            resource_version: c.metadata.resource_version.clone(),
            field_path: None,
        });
        if by_us {
            annotate(&mut v.metadata, ANN_BOUND_BY_CONTROLLER);
        }
        v = vapi
            .replace(&v.name_any(), &PostParams::default(), &v)
            .await
            .map_err(Error::kube(format!(
                "binding volume {} to {key}",
                v.name_any()
            )))?;
    }
    let v = set_volume_phase(ctx, &v, "Bound", None).await?;
    let mut c = c.clone();
    let completed = c.annotations().contains_key(ANN_BIND_COMPLETED);
    let spec = c.spec.get_or_insert_with(Default::default);
    let named = spec.volume_name.as_deref() == Some(v.name_any().as_str());
    if !named || !completed {
        if !named {
            spec.volume_name = Some(v.name_any());
            annotate(&mut c.metadata, ANN_BOUND_BY_CONTROLLER);
        }
        annotate(&mut c.metadata, ANN_BIND_COMPLETED);
        let capi: Api<PersistentVolumeClaim> =
            Api::namespaced(ctx.client.clone(), &c.namespace().unwrap_or_default());
        c = capi
            .replace(&c.name_any(), &PostParams::default(), &c)
            .await
            .map_err(Error::kube(format!(
                "binding claim {key} to {}",
                v.name_any()
            )))?;
    }
    let vs = v.spec.clone().unwrap_or_default();
    set_claim_phase(
        ctx,
        &c,
        PersistentVolumeClaimStatus {
            phase: Some("Bound".into()),
            access_modes: vs.access_modes,
            capacity: vs.capacity,
            ..Default::default()
        },
    )
    .await?;
    tracing::info!(volume = %v.name_any(), "claim bound");
    Ok(())
}

#[tracing::instrument(skip(ctx), fields(claim = %key))]
async fn sync_claim(ctx: &Context, key: &str) -> Result<Option<Duration>, Error> {
    let (ns, name) = client_support::informer::split_key(key);
    let ns = ns.unwrap_or("default");
    let Some(c) = ctx
        .pvcs
        .store()
        .get(&ObjectRef::<PersistentVolumeClaim>::new(name).within(ns))
    else {
        return Ok(None);
    };
    if c.metadata.deletion_timestamp.is_some() {
        return Ok(None);
    }
    let volumes = ctx.pvs.store().state();
    let named = c
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .filter(|n| !n.is_empty());
    let bound = c.annotations().contains_key(ANN_BIND_COMPLETED);
    if bound {
        let Some(vname) = named else {
            record(
                ctx,
                COMPONENT,
                &*c,
                EventType::Warning,
                "ClaimLost",
                "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!",
            )
            .await;
            return set_claim_phase(ctx, &c, lost()).await.map(|_| None);
        };
        let Some(v) = volumes.iter().find(|v| v.name_any() == vname) else {
            record(
                ctx,
                COMPONENT,
                &*c,
                EventType::Warning,
                "ClaimLost",
                "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
            )
            .await;
            return set_claim_phase(ctx, &c, lost()).await.map(|_| None);
        };
        match claim_ref_of(v) {
            Some(r) if !points_to(r, &c) => {
                record(
                    ctx,
                    COMPONENT,
                    &*c,
                    EventType::Warning,
                    "ClaimMisbound",
                    "Two claims are bound to the same volume, this one is bound incorrectly",
                )
                .await;
                set_claim_phase(ctx, &c, lost()).await?;
            }
            // Unlinked (by a user?) or linked: (re)bind, each step idempotent.
            _ => bind(ctx, v, &c).await?,
        }
        return Ok(None);
    }
    if let Some(vname) = named {
        // The user asked for this volume.
        let Some(v) = volumes.iter().find(|v| v.name_any() == vname) else {
            set_claim_phase(ctx, &c, pending()).await?;
            return Ok(None);
        };
        match claim_ref_of(v) {
            Some(r) if !points_to(r, &c) => {
                record(
                    ctx,
                    COMPONENT,
                    &*c,
                    EventType::Warning,
                    "FailedBinding",
                    "volume is already bound to a different claim",
                )
                .await;
                set_claim_phase(ctx, &c, pending()).await?;
            }
            _ if !satisfies(v, &c) => {
                record(
                    ctx,
                    COMPONENT,
                    &*c,
                    EventType::Warning,
                    "FailedBinding",
                    "Cannot bind to requested volume: it does not satisfy the claim",
                )
                .await;
                set_claim_phase(ctx, &c, pending()).await?;
            }
            _ => bind(ctx, v, &c).await?,
        }
        return Ok(None);
    }
    // Delayed binding waits for the scheduler to pick a node.
    let class = claim_class(&c);
    let delayed = !class.is_empty()
        && ctx
            .storageclasses
            .store()
            .get(&ObjectRef::<StorageClass>::new(class))
            .is_some_and(|sc| sc.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"));
    let node = if delayed {
        let Some(n) = c.annotations().get(ANN_SELECTED_NODE) else {
            record(
                ctx,
                COMPONENT,
                &*c,
                EventType::Normal,
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
            )
            .await;
            set_claim_phase(ctx, &c, pending()).await?;
            return Ok(None);
        };
        Some(ctx.nodes.store().get(&ObjectRef::<Node>::new(n)))
    } else {
        None
    };
    match best_match(&c, &volumes, node.as_ref().map(|n| n.as_deref())) {
        Some(v) => bind(ctx, &v, &c).await?,
        None => {
            let msg = if class.is_empty() {
                "no persistent volumes available for this claim and no storage class is set"
                    .to_string()
            } else {
                format!("storageclass.storage.k8s.io {class:?} not found or has no matching volume")
            };
            if c.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Pending") {
                record(
                    ctx,
                    COMPONENT,
                    &*c,
                    EventType::Normal,
                    "FailedBinding",
                    &msg,
                )
                .await;
            }
            set_claim_phase(ctx, &c, pending()).await?;
        }
    }
    Ok(None)
}

#[tracing::instrument(skip(ctx), fields(volume = %name))]
async fn sync_volume(ctx: &Context, name: &str) -> Result<Option<Duration>, Error> {
    let Some(v) = ctx
        .pvs
        .store()
        .get(&ObjectRef::<PersistentVolume>::new(name))
    else {
        return Ok(None);
    };
    if v.metadata.deletion_timestamp.is_some() {
        return Ok(None);
    }
    let Some(r) = claim_ref_of(&v).cloned() else {
        set_volume_phase(ctx, &v, "Available", None).await?;
        return Ok(None);
    };
    if r.uid.as_deref().is_none_or(str::is_empty) {
        // Pre-bound by a user; the claim's sync completes it.
        set_volume_phase(ctx, &v, "Available", None).await?;
        return Ok(None);
    }
    let claim = ctx.pvcs.store().get(
        &ObjectRef::<PersistentVolumeClaim>::new(r.name.as_deref().unwrap_or_default())
            .within(r.namespace.as_deref().unwrap_or_default()),
    );
    let claim = claim.filter(|c| c.metadata.uid == r.uid);
    let Some(c) = claim else {
        // Is the claim really gone, or is the cache behind?
        let capi: Api<PersistentVolumeClaim> = Api::namespaced(
            ctx.client.clone(),
            r.namespace.as_deref().unwrap_or_default(),
        );
        match capi.get_opt(r.name.as_deref().unwrap_or_default()).await {
            Ok(Some(c)) if c.metadata.uid == r.uid => {
                return Err(Error::Retry(format!(
                    "claim of volume {name} not in cache yet"
                )))
            }
            Ok(_) => {}
            Err(e) => return Err(Error::kube(format!("getting claim of volume {name}"))(e)),
        }
        return reclaim(ctx, &v).await.map(|_| None);
    };
    let cvol = c
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .unwrap_or("");
    if cvol.is_empty() || cvol == name {
        // Bound, or binding in progress (the claim's sync finishes it).
        if cvol == name {
            set_volume_phase(ctx, &v, "Bound", None).await?;
        }
        return Ok(None);
    }
    // The claim went to another volume: undo our half of the link.
    let mut v = (*v).clone();
    let by_us = v.annotations().contains_key(ANN_BOUND_BY_CONTROLLER);
    let spec = v.spec.get_or_insert_with(Default::default);
    if by_us {
        spec.claim_ref = None;
        if let Some(a) = v.metadata.annotations.as_mut() {
            a.remove(ANN_BOUND_BY_CONTROLLER);
        }
    } else if let Some(r) = spec.claim_ref.as_mut() {
        r.uid = None;
        r.resource_version = None;
    }
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let v = api
        .replace(name, &PostParams::default(), &v)
        .await
        .map_err(Error::kube(format!("unbinding volume {name}")))?;
    set_volume_phase(ctx, &v, "Available", None).await?;
    Ok(None)
}

/// The claim is gone: Released, then the reclaim policy.
async fn reclaim(ctx: &Context, v: &PersistentVolume) -> Result<(), Error> {
    let name = v.name_any();
    let policy = v
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
        .unwrap_or("Retain");
    let phase_ = phase(v);
    if phase_ == "Failed" {
        return Ok(());
    }
    let v = if phase_ != "Released" {
        set_volume_phase(ctx, v, "Released", None).await?
    } else {
        v.clone()
    };
    match policy {
        "Delete" => {
            let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: v.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match api.delete(&name, &dp).await {
                Ok(_) => tracing::info!("released volume deleted (reclaim policy Delete)"),
                Err(e) if is_code(&e, 404) || is_code(&e, 409) => {}
                Err(e) => return Err(Error::kube(format!("deleting volume {name}"))(e)),
            }
        }
        "Recycle" => {
            let msg = "Recycle is not supported by this controller manager";
            record(
                ctx,
                COMPONENT,
                &v,
                EventType::Warning,
                "VolumeFailedRecycle",
                msg,
            )
            .await;
            set_volume_phase(ctx, &v, "Failed", Some(msg)).await?;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pv(name: &str, size: &str, extra: serde_json::Value) -> Arc<PersistentVolume> {
        let mut v = json!({
            "metadata": {"name": name, "labels": {"tier": "fast"}},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                     "hostPath": {"path": "/tmp"}},
            "status": {"phase": "Available"}
        });
        if let Some(o) = extra.as_object() {
            for (k, val) in o {
                v["spec"][k] = val.clone();
            }
        }
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn pvc(spec: serde_json::Value) -> PersistentVolumeClaim {
        let mut s = json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}});
        for (k, v) in spec.as_object().unwrap() {
            s[k] = v.clone();
        }
        serde_json::from_value(
            json!({"metadata": {"name": "c", "namespace": "ns", "uid": "u1"}, "spec": s}),
        )
        .unwrap()
    }

    #[test]
    fn smallest_satisfying_volume_wins() {
        let vols = vec![
            pv("big", "10Gi", json!({})),
            pv("small", "1Gi", json!({})),
            pv("tiny", "500Mi", json!({})),
            pv("rwx", "1Gi", json!({"accessModes": ["ReadWriteMany"]})),
            pv("classy", "1Gi", json!({"storageClassName": "gold"})),
            pv("block", "1Gi", json!({"volumeMode": "Block"})),
        ];
        let c = pvc(json!({}));
        assert_eq!(best_match(&c, &vols, None).unwrap().name_any(), "small");
        let gold = pvc(json!({"storageClassName": "gold"}));
        assert_eq!(best_match(&gold, &vols, None).unwrap().name_any(), "classy");
        let block = pvc(json!({"volumeMode": "Block"}));
        assert_eq!(best_match(&block, &vols, None).unwrap().name_any(), "block");
        let sel = pvc(json!({"selector": {"matchLabels": {"tier": "slow"}}}));
        assert!(best_match(&sel, &vols, None).is_none());
        let huge = pvc(json!({"resources": {"requests": {"storage": "20Gi"}}}));
        assert!(best_match(&huge, &vols, None).is_none());
    }

    #[test]
    fn prebound_volume_first_and_others_claims_skipped() {
        let mine = pv(
            "mine",
            "5Gi",
            json!({"claimRef": {"name": "c", "namespace": "ns"}}),
        );
        let theirs = pv(
            "theirs",
            "1Gi",
            json!({"claimRef": {"name": "x", "namespace": "ns", "uid": "u9"}}),
        );
        let vols = vec![theirs, pv("free", "1Gi", json!({})), mine];
        assert_eq!(
            best_match(&pvc(json!({})), &vols, None).unwrap().name_any(),
            "mine"
        );
    }
}
