//! Pod admission on the node, as upstream's predicate admit handler: before
//! a pod runs, its requests plus those of the admitted, non-terminal pods
//! must fit the Node's allocatable (pods, cpu, memory, ephemeral-storage,
//! extended resources), and nodeName, the node selector / required node
//! affinity, host ports and NoExecute taints must fit. The first failure is
//! the rejection, with upstream's reason and message.

use std::collections::BTreeMap;

use apimachinery::quantity::Quantity;
use k8s_openapi::api::core::v1::{
    Container, Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, Taint, Toleration,
};

/// Why a pod may not run here: the pod's status `reason` (`OutOfcpu`,
/// `NodeAffinity`, ...) and the message after `Pod was rejected: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Upstream's reason.
    pub reason: String,
    /// Upstream's message.
    pub message: String,
}

/// Resource amounts: cpu in millicores, everything else in units.
pub type Amounts = BTreeMap<String, i128>;

fn amount(name: &str, q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity) -> i128 {
    match Quantity::parse(&q.0) {
        Ok(q) if name == "cpu" => q.milli_value(),
        Ok(q) => q.value(),
        Err(_) => 0,
    }
}

fn requests(c: &Container) -> Amounts {
    c.resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), amount(k, v)))
        .collect()
}

fn add(into: &mut Amounts, from: &Amounts) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

fn max_into(into: &mut Amounts, from: &Amounts) {
    for (k, v) in from {
        let e = into.entry(k.clone()).or_default();
        *e = (*e).max(*v);
    }
}

/// The pod's effective requests as upstream's `PodRequests`: the sum of
/// the app containers (plus restartable init containers, the sidecars),
/// at least the largest init container with the sidecars started before
/// it, plus the pod overhead.
pub fn pod_requests(pod: &Pod) -> Amounts {
    let Some(spec) = pod.spec.as_ref() else {
        return Amounts::new();
    };
    let mut sum = Amounts::new();
    for c in &spec.containers {
        add(&mut sum, &requests(c));
    }
    let mut sidecars = Amounts::new();
    let mut init_max = Amounts::new();
    for c in spec.init_containers.iter().flatten() {
        let r = requests(c);
        if c.restart_policy.as_deref() == Some("Always") {
            add(&mut sidecars, &r);
            add(&mut sum, &r);
            max_into(&mut init_max, &sidecars);
        } else {
            let mut with = sidecars.clone();
            add(&mut with, &r);
            max_into(&mut init_max, &with);
        }
    }
    max_into(&mut sum, &init_max);
    for (k, v) in spec.overhead.iter().flatten() {
        *sum.entry(k.clone()).or_default() += amount(k, v);
    }
    sum
}

/// upstream's `IsExtendedResourceName`, simply: a qualified name outside
/// the `kubernetes.io/` namespace.
fn is_extended(name: &str) -> bool {
    name.contains('/') && !name.contains("kubernetes.io/") && !name.starts_with("requests.")
}

fn insufficient(name: &str, requested: i128, used: i128, capacity: i128) -> Rejection {
    let reason = match name {
        "cpu" => "OutOfcpu".to_string(),
        "memory" => "OutOfmemory".to_string(),
        "ephemeral-storage" => "OutOfephemeral-storage".to_string(),
        "pods" => "OutOfpods".to_string(),
        other => format!("OutOf{other}"),
    };
    Rejection {
        reason,
        message: format!(
            "Node didn't have enough resource: {name}, requested: {requested}, used: {used}, capacity: {capacity}"
        ),
    }
}

fn predicate(name: &str, desc: &str) -> Rejection {
    Rejection {
        reason: name.into(),
        message: format!("Predicate {name} failed: {desc}"),
    }
}

fn fits_resources(node: &Node, active: &[&Pod], pod: &Pod) -> Result<(), Rejection> {
    let alloc: Amounts = node
        .status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), amount(k, v)))
        .collect();
    let max_pods = alloc.get("pods").copied().unwrap_or(110);
    if active.len() as i128 + 1 > max_pods {
        return Err(insufficient("pods", 1, active.len() as i128, max_pods));
    }
    let mut want = pod_requests(pod);
    // Extended resources the node does not know are cluster-level ones:
    // not the node's business (upstream's removeMissingExtendedResources).
    want.retain(|k, _| !is_extended(k) || alloc.contains_key(k));
    let mut used = Amounts::new();
    for p in active {
        add(&mut used, &pod_requests(p));
    }
    let mut order: Vec<&String> = Vec::new();
    for fixed in ["cpu", "memory", "ephemeral-storage"] {
        if let Some((k, _)) = want.get_key_value(fixed) {
            order.push(k);
        }
    }
    order.extend(
        want.keys()
            .filter(|k| !matches!(k.as_str(), "cpu" | "memory" | "ephemeral-storage" | "pods")),
    );
    for k in order {
        let req = want[k];
        if req <= 0 {
            continue;
        }
        let cap = alloc.get(k).copied().unwrap_or(0);
        let u = used.get(k).copied().unwrap_or(0);
        if req > cap - u {
            return Err(insufficient(k, req, u, cap));
        }
    }
    Ok(())
}

fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.clone().unwrap_or_default();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|b| b.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

fn term_matches(t: &NodeSelectorTerm, node: &Node) -> bool {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let exprs = t.match_expressions.as_deref().unwrap_or_default();
    let fields = t.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| {
            let v = (r.key == "metadata.name")
                .then_some(node.metadata.name.as_deref())
                .flatten();
            requirement_matches(r, v)
        })
}

/// The pod's nodeSelector and required node affinity match the node.
pub fn node_affinity_matches(pod: &Pod, node: &Node) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return true;
    };
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let selector_ok = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    let affinity_ok =
        required.is_none_or(|r| r.node_selector_terms.iter().any(|t| term_matches(t, node)));
    selector_ok && affinity_ok
}

/// `(protocol, hostIP, hostPort)` of the pod's host ports.
fn host_ports(pod: &Pod) -> Vec<(String, String, i32)> {
    pod.spec
        .iter()
        .flat_map(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
        })
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let hp = p.host_port.filter(|hp| *hp > 0)?;
            let ip = p
                .host_ip
                .clone()
                .filter(|i| !i.is_empty())
                .unwrap_or_else(|| "0.0.0.0".into());
            Some((p.protocol.clone().unwrap_or_else(|| "TCP".into()), ip, hp))
        })
        .collect()
}

fn ports_free(active: &[&Pod], pod: &Pod) -> bool {
    let used: Vec<_> = active.iter().flat_map(|p| host_ports(p)).collect();
    host_ports(pod).iter().all(|(proto, ip, port)| {
        !used.iter().any(|(p2, ip2, port2)| {
            proto == p2 && port == port2 && (ip == ip2 || ip == "0.0.0.0" || ip2 == "0.0.0.0")
        })
    })
}

/// upstream's `ToleratesTaint`.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(e) = t.effect.as_deref().filter(|e| !e.is_empty()) {
        if e != taint.effect {
            return false;
        }
    }
    let key = t.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => {
            !key.is_empty()
                && t.value.as_deref().unwrap_or_default()
                    == taint.value.as_deref().unwrap_or_default()
        }
        _ => false,
    }
}

