//! Prefix table and CDN list: import, nesting, announced space, compact file, bad lines.

use std::io::Write;
use std::net::IpAddr;

use attribution::{
    AnnouncedSpace, AsnLookup, CdnList, PrefixTable, PrefixTableBuilder, TableError,
};

use crate::support::fixture;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn table() -> PrefixTable {
    let (t, reports) = PrefixTable::import_files(
        &[
            fixture("prefix/ip2asn-v4.tsv"),
            fixture("prefix/ip2asn-v6.tsv"),
        ],
        true,
    )
    .expect("clean import");
    assert_eq!(reports[0].imported, 6);
    assert_eq!(reports[0].unrouted, 1, "AS 0 line skipped");
    assert_eq!(reports[1].imported, 3);
    t
}

#[test]
fn ipv4_nested_ranges_longest_match() {
    let t = table();
    let cases = [
        // (address, AS, prefix, country)
        ("198.51.7.7", 64500, "198.51.0.0/16", Some("NL")),
        ("198.51.100.7", 64501, "198.51.100.0/24", Some("NL")),
        ("198.51.100.130", 64502, "198.51.100.128/26", Some("GB")),
        // Outside the nested /26: the enclosing /24, as BGP longest match would route it.
        ("198.51.100.200", 64501, "198.51.100.0/24", Some("NL")),
        ("203.0.113.50", 64499, "203.0.113.0/24", Some("US")),
    ];
    for (addr, asn, prefix, cc) in cases {
        let hit = t.lookup(ip(addr)).expect(addr);
        assert_eq!(hit.asn, asn, "{addr}");
        assert_eq!(hit.prefix.to_string(), prefix, "{addr}");
        assert_eq!(hit.country.as_deref(), cc, "{addr}");
    }
    let reseller = t.lookup(ip("198.51.100.130")).expect("hit");
    assert_eq!(
        reseller.as_name.as_deref(),
        Some("RESELLER-AS Example Reseller Ltd")
    );
    assert!(t.lookup(ip("203.0.112.1")).is_none(), "not routed");
    assert!(t.lookup(ip("8.8.8.8")).is_none());
    // IPv4-mapped IPv6 is looked up as IPv4.
    assert_eq!(
        t.lookup(ip("::ffff:198.51.100.7")).expect("mapped").asn,
        64501
    );
}

#[test]
fn ipv6_nested_ranges_longest_match() {
    let t = table();
    let cases = [
        ("2001:db8:ab::1", 64500, "2001:db8::/32"),
        ("2001:db8:1000::7", 64501, "2001:db8:1000::/36"),
        ("2001:db8:1000:42::1", 64502, "2001:db8:1000:42::/64"),
        ("2001:db8:1000:43::1", 64501, "2001:db8:1000::/36"),
    ];
    for (addr, asn, prefix) in cases {
        let hit = t.lookup(ip(addr)).expect(addr);
        assert_eq!(hit.asn, asn, "{addr}");
        assert_eq!(hit.prefix.to_string(), prefix, "{addr}");
    }
    assert!(t.lookup(ip("2001:db9::1")).is_none());
}

#[test]
fn announced_space_counts_each_address_once() {
    let t = table();
    assert_eq!(
        t.announced_space(64500),
        Some(AnnouncedSpace {
            ipv4_addresses: 65536 - 256,
            // /32 minus the nested /36: 2^16 - 2^12 /48s.
            ipv6_slash48s: 65536 - 4096,
        })
    );
    assert_eq!(
        t.announced_space(64501),
        Some(AnnouncedSpace {
            ipv4_addresses: 256 - 64,
            // a /36 minus a /64 is just under 4096 /48s: rounded up.
            ipv6_slash48s: 4096,
        })
    );
    assert_eq!(
        t.announced_space(64502),
        Some(AnnouncedSpace {
            ipv4_addresses: 64,
            ipv6_slash48s: 1,
        })
    );
    assert_eq!(t.announced(64499).map(|a| a.ipv6_slash48s), Some(0));
    assert_eq!(t.announced_space(1), None);
}

