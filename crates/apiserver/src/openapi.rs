//! OpenAPI documents: Swagger 2.0 at `/openapi/v2`, OpenAPI 3.0 at
//! `/openapi/v3` (an index) and `/openapi/v3/<path>` (one document per
//! group-version plus the `api`, `apis`, `apis/<group>` and `version` roots),
//! and the schema walk behind `fieldValidation=Strict`.
//!
//! Schemas come from the `schemars::JsonSchema` impls of k8s-openapi, one per
//! catalogue kind, generated with a draft-07 style generator so every `$ref`
//! points at `#/definitions/<io.k8s...name>`. The v3 documents are derived from
//! the same definitions by rewriting references to `#/components/schemas/...`
//! and wrapping referencing properties that carry siblings in `allOf`, as
//! upstream does. k8s-openapi drops the `x-kubernetes-*` list and patch
//! extensions, so [`LIST_EXTENSIONS`] puts back those kubectl's client-side
//! apply reads (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`)
//! together with the matching list types.
//!
//! Everything is built once by [`build`]; serving is a lookup of prebuilt bytes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use apimachinery::catalogue::{ResourceInfo, CATALOGUE};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

const V2_REF: &str = "#/definitions/";
const V3_REF: &str = "#/components/schemas/";
const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.";
/// `info.version` of every document.
pub const INFO_VERSION: &str = "v1.33.0";
/// Upstream stops collecting strict decoding errors after this many.
const MAX_UNKNOWN_FIELDS: usize = 100;

const DEF_INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const DEF_QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const DEF_STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const DEF_DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const DEF_WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
const DEF_PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const DEF_LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const DEF_OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const DEF_VERSION_INFO: &str = "io.k8s.apimachinery.pkg.version.Info";

/// Media types a PATCH accepts (the v3 request body lists one entry per type;
/// kubectl looks for the strategic merge one before computing such a patch).
pub const PATCH_CONTENT_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];
const OBJECT_PRODUCES: &[&str] = &["application/json", "application/yaml"];
const LIST_PRODUCES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/json;stream=watch",
];
const TEXT_PRODUCES: &[&str] = &["text/plain", "application/json", "application/yaml"];
const ANY: &[&str] = &["*/*"];

// ---------------------------------------------------------------------------
// List and patch extensions
// ---------------------------------------------------------------------------

/// Strategic-merge and list-type metadata of one list (or struct) property,
/// as upstream's OpenAPI carries it in `x-kubernetes-*` extensions.
#[derive(Debug, Clone, Copy)]
pub struct ListExtension {
    /// Definition name, e.g. `io.k8s.api.core.v1.PodSpec`.
    pub definition: &'static str,
    /// JSON property name within that definition.
    pub property: &'static str,
    /// `x-kubernetes-patch-strategy` (`merge`, `retainKeys`, `merge,retainKeys`, `replace`).
    pub patch_strategy: Option<&'static str>,
    /// `x-kubernetes-patch-merge-key`.
    pub merge_key: Option<&'static str>,
    /// `x-kubernetes-list-type` (`atomic`, `set`, `map`).
    pub list_type: Option<&'static str>,
    /// `x-kubernetes-list-map-keys` (only with list type `map`).
    pub map_keys: &'static [&'static str],
}

const fn merge_map(
    definition: &'static str,
    property: &'static str,
    key: &'static str,
    map_keys: &'static [&'static str],
) -> ListExtension {
    ListExtension {
        definition,
        property,
        patch_strategy: Some("merge"),
        merge_key: Some(key),
        list_type: Some("map"),
        map_keys,
    }
}

const fn with_strategy(mut e: ListExtension, strategy: &'static str) -> ListExtension {
    e.patch_strategy = Some(strategy);
    e
}

const fn conditions(definition: &'static str) -> ListExtension {
    merge_map(definition, "conditions", "type", &["type"])
}

const fn plain(
    definition: &'static str,
    property: &'static str,
    patch_strategy: Option<&'static str>,
    list_type: Option<&'static str>,
) -> ListExtension {
    ListExtension {
        definition,
        property,
        patch_strategy,
        merge_key: None,
        list_type,
        map_keys: &[],
    }
}

const CORE: &str = "io.k8s.api.core.v1.";

macro_rules! core_def {
    ($name:literal) => {
        concat!("io.k8s.api.core.v1.", $name)
    };
}

/// The `x-kubernetes-patch-*` / `x-kubernetes-list-*` annotations upstream
/// publishes on built-in types that kubectl's strategic merge (and server-side
/// apply) depend on. k8s-openapi strips them, so they are restored here.
pub static LIST_EXTENSIONS: &[ListExtension] = &[
    // ObjectMeta
    plain(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "finalizers",
        Some("merge"),
        Some("set"),
    ),
    merge_map(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "ownerReferences",
        "uid",
        &["uid"],
    ),
    // PodSpec
    merge_map(core_def!("PodSpec"), "containers", "name", &["name"]),
    merge_map(core_def!("PodSpec"), "initContainers", "name", &["name"]),
    merge_map(
        core_def!("PodSpec"),
        "ephemeralContainers",
        "name",
        &["name"],
    ),
    with_strategy(
        merge_map(core_def!("PodSpec"), "volumes", "name", &["name"]),
        "merge,retainKeys",
    ),
    merge_map(core_def!("PodSpec"), "imagePullSecrets", "name", &["name"]),
    merge_map(core_def!("PodSpec"), "hostAliases", "ip", &["ip"]),
    merge_map(
        core_def!("PodSpec"),
        "topologySpreadConstraints",
        "topologyKey",
        &["topologyKey", "whenUnsatisfiable"],
    ),
    merge_map(core_def!("PodSpec"), "schedulingGates", "name", &["name"]),
    with_strategy(
        merge_map(core_def!("PodSpec"), "resourceClaims", "name", &["name"]),
        "merge,retainKeys",
    ),
    plain(core_def!("PodSpec"), "tolerations", None, Some("atomic")),
    plain(core_def!("PodSpec"), "readinessGates", None, Some("atomic")),
    // Container and EphemeralContainer
    merge_map(
        core_def!("Container"),
        "ports",
        "containerPort",
        &["containerPort", "protocol"],
    ),
    merge_map(core_def!("Container"), "env", "name", &["name"]),
    merge_map(
        core_def!("Container"),
        "volumeMounts",
        "mountPath",
        &["mountPath"],
    ),
    merge_map(
        core_def!("Container"),
        "volumeDevices",
        "devicePath",
        &["devicePath"],
    ),
    plain(core_def!("Container"), "envFrom", None, Some("atomic")),
    plain(core_def!("Container"), "command", None, Some("atomic")),
    plain(core_def!("Container"), "args", None, Some("atomic")),
    plain(core_def!("Container"), "resizePolicy", None, Some("atomic")),
    merge_map(
        core_def!("EphemeralContainer"),
        "ports",
        "containerPort",
        &["containerPort", "protocol"],
    ),
    merge_map(core_def!("EphemeralContainer"), "env", "name", &["name"]),
    merge_map(
        core_def!("EphemeralContainer"),
        "volumeMounts",
        "mountPath",
        &["mountPath"],
    ),
    merge_map(
        core_def!("EphemeralContainer"),
        "volumeDevices",
        "devicePath",
        &["devicePath"],
    ),
    plain(
        core_def!("EphemeralContainer"),
        "envFrom",
        None,
        Some("atomic"),
    ),
    plain(
        core_def!("EphemeralContainer"),
        "command",
        None,
        Some("atomic"),
    ),
    plain(
        core_def!("EphemeralContainer"),
        "args",
        None,
        Some("atomic"),
    ),
    plain(
        core_def!("EphemeralContainer"),
        "resizePolicy",
        None,
        Some("atomic"),
    ),
    // PodStatus and ContainerStatus
    conditions(core_def!("PodStatus")),
    merge_map(core_def!("PodStatus"), "podIPs", "ip", &["ip"]),
    merge_map(core_def!("PodStatus"), "hostIPs", "ip", &["ip"]),
    with_strategy(
        merge_map(
            core_def!("PodStatus"),
            "resourceClaimStatuses",
            "name",
            &["name"],
        ),
        "merge,retainKeys",
    ),
    plain(
        core_def!("PodStatus"),
        "containerStatuses",
        None,
        Some("atomic"),
    ),
    plain(
        core_def!("PodStatus"),
        "initContainerStatuses",
        None,
        Some("atomic"),
    ),
    plain(
        core_def!("PodStatus"),
        "ephemeralContainerStatuses",
        None,
        Some("atomic"),
    ),
    merge_map(
        core_def!("ContainerStatus"),
        "volumeMounts",
        "mountPath",
        &["mountPath"],
    ),
    merge_map(
        core_def!("ContainerStatus"),
        "allocatedResourcesStatus",
        "name",
        &["name"],
    ),
    // Services, nodes, namespaces, volumes, controllers, accounts
    merge_map(
        core_def!("ServiceSpec"),
        "ports",
        "port",
        &["port", "protocol"],
    ),
    plain(core_def!("ServiceSpec"), "clusterIPs", None, Some("atomic")),
    plain(
        core_def!("ServiceSpec"),
        "externalIPs",
        None,
        Some("atomic"),
    ),
    plain(core_def!("ServiceSpec"), "ipFamilies", None, Some("atomic")),
    plain(
        core_def!("ServiceSpec"),
        "loadBalancerSourceRanges",
        None,
        Some("atomic"),
    ),
    conditions(core_def!("ServiceStatus")),
    plain(
        core_def!("NodeSpec"),
        "podCIDRs",
        Some("merge"),
        Some("set"),
    ),
    plain(core_def!("NodeSpec"), "taints", None, Some("atomic")),
    conditions(core_def!("NodeStatus")),
    merge_map(core_def!("NodeStatus"), "addresses", "type", &["type"]),
    conditions(core_def!("NamespaceStatus")),
    conditions(core_def!("PersistentVolumeClaimStatus")),
    conditions(core_def!("ReplicationControllerStatus")),
    merge_map(core_def!("ServiceAccount"), "secrets", "name", &["name"]),
    // apps/v1
    conditions("io.k8s.api.apps.v1.DeploymentStatus"),
    conditions("io.k8s.api.apps.v1.ReplicaSetStatus"),
    conditions("io.k8s.api.apps.v1.StatefulSetStatus"),
    conditions("io.k8s.api.apps.v1.DaemonSetStatus"),
    plain(
        "io.k8s.api.apps.v1.DeploymentSpec",
        "strategy",
        Some("retainKeys"),
        None,
    ),
    // batch/v1
    ListExtension {
        definition: "io.k8s.api.batch.v1.JobStatus",
        property: "conditions",
        patch_strategy: Some("merge"),
        merge_key: Some("type"),
        list_type: Some("atomic"),
        map_keys: &[],
    },
    // autoscaling/v2
    conditions("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus"),
    // policy/v1
    plain(
        "io.k8s.api.policy.v1.PodDisruptionBudgetSpec",
        "selector",
        Some("replace"),
        None,
    ),
    conditions("io.k8s.api.policy.v1.PodDisruptionBudgetStatus"),
    // storage.k8s.io/v1
    merge_map(
        "io.k8s.api.storage.v1.CSINodeSpec",
        "drivers",
        "name",
        &["name"],
    ),
    // networking.k8s.io/v1
    conditions("io.k8s.api.networking.v1.ServiceCIDRStatus"),
    // certificates.k8s.io/v1 (list type only)
    ListExtension {
        definition: "io.k8s.api.certificates.v1.CertificateSigningRequestStatus",
        property: "conditions",
        patch_strategy: None,
        merge_key: None,
        list_type: Some("map"),
        map_keys: &["type"],
    },
    // admissionregistration.k8s.io/v1
    merge_map(
        "io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration",
        "webhooks",
        "name",
        &["name"],
    ),
    merge_map(
        "io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration",
        "webhooks",
        "name",
        &["name"],
    ),
    merge_map(
        "io.k8s.api.admissionregistration.v1.MutatingWebhook",
        "matchConditions",
        "name",
        &["name"],
    ),
    merge_map(
        "io.k8s.api.admissionregistration.v1.ValidatingWebhook",
        "matchConditions",
        "name",
        &["name"],
    ),
    merge_map(
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec",
        "matchConditions",
        "name",
        &["name"],
    ),
    merge_map(
        "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicySpec",
        "variables",
        "name",
        &["name"],
    ),
];

