//! `schoon index build|info` and `schoon match` end to end, on benign test images placed on test lists.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/pdq/data")
}

fn schoon(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_schoon"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run schoon");
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

const BRIDGE_PDQ: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
const UNRELATED_MD5: &str = "00000000000000000000000000000000";

fn build(dir: &Path, lists: &[(&str, &str)], extra: &[&str]) -> (PathBuf, Output) {
    let out = dir.join("index.snap");
    let mut args: Vec<String> = vec![
        "index".into(),
        "build".into(),
        "--out".into(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    for (name, body) in lists {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        args.push(p.display().to_string());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = schoon(&refs, None);
    (out, output)
}

#[test]
fn built_index_matches_near_copies_within_the_radius_only() {
    let dir = tempfile::tempdir().unwrap();
    let list = format!("pdq {BRIDGE_PDQ}\nmd5 {UNRELATED_MD5}\n");
    let (snap, out) = build(dir.path(), &[("known.txt", &list)], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snap = snap.display().to_string();

    // sharpen-a-lot is 12 bits from the original, shrink-a-lot 16 (measured with the reference).
    let sharp = testdata().join("bridge-mods/sharpen-a-lot.jpg");
    let out = schoon(
        &[
            "match",
            "--index",
            &snap,
            "--format",
            "json",
            sharp.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(row["matched"], true);
    assert_eq!(row["list"], "known");
    assert_eq!(row["signal"], BRIDGE_PDQ);
    assert_eq!(row["distance"], 12);

    let out = schoon(
        &[
            "match",
            "--index",
            &snap,
            "--radius",
            "11",
            "--format",
            "json",
            sharp.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "no match is exit 1, as grep");
    let row: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(row["matched"], false);
    assert_eq!(row["quality"], 100);
}

#[test]
fn dihedral_query_finds_a_rotated_copy_the_plain_query_misses() {
    let dir = tempfile::tempdir().unwrap();
    let (snap, out) = build(
        dir.path(),
        &[("known.txt", &format!("pdq {BRIDGE_PDQ}\n"))],
        &[],
    );
    assert!(out.status.success());
    let snap = snap.display().to_string();
    let rotated = testdata().join("reg-test-input/dih/bridge-2-rotate-90.jpg");
    let rotated = rotated.to_str().unwrap();
    let plain = schoon(
        &["match", "--index", &snap, "--format", "csv", rotated],
        None,
    );
    assert_eq!(plain.status.code(), Some(1));
    let dih = schoon(
        &[
            "match",
            "--index",
            &snap,
            "--dihedral",
            "--format",
            "csv",
            rotated,
        ],
        None,
    );
    assert_eq!(dih.status.code(), Some(0));
    let text = String::from_utf8(dih.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "input,query_type,query,quality,matched,list,entry,signal_type,signal,distance,variant,category,source"
        )
    );
    let row = lines.next().unwrap();
    assert!(row.contains(",true,known,0,pdq,"), "{row}");
    assert!(
        row.contains(",rotate270,"),
        "the image was turned 90° counter-clockwise: {row}"
    );
}

#[test]
fn hashes_from_stdin_are_matched_by_type() {
    let dir = tempfile::tempdir().unwrap();
    let sha256 = "b5b0799616df52d475a3968dc7e54f1d0724c912244ffa6175bc786375dd7298";
    let csv = format!(
        "signal_type,signal,category,source\npdq,{BRIDGE_PDQ},baseline,hotline-a\nsha256,{sha256},national,hotline-b\n"
    );
    let (snap, out) = build(dir.path(), &[("nl.csv", &csv)], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snap = snap.display().to_string();
    let mut near = BRIDGE_PDQ.to_string();
    near.replace_range(0..1, "0"); // f -> 0: 4 bits away
    let input = format!("{near}\nsha256 {sha256}\n{sha256}\nnot-a-hash\n");
    let out = schoon(
        &["match", "--index", &snap, "--hashes", "--format", "json"],
        Some(&input),
    );
    assert_eq!(out.status.code(), Some(2), "a bad line is an error");
    let rows: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3, "bad lines are reported, not printed");
    assert_eq!(rows[0]["distance"], 4);
    assert_eq!(rows[0]["category"], "baseline");
    assert_eq!(rows[1]["signal_type"], "sha256");
    assert_eq!(rows[1]["source"], "hotline-b");
    assert_eq!(
        rows[2]["matched"], false,
        "bare 64 digits are PDQ, and this one is far from the list"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("stdin:4"), "{stderr}");
}

#[test]
fn a_bad_line_refuses_the_build_unless_skip_bad() {
    let dir = tempfile::tempdir().unwrap();
    let list = format!("pdq {BRIDGE_PDQ}\npdq 1234\n");
    let (snap, out) = build(dir.path(), &[("known.txt", &list)], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("known.txt:line 2"), "{stderr}");
    assert!(!snap.exists(), "nothing half-written");

    let (snap, out) = build(dir.path(), &[("known.txt", &list)], &["--skip-bad"]);
    assert!(out.status.success());
    let info = schoon(&["index", "info", "--json", snap.to_str().unwrap()], None);
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(v["pdq"], 1);
    assert_eq!(v["lists"][0]["name"], "known");
}

#[test]
fn a_corrupt_snapshot_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (snap, out) = build(
        dir.path(),
        &[("known.txt", &format!("pdq {BRIDGE_PDQ}\n"))],
        &[],
    );
    assert!(out.status.success());
    let mut bytes = std::fs::read(&snap).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&snap, &bytes).unwrap();
    let out = schoon(&["index", "info", snap.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("cannot load"), "{stderr}");
}
