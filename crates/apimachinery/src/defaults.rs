//! Defaulting per kind, following upstream Kubernetes (v1.33) `SetDefaults_*`
//! functions (plus the few values upstream fills in at admission or
//! serialization that clients rely on, such as a Pod's `priority`).
//!
//! Defaulting only fills what is missing, so applying it twice is the same as
//! applying it once. Objects are unstructured `serde_json::Value`s in their
//! request version.

use serde_json::{json, Map, Value};

/// Applies upstream's defaults for `group`/`kind` to `obj` in place.
pub fn apply_defaults(group: &str, kind: &str, obj: &mut Value) {
    if !obj.is_object() {
        return;
    }
    match (group, kind) {
        ("", "Pod") => default_pod(obj),
        ("", "PodTemplate") => default_pod_template(ensure_obj(obj, "template"), true),
        ("", "ReplicationController") => default_replication_controller(obj),
        ("", "Service") => default_service(obj),
        ("", "Namespace") => default_namespace(obj),
        ("", "Secret") => {
            merge_string_data(obj);
            set_str_if_empty(obj, "type", "Opaque");
        }
        ("", "Node") => default_node(obj),
        ("", "PersistentVolumeClaim") => default_pvc(obj),
        ("", "PersistentVolume") => default_pv(obj),
        ("", "Endpoints") => {
            for ss in array_mut(obj, "subsets") {
                for p in array_mut(ss, "ports") {
                    set_str_if_empty(p, "protocol", "TCP");
                }
            }
        }
        ("discovery.k8s.io", "EndpointSlice") => {
            for p in array_mut(obj, "ports") {
                set_if_missing(p, "name", json!(""));
                set_if_missing(p, "protocol", json!("TCP"));
            }
        }
        ("apps", "Deployment") => default_deployment(obj),
        ("apps", "ReplicaSet") => {
            let spec = ensure_obj(obj, "spec");
            set_if_missing(spec, "replicas", json!(1));
            default_pod_template(ensure_obj(spec, "template"), true);
        }
        ("apps", "StatefulSet") => default_statefulset(obj),
        ("apps", "DaemonSet") => default_daemonset(obj),
        ("batch", "Job") => {
            default_job(obj);
            // On create (no resourceVersion yet, uid assigned) the selector
            // is generated as upstream's Job strategy does.
            let md = obj.get("metadata").cloned().unwrap_or(Value::Null);
            if !is_set(&md, "resourceVersion") && is_set(&md, "uid") {
                generate_job_selector(obj);
            }
        }
        ("batch", "CronJob") => default_cronjob(obj),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            set_str_if_empty(
                ensure_obj(obj, "roleRef"),
                "apiGroup",
                "rbac.authorization.k8s.io",
            );
            for s in array_mut(obj, "subjects") {
                if str_of(s, "apiGroup").is_empty() {
                    match str_of(s, "kind") {
                        "ServiceAccount" => set_if_missing(s, "apiGroup", json!("")),
                        "User" | "Group" => {
                            set_str_if_empty(s, "apiGroup", "rbac.authorization.k8s.io")
                        }
                        _ => {}
                    }
                }
            }
        }
        ("storage.k8s.io", "StorageClass") => {
            set_if_missing(obj, "reclaimPolicy", json!("Delete"));
            set_if_missing(obj, "volumeBindingMode", json!("Immediate"));
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            set_if_missing(obj, "preemptionPolicy", json!("PreemptLowerPriority"));
        }
        ("networking.k8s.io", "NetworkPolicy") => default_network_policy(obj),
        ("autoscaling", "HorizontalPodAutoscaler") => default_hpa(obj),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => {
            for w in array_mut(obj, "webhooks") {
                default_webhook(w, false);
            }
        }
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") => {
            for w in array_mut(obj, "webhooks") {
                default_webhook(w, true);
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => default_crd(obj),
        _ => {}
    }
}

/// Upstream's Job strategy `generateSelector` (run at create unless
/// `spec.manualSelector` is true): labels the template with the job's name
/// and uid and selects on the uid. Needs `metadata.uid`; does nothing
/// without it. This is the registry's to call, not part of `apply_defaults`.
pub fn generate_job_selector(job: &mut Value) {
    let md = job.get("metadata").cloned().unwrap_or(Value::Null);
    let uid = str_of(&md, "uid").to_string();
    let name = str_of(&md, "name").to_string();
    if uid.is_empty() {
        return;
    }
    let spec = ensure_obj(job, "spec");
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let labels = ensure_obj(
        ensure_obj(ensure_obj(spec, "template"), "metadata"),
        "labels",
    );
    for k in ["job-name", "batch.kubernetes.io/job-name"] {
        set_if_missing(labels, k, json!(name));
    }
    for k in ["controller-uid", "batch.kubernetes.io/controller-uid"] {
        set_if_missing(labels, k, json!(uid));
    }
    let ml = ensure_obj(ensure_obj(spec, "selector"), "matchLabels");
    set_if_missing(ml, "batch.kubernetes.io/controller-uid", json!(uid));
}

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn is_set(v: &Value, k: &str) -> bool {
    v.get(k).is_some_and(|x| !x.is_null())
}

