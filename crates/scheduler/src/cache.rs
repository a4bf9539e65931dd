//! The scheduler cache: nodes and the pods counted on them.
//!
//! A pod counts on its node from the moment the scheduler *assumes* it
//! (right after choosing the node, before the binding is written), so the
//! next cycle already sees the resources taken. When the bound pod arrives
//! from the watch, the assumption is confirmed (or moved, if it landed
//! elsewhere); a failed binding *forgets* it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use crate::nodeinfo::{pod_key, NodeInfo, PodEntry};
use crate::volumes::{VolumeStore, Volumes};

/// The nodes one scheduling cycle works on (cheap to take: `Arc`s).
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Nodes that exist, in a stable order (by name). Shared with the
    /// cache, which replaces only the entries of nodes that changed.
    pub nodes: Arc<Vec<Arc<NodeInfo>>>,
    /// Node name -> position in `nodes`.
    pub positions: Arc<HashMap<String, usize>>,
    /// Pods with any (anti-)affinity term, over all nodes (lets
    /// InterPodAffinity skip its scan when there are none).
    pub pods_with_affinity: usize,
    /// Pods with required anti-affinity, over all nodes.
    pub pods_with_required_anti: usize,
    /// Normalised image name -> number of nodes that have it.
    pub image_nodes: Arc<HashMap<String, usize>>,
    /// Namespace name -> labels (for pod affinity `namespaceSelector`).
    pub namespaces: Arc<HashMap<String, BTreeMap<String, String>>>,
    /// Node name -> pending pods nominated to it (`status.nominatedNodeName`).
    pub nominated: Arc<HashMap<String, Vec<PodEntry>>>,
    /// PodDisruptionBudgets (preemption prefers not to violate them).
    pub pdbs: Arc<Vec<Arc<PodDisruptionBudget>>>,
    /// Claims, volumes and storage classes (with assumed bindings).
    pub volumes: Volumes,
}

impl Snapshot {
    /// A snapshot of `nodes` (their order kept), with the index and totals.
    pub fn with_nodes(nodes: impl IntoIterator<Item = NodeInfo>) -> Snapshot {
        let mut s = Snapshot::default();
        s.set_nodes(nodes.into_iter().map(Arc::new).collect());
        s
    }

    fn set_nodes(&mut self, nodes: Vec<Arc<NodeInfo>>) {
        self.positions = Arc::new(
            nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (n.name.clone(), i))
                .collect(),
        );
        self.pods_with_affinity = nodes.iter().map(|n| n.pods_with_affinity).sum();
        self.pods_with_required_anti = nodes.iter().map(|n| n.pods_with_required_anti).sum();
        self.nodes = Arc::new(nodes);
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&Arc<NodeInfo>> {
        self.positions.get(name).and_then(|&i| self.nodes.get(i))
    }

    /// This snapshot with one node replaced (for "what if" filtering).
    pub fn with_node(&self, node: NodeInfo) -> Snapshot {
        let mut s = self.clone();
        if let Some(&i) = s.positions.get(&node.name) {
            let old = &s.nodes[i];
            s.pods_with_affinity =
                s.pods_with_affinity - old.pods_with_affinity + node.pods_with_affinity;
            s.pods_with_required_anti = s.pods_with_required_anti - old.pods_with_required_anti
                + node.pods_with_required_anti;
            Arc::make_mut(&mut s.nodes)[i] = Arc::new(node);
        }
        s
    }

    /// The node a pending pod is nominated to, if any.
    pub fn nominated_node_of(&self, key: &str) -> Option<&str> {
        self.nominated
            .iter()
            .find(|(_, ps)| ps.iter().any(|p| p.key == key))
            .map(|(n, _)| n.as_str())
    }
}

#[derive(Debug)]
struct PodState {
    node: String,
    assumed: bool,
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Cache {
    nodes: BTreeMap<String, Arc<NodeInfo>>,
    pods: HashMap<String, PodState>,
    image_nodes: Arc<HashMap<String, usize>>,
    images_dirty: bool,
    snapshot: Option<Snapshot>,
    /// The node part of the next snapshot, kept between cycles: a cycle
    /// that changes one node replaces one entry instead of copying 5000.
    snap_nodes: Snapshot,
    /// Nodes changed since `snap_nodes` was brought up to date.
    snap_dirty: HashSet<String>,
    /// A node appeared or went: `snap_nodes` is rebuilt.
    snap_rebuild: bool,
    namespaces: Arc<HashMap<String, BTreeMap<String, String>>>,
    /// Pod key -> (nominated node, pod).
    nominated: HashMap<String, (String, PodEntry)>,
    /// `namespace/name` -> PDB.
    pdbs: BTreeMap<String, Arc<PodDisruptionBudget>>,
    volumes: VolumeStore,
}

impl Cache {
    pub fn new() -> Cache {
        Cache::default()
    }

