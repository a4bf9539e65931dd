//! Server-side printing: the `meta.k8s.io/v1` `Table` that upstream's
//! kube-apiserver returns for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
//!
//! kubectl prints the cells it receives verbatim, so column names, types,
//! priorities and the text of every cell follow upstream's printers as of
//! 1.33. Like upstream, the server always prints "wide": priority-1 columns
//! are in every table and kubectl hides them unless `-o wide`. A resource
//! without a printer gets upstream's default table, `Name` and `Created At`
//! (an RFC 3339 timestamp), which is what `kubectl get roles` shows.
//!
//! Objects are unstructured JSON as stored. Where upstream would have
//! defaulted a field before printing (a Service's type, a port's protocol,
//! a Deployment's replicas) the printer assumes that default when it is absent.

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{json, Map, Value};

/// What each row's `object` carries (upstream's `includeObject` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// `object` is null: the client wants only cells.
    None,
    /// `object` is a `PartialObjectMetadata`: enough for kubectl to label,
    /// name and sort rows without the cost of whole objects.
    #[default]
    Metadata,
    /// `object` is the whole object.
    Object,
}

impl IncludeObject {
    /// Parses the query value; `None` for a value upstream rejects with 400.
    pub fn from_query(value: &str) -> Option<Self> {
        match value {
            "" | "Metadata" => Some(Self::Metadata),
            "None" => Some(Self::None),
            "Object" => Some(Self::Object),
            _ => None,
        }
    }
}

/// The column definitions for a resource, every priority included.
pub fn column_definitions(group: &str, resource: &str) -> Vec<Value> {
    columns(printer_for(group, resource))
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.ty,
                "format": c.format,
                "description": c.desc,
                "priority": c.priority,
            })
        })
        .collect()
}

/// The cells of one object's row, one per column of [`column_definitions`].
pub fn row_cells(group: &str, resource: &str, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    cells(printer_for(group, resource), obj, now)
}

/// A whole `Table` for a list (or a one-element slice for a get).
///
/// `resource_version`, `continue_token` and `remaining` become the table's
/// list metadata, as upstream copies them from the list it printed.
#[allow(clippy::too_many_arguments)]
pub fn to_table(
    group: &str,
    resource: &str,
    objects: &[Value],
    resource_version: &str,
    continue_token: Option<&str>,
    remaining: Option<i64>,
    include_object: IncludeObject,
    now: DateTime<Utc>,
) -> Value {
    let printer = printer_for(group, resource);
    let mut meta = Map::new();
    if !resource_version.is_empty() {
        meta.insert("resourceVersion".into(), resource_version.into());
    }
    if let Some(token) = continue_token.filter(|t| !t.is_empty()) {
        meta.insert("continue".into(), token.into());
    }
    if let Some(n) = remaining {
        meta.insert("remainingItemCount".into(), n.into());
    }

    let mut items: Vec<&Value> = objects.iter().collect();
    if printer == Printer::FlowSchema {
        // Upstream prints flow schemas in the order the apiserver matches them.
        items.sort_by(|a, b| {
            int(a, &["spec", "matchingPrecedence"])
                .cmp(&int(b, &["spec", "matchingPrecedence"]))
                .then_with(|| name(a).cmp(name(b)))
        });
    }

    let rows: Vec<Value> = items
        .into_iter()
        .map(|o| {
            let mut row = Map::new();
            row.insert("cells".into(), Value::Array(cells(printer, o, now)));
            if let Some(conditions) = row_conditions(printer, o) {
                row.insert("conditions".into(), conditions);
            }
            row.insert("object".into(), embedded_object(o, include_object));
            Value::Object(row)
        })
        .collect();
    // Upstream's default convertor appends to a nil slice, so an empty list
    // serialises as null there; the printers start from an empty slice.
    let rows = if rows.is_empty() && printer == Printer::Default {
        Value::Null
    } else {
        Value::Array(rows)
    };

    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": column_definitions(group, resource),
        "rows": rows,
    })
}

/// Upstream's `duration.HumanDuration`: about two significant figures, so
/// AGE columns stay narrow yet precise for young objects.
pub fn human_duration(d: TimeDelta) -> String {
    // Truncation toward zero, and up to a second of clock skew reads as "0s".
    let seconds = d.num_seconds();
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        }
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        let days = (hours / 24) % 365;
        if days == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{days}d", hours / 24 / 365)
        }
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

// ---------------------------------------------------------------------------
// Which printer a resource gets.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Printer {
    Pod,
    PodTemplate,
    ReplicationController,
    Service,
    Endpoints,
    Node,
    Event,
    Namespace,
    Secret,
    ServiceAccount,
    PersistentVolume,
    PersistentVolumeClaim,
    ComponentStatus,
    ConfigMap,
    ResourceQuota,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    ControllerRevision,
    Job,
    CronJob,
    HorizontalPodAutoscaler,
    PodDisruptionBudget,
    Ingress,
    IngressClass,
    NetworkPolicy,
    ServiceCidr,
    IpAddress,
    EndpointSlice,
    Lease,
    LeaseCandidate,
    RoleBinding,
    ClusterRoleBinding,
    CertificateSigningRequest,
    ClusterTrustBundle,
    PriorityClass,
    StorageClass,
    VolumeAttachment,
    CsiNode,
    CsiDriver,
    CsiStorageCapacity,
    RuntimeClass,
    MutatingWebhook,
    ValidatingWebhook,
    ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding,
    FlowSchema,
    PriorityLevel,
    DeviceClass,
    ResourceClaimTemplate,
    ResourceSlice,
    Scale,
    Default,
}

fn printer_for(group: &str, resource: &str) -> Printer {
    use Printer::*;
    // A subresource prints with its parent's printer, except scale, which
    // has its own kind.
    let (resource, sub) = match resource.split_once('/') {
        Some((r, s)) => (r, s),
        None => (resource, ""),
    };
    if sub == "scale" {
        return Scale;
    }
    match (group, resource) {
        ("", "pods") => Pod,
        ("", "podtemplates") => PodTemplate,
        ("", "replicationcontrollers") => ReplicationController,
        ("", "services") => Service,
        ("", "endpoints") => Endpoints,
        ("", "nodes") => Node,
        ("", "events") | ("events.k8s.io", "events") => Event,
        ("", "namespaces") => Namespace,
        ("", "secrets") => Secret,
        ("", "serviceaccounts") => ServiceAccount,
        ("", "persistentvolumes") => PersistentVolume,
        ("", "persistentvolumeclaims") => PersistentVolumeClaim,
        ("", "componentstatuses") => ComponentStatus,
        ("", "configmaps") => ConfigMap,
        ("", "resourcequotas") => ResourceQuota,
        ("apps", "deployments") => Deployment,
        ("apps", "replicasets") => ReplicaSet,
        ("apps", "statefulsets") => StatefulSet,
        ("apps", "daemonsets") => DaemonSet,
        ("apps", "controllerrevisions") => ControllerRevision,
        ("batch", "jobs") => Job,
        ("batch", "cronjobs") => CronJob,
        ("autoscaling", "horizontalpodautoscalers") => HorizontalPodAutoscaler,
        ("policy", "poddisruptionbudgets") => PodDisruptionBudget,
        ("networking.k8s.io", "ingresses") => Ingress,
        ("networking.k8s.io", "ingressclasses") => IngressClass,
        ("networking.k8s.io", "networkpolicies") => NetworkPolicy,
        ("networking.k8s.io", "servicecidrs") => ServiceCidr,
        ("networking.k8s.io", "ipaddresses") => IpAddress,
        ("discovery.k8s.io", "endpointslices") => EndpointSlice,
        ("coordination.k8s.io", "leases") => Lease,
        ("coordination.k8s.io", "leasecandidates") => LeaseCandidate,
        ("rbac.authorization.k8s.io", "rolebindings") => RoleBinding,
        ("rbac.authorization.k8s.io", "clusterrolebindings") => ClusterRoleBinding,
        ("certificates.k8s.io", "certificatesigningrequests") => CertificateSigningRequest,
        ("certificates.k8s.io", "clustertrustbundles") => ClusterTrustBundle,
        ("scheduling.k8s.io", "priorityclasses") => PriorityClass,
        ("storage.k8s.io", "storageclasses") => StorageClass,
        ("storage.k8s.io", "volumeattachments") => VolumeAttachment,
        ("storage.k8s.io", "csinodes") => CsiNode,
        ("storage.k8s.io", "csidrivers") => CsiDriver,
        ("storage.k8s.io", "csistoragecapacities") => CsiStorageCapacity,
        ("node.k8s.io", "runtimeclasses") => RuntimeClass,
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations") => MutatingWebhook,
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations") => ValidatingWebhook,
        ("admissionregistration.k8s.io", "validatingadmissionpolicies") => {
            ValidatingAdmissionPolicy
        }
        ("admissionregistration.k8s.io", "validatingadmissionpolicybindings") => {
            ValidatingAdmissionPolicyBinding
        }
        ("flowcontrol.apiserver.k8s.io", "flowschemas") => FlowSchema,
        ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations") => PriorityLevel,
        ("resource.k8s.io", "deviceclasses") => DeviceClass,
        ("resource.k8s.io", "resourceclaimtemplates") => ResourceClaimTemplate,
        ("resource.k8s.io", "resourceslices") => ResourceSlice,
        _ => Default,
    }
}

// ---------------------------------------------------------------------------
// Column definitions.

#[derive(Clone, Copy)]
struct Col {
    name: &'static str,
    ty: &'static str,
    format: &'static str,
    priority: i64,
    desc: &'static str,
}

/// A column shown by default.
const fn c(name: &'static str, ty: &'static str, desc: &'static str) -> Col {
    Col {
        name,
        ty,
        format: "",
        priority: 0,
        desc,
    }
}

/// A column shown only with `-o wide`.
const fn w(name: &'static str, ty: &'static str, desc: &'static str) -> Col {
    Col {
        name,
        ty,
        format: "",
        priority: 1,
        desc,
    }
}

const D_NAME: &str = "The object's name, unique among objects of its resource in its namespace.";
const D_AGE: &str = "How long ago the object was created.";
const D_CONTAINERS: &str = "The names of the containers in the pod template.";
const D_IMAGES: &str = "The images the pod template's containers run.";
const D_SELECTOR: &str = "The label query that picks the pods this object manages.";

const NAME: Col = Col {
    name: "Name",
    ty: "string",
    format: "name",
    priority: 0,
    desc: D_NAME,
};
const AGE: Col = c("Age", "string", D_AGE);
const CONTAINERS: Col = w("Containers", "string", D_CONTAINERS);
const IMAGES: Col = w("Images", "string", D_IMAGES);
const SELECTOR: Col = w("Selector", "string", D_SELECTOR);

