//! The endpointslice controller (upstream `pkg/controller/endpointslice`).
//!
//! For every Service with a selector, EndpointSlices (`generateName`
//! `<service>-`) labelled `kubernetes.io/service-name` and
//! `endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`,
//! owned by the Service, one address type per IP family of the service,
//! grouped by the ports resolved on each pod, at most
//! `--max-endpoints-per-slice` (100) endpoints each. Conditions as
//! upstream: `serving` = pod Ready, `terminating` = being deleted, `ready` =
//! serving and not terminating, or always with `publishNotReadyAddresses`.
//!
//! Updates are minimal ([`reconcile`]): endpoints stay in the slice they are
//! in, a slice is written only when its content changes, new endpoints go
//! first into slices being written anyway, then into slices with room, and
//! only then into new slices. A service with no endpoints keeps one empty
//! placeholder slice, as upstream. Writes are tracked (expected
//! generations and deletions) so a sync never acts on a cache that has not
//! seen the previous one's writes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use client_support::{InformerEvent, WorkQueue};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, PostParams, Preconditions};
use kube::{Api, ResourceExt};

use crate::endpoints::{
    find_port, is_headless, map_selects, pod_hostname, pod_ref, service_selector,
    should_pod_be_in_endpoints, subscribe_services_and_pods, LABEL_HEADLESS,
};
use crate::util::{is_code, is_pod_ready, owner_ref};
use crate::worker::run_workers;
use crate::{Context, Error};

/// The label naming the slice's service.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// The label naming the slice's manager.
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's value of [`LABEL_MANAGED_BY`].
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// Upstream's default `--max-endpoints-per-slice`.
pub const DEFAULT_MAX_ENDPOINTS_PER_SLICE: usize = 100;

type PortKey = Vec<(Option<String>, Option<i32>, Option<String>, Option<String>)>;

fn port_key(ports: &[EndpointPort]) -> PortKey {
    let mut k: PortKey = ports
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.port,
                p.protocol.clone(),
                p.app_protocol.clone(),
            )
        })
        .collect();
    k.sort();
    k
}

fn address_type_of(ip: &str) -> &'static str {
    if ip.contains(':') {
        "IPv6"
    } else {
        "IPv4"
    }
}

/// The address types a service's slices carry: its `ipFamilies`, or the
/// family of its cluster IP, or IPv4.
pub fn address_types(svc: &Service) -> Vec<String> {
    let spec = svc.spec.clone().unwrap_or_default();
    if let Some(f) = spec.ip_families.filter(|f| !f.is_empty()) {
        return f;
    }
    match spec.cluster_ip.as_deref() {
        Some(ip) if ip != "None" && !ip.is_empty() => vec![address_type_of(ip).to_string()],
        _ => vec!["IPv4".into()],
    }
}

