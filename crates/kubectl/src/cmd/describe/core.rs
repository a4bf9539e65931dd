//! Services, Nodes, Namespaces, ConfigMaps, Secrets, and the generic
//! describer for every other kind.

use std::collections::BTreeMap;

use apimachinery::quantity::Quantity;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Event, LimitRange, Namespace, Node, Pod, ResourceQuota, Secret, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use super::format::{self, rfc1123z};
use super::writer::Writer;

/// `labels.FormatLabels`: `k=v,...` or `<none>`.
fn join_labels(m: Option<&BTreeMap<String, String>>) -> String {
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

/// `describeService`.
pub fn describe_service(s: &Service, slices: &[EndpointSlice], events: Option<&[Event]>) -> String {
    let mut w = Writer::new();
    let spec = s.spec.clone().unwrap_or_default();
    let status = s.status.clone().unwrap_or_default();
    w.write(
        0,
        &format!(
            "Name:\t{}\n",
            s.metadata.name.as_deref().unwrap_or_default()
        ),
    );
    w.write(
        0,
        &format!(
            "Namespace:\t{}\n",
            s.metadata.namespace.as_deref().unwrap_or_default()
        ),
    );
    format::labels(&mut w, "Labels", s.metadata.labels.as_ref());
    format::annotations(&mut w, "Annotations", s.metadata.annotations.as_ref());
    w.write(
        0,
        &format!("Selector:\t{}\n", join_labels(spec.selector.as_ref())),
    );
    w.write(
        0,
        &format!("Type:\t{}\n", spec.type_.as_deref().unwrap_or_default()),
    );
    if let Some(p) = &spec.ip_family_policy {
        w.write(0, &format!("IP Family Policy:\t{p}\n"));
    }
    match spec.ip_families.as_ref().filter(|v| !v.is_empty()) {
        Some(f) => w.write(0, &format!("IP Families:\t{}\n", f.join(","))),
        None => w.write(0, "IP Families:\t<none>\n"),
    }
    w.write(
        0,
        &format!("IP:\t{}\n", spec.cluster_ip.as_deref().unwrap_or_default()),
    );
    match spec.cluster_ips.as_ref().filter(|v| !v.is_empty()) {
        Some(ips) => w.write(0, &format!("IPs:\t{}\n", ips.join(","))),
        None => w.write(0, "IPs:\t<none>\n"),
    }
    if let Some(e) = spec.external_ips.as_ref().filter(|v| !v.is_empty()) {
        w.write(0, &format!("External IPs:\t{}\n", e.join(",")));
    }
    if let Some(ip) = spec.load_balancer_ip.as_deref().filter(|s| !s.is_empty()) {
        w.write(0, &format!("Desired LoadBalancer IP:\t{ip}\n"));
    }
    if let Some(n) = spec.external_name.as_deref().filter(|s| !s.is_empty()) {
        w.write(0, &format!("External Name:\t{n}\n"));
    }
    let ingress = status
        .load_balancer
        .and_then(|l| l.ingress)
        .unwrap_or_default();
    if !ingress.is_empty() {
        let list: Vec<String> = ingress
            .iter()
            .map(|i| match i.ip.as_deref().filter(|s| !s.is_empty()) {
                Some(ip) => match &i.ip_mode {
                    Some(m) => format!("{ip} ({m})"),
                    None => ip.to_string(),
                },
                None => i.hostname.clone().unwrap_or_default(),
            })
            .collect();
        w.write(0, &format!("LoadBalancer Ingress:\t{}\n", list.join(", ")));
    }
    for p in spec.ports.iter().flatten() {
        let name = p
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "<unset>".into());
        let proto = p.protocol.clone().unwrap_or_else(|| "TCP".into());
        w.write(0, &format!("Port:\t{name}\t{}/{proto}\n", p.port));
        match &p.target_port {
            Some(IntOrString::String(s)) => w.write(0, &format!("TargetPort:\t{s}/{proto}\n")),
            Some(IntOrString::Int(i)) => w.write(0, &format!("TargetPort:\t{i}/{proto}\n")),
            None => w.write(0, &format!("TargetPort:\t0/{proto}\n")),
        }
        if let Some(np) = p.node_port.filter(|n| *n != 0) {
            w.write(0, &format!("NodePort:\t{name}\t{np}/{proto}\n"));
        }
        w.write(
            0,
            &format!(
                "Endpoints:\t{}\n",
                endpoints(slices, p.name.as_deref().unwrap_or_default())
            ),
        );
    }
    w.write(
        0,
        &format!(
            "Session Affinity:\t{}\n",
            spec.session_affinity.as_deref().unwrap_or_default()
        ),
    );
    if let Some(p) = spec
        .external_traffic_policy
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        w.write(0, &format!("External Traffic Policy:\t{p}\n"));
    }
    if let Some(p) = &spec.internal_traffic_policy {
        w.write(0, &format!("Internal Traffic Policy:\t{p}\n"));
    }
    if let Some(h) = spec.health_check_node_port.filter(|n| *n != 0) {
        w.write(0, &format!("HealthCheck NodePort:\t{h}\n"));
    }
    if let Some(r) = spec
        .load_balancer_source_ranges
        .as_ref()
        .filter(|v| !v.is_empty())
    {
        w.write(
            0,
            &format!("LoadBalancer Source Ranges:\t{}\n", r.join(",")),
        );
    }
    if let Some(ev) = events {
        format::events(&mut w, ev);
    }
    w.finish()
}

