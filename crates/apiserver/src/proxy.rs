//! The connect subresources that the kubelet serves: `pods/log`,
//! `pods/exec`, `pods/attach`, `pods/portforward` and `nodes/proxy`.
//!
//! The pod (and container) are checked here with upstream's messages, then
//! the request goes to the kubelet of the pod's node
//! (`https://<InternalIP>:<daemonEndpoints.kubeletEndpoint.Port>`): a log
//! body is streamed back as it arrives; an upgrade (SPDY/3.1, WebSocket) is
//! forwarded and, after the kubelet's `101`, both connections are spliced.
//!
//! Not yet: the kubelet's serving certificate is not verified (it is
//! self-signed) and the apiserver presents no client certificate.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use apimachinery::catalogue::{self, ResourceInfo};
use apimachinery::status::FieldError;
use apimachinery::StatusError;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tracing::debug;

use crate::http_util::{self, full, Body};
use crate::request::RequestInfo;
use crate::server::State;

/// How long dialing a kubelet (TCP and TLS) may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(30);
/// The kubelet port when a Node does not say.
const DEFAULT_KUBELET_PORT: u16 = 10250;

/// Request headers not passed on to the kubelet: this hop's, and the
/// client's credentials.
const DROPPED: &[&str] = &[
    "host",
    "authorization",
    "proxy-authorization",
    "content-length",
    "transfer-encoding",
    "te",
    "trailer",
    "keep-alive",
    "impersonate-user",
    "impersonate-group",
    "impersonate-uid",
];

/// Whether `resource/sub` is served by [`serve`].
pub fn handles(r: &ResourceInfo, sub: &str) -> bool {
    r.group.is_empty()
        && match r.plural {
            "pods" => matches!(sub, "log" | "exec" | "attach" | "portforward"),
            "nodes" => sub == "proxy",
            _ => false,
        }
}

