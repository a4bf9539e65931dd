//! `kubectl diff -f`: the live objects and what applying the files would
//! make of them (a server-side dry run), written as YAML into two temporary
//! directories and compared with `$KUBECTL_EXTERNAL_DIFF` or `diff -u -N`.
//! Exit status 0: no differences, 1: differences, 2 (or more): failure.

use std::path::{Path, PathBuf};

use clap::Args;
use http::Method;
use serde_json::Value;

use crate::cli::FileArgs;
use crate::client::Client;
use crate::cmd::apply::{locate, Located};
use crate::manifest;
use crate::patch::{self, Mode, LAST_APPLIED};
use crate::{Ctx, Error};

/// `kubectl diff`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    #[command(flatten)]
    pub files: FileArgs,
    #[arg(long = "server-side", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub server_side: bool,
    #[arg(long = "field-manager", default_value = "kubectl-client-side-apply")]
    pub field_manager: String,
    #[arg(long = "force-conflicts", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub force_conflicts: bool,
    #[arg(long = "show-managed-fields", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub show_managed_fields: bool,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    #[arg(long)]
    pub prune: bool,
    #[arg(long, default_value_t = 1)]
    pub concurrency: i64,
}

/// Errors of `kubectl diff` exit 2: 1 means "differences found".
fn fail(e: Error) -> Error {
    match e {
        Error::ExitWith { .. } => e,
        other => Error::ExitWith {
            code: 2,
            message: other.to_string(),
        },
    }
}

/// Runs `kubectl diff`.
pub async fn run(ctx: &mut Ctx, a: DiffArgs) -> Result<(), Error> {
    run_inner(ctx, a).await.map_err(fail)
}

/// The file name of an object: `group.version.Kind.namespace.name`.
fn file_name(loc: &Located) -> String {
    let r = &loc.resource;
    let group = if r.group.is_empty() {
        String::new()
    } else {
        format!("{}.", r.group)
    };
    format!(
        "{group}{}.{}.{}.{}",
        r.version,
        r.kind,
        loc.namespace.as_deref().unwrap_or_default(),
        loc.name
    )
}

/// A fresh directory `/tmp/<prefix>-<digits>`.
fn temp_dir(prefix: &str) -> Result<PathBuf, Error> {
    let base = std::env::temp_dir();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        ^ std::process::id().wrapping_mul(2_654_435_761);
    for i in 0..100u32 {
        let n = seed.wrapping_add(i.wrapping_mul(7_919)) % 4_000_000_000;
        let dir = base.join(format!("{prefix}-{n}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::Io {
                    context: format!("creating {}", dir.display()),
                    source: e,
                })
            }
        }
    }
    Err(Error::msg("could not create a temporary directory"))
}

fn write_object(dir: &Path, name: &str, obj: &Value, managed: bool) -> Result<(), Error> {
    let mut obj = obj.clone();
    if !managed {
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
    }
    let path = dir.join(name);
    std::fs::write(&path, crate::output::yaml::to_string(&obj)).map_err(|e| Error::Io {
        context: format!("writing {}", path.display()),
        source: e,
    })
}

/// What applying `loc` would leave on the server (dry run), and the live
/// object if there is one.
async fn merged(
    client: &Client,
    loc: &Located,
    a: &DiffArgs,
) -> Result<(Option<Value>, Value), Error> {
    let r = &loc.resource;
    let ns = loc.namespace.as_deref();
    let path = r.item_path(ns, &loc.name);
    let live = match client.get(&path).await {
        Ok(v) => Some(v),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e),
    };
    // Upstream diffs without refreshing the last-applied annotation, but
    // with the (maybe empty) annotations map it serialises.
    let mut modified = loc.object.clone();
    if !a.server_side && !modified["metadata"]["annotations"].is_object() {
        modified["metadata"]["annotations"] = serde_json::json!({});
    }
    if let Some(m) = modified["metadata"]["annotations"].as_object_mut() {
        m.remove(LAST_APPLIED);
    }
    let body_of = |v: &Value| serde_json::to_vec(v).unwrap_or_default();
    if a.server_side {
        let q = format!(
            "?dryRun=All&fieldManager={}{}",
            a.field_manager,
            if a.force_conflicts { "&force=true" } else { "" }
        );
        let out = client
            .call(
                Method::PATCH,
                &format!("{path}{q}"),
                Some("application/json"),
                Some("application/apply-patch+yaml"),
                Some(body_of(&modified)),
            )
            .await?;
        return Ok((live, out));
    }
    let Some(current) = live.clone() else {
        let out = client
            .call(
                Method::POST,
                &format!("{}?dryRun=All", r.collection_path(ns)),
                Some("application/json"),
                Some("application/json"),
                Some(body_of(&loc.object)),
            )
            .await?;
        return Ok((None, out));
    };
    let original: Value = current["metadata"]["annotations"][LAST_APPLIED]
        .as_str()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null);
    let strategic = patch::is_builtin_group(&r.group);
    let p = patch::three_way(&original, &modified, &current, Mode { strategic });
    if p.as_object().is_some_and(|m| m.is_empty()) {
        return Ok((live, current));
    }
    let ct = if strategic {
        "application/strategic-merge-patch+json"
    } else {
        "application/merge-patch+json"
    };
    let out = client
        .call(
            Method::PATCH,
            &format!("{path}?dryRun=All&fieldManager={}", a.field_manager),
            Some("application/json"),
            Some(ct),
            Some(body_of(&p)),
        )
        .await?;
    Ok((live, out))
}

