//! `kubectl edit`: the objects as YAML (or JSON) in a temporary file,
//! `$KUBE_EDITOR`/`$EDITOR` on it, and the differences sent back as
//! patches. Failed saves reopen the editor with the errors in the header.

use std::path::{Path, PathBuf};

use clap::Args;
use http::Method;
use serde_json::{json, Value};

use crate::cli::FileArgs;
use crate::cmd::set::common::{self, Obj, Query};
use crate::output::Format;
use crate::{Ctx, Error};

/// `kubectl edit`.
#[derive(Args, Debug)]
pub struct EditArgs {
    pub args: Vec<String>,
    #[command(flatten)]
    pub files: FileArgs,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[arg(long = "output-patch", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub output_patch: bool,
    #[arg(long = "windows-line-endings", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub windows_line_endings: bool,
    #[arg(long = "save-config", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub save_config: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "strict", default_value = "strict")]
    pub validate: String,
    #[arg(long)]
    pub subresource: Option<String>,
    #[arg(long = "field-manager", default_value = "kubectl-edit")]
    pub field_manager: String,
    #[arg(long = "show-managed-fields", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub show_managed_fields: bool,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
}

const HEADER: &str = "# Please edit the object below. Lines beginning with a '#' will be ignored,\n# and an empty file will abort the edit. If an error occurs while saving this file will be\n# reopened with the relevant failures.\n#\n";

/// The text without `#` comment lines (and without trailing blank ones).
fn strip_comments(s: &str) -> String {
    s.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}

/// The editor command line for `path`, as upstream's `defaultEnvEditor`
/// builds it: plain words are split, anything quoted goes through `sh -c`.
fn editor_command(path: &Path) -> Vec<String> {
    let editor = ["KUBE_EDITOR", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "vi".to_string());
    let p = path.display().to_string();
    if !editor.contains(' ') {
        return vec![editor, p];
    }
    if !editor.contains(['"', '\'', '\\']) {
        let mut v: Vec<String> = editor.split(' ').map(String::from).collect();
        v.push(p);
        return v;
    }
    let shell = std::env::var("SHELL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/bash".into());
    vec![shell, "-c".into(), format!("{editor} {p:?}")]
}

fn temp_file(ext: &str) -> Result<PathBuf, Error> {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        ^ std::process::id().wrapping_mul(2_654_435_761);
    for i in 0..100u32 {
        let n = seed.wrapping_add(i.wrapping_mul(7_919)) % 4_000_000_000;
        let p = std::env::temp_dir().join(format!("kubectl-edit-{n}.{ext}"));
        if !p.exists() {
            return Ok(p);
        }
    }
    Err(Error::msg("could not create a temporary file"))
}

fn io_err(context: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::Io { context, source: e }
}

/// Serialises what the user edits: one object, or a List of several.
fn render(objs: &[Obj], json: bool, managed: bool) -> String {
    let clean = |o: &Value| {
        let mut o = o.clone();
        if !managed {
            if let Some(m) = o["metadata"].as_object_mut() {
                m.remove("managedFields");
            }
        }
        o
    };
    let doc = if objs.len() == 1 {
        clean(&objs[0].object)
    } else {
        json!({
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {},
            "items": objs.iter().map(|o| clean(&o.object)).collect::<Vec<_>>(),
        })
    };
    if json {
        crate::output::json::to_string_pretty(&doc)
    } else {
        crate::output::yaml::to_string(&doc)
    }
}

/// The edited objects (a List's items, or every YAML document).
fn parse_edited(text: &str) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let v: Value = serde::Deserialize::deserialize(doc)
            .map_err(|e| Error::msg(format!("error converting YAML to JSON: {e}")))?;
        if v.is_null() {
            continue;
        }
        if v["kind"].as_str().is_some_and(|k| k.ends_with("List")) && v["items"].is_array() {
            out.extend(v["items"].as_array().cloned().unwrap_or_default());
        } else {
            out.push(v);
        }
    }
    Ok(out)
}

/// The header lines for a failed save.
fn error_header(obj: &Obj, e: &Error) -> String {
    let mut h = String::new();
    match e {
        Error::Api(s) if s["reason"] == "Invalid" => {
            h.push_str(&format!(
                "# {} {:?} was not valid:\n",
                obj.resource.group_resource(),
                obj.name
            ));
            for c in s["details"]["causes"].as_array().into_iter().flatten() {
                h.push_str(&format!(
                    "# * {}: {}\n",
                    c["field"].as_str().unwrap_or_default(),
                    c["message"].as_str().unwrap_or_default()
                ));
            }
        }
        other => {
            let msg = common::inner_message(other);
            for l in msg.lines() {
                h.push_str(&format!("# {l}\n"));
            }
        }
    }
    h.push_str("#\n");
    h
}

