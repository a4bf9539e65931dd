//! PodTopologySpread: `whenUnsatisfiable: DoNotSchedule` constraints
//! (filter) and `ScheduleAnyway` constraints (score), with `maxSkew`,
//! `minDomains`, `nodeAffinityPolicy`, `nodeTaintsPolicy`, `labelSelector`
//! and `matchLabelKeys`.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use super::{affinity, tolerates, Failure, Plugin, State, MAX_NODE_SCORE};
use crate::cache::Snapshot;
use crate::nodeinfo::{NodeInfo, PodInfo};
use client_support::selectors::label_selector_matches as selector_matches;

pub const ERR_CONSTRAINTS: &str = "node(s) didn't match pod topology spread constraints";
pub const ERR_MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";
const HOSTNAME: &str = "kubernetes.io/hostname";

pub struct PodTopologySpread;

/// One constraint, with `matchLabelKeys` merged into the selector.
#[derive(Debug)]
pub struct Constraint {
    max_skew: i64,
    key: String,
    min_domains: usize,
    selector: Option<LabelSelector>,
    honor_affinity: bool,
    honor_taints: bool,
}

fn constraints(pod: &PodInfo, when: &str) -> Vec<Constraint> {
    let labels = pod.pod.metadata.labels.as_ref();
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.topology_spread_constraints.as_deref())
        .unwrap_or(&[])
        .iter()
        .filter(|c| c.when_unsatisfiable == when)
        .map(|c| {
            let mut selector = c.label_selector.clone();
            if let (Some(sel), Some(keys)) = (selector.as_mut(), c.match_label_keys.as_ref()) {
                for k in keys {
                    if let Some(v) = labels.and_then(|l| l.get(k)) {
                        sel.match_expressions.get_or_insert_with(Vec::new).push(
                            LabelSelectorRequirement {
                                key: k.clone(),
                                operator: "In".into(),
                                values: Some(vec![v.clone()]),
                            },
                        );
                    }
                }
            }
            Constraint {
                max_skew: i64::from(c.max_skew),
                key: c.topology_key.clone(),
                min_domains: c.min_domains.unwrap_or(1).max(1) as usize,
                selector,
                honor_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
                honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
            }
        })
        .collect()
}

fn has_all_keys(labels: &BTreeMap<String, String>, cs: &[Constraint]) -> bool {
    cs.iter().all(|c| labels.contains_key(&c.key))
}

/// `nodeAffinityPolicy` / `nodeTaintsPolicy`: whether the node's pods count.
fn included(c: &Constraint, pod: &PodInfo, node: &NodeInfo) -> bool {
    if c.honor_affinity && !affinity::required_matches(pod, node) {
        return false;
    }
    if c.honor_taints {
        let tol = pod.tolerations();
        let untolerated = node.taints().iter().any(|t| {
            matches!(t.effect.as_str(), "NoSchedule" | "NoExecute")
                && !tol.iter().any(|x| tolerates(x, t))
        });
        if untolerated {
            return false;
        }
    }
    true
}

fn selects(c: &Constraint, labels: Option<&BTreeMap<String, String>>) -> bool {
    c.selector
        .as_ref()
        .is_some_and(|s| selector_matches(s, labels))
}

/// Pods on the node in the pod's namespace, not terminating, that the
/// constraint selects.
fn count_matching(c: &Constraint, pod: &PodInfo, node: &NodeInfo) -> i64 {
    let ns = pod.pod.metadata.namespace.as_deref();
    node.pods
        .iter()
        .filter(|e| {
            e.pod.metadata.deletion_timestamp.is_none()
                && e.pod.metadata.namespace.as_deref() == ns
                && selects(c, e.pod.metadata.labels.as_ref())
        })
        .count() as i64
}

/// Per-cycle filter state: the hard constraints and, per constraint,
/// matching pods per topology value over eligible nodes.
#[derive(Debug)]
pub struct SpreadState {
    constraints: Vec<Constraint>,
    counts: Vec<HashMap<String, i64>>,
}

