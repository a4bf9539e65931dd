//! `kubectl run`: create a pod (and with `--expose` a service) from flags;
//! with `-i`/`--attach`, wait for it to run, attach, and with `--rm`
//! delete it afterwards.

use std::time::Duration;

use clap::Args;
use http::Method;
use serde_json::{json, Map, Value};

use crate::cmd::expose::{generate_service, parse_labels, ServiceParams};
use crate::cmd::set::common::{self, DryRun};
use crate::{print, Ctx, Error};

const CMD: &str = "kubectl run";

/// `kubectl run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// NAME and, without `--`, the container's arguments.
    pub args: Vec<String>,
    /// What follows `--`.
    #[arg(last = true)]
    pub rest: Vec<String>,
    #[arg(long, default_value = "")]
    pub image: String,
    #[arg(long, default_value = "")]
    pub port: String,
    #[arg(long)]
    pub env: Vec<String>,
    #[arg(long)]
    pub annotations: Vec<String>,
    #[arg(short = 'l', long, default_value = "")]
    pub labels: String,
    #[arg(long, default_value = "")]
    pub restart: String,
    #[arg(long = "image-pull-policy", default_value = "")]
    pub image_pull_policy: String,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub command: bool,
    #[arg(short = 'i', long = "stdin", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub stdin: bool,
    #[arg(short = 't', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub tty: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub attach: Option<bool>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub rm: bool,
    #[arg(long = "leave-stdin-open", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub leave_stdin_open: bool,
    #[arg(short = 'q', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub quiet: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub privileged: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub expose: bool,
    #[arg(long, default_value = "")]
    pub overrides: String,
    #[arg(long = "override-type", default_value = "merge")]
    pub override_type: String,
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "unchanged")]
    pub dry_run: Option<String>,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[arg(long = "pod-running-timeout", default_value = "1m0s")]
    pub pod_running_timeout: String,
    #[arg(long = "field-manager", default_value = "kubectl-run")]
    pub field_manager: String,
    #[arg(long = "save-config", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub save_config: bool,
}

/// Whether `image` is a valid image reference (a practical subset of the
/// docker reference grammar: lower-case path components, optional tag and
/// digest).
fn valid_image(image: &str) -> bool {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest {
        let Some((alg, hex)) = d.split_once(':') else {
            return false;
        };
        if alg.is_empty() || hex.len() < 32 {
            return false;
        }
    }
    // The tag is after the last ':' that follows the last '/'.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag {
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return false;
        }
    }
    if name.is_empty() {
        return false;
    }
    let comps: Vec<&str> = name.split('/').collect();
    for (i, c) in comps.iter().enumerate() {
        if c.is_empty() {
            return false;
        }
        // The first component may be a registry host with a port.
        if i == 0 && comps.len() > 1 && (c.contains('.') || c.contains(':') || *c == "localhost") {
            if !c
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ".-:".contains(ch))
            {
                return false;
            }
            continue;
        }
        let lower_ok = c
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch));
        let ends_ok = c
            .chars()
            .next()
            .is_some_and(|ch| ch.is_ascii_alphanumeric())
            && c.chars()
                .last()
                .is_some_and(|ch| ch.is_ascii_alphanumeric());
        if !lower_ok || !ends_ok {
            return false;
        }
    }
    true
}

