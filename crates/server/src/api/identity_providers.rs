//! Federation providers of a pool: CreateIdentityProvider, DescribeIdentityProvider,
//! UpdateIdentityProvider, DeleteIdentityProvider, ListIdentityProviders,
//! GetIdentityProviderByIdentifier, and the links between external identities and
//! pool users: AdminLinkProviderForUser, AdminDisableProviderForUser. A provider is
//! stored as Cognito's `IdentityProviderType` under `ObjectKind::IdentityProvider`.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::support::{list_objects_page, load_pool, not_found, require_user};
use idpool_core::identity_providers::{complete_attribute_mapping, complete_details};
use idpool_store::{ObjectKind, PoolObjectRow, PoolRow, StoreError};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde_json::{Value, json};

/// Cognito's quota of identity providers per user pool.
const MAX_PROVIDERS: i64 = 300;
/// Cognito links at most five external identities to one user.
const MAX_LINKS_PER_USER: usize = 5;

/// AcrMapping: only OIDC providers take one, keyed by the pool's four ACR levels. It is
/// kept and returned; idpool's tokens carry no `acr` claim, so nothing reads it yet.
fn check_acr_mapping(
    provider_type: &str,
    mapping: Option<&std::collections::BTreeMap<String, String>>,
) -> ApiResult<()> {
    let Some(mapping) = mapping else {
        return Ok(());
    };
    if provider_type != "OIDC" && !mapping.is_empty() {
        return Err(WireError::invalid_parameter(
            "AcrMapping is supported only for OIDC identity providers.",
        ));
    }
    if let Some(level) = mapping
        .keys()
        .find(|k| !matches!(k.as_str(), "Level1" | "Level2" | "Level3" | "Level4"))
    {
        return Err(WireError::invalid_parameter(format!(
            "AcrMapping key {level} is not one of Level1, Level2, Level3 and Level4."
        )));
    }
    Ok(())
}

fn provider_type(row: &PoolObjectRow) -> ApiResult<IdentityProviderType> {
    let mut doc = row.doc.clone();
    if doc["ProviderDetails"]["EncryptedResponses"] == "true"
        && let Some(certificate) = doc[SAML_ENCRYPTION]["Certificate"].as_str()
    {
        doc["ProviderDetails"]["ActiveEncryptionCertificate"] = json!(certificate);
    }
    doc["UserPoolId"] = json!(row.pool_id);
    doc["ProviderName"] = json!(row.key);
    doc["CreationDate"] = json!(row.created_at as f64 / 1000.0);
    doc["LastModifiedDate"] = json!(row.updated_at as f64 / 1000.0);
    serde_json::from_value(doc).map_err(|e| {
        WireError::idp(
            E::InternalErrorException,
            format!("stored identity provider: {e}"),
        )
    })
}

async fn load_provider(ctx: &Ctx, pool: &PoolRow, name: &str) -> ApiResult<PoolObjectRow> {
    ctx.state
        .store
        .get_object(&pool.id, ObjectKind::IdentityProvider, name)
        .await
        .wire()?
        .ok_or_else(|| not_found(format!("Identity provider {name} does not exist.")))
}

/// Every provider of the pool (at most 300), for checks across providers.
async fn all_providers(ctx: &Ctx, pool: &PoolRow) -> ApiResult<Vec<PoolObjectRow>> {
    ctx.state
        .store
        .list_objects(
            &pool.id,
            ObjectKind::IdentityProvider,
            None,
            MAX_PROVIDERS as u32,
        )
        .await
        .wire()
}

