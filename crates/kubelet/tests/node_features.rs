//! The kubelet's node features against a real etcd, the in-process
//! apiserver and a private containerd (`cri::testing`): admission against
//! allocatable, Events, image pull errors with back-off, graceful
//! termination by SIGTERM, and static pods with their mirror pods. Needs
//! root and containerd.

mod support;

use std::sync::Arc;
use std::time::Duration;

use cri::testing::Containerd;
use cri::Runtime;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::Client;
use serde_json::json;
use support::{cluster, wait_within};

const PATIENCE: Duration = Duration::from_secs(60);

fn options(ctd: &Containerd, dir: &std::path::Path, node: &str) -> kubelet::Options {
    kubelet::Options {
        hostname_override: Some(node.into()),
        node_ip: Some("127.0.0.1".into()),
        root_dir: dir.join("root"),
        cgroup_root: ctd.cgroup_root(),
        cni_conf_dir: None,
        pod_log_dir: ctd.pod_log_root(),
        // Never the real kubelet's 10250 (a `make cluster` may run).
        address: std::net::Ipv4Addr::LOCALHOST.into(),
        port: 0,
        ..kubelet::Options::default()
    }
}

async fn node_ready(client: &Client, name: &str) {
    let nodes: Api<Node> = Api::all(client.clone());
    wait_within("node Ready", PATIENCE, || async {
        let n = nodes.get_opt(name).await.ok()??;
        n.status?
            .conditions?
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
            .then_some(())
    })
    .await;
}

async fn events_of(client: &Client, pod: &str) -> Vec<Event> {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    events
        .list(&ListParams::default().fields(&format!("involvedObject.name={pod}")))
        .await
        .map(|l| l.items)
        .unwrap_or_default()
}

async fn wait_event(client: &Client, pod: &str, reason: &str, contains: &str) -> Event {
    wait_within(&format!("event {reason} of {pod}"), PATIENCE, || async {
        events_of(client, pod).await.into_iter().find(|e| {
            e.reason.as_deref() == Some(reason)
                && e.message.as_deref().unwrap_or_default().contains(contains)
        })
    })
    .await
}

