//! Turning rulesets into nft transactions: a full rebuild or an
//! incremental diff, rendered as libnftables JSON (through the `nftables`
//! crate's types) for `nft -j -f -`, or as `nft -f` text for people and
//! benchmarks. Applying sits behind the [`Nft`] trait.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use async_trait::async_trait;
use nftables::expr::{self, Expression as E, NamedExpression as N};
use nftables::schema::{self, NfCmd, NfListObject};
use nftables::stmt::{self, Statement as S};
use nftables::types::{NfChainType, NfFamily, NfHook};
use serde_json::{json, Value};

use crate::error::Error;
use crate::ruleset::{
    BaseHook, ChainType, ElemKey, Element, Group, HookPoint, Rule, Ruleset, SetKind, Stmt, Verdict,
};

/// One command of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `add table` (idempotent).
    AddTable,
    /// `delete table`.
    DeleteTable,
    /// `flush table`: every chain loses its rules; sets keep their elements.
    FlushTable,
    /// `add chain` (idempotent), with its hook for base chains.
    AddChain(String, Option<BaseHook>),
    /// `flush chain`.
    FlushChain(String),
    /// `delete chain` (must be empty and unreferenced by then).
    DeleteChain(String),
    /// `add rule` at the end of a chain.
    AddRule(String, Rule),
    /// `add set` / `add map` (idempotent).
    AddSet(String, SetKind),
    /// `flush set` / `flush map`.
    FlushSet(String, SetKind),
    /// `delete set` / `delete map`.
    DeleteSet(String, SetKind),
    /// `add element` to one set or map.
    AddElements(String, Vec<(ElemKey, Option<Verdict>)>),
    /// `delete element` from one set or map.
    DeleteElements(String, Vec<ElemKey>),
}

/// The commands of one atomic `nft` run against one `ip` table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transaction {
    /// The table.
    pub table: String,
    /// In order.
    pub commands: Vec<Command>,
}

