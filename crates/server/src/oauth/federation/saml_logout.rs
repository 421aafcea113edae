//! SAML single logout, as Cognito does it: `/logout` of a user who signed in through a
//! SAML provider with `IDPSignout` ends the pool's session, then sends the browser to
//! the provider's SingleLogoutService with a LogoutRequest signed with the pool's key
//! (HTTP-Redirect binding); the provider signs the user out and posts its
//! LogoutResponse to `/saml2/logout`, and idpool sends the browser on to where the
//! app asked `/logout` to send it.
//!
//! The app's destination was checked at `/logout` and travels sealed in the
//! RelayState, so `/saml2/logout` cannot be made an open redirect.

use super::saml::{SamlPost, current_metadata, redirect_binding_url, sp_entity_id};
use super::{STATE_LIFETIME_S, load_provider, random_token};
use crate::api::Ctx;
use crate::oauth::authorize::{Refusal, SamlSession, redirect};
use crate::oauth::site::Site;
use crate::state::SharedState;
use axum::extract::{Form, State};
use axum::response::Response;
use base64::Engine;
use idpool_core::saml::logout::{ExpectedLogoutResponse, LogoutRequest, verify_logout_response};
use serde::{Deserialize, Serialize};

pub const LOGOUT_PATH: &str = "/saml2/logout";
const LOGOUT_STATE_PURPOSE: &[u8] = b"saml-logout-state";

/// What travels through the provider, sealed.
#[derive(Serialize, Deserialize)]
struct LogoutState {
    pool: String,
    provider: String,
    request_id: String,
    /// Where the browser goes once the provider has answered.
    then: String,
    exp: i64,
}

/// The provider's single-logout URL carrying a LogoutRequest for `session`, when the
/// provider takes part in sign-out (`IDPSignout` and a SingleLogoutService in its
/// metadata). `then` is where the browser goes afterwards.
pub async fn single_logout_url(
    ctx: &Ctx,
    site: &Site,
    session: &SamlSession,
    then: &str,
) -> Option<String> {
    let provider = load_provider(ctx, &site.pool, &session.provider).await?;
    if provider.provider_type != "SAML" || provider.detail("IDPSignout") != Some("true") {
        return None;
    }
    let metadata = match current_metadata(ctx, &site.pool.id, &provider).await {
        Ok(m) => m,
        Err(why) => {
            tracing::warn!("no single logout through {}: {why}", provider.name);
            return None;
        }
    };
    let destination = metadata.slo_redirect_url?;
    let state = LogoutState {
        pool: site.pool.id.clone(),
        provider: provider.name.clone(),
        request_id: format!("_{}", random_token()),
        then: then.to_string(),
        exp: ctx.now_s() + STATE_LIFETIME_S,
    };
    let request = LogoutRequest {
        id: &state.request_id,
        issue_instant: &idpool_wire::query::iso8601(ctx.now_s()),
        destination: &destination,
        sp_entity_id: &sp_entity_id(&site.pool.id),
        name_id: &session.name_id,
        name_id_format: session.name_id_format.as_deref(),
        session_index: session.session_index.as_deref(),
    };
    let sealed = ctx.state.master.encrypt(
        serde_json::to_string(&state)
            .expect("serializes")
            .as_bytes(),
        LOGOUT_STATE_PURPOSE,
    );
    // Cognito always signs its LogoutRequests with the pool's signing key.
    match redirect_binding_url(
        ctx,
        &site.pool.id,
        &destination,
        request.redirect_encoded(),
        sealed,
        true,
    )
    .await
    {
        Ok(url) => Some(url),
        Err(why) => {
            tracing::warn!("no single logout through {}: {why}", provider.name);
            None
        }
    }
}

/// `POST /saml2/logout`: the provider's LogoutResponse.
pub async fn logout_response(
    State(state): State<SharedState>,
    site: Site,
    Form(form): Form<SamlPost>,
) -> Response {
    let ctx = Ctx::for_state(state);
    let page = |why: String| Refusal::Page(why).into_response(&site);
    let Some(state) = form
        .relay_state
        .as_deref()
        .and_then(|sealed| ctx.state.master.decrypt(sealed, LOGOUT_STATE_PURPOSE).ok())
        .and_then(|plain| serde_json::from_slice::<LogoutState>(&plain).ok())
        .filter(|s| s.pool == site.pool.id)
    else {
        return page(
            "This is not the answer to a sign-out idpool started (the RelayState is missing or not idpool's). idpool accepts LogoutResponses here, not LogoutRequests.".into(),
        );
    };
    if state.exp <= ctx.now_s() {
        return page("The sign-out through the identity provider has expired.".into());
    }
    let Some(xml) = form
        .saml_response
        .as_deref()
        .map(|r| r.chars().filter(|c| !c.is_whitespace()).collect::<String>())
        .and_then(|r| base64::engine::general_purpose::STANDARD.decode(r).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
    else {
        return page("The request has no base64-encoded SAMLResponse.".into());
    };
    let Some(provider) = load_provider(&ctx, &site.pool, &state.provider).await else {
        return page("The identity provider no longer exists.".into());
    };
    let metadata = match current_metadata(&ctx, &site.pool.id, &provider).await {
        Ok(m) => m,
        Err(why) => return page(why),
    };
    let keys = metadata.signing_keys();
    let destination = site.absolute_url(LOGOUT_PATH);
    let expected = ExpectedLogoutResponse {
        idp_entity_id: &metadata.entity_id,
        signing_keys: &keys,
        destination: &destination,
        request_id: &state.request_id,
    };
    match verify_logout_response(&xml, &expected) {
        Ok(Ok(())) => redirect(&state.then),
        Ok(Err(status)) => {
            // The pool's session ended at /logout whatever the provider says; the app
            // still gets its user back.
            tracing::warn!(
                "identity provider {} did not sign the user out: {status}",
                provider.name
            );
            redirect(&state.then)
        }
        Err(e) => page(format!("{}: {e}", provider.name)),
    }
}
