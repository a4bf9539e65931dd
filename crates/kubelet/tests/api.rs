//! The kubelet API through the apiserver: logs (tail, timestamps, follow),
//! exec and port-forward with kube-rs (WebSocket) and with upstream kubectl
//! (WebSocket falling back to SPDY), `nodes/proxy`, and the kubelet's own
//! `/healthz`, `/pods`, `/metrics`, `/stats/summary`. Real etcd, an
//! in-process apiserver, the kubelet in-process and a private containerd.
//! Needs root and containerd.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cri::testing::Containerd;
use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, LogParams, PostParams};
use kube::Client;
use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt, AsyncWriteExt};

const PATIENCE: Duration = Duration::from_secs(60);
const KUBECTL: &str = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";
const NODE: &str = "node-api";
const TOKEN: &str = "kubelet-api-test-token";

async fn apiserver(dir: &Path) -> (etcd_harness::Etcd, apiserver::server::Running, Client) {
    let etcd = etcd_harness::Etcd::start().expect("etcd");
    let prefix = etcd.unique_prefix();
    let mut cfg = apiserver::Config::for_test(etcd.endpoint(), &prefix, dir.join("certs"));
    // kubectl asks for a password without credentials: give it a token.
    std::fs::create_dir_all(dir).unwrap();
    let tokens = dir.join("tokens.csv");
    std::fs::write(
        &tokens,
        format!("{TOKEN},admin,admin-uid,\"system:masters\"\n"),
    )
    .unwrap();
    cfg.token_auth_file = Some(tokens);
    let running = apiserver::server::start(cfg).await.expect("apiserver");
    for _ in 0..600 {
        if running.state.openapi.get().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pem = std::fs::read(&running.ca_file).unwrap();
    let ders: Vec<Vec<u8>> = rustls_pemfile::certs(&mut pem.as_slice())
        .map(|c| c.unwrap().to_vec())
        .collect();
    let url = format!("https://127.0.0.1:{}", running.addr.port());
    let mut kc = kube::Config::new(url.parse().unwrap());
    kc.root_cert = Some(ders);
    kc.default_namespace = "default".into();
    (etcd, running, Client::try_from(kc).unwrap())
}

async fn wait_for<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A kubeconfig for upstream kubectl: the test server's CA and token.
fn kubeconfig(dir: &Path, port: u16, ca: &Path) -> PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority: {}\nusers:\n- name: anon\n  user:\n    token: {TOKEN}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: anon\n    namespace: default\ncurrent-context: test\n",
        ca.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn kubectl(kc: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(kc)
        .args(args)
        .output()
        .expect("running kubectl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `GET /` over a raw TCP stream; returns the whole response.
async fn http_get<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S) -> String {
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, s.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

fn curl_kubelet(port: u16, path: &str) -> String {
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "30"])
        .arg(format!("https://127.0.0.1:{port}{path}"))
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_exec_and_port_forward_through_the_apiserver() {
    let ctd = Containerd::start().unwrap_or_else(|e| panic!("containerd: {e}"));
    let dir = std::env::temp_dir().join(format!("kubelet-api-it-{}", std::process::id()));
    let (_etcd, running, client) = apiserver(&dir).await;
    let runtime = Arc::new(cri::CriRuntime::connect(ctd.socket()).await.expect("CRI"));
    let kubelet_port = free_port();
    let opts = kubelet::Options {
        hostname_override: Some(NODE.into()),
        node_ip: Some("127.0.0.1".into()),
        root_dir: dir.join("root"),
        cgroup_root: ctd.cgroup_root(),
        cni_conf_dir: None,
        pod_log_dir: ctd.pod_log_root(),
        address: "127.0.0.1".parse().unwrap(),
        port: kubelet_port,
        ..kubelet::Options::default()
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let kubelet = tokio::spawn(kubelet::run_with(
        client.clone(),
        runtime.clone(),
        opts,
        async {
            let _ = stop_rx.await;
        },
    ));

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let script = "mkdir -p /www; echo hello-pf > /www/index.html; httpd -p 8080 -h /www; \
                  echo line-1; echo line-2; echo line-3; \
                  i=0; while true; do echo tick-$i; i=$((i+1)); sleep 1; done";
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": "printer"},
        "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 1, "containers": [{
            "name": "c", "image": "busybox:1.35", "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c", script]}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &p)
        .await
        .expect("create pod");
    let two: Pod = serde_json::from_value(json!({
        "metadata": {"name": "two"},
        "spec": {"nodeName": "elsewhere", "containers": [
            {"name": "a", "image": "busybox:1.35"}, {"name": "b", "image": "busybox:1.35"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &two)
        .await
        .expect("create pod");
    let restarter: Pod = serde_json::from_value(json!({
        "metadata": {"name": "restarter"},
        "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 1, "containers": [{
            "name": "c", "image": "busybox:1.35", "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c", "echo hello; sleep 1; echo bye; exit 1"]}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &restarter)
        .await
        .expect("create pod");
    let reader: Pod = serde_json::from_value(json!({
        "metadata": {"name": "reader"},
        "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 1, "containers": [{
            "name": "c", "image": "busybox:1.35", "imagePullPolicy": "IfNotPresent",
            "stdin": true,
            "command": ["sh", "-c", "while read l; do echo got-$l; done"]}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &reader)
        .await
        .expect("create pod");
    wait_for("pod Running", || async {
        let p = pods.get("printer").await.ok()?;
        let s = p.status.as_ref()?;
        let running = s
            .container_statuses
            .as_ref()?
            .iter()
            .any(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()));
        running.then_some(())
    })
    .await;

    // The kubelet's own endpoints.
    assert_eq!(curl_kubelet(kubelet_port, "/healthz"), "ok");
    let list: serde_json::Value =
        serde_json::from_str(&curl_kubelet(kubelet_port, "/pods")).expect("/pods is JSON");
    assert_eq!(list["kind"], "PodList");
    assert!(list["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["metadata"]["name"] == "printer"));
    let metrics = curl_kubelet(kubelet_port, "/metrics");
    let running_pods: u32 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("kubelet_running_pods "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("kubelet_running_pods in {metrics}"));
    assert!(running_pods >= 1, "{metrics}");
    let summary: serde_json::Value =
        serde_json::from_str(&curl_kubelet(kubelet_port, "/stats/summary")).expect("summary");
    assert_eq!(summary["node"]["nodeName"], NODE);
    assert!(
        summary["pods"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["podRef"]["name"] == "printer"),
        "{summary}"
    );

    // The Node advertises the kubelet's port; nodes/proxy reaches it.
    wait_for("kubelet port on the Node", || async {
        let n = Api::<k8s_openapi::api::core::v1::Node>::all(client.clone())
            .get(NODE)
            .await
            .ok()?;
        let port = n.status?.daemon_endpoints?.kubelet_endpoint?.port;
        (port == i32::from(kubelet_port)).then_some(())
    })
    .await;
    let req = http::Request::get(format!("/api/v1/nodes/{NODE}/proxy/healthz"))
        .body(Vec::new())
        .unwrap();
    assert_eq!(client.request_text(req).await.expect("nodes/proxy"), "ok");

    // Logs through the apiserver: text, tail, timestamps.
    let all = wait_for("three lines", || async {
        let text = pods.logs("printer", &LogParams::default()).await.ok()?;
        text.contains("line-3").then_some(text)
    })
    .await;
    assert!(all.starts_with("line-1\nline-2\nline-3\n"), "{all}");
    let tail = pods
        .logs(
            "printer",
            &LogParams {
                tail_lines: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(tail.lines().count(), 1, "{tail:?}");
    let stamped = pods
        .logs(
            "printer",
            &LogParams {
                timestamps: true,
                limit_bytes: Some(200),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let first = stamped.lines().next().unwrap();
    let (ts, rest) = first.split_once(' ').unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
        "timestamp in {first:?}"
    );
    assert_eq!(rest, "line-1");

    // Follow sees a line written after it started.
    let last_tick = |text: &str| {
        text.lines()
            .filter_map(|l| l.strip_prefix("tick-"))
            .filter_map(|n| n.parse::<u64>().ok())
            .max()
    };
    let before =
        last_tick(&pods.logs("printer", &LogParams::default()).await.unwrap()).unwrap_or(0);
    let stream = pods
        .log_stream(
            "printer",
            &LogParams {
                follow: true,
                ..Default::default()
            },
        )
        .await
        .expect("follow");
    let mut lines = stream.lines();
    let newer = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next().await {
            let line = line.unwrap();
            if let Some(n) = last_tick(&line) {
                if n > before + 1 {
                    return n;
                }
            }
        }
        panic!("the followed log ended");
    })
    .await
    .expect("a new line while following");
    assert!(newer > before);
    drop(lines);

    // Errors as upstream.
    match pods.logs("missing", &LogParams::default()).await {
        Err(kube::Error::Api(e)) => assert_eq!(e.code, 404),
        other => panic!("logs of a missing pod: {other:?}"),
    }
    match pods.logs("two", &LogParams::default()).await {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 400);
            assert_eq!(
                e.message,
                "a container name must be specified for pod two, choose one of: [a b]"
            );
        }
        other => panic!("logs without a container name: {other:?}"),
    }

    // The previous instance of a restarted container.
    wait_for("a restart", || async {
        let p = pods.get("restarter").await.ok()?;
        let restarts = p.status?.container_statuses?.first()?.restart_count;
        (restarts >= 1).then_some(())
    })
    .await;
    let previous = pods
        .logs(
            "restarter",
            &LogParams {
                previous: true,
                ..Default::default()
            },
        )
        .await
        .expect("previous logs");
    assert_eq!(previous, "hello\nbye\n");
    match pods
        .logs(
            "printer",
            &LogParams {
                previous: true,
                ..Default::default()
            },
        )
        .await
    {
        Err(kube::Error::Api(e)) => assert_eq!(
            (e.code, e.message.as_str()),
            (
                400,
                "previous terminated container \"c\" in pod \"printer\" not found"
            )
        ),
        other => panic!("previous logs of a first instance: {other:?}"),
    }

    // Exec with kube-rs (WebSocket, v4.channel.k8s.io at containerd).
    let mut proc = pods
        .exec(
            "printer",
            ["echo", "hi"],
            &AttachParams::default().stdout(true).stderr(false),
        )
        .await
        .expect("exec");
    let mut out = String::new();
    proc.stdout()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    proc.join().await.unwrap();
    assert_eq!(out, "hi\n");

    // Attach with kube-rs: stdin in, stdout out.
    wait_for("reader Running", || async {
        let p = pods.get("reader").await.ok()?;
        let s = p.status?.container_statuses?.first()?.state.clone()?;
        s.running.map(|_| ())
    })
    .await;
    let mut attached = pods
        .attach(
            "reader",
            &AttachParams::default()
                .stdin(true)
                .stdout(true)
                .stderr(false),
        )
        .await
        .expect("attach");
    let mut stdin = attached.stdin().unwrap();
    let mut stdout = attached.stdout().unwrap();
    stdin.write_all(b"ping\n").await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    tokio::time::timeout(PATIENCE, async {
        while !String::from_utf8_lossy(&got).contains("got-ping\n") {
            let n = stdout.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "attach stream ended: {:?}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("attach echo");
    drop(stdin);
    attached.abort();

    // Port-forward with kube-rs.
    let mut pf = pods
        .portforward("printer", &[8080])
        .await
        .expect("portforward");
    let resp = http_get(pf.take_stream(8080).unwrap()).await;
    assert!(resp.contains("hello-pf"), "{resp}");
    drop(pf);

    // Upstream kubectl.
    let kc = kubeconfig(&dir, running.addr.port(), &running.ca_file);
    let (ok, out, err) = kubectl(&kc, &["logs", "printer", "--tail=2"]);
    assert!(ok, "kubectl logs: {err}");
    assert_eq!(out.lines().count(), 2, "{out}");
    let (ok, out, err) = kubectl(&kc, &["logs", "printer"]);
    assert!(
        ok && out.starts_with("line-1\n"),
        "kubectl logs: {out} {err}"
    );
    let (ok, out, err) = kubectl(&kc, &["exec", "printer", "--", "echo", "hi"]);
    assert!(ok, "kubectl exec: {err}");
    assert_eq!(out, "hi\n");
    let (ok, out, err) = kubectl(
        &kc,
        &[
            "exec",
            "printer",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
    );
    assert!(!ok);
    assert_eq!(out, "out\n");
    assert!(err.contains("err"), "{err}");
    // kubectl picks the first container itself; the pod's node is unknown.
    let (ok, _, err) = kubectl(&kc, &["logs", "two"]);
    assert!(
        !ok && err.contains("nodes \"elsewhere\" not found"),
        "{err}"
    );

    // kubectl logs -f (HTTP/2 to the apiserver) sees new lines too.
    let before =
        last_tick(&pods.logs("printer", &LogParams::default()).await.unwrap()).unwrap_or(0);
    let mut follower = tokio::process::Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(&kc)
        .args(["logs", "-f", "printer"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("kubectl logs -f");
    let mut followed = tokio::io::BufReader::new(follower.stdout.take().unwrap()).lines();
    tokio::time::timeout(PATIENCE, async {
        while let Some(line) = followed.next_line().await.unwrap() {
            if last_tick(&line).is_some_and(|n| n > before + 1) {
                return;
            }
        }
        panic!("kubectl logs -f ended");
    })
    .await
    .expect("kubectl logs -f sees a new line");
    let _ = follower.kill().await;

    let local = free_port();
    let mut child = Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(&kc)
        .args(["port-forward", "pod/printer", &format!("{local}:8080")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl port-forward");
    let resp = wait_for("kubectl port-forward", || async {
        let s = tokio::net::TcpStream::connect(("127.0.0.1", local))
            .await
            .ok()?;
        let r = http_get(s).await;
        r.contains("hello-pf").then_some(r)
    })
    .await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let _ = child.kill();
    let _ = child.wait();

    let _ = stop_tx.send(());
    kubelet.await.unwrap().unwrap();
    let _ = running.stop.send(true);
    drop(ctd);
    let _ = std::fs::remove_dir_all(&dir);
}
