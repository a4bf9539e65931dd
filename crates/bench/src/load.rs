//! Closed-loop load: `concurrency` workers each issue one operation at a time
//! until a deadline. Closed loops measure the throughput a fixed number of
//! callers (like a controller's workers) get, without queueing in the client.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::probe::{Probe, Usage};

/// How long a phase runs and how hard it pushes.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub concurrency: usize,
    /// Operations started before this much time has passed are not counted,
    /// so connection setup and cold caches do not skew the numbers.
    pub warmup: Duration,
    pub duration: Duration,
    /// A hung operation counts as an error after this long, which also
    /// bounds how far past its deadline a phase can run.
    pub op_timeout: Duration,
}

/// What one phase measured; only operations started after the warm-up count.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub ops: u64,
    pub errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    pub seconds: f64,
    pub ops_per_sec: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// CPU and etcd RPCs spent in the measured window.
    pub usage: Usage,
}

impl Summary {
    /// Builds a summary from raw latencies (milliseconds, any order).
    pub fn new(
        mut lat_ms: Vec<f64>,
        errors: u64,
        first_error: Option<String>,
        seconds: f64,
    ) -> Self {
        lat_ms.sort_by(f64::total_cmp);
        let ops = lat_ms.len() as u64;
        let mean = if lat_ms.is_empty() {
            0.0
        } else {
            lat_ms.iter().sum::<f64>() / lat_ms.len() as f64
        };
        Summary {
            ops,
            errors,
            first_error,
            seconds,
            ops_per_sec: if seconds > 0.0 {
                ops as f64 / seconds
            } else {
                0.0
            },
            mean_ms: mean,
            p50_ms: percentile(&lat_ms, 0.50),
            p99_ms: percentile(&lat_ms, 0.99),
            max_ms: lat_ms.last().copied().unwrap_or(0.0),
            usage: Usage::default(),
        }
    }
}

/// The nearest-rank percentile of sorted values (0 when empty).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[derive(Default)]
struct Worker {
    lat_ms: Vec<f64>,
    errors: u64,
    first_error: Option<String>,
    last_done: Option<Instant>,
}

impl Worker {
    fn fail(&mut self, e: String) {
        self.errors += 1;
        self.first_error.get_or_insert(e);
    }
}

/// Runs `op(i)` (with `i` unique across workers) in a closed loop per
/// `plan` and summarises the operations started in the measured window.
pub async fn closed_loop<F, Fut>(plan: Plan, probe: &Probe, op: F) -> Summary
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let measure_from = Instant::now() + plan.warmup;
    let end = measure_from + plan.duration;
    let window = probe.measure(measure_from, end);
    let mut workers = JoinSet::new();
    for _ in 0..plan.concurrency.max(1) {
        let op = op.clone();
        let next = next.clone();
        workers.spawn(async move {
            let mut w = Worker::default();
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let r = tokio::time::timeout(plan.op_timeout, op(i)).await;
                let done = Instant::now();
                if t0 < measure_from {
                    continue;
                }
                w.last_done = Some(done);
                match r {
                    Ok(Ok(())) => w.lat_ms.push(ms(done - t0)),
                    Ok(Err(e)) => w.fail(format!("{e:#}")),
                    Err(_) => w.fail(format!("timed out after {:?}", plan.op_timeout)),
                }
            }
            w
        });
    }
    let mut all = Worker::default();
    while let Some(w) = workers.join_next().await {
        let Ok(w) = w else { continue };
        all.lat_ms.extend(w.lat_ms);
        all.errors += w.errors;
        if all.first_error.is_none() {
            all.first_error = w.first_error;
        }
        all.last_done = all.last_done.max(w.last_done);
    }
    // Operations in flight at the deadline finish late; count their time too.
    let seconds = all
        .last_done
        .map(|t| (t - measure_from).as_secs_f64())
        .unwrap_or(plan.duration.as_secs_f64());
    let mut s = Summary::new(all.lat_ms, all.errors, all.first_error, seconds);
    s.usage = window.finish(s.ops).await;
    s
}

/// Runs `op(i)` for `i` in `0..n` with `concurrency` workers and returns
/// when each finished (by index), for phases that need a fixed count.
pub async fn fixed_count<F, Fut>(
    n: u64,
    concurrency: usize,
    op_timeout: Duration,
    op: F,
) -> (Vec<Option<Instant>>, u64, Option<String>)
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let op = op.clone();
        let next = next.clone();
        workers.spawn(async move {
            let mut done = Vec::new();
            let mut w = Worker::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                match tokio::time::timeout(op_timeout, op(i)).await {
                    Ok(Ok(())) => done.push((i, Instant::now())),
                    Ok(Err(e)) => w.fail(format!("{e:#}")),
                    Err(_) => w.fail(format!("timed out after {op_timeout:?}")),
                }
            }
            (done, w)
        });
    }
    let mut finished = vec![None; n as usize];
    let mut errors = 0;
    let mut first_error = None;
    while let Some(r) = workers.join_next().await {
        let Ok((done, w)) = r else { continue };
        for (i, t) in done {
            finished[i as usize] = Some(t);
        }
        errors += w.errors;
        if first_error.is_none() {
            first_error = w.first_error;
        }
    }
    (finished, errors, first_error)
}

/// Keeps up to `cap` successfully written indices for the read phases.
pub fn remember(written: &Mutex<Vec<u64>>, i: u64, cap: usize) {
    let mut w = written.lock().expect("lock");
    if w.len() < cap {
        w.push(i);
    }
}

/// Maps the `i`-th read onto `n` keys in a scattered, repeatable order.
pub fn spread(i: u64, n: usize) -> usize {
    (i.wrapping_mul(7919) % n as u64) as usize
}

/// A duration in milliseconds, as the reports use.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[tokio::test]
    async fn closed_loop_counts_only_the_measured_window() {
        let plan = Plan {
            concurrency: 4,
            warmup: Duration::from_millis(50),
            duration: Duration::from_millis(200),
            op_timeout: Duration::from_secs(1),
        };
        let s = closed_loop(plan, &Probe::default(), |_| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(())
        })
        .await;
        assert_eq!(s.errors, 0);
        // 4 workers x ~20 ops each; generous bounds for a loaded machine.
        assert!(s.ops > 10 && s.ops <= 4 * 21, "ops = {}", s.ops);
        assert!(s.p50_ms >= 10.0);
    }
}