/// Looks up the patch/list metadata of `definition.property`.
pub fn list_extension(definition: &str, property: &str) -> Option<&'static ListExtension> {
    LIST_EXTENSIONS
        .iter()
        .find(|e| e.definition == definition && e.property == property)
}

// ---------------------------------------------------------------------------
// Kind -> Rust type
// ---------------------------------------------------------------------------

type GenFn = fn(&mut SchemaGenerator) -> schemars::Schema;

struct TypedKind {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    generate: GenFn,
}

fn typed<T: k8s_openapi::Resource + JsonSchema>() -> TypedKind {
    TypedKind {
        group: T::GROUP,
        version: T::VERSION,
        kind: T::KIND,
        generate: |g| g.subschema_for::<T>(),
    }
}

/// Every kind with a k8s-openapi type this server may serve (a superset of the
/// catalogue; only kinds the catalogue or a subresource needs are generated).
fn typed_kinds() -> Vec<TypedKind> {
    use k8s_openapi::api as k;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
    use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apiregistration;
    vec![
        typed::<k::core::v1::Binding>(),
        typed::<k::core::v1::ComponentStatus>(),
        typed::<k::core::v1::ConfigMap>(),
        typed::<k::core::v1::Endpoints>(),
        typed::<k::core::v1::Event>(),
        typed::<k::core::v1::LimitRange>(),
        typed::<k::core::v1::Namespace>(),
        typed::<k::core::v1::Node>(),
        typed::<k::core::v1::PersistentVolumeClaim>(),
        typed::<k::core::v1::PersistentVolume>(),
        typed::<k::core::v1::Pod>(),
        typed::<k::core::v1::PodTemplate>(),
        typed::<k::core::v1::ReplicationController>(),
        typed::<k::core::v1::ResourceQuota>(),
        typed::<k::core::v1::Secret>(),
        typed::<k::core::v1::ServiceAccount>(),
        typed::<k::core::v1::Service>(),
        typed::<k::apps::v1::ControllerRevision>(),
        typed::<k::apps::v1::DaemonSet>(),
        typed::<k::apps::v1::Deployment>(),
        typed::<k::apps::v1::ReplicaSet>(),
        typed::<k::apps::v1::StatefulSet>(),
        typed::<k::events::v1::Event>(),
        typed::<k::autoscaling::v1::HorizontalPodAutoscaler>(),
        typed::<k::autoscaling::v1::Scale>(),
        typed::<k::autoscaling::v2::HorizontalPodAutoscaler>(),
        typed::<k::batch::v1::CronJob>(),
        typed::<k::batch::v1::Job>(),
        typed::<k::certificates::v1::CertificateSigningRequest>(),
        typed::<k::networking::v1::IngressClass>(),
        typed::<k::networking::v1::IPAddress>(),
        typed::<k::networking::v1::Ingress>(),
        typed::<k::networking::v1::NetworkPolicy>(),
        typed::<k::networking::v1::ServiceCIDR>(),
        typed::<k::policy::v1::PodDisruptionBudget>(),
        typed::<k::policy::v1::Eviction>(),
        typed::<k::rbac::v1::ClusterRoleBinding>(),
        typed::<k::rbac::v1::ClusterRole>(),
        typed::<k::rbac::v1::RoleBinding>(),
        typed::<k::rbac::v1::Role>(),
        typed::<k::storage::v1::CSIDriver>(),
        typed::<k::storage::v1::CSINode>(),
        typed::<k::storage::v1::CSIStorageCapacity>(),
        typed::<k::storage::v1::StorageClass>(),
        typed::<k::storage::v1::VolumeAttachment>(),
        typed::<k::admissionregistration::v1::MutatingWebhookConfiguration>(),
        typed::<k::admissionregistration::v1::ValidatingAdmissionPolicy>(),
        typed::<k::admissionregistration::v1::ValidatingAdmissionPolicyBinding>(),
        typed::<k::admissionregistration::v1::ValidatingWebhookConfiguration>(),
        typed::<apiextensions::CustomResourceDefinition>(),
        typed::<k::scheduling::v1::PriorityClass>(),
        typed::<k::coordination::v1::Lease>(),
        typed::<k::node::v1::RuntimeClass>(),
        typed::<k::discovery::v1::EndpointSlice>(),
        typed::<k::authentication::v1::TokenRequest>(),
        typed::<k::authentication::v1::TokenReview>(),
        typed::<k::authentication::v1::SelfSubjectReview>(),
        typed::<k::authorization::v1::SubjectAccessReview>(),
        typed::<k::authorization::v1::SelfSubjectAccessReview>(),
        typed::<k::authorization::v1::LocalSubjectAccessReview>(),
        typed::<k::authorization::v1::SelfSubjectRulesReview>(),
        typed::<k::flowcontrol::v1::FlowSchema>(),
        typed::<k::flowcontrol::v1::PriorityLevelConfiguration>(),
        typed::<apiregistration::APIService>(),
    ]
}

/// The kind a subresource's requests and responses carry, as
/// `(group, version, kind)`; `None` for the resource's own kind.
fn subresource_kind(sub: &str) -> Option<(&'static str, &'static str, &'static str)> {
    match sub {
        "scale" => Some(("autoscaling", "v1", "Scale")),
        "eviction" => Some(("policy", "v1", "Eviction")),
        "binding" => Some(("", "v1", "Binding")),
        "token" => Some(("authentication.k8s.io", "v1", "TokenRequest")),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// The built documents
// ---------------------------------------------------------------------------

/// All OpenAPI documents this server publishes, built once.
pub struct OpenApi {
    v2: Vec<u8>,
    v2_hash: String,
    /// The same document as gnostic `openapi_v2.Document` protobuf.
    v2_pb: Vec<u8>,
    /// `api/v1`, `apis/apps/v1`, `api`, `apis`, `apis/apps`, `version`, ...
    v3: BTreeMap<String, (Vec<u8>, String)>,
    /// Swagger 2.0 definitions (references as `#/definitions/<name>`).
    definitions: HashMap<String, Value>,
    /// `group/version/kind` -> definition name.
    kinds: HashMap<String, String>,
}

fn gvk_key(group: &str, version: &str, kind: &str) -> String {
    format!("{group}/{version}/{kind}")
}

fn gvk_value(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "kind": kind, "version": version })
}

fn v2_ref(name: &str) -> Value {
    json!({ "$ref": format!("{V2_REF}{name}") })
}

impl OpenApi {
    /// The Swagger 2.0 document (`/openapi/v2`, JSON).
    pub fn v2_json(&self) -> &[u8] {
        &self.v2
    }

    /// The Swagger 2.0 document as protobuf (gnostic `openapi.v2.Document`),
    /// served for `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`
    /// (with content type `application/com.github.proto-openapi.spec.v2.v1.0+protobuf`).
    /// kubectl 1.27 and 1.28 load it before `apply`, `create` and `explain`;
    /// newer ones only for client-side validation and
    /// `explain --output plaintext-openapiv2`.
    pub fn v2_protobuf(&self) -> &[u8] {
        &self.v2_pb
    }

    /// A stable hash of [`OpenApi::v2_json`], usable as an ETag.
    pub fn v2_hash(&self) -> &str {
        &self.v2_hash
    }

    /// The `/openapi/v3` discovery index.
    pub fn v3_index(&self) -> Value {
        let mut paths = Map::new();
        for (path, (_, hash)) in &self.v3 {
            paths.insert(
                path.clone(),
                json!({ "serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}") }),
            );
        }
        json!({ "paths": paths })
    }

    /// One OpenAPI 3.0 document and its hash, by index path (`api/v1`,
    /// `apis/apps/v1`, `api`, `apis`, `apis/apps`, `version`); a leading `/`
    /// is ignored.
    pub fn v3_document(&self, path: &str) -> Option<(&[u8], &str)> {
        let path = path.trim_start_matches('/').trim_end_matches('/');
        self.v3
            .get(path)
            .map(|(bytes, hash)| (bytes.as_slice(), hash.as_str()))
    }

    /// Paths of every v3 document, in index order.
    pub fn v3_paths(&self) -> impl Iterator<Item = &str> {
        self.v3.keys().map(String::as_str)
    }

    /// A Swagger 2.0 definition by name (`io.k8s.api.core.v1.PodSpec`).
    pub fn definition(&self, name: &str) -> Option<&Value> {
        self.definitions.get(name)
    }

    /// The definition name describing a kind (`io.k8s.api.apps.v1.Deployment`),
    /// list kinds included.
    pub fn definition_name(&self, group: &str, version: &str, kind: &str) -> Option<&str> {
        self.kinds
            .get(&gvk_key(group, version, kind))
            .map(String::as_str)
    }

    /// The paths of fields in `obj` that the kind's schema does not know, in
    /// upstream's strict-decoding format (`spec.replicass`,
    /// `spec.template.spec.containers[0].foo`, `metadata.labelz`), in document
    /// order, at most 100. Top-level `apiVersion`, `kind`, `metadata` and
    /// `status` are always known. Unknown kinds yield nothing.
    pub fn unknown_fields(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        obj: &Value,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let Some(def) = self.definition_name(group, version, kind) else {
            return out;
        };
        let Some(schema) = self.definitions.get(def) else {
            return out;
        };
        let Value::Object(fields) = obj else {
            return out;
        };
        let Some(props) = schema.get("properties").and_then(Value::as_object) else {
            return out;
        };
        if is_free_form(schema) {
            return out;
        }
        let mut path = String::new();
        for (name, value) in fields {
            if out.len() >= MAX_UNKNOWN_FIELDS {
                break;
            }
            match props.get(name) {
                Some(sub) => {
                    path.clear();
                    path.push_str(name);
                    self.walk(sub, value, &mut path, &mut out, 0);
                }
                None => match name.as_str() {
                    "apiVersion" | "kind" | "status" => {}
                    "metadata" => {
                        path.clear();
                        path.push_str(name);
                        self.walk(&v2_ref(DEF_OBJECT_META), value, &mut path, &mut out, 0);
                    }
                    _ => out.push(name.clone()),
                },
            }
        }
        out
    }

    fn resolve<'a>(&'a self, mut schema: &'a Value) -> Option<&'a Value> {
        for _ in 0..64 {
            if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
                schema = self.definitions.get(r.strip_prefix(V2_REF)?)?;
                continue;
            }
            if let Some([only]) = schema
                .get("allOf")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
            {
                if schema.get("properties").is_none() {
                    schema = only;
                    continue;
                }
            }
            return Some(schema);
        }
        None
    }

    fn walk(
        &self,
        schema: &Value,
        value: &Value,
        path: &mut String,
        out: &mut Vec<String>,
        depth: usize,
    ) {
        if depth > 256 || out.len() >= MAX_UNKNOWN_FIELDS {
            return;
        }
        let Some(schema) = self.resolve(schema) else {
            return;
        };
        if is_free_form(schema) {
            return;
        }
        match value {
            Value::Object(fields) => {
                let props = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties").filter(|a| a.is_object());
                if props.is_none() && additional.is_none() {
                    // An object without a declared shape (RawExtension,
                    // FieldsV1, JSON, ...) takes anything.
                    return;
                }
                for (name, v) in fields {
                    if out.len() >= MAX_UNKNOWN_FIELDS {
                        return;
                    }
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(name);
                    match props.and_then(|p| p.get(name)).or(additional) {
                        Some(sub) => {
                            if !v.is_null() {
                                self.walk(sub, v, path, out, depth + 1);
                            }
                        }
                        None => out.push(path.clone()),
                    }
                    path.truncate(len);
                }
            }
            Value::Array(items) => {
                let Some(item_schema) = schema.get("items").filter(|i| i.is_object()) else {
                    return;
                };
                for (i, v) in items.iter().enumerate() {
                    if v.is_null() {
                        continue;
                    }
                    let len = path.len();
                    path.push('[');
                    path.push_str(&i.to_string());
                    path.push(']');
                    self.walk(item_schema, v, path, out, depth + 1);
                    path.truncate(len);
                    if out.len() >= MAX_UNKNOWN_FIELDS {
                        return;
                    }
                }
            }
            _ => {}
        }
    }
}

