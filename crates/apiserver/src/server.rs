//! The HTTPS server and the request chain.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use apimachinery::catalogue::{self, ResourceInfo};
use apimachinery::status::success_status;
use apimachinery::{meta, StatusError};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use storage::{EtcdStore, Store};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{debug, info, info_span, warn, Instrument};

use crate::admission;
use crate::allocator::ServiceAllocators;
use crate::auth::{
    AlwaysAllow, Authenticator, AuthnResult, Authorizer, Decision, TokenFileAuthenticator, UserInfo,
};
use crate::config::Config;
use crate::discovery;
use crate::http_util::{
    self, error_response, full, json_response, negotiate, object_response, Body, Format, FormatKind,
};
use crate::metrics::{metric_verb, Metrics, RequestLabels};
use crate::openapi::OpenApi;
use crate::registry::{
    patch_error, DeleteOptions, FieldValidation, ListOptions, Registry, WriteCtx,
};
use crate::request::{parse_query, RequestInfo};
use crate::table::{self, IncludeObject};
use crate::tls;
use crate::watch::{self, WatchParams};
use crate::ServerError;

/// The pluggable stages of the request chain.
pub struct Chain {
    pub authenticators: Vec<Box<dyn Authenticator>>,
    pub authorizers: Vec<Box<dyn Authorizer>>,
}

/// Everything a request handler needs.
pub struct State {
    pub config: Config,
    pub registry: Arc<Registry>,
    pub chain: Chain,
    pub metrics: Metrics,
    pub openapi: Arc<OnceLock<OpenApi>>,
    limits: InflightLimits,
    server_address: String,
}

/// Upstream's max-in-flight filter: separate budgets for read-only and
/// mutating requests; long-running requests (watch, exec, logs) are exempt.
pub struct InflightLimits {
    readonly: Semaphore,
    mutating: Semaphore,
}

impl InflightLimits {
    pub fn new(readonly: usize, mutating: usize) -> Self {
        InflightLimits {
            readonly: Semaphore::new(readonly.max(1)),
            mutating: Semaphore::new(mutating.max(1)),
        }
    }

    /// A permit held for the request's duration, `None` when exempt, or
    /// 429 TooManyRequests when the budget is spent.
    pub fn admit(
        &self,
        mutating: bool,
        long_running: bool,
    ) -> Result<Option<tokio::sync::SemaphorePermit<'_>>, StatusError> {
        if long_running {
            return Ok(None);
        }
        let sem = if mutating {
            &self.mutating
        } else {
            &self.readonly
        };
        sem.try_acquire()
            .map(Some)
            .map_err(|_| StatusError::too_many_requests())
    }
}

/// A running server (for tests and embedding).
pub struct Running {
    pub addr: SocketAddr,
    pub ca_file: std::path::PathBuf,
    pub state: Arc<State>,
    pub stop: tokio::sync::watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<()>,
}

/// Runs kube-apiserver until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
    let running = start(config).await?;
    shutdown.await;
    info!("shutting down");
    let _ = running.stop.send(true);
    let _ = running.task.await;
    Ok(())
}