/// An IdP identifier (the email domain or name the hosted UI routes by) points at one
/// provider of the pool.
async fn check_identifiers(
    ctx: &Ctx,
    pool: &PoolRow,
    provider: &str,
    identifiers: &[String],
) -> ApiResult<()> {
    let mut seen = std::collections::HashSet::new();
    for id in identifiers {
        if !seen.insert(id) {
            return Err(WireError::invalid_parameter(format!(
                "Duplicate identifier {id}."
            )));
        }
    }
    for other in all_providers(ctx, pool).await? {
        if other.key == provider {
            continue;
        }
        let theirs = other.doc["IdpIdentifiers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if let Some(taken) = identifiers.iter().find(|i| theirs.contains(&json!(i))) {
            return Err(WireError::idp(
                E::DuplicateProviderException,
                format!(
                    "Identifier {taken} is already used by identity provider {}.",
                    other.key
                ),
            ));
        }
    }
    Ok(())
}

/// Where the metadata fetched from a SAML provider's `MetadataURL` is kept (beside,
/// not in, ProviderDetails, which Cognito returns without it).
pub const FETCHED_METADATA: &str = "FetchedMetadata";
/// When it was fetched (Unix milliseconds), for the six-hourly refresh.
pub const FETCHED_METADATA_AT: &str = "FetchedMetadataAt";

/// Where a SAML provider's encryption key pair is kept: `Key`, its PKCS#8 encrypted
/// with the master key, and `Certificate`, which Describe returns as
/// `ActiveEncryptionCertificate` while `EncryptedResponses` is on.
pub const SAML_ENCRYPTION: &str = "SamlEncryption";

/// The details Cognito derives from SAML metadata and returns in ProviderDetails.
const SAML_DERIVED_DETAILS: &[&str] = &["SSORedirectBindingURI", "SLORedirectBindingURI"];

/// Reads a SAML provider's metadata (the file, or the document at the URL, fetched now
/// as Cognito fetches it when the provider is saved), refuses what cannot work, and
/// adds the endpoints Cognito derives to the details. Returns the fetched document of
/// a `MetadataURL`.
async fn saml_metadata(
    ctx: &Ctx,
    details: &mut std::collections::BTreeMap<String, String>,
) -> ApiResult<Option<String>> {
    let (document, fetched) = match (details.get("MetadataFile"), details.get("MetadataURL")) {
        (Some(file), _) => (file.clone(), None),
        (None, Some(url)) => {
            let text = crate::oauth::federation::saml::fetch_metadata(ctx, url)
                .await
                .map_err(WireError::invalid_parameter)?;
            (text.clone(), Some(text))
        }
        (None, None) => {
            return Err(WireError::invalid_parameter(
                "ProviderDetails of a SAML identity provider must include MetadataURL or MetadataFile.",
            ));
        }
    };
    let metadata = idpool_core::saml::metadata::parse_metadata(&document, ctx.now_s())
        .map_err(|e| WireError::invalid_parameter(format!("Invalid SAML metadata: {e}")))?;
    details.insert("SSORedirectBindingURI".into(), metadata.sso_redirect_url);
    if let Some(slo) = metadata.slo_redirect_url {
        details.insert("SLORedirectBindingURI".into(), slo);
    }
    Ok(fetched)
}

/// The provider's encryption key pair, made when `EncryptedResponses` is first turned
/// on. As Cognito, every SAML provider has its own, so that an IdP encrypts to one
/// provider only; it is kept when encryption is turned off, so the certificate an IdP
/// was given still works when it is turned on again.
fn saml_encryption_key(
    ctx: &Ctx,
    pool_id: &str,
    provider: &str,
    details: &std::collections::BTreeMap<String, String>,
    existing: &Value,
) -> ApiResult<Value> {
    if !existing.is_null() || details.get("EncryptedResponses").map(String::as_str) != Some("true")
    {
        return Ok(existing.clone());
    }
    let (key, encrypted) =
        idpool_core::tokens::keys::SigningKey::generate(&ctx.state.master).wire()?;
    let der = idpool_core::tokens::certificate::signing_certificate_der(
        &key,
        &format!("{pool_id} {provider}"),
        ctx.now_s(),
    )
    .wire()?;
    Ok(json!({"Key": encrypted, "Certificate": idpool_core::crypto::b64(&der)}))
}

