//! The object file format: a small plaintext header, then XChaCha20-Poly1305 ciphertext and tag.
//!
//! ```text
//! offset  size  field
//! 0       4     magic "SCHV"
//! 4       1     format version (1)
//! 5       1     kind: 1 = content, 2 = fetch record, 3 = naming key
//! 6       1     key id length n (1..=32)
//! 7       n     key id (ASCII)
//! 7+n     8     key fingerprint (HKDF of the key; tells "wrong key" from "tampered")
//! 15+n    24    random nonce
//! 39+n    …     ciphertext
//! end-16  16    Poly1305 tag
//! ```
//!
//! The AEAD's associated data is the whole header followed by the object's *binding*: the bytes that say where the
//! object belongs (its keyed object name, plus the record id for fetch records). Changing any header byte, or
//! moving a file to another object's place, makes authentication fail.

use std::path::Path;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};

use crate::error::{Error, Result, corrupt};
use crate::keys::{FINGERPRINT_LEN, KeyRing, MAX_KEY_ID_LEN, RingKey};

const MAGIC: &[u8; 4] = b"SCHV";
/// Current (and only) format version.
pub(crate) const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Fixed part of the header around the key id.
const FIXED_HEADER_LEN: usize = 4 + 1 + 1 + 1 + FINGERPRINT_LEN + NONCE_LEN;
/// Longest possible header: enough to read when only the key id is wanted (rotation).
pub(crate) const MAX_HEADER_LEN: usize = FIXED_HEADER_LEN + MAX_KEY_ID_LEN;
/// Bytes an object adds to its plaintext, at most.
pub(crate) const MAX_OVERHEAD: usize = MAX_HEADER_LEN + TAG_LEN;

/// What an object holds; part of the authenticated header so one kind can't be passed off as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Content = 1,
    Fetch = 2,
    NamingKey = 3,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::Content),
            2 => Some(Self::Fetch),
            3 => Some(Self::NamingKey),
            _ => None,
        }
    }
}

/// A parsed header.
#[derive(Debug)]
pub(crate) struct Header {
    pub(crate) kind: Kind,
    pub(crate) key_id: String,
    pub(crate) fingerprint: [u8; FINGERPRINT_LEN],
    nonce: [u8; NONCE_LEN],
    /// Header length in bytes (where the ciphertext starts).
    len: usize,
}

impl Header {
    /// True when this object is sealed under `key` (same id and same key).
    pub(crate) fn is_sealed_under(&self, key: &RingKey) -> bool {
        self.key_id == key.id && self.fingerprint == key.fingerprint
    }
}

/// Parses the header at the start of `data` (which may be just a prefix of the file).
pub(crate) fn parse_header(data: &[u8]) -> Result<Header, &'static str> {
    if data.get(..4) != Some(MAGIC.as_slice()) {
        return Err("not a vault object (bad magic)");
    }
    let version = *data.get(4).ok_or("truncated header")?;
    if version != VERSION {
        return Err("unsupported format version");
    }
    let kind =
        Kind::from_byte(*data.get(5).ok_or("truncated header")?).ok_or("unknown object kind")?;
    let id_len = usize::from(*data.get(6).ok_or("truncated header")?);
    if id_len == 0 || id_len > MAX_KEY_ID_LEN {
        return Err("bad key id length");
    }
    let id_end = 7 + id_len;
    let key_id = data.get(7..id_end).ok_or("truncated header")?;
    let key_id = std::str::from_utf8(key_id).map_err(|_| "key id is not text")?;
    let fp_end = id_end + FINGERPRINT_LEN;
    let fingerprint: [u8; FINGERPRINT_LEN] = data
        .get(id_end..fp_end)
        .and_then(|s| s.try_into().ok())
        .ok_or("truncated header")?;
    let nonce_end = fp_end + NONCE_LEN;
    let nonce: [u8; NONCE_LEN] = data
        .get(fp_end..nonce_end)
        .and_then(|s| s.try_into().ok())
        .ok_or("truncated header")?;
    Ok(Header {
        kind,
        key_id: key_id.to_owned(),
        fingerprint,
        nonce,
        len: nonce_end,
    })
}

/// Fills `buf` from the operating system's RNG.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| Error::Rng(e.to_string()))
}

fn cipher(key: &RingKey) -> XChaCha20Poly1305 {
    let k: &[u8; 32] = &key.cipher_key;
    XChaCha20Poly1305::new(k.into())
}

fn associated_data(header: &[u8], binding: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + binding.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(binding);
    aad
}

/// Encrypts `plaintext` under `key` with a fresh random nonce, producing a complete object file.
pub(crate) fn seal(key: &RingKey, kind: Kind, binding: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    let id = key.id.as_bytes();
    let id_len = u8::try_from(id.len()).map_err(|_| Error::BadKey("key id too long".into()))?;
    let header_len = FIXED_HEADER_LEN + id.len();
    let mut out = Vec::with_capacity(header_len + plaintext.len() + TAG_LEN);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(kind as u8);
    out.push(id_len);
    out.extend_from_slice(id);
    out.extend_from_slice(&key.fingerprint);
    out.extend_from_slice(&nonce);
    let aad = associated_data(&out, binding);
    out.extend_from_slice(plaintext);
    let body = out.get_mut(header_len..).unwrap_or_default();
    let tag = cipher(key)
        .encrypt_inout_detached(&XNonce::from(nonce), &aad, body.into())
        .map_err(|_| Error::TooLarge {
            size: plaintext.len() as u64,
            limit: crate::MAX_EVIDENCE_BYTES,
        })?;
    out.extend_from_slice(tag.as_slice());
    Ok(out)
}

