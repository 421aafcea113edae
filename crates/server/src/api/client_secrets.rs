//! Client secrets of confidential app clients: AddUserPoolClientSecret,
//! DeleteUserPoolClientSecret, ListUserPoolClientSecrets, and the one place that reads
//! a client's secrets for SECRET_HASH and ClientSecret checks.
//!
//! Cognito allows two active secrets per client so an app can rotate without downtime:
//! add the new secret, deploy it, delete the old one. While both exist, either proves
//! the client. The secrets live in the client row's `secret` column, encrypted with the
//! master key as one JSON list. Rows written before rotation existed hold a single bare
//! secret, read as a list of one (a generated or custom secret never starts with '[').

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::support::load_pool_client;
use idpool_core::crypto::constant_time_eq;
use idpool_core::ids;
use idpool_store::ClientRow;
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde::{Deserialize, Serialize};

/// Cognito's limit: the current secret and the one replacing it.
const MAX_SECRETS: usize = 2;
const PURPOSE: &[u8] = b"client-secret";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientSecret {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Value")]
    pub value: String,
    /// Milliseconds since the epoch.
    #[serde(rename = "Created")]
    pub created_at: i64,
}

/// The client's secrets, oldest first; empty for a public client.
pub fn client_secrets(ctx: &Ctx, client: &ClientRow) -> ApiResult<Vec<ClientSecret>> {
    let Some(sealed) = client.secret.as_deref() else {
        return Ok(Vec::new());
    };
    let plain = ctx.state.master.decrypt_str(sealed, PURPOSE).wire()?;
    if plain.starts_with('[') {
        return serde_json::from_str(&plain).map_err(|e| {
            WireError::idp(E::InternalErrorException, format!("stored secrets: {e}"))
        });
    }
    Ok(vec![ClientSecret {
        id: secret_id(&client.client_id, client.created_at),
        value: plain,
        created_at: client.created_at,
    }])
}

/// The first secret a client was given, or its oldest remaining one: what
/// DescribeUserPoolClient shows as ClientSecret.
pub fn primary_secret(ctx: &Ctx, client: &ClientRow) -> ApiResult<Option<String>> {
    Ok(client_secrets(ctx, client)?
        .into_iter()
        .next()
        .map(|s| s.value))
}

/// The sealed column value for a new confidential client.
pub fn new_client_secret_column(ctx: &Ctx, client_id: &str, now: i64) -> String {
    seal(
        ctx,
        &[ClientSecret {
            id: secret_id(client_id, now),
            value: ids::client_secret(),
            created_at: now,
        }],
    )
}

fn seal(ctx: &Ctx, secrets: &[ClientSecret]) -> String {
    let json = serde_json::to_string(secrets).expect("secrets serialize");
    ctx.state.master.encrypt_str(&json, PURPOSE)
}

/// A secret's id: the client and the millisecond the secret was created (unique per
/// client, see `add_user_pool_client_secret`).
fn secret_id(client_id: &str, now: i64) -> String {
    format!("{client_id}--{now}")
}

/// Whether `check` accepts any of the client's secrets. Every secret is tried, so the
/// time taken does not tell which one matched.
pub fn any_secret_matches(
    ctx: &Ctx,
    client: &ClientRow,
    check: impl Fn(&str) -> bool,
) -> ApiResult<bool> {
    let mut matched = false;
    for secret in client_secrets(ctx, client)? {
        matched |= check(&secret.value);
    }
    Ok(matched)
}

/// A ClientSecret sent in plain (RevokeToken, GetTokensFromRefreshToken) against the
/// client's secrets. Ok(()) for a public client.
pub fn check_plain_secret(
    ctx: &Ctx,
    client: &ClientRow,
    provided: Option<&str>,
    mismatch: impl Fn() -> WireError,
) -> ApiResult<()> {
    if client.secret.is_none() {
        return Ok(());
    }
    let Some(provided) = provided else {
        return Err(mismatch());
    };
    if any_secret_matches(ctx, client, |s| {
        constant_time_eq(s.as_bytes(), provided.as_bytes())
    })? {
        Ok(())
    } else {
        Err(mismatch())
    }
}

