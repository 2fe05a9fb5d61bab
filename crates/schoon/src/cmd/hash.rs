//! `schoon hash`: PDQ and exact digests of image files, in parallel across cores.

use std::cell::RefCell;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::files;
use crate::output::{Format, HashRecord, HashWriter};

/// Arguments of `schoon hash`.
#[derive(Debug, Args)]
pub struct HashArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also print the 8 dihedral PDQ variants (original, rotate90, rotate180, rotate270, flipx, flipy,
    /// flipplus1, flipminus1).
    #[arg(long)]
    pub dihedral: bool,
    /// Files or directories (walked recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// Files are hashed in batches of this many so output keeps input order without holding everything.
const BATCH: usize = 256;

thread_local! {
    static HASHER: RefCell<media::MediaHasher> = RefCell::new(media::MediaHasher::new(media::Limits::default()));
}

pub fn run(args: HashArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let files = files::expand(&args.paths);
    let progress = progress_bar(files.len() as u64);
    let stdout = std::io::stdout().lock();
    let mut writer = HashWriter::new(args.format, std::io::BufWriter::new(stdout), args.dihedral)?;
    let mut failures: Vec<(PathBuf, String)> = Vec::new();
    let mut hashed = 0u64;

    for batch in files.chunks(BATCH) {
        let results: Vec<Result<HashRecord, (PathBuf, String)>> = batch
            .par_iter()
            .map(|entry| {
                let result = match entry {
                    Ok(path) => hash_path(path, args.dihedral).map_err(|e| (path.clone(), e)),
                    Err(e) => Err(e.clone()),
                };
                progress.inc(1);
                result
            })
            .collect();
        for result in results {
            match result {
                Ok(rec) => {
                    writer.write(&rec)?;
                    hashed += 1;
                }
                Err(failure) => failures.push(failure),
            }
        }
    }
    writer.flush()?;
    progress.finish_and_clear();

    for (path, reason) in &failures {
        eprintln!("schoon: {}: {reason}", path.display());
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "hashed {hashed} file(s), {} failed, in {secs:.2}s ({:.0} files/s)",
        failures.len(),
        hashed as f64 / secs.max(1e-9)
    );
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Hashes one file and shapes it for printing.
pub fn hash_path(path: &Path, dihedral: bool) -> Result<HashRecord, String> {
    let h = hash_file(path, dihedral)?;
    Ok(HashRecord {
        path: path.display().to_string(),
        width: h.width,
        height: h.height,
        quality: h.quality,
        pdq: h.pdq.to_hex(),
        md5: h.digests.md5_hex(),
        sha1: h.digests.sha1_hex(),
        sha256: h.digests.sha256_hex(),
        pdq_dihedral: h.dihedral.map(|d| d.iter().map(|x| x.to_hex()).collect()),
    })
}

/// Hashes one file with this thread's reusable hasher (decode limits included).
pub fn hash_file(path: &Path, dihedral: bool) -> Result<media::MediaHashes, String> {
    HASHER.with(|cell| {
        let mut hasher = cell.borrow_mut();
        let bytes =
            read_capped(path, hasher.limits().max_input_bytes).map_err(|e| format!("{e:#}"))?;
        hasher
            .hash_bytes(&bytes, dihedral)
            .map_err(|e| e.to_string())
    })
}

/// Reads a whole file, refusing (without reading it all) one larger than `max` bytes.
fn read_capped(path: &Path, max: u64) -> anyhow::Result<Vec<u8>> {
    let file = std::fs::File::open(path).context("cannot open")?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > max {
        anyhow::bail!("file is {len} bytes, over the {max}-byte limit");
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .context("cannot read")?;
    if bytes.len() as u64 > max {
        anyhow::bail!("file is over the {max}-byte limit");
    }
    Ok(bytes)
}

fn progress_bar(len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} files  {per_sec}  eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}
