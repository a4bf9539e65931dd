//! `kubectl explain`: documentation of a resource or field from the
//! server's OpenAPI v3 document, laid out as upstream's `plaintext`
//! template lays it out (header, FIELD, DESCRIPTION, FIELDS).

use std::collections::BTreeSet;

use clap::Args;
use serde_json::Value;

use crate::discovery::Resource;
use crate::{print, Ctx, Error};

/// `kubectl explain`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    pub args: Vec<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub recursive: bool,
    #[arg(long = "api-version")]
    pub api_version: Option<String>,
    #[arg(short = 'o', long, default_value = "plaintext")]
    pub output: String,
}

/// Runs `kubectl explain`.
pub async fn run(ctx: &mut Ctx, a: ExplainArgs) -> Result<(), Error> {
    if a.args.is_empty() {
        return Err(Error::msg("You must specify the type of resource to explain. Use \"kubectl api-resources\" for a complete list of supported resources.\n"));
    }
    if a.args.len() > 1 {
        return Err(Error::msg("We accept only this format: explain RESOURCE\n"));
    }
    let arg = a.args[0].clone();
    let api_version = a.api_version.clone().filter(|v| !v.is_empty());
    let (resource, fields) = {
        let disco = ctx.discovery().await?;
        split_request(disco, &arg, api_version.is_none())?
    };
    if a.output != "plaintext" {
        return Err(Error::msg(format!(
            "unsupported output format: {}",
            a.output
        )));
    }
    let (mut group, mut version) = (resource.group.clone(), resource.version.clone());
    if let Some(av) = &api_version {
        match av.split_once('/') {
            Some((g, v)) => {
                group = g.to_string();
                version = v.to_string();
            }
            None => {
                group = String::new();
                version = av.clone();
            }
        }
    }
    let client = ctx.client().await?;
    let paths = client.get("/openapi/v3").await.map_err(|e| {
        Error::msg(format!(
            "failed to fetch list of groupVersions: {}",
            crate::cmd::cordon::strip_error(&e)
        ))
    })?;
    let key = if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    };
    let Some(url) = paths["paths"][&key]["serverRelativeURL"].as_str() else {
        return Err(Error::msg(format!(
            "couldn't find resource for \"{}/{}, Resource={}\"",
            group, version, resource.plural
        )));
    };
    let doc = client.get(url).await?;
    let gvr = Gvr {
        group,
        version,
        resource: resource.plural.clone(),
    };
    let r = Renderer {
        doc: &doc,
        recursive: a.recursive,
    };
    let (out, err) = r.render(&gvr, &fields);
    print(&out);
    match err {
        Some(e) => Err(Error::msg(e)),
        None => Ok(()),
    }
}

/// `RESOURCE[.group][.field...]` into the resource and field path, as
/// upstream's `SplitAndParseResourceRequest[WithMatchingPrefix]`.
fn split_request(
    disco: &crate::discovery::Discovery,
    arg: &str,
    match_prefix: bool,
) -> Result<(Resource, Vec<String>), Error> {
    let mut parts = arg.split('.');
    let first = parts.next().unwrap_or_default().to_string();
    let rest: Vec<String> = parts.map(String::from).collect();
    let resolved = disco
        .resolve(&first)
        .map_err(|e| match e {
            Error::Msg(m) => Error::Verbatim(m),
            e => e,
        })?
        .clone();
    if match_prefix {
        // A `plural.group` prefix picks that group's resource.
        let lower = first.to_lowercase();
        for n in 1..=rest.len() {
            let group = rest[..n].join(".");
            let candidate = disco.resolve(&format!("{lower}.{group}"));
            if let Ok(r) = candidate {
                if r.group == group && !r.group.is_empty() {
                    let prefix = format!("{}.{}", r.plural, r.group);
                    if arg.starts_with(&prefix) {
                        return Ok((r.clone(), rest[n..].to_vec()));
                    }
                }
            }
        }
    }
    Ok((resolved, rest))
}

/// The group, version and plural being explained.
struct Gvr {
    group: String,
    version: String,
    resource: String,
}

