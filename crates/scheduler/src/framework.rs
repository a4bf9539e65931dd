//! One profile's plugins and the scheduling algorithm (upstream
//! `schedulePod`): filter nodes — only as many feasible ones as
//! `percentageOfNodesToScore` asks, starting where the previous cycle
//! stopped — score them with weights, pick the best (ties at random), and on
//! failure build upstream's `0/N nodes are available: ...` message with the
//! `preemption: ...` clause.

use std::collections::HashMap;
use std::sync::Arc;

use rand::Rng;

use crate::cache::Snapshot;
use crate::config::Profile;
use crate::nodeinfo::{NodeInfo, PodInfo};
use crate::plugins::{
    BalancedAllocation, Failure, ImageLocality, InterPodAffinity, NodeAffinity, NodeName,
    NodePorts, NodeResourcesFit, NodeUnschedulable, NodeVolumeLimits, Plugin, PodTopologySpread,
    Reservation, State, TaintToleration, VolumeBinding, VolumeRestrictions,
};
use crate::preemption::Nomination;

/// Each filter's pre-filter state, in filter order (upstream CycleState).
pub type CycleState = Vec<State>;

/// Fewest nodes to find feasible before stopping (upstream `minFeasibleNodesToFind`).
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// Lowest adaptive percentage (upstream `minFeasibleNodesPercentageToFind`).
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: i64 = 5;

/// How many feasible nodes to look for among `all` (upstream
/// `numFeasibleNodesToFind`): all of them below 100 nodes; otherwise
/// `percentage`% or, when unset/0, `50 - all/125` (at least 5)%; never
/// fewer than 100.
pub fn num_feasible_nodes_to_find(percentage: Option<i32>, all: usize) -> usize {
    if all < MIN_FEASIBLE_NODES_TO_FIND {
        return all;
    }
    let mut pct = i64::from(percentage.unwrap_or(0));
    if pct >= 100 {
        return all;
    }
    if pct <= 0 {
        pct = 50 - all as i64 / 125;
        if pct < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND {
            pct = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND;
        }
    }
    let n = (all as i64 * pct / 100) as usize;
    n.max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// Why no node was chosen.
#[derive(Clone, Debug)]
pub struct FitError {
    pub num_all_nodes: usize,
    /// A PreFilter rejection's message (then every node has that failure).
    pub pre_filter_msg: String,
    /// Each failing node and its filter failure.
    pub statuses: Vec<(String, Failure)>,
    /// The preemption clause (`PostFilterMsg`), empty if none.
    pub post_filter_msg: String,
    /// Set when preemption found a node: where the pod is nominated and
    /// which pods to evict.
    pub nomination: Option<Nomination>,
}

/// `0/N nodes are available: <count reason, ...>.` with reasons counted per
/// node and sorted as strings, as upstream's `FitError.Error()`.
pub fn fit_message(num_all_nodes: usize, statuses: &[(String, Failure)], post: &str) -> String {
    fit_message_with(num_all_nodes, "", statuses, post)
}

/// [`fit_message`] after a PreFilter rejection: its message replaces the
/// per-node counts (every node carries the same failure).
pub fn fit_message_with(
    num_all_nodes: usize,
    pre_filter_msg: &str,
    statuses: &[(String, Failure)],
    post: &str,
) -> String {
    let mut msg = format!("0/{num_all_nodes} nodes are available:");
    if !pre_filter_msg.is_empty() {
        msg.push_str(&format!(" {pre_filter_msg}."));
        if !post.is_empty() {
            msg.push_str(&format!(" {post}."));
        }
        return msg;
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (_, f) in statuses {
        for r in &f.reasons {
            *counts.entry(r.as_str()).or_default() += 1;
        }
    }
    let mut parts: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
    parts.sort();
    if !parts.is_empty() {
        msg.push_str(&format!(" {}.", parts.join(", ")));
    }
    if !post.is_empty() {
        msg.push_str(&format!(" {post}."));
    }
    msg
}

impl std::fmt::Display for FitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&fit_message_with(
            self.num_all_nodes,
            &self.pre_filter_msg,
            &self.statuses,
            &self.post_filter_msg,
        ))
    }
}

/// The outcome of one scheduling attempt's algorithm.
#[derive(Debug)]
pub enum Outcome {
    /// The chosen node and how many nodes were evaluated / found feasible.
    Node {
        name: String,
        evaluated: usize,
        feasible: usize,
    },
    /// No node fits.
    Unschedulable(FitError),
    /// There is no node at all.
    NoNodes,
}

/// A profile's instantiated plugins.
pub struct Framework {
    pub scheduler_name: String,
    pub(crate) filters: Vec<Arc<dyn Plugin>>,
    scorers: Vec<(Arc<dyn Plugin>, i64)>,
    percentage: Option<i32>,
}

