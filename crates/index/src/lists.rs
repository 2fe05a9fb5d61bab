//! Hash-list import and export.
//!
//! Supported input formats (detected from the first non-blank line, or forced):
//!
//! * **Hex lines**: one hash per line; blank lines and `#` comments are skipped. The type
//!   comes from a `TYPE ` prefix (`pdq <hex>`, `md5 <hex>`, … — python-threatexchange's
//!   local-file format `signal_type signal`), else from the caller's type hint, else from
//!   the length: 32 hex digits = MD5, 40 = SHA-1. 64 digits are ambiguous (SHA-256 or PDQ)
//!   and refused unless the caller names the type.
//! * **CSV with a header naming a type column**: `signal_type,signal` plus optional
//!   `category`, `source`, `added_at` (our export format). The same reader accepts
//!   python-threatexchange's `tx dataset -P --csv` output
//!   (`collab,signal_type,signal_str,category,tags`: `collab` becomes the source, `tags`
//!   the category when there is no `category` column) and HMA-style
//!   `signal_type,signal_value` exports.
//! * **CSV with one column per hash type** (NCMEC / IWF style): columns such as `MD5`,
//!   `SHA1`/`SHA-1`, `SHA256`, `PDQ`, `PhotoDNA` plus optional category/source/date
//!   columns; every non-empty hash cell becomes one entry (same line number). PhotoDNA
//!   values are kept verbatim as [`Signal::PhotoDna`], which is never matched (the
//!   algorithm is proprietary).
//!
//! Type names (case-insensitive): `md5` (also `video_md5`, `photo_md5`, `file_md5`),
//! `sha1`, `sha256` (also `video_sha256`, `photo_sha256`), `pdq`, `photodna` (`pdna`).
//!
//! Parsing streams: memory stays constant whatever the file size (lines over 1 MiB are
//! reported as errors). Each bad line yields an `Err` with its 1-based line number and the
//! iterator goes on, so the caller decides between all-or-nothing and skip-bad. A
//! progress callback receives the number of bytes read so far.

use std::collections::VecDeque;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};

use pdq::Hash256;

/// The kinds of signal a list can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SignalKind {
    /// MD5 file digest.
    Md5,
    /// SHA-1 file digest.
    Sha1,
    /// SHA-256 file digest.
    Sha256,
    /// PDQ perceptual hash.
    Pdq,
    /// PhotoDNA hash (kept, never matched).
    PhotoDna,
}

impl SignalKind {
    /// Canonical lowercase name, as written by the exporter.
    pub fn name(self) -> &'static str {
        match self {
            SignalKind::Md5 => "md5",
            SignalKind::Sha1 => "sha1",
            SignalKind::Sha256 => "sha256",
            SignalKind::Pdq => "pdq",
            SignalKind::PhotoDna => "photodna",
        }
    }

    /// Parses a type name or one of its aliases (see the module docs).
    pub fn from_name(s: &str) -> Option<SignalKind> {
        let n: String = s
            .trim()
            .to_ascii_lowercase()
            .chars()
            .filter(|c| *c != '-' && *c != ' ')
            .collect();
        Some(match n.as_str() {
            "md5" | "video_md5" | "photo_md5" | "file_md5" | "md5hash" | "md5_hash" => {
                SignalKind::Md5
            }
            "sha1" | "sha_1" | "sha1hash" | "sha1_hash" | "file_sha1" => SignalKind::Sha1,
            "sha256" | "sha_256" | "video_sha256" | "photo_sha256" | "sha256hash"
            | "sha256_hash" | "file_sha256" => SignalKind::Sha256,
            "pdq" | "pdqhash" | "pdq_hash" => SignalKind::Pdq,
            "photodna" | "pdna" | "photo_dna" | "photodnahash" | "photodna_hash" => {
                SignalKind::PhotoDna
            }
            _ => return None,
        })
    }

    /// Number of hex digits of this kind (`None` for PhotoDNA).
    pub fn hex_len(self) -> Option<usize> {
        match self {
            SignalKind::Md5 => Some(32),
            SignalKind::Sha1 => Some(40),
            SignalKind::Sha256 | SignalKind::Pdq => Some(64),
            SignalKind::PhotoDna => None,
        }
    }
}

