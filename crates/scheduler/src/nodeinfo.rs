//! What the plugins see: a node with the pods counted on it
//! ([`NodeInfo`]), and the pod being scheduled with what every plugin needs
//! computed once per cycle ([`PodInfo`]).

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};

use crate::resources::{self, node_allocatable, Resource};

/// One `hostPort` a pod uses: protocol, host IP (`0.0.0.0` when unset) and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub protocol: String,
    pub ip: String,
    pub port: i32,
}

impl HostPort {
    /// Whether two host ports collide (upstream `HostPortInfo.CheckConflict`).
    pub fn conflicts(&self, o: &HostPort) -> bool {
        self.port == o.port
            && self.protocol == o.protocol
            && (self.ip == o.ip || self.ip == "0.0.0.0" || o.ip == "0.0.0.0")
    }
}

/// The host ports the pod's containers ask for.
pub fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let mut out = Vec::new();
    let Some(spec) = pod.spec.as_ref() else {
        return out;
    };
    for c in &spec.containers {
        for p in c.ports.iter().flatten() {
            let Some(hp) = p.host_port.filter(|hp| *hp > 0) else {
                continue;
            };
            out.push(HostPort {
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                ip: p
                    .host_ip
                    .clone()
                    .filter(|ip| !ip.is_empty())
                    .unwrap_or_else(|| "0.0.0.0".into()),
                port: hp,
            });
        }
    }
    out
}

/// `spec.priority`, 0 when unset.
pub fn priority(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

/// `namespace/name`.
pub fn pod_key(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.name.as_deref().unwrap_or("")
    )
}

/// A pod counted on a node, with its accounting precomputed.
#[derive(Clone, Debug)]
pub struct PodEntry {
    pub pod: Arc<Pod>,
    pub key: String,
    pub requested: Resource,
    pub non_zero: Resource,
    pub ports: Vec<HostPort>,
    /// Has pod affinity or anti-affinity (upstream `PodsWithAffinity`).
    pub has_affinity: bool,
    /// Has required pod anti-affinity terms.
    pub has_required_anti: bool,
}

impl PodEntry {
    pub fn new(pod: Arc<Pod>) -> PodEntry {
        PodEntry {
            key: pod_key(&pod),
            requested: Resource::from_list(&resources::pod_requests(&pod, false)),
            non_zero: Resource::from_list(&resources::pod_requests(&pod, true)),
            ports: host_ports(&pod),
            has_affinity: pod
                .spec
                .as_ref()
                .and_then(|s| s.affinity.as_ref())
                .is_some_and(|a| a.pod_affinity.is_some() || a.pod_anti_affinity.is_some()),
            has_required_anti: !crate::plugins::required_anti_affinity(&pod).is_empty(),
            pod,
        }
    }
}

/// A node and the pods the scheduler counts on it (bound or assumed).
#[derive(Clone, Debug, Default)]
pub struct NodeInfo {
    pub name: String,
    /// `None` while pods still reference a node that was deleted.
    pub node: Option<Arc<Node>>,
    pub allocatable: Resource,
    pub pods: Vec<PodEntry>,
    pub requested: Resource,
    pub non_zero_requested: Resource,
    pub used_ports: Vec<HostPort>,
    /// Normalised image name -> size in bytes, from `status.images`.
    pub images: HashMap<String, i64>,
    /// How many of `pods` have pod (anti-)affinity / required anti-affinity.
    pub pods_with_affinity: usize,
    pub pods_with_required_anti: usize,
}

