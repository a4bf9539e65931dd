//! The API objects pods refer to (ConfigMaps, Secrets, PVCs, PVs,
//! ServiceAccount tokens), behind the [`Objects`] seam: [`KubeObjects`]
//! reads them from the apiserver, [`CachedObjects`] keeps each answer for a
//! while (upstream's TTL-based configmap/secret manager), and
//! [`FakeObjects`] serves them from memory in unit tests.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolume, PersistentVolumeClaim, Secret, ServiceAccount,
};
use kube::api::{Api, PostParams};
use kube::Client;

/// How long [`CachedObjects`] trusts an answer: an edited ConfigMap shows
/// up in running pods within this plus the volume refresh period.
pub const OBJECT_TTL: Duration = Duration::from_secs(15);

/// Why an object could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The apiserver refused or failed the request.
    #[error("{what}: {source}")]
    Api {
        /// What was asked for (`configmap ns/name`).
        what: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
}

/// A bound ServiceAccount token request (`serviceaccounts/<sa>/token`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenSpec {
    /// The pod's namespace.
    pub namespace: String,
    /// The ServiceAccount.
    pub service_account: String,
    /// The audience; empty: the apiserver's.
    pub audience: String,
    /// Requested lifetime in seconds.
    pub expiration_seconds: i64,
    /// The pod the token is bound to.
    pub pod_name: String,
    /// Its uid.
    pub pod_uid: String,
}

/// The answer to a token request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// The token and when it expires.
    Issued {
        /// The JWT.
        token: String,
        /// Its lifetime as granted.
        expires_in: Duration,
    },
    /// The apiserver does not serve the TokenRequest API.
    Unsupported(String),
}

/// Reads the objects a pod's volumes and env refer to. `Ok(None)`: the
/// object does not exist.
#[async_trait]
pub trait Objects: Send + Sync {
    /// A ConfigMap.
    async fn config_map(&self, ns: &str, name: &str) -> Result<Option<ConfigMap>, ObjectError>;
    /// A Secret.
    async fn secret(&self, ns: &str, name: &str) -> Result<Option<Secret>, ObjectError>;
    /// A PersistentVolumeClaim.
    async fn pvc(&self, ns: &str, name: &str)
        -> Result<Option<PersistentVolumeClaim>, ObjectError>;
    /// A PersistentVolume.
    async fn pv(&self, name: &str) -> Result<Option<PersistentVolume>, ObjectError>;
    /// A bound ServiceAccount token; `Ok(None)`: the ServiceAccount does
    /// not exist.
    async fn token(&self, spec: &TokenSpec) -> Result<Option<Token>, ObjectError>;
}

/// [`Objects`] over the apiserver, one GET per call.
#[derive(Clone)]
pub struct KubeObjects {
    client: Client,
}

impl KubeObjects {
    /// Reads through `client`.
    pub fn new(client: Client) -> Self {
        KubeObjects { client }
    }
}

fn api_err(what: String) -> impl FnOnce(kube::Error) -> ObjectError {
    move |source| ObjectError::Api { what, source }
}

#[async_trait]
impl Objects for KubeObjects {
    async fn config_map(&self, ns: &str, name: &str) -> Result<Option<ConfigMap>, ObjectError> {
        Api::<ConfigMap>::namespaced(self.client.clone(), ns)
            .get_opt(name)
            .await
            .map_err(api_err(format!("getting configmap {ns}/{name}")))
    }
    async fn secret(&self, ns: &str, name: &str) -> Result<Option<Secret>, ObjectError> {
        Api::<Secret>::namespaced(self.client.clone(), ns)
            .get_opt(name)
            .await
            .map_err(api_err(format!("getting secret {ns}/{name}")))
    }
    async fn pvc(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<Option<PersistentVolumeClaim>, ObjectError> {
        Api::<PersistentVolumeClaim>::namespaced(self.client.clone(), ns)
            .get_opt(name)
            .await
            .map_err(api_err(format!(
                "getting persistentvolumeclaim {ns}/{name}"
            )))
    }
    async fn pv(&self, name: &str) -> Result<Option<PersistentVolume>, ObjectError> {
        Api::<PersistentVolume>::all(self.client.clone())
            .get_opt(name)
            .await
            .map_err(api_err(format!("getting persistentvolume {name}")))
    }
    async fn token(&self, spec: &TokenSpec) -> Result<Option<Token>, ObjectError> {
        let api = Api::<ServiceAccount>::namespaced(self.client.clone(), &spec.namespace);
        let req = TokenRequest {
            spec: TokenRequestSpec {
                audiences: if spec.audience.is_empty() {
                    Vec::new()
                } else {
                    vec![spec.audience.clone()]
                },
                expiration_seconds: Some(spec.expiration_seconds),
                bound_object_ref: Some(BoundObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("Pod".into()),
                    name: Some(spec.pod_name.clone()),
                    uid: Some(spec.pod_uid.clone()),
                }),
            },
            ..Default::default()
        };
        let res: Result<TokenRequest, kube::Error> = api
            .create_subresource("token", &spec.service_account, &PostParams::default(), &req)
            .await;
        match res {
            Ok(tr) => {
                let Some(st) = tr.status else {
                    return Ok(Some(Token::Unsupported(
                        "the TokenRequest answer has no status".into(),
                    )));
                };
                let expires_in = Duration::from_secs(
                    (st.expiration_timestamp.0.as_second()
                        - k8s_openapi::jiff::Timestamp::now().as_second())
                    .max(0) as u64,
                );
                Ok(Some(Token::Issued {
                    token: st.token,
                    expires_in,
                }))
            }
            // The ServiceAccount itself is missing.
            Err(kube::Error::Api(s))
                if s.code == 404
                    && s.details
                        .as_ref()
                        .is_some_and(|d| d.kind == "serviceaccounts") =>
            {
                Ok(None)
            }
            Err(kube::Error::Api(s)) if matches!(s.code, 404 | 405 | 501 | 400) => {
                Ok(Some(Token::Unsupported(format!(
                    "the apiserver refused serviceaccounts/{}/token: {} ({})",
                    spec.service_account, s.message, s.code
                ))))
            }
            Err(e) => Err(ObjectError::Api {
                what: format!(
                    "requesting a token for serviceaccount {}/{}",
                    spec.namespace, spec.service_account
                ),
                source: e,
            }),
        }
    }
}