impl fmt::Display for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One signal value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// MD5 digest.
    Md5([u8; 16]),
    /// SHA-1 digest.
    Sha1([u8; 20]),
    /// SHA-256 digest.
    Sha256([u8; 32]),
    /// PDQ hash.
    Pdq(Hash256),
    /// PhotoDNA hash, verbatim (unsupported for matching).
    PhotoDna(String),
}

impl Signal {
    /// The signal's kind.
    pub fn kind(&self) -> SignalKind {
        match self {
            Signal::Md5(_) => SignalKind::Md5,
            Signal::Sha1(_) => SignalKind::Sha1,
            Signal::Sha256(_) => SignalKind::Sha256,
            Signal::Pdq(_) => SignalKind::Pdq,
            Signal::PhotoDna(_) => SignalKind::PhotoDna,
        }
    }

    /// Whether schoon can match this signal (everything but PhotoDNA).
    pub fn is_matchable(&self) -> bool {
        !matches!(self, Signal::PhotoDna(_))
    }

    /// The text form: lowercase hex, or the PhotoDNA value as given.
    pub fn value_text(&self) -> String {
        match self {
            Signal::Md5(b) => hex::encode(b),
            Signal::Sha1(b) => hex::encode(b),
            Signal::Sha256(b) => hex::encode(b),
            Signal::Pdq(h) => h.to_hex(),
            Signal::PhotoDna(s) => s.clone(),
        }
    }

    /// Parses `value` as a signal of `kind`.
    pub fn parse(kind: SignalKind, value: &str) -> Result<Signal, ListErrorKind> {
        let v = value.trim();
        if v.is_empty() {
            return Err(ListErrorKind::Empty);
        }
        fn arr<const N: usize>(v: &str, kind: SignalKind) -> Result<[u8; N], ListErrorKind> {
            if v.len() != 2 * N {
                return Err(ListErrorKind::WrongLength {
                    kind,
                    len: v.chars().count(),
                    expected: 2 * N,
                });
            }
            let mut out = [0u8; N];
            hex::decode_to_slice(v, &mut out)
                .map_err(|_| ListErrorKind::BadHex { value: clip(v) })?;
            Ok(out)
        }
        Ok(match kind {
            SignalKind::Md5 => Signal::Md5(arr::<16>(v, kind)?),
            SignalKind::Sha1 => Signal::Sha1(arr::<20>(v, kind)?),
            SignalKind::Sha256 => Signal::Sha256(arr::<32>(v, kind)?),
            SignalKind::Pdq => Signal::Pdq(Hash256::from_bytes(arr::<32>(v, kind)?)),
            SignalKind::PhotoDna => Signal::PhotoDna(v.to_string()),
        })
    }
}

/// One record of a hash list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEntry {
    /// The hash.
    pub signal: Signal,
    /// Category / classification as given by the list (e.g. `A`, `baseline`).
    pub category: Option<String>,
    /// Where the entry came from (list owner, collaboration, bank).
    pub source: Option<String>,
    /// When it was added, verbatim.
    pub added_at: Option<String>,
    /// 1-based line of the input it came from (0 if not read from a file).
    pub line: u64,
}

impl ListEntry {
    /// An entry with only a signal.
    pub fn new(signal: Signal) -> Self {
        ListEntry {
            signal,
            category: None,
            source: None,
            added_at: None,
            line: 0,
        }
    }
}

