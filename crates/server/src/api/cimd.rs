//! Client ID Metadata Documents (CIMD): Create/Update/Describe/Delete/ListCIMDPolicies,
//! ListClientMetadataURLs and UpdateClientMetadataURLState, and the resolution of a
//! URL `client_id` at the OAuth endpoints (`resolve_client`).
//!
//! An external OAuth client (an MCP client, typically) names itself by an `https` URL
//! that serves its metadata (draft-parecki-oauth-client-id-metadata-document). A CIMD
//! policy maps URL patterns to one app client of the pool. A URL that matches a policy
//! is fetched at `/oauth2/authorize` (then cached, per policy and URL, for the policy's
//! `CacheDuration`, or for the document's `Cache-Control: max-age` when that lies
//! between a day and a year, as Cognito does), and the document becomes the client's
//! registration for the request: its `redirect_uris`, its `client_name`, and the grant
//! types and scopes that both it and the app client allow.
//!
//! What the document must be, as Cognito and the draft require: a JSON object of at most
//! 5 KB whose `client_id` is its own URL, with `redirect_uris`, for a public client
//! (`token_endpoint_auth_method` `none`, no secret). Where Cognito's documentation is
//! silent, idpool takes the draft's and OAuth 2.1's safe side: only the authorization
//! code grant, always with PKCE S256 (a public client has nothing else binding the code
//! to it); URLs without user info, query, fragment or dot segments; no redirects when
//! fetching; and, outside dev mode, no fetches from loopback, private or link-local
//! addresses, so a pattern cannot be used to reach idpool's own network.
//!
//! A `*` in a pattern matches any characters, except in the host part, where it never
//! matches `/`, `@`, `:`, `?` or `#`: `https://*.example.com/*` must not match
//! `https://evil.test/x.example.com/...`.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::support::*;
use idpool_store::{ClientRow, ObjectKind, PoolObjectRow, PoolRow, StoreError};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde_json::{Value, json};
use std::net::IpAddr;
use std::time::Duration;

const DEFAULT_CACHE_SECONDS: i64 = 86_400;
const MAX_CACHE_SECONDS: i64 = 31_556_952;
/// The draft recommends a small limit; 5 KB is what other servers enforce.
const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Where a synthesized client records which policy admitted it.
pub const CIMD_POLICY_KEY: &str = "idpoolCimdPolicy";

/// A policy as stored (its `CimdPolicy` object's document is the wire's CIMDPolicyType
/// without the pool id and dates, which the row holds).
fn policy_type(row: &PoolObjectRow, client_exists: bool) -> CIMDPolicyType {
    let doc = &row.doc;
    CIMDPolicyType {
        user_pool_id: row.pool_id.clone(),
        cimd_policy_id: row.key.clone(),
        client_id: client_exists
            .then(|| doc["ClientId"].as_str().map(String::from))
            .flatten(),
        policy_name: doc["PolicyName"].as_str().unwrap_or_default().to_string(),
        cache_duration: Some(
            doc["CacheDuration"]
                .as_i64()
                .unwrap_or(DEFAULT_CACHE_SECONDS),
        ),
        url_patterns: Some(str_list(&doc["URLPatterns"])),
        creation_date: Some(row.created_at as f64 / 1000.0),
        last_modified_date: Some(row.updated_at as f64 / 1000.0),
    }
}

async fn app_client_exists(ctx: &Ctx, pool_id: &str, client_id: &str) -> ApiResult<bool> {
    Ok(ctx
        .state
        .store
        .get_client(client_id)
        .await
        .wire()?
        .is_some_and(|c| c.pool_id == pool_id))
}

async fn load_policy(ctx: &Ctx, pool_id: &str, policy_id: &str) -> ApiResult<PoolObjectRow> {
    ctx.state
        .store
        .get_object(pool_id, ObjectKind::CimdPolicy, policy_id)
        .await
        .wire()?
        .ok_or_else(|| {
            not_found(format!(
                "CIMD policy {policy_id} does not exist in user pool {pool_id}."
            ))
        })
}

