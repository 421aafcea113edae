//! The claims of Cognito's ID and access tokens, and token lifetimes from the app
//! client's settings.

use crate::groups::GroupClaims;
use serde_json::{Map, Value, json};

/// Token lifetimes in seconds, from an app client's `*TokenValidity` and
/// `TokenValidityUnits` (Cognito's defaults: 60 minutes, 60 minutes, 30 days).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lifetimes {
    pub access: i64,
    pub id: i64,
    pub refresh: i64,
}

impl Lifetimes {
    pub fn from_client_config(config: &Value) -> Self {
        let unit = |name: &str, default: &str| -> i64 {
            match config["TokenValidityUnits"][name]
                .as_str()
                .unwrap_or(default)
            {
                "seconds" => 1,
                "minutes" => 60,
                "hours" => 3600,
                "days" => 86_400,
                _ => 3600,
            }
        };
        let amount = |name: &str, default: i64| config[name].as_i64().unwrap_or(default);
        let access_unit = unit(
            "AccessToken",
            if config["AccessTokenValidity"].is_null() {
                "minutes"
            } else {
                "hours"
            },
        );
        let id_unit = unit(
            "IdToken",
            if config["IdTokenValidity"].is_null() {
                "minutes"
            } else {
                "hours"
            },
        );
        Lifetimes {
            access: amount("AccessTokenValidity", 60) * access_unit,
            id: amount("IdTokenValidity", 60) * id_unit,
            refresh: amount("RefreshTokenValidity", 30) * unit("RefreshToken", "days"),
        }
    }
}

/// Who the tokens are for and the sign-in they come from.
pub struct TokenSubject<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub username: &'a str,
    pub sub: &'a str,
    pub attributes: &'a Map<String, Value>,
    pub groups: &'a GroupClaims,
    /// Seconds.
    pub auth_time: i64,
    pub origin_jti: &'a str,
    pub event_id: &'a str,
}

/// The ID token's claims: identity plus every readable attribute. `*_verified` are
/// booleans, as Cognito emits them.
pub fn id_token_claims(s: &TokenSubject<'_>, now_s: i64, lifetime: i64, jti: &str) -> Value {
    let mut c = Map::new();
    c.insert("sub".into(), json!(s.sub));
    for (name, value) in s.attributes {
        let v = match (name.as_str(), value.as_str()) {
            ("email_verified" | "phone_number_verified", Some(b)) => json!(b == "true"),
            // Stored as Cognito reports the attribute (a JSON string); the ID token
            // carries the list itself.
            ("identities", Some(list)) => {
                serde_json::from_str::<Value>(list).unwrap_or_else(|_| value.clone())
            }
            _ => value.clone(),
        };
        c.insert(name.clone(), v);
    }
    if !s.groups.groups.is_empty() {
        c.insert("cognito:groups".into(), json!(s.groups.groups));
    }
    if !s.groups.roles.is_empty() {
        c.insert("cognito:roles".into(), json!(s.groups.roles));
    }
    if let Some(role) = &s.groups.preferred_role {
        c.insert("cognito:preferred_role".into(), json!(role));
    }
    c.insert("iss".into(), json!(s.issuer));
    c.insert("cognito:username".into(), json!(s.username));
    c.insert("origin_jti".into(), json!(s.origin_jti));
    c.insert("aud".into(), json!(s.client_id));
    c.insert("event_id".into(), json!(s.event_id));
    c.insert("token_use".into(), json!("id"));
    c.insert("auth_time".into(), json!(s.auth_time));
    c.insert("exp".into(), json!(now_s + lifetime));
    c.insert("iat".into(), json!(now_s));
    c.insert("jti".into(), json!(jti));
    Value::Object(c)
}

/// The access token's claims: no attributes, `client_id` rather than `aud`, and the
/// `aws.cognito.signin.user.admin` scope that lets a user manage their own profile.
pub fn access_token_claims(s: &TokenSubject<'_>, now_s: i64, lifetime: i64, jti: &str) -> Value {
    let mut c = Map::new();
    c.insert("sub".into(), json!(s.sub));
    if !s.groups.groups.is_empty() {
        c.insert("cognito:groups".into(), json!(s.groups.groups));
    }
    c.insert("iss".into(), json!(s.issuer));
    c.insert("client_id".into(), json!(s.client_id));
    c.insert("origin_jti".into(), json!(s.origin_jti));
    c.insert("event_id".into(), json!(s.event_id));
    c.insert("token_use".into(), json!("access"));
    c.insert("scope".into(), json!("aws.cognito.signin.user.admin"));
    c.insert("auth_time".into(), json!(s.auth_time));
    c.insert("exp".into(), json!(now_s + lifetime));
    c.insert("iat".into(), json!(now_s));
    c.insert("jti".into(), json!(jti));
    c.insert("username".into(), json!(s.username));
    Value::Object(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_follow_units_and_defaults() {
        let d = Lifetimes::from_client_config(&json!({}));
        assert_eq!(
            d,
            Lifetimes {
                access: 3600,
                id: 3600,
                refresh: 30 * 86_400
            }
        );
        let c = Lifetimes::from_client_config(&json!({
            "AccessTokenValidity": 5, "IdTokenValidity": 2, "RefreshTokenValidity": 60,
            "TokenValidityUnits": {"AccessToken": "minutes", "IdToken": "hours", "RefreshToken": "minutes"}
        }));
        assert_eq!(
            c,
            Lifetimes {
                access: 300,
                id: 7200,
                refresh: 3600
            }
        );
    }
}
