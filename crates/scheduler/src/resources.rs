//! Resource arithmetic as upstream's `framework.Resource` and
//! `resourcehelper.PodRequests`: CPU in millicores, everything else in whole
//! units, init containers and sidecars counted the way the kubelet admits
//! them, pod overhead added on top.

use std::collections::BTreeMap;

use apimachinery::quantity::Quantity as Q;
use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// CPU assumed for a container without a CPU request when scoring (100m).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Memory assumed for a container without a memory request when scoring (200Mi).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// A bag of resources: cpu (milli), memory, ephemeral storage, pod slots and
/// scalar (extended, hugepages, attachable volumes) resources.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resource {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    pub allowed_pod_number: i64,
    pub scalar: BTreeMap<String, i64>,
}

/// Whether `name` is a scalar resource (upstream `IsScalarResourceName`).
pub fn is_scalar(name: &str) -> bool {
    name.contains('/') || name.starts_with("hugepages-") || name.starts_with("attachable-volumes-")
}

fn parse_units(name: &str, q: &Quantity) -> i64 {
    let Ok(q) = Q::parse(&q.0) else { return 0 };
    let v = if name == "cpu" {
        q.milli_value()
    } else {
        q.value()
    };
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// A resource list in scheduler units (cpu in millicores).
pub type List = BTreeMap<String, i64>;

/// Converts an API resource list into scheduler units.
pub fn to_list(l: Option<&BTreeMap<String, Quantity>>) -> List {
    l.map(|l| {
        l.iter()
            .map(|(k, v)| (k.clone(), parse_units(k, v)))
            .collect()
    })
    .unwrap_or_default()
}

fn add(into: &mut List, other: &List) {
    for (k, v) in other {
        *into.entry(k.clone()).or_default() += v;
    }
}

fn max_into(into: &mut List, other: &List) {
    for (k, v) in other {
        let e = into.entry(k.clone()).or_default();
        if *v > *e {
            *e = *v;
        }
    }
}

fn container_requests(c: &Container, non_missing: bool) -> List {
    let mut l = to_list(c.resources.as_ref().and_then(|r| r.requests.as_ref()));
    if non_missing {
        l.entry("cpu".into()).or_insert(DEFAULT_MILLI_CPU_REQUEST);
        l.entry("memory".into()).or_insert(DEFAULT_MEMORY_REQUEST);
    }
    l
}

/// The pod's effective requests (upstream `PodRequests`): the sum of app
/// containers and restartable init containers (sidecars), or the largest
/// single init container plus the sidecars started before it, whichever is
/// larger per resource; plus `spec.overhead`. With `non_missing`, a container
/// without a cpu or memory request counts as 100m / 200Mi (used for scoring).
pub fn pod_requests(pod: &Pod, non_missing: bool) -> List {
    let mut reqs = List::new();
    let Some(spec) = pod.spec.as_ref() else {
        return reqs;
    };
    for c in &spec.containers {
        add(&mut reqs, &container_requests(c, non_missing));
    }
    let mut sidecars = List::new();
    let mut init = List::new();
    for c in spec.init_containers.iter().flatten() {
        let r = container_requests(c, non_missing);
        if c.restart_policy.as_deref() == Some("Always") {
            add(&mut reqs, &r);
            add(&mut sidecars, &r);
            max_into(&mut init, &sidecars);
        } else {
            let mut tmp = r;
            add(&mut tmp, &sidecars);
            max_into(&mut init, &tmp);
        }
    }
    max_into(&mut reqs, &init);
    if let Some(o) = spec.overhead.as_ref() {
        add(&mut reqs, &to_list(Some(o)));
    }
    reqs
}

impl Resource {
    /// Builds a resource from a list in scheduler units.
    pub fn from_list(l: &List) -> Resource {
        let mut r = Resource::default();
        r.add_list(l);
        r
    }

    /// Adds a list (upstream `Resource.Add`); unknown native names are ignored.
    pub fn add_list(&mut self, l: &List) {
        for (k, v) in l {
            match k.as_str() {
                "cpu" => self.milli_cpu += v,
                "memory" => self.memory += v,
                "ephemeral-storage" => self.ephemeral_storage += v,
                "pods" => self.allowed_pod_number += v,
                n if is_scalar(n) => *self.scalar.entry(k.clone()).or_default() += v,
                _ => {}
            }
        }
    }

    /// `self += other`.
    pub fn add(&mut self, o: &Resource) {
        self.milli_cpu += o.milli_cpu;
        self.memory += o.memory;
        self.ephemeral_storage += o.ephemeral_storage;
        self.allowed_pod_number += o.allowed_pod_number;
        for (k, v) in &o.scalar {
            *self.scalar.entry(k.clone()).or_default() += v;
        }
    }

    /// `self -= other`.
    pub fn sub(&mut self, o: &Resource) {
        self.milli_cpu -= o.milli_cpu;
        self.memory -= o.memory;
        self.ephemeral_storage -= o.ephemeral_storage;
        self.allowed_pod_number -= o.allowed_pod_number;
        for (k, v) in &o.scalar {
            *self.scalar.entry(k.clone()).or_default() -= v;
        }
    }

    /// The amount of one named resource.
    pub fn get(&self, name: &str) -> i64 {
        match name {
            "cpu" => self.milli_cpu,
            "memory" => self.memory,
            "ephemeral-storage" => self.ephemeral_storage,
            "pods" => self.allowed_pod_number,
            n => self.scalar.get(n).copied().unwrap_or(0),
        }
    }
}

/// The node's allocatable resources (falling back to capacity, as the
/// apiserver defaults allocatable to capacity).
pub fn node_allocatable(node: &Node) -> Resource {
    let st = node.status.as_ref();
    let l = st
        .and_then(|s| s.allocatable.as_ref())
        .or_else(|| st.and_then(|s| s.capacity.as_ref()));
    Resource::from_list(&to_list(l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": v})).unwrap()
    }

    #[test]
    fn init_containers_take_the_max_and_overhead_adds() {
        let p = pod(json!({
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "200m", "memory": "1Gi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "300m"}}}
            ],
            "initContainers": [
                {"name": "i1", "resources": {"requests": {"cpu": "1", "memory": "100Mi"}}},
                {"name": "i2", "resources": {"requests": {"example.com/gpu": "2"}}}
            ],
            "overhead": {"cpu": "10m"}
        }));
        let r = Resource::from_list(&pod_requests(&p, false));
        assert_eq!(r.milli_cpu, 1010);
        assert_eq!(r.memory, 1 << 30);
        assert_eq!(r.scalar.get("example.com/gpu"), Some(&2));
    }

    #[test]
    fn sidecars_add_to_app_containers_and_to_later_init_containers() {
        let p = pod(json!({
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "100m"}}}],
            "initContainers": [
                {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "200m"}}},
                {"name": "i", "resources": {"requests": {"cpu": "500m"}}}
            ]
        }));
        // app 100 + sidecar 200 = 300; init 500 + sidecar 200 = 700.
        assert_eq!(Resource::from_list(&pod_requests(&p, false)).milli_cpu, 700);
    }

    #[test]
    fn non_missing_defaults_apply_per_container() {
        let p = pod(
            json!({"containers": [{"name": "a"}, {"name": "b", "resources": {"requests": {"cpu": "1"}}}]}),
        );
        let r = Resource::from_list(&pod_requests(&p, true));
        assert_eq!(r.milli_cpu, 1100);
        assert_eq!(r.memory, 2 * DEFAULT_MEMORY_REQUEST);
        let r0 = Resource::from_list(&pod_requests(&p, false));
        assert_eq!((r0.milli_cpu, r0.memory), (1000, 0));
    }
}
