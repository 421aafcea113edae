//! Load generator for USER_SRP_AUTH: both round trips (InitiateAuth, then
//! RespondToAuthChallenge PASSWORD_VERIFIER) per sign-in, as amazon-cognito-identity-js
//! does them, against a `--dev` server.
//!
//!   srp_load ENDPOINT [SECONDS] [CONCURRENCY] [USERS] [SERVER_PID]
//!
//! Prints one JSON line: sign-ins/s, p50/p99 latency of a whole sign-in, errors, and,
//! with SERVER_PID, the server's CPU milliseconds per sign-in (from /proc), which says
//! what the server could do on the whole machine without this client beside it.
//!
//! The client's own math is kept cheap (one modexp per sign-in: each worker reuses its
//! ephemeral `a`, and k*g^x is computed once per user) so that most of the two cores go
//! to the server. Reusing `a` is fine for a load generator, never for a real client.

use idpool_core::auth::srp::{self, client};
use idpool_core::crypto;
use idpool_testkit::{LoadApi, cpu_ms, quantile_ms};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const PASSWORD: &str = "Bench-Passw0rd!";

fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    srp::format_timestamp(secs)
}

struct Worker {
    eph: client::ClientEphemeral,
    secrets: HashMap<(String, String), client::ClientSecret>,
}

async fn sign_in(
    api: &LoadApi,
    w: &mut Worker,
    pool_id: &str,
    client_id: &str,
    username: &str,
) -> Result<(), String> {
    let a_hex = hex::encode(&w.eph.big_a);
    let first = api
        .call(
            "InitiateAuth",
            json!({"AuthFlow": "USER_SRP_AUTH", "ClientId": client_id,
                   "AuthParameters": {"USERNAME": username, "SRP_A": a_hex}}),
        )
        .await?;
    let p = &first["ChallengeParameters"];
    let get = |k: &str| p[k].as_str().map(String::from).ok_or(format!("no {k}"));
    let (salt, srp_b, block, user_id) = (
        get("SALT")?,
        get("SRP_B")?,
        get("SECRET_BLOCK")?,
        get("USER_ID_FOR_SRP")?,
    );
    let secret = w
        .secrets
        .entry((user_id.clone(), salt.clone()))
        .or_insert_with(|| {
            let salt = hex::decode(&salt).expect("hex salt");
            client::ClientSecret::new(srp::private_key_x(pool_id, &user_id, PASSWORD, &salt))
        });
    let big_b = hex::decode(if srp_b.len() % 2 == 1 {
        format!("0{srp_b}")
    } else {
        srp_b
    })
    .map_err(|e| e.to_string())?;
    let key = client::session_key(&w.eph, &big_b, secret);
    let ts = timestamp();
    let block_bytes = crypto::b64_decode(&block).ok_or("block is not base64")?;
    let sig = srp::claim_signature(&key, srp::pool_name(pool_id), &user_id, &block_bytes, &ts);
    let done = api
        .call(
            "RespondToAuthChallenge",
            json!({"ChallengeName": "PASSWORD_VERIFIER", "ClientId": client_id,
                   "Session": first["Session"],
                   "ChallengeResponses": {"USERNAME": user_id, "PASSWORD_CLAIM_SECRET_BLOCK": block,
                       "PASSWORD_CLAIM_SIGNATURE": crypto::b64(&sig), "TIMESTAMP": ts}}),
        )
        .await?;
    if done["AuthenticationResult"]["AccessToken"].is_string() {
        Ok(())
    } else {
        Err(format!("no tokens: {done}"))
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args
        .get(1)
        .ok_or("usage: srp_load ENDPOINT [SECONDS] [CONCURRENCY] [USERS] [SERVER_PID]")?;
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
    let concurrency: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(16);
    let users: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(200);
    let server_pid = args.get(5).cloned();
    let api = Arc::new(LoadApi::new(
        reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency * 2)
            .build()
            .map_err(|e| e.to_string())?,
        endpoint,
    ));
    let (pool_id, client_id) = api
        .create_pool_and_client(
            json!({"PoolName": "srp-bench"}),
            &["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )
        .await?;
    let names: Vec<String> = (0..users).map(|i| format!("srp-user-{i}")).collect();
    for name in &names {
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
    }
    // Warm-up: every user once, so the per-user client secrets are cached.
    let mut warm = Worker {
        eph: client::ephemeral(),
        secrets: HashMap::new(),
    };
    for name in &names {
        sign_in(&api, &mut warm, &pool_id, &client_id, name).await?;
    }
    let names = Arc::new(names);
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let cpu_before = server_pid.as_deref().and_then(cpu_ms);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (api, names, stop, next, errors) = (
            api.clone(),
            names.clone(),
            stop.clone(),
            next.clone(),
            errors.clone(),
        );
        let (pool_id, client_id) = (pool_id.clone(), client_id.clone());
        let mut w = Worker {
            eph: client::ephemeral(),
            secrets: warm
                .secrets
                .keys()
                .map(|k| {
                    let salt = hex::decode(&k.1).expect("hex");
                    (
                        k.clone(),
                        client::ClientSecret::new(srp::private_key_x(
                            &pool_id, &k.0, PASSWORD, &salt,
                        )),
                    )
                })
                .collect(),
        };
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize % names.len();
                let t = Instant::now();
                match sign_in(&api, &mut w, &pool_id, &client_id, &names[i]).await {
                    Ok(()) => latencies.push(t.elapsed()),
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("srp_load: {e}");
                        }
                    }
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = server_pid.as_deref().and_then(cpu_ms);
    all.sort();
    let pct = |p: f64| quantile_ms(&all, p);
    let n = all.len() as f64;
    let cpu_per = match (cpu_before, cpu_after) {
        (Some(b), Some(a)) if n > 0.0 => Some((a - b) / n),
        _ => None,
    };
    println!(
        "{}",
        json!({
            "workload": "srp_sign_in",
            "sign_ins": all.len(),
            "rps": n / elapsed,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "errors": errors.load(Ordering::Relaxed),
            "concurrency": concurrency,
            "server_cpu_ms_per_sign_in": cpu_per,
            "server_capacity_rps_2_cores": cpu_per.map(|c| 2000.0 / c),
        })
    );
    Ok(())
}
