//! VolumeBinding (upstream `volumebinding` plugin with its
//! `SchedulerVolumeBinder`): a pod's PersistentVolumeClaims decide which
//! nodes can run it.
//!
//! * PreFilter: every claim must exist and not be going away; an unbound
//!   claim of an `Immediate` class is left to the PV controller, so the pod
//!   waits (`pod has unbound immediate PersistentVolumeClaims`).
//! * Filter: a bound claim's volume must admit the node (`nodeAffinity`);
//!   an unbound claim of a `WaitForFirstConsumer` class needs a free volume
//!   that fits it and admits the node, or a class that provisions
//!   dynamically (any provisioner but `kubernetes.io/no-provisioner`).
//! * Reserve: the chosen volumes are assumed in the cache.
//! * PreBind: each chosen volume gets its `claimRef`, each claim the
//!   `volume.kubernetes.io/selected-node` annotation (what the PV
//!   controller here needs to complete any delayed binding); then the pod
//!   waits, bounded by `bindTimeoutSeconds`, until every claim is bound to
//!   a volume that admits the node. Only then is the pod bound.
//!
//! Where upstream lists claims that already carry `selected-node` as
//! provisioning-only, this plugin first looks for a matching (pre-bound)
//! volume, because it sets the annotation on static bindings too.

use std::any::Any;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use super::{node_matches_term, Failure, Plugin, Reservation, State};
use crate::cache::{Cache, Snapshot};
use crate::nodeinfo::{NodeInfo, PodInfo};
use crate::volumes::{
    claim_class, claim_name, claim_request, fully_bound, object_key, storage_milli, volume_class,
    Volumes, ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE, NO_PROVISIONER,
};

/// No free volume fits an unbound claim on the node (upstream `ErrReasonBindConflict`).
pub const ERR_BIND_CONFLICT: &str = "node(s) didn't find available persistent volumes to bind";
/// A bound claim's volume does not admit the node (`ErrReasonNodeConflict`).
pub const ERR_NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
/// A bound claim's volume is gone (`ErrReasonPVNotExist`).
pub const ERR_PV_NOT_EXIST: &str =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
/// PreFilter rejection while an Immediate claim waits for the PV controller.
pub const ERR_UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";

/// Upstream's default `bindTimeoutSeconds`.
pub const DEFAULT_BIND_TIMEOUT: Duration = Duration::from_secs(600);
/// How often PreBind checks the claims (upstream: every second).
const POLL: Duration = Duration::from_secs(1);

/// See the module documentation.
pub struct VolumeBinding {
    /// How long PreBind waits for the claims to be bound.
    pub bind_timeout: Duration,
}

impl Default for VolumeBinding {
    fn default() -> Self {
        VolumeBinding {
            bind_timeout: DEFAULT_BIND_TIMEOUT,
        }
    }
}

/// A pod's claims by kind (upstream `PodVolumeClaims`).
#[derive(Debug, Default)]
struct PodClaims {
    bound: Vec<Arc<PersistentVolumeClaim>>,
    /// Unbound claims of `WaitForFirstConsumer` classes.
    delayed: Vec<Arc<PersistentVolumeClaim>>,
}

/// What one node offers the pod's unbound claims (upstream `PodVolumes`).
#[derive(Clone, Debug, Default)]
pub struct PodVolumes {
    /// Claim and the existing volume it gets.
    pub static_bindings: Vec<(Arc<PersistentVolumeClaim>, Arc<PersistentVolume>)>,
    /// Claims a provisioner has to create a volume for.
    pub provisions: Vec<Arc<PersistentVolumeClaim>>,
}

fn not_found(name: &str) -> Failure {
    Failure::unresolvable(format!("persistentvolumeclaim {name:?} not found"))
}

fn volume_name(c: &PersistentVolumeClaim) -> &str {
    c.spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .unwrap_or("")
}

fn selected_node(c: &PersistentVolumeClaim) -> Option<&str> {
    c.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANN_SELECTED_NODE))
        .map(String::as_str)
}

