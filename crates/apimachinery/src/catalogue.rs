//! The catalogue of built-in resources: group, version, kind, plural, short
//! names, scope, subresources, verbs and categories, as upstream serves them.
//!
//! Discovery, routing, storage keys and OpenAPI are all derived from this one
//! table, so a resource added here is served everywhere at once.

/// Verbs of an ordinary stored resource.
pub const STD_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const READ_VERBS: &[&str] = &["get", "list"];
const CREATE_ONLY: &[&str] = &["create"];

/// One served resource (a group/version/plural triple).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceInfo {
    /// API group; empty for the core (legacy) group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// Lower-case plural used in URLs.
    pub plural: &'static str,
    pub singular: &'static str,
    pub short_names: &'static [&'static str],
    pub namespaced: bool,
    pub verbs: &'static [&'static str],
    pub categories: &'static [&'static str],
    /// Subresources such as `status`, `scale`, `binding`.
    pub subresources: &'static [&'static str],
    /// Path segment under the etcd prefix, as upstream stores it
    /// (`services/specs`, `minions`, `controllers`, ...).
    pub storage: &'static str,
    /// Whether objects are kept in etcd (false for virtual resources such as
    /// `bindings` or `componentstatuses`).
    pub stored: bool,
}

impl ResourceInfo {
    /// `apiVersion` as written in objects: `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `<plural>` or `<plural>.<group>`: the group-resource used in messages.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn has_subresource(&self, sub: &str) -> bool {
        self.subresources.contains(&sub)
    }

    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    /// The kind of list responses, e.g. `PodList`.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }
}

macro_rules! res {
    ($group:expr, $version:expr, $kind:expr, $plural:expr, $singular:expr, ns = $ns:expr,
     short = [$($s:expr),*], cats = [$($c:expr),*], subs = [$($sub:expr),*]
     $(, storage = $storage:expr)? $(, verbs = $verbs:expr)? $(, stored = $stored:expr)?) => {
        ResourceInfo {
            group: $group,
            version: $version,
            kind: $kind,
            plural: $plural,
            singular: $singular,
            short_names: &[$($s),*],
            namespaced: $ns,
            verbs: { let _v: &'static [&'static str] = STD_VERBS; $( let _v = $verbs; )? _v },
            categories: &[$($c),*],
            subresources: &[$($sub),*],
            storage: { let _s: &'static str = $plural; $( let _s = $storage; )? _s },
            stored: { let _b = true; $( let _b = $stored; )? _b },
        }
    };
}

