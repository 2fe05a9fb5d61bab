//! List import/export: every format, bad lines with line numbers, streaming progress.

use index::lists::*;
use pdq::Hash256;

const MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";
const SHA1: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
const SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const PDQ: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

fn read_all(text: &str, opts: ReadOptions) -> (Vec<ListEntry>, Vec<ListError>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for r in read_list(text.as_bytes(), opts) {
        match r {
            Ok(e) => ok.push(e),
            Err(e) => bad.push(e),
        }
    }
    (ok, bad)
}

#[test]
fn hex_lines_infer_md5_and_sha1_and_refuse_ambiguous_64() {
    let text = format!(
        "# comment\n{MD5}\n\n{}\n{SHA256}\nnothex{}\n  {MD5}  \r\n",
        SHA1.to_uppercase(),
        &MD5[6..]
    );
    let (ok, bad) = read_all(&text, ReadOptions::default());
    assert_eq!(ok.len(), 3);
    assert_eq!(ok[0].signal.kind(), SignalKind::Md5);
    assert_eq!(ok[0].line, 2);
    assert_eq!(ok[1].signal.value_text(), SHA1, "upper case is normalised");
    assert_eq!(ok[1].line, 4);
    assert_eq!(ok[2].line, 7);
    assert_eq!(bad.len(), 2);
    assert_eq!(
        (bad[0].line, &bad[0].kind),
        (5, &ListErrorKind::Ambiguous64)
    );
    assert_eq!(bad[1].line, 6);
    assert!(matches!(bad[1].kind, ListErrorKind::BadHex { .. }));
}

#[test]
fn hex_lines_with_type_hint_or_prefix() {
    let opts = ReadOptions {
        kind: Some(SignalKind::Pdq),
        ..Default::default()
    };
    let (ok, bad) = read_all(&format!("{PDQ}\npdq {PDQ}\nsha256 {SHA256}\n{MD5}\n"), opts);
    assert_eq!(ok.len(), 2);
    assert_eq!(ok[0].signal, Signal::Pdq(PDQ.parse::<Hash256>().unwrap()));
    assert_eq!(bad.len(), 2);
    assert_eq!(bad[0].line, 3);
    assert!(matches!(bad[0].kind, ListErrorKind::TypeMismatch { .. }));
    assert!(matches!(
        bad[1].kind,
        ListErrorKind::WrongLength {
            expected: 64,
            len: 32,
            ..
        }
    ));

    // python-threatexchange local-file format: `signal_type signal`, no hint needed.
    let text = format!(
        "pdq {PDQ}\nvideo_md5 {MD5}\nsha256 {SHA256}\nphotodna AAAA+/==\nurl example.com\npdq {PDQ} extra\n"
    );
    let (ok, bad) = read_all(&text, ReadOptions::default());
    let kinds: Vec<SignalKind> = ok.iter().map(|e| e.signal.kind()).collect();
    assert_eq!(
        kinds,
        vec![
            SignalKind::Pdq,
            SignalKind::Md5,
            SignalKind::Sha256,
            SignalKind::PhotoDna
        ]
    );
    assert!(!ok[3].signal.is_matchable());
    assert_eq!(bad.iter().map(|e| e.line).collect::<Vec<_>>(), vec![5, 6]);
    assert!(matches!(bad[0].kind, ListErrorKind::UnknownType(_)));
    assert!(matches!(bad[1].kind, ListErrorKind::Extra(_)));
}

#[test]
fn csv_with_header_and_optional_columns() {
    let text = format!(
        "signal_type,signal,category,source,added_at\n\
         pdq,{PDQ},A,hotline-nl,2026-01-02\n\
         md5,{MD5},,,\n\
         sha1,{SHA1},B,\"quoted, source\",\n\
         pdq,{MD5},A,x,\n\
         tlsh,abc,A,x,\n\
         ,{MD5},,,\n"
    );
    let (ok, bad) = read_all(&text, ReadOptions::default());
    assert_eq!(ok.len(), 3);
    assert_eq!(ok[0].category.as_deref(), Some("A"));
    assert_eq!(ok[0].source.as_deref(), Some("hotline-nl"));
    assert_eq!(ok[0].added_at.as_deref(), Some("2026-01-02"));
    assert_eq!(ok[0].line, 2);
    assert_eq!(ok[1].category, None);
    assert_eq!(ok[2].source.as_deref(), Some("quoted, source"));
    assert_eq!(
        bad.iter().map(|e| e.line).collect::<Vec<_>>(),
        vec![5, 6, 7]
    );
    assert!(matches!(bad[0].kind, ListErrorKind::WrongLength { .. }));
    assert!(matches!(bad[1].kind, ListErrorKind::UnknownType(_)));
    assert_eq!(bad[2].kind, ListErrorKind::MissingField("signal_type"));

    // Columns in another order, only the two required ones.
    let (ok, bad) = read_all(
        &format!("signal,signal_type\n{SHA256},sha256\n"),
        ReadOptions::default(),
    );
    assert!(bad.is_empty());
    assert_eq!(ok[0].signal.kind(), SignalKind::Sha256);
}