impl Transaction {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// Chains the transaction creates, flushes, fills or deletes (tests use
    /// it to check an incremental sync stays within one service).
    pub fn touched_chains(&self) -> HashSet<&str> {
        self.commands
            .iter()
            .filter_map(|c| match c {
                Command::AddChain(n, _)
                | Command::FlushChain(n)
                | Command::DeleteChain(n)
                | Command::AddRule(n, _) => Some(n.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// A transaction that removes the table (for `--cleanup`), tolerant of its
/// absence (`add` first).
pub fn cleanup(table: &str) -> Transaction {
    Transaction {
        table: table.into(),
        commands: vec![Command::AddTable, Command::DeleteTable],
    }
}

/// Adds a group's sets, chains and rules. Sets `existing` already has are
/// left alone: re-adding an affinity set fails (the kernel marked it
/// dynamic), and keeping it keeps its entries.
fn add_group(
    cmds: &mut Vec<Command>,
    g: &Group,
    existing: &HashSet<(&String, &SetKind)>,
    sets_to_flush: bool,
) {
    for (name, kind) in &g.sets {
        if existing.contains(&(name, kind)) {
            if sets_to_flush && kind.is_map() {
                cmds.push(Command::FlushSet(name.clone(), *kind));
            }
            continue;
        }
        cmds.push(Command::AddSet(name.clone(), *kind));
    }
    for (name, c) in &g.chains {
        cmds.push(Command::AddChain(name.clone(), c.hook));
    }
    for (name, c) in &g.chains {
        for r in &c.rules {
            cmds.push(Command::AddRule(name.clone(), r.clone()));
        }
    }
}

fn add_elements<'a>(cmds: &mut Vec<Command>, elems: impl IntoIterator<Item = &'a Element>) {
    let mut by_set: BTreeMap<&str, Vec<(ElemKey, Option<Verdict>)>> = BTreeMap::new();
    for e in elems {
        by_set
            .entry(e.set.as_str())
            .or_default()
            .push((e.key, e.verdict.clone()));
    }
    for (set, v) in by_set {
        cmds.push(Command::AddElements(set.into(), v));
    }
}

/// Rebuilds the table in one transaction.
///
/// Without `previous` (start-up, after a failure) the table is deleted and
/// created afresh. With the ruleset last applied, the table is flushed
/// instead and refilled, so affinity sets keep their entries across the
/// periodic resync; chains and sets no longer wanted are then deleted.
pub fn full(new: &Ruleset, previous: Option<&Ruleset>) -> Transaction {
    let mut cmds = vec![Command::AddTable];
    match previous {
        None => cmds.extend([Command::DeleteTable, Command::AddTable]),
        Some(_) => cmds.push(Command::FlushTable),
    }
    let flush = previous.is_some();
    let existing: HashSet<(&String, &SetKind)> =
        previous.map(|p| all_sets(p).collect()).unwrap_or_default();
    add_group(&mut cmds, &new.base, &existing, flush);
    if flush {
        // Sets of the skeleton (node addresses) are refilled too.
        for (name, kind) in &new.base.sets {
            if !kind.is_map() {
                cmds.push(Command::FlushSet(name.clone(), *kind));
            }
        }
    }
    for g in new.services.values() {
        add_group(&mut cmds, g, &existing, false);
    }
    add_elements(
        &mut cmds,
        new.base
            .elements
            .iter()
            .chain(new.services.values().flat_map(|g| g.elements.iter())),
    );
    if let Some(prev) = previous {
        let want_chains: HashSet<&String> = all_chains(new).collect();
        let want_sets: HashSet<(&String, &SetKind)> = all_sets(new).collect();
        for c in all_chains(prev) {
            if !want_chains.contains(c) {
                cmds.push(Command::DeleteChain(c.clone()));
            }
        }
        for (s, k) in all_sets(prev) {
            if !want_sets.contains(&(s, k)) {
                cmds.push(Command::DeleteSet(s.clone(), *k));
            }
        }
    }
    Transaction {
        table: new.table.clone(),
        commands: cmds,
    }
}

fn all_chains(rs: &Ruleset) -> impl Iterator<Item = &String> {
    rs.base
        .chains
        .keys()
        .chain(rs.services.values().flat_map(|g| g.chains.keys()))
}

fn all_sets(rs: &Ruleset) -> impl Iterator<Item = (&String, &SetKind)> {
    rs.base
        .sets
        .iter()
        .chain(rs.services.values().flat_map(|g| g.sets.iter()))
}

/// The changes from `old` (what the kernel has) to `new`, touching only the
/// chains, sets and elements of service ports whose group changed. `None`
/// when the skeleton changed, which needs [`full`].
pub fn incremental(old: &Ruleset, new: &Ruleset) -> Option<Transaction> {
    if old.table != new.table || old.base != new.base {
        return None;
    }
    let empty = Group::default();
    let mut changed: Vec<(&Group, &Group)> = Vec::new();
    for (k, o) in &old.services {
        let n = new.services.get(k).unwrap_or(&empty);
        if o != n {
            changed.push((o, n));
        }
    }
    for (k, n) in &new.services {
        if !old.services.contains_key(k) {
            changed.push((&empty, n));
        }
    }
    let mut cmds = Vec::new();
    // 1. Elements that go (they may point at chains deleted below).
    let mut del: BTreeMap<&str, Vec<ElemKey>> = BTreeMap::new();
    for (o, n) in &changed {
        for e in o.elements.difference(&n.elements) {
            del.entry(e.set.as_str()).or_default().push(e.key);
        }
    }
    for (set, keys) in del {
        cmds.push(Command::DeleteElements(set.into(), keys));
    }
    // 2. Chains that change or go are emptied; then the gone ones deleted.
    for (o, n) in &changed {
        for (name, c) in &o.chains {
            if n.chains.get(name) != Some(c) {
                cmds.push(Command::FlushChain(name.clone()));
            }
        }
    }
    for (o, n) in &changed {
        for name in o.chains.keys() {
            if !n.chains.contains_key(name) {
                cmds.push(Command::DeleteChain(name.clone()));
            }
        }
        for (name, kind) in &o.sets {
            if n.sets.get(name) != Some(kind) {
                cmds.push(Command::DeleteSet(name.clone(), *kind));
            }
        }
    }
    // 3. New sets and chains, then the rules of new and changed chains.
    for (o, n) in &changed {
        for (name, kind) in &n.sets {
            if o.sets.get(name) != Some(kind) {
                cmds.push(Command::AddSet(name.clone(), *kind));
            }
        }
        for (name, c) in &n.chains {
            if !o.chains.contains_key(name) {
                cmds.push(Command::AddChain(name.clone(), c.hook));
            }
        }
    }
    for (o, n) in &changed {
        for (name, c) in &n.chains {
            if o.chains.get(name) != Some(c) {
                for r in &c.rules {
                    cmds.push(Command::AddRule(name.clone(), r.clone()));
                }
            }
        }
    }
    // 4. Elements that come, now that their chains exist.
    add_elements(
        &mut cmds,
        changed
            .iter()
            .flat_map(|(o, n)| n.elements.difference(&o.elements)),
    );
    Some(Transaction {
        table: new.table.clone(),
        commands: cmds,
    })
}

// ---------------------------------------------------------------- JSON

fn payload(proto: &'static str, field: &'static str) -> E<'static> {
    E::Named(N::Payload(expr::Payload::PayloadField(
        expr::PayloadField {
            protocol: Cow::Borrowed(proto),
            field: Cow::Borrowed(field),
        },
    )))
}

fn meta(key: expr::MetaKey) -> E<'static> {
    E::Named(N::Meta(expr::Meta { key }))
}

fn s(v: impl Into<String>) -> E<'static> {
    E::String(Cow::Owned(v.into()))
}

fn cidr_expr(c: &crate::cidr::Cidr) -> E<'static> {
    E::Named(N::Prefix(expr::Prefix {
        addr: Box::new(s(c.addr().to_string())),
        len: u32::from(c.len()),
    }))
}