/// Walks the OpenAPI v3 document as upstream's plaintext template does.
struct Renderer<'a> {
    doc: &'a Value,
    recursive: bool,
}

/// A JSON value that Go templates consider "true" (non-empty).
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
    }
}

/// `additionalProperties` when it is a schema (not a bool) with content.
fn map_values(s: &Value) -> Option<&Value> {
    s.get("additionalProperties")
        .filter(|v| v.is_object() && truthy(Some(v)))
}

fn items(s: &Value) -> Option<&Value> {
    s.get("items").filter(|v| truthy(Some(v)))
}

fn all_of(s: &Value) -> &[Value] {
    s.get("allOf")
        .and_then(Value::as_array)
        .map_or(&[], |a| a.as_slice())
}

fn sorted_props(s: &Value) -> Vec<(&String, &Value)> {
    let mut v: Vec<(&String, &Value)> = s
        .get("properties")
        .and_then(Value::as_object)
        .map(|m| m.iter().collect())
        .unwrap_or_default();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

/// kubectl's `indent`: pad the first line and every line after a newline.
fn indent(n: usize, s: &str) -> String {
    let pad = " ".repeat(n);
    format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))
}

/// `github.com/mitchellh/go-wordwrap.WrapString`, which kubectl's `wrap`
/// uses: breaks at whitespace, never inside a word, keeps newlines.
pub fn wrap(lim: usize, s: &str) -> String {
    let mut buf = String::with_capacity(s.len());
    let mut current = 0usize;
    let (mut word, mut space) = (String::new(), String::new());
    let (mut word_len, mut space_len) = (0usize, 0usize);
    for c in s.chars() {
        if c == '\n' {
            // The line ends here: pending spaces stay only if they fit.
            if word.is_empty() {
                if current + space_len <= lim {
                    buf.push_str(&space);
                }
            } else {
                buf.push_str(&space);
                buf.push_str(&word);
                word.clear();
                word_len = 0;
            }
            space.clear();
            space_len = 0;
            buf.push(c);
            current = 0;
        } else if c.is_whitespace() && c != '\u{a0}' {
            if space.is_empty() || !word.is_empty() {
                current += space_len + word_len;
                buf.push_str(&space);
                space.clear();
                space_len = 0;
                buf.push_str(&word);
                word.clear();
                word_len = 0;
            }
            space.push(c);
            space_len += 1;
        } else {
            word.push(c);
            word_len += 1;
            if current + word_len + space_len > lim && word_len < lim {
                buf.push('\n');
                current = 0;
                space.clear();
                space_len = 0;
            }
        }
    }
    if word.is_empty() {
        if current + space_len <= lim {
            buf.push_str(&space);
        }
    } else {
        buf.push_str(&space);
        buf.push_str(&word);
    }
    buf
}

