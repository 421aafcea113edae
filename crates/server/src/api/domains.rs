//! User pool domains: CreateUserPoolDomain, DescribeUserPoolDomain,
//! UpdateUserPoolDomain, DeleteUserPoolDomain. A domain is either a prefix
//! (`my-app`, served as `my-app.auth.<region>.amazoncognito.com` and `my-app.localhost`)
//! or a custom domain (`auth.example.com`, with a certificate ARN); a pool has at most
//! one of each, and a domain belongs to one pool across the whole server.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::support::load_pool;
use idpool_store::{ObjectKind, PoolObjectRow, PoolRow, StoreError};
use idpool_wire::WireError;
use idpool_wire::shapes::cognito_idp::*;
use serde_json::json;

/// Cognito refuses prefixes that could pass for AWS's own pages.
const RESERVED_WORDS: &[&str] = &["aws", "amazon", "cognito"];

fn is_custom(domain: &str) -> bool {
    domain.contains('.')
}

/// Where the domain's DNS should point. Cognito answers with a CloudFront
/// distribution; idpool serves every domain itself, so it is idpool's own host.
fn serving_host(ctx: &Ctx) -> String {
    let url = &ctx.state.public_url;
    let host = url.split("://").nth(1).unwrap_or(url);
    host.split(['/', ':']).next().unwrap_or(host).to_string()
}

/// The prefix domain and the custom domain of a pool, as DescribeUserPool reports them.
pub async fn pool_domains(ctx: &Ctx, pool_id: &str) -> ApiResult<(Option<String>, Option<String>)> {
    let rows = ctx
        .state
        .store
        .list_objects(pool_id, ObjectKind::Domain, None, 10)
        .await
        .wire()?;
    let prefix = rows
        .iter()
        .find(|r| !is_custom(&r.key))
        .map(|r| r.key.clone());
    let custom = rows
        .iter()
        .find(|r| is_custom(&r.key))
        .map(|r| r.key.clone());
    Ok((prefix, custom))
}

fn check_domain(domain: &str, custom: Option<&CustomDomainConfigType>) -> ApiResult<()> {
    if is_custom(domain) {
        if custom.is_none() {
            return Err(WireError::invalid_parameter(
                "A custom domain needs a CustomDomainConfig with the ARN of its certificate.",
            ));
        }
        return Ok(());
    }
    if custom.is_some() {
        return Err(WireError::invalid_parameter(
            "CustomDomainConfig is only for custom domains (a fully qualified domain name).",
        ));
    }
    if let Some(word) = RESERVED_WORDS.iter().find(|w| domain.contains(*w)) {
        return Err(WireError::invalid_parameter(format!(
            "Domain cannot contain reserved word: {word}"
        )));
    }
    Ok(())
}

fn version(managed_login_version: Option<i64>) -> ApiResult<i64> {
    match managed_login_version.unwrap_or(1) {
        v @ (1 | 2) => Ok(v),
        v => Err(WireError::invalid_parameter(format!(
            "ManagedLoginVersion must be 1 (classic hosted UI) or 2 (managed login), not {v}."
        ))),
    }
}

pub async fn create_user_pool_domain(
    ctx: Ctx,
    req: CreateUserPoolDomainRequest,
) -> ApiResult<CreateUserPoolDomainResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    check_domain(&req.domain, req.custom_domain_config.as_ref())?;
    let managed_login_version = version(req.managed_login_version)?;
    let (prefix, custom) = pool_domains(&ctx, &pool.id).await?;
    let taken = if is_custom(&req.domain) {
        custom
    } else {
        prefix
    };
    if taken.is_some() {
        return Err(WireError::invalid_parameter(
            "User pool already has a domain configured.",
        ));
    }
    let row = PoolObjectRow {
        pool_id: pool.id.clone(),
        kind: ObjectKind::Domain,
        key: req.domain.clone(),
        doc: json!({
            "CustomDomainConfig": req.custom_domain_config,
            "ManagedLoginVersion": managed_login_version,
            "Routing": req.routing,
            "Version": ctx.now.to_string(),
        }),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    match ctx.state.store.create_object(&row).await {
        Ok(()) => Ok(CreateUserPoolDomainResponse {
            managed_login_version: Some(managed_login_version),
            cloud_front_domain: Some(serving_host(&ctx)),
            routing: req.routing.clone(),
        }),
        Err(StoreError::Conflict(_)) => Err(WireError::invalid_parameter(
            "Domain already associated with another user pool.",
        )),
        Err(e) => Err(e).wire(),
    }
}

