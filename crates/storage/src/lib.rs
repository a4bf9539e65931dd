//! etcd3 storage for API objects.
//!
//! [`Store`] is the seam between the apiserver's registry and etcd: keys are
//! full etcd keys (`/registry/pods/default/web`), values opaque bytes, and
//! every object version is identified by its etcd mod revision (which the
//! apiserver exposes as `resourceVersion`). Writes are transactions
//! conditioned on that revision, so concurrent writers never lose updates.
//! [`EtcdStore`] is the real implementation.

use async_trait::async_trait;
use etcd_client::{
    Client, Compare, CompareOp, EventType, GetOptions, Txn, TxnOp, TxnOpResponse, WatchOptions,
};
use tokio::sync::mpsc;

/// How often an idle watch asks etcd for a progress notification.
pub const PROGRESS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// One stored key at one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
    /// Revision of the last write of this key (the object's resourceVersion).
    pub mod_revision: i64,
    pub create_revision: i64,
}

/// A page of a list.
#[derive(Debug, Clone)]
pub struct ListResult {
    pub items: Vec<KeyValue>,
    /// The store revision the page was read at.
    pub revision: i64,
    /// Whether keys remain after this page.
    pub more: bool,
    /// Keys in the whole range at `revision` (for `remainingItemCount`).
    pub count: i64,
}

/// What happened to a key, as seen by a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// A create or update; `prev` is the previous value when there was one.
    Put {
        kv: KeyValue,
        prev: Option<KeyValue>,
    },
    /// A delete at `revision`; `prev` is the last value before the delete.
    Delete { prev: KeyValue, revision: i64 },
    /// The store reports progress: every event up to `revision` was sent.
    Progress { revision: i64 },
}

impl WatchEvent {
    pub fn revision(&self) -> i64 {
        match self {
            WatchEvent::Put { kv, .. } => kv.mod_revision,
            WatchEvent::Delete { revision, .. } => *revision,
            WatchEvent::Progress { revision } => *revision,
        }
    }
}

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The key does not exist.
    #[error("key not found: {0}")]
    NotFound(String),
    /// A create found the key already present.
    #[error("key exists: {0}")]
    AlreadyExists(String),
    /// The key's mod revision was not the one the write was conditioned on;
    /// carries the current value (None when the key is gone).
    #[error("revision conflict on {key}")]
    Conflict {
        key: String,
        current: Option<KeyValue>,
    },
    /// The requested revision was compacted away.
    #[error("required revision {requested} has been compacted (compacted to {compacted})")]
    Compacted { requested: i64, compacted: i64 },
    /// The requested revision is newer than the store's.
    #[error("required revision {0} is a future revision")]
    FutureRevision(i64),
    /// etcd could not be reached or answered an error.
    #[error("etcd: {0}")]
    Unavailable(String),
}

impl From<etcd_client::Error> for StorageError {
    fn from(e: etcd_client::Error) -> Self {
        let s = e.to_string();
        if s.contains("required revision has been compacted") {
            StorageError::Compacted {
                requested: 0,
                compacted: 0,
            }
        } else if s.contains("future revision") {
            StorageError::FutureRevision(0)
        } else {
            StorageError::Unavailable(s)
        }
    }
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// A receiver of watch events; dropping it cancels the watch.
pub struct WatchReceiver {
    pub rx: mpsc::Receiver<Result<WatchEvent>>,
    progress: mpsc::UnboundedSender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl WatchReceiver {
    /// A receiver over channels, for stores other than etcd (and tests).
    pub fn from_channel(
        rx: mpsc::Receiver<Result<WatchEvent>>,
        progress: mpsc::UnboundedSender<()>,
        task: tokio::task::JoinHandle<()>,
    ) -> Self {
        WatchReceiver { rx, progress, task }
    }

    pub async fn recv(&mut self) -> Option<Result<WatchEvent>> {
        self.rx.recv().await
    }

    /// Asks the store for a [`WatchEvent::Progress`] as soon as possible, so
    /// a reader waiting for a revision learns it was reached even when no
    /// key under the prefix changed.
    pub fn request_progress(&self) {
        let _ = self.progress.send(());
    }

    /// A handle other tasks can use to request progress on this watch.
    pub fn progress_sender(&self) -> mpsc::UnboundedSender<()> {
        self.progress.clone()
    }
}

impl Drop for WatchReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The operations the registry needs from a key-value store.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Reads one key at the latest revision.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;
    /// Reads keys under `prefix` in key order, starting at `start` (inclusive)
    /// when given, at most `limit` (0 = all), at `revision` (0 = latest).
    async fn list(
        &self,
        prefix: &str,
        start: Option<&str>,
        limit: i64,
        revision: i64,
    ) -> Result<ListResult>;
    /// Creates a key that must not exist; returns the new revision.
    async fn create(&self, key: &str, value: Vec<u8>) -> Result<i64> {
        self.create_leased(key, value, 0).await
    }
    /// Like [`Store::create`], with the key attached to `lease` (0 = none)
    /// so it expires with the lease (Events, as upstream's `--event-ttl`).
    async fn create_leased(&self, key: &str, value: Vec<u8>, lease: i64) -> Result<i64>;
    /// Replaces a key whose mod revision must equal `expected`; returns the
    /// new revision.
    async fn update(&self, key: &str, value: Vec<u8>, expected: i64) -> Result<i64> {
        self.update_leased(key, value, expected, 0).await
    }
    /// Like [`Store::update`], with the key attached to `lease` (0 = none).
    async fn update_leased(
        &self,
        key: &str,
        value: Vec<u8>,
        expected: i64,
        lease: i64,
    ) -> Result<i64>;
    /// Grants a lease of `ttl_seconds`; keys attached to it go when it ends.
    async fn grant_lease(&self, ttl_seconds: i64) -> Result<i64>;
    /// Deletes a key whose mod revision must equal `expected`; returns the
    /// revision of the delete.
    async fn delete(&self, key: &str, expected: i64) -> Result<i64>;
    /// Streams changes under `prefix` after `after_revision` (exclusive).
    async fn watch(&self, prefix: &str, after_revision: i64) -> Result<WatchReceiver>;
    /// The store's current revision.
    async fn current_revision(&self) -> Result<i64>;
    /// Whether the store answers (for `/readyz`).
    async fn healthy(&self) -> Result<()>;
}

/// The real store: an etcd v3 cluster.
#[derive(Clone)]
pub struct EtcdStore {
    client: Client,
}

impl EtcdStore {
    /// Connects to the given endpoints (`http://127.0.0.1:2379`, ...).
    pub async fn connect(endpoints: &[String]) -> Result<Self> {
        let eps: Vec<String> = endpoints
            .iter()
            .map(|e| e.trim_start_matches("http://").to_string())
            .collect();
        let opts = etcd_client::ConnectOptions::new()
            .with_connect_timeout(std::time::Duration::from_secs(5))
            .with_timeout(std::time::Duration::from_secs(30))
            .with_keep_alive(
                std::time::Duration::from_secs(30),
                std::time::Duration::from_secs(10),
            );
        let client = Client::connect(eps, Some(opts)).await?;
        Ok(EtcdStore { client })
    }

