//! [`Attributor`]: URL → host → addresses → prefix / AS / CDN → hosting organisation and abuse
//! contact (RDAP), registrar (domain RDAP), with manual rules on top; the result is one plain
//! [`Attribution`] value that the takedown workflow stores with its time.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use fetch::{Resolver, Url};
use serde::{Deserialize, Serialize};

use crate::asn::{AnnouncedSpace, AsnLookup};
use crate::clock::Clock;
use crate::names::HostNames;
use crate::prefix::Prefix;
use crate::rdap::{RdapClient, RdapError, RdapNetwork};
use crate::rules::{AppliedRule, RuleContact, RuleScope, RuleSet};
use crate::table::CdnList;

/// Where a fact came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// An RDAP answer.
    Rdap,
    /// A manual rule.
    Rule,
    /// The prefix → AS table (no e-mail address there).
    Table,
    /// The CDN prefix list (a name only).
    CdnList,
}

/// An organisation to notify, as far as it is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// Organisation name.
    pub organisation: Option<String>,
    /// Where notices go.
    pub abuse_email: Option<String>,
    /// Upper-case ISO country code.
    pub country: Option<String>,
    /// Where this came from.
    pub source: Source,
    /// A registry handle (RDAP network or entity), for the analyst.
    pub handle: Option<String>,
}

impl Party {
    fn from_rule(c: &RuleContact) -> Self {
        Self {
            organisation: Some(c.organisation.clone()),
            abuse_email: c.abuse_email.clone(),
            country: c.country.clone(),
            source: Source::Rule,
            handle: None,
        }
    }

    fn from_network(n: &RdapNetwork) -> Self {
        Self {
            organisation: n.organisation.clone().or_else(|| n.name.clone()),
            abuse_email: n.abuse.as_ref().and_then(|a| a.email()).map(str::to_owned),
            country: n.country.clone().or_else(|| n.organisation_country.clone()),
            source: Source::Rdap,
            handle: n.handle.clone(),
        }
    }

    /// Whether a notice can be sent (an e-mail address is known).
    pub fn is_usable(&self) -> bool {
        self.abuse_email.as_deref().is_some_and(|e| e.contains('@'))
    }
}

/// The registrar of the reported domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrarInfo {
    /// Registrar name.
    pub name: Option<String>,
    /// IANA Registrar ID.
    pub iana_id: Option<u32>,
    /// The registrar's abuse address.
    pub abuse_email: Option<String>,
    /// Where this came from.
    pub source: Source,
}

/// Registry facts about the domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainFacts {
    /// The name the registry was asked about.
    pub name: String,
    /// EPP status values, lower-case.
    pub status: Vec<String>,
    /// Registration time.
    pub registered: Option<DateTime<Utc>>,
    /// Expiry time.
    pub expires: Option<DateTime<Utc>>,
    /// Last change.
    pub last_changed: Option<DateTime<Utc>>,
    /// Name servers.
    pub nameservers: Vec<String>,
}

/// Why an address is part of the attribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpRole {
    /// The host resolved to it (or the URL names it).
    Resolved,
    /// A rule names it as the origin behind a proxy/CDN.
    Origin,
}

/// What is known about one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpAttribution {
    /// The address.
    pub ip: IpAddr,
    /// Why it is here.
    pub role: IpRole,
    /// Network prefix from the prefix table (or RDAP when the table has none).
    pub prefix: Option<Prefix>,
    /// AS number.
    pub asn: Option<u32>,
    /// AS name / organisation.
    pub as_name: Option<String>,
    /// Country of the AS (table) or network (RDAP).
    pub country: Option<String>,
    /// The CDN whose prefix contains it.
    pub cdn: Option<String>,
    /// The RDAP network answer, when one was asked.
    pub network: Option<RdapNetwork>,
}

/// Which role lacks a usable contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactRole {
    /// The hosting organisation.
    Hoster,
    /// The CDN / proxy in front of the site.
    Cdn,
    /// The domain's registrar.
    Registrar,
}

/// Why a role has no usable contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingReason {
    /// The host name did not resolve, so there is nothing to attribute.
    NoAddresses,
    /// No organisation was found.
    Unknown,
    /// The organisation is known but no abuse e-mail address.
    NoAbuseEmail,
    /// The site is behind a CDN/proxy and its origin is unknown: ask the CDN for it (or add a
    /// rule with the origin).
    OriginUnknown,
}

