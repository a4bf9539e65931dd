//! The DNS benchmark's baseline: a UDP responder that answers every query
//! with one fixed A record, built by patching the query's bytes. It does
//! no lookup and no message parsing beyond finding the question's end, so
//! measured against it the load generator shows what the socket loop and
//! the generator itself cost, and the difference is our server's own cost.

use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// The size of a DNS header.
const HEADER: usize = 12;

/// The answer to `query` (a wire-format DNS message with one question):
/// the same ID and question, QR and RA set, NOERROR and one A record
/// `ip` with TTL 5 pointing at the question name. `None` for anything
/// that is not a one-question query.
pub fn answer(query: &[u8], ip: Ipv4Addr) -> Option<Vec<u8>> {
    if query.len() < HEADER || query[2] & 0x80 != 0 {
        return None;
    }
    let qdcount = u16::from_be_bytes([query[4], query[5]]);
    if qdcount != 1 {
        return None;
    }
    // Walk the question name's labels (queries carry no compression).
    let mut i = HEADER;
    loop {
        let len = *query.get(i)? as usize;
        if len == 0 {
            i += 1;
            break;
        }
        if len & 0xc0 != 0 {
            return None;
        }
        i += 1 + len;
    }
    let question_end = i + 4;
    if query.len() < question_end {
        return None;
    }
    let mut out = Vec::with_capacity(question_end + 16);
    out.extend_from_slice(&query[..question_end]);
    // QR=1, keep opcode and RD; RA=1, RCODE=0.
    out[2] = 0x80 | (query[2] & 0x79);
    out[3] = 0x80;
    // QDCOUNT 1, ANCOUNT 1, NSCOUNT 0, ARCOUNT 0 (any EDNS record dropped).
    out[4..12].copy_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0]);
    // Name: pointer to offset 12; type A, class IN, TTL 5, RDLENGTH 4.
    out.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4]);
    out.extend_from_slice(&ip.octets());
    Some(out)
}

/// Serves [`answer`] on `addr` (port 0 picks one) from one task: receive,
/// answer, send. Returns the bound address and the task (abort it to stop).
pub async fn serve(
    addr: SocketAddr,
    ip: Ipv4Addr,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let sock = UdpSocket::bind(addr).await?;
    let local = sock.local_addr()?;
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                continue;
            };
            if let Some(reply) = answer(&buf[..n], ip) {
                let _ = sock.send_to(&reply, peer).await;
            }
        }
    });
    Ok((local, task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::{Name, RData, RecordType};

    fn query(name: &str) -> Vec<u8> {
        let mut m = Message::new();
        m.set_id(4321)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query)
            .set_recursion_desired(true)
            .add_query(Query::query(
                Name::from_ascii(name).expect("name"),
                RecordType::A,
            ));
        m.to_vec().expect("encode")
    }

    #[test]
    fn answers_with_the_fixed_record() {
        let ip = Ipv4Addr::new(192, 0, 2, 7);
        let reply = answer(&query("svc-1.bench.svc.cluster.local."), ip).expect("answer");
        let m = Message::from_vec(&reply).expect("decode");
        assert_eq!(m.id(), 4321);
        assert_eq!(m.message_type(), MessageType::Response);
        assert_eq!(m.response_code(), ResponseCode::NoError);
        assert!(m.recursion_desired());
        assert_eq!(m.queries().len(), 1);
        assert_eq!(m.answers().len(), 1);
        let rr = &m.answers()[0];
        assert_eq!(rr.name().to_ascii(), "svc-1.bench.svc.cluster.local.");
        assert_eq!(rr.ttl(), 5);
        match rr.data() {
            RData::A(a) => assert_eq!(a.0, ip),
            other => panic!("not an A record: {other:?}"),
        }
    }

    #[test]
    fn ignores_what_is_not_a_query() {
        let ip = Ipv4Addr::LOCALHOST;
        assert!(answer(&[0; 5], ip).is_none());
        let mut q = query("a.b.");
        q[2] |= 0x80; // a response
        assert!(answer(&q, ip).is_none());
        let q = query("a.b.");
        assert!(answer(&q[..q.len() - 2], ip).is_none());
    }

    #[tokio::test]
    async fn serves_over_udp() {
        let (addr, task) = serve(([127, 0, 0, 1], 0).into(), Ipv4Addr::new(10, 0, 0, 1))
            .await
            .expect("bind");
        let names = [(Name::from_ascii("x.y.").expect("name"), RecordType::A)];
        let r = dns::loadgen::run_load(addr, &names, 2, std::time::Duration::from_millis(200))
            .await
            .expect("load");
        task.abort();
        assert!(r.noerror > 0 && r.failed == 0, "{r:?}");
    }
}
