//! The Condition element: operators, set qualifiers, `IfExists`, and how missing keys
//! evaluate.
//!
//! Logic, from IAM's user guide ("Conditions with multiple context keys or values" and
//! "IAM JSON policy elements: Condition operators"):
//! - operators in a block AND together, keys under one operator AND together, several
//!   policy values for one key OR together; for a negated operator (StringNotEquals,
//!   NotIpAddress, ArnNotLike, ...) they NOR together: the request value must match none.
//! - a key absent from the request makes a condition false, except that a negated
//!   operator is then true ("If the policy condition requires that the key is not
//!   matched, such as StringNotLike or ArnNotLike, and the right key is not present, the
//!   condition is true"); `...IfExists` makes any absent key true; `Null` tests presence.
//! - `ForAnyValue:` is true when some request value satisfies the operator and false for
//!   an absent or empty key; `ForAllValues:` is true when every request value does, and
//!   true for an absent or empty key.

use serde_json::Value;

use super::PolicyError;
use super::context::RequestContext;
use super::glob::{Glob, Tok};
use super::scalars::{Cidr, parse_cidr, parse_date, parse_ip, parse_number};
use super::template::Template;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQualifier {
    None,
    AnyValue,
    AllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ordering {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Ordering {
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Ordering::Eq => request == policy,
            Ordering::Lt => request < policy,
            Ordering::Le => request <= policy,
            Ordering::Gt => request > policy,
            Ordering::Ge => request >= policy,
        }
    }
}

/// A policy value that may contain policy variables: resolved per request when it does.
#[derive(Debug, Clone)]
enum Dyn<T> {
    Static(T),
    Dynamic(Template),
}

/// ARN patterns compare each of the six colon-separated fields separately, so a `*` in
/// the region never swallows the account.
#[derive(Debug, Clone)]
enum ArnPattern {
    /// A bare `*`: any value.
    Any,
    Fields(Vec<Glob>),
    /// Not an ARN (fewer than six fields): matches nothing.
    Invalid,
}

impl ArnPattern {
    fn from_tokens(toks: Vec<Tok>) -> ArnPattern {
        if toks == [Tok::Star] {
            return ArnPattern::Any;
        }
        let mut fields: Vec<Vec<Tok>> = vec![Vec::new()];
        for t in toks {
            if t == Tok::Char(':') && fields.len() < 6 {
                fields.push(Vec::new());
            } else if let Some(last) = fields.last_mut() {
                last.push(t);
            }
        }
        if fields.len() < 6 {
            return ArnPattern::Invalid;
        }
        ArnPattern::Fields(fields.into_iter().map(Glob::from_tokens).collect())
    }

    fn matches(&self, value: &str) -> bool {
        match self {
            ArnPattern::Any => true,
            ArnPattern::Invalid => false,
            ArnPattern::Fields(globs) => {
                let parts: Vec<&str> = value.splitn(6, ':').collect();
                parts.len() == 6 && globs.iter().zip(parts).all(|(g, p)| g.matches(p))
            }
        }
    }
}

/// The compiled policy values of one key, by operator family.
#[derive(Debug, Clone)]
enum Matcher {
    /// StringEquals / StringEqualsIgnoreCase (values lower-cased when `ignore_case`).
    Str {
        ignore_case: bool,
        values: Vec<Dyn<String>>,
    },
    Like(Vec<Dyn<Glob>>),
    Numeric(Ordering, Vec<Option<f64>>),
    Date(Ordering, Vec<Option<i128>>),
    Bool(Vec<Dyn<Option<bool>>>),
    Binary(Vec<String>),
    Ip(Vec<Option<Cidr>>),
    Arn(Vec<Dyn<ArnPattern>>),
    /// `true`: the key must be absent; `false`: present.
    Null(Vec<Option<bool>>),
}

#[derive(Debug, Clone)]
pub(crate) struct Condition {
    qualifier: SetQualifier,
    negated: bool,
    if_exists: bool,
    /// Lower-cased condition key.
    key: String,
    matcher: Matcher,
}

