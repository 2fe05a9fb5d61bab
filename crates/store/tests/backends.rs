//! What differs between the backends, tested on both: job claims from several store handles on
//! one database (several processes), lease expiry across handles, `open_database` by spec, and
//! the SQLite online backup.

#[macro_use]
mod common;
use common::Backend;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Duration;
use store::{
    Actor, JobStatus, NewJob, NewTenant, PgStore, SqliteStore, Store, StoreError, is_postgres_url,
    open_database,
};

fn job(key: String) -> NewJob {
    NewJob {
        kind: "test.claim".into(),
        payload: serde_json::json!({"key": key}),
        run_at: schoon_core::audit::now() - Duration::seconds(1),
        max_attempts: 3,
        idempotency_key: Some(key),
    }
}

fn tenant(name: &str) -> NewTenant {
    NewTenant {
        name: name.into(),
        country: Some("NL".into()),
        hit_deadline_hours: 24,
    }
}

/// 200 jobs, 4 claimers each on its own store handle (own pool), claiming in small batches
/// concurrently: every job is claimed exactly once and completed by its claimer.
async fn concurrent_claimers_on_separate_handles_claim_each_job_once(b: Backend) {
    let (db, s) = common::store(&b).await;
    let mut ids = Vec::new();
    for i in 0..200 {
        ids.push(s.enqueue_job(job(format!("k{i}"))).await.unwrap());
    }
    let mut tasks = Vec::new();
    for w in 0..4 {
        let handle = db.reopen().await;
        tasks.push(tokio::spawn(async move {
            let me = format!("w{w}");
            let mut mine = Vec::new();
            loop {
                let got = handle
                    .claim_jobs(&me, &["test.claim"], 7, Duration::minutes(5))
                    .await
                    .unwrap();
                if got.is_empty() {
                    break;
                }
                for j in got {
                    assert_eq!(j.attempts, 1, "job {} claimed before", j.id);
                    assert!(handle.complete_job(j.id, &me).await.unwrap());
                    mine.push(j.id);
                }
            }
            mine
        }));
    }
    let mut claims: BTreeMap<i64, usize> = BTreeMap::new();
    for t in tasks {
        for id in t.await.unwrap() {
            *claims.entry(id).or_default() += 1;
        }
    }
    let twice: Vec<_> = claims.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "claimed more than once: {twice:?}");
    assert_eq!(claims.keys().copied().collect::<Vec<_>>(), ids);
    for id in ids {
        assert_eq!(s.job(id).await.unwrap().unwrap().status, JobStatus::Done);
    }
}

/// A worker (handle 1) dies holding a job: nobody gets it while the lease runs, another
/// process (handle 2) gets it after, and the dead worker's late completion is refused.
async fn an_expired_lease_hands_the_job_to_another_handle(b: Backend) {
    let (db, s1) = common::store(&b).await;
    let s2 = db.reopen().await;
    let id = s1.enqueue_job(job("lease".into())).await.unwrap();
    let first = s1
        .claim_jobs("w1", &["test.claim"], 10, Duration::milliseconds(700))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        s2.claim_jobs("w2", &["test.claim"], 10, Duration::minutes(5))
            .await
            .unwrap()
            .is_empty(),
        "held while the lease runs"
    );
    tokio::time::sleep(std::time::Duration::from_millis(900)).await;
    let second = s2
        .claim_jobs("w2", &["test.claim"], 10, Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!((second[0].id, second[0].attempts), (id, 2));
    assert!(!s1.complete_job(id, "w1").await.unwrap(), "lost its lease");
    assert!(s2.complete_job(id, "w2").await.unwrap());
    assert_eq!(s1.job(id).await.unwrap().unwrap().status, JobStatus::Done);
}

/// `open_database` opens what the spec names and sees what another handle wrote.
async fn open_database_follows_the_spec(b: Backend) {
    let (db, s) = common::store(&b).await;
    s.create_tenant(&Actor::system(), tenant("nl"))
        .await
        .unwrap();
    let spec = match (&b, db.sqlite_path()) {
        (Backend::Postgres { url, schema }, _) => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}options=-c%20search_path%3D{schema}")
        }
        (Backend::Sqlite, Some(p)) => p.to_str().unwrap().to_string(),
        (Backend::Sqlite, None) => unreachable!(),
    };
    assert_eq!(
        is_postgres_url(&spec),
        matches!(b, Backend::Postgres { .. })
    );
    let opened: Arc<dyn Store> = open_database(&spec).await.unwrap();
    let names: Vec<_> = opened
        .tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["nl"]);
    opened
        .create_tenant(&Actor::system(), tenant("be"))
        .await
        .unwrap();
    assert_eq!(s.tenants().await.unwrap().len(), 2);
    assert_eq!(s.verify_audit_chain().await.unwrap(), 2, "one chain");
}

backend_tests!(
    concurrent_claimers_on_separate_handles_claim_each_job_once,
    an_expired_lease_hands_the_job_to_another_handle,
    open_database_follows_the_spec,
);

#[test]
fn postgres_urls_are_told_apart_from_paths() {
    assert!(is_postgres_url("postgres://u@h/db"));
    assert!(is_postgres_url("postgresql://u@h:5433/db?sslmode=disable"));
    assert!(!is_postgres_url("/var/lib/schoon/schoon.db"));
    assert!(!is_postgres_url("postgres.db"));
}

#[tokio::test]
async fn schema_names_are_checked_before_they_reach_sql() {
    // Port 1: nothing listens, so only the name check can answer.
    for bad in [
        "",
        "Upper",
        "1abc",
        "a-b",
        "x\"; DROP SCHEMA public; --",
        &"a".repeat(64),
    ] {
        let err = PgStore::open_fresh_schema("postgres://nobody@127.0.0.1:1/x", bad)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{bad:?}: {err}");
        let err = PgStore::drop_schema("postgres://nobody@127.0.0.1:1/x", bad)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{bad:?}: {err}");
    }
}

#[tokio::test]
async fn sqlite_backup_is_a_consistent_copy_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("live.db"))
        .await
        .unwrap();
    for name in ["nl", "be", "de"] {
        s.create_tenant(&Actor::system(), tenant(name))
            .await
            .unwrap();
    }
    let dest = dir.path().join("backup.db");
    s.backup_to(&dest).await.unwrap();
    // the live store keeps working after the backup; the copy is the state at backup time
    s.create_tenant(&Actor::system(), tenant("fr"))
        .await
        .unwrap();
    let copy = SqliteStore::open(&dest).await.unwrap();
    let names: Vec<_> = copy
        .tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["nl", "be", "de"]);
    assert_eq!(copy.verify_audit_chain().await.unwrap(), 3);
    copy.close().await;

    let before = std::fs::read(&dest).unwrap();
    let again = s.backup_to(&dest).await.unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again}");
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        before,
        "existing file untouched"
    );
    s.close().await;
}
