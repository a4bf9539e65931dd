//! The endpoints controller (upstream `pkg/controller/endpoint`).
//!
//! For every Service with a selector, an Endpoints object of the same name
//! whose subsets list the IPs of the selected pods: ready pods (or every
//! pod when `publishNotReadyAddresses`) in `addresses`, the others in
//! `notReadyAddresses`, with the Service's ports resolved per pod (a named
//! `targetPort` is looked up in the pod's container ports). Addresses with
//! the same ports are grouped in one subset (upstream `RepackSubsets`).
//! Services without a selector are left alone (their Endpoints are managed
//! by hand, or by the apiserver for `default/kubernetes`). The helpers for
//! pods and services here are shared with [`crate::endpointslice`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use client_support::{InformerEvent, WorkQueue};
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
    ServicePort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::Api;

use crate::util::{is_code, is_pod_ready, key_of};
use crate::worker::run_workers;
use crate::{Context, Error};

/// Label upstream puts on the Endpoints (and slices) of headless services.
pub const LABEL_HEADLESS: &str = "service.kubernetes.io/headless";
/// Endpoints hold at most this many addresses (upstream `maxCapacity`).
pub const MAX_CAPACITY: usize = 1000;
/// Annotation set when addresses were cut at [`MAX_CAPACITY`].
pub const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";

/// The port a service port reaches on `pod` (upstream `podutil.FindPort`):
/// a number as is, a name looked up in the containers' ports with the same
/// protocol; `None` when the name is not found.
pub fn find_port(pod: &Pod, sp: &ServicePort) -> Option<i32> {
    match sp.target_port.as_ref() {
        None => Some(sp.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            if let Ok(n) = name.parse::<i32>() {
                return Some(n);
            }
            let proto = sp.protocol.as_deref().unwrap_or("TCP");
            pod.spec.as_ref()?.containers.iter().find_map(|c| {
                c.ports.iter().flatten().find_map(|p| {
                    (p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == proto)
                        .then_some(p.container_port)
                })
            })
        }
    }
}

/// Whether a pod belongs in endpoints at all (upstream
/// `ShouldPodBeInEndpoints`): it has an IP, is not finished, and (unless
/// `include_terminating`) is not being deleted.
pub fn should_pod_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    let Some(st) = pod.status.as_ref() else {
        return false;
    };
    if st.pod_ip.as_deref().unwrap_or("").is_empty() {
        return false;
    }
    if matches!(st.phase.as_deref(), Some("Succeeded") | Some("Failed")) {
        return false;
    }
    include_terminating || pod.metadata.deletion_timestamp.is_none()
}

/// The service's selector, if it has a non-empty one.
pub fn service_selector(svc: &Service) -> Option<&BTreeMap<String, String>> {
    svc.spec
        .as_ref()?
        .selector
        .as_ref()
        .filter(|s| !s.is_empty())
}

/// Whether `selector` (a Service's map selector) selects these labels.
pub fn map_selects(
    selector: &BTreeMap<String, String>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Whether the service is headless (`clusterIP: None`).
pub fn is_headless(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

/// The pod's hostname for DNS when it sets `hostname` and its `subdomain`
/// is the service's name.
pub fn pod_hostname(pod: &Pod, svc: &Service) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let h = spec.hostname.as_deref().filter(|h| !h.is_empty())?;
    (spec.subdomain.as_deref() == svc.metadata.name.as_deref()).then(|| h.to_string())
}

/// A reference to the pod (an address's `targetRef`).
pub fn pod_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        ..ObjectReference::default()
    }
}

/// Queues every service in the pod's namespace whose selector matches the
/// pod's old or new labels.
fn queue_services_for(ctx: &Context, q: &WorkQueue<String>, old: Option<&Pod>, new: &Pod) {
    let ns = new.metadata.namespace.clone();
    for svc in ctx.services.store().state() {
        if svc.metadata.namespace != ns {
            continue;
        }
        let Some(sel) = service_selector(&svc) else {
            continue;
        };
        if map_selects(sel, new.metadata.labels.as_ref())
            || old.is_some_and(|o| map_selects(sel, o.metadata.labels.as_ref()))
        {
            q.add(key_of(&*svc));
        }
    }
}

