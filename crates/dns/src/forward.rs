//! Forwarding names outside the cluster zone to the host's resolvers, as
//! CoreDNS's `forward . /etc/resolv.conf` does: the question is re-sent
//! upstream (UDP, then TCP when the answer is truncated) and the answer
//! relayed. With no upstream the caller answers SERVFAIL at once.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::error::{Error, ForwardError};

/// How large an upstream UDP answer we accept (the EDNS size we advertise).
const UDP_PAYLOAD: u16 = 1232;

/// The upstream resolvers and how long to wait for each.
#[derive(Debug, Clone)]
pub struct Forwarder {
    upstreams: Vec<SocketAddr>,
    timeout: Duration,
}

impl Forwarder {
    /// Forwards to `upstreams`, in order, waiting `timeout` for each.
    pub fn new(upstreams: Vec<SocketAddr>, timeout: Duration) -> Self {
        Forwarder { upstreams, timeout }
    }

    /// The nameservers of a resolv.conf file, without those that would loop
    /// back to us (see [`skip_self`]).
    pub fn from_resolv_conf(
        path: &Path,
        own: &[SocketAddr],
        timeout: Duration,
    ) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ResolvConf {
            path: path.to_path_buf(),
            source,
        })?;
        let upstreams = parse_resolv_conf(&text)
            .into_iter()
            .map(|ip| SocketAddr::new(ip, 53))
            .filter(|ns| {
                let skip = skip_self(*ns, own);
                if skip {
                    tracing::info!(nameserver = %ns, "skipping nameserver that is this server");
                }
                !skip
            })
            .collect();
        Ok(Forwarder::new(upstreams, timeout))
    }

    /// The upstreams in use.
    pub fn upstreams(&self) -> &[SocketAddr] {
        &self.upstreams
    }

    /// Asks the upstreams in turn; the first answer wins.
    pub async fn forward(
        &self,
        query: &Query,
        tcp_first: bool,
        on_reply: impl Fn(SocketAddr, &str),
    ) -> Result<Message, ForwardError> {
        if self.upstreams.is_empty() {
            return Err(ForwardError::NoUpstream);
        }
        let request = build_request(query)?;
        let mut last = ForwardError::NoUpstream;
        for upstream in &self.upstreams {
            let result = tokio::time::timeout(self.timeout, async {
                if tcp_first {
                    return exchange_tcp(*upstream, &request).await;
                }
                let reply = exchange_udp(*upstream, &request).await?;
                if reply.truncated() {
                    exchange_tcp(*upstream, &request).await
                } else {
                    Ok(reply)
                }
            })
            .await
            .unwrap_or(Err(ForwardError::Timeout));
            match result {
                Ok(reply) => {
                    on_reply(
                        *upstream,
                        &crate::metrics::rcode_label(reply.response_code()),
                    );
                    return Ok(reply);
                }
                Err(e) => {
                    tracing::debug!(upstream = %upstream, error = %e, "upstream failed");
                    on_reply(
                        *upstream,
                        if matches!(e, ForwardError::Timeout) {
                            "timeout"
                        } else {
                            "error"
                        },
                    );
                    last = e;
                }
            }
        }
        Err(last)
    }
}

/// Whether `ns` is this server: the listen address itself, or — when we
/// listen on all addresses of port 53 — a loopback or one of `own`'s
/// addresses (the advertise address, the Service IP).
pub fn skip_self(ns: SocketAddr, own: &[SocketAddr]) -> bool {
    own.iter().any(|me| {
        if me.port() != ns.port() {
            return false;
        }
        if me.ip() == ns.ip() {
            return true;
        }
        me.ip().is_unspecified() && ns.ip().is_loopback()
    })
}

/// The `nameserver` addresses of resolv.conf text, in order.
pub fn parse_resolv_conf(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| {
            let line = line.split(['#', ';']).next()?;
            let mut words = line.split_whitespace();
            if words.next()? != "nameserver" {
                return None;
            }
            // Zone indices (fe80::1%eth0) cannot be used from here.
            words.next()?.split('%').next()?.parse().ok()
        })
        .collect()
}