fn cidrs_expr(cs: &[crate::cidr::Cidr]) -> E<'static> {
    if cs.len() == 1 {
        cidr_expr(&cs[0])
    } else {
        E::Named(N::Set(
            cs.iter()
                .map(|c| expr::SetItem::Element(cidr_expr(c)))
                .collect(),
        ))
    }
}

fn matches(left: E<'static>, op: stmt::Operator, right: E<'static>) -> S<'static> {
    S::Match(stmt::Match { left, right, op })
}

fn eq(left: E<'static>, right: E<'static>) -> S<'static> {
    matches(left, stmt::Operator::EQ, right)
}

fn verdict_expr(v: &Verdict) -> E<'static> {
    E::Verdict(match v {
        Verdict::Accept => expr::Verdict::Accept,
        Verdict::Drop => expr::Verdict::Drop,
        Verdict::Return => expr::Verdict::Return,
        Verdict::Jump(c) => expr::Verdict::Jump(stmt::JumpTarget {
            target: Cow::Owned(c.clone()),
        }),
        Verdict::Goto(c) => expr::Verdict::Goto(stmt::JumpTarget {
            target: Cow::Owned(c.clone()),
        }),
    })
}

fn verdict_stmt(v: &Verdict) -> S<'static> {
    match v {
        Verdict::Accept => S::Accept(None),
        Verdict::Drop => S::Drop(None),
        Verdict::Return => S::Return(None),
        Verdict::Jump(c) => S::Jump(stmt::JumpTarget {
            target: Cow::Owned(c.clone()),
        }),
        Verdict::Goto(c) => S::Goto(stmt::JumpTarget {
            target: Cow::Owned(c.clone()),
        }),
    }
}

