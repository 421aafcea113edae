//! USER_SRP_AUTH and the remembered-device SRP (DEVICE_SRP_AUTH /
//! DEVICE_PASSWORD_VERIFIER): Cognito's SRP exchange, with the key sealed in SECRET_BLOCK.

use super::*;

/// How far a client's SRP TIMESTAMP may be from our clock.
pub(super) const SRP_CLOCK_SKEW_SECONDS: i64 = 15 * 60;

/// SRP is on for clients created without ExplicitAuthFlows (Cognito's default set is
/// SRP, refresh and custom), for ALLOW_USER_SRP_AUTH, and for legacy flow lists unless
/// they say CUSTOM_AUTH_FLOW_ONLY.
pub(super) fn srp_allowed(client: &ClientRow) -> bool {
    match client.config["ExplicitAuthFlows"].as_array() {
        None => true,
        Some(flows) => {
            let names: Vec<&str> = flows.iter().filter_map(|f| f.as_str()).collect();
            names.contains(&"ALLOW_USER_SRP_AUTH")
                || (!names.iter().any(|f| f.starts_with("ALLOW_"))
                    && !names.contains(&"CUSTOM_AUTH_FLOW_ONLY"))
        }
    }
}

/// What SECRET_BLOCK carries, sealed with the master key: who the exchange is for and
/// the key K the server already derived, so PASSWORD_VERIFIER needs no stored state
/// (pycognito answers without the Session) and any node can check it.
#[derive(Serialize, Deserialize)]
pub struct SrpBlock {
    pub p: String,
    pub c: String,
    pub u: String,
    /// K, hex. A decoy exchange (unknown user) carries the K of a random verifier that
    /// no password matches.
    pub k: String,
    pub exp: i64,
    /// The device key of a DEVICE_SRP_AUTH exchange.
    #[serde(default)]
    pub dk: Option<String>,
    /// The challenge history of a CUSTOM_AUTH that began with SRP_A: PASSWORD_VERIFIER
    /// then goes back to DefineAuthChallenge instead of MFA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Value>,
}

pub fn seal_block(ctx: &Ctx, block: &SrpBlock) -> String {
    ctx.state.master.encrypt(
        serde_json::to_string(block).expect("serializes").as_bytes(),
        b"srp-secret-block",
    )
}

/// Runs the server's side of SRP for a verifier: returns (SRP_B hex, K).
pub fn srp_exchange(srp_a_hex: &str, verifier: &[u8]) -> ApiResult<(String, [u8; 16])> {
    let a = hex::decode(if srp_a_hex.len() % 2 == 1 {
        format!("0{srp_a_hex}")
    } else {
        srp_a_hex.to_string()
    })
    .map_err(|_| WireError::invalid_parameter("SRP_A is not a hexadecimal number."))?;
    let eph = srp::server_ephemeral(verifier)
        .map_err(|_| WireError::idp(E::InternalErrorException, "stored SRP verifier"))?;
    let key = srp::server_session_key(&a, &eph.big_b, &eph.b, verifier).map_err(|e| match e {
        srp::SrpError::InvalidA | srp::SrpError::Malformed => {
            WireError::invalid_parameter("SRP_A is not a valid SRP value.")
        }
        srp::SrpError::InvalidU => incorrect(),
    })?;
    Ok((hex::encode(&eph.big_b), key))
}

/// Opens a PASSWORD_CLAIM_SECRET_BLOCK, checks its signature and timestamp, and spends
/// it. `realm`/`username` are what the client signed with: the pool name and
/// USER_ID_FOR_SRP, or the device group key and device key.
pub async fn check_password_claim(
    ctx: &Ctx,
    responses: &BTreeMap<String, String>,
    expect_realm: impl FnOnce(&SrpBlock) -> ApiResult<(String, String)>,
) -> ApiResult<SrpBlock> {
    let block_text = responses
        .get("PASSWORD_CLAIM_SECRET_BLOCK")
        .ok_or_else(|| missing("PASSWORD_CLAIM_SECRET_BLOCK"))?;
    let signature = responses
        .get("PASSWORD_CLAIM_SIGNATURE")
        .ok_or_else(|| missing("PASSWORD_CLAIM_SIGNATURE"))?;
    let timestamp = responses
        .get("TIMESTAMP")
        .ok_or_else(|| missing("TIMESTAMP"))?;
    let block: SrpBlock = ctx
        .state
        .master
        .decrypt(block_text, b"srp-secret-block")
        .ok()
        .and_then(|plain| serde_json::from_slice(&plain).ok())
        .ok_or_else(incorrect)?;
    if block.exp < ctx.now {
        return Err(session_expired());
    }
    let ts = srp::parse_timestamp(timestamp).ok_or_else(|| {
        WireError::invalid_parameter("TIMESTAMP is not in the format EEE MMM d HH:mm:ss UTC yyyy.")
    })?;
    if (ts - ctx.now_s()).abs() > SRP_CLOCK_SKEW_SECONDS {
        return Err(WireError::idp(
            E::NotAuthorizedException,
            "TIMESTAMP is too far from the server's time.",
        ));
    }
    let (realm, username) = expect_realm(&block)?;
    let key: [u8; 16] = hex::decode(&block.k)
        .ok()
        .and_then(|k| k.try_into().ok())
        .unwrap_or([0; 16]);
    let block_bytes = idpool_core::crypto::b64_decode(block_text).ok_or_else(incorrect)?;
    let expected = srp::claim_signature(&key, &realm, &username, &block_bytes, timestamp);
    let given = idpool_core::crypto::b64_decode(signature).unwrap_or_default();
    let valid = !block.k.is_empty() && crypto::constant_time_eq(&expected, &given);
    // One exchange, one answer: a captured block cannot be replayed, right or wrong.
    let first = ctx
        .state
        .store
        .consume_once(
            &format!("srp:{}", sha256_hex(block_text.as_bytes())),
            block.exp,
            ctx.now,
        )
        .await
        .wire()?;
    if !first {
        return Err(session_used());
    }
    if !valid {
        return Err(incorrect());
    }
    Ok(block)
}