/// Starts serving and returns once the listener is bound and the cluster's
/// bootstrap objects exist.
pub async fn start(config: Config) -> Result<Running, ServerError> {
    config.validate()?;
    let store = connect_store(&config.etcd_servers).await?;
    let prefix = config.etcd_prefix.trim_end_matches('/').to_string();
    let allocators = ServiceAllocators::new(
        store.clone(),
        &prefix,
        config.service_cluster_ip_range,
        config.service_node_port_range,
    );
    let openapi: Arc<OnceLock<OpenApi>> = Arc::new(OnceLock::new());
    {
        // Built off the request path; strict validation and /openapi wait for it.
        let cell = openapi.clone();
        tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let _ = cell.set(crate::openapi::build());
            info!(
                elapsed_ms = t.elapsed().as_millis() as u64,
                "openapi documents built"
            );
        });
    }
    let cache = crate::cache::WatchCache::start(store.clone(), format!("{prefix}/"));
    let registry = Arc::new(
        Registry::new(
            store.clone(),
            &prefix,
            allocators,
            admission::Chain::default_plugins(),
            openapi.clone(),
        )
        .with_cache(cache)
        .with_event_ttl(config.event_ttl),
    );

    let mut authenticators: Vec<Box<dyn Authenticator>> = Vec::new();
    if let Some(p) = &config.token_auth_file {
        authenticators.push(Box::new(TokenFileAuthenticator::load(p)?));
    }
    let authorizers: Vec<Box<dyn Authorizer>> = vec![Box::new(AlwaysAllow)];

    let listener = TcpListener::bind((config.bind_address, config.secure_port))
        .await
        .map_err(|source| ServerError::Listen {
            addr: format!("{}:{}", config.bind_address, config.secure_port),
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServerError::Listen {
            addr: format!("{}:{}", config.bind_address, config.secure_port),
            source,
        })?;
    let advertise = advertise_ip(&config);
    let mut hosts = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "kubernetes".to_string(),
        "kubernetes.default".to_string(),
        "kubernetes.default.svc".to_string(),
        "kubernetes.default.svc.cluster.local".to_string(),
        config.service_cluster_ip_range.nth(0).to_string(),
        advertise.to_string(),
    ];
    if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
        let h = h.trim();
        if !h.is_empty() {
            hosts.push(h.to_string());
        }
    }
    if !config.bind_address.is_unspecified() {
        hosts.push(config.bind_address.to_string());
    }
    let cert = tls::ensure_serving_cert(
        config.tls_cert_file.as_deref(),
        config.tls_private_key_file.as_deref(),
        &config.cert_dir,
        &hosts,
    )?;
    let tls_cfg = tls::server_config(&cert)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(tls_cfg);

    let state = Arc::new(State {
        limits: InflightLimits::new(
            config.max_requests_inflight,
            config.max_mutating_requests_inflight,
        ),
        server_address: format!("{}:{}", advertise, addr.port()),
        config,
        registry,
        chain: Chain {
            authenticators,
            authorizers,
        },
        metrics: Metrics::default(),
        openapi,
    });
    bootstrap(&state, advertise, addr.port()).await;

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let st = state.clone();
    let task = tokio::spawn(async move {
        info!(%addr, "serving securely");
        loop {
            let (tcp, peer) = tokio::select! {
                _ = stop_rx.changed() => break,
                a = listener.accept() => match a {
                    Ok(a) => a,
                    Err(e) => {
                        warn!(error = %e, "accept");
                        continue;
                    }
                },
            };
            let acceptor = acceptor.clone();
            let st = st.clone();
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp))
                    .await
                {
                    Ok(Ok(t)) => t,
                    Ok(Err(e)) => {
                        debug!(%peer, error = %e, "tls handshake");
                        return;
                    }
                    Err(_) => return,
                };
                let svc = hyper::service::service_fn(move |req| {
                    let st = st.clone();
                    async move { Ok::<_, std::convert::Infallible>(handle(st, req).await) }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), svc);
                tokio::pin!(conn);
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            debug!(%peer, error = %e, "connection");
                        }
                    }
                    _ = stop.changed() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
                    }
                }
            });
        }
    });
    Ok(Running {
        addr,
        ca_file: cert.ca_file,
        state,
        stop: stop_tx,
        task,
    })
}

async fn connect_store(endpoints: &[String]) -> Result<Arc<dyn Store>, ServerError> {
    // etcd may still be starting (systemd brings both up together): retry.
    let mut last = None;
    for _ in 0..30 {
        match EtcdStore::connect(endpoints).await {
            Ok(s) => match s.healthy().await {
                Ok(()) => return Ok(Arc::new(s)),
                Err(e) => last = Some(e),
            },
            Err(e) => last = Some(e),
        }
        warn!(?endpoints, "waiting for etcd");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(ServerError::Storage(last.expect("error")))
}

fn advertise_ip(config: &Config) -> std::net::IpAddr {
    if let Some(a) = config.advertise_address {
        return a;
    }
    if !config.bind_address.is_unspecified() {
        return config.bind_address;
    }
    "127.0.0.1".parse().expect("ip")
}

/// Objects every cluster has: system namespaces, the `kubernetes` Service
/// and its Endpoints, and the system PriorityClasses.
async fn bootstrap(state: &State, advertise: std::net::IpAddr, port: u16) {
    let reg = &state.registry;
    let user = UserInfo {
        name: "system:apiserver".into(),
        uid: String::new(),
        groups: vec!["system:masters".into()],
    };
    let ns = catalogue::lookup("", "v1", "namespaces").expect("namespaces");
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        if let Err(e) = reg
            .ensure(
                ns,
                "",
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
                &user,
            )
            .await
        {
            warn!(namespace = name, error = %e, "bootstrap");
        }
    }
    let svc = catalogue::lookup("", "v1", "services").expect("services");
    let ip = state.config.service_cluster_ip_range.nth(0).to_string();
    let kube_svc = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": ip, "sessionAffinity": "None",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]}
    });
    if let Err(e) = reg.ensure(svc, "default", kube_svc, &user).await {
        warn!(error = %e, "bootstrap kubernetes service");
    }
    let ep = catalogue::lookup("", "v1", "endpoints").expect("endpoints");
    let eps = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": advertise.to_string()}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]
    });
    if let Err(e) = reg.ensure(ep, "default", eps.clone(), &user).await {
        warn!(error = %e, "bootstrap kubernetes endpoints");
    } else if let Ok(cur) = reg.get(ep, "default", "kubernetes").await {
        if cur.get("subsets") != eps.get("subsets") {
            let mut ctx = WriteCtx {
                user: &user,
                dry_run: false,
                field_validation: FieldValidation::Ignore,
                duplicates: Vec::new(),
                warnings: Vec::new(),
            };
            let mut upd = cur.clone();
            upd["subsets"] = eps["subsets"].clone();
            let _ = reg
                .update(ep, "default", "kubernetes", "", upd, &mut ctx)
                .await;
        }
    }
    let pc =
        catalogue::lookup("scheduling.k8s.io", "v1", "priorityclasses").expect("priorityclasses");
    for (name, value, desc) in [
        ("system-node-critical", 2000001000, "Used for system critical pods that must not be moved from their current node."),
        ("system-cluster-critical", 2000000000, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
    ] {
        let obj = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, "description": desc, "preemptionPolicy": "PreemptLowerPriority"});
        if let Err(e) = reg.ensure(pc, "", obj, &user).await {
            warn!(priorityclass = name, error = %e, "bootstrap");
        }
    }
}

