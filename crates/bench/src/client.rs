//! An HTTP/2-over-TLS client for the apiserver, shaped like client-go's: a
//! few long-lived connections with every request multiplexed as a stream,
//! so the benchmark measures request handling, not TCP and TLS handshakes.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;

/// Go's HTTP/2 transport advertises a 4 MiB stream window; matching it keeps
/// large list responses from stalling on window updates.
const STREAM_WINDOW: u32 = 4 << 20;
const CONNECTION_WINDOW: u32 = 16 << 20;

/// Requests round-robin over `connections` HTTP/2 connections.
pub struct ApiClient {
    conns: Vec<SendRequest<Full<Bytes>>>,
    next: AtomicUsize,
    base: String,
    auth: HeaderValue,
}

impl ApiClient {
    /// Connects to `https://localhost:<port>` trusting only `ca_file`.
    pub async fn connect(
        port: u16,
        ca_file: &Path,
        token: &str,
        connections: usize,
    ) -> anyhow::Result<Self> {
        let tls = Arc::new(tls_config(ca_file)?);
        let mut conns = Vec::new();
        for _ in 0..connections.max(1) {
            conns.push(open(port, tls.clone()).await?);
        }
        Ok(ApiClient {
            conns,
            next: AtomicUsize::new(0),
            base: format!("https://localhost:{port}"),
            auth: HeaderValue::from_str(&format!("Bearer {token}"))?,
        })
    }

    /// Sends a request and returns as soon as the response headers arrive
    /// (watch needs the body as a stream).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<Response<Incoming>> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        let mut sender = self.conns[i].clone();
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(AUTHORIZATION, self.auth.clone())
            .header(ACCEPT, "application/json");
        if body.is_some() {
            b = b.header(CONTENT_TYPE, "application/json");
        }
        let req = b.body(Full::new(body.unwrap_or_default()))?;
        sender.ready().await.context("HTTP/2 connection closed")?;
        Ok(sender.send_request(req).await?)
    }

    /// Sends a request and reads the whole body; a non-2xx status is an error.
    /// A 429 (max-in-flight) is retried after its Retry-After, up to ten
    /// times, as client-go does.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let mut tries = 0;
        let resp = loop {
            let resp = self.send(method.clone(), path, body.clone()).await?;
            if resp.status() != StatusCode::TOO_MANY_REQUESTS || tries == 10 {
                break resp;
            }
            tries += 1;
            let secs = resp
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .unwrap_or(1)
                .min(1);
            tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
        };
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            bail!("{method} {path}: {status}: {text}");
        }
        Ok((status, body))
    }
}

fn tls_config(ca_file: &Path) -> anyhow::Result<rustls::ClientConfig> {
    let pem = std::fs::read(ca_file).with_context(|| format!("reading {}", ca_file.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(cfg)
}

async fn open(
    port: u16,
    tls: Arc<rustls::ClientConfig>,
) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    tcp.set_nodelay(true)?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(ServerName::try_from("localhost")?, tcp)
        .await
        .context("TLS handshake")?;
    if stream.get_ref().1.alpn_protocol() != Some(b"h2".as_slice()) {
        bail!("the apiserver did not negotiate HTTP/2 (ALPN h2)");
    }
    let (sender, conn) = http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .handshake(TokioIo::new(stream))
        .await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}
