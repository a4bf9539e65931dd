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
        .and_then(|e| match &e.value {
            Some(ElemValue::Verdict(v)) => Some(v.clone()),
            _ => None,
        })
}

/// The endpoint in slot `slot` of the cluster IP 10.0.0.1:80/tcp.
fn slot(g: &Group, slot: u32) -> Option<(Ipv4Addr, u16)> {
    let key = ElemKey::AddrPortSlot(ip("10.0.0.1"), 80, slot);
    g.elements
        .iter()
        .find(|e| e.set == "service-endpoints-tcp" && e.key == key)
        .and_then(|e| match e.value {
            Some(ElemValue::Endpoint(a, p)) => Some((a, p)),
            _ => None,
        })
}

/// `(key, modulus, offset)` of each endpoint-map DNAT rule of a chain.
fn dnat_slots(c: &ChainDef) -> Vec<(SlotKey, u32, u32)> {
    c.rules
        .iter()
        .flatten()
        .filter_map(|s| match s {
            Stmt::DnatSlot {
                key,
                modulus,
                offset,
                ..
            } => Some((*key, *modulus, *offset)),
            _ => None,
        })
        .collect()
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
    // DNAT from the endpoint map, after the l4proto match nft 1.0.6 needs.
    assert_eq!(
        chain.rules[1],
        vec![
            Stmt::L4Proto(Protocol::Tcp),
            Stmt::DnatSlot {
                key: SlotKey::Addr,
                proto: Protocol::Tcp,
                modulus: 1,
                offset: 0
            }
        ]
    );
    assert_eq!(chain.rules.len(), 2);
    assert_eq!(slot(g, 0), Some((ip("10.244.0.5"), 8080)));
    assert_eq!(slot(g, 1), None);
    // The endpoint reaching itself through the cluster IP is masqueraded.
    assert!(g.elements.contains(&Element {
        set: HAIRPIN.into(),
        key: ElemKey::Hairpin(ip("10.244.0.5"), Protocol::Tcp, 8080, ip("10.0.0.1")),
        value: None,
    }));
    // One chain, no sets: endpoints are data.
    assert_eq!(g.chains.len(), 1);
    assert!(g.sets.is_empty());
}

#[test]
fn cluster_ip_with_many_endpoints_and_terminating_fallback() {
    let n = name("a");
    let eps: Vec<Endpoint> = (1..=5).map(|i| ep(&format!("10.244.0.{i}"), "x")).collect();
    let rs = build(&one(&n, svc("10.0.0.1"), eps.clone()), &cfg());
    let g = &rs.services[&n];
    let names = ServiceChains::new(&n);
    assert_eq!(
        dnat_slots(&g.chains[&names.service]),
        vec![(SlotKey::Addr, 5, 0)]
    );
    assert_eq!(g.chains.len(), 1);
    let slotted: Vec<Ipv4Addr> = (0..5).filter_map(|i| slot(g, i)).map(|(a, _)| a).collect();
    assert_eq!(slotted, eps.iter().map(|e| e.ip).collect::<Vec<_>>());
    // None ready: the serving, terminating ones take the traffic.
    let mut eps = eps;
    for (i, e) in eps.iter_mut().enumerate() {
        e.ready = false;
        e.terminating = true;
        e.serving = i < 2;
    }
    let rs = build(&one(&n, svc("10.0.0.1"), eps.clone()), &cfg());
    let g = &rs.services[&n];
    assert_eq!(
        dnat_slots(&g.chains[&names.service]),
        vec![(SlotKey::Addr, 2, 0)]
    );
    assert_eq!(slot(g, 1), Some((eps[1].ip, 8080)));
    assert_eq!(slot(g, 2), None);
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
    // Each entry path looks its endpoints up under its own key.
    assert_eq!(
        dnat_slots(&g.chains[&names.service]),
        vec![(SlotKey::Addr, 1, 0), (SlotKey::NodePort, 1, 0)]
    );
    let np_slot = g
        .elements
        .iter()
        .find(|e| e.set == "nodeport-endpoints-tcp")
        .unwrap();
    assert_eq!(np_slot.key, ElemKey::PortSlot(30080, 0));
    assert_eq!(
        np_slot.value,
        Some(ElemValue::Endpoint(ip("10.244.0.5"), 8080))
    );
    for a in ["10.0.0.1", "192.0.2.10", "198.51.100.7"] {
        let key = ElemKey::AddrPortSlot(ip(a), 80, 0);
        assert!(
            g.elements
                .iter()
                .any(|e| e.set == "service-endpoints-tcp" && e.key == key),
            "{a}"
        );
    }
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
    // The remembered endpoint is checked per endpoint: chains, not data.
    assert_eq!(numgen_targets(&g.chains[&names.service]).len(), 2);
    assert!(dnat_slots(&g.chains[&names.service]).is_empty());
    assert!(!g
        .elements
        .iter()
        .any(|e| e.set.starts_with(SERVICE_ENDPOINTS)));
    assert!(g.elements.iter().any(|e| e.set == HAIRPIN));
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
    // The local chain picks from slots after the cluster-wide ones.
    assert_eq!(
        dnat_slots(&g.chains[&names.local]),
        vec![(SlotKey::Addr, 1, 2)]
    );
    assert_eq!(slot(g, 2), Some((mine.ip, 8080)));
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
    assert_eq!(
        dnat_slots(&g.chains[&names.service]),
        vec![(SlotKey::Addr, 2, 0), (SlotKey::NodePort, 2, 0)]
    );
    assert_eq!(
        dnat_slots(&g.chains[&names.local]),
        vec![(SlotKey::Addr, 1, 2), (SlotKey::NodePort, 1, 2)]
    );
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
    let changed = name("s7");
    let names = ServiceChains::new(&changed);

    // An endpoint replaced (a rolling update's step): map elements only.
    let mut replaced = old_model.clone();
    replaced
        .endpoints
        .insert(changed.clone(), vec![ep("10.244.9.9", "x")]);
    let new = build(&replaced, &c);
    let tx = nft::incremental(&old, &new).expect("same skeleton");
    assert!(tx.touched_chains().is_empty(), "{tx:?}");
    assert!(tx.commands.iter().all(|c| matches!(
        c,
        nft::Command::AddElements(..) | nft::Command::DeleteElements(..)
    )));
    let text = nft::to_text(&tx);
    assert!(
        text.contains("delete element ip kp-test service-endpoints-tcp { 10.0.0.8 . 80 . 0 }"),
        "{text}"
    );
    assert!(
        text.contains("add element ip kp-test service-endpoints-tcp { 10.0.0.8 . 80 . 0 : 10.244.9.9 . 8080 }"),
        "{text}"
    );
    assert!(
        text.contains("10.244.9.9 . 10.244.9.9 . tcp . 8080 . 10.0.0.8"),
        "{text}"
    );
    assert!(!text.contains("goto"), "no verdicts: {text}");

    // An endpoint added: the service's one rule changes (the modulus).
    let mut grown = old_model.clone();
    grown
        .endpoints
        .get_mut(&changed)
        .unwrap()
        .push(ep("10.244.9.9", "x"));
    let new = build(&grown, &c);
    let tx = nft::incremental(&old, &new).expect("same skeleton");
    let touched = tx.touched_chains();
    assert_eq!(touched.len(), 1, "{touched:?}");
    assert!(touched.contains(names.service.as_str()));
    // The cluster IP still points at the same chain: no verdict changes.
    assert!(!nft::to_text(&tx).contains("goto"));
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
    // The endpoint maps are emptied and refilled with the rest.
    let text = nft::to_text(&resync);
    assert!(
        text.contains("flush map ip kp-test service-endpoints-tcp"),
        "{text}"
    );
    assert!(text.contains("add element ip kp-test service-endpoints-tcp { 10.0.0.2 . 80 . 0 : 10.244.0.2 . 8080 }"), "{text}");
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
    // Without affinity: endpoints are map elements behind one rule.
    let sp = ServicePort {
        node_port: Some(30080),
        ..svc("10.0.0.1")
    };
    let rs = build(&one(&n, sp, vec![ep("10.244.0.5", NODE)]), &cfg());
    let text = nft::ruleset_text(&rs);
    for want in [
        "meta l4proto tcp dnat ip addr . port to ip daddr . tcp dport . numgen random mod 1 map @service-endpoints-tcp",
        "meta l4proto tcp dnat ip addr . port to tcp dport . numgen random mod 1 map @nodeport-endpoints-tcp",
        "add element ip kp-test service-endpoints-tcp { 10.0.0.1 . 80 . 0 : 10.244.0.5 . 8080 }",
        "add element ip kp-test nodeport-endpoints-tcp { 30080 . 0 : 10.244.0.5 . 8080 }",
        "add element ip kp-test hairpin { 10.244.0.5 . 10.244.0.5 . tcp . 8080 . 10.0.0.1 }",
        "nat-postrouting ip saddr . ip daddr . meta l4proto . th dport . ct original ip daddr @hairpin jump mark-for-masquerade",
    ] {
        assert!(text.contains(want), "{want}\n{text}");
    }
}

