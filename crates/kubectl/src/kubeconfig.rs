//! Kubeconfig files as client-go loads them: `--kubeconfig`, else the
//! `KUBECONFIG` list merged with the first file winning per key, else
//! `~/.kube/config`. Entries keep their raw fields so that writing a file
//! back loses nothing kubectl does not also drop.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::error::Error;

/// One named cluster, user, context or extension; `value` is the inner
/// object (`cluster:`, `user:`, `context:`, `extension:`).
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub name: String,
    pub value: Value,
}

/// A kubeconfig, either one file's or the merged view.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Kubeconfig {
    pub clusters: Vec<Named>,
    pub users: Vec<Named>,
    pub contexts: Vec<Named>,
    pub current_context: String,
    pub preferences: Map<String, Value>,
    pub extensions: Vec<Named>,
}

/// Which list of a kubeconfig an entry lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Clusters,
    Users,
    Contexts,
}

impl Section {
    fn key(self) -> (&'static str, &'static str) {
        match self {
            Section::Clusters => ("clusters", "cluster"),
            Section::Users => ("users", "user"),
            Section::Contexts => ("contexts", "context"),
        }
    }
}

impl Kubeconfig {
    /// Parses a file's text.
    pub fn parse(text: &str, path: &Path) -> Result<Kubeconfig, Error> {
        let v: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_yaml::from_str(text).map_err(|e| {
                Error::msg(format!(
                    "error loading config file \"{}\": {e}",
                    path.display()
                ))
            })?
        };
        let named = |list: &str, inner: &str| -> Vec<Named> {
            v[list]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|e| {
                            Some(Named {
                                name: e["name"].as_str()?.to_string(),
                                value: e.get(inner).cloned().unwrap_or_else(|| json!({})),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(Kubeconfig {
            clusters: named("clusters", "cluster"),
            users: named("users", "user"),
            contexts: named("contexts", "context"),
            current_context: v["current-context"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            preferences: v["preferences"].as_object().cloned().unwrap_or_default(),
            extensions: named("extensions", "extension"),
        })
    }

    /// The entries of `section`.
    pub fn section(&self, s: Section) -> &Vec<Named> {
        match s {
            Section::Clusters => &self.clusters,
            Section::Users => &self.users,
            Section::Contexts => &self.contexts,
        }
    }

    /// The entries of `section`, mutable.
    pub fn section_mut(&mut self, s: Section) -> &mut Vec<Named> {
        match s {
            Section::Clusters => &mut self.clusters,
            Section::Users => &mut self.users,
            Section::Contexts => &mut self.contexts,
        }
    }

    /// The entry `name` of `section`.
    pub fn get(&self, s: Section, name: &str) -> Option<&Value> {
        self.section(s)
            .iter()
            .find(|n| n.name == name)
            .map(|n| &n.value)
    }

    /// Merges `other` under `self`: keys already present win.
    pub fn merge_from(&mut self, other: Kubeconfig) {
        for s in [Section::Clusters, Section::Users, Section::Contexts] {
            for n in other.section(s).clone() {
                if self.get(s, &n.name).is_none() {
                    self.section_mut(s).push(n);
                }
            }
        }
        for n in other.extensions {
            if !self.extensions.iter().any(|e| e.name == n.name) {
                self.extensions.push(n);
            }
        }
        if self.current_context.is_empty() {
            self.current_context = other.current_context;
        }
        for (k, v) in other.preferences {
            self.preferences.entry(k).or_insert(v);
        }
    }

    /// The v1 `Config` object as client-go serialises it (entries sorted by
    /// name, `server`, `cluster` and `user` always present).
    pub fn to_value(&self) -> Value {
        let list = |s: Section| -> Value {
            let (_, inner) = s.key();
            let mut entries = self.section(s).clone();
            if entries.is_empty() {
                return Value::Null;
            }
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            Value::Array(
                entries
                    .into_iter()
                    .map(|n| {
                        let mut v = n.value;
                        if !v.is_object() {
                            v = json!({});
                        }
                        match s {
                            Section::Clusters => {
                                v.as_object_mut()
                                    .map(|m| m.entry("server").or_insert(json!("")));
                            }
                            Section::Contexts => {
                                if let Some(m) = v.as_object_mut() {
                                    m.entry("cluster").or_insert(json!(""));
                                    m.entry("user").or_insert(json!(""));
                                }
                            }
                            Section::Users => {}
                        }
                        json!({"name": n.name, inner: v})
                    })
                    .collect(),
            )
        };
        let mut out = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": list(Section::Clusters),
            "contexts": list(Section::Contexts),
            "users": list(Section::Users),
            "current-context": self.current_context,
            "preferences": Value::Object(self.preferences.clone()),
        });
        if !self.extensions.is_empty() {
            let mut ex = self.extensions.clone();
            ex.sort_by(|a, b| a.name.cmp(&b.name));
            out["extensions"] = Value::Array(
                ex.into_iter()
                    .map(|n| json!({"name": n.name, "extension": n.value}))
                    .collect(),
            );
        }
        out
    }

    /// Replaces secrets as `kubectl config view` does without `--raw`.
    pub fn redact(&mut self) {
        for c in &mut self.clusters {
            if let Some(m) = c.value.as_object_mut() {
                redact_key(m, "certificate-authority-data", "DATA+OMITTED");
            }
        }
        for u in &mut self.users {
            if let Some(m) = u.value.as_object_mut() {
                redact_key(m, "client-certificate-data", "DATA+OMITTED");
                redact_key(m, "client-key-data", "DATA+OMITTED");
                redact_key(m, "token", "REDACTED");
                redact_key(m, "password", "REDACTED");
            }
        }
    }

    /// Keeps only the context `ctx`, its cluster and its user.
    pub fn minify(&mut self, ctx: &str) -> Result<(), Error> {
        if ctx.is_empty() {
            return Err(Error::msg("current-context must exist in order to minify"));
        }
        let Some(c) = self.get(Section::Contexts, ctx).cloned() else {
            return Err(Error::msg(format!("cannot locate context {ctx}")));
        };
        let cluster = c["cluster"].as_str().unwrap_or_default().to_string();
        let user = c["user"].as_str().unwrap_or_default().to_string();
        self.contexts.retain(|n| n.name == ctx);
        self.clusters.retain(|n| n.name == cluster);
        self.users.retain(|n| n.name == user);
        self.current_context = ctx.to_string();
        Ok(())
    }
}

fn redact_key(m: &mut Map<String, Value>, key: &str, with: &str) {
    if m.get(key)
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
    {
        m.insert(key.to_string(), json!(with));
    }
}

/// The files a command reads, and the merged view.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The merged configuration.
    pub merged: Kubeconfig,
    /// Files in precedence order with what each holds (missing files hold
    /// an empty config).
    pub files: Vec<(PathBuf, Kubeconfig)>,
    /// Whether `--kubeconfig` named the single file.
    pub explicit: bool,
}

/// `~/.kube/config`.
pub fn default_path() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".kube").join("config")
}

