//! Pods, and the container, volume and pod-template blocks the workload
//! describers reuse.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStatus, Event, Pod, PodTemplateSpec, Probe,
    ResourceRequirements, Volume,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as QuantityStr;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::format::{self, bool_title, quantity, rfc1123z};
use super::writer::Writer;

/// `describePod`.
pub fn describe_pod(pod: &Pod, events: Option<&[Event]>) -> String {
    let mut w = Writer::new();
    let meta = &pod.metadata;
    let spec = pod.spec.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    w.write(
        0,
        &format!("Name:\t{}\n", meta.name.as_deref().unwrap_or_default()),
    );
    w.write(
        0,
        &format!(
            "Namespace:\t{}\n",
            meta.namespace.as_deref().unwrap_or_default()
        ),
    );
    if let Some(p) = spec.priority {
        w.write(0, &format!("Priority:\t{p}\n"));
    }
    if let Some(p) = spec
        .priority_class_name
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        w.write(0, &format!("Priority Class Name:\t{p}\n"));
    }
    if let Some(r) = spec.runtime_class_name.as_deref().filter(|s| !s.is_empty()) {
        w.write(0, &format!("Runtime Class Name:\t{r}\n"));
    }
    if let Some(sa) = spec
        .service_account_name
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        w.write(0, &format!("Service Account:\t{sa}\n"));
    }
    match spec.node_name.as_deref().filter(|s| !s.is_empty()) {
        None => w.write(0, "Node:\t<none>\n"),
        Some(n) => w.write(
            0,
            &format!(
                "Node:\t{n}/{}\n",
                status.host_ip.as_deref().unwrap_or_default()
            ),
        ),
    }
    if let Some(t) = &status.start_time {
        w.write(0, &format!("Start Time:\t{}\n", rfc1123z(&t.0)));
    }
    format::labels(&mut w, "Labels", meta.labels.as_ref());
    format::annotations(&mut w, "Annotations", meta.annotations.as_ref());
    let phase = status.phase.clone().unwrap_or_default();
    match &meta.deletion_timestamp {
        Some(t) if phase != "Failed" && phase != "Succeeded" => {
            w.write(
                0,
                &format!(
                    "Status:\tTerminating (lasts {})\n",
                    format::since(Some(&t.0))
                ),
            );
            w.write(
                0,
                &format!(
                    "Termination Grace Period:\t{}s\n",
                    meta.deletion_grace_period_seconds.unwrap_or(0)
                ),
            );
        }
        _ => w.write(0, &format!("Status:\t{phase}\n")),
    }
    if let Some(r) = status.reason.as_deref().filter(|s| !s.is_empty()) {
        w.write(0, &format!("Reason:\t{r}\n"));
    }
    if let Some(m) = status.message.as_deref().filter(|s| !s.is_empty()) {
        w.write(0, &format!("Message:\t{m}\n"));
    }
    if let Some(sp) = spec
        .security_context
        .as_ref()
        .and_then(|s| s.seccomp_profile.as_ref())
    {
        w.write(0, &format!("SeccompProfile:\t{}\n", sp.type_));
        if sp.type_ == "Localhost" {
            w.write(
                0,
                &format!(
                    "LocalhostProfile:\t{}\n",
                    sp.localhost_profile.as_deref().unwrap_or_default()
                ),
            );
        }
    }
    w.write(
        0,
        &format!("IP:\t{}\n", status.pod_ip.as_deref().unwrap_or_default()),
    );
    match status.pod_ips.as_ref().filter(|v| !v.is_empty()) {
        None => w.write(0, "IPs:\t<none>\n"),
        Some(ips) => {
            w.write(0, "IPs:\n");
            for ip in ips {
                w.write(1, &format!("IP:\t{}\n", ip.ip));
            }
        }
    }
    if let Some(c) = format::controller(meta.owner_references.as_ref()) {
        w.write(0, &format!("Controlled By:\t{c}\n"));
    }
    if let Some(n) = status
        .nominated_node_name
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        w.write(0, &format!("NominatedNodeName:\t{n}\n"));
    }
    if let Some(r) = &spec.resources {
        w.write(0, "Resources:\n");
        resources(&mut w, r, 1);
    }
    let env = |c: &Container| env_resolver(pod, c);
    if let Some(ic) = spec.init_containers.as_ref().filter(|v| !v.is_empty()) {
        containers(
            &mut w,
            "Init Containers",
            ic,
            status.init_container_statuses.as_deref(),
            Some(&env),
            "",
        );
    }
    containers(
        &mut w,
        "Containers",
        &spec.containers,
        status.container_statuses.as_deref(),
        Some(&env),
        "",
    );
    if let Some(ec) = spec.ephemeral_containers.as_ref().filter(|v| !v.is_empty()) {
        let ec: Vec<Container> = ec
            .iter()
            .map(|e| {
                // Same fields, so a JSON round trip converts.
                serde_json::to_value(e)
                    .ok()
                    .and_then(|v| serde_json::from_value(v).ok())
                    .unwrap_or_default()
            })
            .collect();
        containers(
            &mut w,
            "Ephemeral Containers",
            &ec,
            status.ephemeral_container_statuses.as_deref(),
            Some(&env),
            "",
        );
    }
    let conditions = status.conditions.clone().unwrap_or_default();
    if let Some(gates) = spec.readiness_gates.as_ref().filter(|v| !v.is_empty()) {
        w.write(0, "Readiness Gates:\n  Type\tStatus\n");
        for g in gates {
            let st = conditions
                .iter()
                .find(|c| c.type_ == g.condition_type)
                .map_or("<none>".to_string(), |c| c.status.clone());
            w.write(1, &format!("{} \t{st} \n", g.condition_type));
        }
    }
    if !conditions.is_empty() {
        w.write(0, "Conditions:\n  Type\tStatus\n");
        for c in &conditions {
            w.write(1, &format!("{} \t{} \n", c.type_, c.status));
        }
    }
    volumes(&mut w, spec.volumes.as_deref().unwrap_or_default(), "");
    let qos = status
        .qos_class
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| compute_qos(&spec));
    w.write(0, &format!("QoS Class:\t{qos}\n"));
    format::labels(&mut w, "Node-Selectors", spec.node_selector.as_ref());
    format::tolerations(
        &mut w,
        "",
        "Tolerations",
        spec.tolerations.as_deref().unwrap_or_default(),
    );
    topology_spread(&mut w, &spec, "");
    if let Some(ev) = events {
        format::events(&mut w, ev);
    }
    w.finish()
}

