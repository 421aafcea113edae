//! Compact JWS with RS256: the only algorithm Cognito uses, and the only one accepted,
//! so an `alg: none` or HS256-with-the-public-key token can never pass.

use crate::crypto::{b64url, b64url_decode};
use crate::error::DomainError;
use crate::tokens::keys::SigningKey;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use serde_json::{Value, json};

pub fn sign(key: &SigningKey, claims: &Value) -> Result<String, DomainError> {
    let header = json!({"kid": key.kid, "alg": "RS256"});
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mut sig = vec![0u8; key.key_pair.public_modulus_len()];
    key.key_pair
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            signing_input.as_bytes(),
            &mut sig,
        )
        .map_err(|_| DomainError::Internal("RS256 signing failed".into()))?;
    Ok(format!("{signing_input}.{}", b64url(&sig)))
}

/// A token split and decoded, not yet verified.
pub struct Unverified {
    /// Empty when the header names no key (some external providers publish one key
    /// and leave `kid` out).
    pub kid: String,
    pub claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

pub fn decode(token: &str) -> Option<Unverified> {
    let mut parts = token.split('.');
    let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&b64url_decode(h)?).ok()?;
    if header["alg"] != "RS256" {
        return None;
    }
    let claims: Value = serde_json::from_slice(&b64url_decode(c)?).ok()?;
    Some(Unverified {
        kid: header["kid"].as_str().unwrap_or_default().to_string(),
        claims,
        signing_input: format!("{h}.{c}"),
        signature: b64url_decode(s)?,
    })
}

impl Unverified {
    /// Checks the signature with the DER RSAPublicKey of the key named by `kid`.
    pub fn verify(self, public_der: &[u8]) -> Option<Value> {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_der)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .ok()?;
        Some(self.claims)
    }

    /// Checks the signature with an RSA key published as a JWK (`n`, `e`, base64url),
    /// as external OpenID providers publish theirs.
    pub fn verify_with_jwk(self, n: &str, e: &str) -> Option<Value> {
        let (n, e) = (b64url_decode(n)?, b64url_decode(e)?);
        RsaPublicKeyComponents { n: &n, e: &e }
            .verify(
                &RSA_PKCS1_2048_8192_SHA256,
                self.signing_input.as_bytes(),
                &self.signature,
            )
            .ok()?;
        Some(self.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    #[test]
    fn sign_verify_and_tamper() {
        let master = MasterKey::from_bytes(&[3u8; 32]).unwrap();
        let (key, enc) = SigningKey::generate(&master).unwrap();
        let token = sign(&key, &json!({"sub": "abc", "n": 1})).unwrap();
        let claims = decode(&token).unwrap().verify(&key.public_der).unwrap();
        assert_eq!(claims["sub"], "abc");

        let reloaded = SigningKey::load(&master, &key.kid, &enc).unwrap();
        assert!(
            decode(&token)
                .unwrap()
                .verify(&reloaded.public_der)
                .is_some()
        );

        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = b64url(json!({"sub": "admin", "n": 1}).to_string().as_bytes());
        parts[1] = &forged;
        assert!(
            decode(&parts.join("."))
                .unwrap()
                .verify(&key.public_der)
                .is_none()
        );

        let jwk = key.jwk();
        let (n, e) = (jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap());
        assert!(decode(&token).unwrap().verify_with_jwk(n, e).is_some());
        assert!(
            decode(&parts.join("."))
                .unwrap()
                .verify_with_jwk(n, e)
                .is_none()
        );

        let none_alg = format!("{}.{}.", b64url(br#"{"alg":"none","kid":"x"}"#), forged);
        assert!(decode(&none_alg).is_none());
        assert_eq!(key.jwk()["e"], "AQAB");
    }
}