#[test]
fn rebuild_of_changed_ports_equals_a_whole_build() {
    let c = cfg();
    let old_model = many(30);
    let mut rs = build(&old_model, &c);
    let mut m = old_model.clone();
    m.endpoints.insert(name("s3"), vec![ep("10.244.9.9", "x")]);
    m.services.remove(&name("s5"));
    m.endpoints.remove(&name("s5"));
    m.services.insert(name("zz"), svc("10.0.9.1"));
    m.endpoints.insert(name("zz"), vec![ep("10.244.9.10", "x")]);
    let changed = crate::model::changed_ports(&old_model, &m);
    assert_eq!(
        changed.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        vec!["s3", "s5", "zz"]
    );
    let groups = rebuild(&rs, &m, &changed, &c).expect("no conflicts");
    assert_eq!(groups.len(), 3);
    assert!(groups[&name("s5")].is_none());
    let whole = build(&m, &c);
    let tx = nft::incremental_groups(&rs, &groups);
    assert_eq!(tx, nft::incremental(&rs, &whole).unwrap());
    rs.replace(groups);
    assert_eq!(rs, whole, "same groups and the same key index");
    // Nothing changed: nothing rebuilt.
    assert!(rebuild(&rs, &m, &BTreeSet::new(), &c).unwrap().is_empty());
    // A changed skeleton needs a whole build.
    let mut c2 = c.clone();
    c2.nodeport_ips = Some(vec![]);
    assert!(rebuild(&rs, &m, &changed, &c2).is_none());
}

#[test]
fn rebuild_declines_when_keys_collide() {
    let c = cfg();
    let mut m = many(3);
    let rs = build(&m, &c);
    // s2 takes s0's cluster IP: whose it is depends on the other group.
    m.services.insert(name("s2"), svc("10.0.0.1"));
    let changed = crate::model::changed_ports(&many(3), &m);
    assert!(rebuild(&rs, &m, &changed, &c).is_none());
    // Once contested, only whole builds decide.
    let contested = build(&m, &c);
    let mut m2 = m.clone();
    m2.endpoints.insert(name("s1"), vec![]);
    let changed = crate::model::changed_ports(&m, &m2);
    assert!(rebuild(&contested, &m2, &changed, &c).is_none());
}