/// The pod the generator makes, keys in Go's struct order.
fn generate_pod(a: &RunArgs, name: &str, args: &[String]) -> Result<Value, Error> {
    let labels = if a.labels.is_empty() {
        let mut m = Map::new();
        m.insert("run".into(), json!(name));
        m
    } else {
        parse_labels(&a.labels)?
    };
    let mut ctr = Map::new();
    ctr.insert("name".into(), json!(name));
    ctr.insert("image".into(), json!(a.image));
    if !args.is_empty() {
        ctr.insert(
            if a.command { "command" } else { "args" }.into(),
            json!(args),
        );
    }
    if !a.port.is_empty() {
        let port: i64 = a.port.parse().map_err(|_| {
            Error::msg(format!(
                "strconv.Atoi: parsing {:?}: invalid syntax",
                a.port
            ))
        })?;
        if !(0..=65535).contains(&port) {
            return Err(Error::msg(format!(
                "port {port:?} must be between 0 and 65535"
            )));
        }
        ctr.insert("ports".into(), json!([{"containerPort": port}]));
    }
    if !a.env.is_empty() {
        let mut env = Vec::new();
        for e in &a.env {
            let Some((k, v)) = e.split_once('=') else {
                return Err(Error::msg(format!("invalid env: {e}")));
            };
            if !crate::cmd::set::is_env_var_name(k) {
                return Err(Error::msg(format!("invalid env: {e}")));
            }
            env.push(json!({"name": k, "value": v}));
        }
        ctr.insert("env".into(), Value::Array(env));
    }
    ctr.insert("resources".into(), json!({}));
    if !a.image_pull_policy.is_empty() {
        ctr.insert("imagePullPolicy".into(), json!(a.image_pull_policy));
    }
    if a.privileged {
        ctr.insert("securityContext".into(), json!({"privileged": true}));
    }
    if a.stdin {
        ctr.insert("stdin".into(), json!(true));
        if !a.leave_stdin_open {
            ctr.insert("stdinOnce".into(), json!(true));
        }
    }
    if a.tty {
        ctr.insert("tty".into(), json!(true));
    }
    let restart = if a.restart.is_empty() {
        "Always"
    } else {
        a.restart.as_str()
    };
    let mut meta = Map::new();
    meta.insert("name".into(), json!(name));
    meta.insert("creationTimestamp".into(), Value::Null);
    meta.insert("labels".into(), Value::Object(labels));
    if !a.annotations.is_empty() {
        let mut ann = Map::new();
        for s in &a.annotations {
            let (k, v) = s.split_once('=').unwrap_or((s, ""));
            ann.insert(k.to_string(), json!(v));
        }
        meta.insert("annotations".into(), Value::Object(ann));
    }
    let mut spec = Map::new();
    spec.insert("containers".into(), json!([ctr]));
    spec.insert("restartPolicy".into(), json!(restart));
    spec.insert("dnsPolicy".into(), json!("ClusterFirst"));
    let mut pod = Map::new();
    pod.insert("kind".into(), json!("Pod"));
    pod.insert("apiVersion".into(), json!("v1"));
    pod.insert("metadata".into(), Value::Object(meta));
    pod.insert("spec".into(), Value::Object(spec));
    pod.insert("status".into(), json!({}));
    Ok(Value::Object(pod))
}

/// Posts `obj` to `collection` (or returns it untouched for a client dry run).
async fn create(
    ctx: &mut Ctx,
    obj: &Value,
    collection: &str,
    dry_run: DryRun,
    a: &RunArgs,
) -> Result<Value, Error> {
    let client = ctx.client().await?;
    if dry_run == DryRun::Client {
        let mut o = obj.clone();
        if ctx.global.namespace.is_some() {
            crate::cmd::expose::set_namespace(&mut o, &client.namespace);
        }
        return Ok(o);
    }
    let mut body = obj.clone();
    if let Some(m) = body["metadata"].as_object_mut() {
        m.remove("creationTimestamp");
    }
    if let Some(m) = body.as_object_mut() {
        m.remove("status");
    }
    if a.save_config {
        body = crate::patch::with_last_applied(&body);
    }
    let mut qs = vec![format!("fieldManager={}", a.field_manager)];
    if dry_run == DryRun::Server {
        qs.push("dryRun=All".into());
    }
    client
        .call(
            Method::POST,
            &format!(
                "/api/v1/namespaces/{}/{collection}?{}",
                client.namespace,
                qs.join("&")
            ),
            Some("application/json"),
            Some("application/json"),
            Some(serde_json::to_vec(&body).unwrap_or_default()),
        )
        .await
}

