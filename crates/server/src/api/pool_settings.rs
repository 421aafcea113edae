//! Pool-wide settings kept as documents: tags (TagResource, UntagResource,
//! ListTagsForResource), the classic hosted UI's look (SetUICustomization,
//! GetUICustomization) and threat protection (SetRiskConfiguration,
//! DescribeRiskConfiguration); log export is `log_delivery`. UI and risk settings
//! exist for the whole pool (`ALL`) and per app client; a client without its own uses
//! the pool's.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::support::{load_pool, load_pool_client, not_found};
use idpool_core::crypto;
use idpool_store::{ObjectKind, PoolObjectRow, PoolRow};
use idpool_wire::WireError;
use idpool_wire::shapes::cognito_idp::*;
use serde_json::{Map, Value, json};

/// Cognito's quota of tags per user pool.
const MAX_TAGS: usize = 50;
/// Cognito's limit for a hosted-UI logo.
const MAX_LOGO_BYTES: usize = 100 * 1024;
/// The key of pool-wide UI and risk settings.
pub(crate) const ALL_CLIENTS: &str = "ALL";

// ---------------------------------------------------------------- tags

/// Only user pools take tags; their ARN names the pool.
async fn pool_by_arn(ctx: &Ctx, arn: &str) -> ApiResult<PoolRow> {
    let pool_id = arn
        .strip_prefix("arn:aws:cognito-idp:")
        .and_then(|rest| rest.split_once(":userpool/"))
        .map(|(_, id)| id)
        .ok_or_else(|| not_found(format!("Resource {arn} does not exist.")))?;
    let pool = ctx
        .state
        .store
        .get_pool(pool_id)
        .await
        .wire()?
        .ok_or_else(|| not_found(format!("Resource {arn} does not exist.")))?;
    Ok(pool)
}

fn tags_of(pool: &PoolRow) -> Map<String, Value> {
    pool.config["UserPoolTags"]
        .as_object()
        .cloned()
        .unwrap_or_default()
}

async fn save_tags(ctx: &Ctx, mut pool: PoolRow, tags: Map<String, Value>) -> ApiResult<()> {
    if tags.len() > MAX_TAGS {
        return Err(WireError::invalid_parameter(format!(
            "A user pool can have at most {MAX_TAGS} tags."
        )));
    }
    pool.config["UserPoolTags"] = Value::Object(tags);
    pool.updated_at = ctx.now;
    ctx.state.store.update_pool(&pool).await.wire()
}

pub async fn tag_resource(ctx: Ctx, req: TagResourceRequest) -> ApiResult<()> {
    let pool = pool_by_arn(&ctx, &req.resource_arn).await?;
    let mut tags = tags_of(&pool);
    for (k, v) in req.tags {
        if k.starts_with("aws:") {
            return Err(WireError::invalid_parameter(
                "Tag keys starting with aws: are reserved.",
            ));
        }
        tags.insert(k, json!(v));
    }
    save_tags(&ctx, pool, tags).await
}

pub async fn untag_resource(ctx: Ctx, req: UntagResourceRequest) -> ApiResult<()> {
    let pool = pool_by_arn(&ctx, &req.resource_arn).await?;
    let mut tags = tags_of(&pool);
    for k in &req.tag_keys {
        tags.remove(k);
    }
    save_tags(&ctx, pool, tags).await
}

pub async fn list_tags_for_resource(
    ctx: Ctx,
    req: ListTagsForResourceRequest,
) -> ApiResult<ListTagsForResourceResponse> {
    let pool = pool_by_arn(&ctx, &req.resource_arn).await?;
    let tags = tags_of(&pool)
        .into_iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string())))
        .collect();
    Ok(ListTagsForResourceResponse { tags: Some(tags) })
}

// ---------------------------------------------------------------- per-client documents

/// The settings key for `client_id` (checked to belong to the pool), or `ALL`.
async fn client_key(ctx: &Ctx, pool: &PoolRow, client_id: Option<&str>) -> ApiResult<String> {
    match client_id {
        Some(id) if id != ALL_CLIENTS => {
            load_pool_client(ctx, &pool.id, id).await?;
            Ok(id.to_string())
        }
        _ => Ok(ALL_CLIENTS.to_string()),
    }
}

