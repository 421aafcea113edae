//! Temporary credentials: what GetCredentialsForIdentity and AssumeRoleWithWebIdentity
//! hand out, and how a signed request proves it holds them.
//!
//! The session token IS the session: the grant (role, identity, the web identity's
//! claims, session policy, expiry) sealed with the master key. Any node holding the
//! master key can check a request signed with the credentials, with no shared cache
//! and no database read. The secret key is never in the token, not even sealed: it is
//! a keyed hash of the access key id, so a leaked token without its secret cannot sign.

use crate::state::SharedState;
use idpool_core::crypto::{b64, constant_time_eq};
use idpool_core::ids;
use idpool_wire::query::{QueryError, QueryErrorCode as Q};
use idpool_wire::sigv4::{self, Authorization, RequestParts, SigV4Error};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const SESSION_PURPOSE: &[u8] = b"idpool sts session";
const SECRET_PURPOSE: &[u8] = b"idpool sts secret\0";

/// What a set of temporary credentials may do, and on whose behalf.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionGrant {
    /// The access key id the credentials were issued with (`ASIA...`).
    pub access_key_id: String,
    pub role_arn: String,
    /// The role's `RoleId` (`AROA...`), the first half of `aws:userid`.
    #[serde(default)]
    pub role_id: String,
    pub role_session_name: String,
    /// Condition keys of the web identity, e.g. `cognito-identity.amazonaws.com:sub`
    /// → [identity id], `...:amr` → ["authenticated", provider, ...].
    pub keys: BTreeMap<String, Vec<String>>,
    /// `aws:PrincipalTag/<name>` values (identity pools' principal tags).
    pub principal_tags: BTreeMap<String, String>,
    /// A session policy (AssumeRoleWithWebIdentity's `Policy`): narrows the role.
    pub session_policy: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
}

/// The credentials as every AWS API returns them.
#[derive(Debug, Clone)]
pub struct TemporaryCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Unix seconds.
    pub expiration: i64,
}

/// `arn:aws:sts::{account}:assumed-role/{role name}/{session name}`.
pub fn assumed_role_arn(grant: &SessionGrant) -> String {
    let (account, role_name) = role_parts(&grant.role_arn);
    format!(
        "arn:aws:sts::{account}:assumed-role/{role_name}/{}",
        grant.role_session_name
    )
}

/// The account and the role's name (the last path segment) of a role ARN.
pub fn role_parts(role_arn: &str) -> (&str, &str) {
    let mut parts = role_arn.splitn(6, ':');
    let account = parts.nth(4).unwrap_or_default();
    let resource = parts.next().unwrap_or_default();
    let name = resource.rsplit('/').next().unwrap_or_default();
    (account, name)
}

/// The secret access key of temporary credentials: derived, never stored.
pub(crate) fn secret_for(state: &SharedState, access_key_id: &str) -> String {
    let mut input = SECRET_PURPOSE.to_vec();
    input.extend_from_slice(access_key_id.as_bytes());
    let mut secret = b64(&state.master.keyed_hash(&input));
    secret.truncate(40);
    secret.replace(['+', '/'], "x")
}

/// Issues credentials for `grant`; its `access_key_id` is chosen here.
pub fn issue(state: &SharedState, mut grant: SessionGrant) -> TemporaryCredentials {
    grant.access_key_id = format!(
        "ASIA{}",
        ids::random_string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    );
    let secret_access_key = secret_for(state, &grant.access_key_id);
    let sealed = state.master.encrypt(
        &serde_json::to_vec(&grant).expect("grant serializes"),
        SESSION_PURPOSE,
    );
    TemporaryCredentials {
        access_key_id: grant.access_key_id,
        secret_access_key,
        session_token: sealed,
        expiration: grant.expires_at,
    }
}

/// Whether `secret` is the secret access key of `access_key_id`.
pub fn secret_matches(state: &SharedState, access_key_id: &str, secret: &str) -> bool {
    constant_time_eq(
        secret_for(state, access_key_id).as_bytes(),
        secret.as_bytes(),
    )
}

/// Who signed a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The admin key pair (production) or anyone (dev mode, unsigned or any key).
    Admin { access_key_id: String },
    /// Temporary credentials.
    Session(SessionGrant),
}

fn invalid_token() -> QueryError {
    QueryError::new(
        Q::InvalidClientTokenId,
        "The security token included in the request is invalid.",
    )
}