/// `v[k]` as an object, created (or replaced when null) if missing.
fn ensure_obj<'a>(v: &'a mut Value, k: &str) -> &'a mut Value {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    let m = v.as_object_mut().expect("object");
    let e = m.entry(k).or_insert_with(|| Value::Object(Map::new()));
    if e.is_null() {
        *e = Value::Object(Map::new());
    }
    e
}

/// Sets `v[k]` when missing or null.
fn set_if_missing(v: &mut Value, k: &str, val: Value) {
    if let Some(m) = v.as_object_mut() {
        let e = m.entry(k).or_insert(Value::Null);
        if e.is_null() {
            *e = val;
        }
    }
}

/// Sets `v[k]` when missing, null or the empty string.
fn set_str_if_empty(v: &mut Value, k: &str, s: &str) {
    if str_of(v, k).is_empty() {
        if let Some(m) = v.as_object_mut() {
            m.insert(k.to_string(), json!(s));
        }
    }
}

/// Sets an integer `v[k]` when missing, null or zero (upstream's `== 0`
/// checks on non-pointer fields).
fn set_int_if_zero(v: &mut Value, k: &str, n: i64) {
    let cur = v.get(k).and_then(Value::as_i64).unwrap_or(0);
    if cur == 0 {
        if let Some(m) = v.as_object_mut() {
            m.insert(k.to_string(), json!(n));
        }
    }
}

/// The elements of the array `v[k]` (nothing when missing).
fn array_mut<'a>(v: &'a mut Value, k: &str) -> std::slice::IterMut<'a, Value> {
    match v.get_mut(k).and_then(Value::as_array_mut) {
        Some(a) => a.iter_mut(),
        None => [].iter_mut(),
    }
}

/// `v[k]` as a mutable object value, when present and an object.
fn obj_mut<'a>(v: &'a mut Value, k: &str) -> Option<&'a mut Value> {
    v.get_mut(k).filter(|x| x.is_object())
}

// ---------------------------------------------------------------------------
// Pods and pod templates.
// ---------------------------------------------------------------------------

const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

fn default_pod(pod: &mut Value) {
    let spec = ensure_obj(pod, "spec");
    // Requests default to limits (Pods only, not templates).
    for list in ["containers", "initContainers"] {
        for c in array_mut(spec, list) {
            let Some(res) = obj_mut(c, "resources") else {
                continue;
            };
            let Some(limits) = res.get("limits").and_then(Value::as_object).cloned() else {
                continue;
            };
            let requests = ensure_obj(res, "requests");
            if let Some(r) = requests.as_object_mut() {
                for (k, v) in limits {
                    r.entry(k).or_insert(v);
                }
            }
        }
    }
    set_if_missing(spec, "enableServiceLinks", json!(true));
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for list in ["containers", "initContainers"] {
            for c in array_mut(spec, list) {
                for p in array_mut(c, "ports") {
                    if p.get("hostPort").and_then(Value::as_i64).unwrap_or(0) == 0 {
                        if let Some(cp) = p.get("containerPort").cloned() {
                            p["hostPort"] = cp;
                        }
                    }
                }
            }
        }
    }
    // `priority` and `preemptionPolicy` are set by the Priority admission
    // plugin, which resolves the PriorityClass.
    default_pod_spec(spec, true);
}

/// A `PodTemplateSpec`: defaults its pod spec. `restart_policy` is false for
/// Job templates, whose restart policy the user must choose.
fn default_pod_template(tpl: &mut Value, restart_policy: bool) {
    default_pod_spec(ensure_obj(tpl, "spec"), restart_policy);
}

fn default_pod_spec(spec: &mut Value, restart_policy: bool) {
    set_str_if_empty(spec, "dnsPolicy", "ClusterFirst");
    if restart_policy {
        set_str_if_empty(spec, "restartPolicy", "Always");
    }
    set_if_missing(spec, "securityContext", json!({}));
    set_if_missing(spec, "terminationGracePeriodSeconds", json!(30));
    set_str_if_empty(spec, "schedulerName", "default-scheduler");
    for v in array_mut(spec, "volumes") {
        default_volume(v);
    }
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for c in array_mut(spec, list) {
            default_container(c);
        }
    }
}

/// Whether upstream's image reference parser would report the tag `latest`
/// (explicit, or implied by a reference with neither tag nor digest).
fn image_tag_is_latest(image: &str) -> bool {
    if image.is_empty() || image.chars().any(|c| c.is_whitespace()) {
        return false;
    }
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last_slash = name.rfind('/');
    let (repo, tag) = match name.rfind(':') {
        Some(i) if last_slash.is_none_or(|s| i > s) => (&name[..i], Some(&name[i + 1..])),
        _ => (name, None),
    };
    if !reference_is_valid(repo, tag, digest) {
        return false;
    }
    match (tag, digest) {
        (Some(t), _) => t == "latest",
        (None, Some(_)) => false,
        (None, None) => true,
    }
}

