//! The generic registry: create, get, list, update, patch and delete of any
//! catalogue resource over [`storage::Store`], with upstream's per-kind
//! strategies (defaulting, validation, status and scale subresources,
//! graceful pod deletion, finalizers, namespace termination, service IP and
//! node port allocation).
//!
//! Objects are stored as JSON without `resourceVersion`; the etcd mod
//! revision is written back into `metadata.resourceVersion` on every read.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use apimachinery::catalogue::ResourceInfo;
use apimachinery::meta;
use apimachinery::selector::{FieldSelector, LabelSelector};
use apimachinery::status::FieldError;
use apimachinery::{defaults, patch, validation, StatusError};
use async_trait::async_trait;
use base64::Engine;
use serde_json::{json, Map, Value};
use storage::{KeyValue, StorageError, Store};
use tracing::{debug, warn};

use crate::admission::{self, Attributes, Operation};
use crate::allocator::{AllocError, ServiceAllocators};
use crate::auth::UserInfo;
use crate::cache::WatchCache;
use crate::openapi::OpenApi;

/// How unknown or duplicate fields in a request body are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

impl FieldValidation {
    pub fn parse(s: Option<&str>) -> Result<Self, StatusError> {
        match s {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(StatusError::bad_request(format!(
                "fieldValidation {other} is not a valid value; must be one of: Ignore, Warn, Strict"
            ))),
        }
    }
}

/// Per-request context for writes.
pub struct WriteCtx<'a> {
    pub user: &'a UserInfo,
    pub dry_run: bool,
    pub field_validation: FieldValidation,
    /// Fields duplicated in the request body (found while decoding).
    pub duplicates: Vec<String>,
    /// Warnings to return as `Warning` headers.
    pub warnings: Vec<String>,
}

/// Options of a list or watch.
#[derive(Debug, Default, Clone)]
pub struct ListOptions {
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub limit: i64,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
}

/// Parsed selectors of a list or watch.
pub struct Selectors {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Selectors {
    pub fn matches(&self, r: &ResourceInfo, obj: &Value) -> bool {
        self.labels.matches(&meta::labels(obj)) && self.fields.matches(|f| field_value(r, obj, f))
    }
}

/// A page of a list.
pub struct ListPage {
    pub items: Vec<Value>,
    pub resource_version: i64,
    pub continue_token: Option<String>,
    pub remaining: Option<i64>,
}

/// Delete options from the query or a `DeleteOptions` body.
#[derive(Debug, Default, Clone)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
}

impl DeleteOptions {
    /// Merges a `DeleteOptions` JSON body over query values.
    pub fn from_body(mut self, body: &Value) -> Result<Self, StatusError> {
        if let Some(g) = body.get("gracePeriodSeconds") {
            self.grace_period_seconds = g.as_i64();
        }
        if let Some(p) = body.get("propagationPolicy").and_then(Value::as_str) {
            self.propagation_policy = Some(p.to_string());
        }
        if let Some(true) = body.get("orphanDependents").and_then(Value::as_bool) {
            self.propagation_policy = Some("Orphan".into());
        }
        if let Some(pre) = body.get("preconditions") {
            if let Some(u) = pre.get("uid").and_then(Value::as_str) {
                self.precondition_uid = Some(u.to_string());
            }
            if let Some(rv) = pre.get("resourceVersion").and_then(Value::as_str) {
                self.precondition_rv = Some(rv.to_string());
            }
        }
        if let Some(p) = &self.propagation_policy {
            if !matches!(p.as_str(), "Orphan" | "Background" | "Foreground") {
                return Err(StatusError::invalid(
                    "meta.k8s.io",
                    "DeleteOptions",
                    "",
                    vec![FieldError::not_supported(
                        "propagationPolicy",
                        &json!(p),
                        &["Foreground", "Background", "Orphan", "nil"],
                    )],
                ));
            }
        }
        Ok(self)
    }
}

/// The registry over one store.
pub struct Registry {
    store: Arc<dyn Store>,
    prefix: String,
    pub allocators: ServiceAllocators,
    admission: admission::Chain,
    openapi: Arc<OnceLock<OpenApi>>,
    cache: Option<Arc<WatchCache>>,
    events: EventLeases,
}

/// Events expire through etcd leases (upstream's `--event-ttl`); one lease
/// is shared by all events written within a minute so the number of leases
/// stays small, and is granted for the TTL plus that minute so every event
/// lives at least the TTL.
struct EventLeases {
    ttl: std::time::Duration,
    current: tokio::sync::Mutex<Option<(i64, std::time::Instant)>>,
}

const LEASE_REUSE: std::time::Duration = std::time::Duration::from_secs(60);

impl EventLeases {
    async fn lease(&self, store: &dyn Store) -> Result<i64, StatusError> {
        if self.ttl.is_zero() {
            return Ok(0);
        }
        let mut cur = self.current.lock().await;
        if let Some((id, at)) = *cur {
            if at.elapsed() < LEASE_REUSE {
                return Ok(id);
            }
        }
        let ttl = (self.ttl + LEASE_REUSE).as_secs() as i64;
        let id = store.grant_lease(ttl).await.map_err(storage_err)?;
        *cur = Some((id, std::time::Instant::now()));
        Ok(id)
    }
}

/// Kinds whose `metadata.generation` tracks spec changes.
fn tracks_generation(r: &ResourceInfo) -> bool {
    matches!(
        (r.group, r.kind),
        (
            "apps",
            "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet"
        ) | ("batch", "Job" | "CronJob")
            | ("", "ReplicationController")
            | ("autoscaling", _)
            | ("policy", "PodDisruptionBudget")
            | ("networking.k8s.io", "Ingress" | "NetworkPolicy")
            | ("apiextensions.k8s.io", _)
            | ("admissionregistration.k8s.io", _)
    )
}

/// Whether an update may create a missing object (upstream's
/// `AllowCreateOnUpdate`).
fn allow_create_on_update(r: &ResourceInfo) -> bool {
    matches!(
        (r.group, r.kind),
        ("", "Endpoints" | "Event")
            | ("events.k8s.io", "Event")
            | ("rbac.authorization.k8s.io", _)
            | ("coordination.k8s.io", "Lease")
    )
}

/// The value of a field-selector field on an object, per kind.
pub fn field_value(r: &ResourceInfo, obj: &Value, field: &str) -> Option<String> {
    let s = |p: &str| {
        meta::get_path(obj, p).map(|v| match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        })
    };
    match field {
        "metadata.name" => Some(meta::name(obj).to_string()),
        "metadata.namespace" => Some(meta::namespace(obj).to_string()),
        "spec.hostNetwork" if r.kind == "Pod" => Some(s(field).unwrap_or_else(|| "false".into())),
        "spec.unschedulable" if r.kind == "Node" => {
            Some(s(field).unwrap_or_else(|| "false".into()))
        }
        _ => Some(s(field).unwrap_or_default()),
    }
}

/// Field selectors each kind supports beyond metadata.name/namespace.
fn supported_fields(r: &ResourceInfo) -> &'static [&'static str] {
    match (r.group, r.kind) {
        ("", "Pod") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ],
        ("", "Event") | ("events.k8s.io", "Event") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
        ],
        ("", "Secret") => &["type"],
        ("", "Node") => &["spec.unschedulable"],
        ("", "Namespace") => &["status.phase"],
        ("", "Service") => &["spec.clusterIP", "spec.type"],
        ("", "ReplicationController") => &["status.replicas"],
        ("apps", "ReplicaSet") => &["status.replicas"],
        ("batch", "Job") => &["status.successful"],
        ("certificates.k8s.io", _) => &["spec.signerName"],
        _ => &[],
    }
}

/// Upstream's generateName suffix alphabet (no vowels, no confusable digits).
fn random_suffix() -> String {
    const ALPHA: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| ALPHA[rand::random::<u32>() as usize % ALPHA.len()] as char)
        .collect()
}

fn storage_err(e: StorageError) -> StatusError {
    match e {
        StorageError::Compacted { .. } => StatusError::expired(
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
        ),
        StorageError::FutureRevision(rv) => {
            StatusError::timeout(format!("Too large resource version: {rv}, current: unknown"))
        }
        other => StatusError::internal(other),
    }
}

