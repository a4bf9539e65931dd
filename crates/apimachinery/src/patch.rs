//! The three PATCH bodies the apiserver accepts: JSON merge patch (RFC 7386),
//! JSON patch (RFC 6902) and Kubernetes strategic merge patch.
//!
//! Strategic merge patch needs to know, per field, whether a list is merged
//! by a key or replaced. Upstream reads that from Go struct tags
//! (`patchStrategy`, `patchMergeKey`); since objects here are untyped, the
//! facts live in a small type table below, selected by the object's kind.

use serde_json::{Map, Value};

/// A patch that could not be applied. [`PatchError::code`] gives the HTTP
/// status upstream answers with; the message goes into the `Status` body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document itself is malformed (400 BadRequest).
    #[error("{0}")]
    BadRequest(String),
    /// The patch is well formed but cannot be applied to this object
    /// (422 Unprocessable Entity).
    #[error("{0}")]
    Unprocessable(String),
    /// A JSON patch over upstream's operation limit (413).
    #[error("The allowed maximum operations in a JSON patch is {max}, got {got}")]
    TooManyOperations { max: usize, got: usize },
}

impl PatchError {
    /// The HTTP status code upstream uses for this failure.
    pub fn code(&self) -> u16 {
        match self {
            PatchError::BadRequest(_) => 400,
            PatchError::Unprocessable(_) => 422,
            PatchError::TooManyOperations { .. } => 413,
        }
    }
}

fn bad(msg: impl Into<String>) -> PatchError {
    PatchError::BadRequest(msg.into())
}

fn unprocessable(msg: impl Into<String>) -> PatchError {
    PatchError::Unprocessable(msg.into())
}

/// JSON equality with numbers compared by value (`1 == 1.0`), as both RFC
/// 6902 `test` and Go's decoded `float64`s behave.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

// ---------------------------------------------------------------------------
// JSON merge patch (RFC 7386)
// ---------------------------------------------------------------------------

/// RFC 7386: objects merge recursively, `null` deletes, anything else
/// (arrays included) replaces. Key order of the target is kept.
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    let Value::Object(p) = patch else {
        return patch.clone();
    };
    let mut out = match target {
        Value::Object(t) => t.clone(),
        _ => Map::new(),
    };
    for (k, v) in p {
        if v.is_null() {
            out.shift_remove(k);
        } else {
            let merged = merge_patch(out.get(k).unwrap_or(&Value::Null), v);
            out.insert(k.clone(), merged);
        }
    }
    Value::Object(out)
}

// ---------------------------------------------------------------------------
// JSON patch (RFC 6902)
// ---------------------------------------------------------------------------

/// Upstream refuses JSON patches with more operations than this.
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// Applies an RFC 6902 operation list to a copy of `target`; on any failure
/// the error is returned and `target` is unchanged. Messages follow the
/// library upstream uses (evanphx/json-patch), including its leniencies:
/// negative array indices count from the end, and `test` of a missing path
/// against `null` succeeds.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Value::Array(ops) = patch else {
        return Err(bad(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
            json_type_name(patch)
        )));
    };
    if ops.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooManyOperations {
            max: MAX_JSON_PATCH_OPERATIONS,
            got: ops.len(),
        });
    }
    let mut doc = target.clone();
    for op in ops {
        let Value::Object(op) = op else {
            return Err(bad(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
                json_type_name(op)
            )));
        };
        apply_operation(&mut doc, op)?;
    }
    Ok(doc)
}

fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn apply_operation(doc: &mut Value, op: &Map<String, Value>) -> Result<(), PatchError> {
    let kind = op.get("op").and_then(Value::as_str).unwrap_or("unknown");
    if !matches!(
        kind,
        "add" | "remove" | "replace" | "move" | "copy" | "test"
    ) {
        return Err(unprocessable(format!("Unexpected kind: {kind}")));
    }
    let pointer = |field: &str| -> Result<(String, Vec<String>), PatchError> {
        let raw = op.get(field).and_then(Value::as_str).ok_or_else(|| {
            unprocessable(format!(
                "{kind} operation failed to decode {field}: operation missing {field} field"
            ))
        })?;
        let tokens =
            parse_pointer(raw).map_err(|e| unprocessable(format!("{kind} operation: {e}")))?;
        Ok((raw.to_string(), tokens))
    };
    let value = || -> Result<Value, PatchError> {
        op.get("value")
            .cloned()
            .ok_or_else(|| unprocessable(format!("{kind} operation: missing value")))
    };
    let (path, tokens) = pointer("path")?;
    match kind {
        "add" => add(doc, &tokens, value()?).map_err(|e| match e {
            PointerError::Missing => unprocessable(format!(
                "add operation does not apply: doc is missing path: \"{path}\": missing value"
            )),
            PointerError::Index(e) => {
                unprocessable(format!("error in add for path: '{path}': {e}"))
            }
        }),
        "remove" => remove(doc, &tokens).map(drop).map_err(|e| match e {
            PointerError::Missing => unprocessable(format!(
                "remove operation does not apply: doc is missing path: \"{path}\": missing value"
            )),
            PointerError::Index(e) => {
                unprocessable(format!("error in remove for path: '{path}': {e}"))
            }
        }),
        "replace" => {
            let v = value()?;
            let slot = get_mut(doc, &tokens).map_err(|e| match e {
                PointerError::Missing => unprocessable(format!(
                    "replace operation does not apply: doc is missing key: {path}: missing value"
                )),
                PointerError::Index(e) => {
                    unprocessable(format!("error in replace for path: '{path}': {e}"))
                }
            })?;
            *slot = v;
            Ok(())
        }
        "test" => {
            let want = value()?;
            match get_mut(doc, &tokens) {
                Ok(have) if json_eq(have, &want) => Ok(()),
                Err(PointerError::Missing) if want.is_null() => Ok(()),
                _ => Err(unprocessable(format!(
                    "testing value {path} failed: test failed"
                ))),
            }
        }
        "copy" => {
            let (from, from_tokens) = pointer("from")?;
            let v = get_mut(doc, &from_tokens)
                .map_err(|_| {
                    unprocessable(format!(
                        "copy operation does not apply: doc is missing from path: {from}: missing value"
                    ))
                })?
                .clone();
            add(doc, &tokens, v).map_err(|_| {
                unprocessable(format!(
                    "copy operation does not apply: doc is missing destination path: {path}: missing value"
                ))
            })
        }
        _ => {
            // move
            let (from, from_tokens) = pointer("from")?;
            if from_tokens.len() < tokens.len() && tokens[..from_tokens.len()] == from_tokens[..] {
                return Err(unprocessable(format!(
                    "move operation does not apply: cannot move {from} into its own child {path}"
                )));
            }
            let v = remove(doc, &from_tokens).map_err(|_| {
                unprocessable(format!(
                    "move operation does not apply: doc is missing from path: {from}: missing value"
                ))
            })?;
            add(doc, &tokens, v).map_err(|_| {
                unprocessable(format!(
                    "move operation does not apply: doc is missing destination path: {path}: missing value"
                ))
            })
        }
    }
}

