//! MaxMind-format ASN databases behind the same `AsnLookup` trait.

use std::net::IpAddr;

use attribution::{AsnLookup, MmdbAsn};

use crate::mmdb_writer::{asn, ipinfo, write};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

#[test]
fn geolite2_style_asn_database() {
    let db = write(
        "GeoLite2-ASN",
        &[
            (ip("198.51.0.0"), 16, asn(64500, "Example Transit B.V.")),
            (ip("2001:db8::"), 32, asn(64500, "Example Transit B.V.")),
            (ip("198.51.100.0"), 24, asn(64501, "Example Hosting B.V.")),
            (
                ip("2001:db8:1000::"),
                36,
                asn(64501, "Example Hosting B.V."),
            ),
        ],
    );
    let m = MmdbAsn::from_bytes(db).expect("valid mmdb");
    assert_eq!(m.database_type(), "GeoLite2-ASN");
    assert_eq!(m.source_name(), "mmdb");

    let hit = m.lookup_asn(ip("198.51.100.7")).expect("ok").expect("hit");
    assert_eq!(hit.asn, 64501);
    assert_eq!(hit.as_name.as_deref(), Some("Example Hosting B.V."));
    assert_eq!(hit.prefix.to_string(), "198.51.100.0/24");
    assert_eq!(hit.country, None, "GeoLite2-ASN has no country");

    let outer = m.lookup_asn(ip("198.51.7.7")).expect("ok").expect("hit");
    assert_eq!(outer.asn, 64500);
    // The tree splits the /16 around the /24; the prefix is the tree node that answered.
    assert!(outer.prefix.contains(ip("198.51.7.7")));
    assert!(!outer.prefix.contains(ip("198.51.100.7")));

    let v6 = m
        .lookup_asn(ip("2001:db8:1000::7"))
        .expect("ok")
        .expect("hit");
    assert_eq!(
        (v6.asn, v6.prefix.to_string().as_str()),
        (64501, "2001:db8:1000::/36")
    );
    assert!(m.lookup_asn(ip("8.8.8.8")).expect("ok").is_none());

    let space = m.announced(64500).expect("announced");
    assert_eq!(space.ipv4_addresses, 65536 - 256);
    assert_eq!(space.ipv6_slash48s, 65536 - 4096);
    assert_eq!(m.announced(64501).expect("announced").ipv4_addresses, 256);
}

#[test]
fn ipinfo_style_fields_and_bad_files() {
    let db = write(
        "ipinfo_lite",
        &[(
            ip("203.0.113.0"),
            24,
            ipinfo("AS64499", "Acme Cloud Inc.", "us"),
        )],
    );
    let m = MmdbAsn::from_bytes(db).expect("valid mmdb");
    let hit = m.lookup_asn(ip("203.0.113.50")).expect("ok").expect("hit");
    assert_eq!(hit.asn, 64499);
    assert_eq!(hit.as_name.as_deref(), Some("Acme Cloud Inc."));
    assert_eq!(hit.country.as_deref(), Some("US"));

    assert!(MmdbAsn::from_bytes(b"definitely not an mmdb".to_vec()).is_err());
}