fn is_free_form(schema: &Value) -> bool {
    schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
        || schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        || schema.get("format").and_then(Value::as_str) == Some("int-or-string")
}

// ---------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------

/// Builds every document. Takes a few hundred milliseconds in a release
/// build; the server calls it once and keeps the result.
pub fn build() -> OpenApi {
    let mut generator = SchemaSettings::draft07()
        .with(|s| {
            s.transforms.clear();
            s.meta_schema = None;
            s.inline_subschemas = false;
        })
        .into_generator();

    let typed_list = typed_kinds();
    let mut kinds: HashMap<String, String> = HashMap::new();
    // Kinds without a k8s-openapi type get a free-form definition.
    let mut untyped: Vec<(&'static str, &'static str, &'static str)> = Vec::new();

    let mut wanted: Vec<(&'static str, &'static str, &'static str)> = Vec::new();
    for r in CATALOGUE {
        wanted.push((r.group, r.version, r.kind));
        for sub in r.subresources {
            if let Some(k) = subresource_kind(sub) {
                wanted.push(k);
            }
        }
    }
    for (group, version, kind) in wanted {
        let key = gvk_key(group, version, kind);
        if kinds.contains_key(&key) {
            continue;
        }
        match typed_list
            .iter()
            .find(|t| t.group == group && t.version == version && t.kind == kind)
        {
            Some(t) => {
                let schema = (t.generate)(&mut generator);
                if let Some(name) = ref_target(schema.as_value(), V2_REF) {
                    kinds.insert(key, name.to_string());
                }
            }
            None => {
                if !untyped.contains(&(group, version, kind)) {
                    untyped.push((group, version, kind));
                }
            }
        }
    }
    {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
        generator.subschema_for::<meta::Status>();
        generator.subschema_for::<meta::DeleteOptions>();
        generator.subschema_for::<meta::WatchEvent<k8s_openapi::apimachinery::pkg::runtime::RawExtension>>();
        generator.subschema_for::<meta::Patch>();
        generator.subschema_for::<meta::ListMeta>();
        generator.subschema_for::<meta::ObjectMeta>();
        generator.subschema_for::<meta::APIResourceList>();
        generator.subschema_for::<meta::APIGroup>();
        generator.subschema_for::<meta::APIGroupList>();
        generator.subschema_for::<meta::APIVersions>();
        generator.subschema_for::<k8s_openapi::apimachinery::pkg::version::Info>();
    }
    let mut defs: BTreeMap<String, Value> = generator.take_definitions(false).into_iter().collect();

    for &(group, version, kind) in &untyped {
        let name = format!(
            "io.k8s.unregistered.{}.{version}.{kind}",
            if group.is_empty() { "core" } else { group }
        );
        defs.insert(
            name.clone(),
            json!({
                "description": format!("{kind} (no published schema)."),
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": true,
            }),
        );
        kinds.insert(gvk_key(group, version, kind), name);
    }

    fix_special_types(&mut defs);

    // Group-version-kind extensions on kinds.
    for (key, name) in &kinds {
        let mut parts = key.splitn(3, '/');
        let (g, v, k) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        add_gvk(&mut defs, name, gvk_value(g, v, k));
    }
    let served_gvs = served_group_versions();
    for name in [DEF_DELETE_OPTIONS, DEF_WATCH_EVENT] {
        let kind = name.rsplit('.').next().unwrap_or_default();
        for (g, v) in &served_gvs {
            add_gvk(&mut defs, name, gvk_value(g, v, kind));
        }
    }
    for (name, kind) in [
        (DEF_STATUS, "Status"),
        (
            "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
            "APIResourceList",
        ),
        ("io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup", "APIGroup"),
        (
            "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList",
            "APIGroupList",
        ),
        (
            "io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions",
            "APIVersions",
        ),
    ] {
        add_gvk(&mut defs, name, gvk_value("", "v1", kind));
    }

    // List kinds.
    let (api_version_prop, kind_prop) = type_meta_properties(&defs);
    for r in CATALOGUE.iter().filter(|r| r.has_verb("list")) {
        let Some(item) = kinds.get(&gvk_key(r.group, r.version, r.kind)).cloned() else {
            continue;
        };
        let list_key = gvk_key(r.group, r.version, &r.list_kind());
        if kinds.contains_key(&list_key) {
            continue;
        }
        let list_name = format!("{item}List");
        defs.insert(
            list_name.clone(),
            json!({
                "description": format!("{}List is a list of {} objects.", r.kind, r.kind),
                "type": "object",
                "properties": {
                    "apiVersion": api_version_prop.clone(),
                    "items": {
                        "description": format!("The {} objects in this list.", r.kind),
                        "type": "array",
                        "items": v2_ref(&item),
                    },
                    "kind": kind_prop.clone(),
                    "metadata": {
                        "$ref": format!("{V2_REF}{DEF_LIST_META}"),
                        "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                    },
                },
                "required": ["items"],
                "x-kubernetes-group-version-kind": [gvk_value(r.group, r.version, &r.list_kind())],
            }),
        );
        kinds.insert(list_key, list_name);
    }

    apply_list_extensions(&mut defs);

    // Paths, grouped by the v3 document they belong to.
    let mut docs: BTreeMap<String, Vec<PathSpec>> = BTreeMap::new();
    for (g, v) in &served_gvs {
        let doc = gv_doc_path(g, v);
        let mut paths = vec![api_resources_path(g, v)];
        for r in CATALOGUE
            .iter()
            .filter(|r| r.group == *g && r.version == *v)
        {
            resource_paths(r, &kinds, &mut paths);
        }
        docs.insert(doc, paths);
    }
    docs.insert(
        "api".into(),
        vec![root_path(
            "/api/",
            "getCoreAPIVersions",
            "core",
            "APIVersions",
            "available API versions",
        )],
    );
    docs.insert(
        "apis".into(),
        vec![root_path(
            "/apis/",
            "getAPIVersions",
            "apis",
            "APIGroupList",
            "available API groups",
        )],
    );
    let mut groups: Vec<&str> = Vec::new();
    for (g, _) in &served_gvs {
        if !g.is_empty() && !groups.contains(g) {
            groups.push(g);
        }
    }
    for g in groups {
        let id = format!("get{}APIGroup", camel(&group_words(g), true));
        let tag = camel(&group_words(g), false);
        docs.insert(
            format!("apis/{g}"),
            vec![root_path(
                &format!("/apis/{g}/"),
                &id,
                &tag,
                "APIGroup",
                "information of a group",
            )],
        );
    }
    docs.insert(
        "version".into(),
        vec![PathSpec {
            path: "/version/".into(),
            params: vec![],
            ops: vec![OpSpec {
                method: "get",
                id: "getCodeVersion".into(),
                description: "Returns the version of the server's code.".into(),
                action: None,
                gvk: None,
                params: vec![],
                body: Body::None,
                responses: vec![
                    (200, Resp::Object(DEF_VERSION_INFO.into())),
                    (401, Resp::Empty),
                ],
                produces: &["application/json"],
                tag: "version".into(),
            }],
        }],
    );

    // Reference closure per definition (for trimming v3 components).
    let mut direct_refs: HashMap<&str, Vec<String>> = HashMap::new();
    for (name, schema) in &defs {
        let mut refs = BTreeSet::new();
        collect_refs(schema, V2_REF, &mut refs);
        direct_refs.insert(name.as_str(), refs.into_iter().collect());
    }

    // v3 definitions, serialized once.
    let v3_defs: HashMap<&str, String> = defs
        .iter()
        .map(|(name, schema)| {
            let converted = if name == DEF_QUANTITY {
                json!({
                    "description": schema.get("description").cloned().unwrap_or(Value::Null),
                    "oneOf": [{ "type": "string" }, { "type": "number" }],
                })
            } else {
                schema_to_v3(schema)
            };
            let s = serde_json::to_string(&converted).unwrap_or_else(|_| "{}".into());
            (name.as_str(), s)
        })
        .collect();

    let mut v3 = BTreeMap::new();
    let mut all_v2_paths: BTreeMap<String, Value> = BTreeMap::new();
    for (doc, paths) in &docs {
        let mut v3_paths = Map::new();
        let mut sorted: Vec<&PathSpec> = paths.iter().collect();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
        for p in sorted {
            v3_paths.insert(p.path.clone(), p.to_v3());
            all_v2_paths.insert(p.path.clone(), p.to_v2());
        }
        let paths_value = Value::Object(v3_paths);
        let mut roots = BTreeSet::new();
        collect_refs(&paths_value, V3_REF, &mut roots);
        let needed = closure(roots, &direct_refs);
        let mut out = String::with_capacity(4096 + needed.len() * 2048);
        out.push_str(r#"{"openapi":"3.0.0","info":{"title":"Kubernetes","version":""#);
        out.push_str(INFO_VERSION);
        out.push_str(r#""},"paths":"#);
        out.push_str(&serde_json::to_string(&paths_value).unwrap_or_else(|_| "{}".into()));
        out.push_str(r#","components":{"schemas":{"#);
        for (i, name) in needed.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(name).unwrap_or_default());
            out.push(':');
            out.push_str(
                v3_defs
                    .get(name.as_str())
                    .map(String::as_str)
                    .unwrap_or("{}"),
            );
        }
        out.push_str(r#"},"securitySchemes":{"BearerToken":{"description":"Bearer Token authentication","in":"header","name":"authorization","type":"apiKey"}}},"security":[{"BearerToken":[]}]}"#);
        let bytes = out.into_bytes();
        let hash = doc_hash(&bytes);
        v3.insert(doc.clone(), (bytes, hash));
    }

    // v2: one document with everything.
    let mut out = String::with_capacity(4 << 20);
    out.push_str(r#"{"swagger":"2.0","info":{"title":"Kubernetes","version":""#);
    out.push_str(INFO_VERSION);
    out.push_str(r#""},"paths":"#);
    out.push_str(&serde_json::to_string(&all_v2_paths).unwrap_or_else(|_| "{}".into()));
    out.push_str(r#","definitions":"#);
    out.push_str(&serde_json::to_string(&defs).unwrap_or_else(|_| "{}".into()));
    out.push_str(r#","securityDefinitions":{"BearerToken":{"description":"Bearer Token authentication","in":"header","name":"authorization","type":"apiKey"}},"security":[{"BearerToken":[]}]}"#);
    let v2 = out.into_bytes();
    let v2_hash = doc_hash(&v2);
    let v2_pb = pb::document(&all_v2_paths, &defs);

    OpenApi {
        v2,
        v2_hash,
        v2_pb,
        v3,
        definitions: defs.into_iter().collect(),
        kinds,
    }
}

/// Served group-versions, core first, then in catalogue order.
fn served_group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    for r in CATALOGUE.iter().filter(|r| r.group.is_empty()) {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    for r in CATALOGUE.iter().filter(|r| !r.group.is_empty()) {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}

fn gv_doc_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn gv_url_prefix(group: &str, version: &str) -> String {
    format!("/{}", gv_doc_path(group, version))
}

fn ref_target<'a>(schema: &'a Value, prefix: &str) -> Option<&'a str> {
    schema.get("$ref")?.as_str()?.strip_prefix(prefix)
}

fn add_gvk(defs: &mut BTreeMap<String, Value>, name: &str, gvk: Value) {
    let Some(Value::Object(def)) = defs.get_mut(name) else {
        return;
    };
    let entry = def
        .entry("x-kubernetes-group-version-kind")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = entry {
        if !list.contains(&gvk) {
            list.push(gvk);
        }
    }
}

/// The `apiVersion` and `kind` property schemas of ordinary kinds (taken from
/// a generated kind so list kinds say the same thing).
fn type_meta_properties(defs: &BTreeMap<String, Value>) -> (Value, Value) {
    let from = defs
        .get(&format!("{CORE}ConfigMap"))
        .and_then(|d| d.get("properties"));
    let get = |k: &str| {
        from.and_then(|p| p.get(k))
            .cloned()
            .unwrap_or_else(|| json!({ "type": "string" }))
    };
    (get("apiVersion"), get("kind"))
}

/// Reshapes the definitions whose k8s-openapi schemas use JSON-Schema forms
/// (`x-kubernetes-int-or-string`, `oneOf`) into what upstream publishes in
/// Swagger 2.0. The v3 forms are produced by [`schema_to_v3`].
fn fix_special_types(defs: &mut BTreeMap<String, Value>) {
    let description = |defs: &BTreeMap<String, Value>, name: &str| {
        defs.get(name)
            .and_then(|d| d.get("description"))
            .cloned()
            .unwrap_or(Value::String(String::new()))
    };
    if defs.contains_key(DEF_INT_OR_STRING) {
        let d = description(defs, DEF_INT_OR_STRING);
        defs.insert(
            DEF_INT_OR_STRING.into(),
            json!({ "description": d, "format": "int-or-string", "type": "string" }),
        );
    }
    if defs.contains_key(DEF_QUANTITY) {
        let d = description(defs, DEF_QUANTITY);
        defs.insert(
            DEF_QUANTITY.into(),
            json!({ "description": d, "type": "string" }),
        );
    }
    for opaque in [
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray",
    ] {
        if let Some(Value::Object(def)) = defs.get_mut(opaque) {
            def.retain(|k, _| k == "description");
        }
    }
}

fn apply_list_extensions(defs: &mut BTreeMap<String, Value>) {
    for e in LIST_EXTENSIONS {
        let Some(Value::Object(prop)) = defs
            .get_mut(e.definition)
            .and_then(|d| d.get_mut("properties"))
            .and_then(|p| p.get_mut(e.property))
        else {
            continue;
        };
        if !e.map_keys.is_empty() {
            prop.insert("x-kubernetes-list-map-keys".into(), json!(e.map_keys));
        }
        if let Some(t) = e.list_type {
            prop.insert("x-kubernetes-list-type".into(), json!(t));
        }
        if let Some(k) = e.merge_key {
            prop.insert("x-kubernetes-patch-merge-key".into(), json!(k));
        }
        if let Some(s) = e.patch_strategy {
            prop.insert("x-kubernetes-patch-strategy".into(), json!(s));
        }
    }
}

/// Collects the definition names referenced anywhere under `v` (references
/// starting with `prefix`).
fn collect_refs(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                if k == "$ref" {
                    if let Some(name) = x.as_str().and_then(|s| s.strip_prefix(prefix)) {
                        out.insert(name.to_string());
                    }
                } else {
                    collect_refs(x, prefix, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|x| collect_refs(x, prefix, out)),
        _ => {}
    }
}

fn closure(roots: BTreeSet<String>, direct: &HashMap<&str, Vec<String>>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<String> = roots.into_iter().collect();
    while let Some(name) = stack.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(refs) = direct.get(name.as_str()) {
            stack.extend(refs.iter().filter(|r| !seen.contains(*r)).cloned());
        }
    }
    seen
}

/// Converts a Swagger 2.0 schema to its OpenAPI 3.0 form: references point at
/// `#/components/schemas/`, a reference with sibling keywords becomes
/// `allOf: [{$ref}]` plus the siblings, and the int-or-string / quantity
/// scalars become `oneOf`s as upstream publishes them.
fn schema_to_v3(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    if let Some(r) = map.get("$ref").and_then(Value::as_str) {
        let target = match r.strip_prefix(V2_REF) {
            Some(name) => format!("{V3_REF}{name}"),
            None => r.to_string(),
        };
        if map.len() == 1 {
            return json!({ "$ref": target });
        }
        let mut out = Map::new();
        out.insert("allOf".into(), json!([{ "$ref": target }]));
        for (k, v) in map.iter().filter(|(k, _)| k.as_str() != "$ref") {
            out.insert(k.clone(), v.clone());
        }
        return Value::Object(out);
    }
    if map.get("format").and_then(Value::as_str) == Some("int-or-string") {
        let mut out = map.clone();
        out.remove("type");
        out.insert(
            "oneOf".into(),
            json!([{ "type": "integer" }, { "type": "string" }]),
        );
        return Value::Object(out);
    }
    let mut out = Map::with_capacity(map.len());
    for (k, v) in map {
        let converted = match k.as_str() {
            "properties" => match v {
                Value::Object(props) => Value::Object(
                    props
                        .iter()
                        .map(|(name, s)| (name.clone(), schema_to_v3(s)))
                        .collect(),
                ),
                other => other.clone(),
            },
            "items" | "additionalProperties" | "not" => schema_to_v3(v),
            "allOf" | "oneOf" | "anyOf" => match v {
                Value::Array(list) => Value::Array(list.iter().map(schema_to_v3).collect()),
                other => other.clone(),
            },
            _ => v.clone(),
        };
        out.insert(k.clone(), converted);
    }
    Value::Object(out)
}

/// Upper-case hex of a 128-bit FNV-1a style hash (two independent lanes).
fn doc_hash(bytes: &[u8]) -> String {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142 ^ (bytes.len() as u64);
    for &x in bytes {
        a = (a ^ u64::from(x)).wrapping_mul(0x0000_0100_0000_01b3);
        b = (b ^ u64::from(x)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        b ^= b >> 29;
    }
    format!("{a:016X}{b:016X}")
}

// ---------------------------------------------------------------------------
// Swagger 2.0 as protobuf
// ---------------------------------------------------------------------------

/// Encodes the Swagger 2.0 document in gnostic's `openapi.v2` protobuf
/// messages (`Document`, `PathItem`, `Operation`, `Schema`, ...). Only what
/// this module emits is covered; vendor extensions travel as `Any.yaml`
/// holding JSON text, which YAML parsers read unchanged.
mod pb {
    use std::collections::BTreeMap;

    use serde_json::Value;

    #[derive(Default)]
    struct Writer(Vec<u8>);

    impl Writer {
        fn varint(&mut self, mut v: u64) {
            while v >= 0x80 {
                self.0.push((v as u8 & 0x7f) | 0x80);
                v >>= 7;
            }
            self.0.push(v as u8);
        }

        fn key(&mut self, field: u32, wire: u8) {
            self.varint((u64::from(field) << 3) | u64::from(wire));
        }

        /// A string, also when empty (for repeated fields and map keys).
        fn str_always(&mut self, field: u32, s: &str) {
            self.key(field, 2);
            self.varint(s.len() as u64);
            self.0.extend_from_slice(s.as_bytes());
        }

        fn str(&mut self, field: u32, s: &str) {
            if !s.is_empty() {
                self.str_always(field, s);
            }
        }

        fn boolean(&mut self, field: u32, b: bool) {
            if b {
                self.key(field, 0);
                self.varint(1);
            }
        }

        fn int(&mut self, field: u32, v: i64) {
            if v != 0 {
                self.key(field, 0);
                self.varint(v as u64);
            }
        }

        fn double(&mut self, field: u32, v: f64) {
            if v != 0.0 {
                self.key(field, 1);
                self.0.extend_from_slice(&v.to_bits().to_le_bytes());
            }
        }

        fn message(&mut self, field: u32, f: impl FnOnce(&mut Writer)) {
            let mut inner = Writer::default();
            f(&mut inner);
            self.key(field, 2);
            self.varint(inner.0.len() as u64);
            self.0.extend_from_slice(&inner.0);
        }

        /// `Any { yaml }` holding `v` as JSON text.
        fn any(&mut self, field: u32, v: &Value) {
            let text = serde_json::to_string(v).unwrap_or_default();
            self.message(field, |a| a.str_always(2, &text));
        }

        /// `NamedAny { name, value: Any { yaml } }`.
        fn named_any(&mut self, field: u32, name: &str, v: &Value) {
            self.message(field, |n| {
                n.str_always(1, name);
                n.any(2, v);
            });
        }

        fn strings(&mut self, field: u32, v: Option<&Value>) {
            for s in v.and_then(Value::as_array).into_iter().flatten() {
                if let Some(s) = s.as_str() {
                    self.str_always(field, s);
                }
            }
        }

        fn extensions(&mut self, field: u32, map: &serde_json::Map<String, Value>) {
            for (k, v) in map.iter().filter(|(k, _)| k.starts_with("x-")) {
                self.named_any(field, k, v);
            }
        }
    }

    fn text<'a>(v: &'a Value, key: &str) -> &'a str {
        v.get(key).and_then(Value::as_str).unwrap_or("")
    }

    fn flag(v: &Value, key: &str) -> bool {
        v.get(key).and_then(Value::as_bool).unwrap_or(false)
    }

    /// `openapi.v2.Schema`.
    fn schema(w: &mut Writer, s: &Value) {
        let Value::Object(map) = s else {
            return;
        };
        for (k, v) in map {
            match k.as_str() {
                "$ref" => w.str(1, v.as_str().unwrap_or("")),
                "format" => w.str(2, v.as_str().unwrap_or("")),
                "title" => w.str(3, v.as_str().unwrap_or("")),
                "description" => w.str(4, v.as_str().unwrap_or("")),
                "default" => w.any(5, v),
                "multipleOf" => w.double(6, v.as_f64().unwrap_or(0.0)),
                "maximum" => w.double(7, v.as_f64().unwrap_or(0.0)),
                "exclusiveMaximum" => w.boolean(8, v.as_bool().unwrap_or(false)),
                "minimum" => w.double(9, v.as_f64().unwrap_or(0.0)),
                "exclusiveMinimum" => w.boolean(10, v.as_bool().unwrap_or(false)),
                "maxLength" => w.int(11, v.as_i64().unwrap_or(0)),
                "minLength" => w.int(12, v.as_i64().unwrap_or(0)),
                "pattern" => w.str(13, v.as_str().unwrap_or("")),
                "maxItems" => w.int(14, v.as_i64().unwrap_or(0)),
                "minItems" => w.int(15, v.as_i64().unwrap_or(0)),
                "uniqueItems" => w.boolean(16, v.as_bool().unwrap_or(false)),
                "maxProperties" => w.int(17, v.as_i64().unwrap_or(0)),
                "minProperties" => w.int(18, v.as_i64().unwrap_or(0)),
                "required" => w.strings(19, Some(v)),
                "enum" => {
                    for e in v.as_array().into_iter().flatten() {
                        w.any(20, e);
                    }
                }
                "additionalProperties" => w.message(21, |a| match v {
                    Value::Bool(b) => {
                        a.key(2, 0);
                        a.varint(u64::from(*b));
                    }
                    other => a.message(1, |s| schema(s, other)),
                }),
                "type" => w.message(22, |t| match v {
                    Value::String(s) => t.str_always(1, s),
                    other => t.strings(1, Some(other)),
                }),
                "items" => w.message(23, |i| match v {
                    Value::Array(list) => list.iter().for_each(|x| i.message(1, |s| schema(s, x))),
                    other => i.message(1, |s| schema(s, other)),
                }),
                "allOf" => {
                    for x in v.as_array().into_iter().flatten() {
                        w.message(24, |s| schema(s, x));
                    }
                }
                "properties" => w.message(25, |p| {
                    for (name, x) in v.as_object().into_iter().flatten() {
                        p.message(1, |n| {
                            n.str_always(1, name);
                            n.message(2, |s| schema(s, x));
                        });
                    }
                }),
                "discriminator" => w.str(26, v.as_str().unwrap_or("")),
                "readOnly" => w.boolean(27, v.as_bool().unwrap_or(false)),
                "externalDocs" => w.message(29, |d| {
                    d.str(1, text(v, "description"));
                    d.str(2, text(v, "url"));
                }),
                "example" => w.any(30, v),
                _ => {}
            }
        }
        w.extensions(31, map);
    }

    /// `openapi.v2.ParametersItem`.
    fn parameter(w: &mut Writer, p: &Value) {
        w.message(1, |param| {
            if text(p, "in") == "body" {
                param.message(1, |b| {
                    b.str(1, text(p, "description"));
                    b.str(2, text(p, "name"));
                    b.str(3, "body");
                    b.boolean(4, flag(p, "required"));
                    if let Some(s) = p.get("schema") {
                        b.message(5, |x| schema(x, s));
                    }
                });
                return;
            }
            param.message(2, |nb| {
                // Query (3) and path (4) sub-schemas share the first fields;
                // type, format and uniqueItems sit one number lower in the
                // path variant, which lacks allowEmptyValue.
                let (which, ty, format, unique) = if text(p, "in") == "path" {
                    (4, 5, 6, 19)
                } else {
                    (3, 6, 7, 20)
                };
                nb.message(which, |q| {
                    q.boolean(1, flag(p, "required"));
                    q.str(2, text(p, "in"));
                    q.str(3, text(p, "description"));
                    q.str(4, text(p, "name"));
                    q.str(ty, text(p, "type"));
                    q.str(format, text(p, "format"));
                    q.boolean(unique, flag(p, "uniqueItems"));
                });
            });
        });
    }

    /// `openapi.v2.Operation`.
    fn operation(w: &mut Writer, op: &Value) {
        w.strings(1, op.get("tags"));
        w.str(3, text(op, "description"));
        w.str(5, text(op, "operationId"));
        w.strings(6, op.get("produces"));
        w.strings(7, op.get("consumes"));
        for p in op
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            w.message(8, |item| parameter(item, p));
        }
        if let Some(responses) = op.get("responses").and_then(Value::as_object) {
            w.message(9, |rs| {
                for (code, r) in responses {
                    rs.message(1, |named| {
                        named.str_always(1, code);
                        named.message(2, |value| {
                            value.message(1, |resp| {
                                resp.str(1, text(r, "description"));
                                if let Some(s) = r.get("schema") {
                                    resp.message(2, |item| item.message(1, |x| schema(x, s)));
                                }
                            });
                        });
                    });
                }
            });
        }
        w.strings(10, op.get("schemes"));
        if let Some(map) = op.as_object() {
            w.extensions(13, map);
        }
    }

    /// `openapi.v2.PathItem`.
    fn path_item(w: &mut Writer, item: &Value) {
        for (method, field) in [
            ("get", 2),
            ("put", 3),
            ("post", 4),
            ("delete", 5),
            ("options", 6),
            ("head", 7),
            ("patch", 8),
        ] {
            if let Some(op) = item.get(method) {
                w.message(field, |o| operation(o, op));
            }
        }
        for p in item
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            w.message(9, |x| parameter(x, p));
        }
    }

    /// The whole `openapi.v2.Document`.
    pub(super) fn document(
        paths: &BTreeMap<String, Value>,
        defs: &BTreeMap<String, Value>,
    ) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(2 << 20));
        w.str(1, "2.0");
        w.message(2, |info| {
            info.str(1, "Kubernetes");
            info.str(2, super::INFO_VERSION);
        });
        w.message(8, |ps| {
            for (path, item) in paths {
                ps.message(2, |named| {
                    named.str_always(1, path);
                    named.message(2, |x| path_item(x, item));
                });
            }
        });
        w.message(9, |ds| {
            for (name, s) in defs {
                ds.message(1, |named| {
                    named.str_always(1, name);
                    named.message(2, |x| schema(x, s));
                });
            }
        });
        // security: [{BearerToken: []}]
        w.message(12, |req| {
            req.message(1, |named| {
                named.str_always(1, "BearerToken");
                named.message(2, |_| {});
            });
        });
        // securityDefinitions: BearerToken as an API key in the authorization header.
        w.message(13, |defs| {
            defs.message(1, |named| {
                named.str_always(1, "BearerToken");
                named.message(2, |item| {
                    item.message(2, |k| {
                        k.str(1, "apiKey");
                        k.str(2, "authorization");
                        k.str(3, "header");
                        k.str(4, "Bearer Token authentication");
                    });
                });
            });
        });
        w.0
    }
}

// ---------------------------------------------------------------------------
// Paths and operations
// ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Loc {
    Path,
    Query,
}

#[derive(Clone, Copy)]
struct Param {
    name: &'static str,
    loc: Loc,
    ty: &'static str,
    description: &'static str,
}

const fn q(name: &'static str, ty: &'static str, description: &'static str) -> Param {
    Param {
        name,
        loc: Loc::Query,
        ty,
        description,
    }
}

const P_PRETTY: Param = q(
    "pretty",
    "string",
    "If 'true', the output is pretty-printed.",
);
const P_DRY_RUN: Param = q(
    "dryRun",
    "string",
    "When present, the request is processed but nothing is persisted. The only accepted value is 'All'.",
);
const P_FIELD_MANAGER: Param = q(
    "fieldManager",
    "string",
    "Name of the actor making the change, recorded in managedFields. At most 128 printable characters.",
);
const P_FIELD_MANAGER_APPLY: Param = q(
    "fieldManager",
    "string",
    "Name of the actor making the change, recorded in managedFields. Required for apply patches; optional otherwise.",
);
const P_FIELD_VALIDATION: Param = q(
    "fieldValidation",
    "string",
    "How to treat unknown or duplicate fields in the request body: 'Ignore' drops them, 'Warn' drops them and returns a warning per field, 'Strict' fails the request.",
);
const P_FORCE: Param = q(
    "force",
    "boolean",
    "For apply patches only: take ownership of fields other managers own instead of failing with a conflict.",
);
const P_ALLOW_WATCH_BOOKMARKS: Param = q(
    "allowWatchBookmarks",
    "boolean",
    "Ask for BOOKMARK events in a watch. The server may send them at its discretion.",
);
const P_CONTINUE: Param = q(
    "continue",
    "string",
    "The continue token of a previous paginated list response, to fetch the next page.",
);
const P_FIELD_SELECTOR: Param = q(
    "fieldSelector",
    "string",
    "Restricts the result to objects whose fields match. Defaults to everything.",
);
const P_LABEL_SELECTOR: Param = q(
    "labelSelector",
    "string",
    "Restricts the result to objects whose labels match. Defaults to everything.",
);
const P_LIMIT: Param = q(
    "limit",
    "integer",
    "Maximum number of items to return in one page; the response carries a continue token when more remain.",
);
const P_RESOURCE_VERSION: Param = q(
    "resourceVersion",
    "string",
    "Constrains which resource versions a list or watch may be served from; see resourceVersionMatch.",
);
const P_RESOURCE_VERSION_MATCH: Param = q(
    "resourceVersionMatch",
    "string",
    "How resourceVersion applies to a list: 'NotOlderThan' or 'Exact'.",
);
const P_SEND_INITIAL_EVENTS: Param = q(
    "sendInitialEvents",
    "boolean",
    "With watch=true, start the stream with synthetic ADDED events for the current state, followed by a bookmark.",
);
const P_TIMEOUT_SECONDS: Param = q(
    "timeoutSeconds",
    "integer",
    "Upper bound on the duration of a list or watch call.",
);
const P_WATCH: Param = q(
    "watch",
    "boolean",
    "Stream add, update and remove notifications instead of returning a list.",
);
const P_GRACE_PERIOD: Param = q(
    "gracePeriodSeconds",
    "integer",
    "Seconds before the object is deleted; zero means immediately. Defaults to the kind's own default.",
);
const P_IGNORE_STORE_READ_ERROR: Param = q(
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "boolean",
    "Delete an object that cannot be read from storage (corrupt or undecryptable). Dangerous.",
);
const P_ORPHAN: Param = q(
    "orphanDependents",
    "boolean",
    "Deprecated, use propagationPolicy. Whether dependents are orphaned rather than garbage collected.",
);
const P_PROPAGATION: Param = q(
    "propagationPolicy",
    "string",
    "Garbage collection of dependents: 'Orphan', 'Background' or 'Foreground'.",
);

const LIST_PARAMS: &[Param] = &[
    P_ALLOW_WATCH_BOOKMARKS,
    P_CONTINUE,
    P_FIELD_SELECTOR,
    P_LABEL_SELECTOR,
    P_LIMIT,
    P_RESOURCE_VERSION,
    P_RESOURCE_VERSION_MATCH,
    P_SEND_INITIAL_EVENTS,
    P_TIMEOUT_SECONDS,
    P_WATCH,
];
const WRITE_PARAMS: &[Param] = &[P_DRY_RUN, P_FIELD_MANAGER, P_FIELD_VALIDATION];
const PATCH_PARAMS: &[Param] = &[
    P_DRY_RUN,
    P_FIELD_MANAGER_APPLY,
    P_FIELD_VALIDATION,
    P_FORCE,
];
const DELETE_PARAMS: &[Param] = &[
    P_DRY_RUN,
    P_GRACE_PERIOD,
    P_IGNORE_STORE_READ_ERROR,
    P_ORPHAN,
    P_PROPAGATION,
];
const DELETE_COLLECTION_PARAMS: &[Param] = &[
    P_CONTINUE,
    P_DRY_RUN,
    P_FIELD_SELECTOR,
    P_GRACE_PERIOD,
    P_IGNORE_STORE_READ_ERROR,
    P_LABEL_SELECTOR,
    P_LIMIT,
    P_ORPHAN,
    P_PROPAGATION,
    P_RESOURCE_VERSION,
    P_RESOURCE_VERSION_MATCH,
    P_SEND_INITIAL_EVENTS,
    P_TIMEOUT_SECONDS,
];
const LOG_PARAMS: &[Param] = &[
    q(
        "container",
        "string",
        "The container to stream logs of. Optional when the pod has one container.",
    ),
    q(
        "follow",
        "boolean",
        "Keep streaming as new log lines are written.",
    ),
    q(
        "insecureSkipTLSVerifyBackend",
        "boolean",
        "Do not verify the kubelet's serving certificate when fetching logs.",
    ),
    q(
        "limitBytes",
        "integer",
        "Stop after this many bytes of log output.",
    ),
    q(
        "previous",
        "boolean",
        "Return the logs of the previous, terminated instance of the container.",
    ),
    q(
        "sinceSeconds",
        "integer",
        "Only return lines newer than this many seconds.",
    ),
    q(
        "stream",
        "string",
        "Which stream to return: 'All', 'Stdout' or 'Stderr'.",
    ),
    q(
        "tailLines",
        "integer",
        "Only return this many lines from the end of the log.",
    ),
    q(
        "timestamps",
        "boolean",
        "Prefix every line with an RFC3339 timestamp.",
    ),
];
const EXEC_PARAMS: &[Param] = &[
    q(
        "command",
        "string",
        "The command to run; repeat the parameter for each argument.",
    ),
    q(
        "container",
        "string",
        "The container to run the command in.",
    ),
    q(
        "stderr",
        "boolean",
        "Redirect the command's standard error.",
    ),
    q("stdin", "boolean", "Redirect the command's standard input."),
    q(
        "stdout",
        "boolean",
        "Redirect the command's standard output.",
    ),
    q("tty", "boolean", "Allocate a terminal for the command."),
];
const ATTACH_PARAMS: &[Param] = &[
    q("container", "string", "The container to attach to."),
    q(
        "stderr",
        "boolean",
        "Attach to the container's standard error.",
    ),
    q(
        "stdin",
        "boolean",
        "Attach to the container's standard input.",
    ),
    q(
        "stdout",
        "boolean",
        "Attach to the container's standard output.",
    ),
    q("tty", "boolean", "The attached session uses a terminal."),
];
const PORTFORWARD_PARAMS: &[Param] = &[q("ports", "integer", "Pod ports to forward.")];
const PROXY_PARAMS: &[Param] = &[q(
    "path",
    "string",
    "Path to forward to the pod, node or service.",
)];

fn path_param(name: &'static str, description: &'static str) -> Param {
    Param {
        name,
        loc: Loc::Path,
        ty: "string",
        description,
    }
}

impl Param {
    /// The fields both OpenAPI versions share, in upstream's order.
    fn common(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("description".into(), json!(self.description));
        m.insert(
            "in".into(),
            json!(match self.loc {
                Loc::Path => "path",
                Loc::Query => "query",
            }),
        );
        m.insert("name".into(), json!(self.name));
        if matches!(self.loc, Loc::Path) {
            m.insert("required".into(), json!(true));
        }
        m
    }

    fn to_v2(self) -> Value {
        let mut m = self.common();
        m.insert("type".into(), json!(self.ty));
        m.insert("uniqueItems".into(), json!(true));
        Value::Object(m)
    }

    fn to_v3(self) -> Value {
        let mut m = self.common();
        m.insert(
            "schema".into(),
            json!({ "type": self.ty, "uniqueItems": true }),
        );
        Value::Object(m)
    }
}

enum Body {
    None,
    /// A kind (create, replace, subresource posts).
    Object(String),
    /// `meta.v1.Patch` in any of [`PATCH_CONTENT_TYPES`].
    Patch,
    /// Optional `DeleteOptions`.
    Delete,
}

enum Resp {
    Object(String),
    Text,
    Empty,
}

struct OpSpec {
    method: &'static str,
    id: String,
    description: String,
    action: Option<&'static str>,
    gvk: Option<Value>,
    params: Vec<Param>,
    body: Body,
    responses: Vec<(u16, Resp)>,
    produces: &'static [&'static str],
    tag: String,
}

