//! `schoon match`: hash files (or read hashes from stdin) and look them up in an index snapshot.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use index::{Digest, Index, Signal, SignalKind};
use pdq::Hash256;
use rayon::prelude::*;
use serde::Serialize;

use crate::cmd::hash::hash_file;
use crate::files;
use crate::output::Format;

/// Arguments of `schoon match`.
#[derive(Debug, Args)]
pub struct MatchArgs {
    /// The index snapshot (from `schoon index build`).
    #[arg(long)]
    pub index: PathBuf,
    /// PDQ match radius: Hamming distance <= N counts as a match (Meta's default 31).
    #[arg(long, default_value_t = 31, value_parser = clap::value_parser!(u32).range(0..=256))]
    pub radius: u32,
    /// PDQ hashes of quality below this are not matched (Meta recommends 50); exact digests still are.
    #[arg(long, default_value_t = 50)]
    pub min_quality: u8,
    /// Also match the 7 rotated/flipped variants of each image.
    #[arg(long)]
    pub dihedral: bool,
    /// Read hashes from stdin, one per line (`HEX` or `TYPE HEX`; bare 64 digits are PDQ), instead of files.
    #[arg(long, conflicts_with = "paths")]
    pub hashes: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Files or directories to hash and match.
    #[arg(required_unless_present = "hashes")]
    pub paths: Vec<PathBuf>,
}

/// One output row: a query and (if any) one entry it matched.
#[derive(Debug, Clone, Serialize)]
struct MatchRow {
    /// The file, or `stdin:LINE` for `--hashes`.
    input: String,
    /// The query's signal type and value.
    query_type: &'static str,
    query: String,
    quality: Option<u8>,
    matched: bool,
    list: Option<String>,
    entry: Option<u32>,
    signal_type: Option<&'static str>,
    signal: Option<String>,
    distance: Option<u32>,
    /// Which dihedral variant matched (`original` unless `--dihedral`).
    variant: Option<&'static str>,
    category: Option<String>,
    source: Option<String>,
}

const CSV_COLUMNS: [&str; 13] = [
    "input",
    "query_type",
    "query",
    "quality",
    "matched",
    "list",
    "entry",
    "signal_type",
    "signal",
    "distance",
    "variant",
    "category",
    "source",
];

/// What one input asks the index.
struct Query {
    input: String,
    /// PDQ hash, its quality (unknown for hashes read from stdin) and, with `--dihedral`, all 8 variants.
    pdq: Option<(Hash256, Option<u8>, Option<[Hash256; 8]>)>,
    digests: Vec<Digest>,
}

