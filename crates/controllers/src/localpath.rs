//! A local-path dynamic provisioner (the `local-path` StorageClass of k3s
//! and kind, provisioner `rancher.io/local-path`), run in the controller
//! manager.
//!
//! A claim of a class with this provisioner gets a PersistentVolume once
//! its node is known: the scheduler's `volume.kubernetes.io/selected-node`
//! for `WaitForFirstConsumer` classes (the usual case), any Ready node for
//! `Immediate` ones. The volume is a `hostPath` directory
//! `<root>/<pv-name>_<namespace>_<claim>` (created by the kubelet,
//! `DirectoryOrCreate`), with required node affinity to that node,
//! pre-bound to the claim through `claimRef` as external provisioners do,
//! so the PV binder completes the binding. Its name `pvc-<claim uid>`
//! makes provisioning idempotent across restarts.
//!
//! When a volume this provisioner made is deleted (the binder deletes
//! `Delete`-policy volumes once released), its directory is removed — on
//! this machine, which is the node in the local cluster; a multi-node
//! cluster needs a helper pod on the volume's node, not done yet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use client_support::{InformerEvent, WorkQueue};
use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, ObjectReference,
    PersistentVolume, PersistentVolumeSpec, VolumeNodeAffinity,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use crate::events::{record, EventType};
use crate::pvbinder::ANN_SELECTED_NODE;
use crate::util::{is_code, key_of};
use crate::worker::run_workers;
use crate::{Context, Error};

/// The provisioner name classes refer to.
pub const PROVISIONER: &str = "rancher.io/local-path";
/// The PV annotation naming who provisioned it (upstream's).
pub const ANN_PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
const COMPONENT: &str = "local-path-provisioner";

/// The controller: one queue of claim keys `<ns>/<name>`.
pub struct LocalPathProvisioner {
    ctx: Arc<Context>,
    queue: WorkQueue<String>,
}

impl LocalPathProvisioner {
    /// Subscribes to claims (and to volume deletions, to remove their
    /// directories).
    pub fn new(ctx: Arc<Context>) -> Self {
        let queue: WorkQueue<String> = WorkQueue::new();
        let q = queue.clone();
        ctx.pvcs.subscribe(move |ev| {
            if let InformerEvent::Applied { new, .. } = ev {
                q.add(key_of(&**new));
            }
        });
        let root = ctx.opts.local_path_root.clone();
        ctx.pvs.subscribe(move |ev| {
            if let InformerEvent::Deleted(v) = ev {
                if let Some(dir) = owned_dir(v, &root) {
                    match std::fs::remove_dir_all(&dir) {
                        Ok(()) => tracing::info!(pv = %v.name_any(), dir = %dir.display(), "removed local-path volume data"),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => tracing::warn!(pv = %v.name_any(), dir = %dir.display(), error = %e, "removing local-path volume data"),
                    }
                }
            }
        });
        ctx.storageclasses.want();
        ctx.nodes.want();
        LocalPathProvisioner { ctx, queue }
    }

    /// The work queue (shut down to stop).
    pub fn queue(&self) -> WorkQueue<String> {
        self.queue.clone()
    }

    /// Runs the workers until the queue shuts down.
    pub async fn run(self) {
        let ctx = self.ctx.clone();
        run_workers(COMPONENT, self.queue, 2, ctx.metrics.clone(), move |key| {
            let ctx = ctx.clone();
            async move { sync_claim(&ctx, &key).await }
        })
        .await;
    }
}

/// The data directory of a volume this provisioner made under `root`.
fn owned_dir(v: &PersistentVolume, root: &Path) -> Option<PathBuf> {
    let ours = v
        .annotations()
        .get(ANN_PROVISIONED_BY)
        .is_some_and(|p| p == PROVISIONER);
    let path = v.spec.as_ref()?.host_path.as_ref()?.path.clone();
    let path = PathBuf::from(path);
    // Never outside our root, whatever the object says.
    (ours && path.starts_with(root) && path != root).then_some(path)
}

