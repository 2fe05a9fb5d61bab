//! [`PrefixTable`]: an importable IP → AS table (iptoasn-style TSV), kept as compact sorted
//! ranges with binary search, plus a fast-loading binary form and per-AS announced space;
//! and [`CdnList`]: the same structure mapping prefixes to a CDN name.
//!
//! # iptoasn TSV
//!
//! One range per line, tab-separated: `range_start range_end AS_number country_code
//! AS_description`, e.g. `192.0.2.0\t192.0.2.255\t64500\tNL\tEXAMPLE-AS Example Hosting B.V.`.
//! IPv4 and IPv6 lines may be in the same file or in separate ones (import both into one
//! builder). AS number `0` means "not routed" and is skipped (counted in the report). A country
//! of `None`/`ZZ` means unknown. Blank lines and lines starting with `#` are ignored. Files may
//! be gzip-compressed (recognised by their magic bytes, not the name).
//!
//! # Nesting
//!
//! Ranges may nest; the most specific (smallest) range containing an address wins, see the
//! `ranges` module. Per-AS announced space counts every address once, for the AS that wins it.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::IpAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::asn::{AnnouncedSpace, AsnError, AsnHit, AsnLookup, clean_country};
use crate::prefix::{Key, Prefix};
use crate::ranges::{Family, RawRange};

/// The AS data one range points to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AsRecord {
    /// The AS number.
    pub asn: u32,
    /// The AS name / organisation as the source spells it (may be empty).
    pub name: String,
    /// Upper-case ISO country code, when known.
    pub country: Option<String>,
}

/// One rejected input line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadLine {
    /// 1-based line number in the file.
    pub line: u64,
    /// What was wrong.
    pub reason: String,
}

/// What an import did: the line-numbered report DESIGN.md rule 6 asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Lines read (including blank and comment lines).
    pub lines: u64,
    /// Ranges added.
    pub imported: u64,
    /// Lines skipped because the range is not routed (AS 0).
    pub unrouted: u64,
    /// Number of bad lines.
    pub bad_count: u64,
    /// The first bad lines (at most [`MAX_REPORTED_BAD_LINES`]), with line numbers.
    pub bad: Vec<BadLine>,
}

/// How many bad lines an [`ImportReport`] lists in full.
pub const MAX_REPORTED_BAD_LINES: usize = 1000;

impl ImportReport {
    /// Whether every line was understood.
    pub fn is_clean(&self) -> bool {
        self.bad_count == 0
    }

    fn bad(&mut self, line: u64, reason: impl Into<String>) {
        self.bad_count += 1;
        if self.bad.len() < MAX_REPORTED_BAD_LINES {
            self.bad.push(BadLine {
                line,
                reason: reason.into(),
            });
        }
    }
}

/// Why an import or a table file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// Reading the file failed.
    #[error("cannot read {what}: {source}")]
    Io {
        /// Which file or stream.
        what: String,
        /// The I/O error.
        source: io::Error,
    },
    /// Strict import and at least one line was bad; nothing was applied.
    #[error("{} bad line(s), first at line {}: {}", report.bad_count,
        report.bad.first().map_or(0, |b| b.line),
        report.bad.first().map_or("", |b| b.reason.as_str()))]
    BadLines {
        /// The full report.
        report: Box<ImportReport>,
    },
    /// A compact table file is not valid.
    #[error("invalid table file: {0}")]
    Format(String),
}

/// Collects ranges, then [`PrefixTableBuilder::build`]s the lookup structure.
#[derive(Debug, Default)]
pub struct PrefixTableBuilder {
    records: Vec<AsRecord>,
    record_ids: HashMap<AsRecord, u32>,
    v4: Vec<RawRange<u32>>,
    v6: Vec<RawRange<u128>>,
}

/// A range that cannot be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeError {
    /// Start and end are of different families.
    #[error("start and end are of different address families")]
    MixedFamilies,
    /// End before start.
    #[error("range end is before its start")]
    Reversed,
    /// More distinct AS records than fit the table.
    #[error("too many AS records")]
    TooManyRecords,
}

