//! Validation per kind, following upstream Kubernetes (v1.33) field paths and
//! messages.
//!
//! [`validate`] checks an object for create, [`validate_update`] checks an
//! update (the new object's validity plus the immutability rules). Objects
//! are expected to have been through [`crate::defaults::apply_defaults`]
//! first, as upstream validates decoded (and so defaulted) objects; fields
//! that defaulting always fills are therefore only checked when present.
//!
//! The name/label/key checks (`is_dns1123_subdomain`, `is_qualified_name`,
//! ...) return upstream's message strings so other modules can reuse them.

// One match arm per upstream field/source reads closest to upstream's
// structure; collapsing the inner `if`s into guards would obscure it.
#![allow(clippy::collapsible_match)]

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::quantity::Quantity;
use serde_json::{Map, Value};

use crate::status::{FieldError, FieldErrorKind};

// ---------------------------------------------------------------------------
// Small accessors over unstructured values.
// ---------------------------------------------------------------------------

static NULL: Value = Value::Null;

/// `v[k]`, or `null` when missing.
fn at<'a>(v: &'a Value, k: &str) -> &'a Value {
    v.get(k).unwrap_or(&NULL)
}

/// `v[k]` as a string ("" when missing or not a string).
fn st<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// `v[k]` as an array (empty when missing).
fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// `v[k]` as an object.
fn obj<'a>(v: &'a Value, k: &str) -> Option<&'a Map<String, Value>> {
    v.get(k).and_then(Value::as_object)
}

/// `v[k]` as an integer.
fn int(v: &Value, k: &str) -> Option<i64> {
    v.get(k).and_then(as_int)
}

fn as_int(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_u64().map(|u| u.min(i64::MAX as u64) as i64))
        .or_else(|| v.as_f64().map(|f| f as i64))
}

/// Whether `v[k]` is present and not null.
fn has(v: &Value, k: &str) -> bool {
    v.get(k).is_some_and(|x| !x.is_null())
}

fn bool_true(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

/// The string form of a scalar as Go would hold it after decoding.
fn scalar_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Field paths.
// ---------------------------------------------------------------------------

fn child(base: &str, c: &str) -> String {
    if base.is_empty() {
        c.to_string()
    } else {
        format!("{base}.{c}")
    }
}

fn index(base: &str, i: usize) -> String {
    format!("{base}[{i}]")
}

fn key(base: &str, k: &str) -> String {
    format!("{base}[{k}]")
}

// ---------------------------------------------------------------------------
// Error constructors (thin wrappers over `FieldError`).
// ---------------------------------------------------------------------------

type Errs = Vec<FieldError>;

fn invalid(field: impl Into<String>, value: &Value, detail: impl Into<String>) -> FieldError {
    FieldError::invalid(field, value, detail)
}

fn invalid_str(field: impl Into<String>, value: &str, detail: impl Into<String>) -> FieldError {
    FieldError::invalid(field, &Value::String(value.to_string()), detail)
}

fn invalid_int(field: impl Into<String>, value: i64, detail: impl Into<String>) -> FieldError {
    FieldError::invalid(field, &Value::from(value), detail)
}

/// An Invalid error whose bad value is already rendered (Go `%#v` forms such
/// as `map[string]string{"app":"x"}`).
fn invalid_raw(
    field: impl Into<String>,
    rendered: String,
    detail: impl Into<String>,
) -> FieldError {
    FieldError {
        field: field.into(),
        kind: FieldErrorKind::Invalid(rendered),
        detail: detail.into(),
    }
}

fn required(field: impl Into<String>, detail: impl Into<String>) -> FieldError {
    FieldError::required(field, detail)
}

fn not_supported(field: impl Into<String>, value: &str, supported: &[&str]) -> FieldError {
    FieldError::not_supported(field, &Value::String(value.to_string()), supported)
}

/// NotSupported with a bad value already rendered in Go form.
fn not_supported_raw(field: impl Into<String>, rendered: String, supported: &[&str]) -> FieldError {
    FieldError {
        field: field.into(),
        kind: FieldErrorKind::NotSupported(
            rendered,
            supported.iter().map(|s| format!("\"{s}\"")).collect(),
        ),
        detail: String::new(),
    }
}

fn duplicate(field: impl Into<String>, value: &Value) -> FieldError {
    FieldError::duplicate(field, value)
}

fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> FieldError {
    FieldError::forbidden(field, detail)
}

/// Upstream's `field.NotFound`. `FieldErrorKind` has no NotFound variant, so
/// this is reported as an Invalid value with upstream's wording as detail.
fn not_found(field: impl Into<String>, value: &str) -> FieldError {
    invalid_str(field, value, "Not found")
}

fn too_long(field: impl Into<String>, max: usize) -> FieldError {
    FieldError {
        field: field.into(),
        kind: FieldErrorKind::TooLong(String::new(), max),
        detail: String::new(),
    }
}

fn too_many(field: impl Into<String>, got: usize, max: usize) -> FieldError {
    FieldError {
        field: field.into(),
        kind: FieldErrorKind::TooMany(got, max),
        detail: String::new(),
    }
}

const IMMUTABLE: &str = "field is immutable";
const NEGATIVE: &str = "must be greater than or equal to 0";
const FILE_MODE: &str = "must be a number between 0 and 0777 (octal), both inclusive";

fn nonnegative(errs: &mut Errs, v: &Value, k: &str, path: &str) {
    if let Some(n) = int(v, k) {
        if n < 0 {
            errs.push(invalid_int(child(path, k), n, NEGATIVE));
        }
    }
}

// ---------------------------------------------------------------------------
// Go-style rendering of bad values that upstream prints with `%#v`.
// ---------------------------------------------------------------------------

fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// `map[string]string{"a":"1", "b":"2"}` (keys sorted, as Go prints maps);
/// `map[string]string(nil)` when absent.
fn go_string_map(m: Option<&Map<String, Value>>) -> String {
    match m {
        None => "map[string]string(nil)".to_string(),
        Some(m) => {
            let sorted: BTreeMap<&String, String> =
                m.iter().map(|(k, v)| (k, scalar_str(v))).collect();
            let body: Vec<String> = sorted
                .iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v)))
                .collect();
            format!("map[string]string{{{}}}", body.join(", "))
        }
    }
}

fn go_string_slice(v: &[Value], nil_if_empty: bool) -> String {
    if v.is_empty() && nil_if_empty {
        return "[]string(nil)".to_string();
    }
    let items: Vec<String> = v.iter().map(|s| go_quote(&scalar_str(s))).collect();
    format!("[]string{{{}}}", items.join(", "))
}

/// `v1.LabelSelector{MatchLabels:..., MatchExpressions:...}` as `%#v`.
fn go_label_selector(sel: &Value) -> String {
    if sel.is_null() {
        return "null".to_string();
    }
    let exprs = arr(sel, "matchExpressions");
    let exprs_s = if exprs.is_empty() && !has(sel, "matchExpressions") {
        "[]v1.LabelSelectorRequirement(nil)".to_string()
    } else {
        let items: Vec<String> = exprs
            .iter()
            .map(|e| {
                format!(
                    "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                    go_quote(st(e, "key")),
                    go_quote(st(e, "operator")),
                    go_string_slice(arr(e, "values"), !has(e, "values"))
                )
            })
            .collect();
        format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        go_string_map(obj(sel, "matchLabels")),
        exprs_s
    )
}

/// `intstr.IntOrString{Type:0, IntVal:1, StrVal:""}` as `%#v`.
fn go_int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => format!(
            "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            go_quote(s)
        ),
        other => format!(
            "intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}",
            as_int(other).unwrap_or(0)
        ),
    }
}

/// A workload strategy struct as `%#v` prints it (the rolling-update
/// pointer's address is not reproducible, so a set one prints as JSON).
fn go_strategy(type_name: &str, rolling: &str, v: &Value) -> String {
    let ru = at(v, "rollingUpdate");
    let ru_s = if ru.is_null() {
        format!("(*{rolling})(nil)")
    } else {
        compact(ru)
    };
    format!(
        "{type_name}{{Type:{}, RollingUpdate:{ru_s}}}",
        go_quote(st(v, "type"))
    )
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Name and format checks (upstream `k8s.io/apimachinery/pkg/util/validation`).
// ---------------------------------------------------------------------------

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const CONFIG_MAP_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const CONFIG_MAP_KEY_MSG: &str =
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
const RELAXED_ENV_MSG: &str =
    "a valid environment variable name must consist only of printable ASCII characters other than '='";
const PERCENT_FMT: &str = "[0-9]+%";
const PERCENT_MSG: &str =
    "a valid percent string must be a numeric string followed by an ending '%'";
const HTTP_HEADER_FMT: &str = "[-A-Za-z0-9]+";
const HTTP_HEADER_MSG: &str = "a valid HTTP header must consist of alphanumeric characters or '-'";

/// Upstream's `RegexError`: the message, examples and the regex used.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut s = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            s.push_str(" or ");
        }
        s.push_str(&format!("'{e}', "));
    }
    s.push_str(&format!("regex used for validation is '{fmt}')"));
    s
}

fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

fn inclusive_range_error(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn matches_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && is_lower_alnum(b[0])
        && is_lower_alnum(b[b.len() - 1])
        && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
}

fn matches_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(matches_dns1123_label)
}

fn matches_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.')
}

/// A lowercase RFC 1123 label (≤ 63 characters), e.g. namespace names.
pub fn is_dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !matches_dns1123_label(s) {
        if matches_dns1123_subdomain(s) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_MSG,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// A lowercase RFC 1123 subdomain (≤ 253 characters), e.g. most object names.
pub fn is_dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push(max_len_error(253));
    }
    if !matches_dns1123_subdomain(s) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// An RFC 1035 label (starts with a letter), e.g. Service names.
