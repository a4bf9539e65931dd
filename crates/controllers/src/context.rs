//! Shared informers: one watch per resource type, however many controllers
//! use it (upstream's `SharedInformerFactory`). Controllers subscribe
//! handlers first; [`Context::start`] then starts the watches, so no
//! controller misses the initial list.

use std::fmt::Debug;
use std::sync::{Arc, Mutex, OnceLock};

use client_support::{Informer, InformerEvent};
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod,
    ReplicationController, Service, ServiceAccount,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, Client, Resource};

use crate::metrics::Metrics;
use crate::Options;

type Handler<K> = Arc<dyn Fn(&InformerEvent<K>) + Send + Sync>;

/// One lazily started informer and its subscribers.
pub struct Shared<K: Resource<DynamicType = ()> + 'static> {
    api: Api<K>,
    config: watcher::Config,
    handlers: Mutex<Vec<Handler<K>>>,
    wanted: std::sync::atomic::AtomicBool,
    informer: OnceLock<Informer<K>>,
}

impl<K> Shared<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + Debug
        + Send
        + Sync
        + serde::de::DeserializeOwned
        + 'static,
{
    fn new(api: Api<K>, config: watcher::Config) -> Self {
        Shared {
            api,
            config,
            handlers: Mutex::new(Vec::new()),
            wanted: false.into(),
            informer: OnceLock::new(),
        }
    }

    /// Adds a handler (before [`Context::start`]).
    pub fn subscribe(&self, f: impl Fn(&InformerEvent<K>) + Send + Sync + 'static) {
        self.want();
        self.handlers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::new(f));
    }

    /// Marks the store as needed without a handler.
    pub fn want(&self) {
        self.wanted.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn start(&self) {
        if !self.wanted.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let handlers: Vec<Handler<K>> = self
            .handlers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let _ = self.informer.set(Informer::spawn(
            self.api.clone(),
            self.config.clone(),
            move |ev| {
                for h in &handlers {
                    h(&ev);
                }
            },
        ));
    }

    async fn wait_synced(&self) {
        if let Some(i) = self.informer.get() {
            i.wait_synced().await;
        }
    }

    /// The store; only valid after [`Context::start`] (empty before).
    pub fn store(&self) -> Store<K> {
        match self.informer.get() {
            Some(i) => i.store(),
            None => kube::runtime::reflector::store::Writer::default().as_reader(),
        }
    }
}

/// What every controller gets: a client, the options, shared informers.
pub struct Context {
    /// The client (anonymous or from `--kubeconfig`).
    pub client: Client,
    /// The manager's options.
    pub opts: Options,
    /// Metrics for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Pods in all namespaces.
    pub pods: Shared<Pod>,
    /// ReplicaSets in all namespaces.
    pub replicasets: Shared<ReplicaSet>,
    /// Deployments in all namespaces.
    pub deployments: Shared<Deployment>,
    /// Namespaces.
    pub namespaces: Shared<Namespace>,
    /// ServiceAccounts in all namespaces.
    pub serviceaccounts: Shared<ServiceAccount>,
    /// The `kube-root-ca.crt` ConfigMaps.
    pub root_ca_configmaps: Shared<ConfigMap>,
    /// Services in all namespaces.
    pub services: Shared<Service>,
    /// Endpoints in all namespaces.
    pub endpoints: Shared<Endpoints>,
    /// EndpointSlices managed by the endpointslice controller.
    pub endpointslices: Shared<EndpointSlice>,
    /// Jobs in all namespaces.
    pub jobs: Shared<Job>,
    /// CronJobs in all namespaces.
    pub cronjobs: Shared<CronJob>,
    /// StatefulSets in all namespaces.
    pub statefulsets: Shared<StatefulSet>,
    /// ControllerRevisions in all namespaces.
    pub controllerrevisions: Shared<ControllerRevision>,
    /// DaemonSets in all namespaces.
    pub daemonsets: Shared<DaemonSet>,
    /// Nodes.
    pub nodes: Shared<Node>,
    /// The node heartbeat Leases in `kube-node-lease`.
    pub node_leases: Shared<Lease>,
    /// ReplicationControllers in all namespaces.
    pub replicationcontrollers: Shared<ReplicationController>,
    /// PodDisruptionBudgets in all namespaces.
    pub pdbs: Shared<PodDisruptionBudget>,
    /// PersistentVolumes.
    pub pvs: Shared<PersistentVolume>,
    /// PersistentVolumeClaims in all namespaces.
    pub pvcs: Shared<PersistentVolumeClaim>,
    /// StorageClasses.
    pub storageclasses: Shared<StorageClass>,
}