/// Upstream `IsDelayBindingMode`: a class named, found, and `WaitForFirstConsumer`.
fn delay_binding(c: &PersistentVolumeClaim, vols: &Volumes) -> Result<bool, Failure> {
    let class = claim_class(c);
    if class.is_empty() {
        return Ok(false);
    }
    let Some(sc) = vols.classes.get(class) else {
        return Ok(false);
    };
    match sc.volume_binding_mode.as_deref() {
        Some(m) => Ok(m == "WaitForFirstConsumer"),
        None => Err(Failure::unresolvable(format!(
            "VolumeBindingMode not set for StorageClass {class:?}"
        ))),
    }
}

/// Upstream `ephemeral.VolumeIsForPod`: the claim must be controlled by the pod.
pub(super) fn owned_by(pod: &Pod, c: &PersistentVolumeClaim) -> bool {
    c.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && Some(&o.uid) == pod.metadata.uid.as_ref())
}

/// Upstream `podHasPVCs` + `GetPodVolumeClaims`; `None` when the pod uses
/// no claim.
fn pod_claims(pod: &Pod, vols: &Volumes) -> Result<Option<PodClaims>, Failure> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("");
    let mut out = PodClaims::default();
    let mut any = false;
    let mut immediate = false;
    for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let Some((name, ephemeral)) = claim_name(pod, v) else {
            continue;
        };
        any = true;
        let Some(c) = vols.pvc(ns, &name) else {
            if ephemeral {
                return Err(Failure::unresolvable(format!(
                    "waiting for ephemeral volume controller to create the persistentvolumeclaim {name:?}"
                )));
            }
            return Err(not_found(&name));
        };
        if c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Lost") {
            return Err(Failure::unresolvable(format!(
                "persistentvolumeclaim {name:?} bound to non-existent persistentvolume {:?}",
                volume_name(c)
            )));
        }
        if c.metadata.deletion_timestamp.is_some() {
            return Err(Failure::unresolvable(format!(
                "persistentvolumeclaim {name:?} is being deleted"
            )));
        }
        if ephemeral && !owned_by(pod, c) {
            return Err(Failure::unresolvable(format!(
                "PVC {ns}/{name} was not created for pod {ns}/{} (pod is not owner)",
                pod.metadata.name.as_deref().unwrap_or("")
            )));
        }
        if fully_bound(c) {
            out.bound.push(c.clone());
        } else if delay_binding(c, vols)? && volume_name(c).is_empty() {
            out.delayed.push(c.clone());
        } else {
            // Immediate, or pre-bound to a volume by name: the PV
            // controller binds it first.
            immediate = true;
        }
    }
    if !any {
        return Ok(None);
    }
    if immediate {
        return Err(Failure::unresolvable(ERR_UNBOUND_IMMEDIATE));
    }
    Ok(Some(out))
}

/// Whether a volume's required node affinity admits the node
/// (upstream `CheckNodeAffinity`).
pub fn admits(v: &PersistentVolume, node: &str, labels: Option<&BTreeMap<String, String>>) -> bool {
    match v
        .spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
    {
        None => true,
        Some(req) => req
            .node_selector_terms
            .iter()
            .any(|t| node_matches_term(t, node, labels)),
    }
}

fn bound_to(v: &PersistentVolume, c: &PersistentVolumeClaim) -> bool {
    v.spec
        .as_ref()
        .and_then(|s| s.claim_ref.as_ref())
        .is_some_and(|r| {
            r.name == c.metadata.name
                && r.namespace == c.metadata.namespace
                && r.uid
                    .as_deref()
                    .is_none_or(|u| u.is_empty() || Some(u) == c.metadata.uid.as_deref())
        })
}

