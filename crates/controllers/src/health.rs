//! `/healthz` and `/metrics` over plain HTTP (upstream serves them over
//! HTTPS with delegated authentication; TLS comes with the bootstrap work).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::metrics::Metrics;
use crate::Error;

/// The serving task; dropping it stops serving.
pub struct HealthServer {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HealthServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr` and serves `/healthz`, `/livez`, `/readyz` and `/metrics`.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<HealthServer, Error> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Serve { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| Error::Serve { addr, source })?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let metrics = metrics.clone();
                    async move {
                        let (code, ctype, body) = match req.uri().path() {
                            "/healthz" | "/livez" | "/readyz" => {
                                (200, "text/plain", "ok".to_string())
                            }
                            "/metrics" => (200, "text/plain; version=0.0.4", metrics.render()),
                            _ => (404, "text/plain", "404 page not found\n".to_string()),
                        };
                        let resp = hyper::Response::builder()
                            .status(code)
                            .header("content-type", ctype)
                            .body(Full::new(Bytes::from(body)))
                            .unwrap_or_default();
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(HealthServer { addr, task })
}