fn text(code: StatusCode, body: &str) -> Response<Body> {
    let mut r = Response::new(full(body.to_string()));
    *r.status_mut() = code;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The whole chain for one request.
async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let start = Instant::now();
    let (parts, body) = req.into_parts();
    let query = parse_query(parts.uri.query());
    let info = RequestInfo::parse(&parts.method, parts.uri.path(), &query);
    let span = info_span!("request", verb = %info.verb, path = %info.path);
    async move {
        let long_running = info.verb == "watch"
            || matches!(
                info.subresource.as_str(),
                "exec" | "attach" | "portforward" | "proxy" | "log"
            );
        let mutating = matches!(
            parts.method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        );
        let dry_run = query.get("dryRun").is_some_and(|v| !v.is_empty());
        // In-flight limits, as upstream's max-in-flight filter (watches exempt).
        let gauge = if mutating {
            &state.metrics.inflight_mutating
        } else {
            &state.metrics.inflight_readonly
        };
        let permit = match state.limits.admit(mutating, long_running) {
            Ok(p) => p,
            Err(e) => {
                let resp = error_response(&e);
                record(&state, &info, dry_run, resp.status().as_u16(), start);
                return resp;
            }
        };
        if permit.is_some() {
            gauge.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let resp = match authenticate(&state, &parts.headers).await {
            Err(e) => error_response(&e),
            Ok(user) => match authorize(&state, &user, &info).await {
                Err(e) => error_response(&e),
                Ok(()) => match route(&state, &user, &info, &query, &parts, body).await {
                    Ok(r) => r,
                    Err(e) => error_response(&e),
                },
            },
        };
        if permit.is_some() {
            gauge.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
        drop(permit);
        record(&state, &info, dry_run, resp.status().as_u16(), start);
        debug!(code = resp.status().as_u16(), "done");
        resp
    }
    .instrument(span)
    .await
}

fn record(state: &State, info: &RequestInfo, dry_run: bool, code: u16, start: Instant) {
    if !info.is_resource_request {
        return;
    }
    state.metrics.observe(
        RequestLabels {
            verb: metric_verb(&info.verb),
            dry_run: if dry_run { "All".into() } else { String::new() },
            group: info.group.clone(),
            version: info.version.clone(),
            resource: info.resource.clone(),
            subresource: info.subresource.clone(),
            scope: info.scope().into(),
        },
        code,
        start.elapsed().as_secs_f64(),
    );
}

async fn authenticate(state: &State, headers: &http::HeaderMap) -> Result<UserInfo, StatusError> {
    for a in &state.chain.authenticators {
        match a.authenticate(headers).await {
            AuthnResult::Authenticated(u) => return Ok(u),
            AuthnResult::Rejected => return Err(StatusError::unauthorized()),
            AuthnResult::NoOpinion => {}
        }
    }
    if headers.contains_key(http::header::AUTHORIZATION) {
        return Err(StatusError::unauthorized());
    }
    Ok(UserInfo::anonymous())
}

async fn authorize(state: &State, user: &UserInfo, info: &RequestInfo) -> Result<(), StatusError> {
    for a in &state.chain.authorizers {
        match a.authorize(user, info).await {
            Decision::Allow => return Ok(()),
            Decision::Deny(why) => {
                return Err(StatusError::forbidden(
                    &info.group,
                    &info.resource,
                    &info.name,
                    &why,
                ))
            }
            Decision::NoOpinion => {}
        }
    }
    Err(StatusError::forbidden(
        &info.group,
        &info.resource,
        &info.name,
        &format!("User \"{}\" cannot {} resource", user.name, info.verb),
    ))
}

fn accept(parts: &http::request::Parts) -> Option<&str> {
    parts
        .headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
}

async fn route(
    state: &Arc<State>,
    user: &UserInfo,
    info: &RequestInfo,
    query: &HashMap<String, String>,
    parts: &http::request::Parts,
    body: Incoming,
) -> Result<Response<Body>, StatusError> {
    let path = parts.uri.path().trim_end_matches('/');
    let get = parts.method == Method::GET || parts.method == Method::HEAD;
    if info.is_resource_request {
        return resource(state, user, info, query, parts, body).await;
    }
    match path {
        "" => {
            let mut paths: Vec<String> = vec![
                "/api".into(),
                "/api/v1".into(),
                "/apis".into(),
                "/healthz".into(),
                "/livez".into(),
                "/metrics".into(),
                "/openapi/v2".into(),
                "/openapi/v3".into(),
                "/readyz".into(),
                "/version".into(),
            ];
            for (g, vs) in catalogue::groups() {
                paths.push(format!("/apis/{g}"));
                for v in vs {
                    paths.push(format!("/apis/{g}/{v}"));
                }
            }
            paths.sort();
            return Ok(json_response(StatusCode::OK, &json!({"paths": paths})));
        }
        "/healthz" | "/livez" | "/livez/ping" | "/healthz/ping" => {
            return Ok(text(StatusCode::OK, "ok"))
        }
        "/readyz" | "/healthz/etcd" | "/livez/etcd" | "/readyz/etcd" => {
            return match state.registry.store().healthy().await {
                Ok(()) if query.contains_key("verbose") => Ok(text(
                    StatusCode::OK,
                    "[+]ping ok\n[+]log ok\n[+]etcd ok\n[+]informer-sync ok\nreadyz check passed\n",
                )),
                Ok(()) => Ok(text(StatusCode::OK, "ok")),
                Err(e) => {
                    warn!(error = %e, "etcd health check failed");
                    Ok(text(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "[-]etcd failed: reason withheld\nreadyz check failed\n",
                    ))
                }
            };
        }
        "/version" if get => return Ok(json_response(StatusCode::OK, &discovery::version())),
        "/metrics" if get => {
            let mut r = text(StatusCode::OK, &state.metrics.render());
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            return Ok(r);
        }
        "/api" | "/apis" if get => {
            let core = path == "/api";
            let fmt = negotiate(accept(parts), true, false)?;
            if fmt.kind == FormatKind::AggregatedDiscovery {
                return Ok(aggregated_response(
                    discovery::aggregated(core, &fmt.version),
                    &fmt.version,
                ));
            }
            let legacy = if core {
                discovery::api_versions(&state.server_address)
            } else {
                discovery::api_group_list()
            };
            return Ok(object_response(StatusCode::OK, &legacy, &fmt));
        }
        "/openapi/v2" if get => {
            let oa = openapi(state).await;
            let acc = accept(parts).unwrap_or("application/json");
            // kubectl asks for the gnostic protobuf encoding; others for JSON.
            let mut r = if acc.contains("application/com.github.proto-openapi.spec.v2") {
                let mut r = Response::new(full(oa.v2_protobuf().to_vec()));
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static(
                        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
                    ),
                );
                r
            } else if acc.contains("json") || acc.contains("*/*") {
                let mut r = Response::new(full(oa.v2_json().to_vec()));
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                r
            } else {
                return Err(StatusError::not_acceptable("application/json"));
            };
            if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", oa.v2_hash())) {
                r.headers_mut().insert(http::header::ETAG, v);
            }
            return Ok(r);
        }
        "/openapi/v3" if get => {
            let oa = openapi(state).await;
            return Ok(json_response(StatusCode::OK, &oa.v3_index()));
        }
        _ => {}
    }
    if get {
        if let Some(rest) = path.strip_prefix("/openapi/v3/") {
            let oa = openapi(state).await;
            if let Some((doc, hash)) = oa.v3_document(rest) {
                let mut r = Response::new(full(doc.to_vec()));
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                if query.get("hash").is_some_and(|h| h == hash) {
                    r.headers_mut().insert(
                        http::header::CACHE_CONTROL,
                        HeaderValue::from_static("public, immutable"),
                    );
                } else {
                    r.headers_mut().insert(
                        http::header::CACHE_CONTROL,
                        HeaderValue::from_static("no-cache, private"),
                    );
                }
                if let Ok(v) = HeaderValue::from_str(&format!("\"{hash}\"")) {
                    r.headers_mut().insert(http::header::ETAG, v);
                }
                return Ok(r);
            }
            return Err(StatusError::path_not_found());
        }
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let fmt = negotiate(accept(parts), false, false)?;
        match segs.as_slice() {
            ["api", v] => {
                if let Some(l) = discovery::api_resource_list("", v) {
                    return Ok(object_response(StatusCode::OK, &l, &fmt));
                }
            }
            ["apis", g] => {
                if let Some(l) = discovery::api_group(g) {
                    return Ok(object_response(StatusCode::OK, &l, &fmt));
                }
            }
            ["apis", g, v] => {
                if let Some(l) = discovery::api_resource_list(g, v) {
                    return Ok(object_response(StatusCode::OK, &l, &fmt));
                }
            }
            _ => {}
        }
    } else if matches!(path, "/api" | "/apis" | "/version" | "/metrics")
        || path.starts_with("/openapi")
    {
        return Err(StatusError::method_not_allowed());
    }
    Err(StatusError::path_not_found())
}

