//! The pool password policy, with Cognito's `InvalidPasswordException` messages.

use crate::error::DomainError;
use serde_json::Value;

/// Cognito's special characters for passwords.
pub const SPECIAL: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ";

#[derive(Debug, Clone, PartialEq)]
pub struct PasswordPolicy {
    pub minimum_length: usize,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_numbers: bool,
    pub require_symbols: bool,
    pub temporary_password_validity_days: i64,
    pub password_history_size: usize,
}

impl Default for PasswordPolicy {
    /// Cognito's default when a pool is created without a policy.
    fn default() -> Self {
        PasswordPolicy {
            minimum_length: 8,
            require_uppercase: true,
            require_lowercase: true,
            require_numbers: true,
            require_symbols: true,
            temporary_password_validity_days: 7,
            password_history_size: 0,
        }
    }
}

impl PasswordPolicy {
    /// From a pool's `Policies.PasswordPolicy` document.
    pub fn from_pool_config(config: &Value) -> Self {
        let p = &config["Policies"]["PasswordPolicy"];
        if !p.is_object() {
            return PasswordPolicy::default();
        }
        let flag = |k: &str| p[k].as_bool().unwrap_or(false);
        PasswordPolicy {
            minimum_length: p["MinimumLength"].as_u64().unwrap_or(8) as usize,
            require_uppercase: flag("RequireUppercase"),
            require_lowercase: flag("RequireLowercase"),
            require_numbers: flag("RequireNumbers"),
            require_symbols: flag("RequireSymbols"),
            temporary_password_validity_days: p["TemporaryPasswordValidityDays"]
                .as_i64()
                .unwrap_or(7),
            password_history_size: p["PasswordHistorySize"].as_u64().unwrap_or(0) as usize,
        }
    }

    /// The default policy as Cognito returns it in DescribeUserPool.
    pub fn default_document() -> Value {
        serde_json::json!({
            "MinimumLength": 8,
            "RequireUppercase": true,
            "RequireLowercase": true,
            "RequireNumbers": true,
            "RequireSymbols": true,
            "TemporaryPasswordValidityDays": 7
        })
    }

    /// Checks `password`, reporting the first unmet rule in Cognito's words.
    pub fn check(&self, password: &str) -> Result<(), DomainError> {
        let fail = |m: &str| {
            Err(DomainError::InvalidPassword(format!(
                "Password did not conform with policy: {m}"
            )))
        };
        if password.chars().count() < self.minimum_length {
            return fail("Password not long enough");
        }
        if self.require_lowercase && !password.chars().any(|c| c.is_ascii_lowercase()) {
            return fail("Password must have lowercase characters");
        }
        if self.require_uppercase && !password.chars().any(|c| c.is_ascii_uppercase()) {
            return fail("Password must have uppercase characters");
        }
        if self.require_numbers && !password.chars().any(|c| c.is_ascii_digit()) {
            return fail("Password must have numeric characters");
        }
        if self.require_symbols && !password.chars().any(|c| SPECIAL.contains(c)) {
            return fail("Password must have symbol characters");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cognito_messages_in_cognito_order() {
        let p = PasswordPolicy::default();
        let msg = |pw: &str| match p.check(pw) {
            Err(DomainError::InvalidPassword(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            msg("short"),
            "Password did not conform with policy: Password not long enough"
        );
        assert_eq!(
            msg("ALLUPPER1!"),
            "Password did not conform with policy: Password must have lowercase characters"
        );
        assert_eq!(
            msg("alllower1!"),
            "Password did not conform with policy: Password must have uppercase characters"
        );
        assert_eq!(
            msg("NoNumbers!"),
            "Password did not conform with policy: Password must have numeric characters"
        );
        assert_eq!(
            msg("NoSymbols1"),
            "Password did not conform with policy: Password must have symbol characters"
        );
        assert!(p.check("Good-Passw0rd").is_ok());
    }

    #[test]
    fn policy_from_document() {
        let cfg = serde_json::json!({"Policies": {"PasswordPolicy": {"MinimumLength": 6}}});
        let p = PasswordPolicy::from_pool_config(&cfg);
        assert!(p.check("abcdef").is_ok());
        assert!(p.check("abcde").is_err());
    }
}
