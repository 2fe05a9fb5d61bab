//! Which IP addresses the fetcher may connect to.
//!
//! [`classify`] is the built-in deny rule: it knows the special-purpose ranges of the IANA IPv4 and
//! IPv6 registries that must never be reached from a fetch of an untrusted URL (our own machine, our
//! own network, cloud metadata services, multicast …). The fetcher layers an operator's explicit
//! deny and allow lists on top (tests use the allow list to reach a server on loopback).
//!
//! IPv6 is judged by an allow rule first: only global unicast (`2000::/3`) is reachable, with a few
//! special blocks inside it refused. Addresses that embed an IPv4 address and are actually routed to
//! it (IPv4-mapped `::ffff:0:0/96`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by the
//! embedded IPv4 address. Teredo (`2001::/32`) and IPv4-compatible (`::/96`) addresses are refused
//! outright: both are deprecated, and no legitimate web server is reached through them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Why an address was refused. Each variant names one special-purpose range (or rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BlockReason {
    /// `0.0.0.0` or `::` — connecting to it reaches the local machine on most systems.
    Unspecified,
    /// `0.0.0.0/8` "this network" (RFC 1122).
    ThisNetwork,
    /// `127.0.0.0/8` or `::1`.
    Loopback,
    /// RFC 1918 private ranges `10/8`, `172.16/12`, `192.168/16`.
    Private,
    /// Carrier-grade NAT shared address space `100.64.0.0/10` (RFC 6598); also some cloud metadata
    /// services (`100.100.100.200`).
    SharedAddressSpace,
    /// `169.254.0.0/16` or `fe80::/10`; includes the cloud metadata address `169.254.169.254`.
    LinkLocal,
    /// `192.0.0.0/24` IETF protocol assignments, or `2001::/23` outside Teredo.
    ProtocolAssignment,
    /// Documentation ranges: `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// Benchmarking `198.18.0.0/15` (RFC 2544).
    Benchmarking,
    /// Deprecated 6to4 relay anycast `192.88.99.0/24` (RFC 7526).
    Relay6to4,
    /// `224.0.0.0/4` or `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `240.0.0.0/4` reserved for future use.
    Reserved,
    /// IPv6 unique local `fc00::/7` (also AWS's IPv6 metadata address `fd00:ec2::254`).
    UniqueLocal,
    /// Deprecated IPv6 site-local `fec0::/10`.
    SiteLocal,
    /// Deprecated IPv4-compatible IPv6 `::a.b.c.d` (`::/96`).
    Ipv4Compatible,
    /// Teredo `2001::/32`: the client address is obfuscated and the range is deprecated.
    Teredo,
    /// Local-use NAT64 `64:ff9b:1::/48` (RFC 8215): translates into the operator's own network.
    LocalNat64,
    /// Any other IPv6 address outside global unicast `2000::/3`.
    NotGlobalUnicast,
    /// On the operator's explicit deny list.
    Denied,
}

impl BlockReason {
    /// A short human-readable description, used in error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified address",
            Self::ThisNetwork => "\"this network\" 0.0.0.0/8",
            Self::Loopback => "loopback",
            Self::Private => "private network (RFC 1918)",
            Self::SharedAddressSpace => "carrier-grade NAT shared space 100.64.0.0/10",
            Self::LinkLocal => "link-local (includes cloud metadata 169.254.169.254)",
            Self::ProtocolAssignment => "IETF protocol assignment range",
            Self::Documentation => "documentation range",
            Self::Benchmarking => "benchmarking range 198.18.0.0/15",
            Self::Relay6to4 => "deprecated 6to4 relay anycast",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Reserved => "reserved 240.0.0.0/4",
            Self::UniqueLocal => "IPv6 unique local fc00::/7",
            Self::SiteLocal => "deprecated IPv6 site-local fec0::/10",
            Self::Ipv4Compatible => "deprecated IPv4-compatible IPv6 address",
            Self::Teredo => "Teredo 2001::/32",
            Self::LocalNat64 => "local-use NAT64 64:ff9b:1::/48",
            Self::NotGlobalUnicast => "IPv6 outside global unicast 2000::/3",
            Self::Denied => "on the operator's deny list",
        }
    }
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// The IPv4 special-purpose ranges we refuse, most specific first where they overlap.
const V4_BLOCKS: &[([u8; 4], u8, BlockReason)] = &[
    ([0, 0, 0, 0], 32, BlockReason::Unspecified),
    ([0, 0, 0, 0], 8, BlockReason::ThisNetwork),
    ([10, 0, 0, 0], 8, BlockReason::Private),
    ([100, 64, 0, 0], 10, BlockReason::SharedAddressSpace),
    ([127, 0, 0, 0], 8, BlockReason::Loopback),
    ([169, 254, 0, 0], 16, BlockReason::LinkLocal),
    ([172, 16, 0, 0], 12, BlockReason::Private),
    ([192, 0, 0, 0], 24, BlockReason::ProtocolAssignment),
    ([192, 0, 2, 0], 24, BlockReason::Documentation),
    ([192, 88, 99, 0], 24, BlockReason::Relay6to4),
    ([192, 168, 0, 0], 16, BlockReason::Private),
    ([198, 18, 0, 0], 15, BlockReason::Benchmarking),
    ([198, 51, 100, 0], 24, BlockReason::Documentation),
    ([203, 0, 113, 0], 24, BlockReason::Documentation),
    ([224, 0, 0, 0], 4, BlockReason::Multicast),
    ([255, 255, 255, 255], 32, BlockReason::Broadcast),
    ([240, 0, 0, 0], 4, BlockReason::Reserved),
];