fn columns(p: Printer) -> Vec<Col> {
    use Printer::*;
    match p {
        Pod => vec![
            NAME,
            c(
                "Ready",
                "string",
                "How many of the pod's containers are ready, out of all of them.",
            ),
            c(
                "Status",
                "string",
                "A one-word summary of the pod's containers.",
            ),
            c(
                "Restarts",
                "string",
                "How often the pod's containers restarted, and when the last restart was.",
            ),
            AGE,
            w("IP", "string", "The pod's first IP address."),
            w("Node", "string", "The node the pod is bound to."),
            w(
                "Nominated Node",
                "string",
                "The node preemption made room on for this pod.",
            ),
            w(
                "Readiness Gates",
                "string",
                "How many of the pod's readiness gates are satisfied.",
            ),
        ],
        PodTemplate => vec![
            NAME,
            c("Containers", "string", D_CONTAINERS),
            c("Images", "string", D_IMAGES),
            c(
                "Pod Labels",
                "string",
                "The labels the template gives its pods.",
            ),
        ],
        PodDisruptionBudget => vec![
            NAME,
            c(
                "Min Available",
                "string",
                "How many pods must stay available.",
            ),
            c(
                "Max Unavailable",
                "string",
                "How many pods may be unavailable.",
            ),
            c(
                "Allowed Disruptions",
                "integer",
                "How many pods may be disrupted right now.",
            ),
            AGE,
        ],
        ReplicationController => vec![
            NAME,
            c("Desired", "integer", "The number of replicas asked for."),
            c("Current", "integer", "The number of replicas that exist."),
            c("Ready", "integer", "The number of ready replicas."),
            AGE,
            CONTAINERS,
            IMAGES,
            SELECTOR,
        ],
        ReplicaSet => vec![
            NAME,
            c("Desired", "integer", "The number of replicas asked for."),
            c("Current", "integer", "The number of replicas that exist."),
            c("Ready", "integer", "The number of ready replicas."),
            AGE,
            CONTAINERS,
            IMAGES,
            SELECTOR,
        ],
        DaemonSet => vec![
            NAME,
            c(
                "Desired",
                "integer",
                "The number of nodes that should run the daemon pod.",
            ),
            c(
                "Current",
                "integer",
                "The number of nodes that run the daemon pod.",
            ),
            c(
                "Ready",
                "integer",
                "The number of nodes whose daemon pod is ready.",
            ),
            c(
                "Up-to-date",
                "integer",
                "The number of nodes that run the current template.",
            ),
            c(
                "Available",
                "integer",
                "The number of nodes whose daemon pod is available.",
            ),
            c(
                "Node Selector",
                "string",
                "The node labels a node needs to run the daemon pod.",
            ),
            AGE,
            CONTAINERS,
            IMAGES,
            SELECTOR,
        ],
        Job => vec![
            NAME,
            c("Status", "string", "The state of the job."),
            c(
                "Completions",
                "string",
                "Succeeded pods out of the completions asked for.",
            ),
            c(
                "Duration",
                "string",
                "How long the job ran, or has been running.",
            ),
            AGE,
            CONTAINERS,
            IMAGES,
            SELECTOR,
        ],
        CronJob => vec![
            NAME,
            c("Schedule", "string", "The cron schedule."),
            c(
                "Timezone",
                "string",
                "The time zone the schedule is read in.",
            ),
            c("Suspend", "boolean", "Whether new runs are held back."),
            c("Active", "integer", "The number of jobs running now."),
            c(
                "Last Schedule",
                "string",
                "How long ago a job was last scheduled.",
            ),
            AGE,
            CONTAINERS,
            IMAGES,
            SELECTOR,
        ],
        Service => vec![
            NAME,
            c("Type", "string", "How the service is exposed."),
            c(
                "Cluster-IP",
                "string",
                "The service's virtual IP inside the cluster.",
            ),
            c(
                "External-IP",
                "string",
                "Addresses the service is reachable on from outside.",
            ),
            c("Port(s)", "string", "The ports the service exposes."),
            AGE,
            w(
                "Selector",
                "string",
                "The labels of the pods that back the service.",
            ),
        ],
        Ingress => vec![
            NAME,
            c(
                "Class",
                "string",
                "The IngressClass that handles this ingress.",
            ),
            c("Hosts", "string", "The hosts the rules match."),
            c(
                "Address",
                "string",
                "Where the load balancer receives traffic.",
            ),
            c("Ports", "string", "The ports the ingress serves."),
            AGE,
        ],
        IngressClass => vec![
            NAME,
            c(
                "Controller",
                "string",
                "The controller that implements the class.",
            ),
            c(
                "Parameters",
                "string",
                "The resource with the class's extra settings.",
            ),
            AGE,
        ],
        StatefulSet => vec![
            NAME,
            c("Ready", "string", "Ready replicas out of those asked for."),
            AGE,
            CONTAINERS,
            IMAGES,
        ],
        Endpoints => vec![
            NAME,
            c(
                "Endpoints",
                "string",
                "Some of the addresses and ports behind the service.",
            ),
            AGE,
        ],
        Node => vec![
            NAME,
            c(
                "Status",
                "string",
                "Whether the node is ready, and whether it takes new pods.",
            ),
            c("Roles", "string", "The roles the node's labels give it."),
            AGE,
            c("Version", "string", "The kubelet's version."),
            w(
                "Internal-IP",
                "string",
                "The node's first internal address.",
            ),
            w(
                "External-IP",
                "string",
                "The node's first external address.",
            ),
            w("OS-Image", "string", "The operating system the node runs."),
            w("Kernel-Version", "string", "The node's kernel version."),
            w(
                "Container-Runtime",
                "string",
                "The container runtime and its version.",
            ),
        ],
        Event => vec![
            c(
                "Last Seen",
                "string",
                "How long ago the event last happened.",
            ),
            c("Type", "string", "Normal or Warning."),
            c("Reason", "string", "A short machine-readable cause."),
            c("Object", "string", "The object the event is about."),
            w(
                "Subobject",
                "string",
                "The part of the object the event is about.",
            ),
            w("Source", "string", "The component that reported the event."),
            c("Message", "string", "What happened, for humans."),
            w(
                "First Seen",
                "string",
                "How long ago the event first happened.",
            ),
            w("Count", "string", "How many times the event happened."),
            Col {
                name: "Name",
                ty: "string",
                format: "name",
                priority: 1,
                desc: D_NAME,
            },
        ],
        Namespace => vec![NAME, c("Status", "string", "The namespace's phase."), AGE],
        Secret => vec![
            NAME,
            c("Type", "string", "The kind of secret."),
            c("Data", "string", "The number of keys."),
            AGE,
        ],
        ServiceAccount => vec![
            NAME,
            c(
                "Secrets",
                "string",
                "The number of secrets listed for the account.",
            ),
            AGE,
        ],
        PersistentVolume => vec![
            NAME,
            c("Capacity", "string", "The volume's size."),
            c("Access Modes", "string", "How the volume can be mounted."),
            c(
                "Reclaim Policy",
                "string",
                "What happens to the volume when its claim is gone.",
            ),
            c("Status", "string", "The volume's phase."),
            c("Claim", "string", "The claim bound to the volume."),
            c("StorageClass", "string", "The volume's storage class."),
            c(
                "VolumeAttributesClass",
                "string",
                "The volume's attributes class.",
            ),
            c("Reason", "string", "Why the volume is in its phase."),
            AGE,
            w("VolumeMode", "string", "Filesystem or Block."),
        ],
        PersistentVolumeClaim => vec![
            NAME,
            c("Status", "string", "The claim's phase."),
            c("Volume", "string", "The volume bound to the claim."),
            c("Capacity", "string", "The bound volume's size."),
            c(
                "Access Modes",
                "string",
                "How the bound volume can be mounted.",
            ),
            c("StorageClass", "string", "The claim's storage class."),
            c(
                "VolumeAttributesClass",
                "string",
                "The claim's attributes class.",
            ),
            AGE,
            w("VolumeMode", "string", "Filesystem or Block."),
        ],
        ComponentStatus => vec![
            NAME,
            c("Status", "string", "Whether the component is healthy."),
            c("Message", "string", "What the health check said."),
            c("Error", "string", "The health check's error."),
        ],
        Deployment => vec![
            NAME,
            c("Ready", "string", "Ready replicas out of those asked for."),
            c(
                "Up-to-date",
                "string",
                "Replicas that run the current template.",
            ),
            c("Available", "string", "Replicas available to serve."),
            AGE,
            CONTAINERS,
            IMAGES,
            SELECTOR,
        ],
        HorizontalPodAutoscaler => vec![
            NAME,
            c("Reference", "string", "The workload being scaled."),
            c(
                "Targets",
                "string",
                "Current and target values of the metrics.",
            ),
            c("MinPods", "string", "The fewest replicas allowed."),
            c("MaxPods", "string", "The most replicas allowed."),
            c("Replicas", "string", "The replicas seen at the last check."),
            AGE,
        ],
        ConfigMap => vec![NAME, c("Data", "string", "The number of keys."), AGE],
        NetworkPolicy => vec![
            NAME,
            c("Pod-Selector", "string", "The pods the policy applies to."),
            AGE,
        ],
        RoleBinding => vec![
            NAME,
            c("Role", "string", "The role granted."),
            AGE,
            w("Users", "string", "Users the role binding grants to."),
            w("Groups", "string", "Groups the role binding grants to."),
            w(
                "ServiceAccounts",
                "string",
                "Service accounts the role binding grants to.",
            ),
        ],
        ClusterRoleBinding => vec![
            NAME,
            c("Role", "string", "The role granted."),
            AGE,
            w(
                "Users",
                "string",
                "Users the cluster role binding grants to.",
            ),
            w(
                "Groups",
                "string",
                "Groups the cluster role binding grants to.",
            ),
            w(
                "ServiceAccounts",
                "string",
                "Service accounts the cluster role binding grants to.",
            ),
        ],
        CertificateSigningRequest => vec![
            NAME,
            AGE,
            c("SignerName", "string", "The signer asked to sign."),
            c("Requestor", "string", "The user who made the request."),
            c("RequestedDuration", "string", "The validity asked for."),
            c(
                "Condition",
                "string",
                "Approved, denied or pending, and whether issued.",
            ),
        ],
        ClusterTrustBundle => vec![
            NAME,
            c("SignerName", "string", "The signer the bundle belongs to."),
        ],
        Lease => vec![NAME, c("Holder", "string", "Who holds the lease."), AGE],
        LeaseCandidate => vec![
            NAME,
            c("LeaseName", "string", "The lease the candidate runs for."),
            c("BinaryVersion", "string", "The candidate's binary version."),
            c(
                "EmulationVersion",
                "string",
                "The version the candidate emulates.",
            ),
            AGE,
        ],
        StorageClass => vec![
            NAME,
            c(
                "Provisioner",
                "string",
                "The volume plugin that provisions volumes.",
            ),
            c(
                "ReclaimPolicy",
                "string",
                "What happens to provisioned volumes when released.",
            ),
            c(
                "VolumeBindingMode",
                "string",
                "When volumes are bound and provisioned.",
            ),
            c(
                "AllowVolumeExpansion",
                "string",
                "Whether volumes can grow.",
            ),
            AGE,
        ],
        ControllerRevision => vec![
            NAME,
            c("Controller", "string", "The object that owns the revision."),
            c("Revision", "string", "The revision number."),
            AGE,
        ],
        ResourceQuota => vec![
            NAME,
            c("Request", "string", "Used and hard request quotas."),
            c("Limit", "string", "Used and hard limit quotas."),
            AGE,
        ],
        PriorityClass => vec![
            NAME,
            c("Value", "integer", "The priority pods of this class get."),
            c(
                "Global-Default",
                "boolean",
                "Whether pods without a class get this one.",
            ),
            AGE,
            c(
                "PreemptionPolicy",
                "string",
                "Whether pods of this class preempt others.",
            ),
        ],
        RuntimeClass => vec![
            NAME,
            c("Handler", "string", "The CRI handler that runs the pods."),
            AGE,
        ],
        VolumeAttachment => vec![
            NAME,
            Col {
                name: "Attacher",
                ty: "string",
                format: "name",
                priority: 0,
                desc: "The volume driver that attaches.",
            },
            c("PV", "string", "The persistent volume attached."),
            c("Node", "string", "The node attached to."),
            c("Attached", "boolean", "Whether the attach succeeded."),
            AGE,
        ],
        EndpointSlice => vec![
            NAME,
            c(
                "AddressType",
                "string",
                "The kind of addresses in the slice.",
            ),
            c("Ports", "string", "The ports of the slice."),
            c("Endpoints", "string", "Some of the slice's addresses."),
            AGE,
        ],
        CsiNode => vec![
            NAME,
            c(
                "Drivers",
                "integer",
                "The number of CSI drivers on the node.",
            ),
            AGE,
        ],
        CsiDriver => vec![
            NAME,
            c(
                "AttachRequired",
                "boolean",
                "Whether volumes need an attach step.",
            ),
            c(
                "PodInfoOnMount",
                "boolean",
                "Whether mounts receive pod information.",
            ),
            c(
                "StorageCapacity",
                "boolean",
                "Whether the driver reports capacity.",
            ),
            c(
                "TokenRequests",
                "string",
                "Audiences of tokens passed to the driver.",
            ),
            c(
                "RequiresRepublish",
                "boolean",
                "Whether volumes are remounted periodically.",
            ),
            c("Modes", "string", "The volume lifecycle modes supported."),
            AGE,
        ],
        CsiStorageCapacity => vec![
            NAME,
            c(
                "StorageClassName",
                "string",
                "The storage class the capacity is for.",
            ),
            c("Capacity", "string", "The capacity available."),
        ],
        MutatingWebhook | ValidatingWebhook => vec![
            NAME,
            c(
                "Webhooks",
                "integer",
                "The number of webhooks in the configuration.",
            ),
            AGE,
        ],
        ValidatingAdmissionPolicy => vec![
            NAME,
            c("Validations", "integer", "The number of validation rules."),
            c(
                "ParamKind",
                "string",
                "The kind of the policy's parameters.",
            ),
            AGE,
        ],
        ValidatingAdmissionPolicyBinding => vec![
            NAME,
            c("PolicyName", "string", "The policy bound."),
            c(
                "ParamRef",
                "string",
                "The parameter resource the binding uses.",
            ),
            AGE,
        ],
        FlowSchema => vec![
            NAME,
            c(
                "PriorityLevel",
                "string",
                "The priority level matching requests go to.",
            ),
            c(
                "MatchingPrecedence",
                "string",
                "Lower values are matched first.",
            ),
            c(
                "DistinguisherMethod",
                "string",
                "How requests are split into flows.",
            ),
            AGE,
            c(
                "MissingPL",
                "string",
                "Whether the priority level referenced is missing.",
            ),
        ],
        PriorityLevel => vec![
            NAME,
            c("Type", "string", "Exempt or Limited."),
            c(
                "NominalConcurrencyShares",
                "string",
                "The level's share of the concurrency limit.",
            ),
            c("Queues", "string", "The number of queues."),
            c("HandSize", "string", "Queues considered per flow."),
            c(
                "QueueLengthLimit",
                "string",
                "Requests that may wait in one queue.",
            ),
            AGE,
        ],
        ServiceCidr => vec![
            NAME,
            c("CIDRs", "string", "The ranges Service IPs come from."),
            AGE,
        ],
        // Upstream defines two columns but prints an age cell as well.
        IpAddress => vec![
            NAME,
            c(
                "ParentRef",
                "string",
                "The object the address is allocated to.",
            ),
        ],
        DeviceClass | ResourceClaimTemplate => vec![NAME, AGE],
        ResourceSlice => vec![
            NAME,
            c("Node", "string", "The node the devices are on."),
            c("Driver", "string", "The driver that publishes the devices."),
            c("Pool", "string", "The pool the devices belong to."),
            AGE,
        ],
        Scale => vec![
            Col {
                name: "Name",
                ty: "string",
                format: "",
                priority: 0,
                desc: D_NAME,
            },
            c("Desired", "integer", "The replicas asked for."),
            c("Available", "integer", "The replicas that exist."),
            AGE,
        ],
        Default => vec![
            NAME,
            c("Created At", "date", "When the object was created."),
        ],
    }
}

