//! The policy engine against a reference corpus whose expected decisions were worked
//! out from IAM's documentation, plus properties any IAM evaluator must have.

use idpool_core::policy::{Decision, Policy, Principal, RequestContext, evaluate, evaluate_trust};
use proptest::prelude::*;
use serde_json::{Value, json};

fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "Allow",
        Decision::ExplicitDeny => "ExplicitDeny",
        Decision::ImplicitDeny => "ImplicitDeny",
    }
}

fn principal(v: &Value) -> Result<Principal, String> {
    if v == "Anonymous" || v == "*" {
        return Ok(Principal::Anonymous);
    }
    let obj = v.as_object().ok_or("principal must be an object")?;
    let (kind, name) = obj.iter().next().ok_or("empty principal")?;
    let name = name
        .as_str()
        .ok_or("principal name must be a string")?
        .to_string();
    match kind.as_str() {
        "AWS" => Ok(Principal::Aws(name)),
        "Federated" => Ok(Principal::Federated(name)),
        "Service" => Ok(Principal::Service(name)),
        other => Err(format!("unknown principal kind {other}")),
    }
}

fn context(req: &Value) -> Result<RequestContext, String> {
    let action = req["action"].as_str().ok_or("request.action missing")?;
    let resource = req["resource"].as_str().ok_or("request.resource missing")?;
    let mut ctx = RequestContext::new(action, resource);
    if let Some(p) = req.get("principal") {
        ctx = ctx.principal(principal(p)?);
    }
    if let Some(keys) = req.get("context") {
        for (k, v) in keys
            .as_object()
            .ok_or("request.context must be an object")?
        {
            ctx = match v {
                Value::String(s) => ctx.with(k, s.clone()),
                Value::Array(items) => ctx.with_values(
                    k,
                    items
                        .iter()
                        .map(|i| i.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                        .ok_or("context arrays hold strings")?,
                ),
                _ => return Err(format!("context key {k}: string or array of strings")),
            };
        }
    }
    Ok(ctx)
}

/// Runs one case; `Err` describes how it failed.
fn run_case(case: &Value) -> Result<(), String> {
    let parse = |v: &Value| Policy::from_value(v).map_err(|e| format!("policy rejected: {e}"));
    let policies = case["policies"]
        .as_array()
        .ok_or("policies must be an array")?
        .iter()
        .map(parse)
        .collect::<Result<Vec<_>, _>>()?;
    let session = case.get("session_policy").map(parse).transpose()?;
    let ctx = context(&case["request"])?;
    let got = if case.get("trust").and_then(Value::as_bool) == Some(true) {
        let [trust] = policies.as_slice() else {
            return Err("a trust case has exactly one policy".into());
        };
        evaluate_trust(trust, &ctx)
    } else {
        evaluate(&policies, session.as_ref(), &ctx)
    };
    let expected = case["expected"].as_str().ok_or("expected missing")?;
    if decision_name(got) == expected {
        Ok(())
    } else {
        Err(format!("expected {expected}, got {}", decision_name(got)))
    }
}

#[test]
fn reference_corpus() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/policy_corpus.json");
    let text = std::fs::read_to_string(path).expect("read the corpus");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("corpus is JSON");
    assert!(cases.len() >= 80, "corpus has only {} cases", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            let name = c["name"].as_str().unwrap_or("<unnamed>");
            run_case(c).err().map(|e| format!("{name}: {e}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
}

// ---- properties -------------------------------------------------------------------

const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:DeleteObject",
    "ec2:DescribeInstances",
    "iam:CreateUser",
];
const ACTION_PATTERNS: &[&str] = &[
    "*",
    "s3:*",
    "s3:Get*",
    "s3:?utObject",
    "S3:listbucket",
    "ec2:Describe*",
    "iam:*",
    "s3:DeleteObject",
];
const RESOURCES: &[&str] = &[
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/alice/x",
    "arn:aws:s3:::b/bob/y",
    "arn:aws:s3:::other/z",
    "*",
];
const RESOURCE_PATTERNS: &[&str] = &[
    "*",
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/${aws:username}/*",
    "arn:aws:s3:::other/?",
    "arn:aws:s3:::*/alice/*",
];

fn conditions() -> Vec<Value> {
    vec![
        json!({"StringEquals": {"aws:username": "alice"}}),
        json!({"StringNotEquals": {"aws:username": ["alice", "carol"]}}),
        json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
        json!({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
        json!({"NumericLessThan": {"s3:max-keys": 10}}),
        json!({"ForAnyValue:StringEquals": {"aws:TagKeys": "env"}}),
        json!({"ForAllValues:StringLike": {"aws:TagKeys": ["env", "own*"]}}),
        json!({"Null": {"aws:username": "true"}}),
        json!({"BoolIfExists": {"aws:SecureTransport": "true"}}),
    ]
}

fn arb_statement() -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::sample::subsequence(ACTION_PATTERNS, 1..3),
        any::<bool>(),
        prop::sample::subsequence(RESOURCE_PATTERNS, 1..3),
        prop::option::of(prop::sample::select(conditions())),
    )
        .prop_map(
            |(deny, not_action, actions, not_resource, resources, cond)| {
                let mut st = json!({"Effect": if deny { "Deny" } else { "Allow" }});
                st[if not_action { "NotAction" } else { "Action" }] = json!(actions);
                st[if not_resource {
                    "NotResource"
                } else {
                    "Resource"
                }] = json!(resources);
                if let Some(c) = cond {
                    st["Condition"] = c;
                }
                st
            },
        )
}

fn doc(statements: &[Value]) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn parse(v: &Value) -> Policy {
    Policy::from_value(v).unwrap_or_else(|e| panic!("generated policy rejected ({e}): {v}"))
}

fn arb_ctx() -> impl Strategy<Value = RequestContext> {
    (
        prop::sample::select(ACTIONS),
        prop::sample::select(RESOURCES),
        prop::option::of(prop::sample::select(&["alice", "bob"][..])),
        prop::option::of(prop::sample::select(
            &["10.1.2.3", "192.168.0.1", "junk"][..],
        )),
        prop::option::of(prop::sample::select(&["5", "50"][..])),
        prop::option::of(prop::sample::subsequence(
            &["env", "owner", "team"][..],
            0..3,
        )),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(action, resource, user, ip, max_keys, tags, secure)| {
            let mut ctx = RequestContext::new(action, resource);
            if let Some(u) = user {
                ctx = ctx.with("aws:username", u);
            }
            if let Some(ip) = ip {
                ctx = ctx.with("aws:SourceIp", ip);
            }
            if let Some(m) = max_keys {
                ctx = ctx.with("s3:max-keys", m);
            }
            if let Some(t) = tags {
                ctx = ctx.with_values("aws:TagKeys", t.iter().map(|s| s.to_string()).collect());
            }
            if let Some(s) = secure {
                ctx = ctx.with("aws:SecureTransport", s.to_string());
            }
            ctx
        })
}

fn with_effect(st: &Value, effect: &str) -> Value {
    let mut st = st.clone();
    st["Effect"] = json!(effect);
    st
}

/// Turns `literal` into a pattern that must match it: each character is kept, replaced
/// by `?`, or swallowed (with the characters after it) by a `*`.
fn derive_pattern(literal: &str, choices: &[u8]) -> String {
    let mut out = String::new();
    let mut in_star = false;
    for (i, c) in literal.chars().enumerate() {
        match choices.get(i).copied().unwrap_or(0) % 4 {
            0 | 1 => {
                out.push(c);
                in_star = false;
            }
            2 => {
                out.push('?');
                in_star = false;
            }
            _ => {
                if !in_star {
                    out.push('*');
                }
                in_star = true;
            }
        }
    }
    if choices.len() > literal.chars().count()
        && choices.last().is_some_and(|c| c.is_multiple_of(5))
    {
        out.push('*'); // a trailing star also matches the empty rest
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn adding_a_deny_never_allows_more(
        statements in prop::collection::vec(arb_statement(), 0..5),
        deny in arb_statement(),
        ctx in arb_ctx(),
    ) {
        let before = evaluate(&[parse(&doc(&statements))], None, &ctx);
        let deny_doc = doc(&[with_effect(&deny, "Deny")]);
        let after = evaluate(&[parse(&doc(&statements)), parse(&deny_doc)], None, &ctx);
        if before != Decision::Allow {
            prop_assert_ne!(after, Decision::Allow);
        }
        // Whether the deny statement matches, asked independently: as an Allow alone.
        let matches = evaluate(&[parse(&doc(&[with_effect(&deny, "Allow")]))], None, &ctx);
        if matches == Decision::Allow {
            prop_assert_eq!(after, Decision::ExplicitDeny);
        } else {
            prop_assert_eq!(after, before);
        }
    }

    #[test]
    fn statement_order_and_grouping_do_not_matter(
        statements in prop::collection::vec(arb_statement(), 1..6),
        seed in any::<u64>(),
        ctx in arb_ctx(),
    ) {
        let original = evaluate(&[parse(&doc(&statements))], None, &ctx);
        let mut shuffled = statements.clone();
        // A deterministic permutation from the seed (Fisher-Yates with an LCG).
        let mut s = seed;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        prop_assert_eq!(evaluate(&[parse(&doc(&shuffled))], None, &ctx), original);
        let split: Vec<Policy> = shuffled.iter().map(|st| parse(&doc(std::slice::from_ref(st)))).collect();
        prop_assert_eq!(evaluate(&split, None, &ctx), original);
    }

    #[test]
    fn a_derived_wildcard_pattern_matches_its_literal(
        literal in "[a-zA-Z0-9/:._-]{0,24}",
        choices in prop::collection::vec(any::<u8>(), 0..26),
        name in "[A-Za-z]{1,12}",
        action_choices in prop::collection::vec(any::<u8>(), 0..14),
        upper in any::<bool>(),
    ) {
        let resource = format!("arn:aws:s3:::{literal}");
        let resource_pattern = format!("arn:aws:s3:::{}", derive_pattern(&literal, &choices));
        let action = format!("svc:{name}");
        let mut action_pattern = format!("svc:{}", derive_pattern(&name, &action_choices));
        if upper {
            action_pattern = action_pattern.to_uppercase();
        }
        let p = parse(&json!({"Version": "2012-10-17", "Statement": {
            "Effect": "Allow", "Action": action_pattern, "Resource": resource_pattern}}));
        let ctx = RequestContext::new(action, resource);
        prop_assert_eq!(evaluate(&[p], None, &ctx), Decision::Allow);
    }

    #[test]
    fn star_star_allows_everything(ctx in arb_ctx()) {
        let p = parse(&json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}));
        prop_assert_eq!(evaluate(&[p], None, &ctx), Decision::Allow);
    }

    #[test]
    fn a_session_policy_only_narrows(
        identity in prop::collection::vec(arb_statement(), 0..4),
        session in prop::collection::vec(arb_statement(), 0..4),
        ctx in arb_ctx(),
    ) {
        let ids = [parse(&doc(&identity))];
        let sp = parse(&doc(&session));
        let alone = evaluate(&ids, None, &ctx);
        let with = evaluate(&ids, Some(&sp), &ctx);
        if with == Decision::Allow {
            prop_assert_eq!(alone, Decision::Allow);
            prop_assert_eq!(evaluate(std::slice::from_ref(&sp), None, &ctx), Decision::Allow);
        }
        if alone == Decision::ExplicitDeny {
            prop_assert_eq!(with, Decision::ExplicitDeny);
        }
    }
}
