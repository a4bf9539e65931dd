//! `kubectl describe`: finds objects as the resource builder does (names,
//! `TYPE/NAME`, `-l`, `-A`, `-f`, and a name prefix when the exact name is
//! missing), then prints each with its kind's describer, as upstream's
//! `pkg/describe` lays it out, events included.

mod core;
mod format;
mod other;
mod pod;
mod storage;
mod workloads;
mod writer;

use clap::Args;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::cli::FileArgs;
use crate::client::{q, Client};
use crate::discovery::Resource;
use crate::{print, Ctx, Error};

use self::workloads::PodCounts;

/// `kubectl describe`.
#[derive(Args, Debug)]
pub struct DescribeArgs {
    pub args: Vec<String>,
    #[command(flatten)]
    pub files: FileArgs,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    #[arg(short = 'A', long = "all-namespaces", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub all_namespaces: bool,
    #[arg(long = "show-events", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub show_events: bool,
    #[arg(long = "chunk-size", default_value_t = 500)]
    pub chunk_size: i64,
}

/// One object to describe.
struct Info {
    resource: Resource,
    namespace: Option<String>,
    name: String,
    object: Option<Value>,
}

/// Runs `kubectl describe`.
pub async fn run(ctx: &mut Ctx, a: DescribeArgs) -> Result<(), Error> {
    if a.args.is_empty() && a.files.filename.is_empty() {
        return Err(Error::msg("You must specify the type of resource to describe. Use \"kubectl api-resources\" for a complete list of supported resources."));
    }
    let client = ctx.client().await?;
    let ns = client.namespace.clone();
    let ns_list = if a.all_namespaces {
        None
    } else {
        Some(ns.as_str())
    };
    let mut infos = Vec::new();
    let mut errors: Vec<Error> = Vec::new();
    if !a.files.filename.is_empty() {
        let manifests = crate::manifest::read_all(&a.files.filename, a.files.recursive)?;
        let disco = ctx.discovery_for(&manifests).await?;
        let ns_flag = ctx.global.namespace.clone();
        for m in &manifests {
            let loc = crate::cmd::apply::locate(&disco, m, &ns, ns_flag.as_deref())?;
            infos.push(Info {
                resource: loc.resource,
                namespace: loc.namespace,
                name: loc.name,
                object: None,
            });
        }
    }
    if !a.args.is_empty() {
        let targets = ctx.targets(&a.args, "kubectl describe").await?;
        if a.selector.is_some() && targets.iter().any(|t| t.name.is_some()) {
            return Err(Error::msg(
                "name cannot be provided when a selector is specified",
            ));
        }
        if a.all_namespaces
            && targets
                .iter()
                .any(|t| t.name.is_some() && t.resource.namespaced)
        {
            return Err(Error::msg(
                "a resource cannot be retrieved by name across all namespaces",
            ));
        }
        for t in targets {
            match t.name {
                Some(name) => infos.push(Info {
                    namespace: t.resource.namespaced.then(|| ns.clone()),
                    resource: t.resource,
                    name,
                    object: None,
                }),
                None => {
                    let mut qs = Vec::new();
                    if let Some(l) = &a.selector {
                        qs.push(format!("labelSelector={}", q(l)));
                    }
                    let items = match list_all(
                        &client,
                        &t.resource.collection_path(ns_list),
                        &qs,
                        a.chunk_size,
                    )
                    .await
                    {
                        Ok(items) => items,
                        Err(e) => {
                            errors.push(e);
                            continue;
                        }
                    };
                    for item in items {
                        infos.push(Info {
                            resource: t.resource.clone(),
                            namespace: item["metadata"]["namespace"].as_str().map(String::from),
                            name: item["metadata"]["name"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string(),
                            object: Some(item),
                        });
                    }
                }
            }
        }
    }
    // The builder fetches every named object before anything prints.
    let mut found = Vec::new();
    for mut info in infos {
        if info.object.is_none() {
            let path = info
                .resource
                .item_path(info.namespace.as_deref(), &info.name);
            match client.get(&path).await {
                Ok(o) => info.object = Some(o),
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            }
        }
        found.push(info);
    }
    if errors.len() == 1
        && errors[0].is_not_found()
        && a.args.len() == 2
        && a.files.filename.is_empty()
    {
        let original = errors.pop().expect("one error");
        return describe_prefix(ctx, &client, &a, &ns, original).await;
    }
    let mut out = String::new();
    let mut seen = Vec::new();
    for info in &found {
        match describe_one(&client, info, &a).await {
            Ok(s) => {
                if !out.is_empty() {
                    out.push_str("\n\n");
                }
                out.push_str(&s);
            }
            Err(e) => {
                let msg = e.to_string();
                if !seen.contains(&msg) {
                    seen.push(msg);
                    errors.push(e);
                }
            }
        }
    }
    print(&out);
    if found.is_empty() && errors.is_empty() {
        if a.all_namespaces {
            crate::eprint_line("No resources found");
        } else {
            crate::eprint_line(&format!("No resources found in {ns} namespace."));
        }
    }
    let last = errors.pop();
    for e in errors {
        crate::eprint_line(&e.to_string());
    }
    last.map_or(Ok(()), Err)
}

/// `describe TYPE PREFIX` when no object is named PREFIX: every object of
/// the type in the namespace whose name starts with it.
async fn describe_prefix(
    ctx: &mut Ctx,
    client: &Client,
    a: &DescribeArgs,
    ns: &str,
    original: Error,
) -> Result<(), Error> {
    let targets = ctx.targets(&a.args[..1], "kubectl describe").await?;
    let Some(t) = targets.first() else {
        return Err(original);
    };
    let items = list_all(
        client,
        &t.resource.collection_path(Some(ns)),
        &[],
        a.chunk_size,
    )
    .await?;
    let mut any = false;
    for item in items {
        let name = item["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !name.starts_with(&a.args[1]) {
            continue;
        }
        any = true;
        let info = Info {
            resource: t.resource.clone(),
            namespace: item["metadata"]["namespace"].as_str().map(String::from),
            name,
            object: Some(item),
        };
        let s = describe_one(client, &info, a).await?;
        print(&format!("{s}\n"));
    }
    if any {
        Ok(())
    } else {
        Err(original)
    }
}

/// Every item of a collection, `limit` at a time.
async fn list_all(
    client: &Client,
    base: &str,
    query: &[String],
    limit: i64,
) -> Result<Vec<Value>, Error> {
    let mut items = Vec::new();
    let mut cont = String::new();
    loop {
        let mut qs = query.to_vec();
        if limit > 0 {
            qs.push(format!("limit={limit}"));
        }
        if !cont.is_empty() {
            qs.push(format!("continue={}", q(&cont)));
        }
        let path = if qs.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", qs.join("&"))
        };
        let mut v = client.get(&path).await?;
        cont = v["metadata"]["continue"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        // List items come without their kind; the builder fills it in.
        let list_kind = v["kind"].as_str().unwrap_or_default();
        let kind = Value::from(list_kind.strip_suffix("List").unwrap_or(list_kind));
        let api_version = v["apiVersion"].clone();
        if let Some(list) = v["items"].as_array_mut() {
            for item in list.iter_mut() {
                if let Some(m) = item.as_object_mut() {
                    m.entry("apiVersion").or_insert_with(|| api_version.clone());
                    m.entry("kind").or_insert_with(|| kind.clone());
                }
            }
            items.append(list);
        }
        if cont.is_empty() {
            return Ok(items);
        }
    }
}

/// A typed list of `base`.
async fn list_typed<T: DeserializeOwned>(
    client: &Client,
    base: &str,
    query: &[String],
    limit: i64,
) -> Result<Vec<T>, Error> {
    list_all(client, base, query, limit)
        .await?
        .into_iter()
        .map(decode)
        .collect()
}

fn decode<T: DeserializeOwned>(v: Value) -> Result<T, Error> {
    serde_json::from_value(v).map_err(|e| Error::msg(format!("decoding object: {e}")))
}

/// A field selector value escaped as `fields.EscapeValue` does.
fn escape_field(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace('=', "\\=")
}

/// `searchEvents`: events whose involved object is this one.
async fn events_for(
    client: &Client,
    kind: Option<&str>,
    name: &str,
    namespace: &str,
    uid: &str,
    limit: i64,
) -> Result<Vec<k8s_openapi::api::core::v1::Event>, Error> {
    let mut sel = Vec::new();
    if let Some(k) = kind {
        sel.push(format!("involvedObject.kind={}", escape_field(k)));
    }
    sel.push(format!("involvedObject.name={}", escape_field(name)));
    sel.push(format!(
        "involvedObject.namespace={}",
        escape_field(namespace)
    ));
    if !uid.is_empty() {
        sel.push(format!("involvedObject.uid={}", escape_field(uid)));
    }
    let base = if namespace.is_empty() {
        "/api/v1/events".to_string()
    } else {
        format!("/api/v1/namespaces/{}/events", q(namespace))
    };
    list_typed(
        client,
        &base,
        &[format!("fieldSelector={}", q(&sel.join(",")))],
        limit,
    )
    .await
}

/// Pods of `namespace` matching a label selector string.
async fn pods_matching(
    client: &Client,
    namespace: &str,
    selector: &str,
    limit: i64,
) -> Result<Vec<k8s_openapi::api::core::v1::Pod>, Error> {
    list_typed(
        client,
        &format!("/api/v1/namespaces/{}/pods", q(namespace)),
        &[format!("labelSelector={}", q(selector))],
        limit,
    )
    .await
}

/// Describes one fetched object with its kind's describer.
async fn describe_one(client: &Client, info: &Info, a: &DescribeArgs) -> Result<String, Error> {
    let obj = info.object.clone().unwrap_or_default();
    let meta = &obj["metadata"];
    let name = meta["name"].as_str().unwrap_or(&info.name).to_string();
    let namespace = meta["namespace"].as_str().unwrap_or_default().to_string();
    let mut uid = meta["uid"].as_str().unwrap_or_default().to_string();
    // Events about a mirror pod name the static pod's UID.
    if info.resource.kind == "Pod" {
        if let Some(m) = meta["annotations"]["kubernetes.io/config.mirror"].as_str() {
            uid = m.to_string();
        }
    }
    let limit = a.chunk_size;
    let kind = info.resource.kind.as_str();
    // Events are best effort, as upstream ignores failures to list them.
    let ev_args = (name.as_str(), namespace.as_str(), uid.as_str());
    let events = |k: Option<&str>| {
        let k = k.map(String::from);
        async move {
            if !a.show_events {
                return None;
            }
            let (name, namespace, uid) = ev_args;
            Some(
                events_for(client, k.as_deref(), name, namespace, uid, limit)
                    .await
                    .unwrap_or_default(),
            )
        }
    };
    Ok(match (info.resource.group.as_str(), kind) {
        ("", "Pod") => {
            let p: k8s_openapi::api::core::v1::Pod = decode(obj)?;
            let ev = events(None).await;
            pod::describe_pod(&p, ev.as_deref())
        }
        ("apps", "Deployment") => {
            let d: k8s_openapi::api::apps::v1::Deployment = decode(obj)?;
            let ev = events(Some("Deployment")).await;
            let sel = d
                .spec
                .as_ref()
                .map(|s| pod::selector_string(Some(&s.selector)))
                .transpose()
                .map_err(Error::msg)?
                .unwrap_or_default();
            let rs = list_typed(
                client,
                &format!("/apis/apps/v1/namespaces/{}/replicasets", q(&namespace)),
                &[format!("labelSelector={}", q(&sel))],
                limit,
            )
            .await
            .unwrap_or_default();
            workloads::describe_deployment(&d, &rs, ev.as_deref())
        }
        ("apps", "ReplicaSet") => {
            let r: k8s_openapi::api::apps::v1::ReplicaSet = decode(obj)?;
            let sel =
                pod::selector_string(r.spec.as_ref().map(|s| &s.selector)).map_err(Error::msg)?;
            let counts = pods_matching(client, &namespace, &sel, limit)
                .await
                .map(|p| PodCounts::of(&p, &uid))
                .map_err(|e| e.to_string());
            let ev = events(Some("ReplicaSet")).await;
            workloads::describe_replica_set(&r, counts, ev.as_deref())
        }
        ("apps", "StatefulSet") => {
            let s: k8s_openapi::api::apps::v1::StatefulSet = decode(obj)?;
            let sel =
                pod::selector_string(s.spec.as_ref().map(|s| &s.selector)).map_err(Error::msg)?;
            let pods = pods_matching(client, &namespace, &sel, limit).await?;
            let ev = events(Some("StatefulSet")).await;
            workloads::describe_stateful_set(&s, PodCounts::of(&pods, &uid), ev.as_deref())
        }
        ("apps", "DaemonSet") => {
            let d: k8s_openapi::api::apps::v1::DaemonSet = decode(obj)?;
            let sel =
                pod::selector_string(d.spec.as_ref().map(|s| &s.selector)).map_err(Error::msg)?;
            let pods = pods_matching(client, &namespace, &sel, limit).await?;
            let ev = events(Some("DaemonSet")).await;
            workloads::describe_daemon_set(&d, PodCounts::of(&pods, &uid), ev.as_deref())
        }
        ("batch", "Job") => {
            let j: k8s_openapi::api::batch::v1::Job = decode(obj)?;
            let ev = events(Some("Job")).await;
            workloads::describe_job(&j, ev.as_deref())
        }
        ("", "Service") => {
            let s: k8s_openapi::api::core::v1::Service = decode(obj)?;
            let slices = list_typed(
                client,
                &format!(
                    "/apis/discovery.k8s.io/v1/namespaces/{}/endpointslices",
                    q(&namespace)
                ),
                &[format!(
                    "labelSelector={}",
                    q(&format!("kubernetes.io/service-name={name}"))
                )],
                0,
            )
            .await
            .unwrap_or_default();
            let ev = events(Some("Service")).await;
            core::describe_service(&s, &slices, ev.as_deref())
        }
        ("", "Node") => {
            let n: k8s_openapi::api::core::v1::Node = decode(obj)?;
            let sel = format!(
                "spec.nodeName={},status.phase!=Succeeded,status.phase!=Failed",
                escape_field(&name)
            );
            let pods = match list_typed(
                client,
                "/api/v1/pods",
                &[format!("fieldSelector={}", q(&sel))],
                limit,
            )
            .await
            {
                Ok(p) => Some(p),
                Err(e) if e.reason() == Some("Forbidden") => None,
                Err(e) => return Err(e),
            };
            let lease = client
                .get(&format!(
                    "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{}",
                    q(&name)
                ))
                .await
                .and_then(decode)
                .map_err(|e| match e {
                    Error::Api(s) => s["message"].as_str().unwrap_or_default().to_string(),
                    other => other.to_string(),
                });
            let ev = if a.show_events {
                let mut ev = events_for(client, Some("Node"), &name, "", &uid, limit)
                    .await
                    .unwrap_or_default();
                ev.extend(
                    events_for(client, Some("Node"), &name, "", &name, limit)
                        .await
                        .unwrap_or_default(),
                );
                Some(ev)
            } else {
                None
            };
            core::describe_node(&n, &core::NodeExtras { pods, lease }, ev.as_deref())
        }
        ("", "Namespace") => {
            let n: k8s_openapi::api::core::v1::Namespace = decode(obj)?;
            let quotas = optional_list(
                list_typed(
                    client,
                    &format!("/api/v1/namespaces/{}/resourcequotas", q(&name)),
                    &[],
                    limit,
                )
                .await,
            )?;
            let limits = optional_list(
                list_typed(
                    client,
                    &format!("/api/v1/namespaces/{}/limitranges", q(&name)),
                    &[],
                    limit,
                )
                .await,
            )?;
            core::describe_namespace(&n, quotas.as_deref(), limits.as_deref())
        }
        ("", "ConfigMap") => {
            let c: k8s_openapi::api::core::v1::ConfigMap = decode(obj)?;
            let ev = match a.show_events {
                true => Some(
                    events_for(client, Some("ConfigMap"), &name, &namespace, &uid, limit).await?,
                ),
                false => None,
            };
            core::describe_config_map(&c, ev.as_deref())
        }
        ("", "Secret") => {
            let s: k8s_openapi::api::core::v1::Secret = decode(obj)?;
            core::describe_secret(&s)
        }
        ("", "ServiceAccount") => {
            let sa: k8s_openapi::api::core::v1::ServiceAccount = decode(obj)?;
            let secrets: Option<Vec<k8s_openapi::api::core::v1::Secret>> = list_typed(
                client,
                &format!("/api/v1/namespaces/{}/secrets", q(&namespace)),
                &[],
                limit,
            )
            .await
            .ok();
            let ev = events(Some("ServiceAccount")).await;
            other::describe_service_account(&sa, secrets.as_deref(), ev.as_deref())
        }
        ("", "ReplicationController") => {
            let rc: k8s_openapi::api::core::v1::ReplicationController = decode(obj)?;
            let sel = rc
                .spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            let pods = pods_matching(client, &namespace, &sel, limit).await?;
            let ev = events(Some("ReplicationController")).await;
            workloads::describe_replication_controller(
                &rc,
                PodCounts::of(&pods, &uid),
                ev.as_deref(),
            )
        }
        ("batch", "CronJob") if info.resource.version == "v1" => {
            let cj: k8s_openapi::api::batch::v1::CronJob = decode(obj)?;
            let ev = events(Some("CronJob")).await;
            workloads::describe_cron_job(&cj, ev.as_deref())
        }
        ("", "LimitRange") => other::describe_limit_range(&decode(obj)?),
        ("", "ResourceQuota") => other::describe_resource_quota(&decode(obj)?),
        ("rbac.authorization.k8s.io", "Role") => {
            let r: k8s_openapi::api::rbac::v1::Role = decode(obj)?;
            other::describe_role(&r.metadata, r.rules.as_deref().unwrap_or_default())
        }
        ("rbac.authorization.k8s.io", "ClusterRole") => {
            let r: k8s_openapi::api::rbac::v1::ClusterRole = decode(obj)?;
            other::describe_role(&r.metadata, r.rules.as_deref().unwrap_or_default())
        }
        ("rbac.authorization.k8s.io", "RoleBinding") => {
            let b: k8s_openapi::api::rbac::v1::RoleBinding = decode(obj)?;
            other::describe_binding(
                &b.metadata,
                &b.role_ref,
                b.subjects.as_deref().unwrap_or_default(),
            )
        }
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            let b: k8s_openapi::api::rbac::v1::ClusterRoleBinding = decode(obj)?;
            other::describe_binding(
                &b.metadata,
                &b.role_ref,
                b.subjects.as_deref().unwrap_or_default(),
            )
        }
        ("", "PersistentVolumeClaim") => {
            let pvc: k8s_openapi::api::core::v1::PersistentVolumeClaim = decode(obj)?;
            let ns_pods: Vec<k8s_openapi::api::core::v1::Pod> = list_typed(
                client,
                &format!("/api/v1/namespaces/{}/pods", q(&namespace)),
                &[],
                limit,
            )
            .await?;
            let pods = storage::pods_for_pvc(&pvc, &ns_pods);
            let ev = events(Some("PersistentVolumeClaim")).await;
            storage::describe_pvc(&pvc, &pods, ev.as_deref())
        }
        ("storage.k8s.io", "StorageClass") if info.resource.version == "v1" => {
            let sc: k8s_openapi::api::storage::v1::StorageClass = decode(obj)?;
            let ev = events(Some("StorageClass")).await;
            storage::describe_storage_class(&sc, ev.as_deref())
        }
        ("policy", "PodDisruptionBudget") if info.resource.version == "v1" => {
            let pdb: k8s_openapi::api::policy::v1::PodDisruptionBudget = decode(obj)?;
            let ev = events(Some("PodDisruptionBudget")).await;
            storage::describe_pdb(&pdb, ev.as_deref())
        }
        ("", "Endpoints") => {
            let ep: k8s_openapi::api::core::v1::Endpoints = decode(obj)?;
            let ev = events(Some("Endpoints")).await;
            other::describe_endpoints(&ep, ev.as_deref())
        }
        ("discovery.k8s.io", "EndpointSlice") if info.resource.version == "v1" => {
            let eps: k8s_openapi::api::discovery::v1::EndpointSlice = decode(obj)?;
            let ev = events(Some("EndpointSlice")).await;
            other::describe_endpoint_slice(&eps, ev.as_deref())
        }
        ("scheduling.k8s.io", "PriorityClass") if info.resource.version == "v1" => {
            let pc: k8s_openapi::api::scheduling::v1::PriorityClass = decode(obj)?;
            let ev = events(Some("PriorityClass")).await;
            other::describe_priority_class(&pc, ev.as_deref())
        }
        _ => {
            let k = obj["kind"].as_str().unwrap_or(kind).to_string();
            let ev = events(Some(&k)).await;
            core::describe_generic(&obj, ev.as_deref())
        }
    })
}

/// A list that NotFound means "not served": `None`, as upstream.
fn optional_list<T>(r: Result<Vec<T>, Error>) -> Result<Option<Vec<T>>, Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_values_escape() {
        assert_eq!(escape_field("a,b=c\\"), "a\\,b\\=c\\\\");
    }
}