    /// Runs `op` only if `key`'s mod revision is still `expected`; on a
    /// mismatch reads the current value back for the conflict error.
    async fn write_if_unchanged(&self, key: &str, expected: i64, op: TxnOp) -> Result<i64> {
        let txn = Txn::new()
            .when([Compare::mod_revision(key, CompareOp::Equal, expected)])
            .and_then([op])
            .or_else([TxnOp::get(key, None)]);
        let resp = self.client.kv_client().txn(txn).await?;
        if !resp.succeeded() {
            return Err(conflict_from(key, &resp));
        }
        Ok(resp.header().map(|h| h.revision()).unwrap_or(0))
    }

    /// Compacts history up to `revision` (used by tests of 410 Gone).
    pub async fn compact(&self, revision: i64) -> Result<()> {
        self.client.kv_client().compact(revision, None).await?;
        Ok(())
    }
}

/// The end of a prefix range: the prefix with its last byte incremented.
pub fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

fn convert(kv: &etcd_client::KeyValue) -> KeyValue {
    KeyValue {
        key: String::from_utf8_lossy(kv.key()).into_owned(),
        value: kv.value().to_vec(),
        mod_revision: kv.mod_revision(),
        create_revision: kv.create_revision(),
    }
}

#[async_trait]
impl Store for EtcdStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let resp = self.client.kv_client().get(key, None).await?;
        Ok(resp.kvs().first().map(convert))
    }

    async fn list(
        &self,
        prefix: &str,
        start: Option<&str>,
        limit: i64,
        revision: i64,
    ) -> Result<ListResult> {
        let end = prefix_end(prefix);
        let from = start.unwrap_or(prefix);
        let mut opts = GetOptions::new().with_range(end.clone());
        if limit > 0 {
            opts = opts.with_limit(limit);
        }
        if revision > 0 {
            opts = opts.with_revision(revision);
        }
        let resp = self
            .client
            .kv_client()
            .get(from, Some(opts))
            .await
            .map_err(|e| match StorageError::from(e) {
                StorageError::Compacted { .. } => StorageError::Compacted {
                    requested: revision,
                    compacted: 0,
                },
                StorageError::FutureRevision(_) => StorageError::FutureRevision(revision),
                other => other,
            })?;
        let rev = resp.header().map(|h| h.revision()).unwrap_or(0);
        let items: Vec<KeyValue> = resp.kvs().iter().map(convert).collect();
        let more = resp.more();
        let remaining_after = resp.count() - items.len() as i64;
        Ok(ListResult {
            items,
            revision: if revision > 0 { revision } else { rev },
            more,
            count: remaining_after.max(0),
        })
    }

    async fn create_leased(&self, key: &str, value: Vec<u8>, lease: i64) -> Result<i64> {
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key, value, put_options(lease))]);
        let resp = self.client.kv_client().txn(txn).await?;
        if !resp.succeeded() {
            return Err(StorageError::AlreadyExists(key.to_string()));
        }
        Ok(resp.header().map(|h| h.revision()).unwrap_or(0))
    }

    async fn update_leased(
        &self,
        key: &str,
        value: Vec<u8>,
        expected: i64,
        lease: i64,
    ) -> Result<i64> {
        self.write_if_unchanged(key, expected, TxnOp::put(key, value, put_options(lease)))
            .await
    }

    async fn grant_lease(&self, ttl_seconds: i64) -> Result<i64> {
        let resp = self.client.lease_client().grant(ttl_seconds, None).await?;
        Ok(resp.id())
    }

    async fn delete(&self, key: &str, expected: i64) -> Result<i64> {
        self.write_if_unchanged(key, expected, TxnOp::delete(key, None))
            .await
    }

    async fn watch(&self, prefix: &str, after_revision: i64) -> Result<WatchReceiver> {
        let opts = WatchOptions::new()
            .with_prefix()
            .with_prev_key()
            .with_progress_notify()
            .with_start_revision(after_revision + 1);
        let stream = self.client.watch_client().watch(prefix, Some(opts)).await?;
        let (mut requests, mut stream) = stream.split();
        let (tx, rx) = mpsc::channel(1024);
        let (progress_tx, mut progress_rx) = mpsc::unbounded_channel::<()>();
        let task = tokio::spawn(async move {
            // Ask etcd for progress now and then (and whenever a reader asks)
            // so idle watches learn the current revision; the apiserver
            // turns it into bookmarks and uses it to know its cache is fresh.
            let mut progress = tokio::time::interval(PROGRESS_INTERVAL);
            progress.tick().await;
            loop {
                let next = tokio::select! {
                    _ = progress.tick() => {
                        let _ = requests.request_progress().await;
                        continue;
                    }
                    Some(()) = progress_rx.recv() => {
                        while progress_rx.try_recv().is_ok() {}
                        let _ = requests.request_progress().await;
                        continue;
                    }
                    m = stream.message() => m,
                };
                let msg = match next {
                    Ok(Some(m)) => m,
                    Ok(None) => {
                        let _ = tx
                            .send(Err(StorageError::Unavailable("watch closed".into())))
                            .await;
                        return;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.into())).await;
                        return;
                    }
                };
                if msg.compact_revision() > 0 {
                    let _ = tx
                        .send(Err(StorageError::Compacted {
                            requested: after_revision,
                            compacted: msg.compact_revision(),
                        }))
                        .await;
                    return;
                }
                if msg.canceled() {
                    let _ = tx
                        .send(Err(StorageError::Unavailable(format!(
                            "watch canceled: {}",
                            msg.cancel_reason()
                        ))))
                        .await;
                    return;
                }
                if msg.events().is_empty() {
                    if let Some(h) = msg.header() {
                        if !msg.created()
                            && tx
                                .send(Ok(WatchEvent::Progress {
                                    revision: h.revision(),
                                }))
                                .await
                                .is_err()
                        {
                            return;
                        }
                    }
                    continue;
                }
                for ev in msg.events() {
                    let Some(kv) = ev.kv() else { continue };
                    let out = match ev.event_type() {
                        EventType::Put => WatchEvent::Put {
                            kv: convert(kv),
                            prev: ev.prev_kv().map(convert),
                        },
                        EventType::Delete => {
                            let mut prev = ev.prev_kv().map(convert).unwrap_or_else(|| KeyValue {
                                key: String::from_utf8_lossy(kv.key()).into_owned(),
                                value: Vec::new(),
                                mod_revision: 0,
                                create_revision: 0,
                            });
                            if prev.key.is_empty() {
                                prev.key = String::from_utf8_lossy(kv.key()).into_owned();
                            }
                            WatchEvent::Delete {
                                prev,
                                revision: kv.mod_revision(),
                            }
                        }
                    };
                    if tx.send(Ok(out)).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(WatchReceiver {
            rx,
            progress: progress_tx,
            task,
        })
    }

    async fn current_revision(&self) -> Result<i64> {
        let resp = self
            .client
            .kv_client()
            .get("/", Some(GetOptions::new().with_count_only()))
            .await?;
        Ok(resp.header().map(|h| h.revision()).unwrap_or(0))
    }

    async fn healthy(&self) -> Result<()> {
        self.current_revision().await.map(|_| ())
    }
}

fn put_options(lease: i64) -> Option<etcd_client::PutOptions> {
    (lease != 0).then(|| etcd_client::PutOptions::new().with_lease(lease))
}

fn conflict_from(key: &str, resp: &etcd_client::TxnResponse) -> StorageError {
    let current = resp.op_responses().into_iter().find_map(|r| match r {
        TxnOpResponse::Get(g) => Some(g.kvs().first().map(convert)),
        _ => None,
    });
    match current.flatten() {
        None => StorageError::NotFound(key.to_string()),
        some => StorageError::Conflict {
            key: key.to_string(),
            current: some,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end("/registry/pods/"), b"/registry/pods0".to_vec());
        assert_eq!(prefix_end("a"), b"b".to_vec());
    }
}
