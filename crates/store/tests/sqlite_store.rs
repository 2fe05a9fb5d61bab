//! Behaviour of the hash-check store (tenants, lists, keys, hits, audit, jobs): each test runs
//! on a fresh SQLite database and, with `SCHOON_TEST_DATABASE_URL`, a fresh PostgreSQL schema.

#[macro_use]
mod common;
use common::{Backend, TestDb};
use std::sync::Arc;

use chrono::Duration;
use schoon_core::{Category, KeyRole, ListKind, NewEntry, NewHit, SignalType, SignalValue};
use store::{
    Actor, JobStatus, ListUpdate, NewApiKey, NewJob, NewList, NewTenant, RevokeSelector, Store,
    StoreError,
};

async fn open(b: &Backend) -> (TestDb, Arc<dyn Store>) {
    let (dir, s) = common::store(b).await;
    (dir, s)
}

fn actor() -> Actor {
    Actor("test".into())
}

fn pdq(n: u8) -> SignalValue {
    SignalValue::Pdq([n; 32])
}

fn entry(v: SignalValue) -> NewEntry {
    NewEntry {
        value: v,
        category: Category::Baseline,
        source: Some("test".into()),
        assessor: None,
    }
}

async fn tenant_with_list(s: &dyn Store, kind: ListKind) -> (i64, i64) {
    let t = s
        .create_tenant(
            &actor(),
            NewTenant {
                name: "nl".into(),
                country: Some("NL".into()),
                hit_deadline_hours: 24,
            },
        )
        .await
        .unwrap();
    let l = s
        .create_list(
            &actor(),
            NewList {
                tenant_id: t.id,
                name: "known".into(),
                kind,
                pdq_radius: 31,
                min_quality: 50,
            },
        )
        .await
        .unwrap();
    (t.id, l.id)
}

