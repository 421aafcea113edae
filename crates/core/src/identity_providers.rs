//! Federation providers of a user pool (CreateIdentityProvider): which
//! `ProviderDetails` each `ProviderType` needs, the endpoints Cognito fills in for the
//! social providers, and the default `username` mapping.

use crate::DomainError;
use std::collections::BTreeMap;

pub const PROVIDER_TYPES: &[&str] = &[
    "SAML",
    "Facebook",
    "Google",
    "LoginWithAmazon",
    "SignInWithApple",
    "OIDC",
];

/// The provider types whose name must be the type itself: a pool has at most one of
/// each, and the hosted UI names its button after it.
fn is_social(provider_type: &str) -> bool {
    matches!(
        provider_type,
        "Facebook" | "Google" | "LoginWithAmazon" | "SignInWithApple"
    )
}

fn required(provider_type: &str) -> &'static [&'static str] {
    match provider_type {
        "Google" | "Facebook" | "LoginWithAmazon" => {
            &["client_id", "client_secret", "authorize_scopes"]
        }
        "SignInWithApple" => &[
            "client_id",
            "team_id",
            "key_id",
            "private_key",
            "authorize_scopes",
        ],
        "OIDC" => &[
            "client_id",
            "attributes_request_method",
            "oidc_issuer",
            "authorize_scopes",
        ],
        _ => &[],
    }
}

/// The fixed endpoints Cognito adds to a social provider's details.
fn endpoints(
    provider_type: &str,
    details: &BTreeMap<String, String>,
) -> Vec<(&'static str, String)> {
    match provider_type {
        "Google" => vec![
            (
                "authorize_url",
                "https://accounts.google.com/o/oauth2/v2/auth".into(),
            ),
            (
                "token_url",
                "https://www.googleapis.com/oauth2/v4/token".into(),
            ),
            ("token_request_method", "POST".into()),
            (
                "attributes_url",
                "https://people.googleapis.com/v1/people/me?personFields=".into(),
            ),
            ("attributes_url_add_attributes", "true".into()),
            ("oidc_issuer", "https://accounts.google.com".into()),
        ],
        "Facebook" => {
            let v = details
                .get("api_version")
                .cloned()
                .unwrap_or_else(|| "v17.0".into());
            vec![
                ("api_version", v.clone()),
                (
                    "authorize_url",
                    format!("https://www.facebook.com/{v}/dialog/oauth"),
                ),
                (
                    "token_url",
                    format!("https://graph.facebook.com/{v}/oauth/access_token"),
                ),
                ("token_request_method", "GET".into()),
                (
                    "attributes_url",
                    format!("https://graph.facebook.com/{v}/me?fields="),
                ),
                ("attributes_url_add_attributes", "true".into()),
            ]
        }
        "LoginWithAmazon" => vec![
            ("authorize_url", "https://www.amazon.com/ap/oa".into()),
            ("token_url", "https://api.amazon.com/auth/o2/token".into()),
            ("token_request_method", "POST".into()),
            (
                "attributes_url",
                "https://api.amazon.com/user/profile".into(),
            ),
            ("attributes_url_add_attributes", "false".into()),
        ],
        "SignInWithApple" => vec![
            (
                "authorize_url",
                "https://appleid.apple.com/auth/authorize".into(),
            ),
            ("token_url", "https://appleid.apple.com/auth/token".into()),
            ("token_request_method", "POST".into()),
            ("oidc_issuer", "https://appleid.apple.com".into()),
        ],
        _ => Vec::new(),
    }
}

/// The claim each provider type's users are known by, mapped to `username` unless the
/// request maps it itself.
fn username_claim(provider_type: &str) -> Option<&'static str> {
    match provider_type {
        "Google" | "SignInWithApple" | "OIDC" => Some("sub"),
        "Facebook" => Some("id"),
        "LoginWithAmazon" => Some("user_id"),
        _ => None,
    }
}

/// A URL a provider's endpoint may have: https, or http to a loopback host so a local
/// test IdP works.
fn acceptable_url(url: &str) -> bool {
    if let Some(rest) = url.strip_prefix("https://") {
        return !rest.is_empty();
    }
    url.strip_prefix("http://").is_some_and(|rest| {
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        host == "localhost" || host == "127.0.0.1" || host.ends_with(".localhost")
    })
}

