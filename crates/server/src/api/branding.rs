//! Managed login: branding styles (CreateManagedLoginBranding,
//! DescribeManagedLoginBranding, DescribeManagedLoginBrandingByClient,
//! UpdateManagedLoginBranding, DeleteManagedLoginBranding) and the terms documents
//! its sign-up pages link to (CreateTerms, DescribeTerms, UpdateTerms, DeleteTerms,
//! ListTerms). Both belong to one app client and are stored as Cognito documents.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::support::{list_objects_page, load_pool, load_pool_client, not_found};
use crate::ui::i18n::Lang;
use idpool_core::{crypto, ids};
use idpool_store::{ObjectKind, PoolObjectRow, PoolRow, StoreError};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde_json::{Value, json};

/// Cognito's limit of assets in one branding style.
const MAX_ASSETS: usize = 40;
/// Cognito's limit of one asset's size.
const MAX_ASSET_BYTES: usize = 2 * 1024 * 1024;

/// Every object of `kind` in the pool (brandings and terms are a few per client).
async fn all_of(ctx: &Ctx, pool: &PoolRow, kind: ObjectKind) -> ApiResult<Vec<PoolObjectRow>> {
    ctx.state
        .store
        .list_objects(&pool.id, kind, None, 10_000)
        .await
        .wire()
}

// ---------------------------------------------------------------- branding

/// The style as Describe returns it. `merged` (ReturnMergedResources) fills every
/// setting the style leaves unset with the default idpool's pages use, as Cognito
/// fills in its own defaults; a style that uses Cognito-provided values is all
/// defaults.
fn branding_type(row: &PoolObjectRow, merged: bool) -> ApiResult<ManagedLoginBrandingType> {
    let mut doc = row.doc.clone();
    if merged {
        doc["Settings"] = idpool_core::branding::merged_settings(&doc["Settings"]);
        if doc["Assets"].is_null() {
            doc["Assets"] = json!([]);
        }
    }
    doc.as_object_mut()
        .expect("brandings are stored as objects")
        .remove("ClientId");
    doc["ManagedLoginBrandingId"] = json!(row.key);
    doc["UserPoolId"] = json!(row.pool_id);
    doc["CreationDate"] = json!(row.created_at as f64 / 1000.0);
    doc["LastModifiedDate"] = json!(row.updated_at as f64 / 1000.0);
    serde_json::from_value(doc)
        .map_err(|e| WireError::idp(E::InternalErrorException, format!("stored branding: {e}")))
}