struct PathSpec {
    path: String,
    params: Vec<Param>,
    ops: Vec<OpSpec>,
}

fn status_text(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        401 => "Unauthorized",
        _ => "",
    }
}

impl OpSpec {
    fn to_v2(&self) -> Value {
        let mut m = Map::new();
        let consumes: &[&str] = match self.body {
            Body::Patch => PATCH_CONTENT_TYPES,
            _ => ANY,
        };
        m.insert("consumes".into(), json!(consumes));
        m.insert("description".into(), json!(self.description));
        m.insert("operationId".into(), json!(self.id));
        let mut params: Vec<Value> = Vec::new();
        match &self.body {
            Body::None => {}
            Body::Object(def) => params.push(json!({
                "in": "body", "name": "body", "required": true, "schema": v2_ref(def),
            })),
            Body::Patch => params.push(json!({
                "in": "body", "name": "body", "required": true, "schema": v2_ref(DEF_PATCH),
            })),
            Body::Delete => params.push(json!({
                "in": "body", "name": "body", "schema": v2_ref(DEF_DELETE_OPTIONS),
            })),
        }
        params.extend(self.params.iter().map(|p| p.to_v2()));
        if !params.is_empty() {
            m.insert("parameters".into(), Value::Array(params));
        }
        m.insert("produces".into(), json!(self.produces));
        let mut responses = Map::new();
        for (code, resp) in &self.responses {
            let mut r = Map::new();
            r.insert("description".into(), json!(status_text(*code)));
            match resp {
                Resp::Object(def) => {
                    r.insert("schema".into(), v2_ref(def));
                }
                Resp::Text => {
                    r.insert("schema".into(), json!({ "type": "string" }));
                }
                Resp::Empty => {}
            }
            responses.insert(code.to_string(), Value::Object(r));
        }
        m.insert("responses".into(), Value::Object(responses));
        m.insert("schemes".into(), json!(["https"]));
        m.insert("tags".into(), json!([self.tag]));
        if let Some(a) = self.action {
            m.insert("x-kubernetes-action".into(), json!(a));
        }
        if let Some(g) = &self.gvk {
            m.insert("x-kubernetes-group-version-kind".into(), g.clone());
        }
        Value::Object(m)
    }

