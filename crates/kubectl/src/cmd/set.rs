//! `kubectl set image|env|resources`: edit the pod template of workloads
//! and send the difference as a patch, printing `<kind>/<name> <what>
//! updated` for each object that changed.

pub mod common;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::cli::FileArgs;
use crate::{Ctx, Error};
use common::{DryRun, Obj, Query};

/// `kubectl set`.
#[derive(Args, Debug)]
pub struct SetArgs {
    #[command(subcommand)]
    pub cmd: SetCmd,
}

/// Flags the `set` subcommands share.
#[derive(Args, Debug, Default)]
pub struct SetCommon {
    #[command(flatten)]
    pub files: FileArgs,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub all: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub local: bool,
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "unchanged")]
    pub dry_run: Option<String>,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[arg(long = "field-manager", default_value = "kubectl-set")]
    pub field_manager: String,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub record: bool,
}

/// `kubectl set <what>`.
#[derive(Subcommand, Debug)]
pub enum SetCmd {
    /// Update the image of a pod template.
    Image {
        args: Vec<String>,
        #[command(flatten)]
        common: SetCommon,
    },
    /// Update environment variables on a pod template.
    Env {
        args: Vec<String>,
        #[command(flatten)]
        common: SetCommon,
        #[arg(short = 'c', long = "containers", default_value = "*")]
        containers: String,
        #[arg(short = 'e', long = "env")]
        env: Vec<String>,
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
        list: bool,
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
        overwrite: bool,
        #[arg(long)]
        prefix: Option<String>,
        #[arg(long)]
        from: Option<String>,
        #[arg(long, value_delimiter = ',')]
        keys: Vec<String>,
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
        resolve: bool,
    },
    /// Update resource requests/limits on objects with pod templates.
    Resources {
        args: Vec<String>,
        #[command(flatten)]
        common: SetCommon,
        #[arg(short = 'c', long = "containers", default_value = "*")]
        containers: String,
        #[arg(long, default_value = "")]
        limits: String,
        #[arg(long, default_value = "")]
        requests: String,
    },
}

/// Runs `kubectl set`.
pub async fn run(ctx: &mut Ctx, a: SetArgs) -> Result<(), Error> {
    match a.cmd {
        SetCmd::Image { args, common } => image(ctx, args, common).await,
        SetCmd::Env {
            args,
            common,
            containers,
            env,
            list,
            overwrite,
            prefix,
            from,
            keys,
            resolve: _,
        } => {
            let o = EnvOpts {
                containers,
                env,
                list,
                overwrite,
                prefix,
                from,
                keys,
            };
            set_env(ctx, args, common, o).await
        }
        SetCmd::Resources {
            args,
            common,
            containers,
            limits,
            requests,
        } => resources(ctx, args, common, &containers, &limits, &requests).await,
    }
}

/// Splits `TYPE NAME k=v k=v` into resources and pairs; resources must
/// come first.
fn split_pairs(args: &[String], what: &str) -> Result<(Vec<String>, Vec<String>), Error> {
    let mut res = Vec::new();
    let mut pairs = Vec::new();
    for a in args {
        if a.contains('=') || (what == "environment" && a.ends_with('-') && !res.is_empty()) {
            pairs.push(a.clone());
        } else if !pairs.is_empty() {
            let shown = if what == "image" {
                a.clone()
            } else {
                args.join(" ")
            };
            return Err(Error::msg(format!(
                "all resources must be specified before {what} changes: {shown}"
            )));
        } else {
            res.push(a.clone());
        }
    }
    Ok((res, pairs))
}

