//! `kubectl wait --for=delete|create|condition=...|jsonpath=...`: poll each
//! object until the condition holds, printing `<kind>/<name> condition
//! met`, or fail with upstream's timeout message.

use std::time::{Duration, Instant};

use clap::Args;
use serde_json::Value;

use crate::cli::FileArgs;
use crate::cmd::set::common::{self, Obj, Query};
use crate::output::jsonpath::Template;
use crate::{Ctx, Error};

/// `kubectl wait`.
#[derive(Args, Debug)]
pub struct WaitArgs {
    pub args: Vec<String>,
    #[command(flatten)]
    pub files: FileArgs,
    #[arg(long = "for", default_value = "")]
    pub for_: String,
    #[arg(long, default_value = "30s")]
    pub timeout: String,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    #[arg(long = "field-selector")]
    pub field_selector: Option<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub all: bool,
    #[arg(short = 'A', long = "all-namespaces", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub all_namespaces: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub local: bool,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

/// What to wait for.
#[derive(Debug)]
enum Cond {
    Delete,
    Create,
    /// A status condition and the wanted status (compared case-folded).
    Condition(String, String),
    /// A JSONPath template and the wanted value (`None`: any value).
    JsonPath(String, Option<String>),
}

/// Splits on single `=`; `==` stays in the text as `==`.
fn split_jsonpath_input(input: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let b: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < b.len() {
        if b[i] == '=' {
            if i + 1 < b.len() && b[i + 1] == '=' {
                cur.push_str("==");
                i += 2;
                continue;
            }
            out.push(std::mem::take(&mut cur));
            i += 1;
            continue;
        }
        cur.push(b[i]);
        i += 1;
    }
    out.push(cur);
    out
}

/// `{.a.b}` from `.a.b`, `a.b`, `{a.b}` or `{.a.b}`.
fn relaxed(expr: &str) -> Result<String, Error> {
    let bad = || {
        Error::msg("unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'")
    };
    let inner = match expr.strip_prefix('{') {
        Some(rest) => rest.strip_suffix('}').ok_or_else(bad)?,
        None => expr,
    };
    let inner = inner.strip_prefix('.').unwrap_or(inner);
    if inner.is_empty() || inner.contains(['{', '}']) {
        return Err(bad());
    }
    Ok(format!("{{.{inner}}}"))
}

fn parse_for(s: &str) -> Result<Cond, Error> {
    if s.eq_ignore_ascii_case("delete") {
        return Ok(Cond::Delete);
    }
    if s.eq_ignore_ascii_case("create") {
        return Ok(Cond::Create);
    }
    if let Some(rest) = s.strip_prefix("condition=") {
        let (name, value) = match rest.split_once('=') {
            Some((n, v)) => (n, v),
            None => (rest, "true"),
        };
        return Ok(Cond::Condition(name.to_string(), value.to_string()));
    }
    if let Some(rest) = s.strip_prefix("jsonpath=") {
        let parts = split_jsonpath_input(rest);
        if parts.is_empty() || parts.len() > 2 {
            return Err(Error::msg("jsonpath wait format must be --for=jsonpath='{.status.readyReplicas}'=3 or --for=jsonpath='{.status.readyReplicas}'"));
        }
        if parts[0].is_empty() {
            return Err(Error::msg("jsonpath expression cannot be empty"));
        }
        let expr = relaxed(&parts[0])?;
        Template::parse(&expr)?;
        let value = match parts.get(1) {
            None => None,
            Some(v) => {
                let v = v.trim_matches(|c| c == '\'' || c == '"');
                if v.is_empty() {
                    return Err(Error::msg("jsonpath wait has to have a value after equal sign, like --for=jsonpath='{.status.readyReplicas}'=3"));
                }
                Some(v.to_string())
            }
        };
        return Ok(Cond::JsonPath(expr, value));
    }
    Err(Error::msg(format!("unrecognized condition: {s:?}")))
}

/// Whether the condition holds for `obj`.
fn check(cond: &Cond, obj: &Value) -> Result<bool, Error> {
    match cond {
        Cond::Delete => Ok(false),
        Cond::Create => Ok(true),
        Cond::Condition(name, want) => {
            for c in obj["status"]["conditions"].as_array().into_iter().flatten() {
                let Some(t) = c["type"].as_str() else {
                    continue;
                };
                if !t.eq_ignore_ascii_case(name) {
                    continue;
                }
                let Some(status) = c["status"].as_str() else {
                    continue;
                };
                if let Some(gen) = obj["metadata"]["generation"].as_i64() {
                    let observed = c["observedGeneration"]
                        .as_i64()
                        .or_else(|| obj["status"]["observedGeneration"].as_i64());
                    if observed.is_some_and(|o| o < gen) {
                        return Ok(false);
                    }
                }
                return Ok(status.eq_ignore_ascii_case(want));
            }
            Ok(false)
        }
        Cond::JsonPath(expr, want) => {
            let tpl = Template::parse(expr)?;
            let vals = match tpl.values(obj) {
                Ok(v) => v,
                Err(_) => return Ok(false),
            };
            if vals.is_empty() {
                return Ok(false);
            }
            if vals.len() > 1 {
                return Err(Error::msg(
                    "given jsonpath expression matches more than one value",
                ));
            }
            let Some(want) = want else { return Ok(true) };
            let v = &vals[0];
            if v.is_object() || v.is_array() {
                return Err(Error::msg(
                    "jsonpath leads to a nested object or list which is not supported",
                ));
            }
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => "<nil>".to_string(),
                other => other.to_string(),
            };
            Ok(text.trim() == want.trim())
        }
    }
}

