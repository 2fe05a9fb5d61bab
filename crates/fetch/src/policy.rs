//! [`FetchPolicy`]: every limit of the fetcher in one value, with safe defaults.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::resolve::Resolver;

/// Which destination ports may be fetched.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PortPolicy {
    /// Any port a web browser would fetch: every port except the Fetch Standard's "bad ports"
    /// (SMTP, SSH, IRC, … — ports where a crafted HTTP request can talk to another protocol).
    /// Reported material is found on odd ports, so this is the default.
    #[default]
    BrowserSafe,
    /// Only these ports (for example `[80, 443, 8080, 8443]` for a stricter deployment).
    Only(Vec<u16>),
}

/// The Fetch Standard's port-blocking list ("bad ports").
const BAD_PORTS: &[u16] = &[
    0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101,
    102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427,
    465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990,
    993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667,
    6668, 6669, 6679, 6697, 10080,
];

impl PortPolicy {
    /// Whether `port` may be fetched.
    pub fn allows(&self, port: u16) -> bool {
        match self {
            Self::BrowserSafe => !BAD_PORTS.contains(&port),
            Self::Only(ports) => ports.contains(&port),
        }
    }
}

/// How the fetcher behaves: limits, allowed destinations, identity, proxy.
///
/// Built with chained methods on [`FetchPolicy::new`] (all infallible; bad values are reported by
/// [`crate::Fetcher::new`]). Defaults: 5 redirects, 10 s connect, 30 s total, 32 MiB body,
/// browser-safe ports, no proxy, the system DNS, loopback and private networks refused.
#[derive(Clone)]
pub struct FetchPolicy {
    pub(crate) allow: Vec<String>,
    pub(crate) deny: Vec<String>,
    pub(crate) ports: PortPolicy,
    pub(crate) max_redirects: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_body_bytes: u64,
    pub(crate) user_agent: String,
    pub(crate) proxy: Option<String>,
    pub(crate) resolver: Option<Arc<dyn Resolver>>,
    pub(crate) root_certs_pem: Vec<Vec<u8>>,
}

/// The default `User-Agent`.
pub const DEFAULT_USER_AGENT: &str = concat!("schoon-fetch/", env!("CARGO_PKG_VERSION"));

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            deny: Vec::new(),
            ports: PortPolicy::default(),
            max_redirects: 5,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            max_body_bytes: 32 * 1024 * 1024,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            proxy: None,
            resolver: None,
            root_certs_pem: Vec::new(),
        }
    }
}

impl fmt::Debug for FetchPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchPolicy")
            .field("allow", &self.allow)
            .field("deny", &self.deny)
            .field("ports", &self.ports)
            .field("max_redirects", &self.max_redirects)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("user_agent", &self.user_agent)
            // The proxy URL may carry credentials.
            .field("proxy", &self.proxy.as_ref().map(|_| "<set>"))
            .field("custom_resolver", &self.resolver.is_some())
            .field("root_certs", &self.root_certs_pem.len())
            .finish()
    }
}

impl FetchPolicy {
    /// The safe defaults (see the type's docs).
    pub fn new() -> Self {
        Self::default()
    }

    /// Explicitly allows address ranges that are otherwise refused, e.g. `["127.0.0.1/32"]` in
    /// tests. Nothing is allowed this way by default. An allowed range overrides every built-in
    /// rule, so keep it as narrow as possible.
    pub fn allow_addresses<I, S>(mut self, ranges: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allow.extend(ranges.into_iter().map(Into::into));
        self
    }

    /// Refuses extra address ranges, e.g. the public addresses of the hotline's own services.
    /// The deny list beats the allow list.
    pub fn deny_addresses<I, S>(mut self, ranges: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.deny.extend(ranges.into_iter().map(Into::into));
        self
    }

    /// Which ports may be fetched (default [`PortPolicy::BrowserSafe`]).
    pub fn ports(mut self, ports: PortPolicy) -> Self {
        self.ports = ports;
        self
    }

    /// How many redirects are followed (default 5). Each hop is checked like the first URL.
    pub fn max_redirects(mut self, n: usize) -> Self {
        self.max_redirects = n;
        self
    }

    /// Time limit to establish a connection (default 10 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Time limit for the whole fetch, all redirects and the body included (default 30 s).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Largest body accepted, counted on the decoded bytes (default 32 MiB).
    pub fn max_body_bytes(mut self, n: u64) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// The `User-Agent` header sent (default [`DEFAULT_USER_AGENT`]).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Sends every request through a proxy: `http://`, `https://`, `socks5://` or `socks5h://`
    /// (for Tor: `socks5h://127.0.0.1:9050`).
    ///
    /// With `http(s)://` and `socks5h://` the **proxy** resolves names and connects, so the
    /// address check can only apply to IP-literal hosts and `localhost` names; the proxy must
    /// refuse private destinations itself (Tor exits do). With `socks5://` names are resolved
    /// and checked here and the proxy is handed the checked address.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// Replaces the DNS resolver (default: the system configuration via hickory-resolver).
    /// Answers are still checked by the fetcher.
    pub fn resolver(mut self, resolver: Arc<dyn Resolver>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Trusts an extra root certificate (PEM), in addition to the system's. Certificates are
    /// always verified; this is for private CAs and tests, never a way to switch checking off.
    pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certs_pem.push(pem.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_safe_ports() {
        let p = PortPolicy::BrowserSafe;
        for ok in [80, 443, 8080, 8443, 3000, 54321] {
            assert!(p.allows(ok), "{ok}");
        }
        for bad in [0, 22, 25, 6667, 10080] {
            assert!(!p.allows(bad), "{bad}");
        }
        let only = PortPolicy::Only(vec![80, 443]);
        assert!(only.allows(443) && !only.allows(8080));
    }

    #[test]
    fn debug_hides_proxy_credentials() {
        let p = FetchPolicy::new().proxy("socks5h://user:secret@127.0.0.1:9050");
        assert!(!format!("{p:?}").contains("secret"));
    }
}
