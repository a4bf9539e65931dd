//! Forwarding and the index seam: a server fed directly (no apiserver)
//! forwards names outside the zone to a second, tiny server started here,
//! answers SERVFAIL quickly without upstreams, and carries load.

mod support;

use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use k8s_openapi::api::core::v1::Service;
use serde_json::json;
use support::{negative, resolver, Upstream};

fn config(upstreams: Vec<std::net::SocketAddr>) -> dns::Config {
    dns::Config {
        dns_bind_address: "127.0.0.1:0".parse().unwrap(),
        health_bind_address: None,
        ready_bind_address: None,
        metrics_bind_address: Some("127.0.0.1:0".parse().unwrap()),
        upstreams: dns::Upstreams::Explicit(upstreams),
        forward_timeout: Duration::from_secs(2),
        ..dns::Config::default()
    }
}

fn index_with_web() -> dns::SharedIndex {
    let mut ix = dns::Index::new("cluster.local", None);
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"clusterIP": "10.0.0.50", "ports": [{"name": "http", "port": 80}]}
    }))
    .unwrap();
    ix.apply_service(&svc);
    let ext: Service = serde_json::from_value(json!({
        "metadata": {"name": "ext", "namespace": "default"},
        "spec": {"type": "ExternalName", "externalName": "www.upstream.test"}
    }))
    .unwrap();
    ix.apply_service(&ext);
    Arc::new(RwLock::new(ix))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_names_outside_the_zone() {
    let upstream = Upstream::start().await;
    let server = dns::start_with_index(
        &config(vec![upstream.addr]),
        index_with_web(),
        Arc::new(dns::Readiness::ready()),
    )
    .await
    .expect("start");

    for proto in [Protocol::Udp, Protocol::Tcp] {
        let r = resolver(server.dns_addr, proto);
        let ctx = format!("{proto:?}");
        let a = r
            .lookup("www.upstream.test.", RecordType::A)
            .await
            .expect(&ctx);
        let got: Vec<IpAddr> = a
            .record_iter()
            .filter_map(|r| match r.data() {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                _ => None,
            })
            .collect();
        assert_eq!(got, ["192.0.2.7".parse::<IpAddr>().unwrap()], "{ctx}");
        // The upstream's NXDOMAIN is relayed.
        let nx = r
            .lookup("nope.upstream.test.", RecordType::A)
            .await
            .unwrap_err();
        assert!(nx.is_nx_domain(), "{ctx}: {nx:?}");
        // Unknown reverse names fall through to the upstream too.
        let rev = r
            .reverse_lookup("192.0.2.99".parse().unwrap())
            .await
            .unwrap_err();
        assert!(rev.is_nx_domain(), "{ctx}: {rev:?}");
        // An ExternalName pointing outside: the CNAME, then the address
        // from upstream.
        let e = r
            .lookup("ext.default.svc.cluster.local.", RecordType::A)
            .await
            .expect(&ctx);
        let cname = e
            .record_iter()
            .any(|r| matches!(r.data(), RData::CNAME(c) if c.0.to_ascii() == "www.upstream.test."));
        assert!(cname, "{ctx}: {e:?}");
        assert!(
            e.record_iter().any(
                |r| matches!(r.data(), RData::A(a) if a.0 == std::net::Ipv4Addr::new(192, 0, 2, 7))
            ),
            "{ctx}: {e:?}"
        );
        // The zone is still answered locally.
        let w = r
            .lookup("web.default.svc.cluster.local.", RecordType::A)
            .await
            .expect(&ctx);
        assert_eq!(w.records().len(), 1, "{ctx}");
    }
    let text = server.metrics.render();
    assert!(text.contains("plugin=\"forward\""), "{text}");
    assert!(
        text.contains(&format!("to=\"{}\"", upstream.addr)),
        "{text}"
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_upstream_outside_names_get_servfail_at_once() {
    let server = dns::start_with_index(
        &config(vec![]),
        index_with_web(),
        Arc::new(dns::Readiness::ready()),
    )
    .await
    .expect("start");
    let r = resolver(server.dns_addr, Protocol::Udp);
    let started = Instant::now();
    let err = r.lookup("example.com.", RecordType::A).await.unwrap_err();
    // The resolver reports SERVFAIL as a failed response, not a timeout.
    assert!(!err.is_nx_domain(), "{err:?}");
    assert!(
        format!("{err:?}").contains("ServFail"),
        "expected SERVFAIL: {err:?}"
    );
    // Generous: far below the resolver's 2 x 5 s of retries on a timeout.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // NXDOMAIN inside the zone is unaffected.
    let nx = r
        .lookup("x.default.svc.cluster.local.", RecordType::A)
        .await
        .unwrap_err();
    assert_eq!(negative(&nx).0, ResponseCode::NXDomain);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_generator_reports() {
    let server = dns::start_with_index(
        &config(vec![]),
        index_with_web(),
        Arc::new(dns::Readiness::ready()),
    )
    .await
    .expect("start");
    let names = [
        (
            Name::from_ascii("web.default.svc.cluster.local.").unwrap(),
            RecordType::A,
        ),
        (
            Name::from_ascii("nope.default.svc.cluster.local.").unwrap(),
            RecordType::A,
        ),
    ];
    let report = dns::loadgen::run_load(server.dns_addr, &names, 4, Duration::from_millis(500))
        .await
        .expect("load");
    assert!(report.answered > 0, "{report:?}");
    assert!(report.noerror > 0 && report.nxdomain > 0, "{report:?}");
    assert!(report.p99 >= report.p50, "{report:?}");
    eprintln!(
        "loopback: {:.0} q/s, p50 {:?}, p99 {:?}, failed {}",
        report.qps, report.p50, report.p99, report.failed
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_answers_truncate_over_plain_udp_and_complete_over_tcp() {
    use hickory_resolver::proto::op::{Message, MessageType, OpCode, Query};
    use k8s_openapi::api::discovery::v1::EndpointSlice;

    let index = index_with_web();
    let endpoints: Vec<_> = (1..=60)
        .map(|i| json!({"addresses": [format!("10.244.2.{i}")], "conditions": {"ready": true}}))
        .collect();
    {
        let mut ix = index.write().unwrap();
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "many", "namespace": "default"},
            "spec": {"clusterIP": "None"}
        }))
        .unwrap();
        ix.apply_service(&svc);
        let slice: EndpointSlice = serde_json::from_value(json!({
            "metadata": {"name": "many-1", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "many"}},
            "addressType": "IPv4",
            "endpoints": endpoints
        }))
        .unwrap();
        ix.apply_slice(&slice);
    }
    let server = dns::start_with_index(&config(vec![]), index, Arc::new(dns::Readiness::ready()))
        .await
        .expect("start");
    let name = Name::from_ascii("many.default.svc.cluster.local.").unwrap();

    // A plain (no EDNS) UDP query gets TC and no records.
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.connect(server.dns_addr).await.unwrap();
    let mut q = Message::new();
    q.set_id(4242)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(name.clone(), RecordType::A));
    sock.send(&q.to_vec().unwrap()).await.unwrap();
    let mut buf = vec![0u8; 65535];
    let n = tokio::time::timeout(Duration::from_secs(10), sock.recv(&mut buf))
        .await
        .expect("answer")
        .unwrap();
    assert!(n <= 512, "{n} bytes");
    let reply = Message::from_vec(&buf[..n]).unwrap();
    assert!(reply.truncated(), "{reply:?}");
    assert!(reply.answers().is_empty());

    // A resolver with UDP and TCP retries over TCP and gets all 60.
    let group = hickory_resolver::config::NameServerConfigGroup::from_ips_clear(
        &[server.dns_addr.ip()],
        server.dns_addr.port(),
        true,
    );
    let cfg = hickory_resolver::config::ResolverConfig::from_parts(None, vec![], group);
    let mut b = hickory_resolver::TokioResolver::builder_with_config(
        cfg,
        hickory_resolver::name_server::TokioConnectionProvider::default(),
    );
    b.options_mut().cache_size = 0;
    b.options_mut().ndots = 0;
    let r = b.build();
    let all = r.lookup(name, RecordType::A).await.expect("lookup");
    assert_eq!(all.records().len(), 60);
    server.shutdown().await.expect("shutdown");
}
