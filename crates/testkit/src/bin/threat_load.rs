//! Load generator for what threat protection costs a sign-in: ADMIN_USER_PASSWORD_AUTH
//! on a pool with `AdvancedSecurityMode` OFF, then on one with ENFORCED (risk levels
//! scored from each user's event history, breached-password check, events recorded),
//! against a `--dev` server.
//!
//!   threat_load ENDPOINT [SECONDS] [CONCURRENCY] [USERS] [SERVER_PID]
//!
//! Prints one JSON line per pool (`signin_threat_off`, `signin_threat_enforced`) like
//! access_load's. The enforced pool's actions are NO_ACTION at every level, so every
//! sign-in is scored and recorded and still ends in tokens; the reported address cycles
//! through four networks so the users' histories hold familiar and new places.

use idpool_testkit::{LoadApi, measure};
use serde_json::{Value, json};
use std::sync::Arc;

const PASSWORD: &str = "Bench-Threat-Passw0rd1";
const ADDRESSES: [&str; 4] = ["203.0.113.7", "203.0.113.99", "198.51.100.20", "192.0.2.44"];

struct Pool {
    id: String,
    client_id: String,
    users: usize,
}

async fn create_pool(api: &LoadApi, name: &str, mode: &str, users: usize) -> Result<Pool, String> {
    let (id, client_id) = api
        .create_pool_and_client(
            json!({"PoolName": name, "UserPoolAddOns": {"AdvancedSecurityMode": mode}}),
            &["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )
        .await?;
    if mode != "OFF" {
        let no_action = json!({"Notify": false, "EventAction": "NO_ACTION"});
        api.call(
            "SetRiskConfiguration",
            json!({
                "UserPoolId": id,
                "AccountTakeoverRiskConfiguration": {"Actions": {
                    "LowAction": no_action, "MediumAction": no_action, "HighAction": no_action}},
                "CompromisedCredentialsRiskConfiguration": {"Actions": {"EventAction": "NO_ACTION"}},
            }),
        )
        .await?;
    }
    for i in 0..users {
        let username = format!("user{i}");
        api.call(
            "AdminCreateUser",
            json!({"UserPoolId": id, "Username": username, "MessageAction": "SUPPRESS",
                   "UserAttributes": [{"Name": "email", "Value": format!("{username}@example.com")}]}),
        )
        .await?;
        api.call(
            "AdminSetUserPassword",
            json!({"UserPoolId": id, "Username": username, "Password": PASSWORD, "Permanent": true}),
        )
        .await?;
    }
    Ok(Pool {
        id,
        client_id,
        users,
    })
}

/// One sign-in of user `i % users` from one of the four addresses.
async fn sign_in(api: &LoadApi, pool: &Pool, i: u64) -> Result<(), String> {
    let user = (i as usize) % pool.users;
    let ip = ADDRESSES[(i as usize / pool.users) % ADDRESSES.len()];
    let out: Value = api
        .call(
            "AdminInitiateAuth",
            json!({
                "UserPoolId": pool.id,
                "ClientId": pool.client_id,
                "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
                "AuthParameters": {"USERNAME": format!("user{user}"), "PASSWORD": PASSWORD},
                "ContextData": {"IpAddress": ip, "ServerName": "bench", "ServerPath": "/", "HttpHeaders": []},
            }),
        )
        .await?;
    if out["AuthenticationResult"]["AccessToken"].is_string() {
        Ok(())
    } else {
        Err(format!("sign-in without tokens: {out}"))
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args
        .get(1)
        .ok_or("usage: threat_load ENDPOINT [SECONDS] [CONCURRENCY] [USERS] [SERVER_PID]")?
        .clone();
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let concurrency: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(16);
    let users: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(200);
    let server_pid = args.get(5).cloned();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .build()
        .map_err(|e| e.to_string())?;
    let api = Arc::new(LoadApi::new(http, &endpoint));
    for (name, mode) in [
        ("signin_threat_off", "OFF"),
        ("signin_threat_enforced", "ENFORCED"),
    ] {
        let pool = Arc::new(create_pool(&api, name, mode, users).await?);
        // Checked before it is timed.
        sign_in(&api, &pool, 0).await?;
        if mode != "OFF" {
            let events = api
                .call(
                    "AdminListUserAuthEvents",
                    json!({"UserPoolId": pool.id, "Username": "user0"}),
                )
                .await?;
            if events["AuthEvents"][0]["EventRisk"]["RiskDecision"] != "NoRisk" {
                return Err(format!("no scored event after a sign-in: {events}"));
            }
        }
        let (a, p) = (api.clone(), pool.clone());
        measure(
            name,
            seconds,
            concurrency,
            server_pid.as_deref(),
            move |i| {
                let (a, p) = (a.clone(), p.clone());
                async move { sign_in(&a, &p, i).await }
            },
        )
        .await?;
    }
    Ok(())
}