/// An unknown domain is not an error: Cognito answers with an empty description.
pub async fn describe_user_pool_domain(
    ctx: Ctx,
    req: DescribeUserPoolDomainRequest,
) -> ApiResult<DescribeUserPoolDomainResponse> {
    let Some(row) = ctx
        .state
        .store
        .find_global_object(ObjectKind::Domain, &req.domain)
        .await
        .wire()?
    else {
        return Ok(DescribeUserPoolDomainResponse {
            domain_description: Some(DomainDescriptionType::default()),
        });
    };
    Ok(DescribeUserPoolDomainResponse {
        domain_description: Some(DomainDescriptionType {
            user_pool_id: Some(row.pool_id.clone()),
            aws_account_id: Some(ctx.state.config.account_id.clone()),
            domain: Some(row.key.clone()),
            s3_bucket: None,
            cloud_front_distribution: Some(serving_host(&ctx)),
            version: row.doc["Version"].as_str().map(str::to_string),
            status: Some("ACTIVE".into()),
            custom_domain_config: serde_json::from_value(row.doc["CustomDomainConfig"].clone())
                .ok(),
            managed_login_version: row.doc["ManagedLoginVersion"].as_i64(),
            routing: serde_json::from_value(row.doc["Routing"].clone()).ok(),
        }),
    })
}

async fn load_domain(ctx: &Ctx, pool: &PoolRow, domain: &str) -> ApiResult<PoolObjectRow> {
    ctx.state
        .store
        .get_object(&pool.id, ObjectKind::Domain, domain)
        .await
        .wire()?
        .ok_or_else(|| {
            WireError::invalid_parameter(format!(
                "Domain {domain} does not belong to user pool {}.",
                pool.id
            ))
        })
}

/// Changes the managed-login version or a custom domain's certificate.
pub async fn update_user_pool_domain(
    ctx: Ctx,
    req: UpdateUserPoolDomainRequest,
) -> ApiResult<UpdateUserPoolDomainResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let mut row = load_domain(&ctx, &pool, &req.domain).await?;
    if let Some(cfg) = &req.custom_domain_config {
        check_domain(&req.domain, Some(cfg))?;
        row.doc["CustomDomainConfig"] = json!(cfg);
    }
    if let Some(v) = req.managed_login_version {
        row.doc["ManagedLoginVersion"] = json!(version(Some(v))?);
    }
    if let Some(routing) = &req.routing {
        row.doc["Routing"] = json!(routing);
    }
    row.updated_at = ctx.now;
    ctx.state.store.put_object(&row).await.wire()?;
    Ok(UpdateUserPoolDomainResponse {
        managed_login_version: row.doc["ManagedLoginVersion"].as_i64(),
        cloud_front_domain: Some(serving_host(&ctx)),
        routing: serde_json::from_value(row.doc["Routing"].clone()).ok(),
    })
}

pub async fn delete_user_pool_domain(ctx: Ctx, req: DeleteUserPoolDomainRequest) -> ApiResult<()> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let row = load_domain(&ctx, &pool, &req.domain).await?;
    ctx.state
        .store
        .delete_object(&pool.id, ObjectKind::Domain, &row.key)
        .await
        .wire()?;
    Ok(())
}
