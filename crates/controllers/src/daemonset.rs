//! The daemonset controller (upstream `pkg/controller/daemon`).
//!
//! One pod per eligible node: the node must match the template's
//! `nodeSelector` and required node affinity, and the pod must tolerate
//! the node's `NoSchedule`/`NoExecute` taints, counting the tolerations
//! upstream adds to every daemon pod (`not-ready` and `unreachable`
//! NoExecute; `disk-pressure`, `memory-pressure`, `pid-pressure`,
//! `unschedulable` NoSchedule; `network-unavailable` for host-network
//! pods). Pods are created with `generateName` `<ds>-` and a required node
//! affinity on `metadata.name` (the scheduler binds them), labelled
//! `controller-revision-hash`; a pod is tied to its node by `nodeName` or
//! that affinity. Extra pods on a node (the newest), pods on nodes no
//! longer eligible and failed pods are deleted.
//!
//! Templates are recorded in ControllerRevisions `<ds>-<hash>` as for
//! StatefulSets. RollingUpdate (`maxUnavailable`, default 1, a number or a
//! percentage of the desired pods rounded up) replaces old pods, the
//! unavailable ones first, while no more than `maxUnavailable` daemon pods
//! are unavailable; `maxSurge` is not implemented. OnDelete waits for
//! someone to delete them. Status: `desiredNumberScheduled`,
//! `currentNumberScheduled`, `numberMisscheduled`, `numberReady`,
//! `numberAvailable`, `numberUnavailable`, `updatedNumberScheduled`,
//! `observedGeneration`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use client_support::{InformerEvent, WorkQueue};
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodTemplateSpec, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::deployment::{compute_hash, scaled_value};
use crate::statefulset::{revision_data, LABEL_HASH, LABEL_REVISION};
use crate::util::{
    controller_ref, delete_pod, is_code, is_pod_available, is_pod_ready, key_of, owner_ref,
};
use crate::worker::run_workers;
use crate::{Context, Error};
use client_support::selectors::node_matches_term;