fn build_request(query: &Query) -> Result<Vec<u8>, ForwardError> {
    let mut msg = Message::new();
    msg.set_id(rand::random())
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(query.clone());
    let mut edns = Edns::new();
    edns.set_max_payload(UDP_PAYLOAD);
    msg.set_edns(edns);
    msg.to_vec().map_err(ForwardError::Encode)
}

fn matches(request: &[u8], reply: &Message) -> bool {
    request.len() >= 2 && reply.id() == u16::from_be_bytes([request[0], request[1]])
}

async fn exchange_udp(upstream: SocketAddr, request: &[u8]) -> Result<Message, ForwardError> {
    let bind: SocketAddr = if upstream.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(bind).await.map_err(ForwardError::Io)?;
    sock.connect(upstream).await.map_err(ForwardError::Io)?;
    sock.send(request).await.map_err(ForwardError::Io)?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = sock.recv(&mut buf).await.map_err(ForwardError::Io)?;
        // A reply to someone else's question (or garbage) is ignored.
        if let Ok(reply) = Message::from_vec(&buf[..n]) {
            if matches(request, &reply) && reply.message_type() == MessageType::Response {
                return Ok(reply);
            }
        }
    }
}

async fn exchange_tcp(upstream: SocketAddr, request: &[u8]) -> Result<Message, ForwardError> {
    let mut stream = TcpStream::connect(upstream)
        .await
        .map_err(ForwardError::Io)?;
    let len = u16::try_from(request.len()).map_err(|_| ForwardError::TooLarge)?;
    let mut framed = Vec::with_capacity(request.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(request);
    stream.write_all(&framed).await.map_err(ForwardError::Io)?;
    let mut len = [0u8; 2];
    stream
        .read_exact(&mut len)
        .await
        .map_err(ForwardError::Io)?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream
        .read_exact(&mut buf)
        .await
        .map_err(ForwardError::Io)?;
    let reply = Message::from_vec(&buf).map_err(ForwardError::Decode)?;
    if !matches(request, &reply) {
        return Err(ForwardError::Mismatch);
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers() {
        let text = "# generated\nsearch example.com\nnameserver 10.255.255.53\nnameserver  fe80::1%eth0 # link-local\noptions ndots:5\nnameserver bogus\n";
        assert_eq!(
            parse_resolv_conf(text),
            [
                "10.255.255.53".parse::<IpAddr>().unwrap(),
                "fe80::1".parse().unwrap()
            ]
        );
    }

    #[test]
    fn never_forward_to_ourselves() {
        let any53: SocketAddr = "0.0.0.0:53".parse().unwrap();
        let node: SocketAddr = "192.168.1.5:53".parse().unwrap();
        let svc: SocketAddr = "10.0.0.10:53".parse().unwrap();
        let own = [any53, node, svc];
        assert!(skip_self("127.0.0.53:53".parse().unwrap(), &own));
        assert!(skip_self("192.168.1.5:53".parse().unwrap(), &own));
        assert!(skip_self("10.0.0.10:53".parse().unwrap(), &own));
        assert!(!skip_self("10.255.255.53:53".parse().unwrap(), &own));
        // Listening on another port: a local resolver on :53 is fine.
        let own = ["0.0.0.0:1053".parse().unwrap()];
        assert!(!skip_self("127.0.0.53:53".parse().unwrap(), &own));
    }

    #[tokio::test]
    async fn no_upstream_fails_at_once() {
        let f = Forwarder::new(Vec::new(), Duration::from_secs(30));
        let q = Query::query(
            "example.com.".parse().unwrap(),
            hickory_proto::rr::RecordType::A,
        );
        assert!(matches!(
            f.forward(&q, false, |_, _| {}).await,
            Err(ForwardError::NoUpstream)
        ));
    }
}
