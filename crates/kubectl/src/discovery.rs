//! Resource discovery: the aggregated documents under `/api` and `/apis`
//! (two requests, made together), and upstream's rules for turning what a
//! user typed (`po`, `deploy`, `deployments.apps`, `Pod`) into a resource.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::client::Client;
use crate::error::Error;

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

/// One resource of one group version.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub group: String,
    pub version: String,
    /// The plural, as in URLs.
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub verbs: Vec<String>,
    pub categories: Vec<String>,
    /// Whether `version` is the group's preferred one.
    pub preferred: bool,
}

impl Resource {
    /// `apps/v1` or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The URL of the collection in `ns` (`None`: all namespaces or
    /// cluster-scoped).
    pub fn collection_path(&self, ns: Option<&str>) -> String {
        let base = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match ns {
            Some(ns) if self.namespaced => format!("{base}/namespaces/{ns}/{}", self.plural),
            _ => format!("{base}/{}", self.plural),
        }
    }

    /// The URL of one object.
    pub fn item_path(&self, ns: Option<&str>, name: &str) -> String {
        format!("{}/{}", self.collection_path(ns), crate::client::q(name))
    }

    /// `pods` or `deployments.apps`: how errors name the resource.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `pod` or `deployment.apps`: how names are prefixed.
    pub fn kind_group(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_lowercase()
        } else {
            format!("{}.{}", self.kind.to_lowercase(), self.group)
        }
    }
}

/// Everything the server serves, in preference order (core first).
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub resources: Vec<Resource>,
    /// `(group, versions)` in server order, preferred version first.
    pub groups: Vec<(String, Vec<String>)>,
}

/// How long a cached discovery document is trusted, as upstream's
/// disk-cached discovery client.
const CACHE_TTL: Duration = Duration::from_secs(6 * 3600);
const CACHE_FILE: &str = "kubectl-rs-aggregated.json";

impl Discovery {
    /// Fetches `/api` and `/apis` together; with `cache`, writes them there.
    pub async fn load(client: &Client, cache: Option<&Path>) -> Result<Discovery, Error> {
        let (core, groups) = futures::join!(
            client.call(http::Method::GET, "/api", Some(AGGREGATED), None, None),
            client.call(http::Method::GET, "/apis", Some(AGGREGATED), None, None)
        );
        let docs = [core?, groups?];
        let d = Discovery::from_docs(&docs)?;
        if let Some(dir) = cache {
            // A cache that cannot be written only costs speed.
            let _ = std::fs::create_dir_all(dir);
            let text = serde_json::to_vec(&serde_json::json!({"core": docs[0], "groups": docs[1]}))
                .unwrap_or_default();
            let tmp = dir.join(format!("{CACHE_FILE}.{}", std::process::id()));
            if std::fs::write(&tmp, text).is_ok() {
                let _ = std::fs::rename(&tmp, dir.join(CACHE_FILE));
            }
        }
        Ok(d)
    }

    /// The cached documents in `dir` if younger than the TTL.
    pub fn load_cached(dir: &Path) -> Option<Discovery> {
        let path = dir.join(CACHE_FILE);
        let age = std::fs::metadata(&path)
            .ok()?
            .modified()
            .ok()?
            .elapsed()
            .ok()?;
        if age > CACHE_TTL {
            return None;
        }
        let v: Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
        Discovery::from_docs(&[v["core"].clone(), v["groups"].clone()]).ok()
    }

    fn from_docs(docs: &[Value]) -> Result<Discovery, Error> {
        let mut d = Discovery::default();
        for doc in docs {
            if doc["kind"] != "APIGroupDiscoveryList" {
                return Err(Error::msg(
                    "the server does not serve aggregated discovery (apidiscovery.k8s.io/v2)",
                ));
            }
            d.add_aggregated(doc);
        }
        Ok(d)
    }

