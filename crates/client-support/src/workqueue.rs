//! A rate-limited, deduplicating work queue with client-go's semantics.
//!
//! * A key added several times before a worker takes it is processed once.
//! * A key a worker is processing is never handed to another worker; adding
//!   it meanwhile marks it dirty and it is queued again when the worker calls
//!   [`WorkQueue::done`].
//! * [`WorkQueue::add_rate_limited`] delays a key by the [`RateLimiter`]
//!   (by default client-go's `DefaultControllerRateLimiter`: per-key
//!   exponential back-off from 5 ms to 1000 s, and a 10 qps / 100 burst
//!   token bucket over all keys, whichever is longer);
//!   [`WorkQueue::forget`] resets a key's back-off after a success.
//!
//! Time is tokio's, so tests can pause and advance it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Decides how long a failed key waits before it is retried.
pub trait RateLimiter<T>: Send + 'static {
    /// The delay for the next retry of `item` (and records the failure).
    fn when(&mut self, item: &T) -> Duration;
    /// Clears the failure history of `item`.
    fn forget(&mut self, item: &T);
    /// How many times `item` has been retried since it was last forgotten.
    fn num_requeues(&self, item: &T) -> u32;
}

/// Per-key exponential back-off: `base * 2^failures`, capped at `max`.
#[derive(Debug)]
pub struct ExponentialRateLimiter<T> {
    base: Duration,
    max: Duration,
    failures: HashMap<T, u32>,
}

impl<T> ExponentialRateLimiter<T> {
    /// A limiter starting at `base` and never waiting longer than `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        ExponentialRateLimiter {
            base,
            max,
            failures: HashMap::new(),
        }
    }
}

impl<T: Hash + Eq + Clone + Send + 'static> RateLimiter<T> for ExponentialRateLimiter<T> {
    fn when(&mut self, item: &T) -> Duration {
        let n = self.failures.entry(item.clone()).or_insert(0);
        let exp = *n;
        *n = n.saturating_add(1);
        let factor = 2f64.powi(exp.min(1000) as i32);
        let secs = self.base.as_secs_f64() * factor;
        if !secs.is_finite() || secs > self.max.as_secs_f64() {
            self.max
        } else {
            Duration::from_secs_f64(secs)
        }
    }
    fn forget(&mut self, item: &T) {
        self.failures.remove(item);
    }
    fn num_requeues(&self, item: &T) -> u32 {
        self.failures.get(item).copied().unwrap_or(0)
    }
}

/// A token bucket shared by all keys (golang.org/x/time/rate `Reserve`).
#[derive(Debug)]
pub struct BucketRateLimiter {
    qps: f64,
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl BucketRateLimiter {
    /// `qps` tokens per second, at most `burst` saved up.
    pub fn new(qps: f64, burst: u32) -> Self {
        BucketRateLimiter {
            qps,
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: None,
        }
    }

    fn reserve(&mut self) -> Duration {
        let now = Instant::now();
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.qps).min(self.burst);
        }
        self.last = Some(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.qps)
        }
    }
}

impl<T> RateLimiter<T> for BucketRateLimiter {
    fn when(&mut self, _item: &T) -> Duration {
        self.reserve()
    }
    fn forget(&mut self, _item: &T) {}
    fn num_requeues(&self, _item: &T) -> u32 {
        0
    }
}

/// client-go's `DefaultControllerRateLimiter`: the longer of the per-key
/// exponential back-off (5 ms to 1000 s) and the overall bucket (10 qps,
/// burst 100).
#[derive(Debug)]
pub struct DefaultControllerRateLimiter<T> {
    exp: ExponentialRateLimiter<T>,
    bucket: BucketRateLimiter,
}

impl<T> Default for DefaultControllerRateLimiter<T> {
    fn default() -> Self {
        DefaultControllerRateLimiter {
            exp: ExponentialRateLimiter::new(Duration::from_millis(5), Duration::from_secs(1000)),
            bucket: BucketRateLimiter::new(10.0, 100),
        }
    }
}