/// Serves a connect subresource (see the module docs).
pub async fn serve(
    state: &Arc<State>,
    info: &RequestInfo,
    parts: &http::request::Parts,
    body: Incoming,
) -> Result<Response<Body>, StatusError> {
    let raw: Vec<(String, String)> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let query: HashMap<String, String> = raw.iter().cloned().collect();
    let upgrade = parts.extensions.get::<OnUpgrade>().cloned();
    let ns = info.namespace.as_str();
    let name = info.name.as_str();
    if info.resource == "nodes" {
        let (host, port) = kubelet_address(state, name).await?;
        let mut path = String::from("/");
        path.push_str(&info.parts.join("/"));
        if parts.uri.path().ends_with('/') && !info.parts.is_empty() {
            path.push('/');
        }
        if let Some(q) = parts.uri.query() {
            path.push('?');
            path.push_str(q);
        }
        let bytes = if parts.method == Method::GET || parts.method == Method::HEAD {
            Bytes::new()
        } else {
            http_util::read_body(body, http_util::MAX_BODY).await?
        };
        return forward(
            &host,
            port,
            &parts.method,
            &path,
            &parts.headers,
            bytes,
            upgrade,
        )
        .await;
    }
    if !info.parts.is_empty() {
        return Err(StatusError::path_not_found());
    }
    let pods = catalogue::lookup("", "v1", "pods").expect("pods are in the catalogue");
    let pod = state.registry.get(pods, ns, name).await?;
    let sub = info.subresource.as_str();
    let get = parts.method == Method::GET || parts.method == Method::HEAD;
    match sub {
        "log" if get => logs(state, &pod, ns, name, &query).await,
        "log" => Err(StatusError::method_not_allowed()),
        _ if !(get || parts.method == Method::POST) => Err(StatusError::method_not_allowed()),
        "exec" | "attach" => {
            let container = validate_container(&pod, query.get("container").map(String::as_str))?;
            let node = node_name(&pod, name)?;
            let mut out: Vec<(&str, &str)> = Vec::new();
            if sub == "exec" {
                let commands: Vec<&str> = raw
                    .iter()
                    .filter(|(k, _)| k == "command")
                    .map(|(_, v)| v.as_str())
                    .collect();
                if commands.is_empty() {
                    return Err(StatusError::bad_request(
                        "you must specify at least one command for the container",
                    ));
                }
                out.extend(commands.into_iter().map(|c| ("command", c)));
            }
            let flag = |k: &str| query.get(k).is_some_and(|v| v == "true" || v == "1");
            // Upstream's defaults: stdout and stderr on, stdin and tty off.
            let stdout = query.get("stdout").is_none_or(|v| v == "true" || v == "1");
            let stderr = query.get("stderr").is_none_or(|v| v == "true" || v == "1");
            for (k, on) in [
                ("stdin", flag("stdin")),
                ("stdout", stdout),
                ("stderr", stderr),
                ("tty", flag("tty")),
            ] {
                if on {
                    out.push((k, "1"));
                }
            }
            let path = format!(
                "/{sub}/{}/{}/{}?{}",
                enc(ns),
                enc(name),
                enc(&container),
                encode_query(&out)
            );
            let (host, port) = kubelet_address(state, &node).await?;
            debug!(pod = %format!("{ns}/{name}"), %container, %sub, "proxying to the kubelet");
            forward(
                &host,
                port,
                &parts.method,
                &path,
                &parts.headers,
                Bytes::new(),
                upgrade,
            )
            .await
        }
        "portforward" => {
            let node = node_name(&pod, name)?;
            let mut path = format!("/portForward/{}/{}", enc(ns), enc(name));
            // kubectl's first try: SPDY inside a WebSocket.
            let spdy = tunneling_protocols(&parts.headers);
            if !spdy.is_empty() {
                let (host, port) = kubelet_address(state, &node).await?;
                debug!(pod = %format!("{ns}/{name}"), ?spdy, "tunneling port-forward SPDY through a WebSocket");
                return tunnel(&host, port, &path, &parts.headers, &spdy, upgrade).await;
            }
            let ports: Vec<(&str, &str)> = raw
                .iter()
                .filter(|(k, _)| k == "ports")
                .map(|(_, v)| ("ports", v.as_str()))
                .collect();
            if !ports.is_empty() {
                path.push('?');
                path.push_str(&encode_query(&ports));
            }
            let (host, port) = kubelet_address(state, &node).await?;
            forward(
                &host,
                port,
                &parts.method,
                &path,
                &parts.headers,
                Bytes::new(),
                upgrade,
            )
            .await
        }
        _ => Err(StatusError::path_not_found()),
    }
}

fn encode_query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The pod's node; exec and friends need one.
fn node_name(pod: &Value, name: &str) -> Result<String, StatusError> {
    match pod.pointer("/spec/nodeName").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => Ok(n.to_string()),
        _ => Err(StatusError::bad_request(format!(
            "pod {name} does not have a host assigned"
        ))),
    }
}

fn container_names(pod: &Value, field: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{field}"))
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Upstream's `validateContainer`: the named container must exist; with
/// no name, the pod's only container.
pub fn validate_container(pod: &Value, container: Option<&str>) -> Result<String, StatusError> {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let containers = container_names(pod, "containers");
    let init = container_names(pod, "initContainers");
    let ephemeral = container_names(pod, "ephemeralContainers");
    match container.filter(|c| !c.is_empty()) {
        Some(c) => {
            if containers
                .iter()
                .chain(&init)
                .chain(&ephemeral)
                .any(|n| n == c)
            {
                Ok(c.to_string())
            } else {
                Err(StatusError::bad_request(format!(
                    "container {c} is not valid for pod {name}"
                )))
            }
        }
        None => match containers.len() {
            1 => Ok(containers[0].clone()),
            0 => Err(StatusError::bad_request(format!(
                "pod {name} does not have a container"
            ))),
            _ => {
                let all: Vec<String> = init
                    .into_iter()
                    .chain(containers)
                    .chain(ephemeral)
                    .collect();
                Err(StatusError::bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    all.join(" ")
                )))
            }
        },
    }
}

