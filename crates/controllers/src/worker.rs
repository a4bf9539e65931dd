//! Runs a controller's workers over its queue.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use client_support::WorkQueue;

use crate::metrics::Metrics;
use crate::Error;

/// Runs `workers` loops taking keys from `queue` and calling `sync`, until
/// the queue is shut down. A sync returning `Ok(Some(d))` is queued again
/// after `d`; an error is retried with the queue's back-off.
pub async fn run_workers<F, Fut>(
    name: &'static str,
    queue: WorkQueue<String>,
    workers: usize,
    metrics: Arc<Metrics>,
    sync: F,
) where
    F: Fn(String) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Duration>, Error>> + Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers.max(1) {
        let queue = queue.clone();
        let sync = sync.clone();
        let metrics = metrics.clone();
        set.spawn(async move {
            while let Some(key) = queue.get().await {
                metrics.depth(name, queue.len());
                match sync(key.clone()).await {
                    Ok(again) => {
                        metrics.sync(name, "success");
                        queue.forget(&key);
                        if let Some(d) = again {
                            queue.add_after(key.clone(), d);
                        }
                    }
                    Err(e) => {
                        metrics.sync(name, "error");
                        if e.is_conflict() {
                            tracing::debug!(controller = name, key = %key, error = %e, "sync conflict; retrying");
                        } else {
                            tracing::warn!(controller = name, key = %key, error = %e, "sync failed; retrying");
                        }
                        queue.add_rate_limited(key.clone());
                    }
                }
                queue.done(&key);
            }
        });
    }
    // Dropping this future (leadership lost, task aborted) aborts the workers.
    while set.join_next().await.is_some() {}
}