impl Framework {
    /// Builds the plugins of `profile`; `global_percentage` applies when the
    /// profile sets none.
    pub fn new(profile: &Profile, global_percentage: Option<i32>) -> Framework {
        let volume_binding = Arc::new(VolumeBinding {
            bind_timeout: profile.bind_timeout,
        });
        let fit = Arc::new(NodeResourcesFit {
            strategy: profile.fit_strategy,
            resources: profile.fit_resources.clone(),
        });
        let make = |name: &str| -> Option<Arc<dyn Plugin>> {
            Some(match name {
                "NodeUnschedulable" => Arc::new(NodeUnschedulable),
                "NodeName" => Arc::new(NodeName),
                "TaintToleration" => Arc::new(TaintToleration),
                "NodeAffinity" => Arc::new(NodeAffinity),
                "NodePorts" => Arc::new(NodePorts),
                "NodeResourcesFit" => fit.clone(),
                "NodeResourcesBalancedAllocation" => Arc::new(BalancedAllocation {
                    resources: profile.balanced_resources.clone(),
                }),
                "ImageLocality" => Arc::new(ImageLocality),
                "InterPodAffinity" => Arc::new(InterPodAffinity),
                "PodTopologySpread" => Arc::new(PodTopologySpread),
                "VolumeRestrictions" => Arc::new(VolumeRestrictions),
                "NodeVolumeLimits" => Arc::new(NodeVolumeLimits::default()),
                "VolumeBinding" => volume_binding.clone(),
                _ => return None,
            })
        };
        Framework {
            scheduler_name: profile.scheduler_name.clone(),
            filters: profile.filters.iter().filter_map(|n| make(n)).collect(),
            scorers: profile
                .scores
                .iter()
                .filter_map(|(n, w)| make(n).map(|p| (p, *w)))
                .collect(),
            percentage: profile.percentage_of_nodes_to_score.or(global_percentage),
        }
    }

    /// Every filter's per-cycle state for `pod` over `snap`; the first
    /// PreFilter rejection stops the cycle.
    pub fn pre_filter(&self, pod: &PodInfo, snap: &Snapshot) -> Result<CycleState, Failure> {
        self.filters
            .iter()
            .map(|f| f.pre_filter(pod, snap))
            .collect()
    }