// ---------------------------------------------------------------------------
// Cells.

fn cells(p: Printer, o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    use Printer::*;
    let n = || Value::from(name(o));
    let age = || Value::from(age_of(o, now));
    match p {
        Pod => pod_cells(o, now),
        PodTemplate => {
            let (names, images) = containers(list(o, &["template", "spec", "containers"]));
            vec![
                n(),
                names.into(),
                images.into(),
                format_labels(at(o, &["template", "metadata", "labels"])).into(),
            ]
        }
        PodDisruptionBudget => vec![
            n(),
            at(o, &["spec", "minAvailable"])
                .map_or_else(|| "N/A".into(), int_or_string)
                .into(),
            at(o, &["spec", "maxUnavailable"])
                .map_or_else(|| "N/A".into(), int_or_string)
                .into(),
            int(o, &["status", "disruptionsAllowed"]).into(),
            age(),
        ],
        ReplicationController => {
            let (names, images) = containers(list(o, &["spec", "template", "spec", "containers"]));
            vec![
                n(),
                replicas(o).into(),
                int(o, &["status", "replicas"]).into(),
                int(o, &["status", "readyReplicas"]).into(),
                age(),
                names.into(),
                images.into(),
                format_labels(at(o, &["spec", "selector"])).into(),
            ]
        }
        ReplicaSet => {
            let (names, images) = template_containers(o);
            vec![
                n(),
                replicas(o).into(),
                int(o, &["status", "replicas"]).into(),
                int(o, &["status", "readyReplicas"]).into(),
                age(),
                names.into(),
                images.into(),
                format_label_selector(at(o, &["spec", "selector"])).into(),
            ]
        }
        Deployment => {
            let (names, images) = template_containers(o);
            let selector =
                selector_string(at(o, &["spec", "selector"])).unwrap_or_else(|| "<invalid>".into());
            vec![
                n(),
                format!("{}/{}", int(o, &["status", "readyReplicas"]), replicas(o)).into(),
                int(o, &["status", "updatedReplicas"]).into(),
                int(o, &["status", "availableReplicas"]).into(),
                age(),
                names.into(),
                images.into(),
                selector.into(),
            ]
        }
        StatefulSet => {
            let (names, images) = template_containers(o);
            vec![
                n(),
                format!("{}/{}", int(o, &["status", "readyReplicas"]), replicas(o)).into(),
                age(),
                names.into(),
                images.into(),
            ]
        }
        DaemonSet => {
            let (names, images) = template_containers(o);
            vec![
                n(),
                int(o, &["status", "desiredNumberScheduled"]).into(),
                int(o, &["status", "currentNumberScheduled"]).into(),
                int(o, &["status", "numberReady"]).into(),
                int(o, &["status", "updatedNumberScheduled"]).into(),
                int(o, &["status", "numberAvailable"]).into(),
                format_labels(at(o, &["spec", "template", "spec", "nodeSelector"])).into(),
                age(),
                names.into(),
                images.into(),
                format_label_selector(at(o, &["spec", "selector"])).into(),
            ]
        }
        Job => job_cells(o, now),
        CronJob => {
            let last = at(o, &["status", "lastScheduleTime"]).map_or_else(
                || "<none>".to_string(),
                |_| since(ts(o, &["status", "lastScheduleTime"]), now),
            );
            let tz = at(o, &["spec", "timeZone"])
                .and_then(Value::as_str)
                .unwrap_or("<none>");
            let (names, images) = containers(list(
                o,
                &[
                    "spec",
                    "jobTemplate",
                    "spec",
                    "template",
                    "spec",
                    "containers",
                ],
            ));
            vec![
                n(),
                st(o, &["spec", "schedule"]).into(),
                tz.into(),
                bool_ptr(boolean(o, &["spec", "suspend"])).into(),
                (list(o, &["status", "active"]).len() as i64).into(),
                last.into(),
                age(),
                names.into(),
                images.into(),
                format_label_selector(at(o, &["spec", "jobTemplate", "spec", "selector"])).into(),
            ]
        }
        Service => service_cells(o, now),
        Ingress => {
            let class = at(o, &["spec", "ingressClassName"])
                .and_then(Value::as_str)
                .unwrap_or("<none>");
            let ports = if list(o, &["spec", "tls"]).is_empty() {
                "80"
            } else {
                "80, 443"
            };
            vec![
                n(),
                class.into(),
                ingress_hosts(list(o, &["spec", "rules"])).into(),
                load_balancer_string(at(o, &["status", "loadBalancer"])).into(),
                ports.into(),
                age(),
            ]
        }
        IngressClass => {
            let parameters = match at(o, &["spec", "parameters"]) {
                None => "<none>".to_string(),
                Some(p) => {
                    let mut s = st(p, &["kind"]).to_string();
                    if let Some(g) = at(p, &["apiGroup"]).and_then(Value::as_str) {
                        s = format!("{s}.{g}");
                    }
                    format!("{s}/{}", st(p, &["name"]))
                }
            };
            vec![
                n(),
                st(o, &["spec", "controller"]).into(),
                parameters.into(),
                age(),
            ]
        }
        Endpoints => vec![n(), format_endpoints(o).into(), age()],
        EndpointSlice => vec![
            n(),
            st(o, &["addressType"]).into(),
            slice_ports(list(o, &["ports"])).into(),
            slice_endpoints(list(o, &["endpoints"])).into(),
            age(),
        ],
        Node => node_cells(o, now),
        Event => event_cells(o, now),
        Namespace => vec![n(), st(o, &["status", "phase"]).into(), age()],
        Secret => vec![
            n(),
            st(o, &["type"]).into(),
            map_len(o, &["data"]).into(),
            age(),
        ],
        ServiceAccount => vec![n(), (list(o, &["secrets"]).len() as i64).into(), age()],
        ConfigMap => vec![
            n(),
            (map_len(o, &["data"]) + map_len(o, &["binaryData"])).into(),
            age(),
        ],
        PersistentVolume => {
            let claim = match at(o, &["spec", "claimRef"]) {
                Some(r) => format!("{}/{}", st(r, &["namespace"]), st(r, &["name"])),
                None => String::new(),
            };
            let phase = if deleting(o) {
                "Terminating"
            } else {
                st(o, &["status", "phase"])
            };
            let class = match annotation(o, "volume.beta.kubernetes.io/storage-class") {
                Some(c) => c,
                None => st(o, &["spec", "storageClassName"]),
            };
            vec![
                n(),
                quantity(at(o, &["spec", "capacity", "storage"])).into(),
                access_modes(list(o, &["spec", "accessModes"])).into(),
                st(o, &["spec", "persistentVolumeReclaimPolicy"]).into(),
                phase.into(),
                claim.into(),
                class.into(),
                str_or(o, &["spec", "volumeAttributesClassName"], "<unset>").into(),
                st(o, &["status", "reason"]).into(),
                age(),
                str_or(o, &["spec", "volumeMode"], "<unset>").into(),
            ]
        }
        PersistentVolumeClaim => {
            let phase = if deleting(o) {
                "Terminating"
            } else {
                st(o, &["status", "phase"])
            };
            let volume = st(o, &["spec", "volumeName"]);
            let (capacity, modes) = if volume.is_empty() {
                (String::new(), String::new())
            } else {
                (
                    quantity(at(o, &["status", "capacity", "storage"])),
                    access_modes(list(o, &["status", "accessModes"])),
                )
            };
            let class = match annotation(o, "volume.beta.kubernetes.io/storage-class") {
                Some(c) => c,
                None => st(o, &["spec", "storageClassName"]),
            };
            vec![
                n(),
                phase.into(),
                volume.into(),
                capacity.into(),
                modes.into(),
                class.into(),
                str_or(o, &["spec", "volumeAttributesClassName"], "<unset>").into(),
                age(),
                str_or(o, &["spec", "volumeMode"], "<unset>").into(),
            ]
        }
        ComponentStatus => {
            let (mut status, mut message, mut error) = ("Unknown", "", "");
            if let Some(cond) = list(o, &["conditions"])
                .iter()
                .find(|c| st(c, &["type"]) == "Healthy")
            {
                status = if st(cond, &["status"]) == "True" {
                    "Healthy"
                } else {
                    "Unhealthy"
                };
                message = st(cond, &["message"]);
                error = st(cond, &["error"]);
            }
            vec![n(), status.into(), message.into(), error.into()]
        }
        HorizontalPodAutoscaler => {
            let reference = format!(
                "{}/{}",
                st(o, &["spec", "scaleTargetRef", "kind"]),
                st(o, &["spec", "scaleTargetRef", "name"])
            );
            let min = at(o, &["spec", "minReplicas"]).map_or_else(
                || "<unset>".to_string(),
                |_| int(o, &["spec", "minReplicas"]).to_string(),
            );
            vec![
                n(),
                reference.into(),
                hpa_metrics(o).into(),
                min.into(),
                int(o, &["spec", "maxReplicas"]).into(),
                int(o, &["status", "currentReplicas"]).into(),
                age(),
            ]
        }
        NetworkPolicy => vec![
            n(),
            format_label_selector(Some(at(o, &["spec", "podSelector"]).unwrap_or(&json!({}))))
                .into(),
            age(),
        ],
        RoleBinding | ClusterRoleBinding => {
            let role = format!(
                "{}/{}",
                st(o, &["roleRef", "kind"]),
                st(o, &["roleRef", "name"])
            );
            let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
            for s in list(o, &["subjects"]) {
                match st(s, &["kind"]) {
                    "User" => users.push(st(s, &["name"]).to_string()),
                    "Group" => groups.push(st(s, &["name"]).to_string()),
                    "ServiceAccount" => {
                        sas.push(format!("{}/{}", st(s, &["namespace"]), st(s, &["name"])))
                    }
                    _ => {}
                }
            }
            vec![
                n(),
                role.into(),
                age(),
                users.join(", ").into(),
                groups.join(", ").into(),
                sas.join(", ").into(),
            ]
        }
        CertificateSigningRequest => {
            let requested = at(o, &["spec", "expirationSeconds"]).map_or_else(
                || "<none>".to_string(),
                |_| human_duration(TimeDelta::seconds(int(o, &["spec", "expirationSeconds"]))),
            );
            vec![
                n(),
                age(),
                str_or(o, &["spec", "signerName"], "<none>").into(),
                st(o, &["spec", "username"]).into(),
                requested.into(),
                csr_condition(o).into(),
            ]
        }
        ClusterTrustBundle => vec![n(), str_or(o, &["spec", "signerName"], "<none>").into()],
        Lease => vec![n(), st(o, &["spec", "holderIdentity"]).into(), age()],
        LeaseCandidate => vec![
            n(),
            st(o, &["spec", "leaseName"]).into(),
            st(o, &["spec", "binaryVersion"]).into(),
            st(o, &["spec", "emulationVersion"]).into(),
            age(),
        ],
        StorageClass => {
            let mut shown = name(o).to_string();
            if is_default_class(o) {
                shown.push_str(" (default)");
            }
            vec![
                shown.into(),
                st(o, &["provisioner"]).into(),
                str_or(o, &["reclaimPolicy"], "Delete").into(),
                str_or(o, &["volumeBindingMode"], "Immediate").into(),
                boolean(o, &["allowVolumeExpansion"])
                    .unwrap_or(false)
                    .into(),
                age(),
            ]
        }
        ControllerRevision => {
            let owner = list(o, &["metadata", "ownerReferences"])
                .iter()
                .find(|r| boolean(r, &["controller"]) == Some(true));
            let controller = match owner {
                None => "<none>".to_string(),
                Some(r) => {
                    let api_version = st(r, &["apiVersion"]);
                    let group = match api_version.split_once('/') {
                        Some((g, _)) => g,
                        None => "",
                    };
                    let kind = st(r, &["kind"]);
                    let group_kind = if group.is_empty() {
                        kind.to_string()
                    } else {
                        format!("{kind}.{group}")
                    };
                    if group_kind.is_empty() {
                        st(r, &["name"]).to_string()
                    } else {
                        format!("{}/{}", group_kind.to_lowercase(), st(r, &["name"]))
                    }
                }
            };
            vec![n(), controller.into(), int(o, &["revision"]).into(), age()]
        }
        ResourceQuota => {
            let (request, limit) = quota_columns(o);
            vec![n(), request.into(), limit.into(), age()]
        }
        PriorityClass => vec![
            n(),
            int(o, &["value"]).into(),
            boolean(o, &["globalDefault"]).unwrap_or(false).into(),
            age(),
            st(o, &["preemptionPolicy"]).into(),
        ],
        RuntimeClass => vec![n(), st(o, &["handler"]).into(), age()],
        VolumeAttachment => vec![
            n(),
            st(o, &["spec", "attacher"]).into(),
            st(o, &["spec", "source", "persistentVolumeName"]).into(),
            st(o, &["spec", "nodeName"]).into(),
            boolean(o, &["status", "attached"]).unwrap_or(false).into(),
            age(),
        ],
        CsiNode => vec![
            n(),
            (list(o, &["spec", "drivers"]).len() as i64).into(),
            age(),
        ],
        CsiDriver => {
            let tokens = match at(o, &["spec", "tokenRequests"]).and_then(Value::as_array) {
                None => "<unset>".to_string(),
                Some(t) => t
                    .iter()
                    .map(|t| st(t, &["audience"]))
                    .collect::<Vec<_>>()
                    .join(","),
            };
            let modes: Vec<&str> = list(o, &["spec", "volumeLifecycleModes"])
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let modes = if modes.is_empty() {
                "<none>".to_string()
            } else {
                modes.join(",")
            };
            vec![
                n(),
                boolean(o, &["spec", "attachRequired"])
                    .unwrap_or(true)
                    .into(),
                boolean(o, &["spec", "podInfoOnMount"])
                    .unwrap_or(false)
                    .into(),
                boolean(o, &["spec", "storageCapacity"])
                    .unwrap_or(false)
                    .into(),
                tokens.into(),
                boolean(o, &["spec", "requiresRepublish"])
                    .unwrap_or(false)
                    .into(),
                modes.into(),
                age(),
            ]
        }
        CsiStorageCapacity => {
            let capacity =
                at(o, &["capacity"]).map_or_else(|| "<unset>".to_string(), |q| quantity(Some(q)));
            vec![n(), st(o, &["storageClassName"]).into(), capacity.into()]
        }
        MutatingWebhook | ValidatingWebhook => {
            vec![n(), (list(o, &["webhooks"]).len() as i64).into(), age()]
        }
        ValidatingAdmissionPolicy => {
            let param_kind = match at(o, &["spec", "paramKind"]) {
                None => "<unset>".to_string(),
                Some(k) => format!("{}/{}", st(k, &["apiVersion"]), st(k, &["kind"])),
            };
            vec![
                n(),
                (list(o, &["spec", "validations"]).len() as i64).into(),
                param_kind.into(),
                age(),
            ]
        }
        ValidatingAdmissionPolicyBinding => {
            let param = match at(o, &["spec", "paramRef"]) {
                None => "<unset>".to_string(),
                Some(r) if !st(r, &["name"]).is_empty() => {
                    let ns = st(r, &["namespace"]);
                    format!(
                        "{}/{}",
                        if ns.is_empty() { "*" } else { ns },
                        st(r, &["name"])
                    )
                }
                Some(r) => match at(r, &["selector"]) {
                    Some(sel) => selector_string(Some(sel)).unwrap_or_else(|| "<error>".into()),
                    None => "<unset>".to_string(),
                },
            };
            vec![
                n(),
                st(o, &["spec", "policyName"]).into(),
                param.into(),
                age(),
            ]
        }
        FlowSchema => {
            let method =
                at(o, &["spec", "distinguisherMethod"]).map_or("<none>", |m| st(m, &["type"]));
            let dangling = list(o, &["status", "conditions"])
                .iter()
                .find(|c| st(c, &["type"]) == "Dangling")
                .map_or("?", |c| st(c, &["status"]));
            vec![
                n(),
                st(o, &["spec", "priorityLevelConfiguration", "name"]).into(),
                int(o, &["spec", "matchingPrecedence"]).into(),
                method.into(),
                age(),
                dangling.into(),
            ]
        }
        PriorityLevel => {
            let none = || Value::from("<none>");
            let (mut shares, mut queues, mut hand, mut limit) = (none(), none(), none(), none());
            if let Some(limited) = at(o, &["spec", "limited"]) {
                shares = int(limited, &["nominalConcurrencyShares"]).into();
                if let Some(q) = at(limited, &["limitResponse", "queuing"]) {
                    queues = int(q, &["queues"]).into();
                    hand = int(q, &["handSize"]).into();
                    limit = int(q, &["queueLengthLimit"]).into();
                }
            }
            vec![
                n(),
                st(o, &["spec", "type"]).into(),
                shares,
                queues,
                hand,
                limit,
                age(),
            ]
        }
        ServiceCidr => {
            let cidrs: Vec<&str> = list(o, &["spec", "cidrs"])
                .iter()
                .filter_map(Value::as_str)
                .collect();
            vec![n(), cidrs.join(",").into(), age()]
        }
        IpAddress => {
            let parent = match at(o, &["spec", "parentRef"]) {
                None => "<none>".to_string(),
                Some(r) => {
                    let (group, resource) = (st(r, &["group"]), st(r, &["resource"]));
                    let mut s = if group.is_empty() {
                        resource.to_string()
                    } else {
                        format!("{resource}.{group}")
                    }
                    .to_lowercase();
                    let ns = st(r, &["namespace"]);
                    if !ns.is_empty() {
                        s = format!("{s}/{ns}");
                    }
                    format!("{s}/{}", st(r, &["name"]))
                }
            };
            vec![n(), parent.into(), age()]
        }
        DeviceClass | ResourceClaimTemplate => vec![n(), age()],
        ResourceSlice => vec![
            n(),
            st(o, &["spec", "nodeName"]).into(),
            st(o, &["spec", "driver"]).into(),
            st(o, &["spec", "pool", "name"]).into(),
            age(),
        ],
        Scale => vec![
            n(),
            int(o, &["spec", "replicas"]).into(),
            int(o, &["status", "replicas"]).into(),
            age(),
        ],
        Default => {
            // Upstream formats the zero time when the timestamp is missing.
            let created = ts(o, &["metadata", "creationTimestamp"]).map_or_else(
                || "0001-01-01T00:00:00Z".to_string(),
                |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
            );
            vec![n(), created.into()]
        }
    }
}