    fn to_v3(&self) -> Value {
        let v3_ref = |def: &str| json!({ "$ref": format!("{V3_REF}{def}") });
        let mut m = Map::new();
        m.insert("description".into(), json!(self.description));
        m.insert("operationId".into(), json!(self.id));
        if !self.params.is_empty() {
            m.insert(
                "parameters".into(),
                Value::Array(self.params.iter().map(|p| p.to_v3()).collect()),
            );
        }
        match &self.body {
            Body::None => {}
            Body::Object(def) => {
                m.insert(
                    "requestBody".into(),
                    json!({ "content": { "*/*": { "schema": v3_ref(def) } }, "required": true }),
                );
            }
            Body::Patch => {
                let mut content = Map::new();
                for t in PATCH_CONTENT_TYPES {
                    content.insert((*t).into(), json!({ "schema": v3_ref(DEF_PATCH) }));
                }
                m.insert(
                    "requestBody".into(),
                    json!({ "content": content, "required": true }),
                );
            }
            Body::Delete => {
                m.insert(
                    "requestBody".into(),
                    json!({ "content": { "*/*": { "schema": v3_ref(DEF_DELETE_OPTIONS) } } }),
                );
            }
        }
        let mut responses = Map::new();
        for (code, resp) in &self.responses {
            let mut r = Map::new();
            let schema = match resp {
                Resp::Object(def) => Some(v3_ref(def)),
                Resp::Text => Some(json!({ "type": "string" })),
                Resp::Empty => None,
            };
            if let Some(schema) = schema {
                let mut content = Map::new();
                for t in self.produces {
                    content.insert((*t).into(), json!({ "schema": schema }));
                }
                r.insert("content".into(), Value::Object(content));
            }
            r.insert("description".into(), json!(status_text(*code)));
            responses.insert(code.to_string(), Value::Object(r));
        }
        m.insert("responses".into(), Value::Object(responses));
        m.insert("tags".into(), json!([self.tag]));
        if let Some(a) = self.action {
            m.insert("x-kubernetes-action".into(), json!(a));
        }
        if let Some(g) = &self.gvk {
            m.insert("x-kubernetes-group-version-kind".into(), g.clone());
        }
        Value::Object(m)
    }
}