/// Cognito's own look, or the caller's settings and assets: never both.
fn check_branding(
    use_cognito: bool,
    settings: Option<&Value>,
    assets: Option<&[AssetType]>,
) -> ApiResult<()> {
    if use_cognito && (settings.is_some() || assets.is_some_and(|a| !a.is_empty())) {
        return Err(WireError::invalid_parameter(
            "Settings and Assets cannot be set when UseCognitoProvidedValues is true.",
        ));
    }
    let assets = assets.unwrap_or_default();
    if assets.len() > MAX_ASSETS {
        return Err(WireError::invalid_parameter(format!(
            "A branding style can have at most {MAX_ASSETS} assets."
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for a in assets {
        // IDP_BUTTON_ICON assets are one per identity provider (`ResourceId`).
        if !seen.insert((
            a.category.as_str(),
            a.color_mode.as_str(),
            a.resource_id.as_deref(),
        )) {
            return Err(WireError::invalid_parameter(format!(
                "Duplicate asset for category {} and color mode {}.",
                a.category, a.color_mode
            )));
        }
        if let Some(b) = &a.bytes {
            let size = crypto::b64_decode(b).map(|b| b.len()).ok_or_else(|| {
                WireError::invalid_parameter("Asset bytes must be base64-encoded.")
            })?;
            if size > MAX_ASSET_BYTES {
                return Err(WireError::invalid_parameter(
                    "An asset must be at most 2 MB.",
                ));
            }
        }
    }
    Ok(())
}

/// The look the client's managed login branding style gives the hosted pages: CSS and
/// a logo (`idpool_core::branding`). None without a style, or with Cognito's own values.
pub async fn managed_login_style(
    ctx: &Ctx,
    pool: &PoolRow,
    client_id: &str,
) -> Option<idpool_core::branding::Look> {
    let style = client_branding(ctx, pool, client_id).await.ok()??;
    if style.doc["UseCognitoProvidedValues"] == true {
        return None;
    }
    Some(idpool_core::branding::style(&style.doc))
}

/// The client's branding style, through its index entry: two point reads.
async fn client_branding(
    ctx: &Ctx,
    pool: &PoolRow,
    client_id: &str,
) -> ApiResult<Option<PoolObjectRow>> {
    let store = &ctx.state.store;
    let Some(index) = store
        .get_object(
            &pool.id,
            ObjectKind::ManagedLoginBrandingOfClient,
            client_id,
        )
        .await
        .wire()?
    else {
        return Ok(None);
    };
    let id = index.doc["ManagedLoginBrandingId"]
        .as_str()
        .unwrap_or_default();
    store
        .get_object(&pool.id, ObjectKind::ManagedLoginBranding, id)
        .await
        .wire()
}

async fn load_branding(ctx: &Ctx, pool: &PoolRow, id: &str) -> ApiResult<PoolObjectRow> {
    ctx.state
        .store
        .get_object(&pool.id, ObjectKind::ManagedLoginBranding, id)
        .await
        .wire()?
        .ok_or_else(|| not_found(format!("Managed login branding {id} does not exist.")))
}

pub async fn create_managed_login_branding(
    ctx: Ctx,
    req: CreateManagedLoginBrandingRequest,
) -> ApiResult<CreateManagedLoginBrandingResponse> {
    let (client, pool) = load_pool_client(&ctx, &req.user_pool_id, &req.client_id).await?;
    let use_cognito = req.use_cognito_provided_values.unwrap_or(false);
    check_branding(use_cognito, req.settings.as_ref(), req.assets.as_deref())?;
    let id = ids::uuid();
    // The client's index entry is claimed first: a second style for the same client
    // conflicts there, even when two requests race.
    let index = PoolObjectRow {
        pool_id: pool.id.clone(),
        kind: ObjectKind::ManagedLoginBrandingOfClient,
        key: client.client_id.clone(),
        doc: json!({"ManagedLoginBrandingId": id}),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    match ctx.state.store.create_object(&index).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(WireError::idp(
                E::ManagedLoginBrandingExistsException,
                format!(
                    "App client {} already has a managed login branding style.",
                    client.client_id
                ),
            ));
        }
        Err(e) => return Err(e).wire(),
    }
    let mut doc = json!({
        "ClientId": client.client_id,
        "UseCognitoProvidedValues": use_cognito,
    });
    if let Some(s) = req.settings {
        doc["Settings"] = s;
    }
    if let Some(a) = req.assets {
        doc["Assets"] = json!(a);
    }
    let row = PoolObjectRow {
        pool_id: pool.id.clone(),
        kind: ObjectKind::ManagedLoginBranding,
        key: id,
        doc,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    if let Err(e) = ctx.state.store.create_object(&row).await {
        let _ = ctx
            .state
            .store
            .delete_object(
                &pool.id,
                ObjectKind::ManagedLoginBrandingOfClient,
                &index.key,
            )
            .await;
        return Err(e).wire();
    }
    Ok(CreateManagedLoginBrandingResponse {
        managed_login_branding: Some(branding_type(&row, false)?),
    })
}

pub async fn describe_managed_login_branding(
    ctx: Ctx,
    req: DescribeManagedLoginBrandingRequest,
) -> ApiResult<DescribeManagedLoginBrandingResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let row = load_branding(&ctx, &pool, &req.managed_login_branding_id).await?;
    Ok(DescribeManagedLoginBrandingResponse {
        managed_login_branding: Some(branding_type(
            &row,
            req.return_merged_resources.unwrap_or(false),
        )?),
    })
}

pub async fn describe_managed_login_branding_by_client(
    ctx: Ctx,
    req: DescribeManagedLoginBrandingByClientRequest,
) -> ApiResult<DescribeManagedLoginBrandingByClientResponse> {
    let (client, pool) = load_pool_client(&ctx, &req.user_pool_id, &req.client_id).await?;
    let row = client_branding(&ctx, &pool, &client.client_id)
        .await?
        .ok_or_else(|| {
            not_found(format!(
                "App client {} has no managed login branding style.",
                client.client_id
            ))
        })?;
    Ok(DescribeManagedLoginBrandingByClientResponse {
        managed_login_branding: Some(branding_type(
            &row,
            req.return_merged_resources.unwrap_or(false),
        )?),
    })
}

/// Merges what the request gives into the style, as Cognito "preserves existing style
/// settings that you don't specify" (a style too big for one 2 MB request is sent in
/// several): settings key by key, assets by category and colour mode.
/// `UseCognitoProvidedValues: true` drops the style's own settings and assets.
pub async fn update_managed_login_branding(
    ctx: Ctx,
    req: UpdateManagedLoginBrandingRequest,
) -> ApiResult<UpdateManagedLoginBrandingResponse> {
    let pool_id = req
        .user_pool_id
        .as_deref()
        .ok_or_else(|| WireError::invalid_parameter("UserPoolId is required."))?;
    let id = req
        .managed_login_branding_id
        .as_deref()
        .ok_or_else(|| WireError::invalid_parameter("ManagedLoginBrandingId is required."))?;
    let pool = load_pool(&ctx, pool_id).await?;
    let mut row = load_branding(&ctx, &pool, id).await?;
    let use_cognito = req.use_cognito_provided_values.unwrap_or(false);
    check_branding(use_cognito, req.settings.as_ref(), req.assets.as_deref())?;
    let doc = row
        .doc
        .as_object_mut()
        .expect("brandings are stored as objects");
    if use_cognito {
        doc.remove("Settings");
        doc.remove("Assets");
    }
    doc.insert("UseCognitoProvidedValues".into(), json!(use_cognito));
    if let Some(s) = req.settings {
        match doc.get_mut("Settings") {
            Some(existing) if existing.is_object() => {
                idpool_core::branding::merge_settings(existing, &s)
            }
            _ => {
                doc.insert("Settings".into(), s);
            }
        }
    }
    if let Some(new_assets) = req.assets {
        let mut assets: Vec<Value> = doc
            .get("Assets")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for asset in new_assets {
            let asset = json!(asset);
            // IDP_BUTTON_ICON assets are one per identity provider (`ResourceId`).
            assets.retain(|a| {
                a["Category"] != asset["Category"]
                    || a["ColorMode"] != asset["ColorMode"]
                    || a["ResourceId"] != asset["ResourceId"]
            });
            assets.push(asset);
        }
        if assets.len() > MAX_ASSETS {
            return Err(WireError::invalid_parameter(format!(
                "A branding style can have at most {MAX_ASSETS} assets."
            )));
        }
        doc.insert("Assets".into(), Value::Array(assets));
    }
    row.updated_at = ctx.now;
    ctx.state.store.put_object(&row).await.wire()?;
    Ok(UpdateManagedLoginBrandingResponse {
        managed_login_branding: Some(branding_type(&row, false)?),
    })
}

pub async fn delete_managed_login_branding(
    ctx: Ctx,
    req: DeleteManagedLoginBrandingRequest,
) -> ApiResult<()> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let row = load_branding(&ctx, &pool, &req.managed_login_branding_id).await?;
    let store = &ctx.state.store;
    store
        .delete_object(&pool.id, ObjectKind::ManagedLoginBranding, &row.key)
        .await
        .wire()?;
    if let Some(client_id) = row.doc["ClientId"].as_str() {
        store
            .delete_object(
                &pool.id,
                ObjectKind::ManagedLoginBrandingOfClient,
                client_id,
            )
            .await
            .wire()?;
    }
    Ok(())
}

// ---------------------------------------------------------------- terms

fn terms_type(row: &PoolObjectRow) -> ApiResult<TermsType> {
    let mut doc = row.doc.clone();
    doc["TermsId"] = json!(row.key);
    doc["UserPoolId"] = json!(row.pool_id);
    doc["CreationDate"] = json!(row.created_at as f64 / 1000.0);
    doc["LastModifiedDate"] = json!(row.updated_at as f64 / 1000.0);
    serde_json::from_value(doc)
        .map_err(|e| WireError::idp(E::InternalErrorException, format!("stored terms: {e}")))
}

async fn load_terms(ctx: &Ctx, pool: &PoolRow, id: &str) -> ApiResult<PoolObjectRow> {
    ctx.state
        .store
        .get_object(&pool.id, ObjectKind::Terms, id)
        .await
        .wire()?
        .ok_or_else(|| not_found(format!("Terms {id} do not exist.")))
}

/// An app client has at most one document of each name (terms-of-use,
/// privacy-policy).
async fn check_terms_name(
    ctx: &Ctx,
    pool: &PoolRow,
    client_id: &str,
    name: &str,
    except: Option<&str>,
) -> ApiResult<()> {
    let taken = all_of(ctx, pool, ObjectKind::Terms)
        .await?
        .into_iter()
        .any(|t| {
            t.doc["ClientId"] == client_id
                && t.doc["TermsName"] == name
                && Some(t.key.as_str()) != except
        });
    if taken {
        return Err(WireError::idp(
            E::TermsExistsException,
            format!("App client {client_id} already has {name} terms."),
        ));
    }
    Ok(())
}

/// A link of the app client's terms the sign-up page shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TermsLink {
    pub label: &'static str,
    pub url: String,
}

/// The client's terms of use and privacy policy as the sign-up page links them, in the
/// page's language: that language's link (`cognito:german` ...), else `cognito:default`,
/// else `cognito:english`; terms of use first. Only http(s) links: the model lets a
/// link be any text, and a `javascript:` one must not reach a page.
pub async fn client_terms_links(
    ctx: &Ctx,
    pool: &PoolRow,
    client_id: &str,
    lang: Lang,
) -> Vec<TermsLink> {
    let Ok(all) = all_of(ctx, pool, ObjectKind::Terms).await else {
        return Vec::new();
    };
    let mut links: Vec<(bool, TermsLink)> = all
        .iter()
        .filter(|t| t.doc["ClientId"] == client_id)
        .filter_map(|t| {
            let terms_of_use = match t.doc["TermsName"].as_str()? {
                "terms-of-use" => true,
                "privacy-policy" => false,
                _ => return None,
            };
            let links = &t.doc["Links"];
            let url = [lang.terms_key(), "cognito:default", "cognito:english"]
                .into_iter()
                .find_map(|key| links[key].as_str())?;
            let web =
                reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "https" | "http"));
            let label = lang.text(if terms_of_use {
                "terms_of_use"
            } else {
                "privacy_policy"
            });
            web.then(|| {
                (
                    terms_of_use,
                    TermsLink {
                        label,
                        url: url.to_string(),
                    },
                )
            })
        })
        .collect();
    links.sort_by_key(|(terms_of_use, _)| !terms_of_use);
    links.into_iter().map(|(_, link)| link).collect()
}

