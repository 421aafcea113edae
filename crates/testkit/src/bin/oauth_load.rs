//! Load generator for the OAuth endpoints of a `--dev` server:
//! - `client_credentials`: machine-to-machine tokens from `/oauth2/token`;
//! - `authorization_code`: a whole browser sign-in as an app starts it: `/oauth2/authorize`,
//!   the sign-in page, the posted form, and the code exchanged (with PKCE) for tokens.
//!
//!   oauth_load ENDPOINT [SECONDS] [CONCURRENCY] [SERVER_PID]
//!
//! Prints one JSON line per workload: requests (or sign-ins)/s, p50/p99 latency, errors
//! and, with SERVER_PID, the server's CPU milliseconds per request.

use idpool_core::crypto;
use idpool_testkit::{LoadApi, measure};
use serde_json::json;
use std::sync::Arc;

const PASSWORD: &str = "Bench-Passw0rd!";
const CALLBACK: &str = "https://bench.example/callback";

struct Setup {
    base: String,
    m2m: (String, String),
    web: (String, String),
    users: Vec<String>,
}

async fn setup(api: &LoadApi, endpoint: &str, users: usize) -> Result<Setup, String> {
    let pool = api
        .call("CreateUserPool", json!({"PoolName": "oauth-bench"}))
        .await?;
    let pool_id = pool["UserPool"]["Id"]
        .as_str()
        .ok_or("no pool id")?
        .to_string();
    api.call(
        "CreateResourceServer",
        json!({"UserPoolId": pool_id, "Identifier": "bench", "Name": "bench",
               "Scopes": [{"ScopeName": "read", "ScopeDescription": "read"}]}),
    )
    .await?;
    let client = |body: serde_json::Value| async move {
        let c = api.call("CreateUserPoolClient", body).await?;
        let c = &c["UserPoolClient"];
        Ok::<_, String>((
            c["ClientId"].as_str().ok_or("no client id")?.to_string(),
            c["ClientSecret"].as_str().ok_or("no secret")?.to_string(),
        ))
    };
    let m2m = client(
        json!({"UserPoolId": pool_id, "ClientName": "m2m", "GenerateSecret": true,
        "AllowedOAuthFlowsUserPoolClient": true, "AllowedOAuthFlows": ["client_credentials"],
        "AllowedOAuthScopes": ["bench/read"]}),
    )
    .await?;
    let web = client(
        json!({"UserPoolId": pool_id, "ClientName": "web", "GenerateSecret": true,
        "AllowedOAuthFlowsUserPoolClient": true, "AllowedOAuthFlows": ["code"],
        "AllowedOAuthScopes": ["openid", "email"], "CallbackURLs": [CALLBACK],
        "SupportedIdentityProviders": ["COGNITO"]}),
    )
    .await?;
    let mut names = Vec::new();
    for i in 0..users {
        let name = format!("oauth-user-{i}");
        api.call(
            "AdminCreateUser",
            json!({"UserPoolId": pool_id, "Username": name, "MessageAction": "SUPPRESS"}),
        )
        .await?;
        api.call(
            "AdminSetUserPassword",
            json!({"UserPoolId": pool_id, "Username": name, "Password": PASSWORD, "Permanent": true}),
        )
        .await?;
        names.push(name);
    }
    Ok(Setup {
        base: format!("{}/{pool_id}", endpoint.trim_end_matches('/')),
        m2m,
        web,
        users: names,
    })
}

async fn client_credentials(http: &reqwest::Client, s: &Setup) -> Result<(), String> {
    let res = http
        .post(format!("{}/oauth2/token", s.base))
        .basic_auth(&s.m2m.0, Some(&s.m2m.1))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=bench%2Fread")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status();
    let body = res.text().await.map_err(|e| e.to_string())?;
    if status.is_success() && body.contains("access_token") {
        Ok(())
    } else {
        Err(format!("token: {status} {body}"))
    }
}

fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn hidden(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker)? + marker.len();
    let end = start + page[start..].find('"')?;
    Some(unescape(&page[start..end]))
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn location(res: &reqwest::Response) -> Result<String, String> {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(String::from)
        .ok_or_else(|| format!("no redirect ({})", res.status()))
}

/// One sign-in at the hosted pages, from a fresh browser, ending in a code exchange.
async fn authorization_code(http: &reqwest::Client, s: &Setup, user: &str) -> Result<(), String> {
    let verifier = crypto::b64url(&crypto::random_bytes(32));
    let challenge = crypto::b64url(&crypto::sha256(verifier.as_bytes()));
    let origin = s.base.split('/').take(3).collect::<Vec<_>>().join("/");
    let res = http
        .get(format!(
            "{}/oauth2/authorize?client_id={}&response_type=code&scope=openid&state=s1&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256",
            s.base,
            s.web.0,
            enc(CALLBACK)
        ))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let login_url = format!("{origin}{}", location(&res)?);
    let res = http
        .get(&login_url)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("XSRF-TOKEN="))
        .and_then(|v| v.split(';').next())
        .ok_or("no CSRF cookie")?
        .to_string();
    let page = res.text().await.map_err(|e| e.to_string())?;
    let (req, csrf) = (
        hidden(&page, "req").ok_or("no req")?,
        hidden(&page, "_csrf").ok_or("no csrf")?,
    );
    let res = http
        .post(format!("{}/login", s.base))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "req={}&_csrf={}&username={}&password={}",
            enc(&req),
            enc(&csrf),
            enc(user),
            enc(PASSWORD)
        ))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let back = location(&res)?;
    let code = back
        .split("code=")
        .nth(1)
        .and_then(|c| c.split('&').next())
        .ok_or_else(|| format!("no code in {back}"))?;
    let code = percent_encoding::percent_decode_str(code)
        .decode_utf8_lossy()
        .into_owned();
    let res = http
        .post(format!("{}/oauth2/token", s.base))
        .basic_auth(&s.web.0, Some(&s.web.1))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={verifier}",
            enc(&code),
            enc(CALLBACK)
        ))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status();
    let body = res.text().await.map_err(|e| e.to_string())?;
    if status.is_success() && body.contains("id_token") {
        Ok(())
    } else {
        Err(format!("token: {status} {body}"))
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args
        .get(1)
        .ok_or("usage: oauth_load ENDPOINT [SECONDS] [CONCURRENCY] [SERVER_PID]")?
        .clone();
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let concurrency: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(32);
    let server_pid = args.get(4).cloned();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(concurrency * 2)
        .build()
        .map_err(|e| e.to_string())?;
    let api = LoadApi::new(http.clone(), &endpoint);
    let setup = Arc::new(setup(&api, &endpoint, 50).await?);
    // Warm-up: keys cached, connections open.
    client_credentials(&http, &setup).await?;
    authorization_code(&http, &setup, &setup.users[0]).await?;

    let (h, s) = (http.clone(), setup.clone());
    measure(
        "oauth_client_credentials",
        seconds,
        concurrency,
        server_pid.as_deref(),
        move |_| {
            let (h, s) = (h.clone(), s.clone());
            async move { client_credentials(&h, &s).await }
        },
    )
    .await?;
    let (h, s) = (http.clone(), setup.clone());
    measure(
        "oauth_authorization_code",
        seconds,
        (concurrency / 2).max(1),
        server_pid.as_deref(),
        move |i| {
            let (h, s) = (h.clone(), s.clone());
            async move {
                let user = &s.users[i as usize % s.users.len()];
                authorization_code(&h, &s, user).await
            }
        },
    )
    .await
}
