//! The hosted UI: server-rendered pages that work without JavaScript, in front of the
//! same sign-in, sign-up and recovery rules as the API (they call its handlers).
//!
//! Every form carries a CSRF token tied to a cookie (`XSRF-TOKEN`, as Cognito names it)
//! through a keyed hash, so another site can neither post a form nor plant a cookie
//! that makes one valid. Pages are `no-store`, cannot be framed (clickjacking), and run
//! no script: the Content-Security-Policy allows only this page's own styles.

// Page handlers return the page that explains a refusal as their error: one
// response per request, so its size does not matter.
#![allow(clippy::result_large_err)]

mod forgot;
pub mod i18n;
mod login;
mod qr;
mod signup;

pub use forgot::{confirm_forgot_password_page, forgot_password_page, forgot_password_submit};
pub use login::{challenge_submit, login_page, login_submit};
pub use signup::{confirm_submit, signup_page, signup_submit};

use crate::api::Ctx;
use crate::oauth::authorize::AuthRequest;
use crate::oauth::site::Site;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use i18n::Lang;
use idpool_core::branding::{Image, Look};
use idpool_core::crypto;
use minijinja::{Environment, Value};
use serde::Serialize;
use subtle::ConstantTimeEq;

pub const CSRF_COOKIE: &str = "XSRF-TOKEN";

const BUILT_IN_TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("passkey.html", include_str!("../../templates/passkey.html")),
    (
        "challenge.html",
        include_str!("../../templates/challenge.html"),
    ),
    ("signup.html", include_str!("../../templates/signup.html")),
    ("confirm.html", include_str!("../../templates/confirm.html")),
    ("forgot.html", include_str!("../../templates/forgot.html")),
    ("reset.html", include_str!("../../templates/reset.html")),
    ("error.html", include_str!("../../templates/error.html")),
];