/// What is wrong with one line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ListErrorKind {
    /// Not hexadecimal.
    #[error("not a hex value: {value:?}")]
    BadHex {
        /// The value (shortened).
        value: String,
    },
    /// Right characters, wrong length for the type.
    #[error("a {kind} hash has {expected} hex digits, got {len}")]
    WrongLength {
        /// The expected type.
        kind: SignalKind,
        /// Characters found.
        len: usize,
        /// Characters expected.
        expected: usize,
    },
    /// A length that matches no type.
    #[error(
        "cannot tell the hash type from {len} characters (32 = md5, 40 = sha1; name the type for 64)"
    )]
    UnknownLength {
        /// Characters found.
        len: usize,
    },
    /// 64 hex digits without a type.
    #[error("64 hex digits can be sha256 or pdq: prefix the line with the type or pass the type")]
    Ambiguous64,
    /// An unknown type name.
    #[error("unknown signal type {0:?}")]
    UnknownType(String),
    /// A value of another type than the one required.
    #[error("expected a {expected} hash, the line says {found}")]
    TypeMismatch {
        /// Required type.
        expected: SignalKind,
        /// Type named on the line.
        found: SignalKind,
    },
    /// An empty value or a row without any hash.
    #[error("no hash on this line")]
    Empty,
    /// More fields than the format allows.
    #[error("unexpected text after the hash: {0:?}")]
    Extra(String),
    /// A required CSV field is missing.
    #[error("missing field {0}")]
    MissingField(&'static str),
    /// The CSV header names no known column layout.
    #[error(
        "unrecognised header {0:?} (expected signal_type,signal,... or hash columns such as md5,sha1,photodna)"
    )]
    UnknownHeader(String),
    /// A line longer than the 1 MiB limit.
    #[error("line longer than 1 MiB")]
    LineTooLong,
    /// Bytes that are not UTF-8.
    #[error("not valid UTF-8")]
    NotUtf8,
    /// CSV syntax (e.g. an unterminated quote).
    #[error("CSV syntax: {0}")]
    Csv(String),
    /// Reading failed; parsing stops.
    #[error("read error: {0}")]
    Io(String),
}

/// A bad line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct ListError {
    /// 1-based line number.
    pub line: u64,
    /// What is wrong.
    pub kind: ListErrorKind,
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

/// The input format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ListFormat {
    /// Decide from the first non-blank line.
    #[default]
    Auto,
    /// One hash per line, optionally `TYPE HASH`.
    HexLines,
    /// CSV with a header.
    Csv,
}

/// How to read a list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Input format.
    pub format: ListFormat,
    /// Type of unprefixed hex lines (`--type`); required for 64-digit values. When set,
    /// prefixed lines must name the same type.
    pub kind: Option<SignalKind>,
}

const MAX_LINE: usize = 1 << 20;

/// Counts bytes for the progress callback.
struct Counting<'a, R> {
    inner: R,
    total: u64,
    cb: Option<Box<dyn FnMut(u64) + 'a>>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total += n as u64;
        if let Some(cb) = &mut self.cb {
            cb(self.total);
        }
        Ok(n)
    }
}

type Src<'a> = Box<dyn BufRead + 'a>;

#[derive(Clone, Copy, Debug)]
enum Col {
    Typed { kind: usize, value: usize },
    PerKind,
}

struct CsvState<'a> {
    rdr: csv::Reader<Src<'a>>,
    layout: Col,
    hash_cols: Vec<(usize, SignalKind)>,
    category: Option<usize>,
    source: Option<usize>,
    added: Option<usize>,
    record: csv::ByteRecord,
}

enum State<'a> {
    Lines {
        src: Src<'a>,
        buf: Vec<u8>,
        line: u64,
    },
    Csv(Box<CsvState<'a>>),
    Done,
}

/// Streaming reader over the entries of a list: yields `Ok(entry)` or `Err(bad line)`.
pub struct ListReader<'a> {
    state: State<'a>,
    kind: Option<SignalKind>,
    pending: VecDeque<Result<ListEntry, ListError>>,
}

/// Reads a list from `r`.
pub fn read_list<'a, R: Read + 'a>(r: R, opts: ReadOptions) -> ListReader<'a> {
    ListReader::new(r, opts, None)
}

/// Reads a list from `r`, calling `progress(bytes_read_so_far)` as it goes.
pub fn read_list_with_progress<'a, R: Read + 'a>(
    r: R,
    opts: ReadOptions,
    progress: impl FnMut(u64) + 'a,
) -> ListReader<'a> {
    ListReader::new(r, opts, Some(Box::new(progress)))
}

