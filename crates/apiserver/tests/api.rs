//! The apiserver over a real etcd: upstream semantics, status codes and
//! `Status` bodies.

mod common;

use common::{read_events, TestServer};
use http::{Method, StatusCode};
use serde_json::{json, Value};

fn cm(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})
}

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [
                    {"name": "nginx", "image": "nginx:1.22", "ports": [{"containerPort": 80}]},
                    {"name": "sidecar", "image": "busybox:1.35", "command": ["sleep", "3600"]}
                ]}
            }
        }
    })
}

#[tokio::test]
async fn discovery_version_and_health() {
    let s = TestServer::start().await;
    let v = s.get("/version").await.json();
    assert_eq!(v["major"], "1");
    assert_eq!(s.get("/api").await.json()["versions"][0], "v1");
    let apis = s.get("/apis").await.json();
    assert!(apis["groups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["name"] == "apps"));
    let agg = s
        .request(Method::GET, "/apis", None, Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"), vec![])
        .await;
    assert!(agg.headers["content-type"]
        .to_str()
        .unwrap()
        .contains("as=APIGroupDiscoveryList"));
    assert_eq!(agg.json()["kind"], "APIGroupDiscoveryList");
    let core = s.get("/api/v1").await.json();
    assert!(core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["name"] == "pods/status"));
    assert_eq!(s.get("/readyz").await.status, StatusCode::OK);
    assert_eq!(s.get("/healthz").await.status, StatusCode::OK);
    let nf = s.get("/apis/nope.example.com/v1/things").await;
    assert_eq!(nf.status, StatusCode::NOT_FOUND);
    assert_eq!(nf.json()["reason"], "NotFound");
    // System namespaces and the kubernetes service exist after start.
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert_eq!(
            s.get(&format!("/api/v1/namespaces/{ns}")).await.status,
            StatusCode::OK,
            "{ns}"
        );
    }
    let svc = s
        .get("/api/v1/namespaces/default/services/kubernetes")
        .await
        .json();
    assert_eq!(svc["spec"]["clusterIP"], "10.0.0.1");
}

#[tokio::test]
async fn crud_conflicts_and_storage_layout() {
    let s = TestServer::start().await;
    let base = "/api/v1/namespaces/default/configmaps";
    let created = s.post(base, &cm("a", json!({"app": "x"}))).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let obj = created.json();
    let rv = obj["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!obj["metadata"]["uid"].as_str().unwrap().is_empty());
    assert!(obj["metadata"]["creationTimestamp"].is_string());

    // Stored under upstream's key, as JSON, without resourceVersion.
    let raw = s.etcd_get("/configmaps/default/a").await.expect("stored");
    assert_eq!(raw["data"]["k"], "v");
    assert!(raw["metadata"].get("resourceVersion").is_none());

    let dup = s.post(base, &cm("a", json!({}))).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.json()["reason"], "AlreadyExists");
    assert_eq!(dup.json()["message"], "configmaps \"a\" already exists");

    let mut upd = obj.clone();
    upd["data"]["k"] = json!("v2");
    let ok = s.put(&format!("{base}/a"), &upd).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_ne!(ok.json()["metadata"]["resourceVersion"], json!(rv));
    // The same stale object again: 409 with upstream's message.
    let stale = s.put(&format!("{base}/a"), &upd).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    let body = stale.json();
    assert_eq!(body["reason"], "Conflict");
    assert_eq!(
        body["message"],
        "Operation cannot be fulfilled on configmaps \"a\": the object has been modified; please apply your changes to the latest version and try again"
    );

    let missing = s.get(&format!("{base}/nope")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["message"], "configmaps \"nope\" not found");

    let gen = s
        .post(
            base,
            &json!({"metadata": {"generateName": "gen-"}, "data": {}}),
        )
        .await;
    assert_eq!(gen.status, StatusCode::CREATED);
    let gname = gen.json()["metadata"]["name"].as_str().unwrap().to_string();
    assert!(gname.starts_with("gen-") && gname.len() == 9, "{gname}");

    let del = s.delete(&format!("{base}/a")).await;
    assert_eq!(del.status, StatusCode::OK);
    assert_eq!(
        s.get(&format!("{base}/a")).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(s.etcd_get("/configmaps/default/a").await.is_none());
}

#[tokio::test]
async fn bad_input_changes_nothing() {
    let s = TestServer::start().await;
    let base = "/api/v1/namespaces/default/configmaps";
    let before = s.get(base).await.json()["items"].as_array().unwrap().len();

    let r = s
        .request(
            Method::POST,
            base,
            Some("application/json"),
            None,
            b"{\"metadata\": {".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["reason"], "BadRequest");

    let r = s
        .request(
            Method::POST,
            &format!("{base}?fieldValidation=Strict"),
            Some("application/json"),
            None,
            serde_json::to_vec(&json!({"metadata": {"name": "strict"}, "data": {}, "bogus": 1}))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let msg = r.json()["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("strict decoding error: unknown field \"bogus\""),
        "{msg}"
    );

    let r = s
        .request(
            Method::POST,
            &format!("{base}?fieldValidation=Strict"),
            Some("application/json"),
            None,
            br#"{"metadata": {"name": "dup", "name": "dup2"}, "data": {}}"#.to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("duplicate field \"metadata.name\""));

    let r = s
        .request(
            Method::POST,
            &format!("{base}?fieldValidation=Warn"),
            Some("application/json"),
            None,
            serde_json::to_vec(&json!({"metadata": {"name": "warned"}, "data": {}, "bogus": 1}))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(r
        .headers
        .get("warning")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("unknown field \\\"bogus\\\""));
    assert!(r.json().get("bogus").is_none());
    s.delete(&format!("{base}/warned")).await;

    let r = s.post(base, &cm("Bad_Name", json!({}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let b = r.json();
    assert_eq!(b["reason"], "Invalid");
    assert_eq!(b["details"]["causes"][0]["field"], "metadata.name");

    let big = json!({"metadata": {"name": "big"}, "data": {"x": "a".repeat(4 * 1024 * 1024)}});
    let r = s.post(base, &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json()["reason"], "RequestEntityTooLarge");

    let bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    let r = s
        .request(
            Method::POST,
            base,
            Some("application/yaml"),
            None,
            bomb.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = s
        .request(
            Method::POST,
            base,
            Some("application/vnd.kubernetes.protobuf"),
            None,
            vec![1, 2, 3],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "not a protobuf envelope");
    let r = s
        .request(
            Method::POST,
            base,
            Some("text/plain"),
            None,
            b"hello".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let r = s
        .request(
            Method::GET,
            base,
            None,
            Some("application/vnd.kubernetes.protobuf"),
            vec![],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);

    let r = s
        .request(
            Method::PUT,
            base,
            Some("application/json"),
            None,
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);

    let after = s.get(base).await.json()["items"].as_array().unwrap().len();
    assert_eq!(before, after);
    assert_eq!(s.get("/readyz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn yaml_bodies_and_responses() {
    let s = TestServer::start().await;
    let y = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fromyaml\ndata:\n  a: \"1\"\n";
    let r = s
        .request(
            Method::POST,
            "/api/v1/namespaces/default/configmaps",
            Some("application/yaml"),
            None,
            y.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = s
        .request(
            Method::GET,
            "/api/v1/namespaces/default/configmaps/fromyaml",
            None,
            Some("application/yaml"),
            vec![],
        )
        .await;
    assert!(String::from_utf8_lossy(&r.body).contains("name: fromyaml"));
}

#[tokio::test]
async fn selectors_and_chunking() {
    let s = TestServer::start().await;
    let base = "/api/v1/namespaces/default/configmaps";
    for i in 0..30 {
        let app = if i % 3 == 0 { "nginx" } else { "other" };
        assert_eq!(
            s.post(
                base,
                &cm(
                    &format!("cm-{i:02}"),
                    json!({"app": app, "i": i.to_string()})
                )
            )
            .await
            .status,
            StatusCode::CREATED
        );
    }
    let l = s
        .get(&format!("{base}?labelSelector=app%20in%20(nginx),!missing"))
        .await
        .json();
    assert_eq!(l["items"].as_array().unwrap().len(), 10);
    let l = s
        .get(&format!("{base}?labelSelector=app!%3Dnginx"))
        .await
        .json();
    assert_eq!(l["items"].as_array().unwrap().len(), 20);
    let l = s
        .get(&format!("{base}?fieldSelector=metadata.name%3Dcm-07"))
        .await
        .json();
    assert_eq!(l["items"].as_array().unwrap().len(), 1);
    assert_eq!(l["items"][0]["metadata"]["name"], "cm-07");
    let bad = s
        .get(&format!("{base}?fieldSelector=spec.nodeName%3Dx"))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // limit/continue over one snapshot: a create between pages is not seen.
    let mut names = Vec::new();
    let mut cont = String::new();
    let mut first = true;
    loop {
        let url = if cont.is_empty() {
            format!("{base}?limit=7")
        } else {
            format!("{base}?limit=7&continue={cont}")
        };
        let page = s.get(&url).await.json();
        if first {
            assert_eq!(page["metadata"]["remainingItemCount"], 23);
            s.post(base, &cm("cm-zz-late", json!({}))).await;
            first = false;
        }
        for it in page["items"].as_array().unwrap() {
            names.push(it["metadata"]["name"].as_str().unwrap().to_string());
        }
        match page["metadata"]["continue"].as_str() {
            Some(c) if !c.is_empty() => cont = c.to_string(),
            _ => break,
        }
    }
    assert_eq!(names.len(), 30);
    assert!(!names.contains(&"cm-zz-late".to_string()));
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    // Filtered and limited.
    let page = s
        .get(&format!("{base}?limit=4&labelSelector=app%3Dnginx"))
        .await
        .json();
    assert_eq!(page["items"].as_array().unwrap().len(), 4);
    assert!(page["metadata"]["continue"].is_string());
}

#[tokio::test]
async fn watch_in_order_with_selectors_and_gone() {
    let s = TestServer::start().await;
    let base = "/api/v1/namespaces/default/configmaps";
    let c = s.post(base, &cm("w", json!({"app": "a"}))).await.json();
    let rv0 = c["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    // Changes after rv0: modify, relabel (leaves selector), delete.
    let mut o = c.clone();
    o["data"]["k"] = json!("2");
    let o = s.put(&format!("{base}/w"), &o).await.json();
    let mut o2 = o.clone();
    o2["metadata"]["labels"]["app"] = json!("b");
    s.put(&format!("{base}/w"), &o2).await;
    s.delete(&format!("{base}/w")).await;

    let resp = s
        .send(
            Method::GET,
            &format!("{base}?watch=true&resourceVersion={rv0}"),
            None,
            None,
            vec![],
        )
        .await;
    let ev = read_events(resp, 3).await;
    let types: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, vec!["MODIFIED", "MODIFIED", "DELETED"]);
    let rvs: Vec<i64> = ev
        .iter()
        .map(|e| {
            e["object"]["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(rvs.windows(2).all(|w| w[0] < w[1]), "{rvs:?}");

    let resp = s
        .send(
            Method::GET,
            &format!("{base}?watch=true&resourceVersion={rv0}&labelSelector=app%3Da"),
            None,
            None,
            vec![],
        )
        .await;
    let ev = read_events(resp, 2).await;
    let types: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        vec!["MODIFIED", "DELETED"],
        "leaving the selector is a DELETED"
    );

    // Initial state when no resourceVersion is given.
    s.post(base, &cm("w2", json!({}))).await;
    let resp = s
        .send(
            Method::GET,
            &format!("{base}?watch=1&fieldSelector=metadata.name%3Dw2"),
            None,
            None,
            vec![],
        )
        .await;
    let ev = read_events(resp, 1).await;
    assert_eq!(ev[0]["type"], "ADDED");
    assert_eq!(ev[0]["object"]["metadata"]["name"], "w2");

    // Compacted history: 410 Expired as an ERROR event.
    let store = storage::EtcdStore::connect(&[s.etcd.endpoint().to_string()])
        .await
        .unwrap();
    let cur = {
        use storage::Store;
        store.current_revision().await.unwrap()
    };
    store.compact(cur).await.unwrap();
    let resp = s
        .send(
            Method::GET,
            &format!("{base}?watch=true&resourceVersion={rv0}"),
            None,
            None,
            vec![],
        )
        .await;
    let ev = read_events(resp, 1).await;
    assert_eq!(ev[0]["type"], "ERROR");
    assert_eq!(ev[0]["object"]["code"], 410);
    assert_eq!(ev[0]["object"]["reason"], "Expired");

    // Bookmarks and the initial-events-end marker.
    let resp = s
        .send(Method::GET, &format!("{base}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&fieldSelector=metadata.name%3Dw2"), None, None, vec![])
        .await;
    let ev = read_events(resp, 2).await;
    assert_eq!(ev[0]["type"], "ADDED");
    assert_eq!(ev[1]["type"], "BOOKMARK");
    assert_eq!(
        ev[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
}

#[tokio::test]
async fn patches_scale_status_and_generation() {
    let s = TestServer::start().await;
    let base = "/apis/apps/v1/namespaces/default/deployments";
    let d = s.post(base, &deployment("web")).await;
    assert_eq!(
        d.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&d.body)
    );
    let d = d.json();
    assert_eq!(d["metadata"]["generation"], 1);
    assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");

    // Strategic merge of one container keeps the other.
    let p = json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.23"}]}}}});
    let r = s
        .patch(
            &format!("{base}/web"),
            "application/strategic-merge-patch+json",
            &p,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let r = r.json();
    let cs = r["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(cs.len(), 2);
    assert_eq!(cs[0]["image"], "nginx:1.23");
    assert_eq!(cs[1]["name"], "sidecar");
    assert_eq!(r["metadata"]["generation"], 2);

    let r = s
        .patch(
            &format!("{base}/web"),
            "application/merge-patch+json",
            &json!({"metadata": {"labels": {"tier": "web"}}}),
        )
        .await
        .json();
    assert_eq!(r["metadata"]["labels"]["tier"], "web");
    assert_eq!(
        r["metadata"]["generation"], 2,
        "metadata changes keep the generation"
    );
    let r = s
        .patch(
            &format!("{base}/web"),
            "application/json-patch+json",
            &json!([{"op": "replace", "path": "/spec/replicas", "value": 5}]),
        )
        .await
        .json();
    assert_eq!(r["spec"]["replicas"], 5);
    let bad = s
        .patch(
            &format!("{base}/web"),
            "application/json-patch+json",
            &json!([{"op": "test", "path": "/spec/replicas", "value": 1}]),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let ssa = s
        .patch(
            &format!("{base}/web"),
            "application/apply-patch+yaml",
            &json!({}),
        )
        .await;
    assert_eq!(ssa.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let scale = s.get(&format!("{base}/web/scale")).await.json();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 5);
    assert_eq!(scale["status"]["selector"], "app=web");
    let r = s
        .patch(
            &format!("{base}/web/scale"),
            "application/merge-patch+json",
            &json!({"spec": {"replicas": 2}}),
        )
        .await
        .json();
    assert_eq!(r["spec"]["replicas"], 2);
    assert_eq!(
        s.get(&format!("{base}/web")).await.json()["spec"]["replicas"],
        2
    );

    // Status writes go through /status only.
    let cur = s.get(&format!("{base}/web")).await.json();
    let mut with_status = cur.clone();
    with_status["status"] = json!({"replicas": 7});
    let r = s.put(&format!("{base}/web"), &with_status).await.json();
    assert!(
        r["status"].get("replicas").is_none(),
        "main resource ignores status"
    );
    let mut st = r.clone();
    st["status"] = json!({"replicas": 7});
    st["spec"]["replicas"] = json!(9);
    let r = s.put(&format!("{base}/web/status"), &st).await.json();
    assert_eq!(r["status"]["replicas"], 7);
    assert_eq!(r["spec"]["replicas"], 2, "status ignores spec");

    // Immutable selector.
    let mut sel = r.clone();
    sel["spec"]["selector"] = json!({"matchLabels": {"app": "other"}});
    sel["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"});
    let r = s.put(&format!("{base}/web"), &sel).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Dry run changes nothing.
    let r = s
        .request(
            Method::POST,
            &format!("{base}?dryRun=All"),
            Some("application/json"),
            None,
            serde_json::to_vec(&deployment("dry")).unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        s.get(&format!("{base}/dry")).await.status,
        StatusCode::NOT_FOUND
    );
    let r = s
        .request(
            Method::DELETE,
            &format!("{base}/web?dryRun=All"),
            None,
            None,
            vec![],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(s.get(&format!("{base}/web")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn namespaces_lifecycle() {
    let s = TestServer::start().await;
    let r = s
        .post("/api/v1/namespaces/ghost/configmaps", &cm("x", json!({})))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["message"], "namespaces \"ghost\" not found");

    let ns = s
        .post("/api/v1/namespaces", &json!({"metadata": {"name": "dev"}}))
        .await
        .json();
    assert_eq!(ns["status"]["phase"], "Active");
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(
        ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "dev"
    );
    assert_eq!(
        s.post("/api/v1/namespaces/dev/configmaps", &cm("x", json!({})))
            .await
            .status,
        StatusCode::CREATED
    );
    let d = s.delete("/api/v1/namespaces/dev").await;
    assert_eq!(d.status, StatusCode::OK);
    let cur = s.get("/api/v1/namespaces/dev").await.json();
    assert_eq!(cur["status"]["phase"], "Terminating");
    assert!(cur["metadata"]["deletionTimestamp"].is_string());
    let r = s
        .post("/api/v1/namespaces/dev/configmaps", &cm("y", json!({})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("because it is being terminated"));
    // Finalize empties spec.finalizers and the namespace goes away.
    let mut fin = cur.clone();
    fin["spec"]["finalizers"] = json!([]);
    let r = s.put("/api/v1/namespaces/dev/finalize", &fin).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(
        s.get("/api/v1/namespaces/dev").await.status,
        StatusCode::NOT_FOUND
    );
    let r = s.delete("/api/v1/namespaces/kube-system").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn pods_binding_graceful_delete_and_finalizers() {
    let s = TestServer::start().await;
    let base = "/api/v1/namespaces/default/pods";
    let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    let p = s.post(base, &pod).await.json();
    assert_eq!(p["status"]["phase"], "Pending");
    assert_eq!(p["status"]["qosClass"], "BestEffort");
    assert_eq!(p["spec"]["dnsPolicy"], "ClusterFirst");
    assert_eq!(p["spec"]["terminationGracePeriodSeconds"], 30);
    assert_eq!(p["spec"]["schedulerName"], "default-scheduler");
    assert_eq!(p["spec"]["containers"][0]["imagePullPolicy"], "Always");

    let b = s.post(&format!("{base}/p/binding"), &json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": {"kind": "Node", "name": "node-1"}})).await;
    assert_eq!(
        b.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&b.body)
    );
    let p = s.get(&format!("{base}/p")).await.json();
    assert_eq!(p["spec"]["nodeName"], "node-1");
    let again = s
        .post(
            &format!("{base}/p/binding"),
            &json!({"metadata": {"name": "p"}, "target": {"kind": "Node", "name": "node-2"}}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let l = s
        .get(&format!("{base}?fieldSelector=spec.nodeName%3Dnode-1"))
        .await
        .json();
    assert_eq!(l["items"].as_array().unwrap().len(), 1);

    // A bound pod is deleted gracefully: it stays with a deletionTimestamp.
    let d = s.delete(&format!("{base}/p")).await.json();
    assert_eq!(d["metadata"]["deletionGracePeriodSeconds"], 30);
    assert!(s.get(&format!("{base}/p")).await.json()["metadata"]["deletionTimestamp"].is_string());
    let d = s
        .request(
            Method::DELETE,
            &format!("{base}/p"),
            Some("application/json"),
            None,
            br#"{"gracePeriodSeconds":0}"#.to_vec(),
        )
        .await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(
        s.get(&format!("{base}/p")).await.status,
        StatusCode::NOT_FOUND
    );

    // An unbound pod goes at once.
    s.post(base, &json!({"metadata": {"name": "q"}, "spec": {"containers": [{"name": "c", "image": "nginx:1.22"}]}})).await;
    s.delete(&format!("{base}/q")).await;
    assert_eq!(
        s.get(&format!("{base}/q")).await.status,
        StatusCode::NOT_FOUND
    );

    // Finalizers hold an object until removed.
    let cmb = "/api/v1/namespaces/default/configmaps";
    s.post(
        cmb,
        &json!({"metadata": {"name": "f", "finalizers": ["example.com/hold"]}}),
    )
    .await;
    s.delete(&format!("{cmb}/f")).await;
    let f = s.get(&format!("{cmb}/f")).await.json();
    assert!(f["metadata"]["deletionTimestamp"].is_string());
    let r = s
        .patch(
            &format!("{cmb}/f"),
            "application/merge-patch+json",
            &json!({"metadata": {"finalizers": null}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        s.get(&format!("{cmb}/f")).await.status,
        StatusCode::NOT_FOUND
    );

    // Preconditions.
    let c = s
        .post(cmb, &json!({"metadata": {"name": "pre"}}))
        .await
        .json();
    let r = s
        .request(
            Method::DELETE,
            &format!("{cmb}/pre"),
            Some("application/json"),
            None,
            br#"{"preconditions":{"uid":"nope"}}"#.to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let body = format!(
        "{{\"preconditions\":{{\"uid\":\"{}\"}}}}",
        c["metadata"]["uid"].as_str().unwrap()
    );
    let r = s
        .request(
            Method::DELETE,
            &format!("{cmb}/pre"),
            Some("application/json"),
            None,
            body.into_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn services_allocate_ips_and_node_ports() {
    let s = TestServer::start().await;
    let base = "/api/v1/namespaces/default/services";
    let svc = |name: &str, extra: Value| {
        let mut v = json!({"metadata": {"name": name}, "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}});
        if let Value::Object(m) = extra {
            for (k, val) in m {
                v["spec"][k] = val;
            }
        }
        v
    };
    let a = s.post(base, &svc("a", json!({}))).await.json();
    let ip_a = a["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert!(ip_a.starts_with("10.0.0."));
    assert_ne!(ip_a, "10.0.0.1");
    assert_eq!(a["spec"]["clusterIPs"], json!([ip_a]));
    assert_eq!(a["spec"]["type"], "ClusterIP");

    let r = s.post(base, &svc("b", json!({"clusterIP": ip_a}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = s
        .post(base, &svc("b", json!({"clusterIP": "10.9.9.9"})))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = s
        .post(base, &svc("b", json!({"clusterIP": "10.0.0.5"})))
        .await;
    assert_eq!(r.json()["spec"]["clusterIP"], "10.0.0.5");

    let np = s
        .post(base, &svc("np", json!({"type": "NodePort"})))
        .await
        .json();
    let port = np["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&port));
    let fixed = s
        .post(base, &json!({"metadata": {"name": "np2"}, "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": port}]}}))
        .await;
    assert_eq!(fixed.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Released on delete: the same IP and port can be taken again.
    s.delete(&format!("{base}/a")).await;
    s.delete(&format!("{base}/np")).await;
    let r = s.post(base, &svc("c", json!({"clusterIP": ip_a}))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = s
        .post(base, &json!({"metadata": {"name": "np3"}, "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": port}]}}))
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&r.body)
    );

    // clusterIP is immutable.
    let mut c = s.get(&format!("{base}/c")).await.json();
    let other = if c["spec"]["clusterIP"] == "10.0.0.77" {
        "10.0.0.78"
    } else {
        "10.0.0.77"
    };
    c["spec"]["clusterIP"] = json!(other);
    c["spec"]["clusterIPs"] = json!([other]);
    assert_eq!(
        s.put(&format!("{base}/c"), &c).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn tables_and_metrics() {
    let s = TestServer::start().await;
    s.post(
        "/apis/apps/v1/namespaces/default/deployments",
        &deployment("t"),
    )
    .await;
    let t = s
        .request(
            Method::GET,
            "/apis/apps/v1/namespaces/default/deployments",
            None,
            Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"),
            vec![],
        )
        .await
        .json();
    assert_eq!(t["kind"], "Table");
    let cols: Vec<&str> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        &cols[..5],
        &["Name", "Ready", "Up-to-date", "Available", "Age"]
    );
    assert_eq!(t["rows"][0]["cells"][0], "t");
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    let m = String::from_utf8(s.get("/metrics").await.body.to_vec()).unwrap();
    assert!(m.contains("apiserver_request_total{"));
    assert!(m.contains("apiserver_request_duration_seconds_bucket{"));
}

#[tokio::test]
async fn eviction_honours_disruption_budgets() {
    let s = TestServer::start().await;
    let base = "/api/v1/namespaces/default/pods";
    for name in ["e1", "e2"] {
        let p = json!({"metadata": {"name": name, "labels": {"app": "db"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx:1.22"}]}});
        assert_eq!(s.post(base, &p).await.status, StatusCode::CREATED);
        let mut cur = s.get(&format!("{base}/{name}")).await.json();
        cur["status"] = json!({"phase": "Running"});
        assert_eq!(
            s.put(&format!("{base}/{name}/status"), &cur).await.status,
            StatusCode::OK
        );
    }
    let ev = |name: &str| json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}});
    let pdbs = "/apis/policy/v1/namespaces/default/poddisruptionbudgets";
    let pdb = s
        .post(pdbs, &json!({"metadata": {"name": "db"}, "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "db"}}}}))
        .await
        .json();
    // What a disruption controller would write: nothing may be disrupted.
    let mut st = pdb.clone();
    st["status"] = json!({"observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": 2, "desiredHealthy": 2, "expectedPods": 2});
    assert_eq!(
        s.put(&format!("{pdbs}/db/status"), &st).await.status,
        StatusCode::OK
    );
    let r = s.post(&format!("{base}/e1/eviction"), &ev("e1")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let b = r.json();
    assert_eq!(
        b["message"],
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    assert_eq!(b["details"]["causes"][0]["reason"], "DisruptionBudget");
    assert!(s.get(&format!("{base}/e1")).await.json()["metadata"]
        .get("deletionTimestamp")
        .is_none());

    // One disruption allowed: the first eviction succeeds and uses it up.
    let mut st = s.get(&format!("{pdbs}/db")).await.json();
    st["status"]["disruptionsAllowed"] = json!(1);
    assert_eq!(
        s.put(&format!("{pdbs}/db/status"), &st).await.status,
        StatusCode::OK
    );
    let r = s.post(&format!("{base}/e1/eviction"), &ev("e1")).await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(s.get(&format!("{base}/e1")).await.json()["metadata"]["deletionTimestamp"].is_string());
    let after = s.get(&format!("{pdbs}/db")).await.json();
    assert_eq!(after["status"]["disruptionsAllowed"], 0);
    assert!(after["status"]["disruptedPods"]["e1"].is_string());
    assert_eq!(
        s.post(&format!("{base}/e2/eviction"), &ev("e2"))
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn priority_classes_resolve_at_admission() {
    let s = TestServer::start().await;
    let pcs = "/apis/scheduling.k8s.io/v1/priorityclasses";
    let pc = s
        .post(pcs, &json!({"metadata": {"name": "high"}, "value": 1000}))
        .await;
    assert_eq!(pc.status, StatusCode::CREATED);
    assert_eq!(pc.json()["preemptionPolicy"], "PreemptLowerPriority");
    let pods = "/api/v1/namespaces/default/pods";
    let pod = |name: &str, spec_extra: Value| {
        let mut v = json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "nginx:1.22"}]}});
        if let Value::Object(m) = spec_extra {
            for (k, val) in m {
                v["spec"][k] = val;
            }
        }
        v
    };
    let p = s
        .post(pods, &pod("a", json!({"priorityClassName": "high"})))
        .await
        .json();
    assert_eq!(p["spec"]["priority"], 1000);
    let p = s.post(pods, &pod("b", json!({}))).await.json();
    assert_eq!(p["spec"]["priority"], 0);
    let p = s
        .post(
            pods,
            &pod("c", json!({"priorityClassName": "system-node-critical"})),
        )
        .await
        .json();
    assert_eq!(p["spec"]["priority"], 2000001000);
    let r = s
        .post(pods, &pod("d", json!({"priorityClassName": "nope"})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("no PriorityClass with name nope was found"));
    let r = s
        .post(
            pods,
            &pod("e", json!({"priorityClassName": "high", "priority": 3})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A global default applies to pods without a class.
    s.post(
        pcs,
        &json!({"metadata": {"name": "dflt"}, "value": 5, "globalDefault": true}),
    )
    .await;
    let p = s.post(pods, &pod("f", json!({}))).await.json();
    assert_eq!(
        (
            p["spec"]["priority"].clone(),
            p["spec"]["priorityClassName"].clone()
        ),
        (json!(5), json!("dflt"))
    );
}
