//! Parsing uploaded list files into entries, with a line-numbered error for every bad line.
//!
//! Formats (detected from the first non-comment line):
//! - **plain**: one hex value per line; the signal type comes from the `type` option, or from
//!   the length (32 → md5, 40 → sha1; 64 digits are ambiguous between sha256 and pdq, so they
//!   need the option);
//! - **long CSV** with a header naming `signal_type` and `signal` columns (python-threatexchange
//!   and HMA bank exports), optional `category`, `source`, `assessor` columns;
//! - **wide CSV** (NCMEC/IWF style) with a header naming any of `md5`, `sha1`, `sha256`, `pdq`
//!   columns, one entry per filled cell; `photodna` columns are proprietary: counted and skipped.
//!
//! Blank lines and lines starting with `#` are ignored everywhere.
// TODO: switch to the shared parsers of `index::lists` once that module lands, keeping this
// error-report shape.

use schoon_core::{Category, NewEntry, SignalType, SignalValue};

use crate::problem::ItemError;

/// Options for one upload.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// Signal type of plain files (required for 64-digit values).
    pub signal_type: Option<SignalType>,
    /// Category for rows that do not name one.
    pub category: Option<Category>,
    /// Source for rows that do not name one.
    pub source: Option<String>,
    /// Assessor for rows that do not name one.
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

/// Parses a whole file; `Err` lists every bad line (up to [`MAX_REPORTED_ERRORS`]) and the total.
pub fn parse(text: &str, opts: &ParseOptions) -> Result<Parsed, (Vec<ItemError>, usize)> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let mut errors = Vec::new();
    let mut total_errors = 0usize;
    let mut err = |line: usize, detail: String| {
        total_errors += 1;
        if errors.len() < MAX_REPORTED_ERRORS {
            errors.push(ItemError {
                index: None,
                line: Some(line),
                detail,
            });
        }
    };
    let mut out = Parsed::default();
    let Some((first_no, first)) = lines.next() else {
        return Ok(out);
    };
    let header: Vec<String> = first
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let default_category = opts.category.unwrap_or(Category::Baseline);

    let row_meta = |cells: &[&str], line: usize, err: &mut dyn FnMut(usize, String)| {
        let get = |name: &str| {
            col(name)
                .and_then(|i| cells.get(i))
                .map(|s| s.trim().trim_matches('"'))
                .filter(|s| !s.is_empty())
        };
        let category = match get("category") {
            None => Some(default_category),
            Some(c) => match c.to_ascii_lowercase().parse::<Category>() {
                Ok(c) => Some(c),
                Err(_) => {
                    err(
                        line,
                        format!("unknown category {c:?} (expected baseline or national)"),
                    );
                    None
                }
            },
        };
        let source = get("source")
            .map(str::to_string)
            .or_else(|| opts.source.clone());
        let assessor = get("assessor")
            .map(str::to_string)
            .or_else(|| opts.assessor.clone());
        (category, source, assessor)
    };

    if let (Some(ti), Some(vi)) = (col("signal_type"), col("signal")) {
        for (no, line) in lines {
            let cells: Vec<&str> = line.split(',').collect();
            let (Some(t), Some(v)) = (cells.get(ti), cells.get(vi)) else {
                err(no, format!("expected at least {} columns", ti.max(vi) + 1));
                continue;
            };
            let t = t.trim().trim_matches('"');
            let kind = match t.parse::<SignalType>() {
                Ok(k) => k,
                Err(e) => {
                    if t.eq_ignore_ascii_case("photodna") {
                        out.skipped_photodna += 1;
                    } else {
                        err(no, e.to_string());
                    }
                    continue;
                }
            };
            let (category, source, assessor) = row_meta(&cells, no, &mut err);
            match SignalValue::parse(kind, v.trim().trim_matches('"')) {
                Ok(value) => {
                    if let Some(category) = category {
                        out.entries.push(NewEntry {
                            value,
                            category,
                            source,
                            assessor,
                        });
                    }
                }
                Err(e) => err(no, e.to_string()),
            }
        }
    } else if header.iter().any(|h| {
        matches!(
            h.as_str(),
            "md5" | "sha1" | "sha-1" | "sha256" | "sha-256" | "pdq" | "photodna"
        )
    }) {
        let typed: Vec<(usize, Option<SignalType>)> = header
            .iter()
            .enumerate()
            .filter_map(|(i, h)| match h.as_str() {
                "photodna" => Some((i, None)),
                h => h.parse::<SignalType>().ok().map(|t| (i, Some(t))),
            })
            .collect();
        for (no, line) in lines {
            let cells: Vec<&str> = line.split(',').collect();
            let (category, source, assessor) = row_meta(&cells, no, &mut err);
            for &(i, kind) in &typed {
                let Some(cell) = cells.get(i).map(|c| c.trim().trim_matches('"')) else {
                    continue;
                };
                if cell.is_empty() {
                    continue;
                }
                let Some(kind) = kind else {
                    out.skipped_photodna += 1;
                    continue;
                };
                match SignalValue::parse(kind, cell) {
                    Ok(value) => {
                        if let Some(category) = category {
                            out.entries.push(NewEntry {
                                value,
                                category,
                                source: source.clone(),
                                assessor: assessor.clone(),
                            });
                        }
                    }
                    Err(e) => err(no, format!("column {}: {e}", header[i])),
                }
            }
        }
    } else {
        // plain: the first line is data too
        for (no, line) in std::iter::once((first_no, first)).chain(lines) {
            let v = line.trim();
            let kind = match (opts.signal_type, v.len()) {
                (Some(t), _) => t,
                (None, 32) => SignalType::Md5,
                (None, 40) => SignalType::Sha1,
                (None, 64) => {
                    err(
                        no,
                        "64 hex digits can be sha256 or pdq: say which with the `type` option"
                            .into(),
                    );
                    continue;
                }
                (None, n) => {
                    err(
                        no,
                        format!(
                            "cannot tell the signal type of a {n}-character value; give the `type` option"
                        ),
                    );
                    continue;
                }
            };
            match SignalValue::parse(kind, v) {
                Ok(value) => out.entries.push(NewEntry {
                    value,
                    category: default_category,
                    source: opts.source.clone(),
                    assessor: opts.assessor.clone(),
                }),
                Err(e) => err(no, e.to_string()),
            }
        }
    }
    if total_errors > 0 {
        return Err((errors, total_errors));
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
        let (errs, total) = parse(&text, &opts).unwrap_err();
        assert_eq!(total, 2);
        assert_eq!(errs[0].line, Some(4));
        assert_eq!(errs[1].line, Some(5));
        let ok = parse(&format!("{pdq}\n{pdq}\n"), &opts).unwrap();
        assert_eq!(ok.entries.len(), 2);
    }

    #[test]
    fn long_and_wide_csv() {
        let text = "signal_type,signal,category\npdq,".to_string()
            + &"a".repeat(64)
            + ",national\nmd5,"
            + &"b".repeat(32)
            + ",\nphotodna,xyz,\n";
        let p = parse(&text, &ParseOptions::default()).unwrap();
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
        let (errs, _) = parse(&wide, &ParseOptions::default()).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, Some(3));
    }

    #[test]
    fn ambiguous_plain_values_need_a_type() {
        let (errs, _) = parse(&"0".repeat(64), &ParseOptions::default()).unwrap_err();
        assert!(errs[0].detail.contains("sha256 or pdq"));
    }
}
