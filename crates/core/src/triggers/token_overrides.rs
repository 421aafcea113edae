//! PreTokenGeneration's answer applied to the claims about to be signed.
//!
//! V1_0 (`claimsOverrideDetails`) changes the ID token only, with string values, plus
//! the group claims of both tokens. V2_0/V3_0 (`claimsAndScopeOverrideDetails`) change
//! the ID and the access token separately, with any JSON values, and add or suppress
//! access-token scopes.
//!
//! Claims that say who issued the token, to whom, when and for what cannot be touched:
//! a trigger that could rewrite `iss`, `sub`, `aud`, `exp` or `token_use` could mint a
//! token that other relying parties would misread. Cognito ignores attempts to change
//! them, and so do we.

use super::{BadResponse, string_map};
use serde_json::{Map, Value};

/// Claims no trigger may add, change or suppress, in either token.
const PROTECTED: &[&str] = &[
    "acr",
    "amr",
    "aud",
    "at_hash",
    "auth_time",
    "azp",
    "c_hash",
    "client_id",
    "cognito:username",
    "event_id",
    "exp",
    "iat",
    "identities",
    "iss",
    "jti",
    "nbf",
    "nonce",
    "origin_jti",
    "scope",
    "sub",
    "token_use",
    "username",
    "cognito:groups",
    "cognito:roles",
    "cognito:preferred_role",
];

fn protected(name: &str) -> bool {
    PROTECTED.contains(&name)
}

fn list(v: &Value, what: &str) -> Result<Vec<String>, BadResponse> {
    match v {
        Value::Null => Ok(vec![]),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str().map(String::from).ok_or_else(|| {
                    BadResponse(format!("Invalid lambda response: {what} must list strings"))
                })
            })
            .collect(),
        _ => Err(BadResponse(format!(
            "Invalid lambda response: {what} must be a list"
        ))),
    }
}

fn object<'a>(v: &'a Value, what: &str) -> Result<Option<&'a Map<String, Value>>, BadResponse> {
    match v {
        Value::Null => Ok(None),
        Value::Object(m) => Ok(Some(m)),
        _ => Err(BadResponse(format!(
            "Invalid lambda response: {what} must be an object"
        ))),
    }
}

/// Adds, overrides and suppresses claims of one token.
fn apply_claims(
    claims: &mut Map<String, Value>,
    details: &Map<String, Value>,
    strings_only: bool,
) -> Result<(), BadResponse> {
    let add = if strings_only {
        string_map(details, "claimsToAddOrOverride")?
    } else {
        object(
            details.get("claimsToAddOrOverride").unwrap_or(&Value::Null),
            "claimsToAddOrOverride",
        )?
        .cloned()
        .unwrap_or_default()
    };
    for (name, value) in add {
        if !protected(&name) {
            claims.insert(name, value);
        }
    }
    let suppress = list(
        details.get("claimsToSuppress").unwrap_or(&Value::Null),
        "claimsToSuppress",
    )?;
    for name in suppress {
        if !protected(&name) {
            claims.remove(&name);
        }
    }
    Ok(())
}

/// `groupOverrideDetails`: a given list replaces the group claims (an empty list removes
/// them); an absent one keeps what the user's groups gave.
fn apply_groups(
    id: &mut Map<String, Value>,
    access: &mut Map<String, Value>,
    details: &Map<String, Value>,
) -> Result<(), BadResponse> {
    let Some(groups) = object(
        details.get("groupOverrideDetails").unwrap_or(&Value::Null),
        "groupOverrideDetails",
    )?
    else {
        return Ok(());
    };
    let set = |claims: &mut Map<String, Value>, name: &str, values: &[String]| {
        if values.is_empty() {
            claims.remove(name);
        } else {
            claims.insert(name.into(), Value::from(values.to_vec()));
        }
    };
    if let Some(v) = groups.get("groupsToOverride").filter(|v| !v.is_null()) {
        let names = list(v, "groupsToOverride")?;
        set(id, "cognito:groups", &names);
        set(access, "cognito:groups", &names);
    }
    if let Some(v) = groups.get("iamRolesToOverride").filter(|v| !v.is_null()) {
        set(id, "cognito:roles", &list(v, "iamRolesToOverride")?);
    }
    match groups.get("preferredRole") {
        None => {}
        Some(Value::Null) => {
            // Present and null: Cognito drops the preferred role.
            id.remove("cognito:preferred_role");
        }
        Some(Value::String(role)) => {
            id.insert("cognito:preferred_role".into(), Value::String(role.clone()));
        }
        Some(_) => {
            return Err(BadResponse(
                "Invalid lambda response: preferredRole must be a string".into(),
            ));
        }
    }
    Ok(())
}