/// Upstream's `ValidatePodLogOptions`.
fn validate_log_options(query: &HashMap<String, String>, name: &str) -> Result<(), StatusError> {
    let mut errs = Vec::new();
    let int = |k: &str| {
        query
            .get(k)
            .filter(|v| !v.is_empty())
            .map(|v| v.parse::<i64>())
    };
    let mut check = |k: &str, min: i64, detail: &str| match int(k) {
        Some(Ok(v)) if v < min => errs.push(FieldError::invalid(k, &Value::from(v), detail)),
        Some(Err(_)) => errs.push(FieldError::invalid(
            k,
            &Value::from(query.get(k).cloned().unwrap_or_default()),
            "must be an integer",
        )),
        _ => {}
    };
    check("tailLines", 0, "must be greater than or equal to 0");
    check("limitBytes", 1, "must be greater than 0");
    check("sinceSeconds", 1, "must be greater than 0");
    let has = |k: &str| query.get(k).is_some_and(|v| !v.is_empty());
    if has("sinceSeconds") && has("sinceTime") {
        errs.push(FieldError::forbidden(
            "",
            "at most one of `sinceTime` or `sinceSeconds` may be specified",
        ));
    }
    if let Some(t) = query.get("sinceTime").filter(|v| !v.is_empty()) {
        if chrono::DateTime::parse_from_rfc3339(t).is_err() {
            errs.push(FieldError::invalid(
                "sinceTime",
                &Value::from(t.clone()),
                "must be an RFC3339 time",
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(StatusError::invalid("", "PodLogOptions", name, errs))
    }
}

/// Upstream kubelet's answer for a container that has no log to show yet,
/// judged from the pod's status: only the waiting cases (anything that ran
/// has a log).
fn waiting_error(pod: &Value, container: &str, name: &str, previous: bool) -> Option<StatusError> {
    let status = pod.get("status")?;
    let find = |field: &str| {
        status
            .get(field)
            .and_then(Value::as_array)
            .and_then(|l| {
                l.iter()
                    .find(|s| s.get("name").and_then(Value::as_str) == Some(container))
            })
            .cloned()
    };
    let cs = find("containerStatuses").or_else(|| find("initContainerStatuses"))?;
    let terminated_before = cs.pointer("/lastState/terminated").is_some();
    if previous {
        return (!terminated_before).then(|| {
            StatusError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            ))
        });
    }
    let state = cs.get("state")?;
    if state.get("running").is_some() || state.get("terminated").is_some() || terminated_before {
        return None;
    }
    let reason = state.pointer("/waiting/reason").and_then(Value::as_str)?;
    let why = match reason {
        "ErrImagePull" => "image can't be pulled".to_string(),
        "ImagePullBackOff" => "trying and failing to pull image".to_string(),
        other => other.to_string(),
    };
    Some(StatusError::bad_request(format!(
        "container \"{container}\" in pod \"{name}\" is waiting to start: {why}"
    )))
}

async fn logs(
    state: &Arc<State>,
    pod: &Value,
    ns: &str,
    name: &str,
    query: &HashMap<String, String>,
) -> Result<Response<Body>, StatusError> {
    validate_log_options(query, name)?;
    let container = validate_container(pod, query.get("container").map(String::as_str))?;
    let node = match pod.pointer("/spec/nodeName").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => n.to_string(),
        // As upstream: an unscheduled pod has no logs yet, an empty body.
        _ => return Ok(text_response(StatusCode::OK, Full::new(Bytes::new()))),
    };
    let previous = query
        .get("previous")
        .is_some_and(|v| v == "true" || v == "1");
    if let Some(e) = waiting_error(pod, &container, name, previous) {
        return Err(e);
    }
    let mut out: Vec<(&str, &str)> = Vec::new();
    for k in [
        "follow",
        "previous",
        "timestamps",
        "tailLines",
        "sinceSeconds",
        "sinceTime",
        "limitBytes",
    ] {
        if let Some(v) = query.get(k).filter(|v| !v.is_empty()) {
            out.push((k, v));
        }
    }
    let path = format!(
        "/containerLogs/{}/{}/{}?{}",
        enc(ns),
        enc(name),
        enc(&container),
        encode_query(&out)
    );
    let (host, port) = kubelet_address(state, &node).await?;
    debug!(pod = %format!("{ns}/{name}"), %container, %node, "streaming logs from the kubelet");
    let url = format!("https://{host}:{port}{path}");
    let mut sender = dial(&host, port, &url).await?;
    let req = Request::get(&path)
        .header(http::header::HOST, format!("{host}:{port}"))
        .body(Full::new(Bytes::new()))
        .map_err(StatusError::internal)?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| StatusError::internal(format!("Get \"{url}\": {e}")))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(text_response(status, resp.into_body()));
    }
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let msg = String::from_utf8_lossy(&body).trim_end().to_string();
    Err(match status {
        StatusCode::BAD_REQUEST => StatusError::bad_request(msg),
        StatusCode::NOT_FOUND => StatusError::new(404, "NotFound", msg),
        StatusCode::UNPROCESSABLE_ENTITY => StatusError::new(422, "Invalid", msg),
        _ => StatusError::internal(msg),
    })
}

