//! The sync logic against the in-memory runtime.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

use super::*;
use crate::fake::FakeRuntime;
use crate::objects::FakeObjects;

fn node() -> NodeContext {
    NodeContext {
        node_name: "n1".into(),
        node_ip: "192.0.2.10".into(),
        cluster_dns: vec!["10.0.0.10".into()],
        cluster_domain: "cluster.local".into(),
        cgroup_root: String::new(),
        pod_log_root: std::env::temp_dir().join(format!("kubelet-unit-{}", std::process::id())),
        resolv_conf: "/nonexistent/resolv.conf".into(),
        memory_capacity: 8 << 30,
    }
}

fn syncer(images: &[&str]) -> (Arc<FakeRuntime>, PodSyncer) {
    let (fake, _, s) = syncer_with_objects(images);
    (fake, s)
}

/// A syncer over the fake runtime and fake objects, with its own root dir.
fn syncer_with_objects(images: &[&str]) -> (Arc<FakeRuntime>, Arc<FakeObjects>, PodSyncer) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let fake = Arc::new(FakeRuntime::new(images));
    let objects = Arc::new(FakeObjects::default());
    let root = std::env::temp_dir().join(format!(
        "kubelet-unit-root-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    let s = PodSyncer {
        runtime: fake.clone(),
        node: node(),
        runtime_name: "fake".into(),
        objects: objects.clone(),
        root_dir: root,
        events: crate::events::Recorder::disabled(),
    };
    (fake, objects, s)
}

fn pod(spec: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "ns1", "uid": "u-1"},
        "spec": spec,
    }))
    .unwrap()
}

fn cond<'a>(s: &'a PodStatus, t: &str) -> &'a PodCondition {
    s.conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == t)
        .unwrap()
}

fn with_status(mut p: Pod, s: &PodStatus) -> Pod {
    p.status = Some(s.clone());
    p
}

#[tokio::test]
async fn runs_a_pod_and_reports_it_running() {
    let (fake, s) = syncer(&["busybox:1.35"]);
    let p = pod(json!({"containers": [{
        "name": "c", "image": "busybox:1.35", "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c"], "args": ["echo $(GREETING) $(MISSING) $$(X)"],
        "env": [{"name": "NAME", "value": "world"},
                {"name": "GREETING", "value": "hello $(NAME)"},
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "workingDir": "/tmp",
        "ports": [{"containerPort": 80, "hostPort": 8080}],
        "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}}
    }]}));
    let mut st = PodState::default();
    let status = s.sync_pod(&p, &mut st).await.unwrap();

    let sandboxes = fake.sandbox_configs();
    assert_eq!(sandboxes.len(), 1);
    let sb = &sandboxes[0];
    assert_eq!(sb.hostname, "p");
    let dns = sb.dns_config.as_ref().unwrap();
    assert_eq!(dns.servers, ["10.0.0.10"]);
    assert_eq!(
        dns.searches,
        [
            "ns1.svc.cluster.local",
            "svc.cluster.local",
            "cluster.local"
        ]
    );
    assert_eq!(dns.options, ["ndots:5"]);
    assert_eq!(sb.port_mappings[0].host_port, 8080);
    assert_eq!(
        sb.linux.as_ref().unwrap().cgroup_parent,
        "/kubepods/burstable/podu-1"
    );
    assert!(sb.log_directory.ends_with("ns1_p_u-1"));

    let ids = fake.containers_named("c");
    assert_eq!(ids.len(), 1);
    let cfg = fake.container_config(&ids[0]).unwrap();
    assert_eq!(cfg.args, ["echo hello world $(MISSING) $(X)"]);
    assert_eq!(cfg.working_dir, "/tmp");
    assert_eq!(cfg.log_path, "c/0.log");
    assert!(cfg.envs.iter().any(|e| e.key == "POD" && e.value == "p"));
    let r = cfg.linux.unwrap().resources.unwrap();
    assert_eq!(
        (r.cpu_shares, r.cpu_quota, r.cpu_period),
        (256, 50_000, 100_000)
    );
    assert_eq!(r.memory_limit_in_bytes, 128 << 20);
    // IfNotPresent with the image present: no pull.
    assert!(!fake.calls().iter().any(|c| c.starts_with("PullImage")));

    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(status.pod_ip.as_deref(), Some("10.244.0.7"));
    assert_eq!(status.host_ip.as_deref(), Some("192.0.2.10"));
    assert_eq!(status.qos_class.as_deref(), Some("Burstable"));
    assert!(status.start_time.is_some());
    for t in [
        "Ready",
        "ContainersReady",
        "Initialized",
        "PodReadyToStartContainers",
        "PodScheduled",
    ] {
        assert_eq!(cond(&status, t).status, "True", "{t}");
    }
    let cs = &status.container_statuses.as_ref().unwrap()[0];
    assert!(cs.ready);
    assert_eq!(cs.restart_count, 0);
    assert_eq!(
        cs.container_id.as_deref(),
        Some(format!("fake://{}", ids[0]).as_str())
    );
    assert!(cs.state.as_ref().unwrap().running.is_some());

    // A second sync changes nothing.
    let again = s.sync_pod(&with_status(p, &status), &mut st).await.unwrap();
    assert_eq!(fake.containers_named("c").len(), 1);
    assert_eq!(
        cond(&again, "Ready").last_transition_time,
        cond(&status, "Ready").last_transition_time
    );
}

