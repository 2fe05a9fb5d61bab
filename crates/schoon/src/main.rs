//! `schoon`: the command-line front of the schoon system.
//!
//! `main` only parses arguments and dispatches; each sub-command lives in its own module under `cmd/`.

mod cmd;
mod files;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// schoon — hash, match and take down known abuse material.
#[derive(Debug, Parser)]
#[command(name = "schoon", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Hash image files: PDQ (with quality) plus MD5, SHA-1 and SHA-256.
    Hash(cmd::hash::HashArgs),
    /// Build or inspect a match-index snapshot from hash-list files.
    #[command(subcommand)]
    Index(cmd::index::IndexCommand),
    /// Hash files (or read hashes from stdin) and match them against an index snapshot.
    Match(cmd::matching::MatchArgs),
    /// Run the hash-check service (API, admin API, metrics) on a data directory.
    Serve(cmd::serve::ServeArgs),
    /// Manage tenants, organisations, keys and hash lists directly on a data directory.
    Admin(cmd::admin::AdminArgs),
    /// Hit follow-up ("check op de hashcheck"): how organisations act on their hits.
    Followup(cmd::followup::FollowupArgs),
    /// File hotline reports (URLs) directly on a data directory.
    Report(cmd::report::ReportArgs),
    /// Attribution data: import an IP → AS table (iptoasn TSV or ASN MMDB) into the data directory.
    Attribution(cmd::attribution::AttributionArgs),
    /// The tamper-evident audit log: `schoon audit verify` re-computes the hash chain.
    Audit(cmd::audit::AuditArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Hash(args) => cmd::hash::run(args),
        Command::Index(cmd) => cmd::index::run(cmd),
        Command::Match(args) => cmd::matching::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Admin(args) => cmd::admin::run(args),
        Command::Followup(args) => cmd::followup::run(args),
        Command::Report(args) => cmd::report::run(args),
        Command::Attribution(args) => cmd::attribution::run(args),
        Command::Audit(args) => cmd::audit::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("schoon: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// A closed pipe (`schoon hash … | head`) is a normal way to stop reading, not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
