//! IAM OpenID Connect providers: CreateOpenIDConnectProvider,
//! GetOpenIDConnectProvider, ListOpenIDConnectProviders, DeleteOpenIDConnectProvider,
//! AddClientIDToOpenIDConnectProvider, RemoveClientIDFromOpenIDConnectProvider,
//! UpdateOpenIDConnectProviderThumbprint.
//!
//! An identity pool trusts an external OIDC provider by naming its ARN
//! (`arn:aws:iam::{account}:oidc-provider/{host/path}`) in `OpenIdConnectProviderARNs`;
//! apps then send its ID tokens as logins keyed `{host/path}` (`identity/oidc.rs`).
//! IAM requires `https://` URLs; dev mode also takes `http://`, so a test or a local
//! provider needs no certificate. Thumbprints are stored and returned, never used:
//! like IAM today for most providers, idpool trusts the provider through its TLS
//! certificate chain.

use super::{Params, QueryResult, create_entity, required, store_error, tags_of, write_tags};
use crate::api::Ctx;
use idpool_store::{IAM_ACCOUNT_SCOPE, ObjectKind, PoolObjectRow};
use idpool_wire::query::{QueryError, QueryErrorCode as Q, Xml, iso8601, members};
use serde_json::json;

/// IAM's limits: 100 client ids and 5 thumbprints per provider.
const MAX_CLIENT_IDS: usize = 100;
const MAX_THUMBPRINTS: usize = 5;

fn arn_of(ctx: &Ctx, name: &str) -> String {
    format!(
        "arn:aws:iam::{}:oidc-provider/{name}",
        ctx.state.config.account_id
    )
}

/// The provider name of an ARN of this account.
fn name_of_arn<'a>(ctx: &Ctx, arn: &'a str) -> Option<&'a str> {
    arn.strip_prefix(&format!(
        "arn:aws:iam::{}:oidc-provider/",
        ctx.state.config.account_id
    ))
    .filter(|n| !n.is_empty())
}

fn not_found(arn: &str) -> QueryError {
    QueryError::new(
        Q::NoSuchEntity,
        format!("OpenIDConnect Provider not found for arn {arn}"),
    )
}

/// An OIDC provider as stored, by name (its URL without scheme).
pub async fn load_oidc_provider(ctx: &Ctx, name: &str) -> QueryResult<Option<PoolObjectRow>> {
    ctx.state
        .store
        .get_object(IAM_ACCOUNT_SCOPE, ObjectKind::IamOidcProvider, name)
        .await
        .map_err(store_error)
}

async fn require(ctx: &Ctx, p: &Params) -> QueryResult<PoolObjectRow> {
    let arn = required(p, "OpenIDConnectProviderArn")?;
    let Some(name) = name_of_arn(ctx, arn) else {
        return Err(QueryError::new(
            Q::InvalidInput,
            format!("Invalid OpenIDConnect Provider ARN {arn}"),
        ));
    };
    load_oidc_provider(ctx, name)
        .await?
        .ok_or_else(|| not_found(arn))
}

pub async fn create_open_id_connect_provider(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let url = required(p, "Url")?.trim_end_matches('/');
    let rest = match url.split_once("://") {
        Some(("https", rest)) => rest,
        Some(("http", rest)) if ctx.state.config.dev => rest,
        _ => "",
    };
    if rest.is_empty() || rest.contains(['?', '#']) || url.len() > 255 {
        return Err(QueryError::new(
            Q::InvalidInput,
            format!(
                "Invalid URL {url}: an OpenID Connect provider URL begins with https:// and has no query or fragment."
            ),
        ));
    }
    let client_ids = members(p, "ClientIDList");
    let thumbprints = members(p, "ThumbprintList");
    if client_ids.len() > MAX_CLIENT_IDS || client_ids.iter().any(|c| c.is_empty() || c.len() > 255)
    {
        return Err(QueryError::new(
            Q::InvalidInput,
            "ClientIDList takes at most 100 client ids of 1 to 255 characters.",
        ));
    }
    if thumbprints.len() > MAX_THUMBPRINTS || thumbprints.iter().any(|t| t.len() != 40) {
        return Err(QueryError::new(
            Q::InvalidInput,
            "ThumbprintList takes at most 5 thumbprints of 40 hex characters.",
        ));
    }
    let arn = arn_of(ctx, rest);
    let row = create_entity(
        ctx,
        ObjectKind::IamOidcProvider,
        rest.to_string(),
        json!({
            "Arn": arn,
            "Url": url,
            "ClientIDList": client_ids,
            "ThumbprintList": thumbprints,
            "Tags": tags_of(p),
        }),
        format!("Provider with url {url} already exists."),
    )
    .await?;
    let mut x = Xml::new();
    x.text("OpenIDConnectProviderArn", &arn);
    write_tags(&mut x, &row.doc["Tags"]);
    Ok(x.finish())
}

