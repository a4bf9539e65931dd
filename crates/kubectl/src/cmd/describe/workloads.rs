//! Deployments, ReplicaSets, StatefulSets, DaemonSets and Jobs.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use super::format::{self, rfc1123z};
use super::pod::{format_label_selector, pod_template, selector_string};
use super::writer::Writer;

/// Pods of a controller by phase: running, waiting, succeeded, failed.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct PodCounts(pub u32, pub u32, pub u32, pub u32);

impl PodCounts {
    /// `getPodStatusForController`: only pods whose controller is `uid`.
    pub fn of(pods: &[Pod], uid: &str) -> PodCounts {
        let mut c = PodCounts::default();
        for p in pods {
            let owned = p
                .metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.controller == Some(true) && o.uid == uid);
            if !owned {
                continue;
            }
            match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
                Some("Running") => c.0 += 1,
                Some("Pending") => c.1 += 1,
                Some("Succeeded") => c.2 += 1,
                Some("Failed") => c.3 += 1,
                _ => {}
            }
        }
        c
    }

    fn text(&self) -> String {
        format!(
            "{} Running / {} Waiting / {} Succeeded / {} Failed",
            self.0, self.1, self.2, self.3
        )
    }
}

fn name_ns(w: &mut Writer, m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) {
    w.write(
        0,
        &format!("Name:\t{}\n", m.name.as_deref().unwrap_or_default()),
    );
    w.write(
        0,
        &format!(
            "Namespace:\t{}\n",
            m.namespace.as_deref().unwrap_or_default()
        ),
    );
}

fn created(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    format::time_or_zero(m.creation_timestamp.as_ref())
}

fn int_or_string(v: Option<&IntOrString>) -> String {
    match v {
        Some(IntOrString::Int(i)) => i.to_string(),
        Some(IntOrString::String(s)) => s.clone(),
        None => "0".into(),
    }
}

/// The conditions table Deployments and ReplicaSets share.
fn conditions(w: &mut Writer, conds: &[(String, String, String)]) {
    if conds.is_empty() {
        return;
    }
    w.write(0, "Conditions:\n  Type\tStatus\tReason\n");
    w.write(1, "----\t------\t------\n");
    for (t, s, r) in conds {
        w.write(1, &format!("{t} \t{s}\t{r}\n"));
    }
}

/// `describeDeployment`; `rs` are the ReplicaSets it controls.
pub fn describe_deployment(d: &Deployment, rs: &[ReplicaSet], events: Option<&[Event]>) -> String {
    let mut w = Writer::new();
    let spec = d.spec.clone().unwrap_or_default();
    let status = d.status.clone().unwrap_or_default();
    name_ns(&mut w, &d.metadata);
    w.write(
        0,
        &format!("CreationTimestamp:\t{}\n", created(&d.metadata)),
    );
    format::labels(&mut w, "Labels", d.metadata.labels.as_ref());
    format::annotations(&mut w, "Annotations", d.metadata.annotations.as_ref());
    let sel = selector_string(Some(&spec.selector)).unwrap_or_default();
    w.write(0, &format!("Selector:\t{sel}\n"));
    w.write(
        0,
        &format!(
            "Replicas:\t{} desired | {} updated | {} total | {} available | {} unavailable\n",
            spec.replicas.unwrap_or(1),
            status.updated_replicas.unwrap_or(0),
            status.replicas.unwrap_or(0),
            status.available_replicas.unwrap_or(0),
            status.unavailable_replicas.unwrap_or(0)
        ),
    );
    let strategy = spec.strategy.clone().unwrap_or_default();
    w.write(
        0,
        &format!(
            "StrategyType:\t{}\n",
            strategy.type_.as_deref().unwrap_or_default()
        ),
    );
    w.write(
        0,
        &format!(
            "MinReadySeconds:\t{}\n",
            spec.min_ready_seconds.unwrap_or(0)
        ),
    );
    if let Some(ru) = &strategy.rolling_update {
        w.write(
            0,
            &format!(
                "RollingUpdateStrategy:\t{} max unavailable, {} max surge\n",
                int_or_string(ru.max_unavailable.as_ref()),
                int_or_string(ru.max_surge.as_ref())
            ),
        );
    }
    pod_template(&mut w, Some(&spec.template));
    let conds: Vec<_> = status
        .conditions
        .iter()
        .flatten()
        .map(|c| {
            (
                c.type_.clone(),
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
            )
        })
        .collect();
    conditions(&mut w, &conds);
    let (old, new) = split_replica_sets(d, rs);
    if !old.is_empty() || new.is_some() {
        w.write(0, &format!("OldReplicaSets:\t{}\n", rs_list(&old)));
        w.write(
            0,
            &format!(
                "NewReplicaSet:\t{}\n",
                rs_list(&new.into_iter().collect::<Vec<_>>())
            ),
        );
    }
    if let Some(ev) = events {
        format::events(&mut w, ev);
    }
    w.finish()
}

