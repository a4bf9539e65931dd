//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's
//! `leaderelection` package with the `LeaseLock`.
//!
//! ```no_run
//! # async fn f(client: kube::Client) -> Result<(), client_support::LeaderElectionError> {
//! use client_support::{LeaderElectionConfig, LeaderElector};
//! let cfg = LeaderElectionConfig::new("kube-system", "kube-scheduler");
//! let shutdown = std::future::pending::<()>();
//! LeaderElector::new(client, cfg)
//!     .run(async { /* the work, run only while leading */ }, shutdown)
//!     .await
//! # }
//! ```
//!
//! A candidate tries every `retry_period` (with up to 20 % jitter) until the
//! Lease is free: absent, released (empty holder), or not renewed for
//! `lease_duration` as observed on the candidate's own clock (the record's
//! timestamps are not trusted across machines). The leader renews every
//! `retry_period`; if it cannot renew for `renew_deadline` it stops the work
//! and [`LeaderElector::run`] returns [`LeaderElectionError::Lost`] (upstream
//! components exit then). Writes use the Lease's `resourceVersion`, so two
//! candidates never both win.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::time::Instant;

/// Errors from leader election.
#[derive(Debug, thiserror::Error)]
pub enum LeaderElectionError {
    /// The Lease could not be renewed within the renew deadline.
    #[error("leader election lost: lease {namespace}/{name} not renewed within {deadline:?}")]
    Lost {
        /// Lease namespace.
        namespace: String,
        /// Lease name.
        name: String,
        /// The renew deadline that passed.
        deadline: Duration,
    },
    /// A request to the apiserver failed.
    #[error("lease {lease}: {source}")]
    Api {
        /// `namespace/name` of the Lease.
        lease: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
}

/// Where the Lease is, who we are, and the timings.
#[derive(Clone, Debug)]
pub struct LeaderElectionConfig {
    /// Namespace of the Lease (upstream: `kube-system`).
    pub namespace: String,
    /// Name of the Lease (upstream: the component's name).
    pub name: String,
    /// This candidate's identity (default `<hostname>_<uuid>`).
    pub identity: String,
    /// How long a non-leader waits after the last observed change before taking over (15 s).
    pub lease_duration: Duration,
    /// How long the leader keeps retrying a renewal before giving up (10 s).
    pub renew_deadline: Duration,
    /// Interval between attempts (2 s).
    pub retry_period: Duration,
    /// Give the Lease up when shut down, so another candidate takes over at once.
    pub release_on_cancel: bool,
}

impl LeaderElectionConfig {
    /// Upstream defaults: lease 15 s, renew deadline 10 s, retry 2 s, identity
    /// `<hostname>_<uuid>`, released on shutdown.
    pub fn new(namespace: &str, name: &str) -> Self {
        LeaderElectionConfig {
            namespace: namespace.to_string(),
            name: name.to_string(),
            identity: default_identity(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            release_on_cancel: true,
        }
    }
}

/// `<hostname>_<uuid>`, as kube-controller-manager and kube-scheduler use.
pub fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string());
    format!("{host}_{}", uuid::Uuid::new_v4())
}

/// Whether a candidate may take the Lease now: it is free, ours, or its
/// record has not changed for `lease_duration` since we first saw it.
pub(crate) fn can_acquire(
    holder: Option<&str>,
    me: &str,
    observed_at: Instant,
    lease_duration: Duration,
    now: Instant,
) -> bool {
    match holder {
        None | Some("") => true,
        Some(h) if h == me => true,
        Some(_) => observed_at + lease_duration <= now,
    }
}

/// The spec a successful acquire or renew writes.
pub(crate) fn next_spec(
    old: Option<&LeaseSpec>,
    me: &str,
    lease_duration: Duration,
    now: MicroTime,
) -> LeaseSpec {
    let secs = i32::try_from(lease_duration.as_secs()).unwrap_or(i32::MAX);
    match old {
        Some(o) if o.holder_identity.as_deref() == Some(me) => LeaseSpec {
            holder_identity: Some(me.to_string()),
            lease_duration_seconds: Some(secs),
            acquire_time: o.acquire_time.clone().or(Some(now.clone())),
            renew_time: Some(now),
            lease_transitions: Some(o.lease_transitions.unwrap_or(0)),
            ..LeaseSpec::default()
        },
        Some(o) => LeaseSpec {
            holder_identity: Some(me.to_string()),
            lease_duration_seconds: Some(secs),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            lease_transitions: Some(o.lease_transitions.unwrap_or(0) + 1),
            ..LeaseSpec::default()
        },
        None => LeaseSpec {
            holder_identity: Some(me.to_string()),
            lease_duration_seconds: Some(secs),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            lease_transitions: Some(0),
            ..LeaseSpec::default()
        },
    }
}

