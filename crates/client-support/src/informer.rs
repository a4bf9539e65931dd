//! An informer: a kube-rs watcher feeding a reflector [`Store`], calling a
//! handler with the previous version of every changed object (as
//! client-go's `UpdateFunc(old, new)`), and reporting objects that vanished
//! while the watch was re-listing as deletions.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use futures::StreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Resource};

/// What changed, handed to the informer's handler after the store has it.
#[derive(Debug)]
pub enum InformerEvent<K> {
    /// Created (`old` is `None`) or updated.
    Applied {
        /// The previous version, if the store had one.
        old: Option<Arc<K>>,
        /// The current version.
        new: Arc<K>,
    },
    /// Deleted (the last version seen).
    Deleted(Arc<K>),
}

/// A running informer: its store and the task filling it.
pub struct Informer<K: Resource + 'static>
where
    K::DynamicType: Eq + Hash + Clone,
{
    store: Store<K>,
    task: tokio::task::JoinHandle<()>,
}

impl<K: Resource + 'static> Drop for Informer<K>
where
    K::DynamicType: Eq + Hash + Clone,
{
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<K> Informer<K>
where
    K: Resource + Clone + Debug + Send + Sync + serde::de::DeserializeOwned + 'static,
    K::DynamicType: Eq + Hash + Clone + Default + Send + Sync,
{
    /// Starts watching `api` with `config`; `handler` runs on the watch task.
    pub fn spawn(
        api: Api<K>,
        config: watcher::Config,
        handler: impl Fn(InformerEvent<K>) + Send + Sync + 'static,
    ) -> Self {
        Self::spawn_with(api, config, K::DynamicType::default(), handler)
    }
}

impl<K> Informer<K>
where
    K: Resource + Clone + Debug + Send + Sync + serde::de::DeserializeOwned + 'static,
    K::DynamicType: Eq + Hash + Clone + Send + Sync,
{
    /// As [`Informer::spawn`], for dynamic types.
    pub fn spawn_with(
        api: Api<K>,
        config: watcher::Config,
        dyntype: K::DynamicType,
        handler: impl Fn(InformerEvent<K>) + Send + Sync + 'static,
    ) -> Self {
        let mut writer = reflector::store::Writer::new(dyntype.clone());
        let store = writer.as_reader();
        let reader = store.clone();
        let task = tokio::spawn(async move {
            let mut stream = Box::pin(watcher(api, config).default_backoff());
            let mut relist: HashMap<ObjectRef<K>, Arc<K>> = HashMap::new();
            let mut buffered: Vec<K> = Vec::new();
            while let Some(ev) = stream.next().await {
                let ev = match ev {
                    Ok(ev) => ev,
                    Err(e) => {
                        tracing::debug!(error = %e, "watch error; retrying");
                        continue;
                    }
                };
                match &ev {
                    watcher::Event::Apply(o) => {
                        let r = ObjectRef::from_obj_with(o, dyntype.clone());
                        let old = reader.get(&r);
                        writer.apply_watcher_event(&ev);
                        handler(InformerEvent::Applied {
                            old,
                            new: Arc::new(o.clone()),
                        });
                    }
                    watcher::Event::Delete(o) => {
                        let r = ObjectRef::from_obj_with(o, dyntype.clone());
                        let last = reader.get(&r).unwrap_or_else(|| Arc::new(o.clone()));
                        writer.apply_watcher_event(&ev);
                        handler(InformerEvent::Deleted(last));
                    }
                    watcher::Event::Init => {
                        relist = reader
                            .state()
                            .into_iter()
                            .map(|o| (ObjectRef::from_obj_with(&*o, dyntype.clone()), o))
                            .collect();
                        buffered.clear();
                        writer.apply_watcher_event(&ev);
                    }
                    watcher::Event::InitApply(o) => {
                        buffered.push(o.clone());
                        writer.apply_watcher_event(&ev);
                    }
                    watcher::Event::InitDone => {
                        writer.apply_watcher_event(&ev);
                        for o in buffered.drain(..) {
                            let r = ObjectRef::from_obj_with(&o, dyntype.clone());
                            let old = relist.remove(&r);
                            handler(InformerEvent::Applied {
                                old,
                                new: Arc::new(o),
                            });
                        }
                        for (_, gone) in relist.drain() {
                            handler(InformerEvent::Deleted(gone));
                        }
                    }
                }
            }
        });
        Informer { store, task }
    }

    /// The store (a cheap handle; reads never block the watch).
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// Waits for the first complete list.
    pub async fn wait_synced(&self) {
        let _ = self.store.wait_until_ready().await;
    }
}

/// The `namespace/name` (or `name`) key of an object, as client-go's
/// `MetaNamespaceKeyFunc`.
pub fn key_of<K: Resource>(o: &K) -> String {
    let m = o.meta();
    match &m.namespace {
        Some(ns) if !ns.is_empty() => format!("{ns}/{}", m.name.as_deref().unwrap_or("")),
        _ => m.name.clone().unwrap_or_default(),
    }
}

/// Splits a key made by [`key_of`] into namespace and name.
pub fn split_key(key: &str) -> (Option<&str>, &str) {
    match key.split_once('/') {
        Some((ns, n)) => (Some(ns), n),
        None => (None, key),
    }
}