/// Subscribes a controller's queue to services and pods.
pub(crate) fn subscribe_services_and_pods(ctx: &Arc<Context>, queue: &WorkQueue<String>) {
    let q = queue.clone();
    ctx.services.subscribe(move |ev| match ev {
        InformerEvent::Applied { new, .. } => q.add(key_of(&**new)),
        InformerEvent::Deleted(s) => q.add(key_of(&**s)),
    });
    let q = queue.clone();
    let weak = Arc::downgrade(ctx);
    ctx.pods.subscribe(move |ev| {
        let Some(ctx) = weak.upgrade() else { return };
        match ev {
            InformerEvent::Applied { old, new } => {
                // Only what endpoints show matters.
                if let Some(o) = old {
                    let same = o.metadata.labels == new.metadata.labels
                        && o.metadata.deletion_timestamp == new.metadata.deletion_timestamp
                        && o.status
                            .as_ref()
                            .map(|s| (&s.pod_ip, &s.phase, is_pod_ready(o)))
                            == new
                                .status
                                .as_ref()
                                .map(|s| (&s.pod_ip, &s.phase, is_pod_ready(new)))
                        && o.spec
                            .as_ref()
                            .map(|s| (&s.hostname, &s.subdomain, &s.node_name))
                            == new
                                .spec
                                .as_ref()
                                .map(|s| (&s.hostname, &s.subdomain, &s.node_name));
                    if same {
                        return;
                    }
                }
                queue_services_for(&ctx, &q, old.as_deref(), new);
            }
            InformerEvent::Deleted(p) => queue_services_for(&ctx, &q, None, p),
        }
    });
}

/// A resolved port: name, number, protocol, appProtocol.
type PortTuple = (String, i32, String, Option<String>);

/// The subsets for a service and the pods in its namespace (upstream
/// `syncService` then `RepackSubsets`): addresses sorted by IP, grouped by
/// identical port sets.
pub fn desired_subsets(svc: &Service, pods: &[Arc<Pod>]) -> (Vec<EndpointSubset>, bool) {
    let Some(sel) = service_selector(svc) else {
        return (Vec::new(), false);
    };
    let spec = svc.spec.clone().unwrap_or_default();
    let publish = spec.publish_not_ready_addresses.unwrap_or(false);
    let ports = spec.ports.clone().unwrap_or_default();
    // address key -> (address, ready, ports)
    type Entry = (
        EndpointAddress,
        bool,
        BTreeSet<(String, i32, String, Option<String>)>,
    );
    let mut by_addr: BTreeMap<(String, String), Entry> = BTreeMap::new();
    for pod in pods {
        if !map_selects(sel, pod.metadata.labels.as_ref())
            || !should_pod_be_in_endpoints(pod, publish)
        {
            continue;
        }
        let ip = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.clone())
            .unwrap_or_default();
        let addr = EndpointAddress {
            ip: ip.clone(),
            hostname: pod_hostname(pod, svc),
            node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            target_ref: Some(pod_ref(pod)),
        };
        let ready = publish || is_pod_ready(pod);
        let key = (ip, pod.metadata.uid.clone().unwrap_or_default());
        let mut set = BTreeSet::new();
        for sp in &ports {
            if let Some(n) = find_port(pod, sp) {
                set.insert((
                    sp.name.clone().unwrap_or_default(),
                    n,
                    sp.protocol.clone().unwrap_or_else(|| "TCP".into()),
                    sp.app_protocol.clone(),
                ));
            }
        }
        if !ports.is_empty() && set.is_empty() {
            continue;
        }
        by_addr.insert(key, (addr, ready, set));
    }
    // Group addresses by port set.
    let mut groups: BTreeMap<Vec<PortTuple>, (Vec<EndpointAddress>, Vec<EndpointAddress>)> =
        BTreeMap::new();
    let truncated = by_addr.len() > MAX_CAPACITY;
    for (_, (addr, ready, set)) in by_addr.into_iter().take(MAX_CAPACITY) {
        let g = groups.entry(set.into_iter().collect()).or_default();
        if ready {
            g.0.push(addr);
        } else {
            g.1.push(addr);
        }
    }
    let subsets = groups
        .into_iter()
        .map(|(ports, (ready, not_ready))| EndpointSubset {
            addresses: (!ready.is_empty()).then_some(ready),
            not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
            ports: (!ports.is_empty()).then(|| {
                ports
                    .into_iter()
                    .map(|(name, port, protocol, app_protocol)| EndpointPort {
                        name: (!name.is_empty()).then_some(name),
                        port,
                        protocol: Some(protocol),
                        app_protocol,
                    })
                    .collect()
            }),
        })
        .collect();
    (subsets, truncated)
}