/// Whether container `name` matches the `-c` glob.
fn glob_match(pattern: &str, name: &str) -> bool {
    fn rec(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|i| rec(rest, &n[i..])),
            Some(('?', rest)) => !n.is_empty() && rec(rest, &n[1..]),
            Some((c, rest)) => n.first() == Some(c) && rec(rest, &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    rec(&p, &n)
}

/// Finds the objects and checks the shared flags.
async fn find_for_set(
    ctx: &mut Ctx,
    resources: &[String],
    c: &SetCommon,
    cmd: &str,
) -> Result<(Vec<Obj>, Vec<Error>, DryRun), Error> {
    let dry_run = DryRun::parse(c.dry_run.as_deref())?;
    if c.local && dry_run == DryRun::Server {
        return Err(Error::msg(
            "cannot specify --local and --dry-run=server - did you mean --dry-run=client?",
        ));
    }
    let q = Query {
        args: resources,
        files: &c.files,
        selector: c.selector.as_deref(),
        all: c.all,
        allow_empty: false,
        local: c.local,
        cmd,
    };
    if c.local && c.files.filename.is_empty() {
        return Err(Error::msg(
            "you must specify resources by --filename when --local is set.",
        ));
    }
    let (objs, errs) = common::find(ctx, &q).await?;
    Ok((objs, errs, dry_run))
}

/// Sends the change (or prints it for `--local` and client dry runs).
async fn finish(
    ctx: &mut Ctx,
    c: &SetCommon,
    dry_run: DryRun,
    obj: &Obj,
    modified: &Value,
    operation: &str,
    failure: &str,
) -> Result<(), Error> {
    let format = common::parse_format(c.output.as_deref())?;
    let patch = common::merge_diff(&obj.object, modified);
    if common::is_empty_patch(&patch) {
        return Ok(());
    }
    let op = format!("{operation}{}", dry_run.suffix());
    if c.local || dry_run == DryRun::Client {
        let shown = if c.local {
            typed_defaults(modified)
        } else {
            modified.clone()
        };
        return common::report(
            format.as_ref(),
            &shown,
            &common::kind_group_of(modified),
            &obj.name,
            &op,
        );
    }
    let client = ctx.client().await?;
    let actual = common::merge_patch(&client, obj, &patch, dry_run)
        .await
        .map_err(|e| Error::msg(format!("{failure}{}", common::inner_message(&e))))?;
    common::report(
        format.as_ref(),
        &actual,
        &obj.resource.kind_group(),
        &obj.name,
        &op,
    )
}

/// What decoding into Go's typed structs adds to a file's object: the
/// zero values Go prints (`creationTimestamp: null`, empty strategy,
/// resources and status), and no namespace the file did not name.
fn typed_defaults(obj: &Value) -> Value {
    let mut o = obj.clone();
    if o["metadata"].get("creationTimestamp").is_none() {
        o["metadata"]["creationTimestamp"] = Value::Null;
    }
    let kind = o["kind"].as_str().unwrap_or_default().to_string();
    match kind.as_str() {
        "Deployment" if o["spec"].get("strategy").is_none() => o["spec"]["strategy"] = json!({}),
        "DaemonSet" | "StatefulSet" if o["spec"].get("updateStrategy").is_none() => {
            o["spec"]["updateStrategy"] = json!({})
        }
        _ => {}
    }
    if kind != "Pod" && o["spec"].get("template").is_some() {
        if o["spec"]["template"].get("metadata").is_none() {
            o["spec"]["template"]["metadata"] = json!({});
        }
        if o["spec"]["template"]["metadata"]
            .get("creationTimestamp")
            .is_none()
        {
            o["spec"]["template"]["metadata"]["creationTimestamp"] = Value::Null;
        }
    }
    if let Some(spec) = common::pod_spec_mut(&mut o, &kind) {
        for list in CONTAINER_LISTS {
            for c in spec
                .get_mut(list)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if c.get("resources").is_none() {
                    c["resources"] = json!({});
                }
            }
        }
    }
    if o.get("status").is_none() && kind != "ConfigMap" && kind != "Secret" {
        o["status"] = json!({});
    }
    o
}

/// The container lists of a pod spec in upstream's visiting order.
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