/// The endpoint for a pod (upstream `podToEndpoint`).
pub fn pod_to_endpoint(pod: &Pod, svc: &Service, ip: &str) -> Endpoint {
    let publish = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let serving = is_pod_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    Endpoint {
        addresses: vec![ip.to_string()],
        conditions: Some(EndpointConditions {
            ready: Some(publish || (serving && !terminating)),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hostname: pod_hostname(pod, svc),
        node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        target_ref: Some(pod_ref(pod)),
        ..Endpoint::default()
    }
}

/// Desired endpoints: address type -> port set -> (ports, address -> endpoint).
pub type Desired =
    BTreeMap<String, BTreeMap<PortKey, (Vec<EndpointPort>, BTreeMap<String, Endpoint>)>>;

/// What each pod contributes, grouped by address type and resolved ports.
pub fn desired_endpoints(svc: &Service, pods: &[Arc<Pod>]) -> Desired {
    let mut out: Desired = BTreeMap::new();
    let Some(sel) = service_selector(svc) else {
        return out;
    };
    let types = address_types(svc);
    let svc_ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default();
    for pod in pods {
        if !map_selects(sel, pod.metadata.labels.as_ref()) || !should_pod_be_in_endpoints(pod, true)
        {
            continue;
        }
        let st = pod.status.clone().unwrap_or_default();
        let mut ips: Vec<String> = st.pod_ips.iter().flatten().map(|p| p.ip.clone()).collect();
        if ips.is_empty() {
            ips.extend(st.pod_ip.clone());
        }
        let mut ports: Vec<EndpointPort> = svc_ports
            .iter()
            .filter_map(|sp| {
                find_port(pod, sp).map(|n| EndpointPort {
                    name: Some(sp.name.clone().unwrap_or_default()),
                    port: Some(n),
                    protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                    app_protocol: sp.app_protocol.clone(),
                })
            })
            .collect();
        ports.sort_by_key(|p| (p.name.clone(), p.port));
        let pk = port_key(&ports);
        for t in &types {
            let Some(ip) = ips.iter().find(|ip| address_type_of(ip) == t) else {
                continue;
            };
            out.entry(t.clone())
                .or_default()
                .entry(pk.clone())
                .or_insert_with(|| (ports.clone(), BTreeMap::new()))
                .1
                .insert(ip.clone(), pod_to_endpoint(pod, svc, ip));
        }
    }
    out
}

/// The labels of a service's slices.
pub fn slice_labels(svc: &Service) -> BTreeMap<String, String> {
    let mut l: BTreeMap<String, String> = svc
        .metadata
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != LABEL_SERVICE_NAME && k != LABEL_MANAGED_BY && k != LABEL_HEADLESS)
        .collect();
    l.insert(LABEL_SERVICE_NAME.into(), svc.name_any());
    l.insert(LABEL_MANAGED_BY.into(), CONTROLLER_NAME.into());
    if is_headless(svc) {
        l.insert(LABEL_HEADLESS.into(), String::new());
    }
    l
}

/// The writes that bring the existing slices to the desired endpoints.
#[derive(Debug, Default)]
pub struct Plan {
    /// New slices (`generateName`).
    pub create: Vec<EndpointSlice>,
    /// Changed slices (with their `resourceVersion`).
    pub update: Vec<EndpointSlice>,
    /// Slices to delete.
    pub delete: Vec<EndpointSlice>,
}

fn new_slice(
    svc: &Service,
    address_type: &str,
    ports: Vec<EndpointPort>,
    eps: Vec<Endpoint>,
) -> EndpointSlice {
    let mut gen = format!("{}-", svc.name_any());
    gen.truncate(58);
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(gen),
            namespace: svc.metadata.namespace.clone(),
            labels: Some(slice_labels(svc)),
            owner_references: Some(vec![owner_ref(svc)]),
            ..ObjectMeta::default()
        },
        address_type: address_type.to_string(),
        endpoints: eps,
        ports: Some(ports),
    }
}

