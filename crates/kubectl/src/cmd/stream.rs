//! What logs, exec, attach, port-forward and cp share: the pod a `POD` or
//! `TYPE/NAME` argument stands for, the container to use in it, and the
//! channel protocol spoken over a WebSocket to `pods/exec`, `pods/attach`
//! and `pods/portforward`.
//!
//! The protocol (`v5.channel.k8s.io`, else `v4.channel.k8s.io`): every
//! binary message starts with a channel byte — 0 stdin, 1 stdout, 2 stderr,
//! 3 error (a `Status` when the command ends), 4 resize (JSON
//! `{"Width","Height"}`), and in v5 255 to close a channel (how stdin's end
//! reaches the remote process; v4 has no way to say it).

use std::cmp::Ordering;
use std::io::IsTerminal;
use std::process::{Command, Stdio};

use futures::{SinkExt, StreamExt};
use http::Request;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{q, Client};
use crate::error::Error;
use crate::{eprint_line, Ctx};

mod spdy;

pub use spdy::Channels;

/// Channel numbers of the remote command protocol.
pub const STDIN: u8 = 0;
/// The remote process's stdout.
pub const STDOUT: u8 = 1;
/// The remote process's stderr.
pub const STDERR: u8 = 2;
/// The end-of-command `Status`.
pub const ERROR: u8 = 3;
/// Terminal size changes, client to server.
pub const RESIZE: u8 = 4;
/// v5: the sender closes the channel in the next byte.
pub const CLOSE: u8 = 255;

/// The annotation naming the container kubectl picks by default.
pub const DEFAULT_CONTAINER_ANNOTATION: &str = "kubectl.kubernetes.io/default-container";

/// A pod argument resolved: the pod, and how many pods matched when it
/// was picked from a controller's or service's selector.
pub struct Picked {
    pub pod: Value,
    pub matched: usize,
}

