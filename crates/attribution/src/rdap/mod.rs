//! A small RDAP client (RFC 9082/9083) on the safe [`Fetcher`]: IP network and domain look-ups
//! with IANA bootstrap, redirects (followed and checked by the fetcher), and an in-memory cache
//! with time-to-live.
//!
//! Hand-rolled because ICANN's `icann-rdap-client` needs a newer Rust than the project's; we
//! only need a handful of fields, read defensively (see `parse`).

mod bootstrap;
mod cache;
mod parse;

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use fetch::{FetchError, FetchOptions, Fetcher, Url};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use bootstrap::{Bootstrap, IANA_BOOTSTRAP_BASE, Registry};

use crate::clock::Clock;
use crate::prefix::Prefix;
use cache::TtlCache;
use parse::{Entity, cidrs_of, entities_of, events_of, find_role, status_of, str_field};

/// A contact found in RDAP: an entity's name and e-mail addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RdapContact {
    /// The entity handle (`AR123-RIPE`, `ABUSE5250-ARIN`).
    pub handle: Option<String>,
    /// vCard `fn` or `org`.
    pub name: Option<String>,
    /// vCard e-mail addresses, in order.
    pub emails: Vec<String>,
}

impl RdapContact {
    fn from_entity(e: &Entity) -> Self {
        Self {
            handle: e.handle.clone(),
            name: e.name(),
            emails: e.emails.clone(),
        }
    }

    /// The first e-mail address.
    pub fn email(&self) -> Option<&str> {
        self.emails.first().map(String::as_str)
    }
}

/// What an `ip/{addr}` query tells about the network around an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RdapNetwork {
    /// The address asked about.
    pub query: IpAddr,
    /// Registry handle of the network (`NET-198-51-100-0-1`, `198.51.100.0 - 198.51.100.255`).
    pub handle: Option<String>,
    /// Network name (`EXAMPLE-HOSTING-NET`).
    pub name: Option<String>,
    /// First address of the network.
    pub start: Option<IpAddr>,
    /// Last address of the network.
    pub end: Option<IpAddr>,
    /// The network's CIDRs (from `cidr0_cidrs`, or derived from start and end).
    pub cidrs: Vec<Prefix>,
    /// Country of the network (`country` member), upper-case.
    pub country: Option<String>,
    /// Allocation type (`ASSIGNED PA`, `DIRECT ALLOCATION`, …).
    pub network_type: Option<String>,
    /// Handle of the parent network.
    pub parent_handle: Option<String>,
    /// The organisation holding the network: the `registrant` entity (shallowest), by name.
    pub organisation: Option<String>,
    /// The organisation's country from its vCard address, when given.
    pub organisation_country: Option<String>,
    /// The abuse contact: the shallowest entity with role `abuse` that has an e-mail address.
    pub abuse: Option<RdapContact>,
    /// The URL the answer finally came from (after redirects).
    pub source: String,
    /// When it was fetched.
    pub fetched_at: DateTime<Utc>,
}

/// The registrar of a domain, from the `registrar` entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RdapRegistrar {
    /// Registrar name.
    pub name: Option<String>,
    /// The IANA Registrar ID from `publicIds`.
    pub iana_id: Option<u32>,
    /// The registrar entity's handle.
    pub handle: Option<String>,
    /// The registrar's abuse contact (nested entity with role `abuse`).
    pub abuse: Option<RdapContact>,
}

/// What a `domain/{name}` query tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RdapDomain {
    /// The name asked about.
    pub query: String,
    /// The domain as the registry spells it (LDH form, lower-cased).
    pub ldh_name: Option<String>,
    /// Registry handle.
    pub handle: Option<String>,
    /// EPP status values (`client transfer prohibited`, `server hold`, …), lower-case.
    pub status: Vec<String>,
    /// `registration` event.
    pub registered: Option<DateTime<Utc>>,
    /// `expiration` event.
    pub expires: Option<DateTime<Utc>>,
    /// `last changed` event.
    pub last_changed: Option<DateTime<Utc>>,
    /// The sponsoring registrar.
    pub registrar: Option<RdapRegistrar>,
    /// A domain-level abuse contact outside the registrar entity, if the registry gives one.
    pub abuse: Option<RdapContact>,
    /// The registrant, when not redacted.
    pub registrant: Option<RdapContact>,
    /// Name servers (LDH names, lower-case).
    pub nameservers: Vec<String>,
    /// The URL the answer finally came from (after redirects).
    pub source: String,
    /// When it was fetched.
    pub fetched_at: DateTime<Utc>,
}

