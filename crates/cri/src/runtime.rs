//! The [`Runtime`] seam and its gRPC implementation, [`CriRuntime`].

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use tonic::transport::Channel;

use crate::api::{
    self, image_service_client::ImageServiceClient, runtime_service_client::RuntimeServiceClient,
};
use crate::{connect, Error, Result, DEFAULT_MAX_MESSAGE_SIZE};

/// How long a call may take before it fails with [`Error::Timeout`]: the
/// upstream kubelet's `--runtime-request-timeout` default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The CRI version this client speaks, sent in `Version`.
const KUBE_API_VERSION: &str = "v1";

/// What the kubelet asks of a container runtime: the CRI RuntimeService and
/// ImageService calls, with plain arguments and the generated message types
/// ([`crate::api`]) for configs and statuses.
///
/// [`CriRuntime`] implements it over gRPC; a fake (for hollow nodes and
/// unit tests) implements it in memory. Ids are the runtime's. Removing
/// something that is already gone succeeds, as with containerd.
#[async_trait]
pub trait Runtime: Send + Sync {
    /// The runtime's name and versions.
    async fn version(&self) -> Result<api::VersionResponse>;
    /// The `RuntimeReady` and `NetworkReady` conditions.
    async fn status(&self) -> Result<api::RuntimeStatus>;
    /// Tells the runtime the node's pod CIDR.
    async fn update_runtime_config(&self, pod_cidr: &str) -> Result<()>;

    /// Creates and starts a pod sandbox (network namespace, pause
    /// container, pod network) and returns its id.
    async fn run_pod_sandbox(
        &self,
        config: &api::PodSandboxConfig,
        runtime_handler: &str,
    ) -> Result<String>;
    /// Stops every container of the sandbox and tears its network down.
    async fn stop_pod_sandbox(&self, sandbox_id: &str) -> Result<()>;
    /// Removes a stopped sandbox and its containers.
    async fn remove_pod_sandbox(&self, sandbox_id: &str) -> Result<()>;
    /// A sandbox's state, pod IPs and metadata.
    async fn pod_sandbox_status(&self, sandbox_id: &str) -> Result<api::PodSandboxStatus>;
    /// Sandboxes, all or those the filter selects.
    async fn list_pod_sandbox(
        &self,
        filter: Option<api::PodSandboxFilter>,
    ) -> Result<Vec<api::PodSandbox>>;

    /// Creates a container in a sandbox and returns its id.
    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &api::ContainerConfig,
        sandbox_config: &api::PodSandboxConfig,
    ) -> Result<String>;
    /// Starts a created container.
    async fn start_container(&self, container_id: &str) -> Result<()>;
    /// Stops a container: its stop signal, then SIGKILL after `grace`.
    async fn stop_container(&self, container_id: &str, grace: Duration) -> Result<()>;
    /// Removes a container (stopping it first if it still runs).
    async fn remove_container(&self, container_id: &str) -> Result<()>;
    /// Containers, all or those the filter selects.
    async fn list_containers(
        &self,
        filter: Option<api::ContainerFilter>,
    ) -> Result<Vec<api::Container>>;
    /// A container's state, times, exit code, reason and log path.
    async fn container_status(&self, container_id: &str) -> Result<api::ContainerStatus>;
    /// Changes a running container's cgroup limits.
    async fn update_container_resources(
        &self,
        container_id: &str,
        resources: &api::LinuxContainerResources,
    ) -> Result<()>;
    /// Makes the runtime reopen a container's log file (after rotation).
    async fn reopen_container_log(&self, container_id: &str) -> Result<()>;

    /// Runs `cmd` in a container and waits for it, at most `timeout` (zero:
    /// no limit); returns stdout, stderr and the exit code.
    async fn exec_sync(
        &self,
        container_id: &str,
        cmd: &[String],
        timeout: Duration,
    ) -> Result<api::ExecSyncResponse>;
    /// Prepares a streaming exec; returns the URL of the runtime's
    /// streaming server that serves it.
    async fn exec(&self, request: api::ExecRequest) -> Result<String>;
    /// Prepares a streaming attach; returns its URL.
    async fn attach(&self, request: api::AttachRequest) -> Result<String>;
    /// Prepares port forwarding into a sandbox; returns its URL.
    async fn port_forward(&self, sandbox_id: &str, ports: &[i32]) -> Result<String>;

    /// One container's CPU, memory and writable-layer usage.
    async fn container_stats(&self, container_id: &str) -> Result<api::ContainerStats>;
    /// Usage of the containers the filter selects.
    async fn list_container_stats(
        &self,
        filter: Option<api::ContainerStatsFilter>,
    ) -> Result<Vec<api::ContainerStats>>;
    /// Usage of the sandboxes the filter selects (with their containers).
    async fn list_pod_sandbox_stats(
        &self,
        filter: Option<api::PodSandboxStatsFilter>,
    ) -> Result<Vec<api::PodSandboxStats>>;

    /// Images, all or those the filter selects.
    async fn list_images(&self, filter: Option<api::ImageFilter>) -> Result<Vec<api::Image>>;
    /// An image by reference or id; `None` when it is not present.
    async fn image_status(&self, image: &str) -> Result<Option<api::Image>>;
    /// Pulls an image and returns its reference (`repo@digest` or id).
    async fn pull_image(
        &self,
        image: &str,
        auth: Option<api::AuthConfig>,
        sandbox_config: Option<&api::PodSandboxConfig>,
    ) -> Result<String>;
    /// Removes an image; an absent image is not an error.
    async fn remove_image(&self, image: &str) -> Result<()>;
    /// Usage of the filesystems holding images.
    async fn image_fs_info(&self) -> Result<Vec<api::FilesystemUsage>>;
}