/// A `text/plain` response streaming `body` (a buffer or the kubelet's).
fn text_response<B>(code: StatusCode, body: B) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::fmt::Display,
{
    // Frames are passed on as they come; an error ends the stream.
    let stream = futures::stream::unfold(Box::pin(body), |mut b| async move {
        match b.frame().await {
            Some(Ok(f)) => Some((Ok(f), b)),
            Some(Err(e)) => {
                debug!(error = %e, "kubelet stream ended");
                None
            }
            None => None,
        }
    });
    let mut r = Response::new(StreamBody::new(stream).boxed_unsync());
    *r.status_mut() = code;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain"),
    );
    r
}

/// The kubelet's address: the Node's InternalIP (else ExternalIP, else
/// Hostname) and its `daemonEndpoints.kubeletEndpoint.Port`.
async fn kubelet_address(state: &State, node: &str) -> Result<(String, u16), StatusError> {
    let nodes = catalogue::lookup("", "v1", "nodes").expect("nodes are in the catalogue");
    let obj = state.registry.get(nodes, "", node).await?;
    let addresses = obj
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let find = |t: &str| {
        addresses
            .iter()
            .find(|a| a.get("type").and_then(Value::as_str) == Some(t))
            .and_then(|a| a.get("address").and_then(Value::as_str))
            .map(String::from)
    };
    let host = find("InternalIP")
        .or_else(|| find("ExternalIP"))
        .or_else(|| find("Hostname"))
        .ok_or_else(|| {
            StatusError::internal("no preferred addresses found; known addresses: []")
        })?;
    let port = obj
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .unwrap_or(DEFAULT_KUBELET_PORT);
    Ok((host, port))
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// One HTTP/1.1 connection to a kubelet over TLS (upgrades enabled).
async fn dial(host: &str, port: u16, url: &str) -> Result<Sender, StatusError> {
    let fail = |e: &dyn std::fmt::Display| {
        StatusError::internal(format!("error dialing backend: {url}: {e}"))
    };
    let connect = async {
        let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| fail(&e))?;
        let _ = tcp.set_nodelay(true);
        let server_name =
            rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                .map_err(|e| fail(&e))?;
        tls_connector()
            .connect(server_name, tcp)
            .await
            .map_err(|e| fail(&e))
    };
    let tls = tokio::time::timeout(DIAL_TIMEOUT, connect)
        .await
        .map_err(|_| fail(&"timed out"))??;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| fail(&e))?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            debug!(error = %e, "kubelet connection");
        }
    });
    Ok(sender)
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        && headers.contains_key(http::header::UPGRADE)
}

