//! A user's password material: the SRP verifier (DESIGN.md section 3), encrypted with
//! the master key. Plain-password flows recompute the verifier and compare in constant
//! time, so there is one source of truth for both password and SRP sign-in.

use crate::auth::srp;
use crate::crypto::{MasterKey, random_bytes};
use crate::error::DomainError;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// Stored in `UserRow::password`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PasswordRecord {
    /// Hex salt, as Cognito sends it in PASSWORD_VERIFIER's SALT.
    pub salt: String,
    /// The verifier, encrypted with the master key (AES-256-GCM, base64).
    pub verifier: String,
    /// The username the verifier is bound to (USER_ID_FOR_SRP).
    pub srp_username: String,
    /// Unix ms when set; temporary passwords expire from here.
    pub set_at: i64,
    /// An admin-set temporary password (FORCE_CHANGE_PASSWORD).
    #[serde(default)]
    pub temporary: bool,
}

impl PasswordRecord {
    pub fn new(
        master: &MasterKey,
        pool_id: &str,
        srp_username: &str,
        password: &str,
        now: i64,
        temporary: bool,
    ) -> Self {
        // 16 random bytes, as Cognito's salts are 128-bit, never starting with a zero
        // byte: pycognito pads the SALT hex string as sent while
        // amazon-cognito-identity-js pads the number it parses, so "00..." would make
        // the two compute different verifiers (one sign-in in 256 failed before).
        let salt = loop {
            let salt = random_bytes(16);
            if salt[0] != 0 {
                break salt;
            }
        };
        let x = srp::private_key_x(pool_id, srp_username, password, &salt);
        let v = srp::verifier(&x);
        PasswordRecord {
            salt: hex::encode(&salt),
            verifier: master.encrypt(&v, b"srp-verifier"),
            srp_username: srp_username.to_string(),
            set_at: now,
            temporary,
        }
    }

    pub fn verifier_bytes(&self, master: &MasterKey) -> Result<Vec<u8>, DomainError> {
        master.decrypt(&self.verifier, b"srp-verifier")
    }

    /// True if `password` is this user's password.
    pub fn matches(
        &self,
        master: &MasterKey,
        pool_id: &str,
        password: &str,
    ) -> Result<bool, DomainError> {
        let salt = hex::decode(&self.salt)
            .map_err(|e| DomainError::Internal(format!("stored salt: {e}")))?;
        let stored = self.verifier_bytes(master)?;
        let candidate = srp::verifier(&srp::private_key_x(
            pool_id,
            &self.srp_username,
            password,
            &salt,
        ));
        Ok(bool::from(stored.ct_eq(&candidate)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salts_never_start_with_a_zero_byte() {
        let key = MasterKey::from_bytes(&[7u8; 32]).unwrap();
        for _ in 0..1000 {
            let rec = PasswordRecord::new(&key, "us-east-1_X1", "bob", "S3cret!!", 0, false);
            assert!(!rec.salt.starts_with("00"), "{}", rec.salt);
        }
    }

    #[test]
    fn right_and_wrong_passwords() {
        let key = MasterKey::from_bytes(&[7u8; 32]).unwrap();
        let rec = PasswordRecord::new(&key, "us-east-1_X1", "bob", "S3cret!!", 0, false);
        assert!(rec.matches(&key, "us-east-1_X1", "S3cret!!").unwrap());
        assert!(!rec.matches(&key, "us-east-1_X1", "S3cret!?").unwrap());
        assert!(!rec.matches(&key, "us-east-1_X2", "S3cret!!").unwrap());
        let other = MasterKey::from_bytes(&[8u8; 32]).unwrap();
        assert!(
            rec.matches(&other, "us-east-1_X1", "S3cret!!").is_err(),
            "needs the master key"
        );
    }
}
