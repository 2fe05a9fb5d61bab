//! The RDAP client against the loopback server.

use std::net::IpAddr;
use std::sync::Arc;

use attribution::{Bootstrap, ManualClock, RdapClient, RdapConfig, RdapError};
use chrono::{DateTime, Duration, Utc};

use crate::support::RdapServer;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-02T08:00:00Z")
        .expect("t0")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn ripe_style_network_with_top_level_abuse_entity() {
    let srv = RdapServer::start().await;
    let rdap = srv.rdap_client(Arc::new(ManualClock::new(t0())));
    let net = rdap.ip(ip("198.51.100.7")).await.expect("network");
    assert_eq!(net.name.as_deref(), Some("EXAMPLE-HOSTING-NET"));
    assert_eq!(net.handle.as_deref(), Some("198.51.100.0 - 198.51.100.255"));
    assert_eq!(net.country.as_deref(), Some("NL"));
    assert_eq!(net.network_type.as_deref(), Some("ASSIGNED PA"));
    assert_eq!(
        net.cidrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["198.51.100.0/24"]
    );
    assert_eq!(net.organisation.as_deref(), Some("Example Hosting B.V."));
    let abuse = net.abuse.as_ref().expect("abuse");
    assert_eq!(abuse.email(), Some("abuse@example-hosting.test"));
    assert_eq!(abuse.handle.as_deref(), Some("AR4242-TEST"));
    assert_eq!(net.fetched_at, t0());
    assert!(
        net.source.ends_with("/ripe/ip/198.51.100.7"),
        "{}",
        net.source
    );
}

#[tokio::test]
async fn arin_style_nested_abuse_after_a_redirect() {
    let srv = RdapServer::start().await;
    let rdap = srv.rdap_client(Arc::new(ManualClock::new(t0())));
    let net = rdap.ip(ip("203.0.113.50")).await.expect("network");
    assert_eq!(
        srv.hits("/apnic/ip/203.0.113.50"),
        1,
        "bootstrap pointed at APNIC"
    );
    assert_eq!(
        srv.hits("/arin/ip/203.0.113.50"),
        1,
        "redirect followed to ARIN"
    );
    assert!(net.source.contains("/arin/ip/"), "{}", net.source);
    assert_eq!(net.handle.as_deref(), Some("NET-203-0-113-0-1"));
    assert_eq!(net.organisation.as_deref(), Some("Acme Cloud Inc."));
    // The abuse entity sits inside the registrant org, next to a NOC entity with its own e-mail.
    assert_eq!(
        net.abuse.as_ref().and_then(|a| a.email()),
        Some("abuse@acme-cloud.test")
    );
    assert_eq!(net.parent_handle.as_deref(), Some("NET-203-0-0-0-0"));
}

#[tokio::test]
async fn ipv6_network() {
    let srv = RdapServer::start().await;
    let rdap = srv.rdap_client(Arc::new(ManualClock::new(t0())));
    let net = rdap.ip(ip("2001:db8:1000::7")).await.expect("network");
    assert_eq!(net.cidrs[0].to_string(), "2001:db8:1000::/36");
    assert_eq!(net.end, Some(ip("2001:db8:1fff:ffff:ffff:ffff:ffff:ffff")));
    assert_eq!(
        net.abuse.as_ref().and_then(|a| a.email()),
        Some("abuse-v6@example-hosting.test")
    );
}

#[tokio::test]
async fn verisign_style_domain_with_registrar_abuse_and_iana_id() {
    let srv = RdapServer::start().await;
    let rdap = srv.rdap_client(Arc::new(ManualClock::new(t0())));
    let d = rdap.domain("Example-Shop.COM.").await.expect("domain");
    assert_eq!(d.ldh_name.as_deref(), Some("example-shop.com"));
    let r = d.registrar.as_ref().expect("registrar");
    assert_eq!(r.name.as_deref(), Some("Example Registrar, LLC"));
    assert_eq!(r.iana_id, Some(9999));
    assert_eq!(
        r.abuse.as_ref().and_then(|a| a.email()),
        Some("abuse@example-registrar.test")
    );
    assert_eq!(
        d.status,
        [
            "client delete prohibited",
            "client transfer prohibited",
            "client update prohibited"
        ]
    );
    assert_eq!(
        d.registered.map(|t| t.to_rfc3339()).as_deref(),
        Some("2021-04-09T18:22:31+00:00")
    );
    assert_eq!(
        d.expires.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-04-09T18:22:31+00:00")
    );
    assert_eq!(
        d.last_changed.map(|t| t.to_rfc3339()).as_deref(),
        Some("2025-03-10T07:14:02+00:00")
    );
    assert_eq!(
        d.nameservers,
        ["ns1.example-dns.test", "ns2.example-dns.test"]
    );
    assert!(d.registrant.is_none());
}

