//! `kubectl patch`: strategic, JSON merge or JSON patches, given inline
//! (JSON or YAML) or in a file.

use http::Method;
use serde_json::Value;

use crate::cli::PatchArgs;
use crate::cmd::apply::locate;
use crate::error::Error;
use crate::manifest;
use crate::output::{self, Format};
use crate::{print, Ctx};

/// Runs `kubectl patch`.
pub async fn run(ctx: &mut Ctx, a: PatchArgs) -> Result<(), Error> {
    let cmd = "kubectl patch";
    let format = a
        .output
        .as_deref()
        .map(|o| Format::parse(Some(o)))
        .transpose()?;
    let text = match (&a.patch, &a.patch_file) {
        (Some(p), _) => p.clone(),
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| Error::Io {
            context: format!("unable to read patch file {f}"),
            source: e,
        })?,
        (None, None) => {
            return Err(Error::msg(
                "must specify --patch or --patch-file containing the contents of the patch",
            ))
        }
    };
    let ct = match a.type_.as_str() {
        "strategic" => "application/strategic-merge-patch+json",
        "merge" => "application/merge-patch+json",
        "json" => "application/json-patch+json",
        other => {
            return Err(Error::usage(
                cmd,
                format!("--type must be one of [json merge strategic], not \"{other}\""),
            ))
        }
    };
    let patch: Value = serde_yaml::from_str(&text)
        .map_err(|e| Error::msg(format!("unable to parse \"{text}\": {e}")))?;
    let body = serde_json::to_vec(&patch).unwrap_or_default();
    let client = ctx.client().await?;
    let ns = client.namespace.clone();
    let mut items = Vec::new();
    if !a.files.filename.is_empty() {
        let ns_flag = ctx.global.namespace.clone();
        let manifests = manifest::read_all(&a.files.filename, a.files.recursive)?;
        let disco = ctx.discovery_for(&manifests).await?;
        for m in manifests {
            let loc = locate(&disco, &m, &ns, ns_flag.as_deref())?;
            items.push((loc.resource, loc.namespace, loc.name));
        }
    } else {
        if a.args.is_empty() {
            return Err(Error::usage(cmd, "You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'"));
        }
        for t in ctx.targets(&a.args, cmd).await? {
            let Some(n) = t.name else {
                return Err(Error::usage(
                    cmd,
                    "resource(s) were provided, but no name was specified",
                ));
            };
            items.push((
                t.resource.clone(),
                t.resource.namespaced.then(|| ns.clone()),
                n,
            ));
        }
    }
    for (r, nsopt, name) in items {
        let mut path = r.item_path(nsopt.as_deref(), &name);
        if let Some(s) = &a.subresource {
            path = format!("{path}/{s}");
        }
        let before = client.get(&path).await?;
        let _span = tracing::debug_span!("patch", key = %path).entered();
        let after = client
            .call(
                Method::PATCH,
                &path,
                Some("application/json"),
                Some(ct),
                Some(body.clone()),
            )
            .await?;
        let mut out = String::new();
        match &format {
            Some(f) if !f.is_table() => output::print_object(f, &after, &mut out)?,
            _ => {
                let unchanged =
                    before["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"];
                let suffix = if unchanged { " (no change)" } else { "" };
                out = format!("{}/{name} patched{suffix}\n", r.kind_group());
            }
        }
        print(&out);
    }
    Ok(())
}