/// Upstream `FindMatchingVolume` on the scheduler path: the volume
/// pre-bound to the claim if it admits the node, else the smallest free
/// one of the claim's class that fits it (capacity, volume mode, access
/// modes, selector, node affinity). Free means `Available`, or `Pending`
/// and unclaimed, as the PV controller here accepts.
fn find_matching_volume(
    claim: &PersistentVolumeClaim,
    vols: &Volumes,
    node: &NodeInfo,
    excluded: &HashSet<String>,
) -> Option<Arc<PersistentVolume>> {
    let class = claim_class(claim);
    let want = claim_request(claim);
    let cs = claim.spec.as_ref()?;
    let mode = |m: Option<&String>| m.map_or("Filesystem", |s| s.as_str()).to_string();
    let selector = cs.selector.as_ref();
    let mut best: Option<(i128, &Arc<PersistentVolume>)> = None;
    for v in vols.pvs.values() {
        let name = v.metadata.name.as_deref().unwrap_or("");
        let Some(vs) = v.spec.as_ref() else { continue };
        if volume_class(v) != class || excluded.contains(name) {
            continue;
        }
        let prebound = bound_to(v, claim);
        if vs.claim_ref.is_some() && !prebound {
            continue;
        }
        let have = storage_milli(vs.capacity.as_ref());
        if have < want
            || mode(vs.volume_mode.as_ref()) != mode(cs.volume_mode.as_ref())
            || v.metadata.deletion_timestamp.is_some()
        {
            continue;
        }
        let fits_node = admits(v, &node.name, node.labels());
        if prebound {
            return fits_node.then(|| v.clone());
        }
        let phase = v
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or("Pending");
        if !matches!(phase, "Available" | "Pending")
            || !selector.is_none_or(|s| {
                client_support::selectors::label_selector_matches(s, v.metadata.labels.as_ref())
            })
            || !fits_node
        {
            continue;
        }
        let modes = vs.access_modes.as_deref().unwrap_or(&[]);
        if !cs.access_modes.iter().flatten().all(|m| modes.contains(m)) {
            continue;
        }
        if best.is_none_or(|(q, _)| have < q) {
            best = Some((have, v));
        }
    }
    best.map(|(_, v)| v.clone())
}

/// Upstream `MatchTopologySelectorTerms`: no terms match everything.
fn topology_allows(sc: &StorageClass, labels: Option<&BTreeMap<String, String>>) -> bool {
    let terms = sc.allowed_topologies.as_deref().unwrap_or(&[]);
    terms.is_empty()
        || terms.iter().any(|t| {
            t.match_label_expressions.iter().flatten().all(|e| {
                labels
                    .and_then(|l| l.get(&e.key))
                    .is_some_and(|v| e.values.contains(v))
            })
        })
}

/// Upstream `FindPodVolumes` for one node.
fn find_pod_volumes(
    claims: &PodClaims,
    node: &NodeInfo,
    vols: &Volumes,
) -> Result<PodVolumes, Failure> {
    for c in &claims.bound {
        let Some(v) = vols.pvs.get(volume_name(c)) else {
            return Err(Failure::unresolvable(ERR_PV_NOT_EXIST));
        };
        if !admits(v, &node.name, node.labels()) {
            return Err(Failure::unresolvable(ERR_NODE_CONFLICT));
        }
    }
    let mut out = PodVolumes::default();
    if claims.delayed.is_empty() {
        return Ok(out);
    }
    if claims
        .delayed
        .iter()
        .any(|c| selected_node(c).is_some_and(|n| n != node.name))
    {
        return Err(Failure::unresolvable(ERR_BIND_CONFLICT));
    }
    let mut to_match: Vec<&Arc<PersistentVolumeClaim>> = claims.delayed.iter().collect();
    to_match.sort_by_key(|c| claim_request(c));
    let mut chosen = HashSet::new();
    for c in to_match {
        match find_matching_volume(c, vols, node, &chosen) {
            Some(v) => {
                chosen.insert(v.metadata.name.clone().unwrap_or_default());
                out.static_bindings.push((c.clone(), v));
            }
            None => {
                let sc = vols.classes.get(claim_class(c));
                let provisions = sc.is_some_and(|sc| {
                    !sc.provisioner.is_empty()
                        && sc.provisioner != NO_PROVISIONER
                        && topology_allows(sc, node.labels())
                });
                if !provisions {
                    return Err(Failure::unresolvable(ERR_BIND_CONFLICT));
                }
                out.provisions.push(c.clone());
            }
        }
    }
    Ok(out)
}