/// Runs `kubectl run`.
pub async fn run(ctx: &mut Ctx, a: RunArgs) -> Result<(), Error> {
    let dry_run = DryRun::parse(a.dry_run.as_deref())?;
    let format = common::parse_format(a.output.as_deref())?;
    let attach = a.attach.unwrap_or(a.stdin);
    if a.image.is_empty() {
        return Err(Error::msg("required flag(s) \"image\" not set"));
    }
    if a.args.is_empty() {
        return Err(Error::usage(CMD, "NAME is required for run"));
    }
    if !valid_image(&a.image) {
        return Err(Error::msg(format!(
            "Invalid image name {:?}: invalid reference format",
            a.image
        )));
    }
    if a.tty && !a.stdin {
        return Err(Error::usage(
            CMD,
            "-i/--stdin is required for containers with -t/--tty=true",
        ));
    }
    if a.expose && a.port.is_empty() {
        return Err(Error::usage(
            CMD,
            "--port must be set when exposing a service",
        ));
    }
    let restart_policy = match a.restart.as_str() {
        "" if a.stdin => "OnFailure",
        "" => "Always",
        "Always" | "OnFailure" | "Never" => a.restart.as_str(),
        other => {
            return Err(Error::usage(
                CMD,
                format!("invalid restart policy: {other}"),
            ))
        }
    };
    if !attach && a.rm {
        return Err(Error::usage(
            CMD,
            "--rm should only be used for attached containers",
        ));
    }
    if attach && dry_run != DryRun::None {
        return Err(Error::usage(CMD, "--dry-run=[server|client] can't be used with attached containers options (--attach, --stdin, or --tty)"));
    }
    if !matches!(
        a.image_pull_policy.as_str(),
        "" | "Always" | "IfNotPresent" | "Never"
    ) {
        return Err(Error::usage(
            CMD,
            format!("invalid image pull policy: {}", a.image_pull_policy),
        ));
    }
    let name = a.args[0].clone();
    let mut cargs: Vec<String> = a.args[1..].to_vec();
    cargs.extend(a.rest.iter().cloned());
    let mut pod = generate_pod(&a, &name, &cargs)?;
    if !a.overrides.is_empty() {
        let o: Value =
            serde_json::from_str(&a.overrides).map_err(|_| Error::msg("Invalid JSON Patch"))?;
        pod = match a.override_type.as_str() {
            "merge" | "strategic" => apimachinery::patch::merge_patch(&pod, &o),
            "json" => {
                apimachinery::patch::json_patch(&pod, &o).map_err(|e| Error::msg(e.to_string()))?
            }
            other => return Err(Error::msg(format!("invalid override type: {other}"))),
        };
    }
    let created = create(ctx, &pod, "pods", dry_run, &a).await?;
    let suffix = dry_run.suffix();
    let mut service = None;
    if a.expose {
        let sp = ServiceParams {
            name: name.clone(),
            selector: if a.labels.is_empty() {
                format!("run={name}")
            } else {
                a.labels.clone()
            },
            labels: a.labels.clone(),
            ports: vec![a.port.clone()],
            ..Default::default()
        };
        let svc = generate_service(&sp)?;
        let made = create(ctx, &svc, "services", dry_run, &a).await?;
        common::report_typed(
            format.as_ref(),
            &made,
            "service",
            &name,
            &format!("created{suffix}"),
        )?;
        // Upstream's own separator, then its YAML printer's for the
        // second object.
        if format == Some(crate::output::Format::Yaml) {
            print("---\n---\n");
        }
        service = Some(made);
    }
    if attach {
        let res = attach_and_wait(ctx, &name, &a, restart_policy).await;
        if a.rm {
            remove(ctx, &name, service.is_some(), a.quiet).await;
        }
        return res;
    }
    common::report_typed(
        format.as_ref(),
        &created,
        "pod",
        &name,
        &format!("created{suffix}"),
    )
}

/// Deletes what `--rm` asks to, printing as `kubectl delete` does.
async fn remove(ctx: &mut Ctx, name: &str, service: bool, quiet: bool) {
    let Ok(client) = ctx.client().await else {
        return;
    };
    let ns = client.namespace.clone();
    let body = serde_json::to_vec(
        &json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}),
    )
    .unwrap_or_default();
    let mut what = vec![("pods", "pod")];
    if service {
        what.push(("services", "service"));
    }
    for (plural, kind) in what {
        let r = client
            .call(
                Method::DELETE,
                &format!("/api/v1/namespaces/{ns}/{plural}/{name}"),
                Some("application/json"),
                Some("application/json"),
                Some(body.clone()),
            )
            .await;
        match r {
            Ok(_) if !quiet => print(&format!("{kind} \"{name}\" deleted\n")),
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => crate::eprint_line(&e.to_string()),
        }
    }
}