type Entry<T> = (Instant, Option<T>);

/// Keeps every answer of an inner [`Objects`] for [`OBJECT_TTL`] (tokens
/// until 80% of their lifetime, as upstream's token manager), so the 1 s
/// pod sync does not read every object every second.
pub struct CachedObjects<O> {
    inner: O,
    ttl: Duration,
    config_maps: Mutex<HashMap<(String, String), Entry<ConfigMap>>>,
    secrets: Mutex<HashMap<(String, String), Entry<Secret>>>,
    tokens: Mutex<HashMap<TokenSpec, Entry<Token>>>,
}

impl<O: Objects> CachedObjects<O> {
    /// Caches `inner` with [`OBJECT_TTL`].
    pub fn new(inner: O) -> Self {
        Self::with_ttl(inner, OBJECT_TTL)
    }

    /// Caches `inner`, keeping answers for `ttl`.
    pub fn with_ttl(inner: O, ttl: Duration) -> Self {
        CachedObjects {
            inner,
            ttl,
            config_maps: Mutex::default(),
            secrets: Mutex::default(),
            tokens: Mutex::default(),
        }
    }

    fn fresh<K: std::hash::Hash + Eq, T: Clone>(
        map: &Mutex<HashMap<K, Entry<T>>>,
        key: &K,
    ) -> Option<Option<T>> {
        let map = map.lock().expect("cache lock");
        let (until, v) = map.get(key)?;
        (Instant::now() < *until).then(|| v.clone())
    }
}

#[async_trait]
impl<O: Objects> Objects for CachedObjects<O> {
    async fn config_map(&self, ns: &str, name: &str) -> Result<Option<ConfigMap>, ObjectError> {
        let key = (ns.to_string(), name.to_string());
        if let Some(v) = Self::fresh(&self.config_maps, &key) {
            return Ok(v);
        }
        let v = self.inner.config_map(ns, name).await?;
        self.config_maps
            .lock()
            .expect("cache lock")
            .insert(key, (Instant::now() + self.ttl, v.clone()));
        Ok(v)
    }
    async fn secret(&self, ns: &str, name: &str) -> Result<Option<Secret>, ObjectError> {
        let key = (ns.to_string(), name.to_string());
        if let Some(v) = Self::fresh(&self.secrets, &key) {
            return Ok(v);
        }
        let v = self.inner.secret(ns, name).await?;
        self.secrets
            .lock()
            .expect("cache lock")
            .insert(key, (Instant::now() + self.ttl, v.clone()));
        Ok(v)
    }
    async fn pvc(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<Option<PersistentVolumeClaim>, ObjectError> {
        self.inner.pvc(ns, name).await
    }
    async fn pv(&self, name: &str) -> Result<Option<PersistentVolume>, ObjectError> {
        self.inner.pv(name).await
    }
    async fn token(&self, spec: &TokenSpec) -> Result<Option<Token>, ObjectError> {
        if let Some(v) = Self::fresh(&self.tokens, spec) {
            return Ok(v);
        }
        let v = self.inner.token(spec).await?;
        let keep = match &v {
            Some(Token::Issued { expires_in, .. }) => expires_in.mul_f64(0.8),
            // Ask again later: the apiserver may learn the API.
            _ => Duration::from_secs(60),
        };
        self.tokens
            .lock()
            .expect("cache lock")
            .insert(spec.clone(), (Instant::now() + keep, v.clone()));
        Ok(v)
    }
}

/// In-memory [`Objects`] for unit tests; counts reads so tests can check
/// the cache.
#[derive(Debug, Default)]
pub struct FakeObjects {
    config_maps: Mutex<HashMap<(String, String), ConfigMap>>,
    secrets: Mutex<HashMap<(String, String), Secret>>,
    pvcs: Mutex<HashMap<(String, String), PersistentVolumeClaim>>,
    pvs: Mutex<HashMap<String, PersistentVolume>>,
    tokens: Mutex<HashMap<String, String>>,
    reads: std::sync::atomic::AtomicUsize,
}

fn key_of(meta: &kube::api::ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_else(|| "default".into()),
        meta.name.clone().unwrap_or_default(),
    )
}

