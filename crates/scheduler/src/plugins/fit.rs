//! NodeResourcesFit (filter and LeastAllocated/MostAllocated score) and
//! NodeResourcesBalancedAllocation.

use super::{Code, Failure, Plugin, MAX_NODE_SCORE};
use crate::cache::Snapshot;
use crate::nodeinfo::{NodeInfo, PodInfo};
use crate::resources::{is_scalar, Resource};

/// How NodeResourcesFit scores (`scoringStrategy.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoringStrategy {
    LeastAllocated,
    MostAllocated,
}

/// Requests must fit in allocatable minus what is already requested.
pub struct NodeResourcesFit {
    pub strategy: ScoringStrategy,
    /// `(resource name, weight)`; default cpu and memory, weight 1 each.
    pub resources: Vec<(String, i64)>,
}

impl Default for NodeResourcesFit {
    fn default() -> Self {
        NodeResourcesFit {
            strategy: ScoringStrategy::LeastAllocated,
            resources: default_resources(),
        }
    }
}

pub(crate) fn default_resources() -> Vec<(String, i64)> {
    vec![("cpu".into(), 1), ("memory".into(), 1)]
}

/// `(reason, unresolvable)` for every resource the node lacks, in
/// upstream's order: pods, cpu, memory, ephemeral-storage, scalars.
pub fn insufficient(req: &Resource, node: &NodeInfo) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let alloc = &node.allocatable;
    let used = &node.requested;
    if node.pods.len() as i64 + 1 > alloc.allowed_pod_number {
        out.push(("Too many pods".to_string(), false));
    }
    if req.milli_cpu == 0 && req.memory == 0 && req.ephemeral_storage == 0 && req.scalar.is_empty()
    {
        return out;
    }
    let mut check = |name: &str, want: i64, have: i64, used: i64| {
        if want > 0 && want > have - used {
            out.push((format!("Insufficient {name}"), want > have));
        }
    };
    check("cpu", req.milli_cpu, alloc.milli_cpu, used.milli_cpu);
    check("memory", req.memory, alloc.memory, used.memory);
    check(
        "ephemeral-storage",
        req.ephemeral_storage,
        alloc.ephemeral_storage,
        used.ephemeral_storage,
    );
    for (name, want) in &req.scalar {
        if *want == 0 {
            continue;
        }
        check(name, *want, alloc.get(name), used.get(name));
    }
    out
}

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        "NodeResourcesFit"
    }

    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Failure> {
        let lacks = insufficient(&pod.requests, node);
        if lacks.is_empty() {
            return Ok(());
        }
        let code = if lacks.iter().any(|(_, u)| *u) {
            Code::UnschedulableAndUnresolvable
        } else {
            Code::Unschedulable
        };
        Err(Failure {
            code,
            reasons: lacks.into_iter().map(|(r, _)| r).collect(),
        })
    }

    fn score(&self, pod: &PodInfo, node: &NodeInfo, _s: &Snapshot) -> i64 {
        let (mut total, mut weights) = (0i64, 0i64);
        for (name, weight) in &self.resources {
            // Scoring counts containers without requests as 100m / 200Mi.
            let (alloc, req) = alloc_and_requested(name, &pod.non_zero, node, false);
            if alloc == 0 {
                continue;
            }
            let s = match self.strategy {
                ScoringStrategy::LeastAllocated => {
                    if req > alloc {
                        0
                    } else {
                        (alloc - req) * MAX_NODE_SCORE / alloc
                    }
                }
                ScoringStrategy::MostAllocated => req.min(alloc) * MAX_NODE_SCORE / alloc,
            };
            total += s * weight;
            weights += weight;
        }
        if weights == 0 {
            0
        } else {
            total / weights
        }
    }
}

/// `(allocatable, requested including the pod)` for one resource, as
/// upstream's `calculateResourceAllocatableRequest`; `(0, 0)` for a scalar
/// resource the pod does not ask for.
fn alloc_and_requested(
    name: &str,
    pod_req: &Resource,
    node: &NodeInfo,
    use_requested: bool,
) -> (i64, i64) {
    let pod = pod_req.get(name);
    if pod == 0 && is_scalar(name) {
        return (0, 0);
    }
    let used = if use_requested {
        &node.requested
    } else {
        &node.non_zero_requested
    };
    (node.allocatable.get(name), used.get(name) + pod)
}

/// Favours nodes whose cpu and memory utilisation stay balanced.
pub struct BalancedAllocation {
    pub resources: Vec<(String, i64)>,
}

