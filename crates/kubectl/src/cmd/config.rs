//! `kubectl config`: view and edit kubeconfig files as client-go's
//! `ModifyConfig` does (each entry written back to the file defining it).

use serde_json::{json, Value};

use crate::cli::ConfigCmd;
use crate::error::Error;
use crate::kubeconfig::{Kubeconfig, Named, Section};
use crate::output::table::tabwrite;
use crate::output::{self, Format};
use crate::{print, Ctx};

/// Runs a `kubectl config` subcommand.
pub fn run(ctx: &mut Ctx, cmd: ConfigCmd) -> Result<(), Error> {
    match cmd {
        ConfigCmd::View {
            minify,
            raw,
            flatten,
            output,
        } => view(ctx, minify, raw, flatten, &output),
        ConfigCmd::GetContexts {
            names,
            output,
            no_headers,
        } => get_contexts(ctx, &names, output.as_deref(), no_headers),
        ConfigCmd::GetClusters => {
            let mut names: Vec<String> = ctx
                .loaded()?
                .merged
                .clusters
                .iter()
                .map(|n| n.name.clone())
                .collect();
            names.sort();
            print(&format!(
                "NAME\n{}",
                names.iter().map(|n| format!("{n}\n")).collect::<String>()
            ));
            Ok(())
        }
        ConfigCmd::GetUsers => {
            let mut names: Vec<String> = ctx
                .loaded()?
                .merged
                .users
                .iter()
                .map(|n| n.name.clone())
                .collect();
            names.sort();
            print(&format!(
                "NAME\n{}",
                names.iter().map(|n| format!("{n}\n")).collect::<String>()
            ));
            Ok(())
        }
        ConfigCmd::CurrentContext => {
            let c = ctx.loaded()?.merged.current_context.clone();
            if c.is_empty() {
                return Err(Error::msg("current-context is not set"));
            }
            print(&format!("{c}\n"));
            Ok(())
        }
        ConfigCmd::UseContext { name } => {
            let Some(name) = name else {
                return Err(Error::usage(
                    "kubectl config use-context",
                    "Unexpected args: []",
                ));
            };
            let loaded = ctx.loaded()?;
            if loaded.merged.get(Section::Contexts, &name).is_none() {
                return Err(Error::msg(format!(
                    "no context exists with the name: \"{name}\""
                )));
            }
            let file = loaded.current_context_file();
            loaded.modify_file(&file, |c| c.current_context = name.clone())?;
            print(&format!("Switched to context \"{name}\".\n"));
            Ok(())
        }
        ConfigCmd::SetContext { name, current } => set_context(ctx, name, current),
        ConfigCmd::SetCluster {
            name,
            tls_server_name,
            embed_certs,
        } => set_cluster(ctx, name, tls_server_name, embed_certs),
        ConfigCmd::SetCredentials {
            name,
            username,
            password,
            embed_certs,
        } => set_credentials(ctx, name, username, password, embed_certs),
        ConfigCmd::DeleteContext { name } => delete_entry(ctx, Section::Contexts, name),
        ConfigCmd::DeleteCluster { name } => delete_entry(ctx, Section::Clusters, name),
        ConfigCmd::DeleteUser { name } => delete_entry(ctx, Section::Users, name),
    }
}

fn view(ctx: &mut Ctx, minify: bool, raw: bool, flatten: bool, output: &str) -> Result<(), Error> {
    let format = Format::parse(Some(output))?;
    let context_flag = ctx.global.context.clone();
    let mut cfg: Kubeconfig = ctx.loaded()?.merged.clone();
    if minify {
        let c = context_flag.unwrap_or_else(|| cfg.current_context.clone());
        cfg.minify(&c)?;
    }
    if flatten {
        flatten_files(&mut cfg)?;
    }
    if !raw {
        cfg.redact();
    }
    let mut out = String::new();
    if format == Format::Json {
        // A typed struct: Go's field order.
        out = output::json::to_string_pretty_unsorted(&struct_order(&cfg.to_value()));
        out.push('\n');
    } else {
        output::print_object(&format, &cfg.to_value(), &mut out)?;
    }
    print(&out);
    Ok(())
}

