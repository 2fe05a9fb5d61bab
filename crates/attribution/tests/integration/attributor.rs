//! The whole attribution against the loopback RDAP server, static DNS and fixture tables.

use std::net::IpAddr;
use std::sync::Arc;

use attribution::{
    Attribution, Attributor, CdnList, ContactRole, IpRole, ManualClock, MissingReason,
    NeedsContact, PrefixTable, ProxyRule, Rule, RuleContact, RuleScope, RuleSet, Source,
    StaticResolver,
};
use chrono::{DateTime, Utc};

use crate::support::{RdapServer, fixture};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-02T08:00:00Z")
        .expect("t0")
        .with_timezone(&Utc)
}

fn dns() -> StaticResolver {
    StaticResolver::new()
        .with(
            "www.example-shop.co.uk",
            [ip("2001:db8:1000::7"), ip("198.51.100.7")],
        )
        .with("shop.example-shop.com", [ip("203.0.113.50")])
        .with("img.loja-exemplo.com.br", [ip("198.51.100.130")])
        .with("quiet.example-shop.com", [ip("198.18.0.5")])
        .with("cdn.example-shop.com", [ip("192.0.2.10")])
        .with("cdn2.example-shop.com", [ip("192.0.2.11")])
        .with("foo.blogspot.com", [ip("198.51.100.8")])
        .with("origin.example-shop.com", [ip("203.0.113.50")])
}

struct Setup {
    srv: RdapServer,
    clock: ManualClock,
    attributor: Attributor,
}

async fn setup(rules: RuleSet) -> Setup {
    let srv = RdapServer::start().await;
    let clock = ManualClock::new(t0());
    let (table, _) = PrefixTable::import_files(
        &[
            fixture("prefix/ip2asn-v4.tsv"),
            fixture("prefix/ip2asn-v6.tsv"),
        ],
        true,
    )
    .expect("table");
    let cdn = CdnList::load(&fixture("prefix/cdn.txt")).expect("cdn");
    let attributor = Attributor::new(Arc::new(dns()), Arc::new(clock.clone()))
        .with_asn(Arc::new(table))
        .with_cdn_list(Arc::new(cdn))
        .with_rdap(Arc::new(srv.rdap_client(Arc::new(clock.clone()))))
        .with_rules(rules);
    Setup {
        srv,
        clock,
        attributor,
    }
}

async fn attribute(s: &Setup, url: &str) -> Attribution {
    s.attributor.attribute(url).await.expect(url)
}

#[tokio::test]
async fn co_uk_site_on_ipv4_and_ipv6() {
    let s = setup(RuleSet::new()).await;
    let a = attribute(&s, "HTTP://WWW.Example-Shop.co.uk/gallery/1.jpg#x").await;
    assert_eq!(a.url, "http://www.example-shop.co.uk/gallery/1.jpg");
    assert_eq!(a.names.host, "www.example-shop.co.uk");
    assert_eq!(
        a.names.registrable_domain.as_deref(),
        Some("example-shop.co.uk")
    );
    assert_eq!(
        s.srv.hits("/nominet/domain/example-shop.co.uk"),
        1,
        "not co.uk"
    );

    // IPv4 first, then IPv6, both attributed from the table.
    let got: Vec<(IpAddr, Option<u32>, String, Option<&str>)> = a
        .ips
        .iter()
        .map(|i| {
            (
                i.ip,
                i.asn,
                i.prefix.map(|p| p.to_string()).unwrap_or_default(),
                i.country.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                ip("198.51.100.7"),
                Some(64501),
                "198.51.100.0/24".to_owned(),
                Some("NL")
            ),
            (
                ip("2001:db8:1000::7"),
                Some(64501),
                "2001:db8:1000::/36".to_owned(),
                Some("NL")
            ),
        ]
    );
    assert!(
        a.ips
            .iter()
            .all(|i| i.role == IpRole::Resolved && i.cdn.is_none())
    );
    assert!(
        a.ips.iter().all(|i| i.network.is_some()),
        "RDAP asked for one address per family"
    );
    assert_eq!(
        a.ips[0].as_name.as_deref(),
        Some("EXAMPLE-HOSTING Example Hosting B.V.")
    );

    let h = a.hoster.as_ref().expect("hoster");
    assert_eq!(h.organisation.as_deref(), Some("Example Hosting B.V."));
    assert_eq!(h.abuse_email.as_deref(), Some("abuse@example-hosting.test"));
    assert_eq!(h.country.as_deref(), Some("NL"));
    assert_eq!(h.source, Source::Rdap);

    let r = a.registrar.as_ref().expect("registrar");
    assert_eq!(
        r.name.as_deref(),
        Some("Example Domains Ltd [Tag = EXAMPLE-TAG]")
    );
    assert_eq!(r.abuse_email.as_deref(), Some("abuse@example-domains.test"));
    let d = a.domain.as_ref().expect("domain facts");
    assert_eq!(d.status, ["active", "client transfer prohibited"]);
    assert!(d.expires.is_some());

    assert!(a.needs_contact.is_empty(), "{:?}", a.needs_contact);
    assert!(a.problems.is_empty(), "{:?}", a.problems);
    assert!(a.hosting_side_reachable());
    assert_eq!(a.made_at, t0());
    assert_eq!(a.asn_source.as_deref(), Some("prefix-table"));
    assert!(!a.do_not_scrape);

    // Plain data: survives a JSON round trip for the store.
    let json = serde_json::to_string(&a).expect("ser");
    let back: Attribution = serde_json::from_str(&json).expect("de");
    assert_eq!(back, a);
}