fn fib_local(flag: expr::FibFlag) -> S<'static> {
    eq(
        E::Named(N::Fib(expr::Fib {
            result: expr::FibResult::Type,
            flags: [flag].into_iter().collect(),
        })),
        s("local"),
    )
}

fn mark_op(
    op: fn(E<'static>, E<'static>) -> expr::BinaryOperation<'static>,
    bits: u32,
) -> S<'static> {
    S::Mangle(stmt::Mangle {
        key: meta(expr::MetaKey::Mark),
        value: E::BinaryOperation(Box::new(op(meta(expr::MetaKey::Mark), E::Number(bits)))),
    })
}

fn stmt_json(st: &Stmt) -> S<'static> {
    use expr::MetaKey;
    match st {
        Stmt::DaddrEq(a) => eq(payload("ip", "daddr"), s(a.to_string())),
        Stmt::SaddrEq(a) => eq(payload("ip", "saddr"), s(a.to_string())),
        Stmt::SaddrIn(cs) => eq(payload("ip", "saddr"), cidrs_expr(cs)),
        Stmt::SaddrNotIn(cs) => {
            matches(payload("ip", "saddr"), stmt::Operator::NEQ, cidrs_expr(cs))
        }
        Stmt::DaddrInSet(set) => eq(payload("ip", "daddr"), s(format!("@{set}"))),
        Stmt::SaddrInSet(set) => eq(payload("ip", "saddr"), s(format!("@{set}"))),
        Stmt::L4Proto(p) => eq(meta(MetaKey::L4proto), s(p.as_str())),
        Stmt::Dport(p, port) => eq(payload(p.as_str(), "dport"), E::Number(u32::from(*port))),
        Stmt::FibDaddrLocal => fib_local(expr::FibFlag::Daddr),
        Stmt::FibSaddrLocal => fib_local(expr::FibFlag::Saddr),
        Stmt::CtStateNew => matches(
            E::Named(N::CT(expr::CT {
                key: Cow::Borrowed("state"),
                family: None,
                dir: None,
            })),
            stmt::Operator::IN,
            s("new"),
        ),
        Stmt::MarkNotSet(bits) => eq(
            E::BinaryOperation(Box::new(expr::BinaryOperation::AND(
                meta(MetaKey::Mark),
                E::Number(*bits),
            ))),
            E::Number(0),
        ),
        Stmt::MarkOr(bits) => mark_op(|a, b| expr::BinaryOperation::OR(vec![a, b]), *bits),
        Stmt::MarkXor(bits) => mark_op(expr::BinaryOperation::XOR, *bits),
        Stmt::UpdateSaddr(set) => S::Set(stmt::Set {
            op: stmt::SetOp::Update,
            elem: payload("ip", "saddr"),
            set: Cow::Owned(format!("@{set}")),
        }),
        Stmt::VmapAddrProtoPort(map) => S::VerdictMap(stmt::VerdictMap {
            key: E::Named(N::Concat(vec![
                payload("ip", "daddr"),
                meta(MetaKey::L4proto),
                payload("th", "dport"),
            ])),
            data: s(format!("@{map}")),
        }),
        Stmt::VmapProtoPort(map) => S::VerdictMap(stmt::VerdictMap {
            key: E::Named(N::Concat(vec![
                meta(MetaKey::L4proto),
                payload("th", "dport"),
            ])),
            data: s(format!("@{map}")),
        }),
        Stmt::NumgenVmap(targets) => S::VerdictMap(stmt::VerdictMap {
            key: E::Named(N::Numgen(expr::Numgen {
                mode: expr::NgMode::Random,
                ng_mod: targets.len() as u32,
                offset: None,
            })),
            data: E::Named(N::Set(
                targets
                    .iter()
                    .enumerate()
                    .map(|(i, v)| expr::SetItem::Mapping(E::Number(i as u32), verdict_expr(v)))
                    .collect(),
            )),
        }),
        Stmt::Dnat(a, port) => S::DNAT(Some(stmt::NAT {
            addr: Some(s(a.to_string())),
            family: None,
            port: Some(E::Number(u32::from(*port))),
            flags: None,
        })),
        Stmt::Masquerade => S::Masquerade(Some(stmt::NAT {
            addr: None,
            family: None,
            port: None,
            flags: Some([stmt::NATFlag::FullyRandom].into_iter().collect()),
        })),
        Stmt::RejectTcpReset => S::Reject(Some(stmt::Reject::new(
            Some(stmt::RejectType::TCPReset),
            None,
        ))),
        Stmt::RejectIcmpPortUnreachable => S::Reject(Some(stmt::Reject::new(
            Some(stmt::RejectType::ICMP),
            Some(nftables::types::RejectCode::PortUnreach),
        ))),
        Stmt::Verdict(v) => verdict_stmt(v),
    }
}