/// The labels of a service's Endpoints: the service's, plus the headless
/// label for headless services.
fn endpoints_labels(svc: &Service) -> BTreeMap<String, String> {
    let mut l = svc.metadata.labels.clone().unwrap_or_default();
    if is_headless(svc) {
        l.insert(LABEL_HEADLESS.into(), String::new());
    } else {
        l.remove(LABEL_HEADLESS);
    }
    l
}

/// The controller: its queue.
pub struct EndpointsController {
    ctx: Arc<Context>,
    queue: WorkQueue<String>,
}

impl EndpointsController {
    /// Subscribes to services, pods and endpoints.
    pub fn new(ctx: Arc<Context>) -> Self {
        let queue: WorkQueue<String> = WorkQueue::new();
        subscribe_services_and_pods(&ctx, &queue);
        let q = queue.clone();
        ctx.endpoints.subscribe(move |ev| {
            // Someone changed or deleted our object: converge again.
            if let InformerEvent::Deleted(e) = ev {
                q.add(key_of(&**e));
            }
        });
        EndpointsController { ctx, queue }
    }

    /// The work queue (shut down to stop).
    pub fn queue(&self) -> WorkQueue<String> {
        self.queue.clone()
    }

    /// Runs the workers until the queue is shut down.
    pub async fn run(self) {
        let ctx = self.ctx.clone();
        run_workers(
            "endpoints",
            self.queue,
            5,
            ctx.metrics.clone(),
            move |key| {
                let ctx = ctx.clone();
                async move { sync(&ctx, &key).await }
            },
        )
        .await;
    }
}

