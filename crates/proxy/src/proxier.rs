//! The running proxy: informers on Services and EndpointSlices, a sync
//! loop (full at start and every `--sync-period`, incremental on changes,
//! at most one per `--min-sync-period`), the healthz and metrics servers.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use client_support::informer::{Informer, InformerEvent};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio::sync::Notify;
use tracing::Instrument;

use crate::cidr::Cidr;
use crate::conntrack;
use crate::error::Error;
use crate::health::{self, Health};
use crate::host::{self, NodePortAddresses};
use crate::metrics::Metrics;
use crate::model::{self, Model, LAST_CHANGE_TRIGGER_TIME};
use crate::nft::{self, Nft, NftCli};
use crate::ruleset::{self, Ruleset, RulesetConfig};

/// The proxy's configuration (the binary's flags).
#[derive(Debug, Clone)]
pub struct Options {
    /// `--kubeconfig`; `None`: infer (KUBECONFIG, in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// `--proxy-mode`: only `nftables` (or empty, meaning nftables) works.
    pub proxy_mode: String,
    /// `--cluster-cidr`: pod networks (comma-separated on the flag).
    pub cluster_cidr: Vec<Cidr>,
    /// `--hostname-override`: the node name for Local traffic policies.
    pub hostname_override: Option<String>,
    /// `--nodeport-addresses`.
    pub nodeport_addresses: NodePortAddresses,
    /// `--healthz-bind-address` (`None` or port 0 disables).
    pub healthz_bind_address: Option<SocketAddr>,
    /// `--metrics-bind-address` (`None` or port 0 disables).
    pub metrics_bind_address: Option<SocketAddr>,
    /// `--sync-period`: full resync interval.
    pub sync_period: Duration,
    /// `--min-sync-period`: least time between two syncs.
    pub min_sync_period: Duration,
    /// `--nft-table`: the `ip` table the proxy owns.
    pub nft_table: String,
    /// Skip setting sysctls (tests that must not touch the host's).
    pub skip_sysctls: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            kubeconfig: None,
            proxy_mode: "nftables".into(),
            cluster_cidr: Vec::new(),
            hostname_override: None,
            nodeport_addresses: NodePortAddresses::default(),
            healthz_bind_address: Some(([0, 0, 0, 0], 10256).into()),
            metrics_bind_address: Some(([127, 0, 0, 1], 10249).into()),
            sync_period: Duration::from_secs(30),
            min_sync_period: Duration::from_secs(1),
            nft_table: "kube-proxy".into(),
            skip_sysctls: false,
        }
    }
}

impl Options {
    /// The node name: `--hostname-override`, else the host name.
    pub fn node_name(&self) -> String {
        self.hostname_override
            .as_deref()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(host::hostname)
    }

    fn check(&self) -> Result<(), Error> {
        match self.proxy_mode.as_str() {
            "" | "nftables" => {}
            other => {
                return Err(Error::Config(format!(
                    "--proxy-mode={other} is not supported; only \"nftables\" is implemented"
                )))
            }
        }
        if self.nft_table.is_empty() {
            return Err(Error::Config("--nft-table must not be empty".into()));
        }
        if self.sync_period.is_zero() {
            return Err(Error::Config("--sync-period must be positive".into()));
        }
        Ok(())
    }
}

/// What one sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncOutcome {
    /// A full rebuild (else incremental).
    pub full: bool,
    /// Commands in the transaction (0: nothing changed, nothing applied).
    pub commands: usize,
}

/// Programs models into the table, remembering what it applied so the next
/// sync can be incremental. Usable on its own (tests, benchmarks).
pub struct Syncer<N: Nft> {
    /// Node-specific inputs of ruleset generation.
    pub config: RulesetConfig,
    nft: N,
    applied: Option<(Ruleset, Model)>,
}

impl<N: Nft> Syncer<N> {
    /// A syncer that will start with a full rebuild.
    pub fn new(config: RulesetConfig, nft: N) -> Self {
        Syncer {
            config,
            nft,
            applied: None,
        }
    }

