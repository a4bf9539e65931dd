//! Self-registration: the DNS Service (`kube-system/kube-dns`, no
//! selector) and an EndpointSlice pointing at this process, so kube-proxy
//! routes the well-known Service IP to a server that runs on the host
//! rather than in a pod. Create-or-update, so restarts and existing objects
//! are fine.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, PostParams};
use kube::Client;

use crate::error::Error;
use crate::index::SERVICE_NAME_LABEL;
use crate::names;

/// The label EndpointSlice controllers use to tell their slices apart.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// Our value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY: &str = "kube-dns";

/// What to register.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Namespace of the Service (`kube-system`).
    pub namespace: String,
    /// Name of the Service (`kube-dns`).
    pub name: String,
    /// The Service's ClusterIP (the tenth address of the service range).
    pub service_ip: IpAddr,
    /// The address other nodes and kube-proxy reach this server on.
    pub advertise_address: IpAddr,
    /// The port DNS listens on (UDP and TCP).
    pub dns_port: u16,
    /// The port `/metrics` listens on, if any.
    pub metrics_port: Option<u16>,
}

impl Registration {
    /// Parses `namespace/name`.
    pub fn parse_target(s: &str) -> Result<(String, String), Error> {
        match s.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() => {
                Ok((ns.to_string(), name.to_string()))
            }
            _ => Err(Error::Config(format!(
                "--register-service wants namespace/name, got {s:?}"
            ))),
        }
    }

    /// The name of our EndpointSlice: one per advertise address, so
    /// several servers (one per node) each keep their own.
    pub fn slice_name(&self) -> String {
        format!("{}-{}", self.name, names::dashed(self.advertise_address))
    }

    fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("k8s-app".to_string(), "kube-dns".to_string()),
            (
                "kubernetes.io/cluster-service".to_string(),
                "true".to_string(),
            ),
            ("kubernetes.io/name".to_string(), "CoreDNS".to_string()),
        ])
    }

    fn service_ports(&self) -> Vec<ServicePort> {
        let mut ports = vec![
            service_port("dns", 53, "UDP", self.dns_port),
            service_port("dns-tcp", 53, "TCP", self.dns_port),
        ];
        if let Some(m) = self.metrics_port {
            ports.push(service_port("metrics", 9153, "TCP", m));
        }
        ports
    }

    fn slice(&self, owner: &Service) -> EndpointSlice {
        let mut labels = BTreeMap::from([
            (SERVICE_NAME_LABEL.to_string(), self.name.clone()),
            (MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string()),
        ]);
        labels.insert("k8s-app".into(), "kube-dns".into());
        let mut ports = vec![
            endpoint_port("dns", "UDP", self.dns_port),
            endpoint_port("dns-tcp", "TCP", self.dns_port),
        ];
        if let Some(m) = self.metrics_port {
            ports.push(endpoint_port("metrics", "TCP", m));
        }
        let owner_references = owner.metadata.uid.clone().map(|uid| {
            vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Service".into(),
                name: self.name.clone(),
                uid,
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]
        });
        EndpointSlice {
            metadata: ObjectMeta {
                name: Some(self.slice_name()),
                namespace: Some(self.namespace.clone()),
                labels: Some(labels),
                owner_references,
                ..ObjectMeta::default()
            },
            address_type: if self.advertise_address.is_ipv4() {
                "IPv4".into()
            } else {
                "IPv6".into()
            },
            endpoints: vec![Endpoint {
                addresses: vec![self.advertise_address.to_string()],
                conditions: Some(EndpointConditions {
                    ready: Some(true),
                    serving: Some(true),
                    terminating: Some(false),
                }),
                ..Endpoint::default()
            }],
            ports: Some(ports),
        }
    }
}

fn service_port(name: &str, port: i32, protocol: &str, target: u16) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        protocol: Some(protocol.into()),
        target_port: Some(IntOrString::Int(i32::from(target))),
        ..ServicePort::default()
    }
}

fn endpoint_port(name: &str, protocol: &str, port: u16) -> EndpointPort {
    EndpointPort {
        name: Some(name.into()),
        port: Some(i32::from(port)),
        protocol: Some(protocol.into()),
        ..EndpointPort::default()
    }
}

fn kube_err(context: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    let context = context.into();
    move |source| Error::Kube { context, source }
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

/// Creates or updates the Service and our EndpointSlice. Idempotent.
pub async fn register(client: &Client, reg: &Registration) -> Result<(), Error> {
    let svc = ensure_service(client, reg).await?;
    ensure_slice(client, reg, &svc).await
}

/// Deletes our EndpointSlice (the Service stays: other servers may back it).
pub async fn unregister(client: &Client, reg: &Registration) -> Result<(), Error> {
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), &reg.namespace);
    match slices
        .delete(&reg.slice_name(), &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_status(&e, 404) => Ok(()),
        Err(e) => Err(kube_err(format!(
            "delete endpointslice {}",
            reg.slice_name()
        ))(e)),
    }
}

