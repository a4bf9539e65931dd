//! The node IPAM controller (upstream `pkg/controller/nodeipam`, the
//! `RangeAllocator`): with `--allocate-node-cidrs`, every Node without
//! `spec.podCIDRs` gets one subnet of each `--cluster-cidr` range, of size
//! `--node-cidr-mask-size` (IPv4) or `--node-cidr-mask-size-ipv6`.
//!
//! The allocation map lives in memory and is rebuilt from the Nodes' own
//! `podCIDRs` before any allocation (the informer is synced first), so a
//! restart never hands out a subnet twice; a Node's subnets are freed when
//! it is deleted. The write carries the Node's `resourceVersion`, so a
//! concurrent change is never overwritten.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use client_support::{InformerEvent, WorkQueue};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::events::{record, EventType};
use crate::util::is_code;
use crate::worker::run_workers;
use crate::{Context, Error};

const COMPONENT: &str = "node-ipam-controller";
/// How soon a Node that found every range full is tried again.
const FULL_RETRY: Duration = Duration::from_secs(30);

/// One cluster range cut into equal node subnets.
#[derive(Debug)]
struct Range {
    v6: bool,
    base: u128,
    mask: u8,
    /// Number of node subnets (capped so it fits in a u64).
    count: u64,
    used: BTreeSet<u64>,
    /// Where the next search starts (upstream's `nextCandidate`).
    next: u64,
}

impl Range {
    fn bits(&self) -> u8 {
        if self.v6 {
            128
        } else {
            32
        }
    }

    fn subnet(&self, i: u64) -> String {
        let addr = self.base + (u128::from(i) << (self.bits() - self.mask));
        let ip = if self.v6 {
            IpAddr::V6(Ipv6Addr::from(addr))
        } else {
            IpAddr::V4(Ipv4Addr::from(addr as u32))
        };
        format!("{ip}/{}", self.mask)
    }

    /// The index of `cidr` if it is one of this range's node subnets.
    fn index_of(&self, cidr: &str) -> Option<u64> {
        let (ip, len) = parse_cidr(cidr).ok()?;
        let (v6, addr) = split_ip(ip);
        if v6 != self.v6 || len != self.mask {
            return None;
        }
        let off = addr.checked_sub(self.base)?;
        let i = off >> (self.bits() - self.mask);
        (i < u128::from(self.count)).then_some(i as u64)
    }

    fn allocate(&mut self) -> Option<u64> {
        for k in 0..self.count {
            let i = (self.next + k) % self.count;
            if !self.used.contains(&i) {
                self.used.insert(i);
                self.next = (i + 1) % self.count;
                return Some(i);
            }
        }
        None
    }
}

fn split_ip(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a))),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

