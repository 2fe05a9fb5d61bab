//! `schoon attribution import`: an iptoasn-style TSV with IPv4 and IPv6 rows becomes the compact
//! prefix table the server loads; bad lines fail the import with their line numbers.

use std::process::Command;

fn schoon() -> Command {
    Command::new(env!("CARGO_BIN_EXE_schoon"))
}

const FIXTURE: &str = "# iptoasn-style fixture\n\
192.0.2.0\t192.0.2.255\t64500\tNL\tEXAMPLE-HOSTING Example Hosting B.V.\n\
198.51.100.0\t198.51.100.127\t64501\tDE\tBEISPIEL-NET\n\
198.51.100.128\t198.51.100.255\t64501\tDE\tBEISPIEL-NET\n\
203.0.113.0\t203.0.113.255\t0\tNone\tNot routed\n\
\n\
2001:db8::\t2001:db8:ffff:ffff:ffff:ffff:ffff:ffff\t64500\tNL\tEXAMPLE-HOSTING Example Hosting B.V.\n\
2001:db8:1::\t2001:db8:1::ffff\t64502\tZZ\tTINY-V6\n";

#[test]
fn tsv_import_writes_the_table_the_server_loads_and_counts_families_and_asns() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = dir.path().join("ip2asn-combined.tsv");
    std::fs::write(&tsv, FIXTURE).unwrap();
    let data = dir.path().join("data");
    let out = schoon()
        .args(["attribution", "import"])
        .arg(&tsv)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("3 IPv4 and 2 IPv6 prefix ranges, 3 ASNs"),
        "{stdout}"
    );
    assert!(stdout.contains("1 unrouted"), "{stdout}");

    let table = attribution::PrefixTable::load(&data.join("attribution/prefixes.bin")).unwrap();
    assert_eq!(table.len(), (3, 2));
    let hit = table.lookup("192.0.2.77".parse().unwrap()).unwrap();
    assert_eq!(hit.asn, 64500);
    assert_eq!(hit.country.as_deref(), Some("NL"));
    let hit = table.lookup("2001:db8:1::42".parse().unwrap()).unwrap();
    assert_eq!(hit.asn, 64502, "the more specific IPv6 range wins");
    assert_eq!(hit.country, None);
    assert_eq!(
        table.lookup("2001:db8:2::1".parse().unwrap()).unwrap().asn,
        64500
    );
    assert!(table.lookup("203.0.113.9".parse().unwrap()).is_none());
}

#[test]
fn bad_lines_fail_the_whole_import_with_line_numbers_unless_lenient() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = dir.path().join("bad.tsv");
    std::fs::write(
        &tsv,
        "192.0.2.0\t192.0.2.255\t64500\tNL\tok\n\
         192.0.2.300\t192.0.2.255\t64500\tNL\tbad start\n\
         2001:db8::\t2001:db8::ff\tASx\tNL\tbad asn\n\
         2001:db8:1::\t2001:db8:1::ff\t64502\tNL\tok v6\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let out = schoon()
        .args(["attribution", "import", "--format", "tsv"])
        .arg(&tsv)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("line 2: invalid range start"), "{stderr}");
    assert!(stderr.contains("line 3: invalid AS number"), "{stderr}");
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    assert!(!data.join("attribution/prefixes.bin").exists());

    let out = schoon()
        .args(["attribution", "import", "--lenient"])
        .arg(&tsv)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("1 IPv4 and 1 IPv6 prefix ranges, 2 ASNs"),
        "{stdout}"
    );
    assert!(data.join("attribution/prefixes.bin").exists());
}

#[test]
fn a_file_that_is_not_an_mmdb_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("asn.mmdb");
    std::fs::write(&f, b"definitely not a maxmind database").unwrap();
    let out = schoon()
        .args(["attribution", "import"])
        .arg(&f)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a MaxMind DB"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("data/attribution/asn.mmdb").exists());
}