/// Upstream's reconciler, minimally: see the module documentation.
pub fn reconcile(
    svc: &Service,
    pods: &[Arc<Pod>],
    existing: &[Arc<EndpointSlice>],
    max: usize,
) -> Plan {
    let max = max.max(1);
    let mut desired = desired_endpoints(svc, pods);
    let labels = slice_labels(svc);
    let mut plan = Plan::default();
    // Slices kept: (slice, changed).
    let mut kept: Vec<(EndpointSlice, bool)> = Vec::new();
    for s in existing {
        let pk = port_key(s.ports.as_deref().unwrap_or(&[]));
        let Some((_, want)) = desired
            .get_mut(&s.address_type)
            .and_then(|m| m.get_mut(&pk))
        else {
            plan.delete.push((**s).clone());
            continue;
        };
        let mut eps = Vec::new();
        for ep in &s.endpoints {
            let Some(addr) = ep.addresses.first() else {
                continue;
            };
            if eps
                .iter()
                .any(|e: &Endpoint| e.addresses.first() == Some(addr))
            {
                continue;
            }
            if let Some(d) = want.remove(addr) {
                eps.push(d);
            }
        }
        if eps.is_empty() {
            plan.delete.push((**s).clone());
            continue;
        }
        let changed = eps != s.endpoints || s.metadata.labels.as_ref() != Some(&labels);
        let mut n = (**s).clone();
        n.endpoints = eps;
        n.metadata.labels = Some(labels.clone());
        kept.push((n, changed));
    }
    for (t, by_ports) in desired {
        for (pk, (ports, rest)) in by_ports {
            let mut rest: Vec<Endpoint> = rest.into_values().collect();
            // Into slices being written anyway, then slices with room.
            for pass in [true, false] {
                for (s, changed) in kept.iter_mut() {
                    if rest.is_empty() {
                        break;
                    }
                    if *changed != pass
                        || s.address_type != t
                        || port_key(s.ports.as_deref().unwrap_or(&[])) != pk
                    {
                        continue;
                    }
                    while s.endpoints.len() < max && !rest.is_empty() {
                        s.endpoints.push(rest.remove(0));
                        *changed = true;
                    }
                }
            }
            while !rest.is_empty() {
                let n = rest.len().min(max);
                let chunk: Vec<Endpoint> = rest.drain(..n).collect();
                plan.create.push(new_slice(svc, &t, ports.clone(), chunk));
            }
        }
    }
    for (s, changed) in kept {
        if changed {
            plan.update.push(s);
        }
    }
    // No endpoints at all: one empty placeholder slice, as upstream.
    let remaining = existing.len() + plan.create.len() - plan.delete.len();
    if remaining == 0 {
        let t = address_types(svc)
            .into_iter()
            .next()
            .unwrap_or_else(|| "IPv4".into());
        if let Some(i) = plan.delete.iter().position(|s| {
            s.address_type == t
                && s.endpoints.is_empty()
                && s.ports.as_deref().unwrap_or(&[]).is_empty()
        }) {
            let s = plan.delete.remove(i);
            if s.metadata.labels.as_ref() != Some(&labels) {
                let mut s = s;
                s.metadata.labels = Some(labels);
                plan.update.push(s);
            }
        } else {
            plan.create.push(new_slice(svc, &t, Vec::new(), Vec::new()));
        }
    }
    plan
}

/// The `resourceVersion` as a number (etcd's revision; a value that is
/// never stale if it is not one).
fn rv_of(s: &EndpointSlice) -> i64 {
    s.metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(i64::MAX)
}

/// Writes in flight per service: slice name -> `Some(resourceVersion)`
/// expected at least, or `None` expected gone (upstream
/// `EndpointSliceTracker`, which compares generations).
#[derive(Default)]
struct Tracker {
    inner: Mutex<HashMap<String, HashMap<String, Option<i64>>>>,
}

impl Tracker {
    fn expect(&self, svc: &str, slice: String, generation: Option<i64>) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(svc.to_string())
            .or_default()
            .insert(slice, generation);
    }

    /// Whether the cache has seen every write for `svc`; forgets those it has.
    fn fresh(&self, svc: &str, cached: &[Arc<EndpointSlice>]) -> bool {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Some(m) = g.get_mut(svc) else { return true };
        m.retain(|name, want| {
            let have = cached
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(name.as_str()));
            match (want, have) {
                (None, None) => false,
                (None, Some(_)) => true,
                (Some(_), None) => true,
                (Some(rv), Some(s)) => rv_of(s) < *rv,
            }
        });
        let ok = m.is_empty();
        if ok {
            g.remove(svc);
        }
        ok
    }

    fn forget(&self, svc: &str) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(svc);
    }
}

/// The controller: its queue and write tracker.
pub struct EndpointSliceController {
    ctx: Arc<Context>,
    queue: WorkQueue<String>,
    tracker: Arc<Tracker>,
    max: usize,
}

impl EndpointSliceController {
    /// Subscribes to services, pods and managed slices.
    pub fn new(ctx: Arc<Context>) -> Self {
        let queue: WorkQueue<String> = WorkQueue::new();
        subscribe_services_and_pods(&ctx, &queue);
        let q = queue.clone();
        ctx.endpointslices.subscribe(move |ev| {
            let s = match ev {
                InformerEvent::Applied { new, .. } => new,
                InformerEvent::Deleted(s) => s,
            };
            if let (Some(ns), Some(svc)) = (
                s.metadata.namespace.as_deref(),
                s.labels().get(LABEL_SERVICE_NAME),
            ) {
                q.add(format!("{ns}/{svc}"));
            }
        });
        let max = ctx.opts.max_endpoints_per_slice;
        EndpointSliceController {
            ctx,
            queue,
            tracker: Arc::new(Tracker::default()),
            max,
        }
    }