fn parse_cidr(s: &str) -> Result<(IpAddr, u8), String> {
    let (ip, len) = s.trim().split_once('/').ok_or("missing prefix length")?;
    let ip: IpAddr = ip.parse().map_err(|e| format!("{e}"))?;
    let len: u8 = len.parse().map_err(|e| format!("{e}"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err(format!("prefix length {len} exceeds {max}"));
    }
    Ok((ip, len))
}

/// The in-memory allocation map over every cluster range.
#[derive(Debug)]
pub struct Allocator {
    ranges: Vec<Range>,
    /// The subnets each Node holds (or is being given).
    by_node: HashMap<String, Vec<String>>,
}

impl Allocator {
    /// Parses `--cluster-cidr` (one range per family) with the mask sizes.
    pub fn new(cluster_cidr: &str, mask_v4: u8, mask_v6: u8) -> Result<Self, Error> {
        let bad = |reason: String| Error::InvalidFlag {
            flag: "--cluster-cidr",
            value: cluster_cidr.to_string(),
            reason,
        };
        let mut ranges: Vec<Range> = Vec::new();
        for part in cluster_cidr.split(',').filter(|p| !p.trim().is_empty()) {
            let (ip, prefix) = parse_cidr(part).map_err(bad)?;
            let (v6, addr) = split_ip(ip);
            if ranges.iter().any(|r| r.v6 == v6) {
                return Err(bad("at most one range per IP family".into()));
            }
            let bits = if v6 { 128u8 } else { 32 };
            let mask = if v6 { mask_v6 } else { mask_v4 };
            if mask < prefix || mask > bits {
                return Err(bad(format!(
                    "node mask size /{mask} does not fit in {}",
                    part.trim()
                )));
            }
            let host = bits - prefix;
            let base = if host >= 128 {
                0
            } else {
                addr & !((1u128 << host) - 1)
            };
            let count = 1u64
                .checked_shl(u32::from(mask - prefix))
                .unwrap_or(u64::MAX);
            ranges.push(Range {
                v6,
                base,
                mask,
                count,
                used: BTreeSet::new(),
                next: 0,
            });
        }
        if ranges.is_empty() {
            return Err(bad("no range given".into()));
        }
        Ok(Allocator {
            ranges,
            by_node: HashMap::new(),
        })
    }

    /// Records the subnets a Node already has (from its spec).
    pub fn occupy(&mut self, node: &str, cidrs: &[String]) {
        if self.by_node.get(node).map(Vec::as_slice) == Some(cidrs) {
            return;
        }
        self.release(node);
        for c in cidrs {
            for r in &mut self.ranges {
                if let Some(i) = r.index_of(c) {
                    if !r.used.insert(i) {
                        tracing::warn!(node, cidr = %c, "pod CIDR already held by another node");
                    }
                }
            }
        }
        self.by_node.insert(node.to_string(), cidrs.to_vec());
    }

    /// Frees a Node's subnets.
    pub fn release(&mut self, node: &str) {
        let Some(cidrs) = self.by_node.remove(node) else {
            return;
        };
        for c in cidrs {
            for r in &mut self.ranges {
                if let Some(i) = r.index_of(&c) {
                    r.used.remove(&i);
                }
            }
        }
    }

    /// The subnets for a Node: what it was already given, or one new
    /// subnet per range; `None` when a range is full.
    pub fn allocate(&mut self, node: &str) -> Option<Vec<String>> {
        if let Some(c) = self.by_node.get(node) {
            return Some(c.clone());
        }
        let mut got: Vec<(usize, u64)> = Vec::new();
        for (ri, r) in self.ranges.iter_mut().enumerate() {
            match r.allocate() {
                Some(i) => got.push((ri, i)),
                None => {
                    for (ri, i) in got {
                        self.ranges[ri].used.remove(&i);
                    }
                    return None;
                }
            }
        }
        let cidrs: Vec<String> = got
            .iter()
            .map(|(ri, i)| self.ranges[*ri].subnet(*i))
            .collect();
        self.by_node.insert(node.to_string(), cidrs.clone());
        Some(cidrs)
    }
}

/// The subnets in a Node's spec (`podCIDRs`, else `podCIDR`).
fn node_cidrs(node: &Node) -> Vec<String> {
    let spec = node.spec.as_ref();
    let list = spec
        .and_then(|s| s.pod_cidrs.clone())
        .filter(|l| !l.is_empty());
    match list {
        Some(l) => l,
        None => spec
            .and_then(|s| s.pod_cidr.clone())
            .filter(|c| !c.is_empty())
            .into_iter()
            .collect(),
    }
}

/// The controller: its queue and the allocation map.
pub struct NodeIpamController {
    ctx: Arc<Context>,
    queue: WorkQueue<String>,
    alloc: Arc<Mutex<Allocator>>,
}

fn lock(a: &Mutex<Allocator>) -> std::sync::MutexGuard<'_, Allocator> {
    a.lock().unwrap_or_else(|e| e.into_inner())
}

impl NodeIpamController {
    /// Parses the ranges and subscribes to Nodes.
    pub fn new(ctx: Arc<Context>, cluster_cidr: &str) -> Result<Self, Error> {
        let alloc = Arc::new(Mutex::new(Allocator::new(
            cluster_cidr,
            ctx.opts.node_cidr_mask_size,
            ctx.opts.node_cidr_mask_size_ipv6,
        )?));
        let queue: WorkQueue<String> = WorkQueue::new();
        let q = queue.clone();
        let a = alloc.clone();
        ctx.nodes.subscribe(move |ev| match ev {
            InformerEvent::Applied { new, .. } => {
                let cidrs = node_cidrs(new);
                if !cidrs.is_empty() {
                    // Marked at once, so no allocation races the queue.
                    lock(&a).occupy(&new.name_any(), &cidrs);
                }
                q.add(new.name_any());
            }
            InformerEvent::Deleted(n) => q.add(n.name_any()),
        });
        Ok(NodeIpamController { ctx, queue, alloc })
    }

