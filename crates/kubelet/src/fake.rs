//! An in-memory [`cri::Runtime`]: for unit tests of the sync logic and,
//! later, hollow nodes. Containers run until [`FakeRuntime::exit`] says
//! they ended.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use cri::api::{self, ContainerState, PodSandboxState};
use cri::Result;

#[derive(Debug, Clone)]
struct Sandbox {
    config: api::PodSandboxConfig,
    state: PodSandboxState,
    created_at: i64,
}

#[derive(Debug, Clone)]
struct Ctr {
    sandbox_id: String,
    config: api::ContainerConfig,
    state: ContainerState,
    created_at: i64,
    started_at: i64,
    finished_at: i64,
    exit_code: i32,
}

#[derive(Debug, Default)]
struct Inner {
    sandboxes: HashMap<String, Sandbox>,
    containers: HashMap<String, Ctr>,
    images: HashSet<String>,
    next: u64,
    calls: Vec<String>,
    /// Exit codes of ExecSync by command line (joined with spaces).
    exec_exits: HashMap<String, i32>,
}

/// The fake runtime.
#[derive(Debug, Default)]
pub struct FakeRuntime {
    inner: Mutex<Inner>,
    /// Whether Status reports NetworkReady.
    pub network_ready: std::sync::atomic::AtomicBool,
}

fn now_nanos() -> i64 {
    // Strictly increasing, so that ordering by creation time is stable.
    static LAST: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as i64;
    let prev = LAST.fetch_max(t, std::sync::atomic::Ordering::SeqCst);
    if prev >= t {
        LAST.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
    } else {
        t
    }
}

fn not_found(method: &'static str, what: &str) -> cri::Error {
    cri::Error::Rpc {
        method,
        status: tonic::Status::not_found(format!("{what} not found")),
    }
}

impl FakeRuntime {
    /// A fake runtime holding the given images, network ready.
    pub fn new(images: &[&str]) -> Self {
        let f = FakeRuntime::default();
        f.network_ready
            .store(true, std::sync::atomic::Ordering::SeqCst);
        f.inner.lock().expect("lock").images = images.iter().map(|s| s.to_string()).collect();
        f
    }

    /// Ends a running container with `code`.
    pub fn exit(&self, container_id: &str, code: i32) {
        let mut inner = self.inner.lock().expect("lock");
        if let Some(c) = inner.containers.get_mut(container_id) {
            c.state = ContainerState::ContainerExited;
            c.exit_code = code;
            c.finished_at = now_nanos();
        }
    }

    /// Ids of the containers named `name`, oldest first.
    pub fn containers_named(&self, name: &str) -> Vec<String> {
        let inner = self.inner.lock().expect("lock");
        let mut v: Vec<(&String, &Ctr)> = inner
            .containers
            .iter()
            .filter(|(_, c)| c.config.metadata.as_ref().is_some_and(|m| m.name == name))
            .collect();
        v.sort_by_key(|(_, c)| c.created_at);
        v.into_iter().map(|(id, _)| id.clone()).collect()
    }

    /// The config a container was created with.
    pub fn container_config(&self, id: &str) -> Option<api::ContainerConfig> {
        let inner = self.inner.lock().expect("lock");
        inner.containers.get(id).map(|c| c.config.clone())
    }

    /// The configs of all sandboxes.
    pub fn sandbox_configs(&self) -> Vec<api::PodSandboxConfig> {
        let inner = self.inner.lock().expect("lock");
        inner.sandboxes.values().map(|s| s.config.clone()).collect()
    }

    /// Makes ExecSync of `cmd` (joined with spaces) exit with `code`
    /// (default 0).
    pub fn set_exec_exit(&self, cmd: &str, code: i32) {
        self.inner
            .lock()
            .expect("lock")
            .exec_exits
            .insert(cmd.to_string(), code);
    }

    /// The calls made so far (method names, with an argument for pulls).
    pub fn calls(&self) -> Vec<String> {
        self.inner.lock().expect("lock").calls.clone()
    }

    fn id(inner: &mut Inner, prefix: &str) -> String {
        inner.next += 1;
        format!("{prefix}{:08}", inner.next)
    }
}

fn labels_match(want: &HashMap<String, String>, have: &HashMap<String, String>) -> bool {
    want.iter().all(|(k, v)| have.get(k) == Some(v))
}

