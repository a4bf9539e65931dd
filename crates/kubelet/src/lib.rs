//! The kubelet: registers its Node and keeps it and its Lease fresh, and
//! runs the pods bound to the node through a CRI runtime.
//!
//! [`run`] connects to the apiserver and the runtime; [`run_with`] takes
//! both ready-made (tests, hollow nodes).

pub mod admission;
pub mod cni;
pub mod config;
pub mod events;
pub mod fake;
pub mod hollow;
pub mod node;
pub mod objects;
pub mod pod;
pub mod probes;
pub mod server;
pub mod static_pods;
pub mod sync;
pub mod volumes;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::watcher;
use kube::Client;
use tokio::sync::watch;

pub use pod::NodeContext;
pub use sync::{PodState, PodSyncer};

/// How often the Lease is renewed.
pub const LEASE_RENEW: Duration = Duration::from_secs(10);
/// The Lease's duration.
pub const LEASE_DURATION_SECONDS: i32 = 40;
/// How often node status is computed (posted only on change or after
/// [`NODE_STATUS_REPORT`]).
pub const NODE_STATUS_UPDATE: Duration = Duration::from_secs(10);
/// Node status is posted at least this often.
pub const NODE_STATUS_REPORT: Duration = Duration::from_secs(300);
/// How often a pod worker looks at the runtime without an API event.
pub const POD_RESYNC: Duration = Duration::from_secs(1);

/// What the kubelet needs to run (the binary's flags).
#[derive(Debug, Clone)]
pub struct Options {
    /// `--kubeconfig`; `None`: infer (KUBECONFIG, in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// `--hostname-override`: the Node's name.
    pub hostname_override: Option<String>,
    /// `--node-ip`.
    pub node_ip: Option<String>,
    /// `--container-runtime-endpoint` (`unix:///run/containerd/containerd.sock`).
    pub container_runtime_endpoint: String,
    /// `--root-dir`.
    pub root_dir: PathBuf,
    /// `--cluster-dns`.
    pub cluster_dns: Vec<String>,
    /// `--cluster-domain`.
    pub cluster_domain: String,
    /// `--max-pods`.
    pub max_pods: u32,
    /// `--node-labels`.
    pub node_labels: BTreeMap<String, String>,
    /// `--register-with-taints`.
    pub register_with_taints: Vec<Taint>,
    /// `--cgroup-driver` (only `cgroupfs` works here).
    pub cgroup_driver: String,
    /// `--cgroup-root`: the pod cgroups go under `<root>/kubepods`.
    pub cgroup_root: String,
    /// `--pod-cidr`.
    pub pod_cidr: Option<String>,
    /// `--cni-conf-dir`: where the bridge conflist is written (`None`: never).
    pub cni_conf_dir: Option<PathBuf>,
    /// Where pod log directories go (upstream: /var/log/pods).
    pub pod_log_dir: PathBuf,
    /// `--resolv-conf`: the host DNS for dnsPolicy Default.
    pub resolv_conf: PathBuf,
    /// `--address`: where the kubelet API listens.
    pub address: std::net::IpAddr,
    /// `--port`: the kubelet API's HTTPS port (also the Node's
    /// `status.daemonEndpoints.kubeletEndpoint.Port`).
    pub port: u16,
    /// `--tls-cert-file`; with neither file a self-signed pair is made in
    /// `<root-dir>/pki`.
    pub tls_cert_file: Option<PathBuf>,
    /// `--tls-private-key-file`.
    pub tls_private_key_file: Option<PathBuf>,
    /// `--runtime`: `remote` (CRI at `container_runtime_endpoint`) or
    /// `fake` (the in-process [`fake::FakeRuntime`], a hollow node).
    pub runtime: String,
    /// Whether to serve the kubelet API (hollow nodes skip it).
    pub serve_api: bool,
    /// `--pod-manifest-path` / `staticPodPath`: static pod manifests.
    pub static_pod_path: Option<PathBuf>,
    /// `fileCheckFrequency`: how often the manifests are read again.
    pub file_check_frequency: Duration,
    /// `evictionHard` (signal -> threshold), parsed and reported; the
    /// eviction manager that would act on it is not built yet.
    pub eviction_hard: BTreeMap<String, String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            kubeconfig: None,
            hostname_override: None,
            node_ip: None,
            container_runtime_endpoint: "unix:///run/containerd/containerd.sock".into(),
            root_dir: "/var/lib/kubelet".into(),
            cluster_dns: Vec::new(),
            cluster_domain: "cluster.local".into(),
            max_pods: 110,
            node_labels: BTreeMap::new(),
            register_with_taints: Vec::new(),
            cgroup_driver: "cgroupfs".into(),
            cgroup_root: String::new(),
            pod_cidr: None,
            cni_conf_dir: Some("/etc/cni/net.d".into()),
            pod_log_dir: "/var/log/pods".into(),
            resolv_conf: "/etc/resolv.conf".into(),
            address: std::net::Ipv4Addr::UNSPECIFIED.into(),
            port: server::DEFAULT_PORT,
            tls_cert_file: None,
            tls_private_key_file: None,
            runtime: "remote".into(),
            serve_api: true,
            static_pod_path: None,
            file_check_frequency: static_pods::FILE_CHECK_FREQUENCY,
            eviction_hard: BTreeMap::new(),
        }
    }
}

