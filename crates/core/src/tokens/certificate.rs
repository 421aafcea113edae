//! The pool's signing certificate (GetSigningCertificate): a self-signed X.509 v3
//! certificate for the pool's current RSA signing key, which SAML identity providers
//! use to check requests signed by the pool.
//!
//! The certificate is a pure function of the key and its creation time (serial from the
//! kid, validity from the key's creation to ten years later, as Cognito's), and RSA
//! PKCS#1 v1.5 signatures are deterministic, so every node returns the same bytes and a
//! provider configured with it never sees it change until the key does. The DER is
//! written here: the structure is fixed and small, and no X.509 crate is needed.

use crate::error::DomainError;
use crate::tokens::keys::SigningKey;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;

/// Cognito issues signing certificates valid for ten years.
const VALIDITY_SECONDS: i64 = 10 * 365 * 86_400 + 2 * 86_400;

const OID_SHA256_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
const OID_ORGANIZATION: &[u8] = &[0x55, 0x04, 0x0a];

/// DER of the certificate for `key`, created at `created_s` (Unix seconds), with
/// `common_name` (the pool, or the pool and SAML provider of an encryption key) in its
/// subject, which is also its issuer: it is self-signed.
pub fn signing_certificate_der(
    key: &SigningKey,
    common_name: &str,
    created_s: i64,
) -> Result<Vec<u8>, DomainError> {
    let algorithm = sequence(&[tlv(0x06, OID_SHA256_WITH_RSA), tlv(0x05, &[])]);
    let name = sequence(&[
        set(&[sequence(&[
            tlv(0x06, OID_ORGANIZATION),
            tlv(0x0c, b"idpool"),
        ])]),
        set(&[sequence(&[
            tlv(0x06, OID_COMMON_NAME),
            tlv(0x0c, common_name.as_bytes()),
        ])]),
    ]);
    let public_key_info = sequence(&[
        sequence(&[tlv(0x06, OID_RSA_ENCRYPTION), tlv(0x05, &[])]),
        bit_string(&key.public_der),
    ]);
    let tbs = sequence(&[
        tlv(0xa0, &tlv(0x02, &[2])), // version v3
        tlv(0x02, &serial_number(&key.kid)),
        algorithm.clone(),
        name.clone(),
        sequence(&[time(created_s), time(created_s + VALIDITY_SECONDS)]),
        name,
        public_key_info,
    ]);
    let mut signature = vec![0u8; key.key_pair.public_modulus_len()];
    key.key_pair
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            &tbs,
            &mut signature,
        )
        .map_err(|_| DomainError::Internal("certificate signing failed".into()))?;
    Ok(sequence(&[tbs, algorithm, bit_string(&signature)]))
}

/// A positive serial of 16 bytes derived from the kid, so it is stable for the key.
fn serial_number(kid: &str) -> Vec<u8> {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, kid.as_bytes());
    let mut serial = digest.as_ref()[..16].to_vec();
    serial[0] &= 0x7f;
    serial[0] |= 0x40;
    serial
}

/// UTCTime for years before 2050, GeneralizedTime after, as RFC 5280 requires.
fn time(unix_s: i64) -> Vec<u8> {
    let (y, m, d) = idpool_wire::sigv4::civil_from_days(unix_s.div_euclid(86_400));
    let t = unix_s.rem_euclid(86_400);
    let clock = format!(
        "{m:02}{d:02}{:02}{:02}{:02}Z",
        t / 3600,
        t % 3600 / 60,
        t % 60
    );
    if y < 2050 {
        tlv(0x17, format!("{:02}{clock}", y % 100).as_bytes())
    } else {
        tlv(0x18, format!("{y:04}{clock}").as_bytes())
    }
}

fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(bytes.len() + 1);
    content.push(0); // no unused bits
    content.extend_from_slice(bytes);
    tlv(0x03, &content)
}

fn sequence(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn set(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x31, &parts.concat())
}

/// One DER element: tag, definite length, content.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    #[test]
    fn lengths_and_times() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = tlv(0x04, &[0; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        // 2026-11-23T19:00:00Z and 2051-01-01T00:00:00Z
        assert_eq!(time(1_795_460_400), tlv(0x17, b"261123190000Z"));
        assert_eq!(time(2_556_144_000), tlv(0x18, b"20510101000000Z"));
    }

    #[test]
    fn stable_and_verifiable() {
        let master = MasterKey::from_bytes(&[9u8; 32]).unwrap();
        let (key, _) = SigningKey::generate(&master).unwrap();
        let der = signing_certificate_der(&key, "us-east-1_abc", 1_795_460_400).unwrap();
        assert_eq!(
            der,
            signing_certificate_der(&key, "us-east-1_abc", 1_795_460_400).unwrap(),
            "the same certificate on every call and node"
        );
        assert_eq!(der[0], 0x30);
        let text = String::from_utf8_lossy(&der);
        assert!(text.contains("us-east-1_abc") && text.contains("261123190000Z"));
        // The signature (the last 256 bytes) verifies over the TBS with the key.
        let tbs_len = 4 + u16::from_be_bytes([der[6], der[7]]) as usize;
        let tbs = &der[4..4 + tbs_len];
        let signature = &der[der.len() - 256..];
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            &key.public_der,
        )
        .verify(tbs, signature)
        .unwrap();
    }
}
