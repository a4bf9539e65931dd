//! The kubelet's HTTPS API (upstream's port 10250): `/healthz`, `/pods`,
//! `/containerLogs`, `/exec`, `/attach`, `/portForward`, `/metrics` and
//! `/stats/summary`. The apiserver's `pods/log`, `pods/exec`, ... proxy
//! here.
//!
//! Start at [`serve`]. Logs are read from the CRI log files ([`logs`]);
//! exec, attach and port-forward ask the runtime for a streaming URL and
//! splice the client's upgraded connection to it ([`streaming`]). Pods and
//! containers are found through the runtime's labels ([`lookup`]).
//!
//! Not yet: client authentication and authorization (upstream checks the
//! apiserver's client certificate and asks SubjectAccessReviews); every
//! TLS client is served.

pub mod logs;
pub mod lookup;
pub mod stats;
pub mod streaming;

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use cri::api;
use cri::Runtime;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use tokio::sync::mpsc;
use tracing::Instrument;

/// The default `--port`.
pub const DEFAULT_PORT: u16 = 10250;

/// The response body: a buffer or a stream (followed logs).
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// A whole-buffer body.
pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed_unsync()
}

/// Why a request failed, or why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The pod or container does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be served as asked (400).
    #[error("{0}")]
    BadRequest(String),
    /// A parameter has an invalid value (422).
    #[error("{0}")]
    Invalid(String),
    /// Something on the node failed (500).
    #[error("{0}")]
    Internal(String),
    /// The runtime refused or failed a call (500).
    #[error(transparent)]
    Runtime(#[from] cri::Error),
    /// The apiserver could not be asked (500).
    #[error("apiserver: {0}")]
    Api(#[from] kube::Error),
    /// The serving certificate could not be loaded or generated.
    #[error("kubelet serving certificate: {0}")]
    Tls(String),
    /// The listener could not be bound.
    #[error("listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl ServerError {
    fn status(&self) -> StatusCode {
        match self {
            ServerError::NotFound(_) => StatusCode::NOT_FOUND,
            ServerError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ServerError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<logs::LogError> for ServerError {
    fn from(e: logs::LogError) -> Self {
        match e {
            logs::LogError::Invalid(m) => ServerError::Invalid(m),
            other => ServerError::Internal(other.to_string()),
        }
    }
}

/// Where and how the API is served (the kubelet's flags).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `--address` (0.0.0.0).
    pub address: IpAddr,
    /// `--port` (10250).
    pub port: u16,
    /// `--tls-cert-file`.
    pub tls_cert_file: Option<PathBuf>,
    /// `--tls-private-key-file`.
    pub tls_private_key_file: Option<PathBuf>,
    /// Where a self-signed pair is generated when no files are given
    /// (upstream's `--cert-dir`, `<root-dir>/pki`).
    pub cert_dir: PathBuf,
    /// The Node's name (certificate and `/pods`).
    pub node_name: String,
    /// The node's IP (certificate).
    pub node_ip: String,
    /// The root of the pod log directories.
    pub pod_log_root: PathBuf,
}

/// What a request handler needs.
struct Server {
    cfg: ServerConfig,
    runtime: Arc<dyn Runtime>,
    client: kube::Client,
    started: DateTime<Utc>,
    requests: Mutex<BTreeMap<(String, String), u64>>,
}

/// The bound socket and TLS configuration of the API, made before the
/// kubelet starts anything else: as upstream, a kubelet that cannot serve
/// its port (logs, exec) refuses to start rather than run half-blind.
pub struct Bound {
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    cfg: ServerConfig,
}

impl Bound {
    /// The port actually bound (`--port=0` picks a free one; the Node
    /// advertises this one).
    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or(self.cfg.port)
    }
}

/// Loads or generates the serving certificate and binds `--address:--port`.
pub async fn bind(cfg: ServerConfig) -> Result<Bound, ServerError> {
    let addr = SocketAddr::new(cfg.address, cfg.port);
    let tls = tls_config(&cfg)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Listen { addr, source })?;
    Ok(Bound {
        listener,
        acceptor: tokio_rustls::TlsAcceptor::from(tls),
        cfg,
    })
}

/// Serves HTTPS on a [`bind`]-ed socket until the task is dropped.
pub async fn serve(bound: Bound, runtime: Arc<dyn Runtime>, client: kube::Client) {
    let Bound {
        listener,
        acceptor,
        cfg,
    } = bound;
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::new(cfg.address, cfg.port));
    let server = Arc::new(Server {
        cfg,
        runtime,
        client,
        started: Utc::now(),
        requests: Mutex::new(BTreeMap::new()),
    });
    tracing::info!(%addr, "kubelet API serving");
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "kubelet server accept");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let server = server.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(t)) => t,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "kubelet server TLS handshake");
                        return;
                    }
                    Err(_) => return,
                };
            let svc = hyper::service::service_fn(move |req| {
                let server = server.clone();
                async move { Ok::<_, Infallible>(handle(server, req).await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection_with_upgrades(TokioIo::new(tls), svc)
                .await
            {
                tracing::debug!(%peer, error = %e, "kubelet server connection");
            }
        });
    }
}