enum PointerError {
    /// A parent or the target itself does not exist.
    Missing,
    /// An array index that is malformed or out of range.
    Index(String),
}

/// Splits a JSON pointer into unescaped reference tokens (`~1` is `/`,
/// `~0` is `~`).
fn parse_pointer(p: &str) -> Result<Vec<String>, String> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = p.strip_prefix('/') else {
        return Err(format!(
            "JSON pointer must be empty or start with '/': {p:?}"
        ));
    };
    rest.split('/')
        .map(|t| {
            let mut out = String::with_capacity(t.len());
            let mut chars = t.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => out.push('~'),
                    Some('1') => out.push('/'),
                    _ => return Err(format!("invalid escape in JSON pointer: {p:?}")),
                }
            }
            Ok(out)
        })
        .collect()
}

/// An array index as Go's `strconv.Atoi` reads it; negative counts from the
/// end. `extra` is 1 when inserting (the end position is valid).
fn array_index(token: &str, len: usize, extra: usize) -> Result<usize, PointerError> {
    let idx: i64 = token.parse().map_err(|_| {
        PointerError::Index(format!("value was not a proper array index: '{token}'"))
    })?;
    let size = (len + extra) as i64;
    let resolved = if idx < 0 { idx + size } else { idx };
    if resolved < 0 || resolved >= size {
        return Err(PointerError::Index(format!(
            "Unable to access invalid index: {idx}: invalid index referenced"
        )));
    }
    Ok(resolved as usize)
}

fn get_mut<'a>(doc: &'a mut Value, tokens: &[String]) -> Result<&'a mut Value, PointerError> {
    let mut cur = doc;
    for t in tokens {
        cur = match cur {
            Value::Object(m) => m.get_mut(t).ok_or(PointerError::Missing)?,
            Value::Array(a) => {
                let i = array_index(t, a.len(), 0)?;
                &mut a[i]
            }
            _ => return Err(PointerError::Missing),
        };
    }
    Ok(cur)
}

fn add(doc: &mut Value, tokens: &[String], value: Value) -> Result<(), PointerError> {
    let Some((last, parent)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match get_mut(doc, parent)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
            } else {
                let i = array_index(last, a.len(), 1)?;
                a.insert(i, value);
            }
            Ok(())
        }
        _ => Err(PointerError::Missing),
    }
}

fn remove(doc: &mut Value, tokens: &[String]) -> Result<Value, PointerError> {
    let Some((last, parent)) = tokens.split_last() else {
        return Err(PointerError::Missing);
    };
    match get_mut(doc, parent)? {
        Value::Object(m) => m.shift_remove(last).ok_or(PointerError::Missing),
        Value::Array(a) => {
            let i = array_index(last, a.len(), 0)?;
            Ok(a.remove(i))
        }
        _ => Err(PointerError::Missing),
    }
}

// ---------------------------------------------------------------------------
// Strategic merge patch: the type table
// ---------------------------------------------------------------------------

/// The struct types whose fields carry patch metadata. `Any` stands for
/// every type without tagged fields below it: maps merge, lists replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Any,
    /// Any object: only `metadata` is known.
    Object,
    ObjectMeta,
    Pod,
    PodSpec,
    Container,
    PodStatus,
    PodTemplate,
    PodTemplateSpec,
    /// Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
    /// ReplicationController: `spec.template` and `status.conditions`.
    Workload,
    WorkloadSpec,
    CronJob,
    CronJobSpec,
    JobTemplateSpec,
    /// A kind whose only tagged list is `status.conditions`.
    ConditionsObject,
    ConditionsStatus,
    Service,
    ServiceSpec,
    Node,
    NodeSpec,
    NodeStatus,
    ServiceAccount,
    ComponentStatus,
    PodDisruptionBudget,
    PodDisruptionBudgetSpec,
    CsiNode,
    CsiNodeSpec,
    WebhookConfiguration,
    Webhook,
    ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicySpec,
    MutatingAdmissionPolicy,
    MutatingAdmissionPolicySpec,
    ResourceClaim,
    ResourceClaimStatus,
}

/// A field's `patchStrategy`. `retainKeys` only matters when building
/// patches, so it is not modelled; the `$retainKeys` directive itself is
/// honoured wherever it appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    /// No tag: maps merge, lists are replaced.
    Default,
    /// `patchStrategy:"merge"` with this `patchMergeKey` ("" for lists of
    /// primitives, which are unioned).
    Merge(&'static str),
    /// `patchStrategy:"replace"`: the patch value replaces the field.
    Replace,
}

struct Field {
    name: &'static str,
    ty: Ty,
    strategy: Strategy,
}

const fn field(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        strategy: Strategy::Default,
    }
}

const fn merge(name: &'static str, key: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        strategy: Strategy::Merge(key),
    }
}

