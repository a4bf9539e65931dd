//! A real, throw-away etcd for integration tests.
//!
//! [`Etcd::start`] runs `/usr/bin/etcd` (Debian's `etcd-server`) on free
//! loopback ports with a data directory of its own and stops it on drop, so
//! tests never touch another instance. Set `TEST_ETCD_ENDPOINT` to reuse a
//! running etcd instead; callers then isolate themselves with a unique key
//! prefix ([`Etcd::unique_prefix`]).

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Errors starting etcd.
#[derive(Debug)]
pub enum HarnessError {
    /// The etcd binary could not be started.
    Spawn(std::io::Error),
    /// etcd did not accept connections in time; carries its log tail.
    NotReady(String),
    /// Filesystem or port setup failed.
    Io(std::io::Error),
}

impl std::fmt::Display for HarnessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HarnessError::Spawn(e) => write!(
                f,
                "cannot start etcd (is etcd-server installed? run hack/install-deps.sh): {e}"
            ),
            HarnessError::NotReady(log) => write!(f, "etcd did not become ready:\n{log}"),
            HarnessError::Io(e) => write!(f, "etcd harness: {e}"),
        }
    }
}

impl std::error::Error for HarnessError {}

/// A running etcd, stopped and wiped on drop (unless reused from the env).
pub struct Etcd {
    endpoint: String,
    child: Option<Child>,
    dir: Option<PathBuf>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn free_port() -> std::io::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl Etcd {
    /// Starts a fresh single-member etcd (or reuses `TEST_ETCD_ENDPOINT`).
    pub fn start() -> Result<Etcd, HarnessError> {
        if let Ok(ep) = std::env::var("TEST_ETCD_ENDPOINT") {
            if !ep.is_empty() {
                return Ok(Etcd {
                    endpoint: ep,
                    child: None,
                    dir: None,
                });
            }
        }
        let bin = std::env::var("ETCD_BIN").unwrap_or_else(|_| "etcd".to_string());
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("etcd-harness-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(HarnessError::Io)?;
        let mut last_log = String::new();
        // Ports picked by binding :0 can be taken in between; retry a few times.
        for _attempt in 0..5 {
            let client = free_port().map_err(HarnessError::Io)?;
            let peer = free_port().map_err(HarnessError::Io)?;
            let endpoint = format!("http://127.0.0.1:{client}");
            let log_path = dir.join("etcd.log");
            let log = std::fs::File::create(&log_path).map_err(HarnessError::Io)?;
            let log2 = log.try_clone().map_err(HarnessError::Io)?;
            let mut child = Command::new(&bin)
                .arg("--name=harness")
                .arg(format!("--data-dir={}", dir.join("data").display()))
                .arg(format!("--listen-client-urls={endpoint}"))
                .arg(format!("--advertise-client-urls={endpoint}"))
                .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
                .arg(format!(
                    "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
                ))
                .arg(format!("--initial-cluster=harness=http://127.0.0.1:{peer}"))
                .arg("--unsafe-no-fsync")
                .arg("--log-level=warn")
                .stdin(Stdio::null())
                .stdout(Stdio::from(log))
                .stderr(Stdio::from(log2))
                .spawn()
                .map_err(HarnessError::Spawn)?;
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut ready = false;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if health_ok(client) {
                    ready = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if ready {
                return Ok(Etcd {
                    endpoint,
                    child: Some(child),
                    dir: Some(dir),
                });
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let _ = std::fs::remove_dir_all(dir.join("data"));
        }
        let _ = std::fs::remove_dir_all(&dir);
        Err(HarnessError::NotReady(last_log))
    }

    /// The client URL, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A key prefix no other user of this etcd has, for shared instances.
    pub fn unique_prefix(&self) -> String {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("/test-{}-{n}-{nanos}/registry", std::process::id())
    }
}

/// etcd answers `/health` with `{"health":"true"}` once it has a leader.
fn health_ok(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.contains("\"health\":\"true\"")
}

impl Drop for Etcd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(d) = self.dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}