fn key_json(k: &ElemKey) -> E<'static> {
    match k {
        ElemKey::Addr(a) => s(a.to_string()),
        ElemKey::AddrProtoPort(a, p, port) => E::Named(N::Concat(vec![
            s(a.to_string()),
            s(p.as_str()),
            E::Number(u32::from(*port)),
        ])),
        ElemKey::ProtoPort(p, port) => {
            E::Named(N::Concat(vec![s(p.as_str()), E::Number(u32::from(*port))]))
        }
    }
}

struct Json<'t> {
    table: &'t str,
}

impl Json<'_> {
    fn table(&self) -> NfListObject<'static> {
        NfListObject::Table(schema::Table {
            family: NfFamily::IP,
            name: Cow::Owned(self.table.into()),
            handle: None,
        })
    }

    fn chain(&self, name: &str, hook: Option<BaseHook>) -> NfListObject<'static> {
        NfListObject::Chain(schema::Chain {
            family: NfFamily::IP,
            table: Cow::Owned(self.table.into()),
            name: Cow::Owned(name.into()),
            newname: None,
            handle: None,
            _type: hook.map(|h| match h.kind {
                ChainType::Filter => NfChainType::Filter,
                ChainType::Nat => NfChainType::NAT,
            }),
            hook: hook.map(|h| match h.hook {
                HookPoint::Prerouting => NfHook::Prerouting,
                HookPoint::Input => NfHook::Input,
                HookPoint::Forward => NfHook::Forward,
                HookPoint::Output => NfHook::Output,
                HookPoint::Postrouting => NfHook::Postrouting,
            }),
            prio: hook.map(|h| h.priority),
            dev: None,
            policy: hook.map(|_| nftables::types::NfChainPolicy::Accept),
        })
    }

    /// Sets and maps as JSON values: the crate has no `verdict` map type,
    /// so the map's data type is written here.
    fn set(&self, name: &str, kind: SetKind) -> Value {
        use schema::{SetFlag, SetType, SetTypeValue};
        let addr_proto_port: Cow<'static, [SetType]> =
            Cow::Borrowed(&[SetType::Ipv4Addr, SetType::InetProto, SetType::InetService]);
        let proto_port: Cow<'static, [SetType]> =
            Cow::Borrowed(&[SetType::InetProto, SetType::InetService]);
        match kind {
            SetKind::Addrs { timeout } => {
                let set = schema::Set {
                    family: NfFamily::IP,
                    table: Cow::Owned(self.table.into()),
                    name: Cow::Owned(name.into()),
                    handle: None,
                    set_type: SetTypeValue::Single(SetType::Ipv4Addr),
                    policy: None,
                    // nft 1.0.6's JSON parser knows no `dynamic` flag; the
                    // kernel adds it once an `update` rule uses the set.
                    flags: timeout.map(|_| [SetFlag::Timeout].into_iter().collect()),
                    elem: None,
                    timeout,
                    gc_interval: None,
                    size: None,
                    comment: None,
                };
                json!({ "set": set })
            }
            SetKind::AddrProtoPortMap | SetKind::ProtoPortMap => {
                let map = schema::Map {
                    family: NfFamily::IP,
                    table: Cow::Owned(self.table.into()),
                    name: Cow::Owned(name.into()),
                    handle: None,
                    set_type: SetTypeValue::Concatenated(if kind == SetKind::ProtoPortMap {
                        proto_port
                    } else {
                        addr_proto_port
                    }),
                    map: SetTypeValue::Single(SetType::Mark),
                    policy: None,
                    flags: None,
                    elem: None,
                    timeout: None,
                    gc_interval: None,
                    size: None,
                    comment: None,
                };
                let mut v = json!({ "map": map });
                v["map"]["map"] = json!("verdict");
                v
            }
        }
    }

    fn set_ref(&self, name: &str, kind: SetKind) -> Value {
        let key = if kind.is_map() { "map" } else { "set" };
        json!({ key: { "family": "ip", "table": self.table, "name": name } })
    }

    fn element(&self, set: &str, elem: Vec<E<'static>>) -> NfListObject<'static> {
        NfListObject::Element(schema::Element {
            family: NfFamily::IP,
            table: Cow::Owned(self.table.into()),
            name: Cow::Owned(set.into()),
            elem: Cow::Owned(elem),
        })
    }

    fn command(&self, c: &Command) -> Value {
        let v = |cmd: NfCmd<'static>| serde_json::to_value(cmd).expect("nft command serializes");
        match c {
            Command::AddTable => v(NfCmd::Add(self.table())),
            Command::DeleteTable => v(NfCmd::Delete(self.table())),
            Command::FlushTable => {
                json!({ "flush": { "table": { "family": "ip", "name": self.table } } })
            }
            Command::AddChain(n, hook) => v(NfCmd::Add(self.chain(n, *hook))),
            Command::FlushChain(n) => {
                json!({ "flush": { "chain": { "family": "ip", "table": self.table, "name": n } } })
            }
            Command::DeleteChain(n) => {
                json!({ "delete": { "chain": { "family": "ip", "table": self.table, "name": n } } })
            }
            Command::AddRule(chain, rule) => v(NfCmd::Add(NfListObject::Rule(schema::Rule {
                family: NfFamily::IP,
                table: Cow::Owned(self.table.into()),
                chain: Cow::Owned(chain.clone()),
                expr: Cow::Owned(rule.iter().map(stmt_json).collect()),
                handle: None,
                index: None,
                comment: None,
            }))),
            Command::AddSet(n, kind) => json!({ "add": self.set(n, *kind) }),
            Command::FlushSet(n, kind) => json!({ "flush": self.set_ref(n, *kind) }),
            Command::DeleteSet(n, kind) => json!({ "delete": self.set_ref(n, *kind) }),
            Command::AddElements(set, elems) => v(NfCmd::Add(
                self.element(
                    set,
                    elems
                        .iter()
                        .map(|(k, verdict)| match verdict {
                            None => key_json(k),
                            Some(vd) => E::List(vec![key_json(k), verdict_expr(vd)]),
                        })
                        .collect(),
                ),
            )),
            Command::DeleteElements(set, keys) => v(NfCmd::Delete(
                self.element(set, keys.iter().map(key_json).collect()),
            )),
        }
    }
}

