//! Signals: the hash values that lists hold and callers check.
//!
//! Values are kept as fixed-size byte arrays so a tenant's whole list fits in memory compactly;
//! the text form is always lowercase hex (PDQ in Meta's bit order, as `pdq::Hash256::to_hex`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The kind of hash a signal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignalType {
    /// MD5 of the file bytes (exact match).
    Md5,
    /// SHA-1 of the file bytes (exact match).
    Sha1,
    /// SHA-256 of the file bytes (exact match).
    Sha256,
    /// PDQ perceptual hash (near match by Hamming distance).
    Pdq,
}

impl SignalType {
    /// All types, in a stable order.
    pub const ALL: [SignalType; 4] = [
        SignalType::Md5,
        SignalType::Sha1,
        SignalType::Sha256,
        SignalType::Pdq,
    ];

    /// The canonical lowercase name used in APIs, list files and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalType::Md5 => "md5",
            SignalType::Sha1 => "sha1",
            SignalType::Sha256 => "sha256",
            SignalType::Pdq => "pdq",
        }
    }

    /// Length of the value in bytes.
    pub fn byte_len(self) -> usize {
        match self {
            SignalType::Md5 => 16,
            SignalType::Sha1 => 20,
            SignalType::Sha256 | SignalType::Pdq => 32,
        }
    }

    /// Length of the value in hex digits.
    pub fn hex_len(self) -> usize {
        self.byte_len() * 2
    }

    /// Whether matching is exact (cryptographic digests) rather than by distance.
    pub fn is_exact(self) -> bool {
        !matches!(self, SignalType::Pdq)
    }
}

impl fmt::Display for SignalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a signal type or a signal value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    /// The type name is not one we know.
    #[error("unknown signal type {0:?} (expected md5, sha1, sha256 or pdq)")]
    UnknownType(String),
    /// The value has the wrong number of hex digits for its type.
    #[error("a {kind} value has {expected} hex digits, got {got}")]
    Length {
        /// The signal type.
        kind: SignalType,
        /// Expected number of hex digits.
        expected: usize,
        /// Number of characters received.
        got: usize,
    },
    /// The value contains a character that is not a hex digit.
    #[error("invalid hex digit {ch:?} at position {pos}")]
    Hex {
        /// The offending character.
        ch: char,
        /// Its zero-based position.
        pos: usize,
    },
}

impl FromStr for SignalType {
    type Err = SignalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "md5" => Ok(SignalType::Md5),
            "sha1" | "sha-1" => Ok(SignalType::Sha1),
            "sha256" | "sha-256" => Ok(SignalType::Sha256),
            "pdq" => Ok(SignalType::Pdq),
            _ => Err(SignalError::UnknownType(s.to_string())),
        }
    }
}

/// One hash value with its type; the bytes are the value as big-endian bytes (hex order).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SignalValue {
    /// MD5 digest.
    Md5([u8; 16]),
    /// SHA-1 digest.
    Sha1([u8; 20]),
    /// SHA-256 digest.
    Sha256([u8; 32]),
    /// PDQ hash, 32 bytes in Meta's text order (byte 0 = first two hex digits).
    Pdq([u8; 32]),
}

impl SignalValue {
    /// Parses a hex value of the given type (either case; surrounding whitespace is an error).
    pub fn parse(kind: SignalType, hex_str: &str) -> Result<Self, SignalError> {
        let expected = kind.hex_len();
        let bytes = hex_str.as_bytes();
        if bytes.len() != expected {
            return Err(SignalError::Length {
                kind,
                expected,
                got: hex_str.chars().count(),
            });
        }
        let mut out = [0u8; 32];
        for (pos, &c) in bytes.iter().enumerate() {
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => {
                    let ch = hex_str[pos..].chars().next().unwrap_or('?');
                    return Err(SignalError::Hex { ch, pos });
                }
            };
            out[pos / 2] = (out[pos / 2] << 4) | v;
        }
        Ok(Self::from_slice(kind, &out[..kind.byte_len()]))
    }

    /// Builds a value from raw bytes of exactly `kind.byte_len()` bytes.
    ///
    /// Panics are avoided: a slice of the wrong length is zero-padded or truncated, so callers
    /// must pass the right length (all callers in this crate do).
    fn from_slice(kind: SignalType, b: &[u8]) -> Self {
        fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
            let mut a = [0u8; N];
            let n = b.len().min(N);
            a[..n].copy_from_slice(&b[..n]);
            a
        }
        match kind {
            SignalType::Md5 => SignalValue::Md5(arr(b)),
            SignalType::Sha1 => SignalValue::Sha1(arr(b)),
            SignalType::Sha256 => SignalValue::Sha256(arr(b)),
            SignalType::Pdq => SignalValue::Pdq(arr(b)),
        }
    }

    /// Builds a value from raw bytes; `None` if the length does not fit the type.
    pub fn from_bytes(kind: SignalType, b: &[u8]) -> Option<Self> {
        (b.len() == kind.byte_len()).then(|| Self::from_slice(kind, b))
    }

    /// The signal type.
    pub fn kind(&self) -> SignalType {
        match self {
            SignalValue::Md5(_) => SignalType::Md5,
            SignalValue::Sha1(_) => SignalType::Sha1,
            SignalValue::Sha256(_) => SignalType::Sha256,
            SignalValue::Pdq(_) => SignalType::Pdq,
        }
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            SignalValue::Md5(b) => b,
            SignalValue::Sha1(b) => b,
            SignalValue::Sha256(b) => b,
            SignalValue::Pdq(b) => b,
        }
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.as_bytes())
    }
}

impl fmt::Debug for SignalValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.to_hex())
    }
}

impl fmt::Display for SignalValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_type_and_round_trips_lowercase() {
        let md5 = SignalValue::parse(SignalType::Md5, "D41D8CD98F00B204E9800998ECF8427E").unwrap();
        assert_eq!(md5.kind(), SignalType::Md5);
        assert_eq!(md5.to_hex(), "d41d8cd98f00b204e9800998ecf8427e");
        let sha1 = SignalValue::parse(SignalType::Sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709")
            .unwrap();
        assert_eq!(sha1.as_bytes().len(), 20);
        let pdq = SignalValue::parse(SignalType::Pdq, &"f".repeat(64)).unwrap();
        assert_eq!(pdq.as_bytes(), &[0xff; 32]);
    }

    #[test]
    fn rejects_wrong_length_and_bad_digits() {
        assert_eq!(
            SignalValue::parse(SignalType::Md5, "abc"),
            Err(SignalError::Length {
                kind: SignalType::Md5,
                expected: 32,
                got: 3
            })
        );
        let mut s = "0".repeat(64);
        s.replace_range(10..11, "g");
        assert_eq!(
            SignalValue::parse(SignalType::Sha256, &s),
            Err(SignalError::Hex { ch: 'g', pos: 10 })
        );
        // multi-byte characters must not panic
        let s = format!("é{}", "0".repeat(62));
        assert!(SignalValue::parse(SignalType::Pdq, &s).is_err());
    }

    #[test]
    fn type_names_parse_case_insensitively_and_unknown_is_an_error() {
        assert_eq!("SHA-256".parse::<SignalType>(), Ok(SignalType::Sha256));
        assert_eq!("pdq".parse::<SignalType>(), Ok(SignalType::Pdq));
        assert!(matches!(
            "photodna".parse::<SignalType>(),
            Err(SignalError::UnknownType(_))
        ));
    }
}
