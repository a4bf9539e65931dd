//! Liveness, readiness and startup probes, and lifecycle hooks.
//!
//! One task per (container instance, probe kind) probes on its period and
//! feeds [`ProbeState`], upstream's threshold state machine; the pod sync
//! reads the results ([`ContainerProbes`]) to decide `started`, `ready`
//! and whether to kill the container. Handlers: exec (CRI ExecSync with
//! the timeout), httpGet (HTTP/1.1, 200-399 is success), tcpSocket, and
//! grpc (`grpc.health.v1.Health/Check`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use cri::Runtime;
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, ExecAction, HTTPGetAction, LifecycleHandler, ObjectReference, Probe,
    TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Which probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// Restarts the container when it fails.
    Liveness,
    /// Decides whether the container is ready.
    Readiness,
    /// Gates the other two until it succeeds once.
    Startup,
}

impl ProbeKind {
    /// upstream's name in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
            ProbeKind::Startup => "Startup",
        }
    }
}

/// One probe's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeResult {
    /// It passed.
    Success,
    /// It failed.
    Failure,
    /// Not known yet, or the probe could not be run (ignored).
    Unknown,
}

/// upstream's per-worker state: a result is reported only after
/// `successThreshold` / `failureThreshold` equal results in a row; after a
/// liveness or startup failure the worker holds until a new container.
#[derive(Debug, Clone)]
pub struct ProbeState {
    kind: ProbeKind,
    last: ProbeResult,
    run: i32,
    /// The reported result.
    pub result: ProbeResult,
    /// Stopped probing (failed liveness/startup, or startup succeeded).
    pub on_hold: bool,
    /// The last failure's output, for messages.
    pub message: String,
}

impl ProbeState {
    /// The initial state: readiness starts failed, liveness succeeded,
    /// startup unknown (as upstream).
    pub fn new(kind: ProbeKind) -> Self {
        ProbeState {
            kind,
            last: ProbeResult::Unknown,
            run: 0,
            result: match kind {
                ProbeKind::Readiness => ProbeResult::Failure,
                ProbeKind::Liveness => ProbeResult::Success,
                ProbeKind::Startup => ProbeResult::Unknown,
            },
            on_hold: false,
            message: String::new(),
        }
    }

    /// Records one probe outcome; returns whether the reported result
    /// changed. `Unknown` (the probe could not run) is ignored.
    pub fn record(
        &mut self,
        r: ProbeResult,
        success_threshold: i32,
        failure_threshold: i32,
    ) -> bool {
        if r == ProbeResult::Unknown || self.on_hold {
            return false;
        }
        if self.last == r {
            self.run += 1;
        } else {
            self.last = r;
            self.run = 1;
        }
        if (r == ProbeResult::Failure && self.run < failure_threshold.max(1))
            || (r == ProbeResult::Success && self.run < success_threshold.max(1))
        {
            return false;
        }
        let changed = self.result != r;
        self.result = r;
        if r == ProbeResult::Failure && self.kind != ProbeKind::Readiness {
            self.on_hold = true;
            self.run = 0;
        }
        if r == ProbeResult::Success && self.kind == ProbeKind::Startup {
            self.on_hold = true;
        }
        changed
    }
}

/// A probe with upstream's defaults applied.
#[derive(Debug, Clone)]
pub struct ProbeTiming {
    /// initialDelaySeconds (0).
    pub initial_delay: Duration,
    /// periodSeconds (10).
    pub period: Duration,
    /// timeoutSeconds (1).
    pub timeout: Duration,
    /// successThreshold (1).
    pub success_threshold: i32,
    /// failureThreshold (3).
    pub failure_threshold: i32,
}

impl ProbeTiming {
    /// The timing of `p`.
    pub fn of(p: &Probe) -> Self {
        let secs =
            |v: Option<i32>, d: i32| Duration::from_secs(v.filter(|v| *v > 0).unwrap_or(d) as u64);
        ProbeTiming {
            initial_delay: Duration::from_secs(p.initial_delay_seconds.unwrap_or(0).max(0) as u64),
            period: secs(p.period_seconds, 10),
            timeout: secs(p.timeout_seconds, 1),
            success_threshold: p.success_threshold.filter(|v| *v > 0).unwrap_or(1),
            failure_threshold: p.failure_threshold.filter(|v| *v > 0).unwrap_or(3),
        }
    }
}