const METADATA: Field = field("metadata", Ty::ObjectMeta);
const CONDITIONS: Field = merge("conditions", "type", Ty::Any);
const CONDITIONS_STATUS: Field = field("status", Ty::ConditionsStatus);
const MATCH_CONDITIONS: Field = merge("matchConditions", "name", Ty::Any);

/// Field metadata per type, from upstream's `patchStrategy`/`patchMergeKey`
/// struct tags (core/v1, apps/v1, batch/v1, policy/v1, storage/v1,
/// admissionregistration/v1, resource/v1, meta/v1 and friends).
fn fields(ty: Ty) -> &'static [Field] {
    match ty {
        Ty::Any => &[],
        Ty::Object => const { &[METADATA] },
        Ty::ObjectMeta => {
            const {
                &[
                    merge("finalizers", "", Ty::Any),
                    merge("ownerReferences", "uid", Ty::Any),
                ]
            }
        }
        Ty::Pod => {
            const {
                &[
                    METADATA,
                    field("spec", Ty::PodSpec),
                    field("status", Ty::PodStatus),
                ]
            }
        }
        Ty::PodSpec => {
            const {
                &[
                    merge("volumes", "name", Ty::Any),
                    merge("initContainers", "name", Ty::Container),
                    merge("containers", "name", Ty::Container),
                    // EphemeralContainerCommon carries the same tags as Container.
                    merge("ephemeralContainers", "name", Ty::Container),
                    merge("imagePullSecrets", "name", Ty::Any),
                    merge("hostAliases", "ip", Ty::Any),
                    merge("topologySpreadConstraints", "topologyKey", Ty::Any),
                    merge("schedulingGates", "name", Ty::Any),
                    merge("resourceClaims", "name", Ty::Any),
                ]
            }
        }
        Ty::Container => {
            const {
                &[
                    merge("ports", "containerPort", Ty::Any),
                    merge("env", "name", Ty::Any),
                    merge("volumeMounts", "mountPath", Ty::Any),
                    merge("volumeDevices", "devicePath", Ty::Any),
                ]
            }
        }
        Ty::PodStatus => {
            const {
                &[
                    CONDITIONS,
                    merge("hostIPs", "ip", Ty::Any),
                    merge("podIPs", "ip", Ty::Any),
                    merge("resourceClaimStatuses", "name", Ty::Any),
                ]
            }
        }
        Ty::PodTemplate => const { &[METADATA, field("template", Ty::PodTemplateSpec)] },
        Ty::PodTemplateSpec => const { &[METADATA, field("spec", Ty::PodSpec)] },
        Ty::Workload => const { &[METADATA, field("spec", Ty::WorkloadSpec), CONDITIONS_STATUS] },
        Ty::WorkloadSpec => const { &[field("template", Ty::PodTemplateSpec)] },
        Ty::CronJob => const { &[METADATA, field("spec", Ty::CronJobSpec)] },
        Ty::CronJobSpec => const { &[field("jobTemplate", Ty::JobTemplateSpec)] },
        Ty::JobTemplateSpec => const { &[METADATA, field("spec", Ty::WorkloadSpec)] },
        Ty::ConditionsObject => const { &[METADATA, CONDITIONS_STATUS] },
        Ty::ConditionsStatus => const { &[CONDITIONS] },
        Ty::Service => const { &[METADATA, field("spec", Ty::ServiceSpec), CONDITIONS_STATUS] },
        Ty::ServiceSpec => const { &[merge("ports", "port", Ty::Any)] },
        Ty::Node => {
            const {
                &[
                    METADATA,
                    field("spec", Ty::NodeSpec),
                    field("status", Ty::NodeStatus),
                ]
            }
        }
        Ty::NodeSpec => const { &[merge("podCIDRs", "", Ty::Any)] },
        Ty::NodeStatus => const { &[CONDITIONS, merge("addresses", "type", Ty::Any)] },
        Ty::ServiceAccount => const { &[METADATA, merge("secrets", "name", Ty::Any)] },
        Ty::ComponentStatus => const { &[METADATA, CONDITIONS] },
        Ty::PodDisruptionBudget => {
            const {
                &[
                    METADATA,
                    field("spec", Ty::PodDisruptionBudgetSpec),
                    CONDITIONS_STATUS,
                ]
            }
        }
        Ty::PodDisruptionBudgetSpec => {
            const {
                &[Field {
                    name: "selector",
                    ty: Ty::Any,
                    strategy: Strategy::Replace,
                }]
            }
        }
        Ty::CsiNode => const { &[METADATA, field("spec", Ty::CsiNodeSpec)] },
        Ty::CsiNodeSpec => const { &[merge("drivers", "name", Ty::Any)] },
        Ty::WebhookConfiguration => const { &[METADATA, merge("webhooks", "name", Ty::Webhook)] },
        Ty::Webhook => const { &[MATCH_CONDITIONS] },
        Ty::ValidatingAdmissionPolicy => {
            const { &[METADATA, field("spec", Ty::ValidatingAdmissionPolicySpec)] }
        }
        Ty::ValidatingAdmissionPolicySpec => {
            const { &[MATCH_CONDITIONS, merge("variables", "name", Ty::Any)] }
        }
        Ty::MutatingAdmissionPolicy => {
            const { &[METADATA, field("spec", Ty::MutatingAdmissionPolicySpec)] }
        }
        Ty::MutatingAdmissionPolicySpec => const { &[MATCH_CONDITIONS] },
        Ty::ResourceClaim => const { &[METADATA, field("status", Ty::ResourceClaimStatus)] },
        Ty::ResourceClaimStatus => const { &[merge("reservedFor", "uid", Ty::Any)] },
    }
}

