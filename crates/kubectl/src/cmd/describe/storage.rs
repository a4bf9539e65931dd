//! PersistentVolumeClaims, StorageClasses and PodDisruptionBudgets.

use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::format;
use super::pod::format_label_selector;
use super::writer::Writer;

/// `GetAccessModesAsString`: short names, deduplicated, in a fixed order.
fn access_modes(modes: &[String]) -> String {
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(long, _)| modes.iter().any(|m| m == long))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// Pods using `pvc`: those mounting it, then owners that are pods.
pub fn pods_for_pvc(pvc: &PersistentVolumeClaim, ns_pods: &[Pod]) -> Vec<Pod> {
    let name = pvc.metadata.name.clone().unwrap_or_default();
    let mut pods: Vec<Pod> = Vec::new();
    for p in ns_pods {
        for v in p.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
            if v.persistent_volume_claim
                .as_ref()
                .is_some_and(|c| c.claim_name == name)
            {
                pods.push(p.clone());
            }
        }
    }
    for o in pvc.metadata.owner_references.iter().flatten() {
        if o.kind != "Pod" {
            continue;
        }
        let Some(owner) = ns_pods
            .iter()
            .find(|p| p.metadata.uid.as_deref() == Some(o.uid.as_str()))
        else {
            continue;
        };
        if !pods.iter().any(|p| p.metadata.uid == owner.metadata.uid) {
            pods.push(owner.clone());
        }
    }
    pods
}

/// `describePersistentVolumeClaim`.
pub fn describe_pvc(pvc: &PersistentVolumeClaim, pods: &[Pod], events: Option<&[Event]>) -> String {
    let mut w = Writer::new();
    let m = &pvc.metadata;
    let spec = pvc.spec.clone().unwrap_or_default();
    let status = pvc.status.clone().unwrap_or_default();
    w.write(
        0,
        &format!("Name:\t{}\n", m.name.as_deref().unwrap_or_default()),
    );
    w.write(
        0,
        &format!(
            "Namespace:\t{}\n",
            m.namespace.as_deref().unwrap_or_default()
        ),
    );
    let class = m
        .annotations
        .as_ref()
        .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class").cloned())
        .or_else(|| spec.storage_class_name.clone())
        .unwrap_or_default();
    w.write(0, &format!("StorageClass:\t{class}\n"));
    match &m.deletion_timestamp {
        Some(t) => w.write(
            0,
            &format!(
                "Status:\tTerminating (lasts {})\n",
                format::since(Some(&t.0))
            ),
        ),
        None => w.write(
            0,
            &format!("Status:\t{}\n", status.phase.as_deref().unwrap_or_default()),
        ),
    }
    let volume = spec.volume_name.clone().unwrap_or_default();
    w.write(0, &format!("Volume:\t{volume}\n"));
    format::labels(&mut w, "Labels", m.labels.as_ref());
    format::annotations(&mut w, "Annotations", m.annotations.as_ref());
    w.write(
        0,
        &format!(
            "Finalizers:\t[{}]\n",
            m.finalizers.clone().unwrap_or_default().join(" ")
        ),
    );
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            status
                .capacity
                .as_ref()
                .and_then(|c| c.get("storage"))
                .map_or("0".to_string(), |q| format::quantity(&q.0)),
            access_modes(status.access_modes.as_deref().unwrap_or_default()),
        )
    };
    w.write(0, &format!("Capacity:\t{capacity}\n"));
    w.write(0, &format!("Access Modes:\t{modes}\n"));
    if let Some(vm) = &spec.volume_mode {
        w.write(0, &format!("VolumeMode:\t{vm}\n"));
    }
    if let Some(ds) = &spec.data_source {
        w.write(0, "DataSource:\n");
        if let Some(g) = &ds.api_group {
            w.write(1, &format!("APIGroup:\t{g}\n"));
        }
        w.write(1, &format!("Kind:\t{}\n", ds.kind));
        w.write(1, &format!("Name:\t{}\n", ds.name));
    }
    let mut names: Vec<String> = pods
        .iter()
        .map(|p| p.metadata.name.clone().unwrap_or_default())
        .collect();
    names.sort();
    w.write(0, "Used By:\t");
    if names.is_empty() {
        w.line("<none>");
    } else {
        for (i, n) in names.iter().enumerate() {
            if i != 0 {
                w.write(0, "\t");
            }
            w.write(0, &format!("{n}\n"));
        }
    }
    let conds = status.conditions.unwrap_or_default();
    if !conds.is_empty() {
        w.write(0, "Conditions:\n");
        w.write(
            1,
            "Type\tStatus\tLastProbeTime\tLastTransitionTime\tReason\tMessage\n",
        );
        w.write(
            1,
            "----\t------\t-----------------\t------------------\t------\t-------\n",
        );
        for c in &conds {
            w.write(
                1,
                &format!(
                    "{} \t{} \t{} \t{} \t{} \t{}\n",
                    c.type_,
                    c.status,
                    format::time_or_zero(c.last_probe_time.as_ref()),
                    format::time_or_zero(c.last_transition_time.as_ref()),
                    c.reason.as_deref().unwrap_or_default(),
                    c.message.as_deref().unwrap_or_default()
                ),
            );
        }
    }
    if let Some(ev) = events {
        format::events(&mut w, ev);
    }
    w.finish()
}

