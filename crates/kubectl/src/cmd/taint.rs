//! `kubectl taint`: adds, replaces and removes node taints, with upstream's
//! parsing, merging rules and messages (`node/x tainted|untainted|modified`).

use apimachinery::validation::{is_qualified_name, is_valid_label_value};
use clap::Args;
use http::Method;
use serde_json::{json, Value};

use crate::client::q;
use crate::cmd::cordon::DryRun;
use crate::output::{self, Format};
use crate::{print, Ctx, Error};

const CMD: &str = "kubectl taint";

/// `kubectl taint`.
#[derive(Args, Debug)]
pub struct TaintArgs {
    pub args: Vec<String>,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub overwrite: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub all: bool,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "unchanged", default_value = "none")]
    pub dry_run: String,
    #[arg(long = "field-manager", default_value = "kubectl-taint")]
    pub field_manager: String,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "strict", default_value = "strict")]
    pub validate: String,
}

/// One taint; an empty effect (removal by key) matches any effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: String,
}

impl Taint {
    fn from_json(v: &Value) -> Taint {
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        Taint {
            key: s("key"),
            value: s("value"),
            effect: s("effect"),
        }
    }

    /// Go's `Taint.ToString`.
    fn to_go_string(&self) -> String {
        match (self.effect.is_empty(), self.value.is_empty()) {
            (true, true) => self.key.clone(),
            (true, false) => format!("{}={}:", self.key, self.value),
            (false, true) => format!("{}:{}", self.key, self.effect),
            (false, false) => format!("{}={}:{}", self.key, self.value, self.effect),
        }
    }

    /// Go's `Taint.MatchTaint`: same key and effect.
    fn matches(&self, other: &Taint) -> bool {
        self.key == other.key && self.effect == other.effect
    }

    /// Go's `%v` of a `Taint` struct.
    fn go_struct(&self) -> String {
        format!("{{{} {} {} <nil>}}", self.key, self.value, self.effect)
    }
}

/// Parses one `key[=value][:effect]` (without the trailing `-` of removals).
pub fn parse_taint(st: &str) -> Result<Taint, String> {
    let parts: Vec<&str> = st.split(':').collect();
    let (key, value, effect) = match parts.as_slice() {
        [k] => (k.to_string(), String::new(), String::new()),
        [kv, effect] => {
            if !matches!(*effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
                return Err(format!(
                    "invalid taint effect: {effect}, unsupported taint effect"
                ));
            }
            let kv: Vec<&str> = kv.split('=').collect();
            if kv.len() > 2 {
                return Err(format!("invalid taint spec: {st}"));
            }
            let value = kv.get(1).map(|v| v.to_string()).unwrap_or_default();
            let errs = is_valid_label_value(&value);
            if !errs.is_empty() {
                return Err(format!("invalid taint spec: {st}, {}", errs.join("; ")));
            }
            (kv[0].to_string(), value, effect.to_string())
        }
        _ => return Err(format!("invalid taint spec: {st}")),
    };
    let errs = is_qualified_name(&key);
    if !errs.is_empty() {
        return Err(format!("invalid taint spec: {st}, {}", errs.join("; ")));
    }
    Ok(Taint { key, value, effect })
}

/// Splits taint arguments into additions and removals.
pub fn parse_taints(specs: &[String]) -> Result<(Vec<Taint>, Vec<Taint>), String> {
    let mut add: Vec<Taint> = Vec::new();
    let mut remove = Vec::new();
    for spec in specs {
        if let Some(s) = spec.strip_suffix('-') {
            let t = parse_taint(s)?;
            remove.push(Taint {
                value: String::new(),
                ..t
            });
        } else {
            let t = parse_taint(spec)?;
            if t.effect.is_empty() {
                return Err(format!("invalid taint spec: {spec}"));
            }
            if add.iter().any(|o| o.matches(&t)) {
                return Err(format!(
                    "duplicated taints with the same key and effect: {}",
                    t.go_struct()
                ));
            }
            add.push(t);
        }
    }
    Ok((add, remove))
}