#[tokio::test]
async fn init_containers_run_one_at_a_time() {
    let (fake, s) = syncer(&["busybox:1.35"]);
    let p = pod(json!({
        "initContainers": [{"name": "i1", "image": "busybox:1.35"}, {"name": "i2", "image": "busybox:1.35"}],
        "containers": [{"name": "app", "image": "busybox:1.35"}]
    }));
    let mut st = PodState::default();
    let status = s.sync_pod(&p, &mut st).await.unwrap();
    assert_eq!(fake.containers_named("i1").len(), 1);
    assert!(fake.containers_named("i2").is_empty());
    assert!(fake.containers_named("app").is_empty());
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    let init = cond(&status, "Initialized");
    assert_eq!(init.status, "False");
    assert_eq!(init.reason.as_deref(), Some("ContainersNotInitialized"));
    assert_eq!(
        init.message.as_deref(),
        Some("containers with incomplete status: [i1 i2]")
    );
    let app = &status.container_statuses.as_ref().unwrap()[0];
    assert_eq!(
        app.state
            .as_ref()
            .unwrap()
            .waiting
            .as_ref()
            .unwrap()
            .reason
            .as_deref(),
        Some("PodInitializing")
    );

    fake.exit(&fake.containers_named("i1")[0], 0);
    s.sync_pod(&p, &mut st).await.unwrap();
    assert_eq!(fake.containers_named("i2").len(), 1);
    assert!(fake.containers_named("app").is_empty());
    fake.exit(&fake.containers_named("i2")[0], 0);
    let status = s.sync_pod(&p, &mut st).await.unwrap();
    assert_eq!(fake.containers_named("app").len(), 1);
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(cond(&status, "Initialized").status, "True");
    let inits = status.init_container_statuses.as_ref().unwrap();
    assert!(inits.iter().all(|i| i.ready
        && i.state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap()
            .reason
            .as_deref()
            == Some("Completed")));
}

#[tokio::test]
async fn restarts_then_backs_off() {
    let (fake, s) = syncer(&["busybox:1.35"]);
    let p = pod(json!({"containers": [{"name": "c", "image": "busybox:1.35"}]}));
    let mut st = PodState::default();
    s.sync_pod(&p, &mut st).await.unwrap();
    fake.exit(&fake.containers_named("c")[0], 1);
    // First restart: at once.
    let status = s.sync_pod(&p, &mut st).await.unwrap();
    let ids = fake.containers_named("c");
    assert_eq!(ids.len(), 2);
    assert_eq!(fake.container_config(&ids[1]).unwrap().log_path, "c/1.log");
    let cs = &status.container_statuses.as_ref().unwrap()[0];
    assert_eq!(cs.restart_count, 1);
    let last = cs.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
    // Second exit: back-off 10 s.
    fake.exit(&ids[1], 2);
    let status = s.sync_pod(&p, &mut st).await.unwrap();
    assert_eq!(fake.containers_named("c").len(), 2);
    let cs = &status.container_statuses.as_ref().unwrap()[0];
    let w = cs.state.as_ref().unwrap().waiting.as_ref().unwrap();
    assert_eq!(w.reason.as_deref(), Some("CrashLoopBackOff"));
    assert!(w
        .message
        .as_deref()
        .unwrap()
        .starts_with("back-off 10s restarting failed container=c pod=p_ns1(u-1)"));
    assert_eq!(cs.restart_count, 1);
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(cond(&status, "Ready").status, "False");
    assert_eq!(
        cond(&status, "Ready").message.as_deref(),
        Some("containers with unready status: [c]")
    );
}