/// A modest check of the docker reference grammar: path components are
/// lowercase, the optional domain may hold a port, tags are `[\w][\w.-]*`.
fn reference_is_valid(repo: &str, tag: Option<&str>, digest: Option<&str>) -> bool {
    if repo.is_empty() {
        return false;
    }
    let mut parts: Vec<&str> = repo.split('/').collect();
    let first = parts[0];
    if parts.len() > 1
        && (first.contains('.')
            || first.contains(':')
            || first == "localhost"
            || first.chars().any(|c| c.is_ascii_uppercase()))
    {
        parts.remove(0);
        let host = first.split(':').next().unwrap_or("");
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return false;
        }
    }
    let path_ok = parts.iter().all(|p| {
        !p.is_empty()
            && p.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_' || c == '-'
            })
            && p.starts_with(|c: char| c.is_ascii_alphanumeric())
            && p.ends_with(|c: char| c.is_ascii_alphanumeric())
    });
    let tag_ok = tag.is_none_or(|t| {
        !t.is_empty()
            && t.len() <= 128
            && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
    });
    let digest_ok = digest.is_none_or(|d| {
        d.split_once(':')
            .is_some_and(|(a, h)| !a.is_empty() && h.len() >= 32)
    });
    path_ok && tag_ok && digest_ok
}

fn default_container(c: &mut Value) {
    if str_of(c, "imagePullPolicy").is_empty() {
        let policy = if image_tag_is_latest(str_of(c, "image")) {
            "Always"
        } else {
            "IfNotPresent"
        };
        c["imagePullPolicy"] = json!(policy);
    }
    set_str_if_empty(c, "terminationMessagePath", "/dev/termination-log");
    set_str_if_empty(c, "terminationMessagePolicy", "File");
    set_if_missing(c, "resources", json!({}));
    for p in array_mut(c, "ports") {
        set_str_if_empty(p, "protocol", "TCP");
    }
    for e in array_mut(c, "env") {
        if let Some(fr) = e
            .get_mut("valueFrom")
            .and_then(|vf| obj_mut(vf, "fieldRef"))
        {
            set_str_if_empty(fr, "apiVersion", "v1");
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = obj_mut(c, probe) {
            set_int_if_zero(p, "timeoutSeconds", 1);
            set_int_if_zero(p, "periodSeconds", 10);
            set_int_if_zero(p, "successThreshold", 1);
            set_int_if_zero(p, "failureThreshold", 3);
            if let Some(h) = obj_mut(p, "httpGet") {
                default_http_get(h);
            }
            if let Some(g) = obj_mut(p, "grpc") {
                set_if_missing(g, "service", json!(""));
            }
        }
    }
    if let Some(lc) = obj_mut(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = lc.get_mut(hook).and_then(|h| obj_mut(h, "httpGet")) {
                default_http_get(h);
            }
        }
    }
}

fn default_http_get(h: &mut Value) {
    set_str_if_empty(h, "path", "/");
    set_str_if_empty(h, "scheme", "HTTP");
}

fn default_field_ref_items(items_owner: &mut Value) {
    for item in array_mut(items_owner, "items") {
        if let Some(fr) = obj_mut(item, "fieldRef") {
            set_str_if_empty(fr, "apiVersion", "v1");
        }
    }
}

fn default_volume(v: &mut Value) {
    if !VOLUME_SOURCES.iter().any(|s| is_set(v, s)) {
        if let Some(m) = v.as_object_mut() {
            m.insert("emptyDir".to_string(), json!({}));
        }
    }
    if let Some(hp) = obj_mut(v, "hostPath") {
        set_if_missing(hp, "type", json!(""));
    }
    for src in ["secret", "configMap"] {
        if let Some(s) = obj_mut(v, src) {
            set_if_missing(s, "defaultMode", json!(420));
        }
    }
    if let Some(d) = obj_mut(v, "downwardAPI") {
        set_if_missing(d, "defaultMode", json!(420));
        default_field_ref_items(d);
    }
    if let Some(p) = obj_mut(v, "projected") {
        set_if_missing(p, "defaultMode", json!(420));
        for src in array_mut(p, "sources") {
            if let Some(d) = obj_mut(src, "downwardAPI") {
                default_field_ref_items(d);
            }
            if let Some(t) = obj_mut(src, "serviceAccountToken") {
                set_if_missing(t, "expirationSeconds", json!(3600));
            }
        }
    }
    default_legacy_sources(v);
    if let Some(e) = obj_mut(v, "ephemeral") {
        if let Some(t) = obj_mut(e, "volumeClaimTemplate") {
            set_if_missing(ensure_obj(t, "spec"), "volumeMode", json!("Filesystem"));
        }
    }
}

/// Defaults of in-tree volume sources shared by Pods and PersistentVolumes.
fn default_legacy_sources(v: &mut Value) {
    if let Some(s) = obj_mut(v, "iscsi") {
        set_str_if_empty(s, "iscsiInterface", "default");
    }
    if let Some(s) = obj_mut(v, "rbd") {
        set_str_if_empty(s, "pool", "rbd");
        set_str_if_empty(s, "user", "admin");
        set_str_if_empty(s, "keyring", "/etc/ceph/keyring");
    }
    if let Some(s) = obj_mut(v, "azureDisk") {
        set_if_missing(s, "cachingMode", json!("ReadWrite"));
        set_if_missing(s, "kind", json!("Shared"));
        set_if_missing(s, "fsType", json!("ext4"));
        set_if_missing(s, "readOnly", json!(false));
    }
    if let Some(s) = obj_mut(v, "scaleIO") {
        set_str_if_empty(s, "storageMode", "ThinProvisioned");
        set_str_if_empty(s, "fsType", "xfs");
    }
}

