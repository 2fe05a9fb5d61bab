//! IANA RDAP bootstrap (RFC 9224): which RDAP server answers for an address or a TLD.
//!
//! The files (`ipv4.json`, `ipv6.json`, `dns.json`) have the shape
//! `{"version": "1.0", "publication": "...", "services": [[[entries...], [urls...]], ...]}`.
//! They change rarely; operators load them from a directory or from a configured base URL
//! (IANA's by default), and tests point them at a loopback server.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use fetch::{FetchOptions, Fetcher, Url};
use serde_json::Value;

use super::RdapError;
use crate::prefix::Prefix;

/// IANA's bootstrap base URL; the files are `ipv4.json`, `ipv6.json`, `dns.json` under it.
pub const IANA_BOOTSTRAP_BASE: &str = "https://data.iana.org/rdap/";

/// Which bootstrap registry a file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registry {
    /// IPv4 address space (`ipv4.json`).
    Ipv4,
    /// IPv6 address space (`ipv6.json`).
    Ipv6,
    /// Domain names by TLD (`dns.json`).
    Dns,
}

impl Registry {
    /// All three, in file order.
    pub const ALL: [Registry; 3] = [Registry::Ipv4, Registry::Ipv6, Registry::Dns];

    /// The file name IANA uses.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4.json",
            Self::Ipv6 => "ipv6.json",
            Self::Dns => "dns.json",
        }
    }
}

/// The loaded bootstrap data.
#[derive(Debug, Clone, Default)]
pub struct Bootstrap {
    ip: Vec<(Prefix, Vec<Url>)>,
    dns: HashMap<String, Vec<Url>>,
    /// The `publication` time stamps of the loaded files, for the operator's status page.
    pub publications: Vec<(String, String)>,
}

impl Bootstrap {
    /// Empty: no servers known.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one bootstrap file's JSON.
    pub fn add_json(&mut self, registry: Registry, json: &[u8]) -> Result<(), RdapError> {
        let bad = |m: String| RdapError::Bootstrap(format!("{}: {m}", registry.file_name()));
        let v: Value = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
        if let Some(p) = v.get("publication").and_then(Value::as_str) {
            self.publications
                .push((registry.file_name().to_owned(), p.to_owned()));
        }
        let services = v
            .get("services")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no services array".into()))?;
        for (i, svc) in services.iter().enumerate() {
            let entries = svc.get(0).and_then(Value::as_array);
            let urls = svc.get(1).and_then(Value::as_array);
            let (Some(entries), Some(urls)) = (entries, urls) else {
                return Err(bad(format!("service {i} is not [[entries], [urls]]")));
            };
            let urls: Vec<Url> = urls
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|u| {
                    let u = if u.ends_with('/') {
                        u.to_owned()
                    } else {
                        format!("{u}/")
                    };
                    Url::parse(&u).ok()
                })
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .collect();
            if urls.is_empty() {
                continue;
            }
            for entry in entries.iter().filter_map(Value::as_str) {
                match registry {
                    Registry::Ipv4 | Registry::Ipv6 => {
                        let p: Prefix = entry
                            .parse()
                            .map_err(|_| bad(format!("invalid prefix {entry:?}")))?;
                        self.ip.push((p, urls.clone()));
                    }
                    Registry::Dns => {
                        let label = entry.trim().trim_matches('.').to_ascii_lowercase();
                        self.dns.insert(label, urls.clone());
                    }
                }
            }
        }
        Ok(())
    }

    /// Loads `ipv4.json`, `ipv6.json` and `dns.json` from a directory (missing files are
    /// skipped; no file at all is an error).
    pub fn load_dir(dir: &Path) -> Result<Self, RdapError> {
        let mut b = Self::new();
        let mut found = 0;
        for reg in Registry::ALL {
            let path = dir.join(reg.file_name());
            match std::fs::read(&path) {
                Ok(bytes) => {
                    b.add_json(reg, &bytes)?;
                    found += 1;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(RdapError::Bootstrap(format!("{}: {e}", path.display())));
                }
            }
        }
        if found == 0 {
            return Err(RdapError::Bootstrap(format!(
                "no bootstrap files in {}",
                dir.display()
            )));
        }
        Ok(b)
    }

    /// Fetches the three files from `base` (e.g. [`IANA_BOOTSTRAP_BASE`]) through the fetcher.
    pub async fn fetch(fetcher: &Fetcher, base: &Url) -> Result<Self, RdapError> {
        let mut b = Self::new();
        let opts = FetchOptions::new()
            .accept("application/json")
            .max_body_bytes(4 * 1024 * 1024);
        for reg in Registry::ALL {
            let url = base
                .join(reg.file_name())
                .map_err(|e| RdapError::Bootstrap(e.to_string()))?;
            let got = fetcher.fetch_with(&url, &opts).await?;
            if !got.is_success() {
                return Err(RdapError::Bootstrap(format!(
                    "{} answered HTTP {}",
                    reg.file_name(),
                    got.status
                )));
            }
            b.add_json(reg, &got.body)?;
        }
        Ok(b)
    }

    /// The servers for an address: the longest matching prefix.
    pub fn ip_servers(&self, ip: IpAddr) -> Option<&[Url]> {
        let ip = ip.to_canonical();
        self.ip
            .iter()
            .filter(|(p, _)| p.contains(ip))
            .max_by_key(|(p, _)| p.prefix_len())
            .map(|(_, u)| u.as_slice())
    }

    /// The servers for a domain: the longest matching label suffix (normally the TLD).
    pub fn domain_servers(&self, domain: &str) -> Option<&[Url]> {
        let d = domain.trim_end_matches('.').to_ascii_lowercase();
        let mut rest = d.as_str();
        loop {
            if let Some(u) = self.dns.get(rest) {
                return Some(u.as_slice());
            }
            rest = rest.split_once('.')?.1;
        }
    }

    /// Whether nothing is loaded.
    pub fn is_empty(&self) -> bool {
        self.ip.is_empty() && self.dns.is_empty()
    }
}