#[tokio::test]
async fn dot_com_with_registrar_iana_id_after_rir_redirect() {
    let s = setup(RuleSet::new()).await;
    let a = attribute(&s, "https://shop.example-shop.com/p/42.png").await;
    let h = a.hoster.as_ref().expect("hoster");
    assert_eq!(h.organisation.as_deref(), Some("Acme Cloud Inc."));
    assert_eq!(h.abuse_email.as_deref(), Some("abuse@acme-cloud.test"));
    assert_eq!(h.handle.as_deref(), Some("NET-203-0-113-0-1"));
    let r = a.registrar.as_ref().expect("registrar");
    assert_eq!(r.iana_id, Some(9999));
    assert_eq!(
        r.abuse_email.as_deref(),
        Some("abuse@example-registrar.test")
    );
    assert_eq!(a.ips[0].asn, Some(64499));
    assert!(a.needs_contact.is_empty(), "{:?}", a.needs_contact);
}

#[tokio::test]
async fn com_br_without_registrar_needs_contact() {
    let s = setup(RuleSet::new()).await;
    let a = attribute(&s, "http://img.loja-exemplo.com.br/a.jpg").await;
    assert_eq!(
        a.names.registrable_domain.as_deref(),
        Some("loja-exemplo.com.br")
    );
    assert_eq!(s.srv.hits("/registrobr/domain/loja-exemplo.com.br"), 1);
    // The table says reseller AS (nested /26), RDAP gives the network holder's abuse desk.
    assert_eq!(a.ips[0].asn, Some(64502));
    assert_eq!(a.ips[0].country.as_deref(), Some("GB"));
    assert_eq!(
        a.hoster.as_ref().and_then(|h| h.abuse_email.as_deref()),
        Some("abuse@example-hosting.test")
    );
    assert_eq!(
        a.needs_contact,
        [NeedsContact {
            role: ContactRole::Registrar,
            reason: MissingReason::Unknown
        }]
    );
    assert!(a.registrar.is_none());
    // The registry still tells when the domain was registered.
    let d = a.domain.as_ref().expect("domain facts");
    assert_eq!(d.name, "loja-exemplo.com.br");
    assert!(d.registered.is_some());
}

#[tokio::test]
async fn hoster_without_abuse_email_needs_contact() {
    let s = setup(RuleSet::new()).await;
    let a = attribute(&s, "http://quiet.example-shop.com/").await;
    let h = a.hoster.as_ref().expect("organisation known");
    assert_eq!(h.organisation.as_deref(), Some("Quiet Datacenter GmbH"));
    assert_eq!(h.abuse_email, None, "the NOC's phone is no abuse contact");
    assert_eq!(
        a.needs_contact,
        [NeedsContact {
            role: ContactRole::Hoster,
            reason: MissingReason::NoAbuseEmail
        }]
    );
    assert!(!a.hosting_side_reachable());
}

