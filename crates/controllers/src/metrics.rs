//! The few metrics `/metrics` exposes, in Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Counters per controller, and whether this instance leads.
#[derive(Debug, Default)]
pub struct Metrics {
    syncs: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    depth: Mutex<BTreeMap<&'static str, usize>>,
    leader: AtomicBool,
}

impl Metrics {
    /// Counts one sync of `controller` with `result` (`success` or `error`).
    pub fn sync(&self, controller: &'static str, result: &'static str) {
        *self
            .syncs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((controller, result))
            .or_default() += 1;
    }

    /// Records a work queue's depth.
    pub fn depth(&self, controller: &'static str, n: usize) {
        self.depth
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(controller, n);
    }

    /// Records whether this instance holds the leader Lease.
    pub fn set_leader(&self, leading: bool) {
        self.leader.store(leading, Ordering::SeqCst);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str("# HELP controller_sync_total Number of syncs per controller and result.\n");
        s.push_str("# TYPE controller_sync_total counter\n");
        for ((c, r), n) in self.syncs.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(
                s,
                "controller_sync_total{{controller=\"{c}\",result=\"{r}\"}} {n}"
            );
        }
        s.push_str("# HELP workqueue_depth Current depth of workqueue.\n");
        s.push_str("# TYPE workqueue_depth gauge\n");
        for (c, n) in self.depth.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(s, "workqueue_depth{{name=\"{c}\"}} {n}");
        }
        s.push_str("# HELP leader_election_master_status Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master.\n");
        s.push_str("# TYPE leader_election_master_status gauge\n");
        let _ = writeln!(
            s,
            "leader_election_master_status{{name=\"kube-controller-manager\"}} {}",
            u8::from(self.leader.load(Ordering::SeqCst))
        );
        s
    }
}
