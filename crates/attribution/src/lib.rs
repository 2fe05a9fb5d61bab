//! Attribution: for a reported URL, who hosts it, who registered its domain, and whom to
//! notify.
//!
//! ```text
//! URL ─► host ─► registrable domain (Public Suffix List: example.co.uk, not co.uk)
//!          │
//!          └─► A + AAAA ─► prefix table (iptoasn TSV or ASN MMDB) ─► prefix, AS, country
//!                  │    └► CDN prefix list ─► "behind a CDN": notify it as proxy, ask origin
//!                  └─► RDAP ip/{addr} ─► network, registrant organisation, abuse e-mail
//! registry domain ─► RDAP domain/{name} ─► registrar, IANA ID, registrar abuse e-mail, status
//! manual rules (per domain or exact host) ─► forced hoster / registrar / site owner,
//!                                            do-not-scrape, proxy with known origin
//! ```
//!
//! The result is one plain, serialisable [`Attribution`] with the time it was made; the takedown
//! workflow stores every one of them (who hosted what, when) and parks a case in a visible
//! "needs contact" queue when [`Attribution::needs_contact`] says a role cannot be notified.
//!
//! What SCART did and we do not: WHOIS over IPv4 only (we resolve A and AAAA and ask RDAP for
//! both), "last two labels" as the domain (we use the PSL), one RIR's REST API for every region
//! (we follow IANA's RDAP bootstrap to the responsible registry and its redirects).
//!
//! Every RDAP request goes through the one safe [`fetch::Fetcher`] (DESIGN.md rule 3); name
//! resolution uses `fetch`'s [`Resolver`] trait (hickory in production, [`StaticResolver`] in
//! tests). Time comes from an injectable [`Clock`], so cache expiry and the attribution time
//! stamp are testable.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use attribution::{Attributor, Bootstrap, PrefixTable, RdapClient, RdapConfig, SystemClock};
//! use fetch::{FetchPolicy, Fetcher, SystemResolver};
//!
//! let fetcher = Fetcher::new(FetchPolicy::new())?;
//! let clock = Arc::new(SystemClock);
//! let bootstrap = Bootstrap::fetch(&fetcher, &attribution::IANA_BOOTSTRAP_BASE.parse()?).await?;
//! let rdap = RdapClient::new(fetcher, bootstrap, RdapConfig::default(), clock.clone());
//! let table = PrefixTable::load("ip2asn.bin".as_ref())?;
//! let attributor = Attributor::new(Arc::new(SystemResolver::from_system_conf()?), clock)
//!     .with_asn(Arc::new(table))
//!     .with_rdap(Arc::new(rdap));
//! let a = attributor.attribute("https://www.example.co.uk/gallery/1.jpg").await?;
//! println!("{:?} {:?}", a.hoster, a.needs_contact);
//! # Ok(()) }
//! ```

mod asn;
mod attribute;
mod clock;
mod mmdb;
mod names;
mod prefix;
mod ranges;
pub mod rdap;
mod rules;
mod table;

pub use asn::{AnnouncedSpace, AsnError, AsnHit, AsnLookup};
pub use attribute::{
    AttributeError, Attribution, Attributor, ContactRole, DomainFacts, IpAttribution, IpRole,
    MissingReason, NeedsContact, Party, RegistrarInfo, Source,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use fetch::{Resolver, StaticResolver, SystemResolver};
pub use mmdb::MmdbAsn;
pub use names::{HostNames, registrable_domain, registry_domain};
pub use prefix::{InvalidPrefix, Prefix};
pub use rdap::{
    Bootstrap, IANA_BOOTSTRAP_BASE, RdapClient, RdapConfig, RdapContact, RdapDomain, RdapError,
    RdapNetwork, RdapRegistrar, Registry,
};
pub use rules::{AppliedRule, ProxyRule, Rule, RuleContact, RuleScope, RuleSet};
pub use table::{
    AsRecord, BadLine, CdnList, ImportReport, MAX_REPORTED_BAD_LINES, PrefixTable,
    PrefixTableBuilder, RangeError, TableError,
};
