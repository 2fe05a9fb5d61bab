//! The PostgreSQL implementation of [`Store`], for several nodes sharing one database.
//!
//! The same SQL as SQLite (`src/sql/`, compiled here against the PostgreSQL types). Reads run
//! in parallel on a pool. Write transactions first take one transaction-scoped advisory lock,
//! so writes are serialised exactly as SQLite serialises them: the audit log stays one hash
//! chain, and the read-then-write steps in `src/sql/` need no extra locking. Job claims use
//! `FOR UPDATE SKIP LOCKED` with leases, so a dead worker's jobs return after the lease.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::StoreResult;

pub(crate) type Backend = PgStore;
pub(crate) type Db = sqlx::Postgres;
pub(crate) type Conn = sqlx::PgConnection;
pub(crate) type DbRow = sqlx::postgres::PgRow;
/// Which SQL dialect the shared code speaks (for the few spots where they differ).
pub(crate) const DIALECT: crate::Dialect = crate::Dialect::Postgres;

/// Key of the advisory lock every write transaction holds ("schoon" in ASCII).
const WRITE_LOCK_KEY: i64 = 0x7363_686f_6f6e;

#[path = "sql/common.rs"]
#[macro_use]
mod common;
#[path = "sql/accounts.rs"]
mod accounts;
#[path = "sql/followup.rs"]
pub(crate) mod followup;
#[path = "sql/manage.rs"]
mod manage;
#[path = "sql/casework.rs"]
mod casework;
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
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.write.close().await;
    }
}
