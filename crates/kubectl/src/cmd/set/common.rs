//! What `set`, `rollout`, `expose`, `autoscale`, `wait`, `edit`,
//! `replace` and `diff` share: finding objects as kubectl's resource
//! builder does, the `--dry-run` flag, pod templates inside workloads,
//! merge patches between two versions of an object, and the name printer.

use http::Method;
use serde_json::{json, Map, Value};

use crate::cli::FileArgs;
use crate::client::{q, Client};
use crate::cmd::apply::locate;
use crate::discovery::Resource;
use crate::error::Error;
use crate::manifest;
use crate::output::{self, Format};
use crate::{print, Ctx};

/// One object found by arguments, selector or file.
#[derive(Debug, Clone)]
pub struct Obj {
    pub resource: Resource,
    pub namespace: Option<String>,
    pub name: String,
    /// The live object (or the file's, for `--local`).
    pub object: Value,
    /// Whether this came from a file with `--local` (no server mapping).
    pub local: bool,
}

impl Obj {
    /// The object's URL.
    pub fn path(&self) -> String {
        self.resource
            .item_path(self.namespace.as_deref(), &self.name)
    }

    /// `deployments/x` (or `deployment.apps/x` for a `--local` object):
    /// the builder's `ObjectName`.
    pub fn object_name(&self) -> String {
        if self.local {
            format!("{}/{}", kind_group_of(&self.object), self.name)
        } else {
            format!("{}/{}", self.resource.plural, self.name)
        }
    }
}

/// How to find objects: positional `TYPE NAME` / `TYPE/NAME` arguments, `-f`
/// files, `-l` and `--all`.
pub struct Query<'a> {
    pub args: &'a [String],
    pub files: &'a FileArgs,
    pub selector: Option<&'a str>,
    pub all: bool,
    /// A bare type with neither names nor selector lists everything
    /// (upstream's `ResourceTypeOrNameArgs(true, ...)`).
    pub allow_empty: bool,
    /// `--local`: the file's objects, no server.
    pub local: bool,
    /// The command path for usage errors.
    pub cmd: &'a str,
}

/// The upstream builder's message for no resources at all.
pub const NO_RESOURCES: &str = "You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'";

/// Finds the objects `query` names. Errors for single objects (NotFound)
/// are collected into the second vector so callers can go on with the rest,
/// as the builder's `ContinueOnError` does.
pub async fn find(ctx: &mut Ctx, query: &Query<'_>) -> Result<(Vec<Obj>, Vec<Error>), Error> {
    let mut objs = Vec::new();
    let mut errs = Vec::new();
    for r in find_ordered(ctx, query).await? {
        match r {
            Ok(o) => objs.push(o),
            Err(e) => errs.push(e),
        }
    }
    Ok((objs, errs))
}

/// Like [`find`], objects and per-object errors in visiting order.
pub async fn find_ordered(
    ctx: &mut Ctx,
    query: &Query<'_>,
) -> Result<Vec<Result<Obj, Error>>, Error> {
    let client = ctx.client().await?;
    let ns = client.namespace.clone();
    let mut out = Vec::new();
    if !query.files.filename.is_empty() {
        let ns_flag = ctx.global.namespace.clone();
        let manifests = manifest::read_all(&query.files.filename, query.files.recursive)?;
        let disco = ctx.discovery_for(&manifests).await?;
        for m in manifests {
            let loc = locate(&disco, &m, &ns, ns_flag.as_deref())?;
            if query.local {
                out.push(Ok(Obj {
                    resource: loc.resource,
                    namespace: loc.namespace,
                    name: loc.name,
                    object: m.object.clone(),
                    local: true,
                }));
                continue;
            }
            let path = loc.resource.item_path(loc.namespace.as_deref(), &loc.name);
            match client.get(&path).await {
                Ok(object) => out.push(Ok(Obj {
                    resource: loc.resource,
                    namespace: loc.namespace,
                    name: loc.name,
                    object,
                    local: false,
                })),
                Err(e) => out.push(Err(e)),
            }
        }
        return Ok(out);
    }
    if query.args.is_empty() {
        return Err(Error::msg(NO_RESOURCES));
    }
    let targets = ctx.targets(query.args, query.cmd).await?;
    let by_name = targets.iter().any(|t| t.name.is_some());
    if by_name && (query.selector.is_some() || query.all) {
        return Err(Error::msg(
            "name cannot be provided when a selector is specified",
        ));
    }
    for t in targets {
        let nsopt = t.resource.namespaced.then(|| ns.clone());
        match t.name {
            Some(name) => {
                let path = t.resource.item_path(nsopt.as_deref(), &name);
                match client.get(&path).await {
                    Ok(object) => out.push(Ok(Obj {
                        resource: t.resource,
                        namespace: nsopt,
                        name,
                        object,
                        local: false,
                    })),
                    Err(e) => out.push(Err(e)),
                }
            }
            None => {
                if query.selector.is_none() && !query.all && !query.allow_empty {
                    return Err(Error::msg(
                        "resource(s) were provided, but no name was specified",
                    ));
                }
                for object in list(&client, &t.resource, nsopt.as_deref(), query.selector).await? {
                    out.push(Ok(Obj {
                        resource: t.resource.clone(),
                        namespace: object["metadata"]["namespace"].as_str().map(String::from),
                        name: object["metadata"]["name"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        object,
                        local: false,
                    }));
                }
            }
        }
    }
    Ok(out)
}

/// Lists `r` in `ns`, items with their kind and apiVersion filled in.
pub async fn list(
    client: &Client,
    r: &Resource,
    ns: Option<&str>,
    selector: Option<&str>,
) -> Result<Vec<Value>, Error> {
    let mut path = r.collection_path(ns);
    if let Some(l) = selector {
        path.push_str(&format!("?labelSelector={}", q(l)));
    }
    let mut v = client.get(&path).await?;
    let mut items = v["items"]
        .as_array_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    for item in &mut items {
        item["kind"] = json!(r.kind);
        item["apiVersion"] = json!(r.api_version());
    }
    Ok(items)
}

/// `--dry-run`'s three strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRun {
    None,
    Client,
    Server,
}

