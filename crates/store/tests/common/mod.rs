//! Set-up shared by the store tests: every test body runs against SQLite (a temporary file)
//! and, when `SCHOON_TEST_DATABASE_URL` is set, against PostgreSQL in a fresh schema that is
//! dropped afterwards. `backend_tests!` generates the `<name>::sqlite` / `<name>::postgres`
//! wrappers. Also: one Dutch tenant and a report whose media items a list classified illegal.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use schoon_core::report::Classification;
use store::reports::{AutoOutcome, Fetched, NewReport};
use store::takedown::NewCase;
use store::{Actor, NewTenant, PgStore, SqliteStore, Store};

/// Where a test body runs.
#[derive(Debug, Clone)]
pub enum Backend {
    /// A SQLite file in a fresh temporary directory.
    Sqlite,
    /// A fresh schema in the PostgreSQL database at `url`.
    Postgres { url: String, schema: String },
}

impl Backend {
    /// The PostgreSQL backend with a new schema name, or `None` (after printing SKIPPED) when
    /// `SCHOON_TEST_DATABASE_URL` is unset. With `SCHOON_REQUIRE_DATABASE=1` an unset URL
    /// fails the test instead: CI must not pass by skipping.
    pub fn postgres(test: &str) -> Option<Backend> {
        match std::env::var("SCHOON_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres {
                url,
                schema: fresh_schema_name(),
            }),
            _ => {
                if std::env::var("SCHOON_REQUIRE_DATABASE").as_deref() == Ok("1") {
                    panic!(
                        "{test}: SCHOON_REQUIRE_DATABASE=1 but SCHOON_TEST_DATABASE_URL is unset"
                    );
                }
                eprintln!("SKIPPED {test} on PostgreSQL: SCHOON_TEST_DATABASE_URL is unset");
                None
            }
        }
    }

    /// Drops the PostgreSQL schema (nothing for SQLite, whose directory goes with [`TestDb`]).
    pub async fn cleanup(&self) {
        if let Backend::Postgres { url, schema } = self
            && let Err(e) = PgStore::drop_schema(url, schema).await
        {
            eprintln!("could not drop test schema {schema}: {e}");
        }
    }
}

/// `schoon_t_<pid>_<time>_<counter>`: unique across the parallel test binaries of one run.
fn fresh_schema_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!(
        "schoon_t_{}_{:x}_{}",
        std::process::id(),
        nanos & 0xffff_ffff_ffff,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Generates, for each `async fn name(b: Backend)`, the tests `name::sqlite` and
/// `name::postgres` (the latter skips without a database URL, see [`Backend::postgres`]).
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(b) = $crate::common::Backend::postgres(stringify!($name)) else {
                    return;
                };
                // Run the body as a task so the schema is dropped even when it panics.
                let outcome = tokio::spawn(super::$name(b.clone())).await;
                b.cleanup().await;
                if let Err(e) = outcome {
                    std::panic::resume_unwind(e.into_panic());
                }
            }
        }
    )+};
}

/// An opened test database; keeps the SQLite directory alive.
pub struct TestDb {
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    sqlite_path: Option<std::path::PathBuf>,
}