#[test]
fn backoff_doubles_to_five_minutes() {
    let mut st = PodState::default();
    let t0 = SystemTime::now();
    let mut delays = Vec::new();
    for i in 0..8 {
        st.next("c", t0 + Duration::from_secs(i));
        delays.push(st.backoff["c"].delay.as_secs());
    }
    assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300, 300]);
    assert!(st
        .in_backoff("c", t0, t0 + Duration::from_secs(299))
        .is_some());
    assert!(st
        .in_backoff("c", t0, t0 + Duration::from_secs(300))
        .is_none());
    // Reset after ten quiet minutes.
    st.next("c", t0 + Duration::from_secs(8 + 601));
    assert_eq!(st.backoff["c"].delay.as_secs(), 10);
}

#[tokio::test]
async fn restart_policies_decide_the_phase() {
    for (policy, code, phase, created) in [
        ("Never", 0, "Succeeded", 1),
        ("Never", 1, "Failed", 1),
        ("OnFailure", 0, "Succeeded", 1),
        ("OnFailure", 3, "Running", 2),
    ] {
        let (fake, s) = syncer(&["busybox:1.35"]);
        let p = pod(
            json!({"restartPolicy": policy, "containers": [{"name": "c", "image": "busybox:1.35"}]}),
        );
        let mut st = PodState::default();
        s.sync_pod(&p, &mut st).await.unwrap();
        fake.exit(&fake.containers_named("c")[0], code);
        let status = s.sync_pod(&p, &mut st).await.unwrap();
        assert_eq!(status.phase.as_deref(), Some(phase), "{policy} {code}");
        assert_eq!(fake.containers_named("c").len(), created, "{policy} {code}");
        if phase != "Running" {
            assert_eq!(
                cond(&status, "Ready").reason.as_deref(),
                Some("PodCompleted")
            );
            assert!(fake.calls().contains(&"StopPodSandbox".to_string()));
            // Terminal: later syncs start nothing.
            let again = s.sync_pod(&with_status(p, &status), &mut st).await.unwrap();
            assert_eq!(again.phase.as_deref(), Some(phase));
            assert_eq!(fake.containers_named("c").len(), created);
        }
    }
}

#[tokio::test]
async fn images_follow_the_pull_policy() {
    let (fake, s) = syncer(&["busybox:1.35"]);
    let p = pod(json!({"containers": [
        {"name": "a", "image": "busybox:1.35", "imagePullPolicy": "Always"},
        {"name": "n", "image": "absent:1", "imagePullPolicy": "Never"},
        {"name": "m", "image": "missing:1", "imagePullPolicy": "IfNotPresent"}
    ]}));
    let mut st = PodState::default();
    let status = s.sync_pod(&p, &mut st).await.unwrap();
    let calls = fake.calls();
    assert!(calls.contains(&"PullImage busybox:1.35".to_string()));
    assert!(calls.contains(&"ImageStatus missing:1".to_string()));
    assert!(!calls.contains(&"PullImage absent:1".to_string()));
    let reason = |s: &PodStatus, i: usize| {
        s.container_statuses.as_ref().unwrap()[i]
            .state
            .as_ref()
            .unwrap()
            .waiting
            .as_ref()
            .and_then(|w| w.reason.clone())
    };
    assert_eq!(reason(&status, 1).as_deref(), Some("ErrImageNeverPull"));
    assert_eq!(reason(&status, 2).as_deref(), Some("ErrImagePull"));
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    // Right after the failure the error stays; later it is the back-off.
    let status = s.sync_pod(&p, &mut st).await.unwrap();
    assert_eq!(reason(&status, 2).as_deref(), Some("ErrImagePull"));
    age_pull_failure(&mut st, "missing:1");
    let status = s.sync_pod(&p, &mut st).await.unwrap();
    assert_eq!(reason(&status, 2).as_deref(), Some("ImagePullBackOff"));
    assert_eq!(
        fake.calls()
            .iter()
            .filter(|c| *c == "PullImage missing:1")
            .count(),
        1
    );
}