impl PodTopologySpread {
    pub fn state(pod: &PodInfo, snap: &Snapshot) -> Option<SpreadState> {
        let cs = constraints(pod, "DoNotSchedule");
        if cs.is_empty() {
            return None;
        }
        let mut counts = vec![HashMap::<String, i64>::new(); cs.len()];
        for n in snap.nodes.iter() {
            let Some(labels) = n.labels() else { continue };
            if !has_all_keys(labels, &cs) {
                continue;
            }
            for (i, c) in cs.iter().enumerate() {
                if !included(c, pod, n) {
                    continue;
                }
                *counts[i].entry(labels[&c.key].clone()).or_default() += count_matching(c, pod, n);
            }
        }
        Some(SpreadState {
            constraints: cs,
            counts,
        })
    }

    /// `matching pods in the node's domain + (1 if the pod matches itself)
    /// - global minimum <= maxSkew` for every constraint; the minimum is 0
    /// while fewer than `minDomains` domains exist.
    pub fn check(st: &SpreadState, pod: &PodInfo, node: &NodeInfo) -> Result<(), Failure> {
        let empty = BTreeMap::new();
        let labels = node.labels().unwrap_or(&empty);
        for (c, counts) in st.constraints.iter().zip(&st.counts) {
            let Some(v) = labels.get(&c.key) else {
                return Err(Failure::unresolvable(ERR_MISSING_LABEL));
            };
            let mut min = counts
                .values()
                .copied()
                .min()
                .unwrap_or(i64::from(i32::MAX));
            if counts.len() < c.min_domains {
                min = 0;
            }
            let self_match = i64::from(selects(c, pod.pod.metadata.labels.as_ref()));
            let matched = counts.get(v).copied().unwrap_or(0);
            if matched + self_match - min > c.max_skew {
                return Err(Failure::unschedulable(ERR_CONSTRAINTS));
            }
        }
        Ok(())
    }
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        "PodTopologySpread"
    }

    fn pre_filter(&self, pod: &PodInfo, snap: &Snapshot) -> Result<State, Failure> {
        Ok(PodTopologySpread::state(pod, snap).map(|s| Arc::new(s) as Arc<dyn Any + Send + Sync>))
    }

    fn filter_with(
        &self,
        pod: &PodInfo,
        node: &NodeInfo,
        state: Option<&(dyn Any + Send + Sync)>,
    ) -> Result<(), Failure> {
        match state.and_then(|s| s.downcast_ref::<SpreadState>()) {
            Some(st) => PodTopologySpread::check(st, pod, node),
            None => Ok(()),
        }
    }

    /// `ScheduleAnyway` constraints (upstream PreScore/Score/NormalizeScore):
    /// per constraint, matching pods in the node's domain (counted over all
    /// eligible nodes, domains taken from the feasible ones) times
    /// `ln(domains + 2)`, plus `maxSkew - 1`; fewer is better. Feasible nodes
    /// missing a topology key score 0.
    fn score_nodes(&self, pod: &PodInfo, nodes: &[&Arc<NodeInfo>], snap: &Snapshot) -> Vec<i64> {
        let cs = constraints(pod, "ScheduleAnyway");
        if cs.is_empty() {
            return vec![0; nodes.len()];
        }
        let empty = BTreeMap::new();
        let labels_of = |n: &NodeInfo| n.labels().unwrap_or(&empty).clone();
        let ignored: Vec<bool> = nodes
            .iter()
            .map(|n| !has_all_keys(&labels_of(n), &cs))
            .collect();
        let mut counts = vec![HashMap::<String, i64>::new(); cs.len()];
        for (n, ign) in nodes.iter().zip(&ignored) {
            if *ign {
                continue;
            }
            let l = labels_of(n);
            for (i, c) in cs.iter().enumerate() {
                counts[i].entry(l[&c.key].clone()).or_default();
            }
        }
        let feasible_domains = ignored.iter().filter(|i| !**i).count();
        let weights: Vec<f64> = cs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let size = if c.key == HOSTNAME {
                    feasible_domains
                } else {
                    counts[i].len()
                };
                ((size + 2) as f64).ln()
            })
            .collect();
        for n in snap.nodes.iter() {
            let Some(l) = n.labels() else { continue };
            if !has_all_keys(l, &cs) {
                continue;
            }
            for (i, c) in cs.iter().enumerate() {
                if c.key == HOSTNAME || !included(c, pod, n) {
                    continue;
                }
                if let Some(cnt) = counts[i].get_mut(&l[&c.key]) {
                    *cnt += count_matching(c, pod, n);
                }
            }
        }
        let raw: Vec<i64> = nodes
            .iter()
            .zip(&ignored)
            .map(|(n, ign)| {
                if *ign {
                    return 0;
                }
                let l = labels_of(n);
                let mut score = 0f64;
                for (i, c) in cs.iter().enumerate() {
                    let Some(v) = l.get(&c.key) else { continue };
                    let cnt = if c.key == HOSTNAME {
                        count_matching(c, pod, n)
                    } else {
                        counts[i].get(v).copied().unwrap_or(0)
                    };
                    score += cnt as f64 * weights[i] + (c.max_skew - 1) as f64;
                }
                score.round() as i64
            })
            .collect();
        let live = || {
            raw.iter()
                .zip(&ignored)
                .filter(|(_, i)| !**i)
                .map(|(s, _)| *s)
        };
        let min = live().min().unwrap_or(0);
        let max = live().max().unwrap_or(0);
        raw.iter()
            .zip(&ignored)
            .map(|(s, ign)| {
                if *ign {
                    0
                } else if max == 0 {
                    MAX_NODE_SCORE
                } else {
                    MAX_NODE_SCORE * (max + min - s) / max
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use serde_json::{json, Value};

    fn zn(name: &str, zone: &str, extra: Value) -> NodeInfo {
        let mut v = json!({"metadata": {"labels": {"kubernetes.io/hostname": name, "zone": zone}}});
        merge(&mut v, extra);
        node(name, v)
    }

    fn web(name: &str) -> crate::nodeinfo::PodEntry {
        let mut v = pod_value(name, json!({}));
        v["metadata"]["labels"] = json!({"app": "web"});
        crate::nodeinfo::PodEntry::new(Arc::new(serde_json::from_value(v).unwrap()))
    }

    fn incoming(constraint: Value) -> PodInfo {
        let mut c = json!({"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
                           "labelSelector": {"matchLabels": {"app": "web"}}});
        merge(&mut c, constraint);
        let mut v = pod_value("in", json!({"topologySpreadConstraints": [c]}));
        v["metadata"]["labels"] = json!({"app": "web"});
        PodInfo::new(Arc::new(serde_json::from_value(v).unwrap()))
    }

    fn snap(nodes: Vec<NodeInfo>) -> Snapshot {
        Snapshot::with_nodes(nodes)
    }

    fn run(p: &PodInfo, s: &Snapshot) -> Vec<Result<(), String>> {
        let st = PodTopologySpread.pre_filter(p, s).unwrap();
        s.nodes
            .iter()
            .map(|n| {
                PodTopologySpread
                    .filter_with(p, n, st.as_deref())
                    .map_err(|f| f.reasons[0].clone())
            })
            .collect()
    }

    #[test]
    fn max_skew_across_zones() {
        let mut a = zn("a", "z1", json!({}));
        a.add_pod(web("w1"));
        let b = zn("b", "z2", json!({}));
        let nolabel = node("c", json!({}));
        let s = snap(vec![a, b, nolabel]);
        let bad = Err(ERR_CONSTRAINTS.to_string());
        assert_eq!(
            run(&incoming(json!({})), &s),
            vec![bad.clone(), Ok(()), Err(ERR_MISSING_LABEL.to_string())]
        );
        assert_eq!(
            run(&incoming(json!({"maxSkew": 2})), &s)[..2],
            [Ok(()), Ok(())]
        );
        // A pod that does not match its own selector adds nothing.
        let mut other = incoming(json!({}));
        Arc::make_mut(&mut other.pod).metadata.labels = None;
        assert_eq!(run(&other, &s)[..2], [Ok(()), Ok(())]);
    }

    #[test]
    fn min_domains_treats_the_minimum_as_zero() {
        let mut a = zn("a", "z1", json!({}));
        a.add_pod(web("w1"));
        let mut b = zn("b", "z2", json!({}));
        b.add_pod(web("w2"));
        let s = snap(vec![a, b]);
        assert_eq!(run(&incoming(json!({})), &s), vec![Ok(()), Ok(())]);
        let bad = Err(ERR_CONSTRAINTS.to_string());
        assert_eq!(
            run(&incoming(json!({"minDomains": 3})), &s),
            vec![bad.clone(), bad]
        );
    }

    #[test]
    fn node_inclusion_policies() {
        let mut a = zn("a", "z1", json!({}));
        a.add_pod(web("w1"));
        let tainted = zn(
            "t",
            "z2",
            json!({"spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}, "metadata": {"labels": {"pool": "x"}}}),
        );
        let s = snap(vec![a, tainted]);
        // Taints ignored by default: z2 is a domain with 0 pods, so z1 is full.
        let bad = Err(ERR_CONSTRAINTS.to_string());
        assert_eq!(run(&incoming(json!({})), &s)[0], bad);
        // Honor: the tainted node's domain does not count; z1 is the minimum.
        assert_eq!(
            run(&incoming(json!({"nodeTaintsPolicy": "Honor"})), &s)[0],
            Ok(())
        );
        // nodeAffinityPolicy Honor (default) drops nodes the pod's selector excludes.
        let mut p = incoming(json!({}));
        Arc::make_mut(&mut p.pod)
            .spec
            .as_mut()
            .unwrap()
            .node_selector = Some([("zone".to_string(), "z1".to_string())].into());
        assert_eq!(run(&p, &s)[0], Ok(()));
        let mut q = incoming(json!({"nodeAffinityPolicy": "Ignore"}));
        Arc::make_mut(&mut q.pod)
            .spec
            .as_mut()
            .unwrap()
            .node_selector = Some([("zone".to_string(), "z1".to_string())].into());
        assert_eq!(run(&q, &s)[0], bad);
    }

    #[test]
    fn match_label_keys_narrow_the_selector() {
        let mut a = zn("a", "z1", json!({}));
        a.add_pod(web("w1")); // no "rev" label: not counted with matchLabelKeys
        let s = snap(vec![a, zn("b", "z2", json!({}))]);
        let mut p = incoming(json!({"matchLabelKeys": ["rev"]}));
        Arc::make_mut(&mut p.pod)
            .metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("rev".into(), "2".into());
        assert_eq!(run(&p, &s), vec![Ok(()), Ok(())]);
    }

    #[test]
    fn schedule_anyway_prefers_emptier_domains() {
        let mut a = zn("a", "z1", json!({}));
        a.add_pod(web("w1"));
        a.add_pod(web("w2"));
        let mut b = zn("b", "z2", json!({}));
        b.add_pod(web("w3"));
        let c = zn("c", "z3", json!({}));
        let d = node("d", json!({}));
        let s = snap(vec![a, b, c, d]);
        let p = incoming(json!({"whenUnsatisfiable": "ScheduleAnyway"}));
        // Hard filter does not apply.
        assert!(PodTopologySpread.pre_filter(&p, &s).unwrap().is_none());
        let nodes: Vec<&Arc<NodeInfo>> = s.nodes.iter().collect();
        // ln(3+2) = 1.609: raw a 3, b 2, c 0 -> 100*(3+0-s)/3; d ignored.
        assert_eq!(
            PodTopologySpread.score_nodes(&p, &nodes, &s),
            vec![0, 33, 100, 0]
        );
    }
}