/// Go's `%v` of a JSON enum value.
fn enum_value(v: &Value) -> String {
    match v {
        Value::String(s) if s.is_empty() => "\"\"".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Renderer<'_> {
    fn resolve(&self, r: Option<&Value>) -> Option<&Value> {
        let r = r?.as_str()?;
        let frag = r.strip_prefix('#')?;
        let mut cur = self.doc;
        for k in frag.split('/').filter(|k| !k.is_empty()) {
            cur = cur.get(k).filter(|v| v.is_object())?;
        }
        Some(cur)
    }

    /// The schema itself, or what its `$ref` points at.
    fn resolved<'s>(&'s self, s: &'s Value) -> &'s Value {
        self.resolve(s.get("$ref")).unwrap_or(s)
    }

    /// Header plus body; the error (with what was printed before it) when
    /// the path or kind is not found.
    fn render(&self, gvr: &Gvr, fields: &[String]) -> (String, Option<String>) {
        let prefix = if gvr.group.is_empty() {
            "/api".to_string()
        } else {
            format!("/apis/{}", gvr.group)
        };
        let (v, res) = (&gvr.version, &gvr.resource);
        let searches = [
            format!("{prefix}/{v}/{res}"),
            format!("{prefix}/{v}/{res}/{{name}}"),
            format!("{prefix}/{v}/namespaces/{{namespace}}/{res}"),
            format!("{prefix}/{v}/namespaces/{{namespace}}/{res}/{{name}}"),
        ];
        let mut gvk: Option<&Value> = None;
        'outer: for p in &searches {
            if let Some(el) = self.doc["paths"].get(p) {
                for m in ["get", "post", "put", "patch", "delete"] {
                    if let Some(g) = el
                        .get(m)
                        .and_then(|op| op.get("x-kubernetes-group-version-kind"))
                        .filter(|g| truthy(Some(g)))
                    {
                        gvk = Some(g);
                        break 'outer;
                    }
                }
            }
        }
        let Some(gvk) = gvk else {
            let g = if gvr.group.is_empty() {
                gvr.version.clone()
            } else {
                format!("{}/{}", gvr.group, gvr.version)
            };
            return (
                String::new(),
                Some(format!(
                    "GVR ({g}, Resource={}) not found in OpenAPI schema",
                    gvr.resource
                )),
            );
        };
        let s = |k: &str| gvk[k].as_str().unwrap_or_default().to_string();
        let mut out = String::new();
        if !s("group").is_empty() {
            out.push_str(&format!("GROUP:      {}\n", s("group")));
        }
        out.push_str(&format!(
            "KIND:       {}\nVERSION:    {}\n\n",
            s("kind"),
            s("version")
        ));
        let mut schemas: Vec<(&String, &Value)> = self.doc["components"]["schemas"]
            .as_object()
            .map(|m| m.iter().collect())
            .unwrap_or_default();
        schemas.sort_by(|a, b| a.0.cmp(b.0));
        let found = schemas.into_iter().find(|(_, sc)| {
            sc.get("x-kubernetes-group-version-kind")
                .and_then(Value::as_array)
                .is_some_and(|l| l.iter().any(|g| g == gvk))
        });
        let Some((_, schema)) = found else {
            return (
                out,
                Some(format!(
                    "GVK {}/{}, Kind={} not found in OpenAPI schema",
                    s("group"),
                    s("version"),
                    s("kind")
                )),
            );
        };
        let body = self.output(schema, &BTreeSet::new(), fields);
        if body.is_empty() {
            let last = fields.last().cloned().unwrap_or_default();
            return (out, Some(format!("field \"{last}\" does not exist")));
        }
        out.push_str(&body);
        out.push('\n');
        (out, None)
    }

    fn output(&self, schema: &Value, history: &BTreeSet<String>, path: &[String]) -> String {
        let ref_string = schema["$ref"].as_str().unwrap_or_default().to_string();
        let mut next = history.clone();
        next.insert(ref_string.clone());
        let resolved = self.resolved(schema);
        let mut out = String::new();
        if path.is_empty() {
            out.push_str("DESCRIPTION:\n");
            let mut d = self.description(resolved);
            if d.is_empty() {
                d = "<empty>".into();
            }
            out.push_str(&indent(4, &wrap(76, &d)));
            out.push('\n');
            let ext = external_docs(resolved);
            if !ext.is_empty() {
                out.push('\n');
                out.push_str(&ext);
            }
            let fl = self.field_list(resolved, 1, &BTreeSet::new());
            if !fl.is_empty() {
                out.push_str("FIELDS:\n");
                out.push_str(&fl);
            }
            return out;
        }
        if !ref_string.is_empty() && history.contains(&ref_string) {
            return out;
        }
        if let Some(sub) = resolved
            .get("properties")
            .and_then(|p| p.get(&path[0]))
            .filter(|_| truthy(resolved.get("properties")))
        {
            if path.len() == 1 {
                out.push_str(&format!("FIELD: {} <{}>\n", path[0], self.type_guess(sub)));
                out.push_str(&extract_enum(sub, true, -1, 0));
                out.push_str("\n\n");
            }
            out.push_str(&self.output(sub, &BTreeSet::new(), &path[1..]));
            return out;
        }
        if let Some(it) = items(resolved) {
            return self.output(it, &next, path);
        }
        if let Some(ap) = map_values(resolved) {
            return self.output(ap, &next, path);
        }
        for sub in all_of(resolved) {
            let o = self.output(sub, &next, path);
            if !o.is_empty() {
                return o;
            }
        }
        out
    }

    fn description(&self, schema: &Value) -> String {
        let s = self.resolved(schema);
        let mut out = String::new();
        if !truthy(Some(s)) {
            return out;
        }
        if let Some(d) = s["description"].as_str().filter(|d| !d.is_empty()) {
            out.push_str(d);
            out.push('\n');
        }
        for a in all_of(s) {
            out.push_str(&self.description(a));
        }
        if let Some(it) = items(s) {
            out.push_str(&self.description(it));
        }
        if let Some(ap) = map_values(s) {
            out.push_str(&self.description(ap));
        }
        out
    }

    fn field_list(&self, schema: &Value, level: usize, history: &BTreeSet<String>) -> String {
        let ref_string = schema["$ref"].as_str().unwrap_or_default().to_string();
        let mut out = String::new();
        if !ref_string.is_empty() && history.contains(&ref_string) {
            return out;
        }
        let mut next = history.clone();
        next.insert(ref_string);
        let resolved = self.resolved(schema);
        for (k, v) in sorted_props(resolved) {
            out.push_str(&self.field_detail(k, resolved, level));
            if self.recursive {
                out.push_str(&self.field_list(v, level + 1, &next));
            }
        }
        for a in all_of(resolved) {
            out.push_str(&self.field_list(a, level, &next));
        }
        if let Some(it) = items(resolved) {
            out.push_str(&self.field_list(it, level, &next));
        }
        if let Some(ap) = map_values(resolved) {
            out.push_str(&self.field_list(ap, level, &next));
        }
        out
    }

    fn field_detail(&self, name: &str, schema: &Value, level: usize) -> String {
        let ind = level * 2;
        let fs = &schema["properties"][name];
        let mut out = indent(ind, name);
        out.push_str(&format!("\t<{}>", self.type_guess(fs)));
        if schema["required"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x == name))
        {
            out.push_str(" -required-");
        }
        out.push_str(&extract_enum(fs, false, 4, ind));
        out.push('\n');
        if !self.recursive {
            let d = fs["description"]
                .as_str()
                .filter(|d| !d.is_empty())
                .unwrap_or("<no description>");
            out.push_str(&indent(ind + 2, &wrap(78 - ind, d)));
            out.push('\n');
            if let Some(ext) = fs.get("externalDocs").filter(|e| truthy(Some(e))) {
                out.push('\n');
                out.push_str(&indent(ind + 2, "EXTERNAL DOCS:"));
                out.push('\n');
                if let Some(d) = ext["description"].as_str().filter(|d| !d.is_empty()) {
                    out.push_str(&indent(ind + 4, &wrap(76 - ind, d)));
                    out.push('\n');
                }
                if let Some(u) = ext["url"].as_str().filter(|u| !u.is_empty()) {
                    out.push_str(&indent(ind + 4, &format!("URL: {u}")));
                    out.push('\n');
                }
            }
            out.push('\n');
        }
        out
    }

    fn type_guess(&self, s: &Value) -> String {
        if let Some(it) = items(s) {
            return format!("[]{}", self.type_guess(it));
        }
        if let Some(ap) = map_values(s) {
            return format!("map[string]{}", self.type_guess(ap));
        }
        let all = all_of(s);
        if !all.is_empty() && !truthy(s.get("properties")) && all.len() == 1 {
            return self.type_guess(&all[0]);
        }
        if let Some(r) = s
            .get("$ref")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
        {
            let target = self.resolve(s.get("$ref"));
            let ty = target.and_then(|t| t["type"].as_str()).unwrap_or_default();
            if ty.is_empty() || ty == "object" {
                let name = r.rsplit('/').next().unwrap_or_default();
                let short = name.rsplit('.').next().unwrap_or_default();
                return if short.is_empty() {
                    "Object".into()
                } else {
                    short.into()
                };
            }
            return ty.to_string();
        }
        match s["type"].as_str() {
            Some("object") | None | Some("") => "Object".into(),
            Some(t) => t.to_string(),
        }
    }
}

