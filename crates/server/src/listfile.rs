//! Parsing uploaded list files into entries, with a line-numbered error for every bad line.
//!
//! The formats are those of `index::lists` (hex lines with optional `type ` prefix,
//! `signal_type,signal,...` CSV incl. python-threatexchange / HMA exports, NCMEC/IWF-style CSV
//! with one column per hash type); this module only maps its entries onto list entries with
//! provenance and collects *all* errors so an import is all or nothing.
//! PhotoDNA values are proprietary: counted and skipped.

use index::{ListFormat, ReadOptions, Signal, SignalKind, read_list};
use schoon_core::{Category, NewEntry, SignalType, SignalValue};

use crate::problem::ItemError;

/// Options for one upload.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// Signal type of unprefixed hex lines (required for 64-digit values).
    pub signal_type: Option<SignalType>,
    /// Category for the whole file (overrides the file's own category column).
    pub category: Option<Category>,
    /// Source for rows that do not name one.
    pub source: Option<String>,
    /// Assessor of the whole file.
    pub assessor: Option<String>,
}

/// A parsed file.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The entries, in file order.
    pub entries: Vec<NewEntry>,
    /// PhotoDNA values seen and skipped.
    pub skipped_photodna: u64,
}

/// Most errors reported individually (the total is always given).
pub const MAX_REPORTED_ERRORS: usize = 1000;

fn kind_of(t: SignalType) -> SignalKind {
    match t {
        SignalType::Md5 => SignalKind::Md5,
        SignalType::Sha1 => SignalKind::Sha1,
        SignalType::Sha256 => SignalKind::Sha256,
        SignalType::Pdq => SignalKind::Pdq,
    }
}

/// Parses a whole file; `Err` lists every bad line (up to [`MAX_REPORTED_ERRORS`]) and the total.
pub fn parse(bytes: &[u8], opts: &ParseOptions) -> Result<Parsed, (Vec<ItemError>, usize)> {
    let read_opts = ReadOptions {
        format: ListFormat::Auto,
        kind: opts.signal_type.map(kind_of),
    };
    let mut errors = Vec::new();
    let mut total = 0usize;
    let mut err = |line: u64, detail: String| {
        total += 1;
        if errors.len() < MAX_REPORTED_ERRORS {
            errors.push(ItemError {
                index: None,
                line: Some(line as usize),
                detail,
            });
        }
    };
    let mut out = Parsed::default();
    for item in read_list(bytes, read_opts) {
        let entry = match item {
            Ok(e) => e,
            Err(e) => {
                err(e.line, e.kind.to_string());
                continue;
            }
        };
        let value = match &entry.signal {
            Signal::Md5(b) => SignalValue::Md5(*b),
            Signal::Sha1(b) => SignalValue::Sha1(*b),
            Signal::Sha256(b) => SignalValue::Sha256(*b),
            Signal::Pdq(h) => SignalValue::Pdq(h.to_bytes()),
            Signal::PhotoDna(_) => {
                out.skipped_photodna += 1;
                continue;
            }
        };
        let category = match (opts.category, entry.category.as_deref().map(str::trim)) {
            (Some(c), _) => c,
            (None, None | Some("")) => Category::Baseline,
            (None, Some(c)) => match c.to_ascii_lowercase().parse::<Category>() {
                Ok(c) => c,
                Err(_) => {
                    err(
                        entry.line,
                        format!(
                            "unknown category {c:?} (expected baseline or national; \
                             pass a category for the whole file to override)"
                        ),
                    );
                    continue;
                }
            },
        };
        out.entries.push(NewEntry {
            value,
            category,
            source: entry.source.clone().or_else(|| opts.source.clone()),
            assessor: opts.assessor.clone(),
        });
    }
    if total > 0 {
        return Err((errors, total));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_file_with_type_and_bad_lines_reported_by_number() {
        let pdq = "f".repeat(64);
        let text = format!("# comment\n{pdq}\n\nxyz\n{pdq}0\n");
        let opts = ParseOptions {
            signal_type: Some(SignalType::Pdq),
            ..Default::default()
        };
        let (errs, total) = parse(text.as_bytes(), &opts).unwrap_err();
        assert_eq!(total, 2);
        assert_eq!(errs[0].line, Some(4));
        assert_eq!(errs[1].line, Some(5));
        let ok = parse(format!("{pdq}\n{pdq}\n").as_bytes(), &opts).unwrap();
        assert_eq!(ok.entries.len(), 2);
    }

    #[test]
    fn long_and_wide_csv() {
        let text = "signal_type,signal,category\npdq,".to_string()
            + &"a".repeat(64)
            + ",national\nmd5,"
            + &"b".repeat(32)
            + ",\nphotodna,xyz,\n";
        let p = parse(text.as_bytes(), &ParseOptions::default()).unwrap();
        assert_eq!(p.entries.len(), 2);
        assert_eq!(p.entries[0].category, Category::National);
        assert_eq!(p.entries[1].category, Category::Baseline);
        assert_eq!(p.skipped_photodna, 1);

        let wide = format!(
            "MD5,SHA1,PhotoDNA\n{},{},abc\n{},,\n",
            "c".repeat(32),
            "d".repeat(40),
            "e".repeat(31)
        );
        let (errs, _) = parse(wide.as_bytes(), &ParseOptions::default()).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, Some(3));
    }

    #[test]
    fn ambiguous_plain_values_need_a_type() {
        let (errs, _) = parse("0".repeat(64).as_bytes(), &ParseOptions::default()).unwrap_err();
        assert!(
            errs[0].detail.contains("sha256 or pdq"),
            "{}",
            errs[0].detail
        );
    }
}
