//! What a request is about: upstream's `RequestInfo` (API group and version,
//! namespace, resource, name, subresource and verb) parsed from the path,
//! method and query, before authorization sees it.

use std::collections::HashMap;

/// Parsed request coordinates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// True for `/api/...` and `/apis/...` paths naming a resource.
    pub is_resource_request: bool,
    pub path: String,
    /// Kubernetes verb: get, list, watch, create, update, patch, delete,
    /// deletecollection (or the lower-case HTTP method for other paths).
    pub verb: String,
    pub api_prefix: String,
    pub group: String,
    pub version: String,
    pub namespace: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    /// Remaining path segments (e.g. for `proxy`).
    pub parts: Vec<String>,
}

/// Decoded query parameters (last value wins, as Go's `Get`).
pub fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    if let Some(q) = q {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            out.insert(k.into_owned(), v.into_owned());
        }
    }
    out
}

impl RequestInfo {
    pub fn parse(
        method: &http::Method,
        path: &str,
        query: &HashMap<String, String>,
    ) -> RequestInfo {
        let mut info = RequestInfo {
            path: path.to_string(),
            verb: method.as_str().to_lowercase(),
            ..Default::default()
        };
        let segs: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let mut rest: &[&str] = &segs;
        match rest.first() {
            Some(&"api") => {
                info.api_prefix = "api".into();
                if rest.len() < 2 {
                    return info;
                }
                info.version = rest[1].to_string();
                rest = &rest[2..];
            }
            Some(&"apis") => {
                info.api_prefix = "apis".into();
                if rest.len() < 3 {
                    if rest.len() == 2 {
                        info.group = rest[1].to_string();
                    }
                    return info;
                }
                info.group = rest[1].to_string();
                info.version = rest[2].to_string();
                rest = &rest[3..];
            }
            _ => return info,
        }
        if rest.is_empty() {
            return info;
        }
        info.is_resource_request = true;
        let mut watch_path = false;
        if rest[0] == "watch" {
            watch_path = true;
            rest = &rest[1..];
        }
        info.verb = match *method {
            http::Method::POST => "create",
            http::Method::GET | http::Method::HEAD => "get",
            http::Method::PUT => "update",
            http::Method::PATCH => "patch",
            http::Method::DELETE => "delete",
            _ => "",
        }
        .to_string();
        if rest.first() == Some(&"namespaces") {
            if rest.len() >= 2 {
                info.namespace = rest[1].to_string();
                if rest.len() > 2 {
                    rest = &rest[2..];
                } else {
                    // `/namespaces/<name>` is the namespace object itself.
                    info.resource = "namespaces".into();
                    info.name = rest[1].to_string();
                    info.namespace.clear();
                    rest = &[];
                }
            } else {
                info.resource = "namespaces".into();
                rest = &[];
            }
        }
        if !rest.is_empty() {
            info.resource = rest[0].to_string();
            if rest.len() >= 2 {
                info.name = rest[1].to_string();
            }
            if rest.len() >= 3 {
                info.subresource = rest[2].to_string();
            }
            if rest.len() > 3 {
                info.parts = rest[3..].iter().map(|s| s.to_string()).collect();
            }
        } else if info.resource == "namespaces" && !info.namespace.is_empty() {
            info.name = info.namespace.clone();
            info.namespace.clear();
        }
        // `/api/v1/namespaces/<ns>/status|finalize` address the namespace.
        if (info.resource == "status" || info.resource == "finalize")
            && !info.namespace.is_empty()
            && info.name.is_empty()
        {
            {
                info.subresource = info.resource.clone();
                info.resource = "namespaces".into();
                info.name = std::mem::take(&mut info.namespace);
            }
        }
        let is_watch = watch_path || query.get("watch").is_some_and(|v| v == "true" || v == "1");
        if info.name.is_empty() {
            match info.verb.as_str() {
                "get" => info.verb = if is_watch { "watch" } else { "list" }.into(),
                "delete" => info.verb = "deletecollection".into(),
                _ => {}
            }
        } else if is_watch && info.verb == "get" {
            info.verb = "watch".into();
        }
        info
    }

    /// The scope label used in metrics: resource, namespace or cluster.
    pub fn scope(&self) -> &'static str {
        if !self.name.is_empty() {
            "resource"
        } else if !self.namespace.is_empty() {
            "namespace"
        } else {
            "cluster"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(m: http::Method, path: &str, q: &str) -> RequestInfo {
        RequestInfo::parse(&m, path, &parse_query(Some(q)))
    }

    #[test]
    fn paths() {
        let r = p(http::Method::GET, "/api/v1/namespaces/default/pods", "");
        assert_eq!(
            (r.verb.as_str(), r.namespace.as_str(), r.resource.as_str()),
            ("list", "default", "pods")
        );
        let r = p(
            http::Method::GET,
            "/api/v1/namespaces/default/pods",
            "watch=true",
        );
        assert_eq!(r.verb, "watch");
        let r = p(
            http::Method::GET,
            "/api/v1/watch/namespaces/default/pods/web",
            "",
        );
        assert_eq!((r.verb.as_str(), r.name.as_str()), ("watch", "web"));
        let r = p(
            http::Method::PUT,
            "/apis/apps/v1/namespaces/d/deployments/web/scale",
            "",
        );
        assert_eq!(
            (r.group.as_str(), r.subresource.as_str(), r.verb.as_str()),
            ("apps", "scale", "update")
        );
        let r = p(http::Method::GET, "/api/v1/namespaces/kube-system", "");
        assert_eq!(
            (r.resource.as_str(), r.name.as_str(), r.namespace.as_str()),
            ("namespaces", "kube-system", "")
        );
        let r = p(http::Method::PUT, "/api/v1/namespaces/x/finalize", "");
        assert_eq!(
            (r.resource.as_str(), r.name.as_str(), r.subresource.as_str()),
            ("namespaces", "x", "finalize")
        );
        let r = p(http::Method::DELETE, "/api/v1/namespaces/x/configmaps", "");
        assert_eq!(r.verb, "deletecollection");
        let r = p(http::Method::GET, "/api/v1/nodes", "");
        assert_eq!((r.resource.as_str(), r.verb.as_str()), ("nodes", "list"));
        let r = p(http::Method::GET, "/apis/apps/v1", "");
        assert!(!r.is_resource_request);
        let r = p(http::Method::GET, "/api/v1/namespaces", "");
        assert_eq!(
            (r.resource.as_str(), r.verb.as_str()),
            ("namespaces", "list")
        );
    }
}