/// Where a handler runs: the container and its pod's address.
#[derive(Clone)]
pub struct Target {
    /// The runtime, for exec.
    pub runtime: Arc<dyn Runtime>,
    /// The container instance.
    pub container_id: String,
    /// The pod IP (the default host of httpGet, tcpSocket, grpc).
    pub pod_ip: String,
    /// The container's ports, for named ports.
    pub ports: Vec<ContainerPort>,
}

fn resolve_port(port: &IntOrString, ports: &[ContainerPort]) -> Result<u16, String> {
    match port {
        IntOrString::Int(p) => u16::try_from(*p).map_err(|_| format!("invalid port {p}")),
        IntOrString::String(s) => {
            if let Ok(n) = s.parse::<u16>() {
                return Ok(n);
            }
            ports
                .iter()
                .find(|p| p.name.as_deref() == Some(s.as_str()))
                .and_then(|p| u16::try_from(p.container_port).ok())
                .ok_or_else(|| format!("couldn't find port: {s}"))
        }
    }
}

/// Runs an exec action; exit 0 is success, a timeout is a failure, a
/// runtime error is unknown.
pub async fn run_exec(t: &Target, e: &ExecAction, timeout: Duration) -> (ProbeResult, String) {
    let cmd = e.command.clone().unwrap_or_default();
    let guard = if timeout.is_zero() {
        Duration::from_secs(3600)
    } else {
        timeout + Duration::from_secs(5)
    };
    match tokio::time::timeout(guard, t.runtime.exec_sync(&t.container_id, &cmd, timeout)).await {
        Err(_) => (ProbeResult::Failure, format!("command {cmd:?} timed out")),
        Ok(Ok(r)) if r.exit_code == 0 => (ProbeResult::Success, String::new()),
        Ok(Ok(r)) => {
            let mut out = String::from_utf8_lossy(&r.stdout).into_owned();
            out.push_str(&String::from_utf8_lossy(&r.stderr));
            (
                ProbeResult::Failure,
                format!(
                    "command {cmd:?} exited with {}: {}",
                    r.exit_code,
                    out.trim()
                ),
            )
        }
        Ok(Err(e))
            if matches!(e, cri::Error::Timeout { .. })
                || e.code() == Some(tonic::Code::DeadlineExceeded) =>
        {
            (ProbeResult::Failure, format!("command {cmd:?} timed out"))
        }
        Ok(Err(e)) => (ProbeResult::Unknown, e.to_string()),
    }
}

/// An HTTP GET: 200-399 is success.
pub async fn run_http(t: &Target, h: &HTTPGetAction, timeout: Duration) -> (ProbeResult, String) {
    let port = match resolve_port(&h.port, &t.ports) {
        Ok(p) => p,
        Err(e) => return (ProbeResult::Failure, e),
    };
    if h.scheme
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("HTTPS"))
    {
        return (
            ProbeResult::Unknown,
            "HTTPS probes are not supported by this kubelet".into(),
        );
    }
    let host = h
        .host
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| t.pod_ip.clone());
    let path = h
        .path
        .clone()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".into());
    let path = if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    };
    let mut host_header = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut extra = String::new();
    let mut user_agent = "kube-probe/1.33".to_string();
    let mut accept = "*/*".to_string();
    for hh in h.http_headers.iter().flatten() {
        match hh.name.to_ascii_lowercase().as_str() {
            "host" => host_header = hh.value.clone(),
            "user-agent" => user_agent = hh.value.clone(),
            "accept" => accept = hh.value.clone(),
            _ => extra.push_str(&format!("{}: {}\r\n", hh.name, hh.value)),
        }
    }
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {user_agent}\r\nAccept: {accept}\r\n{extra}Connection: close\r\n\r\n"
    );
    let addr = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let fut = async {
        let mut s = TcpStream::connect(&addr).await?;
        s.write_all(req.as_bytes()).await?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        // The status line is all that matters; read at most 10 KiB.
        while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 10 * 1024 {
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Ok::<_, std::io::Error>(buf)
    };
    match tokio::time::timeout(timeout, fut).await {
        Err(_) => (
            ProbeResult::Failure,
            format!("Get \"http://{addr}{path}\": context deadline exceeded"),
        ),
        Ok(Err(e)) => (
            ProbeResult::Failure,
            format!("Get \"http://{addr}{path}\": {e}"),
        ),
        Ok(Ok(buf)) => {
            let line = String::from_utf8_lossy(&buf);
            let code = line
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse::<u16>().ok());
            match code {
                Some(c) if (200..400).contains(&c) => (ProbeResult::Success, String::new()),
                Some(c) => (
                    ProbeResult::Failure,
                    format!("HTTP probe failed with statuscode: {c}"),
                ),
                None => (
                    ProbeResult::Failure,
                    format!("Get \"http://{addr}{path}\": malformed HTTP response"),
                ),
            }
        }
    }
}