/// Every built-in resource this apiserver serves, in discovery order.
pub static CATALOGUE: &[ResourceInfo] = &[
    // core/v1
    res!(
        "",
        "v1",
        "Binding",
        "bindings",
        "binding",
        ns = true,
        short = [],
        cats = [],
        subs = [],
        verbs = CREATE_ONLY,
        stored = false
    ),
    res!(
        "",
        "v1",
        "ComponentStatus",
        "componentstatuses",
        "componentstatus",
        ns = false,
        short = ["cs"],
        cats = [],
        subs = [],
        verbs = READ_VERBS,
        stored = false
    ),
    res!(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        "configmap",
        ns = true,
        short = ["cm"],
        cats = [],
        subs = []
    ),
    res!(
        "",
        "v1",
        "Endpoints",
        "endpoints",
        "endpoints",
        ns = true,
        short = ["ep"],
        cats = [],
        subs = [],
        storage = "services/endpoints"
    ),
    res!(
        "",
        "v1",
        "Event",
        "events",
        "event",
        ns = true,
        short = ["ev"],
        cats = [],
        subs = []
    ),
    res!(
        "",
        "v1",
        "LimitRange",
        "limitranges",
        "limitrange",
        ns = true,
        short = ["limits"],
        cats = [],
        subs = []
    ),
    res!(
        "",
        "v1",
        "Namespace",
        "namespaces",
        "namespace",
        ns = false,
        short = ["ns"],
        cats = [],
        subs = ["finalize", "status"],
        verbs = &["create", "delete", "get", "list", "patch", "update", "watch"]
    ),
    res!(
        "",
        "v1",
        "Node",
        "nodes",
        "node",
        ns = false,
        short = ["no"],
        cats = [],
        subs = ["proxy", "status"],
        storage = "minions"
    ),
    res!(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        ns = true,
        short = ["pvc"],
        cats = [],
        subs = ["status"]
    ),
    res!(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        "persistentvolume",
        ns = false,
        short = ["pv"],
        cats = [],
        subs = ["status"]
    ),
    res!(
        "",
        "v1",
        "Pod",
        "pods",
        "pod",
        ns = true,
        short = ["po"],
        cats = ["all"],
        subs = [
            "attach",
            "binding",
            "ephemeralcontainers",
            "eviction",
            "exec",
            "log",
            "portforward",
            "proxy",
            "resize",
            "status"
        ]
    ),
    res!(
        "",
        "v1",
        "PodTemplate",
        "podtemplates",
        "podtemplate",
        ns = true,
        short = [],
        cats = [],
        subs = []
    ),
    res!(
        "",
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        "replicationcontroller",
        ns = true,
        short = ["rc"],
        cats = ["all"],
        subs = ["scale", "status"],
        storage = "controllers"
    ),
    res!(
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        "resourcequota",
        ns = true,
        short = ["quota"],
        cats = [],
        subs = ["status"]
    ),
    res!(
        "",
        "v1",
        "Secret",
        "secrets",
        "secret",
        ns = true,
        short = [],
        cats = [],
        subs = []
    ),
    res!(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        ns = true,
        short = ["sa"],
        cats = [],
        subs = ["token"]
    ),
    res!(
        "",
        "v1",
        "Service",
        "services",
        "service",
        ns = true,
        short = ["svc"],
        cats = ["all"],
        subs = ["proxy", "status"],
        storage = "services/specs",
        verbs = &[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch"
        ]
    ),
    // apiregistration.k8s.io/v1 (listed first in /apis, as upstream)
    res!(
        "apiregistration.k8s.io",
        "v1",
        "APIService",
        "apiservices",
        "apiservice",
        ns = false,
        short = [],
        cats = ["api-extensions"],
        subs = ["status"]
    ),
    // apps/v1
    res!(
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        "controllerrevision",
        ns = true,
        short = [],
        cats = [],
        subs = []
    ),
    res!(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        "daemonset",
        ns = true,
        short = ["ds"],
        cats = ["all"],
        subs = ["status"]
    ),
    res!(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "deployment",
        ns = true,
        short = ["deploy"],
        cats = ["all"],
        subs = ["scale", "status"]
    ),
    res!(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        "replicaset",
        ns = true,
        short = ["rs"],
        cats = ["all"],
        subs = ["scale", "status"]
    ),
    res!(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        "statefulset",
        ns = true,
        short = ["sts"],
        cats = ["all"],
        subs = ["scale", "status"]
    ),
    // events.k8s.io/v1 shares storage with core events.
    res!(
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        "event",
        ns = true,
        short = ["ev"],
        cats = [],
        subs = []
    ),
    // authentication.k8s.io/v1 and authorization.k8s.io/v1: reviews are
    // answered, never stored.
    res!(
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        "selfsubjectreview",
        ns = false,
        short = [],
        cats = [],
        subs = [],
        verbs = CREATE_ONLY,
        stored = false
    ),
    res!(
        "authentication.k8s.io",
        "v1",
        "TokenReview",
        "tokenreviews",
        "tokenreview",
        ns = false,
        short = [],
        cats = [],
        subs = [],
        verbs = CREATE_ONLY,
        stored = false
    ),
    res!(
        "authorization.k8s.io",
        "v1",
        "LocalSubjectAccessReview",
        "localsubjectaccessreviews",
        "localsubjectaccessreview",
        ns = true,
        short = [],
        cats = [],
        subs = [],
        verbs = CREATE_ONLY,
        stored = false
    ),
    res!(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        ns = false,
        short = [],
        cats = [],
        subs = [],
        verbs = CREATE_ONLY,
        stored = false
    ),
    res!(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        "selfsubjectrulesreview",
        ns = false,
        short = [],
        cats = [],
        subs = [],
        verbs = CREATE_ONLY,
        stored = false
    ),
    res!(
        "authorization.k8s.io",
        "v1",
        "SubjectAccessReview",
        "subjectaccessreviews",
        "subjectaccessreview",
        ns = false,
        short = [],
        cats = [],
        subs = [],
        verbs = CREATE_ONLY,
        stored = false
    ),
    // autoscaling: v2 is the storage version; v1 shares the same keys.
    res!(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        ns = true,
        short = ["hpa"],
        cats = ["all"],
        subs = ["status"]
    ),
    res!(
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        ns = true,
        short = ["hpa"],
        cats = ["all"],
        subs = ["status"]
    ),
    // batch/v1
    res!(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        "cronjob",
        ns = true,
        short = ["cj"],
        cats = ["all"],
        subs = ["status"]
    ),
    res!(
        "batch",
        "v1",
        "Job",
        "jobs",
        "job",
        ns = true,
        short = [],
        cats = ["all"],
        subs = ["status"]
    ),
    // certificates.k8s.io/v1
    res!(
        "certificates.k8s.io",
        "v1",
        "CertificateSigningRequest",
        "certificatesigningrequests",
        "certificatesigningrequest",
        ns = false,
        short = ["csr"],
        cats = [],
        subs = ["approval", "status"]
    ),
    // networking.k8s.io/v1
    res!(
        "networking.k8s.io",
        "v1",
        "IngressClass",
        "ingressclasses",
        "ingressclass",
        ns = false,
        short = [],
        cats = [],
        subs = []
    ),
    res!(
        "networking.k8s.io",
        "v1",
        "IPAddress",
        "ipaddresses",
        "ipaddress",
        ns = false,
        short = ["ip"],
        cats = [],
        subs = []
    ),
    res!(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        "ingress",
        ns = true,
        short = ["ing"],
        cats = [],
        subs = ["status"],
        storage = "ingress"
    ),
    res!(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        "networkpolicy",
        ns = true,
        short = ["netpol"],
        cats = [],
        subs = []
    ),
    res!(
        "networking.k8s.io",
        "v1",
        "ServiceCIDR",
        "servicecidrs",
        "servicecidr",
        ns = false,
        short = [],
        cats = [],
        subs = ["status"]
    ),
    // policy/v1
    res!(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        ns = true,
        short = ["pdb"],
        cats = [],
        subs = ["status"]
    ),
    // rbac.authorization.k8s.io/v1
    res!(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        "clusterrolebinding",
        ns = false,
        short = [],
        cats = [],
        subs = []
    ),
    res!(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        "clusterrole",
        ns = false,
        short = [],
        cats = [],
        subs = []
    ),
    res!(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        "rolebinding",
        ns = true,
        short = [],
        cats = [],
        subs = []
    ),
    res!(
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        "role",
        ns = true,
        short = [],
        cats = [],
        subs = []
    ),
    // storage.k8s.io/v1
    res!(
        "storage.k8s.io",
        "v1",
        "CSIDriver",
        "csidrivers",
        "csidriver",
        ns = false,
        short = [],
        cats = [],
        subs = []
    ),
    res!(
        "storage.k8s.io",
        "v1",
        "CSINode",
        "csinodes",
        "csinode",
        ns = false,
        short = [],
        cats = [],
        subs = []
    ),
    res!(
        "storage.k8s.io",
        "v1",
        "CSIStorageCapacity",
        "csistoragecapacities",
        "csistoragecapacity",
        ns = true,
        short = [],
        cats = [],
        subs = []
    ),
    res!(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        "storageclass",
        ns = false,
        short = ["sc"],
        cats = [],
        subs = []
    ),
    res!(
        "storage.k8s.io",
        "v1",
        "VolumeAttachment",
        "volumeattachments",
        "volumeattachment",
        ns = false,
        short = [],
        cats = [],
        subs = ["status"]
    ),
    // admissionregistration.k8s.io/v1
    res!(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        "mutatingwebhookconfiguration",
        ns = false,
        short = [],
        cats = ["api-extensions"],
        subs = []
    ),
    res!(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicy",
        "validatingadmissionpolicies",
        "validatingadmissionpolicy",
        ns = false,
        short = [],
        cats = ["api-extensions"],
        subs = ["status"]
    ),
    res!(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        "validatingadmissionpolicybinding",
        ns = false,
        short = [],
        cats = ["api-extensions"],
        subs = []
    ),
    res!(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        "validatingwebhookconfiguration",
        ns = false,
        short = [],
        cats = ["api-extensions"],
        subs = []
    ),
    // apiextensions.k8s.io/v1
    res!(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        "customresourcedefinition",
        ns = false,
        short = ["crd", "crds"],
        cats = ["api-extensions"],
        subs = ["status"],
        storage = "apiextensions.k8s.io/customresourcedefinitions"
    ),
    // scheduling.k8s.io/v1
    res!(
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        "priorityclass",
        ns = false,
        short = ["pc"],
        cats = [],
        subs = []
    ),
    // coordination.k8s.io/v1
    res!(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        "lease",
        ns = true,
        short = [],
        cats = [],
        subs = []
    ),
    // node.k8s.io/v1
    res!(
        "node.k8s.io",
        "v1",
        "RuntimeClass",
        "runtimeclasses",
        "runtimeclass",
        ns = false,
        short = [],
        cats = [],
        subs = []
    ),
    // discovery.k8s.io/v1
    res!(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        "endpointslice",
        ns = true,
        short = [],
        cats = [],
        subs = []
    ),
    // flowcontrol.apiserver.k8s.io/v1 (objects stored; API priority and
    // fairness itself is not enforced yet)
    res!(
        "flowcontrol.apiserver.k8s.io",
        "v1",
        "FlowSchema",
        "flowschemas",
        "flowschema",
        ns = false,
        short = [],
        cats = [],
        subs = ["status"]
    ),
    res!(
        "flowcontrol.apiserver.k8s.io",
        "v1",
        "PriorityLevelConfiguration",
        "prioritylevelconfigurations",
        "prioritylevelconfiguration",
        ns = false,
        short = [],
        cats = [],
        subs = ["status"]
    ),
];

