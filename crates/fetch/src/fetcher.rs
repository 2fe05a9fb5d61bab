//! The [`Fetcher`]: one GET with every hop checked, limits enforced while streaming.

use std::collections::HashSet;
use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use reqwest::header::{ACCEPT, HeaderValue, LOCATION, REFERER};
use tracing::Instrument;
use url::{Host, Url};

use crate::addr::AddrPolicy;
use crate::error::{BuildError, FetchError, TimeoutKind};
use crate::policy::{FetchPolicy, PortPolicy};
use crate::resolve::{
    BlockedAddr, DnsFailure, Guard, Resolver, SystemResolver, localhost_addrs, normalize_host,
};
use crate::sniff::{SniffedType, mime_essence, sniff};

/// Response headers kept in [`Fetched::headers`]: what helps as evidence and for attribution
/// (server software, CDN markers, caching, dates). Cookies and everything else are dropped.
const KEPT_HEADERS: &[&str] = &[
    "age",
    "cache-control",
    "cf-cache-status",
    "cf-ray",
    "content-disposition",
    "content-encoding",
    "content-language",
    "content-length",
    "content-type",
    "date",
    "etag",
    "expires",
    "last-modified",
    "location",
    "retry-after",
    "server",
    "via",
    "x-amz-cf-id",
    "x-amz-cf-pop",
    "x-cache",
    "x-powered-by",
    "x-robots-tag",
    "x-served-by",
];

/// Longest header value kept (longer ones are cut, on a character boundary).
const MAX_HEADER_VALUE: usize = 1024;

/// One redirect that was followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The URL that answered with a redirect.
    pub url: Url,
    /// Its status (301, 302, 303, 307 or 308).
    pub status: u16,
    /// The address that answered (the proxy's, when one is used).
    pub remote_addr: Option<SocketAddr>,
}

/// A completed fetch. Non-2xx statuses are results, not errors: a 404 is what a re-check wants
/// to see. Its `Debug` output shows the body's length, never its bytes.
#[derive(Clone)]
pub struct Fetched {
    /// The URL the body came from, after redirects.
    pub final_url: Url,
    /// HTTP status of the final response.
    pub status: u16,
    /// A sanitised subset of the final response's headers (lower-case names, values capped).
    pub headers: Vec<(String, String)>,
    /// The decoded body (at most the body cap).
    pub body: Bytes,
    /// What the bytes are.
    pub sniffed_type: SniffedType,
    /// The `Content-Type` the server claimed, if any.
    pub declared_type: Option<String>,
    /// The address connected to for the final response (the proxy's, when one is used).
    pub remote_addr: Option<SocketAddr>,
    /// The redirects followed, in order.
    pub redirects: Vec<Redirect>,
    /// When the fetch started (UTC wall clock).
    pub fetched_at: SystemTime,
    /// How long it took, redirects and body included.
    pub elapsed: Duration,
}

impl std::fmt::Debug for Fetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetched")
            .field("final_url", &self.final_url.as_str())
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .field("sniffed_type", &self.sniffed_type)
            .field("declared_type", &self.declared_type)
            .field("remote_addr", &self.remote_addr)
            .field("redirects", &self.redirects)
            .field("fetched_at", &self.fetched_at)
            .field("elapsed", &self.elapsed)
            .finish()
    }
}

