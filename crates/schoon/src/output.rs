//! Output formats shared by `schoon hash` and `schoon match`.
//!
//! The CSV and JSON shapes are a contract other tools read: column names and order only ever grow at the end.

use std::io::Write;

use clap::ValueEnum;
use serde::Serialize;

/// How results are printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One human-readable line per file.
    Text,
    /// A header line, then `path,width,height,quality,pdq,md5,sha1,sha256` (lowercase hex).
    Csv,
    /// One JSON object per line with the same fields as CSV.
    Json,
}

/// The hashes of one file, as printed.
#[derive(Debug, Clone, Serialize)]
pub struct HashRecord {
    pub path: String,
    pub width: u32,
    pub height: u32,
    pub quality: u8,
    pub pdq: String,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdq_dihedral: Option<Vec<String>>,
}

/// The CSV header for `schoon hash`; with `--dihedral` the 7 other variants follow as extra columns.
pub fn hash_csv_header(dihedral: bool) -> Vec<String> {
    let mut cols: Vec<String> = [
        "path", "width", "height", "quality", "pdq", "md5", "sha1", "sha256",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if dihedral {
        cols.extend(pdq::DIHEDRAL_NAMES[1..].iter().map(|n| format!("pdq_{n}")));
    }
    cols
}

/// Writes records in one of the formats (the CSV header is written once, up front).
pub enum HashWriter<W: Write> {
    Text(W),
    Csv(Box<csv::Writer<W>>),
    Json(W),
}

impl<W: Write> HashWriter<W> {
    pub fn new(format: Format, out: W, dihedral: bool) -> anyhow::Result<Self> {
        Ok(match format {
            Format::Text => HashWriter::Text(out),
            Format::Json => HashWriter::Json(out),
            Format::Csv => {
                let mut csv = csv::WriterBuilder::new().from_writer(out);
                csv.write_record(hash_csv_header(dihedral))?;
                HashWriter::Csv(Box::new(csv))
            }
        })
    }

    pub fn write(&mut self, rec: &HashRecord) -> anyhow::Result<()> {
        match self {
            HashWriter::Csv(csv) => {
                let mut row = vec![
                    rec.path.clone(),
                    rec.width.to_string(),
                    rec.height.to_string(),
                    rec.quality.to_string(),
                    rec.pdq.clone(),
                    rec.md5.clone(),
                    rec.sha1.clone(),
                    rec.sha256.clone(),
                ];
                if let Some(d) = &rec.pdq_dihedral {
                    row.extend(d.iter().skip(1).cloned());
                }
                csv.write_record(row)?;
            }
            HashWriter::Json(out) => {
                serde_json::to_writer(&mut *out, rec)?;
                out.write_all(b"\n")?;
            }
            HashWriter::Text(out) => {
                writeln!(
                    out,
                    "{}  {}x{}  quality {:>3}  pdq {}  md5 {}  sha1 {}  sha256 {}",
                    rec.path,
                    rec.width,
                    rec.height,
                    rec.quality,
                    rec.pdq,
                    rec.md5,
                    rec.sha1,
                    rec.sha256
                )?;
                if let Some(d) = &rec.pdq_dihedral {
                    for (name, h) in pdq::DIHEDRAL_NAMES.iter().zip(d).skip(1) {
                        writeln!(out, "    {name:<11} {h}")?;
                    }
                }
            }
        }
        Ok(())
    }

    pub fn flush(&mut self) -> anyhow::Result<()> {
        match self {
            HashWriter::Csv(csv) => csv.flush()?,
            HashWriter::Text(out) | HashWriter::Json(out) => out.flush()?,
        }
        Ok(())
    }
}
