//! The regulator officer's pages in a real browser: a real server on loopback, then
//! `node tests/browser/regulator.mjs` drives Chromium: the escalation queue (reported URLs as
//! text only), a keyboard pick-up, the order form with its per-field error, the draft, issue
//! and publication, and the order's reference on the public register. Every control on those
//! pages must have an accessible name. Saves `regulator-queue.png`, `regulator-order-form.png`
//! and `regulator-order.png`.
//!
//! One escalated takedown case and one overdue hit are seeded straight into the server's SQLite
//! database (the case with `common::regulator_seed`, as tests/regulator_ui.rs), with the report worker and the takedown jobs off
//! so nothing races the seeding. Skipped like `browser.rs` when Chromium or node are missing,
//! unless `SCHOON_REQUIRE_BROWSER=1`.

mod common;

use common::TestServer;
use common::browser::*;
use common::regulator_seed::escalated_case;
use schoon_core::order::OrderState;
use schoon_core::{Category, ListKind, NewEntry, NewHit, SignalType, SignalValue};
use serde_json::json;
use store::accounts::Role;
use store::orders::EscalationSource;
use store::{Actor, FollowupStore, NewList, OrderStore, SqliteStore, Store};

const REFERENCE: &str = "ATKM-BROWSER-1";

fn a(name: &str) -> Actor {
    Actor(name.into())
}

/// A hit of organisation "Silent Host" on a known-list SHA-256, swept past its deadline and
/// grace period so that it is escalated; returns `(content url, escalation id)`.
async fn overdue_hit(s: &SqliteStore, t: i64) -> (String, i64) {
    let org = s.create_org(&a("test"), t, "Silent Host").await.unwrap();
    let list = s
        .create_list(
            &a("test"),
            NewList {
                tenant_id: t,
                name: "known".into(),
                kind: ListKind::Known,
                pdq_radius: 31,
                min_quality: 50,
            },
        )
        .await
        .unwrap();
    let value = "ef".repeat(32);
    s.import_entries(
        &a("test"),
        list.id,
        vec![NewEntry {
            value: SignalValue::parse(SignalType::Sha256, &value).unwrap(),
            category: Category::Baseline,
            source: None,
            assessor: None,
        }],
        json!({}),
    )
    .await
    .unwrap();
    let entry = s.entries(list.id, false, 0, 10).await.unwrap()[0].id;
    let url = "https://cdn.silent.example/u/77".to_string();
    let hit = s
        .record_hits(
            &a("test"),
            t,
            vec![NewHit {
                org_id: org.id,
                entry_id: entry,
                list_id: list.id,
                signal_type: SignalType::Sha256,
                query_value: value,
                distance: 0,
                content_ref: Some("upload-77".into()),
                content_url: Some(url.clone()),
            }],
        )
        .await
        .unwrap()
        .remove(0);
    let later = hit.deadline + chrono::Duration::days(30);
    s.sweep_deadlines(later).await.unwrap();
    s.sweep_deadlines(later + chrono::Duration::days(30))
        .await
        .unwrap();
    let esc = s
        .regulator_escalations(t, EscalationSource::Hit, None, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.hit_id == Some(hit.id))
        .expect("the overdue hit is escalated")
        .id;
    (url, esc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officer_turns_an_escalation_into_a_published_order_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let s = TestServer::start_with(|c| {
        c.reports.worker = false;
        c.takedown.enabled = false;
        c.ui.plain_http = true;
    })
    .await;
    let t = s.tenant;
    let store = SqliteStore::open(&s.dir.path().join("schoon.db"))
        .await
        .unwrap();
    let olga = seed_user(&store, t, "olga", Role::Regulator).await;
    let officer = format!("user:{olga}");
    let (_, case_url, _, case_esc) = escalated_case(&store, t, "shop.example").await;
    let (hit_url, hit_esc) = overdue_hit(&store, t).await;

    let script = repo().join("tests/browser/regulator.mjs");
    let out_dir = output_dir();
    let shots = [
        "regulator-queue.png",
        "regulator-order-form.png",
        "regulator-order.png",
    ];
    // No stale picture from an earlier run may pass for this one's.
    for shot in shots.iter().chain(&["regulator-failure.png"]) {
        let _ = std::fs::remove_file(out_dir.join(shot));
    }
    let out = tokio::task::spawn_blocking({
        let env = vec![
            ("BASE_URL", s.base.clone()),
            ("USERNAME", "olga".to_string()),
            ("PASSWORD", PASSWORD.to_string()),
            ("CASE_ESC", case_esc.to_string()),
            ("CASE_URL", case_url.clone()),
            ("HIT_ESC", hit_esc.to_string()),
            ("HIT_URL", hit_url.clone()),
            ("REFERENCE", REFERENCE.to_string()),
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

    // What the browser did is in the database: one order, from the case, issued and published.
    let order = store
        .order_by_reference(REFERENCE)
        .await
        .unwrap()
        .expect("the order the officer made");
    assert_eq!(order.tenant_id, t);
    assert_eq!(order.legal_basis, "art. 3 test act");
    assert_eq!(order.provider.name, "Slow Hosting");
    assert!(
        matches!(order.state, OrderState::Issued | OrderState::Delivered),
        "{:?}",
        order.state
    );
    assert!(order.issued_at.is_some() && order.signature.is_some());
    assert!(order.published && order.published_at.is_some());
    assert_eq!(order.items.len(), 1);
    assert_eq!(order.items[0].url, case_url);
    let e = store
        .regulator_escalation(EscalationSource::Case, case_esc)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.picked_up_by.as_deref(), Some(officer.as_str()));
    assert_eq!(e.order_id, Some(order.id));
    // The hit was only looked at.
    let h = store
        .regulator_escalation(EscalationSource::Hit, hit_esc)
        .await
        .unwrap()
        .unwrap();
    assert!(!h.picked_up() && h.order_id.is_none(), "{h:?}");

    // The officer's events, in that order, on the audit chain.
    let events = store.audit_events(0, 100_000).await.unwrap();
    let mine: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e.actor == officer)
        .map(|e| (e.action.as_str(), e.subject.as_str()))
        .collect();
    let order_subject = format!("order:{}", order.id);
    let case_subject = format!("case_escalation:{case_esc}");
    let want = [
        ("escalation.pick_up", case_subject.as_str()),
        ("order.draft", order_subject.as_str()),
        ("order.issue", order_subject.as_str()),
        ("order.publish", order_subject.as_str()),
    ];
    let mut at = 0;
    for w in want {
        at += 1 + mine[at..]
            .iter()
            .position(|m| *m == w)
            .unwrap_or_else(|| panic!("{w:?} missing or out of order in {mine:?}"));
    }
    assert!(
        !mine
            .iter()
            .any(|(_, subj)| subj.starts_with("hit_escalation:")),
        "{mine:?}"
    );
    store.verify_audit_chain().await.unwrap();
    store.close().await;
    for shot in shots {
        let meta = std::fs::metadata(out_dir.join(shot)).unwrap();
        assert!(meta.len() > 1000, "{shot}: {} bytes", meta.len());
    }
}