/// [`Runtime`] over gRPC: containerd's (or any CRI runtime's) socket.
///
/// Cheap to clone; clones share one HTTP/2 connection.
#[derive(Debug, Clone)]
pub struct CriRuntime {
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
    timeout: Duration,
}

impl CriRuntime {
    /// Dials the runtime's unix socket (see [`crate::connect`]) and serves
    /// both services over it.
    pub async fn connect(socket: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::new(connect(socket).await?))
    }

    /// Both services over an existing channel.
    pub fn new(channel: Channel) -> Self {
        Self::with_channels(channel.clone(), channel)
    }

    /// The RuntimeService and the ImageService over separate channels (the
    /// kubelet's `--image-service-endpoint`).
    pub fn with_channels(runtime: Channel, images: Channel) -> Self {
        let runtime = RuntimeServiceClient::new(runtime)
            .max_decoding_message_size(DEFAULT_MAX_MESSAGE_SIZE)
            .max_encoding_message_size(DEFAULT_MAX_MESSAGE_SIZE);
        let images = ImageServiceClient::new(images)
            .max_decoding_message_size(DEFAULT_MAX_MESSAGE_SIZE)
            .max_encoding_message_size(DEFAULT_MAX_MESSAGE_SIZE);
        CriRuntime {
            runtime,
            images,
            timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Sets the per-call limit (default [`DEFAULT_REQUEST_TIMEOUT`]). Calls
    /// that wait on purpose (`ExecSync`, `StopContainer`, `PullImage`) get
    /// their own wait added on top.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The generated RuntimeService client, for calls the trait lacks.
    pub fn runtime_client(&self) -> RuntimeServiceClient<Channel> {
        self.runtime.clone()
    }

    /// The generated ImageService client.
    pub fn image_client(&self) -> ImageServiceClient<Channel> {
        self.images.clone()
    }

    /// Runs one call under `timeout` plus `extra`, mapping its errors.
    async fn call<T, F>(&self, method: &'static str, extra: Duration, fut: F) -> Result<T>
    where
        F: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let limit = self.timeout + extra;
        match tokio::time::timeout(limit, fut).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => {
                tracing::debug!(method, code = ?status.code(), message = status.message(), "CRI call failed");
                Err(Error::Rpc { method, status })
            }
            Err(_) => Err(Error::Timeout {
                method,
                timeout: limit,
            }),
        }
    }
}

fn missing(method: &'static str, field: &'static str) -> Error {
    Error::MissingField { method, field }
}

