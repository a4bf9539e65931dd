//! `kubectl cordon`, and the node selection and (un)cordoning that
//! `uncordon` and `drain` share with it.

use clap::Args;
use http::Method;
use serde_json::{json, Value};

use crate::client::{q, Client};
use crate::{print, Ctx, Error};

/// `kubectl cordon`.
#[derive(Args, Debug)]
pub struct CordonArgs {
    pub args: Vec<String>,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "unchanged", default_value = "none")]
    pub dry_run: String,
}

/// `--dry-run`'s strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRun {
    None,
    Client,
    Server,
}

impl DryRun {
    /// Parses `--dry-run` as kubectl's `GetDryRunStrategy` does.
    pub fn parse(s: &str) -> Result<DryRun, Error> {
        Ok(match s {
            "unchanged" | "client" | "true" => DryRun::Client,
            "server" => DryRun::Server,
            "none" | "false" => DryRun::None,
            _ => {
                return Err(Error::msg(format!(
                    "Invalid dry-run value ({s}). Must be \"none\", \"server\", or \"client\"."
                )))
            }
        })
    }

    /// What the name printer appends to an operation.
    pub fn suffix(self) -> &'static str {
        match self {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        }
    }
}

/// Runs `kubectl cordon`.
pub async fn run(ctx: &mut Ctx, a: CordonArgs) -> Result<(), Error> {
    let dry = DryRun::parse(&a.dry_run)?;
    let nodes = select_nodes(ctx, "cordon NODE", &a.args, a.selector.as_deref()).await?;
    let client = ctx.client().await?;
    set_unschedulable(&client, &nodes, true, dry).await;
    Ok(())
}

/// The nodes named by `args` (`x`, `node/x`, `nodes/x`) or by `-l`, fetched
/// in argument order as kubectl's resource builder does. `use_line` is the
/// command's cobra `Use`, quoted in the no-argument usage error.
pub async fn select_nodes(
    ctx: &mut Ctx,
    use_line: &str,
    args: &[String],
    selector: Option<&str>,
) -> Result<Vec<Value>, Error> {
    let name = use_line.split(' ').next().unwrap_or_default();
    let path = format!("kubectl {name}");
    let selector = selector.filter(|s| !s.is_empty());
    if args.is_empty() && selector.is_none() {
        return Err(Error::usage(&path, format!("USAGE: {use_line} [flags]")));
    }
    if !args.is_empty() && selector.is_some() {
        return Err(Error::usage(
            &path,
            "cannot specify both a node name and a --selector option",
        ));
    }
    let client = ctx.client().await?;
    if let Some(sel) = selector {
        let list = client
            .get(&format!("/api/v1/nodes?labelSelector={}", q(sel)))
            .await?;
        return Ok(list["items"].as_array().cloned().unwrap_or_default());
    }
    let mut nodes = Vec::new();
    for a in args {
        match a.split_once('/') {
            Some((t, n)) => {
                // Any type resolves; only nodes are acted on.
                let target = ctx.targets(&[t.to_string()], &path).await?;
                let r = &target[0].resource;
                let ns = client.namespace.clone();
                let obj = client
                    .get(&r.item_path(r.namespaced.then_some(ns.as_str()), n))
                    .await?;
                if r.group_resource() != "nodes" {
                    return Err(Error::msg(format!(
                        "error: expected resource of type node, got \"{}/{}, Resource={}\"",
                        r.group, r.version, r.plural
                    )));
                }
                nodes.push(obj);
            }
            None => nodes.push(client.get(&format!("/api/v1/nodes/{}", q(a))).await?),
        }
    }
    Ok(nodes)
}

/// Sets `spec.unschedulable` on each node, printing `node/x cordoned`,
/// `already cordoned` and the like; failures go to stderr and the command
/// still succeeds, as upstream's do.
pub async fn set_unschedulable(client: &Client, nodes: &[Value], desired: bool, dry: DryRun) {
    let verb = if desired { "cordon" } else { "uncordon" };
    for node in nodes {
        let name = node["metadata"]["name"].as_str().unwrap_or_default();
        let current = node["spec"]["unschedulable"].as_bool().unwrap_or(false);
        if current == desired {
            print(&format!("node/{name} already {verb}ed{}\n", dry.suffix()));
            continue;
        }
        if dry != DryRun::Client {
            let path = format!(
                "/api/v1/nodes/{}{}",
                q(name),
                if dry == DryRun::Server {
                    "?dryRun=All"
                } else {
                    ""
                }
            );
            // Strategic merge patch of the two-way diff kubectl computes:
            // `false` is omitted from a Node, so uncordoning removes the field.
            let patch = if desired {
                json!({"spec": {"unschedulable": true}})
            } else {
                json!({"spec": {"unschedulable": null}})
            };
            let res = client
                .call(
                    Method::PATCH,
                    &path,
                    Some("application/json"),
                    Some("application/strategic-merge-patch+json"),
                    Some(serde_json::to_vec(&patch).unwrap_or_default()),
                )
                .await;
            if let Err(e) = res {
                crate::eprint_line(&format!(
                    "error: unable to {verb} node \"{name}\": {}",
                    strip_error(&e)
                ));
                continue;
            }
        }
        print(&format!("node/{name} {verb}ed{}\n", dry.suffix()));
    }
}

/// An error's text as Go's `%v` of the error value shows it (no `error: `).
pub fn strip_error(e: &Error) -> String {
    let s = e.to_string();
    s.strip_prefix("error: ").map(str::to_string).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_values() {
        assert_eq!(DryRun::parse("none").unwrap(), DryRun::None);
        assert_eq!(DryRun::parse("client").unwrap(), DryRun::Client);
        assert_eq!(
            DryRun::parse("server").unwrap().suffix(),
            " (server dry run)"
        );
        assert_eq!(
            DryRun::parse("x").unwrap_err().to_string(),
            "error: Invalid dry-run value (x). Must be \"none\", \"server\", or \"client\"."
        );
    }
}