impl PathSpec {
    fn render(&self, v3: bool) -> Value {
        let mut ops: BTreeMap<&str, Value> = BTreeMap::new();
        for op in &self.ops {
            ops.insert(op.method, if v3 { op.to_v3() } else { op.to_v2() });
        }
        let mut m = Map::new();
        for (method, op) in ops {
            m.insert(method.into(), op);
        }
        if !self.params.is_empty() {
            let params = self
                .params
                .iter()
                .map(|p| if v3 { p.to_v3() } else { p.to_v2() })
                .collect();
            m.insert("parameters".into(), Value::Array(params));
        }
        Value::Object(m)
    }

    fn to_v2(&self) -> Value {
        self.render(false)
    }

    fn to_v3(&self) -> Value {
        self.render(true)
    }
}

/// `rbac.authorization.k8s.io` -> `["rbac", "authorization"]`; core -> `["core"]`.
fn group_words(group: &str) -> Vec<String> {
    if group.is_empty() {
        return vec!["core".into()];
    }
    group
        .trim_end_matches(".k8s.io")
        .split(['.', '-'])
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn camel(words: &[String], upper_first: bool) -> String {
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == 0 && !upper_first {
                w.clone()
            } else {
                capitalize(w)
            }
        })
        .collect()
}

/// `CoreV1`, `AppsV1`, `RbacAuthorizationV1`: the operation id infix.
fn op_prefix(group: &str, version: &str) -> String {
    format!(
        "{}{}",
        camel(&group_words(group), true),
        capitalize(version)
    )
}

/// `core_v1`, `apps_v1`, `rbacAuthorization_v1`: the operation tag.
fn op_tag(group: &str, version: &str) -> String {
    format!("{}_{version}", camel(&group_words(group), false))
}

fn root_path(path: &str, id: &str, tag: &str, kind_def: &str, what: &str) -> PathSpec {
    PathSpec {
        path: path.into(),
        params: vec![],
        ops: vec![OpSpec {
            method: "get",
            id: id.into(),
            description: format!("Returns the {what}."),
            action: None,
            gvk: None,
            params: vec![],
            body: Body::None,
            responses: vec![
                (200, Resp::Object(format!("{META}{kind_def}"))),
                (401, Resp::Empty),
            ],
            produces: OBJECT_PRODUCES,
            tag: tag.into(),
        }],
    }
}

fn api_resources_path(group: &str, version: &str) -> PathSpec {
    root_path(
        &format!("{}/", gv_url_prefix(group, version)),
        &format!("get{}APIResources", op_prefix(group, version)),
        &op_tag(group, version),
        "APIResourceList",
        "resources available in this group version",
    )
}

