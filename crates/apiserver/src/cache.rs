//! The watch cache: every object under the etcd prefix, in memory, kept
//! current by one etcd watch, so reads do not each cost an etcd range.
//!
//! Reads stay linearizable: a consistent read first learns etcd's current
//! revision through a [`RevisionBarrier`] (one etcd call shared by every
//! request that arrived before it started), then waits until the cache has
//! applied events up to that revision. Only events advance the cache's
//! revision: etcd 3.4's progress notifications may carry a revision ahead of
//! events not yet delivered to a watcher that is still catching up, so they
//! are not trusted here. When the cache cannot show it is fresh in time
//! (starting, re-listing after a compaction, or a revision moved by writes
//! outside the prefix) callers fall back to etcd.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;
use storage::{KeyValue, StorageError, Store, WatchEvent};
use tokio::sync::{watch, Notify};
use tracing::{debug, info, warn};

/// One cached object: the stored JSON, parsed once.
#[derive(Clone)]
pub struct Cached {
    pub value: Arc<Value>,
    pub mod_revision: i64,
}

struct State {
    items: BTreeMap<String, Cached>,
    /// Every change up to this revision has been applied.
    revision: i64,
}

/// How long a consistent read waits for the cache before using etcd.
const FRESHNESS_WAIT: Duration = Duration::from_millis(250);

/// The cache over one etcd prefix.
pub struct WatchCache {
    state: RwLock<State>,
    ready: AtomicBool,
    revision_tx: watch::Sender<i64>,
    barrier: RevisionBarrier,
}

