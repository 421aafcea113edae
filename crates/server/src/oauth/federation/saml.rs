//! Sign-in through a pool's SAML 2.0 identity provider, as Cognito does it: the pool is
//! the service provider `urn:amazon:cognito:sp:{poolId}`; `/oauth2/authorize` sends the
//! browser to the provider's single sign-on URL with an AuthnRequest (HTTP-Redirect
//! binding, signed with the pool's key when `RequestSigningAlgorithm` is set), and the
//! provider posts its response to `/saml2/idpresponse` (HTTP-POST binding). The user is
//! then `{ProviderName}_{NameID}`, with the assertion's attributes mapped.
//!
//! SP-initiated responses must answer the request idpool sent (`InResponseTo`, and the
//! sealed RelayState bound to the browser by a cookie, against login CSRF). With
//! `IDPInit` the provider may also post unsolicited responses: their RelayState holds
//! the authorization request's parameters, they answer no request and must be at most
//! six minutes old (Cognito's rules). Every assertion is accepted once.

use super::{
    BROWSER_COOKIE, FederationState, Provider, STATE_LIFETIME_S, back_to_app, finish_sign_in,
    load_provider, random_token,
};
use crate::api::Ctx;
use crate::api::support::pool_keys;
use crate::oauth::authorize::{
    AuthRequest, AuthorizeQuery, Refusal, SamlSession, SignInProof, check_request,
    form_urlencoded_pairs, redirect, with_params,
};
use crate::oauth::site::Site;
use crate::state::SharedState;
use axum::extract::{Form, State};
use axum::http::{Uri, header};
use axum::response::Response;
use base64::Engine;
use idpool_core::saml::encryption::AssertionDecryptionKey;
use idpool_core::saml::metadata::{IdpMetadata, parse_metadata};
use idpool_core::saml::request::AuthnRequest;
use idpool_core::saml::response::{Answering, AssertionEncryption, Expected, verify_response};
use idpool_core::tokens::keys::SigningKey;
use idpool_store::ObjectKind;
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub const ACS_PATH: &str = "/saml2/idpresponse";
/// Cognito's limit on a posted SAMLResponse.
const MAX_SAML_RESPONSE_CHARS: usize = 100_000;
/// Cognito accepts an unsolicited (IdP-initiated) assertion for six minutes.
const IDP_INITIATED_MAX_AGE_S: i64 = 6 * 60;
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// Cognito fetches a `MetadataURL` again every six hours, so that an identity
/// provider's certificate rollover reaches the pool without an update.
const METADATA_REFRESH_S: i64 = 6 * 3600;
/// After a failed refresh the stored document stays in use; try again this much later
/// rather than at every sign-in, which would wait on a dead server each time.
const METADATA_RETRY_S: i64 = 5 * 60;

/// The pool's entity id as a SAML service provider (the audience of its assertions).
pub fn sp_entity_id(pool_id: &str) -> String {
    format!("urn:amazon:cognito:sp:{pool_id}")
}

/// Fetches the metadata document behind a provider's `MetadataURL`.
pub async fn fetch_metadata(ctx: &Ctx, url: &str) -> Result<String, String> {
    let resp = ctx
        .state
        .external_oidc
        .http()
        .get(url)
        .send()
        .await
        .map_err(|e| format!("Could not fetch the SAML metadata from {url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!(
            "Could not fetch the SAML metadata from {url}: HTTP {}.",
            resp.status()
        ));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| format!("Could not fetch the SAML metadata from {url}: {e}"))?;
    if bytes.len() > idpool_core::saml::MAX_DOCUMENT_BYTES {
        return Err(format!("The SAML metadata at {url} is too large."));
    }
    String::from_utf8(bytes.to_vec())
        .map_err(|_| format!("The SAML metadata at {url} is not UTF-8."))
}

fn metadata_of(provider: &Provider, now_s: i64) -> Result<IdpMetadata, String> {
    let document = provider
        .detail("MetadataFile")
        .or(provider.fetched_metadata.as_deref())
        .ok_or_else(|| format!("Identity provider {} has no SAML metadata.", provider.name))?;
    parse_metadata(document, now_s).map_err(|e| format!("{}: {e}", provider.name))
}

