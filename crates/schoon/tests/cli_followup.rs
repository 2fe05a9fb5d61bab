//! `schoon followup report`: metrics per organisation from a data directory, as a table, JSON
//! and CSV, with clear errors for bad arguments.

use std::process::Command;

use chrono::Duration;
use schoon_core::hit::{AckAction, HitEvent};
use schoon_core::{Category, ListKind, NewEntry, NewHit, SignalType, SignalValue};
use store::{Actor, FollowupStore, NewList, NewTenant, SqliteStore, Store};

fn schoon() -> Command {
    Command::new(env!("CARGO_BIN_EXE_schoon"))
}

/// One tenant, one organisation, two hits: one acknowledged as removed after 2 h, one silent.
async fn seed(dir: &std::path::Path) {
    let store = SqliteStore::open(&dir.join("schoon.db")).await.unwrap();
    let a = Actor::system();
    let t = store
        .create_tenant(
            &a,
            NewTenant {
                name: "nl".into(),
                country: None,
                hit_deadline_hours: 24,
            },
        )
        .await
        .unwrap();
    let org = store.create_org(&a, t.id, "Host, Inc").await.unwrap();
    let list = store
        .create_list(
            &a,
            NewList {
                tenant_id: t.id,
                name: "known".into(),
                kind: ListKind::Known,
                pdq_radius: 31,
                min_quality: 50,
            },
        )
        .await
        .unwrap();
    let hex = "ab".repeat(32);
    let value = SignalValue::parse(SignalType::Sha256, &hex).unwrap();
    store
        .import_entries(
            &a,
            list.id,
            vec![NewEntry {
                value,
                category: Category::Baseline,
                source: None,
                assessor: None,
            }],
            serde_json::json!({}),
        )
        .await
        .unwrap();
    let entry = store.entries(list.id, false, 0, 10).await.unwrap()[0].id;
    let new = NewHit {
        org_id: org.id,
        entry_id: entry,
        list_id: list.id,
        signal_type: SignalType::Sha256,
        query_value: hex.clone(),
        distance: 0,
        content_ref: None,
        content_url: None,
    };
    let hits = store
        .record_hits(&a, t.id, vec![new.clone(), new])
        .await
        .unwrap();
    store
        .apply_hit_event(
            &Actor("key:k".into()),
            hits[0].id,
            HitEvent::Acknowledge(AckAction::Removed),
            None,
            hits[0].created_at + Duration::hours(2),
        )
        .await
        .unwrap();
    store.close().await;
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = schoon().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn followup_report_formats_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(seed(dir.path()));
    let data = dir.path().to_str().unwrap();

    let (code, out, err) = run(&["followup", "report", "--data", data, "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("org,hits,acknowledged,acknowledged_share,"));
    assert!(
        lines[1].starts_with("\"Host, Inc\",2,1,0.5000,2.0000,2.0000,"),
        "{out}"
    );

    let (code, out, err) = run(&["followup", "report", "--data", data, "--org", "Host, Inc"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Host, Inc"), "{out}");
    assert!(out.contains("50%"), "{out}");
    assert!(out.contains("2.0h"), "{out}");

    let (code, out, _) = run(&["followup", "report", "--data", data, "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["organisations"][0]["hits"], 2);

    // A period without hits, and bad arguments.
    let (code, out, _) = run(&[
        "followup",
        "report",
        "--data",
        data,
        "--since",
        "2001-01-01",
        "--until",
        "2001-02-01",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("no hits"), "{out}");
    let (code, _, err) = run(&["followup", "report", "--data", data, "--since", "last week"]);
    assert_eq!(code, 2);
    assert!(err.contains("--since"), "{err}");
    let (code, _, err) = run(&["followup", "report", "--data", data, "--org", "nobody"]);
    assert_eq!(code, 2);
    assert!(err.contains("nobody"), "{err}");
}