/// The transaction as a libnftables JSON document (`{"nftables": [...]}`).
pub fn to_json(tx: &Transaction) -> Value {
    let j = Json { table: &tx.table };
    let mut objs = Vec::with_capacity(tx.commands.len() + 1);
    objs.push(json!({ "metainfo": { "json_schema_version": 1 } }));
    objs.extend(tx.commands.iter().map(|c| j.command(c)));
    json!({ "nftables": objs })
}

// ---------------------------------------------------------------- text

fn verdict_text(v: &Verdict) -> String {
    match v {
        Verdict::Accept => "accept".into(),
        Verdict::Drop => "drop".into(),
        Verdict::Return => "return".into(),
        Verdict::Jump(c) => format!("jump {c}"),
        Verdict::Goto(c) => format!("goto {c}"),
    }
}

fn cidrs_text(cs: &[crate::cidr::Cidr]) -> String {
    if cs.len() == 1 {
        cs[0].to_string()
    } else {
        let v: Vec<String> = cs.iter().map(|c| c.to_string()).collect();
        format!("{{ {} }}", v.join(", "))
    }
}

fn stmt_text(st: &Stmt) -> String {
    match st {
        Stmt::DaddrEq(a) => format!("ip daddr {a}"),
        Stmt::SaddrEq(a) => format!("ip saddr {a}"),
        Stmt::SaddrIn(cs) => format!("ip saddr {}", cidrs_text(cs)),
        Stmt::SaddrNotIn(cs) => format!("ip saddr != {}", cidrs_text(cs)),
        Stmt::DaddrInSet(set) => format!("ip daddr @{set}"),
        Stmt::SaddrInSet(set) => format!("ip saddr @{set}"),
        Stmt::L4Proto(p) => format!("meta l4proto {p}"),
        Stmt::Dport(p, port) => format!("{p} dport {port}"),
        Stmt::FibDaddrLocal => "fib daddr type local".into(),
        Stmt::FibSaddrLocal => "fib saddr type local".into(),
        Stmt::CtStateNew => "ct state new".into(),
        Stmt::MarkNotSet(b) => format!("meta mark & {b:#010x} == 0"),
        Stmt::MarkOr(b) => format!("meta mark set meta mark | {b:#010x}"),
        Stmt::MarkXor(b) => format!("meta mark set meta mark ^ {b:#010x}"),
        Stmt::UpdateSaddr(set) => format!("update @{set} {{ ip saddr }}"),
        Stmt::VmapAddrProtoPort(m) => format!("ip daddr . meta l4proto . th dport vmap @{m}"),
        Stmt::VmapProtoPort(m) => format!("meta l4proto . th dport vmap @{m}"),
        Stmt::NumgenVmap(ts) => {
            let items: Vec<String> = ts
                .iter()
                .enumerate()
                .map(|(i, v)| format!("{i} : {}", verdict_text(v)))
                .collect();
            format!(
                "numgen random mod {} vmap {{ {} }}",
                ts.len(),
                items.join(", ")
            )
        }
        Stmt::Dnat(a, port) => format!("dnat to {a}:{port}"),
        Stmt::Masquerade => "masquerade fully-random".into(),
        Stmt::RejectTcpReset => "reject with tcp reset".into(),
        Stmt::RejectIcmpPortUnreachable => "reject with icmp type port-unreachable".into(),
        Stmt::Verdict(v) => verdict_text(v),
    }
}