fn write_list(x: &mut Xml, element: &str, values: &serde_json::Value) {
    x.open(element);
    for v in values.as_array().into_iter().flatten() {
        x.text("member", v.as_str().unwrap_or_default());
    }
    x.close(element);
}

pub async fn get_open_id_connect_provider(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let row = require(ctx, p).await?;
    let mut x = Xml::new();
    // IAM gives the URL without its scheme.
    x.text("Url", &row.key);
    write_list(&mut x, "ClientIDList", &row.doc["ClientIDList"]);
    write_list(&mut x, "ThumbprintList", &row.doc["ThumbprintList"]);
    x.text("CreateDate", &iso8601(row.created_at / 1000));
    write_tags(&mut x, &row.doc["Tags"]);
    Ok(x.finish())
}

pub async fn list_open_id_connect_providers(ctx: &Ctx, _p: &Params) -> QueryResult<String> {
    let rows = ctx
        .state
        .store
        .list_objects(IAM_ACCOUNT_SCOPE, ObjectKind::IamOidcProvider, None, 1000)
        .await
        .map_err(store_error)?;
    let mut x = Xml::new();
    x.open("OpenIDConnectProviderList");
    for row in &rows {
        x.open("member")
            .text("Arn", row.doc["Arn"].as_str().unwrap_or_default())
            .close("member");
    }
    x.close("OpenIDConnectProviderList");
    Ok(x.finish())
}

pub async fn delete_open_id_connect_provider(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let row = require(ctx, p).await?;
    ctx.state
        .store
        .delete_object(IAM_ACCOUNT_SCOPE, ObjectKind::IamOidcProvider, &row.key)
        .await
        .map_err(store_error)?;
    Ok(String::new())
}

async fn save(ctx: &Ctx, mut row: PoolObjectRow) -> QueryResult<String> {
    row.updated_at = ctx.now;
    ctx.state
        .store
        .put_object(&row)
        .await
        .map_err(store_error)?;
    Ok(String::new())
}

pub async fn add_client_id_to_open_id_connect_provider(
    ctx: &Ctx,
    p: &Params,
) -> QueryResult<String> {
    let mut row = require(ctx, p).await?;
    let client_id = required(p, "ClientID")?;
    let mut ids: Vec<serde_json::Value> = row.doc["ClientIDList"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // Adding an id the provider has already succeeds and changes nothing, as in IAM.
    if !ids.iter().any(|c| c == client_id) {
        if ids.len() >= MAX_CLIENT_IDS || client_id.is_empty() || client_id.len() > 255 {
            return Err(QueryError::new(
                Q::LimitExceeded,
                "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100",
            ));
        }
        ids.push(json!(client_id));
    }
    row.doc["ClientIDList"] = json!(ids);
    save(ctx, row).await
}

pub async fn remove_client_id_from_open_id_connect_provider(
    ctx: &Ctx,
    p: &Params,
) -> QueryResult<String> {
    let mut row = require(ctx, p).await?;
    let client_id = required(p, "ClientID")?;
    if let Some(ids) = row.doc["ClientIDList"].as_array_mut() {
        ids.retain(|c| c != client_id);
    }
    save(ctx, row).await
}

pub async fn update_open_id_connect_provider_thumbprint(
    ctx: &Ctx,
    p: &Params,
) -> QueryResult<String> {
    let mut row = require(ctx, p).await?;
    let thumbprints = members(p, "ThumbprintList");
    if thumbprints.len() > MAX_THUMBPRINTS || thumbprints.iter().any(|t| t.len() != 40) {
        return Err(QueryError::new(
            Q::InvalidInput,
            "ThumbprintList takes at most 5 thumbprints of 40 hex characters.",
        ));
    }
    row.doc["ThumbprintList"] = json!(thumbprints);
    save(ctx, row).await
}