impl Context {
    /// A context; nothing is watched until [`Context::start`].
    pub fn new(client: Client, opts: Options, metrics: Arc<Metrics>) -> Arc<Self> {
        let all = watcher::Config::default();
        Arc::new(Context {
            pods: Shared::new(Api::all(client.clone()), all.clone()),
            replicasets: Shared::new(Api::all(client.clone()), all.clone()),
            deployments: Shared::new(Api::all(client.clone()), all.clone()),
            namespaces: Shared::new(Api::all(client.clone()), all.clone()),
            serviceaccounts: Shared::new(Api::all(client.clone()), all.clone()),
            services: Shared::new(Api::all(client.clone()), all.clone()),
            endpoints: Shared::new(Api::all(client.clone()), all.clone()),
            endpointslices: Shared::new(
                Api::all(client.clone()),
                watcher::Config::default().labels(&format!(
                    "{}={}",
                    crate::endpointslice::LABEL_MANAGED_BY,
                    crate::endpointslice::CONTROLLER_NAME
                )),
            ),
            jobs: Shared::new(Api::all(client.clone()), all.clone()),
            cronjobs: Shared::new(Api::all(client.clone()), all.clone()),
            statefulsets: Shared::new(Api::all(client.clone()), all.clone()),
            controllerrevisions: Shared::new(Api::all(client.clone()), all.clone()),
            daemonsets: Shared::new(Api::all(client.clone()), all.clone()),
            nodes: Shared::new(Api::all(client.clone()), all.clone()),
            node_leases: Shared::new(
                Api::namespaced(client.clone(), crate::nodelifecycle::NODE_LEASE_NAMESPACE),
                all.clone(),
            ),
            replicationcontrollers: Shared::new(Api::all(client.clone()), all.clone()),
            pdbs: Shared::new(Api::all(client.clone()), all.clone()),
            pvs: Shared::new(Api::all(client.clone()), all.clone()),
            pvcs: Shared::new(Api::all(client.clone()), all.clone()),
            storageclasses: Shared::new(Api::all(client.clone()), all),
            root_ca_configmaps: Shared::new(
                Api::all(client.clone()),
                watcher::Config::default().fields("metadata.name=kube-root-ca.crt"),
            ),
            client,
            opts,
            metrics,
        })
    }

    /// Starts every informer something subscribed to and waits for their
    /// first lists.
    pub async fn start(&self) {
        self.pods.start();
        self.replicasets.start();
        self.deployments.start();
        self.namespaces.start();
        self.serviceaccounts.start();
        self.root_ca_configmaps.start();
        self.services.start();
        self.endpoints.start();
        self.endpointslices.start();
        self.jobs.start();
        self.cronjobs.start();
        self.statefulsets.start();
        self.controllerrevisions.start();
        self.daemonsets.start();
        self.nodes.start();
        self.node_leases.start();
        self.replicationcontrollers.start();
        self.pdbs.start();
        self.pvs.start();
        self.pvcs.start();
        self.storageclasses.start();
        self.pods.wait_synced().await;
        self.replicasets.wait_synced().await;
        self.deployments.wait_synced().await;
        self.namespaces.wait_synced().await;
        self.serviceaccounts.wait_synced().await;
        self.root_ca_configmaps.wait_synced().await;
        self.services.wait_synced().await;
        self.endpoints.wait_synced().await;
        self.endpointslices.wait_synced().await;
        self.jobs.wait_synced().await;
        self.cronjobs.wait_synced().await;
        self.statefulsets.wait_synced().await;
        self.controllerrevisions.wait_synced().await;
        self.daemonsets.wait_synced().await;
        self.nodes.wait_synced().await;
        self.node_leases.wait_synced().await;
        self.replicationcontrollers.wait_synced().await;
        self.pdbs.wait_synced().await;
        self.pvs.wait_synced().await;
        self.pvcs.wait_synced().await;
        self.storageclasses.wait_synced().await;
    }
}
