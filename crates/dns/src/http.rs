//! The plain-HTTP side ports, as CoreDNS's `health`, `ready` and
//! `prometheus` plugins serve them: `/health`, `/ready`, `/metrics`. Paths
//! whose addresses coincide share one listener.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::error::Error;
use crate::metrics::Metrics;
use crate::watch::Readiness;

/// One of the HTTP endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    /// `/health`: 200 while the process runs.
    Health,
    /// `/ready`: 200 once the initial lists are in the index.
    Ready,
    /// `/metrics`: Prometheus text.
    Metrics,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Endpoint::Health => "/health",
            Endpoint::Ready => "/ready",
            Endpoint::Metrics => "/metrics",
        }
    }
}

#[derive(Clone)]
struct State {
    routes: Vec<Endpoint>,
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
}

/// Binds every requested endpoint; returns the bound address of each and
/// the serving tasks.
pub async fn bind(
    wanted: &[(Endpoint, SocketAddr)],
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
) -> Result<
    (
        BTreeMap<Endpoint, SocketAddr>,
        Vec<tokio::task::JoinHandle<()>>,
    ),
    Error,
> {
    let mut by_addr: BTreeMap<SocketAddr, Vec<Endpoint>> = BTreeMap::new();
    for (ep, addr) in wanted {
        by_addr.entry(*addr).or_default().push(*ep);
    }
    let mut bound = BTreeMap::new();
    let mut tasks = Vec::new();
    for (addr, routes) in by_addr {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind {
                what: routes[0].path(),
                addr,
                source,
            })?;
        let local = listener.local_addr().map_err(|source| Error::Bind {
            what: routes[0].path(),
            addr,
            source,
        })?;
        for r in &routes {
            bound.insert(*r, local);
        }
        let state = State {
            routes,
            readiness: readiness.clone(),
            metrics: metrics.clone(),
        };
        tasks.push(tokio::spawn(serve(listener, state)));
    }
    Ok((bound, tasks))
}

async fn serve(listener: TcpListener, state: State) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(route(&state, &req)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn route(state: &State, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let found = state
        .routes
        .iter()
        .find(|r| r.path() == req.uri().path())
        .copied();
    let (status, content_type, body) = match found {
        Some(Endpoint::Health) => (StatusCode::OK, "text/plain", "OK".to_string()),
        Some(Endpoint::Ready) if state.readiness.is_ready() => {
            (StatusCode::OK, "text/plain", "OK".to_string())
        }
        Some(Endpoint::Ready) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "kubernetes".to_string(),
        ),
        Some(Endpoint::Metrics) => (
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            state.metrics.render(),
        ),
        None => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "404 page not found\n".to_string(),
        ),
    };
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}