impl TestDb {
    /// The SQLite file (None on PostgreSQL).
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        self.sqlite_path.as_deref()
    }

    /// Another, independent handle on the same database (own pools), as a second process
    /// would open it.
    pub async fn reopen(&self) -> Arc<dyn Store> {
        match (&self.backend, &self.sqlite_path) {
            (Backend::Postgres { url, schema }, _) => {
                Arc::new(PgStore::open_fresh_schema(url, schema).await.unwrap())
            }
            (Backend::Sqlite, Some(p)) => Arc::new(SqliteStore::open(p).await.unwrap()),
            (Backend::Sqlite, None) => unreachable!("a SQLite TestDb has a path"),
        }
    }

    /// Runs one raw statement on the database, bypassing the store (for tamper tests).
    pub async fn raw_execute(&self, sql: &str) -> Result<u64, sqlx::Error> {
        use sqlx::ConnectOptions;
        match (&self.backend, &self.sqlite_path) {
            (Backend::Postgres { url, schema }, _) => {
                let opts: sqlx::postgres::PgConnectOptions = url.parse()?;
                let mut c = opts
                    .options([("search_path", schema.as_str())])
                    .connect()
                    .await?;
                Ok(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&mut c)
                    .await?
                    .rows_affected())
            }
            (Backend::Sqlite, Some(p)) => {
                let mut c = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(p)
                    .connect()
                    .await?;
                Ok(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&mut c)
                    .await?
                    .rows_affected())
            }
            (Backend::Sqlite, None) => unreachable!("a SQLite TestDb has a path"),
        }
    }
}

/// A fresh, empty store on `b`.
pub async fn store(b: &Backend) -> (TestDb, Arc<dyn Store>) {
    match b {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("schoon.db");
            let s = SqliteStore::open(&path).await.unwrap();
            (
                TestDb {
                    backend: b.clone(),
                    _dir: Some(dir),
                    sqlite_path: Some(path),
                },
                Arc::new(s),
            )
        }
        Backend::Postgres { url, schema } => {
            let s = PgStore::open_fresh_schema(url, schema).await.unwrap();
            (
                TestDb {
                    backend: b.clone(),
                    _dir: None,
                    sqlite_path: None,
                },
                Arc::new(s),
            )
        }
    }
}

/// An actor for the audit log.
pub fn a(name: &str) -> Actor {
    Actor(name.into())
}

/// A fresh store with the tenant `nl` (country NL).
pub async fn open(b: &Backend) -> (TestDb, Arc<dyn Store>, i64) {
    let (db, s) = store(b).await;
    let t = s
        .create_tenant(
            &a("test"),
            NewTenant {
                name: "nl".into(),
                country: Some("NL".into()),
                hit_deadline_hours: 24,
            },
        )
        .await
        .unwrap();
    (db, s, t.id)
}

/// A report filed at `reported_at` for `https://{site}/page` with `n` media items, all
/// classified illegal by a list (so `notice_pending`); `digests(i)` gives item `i`'s digests.
pub async fn pending_items(
    s: &dyn Store,
    t: i64,
    site: &str,
    n: usize,
    reported_at: DateTime<Utc>,
    digests: impl Fn(usize) -> Fetched,
) -> Vec<NewCase> {
    let page = format!("https://{site}/page");
    let r = s
        .submit_reports(
            &a("p"),
            t,
            vec![NewReport {
                url: page.clone(),
                original_url: page.clone(),
                registrable_domain: None,
                referer: None,
                note: None,
                source_kind: schoon_core::report::SourceKind::Hotline,
                source_org_id: None,
                reporter_email: None,
            }],
            reported_at,
        )
        .await
        .unwrap();
    let report = r[0].report_id;
    let media = (0..n)
        .map(|i| (format!("https://{site}/img/{i}.jpg"), "img".to_string()))
        .collect();
    s.record_page(&a("w"), report, None, None, media)
        .await
        .unwrap();
    let mut out = Vec::new();
    for (i, item) in s
        .report_items(report)
        .await
        .unwrap()
        .into_iter()
        .enumerate()
    {
        assert!(
            s.complete_item(
                &a("w"),
                item.id,
                digests(i),
                AutoOutcome::Known {
                    list_id: 1,
                    entry_id: 1,
                    classification: Classification::Baseline,
                },
            )
            .await
            .unwrap()
        );
        out.push(NewCase {
            tenant_id: t,
            report_id: report,
            item_id: item.id,
            url: item.url.clone(),
            page_url: page.clone(),
            police_first: false,
        });
    }
    s.finish_report(&a("w"), report).await.unwrap();
    out
}
