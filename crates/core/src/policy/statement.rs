//! Policy documents and their statements: parsing into the compiled form, and whether
//! one statement applies to a request.

use serde_json::{Map, Value};

use super::condition::{self, Condition};
use super::context::RequestContext;
use super::glob::Glob;
use super::principal::PrincipalBlock;
use super::template::Template;
use super::{PolicyError, string_list, syntax_error};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

/// How a statement is read: identity policies need Resource and match it; trust
/// policies match Principal and ignore Resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Identity,
    Trust,
}

#[derive(Debug, Clone)]
enum ResourcePattern {
    Static(Glob),
    /// Contains policy variables, substituted per request.
    Dynamic(Template),
}

impl ResourcePattern {
    fn matches(&self, resource: &str, ctx: &RequestContext) -> bool {
        match self {
            ResourcePattern::Static(g) => g.matches(resource),
            // A variable without a value makes the entry match nothing.
            ResourcePattern::Dynamic(t) => t.glob(Some(ctx)).is_some_and(|g| g.matches(resource)),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub(crate) effect: Effect,
    /// `NotAction` when true.
    not_action: bool,
    /// Lower-cased: actions compare case-insensitively.
    actions: Vec<Glob>,
    /// `(NotResource, patterns)`; `None` when the statement names no resource.
    resources: Option<(bool, Vec<ResourcePattern>)>,
    pub(crate) principal: Option<PrincipalBlock>,
    conditions: Vec<Condition>,
}

impl Statement {
    pub(crate) fn has_resource(&self) -> bool {
        self.resources.is_some()
    }

    pub(crate) fn applies(&self, ctx: &RequestContext, mode: Mode) -> bool {
        let action = ctx.action_lc();
        if self.actions.iter().any(|g| g.matches(action)) == self.not_action {
            return false;
        }
        match mode {
            Mode::Identity => {
                let Some((not, patterns)) = &self.resources else {
                    return false;
                };
                if patterns.iter().any(|p| p.matches(ctx.resource(), ctx)) == *not {
                    return false;
                }
                // IAM refuses principals in identity policies; a resource policy read
                // this way still honours them.
                if let Some(p) = &self.principal
                    && !p.applies(ctx.principal_ref())
                {
                    return false;
                }
            }
            Mode::Trust => match &self.principal {
                Some(p) if p.applies(ctx.principal_ref()) => {}
                _ => return false,
            },
        }
        self.conditions.iter().all(|c| c.holds(ctx))
    }
}

/// Parses a whole document into its statements.
pub(crate) fn parse_document(doc: &Value) -> Result<Vec<Statement>, PolicyError> {
    let Value::Object(top) = doc else {
        return Err(syntax_error());
    };
    let mut variables = false; // a document without Version is read as 2008-10-17
    let mut statements = None;
    for (k, v) in top {
        match k.as_str() {
            "Version" => match v.as_str() {
                Some("2012-10-17") => variables = true,
                Some("2008-10-17") => variables = false,
                Some(_) => return Err(PolicyError("The policy failed legacy parsing".into())),
                None => return Err(syntax_error()),
            },
            "Id" => {
                v.as_str().ok_or_else(syntax_error)?;
            }
            "Statement" => statements = Some(v),
            _ => return Err(syntax_error()),
        }
    }
    let statements =
        statements.ok_or_else(|| PolicyError("Missing required field Statement".into()))?;
    match statements {
        Value::Object(st) => Ok(vec![parse_statement(st, variables)?]),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Object(st) => parse_statement(st, variables),
                _ => Err(syntax_error()),
            })
            .collect(),
        _ => Err(syntax_error()),
    }
}

fn parse_statement(st: &Map<String, Value>, variables: bool) -> Result<Statement, PolicyError> {
    for k in st.keys() {
        if !matches!(
            k.as_str(),
            "Sid"
                | "Effect"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Principal"
                | "NotPrincipal"
                | "Condition"
        ) {
            return Err(syntax_error());
        }
    }
    if let Some(sid) = st.get("Sid") {
        sid.as_str().ok_or_else(syntax_error)?;
    }
    let effect = match st.get("Effect") {
        None => return Err(PolicyError("Missing required field Effect".into())),
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        // What IAM answers for `"Effect": "allow"`: the value is case-sensitive.
        Some(Value::String(_)) => {
            return Err(PolicyError("The policy failed legacy parsing".into()));
        }
        Some(_) => return Err(syntax_error()),
    };
    let (not_action, actions) = match (st.get("Action"), st.get("NotAction")) {
        (Some(_), Some(_)) => return Err(syntax_error()),
        (Some(a), None) => (false, string_list(a)?),
        (None, Some(a)) => (true, string_list(a)?),
        (None, None) => return Err(no_actions()),
    };
    if actions.is_empty() {
        return Err(no_actions());
    }
    for a in &actions {
        if a != "*" && !a.contains(':') {
            return Err(PolicyError(
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.".into(),
            ));
        }
    }
    let actions = actions
        .iter()
        .map(|a| Glob::compile(&a.to_lowercase()))
        .collect();
    let resources = match (st.get("Resource"), st.get("NotResource")) {
        (Some(_), Some(_)) => return Err(syntax_error()),
        (Some(r), None) => Some((false, resource_patterns(r, variables)?)),
        (None, Some(r)) => Some((true, resource_patterns(r, variables)?)),
        (None, None) => None,
    };
    let principal = match (st.get("Principal"), st.get("NotPrincipal")) {
        (Some(_), Some(_)) => return Err(syntax_error()),
        (Some(p), None) => Some(PrincipalBlock::parse(p, false)?),
        (None, Some(p)) => Some(PrincipalBlock::parse(p, true)?),
        (None, None) => None,
    };
    let conditions = match st.get("Condition") {
        Some(c) => condition::parse_block(c, variables)?,
        None => Vec::new(),
    };
    Ok(Statement {
        effect,
        not_action,
        actions,
        resources,
        principal,
        conditions,
    })
}

fn no_actions() -> PolicyError {
    PolicyError("Policy statement must contain actions.".into())
}

fn resource_patterns(v: &Value, variables: bool) -> Result<Vec<ResourcePattern>, PolicyError> {
    Ok(string_list(v)?
        .iter()
        .map(|r| {
            let t = Template::parse(r, variables);
            match t.glob(None) {
                Some(g) if !t.has_variables() => ResourcePattern::Static(g),
                _ => ResourcePattern::Dynamic(t),
            }
        })
        .collect())
}
