//! The DNS server against a real etcd and an in-process apiserver: objects
//! created through the API become answers over UDP and TCP, updates and
//! deletions follow, and the server registers itself as `kube-dns`.

mod support;

use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, PostParams};
use kube::Client;
use serde_json::json;
use support::{http_get, negative, resolver, wait_for};

async fn apiserver(
    dir: &std::path::Path,
) -> (etcd_harness::Etcd, apiserver::server::Running, Client) {
    let etcd = etcd_harness::Etcd::start().expect("etcd");
    let prefix = etcd.unique_prefix();
    let cfg = apiserver::Config::for_test(etcd.endpoint(), &prefix, dir.join("certs"));
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

fn ips(lookup: &hickory_resolver::lookup::Lookup) -> Vec<IpAddr> {
    let mut v: Vec<IpAddr> = lookup
        .record_iter()
        .filter_map(|r| match r.data() {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_from_the_apiserver_over_udp_and_tcp() {
    let dir = std::env::temp_dir().join(format!("dns-it-{}", std::process::id()));
    let (_etcd, api, client) = apiserver(&dir).await;

    let ns = "dns-it";
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .expect("namespace");
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), ns);
    for svc in [
        json!({"metadata": {"name": "web"},
               "spec": {"clusterIP": "10.0.0.50", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}),
        json!({"metadata": {"name": "db"},
               "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}}),
        json!({"metadata": {"name": "ext"},
               "spec": {"type": "ExternalName", "externalName": "web.dns-it.svc.cluster.local"}}),
    ] {
        services
            .create(
                &PostParams::default(),
                &serde_json::from_value(svc).unwrap(),
            )
            .await
            .expect("service");
    }
    slices
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "db-x1", "labels": {"kubernetes.io/service-name": "db"}},
                "addressType": "IPv4",
                "endpoints": [
                    {"addresses": ["10.244.1.5"], "hostname": "db-0", "conditions": {"ready": true}},
                    {"addresses": ["10.244.1.6"], "conditions": {"ready": true}},
                    {"addresses": ["10.244.1.7"], "conditions": {"ready": false}}
                ],
                "ports": [{"name": "pg", "port": 15432, "protocol": "TCP"}]
            }))
            .unwrap(),
        )
        .await
        .expect("endpointslice");

    let config = dns::Config {
        dns_bind_address: "127.0.0.1:0".parse().unwrap(),
        health_bind_address: Some("127.0.0.1:0".parse().unwrap()),
        ready_bind_address: Some("127.0.0.1:0".parse().unwrap()),
        metrics_bind_address: Some("127.0.0.1:0".parse().unwrap()),
        upstreams: dns::Upstreams::Explicit(vec![]),
        service_ip: Some(ip("10.0.0.10")),
        registration: Some(dns::Registration {
            namespace: "kube-system".into(),
            name: "kube-dns".into(),
            service_ip: ip("10.0.0.10"),
            advertise_address: ip("127.0.0.1"),
            dns_port: 0,
            metrics_port: None,
        }),
        ..dns::Config::default()
    };
    let server = dns::start(client.clone(), &config).await.expect("start");
    let ready = server.http[&dns::http::Endpoint::Ready];
    let health = server.http[&dns::http::Endpoint::Health];
    let metrics = server.http[&dns::http::Endpoint::Metrics];
    assert_eq!(http_get(health, "/health").await.0, 200);
    wait_for("ready", || async {
        (http_get(ready, "/ready").await.0 == 200).then_some(())
    })
    .await;

    for proto in [Protocol::Udp, Protocol::Tcp] {
        let r = resolver(server.dns_addr, proto);
        let ctx = format!("{proto:?}");

        // A for a ClusterIP Service; the apiserver's own `kubernetes` too.
        let a = r
            .lookup("web.dns-it.svc.cluster.local.", RecordType::A)
            .await
            .expect(&ctx);
        assert_eq!(ips(&a), [ip("10.0.0.50")], "{ctx}");
        assert_eq!(a.records()[0].ttl(), 5, "{ctx}");
        let k = r
            .lookup("kubernetes.default.svc.cluster.local.", RecordType::A)
            .await
            .expect(&ctx);
        assert_eq!(ips(&k), [ip("10.0.0.1")], "{ctx}");

        // SRV for the named port.
        let srv = r
            .srv_lookup("_http._tcp.web.dns-it.svc.cluster.local.")
            .await
            .expect(&ctx);
        let s: Vec<_> = srv
            .iter()
            .map(|s| (s.port(), s.target().to_ascii()))
            .collect();
        assert_eq!(
            s,
            [(80, "web.dns-it.svc.cluster.local.".to_string())],
            "{ctx}"
        );

        // Headless: one A per ready endpoint; hostname records; SRV per endpoint.
        let h = r
            .lookup("db.dns-it.svc.cluster.local.", RecordType::A)
            .await
            .expect(&ctx);
        assert_eq!(ips(&h), [ip("10.244.1.5"), ip("10.244.1.6")], "{ctx}");
        let h0 = r
            .lookup("db-0.db.dns-it.svc.cluster.local.", RecordType::A)
            .await
            .expect(&ctx);
        assert_eq!(ips(&h0), [ip("10.244.1.5")], "{ctx}");
        let srv = r
            .srv_lookup("_pg._tcp.db.dns-it.svc.cluster.local.")
            .await
            .expect(&ctx);
        let mut s: Vec<_> = srv
            .iter()
            .map(|s| (s.port(), s.target().to_ascii()))
            .collect();
        s.sort();
        assert_eq!(
            s,
            [
                (15432, "10-244-1-6.db.dns-it.svc.cluster.local.".to_string()),
                (15432, "db-0.db.dns-it.svc.cluster.local.".to_string())
            ],
            "{ctx}"
        );

        // ExternalName: a CNAME, followed to the target's address.
        let e = r
            .lookup("ext.dns-it.svc.cluster.local.", RecordType::A)
            .await
            .expect(&ctx);
        assert!(
            e.record_iter().any(|r| matches!(r.data(), RData::CNAME(c) if c.0.to_ascii() == "web.dns-it.svc.cluster.local.")),
            "{ctx}: {e:?}"
        );
        assert_eq!(ips(&e), [ip("10.0.0.50")], "{ctx}");

        // PTR for the cluster IP and for an endpoint.
        let p = r.reverse_lookup(ip("10.0.0.50")).await.expect(&ctx);
        let names: Vec<String> = p.iter().map(|n| n.0.to_ascii()).collect();
        assert_eq!(names, ["web.dns-it.svc.cluster.local."], "{ctx}");
        let p = r.reverse_lookup(ip("10.244.1.5")).await.expect(&ctx);
        let names: Vec<String> = p.iter().map(|n| n.0.to_ascii()).collect();
        assert_eq!(names, ["db-0.db.dns-it.svc.cluster.local."], "{ctx}");

        // Pod records and the schema version.
        let pod = r
            .lookup("10-244-1-9.dns-it.pod.cluster.local.", RecordType::A)
            .await
            .expect(&ctx);
        assert_eq!(ips(&pod), [ip("10.244.1.9")], "{ctx}");
        let v = r
            .txt_lookup("dns-version.cluster.local.")
            .await
            .expect(&ctx);
        assert_eq!(v.iter().next().unwrap().to_string(), "1.1.0", "{ctx}");

        // NXDOMAIN vs NODATA, both with the SOA.
        let nx = r
            .lookup("nope.dns-it.svc.cluster.local.", RecordType::A)
            .await
            .unwrap_err();
        assert_eq!(negative(&nx), (ResponseCode::NXDomain, true), "{ctx}");
        let nodata = r
            .lookup("web.dns-it.svc.cluster.local.", RecordType::AAAA)
            .await
            .unwrap_err();
        assert_eq!(negative(&nodata), (ResponseCode::NoError, true), "{ctx}");
        let ent = r
            .lookup("dns-it.svc.cluster.local.", RecordType::A)
            .await
            .unwrap_err();
        assert_eq!(negative(&ent), (ResponseCode::NoError, true), "{ctx}");

        // No upstream: names outside the zone fail at once.
        let out = r.lookup("example.com.", RecordType::A).await.unwrap_err();
        assert!(!out.is_nx_domain(), "{ctx}: {out:?}");
    }

    // Self-registration: the Service without selector and our slice.
    let sys_svcs: Api<Service> = Api::namespaced(client.clone(), "kube-system");
    let sys_slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "kube-system");
    let kd = wait_for("kube-dns service", || async {
        sys_svcs.get_opt("kube-dns").await.ok()?
    })
    .await;
    let spec = kd.spec.unwrap();
    assert_eq!(spec.cluster_ip.as_deref(), Some("10.0.0.10"));
    assert!(spec.selector.is_none());
    let ports: Vec<_> = spec
        .ports
        .unwrap()
        .into_iter()
        .map(|p| (p.name.unwrap(), p.port, p.protocol.unwrap()))
        .collect();
    assert!(
        ports.contains(&("dns".into(), 53, "UDP".into())),
        "{ports:?}"
    );
    assert!(
        ports.contains(&("dns-tcp".into(), 53, "TCP".into())),
        "{ports:?}"
    );
    assert_eq!(kd.metadata.labels.unwrap()["k8s-app"], "kube-dns");
    let slice = wait_for("kube-dns slice", || async {
        sys_slices.get_opt("kube-dns-127-0-0-1").await.ok()?
    })
    .await;
    let labels = slice.metadata.labels.unwrap();
    assert_eq!(labels["kubernetes.io/service-name"], "kube-dns");
    assert_eq!(labels["endpointslice.kubernetes.io/managed-by"], "kube-dns");
    assert_eq!(slice.endpoints[0].addresses, ["127.0.0.1"]);
    let slice_ports: Vec<_> = slice
        .ports
        .unwrap()
        .into_iter()
        .map(|p| (p.name.unwrap(), p.port.unwrap()))
        .collect();
    assert!(slice_ports.contains(&("dns".into(), i32::from(server.dns_addr.port()))));
    // ... and the server answers for itself.
    let r = resolver(server.dns_addr, Protocol::Udp);
    let me = wait_for("kube-dns record", || async {
        r.lookup("kube-dns.kube-system.svc.cluster.local.", RecordType::A)
            .await
            .ok()
    })
    .await;
    assert_eq!(ips(&me), [ip("10.0.0.10")]);
    // Registering again (a restart) is a no-op.
    let mut reg = config.registration.clone().unwrap();
    reg.dns_port = server.dns_addr.port();
    reg.metrics_port = Some(metrics.port());
    dns::register::register(&client, &reg)
        .await
        .expect("idempotent");

    // Watch events: an update, a new slice, a deletion.
    let mut web = services.get("web").await.unwrap();
    web.spec.as_mut().unwrap().ports = Some(vec![serde_json::from_value(
        json!({"name": "https", "port": 443, "protocol": "TCP"}),
    )
    .unwrap()]);
    services
        .replace("web", &PostParams::default(), &web)
        .await
        .expect("update");
    wait_for("https SRV", || async {
        r.srv_lookup("_https._tcp.web.dns-it.svc.cluster.local.")
            .await
            .ok()
    })
    .await;
    services
        .delete("db", &DeleteParams::default())
        .await
        .expect("delete");
    wait_for("db gone", || async {
        let e = r
            .lookup("db.dns-it.svc.cluster.local.", RecordType::A)
            .await
            .err()?;
        (negative(&e).0 == ResponseCode::NXDomain).then_some(())
    })
    .await;

    // Metrics count what was asked.
    let (code, text) = http_get(metrics, "/metrics").await;
    assert_eq!(code, 200);
    assert!(text.contains("coredns_dns_requests_total{"), "{text}");
    assert!(text.contains("type=\"SRV\""), "{text}");
    assert!(text.contains("rcode=\"NXDOMAIN\""), "{text}");
    assert!(
        text.contains("coredns_dns_request_duration_seconds_bucket{"),
        "{text}"
    );

    server.shutdown().await.expect("shutdown");
    // Shutdown removes our slice; the Service stays.
    wait_for("slice removed", || async {
        matches!(sys_slices.get_opt("kube-dns-127-0-0-1").await, Ok(None)).then_some(())
    })
    .await;
    assert!(sys_svcs.get_opt("kube-dns").await.unwrap().is_some());
    let _ = api.stop.send(true);
    let _ = std::fs::remove_dir_all(&dir);
}
