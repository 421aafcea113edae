//! The AWS Query edge (`POST /`, form-encoded, no `X-Amz-Target`): STS and the IAM
//! subset. The service is the request's `Version` (2011-06-15 is STS, 2010-05-08 IAM),
//! which every SDK sends, so one listener serves both without a per-service host.
//! Every action but AssumeRoleWithWebIdentity is signed: by the admin key, or by
//! temporary credentials whose role policies then decide.

use crate::api::Ctx;
use crate::state::SharedState;
use crate::sts::session;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use idpool_wire::query::{
    IAM_NAMESPACE, IAM_VERSION, QueryError, QueryErrorCode as Q, STS_NAMESPACE, STS_VERSION,
    parse_form, response,
};
use idpool_wire::sigv4::RequestParts;

pub fn is_query_request(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| {
        c.to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    })
}

fn xml(status: StatusCode, request_id: &str, body: String) -> Response {
    (
        status,
        [
            ("content-type", "text/xml"),
            ("x-amzn-requestid", request_id),
        ],
        body,
    )
        .into_response()
}

fn error(e: &QueryError, request_id: &str) -> Response {
    xml(
        StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::BAD_REQUEST),
        request_id,
        e.body(request_id),
    )
}

pub async fn handle(state: SharedState, req: RequestParts<'_>) -> Response {
    let request_id = idpool_core::ids::uuid();
    let params = parse_form(req.body);
    let Some(action) = params.get("Action").cloned() else {
        return error(
            &QueryError::new(
                Q::MissingParameter,
                "The request must contain the parameter Action.",
            ),
            &request_id,
        );
    };
    let version = params
        .get("Version")
        .map(String::as_str)
        .unwrap_or_default();
    let mut ctx = Ctx::for_state(state.clone());
    if let Some(region) = req
        .header_values("authorization")
        .first()
        .and_then(|h| idpool_wire::sigv4::parse_authorization(h).ok())
        .map(|a| a.region)
    {
        ctx.region = region;
    }
    ctx.operation = "";
    let now_s = ctx.now_s();
    let result = match version {
        STS_VERSION => {
            let caller = if crate::sts::is_unsigned(&action) {
                Ok(None)
            } else {
                session::authenticate(&state, &req, now_s).map(Some)
            };
            match caller {
                Ok(caller) => crate::sts::handle(&ctx, caller.as_ref(), &action, &params)
                    .await
                    .map(|r| response(&action, STS_NAMESPACE, &r, &request_id)),
                Err(e) => Err(e),
            }
        }
        IAM_VERSION => match session::authenticate(&state, &req, now_s) {
            Ok(caller) => crate::iam::handle(&ctx, &caller, &action, &params)
                .await
                .map(|r| response(&action, IAM_NAMESPACE, &r, &request_id)),
            Err(e) => Err(e),
        },
        other => Err(QueryError::new(
            Q::InvalidAction,
            format!(
                "Could not find operation {action} for version {other}: idpool serves STS ({STS_VERSION}) and IAM ({IAM_VERSION}) over the Query protocol."
            ),
        )),
    };
    match result {
        Ok(body) => xml(StatusCode::OK, &request_id, body),
        Err(e) => error(&e, &request_id),
    }
}
