//! The AuthnRequest a user pool sends to its identity provider, in the HTTP-Redirect
//! binding's form: raw DEFLATE, then base64 (SAML bindings §3.4.4.1). Its ID comes back
//! as the response's `InResponseTo`, which ties the response to this request.

use super::{redirect_encode, xml_escape as escape};

/// One AuthnRequest.
pub struct AuthnRequest<'a> {
    pub id: &'a str,
    pub issue_instant: &'a str,
    /// The provider's SingleSignOnService URL.
    pub destination: &'a str,
    /// Where the provider posts its response: the pool's `/saml2/idpresponse`.
    pub acs_url: &'a str,
    /// `urn:amazon:cognito:sp:{poolId}`.
    pub sp_entity_id: &'a str,
}

impl AuthnRequest<'_> {
    pub fn to_xml(&self) -> String {
        format!(
            concat!(
                r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion""#,
                r#" ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{destination}""#,
                r#" AssertionConsumerServiceURL="{acs}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">"#,
                r#"<saml:Issuer>{issuer}</saml:Issuer>"#,
                r#"<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified" AllowCreate="true"/>"#,
                r#"</samlp:AuthnRequest>"#
            ),
            id = escape(self.id),
            instant = escape(self.issue_instant),
            destination = escape(self.destination),
            acs = escape(self.acs_url),
            issuer = escape(self.sp_entity_id),
        )
    }

    /// The `SAMLRequest` value of the HTTP-Redirect binding (before URL encoding).
    pub fn redirect_encoded(&self) -> String {
        redirect_encode(&self.to_xml())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn redirect_encoding_inflates_back_to_the_request() {
        let req = AuthnRequest {
            id: "_abc",
            issue_instant: "2026-12-05T09:00:00Z",
            destination: "https://idp.example.com/sso?tenant=a&b=c",
            acs_url: "https://auth.example.com/saml2/idpresponse",
            sp_entity_id: "urn:amazon:cognito:sp:us-east-1_abc",
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(req.redirect_encoded())
            .unwrap();
        let xml =
            String::from_utf8(miniz_oxide::inflate::decompress_to_vec(&bytes).unwrap()).unwrap();
        assert_eq!(xml, req.to_xml());
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(
            doc.root_element().attribute("Destination"),
            Some("https://idp.example.com/sso?tenant=a&b=c")
        );
    }
}