fn default_replication_controller(rc: &mut Value) {
    let tpl_labels = rc
        .get("spec")
        .and_then(|s| s.get("template"))
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.is_object())
        .cloned();
    if let Some(labels) = tpl_labels {
        let spec = ensure_obj(rc, "spec");
        if spec
            .get("selector")
            .and_then(Value::as_object)
            .is_none_or(|s| s.is_empty())
        {
            spec["selector"] = labels.clone();
        }
        let md = ensure_obj(rc, "metadata");
        if md
            .get("labels")
            .and_then(Value::as_object)
            .is_none_or(|l| l.is_empty())
        {
            md["labels"] = labels;
        }
    }
    let spec = ensure_obj(rc, "spec");
    set_if_missing(spec, "replicas", json!(1));
    if let Some(t) = obj_mut(spec, "template") {
        default_pod_template(t, true);
    }
}

// ---------------------------------------------------------------------------
// Workloads.
// ---------------------------------------------------------------------------

fn default_deployment(d: &mut Value) {
    let spec = ensure_obj(d, "spec");
    set_if_missing(spec, "replicas", json!(1));
    let strategy = ensure_obj(spec, "strategy");
    set_str_if_empty(strategy, "type", "RollingUpdate");
    if str_of(strategy, "type") == "RollingUpdate" {
        let ru = ensure_obj(strategy, "rollingUpdate");
        set_if_missing(ru, "maxUnavailable", json!("25%"));
        set_if_missing(ru, "maxSurge", json!("25%"));
    }
    set_if_missing(spec, "revisionHistoryLimit", json!(10));
    set_if_missing(spec, "progressDeadlineSeconds", json!(600));
    default_pod_template(ensure_obj(spec, "template"), true);
}

fn default_statefulset(s: &mut Value) {
    let spec = ensure_obj(s, "spec");
    set_str_if_empty(spec, "podManagementPolicy", "OrderedReady");
    let us = ensure_obj(spec, "updateStrategy");
    if str_of(us, "type").is_empty() {
        us["type"] = json!("RollingUpdate");
        ensure_obj(us, "rollingUpdate");
    }
    if str_of(us, "type") == "RollingUpdate" {
        if let Some(ru) = obj_mut(us, "rollingUpdate") {
            set_if_missing(ru, "partition", json!(0));
        }
    }
    let policy = ensure_obj(spec, "persistentVolumeClaimRetentionPolicy");
    set_str_if_empty(policy, "whenDeleted", "Retain");
    set_str_if_empty(policy, "whenScaled", "Retain");
    set_if_missing(spec, "replicas", json!(1));
    set_if_missing(spec, "revisionHistoryLimit", json!(10));
    for pvc in array_mut(spec, "volumeClaimTemplates") {
        set_if_missing(pvc, "apiVersion", json!("v1"));
        set_if_missing(pvc, "kind", json!("PersistentVolumeClaim"));
        default_pvc(pvc);
    }
    default_pod_template(ensure_obj(spec, "template"), true);
}

fn default_daemonset(ds: &mut Value) {
    let spec = ensure_obj(ds, "spec");
    let us = ensure_obj(spec, "updateStrategy");
    set_str_if_empty(us, "type", "RollingUpdate");
    if str_of(us, "type") == "RollingUpdate" {
        let ru = ensure_obj(us, "rollingUpdate");
        set_if_missing(ru, "maxUnavailable", json!(1));
        set_if_missing(ru, "maxSurge", json!(0));
    }
    set_if_missing(spec, "revisionHistoryLimit", json!(10));
    default_pod_template(ensure_obj(spec, "template"), true);
}

fn default_job_spec_template(spec: &mut Value) {
    default_pod_template(ensure_obj(spec, "template"), false);
}

fn default_job(job: &mut Value) {
    let tpl_labels = job
        .get("spec")
        .and_then(|s| s.get("template"))
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.is_object())
        .cloned();
    if let Some(labels) = tpl_labels {
        let md = ensure_obj(job, "metadata");
        if md
            .get("labels")
            .and_then(Value::as_object)
            .is_none_or(|l| l.is_empty())
        {
            md["labels"] = labels;
        }
    }
    let spec = ensure_obj(job, "spec");
    if !is_set(spec, "completions") && !is_set(spec, "parallelism") {
        spec["completions"] = json!(1);
        spec["parallelism"] = json!(1);
    }
    set_if_missing(spec, "parallelism", json!(1));
    let backoff = if is_set(spec, "backoffLimitPerIndex") {
        i64::from(i32::MAX)
    } else {
        6
    };
    set_if_missing(spec, "backoffLimit", json!(backoff));
    set_if_missing(spec, "completionMode", json!("NonIndexed"));
    set_if_missing(spec, "suspend", json!(false));
    let has_pfp = is_set(spec, "podFailurePolicy");
    if let Some(pfp) = obj_mut(spec, "podFailurePolicy") {
        for rule in array_mut(pfp, "rules") {
            for pattern in array_mut(rule, "onPodConditions") {
                set_str_if_empty(pattern, "status", "True");
            }
        }
    }
    let replacement = if has_pfp {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    set_if_missing(spec, "podReplacementPolicy", json!(replacement));
    default_job_spec_template(spec);
}

