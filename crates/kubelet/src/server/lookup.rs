//! From `(namespace, pod name, container name)` to the runtime's ids,
//! through the labels the kubelet puts on sandboxes and containers
//! ([`crate::pod::LABEL_POD_NAME`] and friends).

use std::collections::HashMap;

use cri::api;
use cri::Runtime;

use super::ServerError;
use crate::pod::{LABEL_CONTAINER_NAME, LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID};

/// A pod as the runtime knows it: its newest sandbox.
#[derive(Debug, Clone)]
pub struct PodRef {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub name: String,
    /// The pod's uid (from the sandbox labels).
    pub uid: String,
    /// The newest sandbox of the pod.
    pub sandbox: api::PodSandbox,
}

impl PodRef {
    /// Whether the sandbox is ready (its network is up).
    pub fn ready(&self) -> bool {
        self.sandbox.state == api::PodSandboxState::SandboxReady as i32
    }
}

/// The pod's newest sandbox, preferring a ready one; 404 when the runtime
/// has none (as upstream's `pod "x" does not exist`).
pub async fn find_pod(rt: &dyn Runtime, ns: &str, name: &str) -> Result<PodRef, ServerError> {
    let filter = api::PodSandboxFilter {
        label_selector: HashMap::from([
            (LABEL_POD_NAMESPACE.to_string(), ns.to_string()),
            (LABEL_POD_NAME.to_string(), name.to_string()),
        ]),
        ..Default::default()
    };
    let sandboxes = rt.list_pod_sandbox(Some(filter)).await?;
    let best = sandboxes.into_iter().max_by_key(|s| {
        (
            s.state == api::PodSandboxState::SandboxReady as i32,
            s.created_at,
        )
    });
    let Some(sandbox) = best else {
        return Err(ServerError::NotFound(format!(
            "pod {name:?} does not exist"
        )));
    };
    Ok(PodRef {
        namespace: ns.to_string(),
        name: name.to_string(),
        uid: sandbox
            .labels
            .get(LABEL_POD_UID)
            .cloned()
            .unwrap_or_default(),
        sandbox,
    })
}

/// Every instance of `container` in the pod (all sandboxes of its uid),
/// newest first (highest restart attempt, then creation time).
pub async fn instances(
    rt: &dyn Runtime,
    pod: &PodRef,
    container: &str,
) -> Result<Vec<api::Container>, ServerError> {
    let filter = api::ContainerFilter {
        label_selector: HashMap::from([
            (LABEL_POD_UID.to_string(), pod.uid.clone()),
            (LABEL_CONTAINER_NAME.to_string(), container.to_string()),
        ]),
        ..Default::default()
    };
    let mut list = rt.list_containers(Some(filter)).await?;
    list.sort_by_key(|c| {
        std::cmp::Reverse((c.metadata.as_ref().map_or(0, |m| m.attempt), c.created_at))
    });
    Ok(list)
}

/// The container an exec or attach goes to: the newest instance, which
/// must be running.
pub async fn running_container(
    rt: &dyn Runtime,
    pod: &PodRef,
    container: &str,
) -> Result<api::Container, ServerError> {
    let list = instances(rt, pod, container).await?;
    let Some(c) = list.into_iter().next() else {
        return Err(ServerError::NotFound(format!(
            "container {container:?} not found in pod {:?}",
            pod.name
        )));
    };
    if c.state != api::ContainerState::ContainerRunning as i32 {
        return Err(ServerError::BadRequest(format!(
            "container {container:?} in pod {:?} is not running",
            pod.name
        )));
    }
    Ok(c)
}

/// The instance whose log `logs` (or `logs --previous`) reads, with the
/// upstream kubelet's messages for the cases that have none.
pub async fn log_container(
    rt: &dyn Runtime,
    pod: &PodRef,
    container: &str,
    previous: bool,
) -> Result<api::Container, ServerError> {
    let list = instances(rt, pod, container).await?;
    let chosen = if previous {
        list.into_iter().nth(1).ok_or_else(|| {
            ServerError::BadRequest(format!(
                "previous terminated container {container:?} in pod {:?} not found",
                pod.name
            ))
        })?
    } else {
        list.into_iter().next().ok_or_else(|| {
            ServerError::BadRequest(format!(
                "container {container:?} in pod {:?} is waiting to start - no logs yet",
                pod.name
            ))
        })?
    };
    if chosen.state == api::ContainerState::ContainerCreated as i32 {
        return Err(ServerError::BadRequest(format!(
            "container {container:?} in pod {:?} is waiting to start: ContainerCreating",
            pod.name
        )));
    }
    Ok(chosen)
}
