//! `kubectl expose`: a Service selecting the pods of a pod, service,
//! replication controller, deployment or replica set, with ports and
//! selector taken from the object unless given.

use std::collections::BTreeMap;

use clap::Args;
use http::Method;
use serde_json::{json, Map, Value};

use crate::cli::FileArgs;
use crate::cmd::set::common::{self, DryRun, Query};
use crate::{Ctx, Error};

/// `kubectl expose`.
#[derive(Args, Debug)]
pub struct ExposeArgs {
    pub args: Vec<String>,
    #[command(flatten)]
    pub files: FileArgs,
    #[arg(long, default_value = "")]
    pub port: String,
    #[arg(long = "target-port", default_value = "")]
    pub target_port: String,
    #[arg(long, default_value = "")]
    pub name: String,
    #[arg(long = "type", default_value = "")]
    pub type_: String,
    #[arg(long, default_value = "")]
    pub protocol: String,
    #[arg(long, default_value = "")]
    pub selector: String,
    #[arg(long = "external-ip", default_value = "")]
    pub external_ip: String,
    #[arg(short = 'l', long, default_value = "")]
    pub labels: String,
    #[arg(long = "load-balancer-ip", default_value = "")]
    pub load_balancer_ip: String,
    #[arg(long = "session-affinity", default_value = "")]
    pub session_affinity: String,
    #[arg(long = "cluster-ip", default_value = "")]
    pub cluster_ip: String,
    #[arg(long, default_value = "")]
    pub overrides: String,
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "unchanged")]
    pub dry_run: Option<String>,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[arg(long = "field-manager", default_value = "kubectl-expose")]
    pub field_manager: String,
    #[arg(long = "save-config", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub save_config: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub record: bool,
}

/// What the Service generator takes.
#[derive(Debug, Default, Clone)]
pub struct ServiceParams {
    pub name: String,
    /// `k=v,k2=v2`.
    pub selector: String,
    pub labels: String,
    pub ports: Vec<String>,
    /// Protocols by port, from the exposed object.
    pub protocols: BTreeMap<String, String>,
    pub protocol: String,
    pub target_port: String,
    pub type_: String,
    pub external_ip: String,
    pub load_balancer_ip: String,
    pub session_affinity: String,
    pub cluster_ip: String,
}

/// Parses `k=v,k2=v2`.
pub fn parse_labels(s: &str) -> Result<Map<String, Value>, Error> {
    let mut m = Map::new();
    if s.is_empty() {
        return Ok(m);
    }
    for part in s.split(',') {
        let Some((k, v)) = part.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(Error::msg(format!("unexpected label spec: {part}")));
        };
        m.insert(k.to_string(), json!(v));
    }
    Ok(m)
}

/// Puts `namespace` into a generated object's metadata right after the
/// name, where Go's ObjectMeta has it.
pub fn set_namespace(obj: &mut Value, namespace: &str) {
    let Some(meta) = obj["metadata"].as_object() else {
        return;
    };
    let mut out = Map::new();
    for (k, v) in meta {
        if k == "namespace" {
            continue;
        }
        out.insert(k.clone(), v.clone());
        if k == "name" {
            out.insert("namespace".into(), json!(namespace));
        }
    }
    obj["metadata"] = Value::Object(out);
}

/// The Service the generator makes, keys in Go's struct order.
pub fn generate_service(p: &ServiceParams) -> Result<Value, Error> {
    let selector = parse_labels(&p.selector)?;
    let labels = parse_labels(&p.labels)?;
    let mut ports = Vec::new();
    for (i, ps) in p.ports.iter().enumerate() {
        let port: i64 = ps
            .parse()
            .map_err(|_| Error::msg(format!("strconv.Atoi: parsing {ps:?}: invalid syntax")))?;
        let mut sp = Map::new();
        if p.ports.len() > 1 {
            sp.insert("name".into(), json!(format!("port-{}", i + 1)));
        }
        let proto = if !p.protocol.is_empty() {
            p.protocol.clone()
        } else {
            p.protocols.get(ps).cloned().unwrap_or_else(|| "TCP".into())
        };
        sp.insert("protocol".into(), json!(proto));
        sp.insert("port".into(), json!(port));
        let target = if p.target_port.is_empty() {
            json!(port)
        } else {
            match p.target_port.parse::<i64>() {
                Ok(n) => json!(n),
                Err(_) => json!(p.target_port),
            }
        };
        sp.insert("targetPort".into(), target);
        ports.push(Value::Object(sp));
    }
    let mut meta = Map::new();
    meta.insert("name".into(), json!(p.name));
    meta.insert("creationTimestamp".into(), Value::Null);
    if !labels.is_empty() {
        meta.insert("labels".into(), Value::Object(labels));
    }
    let mut spec = Map::new();
    if !ports.is_empty() {
        spec.insert("ports".into(), Value::Array(ports));
    }
    if !selector.is_empty() {
        spec.insert("selector".into(), Value::Object(selector));
    }
    if !p.cluster_ip.is_empty() {
        spec.insert("clusterIP".into(), json!(p.cluster_ip));
    }
    if !p.type_.is_empty() {
        spec.insert("type".into(), json!(p.type_));
    }
    if !p.external_ip.is_empty() {
        spec.insert("externalIPs".into(), json!([p.external_ip]));
    }
    if !p.session_affinity.is_empty() {
        spec.insert("sessionAffinity".into(), json!(p.session_affinity));
    }
    if p.type_ == "LoadBalancer" && !p.load_balancer_ip.is_empty() {
        spec.insert("loadBalancerIP".into(), json!(p.load_balancer_ip));
    }
    let mut svc = Map::new();
    svc.insert("kind".into(), json!("Service"));
    svc.insert("apiVersion".into(), json!("v1"));
    svc.insert("metadata".into(), Value::Object(meta));
    svc.insert("spec".into(), Value::Object(spec));
    svc.insert("status".into(), json!({"loadBalancer": {}}));
    Ok(Value::Object(svc))
}