fn format_map(m: Option<&std::collections::BTreeMap<String, String>>) -> String {
    let s = m
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    if s.is_empty() {
        "<none>".into()
    } else {
        s
    }
}

/// `describeStorageClass`.
pub fn describe_storage_class(sc: &StorageClass, events: Option<&[Event]>) -> String {
    let mut w = Writer::new();
    let ann = sc.metadata.annotations.clone().unwrap_or_default();
    w.write(
        0,
        &format!(
            "Name:\t{}\n",
            sc.metadata.name.as_deref().unwrap_or_default()
        ),
    );
    let default = ann
        .get("storageclass.kubernetes.io/is-default-class")
        .is_some_and(|v| v == "true")
        || ann
            .get("storageclass.beta.kubernetes.io/is-default-class")
            .is_some_and(|v| v == "true");
    w.write(
        0,
        &format!("IsDefaultClass:\t{}\n", if default { "Yes" } else { "No" }),
    );
    w.write(
        0,
        &format!(
            "Annotations:\t{}\n",
            format_map(sc.metadata.annotations.as_ref())
        ),
    );
    w.write(0, &format!("Provisioner:\t{}\n", sc.provisioner));
    w.write(
        0,
        &format!("Parameters:\t{}\n", format_map(sc.parameters.as_ref())),
    );
    w.write(
        0,
        &format!(
            "AllowVolumeExpansion:\t{}\n",
            sc.allow_volume_expansion
                .map_or("<unset>", format::bool_title)
        ),
    );
    match sc.mount_options.as_ref().filter(|m| !m.is_empty()) {
        None => w.write(0, "MountOptions:\t<none>\n"),
        Some(opts) => {
            w.write(0, "MountOptions:\n");
            for o in opts {
                w.write(1, &format!("{o}\n"));
            }
        }
    }
    if let Some(r) = &sc.reclaim_policy {
        w.write(0, &format!("ReclaimPolicy:\t{r}\n"));
    }
    if let Some(b) = &sc.volume_binding_mode {
        w.write(0, &format!("VolumeBindingMode:\t{b}\n"));
    }
    if let Some(topos) = &sc.allowed_topologies {
        w.write(0, "AllowedTopologies:\t");
        if topos.is_empty() {
            w.line("<none>");
        } else {
            w.line("");
            for (i, t) in topos.iter().enumerate() {
                w.write(1, &format!("Term {i}:\t"));
                let reqs = t.match_label_expressions.clone().unwrap_or_default();
                if reqs.is_empty() {
                    w.line("<none>");
                    continue;
                }
                for (j, r) in reqs.iter().enumerate() {
                    if j != 0 {
                        w.write(1, "\t");
                    }
                    let mut e = format!("{} in", r.key);
                    if !r.values.is_empty() {
                        e = format!("{e} [{}]", r.values.join(", "));
                    }
                    w.write(0, &format!("{e}\n"));
                }
            }
        }
    }
    if let Some(ev) = events {
        format::events(&mut w, ev);
    }
    w.finish()
}

/// `describePodDisruptionBudgetV1`.
pub fn describe_pdb(pdb: &PodDisruptionBudget, events: Option<&[Event]>) -> String {
    let mut w = Writer::new();
    let spec = pdb.spec.clone().unwrap_or_default();
    let status = pdb.status.clone().unwrap_or_default();
    w.write(
        0,
        &format!(
            "Name:\t{}\n",
            pdb.metadata.name.as_deref().unwrap_or_default()
        ),
    );
    w.write(
        0,
        &format!(
            "Namespace:\t{}\n",
            pdb.metadata.namespace.as_deref().unwrap_or_default()
        ),
    );
    let ios = |v: &IntOrString| match v {
        IntOrString::Int(i) => i.to_string(),
        IntOrString::String(s) => s.clone(),
    };
    if let Some(m) = &spec.min_available {
        w.write(0, &format!("Min available:\t{}\n", ios(m)));
    } else if let Some(m) = &spec.max_unavailable {
        w.write(0, &format!("Max unavailable:\t{}\n", ios(m)));
    }
    match &spec.selector {
        Some(s) => w.write(0, &format!("Selector:\t{}\n", format_label_selector(s))),
        None => w.write(0, "Selector:\t<unset>\n"),
    }
    w.write(0, "Status:\n");
    w.write(
        2,
        &format!("Allowed disruptions:\t{}\n", status.disruptions_allowed),
    );
    w.write(2, &format!("Current:\t{}\n", status.current_healthy));
    w.write(2, &format!("Desired:\t{}\n", status.desired_healthy));
    w.write(2, &format!("Total:\t{}\n", status.expected_pods));
    if let Some(ev) = events {
        format::events(&mut w, ev);
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_mode_order() {
        let modes: Vec<String> = ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(access_modes(&modes), "RWO,RWX");
    }
}
