//! The scheduling queue (upstream `PriorityQueue`).
//!
//! * **active**: pods ready to be tried, highest `spec.priority` first, then
//!   the earliest to enter the queue.
//! * **backoff**: pods that failed recently, waiting `1s * 2^(attempts-1)`
//!   (capped at 10 s) before going back to active.
//! * **unschedulable**: pods no node fits; they move out when the cluster
//!   changes in a way that may help ([`SchedulingQueue::move_all`]: a node
//!   added or changed, a pod deleted) or after staying too long
//!   ([`SchedulingQueue::flush_unschedulable`]).
//! * **gated**: pods with `spec.schedulingGates`, until the gates are gone.
//!
//! A pod that fails while a move request happened during its cycle goes to
//! backoff rather than unschedulable, so the event is not lost.
//! Time is passed in (`now`) so tests need no clock.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use tokio::sync::Notify;

use crate::metrics::Metrics;
use crate::nodeinfo::{pod_key, priority};

/// Queue timings.
#[derive(Clone, Debug)]
pub struct QueueConfig {
    /// `podInitialBackoffSeconds` (1 s).
    pub initial_backoff: Duration,
    /// `podMaxBackoffSeconds` (10 s).
    pub max_backoff: Duration,
    /// How long a pod may stay unschedulable before it is retried anyway.
    pub max_unschedulable: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            max_unschedulable: Duration::from_secs(60),
        }
    }
}

/// A pod in the queue, with its attempt bookkeeping.
#[derive(Clone, Debug)]
pub struct QueuedPod {
    pub pod: Arc<Pod>,
    pub key: String,
    /// Scheduling attempts so far (incremented on pop).
    pub attempts: u32,
    /// When it last entered the queue.
    pub timestamp: Instant,
    /// When it was first popped.
    pub initial_attempt: Option<Instant>,
}

type ActiveKey = (Reverse<i32>, Instant, u64);

#[derive(Debug)]
enum Where {
    Active(ActiveKey),
    Backoff((Instant, u64)),
    Unschedulable,
    Gated,
}

#[derive(Debug, Default)]
struct InFlight {
    /// Updated while being scheduled: the newest object.
    updated: Option<Arc<Pod>>,
    deleted: bool,
}

#[derive(Debug, Default)]
struct Inner {
    pods: HashMap<String, (QueuedPod, Where)>,
    active: BTreeMap<ActiveKey, String>,
    backoff: BTreeMap<(Instant, u64), String>,
    in_flight: HashMap<String, InFlight>,
    seq: u64,
    cycle: u64,
    move_request_cycle: u64,
    closed: bool,
    /// When the pending-pods gauges were last computed (a full scan, so
    /// at most every [`PUBLISH_EVERY`]; the 1 s back-off flush publishes
    /// the final figures).
    published: Option<Instant>,
}

/// How often the pending-pods gauges are recomputed.
const PUBLISH_EVERY: Duration = Duration::from_millis(250);

/// See the module documentation.
pub struct SchedulingQueue {
    cfg: QueueConfig,
    inner: Mutex<Inner>,
    notify: Notify,
    metrics: Arc<Metrics>,
}

fn gated(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.scheduling_gates.as_ref())
        .is_some_and(|g| !g.is_empty())
}

