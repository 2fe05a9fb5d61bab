//! The SSRF table: addresses and spelling tricks that must never be fetched, first as the URL
//! itself, then as the target of a redirect from an allowed site.
//!
//! Nothing here sends traffic anywhere but loopback: every target is refused before connecting
//! (a wrong implementation would at worst connect to a closed loopback port, or fail to reach a
//! private address on a machine without such a network).

use std::net::IpAddr;
use std::sync::Arc;

use fetch::{BlockReason, FetchError, FetchPolicy, Fetcher, StaticResolver, Url};

use crate::fetching::urlencode;
use crate::support::TestServer;

/// What must happen to a URL.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Blocked(BlockReason),
    Scheme,
    UserInfo,
    Port,
}

use BlockReason::*;
use Expect::*;

/// (URL as written, host as the `url` crate normalises it, expected outcome).
///
/// The `url` crate follows the WHATWG URL standard: decimal, octal, hex and short IPv4 forms,
/// percent-encoded and full-width digits all become a dotted-quad `Host::Ipv4`, and IPv6 is
/// compressed — so the checks see a real address, never a string to pattern-match.
const TABLE: &[(&str, &str, Expect)] = &[
    ("http://127.0.0.1/", "127.0.0.1", Blocked(Loopback)),
    ("http://127.1/", "127.0.0.1", Blocked(Loopback)),
    ("http://2130706433/", "127.0.0.1", Blocked(Loopback)),
    ("http://0x7f.1/", "127.0.0.1", Blocked(Loopback)),
    ("http://0177.0.0.1/", "127.0.0.1", Blocked(Loopback)),
    ("http://0x7f000001/", "127.0.0.1", Blocked(Loopback)),
    ("http://017700000001/", "127.0.0.1", Blocked(Loopback)),
    ("http://%31%32%37.0.0.1/", "127.0.0.1", Blocked(Loopback)),
    ("http://１２７.０.０.１/", "127.0.0.1", Blocked(Loopback)),
    ("http://127.0.0.1./", "127.0.0.1", Blocked(Loopback)),
    (
        "http://127.255.255.254:8080/",
        "127.255.255.254",
        Blocked(Loopback),
    ),
    ("http://[::1]/", "[::1]", Blocked(Loopback)),
    ("http://[0:0:0:0:0:0:0:1]/", "[::1]", Blocked(Loopback)),
    (
        "http://[::ffff:127.0.0.1]/",
        "[::ffff:7f00:1]",
        Blocked(Loopback),
    ),
    (
        "http://[::ffff:7f00:1]/",
        "[::ffff:7f00:1]",
        Blocked(Loopback),
    ),
    (
        "http://[0:0:0:0:0:ffff:a9fe:a9fe]/",
        "[::ffff:a9fe:a9fe]",
        Blocked(LinkLocal),
    ),
    (
        "http://[::127.0.0.1]/",
        "[::7f00:1]",
        Blocked(Ipv4Compatible),
    ),
    (
        "http://[64:ff9b::a9fe:a9fe]/",
        "[64:ff9b::a9fe:a9fe]",
        Blocked(LinkLocal),
    ),
    (
        "http://[64:ff9b::10.0.0.1]/",
        "[64:ff9b::a00:1]",
        Blocked(Private),
    ),
    (
        "http://[2002:7f00:1::]/",
        "[2002:7f00:1::]",
        Blocked(Loopback),
    ),
    (
        "http://[2001::a9fe:a9fe]/",
        "[2001::a9fe:a9fe]",
        Blocked(Teredo),
    ),
    ("http://[fe80::1]/", "[fe80::1]", Blocked(LinkLocal)),
    ("http://[fd00::1]/", "[fd00::1]", Blocked(UniqueLocal)),
    (
        "http://[fd00:ec2::254]/",
        "[fd00:ec2::254]",
        Blocked(UniqueLocal),
    ),
    ("http://[fec0::1]/", "[fec0::1]", Blocked(SiteLocal)),
    ("http://[ff02::1]/", "[ff02::1]", Blocked(Multicast)),
    ("http://[::]/", "[::]", Blocked(Unspecified)),
    ("http://0.0.0.0/", "0.0.0.0", Blocked(Unspecified)),
    ("http://0/", "0.0.0.0", Blocked(Unspecified)),
    ("http://0.1.2.3/", "0.1.2.3", Blocked(ThisNetwork)),
    (
        "http://169.254.169.254/latest/meta-data/",
        "169.254.169.254",
        Blocked(LinkLocal),
    ),
    ("http://0xa9fea9fe/", "169.254.169.254", Blocked(LinkLocal)),
    (
        "http://100.100.100.200/",
        "100.100.100.200",
        Blocked(SharedAddressSpace),
    ),
    (
        "http://192.0.0.192/",
        "192.0.0.192",
        Blocked(ProtocolAssignment),
    ),
    ("http://10.0.0.1/", "10.0.0.1", Blocked(Private)),
    ("http://172.16.5.4/", "172.16.5.4", Blocked(Private)),
    ("http://192.168.1.1/", "192.168.1.1", Blocked(Private)),
    (
        "http://100.64.0.1/",
        "100.64.0.1",
        Blocked(SharedAddressSpace),
    ),
    ("http://224.0.0.1/", "224.0.0.1", Blocked(Multicast)),
    (
        "http://255.255.255.255/",
        "255.255.255.255",
        Blocked(Broadcast),
    ),
    ("http://240.0.0.1/", "240.0.0.1", Blocked(Reserved)),
    ("http://192.0.2.1/", "192.0.2.1", Blocked(Documentation)),
    ("http://198.18.0.1/", "198.18.0.1", Blocked(Benchmarking)),
    ("http://localhost/", "localhost", Blocked(Loopback)),
    ("http://localhost./", "localhost.", Blocked(Loopback)),
    ("http://LOCALHOST:8080/", "localhost", Blocked(Loopback)),
    (
        "http://admin.localhost/",
        "admin.localhost",
        Blocked(Loopback),
    ),
    ("http://evil.test/", "evil.test", Blocked(Private)),
    ("http://EVIL.test./", "evil.test.", Blocked(Private)),
    ("http://meta.test/", "meta.test", Blocked(LinkLocal)),
    ("http://v6.test/", "v6.test", Blocked(UniqueLocal)),
    ("http://mapped.test/", "mapped.test", Blocked(Loopback)),
    ("http://nip.test/", "nip.test", Blocked(Loopback)),
    ("http://user:pass@example.test/", "example.test", UserInfo),
    ("http://example.test@127.0.0.1/", "127.0.0.1", UserInfo),
    ("http://127.0.0.1:22/", "127.0.0.1", Port),
    ("http://127.0.0.1:25/", "127.0.0.1", Port),
    ("ftp://127.0.0.1/", "127.0.0.1", Scheme),
    ("file:///etc/passwd", "", Scheme),
    ("gopher://127.0.0.1:70/", "127.0.0.1", Scheme),
];

