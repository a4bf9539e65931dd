//! A throw-away containerd for integration tests (feature `testing`).
//!
//! [`Containerd::start`] claims a free slot `N` (0 to 255) and runs a
//! containerd of its own: root, state, socket and CNI configuration under
//! `$TMPDIR/cri-testing-N/`, a CNI bridge `cnitestN` with pods in
//! `10.250.N.0/24`, the cgroupfs driver with pods under `/cri-testing-N`.
//! It imports the project's busybox and pause images
//! (`hack/build-images.sh`, built on first use).
//!
//! Dropping it removes every sandbox through CRI, then kills only the
//! processes it started (its containerd, the shims serving its socket, and
//! processes left in its cgroups), unmounts what lies under its directory,
//! deletes its bridge and cgroups, and removes the directory.
//!
//! Needs root, Debian's `containerd`, `runc`, `containernetworking-plugins`
//! and `iptables`, and the image tools of `hack/install-deps.sh`.

use std::fs;
use std::io;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::cleanup::{cmdline, kill, process_alive, remove_sandboxes, NodeCleanup};
use std::time::{Duration, Instant};

/// The sandbox (pause) image containerd is configured with.
pub const PAUSE_IMAGE: &str = "registry.k8s.io/pause:3.9";
/// The busybox image imported into every test containerd.
pub const BUSYBOX_IMAGE: &str = "docker.io/library/busybox:1.35";

/// How long containerd may take to listen on its socket.
const START_PATIENCE: Duration = Duration::from_secs(30);

/// What can keep a test containerd from starting.
#[derive(Debug, thiserror::Error)]
pub enum TestingError {
    /// A file or directory operation failed.
    #[error("{context}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A helper command exited unsuccessfully.
    #[error("{command} failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The end of what it wrote to stderr.
        stderr: String,
    },
    /// Something the harness needs is missing on this machine.
    #[error("cannot run a test containerd: {0}")]
    Unavailable(String),
    /// containerd did not come up in time.
    #[error("containerd did not listen on {socket} within {patience:?}; its log:\n{log}")]
    NotReady {
        /// The socket it should have created.
        socket: String,
        /// How long the harness waited.
        patience: Duration,
        /// The end of containerd's log.
        log: String,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> TestingError {
    let context = context.into();
    move |source| TestingError::Io { context, source }
}

/// A running containerd owned by one test (see the module docs).
#[derive(Debug)]
pub struct Containerd {
    slot: u8,
    dir: PathBuf,
    child: Option<Child>,
}

impl Containerd {
    /// Claims a slot, writes the configuration, starts containerd, waits
    /// for its socket and imports the busybox and pause images.
    pub fn start() -> Result<Self, TestingError> {
        preflight()?;
        let (slot, dir) = claim_slot()?;
        let mut this = Containerd {
            slot,
            dir,
            child: None,
        };
        this.write_config()?;
        this.spawn()?;
        this.wait_ready()?;
        this.import_images(&["pause", "busybox"])?;
        Ok(this)
    }

    /// The slot number `N` this instance claimed.
    pub fn slot(&self) -> u8 {
        self.slot
    }

    /// The instance's directory (root, state, socket, CNI files, logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CRI socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("containerd.sock")
    }

    /// The CNI bridge this instance's pods attach to.
    pub fn bridge(&self) -> String {
        format!("cnitest{}", self.slot)
    }

    /// The pod subnet, `10.250.N.0/24`.
    pub fn subnet(&self) -> String {
        format!("10.250.{}.0/24", self.slot)
    }

    /// The cgroup (cgroupfs driver) under which pods of this instance
    /// should put their `cgroup_parent`, such as `/cri-testing-N/pod<uid>`.
    pub fn cgroup_root(&self) -> String {
        format!("/cri-testing-{}", self.slot)
    }

    /// A directory for pod logs (`<dir>/pods`), created on demand.
    pub fn pod_log_root(&self) -> PathBuf {
        self.dir.join("pods")
    }

    /// The last lines of containerd's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Imports images built by `hack/build-images.sh` (building them when
    /// missing) into this containerd's `k8s.io` namespace.
    pub fn import_images(&self, names: &[&str]) -> Result<(), TestingError> {
        let script = repo_root().join("hack/build-images.sh");
        let mut cmd = Command::new("bash");
        cmd.arg(&script)
            .arg("import")
            .arg(self.socket())
            .args(names);
        run(&mut cmd)
    }

    fn write_config(&self) -> Result<(), TestingError> {
        let dir = &self.dir;
        let net_d = dir.join("net.d");
        fs::create_dir_all(&net_d).map_err(io_err(format!("creating {}", net_d.display())))?;
        fs::create_dir_all(self.pod_log_root())
            .map_err(io_err("creating the pod log directory"))?;
        let config = format!(
            r#"version = 2
root = "{dir}/root"
state = "{dir}/state"
[grpc]
  address = "{dir}/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{dir}/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
    endpoint = ["http://127.0.0.1:5000"]
"#,
            dir = dir.display()
        );
        let path = dir.join("config.toml");
        fs::write(&path, config).map_err(io_err(format!("writing {}", path.display())))?;
        // As environment.md's conflist, with this slot's bridge, subnet and
        // IPAM state directory.
        let conflist = format!(
            r#"{{"cniVersion":"1.0.0","name":"cri-testing-{slot}","plugins":[
 {{"type":"bridge","bridge":"{bridge}","isGateway":true,"ipMasq":true,"hairpinMode":true,
  "ipam":{{"type":"host-local","ranges":[[{{"subnet":"{subnet}"}}]],
          "routes":[{{"dst":"0.0.0.0/0"}}],"dataDir":"{dir}/ipam"}}}},
 {{"type":"portmap","capabilities":{{"portMappings":true}}}}]}}