/// Resolves `arg` (`NAME`, `pod/NAME` or `TYPE/NAME` of anything with a
/// pod selector) to one pod, as upstream's `AttachablePodForObject` and
/// `LogsForObject` do: the most active matching pod.
///
/// With no matching pod yet, it waits up to `timeout` (the command's
/// `--pod-running-timeout`) for one to appear, as upstream's watch does.
pub async fn pick_pod(
    ctx: &mut Ctx,
    client: &Client,
    ns: &str,
    arg: &str,
    cmd: &str,
    timeout: &str,
) -> Result<Picked, Error> {
    let (obj, is_pod) = get_object(ctx, client, ns, arg, cmd).await?;
    if is_pod {
        return Ok(Picked {
            pod: obj,
            matched: 1,
        });
    }
    let what = if cmd == "kubectl logs" {
        "cannot get the logs from"
    } else {
        "cannot attach to"
    };
    let selector = selector_for(&obj, what)?;
    let wait = crate::parse_go_duration(timeout).unwrap_or_default();
    let deadline = tokio::time::Instant::now() + wait;
    let mut pods = list_pods(client, ns, &selector).await?;
    while pods.is_empty() {
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::msg("timed out waiting for the condition"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        pods = list_pods(client, ns, &selector).await?;
    }
    let matched = pods.len();
    Ok(Picked {
        pod: pods.swap_remove(0),
        matched,
    })
}

/// The object `arg` names (a pod when it has no `TYPE/`), and whether it
/// is a pod.
async fn get_object(
    ctx: &mut Ctx,
    client: &Client,
    ns: &str,
    arg: &str,
    cmd: &str,
) -> Result<(Value, bool), Error> {
    if !arg.contains('/') {
        let pod = client
            .get(&format!("/api/v1/namespaces/{}/pods/{}", q(ns), q(arg)))
            .await?;
        return Ok((pod, true));
    }
    let targets = ctx.targets(&[arg.to_string()], cmd).await?;
    let t = targets
        .into_iter()
        .next()
        .ok_or_else(|| Error::msg("expected a resource"))?;
    let name = t.name.unwrap_or_default();
    let is_pod = t.resource.group_resource() == "pods";
    let path = t
        .resource
        .item_path(t.resource.namespaced.then_some(ns), &name);
    Ok((client.get(&path).await?, is_pod))
}

/// Pods matching `selector`, most active first.
pub async fn list_pods(client: &Client, ns: &str, selector: &str) -> Result<Vec<Value>, Error> {
    let list = client
        .get(&format!(
            "/api/v1/namespaces/{}/pods?labelSelector={}",
            q(ns),
            q(selector)
        ))
        .await?;
    let mut pods: Vec<Value> = list["items"].as_array().cloned().unwrap_or_default();
    pods.sort_by(most_active_first);
    Ok(pods)
}

/// The label selector of a workload or service as a query string, with
/// upstream's `SelectorsForObject` errors.
/// `what` begins its errors (`cannot attach to`, `cannot get the logs
/// from`).
pub fn selector_for(obj: &Value, what: &str) -> Result<String, Error> {
    let kind = obj["kind"].as_str().unwrap_or_default();
    let version = obj["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let go_type = format!("*{version}.{kind}");
    let fail = |e: &str| Error::msg(format!("{what} {go_type}: {e}"));
    match kind {
        "Service" => {
            let sel = obj["spec"]["selector"].as_object();
            match sel.filter(|m| !m.is_empty()) {
                Some(m) => Ok(map_selector(m)),
                None => Err(fail(&format!(
                    "invalid service '{}': Service is defined without a selector",
                    obj["metadata"]["name"].as_str().unwrap_or_default()
                ))),
            }
        }
        "ReplicationController" => Ok(obj["spec"]["selector"]
            .as_object()
            .map(map_selector)
            .unwrap_or_default()),
        "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Deployment" | "Job" => {
            Ok(label_selector(&obj["spec"]["selector"]))
        }
        _ => Err(fail(&format!("selector for {go_type} not implemented"))),
    }
}

fn map_selector(m: &serde_json::Map<String, Value>) -> String {
    let mut parts: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    parts.sort();
    parts.join(",")
}

/// A `metav1.LabelSelector` in the query syntax.
pub fn label_selector(sel: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = sel["matchLabels"].as_object() {
        parts.extend(
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())),
        );
    }
    for e in sel["matchExpressions"].as_array().into_iter().flatten() {
        let key = e["key"].as_str().unwrap_or_default();
        let mut values: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        values.sort();
        parts.push(match e["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            _ => format!("!{key}"),
        });
    }
    parts.sort();
    parts.join(",")
}