/// Authenticates and decrypts a complete object file, returning the plaintext (decrypted in place, no copy).
///
/// `path` is only for error messages.
pub(crate) fn open(
    ring: &KeyRing,
    expect: Kind,
    binding: &[u8],
    mut data: Vec<u8>,
    path: &Path,
) -> Result<Vec<u8>> {
    let header = parse_header(&data).map_err(|reason| corrupt(path, reason))?;
    if header.kind != expect {
        return Err(corrupt(path, "object kind does not match its place"));
    }
    let key = ring.find(&header.key_id).ok_or_else(|| Error::UnknownKey {
        key_id: header.key_id.clone(),
        path: path.to_owned(),
    })?;
    if key.fingerprint != header.fingerprint {
        return Err(Error::KeyMismatch {
            key_id: header.key_id,
            path: path.to_owned(),
        });
    }
    let tag_start = data
        .len()
        .checked_sub(TAG_LEN)
        .filter(|&t| t >= header.len)
        .ok_or_else(|| corrupt(path, "truncated object"))?;
    let tag = Tag::try_from(data.get(tag_start..).unwrap_or_default())
        .map_err(|_| corrupt(path, "truncated object"))?;
    let aad = associated_data(data.get(..header.len).unwrap_or_default(), binding);
    let body = data.get_mut(header.len..tag_start).unwrap_or_default();
    cipher(key)
        .decrypt_inout_detached(&XNonce::from(header.nonce), &aad, body.into(), &tag)
        .map_err(|_| corrupt(path, "authentication failed"))?;
    data.truncate(tag_start);
    data.drain(..header.len);
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> KeyRing {
        KeyRing::from_keys([("k1", [1u8; 32])]).expect("ring")
    }

    #[test]
    fn seal_open_round_trip_and_layout() {
        let ring = ring();
        let sealed = seal(ring.current(), Kind::Content, b"bind", b"hello").expect("seal");
        assert_eq!(sealed.len(), FIXED_HEADER_LEN + 2 + 5 + TAG_LEN);
        assert_eq!(&sealed[..4], b"SCHV");
        assert_eq!(sealed[4], VERSION);
        assert_eq!(sealed[5], Kind::Content as u8);
        assert_eq!(&sealed[7..9], b"k1");
        assert!(
            !sealed.windows(5).any(|w| w == b"hello"),
            "plaintext visible"
        );
        let plain = open(&ring, Kind::Content, b"bind", sealed, Path::new("x")).expect("open");
        assert_eq!(plain, b"hello");
    }

    #[test]
    fn nonces_are_fresh() {
        let ring = ring();
        let a = seal(ring.current(), Kind::Content, b"", b"same").expect("seal");
        let b = seal(ring.current(), Kind::Content, b"", b"same").expect("seal");
        assert_ne!(a, b);
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let ring = ring();
        let sealed = seal(ring.current(), Kind::Fetch, b"bind", b"some metadata").expect("seal");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            let err = open(&ring, Kind::Fetch, b"bind", bad, Path::new("x")).expect_err("tamper");
            assert!(
                matches!(
                    err,
                    Error::Corrupt { .. } | Error::UnknownKey { .. } | Error::KeyMismatch { .. }
                ),
                "byte {i}: {err:?}"
            );
        }
    }

    #[test]
    fn wrong_binding_or_kind_fails() {
        let ring = ring();
        let sealed = seal(ring.current(), Kind::Fetch, b"bind", b"x").expect("seal");
        let err = open(&ring, Kind::Fetch, b"bind2", sealed.clone(), Path::new("x"))
            .expect_err("binding");
        assert!(matches!(
            err,
            Error::Corrupt {
                reason: "authentication failed",
                ..
            }
        ));
        let err = open(&ring, Kind::Content, b"bind", sealed, Path::new("x")).expect_err("kind");
        assert!(matches!(err, Error::Corrupt { .. }));
    }

    #[test]
    fn truncations_never_panic() {
        let ring = ring();
        let sealed = seal(ring.current(), Kind::Content, b"", b"0123456789").expect("seal");
        for n in 0..sealed.len() {
            let err = open(
                &ring,
                Kind::Content,
                b"",
                sealed[..n].to_vec(),
                Path::new("x"),
            )
            .expect_err("truncated");
            assert!(matches!(err, Error::Corrupt { .. }), "{n}: {err:?}");
        }
    }

    #[test]
    fn missing_and_mismatched_keys_are_typed() {
        let ring = ring();
        let sealed = seal(ring.current(), Kind::Content, b"", b"x").expect("seal");
        let other = KeyRing::from_keys([("k9", [9u8; 32])]).expect("ring");
        let err =
            open(&other, Kind::Content, b"", sealed.clone(), Path::new("x")).expect_err("unknown");
        assert!(matches!(err, Error::UnknownKey { ref key_id, .. } if key_id == "k1"));
        let same_id = KeyRing::from_keys([("k1", [9u8; 32])]).expect("ring");
        let err = open(&same_id, Kind::Content, b"", sealed, Path::new("x")).expect_err("mismatch");
        assert!(matches!(err, Error::KeyMismatch { ref key_id, .. } if key_id == "k1"));
    }
}