impl Options {
    /// The Node's name: `--hostname-override`, else the host name, lower-cased.
    pub fn node_name(&self) -> String {
        self.hostname_override
            .clone()
            .unwrap_or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .unwrap_or_else(|_| "localhost".into())
            })
            .trim()
            .to_lowercase()
    }

    /// `--node-ip`, else the address of the default route's interface,
    /// else 127.0.0.1.
    pub fn node_ip(&self) -> String {
        if let Some(ip) = &self.node_ip {
            return ip.clone();
        }
        std::net::UdpSocket::bind("0.0.0.0:0")
            .and_then(|s| {
                s.connect("10.255.255.255:53")?;
                s.local_addr()
            })
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|_| "127.0.0.1".into())
    }
}

/// Why the kubelet stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag value is wrong.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// No usable client configuration.
    #[error("building the apiserver client from {context}: {source}")]
    Client {
        /// Where the configuration came from.
        context: String,
        /// The cause.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The container runtime could not be reached.
    #[error(transparent)]
    Runtime(#[from] cri::Error),
    /// The kubelet API could not be served (its port is taken, bad
    /// certificate files).
    #[error("kubelet server: {0}")]
    Server(#[from] server::ServerError),
    /// The apiserver refused something the kubelet cannot work without.
    #[error("apiserver: {0}")]
    Api(#[from] kube::Error),
}

/// Connects to the apiserver and the runtime, then [`run_with`].
pub async fn run(opts: Options, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    if opts.cgroup_driver != "cgroupfs" {
        return Err(Error::Config(format!(
            "--cgroup-driver={} is not supported (only cgroupfs)",
            opts.cgroup_driver
        )));
    }
    let cfg = match &opts.kubeconfig {
        Some(p) => {
            let kc = kube::config::Kubeconfig::read_from(p).map_err(|e| Error::Client {
                context: p.display().to_string(),
                source: Box::new(e),
            })?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| Error::Client {
                    context: p.display().to_string(),
                    source: Box::new(e),
                })?
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
    let runtime: Arc<dyn cri::Runtime> = match opts.runtime.as_str() {
        "remote" => {
            let socket = cri::parse_endpoint(&opts.container_runtime_endpoint)?;
            Arc::new(cri::CriRuntime::connect(&socket).await?)
        }
        "fake" => Arc::new(fake::FakeRuntime::new(&[])),
        other => {
            return Err(Error::Config(format!(
                "--runtime={other} is not supported (remote or fake)"
            )))
        }
    };
    run_with(client, runtime, opts, shutdown).await
}

/// Runs the kubelet with a client and a runtime until `shutdown` resolves.
pub async fn run_with(
    client: Client,
    runtime: Arc<dyn cri::Runtime>,
    opts: Options,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let node_name = opts.node_name();
    let node_ip = opts.node_ip();
    std::fs::create_dir_all(&opts.root_dir).ok();
    let version = runtime.version().await?;
    let mut machine = node::machine_info(
        &opts.root_dir,
        opts.max_pods,
        &format!("{}://{}", version.runtime_name, version.runtime_version),
    );
    let bound = if opts.serve_api {
        let b = server::bind(server::ServerConfig {
            address: opts.address,
            port: opts.port,
            tls_cert_file: opts.tls_cert_file.clone(),
            tls_private_key_file: opts.tls_private_key_file.clone(),
            cert_dir: opts.root_dir.join("pki"),
            node_name: node_name.clone(),
            node_ip: opts.node_ip(),
            pod_log_root: opts.pod_log_dir.clone(),
        })
        .await?;
        machine.kubelet_port = b.port();
        Some(b)
    } else {
        machine.kubelet_port = 0;
        None
    };
    let (recorder, event_rx) = events::Recorder::new();
    let events_task = tokio::spawn(events::write_events(
        client.clone(),
        node_name.clone(),
        event_rx,
    ));
    let (node_tx, node_rx) = watch::channel(None::<Node>);
    let (static_tx, static_rx) = watch::channel(None::<Vec<Pod>>);
    let static_task = match &opts.static_pod_path {
        Some(dir) => tokio::spawn(static_pods::watch_dir(
            dir.clone(),
            node_name.clone(),
            opts.file_check_frequency,
            static_tx,
        )),
        None => {
            // No manifests: an empty set, published once.
            let _ = static_tx.send(Some(Vec::new()));
            tokio::spawn(async move {
                let _keep = static_tx;
                std::future::pending::<()>().await
            })
        }
    };
    let ctx = NodeContext {
        node_name: node_name.clone(),
        node_ip: node_ip.clone(),
        cluster_dns: opts.cluster_dns.clone(),
        cluster_domain: opts.cluster_domain.clone(),
        cgroup_root: opts.cgroup_root.clone(),
        pod_log_root: opts.pod_log_dir.clone(),
        resolv_conf: opts.resolv_conf.clone(),
        memory_capacity: node::memory_bytes(),
    };
    let syncer = PodSyncer {
        runtime: runtime.clone(),
        node: ctx,
        runtime_name: version.runtime_name.clone(),
        objects: Arc::new(objects::CachedObjects::new(objects::KubeObjects::new(
            client.clone(),
        ))),
        root_dir: opts.root_dir.clone(),
        events: recorder,
    };
    tracing::info!(node = %node_name, ip = %node_ip, runtime = %version.runtime_name, "kubelet starting");

    let node_task = tokio::spawn(node_loop(
        client.clone(),
        runtime.clone(),
        opts.clone(),
        node_name.clone(),
        node_ip,
        machine,
        node_tx,
    ));
    let lease_task = tokio::spawn(lease_loop(client.clone(), node_name.clone()));
    let api_task = bound.map(|b| tokio::spawn(server::serve(b, runtime.clone(), client.clone())));
    let pods_task = tokio::spawn(pod_manager(
        client,
        syncer,
        node_name.clone(),
        node_rx,
        static_rx,
    ));
    shutdown.await;
    tracing::info!(node = %node_name, "kubelet shutting down");
    node_task.abort();
    lease_task.abort();
    if let Some(t) = api_task {
        t.abort();
    }
    pods_task.abort();
    static_task.abort();
    events_task.abort();
    Ok(())
}

async fn register(client: &Client, opts: &Options, name: &str) -> Result<Node, kube::Error> {
    let api: Api<Node> = Api::all(client.clone());
    let want = node::initial_node(
        name,
        &opts.node_labels,
        &opts.register_with_taints,
        opts.pod_cidr.as_deref(),
    );
    match api.create(&PostParams::default(), &want).await {
        Ok(n) => {
            tracing::info!(node = %name, "registered the node");
            Ok(n)
        }
        Err(kube::Error::Api(e)) if e.code == 409 => {
            // Already registered: make sure our labels are there.
            let labels = want.metadata.labels.clone().unwrap_or_default();
            api.patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"metadata": {"labels": labels}})),
            )
            .await
        }
        Err(e) => Err(e),
    }
}