fn default_cronjob(cj: &mut Value) {
    let spec = ensure_obj(cj, "spec");
    set_str_if_empty(spec, "concurrencyPolicy", "Allow");
    set_if_missing(spec, "suspend", json!(false));
    set_if_missing(spec, "successfulJobsHistoryLimit", json!(3));
    set_if_missing(spec, "failedJobsHistoryLimit", json!(1));
    let jt = ensure_obj(spec, "jobTemplate");
    default_job_spec_template(ensure_obj(jt, "spec"));
}

// ---------------------------------------------------------------------------
// Services, namespaces, nodes, storage.
// ---------------------------------------------------------------------------

fn default_service(svc: &mut Value) {
    let spec = ensure_obj(svc, "spec");
    set_str_if_empty(spec, "sessionAffinity", "None");
    match str_of(spec, "sessionAffinity") {
        "None" => {
            if let Some(m) = spec.as_object_mut() {
                m.remove("sessionAffinityConfig");
            }
        }
        "ClientIP" => {
            let has_timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.get("clientIP"))
                .and_then(|c| c.get("timeoutSeconds"))
                .is_some_and(|t| !t.is_null());
            if !has_timeout {
                spec["sessionAffinityConfig"] = json!({"clientIP": {"timeoutSeconds": 10800}});
            }
        }
        _ => {}
    }
    set_str_if_empty(spec, "type", "ClusterIP");
    for p in array_mut(spec, "ports") {
        set_str_if_empty(p, "protocol", "TCP");
        let unset = match p.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(v) => v.as_i64() == Some(0),
        };
        if unset {
            let port = p.get("port").cloned().unwrap_or(json!(0));
            p["targetPort"] = port;
        }
    }
    let ty = str_of(spec, "type").to_string();
    let has_external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let externally_accessible =
        ty == "LoadBalancer" || ty == "NodePort" || (ty == "ClusterIP" && has_external_ips);
    if externally_accessible {
        set_str_if_empty(spec, "externalTrafficPolicy", "Cluster");
    }
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer" | "ClusterIP") {
        set_if_missing(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        set_if_missing(spec, "allocateLoadBalancerNodePorts", json!(true));
        if let Some(status) = obj_mut(svc, "status") {
            if let Some(lb) = obj_mut(status, "loadBalancer") {
                for ing in array_mut(lb, "ingress") {
                    if !str_of(ing, "ip").is_empty() {
                        set_if_missing(ing, "ipMode", json!("VIP"));
                    }
                }
            }
        }
    }
    let spec = ensure_obj(svc, "spec");
    if ty != "ExternalName" {
        default_ip_families(spec);
    }
}

/// The IP family fields a single-stack cluster assigns (upstream does this
/// in the Service registry, alongside clusterIP allocation).
fn default_ip_families(spec: &mut Value) {
    let cluster_ip = spec
        .get("clusterIPs")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .unwrap_or_else(|| str_of(spec, "clusterIP"))
        .to_string();
    let family = match cluster_ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(_)) => "IPv6",
        _ => "IPv4",
    };
    let selectorless = spec
        .get("selector")
        .and_then(Value::as_object)
        .is_none_or(|s| s.is_empty());
    let policy = if cluster_ip == "None" && selectorless {
        "RequireDualStack"
    } else {
        "SingleStack"
    };
    set_if_missing(spec, "ipFamilyPolicy", json!(policy));
    let empty = spec
        .get("ipFamilies")
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty());
    if empty {
        spec["ipFamilies"] = json!([family]);
    }
}

fn default_namespace(ns: &mut Value) {
    let name = ns
        .get("metadata")
        .map(|m| str_of(m, "name").to_string())
        .unwrap_or_default();
    if !name.is_empty() {
        let labels = ensure_obj(ensure_obj(ns, "metadata"), "labels");
        labels["kubernetes.io/metadata.name"] = json!(name);
    }
    // The `kubernetes` finalizer is a create-time value (upstream sets it in
    // the Namespace strategy, and the namespace controller later removes it),
    // so only add it to an object that has not been stored yet (no
    // resourceVersion, or no status) and is not being deleted.
    let md = ns.get("metadata").cloned().unwrap_or(Value::Null);
    let stored =
        is_set(&md, "resourceVersion") && ns.get("status").is_some_and(|s| is_set(s, "phase"));
    let fresh = !stored && !is_set(&md, "deletionTimestamp");
    if fresh {
        let spec = ensure_obj(ns, "spec");
        let finalizers = spec
            .get("finalizers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if !finalizers.iter().any(|f| f.as_str() == Some("kubernetes")) {
            let mut f = finalizers;
            f.push(json!("kubernetes"));
            spec["finalizers"] = Value::Array(f);
        }
    }
    set_str_if_empty(ensure_obj(ns, "status"), "phase", "Active");
}

/// `stringData` is write-only: upstream's v1 conversion folds it into
/// `data` (overwriting same keys), so it is never stored or returned.
fn merge_string_data(secret: &mut Value) {
    use base64::Engine;
    let Some(sd) = secret.as_object_mut().and_then(|m| m.remove("stringData")) else {
        return;
    };
    let Some(sd) = sd.as_object().filter(|m| !m.is_empty()) else {
        return;
    };
    let data = ensure_obj(secret, "data");
    for (k, v) in sd {
        let raw = match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        data[k.as_str()] = json!(base64::engine::general_purpose::STANDARD.encode(raw));
    }
}

