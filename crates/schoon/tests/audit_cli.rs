//! `schoon audit verify` on a real data directory: an intact chain passes with its event count
//! and head hash; a row whose details were edited behind the store's back, or a deleted row in
//! the middle, fails naming the first bad event. `schoon admin audit verify` is the same check.

use std::path::Path;
use std::process::{Command, Output};

use store::{Actor, NewTenant, SqliteStore, Store};

fn schoon() -> Command {
    Command::new(env!("CARGO_BIN_EXE_schoon"))
}

/// A data directory with a few audited changes; returns the events as recorded.
async fn seed(dir: &Path) -> Vec<schoon_core::audit::AuditEvent> {
    let store = SqliteStore::open(&dir.join("schoon.db")).await.unwrap();
    let events = seed_store(&store).await;
    store.close().await;
    events
}

/// A few audited changes (three tenants with an organisation each); the events as recorded.
async fn seed_store(store: &dyn Store) -> Vec<schoon_core::audit::AuditEvent> {
    let a = Actor("test".into());
    for name in ["nl", "be", "de"] {
        let t = store
            .create_tenant(
                &a,
                NewTenant {
                    name: name.into(),
                    country: None,
                    hit_deadline_hours: 24,
                },
            )
            .await
            .unwrap();
        store
            .create_org(&a, t.id, &format!("Host {name}"))
            .await
            .unwrap();
    }
    let events = store.audit_events(0, 1000).await.unwrap();
    assert!(events.len() >= 6, "{events:?}");
    events
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Changes the database file behind the store's back, as someone with write access to it
/// could: first dropping the append-only triggers, which stop only honest mistakes.
async fn execute(dir: &Path, sql: &str, id: i64) {
    use sqlx::Connection;
    let url = format!("sqlite://{}", dir.join("schoon.db").display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    for t in ["audit_events_no_update", "audit_events_no_delete"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TRIGGER {t}")))
            .execute(&mut c)
            .await
            .unwrap();
    }
    let r = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .execute(&mut c)
        .await
        .unwrap();
    assert_eq!(r.rows_affected(), 1, "{sql}");
    c.close().await.unwrap();
}

#[tokio::test]
async fn an_intact_chain_verifies_with_count_and_head() {
    let dir = tempfile::tempdir().unwrap();
    let events = seed(dir.path()).await;
    let head = events.last().unwrap();
    let out = schoon()
        .args(["audit", "verify", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("audit chain intact: {} events", events.len())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("head: event {} hash {}", head.id, head.hash)),
        "{stdout}"
    );

    // The same through --database with the file path, and through the admin alias.
    let out = schoon()
        .args(["audit", "verify", "--database"])
        .arg(dir.path().join("schoon.db"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(text(&out).0.contains(&head.hash));
    let out = schoon()
        .args(["admin", "audit", "verify", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(text(&out).0.contains(&head.hash));

    // A missing database is an error, not an empty "intact" log.
    let empty = tempfile::tempdir().unwrap();
    let out = schoon()
        .args(["audit", "verify", "--data"])
        .arg(empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    assert!(!empty.path().join("schoon.db").exists());
}

#[tokio::test]
async fn edited_details_are_detected_at_that_event() {
    let dir = tempfile::tempdir().unwrap();
    let events = seed(dir.path()).await;
    let victim = events[events.len() / 2].id;
    execute(
        dir.path(),
        r#"UPDATE audit_events SET details = '{"tampered":true}' WHERE id = $1"#,
        victim,
    )
    .await;
    for args in [&["audit", "verify"][..], &["admin", "audit", "verify"][..]] {
        let out = schoon()
            .args(args)
            .arg("--data")
            .arg(dir.path())
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
        assert!(
            stderr.contains(&format!("broken at event {victim}:"))
                && stderr.contains("does not match its contents"),
            "{stderr}"
        );
        assert!(!stdout.contains("intact"), "{stdout}");
    }
}

#[tokio::test]
async fn a_deleted_middle_event_is_detected_at_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let events = seed(dir.path()).await;
    let mid = events.len() / 2;
    execute(
        dir.path(),
        "DELETE FROM audit_events WHERE id = $1",
        events[mid].id,
    )
    .await;
    let next = events[mid + 1].id;
    let out = schoon()
        .args(["audit", "verify", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("broken at event {next}:"))
            && stderr.contains("prev_hash does not match"),
        "{stderr}"
    );
}

/// The same on PostgreSQL (a fresh schema, chosen through the URL's `options`), when
/// `SCHOON_TEST_DATABASE_URL` is set; `SCHOON_REQUIRE_DATABASE=1` makes its absence a failure.
#[tokio::test]
async fn postgres_chain_verifies_and_an_edit_is_named() {
    let url = match std::env::var("SCHOON_TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            assert_ne!(
                std::env::var("SCHOON_REQUIRE_DATABASE").as_deref(),
                Ok("1"),
                "SCHOON_REQUIRE_DATABASE=1 but SCHOON_TEST_DATABASE_URL is unset"
            );
            eprintln!("SKIPPED on PostgreSQL: SCHOON_TEST_DATABASE_URL is unset");
            return;
        }
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let schema = format!(
        "schoon_t_audit_{}_{:x}",
        std::process::id(),
        nanos & 0xffff_ffff
    );
    let outcome = tokio::spawn(postgres_body(url.clone(), schema.clone())).await;
    store::PgStore::drop_schema(&url, &schema).await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn postgres_body(url: String, schema: String) {
    use sqlx::{ConnectOptions, Connection};
    let store = store::PgStore::open_fresh_schema(&url, &schema)
        .await
        .unwrap();
    let events = seed_store(&store).await;
    store.close().await;
    let sep = if url.contains('?') { '&' } else { '?' };
    let db = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    let head = events.last().unwrap();
    let out = schoon()
        .args(["audit", "verify", "--database", &db])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("head: event {} hash {}", head.id, head.hash)),
        "{stdout}"
    );

    let victim = events[events.len() / 2].id;
    let opts: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let mut c = opts
        .options([("search_path", schema.as_str())])
        .connect()
        .await
        .unwrap();
    // Someone with write access to the database can switch the append-only triggers off.
    sqlx::raw_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
        .execute(&mut c)
        .await
        .unwrap();
    let r = sqlx::query(r#"UPDATE audit_events SET details = '{"tampered":true}' WHERE id = $1"#)
        .bind(victim)
        .execute(&mut c)
        .await
        .unwrap();
    assert_eq!(r.rows_affected(), 1);
    c.close().await.unwrap();
    let out = schoon()
        .args(["audit", "verify", "--database", &db])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("broken at event {victim}:")),
        "{stderr}"
    );
}