/// Pods that ran to completion carry a `Completed` row condition so that
/// clients can de-emphasise them.
fn row_conditions(p: Printer, o: &Value) -> Option<Value> {
    if p != Printer::Pod {
        return None;
    }
    let (reason, message) = match st(o, &["status", "phase"]) {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{"type": "Completed", "status": "True", "reason": reason, "message": message}]))
}

fn pod_cells(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let init_specs = list(o, &["spec", "initContainers"]);
    let is_sidecar_spec = |c: &Value| st(c, &["restartPolicy"]) == "Always";
    let is_sidecar = |name: &str| {
        init_specs
            .iter()
            .any(|c| st(c, &["name"]) == name && is_sidecar_spec(c))
    };
    let total = list(o, &["spec", "containers"]).len()
        + init_specs.iter().filter(|c| is_sidecar_spec(c)).count();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<DateTime<Utc>> = None;
    let mut last_sidecar_restart: Option<DateTime<Utc>> = None;

    let phase = st(o, &["status", "phase"]);
    let mut reason = str_or(o, &["status", "reason"], phase).to_string();
    let conditions = list(o, &["status", "conditions"]);
    if conditions
        .iter()
        .any(|c| st(c, &["type"]) == "PodScheduled" && st(c, &["reason"]) == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }

    let mut initializing = false;
    for (i, cs) in list(o, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let count = int(cs, &["restartCount"]);
        let finished = ts(cs, &["lastState", "terminated", "finishedAt"]);
        restarts += count;
        bump(&mut last_restart, finished);
        let sidecar = is_sidecar(st(cs, &["name"]));
        if sidecar {
            sidecar_restarts += count;
            bump(&mut last_sidecar_restart, finished);
        }
        let terminated = at(cs, &["state", "terminated"]);
        let waiting = st(cs, &["state", "waiting", "reason"]);
        if terminated.is_some() && int(cs, &["state", "terminated", "exitCode"]) == 0 {
            continue;
        }
        if sidecar && boolean(cs, &["started"]) == Some(true) {
            if boolean(cs, &["ready"]) == Some(true) {
                ready += 1;
            }
            continue;
        }
        reason = if let Some(t) = terminated {
            match st(t, &["reason"]) {
                "" => match int(t, &["signal"]) {
                    0 => format!("Init:ExitCode:{}", int(t, &["exitCode"])),
                    signal => format!("Init:Signal:{signal}"),
                },
                r => format!("Init:{r}"),
            }
        } else if !waiting.is_empty() && waiting != "PodInitializing" {
            format!("Init:{waiting}")
        } else {
            format!("Init:{}/{}", i, init_specs.len())
        };
        initializing = true;
        break;
    }

    if !initializing || condition_true(conditions, "Initialized") {
        // Only sidecars keep counting once the pod is initialized.
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for cs in list(o, &["status", "containerStatuses"]).iter().rev() {
            restarts += int(cs, &["restartCount"]);
            bump(
                &mut last_restart,
                ts(cs, &["lastState", "terminated", "finishedAt"]),
            );
            let waiting = st(cs, &["state", "waiting", "reason"]);
            if !waiting.is_empty() {
                reason = waiting.to_string();
            } else if let Some(t) = at(cs, &["state", "terminated"]) {
                reason = match st(t, &["reason"]) {
                    "" => match int(t, &["signal"]) {
                        0 => format!("ExitCode:{}", int(t, &["exitCode"])),
                        signal => format!("Signal:{signal}"),
                    },
                    r => r.to_string(),
                };
            } else if boolean(cs, &["ready"]) == Some(true)
                && at(cs, &["state", "running"]).is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        // A finished container beside one still running is not a finished pod.
        if reason == "Completed" && has_running {
            reason = if condition_true(conditions, "Ready") {
                "Running"
            } else {
                "NotReady"
            }
            .into();
        }
    }

    if deleting(o) && st(o, &["status", "reason"]) == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting(o) && phase != "Failed" && phase != "Succeeded" {
        reason = "Terminating".into();
    }

    let restarts = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(Some(t), now)),
        _ => restarts.to_string(),
    };

    let ip = list(o, &["status", "podIPs"])
        .first()
        .map(|p| st(p, &["ip"]))
        .filter(|ip| !ip.is_empty())
        .unwrap_or_else(|| st(o, &["status", "podIP"]));
    let gates = list(o, &["spec", "readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let satisfied = gates
            .iter()
            .filter(|g| {
                let ty = st(g, &["conditionType"]);
                conditions
                    .iter()
                    .find(|c| st(c, &["type"]) == ty)
                    .is_some_and(|c| st(c, &["status"]) == "True")
            })
            .count();
        format!("{satisfied}/{}", gates.len())
    };

    vec![
        name(o).into(),
        format!("{ready}/{total}").into(),
        reason.into(),
        restarts.into(),
        age_of(o, now).into(),
        none_if_empty(ip).into(),
        none_if_empty(st(o, &["spec", "nodeName"])).into(),
        none_if_empty(st(o, &["status", "nominatedNodeName"])).into(),
        readiness_gates.into(),
    ]
}