/// The differ command: `$KUBECTL_EXTERNAL_DIFF` split on spaces, or
/// `diff -u -N`.
fn differ() -> (String, Vec<String>) {
    if let Ok(ext) = std::env::var("KUBECTL_EXTERNAL_DIFF") {
        let mut parts = ext.split(' ').filter(|s| !s.is_empty()).map(String::from);
        if let Some(cmd) = parts.next() {
            // Upstream keeps only arguments made of safe characters.
            let args = parts
                .filter(|p| {
                    p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '=')
                })
                .collect();
            return (cmd, args);
        }
    }
    ("diff".into(), vec!["-u".into(), "-N".into()])
}

async fn run_inner(ctx: &mut Ctx, a: DiffArgs) -> Result<(), Error> {
    if a.files.filename.is_empty() {
        return Err(Error::msg("must specify one of -f and -k"));
    }
    let manifests = manifest::read_all(&a.files.filename, a.files.recursive)?;
    let client = ctx.client().await?;
    let ns_flag = ctx.global.namespace.clone();
    let disco = ctx.discovery_for(&manifests).await?;
    let live_dir = temp_dir("LIVE")?;
    let merged_dir = temp_dir("MERGED")?;
    let cleanup = |_: ()| {
        let _ = std::fs::remove_dir_all(&live_dir);
        let _ = std::fs::remove_dir_all(&merged_dir);
    };
    let mut errors = Vec::new();
    for m in &manifests {
        let res = async {
            let loc = locate(&disco, m, &client.namespace, ns_flag.as_deref())?;
            if let Some(sel) = &a.selector {
                if !selector_matches(sel, &loc.object["metadata"]["labels"]) {
                    return Ok(());
                }
            }
            let (live, merged) = merged(&client, &loc, &a).await?;
            let name = file_name(&loc);
            match &live {
                Some(l) => write_object(&live_dir, &name, l, a.show_managed_fields)?,
                // A missing object is an empty file.
                None => std::fs::write(live_dir.join(&name), "").map_err(|e| Error::Io {
                    context: format!("writing {}", live_dir.join(&name).display()),
                    source: e,
                })?,
            }
            write_object(&merged_dir, &name, &merged, a.show_managed_fields)?;
            Ok::<_, Error>(())
        }
        .await;
        if let Err(e) = res {
            errors.push(e);
        }
    }
    if let Some(e) = errors.pop() {
        for other in errors {
            crate::eprint_line(&other.to_string());
        }
        cleanup(());
        return Err(e);
    }
    let (cmd, mut args) = differ();
    args.push(live_dir.display().to_string());
    args.push(merged_dir.display().to_string());
    let status = tokio::process::Command::new(&cmd)
        .args(&args)
        .status()
        .await;
    cleanup(());
    let status = status.map_err(|e| Error::msg(format!("failed to run \"{cmd}\": {e}")))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(Error::ExitWith {
            code: 1,
            message: String::new(),
        }),
        Some(c) => Err(Error::ExitWith {
            code: c,
            message: format!("error: exit status {c}"),
        }),
        None => Err(Error::ExitWith {
            code: 2,
            message: "error: signal: killed".into(),
        }),
    }
}

/// Whether equality-based `sel` (`a=b,c!=d,e`) matches `labels`.
fn selector_matches(sel: &str, labels: &Value) -> bool {
    sel.split(',').filter(|s| !s.is_empty()).all(|req| {
        if let Some((k, v)) = req.split_once("!=") {
            labels[k.trim()].as_str() != Some(v.trim())
        } else if let Some((k, v)) = req.split_once("==").or_else(|| req.split_once('=')) {
            labels[k.trim()].as_str() == Some(v.trim())
        } else if let Some(k) = req.strip_prefix('!') {
            labels.get(k.trim()).is_none()
        } else {
            labels.get(req.trim()).is_some()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors() {
        let l = json!({"app": "web", "tier": "fe"});
        assert!(selector_matches("app=web", &l));
        assert!(selector_matches("app=web,tier!=be", &l));
        assert!(!selector_matches("app=db", &l));
        assert!(selector_matches("tier", &l));
        assert!(!selector_matches("!tier", &l));
    }

    #[test]
    fn default_differ() {
        if std::env::var("KUBECTL_EXTERNAL_DIFF").is_err() {
            assert_eq!(
                differ(),
                ("diff".to_string(), vec!["-u".to_string(), "-N".to_string()])
            );
        }
    }
}
