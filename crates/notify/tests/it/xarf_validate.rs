//! Every XARF report the renderer produces, checked by the official validator: the `xarf`
//! package from PyPI (the XARF project's Python library, which bundles the v4 JSON schemas).
//!
//! The venv is created once under the target directory (`target/tmp/xarf-venv`) and reused;
//! the test skips only when `python3` is missing. A failing `pip install` fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;

use schoon_notify::{Detection, Digests, LegalCategory, Notice, NoticeItem, StepKind, xarf};
use serde_json::Value;

use crate::helpers::{at, item_full, notice, notice_en};

/// What gets installed; changing it rebuilds the venv.
const REQUIREMENTS: &[&str] = &["xarf==1.0.0", "jsonschema[format-nongpl]"];

fn python3() -> Option<PathBuf> {
    let output = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Returns the venv's python, creating the venv when it is missing or outdated.
fn venv_python(python: &Path) -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("xarf-venv");
    let marker = venv.join("schoon-requirements.txt");
    let wanted = REQUIREMENTS.join("\n");
    let venv_python = venv.join("bin").join("python");
    if std::fs::read_to_string(&marker).is_ok_and(|have| have == wanted) && venv_python.exists() {
        return venv_python;
    }
    let building = venv.with_extension(format!("building-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    run(
        Command::new(python).args(["-m", "venv"]).arg(&building),
        "python3 -m venv",
    );
    run(
        Command::new(building.join("bin").join("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(REQUIREMENTS),
        "pip install xarf",
    );
    std::fs::write(building.join("schoon-requirements.txt"), &wanted).expect("write marker");
    let _ = std::fs::remove_dir_all(&venv);
    std::fs::rename(&building, &venv).expect("move venv into place");
    venv_python
}

/// Sample notices covering steps, languages, reminders and unusual hosts.
fn sample_notices() -> Vec<Notice> {
    let mut reminder = notice();
    reminder.step.kind = StepKind::Registrar;
    reminder.step.sequence = 4;
    reminder.response_link = None;

    let mut odd_hosts = notice_en();
    odd_hosts.step.kind = StepKind::Cdn;
    odd_hosts.items = vec![
        NoticeItem {
            url: "https://[2001:db8::7]:8443/x/y.jpg".to_owned(),
            ..item_full()
        },
        NoticeItem {
            url: "http://bücher.example/a-b/ü.jpg?q=ä".to_owned(),
            ip: None,
            asn: None,
            hosting_org: None,
            pdq: None,
            digests: Digests {
                md5: Some("d41d8cd98f00b204e9800998ecf8427e".to_owned()),
                sha1: None,
                sha256: None,
            },
            legal_category: LegalCategory::Baseline,
            grade: None,
            detection: Detection::ManualReview,
            media: None,
            first_seen: at(2025, 12, 31, 23, 59, 59),
            last_seen_online: None,
        },
    ];
    let mut long_name = notice();
    long_name.tenant.name = "N".repeat(200);
    long_name.response_link = Some(format!("https://meldpunt.example/r/{}", "x".repeat(1200)));
    vec![notice(), notice_en(), reminder, odd_hosts, long_name]
}

#[test]
fn official_xarf_validator_accepts_every_report() {
    let Some(python) = python3() else {
        eprintln!("SKIPPED official_xarf_validator_accepts_every_report: python3 not found");
        return;
    };
    let venv_python = venv_python(&python);

    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("xarf-reports-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("report dir");
    let mut n_reports = 0;
    let mut first: Option<Value> = None;
    for (notice_idx, notice) in sample_notices().iter().enumerate() {
        for (report_idx, report) in xarf::reports(notice).expect("reports").iter().enumerate() {
            let json = report.to_json().expect("json");
            std::fs::write(
                dir.join(format!("{notice_idx:02}-{report_idx:02}.json")),
                &json,
            )
            .expect("write report");
            first.get_or_insert_with(|| serde_json::from_str(&json).expect("json"));
            n_reports += 1;
        }
    }
    // Negative controls: the validator must reject these, or it checks nothing.
    let base = first.expect("at least one report");
    type Mutation = fn(&mut Value);
    let controls: Vec<(&str, Mutation)> = vec![
        ("national", |v| v["classification"] = "national".into()),
        ("no-url", |v| {
            if let Some(object) = v.as_object_mut() {
                object.remove("url");
            }
        }),
        ("short-sha256", |v| {
            v["hash_values"]["sha256"] = "abc".into()
        }),
        ("bad-report-id", |v| {
            v["report_id"] = "NL-2026-000123".into()
        }),
    ];
    for (name, mutate) in controls {
        let mut bad = base.clone();
        mutate(&mut bad);
        std::fs::write(dir.join(format!("invalid-{name}.json")), bad.to_string())
            .expect("write control");
    }

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/xarf_validate.py");
    let output = Command::new(&venv_python)
        .arg(&script)
        .arg(&dir)
        .output()
        .expect("run validator");
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}");
    assert!(
        output.status.success(),
        "XARF validation failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("{n_reports} valid, 4 negative controls")),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
