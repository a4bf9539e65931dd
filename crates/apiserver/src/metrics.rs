//! Prometheus metrics with upstream's names and labels:
//! `apiserver_request_total`, `apiserver_request_duration_seconds`,
//! `apiserver_current_inflight_requests`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

/// Upstream's buckets for `apiserver_request_duration_seconds`.
const BUCKETS: &[f64] = &[
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

/// Labels identifying one request kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RequestLabels {
    pub verb: String,
    pub dry_run: String,
    pub group: String,
    pub version: String,
    pub resource: String,
    pub subresource: String,
    pub scope: String,
}

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// All metrics of one server.
#[derive(Default)]
pub struct Metrics {
    totals: Mutex<BTreeMap<(RequestLabels, u16), u64>>,
    durations: Mutex<BTreeMap<RequestLabels, Histogram>>,
    pub inflight_readonly: AtomicI64,
    pub inflight_mutating: AtomicI64,
}

/// Upstream's metric verb for a request verb (`list` → `LIST`, `create` → `POST`).
pub fn metric_verb(verb: &str) -> String {
    match verb {
        "get" => "GET",
        "list" => "LIST",
        "watch" => "WATCH",
        "create" => "POST",
        "update" => "PUT",
        "patch" => "PATCH",
        "delete" | "deletecollection" => "DELETE",
        other => return other.to_ascii_uppercase(),
    }
    .to_string()
}

impl Metrics {
    pub fn observe(&self, labels: RequestLabels, code: u16, seconds: f64) {
        if let Ok(mut t) = self.totals.lock() {
            *t.entry((labels.clone(), code)).or_default() += 1;
        }
        if let Ok(mut d) = self.durations.lock() {
            let h = d.entry(labels).or_default();
            if h.counts.is_empty() {
                h.counts = vec![0; BUCKETS.len()];
            }
            for (i, b) in BUCKETS.iter().enumerate() {
                if seconds <= *b {
                    h.counts[i] += 1;
                }
            }
            h.sum += seconds;
            h.count += 1;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let labels = |l: &RequestLabels| {
            format!(
                "component=\"apiserver\",dry_run=\"{}\",group=\"{}\",resource=\"{}\",scope=\"{}\",subresource=\"{}\",verb=\"{}\",version=\"{}\"",
                l.dry_run, l.group, l.resource, l.scope, l.subresource, l.verb, l.version
            )
        };
        out.push_str("# HELP apiserver_current_inflight_requests [STABLE] Maximal number of currently used inflight request limit of this apiserver per request kind in last second.\n");
        out.push_str("# TYPE apiserver_current_inflight_requests gauge\n");
        let _ = writeln!(
            out,
            "apiserver_current_inflight_requests{{request_kind=\"mutating\"}} {}",
            self.inflight_mutating.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "apiserver_current_inflight_requests{{request_kind=\"readOnly\"}} {}",
            self.inflight_readonly.load(Ordering::Relaxed)
        );
        out.push_str("# HELP apiserver_request_duration_seconds [STABLE] Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.\n");
        out.push_str("# TYPE apiserver_request_duration_seconds histogram\n");
        if let Ok(d) = self.durations.lock() {
            for (l, h) in d.iter() {
                let ls = labels(l);
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "apiserver_request_duration_seconds_bucket{{{ls},le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "apiserver_request_duration_seconds_bucket{{{ls},le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "apiserver_request_duration_seconds_sum{{{ls}}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "apiserver_request_duration_seconds_count{{{ls}}} {}",
                    h.count
                );
            }
        }
        out.push_str("# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.\n");
        out.push_str("# TYPE apiserver_request_total counter\n");
        if let Ok(t) = self.totals.lock() {
            for ((l, code), n) in t.iter() {
                let _ = writeln!(
                    out,
                    "apiserver_request_total{{code=\"{code}\",{}}} {n}",
                    labels(l)
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_upstream_names() {
        let m = Metrics::default();
        m.observe(
            RequestLabels {
                verb: "LIST".into(),
                dry_run: String::new(),
                group: String::new(),
                version: "v1".into(),
                resource: "pods".into(),
                subresource: String::new(),
                scope: "namespace".into(),
            },
            200,
            0.01,
        );
        let s = m.render();
        assert!(s.contains("apiserver_request_total{code=\"200\",component=\"apiserver\""));
        assert!(s.contains("apiserver_request_duration_seconds_bucket{"));
        assert!(s.contains("le=\"0.025\"} 1"));
    }
}