/// A TCP connect.
pub async fn run_tcp(t: &Target, a: &TCPSocketAction, timeout: Duration) -> (ProbeResult, String) {
    let port = match resolve_port(&a.port, &t.ports) {
        Ok(p) => p,
        Err(e) => return (ProbeResult::Failure, e),
    };
    let host = a
        .host
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| t.pod_ip.clone());
    let addr = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    match tokio::time::timeout(timeout, TcpStream::connect(&addr)).await {
        Ok(Ok(_)) => (ProbeResult::Success, String::new()),
        Ok(Err(e)) => (ProbeResult::Failure, format!("dial tcp {addr}: {e}")),
        Err(_) => (
            ProbeResult::Failure,
            format!("dial tcp {addr}: i/o timeout"),
        ),
    }
}

mod grpc_health {
    //! The two messages of `grpc.health.v1`, written out by hand (too
    //! small to generate).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HealthCheckRequest {
        #[prost(string, tag = "1")]
        pub service: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HealthCheckResponse {
        #[prost(int32, tag = "1")]
        pub status: i32,
    }
    /// `ServingStatus.SERVING`.
    pub const SERVING: i32 = 1;
}

/// A `grpc.health.v1.Health/Check`: SERVING is success.
pub async fn run_grpc(
    t: &Target,
    port: i32,
    service: &str,
    timeout: Duration,
) -> (ProbeResult, String) {
    let addr = format!("{}:{port}", t.pod_ip);
    let fut = async {
        let ep = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| e.to_string())?
            .connect_timeout(timeout);
        let ch = ep.connect().await.map_err(|e| e.to_string())?;
        let mut g = tonic::client::Grpc::new(ch);
        g.ready().await.map_err(|e| e.to_string())?;
        let path =
            tonic::codegen::http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/Check");
        let req = tonic::Request::new(grpc_health::HealthCheckRequest {
            service: service.to_string(),
        });
        let resp: tonic::Response<grpc_health::HealthCheckResponse> = g
            .unary(req, path, tonic_prost::ProstCodec::default())
            .await
            .map_err(|s| format!("rpc error: code = {:?} desc = {}", s.code(), s.message()))?;
        Ok::<_, String>(resp.into_inner().status)
    };
    match tokio::time::timeout(timeout, fut).await {
        Err(_) => (
            ProbeResult::Failure,
            format!("timeout: health rpc did not complete within {timeout:?}"),
        ),
        Ok(Err(e)) => (ProbeResult::Failure, format!("{addr}: {e}")),
        Ok(Ok(s)) if s == grpc_health::SERVING => (ProbeResult::Success, String::new()),
        Ok(Ok(s)) => (
            ProbeResult::Failure,
            format!("service unhealthy (responded with status {s})"),
        ),
    }
}

/// Runs a probe's handler once.
pub async fn run_probe(t: &Target, p: &Probe, timeout: Duration) -> (ProbeResult, String) {
    if let Some(e) = &p.exec {
        run_exec(t, e, timeout).await
    } else if let Some(h) = &p.http_get {
        run_http(t, h, timeout).await
    } else if let Some(a) = &p.tcp_socket {
        run_tcp(t, a, timeout).await
    } else if let Some(g) = &p.grpc {
        run_grpc(t, g.port, g.service.as_deref().unwrap_or_default(), timeout).await
    } else {
        (ProbeResult::Unknown, "probe has no handler".into())
    }
}

/// Runs a lifecycle hook (postStart / preStop): exec or httpGet (sleep
/// too). `Err` carries upstream-like message text.
pub async fn run_hook(t: &Target, h: &LifecycleHandler, timeout: Duration) -> Result<(), String> {
    let (r, msg) = if let Some(e) = &h.exec {
        run_exec(t, e, timeout).await
    } else if let Some(g) = &h.http_get {
        run_http(t, g, timeout.max(Duration::from_secs(1))).await
    } else if let Some(a) = &h.tcp_socket {
        run_tcp(t, a, timeout.max(Duration::from_secs(1))).await
    } else if let Some(s) = &h.sleep {
        tokio::time::sleep(Duration::from_secs(s.seconds.max(0) as u64).min(timeout)).await;
        (ProbeResult::Success, String::new())
    } else {
        return Ok(());
    };
    match r {
        ProbeResult::Success => Ok(()),
        _ => Err(msg),
    }
}

