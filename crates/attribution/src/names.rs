//! Host names and the domains attribution asks about.
//!
//! SCART took "the last two labels" as the domain, so every `example.co.uk` became `co.uk`.
//! We use the Public Suffix List instead, through the `fetch` crate (one definition of
//! "registrable domain" in the whole system), and add the one thing RDAP needs on top: the
//! registrable domain under the **ICANN** section only. The PSL's private section lists
//! suffixes such as `blogspot.com` where users get their own sub-domain; for grouping and rules
//! `foo.blogspot.com` is its own site, but the domain registry only knows `blogspot.com`.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The names attribution works with, derived from one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostNames {
    /// The host, lower-case, without a trailing dot (an IP literal for IP hosts, IPv6 without
    /// brackets).
    pub host: String,
    /// The registrable domain per the full PSL (`example.co.uk`, `foo.blogspot.com`); `None` for
    /// IP hosts and hosts that are themselves a public suffix.
    pub registrable_domain: Option<String>,
    /// The domain a registry knows: the registrable domain under the PSL's ICANN section only
    /// (`foo.blogspot.com` → `blogspot.com`). This is what domain RDAP is asked about.
    pub registry_domain: Option<String>,
}

impl HostNames {
    /// Derives the names of `host` (a name or an IP literal; `[..]` around IPv6 is accepted).
    pub fn new(host: &str) -> Self {
        let host = host.trim();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        if host.parse::<IpAddr>().is_ok() {
            return Self {
                host,
                registrable_domain: None,
                registry_domain: None,
            };
        }
        Self {
            registrable_domain: registrable_domain(&host),
            registry_domain: registry_domain(&host),
            host,
        }
    }

    /// The host as an IP address, when it is an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

/// The registrable domain of `host` per the full Public Suffix List (`a.b.example.co.uk` →
/// `example.co.uk`). Re-exported from `fetch` so the whole system agrees on it.
pub fn registrable_domain(host: &str) -> Option<String> {
    fetch::registrable_domain(host)
}

/// The registrable domain of `host` under the PSL's ICANN section only (`foo.blogspot.com` →
/// `blogspot.com`, `www.example.co.uk` → `example.co.uk`): the name a domain registry holds.
/// Unknown TLDs count as one-label suffixes (the PSL's default rule).
pub fn registry_domain(host: &str) -> Option<String> {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if host.is_empty() || host.parse::<IpAddr>().is_ok() {
        return None;
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return None;
    }
    // The longest tail of the name that is, as a whole, an ICANN public suffix.
    let mut suffix_labels = 1;
    for k in (1..=labels.len()).rev() {
        let candidate = labels[labels.len() - k..].join(".");
        if let Some(s) = psl::suffix(candidate.as_bytes())
            && s.typ() == Some(psl::Type::Icann)
            && s.as_bytes().len() == candidate.len()
        {
            suffix_labels = k;
            break;
        }
    }
    if labels.len() <= suffix_labels {
        return None;
    }
    Some(labels[labels.len() - suffix_labels - 1..].join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrable_and_registry_domains() {
        let table = [
            (
                "www.example.co.uk",
                Some("example.co.uk"),
                Some("example.co.uk"),
            ),
            ("a.b.shop.com.br", Some("shop.com.br"), Some("shop.com.br")),
            (
                "example.com.au",
                Some("example.com.au"),
                Some("example.com.au"),
            ),
            ("img.Example.COM.", Some("example.com"), Some("example.com")),
            (
                "foo.blogspot.com",
                Some("foo.blogspot.com"),
                Some("blogspot.com"),
            ),
            ("co.uk", None, None),
            ("com.br", None, None),
            ("uk", None, None),
            (
                "host.unknowntld",
                Some("host.unknowntld"),
                Some("host.unknowntld"),
            ),
        ];
        for (host, reg, registry) in table {
            let n = HostNames::new(host);
            assert_eq!(n.registrable_domain.as_deref(), reg, "{host}");
            assert_eq!(n.registry_domain.as_deref(), registry, "{host}");
        }
    }

    #[test]
    fn ip_hosts_have_no_domain() {
        for host in ["198.51.100.7", "[2001:db8::1]", "2001:db8::1"] {
            let n = HostNames::new(host);
            assert!(n.ip().is_some(), "{host}");
            assert_eq!(n.registrable_domain, None);
            assert_eq!(n.registry_domain, None);
        }
        assert_eq!(HostNames::new("[2001:DB8::1]").host, "2001:db8::1");
    }
}
