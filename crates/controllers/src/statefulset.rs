//! The statefulset controller (upstream `pkg/controller/statefulset`).
//!
//! Pods are named `<set>-<ordinal>` with hostname the pod name, subdomain
//! `spec.serviceName`, and the labels `statefulset.kubernetes.io/pod-name`,
//! `apps.kubernetes.io/pod-index` and `controller-revision-hash`. Each
//! `volumeClaimTemplates` entry gives the PVC `<claim>-<set>-<ordinal>`,
//! created before its pod and kept when the set scales down (upstream's
//! default `Retain` retention policy).
//!
//! Every template is recorded in a ControllerRevision `<set>-<hash>`
//! (`data` is upstream's patch `{"spec":{"template":{..., "$patch":
//! "replace"}}}`, `revision` increasing); `updateRevision` is the current
//! template's, `currentRevision` the one before the rollout, moved forward
//! once every pod runs the update revision; old revisions are pruned to
//! `revisionHistoryLimit` (10).
//!
//! `OrderedReady` creates ordinals 0, 1, ... one at a time, each waiting
//! for the previous to be Running and Ready, and removes from the highest
//! ordinal down, one at a time, only while every other pod is healthy;
//! `Parallel` creates and deletes all at once. Failed pods are deleted and
//! recreated. `RollingUpdate` deletes, from the highest ordinal down to
//! `partition`, one pod not at the update revision at a time while all are
//! healthy (the recreated pod gets the new template); ordinals below the
//! partition are (re)created from the current revision. `OnDelete` changes
//! pods only when someone deletes them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use client_support::{InformerEvent, WorkQueue};
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::deployment::compute_hash;
use crate::util::{
    controller_ref, delete_pod, is_code, is_pod_available, is_pod_ready, key_of, owner_ref,
};
use crate::worker::run_workers;
use crate::{Context, Error};

/// Pod label with the pod's name.
pub const LABEL_POD_NAME: &str = "statefulset.kubernetes.io/pod-name";
/// Pod label with the pod's ordinal.
pub const LABEL_POD_INDEX: &str = "apps.kubernetes.io/pod-index";
/// Pod label naming its ControllerRevision.
pub const LABEL_REVISION: &str = "controller-revision-hash";
/// ControllerRevision label with the template hash.
pub const LABEL_HASH: &str = "controller.kubernetes.io/hash";

/// The ordinal of a pod named `<set>-<n>`.
pub fn ordinal_of(set: &str, pod: &str) -> Option<i32> {
    let rest = pod.strip_prefix(set)?.strip_prefix('-')?;
    if rest.is_empty() || (rest.len() > 1 && rest.starts_with('0')) {
        return None;
    }
    rest.parse().ok().filter(|n: &i32| *n >= 0)
}

/// The PVC name for a claim template and ordinal.
pub fn claim_name(claim: &str, set: &str, ordinal: i32) -> String {
    format!("{claim}-{set}-{ordinal}")
}

/// Upstream `getPatch`: the revision's `data`.
pub fn revision_data(template: &PodTemplateSpec) -> serde_json::Value {
    let mut t = serde_json::to_value(template).unwrap_or_default();
    t["$patch"] = json!("replace");
    json!({"spec": {"template": t}})
}

/// The template a revision holds.
pub fn revision_template(cr: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut t = cr.data.as_ref()?.0.get("spec")?.get("template")?.clone();
    if let Some(o) = t.as_object_mut() {
        o.remove("$patch");
    }
    serde_json::from_value(t).ok()
}