/// What the sync reads: each probe's reported state.
#[derive(Debug, Default)]
struct Shared {
    liveness: Option<ProbeState>,
    readiness: Option<ProbeState>,
    startup: Option<ProbeState>,
}

impl Shared {
    fn slot(&mut self, k: ProbeKind) -> &mut Option<ProbeState> {
        match k {
            ProbeKind::Liveness => &mut self.liveness,
            ProbeKind::Readiness => &mut self.readiness,
            ProbeKind::Startup => &mut self.startup,
        }
    }
    fn started(&self) -> bool {
        self.startup
            .as_ref()
            .is_none_or(|s| s.result == ProbeResult::Success)
    }
}

/// The probe workers of one container instance; dropping it stops them.
pub struct ContainerProbes {
    /// The container instance probed.
    pub container_id: String,
    shared: Arc<Mutex<Shared>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for ContainerProbes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerProbes")
            .field("container_id", &self.container_id)
            .finish()
    }
}

impl Drop for ContainerProbes {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl ContainerProbes {
    /// Starts a worker per probe of `c` for the instance in `target`,
    /// which started at `started_at`.
    /// Each failed probe is recorded as an `Unhealthy` event on `events`.
    pub fn start(
        c: &Container,
        target: Target,
        started_at: SystemTime,
        events: Option<(crate::events::Recorder, ObjectReference)>,
    ) -> Self {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let mut tasks = Vec::new();
        for (kind, probe) in [
            (ProbeKind::Startup, &c.startup_probe),
            (ProbeKind::Liveness, &c.liveness_probe),
            (ProbeKind::Readiness, &c.readiness_probe),
        ] {
            let Some(p) = probe.clone() else { continue };
            *shared.lock().expect("probe lock").slot(kind) = Some(ProbeState::new(kind));
            tasks.push(tokio::spawn(worker(
                kind,
                p,
                target.clone(),
                shared.clone(),
                started_at,
                c.name.clone(),
                events.clone(),
            )));
        }
        ContainerProbes {
            container_id: target.container_id,
            shared,
            tasks,
        }
    }

    /// `started`: the startup probe succeeded (or there is none).
    pub fn started(&self) -> bool {
        self.shared.lock().expect("probe lock").started()
    }

    /// `ready`: started and the readiness probe succeeds (or there is none).
    pub fn ready(&self) -> bool {
        let s = self.shared.lock().expect("probe lock");
        s.started()
            && s.readiness
                .as_ref()
                .is_none_or(|r| r.result == ProbeResult::Success)
    }