pub(super) async fn srp_start(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    params: &BTreeMap<String, String>,
) -> ApiResult<Outcome> {
    if !srp_allowed(client) {
        return Err(WireError::invalid_parameter(
            "USER_SRP_AUTH is not enabled for this client.",
        ));
    }
    let username = params.get("USERNAME").ok_or_else(|| missing("USERNAME"))?;
    let srp_a = params.get("SRP_A").ok_or_else(|| missing("SRP_A"))?;
    check_secret_hash(
        ctx,
        client,
        username,
        params.get("SECRET_HASH").map(String::as_str),
    )?;
    let user = sign_in_user(ctx, pool, client, username, None).await?;
    if let Some(u) = &user {
        refuse_reset_required(u)?;
    }
    password_verifier_challenge(ctx, pool, client, username, user.as_ref(), srp_a, None)
}

/// SRP's first round trip: SRP_B, SALT and the sealed SECRET_BLOCK for `user`, or a
/// decoy for an unknown one.
pub(super) fn password_verifier_challenge(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    username: &str,
    user: Option<&UserRow>,
    srp_a: &str,
    custom: Option<Value>,
) -> ApiResult<Outcome> {
    let exp = ctx.now + 5 * 60 * 1000;
    let record = user.and_then(password_record);
    let (salt, srp_b, key, srp_id, user_name, username_key) = match (user, &record) {
        (Some(user), Some(record)) => {
            let v = record.verifier_bytes(&ctx.state.master).wire()?;
            let (b, k) = srp_exchange(srp_a, &v)?;
            (
                record.salt.clone(),
                b,
                hex::encode(k),
                record.srp_username.clone(),
                user.username.clone(),
                user.username_key.clone(),
            )
        }
        _ => {
            // Unknown user (PreventUserExistenceErrors) or no password: a decoy exchange
            // that looks like a real one and can never succeed. The salt is stable per
            // name so probing twice shows nothing either.
            // Keyed, or anyone could compute the decoy and tell it from a real salt.
            let mut salt = ctx
                .state
                .master
                .keyed_hash(format!("{}\n{username}", pool.id).as_bytes());
            salt.truncate(16);
            if salt[0] == 0 {
                salt[0] = 1; // as real salts never start with a zero byte
            }
            let salt = hex::encode(salt);
            let decoy = srp::verifier(&crypto::random_bytes(32).try_into().expect("32"));
            // K is the decoy's own, never derivable by the client: no answer matches.
            let (b, k) = srp_exchange(srp_a, &decoy)?;
            (
                salt,
                b,
                hex::encode(k),
                username.to_string(),
                username.to_string(),
                username_key(pool, username),
            )
        }
    };
    let block = seal_block(
        ctx,
        &SrpBlock {
            p: pool.id.clone(),
            c: client.client_id.clone(),
            u: username_key,
            k: key,
            exp,
            dk: None,
            custom,
        },
    );
    let out = BTreeMap::from([
        ("SALT".to_string(), salt),
        ("SECRET_BLOCK".to_string(), block),
        ("SRP_B".to_string(), srp_b),
        ("USERNAME".to_string(), user_name),
        ("USER_ID_FOR_SRP".to_string(), srp_id),
    ]);
    let session = match user {
        Some(u) => new_session(ctx, client, u, "PASSWORD_VERIFIER", json!({})),
        // Sealed like a real session (same fields, so about the same length), but for
        // no user: answering with it can only fail.
        None => ctx.state.master.encrypt(
            json!({"id": idpool_core::ids::uuid(), "p": pool.id, "c": client.client_id,
                   "u": "", "ch": "PASSWORD_VERIFIER", "d": {}, "exp": exp})
            .to_string()
            .as_bytes(),
            b"challenge-session",
        ),
    };
    Ok(Outcome::challenge("PASSWORD_VERIFIER", out, session))
}

