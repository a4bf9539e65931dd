//! Admission: plugins that may mutate or reject a write after authorization
//! and before storage, in a fixed order as upstream's `--enable-admission-plugins`.
//!
//! NamespaceLifecycle, DefaultTolerationSeconds, Priority and
//! DefaultStorageClass exist today; ServiceAccount, LimitRanger,
//! ResourceQuota, NodeRestriction and PodSecurity implement the same trait.

use apimachinery::StatusError;
use async_trait::async_trait;
use serde_json::Value;

use crate::auth::UserInfo;

/// The operation being admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
}

/// What is being written, by whom.
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    pub operation: Operation,
    pub group: &'a str,
    pub version: &'a str,
    pub resource: &'a str,
    pub subresource: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
    pub kind: &'a str,
    pub user: &'a UserInfo,
    pub dry_run: bool,
}

impl Attributes<'_> {
    /// Whether this creates a core/v1 `resource` itself (not a
    /// subresource): what most mutating plugins act on.
    pub fn creates_core(&self, resource: &str) -> bool {
        self.operation == Operation::Create
            && self.resource == resource
            && self.group.is_empty()
            && self.subresource.is_empty()
    }
}

/// Read access plugins need (namespaces today; quotas and limits later).
#[async_trait]
pub trait Lookup: Send + Sync {
    /// The namespace object, if it exists.
    async fn namespace(&self, name: &str) -> Result<Option<Value>, StatusError>;
    /// Every PriorityClass.
    async fn priority_classes(&self) -> Result<Vec<Value>, StatusError>;
    /// Every StorageClass.
    async fn storage_classes(&self) -> Result<Vec<Value>, StatusError> {
        Ok(Vec::new())
    }
}

/// One admission plugin. `admit` may mutate `obj`; `validate` may only reject.
#[async_trait]
pub trait Plugin: Send + Sync {
    fn name(&self) -> &'static str;
    async fn admit(
        &self,
        _attrs: &Attributes<'_>,
        _obj: Option<&mut Value>,
        _lookup: &dyn Lookup,
    ) -> Result<(), StatusError> {
        Ok(())
    }
    async fn validate(
        &self,
        _attrs: &Attributes<'_>,
        _obj: Option<&Value>,
        _lookup: &dyn Lookup,
    ) -> Result<(), StatusError> {
        Ok(())
    }
}

/// The ordered plugin chain.
pub struct Chain {
    plugins: Vec<Box<dyn Plugin>>,
}

impl Chain {
    pub fn new(plugins: Vec<Box<dyn Plugin>>) -> Self {
        Chain { plugins }
    }

    /// The default plugins, in upstream's order.
    pub fn default_plugins() -> Self {
        Chain::new(vec![
            Box::new(NamespaceLifecycle),
            Box::new(DefaultTolerationSeconds::default()),
            Box::new(Priority),
            Box::new(DefaultStorageClass),
        ])
    }

    /// Runs every mutating phase, then every validating phase.
    pub async fn run(
        &self,
        attrs: &Attributes<'_>,
        mut obj: Option<&mut Value>,
        lookup: &dyn Lookup,
    ) -> Result<(), StatusError> {
        for p in &self.plugins {
            p.admit(attrs, obj.as_deref_mut(), lookup).await?;
        }
        for p in &self.plugins {
            p.validate(attrs, obj.as_deref(), lookup).await?;
        }
        Ok(())
    }
}

/// Upstream's `DefaultStorageClass`: a claim created without
/// `storageClassName` gets the default StorageClass (annotation
/// `storageclass.kubernetes.io/is-default-class: "true"`; the newest one
/// when several are marked). An explicit `""` means "no class" and is kept.
pub struct DefaultStorageClass;

/// The annotation marking the default StorageClass.
pub const IS_DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";

