//! Identifiers and one-time secrets shaped like Cognito's, so clients that validate
//! formats (pool id regex, 26-character client ids) accept them.

use crate::crypto::random_bytes;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Uniform choice from `alphabet` (rejection sampling: no modulo bias).
pub fn random_string(alphabet: &[u8], len: usize) -> String {
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in random_bytes(len * 2) {
            if (b as usize) < limit && out.len() < len {
                out.push(alphabet[b as usize % alphabet.len()] as char);
            }
        }
    }
    out
}

/// `us-east-1_AbCdEf123`: region, '_', 9 alphanumerics.
pub fn user_pool_id(region: &str) -> String {
    format!("{region}_{}", random_string(ALNUM, 9))
}

/// 26 lowercase alphanumerics, as Cognito's app client ids.
pub fn client_id() -> String {
    random_string(LOWER_ALNUM, 26)
}

/// 51 lowercase alphanumerics, as Cognito's generated client secrets.
pub fn client_secret() -> String {
    random_string(LOWER_ALNUM, 51)
}

pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A 6-digit code for confirmation, verification and password reset messages.
pub fn numeric_code() -> String {
    random_string(b"0123456789", 6)
}

/// A temporary password that satisfies any Cognito password policy: every character
/// class, and at least `min_len` (Cognito's policies allow up to 99) characters.
pub fn temporary_password(min_len: usize) -> String {
    let len = min_len.max(12);
    let mut p = String::new();
    p.push_str(&random_string(b"ABCDEFGHJKLMNPQRSTUVWXYZ", 1));
    p.push_str(&random_string(b"abcdefghijkmnopqrstuvwxyz", 1));
    p.push_str(&random_string(b"23456789", 1));
    p.push_str(&random_string(b"!#%&*+-.=?^_", 1));
    p.push_str(&random_string(
        b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789",
        len - 4,
    ));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let id = user_pool_id("eu-west-1");
        assert!(regex_like_pool_id(&id), "{id}");
        assert_eq!(client_id().len(), 26);
        assert!(client_id().bytes().all(|b| LOWER_ALNUM.contains(&b)));
        assert_eq!(numeric_code().len(), 6);
        assert!(temporary_password(20).len() >= 20);
    }

    fn regex_like_pool_id(id: &str) -> bool {
        let (region, rest) = id.split_once('_').unwrap();
        region == "eu-west-1" && rest.len() == 9 && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    }
}
