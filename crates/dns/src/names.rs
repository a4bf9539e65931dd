//! Name arithmetic the index needs: normalising query names, reverse
//! (`in-addr.arpa` / `ip6.arpa`) names, and the dashed-IP labels used for
//! pod records and endpoints without a hostname.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Suffix of IPv4 reverse names.
pub const IN_ADDR_ARPA: &str = "in-addr.arpa";
/// Suffix of IPv6 reverse names.
pub const IP6_ARPA: &str = "ip6.arpa";

/// Lower-cases a name and drops the root dot, the form every index key has.
pub fn normalize(name: &str) -> String {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    trimmed.to_ascii_lowercase()
}

/// Whether `name` is `apex` or below it (both normalised).
pub fn is_within(name: &str, apex: &str) -> bool {
    name == apex || strip_zone(name, apex).is_some()
}

/// The labels of `name` left of `apex` (`"a.b"` for `a.b.<apex>`), if
/// `name` is strictly below `apex`.
pub fn strip_zone<'a>(name: &'a str, apex: &str) -> Option<&'a str> {
    let rest = name.strip_suffix(apex)?;
    let rest = rest.strip_suffix('.')?;
    (!rest.is_empty()).then_some(rest)
}

/// The reverse-lookup name of an address (without the root dot).
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.{IN_ADDR_ARPA}", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                s.push(hex_digit(byte & 0x0f));
                s.push('.');
                s.push(hex_digit(byte >> 4));
                s.push('.');
            }
            s.push_str(IP6_ARPA);
            s
        }
    }
}

fn hex_digit(n: u8) -> char {
    char::from_digit(u32::from(n), 16).unwrap_or('0')
}

/// The dashed label of an address: `10-244-0-5`, or `fd00--5` for IPv6
/// (colons become dashes), as CoreDNS names endpoints without a hostname.
pub fn dashed(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string().replace('.', "-"),
        IpAddr::V6(v6) => v6.to_string().replace(':', "-"),
    }
}

/// Parses the first label of a pod record (`10-244-0-5` or `fd00--5`)
/// back into an address.
pub fn parse_dashed(label: &str) -> Option<IpAddr> {
    if label.is_empty() {
        return None;
    }
    let dots = label.replace('-', ".");
    if let Ok(v4) = dots.parse::<Ipv4Addr>() {
        return Some(IpAddr::V4(v4));
    }
    label
        .replace('-', ":")
        .parse::<Ipv6Addr>()
        .ok()
        .map(IpAddr::V6)
}

/// The names strictly above `name` and strictly below `apex`, nearest
/// first: the empty non-terminals a record at `name` brings into being.
pub fn ancestors<'a>(name: &'a str, apex: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let mut cur = name;
    std::iter::from_fn(move || {
        let (_, parent) = cur.split_once('.')?;
        if parent.len() <= apex.len() || !is_within(parent, apex) {
            return None;
        }
        cur = parent;
        Some(parent)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name("10.0.0.10".parse().unwrap()),
            "10.0.0.10.in-addr.arpa"
        );
        assert_eq!(
            reverse_name("192.168.1.2".parse().unwrap()),
            "2.1.168.192.in-addr.arpa"
        );
        let v6 = reverse_name("2001:db8::1".parse().unwrap());
        assert!(v6.starts_with("1.0.0.0.0.0.0.0"), "{v6}");
        assert!(v6.ends_with("8.b.d.0.1.0.0.2.ip6.arpa"), "{v6}");
    }

    #[test]
    fn dashed_round_trip() {
        for ip in ["10.244.0.5", "fd00::5", "2001:db8:1::a"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(parse_dashed(&dashed(ip)), Some(ip));
        }
        assert_eq!(parse_dashed("web-0"), None);
        assert_eq!(parse_dashed("1-2-3"), None);
    }

    #[test]
    fn ancestors_stop_at_the_apex() {
        let got: Vec<_> =
            ancestors("_http._tcp.web.ns.svc.cluster.local", "cluster.local").collect();
        assert_eq!(
            got,
            [
                "_tcp.web.ns.svc.cluster.local",
                "web.ns.svc.cluster.local",
                "ns.svc.cluster.local",
                "svc.cluster.local"
            ]
        );
        assert_eq!(ancestors("svc.cluster.local", "cluster.local").count(), 0);
    }

    #[test]
    fn zones() {
        assert_eq!(
            normalize("Web.NS.svc.Cluster.Local."),
            "web.ns.svc.cluster.local"
        );
        assert!(is_within("cluster.local", "cluster.local"));
        assert!(is_within("a.cluster.local", "cluster.local"));
        assert!(!is_within("acluster.local", "cluster.local"));
        assert_eq!(
            strip_zone("a.b.cluster.local", "cluster.local"),
            Some("a.b")
        );
    }
}
