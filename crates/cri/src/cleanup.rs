//! Tearing a node's container state down without trusting anyone to have
//! done it in order: the pods of one containerd instance, their shims and
//! processes, network namespaces, CNI bridge, NAT rules, IP allocations,
//! cgroups and mounts.
//!
//! [`NodeCleanup`] is what `node-reset` (run by `make down`) and the test
//! containerd of [`crate::testing`] both use. It only touches what the
//! instance it describes owns: processes found through its socket path and
//! its cgroup root, the bridge and CNI network it names, mounts under its
//! directory.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// What one containerd instance and the pods it ran may have left behind.
#[derive(Debug, Clone)]
pub struct NodeCleanup {
    /// containerd's socket: its shims are started with `-address <socket>`.
    pub socket: PathBuf,
    /// containerd's state directory (runc task ids are read from it).
    pub state_dir: PathBuf,
    /// Directories to unmount everything under and then remove.
    pub remove_dirs: Vec<PathBuf>,
    /// The pods' cgroup root name (cgroupfs driver), such as `kubepods`.
    pub cgroup_root: String,
    /// The CNI bridge to delete, such as `cni0`.
    pub bridge: String,
    /// The CNI network name the bridge plugin tagged its NAT rules with.
    pub cni_network: String,
    /// host-local's allocation directory for that network.
    pub ipam_dir: Option<PathBuf>,
    /// Where the kubelet keeps pod logs (`<dir>/<ns>_<name>_<uid>`); the
    /// directories of the removed sandboxes' pods go too.
    pub pod_log_dir: Option<PathBuf>,
}

impl NodeCleanup {
    /// Removes every sandbox through CRI while containerd still answers
    /// (so that containerd runs CNI DEL itself). Call before stopping it.
    pub fn remove_sandboxes(&self) {
        for (ns, name, uid) in remove_sandboxes(&self.socket) {
            if let Some(dir) = &self.pod_log_dir {
                let _ = fs::remove_dir_all(dir.join(format!("{ns}_{name}_{uid}")));
            }
        }
    }

    /// Everything else, once containerd is stopped (or gone): shims,
    /// processes left in the cgroups and their network namespaces, NAT
    /// rules, runc state, mounts, the bridge, cgroups, IP allocations and
    /// the directories.
    pub fn run(&self) {
        let marker = self.socket.display().to_string();
        for pid in pids_whose_cmdline_contains(&marker) {
            kill(pid);
        }
        let netns = kill_cgroup_processes(&self.cgroup_root);
        remove_netns_mounts(&netns);
        remove_nat_rules(&self.cni_network);
        remove_runc_state(&self.state_dir);
        for dir in &self.remove_dirs {
            unmount_under(dir);
        }
        if Path::new("/sys/class/net").join(&self.bridge).exists() {
            let _ = Command::new("ip")
                .args(["link", "delete", &self.bridge])
                .status();
        }
        remove_cgroups(&self.cgroup_root);
        if let Some(ipam) = &self.ipam_dir {
            let _ = fs::remove_dir_all(ipam);
        }
        for dir in &self.remove_dirs {
            if let Err(e) = fs::remove_dir_all(dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(dir = %dir.display(), error = %e, "cleanup: removing directory");
                }
            }
        }
    }
}

/// Stops and removes every sandbox through CRI, when containerd still
/// answers on `socket`, so that containerd itself runs CNI DEL (veth,
/// iptables rules, IP) and removes netns mounts, containers and shims.
/// Returns the (namespace, name, uid) of the pods whose sandboxes went.
pub fn remove_sandboxes(socket: &Path) -> Vec<(String, String, String)> {
    if StdUnixStream::connect(socket).is_err() {
        return Vec::new();
    }
    let socket = socket.to_path_buf();
    let worker = std::thread::spawn(move || {
        let mut pods = Vec::new();
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return pods;
        };
        rt.block_on(async {
            use crate::Runtime;
            let Ok(cri) = crate::CriRuntime::connect(&socket).await else {
                return;
            };
            let cri = cri.with_request_timeout(Duration::from_secs(20));
            let Ok(sandboxes) = cri.list_pod_sandbox(None).await else {
                return;
            };
            for sandbox in sandboxes {
                if let Some(m) = &sandbox.metadata {
                    pods.push((m.namespace.clone(), m.name.clone(), m.uid.clone()));
                }
                if let Err(e) = cri.stop_pod_sandbox(&sandbox.id).await {
                    tracing::warn!(id = %sandbox.id, error = %e, "cleanup: stopping sandbox");
                }
                if let Err(e) = cri.remove_pod_sandbox(&sandbox.id).await {
                    tracing::warn!(id = %sandbox.id, error = %e, "cleanup: removing sandbox");
                }
            }
        });
        pods
    });
    worker.join().unwrap_or_default()
}

/// Whether `pid` runs (a zombie does not).
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
pub(crate) fn process_alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(") ")
                .map(|(_, rest)| !rest.starts_with('Z'))
        })
        .unwrap_or(false)
}

pub(crate) fn cmdline(pid: u32) -> Option<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(String::from_utf8_lossy(&raw).replace('\0', " "))
}

