//! SAML 2.0 for a service provider (a user pool, and identity pools' SAML logins): the
//! identity provider's metadata, the AuthnRequest sent through the HTTP-Redirect
//! binding, and the checked Response received through the HTTP-POST binding.
//!
//! Written on roxmltree (a read-only, DTD-refusing parser) and aws-lc-rs rather than the
//! `samael` crate that DEPENDENCIES.md names: samael needs OpenSSL, xmlsec1, libxml2
//! and libclang, which would put a second crypto library in the binary (see
//! DESIGN.md). Only what SAML uses is implemented: exclusive C14N, RSA signatures and
//! the decryption of encrypted assertions.

pub mod c14n;
pub mod dsig;
pub mod encryption;
pub mod logout;
pub mod metadata;
pub mod request;
pub mod response;

use roxmltree::Node;

pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const METADATA_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const POST_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// Limits for documents from the network: a SAML response or metadata document is a
/// few kilobytes; large federation metadata aggregates reach a few megabytes.
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;
const MAX_NODES: u32 = 200_000;

/// Why a SAML document was refused; the message is for the person configuring or
/// signing in, so it says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlError {
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Signature(String),
    #[error("{0}")]
    Rejected(String),
}

/// Parses untrusted XML: no DTDs (so no entity expansion attacks), bounded size.
pub fn parse(xml: &str) -> Result<roxmltree::Document<'_>, SamlError> {
    if xml.len() > MAX_DOCUMENT_BYTES {
        return Err(SamlError::Malformed(
            "The XML document is too large.".into(),
        ));
    }
    roxmltree::Document::parse_with_options(
        xml,
        roxmltree::ParsingOptions {
            allow_dtd: false,
            nodes_limit: MAX_NODES,
            ..Default::default()
        },
    )
    .map_err(|e| SamlError::Malformed(format!("The XML is not well-formed: {e}.")))
}

pub(crate) fn is(node: Node, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(ns) && node.tag_name().name() == name
}

/// The first child element `{ns}name`.
pub(crate) fn child<'a, 'i>(node: Node<'a, 'i>, ns: &str, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|n| is(*n, ns, name))
}

pub(crate) fn children<'a, 'i>(node: Node<'a, 'i>, ns: &str, name: &str) -> Vec<Node<'a, 'i>> {
    node.children().filter(|n| is(*n, ns, name)).collect()
}

/// The text content of an element (all its text descendants), trimmed.
pub(crate) fn text_of(node: Node) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<String>()
        .trim()
        .to_string()
}

/// Text for an XML attribute value or element.
pub(crate) fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A message in the HTTP-Redirect binding's form: raw DEFLATE, then base64 (SAML
/// bindings §3.4.4.1), before URL encoding.
pub(crate) fn redirect_encode(xml: &str) -> String {
    use base64::Engine;
    let deflated = miniz_oxide::deflate::compress_to_vec(xml.as_bytes(), 6);
    base64::engine::general_purpose::STANDARD.encode(deflated)
}

/// An `xs:dateTime` as Unix seconds.
pub(crate) fn parse_instant(value: &str) -> Option<i64> {
    crate::policy::parse_date(value).map(|ns| (ns / 1_000_000_000) as i64)
}

/// One DER TLV read from the front of a buffer: (tag, whole TLV bytes, content, rest).
type DerTlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

fn der_tlv(data: &[u8]) -> Option<DerTlv<'_>> {
    let tag = *data.first()?;
    let first = *data.get(1)? as usize;
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let len = data
            .get(2..2 + n)?
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((
        tag,
        data.get(..end)?,
        data.get(header..end)?,
        data.get(end..)?,
    ))
}

/// What a service provider needs of an X.509 certificate: its public key
/// (SubjectPublicKeyInfo DER) and the end of its validity (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub der: Vec<u8>,
    pub public_key: Vec<u8>,
    pub not_after: i64,
}

impl Certificate {
    pub fn from_der(der: &[u8]) -> Option<Certificate> {
        let (0x30, _, cert, _) = der_tlv(der)? else {
            return None;
        };
        let (0x30, _, tbs, _) = der_tlv(cert)? else {
            return None;
        };
        let mut rest = tbs;
        let mut fields = Vec::new();
        while !rest.is_empty() {
            let (tag, whole, content, next) = der_tlv(rest)?;
            if tag != 0xa0 {
                fields.push((tag, whole, content));
            }
            rest = next;
        }
        // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
        let (0x30, _, validity) = *fields.get(3)? else {
            return None;
        };
        let (0x30, public_key, _) = *fields.get(5)? else {
            return None;
        };
        let (_, _, _, after) = der_tlv(validity)?;
        let (time_tag, _, not_after, _) = der_tlv(after)?;
        Some(Certificate {
            der: der.to_vec(),
            public_key: public_key.to_vec(),
            not_after: der_time(time_tag, not_after)?,
        })
    }
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) as Unix seconds.
fn der_time(tag: u8, content: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(content).ok()?.strip_suffix('Z')?;
    let full = match tag {
        0x17 if s.len() == 12 => {
            let yy: i64 = s[..2].parse().ok()?;
            format!("{}{}", if yy >= 50 { 19 } else { 20 }, s)
        }
        0x18 if s.len() == 14 => s.to_string(),
        _ => return None,
    };
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &full[..4],
        &full[4..6],
        &full[6..8],
        &full[8..10],
        &full[10..12],
        &full[12..14]
    );
    parse_instant(&iso)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;
    use crate::tokens::certificate::signing_certificate_der;
    use crate::tokens::keys::SigningKey;

    #[test]
    fn certificate_yields_its_public_key_and_expiry() {
        let master = MasterKey::from_bytes(&[7u8; 32]).unwrap();
        let (key, _) = SigningKey::generate(&master).unwrap();
        let created = 1_767_225_600; // 2026-01-01
        let der = signing_certificate_der(&key, "us-east-1_abc", created).unwrap();
        let cert = Certificate::from_der(&der).unwrap();
        assert_eq!(cert.not_after, created + 10 * 365 * 86_400 + 2 * 86_400);
        // The SPKI wraps the PKCS#1 key the signing key publishes.
        assert!(
            cert.public_key
                .windows(key.public_der.len())
                .any(|w| w == key.public_der.as_slice())
        );
        assert!(Certificate::from_der(&der[..der.len() - 1]).is_none());
        assert!(Certificate::from_der(b"not a certificate").is_none());
    }
}
