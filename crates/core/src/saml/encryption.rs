//! Encrypted assertions (`saml:EncryptedAssertion`, XML Encryption 1.1), which a SAML
//! provider sends when its `EncryptedResponses` is on: the assertion encrypted with a
//! fresh AES key, and that key encrypted to the provider's encryption certificate,
//! whose private key idpool keeps (Cognito gives every SAML provider its own key pair).
//!
//! Only what does not leak the key or the plaintext is accepted:
//! - key transport RSA-OAEP (`rsa-oaep-mgf1p`, or XML Encryption 1.1 `rsa-oaep` with
//!   matching SHA-1 or SHA-256 digest and MGF1); RSA PKCS#1 v1.5 is refused, since a
//!   server that reports its padding errors decrypts for anyone (Bleichenbacher);
//! - content AES-GCM, and AES-CBC because ADFS and Shibboleth still default to it. CBC
//!   is malleable, so whoever can tell a padding error from a parse error from a bad
//!   signature can decrypt byte by byte (Jager and Somorovsky, "How to break XML
//!   Encryption", 2011): every failure here is one message, and the caller gives the
//!   same message when the decrypted assertion's signature does not verify.
//!
//! Decryption gives confidentiality, not authenticity: anyone can encrypt to a public
//! certificate, so the decrypted assertion is still checked as a plaintext one.

use super::dsig::DSIG_NS;
use super::{SamlError, child, children, text_of};
use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::cipher::{AES_128, AES_256, DecryptingKey, DecryptionContext, UnboundCipherKey};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    PrivateDecryptingKey,
};
use base64::Engine;
use roxmltree::Node;

pub const XMLENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
const XMLENC11_NS: &str = "http://www.w3.org/2009/xmlenc11#";
const AES_BLOCK: usize = 16;
const GCM_TAG: usize = 16;

/// The one message for every way decryption can fail (see the module comment).
pub const UNDECRYPTABLE: &str =
    "The encrypted assertion could not be decrypted and verified with this provider's keys.";

fn undecryptable() -> SamlError {
    SamlError::Rejected(UNDECRYPTABLE.into())
}

/// The private key of a provider's encryption certificate.
pub struct AssertionDecryptionKey(OaepPrivateDecryptingKey);

impl AssertionDecryptionKey {
    pub fn from_pkcs8(der: &[u8]) -> Option<AssertionDecryptionKey> {
        let key = PrivateDecryptingKey::from_pkcs8(der).ok()?;
        OaepPrivateDecryptingKey::new(key)
            .ok()
            .map(AssertionDecryptionKey)
    }

    /// A PEM private key as IAM's AddPrivateKey takes it: PKCS#8 (`PRIVATE KEY`) or
    /// PKCS#1 (`RSA PRIVATE KEY`), RSA, unencrypted. Returns the key and its PKCS#8 DER
    /// (to be stored sealed).
    pub fn from_pem(pem: &str) -> Result<(AssertionDecryptionKey, Vec<u8>), String> {
        let (label, der) = pem_block(pem)
            .ok_or_else(|| "The private key is not a PEM-encoded key.".to_string())?;
        let pkcs8 = match label.as_str() {
            "PRIVATE KEY" => der,
            "RSA PRIVATE KEY" => pkcs8_of_pkcs1(&der),
            "ENCRYPTED PRIVATE KEY" => {
                return Err("The private key is encrypted; upload it unencrypted.".into());
            }
            other => return Err(format!("A PEM block of type {other} is not a private key.")),
        };
        let key = AssertionDecryptionKey::from_pkcs8(&pkcs8)
            .ok_or_else(|| "The private key is not an RSA key of 2048 bits or more.".to_string())?;
        Ok((key, pkcs8))
    }

    fn unwrap_key(&self, algorithm: &'static OaepAlgorithm, wrapped: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![0u8; self.0.min_output_size()];
        let key = self.0.decrypt(algorithm, wrapped, &mut out, None).ok()?;
        Some(key.to_vec())
    }
}

/// The label and content of the first PEM block of `pem`.
fn pem_block(pem: &str) -> Option<(String, Vec<u8>)> {
    let start = pem.find("-----BEGIN ")?;
    let rest = &pem[start + "-----BEGIN ".len()..];
    let (label, rest) = rest.split_once("-----")?;
    let end = rest.find(&format!("-----END {label}-----"))?;
    let body: String = rest[..end].chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    Some((label.to_string(), der))
}