/// Loads as client-go's default loading rules do.
pub fn load(explicit: Option<&Path>) -> Result<Loaded, Error> {
    let (paths, explicit_flag): (Vec<PathBuf>, bool) = match explicit {
        Some(p) => (vec![p.to_path_buf()], true),
        None => match std::env::var("KUBECONFIG") {
            Ok(v) if !v.is_empty() => {
                let mut seen = Vec::new();
                for p in std::env::split_paths(&v) {
                    if !p.as_os_str().is_empty() && !seen.contains(&p) {
                        seen.push(p);
                    }
                }
                (seen, false)
            }
            _ => (vec![default_path()], false),
        },
    };
    let mut files = Vec::new();
    let mut merged = Kubeconfig::default();
    for p in paths {
        let cfg = match std::fs::read_to_string(&p) {
            Ok(text) => Kubeconfig::parse(&text, &p)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if explicit_flag {
                    return Err(Error::msg(format!(
                        "stat {}: no such file or directory",
                        p.display()
                    )));
                }
                Kubeconfig::default()
            }
            Err(e) => {
                return Err(Error::Io {
                    context: format!("reading {}", p.display()),
                    source: e,
                })
            }
        };
        merged.merge_from(cfg.clone());
        files.push((p, cfg));
    }
    Ok(Loaded {
        merged,
        files,
        explicit: explicit_flag,
    })
}

impl Loaded {
    /// The file new entries go to: the only file, else the first that
    /// exists, else the last named.
    pub fn default_file(&self) -> PathBuf {
        if self.files.len() == 1 {
            return self.files[0].0.clone();
        }
        for (p, _) in &self.files {
            if p.exists() {
                return p.clone();
            }
        }
        self.files
            .last()
            .map(|f| f.0.clone())
            .unwrap_or_else(default_path)
    }

