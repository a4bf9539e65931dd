//! The record index: every name the cluster zone answers for, built from
//! Services and EndpointSlices and updated one object at a time.
//!
//! Why a derived map: a query is a single hash lookup on the lower-cased
//! name, never a scan over Services. Each Service owns the records derived
//! from it and its slices; when either changes only that Service's records
//! are rebuilt. Names that merely have descendants (`<ns>.svc.<zone>`,
//! `_tcp.<svc>...`) are counted so they answer NODATA, not NXDOMAIN.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

use hickory_proto::rr::RecordType;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::names::{self, IN_ADDR_ARPA, IP6_ARPA};

/// The label linking an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The schema version of the Kubernetes DNS specification implemented.
pub const SCHEMA_VERSION: &str = "1.1.0";

/// Namespace and name of a Service or EndpointSlice.
pub type ObjectKey = (String, String);

/// The data of one resource record (the owner name is kept beside it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(std::net::Ipv6Addr),
    /// A service location.
    Srv {
        /// Lower is preferred.
        priority: u16,
        /// Share among records of equal priority.
        weight: u16,
        /// The port number.
        port: u16,
        /// The host name (no root dot).
        target: String,
    },
    /// An alias (no root dot).
    Cname(String),
    /// A reverse pointer (no root dot).
    Ptr(String),
    /// Text.
    Txt(String),
    /// Name server of the zone (no root dot).
    Ns(String),
    /// Start of authority of the zone.
    Soa {
        /// Primary name server (no root dot).
        mname: String,
        /// Mailbox of the responsible person (no root dot).
        rname: String,
        /// Bumped on every change of the index.
        serial: u32,
    },
}

impl RecordData {
    /// The DNS type of this record.
    pub fn record_type(&self) -> RecordType {
        match self {
            RecordData::A(_) => RecordType::A,
            RecordData::Aaaa(_) => RecordType::AAAA,
            RecordData::Srv { .. } => RecordType::SRV,
            RecordData::Cname(_) => RecordType::CNAME,
            RecordData::Ptr(_) => RecordType::PTR,
            RecordData::Txt(_) => RecordType::TXT,
            RecordData::Ns(_) => RecordType::NS,
            RecordData::Soa { .. } => RecordType::SOA,
        }
    }

    fn from_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => RecordData::A(v4),
            IpAddr::V6(v6) => RecordData::Aaaa(v6),
        }
    }
}

/// One answer record: owner name (normalised) and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Owner name, lower-case, no root dot.
    pub name: String,
    /// The record.
    pub data: RecordData,
}

/// The outcome of a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The name has records of the type asked (or a CNAME).
    Answers(Vec<Answer>),
    /// The name exists but has no record of that type.
    NoData,
    /// The name does not exist in a zone we are authoritative for.
    NxDomain,
    /// Not ours: forward it (names outside the zone, unknown reverse names).
    NotAuthoritative,
}

/// What a Service contributes, reduced to the fields DNS needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ServiceInfo {
    kind: ServiceKind,
    /// Named ports: (name, protocol lower-case, port).
    ports: Vec<(String, String, u16)>,
    publish_not_ready: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ServiceKind {
    ClusterIp(Vec<IpAddr>),
    Headless,
    ExternalName(String),
    /// No address yet (or an unparsable one): the name exists, nothing more.
    Pending,
}

impl ServiceInfo {
    fn from_service(svc: &Service) -> Self {
        let spec = svc.spec.clone().unwrap_or_default();
        let kind = if spec.type_.as_deref() == Some("ExternalName") {
            match spec.external_name.as_deref().map(names::normalize) {
                Some(target) if !target.is_empty() => ServiceKind::ExternalName(target),
                _ => ServiceKind::Pending,
            }
        } else {
            let mut ips: Vec<String> = spec.cluster_ips.clone().unwrap_or_default();
            if ips.is_empty() {
                ips.extend(spec.cluster_ip.clone());
            }
            if ips.iter().any(|ip| ip == "None") {
                ServiceKind::Headless
            } else {
                let parsed: Vec<IpAddr> = ips.iter().filter_map(|ip| ip.parse().ok()).collect();
                if parsed.is_empty() {
                    ServiceKind::Pending
                } else {
                    ServiceKind::ClusterIp(parsed)
                }
            }
        };
        let ports = spec
            .ports
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                let name = p.name.filter(|n| !n.is_empty())?;
                let proto = p.protocol.unwrap_or_else(|| "TCP".into());
                Some((
                    name,
                    proto.to_ascii_lowercase(),
                    u16::try_from(p.port).ok()?,
                ))
            })
            .collect();
        ServiceInfo {
            kind,
            ports,
            publish_not_ready: spec.publish_not_ready_addresses == Some(true),
        }
    }
}

