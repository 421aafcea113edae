//! ListUsers on a large pool: seeds USERS users straight into the store the server
//! uses (the API would take most of an hour for a million), then measures ListUsers
//! with prefix (`^=`) and exact (`=`) filters through the API, following pagination
//! tokens as clients do.
//!
//!   list_users_load ENDPOINT DATABASE_URL [USERS] [SECONDS] [CONCURRENCY]
//!
//! DATABASE_URL is the server's own (`sqlite://.../idpool.db` or `postgres://...`).
//! Seeding is skipped when the pool `list-users-bench` already holds USERS users,
//! so a kept database can be measured again. Prints one JSON line per filter kind.

use idpool_store::{Store, UserRow};
use idpool_testkit::LoadApi;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const POOL_NAME: &str = "list-users-bench";

/// The filter of the i-th call of a workload.
type FilterFor = fn(u64) -> String;

/// User i: username `u{i:07}`, email `user{i:07}@example.com`, given name from a
/// small set, so prefixes of every selectivity exist.
fn user(pool_id: &str, i: usize) -> UserRow {
    let mut attributes = serde_json::Map::new();
    attributes.insert("email".into(), json!(format!("user{i:07}@example.com")));
    attributes.insert("email_verified".into(), json!("true"));
    attributes.insert(
        "given_name".into(),
        json!(["Ann", "Bob", "Carol", "Dan", "Eve"][i % 5]),
    );
    let username = format!("u{i:07}");
    UserRow {
        pool_id: pool_id.into(),
        username_key: username.clone(),
        username,
        sub: uuid::Uuid::new_v4().to_string(),
        status: "CONFIRMED".into(),
        enabled: true,
        attributes,
        password: None,
        extra: serde_json::Map::new(),
        tokens_valid_after: 0,
        created_at: 0,
        updated_at: 0,
    }
}

async fn open_store(url: &str) -> Result<Arc<dyn Store>, String> {
    Ok(if url.starts_with("postgres") {
        Arc::new(
            idpool_store_postgres::PgStore::connect(url)
                .await
                .map_err(|e| e.to_string())?,
        )
    } else {
        Arc::new(
            idpool_store_sqlite::SqliteStore::connect(url)
                .await
                .map_err(|e| e.to_string())?,
        )
    })
}