#[tokio::test]
async fn kill_pod_removes_everything() {
    let (fake, s) = syncer(&["busybox:1.35"]);
    let p = pod(json!({"containers": [{"name": "c", "image": "busybox:1.35"}]}));
    s.sync_pod(&p, &mut PodState::default()).await.unwrap();
    assert_eq!(s.runtime_pod_uids().await.unwrap().len(), 1);
    s.kill_pod("u-1", Duration::from_secs(1)).await.unwrap();
    assert!(fake.sandbox_configs().is_empty());
    assert!(fake.containers_named("c").is_empty());
    let calls = fake.calls();
    let pos = |m: &str| calls.iter().position(|c| c == m).unwrap();
    assert!(pos("StopContainer") < pos("StopPodSandbox"));
    assert!(pos("StopPodSandbox") < pos("RemovePodSandbox"));
}

#[test]
fn qos_cgroups_and_resources() {
    use crate::pod::{cgroup_parent, linux_resources, qos_class, QosClass};
    let g = pod(json!({"containers": [{"name": "c", "image": "x",
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}}]}));
    let be = pod(json!({"containers": [{"name": "c", "image": "x"}]}));
    assert_eq!(qos_class(&g), QosClass::Guaranteed);
    assert_eq!(qos_class(&be), QosClass::BestEffort);
    assert_eq!(
        cgroup_parent("", QosClass::Guaranteed, "u"),
        "/kubepods/podu"
    );
    assert_eq!(
        cgroup_parent("/x/", QosClass::BestEffort, "u"),
        "/x/kubepods/besteffort/podu"
    );
    let c = &g.spec.as_ref().unwrap().containers[0];
    let r = linux_resources(c.resources.as_ref(), QosClass::Guaranteed, 8 << 30);
    assert_eq!(
        (r.cpu_shares, r.cpu_quota, r.oom_score_adj),
        (1024, 100_000, -997)
    );
    let r = linux_resources(None, QosClass::BestEffort, 8 << 30);
    assert_eq!(
        (
            r.cpu_shares,
            r.cpu_quota,
            r.memory_limit_in_bytes,
            r.oom_score_adj
        ),
        (2, 0, 0, 1000)
    );
}

#[test]
fn dns_policies() {
    let n = node();
    let d = pod(json!({"dnsPolicy": "Default", "containers": []}));
    let cfg = crate::pod::dns_config(&d, &n).unwrap();
    assert!(cfg.servers.is_empty() && cfg.searches.is_empty());
    let none = pod(
        json!({"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.1.1.1"], "options": [{"name": "ndots", "value": "2"}]}, "containers": []}),
    );
    let cfg = crate::pod::dns_config(&none, &n).unwrap();
    assert_eq!(
        (cfg.servers, cfg.options),
        (vec!["1.1.1.1".to_string()], vec!["ndots:2".to_string()])
    );
    let r = crate::pod::parse_resolv_conf("nameserver 9.9.9.9\nsearch a b\noptions edns0\n");
    assert_eq!(
        (r.servers.len(), r.searches.len(), r.options.len()),
        (1, 2, 1)
    );
}

#[test]
fn node_facts() {
    use crate::node::*;
    assert_eq!(
        parse_meminfo("MemTotal:       1000 kB\nMemFree: 1 kB\n"),
        1_024_000
    );
    assert_eq!(
        parse_os_release("NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
        "Debian GNU/Linux 12 (bookworm)"
    );
    let t = parse_taints("a=b:NoSchedule,c:NoExecute").unwrap();
    assert_eq!(
        (
            t[0].key.as_str(),
            t[0].value.as_deref(),
            t[1].effect.as_str()
        ),
        ("a", Some("b"), "NoExecute")
    );
    assert!(parse_taints("a=b:Bad").is_err());
    assert_eq!(parse_labels("x=1,y=2").unwrap().len(), 2);
    let bad = cri::api::RuntimeStatus {
        conditions: vec![
            cri::api::RuntimeCondition {
                r#type: "RuntimeReady".into(),
                status: true,
                ..Default::default()
            },
            cri::api::RuntimeCondition {
                r#type: "NetworkReady".into(),
                status: false,
                reason: "NetworkPluginNotReady".into(),
                message: "cni config uninitialized".into(),
            },
        ],
    };
    let h = runtime_health(Ok(&bad));
    assert_eq!(h.problem.as_deref(), Some("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:cni config uninitialized"));
    let m = machine_info(std::path::Path::new("/"), 110, "containerd://1.6.20");
    assert_eq!(m.capacity["pods"].0, "110");
    let st = node_status(&m, "192.0.2.1", "n1", &h, None);
    let ready = st
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_deref()),
        ("False", Some("KubeletNotReady"))
    );
    assert_eq!(st.node_info.as_ref().unwrap().kubelet_version, "v1.33.0");
}