#[async_trait]
impl Plugin for DefaultStorageClass {
    fn name(&self) -> &'static str {
        "DefaultStorageClass"
    }

    async fn admit(
        &self,
        attrs: &Attributes<'_>,
        obj: Option<&mut Value>,
        lookup: &dyn Lookup,
    ) -> Result<(), StatusError> {
        if !attrs.creates_core("persistentvolumeclaims") {
            return Ok(());
        }
        let Some(pvc) = obj else { return Ok(()) };
        if pvc
            .pointer("/spec/storageClassName")
            .is_some_and(|v| !v.is_null())
        {
            return Ok(());
        }
        let classes = lookup.storage_classes().await?;
        let default = classes
            .iter()
            .filter(|c| {
                c.pointer("/metadata/annotations")
                    .and_then(|a| a.get(IS_DEFAULT_CLASS))
                    .and_then(Value::as_str)
                    == Some("true")
            })
            .max_by(|a, b| {
                let ts = |c: &Value| {
                    c.pointer("/metadata/creationTimestamp")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                ts(a).cmp(&ts(b))
            });
        if let (Some(c), Some(spec)) = (default, pvc.get_mut("spec")) {
            if let Some(name) = c.pointer("/metadata/name").and_then(Value::as_str) {
                spec["storageClassName"] = Value::String(name.to_string());
            }
        }
        Ok(())
    }
}

/// Namespaces that may never be deleted.
pub const IMMORTAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// Refuses content in missing or terminating namespaces and the deletion of
/// the system namespaces.
pub struct NamespaceLifecycle;

