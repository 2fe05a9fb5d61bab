//! `schoon report add URL…`: files reports directly on a data directory (like `schoon admin`).
//! A running `schoon serve` on that directory picks up the processing jobs from the queue.
//! Reports are audited as `cli:<user>` with the source `internal` unless told otherwise.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use schoon_core::report::SourceKind;
use store::{Actor, ReportStore, SqliteStore, Store};

/// Arguments of `schoon report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Data directory of the service; default `./schoon-data`.
    #[arg(long, global = true)]
    pub data: Option<PathBuf>,
    #[command(subcommand)]
    pub command: ReportCommand,
}

/// Report commands.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// File one report per URL (all or nothing); prints one JSON line per URL.
    Add {
        /// Tenant name (default: the first tenant).
        #[arg(long)]
        tenant: Option<String>,
        /// Note stored with every report.
        #[arg(long)]
        note: Option<String>,
        /// Where the URLs were seen.
        #[arg(long)]
        referer: Option<String>,
        /// Source: internal, hotline, police, trusted_flagger or public.
        #[arg(long, default_value = "internal")]
        source: String,
        /// A URL reported again within this many hours while its report is open joins it.
        #[arg(long, default_value_t = 24 * 7)]
        dedupe_hours: i64,
        /// The URLs.
        #[arg(required = true)]
        urls: Vec<String>,
    },
}

/// Runs a report command.
pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let data = args.data.unwrap_or_else(|| PathBuf::from("schoon-data"));
    if !data.join("schoon.db").exists() {
        bail!(
            "no database in {} (start `schoon serve` once first)",
            data.display()
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let store = SqliteStore::open(&data.join("schoon.db"))
            .await
            .context("opening the database")?;
        let code = exec(&store, args.command).await;
        store.close().await;
        code
    })
}

async fn exec(store: &SqliteStore, cmd: ReportCommand) -> anyhow::Result<ExitCode> {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let actor = Actor(format!("cli:{user}"));
    match cmd {
        ReportCommand::Add {
            tenant,
            note,
            referer,
            source,
            dedupe_hours,
            urls,
        } => {
            let kind: SourceKind = source
                .parse()
                .map_err(|e| anyhow::anyhow!("--source: {e}"))?;
            let tenants = store.tenants().await?;
            let t = match &tenant {
                Some(name) => tenants.iter().find(|t| &t.name == name),
                None => tenants.iter().min_by_key(|t| t.id),
            }
            .with_context(|| format!("no tenant {}", tenant.as_deref().unwrap_or("")))?;
            let mut reports = Vec::new();
            let mut bad = 0;
            for (i, u) in urls.iter().enumerate() {
                match server::reports::build_report(
                    u,
                    referer.clone(),
                    note.clone(),
                    kind,
                    None,
                    None,
                ) {
                    Ok(r) => reports.push(r),
                    Err(e) => {
                        bad += 1;
                        eprintln!("schoon: URL {} ({u}): {e}", i + 1);
                    }
                }
            }
            if bad > 0 {
                eprintln!("schoon: {bad} invalid URL(s); nothing was filed");
                return Ok(ExitCode::from(1));
            }
            let since = schoon_core::audit::now() - chrono_hours(dedupe_hours);
            let out = store.submit_reports(&actor, t.id, reports, since).await?;
            for s in out {
                println!("{}", serde_json::to_string(&s)?);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn chrono_hours(h: i64) -> chrono::Duration {
    chrono::Duration::hours(h.max(0))
}