    /// Adds one `APIGroupDiscoveryList`.
    pub fn add_aggregated(&mut self, doc: &Value) {
        for g in doc["items"].as_array().into_iter().flatten() {
            let group = g["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let mut versions = Vec::new();
            for (vi, v) in g["versions"].as_array().into_iter().flatten().enumerate() {
                let version = v["version"].as_str().unwrap_or_default().to_string();
                versions.push(version.clone());
                for r in v["resources"].as_array().into_iter().flatten() {
                    let strs = |k: &str| -> Vec<String> {
                        r[k].as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|s| s.as_str().map(String::from))
                            .collect()
                    };
                    self.resources.push(Resource {
                        group: group.clone(),
                        version: version.clone(),
                        plural: r["resource"].as_str().unwrap_or_default().to_string(),
                        singular: r["singularResource"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        kind: r["responseKind"]["kind"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        namespaced: r["scope"] == "Namespaced",
                        short_names: strs("shortNames"),
                        verbs: strs("verbs"),
                        categories: strs("categories"),
                        preferred: vi == 0,
                    });
                }
            }
            self.groups.push((group, versions));
        }
    }

    /// Resolves a typed resource name as kubectl's RESTMapper does.
    pub fn resolve(&self, arg: &str) -> Result<&Resource, Error> {
        let not_found = || Error::msg(format!("the server doesn't have a resource type \"{arg}\""));
        let lower = arg.to_lowercase();
        let matches_name = |r: &Resource, n: &str| {
            r.plural == n
                || r.singular == n
                || r.kind.to_lowercase() == n
                || r.short_names.iter().any(|s| s == n)
        };
        // Unqualified first: plural, singular, short name or kind in any
        // group's preferred version, core first.
        if let Some(r) = self
            .resources
            .iter()
            .find(|r| r.preferred && matches_name(r, &lower))
        {
            let by_short =
                r.plural != lower && r.singular != lower && r.kind.to_lowercase() != lower;
            if by_short {
                // Upstream warns when a short name is ambiguous.
                for other in self
                    .resources
                    .iter()
                    .filter(|o| o.preferred && o.group != r.group && o.short_names.contains(&lower))
                {
                    crate::eprint_line(&format!(
                        "Warning: short name \"{lower}\" could also match lower priority resource {}",
                        other.group_resource()
                    ));
                }
            }
            return Ok(r);
        }
        // `name.group` or `name.version.group`.
        if let Some((name, rest)) = lower.split_once('.') {
            if let Some(r) = self
                .resources
                .iter()
                .find(|r| r.preferred && r.group == rest && matches_name(r, name))
            {
                return Ok(r);
            }
            if let Some((version, group)) = rest.split_once('.') {
                if let Some(r) = self
                    .resources
                    .iter()
                    .find(|r| r.group == group && r.version == version && matches_name(r, name))
                {
                    return Ok(r);
                }
            }
            // `name.v1` for the core group.
            if let Some(r) = self
                .resources
                .iter()
                .find(|r| r.group.is_empty() && r.version == rest && matches_name(r, name))
            {
                return Ok(r);
            }
        }
        Err(not_found())
    }

    /// The resource serving `kind` in `api_version` (manifests).
    pub fn for_kind(&self, api_version: &str, kind: &str) -> Option<&Resource> {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        self.resources.iter().find(|r| {
            r.group == group && r.version == version && r.kind == kind && !r.plural.contains('/')
        })
    }

    /// The resources in category `cat` (e.g. `all`), preferred versions.
    pub fn category(&self, cat: &str) -> Vec<&Resource> {
        self.resources
            .iter()
            .filter(|r| r.preferred && r.categories.iter().any(|c| c == cat))
            .collect()
    }
}

/// Upstream's cache directory for a server: `~/.kube/cache/discovery/`
/// then the host and port with other characters replaced by `_`.
pub fn cache_dir(server: &str) -> Option<PathBuf> {
    let base = match std::env::var_os("KUBECACHEDIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME")?)
            .join(".kube")
            .join("cache"),
    };
    let host = server.split("://").nth(1).unwrap_or(server);
    let safe: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Some(base.join("discovery").join(safe.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn disco() -> Discovery {
        let mut d = Discovery::default();
        d.add_aggregated(&json!({"items": [{"metadata": {"name": ""}, "versions": [{"version": "v1", "resources": [
            {"resource": "pods", "singularResource": "pod", "responseKind": {"kind": "Pod"}, "scope": "Namespaced", "shortNames": ["po"], "categories": ["all"]},
            {"resource": "events", "singularResource": "event", "responseKind": {"kind": "Event"}, "scope": "Namespaced", "shortNames": ["ev"]}]}]}]}));
        d.add_aggregated(&json!({"items": [
            {"metadata": {"name": "apps"}, "versions": [{"version": "v1", "resources": [
                {"resource": "deployments", "singularResource": "deployment", "responseKind": {"kind": "Deployment"}, "scope": "Namespaced", "shortNames": ["deploy"], "categories": ["all"]}]}]},
            {"metadata": {"name": "events.k8s.io"}, "versions": [{"version": "v1", "resources": [
                {"resource": "events", "singularResource": "event", "responseKind": {"kind": "Event"}, "scope": "Namespaced", "shortNames": ["ev"]}]}]}]}));
        d
    }

    #[test]
    fn resolves_like_the_rest_mapper() {
        let d = disco();
        assert_eq!(d.resolve("po").unwrap().plural, "pods");
        assert_eq!(d.resolve("Pod").unwrap().plural, "pods");
        assert_eq!(d.resolve("deploy").unwrap().group, "apps");
        assert_eq!(d.resolve("deployments.apps").unwrap().group, "apps");
        assert_eq!(d.resolve("deployment.v1.apps").unwrap().group, "apps");
        assert_eq!(d.resolve("events").unwrap().group, "");
        assert_eq!(
            d.resolve("events.events.k8s.io").unwrap().group,
            "events.k8s.io"
        );
        assert_eq!(
            d.resolve("foo").unwrap_err().to_string(),
            "error: the server doesn't have a resource type \"foo\""
        );
        assert_eq!(d.category("all").len(), 2);
    }
}
