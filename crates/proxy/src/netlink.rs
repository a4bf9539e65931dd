//! Endpoint changes straight over nfnetlink, without `nft`.
//!
//! Most incremental syncs (an endpoint replaced, added or removed without
//! changing the count) only add and delete elements of the endpoint maps
//! and the hairpin set. Through `nft -f` such a transaction costs tens of
//! milliseconds at 10 000 services, nearly all of it `nft` reading the
//! table's chains into its cache before and freeing them after; the
//! kernel commits it in about a millisecond. So transactions made only of
//! such elements are encoded here as one nfnetlink batch; everything else
//! goes through `nft -f -`.

use std::io;
use std::net::Ipv4Addr;

use crate::model::Protocol;
use crate::nft::{Command, Transaction};
use crate::ruleset::{ElemKey, ElemValue};

/// `AF_NETLINK` and `NETLINK_NETFILTER` from linux/netlink.h.
const AF_NETLINK: i32 = 16;
const NETLINK_NETFILTER: i32 = 12;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 16;
const NFNL_MSG_BATCH_END: u16 = 17;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 2;
const NLA_F_NESTED: u16 = 0x8000;
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_DATA: u16 = 2;
const NFTA_DATA_VALUE: u16 = 1;
const NFPROTO_IPV4: u8 = 2;

/// Whether the transaction consists only of endpoint-map and hairpin
/// elements, which [`apply`] can encode.
pub fn encodable(tx: &Transaction) -> bool {
    !tx.is_empty()
        && tx.commands.iter().all(|c| match c {
            Command::AddElements(_, elems) => elems.iter().all(|(k, v)| {
                matches!(
                    (k, v),
                    (
                        ElemKey::AddrPortSlot(..) | ElemKey::PortSlot(..),
                        Some(ElemValue::Endpoint(..))
                    ) | (ElemKey::Hairpin(..), None)
                )
            }),
            Command::DeleteElements(_, keys) => keys.iter().all(|k| {
                matches!(
                    k,
                    ElemKey::AddrPortSlot(..) | ElemKey::PortSlot(..) | ElemKey::Hairpin(..)
                )
            }),
            _ => false,
        })
}

/// Key and data bytes as the kernel holds them: each field of a
/// concatenation in its own 4-byte register, addresses and ports in
/// network order, the `numgen` slot in host order.
fn key_bytes(k: &ElemKey) -> Vec<u8> {
    let mut b = Vec::with_capacity(20);
    let port = |b: &mut Vec<u8>, p: u16| {
        b.extend(p.to_be_bytes());
        b.extend([0, 0]);
    };
    match *k {
        ElemKey::AddrPortSlot(a, p, slot) => {
            b.extend(a.octets());
            port(&mut b, p);
            b.extend(slot.to_ne_bytes());
        }
        ElemKey::PortSlot(p, slot) => {
            port(&mut b, p);
            b.extend(slot.to_ne_bytes());
        }
        ElemKey::Hairpin(ep, proto, p, a) => {
            b.extend(ep.octets());
            b.extend(ep.octets());
            b.extend([proto_number(proto), 0, 0, 0]);
            port(&mut b, p);
            b.extend(a.octets());
        }
        // `encodable` lets no other key through.
        ElemKey::Addr(a) => b.extend(a.octets()),
        ElemKey::AddrProtoPort(..) | ElemKey::ProtoPort(..) => {}
    }
    b
}

fn endpoint_bytes(a: Ipv4Addr, port: u16) -> Vec<u8> {
    let mut b = a.octets().to_vec();
    b.extend(port.to_be_bytes());
    b.extend([0, 0]);
    b
}

fn proto_number(p: Protocol) -> u8 {
    match p {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
        Protocol::Sctp => 132,
    }
}

/// A netlink message under construction.
struct Msg {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Msg {
    fn new(kind: u16, flags: u16, seq: u32, family: u8, res_id: u16) -> Msg {
        let mut buf = Vec::with_capacity(256);
        buf.extend(0u32.to_ne_bytes()); // length, set in `finish`
        buf.extend(kind.to_ne_bytes());
        buf.extend(flags.to_ne_bytes());
        buf.extend(seq.to_ne_bytes());
        buf.extend(0u32.to_ne_bytes()); // port id: the kernel's
        buf.push(family);
        buf.push(0); // NFNETLINK_V0
        buf.extend(res_id.to_be_bytes());
        Msg {
            buf,
            nests: Vec::new(),
        }
    }

    fn pad(&mut self) {
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }

