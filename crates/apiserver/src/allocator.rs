//! Service cluster IP and node port allocation.
//!
//! As upstream, each range's allocation bitmap is one etcd key
//! (`<prefix>/ranges/serviceips`, `<prefix>/ranges/servicenodeports`) updated
//! with compare-and-swap, so several apiservers never hand out the same value.

use std::net::Ipv4Addr;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine;
use serde_json::json;
use storage::{StorageError, Store};

/// An IPv4 CIDR such as `10.0.0.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub base: Ipv4Addr,
    pub prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (ip, len) = s
            .split_once('/')
            .ok_or_else(|| format!("invalid CIDR address: {s}"))?;
        let ip: Ipv4Addr = ip
            .parse()
            .map_err(|_| format!("invalid CIDR address: {s}"))?;
        let prefix: u8 = len
            .parse()
            .map_err(|_| format!("invalid CIDR address: {s}"))?;
        if prefix > 30 {
            return Err(format!("CIDR {s} is too small for a service range"));
        }
        let mask = u32::MAX << (32 - prefix);
        Ok(Cidr {
            base: Ipv4Addr::from(u32::from(ip) & mask),
            prefix,
        })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

impl Cidr {
    /// Usable addresses: network and broadcast addresses excluded.
    pub fn size(&self) -> u32 {
        (1u32 << (32 - self.prefix)) - 2
    }
    /// The n-th usable address (0 → base+1).
    pub fn nth(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + 1 + n)
    }
    /// The offset of an address, if inside the usable range.
    pub fn offset(&self, ip: Ipv4Addr) -> Option<u32> {
        let v = u32::from(ip);
        let b = u32::from(self.base);
        if v <= b || v > b + self.size() {
            return None;
        }
        Some(v - b - 1)
    }
}

/// A port range such as `30000-32767`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub base: u16,
    pub size: u16,
}

impl FromStr for PortRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = match s.split_once('-') {
            Some((a, b)) => (a, b),
            None => (s, s),
        };
        let a: u16 = a
            .trim()
            .parse()
            .map_err(|_| format!("invalid port range: {s}"))?;
        let b: u16 = b
            .trim()
            .parse()
            .map_err(|_| format!("invalid port range: {s}"))?;
        if b < a {
            return Err(format!("invalid port range: {s}"));
        }
        Ok(PortRange {
            base: a,
            size: b - a + 1,
        })
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}-{}",
            self.base,
            self.base as u32 + self.size as u32 - 1
        )
    }
}

impl PortRange {
    pub fn contains(&self, p: i64) -> bool {
        p >= self.base as i64 && p < self.base as i64 + self.size as i64
    }
}

