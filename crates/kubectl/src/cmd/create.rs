//! `kubectl create -f` and the generators (`create namespace`,
//! `deployment`, `configmap`, `secret generic`, `serviceaccount`,
//! `service clusterip|nodeport`).

use std::collections::BTreeMap;

use base64::Engine;
use http::Method;
use serde_json::{json, Map, Value};

use crate::cli::{CreateArgs, CreateCmd, SecretCmd, ServiceCmd};
use crate::cmd::apply::{add_source, locate, Located};
use crate::discovery::Resource;
use crate::error::Error;
use crate::manifest;
use crate::output::{self, Format};
use crate::{print, Ctx};

mod generators;

/// Runs `kubectl create`.
pub async fn run(ctx: &mut Ctx, a: CreateArgs) -> Result<(), Error> {
    let format = a
        .output
        .as_deref()
        .map(|o| Format::parse(Some(o)))
        .transpose()?;
    let dry_run = a.dry_run.clone().unwrap_or_else(|| "none".into());
    let Some(what) = a.what else {
        return from_files(ctx, &a.files, format, &dry_run).await;
    };
    if let CreateCmd::Rolebinding { user, .. } | CreateCmd::Clusterrolebinding { user, .. } = &what
    {
        // clap copies the binding's `--user` into the global flag of the
        // same name; upstream's local flag shadows the global one.
        if !user.is_empty() {
            ctx.global.user = None;
        }
    }
    let gen = match generators::generate(ctx, what).await? {
        Ok(g) => g,
        Err(what) => {
            let (cmd, obj) = generate(what)?;
            let failure = match (cmd, obj["spec"]["type"].as_str()) {
                ("namespace", _) => None,
                ("secret", _) => Some("failed to create secret ".to_string()),
                ("service", Some(t)) => Some(format!("failed to create {t} service: ")),
                (c, _) => Some(format!("failed to create {c}: ")),
            };
            generators::Generated {
                resource: builtin_resource(cmd),
                object: obj,
                failure,
            }
        }
    };
    let (failure, resource, obj) = (gen.failure, gen.resource, gen.object);
    // Generators make built-in kinds only: no discovery needed, and a
    // client-side dry run never talks to the server.
    let client = ctx.client().await?;
    let mut object = obj;
    if resource.namespaced && ctx.global.namespace.is_some() {
        object["metadata"]["namespace"] = json!(client.namespace);
    }
    let loc = Located {
        namespace: resource.namespaced.then(|| client.namespace.clone()),
        name: object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        resource,
        object,
    };
    let created = if dry_run == "client" {
        loc.object.clone()
    } else {
        let q = if dry_run == "server" {
            "?dryRun=All"
        } else {
            ""
        };
        client
            .call(
                Method::POST,
                &format!(
                    "{}{q}",
                    loc.resource.collection_path(loc.namespace.as_deref())
                ),
                Some("application/json"),
                Some("application/json"),
                Some(serde_json::to_vec(&loc.object).unwrap_or_default()),
            )
            .await
            .map_err(|e| match (&failure, e) {
                (Some(prefix), Error::Api(s)) => Error::msg(format!(
                    "{prefix}{}",
                    s["message"].as_str().unwrap_or_default()
                )),
                (_, e) => e,
            })?
    };
    if dry_run == "client" && format == Some(Format::Json) {
        // A typed object: Go's struct order, not sorted keys.
        let mut obj = created;
        reorder_metadata(&mut obj);
        print(&output::json::to_string_pretty_unsorted(&obj));
        print("\n");
        return Ok(());
    }
    report(
        &format,
        &dry_run,
        &loc.resource.kind_group(),
        &loc.name,
        &created,
    )
}

