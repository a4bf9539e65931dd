//! The generators that need the server or more than a name: RBAC roles and
//! bindings (resource names go through discovery), jobs (maybe from a cron
//! job), cron jobs, priority classes, quotas and pod disruption budgets.
//! Objects are built in the Go structs' field order, since `-o json` of a
//! client-side dry run prints them in that order.

use std::collections::BTreeMap;

use apimachinery::quantity::Quantity;
use serde_json::{json, Map, Value};

use crate::cli::{CreateCmd, SecretCmd};
use crate::discovery::{Discovery, Resource};
use crate::error::Error;
use crate::Ctx;

/// A generated object and how to create it.
pub struct Generated {
    /// The generator's command name (`role`), for usage errors.
    pub resource: Resource,
    pub object: Value,
    /// What precedes the server's message when creation fails, if upstream
    /// wraps it.
    pub failure: Option<String>,
}

const VALID_RESOURCE_VERBS: &[&str] = &[
    "*",
    "get",
    "delete",
    "list",
    "create",
    "update",
    "patch",
    "watch",
    "proxy",
    "deletecollection",
    "use",
    "bind",
    "escalate",
    "impersonate",
];
const VALID_NON_RESOURCE_VERBS: &[&str] = &[
    "*", "get", "post", "put", "delete", "patch", "head", "options",
];

/// Verbs that only make sense on certain group-resources.
fn special_verb(verb: &str) -> Option<&'static [(&'static str, &'static str)]> {
    Some(match verb {
        "use" => &[
            ("policy", "podsecuritypolicies"),
            ("extensions", "podsecuritypolicies"),
        ],
        "bind" | "escalate" => &[
            ("rbac.authorization.k8s.io", "roles"),
            ("rbac.authorization.k8s.io", "clusterroles"),
        ],
        "impersonate" => &[
            ("", "users"),
            ("", "serviceaccounts"),
            ("", "groups"),
            ("authentication.k8s.io", "userextras"),
        ],
        _ => return None,
    })
}

/// `--resource` split as `resource.group/subresource`.
#[derive(Debug, Clone, PartialEq)]
struct ResourceSpec {
    group: String,
    resource: String,
    sub: String,
}

fn parse_resources(specs: &[String]) -> Vec<ResourceSpec> {
    let mut out = Vec::new();
    for r in specs {
        let (main, sub) = match r.split_once('/') {
            Some((m, s)) => (m, s.to_string()),
            None => (r.as_str(), String::new()),
        };
        let (resource, group) = match main.split_once('.') {
            Some((r, g)) => (r.to_string(), g.to_string()),
            None => (main.to_string(), String::new()),
        };
        let whole_wildcard = resource == "*" && !main.contains('.') && !r.contains('/');
        let spec = ResourceSpec {
            group,
            resource,
            sub,
        };
        if whole_wildcard {
            return vec![spec];
        }
        out.push(spec);
    }
    out
}

/// Keeps the first of each value; `*` among verbs means only `*`.
fn dedup(v: &[String], star_wins: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for x in v {
        if star_wins && x == "*" {
            return vec!["*".into()];
        }
        if !out.contains(x) {
            out.push(x.clone());
        }
    }
    out
}

/// The RESTMapper's `ResourceFor` on a (group, resource) pair.
fn resource_for(disco: &Discovery, r: &ResourceSpec) -> Result<(String, String), Error> {
    let lower = r.resource.to_lowercase();
    let found = if r.group.is_empty() {
        disco.resolve(&lower).ok()
    } else {
        disco.resolve(&format!("{lower}.{}", r.group)).ok()
    };
    match found {
        Some(res) => Ok((res.group.clone(), res.plural.clone())),
        None => Err(Error::Verbatim(format!(
            "the server doesn't have a resource type \"{}\"",
            r.resource
        ))),
    }
}