impl SchedulingQueue {
    pub fn new(cfg: QueueConfig, metrics: Arc<Metrics>) -> SchedulingQueue {
        SchedulingQueue {
            cfg,
            inner: Mutex::new(Inner::default()),
            notify: Notify::new(),
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Backoff for a pod tried `attempts` times.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let mut d = self.cfg.initial_backoff;
        for _ in 1..attempts {
            d = d.saturating_mul(2);
            if d >= self.cfg.max_backoff {
                return self.cfg.max_backoff;
            }
        }
        d.min(self.cfg.max_backoff)
    }

    fn publish(&self, i: &mut Inner) {
        let now = Instant::now();
        if i.published
            .is_some_and(|t| now.duration_since(t) < PUBLISH_EVERY)
        {
            return;
        }
        i.published = Some(now);
        let (mut u, mut g) = (0, 0);
        for (_, w) in i.pods.values() {
            match w {
                Where::Unschedulable => u += 1,
                Where::Gated => g += 1,
                _ => {}
            }
        }
        self.metrics
            .set_pending(i.active.len(), i.backoff.len(), u, g);
    }

    fn push_active(&self, i: &mut Inner, mut qp: QueuedPod, now: Instant) {
        if gated(&qp.pod) {
            i.pods.insert(qp.key.clone(), (qp, Where::Gated));
            return;
        }
        qp.timestamp = now;
        i.seq += 1;
        let k = (Reverse(priority(&qp.pod)), now, i.seq);
        i.active.insert(k, qp.key.clone());
        i.pods.insert(qp.key.clone(), (qp, Where::Active(k)));
        self.notify.notify_one();
    }

    fn push_backoff(&self, i: &mut Inner, qp: QueuedPod) {
        let expiry = qp.timestamp + self.backoff(qp.attempts);
        i.seq += 1;
        let k = (expiry, i.seq);
        i.backoff.insert(k, qp.key.clone());
        i.pods.insert(qp.key.clone(), (qp, Where::Backoff(k)));
    }

    /// Out of unschedulable/gated: to backoff while still backing off, else active.
    fn requeue(&self, i: &mut Inner, qp: QueuedPod, now: Instant) {
        if qp.attempts > 0 && qp.timestamp + self.backoff(qp.attempts) > now {
            self.push_backoff(i, qp);
        } else {
            self.push_active(i, qp, now);
        }
    }

    fn take(i: &mut Inner, key: &str) -> Option<QueuedPod> {
        let (qp, w) = i.pods.remove(key)?;
        match w {
            Where::Active(k) => {
                i.active.remove(&k);
            }
            Where::Backoff(k) => {
                i.backoff.remove(&k);
            }
            Where::Unschedulable | Where::Gated => {}
        }
        Some(qp)
    }

    /// A new pending pod (or an update of one, see [`SchedulingQueue::update`]).
    pub fn add(&self, pod: Arc<Pod>, now: Instant) {
        self.update(pod, now)
    }

    /// A pending pod was added or changed.
    pub fn update(&self, pod: Arc<Pod>, now: Instant) {
        let key = pod_key(&pod);
        let mut i = self.lock();
        if let Some(f) = i.in_flight.get_mut(&key) {
            f.updated = Some(pod);
            return;
        }
        match i.pods.get_mut(&key) {
            None => {
                let qp = QueuedPod {
                    pod,
                    key,
                    attempts: 0,
                    timestamp: now,
                    initial_attempt: None,
                };
                self.push_active(&mut i, qp, now);
            }
            Some((qp, w)) => {
                let changed = qp.pod.spec != pod.spec
                    || qp.pod.metadata.labels != pod.metadata.labels
                    || qp.pod.metadata.annotations != pod.metadata.annotations;
                qp.pod = pod;
                let movable = matches!(w, Where::Unschedulable | Where::Gated);
                let regated = matches!(w, Where::Active(_) | Where::Backoff(_)) && gated(&qp.pod);
                if (movable && changed) || regated {
                    if let Some(qp) = Self::take(&mut i, &key) {
                        self.requeue(&mut i, qp, now);
                    }
                }
            }
        }
        self.publish(&mut i);
    }

    /// A pending pod was deleted or got bound by someone else.
    pub fn delete(&self, key: &str) {
        let mut i = self.lock();
        if let Some(f) = i.in_flight.get_mut(key) {
            f.deleted = true;
        }
        Self::take(&mut i, key);
        self.publish(&mut i);
    }

    /// Waits for the next pod to try; `None` once closed. Returns the pod
    /// and the scheduling cycle number.
    pub async fn pop(&self) -> Option<(QueuedPod, u64)> {
        loop {
            {
                let mut i = self.lock();
                if i.closed {
                    return None;
                }
                if let Some((_, key)) = i.active.pop_first() {
                    let (mut qp, _) = i.pods.remove(&key).expect("active pod is indexed");
                    qp.attempts += 1;
                    qp.initial_attempt.get_or_insert_with(Instant::now);
                    i.cycle += 1;
                    let cycle = i.cycle;
                    i.in_flight.insert(key, InFlight::default());
                    self.publish(&mut i);
                    return Some((qp, cycle));
                }
            }
            self.notify.notified().await;
        }
    }

    /// The cycle for `key` ended with the pod bound (or given up).
    pub fn done(&self, key: &str) {
        self.lock().in_flight.remove(key);
    }

    /// The cycle for the pod ended without a node: back to unschedulable,
    /// or to backoff on an error or if the cluster changed meanwhile.
    pub fn add_unschedulable(&self, mut qp: QueuedPod, cycle: u64, error: bool, now: Instant) {
        let mut i = self.lock();
        let flight = i.in_flight.remove(&qp.key).unwrap_or_default();
        if flight.deleted || i.pods.contains_key(&qp.key) {
            return;
        }
        let updated = flight.updated.is_some();
        if let Some(p) = flight.updated {
            qp.pod = p;
        }
        qp.timestamp = now;
        if error || updated || i.move_request_cycle >= cycle {
            self.push_backoff(&mut i, qp);
        } else {
            i.pods.insert(qp.key.clone(), (qp, Where::Unschedulable));
        }
        self.publish(&mut i);
    }

    /// Something changed that may make unschedulable pods fit: retry them all.
    pub fn move_all(&self, now: Instant) {
        let mut i = self.lock();
        i.move_request_cycle = i.cycle;
        let keys: Vec<String> = i
            .pods
            .iter()
            .filter(|(_, (_, w))| matches!(w, Where::Unschedulable))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            if let Some(qp) = Self::take(&mut i, &k) {
                self.requeue(&mut i, qp, now);
            }
        }
        self.publish(&mut i);
    }