/// `describeTopologySpreadConstraints`.
fn topology_spread(w: &mut Writer, spec: &k8s_openapi::api::core::v1::PodSpec, space: &str) {
    let Some(tscs) = spec
        .topology_spread_constraints
        .as_ref()
        .filter(|v| !v.is_empty())
    else {
        return;
    };
    let mut tscs: Vec<_> = tscs.iter().collect();
    tscs.sort_by(|a, b| a.topology_key.cmp(&b.topology_key));
    w.write(0, &format!("{space}Topology Spread Constraints:\t"));
    for (i, t) in tscs.into_iter().enumerate() {
        if i != 0 {
            w.write(0, space);
            w.write(0, "\t");
        }
        let mut s = format!(
            "{}:{} when max skew {} is exceeded",
            t.topology_key, t.when_unsatisfiable, t.max_skew
        );
        if let Some(sel) = &t.label_selector {
            s.push_str(&format!(" for selector {}", format_label_selector(sel)));
        }
        w.write(0, &format!("{s}\n"));
    }
}

/// `metav1.FormatLabelSelector`: the selector string or `<none>`.
pub fn format_label_selector(
    sel: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> String {
    let v = serde_json::to_value(sel).unwrap_or_default();
    match apimachinery::selector::LabelSelector::from_json(&v) {
        Ok(s) => {
            let s = s.to_string();
            if s.is_empty() {
                "<none>".into()
            } else {
                s
            }
        }
        Err(_) => "<error>".into(),
    }
}

/// `labels.Selector.String()` of a `metav1.LabelSelector` (empty when
/// everything, `Err` when invalid).
pub fn selector_string(
    sel: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
) -> Result<String, String> {
    let v = match sel {
        Some(s) => serde_json::to_value(s).unwrap_or_default(),
        None => serde_json::Value::Null,
    };
    apimachinery::selector::LabelSelector::from_json(&v)
        .map(|s| s.to_string())
        .map_err(|e| e.to_string())
}

type EnvResolver<'a> = dyn Fn(&Container) -> HashMap<String, String> + 'a;

/// The values `fieldRef` environment variables resolve to in `pod`.
fn env_resolver(pod: &Pod, c: &Container) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let v = serde_json::to_value(pod).unwrap_or_default();
    for e in c.env.iter().flatten() {
        let Some(fr) = e.value_from.as_ref().and_then(|f| f.field_ref.as_ref()) else {
            continue;
        };
        let path = fr.field_path.as_str();
        let val = if let Some(rest) = path
            .strip_prefix("metadata.labels['")
            .and_then(|r| r.strip_suffix("']"))
        {
            v["metadata"]["labels"][rest].as_str().map(String::from)
        } else if let Some(rest) = path
            .strip_prefix("metadata.annotations['")
            .and_then(|r| r.strip_suffix("']"))
        {
            v["metadata"]["annotations"][rest]
                .as_str()
                .map(String::from)
        } else {
            let mut cur = &v;
            for part in path.split('.') {
                cur = &cur[part];
            }
            match cur {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            }
        };
        out.insert(e.name.clone(), val.unwrap_or_default());
    }
    out
}

