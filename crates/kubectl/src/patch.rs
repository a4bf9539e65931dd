//! Building patches client-side: the two- and three-way strategic merge
//! patches `kubectl apply` sends for built-in types (JSON merge patches for
//! the rest), and the last-applied-configuration annotation.

use serde_json::{json, Map, Value};

/// The annotation client-side apply keeps its last input in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// `obj` with its last-applied annotation set to its own compact JSON, as
/// `kubectl apply` and `create --save-config` store it.
pub fn with_last_applied(obj: &Value) -> Value {
    let mut bare = obj.clone();
    let annots = bare["metadata"]
        .as_object_mut()
        .map(|m| m.entry("annotations").or_insert_with(|| json!({})));
    if let Some(a) = annots {
        if !a.is_object() {
            *a = json!({});
        }
        if let Some(m) = a.as_object_mut() {
            m.remove(LAST_APPLIED);
        }
    }
    let text = format!("{}\n", crate::output::json::to_string_compact(&bare));
    let mut out = bare;
    out["metadata"]["annotations"][LAST_APPLIED] = Value::String(text);
    out
}

/// The merge key of list `field` under `path` (map keys from the root):
/// `Some("")` for merged lists of primitives, `None` for atomic lists.
/// Mirrors upstream's `patchMergeKey` struct tags for built-in types.
pub fn merge_key(path: &[String], field: &str) -> Option<&'static str> {
    let in_container = path
        .iter()
        .any(|p| p == "containers" || p == "initContainers" || p == "ephemeralContainers");
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "schedulingGates"
        | "resourceClaims"
        | "secrets" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "taints" => "key",
        "finalizers" if path.last().is_some_and(|p| p == "metadata") => "",
        "ports" if in_container => "containerPort",
        "ports" if path.last().is_some_and(|p| p == "spec") && path.len() == 1 => "port",
        _ => return None,
    })
}

/// Settings for patch computation.
#[derive(Clone, Copy)]
pub struct Mode {
    /// Strategic (merge keys and directives) rather than JSON merge.
    pub strategic: bool,
}

/// The three-way patch from `original` (last applied, may be null),
/// `modified` (the new input) and `current` (the live object): every change
/// from current to modified, plus deletions of what original had and
/// modified dropped. Fields only the server set are left alone.
pub fn three_way(original: &Value, modified: &Value, current: &Value, mode: Mode) -> Value {
    Value::Object(diff_maps(
        original.as_object(),
        modified.as_object().unwrap_or(&Map::new()),
        current.as_object(),
        &mut Vec::new(),
        mode,
    ))
}

fn diff_maps(
    orig: Option<&Map<String, Value>>,
    modi: &Map<String, Value>,
    cur: Option<&Map<String, Value>>,
    path: &mut Vec<String>,
    mode: Mode,
) -> Map<String, Value> {
    let mut patch = Map::new();
    for (k, m) in modi {
        let c = cur.and_then(|c| c.get(k));
        let o = orig.and_then(|o| o.get(k));
        if c == Some(m) {
            // Still consider list-item deletions below when equal: nothing.
            continue;
        }
        match (m, c) {
            (Value::Object(mm), Some(Value::Object(cm))) => {
                path.push(k.clone());
                let sub = diff_maps(o.and_then(Value::as_object), mm, Some(cm), path, mode);
                path.pop();
                if !sub.is_empty() {
                    patch.insert(k.clone(), Value::Object(sub));
                }
            }
            (Value::Array(ml), Some(Value::Array(cl))) if mode.strategic => {
                match merge_key(path, k) {
                    Some("") => {
                        let adds: Vec<Value> =
                            ml.iter().filter(|x| !cl.contains(x)).cloned().collect();
                        let dels: Vec<Value> = o
                            .and_then(Value::as_array)
                            .map(|ol| ol.iter().filter(|x| !ml.contains(x)).cloned().collect())
                            .unwrap_or_default();
                        if !adds.is_empty() || !dels.is_empty() {
                            patch.insert(format!("$setElementOrder/{k}"), Value::Array(ml.clone()));
                        }
                        if !adds.is_empty() {
                            patch.insert(k.clone(), Value::Array(adds));
                        }
                        if !dels.is_empty() {
                            patch.insert(
                                format!("$deleteFromPrimitiveList/{k}"),
                                Value::Array(dels),
                            );
                        }
                    }
                    Some(key) => {
                        path.push(k.clone());
                        let items =
                            diff_keyed_list(o.and_then(Value::as_array), ml, cl, key, path, mode);
                        path.pop();
                        if !items.is_empty() {
                            patch.insert(
                                format!("$setElementOrder/{k}"),
                                Value::Array(
                                    ml.iter()
                                        .map(|x| json!({key: x.get(key).cloned().unwrap_or(Value::Null)}))
                                        .collect(),
                                ),
                            );
                            patch.insert(k.clone(), Value::Array(items));
                        }
                    }
                    None => {
                        patch.insert(k.clone(), m.clone());
                    }
                }
            }
            _ => {
                patch.insert(k.clone(), m.clone());
            }
        }
    }
    if let Some(o) = orig {
        for k in o.keys() {
            if !modi.contains_key(k) && cur.is_some_and(|c| c.contains_key(k)) {
                patch.insert(k.clone(), Value::Null);
            }
        }
    }
    patch
}

