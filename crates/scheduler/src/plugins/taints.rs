//! TaintToleration: NoSchedule/NoExecute taints must be tolerated (filter);
//! fewer untolerated PreferNoSchedule taints score higher.

use k8s_openapi::api::core::v1::{Taint, Toleration};

use super::{default_normalize, Failure, Plugin, MAX_NODE_SCORE};
use crate::cache::Snapshot;
use crate::nodeinfo::{NodeInfo, PodInfo};

/// Upstream `Toleration.ToleratesTaint`.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(e) = t.effect.as_deref() {
        if !e.is_empty() && e != taint.effect {
            return false;
        }
    }
    let key = t.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        _ => false,
    }
}

pub struct TaintToleration;

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        "TaintToleration"
    }

    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Failure> {
        let tols = pod.tolerations();
        let untolerated = node.taints().iter().find(|taint| {
            (taint.effect == "NoSchedule" || taint.effect == "NoExecute")
                && !tols.iter().any(|t| tolerates(t, taint))
        });
        match untolerated {
            None => Ok(()),
            Some(t) => Err(Failure::unresolvable(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                t.key,
                t.value.as_deref().unwrap_or("")
            ))),
        }
    }

    fn score(&self, pod: &PodInfo, node: &NodeInfo, _s: &Snapshot) -> i64 {
        // Only tolerations with an empty effect or PreferNoSchedule count.
        let tols: Vec<&Toleration> = pod
            .tolerations()
            .iter()
            .filter(|t| {
                matches!(
                    t.effect.as_deref(),
                    None | Some("") | Some("PreferNoSchedule")
                )
            })
            .collect();
        node.taints()
            .iter()
            .filter(|taint| {
                taint.effect == "PreferNoSchedule" && !tols.iter().any(|t| tolerates(t, taint))
            })
            .count() as i64
    }

    fn normalize(&self, scores: &mut [i64]) {
        default_normalize(MAX_NODE_SCORE, true, scores);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn untolerated_noschedule_and_noexecute_taints_reject() {
        let n = node(
            "a",
            json!({"spec": {"taints": [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]}}),
        );
        let e = TaintToleration
            .filter(&pod("p", json!({})), &n)
            .unwrap_err();
        assert_eq!(
            e.reasons,
            vec!["node(s) had untolerated taint {dedicated: x}"]
        );
        let eq = json!({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "x", "effect": "NoSchedule"}]});
        assert!(TaintToleration.filter(&pod("p", eq), &n).is_ok());
        let wrong = json!({"tolerations": [{"key": "dedicated", "value": "y"}]});
        assert!(TaintToleration.filter(&pod("p", wrong), &n).is_err());
        let all = json!({"tolerations": [{"operator": "Exists"}]});
        assert!(TaintToleration.filter(&pod("p", all), &n).is_ok());
        let ne = node(
            "b",
            json!({"spec": {"taints": [{"key": "k", "effect": "NoExecute"}]}}),
        );
        let wrong_effect =
            json!({"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]});
        assert!(TaintToleration
            .filter(&pod("p", wrong_effect), &ne)
            .is_err());
        let pref = node(
            "c",
            json!({"spec": {"taints": [{"key": "k", "effect": "PreferNoSchedule"}]}}),
        );
        assert!(TaintToleration.filter(&pod("p", json!({})), &pref).is_ok());
    }

    #[test]
    fn prefer_no_schedule_taints_lower_the_score() {
        let s = Snapshot::default();
        let a = node("a", json!({}));
        let b = node(
            "b",
            json!({"spec": {"taints": [{"key": "k", "effect": "PreferNoSchedule"}, {"key": "j", "effect": "PreferNoSchedule"}]}}),
        );
        let c = node(
            "c",
            json!({"spec": {"taints": [{"key": "k", "effect": "PreferNoSchedule"}]}}),
        );
        let p = pod(
            "p",
            json!({"tolerations": [{"key": "j", "operator": "Exists"}]}),
        );
        let mut scores: Vec<i64> = [&a, &b, &c]
            .iter()
            .map(|n| TaintToleration.score(&p, n, &s))
            .collect();
        assert_eq!(scores, vec![0, 1, 1]);
        TaintToleration.normalize(&mut scores);
        assert_eq!(scores, vec![100, 0, 0]);
    }
}
