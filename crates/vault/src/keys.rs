//! The key ring: configured master keys, the derived per-key secrets, and their fingerprints.
//!
//! Configuration gives keys as `"id:MATERIAL"` strings, newest first (`[vault] keys = ["k2:…", "k1:…"]`). The first
//! key is *current*: everything new is written under it. Every key in the ring can read. Material is 32 bytes as
//! 64 hex digits or base64 (standard or URL-safe alphabet, padded or not).
//!
//! The configured key is never used directly as a cipher key. HKDF-SHA256 derives from it
//! - the XChaCha20-Poly1305 key for vault objects, and
//! - an 8-byte fingerprint written into each object header, so that "key id `k1` is configured but it is a
//!   different key" is reported as [`Error::KeyMismatch`] instead of as tampering.
//!
//! Key bytes live in `Zeroizing` buffers and are wiped on drop; `Debug` prints key ids only.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Length of a master key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of the key fingerprint stored in object headers.
pub(crate) const FINGERPRINT_LEN: usize = 8;
/// Longest key id accepted (it is stored in every object header).
pub const MAX_KEY_ID_LEN: usize = 32;

/// HKDF salt: fixes the derivation to this vault format so the same master key used elsewhere yields unrelated keys.
const HKDF_SALT: &[u8] = b"schoon-vault/v1";

/// One key of the ring with its derived secrets.
#[derive(Clone)]
pub(crate) struct RingKey {
    pub(crate) id: String,
    raw: Zeroizing<[u8; KEY_LEN]>,
    pub(crate) cipher_key: Zeroizing<[u8; KEY_LEN]>,
    pub(crate) fingerprint: [u8; FINGERPRINT_LEN],
}

impl RingKey {
    fn new(id: &str, raw: Zeroizing<[u8; KEY_LEN]>) -> Result<Self> {
        validate_id(id)?;
        let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), raw.as_ref());
        let mut cipher_key = Zeroizing::new([0u8; KEY_LEN]);
        let mut fingerprint = [0u8; FINGERPRINT_LEN];
        hk.expand(b"object-key", cipher_key.as_mut())
            .and_then(|()| hk.expand(b"fingerprint", &mut fingerprint))
            .map_err(|_| Error::BadKey("key derivation failed".into()))?;
        Ok(Self {
            id: id.to_owned(),
            raw,
            cipher_key,
            fingerprint,
        })
    }
}

/// The vault's keys, current first. Cheap to clone; wipes key bytes on drop.
///
/// Why a ring: keys must be rotatable without downtime. Put the new key first, keep the old ones so existing
/// objects stay readable, run [`crate::Vault::rotate`], then drop the old keys from the configuration.
#[derive(Clone)]
pub struct KeyRing {
    /// The key new objects are written under (a separate field so "the ring is never empty" is a type fact).
    current: RingKey,
    /// Older keys, newest first: read-only.
    older: Vec<RingKey>,
}

