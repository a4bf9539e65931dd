//! ServiceAccounts, Endpoints, EndpointSlices and PriorityClasses, which
//! upstream describes with their own layouts rather than generically.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Endpoints, Event, Secret, ServiceAccount};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::scheduling::v1::PriorityClass;

use super::format;
use super::writer::Writer;

fn name_ns(w: &mut Writer, m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) {
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
    format::labels(w, "Labels", m.labels.as_ref());
    format::annotations(w, "Annotations", m.annotations.as_ref());
}

/// `describeServiceAccount`; `secrets` is the namespace's secrets, or
/// `None` when they could not be listed.
pub fn describe_service_account(
    sa: &ServiceAccount,
    secrets: Option<&[Secret]>,
    events: Option<&[Event]>,
) -> String {
    let mut w = Writer::new();
    name_ns(&mut w, &sa.metadata);
    let sa_name = sa.metadata.name.clone().unwrap_or_default();
    let sa_uid = sa.metadata.uid.clone().unwrap_or_default();
    let pull: Vec<String> = sa
        .image_pull_secrets
        .iter()
        .flatten()
        .map(|s| s.name.clone())
        .collect();
    let mount: Vec<String> = sa
        .secrets
        .iter()
        .flatten()
        .map(|s| s.name.clone().unwrap_or_default())
        .collect();
    let mut tokens = Vec::new();
    let mut missing = BTreeSet::new();
    if let Some(secrets) = secrets {
        let mut existing = BTreeSet::new();
        for s in secrets {
            if s.type_.as_deref() == Some("kubernetes.io/service-account-token") {
                let ann = s.metadata.annotations.clone().unwrap_or_default();
                if ann.get("kubernetes.io/service-account.name") == Some(&sa_name)
                    && ann.get("kubernetes.io/service-account.uid") == Some(&sa_uid)
                {
                    tokens.push(s.metadata.name.clone().unwrap_or_default());
                }
            }
            existing.insert(s.metadata.name.clone().unwrap_or_default());
        }
        for n in mount.iter().chain(pull.iter()) {
            if !existing.contains(n) {
                missing.insert(n.clone());
            }
        }
    }
    // Headers sort as strings: pull, mountable, tokens.
    for (header, names) in [
        ("Image pull secrets:", &pull),
        ("Mountable secrets: ", &mount),
        ("Tokens:            ", &tokens),
    ] {
        if names.is_empty() {
            w.write(0, &format!("{header}\t<none>\n"));
            continue;
        }
        let mut prefix = header;
        for n in names {
            if missing.contains(n) {
                w.write(0, &format!("{prefix}\t{n} (not found)\n"));
            } else {
                w.write(0, &format!("{prefix}\t{n}\n"));
            }
            prefix = "                   ";
        }
    }
    if let Some(ev) = events {
        format::events(&mut w, ev);
    }
    w.finish()
}

/// `describeEndpoints`.
pub fn describe_endpoints(ep: &Endpoints, events: Option<&[Event]>) -> String {
    let mut w = Writer::new();
    name_ns(&mut w, &ep.metadata);
    w.write(0, "Subsets:\n");
    for s in ep.subsets.iter().flatten() {
        let join = |a: &Option<Vec<k8s_openapi::api::core::v1::EndpointAddress>>| {
            let s = a
                .iter()
                .flatten()
                .map(|x| x.ip.clone())
                .collect::<Vec<_>>()
                .join(",");
            if s.is_empty() {
                "<none>".to_string()
            } else {
                s
            }
        };
        w.write(1, &format!("Addresses:\t{}\n", join(&s.addresses)));
        w.write(
            1,
            &format!("NotReadyAddresses:\t{}\n", join(&s.not_ready_addresses)),
        );
        if let Some(ports) = s.ports.as_ref().filter(|p| !p.is_empty()) {
            w.write(1, "Ports:\n");
            w.write(2, "Name\tPort\tProtocol\n");
            w.write(2, "----\t----\t--------\n");
            for p in ports {
                let name = p
                    .name
                    .clone()
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| "<unset>".into());
                w.write(
                    2,
                    &format!(
                        "{name}\t{}\t{}\n",
                        p.port,
                        p.protocol.as_deref().unwrap_or_default()
                    ),
                );
            }
        }
        w.write(0, "\n");
    }
    if let Some(ev) = events {
        format::events(&mut w, ev);
    }
    w.finish()
}

