//! API key credentials: a public id plus a secret, so both `Authorization: Bearer <id>.<secret>`
//! and HTTP Basic `<id>:<secret>` (Arachnid Shield clients) work. Only SHA-256 of the secret is
//! stored: the secret has 256 bits of entropy, so a slow hash buys nothing.

use sha2::{Digest, Sha256};

/// Prefix of every key id, so a leaked id is recognisable.
pub const KEY_ID_PREFIX: &str = "sk";

/// A presented credential.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// Public key id.
    pub id: String,
    /// The secret as presented.
    pub secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("Credential")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// The token form shown once to the key's owner: `<id>.<secret>`.
    pub fn token(&self) -> String {
        format!("{}.{}", self.id, self.secret)
    }

    /// Parses a Bearer token `<id>.<secret>`.
    pub fn from_token(token: &str) -> Option<Credential> {
        let (id, secret) = token.trim().split_once('.')?;
        Self::checked(id, secret)
    }

    /// Builds a credential from Basic-auth user and password.
    pub fn from_basic(user: &str, password: &str) -> Option<Credential> {
        Self::checked(user, password)
    }

    fn checked(id: &str, secret: &str) -> Option<Credential> {
        (is_valid_key_id(id) && !secret.is_empty() && secret.len() <= 256).then(|| Credential {
            id: id.to_string(),
            secret: secret.to_string(),
        })
    }
}

/// Whether a string has the shape of a key id (`sk` + 16..=64 lowercase hex digits).
pub fn is_valid_key_id(id: &str) -> bool {
    id.strip_prefix(KEY_ID_PREFIX).is_some_and(|rest| {
        (16..=64).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Builds a key id from random bytes.
pub fn key_id_from_random(random: [u8; 8]) -> String {
    format!("{KEY_ID_PREFIX}{}", hex::encode(random))
}

/// Builds a secret from random bytes (lowercase hex: safe in Basic auth and Bearer tokens).
pub fn secret_from_random(random: [u8; 32]) -> String {
    hex::encode(random)
}

/// The stored form of a secret: lowercase hex SHA-256.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares a presented secret with the stored hash in constant time.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    let presented = hash_secret(secret);
    let (a, b) = (presented.as_bytes(), stored_hash.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trip_and_secret_check() {
        let c = Credential {
            id: key_id_from_random([1, 2, 3, 4, 5, 6, 7, 8]),
            secret: secret_from_random([9; 32]),
        };
        assert_eq!(Credential::from_token(&c.token()), Some(c.clone()));
        let stored = hash_secret(&c.secret);
        assert!(secret_matches(&c.secret, &stored));
        assert!(!secret_matches("wrong", &stored));
        assert!(!format!("{c:?}").contains(&c.secret));
    }

    #[test]
    fn malformed_credentials_are_refused() {
        assert_eq!(Credential::from_token("nodot"), None);
        assert_eq!(Credential::from_token("xx0102030405060708.secret"), None);
        assert_eq!(Credential::from_token("sk0102030405060708."), None);
        assert_eq!(Credential::from_basic("SK0102030405060708", "s"), None);
        assert!(Credential::from_basic("sk0102030405060708", "s").is_some());
    }
}
