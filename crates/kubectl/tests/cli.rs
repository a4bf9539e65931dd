//! The kubectl binary against a real etcd and an in-process apiserver:
//! what it prints, on which stream, and its exit codes, for the core verbs.
//! (tests/kubectl-compare/run.sh compares the same against upstream
//! kubectl line by line.)

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(30);

struct Cluster {
    _etcd: etcd_harness::Etcd,
    _running: apiserver::server::Running,
    dir: PathBuf,
    kubeconfig: PathBuf,
}

async fn cluster(name: &str) -> Cluster {
    let etcd = etcd_harness::Etcd::start().expect("etcd");
    let dir = std::env::temp_dir().join(format!("kubectl-it-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tokens = dir.join("tokens.csv");
    std::fs::write(&tokens, "secret-token,admin,admin,\"system:masters\"\n").unwrap();
    let mut cfg =
        apiserver::Config::for_test(etcd.endpoint(), &etcd.unique_prefix(), dir.join("certs"));
    cfg.token_auth_file = Some(tokens);
    let running = apiserver::server::start(cfg).await.expect("apiserver");
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: it\n  cluster:\n    server: https://127.0.0.1:{}\n    certificate-authority: {}\ncontexts:\n- name: it\n  context: {{cluster: it, user: it}}\ncurrent-context: it\nusers:\n- name: it\n  user: {{token: secret-token}}\n",
            running.addr.port(),
            running.ca_file.display()
        ),
    )
    .unwrap();
    let c = Cluster {
        _etcd: etcd,
        _running: running,
        dir,
        kubeconfig,
    };
    // Ready once the default namespace is served.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (_, err, rc) = c.kubectl(&["get", "ns", "default"]).await;
        if rc == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "apiserver never became ready: {err}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    c
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Cluster {
    /// Runs our kubectl; returns stdout, stderr and the exit code.
    async fn kubectl(&self, args: &[&str]) -> (String, String, i32) {
        self.kubectl_in(args, &self.dir).await
    }

    async fn kubectl_in(&self, args: &[&str], cwd: &Path) -> (String, String, i32) {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubectl"))
            .args(args)
            .current_dir(cwd)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.dir)
            .output()
            .await
            .expect("run kubectl");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.code().unwrap_or(-1),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_create_apply_delete() {
    let c = cluster("verbs").await;

    let (out, err, rc) = c.kubectl(&["create", "namespace", "it"]).await;
    assert_eq!(
        (out.as_str(), err.as_str(), rc),
        ("namespace/it created\n", "", 0)
    );

    let (out, err, rc) = c.kubectl(&["-n", "it", "get", "pods"]).await;
    assert_eq!(
        (out.as_str(), err.as_str(), rc),
        ("", "No resources found in it namespace.\n", 0)
    );

    let (out, err, rc) = c.kubectl(&["-n", "it", "get", "pod", "nope"]).await;
    assert_eq!(out, "");
    assert_eq!(
        err,
        "Error from server (NotFound): pods \"nope\" not found\n"
    );
    assert_eq!(rc, 1);

    let (_, err, rc) = c.kubectl(&["get", "widgets"]).await;
    assert_eq!(
        err,
        "error: the server doesn't have a resource type \"widgets\"\n"
    );
    assert_eq!(rc, 1);

    let (out, _, rc) = c
        .kubectl(&[
            "-n",
            "it",
            "create",
            "configmap",
            "cm",
            "--from-literal=n=10",
            "--from-literal=yes=yes",
        ])
        .await;
    assert_eq!((out.as_str(), rc), ("configmap/cm created\n", 0));
    let (out, _, _) = c.kubectl(&["-n", "it", "get", "cm"]).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "NAME   DATA   AGE");
    assert!(lines[1].starts_with("cm     2      "), "{out}");
    let (out, _, _) = c
        .kubectl(&["-n", "it", "get", "cm", "cm", "-o", "yaml"])
        .await;
    assert!(
        out.starts_with(
            "apiVersion: v1\ndata:\n  \"n\": \"10\"\n  \"yes\": \"yes\"\nkind: ConfigMap\n"
        ),
        "{out}"
    );

    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: \"1\"\n  b: \"2\"\n";
    std::fs::write(c.dir.join("m.yaml"), manifest).unwrap();
    let (out, _, rc) = c.kubectl(&["-n", "it", "apply", "-f", "m.yaml"]).await;
    assert_eq!((out.as_str(), rc), ("configmap/applied created\n", 0));
    let (out, _, _) = c.kubectl(&["-n", "it", "apply", "-f", "m.yaml"]).await;
    assert_eq!(out, "configmap/applied unchanged\n");
    std::fs::write(c.dir.join("m.yaml"), manifest.replace("  b: \"2\"\n", "")).unwrap();
    let (out, _, _) = c.kubectl(&["-n", "it", "apply", "-f", "m.yaml"]).await;
    assert_eq!(out, "configmap/applied configured\n");
    let (out, _, _) = c
        .kubectl(&["-n", "it", "get", "cm", "applied", "-o", "jsonpath={.data}"])
        .await;
    assert_eq!(out, "{\"a\":\"1\"}");

    let (out, _, rc) = c
        .kubectl(&["-n", "it", "label", "cm", "applied", "tier=x"])
        .await;
    assert_eq!((out.as_str(), rc), ("configmap/applied labeled\n", 0));
    let (out, _, _) = c
        .kubectl(&[
            "-n",
            "it",
            "get",
            "cm",
            "--show-labels",
            "-l",
            "tier=x",
            "--no-headers",
        ])
        .await;
    assert!(
        out.starts_with("applied   1   ") && out.ends_with("   tier=x\n"),
        "{out}"
    );

    let (out, err, rc) = c
        .kubectl(&["-n", "it", "delete", "cm", "applied", "cm"])
        .await;
    assert_eq!(
        (out.as_str(), err.as_str(), rc),
        (
            "configmap \"applied\" deleted\nconfigmap \"cm\" deleted\n",
            "",
            0
        )
    );
    let (out, _, _) = c.kubectl(&["-n", "it", "get", "cm", "-o", "name"]).await;
    assert_eq!(out, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_commands_edit_the_kubeconfig() {
    let c = cluster("config").await;
    let (out, _, _) = c.kubectl(&["config", "view"]).await;
    assert!(out.contains("    token: REDACTED\n"), "{out}");
    assert!(out.contains("    certificate-authority: "), "{out}");

    let (out, _, rc) = c
        .kubectl(&[
            "config",
            "set-context",
            "--current",
            "--namespace=kube-system",
        ])
        .await;
    assert_eq!((out.as_str(), rc), ("Context \"it\" modified.\n", 0));
    let (out, _, _) = c.kubectl(&["config", "get-contexts"]).await;
    assert_eq!(
        out,
        "CURRENT   NAME   CLUSTER   AUTHINFO   NAMESPACE\n*         it     it        it         kube-system\n"
    );
    // The context's namespace is now the default one.
    let (_, err, _) = c.kubectl(&["get", "pods"]).await;
    assert_eq!(err, "No resources found in kube-system namespace.\n");

    let (_, err, rc) = c.kubectl(&["config", "use-context", "nope"]).await;
    assert_eq!(
        (err.as_str(), rc),
        ("error: no context exists with the name: \"nope\"\n", 1)
    );
}
