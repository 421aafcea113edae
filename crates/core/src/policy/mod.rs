//! IAM policy evaluation: the engine behind identity-pool credentials. A role's
//! permission policies (plus the session policy of AssumeRoleWithWebIdentity) decide
//! what temporary credentials may do; its trust policy decides who may assume it.
//!
//! Semantics are IAM's, from the user guide's "IAM JSON policy elements reference",
//! "IAM policy elements: Variables and tags" and "Policy evaluation logic": an explicit
//! Deny wins, otherwise something must Allow, otherwise the request is implicitly denied.
//! Documents are compiled once ([`Policy::parse`]) so that evaluation does no parsing.

mod condition;
mod context;
mod glob;
mod principal;
mod scalars;
mod statement;
mod template;

use serde_json::Value;

pub use context::{Principal, RequestContext};
pub(crate) use scalars::parse_date;
pub use scalars::{Cidr, parse_cidr};
use statement::{Effect, Mode, Statement};

/// A parsed policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    statements: Vec<Statement>,
}

/// Why a document is not a policy, worded as IAM's `MalformedPolicyDocument` messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

pub(crate) fn syntax_error() -> PolicyError {
    PolicyError("Syntax errors in policy.".into())
}

/// A string or an array of strings (Action, Resource, principal lists).
pub(crate) fn string_list(v: &Value) -> Result<Vec<String>, PolicyError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(syntax_error))
            .collect(),
        _ => Err(syntax_error()),
    }
}

impl Policy {
    /// Parses an IAM policy document (JSON text). Errors name the problem the way IAM's
    /// MalformedPolicyDocument messages do ("Syntax errors in policy.", "Policy document should not specify a principal.", ...).
    pub fn parse(json: &str) -> Result<Policy, PolicyError> {
        let doc: Value = serde_json::from_str(json).map_err(|_| syntax_error())?;
        Policy::from_value(&doc)
    }

    pub fn from_value(doc: &Value) -> Result<Policy, PolicyError> {
        Ok(Policy {
            statements: statement::parse_document(doc)?,
        })
    }

    /// True when some statement has a Principal/NotPrincipal (a trust/resource policy).
    pub fn has_principal(&self) -> bool {
        self.statements.iter().any(|s| s.principal.is_some())
    }

    /// The checks IAM adds for identity policies (PutRolePolicy, CreatePolicy): no
    /// principal, and a Resource or NotResource in every statement.
    pub fn validate_identity(&self) -> Result<(), PolicyError> {
        if self.has_principal() {
            return Err(PolicyError(
                "Policy document should not specify a principal.".into(),
            ));
        }
        if !self.statements.iter().all(Statement::has_resource) {
            return Err(PolicyError(
                "Policy statement must contain resources.".into(),
            ));
        }
        Ok(())
    }

    /// The checks IAM adds for a role's trust policy (CreateRole,
    /// UpdateAssumeRolePolicy): every statement names a principal and no resource.
    pub fn validate_trust(&self) -> Result<(), PolicyError> {
        if self.statements.iter().any(|s| s.principal.is_none()) {
            return Err(PolicyError("Missing required field Principal".into()));
        }
        if self.statements.iter().any(Statement::has_resource) {
            return Err(PolicyError("Has prohibited field Resource".into()));
        }
        Ok(())
    }
}

/// The decision of a set of policies on their own.
fn decide<'a>(
    policies: impl IntoIterator<Item = &'a Policy>,
    ctx: &RequestContext,
    mode: Mode,
) -> Decision {
    let mut allowed = false;
    for st in policies.into_iter().flat_map(|p| &p.statements) {
        match st.effect {
            // Once allowed, only a Deny can change the answer.
            Effect::Allow if allowed => {}
            Effect::Allow => allowed = st.applies(ctx, mode),
            Effect::Deny => {
                if st.applies(ctx, mode) {
                    return Decision::ExplicitDeny;
                }
            }
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// Identity-based evaluation: an explicit Deny in any policy wins; otherwise allowed only if some
/// identity policy allows AND (when a session policy is given) the session policy allows too.
pub fn evaluate(
    identity_policies: &[Policy],
    session_policy: Option<&Policy>,
    ctx: &RequestContext,
) -> Decision {
    let identity = decide(identity_policies, ctx, Mode::Identity);
    let Some(session) = session_policy else {
        return identity;
    };
    match (identity, decide([session], ctx, Mode::Identity)) {
        (Decision::ExplicitDeny, _) | (_, Decision::ExplicitDeny) => Decision::ExplicitDeny,
        (Decision::Allow, Decision::Allow) => Decision::Allow,
        _ => Decision::ImplicitDeny,
    }
}

/// Trust-policy evaluation (e.g. a role's AssumeRolePolicyDocument for sts:AssumeRoleWithWebIdentity):
/// statements match on Principal/NotPrincipal, Action/NotAction and Condition; Resource is not required.
pub fn evaluate_trust(trust: &Policy, ctx: &RequestContext) -> Decision {
    decide([trust], ctx, Mode::Trust)
}

#[cfg(test)]
mod tests;