/// Checks a policy's settings and returns its document.
async fn policy_document(
    ctx: &Ctx,
    pool: &PoolRow,
    client_id: &str,
    name: &str,
    cache_duration: Option<i64>,
    patterns: &[String],
) -> ApiResult<Value> {
    if !app_client_exists(ctx, &pool.id, client_id).await? {
        return Err(not_found(format!(
            "App client {client_id} does not exist in user pool {}.",
            pool.id
        )));
    }
    for pattern in patterns {
        let rest = pattern.strip_prefix("https://").unwrap_or_default();
        if !rest.contains('/') || rest.starts_with('/') {
            return Err(WireError::invalid_parameter(format!(
                "The URL pattern {pattern} must name a host and a path: client ID metadata \
                 document URLs always have a path."
            )));
        }
    }
    Ok(json!({
        "ClientId": client_id,
        "PolicyName": name,
        "CacheDuration": cache_duration.unwrap_or(DEFAULT_CACHE_SECONDS),
        "URLPatterns": patterns,
    }))
}

pub async fn create_cimd_policy(
    ctx: Ctx,
    req: CreateCIMDPolicyRequest,
) -> ApiResult<CreateCIMDPolicyResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let doc = policy_document(
        &ctx,
        &pool,
        &req.client_id,
        &req.policy_name,
        req.cache_duration,
        &req.url_patterns,
    )
    .await?;
    let row = PoolObjectRow {
        pool_id: pool.id.clone(),
        kind: ObjectKind::CimdPolicy,
        key: uuid::Uuid::new_v4().simple().to_string(),
        doc,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    ctx.state.store.create_object(&row).await.wire()?;
    Ok(CreateCIMDPolicyResponse {
        cimd_policy: policy_type(&row, true),
    })
}

pub async fn update_cimd_policy(
    ctx: Ctx,
    req: UpdateCIMDPolicyRequest,
) -> ApiResult<UpdateCIMDPolicyResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let mut row = load_policy(&ctx, &pool.id, &req.cimd_policy_id).await?;
    let name = req.policy_name.clone().unwrap_or_else(|| {
        row.doc["PolicyName"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    });
    row.doc = policy_document(
        &ctx,
        &pool,
        &req.client_id,
        &name,
        req.cache_duration,
        &req.url_patterns,
    )
    .await?;
    row.updated_at = ctx.now;
    ctx.state.store.put_object(&row).await.wire()?;
    // Documents cached under the old patterns or app client stay valid registrations
    // only if they still match: drop the ones that no longer do.
    for cached in cached_documents(&ctx, &pool.id, &row.key).await? {
        let url = cached.doc["URL"].as_str().unwrap_or_default();
        if !str_list(&row.doc["URLPatterns"])
            .iter()
            .any(|p| pattern_matches(p, url))
        {
            ctx.state
                .store
                .delete_object(&pool.id, ObjectKind::CimdDocument, &cached.key)
                .await
                .wire()?;
        }
    }
    Ok(UpdateCIMDPolicyResponse {
        cimd_policy: policy_type(&row, true),
    })
}

pub async fn describe_cimd_policy(
    ctx: Ctx,
    req: DescribeCIMDPolicyRequest,
) -> ApiResult<DescribeCIMDPolicyResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let row = load_policy(&ctx, &pool.id, &req.cimd_policy_id).await?;
    let exists = app_client_exists(
        &ctx,
        &pool.id,
        row.doc["ClientId"].as_str().unwrap_or_default(),
    )
    .await?;
    Ok(DescribeCIMDPolicyResponse {
        cimd_policy: policy_type(&row, exists),
    })
}

pub async fn delete_cimd_policy(
    ctx: Ctx,
    req: DeleteCIMDPolicyRequest,
) -> ApiResult<DeleteCIMDPolicyResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let row = load_policy(&ctx, &pool.id, &req.cimd_policy_id).await?;
    for cached in cached_documents(&ctx, &pool.id, &row.key).await? {
        ctx.state
            .store
            .delete_object(&pool.id, ObjectKind::CimdDocument, &cached.key)
            .await
            .wire()?;
    }
    ctx.state
        .store
        .delete_object(&pool.id, ObjectKind::CimdPolicy, &row.key)
        .await
        .wire()?;
    Ok(DeleteCIMDPolicyResponse {})
}