/// Runs `kubectl wait`.
pub async fn run(ctx: &mut Ctx, a: WaitArgs) -> Result<(), Error> {
    let cmd = "kubectl wait";
    let format = common::parse_format(a.output.as_deref())?;
    let cond = parse_for(&a.for_)?;
    let timeout = crate::parse_go_duration(a.timeout.trim_start_matches('-')).ok_or_else(|| {
        common::flag_error(
            cmd,
            "timeout",
            &a.timeout,
            &format!("time: invalid duration {:?}", a.timeout),
        )
    })?;
    let negative = a.timeout.starts_with('-');
    let timeout = if negative {
        Duration::from_secs(168 * 3600)
    } else {
        timeout
    };
    let deadline = Instant::now() + timeout;
    let client = ctx.client().await?;
    let is_delete = matches!(cond, Cond::Delete);
    let is_create = matches!(cond, Cond::Create);
    // `--for=create` waits for the objects to appear before checking.
    let mut found;
    loop {
        let q = Query {
            args: &a.args,
            files: &a.files,
            selector: a.selector.as_deref(),
            all: a.all,
            allow_empty: false,
            local: a.local,
            cmd,
        };
        found = common::find_ordered(ctx, &q).await?;
        let missing = found
            .iter()
            .any(|r| r.as_ref().is_err_and(Error::is_not_found));
        if !is_create || !missing {
            break;
        }
        if Instant::now() >= deadline {
            return Err(Error::msg(format!(
                "timed out waiting for the condition on {}",
                a.args.join(" ")
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let visited = found.iter().filter(|r| r.is_ok()).count();
    let mut errors: Vec<Error> = Vec::new();
    if visited == 0 && !is_delete && found.iter().all(|r| r.is_ok()) {
        return Err(Error::msg("no matching resources found"));
    }
    for r in found {
        let obj = match r {
            Ok(o) => o,
            Err(e) if is_delete && e.is_not_found() => continue,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        match wait_one(&client, &obj, &cond, timeout, deadline).await {
            Ok(last) => {
                let shown = last.unwrap_or_else(|| obj.object.clone());
                common::report(
                    format.as_ref(),
                    &shown,
                    &common::kind_group_of(&with_kind(&shown, &obj)),
                    &obj.name,
                    "condition met",
                )?;
            }
            Err(e) => errors.push(e),
        }
    }
    common::aggregate(errors)
}

/// `obj` with the kind and apiVersion its resource implies, for naming.
fn with_kind(v: &Value, obj: &Obj) -> Value {
    let mut v = v.clone();
    if v["kind"].as_str().is_none_or(str::is_empty) {
        v["kind"] = serde_json::json!(obj.resource.kind);
        v["apiVersion"] = serde_json::json!(obj.resource.api_version());
    }
    v
}

/// Polls one object until `cond` holds; the last object seen.
async fn wait_one(
    client: &crate::client::Client,
    obj: &Obj,
    cond: &Cond,
    timeout: Duration,
    deadline: Instant,
) -> Result<Option<Value>, Error> {
    let timed_out = || {
        Error::msg(format!(
            "timed out waiting for the condition on {}",
            obj.object_name()
        ))
    };
    let path = obj.path();
    loop {
        let cur = match client.get(&path).await {
            Ok(v) => Some(v),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e),
        };
        match (cond, &cur) {
            (Cond::Delete, None) => return Ok(None),
            (Cond::Delete, Some(_)) => {}
            (_, None) => {
                return Err(Error::Api(Box::new(serde_json::json!({
                    "kind": "Status", "code": 404, "reason": "NotFound",
                    "message": format!("{} {:?} not found", obj.resource.group_resource(), obj.name),
                }))))
            }
            (c, Some(v)) => {
                if check(c, v)? {
                    return Ok(cur);
                }
            }
        }
        if timeout.is_zero() {
            return Err(Error::msg(format!(
                "condition not met for {}",
                obj.object_name()
            )));
        }
        if Instant::now() >= deadline {
            return Err(timed_out());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(left.min(Duration::from_millis(200))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn for_flag() {
        assert!(matches!(parse_for("delete").unwrap(), Cond::Delete));
        match parse_for("condition=Ready").unwrap() {
            Cond::Condition(n, v) => assert_eq!((n.as_str(), v.as_str()), ("Ready", "true")),
            other => panic!("{other:?}"),
        }
        match parse_for("jsonpath={.status.phase}=Running").unwrap() {
            Cond::JsonPath(e, v) => {
                assert_eq!(e, "{.status.phase}");
                assert_eq!(v.as_deref(), Some("Running"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_for("bogus").unwrap_err().to_string(),
            "error: unrecognized condition: \"bogus\""
        );
        assert_eq!(split_jsonpath_input("a==b=c"), vec!["a==b", "c"]);
    }

    #[test]
    fn conditions() {
        let o = json!({"metadata": {"generation": 2},
            "status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True"}]}});
        assert!(check(&Cond::Condition("ready".into(), "true".into()), &o).unwrap());
        assert!(!check(&Cond::Condition("Ready".into(), "False".into()), &o).unwrap());
        let stale = json!({"metadata": {"generation": 3},
            "status": {"conditions": [{"type": "Ready", "status": "True", "observedGeneration": 2}]}});
        assert!(!check(&Cond::Condition("Ready".into(), "true".into()), &stale).unwrap());
        let p = json!({"status": {"phase": "Running"}});
        assert!(check(
            &Cond::JsonPath("{.status.phase}".into(), Some("Running".into())),
            &p
        )
        .unwrap());
        assert!(check(&Cond::JsonPath("{.status.phase}".into(), None), &p).unwrap());
    }
}