/// The pod for `ordinal` from `template` at `revision` (upstream
/// `newVersionedStatefulSetPod`).
pub fn new_pod(set: &StatefulSet, template: &PodTemplateSpec, revision: &str, ordinal: i32) -> Pod {
    let name = format!("{}-{ordinal}", set.name_any());
    let spec = set.spec.clone().unwrap_or_default();
    let tm = template.metadata.clone().unwrap_or_default();
    let mut labels = tm.labels.unwrap_or_default();
    labels.insert(LABEL_POD_NAME.into(), name.clone());
    labels.insert(LABEL_POD_INDEX.into(), ordinal.to_string());
    labels.insert(LABEL_REVISION.into(), revision.to_string());
    let mut ps = template.spec.clone().unwrap_or_default();
    ps.hostname = Some(name.clone());
    if let Some(svc) = spec.service_name.filter(|s| !s.is_empty()) {
        ps.subdomain = Some(svc);
    }
    for claim in spec.volume_claim_templates.iter().flatten() {
        let cname = claim.metadata.name.clone().unwrap_or_default();
        let vols = ps.volumes.get_or_insert_with(Vec::new);
        vols.retain(|v| v.name != cname);
        vols.push(Volume {
            name: cname.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(&cname, &set.name_any(), ordinal),
                read_only: None,
            }),
            ..Volume::default()
        });
    }
    Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: set.namespace(),
            labels: Some(labels),
            annotations: tm.annotations,
            owner_references: Some(vec![owner_ref(set)]),
            ..ObjectMeta::default()
        },
        spec: Some(ps),
        status: None,
    }
}

fn healthy(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        && is_pod_ready(p)
}

fn revision_label(p: &Pod) -> Option<&str> {
    p.labels().get(LABEL_REVISION).map(String::as_str)
}

/// The controller: its queue.
pub struct StatefulSetController {
    ctx: Arc<Context>,
    queue: WorkQueue<String>,
}

impl StatefulSetController {
    /// Subscribes to StatefulSets, their pods and revisions.
    pub fn new(ctx: Arc<Context>) -> Self {
        let queue: WorkQueue<String> = WorkQueue::new();
        let q = queue.clone();
        ctx.statefulsets.subscribe(move |ev| match ev {
            InformerEvent::Applied { new, .. } => q.add(key_of(&**new)),
            InformerEvent::Deleted(s) => q.add(key_of(&**s)),
        });
        let q = queue.clone();
        ctx.pods.subscribe(move |ev| {
            let p = match ev {
                InformerEvent::Applied { new, .. } => new,
                InformerEvent::Deleted(p) => p,
            };
            if let Some(r) = controller_ref(&p.metadata) {
                if r.kind == "StatefulSet" && r.api_version.starts_with("apps/") {
                    q.add(format!("{}/{}", p.namespace().unwrap_or_default(), r.name));
                }
            }
        });
        ctx.controllerrevisions.want();
        StatefulSetController { ctx, queue }
    }

    /// The work queue (shut down to stop).
    pub fn queue(&self) -> WorkQueue<String> {
        self.queue.clone()
    }

    /// Runs the workers until the queue is shut down.
    pub async fn run(self) {
        let ctx = self.ctx.clone();
        let n = ctx.opts.concurrent_statefulset_syncs;
        run_workers(
            "statefulset",
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

/// Finds or creates the revision for the set's current template.
async fn update_revision(
    ctx: &Context,
    set: &StatefulSet,
    revisions: &[Arc<ControllerRevision>],
) -> Result<ControllerRevision, Error> {
    let spec = set.spec.clone().unwrap_or_default();
    let data = revision_data(&spec.template);
    if let Some(r) = revisions
        .iter()
        .find(|r| r.data.as_ref().map(|d| &d.0) == Some(&data))
    {
        return Ok((**r).clone());
    }
    let ns = set.namespace().unwrap_or_default();
    let api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &ns);
    let collisions = set.status.as_ref().and_then(|s| s.collision_count);
    let hash = compute_hash(&spec.template, collisions);
    let mut labels: BTreeMap<String, String> =
        spec.selector.match_labels.clone().unwrap_or_default();
    labels.insert(LABEL_HASH.into(), hash.clone());
    let cr = ControllerRevision {
        metadata: ObjectMeta {
            name: Some(format!("{}-{hash}", set.name_any())),
            namespace: Some(ns.clone()),
            labels: Some(labels),
            owner_references: Some(vec![owner_ref(set)]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(data.clone())),
        revision: revisions.iter().map(|r| r.revision).max().unwrap_or(0) + 1,
    };
    match api.create(&PostParams::default(), &cr).await {
        Ok(c) => Ok(c),
        Err(e) if is_code(&e, 409) => {
            let name = cr.metadata.name.clone().unwrap_or_default();
            let existing = api.get(&name).await.map_err(Error::kube(format!(
                "getting controllerrevision {ns}/{name}"
            )))?;
            if existing.data.as_ref().map(|d| &d.0) == Some(&data)
                && controller_ref(&existing.metadata)
                    .is_some_and(|r| Some(&r.uid) == set.metadata.uid.as_ref())
            {
                return Ok(existing);
            }
            // A hash collision: bump collisionCount and try again.
            let sapi: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &ns);
            sapi.patch_status(
                &set.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"collisionCount": collisions.unwrap_or(0) + 1}})),
            )
            .await
            .map_err(Error::kube(format!(
                "bumping collisionCount of {}",
                key_of(set)
            )))?;
            Err(Error::Retry(format!(
                "revision hash collision for {}",
                key_of(set)
            )))
        }
        Err(e) => Err(Error::kube(format!(
            "creating controllerrevision for {}",
            key_of(set)
        ))(e)),
    }
}

