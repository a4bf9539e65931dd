//! Prometheus metrics named as CoreDNS names them, so dashboards and alerts
//! written for CoreDNS (`coredns_dns_requests_total`, ...) work unchanged.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the request duration histogram, in seconds (CoreDNS:
/// exponential from 0.25 ms, factor 2, 16 buckets).
const BUCKETS: [f64; 16] = [
    0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024,
    2.048, 4.096, 8.192,
];

/// One observed request, as the handler reports it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// `cluster.local.` for answers from the index, `.` for forwarded ones.
    pub zone: &'a str,
    /// `udp` or `tcp`.
    pub proto: &'a str,
    /// `1` for IPv4 clients, `2` for IPv6 ones.
    pub family: u8,
    /// The query type (`A`, `SRV`, ...).
    pub qtype: &'a str,
    /// The response code (`NOERROR`, `NXDOMAIN`, ...).
    pub rcode: &'a str,
    /// What answered: `kubernetes` or `forward`.
    pub plugin: &'a str,
    /// Time from request to response.
    pub duration: Duration,
}

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    /// (zone, proto, family, type) → count.
    requests: BTreeMap<(String, String, u8, String), u64>,
    /// (zone, rcode, plugin) → count.
    responses: BTreeMap<(String, String, String), u64>,
    /// (zone, type) → histogram.
    durations: BTreeMap<(String, String), Histogram>,
    /// upstream → (rcode → count).
    forwards: BTreeMap<(String, String), u64>,
}

/// The registry of this server's metrics.
#[derive(Debug)]
pub struct Metrics {
    server: String,
    inner: Mutex<Inner>,
}

impl Metrics {
    /// Metrics labelled with `server` (CoreDNS writes `dns://:53`).
    pub fn new(server: impl Into<String>) -> Self {
        Metrics {
            server: server.into(),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Records one answered request.
    pub fn observe(&self, o: Observation<'_>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *inner
            .requests
            .entry((o.zone.into(), o.proto.into(), o.family, o.qtype.into()))
            .or_default() += 1;
        *inner
            .responses
            .entry((o.zone.into(), o.rcode.into(), o.plugin.into()))
            .or_default() += 1;
        let h = inner
            .durations
            .entry((o.zone.into(), o.qtype.into()))
            .or_default();
        let secs = o.duration.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Records one exchange with an upstream (`rcode` or an error word).
    pub fn observe_forward(&self, upstream: &str, rcode: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *inner
            .forwards
            .entry((upstream.into(), rcode.into()))
            .or_default() += 1;
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let server = &self.server;
        let mut out = String::new();
        out.push_str("# HELP coredns_dns_requests_total Counter of DNS requests made per zone, protocol and family.\n");
        out.push_str("# TYPE coredns_dns_requests_total counter\n");
        for ((zone, proto, family, qtype), n) in &inner.requests {
            let _ = writeln!(
                out,
                "coredns_dns_requests_total{{server=\"{server}\",zone=\"{zone}\",view=\"\",proto=\"{proto}\",family=\"{family}\",type=\"{qtype}\"}} {n}"
            );
        }
        out.push_str("# HELP coredns_dns_responses_total Counter of response status codes.\n");
        out.push_str("# TYPE coredns_dns_responses_total counter\n");
        for ((zone, rcode, plugin), n) in &inner.responses {
            let _ = writeln!(
                out,
                "coredns_dns_responses_total{{server=\"{server}\",zone=\"{zone}\",view=\"\",rcode=\"{rcode}\",plugin=\"{plugin}\"}} {n}"
            );
        }
        out.push_str("# HELP coredns_dns_request_duration_seconds Histogram of the time (in seconds) each request took per zone.\n");
        out.push_str("# TYPE coredns_dns_request_duration_seconds histogram\n");
        for ((zone, qtype), h) in &inner.durations {
            let labels = format!("server=\"{server}\",zone=\"{zone}\",view=\"\",type=\"{qtype}\"");
            for (le, n) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(
                    out,
                    "coredns_dns_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "coredns_dns_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "coredns_dns_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "coredns_dns_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out.push_str(
            "# HELP coredns_forward_responses_total Counter of responses received per upstream.\n",
        );
        out.push_str("# TYPE coredns_forward_responses_total counter\n");
        for ((to, rcode), n) in &inner.forwards {
            let _ = writeln!(
                out,
                "coredns_forward_responses_total{{rcode=\"{rcode}\",to=\"{to}\"}} {n}"
            );
        }
        out
    }
}

/// The mnemonic of a response code as CoreDNS labels it (`NOERROR`,
/// `NXDOMAIN`, ...); other codes as their number.
pub fn rcode_label(rcode: hickory_proto::op::ResponseCode) -> String {
    use hickory_proto::op::ResponseCode as R;
    match rcode {
        R::NoError => "NOERROR".into(),
        R::FormErr => "FORMERR".into(),
        R::ServFail => "SERVFAIL".into(),
        R::NXDomain => "NXDOMAIN".into(),
        R::NotImp => "NOTIMP".into(),
        R::Refused => "REFUSED".into(),
        R::YXDomain => "YXDOMAIN".into(),
        R::YXRRSet => "YXRRSET".into(),
        R::NXRRSet => "NXRRSET".into(),
        R::NotAuth => "NOTAUTH".into(),
        R::NotZone => "NOTZONE".into(),
        other => u16::from(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::new("dns://:53");
        for ms in [0, 3, 3000] {
            m.observe(Observation {
                zone: "cluster.local.",
                proto: "udp",
                family: 1,
                qtype: "A",
                rcode: "NOERROR",
                plugin: "kubernetes",
                duration: Duration::from_millis(ms),
            });
        }
        m.observe_forward("10.1.1.1:53", "NOERROR");
        let text = m.render();
        assert!(text.contains("coredns_dns_requests_total{server=\"dns://:53\",zone=\"cluster.local.\",view=\"\",proto=\"udp\",family=\"1\",type=\"A\"} 3"), "{text}");
        assert!(text.contains("coredns_dns_responses_total{server=\"dns://:53\",zone=\"cluster.local.\",view=\"\",rcode=\"NOERROR\",plugin=\"kubernetes\"} 3"), "{text}");
        assert!(text.contains("le=\"0.004\"} 2"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 3"), "{text}");
        assert!(text.contains("coredns_dns_request_duration_seconds_count{server=\"dns://:53\",zone=\"cluster.local.\",view=\"\",type=\"A\"} 3"), "{text}");
        assert!(
            text.contains(
                "coredns_forward_responses_total{rcode=\"NOERROR\",to=\"10.1.1.1:53\"} 1"
            ),
            "{text}"
        );
    }
}