/// PreFilter's result: the claims and the volume view they came from.
struct VbState {
    claims: PodClaims,
    vols: Volumes,
}

impl Plugin for VolumeBinding {
    fn name(&self) -> &'static str {
        "VolumeBinding"
    }

    fn pre_filter(&self, pod: &PodInfo, snap: &Snapshot) -> Result<State, Failure> {
        Ok(pod_claims(&pod.pod, &snap.volumes)?.map(|claims| {
            Arc::new(VbState {
                claims,
                vols: snap.volumes.clone(),
            }) as Arc<dyn Any + Send + Sync>
        }))
    }

    fn filter_with(
        &self,
        _pod: &PodInfo,
        node: &NodeInfo,
        state: Option<&(dyn Any + Send + Sync)>,
    ) -> Result<(), Failure> {
        match state.and_then(|s| s.downcast_ref::<VbState>()) {
            Some(st) => find_pod_volumes(&st.claims, node, &st.vols).map(|_| ()),
            None => Ok(()),
        }
    }

    fn reserve(
        &self,
        pod: &PodInfo,
        node: &NodeInfo,
        snap: &Snapshot,
    ) -> Result<Option<Arc<dyn Reservation>>, Failure> {
        let Some(claims) = pod_claims(&pod.pod, &snap.volumes)? else {
            return Ok(None);
        };
        let found = find_pod_volumes(&claims, node, &snap.volumes)?;
        if found.static_bindings.is_empty() && found.provisions.is_empty() {
            return Ok(None);
        }
        Ok(Some(Arc::new(VolumeReservation::new(
            &found,
            node,
            self.bind_timeout,
        ))))
    }
}

/// Upstream `GetBindVolumeToClaim`: the volume with its `claimRef` set to
/// the claim, and whether anything changed.
fn bind_volume_to_claim(
    v: &PersistentVolume,
    c: &PersistentVolumeClaim,
) -> (PersistentVolume, bool) {
    let mut out = v.clone();
    let mut dirty = false;
    let already = bound_to(v, c);
    let exact = v
        .spec
        .as_ref()
        .and_then(|s| s.claim_ref.as_ref())
        .is_some_and(|r| already && r.uid == c.metadata.uid);
    if !exact {
        out.spec.get_or_insert_with(Default::default).claim_ref = Some(ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("PersistentVolumeClaim".into()),
            name: c.metadata.name.clone(),
            namespace: c.metadata.namespace.clone(),
            uid: c.metadata.uid.clone(),
            resource_version: c.metadata.resource_version.clone(),
            field_path: None,
        });
        dirty = true;
    }
    let ann = out.metadata.annotations.get_or_insert_with(BTreeMap::new);
    if !already && !ann.contains_key(ANN_BOUND_BY_CONTROLLER) {
        ann.insert(ANN_BOUND_BY_CONTROLLER.into(), "yes".into());
        dirty = true;
    }
    (out, dirty)
}

/// What Reserve set aside for one pod on one node.
struct VolumeReservation {
    node: String,
    node_labels: Option<BTreeMap<String, String>>,
    /// Volumes to write (with `claimRef`), and whether they need the write.
    volumes: Vec<(Arc<PersistentVolume>, bool)>,
    /// Claims with the selected-node annotation.
    claims: Vec<Arc<PersistentVolumeClaim>>,
    timeout: Duration,
}

