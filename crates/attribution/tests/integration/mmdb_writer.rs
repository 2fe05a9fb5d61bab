//! A minimal MaxMind DB writer for tests, written from the MaxMind DB format specification
//! (v2.0): an IPv6 search tree with 24-bit records, a data section of maps with strings and
//! unsigned integers, and the metadata map after the `\xAB\xCD\xEFMaxMind.com` marker.
//! IPv4 networks are stored under `::/96`, where readers look IPv4 addresses up.

use std::net::IpAddr;

/// A value in the data section.
pub enum V {
    Str(String),
    U32(u32),
    U16(u16),
    U64(u64),
    Map(Vec<(String, V)>),
    Array(Vec<V>),
}

#[derive(Clone, Copy)]
enum Child {
    Empty,
    Node(usize),
    Data(usize),
}

fn control(out: &mut Vec<u8>, typ: u8, size: usize) {
    let (base, ext) = if typ > 7 {
        (0u8, Some(typ - 7))
    } else {
        (typ, None)
    };
    let (low, extra): (u8, Vec<u8>) = if size < 29 {
        (size as u8, vec![])
    } else if size < 29 + 256 {
        (29, vec![(size - 29) as u8])
    } else {
        let s = size - 285;
        (30, vec![(s >> 8) as u8, s as u8])
    };
    out.push((base << 5) | low);
    if let Some(e) = ext {
        out.push(e);
    }
    out.extend(extra);
}

fn uint(out: &mut Vec<u8>, typ: u8, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    control(out, typ, 8 - skip);
    out.extend_from_slice(&bytes[skip..]);
}

fn encode(out: &mut Vec<u8>, v: &V) {
    match v {
        V::Str(s) => {
            control(out, 2, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        V::U16(n) => uint(out, 5, u64::from(*n)),
        V::U32(n) => uint(out, 6, u64::from(*n)),
        V::U64(n) => uint(out, 9, *n),
        V::Map(pairs) => {
            control(out, 7, pairs.len());
            for (k, v) in pairs {
                encode(out, &V::Str(k.clone()));
                encode(out, v);
            }
        }
        V::Array(items) => {
            control(out, 11, items.len());
            for v in items {
                encode(out, v);
            }
        }
    }
}

/// Builds a database from (network, prefix length, record) entries; shorter prefixes should
/// come first so that nested ones split them.
pub fn write(database_type: &str, entries: &[(IpAddr, u8, V)]) -> Vec<u8> {
    // Trie over 128-bit keys.
    let mut nodes: Vec<[Child; 2]> = vec![[Child::Empty, Child::Empty]];
    let mut data = Vec::new();
    let mut offsets = Vec::new();
    for (i, (_, _, v)) in entries.iter().enumerate() {
        offsets.push(data.len());
        encode(&mut data, v);
        let _ = i;
    }
    for (i, (ip, len, _)) in entries.iter().enumerate() {
        let (key, len) = match ip {
            IpAddr::V4(a) => (u128::from(u32::from(*a)), 96 + usize::from(*len)),
            IpAddr::V6(a) => (u128::from(*a), usize::from(*len)),
        };
        assert!(len >= 1, "prefix length 0 not supported by this writer");
        let mut node = 0;
        for depth in 0..len {
            let bit = ((key >> (127 - depth)) & 1) as usize;
            if depth == len - 1 {
                nodes[node][bit] = Child::Data(i);
                break;
            }
            node = match nodes[node][bit] {
                Child::Node(n) => n,
                other => {
                    // Empty, or a less specific network being split: both halves inherit it.
                    let n = nodes.len();
                    nodes.push([other, other]);
                    nodes[node][bit] = Child::Node(n);
                    n
                }
            };
        }
    }
    let node_count = nodes.len();
    let record = |c: Child| -> u32 {
        match c {
            Child::Empty => node_count as u32,
            Child::Node(n) => n as u32,
            Child::Data(i) => (node_count + 16 + offsets[i]) as u32,
        }
    };
    let mut out = Vec::new();
    for n in &nodes {
        for c in n {
            let r = record(*c);
            out.extend_from_slice(&r.to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(&[0u8; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    let meta = V::Map(vec![
        ("binary_format_major_version".into(), V::U16(2)),
        ("binary_format_minor_version".into(), V::U16(0)),
        ("build_epoch".into(), V::U64(1_750_000_000)),
        ("database_type".into(), V::Str(database_type.into())),
        (
            "description".into(),
            V::Map(vec![(
                "en".into(),
                V::Str("schoon test ASN database".into()),
            )]),
        ),
        ("ip_version".into(), V::U16(6)),
        ("languages".into(), V::Array(vec![V::Str("en".into())])),
        ("node_count".into(), V::U32(node_count as u32)),
        ("record_size".into(), V::U16(24)),
    ]);
    encode(&mut out, &meta);
    out
}

/// A GeoLite2-ASN style record.
pub fn asn(number: u32, org: &str) -> V {
    V::Map(vec![
        ("autonomous_system_number".into(), V::U32(number)),
        ("autonomous_system_organization".into(), V::Str(org.into())),
    ])
}

/// An IPinfo-Lite style record.
pub fn ipinfo(asn: &str, name: &str, cc: &str) -> V {
    V::Map(vec![
        ("asn".into(), V::Str(asn.into())),
        ("as_name".into(), V::Str(name.into())),
        ("country_code".into(), V::Str(cc.into())),
    ])
}
