//! PersistentVolumeClaims, PersistentVolumes and StorageClasses as the
//! volume plugins see them, with upstream's *assume cache*: when the
//! scheduler reserves a volume for a pod it writes the intended object
//! (a PV with its `claimRef`, a claim with `volume.kubernetes.io/selected-node`)
//! over the informer's copy, so the next cycle cannot hand the same volume
//! to another claim before the API writes land. The assumed copy stays
//! until the informer delivers a newer version or the reservation is undone.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod, Volume};
use k8s_openapi::api::storage::v1::{CSINode, StorageClass};

/// Claim annotation the scheduler sets for delayed binding.
pub const ANN_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// Claim annotation: the PV controller finished the binding.
pub const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// Annotation: the controller (or scheduler), not the user, made the link.
pub const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// The beta class annotation, still honoured before `storageClassName`.
pub const ANN_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";
/// The provisioner name of classes without dynamic provisioning.
pub const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";

/// One cycle's view of the volume objects (cheap to clone).
#[derive(Clone, Debug, Default)]
pub struct Volumes {
    /// `namespace/name` -> claim.
    pub pvcs: Arc<HashMap<String, Arc<PersistentVolumeClaim>>>,
    /// Name -> volume, in name order.
    pub pvs: Arc<BTreeMap<String, Arc<PersistentVolume>>>,
    /// Name -> class.
    pub classes: Arc<HashMap<String, Arc<StorageClass>>>,
    /// Node name -> CSINode (the CSI drivers' attach limits).
    pub csinodes: Arc<HashMap<String, Arc<CSINode>>>,
}

impl Volumes {
    /// The claim `namespace/name`.
    pub fn pvc(&self, ns: &str, name: &str) -> Option<&Arc<PersistentVolumeClaim>> {
        self.pvcs.get(&format!("{ns}/{name}"))
    }
}

/// An assumed object and the informer version it was derived from.
#[derive(Debug)]
struct Assumed<T> {
    base_version: Option<String>,
    /// The informer's object, restored when the assumption is undone.
    original: Option<Arc<T>>,
}

/// The informer-fed store plus assumptions; owned by [`crate::cache::Cache`].
#[derive(Debug, Default)]
pub struct VolumeStore {
    view: Volumes,
    assumed_pvs: HashMap<String, Assumed<PersistentVolume>>,
    assumed_pvcs: HashMap<String, Assumed<PersistentVolumeClaim>>,
}

fn rv<T: kube::Resource>(o: &T) -> Option<String> {
    o.meta().resource_version.clone()
}

/// `namespace/name` of any namespaced object.
pub fn object_key<T: kube::Resource>(o: &T) -> String {
    format!(
        "{}/{}",
        o.meta().namespace.as_deref().unwrap_or(""),
        o.meta().name.as_deref().unwrap_or("")
    )
}

impl VolumeStore {
    /// The current view (informer objects with assumptions laid over).
    pub fn view(&self) -> Volumes {
        self.view.clone()
    }

    /// A claim from the informer (`None`: deleted). Returns whether the
    /// view changed.
    pub fn set_pvc(&mut self, key: &str, pvc: Option<Arc<PersistentVolumeClaim>>) -> bool {
        if let Some(a) = self.assumed_pvcs.get_mut(key) {
            match &pvc {
                // Same version as the one assumed over: keep the assumption.
                Some(p) if rv(&**p) == a.base_version => {
                    a.original = pvc;
                    return false;
                }
                _ => {
                    self.assumed_pvcs.remove(key);
                }
            }
        }
        let m = Arc::make_mut(&mut self.view.pvcs);
        match pvc {
            Some(p) => {
                let same = m.get(key).is_some_and(|o| **o == *p);
                m.insert(key.to_string(), p);
                !same
            }
            None => m.remove(key).is_some(),
        }
    }

    /// A volume from the informer (`None`: deleted).
    pub fn set_pv(&mut self, name: &str, pv: Option<Arc<PersistentVolume>>) -> bool {
        if let Some(a) = self.assumed_pvs.get_mut(name) {
            match &pv {
                Some(p) if rv(&**p) == a.base_version => {
                    a.original = pv;
                    return false;
                }
                _ => {
                    self.assumed_pvs.remove(name);
                }
            }
        }
        let m = Arc::make_mut(&mut self.view.pvs);
        match pv {
            Some(p) => {
                let same = m.get(name).is_some_and(|o| **o == *p);
                m.insert(name.to_string(), p);
                !same
            }
            None => m.remove(name).is_some(),
        }
    }

    /// A class from the informer (`None`: deleted).
    pub fn set_class(&mut self, name: &str, sc: Option<Arc<StorageClass>>) -> bool {
        let m = Arc::make_mut(&mut self.view.classes);
        match sc {
            Some(s) => {
                let same = m.get(name).is_some_and(|o| **o == *s);
                m.insert(name.to_string(), s);
                !same
            }
            None => m.remove(name).is_some(),
        }
    }

    /// A CSINode from the informer (`None`: deleted).
    pub fn set_csinode(&mut self, name: &str, n: Option<Arc<CSINode>>) -> bool {
        let m = Arc::make_mut(&mut self.view.csinodes);
        match n {
            Some(n) => {
                let same = m.get(name).is_some_and(|o| **o == *n);
                m.insert(name.to_string(), n);
                !same
            }
            None => m.remove(name).is_some(),
        }
    }

    pub fn csinode_names(&self) -> Vec<String> {
        self.view.csinodes.keys().cloned().collect()
    }

