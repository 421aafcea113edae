//! Responses signed here with idpool's own canonicalizer: these tests check the
//! response rules and the attacks; interoperability with an independent signer
//! (Python's signxml over lxml's C14N) is checked by tests/python/test_saml.py.

use super::*;
use crate::crypto::{MasterKey, b64};
use crate::saml::Certificate;
use crate::saml::c14n::canonicalize;
use crate::tokens::certificate::signing_certificate_der;
use crate::tokens::keys::SigningKey;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;

const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const ACS: &str = "https://auth.example.com/saml2/idpresponse";
const SP: &str = "urn:amazon:cognito:sp:us-east-1_abc";
const IDP: &str = "https://idp.example.com/saml";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";

struct Idp {
    key: SigningKey,
    public_key: Vec<u8>,
}

fn idp() -> Idp {
    let master = MasterKey::from_bytes(&[9u8; 32]).unwrap();
    let (key, _) = SigningKey::generate(&master).unwrap();
    let cert =
        Certificate::from_der(&signing_certificate_der(&key, "idp", NOW - 10).unwrap()).unwrap();
    Idp {
        key,
        public_key: cert.public_key,
    }
}

fn assertion(id: &str, audience: &str, in_response_to: &str, not_on_or_after: &str) -> String {
    format!(
        concat!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="2026-01-01T00:00:00Z">"#,
            r#"<saml:Issuer>{idp}</saml:Issuer>"#,
            r#"<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">jane@example.com</saml:NameID>"#,
            r#"<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="{irt}" Recipient="{acs}" NotOnOrAfter="{noa}"/></saml:SubjectConfirmation></saml:Subject>"#,
            r#"<saml:Conditions NotBefore="2025-12-31T23:59:00Z" NotOnOrAfter="{noa}"><saml:AudienceRestriction><saml:Audience>{aud}</saml:Audience></saml:AudienceRestriction></saml:Conditions>"#,
            r#"<saml:AuthnStatement AuthnInstant="2026-01-01T00:00:00Z" SessionIndex="s1"/>"#,
            r#"<saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue>jane@example.com</saml:AttributeValue></saml:Attribute>"#,
            r#"<saml:Attribute Name="groups"><saml:AttributeValue>a</saml:AttributeValue><saml:AttributeValue>b</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>"#,
            r#"</saml:Assertion>"#
        ),
        id = id,
        idp = IDP,
        irt = in_response_to,
        acs = ACS,
        noa = not_on_or_after,
        aud = audience,
    )
}

/// Signs the element with the given ID inside `xml`, inserting the enveloped signature
/// right after its Issuer, as IdPs do.
fn sign(xml: &str, id: &str, key: &SigningKey) -> String {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let element = doc
        .descendants()
        .find(|n| n.attribute("ID") == Some(id))
        .unwrap();
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        canonicalize(element, None, &[]).as_bytes(),
    );
    let inner = format!(
        concat!(
            r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:CanonicalizationMethod>"#,
            r#"<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"></ds:SignatureMethod>"#,
            r##"<ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"></ds:Transform>"##,
            r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:Transform></ds:Transforms>"#,
            r#"<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"></ds:DigestMethod><ds:DigestValue>{digest}</ds:DigestValue></ds:Reference>"#
        ),
        id = id,
        digest = b64(digest.as_ref()),
    );
    let signed_info = format!(r#"<ds:SignedInfo xmlns:ds="{DS}">{inner}</ds:SignedInfo>"#);
    let mut sig = vec![0u8; key.key_pair.public_modulus_len()];
    key.key_pair
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            signed_info.as_bytes(),
            &mut sig,
        )
        .unwrap();
    let signature = format!(
        r#"<ds:Signature xmlns:ds="{DS}"><ds:SignedInfo>{inner}</ds:SignedInfo><ds:SignatureValue>{}</ds:SignatureValue></ds:Signature>"#,
        b64(&sig)
    );
    // Right after the element's own Issuer (the first Issuer at or after the element).
    let start = element.range().start;
    let issuer_end = start + xml[start..].find("</saml:Issuer>").unwrap() + "</saml:Issuer>".len();
    format!("{}{}{}", &xml[..issuer_end], signature, &xml[issuer_end..])
}

fn response(inner: &str, in_response_to: &str) -> String {
    format!(
        concat!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_resp" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" Destination="{acs}" InResponseTo="{irt}">"#,
            r#"<saml:Issuer>{idp}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{inner}</samlp:Response>"#
        ),
        acs = ACS,
        irt = in_response_to,
        idp = IDP,
        inner = inner,
    )
}