/// Wraps a PKCS#1 RSAPrivateKey in a PKCS#8 PrivateKeyInfo (version 0, algorithm
/// rsaEncryption with NULL parameters), the form aws-lc-rs reads.
fn pkcs8_of_pkcs1(pkcs1: &[u8]) -> Vec<u8> {
    use crate::tokens::certificate::tlv;
    const RSA_ALGORITHM: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut info = vec![0x02, 0x01, 0x00];
    info.extend_from_slice(&RSA_ALGORITHM);
    info.extend(tlv(0x04, pkcs1));
    tlv(0x30, &info)
}

/// A URI's algorithm, as the child `ds:DigestMethod` / `xenc11:MGF` of an
/// EncryptionMethod name them (absent means SHA-1, XML Encryption's default).
fn named_algorithm<'a>(method: Node<'a, '_>, ns: &str, name: &str) -> Option<&'a str> {
    child(method, ns, name).and_then(|n| n.attribute("Algorithm"))
}

/// The OAEP parameters an `EncryptedKey`'s EncryptionMethod names, if acceptable.
fn oaep_algorithm(method: Node) -> Result<&'static OaepAlgorithm, SamlError> {
    const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
    const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
    const MGF1_SHA1: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha1";
    const MGF1_SHA256: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha256";
    if child(method, XMLENC_NS, "OAEPparams").is_some() {
        return Err(SamlError::Rejected(
            "RSA-OAEP with OAEPparams (a label) is not supported.".into(),
        ));
    }
    let digest = named_algorithm(method, DSIG_NS, "DigestMethod").unwrap_or(SHA1);
    let algorithm = method.attribute("Algorithm").unwrap_or_default();
    let mgf = if algorithm == format!("{XMLENC_NS}rsa-oaep-mgf1p") {
        MGF1_SHA1
    } else if algorithm == format!("{XMLENC11_NS}rsa-oaep") {
        named_algorithm(method, XMLENC11_NS, "MGF").unwrap_or(MGF1_SHA1)
    } else if algorithm == format!("{XMLENC_NS}rsa-1_5") {
        return Err(SamlError::Rejected(
            "The assertion's key is encrypted with RSA PKCS#1 v1.5, which is open to Bleichenbacher's attack; configure the identity provider to use RSA-OAEP.".into(),
        ));
    } else {
        return Err(SamlError::Rejected(format!(
            "Unsupported key transport algorithm {algorithm}; use RSA-OAEP."
        )));
    };
    match (digest, mgf) {
        (SHA1, MGF1_SHA1) => Ok(&OAEP_SHA1_MGF1SHA1),
        (SHA256, MGF1_SHA256) => Ok(&OAEP_SHA256_MGF1SHA256),
        _ => Err(SamlError::Rejected(format!(
            "Unsupported RSA-OAEP parameters (digest {digest}, {mgf}); use SHA-1 or SHA-256 for both."
        ))),
    }
}

#[derive(Clone, Copy)]
enum ContentCipher {
    Cbc { key_len: usize },
    Gcm { key_len: usize },
}

fn content_cipher(uri: &str) -> Result<ContentCipher, SamlError> {
    Ok(match uri {
        "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => ContentCipher::Cbc { key_len: 16 },
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => ContentCipher::Cbc { key_len: 32 },
        "http://www.w3.org/2009/xmlenc11#aes128-gcm" => ContentCipher::Gcm { key_len: 16 },
        "http://www.w3.org/2009/xmlenc11#aes256-gcm" => ContentCipher::Gcm { key_len: 32 },
        other => {
            return Err(SamlError::Rejected(format!(
                "Unsupported assertion encryption algorithm {other}; use AES-GCM or AES-CBC with a 128- or 256-bit key."
            )));
        }
    })
}

fn cipher_value(node: Node) -> Option<Vec<u8>> {
    let value =
        child(node, XMLENC_NS, "CipherData").and_then(|d| child(d, XMLENC_NS, "CipherValue"))?;
    let compact: String = text_of(value)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
}

