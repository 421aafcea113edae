//! ListUsers' `Filter`: `AttributeName Filter-Type "AttributeValue"`, with `=` (exact)
//! and `^=` (prefix) on the attributes Cognito can search.

use crate::error::DomainError;
use idpool_store::{FilterOp, IndexedAttr, UserFilter};

/// Parses `filter`; `None` for an empty filter. `case_insensitive_usernames` lower-cases
/// a username value, since those pools store the lower-cased key.
pub fn parse(
    filter: &str,
    case_insensitive_usernames: bool,
) -> Result<Option<UserFilter>, DomainError> {
    let f = filter.trim();
    if f.is_empty() {
        return Ok(None);
    }
    let bad = || DomainError::InvalidParameter("Error while parsing filter".to_string());
    let (name, op, rest) = if let Some(i) = f.find("^=") {
        (&f[..i], FilterOp::Prefix, &f[i + 2..])
    } else if let Some(i) = f.find('=') {
        (&f[..i], FilterOp::Equals, &f[i + 1..])
    } else {
        return Err(bad());
    };
    let name = name.trim();
    let rest = rest.trim();
    let value = rest
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or_else(bad)?;
    let value = value.replace("\\\"", "\"");
    let attr = match name {
        "username" => IndexedAttr::Username,
        "email" => IndexedAttr::Email,
        "phone_number" => IndexedAttr::PhoneNumber,
        "name" => IndexedAttr::Name,
        "given_name" => IndexedAttr::GivenName,
        "family_name" => IndexedAttr::FamilyName,
        "preferred_username" => IndexedAttr::PreferredUsername,
        "cognito:user_status" => IndexedAttr::UserStatus,
        "status" => IndexedAttr::Enabled,
        "sub" => IndexedAttr::Sub,
        other => {
            return Err(DomainError::InvalidParameter(format!(
                "Invalid search attribute: {other}"
            )));
        }
    };
    let value = if attr == IndexedAttr::Username && case_insensitive_usernames {
        value.to_lowercase()
    } else {
        value
    };
    Ok(Some(UserFilter { attr, op, value }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        let f = parse("email ^= \"ann\"", true).unwrap().unwrap();
        assert_eq!(
            (f.attr, f.op, f.value.as_str()),
            (IndexedAttr::Email, FilterOp::Prefix, "ann")
        );
        let f = parse("username=\"Ann\"", true).unwrap().unwrap();
        assert_eq!(
            (f.attr, f.op, f.value.as_str()),
            (IndexedAttr::Username, FilterOp::Equals, "ann")
        );
        let f = parse("cognito:user_status = \"UNCONFIRMED\"", false)
            .unwrap()
            .unwrap();
        assert_eq!(f.attr, IndexedAttr::UserStatus);
        assert!(parse("", false).unwrap().is_none());
        assert!(parse("email = ann", false).is_err());
        assert!(parse("custom:x = \"1\"", false).is_err());
        assert!(parse("nonsense", false).is_err());
    }
}