impl Fetched {
    /// A kept header by (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The MIME essence of the declared type (`text/html`), lower-case.
    pub fn declared_mime(&self) -> Option<String> {
        self.declared_type.as_deref().map(mime_essence)
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Per-request settings that differ between callers of the same [`Fetcher`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct FetchOptions {
    /// Overrides the policy's body cap (e.g. larger for videos, smaller for RDAP).
    pub max_body_bytes: Option<u64>,
    /// The `Accept` header (default `*/*`).
    pub accept: Option<String>,
    /// A `Referer` to send on every hop (some image hosts refuse requests without one).
    pub referer: Option<Url>,
}

impl FetchOptions {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`FetchOptions::max_body_bytes`].
    pub fn max_body_bytes(mut self, n: u64) -> Self {
        self.max_body_bytes = Some(n);
        self
    }

    /// Sets [`FetchOptions::accept`].
    pub fn accept(mut self, accept: impl Into<String>) -> Self {
        self.accept = Some(accept.into());
        self
    }

    /// Sets [`FetchOptions::referer`].
    pub fn referer(mut self, referer: Url) -> Self {
        self.referer = Some(referer);
        self
    }
}

/// The one safe outbound HTTP client. Cheap to clone (shares its connection pool).
#[derive(Clone)]
pub struct Fetcher {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    addrs: Arc<AddrPolicy>,
    ports: PortPolicy,
    max_redirects: usize,
    connect_timeout: Duration,
    timeout: Duration,
    max_body_bytes: u64,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("max_redirects", &self.inner.max_redirects)
            .field("timeout", &self.inner.timeout)
            .field("max_body_bytes", &self.inner.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    /// Builds a fetcher from a policy. Fails on invalid address ranges, proxy URL, user agent
    /// or certificates, or when the system DNS configuration cannot be read.
    pub fn new(policy: FetchPolicy) -> Result<Self, BuildError> {
        let addrs = Arc::new(AddrPolicy {
            allow: policy
                .allow
                .iter()
                .map(|s| s.parse())
                .collect::<Result<_, _>>()?,
            deny: policy
                .deny
                .iter()
                .map(|s| s.parse())
                .collect::<Result<_, _>>()?,
        });
        let resolver: Arc<dyn Resolver> = match policy.resolver {
            Some(r) => r,
            None => Arc::new(SystemResolver::from_system_conf().map_err(BuildError::Resolver)?),
        };
        let user_agent =
            HeaderValue::from_str(&policy.user_agent).map_err(|_| BuildError::UserAgent)?;

        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .referer(false)
            .user_agent(user_agent)
            .connect_timeout(policy.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .https_only(false);

        let mut proxy_host = None;
        if let Some(p) = &policy.proxy {
            let bad = |reason: &str| BuildError::Proxy {
                proxy: redact(p),
                reason: reason.to_owned(),
            };
            let parsed = Url::parse(p).map_err(|e| bad(&e.to_string()))?;
            if !matches!(parsed.scheme(), "http" | "https" | "socks5" | "socks5h") {
                return Err(bad("scheme must be http, https, socks5 or socks5h"));
            }
            if let Some(Host::Domain(d)) = parsed.host() {
                proxy_host = Some(d.to_owned());
            }
            let proxy = reqwest::Proxy::all(p).map_err(|e| bad(&e.to_string()))?;
            builder = builder.proxy(proxy);
        }
        if !policy.root_certs_pem.is_empty() {
            let mut certs = Vec::new();
            for pem in &policy.root_certs_pem {
                certs.push(
                    reqwest::Certificate::from_pem(pem)
                        .map_err(|e| BuildError::Certificate(e.to_string()))?,
                );
            }
            builder = builder.tls_certs_merge(certs);
        }
        builder = builder.dns_resolver(Arc::new(Guard {
            resolver,
            policy: Arc::clone(&addrs),
            proxy_host,
        }));
        let client = builder
            .build()
            .map_err(|e| BuildError::Client(error_chain(&e)))?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                addrs,
                ports: policy.ports,
                max_redirects: policy.max_redirects,
                connect_timeout: policy.connect_timeout,
                timeout: policy.timeout,
                max_body_bytes: policy.max_body_bytes,
            }),
        })
    }