/// Puts metadata keys in `ObjectMeta`'s field order.
fn reorder_metadata(obj: &mut Value) {
    const ORDER: &[&str] = &[
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
    let Some(m) = obj.get("metadata").and_then(Value::as_object) else {
        return;
    };
    let mut out = Map::new();
    for k in ORDER {
        if let Some(v) = m.get(*k) {
            out.insert(k.to_string(), v.clone());
        }
    }
    obj["metadata"] = Value::Object(out);
}

fn report(
    format: &Option<Format>,
    dry_run: &str,
    kind_group: &str,
    name: &str,
    obj: &Value,
) -> Result<(), Error> {
    let mut out = String::new();
    match format {
        Some(f) if !f.is_table() => output::print_object(f, obj, &mut out)?,
        _ => {
            let suffix = match dry_run {
                "client" => " (dry run)",
                "server" => " (server dry run)",
                _ => "",
            };
            out = format!("{kind_group}/{name} created{suffix}\n");
        }
    }
    print(&out);
    Ok(())
}

async fn from_files(
    ctx: &mut Ctx,
    files: &crate::cli::FileArgs,
    format: Option<Format>,
    dry_run: &str,
) -> Result<(), Error> {
    if files.filename.is_empty() {
        return Err(Error::usage(
            "kubectl create",
            "must specify one of -f and -k",
        ));
    }
    let manifests = manifest::read_all(&files.filename, files.recursive)?;
    let client = ctx.client().await?;
    let ns_flag = ctx.global.namespace.clone();
    let disco = ctx.discovery_for(&manifests).await?;
    let mut errors = Vec::new();
    for m in &manifests {
        let res = async {
            let loc = locate(&disco, m, &client.namespace, ns_flag.as_deref())?;
            let obj = if dry_run == "client" {
                loc.object.clone()
            } else {
                let q = if dry_run == "server" {
                    "?dryRun=All"
                } else {
                    ""
                };
                client
                    .call(
                        Method::POST,
                        &format!(
                            "{}{q}",
                            loc.resource.collection_path(loc.namespace.as_deref())
                        ),
                        Some("application/json"),
                        Some("application/json"),
                        Some(serde_json::to_vec(&loc.object).unwrap_or_default()),
                    )
                    .await
                    .map_err(|e| add_source(e, "creating", &m.source))?
            };
            Ok::<_, Error>((loc, obj))
        }
        .await;
        match res {
            Ok((loc, obj)) => report(
                &format,
                dry_run,
                &loc.resource.kind_group(),
                // generateName: the server picked the name.
                obj["metadata"]["name"].as_str().unwrap_or(&loc.name),
                &obj,
            )?,
            Err(e) => errors.push(e),
        }
    }
    let last = errors.pop();
    for e in errors {
        crate::eprint_line(&e.to_string());
    }
    last.map_or(Ok(()), Err)
}

fn need_name(cmd: &str, name: Option<String>) -> Result<String, Error> {
    name.filter(|n| !n.is_empty())
        .ok_or_else(|| Error::usage(cmd, "exactly one NAME is required, got 0"))
}

/// The object a generator creates (what upstream's generators produce).
fn generate(what: CreateCmd) -> Result<(&'static str, Value), Error> {
    Ok(match what {
        CreateCmd::Namespace { name } => {
            let name = need_name("kubectl create namespace", name)?;
            (
                "namespace",
                json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": name, "creationTimestamp": null}, "spec": {}, "status": {}}),
            )
        }
        CreateCmd::Serviceaccount { name } => {
            let name = need_name("kubectl create serviceaccount", name)?;
            (
                "serviceaccount",
                json!({"kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": name, "creationTimestamp": null}}),
            )
        }
        CreateCmd::Configmap {
            name,
            from_literal,
            from_file,
        } => {
            let name = need_name("kubectl create configmap", name)?;
            let (data, binary) = collect_data(&from_literal, &from_file, false)?;
            let mut obj = json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": name, "creationTimestamp": null}});
            if !data.is_empty() {
                obj["data"] = Value::Object(data);
            }
            if !binary.is_empty() {
                obj["binaryData"] = Value::Object(binary);
            }
            ("configmap", obj)
        }
        CreateCmd::Secret {
            kind:
                SecretCmd::Generic {
                    name,
                    from_literal,
                    from_file,
                    type_,
                },
        } => {
            let name = need_name("kubectl create secret generic", name)?;
            let (data, _) = collect_data(&from_literal, &from_file, true)?;
            let mut obj = json!({"kind": "Secret", "apiVersion": "v1", "metadata": {"name": name, "creationTimestamp": null}});
            if !data.is_empty() {
                obj["data"] = Value::Object(data);
            }
            if let Some(t) = type_ {
                obj["type"] = json!(t);
            }
            ("secret", obj)
        }
        CreateCmd::Deployment {
            name,
            image,
            replicas,
            port,
        } => {
            let name = need_name("kubectl create deployment", name)?;
            if image.is_empty() {
                return Err(Error::msg("required flag(s) \"image\" not set"));
            }
            let labels = json!({"app": name});
            let containers: Vec<Value> = image
                .iter()
                .map(|img| {
                    if port >= 0 {
                        json!({"name": container_name(img), "image": img, "ports": [{"containerPort": port}], "resources": {}})
                    } else {
                        json!({"name": container_name(img), "image": img, "resources": {}})
                    }
                })
                .collect();
            (
                "deployment",
                json!({"kind": "Deployment", "apiVersion": "apps/v1",
                    "metadata": {"name": name, "creationTimestamp": null, "labels": labels},
                    "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                        "template": {"metadata": {"creationTimestamp": null, "labels": labels}, "spec": {"containers": containers}},
                        "strategy": {}},
                    "status": {}}),
            )
        }
        CreateCmd::Service { kind } => {
            let (name, tcp, ty, cluster_ip, node_port) = match kind {
                ServiceCmd::Clusterip {
                    name,
                    tcp,
                    clusterip,
                } => (
                    need_name("kubectl create service clusterip", name)?,
                    tcp,
                    "ClusterIP",
                    clusterip,
                    0,
                ),
                ServiceCmd::Nodeport {
                    name,
                    tcp,
                    node_port,
                } => (
                    need_name("kubectl create service nodeport", name)?,
                    tcp,
                    "NodePort",
                    None,
                    node_port,
                ),
            };
            if tcp.is_empty() && cluster_ip.as_deref() != Some("None") {
                return Err(Error::msg(
                    "at least one tcp port specifier must be provided",
                ));
            }
            let mut ports = Vec::new();
            for spec in &tcp {
                let (port, target, port_name) = match spec.split_once(':') {
                    Some((p, t)) => (p, t, format!("{p}-{t}")),
                    None => (spec.as_str(), spec.as_str(), spec.clone()),
                };
                let port_num: i64 = port.parse().map_err(|_| {
                    Error::msg(format!("strconv.Atoi: parsing \"{port}\": invalid syntax"))
                })?;
                let target_v = match target.parse::<i64>() {
                    Ok(n) => json!(n),
                    Err(_) => json!(target),
                };
                let mut p = json!({"name": port_name, "protocol": "TCP", "port": port_num, "targetPort": target_v});
                if node_port > 0 {
                    p["nodePort"] = json!(node_port);
                }
                ports.push(p);
            }
            let mut spec = Map::new();
            if !ports.is_empty() {
                spec.insert("ports".into(), Value::Array(ports));
            }
            spec.insert("selector".into(), json!({"app": name}));
            if let Some(ip) = cluster_ip {
                spec.insert("clusterIP".into(), json!(ip));
            }
            spec.insert("type".into(), json!(ty));
            let spec = Value::Object(spec);
            (
                "service",
                json!({"kind": "Service", "apiVersion": "v1", "metadata": {"name": name, "creationTimestamp": null, "labels": {"app": name}}, "spec": spec, "status": {"loadBalancer": {}}}),
            )
        }
        other => {
            return Err(Error::msg(format!(
                "generator {other:?} is built by the generators module"
            )))
        }
    })
}