    /// The work queue (shut down to stop).
    pub fn queue(&self) -> WorkQueue<String> {
        self.queue.clone()
    }

    /// Runs the workers until the queue is shut down.
    pub async fn run(self) {
        let ctx = self.ctx.clone();
        let tracker = self.tracker.clone();
        let max = self.max;
        let n = ctx.opts.concurrent_service_endpoint_syncs;
        run_workers(
            "endpointslice",
            self.queue,
            n,
            ctx.metrics.clone(),
            move |key| {
                let ctx = ctx.clone();
                let tracker = tracker.clone();
                async move { sync(&ctx, &tracker, max, &key).await }
            },
        )
        .await;
    }
}

async fn sync(
    ctx: &Context,
    tracker: &Tracker,
    max: usize,
    key: &str,
) -> Result<Option<Duration>, Error> {
    let (ns, name) = client_support::informer::split_key(key);
    let ns = ns.unwrap_or("default");
    let Some(svc) = ctx
        .services
        .store()
        .get(&kube::runtime::reflector::ObjectRef::<Service>::new(name).within(ns))
    else {
        // Slices are owned by the service: the garbage collector removes them.
        tracker.forget(key);
        return Ok(None);
    };
    if service_selector(&svc).is_none() || svc.metadata.deletion_timestamp.is_some() {
        return Ok(None);
    }
    let uid = svc.metadata.uid.clone().unwrap_or_default();
    let slices: Vec<Arc<EndpointSlice>> = ctx.endpointslices.store().state_filter(|s| {
        s.metadata.namespace.as_deref() == Some(ns)
            && s.labels().get(LABEL_SERVICE_NAME).map(String::as_str) == Some(name)
            && s.labels().get(LABEL_MANAGED_BY).map(String::as_str) == Some(CONTROLLER_NAME)
    });
    if !tracker.fresh(key, &slices) {
        return Ok(Some(Duration::from_millis(100)));
    }
    // Slices of an older service of the same name are the GC's.
    let slices: Vec<Arc<EndpointSlice>> = slices
        .into_iter()
        .filter(|s| {
            s.owner_references().iter().any(|r| r.uid == uid) || s.owner_references().is_empty()
        })
        .collect();
    let pods = ctx
        .pods
        .store()
        .state_filter(|p| p.metadata.namespace.as_deref() == Some(ns));
    let plan = reconcile(&svc, &pods, &slices, max);
    let api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), ns);
    // Create and update first, so the service never has fewer endpoints than needed.
    for s in plan.create {
        let c = api
            .create(&PostParams::default(), &s)
            .await
            .map_err(Error::kube(format!(
                "creating endpointslice for service {key}"
            )))?;
        tracker.expect(key, c.name_any(), Some(rv_of(&c)));
    }
    for s in plan.update {
        let sname = s.name_any();
        match api.replace(&sname, &PostParams::default(), &s).await {
            Ok(u) => tracker.expect(key, sname, Some(rv_of(&u))),
            Err(e) => {
                return Err(Error::kube(format!("updating endpointslice {ns}/{sname}"))(
                    e,
                ))
            }
        }
    }
    for s in plan.delete {
        let sname = s.name_any();
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid: s.metadata.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&sname, &dp).await {
            Ok(_) => tracker.expect(key, sname, None),
            Err(e) if is_code(&e, 404) => {}
            Err(e) => {
                return Err(Error::kube(format!("deleting endpointslice {ns}/{sname}"))(
                    e,
                ))
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::tests::{pod, svc};
    use serde_json::json;

    fn with_name(mut s: EndpointSlice, n: &str) -> Arc<EndpointSlice> {
        s.metadata.name = Some(n.into());
        s.metadata.generate_name = None;
        Arc::new(s)
    }

    #[test]
    fn conditions_as_upstream() {
        let s = svc(json!({}));
        let ready = pod("a", "10.0.0.1", true, 8080);
        let e = pod_to_endpoint(&ready, &s, "10.0.0.1");
        let c = e.conditions.unwrap();
        assert_eq!(
            (c.ready, c.serving, c.terminating),
            (Some(true), Some(true), Some(false))
        );
        let mut term = (*ready).clone();
        term.metadata.deletion_timestamp = Some(crate::util::now());
        let c = pod_to_endpoint(&term, &s, "10.0.0.1").conditions.unwrap();
        assert_eq!(
            (c.ready, c.serving, c.terminating),
            (Some(false), Some(true), Some(true))
        );
        let nr = pod("b", "10.0.0.2", false, 8080);
        let c = pod_to_endpoint(&nr, &s, "10.0.0.2").conditions.unwrap();
        assert_eq!((c.ready, c.serving), (Some(false), Some(false)));
        let p = svc(json!({"spec": {"publishNotReadyAddresses": true}}));
        let c = pod_to_endpoint(&nr, &p, "10.0.0.2").conditions.unwrap();
        assert_eq!(c.ready, Some(true));
    }

    #[test]
    fn splits_at_max_and_updates_minimally() {
        let s = svc(json!({}));
        let pods: Vec<Arc<Pod>> = (0..5)
            .map(|i| pod(&format!("p{i}"), &format!("10.0.0.{i}"), true, 8080))
            .collect();
        let plan = reconcile(&s, &pods, &[], 2);
        assert_eq!(plan.create.len(), 3);
        assert!(plan.update.is_empty() && plan.delete.is_empty());
        let lens: Vec<usize> = plan.create.iter().map(|s| s.endpoints.len()).collect();
        assert_eq!(lens, [2, 2, 1]);
        let l = plan.create[0].metadata.labels.clone().unwrap();
        assert_eq!(l.get(LABEL_SERVICE_NAME).map(String::as_str), Some("web"));
        assert_eq!(
            l.get(LABEL_MANAGED_BY).map(String::as_str),
            Some(CONTROLLER_NAME)
        );
        assert_eq!(plan.create[0].address_type, "IPv4");
        assert_eq!(plan.create[0].ports.as_ref().unwrap()[0].port, Some(8080));
        // Apply, then nothing more to do.
        let existing: Vec<Arc<EndpointSlice>> = plan
            .create
            .into_iter()
            .enumerate()
            .map(|(i, s)| with_name(s, &format!("web-{i}")))
            .collect();
        let again = reconcile(&s, &pods, &existing, 2);
        assert!(again.create.is_empty() && again.update.is_empty() && again.delete.is_empty());
        // One pod turns not ready: only its slice is written.
        let mut pods2 = pods.clone();
        pods2[3] = pod("p3", "10.0.0.3", false, 8080);
        let p = reconcile(&s, &pods2, &existing, 2);
        assert_eq!(p.update.len(), 1);
        assert!(p.create.is_empty() && p.delete.is_empty());
        // A new pod fills the slice with room instead of a new slice.
        let mut pods3 = pods.clone();
        pods3.push(pod("p5", "10.0.0.5", true, 8080));
        let p = reconcile(&s, &pods3, &existing, 2);
        assert_eq!((p.create.len(), p.update.len()), (0, 1));
        assert_eq!(p.update[0].endpoints.len(), 2);
        // Pods gone: their slices go, one placeholder remains at the end.
        let p = reconcile(&s, &pods[..2], &existing, 2);
        assert_eq!((p.create.len(), p.update.len(), p.delete.len()), (0, 0, 2));
        let p = reconcile(&s, &[], &existing, 2);
        assert_eq!((p.create.len(), p.delete.len()), (1, 3));
        assert!(p.create[0].endpoints.is_empty());
    }

    #[test]
    fn different_resolved_ports_get_different_slices() {
        let s = svc(json!({}));
        let pods = vec![
            pod("a", "10.0.0.1", true, 8080),
            pod("b", "10.0.0.2", true, 9090),
        ];
        let plan = reconcile(&s, &pods, &[], 100);
        assert_eq!(plan.create.len(), 2);
        let h = svc(json!({"spec": {"clusterIP": "None", "ports": []}}));
        let plan = reconcile(&h, &pods, &[], 100);
        assert_eq!(plan.create.len(), 1);
        assert_eq!(plan.create[0].endpoints.len(), 2);
        assert!(plan.create[0]
            .metadata
            .labels
            .as_ref()
            .unwrap()
            .contains_key(LABEL_HEADLESS));
    }
}