impl FakeObjects {
    /// Stores (or replaces) a ConfigMap.
    pub fn put_config_map(&self, cm: ConfigMap) {
        let k = key_of(&cm.metadata);
        self.config_maps.lock().expect("lock").insert(k, cm);
    }
    /// Stores (or replaces) a Secret.
    pub fn put_secret(&self, s: Secret) {
        let k = key_of(&s.metadata);
        self.secrets.lock().expect("lock").insert(k, s);
    }
    /// Stores a PVC.
    pub fn put_pvc(&self, c: PersistentVolumeClaim) {
        let k = key_of(&c.metadata);
        self.pvcs.lock().expect("lock").insert(k, c);
    }
    /// Stores a PV.
    pub fn put_pv(&self, v: PersistentVolume) {
        let k = v.metadata.name.clone().unwrap_or_default();
        self.pvs.lock().expect("lock").insert(k, v);
    }
    /// Makes token requests for `ns/sa` succeed with `token` (without one,
    /// the TokenRequest API is "unsupported").
    pub fn put_token(&self, ns: &str, sa: &str, token: &str) {
        self.tokens
            .lock()
            .expect("lock")
            .insert(format!("{ns}/{sa}"), token.into());
    }
    /// How many reads were made.
    pub fn reads(&self) -> usize {
        self.reads.load(std::sync::atomic::Ordering::SeqCst)
    }
    fn count(&self) {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait]
impl Objects for FakeObjects {
    async fn config_map(&self, ns: &str, name: &str) -> Result<Option<ConfigMap>, ObjectError> {
        self.count();
        let m = self.config_maps.lock().expect("lock");
        Ok(m.get(&(ns.to_string(), name.to_string())).cloned())
    }
    async fn secret(&self, ns: &str, name: &str) -> Result<Option<Secret>, ObjectError> {
        self.count();
        let m = self.secrets.lock().expect("lock");
        Ok(m.get(&(ns.to_string(), name.to_string())).cloned())
    }
    async fn pvc(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<Option<PersistentVolumeClaim>, ObjectError> {
        self.count();
        let m = self.pvcs.lock().expect("lock");
        Ok(m.get(&(ns.to_string(), name.to_string())).cloned())
    }
    async fn pv(&self, name: &str) -> Result<Option<PersistentVolume>, ObjectError> {
        self.count();
        Ok(self.pvs.lock().expect("lock").get(name).cloned())
    }
    async fn token(&self, spec: &TokenSpec) -> Result<Option<Token>, ObjectError> {
        self.count();
        let m = self.tokens.lock().expect("lock");
        Ok(Some(
            match m.get(&format!("{}/{}", spec.namespace, spec.service_account)) {
                Some(t) => Token::Issued {
                    token: t.clone(),
                    expires_in: Duration::from_secs(spec.expiration_seconds.max(0) as u64),
                },
                None => Token::Unsupported("no TokenRequest API in the fake".into()),
            },
        ))
    }
}

#[async_trait]
impl<T: Objects + ?Sized> Objects for std::sync::Arc<T> {
    async fn config_map(&self, ns: &str, name: &str) -> Result<Option<ConfigMap>, ObjectError> {
        (**self).config_map(ns, name).await
    }
    async fn secret(&self, ns: &str, name: &str) -> Result<Option<Secret>, ObjectError> {
        (**self).secret(ns, name).await
    }
    async fn pvc(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<Option<PersistentVolumeClaim>, ObjectError> {
        (**self).pvc(ns, name).await
    }
    async fn pv(&self, name: &str) -> Result<Option<PersistentVolume>, ObjectError> {
        (**self).pv(name).await
    }
    async fn token(&self, spec: &TokenSpec) -> Result<Option<Token>, ObjectError> {
        (**self).token(spec).await
    }
}