    /// Names (volumes) or keys (claims) currently present, for relists.
    pub fn pv_names(&self) -> Vec<String> {
        self.view.pvs.keys().cloned().collect()
    }

    pub fn pvc_keys(&self) -> Vec<String> {
        self.view.pvcs.keys().cloned().collect()
    }

    pub fn class_names(&self) -> Vec<String> {
        self.view.classes.keys().cloned().collect()
    }

    /// Lays `pv` (derived from the informer's copy) over the view.
    pub fn assume_pv(&mut self, pv: Arc<PersistentVolume>) {
        let name = pv.metadata.name.clone().unwrap_or_default();
        let original = self.view.pvs.get(&name).cloned();
        self.assumed_pvs.entry(name.clone()).or_insert(Assumed {
            base_version: rv(&*pv),
            original,
        });
        Arc::make_mut(&mut self.view.pvs).insert(name, pv);
    }

    /// Lays `pvc` over the view.
    pub fn assume_pvc(&mut self, pvc: Arc<PersistentVolumeClaim>) {
        let key = object_key(&*pvc);
        let original = self.view.pvcs.get(&key).cloned();
        self.assumed_pvcs.entry(key.clone()).or_insert(Assumed {
            base_version: rv(&*pvc),
            original,
        });
        Arc::make_mut(&mut self.view.pvcs).insert(key, pvc);
    }

    /// Undoes [`VolumeStore::assume_pv`] (no-op once the informer caught up).
    pub fn restore_pv(&mut self, name: &str) {
        if let Some(a) = self.assumed_pvs.remove(name) {
            let m = Arc::make_mut(&mut self.view.pvs);
            match a.original {
                Some(o) => m.insert(name.to_string(), o),
                None => m.remove(name),
            };
        }
    }

    /// Undoes [`VolumeStore::assume_pvc`].
    pub fn restore_pvc(&mut self, key: &str) {
        if let Some(a) = self.assumed_pvcs.remove(key) {
            let m = Arc::make_mut(&mut self.view.pvcs);
            match a.original {
                Some(o) => m.insert(key.to_string(), o),
                None => m.remove(key),
            };
        }
    }
}

/// The class a claim asks for: the beta annotation, else `storageClassName`.
pub fn claim_class(c: &PersistentVolumeClaim) -> &str {
    if let Some(a) = c
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANN_STORAGE_CLASS))
    {
        return a;
    }
    c.spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or("")
}

/// The class of a volume: the beta annotation, else `storageClassName`.
pub fn volume_class(v: &PersistentVolume) -> &str {
    if let Some(a) = v
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANN_STORAGE_CLASS))
    {
        return a;
    }
    v.spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or("")
}

/// The claim name a pod volume refers to, and whether it is a generic
/// ephemeral volume (whose claim is `<pod>-<volume>`).
pub fn claim_name(pod: &Pod, v: &Volume) -> Option<(String, bool)> {
    if let Some(c) = &v.persistent_volume_claim {
        return Some((c.claim_name.clone(), false));
    }
    v.ephemeral.as_ref()?;
    Some((
        format!("{}-{}", pod.metadata.name.as_deref().unwrap_or(""), v.name),
        true,
    ))
}

/// `ns/name` of every claim the pod uses (direct and ephemeral).
pub fn pod_claim_keys(pod: &Pod) -> Vec<String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("");
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| claim_name(pod, v))
        .map(|(n, _)| format!("{ns}/{n}"))
        .collect()
}

/// `storage` of a resource list in milli-units (0 when absent or invalid).
pub fn storage_milli(
    q: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) -> i128 {
    q.and_then(|m| m.get("storage"))
        .and_then(|q| apimachinery::quantity::Quantity::parse(&q.0).ok())
        .map(|q| q.milli_value())
        .unwrap_or(0)
}

/// The storage a claim requests.
pub fn claim_request(c: &PersistentVolumeClaim) -> i128 {
    storage_milli(
        c.spec
            .as_ref()
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.requests.as_ref()),
    )
}

/// Whether the claim is fully bound (upstream `isPVCFullyBound`).
pub fn fully_bound(c: &PersistentVolumeClaim) -> bool {
    c.spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .is_some_and(|v| !v.is_empty())
        && c.metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(ANN_BIND_COMPLETED))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pv(name: &str, rv: &str) -> Arc<PersistentVolume> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name, "resourceVersion": rv}}))
                .unwrap(),
        )
    }

    #[test]
    fn assumptions_hold_until_a_newer_version_or_a_restore() {
        let mut s = VolumeStore::default();
        assert!(s.set_pv("a", Some(pv("a", "1"))));
        let mut assumed = (*pv("a", "1")).clone();
        assumed.metadata.labels = Some([("x".into(), "y".into())].into());
        s.assume_pv(Arc::new(assumed.clone()));
        assert!(s.view().pvs["a"].metadata.labels.is_some());
        // A resync of the same version keeps it.
        assert!(!s.set_pv("a", Some(pv("a", "1"))));
        assert!(s.view().pvs["a"].metadata.labels.is_some());
        s.restore_pv("a");
        assert!(s.view().pvs["a"].metadata.labels.is_none());
        s.assume_pv(Arc::new(assumed));
        // The write landed: the informer's newer object replaces it.
        assert!(s.set_pv("a", Some(pv("a", "2"))));
        assert_eq!(
            s.view().pvs["a"].metadata.resource_version.as_deref(),
            Some("2")
        );
        s.restore_pv("a");
        assert_eq!(
            s.view().pvs["a"].metadata.resource_version.as_deref(),
            Some("2")
        );
    }
}
