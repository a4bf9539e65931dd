//! What the proxy programs, reduced from Services and EndpointSlices to
//! plain data: one [`ServicePort`] per (service, port) and its endpoints.
//! Ruleset generation works on this model only, so it is testable (and
//! benchmarkable) without an apiserver.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The label tying an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The EndpointSlice annotation with the time of the change that triggered it.
pub const LAST_CHANGE_TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";
/// Default `sessionAffinityConfig.clientIP.timeoutSeconds` (3 hours).
pub const DEFAULT_AFFINITY_TIMEOUT: u32 = 10800;

/// A transport protocol of a service port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP (the default).
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// Parses the API spelling (`TCP`, `UDP`, `SCTP`); `None` means TCP.
    pub fn from_api(s: Option<&str>) -> Option<Protocol> {
        match s.unwrap_or("TCP") {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// The nft spelling (`tcp`, `udp`, `sctp`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Names one port of one service, as upstream's `ServicePortName`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServicePortName {
    /// The service's namespace.
    pub namespace: String,
    /// The service's name.
    pub name: String,
    /// The port's name (empty for a single unnamed port).
    pub port: String,
    /// The port's protocol.
    pub protocol: Protocol,
}

impl ServicePortName {
    /// A name for tests and benchmarks.
    pub fn new(namespace: &str, name: &str, port: &str, protocol: Protocol) -> Self {
        ServicePortName {
            namespace: namespace.into(),
            name: name.into(),
            port: port.into(),
            protocol,
        }
    }

    /// `namespace/name`, the key of the Service object.
    pub fn service_key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

impl fmt::Display for ServicePortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.namespace, self.name, self.port)
    }
}

/// One port of a service and every address it is reachable on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServicePort {
    /// `spec.clusterIP` (IPv4 only; `None` for headless).
    pub cluster_ip: Option<Ipv4Addr>,
    /// `spec.ports[].port`.
    pub port: u16,
    /// `spec.ports[].nodePort`, when allocated.
    pub node_port: Option<u16>,
    /// `spec.externalIPs`.
    pub external_ips: Vec<Ipv4Addr>,
    /// `status.loadBalancer.ingress[].ip` (except `ipMode: Proxy`).
    pub load_balancer_ips: Vec<Ipv4Addr>,
    /// `sessionAffinity: ClientIP` with its timeout in seconds.
    pub affinity_timeout: Option<u32>,
    /// `internalTrafficPolicy: Local`.
    pub internal_local: bool,
    /// `externalTrafficPolicy: Local` (only meaningful with external addresses).
    pub external_local: bool,
}

impl ServicePort {
    /// Whether the port is reachable from outside the cluster network
    /// (NodePort, externalIPs, load balancer).
    pub fn has_external(&self) -> bool {
        self.node_port.is_some()
            || !self.external_ips.is_empty()
            || !self.load_balancer_ips.is_empty()
    }
}

/// One backend address of a service port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// The endpoint's IPv4 address.
    pub ip: Ipv4Addr,
    /// The target port.
    pub port: u16,
    /// `conditions.ready` (absent means ready).
    pub ready: bool,
    /// `conditions.serving` (absent means as ready).
    pub serving: bool,
    /// `conditions.terminating` (absent means not terminating).
    pub terminating: bool,
    /// `nodeName`, for the Local traffic policies.
    pub node_name: Option<String>,
}

impl Endpoint {
    /// A ready endpoint on `node` (tests and benchmarks).
    pub fn ready(ip: Ipv4Addr, port: u16, node: Option<&str>) -> Self {
        Endpoint {
            ip,
            port,
            ready: true,
            serving: true,
            terminating: false,
            node_name: node.map(str::to_string),
        }
    }
}

/// Picks the endpoints traffic may go to, as upstream: the ready ones, or
/// when none is ready, the serving-and-terminating ones (so connections
/// drain during a rollout instead of failing).
pub fn usable<'a>(eps: impl IntoIterator<Item = &'a Endpoint> + Clone) -> Vec<&'a Endpoint> {
    let ready: Vec<&Endpoint> = eps.clone().into_iter().filter(|e| e.ready).collect();
    if !ready.is_empty() {
        return ready;
    }
    eps.into_iter()
        .filter(|e| e.serving && e.terminating)
        .collect()
}