/// `formatEndpointSlices` for one service port name: at most three
/// ready `host:port` entries, then `+ N more...`.
pub fn endpoints(slices: &[EndpointSlice], port_name: &str) -> String {
    if slices.is_empty() {
        return "<none>".into();
    }
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0;
    let ready = |e: &k8s_openapi::api::discovery::v1::Endpoint| {
        e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true)
    };
    for s in slices {
        let ports = s.ports.as_deref().unwrap_or_default();
        if ports.is_empty() {
            for e in &s.endpoints {
                if list.len() == MAX {
                    more = true;
                }
                if !ready(e) {
                    continue;
                }
                if !more {
                    list.push(e.addresses.first().cloned().unwrap_or_default());
                }
                count += 1;
            }
            continue;
        }
        for p in ports {
            if p.name.as_deref().unwrap_or_default() != port_name {
                continue;
            }
            for e in &s.endpoints {
                if list.len() == MAX {
                    more = true;
                }
                if !ready(e) {
                    continue;
                }
                if !more {
                    let addr = e.addresses.first().cloned().unwrap_or_default();
                    let port = p.port.unwrap_or(0);
                    list.push(if addr.contains(':') {
                        format!("[{addr}]:{port}")
                    } else {
                        format!("{addr}:{port}")
                    });
                }
                count += 1;
            }
        }
    }
    let ret = list.join(",");
    if more {
        format!("{ret} + {} more...", count - MAX)
    } else {
        ret
    }
}

/// What `describe node` shows besides the node.
pub struct NodeExtras {
    /// Non-terminated pods on the node; `None` when listing was forbidden.
    pub pods: Option<Vec<Pod>>,
    /// The node's lease, or the error fetching it.
    pub lease: Result<Lease, String>,
}

