//! The client address of a request, for the per-address limits (web login, public report form).
//!
//! By default the client is the TCP peer and forwarded headers are ignored: anyone can send
//! `X-Forwarded-For`. Behind reverse proxies listed in `trusted_proxies` (config), the client is
//! found by the usual right-to-left walk: each trusted proxy appends the address it received the
//! request from, so the rightmost entry that is not one of our proxies is the first address our
//! own infrastructure vouches for; everything left of it came from the client and may be forged.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// One `trusted_proxies` entry: a network in CIDR notation (`10.0.0.0/8`, `::1/128`) or a single
/// address (taken as `/32` or `/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNet(IpNet);

/// A `trusted_proxies` entry that is not a network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyNetError {
    /// Not an address or CIDR network at all.
    #[error(
        "trusted_proxies: {0:?} is not an IP network (expected CIDR such as \"10.0.0.0/8\" or \"::1/128\", or a single address)"
    )]
    Syntax(String),
    /// Host bits set (`10.0.0.1/8`): refused rather than guessing which of the two was meant,
    /// since the wrong guess would trust a whole network.
    #[error(
        "trusted_proxies: {given:?} has host bits set; write \"{network}\" for the network or \"{host}\" for the one address"
    )]
    HostBits {
        /// As written.
        given: String,
        /// The network it lies in.
        network: IpNet,
        /// The single address.
        host: IpNet,
    },
}

impl ProxyNet {
    /// Whether `ip` lies in this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

impl std::str::FromStr for ProxyNet {
    type Err = ProxyNetError;
    fn from_str(s: &str) -> Result<ProxyNet, ProxyNetError> {
        let t = s.trim();
        if !t.contains('/') {
            return t
                .parse::<IpAddr>()
                .map(|ip| ProxyNet(IpNet::from(ip)))
                .map_err(|_| ProxyNetError::Syntax(s.to_string()));
        }
        let net: IpNet = t
            .parse()
            .map_err(|_| ProxyNetError::Syntax(s.to_string()))?;
        if net.trunc() != net {
            return Err(ProxyNetError::HostBits {
                given: s.to_string(),
                network: net.trunc(),
                host: IpNet::from(net.addr()),
            });
        }
        Ok(ProxyNet(net))
    }
}

impl std::fmt::Display for ProxyNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl Serialize for ProxyNet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ProxyNet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ProxyNet, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The client address: `peer` unless it is a trusted proxy, else the rightmost
/// `X-Forwarded-For` entry (all header lines, in order) that is not a trusted proxy.
/// An entry that is not an address stops the walk at the last trusted hop: nothing left of it
/// is believed. All entries trusted, or no header: `peer`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[ProxyNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut last_trusted = peer;
    for line in headers.get_all(X_FORWARDED_FOR).iter().rev() {
        let Ok(line) = line.to_str() else {
            return last_trusted;
        };
        for entry in line.split(',').rev() {
            let Some(ip) = parse_entry(entry) else {
                return last_trusted;
            };
            if !is_trusted(ip) {
                return ip;
            }
            last_trusted = ip;
        }
    }
    peer
}

/// [`client_ip`] of a request's parts; `None` without a TCP peer (a router called in-process).
pub fn request_client_ip(
    ext: &Extensions,
    headers: &HeaderMap,
    trusted: &[ProxyNet],
) -> Option<IpAddr> {
    ext.get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| client_ip(c.0.ip(), headers, trusted))
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`198.51.100.7:5555`,
/// `[2001:db8::1]:443`, `[2001:db8::1]`). Anything else (`unknown`, empty, obfuscated
/// identifiers, zone ids) is `None`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let s = entry.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = addr.parse().ok()?;
        if !after.is_empty() && !is_port(after.strip_prefix(':')?) {
            return None;
        }
        return Some(IpAddr::V6(ip).to_canonical());
    }
    let (addr, port) = s.split_once(':')?;
    let ip: Ipv4Addr = addr.parse().ok()?;
    is_port(port).then_some(IpAddr::V4(ip))
}

