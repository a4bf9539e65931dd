//! The garbage collector (upstream `pkg/controller/garbagecollector`).
//!
//! Every resource the API's discovery lists as listable, watchable and
//! deletable is watched; the objects' `ownerReferences` form a graph (owner
//! uid -> dependents). When an owner disappears, its dependents are
//! checked: references to owners that are gone (verified with a live read)
//! are dangling; a dependent with no remaining owner is deleted, with the
//! propagation its own finalizers ask for (background by default).
//! Foreground deletion: an owner with a deletion timestamp and the
//! `foregroundDeletion` finalizer has its dependents deleted (foreground
//! too); once no dependent with `blockOwnerDeletion` remains, the
//! finalizer is removed and the apiserver deletes the owner. Orphan
//! deletion: the `orphan` finalizer makes the collector remove the owner's
//! references from its dependents, then the finalizer.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use client_support::{Informer, InformerEvent, WorkQueue};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, DynamicObject, PostParams, Preconditions, PropagationPolicy};
use kube::discovery::{verbs, ApiResource, Discovery, Scope};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};

use crate::util::is_code;
use crate::worker::run_workers;
use crate::{Context, Error};

const FOREGROUND: &str = "foregroundDeletion";
const ORPHAN: &str = "orphan";

#[derive(Clone, Debug)]
struct Node {
    ar: ApiResource,
    namespaced: bool,
    namespace: Option<String>,
    name: String,
    owners: Vec<OwnerReference>,
    deleting: bool,
    finalizers: Vec<String>,
}

impl Node {
    fn deleting_dependents(&self) -> bool {
        self.deleting && self.finalizers.iter().any(|f| f == FOREGROUND)
    }
    fn orphaning(&self) -> bool {
        self.deleting && self.finalizers.iter().any(|f| f == ORPHAN)
    }
}

#[derive(Default)]
struct Graph {
    nodes: HashMap<String, Node>,
    dependents: HashMap<String, HashSet<String>>,
}

type Kinds = HashMap<(String, String), (ApiResource, bool)>;

/// The collector: its graph, queues and watches.
pub struct GarbageCollector {
    ctx: Arc<Context>,
    graph: Arc<Mutex<Graph>>,
    delete_q: WorkQueue<String>,
    orphan_q: WorkQueue<String>,
}

fn lock(g: &Mutex<Graph>) -> std::sync::MutexGuard<'_, Graph> {
    g.lock().unwrap_or_else(|e| e.into_inner())
}

impl GarbageCollector {
    /// A collector; it discovers resources when run.
    pub fn new(ctx: Arc<Context>) -> Self {
        GarbageCollector {
            ctx,
            graph: Arc::new(Mutex::new(Graph::default())),
            delete_q: WorkQueue::new(),
            orphan_q: WorkQueue::new(),
        }
    }