fn image_spec(image: &str) -> Option<api::ImageSpec> {
    Some(api::ImageSpec {
        image: image.to_owned(),
        ..Default::default()
    })
}

#[async_trait]
impl Runtime for CriRuntime {
    async fn version(&self) -> Result<api::VersionResponse> {
        let req = api::VersionRequest {
            version: KUBE_API_VERSION.to_owned(),
        };
        self.call("Version", Duration::ZERO, self.runtime.clone().version(req))
            .await
    }

    async fn status(&self) -> Result<api::RuntimeStatus> {
        let req = api::StatusRequest { verbose: false };
        let resp = self
            .call("Status", Duration::ZERO, self.runtime.clone().status(req))
            .await?;
        resp.status.ok_or_else(|| missing("Status", "status"))
    }

    async fn update_runtime_config(&self, pod_cidr: &str) -> Result<()> {
        let req = api::UpdateRuntimeConfigRequest {
            runtime_config: Some(api::RuntimeConfig {
                network_config: Some(api::NetworkConfig {
                    pod_cidr: pod_cidr.to_owned(),
                }),
            }),
        };
        self.call(
            "UpdateRuntimeConfig",
            Duration::ZERO,
            self.runtime.clone().update_runtime_config(req),
        )
        .await?;
        Ok(())
    }

    async fn run_pod_sandbox(
        &self,
        config: &api::PodSandboxConfig,
        runtime_handler: &str,
    ) -> Result<String> {
        let req = api::RunPodSandboxRequest {
            config: Some(config.clone()),
            runtime_handler: runtime_handler.to_owned(),
        };
        let resp = self
            .call(
                "RunPodSandbox",
                Duration::ZERO,
                self.runtime.clone().run_pod_sandbox(req),
            )
            .await?;
        Ok(resp.pod_sandbox_id)
    }

    async fn stop_pod_sandbox(&self, sandbox_id: &str) -> Result<()> {
        let req = api::StopPodSandboxRequest {
            pod_sandbox_id: sandbox_id.to_owned(),
        };
        self.call(
            "StopPodSandbox",
            Duration::ZERO,
            self.runtime.clone().stop_pod_sandbox(req),
        )
        .await?;
        Ok(())
    }

    async fn remove_pod_sandbox(&self, sandbox_id: &str) -> Result<()> {
        let req = api::RemovePodSandboxRequest {
            pod_sandbox_id: sandbox_id.to_owned(),
        };
        self.call(
            "RemovePodSandbox",
            Duration::ZERO,
            self.runtime.clone().remove_pod_sandbox(req),
        )
        .await?;
        Ok(())
    }

    async fn pod_sandbox_status(&self, sandbox_id: &str) -> Result<api::PodSandboxStatus> {
        let req = api::PodSandboxStatusRequest {
            pod_sandbox_id: sandbox_id.to_owned(),
            verbose: false,
        };
        let resp = self
            .call(
                "PodSandboxStatus",
                Duration::ZERO,
                self.runtime.clone().pod_sandbox_status(req),
            )
            .await?;
        resp.status
            .ok_or_else(|| missing("PodSandboxStatus", "status"))
    }

    async fn list_pod_sandbox(
        &self,
        filter: Option<api::PodSandboxFilter>,
    ) -> Result<Vec<api::PodSandbox>> {
        let req = api::ListPodSandboxRequest { filter };
        let resp = self
            .call(
                "ListPodSandbox",
                Duration::ZERO,
                self.runtime.clone().list_pod_sandbox(req),
            )
            .await?;
        Ok(resp.items)
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &api::ContainerConfig,
        sandbox_config: &api::PodSandboxConfig,
    ) -> Result<String> {
        let req = api::CreateContainerRequest {
            pod_sandbox_id: sandbox_id.to_owned(),
            config: Some(config.clone()),
            sandbox_config: Some(sandbox_config.clone()),
        };
        let resp = self
            .call(
                "CreateContainer",
                Duration::ZERO,
                self.runtime.clone().create_container(req),
            )
            .await?;
        Ok(resp.container_id)
    }

