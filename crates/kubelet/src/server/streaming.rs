//! Exec, attach and port-forward: the runtime's streaming server does the
//! protocol work (SPDY/3.1 or WebSocket); the kubelet forwards the client's
//! upgrade request to the URL the runtime returned and, after the `101`,
//! copies bytes both ways (upstream's behaviour with redirects off).

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use super::{full, Body, ServerError};

/// Headers that belong to one hop, or that the runtime must not see.
const DROPPED: &[&str] = &[
    "host",
    "authorization",
    "proxy-authorization",
    "content-length",
    "transfer-encoding",
    "te",
    "trailer",
    "keep-alive",
];

/// Forwards `headers` (the client's upgrade request, minus hop headers) to
/// the runtime's `url`; on `101` answers the client with the runtime's
/// `101` and splices the two connections once both are upgraded; any other
/// answer is passed through unchanged (kubectl falls back from WebSocket to
/// SPDY when the runtime refuses the former).
pub async fn proxy_upgrade(
    method: &http::Method,
    headers: &HeaderMap,
    client: Option<OnUpgrade>,
    url: &str,
) -> Result<Response<Body>, ServerError> {
    let Some(client) = client else {
        return Err(ServerError::BadRequest("Upgrade request required".into()));
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|e| ServerError::Internal(format!("runtime streaming URL {url:?}: {e}")))?;
    let host = uri.host().unwrap_or("127.0.0.1").trim_matches(['[', ']']);
    let port = uri.port_u16().unwrap_or(80);
    let tcp = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| ServerError::Internal(format!("dialing the runtime at {url}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| ServerError::Internal(format!("runtime streaming server: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "runtime streaming connection");
        }
    });
    let path = uri
        .path_and_query()
        .map_or("/".to_string(), |p| p.as_str().to_string());
    let mut req = Request::builder().method(method.clone()).uri(path);
    for (k, v) in headers {
        if !DROPPED.contains(&k.as_str()) {
            req = req.header(k, v);
        }
    }
    let authority = uri.authority().map_or(host.to_string(), |a| a.to_string());
    let req = req
        .header(
            http::header::HOST,
            HeaderValue::from_str(&authority).unwrap_or(HeaderValue::from_static("localhost")),
        )
        .body(Empty::<Bytes>::new())
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    let mut resp = sender
        .send_request(req)
        .await
        .map_err(|e| ServerError::Internal(format!("runtime streaming server: {e}")))?;
    let status = resp.status();
    let mut out = Response::builder().status(status);
    for (k, v) in resp.headers() {
        if status == StatusCode::SWITCHING_PROTOCOLS || !DROPPED[1..].contains(&k.as_str()) {
            out = out.header(k, v);
        }
    }
    if status != StatusCode::SWITCHING_PROTOCOLS {
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        tracing::debug!(%status, "the runtime refused the upgrade");
        return out
            .body(full(body))
            .map_err(|e| ServerError::Internal(e.to_string()));
    }
    let backend = hyper::upgrade::on(&mut resp);
    tokio::spawn(async move {
        let (a, b) = tokio::join!(client, backend);
        match (a, b) {
            (Ok(a), Ok(b)) => {
                let (mut a, mut b) = (TokioIo::new(a), TokioIo::new(b));
                match tokio::io::copy_bidirectional(&mut a, &mut b).await {
                    Ok((up, down)) => tracing::debug!(up, down, "stream closed"),
                    Err(e) => tracing::debug!(error = %e, "stream ended"),
                }
            }
            (a, b) => tracing::debug!(
                client = ?a.err(),
                runtime = ?b.err(),
                "upgrade did not complete"
            ),
        }
    });
    out.body(full(Bytes::new()))
        .map_err(|e| ServerError::Internal(e.to_string()))
}
