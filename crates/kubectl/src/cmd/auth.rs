//! `kubectl auth can-i` (SelfSubjectAccessReview / SelfSubjectRulesReview)
//! and `kubectl auth whoami` (SelfSubjectReview).

use clap::{Args, Subcommand};
use http::Method;
use serde_json::{json, Value};

use crate::discovery::Discovery;
use crate::output::{self, Format};
use crate::{print, Ctx, Error};

/// `kubectl auth`.
#[derive(Args, Debug)]
pub struct AuthArgs {
    #[command(subcommand)]
    pub cmd: Option<AuthCmd>,
}

/// `kubectl auth <subcommand>`.
#[derive(Subcommand, Debug)]
pub enum AuthCmd {
    /// Check whether an action is allowed.
    #[command(name = "can-i")]
    CanI(CanIArgs),
    /// Experimental: Check self subject attributes.
    Whoami {
        #[arg(short = 'o', long)]
        output: Option<String>,
    },
}

/// `kubectl auth can-i`.
#[derive(Args, Debug)]
pub struct CanIArgs {
    pub args: Vec<String>,
    #[arg(short = 'A', long = "all-namespaces", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub all_namespaces: bool,
    #[arg(short = 'q', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub quiet: bool,
    #[arg(long)]
    pub subresource: Option<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub list: bool,
    #[arg(long = "no-headers", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub no_headers: bool,
}

const RESOURCE_VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "use",
    "bind",
    "impersonate",
    "*",
    "approve",
    "sign",
    "escalate",
    "attest",
];
const NON_RESOURCE_VERBS: &[&str] = &[
    "get", "put", "post", "head", "options", "delete", "patch", "*",
];

const AUTH_HELP: &str = "Inspect authorization.\n\nAvailable Commands:\n  can-i         Check whether an action is allowed\n  reconcile     Reconciles rules for RBAC role, role binding, cluster role, and cluster role binding objects\n  whoami        Experimental: Check self subject attributes\n\nUsage:\n  kubectl auth [flags] [options]\n\nUse \"kubectl auth <command> --help\" for more information about a given command.\nUse \"kubectl options\" for a list of global command-line options (applies to all commands).";

/// kubectl's warning printer: `Warning: ` and the message, then a newline
/// (even when the message already ends with one, as several do).
fn warn(msg: &str) {
    let mut e = std::io::stderr().lock();
    let _ = std::io::Write::write_all(&mut e, format!("Warning: {msg}\n").as_bytes());
}

/// kubectl's `GetNewTabWriter` (minimum width 6, padding 3).
fn tabwrite(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate().take(r.len().saturating_sub(1)) {
            widths[i] = widths[i].max((c.chars().count() + 3).max(6));
        }
    }
    let mut out = String::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 < r.len() {
                out.push_str(&format!("{c:<w$}", w = widths[i]));
            } else {
                out.push_str(c);
            }
        }
        out.push('\n');
    }
    out
}

/// Runs `kubectl auth`.
pub async fn run(ctx: &mut Ctx, a: AuthArgs) -> Result<(), Error> {
    match a.cmd {
        None => {
            crate::eprint_line(AUTH_HELP);
            Ok(())
        }
        Some(AuthCmd::CanI(c)) => can_i(ctx, c).await,
        Some(AuthCmd::Whoami { output }) => whoami(ctx, output).await,
    }
}

/// A resolved `TYPE` argument: group and resource (empty group for `*`
/// and for names the server does not know).
#[derive(Debug, Default, Clone, PartialEq)]
struct Gr {
    group: String,
    version: String,
    resource: String,
}

fn resource_for(disco: &Discovery, arg: &str) -> Gr {
    if arg == "*" {
        return Gr {
            resource: "*".into(),
            ..Gr::default()
        };
    }
    let lower = arg.to_lowercase();
    if let Ok(r) = disco.resolve(&lower) {
        return Gr {
            group: r.group.clone(),
            version: r.version.clone(),
            resource: r.plural.clone(),
        };
    }
    let (res, group) = match lower.split_once('.') {
        Some((r, g)) => (r.to_string(), g.to_string()),
        None => (lower.clone(), String::new()),
    };
    let gr = if group.is_empty() {
        res.clone()
    } else {
        format!("{res}.{group}")
    };
    if gr != "users" && gr != "groups" {
        if group.is_empty() {
            warn(&format!(
                "the server doesn't have a resource type '{res}'\n"
            ));
        } else {
            warn(&format!(
                "the server doesn't have a resource type '{res}' in group '{group}'\n"
            ));
        }
    }
    Gr {
        resource: arg.to_string(),
        ..Gr::default()
    }
}

