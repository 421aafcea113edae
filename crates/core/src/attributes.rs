//! User attributes: the standard schema Cognito gives every pool, custom attributes,
//! and the checks applied when users or admins write attributes.

use crate::error::DomainError;
use serde_json::{Value, json};

/// (name, data type, mutable, max length) of every standard attribute, in Cognito's order.
pub const STANDARD: &[(&str, &str, bool, u32)] = &[
    ("sub", "String", false, 2048),
    ("name", "String", true, 2048),
    ("given_name", "String", true, 2048),
    ("family_name", "String", true, 2048),
    ("middle_name", "String", true, 2048),
    ("nickname", "String", true, 2048),
    ("preferred_username", "String", true, 2048),
    ("profile", "String", true, 2048),
    ("picture", "String", true, 2048),
    ("website", "String", true, 2048),
    ("email", "String", true, 2048),
    ("email_verified", "Boolean", true, 0),
    ("gender", "String", true, 2048),
    ("birthdate", "String", true, 10),
    ("zoneinfo", "String", true, 2048),
    ("locale", "String", true, 2048),
    ("phone_number", "String", true, 2048),
    ("phone_number_verified", "Boolean", true, 0),
    ("address", "String", true, 2048),
    ("updated_at", "Number", true, 0),
    ("identities", "String", true, 2048),
];

fn standard_entry(name: &str, data_type: &str, mutable: bool, max: u32, required: bool) -> Value {
    let mut e = json!({
        "Name": name,
        "AttributeDataType": data_type,
        "DeveloperOnlyAttribute": false,
        "Mutable": mutable,
        "Required": required,
    });
    match data_type {
        "String" => {
            let min = if name == "birthdate" {
                "10"
            } else if name == "sub" {
                "1"
            } else {
                "0"
            };
            e["StringAttributeConstraints"] =
                json!({"MinLength": min, "MaxLength": max.to_string()});
        }
        "Number" => e["NumberAttributeConstraints"] = json!({"MinValue": "0"}),
        _ => {}
    }
    e
}

/// The pool's `SchemaAttributes`: the standard schema, with the caller's `Schema`
/// entries overriding standard ones (Required, Mutable, constraints) or adding
/// `custom:` ones. Messages are Cognito's.
pub fn build_schema(requested: &[Value]) -> Result<Vec<Value>, DomainError> {
    let mut schema: Vec<Value> = STANDARD
        .iter()
        .map(|(n, t, m, max)| standard_entry(n, t, *m, *max, *n == "sub"))
        .collect();
    for attr in requested {
        let name = attr["Name"].as_str().unwrap_or_default();
        if name.is_empty() {
            return Err(DomainError::InvalidParameter(
                "Schema attribute name is required.".into(),
            ));
        }
        let constraints = checked_constraints(attr, name)?;
        if let Some(existing) = schema.iter_mut().find(|e| e["Name"] == name) {
            let data_type_changed = attr["AttributeDataType"]
                .as_str()
                .is_some_and(|t| existing["AttributeDataType"] != t);
            if data_type_changed || attr["DeveloperOnlyAttribute"] == true {
                return Err(DomainError::InvalidParameter(format!(
                    "You can not change AttributeDataType or set developerOnlyAttribute for standard schema attribute {name}"
                )));
            }
            if name == "sub" {
                continue;
            }
            if let Some(req) = attr["Required"].as_bool() {
                existing["Required"] = json!(req);
            }
            if let Some(m) = attr["Mutable"].as_bool() {
                existing["Mutable"] = json!(m);
            }
            if let Some((key, c)) = constraints
                && existing.get(key).is_some()
            {
                existing[key] = c;
            }
            continue;
        }
        let custom = add_custom(attr)?;
        if schema.iter().any(|e| e["Name"] == custom["Name"]) {
            return Err(DomainError::InvalidParameter(format!(
                "Duplicate attribute name {}",
                custom["Name"].as_str().unwrap_or_default()
            )));
        }
        schema.push(custom);
    }
    Ok(schema)
}

