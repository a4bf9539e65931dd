//! The running scheduler: informers feeding the cache and the queue, the
//! scheduling loop, binding, and status/event reporting.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{
    Binding, Namespace, Node, ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::{CSINode, StorageClass};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Client;
use serde_json::json;
use tokio::sync::watch;

use crate::cache::Cache;
use crate::config::Config;
use crate::events::Recorder;
use crate::framework::{Framework, Outcome};
use crate::metrics::{AttemptResult, Metrics};
use crate::nodeinfo::{pod_key, PodInfo};
use crate::plugins::Reservation;
use crate::preemption::Nomination;
use crate::queue::{QueuedPod, SchedulingQueue};
use crate::volumes::{object_key, VolumeStore};
use crate::Error;

/// How often backoff completions are flushed (upstream: 1 s).
const BACKOFF_FLUSH: Duration = Duration::from_secs(1);
/// How often long-unschedulable pods are checked (upstream: 30 s).
const UNSCHEDULABLE_FLUSH: Duration = Duration::from_secs(30);

fn assigned(p: &Pod) -> bool {
    p.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty())
}

fn terminal(p: &Pod) -> bool {
    matches!(
        p.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

fn scheduler_name(p: &Pod) -> &str {
    p.spec
        .as_ref()
        .and_then(|s| s.scheduler_name.as_deref())
        .unwrap_or(crate::config::DEFAULT_SCHEDULER_NAME)
}

struct Shared {
    client: Client,
    cache: Mutex<Cache>,
    queue: SchedulingQueue,
    metrics: Arc<Metrics>,
    frameworks: HashMap<String, Arc<Framework>>,
    recorders: HashMap<String, Recorder>,
}

impl Shared {
    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn on_pod(&self, pod: Pod) {
        let pod = Arc::new(pod);
        let key = pod_key(&pod);
        if assigned(&pod) {
            self.queue.delete(&key);
            if terminal(&pod) {
                let had = self.cache().has_pod(&key);
                self.cache().remove_pod(&key);
                if had {
                    self.queue.move_all(Instant::now());
                }
            } else {
                self.cache().upsert_bound_pod(pod);
            }
        } else if self.frameworks.contains_key(scheduler_name(&pod))
            && !terminal(&pod)
            && pod.metadata.deletion_timestamp.is_none()
        {
            // Being bound by us right now: the watch is just behind.
            if self.cache().is_assumed(&key) {
                return;
            }
            let nominated = pod
                .status
                .as_ref()
                .and_then(|s| s.nominated_node_name.clone())
                .filter(|n| !n.is_empty());
            if nominated.is_some() {
                self.cache().set_nominated(pod.clone(), nominated);
            }
            self.queue.update(pod, Instant::now());
        } else {
            self.queue.delete(&key);
            self.cache().clear_nominated(&key);
        }
    }

    fn on_pod_delete(&self, pod: &Pod) {
        let key = pod_key(pod);
        self.queue.delete(&key);
        self.cache().clear_nominated(&key);
        if self.cache().has_pod(&key) && !self.cache().is_assumed(&key) {
            self.cache().remove_pod(&key);
            self.queue.move_all(Instant::now());
        }
    }

    fn on_node(&self, node: Node) {
        let name = node.metadata.name.clone().unwrap_or_default();
        let relevant = match self.cache().node(&name).and_then(|n| n.node.clone()) {
            None => true,
            Some(old) => {
                old.spec != node.spec
                    || old.metadata.labels != node.metadata.labels
                    || old
                        .status
                        .as_ref()
                        .map(|s| (&s.allocatable, &s.capacity, &s.images))
                        != node
                            .status
                            .as_ref()
                            .map(|s| (&s.allocatable, &s.capacity, &s.images))
            }
        };
        self.cache().upsert_node(Arc::new(node));
        if relevant {
            self.queue.move_all(Instant::now());
        }
    }
}

/// The scheduler: build with [`Scheduler::new`], then [`Scheduler::run`].
pub struct Scheduler {
    shared: Arc<Shared>,
}

impl Scheduler {
    /// A scheduler for the profiles in `cfg`, talking to the apiserver via `client`.
    pub fn new(client: Client, cfg: Config, metrics: Arc<Metrics>) -> Scheduler {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
        let mut frameworks = HashMap::new();
        let mut recorders = HashMap::new();
        for p in &cfg.profiles {
            frameworks.insert(
                p.scheduler_name.clone(),
                Arc::new(Framework::new(p, cfg.percentage_of_nodes_to_score)),
            );
            recorders.insert(
                p.scheduler_name.clone(),
                Recorder::new(
                    client.clone(),
                    &p.scheduler_name,
                    &format!("{}-{host}", p.scheduler_name),
                ),
            );
        }
        Scheduler {
            shared: Arc::new(Shared {
                client,
                cache: Mutex::new(Cache::new()),
                queue: SchedulingQueue::new(cfg.queue.clone(), metrics.clone()),
                metrics,
                frameworks,
                recorders,
            }),
        }
    }

    /// The metrics this scheduler records.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.shared.metrics.clone()
    }

    /// Runs until `shutdown` completes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let sh = self.shared.clone();
        let (pods_synced_tx, mut pods_synced) = watch::channel(false);
        let (nodes_synced_tx, mut nodes_synced) = watch::channel(false);
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(pod_informer(sh.clone(), pods_synced_tx)));
        tasks.push(tokio::spawn(node_informer(sh.clone(), nodes_synced_tx)));
        let (ns_synced_tx, mut ns_synced) = watch::channel(false);
        tasks.push(tokio::spawn(namespace_informer(sh.clone(), ns_synced_tx)));
        let (pdb_synced_tx, mut pdb_synced) = watch::channel(false);
        tasks.push(tokio::spawn(pdb_informer(sh.clone(), pdb_synced_tx)));
        let (pvc_synced_tx, mut pvc_synced) = watch::channel(false);
        tasks.push(tokio::spawn(volume_informer::<PersistentVolumeClaim>(
            sh.clone(),
            pvc_synced_tx,
            VolumeKind {
                what: "PersistentVolumeClaim",
                key: |c| object_key(c),
                set: VolumeStore::set_pvc,
                keys: VolumeStore::pvc_keys,
            },
        )));
        let (pv_synced_tx, mut pv_synced) = watch::channel(false);
        tasks.push(tokio::spawn(volume_informer::<PersistentVolume>(
            sh.clone(),
            pv_synced_tx,
            VolumeKind {
                what: "PersistentVolume",
                key: |v| v.metadata.name.clone().unwrap_or_default(),
                set: VolumeStore::set_pv,
                keys: VolumeStore::pv_names,
            },
        )));
        let (sc_synced_tx, mut sc_synced) = watch::channel(false);
        tasks.push(tokio::spawn(volume_informer::<StorageClass>(
            sh.clone(),
            sc_synced_tx,
            VolumeKind {
                what: "StorageClass",
                key: |c| c.metadata.name.clone().unwrap_or_default(),
                set: VolumeStore::set_class,
                keys: VolumeStore::class_names,
            },
        )));
        let (csinode_synced_tx, mut csinode_synced) = watch::channel(false);
        tasks.push(tokio::spawn(volume_informer::<CSINode>(
            sh.clone(),
            csinode_synced_tx,
            VolumeKind {
                what: "CSINode",
                key: |n| n.metadata.name.clone().unwrap_or_default(),
                set: VolumeStore::set_csinode,
                keys: VolumeStore::csinode_names,
            },
        )));
        let s2 = sh.clone();
        tasks.push(tokio::spawn(async move {
            let mut t = tokio::time::interval(BACKOFF_FLUSH);
            loop {
                t.tick().await;
                s2.queue.flush_backoff(Instant::now());
            }
        }));
        let s3 = sh.clone();
        tasks.push(tokio::spawn(async move {
            let mut t = tokio::time::interval(UNSCHEDULABLE_FLUSH);
            loop {
                t.tick().await;
                s3.queue.flush_unschedulable(Instant::now());
            }
        }));
        tokio::pin!(shutdown);
        let synced = async {
            let _ = pods_synced.wait_for(|v| *v).await;
            let _ = nodes_synced.wait_for(|v| *v).await;
            let _ = ns_synced.wait_for(|v| *v).await;
            let _ = pdb_synced.wait_for(|v| *v).await;
            let _ = pvc_synced.wait_for(|v| *v).await;
            let _ = pv_synced.wait_for(|v| *v).await;
            let _ = sc_synced.wait_for(|v| *v).await;
            let _ = csinode_synced.wait_for(|v| *v).await;
        };
        tokio::select! {
            _ = &mut shutdown => {}
            _ = synced => {
                tracing::info!("caches synced; scheduling");
                let mut next_start = 0usize;
                loop {
                    let next = tokio::select! {
                        _ = &mut shutdown => break,
                        n = sh.queue.pop() => n,
                    };
                    let Some((qp, cycle)) = next else { break };
                    schedule_one(&sh, qp, cycle, &mut next_start);
                }
            }
        }
        sh.queue.close();
        for t in tasks {
            t.abort();
        }
        Ok(())
    }
}