fn rs_list(rs: &[&ReplicaSet]) -> String {
    if rs.is_empty() {
        return "<none>".into();
    }
    rs.iter()
        .map(|r| {
            format!(
                "{} ({}/{} replicas created)",
                r.metadata.name.as_deref().unwrap_or_default(),
                r.status.as_ref().map_or(0, |s| s.replicas),
                r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Upstream's `GetAllReplicaSets`: those `d` controls, oldest first; the
/// new one is the oldest whose template equals `d`'s (hash label aside).
fn split_replica_sets<'a>(
    d: &Deployment,
    all: &'a [ReplicaSet],
) -> (Vec<&'a ReplicaSet>, Option<&'a ReplicaSet>) {
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let mut owned: Vec<&ReplicaSet> = all
        .iter()
        .filter(|r| {
            r.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.controller == Some(true) && o.uid == uid)
        })
        .collect();
    owned.sort_by(|a, b| {
        let ta = a.metadata.creation_timestamp.as_ref().map(|t| t.0);
        let tb = b.metadata.creation_timestamp.as_ref().map(|t| t.0);
        ta.cmp(&tb)
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
    let want = template_key(
        &serde_json::to_value(d.spec.as_ref().map(|s| &s.template)).unwrap_or_default(),
    );
    let new = owned.iter().copied().find(|r| {
        template_key(
            &serde_json::to_value(r.spec.as_ref().and_then(|s| s.template.as_ref()))
                .unwrap_or_default(),
        ) == want
    });
    let new_uid = new.and_then(|n| n.metadata.uid.clone());
    let old = owned
        .into_iter()
        .filter(|r| new_uid.is_none() || r.metadata.uid != new_uid)
        .collect();
    (old, new)
}

/// A template without its `pod-template-hash` label and with empty
/// values dropped, so semantically equal templates compare equal.
fn template_key(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(l) = v
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        l.remove("pod-template-hash");
    }
    prune(&mut v);
    v
}

fn prune(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.values_mut().for_each(prune);
            m.retain(|_, x| !is_empty(x));
        }
        Value::Array(a) => a.iter_mut().for_each(prune),
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// `describeReplicaSet`.
pub fn describe_replica_set(
    rs: &ReplicaSet,
    pods: Result<PodCounts, String>,
    events: Option<&[Event]>,
) -> String {
    let mut w = Writer::new();
    let spec = rs.spec.clone().unwrap_or_default();
    let status = rs.status.clone().unwrap_or_default();
    name_ns(&mut w, &rs.metadata);
    w.write(
        0,
        &format!("Selector:\t{}\n", format_label_selector(&spec.selector)),
    );
    format::labels(&mut w, "Labels", rs.metadata.labels.as_ref());
    format::annotations(&mut w, "Annotations", rs.metadata.annotations.as_ref());
    if let Some(c) = format::controller(rs.metadata.owner_references.as_ref()) {
        w.write(0, &format!("Controlled By:\t{c}\n"));
    }
    w.write(
        0,
        &format!(
            "Replicas:\t{} current / {} desired\n",
            status.replicas,
            spec.replicas.unwrap_or(1)
        ),
    );
    w.write(0, "Pods Status:\t");
    match pods {
        Ok(c) => w.write(0, &format!("{}\n", c.text())),
        Err(e) => w.write(0, &format!("error in fetching pods: {e}\n")),
    }
    pod_template(&mut w, spec.template.as_ref());
    let conds: Vec<_> = status
        .conditions
        .iter()
        .flatten()
        .map(|c| {
            (
                c.type_.clone(),
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
            )
        })
        .collect();
    conditions(&mut w, &conds);
    if let Some(ev) = events {
        format::events(&mut w, ev);
    }
    w.finish()
}

/// `describeStatefulSet`.
pub fn describe_stateful_set(s: &StatefulSet, pods: PodCounts, events: Option<&[Event]>) -> String {
    let mut w = Writer::new();
    let spec = s.spec.clone().unwrap_or_default();
    let status = s.status.clone().unwrap_or_default();
    name_ns(&mut w, &s.metadata);
    w.write(
        0,
        &format!("CreationTimestamp:\t{}\n", created(&s.metadata)),
    );
    let sel = selector_string(Some(&spec.selector)).unwrap_or_default();
    w.write(0, &format!("Selector:\t{sel}\n"));
    format::labels(&mut w, "Labels", s.metadata.labels.as_ref());
    format::annotations(&mut w, "Annotations", s.metadata.annotations.as_ref());
    w.write(
        0,
        &format!(
            "Replicas:\t{} desired | {} total\n",
            spec.replicas.unwrap_or(1),
            status.replicas
        ),
    );
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    w.write(
        0,
        &format!(
            "Update Strategy:\t{}\n",
            strategy.type_.as_deref().unwrap_or_default()
        ),
    );
    if let Some(ru) = &strategy.rolling_update {
        if let Some(p) = ru.partition {
            w.write(1, &format!("Partition:\t{p}\n"));
            if let Some(mu) = &ru.max_unavailable {
                w.write(
                    1,
                    &format!("MaxUnavailable:\t{}\n", int_or_string(Some(mu))),
                );
            }
        }
    }
    w.write(0, &format!("Pods Status:\t{}\n", pods.text()));
    pod_template(&mut w, Some(&spec.template));
    claim_templates(
        &mut w,
        spec.volume_claim_templates.as_deref().unwrap_or_default(),
    );
    if let Some(ev) = events {
        format::events(&mut w, ev);
    }
    w.finish()
}

/// `describeVolumeClaimTemplates`.
fn claim_templates(w: &mut Writer, templates: &[PersistentVolumeClaim]) {
    if templates.is_empty() {
        w.write(0, "Volume Claims:\t<none>\n");
        return;
    }
    w.write(0, "Volume Claims:\n");
    for pvc in templates {
        let spec = pvc.spec.clone().unwrap_or_default();
        w.write(
            1,
            &format!(
                "Name:\t{}\n",
                pvc.metadata.name.as_deref().unwrap_or_default()
            ),
        );
        let class = pvc
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class").cloned())
            .or_else(|| spec.storage_class_name.clone())
            .unwrap_or_default();
        w.write(1, &format!("StorageClass:\t{class}\n"));
        format::labels_indented(w, "  ", "Labels", "\t", pvc.metadata.labels.as_ref());
        format::labels_indented(
            w,
            "  ",
            "Annotations",
            "\t",
            pvc.metadata.annotations.as_ref(),
        );
        match spec
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
        {
            Some(q) => w.write(1, &format!("Capacity:\t{}\n", format::quantity(&q.0))),
            None => w.write(1, "Capacity:\t<default>\n"),
        }
        w.write(
            1,
            &format!(
                "Access Modes:\t[{}]\n",
                spec.access_modes.unwrap_or_default().join(" ")
            ),
        );
    }
}

/// `describeDaemonSet`.
pub fn describe_daemon_set(d: &DaemonSet, pods: PodCounts, events: Option<&[Event]>) -> String {
    let mut w = Writer::new();
    let spec = d.spec.clone().unwrap_or_default();
    let status = d.status.clone().unwrap_or_default();
    name_ns(&mut w, &d.metadata);
    let sel = selector_string(Some(&spec.selector)).unwrap_or_default();
    w.write(0, &format!("Selector:\t{sel}\n"));
    let node_sel = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.node_selector.as_ref())
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "<none>".into());
    w.write(0, &format!("Node-Selector:\t{node_sel}\n"));
    format::labels(&mut w, "Labels", d.metadata.labels.as_ref());
    format::annotations(&mut w, "Annotations", d.metadata.annotations.as_ref());
    w.write(
        0,
        &format!(
            "Desired Number of Nodes Scheduled: {}\n",
            status.desired_number_scheduled
        ),
    );
    w.write(
        0,
        &format!(
            "Current Number of Nodes Scheduled: {}\n",
            status.current_number_scheduled
        ),
    );
    w.write(
        0,
        &format!(
            "Number of Nodes Scheduled with Up-to-date Pods: {}\n",
            status.updated_number_scheduled.unwrap_or(0)
        ),
    );
    w.write(
        0,
        &format!(
            "Number of Nodes Scheduled with Available Pods: {}\n",
            status.number_available.unwrap_or(0)
        ),
    );
    w.write(
        0,
        &format!(
            "Number of Nodes Misscheduled: {}\n",
            status.number_misscheduled
        ),
    );
    w.write(0, &format!("Pods Status:\t{}\n", pods.text()));
    pod_template(&mut w, Some(&spec.template));
    if let Some(ev) = events {
        format::events(&mut w, ev);
    }
    w.finish()
}

/// `describeJob`.
pub fn describe_job(j: &Job, events: Option<&[Event]>) -> String {
    let mut w = Writer::new();
    let spec = j.spec.clone().unwrap_or_default();
    let status = j.status.clone().unwrap_or_default();
    name_ns(&mut w, &j.metadata);
    match selector_string(spec.selector.as_ref()) {
        Ok(s) => w.write(0, &format!("Selector:\t{s}\n")),
        Err(e) => w.write(0, &format!("Selector:\tFailed to get selector: {e}\n")),
    }
    format::labels(&mut w, "Labels", j.metadata.labels.as_ref());
    format::annotations(&mut w, "Annotations", j.metadata.annotations.as_ref());
    if let Some(c) = format::controller(j.metadata.owner_references.as_ref()) {
        w.write(0, &format!("Controlled By:\t{c}\n"));
    }
    if let Some(p) = spec.parallelism {
        w.write(0, &format!("Parallelism:\t{p}\n"));
    }
    match spec.completions {
        Some(c) => w.write(0, &format!("Completions:\t{c}\n")),
        None => w.write(0, "Completions:\t<unset>\n"),
    }
    if let Some(m) = &spec.completion_mode {
        w.write(0, &format!("Completion Mode:\t{m}\n"));
    }
    if let Some(s) = spec.suspend {
        w.write(0, &format!("Suspend:\t{s}\n"));
    }
    if let Some(b) = spec.backoff_limit {
        w.write(0, &format!("Backoff Limit:\t{b}\n"));
    }
    if let Some(t) = spec.ttl_seconds_after_finished {
        w.write(0, &format!("TTL Seconds After Finished:\t{t}\n"));
    }
    if let Some(t) = &status.start_time {
        w.write(0, &format!("Start Time:\t{}\n", rfc1123z(&t.0)));
    }
    if let Some(t) = &status.completion_time {
        w.write(0, &format!("Completed At:\t{}\n", rfc1123z(&t.0)));
    }
    if let (Some(s), Some(c)) = (&status.start_time, &status.completion_time) {
        let secs = c.0.duration_since(s.0).as_secs();
        w.write(0, &format!("Duration:\t{}\n", format::human_duration(secs)));
    }
    if let Some(a) = spec.active_deadline_seconds {
        w.write(0, &format!("Active Deadline Seconds:\t{a}s\n"));
    }
    let active = status.active.unwrap_or(0);
    let succeeded = status.succeeded.unwrap_or(0);
    let failed = status.failed.unwrap_or(0);
    match status.ready {
        None => w.write(
            0,
            &format!("Pods Statuses:\t{active} Active / {succeeded} Succeeded / {failed} Failed\n"),
        ),
        Some(r) => w.write(
            0,
            &format!(
                "Pods Statuses:\t{active} Active ({r} Ready) / {succeeded} Succeeded / {failed} Failed\n"
            ),
        ),
    }
    if spec.completion_mode.as_deref() == Some("Indexed") {
        w.write(
            0,
            &format!(
                "Completed Indexes:\t{}\n",
                cap_indexes(status.completed_indexes.as_deref().unwrap_or_default(), 50)
            ),
        );
    }
    pod_template(&mut w, Some(&spec.template));
    if let Some(ev) = events {
        format::events(&mut w, ev);
    }
    w.finish()
}

/// `describeReplicationController`.
pub fn describe_replication_controller(
    rc: &k8s_openapi::api::core::v1::ReplicationController,
    pods: PodCounts,
    events: Option<&[Event]>,
) -> String {
    let mut w = Writer::new();
    let spec = rc.spec.clone().unwrap_or_default();
    let status = rc.status.clone().unwrap_or_default();
    name_ns(&mut w, &rc.metadata);
    let sel = spec
        .selector
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    w.write(
        0,
        &format!(
            "Selector:\t{}\n",
            if sel.is_empty() { "<none>" } else { &sel }
        ),
    );
    format::labels(&mut w, "Labels", rc.metadata.labels.as_ref());
    format::annotations(&mut w, "Annotations", rc.metadata.annotations.as_ref());
    w.write(
        0,
        &format!(
            "Replicas:\t{} current / {} desired\n",
            status.replicas,
            spec.replicas.unwrap_or(1)
        ),
    );
    w.write(0, &format!("Pods Status:\t{}\n", pods.text()));
    pod_template(&mut w, spec.template.as_ref());
    let conds: Vec<_> = status
        .conditions
        .iter()
        .flatten()
        .map(|c| {
            (
                c.type_.clone(),
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
            )
        })
        .collect();
    conditions(&mut w, &conds);
    if let Some(ev) = events {
        format::events(&mut w, ev);
    }
    w.finish()
}

/// `describeCronJob`.
pub fn describe_cron_job(
    cj: &k8s_openapi::api::batch::v1::CronJob,
    events: Option<&[Event]>,
) -> String {
    let mut w = Writer::new();
    let spec = cj.spec.clone().unwrap_or_default();
    let status = cj.status.clone().unwrap_or_default();
    name_ns(&mut w, &cj.metadata);
    format::labels(&mut w, "Labels", cj.metadata.labels.as_ref());
    format::annotations(&mut w, "Annotations", cj.metadata.annotations.as_ref());
    w.write(0, &format!("Schedule:\t{}\n", spec.schedule));
    w.write(
        0,
        &format!(
            "Concurrency Policy:\t{}\n",
            spec.concurrency_policy.as_deref().unwrap_or_default()
        ),
    );
    w.write(
        0,
        &format!(
            "Suspend:\t{}\n",
            spec.suspend.map_or("<unset>", format::bool_title)
        ),
    );
    let opt =
        |v: Option<i32>, suffix: &str| v.map_or("<unset>".to_string(), |n| format!("{n}{suffix}"));
    w.write(
        0,
        &format!(
            "Successful Job History Limit:\t{}\n",
            opt(spec.successful_jobs_history_limit, "")
        ),
    );
    w.write(
        0,
        &format!(
            "Failed Job History Limit:\t{}\n",
            opt(spec.failed_jobs_history_limit, "")
        ),
    );
    w.write(
        0,
        &format!(
            "Starting Deadline Seconds:\t{}\n",
            spec.starting_deadline_seconds
                .map_or("<unset>".to_string(), |n| format!("{n}s"))
        ),
    );
    let jt = spec.job_template.spec.clone().unwrap_or_default();
    match jt.selector.as_ref() {
        Some(sel) => match selector_string(Some(sel)) {
            Ok(s) => w.write(0, &format!("Selector:\t{s}\n")),
            Err(e) => w.write(0, &format!("Selector:\tFailed to get selector: {e}\n")),
        },
        None => w.write(0, "Selector:\t<unset>\n"),
    }
    w.write(0, &format!("Parallelism:\t{}\n", opt(jt.parallelism, "")));
    w.write(0, &format!("Completions:\t{}\n", opt(jt.completions, "")));
    if let Some(a) = jt.active_deadline_seconds {
        w.write(0, &format!("Active Deadline Seconds:\t{a}s\n"));
    }
    pod_template(&mut w, Some(&jt.template));
    match &status.last_schedule_time {
        Some(t) => w.write(0, &format!("Last Schedule Time:\t{}\n", rfc1123z(&t.0))),
        None => w.write(0, "Last Schedule Time:\t<unset>\n"),
    }
    w.write(0, "Active Jobs:\t");
    let active = status.active.unwrap_or_default();
    if active.is_empty() {
        w.line("<none>");
    } else {
        let names: Vec<String> = active
            .iter()
            .map(|j| j.name.clone().unwrap_or_default())
            .collect();
        w.write(0, &names.join(", "));
        w.line("");
    }
    if let Some(ev) = events {
        format::events(&mut w, ev);
    }
    w.finish()
}

/// `capIndexesListOrNone`.
fn cap_indexes(indexes: &str, soft_limit: usize) -> String {
    if indexes.is_empty() {
        return "<none>".into();
    }
    let b = indexes.as_bytes();
    let mut ix = soft_limit;
    while ix < b.len() && b[ix] != b',' {
        ix += 1;
    }
    if ix >= b.len() {
        return indexes.to_string();
    }
    format!("{}...", &indexes[..=ix])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_cap_at_a_comma() {
        assert_eq!(cap_indexes("", 50), "<none>");
        assert_eq!(cap_indexes("1,2,3", 2), "1,2,...");
        assert_eq!(cap_indexes("1-3", 50), "1-3");
    }

    #[test]
    fn hash_label_is_ignored() {
        let a = serde_json::json!({"metadata": {"labels": {"app": "x", "pod-template-hash": "abc"}}, "spec": {"containers": [{"name": "c", "env": []}]}});
        let b = serde_json::json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c"}]}});
        assert_eq!(template_key(&a), template_key(&b));
    }

    #[test]
    fn pod_counts_only_owned() {
        let pods: Vec<Pod> = serde_json::from_value(serde_json::json!([
            {"metadata": {"name": "a", "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "x", "uid": "u1", "controller": true}]}, "status": {"phase": "Running"}},
            {"metadata": {"name": "b", "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "x", "uid": "u2", "controller": true}]}, "status": {"phase": "Running"}},
            {"metadata": {"name": "c", "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "x", "uid": "u1", "controller": true}]}, "status": {"phase": "Pending"}}
        ]))
        .unwrap();
        assert_eq!(PodCounts::of(&pods, "u1"), PodCounts(1, 1, 0, 0));
    }
}