/// The node's new taints (as JSON, keeping old entries verbatim) and the
/// operation word, following upstream's `reorganizeTaints`.
fn reorganize(
    old: &[Value],
    overwrite: bool,
    add: &[Taint],
    remove: &[Taint],
) -> (&'static str, Vec<Value>, Vec<String>) {
    let mut new: Vec<Value> = add.iter().map(taint_json).collect();
    for o in old {
        let ot = Taint::from_json(o);
        if !add.iter().any(|t| t.matches(&ot)) {
            new.push(o.clone());
        }
    }
    let added = old.len() != new.len();
    let mut errs = Vec::new();
    let mut removed = false;
    for r in remove {
        let before = new.len();
        new.retain(|v| {
            let t = Taint::from_json(v);
            if r.effect.is_empty() {
                t.key != r.key
            } else {
                !r.matches(&t)
            }
        });
        removed = new.len() != before;
        if !removed {
            errs.push(format!("taint \"{}\" not found", r.to_go_string()));
        }
    }
    let op = if (added && removed) || overwrite {
        "modified"
    } else if added {
        "tainted"
    } else {
        "untainted"
    };
    (op, new, errs)
}

fn taint_json(t: &Taint) -> Value {
    let mut v = json!({"key": t.key});
    if !t.value.is_empty() {
        v["value"] = json!(t.value);
    }
    v["effect"] = json!(t.effect);
    v
}

/// How kubectl's `CheckErr` prints an aggregate: one error with the
/// `error: ` prefix, several one per line without it.
fn aggregate(errs: &[String]) -> Error {
    if errs.len() == 1 {
        Error::msg(errs[0].clone())
    } else {
        Error::Verbatim(errs.join("\n"))
    }
}