async fn create_pod(
    ctx: &Context,
    set: &StatefulSet,
    pod: &Pod,
    ordinal: i32,
) -> Result<(), Error> {
    let ns = set.namespace().unwrap_or_default();
    let spec = set.spec.clone().unwrap_or_default();
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
    for claim in spec.volume_claim_templates.iter().flatten() {
        let cname = claim.metadata.name.clone().unwrap_or_default();
        let mut labels = claim.metadata.labels.clone().unwrap_or_default();
        labels.extend(spec.selector.match_labels.clone().unwrap_or_default());
        let pvc = PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(claim_name(&cname, &set.name_any(), ordinal)),
                namespace: Some(ns.clone()),
                labels: Some(labels),
                annotations: claim.metadata.annotations.clone(),
                ..ObjectMeta::default()
            },
            spec: claim.spec.clone(),
            status: None,
        };
        match pvcs.create(&PostParams::default(), &pvc).await {
            Ok(_) => {}
            Err(e) if is_code(&e, 409) => {}
            Err(e) => {
                return Err(Error::kube(format!("creating pvc for {}", pod.name_any()))(
                    e,
                ))
            }
        }
    }
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    match api.create(&PostParams::default(), pod).await {
        Ok(_) => Ok(()),
        // Still being deleted, or the cache is behind: try again later.
        Err(e) if is_code(&e, 409) => {
            Err(Error::Retry(format!("pod {ns}/{} exists", pod.name_any())))
        }
        Err(e) => Err(Error::kube(format!("creating pod {ns}/{}", pod.name_any()))(e)),
    }
}