/// Every service port the node proxies and its endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Model {
    /// Service ports by name.
    pub services: BTreeMap<ServicePortName, ServicePort>,
    /// Endpoints by service port (sorted, without duplicates).
    pub endpoints: BTreeMap<ServicePortName, Vec<Endpoint>>,
}

impl Model {
    /// Builds the model from the objects in the informers' stores.
    pub fn from_objects<'a>(
        services: impl IntoIterator<Item = &'a Service>,
        slices: impl IntoIterator<Item = &'a EndpointSlice>,
    ) -> Model {
        let mut m = Model::default();
        for svc in services {
            m.services.extend(service_ports(svc));
        }
        for slice in slices {
            for (name, ep) in slice_endpoints(slice) {
                if m.services.contains_key(&name) {
                    m.endpoints.entry(name).or_default().push(ep);
                }
            }
        }
        for eps in m.endpoints.values_mut() {
            eps.sort();
            // The same address in two slices (mid-migration) counts once.
            eps.dedup_by(|a, b| a.ip == b.ip && a.port == b.port);
        }
        m
    }
}

/// The service ports whose port or endpoints differ between two models
/// (added and removed ones included). One merge pass over the sorted maps:
/// it runs on every incremental sync, over every service.
pub fn changed_ports(old: &Model, new: &Model) -> BTreeSet<ServicePortName> {
    let mut out = BTreeSet::new();
    differing_keys(&old.services, &new.services, &mut out);
    differing_keys(&old.endpoints, &new.endpoints, &mut out);
    out
}

fn differing_keys<V: PartialEq>(
    a: &BTreeMap<ServicePortName, V>,
    b: &BTreeMap<ServicePortName, V>,
    out: &mut BTreeSet<ServicePortName>,
) {
    use std::cmp::Ordering;
    let (mut x, mut y) = (a.iter().peekable(), b.iter().peekable());
    loop {
        let next = match (x.peek().copied(), y.peek().copied()) {
            (None, None) => return,
            (Some((k, _)), None) => {
                x.next();
                Some(k)
            }
            (None, Some((k, _))) => {
                y.next();
                Some(k)
            }
            (Some((ka, va)), Some((kb, vb))) => match ka.cmp(kb) {
                Ordering::Less => {
                    x.next();
                    Some(ka)
                }
                Ordering::Greater => {
                    y.next();
                    Some(kb)
                }
                Ordering::Equal => {
                    let k = (va != vb).then_some(ka);
                    x.next();
                    y.next();
                    k
                }
            },
        };
        if let Some(k) = next {
            out.insert(k.clone());
        }
    }
}

/// The service ports of one Service; none for ExternalName and headless
/// services, which the proxy does not handle.
pub fn service_ports(svc: &Service) -> Vec<(ServicePortName, ServicePort)> {
    let (Some(ns), Some(name), Some(spec)) = (
        svc.metadata.namespace.as_deref(),
        svc.metadata.name.as_deref(),
        svc.spec.as_ref(),
    ) else {
        return Vec::new();
    };
    if spec.type_.as_deref() == Some("ExternalName") {
        return Vec::new();
    }
    let cluster_ip = spec
        .cluster_ip
        .as_deref()
        .and_then(|s| s.parse::<Ipv4Addr>().ok());
    let Some(cluster_ip) = cluster_ip else {
        return Vec::new();
    };
    let external_ips: Vec<Ipv4Addr> = spec
        .external_ips
        .iter()
        .flatten()
        .filter_map(|s| s.parse().ok())
        .collect();
    let lb_ips: Vec<Ipv4Addr> = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter(|i| i.ip_mode.as_deref() != Some("Proxy"))
        .filter_map(|i| i.ip.as_deref()?.parse().ok())
        .collect();
    let affinity_timeout = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        spec.session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(DEFAULT_AFFINITY_TIMEOUT)
    });
    let node_ports = matches!(spec.type_.as_deref(), Some("NodePort" | "LoadBalancer"));
    let internal_local = spec.internal_traffic_policy.as_deref() == Some("Local");
    let mut out = Vec::new();
    for p in spec.ports.iter().flatten() {
        let Some(protocol) = Protocol::from_api(p.protocol.as_deref()) else {
            continue;
        };
        let Ok(port) = u16::try_from(p.port) else {
            continue;
        };
        let node_port = p
            .node_port
            .filter(|_| node_ports)
            .and_then(|n| u16::try_from(n).ok())
            .filter(|n| *n > 0);
        let mut sp = ServicePort {
            cluster_ip: Some(cluster_ip),
            port,
            node_port,
            external_ips: external_ips.clone(),
            load_balancer_ips: lb_ips.clone(),
            affinity_timeout,
            internal_local,
            external_local: false,
        };
        sp.external_local =
            sp.has_external() && spec.external_traffic_policy.as_deref() == Some("Local");
        out.push((
            ServicePortName {
                namespace: ns.to_string(),
                name: name.to_string(),
                port: p.name.clone().unwrap_or_default(),
                protocol,
            },
            sp,
        ));
    }
    out
}