impl DryRun {
    /// Parses the flag's value as upstream's `GetDryRunStrategy` does.
    pub fn parse(s: Option<&str>) -> Result<DryRun, Error> {
        match s.unwrap_or("none") {
            "none" => Ok(DryRun::None),
            "client" => Ok(DryRun::Client),
            "server" => Ok(DryRun::Server),
            // A bare `--dry-run` still means client, with klog's warning.
            "unchanged" => {
                crate::eprint_line(&format!(
                    "{} helpers.go:703] --dry-run is deprecated and can be replaced with --dry-run=client.",
                    klog_header('W')
                ));
                Ok(DryRun::Client)
            }
            other => Err(Error::msg(format!(
                "Invalid dry-run value ({other}). Must be \"none\", \"server\", or \"client\"."
            ))),
        }
    }

    /// What the name printer appends.
    pub fn suffix(self) -> &'static str {
        match self {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        }
    }

    /// The query string for a write.
    pub fn query(self) -> &'static str {
        if self == DryRun::Server {
            "?dryRun=All"
        } else {
            ""
        }
    }
}

/// klog's line header: severity, `MMDD hh:mm:ss.uuuuuu`, the pid.
fn klog_header(severity: char) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    format!(
        "{severity}{month:02}{day:02} {:02}:{:02}:{:02}.{:06} {:>7}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_micros(),
        std::process::id()
    )
}

/// Parses `-o`, `None` when unset.
pub fn parse_format(o: Option<&str>) -> Result<Option<Format>, Error> {
    o.filter(|s| !s.is_empty())
        .map(|s| Format::parse(Some(s)))
        .transpose()
}

/// Prints `obj` in `format`, or `<kind>/<name> <operation>` as the name
/// printer does.
pub fn report(
    format: Option<&Format>,
    obj: &Value,
    kind_group: &str,
    name: &str,
    operation: &str,
) -> Result<(), Error> {
    let mut out = String::new();
    match format {
        Some(f) if !f.is_table() => {
            let mut obj = obj.clone();
            if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("managedFields");
            }
            output::print_object(f, &obj, &mut out)?
        }
        _ => out = format!("{kind_group}/{name} {operation}\n"),
    }
    print(&out);
    Ok(())
}

/// Like [`report`] for an object kubectl built itself (client dry runs of
/// generators): JSON keeps the Go struct order the object was built in.
pub fn report_typed(
    format: Option<&Format>,
    obj: &Value,
    kind_group: &str,
    name: &str,
    operation: &str,
) -> Result<(), Error> {
    if format == Some(&Format::Json) {
        let mut out = output::json::to_string_pretty_unsorted(obj);
        out.push('\n');
        print(&out);
        return Ok(());
    }
    report(format, obj, kind_group, name, operation)
}

/// `kind_group` as the name printer derives it from an object (`deployment.apps`).
pub fn kind_group_of(obj: &Value) -> String {
    let kind = obj["kind"].as_str().unwrap_or_default().to_lowercase();
    let group = output::group_of(obj["apiVersion"].as_str().unwrap_or_default());
    if group.is_empty() {
        kind
    } else {
        format!("{kind}.{group}")
    }
}

