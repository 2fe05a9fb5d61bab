//! [`AsnLookup`]: IP address → network prefix → autonomous system, from whatever source the
//! operator has (an imported iptoasn-style [`crate::PrefixTable`], or a MaxMind-format ASN
//! database via [`crate::MmdbAsn`]).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::prefix::Prefix;

/// What a prefix table knows about one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsnHit {
    /// The network the address is in: the largest CIDR block around the address inside the
    /// most specific range that contains it. Where ranges nest, an address in the outer range
    /// but outside the inner one gets the outer block (as BGP's longest match routes it), e.g.
    /// `198.51.100.200` → `198.51.100.0/24` even when `198.51.100.128/26` is announced apart.
    pub prefix: Prefix,
    /// The autonomous system number announcing it.
    pub asn: u32,
    /// The AS name or organisation, as the source spells it.
    pub as_name: Option<String>,
    /// ISO 3166-1 alpha-2 country of the AS registration, upper-case, when known.
    pub country: Option<String>,
}

/// How much address space an AS announces: the denominator the [monitor] statistics use to
/// compare hosters of very different size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnouncedSpace {
    /// Number of IPv4 addresses.
    pub ipv4_addresses: u64,
    /// IPv6 space in /48 blocks (the usual end-site assignment), rounded up, so an AS that
    /// announces anything in IPv6 counts at least one.
    pub ipv6_slash48s: u64,
}

/// A failure of the lookup source itself (a corrupt database), not "address unknown".
#[derive(Debug, thiserror::Error)]
#[error("ASN lookup failed: {0}")]
pub struct AsnError(pub String);

/// IP → AS lookups. Implementations are synchronous and in memory, so one call is cheap.
pub trait AsnLookup: Send + Sync + 'static {
    /// The AS and prefix of `ip`; `Ok(None)` when the address is not announced.
    fn lookup_asn(&self, ip: IpAddr) -> Result<Option<AsnHit>, AsnError>;

    /// The space announced by `asn`, when the source can tell.
    fn announced(&self, asn: u32) -> Option<AnnouncedSpace> {
        let _ = asn;
        None
    }

    /// A short name of the data source, recorded with every attribution (`iptoasn`, `mmdb`).
    fn source_name(&self) -> &str;
}

/// Normalises a country code from a data file: two ASCII letters, upper-cased; anything else
/// (`None`, `ZZ`, `-`, empty) means unknown.
pub(crate) fn clean_country(s: &str) -> Option<String> {
    let s = s.trim();
    if s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()) {
        let up = s.to_ascii_uppercase();
        (up != "ZZ").then_some(up)
    } else {
        None
    }
}