    fn node_mut(&mut self, name: &str) -> &mut NodeInfo {
        self.snapshot = None;
        if self.nodes.contains_key(name) {
            self.snap_dirty.insert(name.to_string());
        } else {
            self.snap_rebuild = true;
        }
        Arc::make_mut(
            self.nodes
                .entry(name.to_string())
                .or_insert_with(|| Arc::new(NodeInfo::new(name))),
        )
    }

    /// Adds or replaces a node object.
    pub fn upsert_node(&mut self, node: Arc<Node>) {
        let name = node.metadata.name.clone().unwrap_or_default();
        if self.nodes.get(&name).is_none_or(|n| n.node.is_none()) {
            self.snap_rebuild = true;
        }
        self.node_mut(&name).set_node(node);
        self.images_dirty = true;
    }

    /// Removes a node; its pods stay accounted until they are deleted.
    pub fn remove_node(&mut self, name: &str) {
        self.snapshot = None;
        self.snap_rebuild = true;
        self.images_dirty = true;
        let Some(ni) = self.nodes.get_mut(name) else {
            return;
        };
        if ni.pods.is_empty() {
            self.nodes.remove(name);
        } else {
            Arc::make_mut(ni).node = None;
        }
    }

    /// Adds, replaces or (labels `None`) removes a namespace's labels.
    /// Returns whether anything changed.
    pub fn set_namespace(&mut self, name: &str, labels: Option<BTreeMap<String, String>>) -> bool {
        if self.namespaces.get(name) == labels.as_ref() {
            return false;
        }
        let m = Arc::make_mut(&mut self.namespaces);
        match labels {
            Some(l) => m.insert(name.to_string(), l),
            None => m.remove(name),
        };
        self.snapshot = None;
        true
    }

    /// Records (or with `None` forgets) that a pending pod is nominated
    /// to run on a node once preemption victims are gone.
    pub fn set_nominated(&mut self, pod: Arc<Pod>, node: Option<String>) {
        let key = pod_key(&pod);
        let changed = match node {
            Some(n) if !n.is_empty() => {
                self.nominated.insert(key, (n, PodEntry::new(pod)));
                true
            }
            _ => self.nominated.remove(&key).is_some(),
        };
        if changed {
            self.snapshot = None;
        }
    }

    /// Adds, replaces or (`None`) removes a PodDisruptionBudget.
    pub fn set_pdb(&mut self, key: &str, pdb: Option<Arc<PodDisruptionBudget>>) {
        match pdb {
            Some(p) => self.pdbs.insert(key.to_string(), p),
            None => self.pdbs.remove(key),
        };
        self.snapshot = None;
    }

    /// The volume objects, for the informers and for volume plugins'
    /// reservations (invalidates the snapshot).
    pub fn volumes_mut(&mut self) -> &mut VolumeStore {
        self.snapshot = None;
        &mut self.volumes
    }

    /// Forgets a nomination by pod key.
    pub fn clear_nominated(&mut self, key: &str) {
        if self.nominated.remove(key).is_some() {
            self.snapshot = None;
        }
    }

    /// The node the pod is nominated to.
    pub fn nominated_node(&self, key: &str) -> Option<String> {
        self.nominated.get(key).map(|(n, _)| n.clone())
    }

    /// Counts `pod` (whose `spec.nodeName` is already set) on its node
    /// before the binding is confirmed.
    pub fn assume_pod(&mut self, pod: Arc<Pod>) {
        let key = pod_key(&pod);
        let node = node_name(&pod);
        self.remove_pod(&key);
        self.clear_nominated(&key);
        self.node_mut(&node).add_pod(PodEntry::new(pod));
        self.pods.insert(
            key,
            PodState {
                node,
                assumed: true,
            },
        );
    }

    /// Undoes [`Cache::assume_pod`] after a failed binding.
    pub fn forget_pod(&mut self, key: &str) {
        if self.pods.get(key).is_some_and(|p| p.assumed) {
            self.remove_pod(key);
        }
    }

    /// Whether the pod is assumed and not yet confirmed by the watch.
    pub fn is_assumed(&self, key: &str) -> bool {
        self.pods.get(key).is_some_and(|p| p.assumed)
    }

    /// Whether the cache counts this pod anywhere.
    pub fn has_pod(&self, key: &str) -> bool {
        self.pods.contains_key(key)
    }

