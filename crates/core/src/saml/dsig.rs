//! XML Signature verification of an enveloped signature (a `ds:Signature` child of the
//! element it signs), the only form SAML 2.0 uses, with the keys of the identity
//! provider's metadata.
//!
//! Defences, each against a known attack on SAML service providers:
//! - the key comes only from the provider's metadata; a certificate in the message's
//!   `KeyInfo` is ignored (else anyone could sign with their own key);
//! - exactly one `Reference`, whose URI must name the very element being verified, and
//!   every `ID` in the document must be unique: signature-wrapping attacks move the
//!   signed element aside and put a forged one where the reader looks;
//! - only the transforms SAML uses (enveloped signature, exclusive C14N), so no XSLT or
//!   XPath tricks, and the digest is compared in constant time;
//! - SHA-1 (RSA-SHA1, SHA-1 digests) is still accepted because ADFS and older
//!   Shibboleth installations sign with it by default, as Cognito accepts them.

use super::c14n::canonicalize;
use super::{SamlError, child, children, text_of};
use aws_lc_rs::digest;
use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_2048_8192_SHA512, UnparsedPublicKey, VerificationAlgorithm,
};
use base64::Engine;
use roxmltree::Node;

pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

fn signature_algorithm(uri: &str) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match uri {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => &RSA_PKCS1_2048_8192_SHA256,
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => &RSA_PKCS1_2048_8192_SHA512,
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1" => {
            &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
        }
        _ => return None,
    })
}

fn digest_algorithm(uri: &str) -> Option<&'static digest::Algorithm> {
    Some(match uri {
        "http://www.w3.org/2001/04/xmlenc#sha256" => &digest::SHA256,
        "http://www.w3.org/2001/04/xmlenc#sha512" => &digest::SHA512,
        "http://www.w3.org/2000/09/xmldsig#sha1" => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        _ => return None,
    })
}

fn base64_value(node: Node) -> Result<Vec<u8>, SamlError> {
    let compact: String = text_of(node)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| SamlError::Signature(format!("{} is not base64.", node.tag_name().name())))
}

/// The `PrefixList` of an exclusive-C14N method or transform element.
fn inclusive_prefixes(method: Node) -> Vec<String> {
    method
        .children()
        .find(|n| n.tag_name().name() == "InclusiveNamespaces")
        .and_then(|n| n.attribute("PrefixList"))
        .map(|list| list.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

/// The element's enveloped signature, if it has one.
pub fn signature_of<'a, 'i>(element: Node<'a, 'i>) -> Option<Node<'a, 'i>> {
    child(element, DSIG_NS, "Signature")
}

/// Verifies `element`'s enveloped signature with one of `public_keys` (SubjectPublicKeyInfo
/// DER of the provider's signing certificates).
pub fn verify_enveloped(element: Node, public_keys: &[Vec<u8>]) -> Result<(), SamlError> {
    let bad = |why: &str| SamlError::Signature(why.to_string());
    let signature = signature_of(element).ok_or_else(|| bad("The element is not signed."))?;
    let id = element
        .attribute("ID")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| bad("The signed element has no ID."))?;
    let same_id = element
        .document()
        .descendants()
        .filter(|n| n.attribute("ID") == Some(id))
        .count();
    if same_id != 1 {
        return Err(bad("The document has several elements with the signed ID."));
    }
    let signed_info = child(signature, DSIG_NS, "SignedInfo")
        .ok_or_else(|| bad("The signature has no SignedInfo."))?;
    let c14n_method = child(signed_info, DSIG_NS, "CanonicalizationMethod")
        .ok_or_else(|| bad("The signature has no CanonicalizationMethod."))?;
    if c14n_method.attribute("Algorithm") != Some(EXC_C14N) {
        return Err(bad(
            "The signature's canonicalization is not exclusive C14N without comments.",
        ));
    }
    let method = child(signed_info, DSIG_NS, "SignatureMethod")
        .and_then(|m| m.attribute("Algorithm"))
        .unwrap_or_default();
    let algorithm = signature_algorithm(method)
        .ok_or_else(|| SamlError::Signature(format!("Unsupported signature method {method}.")))?;
    let references = children(signed_info, DSIG_NS, "Reference");
    let [reference] = references.as_slice() else {
        return Err(bad("The signature must have exactly one Reference."));
    };
    if reference.attribute("URI") != Some(&format!("#{id}")) {
        return Err(bad("The signature does not reference the signed element."));
    }
    let mut reference_prefixes = Vec::new();
    if let Some(transforms) = child(*reference, DSIG_NS, "Transforms") {
        for transform in children(transforms, DSIG_NS, "Transform") {
            match transform.attribute("Algorithm") {
                Some(ENVELOPED) => {}
                Some(EXC_C14N) => reference_prefixes = inclusive_prefixes(transform),
                other => {
                    return Err(SamlError::Signature(format!(
                        "Unsupported transform {}.",
                        other.unwrap_or_default()
                    )));
                }
            }
        }
    }
    let digest_uri = child(*reference, DSIG_NS, "DigestMethod")
        .and_then(|m| m.attribute("Algorithm"))
        .unwrap_or_default();
    let digest_alg = digest_algorithm(digest_uri)
        .ok_or_else(|| SamlError::Signature(format!("Unsupported digest method {digest_uri}.")))?;
    let expected_digest = base64_value(
        child(*reference, DSIG_NS, "DigestValue").ok_or_else(|| bad("No DigestValue."))?,
    )?;
    let canonical = canonicalize(element, Some(signature.id()), &reference_prefixes);
    let actual_digest = digest::digest(digest_alg, canonical.as_bytes());
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        actual_digest.as_ref(),
        expected_digest.as_slice(),
    )) {
        return Err(bad(
            "The digest of the signed element does not match: it was changed.",
        ));
    }
    let signature_value = base64_value(
        child(signature, DSIG_NS, "SignatureValue").ok_or_else(|| bad("No SignatureValue."))?,
    )?;
    let signed_info_c14n = canonicalize(signed_info, None, &inclusive_prefixes(c14n_method));
    let verified = public_keys.iter().any(|key| {
        UnparsedPublicKey::new(algorithm, key)
            .verify(signed_info_c14n.as_bytes(), &signature_value)
            .is_ok()
    });
    if verified {
        Ok(())
    } else {
        Err(bad(
            "The signature does not verify with any signing certificate of the identity provider.",
        ))
    }
}
