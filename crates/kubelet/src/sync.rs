//! One pod's sync against the container runtime: sandbox, init containers
//! in order, app containers with restarts and back-off, and the pod status
//! computed from what the runtime reports. Level-triggered: everything is
//! found again through the runtime's labels on every sync.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cri::api::{self, ContainerState, PodSandboxState};
use cri::Runtime;
use k8s_openapi::api::core::v1::{
    Container, ContainerState as KState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::events::{self, pod_ref, Recorder};
use crate::objects::Objects;
use crate::pod::{self, NodeContext, LABEL_POD_UID};
use crate::probes::{self, ContainerProbes};
use crate::volumes::{self, HostVolume};

/// The first restart back-off (upstream: 10 s).
pub const BACKOFF_INITIAL: Duration = Duration::from_secs(10);
/// The largest restart back-off (upstream: 5 min).
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// How long a failed pull keeps showing `ErrImagePull` before
/// `ImagePullBackOff` (at most half the back-off): upstream's worker
/// re-syncs a failed pod only after its error back-off, so the error
/// stays visible for a while; this kubelet re-syncs every second.
pub const ERR_IMAGE_PULL_HOLD: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
struct Backoff {
    delay: Duration,
    last_update: SystemTime,
    /// The last failure's message (image pulls report it for a while).
    message: String,
}

/// What a pod worker remembers between syncs (everything else is read from
/// the runtime each time).
#[derive(Debug, Default)]
pub struct PodState {
    backoff: HashMap<String, Backoff>,
    start_time: Option<Time>,
    /// Volumes set up at least once (kept when a later refresh fails).
    volumes: HashMap<String, HostVolume>,
    /// Probe workers per container name, for its current instance.
    probes: HashMap<String, ContainerProbes>,
}

impl PodState {
    /// Stops every probe worker (the pod is terminating).
    pub fn stop_probes(&mut self) {
        self.probes.clear();
    }

    /// `Some(delay)` when `key` is still backing off since `since`.
    fn in_backoff(&self, key: &str, since: SystemTime, now: SystemTime) -> Option<Duration> {
        let b = self.backoff.get(key)?;
        let elapsed = now.duration_since(since).unwrap_or_default();
        (elapsed < b.delay).then_some(b.delay)
    }

    /// Records one more failure of `key`: 10 s, doubling to 5 min, reset
    /// when nothing happened for twice the maximum.
    fn next(&mut self, key: &str, now: SystemTime) {
        let delay = match self.backoff.get(key) {
            Some(b) if now.duration_since(b.last_update).unwrap_or_default() <= 2 * BACKOFF_MAX => {
                (b.delay * 2).min(BACKOFF_MAX)
            }
            _ => BACKOFF_INITIAL,
        };
        self.backoff.insert(
            key.to_string(),
            Backoff {
                delay,
                last_update: now,
                message: String::new(),
            },
        );
    }
}

/// Syncs pods against a runtime.
#[derive(Clone)]
pub struct PodSyncer {
    /// The container runtime.
    pub runtime: Arc<dyn Runtime>,
    /// Node facts (DNS, cgroups, log directories).
    pub node: NodeContext,
    /// The runtime's name for container ids (`containerd://<id>`).
    pub runtime_name: String,
    /// ConfigMaps, Secrets, PVCs, PVs and tokens for volumes and env.
    pub objects: Arc<dyn Objects>,
    /// `--root-dir`: pod volumes go under `<root>/pods/<uid>/volumes`.
    pub root_dir: std::path::PathBuf,
    /// Where the pod's Events go.
    pub events: Recorder,
}

/// A container instance as the runtime reports it.
#[derive(Debug, Clone)]
struct Instance {
    status: api::ContainerStatus,
}

impl Instance {
    fn attempt(&self) -> u32 {
        self.status
            .metadata
            .as_ref()
            .map(|m| m.attempt)
            .unwrap_or(0)
    }
    fn state(&self) -> ContainerState {
        self.status.state()
    }
}

fn nanos_to_time(n: i64) -> Option<Time> {
    (n > 0)
        .then(|| Timestamp::from_second(n / 1_000_000_000).ok().map(Time))
        .flatten()
}

fn nanos_to_system(n: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(n.max(0) as u64)
}

/// Now, at the second precision `Time` serialises with.
pub fn now_time() -> Time {
    let t = Timestamp::now();
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

/// Pull policy after upstream defaulting: `Always` for `:latest` or an
/// untagged image, else `IfNotPresent`.
pub fn pull_policy(c: &Container) -> String {
    if let Some(p) = &c.image_pull_policy {
        return p.clone();
    }
    let image = c.image.as_deref().unwrap_or_default();
    let last = image.rsplit('/').next().unwrap_or_default();
    let tagged = last.contains(':') && !last.ends_with(":latest");
    if tagged || image.contains('@') {
        "IfNotPresent".into()
    } else {
        "Always".into()
    }
}

/// A waiting reason decided during this sync.
type Waiting = HashMap<String, (String, String)>;

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

/// The pod's termination grace period in seconds (at least 1).
fn pod_grace(pod: &Pod) -> u64 {
    pod.spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30)
        .max(1) as u64
}

fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

fn pod_key(pod: &Pod) -> String {
    format!(
        "{}_{}({})",
        pod.metadata.name.as_deref().unwrap_or_default(),
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.uid.as_deref().unwrap_or_default()
    )
}

impl PodSyncer {
    fn uid_filter(uid: &str) -> api::PodSandboxFilter {
        api::PodSandboxFilter {
            label_selector: HashMap::from([(LABEL_POD_UID.to_string(), uid.to_string())]),
            ..Default::default()
        }
    }

    /// The pod's sandboxes, newest first.
    async fn sandboxes(&self, uid: &str) -> cri::Result<Vec<api::PodSandbox>> {
        let mut s = self
            .runtime
            .list_pod_sandbox(Some(Self::uid_filter(uid)))
            .await?;
        s.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(s)
    }

    /// The sandbox's containers by name, newest attempt first.
    async fn instances(&self, sandbox_id: &str) -> cri::Result<HashMap<String, Vec<Instance>>> {
        let list = self
            .runtime
            .list_containers(Some(api::ContainerFilter {
                pod_sandbox_id: sandbox_id.to_string(),
                ..Default::default()
            }))
            .await?;
        let mut by_name: HashMap<String, Vec<Instance>> = HashMap::new();
        for c in list {
            let status = match self.runtime.container_status(&c.id).await {
                Ok(s) => s,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            let name = status
                .metadata
                .as_ref()
                .map(|m| m.name.clone())
                .unwrap_or_default();
            by_name.entry(name).or_default().push(Instance { status });
        }
        for v in by_name.values_mut() {
            v.sort_by_key(|i| std::cmp::Reverse((i.attempt(), i.status.created_at)));
        }
        Ok(by_name)
    }

    /// Brings the runtime in line with the pod and returns its status.
    pub async fn sync_pod(&self, pod: &Pod, state: &mut PodState) -> cri::Result<PodStatus> {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if state.start_time.is_none() {
            state.start_time = pod
                .status
                .as_ref()
                .and_then(|s| s.start_time.clone())
                .or_else(|| Some(now_time()));
        }
        let sandboxes = self.sandboxes(&uid).await?;
        if is_terminal(pod) {
            state.probes.clear();
            // Finished: nothing runs any more; the status stays as it was.
            for s in sandboxes
                .iter()
                .filter(|s| s.state() == PodSandboxState::SandboxReady)
            {
                self.runtime.stop_pod_sandbox(&s.id).await?;
            }
            return Ok(pod.status.clone().unwrap_or_default());
        }
        // Volumes first, as upstream's WaitForAttachAndMount: a volume that
        // never came up keeps every container from starting.
        let prepared = volumes::prepare(&self.root_dir, pod, &self.node, &*self.objects).await;
        state.volumes.extend(prepared.volumes);
        let blocking: Vec<String> = prepared
            .errors
            .iter()
            .filter(|(name, _)| !state.volumes.contains_key(name))
            .map(|(_, msg)| msg.clone())
            .collect();
        for (_, msg) in &prepared.errors {
            tracing::warn!(pod = %pod_key(pod), "{msg}");
        }
        for msg in &blocking {
            self.events
                .warning(pod_ref(pod, None), "FailedMount", msg.clone());
        }
        let ready_sandbox = sandboxes
            .iter()
            .any(|s| s.state() == PodSandboxState::SandboxReady);
        if !blocking.is_empty() && !ready_sandbox {
            let message = blocking.join("; ");
            let waiting: Waiting = pod::all_containers(pod)
                .map(|c| (c.name.clone(), (String::new(), message.clone())))
                .collect();
            return Ok(self.compute_status(pod, state, &HashMap::new(), &waiting, &[], false));
        }
        let attempt = sandboxes.len() as u32;
        let mut sandbox_config = pod::sandbox_config(pod, &self.node, attempt);
        let sandbox_id = match sandboxes
            .iter()
            .find(|s| s.state() == PodSandboxState::SandboxReady)
        {
            Some(s) => {
                if let Some(m) = sandbox_config.metadata.as_mut() {
                    m.attempt = s.metadata.as_ref().map(|m| m.attempt).unwrap_or(0);
                }
                s.id.clone()
            }
            None => {
                std::fs::create_dir_all(&sandbox_config.log_directory).ok();
                for s in &sandboxes {
                    // A dead sandbox: its containers go with it.
                    self.runtime.stop_pod_sandbox(&s.id).await.ok();
                }
                tracing::info!(pod = %pod_key(pod), attempt, "creating the pod sandbox");
                self.runtime.run_pod_sandbox(&sandbox_config, "").await?
            }
        };
        let sandbox_status = self.runtime.pod_sandbox_status(&sandbox_id).await?;
        let mut ips: Vec<String> = Vec::new();
        if let Some(n) = &sandbox_status.network {
            if !n.ip.is_empty() {
                ips.push(n.ip.clone());
            }
            ips.extend(n.additional_ips.iter().map(|i| i.ip.clone()));
        }
        let host_network = pod
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false);
        if host_network {
            ips = vec![self.node.node_ip.clone()];
        }
        let pod_ip = ips.first().cloned().unwrap_or_default();

        let spec = pod.spec.clone().unwrap_or_default();
        let policy = restart_policy(pod).to_string();
        let mut instances = self.instances(&sandbox_id).await?;
        let mut waiting: Waiting = HashMap::new();
        if !blocking.is_empty() {
            // A volume is still missing: start nothing new.
            let message = blocking.join("; ");
            for c in pod::all_containers(pod) {
                let running = instances
                    .get(&c.name)
                    .and_then(|v| v.first())
                    .is_some_and(|i| i.state() == ContainerState::ContainerRunning);
                if !running {
                    waiting.insert(c.name.clone(), (String::new(), message.clone()));
                }
            }
            let status = self.compute_status(pod, state, &instances, &waiting, &ips, true);
            return Ok(status);
        }
        if self
            .run_probes(pod, &spec.containers, &instances, &pod_ip, state)
            .await
        {
            instances = self.instances(&sandbox_id).await?;
        }
        let now = SystemTime::now();

        // Init containers, one at a time, each to success.
        let mut init_done = true;
        for c in spec.init_containers.iter().flatten() {
            let latest = instances.get(&c.name).and_then(|v| v.first());
            match latest {
                None => {
                    self.start(
                        pod,
                        c,
                        &sandbox_id,
                        &sandbox_config,
                        &pod_ip,
                        0,
                        state,
                        &mut waiting,
                    )
                    .await;
                    init_done = false;
                    break;
                }
                Some(i) if i.state() != ContainerState::ContainerExited => {
                    init_done = false;
                    break;
                }
                Some(i) if i.status.exit_code == 0 => continue,
                Some(i) => {
                    init_done = false;
                    if policy != "Never" {
                        self.restart(
                            pod,
                            c,
                            i,
                            &sandbox_id,
                            &sandbox_config,
                            &pod_ip,
                            state,
                            &mut waiting,
                            now,
                        )
                        .await;
                    }
                    break;
                }
            }
        }
        if init_done {
            for c in &spec.containers {
                let latest = instances.get(&c.name).and_then(|v| v.first());
                match latest {
                    None => {
                        self.start(
                            pod,
                            c,
                            &sandbox_id,
                            &sandbox_config,
                            &pod_ip,
                            0,
                            state,
                            &mut waiting,
                        )
                        .await;
                    }
                    Some(i) if i.state() == ContainerState::ContainerCreated => {
                        if let Err(e) = self.runtime.start_container(&i.status.id).await {
                            waiting.insert(
                                c.name.clone(),
                                ("RunContainerError".into(), e.to_string()),
                            );
                        }
                    }
                    Some(i) if i.state() == ContainerState::ContainerExited => {
                        let restart = policy == "Always"
                            || (policy == "OnFailure" && i.status.exit_code != 0);
                        if restart {
                            self.restart(
                                pod,
                                c,
                                i,
                                &sandbox_id,
                                &sandbox_config,
                                &pod_ip,
                                state,
                                &mut waiting,
                                now,
                            )
                            .await;
                        }
                    }
                    Some(_) => {}
                }
            }
        }

        // What the runtime reports now.
        let instances = self.instances(&sandbox_id).await?;
        let sandbox_ready = sandbox_status.state() == PodSandboxState::SandboxReady;
        let status = self.compute_status(pod, state, &instances, &waiting, &ips, sandbox_ready);
        if matches!(status.phase.as_deref(), Some("Succeeded") | Some("Failed")) {
            tracing::info!(pod = %pod_key(pod), phase = ?status.phase, "pod finished; stopping its sandbox");
            self.runtime.stop_pod_sandbox(&sandbox_id).await?;
        }
        Ok(status)
    }

    #[allow(clippy::too_many_arguments)]
    async fn restart(
        &self,
        pod: &Pod,
        c: &Container,
        last: &Instance,
        sandbox_id: &str,
        sandbox_config: &api::PodSandboxConfig,
        pod_ip: &str,
        state: &mut PodState,
        waiting: &mut Waiting,
        now: SystemTime,
    ) {
        let finished = nanos_to_system(last.status.finished_at);
        if let Some(delay) = state.in_backoff(&c.name, finished, now) {
            self.events.warning(
                pod_ref(pod, Some(&c.name)),
                "BackOff",
                format!(
                    "Back-off restarting failed container {} in pod {}",
                    c.name,
                    pod_key(pod)
                ),
            );
            waiting.insert(
                c.name.clone(),
                (
                    "CrashLoopBackOff".into(),
                    format!(
                        "back-off {}s restarting failed container={} pod={}",
                        delay.as_secs(),
                        c.name,
                        pod_key(pod)
                    ),
                ),
            );
            return;
        }
        state.next(&c.name, now);
        let attempt = last.attempt() + 1;
        tracing::info!(pod = %pod_key(pod), container = %c.name, attempt, "restarting container");
        self.start(
            pod,
            c,
            sandbox_id,
            sandbox_config,
            pod_ip,
            attempt,
            state,
            waiting,
        )
        .await;
    }

    /// Pulls the image as the policy says, creates and starts the container.
    #[allow(clippy::too_many_arguments)]
    async fn start(
        &self,
        pod: &Pod,
        c: &Container,
        sandbox_id: &str,
        sandbox_config: &api::PodSandboxConfig,
        pod_ip: &str,
        attempt: u32,
        state: &mut PodState,
        waiting: &mut Waiting,
    ) {
        let cref = pod_ref(pod, Some(&c.name));
        if let Err((reason, message)) = self.ensure_image(&cref, c, sandbox_config, state).await {
            self.events
                .warning(cref.clone(), "Failed", format!("Error: {reason}"));
            waiting.insert(c.name.clone(), (reason, message));
            return;
        }
        let image = c.image.clone().unwrap_or_default();
        let env = match pod::container_env(pod, c, &self.node, pod_ip, &*self.objects).await {
            Ok(env) => env,
            Err(e) => {
                self.events
                    .warning(cref.clone(), "Failed", format!("Error: {e}"));
                waiting.insert(
                    c.name.clone(),
                    ("CreateContainerConfigError".into(), e.to_string()),
                );
                return;
            }
        };
        let prepared = volumes::Prepared {
            volumes: state.volumes.clone(),
            errors: Vec::new(),
        };
        let mounts = match volumes::container_mounts(c, &prepared, &env) {
            Ok(m) => m,
            Err(e) => {
                self.events
                    .warning(cref.clone(), "Failed", format!("Error: {e}"));
                waiting.insert(c.name.clone(), ("CreateContainerConfigError".into(), e));
                return;
            }
        };
        let config = pod::container_config(
            pod,
            c,
            &self.node,
            sandbox_config,
            &image,
            &env,
            mounts,
            attempt,
        );
        std::fs::create_dir_all(Path::new(&sandbox_config.log_directory).join(&c.name)).ok();
        // Keep the previous instance (for `logs --previous`), drop older ones.
        if attempt >= 2 {
            if let Ok(list) = self
                .runtime
                .list_containers(Some(api::ContainerFilter {
                    pod_sandbox_id: sandbox_id.to_string(),
                    ..Default::default()
                }))
                .await
            {
                for old in list.iter().filter(|o| {
                    o.metadata
                        .as_ref()
                        .is_some_and(|m| m.name == c.name && m.attempt + 1 < attempt)
                }) {
                    self.runtime.remove_container(&old.id).await.ok();
                }
            }
        }
        let id = match self
            .runtime
            .create_container(sandbox_id, &config, sandbox_config)
            .await
        {
            Ok(id) => id,
            Err(e) => {
                self.events
                    .warning(cref.clone(), "Failed", format!("Error: {e}"));
                waiting.insert(
                    c.name.clone(),
                    ("CreateContainerError".into(), e.to_string()),
                );
                return;
            }
        };
        self.events.normal(
            cref.clone(),
            "Created",
            format!("Created container: {}", c.name),
        );
        if let Err(e) = self.runtime.start_container(&id).await {
            self.events
                .warning(cref.clone(), "Failed", format!("Error: {e}"));
            waiting.insert(c.name.clone(), ("RunContainerError".into(), e.to_string()));
            return;
        }
        self.events.normal(
            cref.clone(),
            "Started",
            format!("Started container {}", c.name),
        );
        if let Some(h) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) {
            let target = probes::Target {
                runtime: self.runtime.clone(),
                container_id: id.clone(),
                pod_ip: pod_ip.to_string(),
                ports: c.ports.clone().unwrap_or_default(),
            };
            // No limit for exec hooks (as upstream); HTTP ones get 30 s.
            if let Err(msg) = probes::run_hook(&target, h, Duration::ZERO).await {
                self.events.warning(
                    cref.clone(),
                    "FailedPostStartHook",
                    format!("PostStartHook failed: {msg}"),
                );
                let msg = format!("PostStartHook failed: {msg}");
                tracing::warn!(pod = %pod_key(pod), container = %c.name, "{msg}");
                let grace = Duration::from_secs(pod_grace(pod));
                if let Err(e) = self.stop_with_hook(&id, pod_ip, grace).await {
                    tracing::warn!(pod = %pod_key(pod), container = %c.name, "killing after a failed postStart hook: {e}");
                }
                waiting.insert(c.name.clone(), ("PostStartHookError".into(), msg));
            }
        }
    }

    /// Keeps one set of probe workers per running app container and kills
    /// the containers whose liveness or startup probe failed (preStop hook
    /// first). Returns whether it killed any.
    async fn run_probes(
        &self,
        pod: &Pod,
        containers: &[Container],
        instances: &HashMap<String, Vec<Instance>>,
        pod_ip: &str,
        state: &mut PodState,
    ) -> bool {
        let mut killed = false;
        for c in containers {
            let has_probes = c.liveness_probe.is_some()
                || c.readiness_probe.is_some()
                || c.startup_probe.is_some();
            let running = instances
                .get(&c.name)
                .and_then(|v| v.first())
                .filter(|i| i.state() == ContainerState::ContainerRunning);
            let Some(i) = running.filter(|_| has_probes) else {
                state.probes.remove(&c.name);
                continue;
            };
            let current = state
                .probes
                .get(&c.name)
                .is_some_and(|p| p.container_id == i.status.id);
            if !current {
                let target = probes::Target {
                    runtime: self.runtime.clone(),
                    container_id: i.status.id.clone(),
                    pod_ip: pod_ip.to_string(),
                    ports: c.ports.clone().unwrap_or_default(),
                };
                state.probes.insert(
                    c.name.clone(),
                    ContainerProbes::start(
                        c,
                        target,
                        nanos_to_system(i.status.started_at),
                        Some((self.events.clone(), pod_ref(pod, Some(&c.name)))),
                    ),
                );
            }
            let reason = state.probes.get(&c.name).and_then(|p| p.kill_reason());
            if let Some((kind, reason)) = reason {
                tracing::info!(pod = %pod_key(pod), container = %c.name, "{reason}");
                self.events.normal(
                    pod_ref(pod, Some(&c.name)),
                    "Killing",
                    format!(
                        "Container {} failed {kind} probe, will be restarted",
                        c.name
                    ),
                );
                let probe_grace = c
                    .liveness_probe
                    .as_ref()
                    .and_then(|p| p.termination_grace_period_seconds)
                    .map(|g| g.max(1) as u64);
                let grace = Duration::from_secs(probe_grace.unwrap_or_else(|| pod_grace(pod)));
                match self.stop_with_hook(&i.status.id, pod_ip, grace).await {
                    Ok(()) => {
                        state.probes.remove(&c.name);
                        killed = true;
                    }
                    Err(e) => {
                        tracing::warn!(pod = %pod_key(pod), container = %c.name, "killing the container: {e}")
                    }
                }
            }
        }
        killed
    }

    /// Stops a container as upstream's killContainer: its preStop hook
    /// (from the container's annotations) within `grace`, then
    /// StopContainer with what is left of it (at least 2 s).
    async fn stop_with_hook(&self, id: &str, pod_ip: &str, grace: Duration) -> cri::Result<()> {
        let started = std::time::Instant::now();
        let status = match self.runtime.container_status(id).await {
            Ok(s) => s,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        if status.state() != ContainerState::ContainerRunning {
            return Ok(());
        }
        let hook = status
            .annotations
            .get(pod::ANNOTATION_PRE_STOP)
            .and_then(|h| {
                serde_json::from_str::<k8s_openapi::api::core::v1::LifecycleHandler>(h).ok()
            });
        if let Some(h) = hook {
            let target = probes::Target {
                runtime: self.runtime.clone(),
                container_id: id.to_string(),
                pod_ip: pod_ip.to_string(),
                ports: status
                    .annotations
                    .get(pod::ANNOTATION_PORTS)
                    .and_then(|p| serde_json::from_str(p).ok())
                    .unwrap_or_default(),
            };
            match tokio::time::timeout(grace, probes::run_hook(&target, &h, grace)).await {
                Ok(Ok(())) => {}
                Ok(Err(msg)) => tracing::warn!(container = %id, "PreStopHook failed: {msg}"),
                Err(_) => {
                    tracing::warn!(container = %id, "PreStopHook did not finish within the grace period")
                }
            }
        }
        let left = grace
            .saturating_sub(started.elapsed())
            .max(Duration::from_secs(2));
        match self.runtime.stop_container(id, left).await {
            Err(e) if !e.is_not_found() => Err(e),
            _ => Ok(()),
        }
    }

    async fn ensure_image(
        &self,
        cref: &k8s_openapi::api::core::v1::ObjectReference,
        c: &Container,
        sandbox_config: &api::PodSandboxConfig,
        state: &mut PodState,
    ) -> Result<(), (String, String)> {
        let image = c.image.clone().unwrap_or_default();
        let policy = pull_policy(c);
        if policy != "Always" {
            match self.runtime.image_status(&image).await {
                Ok(Some(_)) => {
                    self.events.normal(
                        cref.clone(),
                        "Pulled",
                        format!("Container image \"{image}\" already present on machine"),
                    );
                    return Ok(());
                }
                Ok(None) if policy == "Never" => {
                    let msg = format!(
                        "Container image \"{image}\" is not present with pull policy of Never"
                    );
                    self.events
                        .warning(cref.clone(), "ErrImageNeverPull", msg.clone());
                    return Err(("ErrImageNeverPull".into(), msg));
                }
                Ok(None) => {}
                Err(e) => return Err(("ErrImagePull".into(), e.to_string())),
            }
        }
        let key = format!("image/{image}");
        let now = SystemTime::now();
        if let Some(b) = state.backoff.get(&key) {
            if state.in_backoff(&key, b.last_update, now).is_some() {
                let since = now.duration_since(b.last_update).unwrap_or_default();
                if since < ERR_IMAGE_PULL_HOLD.min(b.delay / 2) {
                    return Err(("ErrImagePull".into(), b.message.clone()));
                }
                let msg = format!("Back-off pulling image \"{image}\"");
                self.events.normal(cref.clone(), "BackOff", msg.clone());
                return Err(("ImagePullBackOff".into(), msg));
            }
        }
        self.events.normal(
            cref.clone(),
            "Pulling",
            format!("Pulling image \"{image}\""),
        );
        let started = std::time::Instant::now();
        match self
            .runtime
            .pull_image(&image, None, Some(sandbox_config))
            .await
        {
            Ok(_) => {
                state.backoff.remove(&key);
                let took = events::go_duration(started.elapsed());
                let size = match self.runtime.image_status(&image).await {
                    Ok(Some(i)) => i.size,
                    _ => 0,
                };
                self.events.normal(
                    cref.clone(),
                    "Pulled",
                    format!(
                        "Successfully pulled image \"{image}\" in {took} ({took} including waiting). Image size: {size} bytes."
                    ),
                );
                Ok(())
            }
            Err(e) => {
                state.next(&key, now);
                if let Some(b) = state.backoff.get_mut(&key) {
                    b.message = e.to_string();
                }
                tracing::info!(%image, took = ?started.elapsed(), "pulling the image failed: {e}");
                self.events.warning(
                    cref.clone(),
                    "Failed",
                    format!("Failed to pull image \"{image}\": {e}"),
                );
                Err(("ErrImagePull".into(), e.to_string()))
            }
        }
    }

    fn container_status(
        &self,
        c: &Container,
        list: Option<&Vec<Instance>>,
        waiting: Option<&(String, String)>,
        default_reason: &str,
        init: bool,
        probes: Option<&ContainerProbes>,
    ) -> ContainerStatus {
        let latest = list.and_then(|v| v.first());
        let previous = list.and_then(|v| v.get(1));
        let terminated = |i: &Instance| {
            let s = &i.status;
            let reason = if !s.reason.is_empty() {
                s.reason.clone()
            } else if s.exit_code == 0 {
                "Completed".into()
            } else {
                "Error".into()
            };
            KState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: s.exit_code,
                    reason: Some(reason),
                    message: (!s.message.is_empty()).then(|| s.message.clone()),
                    started_at: nanos_to_time(s.started_at),
                    finished_at: nanos_to_time(s.finished_at),
                    container_id: Some(format!("{}://{}", self.runtime_name, s.id)),
                    signal: None,
                }),
                ..Default::default()
            }
        };
        let wait = |reason: &str, message: Option<String>| KState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason.to_string()),
                message,
            }),
            ..Default::default()
        };
        let waiting = waiting.map(|(r, m)| {
            let r = if r.is_empty() {
                default_reason
            } else {
                r.as_str()
            };
            (r.to_string(), m.clone())
        });
        let waiting = waiting.as_ref();
        let (state, last_state) = match (waiting, latest) {
            (Some((r, m)), Some(i)) if i.state() == ContainerState::ContainerExited => {
                (wait(r, Some(m.clone())), Some(terminated(i)))
            }
            (Some((r, m)), _) => (wait(r, Some(m.clone())), previous.map(terminated)),
            (None, None) => (wait(default_reason, None), None),
            (None, Some(i)) => match i.state() {
                ContainerState::ContainerRunning => (
                    KState {
                        running: Some(ContainerStateRunning {
                            started_at: nanos_to_time(i.status.started_at),
                        }),
                        ..Default::default()
                    },
                    previous.map(terminated),
                ),
                ContainerState::ContainerExited => (terminated(i), previous.map(terminated)),
                _ => (wait("ContainerCreating", None), previous.map(terminated)),
            },
        };
        let running = state.running.is_some();
        let succeeded = state.terminated.as_ref().is_some_and(|t| t.exit_code == 0);
        // Probe results of this very instance; a new instance starts
        // unstarted/unready until its workers report.
        let probed = c.startup_probe.is_some() || c.readiness_probe.is_some();
        let current = probes.filter(|p| latest.is_some_and(|i| i.status.id == p.container_id));
        let (started, ready) = match current {
            Some(p) => (running && p.started(), running && p.ready()),
            None if probed => (false, false),
            None => (running, running),
        };
        ContainerStatus {
            name: c.name.clone(),
            image: c.image.clone().unwrap_or_default(),
            image_id: latest
                .map(|i| i.status.image_ref.clone())
                .unwrap_or_default(),
            container_id: latest.map(|i| format!("{}://{}", self.runtime_name, i.status.id)),
            ready: if init { succeeded } else { ready },
            started: Some(if init { running } else { started }),
            restart_count: latest.map(|i| i.attempt() as i32).unwrap_or(0),
            state: Some(state),
            last_state: last_state.or_else(|| Some(KState::default())),
            ..Default::default()
        }
    }

    fn compute_status(
        &self,
        pod: &Pod,
        state: &PodState,
        instances: &HashMap<String, Vec<Instance>>,
        waiting: &Waiting,
        ips: &[String],
        sandbox_ready: bool,
    ) -> PodStatus {
        let spec = pod.spec.clone().unwrap_or_default();
        let policy = restart_policy(pod);
        let inits: Vec<&Container> = spec.init_containers.iter().flatten().collect();

        let mut init_statuses = Vec::new();
        let mut init_pending = Vec::new();
        let mut init_failed = false;
        for c in &inits {
            let s = self.container_status(
                c,
                instances.get(&c.name),
                waiting.get(&c.name),
                "PodInitializing",
                true,
                None,
            );
            let t = s.state.as_ref().and_then(|s| s.terminated.as_ref());
            match t {
                Some(t) if t.exit_code == 0 => {}
                Some(_) if policy == "Never" => {
                    init_failed = true;
                    init_pending.push(c.name.clone());
                }
                _ => init_pending.push(c.name.clone()),
            }
            init_statuses.push(s);
        }
        let initialized = init_pending.is_empty();
        let app_default = if initialized {
            "ContainerCreating"
        } else {
            "PodInitializing"
        };
        let statuses: Vec<ContainerStatus> = spec
            .containers
            .iter()
            .map(|c| {
                self.container_status(
                    c,
                    instances.get(&c.name),
                    waiting.get(&c.name),
                    app_default,
                    false,
                    state.probes.get(&c.name),
                )
            })
            .collect();

        let (mut running, mut waiting_n, mut stopped, mut succeeded) = (0, 0, 0, 0);
        for s in &statuses {
            let st = s.state.clone().unwrap_or_default();
            if st.running.is_some() {
                running += 1;
            } else if let Some(t) = &st.terminated {
                stopped += 1;
                if t.exit_code == 0 {
                    succeeded += 1;
                }
            } else if s
                .last_state
                .as_ref()
                .is_some_and(|l| l.terminated.is_some())
            {
                stopped += 1;
            } else {
                waiting_n += 1;
            }
        }
        let phase = if init_failed {
            "Failed"
        } else if !initialized || waiting_n > 0 {
            "Pending"
        } else if running > 0 {
            "Running"
        } else if stopped > 0 {
            match policy {
                "Always" => "Running",
                _ if stopped == succeeded => "Succeeded",
                "Never" => "Failed",
                _ => "Running",
            }
        } else {
            "Pending"
        };
        let terminal = phase == "Succeeded" || phase == "Failed";

        let unready: Vec<String> = statuses
            .iter()
            .filter(|s| !s.ready)
            .map(|s| s.name.clone())
            .collect();
        let old = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        let cond = |type_: &str, ok: bool, reason: Option<String>, message: Option<String>| {
            let status = if ok { "True" } else { "False" };
            let ltt = old
                .iter()
                .find(|c| c.type_ == type_ && c.status == status)
                .and_then(|c| c.last_transition_time.clone())
                .unwrap_or_else(now_time);
            PodCondition {
                type_: type_.into(),
                status: status.into(),
                reason,
                message,
                last_transition_time: Some(ltt),
                last_probe_time: None,
                observed_generation: None,
            }
        };
        let list = |names: &[String]| format!("[{}]", names.join(" "));
        let mut conditions = vec![cond(
            "PodReadyToStartContainers",
            sandbox_ready && !terminal,
            None,
            None,
        )];
        conditions.push(if initialized {
            cond("Initialized", true, None, None)
        } else {
            cond(
                "Initialized",
                false,
                Some("ContainersNotInitialized".into()),
                Some(format!(
                    "containers with incomplete status: {}",
                    list(&init_pending)
                )),
            )
        });
        let ready = unready.is_empty() && !terminal;
        let (reason, message) = if ready {
            (None, None)
        } else if terminal {
            (Some("PodCompleted".to_string()), None)
        } else {
            (
                Some("ContainersNotReady".to_string()),
                Some(format!(
                    "containers with unready status: {}",
                    list(&unready)
                )),
            )
        };
        conditions.push(cond("Ready", ready, reason.clone(), message.clone()));
        conditions.push(cond("ContainersReady", ready, reason, message));
        let scheduled = old
            .iter()
            .find(|c| c.type_ == "PodScheduled")
            .cloned()
            .unwrap_or_else(|| cond("PodScheduled", true, None, None));
        conditions.push(scheduled);

        PodStatus {
            phase: Some(phase.into()),
            conditions: Some(conditions),
            host_ip: Some(self.node.node_ip.clone()),
            host_ips: Some(vec![HostIP {
                ip: self.node.node_ip.clone(),
            }]),
            pod_ip: ips.first().cloned(),
            pod_ips: (!ips.is_empty())
                .then(|| ips.iter().map(|ip| PodIP { ip: ip.clone() }).collect()),
            start_time: state.start_time.clone(),
            container_statuses: Some(statuses),
            init_container_statuses: (!init_statuses.is_empty()).then_some(init_statuses),
            qos_class: Some(pod::qos_class(pod).as_str().into()),
            ..Default::default()
        }
    }

    /// Stops and removes everything the runtime holds for the pod `uid`:
    /// containers (each given `grace`), then the sandboxes.
    pub async fn kill_pod(&self, uid: &str, grace: Duration) -> cri::Result<()> {
        let sandboxes = self.sandboxes(uid).await?;
        for s in &sandboxes {
            let containers = self
                .runtime
                .list_containers(Some(api::ContainerFilter {
                    pod_sandbox_id: s.id.clone(),
                    ..Default::default()
                }))
                .await?;
            let pod_ip = self
                .runtime
                .pod_sandbox_status(&s.id)
                .await
                .ok()
                .and_then(|st| st.network)
                .map(|n| n.ip)
                .unwrap_or_default();
            let label = |k: &str| s.labels.get(k).cloned().unwrap_or_default();
            let running: Vec<&api::Container> = containers
                .iter()
                .filter(|c| c.state() == ContainerState::ContainerRunning)
                .collect();
            for c in &running {
                let name = c
                    .metadata
                    .as_ref()
                    .map(|m| m.name.clone())
                    .unwrap_or_default();
                self.events.normal(
                    events::labels_ref(
                        &label(pod::LABEL_POD_NAMESPACE),
                        &label(pod::LABEL_POD_NAME),
                        uid,
                        &name,
                    ),
                    "Killing",
                    format!("Stopping container {name}"),
                );
            }
            let stops = running
                .iter()
                .map(|c| self.stop_with_hook(&c.id, &pod_ip, grace));
            for r in futures::future::join_all(stops).await {
                r?;
            }
            self.runtime.stop_pod_sandbox(&s.id).await?;
            for c in &containers {
                self.runtime.remove_container(&c.id).await?;
            }
            self.runtime.remove_pod_sandbox(&s.id).await?;
        }
        if let Err(e) = volumes::cleanup_pod(&self.root_dir, uid) {
            tracing::warn!(%uid, "removing the pod's volumes: {e}");
        }
        Ok(())
    }

    /// Uids of every pod that has a sandbox in the runtime.
    pub async fn runtime_pod_uids(&self) -> cri::Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for s in self.runtime.list_pod_sandbox(None).await? {
            if let Some(uid) = s.labels.get(LABEL_POD_UID) {
                let name = format!(
                    "{}/{}",
                    s.labels
                        .get(pod::LABEL_POD_NAMESPACE)
                        .cloned()
                        .unwrap_or_default(),
                    s.labels
                        .get(pod::LABEL_POD_NAME)
                        .cloned()
                        .unwrap_or_default()
                );
                out.insert(uid.clone(), name);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