impl<T: Hash + Eq + Clone + Send + 'static> RateLimiter<T> for DefaultControllerRateLimiter<T> {
    fn when(&mut self, item: &T) -> Duration {
        let a = self.exp.when(item);
        let b = RateLimiter::<T>::when(&mut self.bucket, item);
        a.max(b)
    }
    fn forget(&mut self, item: &T) {
        self.exp.forget(item);
    }
    fn num_requeues(&self, item: &T) -> u32 {
        self.exp.num_requeues(item)
    }
}

struct State<T> {
    queue: VecDeque<T>,
    dirty: HashSet<T>,
    processing: HashSet<T>,
    /// Keys waiting for a time, with the earliest time asked for.
    waiting: HashMap<T, Instant>,
    limiter: Box<dyn RateLimiter<T>>,
    shutting_down: bool,
    adds: u64,
}

/// A deduplicating, rate-limited work queue; cheap to clone (shared).
pub struct WorkQueue<T> {
    state: Arc<Mutex<State<T>>>,
    notify: Arc<Notify>,
}

impl<T> Clone for WorkQueue<T> {
    fn clone(&self) -> Self {
        WorkQueue {
            state: self.state.clone(),
            notify: self.notify.clone(),
        }
    }
}

impl<T: Hash + Eq + Clone + Send + 'static> Default for WorkQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Hash + Eq + Clone + Send + 'static> WorkQueue<T> {
    /// A queue with client-go's default controller rate limiter.
    pub fn new() -> Self {
        Self::with_rate_limiter(DefaultControllerRateLimiter::default())
    }