fn ready(node: &k8s_openapi::api::core::v1::Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

async fn sync_claim(ctx: &Context, key: &str) -> Result<Option<Duration>, Error> {
    let (ns, name) = key.split_once('/').unwrap_or(("", key));
    let Some(claim) = ctx.pvcs.store().get(&ObjectRef::new(name).within(ns)) else {
        return Ok(None);
    };
    let spec = claim.spec.clone().unwrap_or_default();
    let pending = claim
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .is_none_or(|p| p == "Pending");
    if !pending
        || spec.volume_name.as_deref().is_some_and(|v| !v.is_empty())
        || claim.metadata.deletion_timestamp.is_some()
    {
        return Ok(None);
    }
    let Some(class_name) = spec.storage_class_name.as_deref().filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let Some(class) = ctx
        .storageclasses
        .store()
        .get(&ObjectRef::<StorageClass>::new(class_name))
    else {
        return Ok(None);
    };
    if class.provisioner != PROVISIONER {
        return Ok(None);
    }
    let wffc = class.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer");
    let node = match claim.annotations().get(ANN_SELECTED_NODE) {
        Some(n) => n.clone(),
        None if wffc => return Ok(None),
        None => {
            // Immediate: any Ready node, the first by name (stable).
            let mut nodes: Vec<String> = ctx
                .nodes
                .store()
                .state()
                .iter()
                .filter(|n| ready(n))
                .map(|n| n.name_any())
                .collect();
            nodes.sort();
            match nodes.into_iter().next() {
                Some(n) => n,
                None => return Ok(Some(Duration::from_secs(5))),
            }
        }
    };
    let uid = claim.metadata.uid.clone().unwrap_or_default();
    let pv_name = format!("pvc-{uid}");
    let dir = ctx
        .opts
        .local_path_root
        .join(format!("{pv_name}_{ns}_{name}"));
    let capacity = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage").cloned());
    let Some(capacity) = capacity else {
        record(
            ctx,
            COMPONENT,
            &*claim,
            EventType::Warning,
            "ProvisioningFailed",
            "claim has no storage request",
        )
        .await;
        return Ok(None);
    };
    let pv = PersistentVolume {
        metadata: ObjectMeta {
            name: Some(pv_name.clone()),
            annotations: Some(BTreeMap::from([(
                ANN_PROVISIONED_BY.to_string(),
                PROVISIONER.to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(PersistentVolumeSpec {
            capacity: Some(BTreeMap::from([("storage".to_string(), capacity)])),
            access_modes: spec.access_modes.clone(),
            volume_mode: Some(
                spec.volume_mode
                    .clone()
                    .unwrap_or_else(|| "Filesystem".into()),
            ),
            storage_class_name: Some(class_name.to_string()),
            persistent_volume_reclaim_policy: Some(
                class
                    .reclaim_policy
                    .clone()
                    .unwrap_or_else(|| "Delete".into()),
            ),
            host_path: Some(HostPathVolumeSource {
                path: dir.display().to_string(),
                type_: Some("DirectoryOrCreate".into()),
            }),
            node_affinity: Some(VolumeNodeAffinity {
                required: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: "kubernetes.io/hostname".into(),
                            operator: "In".into(),
                            values: Some(vec![node.clone()]),
                        }]),
                        match_fields: None,
                    }],
                }),
            }),
            claim_ref: Some(ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("PersistentVolumeClaim".into()),
                namespace: Some(ns.to_string()),
                name: Some(name.to_string()),
                uid: Some(uid),
                resource_version: claim.metadata.resource_version.clone(),
                ..Default::default()
            }),
            mount_options: class.mount_options.clone(),
            ..Default::default()
        }),
        status: None,
    };
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    match api.create(&PostParams::default(), &pv).await {
        Ok(_) => {
            tracing::info!(claim = %key, pv = %pv_name, %node, "provisioned a local-path volume");
            record(
                ctx,
                COMPONENT,
                &*claim,
                EventType::Normal,
                "ProvisioningSucceeded",
                &format!("Successfully provisioned volume {pv_name}"),
            )
            .await;
            Ok(None)
        }
        Err(e) if is_code(&e, 409) => Ok(None),
        Err(e) => Err(Error::kube(format!("creating PersistentVolume {pv_name}"))(
            e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pv(ann: Option<&str>, path: &str) -> PersistentVolume {
        let mut v = PersistentVolume {
            spec: Some(PersistentVolumeSpec {
                host_path: Some(HostPathVolumeSource {
                    path: path.into(),
                    type_: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        if let Some(a) = ann {
            v.metadata.annotations = Some(BTreeMap::from([(
                ANN_PROVISIONED_BY.to_string(),
                a.to_string(),
            )]));
        }
        v
    }

    #[test]
    fn only_our_directories_under_the_root_are_removed() {
        let root = Path::new("/var/lib/local-path");
        assert_eq!(
            owned_dir(
                &pv(Some(PROVISIONER), "/var/lib/local-path/pvc-1_ns_c"),
                root
            ),
            Some(PathBuf::from("/var/lib/local-path/pvc-1_ns_c"))
        );
        assert_eq!(owned_dir(&pv(Some(PROVISIONER), "/etc"), root), None);
        assert_eq!(
            owned_dir(&pv(Some(PROVISIONER), "/var/lib/local-path"), root),
            None
        );
        assert_eq!(
            owned_dir(&pv(Some("other.io/x"), "/var/lib/local-path/a"), root),
            None
        );
        assert_eq!(owned_dir(&pv(None, "/var/lib/local-path/a"), root), None);
    }
}