fn waiting_of(s: &PodStatus, i: usize) -> (Option<String>, Option<String>) {
    let w = s.container_statuses.as_ref().unwrap()[i]
        .state
        .as_ref()
        .unwrap()
        .waiting
        .clone()
        .unwrap_or_default();
    (w.reason, w.message)
}

fn config_map(name: &str, data: serde_json::Value) -> k8s_openapi::api::core::v1::ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "namespace": "ns1"}, "data": data}))
        .unwrap()
}

#[tokio::test]
async fn env_from_config_maps_and_secrets() {
    let (fake, objects, s) = syncer_with_objects(&["busybox:1.35"]);
    objects.put_config_map(config_map("cfg", json!({"a": "1", "bad key": "x"})));
    objects.put_secret(
        serde_json::from_value(json!({"metadata": {"name": "sec", "namespace": "ns1"},
            "data": {"pw": "aHVudGVyMg=="}}))
        .unwrap(),
    );
    let p = pod(json!({"containers": [{"name": "c", "image": "busybox:1.35",
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "P_"},
                    {"secretRef": {"name": "absent", "optional": true}}],
        "env": [
            {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "a"}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "pw"}}},
            {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "x", "optional": true}}},
            {"name": "OPTKEY", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "x", "optional": true}}},
            {"name": "E", "value": "$(A)-$(P_a)"}]}]}));
    let status = s.sync_pod(&p, &mut PodState::default()).await.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Running"));
    let cfg = fake
        .container_config(&fake.containers_named("c")[0])
        .unwrap();
    let env: std::collections::BTreeMap<String, String> = cfg
        .envs
        .iter()
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect();
    assert_eq!(env["A"], "1");
    assert_eq!(env["PW"], "hunter2");
    assert_eq!(env["P_a"], "1");
    assert_eq!(env["E"], "1-1");
    assert!(!env.contains_key("OPT") && !env.contains_key("OPTKEY"));
    assert!(!env.keys().any(|k| k.contains(' ')));
}

#[tokio::test]
async fn missing_env_refs_are_create_container_config_errors() {
    let (fake, objects, s) = syncer_with_objects(&["busybox:1.35"]);
    let p = pod(json!({"containers": [{"name": "c", "image": "busybox:1.35",
        "env": [{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "k"}}}]}]}));
    let mut st = PodState::default();
    let status = s.sync_pod(&p, &mut st).await.unwrap();
    assert_eq!(
        waiting_of(&status, 0),
        (
            Some("CreateContainerConfigError".into()),
            Some("configmap \"x\" not found".into())
        )
    );
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    assert!(fake.containers_named("c").is_empty());
    objects.put_config_map(config_map("x", json!({"other": "v"})));
    let status = s.sync_pod(&p, &mut st).await.unwrap();
    assert_eq!(
        waiting_of(&status, 0).1.as_deref(),
        Some("couldn't find key k in ConfigMap ns1/x")
    );
    let sp = pod(json!({"containers": [{"name": "c", "image": "busybox:1.35",
        "envFrom": [{"secretRef": {"name": "s"}}]}]}));
    let status = s.sync_pod(&sp, &mut PodState::default()).await.unwrap();
    assert_eq!(
        waiting_of(&status, 0).1.as_deref(),
        Some("secret \"s\" not found")
    );
    objects.put_config_map(config_map("x", json!({"k": "v"})));
    let status = s.sync_pod(&p, &mut st).await.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Running"));
}