#[async_trait]
impl Plugin for NamespaceLifecycle {
    fn name(&self) -> &'static str {
        "NamespaceLifecycle"
    }

    async fn validate(
        &self,
        attrs: &Attributes<'_>,
        _obj: Option<&Value>,
        lookup: &dyn Lookup,
    ) -> Result<(), StatusError> {
        if attrs.resource == "namespaces" && attrs.group.is_empty() {
            if attrs.operation == Operation::Delete && IMMORTAL_NAMESPACES.contains(&attrs.name) {
                return Err(StatusError::forbidden(
                    "",
                    "namespaces",
                    attrs.name,
                    "this namespace may not be deleted",
                ));
            }
            return Ok(());
        }
        if attrs.namespace.is_empty() || attrs.operation != Operation::Create {
            return Ok(());
        }
        match lookup.namespace(attrs.namespace).await? {
            None => Err(StatusError::not_found("", "namespaces", attrs.namespace)),
            Some(ns) => {
                let terminating = ns
                    .get("metadata")
                    .and_then(|m| m.get("deletionTimestamp"))
                    .is_some_and(|t| !t.is_null())
                    || ns.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating");
                // Events are still accepted in terminating namespaces, as upstream.
                if terminating && attrs.resource != "events" {
                    Err(StatusError::forbidden(
                        attrs.group,
                        attrs.resource,
                        attrs.name,
                        &format!(
                            "unable to create new content in namespace {} because it is being terminated",
                            attrs.namespace
                        ),
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// Adds upstream's default NoExecute tolerations for `not-ready` and
/// `unreachable` nodes (300 s) to pods that tolerate neither, so pods are
/// evicted from a lost node after five minutes rather than at once.
pub struct DefaultTolerationSeconds {
    pub not_ready_seconds: i64,
    pub unreachable_seconds: i64,
}

impl Default for DefaultTolerationSeconds {
    fn default() -> Self {
        DefaultTolerationSeconds {
            not_ready_seconds: 300,
            unreachable_seconds: 300,
        }
    }
}

#[async_trait]
impl Plugin for DefaultTolerationSeconds {
    fn name(&self) -> &'static str {
        "DefaultTolerationSeconds"
    }

    async fn admit(
        &self,
        attrs: &Attributes<'_>,
        obj: Option<&mut Value>,
        _lookup: &dyn Lookup,
    ) -> Result<(), StatusError> {
        if !attrs.creates_core("pods") {
            return Ok(());
        }
        let Some(pod) = obj else { return Ok(()) };
        let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
            return Ok(());
        };
        let tolerations = spec
            .entry("tolerations")
            .or_insert_with(|| Value::Array(Vec::new()));
        let Some(list) = tolerations.as_array_mut() else {
            return Ok(());
        };
        // A toleration covers a taint key for NoExecute when it names the
        // key (or tolerates every key) with that effect or every effect.
        let covers = |list: &[Value], key: &str| {
            list.iter().any(|t| {
                let k = t.get("key").and_then(Value::as_str).unwrap_or("");
                let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
                let op = t.get("operator").and_then(Value::as_str).unwrap_or("Equal");
                (k == key || (k.is_empty() && op == "Exists"))
                    && (effect.is_empty() || effect == "NoExecute")
            })
        };
        for (key, secs) in [
            ("node.kubernetes.io/not-ready", self.not_ready_seconds),
            ("node.kubernetes.io/unreachable", self.unreachable_seconds),
        ] {
            if !covers(list, key) {
                list.push(serde_json::json!({
                    "key": key,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": secs,
                }));
            }
        }
        Ok(())
    }
}

/// Resolves a pod's `priorityClassName` (or the global default class) into
/// `spec.priority` and `spec.preemptionPolicy`, as upstream's Priority
/// admission plugin; an unknown class is refused.
pub struct Priority;

#[async_trait]
impl Plugin for Priority {
    fn name(&self) -> &'static str {
        "Priority"
    }

    async fn admit(
        &self,
        attrs: &Attributes<'_>,
        obj: Option<&mut Value>,
        lookup: &dyn Lookup,
    ) -> Result<(), StatusError> {
        if !attrs.creates_core("pods") {
            return Ok(());
        }
        let Some(pod) = obj else { return Ok(()) };
        let class = pod
            .pointer("/spec/priorityClassName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let classes = lookup.priority_classes().await?;
        let name_of = |c: &Value| {
            c.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let chosen = if class.is_empty() {
            classes
                .iter()
                .filter(|c| c.get("globalDefault").and_then(Value::as_bool) == Some(true))
                .min_by_key(|c| c.get("value").and_then(Value::as_i64).unwrap_or(0))
        } else {
            match classes.iter().find(|c| name_of(c) == class) {
                Some(c) => Some(c),
                None => {
                    return Err(StatusError::forbidden(
                        "",
                        "pods",
                        attrs.name,
                        &format!("no PriorityClass with name {class} was found"),
                    ))
                }
            }
        };
        let (priority, policy) = match chosen {
            Some(c) => (
                c.get("value").and_then(Value::as_i64).unwrap_or(0),
                c.get("preemptionPolicy")
                    .and_then(Value::as_str)
                    .unwrap_or("PreemptLowerPriority")
                    .to_string(),
            ),
            None => (0, "PreemptLowerPriority".to_string()),
        };
        if let Some(given) = pod.pointer("/spec/priority").and_then(Value::as_i64) {
            if given != priority {
                return Err(StatusError::forbidden(
                    "",
                    "pods",
                    attrs.name,
                    &format!(
                        "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"
                    ),
                ));
            }
        }
        if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
            if class.is_empty() {
                if let Some(c) = chosen {
                    spec.insert("priorityClassName".into(), Value::String(name_of(c)));
                }
            }
            spec.insert("priority".into(), serde_json::json!(priority));
            spec.entry("preemptionPolicy")
                .or_insert_with(|| Value::String(policy));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct NoLookup;
    #[async_trait]
    impl Lookup for NoLookup {
        async fn namespace(&self, _name: &str) -> Result<Option<Value>, StatusError> {
            Ok(None)
        }
        async fn priority_classes(&self) -> Result<Vec<Value>, StatusError> {
            Ok(vec![
                json!({"metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "Never"}),
                json!({"metadata": {"name": "dflt"}, "value": 7, "globalDefault": true}),
            ])
        }
        async fn storage_classes(&self) -> Result<Vec<Value>, StatusError> {
            let ann = json!({IS_DEFAULT_CLASS: "true"});
            Ok(vec![
                json!({"metadata": {"name": "fast"}}),
                json!({"metadata": {"name": "old", "annotations": ann, "creationTimestamp": "2024-01-01T00:00:00Z"}}),
                json!({"metadata": {"name": "local-path", "annotations": ann, "creationTimestamp": "2025-01-01T00:00:00Z"}}),
            ])
        }
    }

    #[tokio::test]
    async fn claims_without_a_class_get_the_newest_default() {
        let user = UserInfo::anonymous();
        let mut a = attrs(&user);
        a.resource = "persistentvolumeclaims";
        let mut pvc = json!({"spec": {"accessModes": ["ReadWriteOnce"]}});
        DefaultStorageClass
            .admit(&a, Some(&mut pvc), &NoLookup)
            .await
            .unwrap();
        assert_eq!(pvc["spec"]["storageClassName"], "local-path");
        // An explicit class, even "", is the user's choice.
        for class in ["fast", ""] {
            let mut pvc = json!({"spec": {"storageClassName": class}});
            DefaultStorageClass
                .admit(&a, Some(&mut pvc), &NoLookup)
                .await
                .unwrap();
            assert_eq!(pvc["spec"]["storageClassName"], class);
        }
    }

    #[tokio::test]
    async fn priority_classes_resolve() {
        let user = UserInfo::anonymous();
        let p = Priority;
        let mut pod = json!({"spec": {"priorityClassName": "high"}});
        p.admit(&attrs(&user), Some(&mut pod), &NoLookup)
            .await
            .unwrap();
        assert_eq!(pod["spec"]["priority"], 1000);
        assert_eq!(pod["spec"]["preemptionPolicy"], "Never");
        let mut pod = json!({"spec": {}});
        p.admit(&attrs(&user), Some(&mut pod), &NoLookup)
            .await
            .unwrap();
        assert_eq!(pod["spec"]["priority"], 7);
        assert_eq!(pod["spec"]["priorityClassName"], "dflt");
        let mut pod = json!({"spec": {"priorityClassName": "nope"}});
        let e = p
            .admit(&attrs(&user), Some(&mut pod), &NoLookup)
            .await
            .unwrap_err();
        assert_eq!(e.code, 403);
        assert!(e
            .message
            .contains("no PriorityClass with name nope was found"));
        let mut pod = json!({"spec": {"priorityClassName": "high", "priority": 5}});
        assert_eq!(
            p.admit(&attrs(&user), Some(&mut pod), &NoLookup)
                .await
                .unwrap_err()
                .code,
            403
        );
    }

    fn attrs<'a>(user: &'a UserInfo) -> Attributes<'a> {
        Attributes {
            operation: Operation::Create,
            group: "",
            version: "v1",
            resource: "pods",
            subresource: "",
            namespace: "default",
            name: "p",
            kind: "Pod",
            user,
            dry_run: false,
        }
    }

    #[tokio::test]
    async fn default_tolerations_added_once() {
        let user = UserInfo::anonymous();
        let p = DefaultTolerationSeconds::default();
        let mut pod = json!({"spec": {"containers": [], "tolerations": [
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}
        ]}});
        p.admit(&attrs(&user), Some(&mut pod), &NoLookup)
            .await
            .unwrap();
        let t = pod["spec"]["tolerations"].as_array().unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            t[0]["tolerationSeconds"], 10,
            "an existing toleration is kept"
        );
        assert_eq!(t[1]["key"], "node.kubernetes.io/not-ready");
        assert_eq!(t[1]["tolerationSeconds"], 300);
        let mut all = json!({"spec": {"tolerations": [{"operator": "Exists"}]}});
        p.admit(&attrs(&user), Some(&mut all), &NoLookup)
            .await
            .unwrap();
        assert_eq!(all["spec"]["tolerations"].as_array().unwrap().len(), 1);
    }
}