async fn seed(store: Arc<dyn Store>, pool_id: &str, users: usize) -> Result<f64, String> {
    let have = store
        .count_users(pool_id)
        .await
        .map_err(|e| e.to_string())? as usize;
    if have >= users {
        return Ok(0.0);
    }
    // Batches of 1,000 per transaction, as a bulk import does; four at a time on
    // PostgreSQL, one on SQLite, whose writers take turns anyway.
    let writers = if store.backend_name() == "sqlite" {
        1
    } else {
        4
    };
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(have as u64));
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (store, next, pool_id) = (store.clone(), next.clone(), pool_id.to_string());
        tasks.push(tokio::spawn(async move {
            loop {
                let from = next.fetch_add(1000, Ordering::Relaxed) as usize;
                if from >= users {
                    return Ok::<(), String>(());
                }
                let batch: Vec<UserRow> = (from..(from + 1000).min(users))
                    .map(|i| user(&pool_id, i))
                    .collect();
                store
                    .create_users(&batch)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(started.elapsed().as_secs_f64())
}

struct Run {
    latencies: Vec<Duration>,
    pages: u64,
    errors: u64,
}

/// Sends ListUsers calls with `filter(i)` for `seconds`; every fourth call follows the
/// previous page's token, as a client paging through results would.
async fn measure(
    api: Arc<LoadApi>,
    pool_id: String,
    seconds: u64,
    concurrency: usize,
    filter: FilterFor,
) -> Result<Run, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (api, pool_id, stop, counter) =
            (api.clone(), pool_id.clone(), stop.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut run = Run {
                latencies: Vec::new(),
                pages: 0,
                errors: 0,
            };
            let mut token: Option<String> = None;
            let mut f = String::new();
            while !stop.load(Ordering::Relaxed) {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                if token.is_none() || i % 4 == 0 {
                    f = filter(i);
                    token = None;
                }
                let mut body = json!({"UserPoolId": pool_id, "Filter": f, "Limit": 60});
                if let Some(t) = &token {
                    body["PaginationToken"] = json!(t);
                }
                let t = Instant::now();
                match api.call("ListUsers", body).await {
                    Ok(v) => {
                        run.latencies.push(t.elapsed());
                        run.pages += 1;
                        token = v["PaginationToken"].as_str().map(str::to_string);
                    }
                    Err(e) => {
                        if run.errors < 3 {
                            eprintln!("list_users_load: {e}");
                        }
                        run.errors += 1;
                        token = None;
                    }
                }
            }
            run
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Run {
        latencies: Vec::new(),
        pages: 0,
        errors: 0,
    };
    for t in tasks {
        let r = t.await.map_err(|e| e.to_string())?;
        all.latencies.extend(r.latencies);
        all.pages += r.pages;
        all.errors += r.errors;
    }
    all.latencies.sort();
    Ok(all)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: list_users_load ENDPOINT DATABASE_URL [USERS] [SECONDS] [CONCURRENCY]";
    let api = Arc::new(LoadApi::new(
        reqwest::Client::new(),
        args.get(1).ok_or(usage)?,
    ));
    let db_url = args.get(2).ok_or(usage)?.clone();
    let users: usize = args
        .get(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let seconds: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(20);
    let concurrency: usize = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(4);
    let store = open_store(&db_url).await?;

    let mut after: Option<String> = None;
    let mut pool_id = None;
    'find: loop {
        let page = store
            .list_pools(after.as_deref(), 60)
            .await
            .map_err(|e| e.to_string())?;
        for p in &page {
            if p.name == POOL_NAME {
                pool_id = Some(p.id.clone());
                break 'find;
            }
        }
        match page.last() {
            Some(p) => after = Some(p.id.clone()),
            None => break,
        }
    }
    let pool_id = match pool_id {
        Some(id) => id,
        None => api
            .call("CreateUserPool", json!({"PoolName": POOL_NAME}))
            .await?["UserPool"]["Id"]
            .as_str()
            .ok_or("no pool id")?
            .to_string(),
    };
    let seed_secs = seed(store.clone(), &pool_id, users).await?;
    eprintln!("list_users_load: {users} users in {pool_id} (seeded in {seed_secs:.1} s)");

    // Prefixes matching about 1,000 users (user0123...), 10 users, and one; exact
    // matches on email and on a given name shared by a fifth of the pool.
    let kinds: [(&str, FilterFor); 4] = [
        ("email_prefix_1000", |i| {
            format!("email ^= \"user{:04}\"", (i * 7919) % 1000)
        }),
        ("email_prefix_10", |i| {
            format!("email ^= \"user{:06}\"", (i * 7919) % 100_000)
        }),
        ("email_exact", |i| {
            format!("email = \"user{:07}@example.com\"", (i * 7919) % 1_000_000)
        }),
        ("given_name_exact_20pct", |i| {
            format!(
                "given_name = \"{}\"",
                ["Ann", "Bob", "Carol", "Dan", "Eve"][i as usize % 5]
            )
        }),
    ];
    for (name, filter) in kinds {
        let run = measure(api.clone(), pool_id.clone(), seconds, concurrency, filter).await?;
        println!(
            "{}",
            json!({
                "workload": format!("list_users_{name}"),
                "users": users,
                "calls": run.latencies.len(),
                "rps": run.latencies.len() as f64 / seconds as f64,
                "p50_ms": pct(&run.latencies, 0.50),
                "p99_ms": pct(&run.latencies, 0.99),
                "pages": run.pages,
                "errors": run.errors,
                "seed_seconds": seed_secs,
            })
        );
    }
    Ok(())
}