async fn pod_informer(sh: Arc<Shared>, synced: watch::Sender<bool>) {
    let api: Api<Pod> = Api::all(sh.client.clone());
    let (store, writer) = reflector::store();
    let stream =
        reflector::reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
    futures::pin_mut!(stream);
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => sh.on_pod(p),
            Ok(watcher::Event::Delete(p)) => sh.on_pod_delete(&p),
            Ok(watcher::Event::Init) => {}
            Ok(watcher::Event::InitDone) => {
                reconcile_pods(&sh, &store);
                let _ = synced.send(true);
            }
            Err(e) => tracing::warn!(error = %e, "pod watch failed; retrying"),
        }
    }
}

/// After a relist: forget bound pods the list no longer has.
fn reconcile_pods(sh: &Shared, store: &Store<Pod>) {
    let live: HashSet<String> = store.state().iter().map(|p| pod_key(p)).collect();
    let gone: Vec<String> = sh
        .cache()
        .bound_pod_keys()
        .into_iter()
        .filter(|k| !live.contains(k))
        .collect();
    if gone.is_empty() {
        return;
    }
    for k in &gone {
        sh.cache().remove_pod(k);
        sh.queue.delete(k);
    }
    sh.queue.move_all(Instant::now());
}

async fn node_informer(sh: Arc<Shared>, synced: watch::Sender<bool>) {
    let api: Api<Node> = Api::all(sh.client.clone());
    let (store, writer) = reflector::store();
    let stream =
        reflector::reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
    futures::pin_mut!(stream);
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(watcher::Event::Apply(n) | watcher::Event::InitApply(n)) => sh.on_node(n),
            Ok(watcher::Event::Delete(n)) => {
                sh.cache()
                    .remove_node(n.metadata.name.as_deref().unwrap_or(""));
            }
            Ok(watcher::Event::Init) => {}
            Ok(watcher::Event::InitDone) => {
                let live: HashSet<String> = store
                    .state()
                    .iter()
                    .filter_map(|n| n.metadata.name.clone())
                    .collect();
                let names = sh.cache().node_names();
                for n in names.iter().filter(|n| !live.contains(*n)) {
                    sh.cache().remove_node(n);
                }
                let _ = synced.send(true);
            }
            Err(e) => tracing::warn!(error = %e, "node watch failed; retrying"),
        }
    }
}

