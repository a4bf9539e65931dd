//! `kubectl scale`: a merge patch of the `scale` subresource.

use http::Method;
use serde_json::json;

use crate::cli::ScaleArgs;
use crate::cmd::apply::locate;
use crate::error::Error;
use crate::manifest;
use crate::{print, Ctx};

/// Runs `kubectl scale`.
pub async fn run(ctx: &mut Ctx, a: ScaleArgs) -> Result<(), Error> {
    let cmd = "kubectl scale";
    if a.replicas < 0 {
        return Err(Error::msg("required flag(s) \"replicas\" not set"));
    }
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
        let path = format!("{}/scale", r.item_path(nsopt.as_deref(), &name));
        if a.current_replicas >= 0 || a.resource_version.is_some() {
            let cur = client.get(&path).await?;
            let have = cur["spec"]["replicas"].as_i64().unwrap_or(0);
            if a.current_replicas >= 0 && have != a.current_replicas {
                return Err(Error::msg(format!(
                    "Expected replicas to be {}, was {have}",
                    a.current_replicas
                )));
            }
        }
        let mut patch = json!({"spec": {"replicas": a.replicas}});
        if let Some(rv) = &a.resource_version {
            patch["metadata"] = json!({"resourceVersion": rv});
        }
        let _span = tracing::debug_span!("scale", key = %path).entered();
        client
            .call(
                Method::PATCH,
                &path,
                Some("application/json"),
                Some("application/merge-patch+json"),
                Some(serde_json::to_vec(&patch).unwrap_or_default()),
            )
            .await?;
        print(&format!("{}/{name} scaled\n", r.kind_group()));
    }
    Ok(())
}