/// The rustls config: the given pair, or a self-signed one kept in
/// `cert_dir` (`kubelet.crt`, `kubelet.key`) as upstream generates it.
fn tls_config(cfg: &ServerConfig) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let (cert, key) = match (&cfg.tls_cert_file, &cfg.tls_private_key_file) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        (None, None) => self_signed(cfg)?,
        _ => {
            return Err(ServerError::Tls(
                "--tls-cert-file and --tls-private-key-file go together".into(),
            ))
        }
    };
    let read =
        |p: &Path| std::fs::read(p).map_err(|e| ServerError::Tls(format!("{}: {e}", p.display())));
    let certs = rustls_pemfile::certs(&mut read(&cert)?.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServerError::Tls(format!("{}: {e}", cert.display())))?;
    let key = rustls_pemfile::private_key(&mut read(&key)?.as_slice())
        .map_err(|e| ServerError::Tls(format!("{}: {e}", key.display())))?
        .ok_or_else(|| ServerError::Tls(format!("{}: no private key", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(tls))
}

fn self_signed(cfg: &ServerConfig) -> Result<(PathBuf, PathBuf), ServerError> {
    let cert = cfg.cert_dir.join("kubelet.crt");
    let key = cfg.cert_dir.join("kubelet.key");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let err = |e: rcgen::Error| ServerError::Tls(format!("generating: {e}"));
    let mut names = vec![cfg.node_name.clone(), "localhost".to_string()];
    for ip in [cfg.node_ip.as_str(), "127.0.0.1"] {
        if !names.iter().any(|n| n == ip) {
            names.push(ip.to_string());
        }
    }
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    for n in &names {
        let san = match n.parse::<IpAddr>() {
            Ok(ip) => rcgen::SanType::IpAddress(ip),
            Err(_) => rcgen::SanType::DnsName(n.clone().try_into().map_err(err)?),
        };
        params.subject_alt_names.push(san);
    }
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("{}@{}", cfg.node_name, Utc::now().timestamp()),
    );
    let pair = rcgen::KeyPair::generate().map_err(err)?;
    let signed = params.self_signed(&pair).map_err(err)?;
    std::fs::create_dir_all(&cfg.cert_dir)
        .map_err(|e| ServerError::Tls(format!("{}: {e}", cfg.cert_dir.display())))?;
    let write = |p: &Path, s: String, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(p, s)
            .and_then(|()| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)))
            .map_err(|e| ServerError::Tls(format!("{}: {e}", p.display())))
    };
    write(&cert, signed.pem(), 0o644)?;
    write(&key, pair.serialize_pem(), 0o600)?;
    Ok((cert, key))
}

