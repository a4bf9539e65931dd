//! The ruleset as data: a pure function from the [`Model`] to the chains,
//! sets, maps and map elements of the proxy's table, grouped per service
//! port so a sync can touch only what changed.
//!
//! Layout (after upstream's nftables proxier, with endpoints as data):
//! - base chains `filter-{input,forward,output}` (priority -110, before
//!   DNAT) reject new connections to services without endpoints through the
//!   `no-endpoint-services` / `no-endpoint-nodeports` verdict maps;
//! - `nat-prerouting` and `nat-output` (priority -100) jump to `services`,
//!   which dispatches on `daddr . l4proto . dport` (`service-ips`) and, for
//!   node addresses, on `l4proto . dport` (`service-nodeports`);
//! - per service port: `service-*` (all endpoints), `local-*` (this node's
//!   endpoints, for Local traffic policies) and `external-*` (NodePort,
//!   externalIPs, load balancer IPs). The service and local chains hold one
//!   fixed rule per entry path, `dnat ip addr . port to [ip daddr .] tcp
//!   dport . numgen random mod N offset K map @...`: the
//!   endpoints are elements of the data maps `service-endpoints-<proto>`
//!   and `nodeport-endpoints-<proto>`, slot `i` being the `i`-th endpoint;
//! - `nat-postrouting` masquerades hairpin connections (a pod reaching
//!   itself through a service: the `hairpin` set) and what
//!   `mark-for-masquerade` marked.
//!
//! Replacing an endpoint (the usual rolling-update step) therefore changes
//! map elements only: no rule, no chain and no verdict, which matters
//! because a transaction adding a rule or a jump/goto makes the kernel
//! re-validate the table's whole chain graph on commit (tens to hundreds of
//! milliseconds at 10 000 services). A changed endpoint count rewrites the
//! service's one rule (the modulus). Services with ClientIP session
//! affinity keep one `endpoint-*` chain per endpoint with an `affinity-*`
//! set each, as upstream: the remembered endpoint must be checked per
//! endpoint, which a data map cannot express.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::Ipv4Addr;

use crate::cidr::Cidr;
use crate::model::{usable, Endpoint, Model, Protocol, ServicePort, ServicePortName};

/// The packet mark bit asking `nat-postrouting` to masquerade.
pub const MASQ_MARK: u32 = 0x4000;

/// Map of `ipv4_addr . inet_proto . inet_service : verdict` for services' IPs.
pub const SERVICE_IPS: &str = "service-ips";
/// Map of `inet_proto . inet_service : verdict` for node ports.
pub const SERVICE_NODEPORTS: &str = "service-nodeports";
/// As [`SERVICE_IPS`], for services without endpoints (to reject).
pub const NO_ENDPOINT_SERVICES: &str = "no-endpoint-services";
/// As [`SERVICE_NODEPORTS`], for services without endpoints (to reject).
pub const NO_ENDPOINT_NODEPORTS: &str = "no-endpoint-nodeports";
/// Set of node addresses NodePorts answer on (with `--nodeport-addresses`).
pub const NODEPORT_IPS: &str = "nodeport-ips";
/// The chain rejecting connections to services without endpoints.
pub const REJECT_CHAIN: &str = "reject-chain";
/// The chain setting [`MASQ_MARK`].
pub const MARK_FOR_MASQUERADE: &str = "mark-for-masquerade";
/// Prefix of the data maps `daddr . dport . slot : endpoint addr . port`
/// (one per protocol, `service-endpoints-tcp`, ...) for traffic to a
/// service's cluster, external and load balancer IPs.
pub const SERVICE_ENDPOINTS: &str = "service-endpoints";
/// Prefix of the data maps `dport . slot : endpoint addr . port` (one per
/// protocol) for NodePorts.
pub const NODEPORT_ENDPOINTS: &str = "nodeport-endpoints";
/// Set of `saddr . daddr . l4proto . dport . original daddr` after DNAT
/// that are a pod reaching itself through a service (to masquerade).
pub const HAIRPIN: &str = "hairpin";