    /// Why the container must be killed: a failed liveness or startup
    /// probe, with upstream's message.
    pub fn kill_reason(&self) -> Option<(String, String)> {
        let s = self.shared.lock().expect("probe lock");
        for (kind, st) in [
            (ProbeKind::Startup, &s.startup),
            (ProbeKind::Liveness, &s.liveness),
        ] {
            if let Some(st) = st.as_ref().filter(|st| st.result == ProbeResult::Failure) {
                let kind = kind.as_str().to_lowercase();
                let msg = format!(
                    "Container failed {kind} probe, will be restarted: {}",
                    st.message
                );
                return Some((kind, msg));
            }
        }
        None
    }
}

async fn worker(
    kind: ProbeKind,
    probe: Probe,
    target: Target,
    shared: Arc<Mutex<Shared>>,
    started_at: SystemTime,
    name: String,
    events: Option<(crate::events::Recorder, ObjectReference)>,
) {
    let timing = ProbeTiming::of(&probe);
    let running_for = SystemTime::now()
        .duration_since(started_at)
        .unwrap_or_default();
    tokio::time::sleep(timing.initial_delay.saturating_sub(running_for)).await;
    loop {
        let gated = kind != ProbeKind::Startup && !shared.lock().expect("probe lock").started();
        if !gated {
            let (r, msg) = run_probe(&target, &probe, timing.timeout).await;
            let mut s = shared.lock().expect("probe lock");
            let Some(st) = s.slot(kind).as_mut() else {
                return;
            };
            if r == ProbeResult::Failure {
                st.message = msg.clone();
                if let Some((rec, obj)) = &events {
                    rec.warning(
                        obj.clone(),
                        "Unhealthy",
                        format!("{} probe failed: {msg}", kind.as_str()),
                    );
                }
            }
            if st.record(r, timing.success_threshold, timing.failure_threshold) {
                tracing::info!(container = %name, id = %target.container_id, probe = kind.as_str(), result = ?st.result, "probe result changed: {msg}");
            }
            if st.on_hold {
                return;
            }
        }
        tokio::time::sleep(timing.period).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_as_upstream() {
        let mut r = ProbeState::new(ProbeKind::Readiness);
        assert_eq!(r.result, ProbeResult::Failure);
        // successThreshold 2: one success is not enough.
        assert!(!r.record(ProbeResult::Success, 2, 3));
        assert_eq!(r.result, ProbeResult::Failure);
        assert!(r.record(ProbeResult::Success, 2, 3));
        assert_eq!(r.result, ProbeResult::Success);
        // Two failures, then a success resets the run.
        r.record(ProbeResult::Failure, 2, 3);
        r.record(ProbeResult::Failure, 2, 3);
        r.record(ProbeResult::Success, 2, 3);
        assert_eq!(r.result, ProbeResult::Success);
        for _ in 0..2 {
            r.record(ProbeResult::Failure, 2, 3);
        }
        assert_eq!(r.result, ProbeResult::Success);
        assert!(r.record(ProbeResult::Failure, 2, 3));
        assert_eq!(r.result, ProbeResult::Failure);
        // Readiness keeps probing after a failure.
        assert!(!r.on_hold);
        // Unknown changes nothing.
        assert!(!r.record(ProbeResult::Unknown, 2, 3));

        let mut l = ProbeState::new(ProbeKind::Liveness);
        assert_eq!(l.result, ProbeResult::Success);
        l.record(ProbeResult::Failure, 1, 2);
        assert_eq!(l.result, ProbeResult::Success);
        assert!(l.record(ProbeResult::Failure, 1, 2));
        assert!(l.on_hold);
        assert!(!l.record(ProbeResult::Success, 1, 2));

        let mut s = ProbeState::new(ProbeKind::Startup);
        assert_eq!(s.result, ProbeResult::Unknown);
        s.record(ProbeResult::Failure, 1, 5);
        assert!(s.record(ProbeResult::Success, 1, 5));
        assert!(s.on_hold);
    }

    #[test]
    fn defaults_and_named_ports() {
        let t = ProbeTiming::of(&Probe::default());
        assert_eq!(
            (
                t.period,
                t.timeout,
                t.success_threshold,
                t.failure_threshold
            ),
            (Duration::from_secs(10), Duration::from_secs(1), 1, 3)
        );
        let ports = vec![ContainerPort {
            name: Some("http".into()),
            container_port: 8080,
            ..Default::default()
        }];
        assert_eq!(
            resolve_port(&IntOrString::String("http".into()), &ports),
            Ok(8080)
        );
        assert_eq!(resolve_port(&IntOrString::Int(81), &ports), Ok(81));
        assert!(resolve_port(&IntOrString::String("x".into()), &ports).is_err());
    }

    #[tokio::test]
    async fn http_and_tcp_handlers() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = l.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    let req = String::from_utf8_lossy(&buf[..n]).into_owned();
                    let code = if req.starts_with("GET /ok ") {
                        200
                    } else {
                        503
                    };
                    let _ = s
                        .write_all(
                            format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\n\r\n").as_bytes(),
                        )
                        .await;
                });
            }
        });
        let t = Target {
            runtime: Arc::new(crate::fake::FakeRuntime::new(&[])),
            container_id: "c".into(),
            pod_ip: "127.0.0.1".into(),
            ports: Vec::new(),
        };
        let get = |path: &str| HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::Int(port.into()),
            ..Default::default()
        };
        let one = Duration::from_secs(5);
        assert_eq!(run_http(&t, &get("/ok"), one).await.0, ProbeResult::Success);
        let (r, msg) = run_http(&t, &get("/bad"), one).await;
        assert_eq!(
            (r, msg.as_str()),
            (
                ProbeResult::Failure,
                "HTTP probe failed with statuscode: 503"
            )
        );
        let tcp = TCPSocketAction {
            port: IntOrString::Int(port.into()),
            host: None,
        };
        assert_eq!(run_tcp(&t, &tcp, one).await.0, ProbeResult::Success);
        // A closed port fails.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let cport = closed.local_addr().unwrap().port();
        drop(closed);
        let tcp = TCPSocketAction {
            port: IntOrString::Int(cport.into()),
            host: None,
        };
        assert_eq!(run_tcp(&t, &tcp, one).await.0, ProbeResult::Failure);
    }
}
