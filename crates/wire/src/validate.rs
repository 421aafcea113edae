//! Request validation against the service model, the way AWS's request framework does it
//! before an operation runs: type errors become `SerializationException`, constraint
//! violations (required, length, range, pattern, enum) become one
//! `InvalidParameterException` listing them all ("2 validation errors detected: ...").

use crate::errors::{FrameworkError, WireError};
use regex::Regex;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, serde::Deserialize)]
struct Shape {
    #[serde(rename = "type")]
    kind: String,
    min: Option<f64>,
    max: Option<f64>,
    pattern: Option<String>,
    #[serde(rename = "enum")]
    enum_values: Option<Vec<String>>,
    #[serde(default)]
    required: Vec<String>,
    #[serde(default)]
    sensitive: bool,
    #[serde(default)]
    members: Vec<(String, String)>,
    member: Option<String>,
    key: Option<String>,
    value: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct RawModel {
    shapes: HashMap<String, RawShape>,
}

#[derive(Debug, serde::Deserialize)]
struct RawShape {
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

pub struct Model {
    shapes: HashMap<String, Shape>,
    patterns: HashMap<String, Regex>,
    violations: Violations,
}

static IDP_MODEL: OnceLock<Model> = OnceLock::new();
static IDENTITY_MODEL: OnceLock<Model> = OnceLock::new();
static SYNC_MODEL: OnceLock<Model> = OnceLock::new();

/// The cognito-idp model, parsed once.
pub fn idp_model() -> &'static Model {
    IDP_MODEL.get_or_init(|| {
        Model::parse(
            include_str!("../model/cognito-idp.json"),
            Violations::InvalidParameter,
        )
    })
}

/// The cognito-identity model, parsed once.
pub fn identity_model() -> &'static Model {
    IDENTITY_MODEL.get_or_init(|| {
        Model::parse(
            include_str!("../model/cognito-identity.json"),
            Violations::Validation,
        )
    })
}

/// The cognito-sync model, parsed once.
pub fn sync_model() -> &'static Model {
    SYNC_MODEL.get_or_init(|| {
        Model::parse(
            include_str!("../model/cognito-sync.json"),
            Violations::SyncInvalidParameter,
        )
    })
}

/// How a service reports constraint violations: cognito-idp as its own
/// InvalidParameterException, cognito-identity as the framework's ValidationException.
#[derive(Debug, Clone, Copy)]
enum Violations {
    InvalidParameter,
    Validation,
    /// cognito-sync: its own InvalidParameterException, which every operation declares.
    SyncInvalidParameter,
}

impl Model {
    fn parse(text: &str, violations: Violations) -> Model {
        let raw: RawModel = serde_json::from_str(text).expect("embedded model is valid JSON");
        let mut shapes = HashMap::new();
        let mut patterns = HashMap::new();
        for (name, raw_shape) in raw.shapes {
            let mut obj = raw_shape.rest;
            let members: Vec<(String, String)> = match obj.remove("members") {
                Some(Value::Object(m)) => m
                    .into_iter()
                    .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                    .collect(),
                _ => Vec::new(),
            };
            let mut shape: Shape =
                serde_json::from_value(Value::Object(obj)).expect("embedded shape is valid");
            shape.members = members;
            if let Some(p) = &shape.pattern {
                // Model patterns are Java regexes matched against the whole value.
                let p = corrected_pattern(&name).unwrap_or(p);
                if let Ok(re) = Regex::new(&format!("^(?:{})$", without_lookbehind(p))) {
                    patterns.insert(name.clone(), re);
                }
            }
            shapes.insert(name, shape);
        }
        Model {
            shapes,
            patterns,
            violations,
        }
    }