impl PrefixTableBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    fn record_id(&mut self, record: AsRecord) -> Result<u32, RangeError> {
        if let Some(&id) = self.record_ids.get(&record) {
            return Ok(id);
        }
        let id = u32::try_from(self.records.len()).map_err(|_| RangeError::TooManyRecords)?;
        self.records.push(record.clone());
        self.record_ids.insert(record, id);
        Ok(id)
    }

    /// Adds the range `start..=end` (any family; IPv4-mapped IPv6 counts as IPv4).
    pub fn add_range(
        &mut self,
        start: IpAddr,
        end: IpAddr,
        record: AsRecord,
    ) -> Result<(), RangeError> {
        match (start.to_canonical(), end.to_canonical()) {
            (IpAddr::V4(s), IpAddr::V4(e)) => {
                let (s, e) = (u32::from(s), u32::from(e));
                if e < s {
                    return Err(RangeError::Reversed);
                }
                let value = self.record_id(record)?;
                self.v4.push(RawRange {
                    start: s,
                    end: e,
                    value,
                });
            }
            (IpAddr::V6(s), IpAddr::V6(e)) => {
                let (s, e) = (u128::from(s), u128::from(e));
                if e < s {
                    return Err(RangeError::Reversed);
                }
                let value = self.record_id(record)?;
                self.v6.push(RawRange {
                    start: s,
                    end: e,
                    value,
                });
            }
            _ => return Err(RangeError::MixedFamilies),
        }
        Ok(())
    }

    /// Adds a CIDR prefix.
    pub fn add_prefix(&mut self, prefix: Prefix, record: AsRecord) -> Result<(), RangeError> {
        let (s, e) = prefix.range();
        self.add_range(s, e, record)
    }

    /// Reads iptoasn-style TSV (see the module docs) from `reader`, gzip or plain. Bad lines
    /// are reported and skipped; use [`PrefixTable::import_files`] for the all-or-nothing
    /// variant.
    pub fn import_tsv<R: Read>(&mut self, reader: R) -> io::Result<ImportReport> {
        let mut reader = maybe_gunzip(reader)?;
        let mut report = ImportReport::default();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            if reader.read_until(b'\n', &mut buf)? == 0 {
                break;
            }
            report.lines += 1;
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_tsv_line(line) {
                Ok(None) => report.unrouted += 1,
                Ok(Some((s, e, rec))) => match self.add_range(s, e, rec) {
                    Ok(()) => report.imported += 1,
                    Err(err) => report.bad(report.lines, err.to_string()),
                },
                Err(reason) => report.bad(report.lines, reason),
            }
        }
        Ok(report)
    }

    /// Builds the lookup structure.
    pub fn build(self) -> PrefixTable {
        PrefixTable::from_parts(self.records, Family::build(self.v4), Family::build(self.v6))
    }
}

/// Parses one TSV line; `Ok(None)` for an unrouted range.
fn parse_tsv_line(line: &str) -> Result<Option<(IpAddr, IpAddr, AsRecord)>, String> {
    let mut f = line.splitn(5, '\t');
    let start = f.next().unwrap_or("");
    let end = f.next().ok_or("expected 5 tab-separated fields, found 1")?;
    let asn = f.next().ok_or("expected 5 tab-separated fields, found 2")?;
    let country = f.next().ok_or("expected 5 tab-separated fields, found 3")?;
    let name = f.next().unwrap_or("");
    let start: IpAddr = start
        .trim()
        .parse()
        .map_err(|_| format!("invalid range start {start:?}"))?;
    let end: IpAddr = end
        .trim()
        .parse()
        .map_err(|_| format!("invalid range end {end:?}"))?;
    let asn = asn.trim();
    let asn: u32 = asn
        .strip_prefix("AS")
        .unwrap_or(asn)
        .parse()
        .map_err(|_| format!("invalid AS number {asn:?}"))?;
    if start.to_canonical().is_ipv4() != end.to_canonical().is_ipv4() {
        return Err(RangeError::MixedFamilies.to_string());
    }
    if asn == 0 {
        return Ok(None);
    }
    Ok(Some((
        start,
        end,
        AsRecord {
            asn,
            name: name.trim().to_owned(),
            country: clean_country(country),
        },
    )))
}