pub async fn create_terms(ctx: Ctx, req: CreateTermsRequest) -> ApiResult<CreateTermsResponse> {
    let (client, pool) = load_pool_client(&ctx, &req.user_pool_id, &req.client_id).await?;
    check_terms_name(&ctx, &pool, &client.client_id, &req.terms_name, None).await?;
    let row = PoolObjectRow {
        pool_id: pool.id.clone(),
        kind: ObjectKind::Terms,
        key: ids::uuid(),
        doc: json!({
            "ClientId": client.client_id,
            "TermsName": req.terms_name,
            "TermsSource": req.terms_source,
            "Enforcement": req.enforcement,
            "Links": req.links.unwrap_or_default(),
        }),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    ctx.state.store.create_object(&row).await.wire()?;
    Ok(CreateTermsResponse {
        terms: Some(terms_type(&row)?),
    })
}

pub async fn describe_terms(
    ctx: Ctx,
    req: DescribeTermsRequest,
) -> ApiResult<DescribeTermsResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let row = load_terms(&ctx, &pool, &req.terms_id).await?;
    Ok(DescribeTermsResponse {
        terms: Some(terms_type(&row)?),
    })
}

/// The terms document of one name that an app client has (an app client has at most
/// one of each name).
pub async fn describe_terms_by_client(
    ctx: Ctx,
    req: DescribeTermsByClientRequest,
) -> ApiResult<DescribeTermsByClientResponse> {
    let (client, pool) = load_pool_client(&ctx, &req.user_pool_id, &req.client_id).await?;
    let row = all_of(&ctx, &pool, ObjectKind::Terms)
        .await?
        .into_iter()
        .find(|t| t.doc["ClientId"] == client.client_id && t.doc["TermsName"] == req.terms_name)
        .ok_or_else(|| {
            not_found(format!(
                "App client {} has no {} terms.",
                client.client_id, req.terms_name
            ))
        })?;
    Ok(DescribeTermsByClientResponse {
        terms: Some(terms_type(&row)?),
    })
}