/// `describeEndpointSliceV1`.
pub fn describe_endpoint_slice(eps: &EndpointSlice, events: Option<&[Event]>) -> String {
    let mut w = Writer::new();
    name_ns(&mut w, &eps.metadata);
    w.write(0, &format!("AddressType:\t{}\n", eps.address_type));
    match eps.ports.as_ref().filter(|p| !p.is_empty()) {
        None => w.write(0, "Ports: <unset>\n"),
        Some(ports) => {
            w.write(0, "Ports:\n");
            w.write(1, "Name\tPort\tProtocol\n");
            w.write(1, "----\t----\t--------\n");
            for p in ports {
                let name = p
                    .name
                    .clone()
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| "<unset>".into());
                let num = p.port.map_or("<unset>".to_string(), |n| n.to_string());
                w.write(
                    1,
                    &format!(
                        "{name}\t{num}\t{}\n",
                        p.protocol.as_deref().unwrap_or_default()
                    ),
                );
            }
        }
    }
    if eps.endpoints.is_empty() {
        w.write(0, "Endpoints: <none>\n");
    } else {
        w.write(0, "Endpoints:\n");
        for e in &eps.endpoints {
            let addrs = e.addresses.join(", ");
            w.write(
                1,
                &format!(
                    "- Addresses:\t{}\n",
                    if addrs.is_empty() { "<none>" } else { &addrs }
                ),
            );
            w.write(2, "Conditions:\n");
            let ready = e
                .conditions
                .as_ref()
                .and_then(|c| c.ready)
                .map_or("<unset>".to_string(), |r| r.to_string());
            w.write(3, &format!("Ready:\t{ready}\n"));
            w.write(
                2,
                &format!(
                    "Hostname:\t{}\n",
                    e.hostname.as_deref().unwrap_or("<unset>")
                ),
            );
            if let Some(t) = &e.target_ref {
                w.write(
                    2,
                    &format!(
                        "TargetRef:\t{}/{}\n",
                        t.kind.as_deref().unwrap_or_default(),
                        t.name.as_deref().unwrap_or_default()
                    ),
                );
            }
            w.write(
                2,
                &format!(
                    "NodeName:\t{}\n",
                    e.node_name.as_deref().unwrap_or("<unset>")
                ),
            );
            w.write(
                2,
                &format!("Zone:\t{}\n", e.zone.as_deref().unwrap_or("<unset>")),
            );
        }
    }
    if let Some(ev) = events {
        format::events(&mut w, ev);
    }
    w.finish()
}

/// `describePriorityClass`.
pub fn describe_priority_class(pc: &PriorityClass, events: Option<&[Event]>) -> String {
    let mut w = Writer::new();
    w.write(
        0,
        &format!(
            "Name:\t{}\n",
            pc.metadata.name.as_deref().unwrap_or_default()
        ),
    );
    w.write(0, &format!("Value:\t{}\n", pc.value));
    w.write(
        0,
        &format!("GlobalDefault:\t{}\n", pc.global_default.unwrap_or(false)),
    );
    w.write(
        0,
        &format!(
            "PreemptionPolicy:\t{}\n",
            pc.preemption_policy.as_deref().unwrap_or_default()
        ),
    );
    w.write(
        0,
        &format!(
            "Description:\t{}\n",
            pc.description.as_deref().unwrap_or_default()
        ),
    );
    let ann = pc
        .metadata
        .annotations
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    w.write(
        0,
        &format!(
            "Annotations:\t{}\n",
            if ann.is_empty() { "<none>" } else { &ann }
        ),
    );
    if let Some(ev) = events {
        format::events(&mut w, ev);
    }
    w.finish()
}

/// `describeLimitRange`.
pub fn describe_limit_range(lr: &k8s_openapi::api::core::v1::LimitRange) -> String {
    let mut w = Writer::new();
    w.write(
        0,
        &format!(
            "Name:\t{}\n",
            lr.metadata.name.as_deref().unwrap_or_default()
        ),
    );
    w.write(
        0,
        &format!(
            "Namespace:\t{}\n",
            lr.metadata.namespace.as_deref().unwrap_or_default()
        ),
    );
    w.write(
        0,
        "Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\tMax Limit/Request Ratio\n",
    );
    w.write(
        0,
        "----\t--------\t---\t---\t---------------\t-------------\t-----------------------\n",
    );
    super::core::limit_range_spec(&mut w, lr, "");
    w.finish()
}