fn v4_in(addr: Ipv4Addr, net: [u8; 4], len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    u32::from(addr) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn v6_in(addr: Ipv6Addr, net: u128, len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    };
    u128::from(addr) & mask == net & mask
}

/// Classifies an IPv4 address: `Err(reason)` if it lies in a range we never connect to.
pub fn classify_v4(addr: Ipv4Addr) -> Result<(), BlockReason> {
    for &(net, len, reason) in V4_BLOCKS {
        if v4_in(addr, net, len) {
            return Err(reason);
        }
    }
    Ok(())
}

/// The IPv4 address an IPv6 address is routed to, for the embeddings that really deliver to it.
///
/// Returns `None` for addresses without such an embedding.
pub fn embedded_ipv4(addr: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(addr);
    // ::ffff:a.b.c.d — IPv4-mapped; a dual-stack socket connects to the IPv4 address.
    if v6_in(addr, 0xffff_0000_0000, 96) {
        return Some(Ipv4Addr::from((bits & 0xffff_ffff) as u32));
    }
    // 64:ff9b::a.b.c.d — well-known NAT64 prefix (RFC 6052): the translator connects to a.b.c.d.
    if v6_in(addr, 0x0064_ff9b_u128 << 96, 96) {
        return Some(Ipv4Addr::from((bits & 0xffff_ffff) as u32));
    }
    // 2002:AABB:CCDD::/48 — 6to4 (RFC 3056): a relay forwards to AA.BB.CC.DD.
    if v6_in(addr, 0x2002_u128 << 112, 16) {
        return Some(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    None
}

/// Classifies an IPv6 address: `Err(reason)` if we never connect to it.
pub fn classify_v6(addr: Ipv6Addr) -> Result<(), BlockReason> {
    if addr.is_unspecified() {
        return Err(BlockReason::Unspecified);
    }
    if addr.is_loopback() {
        return Err(BlockReason::Loopback);
    }
    if let Some(v4) = embedded_ipv4(addr) {
        return classify_v4(v4);
    }
    // Named ranges outside 2000::/3 first, for clear messages.
    let named: &[(u128, u8, BlockReason)] = &[
        (0, 96, BlockReason::Ipv4Compatible),
        (0x0064_ff9b_0001_u128 << 80, 48, BlockReason::LocalNat64),
        (0xfc00_u128 << 112, 7, BlockReason::UniqueLocal),
        (0xfe80_u128 << 112, 10, BlockReason::LinkLocal),
        (0xfec0_u128 << 112, 10, BlockReason::SiteLocal),
        (0xff00_u128 << 112, 8, BlockReason::Multicast),
    ];
    for &(net, len, reason) in named {
        if v6_in(addr, net, len) {
            return Err(reason);
        }
    }
    if !v6_in(addr, 0x2000_u128 << 112, 3) {
        return Err(BlockReason::NotGlobalUnicast);
    }
    let inside: &[(u128, u8, BlockReason)] = &[
        (0x2001_0000_u128 << 96, 32, BlockReason::Teredo),
        (0x2001_0db8_u128 << 96, 32, BlockReason::Documentation),
        (0x2001_u128 << 112, 23, BlockReason::ProtocolAssignment),
        (0x3fff_u128 << 112, 20, BlockReason::Documentation),
    ];
    for &(net, len, reason) in inside {
        if v6_in(addr, net, len) {
            return Err(reason);
        }
    }
    Ok(())
}

/// Classifies any IP address with the built-in rules only (no allow or deny list).
pub fn classify(addr: IpAddr) -> Result<(), BlockReason> {
    match addr {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// An address range in CIDR notation (`127.0.0.1/32`, `fd00::/8`); a bare address means one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpRange {
    addr: IpAddr,
    prefix: u8,
}

/// A string that is not an address range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid address range {input:?}: expected an IP address or CIDR such as 127.0.0.1/32")]
pub struct InvalidRange {
    /// The rejected input.
    pub input: String,
}

impl IpRange {
    /// Whether `ip` lies in this range. IPv4-mapped IPv6 addresses match IPv4 ranges.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(a)) => v4_in(a, net.octets(), self.prefix),
            (IpAddr::V6(net), IpAddr::V6(a)) => v6_in(a, u128::from(net), self.prefix),
            _ => false,
        }
    }
}

impl FromStr for IpRange {
    type Err = InvalidRange;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidRange {
            input: s.to_owned(),
        };
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { addr, prefix })
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The built-in rules plus the operator's deny and allow lists.
///
/// Order: the deny list wins, then the allow list, then the built-in rules. The allow list is the
/// only way to reach a blocked range (tests allow `127.0.0.1/32`); it is empty by default.
#[derive(Debug, Clone, Default)]
pub(crate) struct AddrPolicy {
    pub(crate) allow: Vec<IpRange>,
    pub(crate) deny: Vec<IpRange>,
}

impl AddrPolicy {
    pub(crate) fn check(&self, ip: IpAddr) -> Result<(), BlockReason> {
        if self.deny.iter().any(|r| r.contains(ip)) {
            return Err(BlockReason::Denied);
        }
        if self.allow.iter().any(|r| r.contains(ip)) {
            return Ok(());
        }
        classify(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Result<(), BlockReason> {
        classify(s.parse().expect("test address"))
    }

    #[test]
    fn public_addresses_pass() {
        for a in [
            "93.184.216.34",
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.255",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "2001:4860:4860::8888",
            "64:ff9b::808:808",
            "::ffff:8.8.8.8",
            "2002:808:808::1",
        ] {
            assert_eq!(c(a), Ok(()), "{a} should be allowed");
        }
    }

    #[test]
    fn special_ranges_blocked_with_reason() {
        use BlockReason::*;
        let table = [
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", ThisNetwork),
            ("10.255.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.0.1", Private),
            ("100.64.0.1", SharedAddressSpace),
            ("100.100.100.200", SharedAddressSpace),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("169.254.169.254", LinkLocal),
            ("192.0.0.192", ProtocolAssignment),
            ("192.0.2.7", Documentation),
            ("198.51.100.1", Documentation),
            ("203.0.113.9", Documentation),
            ("198.19.255.255", Benchmarking),
            ("192.88.99.1", Relay6to4),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("255.255.255.255", Broadcast),
            ("240.0.0.1", Reserved),
            ("::", Unspecified),
            ("::1", Loopback),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:a9fe:a9fe", LinkLocal),
            ("::ffff:10.1.2.3", Private),
            ("::127.0.0.1", Ipv4Compatible),
            ("::8.8.8.8", Ipv4Compatible),
            ("64:ff9b::a9fe:a9fe", LinkLocal),
            ("64:ff9b::7f00:1", Loopback),
            ("64:ff9b:1::1", LocalNat64),
            ("2002:7f00:1::", Loopback),
            ("2002:c0a8:101::1", Private),
            ("2001::1", Teredo),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Teredo),
            ("2001:db8::1", Documentation),
            ("2001:2::1", ProtocolAssignment),
            ("3fff::1", Documentation),
            ("fc00::1", UniqueLocal),
            ("fd00:ec2::254", UniqueLocal),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("fec0::1", SiteLocal),
            ("ff02::1", Multicast),
            ("100::1", NotGlobalUnicast),
            ("4000::1", NotGlobalUnicast),
        ];
        for (a, want) in table {
            assert_eq!(c(a), Err(want), "{a}");
        }
    }

    #[test]
    fn ranges_parse_and_match() {
        let r: IpRange = "127.0.0.1/32".parse().expect("range");
        assert!(r.contains("127.0.0.1".parse().expect("ip")));
        assert!(r.contains("::ffff:127.0.0.1".parse().expect("ip")));
        assert!(!r.contains("127.0.0.2".parse().expect("ip")));
        let r: IpRange = "10.0.0.0/8".parse().expect("range");
        assert!(r.contains("10.200.1.1".parse().expect("ip")));
        let r: IpRange = "fd00::/8".parse().expect("range");
        assert!(r.contains("fd12::1".parse().expect("ip")));
        assert!(!r.contains("10.0.0.1".parse().expect("ip")));
        let one: IpRange = "::1".parse().expect("range");
        assert_eq!(one.to_string(), "::1/128");
        for bad in ["", "127.0.0.1/33", "::/129", "localhost", "10.0.0.0/x"] {
            assert!(bad.parse::<IpRange>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn policy_deny_beats_allow_beats_builtin() {
        let p = AddrPolicy {
            allow: vec!["127.0.0.0/8".parse().expect("r")],
            deny: vec![
                "127.0.0.9/32".parse().expect("r"),
                "8.8.8.8".parse().expect("r"),
            ],
        };
        assert_eq!(p.check("127.0.0.1".parse().expect("ip")), Ok(()));
        assert_eq!(
            p.check("127.0.0.9".parse().expect("ip")),
            Err(BlockReason::Denied)
        );
        assert_eq!(
            p.check("8.8.8.8".parse().expect("ip")),
            Err(BlockReason::Denied)
        );
        assert_eq!(
            p.check("169.254.169.254".parse().expect("ip")),
            Err(BlockReason::LinkLocal)
        );
        assert_eq!(p.check("::ffff:127.0.0.1".parse().expect("ip")), Ok(()));
    }
}