/// `describeContainers`.
fn containers(
    w: &mut Writer,
    label: &str,
    containers: &[Container],
    statuses: Option<&[ContainerStatus]>,
    resolver: Option<&EnvResolver<'_>>,
    space: &str,
) {
    let by_name: BTreeMap<&str, &ContainerStatus> = statuses
        .into_iter()
        .flatten()
        .map(|s| (s.name.as_str(), s))
        .collect();
    let none = if containers.is_empty() { " <none>" } else { "" };
    w.write(0, &format!("{space}{label}:{none}\n"));
    for c in containers {
        let st = by_name.get(c.name.as_str()).copied();
        basic_info(w, c, st, space);
        command(w, c);
        if let Some(st) = st {
            container_state(w, st);
        }
        if let Some(r) = &c.resources {
            resources(w, r, 2);
        }
        probes(w, c);
        let resolved = resolver.map(|f| f(c)).unwrap_or_default();
        if c.env_from.as_ref().is_some_and(|v| !v.is_empty()) {
            env_from(w, c);
        }
        env_vars(w, c, &resolved);
        mounts(w, c);
    }
}

fn basic_info(w: &mut Writer, c: &Container, st: Option<&ContainerStatus>, space: &str) {
    let name_indent = if space.is_empty() { "" } else { " " };
    w.write(1, &format!("{name_indent}{}:\n", c.name));
    if let Some(st) = st {
        w.write(
            2,
            &format!(
                "Container ID:\t{}\n",
                st.container_id.as_deref().unwrap_or_default()
            ),
        );
    }
    w.write(
        2,
        &format!("Image:\t{}\n", c.image.as_deref().unwrap_or_default()),
    );
    if let Some(st) = st {
        w.write(2, &format!("Image ID:\t{}\n", st.image_id));
    }
    let ports = c.ports.as_deref().unwrap_or_default();
    let proto = |p: &k8s_openapi::api::core::v1::ContainerPort| {
        p.protocol.clone().unwrap_or_else(|| "TCP".to_string())
    };
    let port_s: Vec<String> = ports
        .iter()
        .map(|p| format!("{}/{}", p.container_port, proto(p)))
        .collect();
    let port_s = port_s.join(", ");
    if port_s.contains(',') {
        w.write(2, &format!("Ports:\t{port_s}\n"));
    } else {
        w.write(2, &format!("Port:\t{}\n", or_none(&port_s)));
    }
    let host_s: Vec<String> = ports
        .iter()
        .map(|p| format!("{}/{}", p.host_port.unwrap_or(0), proto(p)))
        .collect();
    let host_s = host_s.join(", ");
    if host_s.contains(',') {
        w.write(2, &format!("Host Ports:\t{host_s}\n"));
    } else {
        w.write(2, &format!("Host Port:\t{}\n", or_none(&host_s)));
    }
    if let Some(sp) = c
        .security_context
        .as_ref()
        .and_then(|s| s.seccomp_profile.as_ref())
    {
        w.write(2, &format!("SeccompProfile:\t{}\n", sp.type_));
        if sp.type_ == "Localhost" {
            w.write(
                3,
                &format!(
                    "LocalhostProfile:\t{}\n",
                    sp.localhost_profile.as_deref().unwrap_or_default()
                ),
            );
        }
    }
}