/// `describeQuota`: used amounts shown in the hard amount's format.
pub fn describe_resource_quota(rq: &k8s_openapi::api::core::v1::ResourceQuota) -> String {
    use apimachinery::quantity::Quantity;
    let mut w = Writer::new();
    w.write(
        0,
        &format!(
            "Name:\t{}\n",
            rq.metadata.name.as_deref().unwrap_or_default()
        ),
    );
    w.write(
        0,
        &format!(
            "Namespace:\t{}\n",
            rq.metadata.namespace.as_deref().unwrap_or_default()
        ),
    );
    let mut scopes = rq
        .spec
        .as_ref()
        .and_then(|s| s.scopes.clone())
        .unwrap_or_default();
    if !scopes.is_empty() {
        scopes.sort();
        w.write(0, &format!("Scopes:\t{}\n", scopes.join(", ")));
        for s in &scopes {
            let help = super::core::quota_scope_help(s);
            if !help.is_empty() {
                w.write(0, &format!(" * {help}\n"));
            }
        }
    }
    w.write(0, "Resource\tUsed\tHard\n");
    w.write(0, "--------\t----\t----\n");
    let status = rq.status.clone().unwrap_or_default();
    let used = status.used.unwrap_or_default();
    for (name, hard) in status.hard.iter().flatten() {
        let hard = Quantity::parse(&hard.0).unwrap_or_default();
        let mut u = used
            .get(name)
            .and_then(|q| Quantity::parse(&q.0).ok())
            .unwrap_or_default();
        if u.format() != hard.format() {
            u = Quantity::new(u.value() as i64, hard.format());
        }
        w.write(0, &format!("{name}\t{u}\t{hard}\n"));
    }
    w.finish()
}

/// The RoleBinding and ClusterRoleBinding describers.
pub fn describe_binding(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    role_ref: &k8s_openapi::api::rbac::v1::RoleRef,
    subjects: &[k8s_openapi::api::rbac::v1::Subject],
) -> String {
    let mut w = Writer::new();
    w.write(
        0,
        &format!("Name:\t{}\n", meta.name.as_deref().unwrap_or_default()),
    );
    format::labels(&mut w, "Labels", meta.labels.as_ref());
    format::annotations(&mut w, "Annotations", meta.annotations.as_ref());
    w.write(0, "Role:\n");
    w.write(1, &format!("Kind:\t{}\n", role_ref.kind));
    w.write(1, &format!("Name:\t{}\n", role_ref.name));
    w.write(0, "Subjects:\n");
    w.write(1, "Kind\tName\tNamespace\n");
    w.write(1, "----\t----\t---------\n");
    for s in subjects {
        w.write(
            1,
            &format!(
                "{}\t{}\t{}\n",
                s.kind,
                s.name,
                s.namespace.as_deref().unwrap_or_default()
            ),
        );
    }
    w.finish()
}

/// One broken-down policy rule.
#[derive(Debug, Clone, Default, PartialEq)]
struct Rule {
    verbs: Vec<String>,
    groups: Vec<String>,
    resources: Vec<String>,
    names: Vec<String>,
    urls: Vec<String>,
}

impl Rule {
    /// The generated `PolicyRule.String()`, which upstream sorts by.
    fn sort_key(&self) -> String {
        format!(
            "&PolicyRule{{Verbs:[{}],APIGroups:[{}],Resources:[{}],ResourceNames:[{}],NonResourceURLs:[{}],}}",
            self.verbs.join(" "),
            self.groups.join(" "),
            self.resources.join(" "),
            self.names.join(" "),
            self.urls.join(" ")
        )
    }
}