#[tokio::test]
async fn unresolvable_host_and_unknown_address() {
    let s = setup(RuleSet::new()).await;
    let a = attribute(&s, "http://gone.example-shop.com/x.jpg").await;
    assert!(a.ips.is_empty());
    assert!(a.hoster.is_none());
    assert!(a.needs_contact.contains(&NeedsContact {
        role: ContactRole::Hoster,
        reason: MissingReason::NoAddresses
    }));
    assert!(
        a.problems
            .iter()
            .any(|p| p.starts_with("DNS gone.example-shop.com")),
        "{:?}",
        a.problems
    );
    // The registrar is still found: the domain exists even if the host does not.
    assert_eq!(a.registrar.as_ref().and_then(|r| r.iana_id), Some(9999));

    // An IP-literal URL outside every table and bootstrap entry.
    let a = attribute(&s, "http://100.100.100.100/x.jpg").await;
    assert_eq!(a.names.registrable_domain, None);
    assert_eq!(a.ips.len(), 1);
    assert_eq!(a.ips[0].asn, None);
    assert_eq!(
        a.needs_contact,
        [NeedsContact {
            role: ContactRole::Hoster,
            reason: MissingReason::Unknown
        }],
        "no registrar needed for an IP host"
    );
    assert!(
        a.problems.iter().any(|p| p.contains("no RDAP server")),
        "{:?}",
        a.problems
    );
}

#[tokio::test]
async fn behind_a_cdn_without_known_origin() {
    let s = setup(RuleSet::new()).await;
    let a = attribute(&s, "https://cdn.example-shop.com/img/1.jpg").await;
    assert_eq!(a.ips[0].cdn.as_deref(), Some("ExampleCDN"));
    assert!(a.hoster.is_none(), "the CDN is not the hoster");
    let cdn = a.cdn.as_ref().expect("cdn party");
    assert_eq!(cdn.organisation.as_deref(), Some("ExampleCDN, Inc."));
    assert_eq!(cdn.abuse_email.as_deref(), Some("abuse@examplecdn.test"));
    assert_eq!(
        a.needs_contact,
        [NeedsContact {
            role: ContactRole::Hoster,
            reason: MissingReason::OriginUnknown
        }]
    );
    assert!(
        a.hosting_side_reachable(),
        "the CDN can be asked for the origin"
    );
}

#[tokio::test]
async fn proxy_rule_with_known_origin() {
    let mut rule = Rule::host("cdn2.example-shop.com");
    rule.proxy = Some(ProxyRule {
        proxy: None,
        origin_ips: vec![ip("198.51.100.20")],
        origin_host: None,
    });
    let s = setup(RuleSet::new().with(rule)).await;
    let a = attribute(&s, "https://cdn2.example-shop.com/img/1.jpg").await;
    assert_eq!(a.ips.len(), 2);
    assert_eq!(a.ips[1].ip, ip("198.51.100.20"));
    assert_eq!(a.ips[1].role, IpRole::Origin);
    assert_eq!(a.ips[1].asn, Some(64501));
    let h = a.hoster.as_ref().expect("origin hoster");
    assert_eq!(h.organisation.as_deref(), Some("Example Hosting B.V."));
    assert_eq!(h.source, Source::Rdap);
    assert_eq!(
        a.cdn.as_ref().and_then(|c| c.abuse_email.as_deref()),
        Some("abuse@examplecdn.test")
    );
    assert!(a.needs_contact.is_empty(), "{:?}", a.needs_contact);
    assert_eq!(
        a.rules_applied,
        [RuleScope::Host("cdn2.example-shop.com".into())]
    );
}

