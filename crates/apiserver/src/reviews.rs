//! The review APIs of `authentication.k8s.io/v1` and `authorization.k8s.io/v1`:
//! virtual resources answered from the request chain's own authenticators
//! and authorizers (what `kubectl auth whoami` and `kubectl auth can-i` use).

use apimachinery::catalogue::ResourceInfo;
use apimachinery::StatusError;
use serde_json::{json, Value};

use crate::auth::{AuthnResult, Decision, UserInfo};
use crate::request::RequestInfo;
use crate::server::State;

fn user_json(u: &UserInfo) -> Value {
    let mut v = json!({"username": u.name, "groups": u.groups});
    if !u.uid.is_empty() {
        v["uid"] = json!(u.uid);
    }
    v
}

fn response(r: &ResourceInfo, req: &Value, status: Value) -> Value {
    let mut out = json!({
        "kind": r.kind,
        "apiVersion": r.api_version(),
        "metadata": req.get("metadata").cloned().unwrap_or_else(|| json!({})),
        "status": status,
    });
    out["metadata"]["creationTimestamp"] = Value::Null;
    if let Some(spec) = req.get("spec") {
        out["spec"] = spec.clone();
    }
    out
}

/// Answers a review `create`; the response is 201 with the review filled in.
pub async fn create(
    state: &State,
    r: &ResourceInfo,
    namespace: &str,
    requester: &UserInfo,
    body: &Value,
) -> Result<Value, StatusError> {
    match (r.group, r.kind) {
        ("authentication.k8s.io", "SelfSubjectReview") => {
            Ok(response(r, body, json!({"userInfo": user_json(requester)})))
        }
        ("authentication.k8s.io", "TokenReview") => {
            let token = body
                .pointer("/spec/token")
                .and_then(Value::as_str)
                .unwrap_or("");
            let mut headers = http::HeaderMap::new();
            if let Ok(v) = http::HeaderValue::from_str(&format!("Bearer {token}")) {
                headers.insert(http::header::AUTHORIZATION, v);
            }
            let mut status = json!({"user": {}});
            for a in &state.chain.authenticators {
                match a.authenticate(&headers).await {
                    AuthnResult::Authenticated(u) => {
                        status = json!({"authenticated": true, "user": user_json(&u)});
                        break;
                    }
                    AuthnResult::Rejected => {
                        status = json!({"user": {}, "error": "invalid bearer token"});
                        break;
                    }
                    AuthnResult::NoOpinion => {}
                }
            }
            Ok(response(r, body, status))
        }
        ("authorization.k8s.io", "SelfSubjectAccessReview")
        | ("authorization.k8s.io", "SubjectAccessReview")
        | ("authorization.k8s.io", "LocalSubjectAccessReview") => {
            let spec = body.get("spec").cloned().unwrap_or_else(|| json!({}));
            let subject = if r.kind == "SelfSubjectAccessReview" {
                requester.clone()
            } else {
                let name = spec
                    .get("user")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let groups: Vec<String> = spec
                    .get("groups")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|g| g.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                if name.is_empty() && groups.is_empty() {
                    return Err(StatusError::invalid(
                        r.group,
                        r.kind,
                        "",
                        vec![apimachinery::status::FieldError::invalid(
                            "spec.user",
                            &json!(""),
                            "at least one of user or group must be specified",
                        )],
                    ));
                }
                UserInfo {
                    name,
                    uid: spec
                        .get("uid")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    groups,
                }
            };
            let info = match (spec.get("resourceAttributes"), spec.get("nonResourceAttributes")) {
                (Some(ra), _) => {
                    let s = |k: &str| ra.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    let mut ns = s("namespace");
                    if r.kind == "LocalSubjectAccessReview" {
                        if !ns.is_empty() && ns != namespace {
                            return Err(StatusError::bad_request(format!(
                                "spec.resourceAttributes.namespace must match namespace: {namespace}"
                            )));
                        }
                        ns = namespace.to_string();
                    }
                    RequestInfo {
                        is_resource_request: true,
                        verb: s("verb"),
                        group: s("group"),
                        version: s("version"),
                        namespace: ns,
                        resource: s("resource"),
                        subresource: s("subresource"),
                        name: s("name"),
                        ..Default::default()
                    }
                }
                (None, Some(nra)) => RequestInfo {
                    is_resource_request: false,
                    path: nra.get("path").and_then(Value::as_str).unwrap_or("").to_string(),
                    verb: nra.get("verb").and_then(Value::as_str).unwrap_or("").to_string(),
                    ..Default::default()
                },
                (None, None) => {
                    return Err(StatusError::invalid(
                        r.group,
                        r.kind,
                        "",
                        vec![apimachinery::status::FieldError::invalid(
                            "spec.resourceAttributes",
                            &Value::Null,
                            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
                        )],
                    ))
                }
            };
            let mut status = json!({"allowed": false});
            for a in &state.chain.authorizers {
                match a.authorize(&subject, &info).await {
                    Decision::Allow => {
                        status = json!({"allowed": true});
                        break;
                    }
                    Decision::Deny(reason) => {
                        status = json!({"allowed": false, "denied": true, "reason": reason});
                        break;
                    }
                    Decision::NoOpinion => {}
                }
            }
            Ok(response(r, body, status))
        }
        ("authorization.k8s.io", "SelfSubjectRulesReview") => {
            // Rules are only enumerable for AlwaysAllow today: everything.
            let status = json!({
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                "incomplete": false,
            });
            Ok(response(r, body, status))
        }
        _ => Err(StatusError::method_not_allowed()),
    }
}
