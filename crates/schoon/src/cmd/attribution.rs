//! `schoon attribution import FILE`: turns an IP → AS data set into the file `schoon serve`
//! loads for attribution.
//!
//! * `--format tsv` (iptoasn-style `start end ASN country description`, plain or gzip):
//!   parsed, checked line by line and written in the compact binary form
//!   ([`attribution::PrefixTable::save`]), which loads in milliseconds at start-up.
//! * `--format mmdb` (a MaxMind-format ASN database such as GeoLite2-ASN): validated (opened,
//!   every network walked) and copied into place.
//!
//! The import is all or nothing by default: one bad line fails it with the line numbers, and the
//! file in the data directory is only replaced (atomically) by a complete table.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};

/// Where the server looks for the compiled prefix table, relative to the data directory.
pub const PREFIX_TABLE_FILE: &str = "attribution/prefixes.bin";
/// Where the server looks for an MMDB ASN database, relative to the data directory.
pub const MMDB_FILE: &str = "attribution/asn.mmdb";

/// Arguments of `schoon attribution`.
#[derive(Debug, Args)]
pub struct AttributionArgs {
    #[command(subcommand)]
    pub command: AttributionCommand,
}

/// Attribution data commands.
#[derive(Debug, Subcommand)]
pub enum AttributionCommand {
    /// Compile an IP → AS data set into the data directory's prefix table.
    Import(ImportArgs),
}

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// iptoasn-style TSV (plain or gzip).
    Tsv,
    /// MaxMind DB with AS records (GeoLite2-ASN, IPinfo Lite, …).
    Mmdb,
}

/// Arguments of `schoon attribution import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The data set file.
    pub file: PathBuf,
    /// Input format; default: `mmdb` for `*.mmdb` files, else `tsv`.
    #[arg(long, value_enum)]
    pub format: Option<InputFormat>,
    /// Data directory of the service; default `./schoon-data`.
    #[arg(long = "data-dir", alias = "data")]
    pub data_dir: Option<PathBuf>,
    /// Write here instead of the data directory's standard location.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Skip bad TSV lines (listed on stderr) instead of failing the import.
    #[arg(long)]
    pub lenient: bool,
}

/// Runs an attribution command.
pub fn run(args: AttributionArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        AttributionCommand::Import(a) => import(a),
    }
}

/// What an import produced (printed as a summary).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// IPv4 ranges (TSV) or networks (MMDB).
    pub ipv4: u64,
    /// IPv6 ranges or networks.
    pub ipv6: u64,
    /// Distinct AS numbers.
    pub asns: u64,
}

fn import(a: ImportArgs) -> anyhow::Result<ExitCode> {
    let format = a.format.unwrap_or_else(|| {
        if a.file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("mmdb"))
        {
            InputFormat::Mmdb
        } else {
            InputFormat::Tsv
        }
    });
    let data = a.data_dir.unwrap_or_else(|| PathBuf::from("schoon-data"));
    let out = a.output.unwrap_or_else(|| {
        data.join(match format {
            InputFormat::Tsv => PREFIX_TABLE_FILE,
            InputFormat::Mmdb => MMDB_FILE,
        })
    });
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let counts = match format {
        InputFormat::Tsv => match import_tsv(&a.file, &out, a.lenient)? {
            Some(c) => c,
            None => return Ok(ExitCode::from(1)),
        },
        InputFormat::Mmdb => import_mmdb(&a.file, &out)?,
    };
    println!(
        "schoon: imported {}: {} IPv4 and {} IPv6 prefix ranges, {} ASNs -> {}",
        a.file.display(),
        counts.ipv4,
        counts.ipv6,
        counts.asns,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Imports a TSV file; `None` when bad lines made it fail (already reported on stderr).
fn import_tsv(file: &Path, out: &Path, lenient: bool) -> anyhow::Result<Option<Counts>> {
    let (table, reports) = match attribution::PrefixTable::import_files(&[file], !lenient) {
        Ok(r) => r,
        Err(attribution::TableError::BadLines { report }) => {
            for b in &report.bad {
                eprintln!("schoon: {}: line {}: {}", file.display(), b.line, b.reason);
            }
            if report.bad_count > report.bad.len() as u64 {
                eprintln!(
                    "schoon: … and {} more bad lines",
                    report.bad_count - report.bad.len() as u64
                );
            }
            eprintln!(
                "schoon: {} bad line(s) in {}; nothing was imported (use --lenient to skip them)",
                report.bad_count,
                file.display()
            );
            return Ok(None);
        }
        Err(e) => return Err(e).with_context(|| format!("importing {}", file.display())),
    };
    let mut unrouted = 0;
    for r in &reports {
        unrouted += r.unrouted;
        for b in &r.bad {
            eprintln!(
                "schoon: {}: line {}: {} (skipped)",
                file.display(),
                b.line,
                b.reason
            );
        }
    }
    if table.is_empty() {
        bail!("{} holds no routed range; nothing imported", file.display());
    }
    let (v4, v6) = table.len();
    let asns = count_tsv_asns(file)?;
    table
        .save(out)
        .with_context(|| format!("writing {}", out.display()))?;
    if unrouted > 0 {
        println!("schoon: {unrouted} unrouted range(s) (AS 0) skipped");
    }
    Ok(Some(Counts {
        ipv4: v4 as u64,
        ipv6: v6 as u64,
        asns,
    }))
}

/// Distinct routed AS numbers in a TSV file (a second, cheap pass: the table keeps records,
/// not a list of AS numbers). Lines the import rejected do not parse here either.
fn count_tsv_asns(file: &Path) -> anyhow::Result<u64> {
    let f = std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?;
    let mut reader = BufReader::new(f);
    let gz = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn BufRead> = if gz {
        Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(reader)))
    } else {
        Box::new(reader)
    };
    let mut asns = HashSet::new();
    for line in reader.split(b'\n') {
        let line = line.with_context(|| format!("reading {}", file.display()))?;
        let line = String::from_utf8_lossy(&line);
        if let Some(asn) = tsv_asn(&line) {
            asns.insert(asn);
        }
    }
    Ok(asns.len() as u64)
}