/// What an EndpointSlice contributes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SliceInfo {
    service: String,
    endpoints: Vec<EndpointInfo>,
    /// Named ports: (name, protocol lower-case, port).
    ports: Vec<(String, String, u16)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct EndpointInfo {
    ip: IpAddr,
    hostname: Option<String>,
    ready: bool,
}

impl SliceInfo {
    fn from_slice(slice: &EndpointSlice) -> Option<Self> {
        let service = slice
            .metadata
            .labels
            .as_ref()?
            .get(SERVICE_NAME_LABEL)?
            .clone();
        if slice.address_type == "FQDN" {
            return Some(SliceInfo {
                service,
                endpoints: Vec::new(),
                ports: Vec::new(),
            });
        }
        let endpoints = slice
            .endpoints
            .iter()
            .flat_map(|ep| {
                let ready = ep.conditions.as_ref().and_then(|c| c.ready) != Some(false);
                let hostname = ep.hostname.clone().filter(|h| !h.is_empty());
                ep.addresses.iter().filter_map(move |a| {
                    Some(EndpointInfo {
                        ip: a.parse().ok()?,
                        hostname: hostname.clone(),
                        ready,
                    })
                })
            })
            .collect();
        let ports = slice
            .ports
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                let name = p.name.filter(|n| !n.is_empty())?;
                let proto = p.protocol.unwrap_or_else(|| "TCP".into());
                Some((
                    name,
                    proto.to_ascii_lowercase(),
                    u16::try_from(p.port?).ok()?,
                ))
            })
            .collect();
        Some(SliceInfo {
            service,
            endpoints,
            ports,
        })
    }
}

/// A name in the map: its records (by owning Service) and how many records
/// at or below it exist.
#[derive(Debug, Default)]
struct Node {
    refs: u32,
    records: Vec<(ObjectKey, RecordData)>,
}

/// The index. Build it with [`Index::new`], feed it objects, ask it with
/// [`Index::lookup`].
#[derive(Debug)]
pub struct Index {
    zone: String,
    dns_ip: Option<IpAddr>,
    serial: u32,
    services: HashMap<ObjectKey, ServiceInfo>,
    slices: HashMap<ObjectKey, SliceInfo>,
    slices_by_service: HashMap<ObjectKey, BTreeSet<String>>,
    names: HashMap<String, Node>,
    /// What each Service put into `names`: (name, data); `None` marks a
    /// name that exists without records (a Service with no endpoints).
    owned: HashMap<ObjectKey, Vec<(String, Option<RecordData>)>>,
}

impl Index {
    /// An empty index for `zone` (e.g. `cluster.local`). `dns_ip`, when
    /// known, is what `ns.dns.<zone>` (the zone's name server) resolves to.
    pub fn new(zone: &str, dns_ip: Option<IpAddr>) -> Self {
        let serial = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(1);
        Index {
            zone: names::normalize(zone),
            dns_ip,
            serial,
            services: HashMap::new(),
            slices: HashMap::new(),
            slices_by_service: HashMap::new(),
            names: HashMap::new(),
            owned: HashMap::new(),
        }
    }

    /// The zone, normalised.
    pub fn zone(&self) -> &str {
        &self.zone
    }

    /// How many Services the index holds.
    pub fn service_count(&self) -> usize {
        self.services.len()
    }

    /// Adds or updates a Service.
    pub fn apply_service(&mut self, svc: &Service) {
        let Some(key) = object_key(&svc.metadata) else {
            return;
        };
        let info = ServiceInfo::from_service(svc);
        if self.services.get(&key) == Some(&info) {
            return;
        }
        self.services.insert(key.clone(), info);
        self.rebuild(&key);
    }

