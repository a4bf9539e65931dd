//! Turning rulesets into nft transactions: a full rebuild or an
//! incremental diff, rendered as an `nft -f` script. Applying sits behind
//! the [`Nft`] trait; the real one pipes the script into `nft -f -` (or
//! sends endpoint-only changes over netlink itself).
//!
//! Text rather than libnftables JSON: nft 1.0.6's JSON parser rejects
//! concatenated map data (`ipv4_addr . inet_service`, which the endpoint
//! maps need) and crashes on `typeof` keys, while its text parser takes
//! them and is no slower.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::process::Stdio;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;

use crate::error::Error;
use crate::model::ServicePortName;
use crate::ruleset::{
    BaseHook, ChainType, ElemKey, ElemValue, Element, Group, HookPoint, Rule, Ruleset, SetKind,
    SlotKey, Stmt, Verdict,
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
    AddElements(String, Vec<(ElemKey, Option<ElemValue>)>),
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
    let mut by_set: BTreeMap<&str, Vec<(ElemKey, Option<ElemValue>)>> = BTreeMap::new();
    for e in elems {
        by_set
            .entry(e.set.as_str())
            .or_default()
            .push((e.key, e.value.clone()));
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
    Some(diff_groups(&new.table, &changed))
}

/// The changes from `old` (what the kernel has) to `old` with `groups` put
/// in place (`None`: the service port is gone), as [`ruleset::rebuild`]
/// returns them; the skeleton is `old`'s.
///
/// [`ruleset::rebuild`]: crate::ruleset::rebuild
pub fn incremental_groups(
    old: &Ruleset,
    groups: &BTreeMap<ServicePortName, Option<Group>>,
) -> Transaction {
    let empty = Group::default();
    let changed: Vec<(&Group, &Group)> = groups
        .iter()
        .map(|(k, n)| {
            (
                old.services.get(k).unwrap_or(&empty),
                n.as_ref().unwrap_or(&empty),
            )
        })
        .filter(|(o, n)| o != n)
        .collect();
    diff_groups(&old.table, &changed)
}

/// The commands turning each `(old, new)` group into the new one.
fn diff_groups(table: &str, changed: &[(&Group, &Group)]) -> Transaction {
    let mut cmds = Vec::new();
    // 1. Elements that go (they may point at chains deleted below).
    let mut del: BTreeMap<&str, Vec<ElemKey>> = BTreeMap::new();
    for (o, n) in changed {
        for e in o.elements.difference(&n.elements) {
            del.entry(e.set.as_str()).or_default().push(e.key);
        }
    }
    for (set, keys) in del {
        cmds.push(Command::DeleteElements(set.into(), keys));
    }
    // 2. Chains that change or go are emptied; then the gone ones deleted.
    for (o, n) in changed {
        for (name, c) in &o.chains {
            if n.chains.get(name) != Some(c) {
                cmds.push(Command::FlushChain(name.clone()));
            }
        }
    }
    for (o, n) in changed {
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
    for (o, n) in changed {
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
    for (o, n) in changed {
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
    Transaction {
        table: table.into(),
        commands: cmds,
    }
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
        Stmt::DnatSlot {
            key,
            proto,
            modulus,
            offset,
        } => {
            let fields = match key {
                SlotKey::Addr => format!("ip daddr . {proto} dport"),
                SlotKey::NodePort => format!("{proto} dport"),
            };
            let offset = if *offset == 0 {
                String::new()
            } else {
                format!(" offset {offset}")
            };
            format!(
                "dnat ip addr . port to {fields} . numgen random mod {modulus}{offset} map @{}",
                key.map(*proto)
            )
        }
        Stmt::HairpinInSet(set) => {
            format!("ip saddr . ip daddr . meta l4proto . th dport . ct original ip daddr @{set}")
        }
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
        ElemKey::AddrPortSlot(a, port, slot) => format!("{a} . {port} . {slot}"),
        ElemKey::PortSlot(port, slot) => format!("{port} . {slot}"),
        ElemKey::Hairpin(ep, p, port, a) => format!("{ep} . {ep} . {p} . {port} . {a}"),
    }
}

fn value_text(v: &ElemValue) -> String {
    match v {
        ElemValue::Verdict(v) => verdict_text(v),
        ElemValue::Endpoint(a, port) => format!("{a} . {port}"),
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
        SetKind::EndpointMap { key, proto } => {
            let daddr = if key == SlotKey::Addr {
                "ip daddr . "
            } else {
                ""
            };
            format!("{{ typeof {daddr}{proto} dport . numgen random mod 1 : ip daddr . {proto} dport ; }}")
        }
        SetKind::Hairpin => {
            "{ type ipv4_addr . ipv4_addr . inet_proto . inet_service . ipv4_addr ; }".into()
        }
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
                        Some(v) => format!("{} : {}", key_text(k), value_text(v)),
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

/// The real thing: the transaction as text through `nft -f -`, or when it
/// only changes endpoint elements, as one nfnetlink batch (see
/// [`crate::netlink`]).
#[derive(Debug, Clone)]
pub struct NftCli {
    program: String,
    netlink: std::sync::Arc<crate::netlink::Conn>,
}

impl Default for NftCli {
    fn default() -> Self {
        NftCli::with_program("nft")
    }
}

impl NftCli {
    /// Uses `program` instead of `nft` from PATH.
    pub fn with_program(program: &str) -> Self {
        NftCli {
            program: program.into(),
            netlink: Default::default(),
        }
    }

    /// Runs `nft -f -` with `script` on stdin.
    pub async fn apply_text(&self, table: &str, script: &str) -> Result<(), Error> {
        let run = |source: std::io::Error| Error::NftRun {
            program: self.program.clone(),
            source,
        };
        let mut child = tokio::process::Command::new(&self.program)
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(run)?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // A write error means nft exited early; its status and stderr say why.
        let written = stdin.write_all(script.as_bytes()).await;
        drop(stdin);
        let out = child.wait_with_output().await.map_err(run)?;
        if out.status.success() {
            return written.map_err(run);
        }
        Err(Error::Nft {
            table: table.into(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr)
                .chars()
                .take(2000)
                .collect(),
        })
    }
}

#[async_trait]
impl Nft for NftCli {
    async fn apply(&self, tx: &Transaction) -> Result<(), Error> {
        if tx.is_empty() {
            return Ok(());
        }
        if crate::netlink::encodable(tx) {
            let (owned, conn) = (tx.clone(), self.netlink.clone());
            return tokio::task::spawn_blocking(move || conn.apply(&owned))
                .await
                .map_err(|e| Error::NftRun {
                    program: "nfnetlink".into(),
                    source: std::io::Error::other(e),
                })?
                .map_err(|e| Error::Nft {
                    table: tx.table.clone(),
                    status: "nfnetlink".into(),
                    stderr: e.to_string(),
                });
        }
        self.apply_text(&tx.table, &to_text(tx)).await
    }
}