/// Reorders a kubeconfig's keys as client-go's v1 structs declare them.
fn struct_order(v: &Value) -> Value {
    const CONFIG: &[&str] = &[
        "kind",
        "apiVersion",
        "preferences",
        "clusters",
        "users",
        "contexts",
        "current-context",
        "extensions",
    ];
    const CLUSTER: &[&str] = &[
        "server",
        "tls-server-name",
        "insecure-skip-tls-verify",
        "certificate-authority",
        "certificate-authority-data",
        "proxy-url",
        "disable-compression",
        "extensions",
    ];
    const USER: &[&str] = &[
        "client-certificate",
        "client-certificate-data",
        "client-key",
        "client-key-data",
        "token",
        "tokenFile",
        "as",
        "as-uid",
        "as-groups",
        "as-user-extra",
        "username",
        "password",
        "auth-provider",
        "exec",
        "extensions",
    ];
    const CONTEXT: &[&str] = &["cluster", "user", "namespace", "extensions"];
    fn order(v: &Value, keys: &[&str]) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        if let Some(src) = v.as_object() {
            for k in keys {
                if let Some(x) = src.get(*k) {
                    m.insert(k.to_string(), x.clone());
                }
            }
            for (k, x) in src {
                if !m.contains_key(k) {
                    m.insert(k.clone(), x.clone());
                }
            }
        }
        m
    }
    let mut top = order(v, CONFIG);
    for (list, inner, keys) in [
        ("clusters", "cluster", CLUSTER),
        ("users", "user", USER),
        ("contexts", "context", CONTEXT),
    ] {
        if let Some(items) = top.get_mut(list).and_then(Value::as_array_mut) {
            for item in items.iter_mut() {
                let mut m = serde_json::Map::new();
                m.insert("name".into(), item["name"].clone());
                m.insert(inner.into(), Value::Object(order(&item[inner], keys)));
                *item = Value::Object(m);
            }
        }
    }
    Value::Object(top)
}

/// Inlines referenced certificate files as `-data` fields.
fn flatten_files(cfg: &mut Kubeconfig) -> Result<(), Error> {
    use base64::Engine;
    let inline = |v: &mut Value, file_key: &str, data_key: &str| -> Result<(), Error> {
        if let Some(p) = v[file_key].as_str().map(String::from) {
            let bytes = std::fs::read(&p).map_err(|e| Error::Io {
                context: format!("reading {p}"),
                source: e,
            })?;
            v[data_key] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
            if let Some(m) = v.as_object_mut() {
                m.remove(file_key);
            }
        }
        Ok(())
    };
    for c in &mut cfg.clusters {
        inline(
            &mut c.value,
            "certificate-authority",
            "certificate-authority-data",
        )?;
    }
    for u in &mut cfg.users {
        inline(
            &mut u.value,
            "client-certificate",
            "client-certificate-data",
        )?;
        inline(&mut u.value, "client-key", "client-key-data")?;
    }
    Ok(())
}

fn get_contexts(
    ctx: &mut Ctx,
    names: &[String],
    output: Option<&str>,
    no_headers: bool,
) -> Result<(), Error> {
    let cfg = ctx.loaded()?.merged.clone();
    let mut ctxs: Vec<&Named> = cfg.contexts.iter().collect();
    ctxs.sort_by(|a, b| a.name.cmp(&b.name));
    let mut selected = Vec::new();
    let mut missing = Vec::new();
    if names.is_empty() {
        selected = ctxs;
    } else {
        for n in names {
            match ctxs.iter().find(|c| &c.name == n) {
                Some(c) => selected.push(*c),
                None => missing.push(n.clone()),
            }
        }
    }
    match output {
        Some("name") => {
            print(
                &selected
                    .iter()
                    .map(|c| format!("{}\n", c.name))
                    .collect::<String>(),
            );
        }
        None | Some("") => {
            let mut rows = Vec::new();
            if !no_headers {
                rows.push(
                    ["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"]
                        .map(String::from)
                        .to_vec(),
                );
            }
            for c in &selected {
                let v = &c.value;
                rows.push(vec![
                    if c.name == cfg.current_context {
                        "*".into()
                    } else {
                        String::new()
                    },
                    c.name.clone(),
                    v["cluster"].as_str().unwrap_or_default().to_string(),
                    v["user"].as_str().unwrap_or_default().to_string(),
                    v["namespace"].as_str().unwrap_or_default().to_string(),
                ]);
            }
            print(&tabwrite(&rows));
        }
        Some(o) => {
            return Err(Error::msg(format!(
                "output must be one of '' or 'name': {o}"
            )))
        }
    }
    if let Some(m) = missing.first() {
        return Err(Error::msg(format!("context {m} not found")));
    }
    Ok(())
}