/// The provider's metadata, fetched again from its `MetadataURL` when six hours old.
pub(super) async fn current_metadata(
    ctx: &Ctx,
    pool_id: &str,
    provider: &Provider,
) -> Result<IdpMetadata, String> {
    let now_s = ctx.now_s();
    if let Some(url) = provider.detail("MetadataURL")
        && provider
            .fetched_metadata_at_s
            .is_none_or(|at| now_s - at >= METADATA_REFRESH_S)
    {
        match refresh_metadata(ctx, pool_id, provider, url).await {
            Ok(metadata) => return Ok(metadata),
            Err(why) => tracing::warn!(
                "keeping the stored SAML metadata of {pool_id}/{}: {why}",
                provider.name
            ),
        }
    }
    metadata_of(provider, now_s)
}

async fn refresh_metadata(
    ctx: &Ctx,
    pool_id: &str,
    provider: &Provider,
    url: &str,
) -> Result<IdpMetadata, String> {
    use crate::api::identity_providers::{FETCHED_METADATA, FETCHED_METADATA_AT};
    let fetched = match fetch_metadata(ctx, url).await {
        Ok(text) => parse_metadata(&text, ctx.now_s())
            .map(|metadata| (text, metadata))
            .map_err(|e| format!("Invalid SAML metadata at {url}: {e}")),
        Err(why) => Err(why),
    };
    let store = &ctx.state.store;
    let mut row = store
        .get_object(pool_id, ObjectKind::IdentityProvider, &provider.name)
        .await
        .map_err(|e| e.to_string())?
        .filter(|row| row.doc["ProviderDetails"]["MetadataURL"] == url)
        .ok_or_else(|| "the provider changed meanwhile".to_string())?;
    match &fetched {
        Ok((text, metadata)) => {
            row.doc[FETCHED_METADATA] = json!(text);
            row.doc[FETCHED_METADATA_AT] = json!(ctx.now);
            let details = &mut row.doc["ProviderDetails"];
            details["SSORedirectBindingURI"] = json!(metadata.sso_redirect_url);
            match &metadata.slo_redirect_url {
                Some(slo) => details["SLORedirectBindingURI"] = json!(slo),
                None => {
                    if let Some(d) = details.as_object_mut() {
                        d.remove("SLORedirectBindingURI");
                    }
                }
            }
        }
        Err(_) => {
            row.doc[FETCHED_METADATA_AT] =
                json!(ctx.now - (METADATA_REFRESH_S - METADATA_RETRY_S) * 1000);
        }
    }
    // Not a change by the pool's owner: LastModifiedDate stays.
    store.put_object(&row).await.map_err(|e| e.to_string())?;
    fetched.map(|(_, metadata)| metadata)
}

/// The key that opens the provider's encrypted assertions, when `EncryptedResponses`
/// is on (which makes encryption required).
fn decryption_key(
    ctx: &Ctx,
    provider: &Provider,
) -> Result<Option<AssertionDecryptionKey>, String> {
    if provider.detail("EncryptedResponses") != Some("true") {
        return Ok(None);
    }
    let undecryptable = || {
        format!(
            "Identity provider {} has no usable encryption key.",
            provider.name
        )
    };
    let encrypted = provider
        .encryption_key
        .as_deref()
        .ok_or_else(undecryptable)?;
    let pkcs8 = ctx
        .state
        .master
        .decrypt(encrypted, SigningKey::SEALING_PURPOSE)
        .map_err(|_| undecryptable())?;
    AssertionDecryptionKey::from_pkcs8(&pkcs8)
        .map(Some)
        .ok_or_else(undecryptable)
}

/// A SAML provider's entity id (None for other providers).
pub(super) fn entity_id(provider: &Provider, now_s: i64) -> Option<String> {
    if provider.provider_type != "SAML" {
        return None;
    }
    metadata_of(provider, now_s).ok().map(|m| m.entity_id)
}

/// The URL that carries a SAML request to the provider (HTTP-Redirect binding), signed
/// when `signed` (SAML bindings §3.4.4.1: over the encoded query itself, with the key
/// whose certificate GetSigningCertificate returns).
pub(super) async fn redirect_binding_url(
    ctx: &Ctx,
    pool_id: &str,
    destination: &str,
    saml_request: String,
    relay_state: String,
    signed: bool,
) -> Result<String, String> {
    let mut params = vec![("SAMLRequest", saml_request), ("RelayState", relay_state)];
    if signed {
        params.push(("SigAlg", RSA_SHA256.to_string()));
        let signed = form_urlencoded_pairs(&params);
        let keys = pool_keys(ctx, pool_id).await.map_err(|e| e.message)?;
        let key = keys
            .first()
            .ok_or_else(|| "The user pool has no signing key.".to_string())?;
        let mut signature = vec![0u8; key.key_pair.public_modulus_len()];
        key.key_pair
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "Could not sign the SAML request.".to_string())?;
        params.push(("Signature", idpool_core::crypto::b64(&signature)));
    }
    Ok(with_params(destination, &params, false))
}

