//! The ruleset model: what each kind of service turns into, and that an
//! incremental sync touches only the service that changed.

use super::*;
use crate::nft;

const NODE: &str = "node-a";

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn name(svc: &str) -> ServicePortName {
    ServicePortName::new("ns", svc, "http", Protocol::Tcp)
}

fn svc(cip: &str) -> ServicePort {
    ServicePort {
        cluster_ip: Some(ip(cip)),
        port: 80,
        ..Default::default()
    }
}

fn ep(addr: &str, node: &str) -> Endpoint {
    Endpoint::ready(ip(addr), 8080, Some(node))
}

fn cfg() -> RulesetConfig {
    let mut c = RulesetConfig::new("kp-test", NODE);
    c.cluster_cidrs = vec!["10.244.0.0/16".parse().unwrap()];
    c
}

fn one(n: &ServicePortName, sp: ServicePort, eps: Vec<Endpoint>) -> Model {
    let mut m = Model::default();
    m.services.insert(n.clone(), sp);
    m.endpoints.insert(n.clone(), eps);
    m
}

fn elem(g: &Group, set: &str, key: ElemKey) -> Option<Verdict> {
    g.elements
        .iter()
        .find(|e| e.set == set && e.key == key)
        .and_then(|e| e.verdict.clone())
}

fn numgen_targets(c: &ChainDef) -> Vec<Verdict> {
    c.rules
        .iter()
        .flatten()
        .find_map(|s| match s {
            Stmt::NumgenVmap(v) => Some(v.clone()),
            _ => None,
        })
        .expect("a numgen rule")
}

#[test]
fn cluster_ip_without_endpoints_rejects() {
    let n = name("a");
    let rs = build(&one(&n, svc("10.0.0.1"), vec![]), &cfg());
    let g = &rs.services[&n];
    assert!(g.chains.is_empty());
    assert_eq!(
        elem(
            g,
            NO_ENDPOINT_SERVICES,
            ElemKey::AddrProtoPort(ip("10.0.0.1"), Protocol::Tcp, 80)
        ),
        Some(Verdict::Goto(REJECT_CHAIN.into()))
    );
    assert!(elem(
        g,
        SERVICE_IPS,
        ElemKey::AddrProtoPort(ip("10.0.0.1"), Protocol::Tcp, 80)
    )
    .is_none());
    // Not-ready, non-terminating endpoints count as none.
    let mut e = ep("10.244.0.5", NODE);
    e.ready = false;
    let rs = build(&one(&n, svc("10.0.0.1"), vec![e]), &cfg());
    assert!(rs.services[&n].chains.is_empty());
}

#[test]
fn cluster_ip_with_one_endpoint() {
    let n = name("a");
    let rs = build(
        &one(&n, svc("10.0.0.1"), vec![ep("10.244.0.5", NODE)]),
        &cfg(),
    );
    let g = &rs.services[&n];
    let names = ServiceChains::new(&n);
    assert_eq!(
        elem(
            g,
            SERVICE_IPS,
            ElemKey::AddrProtoPort(ip("10.0.0.1"), Protocol::Tcp, 80)
        ),
        Some(Verdict::Goto(names.service.clone()))
    );
    let chain = &g.chains[&names.service];
    // Traffic from outside the cluster CIDR is masqueraded.
    assert_eq!(
        chain.rules[0],
        vec![
            Stmt::DaddrEq(ip("10.0.0.1")),
            Stmt::Dport(Protocol::Tcp, 80),
            Stmt::SaddrNotIn(cfg().cluster_cidrs),
            Stmt::Verdict(Verdict::Jump(MARK_FOR_MASQUERADE.into())),
        ]
    );
    let e = ep("10.244.0.5", NODE);
    assert_eq!(
        numgen_targets(chain),
        vec![Verdict::Goto(names.endpoint(&e))]
    );
    let epc = &g.chains[&names.endpoint(&e)];
    // Hairpin masquerade, then DNAT after the l4proto match nft 1.0.6 needs.
    assert_eq!(epc.rules[0][0], Stmt::SaddrEq(e.ip));
    assert_eq!(
        epc.rules.last().unwrap(),
        &vec![Stmt::L4Proto(Protocol::Tcp), Stmt::Dnat(e.ip, 8080)]
    );
    assert!(g.sets.is_empty());
}

