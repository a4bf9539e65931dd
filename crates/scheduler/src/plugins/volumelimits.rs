//! NodeVolumeLimits (upstream `CSILimits`): a node takes no more CSI
//! volumes per driver than its CSINode's `drivers[].allocatable.count`.
//!
//! A pod's volumes count by unique `driver/volumeHandle`: a bound claim's
//! CSI volume; an unbound claim counts against its class's provisioner
//! under a placeholder handle. A volume already used on the node is not
//! counted twice. Volumes of migrated in-tree plugins are not translated
//! (no in-tree cloud plugins exist here), so only CSI volumes count.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};

use super::volumebinding::owned_by;
use super::{Failure, Plugin, State};
use crate::cache::Snapshot;
use crate::nodeinfo::{NodeInfo, PodInfo};
use crate::volumes::{claim_class, claim_name, Volumes};

/// Upstream `ErrReasonMaxVolumeCountExceeded`.
pub const ERR_MAX_VOLUME_COUNT: &str = "node(s) exceed max volume count";

/// See the module documentation.
pub struct NodeVolumeLimits {
    /// Keeps placeholder handles of unbound claims apart from real ones.
    prefix: String,
}

impl Default for NodeVolumeLimits {
    fn default() -> Self {
        NodeVolumeLimits {
            prefix: format!("{:016x}", rand::random::<u64>()),
        }
    }
}

struct LimitsState {
    /// The new pod's volumes: unique name -> driver.
    new: HashMap<String, String>,
    vols: Volumes,
}

impl NodeVolumeLimits {
    /// Upstream `getCSIDriverInfo` (+ `FromSC`): driver and volume handle.
    fn driver_info(&self, c: &PersistentVolumeClaim, vols: &Volumes) -> Option<(String, String)> {
        let pv_name = c
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.as_deref())
            .unwrap_or("");
        if let Some(pv) = vols.pvs.get(pv_name).filter(|_| !pv_name.is_empty()) {
            let csi = pv.spec.as_ref()?.csi.as_ref()?;
            return Some((csi.driver.clone(), csi.volume_handle.clone()));
        }
        // Unbound (or its volume not seen yet): count it for the class's
        // provisioner. No class means immediate binding: not counted.
        let sc = vols.classes.get(claim_class(c))?;
        Some((
            sc.provisioner.clone(),
            format!(
                "{}-{}/{}",
                self.prefix,
                c.metadata.namespace.as_deref().unwrap_or(""),
                c.metadata.name.as_deref().unwrap_or("")
            ),
        ))
    }

    /// Upstream `filterAttachableVolumes`: adds the pod's attachable
    /// volumes to `out`. A missing or foreign claim fails only a new pod.
    fn collect(
        &self,
        pod: &Pod,
        vols: &Volumes,
        new_pod: bool,
        out: &mut HashMap<String, String>,
    ) -> Result<(), Failure> {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
            let Some((name, ephemeral)) = claim_name(pod, v) else {
                continue;
            };
            let Some(c) = vols.pvc(ns, &name) else {
                if new_pod {
                    return Err(Failure::unresolvable(format!(
                        "looking up PVC {ns}/{name}: persistentvolumeclaim {name:?} not found"
                    )));
                }
                continue;
            };
            if ephemeral && !owned_by(pod, c) {
                if new_pod {
                    return Err(Failure::unresolvable(format!(
                        "PVC {ns}/{name} was not created for pod {ns}/{} (pod is not owner)",
                        pod.metadata.name.as_deref().unwrap_or("")
                    )));
                }
                continue;
            }
            if let Some((driver, handle)) = self.driver_info(c, vols) {
                if !driver.is_empty() && !handle.is_empty() {
                    out.insert(format!("{driver}/{handle}"), driver);
                }
            }
        }
        Ok(())
    }
}