#[tokio::test]
async fn volumes_are_mounted_and_a_missing_one_blocks_the_pod() {
    let (fake, objects, s) = syncer_with_objects(&["busybox:1.35"]);
    let p = pod(json!({
        "initContainers": [{"name": "init", "image": "busybox:1.35",
            "volumeMounts": [{"name": "scratch", "mountPath": "/work"}]}],
        "containers": [{"name": "c", "image": "busybox:1.35", "volumeMounts": [
            {"name": "cfg", "mountPath": "/etc/cfg"},
            {"name": "scratch", "mountPath": "/work", "subPath": "app"}]}],
        "volumes": [{"name": "cfg", "configMap": {"name": "settings"}},
                    {"name": "scratch", "emptyDir": {}}]}));
    let mut st = PodState::default();
    let status = s.sync_pod(&p, &mut st).await.unwrap();
    // Nothing starts, not even the sandbox.
    assert!(fake.sandbox_configs().is_empty());
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    let init = &status.init_container_statuses.as_ref().unwrap()[0];
    let w = init.state.as_ref().unwrap().waiting.as_ref().unwrap();
    assert_eq!(w.reason.as_deref(), Some("PodInitializing"));
    assert_eq!(
        w.message.as_deref(),
        Some("MountVolume.SetUp failed for volume \"cfg\" : configmap \"settings\" not found")
    );

    objects.put_config_map(config_map("settings", json!({"mode": "fast"})));
    s.sync_pod(&p, &mut st).await.unwrap();
    let init_cfg = fake
        .container_config(&fake.containers_named("init")[0])
        .unwrap();
    let scratch = s
        .root_dir
        .join("pods/u-1/volumes/kubernetes.io~empty-dir/scratch");
    assert_eq!(init_cfg.mounts[0].host_path, scratch.display().to_string());
    assert_eq!(init_cfg.mounts[0].container_path, "/work");
    fake.exit(&fake.containers_named("init")[0], 0);
    let status = s.sync_pod(&p, &mut st).await.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Running"));
    let cfg = fake
        .container_config(&fake.containers_named("c")[0])
        .unwrap();
    let cfg_dir = s
        .root_dir
        .join("pods/u-1/volumes/kubernetes.io~configmap/cfg");
    assert_eq!(cfg.mounts[0].host_path, cfg_dir.display().to_string());
    assert!(cfg.mounts[0].readonly);
    assert_eq!(
        std::fs::read_to_string(cfg_dir.join("mode")).unwrap(),
        "fast"
    );
    assert_eq!(
        cfg.mounts[1].host_path,
        scratch.join("app").display().to_string()
    );
    // Deleting the pod removes its directory.
    s.kill_pod("u-1", Duration::from_secs(1)).await.unwrap();
    assert!(!s.root_dir.join("pods/u-1").exists());
}

#[tokio::test]
async fn a_failed_host_path_check_keeps_the_container_waiting() {
    let (fake, _, s) = syncer_with_objects(&["busybox:1.35"]);
    let p = pod(json!({"containers": [{"name": "c", "image": "busybox:1.35",
            "volumeMounts": [{"name": "h", "mountPath": "/h"}]}],
        "volumes": [{"name": "h", "hostPath": {"path": "/nonexistent/kubelet-test", "type": "Directory"}}]}));
    let status = s.sync_pod(&p, &mut PodState::default()).await.unwrap();
    assert!(fake.containers_named("c").is_empty());
    assert_eq!(
        waiting_of(&status, 0),
        (
            Some("ContainerCreating".into()),
            Some("MountVolume.SetUp failed for volume \"h\" : hostPath type check failed: /nonexistent/kubelet-test is not a directory".into())
        )
    );
}