impl Default for BalancedAllocation {
    fn default() -> Self {
        BalancedAllocation {
            resources: default_resources(),
        }
    }
}

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        "NodeResourcesBalancedAllocation"
    }

    fn score(&self, pod: &PodInfo, node: &NodeInfo, _s: &Snapshot) -> i64 {
        // Best-effort pods are skipped (score 0 everywhere).
        if self.resources.iter().all(|(n, _)| pod.requests.get(n) == 0) {
            return 0;
        }
        let mut fractions = Vec::with_capacity(self.resources.len());
        for (name, _) in &self.resources {
            let (alloc, req) = alloc_and_requested(name, &pod.requests, node, true);
            if alloc == 0 {
                continue;
            }
            fractions.push((req as f64 / alloc as f64).min(1.0));
        }
        let std = match fractions.len() {
            0 | 1 => 0.0,
            2 => ((fractions[0] - fractions[1]) / 2.0).abs(),
            n => {
                let mean = fractions.iter().sum::<f64>() / n as f64;
                (fractions
                    .iter()
                    .map(|f| (f - mean) * (f - mean))
                    .sum::<f64>()
                    / n as f64)
                    .sqrt()
            }
        };
        ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use serde_json::json;

    fn req(cpu: &str, mem: &str) -> serde_json::Value {
        json!({"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": cpu, "memory": mem}}}]})
    }

    #[test]
    fn filter_reports_every_insufficient_resource() {
        let mut n = node(
            "a",
            json!({"status": {"allocatable": {"example.com/gpu": "1"}}}),
        );
        n.add_pod(entry("old", req("3", "6Gi")));
        let fit = NodeResourcesFit::default();
        assert!(fit.filter(&pod("p", req("1", "2Gi")), &n).is_ok());
        let e = fit.filter(&pod("p", req("2", "3Gi")), &n).unwrap_err();
        assert_eq!(e.code, Code::Unschedulable);
        assert_eq!(e.reasons, vec!["Insufficient cpu", "Insufficient memory"]);
        // More than the whole node: preemption cannot help.
        let e = fit.filter(&pod("p", req("5", "1Gi")), &n).unwrap_err();
        assert_eq!(e.code, Code::UnschedulableAndUnresolvable);
        let gpu = json!({"containers": [{"name": "c", "image": "x", "resources": {"requests": {"example.com/gpu": "2"}}}]});
        let e = fit.filter(&pod("p", gpu), &n).unwrap_err();
        assert_eq!(e.reasons, vec!["Insufficient example.com/gpu"]);
    }

    #[test]
    fn filter_counts_pods_overhead_and_init_containers() {
        let n = node("a", json!({"status": {"allocatable": {"pods": "1"}}}));
        let mut full = n.clone();
        full.add_pod(entry("old", json!({})));
        let e = NodeResourcesFit::default()
            .filter(&pod("p", json!({})), &full)
            .unwrap_err();
        assert_eq!(e.reasons, vec!["Too many pods"]);
        let init = json!({"initContainers": [{"name": "i", "image": "x", "resources": {"requests": {"cpu": "3900m"}}}],
                          "overhead": {"cpu": "200m"}});
        let e = NodeResourcesFit::default()
            .filter(&pod("p", init), &n)
            .unwrap_err();
        assert_eq!(e.reasons, vec!["Insufficient cpu"]);
        let eph = json!({"containers": [{"name": "c", "image": "x", "resources": {"requests": {"ephemeral-storage": "20Gi"}}}]});
        let e = NodeResourcesFit::default()
            .filter(&pod("p", eph), &n)
            .unwrap_err();
        assert_eq!(e.reasons, vec!["Insufficient ephemeral-storage"]);
    }

    #[test]
    fn least_allocated_prefers_emptier_nodes() {
        let s = Snapshot::default();
        let empty = node("a", json!({}));
        let mut busy = node("b", json!({}));
        busy.add_pod(entry("old", req("2", "4Gi")));
        let p = pod("p", req("1", "2Gi"));
        let fit = NodeResourcesFit::default();
        // cpu (4000-1000)*100/4000 = 75, memory 75.
        assert_eq!(fit.score(&p, &empty, &s), 75);
        assert_eq!(fit.score(&p, &busy, &s), 25);
        // No requests: counted as 100m / 200Mi.
        let be = pod("p", json!({}));
        let mem = 8i64 << 30;
        let expect = ((4000 - 100) * 100 / 4000 + (mem - (200 << 20)) * 100 / mem) / 2;
        assert_eq!(fit.score(&be, &empty, &s), expect);
        let most = NodeResourcesFit {
            strategy: ScoringStrategy::MostAllocated,
            ..Default::default()
        };
        assert_eq!(most.score(&p, &busy, &s), 75);
    }

    #[test]
    fn balanced_allocation_scores_the_spread() {
        let s = Snapshot::default();
        let n = node("a", json!({}));
        // cpu 1/4 = 0.25, memory 4/8 = 0.5: std 0.125, score 87.
        assert_eq!(
            BalancedAllocation::default().score(&pod("p", req("1", "4Gi")), &n, &s),
            87
        );
        assert_eq!(
            BalancedAllocation::default().score(&pod("p", req("2", "4Gi")), &n, &s),
            100
        );
        assert_eq!(
            BalancedAllocation::default().score(&pod("p", json!({})), &n, &s),
            0
        );
    }
}
