//! `schoon followup report`: the hotline's view of how organisations follow up their hits
//! (acknowledged share, time to acknowledge and to verified removal, verification pass rate,
//! re-occurrence, overdue), read directly from a data directory's database.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};
use server::followup::{MetricsOut, metrics_csv, metrics_for};
use store::{SqliteStore, Store};

/// Arguments of `schoon followup`.
#[derive(Debug, Args)]
pub struct FollowupArgs {
    /// Data directory of the service; default `./schoon-data`.
    #[arg(long, global = true)]
    pub data: Option<PathBuf>,
    #[command(subcommand)]
    pub command: FollowupCommand,
}

/// Follow-up commands.
#[derive(Debug, Subcommand)]
pub enum FollowupCommand {
    /// Follow-up metrics per organisation over a period.
    Report {
        /// Tenant id (needed only when the instance has several tenants).
        #[arg(long)]
        tenant: Option<i64>,
        /// One organisation, by id or name.
        #[arg(long)]
        org: Option<String>,
        /// Hits recorded on or after this date (YYYY-MM-DD or RFC 3339); default 30 days ago.
        #[arg(long)]
        since: Option<String>,
        /// Hits recorded before this date; default now.
        #[arg(long)]
        until: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON document.
    Json,
    /// CSV with a header.
    Csv,
}

fn parse_time(what: &str, s: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(d.to_utc());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .with_context(|| format!("--{what} must be YYYY-MM-DD or an RFC 3339 time, got {s:?}"))
}

/// Runs a follow-up command.
pub fn run(args: FollowupArgs) -> anyhow::Result<ExitCode> {
    let data = args.data.unwrap_or_else(|| PathBuf::from("schoon-data"));
    let db = data.join("schoon.db");
    if !db.exists() {
        bail!("no database at {}", db.display());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let store = SqliteStore::open(&db)
            .await
            .context("opening the database")?;
        let r = exec(&store, args.command).await;
        store.close().await;
        r
    })
}

async fn exec(store: &SqliteStore, cmd: FollowupCommand) -> anyhow::Result<ExitCode> {
    let FollowupCommand::Report {
        tenant,
        org,
        since,
        until,
        format,
    } = cmd;
    let tenant = match tenant {
        Some(t) => t,
        None => match store.tenants().await?.as_slice() {
            [one] => one.id,
            [] => bail!("the instance has no tenant yet"),
            _ => bail!("several tenants: say which with --tenant"),
        },
    };
    let org_id = match org {
        None => None,
        Some(o) => {
            let orgs = store.orgs(tenant).await?;
            let found = orgs
                .iter()
                .find(|x| x.name == o || o.parse::<i64>().is_ok_and(|id| id == x.id));
            match found {
                Some(x) => Some(x.id),
                None => bail!("no organisation {o:?} in tenant {tenant}"),
            }
        }
    };
    let until = match until {
        Some(s) => parse_time("until", &s)?,
        None => schoon_core::audit::now() + Duration::microseconds(1),
    };
    let since = match since {
        Some(s) => parse_time("since", &s)?,
        None => until - Duration::days(30),
    };
    if since >= until {
        bail!("--since must be before --until");
    }
    let m = metrics_for(store, tenant, org_id, since, until).await?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&m)?),
        Format::Csv => print!("{}", metrics_csv(&m)),
        Format::Table => print!("{}", table(&m)),
    }
    Ok(ExitCode::SUCCESS)
}

fn table(m: &MetricsOut) -> String {
    let pct = |v: Option<f64>| {
        v.map(|x| format!("{:.0}%", x * 100.0))
            .unwrap_or("-".into())
    };
    let hrs = |v: Option<f64>| v.map(|x| format!("{x:.1}h")).unwrap_or("-".into());
    let mut rows = vec![[
        "organisation".to_string(),
        "hits".into(),
        "acked".into(),
        "ack p50".into(),
        "ack p90".into(),
        "removed p50".into(),
        "removed p90".into(),
        "verified".into(),
        "reoccurred".into(),
        "overdue".into(),
    ]];
    for o in &m.organisations {
        let x = &o.metrics;
        rows.push([
            o.org.clone(),
            x.hits.to_string(),
            pct(x.acknowledged_share),
            hrs(x.ack_hours_median),
            hrs(x.ack_hours_p90),
            hrs(x.removal_hours_median),
            hrs(x.removal_hours_p90),
            pct(x.verification_pass_rate),
            pct(x.reoccurrence_rate),
            x.overdue.to_string(),
        ]);
    }
    let mut widths = [0usize; 10];
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = format!(
        "follow-up {} .. {}\n",
        m.since.format("%Y-%m-%d %H:%M"),
        m.until.format("%Y-%m-%d %H:%M")
    );
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if m.organisations.is_empty() {
        out.push_str("(no hits in this period)\n");
    }
    out
}