pub async fn create_identity_provider(
    ctx: Ctx,
    req: CreateIdentityProviderRequest,
) -> ApiResult<CreateIdentityProviderResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let mut details =
        complete_details(&req.provider_name, &req.provider_type, req.provider_details).wire()?;
    let fetched_metadata = if req.provider_type == "SAML" {
        saml_metadata(&ctx, &mut details).await?
    } else {
        None
    };
    let identifiers = req.idp_identifiers.unwrap_or_default();
    check_identifiers(&ctx, &pool, &req.provider_name, &identifiers).await?;
    check_acr_mapping(&req.provider_type, req.acr_mapping.as_ref())?;
    let encryption =
        saml_encryption_key(&ctx, &pool.id, &req.provider_name, &details, &Value::Null)?;
    let store = &ctx.state.store;
    if store
        .count_objects(&pool.id, ObjectKind::IdentityProvider)
        .await
        .wire()?
        >= MAX_PROVIDERS
    {
        return Err(WireError::idp(
            E::LimitExceededException,
            format!("A user pool can have at most {MAX_PROVIDERS} identity providers."),
        ));
    }
    let row = PoolObjectRow {
        pool_id: pool.id.clone(),
        kind: ObjectKind::IdentityProvider,
        key: req.provider_name.clone(),
        doc: json!({
            "ProviderType": req.provider_type,
            "ProviderDetails": details,
            "AttributeMapping": complete_attribute_mapping(&req.provider_type, req.attribute_mapping),
            "IdpIdentifiers": identifiers,
            "AcrMapping": req.acr_mapping,
            FETCHED_METADATA_AT: fetched_metadata.as_ref().map(|_| ctx.now),
            FETCHED_METADATA: fetched_metadata,
            SAML_ENCRYPTION: encryption,
        }),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    match store.create_object(&row).await {
        Ok(()) => Ok(CreateIdentityProviderResponse {
            identity_provider: provider_type(&row)?,
        }),
        Err(StoreError::Conflict(_)) => Err(WireError::idp(
            E::DuplicateProviderException,
            format!(
                "A provider with the name {} already exists.",
                req.provider_name
            ),
        )),
        Err(e) => Err(e).wire(),
    }
}

pub async fn describe_identity_provider(
    ctx: Ctx,
    req: DescribeIdentityProviderRequest,
) -> ApiResult<DescribeIdentityProviderResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let row = load_provider(&ctx, &pool, &req.provider_name).await?;
    Ok(DescribeIdentityProviderResponse {
        identity_provider: provider_type(&row)?,
    })
}

/// Changes what the request names. New details are checked whole, as at creation, so
/// an update cannot leave a provider without what it needs.
pub async fn update_identity_provider(
    ctx: Ctx,
    req: UpdateIdentityProviderRequest,
) -> ApiResult<UpdateIdentityProviderResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let mut row = load_provider(&ctx, &pool, &req.provider_name).await?;
    let kind = row.doc["ProviderType"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if let Some(new) = req.provider_details {
        let mut merged: std::collections::BTreeMap<String, String> =
            serde_json::from_value(row.doc["ProviderDetails"].clone()).unwrap_or_default();
        // Metadata given anew replaces the old source and what was derived from it.
        if kind == "SAML" && (new.contains_key("MetadataURL") || new.contains_key("MetadataFile")) {
            merged.remove("MetadataURL");
            merged.remove("MetadataFile");
        }
        merged.extend(new);
        if kind == "SAML" {
            for derived in SAML_DERIVED_DETAILS {
                merged.remove(*derived);
            }
        }
        let mut details = complete_details(&req.provider_name, &kind, merged).wire()?;
        if kind == "SAML" {
            let fetched = saml_metadata(&ctx, &mut details).await?;
            row.doc[FETCHED_METADATA_AT] = json!(fetched.as_ref().map(|_| ctx.now));
            row.doc[FETCHED_METADATA] = json!(fetched);
            row.doc[SAML_ENCRYPTION] = saml_encryption_key(
                &ctx,
                &pool.id,
                &req.provider_name,
                &details,
                &row.doc[SAML_ENCRYPTION],
            )?;
        }
        row.doc["ProviderDetails"] = json!(details);
    }
    if let Some(mapping) = req.attribute_mapping {
        row.doc["AttributeMapping"] = json!(complete_attribute_mapping(&kind, Some(mapping)));
    }
    if let Some(identifiers) = req.idp_identifiers {
        check_identifiers(&ctx, &pool, &req.provider_name, &identifiers).await?;
        row.doc["IdpIdentifiers"] = json!(identifiers);
    }
    if let Some(mapping) = req.acr_mapping {
        check_acr_mapping(&kind, Some(&mapping))?;
        row.doc["AcrMapping"] = json!(mapping);
    }
    row.updated_at = ctx.now;
    ctx.state.store.put_object(&row).await.wire()?;
    Ok(UpdateIdentityProviderResponse {
        identity_provider: provider_type(&row)?,
    })
}