/// Names that resolve to special addresses, as a hostile DNS server would answer.
fn hostile_dns() -> StaticResolver {
    StaticResolver::new()
        .with("evil.test", [IpAddr::from([10, 0, 0, 1])])
        .with("meta.test", [IpAddr::from([169, 254, 169, 254])])
        .with("v6.test", ["fd00::1".parse().expect("ip")])
        .with("mapped.test", ["::ffff:127.0.0.1".parse().expect("ip")])
        .with("nip.test", [IpAddr::from([127, 0, 0, 1])])
}

fn check(url: &str, outcome: Result<fetch::Fetched, FetchError>, want: Expect) {
    let err = match outcome {
        Ok(f) => panic!("{url}: fetched (status {}) but must be refused", f.status),
        Err(e) => e,
    };
    let ok = match (want, &err) {
        (Blocked(r), FetchError::Blocked { reason, .. }) => *reason == r,
        (Scheme, FetchError::Scheme { .. }) => true,
        (UserInfo, FetchError::UserInfo) => true,
        (Port, FetchError::Port { .. }) => true,
        _ => false,
    };
    assert!(ok, "{url}: expected {want:?}, got {err:?}");
}

#[test]
fn table_is_big_enough_and_hosts_normalise_as_documented() {
    assert!(TABLE.len() >= 30);
    for (input, host, _) in TABLE {
        let url = Url::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(url.host_str().unwrap_or(""), *host, "{input}");
    }
}

#[tokio::test]
async fn every_trick_is_refused_directly() {
    let f = Fetcher::new(FetchPolicy::new().resolver(Arc::new(hostile_dns()))).expect("build");
    for (input, _, want) in TABLE {
        let url = Url::parse(input).expect("parses");
        check(input, f.fetch(&url).await, *want);
        // The preflight check agrees wherever no DNS is needed.
        if !input.contains(".test") || matches!(want, UserInfo) {
            assert!(f.check_url(&url).is_err(), "{input}: check_url let it pass");
        }
    }
}

#[tokio::test]
async fn every_trick_is_refused_as_a_redirect_target() {
    let site = TestServer::start("127.0.0.2").await;
    let f = Fetcher::new(
        FetchPolicy::new()
            .allow_addresses(["127.0.0.2/32"])
            .resolver(Arc::new(hostile_dns())),
    )
    .expect("build");
    for (input, _, want) in TABLE {
        let via = site.url(&format!("/to?u={}", urlencode(input)));
        let outcome = f.fetch(&via).await;
        check(&format!("redirect to {input}"), outcome, *want);
    }
    // The same with 307 and 308.
    for status in [301, 303, 307, 308] {
        let via = site.url(&format!("/to?s={status}&u=http%3A%2F%2F2130706433%2F"));
        check(
            &format!("{status} to 2130706433"),
            f.fetch(&via).await,
            Blocked(Loopback),
        );
    }
}

#[tokio::test]
async fn allow_list_is_exact() {
    // Allowing 127.0.0.1 does not open 127.0.0.2, ::1 or metadata.
    let f = Fetcher::new(
        FetchPolicy::new()
            .allow_addresses(["127.0.0.1/32"])
            .resolver(Arc::new(hostile_dns())),
    )
    .expect("build");
    for (input, want) in [
        ("http://127.0.0.2:81/", Blocked(Loopback)),
        ("http://[::1]:81/", Blocked(Loopback)),
        ("http://169.254.169.254/", Blocked(LinkLocal)),
        ("http://evil.test/", Blocked(Private)),
    ] {
        check(input, f.fetch(&Url::parse(input).expect("url")).await, want);
    }
    // Explicit deny beats the allow list.
    let f = Fetcher::new(
        FetchPolicy::new()
            .allow_addresses(["127.0.0.0/8"])
            .deny_addresses(["127.0.0.3"])
            .resolver(Arc::new(hostile_dns())),
    )
    .expect("build");
    check(
        "http://127.0.0.3:81/",
        f.fetch(&Url::parse("http://127.0.0.3:81/").expect("url"))
            .await,
        Blocked(Denied),
    );
}