fn default_node(node: &mut Value) {
    if let Some(status) = obj_mut(node, "status") {
        if !is_set(status, "allocatable") {
            if let Some(cap) = status.get("capacity").filter(|c| c.is_object()).cloned() {
                status["allocatable"] = cap;
            }
        }
    }
}

fn default_pvc(pvc: &mut Value) {
    set_if_missing(ensure_obj(pvc, "spec"), "volumeMode", json!("Filesystem"));
    set_str_if_empty(ensure_obj(pvc, "status"), "phase", "Pending");
}

fn default_pv(pv: &mut Value) {
    set_str_if_empty(ensure_obj(pv, "status"), "phase", "Pending");
    let spec = ensure_obj(pv, "spec");
    set_str_if_empty(spec, "persistentVolumeReclaimPolicy", "Retain");
    set_if_missing(spec, "volumeMode", json!("Filesystem"));
    if let Some(hp) = obj_mut(spec, "hostPath") {
        set_if_missing(hp, "type", json!(""));
    }
    default_legacy_sources(spec);
}

// ---------------------------------------------------------------------------
// Other groups.
// ---------------------------------------------------------------------------

fn default_network_policy(np: &mut Value) {
    let spec = ensure_obj(np, "spec");
    for dir in ["ingress", "egress"] {
        for rule in array_mut(spec, dir) {
            for p in array_mut(rule, "ports") {
                set_if_missing(p, "protocol", json!("TCP"));
            }
        }
    }
    let no_types = spec
        .get("policyTypes")
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty());
    if no_types {
        let has_egress = spec
            .get("egress")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        spec["policyTypes"] = if has_egress {
            json!(["Ingress", "Egress"])
        } else {
            json!(["Ingress"])
        };
    }
}

fn default_scaling_rules(rules: &mut Value, window: i64, policies: Value) {
    set_if_missing(rules, "stabilizationWindowSeconds", json!(window));
    set_if_missing(rules, "selectPolicy", json!("Max"));
    set_if_missing(rules, "policies", policies);
}

fn default_hpa(hpa: &mut Value) {
    let v1 = str_of(hpa, "apiVersion") == "autoscaling/v1";
    let spec = ensure_obj(hpa, "spec");
    set_if_missing(spec, "minReplicas", json!(1));
    if v1 {
        return;
    }
    let no_metrics = spec
        .get("metrics")
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty());
    if no_metrics {
        spec["metrics"] = json!([{
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}
        }]);
    }
    if let Some(b) = obj_mut(spec, "behavior") {
        default_scaling_rules(
            ensure_obj(b, "scaleUp"),
            0,
            json!([
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15}
            ]),
        );
        default_scaling_rules(
            ensure_obj(b, "scaleDown"),
            300,
            json!([{"type": "Percent", "value": 100, "periodSeconds": 15}]),
        );
    }
}

fn default_webhook(w: &mut Value, mutating: bool) {
    set_if_missing(w, "failurePolicy", json!("Fail"));
    set_if_missing(w, "matchPolicy", json!("Equivalent"));
    set_if_missing(w, "namespaceSelector", json!({}));
    set_if_missing(w, "objectSelector", json!({}));
    set_if_missing(w, "timeoutSeconds", json!(10));
    if mutating {
        set_if_missing(w, "reinvocationPolicy", json!("Never"));
    }
    for r in array_mut(w, "rules") {
        set_if_missing(r, "scope", json!("*"));
    }
    if let Some(svc) = w
        .get_mut("clientConfig")
        .and_then(|c| obj_mut(c, "service"))
    {
        set_if_missing(svc, "port", json!(443));
    }
}

