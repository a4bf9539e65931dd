//! What the cluster-shaped benchmarks (`pod-startup`, `controllers`) share:
//! a fresh etcd and the release kube-apiserver as children, a kubeconfig for
//! further children, child processes with their own logs (stopped by PID
//! only), memory from `/proc`, and a reader of newline-delimited watch
//! events.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use http::Method;
use http_body_util::BodyExt;
use serde::Serialize;
use tokio::process::Child;
use tokio::time::Instant;

use crate::client::ApiClient;
use crate::probe::Probe;
use crate::procs::ApiServer;

/// etcd and the kube-apiserver, ready to serve. Fields drop in order: the
/// apiserver is killed before etcd goes.
pub struct ControlPlane {
    pub server: ApiServer,
    pub client: Arc<ApiClient>,
    /// Accounts for etcd and the kube-apiserver; benches add their children.
    pub probe: Probe,
    pub etcd: etcd_harness::Etcd,
}

impl ControlPlane {
    /// Starts etcd and `<bin_dir>/kube-apiserver` (state in `dir`) and
    /// waits until the apiserver is ready.
    pub async fn start(bin_dir: &Path, dir: &Path, tag: &str) -> anyhow::Result<Self> {
        eprintln!("bench: starting etcd and kube-apiserver");
        let etcd = tokio::task::spawn_blocking(etcd_harness::Etcd::start)
            .await?
            .context("starting etcd")?;
        let endpoint = etcd.endpoint().to_string();
        let mut probe = Probe::default();
        probe.set_etcd(endpoint.trim_start_matches("http://"));
        if let Some(pid) =
            crate::cpu::find_pid_with_arg(&format!("--listen-client-urls={endpoint}"))
        {
            probe.add_process("etcd", pid);
        }
        let prefix = format!("/{tag}-{}/registry", std::process::id());
        let server =
            ApiServer::start(&bin_dir.join("kube-apiserver"), &endpoint, &prefix, dir).await?;
        probe.add_process("kube-apiserver", server.pid);
        let client =
            Arc::new(ApiClient::connect(server.port, &server.ca_file, &server.token, 1).await?);
        server.wait_ready(&client, Duration::from_secs(120)).await?;
        Ok(ControlPlane {
            server,
            client,
            probe,
            etcd,
        })
    }

    /// Writes a kubeconfig with the bench's token for another component.
    pub fn write_kubeconfig(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(
            path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: b\n  cluster:\n    server: https://127.0.0.1:{}\n    certificate-authority: {}\nusers:\n- name: b\n  user:\n    token: {}\ncontexts:\n- name: b\n  context: {{cluster: b, user: b}}\ncurrent-context: b\n",
                self.server.port,
                self.server.ca_file.display(),
                self.server.token
            ),
        )
        .with_context(|| format!("writing {}", path.display()))
    }

    /// Creates a namespace.
    pub async fn create_namespace(&self, ns: &str) -> anyhow::Result<()> {
        let body =
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        self.client
            .call(
                Method::POST,
                "/api/v1/namespaces",
                Some(body.to_string().into()),
            )
            .await?;
        Ok(())
    }

    /// Stops the apiserver, then etcd.
    pub async fn stop(self) {
        self.server.stop().await;
        drop(self.etcd);
    }
}

/// A child process the bench started, logging to its own file; killed (by
/// its PID) on drop.
pub struct Proc {
    child: Child,
    pub pid: u32,
    pub name: String,
    log: PathBuf,
}

impl Proc {
    /// Starts `bin` with `args`, stdout and stderr to `log`.
    pub fn spawn(name: &str, bin: &Path, args: &[String], log: PathBuf) -> anyhow::Result<Proc> {
        let out =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let child = tokio::process::Command::new(bin)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child
            .id()
            .with_context(|| format!("{name} exited at once"))?;
        Ok(Proc {
            child,
            pid,
            name: name.into(),
            log,
        })
    }

