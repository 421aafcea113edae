//! Logins from SAML identity providers (the identity pool's `SamlProviderARNs`, each an
//! IAM SAML provider): the login is the provider's base64 SAML response, keyed by the
//! provider's ARN, and is checked as STS's AssumeRoleWithSAML checks it: signed with a
//! certificate of the provider's metadata, issued by its entity id, for AWS's SAML
//! service provider (`https://signin.aws.amazon.com/saml` as audience and recipient),
//! and within its validity window. The identity is the assertion's NameID.
//! An encrypted assertion is opened with the provider's private keys (AddPrivateKey);
//! its AssertionEncryptionMode Required refuses plaintext ones.
//!
//! The same response is sent twice in the usual flow (GetId, then
//! GetCredentialsForIdentity), so it is not single-use: like a web identity token, it
//! stays presentable until it expires.
//!
//! The role comes from the assertion, as for AWS's SAML federation: the
//! `https://aws.amazon.com/SAML/Attributes/Role` attribute lists `role-arn,provider-arn`
//! pairs; with several roles for this provider the caller picks one with
//! `CustomRoleArn` (a role mapping of the pool for the provider wins over both).

use super::identities::VerifiedLogin;
use crate::api::Ctx;
use crate::iam::saml_providers::{
    assertion_decryption, load_saml_provider, metadata_of, name_of_arn,
};
use base64::Engine;
use idpool_core::saml::response::{Answering, AssertionEncryption, Expected, verify_response};
use idpool_store::{IdentityPoolRow, login_key};
use idpool_wire::{IdentityException as E, WireError};
use serde_json::{Map, Value, json};

/// AWS's SAML service provider: the audience and recipient of assertions meant for
/// AWS federation, identity pools included. IdPs name it by its sign-in URL, global or
/// of the region (`https://{region}.signin.aws.amazon.com/saml`), or by its entity id
/// (ADFS's relying-party identifier `urn:amazon:webservices`), all of which STS takes.
const AWS_SAML_SP: &str = "https://signin.aws.amazon.com/saml";
const AWS_SAML_ENTITY_ID: &str = "urn:amazon:webservices";
pub const ROLE_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/Role";

fn invalid(message: impl std::fmt::Display) -> WireError {
    WireError::identity(
        E::NotAuthorizedException,
        format!("Invalid login token. {message}"),
    )
}

/// Whether the pool trusts the SAML provider of this ARN.
pub fn is_saml_provider(pool: &IdentityPoolRow, provider: &str) -> bool {
    pool.config["SamlProviderARNs"]
        .as_array()
        .is_some_and(|arns| arns.iter().any(|a| a == provider))
}

/// Checks a SAML response login for the provider `arn`.
pub async fn verify(ctx: &Ctx, arn: &str, token: &str) -> Result<VerifiedLogin, WireError> {
    let row = match name_of_arn(ctx, arn) {
        Some(name) => load_saml_provider(ctx, name)
            .await
            .map_err(|e| WireError::identity(E::InternalErrorException, e.message))?,
        None => None,
    }
    .ok_or_else(|| {
        WireError::identity(
            E::InvalidParameterException,
            format!("Invalid login token. The SAML provider {arn} does not exist."),
        )
    })?;
    let metadata = metadata_of(&row, ctx.now_s()).map_err(invalid)?;
    let compact: String = token.chars().filter(|c| !c.is_whitespace()).collect();
    let xml = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| invalid("The SAML response is not base64-encoded XML."))?;
    let (encryption_required, decryption_keys) = assertion_decryption(ctx, &row)
        .map_err(|e| WireError::identity(E::InternalErrorException, e))?;
    let keys = metadata.signing_keys();
    let regional_sp = format!("https://{}.signin.aws.amazon.com/saml", ctx.region);
    let regional_entity_id = format!("{AWS_SAML_ENTITY_ID}:{}", ctx.region);
    let assertion = verify_response(
        &xml,
        &Expected {
            idp_entity_id: &metadata.entity_id,
            signing_keys: &keys,
            audiences: &[
                AWS_SAML_SP,
                AWS_SAML_ENTITY_ID,
                &regional_sp,
                &regional_entity_id,
            ],
            recipients: &[AWS_SAML_SP, &regional_sp],
            answering: Answering::Any,
            now_s: ctx.now_s(),
            encryption: if encryption_required {
                AssertionEncryption::Required {
                    keys: &decryption_keys,
                    setting: "the SAML provider's AssertionEncryptionMode is Required",
                }
            } else {
                AssertionEncryption::Allowed(&decryption_keys)
            },
        },
    )
    .map_err(invalid)?;
    let mut claims: Map<String, Value> = assertion
        .attributes
        .into_iter()
        .map(|(name, mut values)| {
            let value = if values.len() == 1 {
                json!(values.remove(0))
            } else {
                json!(values)
            };
            (name, value)
        })
        .collect();
    claims.insert("sub".into(), json!(assertion.name_id));
    Ok(VerifiedLogin {
        provider: arn.to_string(),
        key: Some(login_key(arn, &assertion.name_id)),
        token_identity: None,
        amr: vec![arn.to_string()],
        claims: Value::Object(claims),
    })
}

/// The roles the assertion offers for its provider (`role-arn,provider-arn` pairs, in
/// either order, as AWS accepts them).
pub fn assertion_roles(login: &VerifiedLogin) -> Vec<String> {
    let values: Vec<&str> = match &login.claims[ROLE_ATTRIBUTE] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    values
        .into_iter()
        .filter_map(|pair| {
            let (a, b) = pair.split_once(',')?;
            let (a, b) = (a.trim(), b.trim());
            let (role, provider) = if a.contains(":role/") { (a, b) } else { (b, a) };
            (provider == login.provider && role.contains(":role/")).then(|| role.to_string())
        })
        .collect()
}