    fn on_event(
        graph: &Mutex<Graph>,
        dq: &WorkQueue<String>,
        oq: &WorkQueue<String>,
        ar: &ApiResource,
        namespaced: bool,
        ev: &InformerEvent<DynamicObject>,
    ) {
        let mut g = lock(graph);
        match ev {
            InformerEvent::Applied { new, .. } => {
                let Some(uid) = new.metadata.uid.clone() else {
                    return;
                };
                let node = Node {
                    ar: ar.clone(),
                    namespaced,
                    namespace: new.metadata.namespace.clone(),
                    name: new.name_any(),
                    owners: new.metadata.owner_references.clone().unwrap_or_default(),
                    deleting: new.metadata.deletion_timestamp.is_some(),
                    finalizers: new.metadata.finalizers.clone().unwrap_or_default(),
                };
                if let Some(old) = g.nodes.get(&uid).cloned() {
                    for o in &old.owners {
                        if let Some(s) = g.dependents.get_mut(&o.uid) {
                            s.remove(&uid);
                        }
                    }
                    // Owners whose blocking dependent changed may be waiting.
                    for o in &old.owners {
                        if g.nodes.get(&o.uid).is_some_and(Node::deleting_dependents) {
                            dq.add(o.uid.clone());
                        }
                    }
                }
                for o in &node.owners {
                    g.dependents
                        .entry(o.uid.clone())
                        .or_default()
                        .insert(uid.clone());
                }
                let mut check_self = false;
                for o in &node.owners {
                    match g.nodes.get(&o.uid) {
                        None => check_self = true,
                        Some(owner) if owner.deleting_dependents() => {
                            check_self = true;
                            dq.add(o.uid.clone());
                        }
                        Some(_) => {}
                    }
                }
                if node.deleting_dependents() {
                    dq.add(uid.clone());
                    for d in g.dependents.get(&uid).into_iter().flatten() {
                        dq.add(d.clone());
                    }
                }
                if node.orphaning() {
                    oq.add(uid.clone());
                }
                if check_self {
                    dq.add(uid.clone());
                }
                g.nodes.insert(uid, node);
            }
            InformerEvent::Deleted(o) => {
                let Some(uid) = o.metadata.uid.clone() else {
                    return;
                };
                if let Some(node) = g.nodes.remove(&uid) {
                    for ow in &node.owners {
                        if let Some(s) = g.dependents.get_mut(&ow.uid) {
                            s.remove(&uid);
                        }
                        if g.nodes.get(&ow.uid).is_some_and(Node::deleting_dependents) {
                            dq.add(ow.uid.clone());
                        }
                    }
                }
                for d in g.dependents.get(&uid).into_iter().flatten() {
                    dq.add(d.clone());
                }
            }
        }
    }

