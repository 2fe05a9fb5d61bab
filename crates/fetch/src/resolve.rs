//! Name resolution: pluggable, and always followed by the address check.
//!
//! The fetcher never lets the HTTP stack resolve names on its own. It installs [`Guard`] as the
//! HTTP client's resolver: the guard asks the configured [`Resolver`], checks **every** returned
//! address against the policy and hands exactly those checked addresses to the connector. So the
//! address that was checked is the address that is connected to; there is no second lookup an
//! attacker could answer differently (DNS rebinding).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use crate::addr::{AddrPolicy, BlockReason};

/// A boxed future, as returned by [`Resolver::resolve`] (keeps the trait object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Turns a host name into IP addresses. Implement it to plug in another resolver; tests use
/// [`StaticResolver`] so that no real DNS is needed.
///
/// Implementations only resolve; the fetcher checks the answers itself.
pub trait Resolver: Send + Sync + 'static {
    /// Resolves `host` (lower-case, without a trailing dot) to its addresses.
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>>;
}

/// The default resolver: hickory-resolver configured from the system (`/etc/resolv.conf`).
#[derive(Clone)]
pub struct SystemResolver {
    inner: hickory_resolver::TokioResolver,
}

impl SystemResolver {
    /// Reads the system DNS configuration. Fails when it cannot be read.
    pub fn from_system_conf() -> io::Result<Self> {
        let builder = hickory_resolver::TokioResolver::builder_tokio().map_err(io::Error::other)?;
        let inner = builder.build().map_err(io::Error::other)?;
        Ok(Self { inner })
    }
}

impl std::fmt::Debug for SystemResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SystemResolver")
    }
}

impl Resolver for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            // A trailing dot makes the name absolute, so no search domain is appended.
            let fqdn = format!("{host}.");
            let lookup = self
                .inner
                .lookup_ip(fqdn.as_str())
                .await
                .map_err(io::Error::other)?;
            Ok(lookup.iter().collect())
        })
    }
}

/// A fixed name → addresses table; unknown names fail. For tests (`evil.test` → `10.0.0.1`) and
/// for operators who want to pin a few names.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    map: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the addresses of `host`. Names are matched case-insensitively and
    /// without a trailing dot.
    pub fn with(mut self, host: &str, addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        self.map
            .insert(normalize_host(host), addrs.into_iter().collect());
        self
    }
}

impl Resolver for StaticResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            self.map
                .get(&normalize_host(host))
                .cloned()
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "name not in static table"))
        })
    }
}

/// Lower-cases a host name and drops one trailing dot.
pub(crate) fn normalize_host(host: &str) -> String {
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

/// `localhost` and `*.localhost` (RFC 6761): always `127.0.0.1`, never asked of DNS or of a
/// proxy, so that the address check sees them (and an allow-listed `127.0.0.1` covers them).
pub(crate) fn localhost_addrs(host: &str) -> Option<Vec<IpAddr>> {
    let h = normalize_host(host);
    if h == "localhost" || h.ends_with(".localhost") {
        Some(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)])
    } else {
        None
    }
}

/// A resolved address refused by the policy; travels through the HTTP stack as an error source
/// and is turned back into [`crate::FetchError::Blocked`].
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to blocked address {addr}: {reason}")]
pub(crate) struct BlockedAddr {
    pub(crate) host: String,
    pub(crate) addr: IpAddr,
    pub(crate) reason: BlockReason,
}

/// Resolution failed; turned back into [`crate::FetchError::Dns`].
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve {host}: {message}")]
pub(crate) struct DnsFailure {
    pub(crate) host: String,
    pub(crate) message: String,
}

/// Resolves with the configured resolver and checks each address; installed into reqwest.
pub(crate) struct Guard {
    pub(crate) resolver: Arc<dyn Resolver>,
    pub(crate) policy: Arc<AddrPolicy>,
    /// The proxy's own host name: operator-configured, so resolved without the check.
    pub(crate) proxy_host: Option<String>,
}

impl Guard {
    /// Resolves and checks `host`; every address must pass, or none is used.
    pub(crate) async fn resolve_checked(
        resolver: &dyn Resolver,
        policy: &AddrPolicy,
        host: &str,
        exempt: bool,
    ) -> Result<Vec<IpAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let name = normalize_host(host);
        let addrs = match localhost_addrs(&name) {
            Some(a) => a,
            None => resolver.resolve(&name).await.map_err(|e| DnsFailure {
                host: name.clone(),
                message: e.to_string(),
            })?,
        };
        if addrs.is_empty() {
            return Err(Box::new(DnsFailure {
                host: name,
                message: "no addresses".into(),
            }));
        }
        if !exempt {
            for &addr in &addrs {
                policy.check(addr).map_err(|reason| BlockedAddr {
                    host: name.clone(),
                    addr,
                    reason,
                })?;
            }
        }
        tracing::debug!(host = %name, count = addrs.len(), "resolved and checked");
        Ok(addrs)
    }
}

impl reqwest::dns::Resolve for Guard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = Arc::clone(&self.resolver);
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        let exempt = self
            .proxy_host
            .as_deref()
            .is_some_and(|p| normalize_host(p) == normalize_host(&host));
        Box::pin(async move {
            let addrs = Self::resolve_checked(resolver.as_ref(), &policy, &host, exempt).await?;
            let it: reqwest::dns::Addrs =
                Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(it)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn static_resolver_matches_case_and_trailing_dot() {
        let r = StaticResolver::new().with("Evil.Test.", ["10.0.0.1".parse().expect("ip")]);
        let got = r.resolve("evil.test").await.expect("resolves");
        assert_eq!(got, vec!["10.0.0.1".parse::<IpAddr>().expect("ip")]);
        assert!(r.resolve("other.test").await.is_err());
    }

    #[tokio::test]
    async fn guard_refuses_when_any_address_is_blocked() {
        let r = StaticResolver::new().with(
            "mixed.test",
            [
                "127.0.0.2".parse().expect("ip"),
                "10.0.0.1".parse().expect("ip"),
            ],
        );
        let policy = AddrPolicy {
            allow: vec!["127.0.0.2/32".parse().expect("r")],
            deny: vec![],
        };
        let err = Guard::resolve_checked(&r, &policy, "mixed.test", false)
            .await
            .expect_err("must refuse");
        let blocked = err.downcast_ref::<BlockedAddr>().expect("blocked error");
        assert_eq!(blocked.reason, BlockReason::Private);
        // The proxy's own name is exempt.
        assert!(
            Guard::resolve_checked(&r, &policy, "mixed.test", true)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn localhost_names_never_reach_the_resolver() {
        let r = StaticResolver::new().with("localhost", ["93.184.216.34".parse().expect("ip")]);
        let policy = AddrPolicy::default();
        for name in ["localhost", "LOCALHOST.", "a.b.localhost"] {
            let err = Guard::resolve_checked(&r, &policy, name, false)
                .await
                .expect_err("blocked");
            let blocked = err.downcast_ref::<BlockedAddr>().expect("blocked error");
            assert_eq!(blocked.reason, BlockReason::Loopback, "{name}");
        }
    }
}