#[async_trait]
impl cri::Runtime for FakeRuntime {
    async fn version(&self) -> Result<api::VersionResponse> {
        Ok(api::VersionResponse {
            version: "0.1.0".into(),
            runtime_name: "fake".into(),
            runtime_version: "1.0.0".into(),
            runtime_api_version: "v1".into(),
        })
    }
    async fn status(&self) -> Result<api::RuntimeStatus> {
        let net = self.network_ready.load(std::sync::atomic::Ordering::SeqCst);
        Ok(api::RuntimeStatus {
            conditions: vec![
                api::RuntimeCondition {
                    r#type: "RuntimeReady".into(),
                    status: true,
                    ..Default::default()
                },
                api::RuntimeCondition {
                    r#type: "NetworkReady".into(),
                    status: net,
                    reason: if net { "" } else { "NetworkPluginNotReady" }.into(),
                    message: if net { "" } else { "cni config uninitialized" }.into(),
                },
            ],
        })
    }
    async fn update_runtime_config(&self, _pod_cidr: &str) -> Result<()> {
        Ok(())
    }
    async fn run_pod_sandbox(
        &self,
        config: &api::PodSandboxConfig,
        _runtime_handler: &str,
    ) -> Result<String> {
        let mut inner = self.inner.lock().expect("lock");
        inner.calls.push("RunPodSandbox".into());
        let id = Self::id(&mut inner, "sb");
        inner.sandboxes.insert(
            id.clone(),
            Sandbox {
                config: config.clone(),
                state: PodSandboxState::SandboxReady,
                created_at: now_nanos(),
            },
        );
        Ok(id)
    }
    async fn stop_pod_sandbox(&self, sandbox_id: &str) -> Result<()> {
        let mut inner = self.inner.lock().expect("lock");
        inner.calls.push("StopPodSandbox".into());
        if let Some(s) = inner.sandboxes.get_mut(sandbox_id) {
            s.state = PodSandboxState::SandboxNotready;
        }
        let now = now_nanos();
        for c in inner.containers.values_mut() {
            if c.sandbox_id == sandbox_id && c.state == ContainerState::ContainerRunning {
                c.state = ContainerState::ContainerExited;
                c.exit_code = 137;
                c.finished_at = now;
            }
        }
        Ok(())
    }
    async fn remove_pod_sandbox(&self, sandbox_id: &str) -> Result<()> {
        let mut inner = self.inner.lock().expect("lock");
        inner.calls.push("RemovePodSandbox".into());
        inner.sandboxes.remove(sandbox_id);
        inner.containers.retain(|_, c| c.sandbox_id != sandbox_id);
        Ok(())
    }
    async fn pod_sandbox_status(&self, sandbox_id: &str) -> Result<api::PodSandboxStatus> {
        let inner = self.inner.lock().expect("lock");
        let s = inner
            .sandboxes
            .get(sandbox_id)
            .ok_or_else(|| not_found("PodSandboxStatus", sandbox_id))?;
        Ok(api::PodSandboxStatus {
            id: sandbox_id.into(),
            metadata: s.config.metadata.clone(),
            state: s.state as i32,
            created_at: s.created_at,
            network: Some(api::PodSandboxNetworkStatus {
                ip: "10.244.0.7".into(),
                ..Default::default()
            }),
            labels: s.config.labels.clone(),
            ..Default::default()
        })
    }
    async fn list_pod_sandbox(
        &self,
        filter: Option<api::PodSandboxFilter>,
    ) -> Result<Vec<api::PodSandbox>> {
        let inner = self.inner.lock().expect("lock");
        let f = filter.unwrap_or_default();
        Ok(inner
            .sandboxes
            .iter()
            .filter(|(id, s)| {
                (f.id.is_empty() || &f.id == *id)
                    && labels_match(&f.label_selector, &s.config.labels)
            })
            .map(|(id, s)| api::PodSandbox {
                id: id.clone(),
                metadata: s.config.metadata.clone(),
                state: s.state as i32,
                created_at: s.created_at,
                labels: s.config.labels.clone(),
                ..Default::default()
            })
            .collect())
    }
    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &api::ContainerConfig,
        _sandbox_config: &api::PodSandboxConfig,
    ) -> Result<String> {
        let mut inner = self.inner.lock().expect("lock");
        inner.calls.push(format!(
            "CreateContainer {}",
            config
                .metadata
                .as_ref()
                .map(|m| m.name.as_str())
                .unwrap_or("")
        ));
        let id = Self::id(&mut inner, "c");
        inner.containers.insert(
            id.clone(),
            Ctr {
                sandbox_id: sandbox_id.into(),
                config: config.clone(),
                state: ContainerState::ContainerCreated,
                created_at: now_nanos(),
                started_at: 0,
                finished_at: 0,
                exit_code: 0,
            },
        );
        Ok(id)
    }
    async fn start_container(&self, container_id: &str) -> Result<()> {
        let mut inner = self.inner.lock().expect("lock");
        let c = inner
            .containers
            .get_mut(container_id)
            .ok_or_else(|| not_found("StartContainer", container_id))?;
        c.state = ContainerState::ContainerRunning;
        c.started_at = now_nanos();
        Ok(())
    }
    async fn stop_container(&self, container_id: &str, _grace: Duration) -> Result<()> {
        self.inner
            .lock()
            .expect("lock")
            .calls
            .push("StopContainer".into());
        self.exit(container_id, 137);
        Ok(())
    }
    async fn remove_container(&self, container_id: &str) -> Result<()> {
        let mut inner = self.inner.lock().expect("lock");
        inner.calls.push("RemoveContainer".into());
        inner.containers.remove(container_id);
        Ok(())
    }
    async fn list_containers(
        &self,
        filter: Option<api::ContainerFilter>,
    ) -> Result<Vec<api::Container>> {
        let inner = self.inner.lock().expect("lock");
        let f = filter.unwrap_or_default();
        Ok(inner
            .containers
            .iter()
            .filter(|(_, c)| f.pod_sandbox_id.is_empty() || c.sandbox_id == f.pod_sandbox_id)
            .map(|(id, c)| api::Container {
                id: id.clone(),
                pod_sandbox_id: c.sandbox_id.clone(),
                metadata: c.config.metadata.clone(),
                image: c.config.image.clone(),
                image_ref: "sha256:fake".into(),
                state: c.state as i32,
                created_at: c.created_at,
                labels: c.config.labels.clone(),
                annotations: c.config.annotations.clone(),
            })
            .collect())
    }
    async fn container_status(&self, container_id: &str) -> Result<api::ContainerStatus> {
        let inner = self.inner.lock().expect("lock");
        let c = inner
            .containers
            .get(container_id)
            .ok_or_else(|| not_found("ContainerStatus", container_id))?;
        Ok(api::ContainerStatus {
            id: container_id.into(),
            metadata: c.config.metadata.clone(),
            state: c.state as i32,
            created_at: c.created_at,
            started_at: c.started_at,
            finished_at: c.finished_at,
            exit_code: c.exit_code,
            image: c.config.image.clone(),
            image_ref: "sha256:fake".into(),
            labels: c.config.labels.clone(),
            annotations: c.config.annotations.clone(),
            ..Default::default()
        })
    }
    async fn update_container_resources(
        &self,
        _container_id: &str,
        _resources: &api::LinuxContainerResources,
    ) -> Result<()> {
        Ok(())
    }
    async fn reopen_container_log(&self, _container_id: &str) -> Result<()> {
        Ok(())
    }
    async fn exec_sync(
        &self,
        container_id: &str,
        cmd: &[String],
        _timeout: Duration,
    ) -> Result<api::ExecSyncResponse> {
        let mut inner = self.inner.lock().expect("lock");
        let line = cmd.join(" ");
        inner.calls.push(format!("ExecSync {line}"));
        let running = inner
            .containers
            .get(container_id)
            .is_some_and(|c| c.state == ContainerState::ContainerRunning);
        if !running {
            return Err(cri::Error::Rpc {
                method: "ExecSync",
                status: tonic::Status::failed_precondition("container is not running"),
            });
        }
        Ok(api::ExecSyncResponse {
            exit_code: inner.exec_exits.get(&line).copied().unwrap_or(0),
            ..Default::default()
        })
    }
    async fn exec(&self, _request: api::ExecRequest) -> Result<String> {
        Ok("http://127.0.0.1:0/exec".into())
    }
    async fn attach(&self, _request: api::AttachRequest) -> Result<String> {
        Ok("http://127.0.0.1:0/attach".into())
    }
    async fn port_forward(&self, _sandbox_id: &str, _ports: &[i32]) -> Result<String> {
        Ok("http://127.0.0.1:0/portforward".into())
    }
    async fn container_stats(&self, container_id: &str) -> Result<api::ContainerStats> {
        Err(not_found("ContainerStats", container_id))
    }
    async fn list_container_stats(
        &self,
        _filter: Option<api::ContainerStatsFilter>,
    ) -> Result<Vec<api::ContainerStats>> {
        Ok(Vec::new())
    }
    async fn list_pod_sandbox_stats(
        &self,
        _filter: Option<api::PodSandboxStatsFilter>,
    ) -> Result<Vec<api::PodSandboxStats>> {
        Ok(Vec::new())
    }
    async fn list_images(&self, _filter: Option<api::ImageFilter>) -> Result<Vec<api::Image>> {
        let inner = self.inner.lock().expect("lock");
        Ok(inner
            .images
            .iter()
            .map(|i| api::Image {
                id: format!("sha256:{i}"),
                repo_tags: vec![i.clone()],
                ..Default::default()
            })
            .collect())
    }
    async fn image_status(&self, image: &str) -> Result<Option<api::Image>> {
        let mut inner = self.inner.lock().expect("lock");
        inner.calls.push(format!("ImageStatus {image}"));
        Ok(inner.images.contains(image).then(|| api::Image {
            id: format!("sha256:{image}"),
            repo_tags: vec![image.to_string()],
            ..Default::default()
        }))
    }
    async fn pull_image(
        &self,
        image: &str,
        _auth: Option<api::AuthConfig>,
        _sandbox_config: Option<&api::PodSandboxConfig>,
    ) -> Result<String> {
        let mut inner = self.inner.lock().expect("lock");
        inner.calls.push(format!("PullImage {image}"));
        if image.contains("missing") {
            return Err(not_found("PullImage", image));
        }
        inner.images.insert(image.to_string());
        Ok(format!("sha256:{image}"))
    }
    async fn remove_image(&self, image: &str) -> Result<()> {
        self.inner.lock().expect("lock").images.remove(image);
        Ok(())
    }
    async fn image_fs_info(&self) -> Result<Vec<api::FilesystemUsage>> {
        Ok(Vec::new())
    }
}
