//! InterPodAffinity: required pod affinity / anti-affinity and existing
//! pods' required anti-affinity (filter, with a pre-filter computing
//! per-topology counts once per cycle) and preferred terms (score).

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, WeightedPodAffinityTerm};

use super::{Failure, Plugin, State, MAX_NODE_SCORE};
use crate::cache::Snapshot;
use crate::nodeinfo::{NodeInfo, PodInfo};
use client_support::selectors::label_selector_matches as selector_matches;

pub const ERR_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const ERR_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const ERR_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";
/// Upstream's default `hardPodAffinityWeight`.
pub const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

pub struct InterPodAffinity;

type NsLabels = HashMap<String, BTreeMap<String, String>>;
/// topologyKey -> value -> count.
type Counts = HashMap<String, HashMap<String, i64>>;

fn add(c: &mut Counts, k: &str, v: &str, n: i64) {
    *c.entry(k.to_string())
        .or_default()
        .entry(v.to_string())
        .or_default() += n;
}

fn get(c: &Counts, k: &str, v: &str) -> i64 {
    c.get(k).and_then(|m| m.get(v)).copied().unwrap_or(0)
}

fn ns(p: &Pod) -> &str {
    p.metadata.namespace.as_deref().unwrap_or("")
}

pub fn required_affinity(p: &Pod) -> &[PodAffinityTerm] {
    p.spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.pod_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_deref()
        })
        .unwrap_or(&[])
}

pub fn required_anti_affinity(p: &Pod) -> &[PodAffinityTerm] {
    p.spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_deref()
        })
        .unwrap_or(&[])
}

fn preferred_affinity(p: &Pod) -> &[WeightedPodAffinityTerm] {
    p.spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.pod_affinity.as_ref())
        .and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_deref()
        })
        .unwrap_or(&[])
}

fn preferred_anti_affinity(p: &Pod) -> &[WeightedPodAffinityTerm] {
    p.spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_deref()
        })
        .unwrap_or(&[])
}

/// Whether `pod` is selected by `term`, which belongs to a pod in
/// `owner_ns`: its namespace is listed, or selected by `namespaceSelector`
/// (neither given: the owner's namespace), and its labels match
/// `labelSelector` (none selects nothing).
pub fn term_matches(term: &PodAffinityTerm, owner_ns: &str, pod: &Pod, nsl: &NsLabels) -> bool {
    let pns = ns(pod);
    let names = term.namespaces.as_deref().unwrap_or(&[]);
    let ns_ok = if names.is_empty() && term.namespace_selector.is_none() {
        pns == owner_ns
    } else {
        names.iter().any(|n| n == pns)
            || term
                .namespace_selector
                .as_ref()
                .is_some_and(|s| selector_matches(s, nsl.get(pns)))
    };
    ns_ok
        && term
            .label_selector
            .as_ref()
            .is_some_and(|s| selector_matches(s, pod.metadata.labels.as_ref()))
}

/// Per-cycle counts (upstream `preFilterState`).
#[derive(Debug, Default)]
pub struct AffinityState {
    /// Topology pairs where an existing pod's required anti-affinity selects the incoming pod.
    existing_anti: Counts,
    /// Pairs holding pods that match all of the incoming pod's affinity terms.
    affinity: Counts,
    /// Pairs holding pods that match one of its anti-affinity terms.
    anti: Counts,
}

impl InterPodAffinity {
    /// Computes the counts, or `None` when nothing can reject a node.
    pub fn state(pod: &PodInfo, snap: &Snapshot) -> Option<AffinityState> {
        let aff = required_affinity(&pod.pod);
        let anti = required_anti_affinity(&pod.pod);
        let any_existing = snap.pods_with_required_anti > 0;
        if aff.is_empty() && anti.is_empty() && !any_existing {
            return None;
        }
        let nsl = &*snap.namespaces;
        let pns = ns(&pod.pod);
        let mut st = AffinityState::default();
        for n in snap.nodes.iter() {
            let Some(labels) = n.labels() else { continue };
            if n.pods_with_required_anti > 0 {
                for e in n.pods.iter().filter(|e| e.has_required_anti) {
                    for t in required_anti_affinity(&e.pod) {
                        if let Some(v) = labels.get(&t.topology_key) {
                            if term_matches(t, ns(&e.pod), &pod.pod, nsl) {
                                add(&mut st.existing_anti, &t.topology_key, v, 1);
                            }
                        }
                    }
                }
            }
            if aff.is_empty() && anti.is_empty() {
                continue;
            }
            for e in &n.pods {
                if !aff.is_empty() && aff.iter().all(|t| term_matches(t, pns, &e.pod, nsl)) {
                    for t in aff {
                        if let Some(v) = labels.get(&t.topology_key) {
                            add(&mut st.affinity, &t.topology_key, v, 1);
                        }
                    }
                }
                for t in anti {
                    if let Some(v) = labels.get(&t.topology_key) {
                        if term_matches(t, pns, &e.pod, nsl) {
                            add(&mut st.anti, &t.topology_key, v, 1);
                        }
                    }
                }
            }
        }
        Some(st)
    }