/// `describeNode`.
pub fn describe_node(n: &Node, extras: &NodeExtras, events: Option<&[Event]>) -> String {
    let mut w = Writer::new();
    let spec = n.spec.clone().unwrap_or_default();
    let status = n.status.clone().unwrap_or_default();
    w.write(
        0,
        &format!(
            "Name:\t{}\n",
            n.metadata.name.as_deref().unwrap_or_default()
        ),
    );
    let roles = node_roles(n.metadata.labels.as_ref());
    if roles.is_empty() {
        w.write(0, "Roles:\t<none>\n");
    } else {
        w.write(0, &format!("Roles:\t{}\n", roles.join(",")));
    }
    format::labels(&mut w, "Labels", n.metadata.labels.as_ref());
    format::annotations(&mut w, "Annotations", n.metadata.annotations.as_ref());
    w.write(
        0,
        &format!(
            "CreationTimestamp:\t{}\n",
            format::time_or_zero(n.metadata.creation_timestamp.as_ref())
        ),
    );
    format::taints(&mut w, "Taints", spec.taints.as_deref().unwrap_or_default());
    w.write(
        0,
        &format!("Unschedulable:\t{}\n", spec.unschedulable.unwrap_or(false)),
    );
    match &extras.lease {
        Ok(l) => {
            let ls = l.spec.clone().unwrap_or_default();
            w.write(0, "Lease:\n");
            w.write(
                1,
                &format!(
                    "HolderIdentity:\t{}\n",
                    ls.holder_identity.as_deref().unwrap_or("<unset>")
                ),
            );
            w.write(
                1,
                &format!(
                    "AcquireTime:\t{}\n",
                    ls.acquire_time
                        .as_ref()
                        .map_or("<unset>".into(), |t| rfc1123z(&t.0))
                ),
            );
            w.write(
                1,
                &format!(
                    "RenewTime:\t{}\n",
                    ls.renew_time
                        .as_ref()
                        .map_or("<unset>".into(), |t| rfc1123z(&t.0))
                ),
            );
        }
        Err(e) => w.write(0, &format!("Lease:\tFailed to get lease: {e}\n")),
    }
    let conds = status.conditions.clone().unwrap_or_default();
    if !conds.is_empty() {
        w.write(
            0,
            "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n",
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
                    format::time_or_zero(c.last_heartbeat_time.as_ref()),
                    format::time_or_zero(c.last_transition_time.as_ref()),
                    c.reason.as_deref().unwrap_or_default(),
                    c.message.as_deref().unwrap_or_default()
                ),
            );
        }
    }
    w.write(0, "Addresses:\n");
    for a in status.addresses.iter().flatten() {
        w.write(1, &format!("{}:\t{}\n", a.type_, a.address));
    }
    let capacity = status.capacity.clone().unwrap_or_default();
    let allocatable = status.allocatable.clone().unwrap_or_default();
    for (title, list) in [("Capacity", &capacity), ("Allocatable", &allocatable)] {
        if list.is_empty() {
            continue;
        }
        w.write(0, &format!("{title}:\n"));
        for (k, q) in list {
            w.write(0, &format!("  {k}:\t{}\n", format::quantity(&q.0)));
        }
    }
    let info = status.node_info.clone().unwrap_or_default();
    w.write(0, "System Info:\n");
    for (k, v) in [
        ("Machine ID", &info.machine_id),
        ("System UUID", &info.system_uuid),
        ("Boot ID", &info.boot_id),
        ("Kernel Version", &info.kernel_version),
        ("OS Image", &info.os_image),
        ("Operating System", &info.operating_system),
        ("Architecture", &info.architecture),
        ("Container Runtime Version", &info.container_runtime_version),
        ("Kubelet Version", &info.kubelet_version),
        ("Kube-Proxy Version", &info.kube_proxy_version),
    ] {
        w.write(0, &format!("  {k}:\t{v}\n"));
    }
    if let Some(c) = spec.pod_cidr.as_deref().filter(|s| !s.is_empty()) {
        w.write(0, &format!("PodCIDR:\t{c}\n"));
    }
    if let Some(c) = spec.pod_cidrs.as_ref().filter(|v| !v.is_empty()) {
        w.write(0, &format!("PodCIDRs:\t{}\n", c.join(",")));
    }
    if let Some(p) = spec.provider_id.as_deref().filter(|s| !s.is_empty()) {
        w.write(0, &format!("ProviderID:\t{p}\n"));
    }
    match &extras.pods {
        Some(pods) => {
            let alloc = if allocatable.is_empty() {
                &capacity
            } else {
                &allocatable
            };
            node_resources(&mut w, pods, alloc);
        }
        None => w.write(0, "Pods:\tnot authorized\n"),
    }
    if let Some(ev) = events {
        format::events(&mut w, ev);
    }
    w.finish()
}

