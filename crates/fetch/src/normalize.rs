//! URL normalisation: one spelling per resource, so that the same URL reported twice is
//! recognised, plus the registrable domain ("site") for grouping.
//!
//! On top of WHATWG parsing (which already lower-cases scheme and host, applies IDNA → punycode,
//! parses numeric IPv4 forms, drops default ports, resolves dot segments and turns an empty path
//! into `/`) we: trim surrounding whitespace, accept a missing scheme as `http://`, allow only
//! `http`/`https`, drop the fragment, drop one trailing dot of the host, and upper-case the hex
//! digits of percent-escapes (RFC 3986 §6.2.2.1). The original string is kept as evidence.

use url::{Host, Url};

/// A normalised URL and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedUrl {
    /// The input exactly as given.
    pub original: String,
    /// The normalised URL; its string form is the de-duplication key.
    pub url: Url,
    /// The registrable domain (eTLD+1, e.g. `example.co.uk`), per the Public Suffix List.
    /// `None` for IP-address hosts and for hosts that are themselves a public suffix.
    pub registrable_domain: Option<String>,
}

/// Why a string is not a fetchable URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NormalizeError {
    /// Empty after trimming.
    #[error("empty URL")]
    Empty,
    /// Not parsable as a URL.
    #[error("invalid URL: {0}")]
    Invalid(String),
    /// A scheme other than http or https.
    #[error("scheme {0:?} not supported (only http and https)")]
    Scheme(String),
    /// No host.
    #[error("URL has no host")]
    NoHost,
}

/// Normalises a URL string (see the module docs for the rules).
pub fn normalize(input: &str) -> Result<NormalizedUrl, NormalizeError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(NormalizeError::Empty);
    }
    let url = match Url::parse(trimmed) {
        Ok(u) => u,
        Err(url::ParseError::RelativeUrlWithoutBase) => Url::parse(&format!("http://{trimmed}"))
            .map_err(|e| NormalizeError::Invalid(e.to_string()))?,
        Err(e) => return Err(NormalizeError::Invalid(e.to_string())),
    };
    // "example.com:8080/x" parses with scheme "example.com"; a dot in the scheme means a host.
    let url = if url.scheme().contains('.') && url.cannot_be_a_base() {
        Url::parse(&format!("http://{trimmed}"))
            .map_err(|e| NormalizeError::Invalid(e.to_string()))?
    } else {
        url
    };
    let mut normalized = normalize_url(&url)?;
    normalized.original = input.to_owned();
    Ok(normalized)
}

/// Normalises an already parsed URL; `original` is its string form.
pub fn normalize_url(url: &Url) -> Result<NormalizedUrl, NormalizeError> {
    let original = url.as_str().to_owned();
    let mut url = url.clone();
    if !matches!(url.scheme(), "http" | "https") {
        return Err(NormalizeError::Scheme(url.scheme().to_owned()));
    }
    url.set_fragment(None);
    let domain = match url.host() {
        None => return Err(NormalizeError::NoHost),
        Some(Host::Domain(d)) => Some(d.strip_suffix('.').unwrap_or(d).to_owned()),
        Some(_) => None,
    };
    if let Some(d) = &domain {
        if d.is_empty() {
            return Err(NormalizeError::NoHost);
        }
        if url.host_str() != Some(d.as_str()) {
            url.set_host(Some(d))
                .map_err(|e| NormalizeError::Invalid(e.to_string()))?;
        }
    }
    let path = upper_percent_escapes(url.path());
    url.set_path(&path);
    if let Some(q) = url.query() {
        let q = upper_percent_escapes(q);
        url.set_query(Some(&q));
    }
    let registrable_domain = domain.as_deref().and_then(registrable_domain);
    Ok(NormalizedUrl {
        original,
        url,
        registrable_domain,
    })
}

/// The registrable domain of a host name (`a.b.example.co.uk` → `example.co.uk`), or `None` when
/// the name is itself a public suffix or has no registrable part.
pub fn registrable_domain(host: &str) -> Option<String> {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let domain = psl::domain_str(&host)?;
    Some(domain.to_owned())
}

/// `%2f` → `%2F`; everything else unchanged.
fn upper_percent_escapes(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            out.push('%');
            out.push(char::from(b[i + 1].to_ascii_uppercase()));
            out.push(char::from(b[i + 2].to_ascii_uppercase()));
            i += 3;
        } else {
            // Copy one UTF-8 character.
            let ch_len = s[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&s[i..i + ch_len]);
            i += ch_len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize(s).expect(s).url.to_string()
    }

    #[test]
    fn normalisation_table() {
        let table = [
            ("HTTP://Example.COM", "http://example.com/"),
            ("http://example.com:80/a", "http://example.com/a"),
            ("https://example.com:443/a", "https://example.com/a"),
            ("http://example.com:8080/a", "http://example.com:8080/a"),
            ("http://example.com/a/./b/../c", "http://example.com/a/c"),
            ("http://example.com/a#frag", "http://example.com/a"),
            ("http://example.com./x", "http://example.com/x"),
            ("  http://example.com/x \n", "http://example.com/x"),
            ("http://BÜCHER.example/", "http://xn--bcher-kva.example/"),
            (
                "http://example.com/%7e%2fa?q=%3d",
                "http://example.com/%7E%2Fa?q=%3D",
            ),
            ("example.com/path", "http://example.com/path"),
            ("www.example.com", "http://www.example.com/"),
            ("example.com:8080/x", "http://example.com:8080/x"),
            ("http://0x7f.1/", "http://127.0.0.1/"),
            ("http://[::FFFF:127.0.0.1]/", "http://[::ffff:7f00:1]/"),
            ("http://example.com/ä", "http://example.com/%C3%A4"),
        ];
        for (input, want) in table {
            assert_eq!(n(input), want, "{input}");
        }
    }

    #[test]
    fn keeps_original() {
        let got = normalize(" HTTP://Example.com/a#x ").expect("ok");
        assert_eq!(got.original, " HTTP://Example.com/a#x ");
        assert_eq!(got.url.as_str(), "http://example.com/a");
    }

    #[test]
    fn registrable_domains() {
        let table = [
            ("http://a.b.example.co.uk/", Some("example.co.uk")),
            ("http://www.example.com/", Some("example.com")),
            ("http://example.com./", Some("example.com")),
            ("http://foo.blogspot.com/", Some("foo.blogspot.com")),
            (
                "http://xn--bcher-kva.example/",
                Some("xn--bcher-kva.example"),
            ),
            ("http://127.0.0.1/", None),
            ("http://[::1]/", None),
            ("http://co.uk/", None),
        ];
        for (input, want) in table {
            assert_eq!(
                normalize(input).expect(input).registrable_domain.as_deref(),
                want,
                "{input}"
            );
        }
    }

    #[test]
    fn errors() {
        assert_eq!(normalize("   "), Err(NormalizeError::Empty));
        assert!(matches!(
            normalize("ftp://example.com/"),
            Err(NormalizeError::Scheme(s)) if s == "ftp"
        ));
        assert!(matches!(
            normalize("javascript:alert(1)"),
            Err(NormalizeError::Scheme(_))
        ));
        assert!(matches!(
            normalize("http://exa mple.com/"),
            Err(NormalizeError::Invalid(_))
        ));
    }
}
