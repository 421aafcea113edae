//! STS (`Version=2011-06-15`, AWS Query): AssumeRoleWithWebIdentity and
//! GetCallerIdentity. Where is operation X? `fn <snake_case_of_X>` below.

pub mod session;

use crate::api::Ctx;
use crate::iam::{Params, load_role, required};
use crate::identity::openid::{self, PROVIDER, Refused};
use idpool_core::policy::{Policy, Principal, RequestContext, evaluate_trust};
use idpool_wire::query::{QueryError, QueryErrorCode as Q, Xml, iso8601};
use session::{Caller, SessionGrant, TemporaryCredentials, assumed_role_arn};
use std::collections::BTreeMap;

type QueryResult<T> = Result<T, QueryError>;

pub fn write_credentials(x: &mut Xml, creds: &TemporaryCredentials) {
    x.open("Credentials")
        .text("AccessKeyId", &creds.access_key_id)
        .text("SecretAccessKey", &creds.secret_access_key)
        .text("SessionToken", &creds.session_token)
        .text("Expiration", &iso8601(creds.expiration))
        .close("Credentials");
}

/// Whether a role's trust policy lets web identities of `PROVIDER` with these keys
/// assume it.
pub fn trusts_web_identity(trust_doc: &str, keys: &BTreeMap<String, Vec<String>>) -> bool {
    let Ok(trust) = Policy::parse(trust_doc) else {
        return false;
    };
    let mut rc = RequestContext::new("sts:AssumeRoleWithWebIdentity", "")
        .principal(Principal::Federated(PROVIDER.to_string()));
    for (k, v) in keys {
        rc = match (k.ends_with(":amr"), v.as_slice()) {
            (false, [one]) => rc.with(k, one.clone()),
            _ => rc.with_values(k, v.clone()),
        };
    }
    evaluate_trust(&trust, &rc).is_allowed()
}

pub async fn handle(
    ctx: &Ctx,
    caller: Option<&Caller>,
    action: &str,
    p: &Params,
) -> QueryResult<String> {
    match action {
        "AssumeRoleWithWebIdentity" => assume_role_with_web_identity(ctx, p).await,
        "GetCallerIdentity" => get_caller_identity(ctx, caller),
        other => Err(QueryError::new(
            Q::InvalidAction,
            format!("Could not find operation {other} for version 2011-06-15"),
        )),
    }
}

/// Whether an action is answered without a signature (the web identity token is the
/// credential).
pub fn is_unsigned(action: &str) -> bool {
    action == "AssumeRoleWithWebIdentity"
}

fn session_name_ok(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

pub async fn assume_role_with_web_identity(ctx: &Ctx, p: &Params) -> QueryResult<String> {
    let role_arn = required(p, "RoleArn")?;
    let session_name = required(p, "RoleSessionName")?;
    let token = required(p, "WebIdentityToken")?;
    if !session_name_ok(session_name) {
        return Err(QueryError::new(
            Q::ValidationError,
            format!(
                "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and length 2-64"
            ),
        ));
    }
    if p.contains_key("ProviderId") {
        return Err(QueryError::new(
            Q::InvalidIdentityToken,
            "ProviderId is only for OAuth 2.0 access tokens, which idpool does not accept; send an OpenID Connect ID token.",
        ));
    }
    let claims = match openid::verify(ctx, token).await {
        Ok(c) => c,
        Err(Refused::Invalid) => {
            return Err(QueryError::new(
                Q::InvalidIdentityToken,
                "Couldn't verify the web identity token: it was not issued by this server's identity pools or its signature is invalid.",
            ));
        }
        Err(Refused::Expired { exp }) => {
            return Err(QueryError::new(
                Q::ExpiredTokenException,
                format!(
                    "Token expired: current date/time {} must be before the expiration date/time {}",
                    iso8601(ctx.now_s()),
                    iso8601(exp)
                ),
            ));
        }
    };
    let not_authorized = || {
        QueryError::new(
            Q::AccessDenied,
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        )
    };
    let (_, role_name) = session::role_parts(role_arn);
    let role = load_role(ctx, role_name)
        .await?
        .filter(|r| r.doc["Arn"] == role_arn)
        .ok_or_else(not_authorized)?;
    let keys = openid::condition_keys(&claims);
    if !trusts_web_identity(
        role.doc["AssumeRolePolicyDocument"]
            .as_str()
            .unwrap_or_default(),
        &keys,
    ) {
        return Err(not_authorized());
    }
    let max = role.doc["MaxSessionDuration"].as_i64().unwrap_or(3600);
    let duration = match p.get("DurationSeconds") {
        None => 3600.min(max),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (900..=max).contains(&n) => n,
            _ => {
                return Err(QueryError::new(
                    Q::ValidationError,
                    format!(
                        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role, or is below 900: {v}"
                    ),
                ));
            }
        },
    };
    let session_policy = p.get("Policy").cloned();
    if let Some(doc) = &session_policy {
        if doc.len() > 2048 {
            return Err(QueryError::new(
                Q::PackedPolicyTooLarge,
                "Policy of length exceeds the 2048 characters allowed for a session policy.",
            ));
        }
        Policy::parse(doc).map_err(|e| QueryError::new(Q::MalformedPolicyDocument, e.0))?;
    }
    let grant = SessionGrant {
        access_key_id: String::new(),
        role_arn: role_arn.to_string(),
        role_id: role.doc["RoleId"].as_str().unwrap_or_default().to_string(),
        role_session_name: session_name.to_string(),
        keys,
        principal_tags: openid::principal_tags(&claims),
        session_policy,
        expires_at: ctx.now_s() + duration,
    };
    let creds = session::issue(&ctx.state, grant.clone());
    let mut x = Xml::new();
    write_credentials(&mut x, &creds);
    x.text(
        "SubjectFromWebIdentityToken",
        claims["sub"].as_str().unwrap_or_default(),
    )
    .open("AssumedRoleUser")
    .text("Arn", &assumed_role_arn(&grant))
    .text(
        "AssumedRoleId",
        &format!("{}:{session_name}", grant.role_id),
    )
    .close("AssumedRoleUser")
    .text("Provider", PROVIDER)
    .text("Audience", claims["aud"].as_str().unwrap_or_default());
    Ok(x.finish())
}

pub fn get_caller_identity(ctx: &Ctx, caller: Option<&Caller>) -> QueryResult<String> {
    let account = ctx.state.config.account_id.clone();
    let (user_id, arn, account) = match caller {
        Some(Caller::Session(g)) => (
            format!("{}:{}", g.role_id, g.role_session_name),
            assumed_role_arn(g),
            session::role_parts(&g.role_arn).0.to_string(),
        ),
        _ => (
            account.clone(),
            format!("arn:aws:iam::{account}:root"),
            account,
        ),
    };
    let mut x = Xml::new();
    x.text("UserId", &user_id)
        .text("Account", &account)
        .text("Arn", &arn);
    Ok(x.finish())
}