#[test]
fn compact_file_round_trip() {
    let t = table();
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("asn.bin");
    t.save(&path).expect("save");
    let loaded = PrefixTable::load(&path).expect("load");
    assert_eq!(loaded.len(), t.len());
    assert_eq!(loaded.record_count(), t.record_count());
    for addr in [
        "198.51.7.7",
        "198.51.100.130",
        "2001:db8:1000:42::1",
        "203.0.113.1",
        "8.8.8.8",
    ] {
        assert_eq!(loaded.lookup(ip(addr)), t.lookup(ip(addr)), "{addr}");
    }
    assert_eq!(loaded.announced_space(64500), t.announced_space(64500));

    // Any flipped byte is caught by the checksum; truncation too.
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[20] ^= 0x40;
    assert!(matches!(
        PrefixTable::read_compact(&bytes),
        Err(TableError::Format(_))
    ));
    let bytes = std::fs::read(&path).expect("read");
    assert!(PrefixTable::read_compact(&bytes[..bytes.len() - 7]).is_err());
    assert!(PrefixTable::read_compact(b"not a table at all, no").is_err());
}

#[test]
fn gzip_input_is_recognised_by_content() {
    let plain = std::fs::read(fixture("prefix/ip2asn-v4.tsv")).expect("fixture");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&plain).expect("gz");
    let gz = enc.finish().expect("gz");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ip2asn-v4.tsv.txt");
    std::fs::write(&path, gz).expect("write");
    let (t, reports) = PrefixTable::import_files(&[&path], true).expect("gzip import");
    assert_eq!(reports[0].imported, 6);
    assert_eq!(t.lookup(ip("198.51.100.7")).expect("hit").asn, 64501);
}

#[test]
fn bad_lines_are_reported_with_line_numbers() {
    // Strict: nothing applied, the error carries the report.
    let err = PrefixTable::import_files(&[fixture("prefix/ip2asn-bad.tsv")], true)
        .expect_err("strict import refuses");
    let TableError::BadLines { report } = err else {
        panic!("expected BadLines, got {err:?}");
    };
    let lines: Vec<u64> = report.bad.iter().map(|b| b.line).collect();
    assert_eq!(lines, [3, 5, 6, 7, 8]);
    assert!(
        report.bad[0].reason.contains("range start"),
        "{:?}",
        report.bad[0]
    );
    assert!(
        report.bad[1].reason.contains("AS number"),
        "{:?}",
        report.bad[1]
    );
    assert!(
        report.bad[2].reason.contains("before"),
        "{:?}",
        report.bad[2]
    );
    assert!(
        report.bad[3].reason.contains("famil"),
        "{:?}",
        report.bad[3]
    );
    assert!(
        report.bad[4].reason.contains("5 tab-separated"),
        "{:?}",
        report.bad[4]
    );

    // Lenient: the good line is kept.
    let (t, reports) =
        PrefixTable::import_files(&[fixture("prefix/ip2asn-bad.tsv")], false).expect("lenient");
    assert_eq!(reports[0].imported, 1);
    assert_eq!(reports[0].bad_count, 5);
    assert_eq!(t.lookup(ip("192.0.2.1")).expect("hit").asn, 64496);
}

#[test]
fn builder_accepts_prefixes_and_later_equal_ranges_win() {
    let mut b = PrefixTableBuilder::new();
    let rec = |asn, name: &str| attribution::AsRecord {
        asn,
        name: name.into(),
        country: None,
    };
    b.add_prefix("10.0.0.0/8".parse().expect("p"), rec(1, "old"))
        .expect("add");
    b.add_prefix("10.0.0.0/8".parse().expect("p"), rec(2, "correction"))
        .expect("add");
    assert!(
        b.add_range(ip("10.0.0.9"), ip("10.0.0.1"), rec(3, "x"))
            .is_err()
    );
    let t = b.build();
    assert_eq!(t.lookup(ip("10.1.2.3")).expect("hit").asn, 2);
}

#[test]
fn cdn_list_most_specific_name() {
    let list = CdnList::load(&fixture("prefix/cdn.txt")).expect("cdn list");
    assert_eq!(list.len(), 3);
    assert_eq!(list.cdn_of(ip("192.0.2.10")), Some("ExampleCDN"));
    assert_eq!(list.cdn_of(ip("192.0.2.130")), Some("OtherEdge"));
    assert_eq!(list.cdn_of(ip("2001:db8:cd12::1")), Some("ExampleCDN"));
    assert_eq!(list.cdn_of(ip("198.51.100.7")), None);
    // A missing name is a bad line.
    let (_, report) = CdnList::import("192.0.2.0/24\n10.0.0.0/8 Fine\n".as_bytes()).expect("io");
    assert_eq!(report.bad.first().map(|b| b.line), Some(1));
    assert_eq!(report.imported, 1);
}