"#,
            slot = self.slot,
            bridge = self.bridge(),
            subnet = self.subnet(),
            dir = dir.display()
        );
        let path = net_d.join("10-cri-testing.conflist");
        fs::write(&path, conflist).map_err(io_err(format!("writing {}", path.display())))
    }

    fn spawn(&mut self) -> Result<(), TestingError> {
        let log_path = self.dir.join("containerd.log");
        let log = fs::File::create(&log_path)
            .map_err(io_err(format!("creating {}", log_path.display())))?;
        let err = log
            .try_clone()
            .map_err(io_err("duplicating the log file"))?;
        let child = Command::new("containerd")
            .arg("--config")
            .arg(self.dir.join("config.toml"))
            .arg("--log-level")
            .arg("info")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(io_err("starting containerd"))?;
        fs::write(self.dir.join("containerd.pid"), child.id().to_string())
            .map_err(io_err("recording containerd's pid"))?;
        self.child = Some(child);
        Ok(())
    }

    fn wait_ready(&mut self) -> Result<(), TestingError> {
        let socket = self.socket();
        let deadline = Instant::now() + START_PATIENCE;
        loop {
            if StdUnixStream::connect(&socket).is_ok() {
                return Ok(());
            }
            let exited = match self.child.as_mut() {
                Some(child) => child.try_wait().ok().flatten().is_some(),
                None => true,
            };
            if exited || Instant::now() > deadline {
                return Err(TestingError::NotReady {
                    socket: socket.display().to_string(),
                    patience: START_PATIENCE,
                    log: self.log_tail(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if matches!(child.try_wait(), Ok(None)) {
                remove_sandboxes(&self.socket());
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        cleanup_slot(self.slot, &self.dir);
    }
}

/// Everything an instance in `slot` may have left once its containerd is
/// gone (all of it, when the test process was killed).
fn cleanup_slot(slot: u8, dir: &Path) {
    NodeCleanup {
        socket: dir.join("containerd.sock"),
        state_dir: dir.join("state"),
        remove_dirs: vec![dir.to_path_buf()],
        cgroup_root: format!("cri-testing-{slot}"),
        bridge: format!("cnitest{slot}"),
        cni_network: format!("cri-testing-{slot}"),
        ipam_dir: None,
        pod_log_dir: None,
    }
    .run();
}

fn preflight() -> Result<(), TestingError> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(io_err("running id -u"))?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err(TestingError::Unavailable("must run as root".into()));
    }
    for path in [
        "/usr/bin/containerd",
        "/usr/lib/cni/bridge",
        "/usr/lib/cni/host-local",
        "/usr/lib/cni/portmap",
    ] {
        if !Path::new(path).exists() {
            return Err(TestingError::Unavailable(format!(
                "{path} is missing (run hack/install-deps.sh)"
            )));
        }
    }
    if which("runc").is_none() {
        return Err(TestingError::Unavailable(
            "runc is missing (run hack/install-deps.sh)".into(),
        ));
    }
    Ok(())
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.exists())
}

/// Claims `$TMPDIR/cri-testing-N` for the first free `N`: the directory's
/// creation is the lock, `owner.pid` says who holds it. A directory whose
/// owner is dead is cleaned up and reused.
fn claim_slot() -> Result<(u8, PathBuf), TestingError> {
    let base = std::env::temp_dir();
    for slot in 0..=u8::MAX {
        let dir = base.join(format!("cri-testing-{slot}"));
        let owner = dir.join("owner.pid");
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let alive = fs::read_to_string(&owner)
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok())
                    .is_none_or(process_alive);
                // One process reclaims a dead owner's slot; others move on.
                let reclaim = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(dir.join("reclaim.lock"));
                if alive || reclaim.is_err() {
                    continue;
                }
                // A crashed run's leftovers: its containerd may still run,
                // and can then tear its own pods down.
                remove_sandboxes(&dir.join("containerd.sock"));
                if let Some(pid) = fs::read_to_string(dir.join("containerd.pid"))
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok())
                {
                    if cmdline(pid).is_some_and(|c| c.contains(&dir.display().to_string())) {
                        kill(pid);
                    }
                }
                cleanup_slot(slot, &dir);
                if fs::create_dir(&dir).is_err() {
                    continue;
                }
            }
            Err(e) => return Err(io_err(format!("creating {}", dir.display()))(e)),
        }
        // A bridge by this name that no claim covers is someone else's.
        if Path::new(&format!("/sys/class/net/cnitest{slot}")).exists() {
            let _ = fs::remove_dir(&dir);
            continue;
        }
        fs::write(&owner, std::process::id().to_string())
            .map_err(io_err(format!("writing {}", owner.display())))?;
        return Ok((slot, dir));
    }
    Err(TestingError::Unavailable(
        "all 256 test containerd slots are taken".into(),
    ))
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(cmd: &mut Command) -> Result<(), TestingError> {
    let output = cmd.output().map_err(io_err(format!("running {cmd:?}")))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
    Err(TestingError::Command {
        command: format!("{cmd:?}"),
        status: output.status,
        stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    })
}