/// The JSON path (as keys) of the pod spec inside a workload of `kind`.
pub fn pod_spec_path(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Pod" => &["spec"],
        "ReplicationController"
        | "Deployment"
        | "DaemonSet"
        | "ReplicaSet"
        | "StatefulSet"
        | "Job" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return None,
    })
}

/// The pod spec of a workload, created empty if missing.
pub fn pod_spec_mut<'a>(obj: &'a mut Value, kind: &str) -> Option<&'a mut Map<String, Value>> {
    let path = pod_spec_path(kind)?;
    let mut cur = obj;
    for k in path {
        if !cur.get(*k).is_some_and(Value::is_object) {
            cur[*k] = json!({});
        }
        cur = cur.get_mut(*k)?;
    }
    cur.as_object_mut()
}

/// The JSON merge patch turning `from` into `to` (lists replaced whole).
pub fn merge_diff(from: &Value, to: &Value) -> Value {
    let (Some(f), Some(t)) = (from.as_object(), to.as_object()) else {
        return to.clone();
    };
    let mut patch = Map::new();
    for (k, tv) in t {
        match f.get(k) {
            Some(fv) if fv == tv => {}
            Some(fv) if fv.is_object() && tv.is_object() => {
                patch.insert(k.clone(), merge_diff(fv, tv));
            }
            _ => {
                patch.insert(k.clone(), tv.clone());
            }
        }
    }
    for k in f.keys() {
        if !t.contains_key(k) {
            patch.insert(k.clone(), Value::Null);
        }
    }
    Value::Object(patch)
}

/// Whether a patch changes nothing.
pub fn is_empty_patch(p: &Value) -> bool {
    p.as_object().is_some_and(Map::is_empty)
}

/// Sends a merge patch to `obj` and returns the result.
pub async fn merge_patch(
    client: &Client,
    obj: &Obj,
    patch: &Value,
    dry_run: DryRun,
) -> Result<Value, Error> {
    client
        .call(
            Method::PATCH,
            &format!("{}{}", obj.path(), dry_run.query()),
            Some("application/json"),
            Some("application/merge-patch+json"),
            Some(serde_json::to_vec(patch).unwrap_or_default()),
        )
        .await
}

/// The error `cmdutil.CheckErr` reports for an aggregate: one error as
/// itself, several as one line each (server errors in full, others bare).
pub fn aggregate(mut errors: Vec<Error>) -> Result<(), Error> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.pop().expect("one")),
        _ => {
            let lines: Vec<String> = errors
                .iter()
                .map(|e| match e {
                    Error::Api(_) => e.to_string(),
                    other => bare_message(other),
                })
                .collect();
            Err(Error::Verbatim(lines.join("\n")))
        }
    }
}

/// pflag's complaint about a flag value, with cobra's usage hint.
pub fn flag_error(cmd: &str, flag: &str, value: &str, why: &str) -> Error {
    Error::Verbatim(format!(
        "error: invalid argument {value:?} for \"--{flag}\" flag: {why}\nSee '{cmd} --help' for usage."
    ))
}

/// What Go's `err.Error()` says for an error wrapped into another
/// message: a server Status is just its message.
pub fn inner_message(e: &Error) -> String {
    match e {
        Error::Api(s) => s["message"].as_str().unwrap_or_default().to_string(),
        other => bare_message(other),
    }
}

/// An error's text without the `error: ` prefix kubectl adds when printing.
pub fn bare_message(e: &Error) -> String {
    match e {
        Error::Msg(m) | Error::Verbatim(m) => m.clone(),
        other => {
            let s = other.to_string();
            s.strip_prefix("error: ").map(String::from).unwrap_or(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_diff_sets_and_removes() {
        let a = json!({"a": 1, "b": {"c": 2, "d": 3}, "l": [1]});
        let b = json!({"a": 1, "b": {"c": 5}, "l": [1, 2]});
        assert_eq!(
            merge_diff(&a, &b),
            json!({"b": {"c": 5, "d": null}, "l": [1, 2]})
        );
        assert!(is_empty_patch(&merge_diff(&a, &a)));
    }

    #[test]
    fn dry_run_values() {
        assert_eq!(DryRun::parse(None).unwrap(), DryRun::None);
        assert_eq!(DryRun::parse(Some("server")).unwrap(), DryRun::Server);
        assert_eq!(
            DryRun::parse(Some("x")).unwrap_err().to_string(),
            "error: Invalid dry-run value (x). Must be \"none\", \"server\", or \"client\"."
        );
    }

    #[test]
    fn pod_specs() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": []}}}});
        assert!(pod_spec_mut(&mut d, "Deployment")
            .unwrap()
            .contains_key("containers"));
        assert!(pod_spec_mut(&mut d, "Service").is_none());
    }
}