async fn names_are_unique_per_tenant_and_invalid_settings_refused(b: Backend) {
    let (_d, s) = open(&b).await;
    let (t, _) = tenant_with_list(&*s, ListKind::Known).await;
    let dup = s
        .create_list(
            &actor(),
            NewList {
                tenant_id: t,
                name: "known".into(),
                kind: ListKind::Allow,
                pdq_radius: 31,
                min_quality: 50,
            },
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let bad = s
        .create_list(
            &actor(),
            NewList {
                tenant_id: t,
                name: "wide".into(),
                kind: ListKind::Known,
                pdq_radius: 200,
                min_quality: 50,
            },
        )
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
    s.create_org(&actor(), t, "Hoster").await.unwrap();
    assert!(matches!(
        s.create_org(&actor(), t, "Hoster").await,
        Err(StoreError::Conflict(_))
    ));
}

async fn import_is_all_or_nothing_counts_duplicates_and_bumps_version(b: Backend) {
    let (_d, s) = open(&b).await;
    let (t, l) = tenant_with_list(&*s, ListKind::Known).await;
    let v0 = s.tenant(t).await.unwrap().unwrap().list_version;
    let sum = s
        .import_entries(
            &actor(),
            l,
            vec![entry(pdq(1)), entry(pdq(2)), entry(pdq(1))],
            serde_json::json!({"file": "a.txt"}),
        )
        .await
        .unwrap();
    assert_eq!((sum.added, sum.duplicates), (2, 1));
    let snap = s.snapshot(t).await.unwrap();
    assert_eq!(snap.entries.len(), 2);
    assert!(snap.version > v0);
    // a failing import (unknown list) changes nothing
    assert!(matches!(
        s.import_entries(&actor(), 999, vec![entry(pdq(3))], serde_json::Value::Null)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.snapshot(t).await.unwrap().entries.len(), 2);
}

async fn revoked_entries_leave_the_snapshot_but_keep_history_and_can_be_re_added(b: Backend) {
    let (_d, s) = open(&b).await;
    let (t, l) = tenant_with_list(&*s, ListKind::Known).await;
    s.import_entries(
        &actor(),
        l,
        vec![entry(pdq(1)), entry(pdq(2))],
        serde_json::Value::Null,
    )
    .await
    .unwrap();
    let revoked = s
        .revoke_entries(
            &actor(),
            l,
            RevokeSelector::Values(vec![pdq(1)]),
            "wordpress default image",
        )
        .await
        .unwrap();
    assert_eq!(revoked.len(), 1);
    let snap = s.snapshot(t).await.unwrap();
    assert_eq!(snap.entries.len(), 1);
    assert_eq!(snap.entries[0].value, pdq(2));
    let all = s.entries(l, true, 0, 100).await.unwrap();
    let r = all.iter().find(|e| e.id == revoked[0]).unwrap();
    assert_eq!(r.revoke_reason.as_deref(), Some("wordpress default image"));
    assert!(r.revoked_at.is_some());
    // no reason, no revocation
    assert!(matches!(
        s.revoke_entries(&actor(), l, RevokeSelector::Ids(vec![1]), " ")
            .await,
        Err(StoreError::Invalid(_))
    ));
    // re-adding a revoked value works (only active values are unique)
    let sum = s
        .import_entries(&actor(), l, vec![entry(pdq(1))], serde_json::Value::Null)
        .await
        .unwrap();
    assert_eq!(sum.added, 1);
}

async fn keys_hits_and_an_intact_append_only_audit_chain(b: Backend) {
    let (dir, s) = open(&b).await;
    let (t, l) = tenant_with_list(&*s, ListKind::Known).await;
    let org = s.create_org(&actor(), t, "Hoster").await.unwrap();
    let key = s
        .create_api_key(
            &actor(),
            NewApiKey {
                id: "sk0011223344556677".into(),
                tenant_id: Some(t),
                org_id: Some(org.id),
                role: KeyRole::Check,
                label: "upload scanner".into(),
                secret_hash: "ab".repeat(32),
            },
        )
        .await
        .unwrap();
    assert_eq!(key.role, KeyRole::Check);
    // a check key without an organisation is refused
    assert!(matches!(
        s.create_api_key(
            &actor(),
            NewApiKey {
                id: "sk0011223344556688".into(),
                tenant_id: Some(t),
                org_id: None,
                role: KeyRole::Check,
                label: "x".into(),
                secret_hash: "ab".repeat(32),
            },
        )
        .await,
        Err(StoreError::Invalid(_))
    ));
    s.import_entries(&actor(), l, vec![entry(pdq(7))], serde_json::Value::Null)
        .await
        .unwrap();
    let e = s.entries(l, false, 0, 10).await.unwrap().remove(0);
    let hits = s
        .record_hits(
            &Actor(format!("key:{}", key.id)),
            t,
            vec![NewHit {
                org_id: org.id,
                entry_id: e.id,
                list_id: l,
                signal_type: SignalType::Pdq,
                query_value: pdq(7).to_hex(),
                distance: 0,
                content_ref: Some("upload-1".into()),
                content_url: None,
            }],
        )
        .await
        .unwrap();
    assert_eq!(hits[0].state, schoon_core::HitState::Open);
    assert_eq!(hits[0].deadline - hits[0].created_at, Duration::hours(24));
    assert_eq!(s.hits(t, Some(org.id), 10).await.unwrap().len(), 1);

    let revoked = s
        .revoke_api_key(&actor(), &key.id, "rotated")
        .await
        .unwrap();
    assert!(revoked.revoked_at.is_some());

    let n = s.verify_audit_chain().await.unwrap();
    // tenant, list, org, key, import, hit, key revoke
    assert_eq!(n, 7);
    let events = s.audit_events(0, 100).await.unwrap();
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "tenant.create",
            "list.create",
            "organisation.create",
            "api_key.create",
            "list.import",
            "hit.create",
            "api_key.revoke"
        ]
    );
    schoon_core::audit::verify_chain(&events).unwrap();

    // the table refuses edits and deletes
    let upd = dir
        .raw_execute("UPDATE audit_events SET actor = 'mallory' WHERE id = 1")
        .await;
    assert!(upd.is_err(), "{upd:?}");
    let del = dir.raw_execute("DELETE FROM audit_events").await;
    assert!(del.is_err(), "{del:?}");
    assert_eq!(s.audit_events(0, 100).await.unwrap(), events);
}