fn or_none(s: &str) -> &str {
    if s.is_empty() {
        "<none>"
    } else {
        s
    }
}

fn command(w: &mut Writer, c: &Container) {
    for (title, list) in [("Command", &c.command), ("Args", &c.args)] {
        let Some(list) = list.as_ref().filter(|v| !v.is_empty()) else {
            continue;
        };
        w.write(2, &format!("{title}:\n"));
        for item in list {
            for s in item.split('\n') {
                w.write(3, &format!("{s}\n"));
            }
        }
    }
}

/// `describeResources`: limits then requests, names sorted.
fn resources(w: &mut Writer, r: &ResourceRequirements, level: usize) {
    for (title, list) in [("Limits", &r.limits), ("Requests", &r.requests)] {
        let Some(list) = list.as_ref().filter(|m| !m.is_empty()) else {
            continue;
        };
        w.write(level, &format!("{title}:\n"));
        for (name, q) in list {
            w.write(level + 1, &format!("{name}:\t{}\n", quantity(&q.0)));
        }
    }
}

fn container_state(w: &mut Writer, st: &ContainerStatus) {
    state(w, "State", st.state.as_ref());
    if let Some(last) = st.last_state.as_ref().filter(|l| l.terminated.is_some()) {
        state(w, "Last State", Some(last));
    }
    w.write(2, &format!("Ready:\t{}\n", bool_title(st.ready)));
    w.write(2, &format!("Restart Count:\t{}\n", st.restart_count));
}

/// `describeStatus`.
fn state(w: &mut Writer, name: &str, s: Option<&ContainerState>) {
    let s = s.cloned().unwrap_or_default();
    if let Some(r) = &s.running {
        w.write(2, &format!("{name}:\tRunning\n"));
        w.write(
            3,
            &format!(
                "Started:\t{}\n",
                format::time_or_zero(r.started_at.as_ref())
            ),
        );
    } else if let Some(wt) = &s.waiting {
        w.write(2, &format!("{name}:\tWaiting\n"));
        if let Some(r) = wt.reason.as_deref().filter(|s| !s.is_empty()) {
            w.write(3, &format!("Reason:\t{r}\n"));
        }
    } else if let Some(t) = &s.terminated {
        w.write(2, &format!("{name}:\tTerminated\n"));
        if let Some(r) = t.reason.as_deref().filter(|s| !s.is_empty()) {
            w.write(3, &format!("Reason:\t{r}\n"));
        }
        if let Some(m) = t.message.as_deref().filter(|s| !s.is_empty()) {
            w.write(3, &format!("Message:\t{m}\n"));
        }
        w.write(3, &format!("Exit Code:\t{}\n", t.exit_code));
        if let Some(sig) = t.signal.filter(|s| *s > 0) {
            w.write(3, &format!("Signal:\t{sig}\n"));
        }
        w.write(
            3,
            &format!(
                "Started:\t{}\n",
                format::time_or_zero(t.started_at.as_ref())
            ),
        );
        w.write(
            3,
            &format!(
                "Finished:\t{}\n",
                format::time_or_zero(t.finished_at.as_ref())
            ),
        );
    } else {
        w.write(2, &format!("{name}:\tWaiting\n"));
    }
}

fn probes(w: &mut Writer, c: &Container) {
    for (title, p) in [
        ("Liveness", &c.liveness_probe),
        ("Readiness", &c.readiness_probe),
        ("Startup", &c.startup_probe),
    ] {
        if let Some(p) = p {
            w.write(2, &format!("{title}:\t{}\n", probe(p)));
        }
    }
}