/// Sends the request to the kubelet and answers with what it says; for an
/// upgrade, splices the client's and the kubelet's connections after a
/// `101` (any other answer is passed through, so that a client may fall
/// back to another protocol).
async fn forward(
    host: &str,
    port: u16,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
    client: Option<OnUpgrade>,
) -> Result<Response<Body>, StatusError> {
    let upgrading = is_upgrade(headers);
    if upgrading && client.is_none() {
        return Err(StatusError::bad_request("Upgrade request required"));
    }
    let url = format!("https://{host}:{port}{path}");
    let mut sender = dial(host, port, &url).await?;
    let mut req = Request::builder().method(method.clone()).uri(path);
    for (k, v) in headers {
        if !DROPPED.contains(&k.as_str()) {
            req = req.header(k, v);
        }
    }
    let req = req
        .header(http::header::HOST, format!("{host}:{port}"))
        .body(Full::new(body))
        .map_err(StatusError::internal)?;
    let mut resp = sender
        .send_request(req)
        .await
        .map_err(|e| StatusError::internal(format!("{method} \"{url}\": {e}")))?;
    let status = resp.status();
    let mut out = Response::builder().status(status);
    for (k, v) in resp.headers() {
        if status == StatusCode::SWITCHING_PROTOCOLS || !DROPPED.contains(&k.as_str()) {
            out = out.header(k, v);
        }
    }
    if status != StatusCode::SWITCHING_PROTOCOLS {
        if upgrading {
            debug!(%status, "the kubelet refused the upgrade");
        }
        return out
            .body(text_response(StatusCode::OK, resp.into_body()).into_body())
            .map_err(StatusError::internal);
    }
    let Some(client) = client else {
        return Err(StatusError::bad_request("Upgrade request required"));
    };
    let backend = hyper::upgrade::on(&mut resp);
    tokio::spawn(async move {
        match tokio::join!(client, backend) {
            (Ok(a), Ok(b)) => {
                let (mut a, mut b) = (TokioIo::new(a), TokioIo::new(b));
                match tokio::io::copy_bidirectional(&mut a, &mut b).await {
                    Ok((up, down)) => debug!(up, down, "upgraded stream closed"),
                    Err(e) => debug!(error = %e, "upgraded stream ended"),
                }
            }
            (a, b) => debug!(client = ?a.err(), kubelet = ?b.err(), "upgrade did not complete"),
        }
    });
    out.body(full(Bytes::new())).map_err(StatusError::internal)
}

/// The WebSocket subprotocol prefix of a SPDY tunnel
/// (`SPDY/3.1+portforward.k8s.io`).
const SPDY_TUNNEL_PREFIX: &str = "SPDY/3.1+";

/// The SPDY protocols a WebSocket upgrade asks to tunnel, as upstream's
/// `spdyProtocolsFromWebsocketProtocols`: the `SPDY/3.1+`-prefixed
/// Kubernetes subprotocols, without the prefix. Empty when the request is
/// not such a WebSocket upgrade (then it is proxied as it is).
fn tunneling_protocols(headers: &HeaderMap) -> Vec<String> {
    let websocket = headers
        .get_all(http::header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.trim().eq_ignore_ascii_case("websocket"));
    if !websocket || !is_upgrade(headers) {
        return Vec::new();
    }
    headers
        .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter_map(|p| p.strip_prefix(SPDY_TUNNEL_PREFIX))
        .filter(|p| p.ends_with(".k8s.io"))
        .map(String::from)
        .collect()
}

/// Request headers of the WebSocket handshake, replaced by the SPDY
/// upgrade's on the way to the kubelet.
const WEBSOCKET_HEADERS: &[&str] = &[
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "x-stream-protocol-version",
];

/// The kubelet's half of a tunnel: the client's request turned into a
/// SPDY/3.1 upgrade offering the tunneled `protocols`.
fn spdy_request(
    host: &str,
    port: u16,
    path: &str,
    headers: &HeaderMap,
    protocols: &[String],
) -> Result<Request<Full<Bytes>>, StatusError> {
    let mut req = Request::builder().method(Method::POST).uri(path);
    for (k, v) in headers {
        if !DROPPED.contains(&k.as_str()) && !WEBSOCKET_HEADERS.contains(&k.as_str()) {
            req = req.header(k, v);
        }
    }
    req = req
        .header(http::header::HOST, format!("{host}:{port}"))
        .header(http::header::CONNECTION, "Upgrade")
        .header(http::header::UPGRADE, "SPDY/3.1");
    for p in protocols {
        req = req.header("X-Stream-Protocol-Version", p.as_str());
    }
    req.body(Full::new(Bytes::new()))
        .map_err(StatusError::internal)
}

