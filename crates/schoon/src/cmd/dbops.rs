//! `schoon admin migrate` and `schoon admin backup`: database operations for running schoon
//! on one or several nodes (SQLite data directory or PostgreSQL).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

/// Where the database is: a `postgres://` URL or a SQLite file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// PostgreSQL connection URL.
    Postgres(String),
    /// SQLite database file.
    Sqlite(PathBuf),
}

impl Target {
    /// `--database` wins, then an explicit `--data`, then `SCHOON_DATABASE_URL`, then
    /// `./schoon-data/schoon.db` (the same default as `schoon serve`).
    pub fn resolve(database: Option<String>, data: Option<PathBuf>) -> Target {
        let spec = database
            .filter(|d| !d.trim().is_empty())
            .map(Ok)
            .or_else(|| data.map(Err))
            .or_else(|| {
                std::env::var("SCHOON_DATABASE_URL")
                    .ok()
                    .filter(|d| !d.trim().is_empty())
                    .map(Ok)
            })
            .unwrap_or_else(|| Err(PathBuf::from("schoon-data")));
        match spec {
            Ok(db) if server::config::is_postgres_url(&db) => Target::Postgres(db),
            Ok(db) => Target::Sqlite(PathBuf::from(db.strip_prefix("sqlite://").unwrap_or(&db))),
            Err(dir) => Target::Sqlite(dir.join("schoon.db")),
        }
    }

    /// What to pass to the store.
    fn spec(&self) -> String {
        match self {
            Target::Postgres(u) => u.clone(),
            Target::Sqlite(p) => p.to_string_lossy().into_owned(),
        }
    }
}

/// One row of sqlx's migration bookkeeping table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Migration number (file prefix).
    pub version: i64,
    /// Its description (file name without number).
    pub description: String,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
}

/// `schoon admin migrate`: opens the database (which applies every pending migration) and
/// prints the applied migration versions, then the schema version.
pub fn migrate(target: &Target) -> anyhow::Result<ExitCode> {
    if let Target::Sqlite(path) = target
        && let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    runtime()?.block_on(async {
        let spec = target.spec();
        open_and_close(target).await?;
        let applied = applied(target).await?;
        for m in &applied {
            println!("applied {:04} {}", m.version, m.description);
        }
        match applied.last() {
            Some(last) => println!(
                "schema version {} ({} migrations applied) on {}",
                last.version,
                applied.len(),
                server::app::redact_database(&spec)
            ),
            None => bail!("no migrations recorded after migrating"),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Opens the store (which runs the migrations) and closes it again.
async fn open_and_close(target: &Target) -> anyhow::Result<()> {
    match target {
        Target::Sqlite(path) => {
            let store = store::SqliteStore::open(path)
                .await
                .with_context(|| format!("opening {}", path.display()))?;
            store.close().await;
        }
        Target::Postgres(url) => {
            let store = store::PgStore::open(url)
                .await
                .with_context(|| format!("opening {}", server::app::redact_database(url)))?;
            store.close().await;
        }
    }
    Ok(())
}

/// Reads sqlx's `_sqlx_migrations` table: what the database itself says is applied.
async fn applied(target: &Target) -> anyhow::Result<Vec<Applied>> {
    const SQL: &str = "SELECT version, description FROM _sqlx_migrations \
                       WHERE success ORDER BY version";
    let rows: Vec<(i64, String)> = match target {
        Target::Sqlite(path) => {
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .read_only(true);
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts)
                .await?;
            let rows = sqlx::query_as(SQL).fetch_all(&pool).await?;
            pool.close().await;
            rows
        }
        Target::Postgres(url) => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await?;
            let rows = sqlx::query_as(SQL).fetch_all(&pool).await?;
            pool.close().await;
            rows
        }
    };
    Ok(rows
        .into_iter()
        .map(|(version, description)| Applied {
            version,
            description,
        })
        .collect())
}

/// `schoon admin backup DEST`: an online, consistent copy of a SQLite database (the service may
/// keep running). For PostgreSQL it prints the `pg_dump` command to use and exits 2.
pub fn backup(target: &Target, dest: &Path) -> anyhow::Result<ExitCode> {
    let path = match target {
        Target::Postgres(url) => {
            eprintln!(
                "schoon: {} is PostgreSQL: back it up with pg_dump (password from PGPASSWORD or \
                 ~/.pgpass), restore with pg_restore:",
                server::app::redact_database(url)
            );
            println!("{}", pg_dump_command(url, dest));
            return Ok(ExitCode::from(2));
        }
        Target::Sqlite(path) => path,
    };
    // Backing up must never create an empty database and call it a backup.
    if !path.exists() {
        bail!("no database at {}", path.display());
    }
    if dest.exists() {
        bail!("{} exists; a backup never overwrites", dest.display());
    }
    runtime()?.block_on(async {
        let store = store::SqliteStore::open(path)
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        let r = store
            .backup_to(dest)
            .await
            .with_context(|| format!("backing up to {}", dest.display()));
        store.close().await;
        r?;
        let bytes = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
        println!(
            "backup of {} written to {} ({bytes} bytes)",
            path.display(),
            dest.display()
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// `pg_dump --format=custom --file DEST URL`, the URL without its password, shell-quoted.
pub fn pg_dump_command(url: &str, dest: &Path) -> String {
    format!(
        "pg_dump --format=custom --file {} {}",
        shell_quote(&dest.to_string_lossy()),
        shell_quote(&without_password(url))
    )
}

/// Drops `:password` from the user-info part of a URL.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{scheme}://{user}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

/// Single-quotes for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_dump_command_drops_the_password_and_quotes() {
        assert_eq!(
            pg_dump_command(
                "postgres://u:s3cret@db:5432/schoon?sslmode=require",
                Path::new("/b/x y.dump")
            ),
            "pg_dump --format=custom --file '/b/x y.dump' 'postgres://u@db:5432/schoon?sslmode=require'"
        );
        assert_eq!(
            without_password("postgresql://postgres@127.0.0.1/test"),
            "postgresql://postgres@127.0.0.1/test"
        );
    }

    #[test]
    fn target_prefers_database_then_data() {
        assert_eq!(
            Target::resolve(Some("postgres://h/d".into()), Some("x".into())),
            Target::Postgres("postgres://h/d".into())
        );
        assert_eq!(
            Target::resolve(None, Some("dir".into())),
            Target::Sqlite(PathBuf::from("dir/schoon.db"))
        );
        assert_eq!(
            Target::resolve(Some("/tmp/a.db".into()), None),
            Target::Sqlite(PathBuf::from("/tmp/a.db"))
        );
    }
}