/// The client's own settings of `kind`, else the pool's.
pub(crate) async fn effective(
    ctx: &Ctx,
    pool: &PoolRow,
    kind: ObjectKind,
    key: &str,
) -> ApiResult<Option<PoolObjectRow>> {
    let store = &ctx.state.store;
    if let Some(own) = store.get_object(&pool.id, kind, key).await.wire()? {
        return Ok(Some(own));
    }
    if key == ALL_CLIENTS {
        return Ok(None);
    }
    store.get_object(&pool.id, kind, ALL_CLIENTS).await.wire()
}

pub(crate) async fn put_setting(
    ctx: &Ctx,
    pool: &PoolRow,
    kind: ObjectKind,
    key: &str,
    doc: Value,
) -> ApiResult<PoolObjectRow> {
    let store = &ctx.state.store;
    let created_at = store
        .get_object(&pool.id, kind, key)
        .await
        .wire()?
        .map(|o| o.created_at)
        .unwrap_or(ctx.now);
    let row = PoolObjectRow {
        pool_id: pool.id.clone(),
        kind,
        key: key.to_string(),
        doc,
        created_at,
        updated_at: ctx.now,
    };
    store.put_object(&row).await.wire()?;
    Ok(row)
}

// ---------------------------------------------------------------- UI customization

fn logo_url(ctx: &Ctx, pool_id: &str, key: &str, version: &str) -> String {
    format!(
        "{}/_idpool/ui-logo/{pool_id}/{key}?v={version}",
        ctx.state.public_url
    )
}

fn ui_customization_type(
    ctx: &Ctx,
    pool: &PoolRow,
    key: &str,
    row: Option<&PoolObjectRow>,
) -> UICustomizationType {
    let mut out = UICustomizationType {
        user_pool_id: Some(pool.id.clone()),
        client_id: Some(key.to_string()),
        ..Default::default()
    };
    if let Some(row) = row {
        let version = row.doc["CSSVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        out.css = row.doc["CSS"].as_str().map(str::to_string);
        out.image_url = row.doc["ImageFile"]
            .is_string()
            .then(|| logo_url(ctx, &pool.id, &row.key, &version));
        out.css_version = Some(version);
        out.creation_date = Some(row.created_at as f64 / 1000.0);
        out.last_modified_date = Some(row.updated_at as f64 / 1000.0);
    }
    out
}

/// PNG or JPEG, as the hosted UI accepts.
fn logo_content_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else {
        None
    }
}

pub async fn set_ui_customization(
    ctx: Ctx,
    req: SetUICustomizationRequest,
) -> ApiResult<SetUICustomizationResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let key = client_key(&ctx, &pool, req.client_id.as_deref()).await?;
    let mut doc = json!({"CSSVersion": ctx.now.to_string()});
    if let Some(css) = &req.css {
        doc["CSS"] = json!(css);
    }
    if let Some(image) = &req.image_file {
        let bytes = crypto::b64_decode(image)
            .ok_or_else(|| WireError::invalid_parameter("ImageFile must be base64-encoded."))?;
        if bytes.len() > MAX_LOGO_BYTES {
            return Err(WireError::invalid_parameter(
                "The logo image must be at most 100 KB.",
            ));
        }
        if logo_content_type(&bytes).is_none() {
            return Err(WireError::invalid_parameter(
                "The logo image must be a PNG or JPEG file.",
            ));
        }
        doc["ImageFile"] = json!(image);
    }
    let row = put_setting(&ctx, &pool, ObjectKind::UiCustomization, &key, doc).await?;
    Ok(SetUICustomizationResponse {
        ui_customization: ui_customization_type(&ctx, &pool, &key, Some(&row)),
    })
}

pub async fn get_ui_customization(
    ctx: Ctx,
    req: GetUICustomizationRequest,
) -> ApiResult<GetUICustomizationResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let key = client_key(&ctx, &pool, req.client_id.as_deref()).await?;
    let row = effective(&ctx, &pool, ObjectKind::UiCustomization, &key).await?;
    Ok(GetUICustomizationResponse {
        ui_customization: ui_customization_type(&ctx, &pool, &key, row.as_ref()),
    })
}