fn tsv_asn(line: &str) -> Option<u32> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() || line.starts_with('#') {
        return None;
    }
    let mut f = line.split('\t');
    let start: IpAddr = f.next()?.trim().parse().ok()?;
    let end: IpAddr = f.next()?.trim().parse().ok()?;
    if start.to_canonical().is_ipv4() != end.to_canonical().is_ipv4() {
        return None;
    }
    let asn = f.next()?.trim();
    let asn: u32 = asn.strip_prefix("AS").unwrap_or(asn).parse().ok()?;
    (asn != 0).then_some(asn)
}

#[derive(serde::Deserialize)]
struct MmdbRecord {
    autonomous_system_number: Option<u32>,
    asn: Option<String>,
}

/// Validates an MMDB ASN database by walking every network, then copies it into place.
fn import_mmdb(file: &Path, out: &Path) -> anyhow::Result<Counts> {
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .with_context(|| format!("reading {}", file.display()))?;
    // The server opens it this way; fail here, not at start-up.
    let db = attribution::MmdbAsn::from_bytes(bytes.clone())
        .map_err(|e| anyhow::anyhow!("{}: not a MaxMind DB: {e}", file.display()))?;
    let kind = db.database_type().to_owned();
    let reader = maxminddb::Reader::from_source(bytes.as_slice())
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let mut counts = Counts::default();
    let mut asns = HashSet::new();
    let networks = reader
        .networks(Default::default())
        .map_err(|e| anyhow::anyhow!("{}: cannot walk networks: {e}", file.display()))?;
    for (n, item) in networks.enumerate() {
        let item = item.map_err(|e| anyhow::anyhow!("{}: network {n}: {e}", file.display()))?;
        let net = item
            .network()
            .map_err(|e| anyhow::anyhow!("{}: network {n}: {e}", file.display()))?;
        let rec: Option<MmdbRecord> = item
            .decode()
            .map_err(|e| anyhow::anyhow!("{}: network {net}: bad record: {e}", file.display()))?;
        let asn = rec.and_then(|r| {
            r.autonomous_system_number.or_else(|| {
                let a = r.asn.as_deref()?.trim();
                a.strip_prefix("AS").unwrap_or(a).parse().ok()
            })
        });
        let Some(asn) = asn else { continue };
        asns.insert(asn);
        if net.ip().is_ipv4() {
            counts.ipv4 += 1;
        } else {
            counts.ipv6 += 1;
        }
    }
    if asns.is_empty() {
        bail!(
            "{} ({kind}) holds no AS record (autonomous_system_number or asn)",
            file.display()
        );
    }
    counts.asns = asns.len() as u64;
    let tmp = out.with_extension("tmp");
    std::fs::write(&tmp, &bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))?;
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::tsv_asn;

    #[test]
    fn asn_column_is_read_like_the_importer() {
        assert_eq!(
            tsv_asn("1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET"),
            Some(13335)
        );
        assert_eq!(
            tsv_asn("2001:db8::\t2001:db8::ffff\tAS64500\tNL\tx"),
            Some(64500)
        );
        assert_eq!(tsv_asn("0.0.0.0\t0.255.255.255\t0\tNone\tNot routed"), None);
        assert_eq!(tsv_asn("# comment"), None);
        assert_eq!(tsv_asn("1.0.0.0\t2001:db8::\t5\tUS\tmixed"), None);
    }
}