fn key_text(k: &ElemKey) -> String {
    match k {
        ElemKey::Addr(a) => a.to_string(),
        ElemKey::AddrProtoPort(a, p, port) => format!("{a} . {p} . {port}"),
        ElemKey::ProtoPort(p, port) => format!("{p} . {port}"),
    }
}

fn set_decl_text(kind: SetKind) -> String {
    match kind {
        SetKind::Addrs { timeout: None } => "{ type ipv4_addr ; }".into(),
        SetKind::Addrs { timeout: Some(t) } => {
            format!("{{ type ipv4_addr ; flags dynamic,timeout ; timeout {t}s ; }}")
        }
        SetKind::AddrProtoPortMap => {
            "{ type ipv4_addr . inet_proto . inet_service : verdict ; }".into()
        }
        SetKind::ProtoPortMap => "{ type inet_proto . inet_service : verdict ; }".into(),
    }
}

fn hook_text(h: &BaseHook) -> String {
    let kind = match h.kind {
        ChainType::Filter => "filter",
        ChainType::Nat => "nat",
    };
    let hook = match h.hook {
        HookPoint::Prerouting => "prerouting",
        HookPoint::Input => "input",
        HookPoint::Forward => "forward",
        HookPoint::Output => "output",
        HookPoint::Postrouting => "postrouting",
    };
    format!("{{ type {kind} hook {hook} priority {} ; }}", h.priority)
}