    /// The file defining `name` in `section`, else the default file.
    pub fn file_for(&self, s: Section, name: &str) -> PathBuf {
        self.files
            .iter()
            .find(|(_, c)| c.get(s, name).is_some())
            .map(|(p, _)| p.clone())
            .unwrap_or_else(|| self.default_file())
    }

    /// The file whose `current-context` is in effect, else the default.
    pub fn current_context_file(&self) -> PathBuf {
        self.files
            .iter()
            .find(|(_, c)| !c.current_context.is_empty())
            .map(|(p, _)| p.clone())
            .unwrap_or_else(|| self.default_file())
    }

    /// Applies `f` to the file at `path` (as loaded) and writes it.
    pub fn modify_file(
        &mut self,
        path: &Path,
        f: impl FnOnce(&mut Kubeconfig),
    ) -> Result<(), Error> {
        let idx = match self.files.iter().position(|(p, _)| p == path) {
            Some(i) => i,
            None => {
                self.files.push((path.to_path_buf(), Kubeconfig::default()));
                self.files.len() - 1
            }
        };
        f(&mut self.files[idx].1);
        write_file(path, &self.files[idx].1)
    }
}

/// Writes `cfg` to `path` as client-go does (mode 0600, parents created).
pub fn write_file(path: &Path, cfg: &Kubeconfig) -> Result<(), Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            context: format!("creating {}", dir.display()),
            source: e,
        })?;
    }
    let text = crate::output::yaml::to_string(&cfg.to_value());
    std::fs::write(path, text).map_err(|e| Error::Io {
        context: format!("writing {}", path.display()),
        source: e,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(())
}

/// Per-invocation overrides from the global flags.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub context: Option<String>,
    pub cluster: Option<String>,
    pub user: Option<String>,
    pub namespace: Option<String>,
    pub server: Option<String>,
    pub token: Option<String>,
    pub insecure_skip_tls_verify: bool,
    pub certificate_authority: Option<String>,
    pub client_certificate: Option<String>,
    pub client_key: Option<String>,
}

/// The effective cluster, user and namespace of an invocation.
#[derive(Debug, Clone)]
pub struct Selected {
    pub server: String,
    pub namespace: String,
    /// A one-context kubeconfig for kube-rs, with paths made absolute.
    pub kube_config: Value,
}

/// Picks context, cluster and user as client-go's `ClientConfig` does.
pub fn select(loaded: &Loaded, o: &Overrides) -> Result<Selected, Error> {
    let cfg = &loaded.merged;
    let ctx_name = o
        .context
        .clone()
        .unwrap_or_else(|| cfg.current_context.clone());
    let ctx = if ctx_name.is_empty() {
        json!({})
    } else {
        match cfg.get(Section::Contexts, &ctx_name) {
            Some(c) => c.clone(),
            None if o.context.is_some() => {
                return Err(Error::Verbatim(format!(
                "Error in configuration: context was not found for specified context: {ctx_name}"
            )))
            }
            None => json!({}),
        }
    };
    let cluster_name = o
        .cluster
        .clone()
        .unwrap_or_else(|| ctx["cluster"].as_str().unwrap_or_default().to_string());
    let user_name = o
        .user
        .clone()
        .unwrap_or_else(|| ctx["user"].as_str().unwrap_or_default().to_string());
    if o.cluster.is_some() && cfg.get(Section::Clusters, &cluster_name).is_none() {
        return Err(Error::msg(format!(
            "cluster \"{cluster_name}\" does not exist"
        )));
    }
    if o.user.is_some() && cfg.get(Section::Users, &user_name).is_none() {
        return Err(Error::msg(format!(
            "auth info \"{user_name}\" does not exist"
        )));
    }
    let base = |s: Section, name: &str| -> PathBuf {
        loaded
            .files
            .iter()
            .find(|(_, c)| c.get(s, name).is_some())
            .and_then(|(p, _)| p.parent().map(Path::to_path_buf))
            .unwrap_or_default()
    };
    let mut cluster = cfg
        .get(Section::Clusters, &cluster_name)
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut user = cfg
        .get(Section::Users, &user_name)
        .cloned()
        .unwrap_or_else(|| json!({}));
    resolve_paths(
        &mut cluster,
        &["certificate-authority"],
        &base(Section::Clusters, &cluster_name),
    );
    resolve_paths(
        &mut user,
        &["client-certificate", "client-key", "tokenFile"],
        &base(Section::Users, &user_name),
    );
    if let Some(s) = &o.server {
        cluster["server"] = json!(s);
    }
    if o.insecure_skip_tls_verify {
        cluster["insecure-skip-tls-verify"] = json!(true);
        if let Some(m) = cluster.as_object_mut() {
            m.remove("certificate-authority-data");
            m.remove("certificate-authority");
        }
    }
    if let Some(ca) = &o.certificate_authority {
        cluster["certificate-authority"] = json!(ca);
    }
    if let Some(t) = &o.token {
        user = json!({"token": t});
    }
    if let Some(c) = &o.client_certificate {
        user["client-certificate"] = json!(c);
    }
    if let Some(k) = &o.client_key {
        user["client-key"] = json!(k);
    }
    let server = cluster["server"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or("http://localhost:8080")
        .to_string();
    cluster["server"] = json!(server);
    let namespace = o
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            ctx["namespace"]
                .as_str()
                .filter(|n| !n.is_empty())
                .map(String::from)
        })
        .unwrap_or_else(|| "default".to_string());
    let kube_config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": namespace}}],
        "current-context": "x",
    });
    Ok(Selected {
        server,
        namespace,
        kube_config,
    })
}