fn set_context(ctx: &mut Ctx, name: Option<String>, current: bool) -> Result<(), Error> {
    let g = ctx.global.clone();
    let loaded = ctx.loaded()?;
    let name = match (name, current) {
        (Some(_), true) => {
            return Err(Error::usage(
                "kubectl config set-context",
                "you cannot specify both a context name and --current",
            ))
        }
        (Some(n), false) => n,
        (None, true) => {
            let c = loaded.merged.current_context.clone();
            if c.is_empty() {
                return Err(Error::msg("no current context is set"));
            }
            c
        }
        (None, false) => {
            return Err(Error::usage(
                "kubectl config set-context",
                "you must specify a non-empty context name or --current",
            ));
        }
    };
    let exists = loaded.merged.get(Section::Contexts, &name).is_some();
    let file = loaded.file_for(Section::Contexts, &name);
    loaded.modify_file(&file, |c| {
        let entry = upsert(c, Section::Contexts, &name);
        if let Some(v) = &g.cluster {
            entry["cluster"] = json!(v);
        }
        if let Some(v) = &g.user {
            entry["user"] = json!(v);
        }
        if let Some(v) = &g.namespace {
            entry["namespace"] = json!(v);
        }
    })?;
    if exists {
        print(&format!("Context \"{name}\" modified.\n"));
    } else {
        print(&format!("Context \"{name}\" created.\n"));
    }
    Ok(())
}

fn upsert<'a>(c: &'a mut Kubeconfig, s: Section, name: &str) -> &'a mut Value {
    let list = c.section_mut(s);
    let idx = match list.iter().position(|n| n.name == name) {
        Some(i) => i,
        None => {
            list.push(Named {
                name: name.to_string(),
                value: json!({}),
            });
            list.len() - 1
        }
    };
    if !list[idx].value.is_object() {
        list[idx].value = json!({});
    }
    &mut list[idx].value
}