/// Upstream's pod ordering for picking one (`ActivePods` reversed,
/// `ByLogging`): on a node, running, ready, ready for longer, restarted
/// more, older.
pub fn most_active_first(a: &Value, b: &Value) -> Ordering {
    fn key(p: &Value) -> (u8, u8, u8, String, i64, String) {
        let assigned = p["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| !n.is_empty());
        let phase = match p["status"]["phase"].as_str().unwrap_or_default() {
            "Running" => 0,
            "Unknown" => 1,
            "Pending" => 2,
            _ => 3,
        };
        let ready = p["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Ready");
        let is_ready = ready.is_some_and(|c| c["status"] == "True");
        let since = ready
            .filter(|_| is_ready)
            .and_then(|c| c["lastTransitionTime"].as_str())
            .unwrap_or("~")
            .to_string();
        let restarts: i64 = p["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["restartCount"].as_i64())
            .sum();
        let created = p["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap_or("~")
            .to_string();
        (
            u8::from(!assigned),
            phase,
            u8::from(!is_ready),
            since,
            -restarts,
            created,
        )
    }
    key(a).cmp(&key(b))
}

/// Names of a pod's containers in `field` (`containers`, `initContainers`,
/// `ephemeralContainers`).
pub fn container_names(pod: &Value, field: &str) -> Vec<String> {
    pod["spec"][field]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .map(String::from)
        .collect()
}

/// The container spec named `name`, looked up as upstream's
/// `FindContainerByName` does, with its field path.
pub fn find_container<'a>(pod: &'a Value, name: &str) -> Option<(&'a Value, String)> {
    for field in ["containers", "initContainers", "ephemeralContainers"] {
        if let Some(c) = pod["spec"][field]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"] == name)
        {
            return Some((c, format!("spec.{field}{{{name}}}")));
        }
    }
    None
}

/// Upstream's list of a pod's containers in messages: regular ones, then
/// `x (ephem)`, then `x (init)`.
pub fn all_container_names(pod: &Value) -> String {
    let mut names = container_names(pod, "containers");
    names.extend(
        container_names(pod, "ephemeralContainers")
            .into_iter()
            .map(|n| format!("{n} (ephem)")),
    );
    names.extend(
        container_names(pod, "initContainers")
            .into_iter()
            .map(|n| format!("{n} (init)")),
    );
    names.join(", ")
}

/// Upstream's `FindOrDefaultContainerByName`: the named container, else
/// the annotated default, else the first (saying so on stderr when there
/// was a choice, unless `quiet`).
pub fn container_or_default(pod: &Value, name: &str, quiet: bool) -> Result<Value, Error> {
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    if !name.is_empty() {
        return find_container(pod, name)
            .map(|(c, _)| c.clone())
            .ok_or_else(|| Error::msg(format!("container {name} not found in pod {pod_name}")));
    }
    let containers = pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if containers.is_empty() {
        return Err(Error::msg(format!(
            "pod {}/{pod_name} does not have any containers",
            pod["metadata"]["namespace"].as_str().unwrap_or_default()
        )));
    }
    if let Some(d) = pod["metadata"]["annotations"][DEFAULT_CONTAINER_ANNOTATION]
        .as_str()
        .filter(|d| !d.is_empty())
    {
        if let Some((c, _)) = find_container(pod, d) {
            return Ok(c.clone());
        }
    }
    let first = containers[0].clone();
    let choice = containers.len() > 1
        || !container_names(pod, "initContainers").is_empty()
        || !container_names(pod, "ephemeralContainers").is_empty();
    if !quiet && choice {
        eprint_line(&format!(
            "Defaulted container \"{}\" out of: {}",
            first["name"].as_str().unwrap_or_default(),
            all_container_names(pod)
        ));
    }
    Ok(first)
}

/// Opens a WebSocket to `path` offering v5 then v4 of the channel
/// protocol; answers that are not an upgrade become upstream's errors.
pub async fn connect(client: &Client, path: &str) -> Result<kube::client::Connection, Error> {
    let req = Request::get(path)
        .body(Vec::new())
        .map_err(|e| Error::msg(format!("building request for {path}: {e}")))?;
    let conn = client.kube().connect(req).await.map_err(|e| match e {
        kube::Error::Api(s) => Error::Api(Box::new(
            serde_json::to_value(&*s).unwrap_or_else(|_| json!({"message": s.message})),
        )),
        other => Error::Transport {
            server: client.server().to_string(),
            source: other,
        },
    })?;
    tracing::debug!(path, v5 = conn.supports_stream_close(), "stream connected");
    Ok(conn)
}

/// Where a remote command's streams go.
#[derive(Default)]
pub struct Streams {
    /// Sent on channel 0 until it ends.
    pub stdin: Option<Box<dyn AsyncRead + Unpin + Send>>,
    /// Receives channel 1.
    pub stdout: Option<Box<dyn AsyncWrite + Unpin + Send>>,
    /// Receives channel 2.
    pub stderr: Option<Box<dyn AsyncWrite + Unpin + Send>>,
    /// Terminal sizes (width, height) to send on channel 4.
    pub resize: Option<mpsc::Receiver<(u16, u16)>>,
}

/// A WebSocket over an upgraded apiserver connection.
type Ws = tokio_tungstenite::WebSocketStream<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>;

/// Runs an exec or attach at `path` as upstream 1.33 does: WebSocket
/// `v5.channel.k8s.io` when the server speaks it, else SPDY/3.1 (a v4
/// WebSocket could not pass on the end of stdin).
pub async fn exec_session(
    client: &Client,
    path: &str,
    io: Streams,
    ch: Channels,
) -> Result<(), Error> {
    if let Some(ws) = websocket_v5(client, path).await? {
        return run_session(ws, true, io).await;
    }
    let conn = spdy::connect(client, path).await?;
    spdy::run(conn, io, ch).await
}

/// A WebSocket offering only `v5.channel.k8s.io`; `None` when the upgrade
/// is refused (the caller falls back, as upstream's executor does).
async fn websocket_v5(client: &Client, path: &str) -> Result<Option<Ws>, Error> {
    use tokio_tungstenite::tungstenite::handshake::client::generate_key;
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    const V5: &str = "v5.channel.k8s.io";
    let key = generate_key();
    let req = Request::get(path)
        .header(http::header::CONNECTION, "Upgrade")
        .header(http::header::UPGRADE, "websocket")
        .header(http::header::SEC_WEBSOCKET_VERSION, "13")
        .header(http::header::SEC_WEBSOCKET_KEY, &key)
        .header(http::header::SEC_WEBSOCKET_PROTOCOL, V5)
        .body(kube::client::Body::empty())
        .map_err(|e| Error::msg(format!("building request for {path}: {e}")))?;
    let mut res = client
        .kube()
        .send(req)
        .await
        .map_err(|e| Error::Transport {
            server: client.server().to_string(),
            source: e,
        })?;
    let h = res.headers();
    let upgraded = res.status() == http::StatusCode::SWITCHING_PROTOCOLS
        && h.get(http::header::SEC_WEBSOCKET_PROTOCOL)
            .is_some_and(|p| p.as_bytes() == V5.as_bytes())
        && h.get(http::header::SEC_WEBSOCKET_ACCEPT)
            .is_some_and(|a| a.as_bytes() == derive_accept_key(key.as_bytes()).as_bytes());
    tracing::debug!(path, status = %res.status(), upgraded, "websocket v5");
    if !upgraded {
        return Ok(None);
    }
    let io = hyper::upgrade::on(&mut res)
        .await
        .map_err(|e| Error::msg(format!("error upgrading connection: {e}")))?;
    Ok(Some(
        tokio_tungstenite::WebSocketStream::from_raw_socket(
            hyper_util::rt::TokioIo::new(io),
            tokio_tungstenite::tungstenite::protocol::Role::Client,
            None,
        )
        .await,
    ))
}

/// Runs a connected exec or attach WebSocket to its end: stdin out,
/// output in, and the error channel's `Status` turned into the result (a
/// non-zero exit becomes [`Error::Exit`]). `can_close`: v5, which can
/// say that stdin ended.
pub async fn run_session<S>(
    ws: tokio_tungstenite::WebSocketStream<S>,
    can_close: bool,
    mut io: Streams,
) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut tx, mut rx) = ws.split();
    let (in_tx, mut in_rx) = mpsc::channel::<Option<Vec<u8>>>(4);
    let mut stdin_open = false;
    if let Some(mut stdin) = io.stdin.take() {
        stdin_open = true;
        tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match stdin.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        let _ = in_tx.send(None).await;
                        return;
                    }
                    Ok(n) => {
                        if in_tx.send(Some(buf[..n].to_vec())).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
    let mut resize = io.resize.take();
    let mut status: Vec<u8> = Vec::new();
    loop {
        tokio::select! {
            msg = rx.next() => {
                let data = match msg {
                    None | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(Message::Binary(b))) => b.to_vec(),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        if status.is_empty() {
                            return Err(Error::msg(format!("error reading from the remote stream: {e}")));
                        }
                        break;
                    }
                };
                let Some((&ch, payload)) = data.split_first() else { continue };
                if payload.is_empty() {
                    continue;
                }
                let sink = match ch {
                    STDOUT => io.stdout.as_mut(),
                    STDERR => io.stderr.as_mut(),
                    ERROR => {
                        status.extend_from_slice(payload);
                        continue;
                    }
                    _ => None,
                };
                if let Some(w) = sink {
                    // A closed local pipe is not the remote's failure.
                    let _ = w.write_all(payload).await;
                    let _ = w.flush().await;
                }
            }
            chunk = in_rx.recv(), if stdin_open => {
                match chunk.flatten() {
                    Some(bytes) => {
                        let mut m = Vec::with_capacity(bytes.len() + 1);
                        m.push(STDIN);
                        m.extend_from_slice(&bytes);
                        if tx.send(Message::binary(m)).await.is_err() {
                            stdin_open = false;
                        }
                    }
                    None => {
                        stdin_open = false;
                        if can_close {
                            let _ = tx.send(Message::binary(vec![CLOSE, STDIN])).await;
                        }
                    }
                }
            }
            size = async { resize.as_mut()?.recv().await }, if resize.is_some() => {
                match size {
                    Some((w, h)) => {
                        let mut m = vec![RESIZE];
                        m.extend_from_slice(json!({"Width": w, "Height": h}).to_string().as_bytes());
                        let _ = tx.send(Message::binary(m)).await;
                    }
                    None => resize = None,
                }
            }
        }
    }
    let _ = tx.close().await;
    for w in [io.stdout.as_mut(), io.stderr.as_mut()]
        .into_iter()
        .flatten()
    {
        let _ = w.flush().await;
    }
    decode_status(&status)
}