async fn namespace_informer(sh: Arc<Shared>, synced: watch::Sender<bool>) {
    let api: Api<Namespace> = Api::all(sh.client.clone());
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    futures::pin_mut!(stream);
    let mut seen = HashSet::new();
    let mut listed = HashSet::new();
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(watcher::Event::Apply(n) | watcher::Event::InitApply(n)) => {
                let name = n.metadata.name.clone().unwrap_or_default();
                listed.insert(name.clone());
                seen.insert(name.clone());
                let changed = sh
                    .cache()
                    .set_namespace(&name, Some(n.metadata.labels.unwrap_or_default()));
                // New labels may satisfy a pending pod's namespaceSelector.
                if changed {
                    sh.queue.move_all(Instant::now());
                }
            }
            Ok(watcher::Event::Delete(n)) => {
                let name = n.metadata.name.unwrap_or_default();
                seen.remove(&name);
                let _ = sh.cache().set_namespace(&name, None);
            }
            Ok(watcher::Event::Init) => listed.clear(),
            Ok(watcher::Event::InitDone) => {
                for gone in seen.difference(&listed).cloned().collect::<Vec<_>>() {
                    seen.remove(&gone);
                    let _ = sh.cache().set_namespace(&gone, None);
                }
                let _ = synced.send(true);
            }
            Err(e) => tracing::warn!(error = %e, "namespace watch failed; retrying"),
        }
    }
}