    /// Checks `input` against the shape named `root`.
    pub fn validate(&self, root: &str, input: &Value) -> Result<(), WireError> {
        let mut violations = Vec::new();
        self.check(root, input, "", &mut violations)?;
        if violations.is_empty() {
            return Ok(());
        }
        let n = violations.len();
        let plural = if n == 1 { "error" } else { "errors" };
        let message = format!(
            "{n} validation {plural} detected: {}",
            violations.join("; ")
        );
        Err(match self.violations {
            Violations::InvalidParameter => WireError::invalid_parameter(message),
            Violations::Validation => {
                WireError::framework(FrameworkError::ValidationException, message)
            }
            Violations::SyncInvalidParameter => {
                WireError::sync(crate::SyncException::InvalidParameterException, message)
            }
        })
    }

    fn check(
        &self,
        shape_name: &str,
        value: &Value,
        path: &str,
        out: &mut Vec<String>,
    ) -> Result<(), WireError> {
        let Some(shape) = self.shapes.get(shape_name) else {
            return Ok(());
        };
        let type_error = |expected: &str| {
            WireError::framework(
                FrameworkError::SerializationException,
                format!(
                    "Expected {expected} at '{}' but found {}",
                    if path.is_empty() { "(root)" } else { path },
                    json_kind(value)
                ),
            )
        };
        match shape.kind.as_str() {
            "structure" => {
                let Value::Object(map) = value else {
                    return Err(type_error("an object"));
                };
                for (member, member_shape) in &shape.members {
                    let member_path = join(path, &lower_first(member));
                    match map.get(member) {
                        None | Some(Value::Null) => {
                            if shape.required.contains(member) {
                                out.push(format!(
                                    "Value null at '{member_path}' failed to satisfy constraint: Member must not be null"
                                ));
                            }
                        }
                        Some(v) => self.check(member_shape, v, &member_path, out)?,
                    }
                }
            }
            "list" => {
                let Value::Array(items) = value else {
                    return Err(type_error("a list"));
                };
                self.length(shape, items.len() as f64, path, value, out);
                if let Some(member) = &shape.member {
                    for (i, item) in items.iter().enumerate() {
                        if item.is_null() {
                            continue;
                        }
                        self.check(member, item, &format!("{path}.{}.member", i + 1), out)?;
                    }
                }
            }
            "map" => {
                let Value::Object(map) = value else {
                    return Err(type_error("a map"));
                };
                self.length(shape, map.len() as f64, path, value, out);
                for (k, v) in map {
                    if let Some(key_shape) = &shape.key {
                        self.check(key_shape, &Value::String(k.clone()), path, out)?;
                    }
                    if let Some(value_shape) = &shape.value
                        && !v.is_null()
                    {
                        self.check(value_shape, v, &format!("{path}.{k}"), out)?;
                    }
                }
            }
            "string" | "blob" => {
                let Value::String(s) = value else {
                    return Err(type_error("a string"));
                };
                self.length(shape, s.chars().count() as f64, path, value, out);
                if let Some(values) = &shape.enum_values
                    && !values.iter().any(|v| v == s)
                {
                    out.push(format!(
                        "{} failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                        describe(shape, value, path),
                        values.join(", ")
                    ));
                }
                if let (Some(re), Some(p)) = (self.patterns.get(shape_name), &shape.pattern)
                    && !re.is_match(s)
                {
                    out.push(format!(
                            "{} failed to satisfy constraint: Member must satisfy regular expression pattern: {p}",
                            describe(shape, value, path)
                        ));
                }
            }
            "integer" | "long" => {
                let Some(n) = value.as_f64().filter(|n| n.fract() == 0.0) else {
                    return Err(type_error("an integer"));
                };
                if let Some(min) = shape.min
                    && n < min
                {
                    out.push(format!(
                            "{} failed to satisfy constraint: Member must have value greater than or equal to {min}",
                            describe(shape, value, path)
                        ));
                }
                if let Some(max) = shape.max
                    && n > max
                {
                    out.push(format!(
                            "{} failed to satisfy constraint: Member must have value less than or equal to {max}",
                            describe(shape, value, path)
                        ));
                }
            }
            "boolean" if !value.is_boolean() => {
                return Err(type_error("a boolean"));
            }
            "timestamp" if !value.is_number() => {
                return Err(type_error("a timestamp (epoch seconds)"));
            }
            _ => {}
        }
        Ok(())
    }