/// Validates the constraints of one schema entry; returns the member that applies to
/// its data type (String: StringAttributeConstraints, Number: NumberAttributeConstraints)
/// with only the bounds given, as Cognito stores them.
fn checked_constraints(
    attr: &Value,
    name: &str,
) -> Result<Option<(&'static str, Value)>, DomainError> {
    let data_type = attr["AttributeDataType"].as_str().unwrap_or_else(|| {
        STANDARD
            .iter()
            .find(|s| s.0 == name)
            .map(|s| s.1)
            .unwrap_or("String")
    });
    let (key, lo, hi) = match data_type {
        "String" => ("StringAttributeConstraints", "MinLength", "MaxLength"),
        "Number" => ("NumberAttributeConstraints", "MinValue", "MaxValue"),
        _ => return Ok(None),
    };
    let given = &attr[key];
    if !given.is_object() {
        return Ok(None);
    }
    let invalid =
        || DomainError::InvalidParameter(format!("Invalid {key} for schema attribute {name}"));
    let bound = |k: &str| -> Result<Option<i64>, DomainError> {
        match given[k].as_str() {
            None => Ok(None),
            Some(s) => s.trim().parse::<i64>().map(Some).map_err(|_| invalid()),
        }
    };
    let (min, max) = (bound(lo)?, bound(hi)?);
    if data_type == "String" {
        if min.is_some_and(|m| m > 2048) || max.is_some_and(|m| m > 2048) {
            return Err(DomainError::InvalidParameter(format!(
                "user.{name}: String attributes cannot have a length of more than 2048"
            )));
        }
        if let (Some(a), Some(b)) = (min, max)
            && b < a
        {
            return Err(DomainError::InvalidParameter(format!(
                "user.{name}: Max length cannot be less than min length."
            )));
        }
    } else if let (Some(a), Some(b)) = (min, max)
        && b < a
    {
        return Err(DomainError::InvalidParameter(format!(
            "user.{name}: Max value cannot be less than min value."
        )));
    }
    let mut out = serde_json::Map::new();
    for (k, v) in [(lo, min), (hi, max)] {
        if let Some(v) = v {
            out.insert(k.to_string(), json!(v.to_string()));
        }
    }
    Ok(Some((key, Value::Object(out))))
}

/// A custom attribute as stored: `custom:` prefixed (`dev:custom:` for developer-only).
pub fn add_custom(attr: &Value) -> Result<Value, DomainError> {
    let name = attr["Name"].as_str().unwrap_or_default();
    if name.len() > 20 {
        return Err(DomainError::InvalidParameter(format!(
            "Custom attribute name {name} is too long; it must be 20 characters or fewer."
        )));
    }
    let Some(data_type) = attr["AttributeDataType"].as_str() else {
        return Err(DomainError::InvalidParameter(
            "Invalid AttributeDataType input, consider using the provided AttributeDataType enum."
                .into(),
        ));
    };
    if attr["Required"].as_bool() == Some(true) {
        return Err(DomainError::InvalidParameter(
            "Required custom attributes are not supported currently.".into(),
        ));
    }
    let developer_only = attr["DeveloperOnlyAttribute"].as_bool().unwrap_or(false);
    let prefix = if developer_only {
        "dev:custom:"
    } else {
        "custom:"
    };
    let mut e = json!({
        "Name": format!("{prefix}{name}"),
        "AttributeDataType": data_type,
        "DeveloperOnlyAttribute": developer_only,
        "Mutable": attr["Mutable"].as_bool().unwrap_or(true),
        "Required": false,
    });
    if let Some((key, c)) = checked_constraints(attr, name)? {
        e[key] = c;
    }
    Ok(e)
}

/// Cognito's quota of custom attributes per user pool.
pub const MAX_CUSTOM_ATTRIBUTES: usize = 50;

/// AddCustomAttributes: appends new custom attributes to a pool's schema. A name is
/// taken whether it exists as `custom:x` or as developer-only `dev:custom:x`, since
/// both are the same attribute to token readers.
pub fn add_custom_attributes(schema: &mut Vec<Value>, new: &[Value]) -> Result<(), DomainError> {
    for attr in new {
        let entry = add_custom(attr)?;
        let name = entry["Name"].as_str().unwrap_or_default().to_string();
        let base = name.strip_prefix("dev:").unwrap_or(&name);
        if let Some(existing) = schema.iter().find(|e| {
            let n = e["Name"].as_str().unwrap_or_default();
            n.strip_prefix("dev:").unwrap_or(n) == base
        }) {
            return Err(DomainError::InvalidParameter(format!(
                "{base}: Existing attribute already has name {}.",
                existing["Name"].as_str().unwrap_or_default()
            )));
        }
        schema.push(entry);
    }
    let custom = schema
        .iter()
        .filter(|e| {
            e["Name"]
                .as_str()
                .is_some_and(|n| n.starts_with("custom:") || n.starts_with("dev:custom:"))
        })
        .count();
    if custom > MAX_CUSTOM_ATTRIBUTES {
        return Err(DomainError::InvalidParameter(format!(
            "A user pool can have at most {MAX_CUSTOM_ATTRIBUTES} custom attributes."
        )));
    }
    Ok(())
}

/// Who is writing: users may not touch immutable or developer-only attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// SignUp, UpdateUserAttributes.
    User,
    /// Admin* operations.
    Admin,
}