/// Lets the probe workers run (paused clock: sleeps advance at once).
async fn let_probes_run(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

#[tokio::test(start_paused = true)]
async fn a_failing_liveness_probe_restarts_the_container() {
    let (fake, _, s) = syncer_with_objects(&["busybox:1.35"]);
    let p = pod(json!({"containers": [{"name": "c", "image": "busybox:1.35",
        "livenessProbe": {"exec": {"command": ["check"]}, "periodSeconds": 1, "failureThreshold": 2}}]}));
    let mut st = PodState::default();
    s.sync_pod(&p, &mut st).await.unwrap();
    let status = s.sync_pod(&p, &mut st).await.unwrap();
    // Liveness alone does not gate readiness.
    assert!(status.container_statuses.as_ref().unwrap()[0].ready);
    let_probes_run(3).await;
    s.sync_pod(&p, &mut st).await.unwrap();
    assert_eq!(fake.containers_named("c").len(), 1);
    fake.set_exec_exit("check", 1);
    let_probes_run(3).await;
    let status = s.sync_pod(&p, &mut st).await.unwrap();
    assert_eq!(fake.containers_named("c").len(), 2);
    let cs = &status.container_statuses.as_ref().unwrap()[0];
    assert_eq!(cs.restart_count, 1);
    assert!(cs.state.as_ref().unwrap().running.is_some());
    assert_eq!(
        cs.last_state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap()
            .exit_code,
        137
    );
}

#[tokio::test(start_paused = true)]
async fn readiness_and_startup_probes_drive_ready_and_started() {
    let (fake, _, s) = syncer_with_objects(&["busybox:1.35"]);
    fake.set_exec_exit("started", 1);
    fake.set_exec_exit("ready", 1);
    fake.set_exec_exit("alive", 1);
    let p = pod(json!({"containers": [{"name": "c", "image": "busybox:1.35",
        "startupProbe": {"exec": {"command": ["started"]}, "periodSeconds": 1, "failureThreshold": 100},
        "livenessProbe": {"exec": {"command": ["alive"]}, "periodSeconds": 1, "failureThreshold": 1},
        "readinessProbe": {"exec": {"command": ["ready"]}, "periodSeconds": 1, "successThreshold": 2}}]}));
    let mut st = PodState::default();
    s.sync_pod(&p, &mut st).await.unwrap();
    s.sync_pod(&p, &mut st).await.unwrap();
    let_probes_run(5).await;
    let status = s.sync_pod(&p, &mut st).await.unwrap();
    let cs = &status.container_statuses.as_ref().unwrap()[0];
    // Not started: liveness (failing) is gated, so nothing restarts.
    assert_eq!((cs.started, cs.ready), (Some(false), false));
    assert_eq!(fake.containers_named("c").len(), 1);
    assert!(!fake.calls().iter().any(|c| c == "ExecSync alive"));
    assert_eq!(cond(&status, "ContainersReady").status, "False");

    fake.set_exec_exit("started", 0);
    fake.set_exec_exit("alive", 0);
    let_probes_run(3).await;
    let status = s.sync_pod(&p, &mut st).await.unwrap();
    let cs = &status.container_statuses.as_ref().unwrap()[0];
    assert_eq!((cs.started, cs.ready), (Some(true), false));

    fake.set_exec_exit("ready", 0);
    let_probes_run(3).await;
    let status = s
        .sync_pod(&with_status(p.clone(), &status), &mut st)
        .await
        .unwrap();
    let cs = &status.container_statuses.as_ref().unwrap()[0];
    assert_eq!((cs.started, cs.ready), (Some(true), true));
    assert_eq!(cond(&status, "Ready").status, "True");
    assert_eq!(cond(&status, "ContainersReady").status, "True");

    fake.set_exec_exit("ready", 1);
    let_probes_run(5).await;
    let status = s.sync_pod(&with_status(p, &status), &mut st).await.unwrap();
    assert!(!status.container_statuses.as_ref().unwrap()[0].ready);
    assert_eq!(
        cond(&status, "Ready").message.as_deref(),
        Some("containers with unready status: [c]")
    );
    // Readiness failures never restart.
    assert_eq!(fake.containers_named("c").len(), 1);
}

#[tokio::test]
async fn lifecycle_hooks() {
    let (fake, _, s) = syncer_with_objects(&["busybox:1.35"]);
    fake.set_exec_exit("post", 7);
    let p = pod(json!({"containers": [
        {"name": "bad", "image": "busybox:1.35",
         "lifecycle": {"postStart": {"exec": {"command": ["post"]}}}},
        {"name": "good", "image": "busybox:1.35",
         "lifecycle": {"preStop": {"exec": {"command": ["pre"]}}}}]}));
    let status = s.sync_pod(&p, &mut PodState::default()).await.unwrap();
    let (reason, message) = waiting_of(&status, 0);
    assert_eq!(reason.as_deref(), Some("PostStartHookError"));
    assert!(message.unwrap().starts_with("PostStartHook failed"));
    let calls = fake.calls();
    let pos = |m: &str| calls.iter().position(|c| c == m).unwrap();
    assert!(pos("ExecSync post") < pos("StopContainer"));

    s.kill_pod("u-1", Duration::from_secs(5)).await.unwrap();
    let calls = fake.calls();
    let pre = calls.iter().position(|c| c == "ExecSync pre").unwrap();
    let stop = calls.iter().rposition(|c| c == "StopContainer").unwrap();
    assert!(pre < stop);
}

/// Moves the last pull failure of `image` past the ErrImagePull hold.
fn age_pull_failure(st: &mut PodState, image: &str) {
    let b = st.backoff.get_mut(&format!("image/{image}")).unwrap();
    b.last_update -= ERR_IMAGE_PULL_HOLD + std::time::Duration::from_secs(1);
}

/// Every record the recorder got so far, as `(type, reason, message)`.
fn drain(
    rx: &mut tokio::sync::mpsc::Receiver<crate::events::Record>,
) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    while let Ok(r) = rx.try_recv() {
        out.push((r.type_.to_string(), r.reason, r.message));
    }
    out
}