    fn attr(&mut self, kind: u16, payload: &[u8]) {
        let len = u16::try_from(4 + payload.len()).expect("attribute fits");
        self.buf.extend(len.to_ne_bytes());
        self.buf.extend(kind.to_ne_bytes());
        self.buf.extend(payload);
        self.pad();
    }

    fn attr_str(&mut self, kind: u16, s: &str) {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.attr(kind, &v);
    }

    fn begin(&mut self, kind: u16) {
        self.nests.push(self.buf.len());
        self.buf.extend(0u16.to_ne_bytes());
        self.buf.extend((kind | NLA_F_NESTED).to_ne_bytes());
    }

    fn end(&mut self) {
        let at = self.nests.pop().expect("balanced nests");
        let len = u16::try_from(self.buf.len() - at).expect("nest fits");
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn finish(mut self, out: &mut Vec<u8>) {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        out.extend(self.buf);
    }
}

/// One element's key and, for maps, data bytes.
type Encoded = (Vec<u8>, Option<Vec<u8>>);

/// The batch for `tx` and the sequence numbers that must be acknowledged.
fn encode(tx: &Transaction, first_seq: u32) -> (Vec<u8>, Vec<u32>) {
    let mut out = Vec::new();
    let mut seq = first_seq;
    Msg::new(
        NFNL_MSG_BATCH_BEGIN,
        NLM_F_REQUEST,
        seq,
        0,
        NFNL_SUBSYS_NFTABLES,
    )
    .finish(&mut out);
    let mut acks = Vec::new();
    for c in &tx.commands {
        let (kind, flags, set, elems): (u16, u16, &str, Vec<Encoded>) = match c {
            Command::AddElements(set, elems) => (
                NFT_MSG_NEWSETELEM,
                NLM_F_CREATE,
                set,
                elems
                    .iter()
                    .map(|(k, v)| {
                        let data = match v {
                            Some(ElemValue::Endpoint(a, p)) => Some(endpoint_bytes(*a, *p)),
                            _ => None,
                        };
                        (key_bytes(k), data)
                    })
                    .collect(),
            ),
            Command::DeleteElements(set, keys) => (
                NFT_MSG_DELSETELEM,
                0,
                set,
                keys.iter().map(|k| (key_bytes(k), None)).collect(),
            ),
            _ => continue,
        };
        seq += 1;
        let kind = (NFNL_SUBSYS_NFTABLES << 8) | kind;
        let mut m = Msg::new(
            kind,
            NLM_F_REQUEST | NLM_F_ACK | flags,
            seq,
            NFPROTO_IPV4,
            0,
        );
        m.attr_str(NFTA_SET_ELEM_LIST_TABLE, &tx.table);
        m.attr_str(NFTA_SET_ELEM_LIST_SET, set);
        m.begin(NFTA_SET_ELEM_LIST_ELEMENTS);
        for (key, data) in &elems {
            m.begin(NFTA_LIST_ELEM);
            m.begin(NFTA_SET_ELEM_KEY);
            m.attr(NFTA_DATA_VALUE, key);
            m.end();
            if let Some(d) = data {
                m.begin(NFTA_SET_ELEM_DATA);
                m.attr(NFTA_DATA_VALUE, d);
                m.end();
            }
            m.end();
        }
        m.end();
        m.finish(&mut out);
        acks.push(seq);
    }
    seq += 1;
    Msg::new(
        NFNL_MSG_BATCH_END,
        NLM_F_REQUEST,
        seq,
        0,
        NFNL_SUBSYS_NFTABLES,
    )
    .finish(&mut out);
    (out, acks)
}

/// A netfilter netlink socket kept open between syncs: closing one waits
/// for an RCU grace period (about 10 ms here), longer than the commit.
#[derive(Debug, Default)]
pub struct Conn {
    sock: std::sync::Mutex<Option<(socket2::Socket, u32)>>,
}

impl Conn {
    /// Commits `tx` (see [`encodable`]) as one nfnetlink batch: all or
    /// nothing, as `nft -f` would. Blocking; a commit takes about a
    /// millisecond. After an error the socket is dropped (late replies
    /// must not be read as the next batch's) and opened afresh next time.
    pub fn apply(&self, tx: &Transaction) -> io::Result<()> {
        let mut guard = self.sock.lock().unwrap_or_else(|e| e.into_inner());
        let (sock, seq) = match guard.take() {
            Some(s) => s,
            None => (open()?, 1),
        };
        let (batch, pending) = encode(tx, seq);
        let next = seq.wrapping_add(pending.len() as u32 + 2);
        let r = exchange(&sock, &batch, pending);
        if r.is_ok() {
            *guard = Some((sock, next));
        }
        r
    }
}

fn open() -> io::Result<socket2::Socket> {
    let sock = socket2::Socket::new(
        socket2::Domain::from(AF_NETLINK),
        socket2::Type::RAW,
        Some(socket2::Protocol::from(NETLINK_NETFILTER)),
    )?;
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    Ok(sock)
}

/// Sends the batch and reads replies until every message is acknowledged
/// or one failed.
fn exchange(sock: &socket2::Socket, batch: &[u8], mut pending: Vec<u32>) -> io::Result<()> {
    use std::io::Read;
    // Unconnected, a netlink socket sends to the kernel.
    if sock.send(batch)? != batch.len() {
        return Err(io::Error::other("short netlink send"));
    }
    let mut buf = vec![0u8; 64 * 1024];
    while !pending.is_empty() {
        let n = (&*sock).read(&mut buf)?;
        let mut at = 0;
        while at + 16 <= n {
            let word = |i: usize| u32::from_ne_bytes(buf[i..i + 4].try_into().expect("4 bytes"));
            let len = word(at) as usize;
            let kind = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
            let seq = word(at + 8);
            if len < 16 || at + len > n {
                return Err(io::Error::other("malformed netlink reply"));
            }
            if kind == NLMSG_ERROR && len >= 20 {
                let errno = i32::from_ne_bytes(buf[at + 16..at + 20].try_into().expect("4 bytes"));
                if errno != 0 {
                    return Err(io::Error::from_raw_os_error(-errno));
                }
                pending.retain(|s| *s != seq);
            }
            at += (len + 3) & !3;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_transactions_go_over_netlink() {
        let ep = |n| Some(ElemValue::Endpoint(Ipv4Addr::new(10, 0, 0, n), 80));
        let tx = Transaction {
            table: "t".into(),
            commands: vec![
                Command::DeleteElements(
                    "service-endpoints-tcp".into(),
                    vec![ElemKey::AddrPortSlot(Ipv4Addr::new(10, 1, 0, 1), 80, 0)],
                ),
                Command::AddElements(
                    "service-endpoints-tcp".into(),
                    vec![(
                        ElemKey::AddrPortSlot(Ipv4Addr::new(10, 1, 0, 1), 80, 0),
                        ep(2),
                    )],
                ),
            ],
        };
        assert!(encodable(&tx));
        let mut verdicts = tx.clone();
        verdicts.commands.push(Command::AddElements(
            "service-ips".into(),
            vec![(
                ElemKey::AddrProtoPort(Ipv4Addr::new(10, 1, 0, 1), Protocol::Tcp, 80),
                Some(ElemValue::Verdict(crate::ruleset::Verdict::Drop)),
            )],
        ));
        assert!(!encodable(&verdicts));
        assert!(!encodable(&Transaction::default()));
    }

    #[test]
    fn registers_and_byte_order() {
        let k = ElemKey::AddrPortSlot(Ipv4Addr::new(10, 1, 0, 1), 0x1f90, 2);
        let mut want = vec![10, 1, 0, 1, 0x1f, 0x90, 0, 0];
        want.extend(2u32.to_ne_bytes());
        assert_eq!(key_bytes(&k), want);
        let h = ElemKey::Hairpin(
            Ipv4Addr::new(10, 0, 0, 5),
            Protocol::Udp,
            53,
            Ipv4Addr::new(10, 1, 0, 1),
        );
        assert_eq!(
            key_bytes(&h),
            vec![10, 0, 0, 5, 10, 0, 0, 5, 17, 0, 0, 0, 0, 53, 0, 0, 10, 1, 0, 1]
        );
        assert_eq!(
            endpoint_bytes(Ipv4Addr::new(10, 0, 0, 5), 8080),
            vec![10, 0, 0, 5, 0x1f, 0x90, 0, 0]
        );
        // A batch: begin, one message per command, end; lengths add up.
        let tx = Transaction {
            table: "t".into(),
            commands: vec![Command::DeleteElements("hairpin".into(), vec![h])],
        };
        let (batch, acks) = encode(&tx, 7);
        assert_eq!(acks, vec![8]);
        let mut at = 0;
        let mut kinds = Vec::new();
        while at < batch.len() {
            let len = u32::from_ne_bytes(batch[at..at + 4].try_into().unwrap()) as usize;
            kinds.push(u16::from_ne_bytes([batch[at + 4], batch[at + 5]]));
            at += len;
        }
        assert_eq!(at, batch.len());
        assert_eq!(
            kinds,
            vec![
                NFNL_MSG_BATCH_BEGIN,
                (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELSETELEM,
                NFNL_MSG_BATCH_END
            ]
        );
    }
}