/// Checks attribute writes against the pool's schema. `creating` allows immutable
/// attributes, which may be set once when the user is created.
pub fn check_writes(
    schema: &[Value],
    attrs: &[(String, String)],
    writer: Writer,
    creating: bool,
) -> Result<(), DomainError> {
    for (name, value) in attrs {
        if name == "sub" {
            return Err(DomainError::InvalidParameter(if creating {
                "Attributes did not conform to the schema: sub: Attribute cannot be updated. (changing an immutable attribute)".into()
            } else {
                "Cannot modify the non-mutable attribute sub".into()
            }));
        }
        let lookup = name.strip_prefix("dev:").unwrap_or(name);
        let entry = schema
            .iter()
            .find(|e| e["Name"] == lookup || e["Name"] == format!("dev:{lookup}"));
        let Some(entry) = entry else {
            return Err(DomainError::InvalidParameter(format!(
                "Attributes did not conform to the schema: {name}: Attribute does not exist in the schema.\n"
            )));
        };
        if writer == Writer::User && entry["DeveloperOnlyAttribute"] == true {
            return Err(DomainError::NotAuthorized(format!(
                "A client attempted to write unauthorized attribute {name}"
            )));
        }
        if !creating && entry["Mutable"] == false {
            return Err(DomainError::InvalidParameter(format!(
                "Cannot modify the non-mutable attribute {name}"
            )));
        }
        if let Some(max) = entry["StringAttributeConstraints"]["MaxLength"]
            .as_str()
            .and_then(|m| m.parse::<usize>().ok())
            && value.chars().count() > max
        {
            return Err(DomainError::InvalidParameter(format!(
                "Attributes did not conform to the schema: {name}: String is too long\n"
            )));
        }
        if (name == "email_verified" || name == "phone_number_verified")
            && value != "true"
            && value != "false"
        {
            return Err(DomainError::InvalidParameter(format!(
                "Invalid value for {name}: {value}; it must be true or false."
            )));
        }
        if name == "email" && !value.is_empty() && !looks_like_email(value) {
            return Err(DomainError::InvalidParameter(
                "Invalid email address format.".into(),
            ));
        }
        if name == "phone_number" && !value.is_empty() && !looks_like_phone(value) {
            return Err(DomainError::InvalidParameter(
                "Invalid phone number format.".into(),
            ));
        }
    }
    Ok(())
}

/// Required attributes that a new user lacks, in Cognito's message.
pub fn check_required(
    schema: &[Value],
    attrs: &serde_json::Map<String, Value>,
) -> Result<(), DomainError> {
    for e in schema {
        let name = e["Name"].as_str().unwrap_or_default();
        if e["Required"] == true
            && name != "sub"
            && attrs
                .get(name)
                .and_then(|v| v.as_str())
                .is_none_or(str::is_empty)
        {
            return Err(DomainError::InvalidParameter(format!(
                "Attributes did not conform to the schema: {name}: The attribute {name} is required"
            )));
        }
    }
    Ok(())
}

/// Cognito reports `email_verified`/`phone_number_verified` as "true"/"false" even when
/// they were written as "True".
pub fn normalize(name: &str, value: &str) -> String {
    if name.ends_with("_verified") {
        value.to_ascii_lowercase()
    } else {
        value.to_string()
    }
}

pub fn looks_like_email(v: &str) -> bool {
    match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !v.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

/// E.164, as Cognito requires: '+' and 4 to 15 digits.
pub fn looks_like_phone(v: &str) -> bool {
    v.strip_prefix('+')
        .is_some_and(|d| (4..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_and_writes() {
        let schema = build_schema(&[
            json!({"Name": "email", "Required": true, "Mutable": true}),
            json!({"Name": "team", "AttributeDataType": "String"}),
            json!({"Name": "secret", "AttributeDataType": "String", "DeveloperOnlyAttribute": true}),
        ])
        .unwrap();
        assert!(schema.iter().any(|e| e["Name"] == "custom:team"));
        let w = |n: &str, v: &str| vec![(n.to_string(), v.to_string())];
        assert!(check_writes(&schema, &w("custom:team", "blue"), Writer::User, false).is_ok());
        assert!(check_writes(&schema, &w("custom:nope", "x"), Writer::User, false).is_err());
        assert!(check_writes(&schema, &w("dev:custom:secret", "x"), Writer::User, false).is_err());
        assert!(check_writes(&schema, &w("dev:custom:secret", "x"), Writer::Admin, false).is_ok());
        assert!(check_writes(&schema, &w("sub", "x"), Writer::Admin, false).is_err());
        assert!(check_writes(&schema, &w("email", "not-an-email"), Writer::Admin, false).is_err());
        let mut grown = schema.clone();
        add_custom_attributes(
            &mut grown,
            &[json!({"Name": "level", "AttributeDataType": "Number"})],
        )
        .unwrap();
        assert!(grown.iter().any(|e| e["Name"] == "custom:level"));
        let clash = add_custom_attributes(
            &mut grown,
            &[json!({"Name": "secret", "AttributeDataType": "String"})],
        )
        .unwrap_err();
        assert_eq!(
            clash.to_string(),
            "custom:secret: Existing attribute already has name dev:custom:secret."
        );
        let mut attrs = serde_json::Map::new();
        assert!(check_required(&schema, &attrs).is_err());
        attrs.insert("email".into(), json!("a@b.c"));
        assert!(check_required(&schema, &attrs).is_ok());
    }
}
