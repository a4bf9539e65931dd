//! Reading `-f` arguments: files, directories (`-R` to recurse), `-` for
//! stdin; multi-document YAML or JSON, and `List` objects flattened.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;

/// One object read from a manifest, with where it came from.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub object: Value,
    /// The file name as kubectl reports it (`STDIN` for `-`).
    pub source: String,
    /// The `-f` directory it was found under, if any: upstream reports
    /// several failures under one directory as one aggregate.
    pub dir: Option<String>,
}

/// Reads every object named by `files`.
pub fn read_all(files: &[String], recursive: bool) -> Result<Vec<Manifest>, Error> {
    let mut out = Vec::new();
    for f in files {
        if f == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Error::Io {
                    context: "reading stdin".into(),
                    source: e,
                })?;
            parse_into(&text, "STDIN", &mut out)?;
            continue;
        }
        let p = PathBuf::from(f);
        if !p.exists() {
            return Err(Error::msg(format!("the path \"{f}\" does not exist")));
        }
        if p.is_dir() {
            let mut files = Vec::new();
            walk(&p, recursive, &mut files)?;
            let first = out.len();
            for file in files {
                read_file(&file, &mut out)?;
            }
            for m in &mut out[first..] {
                m.dir = Some(f.clone());
            }
        } else {
            read_file(&p, &mut out)?;
        }
    }
    Ok(out)
}

fn walk(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::Io {
            context: format!("reading {}", dir.display()),
            source: e,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            if recursive {
                walk(&e, recursive, out)?;
            }
        } else if matches!(
            e.extension().and_then(|x| x.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            out.push(e);
        }
    }
    Ok(())
}

fn read_file(p: &Path, out: &mut Vec<Manifest>) -> Result<(), Error> {
    let text = std::fs::read_to_string(p).map_err(|e| Error::Io {
        context: format!("reading {}", p.display()),
        source: e,
    })?;
    parse_into(&text, &p.to_string_lossy(), out)
}

/// Parses YAML or JSON documents into objects.
pub fn parse_into(text: &str, source: &str, out: &mut Vec<Manifest>) -> Result<(), Error> {
    for doc in serde_yaml::Deserializer::from_str(text) {
        let v = Value::deserialize(doc).map_err(|e| {
            Error::msg(format!(
                "error parsing {source}: error converting YAML to JSON: {e}"
            ))
        })?;
        push_object(v, source, out)?;
    }
    Ok(())
}

fn push_object(v: Value, source: &str, out: &mut Vec<Manifest>) -> Result<(), Error> {
    if v.is_null() {
        return Ok(());
    }
    if v.as_object().is_some_and(|m| m.is_empty()) {
        return Ok(());
    }
    let kind = v["kind"].as_str().unwrap_or_default();
    if kind.is_empty() {
        return Err(Error::msg(format!(
            "error validating \"{source}\": error validating data: kind not set; if you choose to ignore these errors, turn validation off with --validate=false"
        )));
    }
    if kind.ends_with("List") && v["items"].is_array() {
        for item in v["items"].as_array().cloned().unwrap_or_default() {
            push_object(item, source, out)?;
        }
        return Ok(());
    }
    out.push(Manifest {
        object: v,
        source: source.to_string(),
        dir: None,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_and_lists() {
        let mut out = Vec::new();
        parse_into(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\nkind: List\napiVersion: v1\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n",
            "f.yaml",
            &mut out,
        )
        .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].object["kind"], "Secret");
    }
}
