//! IAM SAML providers: CreateSAMLProvider, GetSAMLProvider, ListSAMLProviders,
//! UpdateSAMLProvider, DeleteSAMLProvider.
//!
//! An identity pool trusts a SAML identity provider by naming its ARN
//! (`arn:aws:iam::{account}:saml-provider/{Name}`) in `SamlProviderARNs`; apps then send
//! the provider's base64 SAML response as the login keyed by that ARN
//! (`identity/saml.rs`). The metadata document is checked when it is stored, as IAM
//! checks it, so a provider that exists can verify assertions. Its private keys
//! (AddPrivateKey, for encrypted assertions) are stored sealed with the master key and
//! never returned.

use super::{Params, QueryResult, create_entity, required, store_error, tags_of, write_tags};
use crate::api::Ctx;
use idpool_core::ids::random_string;
use idpool_core::saml::encryption::AssertionDecryptionKey;
use idpool_core::saml::metadata::{IdpMetadata, parse_metadata};
use idpool_store::{IAM_ACCOUNT_SCOPE, ObjectKind, PoolObjectRow};
use idpool_wire::query::{QueryError, QueryErrorCode as Q, Xml, iso8601};
use serde_json::{Value, json};

/// IAM's bounds on a metadata document.
const MIN_METADATA_CHARS: usize = 1000;
const MAX_METADATA_CHARS: usize = 10_000_000;
/// IAM holds at most two private keys per provider: the current one and the one being
/// rotated in.
const MAX_PRIVATE_KEYS: usize = 2;
const MAX_PRIVATE_KEY_CHARS: usize = 16_384;
const PRIVATE_KEYS: &str = "PrivateKeys";
const ENCRYPTION_MODE: &str = "AssertionEncryptionMode";
/// The master-key purpose of a provider's sealed private keys.
const PRIVATE_KEY_PURPOSE: &[u8] = b"iam-saml-private-key";

fn arn_prefix(ctx: &Ctx) -> String {
    format!(
        "arn:aws:iam::{}:saml-provider/",
        ctx.state.config.account_id
    )
}

/// The provider name of a SAML provider ARN of this account.
pub fn name_of_arn<'a>(ctx: &Ctx, arn: &'a str) -> Option<&'a str> {
    arn.strip_prefix(&arn_prefix(ctx)).filter(|n| !n.is_empty())
}

/// A SAML provider as stored, by name.
pub async fn load_saml_provider(ctx: &Ctx, name: &str) -> QueryResult<Option<PoolObjectRow>> {
    ctx.state
        .store
        .get_object(IAM_ACCOUNT_SCOPE, ObjectKind::IamSamlProvider, name)
        .await
        .map_err(store_error)
}

/// The parsed metadata of a stored provider.
pub fn metadata_of(row: &PoolObjectRow, now_s: i64) -> Result<IdpMetadata, String> {
    parse_metadata(
        row.doc["SAMLMetadataDocument"].as_str().unwrap_or_default(),
        now_s,
    )
    .map_err(|e| e.to_string())
}

fn check_metadata(ctx: &Ctx, document: &str) -> QueryResult<()> {
    if !(MIN_METADATA_CHARS..=MAX_METADATA_CHARS).contains(&document.len()) {
        return Err(QueryError::new(
            Q::ValidationError,
            format!(
                "1 validation error detected: Value at 'sAMLMetadataDocument' failed to satisfy constraint: Member must have length between {MIN_METADATA_CHARS} and {MAX_METADATA_CHARS}"
            ),
        ));
    }
    parse_metadata(document, ctx.now_s())
        .map(|_| ())
        .map_err(|e| QueryError::new(Q::InvalidInput, format!("Could not parse metadata: {e}")))
}

fn validation(message: String) -> QueryError {
    QueryError::new(
        Q::ValidationError,
        format!("1 validation error detected: {message}"),
    )
}