async fn image(ctx: &mut Ctx, args: Vec<String>, c: SetCommon) -> Result<(), Error> {
    let cmd = "kubectl set image";
    let (resources, pairs) = split_pairs(&args, "image")?;
    let mut images: Vec<(String, String)> = Vec::new();
    for p in &pairs {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        if k.is_empty() || v.is_empty() {
            return Err(Error::msg(format!("invalid image format: {p}")));
        }
        images.retain(|(kk, _)| kk != k);
        images.push((k.to_string(), v.to_string()));
    }
    let (objs, mut errors, dry_run) = find_for_set(ctx, &resources, &c, cmd).await?;
    if let Some(e) = errors.pop() {
        return Err(e);
    }
    let mut errs = Vec::new();
    if images.is_empty() {
        errs.push(Error::msg("at least one image update is required"));
    } else if images.len() > 1 && images.iter().any(|(k, _)| k == "*") {
        errs.push(Error::msg("all containers are already specified by *, but saw more than one container_name=container_image pairs"));
    }
    common::aggregate(errs)?;
    for obj in objs {
        let kind = obj.object["kind"].as_str().unwrap_or_default().to_string();
        let mut modified = obj.object.clone();
        let Some(spec) = common::pod_spec_mut(&mut modified, &kind) else {
            errors.push(Error::Verbatim(format!(
                "error: {} the object is not a pod or does not have a pod template: *v1.{kind}",
                obj.object_name()
            )));
            continue;
        };
        let mut missing = Vec::new();
        for (name, img) in &images {
            let mut found = false;
            for list in CONTAINER_LISTS {
                for ctr in spec
                    .get_mut(list)
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    if name == "*" || ctr["name"].as_str() == Some(name) {
                        ctr["image"] = json!(img);
                        found = true;
                    }
                }
            }
            if !found {
                missing.push(format!("unable to find container named {name:?}"));
            }
        }
        if !missing.is_empty() {
            let msg = if missing.len() == 1 {
                missing.remove(0)
            } else {
                format!("[{}]", missing.join(", "))
            };
            errors.push(Error::msg(msg));
            continue;
        }
        if let Err(e) = finish(
            ctx,
            &c,
            dry_run,
            &obj,
            &modified,
            "image updated",
            "failed to patch image update to pod template: ",
        )
        .await
        {
            errors.push(e);
        }
    }
    common::aggregate(errors)
}

/// `set env`'s own flags.
struct EnvOpts {
    containers: String,
    env: Vec<String>,
    list: bool,
    overwrite: bool,
    prefix: Option<String>,
    from: Option<String>,
    keys: Vec<String>,
}

const ENV_NAME_MSG: &str = "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')";

/// Upstream's `IsEnvVarName`: `[-._a-zA-Z][-._a-zA-Z0-9]*`.
pub fn is_env_var_name(k: &str) -> bool {
    let mut chars = k.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || "-._".contains(c))
        && chars.all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
}

/// Variables to set (name, value) and names to remove.
type EnvChanges = (Vec<(String, String)>, Vec<String>);

/// Parses `K=V` and `K-` arguments.
fn parse_env(specs: &[String]) -> Result<EnvChanges, Error> {
    let mut set = Vec::new();
    let mut remove = Vec::new();
    for s in specs {
        if let Some((k, v)) = s.split_once('=') {
            if !is_env_var_name(k) {
                return Err(Error::msg(format!(
                    "{k:?} is not a valid key name: {ENV_NAME_MSG}"
                )));
            }
            set.push((k.to_string(), v.to_string()));
        } else if let Some(k) = s.strip_suffix('-') {
            remove.push(k.to_string());
        } else {
            return Err(Error::msg(format!("unknown environment variable: {s}")));
        }
    }
    Ok((set, remove))
}

/// A configmap or secret key as an environment variable name.
fn key_to_env_name(key: &str) -> String {
    key.to_uppercase().replace(['.', '-'], "_")
}