/// RFC 9224: prefer an `https` server; otherwise the first listed.
pub(crate) fn pick(urls: &[Url]) -> Option<&Url> {
    urls.iter()
        .find(|u| u.scheme() == "https")
        .or_else(|| urls.first())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_match_and_https_preference() {
        let mut b = Bootstrap::new();
        b.add_json(
            Registry::Ipv4,
            br#"{"version":"1.0","publication":"2025-01-01T00:00:00Z","services":[
                [["192.0.0.0/8"], ["http://wide.example/rdap"]],
                [["192.0.2.0/24"], ["http://narrow.example/", "https://narrow.example/"]]]}"#,
        )
        .expect("ipv4");
        b.add_json(
            Registry::Dns,
            br#"{"services":[[["uk"], ["https://uk.example/"]], [["co.uk"], ["https://couk.example/"]]]}"#,
        )
        .expect("dns");
        let ip: IpAddr = "192.0.2.9".parse().expect("ip");
        let s = b.ip_servers(ip).expect("servers");
        assert_eq!(pick(s).map(Url::as_str), Some("https://narrow.example/"));
        let wide = b
            .ip_servers("192.1.1.1".parse().expect("ip"))
            .expect("wide");
        assert_eq!(wide[0].as_str(), "http://wide.example/rdap/", "slash added");
        assert!(b.ip_servers("10.0.0.1".parse().expect("ip")).is_none());
        let d = b.domain_servers("example.co.uk").expect("dns");
        assert_eq!(d[0].as_str(), "https://couk.example/");
        assert_eq!(
            b.domain_servers("example.uk").expect("dns")[0].as_str(),
            "https://uk.example/"
        );
        assert!(b.domain_servers("example.nl").is_none());
    }

    #[test]
    fn malformed_files_are_errors() {
        let mut b = Bootstrap::new();
        assert!(b.add_json(Registry::Ipv4, b"{}").is_err());
        assert!(b.add_json(Registry::Ipv4, b"not json").is_err());
        assert!(
            b.add_json(
                Registry::Ipv6,
                br#"{"services":[[["zz"], ["https://x/"]]]}"#
            )
            .is_err()
        );
    }
}