pub async fn delete_identity_provider(
    ctx: Ctx,
    req: DeleteIdentityProviderRequest,
) -> ApiResult<()> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    if !ctx
        .state
        .store
        .delete_object(&pool.id, ObjectKind::IdentityProvider, &req.provider_name)
        .await
        .wire()?
    {
        return Err(not_found(format!(
            "Identity provider {} does not exist.",
            req.provider_name
        )));
    }
    Ok(())
}

pub async fn list_identity_providers(
    ctx: Ctx,
    req: ListIdentityProvidersRequest,
) -> ApiResult<ListIdentityProvidersResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let (rows, next_token) = list_objects_page(
        &ctx,
        &pool.id,
        ObjectKind::IdentityProvider,
        req.next_token.as_deref(),
        req.max_results.unwrap_or(60) as u32,
    )
    .await?;
    Ok(ListIdentityProvidersResponse {
        providers: rows
            .iter()
            .map(|r| ProviderDescription {
                provider_name: Some(r.key.clone()),
                provider_type: r.doc["ProviderType"].as_str().map(str::to_string),
                last_modified_date: Some(r.updated_at as f64 / 1000.0),
                creation_date: Some(r.created_at as f64 / 1000.0),
            })
            .collect(),
        next_token,
    })
}

pub async fn get_identity_provider_by_identifier(
    ctx: Ctx,
    req: GetIdentityProviderByIdentifierRequest,
) -> ApiResult<GetIdentityProviderByIdentifierResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let wanted = json!(req.idp_identifier);
    let row = all_providers(&ctx, &pool)
        .await?
        .into_iter()
        .find(|p| {
            p.doc["IdpIdentifiers"]
                .as_array()
                .is_some_and(|ids| ids.contains(&wanted))
        })
        .ok_or_else(|| {
            not_found(format!(
                "Identity provider with identifier {} does not exist.",
                req.idp_identifier
            ))
        })?;
    Ok(GetIdentityProviderByIdentifierResponse {
        identity_provider: provider_type(&row)?,
    })
}

fn link_key(source: &ProviderUserIdentifierType) -> String {
    format!(
        "{}/{}/{}",
        source.provider_name.as_deref().unwrap_or_default(),
        source
            .provider_attribute_name
            .as_deref()
            .unwrap_or_default(),
        source
            .provider_attribute_value
            .as_deref()
            .unwrap_or_default()
    )
}

/// The user's `identities` attribute (a JSON string, as Cognito reports it) as a list.
fn identities(user: &idpool_store::UserRow) -> Vec<Value> {
    user.attr("identities")
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default()
}