fn resolve_paths(v: &mut Value, keys: &[&str], base: &Path) {
    for k in keys {
        if let Some(p) = v[*k].as_str().filter(|p| !p.is_empty()) {
            let pb = PathBuf::from(p);
            if pb.is_relative() {
                v[*k] = json!(base.join(pb).to_string_lossy());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c1\n  cluster: {server: 'https://a'}\ncontexts:\n- name: x\n  context: {cluster: c1, user: u1}\ncurrent-context: x\nusers:\n- name: u1\n  user: {token: secret}\n";
    const B: &str = "clusters:\n- name: c1\n  cluster: {server: 'https://b'}\n- name: c2\n  cluster: {server: 'https://c'}\ncurrent-context: y\n";

    #[test]
    fn first_file_wins_per_key() {
        let mut m = Kubeconfig::parse(A, Path::new("a")).unwrap();
        m.merge_from(Kubeconfig::parse(B, Path::new("b")).unwrap());
        assert_eq!(
            m.get(Section::Clusters, "c1").unwrap()["server"],
            "https://a"
        );
        assert_eq!(
            m.get(Section::Clusters, "c2").unwrap()["server"],
            "https://c"
        );
        assert_eq!(m.current_context, "x");
    }

    #[test]
    fn view_redacts_and_sorts() {
        let mut m = Kubeconfig::parse(A, Path::new("a")).unwrap();
        m.redact();
        let text = crate::output::yaml::to_string(&m.to_value());
        assert_eq!(
            text,
            "apiVersion: v1\nclusters:\n- cluster:\n    server: https://a\n  name: c1\ncontexts:\n- context:\n    cluster: c1\n    user: u1\n  name: x\ncurrent-context: x\nkind: Config\npreferences: {}\nusers:\n- name: u1\n  user:\n    token: REDACTED\n"
        );
    }

    #[test]
    fn selection_honours_overrides_and_resolves_paths() {
        let a = Kubeconfig::parse(
            "clusters:\n- name: c1\n  cluster: {server: 'https://a', certificate-authority: ca.crt}\ncontexts:\n- name: x\n  context: {cluster: c1, user: u1, namespace: nsx}\ncurrent-context: x\nusers:\n- name: u1\n  user: {token: t}\n",
            Path::new("/cfg/a"),
        )
        .unwrap();
        let loaded = Loaded {
            merged: a.clone(),
            files: vec![(PathBuf::from("/cfg/a"), a)],
            explicit: false,
        };
        let s = select(&loaded, &Overrides::default()).unwrap();
        assert_eq!(s.namespace, "nsx");
        assert_eq!(s.server, "https://a");
        assert_eq!(
            s.kube_config["clusters"][0]["cluster"]["certificate-authority"],
            "/cfg/ca.crt"
        );
        let o = Overrides {
            namespace: Some("n2".into()),
            context: Some("nope".into()),
            ..Default::default()
        };
        assert_eq!(
            select(&loaded, &o).unwrap_err().to_string(),
            "Error in configuration: context was not found for specified context: nope"
        );
    }

    #[test]
    fn empty_config_prints_nulls() {
        let text = crate::output::yaml::to_string(&Kubeconfig::default().to_value());
        assert_eq!(
            text,
            "apiVersion: v1\nclusters: null\ncontexts: null\ncurrent-context: \"\"\nkind: Config\npreferences: {}\nusers: null\n"
        );
    }
}