#[tokio::test]
async fn cctld_domains() {
    let srv = RdapServer::start().await;
    let rdap = srv.rdap_client(Arc::new(ManualClock::new(t0())));
    let uk = rdap.domain("example-shop.co.uk").await.expect("co.uk");
    let r = uk.registrar.as_ref().expect("registrar");
    assert_eq!(r.iana_id, None, "ccTLD registrars have no IANA ID");
    assert_eq!(
        r.abuse.as_ref().and_then(|a| a.email()),
        Some("abuse@example-domains.test")
    );
    assert_eq!(
        uk.registrant.as_ref().and_then(|c| c.name.as_deref()),
        Some("REDACTED FOR PRIVACY")
    );

    let br = rdap.domain("loja-exemplo.com.br").await.expect("com.br");
    assert!(br.registrar.is_none());
    assert_eq!(
        br.registrant.as_ref().and_then(|c| c.name.as_deref()),
        Some("Loja Exemplo Comercio Ltda")
    );
    // -03:00 offsets are normalised to UTC.
    assert_eq!(
        br.registered.map(|t| t.to_rfc3339()).as_deref(),
        Some("2012-01-15T15:00:00+00:00")
    );
}

#[tokio::test]
async fn cache_ttl_follows_the_clock() {
    let srv = RdapServer::start().await;
    let clock = ManualClock::new(t0());
    let rdap = srv.rdap_client(Arc::new(clock.clone()));
    let path = "/ripe/ip/198.51.100.7";

    rdap.ip(ip("198.51.100.7")).await.expect("first");
    rdap.ip(ip("198.51.100.7")).await.expect("cached");
    assert_eq!(srv.hits(path), 1);

    clock.advance(Duration::hours(11) + Duration::minutes(59));
    rdap.ip(ip("198.51.100.7")).await.expect("still cached");
    assert_eq!(srv.hits(path), 1, "default TTL is 12 h");

    clock.advance(Duration::minutes(2));
    let again = rdap.ip(ip("198.51.100.7")).await.expect("refetched");
    assert_eq!(srv.hits(path), 2, "expired after 12 h");
    assert_eq!(
        again.fetched_at,
        t0() + Duration::hours(12) + Duration::minutes(1)
    );

    // Not-found answers are remembered for the (shorter) negative TTL.
    for _ in 0..2 {
        assert!(matches!(
            rdap.domain("nothing-here.com").await,
            Err(RdapError::NotFound)
        ));
    }
    assert_eq!(srv.hits("/verisign/domain/nothing-here.com"), 1);
    clock.advance(Duration::minutes(61));
    assert!(rdap.domain("nothing-here.com").await.is_err());
    assert_eq!(srv.hits("/verisign/domain/nothing-here.com"), 2);

    rdap.clear_cache();
    rdap.ip(ip("198.51.100.7")).await.expect("after clear");
    assert_eq!(srv.hits(path), 3);
}

#[tokio::test]
async fn bootstrap_from_url_and_unknown_servers() {
    let srv = RdapServer::start().await;
    let fetcher = srv.fetcher();
    let base = srv.base().join("bootstrap/").expect("url");
    let b = Bootstrap::fetch(&fetcher, &base)
        .await
        .expect("bootstrap over http");
    assert_eq!(b.publications.len(), 3);
    let rdap = RdapClient::new(
        fetcher,
        b,
        RdapConfig::default(),
        Arc::new(ManualClock::new(t0())),
    );
    assert!(rdap.ip(ip("198.51.100.7")).await.is_ok());
    assert!(matches!(
        rdap.ip(ip("8.8.8.8")).await,
        Err(RdapError::NoServer(_))
    ));
    assert!(matches!(
        rdap.domain("example.nl").await,
        Err(RdapError::NoServer(_))
    ));
    // A bootstrap base that does not exist.
    let missing = srv.base().join("nope/").expect("url");
    assert!(Bootstrap::fetch(&srv.fetcher(), &missing).await.is_err());
}

#[tokio::test]
async fn rdap_goes_through_the_fetcher_policy() {
    let srv = RdapServer::start().await;
    // A fetcher without the loopback opt-in refuses the RDAP server.
    let strict = fetch::Fetcher::new(
        fetch::FetchPolicy::new().resolver(Arc::new(fetch::StaticResolver::new())),
    )
    .expect("fetcher");
    let rdap = RdapClient::new(
        strict,
        srv.bootstrap(),
        RdapConfig::default(),
        Arc::new(ManualClock::new(t0())),
    );
    let err = rdap.ip(ip("198.51.100.7")).await.expect_err("blocked");
    assert!(
        matches!(err, RdapError::Fetch(fetch::FetchError::Blocked { .. })),
        "{err:?}"
    );
    assert_eq!(srv.total(), 0, "nothing reached the server");
}

#[tokio::test]
async fn bootstrap_from_directory() {
    let srv = RdapServer::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    for f in ["ipv4.json", "dns.json"] {
        let json = crate::support::read_fixture(&format!("bootstrap/{f}"))
            .replace("{{BASE}}", srv.base().as_str());
        std::fs::write(dir.path().join(f), json).expect("write");
    }
    let b = Bootstrap::load_dir(dir.path()).expect("load dir");
    assert!(b.ip_servers(ip("198.51.100.7")).is_some());
    assert!(b.ip_servers(ip("2001:db8::1")).is_none(), "no ipv6.json");
    assert!(b.domain_servers("example-shop.co.uk").is_some());
    let empty = tempfile::tempdir().expect("tmp");
    assert!(Bootstrap::load_dir(empty.path()).is_err());
}
