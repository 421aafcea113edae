//! Enforcement: what temporary credentials may do, decided by the policy engine over
//! the policies of the credentials' role (read at every decision, so a changed role
//! policy applies at once, as in IAM) and the session policy they were issued with.
//!
//! Used by idpool's own IAM operations, and offered to a team's services as
//! `POST /_idpool/authorize`: the service forwards the caller's request, signed with
//! the temporary credentials, and asks "may they do this action on this resource".

use crate::api::Ctx;
use crate::iam::role_policies;
use crate::state::SharedState;
use crate::sts::session::{self, Caller, SessionGrant, assumed_role_arn, role_parts};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use idpool_core::policy::{Decision, Policy, RequestContext, evaluate};
use idpool_wire::query::{QueryError, QueryErrorCode as Q, iso8601};
use idpool_wire::sigv4::RequestParts;
use serde_json::{Value, json};

fn internal(message: String) -> QueryError {
    QueryError::new(Q::ServiceFailure, message)
}

/// Sets a key as the engine distinguishes them: one value (which policy variables can
/// name) or a set (which ForAnyValue/ForAllValues compare).
fn put(rc: &mut RequestContext, key: &str, values: Vec<String>, multi: bool) {
    if !multi && values.len() == 1 {
        let one = values.into_iter().next().unwrap_or_default();
        *rc = std::mem::take(rc).with(key, one);
    } else {
        rc.set(key, values);
    }
}

/// The request context of a session: the web identity's keys, principal tags, and the
/// global keys every AWS request carries.
pub fn request_context(
    ctx: &Ctx,
    grant: &SessionGrant,
    action: &str,
    resource: &str,
) -> RequestContext {
    let mut rc = RequestContext::new(action, resource);
    for (k, v) in &grant.keys {
        // `amr` is a set even when it holds one value ("unauthenticated").
        put(&mut rc, k, v.clone(), k.ends_with(":amr"));
    }
    for (k, v) in &grant.principal_tags {
        put(
            &mut rc,
            &format!("aws:PrincipalTag/{k}"),
            vec![v.clone()],
            false,
        );
    }
    let now_s = ctx.now / 1000;
    let single = [
        ("aws:CurrentTime", iso8601(now_s)),
        ("aws:EpochTime", now_s.to_string()),
        ("aws:PrincipalArn", grant.role_arn.clone()),
        ("aws:PrincipalType", "AssumedRole".to_string()),
        (
            "aws:PrincipalAccount",
            role_parts(&grant.role_arn).0.to_string(),
        ),
        (
            "aws:userid",
            format!("{}:{}", grant.role_id, grant.role_session_name),
        ),
    ];
    for (k, v) in single {
        put(&mut rc, k, vec![v], false);
    }
    rc
}

/// The decision for a session over a prepared request context.
pub async fn decide(
    ctx: &Ctx,
    grant: &SessionGrant,
    rc: &RequestContext,
) -> Result<Decision, QueryError> {
    let (_, role_name) = role_parts(&grant.role_arn);
    // A role unknown to idpool's IAM grants nothing (dev mode hands out credentials
    // for such roles so that SDK flows work; they cannot do anything).
    let Some((arn, policies)) = role_policies(ctx, role_name).await? else {
        return Ok(Decision::ImplicitDeny);
    };
    if arn != grant.role_arn {
        return Ok(Decision::ImplicitDeny);
    }
    let session_policy = match &grant.session_policy {
        Some(doc) => {
            Some(Policy::parse(doc).map_err(|e| internal(format!("session policy: {e}")))?)
        }
        None => None,
    };
    Ok(evaluate(&policies, session_policy.as_ref(), rc))
}