async fn can_i(ctx: &mut Ctx, a: CanIArgs) -> Result<(), Error> {
    let mut verb = String::new();
    let mut url = String::new();
    let mut gr = Gr::default();
    let mut name = String::new();
    if a.list {
        if !a.args.is_empty() {
            return Err(Error::msg(
                "list option must be specified with no arguments",
            ));
        }
    } else if a.args.len() == 2 {
        verb = a.args[0].clone();
        if a.args[1].starts_with('/') {
            url = a.args[1].clone();
        } else {
            let (t, n) = match a.args[1].split_once('/') {
                Some((t, n)) => (t.to_string(), n.to_string()),
                None => (a.args[1].clone(), String::new()),
            };
            gr = resource_for(ctx.discovery().await?, &t);
            name = n;
        }
    } else {
        return Err(Error::msg("you must specify two arguments: verb resource or verb resource/resourceName.\nSee 'kubectl auth can-i -h' for help and examples."));
    }
    let client = ctx.client().await?;
    let namespace = if a.all_namespaces {
        String::new()
    } else {
        client.namespace.clone()
    };
    let subresource = a.subresource.clone().unwrap_or_default();
    // Validate.
    if a.list {
        if a.quiet || a.all_namespaces || !subresource.is_empty() {
            return Err(Error::msg("list option can't be specified with neither quiet, all-namespaces nor subresource options"));
        }
    } else {
        if !url.is_empty() {
            if !subresource.is_empty() {
                return Err(Error::msg(
                    "--subresource can not be used with NonResourceURL",
                ));
            }
            if !NON_RESOURCE_VERBS.contains(&verb.as_str()) {
                warn(&format!("verb '{verb}' is not a known verb\n"));
            }
        } else if !gr.resource.is_empty() && !a.all_namespaces {
            if let Some(false) = namespaced(ctx.discovery().await?, &gr) {
                if gr.group.is_empty() {
                    warn(&format!(
                        "resource '{}' is not namespace scoped\n",
                        gr.resource
                    ));
                } else {
                    warn(&format!(
                        "resource '{}' is not namespace scoped in group '{}'\n",
                        gr.resource, gr.group
                    ));
                }
            }
            if !RESOURCE_VERBS.contains(&verb.as_str()) {
                warn(&format!("verb '{verb}' is not a known verb\n"));
            }
        }
        if a.no_headers {
            return Err(Error::msg(
                "--no-headers cannot be set without --list specified",
            ));
        }
    }
    if a.list {
        let body = json!({"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {}, "spec": {"namespace": namespace}});
        let res = post(
            ctx,
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            &body,
        )
        .await?;
        let status = &res["status"];
        if status["incomplete"] == true {
            warn(&format!(
                "the list may be incomplete: {}",
                status["evaluationError"].as_str().unwrap_or_default()
            ));
        }
        print(&access_list(status, a.no_headers));
        return Ok(());
    }
    let spec = if url.is_empty() {
        let mut ra = serde_json::Map::new();
        let mut put = |k: &str, v: &str| {
            if !v.is_empty() {
                ra.insert(k.into(), json!(v));
            }
        };
        put("namespace", &namespace);
        put("verb", &verb);
        put("group", &gr.group);
        put("resource", &gr.resource);
        put("subresource", &subresource);
        put("name", &name);
        json!({"resourceAttributes": ra})
    } else {
        json!({"nonResourceAttributes": {"path": url, "verb": verb}})
    };
    let body = json!({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
        "metadata": {}, "spec": spec});
    let res = post(
        ctx,
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        &body,
    )
    .await?;
    let status = &res["status"];
    let allowed = status["allowed"] == true;
    if !a.quiet {
        if allowed {
            print("yes\n");
        } else {
            let mut s = "no".to_string();
            for k in ["reason", "evaluationError"] {
                if let Some(v) = status[k].as_str().filter(|v| !v.is_empty()) {
                    s.push_str(&format!(" - {v}"));
                }
            }
            print(&format!("{s}\n"));
        }
    }
    if !allowed {
        // Upstream exits 1 without an error message.
        std::process::exit(1);
    }
    Ok(())
}

/// Whether the resource is namespaced, when discovery knows it.
fn namespaced(disco: &Discovery, gr: &Gr) -> Option<bool> {
    if gr.resource == "*" {
        return Some(true);
    }
    disco
        .resolve(&if gr.group.is_empty() {
            gr.resource.clone()
        } else {
            format!("{}.{}", gr.resource, gr.group)
        })
        .ok()
        .map(|r| r.namespaced)
}

async fn post(ctx: &mut Ctx, path: &str, body: &Value) -> Result<Value, Error> {
    ctx.client()
        .await?
        .call(
            Method::POST,
            path,
            Some("application/json"),
            Some("application/json"),
            Some(serde_json::to_vec(body).unwrap_or_default()),
        )
        .await
}

/// One policy rule, as kubectl's rbac helpers see it.
#[derive(Debug, Clone, PartialEq, Default)]
struct Rule {
    verbs: Vec<String>,
    groups: Vec<String>,
    resources: Vec<String>,
    names: Vec<String>,
    urls: Vec<String>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Go's `%v` of a `[]string`.
fn go_list(v: &[String]) -> String {
    format!("[{}]", v.join(" "))
}

impl Rule {
    /// The generated protobuf `String()`, which upstream sorts rules by.
    fn sort_key(&self) -> String {
        format!(
            "&PolicyRule{{Verbs:{},APIGroups:{},Resources:{},ResourceNames:{},NonResourceURLs:{},}}",
            go_list(&self.verbs),
            go_list(&self.groups),
            go_list(&self.resources),
            go_list(&self.names),
            go_list(&self.urls)
        )
    }
}

/// `rbacutil.BreakdownRule`: one rule per group, resource and name (and
/// per non-resource URL).
fn breakdown(r: &Rule) -> Vec<Rule> {
    let mut out = Vec::new();
    for g in &r.groups {
        for res in &r.resources {
            if r.names.is_empty() {
                out.push(Rule {
                    verbs: r.verbs.clone(),
                    groups: vec![g.clone()],
                    resources: vec![res.clone()],
                    ..Rule::default()
                });
            }
            for n in &r.names {
                out.push(Rule {
                    verbs: r.verbs.clone(),
                    groups: vec![g.clone()],
                    resources: vec![res.clone()],
                    names: vec![n.clone()],
                    ..Rule::default()
                });
            }
        }
    }
    for u in &r.urls {
        out.push(Rule {
            verbs: r.verbs.clone(),
            urls: vec![u.clone()],
            ..Rule::default()
        });
    }
    out
}

/// `rbacutil.CompactRules`: simple resource rules for the same group,
/// resource and names merge their verbs.
fn compact(rules: Vec<Rule>) -> Vec<Rule> {
    let mut out: Vec<Rule> = Vec::new();
    for r in rules {
        let simple = r.groups.len() == 1 && r.resources.len() == 1 && r.urls.is_empty();
        if simple {
            if let Some(existing) = out.iter_mut().find(|e| {
                e.groups == r.groups
                    && e.resources == r.resources
                    && e.names == r.names
                    && e.urls.is_empty()
            }) {
                for v in r.verbs {
                    if !existing.verbs.contains(&v) {
                        existing.verbs.push(v);
                    }
                }
                continue;
            }
        }
        out.push(r);
    }
    out
}

/// `describe.CombineResourceGroup`.
fn combine_resource_group(resources: &[String], groups: &[String]) -> String {
    let Some(first) = resources.first() else {
        return String::new();
    };
    let (res, sub) = match first.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (first.as_str(), None),
    };
    let mut s = res.to_string();
    if let Some(g) = groups.first().filter(|g| !g.is_empty()) {
        s = format!("{s}.{g}");
    }
    if let Some(sub) = sub {
        s = format!("{s}/{sub}");
    }
    s
}

/// The `--list` table of a SelfSubjectRulesReview status.
fn access_list(status: &Value, no_headers: bool) -> String {
    let mut rules = Vec::new();
    for r in status["resourceRules"].as_array().into_iter().flatten() {
        rules.push(Rule {
            verbs: strings(&r["verbs"]),
            groups: strings(&r["apiGroups"]),
            resources: strings(&r["resources"]),
            names: strings(&r["resourceNames"]),
            urls: Vec::new(),
        });
    }
    for r in status["nonResourceRules"].as_array().into_iter().flatten() {
        rules.push(Rule {
            verbs: strings(&r["verbs"]),
            urls: strings(&r["nonResourceURLs"]),
            ..Rule::default()
        });
    }
    let mut broken: Vec<Rule> = rules.iter().flat_map(breakdown).collect();
    broken = compact(broken);
    broken.sort_by_key(Rule::sort_key);
    let mut rows = Vec::new();
    if !no_headers {
        rows.push(
            ["Resources", "Non-Resource URLs", "Resource Names", "Verbs"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        );
    }
    for r in &broken {
        rows.push(vec![
            combine_resource_group(&r.resources, &r.groups),
            go_list(&r.urls),
            go_list(&r.names),
            go_list(&r.verbs),
        ]);
    }
    tabwrite(&rows)
}

async fn whoami(ctx: &mut Ctx, output: Option<String>) -> Result<(), Error> {
    let format = output
        .as_deref()
        .map(|o| Format::parse(Some(o)))
        .transpose()?;
    let body = json!({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1", "metadata": {}, "status": {}});
    let mut res = Err(Error::msg(""));
    for v in ["v1", "v1beta1", "v1alpha1"] {
        let mut b = body.clone();
        b["apiVersion"] = json!(format!("authentication.k8s.io/{v}"));
        res = post(
            ctx,
            &format!("/apis/authentication.k8s.io/{v}/selfsubjectreviews"),
            &b,
        )
        .await;
        match &res {
            Err(e) if e.is_not_found() => continue,
            _ => break,
        }
    }
    let review = match res {
        Ok(r) => r,
        Err(e) if e.reason() == Some("Forbidden") => {
            return Err(Error::msg("the selfsubjectreviews API is not enabled in the cluster or you do not have permission to call it"))
        }
        Err(e) if e.is_not_found() => {
            return Err(Error::msg("the selfsubjectreviews API is not enabled in the cluster"))
        }
        Err(e) => return Err(e),
    };
    // Printed as the typed object: Go field order, and `<unknown>` for
    // the empty name.
    let ui = &review["status"]["userInfo"];
    let mut user = serde_json::Map::new();
    for k in ["username", "uid", "groups", "extra"] {
        if let Some(v) = ui.get(k).filter(|v| !v.is_null()) {
            user.insert(k.into(), v.clone());
        }
    }
    let typed = json!({"kind": "SelfSubjectReview", "apiVersion": review["apiVersion"],
        "metadata": {"creationTimestamp": null}, "status": {"userInfo": user}});
    match format {
        Some(Format::Json) => {
            print(&output::json::to_string_pretty_unsorted(&typed));
            print("\n");
        }
        Some(Format::Name) => print("selfsubjectreview.authentication.k8s.io/<unknown>\n"),
        Some(f) if !f.is_table() => {
            let mut out = String::new();
            output::print_object(&f, &typed, &mut out)?;
            print(&out);
        }
        _ => print(&whoami_table(&review["status"]["userInfo"])),
    }
    Ok(())
}

fn whoami_table(ui: &Value) -> String {
    let mut rows = vec![vec!["ATTRIBUTE".to_string(), "VALUE".to_string()]];
    for (label, key) in [("Username", "username"), ("UID", "uid")] {
        if let Some(v) = ui[key].as_str().filter(|v| !v.is_empty()) {
            rows.push(vec![label.to_string(), v.to_string()]);
        }
    }
    let groups = strings(&ui["groups"]);
    if !groups.is_empty() {
        rows.push(vec!["Groups".to_string(), go_list(&groups)]);
    }
    if let Some(extra) = ui["extra"].as_object() {
        let mut keys: Vec<&String> = extra.keys().collect();
        keys.sort();
        for k in keys {
            rows.push(vec![format!("Extra: {k}"), go_list(&strings(&extra[k]))]);
        }
    }
    tabwrite(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_rules_like_upstream() {
        let status = json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                {"verbs": ["get"], "apiGroups": [""], "resources": ["pods", "pods/log"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]
        });
        let t = access_list(&status, false);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("Resources"));
        assert!(lines[1].starts_with("*.* "));
        assert!(t.contains("pods/log"));
    }

    #[test]
    fn whoami_rows() {
        let t = whoami_table(&json!({"username": "admin", "groups": ["a", "b"]}));
        assert_eq!(
            t,
            "ATTRIBUTE   VALUE\nUsername    admin\nGroups      [a b]\n"
        );
    }

    #[test]
    fn combines_resource_and_group() {
        assert_eq!(
            combine_resource_group(&["deployments/scale".into()], &["apps".into()]),
            "deployments.apps/scale"
        );
        assert_eq!(combine_resource_group(&["*".into()], &["*".into()]), "*.*");
    }
}