/// A verdict, as a statement or as the value of a verdict-map element.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// `accept`
    Accept,
    /// `drop`
    Drop,
    /// `return`
    Return,
    /// `jump <chain>`
    Jump(String),
    /// `goto <chain>`
    Goto(String),
}

/// One statement of a rule; only the shapes the proxy needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Stmt {
    /// `ip daddr <addr>`
    DaddrEq(Ipv4Addr),
    /// `ip saddr <addr>`
    SaddrEq(Ipv4Addr),
    /// `ip saddr { <cidr>, ... }`
    SaddrIn(Vec<Cidr>),
    /// `ip saddr != { <cidr>, ... }`
    SaddrNotIn(Vec<Cidr>),
    /// `ip daddr @<set>`
    DaddrInSet(String),
    /// `ip saddr @<set>`
    SaddrInSet(String),
    /// `meta l4proto <proto>`
    L4Proto(Protocol),
    /// `<proto> dport <port>`
    Dport(Protocol, u16),
    /// `fib daddr type local`
    FibDaddrLocal,
    /// `fib saddr type local`
    FibSaddrLocal,
    /// `ct state new`
    CtStateNew,
    /// `meta mark & <bits> == 0`
    MarkNotSet(u32),
    /// `meta mark set meta mark | <bits>`
    MarkOr(u32),
    /// `meta mark set meta mark ^ <bits>`
    MarkXor(u32),
    /// `update @<set> { ip saddr }`
    UpdateSaddr(String),
    /// `ip daddr . meta l4proto . th dport vmap @<map>`
    VmapAddrProtoPort(String),
    /// `meta l4proto . th dport vmap @<map>`
    VmapProtoPort(String),
    /// `numgen random mod N vmap { 0 : v0, ... }`
    NumgenVmap(Vec<Verdict>),
    /// `dnat to <addr>:<port>` (after an `L4Proto` match, which nft 1.0.6 needs)
    Dnat(Ipv4Addr, u16),
    /// `dnat ip addr . port to <key> . numgen random mod <modulus> offset
    /// <offset> map @<map>`: picks an endpoint from a data map (after an
    /// `L4Proto` match of the same protocol).
    DnatSlot {
        /// Which packet fields key the lookup (and so which map).
        key: SlotKey,
        /// The protocol, which picks the map.
        proto: Protocol,
        /// Number of endpoints to pick from.
        modulus: u32,
        /// The first of their slots.
        offset: u32,
    },
    /// `ip saddr . ip daddr . meta l4proto . th dport . ct original ip daddr @<set>`
    HairpinInSet(String),
    /// `masquerade fully-random`
    Masquerade,
    /// `reject with tcp reset`
    RejectTcpReset,
    /// `reject with icmp type port-unreachable`
    RejectIcmpPortUnreachable,
    /// A verdict statement.
    Verdict(Verdict),
}

/// The lookup key of a [`Stmt::DnatSlot`], after the packet's entry path.
///
/// The endpoint maps are per protocol, keyed `ip daddr . tcp dport` rather
/// than `ip daddr . meta l4proto . th dport`: nft 1.0.6 re-reads a map's
/// `typeof` from the kernel when a later run adds a rule using it, and then
/// rejects `th` next to the rule's protocol match ("conflicting protocols").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SlotKey {
    /// `ip daddr . <proto> dport` in [`SERVICE_ENDPOINTS`]: cluster,
    /// external and load balancer IPs.
    Addr,
    /// `<proto> dport` in [`NODEPORT_ENDPOINTS`]: NodePorts on any node
    /// address.
    NodePort,
}

impl SlotKey {
    /// The data map the key looks up for `proto`.
    pub fn map(&self, proto: Protocol) -> String {
        let prefix = match self {
            SlotKey::Addr => SERVICE_ENDPOINTS,
            SlotKey::NodePort => NODEPORT_ENDPOINTS,
        };
        format!("{prefix}-{proto}")
    }
}