async fn list_settings_update_is_validated_and_audited(b: Backend) {
    let (_d, s) = open(&b).await;
    let (_t, l) = tenant_with_list(&*s, ListKind::Known).await;
    let u = s
        .update_list(
            &actor(),
            l,
            ListUpdate {
                pdq_radius: Some(20),
                min_quality: None,
            },
        )
        .await
        .unwrap();
    assert_eq!((u.pdq_radius, u.min_quality), (20, 50));
    assert!(matches!(
        s.update_list(
            &actor(),
            l,
            ListUpdate {
                pdq_radius: None,
                min_quality: Some(101)
            }
        )
        .await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(s.list(l).await.unwrap().unwrap().pdq_radius, 20);
}

fn job(key: &str, max_attempts: i64) -> NewJob {
    NewJob {
        kind: "test.job".into(),
        payload: serde_json::json!({"n": 1}),
        run_at: schoon_core::audit::now() - Duration::seconds(1),
        max_attempts,
        idempotency_key: Some(key.into()),
    }
}

async fn jobs_enqueue_once_claim_once_and_die_after_their_attempts(b: Backend) {
    let (_d, s) = open(&b).await;
    let a = s.enqueue_job(job("k1", 2)).await.unwrap();
    assert_eq!(s.enqueue_job(job("k1", 2)).await.unwrap(), a, "idempotent");

    let got = s
        .claim_jobs("w1", &["test.job"], 10, Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].attempts, 1);
    // held: nobody else gets it
    assert!(
        s.claim_jobs("w2", &["test.job"], 10, Duration::seconds(60))
            .await
            .unwrap()
            .is_empty()
    );
    // another worker cannot complete it
    assert!(!s.complete_job(a, "w2").await.unwrap());
    let st = s
        .fail_job(
            a,
            "w1",
            "boom",
            schoon_core::audit::now() - Duration::seconds(1),
        )
        .await
        .unwrap();
    assert_eq!(st, JobStatus::Pending);
    let again = s
        .claim_jobs("w2", &["test.job"], 10, Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(again[0].attempts, 2);
    let st = s
        .fail_job(a, "w2", "boom", schoon_core::audit::now())
        .await
        .unwrap();
    assert_eq!(st, JobStatus::Dead);

    // an expired lease hands the job to another worker
    let b = s.enqueue_job(job("k2", 5)).await.unwrap();
    let c1 = s
        .claim_jobs("w1", &["test.job"], 10, Duration::milliseconds(-1))
        .await
        .unwrap();
    assert_eq!(c1[0].id, b);
    let c2 = s
        .claim_jobs("w2", &["test.job"], 10, Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(c2[0].id, b);
    assert!(!s.complete_job(b, "w1").await.unwrap(), "lost its lease");
    assert!(s.complete_job(b, "w2").await.unwrap());
    assert_eq!(s.job(b).await.unwrap().unwrap().status, JobStatus::Done);
    // other kinds are not claimed
    s.enqueue_job(job("k3", 5)).await.unwrap();
    assert!(
        s.claim_jobs("w1", &["other"], 10, Duration::seconds(60))
            .await
            .unwrap()
            .is_empty()
    );
}

backend_tests!(
    names_are_unique_per_tenant_and_invalid_settings_refused,
    import_is_all_or_nothing_counts_duplicates_and_bumps_version,
    revoked_entries_leave_the_snapshot_but_keep_history_and_can_be_re_added,
    keys_hits_and_an_intact_append_only_audit_chain,
    list_settings_update_is_validated_and_audited,
    jobs_enqueue_once_claim_once_and_die_after_their_attempts,
);
