//! Report storage: de-duplication window, idempotent processing, lock expiry, 4-eyes in the
//! store, and which evidence a purge may touch.

#[macro_use]
mod common;
use common::{Backend, TestDb};
use std::sync::Arc;

use chrono::Duration;
use schoon_core::audit::now;
use schoon_core::report::{Attributes, Classification, ItemState, ReportState, SourceKind};
use store::reports::{AnalystAction, AutoOutcome, Fetched, NewReport};
use store::{Actor, NewTenant, Store, StoreError};

async fn open(b: &Backend) -> (TestDb, Arc<dyn Store>, i64) {
    let (dir, s) = common::store(b).await;
    let t = s
        .create_tenant(
            &Actor("test".into()),
            NewTenant {
                name: "nl".into(),
                country: Some("NL".into()),
                hit_deadline_hours: 24,
            },
        )
        .await
        .unwrap();
    (dir, s, t.id)
}

fn a(name: &str) -> Actor {
    Actor(name.into())
}

fn report(url: &str) -> NewReport {
    NewReport {
        url: url.into(),
        original_url: url.into(),
        registrable_domain: None,
        referer: None,
        note: None,
        source_kind: SourceKind::Hotline,
        source_org_id: None,
        reporter_email: None,
    }
}

fn fetched(sha: &str, evidence: &str) -> Fetched {
    Fetched {
        sha256: Some(sha.into()),
        evidence_ref: Some(evidence.into()),
        ..Fetched::default()
    }
}

/// Files a report with one item and processes it to `awaiting_classification`.
async fn awaiting(s: &dyn Store, t: i64, url: &str, evidence: &str) -> (i64, i64) {
    let r = s
        .submit_reports(&a("p"), t, vec![report(url)], now() - Duration::days(7))
        .await
        .unwrap();
    let id = r[0].report_id;
    s.record_page(
        &a("w"),
        id,
        None,
        None,
        vec![(format!("{url}/i.jpg"), "img".into())],
    )
    .await
    .unwrap();
    let item = s.report_items(id).await.unwrap()[0].id;
    assert!(
        s.complete_item(
            &a("w"),
            item,
            fetched("ab", evidence),
            AutoOutcome::NeedsAnalyst
        )
        .await
        .unwrap()
    );
    s.finish_report(&a("w"), id).await.unwrap();
    (id, item)
}

async fn dedupe_joins_only_open_reports_inside_the_window(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let week_ago = now() - Duration::days(7);
    let first = s
        .submit_reports(&a("p"), t, vec![report("https://x.example/")], week_ago)
        .await
        .unwrap();
    assert!(first[0].reference.starts_with("NL-") && first[0].reference.ends_with("-000001"));
    let again = s
        .submit_reports(&a("p"), t, vec![report("https://x.example/")], week_ago)
        .await
        .unwrap();
    assert!(again[0].joined);
    assert_eq!(again[0].report_id, first[0].report_id);
    // Outside the window (a window that starts in the future): a new report.
    let later = s
        .submit_reports(
            &a("p"),
            t,
            vec![report("https://x.example/")],
            now() + Duration::seconds(5),
        )
        .await
        .unwrap();
    assert!(!later[0].joined);
    assert!(later[0].reference.ends_with("-000002"));
    // Exactly one processing job per new report, whatever the number of submissions.
    let jobs = s
        .claim_jobs("w", &["report.process"], 10, Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 2);
}

async fn processing_an_item_twice_changes_nothing(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let (id, item) = awaiting(&*s, t, "https://x.example", "aa").await;
    // A re-delivered job: the page again (no duplicate item), the item again (refused).
    s.record_page(
        &a("w"),
        id,
        None,
        None,
        vec![("https://x.example/i.jpg".into(), "img".into())],
    )
    .await
    .unwrap();
    assert_eq!(s.report_items(id).await.unwrap().len(), 1);
    let again = s
        .complete_item(&a("w"), item, fetched("cd", "bb"), AutoOutcome::Failed)
        .await
        .unwrap();
    assert!(!again);
    let i = s.item(item).await.unwrap().unwrap();
    assert_eq!(i.state, ItemState::AwaitingClassification);
    assert_eq!(i.sha256.as_deref(), Some("ab"));
}