async fn ensure_service(client: &Client, reg: &Registration) -> Result<Service, Error> {
    let api: Api<Service> = Api::namespaced(client.clone(), &reg.namespace);
    let what = format!("service {}/{}", reg.namespace, reg.name);
    for _ in 0..5 {
        match api
            .get_opt(&reg.name)
            .await
            .map_err(kube_err(format!("get {what}")))?
        {
            None => {
                let ip = reg.service_ip.to_string();
                let svc = Service {
                    metadata: ObjectMeta {
                        name: Some(reg.name.clone()),
                        namespace: Some(reg.namespace.clone()),
                        labels: Some(reg.labels()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(ServiceSpec {
                        type_: Some("ClusterIP".into()),
                        cluster_ip: Some(ip.clone()),
                        cluster_ips: Some(vec![ip]),
                        ports: Some(reg.service_ports()),
                        ..ServiceSpec::default()
                    }),
                    ..Service::default()
                };
                match api.create(&PostParams::default(), &svc).await {
                    Ok(created) => {
                        tracing::info!(service = %what, "created");
                        return Ok(created);
                    }
                    Err(e) if is_status(&e, 409) => continue,
                    Err(e) => return Err(kube_err(format!("create {what}"))(e)),
                }
            }
            Some(existing) => {
                let mut desired = existing.clone();
                let labels = desired.metadata.labels.get_or_insert_with(BTreeMap::new);
                for (k, v) in reg.labels() {
                    labels.insert(k, v);
                }
                let spec = desired.spec.get_or_insert_with(ServiceSpec::default);
                spec.selector = None;
                spec.ports = Some(reg.service_ports());
                let current_ip = spec.cluster_ip.clone().unwrap_or_default();
                if current_ip != reg.service_ip.to_string() {
                    tracing::warn!(service = %what, existing = %current_ip, wanted = %reg.service_ip,
                        "service has another clusterIP (immutable); keeping it");
                }
                if same_ports(&desired, &existing)
                    && desired.metadata.labels == existing.metadata.labels
                    && existing
                        .spec
                        .as_ref()
                        .and_then(|s| s.selector.as_ref())
                        .is_none()
                {
                    return Ok(existing);
                }
                match api
                    .replace(&reg.name, &PostParams::default(), &desired)
                    .await
                {
                    Ok(updated) => {
                        tracing::info!(service = %what, "updated");
                        return Ok(updated);
                    }
                    Err(e) if is_status(&e, 409) => continue,
                    Err(e) => return Err(kube_err(format!("update {what}"))(e)),
                }
            }
        }
    }
    Err(Error::Config(format!("{what}: too many conflicts")))
}

/// Compares the fields we set (the apiserver fills in defaults such as
/// `nodePort: null`, so whole-object comparison would always differ).
fn same_ports(a: &Service, b: &Service) -> bool {
    let ports = |s: &Service| {
        s.spec
            .as_ref()
            .and_then(|s| s.ports.clone())
            .unwrap_or_default()
    };
    let (pa, pb) = (ports(a), ports(b));
    pa.len() == pb.len()
        && pa.iter().zip(pb.iter()).all(|(x, y)| {
            x.name == y.name
                && x.port == y.port
                && x.protocol == y.protocol
                && x.target_port == y.target_port
        })
}

async fn ensure_slice(client: &Client, reg: &Registration, svc: &Service) -> Result<(), Error> {
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), &reg.namespace);
    let name = reg.slice_name();
    let what = format!("endpointslice {}/{name}", reg.namespace);
    let desired = reg.slice(svc);
    for _ in 0..5 {
        match api
            .get_opt(&name)
            .await
            .map_err(kube_err(format!("get {what}")))?
        {
            None => match api.create(&PostParams::default(), &desired).await {
                Ok(_) => {
                    tracing::info!(endpointslice = %what, "created");
                    return Ok(());
                }
                Err(e) if is_status(&e, 409) => continue,
                Err(e) => return Err(kube_err(format!("create {what}"))(e)),
            },
            Some(existing) => {
                if existing.endpoints == desired.endpoints
                    && existing.ports == desired.ports
                    && existing.address_type == desired.address_type
                    && existing.metadata.labels == desired.metadata.labels
                    && existing.metadata.owner_references == desired.metadata.owner_references
                {
                    return Ok(());
                }
                let mut update = desired.clone();
                update.metadata.resource_version = existing.metadata.resource_version.clone();
                match api.replace(&name, &PostParams::default(), &update).await {
                    Ok(_) => {
                        tracing::info!(endpointslice = %what, "updated");
                        return Ok(());
                    }
                    Err(e) if is_status(&e, 409) => continue,
                    Err(e) if is_status(&e, 422) => {
                        // addressType is immutable: replace the object.
                        api.delete(&name, &DeleteParams::default())
                            .await
                            .map_err(kube_err(format!("delete {what}")))?;
                    }
                    Err(e) => return Err(kube_err(format!("update {what}"))(e)),
                }
            }
        }
    }
    Err(Error::Config(format!("{what}: too many conflicts")))
}
