//! [`Prefix`]: an IP network in CIDR notation, and the address arithmetic the tables need.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An IP network (`192.0.2.0/24`, `2001:db8::/32`). The address is always the network address
/// (host bits zero). Serialised as its string form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

/// A string that is not a CIDR prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid prefix {input:?}: expected an address or CIDR such as 192.0.2.0/24")]
pub struct InvalidPrefix {
    /// The rejected input.
    pub input: String,
}

impl Prefix {
    /// The network of `addr` with `len` prefix bits (host bits are cleared). `None` when `len`
    /// is longer than the address.
    pub fn new(addr: IpAddr, len: u8) -> Option<Self> {
        match addr {
            IpAddr::V4(a) if len <= 32 => {
                let net = u32::from(a) & mask32(len);
                Some(Self {
                    addr: IpAddr::V4(Ipv4Addr::from(net)),
                    len,
                })
            }
            IpAddr::V6(a) if len <= 128 => {
                let net = u128::from(a) & mask128(len);
                Some(Self {
                    addr: IpAddr::V6(Ipv6Addr::from(net)),
                    len,
                })
            }
            _ => None,
        }
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// Whether this is `0.0.0.0/0` or `::/0` (the prefix covers a whole family).
    pub fn is_default_route(&self) -> bool {
        self.len == 0
    }

    /// Whether `ip` is inside the network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => u32::from(a) & mask32(self.len) == u32::from(n),
            (IpAddr::V6(n), IpAddr::V6(a)) => u128::from(a) & mask128(self.len) == u128::from(n),
            _ => false,
        }
    }

    /// The first and last address of the network.
    pub fn range(&self) -> (IpAddr, IpAddr) {
        match self.addr {
            IpAddr::V4(n) => {
                let start = u32::from(n);
                (
                    IpAddr::V4(n),
                    IpAddr::V4(Ipv4Addr::from(start | !mask32(self.len))),
                )
            }
            IpAddr::V6(n) => {
                let start = u128::from(n);
                (
                    IpAddr::V6(n),
                    IpAddr::V6(Ipv6Addr::from(start | !mask128(self.len))),
                )
            }
        }
    }

    /// The largest CIDR block that contains `ip` and lies entirely inside `[start, end]`:
    /// turns an arbitrary address range (iptoasn, RDAP start/end) into the prefix of one
    /// address. `None` when `ip` is outside the range or the families differ.
    pub fn largest_within(ip: IpAddr, start: IpAddr, end: IpAddr) -> Option<Self> {
        match (ip.to_canonical(), start.to_canonical(), end.to_canonical()) {
            (IpAddr::V4(ip), IpAddr::V4(s), IpAddr::V4(e)) => {
                let len = largest_block::<u32>(ip.into(), s.into(), e.into())?;
                Self::new(IpAddr::V4(ip), len)
            }
            (IpAddr::V6(ip), IpAddr::V6(s), IpAddr::V6(e)) => {
                let len = largest_block::<u128>(ip.into(), s.into(), e.into())?;
                Self::new(IpAddr::V6(ip), len)
            }
            _ => None,
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for Prefix {
    type Err = InvalidPrefix;

    /// Parses `addr/len` or a bare address (a host prefix). Host bits must be zero, so that a
    /// typo such as `192.0.2.1/24` is noticed instead of silently widened.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidPrefix {
            input: s.to_owned(),
        };
        let (a, l) = match s.trim().split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = a.trim().parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            Some(l) => l.trim().parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        let p = Self::new(addr, len).ok_or_else(bad)?;
        if p.addr != addr {
            return Err(bad());
        }
        Ok(p)
    }
}

impl Serialize for Prefix {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Prefix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

pub(crate) fn mask32(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

pub(crate) fn mask128(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    }
}

/// An unsigned address of one family: `u32` for IPv4, `u128` for IPv6. Lets the range tables
/// keep IPv4 compact while sharing the code.
pub(crate) trait Key: Copy + Ord + fmt::Debug + Send + Sync + 'static {
    const BITS: u8;
    const MAX: Self;
    fn to_u128(self) -> u128;
    fn from_u128(v: u128) -> Self;
    fn to_ip(self) -> IpAddr;
}

