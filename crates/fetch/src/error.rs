//! Typed errors: callers decide per kind (a blocked address is final, a timeout may be retried).

use std::net::IpAddr;
use std::time::Duration;

use crate::addr::{BlockReason, InvalidRange};

/// Which time limit ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// Establishing the TCP (and TLS) connection.
    Connect,
    /// The whole fetch: every redirect hop plus reading the body.
    Total,
}

impl std::fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect",
            Self::Total => "whole-fetch",
        })
    }
}

/// Why a fetch failed. Messages never contain the URL path or the body (callers know the URL;
/// logs must not learn it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// Only `http` and `https` are fetched.
    #[error("scheme {scheme:?} is not fetched (only http and https)")]
    Scheme {
        /// The refused scheme.
        scheme: String,
    },
    /// The URL has no host.
    #[error("URL has no host")]
    NoHost,
    /// The URL carries a user name or password (`http://user:pass@host/`). Refused: we would send
    /// them as credentials, and `http://bank.example@evil.test/` is a classic disguise.
    #[error("URL contains user name or password")]
    UserInfo,
    /// The port is not allowed by the policy.
    #[error("port {port} is not allowed")]
    Port {
        /// The refused port.
        port: u16,
    },
    /// The host is, or resolves to, an address the policy refuses.
    #[error("blocked address {addr} for host {host}: {reason}")]
    Blocked {
        /// The host as written in the URL (or redirect).
        host: String,
        /// The refused address (for IPv6 with an embedded IPv4, the full IPv6 address).
        addr: IpAddr,
        /// Which rule refused it.
        reason: BlockReason,
    },
    /// More redirects than the policy allows.
    #[error("more than {max} redirects")]
    TooManyRedirects {
        /// The limit.
        max: usize,
    },
    /// A redirect led back to a URL already visited in this fetch.
    #[error("redirect loop")]
    RedirectLoop,
    /// A redirect's `Location` could not be understood.
    #[error("invalid redirect location: {reason}")]
    BadRedirect {
        /// What was wrong with it.
        reason: String,
    },
    /// The (decoded) body is larger than the cap.
    #[error("body larger than {limit} bytes")]
    TooLarge {
        /// The cap in bytes.
        limit: u64,
    },
    /// A time limit ran out.
    #[error("{kind} timeout after {limit:?}")]
    Timeout {
        /// Which limit.
        kind: TimeoutKind,
        /// Its value.
        limit: Duration,
    },
    /// The host name could not be resolved.
    #[error("cannot resolve {host}: {message}")]
    Dns {
        /// The host name.
        host: String,
        /// The resolver's message.
        message: String,
    },
    /// TLS failed (certificate not valid for the host, expired, untrusted, handshake error).
    #[error("TLS error: {message}")]
    Tls {
        /// What failed.
        message: String,
    },
    /// The TCP connection could not be established (refused, unreachable, proxy failure).
    #[error("connect error: {message}")]
    Connect {
        /// What failed.
        message: String,
    },
    /// The server broke the HTTP protocol, the body could not be decoded, or the connection
    /// dropped mid-response.
    #[error("HTTP error: {message}")]
    Http {
        /// What failed.
        message: String,
    },
}

/// A [`crate::FetchPolicy`] that cannot be turned into a [`crate::Fetcher`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// An allow or deny entry is not an address range.
    #[error(transparent)]
    Range(#[from] InvalidRange),
    /// The proxy URL is invalid or uses an unsupported scheme.
    #[error("invalid proxy {proxy:?}: {reason}")]
    Proxy {
        /// The proxy as given.
        proxy: String,
        /// Why it was refused.
        reason: String,
    },
    /// The user agent is not a valid header value.
    #[error("invalid user agent")]
    UserAgent,
    /// A root certificate could not be parsed.
    #[error("invalid root certificate: {0}")]
    Certificate(String),
    /// The system DNS configuration could not be read.
    #[error("cannot set up DNS resolver: {0}")]
    Resolver(std::io::Error),
    /// The HTTP client could not be built (e.g. TLS setup).
    #[error("cannot build HTTP client: {0}")]
    Client(String),
}
