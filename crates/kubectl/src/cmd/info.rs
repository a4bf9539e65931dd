//! `version`, `api-resources`, `api-versions` and `cluster-info`.

use serde_json::{json, Value};

use crate::cli::{ApiResourcesArgs, VersionArgs};
use crate::error::Error;
use crate::output;
use crate::output::table::tabwrite;
use crate::{print, Ctx};

/// The upstream release this kubectl matches, flag for flag.
pub const CLIENT_VERSION: &str = "v1.33.1";
const KUSTOMIZE_VERSION: &str = "v5.6.0";

fn client_info() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": CLIENT_VERSION,
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, match std::env::consts::ARCH { "x86_64" => "amd64", "aarch64" => "arm64", a => a }),
    })
}

/// Runs `kubectl version`.
pub async fn version(ctx: &mut Ctx, a: VersionArgs) -> Result<(), Error> {
    let mut v = json!({"clientVersion": client_info(), "kustomizeVersion": KUSTOMIZE_VERSION});
    let mut server_err = None;
    if !a.client {
        match ctx.client().await {
            Ok(c) => match c.get("/version").await {
                Ok(s) => v["serverVersion"] = s,
                Err(e) => server_err = Some(e),
            },
            Err(e) => server_err = Some(e),
        }
    }
    match a.output.as_deref() {
        None | Some("") => {
            let mut out = format!(
                "Client Version: {CLIENT_VERSION}\nKustomize Version: {KUSTOMIZE_VERSION}\n"
            );
            if let Some(s) = v["serverVersion"]["gitVersion"].as_str() {
                out.push_str(&format!("Server Version: {s}\n"));
            }
            print(&out);
        }
        Some("json") => {
            let text = serde_json::to_string_pretty(&v).unwrap_or_default();
            print(&format!("{text}\n"));
        }
        Some("yaml") => print(&output::yaml::to_string(&v)),
        Some(_) => return Err(Error::msg("--output must be 'yaml' or 'json'")),
    }
    server_err.map_or(Ok(()), Err)
}

/// Runs `kubectl api-versions`.
pub async fn api_versions(ctx: &mut Ctx) -> Result<(), Error> {
    let d = ctx.fresh_discovery().await?;
    let mut gvs: Vec<String> = Vec::new();
    for (g, versions) in &d.groups {
        for v in versions {
            gvs.push(if g.is_empty() {
                v.clone()
            } else {
                format!("{g}/{v}")
            });
        }
    }
    gvs.sort();
    gvs.dedup();
    print(&gvs.iter().map(|s| format!("{s}\n")).collect::<String>());
    Ok(())
}

/// Runs `kubectl api-resources`.
pub async fn api_resources(ctx: &mut Ctx, a: ApiResourcesArgs) -> Result<(), Error> {
    let d = ctx.fresh_discovery().await?;
    let wide = a.output.as_deref() == Some("wide");
    let name_only = a.output.as_deref() == Some("name");
    if let Some(o) = a.output.as_deref() {
        if !matches!(o, "wide" | "name") {
            return Err(Error::msg(format!("--output {o} is not available")));
        }
    }
    let mut list: Vec<_> = d
        .resources
        .iter()
        .filter(|r| r.preferred && !r.plural.contains('/'))
        .filter(|r| a.api_group.as_ref().is_none_or(|g| &r.group == g))
        .filter(|r| a.verbs.iter().all(|v| r.verbs.contains(v)))
        .filter(|r| a.categories.iter().all(|c| r.categories.contains(c)))
        .collect();
    if let Some(n) = a.namespaced {
        list.retain(|r| r.namespaced == n);
    }
    // Stable sorts, as upstream: by group unless told otherwise.
    match a.sort_by.as_deref() {
        Some("name") => list.sort_by(|x, y| x.plural.cmp(&y.plural)),
        Some("kind") => list.sort_by(|x, y| x.kind.cmp(&y.kind)),
        _ => list.sort_by(|x, y| x.group.cmp(&y.group)),
    }
    if name_only {
        print(
            &list
                .iter()
                .map(|r| format!("{}\n", r.group_resource()))
                .collect::<String>(),
        );
        return Ok(());
    }
    let mut rows = Vec::new();
    if !a.no_headers {
        let mut h = vec!["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"];
        if wide {
            h.extend(["VERBS", "CATEGORIES"]);
        }
        rows.push(h.into_iter().map(String::from).collect::<Vec<_>>());
    }
    for r in list {
        let mut row = vec![
            r.plural.clone(),
            r.short_names.join(","),
            r.api_version(),
            r.namespaced.to_string(),
            r.kind.clone(),
        ];
        if wide {
            row.push(r.verbs.join(","));
            row.push(r.categories.join(","));
        }
        rows.push(row);
    }
    print(&tabwrite(&rows));
    Ok(())
}

/// Runs `kubectl cluster-info`.
pub async fn cluster_info(ctx: &mut Ctx) -> Result<(), Error> {
    let c = ctx.client().await?;
    // The control plane must answer; kubectl checks with a list call.
    c.get("/api/v1/namespaces/kube-system/services?labelSelector=kubernetes.io%2Fcluster-service%3Dtrue")
        .await
        .map(|list| {
            use std::io::IsTerminal;
            let server = c.server().trim_end_matches('/').to_string();
            // Colours only on a terminal, as upstream's ct.Colorize.
            let tty = std::io::stdout().is_terminal();
            let green = |s: &str| if tty { format!("\x1b[0;32m{s}\x1b[0m") } else { s.to_string() };
            let yellow = |s: &str| if tty { format!("\x1b[0;33m{s}\x1b[0m") } else { s.to_string() };
            let mut out = format!("{} is running at {}\n", green("Kubernetes control plane"), yellow(&server));
            for s in list["items"].as_array().into_iter().flatten() {
                let name = s["metadata"]["name"].as_str().unwrap_or_default();
                let label = s["metadata"]["labels"]["kubernetes.io/name"].as_str().unwrap_or(name);
                let port = s["spec"]["ports"][0]["name"].as_str().map(|p| format!(":{p}")).unwrap_or_default();
                out.push_str(&format!(
                    "{} is running at {}\n",
                    green(label),
                    yellow(&format!("{server}/api/v1/namespaces/kube-system/services/{name}{port}/proxy"))
                ));
            }
            out.push_str("\nTo further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.\n");
            print(&out);
        })
}