async fn sync(ctx: &Context, key: &str) -> Result<Option<Duration>, Error> {
    let (ns, name) = client_support::informer::split_key(key);
    let ns = ns.unwrap_or("default");
    let Some(set) = ctx
        .statefulsets
        .store()
        .get(&ObjectRef::<StatefulSet>::new(name).within(ns))
    else {
        return Ok(None);
    };
    if set.metadata.deletion_timestamp.is_some() {
        return Ok(None);
    }
    let uid = set.metadata.uid.clone().unwrap_or_default();
    let spec = set.spec.clone().unwrap_or_default();
    let mut revisions: Vec<Arc<ControllerRevision>> =
        ctx.controllerrevisions.store().state_filter(|r| {
            r.metadata.namespace.as_deref() == Some(ns)
                && controller_ref(&r.metadata).is_some_and(|o| o.uid == uid)
        });
    revisions.sort_by_key(|r| r.revision);
    let update = update_revision(ctx, &set, &revisions).await?;
    let update_name = update.name_any();
    let old_status = set.status.clone().unwrap_or_default();
    let current = old_status
        .current_revision
        .as_ref()
        .and_then(|c| {
            revisions
                .iter()
                .find(|r| r.metadata.name.as_ref() == Some(c))
        })
        .map(|r| (**r).clone())
        .unwrap_or_else(|| update.clone());
    let current_name = current.name_any();
    let current_template = revision_template(&current).unwrap_or_else(|| spec.template.clone());
    let pods: Vec<Arc<Pod>> = ctx.pods.store().state_filter(|p| {
        p.metadata.namespace.as_deref() == Some(ns)
            && controller_ref(&p.metadata).is_some_and(|o| o.uid == uid)
    });
    let mut by_ordinal: BTreeMap<i32, Arc<Pod>> = BTreeMap::new();
    for p in &pods {
        if let Some(o) = ordinal_of(name, &p.name_any()) {
            by_ordinal.insert(o, p.clone());
        }
    }
    let replicas = spec.replicas.unwrap_or(1).max(0);
    let parallel = spec.pod_management_policy.as_deref() == Some("Parallel");
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    let rolling = strategy.type_.as_deref() != Some("OnDelete");
    let partition = strategy
        .rolling_update
        .as_ref()
        .and_then(|r| r.partition)
        .unwrap_or(0)
        .max(0);
    let status_result = manage(
        ctx,
        &set,
        &by_ordinal,
        replicas,
        parallel,
        rolling,
        partition,
        (&current_name, &current_template),
        (&update_name, &spec.template),
    )
    .await;
    // Status.
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let now = Timestamp::now();
    let live: Vec<&Arc<Pod>> = by_ordinal
        .values()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let mut st = StatefulSetStatus {
        replicas: live.len() as i32,
        ready_replicas: Some(live.iter().filter(|p| is_pod_ready(p)).count() as i32),
        available_replicas: Some(
            live.iter()
                .filter(|p| is_pod_available(p, min_ready, now))
                .count() as i32,
        ),
        current_replicas: Some(
            live.iter()
                .filter(|p| revision_label(p) == Some(current_name.as_str()))
                .count() as i32,
        ),
        updated_replicas: Some(
            live.iter()
                .filter(|p| revision_label(p) == Some(update_name.as_str()))
                .count() as i32,
        ),
        current_revision: Some(current_name.clone()),
        update_revision: Some(update_name.clone()),
        observed_generation: set.metadata.generation,
        collision_count: old_status.collision_count,
        conditions: old_status.conditions.clone(),
    };
    // The rollout is done: the update revision becomes current.
    if st.updated_replicas == Some(replicas)
        && st.replicas == replicas
        && current_name != update_name
    {
        st.current_revision = Some(update_name.clone());
        st.current_replicas = st.updated_replicas;
    }
    if st != old_status {
        let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), ns);
        match api
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": st })),
            )
            .await
        {
            Ok(_) => {}
            Err(e) if is_code(&e, 404) => {}
            Err(e) => return Err(Error::kube(format!("updating status of statefulset {key}"))(e)),
        }
    }
    // History: keep the live and the newest revisionHistoryLimit others.
    let limit = spec.revision_history_limit.unwrap_or(10).max(0) as usize;
    let in_use: Vec<&str> = pods.iter().filter_map(|p| revision_label(p)).collect();
    let keep = |r: &ControllerRevision| {
        let n = r.name_any();
        n == update_name || Some(&n) == st.current_revision.as_ref() || in_use.contains(&n.as_str())
    };
    let old: Vec<&Arc<ControllerRevision>> = revisions.iter().filter(|r| !keep(r)).collect();
    if old.len() > limit {
        let api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), ns);
        for r in old.iter().take(old.len() - limit) {
            match api.delete(&r.name_any(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if is_code(&e, 404) => {}
                Err(e) => {
                    return Err(Error::kube(format!(
                        "deleting controllerrevision {}",
                        r.name_any()
                    ))(e))
                }
            }
        }
    }
    status_result?;
    if min_ready > 0 && st.ready_replicas != st.available_replicas {
        return Ok(Some(Duration::from_secs(min_ready as u64)));
    }
    Ok(None)
}

