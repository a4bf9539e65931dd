//! `kubectl get`: server-side Tables for people, objects for machines.

use std::cmp::Ordering;

use http::Method;
use serde_json::{json, Value};

use crate::cli::GetArgs;
use crate::client::{q, Client, TABLE_ACCEPT};
use crate::cmd::target::{self, Target};
use crate::error::Error;
use crate::output::jsonpath::Template;
use crate::output::table::{self, TableOptions};
use crate::output::{self, Format};
use crate::{print, Ctx};

const NO_TYPE: &str = "You must specify the type of resource to get. Use \"kubectl api-resources\" for a complete list of supported resources.\n\nerror: Required resource not specified.\nUse \"kubectl explain <resource>\" for a detailed description of that resource (e.g. kubectl explain pods).\nSee 'kubectl get -h' for help and examples";

/// What one target fetched.
enum Fetched {
    Table(Value),
    Objects { items: Vec<Value>, rv: String },
}

/// Runs `kubectl get`.
pub async fn run(ctx: &mut Ctx, a: GetArgs) -> Result<(), Error> {
    let format = Format::parse(a.output.as_deref())?;
    if let Some(raw) = &a.raw {
        let client = ctx.client().await?;
        let (status, body) = client
            .raw(Method::GET, raw, Some("application/json, */*"), None, None)
            .await?;
        if status >= 400 {
            return Err(crate::client::status_error(status, &body));
        }
        print(&String::from_utf8_lossy(&body));
        return Ok(());
    }
    if a.args.is_empty() && a.files.filename.is_empty() {
        return Err(Error::Verbatim(NO_TYPE.to_string()));
    }
    let client = ctx.client().await?;
    let ns = client.namespace.clone();
    let mut origins: Vec<Option<String>> = Vec::new();
    let targets = if a.files.filename.is_empty() {
        ctx.targets(&a.args, "kubectl get").await?
    } else {
        let manifests = crate::manifest::read_all(&a.files.filename, a.files.recursive)?;
        let disco = ctx.discovery_for(&manifests).await?;
        let ns_flag = ctx.global.namespace.clone();
        let mut ts = Vec::new();
        origins = manifests.iter().map(|m| m.dir.clone()).collect();
        for m in &manifests {
            let loc = crate::cmd::apply::locate(&disco, m, &ns, ns_flag.as_deref())?;
            ts.push(Target {
                resource: loc.resource,
                name: Some(loc.name),
                namespace: loc.namespace,
            });
        }
        ts
    };
    if a.all_namespaces
        && targets
            .iter()
            .any(|t| t.name.is_some() && t.resource.namespaced)
    {
        return Err(Error::msg(
            "a resource cannot be retrieved by name across all namespaces",
        ));
    }
    if (a.watch || a.watch_only) && targets.len() > 1 {
        return Err(Error::msg("you may only specify a single resource type"));
    }
    let mut with_kind = a.show_kind
        || a.args
            .first()
            .is_some_and(|x| x.split(',').any(|t| t == "all"));
    // One name, or one plain file holding one object, prints bare.
    let single_file = a.files.filename.len() == 1
        && a.files.filename[0] != "-"
        && !std::path::Path::new(&a.files.filename[0]).is_dir();
    let single_item = targets.len() == 1
        && targets[0].name.is_some()
        && (a.files.filename.is_empty() || single_file || targets.len() == 1);
    let ns_opt = if a.all_namespaces {
        None
    } else {
        Some(ns.as_str())
    };

    let watching = a.watch || a.watch_only;
    let mut widths = Vec::new();
    // Errors in visit order; `Err(dir)` stands for that directory's group.
    let mut ordered: Vec<Result<Error, String>> = Vec::new();
    let mut dir_errors: Vec<(String, Vec<Error>)> = Vec::new();
    let mut results: Vec<(Target, Fetched)> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        match fetch(&client, t, ns_opt, &a, format.is_table()).await {
            Ok(f) => results.push((t.clone(), f)),
            Err(e) if a.ignore_not_found && e.is_not_found() => {}
            Err(e) => match origins.get(i).cloned().flatten() {
                Some(dir) => match dir_errors.iter_mut().find(|(d, _)| *d == dir) {
                    Some((_, v)) => v.push(e),
                    None => {
                        ordered.push(Err(dir.clone()));
                        dir_errors.push((dir, vec![e]));
                    }
                },
                None => ordered.push(Ok(e)),
            },
        }
    }
    // Failures under one -f directory read as one aggregate `[a, b]`.
    let mut errors = Vec::new();
    for entry in ordered {
        let dir = match entry {
            Ok(e) => {
                errors.push(e);
                continue;
            }
            Err(dir) => dir,
        };
        let Some(pos) = dir_errors.iter().position(|(d, _)| *d == dir) else {
            continue;
        };
        let (_, mut errs) = dir_errors.swap_remove(pos);
        if errs.len() == 1 {
            errors.append(&mut errs);
        } else {
            let msgs: Vec<String> = errs
                .iter()
                .map(|e| match e {
                    Error::Api(s) => s["message"].as_str().unwrap_or_default().to_string(),
                    other => other.to_string(),
                })
                .collect();
            errors.push(Error::Verbatim(format!("[{}]", msgs.join(", "))));
        }
    }
    // Kinds prefix names when what came back spans several types.
    let fetched: Vec<Target> = results.iter().map(|(t, _)| t.clone()).collect();
    with_kind = with_kind || (!fetched.is_empty() && target::several_kinds(&fetched));

    if format.is_table() {
        let written;
        (written, widths) = print_tables(&mut results, &a, &format, with_kind)?;
        if !written && errors.is_empty() && !a.ignore_not_found && !watching {
            let all_namespaced = !a.all_namespaces && targets.iter().all(|t| t.resource.namespaced);
            if all_namespaced {
                crate::eprint_line(&format!("No resources found in {ns} namespace."));
            } else {
                crate::eprint_line("No resources found");
            }
        }
    } else if !a.watch_only {
        print_generic(&mut results, &a, &format, single_item)?;
    }
    if watching && errors.is_empty() {
        if let Some((t, f)) = results.first() {
            let rv = match f {
                Fetched::Table(tb) => tb["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                Fetched::Objects { rv, .. } => rv.clone(),
            };
            let path = watch_path(t, ns_opt, &a, format.is_table(), &rv);
            let opts = table_options(&a, &format, t, with_kind);
            watch(&client, &path, &a, &format, &opts, widths).await?;
        }
    }
    report(errors)
}