impl VolumeReservation {
    fn new(found: &PodVolumes, node: &NodeInfo, timeout: Duration) -> VolumeReservation {
        let annotate = |c: &PersistentVolumeClaim| {
            let mut c = c.clone();
            c.metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(ANN_SELECTED_NODE.into(), node.name.clone());
            Arc::new(c)
        };
        VolumeReservation {
            node: node.name.clone(),
            node_labels: node.labels().cloned(),
            volumes: found
                .static_bindings
                .iter()
                .map(|(c, v)| {
                    let (v, dirty) = bind_volume_to_claim(v, c);
                    (Arc::new(v), dirty)
                })
                .collect(),
            claims: found
                .static_bindings
                .iter()
                .map(|(c, _)| c)
                .chain(&found.provisions)
                .map(|c| annotate(c))
                .collect(),
            timeout,
        }
    }

    /// Upstream `checkBindings`: `true` once every claim is bound to a
    /// volume that admits the node.
    async fn check(&self, client: &kube::Client) -> Result<bool, PreBindError> {
        let pvs: Api<PersistentVolume> = Api::all(client.clone());
        for c in &self.claims {
            let key = object_key(&**c);
            let ns = c.metadata.namespace.as_deref().unwrap_or("");
            let name = c.metadata.name.as_deref().unwrap_or("");
            let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
            let cur = api
                .get_opt(name)
                .await
                .map_err(|source| PreBindError::Api {
                    context: format!("getting PersistentVolumeClaim {key}"),
                    source,
                })?
                .ok_or_else(|| PreBindError::ClaimGone(key.clone()))?;
            if !fully_bound(&cur) {
                if selected_node(&cur) != Some(self.node.as_str()) {
                    return Err(PreBindError::SelectedNodeReset(key));
                }
                return Ok(false);
            }
            let vname = volume_name(&cur);
            let Some(v) = pvs
                .get_opt(vname)
                .await
                .map_err(|source| PreBindError::Api {
                    context: format!("getting PersistentVolume {vname}"),
                    source,
                })?
            else {
                return Ok(false);
            };
            if !admits(&v, &self.node, self.node_labels.as_ref()) {
                return Err(PreBindError::NodeAffinity {
                    volume: vname.to_string(),
                    node: self.node.clone(),
                });
            }
        }
        Ok(true)
    }

    /// Upstream `bindAPIUpdate`: volumes first, then claims.
    async fn write(&self, client: &kube::Client) -> Result<(), PreBindError> {
        let pvs: Api<PersistentVolume> = Api::all(client.clone());
        for (v, dirty) in &self.volumes {
            if !dirty {
                continue;
            }
            let name = v.metadata.name.as_deref().unwrap_or("");
            pvs.replace(name, &PostParams::default(), v)
                .await
                .map_err(|source| PreBindError::Api {
                    context: format!("binding PersistentVolume {name}"),
                    source,
                })?;
        }
        for c in &self.claims {
            let ns = c.metadata.namespace.as_deref().unwrap_or("");
            let name = c.metadata.name.as_deref().unwrap_or("");
            let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
            let patch = json!({"metadata": {"annotations": {ANN_SELECTED_NODE: self.node}}});
            api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
                .await
                .map_err(|source| PreBindError::Api {
                    context: format!("annotating PersistentVolumeClaim {ns}/{name}"),
                    source,
                })?;
        }
        Ok(())
    }
}

impl Reservation for VolumeReservation {
    fn plugin(&self) -> &'static str {
        "VolumeBinding"
    }

    fn assume(&self, cache: &mut Cache) {
        let store = cache.volumes_mut();
        for (v, dirty) in &self.volumes {
            if *dirty {
                store.assume_pv(v.clone());
            }
        }
        for c in &self.claims {
            store.assume_pvc(c.clone());
        }
    }

    fn unreserve(&self, cache: &mut Cache) {
        let store = cache.volumes_mut();
        for (v, dirty) in &self.volumes {
            if *dirty {
                store.restore_pv(v.metadata.name.as_deref().unwrap_or(""));
            }
        }
        for c in &self.claims {
            store.restore_pvc(&object_key(&**c));
        }
    }

    fn pre_bind(
        self: Arc<Self>,
        client: kube::Client,
    ) -> BoxFuture<'static, Result<(), PreBindError>> {
        Box::pin(async move {
            self.write(&client).await?;
            let deadline = tokio::time::Instant::now() + self.timeout;
            loop {
                tokio::time::sleep(POLL.min(self.timeout)).await;
                if self.check(&client).await? {
                    return Ok(());
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(PreBindError::Timeout);
                }
            }
        })
    }
}

