//! Printers: YAML, JSON, names, JSONPath, custom columns and server-side
//! Tables, each producing exactly what upstream kubectl prints.

pub mod gotemplate;
pub mod json;
pub mod jsonpath;
pub mod table;
pub mod yaml;

use serde_json::Value;

use crate::error::Error;

/// The formats `-o/--output` accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    /// The server's Table, priority 0 columns.
    Table,
    /// The server's Table with every column.
    Wide,
    Yaml,
    Json,
    Name,
    /// A JSONPath template.
    JsonPath(String),
    /// A Go template (`go-template=`, `template=`).
    GoTemplate(String),
    /// `NAME:.path,...` columns.
    CustomColumns(Vec<(String, String)>),
}

impl Format {
    /// Parses `-o`'s value as upstream does.
    pub fn parse(s: Option<&str>) -> Result<Format, Error> {
        let Some(s) = s else { return Ok(Format::Table) };
        let (kind, arg) = match s.split_once('=') {
            Some((k, a)) => (k, Some(a)),
            None => (s, None),
        };
        Ok(match (kind, arg) {
            ("", None) => Format::Table,
            ("wide", None) => Format::Wide,
            ("yaml", None) => Format::Yaml,
            ("json", None) => Format::Json,
            ("name", None) => Format::Name,
            ("jsonpath" | "jsonpath-as-json", Some(t)) => Format::JsonPath(t.to_string()),
            ("go-template" | "template", Some(t)) => Format::GoTemplate(t.to_string()),
            ("go-template" | "template", None) => {
                return Err(Error::msg("template format specified but no template given"))
            }
            ("jsonpath" | "jsonpath-as-json", None) => {
                return Err(Error::msg("template format specified but no template given"))
            }
            ("custom-columns", Some(spec)) => Format::CustomColumns(parse_custom_columns(spec)?),
            ("custom-columns", None) => {
                return Err(Error::msg("custom-columns format specified but no custom columns given"))
            }
            _ => {
                return Err(Error::msg(format!(
                    "unable to match a printer suitable for the output format \"{s}\", allowed formats are: custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,template,templatefile,wide,yaml"
                )))
            }
        })
    }

    /// Whether this prints the server's Table.
    pub fn is_table(&self) -> bool {
        matches!(self, Format::Table | Format::Wide)
    }
}

fn parse_custom_columns(spec: &str) -> Result<Vec<(String, String)>, Error> {
    let mut cols = Vec::new();
    for part in spec.split(',') {
        let Some((name, path)) = part.split_once(':') else {
            return Err(Error::msg(format!(
                "unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>"
            )));
        };
        cols.push((name.to_string(), relaxed_jsonpath(path)));
    }
    Ok(cols)
}

/// `.a.b`, `a.b` and `{.a.b}` all mean `{.a.b}`.
pub fn relaxed_jsonpath(path: &str) -> String {
    let p = path.trim();
    let inner = p
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(p);
    if inner.starts_with('.') || inner.starts_with('[') {
        format!("{{{inner}}}")
    } else {
        format!("{{.{inner}}}")
    }
}

/// Formats a float as Go's `strconv.FormatFloat(f, 'g', -1, 64)` does for
/// JSON (exponent only for very large or small magnitudes).
pub fn go_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        // Rust writes `1e21`, Go writes `1e+21`.
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    } else {
        let s = format!("{f}");
        s
    }
}

/// `pod/x`, `deployment.apps/x`: how `-o name` and multi-type tables name
/// an object.
pub fn kind_name(kind: &str, group: &str, name: &str) -> String {
    if group.is_empty() {
        format!("{}/{}", kind.to_lowercase(), name)
    } else {
        format!("{}.{}/{}", kind.to_lowercase(), group, name)
    }
}

/// The group of an `apiVersion`.
pub fn group_of(api_version: &str) -> &str {
    match api_version.split_once('/') {
        Some((g, _)) => g,
        None => "",
    }
}

/// Prints one object (or a List) in a non-table format.
pub fn print_object(format: &Format, obj: &Value, out: &mut String) -> Result<(), Error> {
    match format {
        Format::Yaml => out.push_str(&yaml::to_string(obj)),
        Format::Json => out.push_str(&json::to_string_pretty(obj)),
        Format::Name => {
            let items: Vec<&Value> = match obj.get("items").and_then(Value::as_array) {
                Some(items) if is_list(obj) => items.iter().collect(),
                _ => vec![obj],
            };
            for item in items {
                let kind = item["kind"].as_str().unwrap_or_default();
                let group = group_of(item["apiVersion"].as_str().unwrap_or_default());
                let name = item["metadata"]["name"].as_str().unwrap_or_default();
                out.push_str(&kind_name(kind, group, name));
                out.push('\n');
            }
        }
        Format::JsonPath(t) => {
            let tpl = jsonpath::Template::parse(t)?;
            out.push_str(&tpl.execute(obj)?);
        }
        Format::GoTemplate(t) => {
            let tpl = gotemplate::Template::parse(t)?;
            out.push_str(&tpl.execute(obj)?);
        }
        Format::CustomColumns(cols) => {
            let items: Vec<&Value> = match obj.get("items").and_then(Value::as_array) {
                Some(items) if is_list(obj) => items.iter().collect(),
                _ => vec![obj],
            };
            out.push_str(&custom_columns(cols, &items, false)?);
        }
        Format::Table | Format::Wide => {}
    }
    Ok(())
}

/// Renders custom columns through the tab writer.
pub fn custom_columns(
    cols: &[(String, String)],
    items: &[&Value],
    no_headers: bool,
) -> Result<String, Error> {
    let mut rows = Vec::new();
    if !no_headers {
        rows.push(cols.iter().map(|(h, _)| h.clone()).collect::<Vec<_>>());
    }
    let tpls = cols
        .iter()
        .map(|(_, p)| jsonpath::Template::parse(p))
        .collect::<Result<Vec<_>, _>>()?;
    for item in items {
        let mut row = Vec::new();
        for t in &tpls {
            let vals = t.values(item)?;
            if vals.is_empty() {
                row.push("<none>".to_string());
            } else {
                row.push(
                    vals.iter()
                        .map(jsonpath::format_value)
                        .collect::<Vec<_>>()
                        .join(","),
                );
            }
        }
        rows.push(row);
    }
    Ok(table::tabwrite(&rows))
}

/// Whether `obj` is a list (`kind` ends in `List` and it has `items`).
pub fn is_list(obj: &Value) -> bool {
    obj["kind"].as_str().is_some_and(|k| k.ends_with("List")) && obj.get("items").is_some()
}