/// Upstream's `normalizedImageName`: adds `:latest` when there is no tag.
pub fn normalize_image(name: &str) -> String {
    let colon = name.rfind(':');
    let slash = name.rfind('/');
    if name.contains('@') || colon.map(|c| Some(c) > slash).unwrap_or(false) {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

impl NodeInfo {
    /// An empty node info for `name`.
    pub fn new(name: &str) -> NodeInfo {
        NodeInfo {
            name: name.to_string(),
            ..Default::default()
        }
    }

    /// Replaces the node object.
    pub fn set_node(&mut self, node: Arc<Node>) {
        self.allocatable = node_allocatable(&node);
        self.images.clear();
        for img in node
            .status
            .as_ref()
            .and_then(|s| s.images.as_ref())
            .into_iter()
            .flatten()
        {
            for n in img.names.iter().flatten() {
                self.images
                    .insert(normalize_image(n), img.size_bytes.unwrap_or(0));
            }
        }
        self.node = Some(node);
    }

    /// Counts a pod on this node.
    pub fn add_pod(&mut self, e: PodEntry) {
        self.requested.add(&e.requested);
        self.non_zero_requested.add(&e.non_zero);
        self.used_ports.extend(e.ports.iter().cloned());
        self.pods_with_affinity += usize::from(e.has_affinity);
        self.pods_with_required_anti += usize::from(e.has_required_anti);
        self.pods.push(e);
    }

    /// Stops counting the pod with this key; returns whether it was there.
    pub fn remove_pod(&mut self, key: &str) -> bool {
        let Some(i) = self.pods.iter().position(|p| p.key == key) else {
            return false;
        };
        let e = self.pods.swap_remove(i);
        self.requested.sub(&e.requested);
        self.non_zero_requested.sub(&e.non_zero);
        self.pods_with_affinity -= usize::from(e.has_affinity);
        self.pods_with_required_anti -= usize::from(e.has_required_anti);
        for p in &e.ports {
            if let Some(j) = self.used_ports.iter().position(|u| u == p) {
                self.used_ports.swap_remove(j);
            }
        }
        true
    }

    /// The node's labels.
    pub fn labels(&self) -> Option<&std::collections::BTreeMap<String, String>> {
        self.node.as_ref().and_then(|n| n.metadata.labels.as_ref())
    }

    /// The node's taints.
    pub fn taints(&self) -> &[Taint] {
        self.node
            .as_ref()
            .and_then(|n| n.spec.as_ref())
            .and_then(|s| s.taints.as_deref())
            .unwrap_or(&[])
    }
}

/// The pod being scheduled, with what the plugins need computed once.
#[derive(Clone, Debug)]
pub struct PodInfo {
    pub pod: Arc<Pod>,
    pub key: String,
    pub requests: Resource,
    pub non_zero: Resource,
    pub ports: Vec<HostPort>,
    pub priority: i32,
}

impl PodInfo {
    pub fn new(pod: Arc<Pod>) -> PodInfo {
        let e = PodEntry::new(pod);
        PodInfo {
            priority: priority(&e.pod),
            key: e.key,
            requests: e.requested,
            non_zero: e.non_zero,
            ports: e.ports,
            pod: e.pod,
        }
    }

    /// `spec.tolerations`.
    pub fn tolerations(&self) -> &[Toleration] {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.as_deref())
            .unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_get_latest_unless_tagged() {
        assert_eq!(normalize_image("nginx"), "nginx:latest");
        assert_eq!(normalize_image("nginx:1.22"), "nginx:1.22");
        assert_eq!(normalize_image("reg:5000/nginx"), "reg:5000/nginx:latest");
        assert_eq!(normalize_image("a@sha256:x"), "a@sha256:x");
    }

    #[test]
    fn host_ports_conflict_on_wildcard_ip() {
        let a = HostPort {
            protocol: "TCP".into(),
            ip: "0.0.0.0".into(),
            port: 80,
        };
        let b = HostPort {
            ip: "10.0.0.1".into(),
            ..a.clone()
        };
        let c = HostPort {
            protocol: "UDP".into(),
            ..b.clone()
        };
        let d = HostPort {
            ip: "10.0.0.2".into(),
            ..b.clone()
        };
        assert!(a.conflicts(&b));
        assert!(!b.conflicts(&c));
        assert!(!b.conflicts(&d));
    }
}