/// A patch failure as upstream answers it: 400 for malformed patches, 422
/// when the patch cannot be applied, 413 for too many operations.
pub fn patch_error(e: patch::PatchError) -> StatusError {
    match e.code() {
        400 => StatusError::bad_request(e.to_string()),
        413 => StatusError::new(413, "RequestEntityTooLarge", e.to_string()),
        _ => {
            // Upstream answers a patch that cannot be applied with a generic
            // 422 whose message does not carry the patch error.
            debug!(error = %e, "patch rejected");
            StatusError::new(
                422,
                "Invalid",
                "the server rejected our request due to an error in our request",
            )
        }
    }
}

/// The `status` section of a Pod at creation (upstream resets it).
fn pod_qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| pod.pointer(&format!("/spec/{k}")).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        let req = c.pointer("/resources/requests").and_then(Value::as_object);
        let lim = c.pointer("/resources/limits").and_then(Value::as_object);
        for res in ["cpu", "memory"] {
            let r = req.and_then(|m| m.get(res));
            let l = lim.and_then(|m| m.get(res));
            if r.is_some() || l.is_some() {
                any = true;
            }
            match (r, l) {
                (_, None) => guaranteed = false,
                (Some(r), Some(l)) => {
                    let eq = match (
                        r.as_str()
                            .and_then(|s| apimachinery::quantity::Quantity::parse(s).ok()),
                        l.as_str()
                            .and_then(|s| apimachinery::quantity::Quantity::parse(s).ok()),
                    ) {
                        (Some(a), Some(b)) => a.milli_value() == b.milli_value(),
                        _ => r == l,
                    };
                    if !eq {
                        guaranteed = false;
                    }
                }
                (None, Some(_)) => {}
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed && !containers.is_empty() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Removes the fields at the given paths (`spec.foo`, `a.b[0].c`).
fn prune_paths(obj: &mut Value, paths: &[String]) {
    enum Seg {
        Key(String),
        Index(usize),
    }
    fn remove(cur: &mut Value, segs: &[Seg]) {
        match segs {
            [] => {}
            [Seg::Key(k)] => {
                if let Some(m) = cur.as_object_mut() {
                    m.remove(k);
                }
            }
            [first, rest @ ..] => {
                let next = match first {
                    Seg::Key(k) => cur.get_mut(k.as_str()),
                    Seg::Index(i) => cur.get_mut(*i),
                };
                if let Some(n) = next {
                    remove(n, rest);
                }
            }
        }
    }
    for p in paths {
        let mut segs = Vec::new();
        for part in p.split('.') {
            let (name, rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            segs.push(Seg::Key(name.to_string()));
            for idx in rest.split('[').filter(|s| !s.is_empty()) {
                if let Ok(n) = idx.trim_end_matches(']').parse() {
                    segs.push(Seg::Index(n));
                }
            }
        }
        remove(obj, &segs);
    }
}

fn alloc_invalid(
    r: &ResourceInfo,
    name: &str,
    field: &str,
    value: Value,
    e: AllocError,
    what: &str,
) -> StatusError {
    match e {
        AllocError::Storage(s) => StatusError::internal(s),
        AllocError::Full => StatusError::invalid(
            r.group,
            r.kind,
            name,
            vec![FieldError::invalid(
                field,
                &value,
                format!("failed to allocate a {what}: range is full"),
            )],
        ),
        other => {
            let detail = match (&value, what) {
                (Value::Array(a), _) if !a.is_empty() => {
                    format!(
                        "failed to allocate IP {}: {other}",
                        a[0].as_str().unwrap_or("")
                    )
                }
                _ => other.to_string(),
            };
            StatusError::invalid(
                r.group,
                r.kind,
                name,
                vec![FieldError::invalid(field, &value, detail)],
            )
        }
    }
}

struct NsLookup<'a>(&'a Registry);

#[async_trait]
impl admission::Lookup for NsLookup<'_> {
    async fn namespace(&self, name: &str) -> Result<Option<Value>, StatusError> {
        let r = apimachinery::catalogue::lookup("", "v1", "namespaces").expect("namespaces");
        match self.0.get_cached(r, "", name).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.code == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn priority_classes(&self) -> Result<Vec<Value>, StatusError> {
        let r = apimachinery::catalogue::lookup("scheduling.k8s.io", "v1", "priorityclasses")
            .expect("priorityclasses");
        Ok(self.0.list(r, "", &ListOptions::default()).await?.items)
    }

    async fn storage_classes(&self) -> Result<Vec<Value>, StatusError> {
        let r = apimachinery::catalogue::lookup("storage.k8s.io", "v1", "storageclasses")
            .expect("storageclasses");
        Ok(self.0.list(r, "", &ListOptions::default()).await?.items)
    }
}

impl Registry {
    pub fn new(
        store: Arc<dyn Store>,
        prefix: &str,
        allocators: ServiceAllocators,
        admission: admission::Chain,
        openapi: Arc<OnceLock<OpenApi>>,
    ) -> Self {
        Registry {
            store,
            prefix: prefix.trim_end_matches('/').to_string(),
            allocators,
            admission,
            openapi,
            cache: None,
            events: EventLeases {
                ttl: std::time::Duration::from_secs(3600),
                current: tokio::sync::Mutex::new(None),
            },
        }
    }

    /// How long Events live (`--event-ttl`; zero keeps them forever).
    pub fn with_event_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.events.ttl = ttl;
        self
    }

    /// The etcd lease a write of `r` attaches to (0 for none).
    async fn lease_for(&self, r: &ResourceInfo) -> Result<i64, StatusError> {
        if r.storage == "events" {
            self.events.lease(self.store.as_ref()).await
        } else {
            Ok(0)
        }
    }

    /// Serves reads from a watch cache over the same store and prefix.
    pub fn with_cache(mut self, cache: Arc<WatchCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// `<prefix>/<storage>/` or `<prefix>/<storage>/<ns>/`.
    pub fn collection_prefix(&self, r: &ResourceInfo, ns: &str) -> String {
        if r.namespaced && !ns.is_empty() {
            format!("{}/{}/{}/", self.prefix, r.storage, ns)
        } else {
            format!("{}/{}/", self.prefix, r.storage)
        }
    }

    pub fn key(&self, r: &ResourceInfo, ns: &str, name: &str) -> String {
        format!("{}{}", self.collection_prefix(r, ns), name)
    }

    /// Decodes a stored value into the served version of `r`.
    pub fn decode(&self, r: &ResourceInfo, kv: &KeyValue) -> Result<Value, StatusError> {
        let v: Value = serde_json::from_slice(&kv.value)
            .map_err(|e| StatusError::internal(format!("decoding {}: {e}", kv.key)))?;
        Ok(Self::decode_value(r, v, kv.mod_revision))
    }

    /// A stored object (already parsed) as served by `r` at `mod_revision`.
    pub fn decode_value(r: &ResourceInfo, v: Value, mod_revision: i64) -> Value {
        let mut v = crate::conversion::from_storage(r, v);
        if let Some(m) = v.as_object_mut() {
            // Rebuild with apiVersion and kind first, as upstream prints them.
            let mut out = Map::new();
            out.insert("apiVersion".into(), json!(r.api_version()));
            out.insert("kind".into(), json!(r.kind));
            for (k, val) in std::mem::take(m) {
                if k != "apiVersion" && k != "kind" {
                    out.insert(k, val);
                }
            }
            v = Value::Object(out);
        }
        meta::set_meta(&mut v, "resourceVersion", json!(mod_revision.to_string()));
        v
    }

    fn encode(r: &ResourceInfo, obj: &Value) -> Vec<u8> {
        let mut o = crate::conversion::to_storage(r, obj.clone());
        meta::remove_meta(&mut o, "resourceVersion");
        serde_json::to_vec(&o).unwrap_or_default()
    }

    /// A linearizable read: from the watch cache once it holds every write
    /// that completed before this call, otherwise from etcd.
    pub async fn get(&self, r: &ResourceInfo, ns: &str, name: &str) -> Result<Value, StatusError> {
        if let Some(cache) = &self.cache {
            if cache.wait_fresh().await {
                return match cache.get(&self.key(r, ns, name)) {
                    Some(c) => Ok(Self::decode_value(r, (*c.value).clone(), c.mod_revision)),
                    None => Err(StatusError::not_found(r.group, r.plural, name)),
                };
            }
        }
        self.get_from_store(r, ns, name).await
    }

    /// A possibly slightly stale read (upstream's informer-backed lookups):
    /// the cache when it has the object, else a linearizable read.
    pub async fn get_cached(
        &self,
        r: &ResourceInfo,
        ns: &str,
        name: &str,
    ) -> Result<Value, StatusError> {
        if let Some(cache) = self.cache.as_ref().filter(|c| c.is_ready()) {
            if let Some(c) = cache.get(&self.key(r, ns, name)) {
                return Ok(Self::decode_value(r, (*c.value).clone(), c.mod_revision));
            }
        }
        self.get(r, ns, name).await
    }

    async fn get_from_store(
        &self,
        r: &ResourceInfo,
        ns: &str,
        name: &str,
    ) -> Result<Value, StatusError> {
        match self
            .store
            .get(&self.key(r, ns, name))
            .await
            .map_err(storage_err)?
        {
            Some(kv) => self.decode(r, &kv),
            None => Err(StatusError::not_found(r.group, r.plural, name)),
        }
    }

    async fn get_kv(
        &self,
        r: &ResourceInfo,
        ns: &str,
        name: &str,
    ) -> Result<(Value, i64), StatusError> {
        match self
            .store
            .get(&self.key(r, ns, name))
            .await
            .map_err(storage_err)?
        {
            Some(kv) => Ok((self.decode(r, &kv)?, kv.mod_revision)),
            None => Err(StatusError::not_found(r.group, r.plural, name)),
        }
    }

    /// Parses and checks selectors for a resource.
    pub fn selectors(
        &self,
        r: &ResourceInfo,
        opts: &ListOptions,
    ) -> Result<Selectors, StatusError> {
        let labels = match opts.label_selector.as_deref() {
            None | Some("") => LabelSelector::everything(),
            Some(s) => LabelSelector::parse(s).map_err(|e| {
                StatusError::bad_request(format!("unable to parse requirement: {e}"))
            })?,
        };
        let fields = match opts.field_selector.as_deref() {
            None | Some("") => FieldSelector::everything(),
            Some(s) => FieldSelector::parse(s)
                .map_err(|e| StatusError::bad_request(format!("invalid field selector: {e}")))?,
        };
        let supported = supported_fields(r);
        for req in fields.requirements() {
            let f = req.field.as_str();
            if f != "metadata.name" && f != "metadata.namespace" && !supported.contains(&f) {
                // Kinds that register field-label conversions answer with
                // "field label not supported"; the rest fall back to the
                // metadata-only conversion's wording, as upstream.
                return Err(StatusError::bad_request(if supported.is_empty() {
                    format!("\"{f}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"")
                } else {
                    format!("field label not supported: {f}")
                }));
            }
        }
        Ok(Selectors { labels, fields })
    }

    /// Lists with selectors, paging over one consistent etcd revision.
    pub async fn list(
        &self,
        r: &ResourceInfo,
        ns: &str,
        opts: &ListOptions,
    ) -> Result<ListPage, StatusError> {
        let sel = self.selectors(r, opts)?;
        let prefix = self.collection_prefix(r, ns);
        let (mut revision, mut start) = (0i64, None::<String>);
        if let Some(tok) = opts.continue_token.as_deref().filter(|t| !t.is_empty()) {
            if opts
                .resource_version
                .as_deref()
                .is_some_and(|v| !v.is_empty() && v != "0")
            {
                return Err(StatusError::bad_request(
                    "specifying resource version is not allowed when using continue",
                ));
            }
            let (rv, s) = decode_continue(tok)?;
            revision = rv;
            start = Some(format!("{prefix}{s}"));
        } else if let Some(rv) = opts
            .resource_version
            .as_deref()
            .filter(|v| !v.is_empty() && *v != "0")
        {
            let n: i64 = rv
                .parse()
                .map_err(|_| StatusError::bad_request(format!("invalid resource version: {rv}")))?;
            match opts.resource_version_match.as_deref() {
                Some("Exact") => revision = n,
                Some("NotOlderThan") | None | Some("") => {
                    let cur = self.store.current_revision().await.map_err(storage_err)?;
                    if n > cur {
                        return Err(StatusError::timeout(format!(
                            "Too large resource version: {n}, current: {cur}"
                        )));
                    }
                }
                Some(other) => {
                    return Err(StatusError::bad_request(format!(
                        "unknown resourceVersionMatch {other}"
                    )))
                }
            }
        } else if opts.resource_version_match.as_deref() == Some("Exact") {
            return Err(StatusError::bad_request(
                "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"\"",
            ));
        }
        if let Some(page) = self
            .list_from_cache(r, ns, opts, &sel, revision, start.is_some())
            .await
        {
            return Ok(page);
        }
        // A name field selector narrows the read to one key.
        let by_name = sel.fields.single_value("metadata.name").map(str::to_string);
        let filtered = !sel.labels.is_empty() || !sel.fields.is_empty();
        let limit = opts.limit.max(0);
        let mut items = Vec::new();
        let mut last_key: Option<String> = None;
        let mut more_after = false;
        let mut remaining = None;
        loop {
            let page_limit = if limit > 0 {
                (limit - items.len() as i64).max(1)
            } else {
                0
            };
            let page = if let Some(n) = &by_name {
                if r.namespaced && ns.is_empty() {
                    self.store
                        .list(&prefix, start.as_deref(), page_limit, revision)
                        .await
                        .map_err(storage_err)?
                } else {
                    let key = format!("{prefix}{n}");
                    let mut p = self
                        .store
                        .list(&key, None, 0, revision)
                        .await
                        .map_err(storage_err)?;
                    p.items.retain(|kv| kv.key == key);
                    p.more = false;
                    p
                }
            } else {
                self.store
                    .list(&prefix, start.as_deref(), page_limit, revision)
                    .await
                    .map_err(storage_err)?
            };
            revision = page.revision;
            let n_items = page.items.len();
            let mut full = false;
            for (i, kv) in page.items.iter().enumerate() {
                let obj = self.decode(r, kv)?;
                if !sel.matches(r, &obj) {
                    continue;
                }
                items.push(obj);
                last_key = Some(kv.key.clone());
                if limit > 0 && items.len() as i64 >= limit {
                    let left_in_page = (n_items - (i + 1)) as i64;
                    more_after = left_in_page > 0 || page.more;
                    if !filtered && more_after {
                        remaining = Some(page.count + left_in_page);
                    }
                    full = true;
                    break;
                }
            }
            if full || !page.more || n_items == 0 {
                break;
            }
            let lk = page
                .items
                .last()
                .map(|kv| kv.key.clone())
                .unwrap_or_default();
            start = Some(format!("{lk}\u{0}"));
        }
        let continue_token = if more_after {
            let lk = last_key.unwrap_or_default();
            let rel = lk.strip_prefix(&prefix).unwrap_or(&lk).to_string();
            Some(encode_continue(revision, &format!("{rel}\u{0}")))
        } else {
            None
        };
        Ok(ListPage {
            items,
            resource_version: revision,
            continue_token,
            remaining: remaining.filter(|n| *n > 0),
        })
    }

    /// Serves an unpaginated list from the watch cache (upstream's
    /// consistent list from cache); `None` when it must go to etcd.
    async fn list_from_cache(
        &self,
        r: &ResourceInfo,
        ns: &str,
        opts: &ListOptions,
        sel: &Selectors,
        exact_revision: i64,
        continuing: bool,
    ) -> Option<ListPage> {
        let cache = self.cache.as_ref()?;
        if opts.limit > 0 || continuing || exact_revision > 0 {
            return None;
        }
        // resourceVersion=0 accepts any cached state; otherwise the cache
        // must first hold every write that completed before this call.
        let any = opts.resource_version.as_deref() == Some("0");
        if any {
            if !cache.is_ready() {
                return None;
            }
        } else if !cache.wait_fresh().await {
            return None;
        }
        let (items, revision) = cache.list(&self.collection_prefix(r, ns));
        let items = items
            .into_iter()
            .map(|(_, c)| Self::decode_value(r, (*c.value).clone(), c.mod_revision))
            .filter(|o| sel.matches(r, o))
            .collect();
        Some(ListPage {
            items,
            resource_version: revision,
            continue_token: None,
            remaining: None,
        })
    }

    /// Applies strict/warn field validation to a decoded body, pruning
    /// unknown fields as upstream's typed decoding does.
    fn check_fields(
        &self,
        r: &ResourceInfo,
        obj: &mut Value,
        ctx: &mut WriteCtx<'_>,
    ) -> Result<(), StatusError> {
        let unknown = match self.openapi.get() {
            Some(oa) => oa.unknown_fields(r.group, r.version, r.kind, obj),
            None => Vec::new(),
        };
        let mut problems: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        problems.extend(
            ctx.duplicates
                .iter()
                .map(|f| format!("duplicate field \"{f}\"")),
        );
        if !problems.is_empty() {
            match ctx.field_validation {
                FieldValidation::Strict => {
                    return Err(StatusError::bad_request(format!(
                        "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
                        r.kind,
                        r.version,
                        r.kind,
                        problems.join(", ")
                    )));
                }
                FieldValidation::Warn => ctx.warnings.extend(problems),
                FieldValidation::Ignore => {}
            }
        }
        prune_paths(obj, &unknown);
        Ok(())
    }

    fn check_type(r: &ResourceInfo, obj: &Value) -> Result<(), StatusError> {
        if !obj.is_object() {
            return Err(StatusError::bad_request(format!(
                "Object '{}' is missing in '{}'",
                "Kind", obj
            )));
        }
        if let Some(av) = obj.get("apiVersion").and_then(Value::as_str) {
            if av != r.api_version() {
                // Same group, other served version: upstream converts; we
                // accept objects of the same group and kind as-is.
                let (g, _) = apimachinery::catalogue::split_api_version(av);
                if g != r.group {
                    return Err(StatusError::bad_request(format!(
                        "the API version in the data ({av}) does not match the expected API version ({})",
                        r.api_version()
                    )));
                }
            }
        }
        if let Some(k) = obj.get("kind").and_then(Value::as_str) {
            if k != r.kind {
                return Err(StatusError::bad_request(
                    format!(
                        "the kind in the data ({k}) does not match the expected kind ({}) ",
                        r.kind
                    )
                    .trim_end()
                    .to_string(),
                ));
            }
        }
        Ok(())
    }

    fn check_namespace(r: &ResourceInfo, ns: &str, obj: &mut Value) -> Result<(), StatusError> {
        if r.namespaced {
            let body_ns = meta::namespace(obj).to_string();
            if body_ns.is_empty() {
                meta::set_meta(obj, "namespace", json!(ns));
            } else if body_ns != ns {
                return Err(StatusError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        } else {
            meta::remove_meta(obj, "namespace");
        }
        Ok(())
    }

    fn set_type(r: &ResourceInfo, obj: &mut Value) {
        if let Some(m) = obj.as_object_mut() {
            m.insert("apiVersion".into(), json!(r.api_version()));
            m.insert("kind".into(), json!(r.kind));
        }
    }

    /// Creates an object (POST).
    pub async fn create(
        &self,
        r: &ResourceInfo,
        ns: &str,
        mut obj: Value,
        ctx: &mut WriteCtx<'_>,
    ) -> Result<Value, StatusError> {
        Self::check_type(r, &obj)?;
        self.check_fields(r, &mut obj, ctx)?;
        Self::check_namespace(r, ns, &mut obj)?;
        Self::set_type(r, &mut obj);
        if meta::name(&obj).is_empty() {
            if let Some(g) = meta::meta_str(&obj, "generateName").map(str::to_string) {
                if !g.is_empty() {
                    meta::set_meta(&mut obj, "name", json!(format!("{g}{}", random_suffix())));
                }
            }
        }
        // Fields the server owns.
        for f in [
            "uid",
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            meta::remove_meta(&mut obj, f);
        }
        meta::set_meta(&mut obj, "uid", json!(uuid::Uuid::new_v4().to_string()));
        meta::set_meta(&mut obj, "creationTimestamp", json!(meta::now_rfc3339()));
        if tracks_generation(r) {
            meta::set_meta(&mut obj, "generation", json!(1));
        } else {
            meta::remove_meta(&mut obj, "generation");
        }
        self.prepare_for_create(r, &mut obj);
        defaults::apply_defaults(r.group, r.kind, &mut obj);
        let name = meta::name(&obj).to_string();
        let errs = validation::validate(r.group, r.kind, &obj, r.namespaced);
        if !errs.is_empty() {
            return Err(StatusError::invalid(r.group, r.kind, &name, errs));
        }
        let attrs = Attributes {
            operation: Operation::Create,
            group: r.group,
            version: r.version,
            resource: r.plural,
            subresource: "",
            namespace: ns,
            name: &name,
            kind: r.kind,
            user: ctx.user,
            dry_run: ctx.dry_run,
        };
        self.admission
            .run(&attrs, Some(&mut obj), &NsLookup(self))
            .await?;
        let key = self.key(r, ns, &name);
        if ctx.dry_run {
            if self.store.get(&key).await.map_err(storage_err)?.is_some() {
                return Err(StatusError::already_exists(r.group, r.plural, &name));
            }
            return Ok(obj);
        }
        let allocated = self.allocate_for_create(r, &mut obj).await?;
        let lease = self.lease_for(r).await?;
        match self
            .store
            .create_leased(&key, Self::encode(r, &obj), lease)
            .await
        {
            Ok(rev) => {
                meta::set_meta(&mut obj, "resourceVersion", json!(rev.to_string()));
                debug!(key, rev, "created");
                Ok(obj)
            }
            Err(e) => {
                self.release(&allocated).await;
                match e {
                    StorageError::AlreadyExists(_) => {
                        Err(StatusError::already_exists(r.group, r.plural, &name))
                    }
                    other => Err(storage_err(other)),
                }
            }
        }
    }

    fn prepare_for_create(&self, r: &ResourceInfo, obj: &mut Value) {
        // Go encodes an empty status struct as `{}`; clients see it on every
        // kind that has a status. Nodes keep theirs: a kubelet registers its
        // Node with capacity, conditions and addresses in one create, and
        // upstream's node strategy does not reset it.
        let keeps_status = r.group.is_empty() && r.kind == "Node" && obj.get("status").is_some();
        if r.has_subresource("status") && !keeps_status {
            let empty = if r.group.is_empty() && r.kind == "Service" {
                json!({"loadBalancer": {}})
            } else {
                json!({})
            };
            if let Some(m) = obj.as_object_mut() {
                m.insert("status".into(), empty);
            }
        }
        match (r.group, r.kind) {
            ("", "Pod") => {
                let qos = pod_qos_class(obj);
                let status = json!({"phase": "Pending", "qosClass": qos});
                obj["status"] = status;
            }
            ("", "Namespace") => {
                let name = meta::name(obj).to_string();
                let md = meta::metadata_mut(obj);
                let labels = md.entry("labels").or_insert_with(|| json!({}));
                if let Some(l) = labels.as_object_mut() {
                    l.insert("kubernetes.io/metadata.name".into(), json!(name));
                }
                obj["status"] = json!({"phase": "Active"});
            }
            _ => {}
        }
    }

    /// Allocates cluster IPs and node ports of a new Service; returns what
    /// was allocated so a failed write can release it.
    async fn allocate_for_create(
        &self,
        r: &ResourceInfo,
        obj: &mut Value,
    ) -> Result<Allocated, StatusError> {
        let mut got = Allocated::default();
        if !(r.group.is_empty() && r.kind == "Service") {
            return Ok(got);
        }
        let name = meta::name(obj).to_string();
        let ty = obj
            .pointer("/spec/type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP")
            .to_string();
        if ty != "ExternalName" {
            let requested = obj
                .pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            if requested.as_deref() != Some("None") {
                match self.allocators.allocate_ip(requested.as_deref()).await {
                    Ok(ip) => {
                        obj["spec"]["clusterIP"] = json!(ip);
                        obj["spec"]["clusterIPs"] = json!([ip]);
                        got.ip = Some(ip);
                    }
                    Err(e) => {
                        let v = json!([requested.unwrap_or_default()]);
                        return Err(alloc_invalid(r, &name, "spec.clusterIPs", v, e, "IP"));
                    }
                }
            } else {
                obj["spec"]["clusterIPs"] = json!(["None"]);
            }
        }
        if let Err(e) = self
            .allocate_node_ports(r, &name, obj, None, &mut got)
            .await
        {
            self.release(&got).await;
            return Err(e);
        }
        Ok(got)
    }

    /// Node ports for NodePort/LoadBalancer services; `old` keeps ports an
    /// update did not mention (as upstream does).
    async fn allocate_node_ports(
        &self,
        r: &ResourceInfo,
        name: &str,
        obj: &mut Value,
        old: Option<&Value>,
        got: &mut Allocated,
    ) -> Result<(), StatusError> {
        let ty = obj
            .pointer("/spec/type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP")
            .to_string();
        let needs = ty == "NodePort" || ty == "LoadBalancer";
        let old_ports: Vec<i64> = old
            .and_then(|o| o.pointer("/spec/ports"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
                    .collect()
            })
            .unwrap_or_default();
        let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) else {
            return Ok(());
        };
        for (i, p) in ports.iter_mut().enumerate() {
            if !needs {
                if let Some(m) = p.as_object_mut() {
                    m.remove("nodePort");
                }
                continue;
            }
            let want = p
                .get("nodePort")
                .and_then(Value::as_i64)
                .filter(|n| *n != 0);
            if let Some(n) = want {
                if old_ports.contains(&n) {
                    continue;
                }
            }
            // Keep the old port for the same port number when unspecified.
            if want.is_none() {
                if let Some(old) = old
                    .and_then(|o| o.pointer("/spec/ports"))
                    .and_then(Value::as_array)
                {
                    let pnum = p.get("port");
                    let proto = p.get("protocol");
                    if let Some(np) = old
                        .iter()
                        .find(|op| op.get("port") == pnum && op.get("protocol") == proto)
                        .and_then(|op| op.get("nodePort"))
                        .and_then(Value::as_i64)
                    {
                        p["nodePort"] = json!(np);
                        continue;
                    }
                }
            }
            match self.allocators.allocate_node_port(want).await {
                Ok(n) => {
                    p["nodePort"] = json!(n);
                    got.node_ports.push(n);
                }
                Err(e) => {
                    return Err(alloc_invalid(
                        r,
                        name,
                        &format!("spec.ports[{i}].nodePort"),
                        json!(want.unwrap_or(0)),
                        e,
                        "port",
                    ))
                }
            }
        }
        Ok(())
    }

    async fn release(&self, a: &Allocated) {
        if let Some(ip) = &a.ip {
            if let Err(e) = self.allocators.release_ip(ip).await {
                warn!(ip, error = %e, "releasing service IP");
            }
        }
        for p in &a.node_ports {
            if let Err(e) = self.allocators.release_node_port(*p).await {
                warn!(port = p, error = %e, "releasing node port");
            }
        }
    }

    /// Allocations held by a stored Service.
    fn held(obj: &Value) -> Allocated {
        let ip = obj
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && *s != "None")
            .map(str::to_string);
        let node_ports = obj
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
                    .collect()
            })
            .unwrap_or_default();
        Allocated { ip, node_ports }
    }

    /// Update (PUT) of the main resource or a subresource.
    pub async fn update(
        &self,
        r: &ResourceInfo,
        ns: &str,
        name: &str,
        subresource: &str,
        mut obj: Value,
        ctx: &mut WriteCtx<'_>,
    ) -> Result<(Value, bool), StatusError> {
        Self::check_type(r, &obj)?;
        self.check_fields(r, &mut obj, ctx)?;
        Self::check_namespace(r, ns, &mut obj)?;
        let body_name = meta::name(&obj).to_string();
        if body_name.is_empty() {
            meta::set_meta(&mut obj, "name", json!(name));
        } else if body_name != name {
            return Err(StatusError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let precondition = Some(meta::resource_version(&obj).to_string()).filter(|s| !s.is_empty());
        let new_obj = obj;
        self.guaranteed_update(r, ns, name, subresource, precondition, ctx, true, |_cur| {
            Ok(new_obj.clone())
        })
        .await
    }

    /// Patch of the main resource or a subresource.
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        r: &ResourceInfo,
        ns: &str,
        name: &str,
        subresource: &str,
        patch_type: &str,
        patch_body: &Value,
        ctx: &mut WriteCtx<'_>,
    ) -> Result<Value, StatusError> {
        let pt = patch_type.to_string();
        let kind = r.kind;
        let precondition = patch_body
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        let (v, _) = self
            .guaranteed_update(r, ns, name, subresource, precondition, ctx, false, |cur| {
                let mut base = cur.clone();
                meta::remove_meta(&mut base, "resourceVersion");
                let out = match pt.as_str() {
                    "application/json-patch+json" => patch::json_patch(&base, patch_body)
                        .map_err(patch_error)?,
                    "application/merge-patch+json" => {
                        if !patch_body.is_object() {
                            return Err(StatusError::bad_request("json: cannot unmarshal into Go value of type map[string]interface {}"));
                        }
                        patch::merge_patch(&base, patch_body)
                    }
                    "application/strategic-merge-patch+json" => {
                        if !patch_body.is_object() {
                            return Err(StatusError::bad_request("json: cannot unmarshal into Go value of type map[string]interface {}"));
                        }
                        patch::strategic_merge_patch(&base, patch_body, kind)
                            .map_err(patch_error)?
                    }
                    other => return Err(StatusError::unsupported_media_type(other)),
                };
                let mut out = out;
                if let Some(rv) = cur.pointer("/metadata/resourceVersion").cloned() {
                    if out.pointer("/metadata/resourceVersion").is_none() {
                        meta::set_meta(&mut out, "resourceVersion", rv);
                    }
                }
                Ok(out)
            })
            .await?;
        Ok(v)
    }

    /// Read-modify-write with compare-and-swap; retries on conflicts unless
    /// the client gave a resourceVersion precondition.
    #[allow(clippy::too_many_arguments)]
    async fn guaranteed_update<F>(
        &self,
        r: &ResourceInfo,
        ns: &str,
        name: &str,
        subresource: &str,
        precondition: Option<String>,
        ctx: &mut WriteCtx<'_>,
        is_put: bool,
        mut mutate: F,
    ) -> Result<(Value, bool), StatusError>
    where
        F: FnMut(&Value) -> Result<Value, StatusError>,
    {
        let key = self.key(r, ns, name);
        for _attempt in 0..16 {
            let current = self.store.get(&key).await.map_err(storage_err)?;
            let Some(kv) = current else {
                if is_put && subresource.is_empty() && allow_create_on_update(r) {
                    let obj = mutate(&Value::Null)?;
                    return self.create(r, ns, obj, ctx).await.map(|v| (v, true));
                }
                return Err(StatusError::not_found(r.group, r.plural, name));
            };
            let old = self.decode(r, &kv)?;
            if let Some(rv) = &precondition {
                if rv != &kv.mod_revision.to_string() {
                    return Err(StatusError::stale(r.group, r.plural, name));
                }
            }
            let mut new = mutate(&old)?;
            if !is_put {
                Self::check_type(r, &new)?;
                self.check_fields(r, &mut new, ctx)?;
            }
            Self::set_type(r, &mut new);
            new = self.prepare_for_update(r, subresource, new, &old)?;
            if !subresource.is_empty()
                && subresource != "status"
                && subresource != "finalize"
                && subresource != "approval"
            {
                return Err(StatusError::method_not_allowed());
            }
            defaults::apply_defaults(r.group, r.kind, &mut new);
            let errs = validation::validate_update(r.group, r.kind, &new, &old, r.namespaced);
            if !errs.is_empty() {
                return Err(StatusError::invalid(r.group, r.kind, name, errs));
            }
            let attrs = Attributes {
                operation: Operation::Update,
                group: r.group,
                version: r.version,
                resource: r.plural,
                subresource,
                namespace: ns,
                name,
                kind: r.kind,
                user: ctx.user,
                dry_run: ctx.dry_run,
            };
            self.admission
                .run(&attrs, Some(&mut new), &NsLookup(self))
                .await?;
            // Service allocations follow type changes.
            let mut allocated = Allocated::default();
            if r.group.is_empty() && r.kind == "Service" && !ctx.dry_run {
                self.allocate_node_ports(r, name, &mut new, Some(&old), &mut allocated)
                    .await?;
            }
            // An update that changes nothing is not written (the
            // resourceVersion stays), as upstream.
            let mut cmp_old = old.clone();
            meta::remove_meta(&mut cmp_old, "resourceVersion");
            let mut cmp_new = new.clone();
            meta::remove_meta(&mut cmp_new, "resourceVersion");
            if cmp_old == cmp_new {
                return Ok((old, false));
            }
            // Finalizers emptied on a deleting object: delete it now.
            let deleting = new
                .pointer("/metadata/deletionTimestamp")
                .is_some_and(|v| !v.is_null());
            if deleting && meta::finalizers(&new).is_empty() && self.finalizers_done(r, &new) {
                if ctx.dry_run {
                    return Ok((new, false));
                }
                match self.store.delete(&key, kv.mod_revision).await {
                    Ok(_) => {
                        self.release(&Self::held(&old)).await;
                        return Ok((new, false));
                    }
                    Err(StorageError::Conflict { .. }) if precondition.is_none() => continue,
                    Err(StorageError::Conflict { .. }) | Err(StorageError::NotFound(_)) => {
                        return Err(StatusError::stale(r.group, r.plural, name))
                    }
                    Err(e) => return Err(storage_err(e)),
                }
            }
            if ctx.dry_run {
                return Ok((new, false));
            }
            let lease = self.lease_for(r).await?;
            match self
                .store
                .update_leased(&key, Self::encode(r, &new), kv.mod_revision, lease)
                .await
            {
                Ok(rev) => {
                    meta::set_meta(&mut new, "resourceVersion", json!(rev.to_string()));
                    // Release node ports the update dropped.
                    let before = Self::held(&old);
                    let after = Self::held(&new);
                    let dropped = Allocated {
                        ip: None,
                        node_ports: before
                            .node_ports
                            .into_iter()
                            .filter(|p| !after.node_ports.contains(p))
                            .collect(),
                    };
                    self.release(&dropped).await;
                    return Ok((new, false));
                }
                Err(StorageError::Conflict { .. }) if precondition.is_none() => {
                    self.release(&allocated).await;
                    continue;
                }
                Err(StorageError::Conflict { .. }) => {
                    self.release(&allocated).await;
                    return Err(StatusError::stale(r.group, r.plural, name));
                }
                Err(StorageError::NotFound(_)) => {
                    self.release(&allocated).await;
                    return Err(StatusError::not_found(r.group, r.plural, name));
                }
                Err(e) => {
                    self.release(&allocated).await;
                    return Err(storage_err(e));
                }
            }
        }
        Err(StatusError::stale(r.group, r.plural, name))
    }

    /// Namespaces additionally wait for `spec.finalizers`.
    fn finalizers_done(&self, r: &ResourceInfo, obj: &Value) -> bool {
        if r.group.is_empty() && r.kind == "Namespace" {
            return obj
                .pointer("/spec/finalizers")
                .and_then(Value::as_array)
                .is_none_or(|a| a.is_empty());
        }
        true
    }

    /// Carries server-owned fields over and splits spec from status.
    fn prepare_for_update(
        &self,
        r: &ResourceInfo,
        sub: &str,
        mut new: Value,
        old: &Value,
    ) -> Result<Value, StatusError> {
        let name = meta::name(old).to_string();
        if let Some(uid) = meta::meta_str(&new, "uid").filter(|u| !u.is_empty()) {
            if uid != meta::uid(old) {
                return Err(StatusError::conflict(
                    r.group,
                    r.plural,
                    &name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        meta::uid(old)
                    ),
                ));
            }
        }
        match sub {
            "status" => {
                // The status subresource changes only status.
                let mut out = old.clone();
                match new.get("status") {
                    Some(s) => out["status"] = s.clone(),
                    None => {
                        out.as_object_mut().map(|m| m.remove("status"));
                    }
                }
                if r.kind == "Pod" || r.kind == "Node" {
                    // Status writers (kubelet) may also set labels and annotations.
                    for f in ["labels", "annotations"] {
                        if let Some(v) = new.pointer(&format!("/metadata/{f}")) {
                            meta::set_meta(&mut out, f, v.clone());
                        }
                    }
                }
                return Ok(out);
            }
            "approval" => {
                // CSR approval changes only status.conditions.
                let mut out = old.clone();
                match new.pointer("/status/conditions") {
                    Some(c) => out["status"]["conditions"] = c.clone(),
                    None => {
                        if let Some(st) = out.get_mut("status").and_then(Value::as_object_mut) {
                            st.remove("conditions");
                        }
                    }
                }
                return Ok(out);
            }
            "finalize" => {
                let mut out = old.clone();
                out["spec"]["finalizers"] = new
                    .pointer("/spec/finalizers")
                    .cloned()
                    .unwrap_or_else(|| json!([]));
                return Ok(out);
            }
            _ => {}
        }
        for f in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match old.pointer(&format!("/metadata/{f}")) {
                Some(v) => meta::set_meta(&mut new, f, v.clone()),
                None => {
                    meta::remove_meta(&mut new, f);
                }
            }
        }
        if r.has_subresource("status") {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    new.as_object_mut().map(|m| m.remove("status"));
                }
            }
        }
        if r.group.is_empty() && r.kind == "Namespace" {
            // Namespace spec.finalizers change only through /finalize.
            if let Some(f) = old.pointer("/spec/finalizers") {
                new["spec"]["finalizers"] = f.clone();
            }
            let name = meta::name(&new).to_string();
            let md = meta::metadata_mut(&mut new);
            let labels = md.entry("labels").or_insert_with(|| json!({}));
            if let Some(l) = labels.as_object_mut() {
                l.insert("kubernetes.io/metadata.name".into(), json!(name));
            }
        }
        if r.group.is_empty() && r.kind == "Service" {
            // An update without clusterIP keeps the allocated one.
            let new_ip = new
                .pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .unwrap_or("");
            if new_ip.is_empty() {
                if let Some(ip) = old.pointer("/spec/clusterIP").cloned() {
                    new["spec"]["clusterIP"] = ip;
                }
                if let Some(ips) = old.pointer("/spec/clusterIPs").cloned() {
                    new["spec"]["clusterIPs"] = ips;
                }
            }
        }
        if tracks_generation(r) {
            let spec_changed = new.get("spec") != old.get("spec");
            let g = meta::generation(old).max(1);
            meta::set_meta(
                &mut new,
                "generation",
                json!(if spec_changed { g + 1 } else { g }),
            );
        }
        Ok(new)
    }

    /// Delete of one object. Returns the object and whether it is gone.
    pub async fn delete(
        &self,
        r: &ResourceInfo,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
        ctx: &mut WriteCtx<'_>,
    ) -> Result<(Value, bool), StatusError> {
        let key = self.key(r, ns, name);
        for _attempt in 0..16 {
            let (obj, rev) = self.get_kv(r, ns, name).await?;
            if let Some(uid) = &opts.precondition_uid {
                if uid != meta::uid(&obj) {
                    return Err(StatusError::conflict(
                        r.group,
                        r.plural,
                        name,
                        &format!(
                            "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                            meta::uid(&obj)
                        ),
                    ));
                }
            }
            if let Some(rv) = &opts.precondition_rv {
                if rv != &rev.to_string() {
                    return Err(StatusError::conflict(
                        r.group,
                        r.plural,
                        name,
                        &format!(
                            "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {rev}"
                        ),
                    ));
                }
            }
            let attrs = Attributes {
                operation: Operation::Delete,
                group: r.group,
                version: r.version,
                resource: r.plural,
                subresource: "",
                namespace: ns,
                name,
                kind: r.kind,
                user: ctx.user,
                dry_run: ctx.dry_run,
            };
            self.admission.run(&attrs, None, &NsLookup(self)).await?;

            let mut updated = obj.clone();
            let mut graceful = false;
            let already = obj
                .pointer("/metadata/deletionTimestamp")
                .is_some_and(|v| !v.is_null());
            // Propagation finalizers.
            let mut fins = meta::finalizers(&updated);
            match opts.propagation_policy.as_deref() {
                Some("Foreground") if !fins.iter().any(|f| f == "foregroundDeletion") => {
                    fins.push("foregroundDeletion".into());
                }
                Some("Orphan") if !fins.iter().any(|f| f == "orphan") => fins.push("orphan".into()),
                _ => {}
            }
            if fins != meta::finalizers(&obj) {
                meta::set_meta(&mut updated, "finalizers", json!(fins));
            }
            let now = chrono::Utc::now();
            if r.group.is_empty() && r.kind == "Pod" {
                let phase = obj
                    .pointer("/status/phase")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let bound = obj
                    .pointer("/spec/nodeName")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty());
                let mut grace = opts
                    .grace_period_seconds
                    .or_else(|| {
                        obj.pointer("/spec/terminationGracePeriodSeconds")
                            .and_then(Value::as_i64)
                    })
                    .unwrap_or(30);
                if !bound || phase == "Succeeded" || phase == "Failed" {
                    grace = 0;
                }
                let cur_grace = obj
                    .pointer("/metadata/deletionGracePeriodSeconds")
                    .and_then(Value::as_i64);
                // A pod already terminating may only shorten its grace period.
                if grace > 0 && (!already || cur_grace.is_none_or(|g| grace < g)) {
                    let ts = (now + chrono::Duration::seconds(grace))
                        .format("%Y-%m-%dT%H:%M:%SZ")
                        .to_string();
                    meta::set_meta(&mut updated, "deletionTimestamp", json!(ts));
                    meta::set_meta(&mut updated, "deletionGracePeriodSeconds", json!(grace));
                    graceful = true;
                } else if grace > 0 && already {
                    graceful = true;
                } else if !fins.is_empty() {
                    if !already {
                        meta::set_meta(
                            &mut updated,
                            "deletionTimestamp",
                            json!(meta::now_rfc3339()),
                        );
                    }
                    meta::set_meta(&mut updated, "deletionGracePeriodSeconds", json!(0));
                }
            } else if r.group.is_empty() && r.kind == "Namespace" {
                let spec_fins = obj
                    .pointer("/spec/finalizers")
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty());
                if spec_fins || !fins.is_empty() {
                    if !already {
                        meta::set_meta(
                            &mut updated,
                            "deletionTimestamp",
                            json!(meta::now_rfc3339()),
                        );
                        meta::set_meta(&mut updated, "deletionGracePeriodSeconds", json!(0));
                    }
                    updated["status"]["phase"] = json!("Terminating");
                    graceful = true;
                }
            } else if !fins.is_empty() && !already {
                meta::set_meta(
                    &mut updated,
                    "deletionTimestamp",
                    json!(meta::now_rfc3339()),
                );
                meta::set_meta(&mut updated, "deletionGracePeriodSeconds", json!(0));
                if tracks_generation(r) {
                    let g = meta::generation(&updated);
                    meta::set_meta(&mut updated, "generation", json!(g + 1));
                }
            }
            let keep = graceful || !fins.is_empty();
            if keep {
                if updated == obj {
                    return Ok((obj, false));
                }
                if ctx.dry_run {
                    return Ok((updated, false));
                }
                match self
                    .store
                    .update(&key, Self::encode(r, &updated), rev)
                    .await
                {
                    Ok(new_rev) => {
                        meta::set_meta(&mut updated, "resourceVersion", json!(new_rev.to_string()));
                        return Ok((updated, false));
                    }
                    Err(StorageError::Conflict { .. }) => continue,
                    Err(StorageError::NotFound(_)) => {
                        return Err(StatusError::not_found(r.group, r.plural, name))
                    }
                    Err(e) => return Err(storage_err(e)),
                }
            }
            if ctx.dry_run {
                return Ok((obj, true));
            }
            match self.store.delete(&key, rev).await {
                Ok(_) => {
                    if r.group.is_empty() && r.kind == "Service" {
                        self.release(&Self::held(&obj)).await;
                    }
                    return Ok((obj, true));
                }
                Err(StorageError::Conflict { .. }) => continue,
                Err(StorageError::NotFound(_)) => {
                    return Err(StatusError::not_found(r.group, r.plural, name))
                }
                Err(e) => return Err(storage_err(e)),
            }
        }
        Err(StatusError::stale(r.group, r.plural, name))
    }

    /// `pods/binding` and `bindings`: assigns a pod to a node.
    pub async fn bind(
        &self,
        ns: &str,
        pod_name: &str,
        binding: &Value,
        ctx: &mut WriteCtx<'_>,
    ) -> Result<(), StatusError> {
        let pods = apimachinery::catalogue::lookup("", "v1", "pods").expect("pods");
        let node = binding
            .pointer("/target/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if node.is_empty() {
            return Err(StatusError::invalid(
                "",
                "Binding",
                pod_name,
                vec![FieldError::required("target.name", "")],
            ));
        }
        let key = self.key(pods, ns, pod_name);
        for _ in 0..16 {
            let (mut pod, rev) = self.get_kv(pods, ns, pod_name).await?;
            if pod
                .pointer("/metadata/deletionTimestamp")
                .is_some_and(|v| !v.is_null())
            {
                return Err(StatusError::conflict(
                    "",
                    "pods",
                    pod_name,
                    "pod is being deleted, cannot be assigned to a host",
                ));
            }
            if let Some(cur) = pod
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            {
                return Err(StatusError::conflict(
                    "",
                    "pods",
                    pod_name,
                    &format!("pod {pod_name} is already assigned to node \"{cur}\""),
                ));
            }
            pod["spec"]["nodeName"] = json!(node);
            let conds = pod["status"]
                .as_object_mut()
                .map(|s| s.entry("conditions").or_insert_with(|| json!([])));
            if let Some(Value::Array(c)) = conds {
                c.retain(|x| x.get("type").and_then(Value::as_str) != Some("PodScheduled"));
                c.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": meta::now_rfc3339()}));
            }
            if ctx.dry_run {
                return Ok(());
            }
            match self.store.update(&key, Self::encode(pods, &pod), rev).await {
                Ok(_) => return Ok(()),
                Err(StorageError::Conflict { .. }) => continue,
                Err(e) => return Err(storage_err(e)),
            }
        }
        Err(StatusError::stale("", "pods", pod_name))
    }

    /// `pods/eviction`: deletes a pod unless a PodDisruptionBudget covering
    /// it allows no disruption (429, as upstream), recording the disruption
    /// in the budget's status first.
    pub async fn eviction_allowed(
        &self,
        ns: &str,
        pod: &Value,
        ctx: &mut WriteCtx<'_>,
    ) -> Result<(), StatusError> {
        let pdbs =
            apimachinery::catalogue::lookup("policy", "v1", "poddisruptionbudgets").expect("pdbs");
        let labels = meta::labels(pod);
        let pod_name = meta::name(pod).to_string();
        let page = self.list(pdbs, ns, &ListOptions::default()).await?;
        let matching: Vec<Value> = page
            .items
            .into_iter()
            .filter(|b| {
                b.pointer("/spec/selector")
                    .and_then(|s| LabelSelector::from_json(s).ok())
                    .is_some_and(|s| !s.is_empty() && s.matches(&labels))
            })
            .collect();
        if matching.len() > 1 {
            return Err(StatusError::internal(
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ));
        }
        let Some(pdb) = matching.into_iter().next() else {
            return Ok(());
        };
        // A pod that is not running does not count against the budget.
        let phase = pod
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("");
        if phase == "Succeeded" || phase == "Failed" || phase == "Pending" {
            return Ok(());
        }
        let pdb_name = meta::name(&pdb).to_string();
        let too_many = |why: String| {
            let mut e = StatusError::too_many_requests();
            e.message = "Cannot evict pod as it would violate the pod's disruption budget.".into();
            e.causes.push(apimachinery::status::Cause {
                reason: "DisruptionBudget".into(),
                message: why,
                field: String::new(),
            });
            e
        };
        let observed = pdb
            .pointer("/status/observedGeneration")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if observed < meta::generation(&pdb) {
            return Err(too_many(format!(
                "The disruption budget {pdb_name} is still being processed by the server."
            )));
        }
        let allowed = pdb
            .pointer("/status/disruptionsAllowed")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if allowed <= 0 {
            let desired = pdb
                .pointer("/status/desiredHealthy")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let current = pdb
                .pointer("/status/currentHealthy")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            return Err(too_many(format!(
                "The disruption budget {pdb_name} needs {desired} healthy pods and has {current} currently"
            )));
        }
        if ctx.dry_run {
            return Ok(());
        }
        let mut updated = pdb.clone();
        updated["status"]["disruptionsAllowed"] = json!(allowed - 1);
        let disrupted = updated["status"]
            .as_object_mut()
            .map(|s| s.entry("disruptedPods").or_insert_with(|| json!({})));
        if let Some(Value::Object(m)) = disrupted {
            m.insert(pod_name, json!(meta::now_rfc3339()));
        }
        let key = self.key(pdbs, ns, &pdb_name);
        let rev: i64 = meta::resource_version(&pdb).parse().unwrap_or(0);
        match self
            .store
            .update(&key, Self::encode(pdbs, &updated), rev)
            .await
        {
            Ok(_) => Ok(()),
            Err(StorageError::Conflict { .. }) => Err(StatusError::stale(
                "policy",
                "poddisruptionbudgets",
                &pdb_name,
            )),
            Err(e) => Err(storage_err(e)),
        }
    }

    /// Evicts a pod: the budget check, then a delete with the eviction's
    /// `deleteOptions`.
    pub async fn evict(
        &self,
        ns: &str,
        name: &str,
        eviction: &Value,
        ctx: &mut WriteCtx<'_>,
    ) -> Result<(), StatusError> {
        let pods = apimachinery::catalogue::lookup("", "v1", "pods").expect("pods");
        let pod = self.get(pods, ns, name).await?;
        let terminating = pod
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|v| !v.is_null());
        if !terminating {
            self.eviction_allowed(ns, &pod, ctx).await?;
        }
        let opts = DeleteOptions::default()
            .from_body(eviction.get("deleteOptions").unwrap_or(&json!({})))?;
        self.delete(pods, ns, name, &opts, ctx).await.map(|_| ())
    }

    /// The `Scale` view of a workload.
    pub fn to_scale(r: &ResourceInfo, obj: &Value) -> Value {
        let selector = obj.pointer("/spec/selector").map(|s| {
            if r.kind == "ReplicationController" {
                // RC selectors are plain maps.
                s.as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default()
            } else {
                LabelSelector::from_json(s)
                    .map(|l| l.to_string())
                    .unwrap_or_default()
            }
        });
        let mut md = Map::new();
        for f in [
            "name",
            "namespace",
            "uid",
            "resourceVersion",
            "creationTimestamp",
        ] {
            if let Some(v) = obj.pointer(&format!("/metadata/{f}")) {
                md.insert(f.into(), v.clone());
            }
        }
        let mut status = json!({"replicas": obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0)});
        if let Some(s) = selector.filter(|s| !s.is_empty()) {
            status["selector"] = json!(s);
        }
        json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": md,
            "spec": {"replicas": obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0)},
            "status": status,
        })
    }

    /// Updates `spec.replicas` through the scale subresource; `patch_fn`
    /// turns the current Scale into the desired Scale.
    pub async fn update_scale<F>(
        &self,
        r: &ResourceInfo,
        ns: &str,
        name: &str,
        ctx: &mut WriteCtx<'_>,
        mut desired: F,
    ) -> Result<Value, StatusError>
    where
        F: FnMut(&Value) -> Result<Value, StatusError>,
    {
        let key = self.key(r, ns, name);
        for _ in 0..16 {
            let (obj, rev) = self.get_kv(r, ns, name).await?;
            let scale = Self::to_scale(r, &obj);
            let want = desired(&scale)?;
            if let Some(rv) = want
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
            {
                if !rv.is_empty() && rv != rev.to_string() {
                    return Err(StatusError::stale(r.group, r.plural, name));
                }
            }
            let replicas = match want.pointer("/spec/replicas") {
                Some(v) => v
                    .as_i64()
                    .ok_or_else(|| StatusError::bad_request("spec.replicas must be an integer"))?,
                None => 0,
            };
            if replicas < 0 {
                return Err(StatusError::invalid(
                    "autoscaling",
                    "Scale",
                    name,
                    vec![FieldError::invalid(
                        "spec.replicas",
                        &json!(replicas),
                        "must be greater than or equal to 0",
                    )],
                ));
            }
            let mut new = obj.clone();
            new["spec"]["replicas"] = json!(replicas);
            if new == obj {
                return Ok(scale);
            }
            if tracks_generation(r) {
                let g = meta::generation(&obj).max(1);
                meta::set_meta(&mut new, "generation", json!(g + 1));
            }
            if ctx.dry_run {
                return Ok(Self::to_scale(r, &new));
            }
            match self.store.update(&key, Self::encode(r, &new), rev).await {
                Ok(new_rev) => {
                    meta::set_meta(&mut new, "resourceVersion", json!(new_rev.to_string()));
                    return Ok(Self::to_scale(r, &new));
                }
                Err(StorageError::Conflict { .. }) => continue,
                Err(e) => return Err(storage_err(e)),
            }
        }
        Err(StatusError::stale(r.group, r.plural, name))
    }

    /// Creates an object if missing (used for bootstrap objects).
    pub async fn ensure(
        &self,
        r: &ResourceInfo,
        ns: &str,
        obj: Value,
        user: &UserInfo,
    ) -> Result<(), StatusError> {
        let name = meta::name(&obj).to_string();
        match self.get(r, ns, &name).await {
            Ok(_) => Ok(()),
            Err(e) if e.code == 404 => {
                let mut ctx = WriteCtx {
                    user,
                    dry_run: false,
                    field_validation: FieldValidation::Ignore,
                    duplicates: Vec::new(),
                    warnings: Vec::new(),
                };
                match self.create(r, ns, obj, &mut ctx).await {
                    Ok(_) => Ok(()),
                    Err(e) if e.code == 409 => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}

/// What a Service holds in the allocators.
#[derive(Debug, Default)]
struct Allocated {
    ip: Option<String>,
    node_ports: Vec<i64>,
}

/// Upstream's continue token: base64url of
/// `{"v":"meta.k8s.io/v1","rv":<rev>,"start":"<key>"}`.
pub fn encode_continue(rev: i64, start: &str) -> String {
    let body = json!({"v": "meta.k8s.io/v1", "rv": rev, "start": start});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body.to_string())
}

pub fn decode_continue(tok: &str) -> Result<(i64, String), StatusError> {
    let bad = || {
        StatusError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(tok.trim_end_matches('='))
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if v["v"] != "meta.k8s.io/v1" {
        return Err(bad());
    }
    let rv = v["rv"].as_i64().filter(|r| *r > 0).ok_or_else(bad)?;
    let start = v["start"].as_str().ok_or_else(bad)?.to_string();
    if start.contains('/') && start.starts_with('/') {
        return Err(bad());
    }
    Ok((rv, start))
}

/// Labels map of a JSON object (for callers outside the registry).
pub fn labels_of(obj: &Value) -> BTreeMap<String, String> {
    meta::labels(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_roundtrip() {
        let t = encode_continue(42, "web-1\u{0}");
        assert_eq!(decode_continue(&t).unwrap(), (42, "web-1\u{0}".to_string()));
        assert!(decode_continue("garbage!").is_err());
    }

    #[test]
    fn prune() {
        let mut v = json!({"spec": {"a": 1, "foo": 2, "l": [{"x": 1, "bad": 2}]}});
        prune_paths(&mut v, &["spec.foo".into(), "spec.l[0].bad".into()]);
        assert_eq!(v, json!({"spec": {"a": 1, "l": [{"x": 1}]}}));
    }

    #[test]
    fn qos() {
        assert_eq!(
            pod_qos_class(&json!({"spec": {"containers": [{"name": "a"}]}})),
            "BestEffort"
        );
        assert_eq!(
            pod_qos_class(
                &json!({"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}}]}})
            ),
            "Guaranteed"
        );
        assert_eq!(
            pod_qos_class(
                &json!({"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}]}})
            ),
            "Burstable"
        );
    }
}