#[test]
fn threatexchange_dataset_csv() {
    // `tx dataset -P --csv`: collab,signal_type,signal_str,category,tags
    let text = format!(
        "collab,signal_type,signal_str,category,tags\n\
         Sample Data,pdq,{PDQ},POSITIVE_CLASS,tag1 tag2\n\
         Sample Data,video_md5,{MD5},POSITIVE_CLASS,\n"
    );
    let (ok, bad) = read_all(&text, ReadOptions::default());
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(ok.len(), 2);
    assert_eq!(ok[0].source.as_deref(), Some("Sample Data"));
    assert_eq!(ok[0].category.as_deref(), Some("POSITIVE_CLASS"));
    assert_eq!(ok[1].signal.kind(), SignalKind::Md5);
    // HMA-style signal_type,signal_value.
    let (ok, bad) = read_all(
        &format!("signal_type,signal_value\npdq,{PDQ}\n"),
        ReadOptions::default(),
    );
    assert!(bad.is_empty());
    assert_eq!(ok[0].signal.kind(), SignalKind::Pdq);
}

#[test]
fn ncmec_iwf_style_columns_with_photodna() {
    let pdna = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let text = format!(
        "\u{feff}MD5,SHA-1,PhotoDNA,Category\n\
         {MD5},{SHA1},{pdna},A\n\
         ,{SHA1},,B\n\
         ,,,C\n\
         zz{},,,A\n",
        &MD5[2..]
    );
    let (ok, bad) = read_all(&text, ReadOptions::default());
    let got: Vec<(SignalKind, u64, Option<&str>)> = ok
        .iter()
        .map(|e| (e.signal.kind(), e.line, e.category.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (SignalKind::Md5, 2, Some("A")),
            (SignalKind::Sha1, 2, Some("A")),
            (SignalKind::PhotoDna, 2, Some("A")),
            (SignalKind::Sha1, 3, Some("B")),
        ]
    );
    assert_eq!(ok[2].signal, Signal::PhotoDna(pdna.into()));
    assert!(!ok[2].signal.is_matchable());
    assert_eq!(bad.len(), 2);
    assert_eq!((bad[0].line, &bad[0].kind), (4, &ListErrorKind::Empty));
    assert_eq!(bad[1].line, 5);
}

#[test]
fn unknown_header_is_one_error() {
    let (ok, bad) = read_all(
        "foo,bar\n1,2\n",
        ReadOptions {
            format: ListFormat::Csv,
            kind: None,
        },
    );
    assert!(ok.is_empty());
    assert_eq!(bad.len(), 1);
    assert!(matches!(bad[0].kind, ListErrorKind::UnknownHeader(_)));
}

#[test]
fn export_round_trips_and_progress_counts_bytes() {
    let text = format!(
        "signal_type,signal,category,source,added_at\npdq,{PDQ},A,\"x,y\",2026\nmd5,{MD5},,,\nphotodna,QUJD,,,\n"
    );
    let (ok, bad) = read_all(&text, ReadOptions::default());
    assert!(bad.is_empty());
    let mut w = ListWriter::new(Vec::new()).unwrap();
    for e in &ok {
        w.write(e).unwrap();
    }
    let out = String::from_utf8(w.finish().unwrap()).unwrap();
    let (again, bad) = read_all(&out, ReadOptions::default());
    assert!(bad.is_empty());
    let strip = |v: &[ListEntry]| {
        v.iter()
            .map(|e| ListEntry {
                line: 0,
                ..e.clone()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&again), strip(&ok));

    // Progress: the last report is the full size; streaming a large input works.
    let mut big = String::new();
    for i in 0..20_000u32 {
        big.push_str(&format!("{:032x}\n", i));
    }
    let seen = std::cell::Cell::new(0u64);
    let n = read_list_with_progress(big.as_bytes(), ReadOptions::default(), |b| seen.set(b))
        .filter(|r| r.is_ok())
        .count();
    assert_eq!(n, 20_000);
    assert_eq!(seen.get(), big.len() as u64);
}

#[test]
fn over_long_and_non_utf8_lines_are_reported_and_skipped() {
    let mut data = Vec::new();
    data.extend_from_slice(format!("{MD5}\n").as_bytes());
    data.extend(std::iter::repeat_n(b'a', (1 << 20) + 10));
    data.push(b'\n');
    data.extend_from_slice(b"\xff\xfe\n");
    data.extend_from_slice(format!("{SHA1}\n").as_bytes());
    let mut ok = 0;
    let mut bad = Vec::new();
    for r in read_list(
        &data[..],
        ReadOptions {
            format: ListFormat::HexLines,
            kind: None,
        },
    ) {
        match r {
            Ok(_) => ok += 1,
            Err(e) => bad.push((e.line, e.kind)),
        }
    }
    assert_eq!(ok, 2);
    assert_eq!(
        bad,
        vec![(2, ListErrorKind::LineTooLong), (3, ListErrorKind::NotUtf8)]
    );
}