pub async fn update_terms(ctx: Ctx, req: UpdateTermsRequest) -> ApiResult<UpdateTermsResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let mut row = load_terms(&ctx, &pool, &req.terms_id).await?;
    if let Some(name) = &req.terms_name {
        let client_id = row.doc["ClientId"].as_str().unwrap_or_default().to_string();
        check_terms_name(&ctx, &pool, &client_id, name, Some(&row.key)).await?;
        row.doc["TermsName"] = json!(name);
    }
    if let Some(v) = req.terms_source {
        row.doc["TermsSource"] = json!(v);
    }
    if let Some(v) = req.enforcement {
        row.doc["Enforcement"] = json!(v);
    }
    if let Some(v) = req.links {
        row.doc["Links"] = json!(v);
    }
    row.updated_at = ctx.now;
    ctx.state.store.put_object(&row).await.wire()?;
    Ok(UpdateTermsResponse {
        terms: Some(terms_type(&row)?),
    })
}

pub async fn delete_terms(ctx: Ctx, req: DeleteTermsRequest) -> ApiResult<()> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let row = load_terms(&ctx, &pool, &req.terms_id).await?;
    ctx.state
        .store
        .delete_object(&pool.id, ObjectKind::Terms, &row.key)
        .await
        .wire()?;
    Ok(())
}

pub async fn list_terms(ctx: Ctx, req: ListTermsRequest) -> ApiResult<ListTermsResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let (rows, next_token) = list_objects_page(
        &ctx,
        &pool.id,
        ObjectKind::Terms,
        req.next_token.as_deref(),
        req.max_results.unwrap_or(10) as u32,
    )
    .await?;
    Ok(ListTermsResponse {
        terms: rows
            .iter()
            .map(|r| TermsDescriptionType {
                terms_id: r.key.clone(),
                terms_name: r.doc["TermsName"].as_str().unwrap_or_default().into(),
                enforcement: r.doc["Enforcement"].as_str().unwrap_or_default().into(),
                creation_date: r.created_at as f64 / 1000.0,
                last_modified_date: r.updated_at as f64 / 1000.0,
            })
            .collect(),
        next_token,
    })
}