fn validate_resources(
    disco: &Discovery,
    verbs: &[String],
    resources: &[ResourceSpec],
) -> Result<(), Error> {
    for r in resources {
        if r.resource.is_empty() {
            return Err(Error::msg(
                "resource must be specified if apiGroup/subresource specified",
            ));
        }
        if r.resource == "*" {
            return Ok(());
        }
        let mapped = resource_for(disco, r);
        let (group, resource) = match &mapped {
            Ok(gr) => gr.clone(),
            Err(_) => (r.group.clone(), r.resource.clone()),
        };
        let mut err = mapped.err();
        for v in verbs {
            if let Some(allowed) = special_verb(v) {
                if allowed
                    .iter()
                    .any(|(g, res)| *g == group && *res == resource)
                {
                    err = None;
                } else {
                    return Err(Error::msg(format!(
                        "can not perform '{v}' on '{resource}' in group '{group}'"
                    )));
                }
            }
        }
        if let Some(e) = err {
            return Err(e);
        }
    }
    Ok(())
}

/// One rule per API group (sorted), then one for non-resource URLs.
fn policy_rules(
    disco: &Discovery,
    verbs: &[String],
    resources: &[ResourceSpec],
    names: &[String],
    urls: &[String],
) -> Vec<Value> {
    let mut by_group: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in resources {
        let (group, mut resource) =
            resource_for(disco, r).unwrap_or_else(|_| (r.group.clone(), r.resource.clone()));
        if !r.sub.is_empty() {
            resource = format!("{resource}/{}", r.sub);
        }
        let list = by_group.entry(group).or_default();
        if !list.contains(&resource) {
            list.push(resource);
        }
    }
    let mut rules = Vec::new();
    for (g, res) in by_group {
        let mut rule = json!({"verbs": verbs, "apiGroups": [g], "resources": res});
        if !names.is_empty() {
            rule["resourceNames"] = json!(names);
        }
        rules.push(rule);
    }
    if !urls.is_empty() {
        rules.push(json!({"verbs": verbs, "nonResourceURLs": urls}));
    }
    rules
}

fn meta(name: &str) -> Value {
    json!({"name": name, "creationTimestamp": null})
}

fn warn_verbs(verbs: &[String]) {
    for v in verbs {
        if !VALID_RESOURCE_VERBS.contains(&v.as_str()) {
            crate::eprint_line(&format!("Warning: '{v}' is not a standard resource verb"));
        }
    }
}