/// The protocols services use, each with its own endpoint maps.
pub const PROTOCOLS: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

/// A rule: statements evaluated left to right.
pub type Rule = Vec<Stmt>;

/// The type of a base chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChainType {
    /// `type filter`
    Filter,
    /// `type nat`
    Nat,
}

/// The netfilter hook of a base chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HookPoint {
    /// `hook prerouting`
    Prerouting,
    /// `hook input`
    Input,
    /// `hook forward`
    Forward,
    /// `hook output`
    Output,
    /// `hook postrouting`
    Postrouting,
}

/// What makes a chain a base chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BaseHook {
    /// Filter or NAT.
    pub kind: ChainType,
    /// Where it hooks in.
    pub hook: HookPoint,
    /// Its priority (numeric: nft 1.0.6 wants `-100`, not `dstnat`, in output).
    pub priority: i32,
}

/// A chain and its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainDef {
    /// `Some` for base chains.
    pub hook: Option<BaseHook>,
    /// The rules in order.
    pub rules: Vec<Rule>,
}

/// The kinds of named sets and maps the proxy uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SetKind {
    /// A set of IPv4 addresses; with a timeout it is dynamic (session affinity).
    Addrs {
        /// Element timeout in seconds.
        timeout: Option<u32>,
    },
    /// `ipv4_addr . inet_proto . inet_service : verdict`
    AddrProtoPortMap,
    /// `inet_proto . inet_service : verdict`
    ProtoPortMap,
    /// An endpoint map: `[daddr .] dport . slot : ipv4_addr . inet_service`.
    EndpointMap {
        /// Whose endpoints.
        key: SlotKey,
        /// The protocol of its keys and data.
        proto: Protocol,
    },
    /// [`HAIRPIN`]: `ipv4_addr . ipv4_addr . inet_proto . inet_service . ipv4_addr`
    Hairpin,
}

impl SetKind {
    /// Whether nft calls it a map (rather than a set).
    pub fn is_map(&self) -> bool {
        !matches!(self, SetKind::Addrs { .. } | SetKind::Hairpin)
    }
}

/// The key of a set or map element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ElemKey {
    /// An address (sets of [`SetKind::Addrs`]).
    Addr(Ipv4Addr),
    /// `addr . proto . port`
    AddrProtoPort(Ipv4Addr, Protocol, u16),
    /// `proto . port`
    ProtoPort(Protocol, u16),
    /// `addr . port . slot` (the map says the protocol)
    AddrPortSlot(Ipv4Addr, u16, u32),
    /// `port . slot` (the map says the protocol)
    PortSlot(u16, u32),
    /// `endpoint . endpoint . proto . endpoint port . service address`
    Hairpin(Ipv4Addr, Protocol, u16, Ipv4Addr),
}

/// The value of a map element.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ElemValue {
    /// Verdict maps.
    Verdict(Verdict),
    /// Endpoint maps: `addr . port`.
    Endpoint(Ipv4Addr, u16),
}

/// One element of a named set or map.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Element {
    /// The set or map it belongs to.
    pub set: String,
    /// Its key.
    pub key: ElemKey,
    /// The value for map elements.
    pub value: Option<ElemValue>,
}

/// Chains, sets and elements owned together: the table's fixed skeleton,
/// or everything one service port needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Group {
    /// Chains by name.
    pub chains: BTreeMap<String, ChainDef>,
    /// Sets and maps by name.
    pub sets: BTreeMap<String, SetKind>,
    /// Elements this group adds to sets or maps (its own or the skeleton's).
    pub elements: BTreeSet<Element>,
}