fn text(code: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = code;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn json(v: &serde_json::Value) -> Response<Body> {
    let mut r = Response::new(full(serde_json::to_vec(v).unwrap_or_default()));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The query, keeping repeated keys (`command=a&command=b`).
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: Option<&str>) -> Self {
        Query(
            url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn all(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The last value, as Go's `Get` on a parsed form.
    fn map(&self) -> HashMap<String, String> {
        self.0.iter().cloned().collect()
    }

    fn flag(&self, k: &str) -> bool {
        self.0
            .iter()
            .rev()
            .find(|(key, _)| key == k)
            .is_some_and(|(_, v)| matches!(v.as_str(), "1" | "true" | "True"))
    }
}

async fn handle(server: Arc<Server>, mut req: Request<Incoming>) -> Response<Body> {
    let upgrade = req.extensions_mut().remove::<OnUpgrade>();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = Query::parse(req.uri().query());
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    if let Ok(mut m) = server.requests.lock() {
        let root = segs.first().copied().unwrap_or_default().to_string();
        *m.entry((method.to_string(), root)).or_default() += 1;
    }
    let span = tracing::debug_span!("kubelet_api", %method, %path);
    let get = method == Method::GET || method == Method::HEAD;
    let stream_method = get || method == Method::POST;
    let result = async {
        match segs.as_slice() {
            ["healthz"] if get => Ok(text(StatusCode::OK, "ok")),
            ["pods"] if get => pods(&server).await,
            ["containerLogs", ns, pod, c] if get => {
                container_logs(&server, ns, pod, c, &query).await
            }
            ["exec", ns, pod, c] | ["exec", ns, pod, _, c] if stream_method => {
                exec(&server, ns, pod, c, &query, &req, upgrade).await
            }
            ["attach", ns, pod, c] | ["attach", ns, pod, _, c] if stream_method => {
                attach(&server, ns, pod, c, &query, &req, upgrade).await
            }
            ["portForward", ns, pod] | ["portForward", ns, pod, _] if stream_method => {
                port_forward(&server, ns, pod, &query, &req, upgrade).await
            }
            ["metrics"] if get => {
                let requests = server
                    .requests
                    .lock()
                    .map(|m| m.clone())
                    .unwrap_or_default();
                let body =
                    stats::metrics(server.runtime.as_ref(), &server.cfg.node_name, &requests)
                        .await?;
                let mut r = text(StatusCode::OK, body);
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                Ok(r)
            }
            ["stats", "summary"] if get => Ok(json(
                &stats::summary(
                    server.runtime.as_ref(),
                    &server.cfg.node_name,
                    server.started,
                )
                .await?,
            )),
            _ => Ok(text(StatusCode::NOT_FOUND, "404 page not found\n")),
        }
    }
    .instrument(span)
    .await;
    result.unwrap_or_else(|e: ServerError| {
        tracing::debug!(%path, error = %e, "kubelet API request failed");
        text(e.status(), e.to_string())
    })
}

/// The pods bound to this node, as the apiserver has them.
async fn pods(server: &Server) -> Result<Response<Body>, ServerError> {
    let api: Api<Pod> = Api::all(server.client.clone());
    let list = api
        .list(&ListParams::default().fields(&format!("spec.nodeName={}", server.cfg.node_name)))
        .await?;
    Ok(json(&serde_json::json!({
        "kind": "PodList",
        "apiVersion": "v1",
        "metadata": {},
        "items": list.items,
    })))
}

struct ContainerLiveness {
    runtime: Arc<dyn Runtime>,
    id: String,
}

#[async_trait::async_trait]
impl logs::Liveness for ContainerLiveness {
    async fn running(&self) -> bool {
        self.runtime
            .container_status(&self.id)
            .await
            .is_ok_and(|s| s.state == api::ContainerState::ContainerRunning as i32)
    }
}

async fn container_logs(
    server: &Server,
    ns: &str,
    pod: &str,
    container: &str,
    query: &Query,
) -> Result<Response<Body>, ServerError> {
    let opts = logs::LogOptions::from_query(&query.map(), Utc::now())?;
    let rt = server.runtime.as_ref();
    let pod_ref = lookup::find_pod(rt, ns, pod).await?;
    let c = lookup::log_container(rt, &pod_ref, container, opts.previous).await?;
    let status = rt.container_status(&c.id).await?;
    let path = if status.log_path.is_empty() {
        let attempt = c.metadata.as_ref().map_or(0, |m| m.attempt);
        server
            .cfg
            .pod_log_root
            .join(format!("{ns}_{pod}_{}", pod_ref.uid))
            .join(container)
            .join(format!("{attempt}.log"))
    } else {
        PathBuf::from(&status.log_path)
    };
    tracing::debug!(pod = %format!("{ns}/{pod}"), container, path = %path.display(), ?opts, "serving logs");
    if !path.exists() {
        return Ok(text(StatusCode::OK, Bytes::new()));
    }
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let live = ContainerLiveness {
        runtime: server.runtime.clone(),
        id: c.id.clone(),
    };
    tokio::spawn(async move {
        if let Err(e) = logs::read_logs(&path, &opts, &live, tx).await {
            tracing::warn!("streaming logs: {e}");
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut r = Response::new(StreamBody::new(stream).boxed_unsync());
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain"),
    );
    Ok(r)
}

/// Upstream's stream options: `stdin`, `stdout`, `stderr`, `tty`; with a
/// TTY there is no separate stderr.
fn streams(query: &Query) -> Result<(bool, bool, bool, bool), ServerError> {
    let (stdin, stdout, mut stderr, tty) = (
        query.flag("stdin"),
        query.flag("stdout"),
        query.flag("stderr"),
        query.flag("tty"),
    );
    if !(stdin || stdout || stderr) {
        return Err(ServerError::BadRequest(
            "you must specify at least 1 of stdin, stdout, stderr".into(),
        ));
    }
    if tty {
        stderr = false;
    }
    Ok((stdin, stdout, stderr, tty))
}

async fn exec(
    server: &Server,
    ns: &str,
    pod: &str,
    container: &str,
    query: &Query,
    req: &Request<Incoming>,
    upgrade: Option<OnUpgrade>,
) -> Result<Response<Body>, ServerError> {
    let (stdin, stdout, stderr, tty) = streams(query)?;
    let cmd = query.all("command");
    if cmd.is_empty() {
        return Err(ServerError::BadRequest(
            "you must specify at least one command for the container".into(),
        ));
    }
    let rt = server.runtime.as_ref();
    let pod_ref = lookup::find_pod(rt, ns, pod).await?;
    let c = lookup::running_container(rt, &pod_ref, container).await?;
    tracing::debug!(pod = %format!("{ns}/{pod}"), container, ?cmd, "exec");
    let url = rt
        .exec(api::ExecRequest {
            container_id: c.id,
            cmd,
            tty,
            stdin,
            stdout,
            stderr,
        })
        .await?;
    streaming::proxy_upgrade(req.method(), req.headers(), upgrade, &url).await
}

async fn attach(
    server: &Server,
    ns: &str,
    pod: &str,
    container: &str,
    query: &Query,
    req: &Request<Incoming>,
    upgrade: Option<OnUpgrade>,
) -> Result<Response<Body>, ServerError> {
    let (stdin, stdout, stderr, tty) = streams(query)?;
    let rt = server.runtime.as_ref();
    let pod_ref = lookup::find_pod(rt, ns, pod).await?;
    let c = lookup::running_container(rt, &pod_ref, container).await?;
    let url = rt
        .attach(api::AttachRequest {
            container_id: c.id,
            stdin,
            tty,
            stdout,
            stderr,
        })
        .await?;
    streaming::proxy_upgrade(req.method(), req.headers(), upgrade, &url).await
}

async fn port_forward(
    server: &Server,
    ns: &str,
    pod: &str,
    query: &Query,
    req: &Request<Incoming>,
    upgrade: Option<OnUpgrade>,
) -> Result<Response<Body>, ServerError> {
    // WebSocket clients name the ports in the query; SPDY clients per stream.
    let mut ports = Vec::new();
    for v in query.all("ports").iter().chain(query.all("port").iter()) {
        for p in v.split(',').filter(|p| !p.is_empty()) {
            ports.push(
                p.trim()
                    .parse::<i32>()
                    .map_err(|_| ServerError::BadRequest(format!("invalid port {p:?}")))?,
            );
        }
    }
    let rt = server.runtime.as_ref();
    let pod_ref = lookup::find_pod(rt, ns, pod).await?;
    if !pod_ref.ready() {
        return Err(ServerError::BadRequest(format!(
            "pod {pod:?} has no running sandbox"
        )));
    }
    let url = rt.port_forward(&pod_ref.sandbox.id, &ports).await?;
    streaming::proxy_upgrade(req.method(), req.headers(), upgrade, &url).await
}