fn int_or_string(v: &IntOrString) -> String {
    match v {
        IntOrString::Int(i) => i.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

/// `DescribeProbe`.
pub fn probe(p: &Probe) -> String {
    let attrs = format!(
        "delay={}s timeout={}s period={}s #success={} #failure={}",
        p.initial_delay_seconds.unwrap_or(0),
        p.timeout_seconds.unwrap_or(0),
        p.period_seconds.unwrap_or(0),
        p.success_threshold.unwrap_or(0),
        p.failure_threshold.unwrap_or(0)
    );
    if let Some(e) = &p.exec {
        return format!(
            "exec [{}] {attrs}",
            e.command.clone().unwrap_or_default().join(" ")
        );
    }
    if let Some(h) = &p.http_get {
        let scheme = h.scheme.clone().unwrap_or_default().to_lowercase();
        let port = int_or_string(&h.port);
        let host = h.host.clone().unwrap_or_default();
        let hostport = if port.is_empty() {
            host
        } else if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let path = h.path.clone().unwrap_or_default();
        let url = if scheme.is_empty() {
            format!("//{hostport}{path}")
        } else {
            format!("{scheme}://{hostport}{path}")
        };
        return format!("http-get {url} {attrs}");
    }
    if let Some(t) = &p.tcp_socket {
        return format!(
            "tcp-socket {}:{} {attrs}",
            t.host.clone().unwrap_or_default(),
            int_or_string(&t.port)
        );
    }
    if let Some(g) = &p.grpc {
        return format!(
            "grpc <pod>:{} {} {attrs}",
            g.port,
            g.service.clone().unwrap_or_default()
        );
    }
    format!("unknown {attrs}")
}

fn env_from(w: &mut Writer, c: &Container) {
    w.write(2, "Environment Variables from:\n");
    for e in c.env_from.iter().flatten() {
        let (from, name, optional) = if let Some(r) = &e.config_map_ref {
            ("ConfigMap", r.name.clone(), r.optional.unwrap_or(false))
        } else if let Some(r) = &e.secret_ref {
            ("Secret", r.name.clone(), r.optional.unwrap_or(false))
        } else {
            ("", String::new(), false)
        };
        match e.prefix.as_deref().filter(|p| !p.is_empty()) {
            None => w.write(3, &format!("{name}\t{from}\tOptional: {optional}\n")),
            Some(p) => w.write(
                3,
                &format!("{name}\t{from} with prefix '{p}'\tOptional: {optional}\n"),
            ),
        }
    }
}

fn env_vars(w: &mut Writer, c: &Container, resolved: &HashMap<String, String>) {
    let env = c.env.as_deref().unwrap_or_default();
    let none = if env.is_empty() { "\t<none>" } else { "" };
    w.write(2, &format!("Environment:{none}\n"));
    for e in env {
        let Some(vf) = &e.value_from else {
            for (i, s) in e
                .value
                .as_deref()
                .unwrap_or_default()
                .split('\n')
                .enumerate()
            {
                if i == 0 {
                    w.write(3, &format!("{}:\t{s}\n", e.name));
                } else {
                    w.write(3, &format!("\t{s}\n"));
                }
            }
            continue;
        };
        if let Some(fr) = &vf.field_ref {
            let val = resolved.get(&e.name).cloned().unwrap_or_default();
            w.write(
                3,
                &format!(
                    "{}:\t{val} ({}:{})\n",
                    e.name,
                    fr.api_version.as_deref().unwrap_or("v1"),
                    fr.field_path
                ),
            );
        } else if let Some(rf) = &vf.resource_field_ref {
            let val = resource_field_value(c, rf);
            w.write(3, &format!("{}:\t{val} ({})\n", e.name, rf.resource));
        } else if let Some(s) = &vf.secret_key_ref {
            w.write(
                3,
                &format!(
                    "{}:\t<set to the key '{}' in secret '{}'>\tOptional: {}\n",
                    e.name,
                    s.key,
                    s.name,
                    s.optional.unwrap_or(false)
                ),
            );
        } else if let Some(s) = &vf.config_map_key_ref {
            w.write(
                3,
                &format!(
                    "{}:\t<set to the key '{}' of config map '{}'>\tOptional: {}\n",
                    e.name,
                    s.key,
                    s.name,
                    s.optional.unwrap_or(false)
                ),
            );
        }
    }
}

/// The container's own limit or request a `resourceFieldRef` names, as
/// upstream's `ExtractContainerResourceValue` (divisor 1): CPU rounds up to
/// whole cores, memory prints bytes; unset limits read `node allocatable`.
fn resource_field_value(
    c: &Container,
    rf: &k8s_openapi::api::core::v1::ResourceFieldSelector,
) -> String {
    let (list, name) = match rf.resource.split_once('.') {
        Some(("limits", n)) => (c.resources.as_ref().and_then(|r| r.limits.as_ref()), n),
        Some(("requests", n)) => (c.resources.as_ref().and_then(|r| r.requests.as_ref()), n),
        _ => return String::new(),
    };
    let q: Option<&QuantityStr> = list.and_then(|l| l.get(name));
    let value = match q.and_then(|q| apimachinery::quantity::Quantity::parse(&q.0).ok()) {
        None => 0,
        Some(q) if name == "cpu" => (q.milli_value() + 999) / 1000,
        Some(q) => q.value(),
    };
    if value == 0 && (rf.resource == "limits.cpu" || rf.resource == "limits.memory") {
        return "node allocatable".into();
    }
    value.to_string()
}

fn mounts(w: &mut Writer, c: &Container) {
    let mut ms: Vec<_> = c.volume_mounts.clone().unwrap_or_default();
    let none = if ms.is_empty() { "\t<none>" } else { "" };
    w.write(2, &format!("Mounts:{none}\n"));
    ms.sort_by(|a, b| a.mount_path.cmp(&b.mount_path));
    for m in &ms {
        let mut flags = vec![if m.read_only == Some(true) {
            "ro"
        } else {
            "rw"
        }
        .to_string()];
        if let Some(sp) = m.sub_path.as_deref().filter(|s| !s.is_empty()) {
            flags.push(format!("path={sp:?}"));
        }
        w.write(
            3,
            &format!("{} from {} ({})\n", m.mount_path, m.name, flags.join(",")),
        );
    }
    if let Some(devs) = c.volume_devices.as_ref().filter(|v| !v.is_empty()) {
        w.write(2, &format!("Devices:{none}\n"));
        let mut devs = devs.clone();
        devs.sort_by(|a, b| a.device_path.cmp(&b.device_path));
        for d in devs {
            w.write(3, &format!("{} from {}\n", d.device_path, d.name));
        }
    }
}

/// `describeVolumes` for the common volume kinds.
pub fn volumes(w: &mut Writer, volumes: &[Volume], space: &str) {
    if volumes.is_empty() {
        w.write(0, &format!("{space}Volumes:\t<none>\n"));
        return;
    }
    w.write(0, &format!("{space}Volumes:\n"));
    let name_indent = if space.is_empty() { "" } else { " " };
    for v in volumes {
        w.write(1, &format!("{name_indent}{}:\n", v.name));
        if let Some(h) = &v.host_path {
            w.write(
                2,
                &format!(
                    "Type:\tHostPath (bare host directory volume)\n    Path:\t{}\n    HostPathType:\t{}\n",
                    h.path,
                    h.type_.as_deref().unwrap_or("<none>")
                ),
            );
        } else if let Some(e) = &v.empty_dir {
            let size = e
                .size_limit
                .as_ref()
                .and_then(|q| apimachinery::quantity::Quantity::parse(&q.0).ok())
                .filter(|q| q.sign() > 0)
                .map_or("<unset>".to_string(), |q| q.to_string());
            w.write(
                2,
                &format!(
                    "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n    Medium:\t{}\n    SizeLimit:\t{size}\n",
                    e.medium.as_deref().unwrap_or_default()
                ),
            );
        } else if let Some(s) = &v.secret {
            w.write(
                2,
                &format!(
                    "Type:\tSecret (a volume populated by a Secret)\n    SecretName:\t{}\n    Optional:\t{}\n",
                    s.secret_name.as_deref().unwrap_or_default(),
                    s.optional.unwrap_or(false)
                ),
            );
        } else if let Some(c) = &v.config_map {
            w.write(
                2,
                &format!(
                    "Type:\tConfigMap (a volume populated by a ConfigMap)\n    Name:\t{}\n    Optional:\t{}\n",
                    c.name,
                    c.optional.unwrap_or(false)
                ),
            );
        } else if let Some(p) = &v.persistent_volume_claim {
            w.write(
                2,
                &format!(
                    "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n    ClaimName:\t{}\n    ReadOnly:\t{}\n",
                    p.claim_name,
                    p.read_only.unwrap_or(false)
                ),
            );
        } else if let Some(d) = &v.downward_api {
            w.write(
                2,
                "Type:\tDownwardAPI (a volume populated by information about the pod)\n    Items:\n",
            );
            for item in d.items.iter().flatten() {
                if let Some(f) = &item.field_ref {
                    w.write(3, &format!("{} -> {}\n", f.field_path, item.path));
                }
                if let Some(r) = &item.resource_field_ref {
                    w.write(3, &format!("{} -> {}\n", r.resource, item.path));
                }
            }
        } else if let Some(p) = &v.projected {
            w.write(
                2,
                "Type:\tProjected (a volume that contains injected data from multiple sources)\n",
            );
            for s in p.sources.iter().flatten() {
                if let Some(sec) = &s.secret {
                    w.write(
                        2,
                        &format!(
                            "SecretName:\t{}\n    Optional:\t{}\n",
                            sec.name,
                            sec.optional.unwrap_or(false)
                        ),
                    );
                } else if s.downward_api.is_some() {
                    w.write(2, "DownwardAPI:\ttrue\n");
                } else if let Some(cm) = &s.config_map {
                    w.write(
                        2,
                        &format!(
                            "ConfigMapName:\t{}\n    Optional:\t{}\n",
                            cm.name,
                            cm.optional.unwrap_or(false)
                        ),
                    );
                } else if let Some(t) = &s.service_account_token {
                    w.write(
                        2,
                        &format!(
                            "TokenExpirationSeconds:\t{}\n",
                            t.expiration_seconds.unwrap_or(0)
                        ),
                    );
                }
            }
        } else if let Some(n) = &v.nfs {
            w.write(
                2,
                &format!(
                    "Type:\tNFS (an NFS mount that lasts the lifetime of a pod)\n    Server:\t{}\n    Path:\t{}\n    ReadOnly:\t{}\n",
                    n.server,
                    n.path,
                    n.read_only.unwrap_or(false)
                ),
            );
        } else if let Some(c) = &v.csi {
            w.write(
                2,
                &format!(
                    "Type:\tCSI (a Container Storage Interface (CSI) volume source)\n    Driver:\t{}\n    FSType:\t{}\n    ReadOnly:\t{}\n",
                    c.driver,
                    c.fs_type.as_deref().unwrap_or_default(),
                    c.read_only.unwrap_or(false)
                ),
            );
        } else if let Some(i) = &v.image {
            w.write(
                2,
                &format!(
                    "Type:\tImage (a container image or OCI artifact)\n    Reference:\t{}\n    PullPolicy:\t{}\n",
                    i.reference.as_deref().unwrap_or_default(),
                    i.pull_policy.as_deref().unwrap_or_default()
                ),
            );
        } else {
            w.write(1, "<unknown>\n");
        }
    }
}

/// `DescribePodTemplate`.
pub fn pod_template(w: &mut Writer, t: Option<&PodTemplateSpec>) {
    w.write(0, "Pod Template:\n");
    let Some(t) = t else {
        w.write(1, "<unset>");
        return;
    };
    let meta = t.metadata.clone().unwrap_or_default();
    let spec = t.spec.clone().unwrap_or_default();
    format::labels(&mut *w, "  Labels", meta.labels.as_ref());
    if meta.annotations.as_ref().is_some_and(|a| !a.is_empty()) {
        format::annotations(w, "  Annotations", meta.annotations.as_ref());
    }
    if let Some(sa) = spec
        .service_account_name
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        w.write(1, &format!("Service Account:\t{sa}\n"));
    }
    if let Some(ic) = spec.init_containers.as_ref().filter(|v| !v.is_empty()) {
        containers(w, "Init Containers", ic, None, None, "  ");
    }
    containers(w, "Containers", &spec.containers, None, None, "  ");
    volumes(w, spec.volumes.as_deref().unwrap_or_default(), "  ");
    topology_spread(w, &spec, "  ");
    if let Some(p) = spec
        .priority_class_name
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        w.write(1, &format!("Priority Class Name:\t{p}\n"));
    }
    format::labels(w, "  Node-Selectors", spec.node_selector.as_ref());
    format::tolerations(
        w,
        "  ",
        "Tolerations",
        spec.tolerations.as_deref().unwrap_or_default(),
    );
}

