//! The identity provider's `samlp:Response` (HTTP-POST binding), checked as a service
//! provider must (SAML profiles §4.1.4.3, and Cognito's documented requirements):
//! signed by the provider (the response or its assertion), from the provider's entity
//! id, for this pool (audience `urn:amazon:cognito:sp:{poolId}`), to this endpoint
//! (`Recipient`, `Destination`), answering the request idpool sent (`InResponseTo`),
//! and within its validity window (five minutes of clock skew allowed, as most SAML
//! service providers allow).

use super::dsig::{signature_of, verify_enveloped};
use super::encryption::{AssertionDecryptionKey, UNDECRYPTABLE, decrypt_assertion};
use super::{
    ASSERTION_NS, PROTOCOL_NS, SamlError, child, children, is, parse, parse_instant, text_of,
};
use roxmltree::Node;

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const CLOCK_SKEW_S: i64 = 300;

/// What the response must match.
pub struct Expected<'a> {
    pub idp_entity_id: &'a str,
    /// SubjectPublicKeyInfo DER of the provider's signing certificates.
    pub signing_keys: &'a [Vec<u8>],
    /// The audiences that name this service provider (its entity id; AWS's SAML
    /// federation has several names).
    pub audiences: &'a [&'a str],
    /// The endpoints the response may be addressed to (`Destination`, `Recipient`).
    pub recipients: &'a [&'a str],
    pub answering: Answering<'a>,
    pub now_s: i64,
    pub encryption: AssertionEncryption<'a>,
}

/// Whether the assertion may, or must, be encrypted, and the keys that open it.
#[derive(Clone, Copy)]
pub enum AssertionEncryption<'a> {
    /// Plaintext only: a user pool's provider with `EncryptedResponses` off.
    Off,
    /// Encrypted only: `EncryptedResponses` on (Cognito refuses plaintext assertions
    /// then), or an IAM provider's `AssertionEncryptionMode` Required. `setting` names
    /// which, for the refusal of a plaintext assertion.
    Required {
        keys: &'a [AssertionDecryptionKey],
        setting: &'a str,
    },
    /// Either: an IAM provider's `AssertionEncryptionMode` Allowed (or unset), its
    /// private keys (AddPrivateKey, at most two while one is rotated out) opening the
    /// encrypted ones.
    Allowed(&'a [AssertionDecryptionKey]),
}

/// Which request the response must answer (`InResponseTo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answering<'a> {
    /// The ID of the AuthnRequest idpool sent.
    Request(&'a str),
    /// None: an IdP-initiated sign-in, which has no request to answer.
    Unsolicited,
    /// Whichever: an assertion presented as a login token (identity pools, as STS's
    /// AssumeRoleWithSAML), whose request, if any, was someone else's.
    Any,
}

/// The checked assertion's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    pub id: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    /// Attribute name → values, in document order.
    pub attributes: Vec<(String, Vec<String>)>,
    /// When the provider issued the assertion (IdP-initiated sign-ins must be fresh).
    pub issued_at_s: Option<i64>,
    /// Until when the assertion could be presented (for single-use bookkeeping).
    pub expires_at_s: i64,
}

fn rejected(why: impl Into<String>) -> SamlError {
    SamlError::Rejected(why.into())
}

fn check_window(node: Node, now_s: i64, what: &str) -> Result<Option<i64>, SamlError> {
    if let Some(nb) = node.attribute("NotBefore") {
        let nb =
            parse_instant(nb).ok_or_else(|| rejected(format!("{what} has a bad NotBefore.")))?;
        if now_s + CLOCK_SKEW_S < nb {
            return Err(rejected(format!("{what} is not valid yet.")));
        }
    }
    match node.attribute("NotOnOrAfter") {
        Some(na) => {
            let na = parse_instant(na)
                .ok_or_else(|| rejected(format!("{what} has a bad NotOnOrAfter.")))?;
            if now_s - CLOCK_SKEW_S >= na {
                return Err(rejected(format!("{what} has expired.")));
            }
            Ok(Some(na))
        }
        None => Ok(None),
    }
}