/// Adds the paths of one catalogue resource (collection, item, all-namespaces
/// list, subresources) to `out`.
fn resource_paths(r: &ResourceInfo, kinds: &HashMap<String, String>, out: &mut Vec<PathSpec>) {
    let Some(def) = kinds.get(&gvk_key(r.group, r.version, r.kind)).cloned() else {
        return;
    };
    let list_def = kinds
        .get(&gvk_key(r.group, r.version, &r.list_kind()))
        .cloned();
    let prefix = gv_url_prefix(r.group, r.version);
    let opp = op_prefix(r.group, r.version);
    let tag = op_tag(r.group, r.version);
    let ns_word = if r.namespaced { "Namespaced" } else { "" };
    let kind = r.kind;
    let gvk = gvk_value(r.group, r.version, r.kind);
    let collection = if r.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
    } else {
        format!("{prefix}/{}", r.plural)
    };
    let item = format!("{collection}/{{name}}");
    let ns_param = path_param(
        "namespace",
        "Object name and auth scope, such as for teams and projects.",
    );
    let name_param = path_param("name", "Name of the object.");
    let scope_params = |with_name: bool, pretty: bool| {
        let mut v = Vec::new();
        if with_name {
            v.push(name_param);
        }
        if r.namespaced {
            v.push(ns_param);
        }
        if pretty {
            v.push(P_PRETTY);
        }
        v
    };
    let op = |method: &'static str,
              id: String,
              description: String,
              action: &'static str,
              gvk: &Value,
              params: &[Param],
              body: Body,
              responses: Vec<(u16, Resp)>,
              produces: &'static [&'static str]| OpSpec {
        method,
        id,
        description,
        action: Some(action),
        gvk: Some(gvk.clone()),
        params: params.to_vec(),
        body,
        responses,
        produces,
        tag: tag.clone(),
    };
    let obj = |d: &str| Resp::Object(d.to_string());

    // Collection.
    let mut coll_ops = Vec::new();
    if r.has_verb("list") {
        if let Some(list_def) = &list_def {
            coll_ops.push(op(
                "get",
                format!("list{opp}{ns_word}{kind}"),
                format!("List or watch {kind} objects."),
                "list",
                &gvk,
                LIST_PARAMS,
                Body::None,
                vec![(200, obj(list_def)), (401, Resp::Empty)],
                LIST_PRODUCES,
            ));
        }
    }
    if r.has_verb("create") {
        coll_ops.push(op(
            "post",
            format!("create{opp}{ns_word}{kind}"),
            format!("Create a {kind}."),
            "post",
            &gvk,
            WRITE_PARAMS,
            Body::Object(def.clone()),
            vec![
                (200, obj(&def)),
                (201, obj(&def)),
                (202, obj(&def)),
                (401, Resp::Empty),
            ],
            OBJECT_PRODUCES,
        ));
    }
    if r.has_verb("deletecollection") {
        coll_ops.push(op(
            "delete",
            format!("delete{opp}Collection{ns_word}{kind}"),
            format!("Delete a collection of {kind} objects."),
            "deletecollection",
            &gvk,
            DELETE_COLLECTION_PARAMS,
            Body::Delete,
            vec![(200, obj(DEF_STATUS)), (401, Resp::Empty)],
            OBJECT_PRODUCES,
        ));
    }
    if !coll_ops.is_empty() {
        out.push(PathSpec {
            path: collection.clone(),
            params: scope_params(false, true),
            ops: coll_ops,
        });
    }

    // Item.
    let mut item_ops = Vec::new();
    if r.has_verb("get") {
        item_ops.push(op(
            "get",
            format!("read{opp}{ns_word}{kind}"),
            format!("Read the specified {kind}."),
            "get",
            &gvk,
            &[],
            Body::None,
            vec![(200, obj(&def)), (401, Resp::Empty)],
            OBJECT_PRODUCES,
        ));
    }
    if r.has_verb("update") {
        item_ops.push(op(
            "put",
            format!("replace{opp}{ns_word}{kind}"),
            format!("Replace the specified {kind}."),
            "put",
            &gvk,
            WRITE_PARAMS,
            Body::Object(def.clone()),
            vec![(200, obj(&def)), (201, obj(&def)), (401, Resp::Empty)],
            OBJECT_PRODUCES,
        ));
    }
    if r.has_verb("patch") {
        item_ops.push(op(
            "patch",
            format!("patch{opp}{ns_word}{kind}"),
            format!("Partially update the specified {kind}."),
            "patch",
            &gvk,
            PATCH_PARAMS,
            Body::Patch,
            vec![(200, obj(&def)), (201, obj(&def)), (401, Resp::Empty)],
            OBJECT_PRODUCES,
        ));
    }
    if r.has_verb("delete") {
        item_ops.push(op(
            "delete",
            format!("delete{opp}{ns_word}{kind}"),
            format!("Delete the specified {kind}."),
            "delete",
            &gvk,
            DELETE_PARAMS,
            Body::Delete,
            vec![
                (200, obj(DEF_STATUS)),
                (202, obj(DEF_STATUS)),
                (401, Resp::Empty),
            ],
            OBJECT_PRODUCES,
        ));
    }
    if !item_ops.is_empty() {
        out.push(PathSpec {
            path: item.clone(),
            params: scope_params(true, true),
            ops: item_ops,
        });
    }

    // All namespaces.
    if r.namespaced && r.has_verb("list") {
        if let Some(list_def) = &list_def {
            out.push(PathSpec {
                path: format!("{prefix}/{}", r.plural),
                params: vec![P_PRETTY],
                ops: vec![op(
                    "get",
                    format!("list{opp}{kind}ForAllNamespaces"),
                    format!("List or watch {kind} objects across all namespaces."),
                    "list",
                    &gvk,
                    LIST_PARAMS,
                    Body::None,
                    vec![(200, obj(list_def)), (401, Resp::Empty)],
                    LIST_PRODUCES,
                )],
            });
        }
    }

    // Subresources.
    for sub in r.subresources {
        let sub_title = capitalize(sub);
        let sub_path = format!("{item}/{sub}");
        let (sub_def, sub_gvk) = match subresource_kind(sub) {
            Some((g, v, k)) => match kinds.get(&gvk_key(g, v, k)) {
                Some(d) => (d.clone(), gvk_value(g, v, k)),
                None => continue,
            },
            None => (def.clone(), gvk.clone()),
        };
        let read_write = |ops: &mut Vec<OpSpec>, get: bool, put: bool, patch: bool| {
            if get {
                ops.push(op(
                    "get",
                    format!("read{opp}{ns_word}{kind}{sub_title}"),
                    format!("Read {sub} of the specified {kind}."),
                    "get",
                    &sub_gvk,
                    &[],
                    Body::None,
                    vec![(200, obj(&sub_def)), (401, Resp::Empty)],
                    OBJECT_PRODUCES,
                ));
            }
            if put {
                ops.push(op(
                    "put",
                    format!("replace{opp}{ns_word}{kind}{sub_title}"),
                    format!("Replace {sub} of the specified {kind}."),
                    "put",
                    &sub_gvk,
                    WRITE_PARAMS,
                    Body::Object(sub_def.clone()),
                    vec![
                        (200, obj(&sub_def)),
                        (201, obj(&sub_def)),
                        (401, Resp::Empty),
                    ],
                    OBJECT_PRODUCES,
                ));
            }
            if patch {
                ops.push(op(
                    "patch",
                    format!("patch{opp}{ns_word}{kind}{sub_title}"),
                    format!("Partially update {sub} of the specified {kind}."),
                    "patch",
                    &sub_gvk,
                    PATCH_PARAMS,
                    Body::Patch,
                    vec![
                        (200, obj(&sub_def)),
                        (201, obj(&sub_def)),
                        (401, Resp::Empty),
                    ],
                    OBJECT_PRODUCES,
                ));
            }
        };
        let mut ops = Vec::new();
        let mut params = scope_params(true, true);
        match *sub {
            "status" | "scale" | "ephemeralcontainers" | "resize" | "approval" => {
                read_write(&mut ops, true, true, true)
            }
            "finalize" => read_write(&mut ops, false, true, false),
            "binding" | "eviction" | "token" => ops.push(op(
                "post",
                format!("create{opp}{ns_word}{kind}{sub_title}"),
                format!("Create {sub} of a {kind}."),
                "post",
                &sub_gvk,
                WRITE_PARAMS,
                Body::Object(sub_def.clone()),
                vec![
                    (200, obj(&sub_def)),
                    (201, obj(&sub_def)),
                    (202, obj(&sub_def)),
                    (401, Resp::Empty),
                ],
                OBJECT_PRODUCES,
            )),
            "log" => ops.push(op(
                "get",
                format!("read{opp}{ns_word}{kind}Log"),
                format!("Read the log of the specified {kind}."),
                "get",
                &gvk,
                LOG_PARAMS,
                Body::None,
                vec![(200, Resp::Text), (401, Resp::Empty)],
                TEXT_PRODUCES,
            )),
            "exec" | "attach" | "portforward" => {
                params = scope_params(true, false);
                let qp = match *sub {
                    "exec" => EXEC_PARAMS,
                    "attach" => ATTACH_PARAMS,
                    _ => PORTFORWARD_PARAMS,
                };
                let options = match *sub {
                    "exec" => "ExecOptions",
                    "attach" => "AttachOptions",
                    _ => "PortForwardOptions",
                };
                let options_gvk = gvk_value(r.group, r.version, &format!("{kind}{options}"));
                for method in ["get", "post"] {
                    ops.push(op(
                        method,
                        format!(
                            "connect{opp}{}{ns_word}{kind}{sub_title}",
                            capitalize(method)
                        ),
                        format!("Connect {method} requests to {sub} of the {kind}."),
                        "connect",
                        &options_gvk,
                        qp,
                        Body::None,
                        vec![(200, Resp::Text), (401, Resp::Empty)],
                        ANY,
                    ));
                }
            }
            "proxy" => {
                params = scope_params(true, false);
                let methods = ["delete", "get", "head", "options", "patch", "post", "put"];
                let options_gvk = gvk_value(r.group, r.version, &format!("{kind}ProxyOptions"));
                let mut with_path_ops = Vec::new();
                for method in methods {
                    ops.push(op(
                        method,
                        format!("connect{opp}{}{ns_word}{kind}Proxy", capitalize(method)),
                        format!("Connect {method} requests to the proxy of the {kind}."),
                        "connect",
                        &options_gvk,
                        PROXY_PARAMS,
                        Body::None,
                        vec![(200, Resp::Text), (401, Resp::Empty)],
                        ANY,
                    ));
                    with_path_ops.push(op(
                        method,
                        format!(
                            "connect{opp}{}{ns_word}{kind}ProxyWithPath",
                            capitalize(method)
                        ),
                        format!("Connect {method} requests to the proxy of the {kind}."),
                        "connect",
                        &options_gvk,
                        PROXY_PARAMS,
                        Body::None,
                        vec![(200, Resp::Text), (401, Resp::Empty)],
                        ANY,
                    ));
                }
                let mut with_path_params = params.clone();
                with_path_params.push(path_param("path", "Path to the resource."));
                out.push(PathSpec {
                    path: format!("{sub_path}/{{path}}"),
                    params: with_path_params,
                    ops: with_path_ops,
                });
            }
            _ => continue,
        }
        out.push(PathSpec {
            path: sub_path,
            params,
            ops,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn api() -> &'static OpenApi {
        static API: OnceLock<OpenApi> = OnceLock::new();
        API.get_or_init(build)
    }

    fn v3(path: &str) -> Value {
        let (bytes, _) = api().v3_document(path).expect(path);
        serde_json::from_slice(bytes).expect("v3 json")
    }

    #[test]
    fn unknown_fields_are_reported_with_paths() {
        let obj = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "x", "labelz": {"a": "b"}, "labels": {"a": "b"}},
            "spec": {
                "replicass": 3,
                "selector": {"matchLabels": {"app": "x"}},
                "template": {
                    "metadata": {"labels": {"app": "x"}},
                    "spec": {
                        "containers": [
                            {"name": "c", "image": "busybox", "foo": 1,
                             "resources": {"limits": {"cpu": "1"}},
                             "ports": [{"containerPort": 80, "bogus": true}]}
                        ]
                    }
                }
            },
            "status": {}
        });
        let got = api().unknown_fields("apps", "v1", "Deployment", &obj);
        assert_eq!(
            got,
            vec![
                "metadata.labelz",
                "spec.replicass",
                "spec.template.spec.containers[0].foo",
                "spec.template.spec.containers[0].ports[0].bogus",
            ]
        );
    }

    #[test]
    fn free_form_and_known_fields_pass() {
        let obj = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s", "annotations": {"x": "y"}},
            "spec": {"ports": [{"port": 80, "targetPort": "http"}], "selector": {"a": "b"}},
        });
        assert!(api().unknown_fields("", "v1", "Service", &obj).is_empty());
        let cr = json!({
            "apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": "r"}, "revision": 1,
            "data": {"anything": {"goes": [1, 2]}},
        });
        assert!(api()
            .unknown_fields("apps", "v1", "ControllerRevision", &cr)
            .is_empty());
        let top = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}, "data": {"a": "b"}, "extra": 1});
        assert_eq!(
            api().unknown_fields("", "v1", "ConfigMap", &top),
            vec!["extra"]
        );
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "foos.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "foos", "kind": "Foo"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object",
                        "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                            "items": {"anyOf": [{"type": "integer"}]}, "nope": 1}}}}}]}
        });
        assert_eq!(
            api().unknown_fields(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
                &crd
            ),
            vec!["spec.versions[0].schema.openAPIV3Schema.properties.spec.nope"]
        );
    }

    #[test]
    fn every_catalogue_kind_has_gvk_extension() {
        for r in CATALOGUE {
            let name = api()
                .definition_name(r.group, r.version, r.kind)
                .unwrap_or_else(|| panic!("no definition for {}", r.kind));
            let def = api().definition(name).unwrap();
            let gvks = def["x-kubernetes-group-version-kind"].as_array().unwrap();
            assert!(
                gvks.contains(&gvk_value(r.group, r.version, r.kind)),
                "{name} lacks its GVK"
            );
            assert!(
                !name.starts_with("io.k8s.unregistered."),
                "{} has no k8s-openapi type",
                r.kind
            );
        }
        let doc = v3("apis/apps/v1");
        let dep = &doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            dep["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
        );
        let list = &doc["components"]["schemas"]["io.k8s.api.apps.v1.DeploymentList"];
        assert_eq!(
            list["x-kubernetes-group-version-kind"][0]["kind"],
            "DeploymentList"
        );
    }

    #[test]
    fn index_lists_every_served_group_version() {
        let index = api().v3_index();
        let paths = index["paths"].as_object().unwrap();
        for (g, v) in served_group_versions() {
            let key = gv_doc_path(g, v);
            let url = paths[&key]["serverRelativeURL"].as_str().unwrap();
            let hash = url.split("?hash=").nth(1).unwrap();
            assert_eq!(hash, api().v3_document(&key).unwrap().1);
            assert!(hash
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
            if !g.is_empty() {
                assert!(paths.contains_key(&format!("apis/{g}")));
            }
        }
        for root in ["api", "apis", "version"] {
            assert!(paths.contains_key(root), "{root}");
        }
    }

    #[test]
    fn pod_spec_containers_carry_merge_key() {
        let doc = v3("api/v1");
        let containers =
            &doc["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(containers["x-kubernetes-list-type"], "map");
        assert_eq!(
            containers["items"]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.Container"
        );
        let ports =
            &doc["components"]["schemas"]["io.k8s.api.core.v1.Container"]["properties"]["ports"];
        assert_eq!(ports["x-kubernetes-patch-merge-key"], "containerPort");
        // The v2 document says the same.
        let v2: Value = serde_json::from_slice(api().v2_json()).unwrap();
        assert_eq!(
            v2["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"]
                ["x-kubernetes-patch-strategy"],
            "merge,retainKeys"
        );
        // Every table entry landed on an existing property.
        for e in LIST_EXTENSIONS {
            let def = api()
                .definition(e.definition)
                .unwrap_or_else(|| panic!("{}", e.definition));
            let prop = &def["properties"][e.property];
            assert!(prop.is_object(), "{}.{}", e.definition, e.property);
        }
    }

    #[test]
    fn patch_operations_support_field_validation_and_smp() {
        for (g, v) in served_group_versions() {
            let doc = v3(&gv_doc_path(g, v));
            for r in CATALOGUE
                .iter()
                .filter(|r| r.group == g && r.version == v && r.has_verb("patch"))
            {
                let want = gvk_value(r.group, r.version, r.kind);
                let found = doc["paths"].as_object().unwrap().values().any(|p| {
                    let op = &p["patch"];
                    op["x-kubernetes-group-version-kind"] == want
                        && op["parameters"]
                            .as_array()
                            .is_some_and(|ps| ps.iter().any(|p| p["name"] == "fieldValidation"))
                        && op["requestBody"]["content"]
                            .get("application/strategic-merge-patch+json")
                            .is_some()
                });
                assert!(found, "no PATCH for {}", r.kind);
            }
        }
    }

    #[test]
    fn operations_look_like_upstream() {
        let doc = v3("api/v1");
        let pods = &doc["paths"]["/api/v1/namespaces/{namespace}/pods"];
        assert_eq!(pods["get"]["operationId"], "listCoreV1NamespacedPod");
        assert_eq!(pods["get"]["x-kubernetes-action"], "list");
        assert_eq!(pods["post"]["operationId"], "createCoreV1NamespacedPod");
        assert_eq!(
            pods["delete"]["operationId"],
            "deleteCoreV1CollectionNamespacedPod"
        );
        let pod = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"];
        assert_eq!(pod["get"]["operationId"], "readCoreV1NamespacedPod");
        assert_eq!(pod["put"]["operationId"], "replaceCoreV1NamespacedPod");
        assert_eq!(pod["patch"]["operationId"], "patchCoreV1NamespacedPod");
        assert_eq!(
            doc["paths"]["/api/v1/pods"]["get"]["operationId"],
            "listCoreV1PodForAllNamespaces"
        );
        assert_eq!(
            doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/status"]["patch"]
                ["operationId"],
            "patchCoreV1NamespacedPodStatus"
        );
        assert_eq!(
            doc["paths"]["/api/v1/nodes/{name}"]["get"]["operationId"],
            "readCoreV1Node"
        );
        let apps = v3("apis/apps/v1");
        let scale = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
        assert_eq!(
            scale["get"]["operationId"],
            "readAppsV1NamespacedDeploymentScale"
        );
        assert_eq!(
            scale["put"]["x-kubernetes-group-version-kind"],
            json!({"group": "autoscaling", "kind": "Scale", "version": "v1"})
        );
        assert!(apps["components"]["schemas"]
            .get("io.k8s.api.autoscaling.v1.Scale")
            .is_some());
        // Components are trimmed to what the document references.
        assert!(apps["components"]["schemas"]
            .get("io.k8s.api.core.v1.Pod")
            .is_none());
        assert!(apps["components"]["schemas"]
            .get("io.k8s.api.core.v1.PodSpec")
            .is_some());
        // A referencing property with a description is wrapped in allOf.
        assert_eq!(
            apps["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]["properties"]
                ["metadata"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        let rbac = v3("apis/rbac.authorization.k8s.io/v1");
        assert_eq!(
            rbac["paths"]["/apis/rbac.authorization.k8s.io/v1/clusterroles"]["get"]["operationId"],
            "listRbacAuthorizationV1ClusterRole"
        );
    }

    #[test]
    fn documents_are_consistent() {
        // Every $ref in every v3 document resolves inside it.
        for path in api().v3_paths() {
            let doc = v3(path);
            let mut refs = BTreeSet::new();
            collect_refs(&doc, V3_REF, &mut refs);
            for r in refs {
                assert!(
                    doc["components"]["schemas"].get(&r).is_some(),
                    "{path}: {r}"
                );
            }
        }
        let v2: Value = serde_json::from_slice(api().v2_json()).unwrap();
        let mut refs = BTreeSet::new();
        collect_refs(&v2, V2_REF, &mut refs);
        for r in refs {
            assert!(v2["definitions"].get(&r).is_some(), "v2: {r}");
        }
        assert_eq!(v2["swagger"], "2.0");
        assert_eq!(
            v2["definitions"][DEF_INT_OR_STRING]["format"],
            "int-or-string"
        );
    }

    /// Reads the top-level fields of a protobuf message as (field, bytes).
    fn pb_fields(mut b: &[u8]) -> Vec<(u64, &[u8])> {
        fn varint(b: &mut &[u8]) -> u64 {
            let mut v = 0u64;
            let mut shift = 0;
            loop {
                let x = b[0];
                *b = &b[1..];
                v |= u64::from(x & 0x7f) << shift;
                shift += 7;
                if x < 0x80 {
                    return v;
                }
            }
        }
        let mut out = Vec::new();
        while !b.is_empty() {
            let key = varint(&mut b);
            match key & 7 {
                0 => {
                    varint(&mut b);
                    out.push((key >> 3, &b[..0]));
                }
                1 => {
                    out.push((key >> 3, &b[..8]));
                    b = &b[8..];
                }
                2 => {
                    let len = varint(&mut b) as usize;
                    out.push((key >> 3, &b[..len]));
                    b = &b[len..];
                }
                w => panic!("wire type {w}"),
            }
        }
        out
    }

    #[test]
    fn v2_protobuf_mirrors_the_json() {
        let v2: Value = serde_json::from_slice(api().v2_json()).unwrap();
        let top = pb_fields(api().v2_protobuf());
        assert_eq!(top[0], (1, &b"2.0"[..]));
        let defs = top.iter().find(|(f, _)| *f == 9).unwrap().1;
        let named = pb_fields(defs);
        assert_eq!(named.len(), v2["definitions"].as_object().unwrap().len());
        let paths = top.iter().find(|(f, _)| *f == 8).unwrap().1;
        assert_eq!(
            pb_fields(paths).len(),
            v2["paths"].as_object().unwrap().len()
        );
        // The Deployment definition carries its GVK as a vendor extension.
        let dep = named
            .iter()
            .map(|(_, b)| pb_fields(b))
            .find(|f| f[0].1 == b"io.k8s.api.apps.v1.Deployment")
            .unwrap();
        let schema = pb_fields(dep[1].1);
        let ext = schema.iter().find(|(f, _)| *f == 31).unwrap().1;
        let ext = pb_fields(ext);
        assert_eq!(ext[0].1, b"x-kubernetes-group-version-kind");
        let any = pb_fields(ext[1].1);
        assert_eq!(any[0].0, 2);
        let gvk: Value = serde_json::from_slice(any[0].1).unwrap();
        assert_eq!(gvk[0]["kind"], "Deployment");
    }

    #[test]
    fn status_is_known_at_top_level() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "status": {"x": 1}});
        assert!(api().unknown_fields("", "v1", "ConfigMap", &cm).is_empty());
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "status": {"phaze": "x"}});
        assert_eq!(
            api().unknown_fields("", "v1", "Pod", &pod),
            vec!["status.phaze"]
        );
        assert!(api()
            .unknown_fields("", "v1", "NoSuchKind", &pod)
            .is_empty());
    }

    #[test]
    fn build_reports_sizes() {
        let start = std::time::Instant::now();
        let built = build();
        let elapsed = start.elapsed();
        let v3_total: usize = built.v3.values().map(|(b, _)| b.len()).sum();
        eprintln!(
            "openapi: built in {elapsed:?}; v2 {} bytes; {} v3 documents, {} bytes in total; api/v1 {} bytes",
            built.v2.len(),
            built.v3.len(),
            v3_total,
            built.v3_document("api/v1").map(|d| d.0.len()).unwrap_or(0)
        );
    }
}