    async fn start_container(&self, container_id: &str) -> Result<()> {
        let req = api::StartContainerRequest {
            container_id: container_id.to_owned(),
        };
        self.call(
            "StartContainer",
            Duration::ZERO,
            self.runtime.clone().start_container(req),
        )
        .await?;
        Ok(())
    }

    async fn stop_container(&self, container_id: &str, grace: Duration) -> Result<()> {
        let req = api::StopContainerRequest {
            container_id: container_id.to_owned(),
            timeout: i64::try_from(grace.as_secs()).unwrap_or(i64::MAX),
        };
        self.call(
            "StopContainer",
            grace,
            self.runtime.clone().stop_container(req),
        )
        .await?;
        Ok(())
    }

    async fn remove_container(&self, container_id: &str) -> Result<()> {
        let req = api::RemoveContainerRequest {
            container_id: container_id.to_owned(),
        };
        self.call(
            "RemoveContainer",
            Duration::ZERO,
            self.runtime.clone().remove_container(req),
        )
        .await?;
        Ok(())
    }

    async fn list_containers(
        &self,
        filter: Option<api::ContainerFilter>,
    ) -> Result<Vec<api::Container>> {
        let req = api::ListContainersRequest { filter };
        let resp = self
            .call(
                "ListContainers",
                Duration::ZERO,
                self.runtime.clone().list_containers(req),
            )
            .await?;
        Ok(resp.containers)
    }

    async fn container_status(&self, container_id: &str) -> Result<api::ContainerStatus> {
        let req = api::ContainerStatusRequest {
            container_id: container_id.to_owned(),
            verbose: false,
        };
        let resp = self
            .call(
                "ContainerStatus",
                Duration::ZERO,
                self.runtime.clone().container_status(req),
            )
            .await?;
        resp.status
            .ok_or_else(|| missing("ContainerStatus", "status"))
    }

    async fn update_container_resources(
        &self,
        container_id: &str,
        resources: &api::LinuxContainerResources,
    ) -> Result<()> {
        let req = api::UpdateContainerResourcesRequest {
            container_id: container_id.to_owned(),
            linux: Some(resources.clone()),
            annotations: Default::default(),
        };
        self.call(
            "UpdateContainerResources",
            Duration::ZERO,
            self.runtime.clone().update_container_resources(req),
        )
        .await?;
        Ok(())
    }

    async fn reopen_container_log(&self, container_id: &str) -> Result<()> {
        let req = api::ReopenContainerLogRequest {
            container_id: container_id.to_owned(),
        };
        self.call(
            "ReopenContainerLog",
            Duration::ZERO,
            self.runtime.clone().reopen_container_log(req),
        )
        .await?;
        Ok(())
    }

