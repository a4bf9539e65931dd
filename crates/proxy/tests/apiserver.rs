//! The whole loop: a real etcd, the apiserver in-process, the proxy's
//! `run_with` watching it. Creating a Service and an EndpointSlice through
//! the API makes the ClusterIP answer from the netns "pod"; deleting the
//! slice makes it refuse. Needs root, nft and etcd.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, PostParams};
use kube::Client;
use serde_json::json;
use support::{eventually_body, eventually_refused, free_port, http_get, Net, PATIENCE};

async fn apiserver(
    dir: &std::path::Path,
) -> (etcd_harness::Etcd, apiserver::server::Running, Client) {
    let etcd = etcd_harness::Etcd::start().expect("etcd");
    let prefix = etcd.unique_prefix();
    let mut cfg = apiserver::Config::for_test(etcd.endpoint(), &prefix, dir.join("certs"));
    cfg.service_cluster_ip_range = "10.212.128.0/24".parse().expect("cidr");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_and_slice_through_the_api_make_the_cluster_ip_answer() {
    proxy::host::ensure_sysctls(true).expect("sysctls (needs root)");
    let net = Net::new("api");
    let dir = std::env::temp_dir().join(format!("kp-api-dir-{}", std::process::id()));
    let (_etcd, running, client) = apiserver(&dir).await;

    let healthz: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let metrics: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let opts = proxy::Options {
        cluster_cidr: vec![format!("10.213.{}.0/24", net.subnet).parse().unwrap()],
        hostname_override: Some("node-a".into()),
        healthz_bind_address: Some(healthz),
        metrics_bind_address: Some(metrics),
        min_sync_period: Duration::from_millis(100),
        nft_table: net.table.clone(),
        skip_sysctls: true,
        ..proxy::Options::default()
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let proxy_task = tokio::spawn(proxy::run_with(client.clone(), opts, async {
        let _ = stop_rx.await;
    }));

    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"clusterIP": "10.212.128.10", "ports": [{"name": "http", "port": 8080, "targetPort": 80}]}
    }))
    .unwrap();
    services
        .create(&PostParams::default(), &svc)
        .await
        .expect("create service");
    let cluster_ip = SocketAddr::from((Ipv4Addr::new(10, 212, 128, 10), 8080));
    // No endpoints yet: refused at once.
    tokio::task::spawn_blocking(move || eventually_refused(cluster_ip))
        .await
        .unwrap();

    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {"name": "web-1", "labels": {"kubernetes.io/service-name": "web"},
                     "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": now}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
        "endpoints": [{"addresses": [net.pod_ip().to_string()], "nodeName": "node-a",
                       "conditions": {"ready": true}}]
    }))
    .unwrap();
    slices
        .create(&PostParams::default(), &slice)
        .await
        .expect("create slice");
    tokio::task::spawn_blocking(move || eventually_body(cluster_ip))
        .await
        .unwrap();

    // Health and metrics, as upstream shapes them.
    let (status, body) = http_get(healthz, "/healthz").expect("healthz");
    assert!(status.contains("200"), "{status}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("healthz JSON");
    assert!(
        v["lastUpdated"].as_str().unwrap().ends_with("+0000 UTC"),
        "{body}"
    );
    assert_eq!(v["nodeEligible"], true);
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let (_, text) = http_get(metrics, "/metrics").expect("metrics");
        assert!(text.contains("kubeproxy_sync_proxy_rules_duration_seconds_bucket"));
        assert!(text.contains("kubeproxy_sync_proxy_rules_last_timestamp_seconds"));
        if !text.contains("kubeproxy_network_programming_duration_seconds_count 0") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no programming latency observed:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    slices
        .delete("web-1", &DeleteParams::default())
        .await
        .expect("delete slice");
    tokio::task::spawn_blocking(move || eventually_refused(cluster_ip))
        .await
        .unwrap();

    let _ = stop_tx.send(());
    proxy_task.await.unwrap().expect("proxy ran cleanly");
    let _ = running.stop.send(true);
    let _ = std::fs::remove_dir_all(&dir);
}
