//! CPU time per process from `/proc`: on a 2-core machine etcd, the
//! apiserver and the load generator compete, and CPU per operation is
//! steadier than throughput.

/// Linux reports `utime`/`stime` in USER_HZ ticks, fixed at 100 on the
/// architectures we run on.
const TICKS_PER_SEC: f64 = 100.0;

/// User plus system CPU seconds of `/proc/<entry>` (all threads), if readable.
pub fn cpu_seconds(entry: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{entry}/stat")).ok()?;
    // The command name may contain spaces; fields are counted after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after ')'.
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SEC)
}

/// CPU seconds the whole machine spent busy (all cores, any process), to
/// tell how much of the window went to processes that are not ours.
pub fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let f: Vec<f64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is in user).
    let busy: f64 = f
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    Some(busy / TICKS_PER_SEC)
}

/// The PID of a process whose command line has exactly `arg` among its
/// arguments (to find the etcd the harness started, which hides its PID).
pub fn find_pid_with_arg(arg: &str) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline.split(|b| *b == 0).any(|a| a == arg.as_bytes()) {
            return Some(pid);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_cpu_time() {
        assert!(cpu_seconds("self").is_some());
        assert!(cpu_seconds(&std::process::id().to_string()).is_some());
        assert!(machine_busy_seconds().is_some_and(|s| s > 0.0));
    }
}