/// Why an allocation failed.
#[derive(Debug, thiserror::Error)]
pub enum AllocError {
    #[error("range is full")]
    Full,
    #[error("provided {what} is already allocated")]
    Allocated { what: &'static str },
    #[error("provided {what} is not in the valid range. The range of valid {what}s is {range}")]
    OutOfRange { what: &'static str, range: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A bitmap allocator persisted in one etcd key.
pub struct RangeAllocator {
    store: Arc<dyn Store>,
    key: String,
    range: String,
    size: u32,
    what: &'static str,
}

impl RangeAllocator {
    pub fn new(
        store: Arc<dyn Store>,
        key: String,
        range: String,
        size: u32,
        what: &'static str,
    ) -> Self {
        RangeAllocator {
            store,
            key,
            range,
            size,
            what,
        }
    }

    async fn load(&self) -> Result<(Vec<u8>, i64), AllocError> {
        match self.store.get(&self.key).await? {
            Some(kv) => {
                let v: serde_json::Value = serde_json::from_slice(&kv.value).unwrap_or_default();
                let data = v["data"]
                    .as_str()
                    .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                    .unwrap_or_default();
                Ok((data, kv.mod_revision))
            }
            None => Ok((Vec::new(), 0)),
        }
    }

    async fn save(&self, data: &[u8], rev: i64) -> Result<bool, AllocError> {
        let body = serde_json::to_vec(&json!({
            "kind": "RangeAllocation",
            "apiVersion": "v1",
            "metadata": {},
            "range": self.range,
            "data": base64::engine::general_purpose::STANDARD.encode(data),
        }))
        .unwrap_or_default();
        let res = if rev == 0 {
            self.store.create(&self.key, body).await.map(|_| ())
        } else {
            self.store.update(&self.key, body, rev).await.map(|_| ())
        };
        match res {
            Ok(()) => Ok(true),
            Err(StorageError::Conflict { .. })
            | Err(StorageError::AlreadyExists(_))
            | Err(StorageError::NotFound(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn bit(data: &[u8], i: u32) -> bool {
        data.get((i / 8) as usize)
            .is_some_and(|b| b & (1 << (i % 8)) != 0)
    }

    fn set(data: &mut Vec<u8>, i: u32, on: bool) {
        let idx = (i / 8) as usize;
        if data.len() <= idx {
            data.resize(idx + 1, 0);
        }
        if on {
            data[idx] |= 1 << (i % 8);
        } else {
            data[idx] &= !(1 << (i % 8));
        }
    }

    /// Allocates the given offset, failing if taken.
    pub async fn allocate(&self, offset: u32) -> Result<(), AllocError> {
        loop {
            let (mut data, rev) = self.load().await?;
            if Self::bit(&data, offset) {
                return Err(AllocError::Allocated { what: self.what });
            }
            Self::set(&mut data, offset, true);
            if self.save(&data, rev).await? {
                return Ok(());
            }
        }
    }

    /// Allocates any free offset, starting at a random point as upstream does
    /// (the lower part of the range is left for static choices first).
    pub async fn allocate_next(&self, reserved_low: u32) -> Result<u32, AllocError> {
        loop {
            let (mut data, rev) = self.load().await?;
            let start = if self.size > reserved_low {
                reserved_low + rand::random::<u32>() % (self.size - reserved_low)
            } else {
                0
            };
            let found = (0..self.size)
                .map(|i| (start + i) % self.size)
                .find(|&i| !Self::bit(&data, i));
            let Some(i) = found else {
                return Err(AllocError::Full);
            };
            Self::set(&mut data, i, true);
            if self.save(&data, rev).await? {
                return Ok(i);
            }
        }
    }

    /// Releases an offset (idempotent).
    pub async fn release(&self, offset: u32) -> Result<(), AllocError> {
        loop {
            let (mut data, rev) = self.load().await?;
            if !Self::bit(&data, offset) {
                return Ok(());
            }
            Self::set(&mut data, offset, false);
            if self.save(&data, rev).await? {
                return Ok(());
            }
        }
    }
}

/// Both service allocators.
pub struct ServiceAllocators {
    pub cidr: Cidr,
    pub ports: PortRange,
    ips: RangeAllocator,
    node_ports: RangeAllocator,
}

impl ServiceAllocators {
    pub fn new(store: Arc<dyn Store>, prefix: &str, cidr: Cidr, ports: PortRange) -> Self {
        ServiceAllocators {
            cidr,
            ports,
            ips: RangeAllocator::new(
                store.clone(),
                format!("{prefix}/ranges/serviceips"),
                cidr.to_string(),
                cidr.size(),
                "IP",
            ),
            node_ports: RangeAllocator::new(
                store,
                format!("{prefix}/ranges/servicenodeports"),
                ports.to_string(),
                ports.size as u32,
                "port",
            ),
        }
    }

    /// Allocates `ip` (or any free IP when None); returns the address.
    pub async fn allocate_ip(&self, ip: Option<&str>) -> Result<String, AllocError> {
        match ip {
            Some(s) => {
                let addr: Ipv4Addr = s.parse().map_err(|_| AllocError::OutOfRange {
                    what: "IP",
                    range: self.cidr.to_string(),
                })?;
                let off = self.cidr.offset(addr).ok_or(AllocError::OutOfRange {
                    what: "IP",
                    range: self.cidr.to_string(),
                })?;
                self.ips.allocate(off).await?;
                Ok(s.to_string())
            }
            None => {
                // Upstream keeps the lower band for static IPs; .1 is the
                // `kubernetes` service and .10 is DNS by convention.
                let reserved = (self.cidr.size() / 16)
                    .clamp(0, 256)
                    .max(16)
                    .min(self.cidr.size() / 2);
                let off = self.ips.allocate_next(reserved).await?;
                Ok(self.cidr.nth(off).to_string())
            }
        }
    }

    pub async fn release_ip(&self, ip: &str) -> Result<(), AllocError> {
        if let Ok(addr) = ip.parse::<Ipv4Addr>() {
            if let Some(off) = self.cidr.offset(addr) {
                self.ips.release(off).await?;
            }
        }
        Ok(())
    }

    pub async fn allocate_node_port(&self, port: Option<i64>) -> Result<i64, AllocError> {
        match port {
            Some(p) => {
                if !self.ports.contains(p) {
                    return Err(AllocError::OutOfRange {
                        what: "port",
                        range: self.ports.to_string(),
                    });
                }
                self.node_ports
                    .allocate((p - self.ports.base as i64) as u32)
                    .await?;
                Ok(p)
            }
            None => {
                let off = self.node_ports.allocate_next(0).await?;
                Ok(self.ports.base as i64 + off as i64)
            }
        }
    }

    pub async fn release_node_port(&self, port: i64) -> Result<(), AllocError> {
        if self.ports.contains(port) {
            self.node_ports
                .release((port - self.ports.base as i64) as u32)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_math() {
        let c: Cidr = "10.0.0.0/24".parse().unwrap();
        assert_eq!(c.size(), 254);
        assert_eq!(c.nth(0).to_string(), "10.0.0.1");
        assert_eq!(c.offset("10.0.0.10".parse().unwrap()), Some(9));
        assert_eq!(c.offset("10.0.1.1".parse().unwrap()), None);
        assert_eq!(c.offset("10.0.0.0".parse().unwrap()), None);
        let p: PortRange = "30000-32767".parse().unwrap();
        assert!(p.contains(30000) && p.contains(32767) && !p.contains(32768));
        assert_eq!(p.to_string(), "30000-32767");
    }
}