/// AWS's AccessDenied message for a refused decision.
pub fn denied(
    grant: &SessionGrant,
    action: &str,
    resource: &str,
    decision: Decision,
) -> QueryError {
    let why = if decision == Decision::ExplicitDeny {
        " with an explicit deny"
    } else {
        ""
    };
    QueryError::new(
        Q::AccessDenied,
        format!(
            "User: {} is not authorized to perform: {action} on resource: {resource}{why}",
            assumed_role_arn(grant)
        ),
    )
}

/// Fails unless `caller` may perform `action` on `resource`. The admin may do anything.
pub async fn require(
    ctx: &Ctx,
    caller: &Caller,
    action: &str,
    resource: &str,
) -> Result<(), QueryError> {
    let Caller::Session(grant) = caller else {
        return Ok(());
    };
    let rc = request_context(ctx, grant, action, resource);
    let decision = decide(ctx, grant, &rc).await?;
    if decision.is_allowed() {
        Ok(())
    } else {
        Err(denied(grant, action, resource, decision))
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error_response(e: &QueryError) -> Response {
    json_response(
        StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::BAD_REQUEST),
        json!({"__type": e.code.name(), "message": e.message}),
    )
}

/// `POST /_idpool/authorize`. Body: `{"Action": "s3:GetObject", "Resource": "arn:...",
/// "Context": {"s3:prefix": "x/", "aws:SourceIp": ["..."]}}`. The caller is named
/// either by signing this request with the temporary credentials (SigV4, any service
/// name), or by a `Credentials` member (`AccessKeyId`, `SecretAccessKey`,
/// `SessionToken`) for services that received credentials rather than a signed request.
/// Answers 200 with `{"Decision": "Allow" | "ExplicitDeny" | "ImplicitDeny", "Principal":
/// arn, "IdentityId": ...}`; 4xx only when the caller cannot be established.
pub async fn authorize_endpoint(
    State(state): State<SharedState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = Ctx::for_state(state.clone());
    let now_s = ctx.now / 1000;
    let Ok(input) = serde_json::from_slice::<Value>(&body) else {
        return error_response(&QueryError::new(
            Q::ValidationError,
            "The body must be a JSON object.",
        ));
    };
    let (Some(action), Some(resource)) = (input["Action"].as_str(), input["Resource"].as_str())
    else {
        return error_response(&QueryError::new(
            Q::ValidationError,
            "Action and Resource are required strings.",
        ));
    };
    let grant = if let Some(creds) = input.get("Credentials") {
        let key = creds["AccessKeyId"].as_str().unwrap_or_default();
        let token = creds["SessionToken"].as_str().unwrap_or_default();
        let secret = creds["SecretAccessKey"].as_str().unwrap_or_default();
        match session::open_session(&state, key, token, now_s) {
            Ok(g) if session::secret_matches(&state, key, secret) => g,
            Ok(_) => {
                return error_response(&QueryError::new(
                    Q::SignatureDoesNotMatch,
                    "The secret access key does not belong to these credentials.",
                ));
            }
            Err(e) => return error_response(&e),
        }
    } else {
        let header_list = crate::header_list(&headers);
        let parts = RequestParts {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query().unwrap_or(""),
            headers: &header_list,
            body: &body,
        };
        match session::authenticate_session(&state, &parts, now_s) {
            Ok(g) => g,
            Err(e) => return error_response(&e),
        }
    };
    let mut rc = request_context(&ctx, &grant, action, resource);
    if let Some(extra) = input["Context"].as_object() {
        for (k, v) in extra {
            match v {
                Value::Array(a) => put(&mut rc, k, a.iter().map(scalar).collect(), true),
                other => put(&mut rc, k, vec![scalar(other)], false),
            }
        }
    }
    match decide(&ctx, &grant, &rc).await {
        Ok(decision) => json_response(
            StatusCode::OK,
            json!({
                "Decision": format!("{decision:?}"),
                "Principal": assumed_role_arn(&grant),
                "IdentityId": grant.keys.get("cognito-identity.amazonaws.com:sub").and_then(|v| v.first()),
            }),
        ),
        Err(e) => error_response(&e),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