fn norm_header(h: &str) -> String {
    h.trim_start_matches('\u{feff}')
        .trim()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

fn header_kind(n: &str) -> Option<SignalKind> {
    Some(match n {
        "md5" | "md5hash" | "filemd5" | "md5sum" => SignalKind::Md5,
        "sha1" | "sha1hash" | "filesha1" | "sha1sum" => SignalKind::Sha1,
        "sha256" | "sha256hash" | "filesha256" | "sha256sum" => SignalKind::Sha256,
        "pdq" | "pdqhash" => SignalKind::Pdq,
        "photodna" | "pdna" | "photodnahash" | "pdnahash" => SignalKind::PhotoDna,
        _ => return None,
    })
}

fn looks_like_csv_header(line: &str) -> bool {
    let fields: Vec<String> = line.split([',', ';', '\t']).map(norm_header).collect();
    fields.len() >= 2
        && fields
            .iter()
            .any(|f| f == "signaltype" || header_kind(f).is_some())
}

impl<'a> ListReader<'a> {
    fn new<R: Read + 'a>(r: R, opts: ReadOptions, cb: Option<Box<dyn FnMut(u64) + 'a>>) -> Self {
        let counting = Counting {
            inner: r,
            total: 0,
            cb,
        };
        let mut src: Src<'a> = Box::new(BufReader::with_capacity(1 << 16, counting));
        let mut me = ListReader {
            state: State::Done,
            kind: opts.kind,
            pending: VecDeque::new(),
        };
        let format = match opts.format {
            ListFormat::Auto => {
                // Peek at the first significant line, then put the bytes back in front.
                let mut consumed = Vec::new();
                let mut decided = ListFormat::HexLines;
                loop {
                    let start = consumed.len();
                    match (&mut src)
                        .take(MAX_LINE as u64)
                        .read_until(b'\n', &mut consumed)
                    {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) => {
                            me.pending.push_back(Err(ListError {
                                line: 1,
                                kind: ListErrorKind::Io(e.to_string()),
                            }));
                            return me;
                        }
                    }
                    let text = String::from_utf8_lossy(&consumed[start..]);
                    let t = text.trim_start_matches('\u{feff}').trim();
                    if t.is_empty() || t.starts_with('#') {
                        continue;
                    }
                    if looks_like_csv_header(t) {
                        decided = ListFormat::Csv;
                    }
                    break;
                }
                src = Box::new(BufReader::new(std::io::Cursor::new(consumed).chain(src)));
                decided
            }
            f => f,
        };
        me.state = match format {
            ListFormat::Csv => me.open_csv(src),
            _ => State::Lines {
                src,
                buf: Vec::new(),
                line: 0,
            },
        };
        me
    }

    fn open_csv(&mut self, src: Src<'a>) -> State<'a> {
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(src);
        let headers = match rdr.byte_headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                self.pending.push_back(Err(ListError {
                    line: 1,
                    kind: csv_err(&e),
                }));
                return State::Done;
            }
        };
        let names: Vec<String> = headers
            .iter()
            .map(|h| norm_header(&String::from_utf8_lossy(h)))
            .collect();
        let find = |cands: &[&str]| cands.iter().find_map(|c| names.iter().position(|n| n == c));
        let kind_col = find(&["signaltype", "type", "hashtype"]);
        let value_col = find(&["signal", "signalstr", "signalvalue", "hash", "value"]);
        let hash_cols: Vec<(usize, SignalKind)> = names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| header_kind(n).map(|k| (i, k)))
            .collect();
        let layout = match (kind_col, value_col) {
            (Some(kind), Some(value)) => Col::Typed { kind, value },
            _ if !hash_cols.is_empty() => Col::PerKind,
            _ => {
                let raw = String::from_utf8_lossy(headers.as_slice()).into_owned();
                self.pending.push_back(Err(ListError {
                    line: 1,
                    kind: ListErrorKind::UnknownHeader(clip(&raw)),
                }));
                return State::Done;
            }
        };
        let category = find(&["category", "classification", "class", "tags", "label"]);
        let source = find(&[
            "source",
            "collab",
            "collaboration",
            "bank",
            "list",
            "origin",
        ]);
        let added = find(&[
            "addedat",
            "added",
            "dateadded",
            "createdat",
            "created",
            "timestamp",
            "date",
        ]);
        State::Csv(Box::new(CsvState {
            rdr,
            layout,
            hash_cols,
            category,
            source,
            added,
            record: csv::ByteRecord::new(),
        }))
    }

    fn parse_hex_line(&self, text: &str, line: u64) -> Result<ListEntry, ListErrorKind> {
        let mut parts = text.split_whitespace();
        let first = parts.next().ok_or(ListErrorKind::Empty)?;
        let (named, value) = match parts.next() {
            Some(v) => {
                let k = SignalKind::from_name(first)
                    .ok_or_else(|| ListErrorKind::UnknownType(clip(first)))?;
                (Some(k), v)
            }
            None => (None, first),
        };
        if let Some(extra) = parts.next() {
            return Err(ListErrorKind::Extra(clip(extra)));
        }
        let kind = match (named, self.kind) {
            (Some(n), Some(want)) if n != want => {
                return Err(ListErrorKind::TypeMismatch {
                    expected: want,
                    found: n,
                });
            }
            (Some(n), _) => n,
            (None, Some(want)) => want,
            (None, None) => match value.len() {
                32 => SignalKind::Md5,
                40 => SignalKind::Sha1,
                64 => return Err(ListErrorKind::Ambiguous64),
                len => return Err(ListErrorKind::UnknownLength { len }),
            },
        };
        Ok(ListEntry {
            line,
            ..ListEntry::new(Signal::parse(kind, value)?)
        })
    }

    fn next_line(&mut self) -> Option<Result<ListEntry, ListError>> {
        loop {
            let State::Lines { src, buf, line } = &mut self.state else {
                return None;
            };
            buf.clear();
            *line += 1;
            let n = match src.take(MAX_LINE as u64 + 1).read_until(b'\n', buf) {
                Ok(n) => n,
                Err(e) => {
                    let l = *line;
                    self.state = State::Done;
                    return Some(Err(ListError {
                        line: l,
                        kind: ListErrorKind::Io(e.to_string()),
                    }));
                }
            };
            if n == 0 {
                self.state = State::Done;
                return None;
            }
            let l = *line;
            if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
                // Skip the rest of the over-long line.
                loop {
                    buf.clear();
                    match src.take(MAX_LINE as u64).read_until(b'\n', buf) {
                        Ok(0) => break,
                        Ok(_) if buf.last() == Some(&b'\n') => break,
                        Ok(_) => continue,
                        Err(_) => break,
                    }
                }
                return Some(Err(ListError {
                    line: l,
                    kind: ListErrorKind::LineTooLong,
                }));
            }
            let text = match std::str::from_utf8(buf) {
                Ok(t) => t,
                Err(_) => {
                    return Some(Err(ListError {
                        line: l,
                        kind: ListErrorKind::NotUtf8,
                    }));
                }
            };
            let t = text.trim_start_matches('\u{feff}').trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let t = t.to_string();
            return Some(
                self.parse_hex_line(&t, l)
                    .map_err(|kind| ListError { line: l, kind }),
            );
        }
    }

    fn next_csv(&mut self) -> Option<()> {
        let kind_hint = self.kind;
        let State::Csv(st) = &mut self.state else {
            return None;
        };
        loop {
            match st.rdr.read_byte_record(&mut st.record) {
                Ok(false) => {
                    self.state = State::Done;
                    return None;
                }
                Ok(true) => {}
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    let fatal = matches!(e.kind(), csv::ErrorKind::Io(_));
                    self.pending.push_back(Err(ListError {
                        line,
                        kind: csv_err(&e),
                    }));
                    if fatal {
                        self.state = State::Done;
                    }
                    return Some(());
                }
            }
            let line = st.record.position().map_or(0, |p| p.line());
            let rec = &st.record;
            if rec.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
                continue; // blank row
            }
            let field = |i: Option<usize>| -> Result<Option<String>, ListErrorKind> {
                match i.and_then(|i| rec.get(i)) {
                    None => Ok(None),
                    Some(b) => {
                        let s = std::str::from_utf8(b)
                            .map_err(|_| ListErrorKind::NotUtf8)?
                            .trim();
                        Ok((!s.is_empty()).then(|| s.to_string()))
                    }
                }
            };
            let meta = (|| -> Result<_, ListErrorKind> {
                Ok((field(st.category)?, field(st.source)?, field(st.added)?))
            })();
            let (category, source, added_at) = match meta {
                Ok(m) => m,
                Err(kind) => {
                    self.pending.push_back(Err(ListError { line, kind }));
                    return Some(());
                }
            };
            let mk = |signal: Signal| ListEntry {
                signal,
                category: category.clone(),
                source: source.clone(),
                added_at: added_at.clone(),
                line,
            };
            match st.layout {
                Col::Typed { kind, value } => {
                    let res = (|| -> Result<ListEntry, ListErrorKind> {
                        let k =
                            field(Some(kind))?.ok_or(ListErrorKind::MissingField("signal_type"))?;
                        let v = field(Some(value))?.ok_or(ListErrorKind::MissingField("signal"))?;
                        let k = SignalKind::from_name(&k)
                            .ok_or_else(|| ListErrorKind::UnknownType(clip(&k)))?;
                        if let Some(want) = kind_hint
                            && want != k
                        {
                            return Err(ListErrorKind::TypeMismatch {
                                expected: want,
                                found: k,
                            });
                        }
                        Ok(mk(Signal::parse(k, &v)?))
                    })();
                    self.pending
                        .push_back(res.map_err(|kind| ListError { line, kind }));
                }
                Col::PerKind => {
                    let mut any = false;
                    for &(i, k) in &st.hash_cols {
                        match field(Some(i)) {
                            Ok(None) => {}
                            Ok(Some(v)) => {
                                any = true;
                                self.pending.push_back(
                                    Signal::parse(k, &v)
                                        .map(mk)
                                        .map_err(|kind| ListError { line, kind }),
                                );
                            }
                            Err(kind) => {
                                any = true;
                                self.pending.push_back(Err(ListError { line, kind }));
                            }
                        }
                    }
                    if !any {
                        self.pending.push_back(Err(ListError {
                            line,
                            kind: ListErrorKind::Empty,
                        }));
                    }
                }
            }
            return Some(());
        }
    }
}