/// `kubectl.1.33 describe pod <name>` against the test apiserver, when
/// that kubectl is installed (it is on every machine here).
async fn kubectl_describe(c: &support::Cluster, dir: &std::path::Path, pod: &str) -> String {
    let kubectl = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster:\n    server: https://127.0.0.1:{}\n    certificate-authority: {}\ncontexts:\n- name: t\n  context: {{cluster: t, user: u, namespace: default}}\nusers:\n- name: u\n  user: {{token: {}}}\ncurrent-context: t\n",
            c.running.addr.port(),
            c.running.ca_file.display(),
            support::TOKEN
        ),
    )
    .unwrap();
    let out = tokio::process::Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["describe", "pod", pod])
        .output()
        .await
        .unwrap_or_else(|e| panic!("running {kubectl}: {e}"));
    assert!(
        out.status.success(),
        "kubectl describe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn waiting_reason(p: &Pod) -> Option<String> {
    p.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?
        .waiting
        .as_ref()?
        .reason
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_events_pull_errors_and_sigterm() {
    support::init_tracing();
    let ctd = Containerd::start().unwrap_or_else(|e| panic!("containerd: {e}"));
    let dir = std::env::temp_dir().join(format!("kubelet-nf-it-{}", std::process::id()));
    let c = cluster(&dir).await;
    let client = c.client.clone();
    let runtime = Arc::new(cri::CriRuntime::connect(ctd.socket()).await.expect("CRI"));
    let kubelet = support::Kubelet::start(
        client.clone(),
        runtime.clone(),
        options(&ctd, &dir, "node-nf"),
    );
    node_ready(&client, "node-nf").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    // 1. A pod asking for more cpu than the node has: rejected, never run.
    let big: Pod = serde_json::from_value(json!({
        "metadata": {"name": "too-big"},
        "spec": {"nodeName": "node-nf", "containers": [{
            "name": "c", "image": "busybox:1.35", "imagePullPolicy": "IfNotPresent",
            "command": ["sleep", "3600"],
            "resources": {"requests": {"cpu": "1000"}}}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &big)
        .await
        .expect("create too-big");
    let rejected = wait_within("too-big Failed", PATIENCE, || async {
        let p = pods.get("too-big").await.ok()?;
        (p.status.as_ref()?.phase.as_deref() == Some("Failed")).then_some(p)
    })
    .await;
    let s = rejected.status.unwrap();
    assert_eq!(s.reason.as_deref(), Some("OutOfcpu"));
    let cpus = kubelet::node::cpu_count() * 1000;
    assert_eq!(
        s.message.as_deref().unwrap(),
        format!(
            "Pod was rejected: Node didn't have enough resource: cpu, requested: 1000000, used: 0, capacity: {cpus}"
        )
    );
    let ev = wait_event(
        &client,
        "too-big",
        "OutOfcpu",
        "Node didn't have enough resource",
    )
    .await;
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    let src = ev.source.unwrap();
    assert_eq!(src.component.as_deref(), Some("kubelet"));
    assert_eq!(src.host.as_deref(), Some("node-nf"));
    let uid = rejected.metadata.uid.unwrap();
    let sandboxes = runtime.list_pod_sandbox(None).await.unwrap();
    assert!(
        !sandboxes
            .iter()
            .any(|s| s.labels.get("io.kubernetes.pod.uid") == Some(&uid)),
        "a rejected pod got a sandbox"
    );

    // 2. A missing image: ErrImagePull, then ImagePullBackOff, with events.
    let image = "docker.io/library/busybox:no-such-tag-kubelet-it";
    let missing: Pod = serde_json::from_value(json!({
        "metadata": {"name": "no-image"},
        "spec": {"nodeName": "node-nf", "terminationGracePeriodSeconds": 1, "containers": [{
            "name": "c", "image": image, "imagePullPolicy": "IfNotPresent",
            "command": ["sleep", "3600"]}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &missing)
        .await
        .expect("create no-image");
    let seen = std::sync::Mutex::new(Vec::<String>::new());
    wait_within(
        "ErrImagePull then ImagePullBackOff",
        Duration::from_secs(120),
        || async {
            let p = pods.get("no-image").await.ok()?;
            let mut seen = seen.lock().unwrap();
            if let Some(r) = waiting_reason(&p) {
                if seen.last() != Some(&r) {
                    seen.push(r);
                }
            }
            let pull = seen.iter().position(|r| r == "ErrImagePull")?;
            seen[pull..]
                .iter()
                .any(|r| r == "ImagePullBackOff")
                .then_some(())
        },
    )
    .await;
    wait_event(
        &client,
        "no-image",
        "Pulling",
        &format!("Pulling image \"{image}\""),
    )
    .await;
    wait_event(
        &client,
        "no-image",
        "Failed",
        &format!("Failed to pull image \"{image}\""),
    )
    .await;
    wait_event(&client, "no-image", "Failed", "Error: ErrImagePull").await;
    wait_event(
        &client,
        "no-image",
        "BackOff",
        &format!("Back-off pulling image \"{image}\""),
    )
    .await;
    wait_event(&client, "no-image", "Failed", "Error: ImagePullBackOff").await;

    // 3. SIGTERM on deletion, seen through a hostPath the test owns.
    let host = dir.join("term-host");
    std::fs::create_dir_all(&host).unwrap();
    let term: Pod = serde_json::from_value(json!({
        "metadata": {"name": "term"},
        "spec": {"nodeName": "node-nf", "terminationGracePeriodSeconds": 30, "containers": [{
            "name": "c", "image": "busybox:1.35", "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c",
                "trap 'echo got-term > /host/term; exit 0' TERM; echo ready > /host/ready; while true; do sleep 1; done"],
            "volumeMounts": [{"name": "host", "mountPath": "/host"}]}],
            "volumes": [{"name": "host", "hostPath": {"path": host.display().to_string(), "type": "Directory"}}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &term)
        .await
        .expect("create term");
    wait_within("term running with its trap set", PATIENCE, || async {
        let p = pods.get("term").await.ok()?;
        let running = p.status.as_ref()?.phase.as_deref() == Some("Running");
        (running && host.join("ready").exists()).then_some(())
    })
    .await;
    wait_event(&client, "term", "Pulled", "already present on machine").await;
    wait_event(&client, "term", "Created", "Created container: c").await;
    wait_event(&client, "term", "Started", "Started container c").await;
    // The upstream kubectl shows them.
    let described = kubectl_describe(&c, &dir, "term").await;
    assert!(described.contains("Events:"), "{described}");
    for want in ["Started", "Started container c", "kubelet"] {
        assert!(described.contains(want), "{want} in {described}");
    }
    let described = kubectl_describe(&c, &dir, "too-big").await;
    assert!(described.contains("OutOfcpu"), "{described}");
    pods.delete("term", &DeleteParams::default())
        .await
        .expect("delete term");
    // The kubelet waits for the container to exit (well within the 30 s),
    // then deletes the pod with grace 0.
    wait_within("term gone", PATIENCE, || async {
        matches!(pods.get_opt("term").await, Ok(None)).then_some(())
    })
    .await;
    assert_eq!(
        std::fs::read_to_string(host.join("term"))
            .expect("the trap ran")
            .trim(),
        "got-term"
    );
    wait_event(&client, "term", "Killing", "Stopping container c").await;

    for name in ["too-big", "no-image"] {
        pods.delete(name, &DeleteParams::default())
            .await
            .expect("delete");
    }
    wait_within("pods gone", PATIENCE, || async {
        pods.list(&Default::default())
            .await
            .ok()?
            .items
            .is_empty()
            .then_some(())
    })
    .await;
    kubelet.stop().await;
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_pods_and_their_mirror_pods() {
    support::init_tracing();
    let ctd = Containerd::start().unwrap_or_else(|e| panic!("containerd: {e}"));
    let dir = std::env::temp_dir().join(format!("kubelet-static-it-{}", std::process::id()));
    let manifests = dir.join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    let c = cluster(&dir).await;
    let client = c.client.clone();
    let runtime = Arc::new(cri::CriRuntime::connect(ctd.socket()).await.expect("CRI"));
    let mut opts = options(&ctd, &dir, "node-st");
    opts.static_pod_path = Some(manifests.clone());
    // Faster than upstream's 20 s, so the test does not idle.
    opts.file_check_frequency = Duration::from_secs(1);
    std::fs::write(
        manifests.join("web.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels: {app: web}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: c\n    image: busybox:1.35\n    imagePullPolicy: IfNotPresent\n    command: [sleep, '3600']\n",
    )
    .unwrap();
    let kubelet = support::Kubelet::start(client.clone(), runtime.clone(), opts);
    node_ready(&client, "node-st").await;
    let nodes: Api<Node> = Api::all(client.clone());
    let node_uid = nodes.get("node-st").await.unwrap().metadata.uid.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    // The mirror pod shows the static pod, Running, owned by the Node.
    let mirror = wait_within("mirror pod Running", PATIENCE, || async {
        let p = pods.get_opt("web-node-st").await.ok()??;
        (p.status.as_ref()?.phase.as_deref() == Some("Running")).then_some(p)
    })
    .await;
    let a = mirror.metadata.annotations.clone().unwrap();
    let hash = a["kubernetes.io/config.hash"].clone();
    assert_eq!(a["kubernetes.io/config.mirror"], hash);
    assert_eq!(a["kubernetes.io/config.source"], "file");
    let owner = &mirror.metadata.owner_references.clone().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("Node", node_uid.as_str())
    );
    // The containers run under the static uid (the hash), not the mirror's.
    let sandboxes = runtime.list_pod_sandbox(None).await.unwrap();
    assert!(sandboxes
        .iter()
        .any(|s| s.labels.get("io.kubernetes.pod.uid") == Some(&hash)));

    // A deleted mirror pod comes back (a new object), the pod untouched.
    let first_uid = mirror.metadata.uid.clone().unwrap();
    pods.delete("web-node-st", &DeleteParams::default())
        .await
        .expect("delete mirror");
    wait_within("mirror pod recreated", PATIENCE, || async {
        let p = pods.get_opt("web-node-st").await.ok()??;
        let fresh = p.metadata.uid.as_deref() != Some(first_uid.as_str())
            && p.metadata.deletion_timestamp.is_none();
        (fresh && p.status.as_ref()?.phase.as_deref() == Some("Running")).then_some(())
    })
    .await;
    let running = runtime.list_pod_sandbox(None).await.unwrap();
    assert_eq!(running.len(), 1, "the static pod kept its one sandbox");

    // Removing the manifest stops the pod and deletes the mirror pod.
    std::fs::remove_file(manifests.join("web.yaml")).unwrap();
    wait_within("mirror pod gone", PATIENCE, || async {
        matches!(pods.get_opt("web-node-st").await, Ok(None)).then_some(())
    })
    .await;
    let rt = runtime.clone();
    wait_within("static pod sandbox removed", PATIENCE, || {
        let rt = rt.clone();
        async move {
            rt.list_pod_sandbox(None)
                .await
                .ok()?
                .is_empty()
                .then_some(())
        }
    })
    .await;

    kubelet.stop().await;
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
}