async fn set_env(ctx: &mut Ctx, args: Vec<String>, c: SetCommon, o: EnvOpts) -> Result<(), Error> {
    let cmd = "kubectl set env";
    if c.all && c.selector.is_some() {
        return Err(Error::msg(
            "cannot set --all and --selector at the same time",
        ));
    }
    let (resources, env_args) = split_pairs(&args, "environment")?;
    let dry_run = DryRun::parse(c.dry_run.as_deref())?;
    if c.local && dry_run == DryRun::Server {
        return Err(Error::msg(
            "cannot specify --local and --dry-run=server - did you mean --dry-run=client?",
        ));
    }
    if c.files.filename.is_empty() && resources.is_empty() {
        return Err(Error::msg(
            "one or more resources must be specified as <resource> <name> or <resource>/<name>",
        ));
    }
    if o.list && c.output.is_some() {
        return Err(Error::msg(
            "--list and --output may not be specified together",
        ));
    }
    if !o.keys.is_empty() && o.from.is_none() {
        return Err(Error::msg(
            "when specifying --keys, a configmap or secret must be provided with --from",
        ));
    }
    let mut specs = o.env.clone();
    specs.extend(env_args.iter().cloned());
    let (mut set, remove) = parse_env(&specs)?;
    let mut refs: Vec<(String, Value)> = Vec::new();
    if let Some(from) = &o.from {
        let from_args: Vec<String> = from.split_whitespace().map(String::from).collect();
        let q = Query {
            args: &from_args,
            files: &FileArgs::default(),
            selector: None,
            all: false,
            allow_empty: false,
            local: false,
            cmd,
        };
        let (found, mut errs) = common::find(ctx, &q).await?;
        if let Some(e) = errs.pop() {
            return Err(e);
        }
        for f in found {
            let (sel, kind) = match f.object["kind"].as_str() {
                Some("Secret") => ("secretKeyRef", "Secret"),
                Some("ConfigMap") => ("configMapKeyRef", "ConfigMap"),
                _ => return Err(Error::msg("unsupported resource specified in --from")),
            };
            let _ = kind;
            let mut keys: Vec<&String> = f.object["data"]
                .as_object()
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            keys.sort();
            for k in keys {
                if o.keys.is_empty() || o.keys.contains(k) {
                    let env_name = key_to_env_name(k);
                    if env_name != *k {
                        crate::eprint_line(&format!("Warning: key {k} transferred to {env_name}"));
                    }
                    refs.push((key_to_env_name(k), json!({sel: {"name": f.name, "key": k}})));
                }
            }
        }
    }
    if let Some(p) = &o.prefix {
        for (k, _) in &mut set {
            *k = format!("{p}{k}");
        }
        for (k, _) in &mut refs {
            *k = format!("{p}{k}");
        }
    }
    let (objs, mut errors, dry_run) = find_for_set(ctx, &resources, &c, cmd).await?;
    let mut out = String::new();
    for obj in objs {
        let kind = obj.object["kind"].as_str().unwrap_or_default().to_string();
        let mut modified = obj.object.clone();
        let Some(spec) = common::pod_spec_mut(&mut modified, &kind) else {
            errors.push(Error::Verbatim(format!(
                "error: {} the object is not a pod or does not have a pod template: *v1.{kind}\n",
                obj.object_name()
            )));
            continue;
        };
        let mut matched = 0;
        let mut failure = None;
        for list in ["containers", "initContainers"] {
            for ctr in spec
                .get_mut(list)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let cname = ctr["name"].as_str().unwrap_or_default().to_string();
                if !glob_match(&o.containers, &cname) {
                    continue;
                }
                matched += 1;
                let mut env: Vec<Value> = ctr["env"].as_array().cloned().unwrap_or_default();
                if !o.overwrite {
                    let names = set
                        .iter()
                        .map(|(k, _)| k)
                        .chain(refs.iter().map(|(k, _)| k));
                    for k in names {
                        if env.iter().any(|e| e["name"].as_str() == Some(k)) {
                            failure = Some(format!(
                                "'{k}' already has a value ({}), and --overwrite is false",
                                env.iter()
                                    .find(|e| e["name"].as_str() == Some(k))
                                    .and_then(|e| e["value"].as_str())
                                    .unwrap_or_default()
                            ));
                        }
                    }
                }
                for (k, v) in &set {
                    upsert(&mut env, k, json!({"name": k, "value": v}));
                }
                for (k, src) in &refs {
                    upsert(&mut env, k, json!({"name": k, "valueFrom": src}));
                }
                env.retain(|e| !remove.iter().any(|r| e["name"].as_str() == Some(r)));
                if o.list {
                    out.push_str(&format!("# {kind} {}, container {cname}\n", obj.name));
                    for e in &env {
                        if e.get("valueFrom").is_none() {
                            out.push_str(&format!(
                                "{}={}\n",
                                e["name"].as_str().unwrap_or_default(),
                                e["value"].as_str().unwrap_or_default()
                            ));
                        } else {
                            out.push_str(&format!(
                                "# {} from {}\n",
                                e["name"].as_str().unwrap_or_default(),
                                env_ref_string(&e["valueFrom"])
                            ));
                        }
                    }
                }
                if env.is_empty() {
                    if let Some(m) = ctr.as_object_mut() {
                        m.remove("env");
                    }
                } else {
                    ctr["env"] = Value::Array(env);
                }
            }
        }
        if matched == 0 {
            crate::eprint_line(&format!(
                "Warning: {kind}/{} does not have any containers matching {:?}",
                obj.name, o.containers
            ));
        }
        if let Some(f) = failure {
            errors.push(Error::Verbatim(format!(
                "error: {} {f}\n",
                obj.object_name()
            )));
            continue;
        }
        if o.list {
            continue;
        }
        let patch = common::merge_diff(&obj.object, &modified);
        if common::is_empty_patch(&patch) {
            continue;
        }
        if !c.local
            && dry_run != DryRun::Client
            && set.is_empty()
            && env_args.is_empty()
            && refs.is_empty()
        {
            return Err(Error::msg(
                "at least one environment variable must be provided",
            ));
        }
        if let Err(e) = finish(
            ctx,
            &c,
            dry_run,
            &obj,
            &modified,
            "env updated",
            "failed to patch env update to pod template: ",
        )
        .await
        {
            errors.push(e);
        }
    }
    crate::print(&out);
    common::aggregate(errors)
}

