//! Discovery documents: `/api`, `/apis`, `/api/v1`, `/apis/<g>[/<v>]` and the
//! aggregated form (`apidiscovery.k8s.io/v2`) kubectl 1.33 asks for first.

use apimachinery::catalogue::{self, ResourceInfo};
use serde_json::{json, Value};

/// Kind, group, version and verbs of a subresource, as upstream reports them.
fn subresource_meta(r: &ResourceInfo, sub: &str) -> (String, String, String, Vec<&'static str>) {
    let same = |verbs: Vec<&'static str>| {
        (
            r.kind.to_string(),
            r.group.to_string(),
            r.version.to_string(),
            verbs,
        )
    };
    match sub {
        "status" => same(vec!["get", "patch", "update"]),
        "scale" => (
            "Scale".into(),
            "autoscaling".into(),
            "v1".into(),
            vec!["get", "patch", "update"],
        ),
        "binding" => ("Binding".into(), String::new(), "v1".into(), vec!["create"]),
        "eviction" => (
            "Eviction".into(),
            "policy".into(),
            "v1".into(),
            vec!["create"],
        ),
        "log" => same(vec!["get"]),
        "exec" => (
            "PodExecOptions".into(),
            String::new(),
            "v1".into(),
            vec!["create", "get"],
        ),
        "attach" => (
            "PodAttachOptions".into(),
            String::new(),
            "v1".into(),
            vec!["create", "get"],
        ),
        "portforward" => (
            "PodPortForwardOptions".into(),
            String::new(),
            "v1".into(),
            vec!["create", "get"],
        ),
        "proxy" => (
            format!("{}ProxyOptions", r.kind),
            String::new(),
            "v1".into(),
            vec!["create", "delete", "get", "patch", "update"],
        ),
        "ephemeralcontainers" | "resize" => same(vec!["get", "patch", "update"]),
        "finalize" => same(vec!["update"]),
        "token" => (
            "TokenRequest".into(),
            "authentication.k8s.io".into(),
            "v1".into(),
            vec!["create"],
        ),
        "approval" => same(vec!["get", "patch", "update"]),
        _ => same(vec!["get"]),
    }
}

/// A stable hash of a resource's identity (upstream's `storageVersionHash`
/// is an opaque base64 string; clients only compare it for equality).
fn storage_version_hash(r: &ResourceInfo) -> String {
    use base64::Engine;
    let mut h: u64 = 0xcbf29ce484222325;
    for b in format!("{}/{}/{}", r.group, r.version, r.kind).bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    base64::engine::general_purpose::STANDARD.encode(h.to_be_bytes())
}

/// `APIVersions` for `/api`.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_json(group: &str, versions: &[&str]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "name": group,
        "versions": vs,
        "preferredVersion": {"groupVersion": format!("{group}/{}", versions[0]), "version": versions[0]},
    })
}

/// `APIGroupList` for `/apis`.
pub fn api_group_list() -> Value {
    let groups: Vec<Value> = catalogue::groups()
        .iter()
        .map(|(g, vs)| group_json(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `APIGroup` for `/apis/<group>`.
pub fn api_group(group: &str) -> Option<Value> {
    let groups = catalogue::groups();
    let (g, vs) = groups.iter().find(|(g, _)| *g == group)?;
    let mut v = group_json(g, vs);
    v["kind"] = json!("APIGroup");
    v["apiVersion"] = json!("v1");
    Some(v)
}

/// `APIResourceList` for `/api/v1` or `/apis/<group>/<version>`.
pub fn api_resource_list(group: &str, version: &str) -> Option<Value> {
    if !catalogue::serves_version(group, version) {
        return None;
    }
    let mut resources = Vec::new();
    let mut list: Vec<&ResourceInfo> = catalogue::resources_in(group, version).collect();
    list.sort_by_key(|r| r.plural);
    for r in list {
        let mut e = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs,
        });
        if !r.short_names.is_empty() {
            e["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            e["categories"] = json!(r.categories);
        }
        if r.stored {
            e["storageVersionHash"] = json!(storage_version_hash(r));
        }
        resources.push(e);
        for sub in r.subresources {
            let (kind, g, v, verbs) = subresource_meta(r, sub);
            let mut s = json!({
                "name": format!("{}/{}", r.plural, sub),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": kind,
                "verbs": verbs,
            });
            if g != r.group || v != r.version {
                s["group"] = json!(g);
                s["version"] = json!(v);
            }
            resources.push(s);
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }))
}

fn discovery_version(group: &str, version: &str) -> Value {
    let mut list: Vec<&ResourceInfo> = catalogue::resources_in(group, version).collect();
    list.sort_by_key(|r| r.plural);
    let resources: Vec<Value> = list
        .iter()
        .map(|r| {
            let mut e = json!({
                "resource": r.plural,
                "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                "singularResource": r.singular,
                "verbs": r.verbs,
            });
            if !r.short_names.is_empty() {
                e["shortNames"] = json!(r.short_names);
            }
            if !r.categories.is_empty() {
                e["categories"] = json!(r.categories);
            }
            if !r.subresources.is_empty() {
                let subs: Vec<Value> = r
                    .subresources
                    .iter()
                    .map(|s| {
                        let (kind, g, v, verbs) = subresource_meta(r, s);
                        json!({
                            "subresource": s,
                            "responseKind": {"group": g, "version": v, "kind": kind},
                            "verbs": verbs,
                        })
                    })
                    .collect();
                e["subresources"] = json!(subs);
            }
            e
        })
        .collect();
    json!({"version": version, "resources": resources, "freshness": "Current"})
}

/// Aggregated discovery (`APIGroupDiscoveryList`) for `/api` (core) or
/// `/apis` (every named group).
pub fn aggregated(core: bool, api_version: &str) -> Value {
    let items: Vec<Value> = if core {
        vec![json!({
            "metadata": {"creationTimestamp": null},
            "versions": [discovery_version("", "v1")],
        })]
    } else {
        catalogue::groups()
            .iter()
            .map(|(g, vs)| {
                json!({
                    "metadata": {"name": g, "creationTimestamp": null},
                    "versions": vs.iter().map(|v| discovery_version(g, v)).collect::<Vec<_>>(),
                })
            })
            .collect()
    };
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{api_version}"),
        "metadata": {},
        "items": items,
    })
}

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": "v1.33.0",
        "gitCommit": env!("CARGO_PKG_VERSION"),
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, match std::env::consts::ARCH { "x86_64" => "amd64", "aarch64" => "arm64", a => a }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_lists() {
        let v = api_resource_list("apps", "v1").unwrap();
        let names: Vec<&str> = v["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"deployments"));
        assert!(names.contains(&"deployments/scale"));
        let scale = v["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "deployments/scale")
            .unwrap();
        assert_eq!(scale["group"], "autoscaling");
        assert!(api_resource_list("apps", "v9").is_none());
        let agg = aggregated(false, "v2");
        assert!(agg["items"].as_array().unwrap().len() > 10);
    }
}