pub async fn list_cimd_policies(
    ctx: Ctx,
    req: ListCIMDPoliciesRequest,
) -> ApiResult<ListCIMDPoliciesResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let limit = req.max_results.unwrap_or(60).clamp(1, 60) as u32;
    let (rows, next_token) = list_objects_page(
        &ctx,
        &pool.id,
        ObjectKind::CimdPolicy,
        req.next_token.as_deref(),
        limit,
    )
    .await?;
    let mut cimd_policies = Vec::with_capacity(rows.len());
    for row in &rows {
        let exists = app_client_exists(
            &ctx,
            &pool.id,
            row.doc["ClientId"].as_str().unwrap_or_default(),
        )
        .await?;
        let p = policy_type(row, exists);
        cimd_policies.push(CIMDPolicySummaryType {
            cimd_policy_id: p.cimd_policy_id,
            client_id: p.client_id,
            policy_name: p.policy_name,
            cache_duration: p.cache_duration,
            creation_date: p.creation_date,
            last_modified_date: p.last_modified_date,
        });
    }
    Ok(ListCIMDPoliciesResponse {
        next_token,
        cimd_policies,
    })
}

/// The key of a cached document: the policy, then the URL, so a policy's URLs are
/// one key range.
fn document_key(policy_id: &str, url: &str) -> String {
    format!("{policy_id} {url}")
}

/// Every cached document of a policy, by URL.
async fn cached_documents(
    ctx: &Ctx,
    pool_id: &str,
    policy_id: &str,
) -> ApiResult<Vec<PoolObjectRow>> {
    objects_with_prefix(
        ctx,
        pool_id,
        ObjectKind::CimdDocument,
        &document_key(policy_id, ""),
    )
    .await
}

pub async fn list_client_metadata_urls(
    ctx: Ctx,
    req: ListClientMetadataURLsRequest,
) -> ApiResult<ListClientMetadataURLsResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let policy = load_policy(&ctx, &pool.id, &req.cimd_policy_id).await?;
    let limit = req.max_results.unwrap_or(60).clamp(1, 60) as usize;
    let all = cached_documents(&ctx, &pool.id, &policy.key).await?;
    let start = match &req.next_token {
        None => 0,
        Some(token) => {
            let last = super::pools::decode_token(token)?;
            all.iter().position(|r| r.key > last).unwrap_or(all.len())
        }
    };
    let page: Vec<&PoolObjectRow> = all[start..].iter().take(limit).collect();
    let next_token = (start + page.len() < all.len())
        .then(|| page.last().map(|r| super::pools::encode_token(&r.key)))
        .flatten();
    Ok(ListClientMetadataURLsResponse {
        next_token,
        client_metadata_ur_ls: page
            .iter()
            .map(|r| ClientMetadataURLType {
                url: r.doc["URL"].as_str().unwrap_or_default().to_string(),
                cached_date: r.doc["CachedAt"].as_f64().map(|t| t / 1000.0),
                expiration_date: r.doc["ExpiresAt"].as_f64().map(|t| t / 1000.0),
            })
            .collect(),
    })
}

pub async fn update_client_metadata_url_state(
    ctx: Ctx,
    req: UpdateClientMetadataURLStateRequest,
) -> ApiResult<UpdateClientMetadataURLStateResponse> {
    let pool = load_pool(&ctx, &req.user_pool_id).await?;
    let policy = load_policy(&ctx, &pool.id, &req.cimd_policy_id).await?;
    let key = document_key(&policy.key, &req.url);
    let store = &ctx.state.store;
    if store
        .get_object(&pool.id, ObjectKind::CimdDocument, &key)
        .await
        .wire()?
        .is_none()
    {
        return Err(WireError::idp(
            E::CachedCIMDURLDoesNotExistException,
            format!(
                "No client metadata document from {} is cached for CIMD policy {}.",
                req.url, policy.key
            ),
        ));
    }
    match req.action.as_str() {
        "INVALIDATE" => {
            store
                .delete_object(&pool.id, ObjectKind::CimdDocument, &key)
                .await
                .wire()?;
        }
        _ => {
            fetch_and_cache(&ctx, &policy, &req.url)
                .await
                .map_err(|why| WireError::invalid_parameter(why.to_string()))?;
        }
    }
    Ok(UpdateClientMetadataURLStateResponse {})
}

/// Whether `url` matches `pattern` (module documentation: `*` never crosses the
/// host's end).
pub fn pattern_matches(pattern: &str, url: &str) -> bool {
    fn split(s: &str) -> Option<(&str, &str)> {
        let rest = s.strip_prefix("https://")?;
        let end = rest.find('/')?;
        Some(rest.split_at(end))
    }
    let (Some((pattern_host, pattern_path)), Some((host, path))) = (split(pattern), split(url))
    else {
        return false;
    };
    glob(pattern_host.as_bytes(), host.as_bytes(), b"/@:?#")
        && glob(pattern_path.as_bytes(), path.as_bytes(), b"")
}