/// The pod's phase and whether it is Ready.
fn pod_state(pod: &Value) -> (String, bool) {
    let phase = pod["status"]["phase"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let ready = pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    (phase, ready)
}

/// Polls the pod until `done` says so or `timeout` passes.
async fn wait_pod(
    ctx: &mut Ctx,
    name: &str,
    timeout: Duration,
    done: impl Fn(&Value) -> Result<bool, Error>,
) -> Result<Value, Error> {
    let client = ctx.client().await?;
    let path = format!("/api/v1/namespaces/{}/pods/{name}", client.namespace);
    let start = std::time::Instant::now();
    loop {
        let pod = client.get(&path).await?;
        if done(&pod)? {
            return Ok(pod);
        }
        if start.elapsed() > timeout {
            return Err(Error::msg("timed out waiting for the condition"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits for the pod, attaches (or prints its logs if it already ended),
/// then for `Never`/`OnFailure` pods waits for the end and returns the
/// container's exit code as upstream does.
async fn attach_and_wait(
    ctx: &mut Ctx,
    name: &str,
    a: &RunArgs,
    restart_policy: &str,
) -> Result<(), Error> {
    let timeout =
        crate::parse_go_duration(&a.pod_running_timeout).unwrap_or(Duration::from_secs(60));
    let pod = wait_pod(ctx, name, timeout, |p| {
        let (phase, ready) = pod_state(p);
        Ok(matches!(phase.as_str(), "Succeeded" | "Failed") || (phase == "Running" && ready))
    })
    .await?;
    let (phase, _) = pod_state(&pod);
    let client = ctx.client().await?;
    let ns = client.namespace.clone();
    if matches!(phase.as_str(), "Succeeded" | "Failed") {
        print_logs(ctx, name).await?;
    } else {
        let args = crate::cmd::attach::AttachArgs {
            args: vec![name.to_string()],
            container: Some(name.to_string()),
            pod_running_timeout: a.pod_running_timeout.clone(),
            quiet: a.quiet,
            stdin: a.stdin,
            tty: a.tty,
        };
        if let Err(e) = crate::cmd::attach::run(ctx, args).await {
            crate::eprint_line(&format!(
                "warning: couldn't attach to pod/{name}, falling back to streaming logs: {}",
                common::inner_message(&e)
            ));
            print_logs(ctx, name).await?;
        }
    }
    let wait_exit = !a.leave_stdin_open && matches!(restart_policy, "Never" | "OnFailure");
    if !wait_exit {
        return Ok(());
    }
    let on_failure = restart_policy == "OnFailure";
    let pod = wait_pod(ctx, name, timeout, |p| {
        let (phase, _) = pod_state(p);
        Ok(if on_failure {
            phase == "Succeeded"
        } else {
            matches!(phase.as_str(), "Succeeded" | "Failed")
        })
    })
    .await?;
    match pod_state(&pod).0.as_str() {
        "Succeeded" => Ok(()),
        "Failed" => {
            let term = &pod["status"]["containerStatuses"][0]["state"]["terminated"];
            let rc = term["exitCode"].as_i64().unwrap_or(0);
            if term.is_null() || rc == 0 {
                return Err(Error::msg(format!(
                    "pod {ns}/{name} failed with unknown exit code"
                )));
            }
            Err(Error::ExitWith {
                code: rc as i32,
                message: format!(
                    "pod {ns}/{name} terminated ({})\n{}",
                    term["reason"].as_str().unwrap_or_default(),
                    term["message"].as_str().unwrap_or_default()
                ),
            })
        }
        other => Err(Error::msg(format!("pod {ns}/{name} left in phase {other}"))),
    }
}

async fn print_logs(ctx: &mut Ctx, name: &str) -> Result<(), Error> {
    let client = ctx.client().await?;
    let (status, body) = client
        .raw(
            Method::GET,
            &format!(
                "/api/v1/namespaces/{}/pods/{name}/log?container={name}",
                client.namespace
            ),
            Some("*/*"),
            None,
            None,
        )
        .await?;
    if status >= 400 {
        return Err(crate::client::status_error(status, &body));
    }
    print(&String::from_utf8_lossy(&body));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: RunArgs,
    }

    fn args(v: &[&str]) -> RunArgs {
        let mut argv = vec!["t"];
        argv.extend_from_slice(v);
        T::parse_from(argv).a
    }

    #[test]
    fn images() {
        for ok in [
            "nginx",
            "nginx:1.22",
            "docker.io/library/busybox:1.35",
            "localhost:5000/a/b",
            "a@sha256:0123456789abcdef0123456789abcdef",
        ] {
            assert!(valid_image(ok), "{ok}");
        }
        for bad in ["Nginx", "nginx:", "a//b", ":x", "nginx:-x"] {
            assert!(!valid_image(bad), "{bad}");
        }
    }

    #[test]
    fn pod_generation() {
        let a = args(&[
            "web",
            "--image=nginx",
            "--port=80",
            "--env=A=1",
            "--",
            "sh",
            "-c",
            "x",
        ]);
        let p = generate_pod(&a, "web", &a.rest).unwrap();
        assert_eq!(p["metadata"]["labels"], json!({"run": "web"}));
        let c = &p["spec"]["containers"][0];
        assert_eq!(c["args"], json!(["sh", "-c", "x"]));
        assert_eq!(c["ports"], json!([{"containerPort": 80}]));
        assert_eq!(c["env"], json!([{"name": "A", "value": "1"}]));
        assert_eq!(p["spec"]["restartPolicy"], "Always");
    }

    #[test]
    fn command_and_labels() {
        let a = args(&[
            "web",
            "--image=nginx",
            "--command",
            "-l",
            "a=b",
            "--",
            "sleep",
            "1",
        ]);
        let p = generate_pod(&a, "web", &a.rest).unwrap();
        assert_eq!(p["spec"]["containers"][0]["command"], json!(["sleep", "1"]));
        assert_eq!(p["metadata"]["labels"], json!({"a": "b"}));
    }
}