/// The result a session's error channel carries (upstream's v4 error
/// decoder): success, an exit code, or a message.
pub fn decode_status(bytes: &[u8]) -> Result<(), Error> {
    if bytes.is_empty() {
        return Ok(());
    }
    let s: Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::msg(format!(
            "error stream protocol error: {e} in \"{}\"",
            String::from_utf8_lossy(bytes)
        ))
    })?;
    match s["status"].as_str() {
        Some("Success") => Ok(()),
        Some("Failure") if s["reason"] == "NonZeroExitCode" => {
            let cause = s["details"]["causes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["reason"] == "ExitCode");
            match cause {
                Some(c) => {
                    let m = c["message"].as_str().unwrap_or_default();
                    m.parse::<u8>()
                        .map(|n| Error::Exit(i32::from(n)))
                        .map_or_else(
                            |_| {
                                Err(Error::msg(format!(
                                    "error stream protocol error: invalid exit code value \"{m}\""
                                )))
                            },
                            Err,
                        )
                }
                None => Err(Error::msg(
                    "error stream protocol error: no ExitCode cause given",
                )),
            }
        }
        Some("Failure") => Err(Error::msg(s["message"].as_str().unwrap_or_default())),
        _ => Err(Error::msg("error stream protocol error: unknown error")),
    }
}

