//! The serviceaccount controller (a `default` ServiceAccount in every
//! namespace) and the root CA publisher (the `kube-root-ca.crt` ConfigMap
//! with key `ca.crt` in every namespace).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use client_support::{InformerEvent, WorkQueue};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use crate::util::is_code;
use crate::worker::run_workers;
use crate::{Context, Error};

/// Name of the ConfigMap the publisher keeps in every namespace.
pub const ROOT_CA_CONFIGMAP: &str = "kube-root-ca.crt";
/// Upstream's description annotation on it.
pub const ROOT_CA_DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

fn namespace_active(ctx: &Context, ns: &str) -> bool {
    ctx.namespaces
        .store()
        .get(&ObjectRef::<Namespace>::new(ns))
        .is_some_and(|n| {
            n.metadata.deletion_timestamp.is_none()
                && n.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Terminating")
        })
}

/// Creates `default` ServiceAccounts.
pub struct ServiceAccountController {
    ctx: Arc<Context>,
    queue: WorkQueue<String>,
}

impl ServiceAccountController {
    /// Subscribes to namespaces and ServiceAccounts.
    pub fn new(ctx: Arc<Context>) -> Self {
        let queue = WorkQueue::new();
        let q = queue.clone();
        ctx.namespaces.subscribe(move |ev| {
            if let InformerEvent::Applied { new, .. } = ev {
                q.add(new.name_any());
            }
        });
        let q = queue.clone();
        ctx.serviceaccounts.subscribe(move |ev| {
            if let InformerEvent::Deleted(sa) = ev {
                if sa.name_any() == "default" {
                    q.add(sa.namespace().unwrap_or_default());
                }
            }
        });
        ServiceAccountController { ctx, queue }
    }

    /// The work queue (shut down to stop).
    pub fn queue(&self) -> WorkQueue<String> {
        self.queue.clone()
    }

    /// Runs the workers until the queue is shut down.
    pub async fn run(self) {
        let ctx = self.ctx.clone();
        let n = ctx.opts.concurrent_serviceaccount_syncs;
        run_workers(
            "serviceaccount",
            self.queue,
            n,
            ctx.metrics.clone(),
            move |ns| {
                let ctx = ctx.clone();
                async move { sync_service_account(&ctx, &ns).await }
            },
        )
        .await;
    }
}

async fn sync_service_account(ctx: &Context, ns: &str) -> Result<Option<Duration>, Error> {
    if !namespace_active(ctx, ns) {
        return Ok(None);
    }
    if ctx
        .serviceaccounts
        .store()
        .get(&ObjectRef::<ServiceAccount>::new("default").within(ns))
        .is_some()
    {
        return Ok(None);
    }
    let api: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), ns);
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some("default".into()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    match api.create(&PostParams::default(), &sa).await {
        Ok(_) => Ok(None),
        // Exists already (cache behind), or the namespace began terminating.
        Err(e) if is_code(&e, 409) || is_code(&e, 403) => Ok(None),
        Err(e) => Err(Error::kube(format!("creating serviceaccount {ns}/default"))(e)),
    }
}

/// Publishes the cluster CA in every namespace.
pub struct RootCaPublisher {
    ctx: Arc<Context>,
    queue: WorkQueue<String>,
    ca: Arc<String>,
}

impl RootCaPublisher {
    /// Subscribes to namespaces and `kube-root-ca.crt` ConfigMaps.
    pub fn new(ctx: Arc<Context>, ca: String) -> Self {
        let queue = WorkQueue::new();
        let q = queue.clone();
        ctx.namespaces.subscribe(move |ev| {
            if let InformerEvent::Applied { new, .. } = ev {
                q.add(new.name_any());
            }
        });
        let q = queue.clone();
        ctx.root_ca_configmaps.subscribe(move |ev| {
            let cm = match ev {
                InformerEvent::Applied { new, .. } => new,
                InformerEvent::Deleted(o) => o,
            };
            if cm.name_any() == ROOT_CA_CONFIGMAP {
                q.add(cm.namespace().unwrap_or_default());
            }
        });
        RootCaPublisher {
            ctx,
            queue,
            ca: Arc::new(ca),
        }
    }

    /// The work queue (shut down to stop).
    pub fn queue(&self) -> WorkQueue<String> {
        self.queue.clone()
    }

    /// Runs the workers until the queue is shut down.
    pub async fn run(self) {
        let ctx = self.ctx.clone();
        let ca = self.ca.clone();
        run_workers(
            "root-ca-cert-publisher",
            self.queue,
            4,
            ctx.metrics.clone(),
            move |ns| {
                let ctx = ctx.clone();
                let ca = ca.clone();
                async move { sync_root_ca(&ctx, &ns, &ca).await }
            },
        )
        .await;
    }
}

async fn sync_root_ca(ctx: &Context, ns: &str, ca: &str) -> Result<Option<Duration>, Error> {
    if !namespace_active(ctx, ns) {
        return Ok(None);
    }
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), ns);
    let data: BTreeMap<String, String> = [("ca.crt".to_string(), ca.to_string())].into();
    let cached = ctx
        .root_ca_configmaps
        .store()
        .get(&ObjectRef::<ConfigMap>::new(ROOT_CA_CONFIGMAP).within(ns));
    match cached {
        None => {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(ROOT_CA_CONFIGMAP.into()),
                    annotations: Some(
                        [(
                            "kubernetes.io/description".to_string(),
                            ROOT_CA_DESCRIPTION.to_string(),
                        )]
                        .into(),
                    ),
                    ..ObjectMeta::default()
                },
                data: Some(data),
                ..ConfigMap::default()
            };
            match api.create(&PostParams::default(), &cm).await {
                Ok(_) => Ok(None),
                Err(e) if is_code(&e, 409) || is_code(&e, 403) => Ok(None),
                Err(e) => Err(Error::kube(format!(
                    "creating configmap {ns}/{ROOT_CA_CONFIGMAP}"
                ))(e)),
            }
        }
        Some(cm) if cm.data.as_ref() != Some(&data) => {
            let mut cm = (*cm).clone();
            cm.data = Some(data);
            api.replace(ROOT_CA_CONFIGMAP, &PostParams::default(), &cm)
                .await
                .map_err(Error::kube(format!(
                    "updating configmap {ns}/{ROOT_CA_CONFIGMAP}"
                )))?;
            Ok(None)
        }
        Some(_) => Ok(None),
    }
}
