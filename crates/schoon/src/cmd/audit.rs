//! `schoon audit verify`: re-computes the whole audit hash chain of a database and prints the
//! number of events and the chain head (the last event's id and hash), so an order's evidence
//! package (which names the head at the time of packaging) can be checked against it later.
//! Exits 1 naming the first event whose link or contents do not match.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use schoon_core::audit::{ChainError, GENESIS_HASH, chain_hash};
use store::Store;

/// Arguments of `schoon audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Data directory of the service (its `schoon.db`); default `./schoon-data`.
    #[arg(long, global = true, conflicts_with = "database")]
    pub data: Option<PathBuf>,
    /// Database to check instead: a SQLite file path or a `postgres://` URL.
    #[arg(long, global = true)]
    pub database: Option<String>,
    #[command(subcommand)]
    pub command: AuditCommand,
}

/// Audit-log commands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Re-compute the hash chain from the first event on.
    Verify,
}

/// What a complete, intact chain is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSummary {
    /// Events checked.
    pub events: u64,
    /// The last event's id and hash (None for an empty log).
    pub head: Option<(i64, String)>,
}

/// Events read per page (bounded memory on a long log).
const PAGE: u32 = 10_000;

/// Walks the whole chain; `Ok(Err(_))` names the first bad event.
pub async fn check_chain(store: &dyn Store) -> anyhow::Result<Result<ChainSummary, ChainError>> {
    let mut prev = GENESIS_HASH.to_string();
    let mut after = 0;
    let mut summary = ChainSummary {
        events: 0,
        head: None,
    };
    loop {
        let page = store
            .audit_events(after, PAGE)
            .await
            .context("reading audit events")?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for e in &page {
            if e.prev_hash != prev {
                return Ok(Err(ChainError::Link { id: e.id }));
            }
            let h = chain_hash(
                &e.at,
                e.tenant_id,
                &e.actor,
                &e.action,
                &e.subject,
                &e.details,
                &e.prev_hash,
            );
            if h != e.hash {
                return Ok(Err(ChainError::Content { id: e.id }));
            }
            prev = h;
            summary.events += 1;
            summary.head = Some((e.id, e.hash.clone()));
        }
    }
    Ok(Ok(summary))
}

/// Prints the outcome of [`check_chain`] and returns the exit code (1 on a broken chain).
pub async fn verify_and_print(store: &dyn Store) -> anyhow::Result<ExitCode> {
    match check_chain(store).await? {
        Ok(s) => {
            println!("audit chain intact: {} events", s.events);
            match s.head {
                Some((id, hash)) => println!("head: event {id} hash {hash}"),
                None => println!("head: none (empty log; genesis {GENESIS_HASH})"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let id = match e {
                ChainError::Link { id } | ChainError::Content { id } => id,
            };
            eprintln!("schoon: audit chain broken at event {id}: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// Runs `schoon audit`.
pub fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let spec = match (args.database, args.data) {
        (Some(db), _) => db,
        (None, data) => {
            let data = data.unwrap_or_else(|| PathBuf::from("schoon-data"));
            let db = data.join("schoon.db");
            // Verifying must never create an empty database and call it intact.
            anyhow::ensure!(db.exists(), "no database at {}", db.display());
            db.to_string_lossy().into_owned()
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let store = open(&spec).await?;
        match args.command {
            AuditCommand::Verify => verify_and_print(store.as_ref()).await,
        }
    })
}

async fn open(spec: &str) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    let is_postgres = spec.starts_with("postgres://") || spec.starts_with("postgresql://");
    let spec = if is_postgres {
        spec
    } else {
        let path = spec.strip_prefix("sqlite://").unwrap_or(spec);
        // Verifying must never create an empty database and call it intact.
        anyhow::ensure!(std::path::Path::new(path).exists(), "no database at {path}");
        path
    };
    store::open_database(spec)
        .await
        .context("opening the database")
}
