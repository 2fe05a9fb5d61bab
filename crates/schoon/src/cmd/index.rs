//! `schoon index build|info`: hash-list files in, one match-index snapshot out.

use std::fs::File;
use std::io::{BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use index::{IndexBuilder, ListFormat, ReadOptions, SignalKind, read_list_with_progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `schoon index …`
#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Build a match-index snapshot from hash-list files (each file becomes a list named after it).
    Build(BuildArgs),
    /// Describe a snapshot: format version, build time, entries per list and type.
    Info(InfoArgs),
}

/// Arguments of `schoon index build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Where to write the snapshot (written atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Input format; `auto` decides from the first line (a CSV header or hex lines).
    #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
    pub format: InputFormat,
    /// Signal type of bare hex lines; needed for 64-digit values (sha256 or pdq).
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Skip bad lines (each is reported) instead of refusing the whole import.
    #[arg(long)]
    pub skip_bad: bool,
    /// Hash-list files.
    #[arg(required = true)]
    pub lists: Vec<PathBuf>,
}

/// Arguments of `schoon index info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The snapshot file.
    pub file: PathBuf,
}

/// List file formats accepted by `index build`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    Auto,
    /// One hash per line, optionally prefixed by its type (`pdq <hex>`).
    Lines,
    /// CSV with a header (`signal_type,signal,…`, HMA/threatexchange exports, NCMEC/IWF-style columns).
    Csv,
}

/// At most this many bad lines are printed when an import is refused.
const MAX_REPORTED: usize = 50;

pub fn run(cmd: IndexCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        IndexCommand::Build(args) => build(args),
        IndexCommand::Info(args) => info(args),
    }
}

fn build(args: BuildArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let kind = match &args.kind {
        Some(name) => Some(
            SignalKind::from_name(name).with_context(|| format!("unknown signal type {name:?}"))?,
        ),
        None => None,
    };
    let opts = ReadOptions {
        format: match args.format {
            InputFormat::Auto => ListFormat::Auto,
            InputFormat::Lines => ListFormat::HexLines,
            InputFormat::Csv => ListFormat::Csv,
        },
        kind,
    };
    let mut builder = IndexBuilder::new();
    let mut bad: Vec<String> = Vec::new();
    let mut bad_count = 0usize;
    for path in &args.lists {
        let name = list_name(path);
        builder.add_list(&name);
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let bar = progress_bar(len, &name);
        let reader = read_list_with_progress(BufReader::new(file), opts, {
            let bar = bar.clone();
            move |bytes| bar.set_position(bytes)
        });
        for record in reader {
            match record {
                Ok(entry) => {
                    builder
                        .add(&name, &entry)
                        .with_context(|| format!("{}:{}", path.display(), entry.line))?;
                }
                Err(err) => {
                    bad_count += 1;
                    if bad.len() < MAX_REPORTED {
                        bad.push(format!("{}:{}", path.display(), err));
                    }
                }
            }
        }
        bar.finish_and_clear();
    }
    for line in &bad {
        eprintln!("schoon: {line}");
    }
    if bad_count > bad.len() {
        eprintln!("schoon: … and {} more bad line(s)", bad_count - bad.len());
    }
    if bad_count > 0 && !args.skip_bad {
        bail!(
            "{bad_count} bad line(s): nothing written (fix them, or pass --skip-bad to leave them out)"
        );
    }
    let index = builder.finish().context("cannot build the index")?;
    index
        .save(&args.out)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    let info = index.info();
    eprintln!(
        "indexed {} entries ({} pdq, {} md5, {} sha1, {} sha256; {} photodna kept but not matchable; {} bad line(s) skipped) \
         from {} list(s) into {} in {:.2}s",
        info.entries,
        info.pdq,
        info.md5,
        info.sha1,
        info.sha256,
        info.photodna_skipped,
        bad_count,
        args.lists.len(),
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn info(args: InfoArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let index = index::Index::load(&args.file)
        .with_context(|| format!("cannot load {}", args.file.display()))?;
    let load_secs = started.elapsed().as_secs_f64();
    let info = index.info();
    if args.json {
        let lists: Vec<_> = info
            .lists
            .iter()
            .map(|l| {
                serde_json::json!({
                    "name": l.name, "md5": l.md5, "sha1": l.sha1, "sha256": l.sha256, "pdq": l.pdq,
                    "photodna_skipped": l.photodna_skipped,
                })
            })
            .collect();
        let v = serde_json::json!({
            "file": args.file.display().to_string(),
            "version": info.version,
            "built_at": info.built_at,
            "entries": info.entries,
            "md5": info.md5, "sha1": info.sha1, "sha256": info.sha256, "pdq": info.pdq,
            "photodna_skipped": info.photodna_skipped,
            "memory_bytes": info.memory_bytes,
            "load_seconds": load_secs,
            "lists": lists,
        });
        println!("{v}");
    } else {
        println!("file:          {}", args.file.display());
        println!("format:        version {}", info.version);
        println!("built at:      {} (unix seconds)", info.built_at);
        println!(
            "entries:       {} ({} pdq, {} md5, {} sha1, {} sha256)",
            info.entries, info.pdq, info.md5, info.sha1, info.sha256
        );
        println!(
            "photodna:      {} kept, not matchable",
            info.photodna_skipped
        );
        println!(
            "memory:        {} bytes ({:.1} per entry)",
            info.memory_bytes,
            per_entry(&info)
        );
        println!("loaded in:     {:.3}s", load_secs);
        for l in &info.lists {
            println!(
                "list {:<20} {} pdq, {} md5, {} sha1, {} sha256, {} photodna skipped",
                l.name, l.pdq, l.md5, l.sha1, l.sha256, l.photodna_skipped
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn per_entry(info: &index::IndexInfo) -> f64 {
    info.memory_bytes as f64 / (info.entries.max(1)) as f64
}

/// A list is named after its file, without directories or extension.
fn list_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn progress_bar(len: u64, name: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar.set_message(name.to_string());
    bar
}
