//! JSON as Go's `json.MarshalIndent(obj, "", "    ")` writes it for the
//! unstructured objects kubectl prints: keys sorted bytewise and `<`, `>`,
//! `&`, U+2028 and U+2029 escaped.

use std::fmt::Write;

use serde_json::Value;

/// Renders `v` indented by four spaces, with a trailing newline.
pub fn to_string_pretty(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v, 0, true, true);
    out.push('\n');
    out
}

/// Renders `v` indented by four spaces with keys in their given order, as
/// Go prints a typed struct.
pub fn to_string_pretty_unsorted(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v, 0, true, false);
    out
}

/// Renders `v` on one line (Go's `json.Marshal`).
pub fn to_string_compact(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v, 0, false, true);
    out
}

fn newline(out: &mut String, depth: usize, pretty: bool) {
    if pretty {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("    ");
        }
    }
}

fn write_value(out: &mut String, v: &Value, depth: usize, pretty: bool, sort: bool) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_f64() {
                out.push_str(&super::go_float(n.as_f64().unwrap_or(0.0)));
            } else {
                out.push_str(&n.to_string());
            }
        }
        Value::String(s) => write_string(out, s),
        Value::Array(a) => {
            if a.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1, pretty);
                write_value(out, item, depth + 1, pretty, sort);
            }
            newline(out, depth, pretty);
            out.push(']');
        }
        Value::Object(m) => {
            if m.is_empty() {
                out.push_str("{}");
                return;
            }
            let mut keys: Vec<&String> = m.keys().collect();
            if sort {
                keys.sort();
            }
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1, pretty);
                write_string(out, k);
                out.push(':');
                if pretty {
                    out.push(' ');
                }
                write_value(out, &m[k], depth + 1, pretty, sort);
            }
            newline(out, depth, pretty);
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorted_indented_and_html_escaped() {
        let v = json!({"b": {"u": "<&>"}, "a": [], "c": [1]});
        assert_eq!(
            to_string_pretty(&v),
            "{\n    \"a\": [],\n    \"b\": {\n        \"u\": \"\\u003c\\u0026\\u003e\"\n    },\n    \"c\": [\n        1\n    ]\n}\n"
        );
    }
}
