//! Conversion between served versions that share one storage key space, as
//! upstream's internal types do: `events.k8s.io/v1` Events are stored as
//! core `v1` Events (so `kubectl describe` sees what controllers record with
//! the new API), and `autoscaling/v1` HorizontalPodAutoscalers as
//! `autoscaling/v2`.

use apimachinery::catalogue::ResourceInfo;
use serde_json::{json, Value};

/// Field renames between events.k8s.io/v1 (left) and core/v1 (right).
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn rename(obj: &mut Value, pairs: &[(&str, &str)], forward: bool) {
    let Some(m) = obj.as_object_mut() else { return };
    for (a, b) in pairs {
        let (from, to) = if forward { (a, b) } else { (b, a) };
        if let Some(v) = m.remove(*from) {
            m.insert((*to).to_string(), v);
        }
    }
}

/// The apiVersion objects of `r` are stored with.
pub fn storage_api_version(r: &ResourceInfo) -> String {
    match (r.group, r.kind) {
        ("events.k8s.io", "Event") => "v1".into(),
        ("autoscaling", "HorizontalPodAutoscaler") => "autoscaling/v2".into(),
        _ => r.api_version(),
    }
}

/// Converts an object of the served version `r` to its storage form.
pub fn to_storage(r: &ResourceInfo, mut obj: Value) -> Value {
    match (r.group, r.version, r.kind) {
        ("events.k8s.io", _, "Event") => {
            rename(&mut obj, EVENT_FIELDS, true);
            obj["apiVersion"] = json!("v1");
        }
        ("autoscaling", "v1", "HorizontalPodAutoscaler") => {
            hpa_v1_to_v2(&mut obj);
            obj["apiVersion"] = json!("autoscaling/v2");
        }
        _ => {}
    }
    obj
}

/// Converts a stored object to the served version `r`.
pub fn from_storage(r: &ResourceInfo, mut obj: Value) -> Value {
    let stored = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    match (r.group, r.version, r.kind) {
        ("events.k8s.io", _, "Event") if stored != "events.k8s.io/v1" => {
            rename(&mut obj, EVENT_FIELDS, false);
        }
        ("autoscaling", "v1", "HorizontalPodAutoscaler") if stored != "autoscaling/v1" => {
            hpa_v2_to_v1(&mut obj);
        }
        _ => {}
    }
    obj
}

fn hpa_v1_to_v2(obj: &mut Value) {
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        if let Some(pct) = spec.remove("targetCPUUtilizationPercentage") {
            spec.insert(
                "metrics".into(),
                json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": pct}}}]),
            );
        }
    }
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
        if let Some(cur) = status.remove("currentCPUUtilizationPercentage") {
            status.insert(
                "currentMetrics".into(),
                json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cur}}}]),
            );
        }
    }
}

fn hpa_v2_to_v1(obj: &mut Value) {
    let cpu_target = |metrics: &Value| {
        metrics.as_array().and_then(|a| {
            a.iter().find_map(|m| {
                (m.pointer("/resource/name") == Some(&json!("cpu")))
                    .then(|| m.pointer("/resource/target/averageUtilization").cloned())
                    .flatten()
            })
        })
    };
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        let pct = spec.get("metrics").and_then(cpu_target);
        spec.remove("metrics");
        spec.remove("behavior");
        if let Some(p) = pct {
            spec.insert("targetCPUUtilizationPercentage".into(), p);
        }
    }
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
        let cur = status.get("currentMetrics").and_then(|m| {
            m.as_array().and_then(|a| {
                a.iter()
                    .find_map(|m| m.pointer("/resource/current/averageUtilization").cloned())
            })
        });
        status.remove("currentMetrics");
        status.remove("conditions");
        if let Some(c) = cur {
            status.insert("currentCPUUtilizationPercentage".into(), c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apimachinery::catalogue::lookup;

    #[test]
    fn events_round_trip() {
        let ev = lookup("events.k8s.io", "v1", "events").unwrap();
        let obj = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"kind": "Pod", "name": "p"}, "note": "hello", "reason": "Started",
            "reportingController": "kubelet", "type": "Normal"});
        let stored = to_storage(ev, obj.clone());
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(stored["involvedObject"]["name"], "p");
        assert_eq!(stored["message"], "hello");
        assert_eq!(stored["reportingComponent"], "kubelet");
        let back = from_storage(ev, stored);
        assert_eq!(back["note"], "hello");
        assert_eq!(back["regarding"]["kind"], "Pod");
    }

    #[test]
    fn hpa_v1_round_trip() {
        let v1 = lookup("autoscaling", "v1", "horizontalpodautoscalers").unwrap();
        let obj = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
            "spec": {"maxReplicas": 5, "targetCPUUtilizationPercentage": 80, "scaleTargetRef": {"kind": "Deployment", "name": "d"}}});
        let stored = to_storage(v1, obj);
        assert_eq!(
            stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            80
        );
        let back = from_storage(v1, stored);
        assert_eq!(back["spec"]["targetCPUUtilizationPercentage"], 80);
        assert!(back["spec"].get("metrics").is_none());
    }
}
