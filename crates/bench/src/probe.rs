//! What a phase cost besides time: CPU per process and etcd RPCs, sampled
//! at the edges of the measured window and divided by the operations done.
//! This is what says *where* the apiserver spends its budget.

use std::collections::BTreeMap;

use serde::Serialize;
use tokio::time::Instant;

use crate::{cpu, etcd_metrics};

/// CPU one process used in a window.
#[derive(Debug, Clone, Serialize)]
pub struct CpuUse {
    pub process: String,
    /// Average number of cores busy (1.0 = one core fully used).
    pub cores: f64,
    /// CPU microseconds per measured operation.
    pub us_per_op: f64,
}

/// Resource use of one phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Usage {
    pub cpu: Vec<CpuUse>,
    /// Cores kept busy by processes the bench did not start (other
    /// builds, other tests): the noise in this window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_cores: Option<f64>,
    /// etcd KV RPCs (by method) per measured operation.
    pub etcd_rpcs_per_op: BTreeMap<String, f64>,
}

/// The processes to account for and where etcd's metrics are.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// A name and a `/proc` entry (`self` or a PID).
    procs: Vec<(String, String)>,
    /// `host:port` of etcd's client URL.
    etcd: Option<String>,
}

/// Counters at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    at: Instant,
    cpu: Vec<Option<f64>>,
    machine: Option<f64>,
    rpcs: Option<BTreeMap<String, f64>>,
}

impl Probe {
    pub fn add_process(&mut self, name: &str, proc_entry: impl ToString) {
        self.procs.push((name.to_string(), proc_entry.to_string()));
    }

    pub fn set_etcd(&mut self, host_port: &str) {
        self.etcd = Some(host_port.to_string());
    }

    pub async fn snapshot(&self) -> Snapshot {
        let rpcs = match &self.etcd {
            Some(e) => etcd_metrics::kv_rpcs(e).await.ok(),
            None => None,
        };
        Snapshot {
            at: Instant::now(),
            cpu: self
                .procs
                .iter()
                .map(|(_, p)| cpu::cpu_seconds(p))
                .collect(),
            machine: cpu::machine_busy_seconds(),
            rpcs,
        }
    }

    /// Use between two snapshots, spread over `ops` operations.
    pub fn usage(&self, a: &Snapshot, b: &Snapshot, ops: u64) -> Usage {
        let window = (b.at - a.at).as_secs_f64().max(1e-9);
        let per_op = |x: f64| if ops > 0 { x / ops as f64 } else { 0.0 };
        let cpu: Vec<CpuUse> = self
            .procs
            .iter()
            .zip(a.cpu.iter().zip(&b.cpu))
            .filter_map(|((name, _), (x, y))| {
                let used = (*y)? - (*x)?;
                Some(CpuUse {
                    process: name.clone(),
                    cores: used / window,
                    us_per_op: per_op(used * 1e6),
                })
            })
            .collect();
        let mut etcd_rpcs_per_op = BTreeMap::new();
        if let (Some(x), Some(y)) = (&a.rpcs, &b.rpcs) {
            for (method, after) in y {
                let n = after - x.get(method).copied().unwrap_or(0.0);
                if n > 0.0 {
                    etcd_rpcs_per_op.insert(method.clone(), per_op(n));
                }
            }
        }
        let ours: f64 = cpu.iter().map(|c| c.cores).sum();
        let other_cores = match (a.machine, b.machine) {
            (Some(x), Some(y)) => Some(((y - x) / window - ours).max(0.0)),
            _ => None,
        };
        Usage {
            cpu,
            other_cores,
            etcd_rpcs_per_op,
        }
    }

    /// Snapshots at `from` and at `to` in the background.
    pub fn measure(&self, from: Instant, to: Instant) -> Window {
        let probe = self.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep_until(from).await;
            let a = probe.snapshot().await;
            tokio::time::sleep_until(to).await;
            (a, probe.snapshot().await)
        });
        Window {
            probe: self.clone(),
            task,
        }
    }
}

/// A measurement started by [`Probe::measure`].
pub struct Window {
    probe: Probe,
    task: tokio::task::JoinHandle<(Snapshot, Snapshot)>,
}

impl Window {
    pub async fn finish(self, ops: u64) -> Usage {
        match self.task.await {
            Ok((a, b)) => self.probe.usage(&a, &b, ops),
            Err(_) => Usage::default(),
        }
    }
}
