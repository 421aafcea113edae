//! Time-based one-time passwords (RFC 6238, HMAC-SHA1, 30-second steps, 6 digits), as
//! authenticator apps compute them from the secret AssociateSoftwareToken hands out.

use aws_lc_rs::hmac;

const STEP_SECONDS: i64 = 30;
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A new secret: 20 random bytes (RFC 4226's recommended 160 bits), which base32 writes
/// as the 32 characters Cognito's `SecretCode` has.
pub fn new_secret() -> String {
    base32_encode(&crate::crypto::random_bytes(20))
}

pub fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in data {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes base32, ignoring case, spaces and `=` padding as authenticator apps do.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| *c != ' ' && *c != '=') {
        let value = BASE32
            .iter()
            .position(|b| *b as char == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// The code for one 30-second step.
pub fn code_at(secret: &[u8], step: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = hmac::sign(&key, &step.to_be_bytes());
    let mac = mac.as_ref();
    let offset = (mac[mac.len() - 1] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        mac[offset],
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]) & 0x7fff_ffff;
    format!("{:06}", binary % 1_000_000)
}

pub fn step_of(now_ms: i64) -> i64 {
    now_ms.div_euclid(1000) / STEP_SECONDS
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpCheck {
    /// The code matched this step.
    Valid(i64),
    /// The code matched a step at or before the last one accepted: a replayed code.
    Reused,
    Mismatch,
}

/// Checks `code` against the current step and one step either side (clock drift), and
/// refuses any step not after `last_used_step`, so an observed code cannot be replayed.
pub fn check(secret_b32: &str, code: &str, now_ms: i64, last_used_step: Option<i64>) -> TotpCheck {
    let Some(secret) = base32_decode(secret_b32) else {
        return TotpCheck::Mismatch;
    };
    let now = step_of(now_ms);
    for step in [now, now - 1, now + 1] {
        let expected = code_at(&secret, step);
        if crate::crypto::constant_time_eq(expected.as_bytes(), code.as_bytes()) {
            return if last_used_step.is_some_and(|last| step <= last) {
                TotpCheck::Reused
            } else {
                TotpCheck::Valid(step)
            };
        }
    }
    TotpCheck::Mismatch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 appendix B, truncated to 6 digits.
        let secret = b"12345678901234567890";
        assert_eq!(code_at(secret, 59 / 30), "287082");
        assert_eq!(code_at(secret, 1_111_111_109 / 30), "081804");
        assert_eq!(code_at(secret, 20_000_000_000 / 30), "353130");
    }

    #[test]
    fn base32_round_trip_and_length() {
        let s = new_secret();
        assert_eq!(s.len(), 32);
        assert_eq!(base32_encode(&base32_decode(&s).unwrap()), s);
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("mzxw 6ytb oi======").unwrap(), b"foobar");
        assert_eq!(base32_decode("M1"), None);
    }

    #[test]
    fn drift_and_replay() {
        let s = new_secret();
        let raw = base32_decode(&s).unwrap();
        let now = 1_800_000_000_000;
        let step = step_of(now);
        assert_eq!(
            check(&s, &code_at(&raw, step), now, None),
            TotpCheck::Valid(step)
        );
        assert_eq!(
            check(&s, &code_at(&raw, step - 1), now, None),
            TotpCheck::Valid(step - 1)
        );
        assert_eq!(
            check(&s, &code_at(&raw, step + 1), now, None),
            TotpCheck::Valid(step + 1)
        );
        assert_eq!(
            check(&s, &code_at(&raw, step - 2), now, None),
            TotpCheck::Mismatch
        );
        assert_eq!(
            check(&s, &code_at(&raw, step), now, Some(step)),
            TotpCheck::Reused
        );
        assert_eq!(
            check(&s, &code_at(&raw, step), now, Some(step - 1)),
            TotpCheck::Valid(step)
        );
    }
}