    async fn exec_sync(
        &self,
        container_id: &str,
        cmd: &[String],
        timeout: Duration,
    ) -> Result<api::ExecSyncResponse> {
        let req = api::ExecSyncRequest {
            container_id: container_id.to_owned(),
            cmd: cmd.to_vec(),
            // Whole seconds on the wire; round a sub-second limit up.
            timeout: i64::try_from(timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0))
                .unwrap_or(i64::MAX),
        };
        self.call("ExecSync", timeout, self.runtime.clone().exec_sync(req))
            .await
    }

    async fn exec(&self, request: api::ExecRequest) -> Result<String> {
        let resp = self
            .call("Exec", Duration::ZERO, self.runtime.clone().exec(request))
            .await?;
        Ok(resp.url)
    }

    async fn attach(&self, request: api::AttachRequest) -> Result<String> {
        let resp = self
            .call(
                "Attach",
                Duration::ZERO,
                self.runtime.clone().attach(request),
            )
            .await?;
        Ok(resp.url)
    }

    async fn port_forward(&self, sandbox_id: &str, ports: &[i32]) -> Result<String> {
        let req = api::PortForwardRequest {
            pod_sandbox_id: sandbox_id.to_owned(),
            port: ports.to_vec(),
        };
        let resp = self
            .call(
                "PortForward",
                Duration::ZERO,
                self.runtime.clone().port_forward(req),
            )
            .await?;
        Ok(resp.url)
    }

    async fn container_stats(&self, container_id: &str) -> Result<api::ContainerStats> {
        let req = api::ContainerStatsRequest {
            container_id: container_id.to_owned(),
        };
        let resp = self
            .call(
                "ContainerStats",
                Duration::ZERO,
                self.runtime.clone().container_stats(req),
            )
            .await?;
        resp.stats.ok_or_else(|| missing("ContainerStats", "stats"))
    }

    async fn list_container_stats(
        &self,
        filter: Option<api::ContainerStatsFilter>,
    ) -> Result<Vec<api::ContainerStats>> {
        let req = api::ListContainerStatsRequest { filter };
        let resp = self
            .call(
                "ListContainerStats",
                Duration::ZERO,
                self.runtime.clone().list_container_stats(req),
            )
            .await?;
        Ok(resp.stats)
    }

    async fn list_pod_sandbox_stats(
        &self,
        filter: Option<api::PodSandboxStatsFilter>,
    ) -> Result<Vec<api::PodSandboxStats>> {
        let req = api::ListPodSandboxStatsRequest { filter };
        let resp = self
            .call(
                "ListPodSandboxStats",
                Duration::ZERO,
                self.runtime.clone().list_pod_sandbox_stats(req),
            )
            .await?;
        Ok(resp.stats)
    }

    async fn list_images(&self, filter: Option<api::ImageFilter>) -> Result<Vec<api::Image>> {
        let req = api::ListImagesRequest { filter };
        let resp = self
            .call(
                "ListImages",
                Duration::ZERO,
                self.images.clone().list_images(req),
            )
            .await?;
        Ok(resp.images)
    }

    async fn image_status(&self, image: &str) -> Result<Option<api::Image>> {
        let req = api::ImageStatusRequest {
            image: image_spec(image),
            verbose: false,
        };
        let resp = self
            .call(
                "ImageStatus",
                Duration::ZERO,
                self.images.clone().image_status(req),
            )
            .await?;
        Ok(resp.image)
    }

    async fn pull_image(
        &self,
        image: &str,
        auth: Option<api::AuthConfig>,
        sandbox_config: Option<&api::PodSandboxConfig>,
    ) -> Result<String> {
        let req = api::PullImageRequest {
            image: image_spec(image),
            auth,
            sandbox_config: sandbox_config.cloned(),
        };
        // Pulls are slow by nature; the kubelet bounds them by progress,
        // not by a deadline, so allow a generous extra.
        let resp = self
            .call(
                "PullImage",
                Duration::from_secs(600),
                self.images.clone().pull_image(req),
            )
            .await?;
        Ok(resp.image_ref)
    }

    async fn remove_image(&self, image: &str) -> Result<()> {
        let req = api::RemoveImageRequest {
            image: image_spec(image),
        };
        match self
            .call(
                "RemoveImage",
                Duration::ZERO,
                self.images.clone().remove_image(req),
            )
            .await
        {
            Err(e) if e.is_not_found() => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn image_fs_info(&self) -> Result<Vec<api::FilesystemUsage>> {
        let resp = self
            .call(
                "ImageFsInfo",
                Duration::ZERO,
                self.images
                    .clone()
                    .image_fs_info(api::ImageFsInfoRequest {}),
            )
            .await?;
        Ok(resp.image_filesystems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The trait is usable as a trait object (the kubelet holds an
    /// `Arc<dyn Runtime>`, real or fake).
    #[test]
    fn runtime_is_object_safe() {
        fn takes(_: Option<&dyn Runtime>) {}
        takes(None);
    }

    #[test]
    fn enums_match_the_wire() {
        assert_eq!(api::ContainerState::ContainerRunning as i32, 1);
        assert_eq!(api::ContainerState::ContainerExited as i32, 2);
        assert_eq!(api::PodSandboxState::SandboxNotready as i32, 1);
        assert_eq!(api::NamespaceMode::Node as i32, 2);
        assert_eq!(api::MountPropagation::PropagationBidirectional as i32, 2);
        assert_eq!(api::Protocol::Sctp as i32, 2);
    }
}