impl Key for u32 {
    const BITS: u8 = 32;
    const MAX: Self = u32::MAX;
    fn to_u128(self) -> u128 {
        u128::from(self)
    }
    fn from_u128(v: u128) -> Self {
        // Callers only pass values that came from a u32.
        u32::try_from(v).unwrap_or(u32::MAX)
    }
    fn to_ip(self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(self))
    }
}

impl Key for u128 {
    const BITS: u8 = 128;
    const MAX: Self = u128::MAX;
    fn to_u128(self) -> u128 {
        self
    }
    fn from_u128(v: u128) -> Self {
        v
    }
    fn to_ip(self) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(self))
    }
}

/// The shortest prefix length whose block around `ip` fits in `[start, end]`. Fitting is
/// monotone in the length (a longer prefix is a sub-block), so a binary search over the
/// lengths takes at most 8 steps.
fn largest_block<K: Key>(ip: K, start: K, end: K) -> Option<u8> {
    if ip < start || ip > end {
        return None;
    }
    let (ip, start, end) = (ip.to_u128(), start.to_u128(), end.to_u128());
    let bits = u32::from(K::BITS);
    let fits = |len: u32| {
        let host_bits = bits - len;
        let mask = if host_bits == 0 {
            0
        } else {
            u128::MAX >> (128 - host_bits)
        };
        let lo = ip & !mask;
        lo >= start && (lo | mask) <= end
    };
    // fits(bits) always holds (the single address is inside); find the smallest that fits.
    let (mut lo, mut hi) = (0u32, bits);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if fits(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    u8::try_from(lo).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn parse_and_display() {
        let p: Prefix = "192.0.2.0/24".parse().expect("prefix");
        assert_eq!(p.to_string(), "192.0.2.0/24");
        assert!(p.contains(ip("192.0.2.77")));
        assert!(p.contains(ip("::ffff:192.0.2.77")));
        assert!(!p.contains(ip("192.0.3.1")));
        assert!("192.0.2.1/24".parse::<Prefix>().is_err(), "host bits set");
        assert!("192.0.2.0/33".parse::<Prefix>().is_err());
        let v6: Prefix = "2001:db8::/32".parse().expect("v6");
        assert_eq!(v6.range().1, ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
        assert_eq!(
            "198.51.100.7".parse::<Prefix>().expect("host").prefix_len(),
            32
        );
        let json = serde_json::to_string(&v6).expect("ser");
        assert_eq!(json, "\"2001:db8::/32\"");
    }

    #[test]
    fn largest_block_inside_a_range() {
        // 1.0.16.0 - 1.0.31.255 is exactly a /20.
        let p = Prefix::largest_within(ip("1.0.20.9"), ip("1.0.16.0"), ip("1.0.31.255"));
        assert_eq!(p.expect("inside").to_string(), "1.0.16.0/20");
        // An unaligned range: 10.0.1.0 - 10.0.2.255 is a /24 + /24, not one block.
        let p = Prefix::largest_within(ip("10.0.2.3"), ip("10.0.1.0"), ip("10.0.2.255"));
        assert_eq!(p.expect("inside").to_string(), "10.0.2.0/24");
        let p =
            Prefix::largest_within(ip("2001:db8:1::5"), ip("2001:db8::"), ip("2001:db8:ffff::"));
        assert_eq!(p.expect("inside").to_string(), "2001:db8::/33");
        assert!(Prefix::largest_within(ip("10.0.3.0"), ip("10.0.1.0"), ip("10.0.2.255")).is_none());
        let all = Prefix::largest_within(ip("8.8.8.8"), ip("0.0.0.0"), ip("255.255.255.255"));
        assert!(all.expect("all").is_default_route());
    }
}
