//! The one safe outbound HTTP fetcher of schoon, plus HTML media extraction and URL
//! normalisation.
//!
//! Every outbound request of the system goes through a [`Fetcher`] (DESIGN.md, rule 3): report
//! scraping, hash-check `/v1/url/` scans, check-online re-checks, follow-up verification, RDAP.
//! The URLs it is handed are chosen by strangers, some of them hostile, so the fetcher is built
//! around one question: *could this request reach something that is not the public web?*
//!
//! # Security model
//!
//! * **Addresses, not names, are checked, after resolution.** The fetcher resolves every host
//!   itself (pluggable [`Resolver`], hickory-resolver by default) and refuses the connection if
//!   *any* resolved address is special-purpose: loopback, RFC 1918 private, link-local (with the
//!   cloud metadata address `169.254.169.254`), CGNAT `100.64/10`, multicast, broadcast,
//!   unspecified, `0/8`, reserved, documentation and benchmarking ranges, IPv6 ULA `fc00::/7`,
//!   link-local `fe80::/10`, site-local `fec0::/10`, and everything outside IPv6 global unicast.
//!   IPv6 addresses that carry an IPv4 address are judged by that address (IPv4-mapped,
//!   NAT64 `64:ff9b::/96`, 6to4 `2002::/16`); Teredo and IPv4-compatible addresses are refused.
//!   See [`mod@addr`] and [`BlockReason`].
//! * **The address checked is the address connected to.** The resolver is installed into the HTTP
//!   client, and the checked addresses are exactly the ones the connector dials; there is no
//!   second lookup, so DNS rebinding cannot swap in a private address. IP-literal hosts (in any
//!   spelling the URL parser accepts: `2130706433`, `0x7f.1`, `[::ffff:7f00:1]` …) are parsed to
//!   an address and checked the same way; `localhost` and `*.localhost` mean `127.0.0.1` without
//!   asking DNS.
//! * **Every redirect is a new request.** Redirects are followed by hand (at most 5 by default),
//!   and each hop goes through the same scheme, port and address checks as the first URL.
//!   Redirect loops are detected.
//! * **Limits**: a connect timeout and a whole-fetch timeout (redirects and body included); a body
//!   cap counted on the *decoded* bytes while streaming, so a small gzip/brotli bomb stops at the
//!   cap; `Content-Length` is never trusted.
//! * **Only `http` and `https`**, TLS always verified (rustls with the platform's roots; extra
//!   roots can be added, verification cannot be switched off). URLs with user name or password are
//!   refused (they would be sent as credentials, and `http://bank.example@evil.test/` is a
//!   disguise). Ports: by default any port except the Fetch Standard's "bad ports" (the ports a
//!   browser refuses, where HTTP could speak to SMTP, SSH, …), or an explicit list
//!   ([`PortPolicy`]).
//! * **Tests opt in to loopback explicitly**: [`FetchPolicy::allow_addresses`] with
//!   `["127.0.0.1/32"]`. Nothing is allowed by default.
//! * **Proxy** (e.g. Tor via `socks5h://127.0.0.1:9050`): with an `http(s)://` or `socks5h://`
//!   proxy the *proxy* resolves names and connects, so the fetcher can only check IP-literal hosts
//!   and `localhost` names; it is the proxy's job to refuse private destinations (Tor exits do by
//!   default; a corporate proxy inside your network may not — then use `socks5://`, where names
//!   are resolved and checked here and the proxy receives the checked address).
//! * **Nothing sensitive in logs**: `tracing` spans carry the host only, never the path, query or
//!   body; errors carry no URL.
//!
//! # Also here
//!
//! * [`mod@sniff`]: the content type from the bytes ([`SniffedType`]), next to the declared one.
//! * [`mod@extract`]: media URLs on an HTML page ([`extract_media`], [`media_items`]).
//! * [`mod@normalize`]: one spelling per URL plus its registrable domain ([`normalize()`]).
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use fetch::{ExtractOptions, FetchPolicy, Fetcher, media_items};
//! let fetcher = Fetcher::new(FetchPolicy::new().user_agent("hotline-bot/1.0"))?;
//! let page = fetcher.fetch(&"https://example.com/".parse()?).await?;
//! for item in media_items(&page, &ExtractOptions::default()).items {
//!     let media = fetcher.fetch(&item.url).await?;
//!     println!("{} {} {} bytes", item.kind.as_str(), media.sniffed_type, media.body.len());
//! }
//! # Ok(()) }
//! ```

pub mod addr;
mod error;
pub mod extract;
mod fetcher;
pub mod normalize;
mod policy;
mod resolve;
pub mod sniff;

pub use addr::{BlockReason, IpRange};
pub use error::{BuildError, FetchError, TimeoutKind};
pub use extract::{ExtractOptions, Extracted, MediaRef, RefKind, extract_media, media_items};
pub use fetcher::{FetchOptions, Fetched, Fetcher, Redirect};
pub use normalize::{NormalizeError, NormalizedUrl, normalize, registrable_domain};
pub use policy::{DEFAULT_USER_AGENT, FetchPolicy, PortPolicy};
pub use resolve::{BoxFuture, Resolver, StaticResolver, SystemResolver};
pub use sniff::{SniffedType, sniff};
pub use url::Url;