fn decrypt_content(cipher: ContentCipher, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    match cipher {
        ContentCipher::Gcm { key_len } => {
            if key.len() != key_len || data.len() < NONCE_LEN + GCM_TAG {
                return None;
            }
            let algorithm = if key_len == 16 {
                &AES_128_GCM
            } else {
                &AES_256_GCM
            };
            let key = LessSafeKey::new(UnboundKey::new(algorithm, key).ok()?);
            let (nonce, sealed) = data.split_at(NONCE_LEN);
            let mut in_out = sealed.to_vec();
            let plain = key
                .open_in_place(
                    Nonce::try_assume_unique_for_key(nonce).ok()?,
                    Aad::empty(),
                    &mut in_out,
                )
                .ok()?;
            Some(plain.to_vec())
        }
        ContentCipher::Cbc { key_len } => {
            if key.len() != key_len
                || data.len() < 2 * AES_BLOCK
                || !data.len().is_multiple_of(AES_BLOCK)
            {
                return None;
            }
            let algorithm = if key_len == 16 { &AES_128 } else { &AES_256 };
            let key = DecryptingKey::cbc(UnboundCipherKey::new(algorithm, key).ok()?).ok()?;
            let (iv, sealed) = data.split_at(AES_BLOCK);
            let iv: [u8; AES_BLOCK] = iv.try_into().ok()?;
            let mut in_out = sealed.to_vec();
            let plain = key
                .decrypt(&mut in_out, DecryptionContext::Iv128(FixedLength::from(iv)))
                .ok()?;
            // XML Encryption's padding: the last byte counts the padding bytes, whose
            // other values are arbitrary (so not PKCS#7's check).
            let pad = *plain.last()? as usize;
            if pad == 0 || pad > AES_BLOCK {
                return None;
            }
            Some(plain[..plain.len() - pad].to_vec())
        }
    }
}