/// Applies a PreTokenGeneration `response` of event version `version` ("1", "2", "3").
/// `access` may be None when only an ID token is being minted.
pub fn apply(
    response: &Map<String, Value>,
    version: &str,
    id: &mut Map<String, Value>,
    access: &mut Map<String, Value>,
) -> Result<(), BadResponse> {
    if version == "1" {
        let Some(details) = object(
            response
                .get("claimsOverrideDetails")
                .unwrap_or(&Value::Null),
            "claimsOverrideDetails",
        )?
        else {
            return Ok(());
        };
        apply_claims(id, details, true)?;
        return apply_groups(id, access, details);
    }
    let Some(details) = object(
        response
            .get("claimsAndScopeOverrideDetails")
            .unwrap_or(&Value::Null),
        "claimsAndScopeOverrideDetails",
    )?
    else {
        return Ok(());
    };
    if let Some(idgen) = object(
        details.get("idTokenGeneration").unwrap_or(&Value::Null),
        "idTokenGeneration",
    )? {
        apply_claims(id, idgen, false)?;
    }
    if let Some(accessgen) = object(
        details.get("accessTokenGeneration").unwrap_or(&Value::Null),
        "accessTokenGeneration",
    )? {
        apply_claims(access, accessgen, false)?;
        let mut scopes: Vec<String> = access
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect();
        for s in list(
            accessgen.get("scopesToAdd").unwrap_or(&Value::Null),
            "scopesToAdd",
        )? {
            if !s.is_empty() && !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        let suppress = list(
            accessgen.get("scopesToSuppress").unwrap_or(&Value::Null),
            "scopesToSuppress",
        )?;
        scopes.retain(|s| !suppress.contains(s));
        if scopes.is_empty() {
            access.remove("scope");
        } else {
            access.insert("scope".into(), Value::String(scopes.join(" ")));
        }
    }
    apply_groups(id, access, details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn v1_changes_the_id_token_and_groups() {
        let mut id = claims(json!({"sub": "s", "email": "a@b.c", "cognito:groups": ["g"]}));
        let mut access = claims(json!({"sub": "s", "cognito:groups": ["g"], "scope": "x"}));
        let r = claims(json!({"claimsOverrideDetails": {
            "claimsToAddOrOverride": {"tier": "gold", "sub": "evil", "iss": "evil"},
            "claimsToSuppress": ["email", "token_use"],
            "groupOverrideDetails": {"groupsToOverride": ["admins"], "iamRolesToOverride": ["arn:r"], "preferredRole": "arn:r"}
        }}));
        apply(&r, "1", &mut id, &mut access).unwrap();
        assert_eq!(id["tier"], "gold");
        assert_eq!(id["sub"], "s");
        assert!(!id.contains_key("iss"));
        assert!(!id.contains_key("email"));
        assert_eq!(id["cognito:groups"], json!(["admins"]));
        assert_eq!(id["cognito:roles"], json!(["arn:r"]));
        assert_eq!(id["cognito:preferred_role"], "arn:r");
        assert_eq!(access["cognito:groups"], json!(["admins"]));
        assert!(!access.contains_key("tier"));
        // V1 values are strings.
        let bad =
            claims(json!({"claimsOverrideDetails": {"claimsToAddOrOverride": {"n": {"x": 1}}}}));
        assert!(apply(&bad, "1", &mut id, &mut access).is_err());
    }

    #[test]
    fn v2_changes_both_tokens_and_scopes() {
        let mut id = claims(json!({"sub": "s"}));
        let mut access =
            claims(json!({"sub": "s", "scope": "aws.cognito.signin.user.admin openid"}));
        let r = claims(json!({"claimsAndScopeOverrideDetails": {
            "idTokenGeneration": {"claimsToAddOrOverride": {"roles": ["a", "b"]}},
            "accessTokenGeneration": {
                "claimsToAddOrOverride": {"tenant": {"id": 7}},
                "scopesToAdd": ["api/read", "openid"],
                "scopesToSuppress": ["aws.cognito.signin.user.admin"]
            },
            "groupOverrideDetails": {"groupsToOverride": []}
        }}));
        apply(&r, "2", &mut id, &mut access).unwrap();
        assert_eq!(id["roles"], json!(["a", "b"]));
        assert_eq!(access["tenant"], json!({"id": 7}));
        assert_eq!(access["scope"], "openid api/read");
        assert!(!access.contains_key("cognito:groups"));
        // A V1 answer to a V2 event changes nothing.
        let v1 = claims(json!({"claimsOverrideDetails": {"claimsToAddOrOverride": {"x": "y"}}}));
        apply(&v1, "2", &mut id, &mut access).unwrap();
        assert!(!id.contains_key("x"));
    }
}
