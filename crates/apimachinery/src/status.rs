//! Upstream `Status` error bodies (`meta.k8s.io/v1` Status with `reason`,
//! `code` and `details.causes`), built the way upstream's `apierrors` does so
//! clients that switch on reason or message behave the same.

use serde_json::{json, Map, Value};

/// One field-level cause inside `details.causes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// e.g. `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`.
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// A failure to be answered with a `Status` body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StatusError {
    pub code: u16,
    pub reason: String,
    pub message: String,
    pub name: Option<String>,
    pub group: Option<String>,
    /// `details.kind`: the resource plural for most errors, the Kind for
    /// Invalid (as upstream).
    pub kind: Option<String>,
    pub causes: Vec<Cause>,
    pub retry_after_seconds: Option<u32>,
}

impl StatusError {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        StatusError {
            code,
            reason: reason.to_string(),
            message: message.into(),
            name: None,
            group: None,
            kind: None,
            causes: Vec::new(),
            retry_after_seconds: None,
        }
    }

    fn with_details(mut self, group: &str, kind: &str, name: &str) -> Self {
        if !group.is_empty() {
            self.group = Some(group.to_string());
        }
        self.kind = Some(kind.to_string());
        if !name.is_empty() {
            self.name = Some(name.to_string());
        }
        self
    }

    /// `<resource> "<name>" not found` (404 NotFound).
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{}\" not found", qualified(group, resource), name),
        )
        .with_details(group, resource, name)
    }

    /// 404 for a path nothing serves.
    pub fn path_not_found() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_cause("UnexpectedServerResponse", "404 page not found", "")
    }

    /// `<resource> "<name>" already exists` (409 AlreadyExists).
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{}\" already exists", qualified(group, resource), name),
        )
        .with_details(group, resource, name)
    }

    /// 409 Conflict for a stale resourceVersion or failed precondition.
    pub fn conflict(group: &str, resource: &str, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": {}",
                qualified(group, resource),
                name,
                why
            ),
        )
        .with_details(group, resource, name)
    }

    /// The optimistic-concurrency conflict, with upstream's exact wording.
    pub fn stale(group: &str, resource: &str, name: &str) -> Self {
        Self::conflict(
            group,
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 Invalid with field causes.
    pub fn invalid(group: &str, kind: &str, name: &str, errs: Vec<FieldError>) -> Self {
        let summary = if errs.len() == 1 {
            errs[0].to_string()
        } else {
            format!(
                "[{}]",
                errs.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let qualified_kind = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let mut e = Self::new(
            422,
            "Invalid",
            format!("{qualified_kind} \"{name}\" is invalid: {summary}"),
        )
        .with_details(group, kind, name);
        e.causes = errs
            .into_iter()
            .map(|f| Cause {
                reason: f.kind.reason().to_string(),
                message: f.body(),
                field: f.field,
            })
            .collect();
        e
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn forbidden(group: &str, resource: &str, name: &str, why: &str) -> Self {
        let what = if name.is_empty() {
            qualified(group, resource)
        } else {
            format!("{} \"{}\"", qualified(group, resource), name)
        };
        Self::new(403, "Forbidden", format!("{what} is forbidden: {why}"))
            .with_details(group, resource, name)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub fn not_acceptable(accepted: &str) -> Self {
        Self::new(
            406,
            "NotAcceptable",
            format!("only the following media types are accepted: {accepted}"),
        )
    }

    pub fn unsupported_media_type(_content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf",
        )
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    pub fn too_many_requests() -> Self {
        let mut e = Self::new(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
        );
        e.retry_after_seconds = Some(1);
        e
    }

    /// 410 Gone, reason Expired, for a compacted resourceVersion.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        let msg = message.to_string();
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {msg}"),
        )
        .with_cause("", &msg, "")
    }

    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message)
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, "Timeout", message)
    }

    fn with_cause(mut self, reason: &str, message: &str, field: &str) -> Self {
        self.causes.push(Cause {
            reason: reason.to_string(),
            message: message.to_string(),
            field: field.to_string(),
        });
        self
    }

    /// The `Status` object as upstream serializes it.
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("kind".into(), json!("Status"));
        body.insert("apiVersion".into(), json!("v1"));
        body.insert("metadata".into(), json!({}));
        body.insert("status".into(), json!("Failure"));
        body.insert("message".into(), json!(self.message));
        body.insert("reason".into(), json!(self.reason));
        let mut details = Map::new();
        if let Some(n) = &self.name {
            details.insert("name".into(), json!(n));
        }
        if let Some(g) = &self.group {
            details.insert("group".into(), json!(g));
        }
        if let Some(k) = &self.kind {
            details.insert("kind".into(), json!(k));
        }
        if !self.causes.is_empty() {
            let causes: Vec<Value> = self
                .causes
                .iter()
                .map(|c| {
                    let mut m = Map::new();
                    if !c.reason.is_empty() {
                        m.insert("reason".into(), json!(c.reason));
                    }
                    m.insert("message".into(), json!(c.message));
                    if !c.field.is_empty() {
                        m.insert("field".into(), json!(c.field));
                    }
                    Value::Object(m)
                })
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        if let Some(r) = self.retry_after_seconds {
            details.insert("retryAfterSeconds".into(), json!(r));
        }
        if !details.is_empty() {
            body.insert("details".into(), Value::Object(details));
        }
        body.insert("code".into(), json!(self.code));
        Value::Object(body)
    }
}