/// One entry of the "needs contact" queue: never park a case silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NeedsContact {
    /// Whose contact is missing.
    pub role: ContactRole,
    /// Why.
    pub reason: MissingReason,
}

/// The full attribution of one URL at one time. Plain data: the takedown workflow stores it
/// (history of who hosted what, when) and the monitor reads it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    /// The normalised URL.
    pub url: String,
    /// Host and domains.
    #[serde(flatten)]
    pub names: HostNames,
    /// Every address considered: the resolved ones, then rule-given origins.
    pub ips: Vec<IpAttribution>,
    /// Hosting organisation (the origin's, when behind a CDN and the origin is known).
    pub hoster: Option<Party>,
    /// The CDN / proxy in front of the site, when there is one: it gets the notice as a proxy,
    /// asking for the origin.
    pub cdn: Option<Party>,
    /// The domain's registrar.
    pub registrar: Option<RegistrarInfo>,
    /// Registry facts of the domain.
    pub domain: Option<DomainFacts>,
    /// The site owner's contact (rules only).
    pub site_owner: Option<Party>,
    /// A rule says: do not scrape this site.
    pub do_not_scrape: bool,
    /// The rule scopes that applied, least specific first.
    pub rules_applied: Vec<RuleScope>,
    /// Roles without a usable contact; empty when the hoster (or CDN) and registrar can be
    /// notified.
    pub needs_contact: Vec<NeedsContact>,
    /// Look-up failures, for the analyst (no URL paths in them).
    pub problems: Vec<String>,
    /// The AS data source used (`prefix-table`, `mmdb`).
    pub asn_source: Option<String>,
    /// When the attribution was made.
    pub made_at: DateTime<Utc>,
}

impl Attribution {
    /// Whether someone on the hosting side (hoster, or the CDN as proxy) can be notified.
    pub fn hosting_side_reachable(&self) -> bool {
        self.hoster.as_ref().is_some_and(Party::is_usable)
            || self.cdn.as_ref().is_some_and(Party::is_usable)
    }

    /// Whether `role` is in the needs-contact list.
    pub fn needs(&self, role: ContactRole) -> bool {
        self.needs_contact.iter().any(|n| n.role == role)
    }
}

/// The first party with an e-mail address, else the first with a name, else the first: the
/// addresses are in preference order (IPv4 first), so ties keep that order.
fn best(parties: impl Iterator<Item = Party>) -> Option<Party> {
    let all: Vec<Party> = parties.collect();
    let pos = all
        .iter()
        .position(Party::is_usable)
        .or_else(|| all.iter().position(|p| p.organisation.is_some()))
        .unwrap_or(0);
    all.into_iter().nth(pos)
}

/// A URL that cannot be attributed at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttributeError {
    /// Not an http(s) URL with a host.
    #[error("cannot attribute URL: {0}")]
    Url(#[from] fetch::NormalizeError),
}

/// Ties resolver, AS tables, CDN list, RDAP and rules together.
pub struct Attributor {
    resolver: Arc<dyn Resolver>,
    asn: Vec<Arc<dyn AsnLookup>>,
    cdn: Option<Arc<CdnList>>,
    rdap: Option<Arc<RdapClient>>,
    rules: RwLock<Arc<RuleSet>>,
    clock: Arc<dyn Clock>,
    max_ips: usize,
    max_rdap_ips: usize,
}

impl std::fmt::Debug for Attributor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attributor")
            .field("asn_sources", &self.asn.len())
            .field("cdn_prefixes", &self.cdn.as_ref().map(|c| c.len()))
            .field("rdap", &self.rdap.is_some())
            .field("max_ips", &self.max_ips)
            .finish_non_exhaustive()
    }
}

impl Attributor {
    /// An attributor that only resolves; add sources with the `with_*` methods.
    pub fn new(resolver: Arc<dyn Resolver>, clock: Arc<dyn Clock>) -> Self {
        Self {
            resolver,
            asn: Vec::new(),
            cdn: None,
            rdap: None,
            rules: RwLock::new(Arc::new(RuleSet::default())),
            clock,
            max_ips: 8,
            max_rdap_ips: 2,
        }
    }

    /// Adds an AS source; sources are asked in the order added, the first answer wins.
    pub fn with_asn(mut self, source: Arc<dyn AsnLookup>) -> Self {
        self.asn.push(source);
        self
    }

