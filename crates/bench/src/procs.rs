//! The processes and files the bench owns: a scratch directory and the
//! release `kube-apiserver`, run as a child so it never shares a runtime (or
//! an allocator) with the load generator. Both are removed on drop, so an
//! error or Ctrl-C still cleans up; only the PID we spawned is ever killed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use http::Method;
use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::client::ApiClient;

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(TempDir(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `kube-apiserver` child; killed on drop.
pub struct ApiServer {
    child: Child,
    pub pid: u32,
    pub port: u16,
    pub ca_file: PathBuf,
    pub token: String,
    log: PathBuf,
}

impl ApiServer {
    /// Starts `bin` against `etcd` under `etcd_prefix`, keeping its
    /// certificates, token file and log in `dir`, and waits until it listens.
    pub async fn start(
        bin: &Path,
        etcd: &str,
        etcd_prefix: &str,
        dir: &Path,
    ) -> anyhow::Result<Self> {
        let token = random_hex(16)?;
        let tokens = dir.join("tokens.csv");
        std::fs::write(&tokens, format!("{token},bench,bench,\"system:masters\"\n"))?;
        let cert_dir = dir.join("certs");
        let log = dir.join("kube-apiserver.log");
        let port = free_port()?;
        let out = std::fs::File::create(&log)?;
        let child = Command::new(bin)
            .arg(format!("--etcd-servers={etcd}"))
            .arg(format!("--etcd-prefix={etcd_prefix}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={port}"))
            .arg(format!("--cert-dir={}", cert_dir.display()))
            .arg(format!("--token-auth-file={}", tokens.display()))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (build it with cargo build --release -p kube-apiserver)",
                    bin.display()
                )
            })?;
        let pid = child.id().context("kube-apiserver exited at once")?;
        let mut server = ApiServer {
            child,
            pid,
            port,
            ca_file: cert_dir.join("apiserver-ca.crt"),
            token,
            log,
        };
        server.wait_listening(Duration::from_secs(60)).await?;
        Ok(server)
    }

    async fn wait_listening(&mut self, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("kube-apiserver exited ({status}):\n{}", self.log_tail());
            }
            if self.ca_file.exists()
                && tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                    .await
                    .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "kube-apiserver did not listen within {limit:?}:\n{}",
            self.log_tail()
        )
    }

    /// Waits until `/readyz` passes and the OpenAPI documents (which create
    /// waits for, for field validation) are built.
    pub async fn wait_ready(&self, client: &ApiClient, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        let mut last = String::new();
        while Instant::now() < deadline {
            let probe = async {
                client.call(Method::GET, "/readyz", None).await?;
                client.call(Method::GET, "/openapi/v3", None).await
            };
            match tokio::time::timeout_at(deadline, probe).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => last = format!("{e:#}"),
                Err(_) => last = "timed out".into(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!(
            "kube-apiserver not ready within {limit:?} ({last}):\n{}",
            self.log_tail()
        )
    }

    /// The last lines of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Kills the server and reaps it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn random_hex(n: usize) -> std::io::Result<String> {
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}
