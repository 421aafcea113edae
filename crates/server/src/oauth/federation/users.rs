//! The pool user of a federated sign-in: found through an admin's link, or made from
//! the provider's claims (`{ProviderName}_{subject}`) with the triggers Cognito runs for
//! a sign-up, and kept up to date with the provider's attributes.

use super::Provider;
use crate::api::Ctx;
use crate::api::error::{ApiResult, OrWire};
use crate::api::point_in_time_recovery::refuse_write_during_recovery;
use crate::api::support::{find_user, username_key};
use crate::api::triggers;
use idpool_core::ids;
use idpool_core::triggers::Trigger;
use idpool_store::{ClientRow, ObjectKind, PoolObjectRow, PoolRow, StoreError, UserRow};
use idpool_wire::WireError;
use serde_json::{Map, Value, json};

/// A claim as a user attribute value: Cognito stores attributes as strings.
fn attribute_value(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// The pool attributes the provider's claims map to (AttributeMapping: pool attribute
/// -> provider claim), `username` aside.
fn mapped_attributes(provider: &Provider, claims: &Map<String, Value>) -> Map<String, Value> {
    provider
        .attribute_mapping
        .iter()
        .filter(|(attr, _)| attr.as_str() != "username")
        .filter_map(|(attr, claim)| {
            Some((attr.clone(), json!(attribute_value(claims.get(claim)?)?)))
        })
        .collect()
}

/// The pool user of a federated sign-in: the user an admin linked the external
/// identity to (AdminLinkProviderForUser), else `{ProviderName}_{subject}`, created at
/// the first sign-in (PreSignUp_ExternalProvider, then PostConfirmation) and given the
/// provider's current attributes at every sign-in, as Cognito does.
pub(super) async fn federated_user(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    provider: &Provider,
    claims: &Map<String, Value>,
) -> ApiResult<UserRow> {
    let subject_claim = provider
        .attribute_mapping
        .get("username")
        .map(String::as_str)
        .unwrap_or("sub");
    let subject = claims
        .get(subject_claim)
        .and_then(attribute_value)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            WireError::invalid_parameter(format!(
                "{} did not tell who the user is (no {subject_claim} claim).",
                provider.name
            ))
        })?;
    let store = &ctx.state.store;
    let link_key = format!("{}/Cognito_Subject/{subject}", provider.name);
    if let Some(link) = store
        .get_object(&pool.id, ObjectKind::ProviderLink, &link_key)
        .await
        .wire()?
        && let Some(user) = store
            .get_user(
                &pool.id,
                link.doc["UsernameKey"].as_str().unwrap_or_default(),
            )
            .await
            .wire()?
    {
        return Ok(user);
    }
    let attrs = mapped_attributes(provider, claims);
    let username = format!("{}_{subject}", provider.name);
    if let Some(mut user) = find_user(ctx, pool, &username).await? {
        let mut changed = false;
        for (k, v) in attrs {
            if user.attributes.get(&k) != Some(&v) {
                user.attributes.insert(k, v);
                changed = true;
            }
        }
        if changed {
            // During a recovery a federated user signs in only if nothing changed.
            refuse_write_during_recovery(ctx, &pool.id).await?;
            user.updated_at = ctx.now;
            store.update_user(&user).await.wire()?;
        }
        return Ok(user);
    }
    refuse_write_during_recovery(ctx, &pool.id).await?;
    let identity = json!([{
        "userId": subject,
        "providerName": provider.name,
        "providerType": provider.provider_type,
        // The provider's issuer: an OIDC provider's URL, a SAML provider's entity id.
        "issuer": provider
            .detail("oidc_issuer")
            .map(String::from)
            .or_else(|| super::saml::entity_id(provider, ctx.now_s())),
        "primary": "true",
        "dateCreated": ctx.now.to_string(),
    }]);
    let mut attributes = attrs;
    attributes.insert("identities".into(), json!(identity.to_string()));
    let mut user = UserRow {
        pool_id: pool.id.clone(),
        username_key: username_key(pool, &username),
        username,
        sub: ids::uuid(),
        status: "EXTERNAL_PROVIDER".into(),
        enabled: true,
        attributes,
        password: None,
        extra: Map::new(),
        tokens_valid_after: 0,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    if let Some(fired) = triggers::fire(
        ctx,
        pool,
        Trigger::PreSignUp,
        "PreSignUp_ExternalProvider",
        &user.username,
        Some(&client.client_id),
        json!({
            "userAttributes": triggers::user_attributes(&user),
            "validationData": Value::Null,
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    )
    .await?
    {
        // The user is confirmed by the provider; only the verification flags apply.
        for (flag, attr) in [
            ("autoVerifyEmail", "email"),
            ("autoVerifyPhone", "phone_number"),
        ] {
            if fired.response.get(flag) == Some(&json!(true)) && user.attributes.contains_key(attr)
            {
                user.attributes
                    .insert(format!("{attr}_verified"), json!("true"));
            }
        }
    }
    match store.create_user(&user).await {
        Ok(()) => {}
        // Two first sign-ins at once: the other one created the user.
        Err(StoreError::Conflict(_)) => {
            return find_user(ctx, pool, &user.username)
                .await?
                .ok_or_else(|| WireError::invalid_parameter("The user could not be created."));
        }
        Err(e) => return Err(e).wire(),
    }
    let joined = join_provider_group(ctx, pool, provider, &user).await;
    if let Err(e) = joined {
        let _ = store.delete_user(&pool.id, &user.username_key).await;
        return Err(e);
    }
    if let Err(e) = triggers::post_confirmation(
        ctx,
        pool,
        &user,
        Some(&client.client_id),
        "PostConfirmation_ConfirmSignUp",
    )
    .await
    {
        // Cognito rolls the sign-up back when PostConfirmation fails, so the next
        // sign-in runs both triggers again.
        let _ = store.delete_user(&pool.id, &user.username_key).await;
        return Err(e);
    }
    Ok(user)
}

/// Cognito puts the users of each provider in a group it creates for it,
/// `<poolId>_<ProviderName>`, which their tokens' `cognito:groups` then name.
async fn join_provider_group(
    ctx: &Ctx,
    pool: &PoolRow,
    provider: &Provider,
    user: &UserRow,
) -> ApiResult<()> {
    let store = &ctx.state.store;
    let name = format!("{}_{}", pool.id, provider.name);
    let group = PoolObjectRow {
        pool_id: pool.id.clone(),
        kind: ObjectKind::Group,
        key: name.clone(),
        doc: json!({
            "Description": format!("Autogenerated group for users who sign in using {}", provider.name),
        }),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    match store.create_object(&group).await {
        Ok(()) | Err(StoreError::Conflict(_)) => {}
        Err(e) => return Err(e).wire(),
    }
    store
        .add_member(&pool.id, &name, &user.username_key)
        .await
        .wire()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn claims_map_to_string_attributes() {
        let provider = Provider {
            name: "Corp".into(),
            provider_type: "OIDC".into(),
            details: BTreeMap::new(),
            attribute_mapping: [
                ("email", "email"),
                ("email_verified", "email_verified"),
                ("username", "sub"),
                ("custom:level", "level"),
                ("name", "missing"),
            ]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
            fetched_metadata: None,
            fetched_metadata_at_s: None,
            encryption_key: None,
        };
        let claims =
            json!({"sub": "u1", "email": "a@example.com", "email_verified": true, "level": 3})
                .as_object()
                .cloned()
                .unwrap();
        let attrs = mapped_attributes(&provider, &claims);
        assert_eq!(attrs["email"], "a@example.com");
        assert_eq!(attrs["email_verified"], "true");
        assert_eq!(attrs["custom:level"], "3");
        assert!(!attrs.contains_key("name"));
        assert!(!attrs.contains_key("username"));
    }
}
