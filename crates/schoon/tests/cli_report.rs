//! `schoon report add`: files reports on a data directory, all or nothing.

use std::process::Command;

fn schoon() -> Command {
    Command::new(env!("CARGO_BIN_EXE_schoon"))
}

#[test]
fn report_add_files_reports_and_refuses_bad_urls_whole() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    // A fresh data directory needs a tenant first.
    let out = schoon()
        .args(["admin", "--data", data, "tenant", "create", "nl"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = schoon()
        .args([
            "report",
            "add",
            "--data",
            data,
            "https://a.example/x",
            "ftp://b.example/",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("URL 2"));

    let out = schoon()
        .args([
            "report",
            "add",
            "--data",
            data,
            "--note",
            "from the phone",
            "https://A.example/x#frag",
            "https://a.example/x",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let reference = lines[0]["reference"].as_str().unwrap();
    assert!(
        reference.starts_with("NL-20") && reference.ends_with("-000001"),
        "{reference}"
    );
    assert_eq!(lines[0]["joined"], serde_json::json!(false));
    // The same normalised URL in the same batch joins the report just filed.
    assert_eq!(lines[1]["joined"], serde_json::json!(true));
    assert_eq!(lines[1]["reference"], lines[0]["reference"]);
}