/// Wraps `reader` in a gzip decoder when it starts with the gzip magic bytes.
fn maybe_gunzip<'a, R: Read + 'a>(reader: R) -> io::Result<Box<dyn BufRead + 'a>> {
    let mut buffered = BufReader::with_capacity(64 * 1024, reader);
    let head = buffered.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            64 * 1024,
            flate2::bufread::MultiGzDecoder::new(buffered),
        )))
    } else {
        Ok(Box::new(buffered))
    }
}

/// An IP → AS table in memory. Immutable once built; share it in an `Arc`.
#[derive(Debug, Clone)]
pub struct PrefixTable {
    records: Vec<AsRecord>,
    v4: Family<u32>,
    v6: Family<u128>,
    announced: HashMap<u32, AnnouncedSpace>,
}

const MAGIC: &[u8; 8] = b"SCHNPFX1";

impl PrefixTable {
    fn from_parts(records: Vec<AsRecord>, v4: Family<u32>, v6: Family<u128>) -> Self {
        let mut v4_count: HashMap<u32, u64> = HashMap::new();
        let mut v6_count: HashMap<u32, u128> = HashMap::new();
        for (s, e, r) in v4.pieces() {
            if let Some(rec) = records.get(r.value as usize) {
                *v4_count.entry(rec.asn).or_default() += u64::from(e - s) + 1;
            }
        }
        for (s, e, r) in v6.pieces() {
            if let Some(rec) = records.get(r.value as usize) {
                let n = v6_count.entry(rec.asn).or_default();
                *n = n.saturating_add((e - s).saturating_add(1));
            }
        }
        let mut announced: HashMap<u32, AnnouncedSpace> = HashMap::new();
        for (asn, n) in v4_count {
            announced.entry(asn).or_default().ipv4_addresses = n;
        }
        for (asn, n) in v6_count {
            // Rounded up to whole /48s (2^80 addresses each).
            let blocks = n.div_ceil(1u128 << 80);
            announced.entry(asn).or_default().ipv6_slash48s =
                u64::try_from(blocks).unwrap_or(u64::MAX);
        }
        Self {
            records,
            v4,
            v6,
            announced,
        }
    }

    /// Imports iptoasn-style TSV files (plain or gzip) into one table, all or nothing: any bad
    /// line fails the import with the full line-numbered report, unless `strict` is false, in
    /// which case bad lines are skipped and listed in the returned reports.
    pub fn import_files<P: AsRef<Path>>(
        paths: &[P],
        strict: bool,
    ) -> Result<(Self, Vec<ImportReport>), TableError> {
        let mut builder = PrefixTableBuilder::new();
        let mut reports = Vec::new();
        for p in paths {
            let p = p.as_ref();
            let io_err = |source| TableError::Io {
                what: p.display().to_string(),
                source,
            };
            let file = File::open(p).map_err(io_err)?;
            let report = builder.import_tsv(file).map_err(io_err)?;
            tracing::info!(
                file = %p.display(),
                lines = report.lines,
                imported = report.imported,
                bad = report.bad_count,
                "prefix table import"
            );
            if strict && !report.is_clean() {
                return Err(TableError::BadLines {
                    report: Box::new(report),
                });
            }
            reports.push(report);
        }
        Ok((builder.build(), reports))
    }

    /// The winning (most specific) range for `ip`: `(start, end, record)`.
    pub fn range_of(&self, ip: IpAddr) -> Option<(IpAddr, IpAddr, &AsRecord)> {
        match ip.to_canonical() {
            IpAddr::V4(a) => {
                let r = self.v4.lookup(u32::from(a))?;
                Some((
                    r.start.to_ip(),
                    r.end.to_ip(),
                    self.records.get(r.value as usize)?,
                ))
            }
            IpAddr::V6(a) => {
                let r = self.v6.lookup(u128::from(a))?;
                Some((
                    r.start.to_ip(),
                    r.end.to_ip(),
                    self.records.get(r.value as usize)?,
                ))
            }
        }
    }

