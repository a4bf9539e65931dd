//! Turning `TYPE NAME...`, `TYPE/NAME...` and `TYPE1,TYPE2` arguments into
//! (resource, name) pairs, as kubectl's resource builder does.

use crate::discovery::{Discovery, Resource};
use crate::error::Error;

/// One thing to act on: a resource and maybe one name.
#[derive(Debug, Clone)]
pub struct Target {
    pub resource: Resource,
    pub name: Option<String>,
    /// The namespace a manifest named (`-f`), overriding `-n`.
    pub namespace: Option<String>,
}

/// Parses positional arguments; `cmd` names the command for usage errors.
pub fn parse(disco: &Discovery, args: &[String], cmd: &str) -> Result<Vec<Target>, Error> {
    let mut out = Vec::new();
    if args.iter().any(|a| a.contains('/')) {
        if !args.iter().all(|a| a.contains('/')) {
            return Err(Error::msg("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource resource/<resource_name>'"));
        }
        for a in args {
            let Some((t, n)) = a.split_once('/') else {
                return Err(Error::msg(
                    "arguments in resource/name form must have a single resource and name",
                ));
            };
            if t.is_empty() || n.is_empty() {
                return Err(Error::msg(
                    "arguments in resource/name form must have a single resource and name",
                ));
            }
            out.push(Target {
                resource: disco.resolve(t)?.clone(),
                name: Some(n.to_string()),
                namespace: None,
            });
        }
        let _ = cmd;
        return Ok(out);
    }
    let mut resources = Vec::new();
    for t in args[0].split(',').filter(|t| !t.is_empty()) {
        if t == "all" {
            resources.extend(disco.category("all").into_iter().cloned());
        } else {
            resources.push(disco.resolve(t)?.clone());
        }
    }
    let names = &args[1..];
    for r in resources {
        if names.is_empty() {
            out.push(Target {
                resource: r,
                name: None,
                namespace: None,
            });
        } else {
            for n in names {
                out.push(Target {
                    resource: r.clone(),
                    name: Some(n.clone()),
                    namespace: None,
                });
            }
        }
    }
    Ok(out)
}

/// Whether several resource types are involved (names get a kind prefix).
pub fn several_kinds(targets: &[Target]) -> bool {
    targets
        .iter()
        .any(|t| t.resource.group_resource() != targets[0].resource.group_resource())
}