fn job_cells(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let succeeded = int(o, &["status", "succeeded"]);
    let completions = if at(o, &["spec", "completions"]).is_some() {
        format!("{succeeded}/{}", int(o, &["spec", "completions"]))
    } else {
        match int(o, &["spec", "parallelism"]) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        }
    };
    let duration = match (
        ts(o, &["status", "startTime"]),
        ts(o, &["status", "completionTime"]),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(now - start),
        (Some(start), Some(end)) => human_duration(end - start),
    };
    let conditions = list(o, &["status", "conditions"]);
    let status = if job_condition(conditions, "Complete") {
        "Complete"
    } else if job_condition(conditions, "Failed") {
        "Failed"
    } else if deleting(o) {
        "Terminating"
    } else if job_condition(conditions, "Suspended") {
        "Suspended"
    } else if job_condition(conditions, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = template_containers(o);
    vec![
        name(o).into(),
        status.into(),
        completions.into(),
        duration.into(),
        age_of(o, now).into(),
        names.into(),
        images.into(),
        format_label_selector(at(o, &["spec", "selector"])).into(),
    ]
}

/// Upstream looks only at the first condition of the type.
fn job_condition(conditions: &[Value], ty: &str) -> bool {
    conditions
        .iter()
        .find(|c| st(c, &["type"]) == ty)
        .is_some_and(|c| st(c, &["status"]) == "True")
}