    /// Checks what can be checked without the network: scheme, user info, port, IP-literal and
    /// `localhost` hosts. Every hop of a fetch passes this first; intake can call it to reject
    /// hopeless URLs early.
    pub fn check_url(&self, url: &Url) -> Result<(), FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::Scheme {
                scheme: url.scheme().to_owned(),
            });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FetchError::UserInfo);
        }
        let host = url.host().ok_or(FetchError::NoHost)?;
        let port = url.port_or_known_default().ok_or(FetchError::NoHost)?;
        if !self.inner.ports.allows(port) {
            return Err(FetchError::Port { port });
        }
        let literal: Vec<IpAddr> = match host {
            Host::Ipv4(v4) => vec![IpAddr::V4(v4)],
            Host::Ipv6(v6) => vec![IpAddr::V6(v6)],
            Host::Domain(d) => localhost_addrs(d).unwrap_or_default(),
        };
        for addr in literal {
            self.inner
                .addrs
                .check(addr)
                .map_err(|reason| FetchError::Blocked {
                    host: host_string(url),
                    addr,
                    reason,
                })?;
        }
        Ok(())
    }

    /// Fetches `url` with a GET, following and checking redirects.
    pub async fn fetch(&self, url: &Url) -> Result<Fetched, FetchError> {
        self.fetch_with(url, &FetchOptions::default()).await
    }

    /// Like [`Fetcher::fetch`], with per-request options.
    pub async fn fetch_with(&self, url: &Url, opts: &FetchOptions) -> Result<Fetched, FetchError> {
        let span = tracing::debug_span!("fetch", host = %host_string(url));
        let limit = self.inner.timeout;
        let run = async {
            match tokio::time::timeout(limit, self.run(url, opts)).await {
                Ok(result) => result,
                Err(_) => Err(FetchError::Timeout {
                    kind: TimeoutKind::Total,
                    limit,
                }),
            }
        };
        let result = run.instrument(span.clone()).await;
        let _enter = span.enter();
        match &result {
            Ok(f) => tracing::debug!(
                status = f.status,
                bytes = f.body.len(),
                redirects = f.redirects.len(),
                sniffed = %f.sniffed_type,
                elapsed_ms = f.elapsed.as_millis() as u64,
                "fetched"
            ),
            Err(e) => tracing::debug!(error = %e, "fetch failed"),
        }
        result
    }

    async fn run(&self, url: &Url, opts: &FetchOptions) -> Result<Fetched, FetchError> {
        let started = Instant::now();
        let fetched_at = SystemTime::now();
        let mut current = url.clone();
        current.set_fragment(None);
        let mut visited: HashSet<Url> = HashSet::new();
        visited.insert(current.clone());
        let mut redirects = Vec::new();
        let accept = opts.accept.as_deref().unwrap_or("*/*");
        let accept = HeaderValue::from_str(accept).map_err(|_| FetchError::Http {
            message: "invalid Accept value".into(),
        })?;
        let referer = opts
            .referer
            .as_ref()
            .filter(|r| matches!(r.scheme(), "http" | "https"))
            .and_then(|r| HeaderValue::from_str(r.as_str()).ok());

        loop {
            self.check_url(&current)?;
            let mut req = self
                .inner
                .client
                .get(current.clone())
                .header(ACCEPT, accept.clone());
            if let Some(r) = &referer {
                req = req.header(REFERER, r.clone());
            }
            let resp = req.send().await.map_err(|e| self.map_error(e))?;
            let status = resp.status().as_u16();
            let remote_addr = resp.remote_addr();
            tracing::debug!(
                hop = redirects.len(),
                host = %host_string(&current),
                status,
                remote = ?remote_addr,
                "response"
            );

            if matches!(status, 301 | 302 | 303 | 307 | 308)
                && let Some(location) = resp.headers().get(LOCATION)
            {
                if redirects.len() >= self.inner.max_redirects {
                    return Err(FetchError::TooManyRedirects {
                        max: self.inner.max_redirects,
                    });
                }
                // Servers send raw UTF-8 here; browsers accept it, so do we.
                let location = std::str::from_utf8(location.as_bytes()).map_err(|_| {
                    FetchError::BadRedirect {
                        reason: "Location is not UTF-8".into(),
                    }
                })?;
                let mut next =
                    current
                        .join(location.trim())
                        .map_err(|e| FetchError::BadRedirect {
                            reason: e.to_string(),
                        })?;
                next.set_fragment(None);
                if !visited.insert(next.clone()) {
                    return Err(FetchError::RedirectLoop);
                }
                redirects.push(Redirect {
                    url: current,
                    status,
                    remote_addr,
                });
                current = next;
                continue;
            }

            let headers = sanitise_headers(resp.headers());
            let declared_type = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| truncate(v, MAX_HEADER_VALUE));
            let limit = opts.max_body_bytes.unwrap_or(self.inner.max_body_bytes);
            let body = self.read_body(resp, limit).await?;
            return Ok(Fetched {
                final_url: current,
                status,
                headers,
                sniffed_type: sniff(&body),
                body,
                declared_type,
                remote_addr,
                redirects,
                fetched_at,
                elapsed: started.elapsed(),
            });
        }
    }

    /// Reads the body, counting decoded bytes against `limit` chunk by chunk (a gzip bomb stops
    /// at the cap). A declared `Content-Length` above the cap fails early; a smaller one is not
    /// trusted.
    async fn read_body(
        &self,
        mut resp: reqwest::Response,
        limit: u64,
    ) -> Result<Bytes, FetchError> {
        if resp.content_length().is_some_and(|len| len > limit) {
            return Err(FetchError::TooLarge { limit });
        }
        let initial = resp
            .content_length()
            .unwrap_or(16 * 1024)
            .min(limit)
            .min(1 << 20);
        let mut buf = BytesMut::with_capacity(usize::try_from(initial).unwrap_or(16 * 1024));
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.map_error(e))? {
            if buf.len() as u64 + chunk.len() as u64 > limit {
                return Err(FetchError::TooLarge { limit });
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    /// Turns reqwest's opaque error into our typed one by walking its source chain.
    fn map_error(&self, e: reqwest::Error) -> FetchError {
        let e = e.without_url();
        for err in error_sources(&e) {
            if let Some(b) = err.downcast_ref::<BlockedAddr>() {
                return FetchError::Blocked {
                    host: b.host.clone(),
                    addr: b.addr,
                    reason: b.reason,
                };
            }
            if let Some(d) = err.downcast_ref::<DnsFailure>() {
                return FetchError::Dns {
                    host: d.host.clone(),
                    message: d.message.clone(),
                };
            }
            if err.downcast_ref::<rustls::Error>().is_some() {
                return FetchError::Tls {
                    message: error_chain(&e),
                };
            }
        }
        if e.is_timeout() {
            return if e.is_connect() {
                FetchError::Timeout {
                    kind: TimeoutKind::Connect,
                    limit: self.inner.connect_timeout,
                }
            } else {
                FetchError::Timeout {
                    kind: TimeoutKind::Total,
                    limit: self.inner.timeout,
                }
            };
        }
        if e.is_connect() {
            FetchError::Connect {
                message: error_chain(&e),
            }
        } else {
            FetchError::Http {
                message: error_chain(&e),
            }
        }
    }
}

/// The host part for messages and logs (never the path or query).
fn host_string(url: &Url) -> String {
    match url.host() {
        Some(Host::Domain(d)) => normalize_host(d),
        Some(Host::Ipv4(a)) => a.to_string(),
        Some(Host::Ipv6(a)) => a.to_string(),
        None => String::new(),
    }
}

/// An error, its sources, and the errors wrapped inside `io::Error`s (whose `source()` skips
/// the wrapped error itself), in order; bounded.
fn error_sources<'a>(e: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(err) = stack.pop() {
        if out.len() >= 32 {
            break;
        }
        out.push(err);
        if let Some(src) = err.source() {
            stack.push(src);
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            stack.push(inner);
        }
    }
    out
}

