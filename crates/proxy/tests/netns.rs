//! The library against the real kernel: a network namespace with a veth
//! pair to the host plays the pod, busybox httpd inside serves a known
//! body, and the proxy's rules (in a table of the test's own) make a
//! ClusterIP and a NodePort on 127.0.0.1 reach it. Needs root and nft.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;

use proxy::model::{Endpoint, Model, Protocol, ServicePort, ServicePortName};
use proxy::{NftCli, RulesetConfig, Syncer};
use support::{eventually_body, refused, Net};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_ip_node_port_and_reject_through_real_nft() {
    proxy::host::ensure_sysctls(true).expect("sysctls (needs root)");
    let net = Net::new("it");
    let node_port = 30000 + (std::process::id() % 2000) as u16;
    let web = ServicePortName::new("default", "web", "http", Protocol::Tcp);
    let empty = ServicePortName::new("default", "empty", "http", Protocol::Tcp);
    let web_ip: Ipv4Addr = "10.212.0.10".parse().unwrap();
    let empty_ip: Ipv4Addr = "10.212.0.11".parse().unwrap();
    let mut model = Model::default();
    model.services.insert(
        web.clone(),
        ServicePort {
            cluster_ip: Some(web_ip),
            port: 8080,
            node_port: Some(node_port),
            ..Default::default()
        },
    );
    model.services.insert(
        empty.clone(),
        ServicePort {
            cluster_ip: Some(empty_ip),
            port: 8080,
            ..Default::default()
        },
    );
    model.endpoints.insert(
        web.clone(),
        vec![Endpoint::ready(net.pod_ip(), 80, Some("node-a"))],
    );

    let mut cfg = RulesetConfig::new(&net.table, "node-a");
    cfg.cluster_cidrs = vec![format!("10.213.{}.0/24", net.subnet).parse().unwrap()];
    let mut syncer = Syncer::new(cfg, NftCli::default());
    let out = syncer.sync(model.clone(), true).await.expect("full sync");
    assert!(out.full);

    let cluster_ip = SocketAddr::from((web_ip, 8080));
    let localhost_np = SocketAddr::from((Ipv4Addr::LOCALHOST, node_port));
    eventually_body(cluster_ip);
    eventually_body(localhost_np);
    refused(SocketAddr::from((empty_ip, 8080)));

    // Hairpin: the pod reaching itself through its cluster IP works only
    // because the reply is masqueraded (else it sees its own source).
    let deadline = std::time::Instant::now() + support::PATIENCE;
    while net.get_from_pod(cluster_ip).as_deref() != Some(support::BODY) {
        assert!(
            std::time::Instant::now() < deadline,
            "hairpin through the cluster IP"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    // Replacing the endpoint (same count) only rewrites map elements: to a
    // port nobody listens on, then back.
    let mut moved = model.clone();
    moved.endpoints.insert(
        web.clone(),
        vec![Endpoint::ready(net.pod_ip(), 81, Some("node-a"))],
    );
    let out = syncer.sync(moved, false).await.expect("incremental sync");
    assert!(!out.full);
    refused(cluster_ip);
    refused(localhost_np);
    let out = syncer
        .sync(model.clone(), false)
        .await
        .expect("incremental sync");
    assert!(!out.full);
    eventually_body(cluster_ip);
    eventually_body(localhost_np);
    // Those element-only changes went over netlink: the hairpin element
    // written that way works too.
    assert_eq!(
        net.get_from_pod(cluster_ip).as_deref(),
        Some(support::BODY),
        "hairpin after an element-only change"
    );

    // Incremental: the endpoint goes, the service refuses; it comes back.
    let mut gone = model.clone();
    gone.endpoints.remove(&web);
    let out = syncer.sync(gone, false).await.expect("incremental sync");
    assert!(!out.full);
    refused(cluster_ip);
    refused(localhost_np);
    let out = syncer
        .sync(model.clone(), false)
        .await
        .expect("incremental sync");
    assert!(!out.full);
    eventually_body(cluster_ip);

    // The periodic full resync (flush and refill) keeps it working.
    let out = syncer.sync(model.clone(), true).await.expect("resync");
    assert!(out.full);
    eventually_body(cluster_ip);
    eventually_body(localhost_np);

    proxy::cleanup(&net.table).await.expect("cleanup");
    let listed = Command::new("nft")
        .args(["list", "table", "ip", &net.table])
        .output()
        .unwrap();
    assert!(!listed.status.success(), "table still there after cleanup");
    // Cleanup is idempotent (`make down` may run it twice).
    proxy::cleanup(&net.table).await.expect("second cleanup");
}