fn expected<'a>(keys: &'a [Vec<u8>], request_id: Option<&'a str>) -> Expected<'a> {
    Expected {
        idp_entity_id: IDP,
        signing_keys: keys,
        audiences: &[SP],
        recipients: &[ACS],
        answering: request_id.map_or(Answering::Unsolicited, Answering::Request),
        now_s: NOW,
        encryption: AssertionEncryption::Off,
    }
}

fn good_assertion() -> String {
    assertion("_a1", SP, "_req1", "2026-01-01T00:05:00Z")
}

#[test]
fn a_signed_assertion_is_accepted_with_its_attributes() {
    let idp = idp();
    let xml = response(&sign(&good_assertion(), "_a1", &idp.key), "_req1");
    let keys = [idp.public_key.clone()];
    let got = verify_response(&xml, &expected(&keys, Some("_req1"))).unwrap();
    assert_eq!(got.name_id, "jane@example.com");
    assert_eq!(got.session_index.as_deref(), Some("s1"));
    assert_eq!(
        got.attributes,
        vec![
            ("email".into(), vec!["jane@example.com".into()]),
            ("groups".into(), vec!["a".into(), "b".into()])
        ]
    );
    assert_eq!(got.expires_at_s, NOW + 300 + 300);
}

#[test]
fn a_signed_response_covers_its_unsigned_assertion() {
    let idp = idp();
    let xml = sign(&response(&good_assertion(), "_req1"), "_resp", &idp.key);
    let keys = [idp.public_key.clone()];
    assert!(verify_response(&xml, &expected(&keys, Some("_req1"))).is_ok());
}

#[test]
fn changed_unsigned_or_foreign_signed_documents_are_refused() {
    let idp = idp();
    let keys = [idp.public_key.clone()];
    let signed = response(&sign(&good_assertion(), "_a1", &idp.key), "_req1");
    let tampered = signed.replace(
        ">jane@example.com</saml:NameID>",
        ">admin@example.com</saml:NameID>",
    );
    assert!(matches!(
        verify_response(&tampered, &expected(&keys, Some("_req1"))),
        Err(SamlError::Signature(m)) if m.contains("digest")
    ));
    let unsigned = response(&good_assertion(), "_req1");
    assert!(matches!(
        verify_response(&unsigned, &expected(&keys, Some("_req1"))),
        Err(SamlError::Signature(_))
    ));
    let other = self::idp();
    let other_keys = [other.public_key.clone()];
    assert!(matches!(
        verify_response(&signed, &expected(&other_keys, Some("_req1"))),
        Err(SamlError::Signature(m)) if m.contains("any signing certificate")
    ));
}

#[test]
fn signature_wrapping_is_refused() {
    let idp = idp();
    let keys = [idp.public_key.clone()];
    let genuine = sign(&good_assertion(), "_a1", &idp.key);
    // The attacker keeps the signed assertion (so the signature still verifies) and adds
    // a forged one with the same ID for the reader to pick up.
    let forged = good_assertion().replace("jane@example.com", "admin@example.com");
    let xml = response(&format!("{forged}{genuine}"), "_req1");
    assert!(verify_response(&xml, &expected(&keys, Some("_req1"))).is_err());
    // Or hides the signed one and gives the forged one a copy of its signature.
    let forged_with_signature = genuine.replace("jane@example.com", "admin@example.com");
    let hidden = response(
        &format!("<samlp:Extensions>{genuine}</samlp:Extensions>{forged_with_signature}"),
        "_req1",
    );
    assert!(matches!(
        verify_response(&hidden, &expected(&keys, Some("_req1"))),
        Err(SamlError::Signature(m)) if m.contains("several elements")
    ));
}

