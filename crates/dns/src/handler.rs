//! The request handler: answers names of the cluster zone from the
//! [`Index`], forwards the rest, and records metrics for each request.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use hickory_proto::op::{Edns, Header, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{self, SOA, SRV, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::xfer::Protocol;
use hickory_server::authority::MessageResponseBuilder;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};

use crate::forward::Forwarder;
use crate::index::{Answer, Index, Lookup, RecordData};
use crate::metrics::{rcode_label, Metrics, Observation};
use crate::names;

/// The index shared between the watchers (writers) and the handler.
pub type SharedIndex = Arc<RwLock<Index>>;

/// How many CNAMEs are followed inside the zone before giving up.
const MAX_CNAME_CHAIN: usize = 8;

/// Answers DNS requests.
#[derive(Debug, Clone)]
pub struct Handler {
    index: SharedIndex,
    forwarder: Forwarder,
    metrics: Arc<Metrics>,
    ttl: u32,
    zone_label: String,
}

/// The sections of an answer, before conversion to a message.
#[derive(Default)]
struct Reply {
    rcode: ResponseCode,
    authoritative: bool,
    recursion_available: bool,
    authentic_data: bool,
    answers: Vec<Record>,
    authority: Vec<Record>,
    additionals: Vec<Record>,
}

impl Handler {
    /// A handler answering from `index` with `ttl`, forwarding via
    /// `forwarder`.
    pub fn new(index: SharedIndex, forwarder: Forwarder, metrics: Arc<Metrics>, ttl: u32) -> Self {
        let zone_label = format!(
            "{}.",
            index.read().unwrap_or_else(|e| e.into_inner()).zone()
        );
        Handler {
            index,
            forwarder,
            metrics,
            ttl,
            zone_label,
        }
    }

    fn lookup(&self, name: &str, qtype: RecordType) -> Lookup {
        self.index
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .lookup(name, qtype)
    }

    fn soa(&self) -> Answer {
        self.index.read().unwrap_or_else(|e| e.into_inner()).soa()
    }

    /// The answer for one question.
    async fn answer(&self, query: &Query, protocol: Protocol) -> (Reply, &'static str) {
        let qname = query.name().to_ascii();
        let qtype = query.query_type();
        if query.query_class() != DNSClass::IN && query.query_class() != DNSClass::ANY {
            return (
                Reply {
                    rcode: ResponseCode::Refused,
                    ..Reply::default()
                },
                "kubernetes",
            );
        }
        match self.lookup(&qname, qtype) {
            Lookup::NotAuthoritative => (
                self.forward(query, protocol == Protocol::Tcp).await,
                "forward",
            ),
            Lookup::NxDomain => (self.negative(ResponseCode::NXDomain), "kubernetes"),
            Lookup::NoData => (self.negative(ResponseCode::NoError), "kubernetes"),
            Lookup::Answers(found) => (self.positive(query, qtype, found).await, "kubernetes"),
        }
    }

    fn negative(&self, rcode: ResponseCode) -> Reply {
        Reply {
            rcode,
            authoritative: true,
            recursion_available: true,
            authority: to_record(&self.soa(), None, self.ttl).into_iter().collect(),
            ..Reply::default()
        }
    }

    async fn positive(&self, query: &Query, qtype: RecordType, found: Vec<Answer>) -> Reply {
        let mut answers: Vec<Record> = found
            .iter()
            .filter_map(|a| to_record(a, Some(query.name()), self.ttl))
            .collect();
        let mut additionals = Vec::new();

        // Follow a CNAME (ExternalName) the way a recursive server would:
        // inside the zone from the index, outside it from upstream.
        let mut last = found;
        for _ in 0..MAX_CNAME_CHAIN {
            let [Answer {
                data: RecordData::Cname(target),
                ..
            }] = last.as_slice()
            else {
                break;
            };
            if qtype == RecordType::CNAME {
                break;
            }
            match self.lookup(target, qtype) {
                Lookup::Answers(more) => {
                    answers.extend(more.iter().filter_map(|a| to_record(a, None, self.ttl)));
                    last = more;
                }
                Lookup::NotAuthoritative if !self.forwarder.upstreams().is_empty() => {
                    if let Ok(name) = fqdn(target) {
                        let q = Query::query(name, qtype);
                        let reply = self.forward(&q, false).await;
                        if reply.rcode == ResponseCode::NoError {
                            answers.extend(reply.answers);
                        }
                    }
                    break;
                }
                _ => break,
            }
        }

        // SRV targets inside the zone travel with the answer.
        for a in &last {
            if let RecordData::Srv { target, .. } = &a.data {
                for t in [RecordType::A, RecordType::AAAA] {
                    if let Lookup::Answers(addrs) = self.lookup(target, t) {
                        additionals
                            .extend(addrs.iter().filter_map(|x| to_record(x, None, self.ttl)));
                    }
                }
            }
        }
        Reply {
            rcode: ResponseCode::NoError,
            authoritative: true,
            recursion_available: true,
            answers,
            additionals,
            ..Reply::default()
        }
    }