/// The whole desired content of the proxy's table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ruleset {
    /// The table name (family `ip`).
    pub table: String,
    /// The skeleton: base chains, dispatch chains, the maps.
    pub base: Group,
    /// Per service port.
    pub services: BTreeMap<ServicePortName, Group>,
    /// Every element key the service groups put into the skeleton's sets
    /// (set name hashed), so [`rebuild`] can tell a group apart from the
    /// others without rebuilding them.
    shared: HashSet<(u64, ElemKey)>,
    /// Whether two groups wanted the same key and one lost it: then which
    /// one gets it depends on the others, and only [`build`] knows.
    contested: bool,
}

impl Ruleset {
    /// Number of chains (for logs and benchmarks).
    pub fn chain_count(&self) -> usize {
        self.base.chains.len()
            + self
                .services
                .values()
                .map(|g| g.chains.len())
                .sum::<usize>()
    }

    /// Puts groups from [`rebuild`] in place (after they were applied).
    pub fn replace(&mut self, groups: BTreeMap<ServicePortName, Option<Group>>) {
        for (name, g) in groups {
            if let Some(old) = self.services.remove(&name) {
                for e in old
                    .elements
                    .iter()
                    .filter(|e| !old.sets.contains_key(&e.set))
                {
                    self.shared.remove(&(set_id(&e.set), e.key));
                }
            }
            if let Some(g) = g {
                for e in g.elements.iter().filter(|e| !g.sets.contains_key(&e.set)) {
                    self.shared.insert((set_id(&e.set), e.key));
                }
                self.services.insert(name, g);
            }
        }
    }
}

