//! Which pool a hosted-UI or OAuth request is for, and the cookies and redirects those
//! endpoints share.
//!
//! Two ways to address a pool: Cognito's, by its domain (`<prefix>.auth.<region>.
//! amazoncognito.com`, `<prefix>.localhost`, or a custom domain pointed at idpool) with
//! the endpoints at the root (`/oauth2/authorize`); and a path form that needs no DNS,
//! `{public-url}/{poolId}/oauth2/authorize`, whose base is the pool's token issuer.

use crate::state::SharedState;
use crate::ui::i18n::{LANG_COOKIE, Lang};
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idpool_store::{ObjectKind, PoolRow};

/// The pool a request addresses and how it was addressed.
pub struct Site {
    pub pool: PoolRow,
    /// Prefix of every page and endpoint of the pool: "/{poolId}" in the path form,
    /// "" on the pool's domain.
    pub base: String,
    /// Scheme and host the pool is addressed at (`https://auth.example.com`; the
    /// public URL in the path form): the base of absolute URLs given to other sites.
    pub origin: String,
    /// Whether cookies must be `Secure` (the public URL or the request is HTTPS).
    pub secure: bool,
    pub cookies: Vec<(String, String)>,
    pub templates: std::sync::Arc<minijinja::Environment<'static>>,
    /// The language of the pages (see `ui::i18n`).
    pub lang: Lang,
    /// Whether this request chose the language (`lang=` or `ui_locales=`): the page
    /// then remembers it in a cookie, and a redirect to another page passes it on.
    pub lang_chosen: bool,
}

impl Site {
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A `Set-Cookie` value scoped to this pool's pages: HttpOnly, SameSite=Lax (the
    /// OAuth redirect back from an app is a top-level GET, which Lax allows).
    pub fn set_cookie(&self, name: &str, value: &str, max_age_s: i64) -> HeaderValue {
        let path = if self.base.is_empty() {
            "/"
        } else {
            &self.base
        };
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path={path}; Max-Age={max_age_s}; HttpOnly; SameSite=Lax{secure}"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// A cookie the browser must send back on a cross-site POST: a SAML provider's
    /// response arrives as a form posted from the provider's site, which `SameSite=Lax`
    /// cookies do not accompany. `SameSite=None` requires `Secure`, so over plain HTTP
    /// (local development, where provider and pool are usually the same site) the
    /// cookie stays Lax.
    pub fn set_cross_site_cookie(&self, name: &str, value: &str, max_age_s: i64) -> HeaderValue {
        if !self.secure {
            return self.set_cookie(name, value, max_age_s);
        }
        let path = if self.base.is_empty() {
            "/"
        } else {
            &self.base
        };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path={path}; Max-Age={max_age_s}; HttpOnly; SameSite=None; Secure"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// A page or endpoint of this pool, as a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A page or endpoint of this pool as an absolute URL, for other sites (the
    /// redirect URI registered at a federated identity provider).
    pub fn absolute_url(&self, path: &str) -> String {
        format!("{}{}{path}", self.origin, self.base)
    }
}

fn parse_cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (n, v) = pair.trim().split_once('=')?;
            Some((n.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// The pages' language for a request, and whether the request itself chose it: managed
/// login's `lang` query parameter, then OIDC's `ui_locales`, then the language this
/// browser chose before, then its `Accept-Language`.
fn page_language(parts: &Parts, cookies: &[(String, String)]) -> (Lang, bool) {
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| crate::ui::form_pairs(q.as_bytes()))
        .unwrap_or_default();
    let asked = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(lang) = asked("lang")
        .and_then(Lang::parse)
        .or_else(|| asked("ui_locales").and_then(Lang::from_ui_locales))
    {
        return (lang, true);
    }
    let remembered = cookies
        .iter()
        .find(|(n, _)| n == LANG_COOKIE)
        .and_then(|(_, v)| Lang::parse(v));
    let browser = || {
        parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|h| h.to_str().ok())
            .and_then(Lang::from_accept_language)
    };
    (remembered.or_else(browser).unwrap_or_default(), false)
}

/// The domain key a Host names: the prefix of `<prefix>.auth.<region>.amazoncognito.com`
/// or `<prefix>.localhost`, else the host itself (a custom domain).
pub fn domain_key(host: &str) -> String {
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    if let Some((prefix, rest)) = host.split_once('.')
        && ((rest.starts_with("auth.") && rest.ends_with(".amazoncognito.com"))
            || rest == "localhost")
    {
        return prefix.to_string();
    }
    host
}

pub fn not_found_page() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "No user pool is served at this address.",
    )
        .into_response()
}

impl FromRequestParts<SharedState> for Site {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let path_pool = RawPathParams::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|p| {
                p.iter()
                    .find(|(k, _)| *k == "pool_id")
                    .map(|(_, v)| v.to_string())
            });
        let store = &state.store;
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let forwarded_https = parts
            .headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
        let secure = state.public_url.starts_with("https://") || forwarded_https;
        let (pool, base) = match path_pool {
            Some(id) => match store.get_pool(&id).await {
                Ok(Some(p)) => (p, format!("/{id}")),
                Ok(None) => return Err(not_found_page()),
                Err(_) => return Err(StatusCode::SERVICE_UNAVAILABLE.into_response()),
            },
            None => {
                let row = match store
                    .find_global_object(ObjectKind::Domain, &domain_key(&host))
                    .await
                {
                    Ok(Some(row)) => row,
                    Ok(None) => return Err(not_found_page()),
                    Err(_) => return Err(StatusCode::SERVICE_UNAVAILABLE.into_response()),
                };
                match store.get_pool(&row.pool_id).await {
                    Ok(Some(p)) => (p, String::new()),
                    _ => return Err(not_found_page()),
                }
            }
        };
        let origin = if base.is_empty() {
            format!("{}://{host}", if secure { "https" } else { "http" })
        } else {
            state.public_url.trim_end_matches('/').to_string()
        };
        let cookies = parse_cookies(&parts.headers);
        let (lang, lang_chosen) = page_language(parts, &cookies);
        Ok(Site {
            pool,
            base,
            origin,
            secure,
            cookies,
            templates: state.ui_templates.clone(),
            lang,
            lang_chosen,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_name_domains() {
        assert_eq!(
            domain_key("my-app.auth.us-east-1.amazoncognito.com"),
            "my-app"
        );
        assert_eq!(domain_key("my-app.localhost:9229"), "my-app");
        assert_eq!(domain_key("Auth.Example.com"), "auth.example.com");
    }
}
