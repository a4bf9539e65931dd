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