/// Decrypts an `EncryptedAssertion` and returns the assertion's XML. The key may sit in
/// the EncryptedData's KeyInfo or beside it in the EncryptedAssertion (Shibboleth's
/// form); with several (one per recipient) the first that opens is used.
pub fn decrypt_assertion(
    encrypted_assertion: Node,
    keys: &[AssertionDecryptionKey],
) -> Result<String, SamlError> {
    let data = child(encrypted_assertion, XMLENC_NS, "EncryptedData").ok_or_else(|| {
        SamlError::Malformed("The EncryptedAssertion has no EncryptedData.".into())
    })?;
    let method = child(data, XMLENC_NS, "EncryptionMethod")
        .and_then(|m| m.attribute("Algorithm"))
        .unwrap_or_default();
    let cipher = content_cipher(method)?;
    let mut wrapped_keys = child(data, DSIG_NS, "KeyInfo")
        .map(|info| children(info, XMLENC_NS, "EncryptedKey"))
        .unwrap_or_default();
    wrapped_keys.extend(children(encrypted_assertion, XMLENC_NS, "EncryptedKey"));
    if wrapped_keys.is_empty() {
        return Err(SamlError::Malformed(
            "The EncryptedAssertion carries no EncryptedKey.".into(),
        ));
    }
    let sealed = cipher_value(data).ok_or_else(undecryptable)?;
    for wrapped in wrapped_keys {
        let Some(method) = child(wrapped, XMLENC_NS, "EncryptionMethod") else {
            continue;
        };
        let oaep = oaep_algorithm(method)?;
        // During a rotation the provider holds two keys and the IdP uses either.
        let Some(content_key) = cipher_value(wrapped)
            .and_then(|w| keys.iter().find_map(|key| key.unwrap_key(oaep, &w)))
        else {
            continue;
        };
        let plain = decrypt_content(cipher, &content_key, &sealed).ok_or_else(undecryptable)?;
        return String::from_utf8(plain).map_err(|_| undecryptable());
    }
    Err(undecryptable())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_lc_rs::aead::AES_128_GCM;
    use aws_lc_rs::cipher::EncryptingKey;
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    use aws_lc_rs::rsa::OaepPublicEncryptingKey;

    /// Encrypts `assertion` to the public key of `pkcs8` as an IdP would; `cbc` picks
    /// AES-128-CBC over AES-128-GCM, `key_beside` puts the EncryptedKey beside the data.
    pub(crate) fn encrypt(assertion: &str, pkcs8: &[u8], cbc: bool, key_beside: bool) -> String {
        let rng = SystemRandom::new();
        let mut content_key = [0u8; 16];
        rng.fill(&mut content_key).unwrap();
        let (algorithm, sealed) = if cbc {
            let key =
                EncryptingKey::cbc(UnboundCipherKey::new(&AES_128, &content_key).unwrap()).unwrap();
            let mut data = assertion.as_bytes().to_vec();
            let pad = AES_BLOCK - data.len() % AES_BLOCK;
            data.extend(std::iter::repeat_n(0xa5, pad - 1));
            data.push(pad as u8);
            let context = key.encrypt(&mut data).unwrap();
            let DecryptionContext::Iv128(iv) = context else {
                panic!("CBC has a 128-bit IV")
            };
            let mut out = iv.as_ref().to_vec();
            out.extend(data);
            ("http://www.w3.org/2001/04/xmlenc#aes128-cbc", out)
        } else {
            let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &content_key).unwrap());
            let mut nonce = [0u8; NONCE_LEN];
            rng.fill(&mut nonce).unwrap();
            let mut data = assertion.as_bytes().to_vec();
            key.seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut data,
            )
            .unwrap();
            let mut out = nonce.to_vec();
            out.extend(data);
            ("http://www.w3.org/2009/xmlenc11#aes128-gcm", out)
        };
        let private = PrivateDecryptingKey::from_pkcs8(pkcs8).unwrap();
        let public = OaepPublicEncryptingKey::new(private.public_key()).unwrap();
        let mut wrapped = vec![0u8; public.ciphertext_size()];
        let wrapped = public
            .encrypt(&OAEP_SHA1_MGF1SHA1, &content_key, &mut wrapped, None)
            .unwrap()
            .to_vec();
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let encrypted_key = format!(
            r#"<xenc:EncryptedKey xmlns:xenc="{XMLENC_NS}"><xenc:EncryptionMethod Algorithm="{XMLENC_NS}rsa-oaep-mgf1p"><ds:DigestMethod xmlns:ds="{DSIG_NS}" Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/></xenc:EncryptionMethod><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey>"#,
            b64(&wrapped)
        );
        let (inside, beside) = if key_beside {
            (String::new(), encrypted_key)
        } else {
            (encrypted_key, String::new())
        };
        format!(
            r#"<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><xenc:EncryptedData xmlns:xenc="{XMLENC_NS}" Type="{XMLENC_NS}Element"><xenc:EncryptionMethod Algorithm="{algorithm}"/><ds:KeyInfo xmlns:ds="{DSIG_NS}">{inside}</ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>{beside}</saml:EncryptedAssertion>"#,
            b64(&sealed)
        )
    }

    fn pkcs8() -> Vec<u8> {
        use aws_lc_rs::encoding::AsDer;
        let key =
            aws_lc_rs::signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        key.as_der().unwrap().as_ref().to_vec()
    }

    fn open(xml: &str, pkcs8: &[u8]) -> Result<String, SamlError> {
        let doc = super::super::parse(xml).unwrap();
        decrypt_assertion(
            doc.root_element(),
            &[AssertionDecryptionKey::from_pkcs8(pkcs8).unwrap()],
        )
    }

    #[test]
    fn gcm_and_cbc_round_trip_with_the_key_inside_or_beside() {
        let key = pkcs8();
        let assertion =
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1"/>"#;
        for (cbc, beside) in [(false, false), (true, false), (false, true), (true, true)] {
            let xml = encrypt(assertion, &key, cbc, beside);
            assert_eq!(
                open(&xml, &key).unwrap(),
                assertion,
                "cbc={cbc} beside={beside}"
            );
        }
    }

    #[test]
    fn another_key_and_tampering_fail_with_one_message() {
        let key = pkcs8();
        let assertion =
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1"/>"#;
        let xml = encrypt(assertion, &key, false, false);
        assert_eq!(
            open(&xml, &pkcs8()).unwrap_err(),
            SamlError::Rejected(UNDECRYPTABLE.into())
        );
        // Flip a ciphertext byte of the content (the last CipherValue's start).
        let at = xml.rfind("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len() + 20;
        let mut bytes = xml.into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            open(&tampered, &key).unwrap_err(),
            SamlError::Rejected(UNDECRYPTABLE.into())
        );
    }

    #[test]
    fn pkcs1_v15_key_transport_is_refused() {
        let key = pkcs8();
        let xml = encrypt("<a/>", &key, false, false).replace("rsa-oaep-mgf1p", "rsa-1_5");
        let err = open(&xml, &key).unwrap_err().to_string();
        assert!(err.contains("Bleichenbacher"), "{err}");
    }
}
