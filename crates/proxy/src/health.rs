//! The healthz server (`/healthz`, `/livez`, upstream's JSON body) and the
//! metrics server (`/metrics`), on plain HTTP as upstream.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use crate::error::Error;
use crate::metrics::Metrics;

/// When rules were last programmed and whether a change waits too long.
#[derive(Debug)]
pub struct Health {
    timeout: Duration,
    state: Mutex<HealthState>,
}

#[derive(Debug, Default)]
struct HealthState {
    last_updated: Option<DateTime<Utc>>,
    oldest_pending: Option<DateTime<Utc>>,
}

impl Health {
    /// Unhealthy once a change has waited longer than `timeout` (upstream:
    /// twice the sync period).
    pub fn new(timeout: Duration) -> Self {
        Health {
            timeout,
            state: Mutex::new(HealthState::default()),
        }
    }

    /// A change arrived that the next sync will program.
    pub fn queued(&self) {
        let mut s = self.state.lock().expect("health lock");
        s.oldest_pending.get_or_insert_with(Utc::now);
    }

    /// A sync succeeded.
    pub fn updated(&self) {
        let mut s = self.state.lock().expect("health lock");
        s.last_updated = Some(Utc::now());
        s.oldest_pending = None;
    }

    /// Health status and the upstream JSON body (`with_node` adds
    /// `nodeEligible`, as `/healthz` has and `/livez` has not).
    pub fn report(&self, with_node: bool) -> (bool, String) {
        let now = Utc::now();
        let s = self.state.lock().expect("health lock");
        let healthy = match s.oldest_pending {
            None => true,
            Some(t) => (now - t).to_std().unwrap_or_default() < self.timeout,
        };
        let last = s
            .last_updated
            .map(go_time)
            .unwrap_or_else(|| "0001-01-01 00:00:00 +0000 UTC".into());
        let body = if with_node {
            format!(
                "{{\"lastUpdated\": {:?},\"currentTime\": {:?}, \"nodeEligible\": true}}",
                last,
                go_time(now)
            )
        } else {
            format!(
                "{{\"lastUpdated\": {:?},\"currentTime\": {:?}}}",
                last,
                go_time(now)
            )
        };
        (healthy, body)
    }
}

/// Formats like Go's `time.Time.String()` in UTC.
fn go_time(t: DateTime<Utc>) -> String {
    let frac = format!("{:09}", t.timestamp_subsec_nanos());
    let frac = frac.trim_end_matches('0');
    let dot = if frac.is_empty() { "" } else { "." };
    format!("{}{dot}{frac} +0000 UTC", t.format("%Y-%m-%d %H:%M:%S"))
}

type Handler = Arc<dyn Fn(&str) -> (StatusCode, &'static str, String) + Send + Sync>;

/// Binds `addr` now (so a busy port is an error at start) and serves
/// `handler` on a background task until the returned handle is aborted.
pub async fn serve(
    addr: SocketAddr,
    handler: Handler,
) -> Result<tokio::task::JoinHandle<()>, Error> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Serve {
            addr: addr.to_string(),
            source,
        })?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let (status, ctype, body) = handler(req.uri().path());
                    let resp = Response::builder()
                        .status(status)
                        .header("Content-Type", ctype)
                        .header("X-Content-Type-Options", "nosniff")
                        .body(Full::new(Bytes::from(body)))
                        .expect("static response parts");
                    async move { Ok::<_, Infallible>(resp) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    }))
}

/// The healthz handler.
pub fn healthz_handler(health: Arc<Health>) -> Handler {
    Arc::new(move |path| match path {
        "/healthz" | "/livez" => {
            let (ok, body) = health.report(path == "/healthz");
            let status = if ok {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (status, "application/json", body)
        }
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "404 page not found\n".into(),
        ),
    })
}

/// The metrics handler (also answers `/healthz` with `ok`, as upstream's
/// metrics server does).
pub fn metrics_handler(metrics: Arc<Metrics>) -> Handler {
    Arc::new(move |path| match path {
        "/metrics" => (
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.render(),
        ),
        "/healthz" => (StatusCode::OK, "text/plain", "ok".into()),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "404 page not found\n".into(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_shape_and_staleness() {
        let h = Health::new(Duration::from_secs(60));
        let (ok, body) = h.report(true);
        assert!(ok);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["lastUpdated"], "0001-01-01 00:00:00 +0000 UTC");
        assert_eq!(v["nodeEligible"], true);
        h.queued();
        h.updated();
        let (_, body) = h.report(false);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(v["lastUpdated"].as_str().unwrap().ends_with(" +0000 UTC"));
        assert!(v.get("nodeEligible").is_none());
        let stale = Health::new(Duration::ZERO);
        stale.queued();
        assert!(!stale.report(true).0);
    }

    #[test]
    fn go_time_format() {
        let t = DateTime::parse_from_rfc3339("2024-06-21T11:08:45.074765600Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(go_time(t), "2024-06-21 11:08:45.0747656 +0000 UTC");
    }
}