    /// Sets the CDN prefix list.
    pub fn with_cdn_list(mut self, list: Arc<CdnList>) -> Self {
        self.cdn = Some(list);
        self
    }

    /// Sets the RDAP client.
    pub fn with_rdap(mut self, rdap: Arc<RdapClient>) -> Self {
        self.rdap = Some(rdap);
        self
    }

    /// Sets the rules.
    pub fn with_rules(self, rules: RuleSet) -> Self {
        self.replace_rules(rules);
        self
    }

    /// How many addresses per host are kept (default 8) and how many are asked of RDAP
    /// (default 2, the first IPv4 and the first IPv6 usually).
    pub fn with_limits(mut self, max_ips: usize, max_rdap_ips: usize) -> Self {
        self.max_ips = max_ips.max(1);
        self.max_rdap_ips = max_rdap_ips;
        self
    }

    /// Replaces the rules at run time (analysts edit them while workers run).
    pub fn replace_rules(&self, rules: RuleSet) {
        *self.rules.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(rules);
    }

    /// The announced space of `asn`, from the first AS source that knows it.
    pub fn announced(&self, asn: u32) -> Option<AnnouncedSpace> {
        self.asn.iter().find_map(|s| s.announced(asn))
    }

    /// Attributes a URL string (normalised first; see `fetch::normalize`).
    pub async fn attribute(&self, url: &str) -> Result<Attribution, AttributeError> {
        let n = fetch::normalize(url)?;
        Ok(self.attribute_url(&n.url).await)
    }

