//! Single logout, the part of it Cognito does (SAML profiles §4.4): when a user who
//! signed in through a provider with `IDPSignout` signs out at `/logout`, the pool
//! sends the provider a LogoutRequest through the HTTP-Redirect binding, naming the
//! user's NameID and SessionIndex from the sign-in; the provider signs the user out
//! and posts a LogoutResponse back to `/saml2/logout`.

use super::dsig::{signature_of, verify_enveloped};
use super::{
    ASSERTION_NS, PROTOCOL_NS, SamlError, child, is, parse, redirect_encode, text_of,
    xml_escape as escape,
};

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// One LogoutRequest.
pub struct LogoutRequest<'a> {
    pub id: &'a str,
    pub issue_instant: &'a str,
    /// The provider's SingleLogoutService URL.
    pub destination: &'a str,
    /// `urn:amazon:cognito:sp:{poolId}`.
    pub sp_entity_id: &'a str,
    pub name_id: &'a str,
    pub name_id_format: Option<&'a str>,
    pub session_index: Option<&'a str>,
}

impl LogoutRequest<'_> {
    pub fn to_xml(&self) -> String {
        let format = self
            .name_id_format
            .map(|f| format!(r#" Format="{}""#, escape(f)))
            .unwrap_or_default();
        let session_index = self
            .session_index
            .map(|s| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", escape(s)))
            .unwrap_or_default();
        format!(
            concat!(
                r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion""#,
                r#" ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{destination}">"#,
                r#"<saml:Issuer>{issuer}</saml:Issuer><saml:NameID{format}>{name_id}</saml:NameID>{session_index}"#,
                r#"</samlp:LogoutRequest>"#
            ),
            id = escape(self.id),
            instant = escape(self.issue_instant),
            destination = escape(self.destination),
            issuer = escape(self.sp_entity_id),
            format = format,
            name_id = escape(self.name_id),
            session_index = session_index,
        )
    }

    /// The `SAMLRequest` value of the HTTP-Redirect binding (before URL encoding).
    pub fn redirect_encoded(&self) -> String {
        redirect_encode(&self.to_xml())
    }
}

/// What the provider's LogoutResponse must match.
pub struct ExpectedLogoutResponse<'a> {
    pub idp_entity_id: &'a str,
    /// SubjectPublicKeyInfo DER of the provider's signing certificates.
    pub signing_keys: &'a [Vec<u8>],
    /// The pool's `/saml2/logout` URL.
    pub destination: &'a str,
    /// The ID of the LogoutRequest idpool sent.
    pub request_id: &'a str,
}

/// Checks a LogoutResponse (HTTP-POST binding, decoded). A signature, when present,
/// must verify with the metadata's certificates; an unsigned response is accepted,
/// since all it can do is finish a sign-out idpool already made (the pool's session is
/// gone before the user is sent to the provider) and its RelayState is sealed.
/// Returns the provider's status: `Ok(())` when it signed the user out.
pub fn verify_logout_response(
    xml: &str,
    expected: &ExpectedLogoutResponse,
) -> Result<Result<(), String>, SamlError> {
    let doc = parse(xml)?;
    let response = doc.root_element();
    if !is(response, PROTOCOL_NS, "LogoutResponse") {
        return Err(SamlError::Malformed(
            "The document is not a SAML 2.0 LogoutResponse.".into(),
        ));
    }
    if signature_of(response).is_some() {
        verify_enveloped(response, expected.signing_keys)?;
    }
    if response.attribute("InResponseTo") != Some(expected.request_id) {
        return Err(SamlError::Rejected(
            "The LogoutResponse does not answer the sign-out request idpool sent.".into(),
        ));
    }
    if let Some(destination) = response.attribute("Destination")
        && destination != expected.destination
    {
        return Err(SamlError::Rejected(
            "The LogoutResponse is addressed to another endpoint (Destination).".into(),
        ));
    }
    if let Some(issuer) = child(response, ASSERTION_NS, "Issuer").map(text_of)
        && issuer != expected.idp_entity_id
    {
        return Err(SamlError::Rejected(format!(
            "The LogoutResponse's issuer {issuer} is not the identity provider."
        )));
    }
    let status = child(response, PROTOCOL_NS, "Status");
    let code = status
        .and_then(|s| child(s, PROTOCOL_NS, "StatusCode"))
        .and_then(|c| c.attribute("Value"))
        .unwrap_or_default();
    if code == SUCCESS {
        return Ok(Ok(()));
    }
    let message = status
        .and_then(|s| child(s, PROTOCOL_NS, "StatusMessage"))
        .map(text_of)
        .unwrap_or_default();
    Ok(Err(format!(
        "{}{}",
        code.rsplit(':').next().unwrap_or(code),
        if message.is_empty() {
            String::new()
        } else {
            format!(": {message}")
        }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected<'a>() -> ExpectedLogoutResponse<'a> {
        ExpectedLogoutResponse {
            idp_entity_id: "https://idp.example.com/saml",
            signing_keys: &[],
            destination: "https://auth.example.com/saml2/logout",
            request_id: "_lr1",
        }
    }

    fn response(in_response_to: &str, status: &str) -> String {
        format!(
            concat!(
                r#"<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" Destination="https://auth.example.com/saml2/logout" InResponseTo="{irt}">"#,
                r#"<saml:Issuer>https://idp.example.com/saml</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:{status}"/></samlp:Status></samlp:LogoutResponse>"#
            ),
            irt = in_response_to,
            status = status
        )
    }

    #[test]
    fn the_request_names_the_session_and_a_response_must_answer_it() {
        let request = LogoutRequest {
            id: "_lr1",
            issue_instant: "2026-01-01T00:00:00Z",
            destination: "https://idp.example.com/slo",
            sp_entity_id: "urn:amazon:cognito:sp:us-east-1_abc",
            name_id: "jane@example.com",
            name_id_format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
            session_index: Some("_s1"),
        };
        let xml = request.to_xml();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let root = doc.root_element();
        assert_eq!(
            text_of(child(root, ASSERTION_NS, "NameID").unwrap()),
            "jane@example.com"
        );
        assert_eq!(
            text_of(child(root, PROTOCOL_NS, "SessionIndex").unwrap()),
            "_s1"
        );
        assert_eq!(
            verify_logout_response(&response("_lr1", "Success"), &expected()),
            Ok(Ok(()))
        );
        assert_eq!(
            verify_logout_response(&response("_lr1", "Responder"), &expected()),
            Ok(Err("Responder".into()))
        );
        assert!(verify_logout_response(&response("_other", "Success"), &expected()).is_err());
        let foreign = response("_lr1", "Success").replace("idp.example.com/saml<", "evil.example<");
        assert!(verify_logout_response(&foreign, &expected()).is_err());
    }
}
