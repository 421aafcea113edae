//! Token exchange (RFC 8693): GetDerivedToken, and the token endpoint's
//! `urn:ietf:params:oauth:grant-type:token-exchange` grant, share this.
//!
//! A service holding a user's token (the subject token) gets a new token for one
//! downstream audience or resource server, with at most the subject token's scopes and
//! no refresh token. With an actor token (the service's own token) the new token
//! carries RFC 8693's `act` claim naming the actor, so the downstream service can tell
//! delegation from the user acting directly. The requesting client must allow
//! ALLOW_TOKEN_EXCHANGE_DELEGATION (with an actor) or ALLOW_TOKEN_EXCHANGE_IMPERSONATION
//! (without).
//!
//! The new token keeps the subject's `origin_jti`, so it dies with the session it was
//! derived from (RevokeToken, GlobalSignOut, RevokeUserSession). idpool exchanges the
//! pool's own access and ID tokens; SAML assertions and other providers' tokens
//! (`*TokenProviderName`) are refused as not supported.

use super::Ctx;
use super::error::{ApiResult, OrWire};
use super::support::*;
use idpool_core::ids;
use idpool_core::tokens::claims::{self, Lifetimes};
use idpool_core::tokens::jwt;
use idpool_store::{ClientRow, PoolRow, UserRow};
use idpool_wire::shapes::cognito_idp::*;
use idpool_wire::{IdpException as E, WireError};
use serde_json::{Value, json};

/// The kinds of token an exchange takes and gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Id,
}

impl TokenKind {
    /// GetDerivedToken's `TokenTypeIdentifierType` / `IssuedTokenTypeIdentifierType`.
    pub fn from_api(name: &str) -> Option<TokenKind> {
        match name {
            "ACCESS_TOKEN" => Some(TokenKind::Access),
            "ID_TOKEN" => Some(TokenKind::Id),
            _ => None,
        }
    }

    pub fn api_name(self) -> &'static str {
        match self {
            TokenKind::Access => "ACCESS_TOKEN",
            TokenKind::Id => "ID_TOKEN",
        }
    }

    /// RFC 8693 section 3's token type URIs, as the token endpoint speaks them.
    pub fn from_urn(urn: &str) -> Option<TokenKind> {
        match urn {
            "urn:ietf:params:oauth:token-type:access_token" => Some(TokenKind::Access),
            "urn:ietf:params:oauth:token-type:id_token" => Some(TokenKind::Id),
            _ => None,
        }
    }

    pub fn urn(self) -> &'static str {
        match self {
            TokenKind::Access => "urn:ietf:params:oauth:token-type:access_token",
            TokenKind::Id => "urn:ietf:params:oauth:token-type:id_token",
        }
    }

    fn token_use(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Id => "id",
        }
    }
}