fn pids_whose_cmdline_contains(marker: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|&pid| cmdline(pid).is_some_and(|c| c.contains(marker)))
        .collect()
}

pub(crate) fn kill(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// cgroup v1 hierarchies (`/sys/fs/cgroup/<controller>`) holding `name`.
fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir("/sys/fs/cgroup") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path().join(name))
        .filter(|p| p.is_dir())
        .collect()
}

/// Kills every process in the `name` cgroups and returns the network
/// namespaces (nsfs inodes) they were in.
fn kill_cgroup_processes(name: &str) -> BTreeSet<u64> {
    let mut netns = BTreeSet::new();
    for root in cgroup_dirs(name) {
        for dir in subdirs_deepest_first(&root) {
            let Ok(procs) = fs::read_to_string(dir.join("cgroup.procs")) else {
                continue;
            };
            for pid in procs.lines().filter_map(|l| l.trim().parse::<u32>().ok()) {
                if let Some(ino) = fs::read_link(format!("/proc/{pid}/ns/net"))
                    .ok()
                    .and_then(|l| {
                        l.to_str()?
                            .strip_prefix("net:[")?
                            .strip_suffix(']')?
                            .parse()
                            .ok()
                    })
                {
                    netns.insert(ino);
                }
                kill(pid);
            }
        }
    }
    netns
}

/// Unmounts and removes the `/run/netns` files of the given namespaces
/// (containerd pins a sandbox's namespace there).
fn remove_netns_mounts(inodes: &BTreeSet<u64>) {
    let Ok(entries) = fs::read_dir("/run/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if fs::metadata(&path).is_ok_and(|m| inodes.contains(&m.ino())) {
            let _ = Command::new("umount")
                .arg(&path)
                .stderr(Stdio::null())
                .status();
            let _ = fs::remove_file(&path);
        }
    }
}

/// Deletes the NAT rules and chains the bridge plugin's `ipMasq` made for
/// the CNI network `network` (their comments name it).
fn remove_nat_rules(network: &str) {
    let tag = format!("name: \"{network}\"");
    let Ok(rules) = Command::new("iptables")
        .args(["-t", "nat", "-S", "POSTROUTING"])
        .output()
    else {
        return;
    };
    let rules = String::from_utf8_lossy(&rules.stdout);
    let chains: BTreeSet<String> = rules
        .lines()
        .filter(|l| l.contains(&tag))
        .filter_map(|l| l.split_whitespace().skip_while(|w| *w != "-j").nth(1))
        .filter(|c| c.starts_with("CNI-"))
        .map(str::to_owned)
        .collect();
    if chains.is_empty() {
        return;
    }
    let Ok(listing) = Command::new("iptables")
        .args(["-t", "nat", "-L", "POSTROUTING", "-n", "--line-numbers"])
        .output()
    else {
        return;
    };
    let mut numbers: Vec<u32> = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .filter(|l| l.contains(&tag))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    numbers.sort_unstable_by(|a, b| b.cmp(a));
    for n in numbers {
        let _ = Command::new("iptables")
            .args(["-t", "nat", "-D", "POSTROUTING", &n.to_string()])
            .status();
    }
    for chain in chains {
        let _ = Command::new("iptables")
            .args(["-t", "nat", "-F", &chain])
            .status();
        let _ = Command::new("iptables")
            .args(["-t", "nat", "-X", &chain])
            .status();
    }
}

/// runc keeps container state in `/run/containerd/runc/k8s.io/<id>`; the
/// ids are the task directories under this instance's state.
fn remove_runc_state(state_dir: &Path) {
    let Ok(tasks) = fs::read_dir(state_dir.join("io.containerd.runtime.v2.task/k8s.io")) else {
        return;
    };
    for task in tasks.flatten() {
        let id = task.file_name();
        let _ = fs::remove_dir_all(Path::new("/run/containerd/runc/k8s.io").join(&id));
    }
}

fn remove_cgroups(name: &str) {
    for root in cgroup_dirs(name) {
        for dir in subdirs_deepest_first(&root) {
            // A cgroup empties a moment after its last process is killed.
            for _ in 0..20 {
                if fs::remove_dir(&dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// `root` and every directory below it, children before parents.
fn subdirs_deepest_first(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if let Ok(entries) = fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(entry.path());
                }
            }
        }
        out.push(dir);
    }
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out
}

/// Unmounts every mount point under `dir`, innermost first.
fn unmount_under(dir: &Path) {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = dir.display().to_string();
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mount_point)
        .filter(|p| p == &prefix || p.starts_with(&format!("{prefix}/")))
        .collect();
    points.reverse();
    for point in points {
        let _ = Command::new("umount")
            .args(["--lazy", &point])
            .stderr(Stdio::null())
            .status();
    }
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mount_point(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b));
        if bytes[i] == b'\\' && octal {
            let v = bytes[i + 1..i + 4]
                .iter()
                .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
            out.push(u8::try_from(v).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_unescaped() {
        assert_eq!(unescape_mount_point(r"/tmp/a\040b"), "/tmp/a b");
        assert_eq!(unescape_mount_point("/plain"), "/plain");
        assert_eq!(unescape_mount_point(r"/x\134y"), r"/x\y");
    }
}