/// `k=v,...` with keys sorted, as `MakeLabels` writes a map.
fn make_labels(m: &Value) -> String {
    let mut kv: Vec<(String, String)> = m
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    kv.sort();
    kv.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The selector of the pods `obj` stands for.
fn selector_for(obj: &Value) -> Result<String, String> {
    match obj["kind"].as_str().unwrap_or_default() {
        "Pod" => {
            if obj["metadata"]["labels"]
                .as_object()
                .is_none_or(|m| m.is_empty())
            {
                return Err("the pod has no labels and cannot be exposed".into());
            }
            Ok(make_labels(&obj["metadata"]["labels"]))
        }
        "Service" => {
            if obj["spec"]["selector"].is_null() {
                return Err("the service has no pod selector set".into());
            }
            Ok(make_labels(&obj["spec"]["selector"]))
        }
        "ReplicationController" => Ok(make_labels(&obj["spec"]["selector"])),
        kind @ ("Deployment" | "ReplicaSet") => {
            let sel = &obj["spec"]["selector"];
            if sel.is_null() {
                return Err(format!(
                    "invalid {}: no selectors, therefore cannot be exposed",
                    kind.to_lowercase()
                ));
            }
            if sel["matchExpressions"]
                .as_array()
                .is_some_and(|e| !e.is_empty())
            {
                return Err(format!(
                    "couldn't convert expressions - \"{}\" to map-based selector format",
                    sel["matchExpressions"]
                ));
            }
            Ok(make_labels(&sel["matchLabels"]))
        }
        other => Err(format!("cannot extract pod selector from {other}")),
    }
}

/// The ports (and their protocols) of `obj`.
fn ports_for(obj: &Value) -> (Vec<String>, BTreeMap<String, String>) {
    let mut ports = Vec::new();
    let mut protos = BTreeMap::new();
    let mut add = |p: &Value, field: &str| {
        if let Some(n) = p[field].as_i64() {
            ports.push(n.to_string());
            protos.insert(
                n.to_string(),
                p["protocol"].as_str().unwrap_or("TCP").to_string(),
            );
        }
    };
    match obj["kind"].as_str().unwrap_or_default() {
        "Service" => {
            for p in obj["spec"]["ports"].as_array().into_iter().flatten() {
                add(p, "port");
            }
        }
        kind => {
            let spec = match kind {
                "Pod" => &obj["spec"],
                _ => &obj["spec"]["template"]["spec"],
            };
            for c in spec["containers"].as_array().into_iter().flatten() {
                for p in c["ports"].as_array().into_iter().flatten() {
                    add(p, "containerPort");
                }
            }
        }
    }
    (ports, protos)
}

/// Runs `kubectl expose`.
pub async fn run(ctx: &mut Ctx, a: ExposeArgs) -> Result<(), Error> {
    let cmd = "kubectl expose";
    let dry_run = DryRun::parse(a.dry_run.as_deref())?;
    let format = common::parse_format(a.output.as_deref())?;
    let q = Query {
        args: &a.args,
        files: &a.files,
        selector: None,
        all: false,
        allow_empty: false,
        local: false,
        cmd,
    };
    let (objs, errs) = match common::find(ctx, &q).await {
        Ok(r) => r,
        Err(Error::Usage { msg, .. }) => return Err(Error::msg(msg)),
        Err(e) => return Err(e),
    };
    if let Some(e) = errs.into_iter().next() {
        return Err(e);
    }
    let client = ctx.client().await?;
    for obj in objs {
        let kind = obj.resource.kind.as_str();
        let ok = matches!(
            (obj.resource.group.as_str(), kind),
            ("", "ReplicationController" | "Service" | "Pod")
                | ("apps" | "extensions", "Deployment" | "ReplicaSet")
        );
        if !ok {
            let gk = if obj.resource.group.is_empty() {
                kind.to_string()
            } else {
                format!("{kind}.{}", obj.resource.group)
            };
            return Err(Error::msg(format!("cannot expose a {gk}")));
        }
        let mut p = ServiceParams {
            name: if a.name.is_empty() {
                obj.name.chars().take(63).collect()
            } else {
                a.name.clone()
            },
            selector: a.selector.clone(),
            labels: a.labels.clone(),
            protocol: a.protocol.clone(),
            target_port: a.target_port.clone(),
            type_: a.type_.clone(),
            external_ip: a.external_ip.clone(),
            load_balancer_ip: a.load_balancer_ip.clone(),
            session_affinity: a.session_affinity.clone(),
            cluster_ip: a.cluster_ip.clone(),
            ..Default::default()
        };
        if p.selector.is_empty() {
            p.selector = selector_for(&obj.object).map_err(|e| {
                Error::msg(format!(
                    "couldn't retrieve selectors via --selector flag or introspection: {e}"
                ))
            })?;
        }
        let (ports, protos) = ports_for(&obj.object);
        p.protocols = protos;
        if a.port.is_empty() {
            if ports.is_empty() && a.cluster_ip != "None" {
                return Err(Error::msg(
                    "couldn't find port via --port flag or introspection",
                ));
            }
            p.ports = ports;
        } else {
            p.ports = vec![a.port.clone()];
        }
        if p.labels.is_empty() {
            p.labels = make_labels(&obj.object["metadata"]["labels"]);
        }
        let mut svc = generate_service(&p)?;
        if !a.overrides.is_empty() {
            let o: Value = serde_json::from_str(&a.overrides)
                .map_err(|e| Error::msg(format!("error: {e}")))?;
            svc = apimachinery::patch::merge_patch(&svc, &o);
        }
        let ns = client.namespace.clone();
        if dry_run == DryRun::Client {
            if ctx.global.namespace.is_some() {
                set_namespace(&mut svc, &ns);
            }
            return common::report_typed(
                format.as_ref(),
                &svc,
                "service",
                &p.name,
                &format!("exposed{}", dry_run.suffix()),
            );
        }
        if let Some(m) = svc["metadata"].as_object_mut() {
            m.remove("creationTimestamp");
        }
        if let Some(m) = svc.as_object_mut() {
            m.remove("status");
        }
        if a.save_config {
            svc = crate::patch::with_last_applied(&svc);
        }
        let mut qs = vec![format!("fieldManager={}", a.field_manager)];
        if dry_run == DryRun::Server {
            qs.push("dryRun=All".into());
        }
        let created = client
            .call(
                Method::POST,
                &format!("/api/v1/namespaces/{ns}/services?{}", qs.join("&")),
                Some("application/json"),
                Some("application/json"),
                Some(serde_json::to_vec(&svc).unwrap_or_default()),
            )
            .await?;
        common::report(
            format.as_ref(),
            &created,
            "service",
            &p.name,
            &format!("exposed{}", dry_run.suffix()),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_from_params() {
        let p = ServiceParams {
            name: "web".into(),
            selector: "app=web".into(),
            ports: vec!["80".into()],
            target_port: "8080".into(),
            ..Default::default()
        };
        let s = generate_service(&p).unwrap();
        assert_eq!(
            s["spec"]["ports"],
            json!([{"port": 80, "protocol": "TCP", "targetPort": 8080}])
        );
        assert_eq!(s["spec"]["selector"], json!({"app": "web"}));
    }

    #[test]
    fn selectors_from_objects() {
        let d = json!({"kind": "Deployment", "spec": {"selector": {"matchLabels": {"b": "2", "a": "1"}}}});
        assert_eq!(selector_for(&d).unwrap(), "a=1,b=2");
        let pod = json!({"kind": "Pod", "metadata": {}});
        assert!(selector_for(&pod).is_err());
    }

    #[test]
    fn multiple_ports_get_names() {
        let p = ServiceParams {
            name: "x".into(),
            ports: vec!["80".into(), "443".into()],
            ..Default::default()
        };
        let s = generate_service(&p).unwrap();
        assert_eq!(s["spec"]["ports"][1]["name"], "port-2");
    }
}