/// Runs `kubectl edit`.
pub async fn run(ctx: &mut Ctx, a: EditArgs) -> Result<(), Error> {
    let cmd = "kubectl edit";
    let format = match a.output.as_deref().filter(|o| !o.is_empty()) {
        None => None,
        Some("yaml") => Some(Format::Yaml),
        Some("json") => Some(Format::Json),
        Some(o) => {
            return Err(Error::msg(format!(
                "unable to match a printer suitable for the output format {o:?}, allowed formats are: json,yaml"
            )))
        }
    };
    let q = Query {
        args: &a.args,
        files: &a.files,
        selector: a.selector.as_deref(),
        all: false,
        allow_empty: false,
        local: false,
        cmd,
    };
    let (objs, errs) = common::find(ctx, &q).await?;
    if let Some(e) = errs.into_iter().next() {
        return Err(e);
    }
    if objs.is_empty() {
        return Err(Error::msg("no objects found"));
    }
    let json_mode = format == Some(Format::Json);
    let path = temp_file(if json_mode { "json" } else { "yaml" })?;
    let original = render(&objs, json_mode, a.show_managed_fields);
    let client = ctx.client().await?;
    let mut header = String::new();
    let mut body = original.clone();
    let mut previous: Option<String> = None;
    loop {
        // JSON has no comments: only YAML gets the header.
        let mut text = if json_mode {
            body.clone()
        } else {
            format!("{HEADER}{header}{body}")
        };
        if a.windows_line_endings {
            text = text.replace('\n', "\r\n");
        }
        std::fs::write(&path, &text).map_err(io_err(format!("writing {}", path.display())))?;
        let argv = editor_command(&path);
        let status = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .status();
        let ok = status.as_ref().is_ok_and(std::process::ExitStatus::success);
        if !ok {
            let _ = std::fs::remove_file(&path);
            return Err(Error::msg(format!(
                "there was a problem with the editor {:?}",
                argv[0]
            )));
        }
        let edited = std::fs::read_to_string(&path)
            .map_err(io_err(format!("reading {}", path.display())))?
            .replace("\r\n", "\n");
        let stripped = strip_comments(&edited);
        if previous.as_deref() == Some(stripped.as_str()) {
            crate::eprint_line(&format!(
                "A copy of your changes has been stored to {:?}",
                path.display().to_string()
            ));
            return Err(Error::msg("Edit cancelled, no valid changes were saved."));
        }
        if stripped == strip_comments(&original) {
            let _ = std::fs::remove_file(&path);
            crate::eprint_line("Edit cancelled, no changes made.");
            return Ok(());
        }
        if stripped.trim().is_empty() {
            let _ = std::fs::remove_file(&path);
            crate::eprint_line("Edit cancelled, saved file was empty.");
            return Ok(());
        }
        let edited_objs = match parse_edited(&stripped) {
            Ok(v) => v,
            Err(e) => {
                header = format!(
                    "# The edited file had a syntax error: {}\n#\n",
                    common::bare_message(&e)
                );
                body = format!("{stripped}\n");
                previous = Some(stripped);
                continue;
            }
        };
        let mut failures = String::new();
        for new in &edited_objs {
            let name = new["metadata"]["name"].as_str().unwrap_or_default();
            let kind = new["kind"].as_str().unwrap_or_default();
            let Some(orig) = objs.iter().find(|o| o.name == name) else {
                crate::eprint_line(&format!(
                    "A copy of your changes has been stored to {:?}",
                    path.display().to_string()
                ));
                return Err(Error::msg(
                    "At least one of apiVersion, kind and name was changed",
                ));
            };
            if orig.object["kind"].as_str() != Some(kind)
                || orig.object["apiVersion"] != new["apiVersion"]
            {
                failures.push_str(&format!(
                    "# {} {name:?} was not valid:\n# * kind: Invalid value: {kind:?}: must not change\n#\n",
                    orig.resource.group_resource()
                ));
                continue;
            }
            let mut patch = common::merge_diff(&orig.object, new);
            if a.save_config {
                let with = crate::patch::with_last_applied(new);
                patch = common::merge_diff(&orig.object, &with);
            }
            if common::is_empty_patch(&patch) {
                common::report(
                    format.as_ref(),
                    &orig.object,
                    &orig.resource.kind_group(),
                    name,
                    "skipped",
                )?;
                continue;
            }
            if a.output_patch {
                crate::print(&format!(
                    "Patch: {}\n",
                    crate::output::json::to_string_compact(&patch)
                ));
            }
            let mut target = orig.path();
            if let Some(s) = &a.subresource {
                target = format!("{target}/{s}");
            }
            let res = client
                .call(
                    Method::PATCH,
                    &format!("{target}?fieldManager={}", a.field_manager),
                    Some("application/json"),
                    Some("application/merge-patch+json"),
                    Some(serde_json::to_vec(&patch).unwrap_or_default()),
                )
                .await;
            match res {
                Ok(after) => common::report(
                    format.as_ref(),
                    &after,
                    &orig.resource.kind_group(),
                    name,
                    "edited",
                )?,
                Err(e) => failures.push_str(&error_header(orig, &e)),
            }
        }
        if failures.is_empty() {
            let _ = std::fs::remove_file(&path);
            return Ok(());
        }
        header = failures;
        body = format!("{stripped}\n");
        previous = Some(stripped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_ignored() {
        assert_eq!(strip_comments("# a\nx: 1\n# b\n\n"), "x: 1");
    }

    #[test]
    fn edited_lists_flatten() {
        let v = parse_edited("apiVersion: v1\nkind: List\nitems:\n- kind: ConfigMap\n  metadata: {name: a}\n- kind: ConfigMap\n  metadata: {name: b}\n").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1]["metadata"]["name"], "b");
    }
}