fn read_b64(path: &str) -> Result<String, Error> {
    use base64::Engine;
    let bytes = std::fs::read(path).map_err(|e| Error::Io {
        context: format!("could not read {path}"),
        source: e,
    })?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn set_cluster(
    ctx: &mut Ctx,
    name: Option<String>,
    tls_server_name: Option<String>,
    embed: bool,
) -> Result<(), Error> {
    let Some(name) = name else {
        return Err(Error::usage(
            "kubectl config set-cluster",
            "Unexpected args: []",
        ));
    };
    let g = ctx.global.clone();
    let ca_data = match (&g.certificate_authority, embed) {
        (Some(p), true) => Some(read_b64(p)?),
        _ => None,
    };
    let loaded = ctx.loaded()?;
    let file = loaded.file_for(Section::Clusters, &name);
    loaded.modify_file(&file, |c| {
        let e = upsert(c, Section::Clusters, &name);
        if let Some(s) = &g.server {
            e["server"] = json!(s);
        }
        if let Some(t) = &tls_server_name {
            e["tls-server-name"] = json!(t);
        }
        // Upstream resets the flag unless it is given again.
        if g.insecure_skip_tls_verify == Some(true) {
            e["insecure-skip-tls-verify"] = json!(true);
            if let Some(m) = e.as_object_mut() {
                m.remove("certificate-authority");
                m.remove("certificate-authority-data");
            }
        } else if let Some(m) = e.as_object_mut() {
            m.remove("insecure-skip-tls-verify");
        }
        if let Some(d) = &ca_data {
            e["certificate-authority-data"] = json!(d);
            if let Some(m) = e.as_object_mut() {
                m.remove("certificate-authority");
                m.remove("insecure-skip-tls-verify");
            }
        } else if let Some(p) = &g.certificate_authority {
            let abs = std::path::absolute(p).unwrap_or_else(|_| p.into());
            e["certificate-authority"] = json!(abs.to_string_lossy());
            if let Some(m) = e.as_object_mut() {
                m.remove("certificate-authority-data");
                m.remove("insecure-skip-tls-verify");
            }
        }
    })?;
    print(&format!("Cluster \"{name}\" set.\n"));
    Ok(())
}

fn set_credentials(
    ctx: &mut Ctx,
    name: Option<String>,
    username: Option<String>,
    password: Option<String>,
    embed: bool,
) -> Result<(), Error> {
    let Some(name) = name else {
        return Err(Error::usage(
            "kubectl config set-credentials",
            "Unexpected args: []",
        ));
    };
    let g = ctx.global.clone();
    let (cert_data, key_data) = if embed {
        (
            g.client_certificate.as_deref().map(read_b64).transpose()?,
            g.client_key.as_deref().map(read_b64).transpose()?,
        )
    } else {
        (None, None)
    };
    let loaded = ctx.loaded()?;
    let file = loaded.file_for(Section::Users, &name);
    loaded.modify_file(&file, |c| {
        let e = upsert(c, Section::Users, &name);
        let set = |e: &mut Value, k: &str, v: &Option<String>| {
            if let Some(v) = v {
                e[k] = json!(v);
            }
        };
        set(e, "token", &g.token);
        set(e, "username", &username);
        set(e, "password", &password);
        match cert_data {
            Some(d) => {
                e["client-certificate-data"] = json!(d);
                if let Some(m) = e.as_object_mut() {
                    m.remove("client-certificate");
                }
            }
            None => {
                if let Some(p) = &g.client_certificate {
                    let abs = std::path::absolute(p).unwrap_or_else(|_| p.into());
                    e["client-certificate"] = json!(abs.to_string_lossy());
                }
            }
        }
        match key_data {
            Some(d) => {
                e["client-key-data"] = json!(d);
                if let Some(m) = e.as_object_mut() {
                    m.remove("client-key");
                }
            }
            None => {
                if let Some(p) = &g.client_key {
                    let abs = std::path::absolute(p).unwrap_or_else(|_| p.into());
                    e["client-key"] = json!(abs.to_string_lossy());
                }
            }
        }
    })?;
    print(&format!("User \"{name}\" set.\n"));
    Ok(())
}

fn delete_entry(ctx: &mut Ctx, s: Section, name: Option<String>) -> Result<(), Error> {
    let (cmd, what) = match s {
        Section::Contexts => ("kubectl config delete-context", "context"),
        Section::Clusters => ("kubectl config delete-cluster", "cluster"),
        Section::Users => ("kubectl config delete-user", "user"),
    };
    let Some(name) = name else {
        return Err(Error::usage(cmd, "Unexpected args: []"));
    };
    let loaded = ctx.loaded()?;
    let file = loaded.file_for(s, &name);
    if loaded.merged.get(s, &name).is_none() {
        return Err(Error::msg(format!(
            "cannot delete {what} {name}, not in {}",
            file.display()
        )));
    }
    let was_current = s == Section::Contexts && loaded.merged.current_context == name;
    loaded.modify_file(&file, |c| c.section_mut(s).retain(|n| n.name != name))?;
    if was_current {
        crate::eprint_line("warning: this removed your active context, use \"kubectl config use-context\" to select a different one");
    }
    print(&format!("deleted {what} {name} from {}\n", file.display()));
    Ok(())
}