/// Why an RDAP query failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RdapError {
    /// The bootstrap data names no server for this address or TLD.
    #[error("no RDAP server known for {0}")]
    NoServer(String),
    /// The server does not know the object (HTTP 404).
    #[error("RDAP object not found")]
    NotFound,
    /// The server asks us to slow down (HTTP 429).
    #[error("RDAP server rate-limited the query")]
    RateLimited,
    /// Another HTTP status.
    #[error("RDAP server answered HTTP {0}")]
    Status(u16),
    /// The answer is not the expected RDAP JSON.
    #[error("invalid RDAP response: {0}")]
    Invalid(String),
    /// The fetch itself failed (refused address, timeout, …).
    #[error("RDAP fetch failed: {0}")]
    Fetch(#[from] FetchError),
    /// Bootstrap data could not be loaded.
    #[error("RDAP bootstrap: {0}")]
    Bootstrap(String),
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct RdapConfig {
    /// How long a successful answer is reused (default 12 h, SCART's WHOIS cache time).
    pub ttl: Duration,
    /// How long "not found" is remembered (default 1 h).
    pub negative_ttl: Duration,
    /// Body cap per response (default 2 MiB; real answers are a few KiB).
    pub max_body_bytes: u64,
    /// Cache entries per kind (default 100 000).
    pub cache_capacity: usize,
}

impl Default for RdapConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::hours(12),
            negative_ttl: Duration::hours(1),
            max_body_bytes: 2 * 1024 * 1024,
            cache_capacity: 100_000,
        }
    }
}

enum Cached<T> {
    Found(Arc<T>),
    NotFound,
}

impl<T> Clone for Cached<T> {
    fn clone(&self) -> Self {
        match self {
            Self::Found(v) => Self::Found(Arc::clone(v)),
            Self::NotFound => Self::NotFound,
        }
    }
}

/// The RDAP client. Cheap to share in an `Arc`; the cache is inside.
pub struct RdapClient {
    fetcher: Fetcher,
    bootstrap: Bootstrap,
    config: RdapConfig,
    clock: Arc<dyn Clock>,
    ip_cache: TtlCache<IpAddr, Cached<RdapNetwork>>,
    domain_cache: TtlCache<String, Cached<RdapDomain>>,
}

impl std::fmt::Debug for RdapClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RdapClient")
            .field("config", &self.config)
            .field("cached_ips", &self.ip_cache.len())
            .field("cached_domains", &self.domain_cache.len())
            .finish_non_exhaustive()
    }
}

const ACCEPT: &str = "application/rdap+json, application/json;q=0.9";

