//! The administration read models ([`store::ManageStore`]) on both backends: list counts and
//! entries by source, the audited hit deadline, grace hours, job counts and failed jobs, and the
//! empty check/outbox/contact summaries of a tenant without cases.

#[macro_use]
mod common;
use common::{Backend, a, open};

use chrono::{Duration, Utc};
use schoon_core::{Category, ListKind, NewEntry, SignalValue};
use store::{NewJob, NewList, RevokeSelector};

async fn admin_read_models(b: Backend) {
    let (_db, s, t) = open(&b).await;
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
    let entry = |hex: &str, source: &str| NewEntry {
        value: SignalValue::parse(schoon_core::SignalType::Md5, hex).unwrap(),
        category: Category::Baseline,
        source: Some(source.into()),
        assessor: None,
    };
    s.import_entries(
        &a("test"),
        list.id,
        vec![
            entry(&"a".repeat(32), "x"),
            entry(&"b".repeat(32), "x"),
            entry(&"c".repeat(32), "y"),
        ],
        serde_json::json!({}),
    )
    .await
    .unwrap();
    let by_x = s.active_entry_ids_by_source(list.id, "x").await.unwrap();
    assert_eq!(by_x.len(), 2);
    s.revoke_entries(&a("test"), list.id, RevokeSelector::Ids(vec![by_x[0]]), "r")
        .await
        .unwrap();
    let c = s.list_counts(t).await.unwrap();
    assert_eq!((c[0].list_id, c[0].active, c[0].revoked), (list.id, 2, 1));
    assert_eq!(
        s.active_entry_ids_by_source(list.id, "x")
            .await
            .unwrap()
            .len(),
        1
    );

    s.set_hit_deadline(&a("admin"), t, 48).await.unwrap();
    assert_eq!(s.tenant(t).await.unwrap().unwrap().hit_deadline_hours, 48);
    assert!(s.set_hit_deadline(&a("admin"), t, 0).await.is_err());
    assert!(s.set_hit_deadline(&a("admin"), t + 99, 48).await.is_err());
    assert_eq!(s.hit_grace_hours(t).await.unwrap(), 24);
    let events = s.audit_events(0, 10_000).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "tenant.hit_deadline" && e.actor == "admin")
            .count(),
        1
    );

    let now = Utc::now();
    for (kind, max) in [("k.ok", 5), ("k.bad", 1)] {
        s.enqueue_job(NewJob {
            kind: kind.into(),
            payload: serde_json::json!({}),
            run_at: now - Duration::seconds(5),
            max_attempts: max,
            idempotency_key: None,
        })
        .await
        .unwrap();
    }
    let bad = s
        .claim_jobs("w", &["k.bad"], 1, Duration::seconds(60))
        .await
        .unwrap();
    s.fail_job(bad[0].id, "w", "boom", now).await.unwrap();
    let counts = s.job_counts(Utc::now()).await.unwrap();
    let get = |k: &str| counts.iter().find(|c| c.kind == k).unwrap();
    assert_eq!(
        (
            get("k.ok").status.as_str(),
            get("k.ok").count,
            get("k.ok").due
        ),
        ("pending", 1, 1)
    );
    assert_eq!(get("k.bad").status, "dead");
    let failed = s.failed_jobs(10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].last_error.as_deref(), Some("boom"));

    let check = s.check_summary(t, Duration::minutes(5)).await.unwrap();
    assert_eq!(check.last_at, None);
    assert!(s.notice_counts(t).await.unwrap().is_empty());
    assert!(s.hoster_contacts(t, 10).await.unwrap().is_empty());
    assert!(
        s.open_cases_of_hoster(t, Some("X"), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.open_cases_of_hoster(t, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

backend_tests!(admin_read_models);