pub fn run(args: MatchArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let index = Index::load(&args.index)
        .with_context(|| format!("cannot load {}", args.index.display()))?;
    let mut failures: Vec<(String, String)> = Vec::new();
    let queries: Vec<Query> = if args.hashes {
        read_stdin_queries(&mut failures)?
    } else {
        let files = files::expand(&args.paths);
        let results: Vec<Result<Query, (String, String)>> = files
            .par_iter()
            .map(|entry| match entry {
                Ok(path) => {
                    let h = hash_file(path, args.dihedral)
                        .map_err(|e| (path.display().to_string(), e))?;
                    Ok(Query {
                        input: path.display().to_string(),
                        pdq: Some((h.pdq, Some(h.quality), h.dihedral)),
                        digests: vec![
                            Digest::Md5(h.digests.md5),
                            Digest::Sha1(h.digests.sha1),
                            Digest::Sha256(h.digests.sha256),
                        ],
                    })
                }
                Err((path, e)) => Err((path.display().to_string(), e.clone())),
            })
            .collect();
        results
            .into_iter()
            .filter_map(|r| r.map_err(|f| failures.push(f)).ok())
            .collect()
    };

    let mut out = RowWriter::new(
        args.format,
        std::io::BufWriter::new(std::io::stdout().lock()),
    )?;
    let (mut inputs_matched, mut total_matches) = (0usize, 0usize);
    for q in &queries {
        let rows = match_query(&index, q, &args);
        let hits = rows.iter().filter(|r| r.matched).count();
        total_matches += hits;
        inputs_matched += usize::from(hits > 0);
        for row in &rows {
            out.write(row)?;
        }
    }
    out.flush()?;
    for (input, reason) in &failures {
        eprintln!("schoon: {input}: {reason}");
    }
    eprintln!(
        "{} input(s), {inputs_matched} matched ({total_matches} match(es)), {} failed, in {:.2}s",
        queries.len(),
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    // As grep does: 0 = something matched, 1 = nothing matched, 2 = some input failed.
    Ok(if !failures.is_empty() {
        ExitCode::from(2)
    } else if inputs_matched > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Flattened CSV row (the csv crate does not take `Option<&'static str>` columns in order otherwise).
#[derive(Serialize)]
struct CsvRow<'a> {
    input: &'a str,
    query_type: &'a str,
    query: &'a str,
    quality: Option<u8>,
    matched: bool,
    list: Option<&'a str>,
    entry: Option<u32>,
    signal_type: Option<&'a str>,
    signal: Option<&'a str>,
    distance: Option<u32>,
    variant: Option<&'a str>,
    category: Option<&'a str>,
    source: Option<&'a str>,
}

impl<'a> From<&'a MatchRow> for CsvRow<'a> {
    fn from(r: &'a MatchRow) -> Self {
        CsvRow {
            input: &r.input,
            query_type: r.query_type,
            query: &r.query,
            quality: r.quality,
            matched: r.matched,
            list: r.list.as_deref(),
            entry: r.entry,
            signal_type: r.signal_type,
            signal: r.signal.as_deref(),
            distance: r.distance,
            variant: r.variant,
            category: r.category.as_deref(),
            source: r.source.as_deref(),
        }
    }
}

/// Prints rows in the chosen format (CSV header up front).
enum RowWriter<W: Write> {
    Text(W),
    Csv(Box<csv::Writer<W>>),
    Json(W),
}

impl<W: Write> RowWriter<W> {
    fn new(format: Format, out: W) -> anyhow::Result<Self> {
        Ok(match format {
            Format::Text => RowWriter::Text(out),
            Format::Json => RowWriter::Json(out),
            Format::Csv => {
                let mut w = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(out);
                w.write_record(CSV_COLUMNS)?;
                RowWriter::Csv(Box::new(w))
            }
        })
    }

    fn write(&mut self, row: &MatchRow) -> anyhow::Result<()> {
        match self {
            RowWriter::Csv(w) => w.serialize(CsvRow::from(row))?,
            RowWriter::Json(out) => {
                serde_json::to_writer(&mut *out, row)?;
                out.write_all(b"\n")?;
            }
            RowWriter::Text(out) => write_text(out, row)?,
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        match self {
            RowWriter::Csv(w) => w.flush()?,
            RowWriter::Text(out) | RowWriter::Json(out) => out.flush()?,
        }
        Ok(())
    }
}

fn write_text(out: &mut impl Write, r: &MatchRow) -> std::io::Result<()> {
    if r.matched {
        writeln!(
            out,
            "{}  MATCH {} {}  list {}  entry {}  distance {}{}{}",
            r.input,
            r.signal_type.unwrap_or("?"),
            r.signal.as_deref().unwrap_or(""),
            r.list.as_deref().unwrap_or("?"),
            r.entry.map(|e| e.to_string()).unwrap_or_default(),
            r.distance.unwrap_or(0),
            r.variant
                .filter(|v| *v != "original")
                .map(|v| format!("  variant {v}"))
                .unwrap_or_default(),
            r.category
                .as_deref()
                .map(|c| format!("  category {c}"))
                .unwrap_or_default(),
        )
    } else {
        let q = r
            .quality
            .map(|q| format!("  quality {q}"))
            .unwrap_or_default();
        writeln!(out, "{}  no match{q}", r.input)
    }
}

fn match_query(index: &Index, q: &Query, args: &MatchArgs) -> Vec<MatchRow> {
    let (query_type, query, quality) = match (&q.pdq, q.digests.first()) {
        (Some((h, quality, _)), _) => ("pdq", h.to_hex(), *quality),
        (None, Some(d)) => (digest_kind(d).name(), digest_hex(d), None),
        (None, None) => ("pdq", String::new(), None),
    };
    let base = MatchRow {
        input: q.input.clone(),
        query_type,
        query,
        quality,
        matched: false,
        list: None,
        entry: None,
        signal_type: None,
        signal: None,
        distance: None,
        variant: None,
        category: None,
        source: None,
    };
    let mut rows = Vec::new();
    let mut push = |entry: u32, distance: u32, variant: u8| {
        if let Some(info) = index.entry(entry) {
            let signal = match info.kind {
                SignalKind::Pdq => index.pdq_hash(entry).map(|h| h.to_hex()),
                _ => q
                    .digests
                    .iter()
                    .find(|d| digest_kind(d) == info.kind)
                    .map(digest_hex),
            };
            rows.push(MatchRow {
                matched: true,
                list: Some(info.list.to_string()),
                entry: Some(entry),
                signal_type: Some(info.kind.name()),
                signal,
                distance: Some(distance),
                variant: Some(pdq::DIHEDRAL_NAMES[usize::from(variant) % 8]),
                category: info.category.map(str::to_string),
                source: info.source.map(str::to_string),
                ..base.clone()
            });
        }
    };
    for d in &q.digests {
        for id in index.match_digest(d) {
            push(id, 0, 0);
        }
    }
    if let Some((hash, quality, variants)) = &q.pdq
        && quality.is_none_or(|q| q >= args.min_quality)
    {
        match variants {
            Some(v) if args.dihedral => {
                for hit in index.match_pdq_dihedral(v, args.radius) {
                    push(hit.entry, hit.distance, hit.variant);
                }
            }
            _ => {
                for hit in index.match_pdq(hash, args.radius) {
                    push(hit.entry, hit.distance, 0);
                }
            }
        }
    }
    if rows.is_empty() {
        rows.push(base);
    }
    rows
}

fn digest_kind(d: &Digest) -> SignalKind {
    match d {
        Digest::Md5(_) => SignalKind::Md5,
        Digest::Sha1(_) => SignalKind::Sha1,
        Digest::Sha256(_) => SignalKind::Sha256,
    }
}

fn digest_hex(d: &Digest) -> String {
    match d {
        Digest::Md5(b) => hex::encode(b),
        Digest::Sha1(b) => hex::encode(b),
        Digest::Sha256(b) => hex::encode(b),
    }
}

/// Parses `HEX` or `TYPE HEX` lines from stdin. Bare 32/40/64 digits are md5/sha1/pdq. A PDQ hash read
/// from stdin has no known quality, so the quality gate does not apply to it.
fn read_stdin_queries(failures: &mut Vec<(String, String)>) -> anyhow::Result<Vec<Query>> {
    let mut queries = Vec::new();
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.context("cannot read stdin")?;
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let input = format!("stdin:{}", n + 1);
        let (kind, value) = match text.split_once(char::is_whitespace) {
            Some((t, v)) => match SignalKind::from_name(t) {
                Some(k) => (k, v.trim()),
                None => {
                    failures.push((input, format!("unknown signal type {t:?}")));
                    continue;
                }
            },
            None => match text.len() {
                32 => (SignalKind::Md5, text),
                40 => (SignalKind::Sha1, text),
                64 => (SignalKind::Pdq, text),
                len => {
                    failures.push((
                        input,
                        format!("cannot tell the hash type from {len} characters"),
                    ));
                    continue;
                }
            },
        };
        match Signal::parse(kind, value) {
            Ok(Signal::Pdq(h)) => queries.push(Query {
                input,
                pdq: Some((h, None, None)),
                digests: vec![],
            }),
            Ok(Signal::Md5(b)) => queries.push(Query {
                input,
                pdq: None,
                digests: vec![Digest::Md5(b)],
            }),
            Ok(Signal::Sha1(b)) => queries.push(Query {
                input,
                pdq: None,
                digests: vec![Digest::Sha1(b)],
            }),
            Ok(Signal::Sha256(b)) => queries.push(Query {
                input,
                pdq: None,
                digests: vec![Digest::Sha256(b)],
            }),
            Ok(Signal::PhotoDna(_)) => failures.push((input, "PhotoDNA cannot be matched".into())),
            Err(e) => failures.push((input, e.to_string())),
        }
    }
    Ok(queries)
}