/// The CSS and logo URL the hosted pages of `client_id` show: the client's own
/// customization, else the pool's.
pub async fn hosted_ui_branding(
    ctx: &Ctx,
    pool: &PoolRow,
    client_id: &str,
) -> (Option<String>, Option<String>) {
    match effective(ctx, pool, ObjectKind::UiCustomization, client_id).await {
        Ok(Some(row)) => {
            let t = ui_customization_type(ctx, pool, &row.key, Some(&row));
            (t.css, t.image_url)
        }
        _ => (None, None),
    }
}

/// The stored logo of a pool's (or client's) UI customization, with its content type.
pub async fn ui_logo(
    ctx: &Ctx,
    pool_id: &str,
    key: &str,
) -> ApiResult<Option<(&'static str, Vec<u8>)>> {
    let row = ctx
        .state
        .store
        .get_object(pool_id, ObjectKind::UiCustomization, key)
        .await
        .wire()?;
    Ok(row
        .and_then(|r| r.doc["ImageFile"].as_str().and_then(crypto::b64_decode))
        .and_then(|bytes| logo_content_type(&bytes).map(|t| (t, bytes))))
}

// ---------------------------------------------------------------- risk configuration

fn risk_type(
    pool: &PoolRow,
    key: &str,
    row: Option<&PoolObjectRow>,
) -> ApiResult<RiskConfigurationType> {
    let mut doc = row.map(|r| r.doc.clone()).unwrap_or_else(|| json!({}));
    doc["UserPoolId"] = json!(pool.id);
    if key != ALL_CLIENTS {
        doc["ClientId"] = json!(key);
    }
    if let Some(r) = row {
        doc["LastModifiedDate"] = json!(r.updated_at as f64 / 1000.0);
    }
    serde_json::from_value(doc).map_err(|e| {
        WireError::idp(
            idpool_wire::IdpException::InternalErrorException,
            format!("stored risk configuration: {e}"),
        )
    })
}

pub async fn set_risk_configuration(
    ctx: Ctx,
    req: SetRiskConfigurationRequest,
) -> ApiResult<SetRiskConfigurationResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let key = client_key(&ctx, &pool, req.client_id.as_deref()).await?;
    if let Some(ato) = &req.account_takeover_risk_configuration
        && ato.notify_configuration.is_none()
        && [
            &ato.actions.low_action,
            &ato.actions.medium_action,
            &ato.actions.high_action,
        ]
        .iter()
        .any(|a| a.as_ref().is_some_and(|a| a.notify))
    {
        return Err(WireError::invalid_parameter(
            "Account takeover actions that notify users need a NotifyConfiguration.",
        ));
    }
    if let Some(exceptions) = &req.risk_exception_configuration {
        let lists = [
            &exceptions.blocked_ip_range_list,
            &exceptions.skipped_ip_range_list,
        ];
        if let Some(bad) = lists
            .into_iter()
            .flatten()
            .flatten()
            .find(|r| idpool_core::policy::parse_cidr(r).is_none())
        {
            return Err(WireError::invalid_parameter(format!(
                "{bad} is not an IP address range in CIDR notation."
            )));
        }
    }
    let Value::Object(mut doc) = serde_json::to_value(&req).expect("request serializes") else {
        unreachable!("a struct serializes to an object")
    };
    doc.remove("UserPoolId");
    doc.remove("ClientId");
    let row = put_setting(
        &ctx,
        &pool,
        ObjectKind::RiskConfiguration,
        &key,
        Value::Object(doc),
    )
    .await?;
    Ok(SetRiskConfigurationResponse {
        risk_configuration: risk_type(&pool, &key, Some(&row))?,
    })
}

pub async fn describe_risk_configuration(
    ctx: Ctx,
    req: DescribeRiskConfigurationRequest,
) -> ApiResult<DescribeRiskConfigurationResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let key = client_key(&ctx, &pool, req.client_id.as_deref()).await?;
    let row = effective(&ctx, &pool, ObjectKind::RiskConfiguration, &key).await?;
    Ok(DescribeRiskConfigurationResponse {
        risk_configuration: risk_type(&pool, &key, row.as_ref())?,
    })
}