/// The root type for a kind. Unlisted kinds still get `ObjectMeta`
/// semantics for `metadata`, since every object's metadata is ObjectMeta.
fn root_type(kind: &str) -> Ty {
    match kind {
        "Pod" => Ty::Pod,
        "PodTemplate" => Ty::PodTemplate,
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => Ty::Workload,
        "CronJob" => Ty::CronJob,
        "Service" => Ty::Service,
        "Node" => Ty::Node,
        "ServiceAccount" => Ty::ServiceAccount,
        "ComponentStatus" => Ty::ComponentStatus,
        "PodDisruptionBudget" => Ty::PodDisruptionBudget,
        "CSINode" => Ty::CsiNode,
        "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration" => {
            Ty::WebhookConfiguration
        }
        "ValidatingAdmissionPolicy" => Ty::ValidatingAdmissionPolicy,
        "MutatingAdmissionPolicy" => Ty::MutatingAdmissionPolicy,
        "ResourceClaim" => Ty::ResourceClaim,
        "Namespace"
        | "PersistentVolumeClaim"
        | "HorizontalPodAutoscaler"
        | "FlowSchema"
        | "PriorityLevelConfiguration"
        | "APIService"
        | "ServiceCIDR"
        | "StorageVersionMigration"
        | "PodCertificateRequest"
        | "DeviceTaintRule" => Ty::ConditionsObject,
        _ => Ty::Object,
    }
}

fn lookup(ty: Ty, name: &str) -> (Ty, Strategy) {
    fields(ty)
        .iter()
        .find(|f| f.name == name)
        .map_or((Ty::Any, Strategy::Default), |f| (f.ty, f.strategy))
}

// ---------------------------------------------------------------------------
// Strategic merge patch: the algorithm
// ---------------------------------------------------------------------------

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

fn is_directive_key(k: &str) -> bool {
    k == DIRECTIVE
        || k == RETAIN_KEYS
        || k.starts_with(SET_ELEMENT_ORDER)
        || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
}

/// Applies a Kubernetes strategic merge patch to `target`, an object of
/// kind `kind` ("Pod", "Deployment", ...).
///
/// Follows upstream `strategicpatch` on the server side, with two
/// deliberate differences: directives are always resolved (a patch value
/// for a field the object lacks is merged into an empty value rather than
/// copied verbatim), so no `$...` keys or `null`s reach the result; and
/// `$patch: merge` is accepted as the explicit default instead of rejected.
/// As upstream, list elements the patch adds to a merged list are placed
/// before the existing elements they are not ordered against (the patch's
/// order wins over the live order).
pub fn strategic_merge_patch(
    target: &Value,
    patch: &Value,
    kind: &str,
) -> Result<Value, PatchError> {
    let Value::Object(p) = patch else {
        return Err(bad(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_type_name(patch)
        )));
    };
    let Value::Object(t) = target else {
        return Err(bad("invalid JSON document"));
    };
    merge_map(t.clone(), p, root_type(kind)).map(Value::Object)
}

fn no_merge_key(m: &Map<String, Value>, key: &str) -> PatchError {
    unprocessable(format!(
        "map: {} does not contain declared merge key: {key}",
        Value::Object(m.clone())
    ))
}

fn merge_map(
    mut orig: Map<String, Value>,
    patch: &Map<String, Value>,
    ty: Ty,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(d) = patch.get(DIRECTIVE) {
        match d.as_str() {
            Some("replace") => {
                let mut rest = patch.clone();
                rest.shift_remove(DIRECTIVE);
                return merge_map(Map::new(), &rest, ty);
            }
            Some("delete") => return Ok(Map::new()),
            Some("merge") => {}
            _ => {
                return Err(unprocessable(format!(
                    "unknown patch type: {} in map: {}",
                    d.as_str().map_or_else(|| d.to_string(), str::to_string),
                    Value::Object(patch.clone())
                )))
            }
        }
    }

    if let Some(rk) = patch.get(RETAIN_KEYS) {
        let keys: Vec<&str> = rk
            .as_array()
            .and_then(|l| l.iter().map(Value::as_str).collect())
            .ok_or_else(|| bad("invalid patch format of retainKeys"))?;
        for (k, v) in patch {
            if !v.is_null() && !is_directive_key(k) && !keys.contains(&k.as_str()) {
                return Err(unprocessable("patch content doesn't match retainKeys list"));
            }
        }
        orig.retain(|k, _| keys.contains(&k.as_str()));
    }

    // Lists with an explicit element order are merged first, then ordered.
    let mut ordered: Vec<&str> = Vec::new();
    for (k, v) in patch {
        let Some(rest) = k.strip_prefix(SET_ELEMENT_ORDER) else {
            continue;
        };
        let name = rest
            .strip_prefix('/')
            .ok_or_else(|| bad("invalid patch format of setElementOrder list"))?;
        let order = v
            .as_array()
            .ok_or_else(|| bad("invalid patch format of setElementOrder list"))?;
        if merge_ordered_list(&mut orig, patch, name, order, ty)? {
            ordered.push(name);
        }
    }

    for (k, pv) in patch {
        if k == DIRECTIVE || k == RETAIN_KEYS || k.starts_with(SET_ELEMENT_ORDER) {
            continue;
        }
        if ordered.contains(&k.as_str()) {
            continue;
        }
        if let Some(rest) = k.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            let name = rest
                .strip_prefix('/')
                .ok_or_else(|| bad("invalid patch format of primitive list"))?;
            let doomed = pv
                .as_array()
                .ok_or_else(|| bad("invalid patch format of primitive list"))?;
            match orig.get_mut(name) {
                Some(Value::Array(cur)) => cur.retain(|x| !doomed.iter().any(|d| json_eq(x, d))),
                None | Some(Value::Null) => {}
                Some(_) => {
                    return Err(unprocessable(format!(
                        "cannot delete from {name}: it is not a list"
                    )))
                }
            }
            continue;
        }
        if pv.is_null() {
            orig.shift_remove(k);
            continue;
        }
        let (fty, strategy) = lookup(ty, k);
        match orig.get_mut(k) {
            Some(slot) => {
                let cur = std::mem::take(slot);
                *slot = merge_value(cur, pv, fty, strategy)?;
            }
            None => {
                let v = fresh(pv, fty, strategy)?;
                orig.insert(k.clone(), v);
            }
        }
    }
    Ok(orig)
}

