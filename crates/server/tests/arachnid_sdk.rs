//! Runs `tests/arachnid/run.sh`: the official Arachnid Shield Python SDK against a real
//! `schoon serve` (pdq, media and url scans, a no-match case, errors). Needs python3 with venv
//! and PyPI. The `schoon` binary is the one cargo built next to this test (`cargo test
//! --workspace` builds it; after `cargo test -p server` alone, build it with `cargo build -p
//! schoon` first).

use std::path::PathBuf;
use std::process::Command;

#[test]
fn official_arachnid_shield_sdk_scans_work_against_schoon() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    // target/<profile>/deps/<this test> → target/<profile>/schoon
    let exe = std::env::current_exe().expect("test executable path");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("schoon"))
        .expect("target directory");
    assert!(
        bin.exists(),
        "{} not built: run `cargo build -p schoon` (or `cargo test --workspace`)",
        bin.display()
    );
    let status = Command::new("bash")
        .arg(root.join("tests/arachnid/run.sh"))
        .env("SCHOON_BIN", &bin)
        .env("SCHOON_SHARED", root.join("../shared"))
        .status()
        .expect("running bash");
    assert!(status.success(), "tests/arachnid/run.sh failed: {status}");
}
