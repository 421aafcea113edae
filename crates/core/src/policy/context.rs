//! The request context: what is being asked for, by whom, and the condition keys.

use std::borrow::Cow;
use std::collections::HashMap;

/// Who is asking, for trust policies' Principal / NotPrincipal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An account id or an IAM/STS ARN.
    Aws(String),
    /// A web identity or SAML provider, e.g. `cognito-identity.amazonaws.com`.
    Federated(String),
    /// An AWS service, e.g. `lambda.amazonaws.com`.
    Service(String),
    Anonymous,
}

#[derive(Debug, Clone, Default)]
struct KeyValues {
    values: Vec<String>,
    /// Set through `with_values`/`set`: such a key is never substituted for a policy
    /// variable, even when it holds one value, as IAM refuses multi-valued keys there.
    multi: bool,
}

#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    action: String,
    /// `action` lower-cased once, since action patterns are case-insensitive.
    action_lc: String,
    resource: String,
    principal: Option<Principal>,
    /// Keyed by the lower-cased key name: condition key names are case-insensitive.
    keys: HashMap<String, KeyValues>,
}

fn lower(key: &str) -> Cow<'_, str> {
    if key.chars().any(char::is_uppercase) {
        Cow::Owned(key.to_lowercase())
    } else {
        Cow::Borrowed(key)
    }
}

impl RequestContext {
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        let action = action.into();
        RequestContext {
            action_lc: action.to_lowercase(),
            action,
            resource: resource.into(),
            principal: None,
            keys: HashMap::new(),
        }
    }

    pub fn principal(mut self, p: Principal) -> Self {
        self.principal = Some(p);
        self
    }

    /// Sets a single-valued condition key (key names are case-insensitive: `aws:SourceIp` == `AWS:sourceip`).
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.keys.insert(
            lower(key).into_owned(),
            KeyValues {
                values: vec![value.into()],
                multi: false,
            },
        );
        self
    }

    /// Sets a multi-valued key (for ForAnyValue/ForAllValues), e.g. `cognito-identity.amazonaws.com:amr`.
    pub fn with_values(mut self, key: &str, values: Vec<String>) -> Self {
        self.set(key, values);
        self
    }

    /// Sets a multi-valued key, like [`RequestContext::with_values`]; use
    /// [`RequestContext::with`] for a key that policy variables may name.
    pub fn set(&mut self, key: &str, values: Vec<String>) {
        self.keys.insert(
            lower(key).into_owned(),
            KeyValues {
                values,
                multi: true,
            },
        );
    }

    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.get_lc(&lower(key))
    }

    pub fn action(&self) -> &str {
        &self.action
    }

    pub fn resource(&self) -> &str {
        &self.resource
    }

    pub fn principal_ref(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    pub(crate) fn action_lc(&self) -> &str {
        &self.action_lc
    }

    /// Lookup by an already lower-cased key (policies lower-case theirs at parse time).
    pub(crate) fn get_lc(&self, key_lc: &str) -> Option<&[String]> {
        self.keys.get(key_lc).map(|k| k.values.as_slice())
    }

    /// The value a policy variable `${key}` stands for: only a single-valued key has one.
    pub(crate) fn variable(&self, key_lc: &str) -> Option<&str> {
        match self.keys.get(key_lc) {
            Some(KeyValues {
                values,
                multi: false,
            }) if values.len() == 1 => Some(values[0].as_str()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive() {
        let ctx = RequestContext::new("s3:GetObject", "arn:aws:s3:::b/k")
            .with("aws:SourceIp", "10.0.0.1")
            .with_values("AMR", vec!["a".into(), "b".into()]);
        assert_eq!(ctx.get("AWS:sourceip"), Some(&["10.0.0.1".to_string()][..]));
        assert_eq!(ctx.get("amr").map(<[String]>::len), Some(2));
        assert_eq!(ctx.get("missing"), None);
        assert_eq!(ctx.action_lc(), "s3:getobject");
        assert_eq!(ctx.variable("aws:sourceip"), Some("10.0.0.1"));
        assert_eq!(ctx.variable("amr"), None);
    }

    #[test]
    fn set_replaces_and_is_multi_valued() {
        let mut ctx = RequestContext::new("a:b", "*").with("k", "v");
        ctx.set("K", vec!["w".into()]);
        assert_eq!(ctx.get("k"), Some(&["w".to_string()][..]));
        assert_eq!(ctx.variable("k"), None);
    }
}