#[test]
fn cluster_ip_with_many_endpoints_and_terminating_fallback() {
    let n = name("a");
    let eps: Vec<Endpoint> = (1..=5).map(|i| ep(&format!("10.244.0.{i}"), "x")).collect();
    let rs = build(&one(&n, svc("10.0.0.1"), eps.clone()), &cfg());
    let g = &rs.services[&n];
    let names = ServiceChains::new(&n);
    assert_eq!(numgen_targets(&g.chains[&names.service]).len(), 5);
    assert_eq!(g.chains.len(), 6);
    // None ready: the serving, terminating ones take the traffic.
    let mut eps = eps;
    for (i, e) in eps.iter_mut().enumerate() {
        e.ready = false;
        e.terminating = true;
        e.serving = i < 2;
    }
    let rs = build(&one(&n, svc("10.0.0.1"), eps), &cfg());
    assert_eq!(
        numgen_targets(&rs.services[&n].chains[&names.service]).len(),
        2
    );
}

#[test]
fn node_port_external_ips_and_load_balancer() {
    let n = name("a");
    let sp = ServicePort {
        node_port: Some(30080),
        external_ips: vec![ip("192.0.2.10")],
        load_balancer_ips: vec![ip("198.51.100.7")],
        ..svc("10.0.0.1")
    };
    let rs = build(&one(&n, sp.clone(), vec![ep("10.244.0.5", "x")]), &cfg());
    let g = &rs.services[&n];
    let names = ServiceChains::new(&n);
    let ext = Some(Verdict::Goto(names.external.clone()));
    assert_eq!(
        elem(
            g,
            SERVICE_NODEPORTS,
            ElemKey::ProtoPort(Protocol::Tcp, 30080)
        ),
        ext
    );
    assert_eq!(
        elem(
            g,
            SERVICE_IPS,
            ElemKey::AddrProtoPort(ip("192.0.2.10"), Protocol::Tcp, 80)
        ),
        ext
    );
    assert_eq!(
        elem(
            g,
            SERVICE_IPS,
            ElemKey::AddrProtoPort(ip("198.51.100.7"), Protocol::Tcp, 80)
        ),
        ext
    );
    // Cluster policy: always masquerade, then the service chain.
    assert_eq!(
        g.chains[&names.external].rules,
        vec![
            vec![Stmt::Verdict(Verdict::Jump(MARK_FOR_MASQUERADE.into()))],
            vec![Stmt::Verdict(Verdict::Goto(names.service.clone()))],
        ]
    );
    // The skeleton answers NodePorts on every local address by default...
    let services = &rs.base.chains["services"];
    assert_eq!(services.rules[1][0], Stmt::FibDaddrLocal);
    // ...or on the listed ones.
    let mut c = cfg();
    c.nodeport_ips = Some(vec![ip("127.0.0.1")]);
    let rs2 = build(&one(&n, sp.clone(), vec![]), &c);
    assert_eq!(
        rs2.base.chains["services"].rules[1][0],
        Stmt::DaddrInSet(NODEPORT_IPS.into())
    );
    assert!(rs2
        .base
        .elements
        .iter()
        .any(|e| e.key == ElemKey::Addr(ip("127.0.0.1"))));
    // Without endpoints every address rejects.
    let g2 = &rs2.services[&n];
    assert_eq!(g2.elements.len(), 4);
    assert_eq!(
        elem(
            g2,
            NO_ENDPOINT_NODEPORTS,
            ElemKey::ProtoPort(Protocol::Tcp, 30080)
        ),
        Some(Verdict::Goto(REJECT_CHAIN.into()))
    );
}

#[test]
fn session_affinity() {
    let n = name("a");
    let sp = ServicePort {
        affinity_timeout: Some(600),
        ..svc("10.0.0.1")
    };
    let eps = vec![ep("10.244.0.5", "x"), ep("10.244.0.6", "x")];
    let rs = build(&one(&n, sp, eps.clone()), &cfg());
    let g = &rs.services[&n];
    let names = ServiceChains::new(&n);
    for e in &eps {
        let set = names.affinity(e, 600);
        assert_eq!(g.sets[&set], SetKind::Addrs { timeout: Some(600) });
        // Known clients stick to their endpoint...
        assert!(g.chains[&names.service].rules.contains(&vec![
            Stmt::SaddrInSet(set.clone()),
            Stmt::Verdict(Verdict::Goto(names.endpoint(e))),
        ]));
        // ...and each DNAT records the client.
        assert!(g.chains[&names.endpoint(e)]
            .rules
            .contains(&vec![Stmt::UpdateSaddr(set)]));
    }
    // A new timeout is a new set, not an in-place change.
    assert_ne!(names.affinity(&eps[0], 600), names.affinity(&eps[0], 60));
}