/// Runs `kubectl taint`.
pub async fn run(ctx: &mut Ctx, a: TaintArgs) -> Result<(), Error> {
    let dry = DryRun::parse(&a.dry_run)?;
    let format = a
        .output
        .as_deref()
        .map(|o| Format::parse(Some(o)))
        .transpose()?;
    let mut resources = Vec::new();
    let mut taint_args = Vec::new();
    for s in &a.args {
        let is_taint = s.contains('=') || s.contains(':') || s.ends_with('-');
        if is_taint {
            taint_args.push(s.clone());
        } else if !taint_args.is_empty() {
            return Err(Error::msg(format!(
                "all resources must be specified before taint changes: {s}"
            )));
        } else {
            resources.push(s.clone());
        }
    }
    if resources.is_empty() {
        return Err(Error::msg(
            "one or more resources must be specified as <resource> <name>",
        ));
    }
    if taint_args.is_empty() {
        return Err(Error::msg("at least one taint update is required"));
    }
    let (add, remove) = parse_taints(&taint_args).map_err(|e| Error::usage(CMD, e))?;
    // Validate: the type must be nodes.
    let ty = resources[0].to_lowercase();
    // The mapper's error is printed bare here, not as `error: ...`.
    let resource = ctx
        .targets(std::slice::from_ref(&ty), CMD)
        .await
        .map_err(|e| match e {
            Error::Msg(m) => Error::Verbatim(m),
            e => e,
        })?;
    if resource.first().map(|t| t.resource.kind.as_str()) != Some("Node") {
        return Err(Error::msg(format!(
            "invalid resource type {ty}, only node types are supported"
        )));
    }
    let mut conflicts = Vec::new();
    for t in &add {
        for r in &remove {
            if t.key == r.key && (r.effect.is_empty() || t.effect == r.effect) {
                conflicts.push(format!("{}={}", r.key, r.effect));
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(Error::msg(format!(
            "can not both modify and remove the following taint(s) in the same command: {}",
            conflicts.join(", ")
        )));
    }
    let selector = a.selector.clone().filter(|s| !s.is_empty());
    if a.all && selector.is_some() {
        return Err(Error::msg(
            "setting 'all' parameter with a non empty selector is prohibited",
        ));
    }
    if !a.all && selector.is_none() && resources.len() < 2 {
        return Err(Error::msg(
            "at least one resource name must be specified since 'all' parameter is not set",
        ));
    }
    let client = ctx.client().await?;
    let mut nodes = Vec::new();
    if a.all || selector.is_some() {
        let mut path = "/api/v1/nodes".to_string();
        if let Some(s) = &selector {
            path.push_str(&format!("?labelSelector={}", q(s)));
        }
        let list = client.get(&path).await?;
        nodes.extend(list["items"].as_array().cloned().unwrap_or_default());
    } else {
        for n in &resources[1..] {
            nodes.push(client.get(&format!("/api/v1/nodes/{}", q(n))).await?);
        }
    }
    for mut node in nodes {
        let name = node["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let old: Vec<Value> = node["spec"]["taints"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !a.overwrite {
            let exists: Vec<&str> = add
                .iter()
                .filter(|t| old.iter().any(|o| t.matches(&Taint::from_json(o))))
                .map(|t| t.key.as_str())
                .collect();
            if !exists.is_empty() {
                return Err(Error::msg(format!(
                    "node {name} already has {} taint(s) with same effect(s) and --overwrite is false",
                    exists.join(",")
                )));
            }
        }
        let (op, new, errs) = reorganize(&old, a.overwrite, &add, &remove);
        if !errs.is_empty() {
            return Err(aggregate(&errs));
        }
        let taints = if new.is_empty() {
            Value::Null
        } else {
            Value::Array(new)
        };
        let result = if dry == DryRun::Client {
            match &taints {
                Value::Null => {
                    if let Some(s) = node["spec"].as_object_mut() {
                        s.remove("taints");
                    }
                }
                t => node["spec"]["taints"] = t.clone(),
            }
            node
        } else {
            let patch = json!({"spec": {"taints": taints}});
            let mut path = format!(
                "/api/v1/nodes/{}?fieldManager={}",
                q(&name),
                q(&a.field_manager)
            );
            if dry == DryRun::Server {
                path.push_str("&dryRun=All");
            }
            client
                .call(
                    Method::PATCH,
                    &path,
                    Some("application/json"),
                    Some("application/merge-patch+json"),
                    Some(serde_json::to_vec(&patch).unwrap_or_default()),
                )
                .await?
        };
        match &format {
            Some(f) if !f.is_table() => {
                let mut out = String::new();
                output::print_object(f, &result, &mut out)?;
                print(&out);
            }
            // Upstream sets the operation after the dry-run suffix, which
            // drops the suffix.
            _ => print(&format!("node/{name} {op}\n")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(k: &str, v: &str, e: &str) -> Taint {
        Taint {
            key: k.into(),
            value: v.into(),
            effect: e.into(),
        }
    }

    #[test]
    fn parses_specs() {
        assert_eq!(
            parse_taint("a=b:NoSchedule").unwrap(),
            t("a", "b", "NoSchedule")
        );
        assert_eq!(parse_taint("a").unwrap(), t("a", "", ""));
        assert_eq!(
            parse_taint("a:Bad").unwrap_err(),
            "invalid taint effect: Bad, unsupported taint effect"
        );
        assert_eq!(
            parse_taint("a=b=c:NoExecute").unwrap_err(),
            "invalid taint spec: a=b=c:NoExecute"
        );
        let (add, rm) = parse_taints(&["a=b:NoSchedule".into(), "c-".into()]).unwrap();
        assert_eq!(add.len(), 1);
        assert_eq!(rm, vec![t("c", "", "")]);
        assert!(parse_taints(&["a=b".into()])
            .unwrap_err()
            .starts_with("invalid taint spec: a=b, name part must consist"));
        assert_eq!(
            parse_taints(&["a:NoSchedule".into(), "a=x:NoSchedule".into()]).unwrap_err(),
            "duplicated taints with the same key and effect: {a x NoSchedule <nil>}"
        );
    }

    #[test]
    fn reorganizes_like_upstream() {
        let old = vec![json!({"key": "a", "value": "1", "effect": "NoSchedule"})];
        let (op, new, errs) = reorganize(&old, false, &[t("b", "", "NoExecute")], &[]);
        assert_eq!((op, new.len(), errs.len()), ("tainted", 2, 0));
        let (op, new, _) = reorganize(&old, false, &[], &[t("a", "", "")]);
        assert_eq!((op, new.len()), ("untainted", 0));
        let (_, _, errs) = reorganize(&old, false, &[], &[t("z", "", "NoSchedule")]);
        assert_eq!(errs, vec!["taint \"z:NoSchedule\" not found".to_string()]);
        let (op, _, _) = reorganize(&old, true, &[t("a", "2", "NoSchedule")], &[]);
        assert_eq!(op, "modified");
    }
}
