//! The PostgreSQL implementation of [`Store`], for several nodes sharing one database.
//!
//! The same SQL as SQLite (`src/sql/`, compiled here against the PostgreSQL types). Reads run
//! in parallel on a pool. Write transactions first take one transaction-scoped advisory lock
//! (per schema),
//! so writes are serialised exactly as SQLite serialises them: the audit log stays one hash
//! chain, and the read-then-write steps in `src/sql/` need no extra locking. Job claims use
//! `FOR UPDATE SKIP LOCKED` with leases, so a dead worker's jobs return after the lease.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use crate::{StoreError, StoreResult};

pub(crate) type Backend = PgStore;
#[allow(dead_code)]
pub(crate) type Db = sqlx::Postgres;
pub(crate) type Conn = sqlx::PgConnection;
pub(crate) type DbRow = sqlx::postgres::PgRow;
/// Which SQL dialect the shared code speaks (for the few spots where they differ).
#[allow(dead_code)]
pub(crate) const DIALECT: crate::Dialect = crate::Dialect::Postgres;

/// Advisory lock every write transaction holds: one per schema (`current_schema()`), so several
/// instances hosted in one database do not serialise each other's writes.
const WRITE_LOCK_SQL: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('schoon.write:' || current_schema(), 0))";

#[path = "sql/common.rs"]
#[macro_use]
mod common;
#[path = "sql/accounts.rs"]
mod accounts;
#[path = "sql/casework.rs"]
mod casework;
#[path = "sql/followup.rs"]
pub(crate) mod followup;
#[path = "sql/manage.rs"]
mod manage;
#[path = "sql/monitor.rs"]
mod monitor;
#[path = "sql/orders.rs"]
mod orders;
#[path = "sql/reports.rs"]
mod reports;
#[path = "sql/takedown.rs"]
mod takedown;

/// PostgreSQL-backed store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pub(crate) read: PgPool,
    pub(crate) write: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://…`) and runs the migrations.
    pub async fn open(url: &str) -> StoreResult<PgStore> {
        let opts: PgConnectOptions = url.parse()?;
        PgStore::open_with(opts).await
    }

    /// Connects with explicit options (tests pick a schema per run this way).
    pub async fn open_with(opts: PgConnectOptions) -> StoreResult<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore {
            read: pool.clone(),
            write: pool,
        })
    }

    pub(crate) async fn begin_write(
        &self,
    ) -> StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
        let mut tx = self.write.begin().await?;
        sqlx::query(WRITE_LOCK_SQL).execute(&mut *tx).await?;
        Ok(tx)
    }

    /// Opens the store in schema `schema` of the database at `url`, creating the schema if it
    /// is missing; every connection runs with `search_path=<schema>`, so the migrations and all
    /// tables live there. For tests (a fresh schema per test) and for hosting several instances
    /// in one database. `schema` must be a plain identifier (`[a-z_][a-z0-9_]*`, at most 63).
    pub async fn open_fresh_schema(url: &str, schema: &str) -> StoreResult<PgStore> {
        check_schema_name(schema)?;
        let opts: PgConnectOptions = url.parse()?;
        let mut conn = opts.connect().await?;
        let created = sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
        )))
        .execute(&mut conn)
        .await;
        // Two nodes creating the same schema at once: the loser sees a unique violation on the
        // catalogue, and the schema exists either way.
        match created {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {}
            Err(e) => return Err(e.into()),
        }
        conn.close().await?;
        PgStore::open_with(opts.options([("search_path", schema)])).await
    }

    /// Drops schema `schema` (and everything in it) from the database at `url`; the
    /// counterpart of [`PgStore::open_fresh_schema`]. Missing schemas are not an error.
    pub async fn drop_schema(url: &str, schema: &str) -> StoreResult<()> {
        check_schema_name(schema)?;
        let opts: PgConnectOptions = url.parse()?;
        let mut conn = opts.connect().await?;
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
        )))
        .execute(&mut conn)
        .await?;
        conn.close().await?;
        Ok(())
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.write.close().await;
    }
}

/// Schema names are spliced into SQL (identifiers cannot be bound): plain identifiers only.
fn check_schema_name(schema: &str) -> StoreResult<()> {
    let mut chars = schema.chars();
    let ok = schema.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "schema name {schema:?}: use [a-z_][a-z0-9_]*, at most 63 characters"
        )))
    }
}
