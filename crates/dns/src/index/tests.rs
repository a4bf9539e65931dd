use super::*;
use serde_json::json;

fn svc(v: serde_json::Value) -> Service {
    serde_json::from_value(v).unwrap()
}

fn slice(v: serde_json::Value) -> EndpointSlice {
    serde_json::from_value(v).unwrap()
}

fn cluster_ip_svc() -> Service {
    svc(json!({
        "metadata": {"name": "web", "namespace": "prod"},
        "spec": {"clusterIP": "10.0.0.20", "clusterIPs": ["10.0.0.20"], "ports": [
            {"name": "http", "port": 80, "protocol": "TCP"},
            {"name": "dns", "port": 53, "protocol": "UDP"},
            {"port": 9000}
        ]}
    }))
}

fn headless_svc() -> Service {
    svc(json!({
        "metadata": {"name": "db", "namespace": "prod"},
        "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}
    }))
}

fn db_slice() -> EndpointSlice {
    slice(json!({
        "metadata": {"name": "db-abc", "namespace": "prod",
                     "labels": {"kubernetes.io/service-name": "db"}},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.244.0.5"], "hostname": "db-0", "conditions": {"ready": true}},
            {"addresses": ["10.244.0.6"], "conditions": {"ready": true}},
            {"addresses": ["10.244.0.7"], "hostname": "db-2", "conditions": {"ready": false}}
        ],
        "ports": [{"name": "pg", "port": 15432, "protocol": "TCP"}]
    }))
}

fn index() -> Index {
    Index::new("cluster.local", Some("10.0.0.10".parse().unwrap()))
}

fn datas(l: Lookup) -> Vec<RecordData> {
    match l {
        Lookup::Answers(a) => a.into_iter().map(|a| a.data).collect(),
        other => panic!("expected answers, got {other:?}"),
    }
}

fn a(ip: &str) -> RecordData {
    RecordData::A(ip.parse().unwrap())
}

#[test]
fn cluster_ip_a_record() {
    let mut ix = index();
    ix.apply_service(&cluster_ip_svc());
    assert_eq!(
        datas(ix.lookup("web.prod.svc.cluster.local.", RecordType::A)),
        [a("10.0.0.20")]
    );
    // Case-insensitive, root dot optional.
    assert_eq!(
        datas(ix.lookup("WEB.Prod.svc.cluster.local", RecordType::A)),
        [a("10.0.0.20")]
    );
}

#[test]
fn dual_stack_has_aaaa() {
    let mut ix = index();
    ix.apply_service(&svc(json!({
        "metadata": {"name": "ds", "namespace": "default"},
        "spec": {"clusterIP": "10.0.0.30", "clusterIPs": ["10.0.0.30", "fd00::30"]}
    })));
    assert_eq!(
        datas(ix.lookup("ds.default.svc.cluster.local", RecordType::AAAA)),
        [RecordData::Aaaa("fd00::30".parse().unwrap())]
    );
    assert_eq!(
        datas(ix.lookup("ds.default.svc.cluster.local", RecordType::A)),
        [a("10.0.0.30")]
    );
}

#[test]
fn srv_for_named_ports_of_a_cluster_ip_service() {
    let mut ix = index();
    ix.apply_service(&cluster_ip_svc());
    assert_eq!(
        datas(ix.lookup("_http._tcp.web.prod.svc.cluster.local", RecordType::SRV)),
        [RecordData::Srv {
            priority: 0,
            weight: 100,
            port: 80,
            target: "web.prod.svc.cluster.local".into()
        }]
    );
    assert_eq!(
        datas(ix.lookup("_dns._udp.web.prod.svc.cluster.local", RecordType::SRV)).len(),
        1
    );
    // The wrong protocol does not exist; the intermediate name does.
    assert_eq!(
        ix.lookup("_http._udp.web.prod.svc.cluster.local", RecordType::SRV),
        Lookup::NxDomain
    );
    assert_eq!(
        ix.lookup("_tcp.web.prod.svc.cluster.local", RecordType::SRV),
        Lookup::NoData
    );
}

#[test]
fn headless_one_record_per_ready_endpoint() {
    let mut ix = index();
    ix.apply_service(&headless_svc());
    // No endpoints yet: the name exists, without addresses.
    assert_eq!(
        ix.lookup("db.prod.svc.cluster.local", RecordType::A),
        Lookup::NoData
    );
    ix.apply_slice(&db_slice());
    assert_eq!(
        datas(ix.lookup("db.prod.svc.cluster.local", RecordType::A)),
        [a("10.244.0.5"), a("10.244.0.6")]
    );
    ix.delete_slice("prod", "db-abc");
    assert_eq!(
        ix.lookup("db.prod.svc.cluster.local", RecordType::A),
        Lookup::NoData
    );
}

