//! `kubectl delete`: by names, files, label selector or `--all`; waits for
//! the objects to be gone unless `--wait=false`.

use std::time::{Duration, Instant};

use http::Method;
use serde_json::json;

use crate::cli::DeleteArgs;
use crate::client::{q, Client};
use crate::cmd::apply::locate;
use crate::discovery::Resource;
use crate::error::Error;
use crate::manifest;
use crate::{print, Ctx};

struct Victim {
    resource: Resource,
    namespace: Option<String>,
    name: String,
}

/// Runs `kubectl delete`.
pub async fn run(ctx: &mut Ctx, a: DeleteArgs) -> Result<(), Error> {
    let cmd = "kubectl delete";
    let policy = match a.cascade.as_str() {
        "background" | "true" => "Background",
        "foreground" => "Foreground",
        "orphan" | "false" => "Orphan",
        other => {
            return Err(Error::msg(format!(
                "invalid cascade value ({other}). Must be \"background\", \"foreground\", or \"orphan\""
            )))
        }
    };
    let mut grace = a.grace_period;
    if a.now {
        grace = 1;
    }
    if grace == 0 && !a.force {
        grace = 1;
    }
    if a.force && grace < 0 {
        grace = 0;
    }
    if a.force && grace == 0 {
        crate::eprint_line("Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.");
    }
    let client = ctx.client().await?;
    let ns = client.namespace.clone();
    let mut errors = Vec::new();
    let mut victims = Vec::new();
    if !a.files.filename.is_empty() {
        if !a.args.is_empty() {
            return Err(Error::msg("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource resource/<resource_name>'"));
        }
        let ns_flag = ctx.global.namespace.clone();
        let manifests = manifest::read_all(&a.files.filename, a.files.recursive)?;
        let disco = ctx.discovery_for(&manifests).await?;
        for m in manifests {
            let loc = locate(&disco, &m, &ns, ns_flag.as_deref())?;
            victims.push(Victim {
                resource: loc.resource,
                namespace: loc.namespace,
                name: loc.name,
            });
        }
    } else {
        if a.args.is_empty() {
            return Err(Error::usage(cmd, "You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'"));
        }
        let targets = ctx.targets(&a.args, cmd).await?;
        let by_name = targets.iter().any(|t| t.name.is_some());
        if !by_name && !a.all && a.selector.is_none() && a.field_selector.is_none() {
            return Err(Error::msg(
                "resource(s) were provided, but no name was specified",
            ));
        }
        if by_name && (a.all || a.selector.is_some()) {
            return Err(Error::msg(
                "name cannot be provided when a selector is specified",
            ));
        }
        for t in targets {
            let nsopt = if a.all_namespaces {
                None
            } else {
                Some(ns.as_str())
            };
            match t.name {
                Some(n) => victims.push(Victim {
                    namespace: t.resource.namespaced.then(|| ns.clone()),
                    resource: t.resource,
                    name: n,
                }),
                None => {
                    let mut qs = Vec::new();
                    if let Some(l) = &a.selector {
                        qs.push(format!("labelSelector={}", q(l)));
                    }
                    if let Some(f) = &a.field_selector {
                        qs.push(format!("fieldSelector={}", q(f)));
                    }
                    let path = format!("{}?{}", t.resource.collection_path(nsopt), qs.join("&"));
                    let list = client.get(&path).await?;
                    for item in list["items"].as_array().into_iter().flatten() {
                        victims.push(Victim {
                            resource: t.resource.clone(),
                            namespace: item["metadata"]["namespace"].as_str().map(String::from),
                            name: item["metadata"]["name"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string(),
                        });
                    }
                }
            }
        }
        if victims.is_empty() && !by_name {
            print("No resources found\n");
            return Ok(());
        }
    }
    let mut body =
        json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy});
    if grace >= 0 {
        body["gracePeriodSeconds"] = json!(grace);
    }
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let mut deleted = Vec::new();
    for v in victims {
        let path = v.resource.item_path(v.namespace.as_deref(), &v.name);
        let _span = tracing::debug_span!("delete", key = %path).entered();
        match client
            .call(
                Method::DELETE,
                &path,
                Some("application/json"),
                Some("application/json"),
                Some(body.clone()),
            )
            .await
        {
            Ok(_) => {
                let verb = if a.force && grace == 0 {
                    "force deleted"
                } else {
                    "deleted"
                };
                print(&format!(
                    "{} \"{}\" {verb}\n",
                    v.resource.kind_group(),
                    v.name
                ));
                deleted.push((path, v));
            }
            Err(e) if e.is_not_found() && a.ignore_not_found => {}
            Err(e) => errors.push(e),
        }
    }
    if a.wait {
        let timeout = crate::parse_go_duration(&a.timeout)
            .filter(|d| !d.is_zero())
            .unwrap_or(Duration::from_secs(7 * 24 * 3600));
        for (path, v) in &deleted {
            if let Err(e) = wait_gone(&client, path, timeout).await {
                errors.push(match e {
                    Some(e) => e,
                    None => Error::msg(format!(
                        "timed out waiting for the condition on {}/{}",
                        v.resource.plural, v.name
                    )),
                });
            }
        }
    }
    let last = errors.pop();
    for e in errors {
        crate::eprint_line(&e.to_string());
    }
    last.map_or(Ok(()), Err)
}

/// Polls until GET says NotFound; `Err(None)` on timeout.
async fn wait_gone(client: &Client, path: &str, timeout: Duration) -> Result<(), Option<Error>> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        match client.get(path).await {
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(Some(e)),
            Ok(_) => {}
        }
        if start.elapsed() > timeout {
            return Err(None);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}