/// Merges one field value where the object already has one.
fn merge_value(cur: Value, pv: &Value, ty: Ty, strategy: Strategy) -> Result<Value, PatchError> {
    match (cur, pv) {
        (Value::Object(o), Value::Object(p)) if strategy != Strategy::Replace => {
            merge_map(o, p, ty).map(Value::Object)
        }
        (Value::Array(o), Value::Array(p)) => {
            merge_list_field(o, p, ty, strategy).map(Value::Array)
        }
        _ => fresh(pv, ty, strategy),
    }
}

/// The value a patch sets where there is nothing to merge with: the patch
/// merged into an empty value, which resolves its directives.
fn fresh(pv: &Value, ty: Ty, strategy: Strategy) -> Result<Value, PatchError> {
    Ok(match pv {
        Value::Object(p) => Value::Object(merge_map(Map::new(), p, ty)?),
        Value::Array(p) => Value::Array(merge_list_field(Vec::new(), p, ty, strategy)?),
        other => other.clone(),
    })
}

fn merge_list_field(
    orig: Vec<Value>,
    patch: &[Value],
    ty: Ty,
    strategy: Strategy,
) -> Result<Vec<Value>, PatchError> {
    match strategy {
        Strategy::Merge(key) => merge_list(orig, patch, key, ty),
        Strategy::Default | Strategy::Replace => {
            // Replaced wholesale; element maps are cleaned of nulls and
            // directives.
            let mut out = Vec::with_capacity(patch.len());
            for e in patch {
                match e {
                    Value::Object(m) => {
                        // Element directives mean nothing in a replaced list:
                        // drop deletions and bare markers, strip the rest.
                        let directive = m.get(DIRECTIVE).and_then(Value::as_str);
                        if directive == Some("delete") || (directive.is_some() && m.len() == 1) {
                            continue;
                        }
                        out.push(Value::Object(merge_map(Map::new(), m, ty)?));
                    }
                    other => out.push(other.clone()),
                }
            }
            Ok(out)
        }
    }
}

/// Whether two list elements are "the same item": equal merge-key values
/// for lists of maps, equal values for lists of primitives.
fn same_item(a: &Value, b: &Value, key: &str) -> bool {
    if key.is_empty() {
        return json_eq(a, b);
    }
    match (a.get(key), b.get(key)) {
        (Some(x), Some(y)) => json_eq(x, y),
        _ => false,
    }
}

fn position(list: &[Value], item: &Value, key: &str) -> Option<usize> {
    list.iter().position(|x| same_item(x, item, key))
}

/// Upstream requires every element of a list of maps to be the same kind
/// of value and lists of lists are unsupported.
fn check_elements(orig: &[Value], patch: &[Value]) -> Result<bool, PatchError> {
    let mut first: Option<&'static str> = None;
    for v in orig.iter().chain(patch) {
        let t = json_type_name(v);
        if t == "array" {
            return Err(unprocessable("lists of lists are not supported"));
        }
        match first {
            None => first = Some(t),
            Some(f) if f != t => {
                return Err(unprocessable(format!(
                    "list element types are not identical: {} {}",
                    Value::Array(orig.to_vec()),
                    Value::Array(patch.to_vec())
                )))
            }
            Some(_) => {}
        }
    }
    Ok(first == Some("object"))
}