/// The tolerations upstream adds to every daemon pod.
pub fn daemon_tolerations(host_network: bool) -> Vec<Toleration> {
    let t = |key: &str, effect: &str| Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Toleration::default()
    };
    let mut v = vec![
        t("node.kubernetes.io/not-ready", "NoExecute"),
        t("node.kubernetes.io/unreachable", "NoExecute"),
        t("node.kubernetes.io/disk-pressure", "NoSchedule"),
        t("node.kubernetes.io/memory-pressure", "NoSchedule"),
        t("node.kubernetes.io/pid-pressure", "NoSchedule"),
        t("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if host_network {
        v.push(t("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    v
}

/// Whether a toleration tolerates a taint (upstream `ToleratesTaint`).
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(e) = t.effect.as_deref().filter(|e| !e.is_empty()) {
        if e != taint.effect {
            return false;
        }
    }
    let key = t.key.as_deref().unwrap_or("");
    let exists = t.operator.as_deref() == Some("Exists");
    if key.is_empty() {
        return exists;
    }
    if key != taint.key {
        return false;
    }
    exists || t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
}

/// Whether a daemon pod from `template` should run on `node` (upstream
/// `NodeShouldRunDaemonPod`): selector, required affinity, taints.
pub fn should_run(template: &PodTemplateSpec, node: &Node) -> bool {
    let Some(spec) = template.spec.as_ref() else {
        return false;
    };
    let labels = node.metadata.labels.as_ref();
    if let Some(sel) = &spec.node_selector {
        if !sel
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        {
            return false;
        }
    }
    if let Some(req) = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
    {
        if !req
            .node_selector_terms
            .iter()
            .any(|t| node_matches_term(t, node.metadata.name.as_deref().unwrap_or(""), labels))
        {
            return false;
        }
    }
    let mut tols = spec.tolerations.clone().unwrap_or_default();
    tols.extend(daemon_tolerations(spec.host_network.unwrap_or(false)));
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .all(|taint| tols.iter().any(|t| tolerates(t, taint)))
}

/// The node a daemon pod is for: `nodeName`, or the node its required
/// affinity names (upstream `GetTargetNodeName`).
pub fn target_node(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_ref().filter(|n| !n.is_empty()) {
        return Some(n.clone());
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms.iter().find_map(|t| {
        t.match_fields.iter().flatten().find_map(|r| {
            (r.key == "metadata.name" && r.operator == "In")
                .then(|| r.values.as_ref()?.first().cloned())
                .flatten()
        })
    })
}

/// The pod for `node` (upstream `CreatePodsOnNodes` with
/// `ReplaceDaemonSetPodNodeNameNodeAffinity` and the added tolerations).
pub fn new_pod(ds: &DaemonSet, hash: &str, node: &str) -> Pod {
    let spec = ds.spec.clone().unwrap_or_default();
    let tm = spec.template.metadata.clone().unwrap_or_default();
    let mut labels = tm.labels.unwrap_or_default();
    labels.insert(LABEL_REVISION.into(), hash.to_string());
    let mut ps = spec.template.spec.clone().unwrap_or_default();
    let field = NodeSelectorRequirement {
        key: "metadata.name".into(),
        operator: "In".into(),
        values: Some(vec![node.to_string()]),
    };
    let affinity = ps.affinity.get_or_insert_with(Affinity::default);
    let na = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    let req = na
        .required_during_scheduling_ignored_during_execution
        .get_or_insert_with(NodeSelector::default);
    if req.node_selector_terms.is_empty() {
        req.node_selector_terms.push(NodeSelectorTerm::default());
    }
    for t in req.node_selector_terms.iter_mut() {
        t.match_fields = Some(vec![field.clone()]);
    }
    let tols = ps.tolerations.get_or_insert_with(Vec::new);
    for t in daemon_tolerations(ps.host_network.unwrap_or(false)) {
        if !tols.iter().any(|x| x.key == t.key && x.effect == t.effect) {
            tols.push(t);
        }
    }
    let mut gen = format!("{}-", ds.name_any());
    gen.truncate(58);
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(gen),
            namespace: ds.namespace(),
            labels: Some(labels),
            annotations: tm.annotations,
            owner_references: Some(vec![owner_ref(ds)]),
            ..ObjectMeta::default()
        },
        spec: Some(ps),
        status: None,
    }
}

/// The controller: its queue.
pub struct DaemonSetController {
    ctx: Arc<Context>,
    queue: WorkQueue<String>,
}

impl DaemonSetController {
    /// Subscribes to DaemonSets, nodes, their pods and revisions.
    pub fn new(ctx: Arc<Context>) -> Self {
        let queue: WorkQueue<String> = WorkQueue::new();
        let q = queue.clone();
        ctx.daemonsets.subscribe(move |ev| match ev {
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
                if r.kind == "DaemonSet" && r.api_version.starts_with("apps/") {
                    q.add(format!("{}/{}", p.namespace().unwrap_or_default(), r.name));
                }
            }
        });
        let q = queue.clone();
        let weak = Arc::downgrade(&ctx);
        ctx.nodes.subscribe(move |ev| {
            let Some(ctx) = weak.upgrade() else { return };
            if let InformerEvent::Applied { old: Some(o), new } = ev {
                if o.metadata.labels == new.metadata.labels
                    && o.spec.as_ref().map(|s| &s.taints) == new.spec.as_ref().map(|s| &s.taints)
                {
                    return;
                }
            }
            for ds in ctx.daemonsets.store().state() {
                q.add(key_of(&*ds));
            }
        });
        ctx.controllerrevisions.want();
        DaemonSetController { ctx, queue }
    }

    /// The work queue (shut down to stop).
    pub fn queue(&self) -> WorkQueue<String> {
        self.queue.clone()
    }

    /// Runs the workers until the queue is shut down.
    pub async fn run(self) {
        let ctx = self.ctx.clone();
        let n = ctx.opts.concurrent_daemonset_syncs;
        run_workers(
            "daemonset",
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

async fn ensure_revision(
    ctx: &Context,
    ds: &DaemonSet,
    hash: &str,
    revisions: &[Arc<ControllerRevision>],
) -> Result<(), Error> {
    let spec = ds.spec.clone().unwrap_or_default();
    let data = revision_data(&spec.template);
    if revisions
        .iter()
        .any(|r| r.data.as_ref().map(|d| &d.0) == Some(&data))
    {
        return Ok(());
    }
    let ns = ds.namespace().unwrap_or_default();
    let mut labels: BTreeMap<String, String> =
        spec.selector.match_labels.clone().unwrap_or_default();
    labels.insert(LABEL_HASH.into(), hash.to_string());
    let cr = ControllerRevision {
        metadata: ObjectMeta {
            name: Some(format!("{}-{hash}", ds.name_any())),
            namespace: Some(ns.clone()),
            labels: Some(labels),
            owner_references: Some(vec![owner_ref(ds)]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(data)),
        revision: revisions.iter().map(|r| r.revision).max().unwrap_or(0) + 1,
    };
    let api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &ns);
    match api.create(&PostParams::default(), &cr).await {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, 409) => Ok(()),
        Err(e) => Err(Error::kube(format!(
            "creating controllerrevision for {}",
            key_of(ds)
        ))(e)),
    }
}

async fn sync(ctx: &Context, key: &str) -> Result<Option<Duration>, Error> {
    let (ns, name) = client_support::informer::split_key(key);
    let ns = ns.unwrap_or("default");
    let Some(ds) = ctx
        .daemonsets
        .store()
        .get(&ObjectRef::<DaemonSet>::new(name).within(ns))
    else {
        return Ok(None);
    };
    if ds.metadata.deletion_timestamp.is_some() {
        return Ok(None);
    }
    let uid = ds.metadata.uid.clone().unwrap_or_default();
    let spec = ds.spec.clone().unwrap_or_default();
    let old_status = ds.status.clone().unwrap_or_default();
    let hash = compute_hash(&spec.template, old_status.collision_count);
    let revisions: Vec<Arc<ControllerRevision>> =
        ctx.controllerrevisions.store().state_filter(|r| {
            r.metadata.namespace.as_deref() == Some(ns)
                && controller_ref(&r.metadata).is_some_and(|o| o.uid == uid)
        });
    ensure_revision(ctx, &ds, &hash, &revisions).await?;
    let pods: Vec<Arc<Pod>> = ctx.pods.store().state_filter(|p| {
        p.metadata.namespace.as_deref() == Some(ns)
            && controller_ref(&p.metadata).is_some_and(|o| o.uid == uid)
    });
    let mut by_node: BTreeMap<String, Vec<Arc<Pod>>> = BTreeMap::new();
    for p in &pods {
        if let Some(n) = target_node(p) {
            by_node.entry(n).or_default().push(p.clone());
        }
    }
    let nodes = ctx.nodes.store().state();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let now = Timestamp::now();
    let pod_api: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let mut to_delete: Vec<Arc<Pod>> = Vec::new();
    let mut to_create: Vec<String> = Vec::new();
    let (mut desired, mut current, mut mis, mut ready, mut available, mut updated) =
        (0, 0, 0, 0, 0, 0);
    // Old pods per node, for the rolling update.
    let mut old_pods: Vec<Arc<Pod>> = Vec::new();
    for node in &nodes {
        let nname = node.name_any();
        let run = should_run(&spec.template, node);
        let mut here: Vec<Arc<Pod>> = by_node.get(&nname).cloned().unwrap_or_default();
        here.retain(|p| p.metadata.deletion_timestamp.is_none());
        if run {
            desired += 1;
            // Failed pods go; they are replaced on the next sync.
            let (failed, live): (Vec<_>, Vec<_>) = here.into_iter().partition(|p| {
                p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")
            });
            to_delete.extend(failed);
            let mut live = live;
            if live.is_empty() {
                to_create.push(nname.clone());
                continue;
            }
            current += 1;
            // Keep the oldest, delete the rest.
            live.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
            to_delete.extend(live.drain(1..));
            let p = &live[0];
            if is_pod_ready(p) {
                ready += 1;
            }
            if is_pod_available(p, min_ready, now) {
                available += 1;
            }
            if p.labels().get(LABEL_REVISION).map(String::as_str) == Some(hash.as_str()) {
                updated += 1;
            } else {
                old_pods.push(p.clone());
            }
        } else if !here.is_empty() {
            mis += 1;
            to_delete.extend(here);
        }
    }
    // Pods for nodes that no longer exist.
    for (n, ps) in &by_node {
        if !nodes.iter().any(|x| x.metadata.name.as_ref() == Some(n)) {
            to_delete.extend(
                ps.iter()
                    .filter(|p| p.metadata.deletion_timestamp.is_none())
                    .cloned(),
            );
        }
    }
    // Rolling update within maxUnavailable.
    let rolling = spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        != Some("OnDelete");
    if rolling {
        let mu = spec
            .update_strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref())
            .and_then(|r| r.max_unavailable.clone())
            .unwrap_or(IntOrString::Int(1));
        let max_unavailable = scaled_value(&mu, desired, true).unwrap_or(1).max(1);
        let unavailable_now = desired - available;
        let mut budget = max_unavailable - unavailable_now;
        old_pods.sort_by_key(|p| is_pod_available(p, min_ready, now));
        for p in old_pods {
            if !is_pod_available(&p, min_ready, now) {
                to_delete.push(p);
            } else if budget > 0 {
                budget -= 1;
                to_delete.push(p);
            }
        }
    }
    for p in &to_delete {
        delete_pod(ctx, p).await?;
    }
    for n in &to_create {
        let pod = new_pod(&ds, &hash, n);
        pod_api
            .create(&PostParams::default(), &pod)
            .await
            .map_err(Error::kube(format!("creating daemon pod for node {n}")))?;
    }
    let st = DaemonSetStatus {
        desired_number_scheduled: desired,
        current_number_scheduled: current,
        number_misscheduled: mis,
        number_ready: ready,
        number_available: Some(available),
        number_unavailable: Some(desired - available).filter(|n| *n > 0),
        updated_number_scheduled: Some(updated),
        observed_generation: ds.metadata.generation,
        collision_count: old_status.collision_count,
        conditions: old_status.conditions.clone(),
    };
    if st != old_status {
        let api: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), ns);
        let mut body = serde_json::to_value(&st).unwrap_or_default();
        if st.number_unavailable.is_none() {
            body["numberUnavailable"] = serde_json::Value::Null;
        }
        match api
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": body })),
            )
            .await
        {
            Ok(_) => {}
            Err(e) if is_code(&e, 404) => {}
            Err(e) => {
                return Err(Error::kube(format!("updating status of daemonset {key}"))(
                    e,
                ))
            }
        }
    }
    if min_ready > 0 && ready != available {
        return Ok(Some(Duration::from_secs(min_ready as u64)));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(v: serde_json::Value) -> Node {
        serde_json::from_value(v).unwrap()
    }

    fn tmpl(v: serde_json::Value) -> PodTemplateSpec {
        let mut t = json!({"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
        for (k, val) in v.as_object().unwrap() {
            t["spec"][k] = val.clone();
        }
        serde_json::from_value(t).unwrap()
    }

    #[test]
    fn eligibility_selector_affinity_taints() {
        let n = node(
            json!({"metadata": {"name": "n1", "labels": {"disk": "ssd", "cores": "8"}},
            "spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"},
                                {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"},
                                {"key": "soft", "effect": "PreferNoSchedule"}]}}),
        );
        // Untolerated NoSchedule taint.
        assert!(!should_run(&tmpl(json!({})), &n));
        let tol = json!([{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]);
        assert!(should_run(&tmpl(json!({"tolerations": tol})), &n));
        assert!(should_run(
            &tmpl(json!({"tolerations": [{"operator": "Exists"}]})),
            &n
        ));
        assert!(!should_run(
            &tmpl(json!({"tolerations": tol, "nodeSelector": {"disk": "hdd"}})),
            &n
        ));
        let aff = |op: &str, v: &str| {
            json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "cores", "operator": op, "values": [v]}]}]}}})
        };
        assert!(should_run(
            &tmpl(json!({"tolerations": tol, "affinity": aff("Gt", "4")})),
            &n
        ));
        assert!(!should_run(
            &tmpl(json!({"tolerations": tol, "affinity": aff("Lt", "4")})),
            &n
        ));
    }

    #[test]
    fn pods_target_their_node_and_tolerate_node_problems() {
        let ds: DaemonSet = serde_json::from_value(json!({
            "metadata": {"name": "agent", "namespace": "ns", "uid": "u"},
            "spec": {"selector": {"matchLabels": {"app": "d"}},
                "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}
        }))
        .unwrap();
        let p = new_pod(&ds, "h1", "n7");
        assert_eq!(target_node(&p).as_deref(), Some("n7"));
        assert_eq!(
            p.labels().get(LABEL_REVISION).map(String::as_str),
            Some("h1")
        );
        let tols = p.spec.as_ref().unwrap().tolerations.clone().unwrap();
        assert!(tols.iter().any(
            |t| t.key.as_deref() == Some("node.kubernetes.io/unreachable")
                && t.effect.as_deref() == Some("NoExecute")
        ));
        assert_eq!(tols.len(), 6);
    }
}