fn diff_keyed_list(
    orig: Option<&Vec<Value>>,
    modi: &[Value],
    cur: &[Value],
    key: &str,
    path: &mut Vec<String>,
    mode: Mode,
) -> Vec<Value> {
    let find = |list: &[Value], kv: &Value| -> Option<Value> {
        list.iter().find(|x| x.get(key) == Some(kv)).cloned()
    };
    let mut out = Vec::new();
    for m in modi {
        let Some(kv) = m.get(key) else {
            out.push(m.clone());
            continue;
        };
        let c = find(cur, kv);
        let o = orig.and_then(|ol| find(ol, kv));
        match (m.as_object(), c.as_ref().and_then(Value::as_object)) {
            (Some(mm), Some(cm)) => {
                let mut sub = diff_maps(
                    o.as_ref().and_then(Value::as_object),
                    mm,
                    Some(cm),
                    path,
                    mode,
                );
                if !sub.is_empty() {
                    sub.insert(key.to_string(), kv.clone());
                    out.push(Value::Object(sub));
                }
            }
            _ => out.push(m.clone()),
        }
    }
    if let Some(ol) = orig {
        for o in ol {
            let Some(kv) = o.get(key) else { continue };
            if find(modi, kv).is_none() && find(cur, kv).is_some() {
                out.push(json!({key: kv, "$patch": "delete"}));
            }
        }
    }
    out
}

/// Whether `group` is served by the apiserver's built-in types (strategic
/// merge patch applies) rather than CRDs or aggregated APIs.
pub fn is_builtin_group(group: &str) -> bool {
    matches!(
        group,
        "" | "apps"
            | "batch"
            | "autoscaling"
            | "policy"
            | "extensions"
            | "events.k8s.io"
            | "networking.k8s.io"
            | "rbac.authorization.k8s.io"
            | "storage.k8s.io"
            | "scheduling.k8s.io"
            | "coordination.k8s.io"
            | "node.k8s.io"
            | "discovery.k8s.io"
            | "flowcontrol.apiserver.k8s.io"
            | "certificates.k8s.io"
            | "admissionregistration.k8s.io"
            | "apiextensions.k8s.io"
            | "apiregistration.k8s.io"
            | "authentication.k8s.io"
            | "authorization.k8s.io"
            | "resource.k8s.io"
            | "storagemigration.k8s.io"
            | "internal.apiserver.k8s.io"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMP: Mode = Mode { strategic: true };

    #[test]
    fn last_applied_has_empty_annotations_and_newline() {
        let o = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "default"}});
        let m = with_last_applied(&o);
        assert_eq!(
            m["metadata"]["annotations"][LAST_APPLIED],
            "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"annotations\":{},\"name\":\"x\",\"namespace\":\"default\"}}\n"
        );
    }

    #[test]
    fn three_way_changes_and_deletions() {
        let orig = json!({"data": {"a": "1", "b": "2"}});
        let modi = json!({"data": {"a": "9"}});
        let cur = json!({"data": {"a": "1", "b": "2", "c": "3"}, "status": {}});
        assert_eq!(
            three_way(&orig, &modi, &cur, SMP),
            json!({"data": {"a": "9", "b": null}})
        );
        assert_eq!(
            three_way(&modi, &modi, &json!({"data": {"a": "9"}, "x": 1}), SMP),
            json!({})
        );
    }

    #[test]
    fn keyed_lists_merge_and_delete() {
        let orig = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        let modi = json!({"spec": {"containers": [{"name": "a", "image": "z"}]}});
        let cur = json!({"spec": {"containers": [{"name": "a", "image": "x", "imagePullPolicy": "Always"}, {"name": "b", "image": "y"}]}});
        assert_eq!(
            three_way(&orig, &modi, &cur, SMP),
            json!({"spec": {"$setElementOrder/containers": [{"name": "a"}], "containers": [{"image": "z", "name": "a"}, {"name": "b", "$patch": "delete"}]}})
        );
    }
}
