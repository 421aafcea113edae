//! The Principal / NotPrincipal element of trust and resource policies.

use serde_json::Value;

use super::PolicyError;
use super::context::Principal;

#[derive(Debug, Clone, Default)]
struct Lists {
    aws: Vec<String>,
    federated: Vec<String>,
    service: Vec<String>,
    /// Accepted for S3-style documents; no request principal of ours is one.
    canonical_user: Vec<String>,
}

#[derive(Debug, Clone)]
enum Spec {
    /// `"*"`: everyone, anonymous callers included.
    Everyone,
    Lists(Lists),
}

#[derive(Debug, Clone)]
pub(crate) struct PrincipalBlock {
    not: bool,
    spec: Spec,
}

impl PrincipalBlock {
    pub(crate) fn parse(v: &Value, not: bool) -> Result<PrincipalBlock, PolicyError> {
        let spec = match v {
            Value::String(s) if s == "*" => Spec::Everyone,
            Value::Object(map) => {
                let mut lists = Lists::default();
                for (k, v) in map {
                    let target = match k.as_str() {
                        "AWS" => &mut lists.aws,
                        "Federated" => &mut lists.federated,
                        "Service" => &mut lists.service,
                        "CanonicalUser" => &mut lists.canonical_user,
                        _ => return Err(super::syntax_error()),
                    };
                    *target = super::string_list(v)?;
                }
                Spec::Lists(lists)
            }
            _ => return Err(super::syntax_error()),
        };
        Ok(PrincipalBlock { not, spec })
    }

    /// Whether the statement applies to `who` (no principal in the request counts as
    /// an anonymous caller).
    pub(crate) fn applies(&self, who: Option<&Principal>) -> bool {
        let listed = match &self.spec {
            Spec::Everyone => true,
            Spec::Lists(l) => match who {
                Some(Principal::Aws(arn)) => l.aws.iter().any(|p| aws_matches(p, arn)),
                Some(Principal::Federated(f)) => l
                    .federated
                    .iter()
                    .any(|p| p == "*" || p.eq_ignore_ascii_case(f)),
                Some(Principal::Service(s)) => l
                    .service
                    .iter()
                    .any(|p| p == "*" || p.eq_ignore_ascii_case(s)),
                Some(Principal::Anonymous) | None => false,
            },
        };
        listed != self.not
    }
}

/// IAM's reading of an `"AWS"` principal: `*` is any AWS principal; an account id or
/// `arn:aws:iam::ACCOUNT:root` is every principal of that account; a role ARN also
/// names that role's sessions (`arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`).
fn aws_matches(policy: &str, who: &str) -> bool {
    if policy == "*" || policy == who {
        return true;
    }
    if let Some(account) = account_of_root(policy) {
        return account_of(who) == Some(account);
    }
    let (p, w) = (arn_fields(policy), arn_fields(who));
    if let (Some(p), Some(w)) = (p, w)
        && p[2] == "iam"
        && w[2] == "sts"
        && p[1] == w[1]
        && p[4] == w[4]
        && let (Some(role_path), Some(session)) = (
            p[5].strip_prefix("role/"),
            w[5].strip_prefix("assumed-role/"),
        )
    {
        let role_name = role_path.rsplit('/').next().unwrap_or(role_path);
        return session.split('/').next() == Some(role_name);
    }
    false
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn account_of_root(policy: &str) -> Option<&str> {
    if is_account_id(policy) {
        return Some(policy);
    }
    let f = arn_fields(policy)?;
    (f[2] == "iam" && f[5] == "root" && is_account_id(f[4])).then_some(f[4])
}

fn account_of(who: &str) -> Option<&str> {
    if is_account_id(who) {
        return Some(who);
    }
    arn_fields(who).map(|f| f[4])
}

fn arn_fields(s: &str) -> Option<[&str; 6]> {
    let mut it = s.splitn(6, ':');
    let f = [
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    ];
    (f[0] == "arn").then_some(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn block(v: Value) -> PrincipalBlock {
        PrincipalBlock::parse(&v, false).unwrap()
    }

    #[test]
    fn parse_errors() {
        assert!(PrincipalBlock::parse(&json!("arn:aws:iam::1:root"), false).is_err());
        assert!(PrincipalBlock::parse(&json!({"Bogus": "x"}), false).is_err());
        assert!(PrincipalBlock::parse(&json!({"AWS": 5}), false).is_err());
        assert!(PrincipalBlock::parse(&json!(["*"]), false).is_err());
    }

    #[test]
    fn everyone() {
        let b = block(json!("*"));
        assert!(b.applies(None));
        assert!(b.applies(Some(&Principal::Anonymous)));
        assert!(b.applies(Some(&Principal::Service("s3.amazonaws.com".into()))));
        let not = PrincipalBlock::parse(&json!("*"), true).unwrap();
        assert!(!not.applies(Some(&Principal::Anonymous)));
    }

    #[test]
    fn typed_lists() {
        let b = block(
            json!({"Federated": "cognito-identity.amazonaws.com", "Service": ["lambda.amazonaws.com"]}),
        );
        assert!(b.applies(Some(&Principal::Federated(
            "cognito-identity.amazonaws.com".into()
        ))));
        assert!(b.applies(Some(&Principal::Service("lambda.amazonaws.com".into()))));
        assert!(!b.applies(Some(&Principal::Federated("accounts.google.com".into()))));
        assert!(!b.applies(Some(&Principal::Aws(
            "cognito-identity.amazonaws.com".into()
        ))));
        assert!(!b.applies(None));
        let any_aws = block(json!({"AWS": "*"}));
        assert!(any_aws.applies(Some(&Principal::Aws(
            "arn:aws:iam::111122223333:user/x".into()
        ))));
        assert!(!any_aws.applies(Some(&Principal::Anonymous)));
        assert!(!any_aws.applies(Some(&Principal::Federated("x".into()))));
    }

    #[test]
    fn aws_accounts_and_roles() {
        let who = |s: &str| Some(Principal::Aws(s.to_string()));
        let acct = block(json!({"AWS": "111122223333"}));
        assert!(acct.applies(who("arn:aws:iam::111122223333:user/bob").as_ref()));
        assert!(!acct.applies(who("arn:aws:iam::444455556666:user/bob").as_ref()));
        let root = block(json!({"AWS": "arn:aws:iam::111122223333:root"}));
        assert!(root.applies(who("111122223333").as_ref()));
        assert!(root.applies(who("arn:aws:sts::111122223333:assumed-role/R/s").as_ref()));
        let role = block(json!({"AWS": "arn:aws:iam::111122223333:role/team/Reader"}));
        assert!(role.applies(who("arn:aws:sts::111122223333:assumed-role/Reader/sess").as_ref()));
        assert!(role.applies(who("arn:aws:iam::111122223333:role/team/Reader").as_ref()));
        assert!(!role.applies(who("arn:aws:sts::111122223333:assumed-role/Writer/sess").as_ref()));
        assert!(!role.applies(who("arn:aws:sts::444455556666:assumed-role/Reader/s").as_ref()));
        let user = block(json!({"AWS": "arn:aws:iam::111122223333:user/bob"}));
        assert!(!user.applies(who("arn:aws:iam::111122223333:user/alice").as_ref()));
    }
}
