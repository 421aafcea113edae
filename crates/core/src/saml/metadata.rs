//! An identity provider's SAML 2.0 metadata (`MetadataFile`, or the document behind
//! `MetadataURL`): its entity id, where to send users (single sign-on and logout with
//! the HTTP-Redirect binding, which is what Cognito sends), and its signing
//! certificates. Cognito refuses metadata whose signing certificates have all expired,
//! and accepts an assertion signed with any of them (providers publish the next
//! certificate beside the current one while they roll keys over).

use super::dsig::DSIG_NS;
use super::{
    Certificate, METADATA_NS, REDIRECT_BINDING, SamlError, child, children, is, parse, text_of,
};
use base64::Engine;
use roxmltree::Node;

/// What a service provider uses of an identity provider's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso_redirect_url: String,
    pub slo_redirect_url: Option<String>,
    pub signing_certificates: Vec<Certificate>,
    pub encryption_certificates: Vec<Certificate>,
    pub want_authn_requests_signed: bool,
}

impl IdpMetadata {
    /// The public keys assertions may be signed with.
    pub fn signing_keys(&self) -> Vec<Vec<u8>> {
        self.signing_certificates
            .iter()
            .map(|c| c.public_key.clone())
            .collect()
    }
}

fn certificates_of(key_descriptor: Node) -> Result<Vec<Certificate>, SamlError> {
    let mut out = Vec::new();
    let key_info = child(key_descriptor, DSIG_NS, "KeyInfo");
    for data in key_info
        .iter()
        .flat_map(|k| children(*k, DSIG_NS, "X509Data"))
    {
        for cert in children(data, DSIG_NS, "X509Certificate") {
            let b64: String = text_of(cert)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| SamlError::Malformed("An X509Certificate is not base64.".into()))?;
            out.push(Certificate::from_der(&der).ok_or_else(|| {
                SamlError::Malformed("An X509Certificate is not an X.509 certificate.".into())
            })?);
        }
    }
    Ok(out)
}

fn service_url(idp: Node, name: &str) -> Option<String> {
    children(idp, METADATA_NS, name)
        .into_iter()
        .find(|s| s.attribute("Binding") == Some(REDIRECT_BINDING))
        .and_then(|s| s.attribute("Location"))
        .map(String::from)
}

/// Parses and checks metadata; `now_s` is for the certificates' expiry.
pub fn parse_metadata(xml: &str, now_s: i64) -> Result<IdpMetadata, SamlError> {
    let doc = parse(xml)?;
    let root = doc.root_element();
    // An aggregate (EntitiesDescriptor) is accepted when it describes one identity provider.
    let entity = if is(root, METADATA_NS, "EntityDescriptor") {
        root
    } else if is(root, METADATA_NS, "EntitiesDescriptor") {
        let idps: Vec<Node> = root
            .descendants()
            .filter(|n| is(*n, METADATA_NS, "EntityDescriptor"))
            .filter(|n| child(*n, METADATA_NS, "IDPSSODescriptor").is_some())
            .collect();
        match idps.as_slice() {
            [one] => *one,
            [] => {
                return Err(SamlError::Malformed(
                    "The metadata describes no identity provider.".into(),
                ));
            }
            _ => {
                return Err(SamlError::Malformed(
                    "The metadata describes several identity providers; give the metadata of one."
                        .into(),
                ));
            }
        }
    } else {
        return Err(SamlError::Malformed(
            "The metadata is not a SAML 2.0 EntityDescriptor.".into(),
        ));
    };
    let entity_id = entity
        .attribute("entityID")
        .filter(|e| !e.is_empty())
        .ok_or_else(|| SamlError::Malformed("The metadata has no entityID.".into()))?
        .to_string();
    let idp = child(entity, METADATA_NS, "IDPSSODescriptor")
        .ok_or_else(|| SamlError::Malformed("The metadata has no IDPSSODescriptor.".into()))?;
    let sso_redirect_url = service_url(idp, "SingleSignOnService").ok_or_else(|| {
        SamlError::Malformed(
            "The metadata has no SingleSignOnService with the HTTP-Redirect binding.".into(),
        )
    })?;
    let mut signing_certificates = Vec::new();
    let mut encryption_certificates = Vec::new();
    for descriptor in children(idp, METADATA_NS, "KeyDescriptor") {
        let certs = certificates_of(descriptor)?;
        // A KeyDescriptor without `use` serves both purposes.
        match descriptor.attribute("use") {
            Some("signing") => signing_certificates.extend(certs),
            Some("encryption") => encryption_certificates.extend(certs),
            _ => {
                signing_certificates.extend(certs.iter().cloned());
                encryption_certificates.extend(certs);
            }
        }
    }
    if signing_certificates.is_empty() {
        return Err(SamlError::Malformed(
            "The metadata has no signing certificate.".into(),
        ));
    }
    if signing_certificates.iter().all(|c| c.not_after <= now_s) {
        return Err(SamlError::Rejected(
            "Every signing certificate in the metadata has expired.".into(),
        ));
    }
    Ok(IdpMetadata {
        entity_id,
        sso_redirect_url,
        slo_redirect_url: service_url(idp, "SingleLogoutService"),
        signing_certificates,
        encryption_certificates,
        want_authn_requests_signed: idp.attribute("WantAuthnRequestsSigned") == Some("true"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{MasterKey, b64};
    use crate::tokens::certificate::signing_certificate_der;
    use crate::tokens::keys::SigningKey;

    pub(crate) fn metadata_with(cert_b64: &str) -> String {
        format!(
            r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com/saml">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAuthnRequestsSigned="true">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>
        {cert_b64}
      </ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/slo"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example.com/sso-post"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#
        )
    }

    fn certificate(created: i64) -> String {
        let master = MasterKey::from_bytes(&[7u8; 32]).unwrap();
        let (key, _) = SigningKey::generate(&master).unwrap();
        b64(&signing_certificate_der(&key, "idp", created).unwrap())
    }

    #[test]
    fn metadata_gives_endpoints_and_certificates() {
        let now = 1_767_225_600;
        let md = parse_metadata(&metadata_with(&certificate(now - 86_400)), now).unwrap();
        assert_eq!(md.entity_id, "https://idp.example.com/saml");
        assert_eq!(md.sso_redirect_url, "https://idp.example.com/sso");
        assert_eq!(
            md.slo_redirect_url.as_deref(),
            Some("https://idp.example.com/slo")
        );
        assert_eq!(md.signing_certificates.len(), 1);
        assert!(md.want_authn_requests_signed);
    }

    #[test]
    fn expired_or_missing_certificates_and_bad_documents_are_refused() {
        let now = 1_767_225_600;
        let old = certificate(now - 20 * 365 * 86_400);
        assert!(matches!(
            parse_metadata(&metadata_with(&old), now),
            Err(SamlError::Rejected(_))
        ));
        assert!(parse_metadata("<x/>", now).is_err());
        assert!(parse_metadata("not xml", now).is_err());
        let dtd = "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><x>&a;</x>";
        assert!(parse_metadata(dtd, now).is_err());
        let no_cert = metadata_with("")
            .replace("<ds:X509Certificate>", "<ds:Other>")
            .replace("</ds:X509Certificate>", "</ds:Other>");
        assert!(parse_metadata(&no_cert, now).is_err());
    }
}