#[test]
fn internal_traffic_policy_local() {
    let n = name("a");
    let sp = ServicePort {
        internal_local: true,
        ..svc("10.0.0.1")
    };
    let names = ServiceChains::new(&n);
    let key = ElemKey::AddrProtoPort(ip("10.0.0.1"), Protocol::Tcp, 80);
    let mine = ep("10.244.0.5", NODE);
    let theirs = ep("10.244.1.5", "node-b");
    let rs = build(
        &one(&n, sp.clone(), vec![mine.clone(), theirs.clone()]),
        &cfg(),
    );
    let g = &rs.services[&n];
    assert_eq!(
        elem(g, SERVICE_IPS, key),
        Some(Verdict::Goto(names.local.clone()))
    );
    assert_eq!(
        numgen_targets(&g.chains[&names.local]),
        vec![Verdict::Goto(names.endpoint(&mine))]
    );
    // Endpoints elsewhere only: dropped (not rejected), as upstream.
    let rs = build(&one(&n, sp, vec![theirs]), &cfg());
    let g = &rs.services[&n];
    assert_eq!(elem(g, SERVICE_IPS, key), Some(Verdict::Drop));
    assert!(!g.chains.contains_key(&names.local));
}

#[test]
fn external_traffic_policy_local() {
    let n = name("a");
    let sp = ServicePort {
        node_port: Some(30080),
        external_local: true,
        ..svc("10.0.0.1")
    };
    let names = ServiceChains::new(&n);
    let mine = ep("10.244.0.5", NODE);
    let theirs = ep("10.244.1.5", "node-b");
    let rs = build(
        &one(&n, sp.clone(), vec![mine.clone(), theirs.clone()]),
        &cfg(),
    );
    let g = &rs.services[&n];
    // Cluster IP traffic still uses every endpoint.
    assert_eq!(numgen_targets(&g.chains[&names.service]).len(), 2);
    let ext = &g.chains[&names.external].rules;
    assert_eq!(
        ext[0],
        vec![
            Stmt::SaddrIn(cfg().cluster_cidrs),
            Stmt::Verdict(Verdict::Goto(names.service.clone()))
        ]
    );
    assert_eq!(
        ext.last().unwrap(),
        &vec![Stmt::Verdict(Verdict::Goto(names.local.clone()))]
    );
    // No masquerade for outside clients: the client address is preserved.
    assert!(!ext.contains(&vec![Stmt::Verdict(Verdict::Jump(
        MARK_FOR_MASQUERADE.into()
    ))]));
    let rs = build(&one(&n, sp, vec![theirs]), &cfg());
    assert_eq!(
        rs.services[&n].chains[&names.external]
            .rules
            .last()
            .unwrap(),
        &vec![Stmt::Verdict(Verdict::Drop)]
    );
}

#[test]
fn conflicting_external_ip_goes_to_first_service() {
    let mut m = Model::default();
    for (s, cip) in [("a", "10.0.0.1"), ("b", "10.0.0.2")] {
        m.services.insert(
            name(s),
            ServicePort {
                external_ips: vec![ip("192.0.2.1")],
                ..svc(cip)
            },
        );
        m.endpoints.insert(name(s), vec![ep("10.244.0.5", "x")]);
    }
    let rs = build(&m, &cfg());
    let key = ElemKey::AddrProtoPort(ip("192.0.2.1"), Protocol::Tcp, 80);
    assert!(elem(&rs.services[&name("a")], SERVICE_IPS, key).is_some());
    assert!(elem(&rs.services[&name("b")], SERVICE_IPS, key).is_none());
}

fn many(n: usize) -> Model {
    let mut m = Model::default();
    for i in 0..n {
        let nm = name(&format!("s{i}"));
        m.services.insert(
            nm.clone(),
            svc(&format!("10.0.{}.{}", i / 250, i % 250 + 1)),
        );
        m.endpoints.insert(
            nm,
            vec![ep(&format!("10.244.{}.{}", i / 250, i % 250 + 1), "x")],
        );
    }
    m
}