    /// The filter proper, given the state.
    pub fn check(
        st: &AffinityState,
        pod: &PodInfo,
        node: &NodeInfo,
        nsl: &NsLabels,
    ) -> Result<(), Failure> {
        let empty = BTreeMap::new();
        let labels = node.labels().unwrap_or(&empty);
        // Required affinity.
        let aff = required_affinity(&pod.pod);
        if !aff.is_empty() {
            let mut pods_exist = true;
            for t in aff {
                match labels.get(&t.topology_key) {
                    Some(v) => {
                        if get(&st.affinity, &t.topology_key, v) <= 0 {
                            pods_exist = false;
                        }
                    }
                    None => return Err(Failure::unresolvable(ERR_AFFINITY)),
                }
            }
            // The first pod of a group that selects itself may go anywhere
            // that has the topology labels.
            let first_of_group = st.affinity.is_empty()
                && aff
                    .iter()
                    .all(|t| term_matches(t, ns(&pod.pod), &pod.pod, nsl));
            if !pods_exist && !first_of_group {
                return Err(Failure::unresolvable(ERR_AFFINITY));
            }
        }
        // Required anti-affinity.
        for t in required_anti_affinity(&pod.pod) {
            if let Some(v) = labels.get(&t.topology_key) {
                if get(&st.anti, &t.topology_key, v) > 0 {
                    return Err(Failure::unschedulable(ERR_ANTI_AFFINITY));
                }
            }
        }
        // Existing pods' anti-affinity.
        for (k, vals) in &st.existing_anti {
            if let Some(v) = labels.get(k) {
                if vals.get(v).copied().unwrap_or(0) > 0 {
                    return Err(Failure::unschedulable(ERR_EXISTING_ANTI_AFFINITY));
                }
            }
        }
        Ok(())
    }
}