/// Applies AssertionEncryptionMode, AddPrivateKey and RemovePrivateKey to a provider's
/// document, as CreateSAMLProvider and UpdateSAMLProvider take them.
fn apply_encryption(ctx: &Ctx, p: &Params, doc: &mut Value) -> QueryResult<()> {
    let add = p.get("AddPrivateKey");
    let remove = p.get("RemovePrivateKey");
    if add.is_some() && remove.is_some() {
        // IAM's rotation is two requests: add the new key, then remove the old one.
        return Err(QueryError::new(
            Q::InvalidInput,
            "AddPrivateKey and RemovePrivateKey cannot be used in the same request: add the new key, then remove the old one in a separate request.",
        ));
    }
    if let Some(mode) = p.get("AssertionEncryptionMode") {
        if !["Required", "Allowed"].contains(&mode.as_str()) {
            return Err(validation(format!(
                "Value '{mode}' at 'assertionEncryptionMode' failed to satisfy constraint: Member must satisfy enum value set: [Required, Allowed]"
            )));
        }
        doc[ENCRYPTION_MODE] = json!(mode);
    }
    let mut keys = doc[PRIVATE_KEYS].as_array().cloned().unwrap_or_default();
    if let Some(pem) = add {
        if pem.is_empty() || pem.len() > MAX_PRIVATE_KEY_CHARS {
            return Err(validation(format!(
                "Value at 'addPrivateKey' failed to satisfy constraint: Member must have length between 1 and {MAX_PRIVATE_KEY_CHARS}"
            )));
        }
        if keys.len() >= MAX_PRIVATE_KEYS {
            return Err(QueryError::new(
                Q::LimitExceeded,
                format!(
                    "Cannot exceed quota for PrivateKeysPerSAMLProvider: {MAX_PRIVATE_KEYS}. Remove a private key before adding another."
                ),
            ));
        }
        let (_, pkcs8) = AssertionDecryptionKey::from_pem(pem).map_err(|why| {
            QueryError::new(Q::InvalidInput, format!("Invalid private key: {why}"))
        })?;
        keys.push(json!({
            "KeyId": random_string(KEY_ID_ALPHABET, 26),
            "Timestamp": ctx.now,
            "Sealed": ctx.state.master.encrypt(&pkcs8, PRIVATE_KEY_PURPOSE),
        }));
    }
    if let Some(key_id) = remove {
        let before = keys.len();
        keys.retain(|k| k["KeyId"] != key_id.as_str());
        if keys.len() == before {
            return Err(QueryError::new(
                Q::InvalidInput,
                format!("The private key {key_id} does not exist for this SAML provider."),
            ));
        }
    }
    if doc[ENCRYPTION_MODE] == "Required" && keys.is_empty() {
        return Err(QueryError::new(
            Q::InvalidInput,
            "AssertionEncryptionMode Required needs a private key to decrypt assertions: add one with AddPrivateKey.",
        ));
    }
    doc[PRIVATE_KEYS] = json!(keys);
    Ok(())
}

const KEY_ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// How a stored provider's assertions may be encrypted, with its private keys opened.
pub fn assertion_decryption(
    ctx: &Ctx,
    row: &PoolObjectRow,
) -> Result<(bool, Vec<AssertionDecryptionKey>), String> {
    let required = row.doc[ENCRYPTION_MODE] == "Required";
    let mut keys = Vec::new();
    for key in row.doc[PRIVATE_KEYS].as_array().into_iter().flatten() {
        let key = key["Sealed"]
            .as_str()
            .and_then(|sealed| ctx.state.master.decrypt(sealed, PRIVATE_KEY_PURPOSE).ok())
            .and_then(|pkcs8| AssertionDecryptionKey::from_pkcs8(&pkcs8))
            .ok_or("The SAML provider's private key cannot be opened.")?;
        keys.push(key);
    }
    Ok((required, keys))
}

