//! Shared pieces of the integration tests: resolvers over UDP or TCP, a
//! plain HTTP GET, and a tiny upstream DNS server.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::config::{
    NameServerConfig, NameServerConfigGroup, ResolveHosts, ResolverConfig,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::{rdata, RData, Record, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{ResolveError, TokioResolver};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const PATIENCE: Duration = Duration::from_secs(30);

/// A resolver that asks only `addr` over `protocol`, without cache or
/// search domains.
pub fn resolver(addr: SocketAddr, protocol: Protocol) -> TokioResolver {
    let group = NameServerConfigGroup::from(vec![NameServerConfig::new(addr, protocol)]);
    let config = ResolverConfig::from_parts(None, vec![], group);
    let mut b = TokioResolver::builder_with_config(config, TokioConnectionProvider::default());
    let o = b.options_mut();
    o.cache_size = 0;
    o.ndots = 0;
    o.attempts = 2;
    o.timeout = Duration::from_secs(5);
    o.use_hosts_file = ResolveHosts::Never;
    o.preserve_intermediates = true;
    o.try_tcp_on_error = false;
    b.build()
}

/// The response code and whether an SOA came with a negative answer.
pub fn negative(err: &ResolveError) -> (ResponseCode, bool) {
    use hickory_resolver::proto::ProtoErrorKind;
    match err.proto().map(|p| p.kind()) {
        Some(ProtoErrorKind::NoRecordsFound {
            response_code, soa, ..
        }) => (*response_code, soa.is_some()),
        _ => panic!("not a negative answer: {err:?}"),
    }
}

/// GET `path` from `addr`: the status code and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    let status = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Polls `f` until it yields, for at most [`PATIENCE`].
pub async fn wait_for<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A tiny authoritative server for `upstream.test.` on UDP and TCP:
/// `www.upstream.test` A 192.0.2.7, everything else NXDOMAIN.
pub struct Upstream {
    pub addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn upstream_answer(request: &[u8]) -> Option<Vec<u8>> {
    let req = Message::from_vec(request).ok()?;
    let q = req.queries().first()?.clone();
    let mut resp = Message::new();
    resp.set_id(req.id())
        .set_message_type(MessageType::Response)
        .set_op_code(req.op_code())
        .set_recursion_desired(req.recursion_desired())
        .set_recursion_available(true)
        .set_authoritative(true)
        .add_query(q.clone());
    let name = q.name().to_ascii().to_ascii_lowercase();
    if name == "www.upstream.test." {
        if q.query_type() == RecordType::A {
            resp.add_answer(Record::from_rdata(
                q.name().clone(),
                60,
                RData::A(rdata::A(Ipv4Addr::new(192, 0, 2, 7))),
            ));
        }
    } else {
        resp.set_response_code(ResponseCode::NXDomain);
    }
    resp.to_vec().ok()
}

impl Upstream {
    pub async fn start() -> Self {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        let tcp = tokio::net::TcpListener::bind(addr).await.unwrap();
        let u = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = udp.recv_from(&mut buf).await else {
                    continue;
                };
                if let Some(out) = upstream_answer(&buf[..n]) {
                    let _ = udp.send_to(&out, from).await;
                }
            }
        });
        let t = tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = tcp.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    loop {
                        let mut len = [0u8; 2];
                        if s.read_exact(&mut len).await.is_err() {
                            return;
                        }
                        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
                        if s.read_exact(&mut msg).await.is_err() {
                            return;
                        }
                        let Some(out) = upstream_answer(&msg) else {
                            return;
                        };
                        let mut framed = (out.len() as u16).to_be_bytes().to_vec();
                        framed.extend(out);
                        if s.write_all(&framed).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Upstream {
            addr,
            tasks: vec![u, t],
        }
    }
}