async fn pdb_informer(sh: Arc<Shared>, synced: watch::Sender<bool>) {
    let api: Api<PodDisruptionBudget> = Api::all(sh.client.clone());
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    futures::pin_mut!(stream);
    let key = |p: &PodDisruptionBudget| {
        format!(
            "{}/{}",
            p.metadata.namespace.as_deref().unwrap_or(""),
            p.metadata.name.as_deref().unwrap_or("")
        )
    };
    let mut seen = HashSet::new();
    let mut listed = HashSet::new();
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => {
                let k = key(&p);
                listed.insert(k.clone());
                seen.insert(k.clone());
                sh.cache().set_pdb(&k, Some(Arc::new(p)));
            }
            Ok(watcher::Event::Delete(p)) => {
                let k = key(&p);
                seen.remove(&k);
                sh.cache().set_pdb(&k, None);
            }
            Ok(watcher::Event::Init) => listed.clear(),
            Ok(watcher::Event::InitDone) => {
                for gone in seen.difference(&listed).cloned().collect::<Vec<_>>() {
                    seen.remove(&gone);
                    sh.cache().set_pdb(&gone, None);
                }
                let _ = synced.send(true);
            }
            Err(e) => tracing::warn!(error = %e, "PodDisruptionBudget watch failed; retrying"),
        }
    }
}

/// How one volume-related kind is keyed and stored.
struct VolumeKind<K> {
    what: &'static str,
    key: fn(&K) -> String,
    set: fn(&mut VolumeStore, &str, Option<Arc<K>>) -> bool,
    keys: fn(&VolumeStore) -> Vec<String>,
}

/// Claims, volumes, classes or CSINodes into the cache's [`VolumeStore`];
/// a change retries unschedulable pods (upstream's PVC/PV/StorageClass/
/// CSINode add and update events of the volume plugins).
async fn volume_informer<K>(sh: Arc<Shared>, synced: watch::Sender<bool>, kind: VolumeKind<K>)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let api: Api<K> = Api::all(sh.client.clone());
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    futures::pin_mut!(stream);
    let mut listed = HashSet::new();
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                let k = (kind.key)(&o);
                listed.insert(k.clone());
                let changed = (kind.set)(sh.cache().volumes_mut(), &k, Some(Arc::new(o)));
                if changed {
                    sh.queue.move_all(Instant::now());
                }
            }
            Ok(watcher::Event::Delete(o)) => {
                let k = (kind.key)(&o);
                listed.remove(&k);
                (kind.set)(sh.cache().volumes_mut(), &k, None);
            }
            Ok(watcher::Event::Init) => listed.clear(),
            Ok(watcher::Event::InitDone) => {
                let mut cache = sh.cache();
                let store = cache.volumes_mut();
                for gone in (kind.keys)(store)
                    .into_iter()
                    .filter(|k| !listed.contains(k))
                {
                    (kind.set)(store, &gone, None);
                }
                drop(cache);
                let _ = synced.send(true);
            }
            Err(e) => tracing::warn!(error = %e, kind = kind.what, "watch failed; retrying"),
        }
    }
}