/// Upstream's `TunnelingHandler`: the kubelet gets a SPDY/3.1 upgrade; on
/// its `101` the client's WebSocket handshake is accepted with the chosen
/// protocol (`SPDY/3.1+<kubelet's choice>`) and the SPDY bytes travel as
/// binary WebSocket messages, so the SPDY session runs between kubectl and
/// the kubelet unchanged. Any other answer of the kubelet is passed back
/// as it is (kubectl then falls back to plain SPDY).
async fn tunnel(
    host: &str,
    port: u16,
    path: &str,
    headers: &HeaderMap,
    protocols: &[String],
    client: Option<OnUpgrade>,
) -> Result<Response<Body>, StatusError> {
    let Some(client) = client else {
        return Err(StatusError::bad_request("Upgrade request required"));
    };
    let key = headers
        .get(http::header::SEC_WEBSOCKET_KEY)
        .ok_or_else(|| StatusError::bad_request("websocket: not a websocket handshake: 'Sec-WebSocket-Key' header is missing or blank"))?;
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let url = format!("https://{host}:{port}{path}");
    let mut sender = dial(host, port, &url).await?;
    let req = spdy_request(host, port, path, headers, protocols)?;
    let mut resp = sender
        .send_request(req)
        .await
        .map_err(|e| StatusError::internal(format!("POST \"{url}\": {e}")))?;
    let status = resp.status();
    if status != StatusCode::SWITCHING_PROTOCOLS {
        debug!(%status, "the kubelet refused the SPDY upgrade");
        let mut out = Response::builder().status(status);
        for (k, v) in resp.headers() {
            if !DROPPED.contains(&k.as_str()) {
                out = out.header(k, v);
            }
        }
        return out
            .body(text_response(StatusCode::OK, resp.into_body()).into_body())
            .map_err(StatusError::internal);
    }
    let spdy = resp
        .headers()
        .get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("spdy/3.1"));
    if !spdy || !is_upgrade(resp.headers()) {
        return Err(StatusError::internal(
            "unable to upgrade: missing upgrade headers in response",
        ));
    }
    let chosen = resp
        .headers()
        .get("X-Stream-Protocol-Version")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("{SPDY_TUNNEL_PREFIX}{p}"));
    let mut out = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(http::header::UPGRADE, "websocket")
        .header(http::header::CONNECTION, "Upgrade")
        .header(http::header::SEC_WEBSOCKET_ACCEPT, accept);
    if let Some(p) = chosen {
        out = out.header(http::header::SEC_WEBSOCKET_PROTOCOL, p);
    }
    let backend = hyper::upgrade::on(&mut resp);
    tokio::spawn(async move {
        match tokio::join!(client, backend) {
            (Ok(a), Ok(b)) => splice_tunnel(TokioIo::new(a), TokioIo::new(b)).await,
            (a, b) => {
                debug!(client = ?a.err(), kubelet = ?b.err(), "tunnel upgrade did not complete")
            }
        }
    });
    out.body(full(Bytes::new())).map_err(StatusError::internal)
}

/// How long a tunnel waits for the client's close after the kubelet's.
const TUNNEL_CLOSE_WAIT: Duration = Duration::from_secs(10);