/// The page templates: the built-in ones, each replaced by a file of the same name in
/// `dir` when there is one. Read and checked once at start, so a broken template
/// stops the server with its error instead of failing sign-ins later.
pub fn load_templates(dir: Option<&std::path::Path>) -> Result<Environment<'static>, String> {
    let mut env = Environment::new();
    for (name, built_in) in BUILT_IN_TEMPLATES {
        match dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
            Some(path) => {
                let source = std::fs::read_to_string(&path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?;
                env.add_template_owned(name.to_string(), source)
                    .map_err(|e| format!("template {}: {e}", path.display()))?;
            }
            None => env
                .add_template(name, built_in)
                .map_err(|e| format!("built-in template {name}: {e}"))?,
        }
    }
    if let Some(d) = dir {
        // A misspelt file name would silently change nothing.
        for entry in std::fs::read_dir(d).map_err(|e| format!("reading {}: {e}", d.display()))? {
            let name = entry.map_err(|e| e.to_string())?.file_name();
            let name = name.to_string_lossy();
            if !BUILT_IN_TEMPLATES.iter().any(|(n, _)| *n == name) {
                return Err(format!(
                    "{}: {name} is not a hosted-UI template (expected any of: {})",
                    d.display(),
                    BUILT_IN_TEMPLATES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    Ok(env)
}

/// What every page shows besides its own fields.
pub struct Page<'a> {
    pub site: &'a Site,
    pub csrf: Option<(String, Option<HeaderValue>)>,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub branding: Look,
    /// Where the logo may come from besides this page's origin: the public URL.
    pub img_origin: String,
    /// The page runs its own inline script (the passkey ceremony, which browsers only
    /// offer to JavaScript); every other page runs none.
    pub script: bool,
}

/// The branding picture of the sign-in step a page shows (managed login's per-factor
/// graphics): the password page, the passkey page, and each code challenge by where
/// its code comes from.
fn factor_graphic(template: &str, challenge: Option<&str>) -> Option<&'static str> {
    match (template, challenge) {
        ("login.html", _) => Some("PASSWORD_GRAPHIC"),
        ("passkey.html", _) => Some("PASSKEY_GRAPHIC"),
        ("challenge.html", Some("SMS_MFA" | "SMS_OTP")) => Some("SMS_GRAPHIC"),
        ("challenge.html", Some("EMAIL_OTP")) => Some("EMAIL_GRAPHIC"),
        ("challenge.html", Some("SOFTWARE_TOKEN_MFA" | "MFA_SETUP")) => Some("AUTH_APP_GRAPHIC"),
        _ => None,
    }
}

/// Renders a page with Cognito-like security headers. `extra` is the page's own
/// context; `cookies` are set along with it.
pub fn render(
    page: Page<'_>,
    status: StatusCode,
    name: &str,
    extra: impl Serialize,
    cookies: Vec<HeaderValue>,
) -> Response {
    let nonce = crypto::b64url(&crypto::random_bytes(16));
    let challenge = serde_json::to_value(&extra)
        .ok()
        .and_then(|v| v["challenge"].as_str().map(String::from));
    let graphic = factor_graphic(name, challenge.as_deref())
        .and_then(|category| page.branding.graphics.get(category).cloned());
    let Look {
        css,
        logo,
        header,
        footer,
        favicon,
        idp_icons,
        federation,
        language_selector,
        ..
    } = page.branding;
    let (csrf, csrf_cookie) = page.csrf.unwrap_or_default();
    let lang = page.site.lang;
    let lang_action = language_selector
        .then(|| language_selector_path(name))
        .flatten();
    let languages: Vec<serde_json::Value> = match lang_action {
        Some(_) => Lang::all()
            .map(|l| serde_json::json!({"code": l.code(), "name": l.name(), "selected": l == lang}))
            .collect(),
        None => Vec::new(),
    };
    let ctx = minijinja::context! {
        lang => lang.code(),
        t => lang.template_value(),
        languages => Value::from(minijinja::value::Serde(&languages)),
        lang_action => lang_action,
        pool_name => page.site.pool.name.clone(),
        base => page.site.base.clone(),
        csrf => csrf,
        // Handlers answer in Cognito's English; the pages speak the user's language.
        error => page.error.map(|e| lang.api_message(&e)),
        notice => page.notice,
        // Admin-supplied CSS: it cannot close the style element, and the CSP would
        // stop any script it tried to bring in anyway.
        custom_css => (!css.is_empty()).then(|| Value::from_safe_string(css.replace("</", ""))),
        // `logo_url` stays for templates written before dark-mode logos.
        logo_url => logo.as_ref().map(|l| l.src.clone()),
        logo => Value::from(minijinja::value::Serde(&logo)),
        header => Value::from(minijinja::value::Serde(&header)),
        footer => Value::from(minijinja::value::Serde(&footer)),
        favicon => favicon,
        graphic => Value::from(minijinja::value::Serde(&graphic)),
        idp_icons => Value::from(minijinja::value::Serde(&idp_icons)),
        idp_dropdown => federation.dropdown,
        idp_after_form => federation.after_form,
        csp_nonce => nonce.clone(),
        ..Value::from(minijinja::value::Serde(&extra))
    };
    let html = match page
        .site
        .templates
        .get_template(name)
        .and_then(|t| t.render(ctx))
    {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(template = name, error = %e, "page rendering failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "page rendering failed").into_response();
        }
    };
    let mut resp = (status, html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    // Scripts only where the page asks for them, and then only the ones the template
    // itself carries with this response's nonce.
    let script = if page.script {
        format!("script-src 'nonce-{nonce}'; ")
    } else {
        String::new()
    };
    if let Ok(csp) = HeaderValue::from_str(&format!(
        "default-src 'none'; {script}style-src 'nonce-{nonce}'; img-src 'self' data: {}; frame-ancestors 'none'; base-uri 'none'",
        page.img_origin
    )) {
        h.insert("content-security-policy", csp);
    }
    let lang_cookie = page.site.lang_chosen.then(|| {
        page.site
            .set_cookie(i18n::LANG_COOKIE, lang.code(), 365 * 24 * 3600)
    });
    for c in cookies.into_iter().chain(csrf_cookie).chain(lang_cookie) {
        h.append(header::SET_COOKIE, c);
    }
    resp
}

/// Where a page's language selector (a branding style's `languageSelector`) sends the
/// browser: the same page, by GET, for the pages a browser can reach by GET. Pages
/// shown in answer to a form keep the language chosen before (its cookie) and have no
/// selector.
fn language_selector_path(template: &str) -> Option<&'static str> {
    match template {
        "login.html" => Some("/login"),
        "signup.html" => Some("/signup"),
        "forgot.html" => Some("/forgotPassword"),
        _ => None,
    }
}

/// A page that only says what went wrong; `message` is translated when it is one of the
/// API's messages the catalogues know.
pub fn error_page(site: &Site, status: StatusCode, message: &str) -> Response {
    render(
        Page {
            site,
            csrf: None,
            error: None,
            notice: None,
            branding: Look::default(),
            img_origin: String::new(),
            script: false,
        },
        status,
        "error.html",
        minijinja::context! { message => site.lang.api_message(message) },
        vec![],
    )
}

/// The CSRF token of this browser's forms, creating its cookie if needed.
pub fn csrf(ctx: &Ctx, site: &Site) -> (String, Option<HeaderValue>) {
    match site.cookie(CSRF_COOKIE).filter(|v| v.len() >= 22) {
        Some(cookie) => (csrf_token(ctx, cookie), None),
        None => {
            let cookie = crypto::b64url(&crypto::random_bytes(24));
            let token = csrf_token(ctx, &cookie);
            (
                token,
                Some(site.set_cookie(CSRF_COOKIE, &cookie, 24 * 3600)),
            )
        }
    }
}

fn csrf_token(ctx: &Ctx, cookie: &str) -> String {
    crypto::b64url(
        &ctx.state
            .master
            .keyed_hash(format!("csrf\n{cookie}").as_bytes()),
    )
}

/// Whether a posted form's `_csrf` belongs to this browser's cookie.
pub fn csrf_ok(ctx: &Ctx, site: &Site, posted: Option<&str>) -> bool {
    match (site.cookie(CSRF_COOKIE), posted) {
        (Some(cookie), Some(token)) => {
            bool::from(csrf_token(ctx, cookie).as_bytes().ct_eq(token.as_bytes()))
        }
        _ => false,
    }
}

pub fn csrf_refused(site: &Site) -> Response {
    error_page(
        site,
        StatusCode::FORBIDDEN,
        site.lang.text("error_form_expired"),
    )
}

/// The authorization request a page belongs to, or the page explaining it is gone.
pub fn open_request(ctx: &Ctx, site: &Site, sealed: Option<&str>) -> Result<AuthRequest, Response> {
    sealed
        .and_then(|s| AuthRequest::open(ctx, s))
        .ok_or_else(|| {
            error_page(
                site,
                StatusCode::BAD_REQUEST,
                site.lang.text("error_sign_in_expired"),
            )
        })
}

/// A page's common parts for an authorization request.
pub async fn page<'a>(
    ctx: &Ctx,
    site: &'a Site,
    req: &AuthRequest,
    error: Option<String>,
    notice: Option<String>,
) -> Page<'a> {
    let (css, logo) =
        crate::api::pool_settings::hosted_ui_branding(ctx, &site.pool, &req.client_id).await;
    let mut branding = Look {
        css: css.unwrap_or_default(),
        logo: logo.map(Image::plain),
        ..Look::default()
    };
    // A managed login branding style comes after the classic customization, so its
    // rules and logo win where both say something.
    if let Some(style) =
        crate::api::branding::managed_login_style(ctx, &site.pool, &req.client_id).await
    {
        branding.css = branding.css + "\n" + &style.css;
        branding.logo = style.logo.or(branding.logo);
        branding.header = style.header;
        branding.footer = style.footer;
        branding.favicon = style.favicon;
        branding.graphics = style.graphics;
        branding.idp_icons = style.idp_icons;
        branding.federation = style.federation;
        branding.language_selector = style.language_selector;
    }
    Page {
        site,
        csrf: Some(csrf(ctx, site)),
        error,
        notice,
        branding,
        // The logo is served under the public URL, which may not be the origin of a
        // page served on the pool's domain.
        img_origin: ctx.state.public_url.clone(),
        script: false,
    }
}

/// Parses an `application/x-www-form-urlencoded` body into pairs.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The SECRET_HASH the hosted UI computes for itself when calling the API's handlers
/// for a client with a secret (it holds the secret; the browser never sees it).
pub fn secret_hash(ctx: &Ctx, client: &idpool_store::ClientRow, username: &str) -> Option<String> {
    let secret = crate::api::client_secrets::primary_secret(ctx, client).ok()??;
    let mac = crypto::hmac_sha256(
        secret.as_bytes(),
        format!("{username}{}", client.client_id).as_bytes(),
    );
    Some(crypto::b64(&mac))
}