fn now_micro() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

/// Holds (or waits for) one Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    cfg: LeaderElectionConfig,
    /// The last record seen and when (our clock) it last changed.
    observed: Option<(LeaseSpec, Instant)>,
    leading: watch::Sender<bool>,
}

impl LeaderElector {
    /// An elector for `cfg` using `client`.
    pub fn new(client: Client, cfg: LeaderElectionConfig) -> Self {
        let api = Api::namespaced(client, &cfg.namespace);
        LeaderElector {
            api,
            cfg,
            observed: None,
            leading: watch::channel(false).0,
        }
    }

    /// This candidate's identity.
    pub fn identity(&self) -> &str {
        &self.cfg.identity
    }

    /// Follows whether this candidate leads (for health and metrics).
    pub fn leading(&self) -> watch::Receiver<bool> {
        self.leading.subscribe()
    }

    fn lease_key(&self) -> String {
        format!("{}/{}", self.cfg.namespace, self.cfg.name)
    }

    /// One attempt (client-go's `tryAcquireOrRenew`): `Ok(true)` if we hold
    /// the Lease afterwards.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, LeaderElectionError> {
        let me = self.cfg.identity.clone();
        let key = self.lease_key();
        let err = |source| LeaderElectionError::Api {
            lease: key.clone(),
            source,
        };
        let current = self.api.get_opt(&self.cfg.name).await.map_err(err)?;
        let now = Instant::now();
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.cfg.name.clone()),
                    namespace: Some(self.cfg.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(next_spec(None, &me, self.cfg.lease_duration, now_micro())),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(l) => {
                    self.observed = l.spec.map(|s| (s, now));
                    Ok(true)
                }
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(err(e)),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let observed_at = match &self.observed {
            Some((s, t)) if *s == spec => *t,
            _ => {
                self.observed = Some((spec.clone(), now));
                now
            }
        };
        if !can_acquire(
            spec.holder_identity.as_deref(),
            &me,
            observed_at,
            self.cfg.lease_duration,
            now,
        ) {
            return Ok(false);
        }
        lease.spec = Some(next_spec(
            Some(&spec),
            &me,
            self.cfg.lease_duration,
            now_micro(),
        ));
        match self
            .api
            .replace(&self.cfg.name, &PostParams::default(), &lease)
            .await
        {
            Ok(l) => {
                self.observed = l.spec.map(|s| (s, Instant::now()));
                Ok(true)
            }
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(err(e)),
        }
    }

    /// Gives the Lease up if we hold it (empty holder, 1 s duration).
    pub async fn release(&mut self) -> Result<(), LeaderElectionError> {
        let Some(mut lease) =
            self.api
                .get_opt(&self.cfg.name)
                .await
                .map_err(|source| LeaderElectionError::Api {
                    lease: self.lease_key(),
                    source,
                })?
        else {
            return Ok(());
        };
        let spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.cfg.identity.as_str()) {
            return Ok(());
        }
        let now = now_micro();
        lease.spec = Some(LeaseSpec {
            holder_identity: None,
            lease_duration_seconds: Some(1),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            lease_transitions: spec.lease_transitions,
            ..LeaseSpec::default()
        });
        self.api
            .replace(&self.cfg.name, &PostParams::default(), &lease)
            .await
            .map_err(|source| LeaderElectionError::Api {
                lease: self.lease_key(),
                source,
            })?;
        self.leading.send_replace(false);
        Ok(())
    }

    fn jittered_retry(&self) -> Duration {
        let j: f64 = rand::random::<f64>() * 0.2;
        self.cfg.retry_period.mul_f64(1.0 + j)
    }

    /// Waits for the Lease, then runs `work` while renewing it. Returns
    /// `Ok(())` when `shutdown` resolves or `work` ends (releasing the
    /// Lease if configured), [`LeaderElectionError::Lost`] if renewal failed
    /// for `renew_deadline` (the work is dropped first).
    pub async fn run(
        mut self,
        work: impl Future<Output = ()>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), LeaderElectionError> {
        tokio::pin!(shutdown);
        tracing::info!(lease = %self.lease_key(), identity = %self.cfg.identity, "attempting to acquire leader lease");
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "error acquiring lease"),
            }
            let wait = self.jittered_retry();
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                _ = tokio::time::sleep(wait) => {}
            }
        }
        tracing::info!(lease = %self.lease_key(), identity = %self.cfg.identity, "successfully acquired lease");
        self.leading.send_replace(true);
        let outcome = {
            let renew = async {
                let mut last_ok = Instant::now();
                loop {
                    tokio::time::sleep(self.cfg.retry_period).await;
                    let attempt =
                        tokio::time::timeout(self.cfg.renew_deadline, self.try_acquire_or_renew())
                            .await;
                    match attempt {
                        Ok(Ok(true)) => last_ok = Instant::now(),
                        Ok(Ok(false)) => tracing::warn!("lease taken by another candidate"),
                        Ok(Err(e)) => tracing::warn!(error = %e, "error renewing lease"),
                        Err(_) => tracing::warn!("lease renewal timed out"),
                    }
                    if last_ok.elapsed() >= self.cfg.renew_deadline {
                        return;
                    }
                }
            };
            tokio::select! {
                _ = &mut shutdown => Ok(()),
                _ = work => Ok(()),
                _ = renew => Err(()),
            }
        };
        self.leading.send_replace(false);
        match outcome {
            Ok(()) => {
                if self.cfg.release_on_cancel {
                    if let Err(e) = self.release().await {
                        tracing::warn!(error = %e, "error releasing lease");
                    }
                }
                Ok(())
            }
            Err(()) => {
                tracing::error!(lease = %self.lease_key(), "leader election lost");
                Err(LeaderElectionError::Lost {
                    namespace: self.cfg.namespace.clone(),
                    name: self.cfg.name.clone(),
                    deadline: self.cfg.renew_deadline,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mt(s: &str) -> MicroTime {
        MicroTime(s.parse().unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn another_holder_must_be_silent_for_the_lease_duration() {
        let d = Duration::from_secs(15);
        let seen = Instant::now();
        assert!(!can_acquire(Some("b"), "a", seen, d, seen));
        tokio::time::advance(Duration::from_secs(14)).await;
        assert!(!can_acquire(Some("b"), "a", seen, d, Instant::now()));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(can_acquire(Some("b"), "a", seen, d, Instant::now()));
        assert!(can_acquire(Some("a"), "a", seen, d, seen));
        assert!(can_acquire(Some(""), "a", seen, d, seen));
        assert!(can_acquire(None, "a", seen, d, seen));
    }

    #[test]
    fn transitions_and_acquire_time() {
        let t1 = mt("2024-01-01T00:00:00.123456Z");
        let t2 = mt("2024-01-01T00:00:02Z");
        let first = next_spec(None, "a", Duration::from_secs(15), t1.clone());
        assert_eq!(first.lease_transitions, Some(0));
        assert_eq!(first.lease_duration_seconds, Some(15));
        let renewed = next_spec(Some(&first), "a", Duration::from_secs(15), t2.clone());
        assert_eq!(renewed.acquire_time, Some(t1.clone()));
        assert_eq!(renewed.renew_time, Some(t2.clone()));
        assert_eq!(renewed.lease_transitions, Some(0));
        let taken = next_spec(Some(&renewed), "b", Duration::from_secs(15), t2.clone());
        assert_eq!(taken.holder_identity.as_deref(), Some("b"));
        assert_eq!(taken.acquire_time, Some(t2));
        assert_eq!(taken.lease_transitions, Some(1));
        // MicroTime is written with six fractional digits.
        let v = serde_json::to_value(&first).unwrap();
        assert_eq!(v["acquireTime"], "2024-01-01T00:00:00.123456Z");
    }

    #[test]
    fn identity_is_host_underscore_uuid() {
        let id = default_identity();
        let (_, u) = id.rsplit_once('_').unwrap();
        assert!(uuid::Uuid::parse_str(u).is_ok(), "{id}");
    }
}