/// A set name as a number for [`Ruleset`]'s key index (FNV-1a; a collision
/// only makes [`rebuild`] decline).
fn set_id(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Node-specific inputs to ruleset generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesetConfig {
    /// The table name (`kube-proxy` by default).
    pub table: String,
    /// This node's name, matched against endpoints' `nodeName`.
    pub node_name: String,
    /// `--cluster-cidr`: traffic from elsewhere to a cluster IP is masqueraded.
    pub cluster_cidrs: Vec<Cidr>,
    /// The addresses NodePorts answer on; `None` means every local address
    /// (`fib daddr type local`, 127.0.0.1 included).
    pub nodeport_ips: Option<Vec<Ipv4Addr>>,
}

impl RulesetConfig {
    /// A configuration for `table` with no cluster CIDR and NodePorts on
    /// every local address.
    pub fn new(table: &str, node_name: &str) -> Self {
        RulesetConfig {
            table: table.into(),
            node_name: node_name.into(),
            cluster_cidrs: Vec::new(),
            nodeport_ips: None,
        }
    }
}

/// Builds the ruleset for `model`. Pure: same input, same output.
pub fn build(model: &Model, cfg: &RulesetConfig) -> Ruleset {
    let mut rs = Ruleset {
        table: cfg.table.clone(),
        base: base_group(cfg),
        ..Ruleset::default()
    };
    let none = Vec::new();
    // A key two services both claim (same externalIP and port, say) goes
    // to the first in name order, as nft would refuse the second.
    let mut claimed: HashSet<(String, ElemKey)> = HashSet::new();
    for (name, sp) in &model.services {
        let eps = model.endpoints.get(name).unwrap_or(&none);
        let mut g = service_group(name, sp, eps, cfg);
        g.elements.retain(|e| {
            let own_set = g.sets.contains_key(&e.set);
            let fresh = own_set || claimed.insert((e.set.clone(), e.key));
            if !fresh {
                tracing::warn!(service = %name, key = ?e.key, "address and port already used by another service");
                rs.contested = true;
            }
            fresh
        });
        rs.services.insert(name.clone(), g);
    }
    rs.shared = claimed
        .into_iter()
        .map(|(set, key)| (set_id(&set), key))
        .collect();
    rs
}

/// The groups of the `changed` service ports rebuilt for `model` (`None`
/// for a port that is gone), without rebuilding the rest: what an
/// incremental sync needs, at a cost that does not grow with the number of
/// services. `None` when that cannot give what [`build`] would: the
/// skeleton changed, or a rebuilt group's key is another group's (or was
/// contested before), which only a whole build resolves.
pub fn rebuild(
    rs: &Ruleset,
    model: &Model,
    changed: &BTreeSet<ServicePortName>,
    cfg: &RulesetConfig,
) -> Option<BTreeMap<ServicePortName, Option<Group>>> {
    if rs.contested || rs.table != cfg.table || rs.base != base_group(cfg) {
        return None;
    }
    let none = Vec::new();
    let shared_keys = |g: &Group| -> Vec<(u64, ElemKey)> {
        g.elements
            .iter()
            .filter(|e| !g.sets.contains_key(&e.set))
            .map(|e| (set_id(&e.set), e.key))
            .collect()
    };
    let mut released = HashSet::new();
    for name in changed {
        if let Some(old) = rs.services.get(name) {
            released.extend(shared_keys(old));
        }
    }
    let mut out = BTreeMap::new();
    let mut taken = HashSet::new();
    for name in changed {
        let g = model
            .services
            .get(name)
            .map(|sp| service_group(name, sp, model.endpoints.get(name).unwrap_or(&none), cfg));
        for k in g.iter().flat_map(shared_keys) {
            let elsewhere = rs.shared.contains(&k) && !released.contains(&k);
            if elsewhere || !taken.insert(k) {
                return None;
            }
        }
        out.insert(name.clone(), g);
    }
    Some(out)
}

fn jump(c: &str) -> Stmt {
    Stmt::Verdict(Verdict::Jump(c.into()))
}

fn goto(c: &str) -> Stmt {
    Stmt::Verdict(Verdict::Goto(c.into()))
}

fn base_chain(kind: ChainType, hook: HookPoint, priority: i32, rules: Vec<Rule>) -> ChainDef {
    ChainDef {
        hook: Some(BaseHook {
            kind,
            hook,
            priority,
        }),
        rules,
    }
}

fn chain(rules: Vec<Rule>) -> ChainDef {
    ChainDef { hook: None, rules }
}

fn base_group(cfg: &RulesetConfig) -> Group {
    use ChainType::*;
    use HookPoint::*;
    let mut g = Group::default();
    g.sets.insert(SERVICE_IPS.into(), SetKind::AddrProtoPortMap);
    g.sets
        .insert(SERVICE_NODEPORTS.into(), SetKind::ProtoPortMap);
    g.sets
        .insert(NO_ENDPOINT_SERVICES.into(), SetKind::AddrProtoPortMap);
    g.sets
        .insert(NO_ENDPOINT_NODEPORTS.into(), SetKind::ProtoPortMap);
    for proto in PROTOCOLS {
        for key in [SlotKey::Addr, SlotKey::NodePort] {
            g.sets
                .insert(key.map(proto), SetKind::EndpointMap { key, proto });
        }
    }
    g.sets.insert(HAIRPIN.into(), SetKind::Hairpin);
    let nodeport_match = match &cfg.nodeport_ips {
        None => Stmt::FibDaddrLocal,
        Some(ips) => {
            g.sets
                .insert(NODEPORT_IPS.into(), SetKind::Addrs { timeout: None });
            for ip in ips {
                g.elements.insert(Element {
                    set: NODEPORT_IPS.into(),
                    key: ElemKey::Addr(*ip),
                    value: None,
                });
            }
            Stmt::DaddrInSet(NODEPORT_IPS.into())
        }
    };
    let new = || Stmt::CtStateNew;
    let check_services = || vec![new(), jump("service-endpoints-check")];
    let check_nodeports = || vec![new(), jump("nodeport-endpoints-check")];
    let chains = [
        (
            "filter-input",
            base_chain(
                Filter,
                Input,
                -110,
                vec![check_nodeports(), check_services()],
            ),
        ),
        (
            "filter-forward",
            base_chain(Filter, Forward, -110, vec![check_services()]),
        ),
        (
            "filter-output",
            base_chain(
                Filter,
                Output,
                -110,
                vec![check_services(), check_nodeports()],
            ),
        ),
        (
            "nat-prerouting",
            base_chain(Nat, Prerouting, -100, vec![vec![jump("services")]]),
        ),
        (
            "nat-output",
            base_chain(Nat, Output, -100, vec![vec![jump("services")]]),
        ),
        (
            "nat-postrouting",
            base_chain(
                Nat,
                Postrouting,
                100,
                vec![
                    vec![
                        Stmt::HairpinInSet(HAIRPIN.into()),
                        jump(MARK_FOR_MASQUERADE),
                    ],
                    vec![jump("masquerading")],
                ],
            ),
        ),
        (
            "services",
            chain(vec![
                vec![Stmt::VmapAddrProtoPort(SERVICE_IPS.into())],
                vec![
                    nodeport_match.clone(),
                    Stmt::VmapProtoPort(SERVICE_NODEPORTS.into()),
                ],
            ]),
        ),
        (
            "service-endpoints-check",
            chain(vec![vec![Stmt::VmapAddrProtoPort(
                NO_ENDPOINT_SERVICES.into(),
            )]]),
        ),
        (
            "nodeport-endpoints-check",
            chain(vec![vec![
                nodeport_match,
                Stmt::VmapProtoPort(NO_ENDPOINT_NODEPORTS.into()),
            ]]),
        ),
        (
            REJECT_CHAIN,
            chain(vec![
                vec![Stmt::L4Proto(Protocol::Tcp), Stmt::RejectTcpReset],
                vec![Stmt::RejectIcmpPortUnreachable],
            ]),
        ),
        (
            MARK_FOR_MASQUERADE,
            chain(vec![vec![Stmt::MarkOr(MASQ_MARK)]]),
        ),
        (
            "masquerading",
            chain(vec![
                vec![Stmt::MarkNotSet(MASQ_MARK), Stmt::Verdict(Verdict::Return)],
                vec![Stmt::MarkXor(MASQ_MARK)],
                vec![Stmt::Masquerade],
            ]),
        ),
    ];
    for (name, c) in chains {
        g.chains.insert(name.to_string(), c);
    }
    g
}

/// A short stable hash (FNV-1a, base32) so chain names stay unique even
/// where the readable part is ambiguous, as upstream's names do.
fn hash8(s: &str) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (0..8)
        .map(|i| ALPHABET[((h >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// The readable part of a service port's chain names: `ns/name/proto/port`.
fn service_base(name: &ServicePortName) -> String {
    let port = if name.port.is_empty() {
        "_"
    } else {
        name.port.as_str()
    };
    format!(
        "{}/{}/{}/{}",
        name.namespace, name.name, name.protocol, port
    )
}

/// Chain and set names of one service port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceChains {
    /// Load-balances over all usable endpoints.
    pub service: String,
    /// Load-balances over this node's endpoints.
    pub local: String,
    /// Entry for NodePort, externalIPs and load balancer traffic.
    pub external: String,
    base: String,
}

impl ServiceChains {
    /// The names for `name`.
    pub fn new(name: &ServicePortName) -> Self {
        let base = service_base(name);
        let h = hash8(&base);
        ServiceChains {
            service: format!("service-{h}-{base}"),
            local: format!("local-{h}-{base}"),
            external: format!("external-{h}-{base}"),
            base,
        }
    }

    /// The DNAT chain of one endpoint.
    pub fn endpoint(&self, ep: &Endpoint) -> String {
        let s = format!("{}__{}/{}", self.base, ep.ip, ep.port);
        format!("endpoint-{}-{s}", hash8(&s))
    }

    /// The session-affinity set of one endpoint; the timeout is part of the
    /// hash so a changed timeout is a new set, never an in-place change.
    pub fn affinity(&self, ep: &Endpoint, timeout: u32) -> String {
        let s = format!("{}__{}/{}", self.base, ep.ip, ep.port);
        format!("affinity-{}-{s}", hash8(&format!("{s}#{timeout}")))
    }
}

/// Everything one service port needs.
pub fn service_group(
    name: &ServicePortName,
    sp: &ServicePort,
    eps: &[Endpoint],
    cfg: &RulesetConfig,
) -> Group {
    let mut g = Group::default();
    let proto = name.protocol;
    let names = ServiceChains::new(name);
    let cluster = usable(eps.iter());
    let local = usable(
        eps.iter()
            .filter(|e| e.node_name.as_deref() == Some(cfg.node_name.as_str())),
    );
    let mut elements = BTreeSet::new();
    let mut elem = |set: &str, key: ElemKey, v: ElemValue| {
        elements.insert(Element {
            set: set.into(),
            key,
            value: Some(v),
        });
    };
    let external_addrs: Vec<Ipv4Addr> = sp
        .external_ips
        .iter()
        .chain(&sp.load_balancer_ips)
        .copied()
        .collect();
    let external_keys: Vec<ElemKey> = external_addrs
        .iter()
        .map(|ip| ElemKey::AddrProtoPort(*ip, proto, sp.port))
        .collect();

    if cluster.is_empty() {
        // No endpoints at all: refuse at once, from everywhere.
        let reject = ElemValue::Verdict(Verdict::Goto(REJECT_CHAIN.into()));
        if let Some(cip) = sp.cluster_ip {
            elem(
                NO_ENDPOINT_SERVICES,
                ElemKey::AddrProtoPort(cip, proto, sp.port),
                reject.clone(),
            );
        }
        for k in &external_keys {
            elem(NO_ENDPOINT_SERVICES, *k, reject.clone());
        }
        if let Some(np) = sp.node_port {
            elem(NO_ENDPOINT_NODEPORTS, ElemKey::ProtoPort(proto, np), reject);
        }
        g.elements = elements;
        return g;
    }

    let need_local = (sp.internal_local || sp.external_local) && !local.is_empty();
    // Every address the service chain's lookup is keyed by.
    let addrs: Vec<Ipv4Addr> = sp
        .cluster_ip
        .iter()
        .chain(&external_addrs)
        .copied()
        .collect();
    let masq_cluster_ip = |rules: &mut Vec<Rule>| {
        if let (Some(cip), false) = (sp.cluster_ip, cfg.cluster_cidrs.is_empty()) {
            rules.push(vec![
                Stmt::DaddrEq(cip),
                Stmt::Dport(proto, sp.port),
                Stmt::SaddrNotIn(cfg.cluster_cidrs.clone()),
                jump(MARK_FOR_MASQUERADE),
            ]);
        }
    };
    let affinity = sp.affinity_timeout;
    // Picks one of `targets`: per-endpoint chains with session affinity,
    // else a lookup in the endpoint maps at slots `offset..`.
    let balance = |rules: &mut Vec<Rule>, targets: &[&Endpoint], offset: usize| {
        if let Some(t) = affinity {
            for ep in targets {
                rules.push(vec![
                    Stmt::SaddrInSet(names.affinity(ep, t)),
                    goto(&names.endpoint(ep)),
                ]);
            }
            rules.push(vec![Stmt::NumgenVmap(
                targets
                    .iter()
                    .map(|ep| Verdict::Goto(names.endpoint(ep)))
                    .collect(),
            )]);
            return;
        }
        let slot = |key| {
            vec![
                Stmt::L4Proto(proto),
                Stmt::DnatSlot {
                    key,
                    proto,
                    modulus: targets.len() as u32,
                    offset: offset as u32,
                },
            ]
        };
        if !addrs.is_empty() {
            rules.push(slot(SlotKey::Addr));
        }
        if sp.node_port.is_some() {
            rules.push(slot(SlotKey::NodePort));
        }
    };

    let mut rules = Vec::new();
    if !sp.internal_local {
        masq_cluster_ip(&mut rules);
    }
    balance(&mut rules, &cluster, 0);
    g.chains.insert(names.service.clone(), chain(rules));
    if need_local {
        let mut rules = Vec::new();
        if sp.internal_local {
            masq_cluster_ip(&mut rules);
        }
        balance(&mut rules, &local, cluster.len());
        g.chains.insert(names.local.clone(), chain(rules));
    }

    // Endpoint slots: 0..N all usable endpoints, N.. this node's ones.
    let slots: Vec<&Endpoint> = if need_local {
        cluster.iter().chain(local.iter()).copied().collect()
    } else {
        cluster.clone()
    };
    let mut targets: Vec<&Endpoint> = slots.clone();
    targets.sort();
    targets.dedup();
    for ep in &targets {
        for a in &addrs {
            g.elements.insert(Element {
                set: HAIRPIN.into(),
                key: ElemKey::Hairpin(ep.ip, proto, ep.port, *a),
                value: None,
            });
        }
    }
    if let Some(t) = affinity {
        for ep in targets {
            let set = names.affinity(ep, t);
            g.sets
                .insert(set.clone(), SetKind::Addrs { timeout: Some(t) });
            g.chains.insert(
                names.endpoint(ep),
                chain(vec![
                    vec![Stmt::UpdateSaddr(set)],
                    vec![Stmt::L4Proto(proto), Stmt::Dnat(ep.ip, ep.port)],
                ]),
            );
        }
    } else {
        for (i, ep) in slots.iter().enumerate() {
            let v = ElemValue::Endpoint(ep.ip, ep.port);
            for a in &addrs {
                elem(
                    &SlotKey::Addr.map(proto),
                    ElemKey::AddrPortSlot(*a, sp.port, i as u32),
                    v.clone(),
                );
            }
            if let Some(np) = sp.node_port {
                elem(
                    &SlotKey::NodePort.map(proto),
                    ElemKey::PortSlot(np, i as u32),
                    v,
                );
            }
        }
    }

    let local_or_drop = if need_local {
        Verdict::Goto(names.local.clone())
    } else {
        Verdict::Drop
    };
    if let Some(cip) = sp.cluster_ip {
        let v = if sp.internal_local {
            local_or_drop.clone()
        } else {
            Verdict::Goto(names.service.clone())
        };
        elem(
            SERVICE_IPS,
            ElemKey::AddrProtoPort(cip, proto, sp.port),
            ElemValue::Verdict(v),
        );
    }
    if sp.has_external() {
        let mut rules = Vec::new();
        if sp.external_local {
            if !cfg.cluster_cidrs.is_empty() {
                // Pods reaching an external address are internal traffic.
                rules.push(vec![
                    Stmt::SaddrIn(cfg.cluster_cidrs.clone()),
                    goto(&names.service),
                ]);
            }
            // So is the node itself; it needs masquerading to get replies.
            rules.push(vec![Stmt::FibSaddrLocal, jump(MARK_FOR_MASQUERADE)]);
            rules.push(vec![Stmt::FibSaddrLocal, goto(&names.service)]);
            rules.push(vec![Stmt::Verdict(local_or_drop)]);
        } else {
            rules.push(vec![jump(MARK_FOR_MASQUERADE)]);
            rules.push(vec![goto(&names.service)]);
        }
        g.chains.insert(names.external.clone(), chain(rules));
        let to_external = ElemValue::Verdict(Verdict::Goto(names.external.clone()));
        for k in &external_keys {
            elem(SERVICE_IPS, *k, to_external.clone());
        }
        if let Some(np) = sp.node_port {
            elem(
                SERVICE_NODEPORTS,
                ElemKey::ProtoPort(proto, np),
                to_external,
            );
        }
    }
    g.elements.extend(elements);
    g
}

#[cfg(test)]
#[path = "ruleset_tests.rs"]
mod tests;