    /// Attributes a parsed URL. Lookup failures do not fail the call: they are listed in
    /// [`Attribution::problems`] and, where they leave a role without contact, in
    /// [`Attribution::needs_contact`].
    pub async fn attribute_url(&self, url: &Url) -> Attribution {
        let host = url.host_str().unwrap_or_default();
        let names = HostNames::new(host);
        let rules = Arc::clone(&self.rules.read().unwrap_or_else(|p| p.into_inner()));
        let applied: Option<AppliedRule> = rules.effective(&names);
        let rule = applied.as_ref().map(|a| &a.rule);
        let mut problems = Vec::new();

        // Addresses.
        let mut dns_failed = false;
        let resolved = match names.ip() {
            Some(ip) => vec![ip.to_canonical()],
            None => match self.resolve(&names.host).await {
                Ok(ips) => ips,
                Err(e) => {
                    dns_failed = true;
                    problems.push(format!("DNS {}: {e}", names.host));
                    Vec::new()
                }
            },
        };
        let mut ips: Vec<IpAttribution> = resolved
            .iter()
            .map(|&ip| self.table_facts(ip, IpRole::Resolved))
            .collect();

        // Proxy / CDN and known origins.
        let proxy_rule = rule.and_then(|r| r.proxy.as_ref());
        let cdn_name = ips.iter().find_map(|i| i.cdn.clone());
        let behind_cdn = cdn_name.is_some() || proxy_rule.is_some();
        if let Some(p) = proxy_rule {
            let mut origins: Vec<IpAddr> = p.origin_ips.iter().map(|i| i.to_canonical()).collect();
            if let Some(h) = &p.origin_host {
                match self.resolve(h).await {
                    Ok(more) => origins.extend(more),
                    Err(e) => problems.push(format!("DNS origin {h}: {e}")),
                }
            }
            origins.sort_by_key(|i| (i.is_ipv6(), *i));
            origins.dedup();
            for ip in origins.into_iter().take(self.max_ips) {
                ips.push(self.table_facts(ip, IpRole::Origin));
            }
        }
        let asn_source = (!ips.is_empty())
            .then(|| self.asn.first().map(|s| s.source_name().to_owned()))
            .flatten();

        // RDAP: the hosting side (origins when behind a CDN, otherwise the resolved addresses),
        // and the CDN's own network; the domain in parallel.
        let hosting_role = if behind_cdn {
            IpRole::Origin
        } else {
            IpRole::Resolved
        };
        let rule_hoster = rule.and_then(|r| r.hoster.as_ref());
        let rule_registrar = rule.and_then(|r| r.registrar.as_ref());
        let want_cdn_rdap = behind_cdn
            && rule
                .and_then(|r| r.proxy.as_ref()?.proxy.as_ref())
                .is_none();
        let ip_lookups = self.rdap_ips(&mut ips, hosting_role, want_cdn_rdap, &mut problems);
        let domain_lookup = async {
            match (&self.rdap, &names.registry_domain, rule_registrar) {
                (Some(rdap), Some(d), None) => Some(rdap.domain(d).await),
                _ => None,
            }
        };
        let ((), domain) = tokio::join!(ip_lookups, domain_lookup);

        // Hoster.
        let hoster = if let Some(c) = rule_hoster {
            Some(Party::from_rule(c))
        } else {
            let candidates = ips.iter().filter(|i| i.role == hosting_role);
            let from_rdap = best(
                candidates
                    .clone()
                    .filter_map(|i| i.network.as_ref())
                    .map(Party::from_network),
            );
            from_rdap.or_else(|| {
                candidates
                    .filter(|i| i.asn.is_some())
                    .map(|i| Party {
                        organisation: i.as_name.clone(),
                        abuse_email: None,
                        country: i.country.clone(),
                        source: Source::Table,
                        handle: i.asn.map(|a| format!("AS{a}")),
                    })
                    .next()
            })
        };

        // CDN.
        let cdn = if behind_cdn {
            if let Some(c) = proxy_rule.and_then(|p| p.proxy.as_ref()) {
                Some(Party::from_rule(c))
            } else {
                let from_rdap = best(
                    ips.iter()
                        .filter(|i| i.role == IpRole::Resolved)
                        .filter_map(|i| i.network.as_ref())
                        .map(Party::from_network),
                );
                match (from_rdap, cdn_name) {
                    (Some(mut p), name) => {
                        if p.organisation.is_none() {
                            p.organisation = name;
                        }
                        Some(p)
                    }
                    (None, Some(name)) => Some(Party {
                        organisation: Some(name),
                        abuse_email: None,
                        country: None,
                        source: Source::CdnList,
                        handle: None,
                    }),
                    (None, None) => None,
                }
            }
        } else {
            None
        };

        // Registrar and domain facts.
        let mut domain_facts = None;
        let registrar = if let Some(c) = rule_registrar {
            Some(RegistrarInfo {
                name: Some(c.organisation.clone()),
                iana_id: None,
                abuse_email: c.abuse_email.clone(),
                source: Source::Rule,
            })
        } else {
            match domain {
                Some(Ok(d)) => {
                    domain_facts = Some(DomainFacts {
                        name: d.query.clone(),
                        status: d.status.clone(),
                        registered: d.registered,
                        expires: d.expires,
                        last_changed: d.last_changed,
                        nameservers: d.nameservers.clone(),
                    });
                    d.registrar.as_ref().map(|r| RegistrarInfo {
                        name: r.name.clone(),
                        iana_id: r.iana_id,
                        abuse_email: r
                            .abuse
                            .as_ref()
                            .or(d.abuse.as_ref())
                            .and_then(|a| a.email())
                            .map(str::to_owned),
                        source: Source::Rdap,
                    })
                }
                Some(Err(e)) => {
                    problems.push(format!(
                        "RDAP domain {}: {e}",
                        names.registry_domain.as_deref().unwrap_or("")
                    ));
                    None
                }
                None => None,
            }
        };

        // Needs contact.
        let mut needs = Vec::new();
        let mut need = |role, reason| needs.push(NeedsContact { role, reason });
        let has_origin = ips.iter().any(|i| i.role == IpRole::Origin);
        match &hoster {
            Some(h) if h.is_usable() => {}
            Some(_) => need(ContactRole::Hoster, MissingReason::NoAbuseEmail),
            None if behind_cdn && !has_origin => {
                need(ContactRole::Hoster, MissingReason::OriginUnknown);
            }
            None if dns_failed || resolved.is_empty() && !has_origin => {
                need(ContactRole::Hoster, MissingReason::NoAddresses);
            }
            None => need(ContactRole::Hoster, MissingReason::Unknown),
        }
        if behind_cdn {
            match &cdn {
                Some(c) if c.is_usable() => {}
                Some(_) => need(ContactRole::Cdn, MissingReason::NoAbuseEmail),
                None => need(ContactRole::Cdn, MissingReason::Unknown),
            }
        }
        if names.registry_domain.is_some() {
            match &registrar {
                Some(r) if r.abuse_email.as_deref().is_some_and(|e| e.contains('@')) => {}
                Some(_) => need(ContactRole::Registrar, MissingReason::NoAbuseEmail),
                None => need(ContactRole::Registrar, MissingReason::Unknown),
            }
        }

        let attribution = Attribution {
            url: url.to_string(),
            ips,
            hoster,
            cdn,
            registrar,
            domain: domain_facts,
            site_owner: rule
                .and_then(|r| r.site_owner.as_ref())
                .map(Party::from_rule),
            do_not_scrape: rule.and_then(|r| r.do_not_scrape).unwrap_or(false),
            rules_applied: applied.map(|a| a.matched).unwrap_or_default(),
            needs_contact: needs,
            problems,
            asn_source,
            made_at: self.clock.now(),
            names,
        };
        tracing::debug!(
            host = %attribution.names.host,
            ips = attribution.ips.len(),
            hoster = ?attribution.hoster.as_ref().and_then(|h| h.organisation.as_deref()),
            needs = attribution.needs_contact.len(),
            "attributed"
        );
        attribution
    }