#[allow(clippy::too_many_arguments)]
async fn manage(
    ctx: &Context,
    set: &StatefulSet,
    pods: &BTreeMap<i32, Arc<Pod>>,
    replicas: i32,
    parallel: bool,
    rolling: bool,
    partition: i32,
    current: (&str, &PodTemplateSpec),
    update: (&str, &PodTemplateSpec),
) -> Result<(), Error> {
    // Failed pods are deleted (and recreated on a later sync).
    for p in pods.values() {
        if p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")
            && p.metadata.deletion_timestamp.is_none()
        {
            delete_pod(ctx, p).await?;
            if !parallel {
                return Ok(());
            }
        }
    }
    // Create missing ordinals in order.
    for ordinal in 0..replicas {
        match pods.get(&ordinal) {
            None => {
                let (rev, tmpl) = if rolling && ordinal < partition {
                    current
                } else {
                    update
                };
                let pod = new_pod(set, tmpl, rev, ordinal);
                create_pod(ctx, set, &pod, ordinal).await?;
                if !parallel {
                    return Ok(());
                }
            }
            Some(p) if !healthy(p) && !parallel => return Ok(()),
            Some(_) => {}
        }
    }
    // Condemned: highest ordinal first.
    let condemned: Vec<&Arc<Pod>> = pods.range(replicas..).rev().map(|(_, p)| p).collect();
    for p in &condemned {
        if p.metadata.deletion_timestamp.is_some() {
            if !parallel {
                return Ok(());
            }
            continue;
        }
        if !parallel
            && pods
                .values()
                .any(|o| !healthy(o) && o.metadata.uid != p.metadata.uid)
        {
            return Ok(());
        }
        delete_pod(ctx, p).await?;
        if !parallel {
            return Ok(());
        }
    }
    if !condemned.is_empty() {
        return Ok(());
    }
    // Rolling update, highest ordinal first, one at a time.
    if rolling {
        if pods.values().any(|p| !healthy(p)) {
            return Ok(());
        }
        for ordinal in (partition..replicas).rev() {
            if let Some(p) = pods.get(&ordinal) {
                if revision_label(p) != Some(update.0) {
                    delete_pod(ctx, p).await?;
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u"},
            "spec": {"serviceName": "nginx", "replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "www"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}
        }))
        .unwrap()
    }

    #[test]
    fn ordinals() {
        assert_eq!(ordinal_of("web", "web-0"), Some(0));
        assert_eq!(ordinal_of("web", "web-12"), Some(12));
        assert_eq!(ordinal_of("web", "web-01"), None);
        assert_eq!(ordinal_of("web", "web-x"), None);
        assert_eq!(ordinal_of("web", "webby-1"), None);
        assert_eq!(ordinal_of("web", "web-"), None);
    }

    #[test]
    fn pods_have_stable_identity_and_claims() {
        let s = set();
        let t = s.spec.as_ref().unwrap().template.clone();
        let p = new_pod(&s, &t, "web-abc", 2);
        assert_eq!(p.metadata.name.as_deref(), Some("web-2"));
        let l = p.metadata.labels.clone().unwrap();
        assert_eq!(l[LABEL_POD_NAME], "web-2");
        assert_eq!(l[LABEL_POD_INDEX], "2");
        assert_eq!(l[LABEL_REVISION], "web-abc");
        assert_eq!(l["app"], "web");
        let ps = p.spec.unwrap();
        assert_eq!(
            (ps.hostname.as_deref(), ps.subdomain.as_deref()),
            (Some("web-2"), Some("nginx"))
        );
        let v = &ps.volumes.unwrap()[0];
        assert_eq!(v.name, "www");
        assert_eq!(
            v.persistent_volume_claim.as_ref().unwrap().claim_name,
            "www-web-2"
        );
        assert_eq!(claim_name("www", "web", 0), "www-web-0");
    }

    #[test]
    fn revision_data_round_trips() {
        let s = set();
        let t = s.spec.as_ref().unwrap().template.clone();
        let data = revision_data(&t);
        assert_eq!(data["spec"]["template"]["$patch"], "replace");
        let cr = ControllerRevision {
            data: Some(RawExtension(data)),
            revision: 1,
            ..ControllerRevision::default()
        };
        assert_eq!(revision_template(&cr), Some(t));
    }
}