/// `findNodeRoles`: `node-role.kubernetes.io/<role>` keys and the value of
/// `kubernetes.io/role`, sorted.
fn node_roles(labels: Option<&BTreeMap<String, String>>) -> Vec<String> {
    let mut roles = std::collections::BTreeSet::new();
    for (k, v) in labels.into_iter().flatten() {
        if let Some(r) = k.strip_prefix("node-role.kubernetes.io/") {
            if !r.is_empty() {
                roles.insert(r.to_string());
            }
        } else if k == "kubernetes.io/role" && !v.is_empty() {
            roles.insert(v.clone());
        }
    }
    roles.into_iter().collect()
}

type Resources = BTreeMap<String, Quantity>;

fn add_into(acc: &mut Resources, name: &str, q: &Quantity) {
    let sum = match acc.get(name) {
        Some(p) => p.checked_add(q).unwrap_or_else(|| q.clone()),
        None => q.clone(),
    };
    acc.insert(name.to_string(), sum);
}

fn parse_list(
    l: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) -> Resources {
    l.into_iter()
        .flatten()
        .filter_map(|(k, v)| Quantity::parse(&v.0).ok().map(|q| (k.clone(), q)))
        .collect()
}

/// `resourcehelper.PodRequestsAndLimits`: the sum over app containers, at
/// least the largest init container, plus pod overhead.
pub fn pod_requests_and_limits(pod: &Pod) -> (Resources, Resources) {
    let spec = pod.spec.clone().unwrap_or_default();
    let mut reqs = Resources::new();
    let mut limits = Resources::new();
    if let Some(r) = &spec.resources {
        reqs = parse_list(r.requests.as_ref());
        limits = parse_list(r.limits.as_ref());
    } else {
        for c in &spec.containers {
            let r = c.resources.clone().unwrap_or_default();
            for (k, q) in parse_list(r.requests.as_ref()) {
                add_into(&mut reqs, &k, &q);
            }
            for (k, q) in parse_list(r.limits.as_ref()) {
                add_into(&mut limits, &k, &q);
            }
        }
        for c in spec.init_containers.iter().flatten() {
            let r = c.resources.clone().unwrap_or_default();
            for (acc, list) in [
                (&mut reqs, parse_list(r.requests.as_ref())),
                (&mut limits, parse_list(r.limits.as_ref())),
            ] {
                for (k, q) in list {
                    if acc.get(&k).is_none_or(|cur| q > *cur) {
                        acc.insert(k, q);
                    }
                }
            }
        }
    }
    for (k, q) in parse_list(spec.overhead.as_ref()) {
        add_into(&mut reqs, &k, &q);
        if limits.contains_key(&k) {
            add_into(&mut limits, &k, &q);
        }
    }
    (reqs, limits)
}

fn pct(part: &Quantity, whole: i128, milli: bool) -> i64 {
    if whole == 0 {
        return 0;
    }
    let p = if milli {
        part.milli_value()
    } else {
        part.value()
    };
    (p as f64 / whole as f64 * 100.0) as i64
}