    fn length(&self, shape: &Shape, len: f64, path: &str, value: &Value, out: &mut Vec<String>) {
        if let Some(min) = shape.min
            && len < min
        {
            out.push(format!(
                    "{} failed to satisfy constraint: Member must have length greater than or equal to {min}",
                    describe(shape, value, path)
                ));
        }
        if let Some(max) = shape.max
            && len > max
        {
            out.push(format!(
                    "{} failed to satisfy constraint: Member must have length less than or equal to {max}",
                    describe(shape, value, path)
                ));
        }
    }
}

/// Patterns the model gets narrower than the service. DomainType's describes only a
/// prefix (`my-app`), but CreateUserPoolDomain also takes a custom domain
/// (`auth.example.com`), so dotted host names are allowed too.
fn corrected_pattern(shape: &str) -> Option<&'static str> {
    match shape {
        "DomainType" => Some(
            r"^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?)*$",
        ),
        _ => None,
    }
}

/// Rust's regex has no lookaround. The model uses it once, in S3BucketType
/// (`^[0-9A-Za-z\.\-_]*(?<!\.)$`: "not ending in a dot"), which has this equivalent.
fn without_lookbehind(pattern: &str) -> String {
    match pattern {
        r"^[0-9A-Za-z\.\-_]*(?<!\.)$" => r"(?:[0-9A-Za-z\.\-_]*[0-9A-Za-z\-_])?".to_string(),
        p => p.to_string(),
    }
}

/// "Value 'x' at 'path'", or "Value at 'path'" for sensitive members, as AWS never
/// echoes a password or token back in an error.
fn describe(shape: &Shape, value: &Value, path: &str) -> String {
    if shape.sensitive {
        return format!("Value at '{path}'");
    }
    match value {
        Value::String(s) => format!("Value '{s}' at '{path}'"),
        Value::Number(n) => format!("Value '{n}' at '{path}'"),
        other => format!("Value '{other}' at '{path}'"),
    }
}

fn join(path: &str, member: &str) -> String {
    if path.is_empty() {
        member.to_string()
    } else {
        format!("{path}.{member}")
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_required_and_bad_pattern_are_listed_together() {
        let err = idp_model()
            .validate("SignUpRequest", &json!({"ClientId": "bad client id!"}))
            .unwrap_err();
        assert_eq!(err.code.name(), "InvalidParameterException");
        assert!(
            err.message.starts_with("2 validation errors detected: "),
            "{}",
            err.message
        );
        assert!(err.message.contains(
            "Value null at 'username' failed to satisfy constraint: Member must not be null"
        ));
        assert!(err.message.contains("at 'clientId' failed to satisfy constraint: Member must satisfy regular expression pattern"));
    }

    #[test]
    fn wrong_type_is_a_serialization_error() {
        let err = idp_model()
            .validate("ListUserPoolsRequest", &json!({"MaxResults": "ten"}))
            .unwrap_err();
        assert_eq!(err.code.name(), "SerializationException");
    }

    #[test]
    fn translated_lookbehind_keeps_its_meaning() {
        let re = Regex::new(&format!(
            "^(?:{})$",
            without_lookbehind(r"^[0-9A-Za-z\.\-_]*(?<!\.)$")
        ))
        .unwrap();
        assert!(re.is_match("my-bucket.logs") && re.is_match(""));
        assert!(!re.is_match("bucket.") && !re.is_match("bad/bucket"));
    }

    #[test]
    fn sensitive_values_are_not_echoed() {
        let err = idp_model()
            .validate(
                "SignUpRequest",
                &json!({"ClientId": "abc", "Username": "u", "Password": ""}),
            )
            .unwrap_err();
        assert!(
            err.message.contains("Value at 'password'"),
            "{}",
            err.message
        );
    }

    #[test]
    fn every_pattern_in_the_model_compiles() {
        let m = idp_model();
        let with_pattern = m.shapes.values().filter(|s| s.pattern.is_some()).count();
        assert_eq!(
            with_pattern,
            m.patterns.len(),
            "a model pattern failed to compile"
        );
    }
}