async fn openapi(state: &State) -> &OpenApi {
    loop {
        if let Some(o) = state.openapi.get() {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn aggregated_response(v: Value, version: &str) -> Response<Body> {
    let mut r = json_response(StatusCode::OK, &v);
    let ct = format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList");
    if let Ok(h) = HeaderValue::from_str(&ct) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, h);
    }
    r
}

fn header(parts: &http::request::Parts, name: http::header::HeaderName) -> Option<&str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

fn with_warnings(mut r: Response<Body>, warnings: &[String]) -> Response<Body> {
    for w in warnings {
        let v = format!("299 - {}", serde_json::to_string(w).unwrap_or_default());
        if let Ok(h) = HeaderValue::from_str(&v) {
            r.headers_mut().append(http::header::WARNING, h);
        }
    }
    r
}

/// Kinds whose delete answers with the deleted object rather than a Status.
fn returns_deleted_object(r: &ResourceInfo) -> bool {
    matches!(
        (r.group, r.kind),
        (
            "",
            "Pod"
                | "Service"
                | "Namespace"
                | "Node"
                | "PersistentVolume"
                | "PersistentVolumeClaim"
                | "ReplicationController"
        ) | ("apps", _)
            | ("batch", _)
    )
}

/// Resource requests: `/api/v1/...` and `/apis/<g>/<v>/...`.
async fn resource(
    state: &Arc<State>,
    user: &UserInfo,
    info: &RequestInfo,
    query: &HashMap<String, String>,
    parts: &http::request::Parts,
    body: Incoming,
) -> Result<Response<Body>, StatusError> {
    let Some(r) = catalogue::lookup(&info.group, &info.version, &info.resource) else {
        return Err(StatusError::path_not_found());
    };
    if !r.namespaced && !info.namespace.is_empty() {
        return Err(StatusError::path_not_found());
    }
    let sub = info.subresource.as_str();
    if !sub.is_empty() && !r.has_subresource(sub) {
        return Err(StatusError::path_not_found());
    }
    // log, exec, attach, portforward, nodes/proxy: served by the kubelet.
    if crate::proxy::handles(r, sub) {
        return crate::proxy::serve(state, info, parts, body).await;
    }
    if !info.parts.is_empty() {
        return Err(StatusError::path_not_found());
    }
    let ns = info.namespace.as_str();
    let name = info.name.as_str();
    let reg = &state.registry;
    let verb = info.verb.as_str();
    let fmt = negotiate(
        accept(parts),
        false,
        matches!(verb, "get" | "list" | "watch") && sub.is_empty(),
    )?;
    let dry_run = match query.get("dryRun").map(String::as_str) {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => {
            return Err(StatusError::bad_request(format!(
                "Invalid dry run value: {other}; supported values: All"
            )))
        }
    };
    let field_validation =
        FieldValidation::parse(query.get("fieldValidation").map(String::as_str))?;
    let mut ctx = WriteCtx {
        user,
        dry_run,
        field_validation,
        duplicates: Vec::new(),
        warnings: Vec::new(),
    };
    let list_opts = || ListOptions {
        label_selector: query.get("labelSelector").cloned(),
        field_selector: query.get("fieldSelector").cloned(),
        limit: query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(0),
        continue_token: query.get("continue").cloned(),
        resource_version: query.get("resourceVersion").cloned(),
        resource_version_match: query.get("resourceVersionMatch").cloned(),
    };
    if name.is_empty() && matches!(verb, "update" | "patch") {
        return Err(StatusError::method_not_allowed());
    }
    if !r.has_verb(verb) && sub.is_empty() {
        return Err(StatusError::method_not_allowed());
    }
    if !r.stored
        && verb == "create"
        && (r.group == "authentication.k8s.io" || r.group == "authorization.k8s.io")
    {
        let bytes = http_util::read_body(body, http_util::MAX_BODY).await?;
        let ct = header(parts, http::header::CONTENT_TYPE);
        let decoded = http_util::decode_body(ct, &bytes, (&r.api_version(), r.kind))?;
        let out = crate::reviews::create(state, r, ns, user, &decoded.value).await?;
        return Ok(object_response(StatusCode::CREATED, &out, &fmt));
    }
    if !(r.stored || r.kind == "Binding" && verb == "create") {
        if r.kind == "ComponentStatus" {
            let resp = component_statuses(state, verb, name, &fmt).await?;
            return Ok(with_warnings(
                resp,
                &["v1 ComponentStatus is deprecated in v1.19+".to_string()],
            ));
        }
        return Err(StatusError::method_not_allowed());
    }

    let ct = header(parts, http::header::CONTENT_TYPE).map(str::to_string);
    let bytes = if matches!(
        parts.method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        http_util::read_body(body, http_util::MAX_BODY).await?
    } else {
        bytes::Bytes::new()
    };

    match (verb, sub) {
        ("get", "") => {
            let obj = reg.get(r, ns, name).await?;
            Ok(render_one(r, &obj, &fmt, query))
        }
        ("get", "status") => Ok(object_response(
            StatusCode::OK,
            &reg.get(r, ns, name).await?,
            &fmt,
        )),
        ("get", "scale") => {
            let obj = reg.get(r, ns, name).await?;
            Ok(object_response(
                StatusCode::OK,
                &Registry::to_scale(r, &obj),
                &fmt,
            ))
        }
        ("list", "") => {
            let opts = list_opts();
            let page = reg.list(r, ns, &opts).await?;
            Ok(render_list(r, page, &fmt, query))
        }
        ("watch", "") => {
            let mut opts = list_opts();
            if !name.is_empty() {
                let f = format!("metadata.name={name}");
                opts.field_selector = Some(match opts.field_selector.filter(|s| !s.is_empty()) {
                    Some(s) => format!("{s},{f}"),
                    None => f,
                });
            }
            let timeout = match query
                .get("timeoutSeconds")
                .and_then(|t| t.parse::<u64>().ok())
            {
                Some(t) if t > 0 => Duration::from_secs(t),
                _ => {
                    let min = state.config.min_request_timeout.max(1);
                    Duration::from_secs(min + rand::random::<u64>() % min)
                }
            };
            let params = WatchParams {
                allow_bookmarks: query
                    .get("allowWatchBookmarks")
                    .is_some_and(|v| v == "true"),
                send_initial_events: query.get("sendInitialEvents").is_some_and(|v| v == "true"),
                timeout,
                include_object: query.get("includeObject").cloned(),
            };
            watch::serve(reg.clone(), r, ns.to_string(), opts, params, fmt).await
        }
        ("create", "") | ("create", "binding") => {
            let expected = if sub == "binding" || r.kind == "Binding" {
                ("v1".to_string(), "Binding")
            } else {
                (r.api_version(), r.kind)
            };
            let decoded = http_util::decode_body(ct.as_deref(), &bytes, (&expected.0, expected.1))?;
            ctx.duplicates = decoded.duplicates;
            if r.kind == "Binding" || sub == "binding" {
                let pod = if sub == "binding" {
                    name.to_string()
                } else {
                    meta::name(&decoded.value).to_string()
                };
                reg.bind(ns, &pod, &decoded.value, &mut ctx).await?;
                return Ok(json_response(
                    StatusCode::CREATED,
                    &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
                ));
            }
            if !name.is_empty() {
                return Err(StatusError::method_not_allowed());
            }
            let obj = reg.create(r, ns, decoded.value, &mut ctx).await?;
            Ok(with_warnings(
                object_response(StatusCode::CREATED, &obj, &fmt),
                &ctx.warnings,
            ))
        }
        ("create", "eviction") => {
            let decoded = http_util::decode_body(ct.as_deref(), &bytes, ("policy/v1", "Eviction"))?;
            reg.evict(ns, name, &decoded.value, &mut ctx).await?;
            Ok(json_response(
                StatusCode::CREATED,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
            ))
        }
        ("update", "" | "status" | "finalize" | "approval") => {
            let decoded =
                http_util::decode_body(ct.as_deref(), &bytes, (&r.api_version(), r.kind))?;
            ctx.duplicates = decoded.duplicates;
            let (obj, created) = reg
                .update(r, ns, name, sub, decoded.value, &mut ctx)
                .await?;
            let code = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(with_warnings(
                object_response(code, &obj, &fmt),
                &ctx.warnings,
            ))
        }
        ("update", "scale") => {
            let decoded =
                http_util::decode_body(ct.as_deref(), &bytes, ("autoscaling/v1", "Scale"))?;
            let want = decoded.value;
            let scale = reg
                .update_scale(r, ns, name, &mut ctx, |_cur| Ok(want.clone()))
                .await?;
            Ok(object_response(StatusCode::OK, &scale, &fmt))
        }
        ("patch", "" | "status" | "scale" | "approval") => {
            let pt = ct
                .as_deref()
                .and_then(|c| c.split(';').next())
                .map(|s| s.trim().to_ascii_lowercase())
                .unwrap_or_default();
            if pt == "application/apply-patch+yaml" || pt == "application/apply-patch+cbor" {
                return Err(StatusError::unsupported_media_type(&pt));
            }
            if !matches!(
                pt.as_str(),
                "application/json-patch+json"
                    | "application/merge-patch+json"
                    | "application/strategic-merge-patch+json"
            ) {
                return Err(StatusError::unsupported_media_type(&pt));
            }
            let patch: Value = serde_json::from_slice(&bytes)
                .map_err(|e| StatusError::bad_request(format!("error decoding patch: {e}")))?;
            ctx.duplicates = http_util::json_duplicates(&bytes);
            if sub == "scale" {
                let kind = r.kind;
                let scale = reg
                    .update_scale(r, ns, name, &mut ctx, |cur| {
                        apply_patch(&pt, cur, &patch, kind)
                    })
                    .await?;
                return Ok(object_response(StatusCode::OK, &scale, &fmt));
            }
            let obj = reg.patch(r, ns, name, sub, &pt, &patch, &mut ctx).await?;
            Ok(with_warnings(
                object_response(StatusCode::OK, &obj, &fmt),
                &ctx.warnings,
            ))
        }
        ("delete", "") => {
            let opts = delete_options(query, parts, &bytes)?;
            let (obj, gone) = reg.delete(r, ns, name, &opts, &mut ctx).await?;
            if gone && !returns_deleted_object(r) {
                return Ok(json_response(
                    StatusCode::OK,
                    &success_status(r.group, r.plural, name, meta::uid(&obj)),
                ));
            }
            Ok(object_response(StatusCode::OK, &obj, &fmt))
        }
        ("deletecollection", "") => {
            let opts = delete_options(query, parts, &bytes)?;
            let page = reg
                .list(
                    r,
                    ns,
                    &ListOptions {
                        limit: 0,
                        ..list_opts()
                    },
                )
                .await?;
            let mut deleted = Vec::new();
            for item in page.items {
                let item_ns = meta::namespace(&item).to_string();
                let item_name = meta::name(&item).to_string();
                match reg.delete(r, &item_ns, &item_name, &opts, &mut ctx).await {
                    Ok((o, _)) => deleted.push(o),
                    Err(e) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            let list = json!({
                "kind": r.list_kind(),
                "apiVersion": r.api_version(),
                "metadata": {"resourceVersion": page.resource_version.to_string()},
                "items": deleted,
            });
            Ok(json_response(StatusCode::OK, &list))
        }
        _ => Err(StatusError::method_not_allowed()),
    }
}

fn apply_patch(pt: &str, cur: &Value, patch: &Value, kind: &str) -> Result<Value, StatusError> {
    use apimachinery::patch as p;
    match pt {
        "application/json-patch+json" => p::json_patch(cur, patch).map_err(patch_error),
        "application/merge-patch+json" => Ok(p::merge_patch(cur, patch)),
        _ => p::strategic_merge_patch(cur, patch, kind).map_err(patch_error),
    }
}

fn delete_options(
    query: &HashMap<String, String>,
    parts: &http::request::Parts,
    bytes: &[u8],
) -> Result<DeleteOptions, StatusError> {
    let mut opts = DeleteOptions {
        grace_period_seconds: query.get("gracePeriodSeconds").and_then(|g| g.parse().ok()),
        propagation_policy: query.get("propagationPolicy").cloned(),
        ..Default::default()
    };
    if query.get("orphanDependents").is_some_and(|v| v == "true") {
        opts.propagation_policy = Some("Orphan".into());
    }
    if !bytes.is_empty() {
        let ct = header(parts, http::header::CONTENT_TYPE);
        let v = http_util::decode_body(ct, bytes, ("meta.k8s.io/v1", "DeleteOptions"))?.value;
        opts = opts.from_body(&v)?;
    } else {
        opts = opts.from_body(&json!({}))?;
    }
    Ok(opts)
}

fn include_object(query: &HashMap<String, String>) -> Result<IncludeObject, StatusError> {
    match query.get("includeObject") {
        None => Ok(IncludeObject::Metadata),
        Some(v) => IncludeObject::from_query(v)
            .ok_or_else(|| StatusError::bad_request(format!("invalid includeObject value: {v}"))),
    }
}

fn render_one(
    r: &ResourceInfo,
    obj: &Value,
    fmt: &Format,
    query: &HashMap<String, String>,
) -> Response<Body> {
    match fmt.kind {
        FormatKind::Table => match include_object(query) {
            Ok(inc) => json_response(
                StatusCode::OK,
                &table::to_table(
                    r.group,
                    r.plural,
                    std::slice::from_ref(obj),
                    meta::resource_version(obj),
                    None,
                    None,
                    inc,
                    chrono::Utc::now(),
                ),
            ),
            Err(e) => error_response(&e),
        },
        FormatKind::PartialMetadata => json_response(
            StatusCode::OK,
            &json!({"kind": "PartialObjectMetadata", "apiVersion": format!("meta.k8s.io/{}", fmt.version), "metadata": obj.get("metadata")}),
        ),
        _ => object_response(StatusCode::OK, obj, fmt),
    }
}

fn render_list(
    r: &ResourceInfo,
    page: crate::registry::ListPage,
    fmt: &Format,
    query: &HashMap<String, String>,
) -> Response<Body> {
    let rv = page.resource_version.to_string();
    match fmt.kind {
        FormatKind::Table => match include_object(query) {
            Ok(inc) => json_response(
                StatusCode::OK,
                &table::to_table(
                    r.group,
                    r.plural,
                    &page.items,
                    &rv,
                    page.continue_token.as_deref(),
                    page.remaining,
                    inc,
                    chrono::Utc::now(),
                ),
            ),
            Err(e) => error_response(&e),
        },
        FormatKind::PartialMetadata => {
            let items: Vec<Value> = page
                .items
                .iter()
                .map(|o| json!({"kind": "PartialObjectMetadata", "apiVersion": format!("meta.k8s.io/{}", fmt.version), "metadata": o.get("metadata")}))
                .collect();
            let mut md = json!({"resourceVersion": rv});
            if let Some(c) = &page.continue_token {
                md["continue"] = json!(c);
            }
            json_response(
                StatusCode::OK,
                &json!({"kind": "PartialObjectMetadataList", "apiVersion": format!("meta.k8s.io/{}", fmt.version), "metadata": md, "items": items}),
            )
        }
        _ => {
            let mut md = json!({"resourceVersion": rv});
            if let Some(c) = &page.continue_token {
                md["continue"] = json!(c);
            }
            if let Some(n) = page.remaining {
                md["remainingItemCount"] = json!(n);
            }
            // Items in lists carry no apiVersion/kind, as upstream's typed lists.
            let items: Vec<Value> = page
                .items
                .into_iter()
                .map(|mut o| {
                    if let Some(m) = o.as_object_mut() {
                        m.remove("apiVersion");
                        m.remove("kind");
                    }
                    o
                })
                .collect();
            object_response(
                StatusCode::OK,
                &json!({"kind": r.list_kind(), "apiVersion": r.api_version(), "metadata": md, "items": items}),
                fmt,
            )
        }
    }
}

/// `componentstatuses`: only etcd is checked (the scheduler and
/// controller-manager are reported through their own health endpoints).
async fn component_statuses(
    state: &State,
    verb: &str,
    name: &str,
    fmt: &Format,
) -> Result<Response<Body>, StatusError> {
    let healthy = state.registry.store().healthy().await.is_ok();
    let etcd = json!({
        "kind": "ComponentStatus", "apiVersion": "v1",
        "metadata": {"name": "etcd-0"},
        "conditions": [{"type": "Healthy", "status": if healthy { "True" } else { "False" }, "message": if healthy { "ok" } else { "etcd unreachable" }}],
    });
    match verb {
        "list" => {
            let list = json!({"kind": "ComponentStatusList", "apiVersion": "v1", "metadata": {}, "items": [etcd]});
            if fmt.kind == FormatKind::Table {
                return Ok(json_response(
                    StatusCode::OK,
                    &table::to_table(
                        "",
                        "componentstatuses",
                        std::slice::from_ref(&etcd),
                        "",
                        None,
                        None,
                        IncludeObject::Metadata,
                        chrono::Utc::now(),
                    ),
                ));
            }
            Ok(object_response(StatusCode::OK, &list, fmt))
        }
        "get" if name == "etcd-0" => Ok(object_response(StatusCode::OK, &etcd, fmt)),
        "get" => Err(StatusError::not_found("", "componentstatuses", name)),
        _ => Err(StatusError::method_not_allowed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflight_limits() {
        let l = InflightLimits::new(1, 1);
        let held = l.admit(false, false).unwrap();
        assert!(held.is_some());
        let e = l.admit(false, false).unwrap_err();
        assert_eq!((e.code, e.reason.as_str()), (429, "TooManyRequests"));
        assert!(
            l.admit(false, true).unwrap().is_none(),
            "watches are exempt"
        );
        assert!(
            l.admit(true, false).unwrap().is_some(),
            "separate mutating budget"
        );
        drop(held);
        assert!(l.admit(false, false).unwrap().is_some());
    }
}