/// `describeNodeResource`.
fn node_resources(
    w: &mut Writer,
    pods: &[Pod],
    alloc: &BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
) {
    let alloc = parse_list(Some(alloc));
    let zero = Quantity::default();
    let get = |m: &Resources, k: &str| m.get(k).cloned().unwrap_or_else(|| zero.clone());
    let cpu = get(&alloc, "cpu").milli_value();
    let mem = get(&alloc, "memory").value();
    let eph = get(&alloc, "ephemeral-storage").value();
    w.write(
        0,
        &format!("Non-terminated Pods:\t({} in total)\n", pods.len()),
    );
    w.write(
        1,
        "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n",
    );
    w.write(
        1,
        "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n",
    );
    let mut total_req = Resources::new();
    let mut total_lim = Resources::new();
    for p in pods {
        let (req, lim) = pod_requests_and_limits(p);
        for (k, q) in &req {
            add_into(&mut total_req, k, q);
        }
        for (k, q) in &lim {
            add_into(&mut total_lim, k, q);
        }
        let (cr, cl, mr, ml) = (
            get(&req, "cpu"),
            get(&lim, "cpu"),
            get(&req, "memory"),
            get(&lim, "memory"),
        );
        // Go divides by zero here into NaN/Inf and prints whatever int64 makes of it.
        let fr = |q: &Quantity, whole: i128, milli: bool| -> i64 {
            if whole == 0 {
                i64::MIN
            } else {
                pct(q, whole, milli)
            }
        };
        w.write(
            1,
            &format!(
                "{}\t{}\t\t{cr} ({}%)\t{cl} ({}%)\t{mr} ({}%)\t{ml} ({}%)\t{}\n",
                p.metadata.namespace.as_deref().unwrap_or_default(),
                p.metadata.name.as_deref().unwrap_or_default(),
                fr(&cr, cpu, true),
                fr(&cl, cpu, true),
                fr(&mr, mem, false),
                fr(&ml, mem, false),
                format::since(p.metadata.creation_timestamp.as_ref().map(|t| &t.0))
            ),
        );
    }
    w.write(
        0,
        "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n",
    );
    w.write(1, "Resource\tRequests\tLimits\n");
    w.write(1, "--------\t--------\t------\n");
    for (name, whole, milli) in [
        ("cpu", cpu, true),
        ("memory", mem, false),
        ("ephemeral-storage", eph, false),
    ] {
        let r = get(&total_req, name);
        let l = get(&total_lim, name);
        w.write(
            1,
            &format!(
                "{name}\t{r} ({}%)\t{l} ({}%)\n",
                pct(&r, whole, milli),
                pct(&l, whole, milli)
            ),
        );
    }
    let standard = |n: &str| {
        matches!(n, "cpu" | "memory" | "ephemeral-storage" | "pods") || n.starts_with("hugepages-")
    };
    for (name, a) in &alloc {
        if let Some(_size) = name.strip_prefix("hugepages-") {
            let r = get(&total_req, name);
            let l = get(&total_lim, name);
            let whole = a.value();
            w.write(
                1,
                &format!(
                    "{name}\t{r} ({}%)\t{l} ({}%)\n",
                    pct(&r, whole, false),
                    pct(&l, whole, false)
                ),
            );
        }
    }
    for name in alloc.keys() {
        if !standard(name) {
            w.write(
                1,
                &format!(
                    "{name}\t{}\t{}\n",
                    get(&total_req, name),
                    get(&total_lim, name)
                ),
            );
        }
    }
}

/// `describeNamespace`; `None` lists mean the server has no such resource.
pub fn describe_namespace(
    ns: &Namespace,
    quotas: Option<&[ResourceQuota]>,
    limits: Option<&[LimitRange]>,
) -> String {
    let mut w = Writer::new();
    w.write(
        0,
        &format!(
            "Name:\t{}\n",
            ns.metadata.name.as_deref().unwrap_or_default()
        ),
    );
    format::labels(&mut w, "Labels", ns.metadata.labels.as_ref());
    format::annotations(&mut w, "Annotations", ns.metadata.annotations.as_ref());
    let status = ns.status.clone().unwrap_or_default();
    w.write(
        0,
        &format!("Status:\t{}\n", status.phase.as_deref().unwrap_or_default()),
    );
    let conds = status.conditions.unwrap_or_default();
    if !conds.is_empty() {
        w.write(0, "Conditions:\n");
        w.write(1, "Type\tStatus\tLastTransitionTime\tReason\tMessage\n");
        w.write(1, "----\t------\t------------------\t------\t-------\n");
        for c in &conds {
            w.write(
                1,
                &format!(
                    "{}\t{}\t{}\t{}\t{}\n",
                    c.type_,
                    c.status,
                    format::time_or_zero(c.last_transition_time.as_ref()),
                    c.reason.as_deref().unwrap_or_default(),
                    c.message.as_deref().unwrap_or_default()
                ),
            );
        }
    }
    if let Some(q) = quotas {
        w.write(0, "\n");
        resource_quotas(&mut w, q);
    }
    if let Some(l) = limits {
        w.write(0, "\n");
        limit_ranges(&mut w, l);
    }
    w.finish()
}