#[tokio::test]
async fn events_for_pulls_starts_back_offs_kills_and_mounts() {
    let (fake, _, mut s) = syncer_with_objects(&["busybox:1.35"]);
    let (rec, mut rx) = crate::events::Recorder::new();
    s.events = rec;
    let p = pod(json!({"containers": [
        {"name": "a", "image": "busybox:1.35", "imagePullPolicy": "IfNotPresent"},
        {"name": "p", "image": "nginx:1.22", "imagePullPolicy": "IfNotPresent"},
        {"name": "m", "image": "missing:1", "imagePullPolicy": "IfNotPresent"}
    ]}));
    let mut st = PodState::default();
    s.sync_pod(&p, &mut st).await.unwrap();
    let ev = drain(&mut rx);
    let has = |ev: &[(String, String, String)], t: &str, r: &str, m: &str| {
        ev.iter()
            .any(|(et, er, em)| et == t && er == r && em.starts_with(m))
    };
    assert!(
        has(
            &ev,
            "Normal",
            "Pulled",
            "Container image \"busybox:1.35\" already present on machine"
        ),
        "{ev:?}"
    );
    assert!(
        has(&ev, "Normal", "Created", "Created container: a"),
        "{ev:?}"
    );
    assert!(
        has(&ev, "Normal", "Started", "Started container a"),
        "{ev:?}"
    );
    assert!(
        has(&ev, "Normal", "Pulling", "Pulling image \"nginx:1.22\""),
        "{ev:?}"
    );
    assert!(
        has(
            &ev,
            "Normal",
            "Pulled",
            "Successfully pulled image \"nginx:1.22\" in "
        ),
        "{ev:?}"
    );
    assert!(
        has(
            &ev,
            "Warning",
            "Failed",
            "Failed to pull image \"missing:1\": "
        ),
        "{ev:?}"
    );
    assert!(
        has(&ev, "Warning", "Failed", "Error: ErrImagePull"),
        "{ev:?}"
    );
    age_pull_failure(&mut st, "missing:1");
    s.sync_pod(&p, &mut st).await.unwrap();
    let ev = drain(&mut rx);
    assert!(
        has(
            &ev,
            "Normal",
            "BackOff",
            "Back-off pulling image \"missing:1\""
        ),
        "{ev:?}"
    );
    assert!(
        has(&ev, "Warning", "Failed", "Error: ImagePullBackOff"),
        "{ev:?}"
    );

    // A crashed container backs off with upstream's words.
    let id = fake.containers_named("a")[0].clone();
    fake.exit(&id, 1);
    s.sync_pod(&p, &mut st).await.unwrap(); // restarted at once
    let id = fake.containers_named("a")[1].clone();
    fake.exit(&id, 1);
    s.sync_pod(&p, &mut st).await.unwrap();
    let ev = drain(&mut rx);
    assert!(
        has(
            &ev,
            "Warning",
            "BackOff",
            "Back-off restarting failed container a in pod p_ns1(u-1)"
        ),
        "{ev:?}"
    );

    // Killing names each running container; the reference carries its field.
    s.kill_pod("u-1", std::time::Duration::from_secs(1))
        .await
        .unwrap();
    let mut killing = Vec::new();
    while let Ok(r) = rx.try_recv() {
        if r.reason == "Killing" {
            killing.push((r.message, r.object.field_path));
        }
    }
    assert!(
        killing.contains(&(
            "Stopping container p".to_string(),
            Some("spec.containers{p}".to_string())
        )),
        "{killing:?}"
    );

    // A volume that cannot be set up: FailedMount with the mount message.
    let v = pod(
        json!({"containers": [{"name": "c", "image": "busybox:1.35"}],
        "volumes": [{"name": "cfg", "configMap": {"name": "absent"}}]}),
    );
    s.sync_pod(&v, &mut PodState::default()).await.unwrap();
    let ev = drain(&mut rx);
    assert!(
        has(
            &ev,
            "Warning",
            "FailedMount",
            "MountVolume.SetUp failed for volume \"cfg\" : configmap \"absent\" not found"
        ),
        "{ev:?}"
    );
}