/// A successful `Status` (as returned by some deletes).
pub fn success_status(group: &str, resource: &str, name: &str, uid: &str) -> Value {
    let mut details = json!({"name": name, "kind": resource, "uid": uid});
    if !group.is_empty() {
        details["group"] = json!(group);
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}

fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

/// The kind of a field error, mirroring upstream's `field.ErrorType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// The value is not valid; carries the rendered bad value.
    Invalid(String),
    Required,
    /// Not one of the supported values; carries the bad value and the list.
    NotSupported(String, Vec<String>),
    Duplicate(String),
    Forbidden,
    TooLong(String, usize),
    TooMany(usize, usize),
}

impl FieldErrorKind {
    pub fn reason(&self) -> &'static str {
        match self {
            FieldErrorKind::Invalid(_) => "FieldValueInvalid",
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::NotSupported(..) => "FieldValueNotSupported",
            FieldErrorKind::Duplicate(_) => "FieldValueDuplicate",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::TooLong(..) => "FieldValueTooLong",
            FieldErrorKind::TooMany(..) => "FieldValueTooMany",
        }
    }
}

/// A validation failure at a field path, e.g. `spec.containers[0].image`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub kind: FieldErrorKind,
    pub detail: String,
}

impl FieldError {
    pub fn invalid(field: impl Into<String>, value: &Value, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::Invalid(render_value(value)),
            detail: detail.into(),
        }
    }
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::Required,
            detail: detail.into(),
        }
    }
    pub fn not_supported(field: impl Into<String>, value: &Value, supported: &[&str]) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::NotSupported(
                render_value(value),
                supported.iter().map(|s| format!("\"{s}\"")).collect(),
            ),
            detail: String::new(),
        }
    }
    pub fn duplicate(field: impl Into<String>, value: &Value) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::Duplicate(render_value(value)),
            detail: String::new(),
        }
    }
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::Forbidden,
            detail: detail.into(),
        }
    }

    /// The cause message without the field path.
    pub fn body(&self) -> String {
        let mut s = match &self.kind {
            FieldErrorKind::Invalid(v) => format!("Invalid value: {v}"),
            FieldErrorKind::Required => "Required value".to_string(),
            FieldErrorKind::NotSupported(v, list) => {
                format!(
                    "Unsupported value: {v}: supported values: {}",
                    list.join(", ")
                )
            }
            FieldErrorKind::Duplicate(v) => format!("Duplicate value: {v}"),
            FieldErrorKind::Forbidden => "Forbidden".to_string(),
            FieldErrorKind::TooLong(v, n) => {
                format!("Too long: may not be more than {n} bytes (value {v})")
            }
            FieldErrorKind::TooMany(got, max) => {
                format!("Too many: {got}: must have at most {max} items")
            }
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_body() {
        let e = StatusError::not_found("apps", "deployments", "web");
        let v = e.to_json();
        assert_eq!(v["message"], "deployments.apps \"web\" not found");
        assert_eq!(v["details"]["group"], "apps");
        assert_eq!(v["details"]["kind"], "deployments");
        assert_eq!(v["code"], 404);
    }

    #[test]
    fn invalid_body() {
        let e = StatusError::invalid(
            "",
            "Pod",
            "Bad_Name",
            vec![FieldError::invalid(
                "metadata.name",
                &json!("Bad_Name"),
                "a lowercase RFC 1123 subdomain",
            )],
        );
        let v = e.to_json();
        assert_eq!(v["reason"], "Invalid");
        assert_eq!(v["code"], 422);
        assert_eq!(
            v["message"],
            "Pod \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"
        );
        assert_eq!(v["details"]["causes"][0]["field"], "metadata.name");
        assert_eq!(v["details"]["causes"][0]["reason"], "FieldValueInvalid");
    }
}
