//! `kubectl label` and `kubectl annotate`: `key=value` sets, `key-`
//! removes, existing keys change only with `--overwrite`.

use http::Method;
use serde_json::{json, Map, Value};

use crate::cli::MetaArgs;
use crate::error::Error;
use crate::output::{self, Format};
use crate::{print, Ctx};

/// Which map of the metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Labels,
    Annotations,
}

/// Runs `kubectl label` or `kubectl annotate`.
pub async fn run(ctx: &mut Ctx, a: MetaArgs, which: Which) -> Result<(), Error> {
    let (cmd, field, noun) = match which {
        Which::Labels => ("kubectl label", "labels", "label"),
        Which::Annotations => ("kubectl annotate", "annotations", "annotation"),
    };
    let format = a
        .output
        .as_deref()
        .map(|o| Format::parse(Some(o)))
        .transpose()?;
    let split = a
        .args
        .iter()
        .position(|x| x.contains('=') || (x.ends_with('-') && !x.contains('/') && a.args.len() > 1))
        .unwrap_or(a.args.len());
    let (res_args, changes) = a.args.split_at(split);
    if res_args.is_empty() {
        return Err(Error::usage(
            cmd,
            "one or more resources must be specified as <resource> <name> or <resource>/<name>",
        ));
    }
    if changes.is_empty() && !a.list {
        return Err(Error::usage(
            cmd,
            format!("at least one {noun} update is required"),
        ));
    }
    let mut set: Vec<(String, String)> = Vec::new();
    let mut remove: Vec<String> = Vec::new();
    for c in changes {
        if let Some((k, v)) = c.split_once('=') {
            set.push((k.to_string(), v.to_string()));
        } else if let Some(k) = c.strip_suffix('-') {
            remove.push(k.to_string());
        } else {
            return Err(Error::msg(format!("invalid {noun} spec: {c}")));
        }
    }
    let client = ctx.client().await?;
    let ns = client.namespace.clone();
    let targets = ctx.targets(res_args, cmd).await?;
    let mut objects: Vec<(crate::discovery::Resource, Value)> = Vec::new();
    for t in &targets {
        let nsopt = t.resource.namespaced.then_some(ns.as_str());
        match &t.name {
            Some(n) => objects.push((
                t.resource.clone(),
                client.get(&t.resource.item_path(nsopt, n)).await?,
            )),
            None => {
                if !a.all && a.selector.is_none() {
                    return Err(Error::usage(
                        cmd,
                        "resource(s) were provided, but no name was specified",
                    ));
                }
                let mut path = t.resource.collection_path(nsopt);
                if let Some(l) = &a.selector {
                    path = format!("{path}?labelSelector={}", crate::client::q(l));
                }
                let list = client.get(&path).await?;
                for item in list["items"].as_array().into_iter().flatten() {
                    objects.push((t.resource.clone(), item.clone()));
                }
            }
        }
    }
    for (r, obj) in objects {
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let old: Map<String, Value> = obj["metadata"][field]
            .as_object()
            .cloned()
            .unwrap_or_default();
        if a.list {
            let mut keys: Vec<&String> = old.keys().collect();
            keys.sort();
            print(
                &keys
                    .iter()
                    .map(|k| format!("{k}={}\n", old[*k].as_str().unwrap_or_default()))
                    .collect::<String>(),
            );
            continue;
        }
        if !a.overwrite {
            for (k, v) in &set {
                if let Some(cur) = old.get(k).and_then(Value::as_str) {
                    if cur != v {
                        return Err(Error::msg(match which {
                            Which::Labels => format!("'{k}' already has a value ({cur}), and --overwrite is false"),
                            Which::Annotations => format!("--overwrite is false but found the following declared annotation(s): '{k}' already has a value ({cur})"),
                        }));
                    }
                }
            }
        }
        let mut new = old.clone();
        for k in &remove {
            if new.remove(k).is_none() && which == Which::Labels {
                print(&format!("{noun} \"{k}\" not found.\n"));
            }
        }
        for (k, v) in &set {
            new.insert(k.clone(), json!(v));
        }
        let mut patch = Map::new();
        for (k, v) in &new {
            if old.get(k) != Some(v) {
                patch.insert(k.clone(), v.clone());
            }
        }
        for k in old.keys() {
            if !new.contains_key(k) {
                patch.insert(k.clone(), Value::Null);
            }
        }
        let nsopt = obj["metadata"]["namespace"].as_str();
        let mut result = obj.clone();
        let mut meta_patch = json!({ field: patch });
        if let Some(rv) = &a.resource_version {
            meta_patch["resourceVersion"] = json!(rv);
        }
        if !meta_patch[field].as_object().is_some_and(Map::is_empty) || a.resource_version.is_some()
        {
            let _span = tracing::debug_span!("patch", key = %name).entered();
            result = client
                .call(
                    Method::PATCH,
                    &r.item_path(nsopt, &name),
                    Some("application/json"),
                    Some("application/merge-patch+json"),
                    Some(serde_json::to_vec(&json!({"metadata": meta_patch})).unwrap_or_default()),
                )
                .await?;
        }
        let changed = new != old;
        let msg = match which {
            Which::Labels => {
                let old_len = output::json::to_string_compact(&Value::Object(old.clone())).len();
                let new_len = output::json::to_string_compact(&Value::Object(new.clone())).len();
                if !changed {
                    "not labeled"
                } else if !a.overwrite && new_len < old_len {
                    "unlabeled"
                } else {
                    "labeled"
                }
            }
            Which::Annotations => "annotated",
        };
        let mut out = String::new();
        match &format {
            Some(f) if !f.is_table() => output::print_object(f, &result, &mut out)?,
            _ => out = format!("{}/{} {msg}\n", r.kind_group(), name),
        }
        print(&out);
    }
    Ok(())
}
