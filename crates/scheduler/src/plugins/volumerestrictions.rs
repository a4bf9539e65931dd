//! VolumeRestrictions: volumes that only one pod (or one node) may use.
//!
//! * A `ReadWriteOncePod` claim already used by a scheduled (or assumed)
//!   pod anywhere rejects the pod on every node; preemption re-runs
//!   PreFilter without the victims, so evicting the user can help.
//! * The in-tree disk types that upstream checks per node: the same GCE PD
//!   (unless every mount is read-only), AWS EBS volume, iSCSI IQN (unless
//!   all read-only) or RBD image (overlapping monitors, same pool and
//!   image, unless all read-only) already mounted by a pod on the node.

use std::any::Any;
use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Volume};

use super::{Failure, Plugin, State};
use crate::cache::Snapshot;
use crate::nodeinfo::{NodeInfo, PodInfo};

/// Upstream `ErrReasonDiskConflict`.
pub const ERR_DISK_CONFLICT: &str = "node(s) had no available disk";
/// Upstream `ErrReasonReadWriteOncePodConflict`.
pub const ERR_RWOP_CONFLICT: &str =
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode";

/// See the module documentation.
pub struct VolumeRestrictions;

struct RestrictionsState {
    /// The pod mounts an in-tree disk type that needs the per-node check.
    check_disks: bool,
    /// How many of its ReadWriteOncePod claims other pods already use.
    conflicting: usize,
}

fn has_disk(v: &Volume) -> bool {
    v.gce_persistent_disk.is_some()
        || v.aws_elastic_block_store.is_some()
        || v.rbd.is_some()
        || v.iscsi.is_some()
}

/// Upstream `isVolumeConflict`: whether `v` clashes with any volume of `other`.
fn conflicts(v: &Volume, other: &Pod) -> bool {
    other
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .any(|e| {
            if let (Some(a), Some(b)) = (&v.gce_persistent_disk, &e.gce_persistent_disk) {
                if a.pd_name == b.pd_name
                    && !(a.read_only == Some(true) && b.read_only == Some(true))
                {
                    return true;
                }
            }
            if let (Some(a), Some(b)) = (&v.aws_elastic_block_store, &e.aws_elastic_block_store) {
                if a.volume_id == b.volume_id {
                    return true;
                }
            }
            if let (Some(a), Some(b)) = (&v.iscsi, &e.iscsi) {
                if a.iqn == b.iqn && !(a.read_only == Some(true) && b.read_only == Some(true)) {
                    return true;
                }
            }
            if let (Some(a), Some(b)) = (&v.rbd, &e.rbd) {
                let pool = |p: &Option<String>| p.clone().unwrap_or_else(|| "rbd".into());
                let overlap = a.monitors.iter().any(|m| b.monitors.contains(m));
                if overlap
                    && pool(&a.pool) == pool(&b.pool)
                    && a.image == b.image
                    && !(a.read_only == Some(true) && b.read_only == Some(true))
                {
                    return true;
                }
            }
            false
        })
}

/// `ns/name` of the claims a pod mounts directly.
fn direct_claims(pod: &Pod) -> impl Iterator<Item = String> + '_ {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("");
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(move |v| {
            v.persistent_volume_claim
                .as_ref()
                .map(|c| format!("{ns}/{}", c.claim_name))
        })
}