/// RBAC subjects from `--user`, `--group`, `--serviceaccount`.
fn subjects(users: &[String], groups: &[String], sas: &[String]) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for u in users {
        out.push(json!({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": u}));
    }
    for g in groups {
        out.push(json!({"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": g}));
    }
    for sa in sas {
        let parts: Vec<&str> = sa.split(':').collect();
        if parts.len() != 2 || parts[1].is_empty() {
            return Err(Error::msg("serviceaccount must be <namespace>:<name>"));
        }
        out.push(json!({"kind": "ServiceAccount", "name": parts[1], "namespace": parts[0]}));
    }
    Ok(out)
}

fn resource(group: &str, plural: &str, kind: &str, namespaced: bool) -> Resource {
    Resource {
        group: group.to_string(),
        version: "v1".to_string(),
        plural: plural.to_string(),
        singular: kind.to_lowercase(),
        kind: kind.to_string(),
        namespaced,
        short_names: Vec::new(),
        verbs: Vec::new(),
        categories: Vec::new(),
        preferred: true,
    }
}

fn need_name(cmd: &str, name: Option<String>) -> Result<String, Error> {
    name.filter(|n| !n.is_empty()).ok_or_else(|| {
        Error::usage(
            &format!("kubectl create {cmd}"),
            "exactly one NAME is required, got 0",
        )
    })
}

/// A pod template running `image` (with `command`) in one container named
/// after the object.
fn pod_template(name: &str, image: &str, command: &[String], restart: &str) -> Value {
    let mut c = json!({"name": name, "image": image});
    if !command.is_empty() {
        c["command"] = json!(command);
    }
    c["resources"] = json!({});
    json!({"metadata": {"creationTimestamp": null}, "spec": {"containers": [c], "restartPolicy": restart}})
}

/// Builds the object of one of this module's generators; other variants
/// are handed back untouched.
pub async fn generate(
    ctx: &mut Ctx,
    what: CreateCmd,
) -> Result<Result<Generated, CreateCmd>, Error> {
    const RBAC: &str = "rbac.authorization.k8s.io";
    Ok(Ok(match what {
        CreateCmd::Role {
            name,
            verb,
            resource: res,
            resource_name,
        } => {
            let name = need_name("role", name)?;
            let verbs = dedup(&verb, true);
            let resources = parse_resources(&res);
            let names = dedup(&resource_name, false);
            if verbs.is_empty() {
                return Err(Error::msg("at least one verb must be specified"));
            }
            warn_verbs(&verbs);
            if resources.is_empty() {
                return Err(Error::msg("at least one resource must be specified"));
            }
            let disco = ctx.discovery().await?.clone();
            validate_resources(&disco, &verbs, &resources)?;
            let rules = policy_rules(&disco, &verbs, &resources, &names, &[]);
            Generated {
                resource: resource(RBAC, "roles", "Role", true),
                object: json!({"kind": "Role", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": meta(&name), "rules": rules}),
                failure: None,
            }
        }
        CreateCmd::Clusterrole {
            name,
            verb,
            resource: res,
            resource_name,
            non_resource_url,
            aggregation_rule,
        } => {
            let name = need_name("clusterrole", name)?;
            let urls = dedup(&non_resource_url, false);
            let verbs = dedup(&verb, true);
            let resources = parse_resources(&res);
            let names = dedup(&resource_name, false);
            let mut agg = Map::new();
            for pair in aggregation_rule.iter().flat_map(|a| a.split(',')) {
                let Some((k, v)) = pair.split_once('=') else {
                    return Err(Error::msg(format!(
                        "invalid argument \"{pair}\" for \"--aggregation-rule\" flag: {pair} must be formatted as key=value"
                    )));
                };
                agg.insert(k.to_string(), json!(v));
            }
            let base = json!({"kind": "ClusterRole", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": meta(&name)});
            let mut object = base;
            if !agg.is_empty() {
                if !urls.is_empty()
                    || !verbs.is_empty()
                    || !resources.is_empty()
                    || !names.is_empty()
                {
                    return Err(Error::msg("aggregation rule must be specified without nonResourceURLs, verbs, resources or resourceNames"));
                }
                object["rules"] = Value::Null;
                object["aggregationRule"] =
                    json!({"clusterRoleSelectors": [{"matchLabels": Value::Object(agg)}]});
            } else {
                if verbs.is_empty() {
                    return Err(Error::msg("at least one verb must be specified"));
                }
                if resources.is_empty() && urls.is_empty() {
                    return Err(Error::msg(
                        "one of resource or nonResourceURL must be specified",
                    ));
                }
                let disco = ctx.discovery().await?.clone();
                if !resources.is_empty() {
                    warn_verbs(&verbs);
                    validate_resources(&disco, &verbs, &resources)?;
                }
                if !urls.is_empty() {
                    for v in &verbs {
                        if !VALID_NON_RESOURCE_VERBS.contains(&v.as_str()) {
                            return Err(Error::msg(format!(
                                "invalid verb: '{v}' for nonResourceURL"
                            )));
                        }
                    }
                    for u in &urls {
                        if u == "*" {
                            continue;
                        }
                        if !u.starts_with('/') {
                            return Err(Error::msg("nonResourceURL should start with /"));
                        }
                        if u[..u.len() - 1].contains('*') {
                            return Err(Error::msg(
                                "nonResourceURL only supports wildcard matches when '*' is at the end",
                            ));
                        }
                    }
                }
                object["rules"] = json!(policy_rules(&disco, &verbs, &resources, &names, &urls));
            }
            Generated {
                resource: resource(RBAC, "clusterroles", "ClusterRole", false),
                object,
                failure: None,
            }
        }
        CreateCmd::Rolebinding {
            name,
            role,
            clusterrole,
            user,
            group,
            serviceaccount,
        } => {
            let name = need_name("rolebinding", name)?;
            let role = role.filter(|r| !r.is_empty());
            let clusterrole = clusterrole.filter(|r| !r.is_empty());
            let role_ref = match (role, clusterrole) {
                (Some(r), None) => json!({"apiGroup": RBAC, "kind": "Role", "name": r}),
                (None, Some(c)) => json!({"apiGroup": RBAC, "kind": "ClusterRole", "name": c}),
                _ => {
                    return Err(Error::msg(
                        "exactly one of clusterrole or role must be specified",
                    ))
                }
            };
            let subs = subjects(&user, &group, &serviceaccount)?;
            let mut object = json!({"kind": "RoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": meta(&name)});
            if !subs.is_empty() {
                object["subjects"] = json!(subs);
            }
            object["roleRef"] = role_ref;
            Generated {
                resource: resource(RBAC, "rolebindings", "RoleBinding", true),
                object,
                failure: Some("failed to create rolebinding: ".into()),
            }
        }
        CreateCmd::Clusterrolebinding {
            name,
            clusterrole,
            user,
            group,
            serviceaccount,
        } => {
            let Some(cr) = clusterrole else {
                return Err(Error::msg("required flag(s) \"clusterrole\" not set"));
            };
            let name = need_name("clusterrolebinding", name)?;
            let subs = subjects(&user, &group, &serviceaccount)?;
            let mut object = json!({"kind": "ClusterRoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": meta(&name)});
            if !subs.is_empty() {
                object["subjects"] = json!(subs);
            }
            object["roleRef"] = json!({"apiGroup": RBAC, "kind": "ClusterRole", "name": cr});
            Generated {
                resource: resource(RBAC, "clusterrolebindings", "ClusterRoleBinding", false),
                object,
                failure: Some("failed to create clusterrolebinding: ".into()),
            }
        }
        CreateCmd::Job {
            name,
            image,
            from,
            command,
        } => {
            let name = need_name("job", name)?;
            let image = image.filter(|i| !i.is_empty());
            let from = from.filter(|f| !f.is_empty());
            if image.is_some() == from.is_some() {
                return Err(Error::msg("either --image or --from must be specified"));
            }
            if !command.is_empty() && from.is_some() {
                return Err(Error::msg("cannot specify --from and command"));
            }
            let object = match (image, from) {
                (Some(img), _) => {
                    json!({"kind": "Job", "apiVersion": "batch/v1", "metadata": meta(&name),
                    "spec": {"template": pod_template(&name, &img, &command, "Never")}, "status": {}})
                }
                (None, Some(from)) => job_from(ctx, &name, &from).await?,
                (None, None) => unreachable!("checked above"),
            };
            Generated {
                resource: resource("batch", "jobs", "Job", true),
                object,
                failure: Some("failed to create job: ".into()),
            }
        }
        CreateCmd::Cronjob {
            name,
            image,
            schedule,
            restart,
            command,
        } => {
            let missing: Vec<&str> = [("image", &image), ("schedule", &schedule)]
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(n, _)| *n)
                .collect();
            if !missing.is_empty() {
                return Err(Error::msg(format!(
                    "required flag(s) \"{}\" not set",
                    missing.join("\", \"")
                )));
            }
            let name = need_name("cronjob", name)?;
            let restart = restart
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "OnFailure".into());
            let image = image.unwrap_or_default();
            Generated {
                resource: resource("batch", "cronjobs", "CronJob", true),
                object: json!({"kind": "CronJob", "apiVersion": "batch/v1", "metadata": meta(&name),
                    "spec": {"schedule": schedule, "jobTemplate": {"metadata": meta(&name),
                        "spec": {"template": pod_template(&name, &image, &command, &restart)}}},
                    "status": {}}),
                failure: Some("failed to create cronjob: ".into()),
            }
        }
        CreateCmd::Priorityclass {
            name,
            value,
            global_default,
            description,
            preemption_policy,
        } => {
            let name = need_name("priorityclass", name)?;
            let mut object = json!({"kind": "PriorityClass", "apiVersion": "scheduling.k8s.io/v1", "metadata": meta(&name), "value": value});
            if global_default {
                object["globalDefault"] = json!(true);
            }
            if let Some(d) = description.filter(|d| !d.is_empty()) {
                object["description"] = json!(d);
            }
            object["preemptionPolicy"] = json!(preemption_policy);
            Generated {
                resource: resource(
                    "scheduling.k8s.io",
                    "priorityclasses",
                    "PriorityClass",
                    false,
                ),
                object,
                failure: Some("failed to create priorityclass: ".into()),
            }
        }
        CreateCmd::Quota { name, hard, scopes } => {
            let name = need_name("quota", name)?;
            let mut spec = Map::new();
            if let Some(h) = hard.filter(|h| !h.is_empty()) {
                spec.insert("hard".into(), parse_hard(&h)?);
            }
            if let Some(s) = scopes.filter(|s| !s.is_empty()) {
                let mut list = Vec::new();
                for scope in s.split(',') {
                    if scope.is_empty() {
                        return Err(Error::msg("invalid resource quota scope \"\""));
                    }
                    list.push(json!(scope));
                }
                spec.insert("scopes".into(), Value::Array(list));
            }
            Generated {
                resource: resource("", "resourcequotas", "ResourceQuota", true),
                object: json!({"kind": "ResourceQuota", "apiVersion": "v1", "metadata": meta(&name), "spec": spec, "status": {}}),
                failure: Some("failed to create quota: ".into()),
            }
        }
        CreateCmd::Poddisruptionbudget {
            name,
            min_available,
            max_unavailable,
            selector,
        } => {
            let name = need_name("poddisruptionbudget", name)?;
            let min = min_available.filter(|m| !m.is_empty());
            let max = max_unavailable.filter(|m| !m.is_empty());
            let Some(selector) = selector.filter(|s| !s.is_empty()) else {
                return Err(Error::msg("a selector must be specified"));
            };
            match (&min, &max) {
                (None, None) => {
                    return Err(Error::msg(
                        "one of min-available or max-unavailable must be specified",
                    ))
                }
                (Some(_), Some(_)) => {
                    return Err(Error::msg(
                        "min-available and max-unavailable cannot be both specified",
                    ))
                }
                _ => {}
            }
            if min.as_deref().is_some_and(|m| !count_or_percent(m)) {
                return Err(Error::msg("invalid format specified for min-available"));
            }
            if max.as_deref().is_some_and(|m| !count_or_percent(m)) {
                return Err(Error::msg("invalid format specified for max-unavailable"));
            }
            let mut spec = Map::new();
            if let Some(m) = &min {
                spec.insert("minAvailable".into(), int_or_string(m));
            }
            spec.insert("selector".into(), label_selector(&selector)?);
            if let Some(m) = &max {
                spec.insert("maxUnavailable".into(), int_or_string(m));
            }
            Generated {
                resource: resource(
                    "policy",
                    "poddisruptionbudgets",
                    "PodDisruptionBudget",
                    true,
                ),
                object: json!({"kind": "PodDisruptionBudget", "apiVersion": "policy/v1", "metadata": meta(&name), "spec": spec,
                    "status": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}}),
                failure: Some("failed to create poddisruptionbudgets: ".into()),
            }
        }
        CreateCmd::Secret {
            kind:
                SecretCmd::DockerRegistry {
                    name,
                    docker_username,
                    docker_password,
                    docker_email,
                    docker_server,
                    from_file,
                },
        } => {
            let name = need_name("secret docker-registry", name)?;
            let user = docker_username.unwrap_or_default();
            let pass = docker_password.unwrap_or_default();
            if from_file.is_empty()
                && (user.is_empty() || pass.is_empty() || docker_server.is_empty())
            {
                return Err(Error::msg("either --from-file or the combination of --docker-username, --docker-password and --docker-server is required"));
            }
            let mut data = Map::new();
            if !from_file.is_empty() {
                for f in &from_file {
                    let (k, path) = match f.split_once('=') {
                        Some((k, p)) => (k.to_string(), p.to_string()),
                        None => (
                            std::path::Path::new(f)
                                .file_name()
                                .map(|n| n.to_string_lossy().to_string())
                                .unwrap_or_default(),
                            f.clone(),
                        ),
                    };
                    let bytes = std::fs::read(&path).map_err(|_| {
                        Error::msg(format!("error reading {path}: no such file or directory"))
                    })?;
                    data.insert(k, json!(b64(&bytes)));
                }
            } else {
                let cfg = docker_config_json(&user, &pass, docker_email.as_deref(), &docker_server);
                data.insert(".dockerconfigjson".into(), json!(b64(cfg.as_bytes())));
            }
            Generated {
                resource: resource("", "secrets", "Secret", true),
                object: json!({"kind": "Secret", "apiVersion": "v1", "metadata": meta(&name),
                    "data": data, "type": "kubernetes.io/dockerconfigjson"}),
                failure: Some("failed to create secret ".into()),
            }
        }
        CreateCmd::Secret {
            kind: SecretCmd::Tls { name, cert, key },
        } => {
            let name = need_name("secret tls", name)?;
            let (Some(cert), Some(key)) = (
                cert.filter(|c| !c.is_empty()),
                key.filter(|k| !k.is_empty()),
            ) else {
                return Err(Error::msg("key and cert must be specified"));
            };
            let read = |f: &str| {
                std::fs::read(f).map_err(|e| {
                    let why = match e.kind() {
                        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
                        _ => e.to_string(),
                    };
                    Error::msg(format!("Cannot read file {f}, open {f}: {why}"))
                })
            };
            let (c, k) = (read(&cert)?, read(&key)?);
            Generated {
                resource: resource("", "secrets", "Secret", true),
                object: json!({"kind": "Secret", "apiVersion": "v1", "metadata": meta(&name),
                    "data": {"tls.crt": b64(&c), "tls.key": b64(&k)}, "type": "kubernetes.io/tls"}),
                failure: Some("failed to create secret ".into()),
            }
        }
        other => return Ok(Err(other)),
    }))
}

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// The `.dockerconfigjson` document for one registry, compact as Go's
/// `json.Marshal` writes it.
fn docker_config_json(user: &str, pass: &str, email: Option<&str>, server: &str) -> String {
    let mut entry = json!({"username": user, "password": pass});
    if let Some(e) = email.filter(|e| !e.is_empty()) {
        entry["email"] = json!(e);
    }
    entry["auth"] = json!(b64(format!("{user}:{pass}").as_bytes()));
    let mut auths = Map::new();
    auths.insert(server.to_string(), entry);
    serde_json::to_string(&json!({"auths": auths})).unwrap_or_default()
}

/// A Job from a CronJob's template (`--from=cronjob/NAME`).
async fn job_from(ctx: &mut Ctx, name: &str, from: &str) -> Result<Value, Error> {
    let Some((ty, cj_name)) = from.split_once('/') else {
        return Err(Error::msg("from must be an existing cronjob"));
    };
    let target = ctx
        .targets(&[format!("{ty}/{cj_name}")], "kubectl create job")
        .await?;
    let r = target[0].resource.clone();
    let client = ctx.client().await?;
    let ns = client.namespace.clone();
    let obj = client
        .get(&r.item_path(r.namespaced.then_some(ns.as_str()), cj_name))
        .await?;
    if r.kind != "CronJob" {
        return Err(Error::msg(format!(
            "unknown object type *{}.{}",
            r.version, r.kind
        )));
    }
    let tpl = &obj["spec"]["jobTemplate"];
    let mut annotations = Map::new();
    annotations.insert("cronjob.kubernetes.io/instantiate".into(), json!("manual"));
    if let Some(a) = tpl["metadata"]["annotations"].as_object() {
        for (k, v) in a {
            annotations.insert(k.clone(), v.clone());
        }
    }
    let mut m = json!({"name": name, "creationTimestamp": null});
    if let Some(l) = tpl["metadata"]["labels"].as_object() {
        m["labels"] = Value::Object(l.clone());
    }
    m["annotations"] = Value::Object(annotations);
    m["ownerReferences"] = json!([{"apiVersion": "batch/v1", "kind": "CronJob",
        "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"], "controller": true}]);
    Ok(
        json!({"kind": "Job", "apiVersion": "batch/v1", "metadata": m, "spec": tpl["spec"].clone(), "status": {}}),
    )
}

/// `--hard=cpu=1,memory=1G` as a ResourceList (quantities as typed, or
/// canonical when they are not in canonical form).
fn parse_hard(spec: &str) -> Result<Value, Error> {
    let mut out = BTreeMap::new();
    for stmt in spec.split(',') {
        let parts: Vec<&str> = stmt.split('=').collect();
        if parts.len() != 2 {
            return Err(Error::msg(format!(
                "Invalid argument syntax {stmt}, expected <resource>=<value>"
            )));
        }
        let qty = Quantity::parse(parts[1]).map_err(|e| Error::msg(e.to_string()))?;
        out.insert(parts[0].to_string(), json!(qty.canonical()));
    }
    Ok(json!(out))
}

/// `^[0-9]+%?$`.
fn count_or_percent(s: &str) -> bool {
    let digits = s.strip_suffix('%').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `intstr.Parse`: a number if it is one, else the string.
fn int_or_string(s: &str) -> Value {
    match s.parse::<i32>() {
        Ok(n) => json!(n),
        Err(_) => json!(s),
    }
}

/// `metav1.ParseToLabelSelector` for equality-based selectors.
fn label_selector(s: &str) -> Result<Value, Error> {
    let mut labels = BTreeMap::new();
    let mut exprs = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((k, v)) = part.split_once("!=") {
            exprs.push(json!({"key": k.trim(), "operator": "NotIn", "values": [v.trim()]}));
        } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
            labels.insert(k.trim().to_string(), json!(v.trim()));
        } else if let Some(k) = part.strip_prefix('!') {
            exprs.push(json!({"key": k.trim(), "operator": "DoesNotExist"}));
        } else {
            exprs.push(json!({"key": part, "operator": "Exists"}));
        }
    }
    let mut sel = Map::new();
    if !labels.is_empty() {
        sel.insert("matchLabels".into(), json!(labels));
    }
    if !exprs.is_empty() {
        sel.insert("matchExpressions".into(), json!(exprs));
    }
    Ok(Value::Object(sel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_split_like_upstream() {
        let r = parse_resources(&["pods/log".into(), "deployments.apps".into()]);
        assert_eq!(r[0].sub, "log");
        assert_eq!(
            (r[1].resource.as_str(), r[1].group.as_str()),
            ("deployments", "apps")
        );
        assert_eq!(
            parse_resources(&["pods".into(), "*".into(), "x".into()]).len(),
            1
        );
    }

    #[test]
    fn verbs_dedup_and_star() {
        assert_eq!(dedup(&["get".into(), "get".into()], true), vec!["get"]);
        assert_eq!(dedup(&["get".into(), "*".into()], true), vec!["*"]);
    }

    #[test]
    fn pdb_values() {
        assert!(count_or_percent("50%"));
        assert!(!count_or_percent("abc"));
        assert_eq!(int_or_string("1"), json!(1));
        assert_eq!(int_or_string("50%"), json!("50%"));
        assert_eq!(
            label_selector("app=x").unwrap(),
            json!({"matchLabels": {"app": "x"}})
        );
    }

    #[test]
    fn docker_config() {
        assert_eq!(
            docker_config_json("u", "p", Some("e@x"), "r.io"),
            r#"{"auths":{"r.io":{"username":"u","password":"p","email":"e@x","auth":"dTpw"}}}"#
        );
    }

    #[test]
    fn quota_hard() {
        assert_eq!(
            parse_hard("cpu=1,memory=1G").unwrap(),
            json!({"cpu": "1", "memory": "1G"})
        );
        assert!(parse_hard("cpu").is_err());
    }
}
