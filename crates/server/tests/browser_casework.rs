//! The analysts' casework pages in a real browser: a real `schoon serve` on loopback, the
//! loopback website with synthetic images, then `node tests/browser/casework.mjs` drives
//! Chromium: the needs-contact queue, a manual contact that releases the case, the case page,
//! and on the classification screen zoom of a revealed item and a note.
//!
//! Cases are seeded in the server's SQLite database on the items of a filed report (classified
//! through the store, then `open_case` and attributions), with the takedown jobs off so the
//! seeding is not raced. Skipped like `browser.rs` when Chromium or node are missing.

mod common;

use chrono::Utc;
use common::TestServer;
use common::browser::*;
use schoon_core::report::{Attributes, Classification};
use schoon_core::takedown::CaseState;
use serde_json::Value;
use store::accounts::Role;
use store::reports::AnalystAction;
use store::takedown::{CaseContacts, NewAttribution, NewCase};
use store::{Actor, CaseworkStore, ReportStore, SqliteStore, Store, TakedownStore};

fn attribution(org: &str, email: Option<&str>, missing: &[&str]) -> NewAttribution {
    NewAttribution {
        contacts: CaseContacts {
            hoster_org: Some(org.into()),
            hoster_email: email.map(str::to_owned),
            hoster_country: Some("NL".into()),
            asn: Some(64501),
            ip: Some("192.0.2.20".into()),
            registrar_name: Some("Example Registrar".into()),
            ..Default::default()
        },
        host: "127.0.0.1".into(),
        registrable_domain: None,
        needs_contact: missing.iter().map(|m| m.to_string()).collect(),
        raw: serde_json::json!({"hoster": {"source": "rdap", "handle": "NET-LOOP"}}),
        made_at: Utc::now(),
        tenant_country: Some("NL".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyst_works_the_takedown_queues_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let site = website().await;
    let s = TestServer::start_with(|c| {
        c.fetch.allow_addresses = vec!["127.0.0.1/32".into()];
        c.fetch.timeout_secs = 5;
        c.reports.poll_interval_ms = 50;
        c.takedown.enabled = false;
        c.ui.plain_http = true;
    })
    .await;
    let one = file_report(&s, s.tenant, &format!("{site}/one.html")).await;
    let two = file_report(&s, s.tenant, &format!("{site}/two.html")).await;
    for id in [one, two] {
        let v = processed(&s, id).await;
        assert_eq!(
            v["report"]["state"], "awaiting_classification",
            "report {id}: {v:#}"
        );
    }
    let store = SqliteStore::open(&s.dir.path().join("schoon.db"))
        .await
        .unwrap();
    let anna = seed_user(&store, s.tenant, "anna", Role::Analyst).await;

    // Report two's items are classified illegal (no 4-eyes), then become cases.
    let items = store.report_items(two).await.unwrap();
    let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    store
        .analyst_action(
            &Actor("test".into()),
            &ids,
            AnalystAction::Classify {
                classification: Classification::Baseline,
                attributes: Attributes::default(),
            },
            false,
        )
        .await
        .unwrap();
    let v: Value = processed(&s, two).await;
    let page_url = v["report"]["url"].as_str().unwrap().to_string();
    let sys = Actor("system:takedown".into());
    let now = Utc::now();
    let mut cases = Vec::new();
    for item in &items {
        let c = store
            .open_case(
                &sys,
                NewCase {
                    tenant_id: s.tenant,
                    report_id: two,
                    item_id: item.id,
                    url: item.url.clone(),
                    page_url: page_url.clone(),
                    police_first: false,
                },
                now,
            )
            .await
            .unwrap();
        cases.push(c.id);
    }
    let (needs, _) = store
        .record_attribution(
            &sys,
            cases[0],
            attribution("Quiet Hosting", None, &["hoster:no_abuse_email"]),
        )
        .await
        .unwrap();
    assert_eq!(needs.state, CaseState::NeedsContact);
    store
        .record_attribution(
            &sys,
            cases[1],
            attribution("Loud Hosting", Some("abuse@loud.example"), &[]),
        )
        .await
        .unwrap();
    store
        .set_police_first(&Actor("test".into()), cases[2], now)
        .await
        .unwrap();

    let script = repo().join("tests/browser/casework.mjs");
    let out_dir = output_dir();
    let out = tokio::task::spawn_blocking({
        let env = vec![
            ("BASE_URL", s.base.clone()),
            ("PASSWORD", PASSWORD.to_string()),
            ("REPORT_ONE", one.to_string()),
            ("CASE_NEEDS", needs.id.to_string()),
            ("SCREENSHOTS", out_dir.display().to_string()),
        ];
        move || run_node(&script, &env)
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser scenario failed ({}):\n{stdout}\n{stderr}",
        out.status
    );

    // What the browser did is in the database.
    let c = store.case(needs.id).await.unwrap().unwrap();
    assert_eq!(c.state, CaseState::Monitoring);
    assert_eq!(
        c.contacts.hoster_email.as_deref(),
        Some("abuse@quiet-hosting.example")
    );
    let notes = store.report_notes(one).await.unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].author, format!("user:{anna}"));
    assert!(notes[0].body.contains("same uploader"));
    let events = store.audit_events(0, 100_000).await.unwrap();
    let actor = format!("user:{anna}");
    assert!(events.iter().any(|e| e.action == "case.contact_resolved"
        && e.subject == format!("case:{}", needs.id)
        && e.actor == actor));
    assert!(
        events
            .iter()
            .any(|e| e.action == "item.reveal" && e.actor == actor)
    );
    store.verify_audit_chain().await.unwrap();
    store.close().await;
    for shot in ["casework-queue.png", "case.png", "report-zoom.png"] {
        assert!(out_dir.join(shot).exists(), "{shot} missing");
    }
}