/// Prints every error but the last, and returns the last.
fn report(mut errors: Vec<Error>) -> Result<(), Error> {
    let last = errors.pop();
    for e in errors {
        crate::eprint_line(&e.to_string());
    }
    match last {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn list_query(a: &GetArgs, table: bool) -> Vec<String> {
    let mut qs = Vec::new();
    if let Some(l) = &a.selector {
        qs.push(format!("labelSelector={}", q(l)));
    }
    if let Some(f) = &a.field_selector {
        qs.push(format!("fieldSelector={}", q(f)));
    }
    if table && a.sort_by.is_some() {
        qs.push("includeObject=Object".to_string());
    }
    qs
}

async fn fetch(
    client: &Client,
    t: &Target,
    ns: Option<&str>,
    a: &GetArgs,
    table: bool,
) -> Result<Fetched, Error> {
    let accept = if table {
        TABLE_ACCEPT
    } else {
        "application/json"
    };
    if let Some(name) = &t.name {
        let mut path = t.resource.item_path(t.namespace.as_deref().or(ns), name);
        if table && a.sort_by.is_some() {
            path.push_str("?includeObject=Object");
        }
        let v = client
            .call(Method::GET, &path, Some(accept), None, None)
            .await?;
        return Ok(if table && v["kind"] == "Table" {
            Fetched::Table(v)
        } else {
            Fetched::Objects {
                items: vec![v],
                rv: String::new(),
            }
        });
    }
    let base = t.resource.collection_path(ns);
    let mut cont = String::new();
    let mut table_acc: Option<Value> = None;
    let mut items = Vec::new();
    let mut rv = String::new();
    loop {
        let mut qs = list_query(a, table);
        if a.chunk_size > 0 {
            qs.push(format!("limit={}", a.chunk_size));
        }
        if !cont.is_empty() {
            qs.push(format!("continue={}", q(&cont)));
        }
        let path = if qs.is_empty() {
            base.clone()
        } else {
            format!("{base}?{}", qs.join("&"))
        };
        let mut v = client
            .call(Method::GET, &path, Some(accept), None, None)
            .await?;
        cont = v["metadata"]["continue"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if table && v["kind"] == "Table" {
            match &mut table_acc {
                None => table_acc = Some(v),
                Some(acc) => {
                    let rows = v["rows"]
                        .as_array_mut()
                        .map(std::mem::take)
                        .unwrap_or_default();
                    if let Some(r) = acc["rows"].as_array_mut() {
                        r.extend(rows);
                    }
                    acc["metadata"] = v["metadata"].take();
                }
            }
        } else {
            rv = v["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let list_kind = v["kind"].as_str().unwrap_or_default();
            let kind = list_kind
                .strip_suffix("List")
                .unwrap_or(list_kind)
                .to_string();
            let api_version = v["apiVersion"].clone();
            for mut item in v["items"]
                .as_array_mut()
                .map(std::mem::take)
                .unwrap_or_default()
            {
                if item
                    .get("kind")
                    .is_none_or(|k| k.as_str().is_none_or(str::is_empty))
                {
                    item["kind"] = json!(kind);
                }
                if item
                    .get("apiVersion")
                    .is_none_or(|k| k.as_str().is_none_or(str::is_empty))
                {
                    item["apiVersion"] = api_version.clone();
                }
                items.push(item);
            }
        }
        if cont.is_empty() {
            break;
        }
    }
    Ok(match table_acc {
        Some(t) => Fetched::Table(t),
        None => Fetched::Objects { items, rv },
    })
}

fn table_options(a: &GetArgs, format: &Format, t: &Target, with_kind: bool) -> TableOptions {
    TableOptions {
        wide: *format == Format::Wide,
        no_headers: a.no_headers,
        with_namespace: a.all_namespaces && t.resource.namespaced,
        show_labels: a.show_labels,
        kind_prefix: with_kind.then(|| t.resource.kind_group()),
        label_columns: a.label_columns.clone(),
    }
}

/// Prints Tables grouped by resource as kubectl's get does; returns
/// whether anything was written, and the column widths last used.
fn print_tables(
    results: &mut [(Target, Fetched)],
    a: &GetArgs,
    format: &Format,
    with_kind: bool,
) -> Result<(bool, Vec<usize>), Error> {
    let mut out = String::new();
    let mut widths = Vec::new();
    let mut i = 0;
    while i < results.len() {
        let key = results[i].0.resource.group_resource();
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut last_columns: Option<Value> = None;
        let mut printed_headers = false;
        while i < results.len() && results[i].0.resource.group_resource() == key {
            let (t, f) = &mut results[i];
            if let Fetched::Table(tb) = f {
                if let Some(sort) = &a.sort_by {
                    sort_rows(tb, sort)?;
                }
                let cols = tb["columnDefinitions"].clone();
                let same = last_columns.as_ref() == Some(&cols);
                if !same {
                    last_columns = Some(cols);
                    printed_headers = false;
                }
                let opts = table_options(a, format, t, with_kind);
                let with_header = !printed_headers;
                let r = table::table_rows(tb, &opts, with_header);
                if !r.is_empty() {
                    printed_headers = true;
                }
                rows.extend(r);
            }
            i += 1;
        }
        if !rows.is_empty() {
            if !out.is_empty() && !a.no_headers {
                out.push('\n');
            }
            widths.clear();
            if a.watch_only {
                // Nothing printed: the first event prints the header.
                continue;
            }
            out.push_str(&remembered_tabwrite(&rows, &mut widths));
        }
    }
    print(&out);
    Ok((!out.is_empty(), widths))
}

fn print_generic(
    results: &mut [(Target, Fetched)],
    a: &GetArgs,
    format: &Format,
    single_item: bool,
) -> Result<(), Error> {
    let mut items = Vec::new();
    for (_, f) in results.iter_mut() {
        if let Fetched::Objects { items: it, .. } = f {
            items.append(it);
        }
    }
    if items.is_empty() && a.ignore_not_found {
        return Ok(());
    }
    if let Some(sort) = &a.sort_by {
        sort_values(&mut items, sort, |v| v)?;
    }
    if !a.show_managed_fields {
        items.iter_mut().for_each(strip_managed_fields);
    }
    let obj = if single_item && items.len() == 1 {
        items.pop().unwrap_or_default()
    } else {
        json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items})
    };
    let mut out = String::new();
    if let Format::CustomColumns(cols) = format {
        let list: Vec<&Value> = if output::is_list(&obj) {
            obj["items"]
                .as_array()
                .map(|v| v.iter().collect())
                .unwrap_or_default()
        } else {
            vec![&obj]
        };
        out.push_str(&output::custom_columns(cols, &list, a.no_headers)?);
    } else {
        output::print_object(format, &obj, &mut out)?;
    }
    print(&out);
    Ok(())
}

/// kubectl hides `metadata.managedFields` unless asked.
fn strip_managed_fields(obj: &mut Value) {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
}

fn sort_rows(tb: &mut Value, sort: &str) -> Result<(), Error> {
    if let Some(rows) = tb["rows"].as_array_mut() {
        sort_values(rows, sort, |r| &r["object"])?;
    }
    Ok(())
}

/// Sorts stably by the first value of a JSONPath, as kubectl's sorter:
/// numbers numerically, strings in natural order.
fn sort_values<T>(items: &mut [T], sort: &str, obj: impl Fn(&T) -> &Value) -> Result<(), Error> {
    let tpl = Template::parse(&output::relaxed_jsonpath(sort))?;
    let mut keyed: Vec<(Option<Value>, usize)> = Vec::new();
    for (i, it) in items.iter().enumerate() {
        keyed.push((tpl.values(obj(it))?.into_iter().next(), i));
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|x, y| cmp_values(keyed[*x].0.as_ref(), keyed[*y].0.as_ref()));
    // Apply the permutation.
    let mut pos: Vec<usize> = vec![0; items.len()];
    for (new, old) in order.iter().enumerate() {
        pos[*old] = new;
    }
    for i in 0..items.len() {
        while pos[i] != i {
            let j = pos[i];
            items.swap(i, j);
            pos.swap(i, j);
        }
    }
    Ok(())
}

fn cmp_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, _) => Ordering::Less,
        (_, None) => Ordering::Greater,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => natural_cmp(x, y),
        (Some(x), Some(y)) => {
            output::jsonpath::format_value(x).cmp(&output::jsonpath::format_value(y))
        }
    }
}