    /// Moves pods whose backoff has expired to active (run every second).
    pub fn flush_backoff(&self, now: Instant) {
        let mut i = self.lock();
        while let Some((&(expiry, _), _)) = i.backoff.first_key_value() {
            if expiry > now {
                break;
            }
            let (_, key) = i.backoff.pop_first().expect("non-empty");
            if let Some((qp, _)) = i.pods.remove(&key) {
                self.push_active(&mut i, qp, now);
            }
        }
        self.publish(&mut i);
    }

    /// Retries pods unschedulable for longer than the configured maximum.
    pub fn flush_unschedulable(&self, now: Instant) {
        let mut i = self.lock();
        let max = self.cfg.max_unschedulable;
        let keys: Vec<String> = i
            .pods
            .iter()
            .filter(|(_, (qp, w))| {
                matches!(w, Where::Unschedulable)
                    && now.saturating_duration_since(qp.timestamp) >= max
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            if let Some(qp) = Self::take(&mut i, &k) {
                self.requeue(&mut i, qp, now);
            }
        }
        self.publish(&mut i);
    }

    /// `(active, backoff, unschedulable, gated)` sizes.
    pub fn lengths(&self) -> (usize, usize, usize, usize) {
        let i = self.lock();
        let (mut u, mut g) = (0, 0);
        for (_, w) in i.pods.values() {
            match w {
                Where::Unschedulable => u += 1,
                Where::Gated => g += 1,
                _ => {}
            }
        }
        (i.active.len(), i.backoff.len(), u, g)
    }

    /// Whether the queue holds the pod (in any sub-queue).
    pub fn contains(&self, key: &str) -> bool {
        self.lock().pods.contains_key(key)
    }

    /// Ends [`SchedulingQueue::pop`] for good.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, prio: i32) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "ns"},
                "spec": {"priority": prio, "containers": [{"name": "c", "image": "x"}]}}))
            .unwrap(),
        )
    }

    fn q() -> SchedulingQueue {
        SchedulingQueue::new(QueueConfig::default(), Arc::new(Metrics::default()))
    }

    async fn pop_name(q: &SchedulingQueue) -> (QueuedPod, u64) {
        tokio::time::timeout(Duration::from_secs(1), q.pop())
            .await
            .expect("a pod is ready")
            .expect("open")
    }

    #[tokio::test]
    async fn active_orders_by_priority_then_arrival() {
        let q = q();
        let t = Instant::now();
        q.add(pod("low", 0), t);
        q.add(pod("high", 100), t + Duration::from_millis(2));
        q.add(pod("low2", 0), t + Duration::from_millis(1));
        let names: Vec<String> = [pop_name(&q).await, pop_name(&q).await, pop_name(&q).await]
            .iter()
            .map(|(p, _)| p.key.clone())
            .collect();
        assert_eq!(names, vec!["ns/high", "ns/low", "ns/low2"]);
    }

    #[test]
    fn backoff_doubles_to_the_cap() {
        let q = q();
        let s = |n| q.backoff(n).as_secs();
        assert_eq!((s(1), s(2), s(3), s(4), s(5), s(9)), (1, 2, 4, 8, 10, 10));
    }

    #[tokio::test]
    async fn unschedulable_pods_wait_for_a_move_then_back_off() {
        let q = q();
        let t = Instant::now();
        q.add(pod("p", 0), t);
        let (qp, cycle) = pop_name(&q).await;
        assert_eq!(qp.attempts, 1);
        q.add_unschedulable(qp, cycle, false, t);
        assert_eq!(q.lengths(), (0, 0, 1, 0));
        // Periodic backoff flush does not touch unschedulable pods.
        q.flush_backoff(t + Duration::from_secs(30));
        assert_eq!(q.lengths(), (0, 0, 1, 0));
        // A node event 0.5 s later: still backing off (1 s).
        q.move_all(t + Duration::from_millis(500));
        assert_eq!(q.lengths(), (0, 1, 0, 0));
        q.flush_backoff(t + Duration::from_millis(900));
        assert_eq!(q.lengths(), (0, 1, 0, 0));
        q.flush_backoff(t + Duration::from_millis(1000));
        assert_eq!(q.lengths(), (1, 0, 0, 0));
        let (qp, cycle) = pop_name(&q).await;
        assert_eq!(qp.attempts, 2);
        q.add_unschedulable(qp, cycle, false, t + Duration::from_secs(2));
        // Long after backoff, a move goes straight to active.
        q.move_all(t + Duration::from_secs(10));
        assert_eq!(q.lengths(), (1, 0, 0, 0));
    }

    #[tokio::test]
    async fn a_move_during_the_cycle_sends_the_pod_to_backoff() {
        let q = q();
        let t = Instant::now();
        q.add(pod("p", 0), t);
        let (qp, cycle) = pop_name(&q).await;
        q.move_all(t);
        q.add_unschedulable(qp, cycle, false, t);
        assert_eq!(q.lengths(), (0, 1, 0, 0));
    }

    #[tokio::test]
    async fn errors_back_off_and_leftovers_are_flushed() {
        let q = q();
        let t = Instant::now();
        q.add(pod("e", 0), t);
        q.add(pod("u", 0), t);
        let (e, c1) = pop_name(&q).await;
        let (u, c2) = pop_name(&q).await;
        q.add_unschedulable(e, c1, true, t);
        q.add_unschedulable(u, c2, false, t);
        assert_eq!(q.lengths(), (0, 1, 1, 0));
        q.flush_unschedulable(t + Duration::from_secs(59));
        assert_eq!(q.lengths(), (0, 1, 1, 0));
        q.flush_unschedulable(t + Duration::from_secs(60));
        q.flush_backoff(t + Duration::from_secs(60));
        assert_eq!(q.lengths(), (2, 0, 0, 0));
    }

    #[tokio::test]
    async fn deletes_and_updates() {
        let q = q();
        let t = Instant::now();
        q.add(pod("p", 0), t);
        q.delete("ns/p");
        assert_eq!(q.lengths(), (0, 0, 0, 0));
        // Deleted while in flight: not requeued.
        q.add(pod("p", 0), t);
        let (qp, c) = pop_name(&q).await;
        q.delete("ns/p");
        q.add_unschedulable(qp, c, false, t);
        assert_eq!(q.lengths(), (0, 0, 0, 0));
        // An unschedulable pod whose spec changes is retried.
        q.add(pod("p", 0), t);
        let (qp, c) = pop_name(&q).await;
        q.add_unschedulable(qp, c, false, t);
        q.update(pod("p", 5), t + Duration::from_secs(5));
        assert_eq!(q.lengths(), (1, 0, 0, 0));
    }

    #[tokio::test]
    async fn gated_pods_wait_for_their_gates_to_go() {
        let q = q();
        let t = Instant::now();
        let mut v = serde_json::to_value(&*pod("g", 0)).unwrap();
        v["spec"]["schedulingGates"] = json!([{"name": "wait"}]);
        q.add(Arc::new(serde_json::from_value(v).unwrap()), t);
        assert_eq!(q.lengths(), (0, 0, 0, 1));
        q.update(pod("g", 0), t);
        assert_eq!(q.lengths(), (1, 0, 0, 0));
    }
}
