//! The SQLite implementation of [`Store`].
//!
//! WAL mode (readers never wait for the writer), a busy timeout, a pool of readers and a
//! single-connection write pool: SQLite has one writer anyway, and queueing writers in the pool
//! avoids `SQLITE_BUSY` storms. Write transactions start with `BEGIN IMMEDIATE` so that another
//! process (`schoon admin` on the same data directory) is serialised with us up front rather
//! than failing at commit.
//!
//! The SQL itself lives in `src/sql/` and is compiled once here and once in
//! [`crate::postgres`], against the aliases below.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::{StoreError, StoreResult};

pub(crate) type Backend = SqliteStore;
#[allow(dead_code)]
pub(crate) type Db = sqlx::Sqlite;
pub(crate) type Conn = sqlx::SqliteConnection;
pub(crate) type DbRow = sqlx::sqlite::SqliteRow;
/// Which SQL dialect the shared code speaks (for the few spots where they differ).
#[allow(dead_code)]
pub(crate) const DIALECT: crate::Dialect = crate::Dialect::Sqlite;

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

/// SQLite-backed store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) read: SqlitePool,
    pub(crate) write: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and runs the migrations.
    pub async fn open(path: &Path) -> StoreResult<SqliteStore> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            // 64 MiB page cache per connection: list imports touch B-tree pages all over
            .pragma("cache_size", "-65536")
            .foreign_keys(true);
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts.read_only(true))
            .await?;
        Ok(SqliteStore { read, write })
    }

    pub(crate) async fn begin_write(
        &self,
    ) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.write.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Writes a consistent copy of the database to `dest` while the store stays in use
    /// (`VACUUM INTO` on a read connection: a snapshot, writers are not blocked). Refuses an
    /// existing `dest` rather than overwrite it.
    pub async fn backup_to(&self, dest: &Path) -> StoreResult<()> {
        if dest.exists() {
            return Err(StoreError::Conflict(format!(
                "backup destination {} already exists",
                dest.display()
            )));
        }
        let dest = dest.to_str().ok_or_else(|| {
            StoreError::Invalid(format!(
                "backup destination {} is not UTF-8",
                dest.display()
            ))
        })?;
        sqlx::query("VACUUM INTO $1")
            .bind(dest)
            .execute(&self.read)
            .await?;
        Ok(())
    }

    /// Closes both pools (lets tests delete the directory).
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}