/// Natural order: digit runs compare as numbers.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let x = a[si..i].trim_start_matches('0');
            let y = b[sj..j].trim_start_matches('0');
            let o = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
            if o != Ordering::Equal {
                return o;
            }
        } else {
            if ab[i] != bb[j] {
                return ab[i].cmp(&bb[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j))
}

/// The watch URL continuing from the list at `rv`.
fn watch_path(t: &Target, ns: Option<&str>, a: &GetArgs, table: bool, rv: &str) -> String {
    let base = t.resource.collection_path(ns);
    let mut qs = list_query(a, table);
    qs.push("watch=true".to_string());
    if !rv.is_empty() {
        qs.push(format!("resourceVersion={}", q(rv)));
    }
    if let Some(n) = &t.name {
        qs.push(format!(
            "fieldSelector={}",
            q(&format!("metadata.name={n}"))
        ));
    }
    format!("{base}?{}", qs.join("&"))
}

async fn watch(
    client: &Client,
    path: &str,
    a: &GetArgs,
    format: &Format,
    opts: &TableOptions,
    mut widths: Vec<usize>,
) -> Result<(), Error> {
    let table = format.is_table();
    let accept = if table {
        TABLE_ACCEPT
    } else {
        "application/json"
    };
    // Column widths persist across events, as kubectl's tab writer
    // remembers them.
    let mut header_done = !a.watch_only || a.no_headers;
    let res = client
        .watch(path, accept, |ev| {
            let ty = ev["type"].as_str().unwrap_or_default();
            let obj = &ev["object"];
            if ty == "ERROR" {
                return Err(Error::Api(Box::new(obj.clone())));
            }
            if ty == "BOOKMARK" {
                return Ok(true);
            }
            if table && obj["kind"] == "Table" {
                let mut rows = Vec::new();
                if !header_done {
                    rows.push(table::header(obj, opts));
                    header_done = true;
                }
                for r in obj["rows"].as_array().into_iter().flatten() {
                    rows.push(table::row_cells(obj, r, opts));
                }
                print(&remembered_tabwrite(&rows, &mut widths));
            } else {
                let mut obj = obj.clone();
                if !a.show_managed_fields {
                    strip_managed_fields(&mut obj);
                }
                let obj = &obj;
                let mut out = String::new();
                if *format == Format::Yaml {
                    out.push_str("---\n");
                }
                output::print_object(format, obj, &mut out)?;
                print(&out);
            }
            Ok(true)
        })
        .await;
    match res {
        // A timed-out or closed watch ends the command quietly.
        Err(Error::Transport { .. }) => Ok(()),
        other => other,
    }
}

fn remembered_tabwrite(rows: &[Vec<String>], widths: &mut Vec<usize>) -> String {
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 < r.len() {
                if widths.len() <= i {
                    widths.resize(i + 1, 0);
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec!["a10", "a9", "b", "a"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, vec!["a", "a9", "a10", "b"]);
    }

    #[test]
    fn sorts_by_jsonpath() {
        let mut items = vec![
            json!({"metadata": {"name": "b"}, "n": 2}),
            json!({"metadata": {"name": "a"}, "n": 10}),
        ];
        sort_values(&mut items, ".metadata.name", |v| v).unwrap();
        assert_eq!(items[0]["metadata"]["name"], "a");
        sort_values(&mut items, "{.n}", |v| v).unwrap();
        assert_eq!(items[0]["n"], 2);
    }
}
