//! DefaultPreemption (PostFilter), as upstream: for a pod no node can take,
//! find on each node where removing pods could help the smallest set of
//! lower-priority victims (remove all lower-priority pods, then reprieve
//! the most important ones — PDB-violating first — while the pod still
//! fits), pick the best candidate (fewest PDB violations, lowest
//! highest-priority victim, smallest priority sum, fewest victims, latest
//! start time of the highest-priority victims), and nominate the pod there.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use crate::cache::Snapshot;
use crate::framework::{fit_message, CycleState, Framework};
use crate::nodeinfo::{priority, NodeInfo, PodEntry, PodInfo};
use crate::plugins::{Code, Failure};
use client_support::selectors::label_selector_matches as selector_matches;

/// The outcome of a successful preemption: the node the preemptor is
/// nominated to and the pods to evict there.
#[derive(Clone, Debug)]
pub struct Nomination {
    pub node: String,
    pub victims: Vec<Arc<Pod>>,
    /// Lower-priority pods nominated to the same node, whose nomination is
    /// cleared (upstream `getLowerPriorityNominatedPods`).
    pub displaced: Vec<Arc<Pod>>,
}

/// One node's victims (upstream `Candidate`).
#[derive(Debug)]
struct Candidate {
    node: String,
    victims: Vec<PodEntry>,
    pdb_violations: usize,
}