/// Replaces the variable named `k` in place, or appends it.
fn upsert(env: &mut Vec<Value>, k: &str, v: Value) {
    match env.iter_mut().find(|e| e["name"].as_str() == Some(k)) {
        Some(e) => *e = v,
        None => env.push(v),
    }
}

/// How `--list` shows a `valueFrom` reference.
fn env_ref_string(from: &Value) -> String {
    if let Some(r) = from.get("configMapKeyRef") {
        return format!(
            "configmap {}, key {}",
            r["name"].as_str().unwrap_or_default(),
            r["key"].as_str().unwrap_or_default()
        );
    }
    if let Some(r) = from.get("secretKeyRef") {
        return format!(
            "secret {}, key {}",
            r["name"].as_str().unwrap_or_default(),
            r["key"].as_str().unwrap_or_default()
        );
    }
    if let Some(r) = from.get("fieldRef") {
        return format!("field path {}", r["fieldPath"].as_str().unwrap_or_default());
    }
    if let Some(r) = from.get("resourceFieldRef") {
        let ctr = r["containerName"].as_str().unwrap_or_default();
        let res = r["resource"].as_str().unwrap_or_default();
        return if ctr.is_empty() {
            format!("resource field {res}")
        } else {
            format!("resource field {res} of {ctr}")
        };
    }
    "invalid valueFrom".to_string()
}

/// Parses `cpu=100m,memory=64Mi` into canonical quantities.
fn parse_resource_list(spec: &str) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    if spec.is_empty() {
        return Ok(out);
    }
    for stmt in spec.split(',') {
        let parts: Vec<&str> = stmt.split('=').collect();
        if parts.len() != 2 {
            return Err(Error::msg(format!(
                "Invalid argument syntax {stmt}, expected <resource>=<value>"
            )));
        }
        let q = apimachinery::quantity::Quantity::parse(parts[1]).map_err(|_| {
            Error::msg("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
        })?;
        out.push((parts[0].to_string(), q.canonical()));
    }
    Ok(out)
}

