//! Load generator for access decisions of a `--dev` server: `POST /_idpool/authorize`
//! with temporary credentials from an identity pool, as a team's own service asks
//! idpool whether a caller may act on a resource. The role is the seed documents'
//! photo-app role (an inline policy with `${cognito-identity.amazonaws.com:sub}` and an
//! attached managed policy), so each decision evaluates two documents with a policy
//! variable and a condition.
//!
//!   access_load ENDPOINT [SECONDS] [CONCURRENCY] [SERVER_PID]
//!
//! Prints one JSON line (`access_authorize`) like oauth_load's. Half of the requests
//! are for the identity's own photos (Allow), half for another identity's (ImplicitDeny);
//! a wrong decision counts as an error.

use idpool_testkit::{LoadApi, measure};
use serde_json::{Value, json};
use std::sync::Arc;

const IDENTITY: &str = "AWSCognitoIdentityService";

struct Setup {
    url: String,
    identity_id: String,
    credentials: Value,
}

async fn setup(api: &LoadApi, endpoint: &str) -> Result<Setup, String> {
    let pool = api
        .call_service(
            IDENTITY,
            "CreateIdentityPool",
            json!({"IdentityPoolName": "access_bench", "AllowUnauthenticatedIdentities": true}),
        )
        .await?;
    let pool_id = pool["IdentityPoolId"].as_str().ok_or("no pool id")?;
    let trust = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id}}
    }]});
    let role_name = format!("access-bench-{}", std::process::id());
    let created = api
        .query(
            "CreateRole",
            &[
                ("RoleName", &role_name),
                ("AssumeRolePolicyDocument", &trust.to_string()),
            ],
        )
        .await?;
    let role_arn = between(&created, "<Arn>", "</Arn>").ok_or("no role ARN")?;
    let photos = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": "arn:aws:s3:::mybucket/${cognito-identity.amazonaws.com:sub}/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::mybucket",
         "Condition": {"StringLike": {"s3:prefix": "${cognito-identity.amazonaws.com:sub}/*"}}}
    ]});
    api.query(
        "PutRolePolicy",
        &[
            ("RoleName", &role_name),
            ("PolicyName", "photos"),
            ("PolicyDocument", &photos.to_string()),
        ],
    )
    .await?;
    let assets = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mybucket/assets/*"},
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}
    ]});
    let policy = api
        .query(
            "CreatePolicy",
            &[
                ("PolicyName", &format!("{role_name}-assets")),
                ("PolicyDocument", &assets.to_string()),
            ],
        )
        .await?;
    let policy_arn = between(&policy, "<Arn>", "</Arn>").ok_or("no policy ARN")?;
    api.query(
        "AttachRolePolicy",
        &[("RoleName", &role_name), ("PolicyArn", &policy_arn)],
    )
    .await?;
    api.call_service(
        IDENTITY,
        "SetIdentityPoolRoles",
        json!({"IdentityPoolId": pool_id, "Roles": {"unauthenticated": role_arn}}),
    )
    .await?;
    let identity = api
        .call_service(IDENTITY, "GetId", json!({"IdentityPoolId": pool_id}))
        .await?;
    let identity_id = identity["IdentityId"]
        .as_str()
        .ok_or("no identity id")?
        .to_string();
    let creds = api
        .call_service(
            IDENTITY,
            "GetCredentialsForIdentity",
            json!({"IdentityId": identity_id}),
        )
        .await?;
    let c = &creds["Credentials"];
    Ok(Setup {
        url: format!("{}/_idpool/authorize", endpoint.trim_end_matches('/')),
        identity_id,
        credentials: json!({
            "AccessKeyId": c["AccessKeyId"],
            "SecretAccessKey": c["SecretKey"],
            "SessionToken": c["SessionToken"],
        }),
    })
}

fn between(text: &str, open: &str, close: &str) -> Option<String> {
    let start = text.find(open)? + open.len();
    let end = start + text[start..].find(close)?;
    Some(text[start..end].to_string())
}

/// One decision; `own` picks the identity's own photo (Allow) or another's (ImplicitDeny).
async fn decide(http: &reqwest::Client, s: &Setup, own: bool) -> Result<(), String> {
    let owner = if own {
        s.identity_id.as_str()
    } else {
        "us-east-1:00000000-0000-0000-0000-000000000000"
    };
    let res = http
        .post(&s.url)
        .header("content-type", "application/json")
        .body(
            json!({
                "Action": "s3:GetObject",
                "Resource": format!("arn:aws:s3:::mybucket/{owner}/photo.jpg"),
                "Credentials": s.credentials,
            })
            .to_string(),
        )
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status();
    let body: Value = res.json().await.map_err(|e| e.to_string())?;
    let expected = if own { "Allow" } else { "ImplicitDeny" };
    if status.is_success() && body["Decision"] == expected {
        Ok(())
    } else {
        Err(format!("authorize: {status} {body} (expected {expected})"))
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args
        .get(1)
        .ok_or("usage: access_load ENDPOINT [SECONDS] [CONCURRENCY] [SERVER_PID]")?
        .clone();
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let concurrency: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(32);
    let server_pid = args.get(4).cloned();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .build()
        .map_err(|e| e.to_string())?;
    let api = LoadApi::new(http.clone(), &endpoint);
    let setup = Arc::new(setup(&api, &endpoint).await?);
    // The decisions are checked before they are timed.
    decide(&http, &setup, true).await?;
    decide(&http, &setup, false).await?;
    let (h, s) = (http.clone(), setup.clone());
    measure(
        "access_authorize",
        seconds,
        concurrency,
        server_pid.as_deref(),
        move |i| {
            let (h, s) = (h.clone(), s.clone());
            async move { decide(&h, &s, i % 2 == 0).await }
        },
    )
    .await
}