/// Merges a list with `patchStrategy:"merge"`: primitives are unioned,
/// maps are matched by `key` and merged, with `$patch` elements honoured.
fn merge_list(
    orig: Vec<Value>,
    patch: &[Value],
    key: &str,
    ty: Ty,
) -> Result<Vec<Value>, PatchError> {
    if orig.is_empty() && patch.is_empty() {
        return Ok(orig);
    }
    let maps = check_elements(&orig, patch)?;
    if !maps {
        let mut merged: Vec<Value> = Vec::with_capacity(orig.len() + patch.len());
        for v in orig.iter().chain(patch) {
            if !merged.iter().any(|m| json_eq(m, v)) {
                merged.push(v.clone());
            }
        }
        return Ok(order_merged(merged, patch, &orig, ""));
    }
    if key.is_empty() {
        return Err(unprocessable("cannot merge lists without merge key"));
    }

    let mut orig = orig;
    let mut plain: Vec<Value> = Vec::with_capacity(patch.len());
    let mut replace = false;
    for e in patch {
        let Value::Object(m) = e else { continue };
        let Some(d) = m.get(DIRECTIVE) else {
            plain.push(e.clone());
            continue;
        };
        match d.as_str() {
            Some("delete") => {
                if !m.contains_key(key) {
                    return Err(no_merge_key(m, key));
                }
                orig.retain(|o| !same_item(o, e, key));
            }
            Some("replace") => replace = true,
            Some("merge") => {
                let mut m = m.clone();
                m.shift_remove(DIRECTIVE);
                plain.push(Value::Object(m));
            }
            _ => {
                return Err(unprocessable(format!(
                    "unknown patch type: {} in map: {}",
                    d.as_str().map_or_else(|| d.to_string(), str::to_string),
                    Value::Object(m.clone())
                )))
            }
        }
    }
    if replace {
        // The patch's other elements become the whole list, in patch order.
        return plain
            .iter()
            .filter_map(Value::as_object)
            .map(|m| merge_map(Map::new(), m, ty).map(Value::Object))
            .collect();
    }

    let mut merged = orig.clone();
    for p in &plain {
        let Value::Object(pm) = p else { continue };
        if !pm.contains_key(key) {
            return Err(no_merge_key(pm, key));
        }
        match position(&merged, p, key) {
            Some(i) => {
                let cur = match std::mem::take(&mut merged[i]) {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                merged[i] = Value::Object(merge_map(cur, pm, ty)?);
            }
            None => merged.push(Value::Object(merge_map(Map::new(), pm, ty)?)),
        }
    }
    for m in &merged {
        if let Value::Object(mm) = m {
            if !mm.contains_key(key) {
                return Err(no_merge_key(mm, key));
            }
        }
    }
    Ok(order_merged(merged, &plain, &orig, key))
}

/// Upstream's ordering of a merged list: items named by the patch follow
/// the patch's order, the others keep the live order, and the two runs are
/// interleaved where the live list orders them against each other.
fn order_merged(
    merged: Vec<Value>,
    patch_order: &[Value],
    live: &[Value],
    key: &str,
) -> Vec<Value> {
    let (mut from_patch, mut live_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|v| position(patch_order, v, key).is_some());
    from_patch.sort_by_key(|v| position(patch_order, v, key).unwrap_or(usize::MAX));
    live_only.sort_by_key(|v| position(live, v, key).unwrap_or(usize::MAX));

    let mut out = Vec::with_capacity(from_patch.len() + live_only.len());
    let mut left = live_only.into_iter().peekable();
    let mut right = from_patch.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (position(live, l, key), position(live, r, key)),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

/// Handles `$setElementOrder/<name>`: merges the patch's list (if any) into
/// the live one, then orders the result by the directive. Returns whether
/// the field was handled here.
fn merge_ordered_list(
    orig: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    name: &str,
    order: &[Value],
    ty: Ty,
) -> Result<bool, PatchError> {
    let (fty, strategy) = lookup(ty, name);
    let key = match strategy {
        Strategy::Merge(k) => k,
        _ => "",
    };
    let live = match orig.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(a.clone()),
        Some(_) => return Err(unprocessable(format!("{name}: expected a list"))),
    };
    let patch_list = match patch.get(name) {
        None => None,
        Some(Value::Array(a)) => Some(a.as_slice()),
        // A null (or other) value is handled as an ordinary field.
        Some(_) => return Ok(false),
    };
    if let Some(pl) = patch_list {
        validate_order(pl, order, key)?;
    }
    let merged = match (&live, patch_list) {
        (None, None) => return Ok(false),
        (Some(l), None) => l.clone(),
        (None, Some(p)) => merge_list_field(Vec::new(), p, fty, strategy)?,
        (Some(l), Some(p)) => merge_list_field(l.clone(), p, fty, strategy)?,
    };
    let live = live.unwrap_or_default();
    let ordered = order_merged(merged, order, &live, key);
    orig.insert(name.to_string(), Value::Array(ordered));
    Ok(true)
}

/// The patch list's items must appear in `$setElementOrder` in the same
/// relative order (deletions and other directive items aside).
fn validate_order(patch: &[Value], order: &[Value], key: &str) -> Result<(), PatchError> {
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let items: Vec<&Value> = patch
        .iter()
        .filter(|v| v.get(DIRECTIVE).is_none())
        .collect();
    let mut pi = 0;
    for o in order {
        if pi >= items.len() {
            break;
        }
        if !key.is_empty() {
            for v in [items[pi], o] {
                if let Value::Object(m) = v {
                    if !m.contains_key(key) {
                        return Err(no_merge_key(m, key));
                    }
                }
            }
        }
        if same_item(items[pi], o, key) {
            pi += 1;
        }
    }
    if pi < items.len() {
        return Err(bad(format!(
            "The order in patch list:\n{}\n doesn't match $setElementOrder list:\n{}\n",
            Value::Array(patch.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn smp(target: Value, patch: Value, kind: &str) -> Value {
        strategic_merge_patch(&target, &patch, kind).unwrap()
    }

    fn names(list: &Value) -> Vec<&str> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect()
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d", "labels": {"app": "web", "tier": "fe"}},
            "spec": {
                "replicas": 2,
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {"name": "app", "image": "app:1",
                             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                             "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                            {"name": "sidecar", "image": "side:1"}
                        ],
                        "tolerations": [{"key": "a", "operator": "Exists"}]
                    }
                }
            }
        })
    }

    #[test]
    fn merges_one_container_keeps_the_other() {
        let out = smp(
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "sidecar", "image": "side:2"}
            ]}}}}),
            "Deployment",
        );
        let cs = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(names(cs), ["app", "sidecar"]);
        assert_eq!(cs[1]["image"], "side:2");
        assert_eq!(cs[0]["image"], "app:1");
        assert_eq!(out["spec"]["replicas"], 2);
    }

    #[test]
    fn env_merges_by_name() {
        let out = smp(
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]}
            ]}}}}),
            "Deployment",
        );
        let env = &out["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(
            env,
            &json!([
                {"name": "A", "value": "1"},
                {"name": "B", "value": "3"},
                {"name": "C", "value": "4"}
            ])
        );
    }

    #[test]
    fn new_elements_come_first_as_upstream() {
        // Upstream's ordering puts items the live list cannot order ahead of
        // the live-only items (see kubectl's "patch-demo-ctr-2" example).
        let out = smp(
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "extra", "image": "x"}
            ]}}}}),
            "Deployment",
        );
        assert_eq!(
            names(&out["spec"]["template"]["spec"]["containers"]),
            ["extra", "app", "sidecar"]
        );
        // With an explicit order (what kubectl apply sends) it goes last.
        let out = smp(
            deployment(),
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}, {"name": "extra"}],
                "containers": [{"name": "extra", "image": "x"}]
            }}}}),
            "Deployment",
        );
        let spec = &out["spec"]["template"]["spec"];
        assert_eq!(names(&spec["containers"]), ["app", "sidecar", "extra"]);
        assert!(spec.get("$setElementOrder/containers").is_none());
    }

    #[test]
    fn delete_directive_removes_a_container() {
        let out = smp(
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "sidecar", "$patch": "delete"}
            ]}}}}),
            "Deployment",
        );
        assert_eq!(
            names(&out["spec"]["template"]["spec"]["containers"]),
            ["app"]
        );
    }

    #[test]
    fn replace_directive_in_list_and_map() {
        let out = smp(
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "only", "image": "o"},
                {"$patch": "replace"}
            ]}}}}),
            "Deployment",
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "only", "image": "o"}])
        );
        let out = smp(
            deployment(),
            json!({"metadata": {"labels": {"$patch": "replace", "new": "x"}}}),
            "Deployment",
        );
        assert_eq!(out["metadata"]["labels"], json!({"new": "x"}));
        let out = smp(
            deployment(),
            json!({"metadata": {"labels": {"$patch": "delete"}}}),
            "Deployment",
        );
        assert_eq!(out["metadata"]["labels"], json!({}));
        let out = smp(
            deployment(),
            json!({"metadata": {"labels": {"$patch": "merge", "x": "y"}}}),
            "Deployment",
        );
        assert_eq!(
            out["metadata"]["labels"],
            json!({"app": "web", "tier": "fe", "x": "y"})
        );
        let err = strategic_merge_patch(
            &deployment(),
            &json!({"metadata": {"labels": {"$patch": "bogus"}}}),
            "Deployment",
        )
        .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("unknown patch type: bogus in map: "));
    }

    #[test]
    fn finalizers_union_and_delete() {
        let obj = json!({"metadata": {"name": "x", "finalizers": ["a", "b"]}});
        let out = smp(
            obj.clone(),
            json!({"metadata": {"finalizers": ["b", "c"]}}),
            "ConfigMap",
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c"]));
        let out = smp(
            obj.clone(),
            json!({"metadata": {"finalizers": ["c"]}}),
            "Whatever",
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["c", "a", "b"]));
        let out = smp(
            obj.clone(),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
            "Pod",
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
        // What kubectl sends when removing one finalizer.
        let out = smp(
            obj,
            json!({"metadata": {
                "$setElementOrder/finalizers": ["b"],
                "$deleteFromPrimitiveList/finalizers": ["a"]
            }}),
            "Pod",
        );
        assert_eq!(out["metadata"], json!({"name": "x", "finalizers": ["b"]}));
    }

    #[test]
    fn null_deletes_and_maps_merge() {
        let out = smp(
            deployment(),
            json!({"metadata": {"labels": {"tier": null, "new": "1"}, "annotations": {"a": "b", "gone": null}}}),
            "Deployment",
        );
        assert_eq!(out["metadata"]["labels"], json!({"app": "web", "new": "1"}));
        assert_eq!(out["metadata"]["annotations"], json!({"a": "b"}));
        let out = smp(
            deployment(),
            json!({"spec": {"replicas": null}}),
            "Deployment",
        );
        assert!(out["spec"].get("replicas").is_none());
    }

    #[test]
    fn untagged_lists_are_replaced() {
        let out = smp(
            deployment(),
            json!({"spec": {"template": {"spec": {"tolerations": [
                {"key": "b", "operator": "Exists", "value": null},
                {"$patch": "replace"}
            ]}}}}),
            "Deployment",
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["tolerations"],
            json!([{"key": "b", "operator": "Exists"}])
        );
        // Unknown kinds: everything but metadata is plain map merging.
        let out = smp(
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}),
            json!({"spec": {"containers": [{"name": "c"}]}}),
            "Widget",
        );
        assert_eq!(out["spec"]["containers"], json!([{"name": "c"}]));
    }

    #[test]
    fn ports_use_type_specific_keys() {
        let out = smp(
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}]}
            ]}}}}),
            "Deployment",
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"][0]["ports"],
            json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}, {"containerPort": 443}])
        );
        let svc = json!({"spec": {"ports": [
            {"port": 80, "targetPort": 8080},
            {"port": 443, "targetPort": 8443}
        ]}});
        let out = smp(
            svc,
            json!({"spec": {"ports": [{"port": 443, "targetPort": 9443}]}}),
            "Service",
        );
        assert_eq!(
            out["spec"]["ports"],
            json!([{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 9443}])
        );
    }

    #[test]
    fn status_conditions_and_owner_references() {
        let pod = json!({
            "metadata": {"ownerReferences": [{"uid": "1", "name": "a"}, {"uid": "2", "name": "b"}]},
            "status": {
                "conditions": [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}],
                "podIPs": [{"ip": "10.0.0.1"}]
            }
        });
        let out = smp(
            pod,
            json!({
                "metadata": {"ownerReferences": [{"uid": "2", "name": "bb"}]},
                "status": {"conditions": [{"type": "Ready", "status": "True"}], "podIPs": [{"ip": "fd00::1"}]}
            }),
            "Pod",
        );
        assert_eq!(
            out["status"]["conditions"],
            json!([{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}])
        );
        assert_eq!(out["metadata"]["ownerReferences"][1]["name"], "bb");
        assert_eq!(
            out["status"]["podIPs"],
            json!([{"ip": "fd00::1"}, {"ip": "10.0.0.1"}])
        );
        let node = json!({"status": {"addresses": [{"type": "InternalIP", "address": "1.1.1.1"}]}});
        let out = smp(
            node,
            json!({"status": {"addresses": [{"type": "Hostname", "address": "n1"}]}}),
            "Node",
        );
        assert_eq!(out["status"]["addresses"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn cronjob_pod_template_is_typed() {
        let cj = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "1"}, {"name": "b", "image": "1"}
        ]}}}}}});
        let out = smp(
            cj,
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
                {"name": "b", "image": "2"}
            ]}}}}}}),
            "CronJob",
        );
        let cs = &out["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"];
        assert_eq!(
            cs,
            &json!([{"name": "a", "image": "1"}, {"name": "b", "image": "2"}])
        );
    }

    #[test]
    fn retain_keys_clears_other_fields() {
        let d = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let out = smp(
            d.clone(),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
            "Deployment",
        );
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        let err = strategic_merge_patch(
            &d,
            &json!({"spec": {"strategy": {"$retainKeys": ["type"], "other": 1}}}),
            "Deployment",
        )
        .unwrap_err();
        assert_eq!(err.code(), 422);
        let err = strategic_merge_patch(
            &d,
            &json!({"spec": {"strategy": {"$retainKeys": "type"}}}),
            "Deployment",
        )
        .unwrap_err();
        assert_eq!(err.code(), 400);
    }

    #[test]
    fn directives_never_leak_into_new_fields() {
        let out = smp(
            json!({"metadata": {"name": "p"}, "spec": {}}),
            json!({
                "metadata": {"$deleteFromPrimitiveList/finalizers": ["x"], "labels": {"a": "1", "b": null}},
                "spec": {
                    "$setElementOrder/containers": [{"name": "a"}],
                    "containers": [{"name": "a", "env": [{"name": "X", "$patch": "delete"}, {"name": "Y", "value": "1"}]},
                                   {"name": "z", "$patch": "delete"}],
                    "volumes": [{"name": "v", "emptyDir": {"$patch": "replace"}}]
                }
            }),
            "Pod",
        );
        assert_eq!(
            out,
            json!({
                "metadata": {"name": "p", "labels": {"a": "1"}},
                "spec": {
                    "containers": [{"name": "a", "env": [{"name": "Y", "value": "1"}]}],
                    "volumes": [{"name": "v", "emptyDir": {}}]
                }
            })
        );
    }

    #[test]
    fn set_element_order_reorders_and_validates() {
        let out = smp(
            deployment(),
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]
            }}}}),
            "Deployment",
        );
        assert_eq!(
            names(&out["spec"]["template"]["spec"]["containers"]),
            ["sidecar", "app"]
        );
        let err = strategic_merge_patch(
            &deployment(),
            &json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                "containers": [{"name": "sidecar"}, {"name": "app"}]
            }}}}),
            "Deployment",
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("The order in patch list"));
    }

    #[test]
    fn merge_key_is_required() {
        let err = strategic_merge_patch(
            &deployment(),
            &json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
            "Deployment",
        )
        .unwrap_err();
        assert!(err
            .to_string()
            .contains("does not contain declared merge key: name"));
        let err = strategic_merge_patch(&deployment(), &json!([1]), "Deployment").unwrap_err();
        assert_eq!(err.code(), 400);
    }

    // --- JSON patch ---

    fn jp(target: Value, patch: Value) -> Result<Value, PatchError> {
        json_patch(&target, &patch)
    }

    #[test]
    fn json_patch_operations() {
        let doc = json!({"a": {"b": [1, 2, 3]}, "c~d": 1, "e/f": 2});
        let out = jp(
            doc.clone(),
            json!([
                {"op": "add", "path": "/a/b/1", "value": 9},
                {"op": "add", "path": "/a/b/-", "value": 10},
                {"op": "remove", "path": "/a/b/0"},
                {"op": "replace", "path": "/c~0d", "value": "x"},
                {"op": "move", "from": "/e~1f", "path": "/g"},
                {"op": "copy", "from": "/a/b", "path": "/h"},
                {"op": "test", "path": "/g", "value": 2.0},
                {"op": "add", "path": "/a/new", "value": {"k": null}}
            ]),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"a": {"b": [9, 2, 3, 10], "new": {"k": null}}, "c~d": "x", "g": 2, "h": [9, 2, 3, 10]})
        );
        // Negative indices count from the end, as upstream's library allows.
        let out = jp(json!([1, 2, 3]), json!([{"op": "remove", "path": "/-1"}])).unwrap();
        assert_eq!(out, json!([1, 2]));
        let out = jp(doc, json!([{"op": "replace", "path": "", "value": [1]}])).unwrap();
        assert_eq!(out, json!([1]));
    }

    #[test]
    fn json_patch_failures() {
        let doc = json!({"spec": {"replicas": 1, "list": [1]}});
        let e = jp(
            doc.clone(),
            json!([{"op": "test", "path": "/spec/replicas", "value": 2}]),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "testing value /spec/replicas failed: test failed"
        );
        assert_eq!(e.code(), 422);
        let e = jp(
            doc.clone(),
            json!([{"op": "replace", "path": "/spec/missing", "value": 2}]),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "replace operation does not apply: doc is missing key: /spec/missing: missing value"
        );
        let e = jp(
            doc.clone(),
            json!([{"op": "add", "path": "/nope/x", "value": 2}]),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "add operation does not apply: doc is missing path: \"/nope/x\": missing value"
        );
        let e = jp(
            doc.clone(),
            json!([{"op": "remove", "path": "/spec/list/5"}]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("Unable to access invalid index: 5"));
        let e = jp(
            doc.clone(),
            json!([{"op": "move", "from": "/spec", "path": "/spec/x"}]),
        )
        .unwrap_err();
        assert_eq!(e.code(), 422);
        let e = jp(doc.clone(), json!([{"op": "frob", "path": "/spec"}])).unwrap_err();
        assert_eq!(e.to_string(), "Unexpected kind: frob");
        let e = jp(doc.clone(), json!({"op": "add"})).unwrap_err();
        assert_eq!(e.code(), 400);
        // A failing later operation leaves the input untouched.
        let before = doc.clone();
        let r = json_patch(
            &doc,
            &json!([
                {"op": "replace", "path": "/spec/replicas", "value": 5},
                {"op": "test", "path": "/spec/replicas", "value": 1}
            ]),
        );
        assert!(r.is_err());
        assert_eq!(doc, before);
        let many = Value::Array(vec![
            json!({"op": "test", "path": "", "value": null});
            10_001
        ]);
        assert_eq!(json_patch(&doc, &many).unwrap_err().code(), 413);
    }

    // --- JSON merge patch ---

    #[test]
    fn merge_patch_rfc7386_examples() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (target, patch, want) in cases {
            assert_eq!(merge_patch(&target, &patch), want, "patch {patch}");
        }
    }

    #[test]
    fn merge_patch_keeps_key_order() {
        let out = merge_patch(&json!({"z": 1, "a": 2, "m": 3}), &json!({"a": 5, "b": 6}));
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "a", "m", "b"]);
    }
}