/// `*` matches any run of bytes not in `stops`; everything else matches itself.
/// Dynamic programming over (pattern, text) prefixes: linear in their product however
/// many stars a pattern has, so no URL can make matching slow.
fn glob(pattern: &[u8], text: &[u8], stops: &[u8]) -> bool {
    // matched[j]: the pattern's prefix so far matches text[..j].
    let mut matched = vec![false; text.len() + 1];
    matched[0] = true;
    for &p in pattern {
        let mut next = vec![false; text.len() + 1];
        if p == b'*' {
            next[0] = matched[0];
            for j in 1..=text.len() {
                next[j] = matched[j] || (next[j - 1] && !stops.contains(&text[j - 1]));
            }
        } else {
            for j in 1..=text.len() {
                next[j] = matched[j - 1] && text[j - 1] == p;
            }
        }
        matched = next;
    }
    matched[text.len()]
}

/// Why a URL cannot be a client ID, if it cannot.
fn url_refusal(raw: &str) -> Option<&'static str> {
    if raw.len() > 256 {
        return Some("a client ID metadata document URL has at most 256 characters");
    }
    let Ok(url) = reqwest::Url::parse(raw) else {
        return Some("the client ID is not a URL");
    };
    if url.scheme() != "https" || !raw.starts_with("https://") {
        return Some("a client ID metadata document URL must use https");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("a client ID metadata document URL must not carry user information");
    }
    if url.query().is_some() || url.fragment().is_some() || raw.contains(['?', '#']) {
        return Some("a client ID metadata document URL must not have a query or fragment");
    }
    if url.path() == "/" || url.path().is_empty() {
        return Some("a client ID metadata document URL must have a path");
    }
    let lower = raw.to_ascii_lowercase();
    if raw.split('/').skip(3).any(|s| s == "." || s == "..") || lower.contains("%2e") {
        return Some("a client ID metadata document URL must not have dot segments");
    }
    // The parsed URL must be the URL as given: no normalization may change what the
    // pattern was checked against.
    if url.as_str() != raw {
        return Some("a client ID metadata document URL must be in normal form");
    }
    None
}

/// The client a URL `client_id` names at the OAuth endpoints of `pool`, or why there
/// is none (shown on the error page: the client is the one asking).
pub async fn resolve_client(ctx: &Ctx, pool: &PoolRow, url: &str) -> Result<ClientRow, String> {
    let refuse = |why: &str| format!("Client {url} cannot be used: {why}.");
    if let Some(why) = url_refusal(url) {
        return Err(refuse(why));
    }
    let policies = objects_with_prefix(ctx, &pool.id, ObjectKind::CimdPolicy, "")
        .await
        .map_err(|e| refuse(&e.message))?;
    let Some(policy) = policies.into_iter().find(|p| {
        str_list(&p.doc["URLPatterns"])
            .iter()
            .any(|pattern| pattern_matches(pattern, url))
    }) else {
        return Err(refuse("no CIMD policy of this user pool accepts its URL"));
    };
    let app = ctx
        .state
        .store
        .get_client(policy.doc["ClientId"].as_str().unwrap_or_default())
        .await
        .map_err(|e| refuse(&e.to_string()))?
        .filter(|c| c.pool_id == pool.id)
        .ok_or_else(|| refuse("the app client of its CIMD policy no longer exists"))?;
    let key = document_key(&policy.key, url);
    let cached = ctx
        .state
        .store
        .get_object(&pool.id, ObjectKind::CimdDocument, &key)
        .await
        .map_err(|e| refuse(&e.to_string()))?
        .filter(|c| c.doc["ExpiresAt"].as_i64().unwrap_or(0) > ctx.now);
    let document = match cached {
        Some(c) => c.doc["Document"].clone(),
        None => fetch_and_cache(ctx, &policy, url)
            .await
            .map_err(|why| refuse(&why))?,
    };
    Ok(registration(&app, &policy, url, &document))
}