    /// Upstream Reserve over the chosen node: each plugin's reservation, in
    /// order. The caller assumes them in the cache and runs their PreBind.
    pub fn reserve(
        &self,
        pod: &PodInfo,
        node: &str,
        snap: &Snapshot,
    ) -> Result<Vec<Arc<dyn Reservation>>, (&'static str, Failure)> {
        let Some(ni) = snap.node(node) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for f in &self.filters {
            if let Some(r) = f.reserve(pod, ni, snap).map_err(|e| (f.name(), e))? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Runs the filters in order; the first failure wins.
    pub fn run_filters(
        &self,
        pod: &PodInfo,
        node: &NodeInfo,
        state: &CycleState,
    ) -> Result<(), Failure> {
        for (i, f) in self.filters.iter().enumerate() {
            f.filter_with(pod, node, state.get(i).and_then(|s| s.as_deref()))?;
        }
        Ok(())
    }

    /// Upstream `RunFilterPluginsWithNominatedPods`: when pods of at least
    /// the same priority are nominated to the node, the pod must fit both
    /// with them counted and without them.
    pub fn filter_node(
        &self,
        pod: &PodInfo,
        node: &NodeInfo,
        snap: &Snapshot,
        state: &CycleState,
    ) -> Result<(), Failure> {
        if snap.nominated.is_empty() {
            return self.run_filters(pod, node, state);
        }
        let nominated: Vec<&crate::nodeinfo::PodEntry> = snap
            .nominated
            .get(&node.name)
            .map(|v| {
                v.iter()
                    .filter(|e| {
                        e.key != pod.key && crate::nodeinfo::priority(&e.pod) >= pod.priority
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !nominated.is_empty() {
            let mut with = node.clone();
            for e in nominated {
                with.add_pod(e.clone());
            }
            if state.iter().any(Option::is_some) {
                let s2 = snap.with_node(with.clone());
                self.run_filters(pod, &with, &self.pre_filter(pod, &s2)?)?;
            } else {
                self.run_filters(pod, &with, state)?;
            }
        }
        self.run_filters(pod, node, state)
    }

    /// Picks a node for `pod`. `next_start` is where this cycle starts
    /// looking and is advanced past the nodes it processed.
    pub fn schedule(
        &self,
        pod: &PodInfo,
        snap: &Snapshot,
        next_start: &mut usize,
        rng: &mut impl Rng,
    ) -> Outcome {
        let all = snap.nodes.len();
        if all == 0 {
            return Outcome::NoNodes;
        }
        let want = num_feasible_nodes_to_find(self.percentage, all);
        let start = *next_start % all;
        let mut feasible: Vec<&Arc<NodeInfo>> = Vec::new();
        let mut statuses = Vec::new();
        let mut processed = 0;
        let state = match self.pre_filter(pod, snap) {
            Ok(s) => s,
            Err(f) => {
                // Upstream: every node gets the PreFilter status, so
                // preemption sees nothing it could help with.
                let statuses: Vec<(String, Failure)> = snap
                    .nodes
                    .iter()
                    .map(|n| (n.name.clone(), f.clone()))
                    .collect();
                let cycle: CycleState = vec![None; self.filters.len()];
                let (post_filter_msg, nomination) = self.post_filter(pod, snap, &statuses, &cycle);
                return Outcome::Unschedulable(FitError {
                    num_all_nodes: all,
                    pre_filter_msg: f.reasons.join(", "),
                    statuses,
                    post_filter_msg,
                    nomination,
                });
            }
        };
        for i in 0..all {
            let n = &snap.nodes[(start + i) % all];
            processed += 1;
            match self.filter_node(pod, n, snap, &state) {
                Ok(()) => {
                    feasible.push(n);
                    if feasible.len() >= want {
                        break;
                    }
                }
                Err(f) => statuses.push((n.name.clone(), f)),
            }
        }
        *next_start = (start + processed) % all;
        if feasible.is_empty() {
            let (post_filter_msg, nomination) = self.post_filter(pod, snap, &statuses, &state);
            return Outcome::Unschedulable(FitError {
                num_all_nodes: all,
                pre_filter_msg: String::new(),
                statuses,
                post_filter_msg,
                nomination,
            });
        }
        let name = if feasible.len() == 1 {
            feasible[0].name.clone()
        } else {
            let scores = self.score(pod, &feasible, snap);
            select_host(&feasible, &scores, rng)
        };
        Outcome::Node {
            name,
            evaluated: processed,
            feasible: feasible.len(),
        }
    }

    /// Weighted, normalised total score per feasible node.
    pub fn score(&self, pod: &PodInfo, nodes: &[&Arc<NodeInfo>], snap: &Snapshot) -> Vec<i64> {
        let mut total = vec![0i64; nodes.len()];
        let mut scores;
        for (p, w) in &self.scorers {
            scores = p.score_nodes(pod, nodes, snap);
            p.normalize(&mut scores);
            for (t, s) in total.iter_mut().zip(&scores) {
                *t += s * w;
            }
        }
        total
    }
}

/// The highest-scoring node; ties broken uniformly at random.
pub fn select_host(nodes: &[&Arc<NodeInfo>], scores: &[i64], rng: &mut impl Rng) -> String {
    let mut best = 0;
    let mut ties = 0u32;
    for (i, s) in scores.iter().enumerate() {
        if *s > scores[best] {
            best = i;
            ties = 1;
        } else if *s == scores[best] {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                best = i;
            }
        }
    }
    nodes[best].name.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::*;
    use serde_json::json;

    fn snap(nodes: Vec<NodeInfo>) -> Snapshot {
        Snapshot::with_nodes(nodes)
    }

    fn fw() -> Framework {
        Framework::new(&Profile::default_profile("default-scheduler"), None)
    }

    #[test]
    fn adaptive_percentage_of_nodes_to_score() {
        assert_eq!(num_feasible_nodes_to_find(None, 50), 50);
        // 50% of 100 is 50, but never fewer than 100.
        assert_eq!(num_feasible_nodes_to_find(None, 100), 100);
        assert_eq!(num_feasible_nodes_to_find(None, 1000), 420);
        assert_eq!(num_feasible_nodes_to_find(None, 5000), 500);
        assert_eq!(num_feasible_nodes_to_find(None, 6000), 300);
        assert_eq!(num_feasible_nodes_to_find(Some(10), 500), 100);
        assert_eq!(num_feasible_nodes_to_find(Some(100), 500), 500);
    }

    #[test]
    fn cycles_start_where_the_last_one_stopped() {
        let nodes: Vec<NodeInfo> = (0..300)
            .map(|i| node(&format!("n{i:03}"), json!({})))
            .collect();
        let s = snap(nodes);
        let f = Framework::new(&Profile::default_profile("x"), Some(10));
        let p = pod("p", json!({}));
        let mut start = 0;
        let mut rng = rand::rng();
        match f.schedule(&p, &s, &mut start, &mut rng) {
            Outcome::Node {
                evaluated,
                feasible,
                ..
            } => {
                assert_eq!((evaluated, feasible), (100, 100));
            }
            o => panic!("{o:?}"),
        }
        assert_eq!(start, 100);
        f.schedule(&p, &s, &mut start, &mut rng);
        f.schedule(&p, &s, &mut start, &mut rng);
        assert_eq!(start, 0);
    }

    #[test]
    fn picks_the_only_fitting_node_and_the_least_allocated() {
        let big = node("big", json!({"status": {"allocatable": {"cpu": "16"}}}));
        let small = node("small", json!({}));
        let p = pod(
            "p",
            json!({"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "8"}}}]}),
        );
        let mut start = 0;
        let mut rng = rand::rng();
        let s = snap(vec![big.clone(), small.clone()]);
        match fw().schedule(&p, &s, &mut start, &mut rng) {
            Outcome::Node { name, .. } => assert_eq!(name, "big"),
            o => panic!("{o:?}"),
        }
        let mut busy = node("busy", json!({}));
        busy.add_pod(entry("x", json!({"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "3", "memory": "6Gi"}}}]})));
        let s = snap(vec![busy, small]);
        for _ in 0..10 {
            match fw().schedule(&pod("q", json!({})), &s, &mut start, &mut rng) {
                Outcome::Node { name, .. } => assert_eq!(name, "small"),
                o => panic!("{o:?}"),
            }
        }
    }

    #[test]
    fn ties_are_broken_at_random() {
        let s = snap(vec![node("a", json!({})), node("b", json!({}))]);
        let mut seen = std::collections::HashSet::new();
        let mut start = 0;
        let mut rng = rand::rng();
        for _ in 0..64 {
            if let Outcome::Node { name, .. } =
                fw().schedule(&pod("p", json!({})), &s, &mut start, &mut rng)
            {
                seen.insert(name);
            }
        }
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn failure_message_is_upstreams() {
        let cpu = json!({"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "3"}}}]});
        let mut full = node("full", json!({}));
        full.add_pod(entry("x", cpu.clone()));
        let tainted = |n: &str| {
            node(
                n,
                json!({"spec": {"taints": [{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}]}}),
            )
        };
        let s = snap(vec![full, tainted("t1"), tainted("t2")]);
        let mut start = 0;
        let mut rng = rand::rng();
        let Outcome::Unschedulable(e) =
            fw().schedule(&pod("p", cpu.clone()), &s, &mut start, &mut rng)
        else {
            panic!("expected unschedulable")
        };
        assert_eq!(
            e.to_string(),
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {dedicated: infra}. \
             preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, \
             2 Preemption is not helpful for scheduling.."
        );
        // Too big for any node: unresolvable everywhere.
        let huge = json!({"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "64"}}}]});
        let s1 = snap(vec![node("a", json!({}))]);
        let Outcome::Unschedulable(e) = fw().schedule(&pod("p", huge), &s1, &mut start, &mut rng)
        else {
            panic!()
        };
        assert_eq!(
            e.to_string(),
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.."
        );
        let never = {
            let mut v = cpu.clone();
            v["preemptionPolicy"] = json!("Never");
            v
        };
        let mut f1 = node("a", json!({}));
        f1.add_pod(entry("x", cpu.clone()));
        let s2 = snap(vec![f1]);
        let Outcome::Unschedulable(e) = fw().schedule(&pod("p", never), &s2, &mut start, &mut rng)
        else {
            panic!()
        };
        assert_eq!(
            e.to_string(),
            "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.."
        );
    }

    #[test]
    fn a_prefilter_rejection_replaces_the_per_node_counts() {
        let s = snap(vec![node("a", json!({})), node("b", json!({}))]);
        let p = pod(
            "p",
            json!({"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "x"}}]}),
        );
        let mut start = 0;
        let Outcome::Unschedulable(e) = fw().schedule(&p, &s, &mut start, &mut rand::rng()) else {
            panic!("expected unschedulable")
        };
        assert_eq!(
            e.to_string(),
            "0/2 nodes are available: persistentvolumeclaim \"x\" not found. \
             preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.."
        );
    }

    #[test]
    fn lower_priority_victims_that_do_not_help_are_reported() {
        let cpu = |c: &str, prio: i32| json!({"priority": prio, "containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": c}}}]});
        let mut n = node("a", json!({}));
        n.add_pod(entry("low", cpu("1", 0)));
        n.add_pod(entry("high", cpu("3", 1000)));
        let s = snap(vec![n]);
        let mut start = 0;
        let mut rng = rand::rng();
        let Outcome::Unschedulable(e) =
            fw().schedule(&pod("p", cpu("2", 10)), &s, &mut start, &mut rng)
        else {
            panic!()
        };
        assert_eq!(
            e.to_string(),
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Insufficient cpu.."
        );
        // If evicting the low-priority pod would help, the clause is left out.
        let Outcome::Unschedulable(e) =
            fw().schedule(&pod("p", cpu("1", 10)), &s, &mut start, &mut rng)
        else {
            panic!()
        };
        assert_eq!(
            e.to_string(),
            "0/1 nodes are available: 1 Insufficient cpu."
        );
    }
}