fn csv_err(e: &csv::Error) -> ListErrorKind {
    match e.kind() {
        csv::ErrorKind::Io(io) => ListErrorKind::Io(io.to_string()),
        csv::ErrorKind::Utf8 { .. } => ListErrorKind::NotUtf8,
        _ => ListErrorKind::Csv(e.to_string()),
    }
}

impl Iterator for ListReader<'_> {
    type Item = Result<ListEntry, ListError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(x) = self.pending.pop_front() {
                return Some(x);
            }
            match self.state {
                State::Done => return None,
                State::Lines { .. } => return self.next_line(),
                State::Csv(_) => {
                    self.next_csv()?;
                }
            }
        }
    }
}

/// Writes entries in the CSV-with-header format (`signal_type,signal,category,source,added_at`).
pub struct ListWriter<W: Write> {
    w: csv::Writer<W>,
}

impl<W: Write> ListWriter<W> {
    /// Starts a list (writes the header).
    pub fn new(w: W) -> std::io::Result<Self> {
        let mut w = csv::Writer::from_writer(w);
        w.write_record(["signal_type", "signal", "category", "source", "added_at"])
            .map_err(std::io::Error::other)?;
        Ok(ListWriter { w })
    }

    /// Writes one entry.
    pub fn write(&mut self, e: &ListEntry) -> std::io::Result<()> {
        let value = e.signal.value_text();
        self.w
            .write_record([
                e.signal.kind().name(),
                value.as_str(),
                e.category.as_deref().unwrap_or(""),
                e.source.as_deref().unwrap_or(""),
                e.added_at.as_deref().unwrap_or(""),
            ])
            .map_err(std::io::Error::other)
    }

    /// Flushes and returns the writer.
    pub fn finish(self) -> std::io::Result<W> {
        self.w
            .into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}
