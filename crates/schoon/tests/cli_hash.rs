//! `schoon hash` as other tools see it: the output contract, exit status and failure reports.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/pdq/data")
}

fn schoon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_schoon"))
        .args(args)
        .output()
        .expect("run schoon")
}

const BRIDGE_PDQ: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

#[test]
fn csv_has_the_contract_header_and_one_row_per_file() {
    let dir = testdata().join("bridge-mods");
    let out = schoon(&["hash", "--format", "csv", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("path,width,height,quality,pdq,md5,sha1,sha256")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 12, "one row per file in bridge-mods");
    // Directories are walked in sorted order, so the original comes first.
    let first = &rows[0];
    assert!(first[0].ends_with("aaa-orig.jpg"));
    assert_eq!(&first[1..5], &["1600", "1004", "100", BRIDGE_PDQ]);
    for row in &rows {
        assert_eq!(row.len(), 8);
        assert_eq!(row[5].len(), 32);
        assert_eq!(row[6].len(), 40);
        assert_eq!(row[7].len(), 64);
        assert!(row[4..].iter().all(|h| {
            h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        }));
    }
}

#[test]
fn digests_are_those_of_the_file_bytes() {
    use sha2_check::*;
    let file = testdata().join("misc-images/c.png");
    let out = schoon(&["hash", "--format", "json", file.to_str().unwrap()]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(v["size"], serde_json::Value::Null, "no undocumented fields");
    assert_eq!(v["sha256"], sha256_hex(&bytes));
    assert_eq!(v["md5"], "0d12d4462273b533b9197f78b9aeb0d7");
    assert!(v.get("pdq_dihedral").is_none(), "dihedral only on request");
}

/// Independent SHA-256 so the test does not trust the code under test.
mod sha2_check {
    pub fn sha256_hex(bytes: &[u8]) -> String {
        let out = std::process::Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(bytes)?;
                child.wait_with_output()
            })
            .expect("sha256sum");
        String::from_utf8(out.stdout).unwrap()[..64].to_string()
    }
}

#[test]
fn json_dihedral_lists_the_eight_variants_in_meta_order() {
    let file = testdata().join("misc-images/c.png");
    let out = schoon(&[
        "hash",
        "--format",
        "json",
        "--dihedral",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d: Vec<&str> = v["pdq_dihedral"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    // Expected values: pdqhash 0.2.8 (Meta's C++ core) on Pillow's decode, from shared/testdata.
    assert_eq!(
        d,
        [
            "e64cc9d91c623882f8d1f1d9a398e78c9f199b3bd83924f2b7e11e0bf861b064",
            "c3c27add1d1bc31078245e6b03c4b83f471853e4207bf90fc7e07efe2054f719",
            "d11da322493792aaed94db72f6cd4d26c24c39914d6c8e58e5b5b4a9a5349ace",
            "9697d0574a4e69ba2d71f4c1569112d5124df94e752e57a592b5d45475015db3",
            "c44c76771c62c7ff38418e37a398187397196dc41839db0d30e0e1fcf061cf9b",
            "9119dcdd49376d556d14248dd6cdb2d9c24cc66e0d6c71a765b54b56a5346531",
            "cfebcd229f1b3cef78e6a19c83cc47c85f18ec1b207b4ef0c7e4810130544cee",
            "de9fafa84a4e96452d710b3e5691ed6a1a4d06b1752eac5a92b5abab7501a24c",
        ]
    );
    assert_eq!(v["pdq"], d[0]);
    assert_eq!(v["quality"], 100);
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(1432), Some(812))
    );
}

#[test]
fn csv_dihedral_appends_seven_named_columns() {
    let file = testdata().join("misc-images/c.png");
    let out = schoon(&[
        "hash",
        "--format",
        "csv",
        "--dihedral",
        file.to_str().unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let header = text.lines().next().unwrap();
    assert_eq!(
        header,
        "path,width,height,quality,pdq,md5,sha1,sha256,pdq_rotate90,pdq_rotate180,pdq_rotate270,\
         pdq_flipx,pdq_flipy,pdq_flipplus1,pdq_flipminus1"
    );
}

#[test]
fn failures_are_listed_with_a_reason_and_make_the_exit_status_nonzero() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-garbage.jpg"), b"this is not an image").unwrap();
    std::fs::write(
        dir.path().join("b-truncated.png"),
        b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR",
    )
    .unwrap();
    std::fs::copy(
        testdata().join("misc-images/wee.jpg"),
        dir.path().join("c-good.jpg"),
    )
    .unwrap();
    let missing = dir.path().join("missing.jpg");
    let out = schoon(&[
        "hash",
        "--format",
        "csv",
        dir.path().to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        2,
        "header + the one good file: {stdout}"
    );
    assert!(stdout.contains("c-good.jpg,34,42,"));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("a-garbage.jpg:"), "{stderr}");
    assert!(stderr.contains("b-truncated.png:"), "{stderr}");
    assert!(
        stderr.contains("missing.jpg: no such file or directory"),
        "{stderr}"
    );
    assert!(stderr.contains("hashed 1 file(s), 3 failed"), "{stderr}");
}

#[test]
fn text_format_is_one_line_per_file() {
    let file = testdata().join("misc-images/wee.jpg");
    let out = schoon(&["hash", file.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(
        text.contains("34x42") && text.contains("quality 100"),
        "{text}"
    );
}

#[test]
fn no_paths_is_a_usage_error() {
    let out = schoon(&["hash"]);
    assert_eq!(out.status.code(), Some(2));
}