/// Upstream's resource-name order: `cpu`, `memory`, then the rest by
/// name... as `SortableResourceNames` sorts, plain string order.
pub fn quota_scope_help(scope: &str) -> &'static str {
    match scope {
        "Terminating" => "Matches all pods that have an active deadline. These pods have a limited lifespan on a node before being actively terminated by the system.",
        "NotTerminating" => "Matches all pods that do not have an active deadline. These pods usually include long running pods whose container command is not expected to terminate.",
        "BestEffort" => "Matches all pods that do not have resource requirements set. These pods have a best effort quality of service.",
        "NotBestEffort" => "Matches all pods that have at least one resource requirement set. These pods have a burstable or guaranteed quality of service.",
        _ => "",
    }
}

/// `DescribeResourceQuotas`.
fn resource_quotas(w: &mut Writer, quotas: &[ResourceQuota]) {
    if quotas.is_empty() {
        w.write(0, "No resource quota.\n");
        return;
    }
    let mut quotas: Vec<&ResourceQuota> = quotas.iter().collect();
    quotas.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    w.write(0, "Resource Quotas\n");
    for q in quotas {
        w.write(
            1,
            &format!(
                "Name:\t{}\n",
                q.metadata.name.as_deref().unwrap_or_default()
            ),
        );
        let mut scopes: Vec<String> = q
            .spec
            .as_ref()
            .and_then(|s| s.scopes.clone())
            .unwrap_or_default();
        if !scopes.is_empty() {
            scopes.sort();
            w.write(1, &format!("Scopes:\t{}\n", scopes.join(", ")));
            for s in &scopes {
                let help = quota_scope_help(s);
                if !help.is_empty() {
                    w.write(1, &format!("* {help}\n"));
                }
            }
        }
        w.write(1, "Resource\tUsed\tHard\n");
        w.write(1, "--------\t---\t---\n");
        let status = q.status.clone().unwrap_or_default();
        let used = status.used.unwrap_or_default();
        for (name, hard) in status.hard.iter().flatten() {
            let u = used
                .get(name)
                .map_or("0".to_string(), |q| format::quantity(&q.0));
            w.write(1, &format!("{name}\t{u}\t{}\n", format::quantity(&hard.0)));
        }
    }
}

/// `DescribeLimitRanges`.
fn limit_ranges(w: &mut Writer, ranges: &[LimitRange]) {
    if ranges.is_empty() {
        w.write(0, "No LimitRange resource.\n");
        return;
    }
    w.write(0, "Resource Limits\n Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\tMax Limit/Request Ratio\n");
    w.write(
        0,
        " ----\t--------\t---\t---\t---------------\t-------------\t-----------------------\n",
    );
    for r in ranges {
        limit_range_spec(w, r, " ");
    }
}

/// `describeLimitRangeSpec`: one row per limit type and resource
/// (resources sorted; upstream walks a Go map).
pub fn limit_range_spec(w: &mut Writer, r: &LimitRange, prefix: &str) {
    for item in r.spec.iter().flat_map(|s| s.limits.iter()) {
        let lists = [
            &item.min,
            &item.max,
            &item.default_request,
            &item.default,
            &item.max_limit_request_ratio,
        ];
        let mut names: Vec<&String> = lists
            .iter()
            .flat_map(|l| l.iter().flatten().map(|(k, _)| k))
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            let cell = |l: &Option<
                BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
            >| {
                l.as_ref()
                    .and_then(|m| m.get(name))
                    .map_or("-".to_string(), |q| format::quantity(&q.0))
            };
            w.write(
                0,
                &format!(
                    "{prefix}{}\t{name}\t{}\t{}\t{}\t{}\t{}\n",
                    item.type_,
                    cell(&item.min),
                    cell(&item.max),
                    cell(&item.default_request),
                    cell(&item.default),
                    cell(&item.max_limit_request_ratio)
                ),
            );
        }
    }
}