/// The app client the document registers for one request.
fn registration(app: &ClientRow, policy: &PoolObjectRow, url: &str, doc: &Value) -> ClientRow {
    let mut config = app.config.clone();
    let app_flows = str_list(&app.config["AllowedOAuthFlows"]);
    let doc_grants = str_list(&doc["grant_types"]);
    let grants = if doc_grants.is_empty() {
        vec!["authorization_code".to_string()]
    } else {
        doc_grants
    };
    let flows: Vec<&str> = (app_flows.iter().any(|f| f == "code")
        && grants.iter().any(|g| g == "authorization_code"))
    .then_some("code")
    .into_iter()
    .collect();
    let app_scopes = str_list(&app.config["AllowedOAuthScopes"]);
    let scopes: Vec<String> = match doc["scope"].as_str() {
        Some(s) => s
            .split_whitespace()
            .filter(|s| app_scopes.iter().any(|a| a == s))
            .map(String::from)
            .collect(),
        None => app_scopes,
    };
    let name = doc["client_name"].as_str().unwrap_or(url).to_string();
    if let Value::Object(c) = &mut config {
        c.insert("ClientId".into(), json!(url));
        c.insert("ClientName".into(), json!(name));
        c.insert("CallbackURLs".into(), doc["redirect_uris"].clone());
        c.insert(
            "LogoutURLs".into(),
            doc.get("post_logout_redirect_uris")
                .cloned()
                .unwrap_or(json!([])),
        );
        c.insert("AllowedOAuthFlows".into(), json!(flows));
        c.insert("AllowedOAuthScopes".into(), json!(scopes));
        // Only the OAuth endpoints take URL client ids.
        c.insert("ExplicitAuthFlows".into(), json!([]));
        c.remove("ClientSecret");
        c.insert(CIMD_POLICY_KEY.into(), json!(policy.key));
    }
    ClientRow {
        client_id: url.to_string(),
        pool_id: app.pool_id.clone(),
        name,
        secret: None,
        config,
        created_at: policy.created_at,
        updated_at: policy.updated_at,
    }
}

/// Fetches the document, checks it, and caches it for the policy; returns it.
async fn fetch_and_cache(ctx: &Ctx, policy: &PoolObjectRow, url: &str) -> Result<Value, String> {
    let (document, max_age) = fetch(ctx, url).await?;
    check_document(&document, url)?;
    let lifetime = max_age
        .filter(|s| (DEFAULT_CACHE_SECONDS..=MAX_CACHE_SECONDS).contains(s))
        .unwrap_or_else(|| {
            policy.doc["CacheDuration"]
                .as_i64()
                .unwrap_or(DEFAULT_CACHE_SECONDS)
        });
    let row = PoolObjectRow {
        pool_id: policy.pool_id.clone(),
        kind: ObjectKind::CimdDocument,
        key: document_key(&policy.key, url),
        doc: json!({
            "URL": url,
            "Document": document,
            "CachedAt": ctx.now,
            "ExpiresAt": ctx.now + lifetime * 1000,
        }),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    match ctx.state.store.put_object(&row).await {
        Ok(()) | Err(StoreError::Conflict(_)) => Ok(document),
        Err(e) => Err(e.to_string()),
    }
}

/// Checks a fetched document against the draft and Cognito's rules.
fn check_document(doc: &Value, url: &str) -> Result<(), String> {
    let Some(fields) = doc.as_object() else {
        return Err("its metadata document is not a JSON object".into());
    };
    if fields.get("client_id").and_then(Value::as_str) != Some(url) {
        return Err("its metadata document's client_id is not its own URL".into());
    }
    let redirects = fields.get("redirect_uris").and_then(Value::as_array);
    if redirects.is_none_or(|r| r.is_empty() || r.iter().any(|u| !u.is_string())) {
        return Err("its metadata document lists no redirect_uris".into());
    }
    if fields
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
        != Some("none")
    {
        return Err(
            "its metadata document's token_endpoint_auth_method must be none: CIMD clients \
             are public clients"
                .into(),
        );
    }
    if fields.contains_key("client_secret") || fields.contains_key("client_secret_expires_at") {
        return Err("its metadata document must not carry a client secret".into());
    }
    for list in ["grant_types", "response_types", "post_logout_redirect_uris"] {
        if let Some(v) = fields.get(list)
            && v.as_array()
                .is_none_or(|a| a.iter().any(|s| !s.is_string()))
        {
            return Err(format!(
                "its metadata document's {list} is not a list of strings"
            ));
        }
    }
    if fields.get("scope").is_some_and(|s| !s.is_string()) {
        return Err("its metadata document's scope is not a string".into());
    }
    Ok(())
}

/// GETs the document: no redirects, five seconds, at most `MAX_DOCUMENT_BYTES`, and
/// outside dev mode only from public addresses. Returns it with its `max-age`.
async fn fetch(ctx: &Ctx, url: &str) -> Result<(Value, Option<i64>), String> {
    let dev = ctx.state.config.dev;
    let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
    let host = parsed
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']']);
    let port = parsed.port_or_known_default().unwrap_or(443);
    let builder = reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    let builder = if dev {
        builder
    } else {
        let addresses: Vec<std::net::SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![std::net::SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| format!("its host does not resolve ({e})"))?
                .collect(),
        };
        if let Some(a) = addresses.iter().find(|a| !is_public(&a.ip())) {
            return Err(format!(
                "its host resolves to {}, which is not a public address",
                a.ip()
            ));
        }
        // Connect to the very addresses checked: a second lookup could answer with
        // another (DNS rebinding).
        builder.resolve_to_addrs(host, &addresses)
    };
    let http = builder
        .build()
        .map_err(|e| format!("idpool cannot make HTTPS requests ({e})"))?;
    let mut resp = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| format!("fetching its metadata document failed ({e})"))?;
    if !resp.status().is_success() {
        return Err(format!(
            "fetching its metadata document answered HTTP {}",
            resp.status().as_u16()
        ));
    }
    let max_age = resp
        .headers()
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .filter_map(|d| d.trim().strip_prefix("max-age="))
                .find_map(|n| n.trim().parse::<i64>().ok())
        });
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("reading its metadata document failed ({e})"))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err("its metadata document is larger than 5 KB".into());
        }
    }
    let doc = serde_json::from_slice(&body)
        .map_err(|_| "its metadata document is not JSON".to_string())?;
    Ok((doc, max_age))
}