impl RdapClient {
    /// A client asking the servers named by `bootstrap`, through `fetcher`.
    pub fn new(
        fetcher: Fetcher,
        bootstrap: Bootstrap,
        config: RdapConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            ip_cache: TtlCache::new(config.cache_capacity, Arc::clone(&clock)),
            domain_cache: TtlCache::new(config.cache_capacity, Arc::clone(&clock)),
            fetcher,
            bootstrap,
            config,
            clock,
        }
    }

    /// Drops every cached answer.
    pub fn clear_cache(&self) {
        self.ip_cache.clear();
        self.domain_cache.clear();
    }

    /// Looks up the network of `ip` (cached by address).
    pub async fn ip(&self, ip: IpAddr) -> Result<Arc<RdapNetwork>, RdapError> {
        let ip = ip.to_canonical();
        match self.ip_cache.get(&ip) {
            Some(Cached::Found(n)) => return Ok(n),
            Some(Cached::NotFound) => return Err(RdapError::NotFound),
            None => {}
        }
        let base = self
            .bootstrap
            .ip_servers(ip)
            .and_then(bootstrap::pick)
            .ok_or_else(|| RdapError::NoServer(ip.to_string()))?;
        let url = base
            .join(&format!("ip/{ip}"))
            .map_err(|e| RdapError::Invalid(e.to_string()))?;
        let result = self
            .query(&url, "ip network")
            .await
            .map(|(json, source)| Arc::new(self.network_from(ip, &json, source)));
        self.remember(&self.ip_cache, ip, &result);
        result
    }

    /// Looks up a domain (the registry's name for it, e.g. from
    /// [`crate::HostNames::registry_domain`]; cached by name).
    pub async fn domain(&self, name: &str) -> Result<Arc<RdapDomain>, RdapError> {
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        match self.domain_cache.get(&name) {
            Some(Cached::Found(d)) => return Ok(d),
            Some(Cached::NotFound) => return Err(RdapError::NotFound),
            None => {}
        }
        let base = self
            .bootstrap
            .domain_servers(&name)
            .and_then(bootstrap::pick)
            .ok_or_else(|| RdapError::NoServer(name.clone()))?;
        let url = base
            .join(&format!("domain/{name}"))
            .map_err(|e| RdapError::Invalid(e.to_string()))?;
        let result = self
            .query(&url, "domain")
            .await
            .map(|(json, source)| Arc::new(self.domain_from(&name, &json, source)));
        self.remember(&self.domain_cache, name, &result);
        result
    }

    fn remember<K: std::hash::Hash + Eq + Clone, T>(
        &self,
        cache: &TtlCache<K, Cached<T>>,
        key: K,
        result: &Result<Arc<T>, RdapError>,
    ) {
        match result {
            Ok(v) => cache.insert(key, Cached::Found(Arc::clone(v)), self.config.ttl),
            Err(RdapError::NotFound) => {
                cache.insert(key, Cached::NotFound, self.config.negative_ttl);
            }
            Err(_) => {}
        }
    }

    async fn query(&self, url: &Url, class: &str) -> Result<(Value, String), RdapError> {
        let opts = FetchOptions::new()
            .accept(ACCEPT)
            .max_body_bytes(self.config.max_body_bytes);
        let got = self.fetcher.fetch_with(url, &opts).await?;
        tracing::debug!(
            status = got.status,
            redirects = got.redirects.len(),
            class,
            "rdap answer"
        );
        match got.status {
            200 => {}
            404 => return Err(RdapError::NotFound),
            429 => return Err(RdapError::RateLimited),
            s => return Err(RdapError::Status(s)),
        }
        let json: Value =
            serde_json::from_slice(&got.body).map_err(|e| RdapError::Invalid(e.to_string()))?;
        let got_class = json.get("objectClassName").and_then(Value::as_str);
        if got_class.is_some_and(|c| !c.eq_ignore_ascii_case(class)) {
            return Err(RdapError::Invalid(format!(
                "expected objectClassName {class:?}, got {got_class:?}"
            )));
        }
        if !json.is_object() {
            return Err(RdapError::Invalid("not a JSON object".into()));
        }
        Ok((json, got.final_url.to_string()))
    }

    fn network_from(&self, query: IpAddr, v: &Value, source: String) -> RdapNetwork {
        let entities = entities_of(v);
        let start = str_field(v, "startAddress").and_then(|s| s.parse().ok());
        let end = str_field(v, "endAddress").and_then(|s| s.parse().ok());
        let mut cidrs = cidrs_of(v);
        if cidrs.is_empty()
            && let (Some(s), Some(e)) = (start, end)
            && let Some(p) = Prefix::largest_within(query, s, e)
        {
            cidrs.push(p);
        }
        let registrant = find_role(&entities, "registrant", |e| e.name().is_some());
        let abuse = find_role(&entities, "abuse", |e| !e.emails.is_empty());
        RdapNetwork {
            query,
            handle: str_field(v, "handle"),
            name: str_field(v, "name"),
            start,
            end,
            cidrs,
            country: str_field(v, "country").map(|c| c.to_ascii_uppercase()),
            network_type: str_field(v, "type"),
            parent_handle: str_field(v, "parentHandle"),
            organisation: registrant.and_then(Entity::name),
            organisation_country: registrant
                .and_then(|e| e.country.clone())
                .map(|c| c.to_ascii_uppercase())
                .filter(|c| c.len() == 2),
            abuse: abuse.map(RdapContact::from_entity),
            source,
            fetched_at: self.clock.now(),
        }
    }

    fn domain_from(&self, query: &str, v: &Value, source: String) -> RdapDomain {
        let entities = entities_of(v);
        let registrar = find_role(&entities, "registrar", |_| true).map(|r| RdapRegistrar {
            name: r.name(),
            iana_id: r
                .public_ids
                .iter()
                .find(|(t, _)| t.eq_ignore_ascii_case("IANA Registrar ID"))
                .and_then(|(_, id)| id.trim().parse().ok()),
            handle: r.handle.clone(),
            abuse: find_role(&r.entities, "abuse", |e| !e.emails.is_empty())
                .map(RdapContact::from_entity),
        });
        // A domain-level abuse contact that is not the registrar's own.
        let top_level: Vec<Entity> = entities
            .iter()
            .filter(|e| !e.has_role("registrar"))
            .cloned()
            .collect();
        let abuse =
            find_role(&top_level, "abuse", |e| !e.emails.is_empty()).map(RdapContact::from_entity);
        let registrant = find_role(&top_level, "registrant", |e| e.name().is_some())
            .map(RdapContact::from_entity);
        let events = events_of(v);
        let event = |name: &str| events.iter().find(|(a, _)| a == name).map(|(_, d)| *d);
        let nameservers = v
            .get("nameservers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|ns| str_field(ns, "ldhName"))
                    .map(|s| s.to_ascii_lowercase())
                    .collect()
            })
            .unwrap_or_default();
        RdapDomain {
            query: query.to_owned(),
            ldh_name: str_field(v, "ldhName").map(|s| s.to_ascii_lowercase()),
            handle: str_field(v, "handle"),
            status: status_of(v),
            registered: event("registration"),
            expires: event("expiration"),
            last_changed: event("last changed"),
            registrar,
            abuse,
            registrant,
            nameservers,
            source,
            fetched_at: self.clock.now(),
        }
    }
}