/// Copies the payloads of the client's binary WebSocket messages to the
/// kubelet's connection, and the kubelet's bytes back as binary messages,
/// until both directions end (a close either way is passed on).
async fn splice_tunnel<C, K>(client: C, kubelet: K)
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    K: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures::{SinkExt, StreamExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::protocol::Role;
    use tokio_tungstenite::tungstenite::Message;

    let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(client, Role::Server, None).await;
    let (mut ws_tx, mut ws_rx) = ws.split();
    let (mut k_rd, mut k_wr) = tokio::io::split(kubelet);
    // Once the kubelet has hung up, the client gets a while to answer
    // the close; a client that never does is not waited for.
    let (kubelet_done, mut kubelet_gone) = tokio::sync::oneshot::channel::<()>();
    let up = async {
        let mut sent = 0usize;
        let linger = async {
            let _ = (&mut kubelet_gone).await;
            tokio::time::sleep(TUNNEL_CLOSE_WAIT).await;
        };
        tokio::pin!(linger);
        loop {
            let msg = tokio::select! {
                m = ws_rx.next() => match m {
                    Some(m) => m,
                    None => break,
                },
                () = &mut linger => break,
            };
            match msg {
                Ok(Message::Binary(b)) => {
                    if let Err(e) = k_wr.write_all(&b).await {
                        debug!(error = %e, "tunnel: writing to the kubelet");
                        break;
                    }
                    sent += b.len();
                }
                Ok(Message::Close(_)) => break,
                // Pings are answered by the WebSocket layer.
                Ok(_) => {}
                Err(e) => {
                    debug!(error = %e, "tunnel: reading the client");
                    break;
                }
            }
        }
        let _ = k_wr.shutdown().await;
        sent
    };
    let down = async {
        let mut received = 0usize;
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match k_rd.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => {
                    if let Err(e) = ws_tx
                        .send(Message::Binary(Bytes::copy_from_slice(&buf[..n])))
                        .await
                    {
                        debug!(error = %e, "tunnel: writing to the client");
                        break;
                    }
                    received += n;
                }
                Err(e) => {
                    debug!(error = %e, "tunnel: reading the kubelet");
                    break;
                }
            }
        }
        let _ = ws_tx.close().await;
        let _ = kubelet_done.send(());
        received
    };
    let (up, down) = tokio::join!(up, down);
    debug!(up, down, "port-forward tunnel closed");
}

/// TLS to kubelets without verifying their (self-signed) certificates.
fn tls_connector() -> tokio_rustls::TlsConnector {
    static CONNECTOR: OnceLock<tokio_rustls::TlsConnector> = OnceLock::new();
    CONNECTOR
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)))
                .with_no_client_auth();
            cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
            tokio_rustls::TlsConnector::from(Arc::new(cfg))
        })
        .clone()
}

