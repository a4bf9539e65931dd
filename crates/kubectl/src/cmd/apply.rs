//! `kubectl apply -f` (client-side): create what is missing, otherwise
//! send the three-way patch between the last-applied annotation, the new
//! manifest and the live object.

use http::Method;
use serde_json::{json, Value};

use crate::cli::ApplyArgs;
use crate::client::Client;
use crate::discovery::{Discovery, Resource};
use crate::error::Error;
use crate::manifest::{self, Manifest};
use crate::output::{self, Format};
use crate::patch::{self, Mode, LAST_APPLIED};
use crate::{print, Ctx};

/// Where a manifest's object lives.
pub struct Located {
    pub resource: Resource,
    pub namespace: Option<String>,
    pub name: String,
    /// The object with its namespace filled in.
    pub object: Value,
}

/// Maps a manifest to its resource and namespace as kubectl's builder does.
pub fn locate(
    disco: &Discovery,
    m: &Manifest,
    default_ns: &str,
    ns_flag: Option<&str>,
) -> Result<Located, Error> {
    let obj = &m.object;
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    let kind = obj["kind"].as_str().unwrap_or_default();
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let obj_ns = obj["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let Some(r) = disco.for_kind(api_version, kind) else {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gv = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        return Err(Error::msg(format!(
            "resource mapping not found for name: \"{name}\" namespace: \"{obj_ns}\" from \"{}\": no matches for kind \"{kind}\" in version \"{gv}\"\nensure CRDs are installed first",
            m.source
        )));
    };
    let mut object = obj.clone();
    let namespace = if r.namespaced {
        if let Some(flag) = ns_flag {
            if !obj_ns.is_empty() && obj_ns != flag {
                return Err(Error::msg(format!(
                    "the namespace from the provided object \"{obj_ns}\" does not match the namespace \"{flag}\". You must pass '--namespace={obj_ns}' to perform this operation."
                )));
            }
        }
        let ns = if obj_ns.is_empty() {
            default_ns.to_string()
        } else {
            obj_ns
        };
        object["metadata"]["namespace"] = json!(ns);
        Some(ns)
    } else {
        None
    };
    Ok(Located {
        resource: r.clone(),
        namespace,
        name,
        object,
    })
}

/// Adds `error when <verb> "<source>": ` to a server error's message, as
/// kubectl's `AddSourceToErr` does.
pub fn add_source(e: Error, verb: &str, source: &str) -> Error {
    match e {
        Error::Api(mut s) => {
            let msg = s["message"].as_str().unwrap_or_default().to_string();
            s["message"] = json!(format!("error when {verb} \"{source}\": {msg}"));
            Error::Api(s)
        }
        other => other,
    }
}

/// Runs `kubectl apply`.
pub async fn run(ctx: &mut Ctx, a: ApplyArgs) -> Result<(), Error> {
    if a.files.filename.is_empty() {
        return Err(Error::msg("must specify one of -f and -k"));
    }
    if a.server_side {
        return Err(Error::msg(
            "--server-side is not supported yet by this kubectl",
        ));
    }
    let format = a
        .output
        .as_deref()
        .map(|o| Format::parse(Some(o)))
        .transpose()?;
    let dry_run = a.dry_run.as_deref().unwrap_or("none").to_string();
    let manifests = manifest::read_all(&a.files.filename, a.files.recursive)?;
    if manifests.is_empty() {
        return Err(Error::msg("no objects passed to apply"));
    }
    let client = ctx.client().await?;
    let ns_flag = ctx.global.namespace.clone();
    let disco = ctx.discovery_for(&manifests).await?;
    let mut errors = Vec::new();
    for m in &manifests {
        let res = async {
            let loc = locate(&disco, m, &client.namespace, ns_flag.as_deref())?;
            apply_one(&client, &loc, &m.source, &dry_run)
                .await
                .map(|r| (loc, r))
        }
        .await;
        match res {
            Ok((loc, (verb, obj))) => {
                let mut out = String::new();
                match &format {
                    Some(f) if !f.is_table() => output::print_object(f, &obj, &mut out)?,
                    _ => {
                        let suffix = match dry_run.as_str() {
                            "client" => " (dry run)",
                            "server" => " (server dry run)",
                            _ => "",
                        };
                        out = format!(
                            "{}/{} {verb}{suffix}\n",
                            loc.resource.kind_group(),
                            loc.name
                        );
                    }
                }
                print(&out);
            }
            Err(e) => errors.push(e),
        }
    }
    let last = errors.pop();
    for e in errors {
        crate::eprint_line(&e.to_string());
    }
    last.map_or(Ok(()), Err)
}

async fn apply_one(
    client: &Client,
    loc: &Located,
    source: &str,
    dry_run: &str,
) -> Result<(&'static str, Value), Error> {
    let r = &loc.resource;
    let ns = loc.namespace.as_deref();
    let modified = patch::with_last_applied(&loc.object);
    let dry = if dry_run == "server" {
        "?dryRun=All"
    } else {
        ""
    };
    let current = match client.get(&r.item_path(ns, &loc.name)).await {
        Ok(c) => Some(c),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(add_source(e, "retrieving current configuration of", source)),
    };
    let Some(current) = current else {
        if dry_run == "client" {
            return Ok(("created", modified));
        }
        let body = serde_json::to_vec(&modified).unwrap_or_default();
        let created = client
            .call(
                Method::POST,
                &format!("{}{dry}", r.collection_path(ns)),
                Some("application/json"),
                Some("application/json"),
                Some(body),
            )
            .await
            .map_err(|e| add_source(e, "creating", source))?;
        return Ok(("created", created));
    };
    let original: Value = match current["metadata"]["annotations"][LAST_APPLIED].as_str() {
        Some(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        None => {
            crate::eprint_line(&format!(
                "Warning: resource {} is missing the {LAST_APPLIED} annotation which is required by kubectl apply. kubectl apply should only be used on resources created declaratively by either kubectl create --save-config or kubectl apply. The missing annotation will be patched automatically.",
                r.plural
            ));
            Value::Null
        }
    };
    let strategic = patch::is_builtin_group(&r.group);
    let p = patch::three_way(&original, &modified, &current, Mode { strategic });
    if p.as_object().is_some_and(|m| m.is_empty()) {
        return Ok(("unchanged", current));
    }
    if dry_run == "client" {
        return Ok(("configured", modified));
    }
    let ct = if strategic {
        "application/strategic-merge-patch+json"
    } else {
        "application/merge-patch+json"
    };
    let body = serde_json::to_vec(&p).unwrap_or_default();
    let patched = client
        .call(
            Method::PATCH,
            &format!("{}{dry}", r.item_path(ns, &loc.name)),
            Some("application/json"),
            Some(ct),
            Some(body),
        )
        .await
        .map_err(|e| add_source(e, "applying patch", source))?;
    Ok(("configured", patched))
}