async fn node_loop(
    client: Client,
    runtime: Arc<dyn cri::Runtime>,
    opts: Options,
    name: String,
    node_ip: String,
    machine: node::MachineInfo,
    node_tx: watch::Sender<Option<Node>>,
) {
    let api: Api<Node> = Api::all(client.clone());
    let hostname = opts.node_name();
    let mut registered: Option<Node> = None;
    let mut last_posted: Option<(k8s_openapi::api::core::v1::NodeStatus, Instant)> = None;
    let mut cidr_written: Option<String> = None;
    loop {
        if registered.is_none() {
            match register(&client, &opts, &name).await {
                Ok(n) => registered = Some(n),
                Err(e) => {
                    tracing::warn!("registering node {name}: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        // The pod network configuration, once the CIDR is known. Until node
        // IPAM has assigned one, look at the Node again each round (status
        // posts, which also refresh it, are rare when nothing changes).
        if opts.pod_cidr.is_none()
            && registered
                .as_ref()
                .and_then(|n| n.spec.as_ref())
                .and_then(|s| s.pod_cidr.as_ref())
                .is_none()
        {
            if let Ok(n) = api.get(&name).await {
                registered = Some(n);
            }
        }
        let cidr = opts.pod_cidr.clone().or_else(|| {
            registered
                .as_ref()
                .and_then(|n| n.spec.as_ref())
                .and_then(|s| s.pod_cidr.clone())
        });
        if let (Some(cidr), Some(dir)) = (&cidr, &opts.cni_conf_dir) {
            if cidr_written.as_ref() != Some(cidr) {
                match cni::write_conf(dir, cidr) {
                    Ok(p) => {
                        tracing::info!(?p, %cidr, "CNI configuration in place");
                        if let Err(e) = runtime.update_runtime_config(cidr).await {
                            tracing::warn!("UpdateRuntimeConfig: {e}");
                        }
                        cidr_written = Some(cidr.clone());
                    }
                    Err(e) => tracing::warn!("writing the CNI configuration: {e}"),
                }
            }
        }
        let status = runtime.status().await.map_err(|e| e.to_string());
        let health = node::runtime_health(status.as_ref().map_err(|e| e.clone()));
        let old = last_posted.as_ref().map(|(s, _)| s);
        let new = node::node_status(&machine, &node_ip, &hostname, &health, old);
        let changed =
            old.is_none_or(|o| node::without_heartbeats(o) != node::without_heartbeats(&new));
        let stale = last_posted
            .as_ref()
            .is_none_or(|(_, t)| t.elapsed() >= NODE_STATUS_REPORT);
        if changed || stale {
            let patch = serde_json::json!({"status": new});
            match api
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(n) => {
                    registered = Some(n);
                    last_posted = Some((new, Instant::now()));
                }
                Err(kube::Error::Api(e)) if e.code == 404 => {
                    tracing::warn!("node {name} is gone; registering again");
                    registered = None;
                    continue;
                }
                Err(e) => tracing::warn!("posting node status: {e}"),
            }
        } else if let Ok(n) = api.get(&name).await {
            registered = Some(n);
        }
        if registered.is_some() {
            node_tx.send_replace(registered.clone());
        }
        let wait = if health.problem.is_some() {
            Duration::from_secs(1)
        } else {
            NODE_STATUS_UPDATE
        };
        tokio::time::sleep(wait).await;
    }
}

async fn lease_loop(client: Client, name: String) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let nodes: Api<Node> = Api::all(client);
    loop {
        let result = async {
            match leases.get_opt(&name).await? {
                Some(mut l) => {
                    let spec = l.spec.get_or_insert_with(Default::default);
                    spec.holder_identity = Some(name.clone());
                    spec.lease_duration_seconds = Some(LEASE_DURATION_SECONDS);
                    spec.renew_time =
                        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
                            k8s_openapi::jiff::Timestamp::now(),
                        ));
                    leases.replace(&name, &PostParams::default(), &l).await
                }
                None => {
                    let node = match nodes.get_opt(&name).await? {
                        Some(n) => n,
                        None => Node {
                            metadata: kube::api::ObjectMeta {
                                name: Some(name.clone()),
                                ..Default::default()
                            },
                            ..Default::default()
                        },
                    };
                    leases
                        .create(
                            &PostParams::default(),
                            &node::lease(&node, LEASE_DURATION_SECONDS),
                        )
                        .await
                }
            }
        }
        .await;
        let wait = match result {
            Ok(_) => LEASE_RENEW,
            Err(e) => {
                tracing::warn!("renewing lease {name}: {e}");
                Duration::from_millis(500)
            }
        };
        tokio::time::sleep(wait).await;
    }
}