/// The ConfigMap describer: data in key order (upstream walks a Go map).
pub fn describe_config_map(cm: &ConfigMap, events: Option<&[Event]>) -> String {
    let mut w = Writer::new();
    w.write(
        0,
        &format!(
            "Name:\t{}\n",
            cm.metadata.name.as_deref().unwrap_or_default()
        ),
    );
    w.write(
        0,
        &format!(
            "Namespace:\t{}\n",
            cm.metadata.namespace.as_deref().unwrap_or_default()
        ),
    );
    format::labels(&mut w, "Labels", cm.metadata.labels.as_ref());
    format::annotations(&mut w, "Annotations", cm.metadata.annotations.as_ref());
    w.write(0, "\nData\n====\n");
    for (k, v) in cm.data.iter().flatten() {
        w.write(0, &format!("{k}:\n----\n"));
        w.write(0, &format!("{v}\n"));
        w.write(0, "\n");
    }
    w.write(0, "\nBinaryData\n====\n");
    for (k, v) in cm.binary_data.iter().flatten() {
        w.write(0, &format!("{k}: {} bytes\n", v.0.len()));
    }
    w.write(0, "\n");
    if let Some(ev) = events {
        format::events(&mut w, ev);
    }
    w.finish()
}

/// `describeSecret`: sizes, never values (but a service-account token).
pub fn describe_secret(s: &Secret) -> String {
    let mut w = Writer::new();
    w.write(
        0,
        &format!(
            "Name:\t{}\n",
            s.metadata.name.as_deref().unwrap_or_default()
        ),
    );
    w.write(
        0,
        &format!(
            "Namespace:\t{}\n",
            s.metadata.namespace.as_deref().unwrap_or_default()
        ),
    );
    format::labels(&mut w, "Labels", s.metadata.labels.as_ref());
    format::annotations(&mut w, "Annotations", s.metadata.annotations.as_ref());
    let type_ = s.type_.clone().unwrap_or_default();
    w.write(0, &format!("\nType:\t{type_}\n"));
    w.write(0, "\nData\n====\n");
    for (k, v) in s.data.iter().flatten() {
        if k == "token" && type_ == "kubernetes.io/service-account-token" {
            w.write(0, &format!("{k}:\t{}\n", String::from_utf8_lossy(&v.0)));
        } else {
            w.write(0, &format!("{k}:\t{} bytes\n", v.0.len()));
        }
    }
    w.finish()
}

/// The generic describer: name, namespace, labels, annotations, then the
/// rest of the object field by field.
pub fn describe_generic(obj: &Value, events: Option<&[Event]>) -> String {
    let mut w = Writer::new();
    let meta = &obj["metadata"];
    w.write(
        0,
        &format!("Name:\t{}\n", meta["name"].as_str().unwrap_or_default()),
    );
    w.write(
        0,
        &format!(
            "Namespace:\t{}\n",
            meta["namespace"].as_str().unwrap_or_default()
        ),
    );
    let to_map = |v: &Value| -> Option<BTreeMap<String, String>> {
        v.as_object().map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
    };
    format::labels(&mut w, "Labels", to_map(&meta["labels"]).as_ref());
    format::annotations(&mut w, "Annotations", to_map(&meta["annotations"]).as_ref());
    if let Some(m) = obj.as_object() {
        unstructured(
            &mut w,
            0,
            m,
            "",
            &[
                ".metadata.managedFields",
                ".metadata.name",
                ".metadata.namespace",
                ".metadata.labels",
                ".metadata.annotations",
            ],
        );
    }
    if let Some(ev) = events {
        format::events(&mut w, ev);
    }
    w.finish()
}

/// `printUnstructuredContent`: fields sorted, maps and lists nested.
fn unstructured(
    w: &mut Writer,
    level: usize,
    content: &serde_json::Map<String, Value>,
    prefix: &str,
    skip: &[&str],
) {
    let mut fields: Vec<&String> = content.keys().collect();
    fields.sort();
    for field in fields {
        let value = &content[field];
        let expr = format!("{prefix}.{field}");
        if skip.contains(&expr.as_str()) {
            continue;
        }
        match value {
            Value::Object(m) => {
                w.write(level, &format!("{}:\n", smart_label(field)));
                unstructured(w, level + 1, m, &expr, skip);
            }
            Value::Array(items) => {
                w.write(level, &format!("{}:\n", smart_label(field)));
                for item in items {
                    match item {
                        Value::Object(m) => unstructured(w, level + 1, m, &expr, skip),
                        other => w.write(level + 1, &format!("{}\n", go_value(other))),
                    }
                }
            }
            other => w.write(
                level,
                &format!("{}:\t{}\n", smart_label(field), go_value(other)),
            ),
        }
    }
}

