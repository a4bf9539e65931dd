//! A small UDP load generator for benchmarks: `concurrency` workers each
//! send one query at a time (closed loop) for `duration`, cycling through
//! the given questions, and the report gives queries per second and
//! latency percentiles.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tokio::net::UdpSocket;

/// How long a worker waits for one answer before counting a timeout.
const QUERY_TIMEOUT: Duration = Duration::from_secs(1);

/// What a load run measured.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Queries sent.
    pub sent: u64,
    /// Answers received (any response code).
    pub answered: u64,
    /// Answers with NOERROR.
    pub noerror: u64,
    /// Answers with NXDOMAIN.
    pub nxdomain: u64,
    /// Queries with no answer in time, or a socket error.
    pub failed: u64,
    /// Answered queries per second of wall time.
    pub qps: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Slowest answer.
    pub max: Duration,
    /// Wall time of the run.
    pub elapsed: Duration,
}

/// Sends queries for `names` to `target` over UDP from `concurrency`
/// workers for `duration`.
pub async fn run_load(
    target: SocketAddr,
    names: &[(Name, RecordType)],
    concurrency: usize,
    duration: Duration,
) -> std::io::Result<LoadReport> {
    if names.is_empty() {
        return Ok(LoadReport::default());
    }
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = Vec::new();
    for w in 0..concurrency.max(1) {
        let names = names.to_vec();
        workers.push(tokio::spawn(worker(target, names, w, deadline)));
    }
    let mut report = LoadReport::default();
    let mut latencies = Vec::new();
    for w in workers {
        let part = w.await.map_err(std::io::Error::other)??;
        report.sent += part.sent;
        report.answered += part.answered;
        report.noerror += part.noerror;
        report.nxdomain += part.nxdomain;
        report.failed += part.failed;
        latencies.extend(part.latencies);
    }
    report.elapsed = start.elapsed();
    report.qps = report.answered as f64 / report.elapsed.as_secs_f64().max(1e-9);
    latencies.sort();
    let pct = |p: f64| -> Duration {
        if latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[i.min(latencies.len() - 1)]
    };
    report.p50 = pct(0.50);
    report.p99 = pct(0.99);
    report.max = latencies.last().copied().unwrap_or_default();
    Ok(report)
}

#[derive(Default)]
struct WorkerReport {
    sent: u64,
    answered: u64,
    noerror: u64,
    nxdomain: u64,
    failed: u64,
    latencies: Vec<Duration>,
}

async fn worker(
    target: SocketAddr,
    names: Vec<(Name, RecordType)>,
    offset: usize,
    deadline: Instant,
) -> std::io::Result<WorkerReport> {
    let bind: SocketAddr = if target.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(bind).await?;
    sock.connect(target).await?;
    let mut buf = vec![0u8; 4096];
    let mut out = WorkerReport::default();
    let mut id: u16 = (offset as u16).wrapping_mul(7919);
    let mut i = offset;
    while Instant::now() < deadline {
        let (name, qtype) = &names[i % names.len()];
        i += 1;
        id = id.wrapping_add(1);
        let mut msg = Message::new();
        msg.set_id(id)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query)
            .set_recursion_desired(true)
            .add_query(Query::query(name.clone(), *qtype));
        let bytes = msg.to_vec().map_err(std::io::Error::other)?;
        let sent_at = Instant::now();
        out.sent += 1;
        if sock.send(&bytes).await.is_err() {
            out.failed += 1;
            continue;
        }
        let answer = tokio::time::timeout(QUERY_TIMEOUT, async {
            loop {
                let n = sock.recv(&mut buf).await?;
                if let Ok(reply) = Message::from_vec(&buf[..n]) {
                    if reply.id() == id {
                        return Ok::<_, std::io::Error>(reply.response_code());
                    }
                }
            }
        })
        .await;
        match answer {
            Ok(Ok(rcode)) => {
                out.latencies.push(sent_at.elapsed());
                out.answered += 1;
                if rcode == ResponseCode::NoError {
                    out.noerror += 1;
                } else if rcode == ResponseCode::NXDomain {
                    out.nxdomain += 1;
                }
            }
            _ => out.failed += 1,
        }
    }
    Ok(out)
}