impl Plugin for VolumeRestrictions {
    fn name(&self) -> &'static str {
        "VolumeRestrictions"
    }

    fn pre_filter(&self, pod: &PodInfo, snap: &Snapshot) -> Result<State, Failure> {
        let p = &pod.pod;
        let check_disks = p
            .spec
            .iter()
            .flat_map(|s| s.volumes.iter().flatten())
            .any(has_disk);
        let mut rwop = HashSet::new();
        for key in direct_claims(p) {
            let Some(c) = snap.volumes.pvcs.get(&key) else {
                let name = key.split_once('/').map_or(key.as_str(), |(_, n)| n);
                return Err(Failure::unresolvable(format!(
                    "persistentvolumeclaim {name:?} not found"
                )));
            };
            let modes = c.spec.as_ref().and_then(|s| s.access_modes.as_deref());
            if modes.is_some_and(|m| m.iter().any(|m| m == "ReadWriteOncePod")) {
                rwop.insert(key);
            }
        }
        let conflicting = if rwop.is_empty() {
            0
        } else {
            let mut used = HashSet::new();
            for n in snap.nodes.iter() {
                for e in n.pods.iter().filter(|e| e.key != pod.key) {
                    used.extend(direct_claims(&e.pod).filter(|k| rwop.contains(k)));
                }
            }
            used.len()
        };
        if !check_disks && conflicting == 0 {
            return Ok(None);
        }
        Ok(Some(Arc::new(RestrictionsState {
            check_disks,
            conflicting,
        })))
    }

    fn filter_with(
        &self,
        pod: &PodInfo,
        node: &NodeInfo,
        state: Option<&(dyn Any + Send + Sync)>,
    ) -> Result<(), Failure> {
        let Some(st) = state.and_then(|s| s.downcast_ref::<RestrictionsState>()) else {
            return Ok(());
        };
        if st.check_disks {
            let clash = pod
                .pod
                .spec
                .iter()
                .flat_map(|s| s.volumes.iter().flatten())
                .filter(|v| has_disk(v))
                .any(|v| node.pods.iter().any(|e| conflicts(v, &e.pod)));
            if clash {
                return Err(Failure::unschedulable(ERR_DISK_CONFLICT));
            }
        }
        if st.conflicting > 0 {
            return Err(Failure::unschedulable(ERR_RWOP_CONFLICT));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::Code;
    use super::*;
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    use serde_json::json;

    fn claim_vol(claim: &str) -> serde_json::Value {
        json!({"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim}}]})
    }

    fn snap_with(nodes: Vec<NodeInfo>) -> Snapshot {
        let mut s = Snapshot::with_nodes(nodes);
        let mk = |name: &str, mode: &str| -> (String, Arc<PersistentVolumeClaim>) {
            (
                format!("default/{name}"),
                Arc::new(
                    serde_json::from_value(
                        json!({"metadata": {"name": name, "namespace": "default"},
                        "spec": {"accessModes": [mode]}}),
                    )
                    .unwrap(),
                ),
            )
        };
        s.volumes.pvcs = Arc::new(
            [
                mk("once", "ReadWriteOncePod"),
                mk("shared", "ReadWriteOnce"),
            ]
            .into_iter()
            .collect(),
        );
        s
    }

    fn run(p: &PodInfo, s: &Snapshot) -> Result<Vec<Result<(), Failure>>, Failure> {
        let st = VolumeRestrictions.pre_filter(p, s)?;
        Ok(s.nodes
            .iter()
            .map(|n| VolumeRestrictions.filter_with(p, n, st.as_deref()))
            .collect())
    }

    #[test]
    fn read_write_once_pod_claims_admit_one_pod() {
        let mut a = node("a", json!({}));
        a.add_pod(entry("user", claim_vol("once")));
        a.add_pod(entry("other", claim_vol("shared")));
        let s = snap_with(vec![a, node("b", json!({}))]);
        let r = run(&pod("p", claim_vol("once")), &s).unwrap();
        for x in r {
            let f = x.unwrap_err();
            assert_eq!(f.code, Code::Unschedulable);
            assert_eq!(f.reasons, vec![ERR_RWOP_CONFLICT]);
        }
        assert!(run(&pod("p", claim_vol("shared")), &s)
            .unwrap()
            .iter()
            .all(Result::is_ok));
        // Without the user the claim is free again.
        let mut a2 = node("a", json!({}));
        a2.add_pod(entry("other", claim_vol("shared")));
        let s2 = snap_with(vec![a2]);
        assert!(run(&pod("p", claim_vol("once")), &s2).unwrap()[0].is_ok());
        let e = run(&pod("p", claim_vol("missing")), &s).unwrap_err();
        assert_eq!(e.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(
            e.reasons,
            vec![r#"persistentvolumeclaim "missing" not found"#]
        );
    }

    #[test]
    fn in_tree_disks_conflict_per_node_unless_read_only() {
        let gce = |ro: bool| json!({"volumes": [{"name": "d", "gcePersistentDisk": {"pdName": "disk1", "readOnly": ro}}]});
        let mut a = node("a", json!({}));
        a.add_pod(entry("x", gce(true)));
        let s = snap_with(vec![a, node("b", json!({}))]);
        assert!(run(&pod("p", gce(true)), &s).unwrap()[0].is_ok());
        let r = run(&pod("p", gce(false)), &s).unwrap();
        assert_eq!(r[0].as_ref().unwrap_err().reasons, vec![ERR_DISK_CONFLICT]);
        assert!(r[1].is_ok());
        let rbd = |mons: serde_json::Value| json!({"volumes": [{"name": "d", "rbd": {"monitors": mons, "image": "img"}}]});
        let mut c = node("c", json!({}));
        c.add_pod(entry("x", rbd(json!(["m1", "m2"]))));
        let s = snap_with(vec![c]);
        assert!(run(&pod("p", rbd(json!(["m2"]))), &s).unwrap()[0].is_err());
        assert!(run(&pod("p", rbd(json!(["m3"]))), &s).unwrap()[0].is_ok());
        let ebs =
            json!({"volumes": [{"name": "d", "awsElasticBlockStore": {"volumeID": "vol-1"}}]});
        let mut d = node("d", json!({}));
        d.add_pod(entry("x", ebs.clone()));
        let s = snap_with(vec![d]);
        assert!(run(&pod("p", ebs), &s).unwrap()[0].is_err());
    }
}