pub(super) async fn srp_verify(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    responses: &BTreeMap<String, String>,
) -> ApiResult<Outcome> {
    let given_name = responses
        .get("USERNAME")
        .ok_or_else(|| missing("USERNAME"))?;
    let block = check_password_claim(ctx, responses, |b| {
        if b.p != pool.id || b.c != client.client_id {
            return Err(incorrect());
        }
        Ok((srp::pool_name(&pool.id).to_string(), given_name.clone()))
    })
    .await;
    // A wrong signature is a wrong password: it counts towards the lockout.
    let block = match block {
        Ok(b) => b,
        Err(e) => {
            if e.message == incorrect().message
                && let Some(mut user) = find_user(ctx, pool, given_name).await?
            {
                record_failure(ctx, pool, &mut user, "Password").await?;
            }
            return Err(e);
        }
    };
    let user = ctx
        .state
        .store
        .get_user(&pool.id, &block.u)
        .await
        .wire()?
        .ok_or_else(incorrect)?;
    ensure_can_sign_in(ctx, &user)?;
    let record = password_record(&user).ok_or_else(incorrect)?;
    if *given_name != record.srp_username {
        return Err(incorrect());
    }
    check_secret_hash_any(ctx, client, &user, responses)?;
    let device_key = responses.get("DEVICE_KEY").map(String::as_str);
    if let Some(history) = block.custom {
        return super::custom::after_custom_password(
            ctx,
            pool,
            client,
            user,
            history,
            device_key.map(String::from),
        )
        .await;
    }
    after_password(ctx, pool, client, user, &record, None, device_key).await
}

pub(super) async fn device_srp_auth(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    responses: &BTreeMap<String, String>,
    session: Option<&str>,
) -> ApiResult<Outcome> {
    let (s, user) =
        continue_session(ctx, pool, client, "DEVICE_SRP_AUTH", session, responses).await?;
    let device_key = session_device(&s, responses).ok_or_else(|| missing("DEVICE_KEY"))?;
    let srp_a = responses.get("SRP_A").ok_or_else(|| missing("SRP_A"))?;
    let device = devices::confirmed_device(ctx, &user, &device_key)
        .await?
        .ok_or_else(|| WireError::idp(E::ResourceNotFoundException, "Device does not exist."))?;
    let verifier = devices::verifier_bytes(ctx, &device)?;
    let (srp_b, key) = srp_exchange(srp_a, &verifier)?;
    spend(ctx, &s).await?;
    let block = seal_block(
        ctx,
        &SrpBlock {
            p: pool.id.clone(),
            c: client.client_id.clone(),
            u: user.username_key.clone(),
            k: hex::encode(key),
            exp: ctx.now + 5 * 60 * 1000,
            dk: Some(device_key.clone()),
            custom: None,
        },
    );
    let params = BTreeMap::from([
        ("DEVICE_KEY".to_string(), device_key.clone()),
        ("SALT".to_string(), devices::salt_hex(&device)?),
        ("SECRET_BLOCK".to_string(), block),
        ("SRP_B".to_string(), srp_b),
        ("USERNAME".to_string(), user.username.clone()),
    ]);
    let session = new_session(
        ctx,
        client,
        &user,
        "DEVICE_PASSWORD_VERIFIER",
        json!({"dk": device_key}),
    );
    Ok(Outcome::challenge(
        "DEVICE_PASSWORD_VERIFIER",
        params,
        session,
    ))
}

pub(super) async fn device_password_verifier(
    ctx: &Ctx,
    pool: &PoolRow,
    client: &ClientRow,
    responses: &BTreeMap<String, String>,
    session: Option<&str>,
) -> ApiResult<Outcome> {
    let (s, mut user) = continue_session(
        ctx,
        pool,
        client,
        "DEVICE_PASSWORD_VERIFIER",
        session,
        responses,
    )
    .await?;
    let device_key = s.data["dk"].as_str().unwrap_or_default().to_string();
    let device = devices::confirmed_device(ctx, &user, &device_key)
        .await?
        .ok_or_else(|| WireError::idp(E::ResourceNotFoundException, "Device does not exist."))?;
    let checked = check_password_claim(ctx, responses, |b| {
        if b.p != pool.id
            || b.c != client.client_id
            || b.u != user.username_key
            || b.dk.as_deref() != Some(device_key.as_str())
        {
            return Err(incorrect());
        }
        Ok((device.group_key.clone(), device_key.clone()))
    })
    .await;
    if let Err(e) = checked {
        if e.message == incorrect().message {
            record_failure(ctx, pool, &mut user, "Password").await?;
        }
        return Err(e);
    }
    spend(ctx, &s).await?;
    finish(ctx, pool, client, user, Some(&device_key)).await
}