async fn sync(ctx: &Context, key: &str) -> Result<Option<Duration>, Error> {
    let (ns, name) = client_support::informer::split_key(key);
    let ns = ns.unwrap_or("default");
    if ns == "default" && name == "kubernetes" {
        // The apiserver keeps these.
        return Ok(None);
    }
    let api: Api<Endpoints> = Api::namespaced(ctx.client.clone(), ns);
    let existing = ctx
        .endpoints
        .store()
        .get(&ObjectRef::<Endpoints>::new(name).within(ns));
    let Some(svc) = ctx
        .services
        .store()
        .get(&ObjectRef::<Service>::new(name).within(ns))
    else {
        // The service is gone: so are its endpoints (upstream deletes them).
        if existing.is_some() {
            match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if is_code(&e, 404) => {}
                Err(e) => return Err(Error::kube(format!("deleting endpoints {key}"))(e)),
            }
        }
        return Ok(None);
    };
    if service_selector(&svc).is_none() {
        return Ok(None);
    }
    let pods = ctx
        .pods
        .store()
        .state_filter(|p| p.metadata.namespace.as_deref() == Some(ns));
    let (subsets, truncated) = desired_subsets(&svc, &pods);
    let labels = endpoints_labels(&svc);
    let mut annotations = existing
        .as_ref()
        .and_then(|e| e.metadata.annotations.clone())
        .unwrap_or_default();
    if truncated {
        annotations.insert(OVER_CAPACITY.into(), "truncated".into());
    } else {
        annotations.remove(OVER_CAPACITY);
    }
    let subsets_opt = (!subsets.is_empty()).then_some(subsets);
    match existing {
        Some(e) => {
            let same = e.subsets.clone().unwrap_or_default()
                == subsets_opt.clone().unwrap_or_default()
                && e.metadata.labels.clone().unwrap_or_default() == labels
                && e.metadata.annotations.clone().unwrap_or_default() == annotations;
            if same {
                return Ok(None);
            }
            let mut n = (*e).clone();
            n.subsets = subsets_opt;
            n.metadata.labels = Some(labels);
            n.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
            api.replace(name, &PostParams::default(), &n)
                .await
                .map_err(Error::kube(format!("updating endpoints {key}")))?;
        }
        None => {
            let n = Endpoints {
                metadata: ObjectMeta {
                    name: Some(name.to_string()),
                    namespace: Some(ns.to_string()),
                    labels: Some(labels),
                    annotations: (!annotations.is_empty()).then_some(annotations),
                    ..ObjectMeta::default()
                },
                subsets: subsets_opt,
            };
            match api.create(&PostParams::default(), &n).await {
                Ok(_) => {}
                // Our cache is behind: retry once it catches up.
                Err(e) if is_code(&e, 409) => {
                    return Err(Error::Retry(format!(
                        "endpoints {key} exist but are not cached yet"
                    )))
                }
                Err(e) => return Err(Error::kube(format!("creating endpoints {key}"))(e)),
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn svc(v: serde_json::Value) -> Service {
        let mut base = json!({"metadata": {"name": "web", "namespace": "ns"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}});
        if let Some(spec) = v.get("spec") {
            for (k, val) in spec.as_object().unwrap() {
                base["spec"][k] = val.clone();
            }
        }
        serde_json::from_value(base).unwrap()
    }

    pub(crate) fn pod(name: &str, ip: &str, ready: bool, port: i32) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}"), "labels": {"app": "web"}},
                "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i",
                    "ports": [{"name": "http", "containerPort": port}]}]},
                "status": {"phase": "Running", "podIP": ip,
                    "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
            }))
            .unwrap(),
        )
    }

    #[test]
    fn named_ports_resolve_per_pod_and_group_subsets() {
        let s = svc(json!({}));
        let pods = vec![
            pod("a", "10.0.0.2", true, 8080),
            pod("b", "10.0.0.1", false, 8080),
            pod("c", "10.0.0.3", true, 9090),
        ];
        let (subsets, truncated) = desired_subsets(&s, &pods);
        assert!(!truncated);
        assert_eq!(subsets.len(), 2);
        let s0 = &subsets[0];
        assert_eq!(s0.ports.as_ref().unwrap()[0].port, 8080);
        assert_eq!(s0.addresses.as_ref().unwrap()[0].ip, "10.0.0.2");
        assert_eq!(s0.not_ready_addresses.as_ref().unwrap()[0].ip, "10.0.0.1");
        assert_eq!(
            s0.addresses.as_ref().unwrap()[0]
                .target_ref
                .as_ref()
                .unwrap()
                .name
                .as_deref(),
            Some("a")
        );
        assert_eq!(subsets[1].ports.as_ref().unwrap()[0].port, 9090);
    }

    #[test]
    fn publish_not_ready_and_missing_ip_and_no_selector() {
        let s = svc(json!({"spec": {"publishNotReadyAddresses": true}}));
        let mut nip = (*pod("x", "", true, 80)).clone();
        nip.status.as_mut().unwrap().pod_ip = None;
        let pods = vec![pod("b", "10.0.0.1", false, 8080), Arc::new(nip)];
        let (subsets, _) = desired_subsets(&s, &pods);
        assert_eq!(subsets.len(), 1);
        assert_eq!(subsets[0].addresses.as_ref().unwrap().len(), 1);
        assert!(subsets[0].not_ready_addresses.is_none());
        let mut none = svc(json!({}));
        none.spec.as_mut().unwrap().selector = None;
        assert!(desired_subsets(&none, &pods).0.is_empty());
    }

    #[test]
    fn numeric_and_unresolvable_ports() {
        let p = pod("a", "10.0.0.1", true, 8080);
        let sp = |t: IntOrString| ServicePort {
            port: 80,
            target_port: Some(t),
            ..ServicePort::default()
        };
        assert_eq!(find_port(&p, &sp(IntOrString::Int(81))), Some(81));
        assert_eq!(
            find_port(&p, &sp(IntOrString::String("http".into()))),
            Some(8080)
        );
        assert_eq!(find_port(&p, &sp(IntOrString::String("nope".into()))), None);
        assert_eq!(
            find_port(
                &p,
                &ServicePort {
                    port: 80,
                    ..ServicePort::default()
                }
            ),
            Some(80)
        );
    }
}
