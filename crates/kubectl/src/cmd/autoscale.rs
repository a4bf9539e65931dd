//! `kubectl autoscale`: an autoscaling/v2 HorizontalPodAutoscaler for each
//! scalable object named.

use clap::Args;
use http::Method;
use serde_json::{json, Map, Value};

use crate::cli::FileArgs;
use crate::cmd::set::common::{self, DryRun, Query};
use crate::{Ctx, Error};

/// `kubectl autoscale`.
#[derive(Args, Debug)]
pub struct AutoscaleArgs {
    pub args: Vec<String>,
    #[command(flatten)]
    pub files: FileArgs,
    #[arg(long, default_value_t = -1)]
    pub min: i64,
    #[arg(long)]
    pub max: Option<i64>,
    #[arg(long = "cpu-percent", default_value_t = -1)]
    pub cpu_percent: i64,
    #[arg(long, default_value = "")]
    pub name: String,
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "unchanged")]
    pub dry_run: Option<String>,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[arg(long = "field-manager", default_value = "kubectl-autoscale")]
    pub field_manager: String,
    #[arg(long = "save-config", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub save_config: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub record: bool,
}

/// The HPA upstream builds, keys in Go's struct order.
fn generate(
    name: &str,
    api_version: &str,
    kind: &str,
    target: &str,
    min: i64,
    max: i64,
    cpu: i64,
) -> Value {
    let mut spec = Map::new();
    spec.insert(
        "scaleTargetRef".into(),
        json!({"kind": kind, "name": target, "apiVersion": api_version}),
    );
    if min > 0 {
        spec.insert("minReplicas".into(), json!(min));
    }
    spec.insert("maxReplicas".into(), json!(max));
    if cpu >= 0 {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}}}]),
        );
    }
    let mut hpa = Map::new();
    hpa.insert("kind".into(), json!("HorizontalPodAutoscaler"));
    hpa.insert("apiVersion".into(), json!("autoscaling/v2"));
    hpa.insert(
        "metadata".into(),
        json!({"name": name, "creationTimestamp": null}),
    );
    hpa.insert("spec".into(), Value::Object(spec));
    hpa.insert(
        "status".into(),
        json!({"desiredReplicas": 0, "currentMetrics": null}),
    );
    Value::Object(hpa)
}

/// Runs `kubectl autoscale`.
pub async fn run(ctx: &mut Ctx, a: AutoscaleArgs) -> Result<(), Error> {
    let cmd = "kubectl autoscale";
    let Some(max) = a.max else {
        return Err(Error::msg("required flag(s) \"max\" not set"));
    };
    let dry_run = DryRun::parse(a.dry_run.as_deref())?;
    let format = common::parse_format(a.output.as_deref())?;
    if max < 1 {
        return Err(Error::msg(format!(
            "--max=MAXPODS is required and must be at least 1, max: {max}"
        )));
    }
    if max < a.min {
        return Err(Error::msg(format!(
            "--max=MAXPODS must be larger or equal to --min=MINPODS, max: {max}, min: {}",
            a.min
        )));
    }
    let q = Query {
        args: &a.args,
        files: &a.files,
        selector: None,
        all: false,
        allow_empty: false,
        local: false,
        cmd,
    };
    let (objs, errs) = common::find(ctx, &q).await?;
    if let Some(e) = errs.into_iter().next() {
        return Err(e);
    }
    let client = ctx.client().await?;
    for obj in objs {
        let r = &obj.resource;
        // The built-in kinds serving a `scale` subresource.
        let scalable = matches!(
            (r.group.as_str(), r.plural.as_str()),
            ("apps", "deployments" | "replicasets" | "statefulsets")
                | ("", "replicationcontrollers")
        );
        if !scalable {
            return Err(Error::msg(format!(
                "cannot autoscale a {}: could not find scale subresource for {}/{}, Resource={} in discovery information",
                r.kind, r.group, r.version, r.plural
            )));
        }
        let name = if a.name.is_empty() {
            obj.name.clone()
        } else {
            a.name.clone()
        };
        let mut hpa = generate(
            &name,
            &r.api_version(),
            &r.kind,
            &obj.name,
            a.min,
            max,
            a.cpu_percent,
        );
        let op = format!("autoscaled{}", dry_run.suffix());
        let kind_group = "horizontalpodautoscaler.autoscaling";
        if dry_run == DryRun::Client {
            if ctx.global.namespace.is_some() {
                crate::cmd::expose::set_namespace(&mut hpa, &client.namespace);
            }
            common::report_typed(format.as_ref(), &hpa, kind_group, &name, &op)?;
            continue;
        }
        if let Some(m) = hpa["metadata"].as_object_mut() {
            m.remove("creationTimestamp");
        }
        if let Some(m) = hpa.as_object_mut() {
            m.remove("status");
        }
        if a.save_config {
            hpa = crate::patch::with_last_applied(&hpa);
        }
        let ns = obj
            .namespace
            .clone()
            .unwrap_or_else(|| client.namespace.clone());
        let mut qs = vec![format!("fieldManager={}", a.field_manager)];
        if dry_run == DryRun::Server {
            qs.push("dryRun=All".into());
        }
        let created = client
            .call(
                Method::POST,
                &format!(
                    "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers?{}",
                    qs.join("&")
                ),
                Some("application/json"),
                Some("application/json"),
                Some(serde_json::to_vec(&hpa).unwrap_or_default()),
            )
            .await?;
        common::report(format.as_ref(), &created, kind_group, &name, &op)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpa_shape() {
        let h = generate("x", "apps/v1", "Deployment", "x", 2, 5, 80);
        assert_eq!(h["spec"]["minReplicas"], 2);
        assert_eq!(
            h["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            80
        );
        let h = generate("x", "apps/v1", "Deployment", "x", -1, 5, -1);
        assert!(h["spec"].get("minReplicas").is_none());
        assert!(h["spec"].get("metrics").is_none());
    }
}