#[test]
fn audience_recipient_request_issuer_and_time_are_checked() {
    let idp = idp();
    let keys = [idp.public_key.clone()];
    let check = |assertion: String, id: &str, request: Option<&str>| {
        let xml = response(&sign(&assertion, id, &idp.key), request.unwrap_or(""));
        let xml = if request.is_none() {
            xml.replace(r#" InResponseTo="""#, "")
        } else {
            xml
        };
        verify_response(&xml, &expected(&keys, request))
    };
    let wrong_audience = assertion(
        "_a2",
        "urn:amazon:cognito:sp:us-east-1_other",
        "_req1",
        "2026-01-01T00:05:00Z",
    );
    assert!(
        check(wrong_audience, "_a2", Some("_req1"))
            .unwrap_err()
            .to_string()
            .contains("audience")
    );
    let expired = assertion("_a3", SP, "_req1", "2025-12-31T23:50:00Z");
    assert!(
        check(expired, "_a3", Some("_req1"))
            .unwrap_err()
            .to_string()
            .contains("expired")
    );
    let other_request = assertion("_a4", SP, "_req9", "2026-01-01T00:05:00Z");
    assert!(
        check(other_request, "_a4", Some("_req1"))
            .unwrap_err()
            .to_string()
            .contains("another request")
    );
    let other_recipient =
        good_assertion().replace(ACS, "https://evil.example.com/saml2/idpresponse");
    assert!(
        check(other_recipient, "_a1", Some("_req1"))
            .unwrap_err()
            .to_string()
            .contains("Recipient")
    );
    let other_issuer = good_assertion().replace(
        &format!("<saml:Issuer>{IDP}</saml:Issuer>"),
        "<saml:Issuer>https://evil.example.com</saml:Issuer>",
    );
    assert!(
        check(other_issuer, "_a1", Some("_req1"))
            .unwrap_err()
            .to_string()
            .contains("issuer")
    );
    // An IdP-initiated response answers no request.
    let unsolicited = good_assertion().replace(r#" InResponseTo="_req1""#, "");
    assert!(check(unsolicited, "_a1", None).is_ok());
    // A login token may answer any request.
    let xml = response(&sign(&good_assertion(), "_a1", &idp.key), "_req1");
    let any = Expected {
        answering: Answering::Any,
        ..expected(&keys, None)
    };
    assert!(verify_response(&xml, &any).is_ok());
}

#[test]
fn a_failed_status_says_why() {
    let xml = response("", "_req1").replace(
        r#"<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>"#,
        r#"<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"/><samlp:StatusMessage>User cancelled</samlp:StatusMessage>"#,
    );
    let err = verify_response(&xml, &expected(&[], Some("_req1"))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "The identity provider did not sign the user in (Responder): User cancelled"
    );
}

fn encryption_key() -> (Vec<u8>, crate::saml::encryption::AssertionDecryptionKey) {
    use aws_lc_rs::encoding::AsDer;
    let pair =
        aws_lc_rs::signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let pkcs8 = pair.as_der().unwrap().as_ref().to_vec();
    let key = crate::saml::encryption::AssertionDecryptionKey::from_pkcs8(&pkcs8).unwrap();
    (pkcs8, key)
}

#[test]
fn encrypted_assertions_are_decrypted_then_checked_like_plaintext_ones() {
    use crate::saml::encryption::UNDECRYPTABLE;
    use crate::saml::encryption::tests::encrypt;
    let idp = idp();
    let keys = [idp.public_key.clone()];
    let (pkcs8, key) = encryption_key();
    let mut exp = expected(&keys, Some("_req1"));
    let keys_held = [key];
    exp.encryption = AssertionEncryption::Required {
        keys: &keys_held,
        setting: "EncryptedResponses is on",
    };
    // A signed assertion, encrypted (GCM and CBC).
    for cbc in [false, true] {
        let sealed = encrypt(
            &sign(&good_assertion(), "_a1", &idp.key),
            &pkcs8,
            cbc,
            false,
        );
        let got = verify_response(&response(&sealed, "_req1"), &exp).unwrap();
        assert_eq!(got.name_id, "jane@example.com");
    }
    // An unsigned assertion encrypted inside a signed response.
    let sealed = encrypt(&good_assertion(), &pkcs8, false, true);
    let signed = sign(&response(&sealed, "_req1"), "_resp", &idp.key);
    assert!(verify_response(&signed, &exp).is_ok());
    // Anyone can encrypt to the certificate: an unsigned or forged assertion is still
    // refused, with the same message as a ciphertext that does not open.
    let forged = encrypt(&good_assertion(), &pkcs8, true, false);
    assert_eq!(
        verify_response(&response(&forged, "_req1"), &exp).unwrap_err(),
        SamlError::Rejected(UNDECRYPTABLE.into())
    );
    let other_idp = self::idp();
    let foreign = encrypt(
        &sign(&good_assertion(), "_a1", &other_idp.key),
        &pkcs8,
        true,
        false,
    );
    assert_eq!(
        verify_response(&response(&foreign, "_req1"), &exp).unwrap_err(),
        SamlError::Rejected(UNDECRYPTABLE.into())
    );
    let garbage = encrypt("<not-xml", &pkcs8, true, false);
    assert_eq!(
        verify_response(&response(&garbage, "_req1"), &exp).unwrap_err(),
        SamlError::Rejected(UNDECRYPTABLE.into())
    );
    // With EncryptedResponses on, a plaintext assertion is refused; with it off, an
    // encrypted one is.
    let plaintext = response(&sign(&good_assertion(), "_a1", &idp.key), "_req1");
    assert!(
        verify_response(&plaintext, &exp)
            .unwrap_err()
            .to_string()
            .contains("EncryptedResponses is on")
    );
    let sealed = encrypt(
        &sign(&good_assertion(), "_a1", &idp.key),
        &pkcs8,
        false,
        false,
    );
    assert!(
        verify_response(&response(&sealed, "_req1"), &expected(&keys, Some("_req1")))
            .unwrap_err()
            .to_string()
            .contains("EncryptedResponses is off")
    );
}

#[test]
fn allowed_encryption_takes_both_forms_and_any_of_two_keys() {
    use crate::saml::encryption::AssertionDecryptionKey;
    use crate::saml::encryption::tests::encrypt;
    let idp = idp();
    let signing = [idp.public_key.clone()];
    let (old_pkcs8, old_key) = encryption_key();
    let (new_pkcs8, new_key) = encryption_key();
    let held = [old_key, new_key];
    let mut exp = expected(&signing, Some("_req1"));
    exp.encryption = AssertionEncryption::Allowed(&held);
    let signed = sign(&good_assertion(), "_a1", &idp.key);
    assert!(verify_response(&response(&signed, "_req1"), &exp).is_ok());
    for pkcs8 in [&old_pkcs8, &new_pkcs8] {
        let sealed = encrypt(&signed, pkcs8, false, false);
        assert!(verify_response(&response(&sealed, "_req1"), &exp).is_ok());
    }
    // Encrypted to a key the provider does not hold.
    let (stranger, _) = encryption_key();
    let sealed = encrypt(&signed, &stranger, false, false);
    assert!(verify_response(&response(&sealed, "_req1"), &exp).is_err());
    // Allowed with no key: encrypted assertions cannot be opened.
    exp.encryption = AssertionEncryption::Allowed(&[]);
    let sealed = encrypt(&signed, &old_pkcs8, false, false);
    assert!(
        verify_response(&response(&sealed, "_req1"), &exp)
            .unwrap_err()
            .to_string()
            .contains("AddPrivateKey")
    );
    // A PKCS#1 PEM (openssl's traditional form) loads like a PKCS#8 one.
    let pem = |label: &str, der: &[u8]| {
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            b64(der)
        )
    };
    let (from_pkcs8, stored) =
        AssertionDecryptionKey::from_pem(&pem("PRIVATE KEY", &old_pkcs8)).unwrap();
    assert_eq!(stored, old_pkcs8);
    let pkcs1 = pkcs1_of(&old_pkcs8);
    let (from_pkcs1, _) =
        AssertionDecryptionKey::from_pem(&pem("RSA PRIVATE KEY", &pkcs1)).unwrap();
    let sealed = encrypt(&signed, &old_pkcs8, true, false);
    for key in [from_pkcs8, from_pkcs1] {
        let held = [key];
        let mut exp = expected(&signing, Some("_req1"));
        exp.encryption = AssertionEncryption::Allowed(&held);
        assert!(verify_response(&response(&sealed, "_req1"), &exp).is_ok());
    }
    assert!(AssertionDecryptionKey::from_pem("not a key").is_err());
    assert!(AssertionDecryptionKey::from_pem(&pem("ENCRYPTED PRIVATE KEY", &old_pkcs8)).is_err());
    assert!(AssertionDecryptionKey::from_pem(&pem("CERTIFICATE", &old_pkcs8)).is_err());
}

/// The RSAPrivateKey inside a PKCS#8 PrivateKeyInfo (its last element, an OCTET
/// STRING), read with a minimal DER walk.
fn pkcs1_of(pkcs8: &[u8]) -> Vec<u8> {
    fn header(der: &[u8]) -> (usize, usize) {
        let first = der[1] as usize;
        if first < 0x80 {
            (2, first)
        } else {
            let n = first & 0x7f;
            let len = der[2..2 + n]
                .iter()
                .fold(0usize, |acc, b| acc << 8 | *b as usize);
            (2 + n, len)
        }
    }
    let (outer, _) = header(pkcs8);
    let mut rest = &pkcs8[outer..];
    for _ in 0..2 {
        let (h, len) = header(rest);
        rest = &rest[h + len..];
    }
    let (h, len) = header(rest);
    rest[h..h + len].to_vec()
}