    /// Removes a Service (its slices are kept until they are deleted, so a
    /// re-created Service finds them).
    pub fn delete_service(&mut self, namespace: &str, name: &str) {
        let key = (namespace.to_string(), name.to_string());
        if self.services.remove(&key).is_some() {
            self.rebuild(&key);
        }
    }

    /// Replaces the whole set of Services (after a re-list).
    pub fn replace_services<'a>(&mut self, all: impl IntoIterator<Item = &'a Service>) {
        let mut seen = HashSet::new();
        for svc in all {
            if let Some(key) = object_key(&svc.metadata) {
                seen.insert(key);
            }
            self.apply_service(svc);
        }
        let gone: Vec<ObjectKey> = self
            .services
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for (ns, name) in gone {
            self.delete_service(&ns, &name);
        }
    }

    /// Adds or updates an EndpointSlice.
    pub fn apply_slice(&mut self, slice: &EndpointSlice) {
        let Some(key) = object_key(&slice.metadata) else {
            return;
        };
        let info = SliceInfo::from_slice(slice);
        let old = self.slices.get(&key);
        if old == info.as_ref() {
            return;
        }
        let mut touched = Vec::new();
        if let Some(old) = self.slices.remove(&key) {
            let svc = (key.0.clone(), old.service);
            if let Some(set) = self.slices_by_service.get_mut(&svc) {
                set.remove(&key.1);
                if set.is_empty() {
                    self.slices_by_service.remove(&svc);
                }
            }
            touched.push(svc);
        }
        if let Some(info) = info {
            let svc = (key.0.clone(), info.service.clone());
            self.slices_by_service
                .entry(svc.clone())
                .or_default()
                .insert(key.1.clone());
            self.slices.insert(key, info);
            if !touched.contains(&svc) {
                touched.push(svc);
            }
        }
        for svc in touched {
            self.rebuild(&svc);
        }
    }

    /// Removes an EndpointSlice.
    pub fn delete_slice(&mut self, namespace: &str, name: &str) {
        let key = (namespace.to_string(), name.to_string());
        let Some(old) = self.slices.remove(&key) else {
            return;
        };
        let svc = (key.0.clone(), old.service);
        if let Some(set) = self.slices_by_service.get_mut(&svc) {
            set.remove(&key.1);
            if set.is_empty() {
                self.slices_by_service.remove(&svc);
            }
        }
        self.rebuild(&svc);
    }

    /// Replaces the whole set of EndpointSlices (after a re-list).
    pub fn replace_slices<'a>(&mut self, all: impl IntoIterator<Item = &'a EndpointSlice>) {
        let mut seen = HashSet::new();
        for slice in all {
            if let Some(key) = object_key(&slice.metadata) {
                seen.insert(key);
            }
            self.apply_slice(slice);
        }
        let gone: Vec<ObjectKey> = self
            .slices
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for (ns, name) in gone {
            self.delete_slice(&ns, &name);
        }
    }

    /// Answers a query for `name` (any case, root dot optional) and `qtype`.
    pub fn lookup(&self, name: &str, qtype: RecordType) -> Lookup {
        let name = names::normalize(name);
        if names::is_within(&name, &self.zone) {
            return self.lookup_in_zone(&name, qtype);
        }
        if names::is_within(&name, IN_ADDR_ARPA) || names::is_within(&name, IP6_ARPA) {
            return match self.names.get(&name) {
                Some(node) => filter(&name, node, qtype),
                None => Lookup::NotAuthoritative,
            };
        }
        Lookup::NotAuthoritative
    }

    /// The SOA record of the zone.
    pub fn soa(&self) -> Answer {
        Answer {
            name: self.zone.clone(),
            data: RecordData::Soa {
                mname: format!("ns.dns.{}", self.zone),
                rname: format!("hostmaster.{}", self.zone),
                serial: self.serial,
            },
        }
    }

    fn lookup_in_zone(&self, name: &str, qtype: RecordType) -> Lookup {
        let zone = self.zone.as_str();
        let Some(rel) = names::strip_zone(name, zone) else {
            // The apex.
            return match qtype {
                RecordType::SOA => Lookup::Answers(vec![self.soa()]),
                RecordType::NS => Lookup::Answers(vec![Answer {
                    name: zone.to_string(),
                    data: RecordData::Ns(format!("ns.dns.{zone}")),
                }]),
                _ => Lookup::NoData,
            };
        };
        let labels: Vec<&str> = rel.split('.').collect();
        match labels.as_slice() {
            ["dns-version"] => single(name, qtype, RecordData::Txt(SCHEMA_VERSION.into())),
            ["svc"] | ["pod"] | ["dns"] => Lookup::NoData,
            ["ns", "dns"] => match self.dns_ip {
                Some(ip) => single(name, qtype, RecordData::from_ip(ip)),
                None => Lookup::NoData,
            },
            [_, "pod"] => Lookup::NoData,
            [ip, _, "pod"] => match names::parse_dashed(ip) {
                Some(ip) => single(name, qtype, RecordData::from_ip(ip)),
                None => Lookup::NxDomain,
            },
            _ => match self.names.get(name) {
                Some(node) => filter(name, node, qtype),
                None => Lookup::NxDomain,
            },
        }
    }

    /// Recomputes the records of one Service from it and its slices.
    fn rebuild(&mut self, key: &ObjectKey) {
        let _span = tracing::debug_span!("dns_records", service = %format!("{}/{}", key.0, key.1))
            .entered();
        let wanted = self.records_for(key);
        let old = self.owned.remove(key).unwrap_or_default();
        if old == wanted {
            if !wanted.is_empty() {
                self.owned.insert(key.clone(), wanted);
            }
            return;
        }
        for (name, data) in &old {
            self.remove_record(key, name, data.as_ref());
        }
        for (name, data) in &wanted {
            self.add_record(key, name, data.clone());
        }
        tracing::debug!(records = wanted.len(), "rebuilt");
        if !wanted.is_empty() {
            self.owned.insert(key.clone(), wanted);
        }
        self.serial = self.serial.wrapping_add(1);
    }

    fn add_record(&mut self, owner: &ObjectKey, name: &str, data: Option<RecordData>) {
        let node = self.names.entry(name.to_string()).or_default();
        node.refs += 1;
        if let Some(data) = data {
            node.records.push((owner.clone(), data));
        }
        let apex = self.apex_of(name).to_string();
        for parent in names::ancestors(name, &apex) {
            self.names.entry(parent.to_string()).or_default().refs += 1;
        }
    }

    fn remove_record(&mut self, owner: &ObjectKey, name: &str, data: Option<&RecordData>) {
        let apex = self.apex_of(name).to_string();
        let names_to_drop = std::iter::once(name).chain(names::ancestors(name, &apex));
        for (i, n) in names_to_drop.enumerate() {
            let Some(node) = self.names.get_mut(n) else {
                continue;
            };
            if i == 0 {
                if let Some(data) = data {
                    if let Some(pos) = node
                        .records
                        .iter()
                        .position(|(o, d)| o == owner && d == data)
                    {
                        node.records.swap_remove(pos);
                    }
                }
            }
            node.refs = node.refs.saturating_sub(1);
            if node.refs == 0 {
                self.names.remove(n);
            }
        }
    }

    fn apex_of(&self, name: &str) -> &str {
        if names::is_within(name, &self.zone) {
            &self.zone
        } else if names::is_within(name, IN_ADDR_ARPA) {
            IN_ADDR_ARPA
        } else {
            IP6_ARPA
        }
    }

    /// The records one Service should have, sorted so equal sets compare
    /// equal.
    fn records_for(&self, key: &ObjectKey) -> Vec<(String, Option<RecordData>)> {
        let Some(svc) = self.services.get(key) else {
            return Vec::new();
        };
        let base = format!("{}.{}.svc.{}", key.1, key.0, self.zone);
        let mut out: BTreeSet<(String, Option<RecordData>)> = BTreeSet::new();
        out.insert((base.clone(), None));

        // Ready endpoints of all slices, one per address; and the slice
        // ports (the target ports SRV records of headless Services use).
        let mut endpoints: Vec<(IpAddr, String)> = Vec::new();
        let mut seen_ips = HashSet::new();
        let mut endpoint_ports: BTreeSet<(String, String, u16)> = BTreeSet::new();
        for slice_name in self.slices_by_service.get(key).into_iter().flatten() {
            let Some(slice) = self.slices.get(&(key.0.clone(), slice_name.clone())) else {
                continue;
            };
            endpoint_ports.extend(slice.ports.iter().cloned());
            for ep in &slice.endpoints {
                if (ep.ready || svc.publish_not_ready) && seen_ips.insert(ep.ip) {
                    let host = ep
                        .hostname
                        .clone()
                        .unwrap_or_else(|| names::dashed(ep.ip))
                        .to_ascii_lowercase();
                    endpoints.push((ep.ip, host));
                }
            }
        }
        endpoints.sort();

        let endpoint_records = |out: &mut BTreeSet<_>| {
            for (ip, host) in &endpoints {
                let ep_name = format!("{host}.{base}");
                out.insert((ep_name.clone(), Some(RecordData::from_ip(*ip))));
                out.insert((
                    names::reverse_name(*ip),
                    Some(RecordData::Ptr(ep_name.clone())),
                ));
            }
        };

        match &svc.kind {
            ServiceKind::ExternalName(target) => {
                out.insert((base.clone(), Some(RecordData::Cname(target.clone()))));
            }
            ServiceKind::Pending => {}
            ServiceKind::ClusterIp(ips) => {
                for ip in ips {
                    out.insert((base.clone(), Some(RecordData::from_ip(*ip))));
                    out.insert((
                        names::reverse_name(*ip),
                        Some(RecordData::Ptr(base.clone())),
                    ));
                }
                for (port_name, proto, port) in &svc.ports {
                    out.insert((
                        format!("_{port_name}._{proto}.{base}"),
                        Some(RecordData::Srv {
                            priority: 0,
                            weight: 100,
                            port: *port,
                            target: base.clone(),
                        }),
                    ));
                }
                endpoint_records(&mut out);
            }
            ServiceKind::Headless => {
                for (ip, _) in &endpoints {
                    out.insert((base.clone(), Some(RecordData::from_ip(*ip))));
                }
                // Named ports of the endpoints, or of the Service when no
                // slice says (a Service without selector and no slices yet).
                let ports: Vec<_> = if endpoint_ports.is_empty() {
                    svc.ports.clone()
                } else {
                    endpoint_ports.iter().cloned().collect()
                };
                let weight = u16::try_from(100 / endpoints.len().max(1))
                    .unwrap_or(1)
                    .max(1);
                for (port_name, proto, port) in &ports {
                    for (_, host) in &endpoints {
                        out.insert((
                            format!("_{port_name}._{proto}.{base}"),
                            Some(RecordData::Srv {
                                priority: 0,
                                weight,
                                port: *port,
                                target: format!("{host}.{base}"),
                            }),
                        ));
                    }
                }
                endpoint_records(&mut out);
            }
        }
        out.into_iter().collect()
    }
}