/// API groups in the order `/apis` lists them (core excluded), with the
/// preferred version first.
pub fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in CATALOGUE.iter().filter(|r| !r.group.is_empty()) {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, versions)) => {
                if !versions.contains(&r.version) {
                    versions.push(r.version);
                }
            }
            None => out.push((r.group, vec![r.version])),
        }
    }
    out
}

/// Resources served in one group/version.
pub fn resources_in<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static ResourceInfo> + 'a {
    CATALOGUE
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

/// Looks a resource up by its URL coordinates.
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    CATALOGUE
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Looks a resource up by `apiVersion` and `kind`, as written in an object.
pub fn lookup_kind(api_version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    let (group, version) = split_api_version(api_version);
    CATALOGUE
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// Splits `group/version` (or a bare core `version`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// Whether a group/version is served at all.
pub fn serves_version(group: &str, version: &str) -> bool {
    CATALOGUE
        .iter()
        .any(|r| r.group == group && r.version == version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let pods = lookup("", "v1", "pods").unwrap();
        assert_eq!(pods.kind, "Pod");
        assert!(pods.namespaced);
        assert_eq!(pods.api_version(), "v1");
        let d = lookup_kind("apps/v1", "Deployment").unwrap();
        assert_eq!(d.plural, "deployments");
        assert_eq!(d.group_resource(), "deployments.apps");
        assert_eq!(
            lookup("", "v1", "services").unwrap().storage,
            "services/specs"
        );
    }

    #[test]
    fn unique_plurals_per_group_version() {
        for (i, a) in CATALOGUE.iter().enumerate() {
            for b in &CATALOGUE[i + 1..] {
                assert!(
                    !(a.group == b.group && a.version == b.version && a.plural == b.plural),
                    "{} duplicated",
                    a.plural
                );
            }
        }
    }

    #[test]
    fn groups_keep_preferred_version_first() {
        let g = groups();
        let autoscaling = g.iter().find(|(g, _)| *g == "autoscaling").unwrap();
        assert_eq!(autoscaling.1, vec!["v2", "v1"]);
    }
}