/// The endpoints an EndpointSlice contributes, per service port (IPv4
/// slices only).
pub fn slice_endpoints(slice: &EndpointSlice) -> Vec<(ServicePortName, Endpoint)> {
    if slice.address_type != "IPv4" {
        return Vec::new();
    }
    let Some(ns) = slice.metadata.namespace.as_deref() else {
        return Vec::new();
    };
    let Some(svc) = slice
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SERVICE_NAME_LABEL))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in slice.ports.iter().flatten() {
        let Some(protocol) = Protocol::from_api(p.protocol.as_deref()) else {
            continue;
        };
        let Some(port) = p.port.and_then(|n| u16::try_from(n).ok()) else {
            continue;
        };
        let name = ServicePortName {
            namespace: ns.to_string(),
            name: svc.clone(),
            port: p.name.clone().unwrap_or_default(),
            protocol,
        };
        for e in &slice.endpoints {
            let Some(ip) = e.addresses.first().and_then(|a| a.parse::<Ipv4Addr>().ok()) else {
                continue;
            };
            let c = e.conditions.as_ref();
            let ready = c.and_then(|c| c.ready).unwrap_or(true);
            out.push((
                name.clone(),
                Endpoint {
                    ip,
                    port,
                    ready,
                    serving: c.and_then(|c| c.serving).unwrap_or(ready),
                    terminating: c.and_then(|c| c.terminating).unwrap_or(false),
                    node_name: e.node_name.clone(),
                },
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn services_and_slices_to_model() {
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"namespace": "ns", "name": "web"},
            "spec": {"type": "NodePort", "clusterIP": "10.0.0.10",
                     "externalTrafficPolicy": "Local", "sessionAffinity": "ClientIP",
                     "ports": [{"name": "http", "port": 80, "nodePort": 30080},
                               {"name": "dns", "port": 53, "protocol": "UDP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.9"}]}}
        }))
        .unwrap();
        let headless: Service = serde_json::from_value(json!({
            "metadata": {"namespace": "ns", "name": "h"},
            "spec": {"clusterIP": "None", "ports": [{"port": 80}]}
        }))
        .unwrap();
        let slice: EndpointSlice = serde_json::from_value(json!({
            "metadata": {"namespace": "ns", "name": "web-abc",
                         "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080}],
            "endpoints": [
                {"addresses": ["10.244.0.5"], "nodeName": "n1"},
                {"addresses": ["10.244.0.6"], "conditions": {"ready": false, "serving": true, "terminating": true}}
            ]
        }))
        .unwrap();
        let m = Model::from_objects([&svc, &headless], [&slice]);
        assert_eq!(m.services.len(), 2);
        let http = ServicePortName::new("ns", "web", "http", Protocol::Tcp);
        let sp = &m.services[&http];
        assert_eq!(sp.cluster_ip, Some("10.0.0.10".parse().unwrap()));
        assert_eq!(sp.node_port, Some(30080));
        assert!(sp.external_local);
        assert_eq!(sp.affinity_timeout, Some(DEFAULT_AFFINITY_TIMEOUT));
        assert_eq!(
            sp.load_balancer_ips,
            vec!["192.0.2.9".parse::<Ipv4Addr>().unwrap()]
        );
        let eps = &m.endpoints[&http];
        assert_eq!(eps.len(), 2);
        assert_eq!(usable(eps.iter()).len(), 1);
        assert_eq!(eps[0].node_name.as_deref(), Some("n1"));
        assert!(eps[1].terminating && !eps[1].ready);
    }

    #[test]
    fn terminating_fallback() {
        let mut a = Endpoint::ready("10.1.0.1".parse().unwrap(), 80, None);
        a.ready = false;
        a.terminating = true;
        let mut b = a.clone();
        b.ip = "10.1.0.2".parse().unwrap();
        b.serving = false;
        let eps = [a.clone(), b];
        assert_eq!(usable(eps.iter()), vec![&a]);
    }
}