fn object_key(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<ObjectKey> {
    Some((meta.namespace.clone()?, meta.name.clone()?))
}

/// One synthesized record, or NODATA if the type differs.
fn single(name: &str, qtype: RecordType, data: RecordData) -> Lookup {
    if qtype == data.record_type() || qtype == RecordType::ANY {
        Lookup::Answers(vec![Answer {
            name: name.to_string(),
            data,
        }])
    } else {
        Lookup::NoData
    }
}

/// The records of `node` matching `qtype`; a CNAME answers any type.
fn filter(name: &str, node: &Node, qtype: RecordType) -> Lookup {
    let mut answers: Vec<Answer> = node
        .records
        .iter()
        .filter(|(_, d)| qtype == RecordType::ANY || d.record_type() == qtype)
        .map(|(_, d)| Answer {
            name: name.to_string(),
            data: d.clone(),
        })
        .collect();
    if answers.is_empty() {
        if let Some((_, cname)) = node
            .records
            .iter()
            .find(|(_, d)| matches!(d, RecordData::Cname(_)))
        {
            answers.push(Answer {
                name: name.to_string(),
                data: cname.clone(),
            });
        }
    }
    if answers.is_empty() {
        Lookup::NoData
    } else {
        answers.sort_by(|a, b| a.data.cmp(&b.data));
        answers.dedup();
        Lookup::Answers(answers)
    }
}

#[cfg(test)]
mod tests;