fn external_docs(s: &Value) -> String {
    let Some(ext) = s.get("externalDocs").filter(|e| truthy(Some(e))) else {
        return String::new();
    };
    let mut out = "EXTERNAL DOCS:\n".to_string();
    if let Some(d) = ext["description"].as_str().filter(|d| !d.is_empty()) {
        out.push_str(&indent(4, &wrap(76, d)));
        out.push('\n');
    }
    if let Some(u) = ext["url"].as_str().filter(|u| !u.is_empty()) {
        out.push_str(&indent(4, &format!("URL: {u}")));
        out.push('\n');
    }
    out
}

/// The template's `extractEnum`: `ENUM:` lines in the long view, or an
/// `enum: a, b, ....` line (at most `limit` values) in field lists.
fn extract_enum(s: &Value, long: bool, limit: i64, ind: usize) -> String {
    let Some(values) = s
        .get("enum")
        .and_then(Value::as_array)
        .filter(|e| !e.is_empty())
    else {
        return String::new();
    };
    let mut out = if long {
        "ENUM:".to_string()
    } else {
        format!("\n{}enum: ", " ".repeat(ind))
    };
    for (i, e) in values.iter().enumerate() {
        if limit > -1 && i as i64 >= limit {
            out.push_str(", ....");
            break;
        }
        if i > 0 && !long {
            out.push_str(", ");
        } else if long {
            out.push_str("\n    ");
        }
        out.push_str(&enum_value(e));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wraps_like_go_wordwrap() {
        assert_eq!(wrap(10, "aaa bbb ccc ddd"), "aaa bbb\nccc ddd");
        assert_eq!(wrap(5, "a\nbbbbbbbbbb c"), "a\nbbbbbbbbbb\nc");
        assert_eq!(indent(2, "a\nb"), "  a\n  b");
    }

    #[test]
    fn renders_fields() {
        let doc = json!({
            "paths": {"/api/v1/namespaces/{namespace}/things": {"get": {"x-kubernetes-group-version-kind": {"group": "", "kind": "Thing", "version": "v1"}}}},
            "components": {"schemas": {
                "io.k8s.api.core.v1.Thing": {
                    "description": "A thing.",
                    "type": "object",
                    "required": ["spec"],
                    "properties": {
                        "spec": {"description": "The spec.", "allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.ThingSpec"}]},
                        "kind": {"description": "Kind.", "type": "string", "enum": ["A", ""]}
                    },
                    "x-kubernetes-group-version-kind": [{"group": "", "kind": "Thing", "version": "v1"}]
                },
                "io.k8s.api.core.v1.ThingSpec": {"type": "object", "properties": {"n": {"type": "integer"}, "l": {"type": "array", "items": {"type": "string"}}}}
            }}
        });
        let r = Renderer {
            doc: &doc,
            recursive: false,
        };
        let gvr = Gvr {
            group: String::new(),
            version: "v1".into(),
            resource: "things".into(),
        };
        let (out, err) = r.render(&gvr, &[]);
        assert!(err.is_none());
        assert!(
            out.starts_with("KIND:       Thing\nVERSION:    v1\n\nDESCRIPTION:\n    A thing.\n")
        );
        assert!(out.contains("  kind\t<string>\n  enum: A, \"\"\n    Kind.\n"));
        assert!(out.contains("  spec\t<ThingSpec> -required-\n"));
        let (out, _) = r.render(&gvr, &["spec".into(), "l".into()]);
        assert!(out.contains("FIELD: l <[]string>\n"));
        let (_, err) = r.render(&gvr, &["spec".into(), "zz".into()]);
        assert_eq!(err.as_deref(), Some("field \"zz\" does not exist"));
    }
}