/// Decides whether `pod` may run on `node` next to the `active` pods
/// (admitted, not terminal). Static pods skip the taint check, as upstream.
pub fn admit(node: &Node, active: &[&Pod], pod: &Pod, is_static: bool) -> Result<(), Rejection> {
    fits_resources(node, active, pod)?;
    if !node_affinity_matches(pod, node) {
        return Err(predicate(
            "NodeAffinity",
            "node(s) didn't match Pod's node affinity/selector",
        ));
    }
    let node_name = node.metadata.name.as_deref().unwrap_or_default();
    let pod_node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
    if pod_node.is_some_and(|n| !n.is_empty() && n != node_name) {
        return Err(predicate(
            "NodeName",
            "node(s) didn't match the requested node name",
        ));
    }
    if !ports_free(active, pod) {
        return Err(predicate(
            "NodePorts",
            "node(s) didn't have free ports for the requested pod ports",
        ));
    }
    if !is_static {
        let tolerations = pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.clone())
            .unwrap_or_default();
        let untolerated = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .into_iter()
            .flatten()
            .filter(|t| t.effect == "NoExecute")
            .any(|taint| !tolerations.iter().any(|t| tolerates(t, taint)));
        if untolerated {
            return Err(predicate(
                "TaintToleration",
                "node(s) had taints that the pod didn't tolerate",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node() -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "n1", "labels": {"disk": "ssd", "kubernetes.io/hostname": "n1"}},
            "spec": {"taints": [{"key": "dedicated", "value": "x", "effect": "NoExecute"},
                                {"key": "soft", "effect": "NoSchedule"}]},
            "status": {"allocatable": {"cpu": "2", "memory": "1Gi",
                "ephemeral-storage": "10Gi", "pods": "3", "example.com/gpu": "1"}}
        }))
        .unwrap()
    }

    fn pod(name: &str, spec: serde_json::Value) -> Pod {
        let mut spec = spec;
        spec["nodeName"] = json!("n1");
        spec["tolerations"] = json!([{"key": "dedicated", "operator": "Exists"}]);
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
    }

    fn with_requests(name: &str, req: serde_json::Value) -> Pod {
        pod(
            name,
            json!({"containers": [{"name": "c", "resources": {"requests": req}}]}),
        )
    }

    #[test]
    fn cpu_over_allocatable_is_out_of_cpu() {
        let n = node();
        let p = with_requests("big", json!({"cpu": "3"}));
        let r = admit(&n, &[], &p, false).unwrap_err();
        assert_eq!(r.reason, "OutOfcpu");
        assert_eq!(
            r.message,
            "Node didn't have enough resource: cpu, requested: 3000, used: 0, capacity: 2000"
        );
    }

    #[test]
    fn used_counts_the_active_pods() {
        let n = node();
        let a = with_requests("a", json!({"cpu": "1500m", "memory": "512Mi"}));
        let b = with_requests("b", json!({"cpu": "500m"}));
        assert_eq!(admit(&n, &[&a], &b, false), Ok(()));
        let c = with_requests("c", json!({"memory": "600Mi"}));
        let r = admit(&n, &[&a, &b], &c, false).unwrap_err();
        assert_eq!(r.reason, "OutOfmemory");
        assert!(
            r.message
                .contains("requested: 629145600, used: 536870912, capacity: 1073741824"),
            "{}",
            r.message
        );
    }

    #[test]
    fn pods_and_extended_resources() {
        let n = node();
        let e = with_requests("e", json!({}));
        let r = admit(&n, &[&e, &e, &e], &e, false).unwrap_err();
        assert_eq!(r.reason, "OutOfpods");
        assert_eq!(
            r.message,
            "Node didn't have enough resource: pods, requested: 1, used: 3, capacity: 3"
        );
        let g = with_requests("g", json!({"example.com/gpu": "2"}));
        assert_eq!(
            admit(&n, &[], &g, false).unwrap_err().reason,
            "OutOfexample.com/gpu"
        );
        // Unknown to the node: a cluster-level resource, ignored.
        let other = with_requests("o", json!({"other.io/thing": "5"}));
        assert_eq!(admit(&n, &[], &other, false), Ok(()));
    }

    #[test]
    fn init_containers_count_as_a_maximum() {
        let p = pod(
            "i",
            json!({"initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1500m"}}}],
                   "containers": [{"name": "a", "resources": {"requests": {"cpu": "500m"}}},
                                  {"name": "b", "resources": {"requests": {"cpu": "200m"}}}],
                   "overhead": {"cpu": "100m"}}),
        );
        assert_eq!(pod_requests(&p)["cpu"], 1600);
    }

    #[test]
    fn selector_affinity_name_ports_and_taints() {
        let n = node();
        let sel = pod(
            "s",
            json!({"nodeSelector": {"disk": "hdd"}, "containers": [{"name": "c"}]}),
        );
        let r = admit(&n, &[], &sel, false).unwrap_err();
        assert_eq!(r.reason, "NodeAffinity");
        assert_eq!(
            r.message,
            "Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector"
        );
        let aff = pod(
            "a",
            json!({"containers": [{"name": "c"}], "affinity": {"nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}]}}}}),
        );
        assert_eq!(admit(&n, &[], &aff, false), Ok(()));

        let mut other = pod("o", json!({"containers": [{"name": "c"}]}));
        other.spec.as_mut().unwrap().node_name = Some("n2".into());
        assert_eq!(
            admit(&n, &[], &other, false).unwrap_err().reason,
            "NodeName"
        );

        let hp = |name: &str| {
            pod(
                name,
                json!({"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}),
            )
        };
        let (a, b) = (hp("a"), hp("b"));
        assert_eq!(admit(&n, &[&a], &b, false).unwrap_err().reason, "NodePorts");

        let mut untolerating = pod("t", json!({"containers": [{"name": "c"}]}));
        untolerating.spec.as_mut().unwrap().tolerations = None;
        let r = admit(&n, &[], &untolerating, false).unwrap_err();
        assert_eq!(
            (r.reason.as_str(), r.message.as_str()),
            (
                "TaintToleration",
                "Predicate TaintToleration failed: node(s) had taints that the pod didn't tolerate"
            )
        );
        // Static pods are not subject to taints; NoSchedule never matters.
        assert_eq!(admit(&n, &[], &untolerating, true), Ok(()));
    }
}