/// Checks a provider's name and details and returns the details as Cognito stores
/// them (social endpoints filled in).
pub fn complete_details(
    provider_name: &str,
    provider_type: &str,
    mut details: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, DomainError> {
    let invalid = |m: String| Err(DomainError::InvalidParameter(m));
    if !PROVIDER_TYPES.contains(&provider_type) {
        return invalid(format!("Invalid provider type {provider_type}."));
    }
    if is_social(provider_type) && provider_name != provider_type {
        return invalid(format!(
            "The provider name of a {provider_type} identity provider must be {provider_type}."
        ));
    }
    if provider_name.eq_ignore_ascii_case("cognito") {
        return invalid("Provider name COGNITO is reserved.".into());
    }
    let missing: Vec<&str> = required(provider_type)
        .iter()
        .copied()
        .filter(|k| details.get(*k).is_none_or(|v| v.trim().is_empty()))
        .collect();
    if !missing.is_empty() {
        return invalid(format!(
            "ProviderDetails of a {provider_type} identity provider must include: {}.",
            missing.join(", ")
        ));
    }
    match provider_type {
        "OIDC" => {
            let method = details["attributes_request_method"].as_str();
            if method != "GET" && method != "POST" {
                return invalid(format!(
                    "attributes_request_method must be GET or POST, not {method}."
                ));
            }
            for key in [
                "oidc_issuer",
                "authorize_url",
                "token_url",
                "attributes_url",
                "jwks_uri",
            ] {
                if let Some(url) = details.get(key)
                    && !acceptable_url(url)
                {
                    return invalid(format!("{key} must be an https URL: {url}"));
                }
            }
        }
        "SAML" => {
            let by_url = details.contains_key("MetadataURL");
            let by_file = details.contains_key("MetadataFile");
            if by_url == by_file {
                return invalid(
                    "ProviderDetails of a SAML identity provider must include exactly one of MetadataURL or MetadataFile."
                        .into(),
                );
            }
            if let Some(url) = details.get("MetadataURL")
                && !acceptable_url(url)
            {
                return invalid(format!("MetadataURL must be an https URL: {url}"));
            }
            if let Some(alg) = details.get("RequestSigningAlgorithm")
                && alg != "rsa-sha256"
            {
                return invalid(format!("Unsupported RequestSigningAlgorithm {alg}."));
            }
            for flag in ["IDPInit", "IDPSignout", "EncryptedResponses"] {
                if let Some(value) = details.get(flag)
                    && value != "true"
                    && value != "false"
                {
                    return invalid(format!("{flag} must be true or false, not {value}."));
                }
            }
            // Derived from the provider's key, never taken from the request (a Describe
            // response sent back in an update carries it).
            details.remove("ActiveEncryptionCertificate");
        }
        _ => {
            for (key, value) in endpoints(provider_type, &details) {
                details.insert(key.to_string(), value);
            }
        }
    }
    Ok(details)
}

/// The attribute mapping as stored: the request's, plus `username` mapped to the
/// provider's subject claim.
pub fn complete_attribute_mapping(
    provider_type: &str,
    mapping: Option<BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut mapping = mapping.unwrap_or_default();
    if let Some(claim) = username_claim(provider_type) {
        mapping
            .entry("username".into())
            .or_insert_with(|| claim.into());
    }
    mapping
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn social_providers_are_named_after_their_type_and_get_endpoints() {
        let d = details(&[
            ("client_id", "id"),
            ("client_secret", "s"),
            ("authorize_scopes", "openid email"),
        ]);
        assert!(complete_details("MyGoogle", "Google", d.clone()).is_err());
        let got = complete_details("Google", "Google", d.clone()).unwrap();
        assert_eq!(got["oidc_issuer"], "https://accounts.google.com");
        assert_eq!(got["client_id"], "id");
        let fb = complete_details("Facebook", "Facebook", d).unwrap();
        assert_eq!(
            fb["authorize_url"],
            "https://www.facebook.com/v17.0/dialog/oauth"
        );
    }

    #[test]
    fn missing_details_are_named() {
        let err = complete_details("Google", "Google", details(&[("client_id", "id")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("client_secret, authorize_scopes"), "{err}");
        let err = complete_details("corp", "OIDC", details(&[("client_id", "x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("attributes_request_method, oidc_issuer, authorize_scopes"));
    }

    #[test]
    fn oidc_and_saml_rules() {
        let oidc = |issuer: &str, method: &str| {
            complete_details(
                "corp",
                "OIDC",
                details(&[
                    ("client_id", "x"),
                    ("attributes_request_method", method),
                    ("oidc_issuer", issuer),
                    ("authorize_scopes", "openid"),
                ]),
            )
        };
        assert!(oidc("https://idp.example.com", "GET").is_ok());
        assert!(oidc("http://localhost:8080/realms/x", "POST").is_ok());
        assert!(
            oidc("http://idp.example.com", "GET").is_err(),
            "plain http off loopback"
        );
        assert!(oidc("https://idp.example.com", "PUT").is_err());
        assert!(complete_details("corp", "SAML", details(&[])).is_err());
        assert!(
            complete_details(
                "corp",
                "SAML",
                details(&[("MetadataURL", "https://x/m"), ("MetadataFile", "<x/>")])
            )
            .is_err()
        );
        assert!(complete_details("corp", "SAML", details(&[("MetadataFile", "<x/>")])).is_ok());
        assert!(complete_details("Cognito", "SAML", details(&[("MetadataFile", "<x/>")])).is_err());
    }

    #[test]
    fn username_is_mapped_to_the_subject_claim() {
        assert_eq!(
            complete_attribute_mapping("Facebook", None)["username"],
            "id"
        );
        let mut own = BTreeMap::new();
        own.insert("username".to_string(), "email".to_string());
        assert_eq!(
            complete_attribute_mapping("OIDC", Some(own))["username"],
            "email"
        );
        assert!(complete_attribute_mapping("SAML", None).is_empty());
    }
}
