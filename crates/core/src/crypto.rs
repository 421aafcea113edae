//! Secrets at rest and the small primitives around them. One provider: aws-lc-rs.

use crate::error::DomainError;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{digest, hmac};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// Equal-length byte strings compared without an early exit; lengths are public.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut buf).expect("the system RNG works");
    buf
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

/// SHA-1, only because breached-password lists (Pwned Passwords) are keyed by it.
pub fn sha1_for_breach_lists(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .to_vec()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

pub fn b64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s).ok()
}

pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// Cognito's SECRET_HASH: Base64(HMAC-SHA256(client secret, username + client id)).
pub fn secret_hash(client_secret: &str, username: &str, client_id: &str) -> String {
    b64(&hmac_sha256(
        client_secret.as_bytes(),
        format!("{username}{client_id}").as_bytes(),
    ))
}

/// The key that encrypts secrets at rest (password verifiers, signing keys, client
/// secrets). A copy of the database without it yields nothing to brute-force.
pub struct MasterKey {
    key: LessSafeKey,
    /// For values that must be stable and secret, never decrypted (decoy SRP salts).
    mac: hmac::Key,
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DomainError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| DomainError::Internal("the master key must be 32 bytes".into()))?;
        let mac_key = hmac_sha256(bytes, b"idpool keyed hash");
        Ok(MasterKey {
            key: LessSafeKey::new(unbound),
            mac: hmac::Key::new(hmac::HMAC_SHA256, &mac_key),
        })
    }

    /// HMAC-SHA256 under a key derived from the master key: stable per input, and
    /// unpredictable without the key.
    pub fn keyed_hash(&self, data: &[u8]) -> Vec<u8> {
        hmac::sign(&self.mac, data).as_ref().to_vec()
    }

    /// Encrypts with a random nonce; `purpose` is bound as associated data so a
    /// ciphertext cannot be moved from one field to another.
    pub fn encrypt(&self, plaintext: &[u8], purpose: &[u8]) -> String {
        let nonce_bytes = random_bytes(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&nonce_bytes).expect("12 bytes");
        let mut data = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(nonce, Aad::from(purpose), &mut data)
            .expect("AES-GCM sealing cannot fail for in-memory data");
        let mut out = nonce_bytes;
        out.extend_from_slice(&data);
        b64(&out)
    }

    pub fn decrypt(&self, ciphertext: &str, purpose: &[u8]) -> Result<Vec<u8>, DomainError> {
        let raw = STANDARD
            .decode(ciphertext)
            .map_err(|_| DomainError::Internal("stored secret is not base64".into()))?;
        if raw.len() < NONCE_LEN {
            return Err(DomainError::Internal("stored secret is truncated".into()));
        }
        let (nonce_bytes, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce_bytes).expect("12 bytes");
        let mut data = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(purpose), &mut data)
            .map_err(|_| {
                DomainError::Internal("stored secret does not decrypt with this master key".into())
            })?;
        Ok(plain.to_vec())
    }

    pub fn encrypt_str(&self, s: &str, purpose: &[u8]) -> String {
        self.encrypt(s.as_bytes(), purpose)
    }

    pub fn decrypt_str(&self, s: &str, purpose: &[u8]) -> Result<String, DomainError> {
        String::from_utf8(self.decrypt(s, purpose)?)
            .map_err(|_| DomainError::Internal("stored secret is not UTF-8".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_purpose_binding() {
        let k = MasterKey::from_bytes(&[1u8; 32]).unwrap();
        let c = k.encrypt(b"hello", b"a");
        assert_eq!(k.decrypt(&c, b"a").unwrap(), b"hello");
        assert!(k.decrypt(&c, b"b").is_err());
        assert_ne!(k.encrypt(b"hello", b"a"), c, "fresh nonce every time");
    }

    #[test]
    fn secret_hash_matches_the_documented_formula() {
        // Computed with Python: base64(hmac(sha256, b"secret", b"userclient"))
        assert_eq!(
            secret_hash("secret", "user", "client"),
            "wvW87lzZoI+qQCVGmWVBJLlucdJ65huAVP1z+0MgA6E="
        );
    }
}