/// Sends the browser to the provider's single sign-on service.
pub(super) async fn start(
    ctx: &Ctx,
    site: &Site,
    req: &AuthRequest,
    provider: &Provider,
    refuse: impl Fn(&'static str, String) -> Response,
) -> Response {
    let metadata = match current_metadata(ctx, &site.pool.id, provider).await {
        Ok(m) => m,
        Err(why) => return refuse("server_error", why),
    };
    let state = FederationState {
        req: req.clone(),
        provider: provider.name.clone(),
        // The AuthnRequest's ID: an xs:ID must not start with a digit.
        nonce: format!("_{}", random_token()),
        code_verifier: String::new(),
        browser: random_token(),
        exp: ctx.now_s() + STATE_LIFETIME_S,
    };
    let relay_state = state.seal(ctx);
    let request = AuthnRequest {
        id: &state.nonce,
        issue_instant: &idpool_wire::query::iso8601(ctx.now_s()),
        destination: &metadata.sso_redirect_url,
        acs_url: &site.absolute_url(ACS_PATH),
        sp_entity_id: &sp_entity_id(&site.pool.id),
    };
    let signed = provider.detail("RequestSigningAlgorithm") == Some("rsa-sha256");
    let url = match redirect_binding_url(
        ctx,
        &site.pool.id,
        &metadata.sso_redirect_url,
        request.redirect_encoded(),
        relay_state,
        signed,
    )
    .await
    {
        Ok(url) => url,
        Err(why) => return refuse("server_error", why),
    };
    let mut resp = redirect(&url);
    resp.headers_mut().append(
        header::SET_COOKIE,
        site.set_cross_site_cookie(BROWSER_COOKIE, &state.browser, STATE_LIFETIME_S),
    );
    resp
}

/// The provider's HTTP-POST binding form.
#[derive(Debug, Default, Deserialize)]
pub struct SamlPost {
    #[serde(rename = "SAMLResponse")]
    pub(super) saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    pub(super) relay_state: Option<String>,
}

/// How the sign-in started: at `/oauth2/authorize` (the sealed state idpool sent), or at
/// the provider (IDPInit: the RelayState is the authorization request's parameters).
struct Started {
    req: AuthRequest,
    provider: Provider,
    request_id: Option<String>,
}

async fn started(ctx: &Ctx, site: &Site, relay_state: Option<&str>) -> Result<Started, Response> {
    let page = |why: &str| Err(Refusal::Page(why.to_string()).into_response(site));
    let relay_state = relay_state.unwrap_or_default();
    if let Some(fs) = FederationState::open(ctx, relay_state) {
        if fs.exp <= ctx.now_s() || fs.req.exp <= ctx.now {
            return page(
                "The sign-in through the identity provider has expired; start again from the app.",
            );
        }
        if site.cookie(BROWSER_COOKIE) != Some(fs.browser.as_str()) {
            return page("This sign-in was started in another browser; start again from the app.");
        }
        let Some(provider) = load_provider(ctx, &site.pool, &fs.provider).await else {
            return page("The identity provider no longer exists.");
        };
        return Ok(Started {
            req: fs.req,
            provider,
            request_id: Some(fs.nonce),
        });
    }
    // IdP-initiated: the RelayState is checked as an authorization request would be.
    let uri: Uri = match format!("/?{relay_state}").parse() {
        Ok(u) => u,
        Err(_) => return page("The RelayState is not an authorization request."),
    };
    let Ok(axum::extract::Query(q)) = axum::extract::Query::<AuthorizeQuery>::try_from_uri(&uri)
    else {
        return page("The RelayState is not an authorization request.");
    };
    let (_, req) = check_request(ctx, site, &q)
        .await
        .map_err(|refusal| refusal.into_response(site))?;
    let Some(name) = req.identity_provider.clone() else {
        return page("The RelayState names no identity provider (identity_provider).");
    };
    let Some(provider) = load_provider(ctx, &site.pool, &name).await else {
        return page("The identity provider does not exist.");
    };
    if provider.provider_type != "SAML" || provider.detail("IDPInit") != Some("true") {
        return page(&format!(
            "Identity provider {name} does not allow IdP-initiated sign-in (IDPInit)."
        ));
    }
    Ok(Started {
        req,
        provider,
        request_id: None,
    })
}

/// A SAML attribute as a user attribute value: Cognito writes several values as
/// `[a, b]`.
fn attribute_value(values: &[String]) -> Value {
    match values {
        [one] => json!(one),
        many => json!(format!("[{}]", many.join(", "))),
    }
}

/// `POST /saml2/idpresponse`: the provider's answer.
pub async fn idp_response(
    State(state): State<SharedState>,
    site: Site,
    Form(form): Form<SamlPost>,
) -> Response {
    let ctx = Ctx::for_state(state);
    let page = |why: &str| Refusal::Page(why.to_string()).into_response(&site);
    let Some(encoded) = form.saml_response.as_deref().filter(|r| !r.is_empty()) else {
        return page("The request has no SAMLResponse.");
    };
    if encoded.len() > MAX_SAML_RESPONSE_CHARS {
        return page("The SAMLResponse is longer than 100,000 characters.");
    }
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(xml) = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
    else {
        return page("The SAMLResponse is not base64-encoded XML.");
    };
    let started = match started(&ctx, &site, form.relay_state.as_deref()).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let req = &started.req;
    let back =
        |error: &'static str, description: String| back_to_app(&site, req, error, description);
    let provider = &started.provider;
    let metadata = match current_metadata(&ctx, &site.pool.id, provider).await {
        Ok(m) => m,
        Err(why) => return back("server_error", why),
    };
    let keys = metadata.signing_keys();
    let decryption_key = match decryption_key(&ctx, provider) {
        Ok(k) => k,
        Err(why) => return back("server_error", why),
    };
    let acs_url = site.absolute_url(ACS_PATH);
    let sp = sp_entity_id(&site.pool.id);
    let expected = Expected {
        idp_entity_id: &metadata.entity_id,
        signing_keys: &keys,
        audiences: &[&sp],
        recipients: &[&acs_url],
        answering: started
            .request_id
            .as_deref()
            .map_or(Answering::Unsolicited, Answering::Request),
        now_s: ctx.now_s(),
        encryption: match &decryption_key {
            Some(key) => AssertionEncryption::Required {
                keys: std::slice::from_ref(key),
                setting: "EncryptedResponses is on",
            },
            None => AssertionEncryption::Off,
        },
    };
    let assertion = match verify_response(&xml, &expected) {
        Ok(a) => a,
        Err(e) => return back("invalid_request", format!("{}: {e}", provider.name)),
    };
    if started.request_id.is_none()
        && assertion
            .issued_at_s
            .is_none_or(|at| ctx.now_s() - at > IDP_INITIATED_MAX_AGE_S)
    {
        return back(
            "invalid_request",
            "An IdP-initiated SAML assertion must have been issued in the last 6 minutes.".into(),
        );
    }
    // A captured response (browser history, a proxy log) must not sign anyone in again.
    let spent = format!(
        "saml-assertion/{}/{}/{}",
        site.pool.id, provider.name, assertion.id
    );
    match ctx
        .state
        .store
        .consume_once(&spent, assertion.expires_at_s * 1000, ctx.now)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return back(
                "invalid_request",
                "This SAML assertion has already been used.".into(),
            );
        }
        Err(e) => return back("server_error", e.to_string()),
    }
    let mut claims: Map<String, Value> = assertion
        .attributes
        .iter()
        .map(|(name, values)| (name.clone(), attribute_value(values)))
        .collect();
    // Cognito's username for a SAML user is the NameID.
    claims.insert("sub".into(), json!(assertion.name_id));
    let Some(client) = super::load_client(&ctx, &site, &req.client_id).await else {
        return page("The application no longer exists.");
    };
    let mut proof = SignInProof::now(&ctx, &[]);
    proof.saml = Some(SamlSession {
        provider: provider.name.clone(),
        name_id: assertion.name_id.clone(),
        name_id_format: assertion.name_id_format.clone(),
        session_index: assertion.session_index.clone(),
    });
    finish_sign_in(&ctx, &site, &client, req, provider, &claims, proof).await
}
