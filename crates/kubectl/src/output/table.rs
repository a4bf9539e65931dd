//! Server-side `Table` printing as kubectl's table printer does it, through
//! a re-implementation of Go's tabwriter (padding 3, spaces).

use serde_json::Value;

/// Aligns `rows` as `tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)` does when
/// every cell but the last of a line ends in a tab.
pub fn tabwrite(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 < r.len() {
                widths[i] = widths[i].max(c.chars().count() + 3);
            }
        }
    }
    let mut out = String::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            out.push_str(c);
            if i + 1 < r.len() {
                for _ in c.chars().count()..widths[i] {
                    out.push(' ');
                }
            }
        }
        out.push('\n');
    }
    out
}

/// How to decorate a Table.
#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    /// Include priority > 0 columns (`-o wide`).
    pub wide: bool,
    pub no_headers: bool,
    /// Prepend NAMESPACE (`-A`).
    pub with_namespace: bool,
    /// Append LABELS.
    pub show_labels: bool,
    /// `kind.group` to prefix names with when several types print.
    pub kind_prefix: Option<String>,
    /// `-L` label columns.
    pub label_columns: Vec<String>,
}

/// The header row of `table`, or `None` when nothing should print.
pub fn header(table: &Value, opts: &TableOptions) -> Vec<String> {
    let mut h = Vec::new();
    if opts.with_namespace {
        h.push("NAMESPACE".to_string());
    }
    for c in columns(table) {
        if c["priority"].as_i64().unwrap_or(0) != 0 && !opts.wide {
            continue;
        }
        h.push(c["name"].as_str().unwrap_or_default().to_uppercase());
    }
    for l in &opts.label_columns {
        h.push(l.rsplit('/').next().unwrap_or(l).to_uppercase());
    }
    if opts.show_labels {
        h.push("LABELS".to_string());
    }
    h
}

fn columns(table: &Value) -> &[Value] {
    table["columnDefinitions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The printed cells of one Table row.
pub fn row_cells(table: &Value, row: &Value, opts: &TableOptions) -> Vec<String> {
    let cols = columns(table);
    let name_col = cols.iter().position(|c| c["format"] == "name");
    let mut out = Vec::new();
    let meta = &row["object"]["metadata"];
    if opts.with_namespace {
        out.push(meta["namespace"].as_str().unwrap_or_default().to_string());
    }
    let cells = row["cells"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    for (i, cell) in cells.iter().enumerate() {
        let Some(c) = cols.get(i) else { break };
        if c["priority"].as_i64().unwrap_or(0) != 0 && !opts.wide {
            continue;
        }
        let mut s = cell_text(cell);
        if Some(i) == name_col {
            if let Some(k) = &opts.kind_prefix {
                s = format!("{k}/{s}");
            }
        }
        out.push(s);
    }
    for l in &opts.label_columns {
        out.push(
            meta["labels"][l.as_str()]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    if opts.show_labels {
        out.push(format_labels(&meta["labels"]));
    }
    out
}

/// `k=v,k2=v2` sorted by key, or `<none>`.
pub fn format_labels(labels: &Value) -> String {
    let Some(m) = labels.as_object().filter(|m| !m.is_empty()) else {
        return "<none>".to_string();
    };
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    keys.into_iter()
        .map(|k| format!("{}={}", k, m[k].as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(",")
}

fn cell_text(cell: &Value) -> String {
    match cell {
        Value::Null => String::new(),
        Value::String(s) => match s.find(['\u{c}', '\n', '\r']) {
            Some(i) => format!("{}...", &s[..i]),
            None => s.clone(),
        },
        Value::Number(n) if n.is_f64() => super::go_float(n.as_f64().unwrap_or(0.0)),
        other => super::jsonpath::format_value(other),
    }
}

/// The rows (header first unless suppressed) of a Table; empty when the
/// Table has no rows, as upstream prints no header then.
pub fn table_rows(table: &Value, opts: &TableOptions, with_header: bool) -> Vec<Vec<String>> {
    let rows = table["rows"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let mut out = Vec::new();
    if rows.is_empty() {
        return out;
    }
    if with_header && !opts.no_headers {
        out.push(header(table, opts));
    }
    for r in rows {
        out.push(row_cells(table, r, opts));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pads_all_but_the_last_column() {
        let rows = vec![
            vec!["NAME".into(), "STATUS".into(), "AGE".into()],
            vec!["kube-system".into(), "Active".into(), "5s".into()],
        ];
        assert_eq!(
            tabwrite(&rows),
            "NAME          STATUS   AGE\nkube-system   Active   5s\n"
        );
    }

    #[test]
    fn decorates_rows() {
        let t = json!({"columnDefinitions": [
            {"name": "Name", "format": "name", "priority": 0},
            {"name": "IP", "format": "", "priority": 1}],
            "rows": [{"cells": ["x", "1.2.3.4"], "object": {"metadata": {"namespace": "ns", "labels": {"b": "2", "a": "1"}}}}]});
        let opts = TableOptions {
            with_namespace: true,
            show_labels: true,
            kind_prefix: Some("pod".into()),
            ..Default::default()
        };
        assert_eq!(
            table_rows(&t, &opts, true),
            vec![
                vec!["NAMESPACE", "NAME", "LABELS"],
                vec!["ns", "pod/x", "a=1,b=2"]
            ]
        );
    }
}