fn service_cells(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let ty = str_or(o, &["spec", "type"], "ClusterIP");
    let cluster_ip = list(o, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .unwrap_or_else(|| st(o, &["spec", "clusterIP"]));
    let external_ips: Vec<&str> = list(o, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let external = match ty {
        "ClusterIP" | "NodePort" => {
            if external_ips.is_empty() {
                "<none>".to_string()
            } else {
                external_ips.join(",")
            }
        }
        "LoadBalancer" => {
            let lb = load_balancer_string(at(o, &["status", "loadBalancer"]));
            if !external_ips.is_empty() {
                let mut all: Vec<&str> = if lb.is_empty() {
                    Vec::new()
                } else {
                    lb.split(',').collect()
                };
                all.extend(external_ips.iter().copied());
                all.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => st(o, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    };
    let ports: Vec<String> = list(o, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = int(p, &["port"]);
            let protocol = str_or(p, &["protocol"], "TCP");
            match int(p, &["nodePort"]) {
                np if np > 0 => format!("{port}:{np}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".to_string()
    } else {
        ports.join(",")
    };
    vec![
        name(o).into(),
        ty.into(),
        none_if_empty(cluster_ip).into(),
        external.into(),
        ports.into(),
        age_of(o, now).into(),
        format_labels(at(o, &["spec", "selector"])).into(),
    ]
}

/// Sorted, de-duplicated ingress points. The server prints wide, so the
/// list is never clipped.
fn load_balancer_string(status: Option<&Value>) -> String {
    let Some(status) = status else {
        return String::new();
    };
    let points: BTreeSet<&str> = list(status, &["ingress"])
        .iter()
        .filter_map(|i| {
            let ip = st(i, &["ip"]);
            let host = st(i, &["hostname"]);
            if !ip.is_empty() {
                Some(ip)
            } else if !host.is_empty() {
                Some(host)
            } else {
                None
            }
        })
        .collect();
    points.into_iter().collect::<Vec<_>>().join(",")
}

fn ingress_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut hosts = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == MAX {
            more = true;
        }
        let host = st(rule, &["host"]);
        if !more && !host.is_empty() {
            hosts.push(host);
        }
    }
    if hosts.is_empty() {
        return "*".into();
    }
    let joined = hosts.join(",");
    if more {
        format!("{joined} + {} more...", rules.len() as i64 - MAX as i64)
    } else {
        joined
    }
}

fn format_endpoints(o: &Value) -> String {
    const MAX: usize = 3;
    let subsets = list(o, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".into();
    }
    let mut shown: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for ss in subsets {
        let addresses = list(ss, &["addresses"]);
        let ports = list(ss, &["ports"]);
        if ports.is_empty() {
            // Headless services may have addresses without ports.
            count += addresses.len();
            for a in addresses {
                if shown.len() == MAX {
                    more = true;
                    break;
                }
                shown.push(st(a, &["ip"]).to_string());
            }
            continue;
        }
        for p in ports {
            count += addresses.len();
            for a in addresses {
                if shown.len() == MAX {
                    more = true;
                    break;
                }
                shown.push(join_host_port(st(a, &["ip"]), int(p, &["port"])));
            }
        }
    }
    let joined = shown.join(",");
    if more {
        format!("{joined} + {} more...", count - MAX)
    } else {
        joined
    }
}

/// Go's `net.JoinHostPort`: IPv6 hosts get brackets.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn slice_ports(ports: &[Value]) -> String {
    let shown: Vec<String> = ports
        .iter()
        .map(
            |p| match (at(p, &["port"]), at(p, &["name"]).and_then(Value::as_str)) {
                (Some(_), _) => int(p, &["port"]).to_string(),
                (None, Some(n)) => n.to_string(),
                (None, None) => "*".to_string(),
            },
        )
        .collect();
    list_with_more(shown, 3)
}

fn slice_endpoints(endpoints: &[Value]) -> String {
    let addresses: Vec<String> = endpoints
        .iter()
        .flat_map(|e| {
            list(e, &["addresses"])
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    list_with_more(addresses, 3)
}

fn list_with_more(mut items: Vec<String>, max: usize) -> String {
    let count = items.len();
    if count > max {
        items.truncate(max);
        return format!("{} + {} more...", items.join(","), count - max);
    }
    if items.is_empty() {
        return "<unset>".into();
    }
    items.join(",")
}

fn node_cells(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    // The last Ready condition wins, as upstream collects them into a map.
    let ready = list(o, &["status", "conditions"])
        .iter()
        .rfind(|c| st(c, &["type"]) == "Ready");
    let mut status = vec![match ready {
        Some(c) if st(c, &["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if boolean(o, &["spec", "unschedulable"]) == Some(true) {
        status.push("SchedulingDisabled");
    }

    let mut roles = BTreeSet::new();
    if let Some(labels) = at(o, &["metadata", "labels"]).and_then(Value::as_object) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role.to_string());
                }
            } else if k == "kubernetes.io/role" {
                if let Some(v) = v.as_str().filter(|v| !v.is_empty()) {
                    roles.insert(v.to_string());
                }
            }
        }
    }
    let roles = if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    };

    let address = |ty: &str| {
        list(o, &["status", "addresses"])
            .iter()
            .find(|a| st(a, &["type"]) == ty)
            .map_or("<none>", |a| st(a, &["address"]))
    };
    let info = |field: &str| str_or(o, &["status", "nodeInfo", field], "<unknown>");
    vec![
        name(o).into(),
        status.join(",").into(),
        roles.into(),
        age_of(o, now).into(),
        st(o, &["status", "nodeInfo", "kubeletVersion"]).into(),
        address("InternalIP").into(),
        address("ExternalIP").into(),
        info("osImage").into(),
        info("kernelVersion").into(),
        info("containerRuntimeVersion").into(),
    ]
}

/// Prints core/v1 and events.k8s.io/v1 events alike: upstream converts the
/// latter to the same internal type, so each field falls back to its
/// events.k8s.io name.
fn event_cells(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let field = |core: &str, events: &str| at(o, &[core]).or_else(|| at(o, &[events]));
    let time_of = |v: Option<&Value>| v.and_then(Value::as_str).and_then(parse_time);

    let first = match time_of(field("firstTimestamp", "deprecatedFirstTimestamp")) {
        Some(t) => since(Some(t), now),
        None => since(ts(o, &["eventTime"]), now),
    };
    let mut last = match time_of(field("lastTimestamp", "deprecatedLastTimestamp")) {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let mut count = field("count", "deprecatedCount")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if let Some(series) = at(o, &["series"]) {
        last = since(ts(series, &["lastObservedTime"]), now);
        count = int(series, &["count"]);
    } else if count == 0 {
        // Singleton events carry no count in the new API.
        count = 1;
    }

    let involved = field("involvedObject", "regarding").unwrap_or(&Value::Null);
    let kind = st(involved, &["kind"]).to_lowercase();
    let target = match st(involved, &["name"]) {
        "" => kind,
        n => format!("{kind}/{n}"),
    };
    let source = field("source", "deprecatedSource").unwrap_or(&Value::Null);
    let component = first_non_empty(
        st(source, &["component"]),
        field("reportingComponent", "reportingController")
            .and_then(Value::as_str)
            .unwrap_or(""),
    );
    let instance = first_non_empty(st(source, &["host"]), st(o, &["reportingInstance"]));
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };
    let message = field("message", "note")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim();

    vec![
        last.into(),
        st(o, &["type"]).into(),
        st(o, &["reason"]).into(),
        target.into(),
        st(involved, &["fieldPath"]).into(),
        source.into(),
        message.into(),
        first.into(),
        count.into(),
        name(o).into(),
    ]
}

fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() {
        b
    } else {
        a
    }
}

fn csr_condition(o: &Value) -> String {
    let conditions = list(o, &["status", "conditions"]);
    let has = |ty: &str| conditions.iter().any(|c| st(c, &["type"]) == ty);
    let mut status = if has("Denied") {
        "Denied"
    } else if has("Approved") {
        "Approved"
    } else {
        "Pending"
    }
    .to_string();
    if has("Failed") {
        status.push_str(",Failed");
    }
    if !st(o, &["status", "certificate"]).is_empty() {
        status.push_str(",Issued");
    }
    status
}

fn quota_columns(o: &Value) -> (String, String) {
    let mut resources: Vec<&String> = match at(o, &["status", "hard"]).and_then(Value::as_object) {
        Some(hard) => hard.keys().collect(),
        None => Vec::new(),
    };
    resources.sort();
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    for r in resources {
        let used = quantity(at(o, &["status", "used", r.as_str()]));
        let hard = quantity(at(o, &["status", "hard", r.as_str()]));
        let entry = format!("{r}: {used}/{hard}");
        match r.split_once('.') {
            Some(("limits", _)) => limits.push(entry),
            _ => requests.push(entry),
        }
    }
    (requests.join(", "), limits.join(", "))
}

/// The HPA Targets column. Accepts autoscaling/v2 objects and the v1 shape
/// (`targetCPUUtilizationPercentage`), which upstream converts to one CPU
/// utilization metric before printing.
fn hpa_metrics(o: &Value) -> String {
    let v1_target = at(o, &["spec", "targetCPUUtilizationPercentage"]);
    let (specs, statuses): (Vec<Value>, Vec<Value>) = if at(o, &["spec", "metrics"]).is_none()
        && v1_target.is_some()
    {
        let spec = json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": v1_target}}});
        let status = match at(o, &["status", "currentCPUUtilizationPercentage"]) {
            Some(cur) => vec![
                json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cur}}}),
            ],
            None => Vec::new(),
        };
        (vec![spec], status)
    } else {
        (
            list(o, &["spec", "metrics"]).to_vec(),
            list(o, &["status", "currentMetrics"]).to_vec(),
        )
    };
    if specs.is_empty() {
        return "<none>".into();
    }
    // Nil quantities print as "<nil>", like Go's (*Quantity).String.
    let q = |v: Option<&Value>| v.map_or_else(|| "<nil>".to_string(), |v| quantity(Some(v)));
    let percent = |v: Option<&Value>| v.and_then(Value::as_i64).map(|n| format!("{n}%"));

    let mut shown = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let status = statuses.get(i);
        let status_of = |key: &str| status.and_then(|s| at(s, &[key]));
        let entry = match st(spec, &["type"]) {
            kind @ ("External" | "Object") => {
                let key = if kind == "External" {
                    "external"
                } else {
                    "object"
                };
                let target = at(spec, &[key, "target"]).unwrap_or(&Value::Null);
                let current = status_of(key);
                if let Some(avg) = at(target, &["averageValue"]) {
                    let cur = current
                        .and_then(|c| at(c, &["current", "averageValue"]))
                        .map_or_else(|| "<unknown>".to_string(), |v| quantity(Some(v)));
                    format!("{cur}/{} (avg)", quantity(Some(avg)))
                } else {
                    let cur = current.map_or_else(
                        || "<unknown>".to_string(),
                        |c| q(at(c, &["current", "value"])),
                    );
                    format!("{cur}/{}", q(at(target, &["value"])))
                }
            }
            "Pods" => {
                let cur = status_of("pods").map_or_else(
                    || "<unknown>".to_string(),
                    |c| q(at(c, &["current", "averageValue"])),
                );
                format!("{cur}/{}", q(at(spec, &["pods", "target", "averageValue"])))
            }
            kind @ ("Resource" | "ContainerResource") => {
                let key = if kind == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let source = at(spec, &[key]).unwrap_or(&Value::Null);
                let resource = st(source, &["name"]);
                let current = status_of(key);
                if let Some(avg) = at(source, &["target", "averageValue"]) {
                    let cur = current.map_or_else(
                        || "<unknown>".to_string(),
                        |c| q(at(c, &["current", "averageValue"])),
                    );
                    format!("{resource}: {cur}/{}", quantity(Some(avg)))
                } else {
                    let cur = current
                        .and_then(|c| percent(at(c, &["current", "averageUtilization"])))
                        .unwrap_or_else(|| "<unknown>".into());
                    let target = percent(at(source, &["target", "averageUtilization"]))
                        .unwrap_or_else(|| "<auto>".into());
                    format!("{resource}: {cur}/{target}")
                }
            }
            _ => "<unknown type>".to_string(),
        };
        shown.push(entry);
    }
    const MAX: usize = 2;
    let count = shown.len();
    if count > MAX {
        shown.truncate(MAX);
        return format!("{} + {} more...", shown.join(", "), count - MAX);
    }
    shown.join(", ")
}

// ---------------------------------------------------------------------------
// Embedded objects.

fn embedded_object(o: &Value, include: IncludeObject) -> Value {
    match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Object => o.clone(),
        IncludeObject::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": go_ordered_metadata(o.get("metadata")),
        }),
    }
}

/// ObjectMeta with its keys in the order Go serialises them, including the
/// `creationTimestamp: null` Go writes for a zero timestamp.
fn go_ordered_metadata(meta: Option<&Value>) -> Value {
    const ORDER: [&str; 15] = [
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    ];
    let empty = Map::new();
    let src = meta.and_then(Value::as_object).unwrap_or(&empty);
    let mut out = Map::new();
    for key in ORDER {
        match src.get(key) {
            Some(v) => {
                out.insert(key.into(), v.clone());
            }
            None if key == "creationTimestamp" => {
                out.insert(key.into(), Value::Null);
            }
            None => {}
        }
    }
    for (k, v) in src {
        if !ORDER.contains(&k.as_str()) {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

// ---------------------------------------------------------------------------
// Field access and formatting helpers.

/// The value at `path`, treating JSON null as absent (Go's nil).
fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(v, |v, k| v.get(*k))
        .filter(|v| !v.is_null())
}

/// A string field; absent reads as "" like Go's zero value.
fn st<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    at(v, path).and_then(Value::as_str).unwrap_or("")
}

/// A string field, or `default` when absent or empty.
fn str_or<'a>(v: &'a Value, path: &[&str], default: &'a str) -> &'a str {
    match st(v, path) {
        "" => default,
        s => s,
    }
}

fn int(v: &Value, path: &[&str]) -> i64 {
    at(v, path).and_then(Value::as_i64).unwrap_or(0)
}

fn boolean(v: &Value, path: &[&str]) -> Option<bool> {
    at(v, path).and_then(Value::as_bool)
}

fn list<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn map_len(v: &Value, path: &[&str]) -> i64 {
    at(v, path)
        .and_then(Value::as_object)
        .map_or(0, |m| m.len() as i64)
}

fn name(o: &Value) -> &str {
    st(o, &["metadata", "name"])
}

fn deleting(o: &Value) -> bool {
    at(o, &["metadata", "deletionTimestamp"]).is_some()
}

fn annotation<'a>(o: &'a Value, key: &str) -> Option<&'a str> {
    at(o, &["metadata", "annotations", key]).and_then(Value::as_str)
}

fn is_default_class(o: &Value) -> bool {
    annotation(o, "storageclass.kubernetes.io/is-default-class") == Some("true")
        || annotation(o, "storageclass.beta.kubernetes.io/is-default-class") == Some("true")
}

fn condition_true(conditions: &[Value], ty: &str) -> bool {
    conditions
        .iter()
        .any(|c| st(c, &["type"]) == ty && st(c, &["status"]) == "True")
}

/// `spec.replicas`, which upstream defaults to 1 before anything prints it.
fn replicas(o: &Value) -> i64 {
    at(o, &["spec", "replicas"])
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn ts(v: &Value, path: &[&str]) -> Option<DateTime<Utc>> {
    at(v, path).and_then(Value::as_str).and_then(parse_time)
}

/// Keeps the later of two instants, as upstream tracks the last restart.
fn bump(latest: &mut Option<DateTime<Utc>>, candidate: Option<DateTime<Utc>>) {
    if let Some(c) = candidate {
        if latest.is_none_or(|l| l < c) {
            *latest = Some(c);
        }
    }
}

/// Upstream's `translateTimestampSince`.
fn since(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match t {
        Some(t) => human_duration(now - t),
        None => "<unknown>".into(),
    }
}

fn age_of(o: &Value, now: DateTime<Utc>) -> String {
    since(ts(o, &["metadata", "creationTimestamp"]), now)
}

fn none_if_empty(s: &str) -> &str {
    if s.is_empty() {
        "<none>"
    } else {
        s
    }
}

fn bool_ptr(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    }
}