/// The transaction as an `nft -f` script (one command a line).
pub fn to_text(tx: &Transaction) -> String {
    let t = format!("ip {}", tx.table);
    let mut out = String::new();
    for c in &tx.commands {
        let set_word = |k: &SetKind| if k.is_map() { "map" } else { "set" };
        let _ = match c {
            Command::AddTable => writeln!(out, "add table {t}"),
            Command::DeleteTable => writeln!(out, "delete table {t}"),
            Command::FlushTable => writeln!(out, "flush table {t}"),
            Command::AddChain(n, None) => writeln!(out, "add chain {t} {n}"),
            Command::AddChain(n, Some(h)) => writeln!(out, "add chain {t} {n} {}", hook_text(h)),
            Command::FlushChain(n) => writeln!(out, "flush chain {t} {n}"),
            Command::DeleteChain(n) => writeln!(out, "delete chain {t} {n}"),
            Command::AddRule(n, r) => {
                let body: Vec<String> = r.iter().map(stmt_text).collect();
                writeln!(out, "add rule {t} {n} {}", body.join(" "))
            }
            Command::AddSet(n, k) => {
                writeln!(out, "add {} {t} {n} {}", set_word(k), set_decl_text(*k))
            }
            Command::FlushSet(n, k) => writeln!(out, "flush {} {t} {n}", set_word(k)),
            Command::DeleteSet(n, k) => writeln!(out, "delete {} {t} {n}", set_word(k)),
            Command::AddElements(n, elems) => {
                let items: Vec<String> = elems
                    .iter()
                    .map(|(k, v)| match v {
                        None => key_text(k),
                        Some(v) => format!("{} : {}", key_text(k), verdict_text(v)),
                    })
                    .collect();
                writeln!(out, "add element {t} {n} {{ {} }}", items.join(", "))
            }
            Command::DeleteElements(n, keys) => {
                let items: Vec<String> = keys.iter().map(key_text).collect();
                writeln!(out, "delete element {t} {n} {{ {} }}", items.join(", "))
            }
        };
    }
    out
}

/// Renders a whole ruleset as one `nft -f` script creating the table.
pub fn ruleset_text(rs: &Ruleset) -> String {
    to_text(&full(rs, None))
}

// ---------------------------------------------------------------- apply

/// Applies transactions to the kernel; a trait so the sync loop can be
/// tested with a recording fake.
#[async_trait]
pub trait Nft: Send + Sync {
    /// Runs the transaction atomically (all or nothing).
    async fn apply(&self, tx: &Transaction) -> Result<(), Error>;
}

/// The real thing: `nft -j -f -` through the `nftables` crate.
#[derive(Debug, Clone)]
pub struct NftCli {
    program: String,
}

impl Default for NftCli {
    fn default() -> Self {
        NftCli {
            program: "nft".into(),
        }
    }
}

impl NftCli {
    /// Uses `program` instead of `nft` from PATH.
    pub fn with_program(program: &str) -> Self {
        NftCli {
            program: program.into(),
        }
    }
}

#[async_trait]
impl Nft for NftCli {
    async fn apply(&self, tx: &Transaction) -> Result<(), Error> {
        if tx.is_empty() {
            return Ok(());
        }
        let payload = to_json(tx).to_string();
        nftables::helper::apply_ruleset_raw_async(
            &payload,
            Some(self.program.as_str()),
            std::iter::empty::<&str>(),
        )
        .await
        .map(|_| ())
        .map_err(|source| {
            let stderr = match &source {
                nftables::helper::NftablesError::NftFailed { stderr, .. } => {
                    stderr.chars().take(2000).collect()
                }
                _ => String::new(),
            };
            Error::Nft {
                table: tx.table.clone(),
                stderr,
                source,
            }
        })
    }
}