impl WatchCache {
    /// Starts filling the cache in the background.
    pub fn start(store: Arc<dyn Store>, prefix: String) -> Arc<WatchCache> {
        let (revision_tx, _) = watch::channel(0);
        let cache = Arc::new(WatchCache {
            state: RwLock::new(State {
                items: BTreeMap::new(),
                revision: 0,
            }),
            ready: AtomicBool::new(false),
            revision_tx,
            barrier: RevisionBarrier::start(store.clone()),
        });
        let c = cache.clone();
        tokio::spawn(async move { c.run(store, prefix).await });
        cache
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The revision up to which the cache is complete.
    pub fn revision(&self) -> i64 {
        self.state.read().map(|s| s.revision).unwrap_or(0)
    }

    async fn run(self: Arc<Self>, store: Arc<dyn Store>, prefix: String) {
        loop {
            match self.sync_once(&store, &prefix).await {
                Ok(()) => {}
                Err(e) => warn!(error = %e, "watch cache lost its watch; re-listing"),
            }
            self.ready.store(false, Ordering::Release);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Lists everything at one revision, then follows the watch until it
    /// fails.
    async fn sync_once(&self, store: &Arc<dyn Store>, prefix: &str) -> Result<(), StorageError> {
        let mut items = BTreeMap::new();
        let mut start: Option<String> = None;
        let mut revision = 0;
        loop {
            let page = store.list(prefix, start.as_deref(), 1000, revision).await?;
            revision = page.revision;
            for kv in &page.items {
                if let Some(c) = parse(kv) {
                    items.insert(kv.key.clone(), c);
                }
            }
            match (page.more, page.items.last()) {
                (true, Some(last)) => start = Some(format!("{}\u{0}", last.key)),
                _ => break,
            }
        }
        let mut w = store.watch(prefix, revision).await?;
        {
            let mut st = self.state.write().expect("cache lock");
            st.items = items;
            st.revision = revision;
        }
        // `send_replace` stores the value even while nobody subscribes.
        self.revision_tx.send_replace(revision);
        self.ready.store(true, Ordering::Release);
        info!(revision, "watch cache ready");
        loop {
            let ev = match w.recv().await {
                Some(Ok(ev)) => ev,
                Some(Err(e)) => return Err(e),
                None => return Err(StorageError::Unavailable("watch ended".into())),
            };
            let rev = ev.revision();
            {
                let mut st = self.state.write().expect("cache lock");
                match ev {
                    WatchEvent::Put { kv, .. } => {
                        if let Some(c) = parse(&kv) {
                            st.items.insert(kv.key.clone(), c);
                        }
                    }
                    WatchEvent::Delete { prev, .. } => {
                        st.items.remove(&prev.key);
                    }
                    // Not trusted for freshness (see the module docs).
                    WatchEvent::Progress { .. } => continue,
                }
                if rev > st.revision {
                    st.revision = rev;
                }
            }
            self.revision_tx.send_if_modified(|r| {
                if rev > *r {
                    *r = rev;
                    true
                } else {
                    false
                }
            });
        }
    }

    /// Waits until the cache holds every write that completed before this
    /// call; false when it cannot tell (then read etcd instead).
    pub async fn wait_fresh(&self) -> bool {
        if !self.is_ready() {
            return false;
        }
        let Some(target) = self.barrier.current_revision().await else {
            return false;
        };
        let mut rx = self.revision_tx.subscribe();
        if *rx.borrow_and_update() >= target {
            return true;
        }
        let wait = async {
            loop {
                if *rx.borrow_and_update() >= target {
                    return true;
                }
                if rx.changed().await.is_err() {
                    return false;
                }
            }
        };
        match tokio::time::timeout(FRESHNESS_WAIT, wait).await {
            Ok(ok) => ok && self.is_ready(),
            Err(_) => {
                debug!(target, "watch cache did not catch up in time");
                false
            }
        }
    }

    /// One object, as of the cache's current revision.
    pub fn get(&self, key: &str) -> Option<Cached> {
        self.state.read().ok()?.items.get(key).cloned()
    }

    /// Every object under `prefix`, in key order, with the revision they
    /// were read at (one consistent snapshot).
    pub fn list(&self, prefix: &str) -> (Vec<(String, Cached)>, i64) {
        let Ok(st) = self.state.read() else {
            return (Vec::new(), 0);
        };
        let items = st
            .items
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (items, st.revision)
    }
}

fn parse(kv: &KeyValue) -> Option<Cached> {
    match serde_json::from_slice::<Value>(&kv.value) {
        Ok(v) => Some(Cached {
            value: Arc::new(v),
            mod_revision: kv.mod_revision,
        }),
        Err(e) => {
            warn!(key = kv.key, error = %e, "undecodable value skipped by the watch cache");
            None
        }
    }
}

/// Learns etcd's current revision for many concurrent readers with few
/// etcd calls: a reader may use a result only if the call started after
/// the reader arrived, which keeps reads linearizable.
pub struct RevisionBarrier {
    tickets: Arc<AtomicU64>,
    notify: Arc<Notify>,
    results: watch::Receiver<(u64, Option<i64>)>,
}

impl RevisionBarrier {
    pub fn start(store: Arc<dyn Store>) -> RevisionBarrier {
        let tickets = Arc::new(AtomicU64::new(0));
        let notify = Arc::new(Notify::new());
        let (tx, rx) = watch::channel((0u64, None));
        let (t, n) = (tickets.clone(), notify.clone());
        tokio::spawn(async move {
            loop {
                n.notified().await;
                // Every ticket taken before this load is served by this call.
                let served = t.load(Ordering::SeqCst);
                let rev = store.current_revision().await.ok();
                if tx.send((served, rev)).is_err() {
                    return;
                }
            }
        });
        RevisionBarrier {
            tickets,
            notify,
            results: rx,
        }
    }

    /// etcd's revision as of some moment after this call began.
    pub async fn current_revision(&self) -> Option<i64> {
        let mine = self.tickets.fetch_add(1, Ordering::SeqCst) + 1;
        let mut rx = self.results.clone();
        self.notify.notify_one();
        loop {
            let (served, rev) = *rx.borrow_and_update();
            if served >= mine {
                return rev;
            }
            if rx.changed().await.is_err() {
                return None;
            }
        }
    }
}