/// One exchange, whichever edge it came through. The client has authenticated.
pub struct Exchange<'a> {
    pub pool: &'a PoolRow,
    pub client: &'a ClientRow,
    pub subject: (&'a str, TokenKind),
    pub actor: Option<(&'a str, TokenKind)>,
    /// None: the subject token's scopes.
    pub scopes: Option<Vec<String>>,
    pub audience: Option<String>,
    pub resource: Option<String>,
    pub requested: TokenKind,
}

pub struct Exchanged {
    pub token: String,
    pub kind: TokenKind,
    pub expires_in: i64,
    pub scopes: Vec<String>,
}

/// Why an exchange is refused, for each edge to word its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExchangeRefusal {
    /// The client does not allow this kind of exchange (the flow it needs).
    FlowNotAllowed(&'static str),
    /// Both an audience and a resource, or neither kind of target is acceptable.
    BadTarget(String),
    /// The subject or actor token is not a live token of this pool.
    BadToken(String),
    /// What idpool does not exchange.
    NotSupported(String),
}

impl ExchangeRefusal {
    pub fn message(&self) -> String {
        match self {
            ExchangeRefusal::FlowNotAllowed(flow) => {
                format!("{flow} is not enabled for this client.")
            }
            ExchangeRefusal::BadTarget(m)
            | ExchangeRefusal::BadToken(m)
            | ExchangeRefusal::NotSupported(m) => m.clone(),
        }
    }
}

/// Why a step failed: a refusal the caller caused, or a failure of ours.
pub enum ExchangeError {
    Refused(ExchangeRefusal),
    Failed(WireError),
}

impl From<WireError> for ExchangeError {
    fn from(e: WireError) -> Self {
        ExchangeError::Failed(e)
    }
}

fn refused(r: ExchangeRefusal) -> ExchangeError {
    ExchangeError::Refused(r)
}

/// A verified token of the client's pool: its claims, and its user when it has one.
async fn verified(
    ctx: &Ctx,
    pool_id: &str,
    token: &str,
    kind: TokenKind,
    role: &str,
) -> Result<(Value, Option<UserRow>), ExchangeError> {
    let bad = || {
        refused(ExchangeRefusal::BadToken(format!(
            "The {role} token is not a valid {} token of this user pool.",
            kind.token_use()
        )))
    };
    let claims = match verify_pool_token(ctx, pool_id, token, kind.token_use()).await {
        Ok(c) => c,
        Err(e) if e.code == idpool_wire::ErrorCode::Idp(E::NotAuthorizedException) => {
            return Err(bad());
        }
        Err(e) => return Err(e.into()),
    };
    let username = match kind {
        TokenKind::Access => claims["username"].as_str(),
        TokenKind::Id => claims["cognito:username"].as_str(),
    };
    // A machine-to-machine access token names a client, not a user.
    let Some(username) = username else {
        return Ok((claims, None));
    };
    // Revoked sessions, signed-out users and disabled users exchange nothing.
    match user_of_token(ctx, pool_id, username, &claims).await? {
        TokenUser::Live(user) => Ok((claims, Some(user))),
        TokenUser::Gone | TokenUser::Disabled => Err(bad()),
    }
}

/// Performs an exchange: checks, then signs the new token.
pub async fn exchange(ctx: &Ctx, x: Exchange<'_>) -> Result<Exchanged, ExchangeError> {
    let flow = if x.actor.is_some() {
        "ALLOW_TOKEN_EXCHANGE_DELEGATION"
    } else {
        "ALLOW_TOKEN_EXCHANGE_IMPERSONATION"
    };
    if !str_list(&x.client.config["ExplicitAuthFlows"])
        .iter()
        .any(|f| f == flow)
    {
        return Err(refused(ExchangeRefusal::FlowNotAllowed(flow)));
    }
    if x.audience.is_some() && x.resource.is_some() {
        return Err(refused(ExchangeRefusal::BadTarget(
            "Request either Audiences or Resources, not both.".into(),
        )));
    }
    let pool = x.pool;
    if let Some(resource) = &x.resource {
        let known = ctx
            .state
            .store
            .get_object(&pool.id, idpool_store::ObjectKind::ResourceServer, resource)
            .await
            .wire()?
            .is_some();
        if !known {
            return Err(refused(ExchangeRefusal::BadTarget(format!(
                "{resource} is not a resource server of this user pool."
            ))));
        }
    }
    let (subject_claims, user) =
        verified(ctx, &pool.id, x.subject.0, x.subject.1, "subject").await?;
    let Some(user) = user else {
        return Err(refused(ExchangeRefusal::BadToken(
            "The subject token names no user: only a user's token can be exchanged.".into(),
        )));
    };
    let act = match x.actor {
        Some((token, kind)) => {
            let (claims, _) = verified(ctx, &pool.id, token, kind, "actor").await?;
            let mut act = serde_json::Map::new();
            act.insert("sub".into(), claims["sub"].clone());
            if let Some(client) = claims["client_id"].as_str() {
                act.insert("client_id".into(), json!(client));
            }
            Some(Value::Object(act))
        }
        None => None,
    };
    // The subject's scopes bound what the new token may carry (an ID token's: openid).
    let subject_scopes: Vec<String> = match x.subject.1 {
        TokenKind::Access => subject_claims["scope"]
            .as_str()
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect(),
        TokenKind::Id => vec!["openid".into()],
    };
    let allowed = str_list(&x.client.config["AllowedOAuthScopes"]);
    let scopes: Vec<String> = match &x.scopes {
        Some(asked) if !asked.is_empty() => asked
            .iter()
            .filter(|s| subject_scopes.contains(s) && allowed.contains(s))
            .cloned()
            .collect(),
        _ => subject_scopes,
    };
    let key = signing_key(ctx, &x.pool.id).await?;
    let lifetimes = Lifetimes::from_client_config(&x.client.config);
    let facts = UserTokenFacts::of(ctx, &x.pool.id, &user).await?;
    let origin_jti = subject_claims["origin_jti"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(ids::uuid);
    let event_id = ids::uuid();
    let auth_time = subject_claims["auth_time"]
        .as_i64()
        .unwrap_or_else(|| ctx.now_s());
    let subject = facts.subject(
        &x.client.client_id,
        &user,
        auth_time,
        &origin_jti,
        &event_id,
    );
    let now_s = ctx.now_s();
    let (mut token_claims, lifetime) = match x.requested {
        TokenKind::Access => {
            let mut c =
                claims::access_token_claims(&subject, now_s, lifetimes.access, &ids::uuid());
            c["scope"] = json!(scopes.join(" "));
            (c, lifetimes.access)
        }
        TokenKind::Id => (
            claims::id_token_claims(&subject, now_s, lifetimes.id, &ids::uuid()),
            lifetimes.id,
        ),
    };
    if let Some(target) = x.audience.as_ref().or(x.resource.as_ref()) {
        token_claims["aud"] = json!(target);
    }
    if let Some(act) = act {
        token_claims["act"] = act;
    }
    let token = jwt::sign(&key, &token_claims).wire()?;
    Ok(Exchanged {
        token,
        kind: x.requested,
        expires_in: lifetime,
        scopes,
    })
}

/// GetDerivedToken. IAM-authorized (its model gives it no `authtype: none`); a client
/// secret, when sent, must be right.
pub async fn get_derived_token(
    ctx: Ctx,
    req: GetDerivedTokenRequest,
) -> ApiResult<GetDerivedTokenResponse> {
    let (client, pool) = load_client(&ctx, &req.client_id).await?;
    if req.client_secret.is_some() {
        super::client_secrets::check_plain_secret(
            &ctx,
            &client,
            req.client_secret.as_deref(),
            || WireError::idp(E::NotAuthorizedException, "Invalid client secret."),
        )?;
    }
    let kind = |name: &str, provider: Option<&String>, role: &str| -> ApiResult<TokenKind> {
        if provider.is_some() || name == "SAML2" {
            return Err(WireError::invalid_parameter(format!(
                "idpool exchanges only this user pool's own access and ID tokens, not a {role} token of another provider or a SAML assertion."
            )));
        }
        TokenKind::from_api(name).ok_or_else(|| {
            WireError::invalid_parameter(format!("Unknown {role} token type {name}."))
        })
    };
    let subject_kind = kind(
        &req.subject_token_type,
        req.subject_token_provider_name.as_ref(),
        "subject",
    )?;
    let actor = match (&req.actor_token, &req.actor_token_type) {
        (Some(token), Some(t)) => Some((
            token.as_str(),
            kind(t, req.actor_token_provider_name.as_ref(), "actor")?,
        )),
        (Some(_), None) => {
            return Err(WireError::invalid_parameter(
                "ActorTokenType is required with an ActorToken.",
            ));
        }
        (None, _) => None,
    };
    let requested = match req.requested_token_type.as_deref() {
        None => TokenKind::Access,
        Some(t) => TokenKind::from_api(t)
            .ok_or_else(|| WireError::invalid_parameter(format!("Unknown token type {t}.")))?,
    };
    let exchanged = exchange(
        &ctx,
        Exchange {
            pool: &pool,
            client: &client,
            subject: (req.subject_token.as_str(), subject_kind),
            actor,
            scopes: req.scopes.clone(),
            audience: req.audiences.as_ref().and_then(|a| a.first().cloned()),
            resource: req.resources.as_ref().and_then(|r| r.first().cloned()),
            requested,
        },
    )
    .await
    .map_err(|e| match e {
        ExchangeError::Failed(w) => w,
        ExchangeError::Refused(r @ ExchangeRefusal::BadToken(_)) => {
            WireError::idp(E::NotAuthorizedException, r.message())
        }
        ExchangeError::Refused(r @ ExchangeRefusal::FlowNotAllowed(_)) => {
            WireError::idp(E::OperationNotEnabledException, r.message())
        }
        ExchangeError::Refused(r) => WireError::invalid_parameter(r.message()),
    })?;
    Ok(GetDerivedTokenResponse {
        issued_token: exchanged.token,
        issued_token_type: exchanged.kind.api_name().into(),
        token_type: match exchanged.kind {
            TokenKind::Access => "Bearer",
            TokenKind::Id => "N_A",
        }
        .into(),
        expires_in: Some(exchanged.expires_in),
        scopes: Some(exchanged.scopes),
    })
}