struct Worker {
    tx: watch::Sender<Option<Pod>>,
    task: tokio::task::JoinHandle<()>,
}

fn is_terminal(p: &Pod) -> bool {
    matches!(
        p.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

/// The pods that hold node resources: admitted, not finished.
fn active_pods(workers: &HashMap<String, Worker>) -> Vec<Pod> {
    workers
        .values()
        .filter(|w| !w.task.is_finished())
        .filter_map(|w| w.tx.borrow().clone())
        .filter(|p| !is_terminal(p))
        .collect()
}

/// Where a pod came from, which decides where its status goes.
#[derive(Clone)]
enum Source {
    /// The apiserver: status to the pod itself.
    Api,
    /// A manifest file: status to its mirror pod, owned by this Node.
    File(watch::Receiver<Option<Node>>),
}

/// What the pod manager shares with every worker it starts.
struct Manager {
    client: Client,
    syncer: PodSyncer,
    node: watch::Receiver<Option<Node>>,
    workers: HashMap<String, Worker>,
    /// Pods refused by admission (their status says so; never started).
    rejected: std::collections::HashSet<String>,
    /// The static pods by uid.
    statics: HashMap<String, Pod>,
}

impl Manager {
    /// Starts or updates the worker of a pod, admitting it first when it
    /// is new, not finished and not being deleted.
    async fn offer(&mut self, pod: Pod, source: Source) {
        let Some(uid) = pod.metadata.uid.clone() else {
            return;
        };
        let running = self
            .workers
            .get(&uid)
            .is_some_and(|w| !w.task.is_finished());
        if !running && pod.metadata.deletion_timestamp.is_none() && !is_terminal(&pod) {
            if self.rejected.contains(&uid) {
                return;
            }
            let node = self.node.borrow().clone();
            if let Some(node) = node {
                let active = active_pods(&self.workers);
                let refs: Vec<&Pod> = active.iter().collect();
                let is_static = matches!(source, Source::File(_));
                if let Err(r) = admission::admit(&node, &refs, &pod, is_static) {
                    self.reject(&pod, r).await;
                    return;
                }
            }
        }
        if let Some(w) = self.workers.get(&uid) {
            if !w.task.is_finished() {
                let _ = w.tx.send(Some(pod));
                return;
            }
        }
        let (tx, rx) = watch::channel(Some(pod));
        let task = tokio::spawn(pod_worker(
            self.client.clone(),
            self.syncer.clone(),
            rx,
            source,
        ));
        self.workers.insert(uid, Worker { tx, task });
    }

    /// Upstream's rejectPod: a Warning event and phase Failed with the
    /// reason, the containers never started.
    async fn reject(&mut self, pod: &Pod, r: admission::Rejection) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        tracing::info!(pod = %format!("{ns}/{name}"), reason = %r.reason, "pod rejected: {}", r.message);
        self.rejected.insert(uid);
        self.syncer
            .events
            .warning(events::pod_ref(pod, None), &r.reason, r.message.clone());
        if static_pods::is_static(pod) {
            return;
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let patch = serde_json::json!({"status": {
            "phase": "Failed",
            "reason": r.reason,
            "message": format!("Pod was rejected: {}", r.message),
            "qosClass": pod::qos_class(pod).as_str(),
        }});
        if let Err(e) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            tracing::warn!("marking rejected pod {ns}/{name} failed: {e}");
        }
    }

    /// The static pods are now `pods`: new ones start, vanished ones stop.
    async fn set_statics(&mut self, pods: Vec<Pod>) {
        let new: HashMap<String, Pod> = pods
            .into_iter()
            .filter_map(|p| Some((p.metadata.uid.clone()?, p)))
            .collect();
        let gone: Vec<Pod> = self
            .statics
            .iter()
            .filter(|(uid, _)| !new.contains_key(*uid))
            .map(|(_, p)| p.clone())
            .collect();
        for mut p in gone {
            let uid = p.metadata.uid.clone().unwrap_or_default();
            tracing::info!(pod = ?p.metadata.name, "static pod manifest removed; stopping it");
            p.metadata.deletion_timestamp = Some(sync::now_time());
            if let Some(w) = self.workers.get(&uid) {
                let _ = w.tx.send(Some(p));
            }
            self.statics.remove(&uid);
            self.rejected.remove(&uid);
        }
        for (uid, p) in new {
            if self.statics.get(&uid) == Some(&p) {
                continue;
            }
            self.statics.insert(uid, p.clone());
            self.offer(p, Source::File(self.node.clone())).await;
        }
    }
}

/// Watches the node's pods (and the static pod manifests) and keeps one
/// worker per pod uid.
async fn pod_manager(
    client: Client,
    syncer: PodSyncer,
    node_name: String,
    mut node: watch::Receiver<Option<Node>>,
    mut statics: watch::Receiver<Option<Vec<Pod>>>,
) {
    // Admission needs the Node's allocatable, labels and taints.
    if node.wait_for(|n| n.is_some()).await.is_err() {
        return;
    }
    let api: Api<Pod> = Api::all(client.clone());
    let cfg = watcher::Config::default().fields(&format!("spec.nodeName={node_name}"));
    let mut stream = Box::pin(watcher(api, cfg));
    let mut m = Manager {
        client,
        syncer,
        node,
        workers: HashMap::new(),
        rejected: Default::default(),
        statics: HashMap::new(),
    };
    let mut init_uids: Vec<String> = Vec::new();
    let mut housekeeping = tokio::time::interval(Duration::from_secs(10));
    // Orphans are judged only against a complete list of the node's pods.
    let mut listed = false;
    let mut statics_open = true;
    loop {
        tokio::select! {
            ev = stream.next() => {
                let Some(ev) = ev else { break };
                match ev {
                    Ok(watcher::Event::Apply(p)) | Ok(watcher::Event::InitApply(p)) => {
                        // Mirror pods are our own reflection of static pods.
                        if static_pods::is_mirror(&p) {
                            continue;
                        }
                        if let Some(uid) = p.metadata.uid.clone() {
                            init_uids.push(uid);
                            m.offer(p, Source::Api).await;
                        }
                    }
                    Ok(watcher::Event::Delete(p)) => {
                        if static_pods::is_mirror(&p) {
                            continue;
                        }
                        if let Some(uid) = p.metadata.uid.clone() {
                            m.rejected.remove(&uid);
                            if let Some(w) = m.workers.get(&uid) {
                                let _ = w.tx.send(None);
                            }
                        }
                    }
                    Ok(watcher::Event::Init) => init_uids.clear(),
                    Ok(watcher::Event::InitDone) => {
                        listed = true;
                        // Pods gone while we were not watching.
                        for (uid, w) in &m.workers {
                            if !init_uids.contains(uid) && !m.statics.contains_key(uid) {
                                let _ = w.tx.send(None);
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!("pod watch: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
            changed = statics.changed(), if statics_open => {
                if changed.is_err() {
                    statics_open = false;
                    continue;
                }
                let pods = statics.borrow_and_update().clone();
                if let Some(pods) = pods {
                    m.set_statics(pods).await;
                }
            }
            _ = housekeeping.tick(), if listed => {
                m.workers.retain(|_, w| !w.task.is_finished());
                let syncer = &m.syncer;
                // Sandboxes of pods this kubelet no longer has.
                if let Ok(uids) = syncer.runtime_pod_uids().await {
                    for (uid, name) in uids {
                        if !m.workers.contains_key(&uid) {
                            tracing::info!(pod = %name, %uid, "removing an orphaned pod from the runtime");
                            if let Err(e) = syncer.kill_pod(&uid, Duration::from_secs(2)).await {
                                tracing::warn!("removing orphaned pod {name}: {e}");
                            }
                        }
                    }
                }
                // Volume directories of pods this kubelet no longer has.
                for uid in volumes::pod_dirs(&syncer.root_dir) {
                    if !m.workers.contains_key(&uid) {
                        tracing::info!(%uid, "removing an orphaned pod directory");
                        if let Err(e) = volumes::cleanup_pod(&syncer.root_dir, &uid) {
                            tracing::warn!(%uid, "removing an orphaned pod directory: {e}");
                        }
                    }
                }
            }
        }
    }
}

/// How many resyncs pass between checks that a static pod's mirror pod is
/// still in the API (when nothing else changed).
const MIRROR_CHECK_EVERY: u32 = 5;

/// One pod's worker: syncs on every change and every [`POD_RESYNC`],
/// terminates the pod when it is being deleted, and ends when it is gone.
async fn pod_worker(
    client: Client,
    syncer: PodSyncer,
    mut rx: watch::Receiver<Option<Pod>>,
    source: Source,
) {
    let mut state = PodState::default();
    let mut last_status: Option<serde_json::Value> = None;
    let mut last_uid = String::new();
    let mut ticks: u32 = 0;
    loop {
        ticks = ticks.wrapping_add(1);
        let current = rx.borrow_and_update().clone();
        let Some(pod) = current else {
            // Deleted from the API: remove whatever still runs.
            if !last_uid.is_empty() {
                if let Err(e) = syncer.kill_pod(&last_uid, Duration::from_secs(2)).await {
                    tracing::warn!(uid = %last_uid, "cleaning up a deleted pod: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
            return;
        };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        last_uid = uid.clone();
        let ns = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let name = pod.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        if pod.metadata.deletion_timestamp.is_some() {
            let grace = pod
                .metadata
                .deletion_grace_period_seconds
                .or_else(|| {
                    pod.spec
                        .as_ref()
                        .and_then(|s| s.termination_grace_period_seconds)
                })
                .unwrap_or(30)
                .max(1) as u64;
            tracing::info!(pod = %format!("{ns}/{name}"), grace, "terminating pod");
            // No probe may restart what is being stopped.
            state.stop_probes();
            match syncer.kill_pod(&uid, Duration::from_secs(grace)).await {
                Ok(()) => {
                    let deleted = match &source {
                        // The manifest is gone: so goes its mirror.
                        Source::File(_) => static_pods::delete_own_mirror(&api, &name, &uid).await,
                        Source::Api => {
                            let dp = DeleteParams {
                                grace_period_seconds: Some(0),
                                preconditions: Some(Preconditions {
                                    uid: Some(uid.clone()),
                                    resource_version: None,
                                }),
                                ..Default::default()
                            };
                            match api.delete(&name, &dp).await {
                                Ok(_) => Ok(()),
                                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {
                                    Ok(())
                                }
                                Err(e) => Err(e),
                            }
                        }
                    };
                    if let Err(e) = deleted {
                        tracing::warn!("deleting pod {ns}/{name}: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                    let _ = std::fs::remove_dir_all(pod::pod_log_dir(&pod, &syncer.node));
                    if matches!(source, Source::File(_)) {
                        return;
                    }
                    // Wait for the watch to report it gone.
                    if rx.changed().await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!("stopping pod {ns}/{name}: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            continue;
        }
        match syncer.sync_pod(&pod, &mut state).await {
            Ok(status) => {
                let value = serde_json::to_value(&status).unwrap_or_default();
                let mut changed = last_status.as_ref() != Some(&value);
                if let Source::File(node) = &source {
                    // The mirror pod: there, current, and carrying the status.
                    if changed || ticks % MIRROR_CHECK_EVERY == 0 {
                        let node = node.borrow().clone();
                        if let Some(node) = node {
                            match static_pods::ensure_mirror(&api, &pod, &node).await {
                                Ok(true) => changed = true,
                                Ok(false) => {}
                                Err(e) => {
                                    tracing::warn!("mirror pod {ns}/{name}: {e}");
                                    changed = false;
                                }
                            }
                        }
                    }
                }
                if changed {
                    let patch = serde_json::json!({"status": value});
                    match api
                        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                    {
                        Ok(_) => last_status = Some(value),
                        Err(e) => tracing::warn!("updating status of {ns}/{name}: {e}"),
                    }
                }
            }
            Err(e) => tracing::warn!("syncing pod {ns}/{name}: {e}"),
        }
        let _ = tokio::time::timeout(POD_RESYNC, rx.changed()).await;
        if rx.has_changed().is_err() && rx.borrow().is_some() {
            // The manager is gone (shutdown).
            return;
        }
    }
}