    /// The work queue (shut down to stop).
    pub fn queue(&self) -> WorkQueue<String> {
        self.queue.clone()
    }

    /// Rebuilds the map from the synced Nodes, then runs one worker
    /// (allocation is serialised anyway).
    pub async fn run(self) {
        {
            let mut a = lock(&self.alloc);
            for n in self.ctx.nodes.store().state() {
                let cidrs = node_cidrs(&n);
                if !cidrs.is_empty() {
                    a.occupy(&n.name_any(), &cidrs);
                }
            }
        }
        let ctx = self.ctx.clone();
        let alloc = self.alloc.clone();
        run_workers("nodeipam", self.queue, 1, ctx.metrics.clone(), move |key| {
            let ctx = ctx.clone();
            let alloc = alloc.clone();
            async move { sync(&ctx, &alloc, &key).await }
        })
        .await;
    }
}

#[tracing::instrument(skip(ctx, alloc), fields(node = %name))]
async fn sync(
    ctx: &Context,
    alloc: &Mutex<Allocator>,
    name: &str,
) -> Result<Option<Duration>, Error> {
    let Some(node) = ctx.nodes.store().get(&ObjectRef::<Node>::new(name)) else {
        lock(alloc).release(name);
        return Ok(None);
    };
    let have = node_cidrs(&node);
    if !have.is_empty() {
        lock(alloc).occupy(name, &have);
        return Ok(None);
    }
    if node.metadata.deletion_timestamp.is_some() {
        return Ok(None);
    }
    let got = lock(alloc).allocate(name);
    let Some(cidrs) = got else {
        tracing::error!("no pod CIDR left in --cluster-cidr for the node");
        record(
            ctx,
            COMPONENT,
            &*node,
            EventType::Normal,
            "CIDRNotAvailable",
            &format!("Node {name} status is now: CIDRNotAvailable"),
        )
        .await;
        return Ok(Some(FULL_RETRY));
    };
    let api: Api<Node> = Api::all(ctx.client.clone());
    let patch = json!({
        "metadata": {"resourceVersion": node.metadata.resource_version},
        "spec": {"podCIDR": cidrs[0], "podCIDRs": cidrs},
    });
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        Ok(_) => {
            tracing::info!(cidrs = ?cidrs, "allocated pod CIDRs");
            Ok(None)
        }
        Err(e) if is_code(&e, 404) => {
            lock(alloc).release(name);
            Ok(None)
        }
        // The held subnets are kept for this node and retried.
        Err(e) => Err(Error::kube(format!("setting podCIDRs of node {name}"))(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_distinct_subnets_and_reuses_freed_ones_later() {
        let mut a = Allocator::new("10.244.0.0/22", 24, 64).unwrap();
        a.occupy("old", &["10.244.0.0/24".into()]);
        let x = a.allocate("x").unwrap();
        let y = a.allocate("y").unwrap();
        let z = a.allocate("z").unwrap();
        assert_eq!(x, ["10.244.1.0/24"]);
        assert_eq!(y, ["10.244.2.0/24"]);
        assert_eq!(z, ["10.244.3.0/24"]);
        // Asking again for the same node returns what it holds.
        assert_eq!(a.allocate("x").unwrap(), x);
        assert!(a.allocate("w").is_none(), "range is full");
        a.release("y");
        assert_eq!(a.allocate("w").unwrap(), ["10.244.2.0/24"]);
    }

    #[test]
    fn dual_stack_and_bad_flags() {
        let mut a = Allocator::new("10.1.0.0/16,fd00:10::/56", 24, 64).unwrap();
        assert_eq!(
            a.allocate("n").unwrap(),
            ["10.1.0.0/24".to_string(), "fd00:10::/64".to_string()]
        );
        assert!(Allocator::new("10.0.0.0/25", 24, 64).is_err());
        assert!(Allocator::new("10.0.0.0/16,10.1.0.0/16", 24, 64).is_err());
        assert!(Allocator::new("nonsense", 24, 64).is_err());
    }
}