/// `rbac.BreakdownRule` then `rbac.CompactRules`, sorted: one row per
/// group/resource/name with its verbs merged, non-resource URLs apart.
fn compact_rules(rules: &[k8s_openapi::api::rbac::v1::PolicyRule]) -> Vec<Rule> {
    let mut broken = Vec::new();
    for r in rules {
        let groups = r.api_groups.clone().unwrap_or_default();
        let resources = r.resources.clone().unwrap_or_default();
        let names = r.resource_names.clone().unwrap_or_default();
        for g in &groups {
            for res in &resources {
                for v in &r.verbs {
                    let one = |n: Vec<String>| Rule {
                        verbs: vec![v.clone()],
                        groups: vec![g.clone()],
                        resources: vec![res.clone()],
                        names: n,
                        urls: Vec::new(),
                    };
                    if names.is_empty() {
                        broken.push(one(Vec::new()));
                    } else {
                        for n in &names {
                            broken.push(one(vec![n.clone()]));
                        }
                    }
                }
            }
        }
        for u in r.non_resource_urls.iter().flatten() {
            for v in &r.verbs {
                broken.push(Rule {
                    verbs: vec![v.clone()],
                    urls: vec![u.clone()],
                    ..Rule::default()
                });
            }
        }
    }
    let mut compacted: Vec<Rule> = Vec::new();
    let mut simple: Vec<Rule> = Vec::new();
    for r in broken {
        let is_simple = r.urls.is_empty() && r.groups.len() == 1 && r.resources.len() == 1;
        if !is_simple {
            compacted.push(r);
            continue;
        }
        match simple
            .iter_mut()
            .find(|s| s.groups == r.groups && s.resources == r.resources && s.names == r.names)
        {
            Some(s) => {
                for v in r.verbs {
                    if !s.verbs.contains(&v) {
                        s.verbs.push(v);
                    }
                }
            }
            None => simple.push(r),
        }
    }
    compacted.extend(simple);
    compacted.sort_by_key(Rule::sort_key);
    compacted
}

/// `CombineResourceGroup`: `resource.group/subresource`.
fn combine_resource_group(resources: &[String], groups: &[String]) -> String {
    let Some(first) = resources.first() else {
        return String::new();
    };
    let (res, sub) = match first.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (first.as_str(), None),
    };
    let mut out = res.to_string();
    if let Some(g) = groups.first().filter(|g| !g.is_empty()) {
        out.push('.');
        out.push_str(g);
    }
    if let Some(s) = sub {
        out.push('/');
        out.push_str(s);
    }
    out
}

/// The Role and ClusterRole describers.
pub fn describe_role(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    rules: &[k8s_openapi::api::rbac::v1::PolicyRule],
) -> String {
    let mut w = Writer::new();
    w.write(
        0,
        &format!("Name:\t{}\n", meta.name.as_deref().unwrap_or_default()),
    );
    format::labels(&mut w, "Labels", meta.labels.as_ref());
    format::annotations(&mut w, "Annotations", meta.annotations.as_ref());
    w.write(0, "PolicyRule:\n");
    w.write(1, "Resources\tNon-Resource URLs\tResource Names\tVerbs\n");
    w.write(1, "---------\t-----------------\t--------------\t-----\n");
    for r in compact_rules(rules) {
        w.write(
            1,
            &format!(
                "{}\t[{}]\t[{}]\t[{}]\n",
                combine_resource_group(&r.resources, &r.groups),
                r.urls.join(" "),
                r.names.join(" "),
                r.verbs.join(" ")
            ),
        );
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_break_down_and_merge() {
        let rules: Vec<k8s_openapi::api::rbac::v1::PolicyRule> = serde_json::from_value(serde_json::json!([
            {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["watch"]},
            {"apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["a"], "verbs": ["get"]},
            {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}
        ]))
        .unwrap();
        let rows: Vec<String> = compact_rules(&rules)
            .iter()
            .map(|r| {
                format!(
                    "{} {:?} {:?} {:?}",
                    combine_resource_group(&r.resources, &r.groups),
                    r.urls,
                    r.names,
                    r.verbs
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                "pods [] [] [\"get\", \"list\", \"watch\"]",
                "pods/log [] [] [\"get\", \"list\"]",
                " [\"/healthz\"] [] [\"get\"]",
                "deployments.apps [] [\"a\"] [\"get\"]",
            ]
        );
    }

    #[test]
    fn service_account_headers() {
        let sa: ServiceAccount = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "sa", "namespace": "ns", "uid": "u"},
            "secrets": [{"name": "a"}, {"name": "gone"}]
        }))
        .unwrap();
        let secrets: Vec<Secret> =
            serde_json::from_value(serde_json::json!([{"metadata": {"name": "a"}}])).unwrap();
        assert_eq!(
            describe_service_account(&sa, Some(&secrets), None),
            "Name:                sa\nNamespace:           ns\nLabels:              <none>\nAnnotations:         <none>\nImage pull secrets:  <none>\nMountable secrets:   a\n                     gone (not found)\nTokens:              <none>\n"
        );
    }
}
