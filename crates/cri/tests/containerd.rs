//! The CRI client against a real containerd 1.6 (its own instance, see
//! `cri::testing`): the calls a kubelet makes for one pod, end to end.
//!
//! Needs root, containerd, runc and the CNI plugins (`hack/install-deps.sh`).

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use cri::api::{self, ContainerState, NamespaceMode, PodSandboxState};
use cri::testing::{Containerd, BUSYBOX_IMAGE, PAUSE_IMAGE};
use cri::{CriRuntime, Runtime};

/// How long a condition the runtime reaches by itself may take.
const PATIENCE: Duration = Duration::from_secs(15);

fn start() -> Containerd {
    Containerd::start().unwrap_or_else(|e| panic!("starting a test containerd: {e}"))
}

fn sandbox_config(ctd: &Containerd, name: &str, uid: &str) -> api::PodSandboxConfig {
    let log_directory = ctd.pod_log_root().join(format!("default_{name}_{uid}"));
    std::fs::create_dir_all(&log_directory).expect("creating the pod log directory");
    let namespaces = api::NamespaceOption {
        network: NamespaceMode::Pod as i32,
        pid: NamespaceMode::Container as i32,
        ipc: NamespaceMode::Pod as i32,
        ..Default::default()
    };
    api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name: name.into(),
            uid: uid.into(),
            namespace: "default".into(),
            attempt: 0,
        }),
        hostname: name.into(),
        log_directory: log_directory.display().to_string(),
        dns_config: Some(api::DnsConfig {
            servers: vec!["10.0.0.10".into()],
            searches: vec![
                "default.svc.cluster.local".into(),
                "svc.cluster.local".into(),
                "cluster.local".into(),
            ],
            options: vec!["ndots:5".into()],
        }),
        labels: HashMap::from([("io.kubernetes.pod.name".into(), name.into())]),
        linux: Some(api::LinuxPodSandboxConfig {
            cgroup_parent: format!("{}/pod{uid}", ctd.cgroup_root()),
            security_context: Some(api::LinuxSandboxSecurityContext {
                namespace_options: Some(namespaces),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn container_config(sandbox: &api::PodSandboxConfig) -> api::ContainerConfig {
    let log_dir = Path::new(&sandbox.log_directory).join("hello");
    std::fs::create_dir_all(&log_dir).expect("creating the container log directory");
    api::ContainerConfig {
        metadata: Some(api::ContainerMetadata {
            name: "hello".into(),
            attempt: 0,
        }),
        image: Some(api::ImageSpec {
            image: BUSYBOX_IMAGE.into(),
            ..Default::default()
        }),
        command: vec!["sh".into(), "-c".into()],
        args: vec!["echo hello; sleep 30".into()],
        envs: vec![api::KeyValue {
            key: "GREETING".into(),
            value: "hi there".into(),
        }],
        log_path: "hello/0.log".into(),
        linux: Some(api::LinuxContainerConfig {
            resources: Some(api::LinuxContainerResources {
                cpu_period: 100_000,
                cpu_quota: 50_000,
                cpu_shares: 512,
                memory_limit_in_bytes: 64 << 20,
                oom_score_adj: 999,
                ..Default::default()
            }),
            security_context: Some(api::LinuxContainerSecurityContext {
                namespace_options: sandbox
                    .linux
                    .as_ref()
                    .and_then(|l| l.security_context.as_ref())
                    .and_then(|s| s.namespace_options.clone()),
                run_as_user: Some(api::Int64Value { value: 0 }),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}

async fn exec(cri: &CriRuntime, id: &str, script: &str) -> api::ExecSyncResponse {
    let cmd = ["sh".to_string(), "-c".to_string(), script.to_string()];
    cri.exec_sync(id, &cmd, Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("ExecSync {script:?}: {e}"))
}

fn stdout(resp: &api::ExecSyncResponse) -> String {
    String::from_utf8_lossy(&resp.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_lifecycle() {
    let ctd = start();
    let cri = CriRuntime::connect(ctd.socket()).await.expect("connecting");

    let version = cri.version().await.expect("Version");
    assert_eq!(version.runtime_name, "containerd");
    assert_eq!(version.runtime_api_version, "v1");

    // Sandbox: a pod IP from this instance's subnet.
    let uid = "0c6f3b1e-8d2a-4b55-9c1e-7a3f00000001";
    let sandbox = sandbox_config(&ctd, "hello", uid);
    let sandbox_id = cri
        .run_pod_sandbox(&sandbox, "")
        .await
        .unwrap_or_else(|e| panic!("RunPodSandbox: {e}\ncontainerd log:\n{}", ctd.log_tail()));
    let status = cri
        .pod_sandbox_status(&sandbox_id)
        .await
        .expect("PodSandboxStatus");
    assert_eq!(status.state(), PodSandboxState::SandboxReady);
    let ip = status
        .network
        .as_ref()
        .map(|n| n.ip.clone())
        .unwrap_or_default();
    let prefix = format!("10.250.{}.", ctd.slot());
    assert!(
        ip.starts_with(&prefix),
        "pod IP {ip:?} outside {}",
        ctd.subnet()
    );
    assert_eq!(status.metadata.as_ref().map(|m| m.uid.as_str()), Some(uid));
    let listed = cri.list_pod_sandbox(None).await.expect("ListPodSandbox");
    assert!(listed.iter().any(|s| s.id == sandbox_id), "{listed:?}");

    // Container: created, started, running.
    let config = container_config(&sandbox);
    let container_id = cri
        .create_container(&sandbox_id, &config, &sandbox)
        .await
        .unwrap_or_else(|e| panic!("CreateContainer: {e}\ncontainerd log:\n{}", ctd.log_tail()));
    let created = cri
        .container_status(&container_id)
        .await
        .expect("ContainerStatus");
    assert_eq!(created.state(), ContainerState::ContainerCreated);
    cri.start_container(&container_id)
        .await
        .expect("StartContainer");
    let running = cri
        .container_status(&container_id)
        .await
        .expect("ContainerStatus");
    assert_eq!(running.state(), ContainerState::ContainerRunning);
    assert!(running.started_at >= running.created_at && running.started_at > 0);
    assert!(
        running.image_ref.starts_with("sha256:"),
        "image_ref {:?}",
        running.image_ref
    );
    let in_sandbox = cri
        .list_containers(Some(api::ContainerFilter {
            pod_sandbox_id: sandbox_id.clone(),
            ..Default::default()
        }))
        .await
        .expect("ListContainers");
    assert_eq!(in_sandbox.len(), 1);
    assert_eq!(in_sandbox[0].id, container_id);

    // The log file, in the CRI format: `<RFC3339Nano> stdout F hello`.
    let log_path = Path::new(&sandbox.log_directory).join(&config.log_path);
    assert_eq!(Path::new(&running.log_path), log_path);
    let deadline = Instant::now() + PATIENCE;
    let log = loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log.contains("hello") || Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let line = log
        .lines()
        .next()
        .unwrap_or_else(|| panic!("empty log {}", log_path.display()));
    let fields: Vec<&str> = line.splitn(4, ' ').collect();
    assert_eq!(fields.len(), 4, "log line {line:?}");
    assert!(
        fields[0].contains('T') && fields[0].len() >= 20,
        "timestamp in {line:?}"
    );
    assert_eq!(&fields[1..], ["stdout", "F", "hello"]);

    // ExecSync: output, environment, hostname, DNS, limits applied.
    let hi = cri
        .exec_sync(
            &container_id,
            &["echo".into(), "hi".into()],
            Duration::from_secs(10),
        )
        .await
        .expect("ExecSync");
    assert_eq!(hi.exit_code, 0);
    assert_eq!(hi.stdout, b"hi\n");
    assert_eq!(
        stdout(&exec(&cri, &container_id, "echo $GREETING").await),
        "hi there"
    );
    assert_eq!(
        stdout(&exec(&cri, &container_id, "hostname").await),
        "hello"
    );
    let resolv = stdout(&exec(&cri, &container_id, "cat /etc/resolv.conf").await);
    assert!(
        resolv.contains("nameserver 10.0.0.10") && resolv.contains("ndots:5"),
        "{resolv}"
    );
    let limit = exec(
        &cri,
        &container_id,
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
    )
    .await;
    assert_eq!(stdout(&limit), (64u64 << 20).to_string());
    let quota = exec(
        &cri,
        &container_id,
        "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us",
    )
    .await;
    assert_eq!(stdout(&quota), "50000");
    let failed = exec(&cri, &container_id, "echo oops >&2; exit 3").await;
    assert_eq!(
        (failed.exit_code, failed.stderr.as_slice()),
        (3, &b"oops\n"[..])
    );
    let own_ip = exec(&cri, &container_id, "ip -4 -o addr show eth0").await;
    assert!(stdout(&own_ip).contains(&ip), "{}", stdout(&own_ip));

    // Streaming calls hand back a URL on containerd's streaming server.
    let url = cri
        .exec(api::ExecRequest {
            container_id: container_id.clone(),
            cmd: vec!["sh".into()],
            stdin: true,
            stdout: true,
            ..Default::default()
        })
        .await
        .expect("Exec");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let url = cri
        .port_forward(&sandbox_id, &[80])
        .await
        .expect("PortForward");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    // Stats and resource updates on the running container.
    let stats = cri
        .container_stats(&container_id)
        .await
        .expect("ContainerStats");
    assert!(stats
        .memory
        .and_then(|m| m.working_set_bytes)
        .is_some_and(|w| w.value > 0));
    let all_stats = cri
        .list_container_stats(None)
        .await
        .expect("ListContainerStats");
    assert!(all_stats
        .iter()
        .any(|s| s.attributes.as_ref().is_some_and(|a| a.id == container_id)));
    let resources = api::LinuxContainerResources {
        cpu_period: 100_000,
        cpu_quota: 50_000,
        cpu_shares: 512,
        memory_limit_in_bytes: 96 << 20,
        ..Default::default()
    };
    cri.update_container_resources(&container_id, &resources)
        .await
        .expect("UpdateContainerResources");
    let limit = exec(
        &cri,
        &container_id,
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
    )
    .await;
    assert_eq!(stdout(&limit), (96u64 << 20).to_string());
    cri.reopen_container_log(&container_id)
        .await
        .expect("ReopenContainerLog");

    // Stop (sh as PID 1 ignores SIGTERM: SIGKILL after the grace period).
    cri.stop_container(&container_id, Duration::from_secs(1))
        .await
        .expect("StopContainer");
    let exited = cri
        .container_status(&container_id)
        .await
        .expect("ContainerStatus");
    assert_eq!(exited.state(), ContainerState::ContainerExited);
    assert!(exited.finished_at >= exited.started_at);
    assert_eq!(exited.exit_code, 137, "reason {:?}", exited.reason);
    assert_eq!(exited.reason, "Error");

    // Remove: gone, and a second remove is still fine.
    cri.remove_container(&container_id)
        .await
        .expect("RemoveContainer");
    let err = cri
        .container_status(&container_id)
        .await
        .expect_err("status of a removed container");
    assert!(err.is_not_found(), "{err:?}");
    cri.remove_container(&container_id)
        .await
        .expect("RemoveContainer again");

    cri.stop_pod_sandbox(&sandbox_id)
        .await
        .expect("StopPodSandbox");
    let stopped = cri
        .pod_sandbox_status(&sandbox_id)
        .await
        .expect("PodSandboxStatus");
    assert_eq!(stopped.state(), PodSandboxState::SandboxNotready);
    cri.remove_pod_sandbox(&sandbox_id)
        .await
        .expect("RemovePodSandbox");
    let err = cri
        .pod_sandbox_status(&sandbox_id)
        .await
        .expect_err("status of a removed sandbox");
    assert!(err.is_not_found(), "{err:?}");
    cri.remove_pod_sandbox(&sandbox_id)
        .await
        .expect("RemovePodSandbox again");
    assert!(cri
        .list_pod_sandbox(None)
        .await
        .expect("ListPodSandbox")
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_status_and_images() {
    let ctd = start();
    let cri = CriRuntime::connect(ctd.socket()).await.expect("connecting");

    // Both conditions true: the CNI config is in place.
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        let status = cri.status().await.expect("Status");
        let ready = status.conditions.iter().all(|c| c.status);
        if ready || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for kind in ["RuntimeReady", "NetworkReady"] {
        let cond = status.conditions.iter().find(|c| c.r#type == kind);
        assert!(cond.is_some_and(|c| c.status), "{kind} in {status:?}");
    }
    cri.update_runtime_config(&ctd.subnet())
        .await
        .expect("UpdateRuntimeConfig");

    // Imported images are present under their tags.
    let busybox = cri
        .image_status(BUSYBOX_IMAGE)
        .await
        .expect("ImageStatus")
        .expect("busybox present");
    for tag in ["1.35", "1.35.0", "latest"] {
        let want = format!("docker.io/library/busybox:{tag}");
        assert!(
            busybox.repo_tags.contains(&want),
            "{want} in {:?}",
            busybox.repo_tags
        );
    }
    assert!(
        busybox.id.starts_with("sha256:") && busybox.size > 0,
        "{busybox:?}"
    );
    // A short name resolves as docker.io/library/...
    let short = cri.image_status("busybox:1.35").await.expect("ImageStatus");
    assert_eq!(short.map(|i| i.id), Some(busybox.id.clone()));
    let images = cri.list_images(None).await.expect("ListImages");
    assert!(
        images
            .iter()
            .any(|i| i.repo_tags.iter().any(|t| t == PAUSE_IMAGE)),
        "{images:?}"
    );
    let absent = cri
        .image_status("docker.io/library/absent:0")
        .await
        .expect("ImageStatus");
    assert!(absent.is_none(), "{absent:?}");

    // A pull always asks the registry (the test's mirror, 127.0.0.1:5000,
    // is not running or lacks the image), so it fails with the runtime's
    // error.
    let err = cri
        .pull_image("docker.io/library/absent:0", None, None)
        .await
        .expect_err("pulling absent");
    assert!(
        matches!(
            err,
            cri::Error::Rpc {
                method: "PullImage",
                ..
            }
        ),
        "{err:?}"
    );

    let fs = cri.image_fs_info().await.expect("ImageFsInfo");
    assert!(!fs.is_empty());
    assert!(fs[0]
        .fs_id
        .as_ref()
        .is_some_and(|f| f.mountpoint.starts_with(&ctd.dir().display().to_string())));

    // Removing by one tag removes the image with all its tags; removing
    // again, or something never present, succeeds.
    cri.remove_image("docker.io/library/busybox:latest")
        .await
        .expect("RemoveImage");
    let gone = cri.image_status(BUSYBOX_IMAGE).await.expect("ImageStatus");
    assert!(gone.is_none(), "{gone:?}");
    cri.remove_image("docker.io/library/busybox:latest")
        .await
        .expect("RemoveImage again");
    cri.remove_image("docker.io/library/absent:0")
        .await
        .expect("RemoveImage of an absent image");
}

/// The project's nginx image (built from Debian's package by
/// `hack/build-images.sh`) serves its welcome page on the pod IP, reachable
/// from the host, and logs requests to stdout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_serves_its_welcome_page() {
    use std::io::{Read, Write};

    let ctd = start();
    ctd.import_images(&["nginx"])
        .unwrap_or_else(|e| panic!("importing nginx: {e}"));
    let cri = CriRuntime::connect(ctd.socket()).await.expect("connecting");
    let sandbox = sandbox_config(&ctd, "web", "0c6f3b1e-8d2a-4b55-9c1e-7a3f00000002");
    let sandbox_id = cri
        .run_pod_sandbox(&sandbox, "")
        .await
        .expect("RunPodSandbox");
    let ip = cri
        .pod_sandbox_status(&sandbox_id)
        .await
        .expect("PodSandboxStatus")
        .network
        .map(|n| n.ip)
        .unwrap_or_default();
    std::fs::create_dir_all(Path::new(&sandbox.log_directory).join("nginx"))
        .expect("creating the log directory");
    let config = api::ContainerConfig {
        metadata: Some(api::ContainerMetadata {
            name: "nginx".into(),
            attempt: 0,
        }),
        image: Some(api::ImageSpec {
            image: "nginx:1.22".into(),
            ..Default::default()
        }),
        log_path: "nginx/0.log".into(),
        ..Default::default()
    };
    let id = cri
        .create_container(&sandbox_id, &config, &sandbox)
        .await
        .expect("CreateContainer");
    cri.start_container(&id).await.expect("StartContainer");

    let deadline = Instant::now() + PATIENCE;
    let response = loop {
        let attempt = std::net::TcpStream::connect((ip.as_str(), 80)).and_then(|mut conn| {
            conn.set_read_timeout(Some(Duration::from_secs(5)))?;
            conn.write_all(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")?;
            let mut body = String::new();
            conn.read_to_string(&mut body)?;
            Ok(body)
        });
        match attempt {
            Ok(body) => break body,
            Err(e) if Instant::now() > deadline => {
                panic!("GET http://{ip}/: {e}\n{}", ctd.log_tail())
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("Welcome to nginx!"), "{response}");

    let version = cri
        .exec_sync(&id, &["nginx".into(), "-v".into()], Duration::from_secs(10))
        .await
        .expect("ExecSync nginx -v");
    assert_eq!(
        String::from_utf8_lossy(&version.stderr).trim(),
        "nginx version: nginx/1.22.1"
    );

    let log_path = Path::new(&sandbox.log_directory).join("nginx/0.log");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log
            .lines()
            .any(|l| l.contains(" stdout F ") && l.contains("\"GET / HTTP/1.0\" 200"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no access log line in {}:\n{log}",
            log_path.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // nginx stops gracefully on its image's stop signal (SIGQUIT).
    cri.stop_container(&id, Duration::from_secs(10))
        .await
        .expect("StopContainer");
    let exited = cri.container_status(&id).await.expect("ContainerStatus");
    assert_eq!(exited.state(), ContainerState::ContainerExited);
    assert_eq!(exited.exit_code, 0, "reason {:?}", exited.reason);
    cri.stop_pod_sandbox(&sandbox_id)
        .await
        .expect("StopPodSandbox");
    cri.remove_pod_sandbox(&sandbox_id)
        .await
        .expect("RemovePodSandbox");
}