    /// A bound pod seen from the watch: confirms an assumption or adds/updates it.
    pub fn upsert_bound_pod(&mut self, pod: Arc<Pod>) {
        let key = pod_key(&pod);
        let node = node_name(&pod);
        self.clear_nominated(&key);
        if let Some(old) = self.pods.get(&key) {
            let old_node = old.node.clone();
            self.node_mut(&old_node).remove_pod(&key);
            self.cleanup_ghost(&old_node);
        }
        self.node_mut(&node).add_pod(PodEntry::new(pod));
        self.pods.insert(
            key,
            PodState {
                node,
                assumed: false,
            },
        );
    }

    /// Stops counting a pod (deleted, terminal, or forgotten).
    pub fn remove_pod(&mut self, key: &str) {
        if let Some(st) = self.pods.remove(key) {
            self.node_mut(&st.node).remove_pod(key);
            self.cleanup_ghost(&st.node);
        }
    }

    fn cleanup_ghost(&mut self, node: &str) {
        if self
            .nodes
            .get(node)
            .is_some_and(|n| n.node.is_none() && n.pods.is_empty())
        {
            self.nodes.remove(node);
        }
    }

    /// Keys of every pod the cache counts that is not assumed.
    pub fn bound_pod_keys(&self) -> Vec<String> {
        self.pods
            .iter()
            .filter(|(_, s)| !s.assumed)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Names of all existing nodes.
    pub fn node_names(&self) -> Vec<String> {
        self.nodes
            .values()
            .filter(|n| n.node.is_some())
            .map(|n| n.name.clone())
            .collect()
    }

    /// One node's info.
    pub fn node(&self, name: &str) -> Option<Arc<NodeInfo>> {
        self.nodes.get(name).cloned()
    }

    /// The nodes as they are now, for one scheduling cycle.
    pub fn snapshot(&mut self) -> Snapshot {
        if self.images_dirty {
            let mut m: HashMap<String, usize> = HashMap::new();
            for n in self.nodes.values().filter(|n| n.node.is_some()) {
                for img in n.images.keys() {
                    *m.entry(img.clone()).or_default() += 1;
                }
            }
            self.image_nodes = Arc::new(m);
            self.images_dirty = false;
            self.snapshot = None;
        }
        if let Some(s) = &self.snapshot {
            return s.clone();
        }
        self.refresh_snap_nodes();
        let s = Snapshot {
            nodes: self.snap_nodes.nodes.clone(),
            positions: self.snap_nodes.positions.clone(),
            pods_with_affinity: self.snap_nodes.pods_with_affinity,
            pods_with_required_anti: self.snap_nodes.pods_with_required_anti,
            image_nodes: self.image_nodes.clone(),
            namespaces: self.namespaces.clone(),
            nominated: {
                let mut m: HashMap<String, Vec<PodEntry>> = HashMap::new();
                for (n, e) in self.nominated.values() {
                    m.entry(n.clone()).or_default().push(e.clone());
                }
                Arc::new(m)
            },
            pdbs: Arc::new(self.pdbs.values().cloned().collect()),
            volumes: self.volumes.view(),
        };
        self.snapshot = Some(s.clone());
        s
    }

    /// Brings `snap_nodes` up to date: rebuilt after a node came or went,
    /// otherwise only the changed entries replaced (in place when the last
    /// cycle's snapshot is gone, as it normally is).
    fn refresh_snap_nodes(&mut self) {
        if self.snap_rebuild {
            self.snap_rebuild = false;
            self.snap_dirty.clear();
            let nodes = self
                .nodes
                .values()
                .filter(|n| n.node.is_some())
                .cloned()
                .collect();
            self.snap_nodes.set_nodes(nodes);
            return;
        }
        if self.snap_dirty.is_empty() {
            return;
        }
        let sn = &mut self.snap_nodes;
        let nodes = Arc::make_mut(&mut sn.nodes);
        for name in self.snap_dirty.drain() {
            let (Some(&i), Some(now)) = (sn.positions.get(&name), self.nodes.get(&name)) else {
                continue;
            };
            let old = &nodes[i];
            sn.pods_with_affinity =
                sn.pods_with_affinity - old.pods_with_affinity + now.pods_with_affinity;
            sn.pods_with_required_anti = sn.pods_with_required_anti - old.pods_with_required_anti
                + now.pods_with_required_anti;
            nodes[i] = now.clone();
        }
    }
}

fn node_name(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name},
                "status": {"allocatable": {"cpu": "2", "memory": "1Gi", "pods": "10"}}}))
            .unwrap(),
        )
    }

    fn pod(name: &str, node: &str) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "ns"},
                "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x",
                    "resources": {"requests": {"cpu": "500m"}}}]}}))
            .unwrap(),
        )
    }

    fn cpu(c: &mut Cache, n: &str) -> i64 {
        let s = c.snapshot();
        s.nodes
            .iter()
            .find(|x| x.name == n)
            .map(|x| x.requested.milli_cpu)
            .unwrap()
    }

    #[test]
    fn assumed_pods_count_until_forgotten_or_confirmed() {
        let mut c = Cache::new();
        c.upsert_node(node("a"));
        c.upsert_node(node("b"));
        c.assume_pod(pod("p", "a"));
        assert!(c.is_assumed("ns/p"));
        assert_eq!(cpu(&mut c, "a"), 500);
        c.forget_pod("ns/p");
        assert_eq!(cpu(&mut c, "a"), 0);
        c.assume_pod(pod("p", "a"));
        // The watch confirms it (on another node, say): moved, no double count.
        c.upsert_bound_pod(pod("p", "b"));
        assert!(!c.is_assumed("ns/p"));
        assert_eq!(cpu(&mut c, "a"), 0);
        assert_eq!(cpu(&mut c, "b"), 500);
        // Forgetting a confirmed pod does nothing.
        c.forget_pod("ns/p");
        assert_eq!(cpu(&mut c, "b"), 500);
        c.remove_pod("ns/p");
        assert_eq!(cpu(&mut c, "b"), 0);
    }

    #[test]
    fn snapshots_are_updated_in_place_and_keep_their_index_and_totals() {
        let mut c = Cache::new();
        for n in ["a", "b", "c"] {
            c.upsert_node(node(n));
        }
        let first = c.snapshot();
        assert_eq!(first.node("b").unwrap().name, "b");
        // A snapshot still held keeps what it saw; the next one sees the change.
        let mut anti = (*pod("p", "b")).clone();
        anti.spec.as_mut().unwrap().affinity = Some(
            serde_json::from_value(json!({"podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"topologyKey": "kubernetes.io/hostname", "labelSelector": {}}]}}))
            .unwrap(),
        );
        c.assume_pod(Arc::new(anti));
        let second = c.snapshot();
        assert_eq!(first.node("b").unwrap().requested.milli_cpu, 0);
        assert_eq!(first.pods_with_required_anti, 0);
        assert_eq!(second.node("b").unwrap().requested.milli_cpu, 500);
        assert_eq!(second.pods_with_required_anti, 1);
        assert_eq!(second.pods_with_affinity, 1);
        // Unchanged nodes are shared, not copied.
        assert!(Arc::ptr_eq(
            first.node("a").unwrap(),
            second.node("a").unwrap()
        ));
        drop((first, second));
        c.remove_pod("ns/p");
        assert_eq!(c.snapshot().pods_with_required_anti, 0);
        // A node coming and going rebuilds order and index.
        c.upsert_node(node("aa"));
        let s = c.snapshot();
        let names: Vec<&str> = s.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["a", "aa", "b", "c"]);
        assert_eq!(s.node("b").unwrap().name, "b");
        c.remove_node("a");
        let s = c.snapshot();
        assert!(s.node("a").is_none());
        assert_eq!(s.node("c").unwrap().name, "c");
        assert_eq!(s.nodes.len(), 3);
    }

    #[test]
    fn nominations_show_in_snapshots_until_the_pod_is_assumed() {
        let mut c = Cache::new();
        c.upsert_node(node("a"));
        let pending = {
            let mut p = (*pod("p", "")).clone();
            p.spec.as_mut().unwrap().node_name = None;
            Arc::new(p)
        };
        c.set_nominated(pending.clone(), Some("a".into()));
        let s = c.snapshot();
        assert_eq!(s.nominated["a"].len(), 1);
        assert_eq!(s.nominated_node_of("ns/p"), Some("a"));
        assert_eq!(c.nominated_node("ns/p").as_deref(), Some("a"));
        c.assume_pod(pod("p", "a"));
        assert!(c.snapshot().nominated.is_empty());
        c.set_nominated(pending, Some("a".into()));
        c.clear_nominated("ns/p");
        assert!(c.snapshot().nominated.is_empty());
        // Namespace labels, for namespaceSelector.
        assert!(c.set_namespace("x", Some([("team".into(), "t".into())].into())));
        assert!(!c.set_namespace("x", Some([("team".into(), "t".into())].into())));
        assert_eq!(c.snapshot().namespaces["x"]["team"], "t");
    }

    #[test]
    fn snapshots_skip_deleted_nodes_but_keep_their_pods_accounted() {
        let mut c = Cache::new();
        c.upsert_node(node("a"));
        c.upsert_bound_pod(pod("p", "a"));
        c.remove_node("a");
        assert!(c.snapshot().nodes.is_empty());
        c.upsert_node(node("a"));
        assert_eq!(cpu(&mut c, "a"), 500);
        // A pod bound to a node not seen yet is kept for when it appears.
        c.upsert_bound_pod(pod("q", "z"));
        assert_eq!(c.snapshot().nodes.len(), 1);
        c.upsert_node(node("z"));
        assert_eq!(cpu(&mut c, "z"), 500);
    }
}