/// One scheduling cycle (synchronous); binding and reporting run in tasks.
fn schedule_one(sh: &Arc<Shared>, qp: QueuedPod, cycle: u64, next_start: &mut usize) {
    let start = Instant::now();
    let key = qp.key.clone();
    let profile = scheduler_name(&qp.pod).to_string();
    let Some(fw) = sh.frameworks.get(&profile).cloned() else {
        sh.queue.done(&key);
        return;
    };
    if sh.cache().has_pod(&key) {
        // Already assumed or bound: nothing to do.
        sh.queue.done(&key);
        return;
    }
    let info = PodInfo::new(qp.pod.clone());
    let snap = sh.cache().snapshot();
    let outcome = fw.schedule(&info, &snap, next_start, &mut rand::rng());
    match outcome {
        Outcome::Node {
            name,
            evaluated,
            feasible,
        } => {
            tracing::debug!(pod = %key, node = %name, evaluated, feasible, "selected node");
            let reserved = match fw.reserve(&info, &name, &snap) {
                Ok(r) => r,
                Err((plugin, f)) => {
                    let msg = format!(
                        "running Reserve plugin {plugin:?}: {}",
                        f.reasons.join(", ")
                    );
                    tracing::warn!(pod = %key, node = %name, "{msg}");
                    sh.metrics.observe_attempt(
                        AttemptResult::Error,
                        &profile,
                        start.elapsed().as_secs_f64(),
                    );
                    let pod = qp.pod.clone();
                    sh.queue.add_unschedulable(qp, cycle, true, Instant::now());
                    let sh = sh.clone();
                    tokio::spawn(async move {
                        report_failure(&sh, &pod, &profile, "SchedulerError", &msg).await
                    });
                    return;
                }
            };
            let mut assumed = (*qp.pod).clone();
            if let Some(s) = assumed.spec.as_mut() {
                s.node_name = Some(name.clone());
            }
            {
                let mut cache = sh.cache();
                for r in &reserved {
                    r.assume(&mut cache);
                }
                cache.assume_pod(Arc::new(assumed));
            }
            sh.queue.done(&key);
            let sh = sh.clone();
            let attempt = Attempt {
                qp,
                cycle,
                node: name,
                profile,
                start,
                reserved,
            };
            tokio::spawn(async move { bind(sh, attempt).await });
        }
        Outcome::Unschedulable(fe) => {
            let msg = fe.to_string();
            tracing::info!(pod = %key, "unschedulable: {msg}");
            sh.metrics.observe_attempt(
                AttemptResult::Unschedulable,
                &profile,
                start.elapsed().as_secs_f64(),
            );
            let pod = qp.pod.clone();
            if let Some(nom) = &fe.nomination {
                let mut cache = sh.cache();
                for d in &nom.displaced {
                    cache.clear_nominated(&pod_key(d));
                }
                cache.set_nominated(pod.clone(), Some(nom.node.clone()));
            }
            sh.queue.add_unschedulable(qp, cycle, false, Instant::now());
            let sh = sh.clone();
            tokio::spawn(async move {
                if let Some(nom) = fe.nomination {
                    preempt(&sh, &pod, &profile, nom).await;
                }
                report_failure(&sh, &pod, &profile, "Unschedulable", &msg).await
            });
        }
        Outcome::NoNodes => {
            let msg = "no nodes available to schedule pods".to_string();
            sh.metrics.observe_attempt(
                AttemptResult::Error,
                &profile,
                start.elapsed().as_secs_f64(),
            );
            let pod = qp.pod.clone();
            sh.queue.add_unschedulable(qp, cycle, true, Instant::now());
            let sh = sh.clone();
            tokio::spawn(async move {
                report_failure(&sh, &pod, &profile, "SchedulerError", &msg).await
            });
        }
    }
}

/// A pod assumed on a node, on its way through PreBind and binding.
struct Attempt {
    qp: QueuedPod,
    cycle: u64,
    node: String,
    profile: String,
    start: Instant,
    /// The plugins' reservations (undone if the pod is not bound).
    reserved: Vec<Arc<dyn Reservation>>,
}

/// Upstream's binding-cycle failure: Unreserve, forget the assumed pod,
/// back off, and report `SchedulerError`.
async fn binding_failed(sh: &Arc<Shared>, a: Attempt, msg: &str) {
    sh.metrics.observe_attempt(
        AttemptResult::Error,
        &a.profile,
        a.start.elapsed().as_secs_f64(),
    );
    {
        let mut cache = sh.cache();
        for r in a.reserved.iter().rev() {
            r.unreserve(&mut cache);
        }
        cache.forget_pod(&a.qp.key);
    }
    let pod = a.qp.pod.clone();
    sh.queue
        .add_unschedulable(a.qp, a.cycle, true, Instant::now());
    report_failure(sh, &pod, &a.profile, "SchedulerError", msg).await;
    // The cache lost a pod: others may fit now.
    sh.queue.move_all(Instant::now());
}