fn default_crd(crd: &mut Value) {
    let spec = ensure_obj(crd, "spec");
    let conv = ensure_obj(spec, "conversion");
    set_str_if_empty(conv, "strategy", "None");
    if str_of(conv, "strategy") == "Webhook" {
        if let Some(svc) = conv
            .get_mut("webhook")
            .and_then(|w| w.get_mut("clientConfig"))
            .and_then(|c| obj_mut(c, "service"))
        {
            set_if_missing(svc, "port", json!(443));
        }
    }
    let storage = spec
        .get("versions")
        .and_then(Value::as_array)
        .and_then(|vs| {
            vs.iter()
                .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        })
        .and_then(|v| v.get("name"))
        .cloned();
    if let Some(name) = storage {
        let status = ensure_obj(crd, "status");
        let empty = status
            .get("storedVersions")
            .and_then(Value::as_array)
            .is_none_or(|a| a.is_empty());
        if empty {
            status["storedVersions"] = json!([name]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaulted(group: &str, kind: &str, mut v: Value) -> Value {
        apply_defaults(group, kind, &mut v);
        let once = v.clone();
        apply_defaults(group, kind, &mut v);
        assert_eq!(once, v, "defaulting {group}/{kind} is not idempotent");
        v
    }

    #[test]
    fn pod_defaults() {
        let p = defaulted(
            "",
            "Pod",
            json!({
                "metadata": {"name": "p"},
                "spec": {
                    "containers": [
                        {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}],
                         "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                         "livenessProbe": {"httpGet": {"port": 80}},
                         "resources": {"limits": {"cpu": "1"}}},
                        {"name": "b", "image": "nginx:1.25"},
                        {"name": "c", "image": "repo/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
                        {"name": "d", "image": "localhost:5000/x:latest"},
                    ],
                    "volumes": [
                        {"name": "cm", "configMap": {"name": "c"}},
                        {"name": "s", "secret": {"secretName": "s"}},
                        {"name": "h", "hostPath": {"path": "/x"}},
                        {"name": "e"},
                    ],
                    "tolerations": [{"key": "k", "operator": "Exists"}],
                }
            }),
        );
        let s = &p["spec"];
        assert_eq!(s["restartPolicy"], "Always");
        assert_eq!(s["dnsPolicy"], "ClusterFirst");
        assert_eq!(s["terminationGracePeriodSeconds"], 30);
        assert_eq!(s["schedulerName"], "default-scheduler");
        assert_eq!(s["securityContext"], json!({}));
        assert_eq!(s["enableServiceLinks"], true);
        assert_eq!(
            s["tolerations"],
            json!([{"key": "k", "operator": "Exists"}])
        );
        let c = &s["containers"];
        assert_eq!(c[0]["imagePullPolicy"], "Always");
        assert_eq!(c[1]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(c[2]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(c[3]["imagePullPolicy"], "Always");
        assert_eq!(c[0]["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(c[0]["terminationMessagePolicy"], "File");
        assert_eq!(c[0]["ports"][0]["protocol"], "TCP");
        assert_eq!(c[0]["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(
            c[0]["livenessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                   "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(c[0]["resources"]["requests"]["cpu"], "1");
        assert_eq!(c[1]["resources"], json!({}));
        let v = &s["volumes"];
        assert_eq!(v[0]["configMap"]["defaultMode"], 420);
        assert_eq!(v[1]["secret"]["defaultMode"], 420);
        assert_eq!(v[2]["hostPath"]["type"], "");
        assert_eq!(v[3]["emptyDir"], json!({}));
    }

    #[test]
    fn workload_defaults() {
        let tpl = json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}});
        let d = defaulted(
            "apps",
            "Deployment",
            json!({"spec": {"template": tpl.clone()}}),
        );
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(
            d["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
        assert!(d["spec"]["template"]["spec"]
            .get("enableServiceLinks")
            .is_none());
        assert!(d["spec"]["template"]["spec"].get("priority").is_none());

        let r = defaulted(
            "apps",
            "Deployment",
            json!({"spec": {"strategy": {"type": "Recreate"}, "template": tpl.clone()}}),
        );
        assert_eq!(r["spec"]["strategy"], json!({"type": "Recreate"}));

        let rs = defaulted(
            "apps",
            "ReplicaSet",
            json!({"spec": {"template": tpl.clone()}}),
        );
        assert_eq!(rs["spec"]["replicas"], 1);

        let s = defaulted(
            "apps",
            "StatefulSet",
            json!({"spec": {"template": tpl.clone(), "volumeClaimTemplates": [{"metadata": {"name": "d"}, "spec": {}}]}}),
        );
        assert_eq!(s["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            s["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(
            s["spec"]["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(
            s["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"],
            "Filesystem"
        );
        assert_eq!(
            s["spec"]["volumeClaimTemplates"][0]["status"]["phase"],
            "Pending"
        );
        assert!(s["spec"].get("serviceName").is_none());

        let ds = defaulted(
            "apps",
            "DaemonSet",
            json!({"spec": {"template": tpl.clone()}}),
        );
        assert_eq!(
            ds["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);

        let job = defaulted("batch", "Job", json!({"spec": {"template": tpl.clone()}}));
        let js = &job["spec"];
        assert_eq!(js["parallelism"], 1);
        assert_eq!(js["completions"], 1);
        assert_eq!(js["backoffLimit"], 6);
        assert_eq!(js["completionMode"], "NonIndexed");
        assert_eq!(js["suspend"], false);
        assert_eq!(js["podReplacementPolicy"], "TerminatingOrFailed");
        assert!(js.get("manualSelector").is_none());
        assert!(js["template"]["spec"].get("restartPolicy").is_none());
        assert_eq!(js["template"]["spec"]["dnsPolicy"], "ClusterFirst");
        assert_eq!(job["metadata"]["labels"], json!({"app": "x"}));

        let par = defaulted(
            "batch",
            "Job",
            json!({"spec": {"parallelism": 3, "template": tpl.clone()}}),
        );
        assert!(par["spec"].get("completions").is_none());

        let cj = defaulted(
            "batch",
            "CronJob",
            json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": tpl.clone()}}}}),
        );
        assert_eq!(cj["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(cj["spec"]["suspend"], false);
        assert_eq!(cj["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(cj["spec"]["failedJobsHistoryLimit"], 1);
        assert!(cj["spec"]["jobTemplate"]["spec"]
            .get("backoffLimit")
            .is_none());
        assert_eq!(
            cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["schedulerName"],
            "default-scheduler"
        );

        let rc = defaulted(
            "",
            "ReplicationController",
            json!({"spec": {"template": tpl}}),
        );
        assert_eq!(rc["spec"]["selector"], json!({"app": "x"}));
        assert_eq!(rc["metadata"]["labels"], json!({"app": "x"}));
        assert_eq!(rc["spec"]["replicas"], 1);
    }

    #[test]
    fn job_selector_generation() {
        let mut job =
            json!({"metadata": {"name": "pi", "uid": "u-1"}, "spec": {"template": {"spec": {}}}});
        generate_job_selector(&mut job);
        assert_eq!(
            job["spec"]["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
        );
        assert_eq!(
            job["spec"]["template"]["metadata"]["labels"]["job-name"],
            "pi"
        );
        assert_eq!(
            job["spec"]["template"]["metadata"]["labels"]["controller-uid"],
            "u-1"
        );
    }

    #[test]
    fn service_defaults() {
        let s = defaulted(
            "",
            "Service",
            json!({"spec": {"selector": {"a": "b"}, "ports": [{"port": 80}, {"port": 443, "targetPort": "https"}]}}),
        );
        let sp = &s["spec"];
        assert_eq!(sp["type"], "ClusterIP");
        assert_eq!(sp["sessionAffinity"], "None");
        assert_eq!(
            sp["ports"][0],
            json!({"port": 80, "protocol": "TCP", "targetPort": 80})
        );
        assert_eq!(sp["ports"][1]["targetPort"], "https");
        assert_eq!(sp["internalTrafficPolicy"], "Cluster");
        assert_eq!(sp["ipFamilyPolicy"], "SingleStack");
        assert_eq!(sp["ipFamilies"], json!(["IPv4"]));
        assert!(sp.get("externalTrafficPolicy").is_none());
        assert!(sp.get("clusterIP").is_none());

        let lb = defaulted(
            "",
            "Service",
            json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}),
        );
        assert_eq!(lb["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(lb["spec"]["allocateLoadBalancerNodePorts"], true);

        let en = defaulted(
            "",
            "Service",
            json!({"spec": {"type": "ExternalName", "externalName": "x.com"}}),
        );
        assert!(en["spec"].get("ipFamilies").is_none());
        assert!(en["spec"].get("internalTrafficPolicy").is_none());

        let headless = defaulted("", "Service", json!({"spec": {"clusterIP": "None"}}));
        assert_eq!(headless["spec"]["ipFamilyPolicy"], "RequireDualStack");

        let ci = defaulted(
            "",
            "Service",
            json!({"spec": {"sessionAffinity": "ClientIP", "ports": [{"port": 1}]}}),
        );
        assert_eq!(
            ci["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"],
            10800
        );
    }

    #[test]
    fn other_defaults() {
        let ns = defaulted("", "Namespace", json!({"metadata": {"name": "team"}}));
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(ns["status"]["phase"], "Active");
        assert_eq!(
            ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "team"
        );
        // A stored namespace whose finalizer was removed does not get it back.
        let finalized = defaulted(
            "",
            "Namespace",
            json!({"metadata": {"name": "team", "resourceVersion": "5"}, "spec": {}, "status": {"phase": "Active"}}),
        );
        assert!(finalized["spec"].get("finalizers").is_none());
        let finalized = defaulted(
            "",
            "Namespace",
            json!({"metadata": {"name": "team", "deletionTimestamp": "2024-01-01T00:00:00Z"}, "spec": {}}),
        );
        assert!(finalized["spec"].get("finalizers").is_none());

        let s = defaulted("", "Secret", json!({"data": {}}));
        assert_eq!(s["type"], "Opaque");
        let s = defaulted(
            "",
            "Secret",
            json!({"data": {"a": "eA==", "b": "eA=="}, "stringData": {"b": "hello"}}),
        );
        assert_eq!(s["data"], json!({"a": "eA==", "b": "aGVsbG8="}));
        assert!(s.get("stringData").is_none());

        let pvc = defaulted(
            "",
            "PersistentVolumeClaim",
            json!({"spec": {"accessModes": ["ReadWriteOnce"]}}),
        );
        assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
        assert_eq!(pvc["status"]["phase"], "Pending");

        let pv = defaulted(
            "",
            "PersistentVolume",
            json!({"spec": {"hostPath": {"path": "/d"}}}),
        );
        assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
        assert_eq!(pv["spec"]["volumeMode"], "Filesystem");
        assert_eq!(pv["spec"]["hostPath"]["type"], "");

        let node = defaulted("", "Node", json!({"status": {"capacity": {"cpu": "4"}}}));
        assert_eq!(node["status"]["allocatable"], json!({"cpu": "4"}));

        let ep = defaulted(
            "",
            "Endpoints",
            json!({"subsets": [{"ports": [{"port": 80}]}]}),
        );
        assert_eq!(ep["subsets"][0]["ports"][0]["protocol"], "TCP");
        let es = defaulted(
            "discovery.k8s.io",
            "EndpointSlice",
            json!({"ports": [{"port": 80}]}),
        );
        assert_eq!(
            es["ports"][0],
            json!({"port": 80, "name": "", "protocol": "TCP"})
        );

        for (g, k) in [
            ("", "ServiceAccount"),
            ("coordination.k8s.io", "Lease"),
            ("", "Event"),
            ("", "ConfigMap"),
        ] {
            let v = json!({"metadata": {"name": "x"}});
            assert_eq!(defaulted(g, k, v.clone()), v);
        }

        let rb = defaulted(
            "rbac.authorization.k8s.io",
            "RoleBinding",
            json!({"roleRef": {"kind": "Role", "name": "r"}, "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "s"}]}),
        );
        assert_eq!(rb["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(rb["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(rb["subjects"][1]["apiGroup"], "");
    }
}