    /// Programs `model` in one transaction: full when asked or when
    /// nothing is known to be applied, else only what changed. After a
    /// failure the next sync recreates the table. UDP conntrack entries to
    /// removed endpoints are cleared afterwards.
    pub async fn sync(&mut self, model: Model, full: bool) -> Result<SyncOutcome, Error> {
        let model = if full {
            model
        } else {
            match self.sync_changed(model).await? {
                Ok(out) => return Ok(out),
                Err(model) => model,
            }
        };
        let rs = ruleset::build(&model, &self.config);
        let (tx, was_full) = match (&self.applied, full) {
            (Some((old, _)), false) => match nft::incremental(old, &rs) {
                Some(tx) => (tx, false),
                None => (nft::full(&rs, Some(old)), true),
            },
            (prev, _) => (nft::full(&rs, prev.as_ref().map(|(r, _)| r)), true),
        };
        let commands = tx.commands.len();
        if let Err(e) = self.nft.apply(&tx).await {
            self.applied = None;
            return Err(e);
        }
        let flushes = match &self.applied {
            Some((_, old_model)) => conntrack::stale_udp(old_model, &model),
            None => Vec::new(),
        };
        self.applied = Some((rs, model));
        conntrack::run(&flushes).await;
        Ok(SyncOutcome {
            full: was_full,
            commands,
        })
    }

    /// The incremental sync proper: rebuilds only the service ports whose
    /// port or endpoints changed since the last sync and applies their
    /// diff, so one endpoint change costs nearly the same at 10 or 10 000
    /// services. Gives the model back when that is not possible (nothing
    /// applied yet, the skeleton changed, contested keys): then the caller
    /// builds it all.
    async fn sync_changed(&mut self, model: Model) -> Result<Result<SyncOutcome, Model>, Error> {
        let Some((rs, old_model)) = &mut self.applied else {
            return Ok(Err(model));
        };
        let changed = model::changed_ports(old_model, &model);
        let Some(groups) = ruleset::rebuild(rs, &model, &changed, &self.config) else {
            return Ok(Err(model));
        };
        let tx = nft::incremental_groups(rs, &groups);
        let commands = tx.commands.len();
        if let Err(e) = self.nft.apply(&tx).await {
            self.applied = None;
            return Err(e);
        }
        rs.replace(groups);
        let flushes = conntrack::stale_udp(old_model, &model);
        let old = std::mem::replace(old_model, model);
        // Freeing a model of 10 000 services takes milliseconds; not on the
        // path of the change.
        tokio::task::spawn_blocking(move || drop(old));
        conntrack::run(&flushes).await;
        Ok(Ok(SyncOutcome {
            full: false,
            commands,
        }))
    }

    /// The ruleset last applied.
    pub fn applied(&self) -> Option<&Ruleset> {
        self.applied.as_ref().map(|(r, _)| r)
    }
}

/// Removes the proxy's table (`--cleanup`).
pub async fn cleanup(table: &str) -> Result<(), Error> {
    NftCli::default().apply(&nft::cleanup(table)).await
}

/// Builds a client from the options, then [`run_with`].
pub async fn run(opts: Options, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    opts.check()?;
    let cfg = match &opts.kubeconfig {
        Some(p) => {
            let err = |e: kube::config::KubeconfigError| Error::Client {
                context: p.display().to_string(),
                source: Box::new(e),
            };
            let kc = kube::config::Kubeconfig::read_from(p).map_err(err)?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(err)?
        }
        None => kube::Config::infer().await.map_err(|e| Error::Client {
            context: "the environment".into(),
            source: Box::new(e),
        })?,
    };
    let client = Client::try_from(cfg).map_err(|e| Error::Client {
        context: "the kubeconfig".into(),
        source: Box::new(e),
    })?;
    run_with(client, opts, shutdown).await
}