async fn locks_expire_and_verification_needs_a_second_analyst(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let (id, item) = awaiting(&*s, t, "https://x.example", "aa").await;
    // An expired lock of A does not stop B.
    s.lock_report(&a("admin:A"), id, now() - Duration::seconds(1))
        .await
        .unwrap();
    let r = s
        .lock_report(&a("admin:B"), id, now() + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(r.lock_by.as_deref(), Some("admin:B"));
    let err = s
        .lock_report(&a("admin:A"), id, now() + Duration::minutes(5))
        .await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    s.unlock_report(&a("admin:B"), id).await.unwrap();

    let classify = AnalystAction::Classify {
        classification: Classification::National,
        attributes: Attributes::default(),
    };
    let out = s
        .analyst_action(&a("admin:A"), &[item], classify, true)
        .await
        .unwrap();
    assert_eq!(out[0].state, ItemState::AwaitingVerification);
    assert_eq!(
        s.report(id).await.unwrap().unwrap().state,
        ReportState::AwaitingVerification
    );
    let own = s
        .analyst_action(
            &a("admin:A"),
            &[item],
            AnalystAction::Verify { agree: true },
            true,
        )
        .await;
    assert!(matches!(own, Err(StoreError::Conflict(_))), "{own:?}");
    // B disagrees: back to the queue, verdict cleared.
    let out = s
        .analyst_action(
            &a("admin:B"),
            &[item],
            AnalystAction::Verify { agree: false },
            true,
        )
        .await
        .unwrap();
    assert_eq!(out[0].state, ItemState::AwaitingClassification);
    assert_eq!(out[0].classification, None);
}

async fn purge_spares_evidence_still_used_by_an_open_report(b: Backend) {
    let (_d, s, t) = open(&b).await;
    let (closed, item_closed) = awaiting(&*s, t, "https://x.example", "shared").await;
    let (_open, _item_open) = awaiting(&*s, t, "https://y.example", "shared").await;
    let (closed2, item_closed2) = awaiting(&*s, t, "https://z.example", "own").await;
    for (r, i) in [(closed, item_closed), (closed2, item_closed2)] {
        s.analyst_action(
            &a("admin:A"),
            &[i],
            AnalystAction::Classify {
                classification: Classification::NotIllegal,
                attributes: Attributes::default(),
            },
            false,
        )
        .await
        .unwrap();
        let rep = s.report(r).await.unwrap().unwrap();
        assert_eq!(rep.state, ReportState::Closed);
        assert!(rep.closed_at.is_some());
    }
    // Not yet past retention.
    let none = s
        .purgeable_evidence(now() - Duration::days(1))
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
    let due = s
        .purgeable_evidence(now() + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(due, vec![(item_closed2, "own".to_string())]);
    s.mark_evidence_purged(&a("system"), &[item_closed2])
        .await
        .unwrap();
    assert!(
        s.item(item_closed2)
            .await
            .unwrap()
            .unwrap()
            .evidence_purged_at
            .is_some()
    );
    assert!(
        s.purgeable_evidence(now() + Duration::seconds(1))
            .await
            .unwrap()
            .is_empty()
    );
    let subjects = vec![format!("item:{item_closed2}")];
    let tl = s.audit_for_subjects(&subjects).await.unwrap();
    let actions: Vec<_> = tl.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "item.create",
            "item.process",
            "item.classify",
            "item.evidence_purge"
        ]
    );
    s.verify_audit_chain().await.unwrap();
}

backend_tests!(
    dedupe_joins_only_open_reports_inside_the_window,
    processing_an_item_twice_changes_nothing,
    locks_expire_and_verification_needs_a_second_analyst,
    purge_spares_evidence_still_used_by_an_open_report,
);