async fn bind(sh: Arc<Shared>, a: Attempt) {
    for r in &a.reserved {
        if let Err(e) = r.clone().pre_bind(sh.client.clone()).await {
            let msg = format!("running PreBind plugin {:?}: {e}", r.plugin());
            tracing::warn!(pod = %a.qp.key, node = %a.node, "{msg}");
            binding_failed(&sh, a, &msg).await;
            return;
        }
    }
    let (qp, node, profile, start) = (&a.qp, a.node.clone(), a.profile.clone(), a.start);
    let pod = qp.pod.clone();
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.clone()),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        },
        target: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.clone()),
            ..Default::default()
        },
    };
    let api: Api<Pod> = Api::namespaced(sh.client.clone(), &ns);
    let res = api
        .create_subresource::<Binding, serde_json::Value>(
            "binding",
            &name,
            &PostParams::default(),
            &binding,
        )
        .await;
    match res {
        Ok(_) => {
            sh.metrics.observe_attempt(
                AttemptResult::Scheduled,
                &profile,
                start.elapsed().as_secs_f64(),
            );
            tracing::info!(pod = %qp.key, node = %node, "bound");
            if let Some(r) = sh.recorders.get(&profile) {
                let note = format!("Successfully assigned {ns}/{name} to {node}");
                if let Err(e) = r
                    .publish(&pod, "Normal", "Scheduled", "Binding", &note)
                    .await
                {
                    tracing::warn!(error = %e, pod = %qp.key, "recording Scheduled event");
                }
            }
        }
        Err(e) => {
            let gone = matches!(&e, kube::Error::Api(s) if s.code == 404);
            tracing::warn!(error = %e, pod = %qp.key, node = %node, "binding failed");
            if gone {
                sh.metrics.observe_attempt(
                    AttemptResult::Error,
                    &profile,
                    start.elapsed().as_secs_f64(),
                );
                let mut cache = sh.cache();
                for r in a.reserved.iter().rev() {
                    r.unreserve(&mut cache);
                }
                cache.forget_pod(&qp.key);
                drop(cache);
                sh.queue.done(&qp.key);
                return;
            }
            let msg = format!("binding rejected: {e}");
            binding_failed(&sh, a, &msg).await;
        }
    }
}

/// Upstream `prepareCandidate` + the nomination: evicts the victims
/// (graceful deletion, a `Preempted` event on each), clears the nomination
/// of lower-priority pods nominated to the node, and sets
/// `status.nominatedNodeName` on the preemptor.
async fn preempt(sh: &Shared, pod: &Pod, profile: &str, nom: Nomination) {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    for v in &nom.victims {
        let ns = v.metadata.namespace.clone().unwrap_or_default();
        let name = v.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(sh.client.clone(), &ns);
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {
                tracing::info!(preemptor = %pod_key(pod), victim = %format!("{ns}/{name}"), node = %nom.node, "preempted");
                if let Some(r) = sh.recorders.get(profile) {
                    let note = format!("Preempted by pod {uid} on node {}", nom.node);
                    if let Err(e) = r
                        .publish(v, "Normal", "Preempted", "Preempting", &note)
                        .await
                    {
                        tracing::warn!(error = %e, "recording Preempted event");
                    }
                }
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                tracing::warn!(error = %e, victim = %format!("{ns}/{name}"), "deleting preemption victim")
            }
        }
    }
    for d in &nom.displaced {
        let ns = d.metadata.namespace.clone().unwrap_or_default();
        let name = d.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(sh.client.clone(), &ns);
        let patch = json!({"status": {"nominatedNodeName": null}});
        if let Err(e) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            tracing::warn!(error = %e, pod = %format!("{ns}/{name}"), "clearing nominatedNodeName");
        }
    }
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(sh.client.clone(), &ns);
    let patch = json!({"status": {"nominatedNodeName": nom.node}});
    if let Err(e) = api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        tracing::warn!(error = %e, pod = %format!("{ns}/{name}"), "setting nominatedNodeName");
    }
}

/// `PodScheduled=False` with `reason` and `msg` (only when it changed) and
/// a `FailedScheduling` Warning event.
async fn report_failure(sh: &Shared, pod: &Pod, profile: &str, reason: &str, msg: &str) {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let old = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
    let same = old.is_some_and(|c| {
        c.status == "False"
            && c.reason.as_deref() == Some(reason)
            && c.message.as_deref() == Some(msg)
    });
    if !same {
        let transition = match old {
            Some(c) if c.status == "False" => c
                .last_transition_time
                .as_ref()
                .map(|t| json!(t))
                .unwrap_or_else(|| json!(now_rfc3339())),
            _ => json!(now_rfc3339()),
        };
        let patch = json!({"status": {"conditions": [{
            "type": "PodScheduled",
            "status": "False",
            "reason": reason,
            "message": msg,
            "lastProbeTime": null,
            "lastTransitionTime": transition,
        }]}});
        let api: Api<Pod> = Api::namespaced(sh.client.clone(), &ns);
        if let Err(e) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
        {
            tracing::warn!(error = %e, pod = %format!("{ns}/{name}"), "updating PodScheduled condition");
        }
    }
    if let Some(r) = sh.recorders.get(profile) {
        if let Err(e) = r
            .publish(pod, "Warning", "FailedScheduling", "Scheduling", msg)
            .await
        {
            tracing::warn!(error = %e, pod = %format!("{ns}/{name}"), "recording FailedScheduling event");
        }
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