    /// A queue with its own rate limiter.
    pub fn with_rate_limiter(limiter: impl RateLimiter<T>) -> Self {
        WorkQueue {
            state: Arc::new(Mutex::new(State {
                queue: VecDeque::new(),
                dirty: HashSet::new(),
                processing: HashSet::new(),
                waiting: HashMap::new(),
                limiter: Box::new(limiter),
                shutting_down: false,
                adds: 0,
            })),
            notify: Arc::new(Notify::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add_locked(st: &mut State<T>, item: T) -> bool {
        if st.shutting_down || st.dirty.contains(&item) {
            return false;
        }
        st.adds += 1;
        st.dirty.insert(item.clone());
        if st.processing.contains(&item) {
            return false;
        }
        st.queue.push_back(item);
        true
    }

    /// Queues `item` now (no-op if it is already queued).
    pub fn add(&self, item: T) {
        let mut st = self.lock();
        if Self::add_locked(&mut st, item) {
            drop(st);
            self.notify.notify_one();
        }
    }

    /// Queues `item` once `delay` has passed (the earliest of several asks wins).
    pub fn add_after(&self, item: T, delay: Duration) {
        if delay.is_zero() {
            return self.add(item);
        }
        let at = Instant::now() + delay;
        let mut st = self.lock();
        if st.shutting_down {
            return;
        }
        let e = st.waiting.entry(item).or_insert(at);
        if at < *e {
            *e = at;
        }
        drop(st);
        // Wake a waiting worker so it recomputes its timer.
        self.notify.notify_one();
    }

    /// Queues `item` after the rate limiter's delay for it.
    pub fn add_rate_limited(&self, item: T) {
        let d = self.lock().limiter.when(&item);
        self.add_after(item, d);
    }

    /// Resets `item`'s back-off (call after it was processed successfully).
    pub fn forget(&self, item: &T) {
        self.lock().limiter.forget(item);
    }

    /// How many rate-limited retries `item` has had since it was forgotten.
    pub fn num_requeues(&self, item: &T) -> u32 {
        self.lock().limiter.num_requeues(item)
    }

    /// Keys queued and ready now.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether no key is ready now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total number of accepted adds (for metrics).
    pub fn adds(&self) -> u64 {
        self.lock().adds
    }

    /// Stops the queue: [`WorkQueue::get`] returns `None` from now on.
    pub fn shut_down(&self) {
        self.lock().shutting_down = true;
        self.notify.notify_waiters();
        self.notify.notify_one();
    }

    /// Whether [`WorkQueue::shut_down`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.lock().shutting_down
    }

    /// Waits for the next key; the caller must call [`WorkQueue::done`] with
    /// it when finished. `None` once the queue is shut down.
    pub async fn get(&self) -> Option<T> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let next_wake = {
                let mut st = self.lock();
                if st.shutting_down {
                    return None;
                }
                let now = Instant::now();
                let due: Vec<T> = st
                    .waiting
                    .iter()
                    .filter(|(_, at)| **at <= now)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in due {
                    st.waiting.remove(&k);
                    Self::add_locked(&mut st, k);
                }
                if let Some(item) = st.queue.pop_front() {
                    st.dirty.remove(&item);
                    st.processing.insert(item.clone());
                    let more = !st.queue.is_empty();
                    drop(st);
                    if more {
                        // Let another idle worker pick up the rest.
                        self.notify.notify_one();
                    }
                    return Some(item);
                }
                st.waiting.values().min().copied()
            };
            match next_wake {
                Some(at) => {
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Marks `item` processed; if it was added meanwhile it is queued again.
    pub fn done(&self, item: &T) {
        let mut st = self.lock();
        st.processing.remove(item);
        if st.dirty.contains(item) {
            st.queue.push_back(item.clone());
            drop(st);
            self.notify.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn dedups_and_defers_re_adds_while_processing() {
        let q: WorkQueue<&str> = WorkQueue::new();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        let a = q.get().await.unwrap();
        assert_eq!(a, "a");
        // Re-added while processing: not handed out again until done.
        q.add("a");
        assert_eq!(q.get().await.unwrap(), "b");
        let again = tokio::time::timeout(Duration::from_millis(50), q.get()).await;
        assert!(again.is_err(), "a must wait for done");
        q.done(&"a");
        assert_eq!(q.get().await.unwrap(), "a");
        q.done(&"a");
        q.done(&"b");
        assert!(q.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn add_after_and_shutdown() {
        let q: WorkQueue<u32> = WorkQueue::new();
        let start = Instant::now();
        q.add_after(1, Duration::from_secs(5));
        q.add_after(1, Duration::from_secs(2));
        assert_eq!(q.get().await, Some(1));
        let waited = start.elapsed();
        assert!(waited >= Duration::from_secs(2) && waited < Duration::from_secs(3));
        q.done(&1);
        let q2 = q.clone();
        let h = tokio::spawn(async move { q2.get().await });
        tokio::time::sleep(Duration::from_millis(10)).await;
        q.shut_down();
        assert_eq!(h.await.unwrap(), None);
    }

    #[test]
    fn exponential_backoff_doubles_and_caps() {
        let mut l =
            ExponentialRateLimiter::new(Duration::from_millis(5), Duration::from_secs(1000));
        assert_eq!(l.when(&"k"), Duration::from_millis(5));
        assert_eq!(l.when(&"k"), Duration::from_millis(10));
        assert_eq!(l.when(&"k"), Duration::from_millis(20));
        assert_eq!(l.num_requeues(&"k"), 3);
        for _ in 0..40 {
            l.when(&"k");
        }
        assert_eq!(l.when(&"k"), Duration::from_secs(1000));
        l.forget(&"k");
        assert_eq!(l.when(&"k"), Duration::from_millis(5));
        assert_eq!(l.when(&"other"), Duration::from_millis(5));
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_allows_burst_then_paces_at_qps() {
        let mut l: DefaultControllerRateLimiter<u32> = DefaultControllerRateLimiter::default();
        for i in 0..100 {
            // Distinct keys: only the exponential part's 5 ms applies.
            assert_eq!(l.when(&i), Duration::from_millis(5));
        }
        // Burst used up: the 101st waits 100 ms, the 102nd 200 ms.
        let d = l.when(&1000);
        assert!((d.as_secs_f64() - 0.1).abs() < 1e-6, "{d:?}");
        let d = l.when(&1001);
        assert!((d.as_secs_f64() - 0.2).abs() < 1e-6, "{d:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limited_requeue_backs_off() {
        let q: WorkQueue<&str> = WorkQueue::new();
        let t0 = Instant::now();
        q.add_rate_limited("x");
        assert_eq!(q.get().await, Some("x"));
        q.done(&"x");
        q.add_rate_limited("x");
        assert_eq!(q.get().await, Some("x"));
        q.done(&"x");
        assert!(t0.elapsed() >= Duration::from_millis(15));
        assert_eq!(q.num_requeues(&"x"), 2);
        q.forget(&"x");
        assert_eq!(q.num_requeues(&"x"), 0);
    }
}