fn descriptor(secret: &ClientSecret, with_value: bool) -> ClientSecretDescriptorType {
    ClientSecretDescriptorType {
        client_secret_id: Some(secret.id.clone()),
        client_secret_value: with_value.then(|| secret.value.clone()),
        client_secret_create_date: Some(secret.created_at as f64 / 1000.0),
    }
}

pub async fn add_user_pool_client_secret(
    ctx: Ctx,
    req: AddUserPoolClientSecretRequest,
) -> ApiResult<AddUserPoolClientSecretResponse> {
    let (mut client, _) = load_pool_client(&ctx, &req.user_pool_id, &req.client_id).await?;
    if client.secret.is_none() {
        return Err(WireError::invalid_parameter(format!(
            "Client {} has no client secret: secrets can only be added to confidential app clients.",
            client.client_id
        )));
    }
    let mut secrets = client_secrets(&ctx, &client)?;
    if secrets.len() >= MAX_SECRETS {
        return Err(WireError::idp(
            E::LimitExceededException,
            format!(
                "Client {} already has the maximum of {MAX_SECRETS} client secrets. Delete one before adding another.",
                client.client_id
            ),
        ));
    }
    let generated = req.client_secret.is_none();
    let value = req.client_secret.clone().unwrap_or_else(ids::client_secret);
    if secrets.iter().any(|s| s.value == value) {
        return Err(WireError::invalid_parameter(
            "The client secret is already in use by this app client.",
        ));
    }
    // Ids carry the creation millisecond; a second secret in the same millisecond
    // takes the next free one so ids stay unique and ordered.
    let mut created_at = ctx.now;
    while secrets.iter().any(|s| s.created_at == created_at) {
        created_at += 1;
    }
    let secret = ClientSecret {
        id: secret_id(&client.client_id, created_at),
        value,
        created_at,
    };
    secrets.push(secret.clone());
    client.secret = Some(seal(&ctx, &secrets));
    client.updated_at = ctx.now;
    ctx.state.store.update_client(&client).await.wire()?;
    Ok(AddUserPoolClientSecretResponse {
        // Cognito returns the value only when it generated it: a caller that chose
        // the secret already has it, and echoing it would only spread it to logs.
        client_secret_descriptor: Some(descriptor(&secret, generated)),
    })
}

pub async fn delete_user_pool_client_secret(
    ctx: Ctx,
    req: DeleteUserPoolClientSecretRequest,
) -> ApiResult<DeleteUserPoolClientSecretResponse> {
    let (mut client, _) = load_pool_client(&ctx, &req.user_pool_id, &req.client_id).await?;
    let mut secrets = client_secrets(&ctx, &client)?;
    let Some(pos) = secrets.iter().position(|s| s.id == req.client_secret_id) else {
        return Err(WireError::idp(
            E::ResourceNotFoundException,
            format!(
                "Client secret {} does not exist for client {}.",
                req.client_secret_id, client.client_id
            ),
        ));
    };
    if secrets.len() == 1 {
        return Err(WireError::invalid_parameter(
            "Cannot delete the last client secret of an app client.",
        ));
    }
    secrets.remove(pos);
    client.secret = Some(seal(&ctx, &secrets));
    client.updated_at = ctx.now;
    ctx.state.store.update_client(&client).await.wire()?;
    Ok(DeleteUserPoolClientSecretResponse {})
}

pub async fn list_user_pool_client_secrets(
    ctx: Ctx,
    req: ListUserPoolClientSecretsRequest,
) -> ApiResult<ListUserPoolClientSecretsResponse> {
    let (client, _) = load_pool_client(&ctx, &req.user_pool_id, &req.client_id).await?;
    let secrets = client_secrets(&ctx, &client)?;
    // At most two secrets: one page always, as Cognito documents.
    Ok(ListUserPoolClientSecretsResponse {
        client_secrets: Some(secrets.iter().map(|s| descriptor(s, false)).collect()),
        next_token: None,
    })
}