    /// The AS and prefix of `ip` (see [`AsnHit::prefix`]).
    pub fn lookup(&self, ip: IpAddr) -> Option<AsnHit> {
        let (start, end, rec) = self.range_of(ip)?;
        let prefix = Prefix::largest_within(ip.to_canonical(), start, end)?;
        Some(AsnHit {
            prefix,
            asn: rec.asn,
            as_name: (!rec.name.is_empty()).then(|| rec.name.clone()),
            country: rec.country.clone(),
        })
    }

    /// The space announced by `asn` in this table.
    pub fn announced_space(&self, asn: u32) -> Option<AnnouncedSpace> {
        self.announced.get(&asn).copied()
    }

    /// Number of IPv4 and IPv6 ranges.
    pub fn len(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }

    /// Whether the table has no ranges.
    pub fn is_empty(&self) -> bool {
        self.v4.len() == 0 && self.v6.len() == 0
    }

    /// Number of distinct AS records.
    pub fn record_count(&self) -> usize {
        self.records.len()
    }

    /// Writes the compact binary form: magic, counts, the AS records once each, then the
    /// sorted ranges (IPv4 as 4-byte, IPv6 as 16-byte integers), then a CRC-32. Loading it
    /// skips parsing text and sorting.
    pub fn write_compact<W: Write>(&self, mut w: W) -> io::Result<()> {
        let mut out = Vec::with_capacity(
            32 + self.records.len() * 24 + self.v4.len() * 12 + self.v6.len() * 36,
        );
        out.extend_from_slice(MAGIC);
        for n in [self.records.len(), self.v4.len(), self.v6.len()] {
            let n = u32::try_from(n).map_err(|_| io::Error::other("table too large"))?;
            out.extend_from_slice(&n.to_le_bytes());
        }
        for rec in &self.records {
            out.extend_from_slice(&rec.asn.to_le_bytes());
            let cc = rec.country.as_deref().unwrap_or("").as_bytes();
            out.extend_from_slice(&[
                cc.first().copied().unwrap_or(0),
                cc.get(1).copied().unwrap_or(0),
            ]);
            let name = rec.name.as_bytes();
            let name = &name[..name.len().min(usize::from(u16::MAX))];
            let name = match std::str::from_utf8(name) {
                Ok(_) => name,
                Err(e) => &name[..e.valid_up_to()],
            };
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(name);
        }
        for r in self.v4.ranges() {
            out.extend_from_slice(&r.start.to_le_bytes());
            out.extend_from_slice(&r.end.to_le_bytes());
            out.extend_from_slice(&r.value.to_le_bytes());
        }
        for r in self.v6.ranges() {
            out.extend_from_slice(&r.start.to_le_bytes());
            out.extend_from_slice(&r.end.to_le_bytes());
            out.extend_from_slice(&r.value.to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        w.write_all(&out)
    }

    /// Reads the form written by [`PrefixTable::write_compact`], checking every count, index
    /// and the checksum.
    pub fn read_compact(bytes: &[u8]) -> Result<Self, TableError> {
        let bad = |m: &str| TableError::Format(m.to_owned());
        if bytes.len() < MAGIC.len() + 16 || &bytes[..8] != MAGIC {
            return Err(bad("not a schoon prefix table (bad magic)"));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let crc = u32::from_le_bytes(crc.try_into().map_err(|_| bad("short"))?);
        if crc32fast::hash(body) != crc {
            return Err(bad("checksum mismatch"));
        }
        let mut r = Cursor { b: body, pos: 8 };
        let n_rec = r.u32()? as usize;
        let n_v4 = r.u32()? as usize;
        let n_v6 = r.u32()? as usize;
        let mut records = Vec::with_capacity(n_rec.min(body.len() / 8));
        for _ in 0..n_rec {
            let asn = r.u32()?;
            let cc = r.take(2)?;
            let country = if cc == [0, 0] {
                None
            } else {
                Some(String::from_utf8_lossy(cc).into_owned())
            };
            let len = usize::from(r.u16()?);
            let name = std::str::from_utf8(r.take(len)?)
                .map_err(|_| bad("AS name is not UTF-8"))?
                .to_owned();
            records.push(AsRecord { asn, name, country });
        }
        let mut v4 = Vec::with_capacity(n_v4.min(body.len() / 12));
        for _ in 0..n_v4 {
            let start = r.u32()?;
            let end = r.u32()?;
            let value = r.u32()?;
            if end < start || value as usize >= records.len() {
                return Err(bad("invalid IPv4 range"));
            }
            v4.push(RawRange { start, end, value });
        }
        let mut v6 = Vec::with_capacity(n_v6.min(body.len() / 36));
        for _ in 0..n_v6 {
            let start = r.u128()?;
            let end = r.u128()?;
            let value = r.u32()?;
            if end < start || value as usize >= records.len() {
                return Err(bad("invalid IPv6 range"));
            }
            v6.push(RawRange { start, end, value });
        }
        if r.pos != body.len() {
            return Err(bad("trailing bytes"));
        }
        Ok(Self::from_parts(
            records,
            Family::build(v4),
            Family::build(v6),
        ))
    }

    /// Writes the compact form to a file (via a temporary file and rename, so a reader never
    /// sees half a table).
    pub fn save(&self, path: &Path) -> Result<(), TableError> {
        let io_err = |source| TableError::Io {
            what: path.display().to_string(),
            source,
        };
        let tmp = path.with_extension("tmp");
        let mut f = File::create(&tmp).map_err(io_err)?;
        self.write_compact(&mut f).map_err(io_err)?;
        f.sync_all().map_err(io_err)?;
        std::fs::rename(&tmp, path).map_err(io_err)
    }

    /// Loads a file written by [`PrefixTable::save`].
    pub fn load(path: &Path) -> Result<Self, TableError> {
        let bytes = std::fs::read(path).map_err(|source| TableError::Io {
            what: path.display().to_string(),
            source,
        })?;
        Self::read_compact(&bytes)
    }
}

impl AsnLookup for PrefixTable {
    fn lookup_asn(&self, ip: IpAddr) -> Result<Option<AsnHit>, AsnError> {
        Ok(self.lookup(ip))
    }

    fn announced(&self, asn: u32) -> Option<AnnouncedSpace> {
        self.announced_space(asn)
    }

    fn source_name(&self) -> &str {
        "prefix-table"
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TableError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| TableError::Format("truncated".into()))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, TableError> {
        let mut a = [0u8; 2];
        a.copy_from_slice(self.take(2)?);
        Ok(u16::from_le_bytes(a))
    }
    fn u32(&mut self) -> Result<u32, TableError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn u128(&mut self) -> Result<u128, TableError> {
        let mut a = [0u8; 16];
        a.copy_from_slice(self.take(16)?);
        Ok(u128::from_le_bytes(a))
    }
}

/// Prefixes of content delivery networks and proxies, so that a host behind one is recognised
/// and the notice can go to the CDN as a proxy, asking for the origin.
///
/// Format, one entry per line: `CIDR name…` (whitespace-separated, the rest of the line is the
/// CDN name), or an iptoasn TSV line whose description is the CDN name. `#` comments and blank
/// lines are ignored; gzip is recognised. Nested prefixes: the most specific wins.
#[derive(Debug, Clone, Default)]
pub struct CdnList {
    names: Vec<String>,
    v4: Family<u32>,
    v6: Family<u128>,
}

impl CdnList {
    /// Parses a CDN list; bad lines are reported (and skipped).
    pub fn import<R: Read>(reader: R) -> io::Result<(Self, ImportReport)> {
        let mut reader = maybe_gunzip(reader)?;
        let mut report = ImportReport::default();
        let mut names: Vec<String> = Vec::new();
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            if reader.read_until(b'\n', &mut buf)? == 0 {
                break;
            }
            report.lines += 1;
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parsed = if line.split('\t').count() >= 5 {
                parse_tsv_line(line).and_then(|r| {
                    r.map(|(s, e, rec)| (s, e, rec.name))
                        .ok_or_else(|| "AS 0 in a CDN list".to_owned())
                })
            } else {
                parse_cidr_line(line)
            };
            let (s, e, name) = match parsed {
                Ok(x) => x,
                Err(reason) => {
                    report.bad(report.lines, reason);
                    continue;
                }
            };
            if name.is_empty() {
                report.bad(report.lines, "missing CDN name");
                continue;
            }
            let value = match ids.get(&name) {
                Some(&v) => v,
                None => {
                    let v = u32::try_from(names.len()).unwrap_or(u32::MAX);
                    names.push(name.clone());
                    ids.insert(name, v);
                    v
                }
            };
            match (s.to_canonical(), e.to_canonical()) {
                (IpAddr::V4(s), IpAddr::V4(e)) if s <= e => v4.push(RawRange {
                    start: u32::from(s),
                    end: u32::from(e),
                    value,
                }),
                (IpAddr::V6(s), IpAddr::V6(e)) if s <= e => v6.push(RawRange {
                    start: u128::from(s),
                    end: u128::from(e),
                    value,
                }),
                _ => {
                    report.bad(report.lines, "invalid range");
                    continue;
                }
            }
            report.imported += 1;
        }
        Ok((
            Self {
                names,
                v4: Family::build(v4),
                v6: Family::build(v6),
            },
            report,
        ))
    }

    /// Loads a CDN list file, all or nothing (any bad line is an error with the report).
    pub fn load(path: &Path) -> Result<Self, TableError> {
        let io_err = |source| TableError::Io {
            what: path.display().to_string(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        let (list, report) = Self::import(file).map_err(io_err)?;
        if !report.is_clean() {
            return Err(TableError::BadLines {
                report: Box::new(report),
            });
        }
        Ok(list)
    }

    /// The CDN whose prefix contains `ip`.
    pub fn cdn_of(&self, ip: IpAddr) -> Option<&str> {
        let value = match ip.to_canonical() {
            IpAddr::V4(a) => self.v4.lookup(u32::from(a))?.value,
            IpAddr::V6(a) => self.v6.lookup(u128::from(a))?.value,
        };
        self.names.get(value as usize).map(String::as_str)
    }

    /// Number of prefixes.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn parse_cidr_line(line: &str) -> Result<(IpAddr, IpAddr, String), String> {
    let (cidr, name) = line
        .split_once(char::is_whitespace)
        .ok_or_else(|| "expected `CIDR name`".to_owned())?;
    let prefix: Prefix = cidr
        .parse()
        .map_err(|e: crate::prefix::InvalidPrefix| e.to_string())?;
    let (s, e) = prefix.range();
    Ok((s, e, name.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn tsv_line_parsing() {
        let (s, e, rec) = parse_tsv_line("1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET")
            .expect("ok")
            .expect("routed");
        assert_eq!((s, e), (ip("1.0.0.0"), ip("1.0.0.255")));
        assert_eq!(rec.asn, 13335);
        assert_eq!(rec.country.as_deref(), Some("US"));
        assert!(
            parse_tsv_line("1.0.0.0\t1.0.0.255\t0\tNone\tNot routed")
                .expect("ok")
                .is_none()
        );
        let none = parse_tsv_line("2001:db8::\t2001:db8::ffff\t64500\tNone\tX").expect("ok");
        assert_eq!(none.expect("routed").2.country, None);
        assert!(parse_tsv_line("1.0.0.0\t::1\t1\tUS\tX").is_err());
        assert!(parse_tsv_line("1.0.0.0 1.0.0.255 1 US X").is_err());
    }
}