fn is_port(p: &str) -> bool {
    // Digits only: `u16::from_str` would also take a sign.
    !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn nets(list: &[&str]) -> Vec<ProxyNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn xff(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append(X_FORWARDED_FOR, HeaderValue::from_str(l).unwrap());
        }
        h
    }

    #[test]
    fn decides_the_client_address() {
        const LO: &[&str] = &["127.0.0.1/32"];
        const LAN: &[&str] = &["10.0.0.0/8"];
        // (what, peer, X-Forwarded-For lines, trusted, expected)
        type Case = (
            &'static str,
            &'static str,
            &'static [&'static str],
            &'static [&'static str],
            &'static str,
        );
        let cases: &[Case] = &[
            (
                "empty list",
                "127.0.0.1",
                &["203.0.113.5"],
                &[],
                "127.0.0.1",
            ),
            ("empty list, v6", "::1", &["203.0.113.5"], &[], "::1"),
            (
                "untrusted peer, spoofed header",
                "198.51.100.1",
                &["203.0.113.5"],
                LO,
                "198.51.100.1",
            ),
            ("trusted peer, no header", "127.0.0.1", &[], LO, "127.0.0.1"),
            (
                "one proxy",
                "127.0.0.1",
                &["203.0.113.5"],
                LO,
                "203.0.113.5",
            ),
            (
                "one proxy, spaces",
                "127.0.0.1",
                &["  203.0.113.5 "],
                LO,
                "203.0.113.5",
            ),
            (
                "two proxies",
                "10.0.0.1",
                &["203.0.113.5, 10.0.0.2"],
                LAN,
                "203.0.113.5",
            ),
            (
                "spoofed leftmost entries",
                "10.0.0.1",
                &["1.1.1.1, 192.0.2.9,203.0.113.5"],
                LAN,
                "203.0.113.5",
            ),
            (
                "spoofed trusted-looking leftmost entry",
                "10.0.0.1",
                &["10.0.0.7, 203.0.113.5, 10.0.0.2"],
                LAN,
                "203.0.113.5",
            ),
            (
                "all entries trusted",
                "10.0.0.1",
                &["10.0.0.3, 10.0.0.2"],
                LAN,
                "10.0.0.1",
            ),
            (
                "garbage behind a trusted hop",
                "10.0.0.1",
                &["203.0.113.5, bogus, 10.0.0.2"],
                LAN,
                "10.0.0.2",
            ),
            (
                "garbage rightmost",
                "10.0.0.1",
                &["203.0.113.5, unknown"],
                LAN,
                "10.0.0.1",
            ),
            (
                "empty entry",
                "10.0.0.1",
                &["203.0.113.5,"],
                LAN,
                "10.0.0.1",
            ),
            ("empty header", "10.0.0.1", &[""], LAN, "10.0.0.1"),
            (
                "v4 with port",
                "127.0.0.1",
                &["198.51.100.7:5555"],
                LO,
                "198.51.100.7",
            ),
            (
                "v4 with bad port",
                "127.0.0.1",
                &["198.51.100.7:99999"],
                LO,
                "127.0.0.1",
            ),
            (
                "v4 with signed port",
                "127.0.0.1",
                &["198.51.100.7:+80"],
                LO,
                "127.0.0.1",
            ),
            ("IPv6", "::1", &["2001:db8::7"], &["::1/128"], "2001:db8::7"),
            (
                "IPv6 bracketed with port",
                "::1",
                &["[2001:db8::1]:443"],
                &["::1/128"],
                "2001:db8::1",
            ),
            (
                "IPv6 bracketed",
                "::1",
                &["[2001:db8::1]"],
                &["::1/128"],
                "2001:db8::1",
            ),
            (
                "IPv6 bracket garbage",
                "::1",
                &["[2001:db8::1]x"],
                &["::1/128"],
                "::1",
            ),
            (
                "IPv6 zone id is garbage",
                "::1",
                &["fe80::1%eth0"],
                &["::1/128"],
                "::1",
            ),
            (
                "IPv6 proxies, IPv4 client",
                "2001:db8:1::1",
                &["203.0.113.5, 2001:db8:1::2"],
                &["2001:db8:1::/48"],
                "203.0.113.5",
            ),
            (
                "IPv4-mapped peer",
                "::ffff:127.0.0.1",
                &["203.0.113.5"],
                LO,
                "203.0.113.5",
            ),
            (
                "multiple header lines",
                "10.0.0.1",
                &["203.0.113.9", "203.0.113.5, 10.0.0.2"],
                LAN,
                "203.0.113.5",
            ),
            (
                "multiple header lines, walk crosses lines",
                "10.0.0.1",
                &["198.51.100.3", "10.0.0.3", "10.0.0.2"],
                LAN,
                "198.51.100.3",
            ),
            (
                "single-address entry",
                "10.0.0.1",
                &["10.0.0.2"],
                &["10.0.0.1"],
                "10.0.0.2",
            ),
        ];
        for (what, peer, lines, trusted, want) in cases {
            let got = client_ip(peer.parse().unwrap(), &xff(lines), &nets(trusted));
            assert_eq!(got, want.parse::<IpAddr>().unwrap(), "{what}");
        }
    }

    #[test]
    fn opaque_header_bytes_stop_the_walk() {
        let mut h = xff(&["203.0.113.5"]);
        h.append(
            X_FORWARDED_FOR,
            HeaderValue::from_bytes(b"198.51.100.7\xff").unwrap(),
        );
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(client_ip(peer, &h, &nets(&["127.0.0.1/32"])), peer);
    }

    #[test]
    fn request_without_peer_has_no_address() {
        let h = xff(&["203.0.113.5"]);
        assert_eq!(request_client_ip(&Extensions::new(), &h, &[]), None);
        let mut ext = Extensions::new();
        ext.insert(ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 9))));
        let got = request_client_ip(&ext, &h, &nets(&["127.0.0.1/32"]));
        assert_eq!(got, Some("203.0.113.5".parse().unwrap()));
    }

    #[test]
    fn parses_trusted_networks() {
        let ok = [
            ("10.0.0.0/8", "10.0.0.0/8"),
            (" 10.0.0.0/8 ", "10.0.0.0/8"),
            ("10.0.0.5", "10.0.0.5/32"),
            ("::1/128", "::1/128"),
            ("::1", "::1/128"),
            ("2001:db8::/32", "2001:db8::/32"),
        ];
        for (s, want) in ok {
            assert_eq!(s.parse::<ProxyNet>().unwrap().to_string(), want, "{s}");
        }
        for bad in [
            "",
            "nonsense",
            "10.0.0.0/33",
            "10.0.0/8",
            "10.0.0.0/",
            "::1/129",
        ] {
            assert_eq!(
                bad.parse::<ProxyNet>(),
                Err(ProxyNetError::Syntax(bad.into())),
                "{bad}"
            );
        }
        let e = "10.0.0.1/8".parse::<ProxyNet>().unwrap_err();
        assert!(matches!(e, ProxyNetError::HostBits { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("\"10.0.0.0/8\"") && msg.contains("\"10.0.0.1/32\""),
            "{msg}"
        );
    }
}