#[test]
fn slices_before_their_service() {
    let mut ix = index();
    ix.apply_slice(&db_slice());
    assert_eq!(
        ix.lookup("db.prod.svc.cluster.local", RecordType::A),
        Lookup::NxDomain
    );
    ix.apply_service(&headless_svc());
    assert_eq!(
        datas(ix.lookup("db.prod.svc.cluster.local", RecordType::A)).len(),
        2
    );
}

#[test]
fn hostname_records() {
    let mut ix = index();
    ix.apply_service(&headless_svc());
    ix.apply_slice(&db_slice());
    assert_eq!(
        datas(ix.lookup("db-0.db.prod.svc.cluster.local", RecordType::A)),
        [a("10.244.0.5")]
    );
    // Without a hostname, the dashed address names the endpoint.
    assert_eq!(
        datas(ix.lookup("10-244-0-6.db.prod.svc.cluster.local", RecordType::A)),
        [a("10.244.0.6")]
    );
    // Not ready: no record.
    assert_eq!(
        ix.lookup("db-2.db.prod.svc.cluster.local", RecordType::A),
        Lookup::NxDomain
    );
}

#[test]
fn headless_srv_targets_endpoints_with_their_port() {
    let mut ix = index();
    ix.apply_service(&headless_svc());
    ix.apply_slice(&db_slice());
    let got = datas(ix.lookup("_pg._tcp.db.prod.svc.cluster.local", RecordType::SRV));
    let targets: Vec<(u16, String)> = got
        .into_iter()
        .map(|d| match d {
            RecordData::Srv { port, target, .. } => (port, target),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        targets,
        [
            (15432, "10-244-0-6.db.prod.svc.cluster.local".to_string()),
            (15432, "db-0.db.prod.svc.cluster.local".to_string())
        ]
    );
}

#[test]
fn external_name_is_a_cname_for_every_type() {
    let mut ix = index();
    ix.apply_service(&svc(json!({
        "metadata": {"name": "ext", "namespace": "default"},
        "spec": {"type": "ExternalName", "externalName": "Example.COM."}
    })));
    let cname = RecordData::Cname("example.com".into());
    for t in [
        RecordType::A,
        RecordType::AAAA,
        RecordType::CNAME,
        RecordType::TXT,
    ] {
        assert_eq!(
            datas(ix.lookup("ext.default.svc.cluster.local", t)),
            std::slice::from_ref(&cname),
            "{t}"
        );
    }
}

#[test]
fn ptr_for_cluster_ips_and_endpoints() {
    let mut ix = index();
    ix.apply_service(&cluster_ip_svc());
    ix.apply_service(&headless_svc());
    ix.apply_slice(&db_slice());
    assert_eq!(
        datas(ix.lookup("20.0.0.10.in-addr.arpa.", RecordType::PTR)),
        [RecordData::Ptr("web.prod.svc.cluster.local".into())]
    );
    assert_eq!(
        datas(ix.lookup("5.0.244.10.in-addr.arpa", RecordType::PTR)),
        [RecordData::Ptr("db-0.db.prod.svc.cluster.local".into())]
    );
    // Unknown reverse names are not ours: they go upstream.
    assert_eq!(
        ix.lookup("9.9.9.9.in-addr.arpa", RecordType::PTR),
        Lookup::NotAuthoritative
    );
    ix.delete_service("prod", "web");
    assert_eq!(
        ix.lookup("20.0.0.10.in-addr.arpa", RecordType::PTR),
        Lookup::NotAuthoritative
    );
}

#[test]
fn pod_records_encode_the_address() {
    let ix = index();
    assert_eq!(
        datas(ix.lookup("10-244-1-7.any.pod.cluster.local", RecordType::A)),
        [a("10.244.1.7")]
    );
    assert_eq!(
        datas(ix.lookup("fd00--7.any.pod.cluster.local", RecordType::AAAA)),
        [RecordData::Aaaa("fd00::7".parse().unwrap())]
    );
    assert_eq!(
        ix.lookup("10-244-1-7.any.pod.cluster.local", RecordType::AAAA),
        Lookup::NoData
    );
    assert_eq!(
        ix.lookup("not-an-ip.any.pod.cluster.local", RecordType::A),
        Lookup::NxDomain
    );
}

#[test]
fn nxdomain_versus_nodata() {
    let mut ix = index();
    ix.apply_service(&cluster_ip_svc());
    // Existing name, other type.
    assert_eq!(
        ix.lookup("web.prod.svc.cluster.local", RecordType::AAAA),
        Lookup::NoData
    );
    assert_eq!(
        ix.lookup("web.prod.svc.cluster.local", RecordType::TXT),
        Lookup::NoData
    );
    // Empty non-terminals exist.
    assert_eq!(
        ix.lookup("prod.svc.cluster.local", RecordType::A),
        Lookup::NoData
    );
    assert_eq!(
        ix.lookup("svc.cluster.local", RecordType::A),
        Lookup::NoData
    );
    assert_eq!(ix.lookup("cluster.local", RecordType::A), Lookup::NoData);
    // Missing names.
    assert_eq!(
        ix.lookup("nope.prod.svc.cluster.local", RecordType::A),
        Lookup::NxDomain
    );
    assert_eq!(
        ix.lookup("web.other.svc.cluster.local", RecordType::A),
        Lookup::NxDomain
    );
    assert_eq!(
        ix.lookup("other.svc.cluster.local", RecordType::A),
        Lookup::NxDomain
    );
    assert_eq!(
        ix.lookup(
            "web.prod.svc.cluster.local.svc.cluster.local",
            RecordType::A
        ),
        Lookup::NxDomain
    );
    // Deleting the Service removes its names and the empty non-terminals.
    ix.delete_service("prod", "web");
    assert_eq!(
        ix.lookup("web.prod.svc.cluster.local", RecordType::A),
        Lookup::NxDomain
    );
    assert_eq!(
        ix.lookup("prod.svc.cluster.local", RecordType::A),
        Lookup::NxDomain
    );
    assert!(ix.names.is_empty(), "{:?}", ix.names);
}

#[test]
fn outside_the_zone_is_not_ours() {
    let ix = index();
    assert_eq!(
        ix.lookup("example.com", RecordType::A),
        Lookup::NotAuthoritative
    );
    assert_eq!(ix.lookup("local", RecordType::A), Lookup::NotAuthoritative);
}

#[test]
fn zone_apex_version_and_name_server() {
    let ix = index();
    assert!(matches!(
        datas(ix.lookup("cluster.local", RecordType::SOA)).as_slice(),
        [RecordData::Soa { .. }]
    ));
    assert_eq!(
        datas(ix.lookup("cluster.local", RecordType::NS)),
        [RecordData::Ns("ns.dns.cluster.local".into())]
    );
    assert_eq!(
        datas(ix.lookup("ns.dns.cluster.local", RecordType::A)),
        [a("10.0.0.10")]
    );
    assert_eq!(
        datas(ix.lookup("dns-version.cluster.local", RecordType::TXT)),
        [RecordData::Txt("1.1.0".into())]
    );
}

#[test]
fn updates_replace_records() {
    let mut ix = index();
    ix.apply_service(&cluster_ip_svc());
    let mut changed = cluster_ip_svc();
    let spec = changed.spec.as_mut().unwrap();
    spec.ports = None;
    spec.cluster_ip = Some("None".into());
    spec.cluster_ips = Some(vec!["None".into()]);
    ix.apply_service(&changed);
    assert_eq!(
        ix.lookup("web.prod.svc.cluster.local", RecordType::A),
        Lookup::NoData
    );
    assert_eq!(
        ix.lookup("_http._tcp.web.prod.svc.cluster.local", RecordType::SRV),
        Lookup::NxDomain
    );
    assert_eq!(
        ix.lookup("20.0.0.10.in-addr.arpa", RecordType::PTR),
        Lookup::NotAuthoritative
    );
}

#[test]
fn replace_drops_what_a_relist_no_longer_has() {
    let mut ix = index();
    ix.apply_service(&cluster_ip_svc());
    ix.apply_service(&headless_svc());
    ix.apply_slice(&db_slice());
    ix.replace_services([&headless_svc()]);
    ix.replace_slices(std::iter::empty());
    assert_eq!(ix.service_count(), 1);
    assert_eq!(
        ix.lookup("web.prod.svc.cluster.local", RecordType::A),
        Lookup::NxDomain
    );
    assert_eq!(
        ix.lookup("db.prod.svc.cluster.local", RecordType::A),
        Lookup::NoData
    );
}