/// Whether an address is on the public internet.
fn is_public(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                // 100.64.0.0/10, carrier-grade NAT
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(&IpAddr::V4(v4));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                // fc00::/7 unique local, fe80::/10 link-local
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_wildcard_never_leaves_the_host() {
        let p = "https://*.example.com/*";
        assert!(pattern_matches(p, "https://app.example.com/client.json"));
        assert!(pattern_matches(p, "https://a.b.example.com/x/y.json"));
        assert!(!pattern_matches(
            p,
            "https://evil.test/x.example.com/client.json"
        ));
        assert!(!pattern_matches(p, "https://evil.test@x.example.com/c"));
        assert!(!pattern_matches(p, "https://example.com.evil.test/c"));
        assert!(!pattern_matches(p, "http://app.example.com/c"));
        assert!(pattern_matches(
            "https://app.example.com/clients/*/metadata.json",
            "https://app.example.com/clients/a/b/metadata.json"
        ));
        assert!(!pattern_matches(
            "https://app.example.com/client.json",
            "https://app.example.com/client.jsonx"
        ));
    }

    #[test]
    fn client_id_urls_are_plain() {
        assert_eq!(url_refusal("https://app.example.com/client.json"), None);
        for bad in [
            "http://app.example.com/c",
            "https://app.example.com/",
            "https://u:p@app.example.com/c",
            "https://app.example.com/c?x=1",
            "https://app.example.com/c#f",
            "https://app.example.com/a/../c",
            "https://app.example.com/a/%2e%2e/c",
            "https://APP.example.com/c",
        ] {
            assert!(url_refusal(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn public_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "100.64.0.1",
        ] {
            assert!(!is_public(&private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "2606:4700::1111"] {
            assert!(is_public(&public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn documents_must_be_public_clients_naming_themselves() {
        let url = "https://app.example.com/client.json";
        let good = json!({"client_id": url, "redirect_uris": ["http://127.0.0.1:3000/cb"], "token_endpoint_auth_method": "none"});
        assert!(check_document(&good, url).is_ok());
        let mut other = good.clone();
        other["client_id"] = json!("https://evil.test/c");
        assert!(check_document(&other, url).is_err());
        let mut confidential = good.clone();
        confidential["token_endpoint_auth_method"] = json!("client_secret_basic");
        assert!(check_document(&confidential, url).is_err());
        let mut no_redirects = good.clone();
        no_redirects["redirect_uris"] = json!([]);
        assert!(check_document(&no_redirects, url).is_err());
    }
}