/// Opens a session token presented with `access_key_id` and checks it has not expired.
pub fn open_session(
    state: &SharedState,
    access_key_id: &str,
    session_token: &str,
    now_s: i64,
) -> Result<SessionGrant, QueryError> {
    let plain = state
        .master
        .decrypt(session_token, SESSION_PURPOSE)
        .map_err(|_| invalid_token())?;
    let grant: SessionGrant = serde_json::from_slice(&plain).map_err(|_| invalid_token())?;
    if !constant_time_eq(grant.access_key_id.as_bytes(), access_key_id.as_bytes()) {
        return Err(invalid_token());
    }
    if grant.expires_at <= now_s {
        return Err(QueryError::new(
            Q::ExpiredToken,
            "The security token included in the request is expired",
        ));
    }
    Ok(grant)
}

fn missing_signature() -> QueryError {
    QueryError::new(
        Q::MissingAuthenticationToken,
        "Request is missing Authentication Token",
    )
}

/// The request's parsed SigV4 Authorization header (None when it has none) and its
/// session token, if any.
fn signature_of(
    req: &RequestParts<'_>,
) -> Result<Option<(Authorization, Option<String>)>, QueryError> {
    let Some(header) = req.header_values("authorization").first().copied() else {
        return Ok(None);
    };
    let auth = sigv4::parse_authorization(header).map_err(sig_error)?;
    let token = req
        .header_values("x-amz-security-token")
        .first()
        .map(|s| s.trim().to_string());
    Ok(Some((auth, token)))
}

/// Verifies a request signed with temporary credentials: the token opens, names the
/// signing key, has not expired, and the signature is made with its secret.
fn verify_session(
    state: &SharedState,
    req: &RequestParts<'_>,
    auth: &Authorization,
    token: &str,
    now_s: i64,
) -> Result<SessionGrant, QueryError> {
    let grant = open_session(state, &auth.access_key_id, token, now_s)?;
    let secret = secret_for(state, &grant.access_key_id);
    sigv4::verify(req, auth, &secret, now_s).map_err(sig_error)?;
    Ok(grant)
}

/// Checks a request's SigV4 signature and names the caller. Temporary credentials are
/// checked in every mode (they carry permissions); the admin key only outside dev mode,
/// where any other key (or none) is accepted as the admin, as local emulators do.
pub fn authenticate(
    state: &SharedState,
    req: &RequestParts<'_>,
    now_s: i64,
) -> Result<Caller, QueryError> {
    let (auth, token) = match signature_of(req)? {
        Some(signed) => signed,
        None if state.config.dev => {
            return Ok(Caller::Admin {
                access_key_id: String::new(),
            });
        }
        None => return Err(missing_signature()),
    };
    if let Some(token) = token {
        return verify_session(state, req, &auth, &token, now_s).map(Caller::Session);
    }
    if !state.config.dev {
        let (key_id, secret) = &state.admin_key;
        if &auth.access_key_id != key_id {
            return Err(invalid_token());
        }
        sigv4::verify(req, &auth, secret, now_s).map_err(sig_error)?;
    }
    Ok(Caller::Admin {
        access_key_id: auth.access_key_id,
    })
}

/// A request that must be signed with temporary credentials (the authorization API):
/// the admin key is not a session, in any mode.
pub fn authenticate_session(
    state: &SharedState,
    req: &RequestParts<'_>,
    now_s: i64,
) -> Result<SessionGrant, QueryError> {
    let (auth, token) = signature_of(req)?.ok_or_else(missing_signature)?;
    let token = token.ok_or_else(invalid_token)?;
    verify_session(state, req, &auth, &token, now_s)
}

fn sig_error(e: SigV4Error) -> QueryError {
    match e {
        SigV4Error::Incomplete(m) => QueryError::new(Q::IncompleteSignature, m),
        SigV4Error::Invalid(m) => QueryError::new(Q::SignatureDoesNotMatch, m),
        SigV4Error::Missing => missing_signature(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_parts_reads_account_and_name_through_paths() {
        assert_eq!(
            role_parts("arn:aws:iam::123456789012:role/app/photos"),
            ("123456789012", "photos")
        );
        let grant = SessionGrant {
            access_key_id: "ASIA".into(),
            role_arn: "arn:aws:iam::123456789012:role/Auth".into(),
            role_id: "AROAEXAMPLE".into(),
            role_session_name: "CognitoIdentityCredentials".into(),
            keys: BTreeMap::new(),
            principal_tags: BTreeMap::new(),
            session_policy: None,
            expires_at: 0,
        };
        assert_eq!(
            assumed_role_arn(&grant),
            "arn:aws:sts::123456789012:assumed-role/Auth/CognitoIdentityCredentials"
        );
    }
}
