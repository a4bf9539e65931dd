//! NodeAffinity: `spec.nodeSelector`, required node affinity (filter) and
//! preferred node affinity (score).

use super::{default_normalize, Failure, Plugin, MAX_NODE_SCORE};
use crate::cache::Snapshot;
use crate::nodeinfo::{NodeInfo, PodInfo};

/// Reason upstream gives when nodeSelector or required affinity fails.
pub const ERR_REASON: &str = "node(s) didn't match Pod's node affinity/selector";

pub use client_support::selectors::node_matches_term;

pub struct NodeAffinity;

/// Whether the node satisfies the pod's nodeSelector and required affinity.
pub fn required_matches(pod: &PodInfo, node: &NodeInfo) -> bool {
    let Some(spec) = pod.pod.spec.as_ref() else {
        return true;
    };
    let labels = node.labels();
    if let Some(sel) = spec.node_selector.as_ref() {
        if !sel
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        {
            return false;
        }
    }
    let Some(req) = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
    else {
        return true;
    };
    req.node_selector_terms
        .iter()
        .any(|t| node_matches_term(t, &node.name, labels))
}

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        "NodeAffinity"
    }

    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Failure> {
        if required_matches(pod, node) {
            Ok(())
        } else {
            Err(Failure::unresolvable(ERR_REASON))
        }
    }

    fn score(&self, pod: &PodInfo, node: &NodeInfo, _s: &Snapshot) -> i64 {
        let Some(pref) = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|na| {
                na.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })
        else {
            return 0;
        };
        pref.iter()
            .filter(|p| {
                p.weight != 0 && node_matches_term(&p.preference, &node.name, node.labels())
            })
            .map(|p| i64::from(p.weight))
            .sum()
    }

    fn normalize(&self, scores: &mut [i64]) {
        default_normalize(MAX_NODE_SCORE, false, scores);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use serde_json::json;

    fn required(exprs: serde_json::Value) -> serde_json::Value {
        json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [exprs]}}}})
    }

    #[test]
    fn node_selector_must_match_every_label() {
        let n = node(
            "a",
            json!({"metadata": {"labels": {"disk": "ssd", "zone": "z1"}}}),
        );
        assert!(NodeAffinity
            .filter(&pod("p", json!({"nodeSelector": {"disk": "ssd"}})), &n)
            .is_ok());
        let e = NodeAffinity
            .filter(&pod("p", json!({"nodeSelector": {"disk": "hdd"}})), &n)
            .unwrap_err();
        assert_eq!(e.reasons, vec![ERR_REASON]);
    }

    #[test]
    fn required_terms_support_every_operator() {
        let n = node(
            "a",
            json!({"metadata": {"labels": {"disk": "ssd", "cores": "8"}}}),
        );
        let ok = |e: serde_json::Value| NodeAffinity.filter(&pod("p", required(e)), &n).is_ok();
        assert!(ok(
            json!({"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd", "nvme"]}]})
        ));
        assert!(!ok(
            json!({"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["ssd"]}]})
        ));
        assert!(ok(
            json!({"matchExpressions": [{"key": "gpu", "operator": "NotIn", "values": ["x"]}]})
        ));
        assert!(ok(
            json!({"matchExpressions": [{"key": "disk", "operator": "Exists"}]})
        ));
        assert!(ok(
            json!({"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]})
        ));
        assert!(ok(
            json!({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]})
        ));
        assert!(!ok(
            json!({"matchExpressions": [{"key": "cores", "operator": "Lt", "values": ["4"]}]})
        ));
        assert!(!ok(
            json!({"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["x"]}]})
        ));
        assert!(ok(
            json!({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]}]})
        ));
        assert!(!ok(
            json!({"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["a"]}]})
        ));
        assert!(!ok(json!({})));
        // Terms are ORed.
        let two = json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
        {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["hdd"]}]},
            {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}
        ]}}}});
        assert!(NodeAffinity.filter(&pod("p", two), &n).is_ok());
    }

    #[test]
    fn preferred_terms_sum_weights_and_normalise() {
        let p = pod(
            "p",
            json!({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}},
                {"weight": 5, "preference": {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}}
            ]}}}),
        );
        let s = Snapshot::default();
        let a = node(
            "a",
            json!({"metadata": {"labels": {"disk": "ssd", "zone": "z"}}}),
        );
        let b = node("b", json!({"metadata": {"labels": {"zone": "z"}}}));
        let c = node("c", json!({}));
        let mut scores: Vec<i64> = [&a, &b, &c]
            .iter()
            .map(|n| NodeAffinity.score(&p, n, &s))
            .collect();
        assert_eq!(scores, vec![15, 5, 0]);
        NodeAffinity.normalize(&mut scores);
        assert_eq!(scores, vec![100, 33, 0]);
    }
}
