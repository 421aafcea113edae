//! Per-pool RSA signing keys and their JWKS form.

use crate::crypto::{MasterKey, b64url, random_bytes};
use crate::error::DomainError;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RsaKeyPair};
use serde_json::{Value, json};

/// A usable signing key: the key pair and the public JWK that the JWKS publishes.
pub struct SigningKey {
    pub kid: String,
    pub key_pair: RsaKeyPair,
    /// The DER RSAPublicKey, for verification.
    pub public_der: Vec<u8>,
}

impl SigningKey {
    /// The purpose the master key binds to a stored key's ciphertext.
    pub const SEALING_PURPOSE: &'static [u8] = b"signing-key";

    /// A fresh 2048-bit key, as Cognito's. Returns it with its encrypted PKCS#8 form.
    pub fn generate(master: &MasterKey) -> Result<(SigningKey, String), DomainError> {
        let key_pair = RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| DomainError::Internal("RSA key generation failed".into()))?;
        let der = key_pair
            .as_der()
            .map_err(|_| DomainError::Internal("RSA key encoding failed".into()))?;
        let encrypted = master.encrypt(der.as_ref(), Self::SEALING_PURPOSE);
        // Cognito's kids are base64 of a hash; any stable unique string works for clients.
        let kid = crate::crypto::b64(&random_bytes(32));
        let public_der = key_pair.public_key().as_ref().to_vec();
        Ok((
            SigningKey {
                kid,
                key_pair,
                public_der,
            },
            encrypted,
        ))
    }

    pub fn load(master: &MasterKey, kid: &str, encrypted: &str) -> Result<SigningKey, DomainError> {
        let der = master.decrypt(encrypted, Self::SEALING_PURPOSE)?;
        let key_pair = RsaKeyPair::from_pkcs8(&der)
            .map_err(|_| DomainError::Internal("stored signing key is not PKCS#8 RSA".into()))?;
        let public_der = key_pair.public_key().as_ref().to_vec();
        Ok(SigningKey {
            kid: kid.to_string(),
            key_pair,
            public_der,
        })
    }

    /// The key as a JWK, in the shape Cognito's JWKS uses.
    pub fn jwk(&self) -> Value {
        let public = self.key_pair.public_key();
        json!({
            "alg": "RS256",
            "e": b64url(public.exponent().big_endian_without_leading_zero()),
            "kid": self.kid,
            "kty": "RSA",
            "n": b64url(public.modulus().big_endian_without_leading_zero()),
            "use": "sig",
        })
    }
}