    /// Fails if the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited ({status}); log tail:\n{}",
                self.name,
                self.log_tail(30)
            );
        }
        Ok(())
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        log_tail(&self.log, n)
    }

    /// SIGTERM, then SIGKILL after `grace`; reaps the process.
    pub async fn stop(mut self, grace: Duration) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = tokio::process::Command::new("kill")
                .arg("-TERM")
                .arg(self.pid.to_string())
                .status()
                .await;
            if tokio::time::timeout(grace, self.child.wait()).await.is_ok() {
                return;
            }
        }
        let _ = self.child.kill().await;
    }
}

/// The last `n` lines of a file.
pub fn log_tail(path: &Path, n: usize) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Resident memory of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Memory {
    /// VmRSS: resident now.
    pub rss_mib: f64,
    /// VmHWM: the peak resident size so far.
    pub hwm_mib: f64,
}

/// VmRSS and VmHWM of `pid`, if it is readable.
pub fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        Some(kib / 1024.0)
    };
    Some(Memory {
        rss_mib: field("VmRSS:")?,
        hwm_mib: field("VmHWM:")?,
    })
}

/// The collection's current resourceVersion, to watch from.
pub async fn list_revision(client: &ApiClient, path: &str) -> anyhow::Result<String> {
    let (_, body) = client
        .call(Method::GET, &format!("{path}?limit=1"), None)
        .await?;
    let list: serde_json::Value = serde_json::from_slice(&body).context("list response")?;
    Ok(list["metadata"]["resourceVersion"]
        .as_str()
        .context("list has no resourceVersion")?
        .to_string())
}

/// Watches `path` from `rv` and hands each event (type, object, arrival
/// time) to `on_event` until it returns `true`, the stream ends or
/// `deadline` passes. An `ERROR` event is an error.
pub async fn watch_events<F>(
    client: &ApiClient,
    path: &str,
    rv: &str,
    deadline: Instant,
    mut on_event: F,
) -> anyhow::Result<()>
where
    F: FnMut(&str, &serde_json::Value, Instant) -> bool,
{
    let url = format!("{path}?watch=1&resourceVersion={rv}&allowWatchBookmarks=false");
    let resp = client.send(Method::GET, &url, None).await?;
    if !resp.status().is_success() {
        bail!("watch {url}: {}", resp.status());
    }
    let mut body = resp.into_body();
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(f)) => f?,
            Ok(None) | Err(_) => return Ok(()),
        };
        let now = Instant::now();
        let Some(data) = frame.data_ref() else {
            continue;
        };
        buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
            let ev: serde_json::Value =
                serde_json::from_slice(&buf[start..start + nl]).context("watch event")?;
            start += nl + 1;
            let kind = ev["type"].as_str().unwrap_or_default();
            if kind == "ERROR" {
                bail!("watch error: {}", ev["object"]["message"]);
            }
            if on_event(kind, &ev["object"], now) {
                return Ok(());
            }
        }
        buf.drain(..start);
    }
}

/// GET over plain HTTP/1.1 (components' health and metrics ports).
pub async fn http_get(addr: &str, path: &str) -> anyhow::Result<String> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = http::Request::get(path)
        .header("host", addr)
        .body(http_body_util::Empty::<Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    if !resp.status().is_success() {
        bail!("{path}: {}", resp.status());
    }
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Polls `check` every 200 ms until it yields a value or `limit` passes.
pub async fn wait_until<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + limit;
    let mut last = String::new();
    loop {
        match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last = format!(" (last error: {e:#})"),
        }
        if Instant::now() > deadline {
            bail!("{what}: not within {limit:?}{last}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The directory the bench binary runs from, where `cargo build` put the
/// other binaries.
pub fn default_bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe
        .parent()
        .context("the bench binary has no directory")?
        .to_path_buf())
}

/// SIGTERM or SIGINT, whichever comes first.
pub async fn interrupted() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_memory() {
        let m = memory(std::process::id()).expect("own status");
        assert!(m.rss_mib > 0.0 && m.hwm_mib >= m.rss_mib);
    }
}