fn start_time(p: &Pod) -> String {
    // RFC 3339 in UTC sorts as time; a pod that has not started counts as now.
    p.status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .and_then(|t| serde_json::to_value(t).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Upstream `MoreImportantPod` as an ordering: higher priority first, then
/// the one that started earlier.
fn importance(a: &PodEntry, b: &PodEntry) -> Ordering {
    priority(&b.pod)
        .cmp(&priority(&a.pod))
        .then_with(|| start_time(&a.pod).cmp(&start_time(&b.pod)))
}

/// Splits `pods` into (violating, non-violating) as upstream's
/// `filterPodsWithPDBViolation`: each pod selected by a PDB in its
/// namespace (and not already in its `disruptedPods`) uses one of the
/// PDB's `disruptionsAllowed`; a pod that takes one below zero violates.
fn split_by_pdb(
    pods: Vec<PodEntry>,
    pdbs: &[Arc<PodDisruptionBudget>],
) -> (Vec<PodEntry>, Vec<PodEntry>) {
    let mut allowed: Vec<i32> = pdbs
        .iter()
        .map(|p| {
            p.status
                .as_ref()
                .map(|s| s.disruptions_allowed)
                .unwrap_or(0)
        })
        .collect();
    let (mut bad, mut good) = (Vec::new(), Vec::new());
    for e in pods {
        let ns = e.pod.metadata.namespace.as_deref();
        let name = e.pod.metadata.name.as_deref().unwrap_or("");
        let mut violating = false;
        for (i, pdb) in pdbs.iter().enumerate() {
            if pdb.metadata.namespace.as_deref() != ns {
                continue;
            }
            let Some(sel) = pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
                continue;
            };
            let empty = sel.match_labels.as_ref().is_none_or(|m| m.is_empty())
                && sel.match_expressions.as_ref().is_none_or(|m| m.is_empty());
            if empty || !selector_matches(sel, e.pod.metadata.labels.as_ref()) {
                continue;
            }
            let disrupted = pdb
                .status
                .as_ref()
                .and_then(|s| s.disrupted_pods.as_ref())
                .is_some_and(|d| d.contains_key(name));
            if disrupted {
                continue;
            }
            allowed[i] -= 1;
            if allowed[i] < 0 {
                violating = true;
            }
        }
        if violating {
            bad.push(e);
        } else {
            good.push(e);
        }
    }
    (bad, good)
}

/// Orders two candidates; `Less` means `a` is better.
fn compare(a: &Candidate, b: &Candidate) -> Ordering {
    let highest = |c: &Candidate| {
        c.victims
            .first()
            .map(|v| priority(&v.pod))
            .unwrap_or(i32::MIN)
    };
    let sum = |c: &Candidate| -> i64 {
        c.victims
            .iter()
            .map(|v| i64::from(priority(&v.pod)) + i64::from(i32::MAX) + 1)
            .sum()
    };
    // Earliest start among the victims of the highest priority; later wins.
    let earliest = |c: &Candidate| -> String {
        let h = highest(c);
        c.victims
            .iter()
            .filter(|v| priority(&v.pod) == h)
            .map(|v| start_time(&v.pod))
            .min()
            .unwrap_or_default()
    };
    (a.victims.is_empty().cmp(&b.victims.is_empty()).reverse())
        .then(a.pdb_violations.cmp(&b.pdb_violations))
        .then(highest(a).cmp(&highest(b)))
        .then(sum(a).cmp(&sum(b)))
        .then(a.victims.len().cmp(&b.victims.len()))
        .then_with(|| earliest(b).cmp(&earliest(a)))
}

impl Framework {
    /// Whether `trial` (a what-if version of one snapshot node) can take the pod.
    fn fits(
        &self,
        pod: &PodInfo,
        trial: &NodeInfo,
        snap: &Snapshot,
        state: &CycleState,
    ) -> Result<(), Failure> {
        if state.iter().any(Option::is_some) {
            let s2 = snap.with_node(trial.clone());
            let st = self.pre_filter(pod, &s2)?;
            self.filter_node(pod, trial, &s2, &st)
        } else {
            self.filter_node(pod, trial, snap, state)
        }
    }

    /// Upstream `SelectVictimsOnNode`.
    fn select_victims(
        &self,
        pod: &PodInfo,
        node: &NodeInfo,
        snap: &Snapshot,
        state: &CycleState,
    ) -> Result<Candidate, Failure> {
        let mut potential: Vec<PodEntry> = node
            .pods
            .iter()
            .filter(|p| priority(&p.pod) < pod.priority)
            .cloned()
            .collect();
        if potential.is_empty() {
            return Err(Failure::unresolvable(
                "No preemption victims found for incoming pod",
            ));
        }
        let mut trial = node.clone();
        for v in &potential {
            trial.remove_pod(&v.key);
        }
        self.fits(pod, &trial, snap, state)?;
        potential.sort_by(importance);
        let (violating, other) = split_by_pdb(potential, &snap.pdbs);
        let mut victims = Vec::new();
        let mut pdb_violations = 0;
        for (group, is_violating) in [(violating, true), (other, false)] {
            for p in group {
                trial.add_pod(p.clone());
                if self.fits(pod, &trial, snap, state).is_err() {
                    trial.remove_pod(&p.key);
                    pdb_violations += usize::from(is_violating);
                    victims.push(p);
                }
            }
        }
        victims.sort_by(importance);
        Ok(Candidate {
            node: node.name.clone(),
            victims,
            pdb_violations,
        })
    }

    /// DefaultPreemption's PostFilter: the `preemption: ...` clause and, if
    /// a candidate was found, the nomination (the clause is then empty).
    pub fn post_filter(
        &self,
        pod: &PodInfo,
        snap: &Snapshot,
        statuses: &[(String, Failure)],
        state: &CycleState,
    ) -> (String, Option<Nomination>) {
        let policy = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.preemption_policy.as_deref());
        if policy == Some("Never") {
            return (
                "preemption: not eligible due to preemptionPolicy=Never.".to_string(),
                None,
            );
        }
        // Upstream `PodEligibleToPreemptOthers`: while lower-priority pods
        // on the nominated node are terminating, wait for them.
        // (Unless the nominated node can no longer take it at all.)
        let gone_for_good = |nn: &str| {
            statuses
                .iter()
                .any(|(n, f)| n == nn && f.code == Code::UnschedulableAndUnresolvable)
        };
        if let Some(nn) = snap
            .nominated_node_of(&pod.key)
            .filter(|nn| !gone_for_good(nn))
        {
            let terminating = snap.node(nn).is_some_and(|n| {
                n.pods.iter().any(|p| {
                    p.pod.metadata.deletion_timestamp.is_some() && priority(&p.pod) < pod.priority
                })
            });
            if terminating {
                return (
                    "preemption: not eligible due to a terminating pod on the nominated node."
                        .to_string(),
                    None,
                );
            }
        }
        let by_name: HashMap<&str, &Arc<NodeInfo>> =
            snap.nodes.iter().map(|n| (n.name.as_str(), n)).collect();
        let mut out = Vec::new();
        let mut candidates = Vec::new();
        for (name, f) in statuses {
            if f.code == Code::UnschedulableAndUnresolvable {
                out.push((
                    name.clone(),
                    Failure::unresolvable("Preemption is not helpful for scheduling"),
                ));
                continue;
            }
            let Some(n) = by_name.get(name.as_str()) else {
                continue;
            };
            match self.select_victims(pod, n, snap, state) {
                Ok(c) => candidates.push(c),
                Err(f) => out.push((name.clone(), f)),
            }
        }
        if let Some(best) = candidates.into_iter().min_by(compare) {
            let displaced = snap
                .nominated
                .get(&best.node)
                .into_iter()
                .flatten()
                .filter(|e| e.key != pod.key && priority(&e.pod) < pod.priority)
                .map(|e| e.pod.clone())
                .collect();
            return (
                String::new(),
                Some(Nomination {
                    node: best.node,
                    victims: best.victims.into_iter().map(|v| v.pod).collect(),
                    displaced,
                }),
            );
        }
        (
            format!("preemption: {}", fit_message(snap.nodes.len(), &out, "")),
            None,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Profile;
    use crate::framework::Outcome;
    use crate::plugins::testutil::*;
    use serde_json::{json, Value};

    fn cpu(c: &str, prio: i32) -> Value {
        json!({"priority": prio, "containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": c}}}]})
    }

    fn snap(nodes: Vec<NodeInfo>) -> Snapshot {
        Snapshot::with_nodes(nodes)
    }

    fn fw() -> Framework {
        Framework::new(&Profile::default_profile("default-scheduler"), None)
    }

    fn nominate(p: &PodInfo, s: &Snapshot) -> Result<Nomination, String> {
        let mut start = 0;
        match fw().schedule(p, s, &mut start, &mut rand::rng()) {
            Outcome::Unschedulable(e) => e.nomination.clone().ok_or(e.to_string()),
            o => Err(format!("{o:?}")),
        }
    }

    fn names(n: &Nomination) -> Vec<String> {
        n.victims
            .iter()
            .map(|v| v.metadata.name.clone().unwrap())
            .collect()
    }

    #[test]
    fn picks_the_node_with_the_lowest_priority_victims_and_reprieves_the_rest() {
        // 4 cpus each. a: victims of priority 5 and 1; b: priority 3 only.
        let mut a = node("a", json!({}));
        a.add_pod(entry("a5", cpu("2", 5)));
        a.add_pod(entry("a1", cpu("2", 1)));
        let mut b = node("b", json!({}));
        b.add_pod(entry("b3", cpu("2", 3)));
        b.add_pod(entry("b100", cpu("2", 100)));
        let s = snap(vec![a, b]);
        // Needs 2 cpus: on a only a1 must go (a5 is reprieved); on b, b3.
        // a's highest victim (1) is lower than b's (3).
        let n = nominate(&pod("p", cpu("2", 10)), &s).unwrap();
        assert_eq!((n.node.as_str(), names(&n)), ("a", vec!["a1".to_string()]));
        // Needs 4 cpus: only a can make room (b keeps b100); both go.
        let n = nominate(&pod("p", cpu("4", 10)), &s).unwrap();
        assert_eq!(n.node, "a");
        assert_eq!(names(&n), vec!["a5".to_string(), "a1".to_string()]);
        // Needs more than any node has: nothing helps.
        let e = nominate(&pod("p", cpu("5", 10)), &s).unwrap_err();
        assert!(
            e.ends_with("2 Preemption is not helpful for scheduling.."),
            "{e}"
        );
    }

    #[test]
    fn ties_go_to_fewer_victims_then_lower_sum() {
        let mut a = node("a", json!({}));
        a.add_pod(entry("a1", cpu("1", 1)));
        a.add_pod(entry("a2", cpu("1", 1)));
        a.add_pod(entry("a3", cpu("2", 1000)));
        let mut b = node("b", json!({}));
        b.add_pod(entry("b1", cpu("2", 1)));
        b.add_pod(entry("b2", cpu("2", 1000)));
        let s = snap(vec![a, b]);
        // Same highest victim priority; a's sum (2 victims) is larger.
        let n = nominate(&pod("p", cpu("2", 10)), &s).unwrap();
        assert_eq!((n.node.as_str(), names(&n)), ("b", vec!["b1".to_string()]));
    }

    #[test]
    fn candidates_violating_pdbs_come_last() {
        let labelled = |name: &str, app: &str| {
            let mut v = pod_value(name, cpu("4", 1));
            v["metadata"]["labels"] = json!({"app": app});
            PodEntry::new(Arc::new(serde_json::from_value(v).unwrap()))
        };
        let mut a = node("a", json!({}));
        a.add_pod(labelled("guarded", "db"));
        let mut b = node("b", json!({}));
        b.add_pod(labelled("free", "web"));
        let pdb: PodDisruptionBudget = serde_json::from_value(json!({
            "metadata": {"name": "db", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "db"}}},
            "status": {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1}
        }))
        .unwrap();
        let mut s = snap(vec![a, b]);
        s.pdbs = Arc::new(vec![Arc::new(pdb)]);
        for _ in 0..4 {
            let n = nominate(&pod("p", cpu("4", 10)), &s).unwrap();
            assert_eq!(
                (n.node.as_str(), names(&n)),
                ("b", vec!["free".to_string()])
            );
        }
        // With only the guarded node, it is still used (PDBs are best effort).
        let only = snap(vec![s.nodes[0].as_ref().clone()]);
        let mut only = only;
        only.pdbs = s.pdbs.clone();
        assert_eq!(nominate(&pod("p", cpu("4", 10)), &only).unwrap().node, "a");
    }

    #[test]
    fn nominated_pods_hold_their_room_and_terminating_victims_are_awaited() {
        let mut a = node("a", json!({}));
        let mut victim = pod_value("v", cpu("2", 0));
        victim["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        a.add_pod(PodEntry::new(Arc::new(
            serde_json::from_value(victim).unwrap(),
        )));
        let high = pod("high", cpu("3", 100));
        let mut s = snap(vec![a]);
        s.nominated = Arc::new([("a".to_string(), vec![PodEntry::new(high.pod.clone())])].into());
        let mut start = 0;
        // The preemptor waits for its terminating victim instead of preempting again.
        let Outcome::Unschedulable(e) = fw().schedule(&high, &s, &mut start, &mut rand::rng())
        else {
            panic!()
        };
        assert!(e.nomination.is_none());
        assert_eq!(
            e.to_string(),
            "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to a terminating pod on the nominated node.."
        );
        // A lower-priority pod that would fit in the free 2 cpus may not take
        // the nominated pod's room; one of higher priority ignores it.
        let low = pod("low", cpu("1", 10));
        assert!(matches!(
            fw().schedule(&low, &s, &mut start, &mut rand::rng()),
            Outcome::Unschedulable(_)
        ));
        let higher = pod("higher", cpu("1", 1000));
        assert!(matches!(
            fw().schedule(&higher, &s, &mut start, &mut rand::rng()),
            Outcome::Node { .. }
        ));
        // A still higher pod that must preempt there displaces the nominee.
        let top = pod("top", cpu("4", 2000));
        let n = nominate(&top, &s).unwrap();
        assert_eq!(names(&n), vec!["v".to_string()]);
        assert_eq!(n.displaced.len(), 1);
        assert_eq!(n.displaced[0].metadata.name.as_deref(), Some("high"));
    }

    #[test]
    fn preemption_respects_inter_pod_anti_affinity() {
        // The incoming pod's anti-affinity rejects node a because of a
        // low-priority pod there: evicting it helps.
        let mut a = node(
            "a",
            json!({"metadata": {"labels": {"kubernetes.io/hostname": "a"}}}),
        );
        let mut v = pod_value("web-old", json!({"priority": 0}));
        v["metadata"]["labels"] = json!({"app": "web"});
        a.add_pod(PodEntry::new(Arc::new(serde_json::from_value(v).unwrap())));
        let s = snap(vec![a]);
        let p = pod(
            "p",
            json!({"priority": 10, "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "web"}}}]}}}),
        );
        let n = nominate(&p, &s).unwrap();
        assert_eq!(names(&n), vec!["web-old".to_string()]);
    }
}