async fn resources(
    ctx: &mut Ctx,
    args: Vec<String>,
    c: SetCommon,
    containers: &str,
    limits: &str,
    requests: &str,
) -> Result<(), Error> {
    let cmd = "kubectl set resources";
    if args.is_empty() && c.files.filename.is_empty() {
        return Err(Error::msg(common::NO_RESOURCES));
    }
    let dry_run = DryRun::parse(c.dry_run.as_deref())?;
    if c.local && dry_run == DryRun::Server {
        return Err(Error::msg(
            "cannot specify --local and --dry-run=server - did you mean --dry-run=client?",
        ));
    }
    if c.all && c.selector.is_some() {
        return Err(Error::msg(
            "cannot set --all and --selector at the same time",
        ));
    }
    if limits.is_empty() && requests.is_empty() {
        return Err(Error::msg(
            "you must specify an update to requests or limits (in the form of --requests/--limits)",
        ));
    }
    let lim = parse_resource_list(limits)?;
    let req = parse_resource_list(requests)?;
    let (objs, mut errors, dry_run) = find_for_set(ctx, &args, &c, cmd).await?;
    for obj in objs {
        let kind = obj.object["kind"].as_str().unwrap_or_default().to_string();
        let mut modified = obj.object.clone();
        let Some(spec) = common::pod_spec_mut(&mut modified, &kind) else {
            errors.push(Error::Verbatim(format!(
                "error: {} the object is not a pod or does not have a pod template: *v1.{kind}",
                obj.object_name()
            )));
            continue;
        };
        let mut matched = 0;
        for list in ["initContainers", "containers"] {
            for ctr in spec
                .get_mut(list)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if !glob_match(containers, ctr["name"].as_str().unwrap_or_default()) {
                    continue;
                }
                matched += 1;
                if !ctr["resources"].is_object() {
                    ctr["resources"] = json!({});
                }
                for (field, vals) in [("limits", &lim), ("requests", &req)] {
                    if vals.is_empty() {
                        continue;
                    }
                    if !ctr["resources"][field].is_object() {
                        ctr["resources"][field] = json!({});
                    }
                    for (k, v) in vals {
                        ctr["resources"][field][k] = json!(v);
                    }
                }
            }
        }
        if matched == 0 {
            errors.push(Error::msg(format!(
                "unable to find container named {containers}"
            )));
            continue;
        }
        if let Err(e) = finish(
            ctx,
            &c,
            dry_run,
            &obj,
            &modified,
            "resource requirements updated",
            "failed to patch resources update to pod template ",
        )
        .await
        {
            errors.push(e);
        }
    }
    common::aggregate(errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_after_resources() {
        let args: Vec<String> = ["deploy", "x", "a=b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (r, p) = split_pairs(&args, "image").unwrap();
        assert_eq!(r, vec!["deploy", "x"]);
        assert_eq!(p, vec!["a=b"]);
        let bad: Vec<String> = ["a=b", "deploy"].iter().map(|s| s.to_string()).collect();
        assert!(split_pairs(&bad, "image").is_err());
    }

    #[test]
    fn env_specs() {
        let (s, r) = parse_env(&["A=1".into(), "B-".into()]).unwrap();
        assert_eq!(s, vec![("A".to_string(), "1".to_string())]);
        assert_eq!(r, vec!["B".to_string()]);
        assert!(parse_env(&["1A=x".into()]).is_err());
        assert!(is_env_var_name("my.env-name"));
        assert!(parse_env(&["X".into()]).is_err());
    }

    #[test]
    fn globs_and_keys() {
        assert!(glob_match("*", "nginx"));
        assert!(glob_match("ng*", "nginx"));
        assert!(!glob_match("web", "nginx"));
        assert_eq!(key_to_env_name("my.key-a"), "MY_KEY_A");
    }

    #[test]
    fn resource_lists() {
        let l = parse_resource_list("cpu=100m,memory=64Mi").unwrap();
        assert_eq!(l[0], ("cpu".to_string(), "100m".to_string()));
        assert!(parse_resource_list("cpu").is_err());
    }
}