/// `qos.ComputePodQOS` for pods whose status does not say.
fn compute_qos(spec: &k8s_openapi::api::core::v1::PodSpec) -> String {
    use apimachinery::quantity::Quantity;
    let mut requests: BTreeMap<String, Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<String, Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    let add = |acc: &mut BTreeMap<String, Quantity>,
               list: Option<&BTreeMap<String, QuantityStr>>| {
        let mut seen = Vec::new();
        for (name, q) in list.into_iter().flatten() {
            if name != "cpu" && name != "memory" {
                continue;
            }
            let Ok(q) = Quantity::parse(&q.0) else {
                continue;
            };
            if q.sign() > 0 {
                seen.push(name.clone());
                let sum = match acc.get(name) {
                    Some(prev) => prev.checked_add(&q).unwrap_or(q),
                    None => q,
                };
                acc.insert(name.clone(), sum);
            }
        }
        seen
    };
    let all: Vec<&Container> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .collect();
    match &spec.resources {
        Some(r) => {
            add(&mut requests, r.requests.as_ref());
            let seen = add(&mut limits, r.limits.as_ref());
            if r.limits.is_some()
                && !(seen.iter().any(|s| s == "cpu") && seen.iter().any(|s| s == "memory"))
            {
                guaranteed = false;
            }
        }
        None => {
            for c in all {
                let r = c.resources.clone().unwrap_or_default();
                add(&mut requests, r.requests.as_ref());
                let seen = add(&mut limits, r.limits.as_ref());
                if !(seen.iter().any(|s| s == "cpu") && seen.iter().any(|s| s == "memory")) {
                    guaranteed = false;
                }
            }
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort".into();
    }
    if guaranteed {
        for (name, req) in &requests {
            if limits.get(name) != Some(req) {
                guaranteed = false;
                break;
            }
        }
    }
    if guaranteed && requests.len() == limits.len() {
        "Guaranteed".into()
    } else {
        "Burstable".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_with_statuses() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u", "controller": true}]},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "img", "ports": [{"containerPort": 80}]}]},
            "status": {"phase": "Pending", "hostIP": "10.0.0.1", "podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}],
                "qosClass": "BestEffort",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [{"name": "c", "image": "img", "imageID": "", "ready": false, "restartCount": 2,
                    "state": {"waiting": {"reason": "ContainerCreating"}}}]}
        }))
        .unwrap();
        let out = describe_pod(&pod, Some(&[]));
        // Column blocks run across sections: `Conditions:` ends one,
        // the rows after it share the next, as with upstream.
        let expected = "Name:         p
Namespace:    ns
Node:         n1/10.0.0.1
Labels:       <none>
Annotations:  <none>
Status:       Pending
IP:           10.1.0.5
IPs:
  IP:           10.1.0.5
Controlled By:  ReplicaSet/rs
Containers:
  c:
    Container ID:   
    Image:          img
    Image ID:       
    Port:           80/TCP
    Host Port:      0/TCP
    State:          Waiting
      Reason:       ContainerCreating
    Ready:          False
    Restart Count:  2
    Environment:    <none>
    Mounts:         <none>
Conditions:
  Type           Status
  Ready          False 
Volumes:         <none>
QoS Class:       BestEffort
Node-Selectors:  <none>
Tolerations:     <none>
Events:          <none>
";
        assert_eq!(out, expected);
    }
}