/// "a: b: c" from an error and its sources, skipping repeats.
fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    parts.join(": ")
}

fn sanitise_headers(map: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, value) in map {
        let name = name.as_str();
        if KEPT_HEADERS.contains(&name)
            && let Ok(v) = value.to_str()
        {
            out.push((name.to_owned(), truncate(v, MAX_HEADER_VALUE)));
        }
    }
    out
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// The proxy URL without credentials, for error messages.
fn redact(proxy: &str) -> String {
    match Url::parse(proxy) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "<unparsable>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_outside_a_runtime_with_the_system_resolver() {
        // CLI code builds its fetcher before entering tokio; that must not panic.
        let f = Fetcher::new(FetchPolicy::new()).expect("default policy builds");
        let url: Url = "http://0x7f.1/".parse().expect("url");
        assert!(matches!(
            f.check_url(&url),
            Err(FetchError::Blocked {
                reason: crate::BlockReason::Loopback,
                ..
            })
        ));
    }

    #[test]
    fn truncate_on_char_boundary() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 5), "abc");
    }

    #[test]
    fn redact_removes_credentials() {
        let r = redact("socks5h://user:pw@127.0.0.1:9050");
        assert!(!r.contains("pw") && !r.contains("user"), "{r}");
    }

    #[test]
    fn error_chain_skips_repeats() {
        let e = std::io::Error::other("inner");
        assert_eq!(error_chain(&e), "inner");
    }
}