impl KeyRing {
    /// Parses configuration entries `"id:MATERIAL"`, current key first.
    ///
    /// Errors ([`Error::BadKey`]) name the entry's position and id but never echo key material.
    pub fn from_config<S: AsRef<str>>(entries: &[S]) -> Result<Self> {
        let mut keys = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let n = i + 1;
            let Some((id, material)) = entry.as_ref().split_once(':') else {
                return Err(Error::BadKey(format!(
                    "key entry {n} is not of the form \"id:KEY\""
                )));
            };
            let raw = decode_material(material)
                .map_err(|why| Error::BadKey(format!("key entry {n} (id {id:?}): {why}")))?;
            keys.push((id.to_owned(), raw));
        }
        Self::build(keys)
    }

    /// Builds a ring from raw 32-byte keys, current first. Mostly for tests and tools.
    pub fn from_keys<I, S>(keys: I) -> Result<Self>
    where
        I: IntoIterator<Item = (S, [u8; KEY_LEN])>,
        S: Into<String>,
    {
        Self::build(
            keys.into_iter()
                .map(|(id, raw)| (id.into(), Zeroizing::new(raw)))
                .collect(),
        )
    }

    /// A ring with one fresh random key from the operating system's RNG, for a first start. Persist it with
    /// [`KeyRing::export_config_entries`] — a vault whose keys are lost is unreadable.
    pub fn generate(id: &str) -> Result<Self> {
        let mut raw = Zeroizing::new([0u8; KEY_LEN]);
        crate::format::fill_random(raw.as_mut())?;
        Self::build(vec![(id.to_owned(), raw)])
    }

    fn build(entries: Vec<(String, Zeroizing<[u8; KEY_LEN]>)>) -> Result<Self> {
        let mut keys: Vec<RingKey> = Vec::with_capacity(entries.len());
        for (id, raw) in entries {
            if keys.iter().any(|k| k.id == id) {
                return Err(Error::BadKey(format!("key id {id:?} appears twice")));
            }
            let key = RingKey::new(&id, raw)?;
            if let Some(twin) = keys.iter().find(|k| k.fingerprint == key.fingerprint) {
                return Err(Error::BadKey(format!(
                    "key ids {:?} and {id:?} hold the same key",
                    twin.id
                )));
            }
            keys.push(key);
        }
        let mut keys = keys.into_iter();
        match keys.next() {
            Some(current) => Ok(Self {
                current,
                older: keys.collect(),
            }),
            None => Err(Error::BadKey("the key ring is empty".into())),
        }
    }

    /// The configuration strings (`"id:BASE64"`, current first) for this ring. **Reveals the keys**: only for
    /// writing a configuration file on first start or for a key-management tool.
    pub fn export_config_entries(&self) -> Vec<Zeroizing<String>> {
        self.all()
            .map(|k| Zeroizing::new(format!("{}:{}", k.id, STANDARD.encode(k.raw.as_ref()))))
            .collect()
    }

    /// The id of the key new objects are written under.
    pub fn current_id(&self) -> &str {
        &self.current().id
    }

    /// All key ids, current first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.all().map(|k| k.id.as_str())
    }

    fn all(&self) -> impl Iterator<Item = &RingKey> {
        std::iter::once(&self.current).chain(self.older.iter())
    }

    pub(crate) fn current(&self) -> &RingKey {
        &self.current
    }

    pub(crate) fn find(&self, id: &str) -> Option<&RingKey> {
        self.all().find(|k| k.id == id)
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("current", &self.current_id())
            .field("ids", &self.ids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Key ids: 1–32 characters of `A-Z a-z 0-9 . _ -` (stored in every object header; no separators that could
/// confuse configuration parsing).
fn validate_id(id: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if id.is_empty() || id.len() > MAX_KEY_ID_LEN || !id.chars().all(ok_char) {
        return Err(Error::BadKey(format!(
            "key id {id:?} must be 1–{MAX_KEY_ID_LEN} characters of A-Z a-z 0-9 . _ -"
        )));
    }
    Ok(())
}

/// Decodes 64 hex digits or base64 of 32 bytes. The error text never contains the input.
fn decode_material(s: &str) -> Result<Zeroizing<[u8; KEY_LEN]>, &'static str> {
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    if s.len() == 2 * KEY_LEN && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode_to_slice(s, out.as_mut()).map_err(|_| "invalid hex key")?;
        return Ok(out);
    }
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        if let Ok(bytes) = engine.decode(s).map(Zeroizing::new) {
            if bytes.len() != KEY_LEN {
                return Err("key must be 32 bytes (44 base64 characters or 64 hex digits)");
            }
            out.copy_from_slice(&bytes);
            return Ok(out);
        }
    }
    Err("key is neither 64 hex digits nor base64")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_and_base64_forms_to_the_same_key() {
        let raw = [0x5au8; 32];
        let b64 = STANDARD.encode(raw);
        let b64_url = URL_SAFE_NO_PAD.encode(raw);
        let hexed = hex::encode(raw);
        for material in [b64, b64_url, hexed] {
            let ring = KeyRing::from_config(&[format!("k1:{material}")]).expect("parses");
            assert_eq!(*ring.current().raw, raw);
        }
    }

    #[test]
    fn first_entry_is_current_and_all_ids_are_listed() {
        let ring = KeyRing::from_keys([("k2", [2u8; 32]), ("k1", [1u8; 32])]).expect("ring");
        assert_eq!(ring.current_id(), "k2");
        assert_eq!(ring.ids().collect::<Vec<_>>(), ["k2", "k1"]);
        assert!(ring.find("k1").is_some());
        assert!(ring.find("k3").is_none());
    }

    #[test]
    fn rejects_bad_entries_without_echoing_material() {
        let secretish = "c2VjcmV0LXNob3J0"; // base64 of a 12-byte string
        let cases: Vec<Vec<String>> = vec![
            vec![],
            vec![format!("k1{secretish}")],
            vec![format!("k1:{secretish}")],
            vec!["k1:not base64 !!".into()],
            vec![format!(":{}", hex::encode([1u8; 32]))],
            vec![format!("k 1:{}", hex::encode([1u8; 32]))],
            vec![format!("{}:{}", "k".repeat(33), hex::encode([1u8; 32]))],
            vec![
                format!("k1:{}", hex::encode([1u8; 32])),
                format!("k1:{}", hex::encode([2u8; 32])),
            ],
            vec![
                format!("k1:{}", hex::encode([1u8; 32])),
                format!("k2:{}", hex::encode([1u8; 32])),
            ],
        ];
        for entries in cases {
            let err = KeyRing::from_config(&entries).expect_err("must be rejected");
            assert!(matches!(err, Error::BadKey(_)), "{err:?}");
            let msg = err.to_string();
            assert!(!msg.contains(secretish), "material echoed: {msg}");
            assert!(
                !msg.contains(&hex::encode([1u8; 32])),
                "material echoed: {msg}"
            );
        }
    }

    #[test]
    fn debug_shows_ids_not_keys() {
        let raw = [0xabu8; 32];
        let ring = KeyRing::from_keys([("k1", raw)]).expect("ring");
        let dbg = format!("{ring:?}");
        assert!(dbg.contains("k1"));
        assert!(!dbg.contains(&hex::encode(raw)));
        assert!(!dbg.contains(&STANDARD.encode(raw)));
        assert!(!dbg.to_lowercase().contains("ab, ab"));
        assert!(!dbg.contains("171"));
    }

    #[test]
    fn generate_and_export_round_trip() {
        let ring = KeyRing::generate("first").expect("rng");
        let entries: Vec<String> = ring
            .export_config_entries()
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect();
        assert_eq!(entries.len(), 1);
        assert!(entries[0].starts_with("first:"));
        let again = KeyRing::from_config(&entries).expect("parses");
        assert_eq!(*again.current().raw, *ring.current().raw);
        assert_eq!(again.current().fingerprint, ring.current().fingerprint);
        let other = KeyRing::generate("first").expect("rng");
        assert_ne!(
            *other.current().raw,
            *ring.current().raw,
            "two generated keys collided"
        );
    }

    #[test]
    fn derived_key_differs_from_configured_key() {
        let raw = [7u8; 32];
        let ring = KeyRing::from_keys([("k1", raw)]).expect("ring");
        assert_ne!(*ring.current().cipher_key, raw);
        assert_ne!(ring.current().fingerprint, [0u8; 8]);
    }
}