#[test]
fn incremental_touches_only_the_changed_service() {
    let c = cfg();
    let old_model = many(20);
    let old = build(&old_model, &c);
    let mut new_model = old_model.clone();
    let changed = name("s7");
    new_model
        .endpoints
        .get_mut(&changed)
        .unwrap()
        .push(ep("10.244.9.9", "x"));
    let new = build(&new_model, &c);
    let tx = nft::incremental(&old, &new).expect("same skeleton");
    let names = ServiceChains::new(&changed);
    let touched = tx.touched_chains();
    assert!(!touched.is_empty());
    for ch in &touched {
        assert!(
            ch.contains("/s7/"),
            "incremental sync touched {ch}, not of the changed service"
        );
    }
    assert!(touched.contains(names.service.as_str()));
    assert!(touched.contains(names.endpoint(&ep("10.244.9.9", "x")).as_str()));
    // The old endpoint's chain is unchanged, so not rewritten.
    assert!(!touched.contains(names.endpoint(&ep("10.244.0.8", "x")).as_str()));
    // No map element changes: the cluster IP still points at the same chain.
    assert!(!tx.commands.iter().any(|c| matches!(
        c,
        nft::Command::AddElements(..) | nft::Command::DeleteElements(..)
    )));
    // Nothing changed: nothing to do.
    assert!(nft::incremental(&new, &new).unwrap().is_empty());
}

#[test]
fn incremental_removal_and_addition() {
    let c = cfg();
    let old = build(&many(3), &c);
    let mut m = many(3);
    m.services.remove(&name("s1"));
    m.endpoints.remove(&name("s1"));
    m.services.insert(name("new"), svc("10.0.9.9"));
    let new = build(&m, &c);
    let tx = nft::incremental(&old, &new).unwrap();
    let text = nft::to_text(&tx);
    let gone = ServiceChains::new(&name("s1"));
    // The element goes first, then its chains are emptied and deleted.
    let del_elem = text
        .find("delete element ip kp-test service-ips { 10.0.0.2 . tcp . 80 }")
        .unwrap();
    let flush = text
        .find(&format!("flush chain ip kp-test {}", gone.service))
        .unwrap();
    let del = text
        .find(&format!("delete chain ip kp-test {}", gone.service))
        .unwrap();
    assert!(del_elem < flush && flush < del, "{text}");
    // The new service without endpoints only gets a reject element.
    assert!(text.contains("add element ip kp-test no-endpoint-services { 10.0.9.9 . tcp . 80 : goto reject-chain }"), "{text}");
    // A changed skeleton needs a full sync.
    let mut c2 = c.clone();
    c2.nodeport_ips = Some(vec![]);
    assert!(nft::incremental(&old, &build(&many(3), &c2)).is_none());
}

#[test]
fn full_sync_is_one_transaction_recreating_or_flushing() {
    let c = cfg();
    let rs = build(&many(2), &c);
    let fresh = nft::full(&rs, None);
    assert_eq!(
        &fresh.commands[..3],
        &[
            nft::Command::AddTable,
            nft::Command::DeleteTable,
            nft::Command::AddTable
        ]
    );
    let mut m = many(2);
    m.services.remove(&name("s0"));
    let rs2 = build(&m, &c);
    let resync = nft::full(&rs2, Some(&rs));
    assert_eq!(resync.commands[1], nft::Command::FlushTable);
    let gone = ServiceChains::new(&name("s0"));
    assert!(resync
        .commands
        .contains(&nft::Command::DeleteChain(gone.service.clone())));
    let json = nft::to_json(&resync);
    assert!(json["nftables"].as_array().unwrap().len() > resync.commands.len());
}

#[test]
fn text_rendering() {
    let n = name("a");
    let sp = ServicePort {
        node_port: Some(30080),
        affinity_timeout: Some(10),
        ..svc("10.0.0.1")
    };
    let rs = build(&one(&n, sp, vec![ep("10.244.0.5", NODE)]), &cfg());
    let text = nft::ruleset_text(&rs);
    assert!(
        text.contains("add chain ip kp-test nat-output { type nat hook output priority -100 ; }")
    );
    assert!(text.contains("meta l4proto tcp dnat to 10.244.0.5:8080"));
    assert!(text.contains("numgen random mod 1 vmap { 0 : goto endpoint-"));
    assert!(
        text.contains("add element ip kp-test service-nodeports { tcp . 30080 : goto external-")
    );
    assert!(text.contains("flags dynamic,timeout ; timeout 10s"));
}