/// Whether stdin is a terminal (`-t` needs one).
pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// The local terminal in raw mode while this lives (kubectl's `-t`).
/// `stty` does the termios work: the workspace forbids `unsafe`.
pub struct RawTerminal {
    saved: String,
}

impl RawTerminal {
    /// Puts the terminal on stdin in raw mode, if it is one.
    pub fn enter() -> Option<RawTerminal> {
        let saved = stty(&["-g"])?;
        stty(&["raw", "-echo"])?;
        Some(RawTerminal {
            saved: saved.trim().to_string(),
        })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = stty(&[&self.saved]);
    }
}

fn stty(args: &[&str]) -> Option<String> {
    let out = Command::new("stty")
        .args(args)
        .stdin(Stdio::inherit())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The terminal's (width, height).
pub fn terminal_size() -> Option<(u16, u16)> {
    let s = stty(&["size"])?;
    let mut it = s.split_whitespace();
    let rows = it.next()?.parse().ok()?;
    let cols = it.next()?.parse().ok()?;
    Some((cols, rows))
}

/// Sends the terminal size now (and `first`, if given, before it) and
/// again on every SIGWINCH.
pub fn watch_terminal_size(first: Option<(u16, u16)>) -> mpsc::Receiver<(u16, u16)> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        if let Some(f) = first {
            let _ = tx.send(f).await;
        }
        if let Some(s) = terminal_size() {
            let _ = tx.send(s).await;
        }
        let Ok(mut sig) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        else {
            return;
        };
        while sig.recv().await.is_some() {
            if let Some(s) = terminal_size() {
                if tx.send(s).await.is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// Upstream's `SetupTTY`: a TTY only with stdin, and only when stdin is
/// a terminal (else a warning, unless `quiet`). Returns whether the
/// session is raw.
pub fn setup_tty(stdin: bool, tty: bool, quiet: bool) -> bool {
    if !stdin || !tty {
        return false;
    }
    if !stdin_is_terminal() {
        if !quiet {
            eprint_line("Unable to use a TTY - input is not a terminal or the right kind of file");
        }
        return false;
    }
    true
}

/// An exec or attach session on this process's own stdio: stdout always,
/// stdin when asked, stderr unless the terminal is raw (a tty merges it),
/// with the local terminal in raw mode for the session's length.
pub async fn stdio_session(
    client: &Client,
    path: &str,
    stdin: bool,
    raw: bool,
    first_size: Option<(u16, u16)>,
) -> Result<(), Error> {
    let _terminal = if raw { RawTerminal::enter() } else { None };
    let channels = Channels {
        stdin,
        stdout: true,
        stderr: !raw,
        tty: raw,
    };
    exec_session(
        client,
        path,
        local_streams(stdin, raw, first_size),
        channels,
    )
    .await
}

/// The process's own streams for a session: stdin if asked for, stderr
/// unless the session is raw (a TTY merges it into stdout).
pub fn local_streams(stdin: bool, raw: bool, first_size: Option<(u16, u16)>) -> Streams {
    Streams {
        stdin: stdin.then(|| Box::new(tokio::io::stdin()) as Box<dyn AsyncRead + Unpin + Send>),
        stdout: Some(Box::new(tokio::io::stdout())),
        stderr: (!raw).then(|| Box::new(tokio::io::stderr()) as Box<dyn AsyncWrite + Unpin + Send>),
        resize: raw.then(|| watch_terminal_size(first_size)),
    }
}

/// Upstream's `GetPodRunningTimeoutFlag`: a positive Go duration. The
/// message; commands differ in how they report it.
pub fn check_pod_running_timeout(t: &str) -> Result<(), String> {
    match crate::parse_go_duration(t) {
        None => Err(format!(
            "invalid argument \"{t}\" for \"--pod-running-timeout\" flag: time: invalid duration \"{t}\""
        )),
        Some(d) if d.is_zero() => Err("--pod-running-timeout must be higher than zero".into()),
        Some(_) => Ok(()),
    }
}

/// The pod's phase, for the "completed pod" checks.
pub fn phase(pod: &Value) -> &str {
    pod["status"]["phase"].as_str().unwrap_or_default()
}

/// The query of an exec or attach request.
pub fn stream_query(
    command: &[String],
    container: &str,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
) -> String {
    let mut parts: Vec<String> = command
        .iter()
        .map(|c| format!("command={}", q(c)))
        .collect();
    if !container.is_empty() {
        parts.push(format!("container={}", q(container)));
    }
    for (k, on) in [
        ("stdin", stdin),
        ("stdout", stdout),
        ("stderr", stderr),
        ("tty", tty),
    ] {
        if on {
            parts.push(format!("{k}=true"));
        }
    }
    parts.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_from_the_error_channel() {
        assert!(decode_status(b"").is_ok());
        assert!(decode_status(br#"{"metadata":{},"status":"Success"}"#).is_ok());
        let e = decode_status(
            br#"{"status":"Failure","reason":"NonZeroExitCode","message":"command terminated with non-zero exit code","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#,
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert_eq!(e.to_string(), "command terminated with exit code 3");
        let e = decode_status(br#"{"status":"Failure","message":"boom"}"#).unwrap_err();
        assert_eq!(e.to_string(), "error: boom");
        assert_eq!(e.exit_code(), 1);
        assert!(decode_status(b"nope")
            .unwrap_err()
            .to_string()
            .starts_with("error: error stream protocol error"));
    }

    #[test]
    fn selectors() {
        let sel = json!({"matchLabels": {"b": "2", "a": "1"},
            "matchExpressions": [{"key": "t", "operator": "In", "values": ["y", "x"]},
                                 {"key": "u", "operator": "DoesNotExist"}]});
        assert_eq!(label_selector(&sel), "!u,a=1,b=2,t in (x,y)");
        let svc =
            json!({"kind": "Service", "apiVersion": "v1", "metadata": {"name": "s"}, "spec": {}});
        assert_eq!(
            selector_for(&svc, "cannot attach to").unwrap_err().to_string(),
            "error: cannot attach to *v1.Service: invalid service 's': Service is defined without a selector"
        );
        let cm = json!({"kind": "ConfigMap", "apiVersion": "v1"});
        assert_eq!(
            selector_for(&cm, "cannot attach to")
                .unwrap_err()
                .to_string(),
            "error: cannot attach to *v1.ConfigMap: selector for *v1.ConfigMap not implemented"
        );
    }

    #[test]
    fn containers_and_defaults() {
        let pod = json!({"metadata": {"name": "p", "namespace": "n"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}],
                     "initContainers": [{"name": "i"}]}});
        assert_eq!(all_container_names(&pod), "a, b, i (init)");
        assert_eq!(
            find_container(&pod, "i").unwrap().1,
            "spec.initContainers{i}"
        );
        assert_eq!(container_or_default(&pod, "", true).unwrap()["name"], "a");
        assert_eq!(
            container_or_default(&pod, "x", true)
                .unwrap_err()
                .to_string(),
            "error: container x not found in pod p"
        );
        let mut annotated = pod.clone();
        annotated["metadata"]["annotations"] = json!({DEFAULT_CONTAINER_ANNOTATION: "b"});
        assert_eq!(
            container_or_default(&annotated, "", false).unwrap()["name"],
            "b"
        );
    }

    #[test]
    fn pod_order() {
        let mk = |name: &str, node: &str, phase: &str, ready: bool, created: &str| {
            json!({"metadata": {"name": name, "creationTimestamp": created},
                   "spec": {"nodeName": node},
                   "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}, "lastTransitionTime": created}]}})
        };
        let mut pods = [
            mk("pending", "", "Pending", false, "2024-01-01T00:00:00Z"),
            mk("new", "n", "Running", true, "2024-01-03T00:00:00Z"),
            mk("old", "n", "Running", true, "2024-01-02T00:00:00Z"),
            mk("unready", "n", "Running", false, "2024-01-01T00:00:00Z"),
        ];
        pods.sort_by(most_active_first);
        let names: Vec<&str> = pods
            .iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["old", "new", "unready", "pending"]);
    }

    #[tokio::test]
    async fn websocket_v5_session() {
        use tokio_tungstenite::tungstenite::protocol::Role;
        use tokio_tungstenite::WebSocketStream;
        let (a, b) = tokio::io::duplex(4096);
        let client = WebSocketStream::from_raw_socket(a, Role::Client, None).await;
        let mut server = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
        let server = tokio::spawn(async move {
            // The initial empty message, then output on both channels.
            for m in [vec![STDOUT], b"\x01out".to_vec(), b"\x02err".to_vec()] {
                server.send(Message::binary(m)).await.unwrap();
            }
            let mut got = Vec::new();
            while let Some(Ok(Message::Binary(m))) = server.next().await {
                if m[..] == [CLOSE, STDIN] {
                    break;
                }
                got.extend_from_slice(&m[1..]);
            }
            let status = br#"{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"2"}]}}"#;
            let mut m = vec![ERROR];
            m.extend_from_slice(status);
            server.send(Message::binary(m)).await.unwrap();
            server.close(None).await.unwrap();
            got
        });
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl AsyncWrite for Sink {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
                b: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.0.lock().unwrap().extend_from_slice(b);
                std::task::Poll::Ready(Ok(b.len()))
            }
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }
            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }
        }
        let io = Streams {
            stdin: Some(Box::new(std::io::Cursor::new(b"typed".to_vec()))),
            stdout: Some(Box::new(Sink(out.clone()))),
            stderr: Some(Box::new(Sink(out.clone()))),
            resize: None,
        };
        let e = run_session(client, true, io).await.unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(server.await.unwrap(), b"typed".to_vec());
        assert_eq!(&out.lock().unwrap()[..], b"outerr");
    }

    #[test]
    fn queries() {
        assert_eq!(
            stream_query(
                &["sh".into(), "-c".into(), "echo a b".into()],
                "c",
                true,
                true,
                false,
                false
            ),
            "command=sh&command=-c&command=echo%20a%20b&container=c&stdin=true&stdout=true"
        );
    }
}
