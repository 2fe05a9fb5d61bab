//! Time-based one-time passwords (RFC 6238 over HOTP, RFC 4226) with HMAC-SHA1, 30-second
//! steps and 6 digits: what every authenticator app speaks. Implemented here because it is
//! twenty lines on top of `hmac` + `sha1`, which we already use.

use hmac::{KeyInit, Mac};

/// Step length in seconds.
pub const STEP_SECS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;

/// The HOTP value of `secret` at `counter`, `digits` long (RFC 4226 §5.3).
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret) else {
        // HMAC accepts keys of any length; this cannot happen.
        return 0;
    };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h[h.len() - 1] & 0x0f);
    let bin = (u32::from(h[offset] & 0x7f) << 24)
        | (u32::from(h[offset + 1]) << 16)
        | (u32::from(h[offset + 2]) << 8)
        | u32::from(h[offset + 3]);
    bin % 10u32.pow(digits)
}

/// The time step of a Unix time.
pub fn step(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// Checks a typed code against the steps around `unix_secs` (one step either way, for clock
/// drift). Returns the matching step, which the caller records so a code counts once.
pub fn verify(secret_b32: &str, code: &str, unix_secs: i64) -> Option<i64> {
    let secret = decode_secret(secret_b32)?;
    let code = code.trim().replace(' ', "");
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let want: u32 = code.parse().ok()?;
    let now = step(unix_secs);
    let mut found = None;
    // Check every candidate (no early return) so timing does not reveal which one matched.
    for s in [now - 1, now, now + 1] {
        if s >= 0 && hotp(&secret, s as u64, DIGITS) == want {
            found = Some(s);
        }
    }
    found
}

/// A new random 160-bit secret, base32 (what authenticator apps take).
pub fn new_secret() -> String {
    let bytes: [u8; 20] = rand::random();
    data_encoding::BASE32_NOPAD.encode(&bytes)
}

/// Decodes a base32 secret (case, spaces and padding tolerated).
pub fn decode_secret(b32: &str) -> Option<Vec<u8>> {
    let clean: String = b32
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    data_encoding::BASE32_NOPAD.decode(clean.as_bytes()).ok()
}

/// The `otpauth://` URI an authenticator app imports.
pub fn uri(issuer: &str, account: &str, secret_b32: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(issuer),
        enc(account),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (8 digits, the ASCII seed "12345678901234567890").
    #[test]
    fn rfc6238_sha1_vectors() {
        let seed = b"12345678901234567890";
        for (t, want) in [
            (59_i64, 94287082_u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(hotp(seed, step(t) as u64, 8), want, "T = {t}");
        }
    }

    /// RFC 4226 appendix D: HOTP values of the same seed for counters 0..9 (6 digits).
    #[test]
    fn rfc4226_vectors() {
        let want = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (c, w) in want.into_iter().enumerate() {
            assert_eq!(hotp(b"12345678901234567890", c as u64, 6), w);
        }
    }

    #[test]
    fn verify_accepts_one_step_of_drift_and_nothing_else() {
        let secret = data_encoding::BASE32_NOPAD.encode(b"12345678901234567890");
        let t = 1_111_111_109;
        let code = |s: i64| format!("{:06}", hotp(b"12345678901234567890", s as u64, 6));
        assert_eq!(verify(&secret, &code(step(t)), t), Some(step(t)));
        assert_eq!(verify(&secret, &code(step(t) - 1), t), Some(step(t) - 1));
        assert_eq!(verify(&secret, &code(step(t) + 1), t), Some(step(t) + 1));
        assert_eq!(verify(&secret, &code(step(t) + 2), t), None);
        assert_eq!(verify(&secret, "12345", t), None);
        assert_eq!(verify(&secret, "abcdef", t), None);
        // Lower case and spaces in the secret are fine.
        let lower = secret.to_ascii_lowercase();
        assert_eq!(verify(&lower, &code(step(t)), t), Some(step(t)));
    }

    #[test]
    fn new_secrets_are_random_160_bit() {
        let a = new_secret();
        assert_ne!(a, new_secret());
        assert_eq!(decode_secret(&a).map(|b| b.len()), Some(20));
        assert!(uri("schoon", "anna", &a).starts_with("otpauth://totp/schoon:anna?secret="));
    }
}
