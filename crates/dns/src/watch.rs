//! Keeps the index in step with the apiserver: one kube-rs watcher for
//! Services and one for EndpointSlices, each applying events to the index
//! as they come and replacing its whole set after every (re-)list, so
//! objects deleted while the watch was down disappear too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, ResourceExt};

use crate::handler::SharedIndex;

/// Whether both initial lists have reached the index (what `/ready`
/// reports).
#[derive(Debug, Default)]
pub struct Readiness {
    services: AtomicBool,
    slices: AtomicBool,
}

impl Readiness {
    /// Ready from the start: for servers fed through the index seam.
    pub fn ready() -> Self {
        Readiness {
            services: AtomicBool::new(true),
            slices: AtomicBool::new(true),
        }
    }

    /// Both lists are in.
    pub fn is_ready(&self) -> bool {
        self.services.load(Ordering::Acquire) && self.slices.load(Ordering::Acquire)
    }
}

/// The running watchers; dropping them stops them.
pub struct Watchers {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Watchers {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Starts watching Services and EndpointSlices of all namespaces.
pub fn spawn(client: Client, index: SharedIndex, readiness: Arc<Readiness>) -> Watchers {
    let services = {
        let index = index.clone();
        let readiness = readiness.clone();
        tokio::spawn(watch_services(Api::all(client.clone()), index, readiness))
    };
    let slices = tokio::spawn(watch_slices(Api::all(client), index, readiness));
    Watchers {
        tasks: vec![services, slices],
    }
}

async fn watch_services(api: Api<Service>, index: SharedIndex, readiness: Arc<Readiness>) {
    let mut stream = Box::pin(watcher(api, watcher::Config::default()).default_backoff());
    let mut listed: Vec<Service> = Vec::new();
    while let Some(ev) = stream.next().await {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                tracing::warn!(error = %e, "service watch failed; retrying");
                continue;
            }
        };
        let mut ix = index.write().unwrap_or_else(|e| e.into_inner());
        match ev {
            watcher::Event::Init => listed.clear(),
            watcher::Event::InitApply(s) => listed.push(s),
            watcher::Event::InitDone => {
                ix.replace_services(listed.iter());
                tracing::info!(services = listed.len(), "services listed");
                listed.clear();
                readiness.services.store(true, Ordering::Release);
            }
            watcher::Event::Apply(s) => {
                let _span = tracing::debug_span!("service", key = %key(&s)).entered();
                ix.apply_service(&s);
            }
            watcher::Event::Delete(s) => {
                let _span = tracing::debug_span!("service", key = %key(&s)).entered();
                ix.delete_service(&s.namespace().unwrap_or_default(), &s.name_any());
            }
        }
    }
}

async fn watch_slices(api: Api<EndpointSlice>, index: SharedIndex, readiness: Arc<Readiness>) {
    let mut stream = Box::pin(watcher(api, watcher::Config::default()).default_backoff());
    let mut listed: Vec<EndpointSlice> = Vec::new();
    while let Some(ev) = stream.next().await {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                tracing::warn!(error = %e, "endpointslice watch failed; retrying");
                continue;
            }
        };
        let mut ix = index.write().unwrap_or_else(|e| e.into_inner());
        match ev {
            watcher::Event::Init => listed.clear(),
            watcher::Event::InitApply(s) => listed.push(s),
            watcher::Event::InitDone => {
                ix.replace_slices(listed.iter());
                tracing::info!(endpointslices = listed.len(), "endpointslices listed");
                listed.clear();
                readiness.slices.store(true, Ordering::Release);
            }
            watcher::Event::Apply(s) => {
                let _span = tracing::debug_span!("endpointslice", key = %key(&s)).entered();
                ix.apply_slice(&s);
            }
            watcher::Event::Delete(s) => {
                let _span = tracing::debug_span!("endpointslice", key = %key(&s)).entered();
                ix.delete_slice(&s.namespace().unwrap_or_default(), &s.name_any());
            }
        }
    }
}

fn key<K: ResourceExt>(o: &K) -> String {
    format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any())
}