/// Links an external identity to an existing pool user, so that signing in through the
/// provider signs in as that user. The source identity must not have signed in yet:
/// Cognito does not merge two existing users.
pub async fn admin_link_provider_for_user(
    ctx: Ctx,
    req: AdminLinkProviderForUserRequest,
) -> ApiResult<()> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let dest = &req.destination_user;
    if !dest
        .provider_name
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case("cognito"))
    {
        return Err(WireError::invalid_parameter(
            "The DestinationUser must be a Cognito user: ProviderName Cognito.",
        ));
    }
    let mut user = require_user(
        &ctx,
        &pool,
        dest.provider_attribute_value.as_deref().unwrap_or_default(),
    )
    .await?;
    let source = &req.source_user;
    let provider_name = source.provider_name.as_deref().unwrap_or_default();
    let value = source
        .provider_attribute_value
        .as_deref()
        .unwrap_or_default();
    if value.is_empty() {
        return Err(WireError::invalid_parameter(
            "SourceUser needs a ProviderAttributeValue.",
        ));
    }
    let provider = load_provider(&ctx, &pool, provider_name).await?;
    let federated_username = format!("{provider_name}_{value}");
    if super::support::find_user(&ctx, &pool, &federated_username)
        .await?
        .is_some()
    {
        return Err(WireError::invalid_parameter(
            "Merging is not currently supported, provide a SourceUser that has not been used to sign in yet.",
        ));
    }
    let mut links = identities(&user);
    if links.len() >= MAX_LINKS_PER_USER {
        return Err(WireError::idp(
            E::LimitExceededException,
            format!("A user can be linked to at most {MAX_LINKS_PER_USER} external identities."),
        ));
    }
    let link = PoolObjectRow {
        pool_id: pool.id.clone(),
        kind: ObjectKind::ProviderLink,
        key: link_key(source),
        doc: json!({"Username": user.username, "UsernameKey": user.username_key}),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    match ctx.state.store.create_object(&link).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(WireError::idp(
                E::AliasExistsException,
                "The SourceUser is already linked to a user of this pool.",
            ));
        }
        Err(e) => return Err(e).wire(),
    }
    links.push(json!({
        "userId": value,
        "providerName": provider_name,
        "providerType": provider.doc["ProviderType"],
        "issuer": Value::Null,
        "primary": "false",
        "dateCreated": ctx.now.to_string(),
    }));
    user.attributes
        .insert("identities".into(), json!(Value::Array(links).to_string()));
    user.updated_at = ctx.now;
    ctx.state.store.update_user(&user).await.wire()?;
    Ok(())
}

/// Stops an external identity from signing in: its link to a pool user goes, and a
/// user that the provider created at sign-in (`Provider_value`) is disabled.
pub async fn admin_disable_provider_for_user(
    ctx: Ctx,
    req: AdminDisableProviderForUserRequest,
) -> ApiResult<()> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let source = &req.user;
    let provider_name = source.provider_name.as_deref().unwrap_or_default();
    let value = source
        .provider_attribute_value
        .as_deref()
        .unwrap_or_default();
    let store = &ctx.state.store;
    if let Some(link) = store
        .get_object(&pool.id, ObjectKind::ProviderLink, &link_key(source))
        .await
        .wire()?
    {
        store
            .delete_object(&pool.id, ObjectKind::ProviderLink, &link.key)
            .await
            .wire()?;
        if let Some(mut user) = store
            .get_user(
                &pool.id,
                link.doc["UsernameKey"].as_str().unwrap_or_default(),
            )
            .await
            .wire()?
        {
            let kept: Vec<Value> = identities(&user)
                .into_iter()
                .filter(|i| !(i["providerName"] == provider_name && i["userId"] == value))
                .collect();
            if kept.is_empty() {
                user.attributes.remove("identities");
            } else {
                user.attributes
                    .insert("identities".into(), json!(Value::Array(kept).to_string()));
            }
            user.updated_at = ctx.now;
            store.update_user(&user).await.wire()?;
        }
        return Ok(());
    }
    if let Some(mut user) =
        super::support::find_user(&ctx, &pool, &format!("{provider_name}_{value}")).await?
    {
        user.enabled = false;
        user.updated_at = ctx.now;
        store.update_user(&user).await.wire()?;
        return Ok(());
    }
    Err(WireError::idp(
        E::ResourceNotFoundException,
        format!("No user of provider {provider_name} with value {value} is linked or signed in."),
    ))
}