    /// Resolves a host: IPv4 first, then IPv6, de-duplicated, at most `max_ips`.
    async fn resolve(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        let mut ips: Vec<IpAddr> = self
            .resolver
            .resolve(host)
            .await?
            .into_iter()
            .map(|i| i.to_canonical())
            .collect();
        ips.sort_by_key(|i| (i.is_ipv6(), *i));
        ips.dedup();
        ips.truncate(self.max_ips);
        if ips.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no addresses",
            ));
        }
        Ok(ips)
    }

    /// Prefix, AS and CDN of one address from the in-memory tables.
    fn table_facts(&self, ip: IpAddr, role: IpRole) -> IpAttribution {
        let mut out = IpAttribution {
            ip,
            role,
            prefix: None,
            asn: None,
            as_name: None,
            country: None,
            cdn: self
                .cdn
                .as_ref()
                .and_then(|c| c.cdn_of(ip))
                .map(str::to_owned),
            network: None,
        };
        for source in &self.asn {
            match source.lookup_asn(ip) {
                Ok(Some(hit)) => {
                    out.prefix = Some(hit.prefix);
                    out.asn = Some(hit.asn);
                    out.as_name = hit.as_name;
                    out.country = hit.country;
                    break;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, source = source.source_name(), "ASN lookup"),
            }
        }
        out
    }

    /// Asks RDAP about the hosting-side addresses (one per family first) and, behind a CDN,
    /// about the CDN's resolved address. Fills `network` (and prefix/country when the tables
    /// had none).
    async fn rdap_ips(
        &self,
        ips: &mut [IpAttribution],
        hosting_role: IpRole,
        want_cdn: bool,
        problems: &mut Vec<String>,
    ) {
        let Some(rdap) = &self.rdap else { return };
        // Pick addresses: first of each family per role, then the rest, up to the limit.
        let mut picks: Vec<usize> = Vec::new();
        let pick_for = |role: IpRole, limit: usize, picks: &mut Vec<usize>| {
            let idx: Vec<usize> = (0..ips.len()).filter(|&i| ips[i].role == role).collect();
            let mut chosen: Vec<usize> = Vec::new();
            for v6 in [false, true] {
                if let Some(&i) = idx.iter().find(|&&i| ips[i].ip.is_ipv6() == v6) {
                    chosen.push(i);
                }
            }
            for &i in &idx {
                if !chosen.contains(&i) {
                    chosen.push(i);
                }
            }
            picks.extend(chosen.into_iter().take(limit));
        };
        pick_for(hosting_role, self.max_rdap_ips, &mut picks);
        if want_cdn && hosting_role != IpRole::Resolved {
            pick_for(IpRole::Resolved, 1, &mut picks);
        }
        for i in picks {
            let ip = ips[i].ip;
            match rdap.ip(ip).await {
                Ok(net) => {
                    let slot = &mut ips[i];
                    if slot.prefix.is_none() {
                        slot.prefix = net.cidrs.iter().find(|p| p.contains(ip)).copied();
                    }
                    if slot.country.is_none() {
                        slot.country.clone_from(&net.country);
                    }
                    slot.network = Some(net.as_ref().clone());
                }
                Err(RdapError::NotFound) => problems.push(format!("RDAP ip {ip}: not found")),
                Err(e) => problems.push(format!("RDAP ip {ip}: {e}")),
            }
        }
    }
}