/// Changes seen since the last sync.
#[derive(Default)]
struct Pending {
    /// `last-change-trigger-time`s of EndpointSlice changes not yet programmed.
    triggers: Vec<DateTime<Utc>>,
}

/// Runs the proxy with `client` until `shutdown` resolves. The table is
/// left in place on shutdown (as upstream); `--cleanup` removes it.
pub async fn run_with(
    client: Client,
    opts: Options,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    opts.check()?;
    let node = opts.node_name();
    let span = tracing::info_span!("kube-proxy", node = %node, table = %opts.nft_table);
    async move {
        if !opts.skip_sysctls {
            host::ensure_sysctls(opts.nodeport_addresses.includes_localhost())?;
        }
        let health = Arc::new(Health::new(opts.sync_period * 2));
        let metrics = Arc::new(Metrics::default());
        let mut servers = Vec::new();
        if let Some(a) = opts.healthz_bind_address.filter(|a| a.port() != 0) {
            servers.push(health::serve(a, health::healthz_handler(health.clone())).await?);
        }
        if let Some(a) = opts.metrics_bind_address.filter(|a| a.port() != 0) {
            servers.push(health::serve(a, health::metrics_handler(metrics.clone())).await?);
        }

        let changed = Arc::new(Notify::new());
        let pending = Arc::new(Mutex::new(Pending::default()));
        let svc_informer = {
            let (changed, health) = (changed.clone(), health.clone());
            Informer::spawn(
                Api::<Service>::all(client.clone()),
                watcher::Config::default(),
                move |ev: InformerEvent<Service>| {
                    if let InformerEvent::Applied { old: Some(o), new } = &ev {
                        // Status-only churn that changes nothing we use.
                        if o.spec == new.spec && o.status == new.status {
                            return;
                        }
                    }
                    health.queued();
                    changed.notify_one();
                },
            )
        };
        let slice_informer = {
            let (changed, health, pending) = (changed.clone(), health.clone(), pending.clone());
            Informer::spawn(
                Api::<EndpointSlice>::all(client.clone()),
                watcher::Config::default(),
                move |ev: InformerEvent<EndpointSlice>| {
                    let obj = match &ev {
                        InformerEvent::Applied { new, .. } => new,
                        InformerEvent::Deleted(o) => o,
                    };
                    let trigger = obj
                        .metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get(LAST_CHANGE_TRIGGER_TIME))
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
                    if let Some(t) = trigger {
                        pending.lock().expect("pending lock").triggers.push(t.with_timezone(&Utc));
                    }
                    health.queued();
                    changed.notify_one();
                },
            )
        };

        let mut shutdown = std::pin::pin!(shutdown);
        tokio::select! {
            _ = async { svc_informer.wait_synced().await; slice_informer.wait_synced().await } => {}
            _ = &mut shutdown => {
                servers.iter().for_each(|s| s.abort());
                return Ok(());
            }
        }
        tracing::info!("caches synced; programming rules");

        let mut syncer = Syncer::new(
            RulesetConfig {
                table: opts.nft_table.clone(),
                node_name: node.clone(),
                cluster_cidrs: opts.cluster_cidr.clone(),
                nodeport_ips: None,
            },
            NftCli::default(),
        );
        let mut next_full = Instant::now();
        loop {
            let full = Instant::now() >= next_full;
            if full {
                match opts.nodeport_addresses.resolve().await {
                    Ok(ips) => syncer.config.nodeport_ips = ips,
                    Err(e) => tracing::warn!(error = %e, "cannot read node addresses"),
                }
            }
            let model = Model::from_objects(
                svc_informer.store().state().iter().map(|s| &**s),
                slice_informer.store().state().iter().map(|s| &**s),
            );
            let triggers = std::mem::take(&mut pending.lock().expect("pending lock").triggers);
            let started = Instant::now();
            match syncer.sync(model, full).await {
                Ok(out) => {
                    let took = started.elapsed();
                    metrics.sync_duration.observe(took.as_secs_f64());
                    let now = Utc::now();
                    metrics.set_last_sync(now.timestamp_millis() as f64 / 1000.0);
                    for t in triggers {
                        if let Ok(d) = (now - t).to_std() {
                            metrics.network_programming.observe(d.as_secs_f64());
                        }
                    }
                    health.updated();
                    if out.full {
                        next_full = Instant::now() + opts.sync_period;
                    }
                    tracing::debug!(full = out.full, commands = out.commands, elapsed = ?took, "synced rules");
                }
                Err(e) => {
                    tracing::error!(error = %e, "sync failed; retrying with a full rebuild");
                    next_full = Instant::now() + opts.min_sync_period;
                    changed.notify_one();
                }
            }
            tokio::select! {
                _ = changed.notified() => {}
                _ = tokio::time::sleep_until(next_full.into()) => {}
                _ = &mut shutdown => break,
            }
            // Rate limit: coalesce bursts of changes into one sync.
            tokio::select! {
                _ = tokio::time::sleep_until((started + opts.min_sync_period).into()) => {}
                _ = &mut shutdown => break,
            }
        }
        servers.iter().for_each(|s| s.abort());
        tracing::info!("stopped");
        Ok(())
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Endpoint, Protocol, ServicePort, ServicePortName};
    use async_trait::async_trait;

    /// Records transactions; fails when told to.
    #[derive(Default, Clone)]
    struct Recorder {
        txs: Arc<Mutex<Vec<nft::Transaction>>>,
        fail: Arc<Mutex<bool>>,
    }

    #[async_trait]
    impl Nft for Recorder {
        async fn apply(&self, tx: &nft::Transaction) -> Result<(), Error> {
            if *self.fail.lock().unwrap() {
                return Err(Error::Config("injected failure".into()));
            }
            self.txs.lock().unwrap().push(tx.clone());
            Ok(())
        }
    }

    fn model(n_eps: u8) -> Model {
        let mut m = Model::default();
        let name = ServicePortName::new("ns", "a", "", Protocol::Tcp);
        m.services.insert(
            name.clone(),
            ServicePort {
                cluster_ip: Some("10.0.0.1".parse().unwrap()),
                port: 80,
                ..Default::default()
            },
        );
        m.endpoints.insert(
            name,
            (1..=n_eps)
                .map(|i| Endpoint::ready([10, 244, 0, i].into(), 8080, None))
                .collect(),
        );
        m
    }

    #[tokio::test]
    async fn full_then_incremental_then_recreate_after_failure() {
        let rec = Recorder::default();
        let mut s = Syncer::new(RulesetConfig::new("t", "n"), rec.clone());
        let o = s.sync(model(1), false).await.unwrap();
        assert!(o.full);
        let o = s.sync(model(2), false).await.unwrap();
        assert!(!o.full && o.commands > 0);
        let o = s.sync(model(2), false).await.unwrap();
        assert_eq!(o.commands, 0, "nothing changed, nothing applied");
        let o = s.sync(model(2), true).await.unwrap();
        assert!(o.full);
        assert_eq!(
            rec.txs.lock().unwrap()[3].commands[1],
            nft::Command::FlushTable
        );
        *rec.fail.lock().unwrap() = true;
        assert!(s.sync(model(3), false).await.is_err());
        *rec.fail.lock().unwrap() = false;
        let o = s.sync(model(3), false).await.unwrap();
        assert!(o.full);
        let last = rec.txs.lock().unwrap().last().unwrap().clone();
        assert_eq!(last.commands[1], nft::Command::DeleteTable, "recreated");
    }

    #[test]
    fn rejects_other_proxy_modes() {
        let o = Options {
            proxy_mode: "iptables".into(),
            ..Options::default()
        };
        let e = o.check().unwrap_err().to_string();
        assert!(e.contains("iptables") && e.contains("nftables"), "{e}");
    }
}
