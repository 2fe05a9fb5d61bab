//! `schoon serve`: the hash-check service (API, admin API, metrics) on an embedded SQLite
//! database in a data directory, or on PostgreSQL (`--database postgres://…`); `--role` splits
//! it into API and worker processes that share one database.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

/// Arguments of `schoon serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Data directory (database and state); default `./schoon-data`.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// TOML configuration file (overridden by `SCHOON_*` environment variables and flags).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on, e.g. `127.0.0.1:8080` (port 0 picks a free port).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Database: `postgres://user@host/db` or a SQLite file path (default `<data>/schoon.db`).
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// What this process runs: `api` (HTTP API + UI), `worker` (jobs; only /healthz,
    /// /readyz and /metrics over HTTP) or `all` (default).
    #[arg(long, value_name = "ROLE")]
    pub role: Option<server::config::Role>,
}

/// Runs the service until Ctrl-C or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config =
        server::Config::load(args.config.as_deref()).context("loading configuration")?;
    if let Some(d) = args.data {
        config.data_dir = d;
    }
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(db) = args.database {
        config.database_url = Some(db);
    }
    if let Some(r) = args.role {
        config.role = r;
    }
    server::init_logging(&config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(server::run(
        config,
        |b| {
            println!(
                "schoon: first start: created tenant {:?} (id {}) and an admin token.\n\
                 Admin token (shown only this once; keep it safe):\n\n    {}\n\n\
                 Use it as `Authorization: Bearer <token>` on /api/admin/…, e.g.\n    \
                 curl -H 'Authorization: Bearer <token>' http://<listen>/api/admin/tenants\n\
                 More admin tokens: `schoon admin --data <dir> token create`\n\
                 (on PostgreSQL: `schoon admin --database <url> token create`).",
                b.tenant.name, b.tenant.id, b.admin.token
            );
        },
        |addr| println!("schoon: listening on http://{addr}"),
    ))?;
    Ok(ExitCode::SUCCESS)
}
