//! Evidence references and per-fetch metadata.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Most headers kept per fetch (the first ones win).
pub const MAX_HEADERS: usize = 64;
/// Longest header value kept, in bytes (longer values are cut at a character boundary).
pub const MAX_HEADER_VALUE_LEN: usize = 2048;
/// Longest header name kept; longer names are dropped.
pub const MAX_HEADER_NAME_LEN: usize = 128;
/// Longest URL accepted in metadata (URLs are evidence: they are rejected, never cut).
pub const MAX_URL_LEN: usize = 16 * 1024;
/// Longest content type accepted.
pub const MAX_CONTENT_TYPE_LEN: usize = 255;

/// The reference to one stored item: the SHA-256 of its bytes.
///
/// Why the plain digest: the pipeline already records every item's SHA-256 next to its case, so the reference adds
/// nothing an attacker with the database does not have; on *disk* the vault never uses it as a name (see the crate
/// docs). Displays and parses as 64 lowercase hex digits; serialises as that string.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EvidenceRef([u8; 32]);

impl EvidenceRef {
    /// The reference `bytes` would be stored under.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Wraps a SHA-256 digest computed elsewhere (e.g. by the media crate).
    pub fn from_sha256(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// The SHA-256 digest of the item.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for EvidenceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for EvidenceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EvidenceRef({})", self.to_hex())
    }
}

/// The reference string was not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an evidence reference is 64 hex digits (a SHA-256)")]
pub struct ParseRefError;

impl FromStr for EvidenceRef {
    type Err = ParseRefError;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| ParseRefError)?;
        Ok(Self(out))
    }
}

impl Serialize for EvidenceRef {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for EvidenceRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What was known about one fetch of an item. The vault keeps one record per distinct fetch, even when the bytes
/// are identical to an earlier fetch.
///
/// `size` and `sha256` must describe the bytes handed to [`crate::Vault::put`]; the vault checks them, so a pipeline
/// bug that hashes one buffer and stores another is caught instead of recorded as evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceMeta {
    /// The URL as reported (or as found on the reported page).
    pub original_url: String,
    /// The URL after redirects, which served the bytes.
    pub final_url: String,
    /// When the response was received (UTC).
    pub fetched_at: DateTime<Utc>,
    /// HTTP status of the final response.
    pub http_status: u16,
    /// Response headers as (lower-case name, value), in the order received; see [`sanitize_headers`].
    pub headers: Vec<(String, String)>,
    /// The address the fetcher connected to, after its DNS checks.
    pub resolved_ip: Option<IpAddr>,
    /// Content type sniffed from the bytes (not the server's claim), e.g. `image/jpeg`.
    pub content_type: String,
    /// Number of bytes.
    pub size: u64,
    /// SHA-256 of the bytes.
    #[serde(with = "hex32")]
    pub sha256: [u8; 32],
}

impl EvidenceMeta {
    /// Checks lengths and consistency with `bytes`, and returns the copy to store (headers sanitised).
    pub(crate) fn checked_for(&self, bytes: &[u8], r: &EvidenceRef) -> Result<Self> {
        if self.size != bytes.len() as u64 {
            return Err(Error::BadMeta("size does not match the bytes"));
        }
        if self.sha256 != r.0 {
            return Err(Error::BadMeta("sha256 does not match the bytes"));
        }
        if self.original_url.len() > MAX_URL_LEN || self.final_url.len() > MAX_URL_LEN {
            return Err(Error::BadMeta("URL longer than the vault accepts"));
        }
        if self.content_type.len() > MAX_CONTENT_TYPE_LEN {
            return Err(Error::BadMeta("content type longer than the vault accepts"));
        }
        let mut meta = self.clone();
        meta.headers = sanitize_headers(self.headers.iter().map(|(n, v)| (n, v)));
        Ok(meta)
    }
}

/// Makes a bounded, printable header list from a response's headers (the fetcher passes raw name/value pairs).
///
/// Rules: names are lower-cased and must be RFC 9110 tokens of at most [`MAX_HEADER_NAME_LEN`] bytes (others are
/// dropped); values are decoded as UTF-8 (lossily), control characters other than tab become spaces, and values
/// are cut to [`MAX_HEADER_VALUE_LEN`] bytes; at most [`MAX_HEADERS`] headers are kept. Applying it twice changes
/// nothing. Why: headers come from the reported site and are hostile input; bounded, printable metadata can be
/// shown in an analyst's UI and embedded in a notice without surprises.
pub fn sanitize_headers<I, N, V>(headers: I) -> Vec<(String, String)>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<[u8]>,
{
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    headers
        .into_iter()
        .filter_map(|(name, value)| {
            let name = name.as_ref();
            if name.is_empty() || name.len() > MAX_HEADER_NAME_LEN || !name.bytes().all(is_tchar) {
                return None;
            }
            let value = String::from_utf8_lossy(value.as_ref());
            let mut clean: String = value
                .chars()
                .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
                .collect();
            if clean.len() > MAX_HEADER_VALUE_LEN {
                let mut cut = MAX_HEADER_VALUE_LEN;
                while !clean.is_char_boundary(cut) {
                    cut -= 1;
                }
                clean.truncate(cut);
            }
            Some((name.to_ascii_lowercase(), clean))
        })
        .take(MAX_HEADERS)
        .collect()
}

/// serde for a 32-byte digest as hex.
mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.as_ref(), &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_is_sha256_and_parses_back() {
        let r = EvidenceRef::of(b"abc");
        assert_eq!(
            r.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(r.to_string().parse::<EvidenceRef>(), Ok(r));
        assert_eq!("xyz".parse::<EvidenceRef>(), Err(ParseRefError));
        let json = serde_json::to_string(&r).expect("ser");
        assert_eq!(json, format!("\"{r}\""));
        assert_eq!(serde_json::from_str::<EvidenceRef>(&json).expect("de"), r);
    }

    #[test]
    fn headers_are_bounded_printable_and_idempotent() {
        let long = "é".repeat(MAX_HEADER_VALUE_LEN); // 2 bytes each: must be cut on a boundary
        let many: Vec<(String, Vec<u8>)> = (0..100)
            .map(|i| (format!("X-H{i}"), b"v".to_vec()))
            .collect();
        let input: Vec<(String, Vec<u8>)> = vec![
            ("Content-Type".into(), b"image/jpeg".to_vec()),
            ("Bad Name".into(), b"x".to_vec()),
            ("".into(), b"x".to_vec()),
            ("X-Ctl".into(), b"a\r\nb\x00c\td".to_vec()),
            ("X-Bin".into(), vec![0xff, 0xfe, b'z']),
            ("X-Long".into(), long.into_bytes()),
        ]
        .into_iter()
        .chain(many)
        .collect();
        let out = sanitize_headers(input);
        assert_eq!(out.len(), MAX_HEADERS);
        assert_eq!(out[0], ("content-type".into(), "image/jpeg".into()));
        assert_eq!(out[1], ("x-ctl".into(), "a  b c\td".into()));
        assert_eq!(out[2].0, "x-bin");
        assert!(out[2].1.ends_with('z'));
        assert_eq!(out[3].0, "x-long");
        assert!(
            out[3].1.len() <= MAX_HEADER_VALUE_LEN && out[3].1.len() >= MAX_HEADER_VALUE_LEN - 1
        );
        assert!(
            out.iter()
                .all(|(n, v)| !n.contains(' ') && !v.chars().any(|c| c.is_control() && c != '\t'))
        );
        let again = sanitize_headers(out.iter().map(|(n, v)| (n, v)));
        assert_eq!(again, out);
    }
}