/// Accepts any server certificate, still checking handshake signatures.
#[derive(Debug)]
struct AnyServerCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: &[&str], init: &[&str]) -> Value {
        json!({
            "metadata": {"name": "p"},
            "spec": {
                "containers": containers.iter().map(|c| json!({"name": c})).collect::<Vec<_>>(),
                "initContainers": init.iter().map(|c| json!({"name": c})).collect::<Vec<_>>(),
            }
        })
    }

    #[test]
    fn container_defaults_and_errors() {
        assert_eq!(validate_container(&pod(&["a"], &[]), None).unwrap(), "a");
        assert_eq!(
            validate_container(&pod(&["a", "b"], &[]), Some("b")).unwrap(),
            "b"
        );
        let e = validate_container(&pod(&["a", "b"], &["i"]), None).unwrap_err();
        assert_eq!(e.code, 400);
        assert_eq!(
            e.message,
            "a container name must be specified for pod p, choose one of: [i a b]"
        );
        let e = validate_container(&pod(&["a"], &[]), Some("x")).unwrap_err();
        assert_eq!(e.message, "container x is not valid for pod p");
    }

    #[test]
    fn log_options_validation() {
        let q = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>()
        };
        assert!(validate_log_options(&q(&[("tailLines", "0")]), "p").is_ok());
        for bad in [
            vec![("tailLines", "-1")],
            vec![("limitBytes", "0")],
            vec![("sinceSeconds", "0")],
            vec![("sinceSeconds", "1"), ("sinceTime", "2024-01-01T00:00:00Z")],
        ] {
            let e = validate_log_options(&q(&bad), "p").unwrap_err();
            assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"), "{bad:?}");
        }
    }

    #[test]
    fn waiting_containers_have_no_logs() {
        let mut p = pod(&["c"], &[]);
        p["status"] = json!({"containerStatuses": [{"name": "c", "state": {"waiting": {"reason": "ContainerCreating"}}}]});
        let e = waiting_error(&p, "c", "p", false).unwrap();
        assert_eq!(
            e.message,
            "container \"c\" in pod \"p\" is waiting to start: ContainerCreating"
        );
        let e = waiting_error(&p, "c", "p", true).unwrap();
        assert_eq!(
            e.message,
            "previous terminated container \"c\" in pod \"p\" not found"
        );
        p["status"]["containerStatuses"][0]["state"] = json!({"running": {}});
        assert!(waiting_error(&p, "c", "p", false).is_none());
    }

    #[test]
    fn tunneling_protocols_of_a_websocket_upgrade() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::CONNECTION,
            HeaderValue::from_static("Upgrade"),
        );
        h.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(tunneling_protocols(&h).is_empty());
        h.insert(
            http::header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(
                "SPDY/3.1+portforward.k8s.io, v4.channel.k8s.io, SPDY/3.1+other",
            ),
        );
        assert_eq!(tunneling_protocols(&h), vec!["portforward.k8s.io"]);
        // A SPDY upgrade is proxied as it is.
        h.insert(http::header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
        assert!(tunneling_protocols(&h).is_empty());
    }

    #[test]
    fn the_kubelet_gets_a_spdy_upgrade() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::CONNECTION,
            HeaderValue::from_static("Upgrade"),
        );
        h.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(
            http::header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("SPDY/3.1+portforward.k8s.io"),
        );
        h.insert(
            http::header::SEC_WEBSOCKET_KEY,
            HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
        );
        h.insert(
            http::header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        h.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("Bearer secret"),
        );
        h.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static("kubectl"),
        );
        let protocols = vec!["portforward.k8s.io".to_string()];
        let req = spdy_request("10.0.0.1", 10250, "/portForward/ns/p", &h, &protocols).unwrap();
        assert_eq!(req.method(), Method::POST);
        assert_eq!(req.uri(), "/portForward/ns/p");
        let hv = |k: &str| {
            req.headers()
                .get_all(k)
                .iter()
                .map(|v| v.to_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(hv("upgrade"), vec!["SPDY/3.1"]);
        assert_eq!(hv("connection"), vec!["Upgrade"]);
        assert_eq!(hv("x-stream-protocol-version"), vec!["portforward.k8s.io"]);
        assert_eq!(hv("host"), vec!["10.0.0.1:10250"]);
        assert_eq!(hv("user-agent"), vec!["kubectl"]);
        for gone in [
            "authorization",
            "sec-websocket-key",
            "sec-websocket-protocol",
            "sec-websocket-version",
        ] {
            assert!(hv(gone).is_empty(), "{gone} was passed on");
        }
    }

    #[tokio::test]
    async fn tunnel_carries_bytes_both_ways_and_closes() {
        use futures::{SinkExt, StreamExt};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio_tungstenite::tungstenite::protocol::Role;
        use tokio_tungstenite::tungstenite::Message;

        let (client_side, server_side) = tokio::io::duplex(1 << 16);
        let (mut kubelet, kubelet_side) = tokio::io::duplex(1 << 16);
        let task = tokio::spawn(splice_tunnel(server_side, kubelet_side));
        let mut ws =
            tokio_tungstenite::WebSocketStream::from_raw_socket(client_side, Role::Client, None)
                .await;
        // Client to kubelet: two messages arrive as one byte stream.
        ws.send(Message::Binary(Bytes::from_static(b"spdy-")))
            .await
            .unwrap();
        ws.send(Message::Binary(Bytes::from_static(b"frames")))
            .await
            .unwrap();
        let mut got = [0u8; 11];
        kubelet.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"spdy-frames");
        // Kubelet to client: bytes arrive as binary messages.
        kubelet.write_all(b"reply").await.unwrap();
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => assert_eq!(&b[..], b"reply"),
            other => panic!("unexpected {other:?}"),
        }
        // The kubelet hangs up: the client sees a close; reading on sends
        // the client's answer, which ends the kubelet's side.
        kubelet.shutdown().await.unwrap();
        let mut closed = false;
        while let Some(m) = ws.next().await {
            match m {
                Ok(Message::Close(_)) => closed = true,
                Ok(m) => panic!("unexpected {m:?}"),
                Err(e) => panic!("{e}"),
            }
        }
        assert!(closed, "no close frame");
        let mut rest = Vec::new();
        kubelet.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the tunnel ends")
            .unwrap();
    }

    #[test]
    fn upgrade_detection() {
        let mut h = HeaderMap::new();
        assert!(!is_upgrade(&h));
        h.insert(
            http::header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        h.insert(http::header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
        assert!(is_upgrade(&h));
    }
}