async fn require(ctx: &Ctx, p: &Params) -> QueryResult<PoolObjectRow> {
    let arn = required(p, "SAMLProviderArn")?;
    let Some(name) = name_of_arn(ctx, arn) else {
        return Err(QueryError::new(
            Q::InvalidInput,
            format!("Invalid SAML provider ARN {arn}"),
        ));
    };
    load_saml_provider(ctx, name).await?.ok_or_else(|| {
        QueryError::new(Q::NoSuchEntity, format!("Manifest not found for arn {arn}"))
    })
}

pub async fn create_saml_provider(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let name = required(p, "Name")?;
    let document = required(p, "SAMLMetadataDocument")?;
    let name_ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !name_ok {
        return Err(QueryError::new(
            Q::ValidationError,
            format!(
                "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w._-]+"
            ),
        ));
    }
    check_metadata(ctx, document)?;
    let arn = format!("{}{name}", arn_prefix(ctx));
    let mut doc = json!({
        "Arn": arn,
        "SAMLMetadataDocument": document,
        "Tags": tags_of(p),
    });
    apply_encryption(ctx, p, &mut doc)?;
    let row = create_entity(
        ctx,
        ObjectKind::IamSamlProvider,
        name.to_string(),
        doc,
        format!("SAMLProvider {name} already exists."),
    )
    .await?;
    let mut x = Xml::new();
    x.text("SAMLProviderArn", &arn);
    write_tags(&mut x, &row.doc["Tags"]);
    Ok(x.finish())
}

pub async fn get_saml_provider(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let row = require(ctx, p).await?;
    let mut x = Xml::new();
    x.text(
        "SAMLMetadataDocument",
        row.doc["SAMLMetadataDocument"].as_str().unwrap_or_default(),
    );
    x.text("CreateDate", &iso8601(row.created_at / 1000));
    write_tags(&mut x, &row.doc["Tags"]);
    if let Some(mode) = row.doc[ENCRYPTION_MODE].as_str() {
        x.text("AssertionEncryptionMode", mode);
    }
    // Only the keys' ids and upload times: IAM never returns a private key.
    x.open("PrivateKeyList");
    for key in row.doc[PRIVATE_KEYS].as_array().into_iter().flatten() {
        x.open("member")
            .text("KeyId", key["KeyId"].as_str().unwrap_or_default())
            .text(
                "Timestamp",
                &iso8601(key["Timestamp"].as_i64().unwrap_or_default() / 1000),
            )
            .close("member");
    }
    x.close("PrivateKeyList");
    Ok(x.finish())
}

pub async fn list_saml_providers(ctx: &Ctx, _p: &Params) -> QueryResult<String> {
    let rows = ctx
        .state
        .store
        .list_objects(IAM_ACCOUNT_SCOPE, ObjectKind::IamSamlProvider, None, 1000)
        .await
        .map_err(store_error)?;
    let mut x = Xml::new();
    x.open("SAMLProviderList");
    for row in &rows {
        x.open("member")
            .text("Arn", row.doc["Arn"].as_str().unwrap_or_default())
            .text("CreateDate", &iso8601(row.created_at / 1000))
            .close("member");
    }
    x.close("SAMLProviderList");
    Ok(x.finish())
}

pub async fn update_saml_provider(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let mut row = require(ctx, p).await?;
    if let Some(document) = p.get("SAMLMetadataDocument") {
        check_metadata(ctx, document)?;
        row.doc["SAMLMetadataDocument"] = json!(document);
    }
    apply_encryption(ctx, p, &mut row.doc)?;
    row.updated_at = ctx.now;
    ctx.state
        .store
        .put_object(&row)
        .await
        .map_err(store_error)?;
    let mut x = Xml::new();
    x.text(
        "SAMLProviderArn",
        row.doc["Arn"].as_str().unwrap_or_default(),
    );
    Ok(x.finish())
}

pub async fn delete_saml_provider(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let row = require(ctx, p).await?;
    ctx.state
        .store
        .delete_object(IAM_ACCOUNT_SCOPE, ObjectKind::IamSamlProvider, &row.key)
        .await
        .map_err(store_error)?;
    Ok(String::new())
}
