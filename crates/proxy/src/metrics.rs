//! The proxy's Prometheus metrics (text exposition format), with
//! upstream's names and buckets.

use std::fmt::Write as _;
use std::sync::Mutex;

/// A cumulative histogram.
#[derive(Debug)]
pub struct Histogram {
    bounds: Vec<f64>,
    state: Mutex<HistState>,
}

#[derive(Debug, Default)]
struct HistState {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    /// A histogram with these upper bounds (sorted).
    pub fn new(bounds: Vec<f64>) -> Self {
        let n = bounds.len();
        Histogram {
            bounds,
            state: Mutex::new(HistState {
                counts: vec![0; n],
                ..HistState::default()
            }),
        }
    }

    /// Records one observation (seconds).
    pub fn observe(&self, v: f64) {
        let mut s = self.state.lock().expect("histogram lock");
        for (i, b) in self.bounds.iter().enumerate() {
            if v <= *b {
                s.counts[i] += 1;
            }
        }
        s.sum += v;
        s.count += 1;
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.state.lock().expect("histogram lock").count
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let s = self.state.lock().expect("histogram lock");
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (b, c) in self.bounds.iter().zip(&s.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", s.count);
        let _ = writeln!(out, "{name}_sum {}", s.sum);
        let _ = writeln!(out, "{name}_count {}", s.count);
    }
}

fn exponential(start: f64, factor: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| start * factor.powi(i as i32)).collect()
}

fn linear(start: f64, width: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| start + width * i as f64).collect()
}

/// The metrics kube-proxy exports.
#[derive(Debug)]
pub struct Metrics {
    /// `kubeproxy_sync_proxy_rules_duration_seconds`
    pub sync_duration: Histogram,
    /// `kubeproxy_network_programming_duration_seconds`: from an
    /// EndpointSlice's `last-change-trigger-time` to the rules being in place.
    pub network_programming: Histogram,
    /// `kubeproxy_sync_proxy_rules_last_timestamp_seconds`
    last_sync: Mutex<f64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut np = linear(0.25, 0.25, 2);
        np.extend(linear(1.0, 1.0, 59));
        np.extend(linear(60.0, 5.0, 12));
        np.extend(linear(120.0, 30.0, 7));
        Metrics {
            sync_duration: Histogram::new(exponential(0.001, 2.0, 15)),
            network_programming: Histogram::new(np),
            last_sync: Mutex::new(0.0),
        }
    }
}

impl Metrics {
    /// Records the time of a successful sync (seconds since the epoch).
    pub fn set_last_sync(&self, unix_seconds: f64) {
        *self.last_sync.lock().expect("metrics lock") = unix_seconds;
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.sync_duration.render(
            &mut out,
            "kubeproxy_sync_proxy_rules_duration_seconds",
            "SyncProxyRules latency in seconds",
        );
        self.network_programming.render(
            &mut out,
            "kubeproxy_network_programming_duration_seconds",
            "In Cluster Network Programming Latency in seconds",
        );
        let _ = writeln!(
            out,
            "# HELP kubeproxy_sync_proxy_rules_last_timestamp_seconds The last time proxy rules were successfully synced\n# TYPE kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge\nkubeproxy_sync_proxy_rules_last_timestamp_seconds {}",
            *self.last_sync.lock().expect("metrics lock")
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_buckets() {
        let m = Metrics::default();
        m.sync_duration.observe(0.003);
        m.set_last_sync(12.5);
        let t = m.render();
        assert!(t.contains("kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"0.002\"} 0"));
        assert!(t.contains("kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"0.004\"} 1"));
        assert!(t.contains("kubeproxy_sync_proxy_rules_duration_seconds_count 1"));
        assert!(t.contains("kubeproxy_network_programming_duration_seconds_bucket{le=\"+Inf\"} 0"));
        assert!(t.contains("kubeproxy_sync_proxy_rules_last_timestamp_seconds 12.5"));
    }
}