/// How Go's `%v` prints a decoded JSON scalar.
fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// `smartLabelFor`: `apiVersion` reads `API Version`; fields with other
/// than letters and `-` print as they are.
pub fn smart_label(field: &str) -> String {
    if field.chars().any(|c| !c.is_alphabetic() && c != '-') {
        return field.to_string();
    }
    const ACRONYMS: &[&str] = &["API", "URL", "UID", "OSB", "GUID"];
    camel_split(field)
        .into_iter()
        .filter(|p| p != "_")
        .map(|p| {
            let up = p.to_uppercase();
            if ACRONYMS.contains(&up.as_str()) {
                up
            } else {
                let mut cs = p.chars();
                match cs.next() {
                    Some(f) => f.to_uppercase().collect::<String>() + cs.as_str(),
                    None => String::new(),
                }
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `camelcase.Split` (fatih/camelcase): runs of lower, upper, digit and
/// other characters, an upper run giving its last letter to a following
/// lower run.
fn camel_split(s: &str) -> Vec<String> {
    fn class(c: char) -> u8 {
        if c.is_lowercase() {
            1
        } else if c.is_uppercase() {
            2
        } else if c.is_numeric() {
            3
        } else {
            4
        }
    }
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = 0u8;
    for c in s.chars() {
        let k = class(c);
        if k == last && !runs.is_empty() {
            runs.last_mut().expect("non-empty").push(c);
        } else {
            runs.push(vec![c]);
        }
        last = k;
    }
    for i in 0..runs.len().saturating_sub(1) {
        let upper = runs[i].first().is_some_and(|c| c.is_uppercase());
        let next_lower = runs[i + 1].first().is_some_and(|c| c.is_lowercase());
        if upper && next_lower {
            let moved = runs[i].pop().expect("non-empty");
            runs[i + 1].insert(0, moved);
        }
    }
    runs.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.into_iter().collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smart_labels() {
        assert_eq!(smart_label("apiVersion"), "API Version");
        assert_eq!(smart_label("kind"), "Kind");
        assert_eq!(smart_label("creationTimestamp"), "Creation Timestamp");
        assert_eq!(smart_label("uid"), "UID");
        assert_eq!(smart_label("PDFLoader"), "PDF Loader");
        assert_eq!(smart_label("a.b"), "a.b");
        assert_eq!(smart_label("resourceVersion"), "Resource Version");
    }

    #[test]
    fn generic_layout() {
        let obj = serde_json::json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "x", "namespace": "ns", "uid": "u"},
            "secrets": [{"name": "s"}], "automountServiceAccountToken": false
        });
        assert_eq!(
            describe_generic(&obj, None),
            "Name:                             x\nNamespace:                        ns\nLabels:                           <none>\nAnnotations:                      <none>\nAPI Version:                      v1\nAutomount Service Account Token:  false\nKind:                             ServiceAccount\nMetadata:\n  UID:  u\nSecrets:\n  Name:  s\n"
        );
    }

    #[test]
    fn endpoint_list_caps_at_three() {
        let slices: Vec<EndpointSlice> = serde_json::from_value(serde_json::json!([{
            "addressType": "IPv4", "metadata": {"name": "s"},
            "ports": [{"name": "", "port": 80}],
            "endpoints": [
                {"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]},
                {"addresses": ["10.0.0.3"]}, {"addresses": ["10.0.0.4"]},
                {"addresses": ["10.0.0.5"], "conditions": {"ready": false}}
            ]
        }]))
        .unwrap();
        assert_eq!(
            endpoints(&slices, ""),
            "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more..."
        );
        assert_eq!(endpoints(&[], ""), "<none>");
    }
}