#[derive(Clone, Copy)]
enum Family {
    Str(bool),
    Like,
    Numeric(Ordering),
    Date(Ordering),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

/// Operator name (without qualifier or `IfExists`) → family and whether it is negated.
/// Names are matched case-insensitively.
fn operator(name: &str) -> Option<(Family, bool)> {
    use Ordering::*;
    let lc = name.to_ascii_lowercase();
    Some(match lc.as_str() {
        "stringequals" => (Family::Str(false), false),
        "stringnotequals" => (Family::Str(false), true),
        "stringequalsignorecase" => (Family::Str(true), false),
        "stringnotequalsignorecase" => (Family::Str(true), true),
        "stringlike" => (Family::Like, false),
        "stringnotlike" => (Family::Like, true),
        "numericequals" => (Family::Numeric(Eq), false),
        "numericnotequals" => (Family::Numeric(Eq), true),
        "numericlessthan" => (Family::Numeric(Lt), false),
        "numericlessthanequals" => (Family::Numeric(Le), false),
        "numericgreaterthan" => (Family::Numeric(Gt), false),
        "numericgreaterthanequals" => (Family::Numeric(Ge), false),
        "dateequals" => (Family::Date(Eq), false),
        "datenotequals" => (Family::Date(Eq), true),
        "datelessthan" => (Family::Date(Lt), false),
        "datelessthanequals" => (Family::Date(Le), false),
        "dategreaterthan" => (Family::Date(Gt), false),
        "dategreaterthanequals" => (Family::Date(Ge), false),
        "bool" => (Family::Bool, false),
        "binaryequals" => (Family::Binary, false),
        "ipaddress" => (Family::Ip, false),
        "notipaddress" => (Family::Ip, true),
        "arnequals" | "arnlike" => (Family::Arn, false),
        "arnnotequals" | "arnnotlike" => (Family::Arn, true),
        "null" => (Family::Null, false),
        _ => return None,
    })
}

/// Parses a statement's `Condition` object.
pub(crate) fn parse_block(block: &Value, variables: bool) -> Result<Vec<Condition>, PolicyError> {
    let Value::Object(ops) = block else {
        return Err(super::syntax_error());
    };
    let mut out = Vec::new();
    for (op_name, keys) in ops {
        let invalid = || PolicyError(format!("Invalid Condition type : {op_name}."));
        let lc = op_name.to_ascii_lowercase();
        let (qualifier, rest) = if lc.starts_with("foranyvalue:") {
            (SetQualifier::AnyValue, &op_name["foranyvalue:".len()..])
        } else if lc.starts_with("forallvalues:") {
            (SetQualifier::AllValues, &op_name["forallvalues:".len()..])
        } else {
            (SetQualifier::None, op_name.as_str())
        };
        let (base, if_exists) = match rest.len().checked_sub("ifexists".len()) {
            Some(cut)
                if rest.is_char_boundary(cut) && rest[cut..].eq_ignore_ascii_case("ifexists") =>
            {
                (&rest[..cut], true)
            }
            _ => (rest, false),
        };
        let (family, negated) = operator(base).ok_or_else(invalid)?;
        if matches!(family, Family::Null) && if_exists {
            return Err(invalid());
        }
        let Value::Object(keys) = keys else {
            return Err(super::syntax_error());
        };
        for (key, values) in keys {
            let values = scalar_strings(values)?;
            out.push(Condition {
                qualifier,
                negated,
                if_exists,
                key: key.to_lowercase(),
                matcher: compile(family, &values, variables),
            });
        }
    }
    Ok(out)
}

/// A condition value is a string, number or boolean, or an array of those.
fn scalar_strings(v: &Value) -> Result<Vec<String>, PolicyError> {
    fn one(v: &Value) -> Result<String, PolicyError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(super::syntax_error()),
        }
    }
    match v {
        Value::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn compile(family: Family, values: &[String], variables: bool) -> Matcher {
    // Only the string, ARN and Bool operators take policy variables (IAM's operator
    // reference lists "Policy variables: Supported" for exactly those).
    match family {
        Family::Str(ignore_case) => Matcher::Str {
            ignore_case,
            values: values
                .iter()
                .map(|s| {
                    let t = Template::parse(s, variables);
                    match t.resolve(None) {
                        Some(s) if !t.has_variables() => {
                            Dyn::Static(if ignore_case { s.to_lowercase() } else { s })
                        }
                        _ => Dyn::Dynamic(t),
                    }
                })
                .collect(),
        },
        Family::Like => Matcher::Like(
            values
                .iter()
                .map(|s| {
                    let t = Template::parse(s, variables);
                    match t.glob(None) {
                        Some(g) if !t.has_variables() => Dyn::Static(g),
                        _ => Dyn::Dynamic(t),
                    }
                })
                .collect(),
        ),
        Family::Arn => Matcher::Arn(
            values
                .iter()
                .map(|s| {
                    let t = Template::parse(s, variables);
                    match t.resolve_tokens(None) {
                        Some(toks) if !t.has_variables() => {
                            Dyn::Static(ArnPattern::from_tokens(toks))
                        }
                        _ => Dyn::Dynamic(t),
                    }
                })
                .collect(),
        ),
        Family::Bool => Matcher::Bool(
            values
                .iter()
                .map(|s| {
                    let t = Template::parse(s, variables);
                    match t.resolve(None) {
                        Some(s) if !t.has_variables() => Dyn::Static(parse_bool(&s)),
                        _ => Dyn::Dynamic(t),
                    }
                })
                .collect(),
        ),
        Family::Numeric(ord) => {
            Matcher::Numeric(ord, values.iter().map(|s| parse_number(s)).collect())
        }
        Family::Date(ord) => Matcher::Date(ord, values.iter().map(|s| parse_date(s)).collect()),
        Family::Binary => Matcher::Binary(values.to_vec()),
        Family::Ip => Matcher::Ip(values.iter().map(|s| parse_cidr(s)).collect()),
        Family::Null => Matcher::Null(values.iter().map(|s| parse_bool(s)).collect()),
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// What one request value says against the policy values of a key.
enum Outcome {
    /// Some policy value matched it.
    Hit,
    Miss,
    /// The request value is not of the operator's type (not a number, date, IP or
    /// boolean): the comparison is false whether or not the operator is negated.
    Unreadable,
}

impl Matcher {
    fn outcome(&self, value: &str, ctx: &RequestContext) -> Outcome {
        let hit = |b: bool| if b { Outcome::Hit } else { Outcome::Miss };
        match self {
            Matcher::Str {
                ignore_case,
                values,
            } => {
                let folded;
                let value = if *ignore_case {
                    folded = value.to_lowercase();
                    folded.as_str()
                } else {
                    value
                };
                hit(values.iter().any(|p| match p {
                    Dyn::Static(s) => s == value,
                    Dyn::Dynamic(t) => t.resolve(Some(ctx)).is_some_and(|s| {
                        if *ignore_case {
                            s.to_lowercase() == value
                        } else {
                            s == value
                        }
                    }),
                }))
            }
            Matcher::Like(values) => hit(values.iter().any(|p| match p {
                Dyn::Static(g) => g.matches(value),
                Dyn::Dynamic(t) => t.glob(Some(ctx)).is_some_and(|g| g.matches(value)),
            })),
            Matcher::Arn(values) => hit(values.iter().any(|p| match p {
                Dyn::Static(a) => a.matches(value),
                Dyn::Dynamic(t) => t
                    .resolve_tokens(Some(ctx))
                    .is_some_and(|toks| ArnPattern::from_tokens(toks).matches(value)),
            })),
            Matcher::Bool(values) => {
                let Some(v) = parse_bool(value) else {
                    return Outcome::Unreadable;
                };
                hit(values.iter().any(|p| match p {
                    Dyn::Static(b) => *b == Some(v),
                    Dyn::Dynamic(t) => t
                        .resolve(Some(ctx))
                        .is_some_and(|s| parse_bool(&s) == Some(v)),
                }))
            }
            Matcher::Numeric(ord, values) => {
                let Some(v) = parse_number(value) else {
                    return Outcome::Unreadable;
                };
                hit(values.iter().flatten().any(|p| ord.holds(v, *p)))
            }
            Matcher::Date(ord, values) => {
                let Some(v) = parse_date(value) else {
                    return Outcome::Unreadable;
                };
                hit(values.iter().flatten().any(|p| ord.holds(v, *p)))
            }
            Matcher::Binary(values) => hit(values.iter().any(|p| p == value)),
            Matcher::Ip(values) => {
                let Some(ip) = parse_ip(value) else {
                    return Outcome::Unreadable;
                };
                hit(values.iter().flatten().any(|c| c.contains(ip)))
            }
            Matcher::Null(_) => unreachable!("Null is decided on presence alone"),
        }
    }
}

impl Condition {
    pub(crate) fn holds(&self, ctx: &RequestContext) -> bool {
        // An empty multi-valued key counts as absent (ForAllValues' "empty or missing").
        let values = ctx.get_lc(&self.key).filter(|v| !v.is_empty());
        if let Matcher::Null(expect) = &self.matcher {
            let absent = values.is_none();
            return expect.contains(&Some(absent));
        }
        let Some(values) = values else {
            if self.if_exists {
                return true;
            }
            return match self.qualifier {
                SetQualifier::AnyValue => false,
                SetQualifier::AllValues => true,
                SetQualifier::None => self.negated,
            };
        };
        // Whether one request value satisfies the operator (a negated operator: matches
        // none of the policy values).
        let satisfies = |v: &String| match self.matcher.outcome(v, ctx) {
            Outcome::Hit => !self.negated,
            Outcome::Miss => self.negated,
            Outcome::Unreadable => false,
        };
        match self.qualifier {
            SetQualifier::AnyValue => values.iter().any(satisfies),
            SetQualifier::AllValues => values.iter().all(satisfies),
            // Without a qualifier a multi-valued key behaves as the operator applied to
            // the whole set: positive when any value matches, negated when none does.
            SetQualifier::None if self.negated => values.iter().all(satisfies),
            SetQualifier::None => values.iter().any(satisfies),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conds(block: Value) -> Vec<Condition> {
        parse_block(&block, true).unwrap()
    }

    fn holds(block: Value, ctx: &RequestContext) -> bool {
        conds(block).iter().all(|c| c.holds(ctx))
    }

    fn ctx() -> RequestContext {
        RequestContext::new("s3:GetObject", "arn:aws:s3:::b/k")
    }

    #[test]
    fn unknown_operator_is_rejected() {
        let err = parse_block(&json!({"StringEqualz": {"k": "v"}}), true).unwrap_err();
        assert_eq!(err.0, "Invalid Condition type : StringEqualz.");
        let err = parse_block(&json!({"NullIfExists": {"k": "true"}}), true).unwrap_err();
        assert_eq!(err.0, "Invalid Condition type : NullIfExists.");
        let err = parse_block(&json!({"ForSomeValues:StringLike": {"k": "v"}}), true).unwrap_err();
        assert_eq!(err.0, "Invalid Condition type : ForSomeValues:StringLike.");
        assert!(parse_block(&json!({"StringEquals": "v"}), true).is_err());
        assert!(parse_block(&json!({"StringEquals": {"k": {"a": 1}}}), true).is_err());
        assert!(parse_block(&json!({"StringEquals": {"k": null}}), true).is_err());
        assert!(parse_block(&json!([]), true).is_err());
    }

    #[test]
    fn string_operators() {
        let c = ctx().with("aws:username", "Alice");
        assert!(holds(
            json!({"StringEquals": {"aws:username": "Alice"}}),
            &c
        ));
        assert!(!holds(
            json!({"StringEquals": {"aws:username": "alice"}}),
            &c
        ));
        assert!(holds(
            json!({"StringEquals": {"AWS:UserName": ["x", "Alice"]}}),
            &c
        ));
        assert!(holds(
            json!({"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}),
            &c
        ));
        assert!(!holds(
            json!({"StringNotEqualsIgnoreCase": {"aws:username": "aLiCe"}}),
            &c
        ));
        assert!(holds(
            json!({"StringNotEquals": {"aws:username": ["bob", "carol"]}}),
            &c
        ));
        assert!(!holds(
            json!({"StringNotEquals": {"aws:username": ["bob", "Alice"]}}),
            &c
        ));
        assert!(holds(json!({"StringLike": {"aws:username": "Al*"}}), &c));
        assert!(holds(json!({"StringLike": {"aws:username": "?lice"}}), &c));
        assert!(!holds(json!({"StringLike": {"aws:username": "al*"}}), &c));
        assert!(holds(json!({"StringNotLike": {"aws:username": "B*"}}), &c));
        assert!(!holds(
            json!({"StringNotLike": {"aws:username": ["B*", "A*"]}}),
            &c
        ));
        // StringEquals has no wildcards.
        assert!(!holds(json!({"StringEquals": {"aws:username": "A*"}}), &c));
    }

    #[test]
    fn variables_in_values() {
        let c = ctx()
            .with("aws:username", "alice")
            .with("s3:prefix", "alice/photos/");
        assert!(holds(
            json!({"StringLike": {"s3:prefix": "${aws:username}/*"}}),
            &c
        ));
        assert!(holds(
            json!({"StringEquals": {"s3:prefix": "${aws:username}/photos/"}}),
            &c
        ));
        // Unresolvable: a positive operator does not match, a negated one does.
        assert!(!holds(
            json!({"StringLike": {"s3:prefix": "${aws:userid}/*"}}),
            &c
        ));
        assert!(holds(
            json!({"StringNotLike": {"s3:prefix": "${aws:userid}/*"}}),
            &c
        ));
        assert!(holds(
            json!({"StringLike": {"s3:prefix": "${aws:userid, 'alice'}/*"}}),
            &c
        ));
        // 2008-10-17: the text is literal.
        let old = parse_block(
            &json!({"StringLike": {"s3:prefix": "${aws:username}/*"}}),
            false,
        )
        .unwrap();
        assert!(!old[0].holds(&c));
    }

    #[test]
    fn numeric_operators() {
        let c = ctx().with("s3:max-keys", "10");
        let t = |op: &str, v: Value| holds(json!({op: {"s3:max-keys": v}}), &c);
        assert!(t("NumericEquals", json!("10")));
        assert!(t("NumericEquals", json!(10)));
        assert!(t("NumericEquals", json!("10.0")));
        assert!(!t("NumericNotEquals", json!(10)));
        assert!(t("NumericNotEquals", json!([11, 12])));
        assert!(t("NumericLessThan", json!(11)));
        assert!(!t("NumericLessThan", json!(10)));
        assert!(t("NumericLessThanEquals", json!(10)));
        assert!(t("NumericGreaterThan", json!(9.5)));
        assert!(!t("NumericGreaterThan", json!(10)));
        assert!(t("NumericGreaterThanEquals", json!(10)));
        assert!(!t("NumericEquals", json!("ten")));
        let bad = ctx().with("s3:max-keys", "lots");
        assert!(!holds(
            json!({"NumericLessThan": {"s3:max-keys": 100}}),
            &bad
        ));
        assert!(!holds(
            json!({"NumericNotEquals": {"s3:max-keys": 100}}),
            &bad
        ));
    }

    #[test]
    fn date_operators() {
        let c = ctx().with("aws:CurrentTime", "2026-06-01T12:00:00Z");
        let t = |op: &str, v: &str| holds(json!({op: {"aws:CurrentTime": v}}), &c);
        assert!(t("DateGreaterThan", "2026-01-01T00:00:00Z"));
        assert!(t("DateLessThan", "2027-01-01"));
        assert!(!t("DateLessThan", "2026-06-01T12:00:00Z"));
        assert!(t("DateLessThanEquals", "2026-06-01T12:00:00Z"));
        assert!(t("DateGreaterThanEquals", "2026-06-01T14:00:00+02:00"));
        assert!(t("DateEquals", "2026-06-01T12:00:00.000Z"));
        assert!(t("DateEquals", "1780315200"));
        assert!(!t("DateNotEquals", "2026-06-01T12:00:00Z"));
        assert!(t("DateNotEquals", "2026-06-02"));
        let epoch = ctx().with("aws:EpochTime", "1780315200");
        assert!(holds(
            json!({"DateEquals": {"aws:EpochTime": "2026-06-01T12:00:00Z"}}),
            &epoch
        ));
        let bad = ctx().with("aws:CurrentTime", "soon");
        assert!(!holds(
            json!({"DateLessThan": {"aws:CurrentTime": "2030-01-01"}}),
            &bad
        ));
    }

    #[test]
    fn bool_binary_ip_arn() {
        let c = ctx()
            .with("aws:SecureTransport", "true")
            .with("k:bin", "QmluYXJ5")
            .with("aws:SourceIp", "203.0.113.7")
            .with("aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:topic");
        assert!(holds(json!({"Bool": {"aws:SecureTransport": "true"}}), &c));
        assert!(holds(json!({"Bool": {"aws:SecureTransport": true}}), &c));
        assert!(!holds(
            json!({"Bool": {"aws:SecureTransport": "false"}}),
            &c
        ));
        assert!(!holds(json!({"Bool": {"aws:SecureTransport": "yes"}}), &c));
        assert!(holds(json!({"BinaryEquals": {"k:bin": "QmluYXJ5"}}), &c));
        assert!(!holds(json!({"BinaryEquals": {"k:bin": "QmluYXJ6"}}), &c));
        assert!(holds(
            json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
            &c
        ));
        assert!(holds(
            json!({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "203.0.113.7"]}}),
            &c
        ));
        assert!(!holds(
            json!({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
            &c
        ));
        assert!(holds(
            json!({"NotIpAddress": {"aws:SourceIp": "2001:db8::/32"}}),
            &c
        ));
        let arn = |op: &str, v: &str| holds(json!({op: {"aws:SourceArn": v}}), &c);
        assert!(arn("ArnEquals", "arn:aws:sns:us-east-1:123456789012:topic"));
        assert!(arn("ArnLike", "arn:aws:sns:*:123456789012:*"));
        assert!(arn("ArnLike", "arn:aws:sns:us-east-?:*:topic"));
        assert!(arn("ArnLike", "*"));
        // A `*` stays inside its field.
        assert!(!arn("ArnLike", "arn:aws:*:topic"));
        assert!(!arn("ArnLike", "arn:aws:sns:*:999999999999:*"));
        assert!(arn("ArnNotLike", "arn:aws:sqs:*:*:*"));
        assert!(!arn(
            "ArnNotEquals",
            "arn:aws:sns:us-east-1:123456789012:topic"
        ));
        let not_arn = ctx().with("aws:SourceArn", "topic");
        assert!(!holds(
            json!({"ArnLike": {"aws:SourceArn": "arn:*:*:*:*:*"}}),
            &not_arn
        ));
    }

    #[test]
    fn arn_resource_part_keeps_its_colons() {
        let c = ctx().with("k", "arn:aws:logs:us-east-1:1:log-group:g:*");
        assert!(holds(
            json!({"ArnLike": {"k": "arn:aws:logs:*:*:log-group:g:*"}}),
            &c
        ));
    }

    #[test]
    fn missing_keys() {
        let c = ctx();
        assert!(!holds(json!({"StringEquals": {"k": "v"}}), &c));
        assert!(holds(json!({"StringNotEquals": {"k": "v"}}), &c));
        assert!(holds(json!({"StringNotLike": {"k": "v"}}), &c));
        assert!(holds(json!({"NumericNotEquals": {"k": 1}}), &c));
        assert!(holds(json!({"DateNotEquals": {"k": "2020-01-01"}}), &c));
        assert!(holds(json!({"NotIpAddress": {"k": "10.0.0.0/8"}}), &c));
        assert!(holds(json!({"ArnNotLike": {"k": "*"}}), &c));
        assert!(!holds(json!({"NumericLessThan": {"k": 1}}), &c));
        assert!(!holds(json!({"Bool": {"k": "false"}}), &c));
        assert!(holds(json!({"StringEqualsIfExists": {"k": "v"}}), &c));
        assert!(holds(json!({"NumericLessThanIfExists": {"k": 1}}), &c));
        let present = ctx().with("k", "w");
        assert!(!holds(
            json!({"StringEqualsIfExists": {"k": "v"}}),
            &present
        ));
        assert!(holds(
            json!({"StringNotEqualsIfExists": {"k": "v"}}),
            &present
        ));
    }

    #[test]
    fn null() {
        let c = ctx().with("present", "x").with_values("empty", vec![]);
        assert!(holds(json!({"Null": {"absent": "true"}}), &c));
        assert!(!holds(json!({"Null": {"absent": "false"}}), &c));
        assert!(holds(json!({"Null": {"present": "false"}}), &c));
        assert!(holds(json!({"Null": {"present": false}}), &c));
        assert!(!holds(json!({"Null": {"present": "true"}}), &c));
        assert!(holds(json!({"Null": {"empty": "true"}}), &c));
    }

    #[test]
    fn set_qualifiers() {
        let amr = |v: &[&str]| {
            ctx().with_values(
                "cognito-identity.amazonaws.com:amr",
                v.iter().map(|s| s.to_string()).collect(),
            )
        };
        let any = json!({"ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}});
        let all = json!({"ForAllValues:StringEquals": {"cognito-identity.amazonaws.com:amr": ["authenticated", "graph.facebook.com"]}});
        let authed = amr(&[
            "authenticated",
            "graph.facebook.com",
            "graph.facebook.com:123",
        ]);
        assert!(holds(any.clone(), &authed));
        assert!(!holds(any.clone(), &amr(&["unauthenticated"])));
        assert!(!holds(any.clone(), &amr(&[])));
        assert!(!holds(any.clone(), &ctx()));
        assert!(!holds(all.clone(), &authed));
        assert!(holds(all.clone(), &amr(&["authenticated"])));
        assert!(holds(all.clone(), &amr(&[])));
        assert!(holds(all.clone(), &ctx()));
        // Negated operators under qualifiers apply per request value.
        let none_admin = json!({"ForAllValues:StringNotEquals": {"tags": ["admin"]}});
        let tags =
            |v: &[&str]| ctx().with_values("tags", v.iter().map(|s| s.to_string()).collect());
        assert!(holds(none_admin.clone(), &tags(&["dev", "ops"])));
        assert!(!holds(none_admin, &tags(&["dev", "admin"])));
        let some_not_admin = json!({"ForAnyValue:StringNotEquals": {"tags": ["admin"]}});
        assert!(holds(some_not_admin.clone(), &tags(&["dev", "admin"])));
        assert!(!holds(some_not_admin, &tags(&["admin"])));
        // No qualifier: positive matches any value; negated needs no value to match.
        assert!(holds(
            json!({"StringEquals": {"tags": "admin"}}),
            &tags(&["dev", "admin"])
        ));
        assert!(!holds(
            json!({"StringNotEquals": {"tags": "admin"}}),
            &tags(&["dev", "admin"])
        ));
        // IfExists with a qualifier: an absent key is true.
        assert!(holds(
            json!({"ForAnyValue:StringEqualsIfExists": {"tags": "admin"}}),
            &ctx()
        ));
    }

    #[test]
    fn operator_names_are_case_insensitive() {
        let c = ctx().with("k", "v");
        assert!(holds(json!({"stringequals": {"k": "v"}}), &c));
        assert!(holds(
            json!({"forAnyValue:StringEqualsifexists": {"k": "v"}}),
            &c
        ));
    }

    #[test]
    fn everything_ands_together() {
        let c = ctx().with("a", "1").with("b", "2");
        assert!(holds(json!({"StringEquals": {"a": "1", "b": "2"}}), &c));
        assert!(!holds(json!({"StringEquals": {"a": "1", "b": "3"}}), &c));
        assert!(!holds(
            json!({"StringEquals": {"a": "1"}, "NumericGreaterThan": {"b": 5}}),
            &c
        ));
    }
}