/// The resource a generator's object belongs to.
fn builtin_resource(cmd: &str) -> Resource {
    let (group, plural, kind, namespaced) = match cmd {
        "namespace" => ("", "namespaces", "Namespace", false),
        "serviceaccount" => ("", "serviceaccounts", "ServiceAccount", true),
        "configmap" => ("", "configmaps", "ConfigMap", true),
        "secret" => ("", "secrets", "Secret", true),
        "deployment" => ("apps", "deployments", "Deployment", true),
        _ => ("", "services", "Service", true),
    };
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

/// `nginx:1.22` → `nginx`; `reg:5000/a/b@sha256:..` → `b`.
fn container_name(image: &str) -> String {
    let base = image.rsplit('/').next().unwrap_or(image);
    let base = base.split('@').next().unwrap_or(base);
    let base = base.split(':').next().unwrap_or(base);
    base.to_string()
}

type DataMaps = (Map<String, Value>, Map<String, Value>);

/// `--from-literal=k=v` and `--from-file=[k=]path` into data (base64 for
/// secrets) and binaryData (non-UTF-8 files of config maps).
fn collect_data(literals: &[String], files: &[String], secret: bool) -> Result<DataMaps, Error> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut data: BTreeMap<String, Value> = BTreeMap::new();
    let mut binary: BTreeMap<String, Value> = BTreeMap::new();
    let put = |k: String,
               bytes: Vec<u8>,
               data: &mut BTreeMap<String, Value>,
               binary: &mut BTreeMap<String, Value>|
     -> Result<(), Error> {
        if data.contains_key(&k) || binary.contains_key(&k) {
            return Err(Error::msg(format!("cannot add key {k}, another key by that name already exists in Data for ConfigMap \"\"")));
        }
        if secret {
            data.insert(k, json!(b64(&bytes)));
        } else {
            match String::from_utf8(bytes) {
                Ok(s) => {
                    data.insert(k, json!(s));
                }
                Err(e) => {
                    binary.insert(k, json!(b64(e.as_bytes())));
                }
            }
        }
        Ok(())
    };
    for l in literals {
        let Some((k, v)) = l.split_once('=') else {
            return Err(Error::msg(format!(
                "invalid literal source {l}, expected key=value"
            )));
        };
        put(k.to_string(), v.as_bytes().to_vec(), &mut data, &mut binary)?;
    }
    for f in files {
        let (key, path) = match f.split_once('=') {
            Some((k, p)) => (Some(k.to_string()), p.to_string()),
            None => (None, f.clone()),
        };
        let p = std::path::Path::new(&path);
        if p.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(p)
                .map_err(|e| Error::Io {
                    context: format!("reading {path}"),
                    source: e,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|e| e.is_file())
                .collect();
            entries.sort();
            for e in entries {
                let bytes = std::fs::read(&e).map_err(|err| Error::Io {
                    context: format!("reading {}", e.display()),
                    source: err,
                })?;
                let k = e
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                put(k, bytes, &mut data, &mut binary)?;
            }
        } else {
            let bytes = std::fs::read(p).map_err(|_| {
                Error::msg(format!("error reading {path}: no such file or directory"))
            })?;
            let k = key.unwrap_or_else(|| {
                p.file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default()
            });
            put(k, bytes, &mut data, &mut binary)?;
        }
    }
    Ok((data.into_iter().collect(), binary.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names_from_images() {
        assert_eq!(container_name("nginx:1.22"), "nginx");
        assert_eq!(
            container_name("127.0.0.1:5000/library/busybox@sha256:ab"),
            "busybox"
        );
    }

    #[test]
    fn literals_become_data() {
        let (d, b) = collect_data(&["a=1".into(), "b=x=y".into()], &[], false).unwrap();
        assert_eq!(Value::Object(d), json!({"a": "1", "b": "x=y"}));
        assert!(b.is_empty());
        let (d, _) = collect_data(&["a=1".into()], &[], true).unwrap();
        assert_eq!(Value::Object(d), json!({"a": "MQ=="}));
    }
}