    async fn forward(&self, query: &Query, tcp: bool) -> Reply {
        let metrics = self.metrics.clone();
        let result = self
            .forwarder
            .forward(query, tcp, |to, rcode| {
                metrics.observe_forward(&to.to_string(), rcode)
            })
            .await;
        match result {
            Ok(mut reply) => Reply {
                rcode: reply.response_code(),
                authoritative: false,
                recursion_available: true,
                authentic_data: reply.authentic_data(),
                answers: reply.take_answers(),
                authority: reply.take_name_servers(),
                additionals: reply.take_additionals(),
            },
            Err(e) => {
                tracing::debug!(name = %query.name(), error = %e, "forwarding failed");
                Reply {
                    rcode: ResponseCode::ServFail,
                    recursion_available: true,
                    ..Reply::default()
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let start = Instant::now();
        let builder = MessageResponseBuilder::from_message_request(request);
        let proto = match request.protocol() {
            Protocol::Tcp => "tcp",
            _ => "udp",
        };
        let family = if request.src().is_ipv4() { 1 } else { 2 };

        if request.message_type() != MessageType::Query || request.op_code() != OpCode::Query {
            let msg = builder.error_msg(request.header(), ResponseCode::NotImp);
            return send(&mut response_handle, msg).await;
        }
        let query = match request.request_info() {
            Ok(info) => info.query.original().clone(),
            Err(_) => {
                let msg = builder.error_msg(request.header(), ResponseCode::FormErr);
                return send(&mut response_handle, msg).await;
            }
        };

        let (reply, plugin) = self.answer(&query, request.protocol()).await;

        let mut header = Header::response_from_request(request.header());
        header.set_response_code(reply.rcode);
        header.set_authoritative(reply.authoritative);
        header.set_recursion_available(reply.recursion_available);
        header.set_authentic_data(reply.authentic_data);
        let mut builder = builder;
        let mut reply = reply;
        if let Some(req_edns) = request.edns() {
            let mut edns = Edns::new();
            edns.set_max_payload(req_edns.max_payload().max(512));
            edns.set_version(0);
            builder.edns(edns);
        } else if request.protocol() == Protocol::Udp
            && too_big_for_plain_udp(&header, &query, &reply)
        {
            // Without EDNS a client takes 512 bytes over UDP (RFC 1035);
            // hickory would allow more, so truncate here: the client
            // retries over TCP.
            header.set_truncated(true);
            reply.answers.clear();
            reply.authority.clear();
            reply.additionals.clear();
        }
        let msg = builder.build(
            header,
            reply.answers.iter(),
            reply.authority.iter(),
            std::iter::empty(),
            reply.additionals.iter(),
        );
        let info = send(&mut response_handle, msg).await;

        let zone = if plugin == "kubernetes" {
            self.zone_label.as_str()
        } else {
            "."
        };
        self.metrics.observe(Observation {
            zone,
            proto,
            family,
            qtype: &query.query_type().to_string(),
            rcode: &rcode_label(reply.rcode),
            plugin,
            duration: start.elapsed(),
        });
        info
    }
}

async fn send<'a, R: ResponseHandler>(
    handle: &mut R,
    msg: hickory_server::authority::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
) -> ResponseInfo {
    match handle.send_response(msg).await {
        Ok(info) => info,
        Err(e) => {
            tracing::debug!(error = %e, "cannot send response");
            let mut header = Header::new();
            header.set_response_code(ResponseCode::ServFail);
            header.into()
        }
    }
}

/// Whether the reply encodes to more than 512 bytes.
fn too_big_for_plain_udp(header: &Header, query: &Query, reply: &Reply) -> bool {
    if reply.answers.is_empty() && reply.authority.is_empty() && reply.additionals.is_empty() {
        // A header and one question (name <= 255 bytes) always fit.
        return false;
    }
    let mut msg = hickory_proto::op::Message::new();
    msg.set_header(*header)
        .add_query(query.clone())
        .add_answers(reply.answers.iter().cloned())
        .add_name_servers(reply.authority.iter().cloned())
        .add_additionals(reply.additionals.iter().cloned());
    msg.to_vec().map(|v| v.len() > 512).unwrap_or(true)
}

fn fqdn(name: &str) -> Result<Name, hickory_proto::ProtoError> {
    let mut n = Name::from_ascii(name)?;
    n.set_fqdn(true);
    Ok(n)
}

/// Converts an index answer to a wire record. `query_name` (when the
/// answer is for the name asked) keeps the client's spelling, so clients
/// that randomise case (0x20) accept it.
fn to_record(a: &Answer, query_name: Option<&Name>, ttl: u32) -> Option<Record> {
    let owner = match query_name {
        Some(q) if names::normalize(&q.to_ascii()) == a.name => q.clone(),
        _ => fqdn(&a.name).ok()?,
    };
    let rdata = match &a.data {
        RecordData::A(ip) => RData::A(rdata::A(*ip)),
        RecordData::Aaaa(ip) => RData::AAAA(rdata::AAAA(*ip)),
        RecordData::Srv {
            priority,
            weight,
            port,
            target,
        } => RData::SRV(SRV::new(*priority, *weight, *port, fqdn(target).ok()?)),
        RecordData::Cname(t) => RData::CNAME(rdata::CNAME(fqdn(t).ok()?)),
        RecordData::Ptr(t) => RData::PTR(rdata::PTR(fqdn(t).ok()?)),
        RecordData::Txt(s) => RData::TXT(TXT::new(vec![s.clone()])),
        RecordData::Ns(t) => RData::NS(rdata::NS(fqdn(t).ok()?)),
        RecordData::Soa {
            mname,
            rname,
            serial,
        } => RData::SOA(SOA::new(
            fqdn(mname).ok()?,
            fqdn(rname).ok()?,
            *serial,
            7200,
            1800,
            86400,
            ttl,
        )),
    };
    Some(Record::from_rdata(owner, ttl, rdata))
}