/// Verifies the decoded (XML) SAMLResponse and returns its assertion.
pub fn verify_response(xml: &str, expected: &Expected) -> Result<Assertion, SamlError> {
    let doc = parse(xml)?;
    let response = doc.root_element();
    if !is(response, PROTOCOL_NS, "Response") {
        return Err(SamlError::Malformed(
            "The document is not a SAML 2.0 Response.".into(),
        ));
    }
    let status = child(response, PROTOCOL_NS, "Status")
        .and_then(|s| child(s, PROTOCOL_NS, "StatusCode"))
        .and_then(|c| c.attribute("Value"))
        .unwrap_or_default();
    if status != SUCCESS {
        let message = child(response, PROTOCOL_NS, "Status")
            .and_then(|s| child(s, PROTOCOL_NS, "StatusMessage"))
            .map(text_of)
            .unwrap_or_default();
        let code = status.rsplit(':').next().unwrap_or(status);
        return Err(rejected(format!(
            "The identity provider did not sign the user in ({code}){}",
            if message.is_empty() {
                ".".to_string()
            } else {
                format!(": {message}")
            }
        )));
    }
    if let Some(destination) = response.attribute("Destination")
        && !expected.recipients.contains(&destination)
    {
        return Err(rejected(
            "The response is addressed to another endpoint (Destination).",
        ));
    }
    let answers = |node: Node, what: &str| -> Result<(), SamlError> {
        match (node.attribute("InResponseTo"), expected.answering) {
            (None, _) | (_, Answering::Any) => Ok(()),
            (Some(got), Answering::Request(sent)) if got == sent => Ok(()),
            (Some(_), Answering::Request(_)) => {
                Err(rejected(format!("{what} answers another request.")))
            }
            (Some(_), Answering::Unsolicited) => Err(rejected(format!(
                "{what} answers a request, but this sign-in started at the identity provider."
            ))),
        }
    };
    answers(response, "The response")?;
    let plain = children(response, ASSERTION_NS, "Assertion");
    let encrypted = children(response, ASSERTION_NS, "EncryptedAssertion");
    if plain.len() + encrypted.len() != 1 {
        return Err(rejected("The response must hold exactly one assertion."));
    }
    // The response's signature covers its assertion (encrypted or not); otherwise the
    // assertion itself must be signed. An unsigned document is never trusted.
    let response_signed = signature_of(response).is_some();
    if response_signed {
        verify_enveloped(response, expected.signing_keys)?;
    }
    // Past decryption, a failure of an encrypted assertion whose ciphertext nobody
    // signed must look like a decryption failure (see encryption.rs): the message must
    // not tell a parse error from a bad signature.
    let hide_errors = !encrypted.is_empty() && !response_signed;
    let opaque = |e: SamlError| {
        if hide_errors {
            rejected(UNDECRYPTABLE)
        } else {
            e
        }
    };
    let decrypted_xml: String;
    let decrypted_doc: roxmltree::Document;
    let keys = match expected.encryption {
        AssertionEncryption::Off => &[][..],
        AssertionEncryption::Required { keys, .. } | AssertionEncryption::Allowed(keys) => keys,
    };
    let assertion = match (plain.first(), encrypted.first()) {
        (Some(assertion), None) => match expected.encryption {
            AssertionEncryption::Required { setting, .. } => {
                return Err(rejected(format!(
                    "The identity provider sent a plaintext assertion, but {setting}: it must encrypt its assertions to the provider's encryption certificate."
                )));
            }
            _ => *assertion,
        },
        (None, Some(encrypted)) if !keys.is_empty() => {
            decrypted_xml = decrypt_assertion(*encrypted, keys)?;
            decrypted_doc = parse(&decrypted_xml).map_err(opaque)?;
            let root = decrypted_doc.root_element();
            if !is(root, ASSERTION_NS, "Assertion") {
                return Err(opaque(rejected(
                    "The decrypted element is not an assertion.",
                )));
            }
            root
        }
        _ => {
            return Err(rejected(match expected.encryption {
                AssertionEncryption::Off => {
                    "The identity provider encrypted the assertion, but EncryptedResponses is off for this provider: turn it on and give the provider its ActiveEncryptionCertificate, or turn encryption off at the provider."
                }
                _ => {
                    "The identity provider encrypted the assertion, but the SAML provider holds no private key to decrypt it (AddPrivateKey)."
                }
            }));
        }
    };
    if signature_of(assertion).is_some() {
        verify_enveloped(assertion, expected.signing_keys).map_err(opaque)?;
    } else if !response_signed {
        return Err(opaque(SamlError::Signature(
            "Neither the response nor its assertion is signed.".into(),
        )));
    }
    let issuer = child(assertion, ASSERTION_NS, "Issuer")
        .map(text_of)
        .unwrap_or_default();
    if issuer != expected.idp_entity_id {
        return Err(rejected(format!(
            "The assertion's issuer {issuer} is not the identity provider's entity id {}.",
            expected.idp_entity_id
        )));
    }
    if let Some(response_issuer) = child(response, ASSERTION_NS, "Issuer").map(text_of)
        && response_issuer != expected.idp_entity_id
    {
        return Err(rejected(
            "The response's issuer is not the identity provider.",
        ));
    }

    let subject = child(assertion, ASSERTION_NS, "Subject")
        .ok_or_else(|| rejected("The assertion has no Subject."))?;
    let name_id_node = child(subject, ASSERTION_NS, "NameID")
        .ok_or_else(|| rejected("The assertion's subject has no NameID."))?;
    let name_id = text_of(name_id_node);
    if name_id.is_empty() {
        return Err(rejected("The assertion's NameID is empty."));
    }
    let mut expires_at_s = expected.now_s + CLOCK_SKEW_S;
    let bearer = children(subject, ASSERTION_NS, "SubjectConfirmation")
        .into_iter()
        .find(|c| c.attribute("Method") == Some(BEARER))
        .ok_or_else(|| rejected("The assertion has no bearer subject confirmation."))?;
    if let Some(data) = child(bearer, ASSERTION_NS, "SubjectConfirmationData") {
        if data
            .attribute("Recipient")
            .is_some_and(|r| !expected.recipients.contains(&r))
        {
            return Err(rejected(
                "The assertion is for another endpoint (Recipient).",
            ));
        }
        answers(data, "The assertion")?;
        if let Some(na) = check_window(data, expected.now_s, "The subject confirmation")? {
            expires_at_s = expires_at_s.max(na + CLOCK_SKEW_S);
        }
    }
    let conditions = child(assertion, ASSERTION_NS, "Conditions")
        .ok_or_else(|| rejected("The assertion has no Conditions."))?;
    if let Some(na) = check_window(conditions, expected.now_s, "The assertion")? {
        expires_at_s = expires_at_s.max(na + CLOCK_SKEW_S);
    }
    let restrictions = children(conditions, ASSERTION_NS, "AudienceRestriction");
    if restrictions.is_empty() {
        return Err(rejected("The assertion names no audience."));
    }
    // Each AudienceRestriction must include us (SAML core §2.5.1.4).
    for restriction in restrictions {
        let ours = children(restriction, ASSERTION_NS, "Audience")
            .into_iter()
            .any(|a| expected.audiences.contains(&text_of(a).as_str()));
        if !ours {
            return Err(rejected(format!(
                "The assertion is for another service provider; its audience must be {}.",
                expected.audiences.join(" or ")
            )));
        }
    }
    let mut attributes: Vec<(String, Vec<String>)> = Vec::new();
    for statement in children(assertion, ASSERTION_NS, "AttributeStatement") {
        for attribute in children(statement, ASSERTION_NS, "Attribute") {
            let Some(name) = attribute.attribute("Name") else {
                continue;
            };
            let values: Vec<String> = children(attribute, ASSERTION_NS, "AttributeValue")
                .into_iter()
                .map(text_of)
                .collect();
            match attributes.iter_mut().find(|(n, _)| n == name) {
                Some((_, existing)) => existing.extend(values),
                None => attributes.push((name.to_string(), values)),
            }
        }
    }
    let session_index = child(assertion, ASSERTION_NS, "AuthnStatement")
        .and_then(|s| s.attribute("SessionIndex"))
        .map(String::from);
    Ok(Assertion {
        id: assertion.attribute("ID").unwrap_or_default().to_string(),
        name_id,
        name_id_format: name_id_node.attribute("Format").map(String::from),
        session_index,
        attributes,
        issued_at_s: assertion.attribute("IssueInstant").and_then(parse_instant),
        expires_at_s,
    })
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
