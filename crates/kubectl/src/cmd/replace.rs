//! `kubectl replace -f`: PUT each manifest over the live object (taking
//! its resourceVersion when the file has none); `--force` deletes and
//! re-creates instead.

use std::time::{Duration, Instant};

use clap::Args;
use http::Method;
use serde_json::{json, Value};

use crate::cli::FileArgs;
use crate::client::Client;
use crate::cmd::apply::{add_source, locate, Located};
use crate::cmd::set::common::{self, DryRun};
use crate::manifest;
use crate::patch::{with_last_applied, LAST_APPLIED};
use crate::{print, Ctx, Error};

/// `kubectl replace`.
#[derive(Args, Debug)]
pub struct ReplaceArgs {
    #[command(flatten)]
    pub files: FileArgs,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub force: bool,
    #[arg(long = "grace-period", default_value_t = -1)]
    pub grace_period: i64,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "background", default_value = "background")]
    pub cascade: String,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub wait: bool,
    #[arg(long, default_value = "0s")]
    pub timeout: String,
    #[arg(long = "save-config", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub save_config: bool,
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "unchanged")]
    pub dry_run: Option<String>,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[arg(long = "field-manager", default_value = "kubectl-replace")]
    pub field_manager: String,
    #[arg(long)]
    pub subresource: Option<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "strict", default_value = "strict")]
    pub validate: String,
}

/// The object as it is sent: last-applied refreshed as upstream's
/// `CreateOrUpdateAnnotation` does.
fn prepare(obj: &Value, save_config: bool) -> Value {
    let has = obj["metadata"]["annotations"][LAST_APPLIED].is_string();
    if save_config || has {
        with_last_applied(obj)
    } else {
        obj.clone()
    }
}

/// Runs `kubectl replace`.
pub async fn run(ctx: &mut Ctx, a: ReplaceArgs) -> Result<(), Error> {
    if a.files.filename.is_empty() {
        return Err(Error::msg("must specify one of -f and -k"));
    }
    let dry_run = DryRun::parse(a.dry_run.as_deref())?;
    let format = common::parse_format(a.output.as_deref())?;
    if a.force && dry_run != DryRun::None {
        return Err(Error::msg("--dry-run can not be used when --force is set"));
    }
    let manifests = manifest::read_all(&a.files.filename, a.files.recursive)?;
    let client = ctx.client().await?;
    let ns_flag = ctx.global.namespace.clone();
    let disco = ctx.discovery_for(&manifests).await?;
    let mut errors = Vec::new();
    let suffix = dry_run.suffix();
    if a.force {
        return force_replace(
            &client,
            &a,
            &disco,
            &manifests,
            ns_flag.as_deref(),
            format.as_ref(),
        )
        .await;
    }
    for m in &manifests {
        let res = async {
            let loc = locate(&disco, m, &client.namespace, ns_flag.as_deref())?;
            let obj = prepare(&loc.object, a.save_config);
            if dry_run == DryRun::Client {
                return Ok((loc, obj));
            }
            let replaced = put(&client, &loc, obj, &a, dry_run)
                .await
                .map_err(|e| add_source(e, "replacing", &m.source))?;
            Ok::<_, Error>((loc, replaced))
        }
        .await;
        match res {
            Ok((loc, obj)) => common::report(
                format.as_ref(),
                &obj,
                &loc.resource.kind_group(),
                &loc.name,
                &format!("replaced{suffix}"),
            )?,
            Err(e) => errors.push(e),
        }
    }
    let last = errors.pop();
    for e in errors {
        crate::eprint_line(&e.to_string());
    }
    last.map_or(Ok(()), Err)
}

/// PUT with the live resourceVersion filled in when the file has none.
async fn put(
    client: &Client,
    loc: &Located,
    mut obj: Value,
    a: &ReplaceArgs,
    dry_run: DryRun,
) -> Result<Value, Error> {
    let mut path = loc.resource.item_path(loc.namespace.as_deref(), &loc.name);
    if let Some(s) = &a.subresource {
        path = format!("{path}/{s}");
    }
    if obj["metadata"]["resourceVersion"]
        .as_str()
        .is_none_or(str::is_empty)
    {
        let live = client.get(&path).await?;
        obj["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"].clone();
    }
    let mut qs = vec![format!("fieldManager={}", a.field_manager)];
    if dry_run == DryRun::Server {
        qs.push("dryRun=All".into());
    }
    client
        .call(
            Method::PUT,
            &format!("{path}?{}", qs.join("&")),
            Some("application/json"),
            Some("application/json"),
            Some(serde_json::to_vec(&obj).unwrap_or_default()),
        )
        .await
}

async fn force_replace(
    client: &Client,
    a: &ReplaceArgs,
    disco: &crate::discovery::Discovery,
    manifests: &[manifest::Manifest],
    ns_flag: Option<&str>,
    format: Option<&crate::output::Format>,
) -> Result<(), Error> {
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
    let mut body =
        json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy});
    if a.grace_period >= 0 {
        body["gracePeriodSeconds"] = json!(a.grace_period);
    }
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let timeout = crate::parse_go_duration(&a.timeout)
        .filter(|d| !d.is_zero())
        .unwrap_or(Duration::from_secs(7 * 24 * 3600));
    let mut located = Vec::new();
    for m in manifests {
        let loc = locate(disco, m, &client.namespace, ns_flag)?;
        let path = loc.resource.item_path(loc.namespace.as_deref(), &loc.name);
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
            Ok(_) => print(&format!(
                "{} \"{}\" deleted\n",
                loc.resource.kind_group(),
                loc.name
            )),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(add_source(e, "deleting", &m.source)),
        }
        located.push((loc, path, m.source.clone()));
    }
    for (loc, path, source) in located {
        // The old object must be gone before it can be created again.
        let start = Instant::now();
        loop {
            match client.get(&path).await {
                Err(e) if e.is_not_found() => break,
                Err(e) => return Err(e),
                Ok(_) => {}
            }
            if start.elapsed() > timeout {
                return Err(Error::msg(format!(
                    "timed out waiting for the condition on {}/{}",
                    loc.resource.plural, loc.name
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut obj = prepare(&loc.object, a.save_config);
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("resourceVersion");
        }
        let created = client
            .call(
                Method::POST,
                &format!(
                    "{}?fieldManager={}",
                    loc.resource.collection_path(loc.namespace.as_deref()),
                    a.field_manager
                ),
                Some("application/json"),
                Some("application/json"),
                Some(serde_json::to_vec(&obj).unwrap_or_default()),
            )
            .await
            .map_err(|e| add_source(e, "creating", &source))?;
        common::report(
            format,
            &created,
            &loc.resource.kind_group(),
            &loc.name,
            "replaced",
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_last_applied_current() {
        let o = json!({"metadata": {"name": "x", "annotations": {LAST_APPLIED: "{}"}}, "data": {"a": "1"}});
        let p = prepare(&o, false);
        let text = p["metadata"]["annotations"][LAST_APPLIED].as_str().unwrap();
        assert!(text.contains("\"a\":\"1\""));
        let bare = json!({"metadata": {"name": "x"}});
        assert_eq!(prepare(&bare, false), bare);
    }
}