#[tokio::test]
async fn rules_override_lookups() {
    let contact = |org: &str, mail: &str| RuleContact {
        organisation: org.into(),
        abuse_email: Some(mail.into()),
        country: Some("NL".into()),
    };
    let mut domain = Rule::domain("example-shop.co.uk");
    domain.hoster = Some(contact("Forced Host B.V.", "notices@forced-host.test"));
    domain.registrar = Some(contact("Other Registrar", "abuse@other-registrar.test"));
    domain.site_owner = Some(contact("Example Shop", "owner@example-shop.test"));
    domain.do_not_scrape = Some(true);
    domain.note = Some("hoster's RDAP contact bounces".into());
    let s = setup(RuleSet::new().with(domain)).await;

    let a = attribute(&s, "http://www.example-shop.co.uk/1.jpg").await;
    let h = a.hoster.as_ref().expect("hoster");
    assert_eq!(
        (
            h.organisation.as_deref(),
            h.abuse_email.as_deref(),
            h.source
        ),
        (
            Some("Forced Host B.V."),
            Some("notices@forced-host.test"),
            Source::Rule
        )
    );
    let r = a.registrar.as_ref().expect("registrar");
    assert_eq!(
        (r.name.as_deref(), r.source),
        (Some("Other Registrar"), Source::Rule)
    );
    assert_eq!(
        s.srv.hits("/nominet/domain/example-shop.co.uk"),
        0,
        "a forced registrar needs no domain lookup"
    );
    assert_eq!(
        a.site_owner.as_ref().and_then(|o| o.abuse_email.as_deref()),
        Some("owner@example-shop.test")
    );
    assert!(a.do_not_scrape);
    assert_eq!(
        a.rules_applied,
        [RuleScope::Domain("example-shop.co.uk".into())]
    );
    // The automatic facts are still recorded per address.
    assert_eq!(a.ips[0].asn, Some(64501));
    assert!(a.needs_contact.is_empty());

    // Rules can change while the attributor runs.
    s.attributor.replace_rules(RuleSet::new());
    let a = attribute(&s, "http://www.example-shop.co.uk/1.jpg").await;
    assert_eq!(a.hoster.as_ref().map(|h| h.source), Some(Source::Rdap));
    assert!(!a.do_not_scrape);
}

#[tokio::test]
async fn private_suffix_sites_ask_the_registry_for_the_icann_domain() {
    let s = setup(RuleSet::new()).await;
    let a = attribute(&s, "http://foo.blogspot.com/").await;
    assert_eq!(
        a.names.registrable_domain.as_deref(),
        Some("foo.blogspot.com")
    );
    assert_eq!(a.names.registry_domain.as_deref(), Some("blogspot.com"));
    assert_eq!(s.srv.hits("/verisign/domain/blogspot.com"), 1);
    assert_eq!(s.srv.hits("/verisign/domain/foo.blogspot.com"), 0);
    assert!(
        a.needs(ContactRole::Registrar),
        "fixture server does not know blogspot.com"
    );
}

#[tokio::test]
async fn repeated_attributions_use_the_cache_and_the_clock() {
    let s = setup(RuleSet::new()).await;
    let first = attribute(&s, "https://shop.example-shop.com/1.jpg").await;
    let before = s.srv.total();
    s.clock.advance(chrono::Duration::hours(1));
    let second = attribute(&s, "https://shop.example-shop.com/2.jpg").await;
    assert_eq!(s.srv.total(), before, "IP and domain answers cached");
    assert_eq!(second.made_at - first.made_at, chrono::Duration::hours(1));
    assert_eq!(second.hoster, first.hoster);
    assert!(s.attributor.announced(64499).is_some());
}

#[tokio::test]
async fn invalid_urls_are_errors() {
    let s = setup(RuleSet::new()).await;
    assert!(
        s.attributor
            .attribute("ftp://example-shop.com/x")
            .await
            .is_err()
    );
    assert!(s.attributor.attribute("   ").await.is_err());
}

#[tokio::test]
async fn proxy_rule_with_origin_host_and_proxy_contact() {
    let mut rule = Rule::domain("example-shop.com");
    rule.proxy = Some(ProxyRule {
        proxy: Some(RuleContact {
            organisation: "ExampleCDN (trust & safety)".into(),
            abuse_email: Some("origin-requests@examplecdn.test".into()),
            country: None,
        }),
        origin_ips: vec![],
        origin_host: Some("origin.example-shop.com".into()),
    });
    let s = setup(RuleSet::new().with(rule)).await;
    let a = attribute(&s, "https://cdn.example-shop.com/x.jpg").await;
    let cdn = a.cdn.as_ref().expect("cdn");
    assert_eq!(cdn.source, Source::Rule);
    assert_eq!(
        cdn.abuse_email.as_deref(),
        Some("origin-requests@examplecdn.test")
    );
    assert_eq!(
        s.srv.hits("/arin/ip/192.0.2.10"),
        0,
        "proxy contact given: CDN address not asked"
    );
    let origin = a
        .ips
        .iter()
        .find(|i| i.role == IpRole::Origin)
        .expect("origin");
    assert_eq!(origin.ip, ip("203.0.113.50"));
    assert_eq!(
        a.hoster.as_ref().and_then(|h| h.organisation.as_deref()),
        Some("Acme Cloud Inc.")
    );
    assert!(a.needs_contact.is_empty(), "{:?}", a.needs_contact);
}
