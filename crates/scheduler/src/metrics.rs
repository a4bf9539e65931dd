//! The scheduler's Prometheus metrics, named as upstream:
//! `scheduler_schedule_attempts_total{result,profile}`,
//! `scheduler_scheduling_attempt_duration_seconds{result,profile}` and
//! `scheduler_pending_pods{queue}`, rendered in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Upstream's buckets: `ExponentialBuckets(0.001, 2, 15)`.
fn buckets() -> Vec<f64> {
    (0..15).map(|i| 0.001 * 2f64.powi(i)).collect()
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// Attempt results, as upstream labels them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AttemptResult {
    Scheduled,
    Unschedulable,
    Error,
}

impl AttemptResult {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptResult::Scheduled => "scheduled",
            AttemptResult::Unschedulable => "unschedulable",
            AttemptResult::Error => "error",
        }
    }
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Metrics {
    attempts: Mutex<BTreeMap<(AttemptResult, String), (u64, Histogram)>>,
    pending: [AtomicUsize; 4],
}

impl Metrics {
    /// Records one scheduling attempt and how long it took.
    pub fn observe_attempt(&self, result: AttemptResult, profile: &str, seconds: f64) {
        let mut m = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let (n, h) = m.entry((result, profile.to_string())).or_default();
        *n += 1;
        if h.counts.is_empty() {
            h.counts = vec![0; 15];
        }
        for (i, b) in buckets().iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// Sets the pending-pods gauges.
    pub fn set_pending(&self, active: usize, backoff: usize, unschedulable: usize, gated: usize) {
        for (g, v) in self
            .pending
            .iter()
            .zip([active, backoff, unschedulable, gated])
        {
            g.store(v, Ordering::Relaxed);
        }
    }

    /// The number of attempts recorded with this result and profile.
    pub fn attempts(&self, result: AttemptResult, profile: &str) -> u64 {
        let m = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        m.get(&(result, profile.to_string()))
            .map(|(n, _)| *n)
            .unwrap_or(0)
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let m = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        out.push_str("# HELP scheduler_schedule_attempts_total Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem.\n");
        out.push_str("# TYPE scheduler_schedule_attempts_total counter\n");
        for ((r, p), (n, _)) in m.iter() {
            let _ = writeln!(
                out,
                "scheduler_schedule_attempts_total{{profile=\"{p}\",result=\"{}\"}} {n}",
                r.as_str()
            );
        }
        out.push_str("# HELP scheduler_scheduling_attempt_duration_seconds Scheduling attempt latency in seconds (scheduling algorithm + binding)\n");
        out.push_str("# TYPE scheduler_scheduling_attempt_duration_seconds histogram\n");
        let bs = buckets();
        for ((r, p), (_, h)) in m.iter() {
            let labels = format!("profile=\"{p}\",result=\"{}\"", r.as_str());
            for (i, b) in bs.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "scheduler_scheduling_attempt_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                    h.counts.get(i).copied().unwrap_or(0)
                );
            }
            let _ = writeln!(
                out,
                "scheduler_scheduling_attempt_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "scheduler_scheduling_attempt_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "scheduler_scheduling_attempt_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out.push_str("# HELP scheduler_pending_pods Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods; 'gated' is the number of unschedulable pods that the scheduler never attempted to schedule because they are gated.\n");
        out.push_str("# TYPE scheduler_pending_pods gauge\n");
        for (name, g) in ["active", "backoff", "unschedulable", "gated"]
            .iter()
            .zip(self.pending.iter())
        {
            let _ = writeln!(
                out,
                "scheduler_pending_pods{{queue=\"{name}\"}} {}",
                g.load(Ordering::Relaxed)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let m = Metrics::default();
        m.observe_attempt(AttemptResult::Scheduled, "default-scheduler", 0.003);
        m.observe_attempt(AttemptResult::Scheduled, "default-scheduler", 0.5);
        m.set_pending(1, 2, 3, 0);
        let t = m.render();
        assert!(t.contains(
            "scheduler_schedule_attempts_total{profile=\"default-scheduler\",result=\"scheduled\"} 2"
        ));
        assert!(t.contains("le=\"0.004\"} 1"));
        assert!(t.contains("le=\"+Inf\"} 2"));
        assert!(t.contains("scheduler_pending_pods{queue=\"unschedulable\"} 3"));
        assert_eq!(m.attempts(AttemptResult::Scheduled, "default-scheduler"), 2);
    }
}