pub fn is_dns1035_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len_error(63));
    }
    let b = s.as_bytes();
    let ok = !b.is_empty()
        && b[0].is_ascii_lowercase()
        && is_lower_alnum(b[b.len() - 1])
        && b.iter().all(|&c| is_lower_alnum(c) || c == b'-');
    if !ok {
        errs.push(regex_error(
            DNS1035_LABEL_MSG,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// A qualified name (label and annotation keys): an optional DNS subdomain
/// prefix and `/`, then a name part of at most 63 characters.
pub fn is_qualified_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.len() {
        1 => parts[0],
        2 => {
            let prefix = parts[0];
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                for m in is_dns1123_subdomain(prefix) {
                    errs.push(format!("prefix part {m}"));
                }
            }
            parts[1]
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len_error(63)));
    }
    if !matches_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// A label value: empty, or a qualified name part of at most 63 characters.
pub fn is_valid_label_value(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !s.is_empty() && !matches_qualified_name_part(s) {
        errs.push(regex_error(
            LABEL_VALUE_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// A ConfigMap or Secret data key.
pub fn is_config_map_key(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push(max_len_error(253));
    }
    let ok = !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.');
    if !ok {
        errs.push(regex_error(
            CONFIG_MAP_KEY_MSG,
            CONFIG_MAP_KEY_FMT,
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    errs.extend(ch_dir_prefix(s));
    errs
}

fn ch_dir_prefix(s: &str) -> Vec<String> {
    if s == "." {
        vec!["must not be '.'".to_string()]
    } else if s == ".." {
        vec!["must not be '..'".to_string()]
    } else if s.starts_with("..") {
        vec!["must not start with '..'".to_string()]
    } else {
        Vec::new()
    }
}

/// An IANA service name as used for port names.
pub fn is_valid_port_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 15 {
        errs.push(max_len_error(15));
    }
    if s.is_empty() || !s.bytes().all(|c| is_lower_alnum(c) || c == b'-') {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if !s.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if s.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if s.starts_with('-') || s.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// A port number in 1..=65535.
pub fn is_valid_port_num(n: i64) -> Vec<String> {
    if (1..=65535).contains(&n) {
        Vec::new()
    } else {
        vec![inclusive_range_error(1, 65535)]
    }
}

/// Names used as a single URL path segment (RBAC objects, for instance).
pub fn is_valid_path_segment_name(s: &str) -> Vec<String> {
    for bad in [".", ".."] {
        if s == bad {
            return vec![format!("may not be '{bad}'")];
        }
    }
    is_valid_path_segment_prefix(s)
}

fn is_valid_path_segment_prefix(s: &str) -> Vec<String> {
    ["/", "%"]
        .iter()
        .filter(|bad| s.contains(*bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

/// An environment variable name (relaxed rule, on by default since 1.32).
pub fn is_env_var_name(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.is_empty() {
        errs.push("environment variable name must be non-empty".to_string());
    }
    if s.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errs.push(RELAXED_ENV_MSG.to_string());
    }
    errs
}

fn is_valid_percent(s: &str) -> Vec<String> {
    let ok =
        s.len() >= 2 && s.ends_with('%') && s[..s.len() - 1].bytes().all(|c| c.is_ascii_digit());
    if ok {
        Vec::new()
    } else {
        vec![regex_error(PERCENT_MSG, PERCENT_FMT, &["1%", "93%"])]
    }
}

fn is_http_header_name(s: &str) -> Vec<String> {
    if !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
        Vec::new()
    } else {
        vec![regex_error(
            HTTP_HEADER_MSG,
            HTTP_HEADER_FMT,
            &["X-Header-Name"],
        )]
    }
}

fn is_valid_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

fn is_valid_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

const IP_MSG: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";

fn validate_dns1123_label(errs: &mut Errs, value: &str, path: &str) {
    for m in is_dns1123_label(value) {
        errs.push(invalid_str(path, value, m));
    }
}

fn validate_dns1123_subdomain(errs: &mut Errs, value: &str, path: &str) {
    for m in is_dns1123_subdomain(value) {
        errs.push(invalid_str(path, value, m));
    }
}

fn validate_qualified_name(errs: &mut Errs, value: &str, path: &str) {
    for m in is_qualified_name(value) {
        errs.push(invalid_str(path, value, m));
    }
}

// ---------------------------------------------------------------------------
// Name rules per kind.
// ---------------------------------------------------------------------------

/// How `metadata.name` is validated for a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain (most kinds).
    Dns1123Subdomain,
    /// RFC 1123 label (Namespace, StatefulSet).
    Dns1123Label,
    /// RFC 1035 label (Service).
    Dns1035Label,
    /// Only `/`, `%`, `.` and `..` are refused (RBAC objects, legacy Events,
    /// CertificateSigningRequests, APIServices).
    PathSegment,
}

impl NameRule {
    /// Messages for a bad name; `prefix` is true for `generateName`, whose
    /// trailing dash is tolerated.
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        let masked;
        let name = if prefix && self != NameRule::PathSegment {
            masked = mask_trailing_dash(name);
            masked.as_str()
        } else {
            name
        };
        match self {
            NameRule::Dns1123Subdomain => is_dns1123_subdomain(name),
            NameRule::Dns1123Label => is_dns1123_label(name),
            NameRule::Dns1035Label => is_dns1035_label(name),
            NameRule::PathSegment => {
                if prefix {
                    is_valid_path_segment_prefix(name)
                } else {
                    is_valid_path_segment_name(name)
                }
            }
        }
    }
}

/// As upstream: a trailing dash (and the character before it) is replaced by
/// `a` so a generateName prefix such as `web-` passes.
fn mask_trailing_dash(name: &str) -> String {
    if name.len() > 1 && name.ends_with('-') && name.is_char_boundary(name.len() - 2) {
        format!("{}a", &name[..name.len() - 2])
    } else {
        name.to_string()
    }
}

/// The name rule of a kind (group is empty for the core group).
pub fn name_rule(group: &str, kind: &str) -> NameRule {
    match (group, kind) {
        ("", "Namespace") => NameRule::Dns1123Label,
        ("", "Service") => NameRule::Dns1035Label,
        ("apps", "StatefulSet") => NameRule::Dns1123Label,
        (
            "rbac.authorization.k8s.io",
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding",
        ) => NameRule::PathSegment,
        ("", "Event") => NameRule::PathSegment,
        ("certificates.k8s.io", "CertificateSigningRequest") => NameRule::PathSegment,
        ("apiregistration.k8s.io", "APIService") => NameRule::PathSegment,
        _ => NameRule::Dns1123Subdomain,
    }
}

// ---------------------------------------------------------------------------
// Metadata.
// ---------------------------------------------------------------------------

const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;
const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];

/// `metadata.labels`-style map validation (keys qualified names, values label values).
pub fn validate_labels(labels: Option<&Map<String, Value>>, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(labels) = labels {
        for (k, v) in labels {
            validate_label_name(&mut errs, k, path);
            let v = scalar_str(v);
            for m in is_valid_label_value(&v) {
                errs.push(invalid_str(path, &v, m));
            }
        }
    }
    errs
}

fn validate_label_name(errs: &mut Errs, k: &str, path: &str) {
    for m in is_qualified_name(k) {
        errs.push(invalid_str(path, k, m));
    }
}

/// Annotation keys (qualified names, case-insensitive) and total size.
pub fn validate_annotations(
    annotations: Option<&Map<String, Value>>,
    path: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(ann) = annotations {
        let mut total = 0usize;
        for (k, v) in ann {
            for m in is_qualified_name(&k.to_lowercase()) {
                errs.push(invalid_str(path, k, m));
            }
            total += k.len() + scalar_str(v).len();
        }
        if total > TOTAL_ANNOTATION_SIZE_LIMIT {
            errs.push(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
        }
    }
    errs
}

/// Upstream `ValidateObjectMeta` for an object of the given scope and name rule.
pub fn validate_object_meta(obj: &Value, namespaced: bool, rule: NameRule) -> Vec<FieldError> {
    let mut errs = Vec::new();
    meta_errors(
        &mut errs,
        at(obj, "metadata"),
        namespaced,
        rule,
        "metadata",
        true,
        true,
    );
    errs
}

fn meta_errors(
    errs: &mut Errs,
    md: &Value,
    namespaced: bool,
    rule: NameRule,
    path: &str,
    check_name: bool,
    kube_finalizers: bool,
) {
    let name = st(md, "name");
    let generate_name = st(md, "generateName");
    if check_name {
        if !generate_name.is_empty() {
            for m in rule.check(generate_name, true) {
                errs.push(invalid_str(child(path, "generateName"), generate_name, m));
            }
        }
        if name.is_empty() {
            if generate_name.is_empty() {
                errs.push(required(
                    child(path, "name"),
                    "name or generateName is required",
                ));
            }
        } else {
            for m in rule.check(name, false) {
                errs.push(invalid_str(child(path, "name"), name, m));
            }
        }
    }
    let namespace = st(md, "namespace");
    if namespaced {
        if namespace.is_empty() {
            errs.push(required(child(path, "namespace"), ""));
        } else {
            for m in is_dns1123_label(namespace) {
                errs.push(invalid_str(child(path, "namespace"), namespace, m));
            }
        }
    } else if !namespace.is_empty() {
        errs.push(forbidden(
            child(path, "namespace"),
            "not allowed on this type",
        ));
    }
    nonnegative(errs, md, "generation", path);
    errs.extend(validate_labels(obj(md, "labels"), &child(path, "labels")));
    errs.extend(validate_annotations(
        obj(md, "annotations"),
        &child(path, "annotations"),
    ));
    owner_reference_errors(
        errs,
        arr(md, "ownerReferences"),
        &child(path, "ownerReferences"),
    );
    finalizer_errors(
        errs,
        arr(md, "finalizers"),
        &child(path, "finalizers"),
        kube_finalizers,
    );
}

fn owner_reference_errors(errs: &mut Errs, refs: &[Value], path: &str) {
    let mut first_controller = String::new();
    for r in refs {
        let api_version = st(r, "apiVersion");
        let version = api_version.rsplit('/').next().unwrap_or("");
        if version.is_empty() {
            errs.push(invalid_str(
                child(path, "apiVersion"),
                api_version,
                "version must not be empty",
            ));
        }
        if st(r, "kind").is_empty() {
            errs.push(invalid_str(
                child(path, "kind"),
                "",
                "kind must not be empty",
            ));
        }
        if st(r, "name").is_empty() {
            errs.push(invalid_str(
                child(path, "name"),
                "",
                "name must not be empty",
            ));
        }
        if st(r, "uid").is_empty() {
            errs.push(invalid_str(child(path, "uid"), "", "uid must not be empty"));
        }
        if api_version == "v1" && st(r, "kind") == "Event" {
            errs.push(invalid(
                path,
                r,
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if bool_true(r, "controller") {
            let cur = format!("{}/{}", st(r, "kind"), st(r, "name"));
            if first_controller.is_empty() {
                first_controller = cur;
            } else {
                errs.push(invalid(
                    path,
                    &Value::Array(refs.to_vec()),
                    format!("Only one reference can have Controller set to true. Found \"true\" in references for {first_controller} and {cur}"),
                ));
            }
        }
    }
}

fn finalizer_errors(errs: &mut Errs, finalizers: &[Value], path: &str, kube: bool) {
    let mut orphan = false;
    let mut foreground = false;
    for f in finalizers {
        let f = scalar_str(f);
        validate_qualified_name(errs, &f, path);
        orphan |= f == "orphan";
        foreground |= f == "foregroundDeletion";
    }
    if orphan && foreground {
        errs.push(invalid_raw(
            path,
            go_string_slice(finalizers, false),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    if kube {
        for (i, f) in finalizers.iter().enumerate() {
            let f = scalar_str(f);
            if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f.as_str()) {
                errs.push(invalid_str(
                    index(path, i),
                    &f,
                    "name is neither a standard finalizer name nor is it fully qualified",
                ));
            }
        }
    }
}

/// The metadata part of an update that is ours: no finalizers may be added
/// to an object being deleted.
fn meta_update_errors(errs: &mut Errs, new: &Value, old: &Value) {
    let old_md = at(old, "metadata");
    if has(old_md, "deletionTimestamp") {
        let old_f: BTreeSet<String> = arr(old_md, "finalizers").iter().map(scalar_str).collect();
        let extra: BTreeSet<String> = arr(at(new, "metadata"), "finalizers")
            .iter()
            .map(scalar_str)
            .filter(|f| !old_f.contains(f))
            .collect();
        if !extra.is_empty() {
            let list: Vec<Value> = extra.into_iter().map(Value::String).collect();
            errs.push(forbidden(
                "metadata.finalizers",
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers {}",
                    go_string_slice(&list, false)
                ),
            ));
        }
    }
}

// ---------------------------------------------------------------------------
// Label selectors.
// ---------------------------------------------------------------------------

/// Upstream `ValidateLabelSelector` (strict label values).
pub fn validate_label_selector(sel: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if sel.is_null() {
        return errs;
    }
    errs.extend(validate_labels(
        obj(sel, "matchLabels"),
        &child(path, "matchLabels"),
    ));
    for (i, e) in arr(sel, "matchExpressions").iter().enumerate() {
        let p = index(&child(path, "matchExpressions"), i);
        let values = arr(e, "values");
        match st(e, "operator") {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(required(
                        child(&p, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(forbidden(
                        child(&p, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            op => errs.push(invalid_str(
                child(&p, "operator"),
                op,
                "not a valid selector operator",
            )),
        }
        validate_label_name(&mut errs, st(e, "key"), &child(&p, "key"));
        for (j, v) in values.iter().enumerate() {
            let v = scalar_str(v);
            for m in is_valid_label_value(&v) {
                errs.push(invalid_str(index(&child(&p, "values"), j), &v, m));
            }
        }
    }
    errs
}

/// Whether upstream's `LabelSelectorAsSelector` would accept the selector.
fn selector_convertible(sel: &Value) -> bool {
    if sel.is_null() {
        return true;
    }
    if let Some(ml) = obj(sel, "matchLabels") {
        for (k, v) in ml {
            if !is_qualified_name(k).is_empty() || !is_valid_label_value(&scalar_str(v)).is_empty()
            {
                return false;
            }
        }
    }
    for e in arr(sel, "matchExpressions") {
        let values = arr(e, "values");
        let ok_op = match st(e, "operator") {
            "In" | "NotIn" => !values.is_empty(),
            "Exists" | "DoesNotExist" => values.is_empty(),
            _ => false,
        };
        if !ok_op || !is_qualified_name(st(e, "key")).is_empty() {
            return false;
        }
        if values
            .iter()
            .any(|v| !is_valid_label_value(&scalar_str(v)).is_empty())
        {
            return false;
        }
    }
    true
}

fn selector_is_empty(sel: &Value) -> bool {
    obj(sel, "matchLabels").is_none_or(|m| m.is_empty()) && arr(sel, "matchExpressions").is_empty()
}

/// Whether a `metav1.LabelSelector` selects the given labels. A null selector
/// selects nothing; an empty one selects everything.
pub fn selector_matches(sel: &Value, labels: Option<&Map<String, Value>>) -> bool {
    let Ok(sel) = crate::selector::LabelSelector::from_json(sel) else {
        return false;
    };
    let labels: std::collections::BTreeMap<String, String> = labels
        .map(|l| l.iter().map(|(k, v)| (k.clone(), scalar_str(v))).collect())
        .unwrap_or_default();
    sel.matches(&labels)
}

// ---------------------------------------------------------------------------
// Quantities (parsed by `crate::quantity`).
// ---------------------------------------------------------------------------

const QUANTITY_MSG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// A quantity field as a string (numbers are accepted as JSON allows).
fn quantity_of(v: &Value) -> Option<Quantity> {
    match v {
        Value::String(s) => Quantity::parse(s).ok(),
        Value::Number(n) => Quantity::parse(&n.to_string()).ok(),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Pod spec.
// ---------------------------------------------------------------------------

/// Where a pod spec sits, which changes a few rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PodCtx {
    /// A Pod object.
    Pod,
    /// A pod template inside another object.
    Template,
}

const VOLUME_SOURCES: &[&str] = &[
    "emptyDir",
    "hostPath",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flexVolume",
    "persistentVolumeClaim",
    "rbd",
    "cinder",
    "cephfs",
    "quobyte",
    "downwardAPI",
    "fc",
    "flocker",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "csi",
    "configMap",
    "scaleIO",
    "storageos",
    "projected",
    "ephemeral",
    "image",
];

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const HOST_PATH_TYPES: &[&str] = &[
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
];
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
const VOLUME_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
];

fn validate_pod_spec(errs: &mut Errs, spec: &Value, path: &str, ctx: PodCtx) {
    let volumes = validate_volumes(errs, arr(spec, "volumes"), &child(path, "volumes"));
    let restart_policy = st(spec, "restartPolicy");
    validate_containers(errs, spec, &volumes, path);
    validate_init_containers(errs, spec, &volumes, path);
    validate_ephemeral_containers(errs, spec, &volumes, path);
    validate_host_network_ports(errs, spec, path, ctx);

    let rp_path = child(path, "restartPolicy");
    match restart_policy {
        "Always" | "OnFailure" | "Never" => {}
        "" => {
            if has(spec, "restartPolicy") {
                errs.push(required(rp_path, ""));
            }
        }
        other => errs.push(not_supported(
            rp_path,
            other,
            &["Always", "OnFailure", "Never"],
        )),
    }
    let dns_policy = st(spec, "dnsPolicy");
    match dns_policy {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" | "" => {}
        other => errs.push(not_supported(
            child(path, "dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    errs.extend(validate_labels(
        obj(spec, "nodeSelector"),
        &child(path, "nodeSelector"),
    ));
    for (i, s) in arr(spec, "imagePullSecrets").iter().enumerate() {
        if st(s, "name").is_empty() {
            errs.push(required(
                child(&index(&child(path, "imagePullSecrets"), i), "name"),
                "",
            ));
        }
    }
    validate_dns_config(errs, spec, path);
    for (i, g) in arr(spec, "readinessGates").iter().enumerate() {
        validate_qualified_name(
            errs,
            st(g, "conditionType"),
            &child(&index(&child(path, "readinessGates"), i), "conditionType"),
        );
    }
    let mut gates = HashSet::new();
    for (i, g) in arr(spec, "schedulingGates").iter().enumerate() {
        let p = index(&child(path, "schedulingGates"), i);
        let name = st(g, "name");
        validate_qualified_name(errs, name, &child(&p, "name"));
        if !gates.insert(name.to_string()) {
            errs.push(duplicate(p, &Value::String(name.to_string())));
        }
    }
    let sa = st(spec, "serviceAccountName");
    if !sa.is_empty() {
        for m in is_dns1123_subdomain(sa) {
            errs.push(invalid_str(child(path, "serviceAccountName"), sa, m));
        }
    }
    let node = st(spec, "nodeName");
    if !node.is_empty() {
        for m in is_dns1123_subdomain(node) {
            errs.push(invalid_str(child(path, "nodeName"), node, m));
        }
    }
    if let Some(ads) = int(spec, "activeDeadlineSeconds") {
        if !(1..=i32::MAX as i64).contains(&ads) {
            errs.push(invalid_int(
                child(path, "activeDeadlineSeconds"),
                ads,
                inclusive_range_error(1, i32::MAX as i64),
            ));
        }
    }
    for f in ["hostname", "subdomain"] {
        let v = st(spec, f);
        if !v.is_empty() {
            validate_dns1123_label(errs, v, &child(path, f));
        }
    }
    validate_tolerations(errs, arr(spec, "tolerations"), &child(path, "tolerations"));
    for (i, ha) in arr(spec, "hostAliases").iter().enumerate() {
        let p = index(&child(path, "hostAliases"), i);
        let ip = st(ha, "ip");
        if ip.is_empty() {
            errs.push(required(child(&p, "ip"), ""));
        } else if !is_valid_ip(ip) {
            errs.push(invalid_str(child(&p, "ip"), ip, IP_MSG));
        }
        for (j, h) in arr(ha, "hostnames").iter().enumerate() {
            validate_dns1123_subdomain(errs, &scalar_str(h), &index(&child(&p, "hostnames"), j));
        }
    }
    let pc = st(spec, "priorityClassName");
    if !pc.is_empty() {
        for m in is_dns1123_subdomain(pc) {
            errs.push(invalid_str(child(path, "priorityClassName"), pc, m));
        }
    }
    if let Some(rc) = spec.get("runtimeClassName").and_then(Value::as_str) {
        for m in is_dns1123_subdomain(rc) {
            errs.push(invalid_str(child(path, "runtimeClassName"), rc, m));
        }
    }
    if let Some(pp) = spec.get("preemptionPolicy").and_then(Value::as_str) {
        if pp != "PreemptLowerPriority" && pp != "Never" {
            errs.push(not_supported(
                child(path, "preemptionPolicy"),
                pp,
                &["PreemptLowerPriority", "Never"],
            ));
        }
    }
    if let Some(os) = at(spec, "os").get("name").and_then(Value::as_str) {
        if os.is_empty() {
            errs.push(required(child(&child(path, "os"), "name"), ""));
        } else if os != "linux" && os != "windows" {
            errs.push(not_supported(
                child(&child(path, "os"), "name"),
                os,
                &["linux", "windows"],
            ));
        }
    }
    if ctx == PodCtx::Pod {
        for (list, name) in [
            ("containers", "containers"),
            ("initContainers", "initContainers"),
        ] {
            for (i, c) in arr(spec, list).iter().enumerate() {
                let image = st(c, "image");
                if image.trim() != image {
                    errs.push(invalid_str(
                        child(&index(&child(path, name), i), "image"),
                        image,
                        "must not have leading or trailing whitespace",
                    ));
                }
            }
        }
    }
}

fn validate_dns_config(errs: &mut Errs, spec: &Value, path: &str) {
    let p = child(path, "dnsConfig");
    let cfg = at(spec, "dnsConfig");
    if st(spec, "dnsPolicy") == "None" {
        if cfg.is_null() {
            errs.push(required(
                p,
                "must provide `dnsConfig` when `dnsPolicy` is None",
            ));
            return;
        }
        if arr(cfg, "nameservers").is_empty() {
            errs.push(required(
                child(&p, "nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            ));
            return;
        }
    }
    if cfg.is_null() {
        return;
    }
    let ns = arr(cfg, "nameservers");
    if ns.len() > 3 {
        errs.push(invalid_raw(
            child(&p, "nameservers"),
            go_string_slice(ns, false),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, n) in ns.iter().enumerate() {
        let n = scalar_str(n);
        if !is_valid_ip(&n) {
            errs.push(invalid_str(index(&child(&p, "nameservers"), i), &n, IP_MSG));
        }
    }
    let searches = arr(cfg, "searches");
    if searches.len() > 32 {
        errs.push(invalid_raw(
            child(&p, "searches"),
            go_string_slice(searches, false),
            "must not have more than 32 search paths",
        ));
    }
    for (i, s) in searches.iter().enumerate() {
        let s = scalar_str(s);
        let trimmed = s.strip_suffix('.').unwrap_or(&s);
        if trimmed != "." && !trimmed.is_empty() {
            validate_dns1123_subdomain(errs, trimmed, &index(&child(&p, "searches"), i));
        }
    }
    for (i, o) in arr(cfg, "options").iter().enumerate() {
        if st(o, "name").is_empty() {
            errs.push(required(
                index(&child(&p, "options"), i),
                "Option.Name must not be empty",
            ));
        }
    }
}

fn validate_tolerations(errs: &mut Errs, tolerations: &[Value], path: &str) {
    for (i, t) in tolerations.iter().enumerate() {
        let p = index(path, i);
        let k = st(t, "key");
        let op = st(t, "operator");
        if !k.is_empty() {
            validate_label_name(errs, k, &child(&p, "key"));
        }
        if k.is_empty() && op != "Exists" {
            errs.push(invalid_str(
                child(&p, "operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if has(t, "tolerationSeconds") && st(t, "effect") != "NoExecute" {
            errs.push(invalid_str(
                child(&p, "effect"),
                st(t, "effect"),
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match op {
            "Equal" | "" => {
                let v = st(t, "value");
                let m = is_valid_label_value(v);
                if !m.is_empty() {
                    errs.push(invalid_str(child(&p, "operator"), v, m.join(";")));
                }
            }
            "Exists" => {
                if !st(t, "value").is_empty() {
                    errs.push(invalid(
                        child(&p, "operator"),
                        t,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(not_supported(
                child(&p, "operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        let effect = st(t, "effect");
        if !effect.is_empty() {
            validate_taint_effect(errs, effect, &child(&p, "effect"));
        }
    }
}

fn validate_taint_effect(errs: &mut Errs, effect: &str, path: &str) {
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        errs.push(not_supported(
            path,
            effect,
            &["NoSchedule", "PreferNoSchedule", "NoExecute"],
        ));
    }
}

/// Validates volumes; returns the names of the valid ones (for mounts).
fn validate_volumes(errs: &mut Errs, volumes: &[Value], path: &str) -> HashSet<String> {
    let mut names = HashSet::new();
    for (i, vol) in volumes.iter().enumerate() {
        let p = index(path, i);
        let mut el = Vec::new();
        validate_volume_source(&mut el, vol, &p, VOLUME_SOURCES);
        let name = st(vol, "name");
        if name.is_empty() {
            el.push(required(child(&p, "name"), ""));
        } else {
            validate_dns1123_label(&mut el, name, &child(&p, "name"));
        }
        if names.contains(name) {
            el.push(duplicate(
                child(&p, "name"),
                &Value::String(name.to_string()),
            ));
        }
        if el.is_empty() {
            names.insert(name.to_string());
        } else {
            errs.extend(el);
        }
    }
    names
}

fn validate_volume_source(errs: &mut Errs, vol: &Value, path: &str, sources: &[&str]) {
    let mut count = 0;
    for src in sources {
        let s = at(vol, src);
        if s.is_null() {
            continue;
        }
        if count > 0 {
            errs.push(forbidden(
                child(path, src),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        let sp = child(path, src);
        match *src {
            "hostPath" => validate_host_path(errs, s, &sp),
            "emptyDir" => {
                if let Some(limit) = s.get("sizeLimit") {
                    match quantity_of(limit) {
                        None => errs.push(invalid(child(&sp, "sizeLimit"), limit, QUANTITY_MSG)),
                        Some(q) if q.sign() < 0 => {
                            errs.push(invalid(child(&sp, "sizeLimit"), limit, NEGATIVE))
                        }
                        _ => {}
                    }
                }
            }
            "secret" => {
                if st(s, "secretName").is_empty() {
                    errs.push(required(child(&sp, "secretName"), ""));
                }
                file_mode(errs, s, "defaultMode", &sp);
                key_to_paths(errs, arr(s, "items"), &child(&sp, "items"));
            }
            "configMap" => {
                if st(s, "name").is_empty() {
                    errs.push(required(child(&sp, "name"), ""));
                }
                file_mode(errs, s, "defaultMode", &sp);
                key_to_paths(errs, arr(s, "items"), &child(&sp, "items"));
            }
            "persistentVolumeClaim" => {
                if st(s, "claimName").is_empty() {
                    errs.push(required(child(&sp, "claimName"), ""));
                }
            }
            "nfs" => {
                if st(s, "server").is_empty() {
                    errs.push(required(child(&sp, "server"), ""));
                }
                let np = st(s, "path");
                if np.is_empty() {
                    errs.push(required(child(&sp, "path"), ""));
                } else if !np.starts_with('/') {
                    errs.push(invalid_str(
                        child(&sp, "path"),
                        np,
                        "must be an absolute path",
                    ));
                }
            }
            "downwardAPI" => {
                file_mode(errs, s, "defaultMode", &sp);
                downward_api_items(errs, arr(s, "items"), &child(&sp, "items"));
            }
            "projected" => {
                file_mode(errs, s, "defaultMode", &sp);
                for (j, src) in arr(s, "sources").iter().enumerate() {
                    let pp = index(&child(&sp, "sources"), j);
                    let kinds = [
                        "secret",
                        "configMap",
                        "downwardAPI",
                        "serviceAccountToken",
                        "clusterTrustBundle",
                    ];
                    let n = kinds.iter().filter(|k| has(src, k)).count();
                    if n == 0 {
                        errs.push(required(pp.clone(), "must specify exactly 1 of: `secret`, `configMap`, `downwardAPI`, `serviceAccountToken`, `clusterTrustBundle`"));
                    } else if n > 1 {
                        errs.push(forbidden(
                            pp.clone(),
                            "may not specify more than 1 volume type per source",
                        ));
                    }
                    if has(src, "secret") {
                        key_to_paths(
                            errs,
                            arr(at(src, "secret"), "items"),
                            &child(&child(&pp, "secret"), "items"),
                        );
                    }
                    if has(src, "configMap") {
                        key_to_paths(
                            errs,
                            arr(at(src, "configMap"), "items"),
                            &child(&child(&pp, "configMap"), "items"),
                        );
                    }
                    if has(src, "downwardAPI") {
                        downward_api_items(
                            errs,
                            arr(at(src, "downwardAPI"), "items"),
                            &child(&child(&pp, "downwardAPI"), "items"),
                        );
                    }
                    if has(src, "serviceAccountToken") {
                        let sat = at(src, "serviceAccountToken");
                        let tp = child(&pp, "serviceAccountToken");
                        if let Some(exp) = int(sat, "expirationSeconds") {
                            if exp < 600 {
                                errs.push(invalid_int(
                                    child(&tp, "expirationSeconds"),
                                    exp,
                                    "may not specify a duration less than 10 minutes",
                                ));
                            } else if exp > (1i64 << 32) {
                                errs.push(invalid_int(
                                    child(&tp, "expirationSeconds"),
                                    exp,
                                    "may not specify a duration larger than 2^32 seconds",
                                ));
                            }
                        }
                        if st(sat, "path").is_empty() {
                            errs.push(required(child(&tp, "path"), ""));
                        }
                    }
                }
            }
            "csi" => {
                if st(s, "driver").is_empty() {
                    errs.push(required(child(&sp, "driver"), ""));
                }
            }
            "ephemeral" => {
                if !has(s, "volumeClaimTemplate") {
                    errs.push(required(child(&sp, "volumeClaimTemplate"), ""));
                } else {
                    let t = at(s, "volumeClaimTemplate");
                    let tp = child(&sp, "volumeClaimTemplate");
                    errs.extend(validate_labels(
                        obj(at(t, "metadata"), "labels"),
                        &child(&child(&tp, "metadata"), "labels"),
                    ));
                    pvc_spec_errors(errs, at(t, "spec"), &child(&tp, "spec"));
                }
            }
            "gitRepo" => {
                if st(s, "repository").is_empty() {
                    errs.push(required(child(&sp, "repository"), ""));
                }
            }
            "iscsi" => {
                if st(s, "targetPortal").is_empty() {
                    errs.push(required(child(&sp, "targetPortal"), ""));
                }
                if st(s, "iqn").is_empty() {
                    errs.push(required(child(&sp, "iqn"), ""));
                }
            }
            "image" => {
                if st(s, "reference").is_empty() {
                    errs.push(required(child(&sp, "reference"), ""));
                }
            }
            _ => {}
        }
    }
    if count == 0 {
        errs.push(required(path, "must specify a volume type"));
    }
}

fn file_mode(errs: &mut Errs, v: &Value, k: &str, path: &str) {
    if let Some(m) = int(v, k) {
        if !(0..=0o777).contains(&m) {
            errs.push(invalid_int(child(path, k), m, FILE_MODE));
        }
    }
}

/// A `hostPath` source (pod volumes and PersistentVolumes alike): a path
/// without `..` steps and a supported type.
fn validate_host_path(errs: &mut Errs, s: &Value, sp: &str) {
    let p = st(s, "path");
    if p.is_empty() {
        errs.push(required(child(sp, "path"), ""));
    } else {
        no_backsteps(errs, p, &child(sp, "path"));
    }
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        if !HOST_PATH_TYPES.contains(&t) {
            errs.push(not_supported(child(sp, "type"), t, HOST_PATH_TYPES));
        }
    }
}

fn no_backsteps(errs: &mut Errs, p: &str, path: &str) {
    if p.split('/').any(|s| s == "..") {
        errs.push(invalid_str(path, p, "must not contain '..'"));
    }
}

fn local_descending_path(errs: &mut Errs, p: &str, path: &str) {
    if p.starts_with('/') {
        errs.push(invalid_str(path, p, "must be a relative path"));
    }
    no_backsteps(errs, p, path);
}

fn local_non_reserved_path(errs: &mut Errs, p: &str, path: &str) {
    local_descending_path(errs, p, path);
    if p.len() > 1 && p.starts_with("..") {
        errs.push(invalid_str(path, p, "must not start with '..'"));
    }
}

fn key_to_paths(errs: &mut Errs, items: &[Value], path: &str) {
    for (i, kp) in items.iter().enumerate() {
        let p = index(path, i);
        if st(kp, "key").is_empty() {
            errs.push(required(child(&p, "key"), ""));
        }
        let target = st(kp, "path");
        if target.is_empty() {
            errs.push(required(child(&p, "path"), ""));
        }
        local_non_reserved_path(errs, target, &child(&p, "path"));
        file_mode(errs, kp, "mode", &p);
    }
}

fn downward_api_items(errs: &mut Errs, items: &[Value], path: &str) {
    for (i, item) in items.iter().enumerate() {
        let p = index(path, i);
        let target = st(item, "path");
        if target.is_empty() {
            errs.push(required(child(&p, "path"), ""));
        }
        local_non_reserved_path(errs, target, &child(&p, "path"));
        file_mode(errs, item, "mode", &p);
        let has_field = has(item, "fieldRef");
        let has_res = has(item, "resourceFieldRef");
        if has_field {
            field_selector(
                errs,
                at(item, "fieldRef"),
                &child(&p, "fieldRef"),
                VOLUME_FIELD_PATHS,
            );
        }
        if has_field && has_res {
            errs.push(invalid_str(
                p.clone(),
                "resource",
                "fieldRef and resourceFieldRef can not be specified simultaneously",
            ));
        } else if !has_field && !has_res {
            errs.push(required(
                p,
                "one of fieldRef and resourceFieldRef is required",
            ));
        }
    }
}

fn field_selector(errs: &mut Errs, fs: &Value, path: &str, allowed: &[&str]) {
    let api_version = st(fs, "apiVersion");
    if api_version.is_empty() {
        errs.push(required(child(path, "apiVersion"), ""));
        return;
    }
    let fp = st(fs, "fieldPath");
    if fp.is_empty() {
        errs.push(required(child(path, "fieldPath"), ""));
        return;
    }
    if api_version != "v1" {
        errs.push(invalid_str(
            child(path, "fieldPath"),
            fp,
            format!("error converting fieldPath: unsupported pod version: {api_version}"),
        ));
        return;
    }
    if let Some((base, rest)) = fp.split_once('[') {
        let sub = rest
            .strip_suffix(']')
            .and_then(|s| s.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')));
        match (base, sub) {
            ("metadata.annotations", Some(sub)) => {
                validate_qualified_name(errs, &sub.to_lowercase(), path)
            }
            ("metadata.labels", Some(sub)) => validate_qualified_name(errs, sub, path),
            (_, Some(_)) => errs.push(invalid_str(path, base, "does not support subscript")),
            (_, None) => errs.push(not_supported(child(path, "fieldPath"), fp, allowed)),
        }
    } else if !allowed.contains(&fp) {
        errs.push(not_supported(child(path, "fieldPath"), fp, allowed));
    }
}

fn validate_containers(errs: &mut Errs, spec: &Value, volumes: &HashSet<String>, path: &str) {
    let p = child(path, "containers");
    let containers = arr(spec, "containers");
    if containers.is_empty() {
        errs.push(required(p.clone(), ""));
    }
    let mut names = HashSet::new();
    for (i, c) in containers.iter().enumerate() {
        let cp = index(&p, i);
        validate_container_common(errs, c, volumes, &cp);
        let name = st(c, "name");
        if !names.insert(name.to_string()) {
            errs.push(duplicate(
                child(&cp, "name"),
                &Value::String(name.to_string()),
            ));
        }
        validate_probe(errs, c, "livenessProbe", &cp, true);
        validate_probe(errs, c, "readinessProbe", &cp, false);
        validate_probe(errs, c, "startupProbe", &cp, true);
        validate_lifecycle(errs, c, &cp);
        if has(c, "restartPolicy") {
            errs.push(forbidden(
                child(&cp, "restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    host_port_conflicts(errs, containers, &p, &mut HashSet::new());
}

fn validate_init_containers(errs: &mut Errs, spec: &Value, volumes: &HashSet<String>, path: &str) {
    let p = child(path, "initContainers");
    let mut names: HashSet<String> = arr(spec, "containers")
        .iter()
        .map(|c| st(c, "name").to_string())
        .collect();
    for (i, c) in arr(spec, "initContainers").iter().enumerate() {
        let cp = index(&p, i);
        validate_container_common(errs, c, volumes, &cp);
        let mut restart_always = false;
        if let Some(rp) = c.get("restartPolicy").and_then(Value::as_str) {
            if rp == "Always" {
                restart_always = true;
            } else {
                errs.push(not_supported(child(&cp, "restartPolicy"), rp, &["Always"]));
            }
        }
        let name = st(c, "name");
        if names.contains(name) {
            errs.push(duplicate(
                child(&cp, "name"),
                &Value::String(name.to_string()),
            ));
        } else if !name.is_empty() {
            names.insert(name.to_string());
        }
        host_port_conflicts(errs, std::slice::from_ref(c), &p, &mut HashSet::new());
        if restart_always {
            validate_probe(errs, c, "livenessProbe", &cp, true);
            validate_probe(errs, c, "readinessProbe", &cp, false);
            validate_probe(errs, c, "startupProbe", &cp, true);
            validate_lifecycle(errs, c, &cp);
        } else {
            for f in [
                "lifecycle",
                "livenessProbe",
                "readinessProbe",
                "startupProbe",
            ] {
                if has(c, f) {
                    errs.push(forbidden(
                        child(&cp, f),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }
}

fn validate_ephemeral_containers(
    errs: &mut Errs,
    spec: &Value,
    volumes: &HashSet<String>,
    path: &str,
) {
    let p = child(path, "ephemeralContainers");
    let mut names: HashSet<String> = arr(spec, "containers")
        .iter()
        .chain(arr(spec, "initContainers"))
        .map(|c| st(c, "name").to_string())
        .collect();
    for (i, c) in arr(spec, "ephemeralContainers").iter().enumerate() {
        let cp = index(&p, i);
        validate_container_common(errs, c, volumes, &cp);
        let name = st(c, "name");
        if !names.insert(name.to_string()) {
            errs.push(duplicate(
                child(&cp, "name"),
                &Value::String(name.to_string()),
            ));
        }
        for f in [
            "lifecycle",
            "livenessProbe",
            "readinessProbe",
            "startupProbe",
            "ports",
        ] {
            if has(c, f) && !(f == "ports" && arr(c, f).is_empty()) {
                errs.push(forbidden(
                    child(&cp, f),
                    "cannot be set for an Ephemeral Container",
                ));
            }
        }
    }
}

fn host_port_conflicts(
    errs: &mut Errs,
    containers: &[Value],
    path: &str,
    seen: &mut HashSet<String>,
) {
    for (ci, c) in containers.iter().enumerate() {
        for (pi, port) in arr(c, "ports").iter().enumerate() {
            let hp = int(port, "hostPort").unwrap_or(0);
            if hp == 0 {
                continue;
            }
            let key = format!("{}/{}/{}", st(port, "hostIP"), st(port, "protocol"), hp);
            if !seen.insert(key.clone()) {
                errs.push(duplicate(
                    child(&index(&child(&index(path, ci), "ports"), pi), "hostPort"),
                    &Value::String(key),
                ));
            }
        }
    }
}

fn validate_host_network_ports(errs: &mut Errs, spec: &Value, path: &str, ctx: PodCtx) {
    if !bool_true(spec, "hostNetwork") {
        return;
    }
    for (i, c) in arr(spec, "containers").iter().enumerate() {
        for (j, port) in arr(c, "ports").iter().enumerate() {
            let hp = int(port, "hostPort").unwrap_or(0);
            let cp = int(port, "containerPort").unwrap_or(0);
            let bad = match ctx {
                PodCtx::Pod => hp != cp,
                PodCtx::Template => hp != 0 && hp != cp,
            };
            if bad {
                errs.push(invalid_int(
                    child(
                        &index(&child(&index(&child(path, "containers"), i), "ports"), j),
                        "hostPort",
                    ),
                    hp,
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
    }
}

fn validate_container_common(errs: &mut Errs, c: &Value, volumes: &HashSet<String>, path: &str) {
    let name = st(c, "name");
    if name.is_empty() {
        errs.push(required(child(path, "name"), ""));
    } else {
        validate_dns1123_label(errs, name, &child(path, "name"));
    }
    if st(c, "image").is_empty() {
        errs.push(required(child(path, "image"), ""));
    }
    match st(c, "terminationMessagePolicy") {
        "File" | "FallbackToLogsOnError" | "" => {}
        other => errs.push(not_supported(
            child(path, "terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    validate_container_ports(errs, arr(c, "ports"), &child(path, "ports"));
    validate_env(errs, arr(c, "env"), &child(path, "env"));
    validate_env_from(errs, arr(c, "envFrom"), &child(path, "envFrom"));
    validate_volume_mounts(
        errs,
        arr(c, "volumeMounts"),
        volumes,
        &child(path, "volumeMounts"),
    );
    match st(c, "imagePullPolicy") {
        "Always" | "IfNotPresent" | "Never" | "" => {}
        other => errs.push(not_supported(
            child(path, "imagePullPolicy"),
            other,
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    validate_resources(errs, at(c, "resources"), &child(path, "resources"));
}

fn validate_container_ports(errs: &mut Errs, ports: &[Value], path: &str) {
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = index(path, i);
        let name = st(port, "name");
        if !name.is_empty() {
            let msgs = is_valid_port_name(name);
            if !msgs.is_empty() {
                for m in msgs {
                    errs.push(invalid_str(child(&p, "name"), name, m));
                }
            } else if !names.insert(name.to_string()) {
                errs.push(duplicate(
                    child(&p, "name"),
                    &Value::String(name.to_string()),
                ));
            }
        }
        match int(port, "containerPort") {
            None | Some(0) => errs.push(required(child(&p, "containerPort"), "")),
            Some(n) => {
                for m in is_valid_port_num(n) {
                    errs.push(invalid_int(child(&p, "containerPort"), n, m));
                }
            }
        }
        if let Some(hp) = int(port, "hostPort") {
            if hp != 0 {
                for m in is_valid_port_num(hp) {
                    errs.push(invalid_int(child(&p, "hostPort"), hp, m));
                }
            }
        }
        let proto = st(port, "protocol");
        if !proto.is_empty() && !PROTOCOLS.contains(&proto) {
            errs.push(not_supported(child(&p, "protocol"), proto, PROTOCOLS));
        } else if proto.is_empty() && has(port, "protocol") {
            errs.push(required(child(&p, "protocol"), ""));
        }
    }
}

fn validate_env(errs: &mut Errs, env: &[Value], path: &str) {
    for (i, ev) in env.iter().enumerate() {
        let p = index(path, i);
        let name = st(ev, "name");
        if name.is_empty() {
            errs.push(required(child(&p, "name"), ""));
        } else {
            for m in is_env_var_name(name) {
                errs.push(invalid_str(child(&p, "name"), name, m));
            }
        }
        let vf = at(ev, "valueFrom");
        if vf.is_null() {
            continue;
        }
        let vp = child(&p, "valueFrom");
        let mut n = 0;
        if has(vf, "fieldRef") {
            n += 1;
            field_selector(
                errs,
                at(vf, "fieldRef"),
                &child(&vp, "fieldRef"),
                ENV_FIELD_PATHS,
            );
        }
        if has(vf, "resourceFieldRef") {
            n += 1;
            let r = at(vf, "resourceFieldRef");
            let rp = child(&vp, "resourceFieldRef");
            let res = st(r, "resource");
            const RES: &[&str] = &[
                "limits.cpu",
                "limits.ephemeral-storage",
                "limits.memory",
                "requests.cpu",
                "requests.ephemeral-storage",
                "requests.memory",
            ];
            if res.is_empty() {
                errs.push(required(child(&rp, "resource"), ""));
            } else if !RES.contains(&res)
                && !res.starts_with("limits.hugepages-")
                && !res.starts_with("requests.hugepages-")
            {
                errs.push(not_supported(child(&rp, "resource"), res, RES));
            }
        }
        for (k, name_field) in [
            ("configMapKeyRef", "configMapKeyRef"),
            ("secretKeyRef", "secretKeyRef"),
        ] {
            if has(vf, k) {
                n += 1;
                let r = at(vf, k);
                let rp = child(&vp, name_field);
                let rname = st(r, "name");
                for m in is_dns1123_subdomain(rname) {
                    errs.push(invalid_str(child(&rp, "name"), rname, m));
                }
                let rkey = st(r, "key");
                if rkey.is_empty() {
                    errs.push(required(child(&rp, "key"), ""));
                } else {
                    for m in is_config_map_key(rkey) {
                        errs.push(invalid_str(child(&rp, "key"), rkey, m));
                    }
                }
            }
        }
        if has(vf, "fileKeyRef") {
            n += 1;
        }
        if n == 0 {
            errs.push(invalid_str(
                vp.clone(),
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !st(ev, "value").is_empty() {
            errs.push(invalid_str(
                vp.clone(),
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if n > 1 {
            errs.push(invalid_str(
                vp,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

fn validate_env_from(errs: &mut Errs, env_from: &[Value], path: &str) {
    for (i, ef) in env_from.iter().enumerate() {
        let p = index(path, i);
        let prefix = st(ef, "prefix");
        if !prefix.is_empty() {
            for m in is_env_var_name(prefix) {
                errs.push(invalid_str(child(&p, "prefix"), prefix, m));
            }
        }
        let mut n = 0;
        for k in ["configMapRef", "secretRef"] {
            if has(ef, k) {
                n += 1;
                let name = st(at(ef, k), "name");
                for m in is_dns1123_subdomain(name) {
                    errs.push(invalid_str(child(&child(&p, k), "name"), name, m));
                }
            }
        }
        if n == 0 {
            errs.push(invalid_str(
                p,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if n > 1 {
            errs.push(invalid_str(
                p,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

fn validate_volume_mounts(
    errs: &mut Errs,
    mounts: &[Value],
    volumes: &HashSet<String>,
    path: &str,
) {
    let mut mount_points = HashSet::new();
    for (i, m) in mounts.iter().enumerate() {
        let p = index(path, i);
        let name = st(m, "name");
        if name.is_empty() {
            errs.push(required(child(&p, "name"), ""));
        }
        if !volumes.contains(name) {
            errs.push(not_found(child(&p, "name"), name));
        }
        let mp = st(m, "mountPath");
        if mp.is_empty() {
            errs.push(required(child(&p, "mountPath"), ""));
        }
        if !mount_points.insert(mp.to_string()) {
            errs.push(invalid_str(child(&p, "mountPath"), mp, "must be unique"));
        }
        let sub = st(m, "subPath");
        if !sub.is_empty() {
            local_descending_path(errs, sub, &child(&p, "subPath"));
        }
        if has(m, "subPath") && has(m, "subPathExpr") && !sub.is_empty() {
            errs.push(invalid_str(
                child(&p, "subPathExpr"),
                st(m, "subPathExpr"),
                "subPathExpr and subPath are mutually exclusive",
            ));
        }
        if let Some(mprop) = m.get("mountPropagation").and_then(Value::as_str) {
            const MP: &[&str] = &["Bidirectional", "HostToContainer", "None"];
            if !MP.contains(&mprop) {
                errs.push(not_supported(child(&p, "mountPropagation"), mprop, MP));
            }
        }
    }
}

fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

fn overcommit_allowed(name: &str) -> bool {
    let native = !name.contains('/') || name.contains("kubernetes.io/");
    native && !name.starts_with("hugepages-")
}

fn validate_resources(errs: &mut Errs, res: &Value, path: &str) {
    let lim_path = child(path, "limits");
    let req_path = child(path, "requests");
    let limits = obj(res, "limits");
    let mut parsed_limits: BTreeMap<&str, Quantity> = BTreeMap::new();
    let check_entry = |errs: &mut Errs, name: &str, v: &Value, p: &str| -> Option<Quantity> {
        for m in is_qualified_name(name) {
            errs.push(invalid_str(p, name, m));
        }
        if !name.contains('/') {
            if !is_standard_container_resource(name) {
                errs.push(invalid_str(
                    p,
                    name,
                    "must be a standard resource for containers",
                ));
            }
        } else if !name.contains("kubernetes.io/") && name.starts_with("requests.") {
            errs.push(invalid_str(
                p,
                name,
                "doesn't follow extended resource name standard",
            ));
        }
        match quantity_of(v) {
            None => {
                errs.push(invalid(p, v, QUANTITY_MSG));
                None
            }
            Some(q) => {
                if q.sign() < 0 {
                    errs.push(invalid_str(p, &q.canonical(), NEGATIVE));
                } else if !overcommit_allowed(name)
                    && !name.starts_with("hugepages-")
                    && q.scaled_value(-9) % 1_000_000_000 != 0
                {
                    errs.push(invalid_str(p, &q.canonical(), "must be an integer"));
                }
                Some(q)
            }
        }
    };
    if let Some(limits) = limits {
        for (name, v) in limits {
            if let Some(q) = check_entry(errs, name, v, &key(&lim_path, name)) {
                parsed_limits.insert(name, q);
            }
        }
    }
    if let Some(requests) = obj(res, "requests") {
        for (name, v) in requests {
            let Some(q) = check_entry(errs, name, v, &key(&req_path, name)) else {
                continue;
            };
            match parsed_limits.get(name.as_str()) {
                Some(l) => {
                    if q != *l && !overcommit_allowed(name) {
                        errs.push(invalid_str(
                            req_path.clone(),
                            &q.canonical(),
                            format!("must be equal to {name} limit of {}", l.canonical()),
                        ));
                    } else if q > *l {
                        errs.push(invalid_str(
                            req_path.clone(),
                            &q.canonical(),
                            format!(
                                "must be less than or equal to {name} limit of {}",
                                l.canonical()
                            ),
                        ));
                    }
                }
                None => {
                    if !overcommit_allowed(name) && limits.is_none_or(|l| !l.contains_key(name)) {
                        errs.push(required(
                            lim_path.clone(),
                            "Limit must be set for non overcommitable resources",
                        ));
                    }
                }
            }
        }
    }
}

fn validate_probe(errs: &mut Errs, c: &Value, which: &str, path: &str, must_succeed_once: bool) {
    let probe = at(c, which);
    if probe.is_null() {
        return;
    }
    let p = child(path, which);
    validate_handler(errs, probe, &p, true);
    for f in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        nonnegative(errs, probe, f, &p);
    }
    if let Some(t) = int(probe, "terminationGracePeriodSeconds") {
        if which == "readinessProbe" {
            errs.push(invalid_int(
                child(&p, "terminationGracePeriodSeconds"),
                t,
                "must not be set for readinessProbes",
            ));
        } else if t <= 0 {
            errs.push(invalid_int(
                child(&p, "terminationGracePeriodSeconds"),
                t,
                "must be greater than 0",
            ));
        }
    }
    if must_succeed_once {
        if let Some(s) = int(probe, "successThreshold") {
            if s != 1 {
                errs.push(invalid_int(child(&p, "successThreshold"), s, "must be 1"));
            }
        }
    }
}

fn validate_lifecycle(errs: &mut Errs, c: &Value, path: &str) {
    let lc = at(c, "lifecycle");
    if lc.is_null() {
        return;
    }
    let p = child(path, "lifecycle");
    for h in ["postStart", "preStop"] {
        if has(lc, h) {
            validate_handler(errs, at(lc, h), &child(&p, h), false);
        }
    }
}

fn validate_handler(errs: &mut Errs, h: &Value, path: &str, is_probe: bool) {
    let kinds: &[&str] = if is_probe {
        &["exec", "httpGet", "tcpSocket", "grpc"]
    } else {
        &["exec", "httpGet", "tcpSocket", "sleep"]
    };
    let mut n = 0;
    for k in kinds {
        let v = at(h, k);
        if v.is_null() {
            continue;
        }
        let kp = child(path, k);
        if n > 0 {
            errs.push(forbidden(kp, "may not specify more than 1 handler type"));
            continue;
        }
        n += 1;
        match *k {
            "exec" => {
                if arr(v, "command").is_empty() {
                    errs.push(required(child(&kp, "command"), ""));
                }
            }
            "httpGet" => {
                if has(v, "path") && st(v, "path").is_empty() {
                    errs.push(required(child(&kp, "path"), ""));
                }
                port_num_or_name(errs, at(v, "port"), &child(&kp, "port"));
                if let Some(s) = v.get("scheme").and_then(Value::as_str) {
                    if s != "HTTP" && s != "HTTPS" {
                        errs.push(not_supported(child(&kp, "scheme"), s, &["HTTP", "HTTPS"]));
                    }
                }
                for (i, hdr) in arr(v, "httpHeaders").iter().enumerate() {
                    let hn = st(hdr, "name");
                    for m in is_http_header_name(hn) {
                        errs.push(invalid_str(
                            child(&index(&child(&kp, "httpHeaders"), i), "name"),
                            hn,
                            m,
                        ));
                    }
                }
            }
            "tcpSocket" => port_num_or_name(errs, at(v, "port"), &child(&kp, "port")),
            "grpc" => {
                let port = int(v, "port").unwrap_or(0);
                for m in is_valid_port_num(port) {
                    errs.push(invalid_int(child(&kp, "port"), port, m));
                }
            }
            "sleep" => {
                if let Some(s) = int(v, "seconds") {
                    if s < 0 {
                        errs.push(invalid_int(child(&kp, "seconds"), s, NEGATIVE));
                    }
                }
            }
            _ => {}
        }
    }
    if n == 0 {
        errs.push(required(path, "must specify a handler type"));
    }
}

fn port_num_or_name(errs: &mut Errs, v: &Value, path: &str) {
    match v {
        Value::String(s) => {
            for m in is_valid_port_name(s) {
                errs.push(invalid_str(path, s, m));
            }
        }
        other => {
            let n = as_int(other).unwrap_or(0);
            for m in is_valid_port_num(n) {
                errs.push(invalid_int(path, n, m));
            }
        }
    }
}

/// Upstream `ValidatePodTemplateSpec` (labels are checked at `<path>.labels`,
/// as upstream does).
fn validate_pod_template_spec(errs: &mut Errs, tpl: &Value, path: &str) {
    let md = at(tpl, "metadata");
    errs.extend(validate_labels(obj(md, "labels"), &child(path, "labels")));
    errs.extend(validate_annotations(
        obj(md, "annotations"),
        &child(path, "annotations"),
    ));
    let spec = at(tpl, "spec");
    validate_pod_spec(errs, spec, &child(path, "spec"), PodCtx::Template);
    if !arr(spec, "ephemeralContainers").is_empty() {
        errs.push(forbidden(
            child(&child(path, "spec"), "ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
}

fn validate_pod(errs: &mut Errs, pod: &Value) {
    let spec = at(pod, "spec");
    validate_pod_spec(errs, spec, "spec", PodCtx::Pod);
    if !st(spec, "nodeName").is_empty() && !arr(spec, "schedulingGates").is_empty() {
        errs.push(forbidden(
            "spec.nodeName",
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
}

// ---------------------------------------------------------------------------
// Workloads.
// ---------------------------------------------------------------------------

fn template_labels_mismatch(errs: &mut Errs, sel: &Value, tpl: &Value, path: &str) {
    let labels = obj(at(tpl, "metadata"), "labels");
    if !selector_matches(sel, labels) {
        errs.push(invalid_raw(
            path,
            go_string_map(labels),
            "`selector` does not match template `labels`",
        ));
    }
}

/// The selector checks shared by Deployment, ReplicaSet and StatefulSet.
/// Returns whether the selector converts (so the template can be checked).
fn workload_selector(errs: &mut Errs, spec: &Value, what: &str) -> bool {
    let sel = at(spec, "selector");
    if sel.is_null() {
        errs.push(required("spec.selector", ""));
    } else {
        errs.extend(validate_label_selector(sel, "spec.selector"));
        if selector_is_empty(sel) {
            errs.push(invalid_raw(
                "spec.selector",
                go_label_selector(sel),
                format!("empty selector is invalid for {what}"),
            ));
        }
    }
    selector_convertible(sel)
}

/// Upstream `ValidatePodTemplateSpecForReplicaSet` (also used by Deployments).
fn validate_template_for_replicaset(errs: &mut Errs, spec: &Value, kind_name: &str) {
    let sel = at(spec, "selector");
    let tpl = at(spec, "template");
    if tpl.is_null() {
        errs.push(required("spec.template", ""));
        return;
    }
    if !sel.is_null() && !selector_is_empty(sel) {
        template_labels_mismatch(errs, sel, tpl, "spec.template.metadata.labels");
    }
    validate_pod_template_spec(errs, tpl, "spec.template");
    template_restart_always(errs, tpl, kind_name);
}

fn template_restart_always(errs: &mut Errs, tpl: &Value, kind_name: &str) {
    let spec = at(tpl, "spec");
    let rp = st(spec, "restartPolicy");
    if rp != "Always" {
        errs.push(not_supported(
            "spec.template.spec.restartPolicy",
            rp,
            &["Always"],
        ));
    }
    if has(spec, "activeDeadlineSeconds") {
        errs.push(forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            format!("activeDeadlineSeconds in {kind_name} is not Supported"),
        ));
    }
}

fn validate_int_or_percent(errs: &mut Errs, v: &Value, path: &str) {
    match v {
        Value::String(s) => {
            for m in is_valid_percent(s) {
                errs.push(invalid_raw(path, go_int_or_string(v), m));
            }
        }
        Value::Null => {}
        other => {
            let n = as_int(other).unwrap_or(0);
            if n < 0 {
                errs.push(invalid_int(path, n, NEGATIVE));
            }
        }
    }
}

fn int_or_percent_value(v: &Value) -> i64 {
    match v {
        Value::String(s) => s
            .strip_suffix('%')
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        other => as_int(other).unwrap_or(0),
    }
}

fn not_more_than_100_percent(errs: &mut Errs, v: &Value, path: &str) {
    if let Value::String(s) = v {
        if is_valid_percent(s).is_empty() && int_or_percent_value(v) > 100 {
            errs.push(invalid_raw(
                path,
                go_int_or_string(v),
                "must not be greater than 100%",
            ));
        }
    }
}

fn validate_deployment(errs: &mut Errs, d: &Value) {
    let spec = at(d, "spec");
    nonnegative(errs, spec, "replicas", "spec");
    let convertible = workload_selector(errs, spec, "deployment");
    if !convertible {
        errs.push(invalid_raw(
            "spec.selector",
            go_label_selector(at(spec, "selector")),
            "invalid label selector",
        ));
    } else {
        validate_template_for_replicaset(errs, spec, "Deployment");
    }
    let strategy = at(spec, "strategy");
    match st(strategy, "type") {
        "Recreate" => {
            if has(strategy, "rollingUpdate") {
                errs.push(forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => {
            let ru = at(strategy, "rollingUpdate");
            if ru.is_null() {
                errs.push(required(
                    "spec.strategy.rollingUpdate",
                    "this should be defaulted and never be nil",
                ));
            } else {
                let mu = at(ru, "maxUnavailable");
                let ms = at(ru, "maxSurge");
                validate_int_or_percent(errs, mu, "spec.strategy.rollingUpdate.maxUnavailable");
                validate_int_or_percent(errs, ms, "spec.strategy.rollingUpdate.maxSurge");
                if int_or_percent_value(mu) == 0 && int_or_percent_value(ms) == 0 {
                    let rendered = go_int_or_string(mu);
                    errs.push(invalid_raw(
                        "spec.strategy.rollingUpdate.maxUnavailable",
                        rendered,
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                not_more_than_100_percent(errs, mu, "spec.strategy.rollingUpdate.maxUnavailable");
            }
        }
        "" if !has(strategy, "type") => {}
        _ => errs.push(not_supported_raw(
            "spec.strategy",
            go_strategy(
                "apps.DeploymentStrategy",
                "apps.RollingUpdateDeployment",
                strategy,
            ),
            &["Recreate", "RollingUpdate"],
        )),
    }
    nonnegative(errs, spec, "minReadySeconds", "spec");
    nonnegative(errs, spec, "revisionHistoryLimit", "spec");
    if let Some(pds) = int(spec, "progressDeadlineSeconds") {
        if pds < 0 {
            errs.push(invalid_int("spec.progressDeadlineSeconds", pds, NEGATIVE));
        }
        if pds <= int(spec, "minReadySeconds").unwrap_or(0) {
            errs.push(invalid_int(
                "spec.progressDeadlineSeconds",
                pds,
                "must be greater than minReadySeconds",
            ));
        }
    }
}

fn validate_replicaset(errs: &mut Errs, rs: &Value) {
    let spec = at(rs, "spec");
    nonnegative(errs, spec, "replicas", "spec");
    nonnegative(errs, spec, "minReadySeconds", "spec");
    let convertible = workload_selector(errs, spec, "deployment");
    if !convertible {
        errs.push(invalid_raw(
            "spec.selector",
            go_label_selector(at(spec, "selector")),
            "invalid label selector",
        ));
    } else {
        validate_template_for_replicaset(errs, spec, "ReplicaSet");
    }
}

fn validate_statefulset(errs: &mut Errs, sts: &Value) {
    let spec = at(sts, "spec");
    match st(spec, "podManagementPolicy") {
        "OrderedReady" | "Parallel" => {}
        "" => {
            if has(spec, "podManagementPolicy") {
                errs.push(required("spec.podManagementPolicy", ""));
            }
        }
        other => errs.push(invalid_str(
            "spec.podManagementPolicy",
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let us = at(spec, "updateStrategy");
    match st(us, "type") {
        "OnDelete" => {
            if has(us, "rollingUpdate") {
                errs.push(invalid(
                    "spec.updateStrategy.rollingUpdate",
                    at(us, "rollingUpdate"),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            let ru = at(us, "rollingUpdate");
            if !ru.is_null() {
                nonnegative(errs, ru, "partition", "spec.updateStrategy.rollingUpdate");
                let mu = at(ru, "maxUnavailable");
                if !mu.is_null() {
                    let p = "spec.updateStrategy.rollingUpdate.maxUnavailable";
                    validate_int_or_percent(errs, mu, p);
                    if int_or_percent_value(mu) == 0 {
                        errs.push(invalid_raw(p, go_int_or_string(mu), "cannot be 0"));
                    }
                    not_more_than_100_percent(errs, mu, p);
                }
            }
        }
        "" => {}
        _ => errs.push(invalid_raw(
            "spec.updateStrategy",
            go_strategy(
                "apps.StatefulSetUpdateStrategy",
                "apps.RollingUpdateStatefulSetStrategy",
                us,
            ),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    let policy = at(spec, "persistentVolumeClaimRetentionPolicy");
    if !policy.is_null() {
        for f in ["whenDeleted", "whenScaled"] {
            let v = st(policy, f);
            if v != "Retain" && v != "Delete" {
                errs.push(not_supported(
                    child("spec.persistentVolumeClaimRetentionPolicy", f),
                    v,
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    nonnegative(errs, spec, "replicas", "spec");
    nonnegative(errs, spec, "minReadySeconds", "spec");
    if let Some(start) = int(at(spec, "ordinals"), "start") {
        if start < 0 {
            errs.push(invalid_int("spec.ordinals.start", start, NEGATIVE));
        }
    }
    let service_name = st(spec, "serviceName");
    if !service_name.is_empty() {
        validate_dns1123_label(errs, service_name, "spec.serviceName");
    }
    let convertible = workload_selector(errs, spec, "statefulset");
    let tpl = at(spec, "template");
    if !convertible {
        errs.push(invalid_raw(
            "spec.selector",
            go_label_selector(at(spec, "selector")),
            "",
        ));
    } else {
        let sel = at(spec, "selector");
        if !sel.is_null() && !selector_is_empty(sel) {
            template_labels_mismatch(errs, sel, tpl, "spec.template.metadata.labels");
        }
        // Upstream checks only the template's metadata here (volume mounts
        // may name volumeClaimTemplates).
        let md = at(tpl, "metadata");
        errs.extend(validate_labels(obj(md, "labels"), "spec.template.labels"));
        errs.extend(validate_annotations(
            obj(md, "annotations"),
            "spec.template.annotations",
        ));
    }
    template_restart_always(errs, tpl, "StatefulSet");
    for (i, pvc) in arr(spec, "volumeClaimTemplates").iter().enumerate() {
        let p = index("spec.volumeClaimTemplates", i);
        let name = st(at(pvc, "metadata"), "name");
        if name.is_empty() {
            errs.push(required(child(&child(&p, "metadata"), "name"), ""));
        }
    }
}

fn validate_daemonset(errs: &mut Errs, ds: &Value) {
    let spec = at(ds, "spec");
    let sel = at(spec, "selector");
    let tpl = at(spec, "template");
    if sel.is_null() {
        errs.push(required("spec.selector", ""));
    } else {
        errs.extend(validate_label_selector(sel, "spec.selector"));
    }
    if !sel.is_null() && selector_convertible(sel) {
        template_labels_mismatch(errs, sel, tpl, "spec.template.metadata.labels");
    }
    if !sel.is_null() && selector_is_empty(sel) {
        errs.push(invalid_raw(
            "spec.selector",
            go_label_selector(sel),
            "empty selector is invalid for daemonset",
        ));
    }
    validate_pod_template_spec(errs, tpl, "spec.template");
    template_restart_always(errs, tpl, "DaemonSet");
    nonnegative(errs, spec, "minReadySeconds", "spec");
    nonnegative(errs, spec, "templateGeneration", "spec");
    let us = at(spec, "updateStrategy");
    match st(us, "type") {
        "OnDelete" => {}
        "RollingUpdate" => {
            let ru = at(us, "rollingUpdate");
            if ru.is_null() {
                errs.push(required("spec.updateStrategy.rollingUpdate", ""));
            } else {
                let base = "spec.updateStrategy.rollingUpdate";
                let mu = at(ru, "maxUnavailable");
                let ms = at(ru, "maxSurge");
                validate_int_or_percent(errs, mu, &child(base, "maxUnavailable"));
                validate_int_or_percent(errs, ms, &child(base, "maxSurge"));
                not_more_than_100_percent(errs, mu, &child(base, "maxUnavailable"));
                not_more_than_100_percent(errs, ms, &child(base, "maxSurge"));
                let has_u = int_or_percent_value(mu) != 0;
                let has_s = int_or_percent_value(ms) != 0;
                if has_u && has_s {
                    let rendered = go_int_or_string(ms);
                    errs.push(invalid_raw(
                        child(base, "maxSurge"),
                        rendered,
                        "may not be set when maxUnavailable is non-zero",
                    ));
                } else if !has_u && !has_s {
                    errs.push(required(
                        child(base, "maxUnavailable"),
                        "cannot be 0 when maxSurge is 0",
                    ));
                }
            }
        }
        "" if !has(us, "type") => {}
        _ => errs.push(not_supported_raw(
            "spec.updateStrategy",
            go_strategy(
                "apps.DaemonSetUpdateStrategy",
                "apps.RollingUpdateDaemonSet",
                us,
            ),
            &["RollingUpdate", "OnDelete"],
        )),
    }
    nonnegative(errs, spec, "revisionHistoryLimit", "spec");
}

fn validate_replication_controller(errs: &mut Errs, rc: &Value) {
    let spec = at(rc, "spec");
    nonnegative(errs, spec, "minReadySeconds", "spec");
    let sel = obj(spec, "selector");
    if sel.is_none_or(|s| s.is_empty()) {
        errs.push(required("spec.selector", ""));
    }
    errs.extend(validate_labels(sel, "spec.selector"));
    nonnegative(errs, spec, "replicas", "spec");
    let tpl = at(spec, "template");
    if tpl.is_null() {
        errs.push(required("spec.template", ""));
        return;
    }
    if let Some(sel) = sel.filter(|s| !s.is_empty()) {
        let labels = obj(at(tpl, "metadata"), "labels");
        let ok = sel
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)).map(scalar_str) == Some(scalar_str(v)));
        if !ok {
            errs.push(invalid_raw(
                "spec.template.metadata.labels",
                go_string_map(labels),
                "`selector` does not match template `labels`",
            ));
        }
    }
    validate_pod_template_spec(errs, tpl, "spec.template");
    template_restart_always(errs, tpl, "ReplicationController");
}

// ---------------------------------------------------------------------------
// Jobs and CronJobs.
// ---------------------------------------------------------------------------

fn validate_job_spec(errs: &mut Errs, spec: &Value, path: &str) {
    for f in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ] {
        nonnegative(errs, spec, f, path);
    }
    if has(spec, "maxFailedIndexes") && !has(spec, "backoffLimitPerIndex") {
        errs.push(required(
            child(path, "backoffLimitPerIndex"),
            "when maxFailedIndexes is specified",
        ));
    }
    let indexed = st(spec, "completionMode") == "Indexed";
    if let Some(cm) = spec.get("completionMode").and_then(Value::as_str) {
        if cm != "NonIndexed" && cm != "Indexed" {
            errs.push(not_supported(
                child(path, "completionMode"),
                cm,
                &["NonIndexed", "Indexed"],
            ));
        }
        if indexed {
            if !has(spec, "completions") {
                errs.push(required(
                    child(path, "completions"),
                    "when completion mode is Indexed",
                ));
            }
            if let Some(p) = int(spec, "parallelism") {
                if p > 100_000 {
                    errs.push(invalid_int(
                        child(path, "parallelism"),
                        p,
                        "must be less than or equal to 100000 when completion mode is Indexed",
                    ));
                }
            }
        }
    }
    if !indexed {
        for f in ["backoffLimitPerIndex", "maxFailedIndexes"] {
            if let Some(n) = int(spec, f) {
                errs.push(invalid_int(
                    child(path, f),
                    n,
                    "requires indexed completion mode",
                ));
            }
        }
    }
    let has_pfp = has(spec, "podFailurePolicy");
    if let Some(prp) = spec.get("podReplacementPolicy").and_then(Value::as_str) {
        if has_pfp {
            if prp != "Failed" {
                errs.push(not_supported(
                    child(path, "podReplacementPolicy"),
                    prp,
                    &["Failed"],
                ));
            }
        } else if prp != "Failed" && prp != "TerminatingOrFailed" {
            errs.push(not_supported(
                child(path, "podReplacementPolicy"),
                prp,
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    let tpl = at(spec, "template");
    let tpath = child(path, "template");
    validate_pod_template_spec(errs, tpl, &tpath);
    let rp = st(at(tpl, "spec"), "restartPolicy");
    let rp_path = child(&tpath, "spec.restartPolicy");
    if rp == "Always" || rp.is_empty() {
        errs.push(required(rp_path, "valid values: \"OnFailure\", \"Never\""));
    } else if rp != "OnFailure" && rp != "Never" {
        errs.push(not_supported(rp_path, rp, &["OnFailure", "Never"]));
    } else if has_pfp && rp != "Never" {
        errs.push(invalid_str(
            rp_path,
            rp,
            "only \"Never\" is supported when podFailurePolicy is specified",
        ));
    }
}

fn validate_job(errs: &mut Errs, job: &Value) {
    let spec = at(job, "spec");
    let md = at(job, "metadata");
    // Generated selector (upstream `validateGeneratedSelector`).
    if !bool_true(spec, "manualSelector") && has(spec, "selector") {
        let uid = st(md, "uid");
        if uid.is_empty() {
            errs.push(required("metadata.uid", ""));
        }
        let tlabels = obj(at(at(spec, "template"), "metadata"), "labels");
        let name = st(md, "name");
        for (label, want) in [
            ("controller-uid", uid),
            ("job-name", name),
            ("batch.kubernetes.io/controller-uid", uid),
            ("batch.kubernetes.io/job-name", name),
        ] {
            match tlabels.and_then(|l| l.get(label)).map(scalar_str) {
                None => errs.push(required(
                    format!("spec.template.metadata.labels[{label}]"),
                    "",
                )),
                Some(v) if v != want => errs.push(invalid_str(
                    format!("spec.template.metadata.labels[{label}]"),
                    &v,
                    format!("must be '{want}'"),
                )),
                _ => {}
            }
        }
        let mut expected = Map::new();
        for (k, v) in [
            ("batch.kubernetes.io/controller-uid", uid),
            ("batch.kubernetes.io/job-name", name),
            ("controller-uid", uid),
            ("job-name", name),
        ] {
            expected.insert(k.to_string(), Value::String(v.to_string()));
        }
        let sel = at(spec, "selector");
        if selector_convertible(sel) && !selector_matches(sel, Some(&expected)) {
            errs.push(invalid_raw(
                "spec.selector",
                go_label_selector(sel),
                "`selector` not auto-generated",
            ));
        }
    }
    validate_job_spec(errs, spec, "spec");
    let sel = at(spec, "selector");
    if sel.is_null() {
        errs.push(required("spec.selector", ""));
    } else {
        errs.extend(validate_label_selector(sel, "spec.selector"));
    }
    if selector_convertible(sel) && !sel.is_null() {
        template_labels_mismatch(
            errs,
            sel,
            at(spec, "template"),
            "spec.template.metadata.labels",
        );
    }
    if st(spec, "completionMode") == "Indexed" {
        if let Some(c) = int(spec, "completions").filter(|c| *c > 0) {
            let host = format!("{}-{}", st(md, "name"), c - 1);
            if !is_dns1123_label(&host).is_empty() {
                errs.push(invalid_str(
                    "metadata.name",
                    st(md, "name"),
                    format!("will not able to create pod with invalid DNS label: {host}"),
                ));
            }
        }
    }
}

/// A 5-field cron expression (or a `@descriptor`), as robfig/cron's standard
/// parser accepts; returns the parser's error text.
fn check_cron(schedule: &str) -> Result<(), String> {
    let mut s = schedule.trim();
    if let Some(rest) = s.strip_prefix("TZ=").or_else(|| s.strip_prefix("CRON_TZ=")) {
        match rest.split_once(' ') {
            Some((_, r)) => s = r.trim(),
            None => return Err("missing spec".to_string()),
        }
    }
    if s.is_empty() {
        return Err("empty spec string".to_string());
    }
    if let Some(d) = s.strip_prefix('@') {
        return match d {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => {
                Ok(())
            }
            _ if d.starts_with("every ") => Ok(()),
            _ => Err(format!("unrecognized descriptor: {s}")),
        };
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    let bounds: [(u32, u32, &[&str]); 5] = [
        (0, 59, &[]),
        (0, 23, &[]),
        (1, 31, &[]),
        (
            1,
            12,
            &[
                "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
            ],
        ),
        (0, 6, &["sun", "mon", "tue", "wed", "thu", "fri", "sat"]),
    ];
    for (field, (lo, hi, names)) in fields.iter().zip(bounds) {
        for part in field.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, st)) => (r, Some(st)),
                None => (part, None),
            };
            if let Some(step) = step {
                match step.parse::<u32>() {
                    Err(_) => {
                        return Err(format!(
                            "failed to parse int from {step}: strconv.Atoi: parsing {step:?}: invalid syntax"
                        ))
                    }
                    Ok(0) => return Err(format!("step of range should be a positive number: {part}")),
                    _ => {}
                }
            }
            if range == "*" || range == "?" {
                continue;
            }
            let parse = |t: &str| -> Result<u32, String> {
                if let Some(pos) = names.iter().position(|n| n.eq_ignore_ascii_case(t)) {
                    return Ok(pos as u32 + lo);
                }
                t.parse::<u32>().map_err(|_| {
                    format!(
                        "failed to parse int from {t}: strconv.Atoi: parsing {t:?}: invalid syntax"
                    )
                })
            };
            let (a, b) = match range.split_once('-') {
                Some((a, b)) => (parse(a)?, parse(b)?),
                None => {
                    let a = parse(range)?;
                    (a, a)
                }
            };
            if a < lo {
                return Err(format!(
                    "beginning of range ({a}) below minimum ({lo}): {part}"
                ));
            }
            if b > hi {
                return Err(format!("end of range ({b}) above maximum ({hi}): {part}"));
            }
            if a > b {
                return Err(format!(
                    "beginning of range ({a}) beyond end of range ({b}): {part}"
                ));
            }
        }
    }
    Ok(())
}

fn validate_cronjob_spec(errs: &mut Errs, spec: &Value, old_spec: Option<&Value>) {
    let schedule = st(spec, "schedule");
    if schedule.is_empty() {
        errs.push(required("spec.schedule", ""));
    } else {
        if let Err(e) = check_cron(schedule) {
            errs.push(invalid_str("spec.schedule", schedule, e));
        }
        let allow_tz = old_spec.is_some_and(|o| st(o, "schedule").contains("TZ"));
        if allow_tz && schedule.contains("TZ") && has(spec, "timeZone") {
            errs.push(invalid_str(
                "spec.schedule",
                schedule,
                "cannot use both timeZone field and TZ or CRON_TZ in schedule",
            ));
        } else if !allow_tz && schedule.contains("TZ") {
            errs.push(invalid_str(
                "spec.schedule",
                schedule,
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    nonnegative(errs, spec, "startingDeadlineSeconds", "spec");
    let tz_changed = old_spec.is_none_or(|o| at(o, "timeZone") != at(spec, "timeZone"));
    if tz_changed {
        if let Some(tz) = spec.get("timeZone").and_then(Value::as_str) {
            let valid_part = |c: &str| {
                c != "."
                    && c != ".."
                    && !c.is_empty()
                    && c.len() <= 14
                    && !c.starts_with('-')
                    && c.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
            };
            if tz.is_empty() {
                errs.push(invalid_str(
                    "spec.timeZone",
                    tz,
                    "timeZone must be nil or non-empty string",
                ));
            } else if !tz.split('/').all(valid_part) {
                errs.push(invalid_str(
                    "spec.timeZone",
                    tz,
                    format!("unknown time zone {tz}"),
                ));
            } else if tz.eq_ignore_ascii_case("Local") {
                errs.push(invalid_str(
                    "spec.timeZone",
                    tz,
                    "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
                ));
            }
        }
    }
    match st(spec, "concurrencyPolicy") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => {
            if has(spec, "concurrencyPolicy") {
                errs.push(required("spec.concurrencyPolicy", ""));
            }
        }
        other => errs.push(not_supported(
            "spec.concurrencyPolicy",
            other,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    let jt = at(spec, "jobTemplate");
    let jmd = at(jt, "metadata");
    errs.extend(validate_labels(
        obj(jmd, "labels"),
        "spec.jobTemplate.metadata.labels",
    ));
    errs.extend(validate_annotations(
        obj(jmd, "annotations"),
        "spec.jobTemplate.metadata.annotations",
    ));
    let jspec = at(jt, "spec");
    validate_job_spec(errs, jspec, "spec.jobTemplate.spec");
    if has(jspec, "selector") {
        errs.push(invalid_raw(
            "spec.jobTemplate.spec.selector",
            go_label_selector(at(jspec, "selector")),
            "`selector` will be auto-generated",
        ));
    }
    if bool_true(jspec, "manualSelector") {
        errs.push(FieldError::not_supported(
            "spec.jobTemplate.spec.manualSelector",
            &Value::Bool(true),
            &["nil", "false"],
        ));
    }
    nonnegative(errs, spec, "successfulJobsHistoryLimit", "spec");
    nonnegative(errs, spec, "failedJobsHistoryLimit", "spec");
}

// ---------------------------------------------------------------------------
// Services and endpoints.
// ---------------------------------------------------------------------------

/// `clusterIPs`, derived from `clusterIP` when only that is set.
fn cluster_ips(spec: &Value) -> Vec<String> {
    let ips: Vec<String> = arr(spec, "clusterIPs").iter().map(scalar_str).collect();
    if ips.is_empty() && !st(spec, "clusterIP").is_empty() {
        vec![st(spec, "clusterIP").to_string()]
    } else {
        ips
    }
}

fn is_headless(spec: &Value) -> bool {
    let ips = cluster_ips(spec);
    ips.len() == 1 && ips[0] == "None"
}

fn externally_accessible(spec: &Value) -> bool {
    let t = st(spec, "type");
    t == "LoadBalancer"
        || t == "NodePort"
        || (t == "ClusterIP" && !arr(spec, "externalIPs").is_empty())
}

fn go_service_port(protocol: &str, port: i64) -> String {
    format!(
        "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
        go_quote(protocol)
    )
}

fn validate_service(errs: &mut Errs, svc: &Value) {
    let spec = at(svc, "spec");
    let ty = st(spec, "type");
    let headless = is_headless(spec);
    let ports = arr(spec, "ports");
    let ips = cluster_ips(spec);
    if ports.is_empty() && !headless && ty != "ExternalName" {
        errs.push(required("spec.ports", ""));
    }
    match ty {
        "LoadBalancer" => {
            if headless {
                errs.push(invalid_str(
                    "spec.clusterIPs[0]",
                    "None",
                    "may not be set to 'None' for LoadBalancer services",
                ));
            }
            for (i, p) in ports.iter().enumerate() {
                if int(p, "port") == Some(10250) {
                    errs.push(invalid_int(
                        index("spec.ports", i),
                        10250,
                        "may not expose port 10250 externally since it is used by kubelet",
                    ));
                }
            }
        }
        "NodePort" => {
            if headless {
                errs.push(invalid_str(
                    "spec.clusterIPs[0]",
                    "None",
                    "may not be set to 'None' for NodePort services",
                ));
            }
        }
        "ExternalName" => {
            if !ips.is_empty() {
                errs.push(forbidden(
                    "spec.clusterIPs",
                    "may not be set for ExternalName services",
                ));
            }
            if !arr(spec, "ipFamilies").is_empty() {
                errs.push(forbidden(
                    "spec.ipFamilies",
                    "may not be set for ExternalName services",
                ));
            }
            if has(spec, "ipFamilyPolicy") {
                errs.push(forbidden(
                    "spec.ipFamilyPolicy",
                    "may not be set for ExternalName services",
                ));
            }
            let name = st(spec, "externalName");
            let cname = name.strip_suffix('.').unwrap_or(name);
            if cname.is_empty() {
                errs.push(required("spec.externalName", ""));
            } else {
                validate_dns1123_subdomain(errs, cname, "spec.externalName");
            }
        }
        _ => {}
    }
    let mut port_names = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let pp = index("spec.ports", i);
        let name = st(p, "name");
        if ports.len() > 1 && name.is_empty() {
            errs.push(required(child(&pp, "name"), ""));
        } else if !name.is_empty() {
            validate_dns1123_label(errs, name, &child(&pp, "name"));
            if !port_names.insert(name.to_string()) {
                errs.push(duplicate(
                    child(&pp, "name"),
                    &Value::String(name.to_string()),
                ));
            }
        }
        let port = int(p, "port").unwrap_or(0);
        for m in is_valid_port_num(port) {
            errs.push(invalid_int(child(&pp, "port"), port, m));
        }
        let proto = st(p, "protocol");
        if proto.is_empty() {
            if has(p, "protocol") {
                errs.push(required(child(&pp, "protocol"), ""));
            }
        } else if !PROTOCOLS.contains(&proto) {
            errs.push(not_supported(child(&pp, "protocol"), proto, PROTOCOLS));
        }
        if has(p, "targetPort") {
            port_num_or_name(errs, at(p, "targetPort"), &child(&pp, "targetPort"));
        }
        if let Some(ap) = p.get("appProtocol").and_then(Value::as_str) {
            validate_qualified_name(errs, ap, &child(&pp, "appProtocol"));
        }
        if let Some(np) = int(p, "nodePort") {
            if np != 0 {
                for m in is_valid_port_num(np) {
                    errs.push(invalid_int(child(&pp, "nodePort"), np, m));
                }
            }
        }
    }
    errs.extend(validate_labels(obj(spec, "selector"), "spec.selector"));
    let affinity = st(spec, "sessionAffinity");
    match affinity {
        "ClientIP" => {
            let cfg = at(at(spec, "sessionAffinityConfig"), "clientIP");
            let p = "spec.sessionAffinityConfig.clientIP.timeoutSeconds";
            match int(cfg, "timeoutSeconds") {
                None => errs.push(required(p, "")),
                Some(t) if !(1..=86400).contains(&t) => {
                    errs.push(invalid_int(p, t, inclusive_range_error(1, 86400)))
                }
                _ => {}
            }
        }
        "None" => {
            if has(spec, "sessionAffinityConfig") {
                errs.push(forbidden(
                    "spec.sessionAffinityConfig",
                    "must not be set when session affinity is None",
                ));
            }
        }
        "" => {
            if has(spec, "sessionAffinity") {
                errs.push(required("spec.sessionAffinity", ""));
            }
        }
        other => errs.push(not_supported(
            "spec.sessionAffinity",
            other,
            &["ClientIP", "None"],
        )),
    }
    validate_cluster_ips(errs, spec, &ips, headless);
    for (i, ip) in arr(spec, "externalIPs").iter().enumerate() {
        let ip = scalar_str(ip);
        if !is_valid_ip(&ip) {
            errs.push(invalid_str(index("spec.externalIPs", i), &ip, IP_MSG));
        }
    }
    match ty {
        "ClusterIP" | "ExternalName" | "LoadBalancer" | "NodePort" => {}
        "" => {
            if has(spec, "type") {
                errs.push(required("spec.type", ""));
            }
        }
        other => errs.push(not_supported(
            "spec.type",
            other,
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        )),
    }
    if ty == "ClusterIP" {
        for (i, p) in ports.iter().enumerate() {
            if int(p, "nodePort").unwrap_or(0) != 0 {
                errs.push(forbidden(
                    child(&index("spec.ports", i), "nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut node_ports = HashSet::new();
    let mut seen_ports = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let proto = st(p, "protocol").to_string();
        let np = int(p, "nodePort").unwrap_or(0);
        if np != 0 && !node_ports.insert((proto.clone(), np)) {
            errs.push(duplicate(
                child(&index("spec.ports", i), "nodePort"),
                &Value::from(np),
            ));
        }
        let port = int(p, "port").unwrap_or(0);
        if !seen_ports.insert((proto.clone(), port)) {
            errs.push(FieldError {
                field: index("spec.ports", i),
                kind: FieldErrorKind::Duplicate(go_service_port(&proto, port)),
                detail: String::new(),
            });
        }
    }
    for (i, r) in arr(spec, "loadBalancerSourceRanges").iter().enumerate() {
        let r = scalar_str(r).trim().to_string();
        if !is_valid_cidr(&r) {
            errs.push(invalid_str(
                index("spec.loadBalancerSourceRanges", i),
                &r,
                "must be a valid IP address or CIDR, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            ));
        }
        if ty != "LoadBalancer" {
            errs.push(forbidden(
                "spec.loadBalancerSourceRanges",
                "may only be used when `type` is 'LoadBalancer'",
            ));
            break;
        }
    }
    let etp = st(spec, "externalTrafficPolicy");
    if !externally_accessible(spec) {
        if !etp.is_empty() {
            errs.push(invalid_str(
                "spec.externalTrafficPolicy",
                etp,
                "may only be set for externally-accessible services",
            ));
        }
    } else if etp.is_empty() {
        if has(spec, "externalTrafficPolicy") {
            errs.push(required("spec.externalTrafficPolicy", ""));
        }
    } else if etp != "Cluster" && etp != "Local" {
        errs.push(not_supported(
            "spec.externalTrafficPolicy",
            etp,
            &["Cluster", "Local"],
        ));
    }
    if let Some(hc) = int(spec, "healthCheckNodePort") {
        if hc != 0 && !(ty == "LoadBalancer" && etp == "Local") {
            errs.push(invalid_int(
                "spec.healthCheckNodePort",
                hc,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    }
    if let Some(itp) = spec.get("internalTrafficPolicy").and_then(Value::as_str) {
        if itp != "Cluster" && itp != "Local" {
            errs.push(not_supported(
                "spec.internalTrafficPolicy",
                itp,
                &["Cluster", "Local"],
            ));
        }
    }
    if let Some(td) = spec.get("trafficDistribution").and_then(Value::as_str) {
        const TD: &[&str] = &["PreferClose", "PreferSameNode", "PreferSameZone"];
        if !TD.contains(&td) {
            errs.push(not_supported("spec.trafficDistribution", td, TD));
        }
    }
}

fn validate_cluster_ips(errs: &mut Errs, spec: &Value, ips: &[String], headless: bool) {
    let ci = st(spec, "clusterIP");
    if !ci.is_empty()
        && !arr(spec, "clusterIPs").is_empty()
        && ips.first().map(String::as_str) != Some(ci)
    {
        errs.push(invalid_raw(
            "spec.clusterIPs",
            go_string_slice(arr(spec, "clusterIPs"), false),
            "first value must match `clusterIP`",
        ));
    }
    for (i, ip) in ips.iter().enumerate() {
        if ip == "None" {
            if i > 0 || ips.len() > 1 {
                errs.push(invalid_str(
                    index("spec.clusterIPs", i),
                    ip,
                    "must be empty when the first value is 'None'",
                ));
            }
            continue;
        }
        if !is_valid_ip(ip) {
            errs.push(invalid_str(index("spec.clusterIPs", i), ip, IP_MSG));
        }
    }
    if let Some(pol) = spec.get("ipFamilyPolicy").and_then(Value::as_str) {
        const POL: &[&str] = &["PreferDualStack", "RequireDualStack", "SingleStack"];
        if !POL.contains(&pol) {
            errs.push(not_supported("spec.ipFamilyPolicy", pol, POL));
        }
        if pol == "SingleStack" && arr(spec, "ipFamilies").len() > 1 {
            errs.push(invalid_raw(
                "spec.ipFamilies",
                format!(
                    "[]core.IPFamily{{{}}}",
                    arr(spec, "ipFamilies")
                        .iter()
                        .map(|f| go_quote(&scalar_str(f)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "when `ipFamilyPolicy` is SingleStack, only one family is allowed",
            ));
        }
    }
    let fams = arr(spec, "ipFamilies");
    let mut seen = HashSet::new();
    for (i, f) in fams.iter().enumerate() {
        let f = scalar_str(f);
        if f != "IPv4" && f != "IPv6" {
            errs.push(not_supported(
                index("spec.ipFamilies", i),
                &f,
                &["IPv4", "IPv6"],
            ));
        } else if !seen.insert(f.clone()) {
            errs.push(duplicate(index("spec.ipFamilies", i), &Value::String(f)));
        }
    }
    if fams.len() > 2 {
        errs.push(invalid_raw(
            "spec.ipFamilies",
            format!(
                "[]core.IPFamily{{{}}}",
                fams.iter()
                    .map(|f| go_quote(&scalar_str(f)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "may specify no more than two IP families",
        ));
    }
    if !headless {
        for (i, ip) in ips.iter().enumerate() {
            let Ok(addr) = ip.parse::<std::net::IpAddr>() else {
                continue;
            };
            if let Some(fam) = fams.get(i).map(scalar_str) {
                let actual = if addr.is_ipv4() { "IPv4" } else { "IPv6" };
                if fam != actual {
                    errs.push(invalid_str(
                        index("spec.clusterIPs", i),
                        ip,
                        format!("expected an {fam} value as indicated by `ipFamilies[{i}]`"),
                    ));
                }
            }
        }
    }
}

fn validate_endpoints(errs: &mut Errs, ep: &Value) {
    for (i, ss) in arr(ep, "subsets").iter().enumerate() {
        let p = index("subsets", i);
        let addrs = arr(ss, "addresses");
        let not_ready = arr(ss, "notReadyAddresses");
        if addrs.is_empty() && not_ready.is_empty() {
            errs.push(required(
                p.clone(),
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for (list, field_name) in [(addrs, "addresses"), (not_ready, "notReadyAddresses")] {
            for (j, a) in list.iter().enumerate() {
                let ap = index(&child(&p, field_name), j);
                let ip = st(a, "ip");
                if !is_valid_ip(ip) {
                    errs.push(invalid_str(child(&ap, "ip"), ip, IP_MSG));
                }
                let hostname = st(a, "hostname");
                if !hostname.is_empty() {
                    validate_dns1123_label(errs, hostname, &child(&ap, "hostname"));
                }
                let node = a.get("nodeName").and_then(Value::as_str);
                if let Some(n) = node {
                    validate_dns1123_subdomain(errs, n, &child(&ap, "nodeName"));
                }
            }
        }
        let ports = arr(ss, "ports");
        if ports.is_empty() {
            errs.push(required(child(&p, "ports"), ""));
        }
        for (j, port) in ports.iter().enumerate() {
            let pp = index(&child(&p, "ports"), j);
            let name = st(port, "name");
            if ports.len() > 1 && name.is_empty() {
                errs.push(required(child(&pp, "name"), ""));
            } else if !name.is_empty() {
                validate_dns1123_label(errs, name, &child(&pp, "name"));
            }
            let n = int(port, "port").unwrap_or(0);
            for m in is_valid_port_num(n) {
                errs.push(invalid_int(child(&pp, "port"), n, m));
            }
            let proto = st(port, "protocol");
            if proto.is_empty() {
                errs.push(required(child(&pp, "protocol"), ""));
            } else if !PROTOCOLS.contains(&proto) {
                errs.push(not_supported(child(&pp, "protocol"), proto, PROTOCOLS));
            }
        }
    }
}

fn validate_endpoint_slice(errs: &mut Errs, es: &Value) {
    let at_type = st(es, "addressType");
    const TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];
    if at_type.is_empty() {
        errs.push(required("addressType", ""));
    } else if !TYPES.contains(&at_type) {
        errs.push(not_supported("addressType", at_type, TYPES));
    }
    let endpoints = arr(es, "endpoints");
    if endpoints.len() > 1000 {
        errs.push(too_many("endpoints", endpoints.len(), 1000));
    }
    for (i, e) in endpoints.iter().enumerate() {
        let p = index("endpoints", i);
        let addrs = arr(e, "addresses");
        if addrs.is_empty() {
            errs.push(required(
                child(&p, "addresses"),
                "must contain at least 1 address",
            ));
        } else if addrs.len() > 100 {
            errs.push(too_many(child(&p, "addresses"), addrs.len(), 100));
        }
        for (j, a) in addrs.iter().enumerate() {
            let a = scalar_str(a);
            let ap = index(&child(&p, "addresses"), j);
            match at_type {
                "IPv4" => {
                    if a.parse::<std::net::Ipv4Addr>().is_err() {
                        errs.push(invalid_str(ap, &a, "must be a valid IPv4 address"));
                    }
                }
                "IPv6" => {
                    if a.parse::<std::net::Ipv6Addr>().is_err() {
                        errs.push(invalid_str(ap, &a, "must be a valid IPv6 address"));
                    }
                }
                "FQDN" => validate_dns1123_subdomain(errs, &a, &ap),
                _ => {}
            }
        }
        if let Some(h) = e.get("hostname").and_then(Value::as_str) {
            validate_dns1123_label(errs, h, &child(&p, "hostname"));
        }
        if let Some(n) = e.get("nodeName").and_then(Value::as_str) {
            validate_dns1123_subdomain(errs, n, &child(&p, "nodeName"));
        }
    }
    let ports = arr(es, "ports");
    if ports.len() > 20000 {
        errs.push(too_many("ports", ports.len(), 20000));
    }
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = index("ports", i);
        let name = st(port, "name");
        if !name.is_empty() {
            validate_dns1123_label(errs, name, &child(&p, "name"));
        }
        if !names.insert(name.to_string()) {
            errs.push(duplicate(
                child(&p, "name"),
                &Value::String(name.to_string()),
            ));
        }
        if let Some(proto) = port.get("protocol").and_then(Value::as_str) {
            if !PROTOCOLS.contains(&proto) {
                errs.push(not_supported(child(&p, "protocol"), proto, PROTOCOLS));
            }
        }
        if let Some(n) = int(port, "port") {
            if !(0..=65535).contains(&n) {
                errs.push(invalid_int(
                    child(&p, "port"),
                    n,
                    inclusive_range_error(0, 65535),
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Config and storage.
// ---------------------------------------------------------------------------

const MAX_DATA_SIZE: usize = 1024 * 1024;

fn base64_decoded_len(s: &str) -> Result<usize, String> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map(|d| d.len())
        .map_err(|e| match e {
            base64::DecodeError::InvalidByte(off, _)
            | base64::DecodeError::InvalidLastSymbol(off, _) => {
                format!("illegal base64 data at input byte {off}")
            }
            _ => format!("illegal base64 data at input byte {}", s.len()),
        })
}

fn validate_configmap(errs: &mut Errs, cm: &Value) {
    let mut total = 0usize;
    let binary = obj(cm, "binaryData");
    if let Some(data) = obj(cm, "data") {
        for (k, v) in data {
            for m in is_config_map_key(k) {
                errs.push(invalid_str(key("data", k), k, m));
            }
            if binary.is_some_and(|b| b.contains_key(k)) {
                errs.push(invalid_str(
                    key("data", k),
                    k,
                    "duplicate of key present in binaryData",
                ));
            }
            total += scalar_str(v).len();
        }
    }
    if let Some(bd) = binary {
        for (k, v) in bd {
            for m in is_config_map_key(k) {
                errs.push(invalid_str(key("binaryData", k), k, m));
            }
            match base64_decoded_len(&scalar_str(v)) {
                Ok(n) => total += n,
                Err(e) => errs.push(invalid_str(
                    key("binaryData", k),
                    "<binary data redacted>",
                    e,
                )),
            }
        }
    }
    if total > MAX_DATA_SIZE {
        errs.push(too_long("", MAX_DATA_SIZE));
    }
}

fn validate_secret(errs: &mut Errs, s: &Value) {
    let mut total = 0usize;
    let mut keys: BTreeSet<String> = BTreeSet::new();
    if let Some(data) = obj(s, "data") {
        for (k, v) in data {
            for m in is_config_map_key(k) {
                errs.push(invalid_str(key("data", k), k, m));
            }
            match base64_decoded_len(&scalar_str(v)) {
                Ok(n) => total += n,
                Err(e) => errs.push(invalid_str(key("data", k), "<secret contents redacted>", e)),
            }
            keys.insert(k.clone());
        }
    }
    if let Some(sd) = obj(s, "stringData") {
        for (k, v) in sd {
            for m in is_config_map_key(k) {
                errs.push(invalid_str(key("data", k), k, m));
            }
            total += scalar_str(v).len();
            keys.insert(k.clone());
        }
    }
    if total > MAX_DATA_SIZE {
        errs.push(too_long("data", MAX_DATA_SIZE));
    }
    let has_key = |k: &str| keys.contains(k);
    match st(s, "type") {
        "kubernetes.io/service-account-token" => {
            let ann = obj(at(s, "metadata"), "annotations");
            let name = ann
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .map(scalar_str)
                .unwrap_or_default();
            if name.is_empty() {
                errs.push(required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson" => {
            let k = if st(s, "type") == "kubernetes.io/dockercfg" {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            if !has_key(k) {
                errs.push(required(key("data", k), ""));
            } else {
                let raw = obj(s, "stringData")
                    .and_then(|d| d.get(k))
                    .map(scalar_str)
                    .or_else(|| {
                        use base64::Engine;
                        obj(s, "data")
                            .and_then(|d| d.get(k))
                            .and_then(|v| {
                                base64::engine::general_purpose::STANDARD
                                    .decode(scalar_str(v))
                                    .ok()
                            })
                            .map(|b| String::from_utf8_lossy(&b).into_owned())
                    })
                    .unwrap_or_default();
                if !serde_json::from_str::<Value>(&raw).is_ok_and(|v| v.is_object()) {
                    errs.push(invalid_str(
                        key("data", k),
                        "<secret contents redacted>",
                        "invalid character looking for beginning of value",
                    ));
                }
            }
        }
        "kubernetes.io/basic-auth" => {
            if !has_key("username") && !has_key("password") {
                errs.push(required("data[username]", ""));
                errs.push(required("data[password]", ""));
            }
        }
        "kubernetes.io/ssh-auth" => {
            let empty = obj(s, "data")
                .and_then(|d| d.get("ssh-privatekey"))
                .map(scalar_str)
                .or_else(|| {
                    obj(s, "stringData")
                        .and_then(|d| d.get("ssh-privatekey"))
                        .map(scalar_str)
                })
                .is_none_or(|v| v.is_empty());
            if empty {
                errs.push(required("data[ssh-privatekey]", ""));
            }
        }
        "kubernetes.io/tls" => {
            if !has_key("tls.crt") {
                errs.push(required("data[tls.crt]", ""));
            }
            if !has_key("tls.key") {
                errs.push(required("data[tls.key]", ""));
            }
        }
        _ => {}
    }
}

fn pvc_spec_errors(errs: &mut Errs, spec: &Value, path: &str) {
    let modes = arr(spec, "accessModes");
    if modes.is_empty() {
        errs.push(required(
            child(path, "accessModes"),
            "at least 1 access mode is required",
        ));
    }
    const MODES: &[&str] = &[
        "ReadOnlyMany",
        "ReadWriteMany",
        "ReadWriteOnce",
        "ReadWriteOncePod",
    ];
    for m in modes {
        let m = scalar_str(m);
        if m == "ReadWriteOncePod" && modes.len() > 1 {
            errs.push(forbidden(
                child(path, "accessModes"),
                "may not use ReadWriteOncePod with other access modes",
            ));
        }
        if !MODES.contains(&m.as_str()) {
            errs.push(not_supported(child(path, "accessModes"), &m, MODES));
        }
    }
    if has(spec, "selector") {
        errs.extend(validate_label_selector(
            at(spec, "selector"),
            &child(path, "selector"),
        ));
    }
    let storage_path = key(&child(path, "resources"), "storage");
    match obj(at(spec, "resources"), "requests").and_then(|r| r.get("storage")) {
        None => errs.push(required(storage_path, "")),
        Some(v) => match quantity_of(v) {
            None => errs.push(invalid(storage_path, v, QUANTITY_MSG)),
            Some(q) if q.sign() <= 0 => errs.push(invalid_str(
                storage_path,
                &q.canonical(),
                "must be greater than zero",
            )),
            _ => {}
        },
    }
    if let Some(sc) = spec.get("storageClassName").and_then(Value::as_str) {
        if !sc.is_empty() {
            validate_dns1123_subdomain(errs, sc, &child(path, "storageClassName"));
        }
    }
    if let Some(vm) = spec.get("volumeMode").and_then(Value::as_str) {
        if vm != "Block" && vm != "Filesystem" {
            errs.push(not_supported(
                child(path, "volumeMode"),
                vm,
                &["Block", "Filesystem"],
            ));
        }
    }
}

const PV_SOURCES: &[&str] = &[
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "hostPath",
    "glusterfs",
    "nfs",
    "rbd",
    "quobyte",
    "cinder",
    "cephfs",
    "fc",
    "flocker",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "local",
    "storageos",
    "csi",
    "iscsi",
];

fn validate_pv(errs: &mut Errs, pv: &Value) {
    let spec = at(pv, "spec");
    if arr(spec, "accessModes").is_empty() {
        errs.push(required("spec.accessModes", ""));
    }
    const MODES: &[&str] = &[
        "ReadOnlyMany",
        "ReadWriteMany",
        "ReadWriteOnce",
        "ReadWriteOncePod",
    ];
    for m in arr(spec, "accessModes") {
        let m = scalar_str(m);
        if !MODES.contains(&m.as_str()) {
            errs.push(not_supported("spec.accessModes", &m, MODES));
        }
    }
    let cap = obj(spec, "capacity");
    if cap.is_none_or(|c| c.is_empty()) {
        errs.push(required("spec.capacity", ""));
    }
    if let Some(cap) = cap {
        if !cap.contains_key("storage") || cap.len() > 1 {
            errs.push(FieldError::not_supported(
                "spec.capacity",
                &Value::Object(cap.clone()),
                &["storage"],
            ));
        }
        for (r, q) in cap {
            let p = key("spec.capacity", r);
            match quantity_of(q) {
                None => errs.push(invalid(p, q, QUANTITY_MSG)),
                Some(v) if v.sign() <= 0 => {
                    errs.push(invalid_str(p, &v.canonical(), "must be greater than zero"))
                }
                _ => {}
            }
        }
    }
    if let Some(rp) = spec
        .get("persistentVolumeReclaimPolicy")
        .and_then(Value::as_str)
    {
        const RP: &[&str] = &["Delete", "Recycle", "Retain"];
        if !rp.is_empty() && !RP.contains(&rp) {
            errs.push(not_supported("spec.persistentVolumeReclaimPolicy", rp, RP));
        }
    }
    if let Some(sc) = spec.get("storageClassName").and_then(Value::as_str) {
        if !sc.is_empty() {
            validate_dns1123_subdomain(errs, sc, "spec.storageClassName");
        }
    }
    if let Some(vm) = spec.get("volumeMode").and_then(Value::as_str) {
        if vm != "Block" && vm != "Filesystem" {
            errs.push(not_supported(
                "spec.volumeMode",
                vm,
                &["Block", "Filesystem"],
            ));
        }
    }
    let mut n = 0;
    for src in PV_SOURCES {
        let s = at(spec, src);
        if s.is_null() {
            continue;
        }
        let sp = child("spec", src);
        if n > 0 {
            errs.push(forbidden(sp, "may not specify more than 1 volume type"));
            continue;
        }
        n += 1;
        match *src {
            "hostPath" => validate_host_path(errs, s, &sp),
            "local" => {
                let p = st(s, "path");
                if p.is_empty() {
                    errs.push(required(child(&sp, "path"), ""));
                } else {
                    no_backsteps(errs, p, &child(&sp, "path"));
                }
                if !has(spec, "nodeAffinity") {
                    errs.push(required(
                        "spec.nodeAffinity",
                        "Local volume requires node affinity",
                    ));
                }
            }
            "nfs" => {
                if st(s, "server").is_empty() {
                    errs.push(required(child(&sp, "server"), ""));
                }
                let p = st(s, "path");
                if p.is_empty() {
                    errs.push(required(child(&sp, "path"), ""));
                } else if !p.starts_with('/') {
                    errs.push(invalid_str(
                        child(&sp, "path"),
                        p,
                        "must be an absolute path",
                    ));
                }
            }
            "csi" => {
                if st(s, "driver").is_empty() {
                    errs.push(required(child(&sp, "driver"), ""));
                }
                if st(s, "volumeHandle").is_empty() {
                    errs.push(required(child(&sp, "volumeHandle"), ""));
                }
            }
            _ => {}
        }
    }
    if n == 0 {
        errs.push(required("spec", "must specify a volume type"));
    }
}

// ---------------------------------------------------------------------------
// Cluster objects.
// ---------------------------------------------------------------------------

fn validate_namespace(errs: &mut Errs, ns: &Value) {
    for f in arr(at(ns, "spec"), "finalizers") {
        let f = scalar_str(f);
        validate_qualified_name(errs, &f, "spec.finalizers");
        if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f.as_str()) {
            errs.push(invalid_str(
                "spec.finalizers",
                &f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
}

fn node_pod_cidrs(spec: &Value) -> Vec<String> {
    let cidrs: Vec<String> = arr(spec, "podCIDRs").iter().map(scalar_str).collect();
    if cidrs.is_empty() && !st(spec, "podCIDR").is_empty() {
        vec![st(spec, "podCIDR").to_string()]
    } else {
        cidrs
    }
}

fn validate_node(errs: &mut Errs, node: &Value) {
    let spec = at(node, "spec");
    // Upstream reports taint errors under `metadata.taints`.
    let taints = arr(spec, "taints");
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for (i, t) in taints.iter().enumerate() {
        let p = index("metadata.taints", i);
        validate_label_name(errs, st(t, "key"), &child(&p, "key"));
        let v = st(t, "value");
        let m = is_valid_label_value(v);
        if !m.is_empty() {
            errs.push(invalid_str(child(&p, "value"), v, m.join(";")));
        }
        let effect = st(t, "effect");
        if effect.is_empty() {
            errs.push(required(child(&p, "effect"), ""));
        } else {
            validate_taint_effect(errs, effect, &child(&p, "effect"));
        }
        if !seen.insert((st(t, "key").to_string(), effect.to_string())) {
            let mut e = duplicate(p, t);
            e.detail = "taints must be unique by key and effect pair".to_string();
            errs.push(e);
        }
    }
    let cidrs = node_pod_cidrs(spec);
    for (i, c) in cidrs.iter().enumerate() {
        if !is_valid_cidr(c) {
            errs.push(invalid_str(
                index("spec.podCIDRs", i),
                c,
                "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            ));
        }
    }
    if cidrs.len() > 1 {
        let v4 = cidrs.iter().filter(|c| !c.contains(':')).count();
        if cidrs.len() > 2 || v4 != 1 {
            errs.push(invalid_raw(
                "spec.podCIDRs",
                go_string_slice(arr(spec, "podCIDRs"), false),
                "may specify no more than one CIDR for each IP family",
            ));
        }
    }
}

fn validate_lease(errs: &mut Errs, lease: &Value) {
    let spec = at(lease, "spec");
    if let Some(d) = int(spec, "leaseDurationSeconds") {
        if d <= 0 {
            errs.push(invalid_int(
                "spec.leaseDurationSeconds",
                d,
                "must be greater than 0",
            ));
        }
    }
    if let Some(t) = int(spec, "leaseTransitions") {
        if t < 0 {
            errs.push(invalid_int("spec.leaseTransitions", t, NEGATIVE));
        }
    }
    if let Some(s) = spec.get("strategy").and_then(Value::as_str) {
        if s != "OldestEmulationVersion" {
            errs.push(not_supported(
                "spec.strategy",
                s,
                &["OldestEmulationVersion"],
            ));
        }
    }
    if !st(spec, "preferredHolder").is_empty() && st(spec, "strategy").is_empty() {
        errs.push(forbidden(
            "spec.preferredHolder",
            "may only be specified if `strategy` is defined",
        ));
    }
}

fn validate_legacy_event(errs: &mut Errs, ev: &Value) {
    let ns = st(at(ev, "metadata"), "namespace");
    let involved_ns = st(at(ev, "involvedObject"), "namespace");
    if !has(ev, "eventTime") {
        let ok = if involved_ns.is_empty() {
            ns.is_empty() || ns == "default"
        } else {
            ns == involved_ns
        };
        if !ok {
            errs.push(invalid_str(
                "involvedObject.namespace",
                involved_ns,
                "does not match event.namespace",
            ));
        }
    } else {
        if involved_ns.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(invalid_str(
                "involvedObject.namespace",
                involved_ns,
                "does not match event.namespace",
            ));
        }
        let rc = st(ev, "reportingComponent");
        if rc.is_empty() {
            errs.push(required("reportingComponent", ""));
        }
        validate_qualified_name(errs, rc, "reportingComponent");
        let ri = st(ev, "reportingInstance");
        if ri.is_empty() {
            errs.push(required("reportingInstance", ""));
        }
        if ri.len() > 128 {
            errs.push(invalid_str(
                "reportingInstance",
                "",
                "can have at most 128 characters",
            ));
        }
        let action = st(ev, "action");
        if action.is_empty() {
            errs.push(required("action", ""));
        }
        if action.len() > 128 {
            errs.push(invalid_str("action", "", "can have at most 128 characters"));
        }
        let reason = st(ev, "reason");
        if reason.is_empty() {
            errs.push(required("reason", ""));
        }
        if reason.len() > 128 {
            errs.push(invalid_str("reason", "", "can have at most 128 characters"));
        }
        if st(ev, "message").len() > 1024 {
            errs.push(invalid_str(
                "message",
                "",
                "can have at most 1024 characters",
            ));
        }
    }
    for m in is_dns1123_subdomain(ns) {
        errs.push(invalid_str("namespace", ns, m));
    }
}

fn validate_events_v1_event(errs: &mut Errs, ev: &Value) {
    if !has(ev, "eventTime") {
        errs.push(required("eventTime", ""));
    }
    let t = st(ev, "type");
    if t != "Normal" && t != "Warning" {
        errs.push(invalid_str("type", "", format!("has invalid value: {t}")));
    }
    if has(ev, "deprecatedFirstTimestamp") || has(ev, "deprecatedLastTimestamp") {
        errs.push(invalid_str(
            "deprecatedFirstTimestamp",
            "",
            "needs to be unset",
        ));
    }
    if int(ev, "deprecatedCount").unwrap_or(0) != 0 {
        errs.push(invalid_str("deprecatedCount", "", "needs to be unset"));
    }
    let rc = st(ev, "reportingController");
    if rc.is_empty() {
        errs.push(required("reportingController", ""));
    }
    validate_qualified_name(errs, rc, "reportingController");
    let ri = st(ev, "reportingInstance");
    if ri.is_empty() {
        errs.push(required("reportingInstance", ""));
    }
    if ri.len() > 128 {
        errs.push(invalid_str(
            "reportingInstance",
            "",
            "can have at most 128 characters",
        ));
    }
    for f in ["action", "reason"] {
        let v = st(ev, f);
        if v.is_empty() {
            errs.push(required(f, ""));
        }
        if v.len() > 128 {
            errs.push(invalid_str(f, "", "can have at most 128 characters"));
        }
    }
    if st(ev, "note").len() > 1024 {
        errs.push(invalid_str("note", "", "can have at most 1024 characters"));
    }
    let ns = st(at(ev, "metadata"), "namespace");
    let regarding_ns = st(at(ev, "regarding"), "namespace");
    if regarding_ns.is_empty() {
        if !ns.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(invalid_str(
                "regarding.namespace",
                regarding_ns,
                "does not match event.namespace",
            ));
        }
    } else if ns != regarding_ns {
        errs.push(invalid_str(
            "regarding.namespace",
            regarding_ns,
            "does not match event.namespace",
        ));
    }
}

fn validate_rbac_rules(errs: &mut Errs, rules: &[Value], cluster: bool) {
    for (i, r) in rules.iter().enumerate() {
        let p = index("rules", i);
        if arr(r, "verbs").is_empty() {
            errs.push(required(
                child(&p, "verbs"),
                "verbs must contain at least one value",
            ));
        }
        let urls = arr(r, "nonResourceURLs");
        if !urls.is_empty() {
            if !cluster {
                errs.push(invalid_raw(
                    child(&p, "nonResourceURLs"),
                    go_string_slice(urls, false),
                    "namespaced rules cannot apply to non-resource URLs",
                ));
            }
            if !arr(r, "apiGroups").is_empty()
                || !arr(r, "resources").is_empty()
                || !arr(r, "resourceNames").is_empty()
            {
                errs.push(invalid_raw(
                    child(&p, "nonResourceURLs"),
                    go_string_slice(urls, false),
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if arr(r, "apiGroups").is_empty() {
            errs.push(required(
                child(&p, "apiGroups"),
                "resource rules must supply at least one api group",
            ));
        }
        if arr(r, "resources").is_empty() {
            errs.push(required(
                child(&p, "resources"),
                "resource rules must supply at least one resource",
            ));
        }
    }
}

fn validate_role_binding(errs: &mut Errs, rb: &Value, cluster: bool) {
    let rr = at(rb, "roleRef");
    if st(rr, "apiGroup") != "rbac.authorization.k8s.io" {
        errs.push(not_supported(
            "roleRef.apiGroup",
            st(rr, "apiGroup"),
            &["rbac.authorization.k8s.io"],
        ));
    }
    let kinds: &[&str] = if cluster {
        &["ClusterRole"]
    } else {
        &["Role", "ClusterRole"]
    };
    if !kinds.contains(&st(rr, "kind")) {
        errs.push(not_supported("roleRef.kind", st(rr, "kind"), kinds));
    }
    let name = st(rr, "name");
    if name.is_empty() {
        errs.push(required("roleRef.name", ""));
    } else {
        for m in is_valid_path_segment_name(name) {
            errs.push(invalid_str("roleRef.name", name, m));
        }
    }
    for (i, s) in arr(rb, "subjects").iter().enumerate() {
        let p = index("subjects", i);
        let sname = st(s, "name");
        if sname.is_empty() {
            errs.push(required(child(&p, "name"), ""));
        }
        match st(s, "kind") {
            "ServiceAccount" => {
                if !sname.is_empty() {
                    for m in is_dns1123_subdomain(sname) {
                        errs.push(invalid_str(child(&p, "name"), sname, m));
                    }
                }
                if !st(s, "apiGroup").is_empty() {
                    errs.push(not_supported(
                        child(&p, "apiGroup"),
                        st(s, "apiGroup"),
                        &[""],
                    ));
                }
                if cluster && st(s, "namespace").is_empty() {
                    errs.push(required(child(&p, "namespace"), ""));
                }
            }
            "User" | "Group" => {
                if st(s, "apiGroup") != "rbac.authorization.k8s.io" {
                    errs.push(not_supported(
                        child(&p, "apiGroup"),
                        st(s, "apiGroup"),
                        &["rbac.authorization.k8s.io"],
                    ));
                }
            }
            other => errs.push(not_supported(
                child(&p, "kind"),
                other,
                &["ServiceAccount", "User", "Group"],
            )),
        }
    }
}

fn validate_controller_revision(errs: &mut Errs, cr: &Value) {
    if !has(cr, "data") {
        errs.push(required("data", "data is mandatory"));
    }
    nonnegative(errs, cr, "revision", "");
}

fn validate_crd_name(errs: &mut Errs, crd: &Value) {
    let spec = at(crd, "spec");
    let want = format!("{}.{}", st(at(spec, "names"), "plural"), st(spec, "group"));
    let name = st(at(crd, "metadata"), "name");
    if name != want {
        errs.push(invalid_str(
            "metadata.name",
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
}

// ---------------------------------------------------------------------------
// Entry points.
// ---------------------------------------------------------------------------

fn validate_kind(errs: &mut Errs, group: &str, kind: &str, o: &Value) {
    match (group, kind) {
        ("", "Pod") => validate_pod(errs, o),
        ("", "PodTemplate") => validate_pod_template_spec(errs, at(o, "template"), "template"),
        ("", "ReplicationController") => validate_replication_controller(errs, o),
        ("", "Service") => validate_service(errs, o),
        ("", "Endpoints") => validate_endpoints(errs, o),
        ("", "ConfigMap") => validate_configmap(errs, o),
        ("", "Secret") => validate_secret(errs, o),
        ("", "Namespace") => validate_namespace(errs, o),
        ("", "Node") => validate_node(errs, o),
        ("", "PersistentVolumeClaim") => pvc_spec_errors(errs, at(o, "spec"), "spec"),
        ("", "PersistentVolume") => validate_pv(errs, o),
        ("", "Event") => validate_legacy_event(errs, o),
        ("events.k8s.io", "Event") => validate_events_v1_event(errs, o),
        ("apps", "Deployment") => validate_deployment(errs, o),
        ("apps", "ReplicaSet") => validate_replicaset(errs, o),
        ("apps", "StatefulSet") => validate_statefulset(errs, o),
        ("apps", "DaemonSet") => validate_daemonset(errs, o),
        ("apps", "ControllerRevision") => validate_controller_revision(errs, o),
        ("batch", "Job") => validate_job(errs, o),
        ("batch", "CronJob") => {
            validate_cronjob_spec(errs, at(o, "spec"), None);
        }
        ("discovery.k8s.io", "EndpointSlice") => validate_endpoint_slice(errs, o),
        ("coordination.k8s.io", "Lease") => validate_lease(errs, o),
        ("rbac.authorization.k8s.io", "Role") => validate_rbac_rules(errs, arr(o, "rules"), false),
        ("rbac.authorization.k8s.io", "ClusterRole") => {
            validate_rbac_rules(errs, arr(o, "rules"), true)
        }
        ("rbac.authorization.k8s.io", "RoleBinding") => validate_role_binding(errs, o, false),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => validate_role_binding(errs, o, true),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => validate_crd_name(errs, o),
        _ => {}
    }
}

/// Groups whose upstream validation runs core's `ValidateObjectMeta` (which
/// also checks finalizer names are standard or fully qualified); CRDs,
/// APIServices and custom resources use the generic one.
fn is_builtin(group: &str) -> bool {
    matches!(
        group,
        "" | "apps"
            | "batch"
            | "autoscaling"
            | "policy"
            | "networking.k8s.io"
            | "discovery.k8s.io"
            | "coordination.k8s.io"
            | "rbac.authorization.k8s.io"
            | "storage.k8s.io"
            | "scheduling.k8s.io"
            | "node.k8s.io"
            | "events.k8s.io"
            | "certificates.k8s.io"
            | "admissionregistration.k8s.io"
            | "flowcontrol.apiserver.k8s.io"
    )
}

/// Validates an object for create.
pub fn validate(group: &str, kind: &str, obj: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errs = validate_inner(group, kind, obj, namespaced, true);
    if (group, kind) == ("", "Pod") && !arr(at(obj, "spec"), "ephemeralContainers").is_empty() {
        // Only the ephemeralcontainers subresource may add them.
        errs.push(forbidden(
            "spec.ephemeralContainers",
            "cannot be set on create",
        ));
    }
    errs
}

fn validate_inner(
    group: &str,
    kind: &str,
    o: &Value,
    namespaced: bool,
    check_name: bool,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let rule = name_rule(group, kind);
    meta_errors(
        &mut errs,
        at(o, "metadata"),
        namespaced,
        rule,
        "metadata",
        check_name,
        is_builtin(group),
    );
    if check_name && group == "batch" && kind == "CronJob" {
        let name = st(at(o, "metadata"), "name");
        if name.len() > 52 {
            errs.push(invalid_str(
                "metadata.name",
                name,
                "must be no more than 52 characters",
            ));
        }
    }
    validate_kind(&mut errs, group, kind, o);
    errs
}

/// Validates an update: the new object's validity plus the immutability
/// rules. `metadata.name/namespace/uid/creationTimestamp` changes are left to
/// the registry.
pub fn validate_update(
    group: &str,
    kind: &str,
    new: &Value,
    old: &Value,
    namespaced: bool,
) -> Vec<FieldError> {
    // Upstream does not re-validate the name format on update (it cannot
    // change), except for the few kinds whose update calls the create check.
    let recheck_name = matches!((group, kind), ("apps", "StatefulSet"));
    let mut errs = Vec::new();
    meta_update_errors(&mut errs, new, old);
    match (group, kind) {
        ("batch", "CronJob") => {
            let mut e = Vec::new();
            meta_errors(
                &mut e,
                at(new, "metadata"),
                namespaced,
                name_rule(group, kind),
                "metadata",
                false,
                true,
            );
            validate_cronjob_spec(&mut e, at(new, "spec"), Some(at(old, "spec")));
            errs.extend(e);
        }
        _ => errs.extend(validate_inner(group, kind, new, namespaced, recheck_name)),
    }
    match (group, kind) {
        ("", "Pod") => pod_update_errors(&mut errs, new, old),
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet") => {
            immutable_selector(&mut errs, new, old);
            if kind == "DaemonSet" {
                daemonset_generation_errors(&mut errs, new, old);
            }
        }
        ("apps", "StatefulSet") => statefulset_update_errors(&mut errs, new, old),
        ("apps", "ControllerRevision") => {
            if !sem_eq(at(new, "data"), at(old, "data")) {
                errs.push(invalid_raw("data", compact(at(new, "data")), IMMUTABLE));
            }
        }
        ("batch", "Job") => job_update_errors(&mut errs, new, old),
        ("", "Service") => {
            drop_type_dependent_errors(&mut errs, new, old);
            service_update_errors(&mut errs, new, old);
        }
        ("", "Secret") => {
            let (nt, ot) = (st(new, "type"), st(old, "type"));
            if nt != ot {
                errs.push(invalid_str("type", nt, IMMUTABLE));
            }
            immutable_data(&mut errs, new, old, &["data"]);
        }
        ("", "ConfigMap") => immutable_data(&mut errs, new, old, &["data", "binaryData"]),
        ("", "Namespace") => {
            let (nn, on) = (
                st(at(new, "metadata"), "name"),
                st(at(old, "metadata"), "name"),
            );
            if nn != on {
                errs.push(invalid_str("metadata.name", nn, IMMUTABLE));
            }
        }
        ("", "Node") => node_update_errors(&mut errs, new, old),
        ("", "PersistentVolumeClaim") => pvc_update_errors(&mut errs, new, old),
        ("", "PersistentVolume") => {
            let ns = at(new, "spec");
            let os = at(old, "spec");
            let source_changed = PV_SOURCES.iter().any(|s| !sem_eq(at(ns, s), at(os, s)));
            if source_changed {
                errs.push(forbidden(
                    "spec.persistentvolumesource",
                    "spec.persistentvolumesource is immutable after creation",
                ));
            }
            if has(os, "volumeMode") && !sem_eq(at(ns, "volumeMode"), at(os, "volumeMode")) {
                errs.push(invalid(
                    child("spec", "volumeMode"),
                    at(ns, "volumeMode"),
                    IMMUTABLE,
                ));
            }
        }
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            if !sem_eq(at(new, "roleRef"), at(old, "roleRef")) {
                let rr = at(new, "roleRef");
                errs.push(invalid_raw(
                    "roleRef",
                    format!(
                        "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
                        go_quote(st(rr, "apiGroup")),
                        go_quote(st(rr, "kind")),
                        go_quote(st(rr, "name"))
                    ),
                    "cannot change roleRef",
                ));
            }
        }
        _ => {}
    }
    errs
}

// ---------------------------------------------------------------------------
// Update rules.
// ---------------------------------------------------------------------------

/// Drops zero values (null, "", false, 0, [], {}) recursively, as Go's
/// semantic equality treats them as unset.
fn normalize(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Bool(false) => None,
        Value::String(s) if s.is_empty() => None,
        Value::Number(n) if n.as_f64() == Some(0.0) => None,
        Value::Array(a) if a.is_empty() => None,
        Value::Array(a) => Some(Value::Array(
            a.iter()
                .map(|x| normalize(x).unwrap_or(Value::Null))
                .collect(),
        )),
        Value::Object(m) => {
            let out: Map<String, Value> = m
                .iter()
                .filter_map(|(k, x)| normalize(x).map(|n| (k.clone(), n)))
                .collect();
            if out.is_empty() {
                None
            } else {
                Some(Value::Object(out))
            }
        }
        other => Some(other.clone()),
    }
}

/// Semantic equality of two values (zero values equal to absent ones).
fn sem_eq(a: &Value, b: &Value) -> bool {
    normalize(a) == normalize(b)
}

fn immutable_selector(errs: &mut Errs, new: &Value, old: &Value) {
    let ns = at(at(new, "spec"), "selector");
    let os = at(at(old, "spec"), "selector");
    if !sem_eq(ns, os) {
        errs.push(invalid_raw(
            "spec.selector",
            go_label_selector(ns),
            IMMUTABLE,
        ));
    }
}

fn daemonset_generation_errors(errs: &mut Errs, new: &Value, old: &Value) {
    let ns = at(new, "spec");
    let os = at(old, "spec");
    let ng = int(ns, "templateGeneration").unwrap_or(0);
    let og = int(os, "templateGeneration").unwrap_or(0);
    if ng < og {
        errs.push(invalid_int(
            "spec.templateGeneration",
            ng,
            "must not be decremented",
        ));
    }
    // templateGeneration is deprecated; only check the bump rule when a
    // client actually manages it.
    if has(ns, "templateGeneration") || has(os, "templateGeneration") {
        let changed = !sem_eq(at(ns, "template"), at(os, "template"));
        if ng == og && changed && ng != 0 {
            errs.push(invalid_int(
                "spec.templateGeneration",
                ng,
                "must be incremented upon template update",
            ));
        } else if ng > og && !changed {
            errs.push(invalid_int(
                "spec.templateGeneration",
                ng,
                "must not be incremented without template update",
            ));
        }
    }
}

fn statefulset_update_errors(errs: &mut Errs, new: &Value, old: &Value) {
    let mut ns = at(new, "spec").clone();
    let os = at(old, "spec");
    if let Some(m) = ns.as_object_mut() {
        for f in [
            "replicas",
            "template",
            "updateStrategy",
            "minReadySeconds",
            "ordinals",
            "persistentVolumeClaimRetentionPolicy",
            "revisionHistoryLimit",
        ] {
            match os.get(f) {
                Some(v) => {
                    m.insert(f.to_string(), v.clone());
                }
                None => {
                    m.remove(f);
                }
            }
        }
    }
    if !sem_eq(&ns, os) {
        errs.push(forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ));
    }
}

fn job_update_errors(errs: &mut Errs, new: &Value, old: &Value) {
    let ns = at(new, "spec");
    let os = at(old, "spec");
    // completions: mutable for Indexed jobs in tandem with parallelism.
    if !sem_eq(at(ns, "completions"), at(os, "completions")) {
        let indexed = st(ns, "completionMode") == "Indexed";
        if !indexed {
            errs.push(invalid(
                "spec.completions",
                at(ns, "completions"),
                IMMUTABLE,
            ));
        } else if let Some(c) = int(ns, "completions") {
            if Some(c) != int(ns, "parallelism") {
                errs.push(invalid_int(
                    "spec.completions",
                    c,
                    "can only be modified in tandem with spec.parallelism",
                ));
            }
        }
    }
    if !sem_eq(at(ns, "selector"), at(os, "selector")) {
        errs.push(invalid_raw(
            "spec.selector",
            go_label_selector(at(ns, "selector")),
            IMMUTABLE,
        ));
    }
    // The template is immutable, except scheduling directives of a job that
    // is suspended and has never started.
    let mut old_tpl = at(os, "template").clone();
    let new_tpl = at(ns, "template");
    let mutable_scheduling = bool_true(os, "suspend") && !has(at(old, "status"), "startTime");
    if mutable_scheduling {
        if let Some(t) = old_tpl.as_object_mut() {
            let md = t
                .entry("metadata")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(md) = md.as_object_mut() {
                for f in ["labels", "annotations"] {
                    match at(at(new_tpl, "metadata"), f) {
                        Value::Null => {
                            md.remove(f);
                        }
                        v => {
                            md.insert(f.to_string(), v.clone());
                        }
                    }
                }
            }
            let spec = t.entry("spec").or_insert_with(|| Value::Object(Map::new()));
            if let Some(spec) = spec.as_object_mut() {
                for f in ["nodeSelector", "tolerations", "schedulingGates"] {
                    match at(at(new_tpl, "spec"), f) {
                        Value::Null => {
                            spec.remove(f);
                        }
                        v => {
                            spec.insert(f.to_string(), v.clone());
                        }
                    }
                }
                let new_aff = at(at(new_tpl, "spec"), "affinity");
                let mut aff = spec.get("affinity").cloned().unwrap_or(Value::Null);
                if let Some(a) = aff.as_object_mut() {
                    a.remove("nodeAffinity");
                }
                if let (Some(a), Some(na)) = (aff.as_object_mut(), new_aff.get("nodeAffinity")) {
                    a.insert("nodeAffinity".to_string(), na.clone());
                } else if aff.is_null() && has(new_aff, "nodeAffinity") {
                    aff = serde_json::json!({"nodeAffinity": at(new_aff, "nodeAffinity").clone()});
                }
                spec.insert("affinity".to_string(), aff);
            }
        }
    }
    if !sem_eq(new_tpl, &old_tpl) {
        errs.push(invalid_raw("spec.template", compact(new_tpl), IMMUTABLE));
    }
    for f in ["completionMode", "podFailurePolicy", "backoffLimitPerIndex"] {
        if !sem_eq(at(ns, f), at(os, f)) {
            errs.push(invalid(child("spec", f), at(ns, f), IMMUTABLE));
        }
    }
}

fn service_update_errors(errs: &mut Errs, new: &Value, old: &Value) {
    let ns = at(new, "spec");
    let os = at(old, "spec");
    if st(ns, "type") == "ExternalName" || st(os, "type") == "ExternalName" {
        return;
    }
    if is_headless(ns) && is_headless(os) {
        return;
    }
    let new_ips = cluster_ips(ns);
    let old_ips = cluster_ips(os);
    // An update that omits the allocated IPs keeps them (the registry copies
    // them over, as upstream's `patchAllocatedValues` does).
    if new_ips.is_empty() {
        return;
    }
    let rendered = go_string_slice(
        &new_ips
            .iter()
            .cloned()
            .map(Value::String)
            .collect::<Vec<_>>(),
        false,
    );
    if old_ips.len() == new_ips.len() {
        for (i, ip) in old_ips.iter().enumerate() {
            if *ip != new_ips[i] {
                errs.push(invalid_raw(
                    index("spec.clusterIPs", i),
                    rendered.clone(),
                    "may not change once set",
                ));
            }
        }
    } else if old_ips.len() > new_ips.len() {
        if !old_ips.is_empty() && new_ips[0] != old_ips[0] {
            errs.push(invalid_raw(
                "spec.clusterIPs[0]",
                rendered.clone(),
                "may not change once set",
            ));
        }
        if new_ips.len() == 1 && st(ns, "ipFamilyPolicy") != "SingleStack" {
            errs.push(invalid_raw(
                "spec.clusterIPs[0]",
                rendered,
                "`ipFamilyPolicy` must be set to 'SingleStack' when releasing the secondary clusterIP",
            ));
        }
    } else if !old_ips.is_empty() && new_ips[0] != old_ips[0] {
        errs.push(invalid_raw(
            "spec.clusterIPs[0]",
            rendered,
            "may not change once set",
        ));
    }
    let new_fams: Vec<String> = arr(ns, "ipFamilies").iter().map(scalar_str).collect();
    let old_fams: Vec<String> = arr(os, "ipFamilies").iter().map(scalar_str).collect();
    if !new_fams.is_empty() && !old_fams.is_empty() && new_fams[0] != old_fams[0] {
        errs.push(invalid_raw(
            "spec.ipFamilies[0]",
            format!(
                "[]core.IPFamily{{{}}}",
                new_fams
                    .iter()
                    .map(|f| go_quote(f))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "may not change once set",
        ));
    }
}

/// Upstream's Service strategy clears type-dependent fields a type change
/// left behind (node ports, externalTrafficPolicy, healthCheckNodePort) when
/// they are unchanged from the old object, before validating. The registry
/// drops them after validation here, so their errors are not reported.
fn drop_type_dependent_errors(errs: &mut Errs, new: &Value, old: &Value) {
    let ns = at(new, "spec");
    let os = at(old, "spec");
    errs.retain(|e| {
        if let Some(rest) = e.field.strip_prefix("spec.ports[") {
            if let Some(i) = rest
                .strip_suffix("].nodePort")
                .and_then(|i| i.parse::<usize>().ok())
            {
                let nv = arr(ns, "ports").get(i).and_then(|p| int(p, "nodePort"));
                let ov = arr(os, "ports").get(i).and_then(|p| int(p, "nodePort"));
                return !(matches!(e.kind, FieldErrorKind::Forbidden) && nv.is_some() && nv == ov);
            }
        }
        match e.field.as_str() {
            "spec.clusterIPs" | "spec.ipFamilies" | "spec.ipFamilyPolicy"
                if st(ns, "type") == "ExternalName" && st(os, "type") != "ExternalName" =>
            {
                let f = &e.field["spec.".len()..];
                let same = if f == "clusterIPs" {
                    cluster_ips(ns) == cluster_ips(os)
                } else {
                    sem_eq(at(ns, f), at(os, f))
                };
                !(matches!(e.kind, FieldErrorKind::Forbidden) && same)
            }
            "spec.externalTrafficPolicy" | "spec.healthCheckNodePort" => {
                let f = &e.field["spec.".len()..];
                !(matches!(e.kind, FieldErrorKind::Invalid(_)) && sem_eq(at(ns, f), at(os, f)))
            }
            _ => true,
        }
    });
}

fn immutable_data(errs: &mut Errs, new: &Value, old: &Value, fields: &[&str]) {
    if !bool_true(old, "immutable") {
        return;
    }
    if !bool_true(new, "immutable") {
        errs.push(forbidden(
            "immutable",
            "field is immutable when `immutable` is set",
        ));
    }
    for f in fields {
        if !sem_eq(at(new, f), at(old, f)) {
            errs.push(forbidden(*f, "field is immutable when `immutable` is set"));
        }
    }
}

fn node_update_errors(errs: &mut Errs, new: &Value, old: &Value) {
    let ns = at(new, "spec");
    let os = at(old, "spec");
    let old_cidrs = node_pod_cidrs(os);
    if !old_cidrs.is_empty() {
        let new_cidrs = node_pod_cidrs(ns);
        if old_cidrs.len() != new_cidrs.len() {
            errs.push(forbidden(
                "spec.podCIDRs",
                "node updates may not change podCIDR except from \"\" to valid",
            ));
        } else {
            for (a, b) in old_cidrs.iter().zip(&new_cidrs) {
                if a != b {
                    errs.push(forbidden(
                        "spec.podCIDRs",
                        "node updates may not change podCIDR except from \"\" to valid",
                    ));
                }
            }
        }
    }
    let old_pid = st(os, "providerID");
    if !old_pid.is_empty() && old_pid != st(ns, "providerID") {
        errs.push(forbidden(
            "spec.providerID",
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
    let mut seen = HashSet::new();
    for (i, a) in arr(at(new, "status"), "addresses").iter().enumerate() {
        if !seen.insert(compact(a)) {
            errs.push(duplicate(index("status.addresses", i), a));
        }
    }
}

fn pvc_update_errors(errs: &mut Errs, new: &Value, old: &Value) {
    let mut ns = at(new, "spec").clone();
    let mut os = at(old, "spec").clone();
    // volumeName may be set once (binding); storageClassName may be set when unset.
    if st(&os, "volumeName").is_empty() {
        if let (Some(o), Some(v)) = (os.as_object_mut(), ns.get("volumeName")) {
            o.insert("volumeName".to_string(), v.clone());
        }
    }
    if !has(&os, "storageClassName") {
        if let (Some(o), Some(v)) = (os.as_object_mut(), ns.get("storageClassName")) {
            o.insert("storageClassName".to_string(), v.clone());
        }
    }
    let bound = st(at(new, "status"), "phase") == "Bound";
    for spec in [&mut ns, &mut os] {
        if let Some(m) = spec.as_object_mut() {
            m.remove("volumeAttributesClassName");
            if bound {
                if let Some(req) = m
                    .get_mut("resources")
                    .and_then(|r| r.get_mut("requests"))
                    .and_then(Value::as_object_mut)
                {
                    req.remove("storage");
                }
            }
        }
    }
    if !sem_eq(&ns, &os) {
        errs.push(forbidden(
            "spec",
            format!(
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{}",
                spec_diff("core.PersistentVolumeClaimSpec", &os, &ns)
            ),
        ));
    }
}

/// A compact diff in the spirit of upstream's `cmp.Diff` output.
fn spec_diff(type_name: &str, old: &Value, new: &Value) -> String {
    let mut out = format!("  {type_name}{{\n");
    let empty = Map::new();
    let om = old.as_object().unwrap_or(&empty);
    let nm = new.as_object().unwrap_or(&empty);
    let keys: BTreeSet<&String> = om.keys().chain(nm.keys()).collect();
    for k in keys {
        let a = om.get(k).unwrap_or(&NULL);
        let b = nm.get(k).unwrap_or(&NULL);
        if sem_eq(a, b) {
            continue;
        }
        let mut name = k.clone();
        if let Some(first) = name.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        if !a.is_null() {
            out.push_str(&format!("- \t{name}: {},\n", compact(a)));
        }
        if !b.is_null() {
            out.push_str(&format!("+ \t{name}: {},\n", compact(b)));
        }
    }
    out.push_str("  }\n");
    out
}

const POD_UPDATE_MSG: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn pod_update_errors(errs: &mut Errs, new: &Value, old: &Value) {
    let ns = at(new, "spec");
    let os = at(old, "spec");
    for list in ["containers", "initContainers"] {
        let nc = arr(ns, list);
        let oc = arr(os, list);
        let p = child("spec", list);
        if nc.len() != oc.len() {
            errs.push(forbidden(p, "pod updates may not add or remove containers"));
            return;
        }
        for (i, c) in nc.iter().enumerate() {
            let image = st(c, "image");
            if image.is_empty() {
                errs.push(required(child(&index(&p, i), "image"), ""));
            }
            if image.trim() != image {
                errs.push(invalid_str(
                    child(&index(&p, i), "image"),
                    image,
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    if let Some(n) = int(ns, "activeDeadlineSeconds") {
        if !(0..=i32::MAX as i64).contains(&n) {
            errs.push(invalid_int(
                "spec.activeDeadlineSeconds",
                n,
                inclusive_range_error(0, i32::MAX as i64),
            ));
            return;
        }
        if let Some(o) = int(os, "activeDeadlineSeconds") {
            if o < n {
                errs.push(invalid_int(
                    "spec.activeDeadlineSeconds",
                    n,
                    "must be less than or equal to previous value",
                ));
                return;
            }
        }
    } else if has(os, "activeDeadlineSeconds") {
        errs.push(invalid(
            "spec.activeDeadlineSeconds",
            &NULL,
            "must not update from a positive integer to nil value",
        ));
    }
    // Tolerations: only additions (tolerationSeconds of existing ones may change).
    let new_tol = arr(ns, "tolerations");
    for ot in arr(os, "tolerations") {
        let strip = |t: &Value| {
            let mut t = t.clone();
            if let Some(m) = t.as_object_mut() {
                m.remove("tolerationSeconds");
            }
            t
        };
        let o = strip(ot);
        if !new_tol.iter().any(|t| sem_eq(&strip(t), &o)) {
            errs.push(forbidden(
                "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            break;
        }
    }
    // Scheduling gates: only deletions.
    let old_gates: HashSet<String> = arr(os, "schedulingGates")
        .iter()
        .map(|g| st(g, "name").to_string())
        .collect();
    for (i, g) in arr(ns, "schedulingGates").iter().enumerate() {
        let name = st(g, "name");
        if !old_gates.contains(name) {
            errs.push(forbidden(
                index("spec.schedulingGates", i),
                format!("only deletion is allowed, but found new scheduling gate '{name}'"),
            ));
        }
    }
    if sem_eq(ns, os) {
        return;
    }
    let mut munged = ns.clone();
    if let Some(m) = munged.as_object_mut() {
        for list in ["containers", "initContainers"] {
            if let Some(cs) = m.get_mut(list).and_then(Value::as_array_mut) {
                for (i, c) in cs.iter_mut().enumerate() {
                    if let Some(cm) = c.as_object_mut() {
                        match arr(os, list).get(i).and_then(|oc| oc.get("image")) {
                            Some(img) => {
                                cm.insert("image".to_string(), img.clone());
                            }
                            None => {
                                cm.remove("image");
                            }
                        }
                    }
                }
            }
        }
        for f in ["activeDeadlineSeconds", "schedulingGates", "tolerations"] {
            match os.get(f) {
                Some(v) => {
                    m.insert(f.to_string(), v.clone());
                }
                None => {
                    m.remove(f);
                }
            }
        }
        let old_grace = int(os, "terminationGracePeriodSeconds");
        if old_grace.is_some_and(|g| g < 0) && int(ns, "terminationGracePeriodSeconds") == Some(1) {
            m.insert(
                "terminationGracePeriodSeconds".to_string(),
                Value::from(old_grace.unwrap_or(0)),
            );
        }
        // Gated pods may gain nodeSelector entries.
        if !arr(os, "schedulingGates").is_empty() {
            let old_sel = obj(os, "nodeSelector").cloned().unwrap_or_default();
            let new_sel = obj(ns, "nodeSelector").cloned().unwrap_or_default();
            let only_additions = old_sel.iter().all(|(k, v)| new_sel.get(k) == Some(v));
            if !only_additions {
                errs.push(invalid_raw(
                    "spec.nodeSelector",
                    go_string_map(Some(&new_sel)),
                    "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
                ));
            }
            if old_sel.is_empty() {
                m.remove("nodeSelector");
            } else {
                m.insert("nodeSelector".to_string(), Value::Object(old_sel));
            }
        }
    }
    if !sem_eq(&munged, os) {
        errs.push(forbidden(
            "spec",
            format!(
                "{POD_UPDATE_MSG}\n{}",
                spec_diff("core.PodSpec", os, &munged)
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    fn has_msg(errs: &[FieldError], want: &str) -> bool {
        errs.iter().any(|e| e.to_string() == want)
    }

    fn has_field(errs: &[FieldError], field: &str) -> bool {
        errs.iter().any(|e| e.field == field)
    }

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": spec})
    }

    fn valid_pod() -> Value {
        let mut p = pod(json!({"containers": [{"name": "c", "image": "nginx"}]}));
        crate::defaults::apply_defaults("", "Pod", &mut p);
        p
    }

    fn deployment(sel: Value, labels: Value) -> Value {
        let mut d = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "selector": sel,
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
            }
        });
        crate::defaults::apply_defaults("apps", "Deployment", &mut d);
        d
    }

    #[test]
    fn name_checks() {
        assert!(is_dns1123_subdomain("example.com").is_empty());
        assert_eq!(
            is_dns1123_subdomain("Bad_Name"),
            vec!["a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string()]
        );
        assert_eq!(
            is_dns1123_label("a.b"),
            vec!["must not contain dots".to_string()]
        );
        assert!(is_dns1123_label("my-name")[..].is_empty());
        assert!(is_dns1123_label(&"a".repeat(64))[0].contains("no more than 63"));
        assert!(!is_dns1035_label("1abc").is_empty());
        assert!(is_qualified_name("example.com/MyName").is_empty());
        assert!(is_qualified_name("a/b/c")[0].starts_with("a qualified name must consist"));
        assert_eq!(
            is_qualified_name("/x"),
            vec!["prefix part must be non-empty".to_string()]
        );
        assert_eq!(is_qualified_name("").len(), 2);
        assert!(is_valid_label_value("").is_empty());
        assert!(!is_valid_label_value("-x").is_empty());
        assert!(is_valid_path_segment_name("system:controller:x").is_empty());
        assert_eq!(
            is_valid_path_segment_name(".."),
            vec!["may not be '..'".to_string()]
        );
        assert_eq!(
            is_valid_path_segment_name("a/b%"),
            vec![
                "may not contain '/'".to_string(),
                "may not contain '%'".to_string()
            ]
        );
        assert!(is_config_map_key("KEY_name.1").is_empty());
        assert_eq!(
            is_config_map_key("..x").last().unwrap(),
            "must not start with '..'"
        );
        assert!(is_env_var_name("1FOO.bar-x").is_empty());
        assert!(!is_env_var_name("A=B").is_empty());
        assert!(!is_valid_port_name("HTTP").is_empty());
        assert!(is_valid_port_name("http-alt").is_empty());
    }

    #[test]
    fn name_rules() {
        assert_eq!(name_rule("", "Namespace"), NameRule::Dns1123Label);
        assert_eq!(name_rule("", "Service"), NameRule::Dns1035Label);
        assert_eq!(name_rule("", "Pod"), NameRule::Dns1123Subdomain);
        assert_eq!(
            name_rule("rbac.authorization.k8s.io", "ClusterRole"),
            NameRule::PathSegment
        );
        assert!(NameRule::Dns1123Subdomain.check("web-", true).is_empty());
        assert!(!NameRule::Dns1123Subdomain.check("web-", false).is_empty());
    }

    #[test]
    fn metadata_errors() {
        let mut p = valid_pod();
        p["metadata"]["name"] = json!("Bad_Name");
        let errs = validate("", "Pod", &p, true);
        assert_eq!(
            msgs(&errs),
            vec!["metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]
        );

        let mut p = valid_pod();
        p["metadata"] = json!({"namespace": "default"});
        assert!(has_msg(
            &validate("", "Pod", &p, true),
            "metadata.name: Required value: name or generateName is required"
        ));
        p["metadata"]["generateName"] = json!("web-");
        assert!(validate("", "Pod", &p, true).is_empty());

        let mut p = valid_pod();
        p["metadata"]["namespace"] = json!("");
        assert!(has_msg(
            &validate("", "Pod", &p, true),
            "metadata.namespace: Required value"
        ));

        let ns = json!({"metadata": {"name": "x", "namespace": "y"}});
        assert!(has_msg(
            &validate("", "Namespace", &ns, false),
            "metadata.namespace: Forbidden: not allowed on this type"
        ));

        let mut p = valid_pod();
        p["metadata"]["labels"] = json!({"app": "-bad", "bad key/x/y": "v"});
        let errs = validate("", "Pod", &p, true);
        assert_eq!(errs.len(), 2);
        assert!(errs.iter().all(|e| e.field == "metadata.labels"));

        let mut p = valid_pod();
        p["metadata"]["annotations"] = json!({"big": "x".repeat(256 * 1024)});
        let errs = validate("", "Pod", &p, true);
        assert_eq!(errs[0].field, "metadata.annotations");
        assert_eq!(errs[0].kind.reason(), "FieldValueTooLong");

        let mut p = valid_pod();
        p["metadata"]["finalizers"] = json!(["foo"]);
        assert!(has_field(
            &validate("", "Pod", &p, true),
            "metadata.finalizers[0]"
        ));
    }

    #[test]
    fn pod_rules() {
        assert!(validate("", "Pod", &valid_pod(), true).is_empty());

        let mut p = pod(json!({"containers": []}));
        crate::defaults::apply_defaults("", "Pod", &mut p);
        assert!(has_msg(
            &validate("", "Pod", &p, true),
            "spec.containers: Required value"
        ));

        let mut p = pod(json!({
            "initContainers": [{"name": "c", "image": "busybox"}],
            "containers": [{"name": "c", "image": ""}, {"name": "Bad", "image": "x",
                "ports": [{"containerPort": 70000, "protocol": "ICMP"}]}],
            "restartPolicy": "Sometimes",
            "dnsPolicy": "Weird",
        }));
        crate::defaults::apply_defaults("", "Pod", &mut p);
        let errs = validate("", "Pod", &p, true);
        assert!(has_msg(&errs, "spec.containers[0].image: Required value"));
        assert!(has_msg(
            &errs,
            "spec.initContainers[0].name: Duplicate value: \"c\""
        ));
        assert!(has_field(&errs, "spec.containers[1].name"));
        assert!(has_msg(&errs, "spec.containers[1].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"));
        assert!(has_msg(&errs, "spec.containers[1].ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\""));
        assert!(has_msg(&errs, "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""));
        assert!(has_field(&errs, "spec.dnsPolicy"));
    }

    #[test]
    fn pod_volumes_env_resources() {
        let mut p = pod(json!({
            "volumes": [
                {"name": "a", "emptyDir": {}},
                {"name": "a", "emptyDir": {}},
                {"name": "b", "emptyDir": {}, "hostPath": {"path": "/x"}},
            ],
            "containers": [{
                "name": "c", "image": "x",
                "volumeMounts": [{"name": "a", "mountPath": "/a"}, {"name": "zz", "mountPath": "/b"}],
                "env": [{"name": "A=B", "value": "1"}, {"name": "OK.1-x", "value": "2"}],
                "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1000m"}},
            }],
        }));
        crate::defaults::apply_defaults("", "Pod", &mut p);
        let errs = validate("", "Pod", &p, true);
        assert!(has_msg(
            &errs,
            "spec.volumes[1].name: Duplicate value: \"a\""
        ));
        assert!(has_msg(
            &errs,
            "spec.volumes[2].hostPath: Forbidden: may not specify more than 1 volume type"
        ));
        assert!(has_field(&errs, "spec.containers[0].volumeMounts[1].name"));
        assert!(!has_field(&errs, "spec.containers[0].volumeMounts[0].name"));
        assert!(has_msg(&errs, "spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='"));
        assert!(!has_field(&errs, "spec.containers[0].env[1].name"));
        assert!(has_msg(&errs, "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1"));
    }

    #[test]
    fn quantities() {
        let q = |s: &str| Quantity::parse(s).unwrap().canonical();
        assert_eq!(q("2000m"), "2");
        assert_eq!(q("1.5"), "1500m");
        assert_eq!(q("1024Mi"), "1Gi");
        assert_eq!(q("1536Mi"), "1536Mi");
        assert_eq!(q("0.5Gi"), "512Mi");
        assert_eq!(q("12000"), "12k");
        assert_eq!(q("1e3"), "1e3");
        assert_eq!(q("100"), "100");
        assert!(Quantity::parse("1.2.3").is_err());
        assert!(Quantity::parse("abc").is_err());
        assert!(Quantity::parse("5Gb").is_err());
        assert!(Quantity::parse("1Gi").unwrap() > Quantity::parse("1G").unwrap());
    }

    #[test]
    fn deployment_selector_template() {
        let d = deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web"}),
        );
        assert!(
            validate("apps", "Deployment", &d, true).is_empty(),
            "{:?}",
            msgs(&validate("apps", "Deployment", &d, true))
        );

        let d = deployment(json!({"matchLabels": {"app": "y"}}), json!({"app": "x"}));
        assert!(has_msg(
            &validate("apps", "Deployment", &d, true),
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`"
        ));

        let mut d = deployment(json!({}), json!({"app": "x"}));
        assert!(has_msg(
            &validate("apps", "Deployment", &d, true),
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
        ));
        d["spec"].as_object_mut().unwrap().remove("selector");
        assert!(has_msg(
            &validate("apps", "Deployment", &d, true),
            "spec.selector: Required value"
        ));

        let mut d = deployment(json!({"matchLabels": {"app": "x"}}), json!({"app": "x"}));
        d["spec"]["replicas"] = json!(-1);
        d["spec"]["strategy"] = json!({"type": "Blue"});
        let errs = validate("apps", "Deployment", &d, true);
        assert!(has_msg(
            &errs,
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        ));
        assert!(has_field(&errs, "spec.strategy"));

        let mut d = deployment(json!({"matchLabels": {"app": "x"}}), json!({"app": "x"}));
        d["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
        assert!(has_msg(
            &validate("apps", "Deployment", &d, true),
            "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""
        ));

        let old = deployment(
            json!({"matchLabels": {"app": "x"}}),
            json!({"app": "x", "v": "1"}),
        );
        let new = deployment(
            json!({"matchLabels": {"app": "x", "v": "1"}}),
            json!({"app": "x", "v": "1"}),
        );
        let errs = validate_update("apps", "Deployment", &new, &old, true);
        assert!(has_msg(
            &errs,
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"x\", \"v\":\"1\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
        ));
        let mut scaled = old.clone();
        scaled["spec"]["replicas"] = json!(5);
        assert!(validate_update("apps", "Deployment", &scaled, &old, true).is_empty());
    }

    #[test]
    fn statefulset_and_daemonset() {
        let mut s = json!({
            "metadata": {"name": "db", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "db"}}, "serviceName": "db",
                "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}
        });
        crate::defaults::apply_defaults("apps", "StatefulSet", &mut s);
        assert!(validate("apps", "StatefulSet", &s, true).is_empty());
        let mut s2 = s.clone();
        s2["metadata"]["name"] = json!("db.x");
        assert!(has_field(
            &validate("apps", "StatefulSet", &s2, true),
            "metadata.name"
        ));
        let mut s3 = s.clone();
        s3["spec"]["serviceName"] = json!("other");
        assert!(has_field(
            &validate_update("apps", "StatefulSet", &s3, &s, true),
            "spec"
        ));
        let mut s4 = s.clone();
        s4["spec"]["replicas"] = json!(3);
        s4["spec"]["template"]["spec"]["containers"][0]["image"] = json!("y");
        assert!(validate_update("apps", "StatefulSet", &s4, &s, true).is_empty());

        let mut ds = json!({
            "metadata": {"name": "agent", "namespace": "kube-system"},
            "spec": {"selector": {"matchLabels": {"app": "a"}},
                "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}
        });
        crate::defaults::apply_defaults("apps", "DaemonSet", &mut ds);
        assert!(
            validate("apps", "DaemonSet", &ds, true).is_empty(),
            "{:?}",
            msgs(&validate("apps", "DaemonSet", &ds, true))
        );
        ds["spec"]["selector"] = json!({"matchLabels": {}});
        assert!(has_field(
            &validate("apps", "DaemonSet", &ds, true),
            "spec.selector"
        ));
    }

    #[test]
    fn job_and_cronjob() {
        let mut job = json!({
            "metadata": {"name": "pi", "namespace": "default", "uid": "u1"},
            "spec": {"manualSelector": true, "selector": {"matchLabels": {"app": "pi"}},
                "template": {"metadata": {"labels": {"app": "pi"}}, "spec": {"containers": [{"name": "c", "image": "perl"}]}}}
        });
        crate::defaults::apply_defaults("batch", "Job", &mut job);
        assert!(has_msg(
            &validate("batch", "Job", &job, true),
            "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
        ));
        job["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
        assert!(
            validate("batch", "Job", &job, true).is_empty(),
            "{:?}",
            msgs(&validate("batch", "Job", &job, true))
        );
        let mut changed = job.clone();
        changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:2");
        assert!(has_field(
            &validate_update("batch", "Job", &changed, &job, true),
            "spec.template"
        ));
        let mut suspended = job.clone();
        suspended["spec"]["suspend"] = json!(true);
        assert!(validate_update("batch", "Job", &suspended, &job, true).is_empty());

        // Generated selector.
        let mut gen = json!({
            "metadata": {"name": "pi", "namespace": "default", "uid": "u1"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "perl"}]}}}
        });
        crate::defaults::apply_defaults("batch", "Job", &mut gen);
        crate::defaults::generate_job_selector(&mut gen);
        assert!(
            validate("batch", "Job", &gen, true).is_empty(),
            "{:?}",
            msgs(&validate("batch", "Job", &gen, true))
        );

        let mut cj = json!({
            "metadata": {"name": "c", "namespace": "default"},
            "spec": {"schedule": "", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "x"}]}}}}}
        });
        crate::defaults::apply_defaults("batch", "CronJob", &mut cj);
        assert!(has_msg(
            &validate("batch", "CronJob", &cj, true),
            "spec.schedule: Required value"
        ));
        cj["spec"]["schedule"] = json!("*/5 * * * *");
        assert!(
            validate("batch", "CronJob", &cj, true).is_empty(),
            "{:?}",
            msgs(&validate("batch", "CronJob", &cj, true))
        );
        cj["spec"]["schedule"] = json!("61 * * * *");
        assert!(has_field(
            &validate("batch", "CronJob", &cj, true),
            "spec.schedule"
        ));
        cj["spec"]["schedule"] = json!("@hourly");
        assert!(validate("batch", "CronJob", &cj, true).is_empty());
        cj["spec"]["schedule"] = json!("* * *");
        assert!(has_msg(
            &validate("batch", "CronJob", &cj, true),
            "spec.schedule: Invalid value: \"* * *\": expected exactly 5 fields, found 3: [* * *]"
        ));
    }

    fn service(spec: Value) -> Value {
        let mut s = json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec});
        crate::defaults::apply_defaults("", "Service", &mut s);
        s
    }

    #[test]
    fn service_rules() {
        let s = service(json!({"selector": {"app": "web"}, "ports": [{"port": 80}]}));
        assert!(
            validate("", "Service", &s, true).is_empty(),
            "{:?}",
            msgs(&validate("", "Service", &s, true))
        );

        let s = service(json!({"selector": {"app": "web"}}));
        assert!(has_msg(
            &validate("", "Service", &s, true),
            "spec.ports: Required value"
        ));
        let s = service(json!({"clusterIP": "None", "selector": {"app": "web"}}));
        assert!(
            validate("", "Service", &s, true).is_empty(),
            "{:?}",
            msgs(&validate("", "Service", &s, true))
        );
        let s = service(json!({"type": "ExternalName", "externalName": "example.com"}));
        assert!(
            validate("", "Service", &s, true).is_empty(),
            "{:?}",
            msgs(&validate("", "Service", &s, true))
        );

        let s = service(
            json!({"type": "Weird", "ports": [{"port": 80}, {"port": 0, "name": "a"}, {"port": 80, "name": "a"}]}),
        );
        let errs = validate("", "Service", &s, true);
        assert!(has_msg(&errs, "spec.ports[0].name: Required value"));
        assert!(has_msg(
            &errs,
            "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive"
        ));
        assert!(has_msg(&errs, "spec.ports[2].name: Duplicate value: \"a\""));
        assert!(has_field(&errs, "spec.type"));

        let mut bad_name = service(json!({"ports": [{"port": 80}]}));
        bad_name["metadata"]["name"] = json!("1web");
        assert!(has_field(
            &validate("", "Service", &bad_name, true),
            "metadata.name"
        ));

        let s = service(json!({"selector": {"app": "-x"}, "ports": [{"port": 80}]}));
        assert!(has_field(
            &validate("", "Service", &s, true),
            "spec.selector"
        ));

        let mut old = service(json!({"ports": [{"port": 80}]}));
        old["spec"]["clusterIP"] = json!("10.0.0.5");
        old["spec"]["clusterIPs"] = json!(["10.0.0.5"]);
        let mut new = old.clone();
        new["spec"]["clusterIP"] = json!("10.0.0.6");
        new["spec"]["clusterIPs"] = json!(["10.0.0.6"]);
        assert!(has_msg(
            &validate_update("", "Service", &new, &old, true),
            "spec.clusterIPs[0]: Invalid value: []string{\"10.0.0.6\"}: may not change once set"
        ));
        let mut np =
            service(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}));
        np["spec"]["clusterIP"] = json!("10.0.0.7");
        let mut to_cluster_ip = np.clone();
        to_cluster_ip["spec"]["type"] = json!("ClusterIP");
        assert!(
            validate_update("", "Service", &to_cluster_ip, &np, true).is_empty(),
            "{:?}",
            msgs(&validate_update("", "Service", &to_cluster_ip, &np, true))
        );
        let mut to_external = old.clone();
        to_external["spec"]["type"] = json!("ExternalName");
        to_external["spec"]["externalName"] = json!("db.example.com");
        assert!(
            validate_update("", "Service", &to_external, &old, true).is_empty(),
            "{:?}",
            msgs(&validate_update("", "Service", &to_external, &old, true))
        );
        let mut omitted = old.clone();
        omitted["spec"].as_object_mut().unwrap().remove("clusterIP");
        omitted["spec"]
            .as_object_mut()
            .unwrap()
            .remove("clusterIPs");
        assert!(validate_update("", "Service", &omitted, &old, true).is_empty());
    }

    #[test]
    fn configmap_secret() {
        let cm = json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"ok.key": "v", "bad key": "v"}});
        let errs = validate("", "ConfigMap", &cm, true);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "data[bad key]");

        let big = json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "x".repeat(1024 * 1024 + 1)}});
        assert_eq!(
            validate("", "ConfigMap", &big, true)[0].kind.reason(),
            "FieldValueTooLong"
        );

        let s = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque", "data": {"a": "aGVsbG8=", "b": "not base64!"}});
        let errs = validate("", "Secret", &s, true);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "data[b]");

        let tls = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls", "data": {}});
        let errs = validate("", "Secret", &tls, true);
        assert!(has_msg(&errs, "data[tls.crt]: Required value"));

        let old = json!({"metadata": {"name": "c", "namespace": "d"}, "immutable": true, "data": {"a": "1"}});
        let new = json!({"metadata": {"name": "c", "namespace": "d"}, "immutable": true, "data": {"a": "2"}});
        assert!(has_msg(
            &validate_update("", "ConfigMap", &new, &old, true),
            "data: Forbidden: field is immutable when `immutable` is set"
        ));
        assert!(validate_update(
            "",
            "ConfigMap",
            &new,
            &json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "1"}}),
            true
        )
        .is_empty());

        let old_s = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque"});
        let new_s = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/basic-auth", "data": {"username": "eA=="}});
        assert!(has_msg(
            &validate_update("", "Secret", &new_s, &old_s, true),
            "type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"
        ));
    }

    #[test]
    fn pod_update_rules() {
        let old = valid_pod();
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("nginx:2");
        new["spec"]["activeDeadlineSeconds"] = json!(30);
        new["spec"]["tolerations"] = json!([{"key": "k", "operator": "Exists"}]);
        assert!(
            validate_update("", "Pod", &new, &old, true).is_empty(),
            "{:?}",
            msgs(&validate_update("", "Pod", &new, &old, true))
        );

        let mut bad = old.clone();
        bad["spec"]["containers"][0]["ports"] = json!([{"containerPort": 80, "protocol": "TCP"}]);
        let errs = validate_update("", "Pod", &bad, &old, true);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "spec");
        assert!(errs[0].detail.starts_with(POD_UPDATE_MSG));

        let mut more = old.clone();
        more["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "d", "image": "x"}));
        assert!(has_msg(
            &validate_update("", "Pod", &more, &old, true),
            "spec.containers: Forbidden: pod updates may not add or remove containers"
        ));

        let mut with_tol = old.clone();
        with_tol["spec"]["tolerations"] = json!([{"key": "k", "operator": "Exists"}]);
        let removed = old.clone();
        assert!(has_msg(
            &validate_update("", "Pod", &removed, &with_tol, true),
            "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"
        ));
    }

    #[test]
    fn namespace_node_lease_event() {
        let ns = json!({"metadata": {"name": "a.b"}});
        assert!(has_msg(
            &validate("", "Namespace", &ns, false),
            "metadata.name: Invalid value: \"a.b\": must not contain dots"
        ));

        let node = json!({"metadata": {"name": "n1"}, "spec": {"taints": [{"key": "k", "effect": "Sometimes"}], "podCIDR": "10.0.0.0/24"}});
        let errs = validate("", "Node", &node, false);
        assert!(has_field(&errs, "metadata.taints[0].effect"));
        let old_node = json!({"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.0.0.0/24", "podCIDRs": ["10.0.0.0/24"]}});
        let new_node = json!({"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.0.1.0/24", "podCIDRs": ["10.0.1.0/24"]}});
        assert!(has_field(
            &validate_update("", "Node", &new_node, &old_node, false),
            "spec.podCIDRs"
        ));

        let lease = json!({"metadata": {"name": "l", "namespace": "kube-node-lease"}, "spec": {"leaseDurationSeconds": 0}});
        assert!(has_msg(
            &validate("coordination.k8s.io", "Lease", &lease, true),
            "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"
        ));

        let ev = json!({"metadata": {"name": "pod.123", "namespace": "default"}, "involvedObject": {"kind": "Pod", "namespace": "other"}});
        assert!(has_msg(
            &validate("", "Event", &ev, true),
            "involvedObject.namespace: Invalid value: \"other\": does not match event.namespace"
        ));
        let ok = json!({"metadata": {"name": "Pod.ABC:1", "namespace": "default"}, "involvedObject": {"kind": "Node"}});
        assert!(validate("", "Event", &ok, true).is_empty());
    }

    #[test]
    fn rbac_and_pvc() {
        let role = json!({"metadata": {"name": "system:x"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": []}]});
        let errs = validate("rbac.authorization.k8s.io", "ClusterRole", &role, false);
        assert!(has_msg(
            &errs,
            "rules[0].verbs: Required value: verbs must contain at least one value"
        ));

        let rb = json!({"metadata": {"name": "b", "namespace": "d"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "d"}]});
        assert!(validate("rbac.authorization.k8s.io", "RoleBinding", &rb, true).is_empty());
        let mut rb2 = rb.clone();
        rb2["roleRef"]["name"] = json!("other");
        assert!(has_field(
            &validate_update("rbac.authorization.k8s.io", "RoleBinding", &rb2, &rb, true),
            "roleRef"
        ));

        let mut pvc = json!({"metadata": {"name": "data", "namespace": "d"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
        crate::defaults::apply_defaults("", "PersistentVolumeClaim", &mut pvc);
        assert!(validate("", "PersistentVolumeClaim", &pvc, true).is_empty());
        let mut bound = pvc.clone();
        bound["spec"]["volumeName"] = json!("pv-1");
        assert!(validate_update("", "PersistentVolumeClaim", &bound, &pvc, true).is_empty());
        let mut changed = pvc.clone();
        changed["spec"]["accessModes"] = json!(["ReadWriteMany"]);
        assert!(has_field(
            &validate_update("", "PersistentVolumeClaim", &changed, &pvc, true),
            "spec"
        ));
        let no_storage = json!({"metadata": {"name": "data", "namespace": "d"}, "spec": {"accessModes": ["ReadWriteOnce"]}});
        assert!(has_msg(
            &validate("", "PersistentVolumeClaim", &no_storage, true),
            "spec.resources[storage]: Required value"
        ));
    }
}