/// Why PreBind failed (the pod is not bound and goes back to the queue).
#[derive(Debug, thiserror::Error)]
pub enum PreBindError {
    /// An API read or write failed.
    #[error("{context}: {source}")]
    Api {
        context: String,
        #[source]
        source: kube::Error,
    },
    /// The claims were not bound within `bindTimeoutSeconds`.
    #[error("binding volumes: context deadline exceeded")]
    Timeout,
    /// A claim was deleted while waiting.
    #[error("binding volumes: persistentvolumeclaim {0:?} not found")]
    ClaimGone(String),
    /// Someone removed or changed the claim's selected node (a provisioner
    /// giving up, say): schedule again.
    #[error("binding volumes: selectedNode annotation reset for PVC {0:?}")]
    SelectedNodeReset(String),
    /// The claim got bound to a volume the node cannot use.
    #[error("binding volumes: pv {volume:?} node affinity doesn't match node {node:?}")]
    NodeAffinity { volume: String, node: String },
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::Code;
    use super::*;
    use serde_json::{json, Value};

    fn pvc(name: &str, class: &str, extra: Value) -> Arc<PersistentVolumeClaim> {
        let mut v = json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": class,
                     "resources": {"requests": {"storage": "1Gi"}}}
        });
        merge(&mut v, extra);
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn local_pv(name: &str, node: &str, size: &str, extra: Value) -> Arc<PersistentVolume> {
        let mut v = json!({
            "metadata": {"name": name, "resourceVersion": "1"},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                     "storageClassName": "local", "local": {"path": "/mnt"},
                     "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}},
            "status": {"phase": "Available"}
        });
        merge(&mut v, extra);
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn class(name: &str, mode: &str, provisioner: &str) -> Arc<StorageClass> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name},
                "provisioner": provisioner, "volumeBindingMode": mode}))
            .unwrap(),
        )
    }

    fn host(name: &str) -> NodeInfo {
        node(
            name,
            json!({"metadata": {"labels": {"kubernetes.io/hostname": name}}}),
        )
    }

    fn snap(pvcs: Vec<Arc<PersistentVolumeClaim>>, pvs: Vec<Arc<PersistentVolume>>) -> Snapshot {
        let mut s = Snapshot::default();
        s.volumes.pvcs = Arc::new(pvcs.into_iter().map(|c| (object_key(&*c), c)).collect());
        s.volumes.pvs = Arc::new(
            pvs.into_iter()
                .map(|v| (v.metadata.name.clone().unwrap(), v))
                .collect(),
        );
        s.volumes.classes = Arc::new(
            [
                class("local", "WaitForFirstConsumer", NO_PROVISIONER),
                class("fast", "Immediate", "example.com/csi"),
                class("dyn", "WaitForFirstConsumer", "example.com/csi"),
            ]
            .into_iter()
            .map(|c| (c.metadata.name.clone().unwrap(), c))
            .collect(),
        );
        s
    }

    fn with_claim(claim: &str) -> PodInfo {
        pod(
            "p",
            json!({"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]}),
        )
    }

    /// PreFilter then Filter on each node: Ok or the reasons.
    fn run(
        p: &PodInfo,
        s: &Snapshot,
        nodes: &[NodeInfo],
    ) -> Result<Vec<Result<(), Vec<String>>>, Failure> {
        let vb = VolumeBinding::default();
        let st = vb.pre_filter(p, s)?;
        Ok(nodes
            .iter()
            .map(|n| {
                vb.filter_with(p, n, st.as_deref()).map_err(|f| {
                    assert_eq!(f.code, Code::UnschedulableAndUnresolvable);
                    f.reasons
                })
            })
            .collect())
    }

    #[test]
    fn pods_without_claims_are_skipped() {
        let s = snap(vec![], vec![]);
        let vb = VolumeBinding::default();
        assert!(vb.pre_filter(&pod("p", json!({})), &s).unwrap().is_none());
    }

    #[test]
    fn missing_deleted_and_immediate_claims_fail_prefilter() {
        let s = snap(
            vec![
                pvc(
                    "gone",
                    "local",
                    json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}}),
                ),
                pvc("imm", "fast", json!({})),
                pvc("noclass", "", json!({})),
            ],
            vec![],
        );
        let e = run(&with_claim("x"), &s, &[]).unwrap_err();
        assert_eq!(e.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(e.reasons, vec![r#"persistentvolumeclaim "x" not found"#]);
        let e = run(&with_claim("gone"), &s, &[]).unwrap_err();
        assert_eq!(
            e.reasons,
            vec![r#"persistentvolumeclaim "gone" is being deleted"#]
        );
        let e = run(&with_claim("imm"), &s, &[]).unwrap_err();
        assert_eq!(e.reasons, vec![ERR_UNBOUND_IMMEDIATE]);
        let e = run(&with_claim("noclass"), &s, &[]).unwrap_err();
        assert_eq!(e.reasons, vec![ERR_UNBOUND_IMMEDIATE]);
        let eph = pod(
            "p",
            json!({"volumes": [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]}),
        );
        let e = run(&eph, &s, &[]).unwrap_err();
        assert_eq!(
            e.reasons,
            vec![
                r#"waiting for ephemeral volume controller to create the persistentvolumeclaim "p-scratch""#
            ]
        );
    }

    #[test]
    fn bound_claims_follow_their_volume_affinity() {
        let bound = pvc(
            "b",
            "local",
            json!({"metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
                   "spec": {"volumeName": "pv-a"}}),
        );
        let lost = pvc(
            "l",
            "local",
            json!({"metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
                   "spec": {"volumeName": "pv-gone"}}),
        );
        let s = snap(
            vec![bound, lost],
            vec![local_pv("pv-a", "a", "1Gi", json!({}))],
        );
        let r = run(&with_claim("b"), &s, &[host("a"), host("b")]).unwrap();
        assert_eq!(r[0], Ok(()));
        assert_eq!(r[1], Err(vec![ERR_NODE_CONFLICT.to_string()]));
        let r = run(&with_claim("l"), &s, &[host("a")]).unwrap();
        assert_eq!(r[0], Err(vec![ERR_PV_NOT_EXIST.to_string()]));
    }

    #[test]
    fn delayed_claims_need_a_fitting_local_volume_or_a_provisioner() {
        let s = snap(
            vec![
                pvc("c", "local", json!({})),
                pvc(
                    "big",
                    "local",
                    json!({"spec": {"resources": {"requests": {"storage": "5Gi"}}}}),
                ),
                pvc(
                    "rwx",
                    "local",
                    json!({"spec": {"accessModes": ["ReadWriteMany"]}}),
                ),
                pvc("d", "dyn", json!({})),
            ],
            vec![
                local_pv("pv-a", "a", "1Gi", json!({})),
                local_pv("pv-b", "b", "2Gi", json!({})),
                // Taken by another claim.
                local_pv(
                    "pv-c",
                    "c",
                    "1Gi",
                    json!({"spec": {"claimRef": {"name": "other", "namespace": "default"}}}),
                ),
            ],
        );
        let nodes = [host("a"), host("b"), host("c")];
        let bind = Err(vec![ERR_BIND_CONFLICT.to_string()]);
        assert_eq!(
            run(&with_claim("c"), &s, &nodes).unwrap(),
            vec![Ok(()), Ok(()), bind.clone()]
        );
        assert_eq!(
            run(&with_claim("big"), &s, &nodes).unwrap(),
            vec![bind.clone(), bind.clone(), bind.clone()]
        );
        assert_eq!(
            run(&with_claim("rwx"), &s, &nodes).unwrap(),
            vec![bind.clone(), bind.clone(), bind]
        );
        assert_eq!(
            run(&with_claim("d"), &s, &nodes).unwrap(),
            vec![Ok(()), Ok(()), Ok(())]
        );
        // A claim already annotated for another node fits only there.
        let s2 = snap(
            vec![pvc(
                "d",
                "dyn",
                json!({"metadata": {"annotations": {ANN_SELECTED_NODE: "b"}}}),
            )],
            vec![],
        );
        let r = run(&with_claim("d"), &s2, &nodes).unwrap();
        assert_eq!(r[1], Ok(()));
        assert!(r[0].is_err() && r[2].is_err());
    }

    #[test]
    fn reserve_assumes_the_smallest_fitting_volume_and_hides_it_from_others() {
        let s = snap(
            vec![pvc("c", "local", json!({})), pvc("c2", "local", json!({}))],
            vec![
                local_pv("pv-big", "a", "10Gi", json!({})),
                local_pv("pv-small", "a", "1Gi", json!({})),
            ],
        );
        let a = host("a");
        let r = VolumeBinding::default()
            .reserve(&with_claim("c"), &a, &s)
            .unwrap()
            .unwrap();
        let mut cache = Cache::new();
        for c in s.volumes.pvcs.values() {
            cache
                .volumes_mut()
                .set_pvc(&object_key(&**c), Some(c.clone()));
        }
        for v in s.volumes.pvs.values() {
            cache
                .volumes_mut()
                .set_pv(v.metadata.name.as_deref().unwrap(), Some(v.clone()));
        }
        for (n, c) in s.volumes.classes.iter() {
            cache.volumes_mut().set_class(n, Some(c.clone()));
        }
        r.assume(&mut cache);
        let snap2 = cache.snapshot();
        let small = &snap2.volumes.pvs["pv-small"];
        let cref = small.spec.as_ref().unwrap().claim_ref.as_ref().unwrap();
        assert_eq!(cref.name.as_deref(), Some("c"));
        assert_eq!(cref.uid.as_deref(), Some("uid-c"));
        assert_eq!(
            snap2.volumes.pvcs["default/c"]
                .metadata
                .annotations
                .as_ref()
                .unwrap()[ANN_SELECTED_NODE],
            "a"
        );
        // The next pod's claim gets the other volume.
        let r2 = VolumeBinding::default()
            .reserve(&with_claim("c2"), &a, &snap2)
            .unwrap()
            .unwrap();
        r2.assume(&mut cache);
        let snap3 = cache.snapshot();
        let big = &snap3.volumes.pvs["pv-big"];
        assert_eq!(
            big.spec
                .as_ref()
                .unwrap()
                .claim_ref
                .as_ref()
                .unwrap()
                .name
                .as_deref(),
            Some("c2")
        );
        r.unreserve(&mut cache);
        assert!(cache.snapshot().volumes.pvs["pv-small"]
            .spec
            .as_ref()
            .unwrap()
            .claim_ref
            .is_none());
    }

    #[test]
    fn provisioning_respects_allowed_topologies() {
        let mut s = snap(vec![pvc("d", "zonal", json!({}))], vec![]);
        let zonal: StorageClass = serde_json::from_value(json!({
            "metadata": {"name": "zonal"}, "provisioner": "example.com/csi",
            "volumeBindingMode": "WaitForFirstConsumer",
            "allowedTopologies": [{"matchLabelExpressions": [{"key": "zone", "values": ["z1"]}]}]
        }))
        .unwrap();
        Arc::make_mut(&mut s.volumes.classes).insert("zonal".into(), Arc::new(zonal));
        let z1 = node("n1", json!({"metadata": {"labels": {"zone": "z1"}}}));
        let z2 = node("n2", json!({"metadata": {"labels": {"zone": "z2"}}}));
        let r = run(&with_claim("d"), &s, &[z1, z2]).unwrap();
        assert_eq!(r[0], Ok(()));
        assert_eq!(r[1], Err(vec![ERR_BIND_CONFLICT.to_string()]));
    }
}