    /// Discovers resources, watches them and runs the workers; returns
    /// when the queues are shut down.
    pub async fn run(self) {
        let client = self.ctx.client.clone();
        let discovery = loop {
            match Discovery::new(client.clone()).run().await {
                Ok(d) => break d,
                Err(e) => {
                    tracing::warn!(error = %e, "garbage collector: discovery failed; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        };
        let mut kinds: Kinds = HashMap::new();
        let mut informers = Vec::new();
        for g in discovery.groups() {
            for v in g.versions() {
                for (ar, caps) in g.versioned_resources(v) {
                    kinds.insert(
                        (ar.api_version.clone(), ar.kind.clone()),
                        (ar.clone(), caps.scope == Scope::Namespaced),
                    );
                }
            }
            if g.name() == "events.k8s.io" {
                // The same objects as core/v1 events.
                continue;
            }
            for (ar, caps) in g.recommended_resources() {
                if !(caps.supports_operation(verbs::LIST)
                    && caps.supports_operation(verbs::WATCH)
                    && caps.supports_operation(verbs::DELETE))
                {
                    continue;
                }
                let namespaced = caps.scope == Scope::Namespaced;
                let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
                let (graph, dq, oq, ar2) = (
                    self.graph.clone(),
                    self.delete_q.clone(),
                    self.orphan_q.clone(),
                    ar.clone(),
                );
                let inf =
                    Informer::spawn_with(api, watcher::Config::default(), ar.clone(), move |ev| {
                        Self::on_event(&graph, &dq, &oq, &ar2, namespaced, &ev)
                    });
                informers.push(inf);
            }
        }
        for i in &informers {
            i.wait_synced().await;
        }
        tracing::info!(resources = informers.len(), "garbage collector synced");
        let kinds = Arc::new(kinds);
        let workers = self.ctx.opts.concurrent_gc_syncs;
        let (graph, k, c) = (self.graph.clone(), kinds.clone(), client.clone());
        let dq = self.delete_q.clone();
        let del = run_workers(
            "garbagecollector",
            self.delete_q.clone(),
            workers,
            self.ctx.metrics.clone(),
            move |uid| {
                let (graph, k, c, dq) = (graph.clone(), k.clone(), c.clone(), dq.clone());
                async move { attempt_to_delete(&c, &graph, &k, &dq, &uid).await }
            },
        );
        let (graph, k, c) = (self.graph.clone(), kinds.clone(), client.clone());
        let orph = run_workers(
            "garbagecollector-orphan",
            self.orphan_q.clone(),
            workers,
            self.ctx.metrics.clone(),
            move |uid| {
                let (graph, k, c) = (graph.clone(), k.clone(), c.clone());
                async move { attempt_to_orphan(&c, &graph, &k, &uid).await }
            },
        );
        let _informers = informers;
        futures::future::join(del, orph).await;
    }
}

fn api_for(
    client: &Client,
    ar: &ApiResource,
    namespaced: bool,
    ns: Option<&str>,
) -> Api<DynamicObject> {
    match (namespaced, ns) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, ar),
        _ => Api::all_with(client.clone(), ar),
    }
}

enum OwnerState {
    Solid,
    Dangling,
    Waiting,
}

async fn owner_state(
    client: &Client,
    graph: &Mutex<Graph>,
    kinds: &Kinds,
    node: &Node,
    r: &OwnerReference,
) -> Result<OwnerState, Error> {
    let waiting = |deleting_dependents: bool| {
        if deleting_dependents && r.block_owner_deletion == Some(true) {
            OwnerState::Waiting
        } else {
            OwnerState::Solid
        }
    };
    if let Some(o) = lock(graph).nodes.get(&r.uid) {
        return Ok(waiting(o.deleting_dependents()));
    }
    let Some((ar, namespaced)) = kinds.get(&(r.api_version.clone(), r.kind.clone())) else {
        // Unknown kind: never collect on a guess.
        tracing::debug!(kind = %r.kind, api_version = %r.api_version, "owner kind not served; keeping dependent");
        return Ok(OwnerState::Solid);
    };
    let api = api_for(client, ar, *namespaced, node.namespace.as_deref());
    match api.get_opt(&r.name).await {
        Ok(None) => Ok(OwnerState::Dangling),
        Ok(Some(o)) if o.metadata.uid.as_deref() != Some(r.uid.as_str()) => {
            Ok(OwnerState::Dangling)
        }
        Ok(Some(o)) => Ok(waiting(
            o.metadata.deletion_timestamp.is_some()
                && o.finalizers().iter().any(|f| f == FOREGROUND),
        )),
        Err(e) => Err(Error::kube(format!("getting owner {} {}", r.kind, r.name))(
            e,
        )),
    }
}

/// Reads the object live and writes it back changed by `f` (409 retried by
/// the queue); 404 is success.
async fn update_live(
    api: &Api<DynamicObject>,
    name: &str,
    f: impl FnOnce(&mut DynamicObject) -> bool,
) -> Result<(), Error> {
    let Some(mut o) = api
        .get_opt(name)
        .await
        .map_err(Error::kube(format!("getting {name}")))?
    else {
        return Ok(());
    };
    if !f(&mut o) {
        return Ok(());
    }
    match api.replace(name, &PostParams::default(), &o).await {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, 404) => Ok(()),
        Err(e) => Err(Error::kube(format!("updating {name}"))(e)),
    }
}

async fn attempt_to_delete(
    client: &Client,
    graph: &Mutex<Graph>,
    kinds: &Kinds,
    dq: &WorkQueue<String>,
    uid: &str,
) -> Result<Option<Duration>, Error> {
    let Some(node) = lock(graph).nodes.get(uid).cloned() else {
        return Ok(None);
    };
    let api = api_for(client, &node.ar, node.namespaced, node.namespace.as_deref());
    if node.deleting_dependents() {
        let blocking: Vec<(String, bool)> = {
            let g = lock(graph);
            g.dependents
                .get(uid)
                .into_iter()
                .flatten()
                .filter_map(|d| g.nodes.get(d).map(|n| (d, n)))
                .filter(|(_, n)| {
                    n.owners
                        .iter()
                        .any(|o| o.uid == uid && o.block_owner_deletion == Some(true))
                })
                .map(|(d, n)| (d.clone(), n.deleting))
                .collect()
        };
        if blocking.is_empty() {
            update_live(&api, &node.name, |o| {
                let before = o.finalizers().len();
                o.finalizers_mut().retain(|f| f != FOREGROUND);
                o.finalizers().len() != before
            })
            .await?;
            return Ok(None);
        }
        for (d, deleting) in blocking {
            if !deleting {
                dq.add(d);
            }
        }
        return Ok(None);
    }
    if node.deleting || node.owners.is_empty() {
        return Ok(None);
    }
    let mut solid = Vec::new();
    let mut dangling = Vec::new();
    let mut waiting = Vec::new();
    for r in &node.owners {
        match owner_state(client, graph, kinds, &node, r).await? {
            OwnerState::Solid => solid.push(r.uid.clone()),
            OwnerState::Dangling => dangling.push(r.uid.clone()),
            OwnerState::Waiting => waiting.push(r.uid.clone()),
        }
    }
    let precondition = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    let has_dependents = lock(graph)
        .dependents
        .get(uid)
        .is_some_and(|s| !s.is_empty());
    if !solid.is_empty() {
        if dangling.is_empty() && waiting.is_empty() {
            return Ok(None);
        }
        let drop: HashSet<String> = dangling.into_iter().chain(waiting).collect();
        return update_live(&api, &node.name, |o| {
            if o.metadata.uid.as_deref() != Some(uid) {
                return false;
            }
            let refs = o.metadata.owner_references.get_or_insert_with(Vec::new);
            let before = refs.len();
            refs.retain(|r| !drop.contains(&r.uid));
            refs.len() != before
        })
        .await
        .map(|_| None);
    }
    let policy = if !waiting.is_empty() && has_dependents {
        PropagationPolicy::Foreground
    } else if node.finalizers.iter().any(|f| f == ORPHAN) {
        PropagationPolicy::Orphan
    } else if node.finalizers.iter().any(|f| f == FOREGROUND) {
        PropagationPolicy::Foreground
    } else {
        PropagationPolicy::Background
    };
    tracing::info!(kind = %node.ar.kind, namespace = ?node.namespace, name = %node.name, ?policy, "deleting object whose owners are gone");
    let dp = DeleteParams {
        propagation_policy: Some(policy),
        ..precondition
    };
    match api.delete(&node.name, &dp).await {
        Ok(_) => Ok(None),
        Err(e) if is_code(&e, 404) || is_code(&e, 409) => Ok(None),
        Err(e) => Err(Error::kube(format!(
            "deleting {} {}",
            node.ar.kind, node.name
        ))(e)),
    }
}

async fn attempt_to_orphan(
    client: &Client,
    graph: &Mutex<Graph>,
    _kinds: &Kinds,
    uid: &str,
) -> Result<Option<Duration>, Error> {
    let Some(node) = lock(graph).nodes.get(uid).cloned() else {
        return Ok(None);
    };
    if !node.orphaning() {
        return Ok(None);
    }
    let deps: Vec<Node> = {
        let g = lock(graph);
        g.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|d| g.nodes.get(d).cloned())
            .collect()
    };
    for d in deps {
        let api = api_for(client, &d.ar, d.namespaced, d.namespace.as_deref());
        update_live(&api, &d.name, |o| {
            let refs = o.metadata.owner_references.get_or_insert_with(Vec::new);
            let before = refs.len();
            refs.retain(|r| r.uid != uid);
            refs.len() != before
        })
        .await?;
    }
    let api = api_for(client, &node.ar, node.namespaced, node.namespace.as_deref());
    update_live(&api, &node.name, |o| {
        let before = o.finalizers().len();
        o.finalizers_mut().retain(|f| f != ORPHAN);
        o.finalizers().len() != before
    })
    .await?;
    Ok(None)
}