/// A quantity as stored; Go prints a missing one as "0".
fn quantity(v: Option<&Value>) -> String {
    match v {
        None => "0".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| has(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// Names and images of the containers, each comma-joined.
fn containers(list: &[Value]) -> (String, String) {
    let names: Vec<&str> = list.iter().map(|c| st(c, &["name"])).collect();
    let images: Vec<&str> = list.iter().map(|c| st(c, &["image"])).collect();
    (names.join(","), images.join(","))
}

fn template_containers(o: &Value) -> (String, String) {
    containers(list(o, &["spec", "template", "spec", "containers"]))
}

/// `labels.FormatLabels`: sorted `k=v` pairs, `<none>` when empty.
fn format_labels(map: Option<&Value>) -> String {
    let mut pairs: Vec<String> = map
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    if pairs.is_empty() {
        "<none>".into()
    } else {
        pairs.join(",")
    }
}

/// `metav1.FormatLabelSelector`: `<error>` when invalid, `<none>` when empty.
fn format_label_selector(sel: Option<&Value>) -> String {
    match selector_string(sel) {
        None => "<error>".into(),
        Some(s) if s.is_empty() => "<none>".into(),
        Some(s) => s,
    }
}

/// A `metav1.LabelSelector` rendered as `labels.Selector.String()` does:
/// requirements sorted by key, set values sorted. `None` when invalid.
fn selector_string(sel: Option<&Value>) -> Option<String> {
    let Some(sel) = sel else {
        return Some(String::new());
    };
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(labels) = at(sel, &["matchLabels"]).and_then(Value::as_object) {
        for (k, v) in labels {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or(""))));
        }
    }
    for e in list(sel, &["matchExpressions"]) {
        let key = st(e, &["key"]);
        let mut values: Vec<&str> = list(e, &["values"])
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let rendered = match st(e, &["operator"]) {
            op @ ("In" | "NotIn") => {
                if values.is_empty() {
                    return None;
                }
                values.sort_unstable();
                let word = if op == "In" { "in" } else { "notin" };
                format!("{key} {word} ({})", values.join(","))
            }
            "Exists" if values.is_empty() => key.to_string(),
            "DoesNotExist" if values.is_empty() => format!("!{key}"),
            _ => return None,
        };
        reqs.push((key.to_string(), rendered));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Some(
        reqs.into_iter()
            .map(|(_, r)| r)
            .collect::<Vec<_>>()
            .join(","),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        parse_time("2024-05-01T12:00:00Z").unwrap()
    }

    /// An RFC 3339 timestamp `secs` seconds before [`now`].
    fn ago(secs: i64) -> String {
        (now() - TimeDelta::seconds(secs)).to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    fn strs(cells: &[Value]) -> Vec<String> {
        cells
            .iter()
            .map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_string))
            .collect()
    }

    fn pod(spec: Value, status: Value) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "creationTimestamp": ago(300)},
            "spec": spec, "status": status,
        })
    }

    fn pod_row(p: &Value) -> Vec<String> {
        strs(&row_cells("", "pods", p, now()))
    }

    #[test]
    fn durations_follow_upstream_rules() {
        let cases = [
            (-2, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (59, "59s"),
            (90, "90s"),
            (119, "119s"),
            (120, "2m"),
            (150, "2m30s"),
            (599, "9m59s"),
            (600, "10m"),
            (179 * 60 + 59, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 5 * 60, "3h5m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (53 * 3600, "2d5h"),
            (8 * 86400, "8d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            (735 * 86400, "2y5d"),
            (8 * 365 * 86400, "8y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(TimeDelta::seconds(secs)), want, "{secs}s");
        }
        // Sub-second skew truncates toward zero.
        assert_eq!(human_duration(TimeDelta::milliseconds(-1500)), "0s");
    }

    #[test]
    fn pod_running() {
        let p = pod(
            json!({"containers": [{"name": "a", "image": "busybox"}], "nodeName": "n1"}),
            json!({
                "phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [{"name": "a", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": ago(200)}}}],
            }),
        );
        assert_eq!(
            pod_row(&p),
            ["p", "1/1", "Running", "0", "5m", "10.0.0.5", "n1", "<none>", "<none>"]
        );
    }

    #[test]
    fn pod_pending_and_waiting_reasons() {
        let p = pod(
            json!({"containers": [{"name": "a"}, {"name": "b"}]}),
            json!({"phase": "Pending"}),
        );
        assert_eq!(pod_row(&p)[..4], ["p", "0/2", "Pending", "0"]);
        assert_eq!(pod_row(&p)[5..7], ["<none>", "<none>"]);

        let p = pod(
            json!({"containers": [{"name": "a"}]}),
            json!({"phase": "Pending", "containerStatuses": [{"name": "a", "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
        );
        assert_eq!(pod_row(&p)[2], "ContainerCreating");
    }

    #[test]
    fn pod_init_containers() {
        let spec = json!({"initContainers": [{"name": "i"}], "containers": [{"name": "a"}]});
        let running_init = pod(
            spec.clone(),
            json!({"phase": "Pending",
                "initContainerStatuses": [{"name": "i", "state": {"running": {}}}],
                "containerStatuses": [{"name": "a", "state": {"waiting": {"reason": "PodInitializing"}}}]}),
        );
        assert_eq!(pod_row(&running_init)[1..3], ["0/1", "Init:0/1"]);

        let failed_init = pod(
            spec.clone(),
            json!({"phase": "Pending",
                "initContainerStatuses": [{"name": "i", "restartCount": 2, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}),
        );
        assert_eq!(pod_row(&failed_init)[2..4], ["Init:Error", "2"]);

        let crashing_init = pod(
            spec.clone(),
            json!({"phase": "Pending",
                "initContainerStatuses": [{"name": "i", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
        );
        assert_eq!(pod_row(&crashing_init)[2], "Init:CrashLoopBackOff");

        let initialized = pod(
            spec,
            json!({"phase": "Pending",
                "initContainerStatuses": [{"name": "i", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
                "containerStatuses": [{"name": "a", "state": {"waiting": {"reason": "PodInitializing"}}}]}),
        );
        assert_eq!(pod_row(&initialized)[1..3], ["0/1", "PodInitializing"]);
    }

    #[test]
    fn pod_sidecars_count_towards_ready() {
        let p = pod(
            json!({"initContainers": [{"name": "s", "restartPolicy": "Always"}], "containers": [{"name": "a"}]}),
            json!({"phase": "Running",
                "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
                "initContainerStatuses": [{"name": "s", "started": true, "ready": true, "restartCount": 1,
                    "lastState": {"terminated": {"finishedAt": ago(60)}}, "state": {"running": {}}}],
                "containerStatuses": [{"name": "a", "ready": true, "state": {"running": {}}}]}),
        );
        assert_eq!(pod_row(&p)[1..4], ["2/2", "Running", "1 (60s ago)"]);
    }

    #[test]
    fn pod_crash_loop_restarts_show_last_restart() {
        let p = pod(
            json!({"containers": [{"name": "a"}]}),
            json!({"phase": "Running", "containerStatuses": [{
                "name": "a", "ready": false, "restartCount": 5,
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(150)}},
                "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
        );
        assert_eq!(
            pod_row(&p)[1..4],
            ["0/1", "CrashLoopBackOff", "5 (2m30s ago)"]
        );
    }

    #[test]
    fn pod_completed_terminating_and_exit_codes() {
        let done = pod(
            json!({"containers": [{"name": "a"}]}),
            json!({"phase": "Succeeded", "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
        );
        assert_eq!(pod_row(&done)[1..3], ["0/1", "Completed"]);
        let table = to_table(
            "",
            "pods",
            &[done],
            "7",
            None,
            None,
            IncludeObject::None,
            now(),
        );
        assert_eq!(table["rows"][0]["conditions"][0]["reason"], "Succeeded");
        assert_eq!(table["rows"][0]["object"], Value::Null);

        let mut deleting = pod(
            json!({"containers": [{"name": "a"}]}),
            json!({"phase": "Running", "containerStatuses": [{"name": "a", "ready": true, "state": {"running": {}}}]}),
        );
        deleting["metadata"]["deletionTimestamp"] = json!(ago(1));
        assert_eq!(pod_row(&deleting)[2], "Terminating");

        let signalled = pod(
            json!({"containers": [{"name": "a"}]}),
            json!({"phase": "Failed", "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}),
        );
        assert_eq!(pod_row(&signalled)[2], "Signal:9");

        let one_done_one_running = pod(
            json!({"containers": [{"name": "a"}, {"name": "b"}]}),
            json!({"phase": "Running", "containerStatuses": [
                {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "b", "ready": true, "state": {"running": {}}}]}),
        );
        assert_eq!(pod_row(&one_done_one_running)[1..3], ["1/2", "NotReady"]);
    }

    #[test]
    fn pod_readiness_gates_and_nominated_node() {
        let p = pod(
            json!({"containers": [{"name": "a"}], "readinessGates": [{"conditionType": "x/one"}, {"conditionType": "x/two"}]}),
            json!({"phase": "Pending", "nominatedNodeName": "n2", "conditions": [{"type": "x/one", "status": "True"}]}),
        );
        assert_eq!(pod_row(&p)[7..], ["n2", "1/2"]);
    }

    fn service(spec: Value, status: Value) -> Vec<String> {
        let svc = json!({"metadata": {"name": "s", "creationTimestamp": ago(30)}, "spec": spec, "status": status});
        strs(&row_cells("", "services", &svc, now()))
    }

    #[test]
    fn services_ports_and_external_ips() {
        assert_eq!(
            service(
                json!({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "selector": {"b": "2", "a": "1"},
                    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}),
                json!({}),
            ),
            [
                "s",
                "ClusterIP",
                "10.96.0.10",
                "<none>",
                "53/UDP,53/TCP",
                "30s",
                "a=1,b=2"
            ]
        );
        assert_eq!(
            service(
                json!({"type": "NodePort", "clusterIP": "10.96.0.11", "ports": [{"port": 80, "nodePort": 30080}]}),
                json!({})
            )[2..5],
            ["10.96.0.11", "<none>", "80:30080/TCP"]
        );
        assert_eq!(
            service(
                json!({"type": "LoadBalancer", "clusterIP": "10.96.0.12", "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"}]}),
                json!({})
            )[3],
            "<pending>"
        );
        assert_eq!(
            service(
                json!({"type": "LoadBalancer", "clusterIP": "10.96.0.12", "externalIPs": ["9.9.9.9"]}),
                json!({"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}, {"hostname": "lb.example.com"}, {"ip": "1.2.3.4"}]}}),
            )[3..5],
            ["1.2.3.4,5.6.7.8,lb.example.com,9.9.9.9", "<none>"]
        );
        assert_eq!(
            service(
                json!({"type": "ExternalName", "externalName": "db.example.com"}),
                json!({})
            )[1..4],
            ["ExternalName", "<none>", "db.example.com"]
        );
        assert_eq!(
            service(
                json!({"clusterIP": "None", "externalIPs": ["1.1.1.1"]}),
                json!({})
            )[1..4],
            ["ClusterIP", "None", "1.1.1.1"]
        );
    }

    #[test]
    fn deployments() {
        let d = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(3 * 86400 + 3600)},
            "spec": {"replicas": 3,
                "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]},
                "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}, {"name": "side", "image": "busybox"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
        });
        let cells = row_cells("apps", "deployments", &d, now());
        assert_eq!(cells[..4], [json!("web"), json!("2/3"), json!(3), json!(2)]);
        assert_eq!(
            strs(&cells[4..]),
            [
                "3d1h",
                "nginx,side",
                "nginx:1.25,busybox",
                "app=web,tier in (a,b)"
            ]
        );

        let empty = json!({"metadata": {"name": "e"}, "spec": {"selector": {}}, "status": {}});
        assert_eq!(
            strs(&row_cells("apps", "deployments", &empty, now())),
            ["e", "0/1", "0", "0", "<unknown>", "", "", ""]
        );

        let names: Vec<_> = column_definitions("apps", "deployments")
            .iter()
            .map(|c| c["name"].clone())
            .collect();
        assert_eq!(
            names,
            [
                "Name",
                "Ready",
                "Up-to-date",
                "Available",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(column_definitions("apps", "deployments")[5]["priority"], 1);
    }

    #[test]
    fn nodes() {
        let n = json!({
            "metadata": {"name": "n1", "creationTimestamp": ago(600), "labels": {
                "node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": "", "kubernetes.io/role": "infra"}},
            "spec": {"unschedulable": true},
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "192.168.1.10"}],
                "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian GNU/Linux 12", "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.6.20"}},
        });
        assert_eq!(
            strs(&row_cells("", "nodes", &n, now())),
            [
                "n1",
                "Ready,SchedulingDisabled",
                "control-plane,infra,worker",
                "10m",
                "v1.33.0",
                "192.168.1.10",
                "<none>",
                "Debian GNU/Linux 12",
                "6.1.0",
                "containerd://1.6.20"
            ]
        );
        let not_ready = json!({"metadata": {"name": "n2"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
        assert_eq!(
            strs(&row_cells("", "nodes", &not_ready, now()))[1..3],
            ["NotReady", "<none>"]
        );
        let fresh = json!({"metadata": {"name": "n3"}});
        assert_eq!(
            strs(&row_cells("", "nodes", &fresh, now()))[7..],
            ["<unknown>", "<unknown>", "<unknown>"]
        );
        assert_eq!(strs(&row_cells("", "nodes", &fresh, now()))[1], "Unknown");
    }

    #[test]
    fn jobs_and_events() {
        let job = json!({
            "metadata": {"name": "j", "creationTimestamp": ago(100)},
            "spec": {"completions": 3, "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
            "status": {"succeeded": 3, "startTime": ago(100), "completionTime": ago(40),
                "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]},
        });
        assert_eq!(
            strs(&row_cells("batch", "jobs", &job, now()))[..5],
            ["j", "Complete", "3/3", "60s", "100s"]
        );

        let event = json!({
            "metadata": {"name": "p.17a", "creationTimestamp": ago(30)},
            "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{a}"},
            "reason": "Pulled", "message": "Pulled image \n", "type": "Normal",
            "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": ago(200), "lastTimestamp": ago(30), "count": 4,
        });
        assert_eq!(
            strs(&row_cells("", "events", &event, now())),
            [
                "30s",
                "Normal",
                "Pulled",
                "pod/p",
                "spec.containers{a}",
                "kubelet, n1",
                "Pulled image",
                "3m20s",
                "4",
                "p.17a"
            ]
        );
        let new_api = json!({
            "metadata": {"name": "e"}, "eventTime": "2024-05-01T11:59:00.000000Z", "reportingController": "sched",
            "regarding": {"kind": "Pod", "name": "q"}, "note": "Scheduled", "type": "Normal", "reason": "Scheduled",
        });
        assert_eq!(
            strs(&row_cells("events.k8s.io", "events", &new_api, now())),
            [
                "60s",
                "Normal",
                "Scheduled",
                "pod/q",
                "",
                "sched",
                "Scheduled",
                "60s",
                "1",
                "e"
            ]
        );
    }

    #[test]
    fn tables_have_upstream_shape() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"namespace": "d", "name": "c", "uid": "u", "creationTimestamp": ago(5)}, "data": {"a": "1"}});
        let t = to_table(
            "",
            "configmaps",
            std::slice::from_ref(&cm),
            "42",
            Some("tok"),
            Some(3),
            IncludeObject::Metadata,
            now(),
        );
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(
            t["metadata"],
            json!({"resourceVersion": "42", "continue": "tok", "remainingItemCount": 3})
        );
        assert_eq!(t["columnDefinitions"][0]["format"], "name");
        assert_eq!(t["rows"][0]["cells"], json!(["c", 1, "5s"]));
        let partial = &t["rows"][0]["object"];
        assert_eq!(partial["kind"], "PartialObjectMetadata");
        let keys: Vec<_> = partial["metadata"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["name", "namespace", "uid", "creationTimestamp"]);

        let full = to_table(
            "",
            "configmaps",
            std::slice::from_ref(&cm),
            "42",
            None,
            None,
            IncludeObject::Object,
            now(),
        );
        assert_eq!(full["rows"][0]["object"], cm);

        // No printer: Name and Created At, the latter an RFC 3339 cell.
        let role = json!({"metadata": {"name": "r", "creationTimestamp": "2024-04-30T12:00:00Z"}});
        let t = to_table(
            "rbac.authorization.k8s.io",
            "roles",
            &[role],
            "1",
            None,
            None,
            IncludeObject::None,
            now(),
        );
        assert_eq!(t["columnDefinitions"][1]["name"], "Created At");
        assert_eq!(t["columnDefinitions"][1]["type"], "date");
        assert_eq!(t["rows"][0]["cells"], json!(["r", "2024-04-30T12:00:00Z"]));
        let empty = to_table(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            &[],
            "1",
            None,
            None,
            IncludeObject::Metadata,
            now(),
        );
        assert_eq!(empty["rows"], Value::Null);
        assert_eq!(
            to_table(
                "",
                "pods",
                &[],
                "1",
                None,
                None,
                IncludeObject::Metadata,
                now()
            )["rows"],
            json!([])
        );

        assert_eq!(IncludeObject::from_query(""), Some(IncludeObject::Metadata));
        assert_eq!(IncludeObject::from_query("None"), Some(IncludeObject::None));
        assert_eq!(IncludeObject::from_query("bogus"), None);
    }

    #[test]
    fn every_printer_fills_its_columns() {
        let obj = json!({"metadata": {"name": "x", "creationTimestamp": ago(1)}});
        let resources = [
            ("", "pods"),
            ("", "podtemplates"),
            ("", "replicationcontrollers"),
            ("", "services"),
            ("", "endpoints"),
            ("", "nodes"),
            ("", "events"),
            ("", "namespaces"),
            ("", "secrets"),
            ("", "serviceaccounts"),
            ("", "persistentvolumes"),
            ("", "persistentvolumeclaims"),
            ("", "componentstatuses"),
            ("", "configmaps"),
            ("", "resourcequotas"),
            ("apps", "deployments"),
            ("apps", "replicasets"),
            ("apps", "statefulsets"),
            ("apps", "daemonsets"),
            ("apps", "controllerrevisions"),
            ("batch", "jobs"),
            ("batch", "cronjobs"),
            ("autoscaling", "horizontalpodautoscalers"),
            ("policy", "poddisruptionbudgets"),
            ("networking.k8s.io", "ingresses"),
            ("networking.k8s.io", "ingressclasses"),
            ("networking.k8s.io", "networkpolicies"),
            ("networking.k8s.io", "servicecidrs"),
            ("discovery.k8s.io", "endpointslices"),
            ("coordination.k8s.io", "leases"),
            ("coordination.k8s.io", "leasecandidates"),
            ("rbac.authorization.k8s.io", "rolebindings"),
            ("rbac.authorization.k8s.io", "clusterrolebindings"),
            ("certificates.k8s.io", "certificatesigningrequests"),
            ("certificates.k8s.io", "clustertrustbundles"),
            ("scheduling.k8s.io", "priorityclasses"),
            ("storage.k8s.io", "storageclasses"),
            ("storage.k8s.io", "volumeattachments"),
            ("storage.k8s.io", "csinodes"),
            ("storage.k8s.io", "csidrivers"),
            ("storage.k8s.io", "csistoragecapacities"),
            ("node.k8s.io", "runtimeclasses"),
            (
                "admissionregistration.k8s.io",
                "mutatingwebhookconfigurations",
            ),
            (
                "admissionregistration.k8s.io",
                "validatingwebhookconfigurations",
            ),
            (
                "admissionregistration.k8s.io",
                "validatingadmissionpolicies",
            ),
            (
                "admissionregistration.k8s.io",
                "validatingadmissionpolicybindings",
            ),
            ("flowcontrol.apiserver.k8s.io", "flowschemas"),
            (
                "flowcontrol.apiserver.k8s.io",
                "prioritylevelconfigurations",
            ),
            ("resource.k8s.io", "deviceclasses"),
            ("resource.k8s.io", "resourceclaimtemplates"),
            ("resource.k8s.io", "resourceslices"),
            ("apps", "deployments/scale"),
            ("", "limitranges"),
        ];
        for (g, r) in resources {
            assert_eq!(
                row_cells(g, r, &obj, now()).len(),
                column_definitions(g, r).len(),
                "{g}/{r}"
            );
        }
    }

    #[test]
    fn other_printers_spot_checks() {
        let pvc = json!({"metadata": {"name": "data", "creationTimestamp": ago(10)},
            "spec": {"volumeName": "pv1", "storageClassName": "fast", "volumeMode": "Filesystem"},
            "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"]}});
        assert_eq!(
            strs(&row_cells("", "persistentvolumeclaims", &pvc, now())),
            [
                "data",
                "Bound",
                "pv1",
                "10Gi",
                "RWO,RWX",
                "fast",
                "<unset>",
                "10s",
                "Filesystem"
            ]
        );
        let rb = json!({"metadata": {"name": "rb"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "namespace": "ns", "name": "sa"}, {"kind": "User", "name": "bob"}]});
        assert_eq!(
            strs(&row_cells(
                "rbac.authorization.k8s.io",
                "rolebindings",
                &rb,
                now()
            )),
            [
                "rb",
                "ClusterRole/view",
                "<unknown>",
                "alice, bob",
                "",
                "ns/sa"
            ]
        );
        let sc = json!({"metadata": {"name": "std", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "p"});
        assert_eq!(
            row_cells("storage.k8s.io", "storageclasses", &sc, now())[..5],
            [
                json!("std (default)"),
                json!("p"),
                json!("Delete"),
                json!("Immediate"),
                json!(false)
            ]
        );
        let cj = json!({"metadata": {"name": "cj"}, "spec": {"schedule": "*/5 * * * *", "suspend": false}, "status": {"lastScheduleTime": ago(125)}});
        assert_eq!(
            strs(&row_cells("batch", "cronjobs", &cj, now()))[1..6],
            ["*/5 * * * *", "<none>", "False", "0", "2m5s"]
        );
        let ep = json!({"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}], "ports": [{"port": 80}, {"port": 443}]}]});
        assert_eq!(
            strs(&row_cells("", "endpoints", &ep, now()))[1],
            "10.0.0.1:80,[fd00::1]:80,10.0.0.1:443 + 1 more..."
        );
        let hpa = json!({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]},
            "status": {"currentReplicas": 2, "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12}}}]}});
        assert_eq!(
            strs(&row_cells(
                "autoscaling",
                "horizontalpodautoscalers",
                &hpa,
                now()
            ))[1..6],
            ["Deployment/web", "cpu: 12%/50%", "1", "5", "2"]
        );
        let cr = json!({"metadata": {"name": "r1", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "controller": true}]}, "revision": 2});
        assert_eq!(
            row_cells("apps", "controllerrevisions", &cr, now())[1..3],
            [json!("daemonset.apps/ds"), json!(2)]
        );
    }
}