impl Plugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        "InterPodAffinity"
    }

    fn pre_filter(&self, pod: &PodInfo, snap: &Snapshot) -> Result<State, Failure> {
        Ok(InterPodAffinity::state(pod, snap)
            .map(|s| Arc::new((s, snap.namespaces.clone())) as Arc<dyn Any + Send + Sync>))
    }

    fn filter_with(
        &self,
        pod: &PodInfo,
        node: &NodeInfo,
        state: Option<&(dyn Any + Send + Sync)>,
    ) -> Result<(), Failure> {
        match state.and_then(|s| s.downcast_ref::<(AffinityState, Arc<NsLabels>)>()) {
            Some((st, nsl)) => InterPodAffinity::check(st, pod, node, nsl),
            None => Ok(()),
        }
    }

    /// Upstream's PreScore + Score + NormalizeScore: preferred terms of the
    /// incoming pod (+/- weight for each matching existing pod), and
    /// existing pods' required affinity (hardPodAffinityWeight) and
    /// preferred (anti-)affinity terms selecting the incoming pod, summed
    /// per topology pair; then scaled min..max to 0..100.
    fn score_nodes(&self, pod: &PodInfo, nodes: &[&Arc<NodeInfo>], snap: &Snapshot) -> Vec<i64> {
        let pa = preferred_affinity(&pod.pod);
        let pn = preferred_anti_affinity(&pod.pod);
        let has_own = !pa.is_empty() || !pn.is_empty();
        if !has_own && snap.pods_with_affinity == 0 {
            return vec![0; nodes.len()];
        }
        let nsl = &*snap.namespaces;
        let pns = ns(&pod.pod);
        let mut topo = Counts::new();
        for n in snap.nodes.iter() {
            let Some(labels) = n.labels() else { continue };
            for e in n.pods.iter().filter(|e| has_own || e.has_affinity) {
                let mut bump = |t: &PodAffinityTerm, owner: &str, target: &Pod, w: i64| {
                    if let Some(v) = labels.get(&t.topology_key) {
                        if w != 0 && term_matches(t, owner, target, nsl) {
                            add(&mut topo, &t.topology_key, v, w);
                        }
                    }
                };
                for w in pa {
                    bump(&w.pod_affinity_term, pns, &e.pod, i64::from(w.weight));
                }
                for w in pn {
                    bump(&w.pod_affinity_term, pns, &e.pod, -i64::from(w.weight));
                }
                if e.has_affinity {
                    let ens = ns(&e.pod);
                    for t in required_affinity(&e.pod) {
                        bump(t, ens, &pod.pod, HARD_POD_AFFINITY_WEIGHT);
                    }
                    for w in preferred_affinity(&e.pod) {
                        bump(&w.pod_affinity_term, ens, &pod.pod, i64::from(w.weight));
                    }
                    for w in preferred_anti_affinity(&e.pod) {
                        bump(&w.pod_affinity_term, ens, &pod.pod, -i64::from(w.weight));
                    }
                }
            }
        }
        let mut scores: Vec<i64> = nodes
            .iter()
            .map(|n| {
                let Some(labels) = n.labels() else { return 0 };
                topo.iter()
                    .filter_map(|(k, vals)| labels.get(k).and_then(|v| vals.get(v)))
                    .sum()
            })
            .collect();
        let (min, max) = (
            scores.iter().copied().min().unwrap_or(0),
            scores.iter().copied().max().unwrap_or(0),
        );
        for s in &mut scores {
            *s = if max > min {
                (MAX_NODE_SCORE as f64 * ((*s - min) as f64 / (max - min) as f64)) as i64
            } else {
                0
            };
        }
        scores
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use serde_json::{json, Value};

    fn zone_node(name: &str, zone: &str) -> NodeInfo {
        node(
            name,
            json!({"metadata": {"labels": {"kubernetes.io/hostname": name, "zone": zone}}}),
        )
    }

    fn labelled(name: &str, ns: &str, labels: Value, spec: Value) -> crate::nodeinfo::PodEntry {
        let mut v = pod_value(name, spec);
        v["metadata"]["labels"] = labels;
        v["metadata"]["namespace"] = json!(ns);
        crate::nodeinfo::PodEntry::new(Arc::new(serde_json::from_value(v).unwrap()))
    }

    fn incoming(labels: Value, spec: Value) -> PodInfo {
        let e = labelled("in", "default", labels, spec);
        PodInfo::new(e.pod)
    }

    fn term(key: &str, extra: Value) -> Value {
        let mut t = json!({"topologyKey": key, "labelSelector": {"matchLabels": {"app": "web"}}});
        merge(&mut t, extra);
        t
    }

    fn snap(nodes: Vec<NodeInfo>, namespaces: Value) -> Snapshot {
        Snapshot {
            namespaces: Arc::new(serde_json::from_value(namespaces).unwrap()),
            ..Snapshot::with_nodes(nodes)
        }
    }

    fn run(p: &PodInfo, s: &Snapshot) -> Vec<Result<(), String>> {
        let st = InterPodAffinity.pre_filter(p, s).unwrap();
        s.nodes
            .iter()
            .map(|n| {
                InterPodAffinity
                    .filter_with(p, n, st.as_deref())
                    .map_err(|f| f.reasons[0].clone())
            })
            .collect()
    }

    #[test]
    fn required_anti_affinity_by_hostname_and_zone() {
        let mut a = zone_node("a", "z1");
        a.add_pod(labelled("w", "default", json!({"app": "web"}), json!({})));
        let b = zone_node("b", "z1");
        let c = zone_node("c", "z2");
        let s = snap(vec![a, b, c], json!({}));
        let host = incoming(
            json!({"app": "web"}),
            json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("kubernetes.io/hostname", json!({}))]}}}),
        );
        assert_eq!(
            run(&host, &s),
            vec![Err(ERR_ANTI_AFFINITY.to_string()), Ok(()), Ok(())]
        );
        let zone = incoming(
            json!({}),
            json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("zone", json!({}))]}}}),
        );
        assert_eq!(
            run(&zone, &s),
            vec![
                Err(ERR_ANTI_AFFINITY.to_string()),
                Err(ERR_ANTI_AFFINITY.to_string()),
                Ok(())
            ]
        );
    }

    #[test]
    fn required_affinity_needs_a_matching_pod_in_the_topology_except_the_first() {
        let mut a = zone_node("a", "z1");
        a.add_pod(labelled("w", "default", json!({"app": "web"}), json!({})));
        let b = zone_node("b", "z1");
        let c = zone_node("c", "z2");
        let nolabel = node("d", json!({}));
        let spec = json!({"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("zone", json!({}))]}}});
        let s = snap(vec![a, b, c, nolabel.clone()], json!({}));
        let p = incoming(json!({}), spec.clone());
        let na = Err(ERR_AFFINITY.to_string());
        assert_eq!(run(&p, &s), vec![Ok(()), Ok(()), na.clone(), na.clone()]);
        // No matching pod anywhere: only a pod matching its own terms may go.
        let s = snap(vec![zone_node("c", "z2"), nolabel], json!({}));
        assert_eq!(run(&p, &s), vec![na.clone(), na.clone()]);
        let selfish = incoming(json!({"app": "web"}), spec);
        assert_eq!(run(&selfish, &s), vec![Ok(()), na]);
        let st = InterPodAffinity::state(&selfish, &s).unwrap();
        assert!(InterPodAffinity::check(&st, &selfish, &s.nodes[0], &HashMap::new()).is_ok());
        assert_eq!(
            InterPodAffinity::check(&st, &selfish, &s.nodes[1], &HashMap::new())
                .unwrap_err()
                .code,
            super::super::Code::UnschedulableAndUnresolvable
        );
    }

    #[test]
    fn namespaces_and_namespace_selector() {
        let mut a = zone_node("a", "z1");
        a.add_pod(labelled("w", "other", json!({"app": "web"}), json!({})));
        let s = snap(
            vec![a, zone_node("b", "z2")],
            json!({"other": {"team": "x"}, "default": {}}),
        );
        let anti = |t: Value| {
            incoming(
                json!({}),
                json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [t]}}}),
            )
        };
        let bad = Err(ERR_ANTI_AFFINITY.to_string());
        // Default: own namespace only.
        assert_eq!(
            run(&anti(term("zone", json!({}))), &s),
            vec![Ok(()), Ok(())]
        );
        assert_eq!(
            run(&anti(term("zone", json!({"namespaces": ["other"]}))), &s),
            vec![bad.clone(), Ok(())]
        );
        assert_eq!(
            run(
                &anti(term(
                    "zone",
                    json!({"namespaceSelector": {"matchLabels": {"team": "x"}}})
                )),
                &s
            ),
            vec![bad.clone(), Ok(())]
        );
        assert_eq!(
            run(&anti(term("zone", json!({"namespaceSelector": {}}))), &s),
            vec![bad, Ok(())]
        );
        assert_eq!(
            run(
                &anti(term(
                    "zone",
                    json!({"namespaceSelector": {"matchLabels": {"team": "y"}}})
                )),
                &s
            ),
            vec![Ok(()), Ok(())]
        );
    }

    #[test]
    fn existing_pods_anti_affinity_keeps_matching_pods_away() {
        let mut a = zone_node("a", "z1");
        a.add_pod(labelled(
            "db",
            "default",
            json!({}),
            json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("zone", json!({}))]}}}),
        ));
        let s = snap(
            vec![a, zone_node("b", "z1"), zone_node("c", "z2")],
            json!({}),
        );
        let web = incoming(json!({"app": "web"}), json!({}));
        let bad = Err(ERR_EXISTING_ANTI_AFFINITY.to_string());
        assert_eq!(run(&web, &s), vec![bad.clone(), bad, Ok(())]);
        assert!(run(&incoming(json!({"app": "db"}), json!({})), &s)
            .iter()
            .all(Result::is_ok));
    }

    #[test]
    fn preferred_terms_score_and_normalise() {
        let mut a = zone_node("a", "z1");
        a.add_pod(labelled("w", "default", json!({"app": "web"}), json!({})));
        let mut c = zone_node("c", "z2");
        c.add_pod(labelled("x", "default", json!({"app": "cache"}), json!({})));
        let s = snap(vec![a, zone_node("b", "z1"), c], json!({}));
        let p = incoming(
            json!({}),
            json!({"affinity": {
                "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 10, "podAffinityTerm": term("zone", json!({}))}]},
                "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 5, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": {"app": "cache"}}}}]}}}),
        );
        let nodes: Vec<&Arc<NodeInfo>> = s.nodes.iter().collect();
        // Raw: a 10, b 10, c -5 -> normalised min..max.
        assert_eq!(
            InterPodAffinity.score_nodes(&p, &nodes, &s),
            vec![100, 100, 0]
        );
        // Existing pods' required affinity attracts pods they select.
        let mut d = zone_node("d", "z3");
        d.add_pod(labelled(
            "fan",
            "default",
            json!({}),
            json!({"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("zone", json!({}))]}}}),
        ));
        let s = snap(vec![d, zone_node("e", "z4")], json!({}));
        let nodes: Vec<&Arc<NodeInfo>> = s.nodes.iter().collect();
        let web = incoming(json!({"app": "web"}), json!({}));
        assert_eq!(InterPodAffinity.score_nodes(&web, &nodes, &s), vec![100, 0]);
    }
}
