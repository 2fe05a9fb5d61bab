//! [`MmdbAsn`]: a MaxMind-format ASN database (GeoLite2-ASN, DB-IP ASN Lite, IPinfo Lite, …)
//! behind the same [`AsnLookup`] trait as the imported table. Each such data set has its own
//! licence and update channel; operations supply the file, schoon ships none.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::asn::{AnnouncedSpace, AsnError, AsnHit, AsnLookup, clean_country};
use crate::prefix::Prefix;

/// The record fields we read. GeoLite2 spells them `autonomous_system_*`; IPinfo Lite uses
/// `asn` (`"AS64500"`), `as_name` and `country_code`. Both are accepted.
#[derive(Debug, Deserialize)]
struct Record {
    autonomous_system_number: Option<u32>,
    autonomous_system_organization: Option<String>,
    asn: Option<String>,
    as_name: Option<String>,
    country_code: Option<String>,
}

impl Record {
    fn asn(&self) -> Option<u32> {
        self.autonomous_system_number.or_else(|| {
            let a = self.asn.as_deref()?.trim();
            a.strip_prefix("AS").unwrap_or(a).parse().ok()
        })
    }

    fn name(&self) -> Option<String> {
        self.autonomous_system_organization
            .clone()
            .or_else(|| self.as_name.clone())
            .filter(|n| !n.is_empty())
    }
}

/// An ASN database in the MaxMind DB format, held in memory.
pub struct MmdbAsn {
    reader: maxminddb::Reader<Vec<u8>>,
    announced: OnceLock<HashMap<u32, AnnouncedSpace>>,
}

impl std::fmt::Debug for MmdbAsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmdbAsn")
            .field("database_type", &self.reader.metadata().database_type)
            .finish_non_exhaustive()
    }
}

impl MmdbAsn {
    /// Opens a database file (read fully into memory).
    pub fn open(path: &Path) -> Result<Self, AsnError> {
        let bytes = std::fs::read(path)
            .map_err(|e| AsnError(format!("cannot read {}: {e}", path.display())))?;
        Self::from_bytes(bytes)
    }

    /// Uses a database already in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, AsnError> {
        let reader = maxminddb::Reader::from_source(bytes).map_err(|e| AsnError(e.to_string()))?;
        Ok(Self {
            reader,
            announced: OnceLock::new(),
        })
    }

    /// The database type from its metadata (`GeoLite2-ASN`, …).
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// Walks every network once to count announced space per AS (done on first use).
    fn announced_map(&self) -> &HashMap<u32, AnnouncedSpace> {
        self.announced.get_or_init(|| {
            let mut v4: HashMap<u32, u64> = HashMap::new();
            let mut v6: HashMap<u32, u128> = HashMap::new();
            let networks = match self.reader.networks(Default::default()) {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot iterate ASN database");
                    return HashMap::new();
                }
            };
            for item in networks {
                let Ok(item) = item else { continue };
                let (Ok(net), Ok(Some(rec))) = (item.network(), item.decode::<Record>()) else {
                    continue;
                };
                let Some(asn) = rec.asn() else { continue };
                match net.ip() {
                    IpAddr::V4(_) => {
                        *v4.entry(asn).or_default() += 1u64 << (32 - u32::from(net.prefix()));
                    }
                    IpAddr::V6(_) => {
                        let n = v6.entry(asn).or_default();
                        let size = if net.prefix() == 0 {
                            u128::MAX
                        } else {
                            1u128 << (128 - u32::from(net.prefix()))
                        };
                        *n = n.saturating_add(size);
                    }
                }
            }
            let mut out: HashMap<u32, AnnouncedSpace> = HashMap::new();
            for (asn, n) in v4 {
                out.entry(asn).or_default().ipv4_addresses = n;
            }
            for (asn, n) in v6 {
                out.entry(asn).or_default().ipv6_slash48s =
                    u64::try_from(n.div_ceil(1u128 << 80)).unwrap_or(u64::MAX);
            }
            out
        })
    }
}

impl AsnLookup for MmdbAsn {
    fn lookup_asn(&self, ip: IpAddr) -> Result<Option<AsnHit>, AsnError> {
        let ip = ip.to_canonical();
        if ip.is_ipv6() && self.reader.metadata().ip_version == 4 {
            // An IPv4-only database simply knows nothing about IPv6.
            return Ok(None);
        }
        let result = self
            .reader
            .lookup(ip)
            .map_err(|e| AsnError(e.to_string()))?;
        if !result.has_data() {
            return Ok(None);
        }
        let Some(rec) = result
            .decode::<Record>()
            .map_err(|e| AsnError(e.to_string()))?
        else {
            return Ok(None);
        };
        let Some(asn) = rec.asn() else {
            return Ok(None);
        };
        let net = result.network().map_err(|e| AsnError(e.to_string()))?;
        let prefix = Prefix::new(net.ip(), net.prefix())
            .ok_or_else(|| AsnError(format!("invalid network {net}")))?;
        Ok(Some(AsnHit {
            prefix,
            asn,
            as_name: rec.name(),
            country: rec.country_code.as_deref().and_then(clean_country),
        }))
    }

    fn announced(&self, asn: u32) -> Option<AnnouncedSpace> {
        self.announced_map().get(&asn).copied()
    }

    fn source_name(&self) -> &str {
        "mmdb"
    }
}