impl Plugin for NodeVolumeLimits {
    fn name(&self) -> &'static str {
        "NodeVolumeLimits"
    }

    fn pre_filter(&self, pod: &PodInfo, snap: &Snapshot) -> Result<State, Failure> {
        let mut new = HashMap::new();
        self.collect(&pod.pod, &snap.volumes, true, &mut new)?;
        if new.is_empty() {
            return Ok(None);
        }
        Ok(Some(Arc::new(LimitsState {
            new,
            vols: snap.volumes.clone(),
        })))
    }

    fn filter_with(
        &self,
        _pod: &PodInfo,
        node: &NodeInfo,
        state: Option<&(dyn Any + Send + Sync)>,
    ) -> Result<(), Failure> {
        let Some(st) = state.and_then(|s| s.downcast_ref::<LimitsState>()) else {
            return Ok(());
        };
        let limits: HashMap<&str, i64> = st
            .vols
            .csinodes
            .get(&node.name)
            .map(|n| {
                n.spec
                    .drivers
                    .iter()
                    .filter_map(|d| {
                        let count = d.allocatable.as_ref()?.count?;
                        Some((d.name.as_str(), i64::from(count)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if limits.is_empty() {
            return Ok(());
        }
        let mut attached = HashMap::new();
        for e in &node.pods {
            // Existing pods never fail the check.
            let _ = self.collect(&e.pod, &st.vols, false, &mut attached);
        }
        let mut attached_count: HashMap<&str, i64> = HashMap::new();
        for driver in attached.values() {
            *attached_count.entry(driver.as_str()).or_default() += 1;
        }
        let mut new_count: HashMap<&str, i64> = HashMap::new();
        for (unique, driver) in &st.new {
            if !attached.contains_key(unique) {
                *new_count.entry(driver.as_str()).or_default() += 1;
            }
        }
        for (driver, count) in new_count {
            if let Some(max) = limits.get(driver) {
                if attached_count.get(driver).copied().unwrap_or(0) + count > *max {
                    return Err(Failure::unschedulable(ERR_MAX_VOLUME_COUNT));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::Code;
    use super::*;
    use k8s_openapi::api::core::v1::PersistentVolume;
    use k8s_openapi::api::storage::v1::{CSINode, StorageClass};
    use serde_json::json;

    fn claims_of(names: &[&str]) -> serde_json::Value {
        json!({"volumes": names.iter().map(|n| json!({"name": n, "persistentVolumeClaim": {"claimName": n}})).collect::<Vec<_>>()})
    }

    fn snap(nodes: Vec<NodeInfo>) -> Snapshot {
        let mut s = Snapshot::with_nodes(nodes);
        let mut pvcs = HashMap::new();
        let mut pvs = std::collections::BTreeMap::new();
        for i in 0..4 {
            let c: PersistentVolumeClaim = serde_json::from_value(json!({
                "metadata": {"name": format!("c{i}"), "namespace": "default"},
                "spec": {"volumeName": format!("pv{i}"), "storageClassName": "csi"}
            }))
            .unwrap();
            pvcs.insert(format!("default/c{i}"), Arc::new(c));
            let v: PersistentVolume = serde_json::from_value(json!({
                "metadata": {"name": format!("pv{i}")},
                "spec": {"csi": {"driver": "ebs.csi.example.com", "volumeHandle": format!("vol-{i}")}}
            }))
            .unwrap();
            pvs.insert(format!("pv{i}"), Arc::new(v));
        }
        let unbound: PersistentVolumeClaim = serde_json::from_value(json!({
            "metadata": {"name": "new", "namespace": "default"},
            "spec": {"storageClassName": "csi"}
        }))
        .unwrap();
        pvcs.insert("default/new".into(), Arc::new(unbound));
        let sc: StorageClass = serde_json::from_value(json!({
            "metadata": {"name": "csi"}, "provisioner": "ebs.csi.example.com"
        }))
        .unwrap();
        let csinode: CSINode = serde_json::from_value(json!({
            "metadata": {"name": "a"},
            "spec": {"drivers": [{"name": "ebs.csi.example.com", "nodeID": "i-1", "allocatable": {"count": 2}}]}
        }))
        .unwrap();
        s.volumes.pvcs = Arc::new(pvcs);
        s.volumes.pvs = Arc::new(pvs);
        s.volumes.classes = Arc::new([("csi".to_string(), Arc::new(sc))].into());
        s.volumes.csinodes = Arc::new([("a".to_string(), Arc::new(csinode))].into());
        s
    }

    fn run(p: &PodInfo, s: &Snapshot) -> Vec<Result<(), Failure>> {
        let pl = NodeVolumeLimits::default();
        let st = pl.pre_filter(p, s).unwrap();
        s.nodes
            .iter()
            .map(|n| pl.filter_with(p, n, st.as_deref()))
            .collect()
    }

    #[test]
    fn csi_attach_limits_count_unique_volumes_per_driver() {
        let mut a = node("a", json!({}));
        a.add_pod(entry("x", claims_of(&["c0"])));
        // Node b has no CSINode: no limit.
        let mut b = node("b", json!({}));
        b.add_pod(entry("x", claims_of(&["c0", "c1", "c2"])));
        let s = snap(vec![a, b]);
        // One more volume fits (1 + 1 <= 2); the one already there is free.
        assert!(run(&pod("p", claims_of(&["c1"])), &s)[0].is_ok());
        assert!(run(&pod("p", claims_of(&["c0", "c1"])), &s)[0].is_ok());
        let r = run(&pod("p", claims_of(&["c1", "c2"])), &s);
        let f = r[0].as_ref().unwrap_err();
        assert_eq!(f.code, Code::Unschedulable);
        assert_eq!(f.reasons, vec![ERR_MAX_VOLUME_COUNT]);
        assert!(r[1].is_ok());
        // An unbound claim counts against its class's provisioner.
        assert!(run(&pod("p", claims_of(&["c1", "new"])), &s)[0].is_err());
        assert!(run(&pod("p", claims_of(&["new"])), &s)[0].is_ok());
    }
}
