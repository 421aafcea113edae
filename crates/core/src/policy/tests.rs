use super::*;
use serde_json::json;

fn policy(v: Value) -> Policy {
    Policy::from_value(&v).unwrap_or_else(|e| panic!("{e}: {v}"))
}

fn err(v: Value) -> String {
    Policy::from_value(&v).unwrap_err().0
}

fn allow(action: Value, resource: Value) -> Policy {
    policy(
        json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": action, "Resource": resource}}),
    )
}

#[test]
fn parse_errors_read_like_iam() {
    assert_eq!(
        Policy::parse("{").unwrap_err().0,
        "Syntax errors in policy."
    );
    assert_eq!(
        Policy::parse("[]").unwrap_err().0,
        "Syntax errors in policy."
    );
    assert_eq!(
        err(json!({"Version": "2012-10-17"})),
        "Missing required field Statement"
    );
    assert_eq!(
        err(json!({"Version": "2012-10-18", "Statement": []})),
        "The policy failed legacy parsing"
    );
    assert_eq!(
        err(json!({"Version": 2012, "Statement": []})),
        "Syntax errors in policy."
    );
    assert_eq!(
        err(json!({"Statement": [], "Extra": 1})),
        "Syntax errors in policy."
    );
    assert_eq!(
        err(json!({"Id": 5, "Statement": []})),
        "Syntax errors in policy."
    );
    assert_eq!(err(json!({"Statement": "x"})), "Syntax errors in policy.");
    assert_eq!(err(json!({"Statement": ["x"]})), "Syntax errors in policy.");
    assert_eq!(
        err(json!({"Statement": {"Action": "s3:*", "Resource": "*"}})),
        "Missing required field Effect"
    );
    assert_eq!(
        err(json!({"Statement": {"Effect": "allow", "Action": "s3:*", "Resource": "*"}})),
        "The policy failed legacy parsing"
    );
    assert_eq!(
        err(json!({"Statement": {"Effect": true, "Action": "s3:*", "Resource": "*"}})),
        "Syntax errors in policy."
    );
    assert_eq!(
        err(json!({"Statement": {"Effect": "Allow", "Resource": "*"}})),
        "Policy statement must contain actions."
    );
    assert_eq!(
        err(json!({"Statement": {"Effect": "Allow", "Action": [], "Resource": "*"}})),
        "Policy statement must contain actions."
    );
    assert_eq!(
        err(
            json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "NotAction": "x:y", "Resource": "*"}})
        ),
        "Syntax errors in policy."
    );
    assert_eq!(
        err(json!({"Statement": {"Effect": "Allow", "Action": "GetObject", "Resource": "*"}})),
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
    );
    assert_eq!(
        err(json!({"Statement": {"Effect": "Allow", "Action": ["s3:*", 1], "Resource": "*"}})),
        "Syntax errors in policy."
    );
    assert_eq!(
        err(json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": {"a": 1}}})),
        "Syntax errors in policy."
    );
    assert_eq!(
        err(
            json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "NotResource": "*"}})
        ),
        "Syntax errors in policy."
    );
    assert_eq!(
        err(
            json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*", "NotPrincipal": "*"}})
        ),
        "Syntax errors in policy."
    );
    assert_eq!(
        err(json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Sid": 1}})),
        "Syntax errors in policy."
    );
    assert_eq!(
        err(
            json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Resources": "*"}})
        ),
        "Syntax errors in policy."
    );
    assert_eq!(
        err(
            json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
            "Condition": {"StringEqualsX": {"k": "v"}}}})
        ),
        "Invalid Condition type : StringEqualsX."
    );
}

#[test]
fn accepts_both_versions_and_shapes() {
    let p = Policy::parse(
        r#"{"Version":"2008-10-17","Id":"x","Statement":[{"Sid":"a","Effect":"Deny","NotAction":"s3:*","NotResource":["*"]}]}"#,
    )
    .unwrap();
    assert!(!p.has_principal());
    let empty = policy(json!({"Version": "2012-10-17", "Statement": []}));
    assert_eq!(
        evaluate(&[empty], None, &RequestContext::new("s3:GetObject", "x")),
        Decision::ImplicitDeny
    );
}

#[test]
fn validate_identity_and_trust() {
    let trust = policy(
        json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
        "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity"}}),
    );
    assert!(trust.has_principal());
    assert_eq!(
        trust.validate_identity().unwrap_err().0,
        "Policy document should not specify a principal."
    );
    assert_eq!(trust.validate_trust(), Ok(()));
    let no_resource = policy(json!({"Statement": {"Effect": "Allow", "Action": "s3:*"}}));
    assert_eq!(
        no_resource.validate_identity().unwrap_err().0,
        "Policy statement must contain resources."
    );
    assert_eq!(
        no_resource.validate_trust().unwrap_err().0,
        "Missing required field Principal"
    );
    let identity = allow(json!("s3:*"), json!("*"));
    assert_eq!(identity.validate_identity(), Ok(()));
    assert_eq!(
        identity.validate_trust().unwrap_err().0,
        "Missing required field Principal"
    );
}

#[test]
fn action_matching() {
    let ctx = |a: &str| RequestContext::new(a, "arn:aws:s3:::b/k");
    let p = allow(json!(["S3:get*", "ec2:Describe?nstances"]), json!("*"));
    let ok = |a: &str| evaluate(std::slice::from_ref(&p), None, &ctx(a)).is_allowed();
    assert!(ok("s3:GetObject"));
    assert!(ok("s3:getobjectacl"));
    assert!(ok("EC2:DescribeInstances"));
    assert!(!ok("s3:PutObject"));
    assert!(!ok("ec2:DescribeInstance"));
    let everything = allow(json!("*"), json!("*"));
    assert!(evaluate(&[everything], None, &ctx("anything:AtAll")).is_allowed());
    let not = policy(
        json!({"Statement": {"Effect": "Allow", "NotAction": ["iam:*", "s3:Delete*"], "Resource": "*"}}),
    );
    let ok = |a: &str| evaluate(std::slice::from_ref(&not), None, &ctx(a)).is_allowed();
    assert!(ok("s3:GetObject"));
    assert!(!ok("s3:DeleteObject"));
    assert!(!ok("IAM:CreateUser"));
}

#[test]
fn resource_matching() {
    let p = allow(
        json!("s3:*"),
        json!(["arn:aws:s3:::mybucket/home/*", "arn:aws:s3:::Exact"]),
    );
    let ok = |r: &str| {
        evaluate(
            std::slice::from_ref(&p),
            None,
            &RequestContext::new("s3:GetObject", r),
        )
        .is_allowed()
    };
    assert!(ok("arn:aws:s3:::mybucket/home/a/b"));
    assert!(ok("arn:aws:s3:::Exact"));
    assert!(!ok("arn:aws:s3:::exact"));
    assert!(!ok("arn:aws:s3:::mybucket/other"));
    let not = policy(
        json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"}}),
    );
    let ok = |r: &str| {
        evaluate(
            std::slice::from_ref(&not),
            None,
            &RequestContext::new("s3:GetObject", r),
        )
        .is_allowed()
    };
    assert!(ok("arn:aws:s3:::public/x"));
    assert!(!ok("arn:aws:s3:::secret/x"));
}

#[test]
fn resource_variables() {
    let p = allow(
        json!("s3:GetObject"),
        json!("arn:aws:s3:::mybucket/${cognito-identity.amazonaws.com:sub}/*"),
    );
    let id = "us-east-1:0f2c3b1a-1111-2222-3333-444455556666";
    let ctx = |r: &str| {
        RequestContext::new("s3:GetObject", r).with("cognito-identity.amazonaws.com:sub", id)
    };
    let ps = std::slice::from_ref(&p);
    assert!(
        evaluate(
            ps,
            None,
            &ctx(&format!("arn:aws:s3:::mybucket/{id}/photo.jpg"))
        )
        .is_allowed()
    );
    assert!(
        !evaluate(
            ps,
            None,
            &ctx("arn:aws:s3:::mybucket/us-east-1:other/photo.jpg")
        )
        .is_allowed()
    );
    // No identity id in the request: the resource matches nothing.
    let bare = RequestContext::new(
        "s3:GetObject",
        "arn:aws:s3:::mybucket/${cognito-identity.amazonaws.com:sub}/x",
    );
    assert!(!evaluate(ps, None, &bare).is_allowed());
    // A value from the request is literal, never a wildcard.
    let star = RequestContext::new("s3:GetObject", "arn:aws:s3:::mybucket/abc/x")
        .with("cognito-identity.amazonaws.com:sub", "*");
    assert!(!evaluate(ps, None, &star).is_allowed());
    // 2008-10-17: the variable is literal text.
    let old = policy(
        json!({"Version": "2008-10-17", "Statement": {"Effect": "Allow",
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:username}"}}),
    );
    let lit = RequestContext::new("s3:GetObject", "arn:aws:s3:::b/${aws:username}")
        .with("aws:username", "bob");
    assert!(evaluate(std::slice::from_ref(&old), None, &lit).is_allowed());
    let bob = RequestContext::new("s3:GetObject", "arn:aws:s3:::b/bob").with("aws:username", "bob");
    assert!(!evaluate(&[old], None, &bob).is_allowed());
}

#[test]
fn deny_wins_and_default_is_implicit() {
    let a = allow(json!("s3:*"), json!("*"));
    let d = policy(
        json!({"Statement": {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}}),
    );
    let ctx = |a: &str| RequestContext::new(a, "arn:aws:s3:::b/k");
    let both = [a.clone(), d.clone()];
    assert_eq!(evaluate(&both, None, &ctx("s3:GetObject")), Decision::Allow);
    assert_eq!(
        evaluate(&both, None, &ctx("s3:DeleteObject")),
        Decision::ExplicitDeny
    );
    assert_eq!(
        evaluate(&[d], None, &ctx("s3:GetObject")),
        Decision::ImplicitDeny
    );
    assert_eq!(
        evaluate(&[], None, &ctx("s3:GetObject")),
        Decision::ImplicitDeny
    );
    assert!(!Decision::ExplicitDeny.is_allowed());
    assert!(!Decision::ImplicitDeny.is_allowed());
}

#[test]
fn session_policy_narrows() {
    let ctx = |a: &str| RequestContext::new(a, "arn:aws:s3:::b/k");
    let ids = [allow(json!("s3:*"), json!("*"))];
    let session = allow(json!("s3:GetObject"), json!("*"));
    assert_eq!(
        evaluate(&ids, Some(&session), &ctx("s3:GetObject")),
        Decision::Allow
    );
    assert_eq!(
        evaluate(&ids, Some(&session), &ctx("s3:PutObject")),
        Decision::ImplicitDeny
    );
    // The session policy alone grants nothing.
    let broad = allow(json!("*"), json!("*"));
    assert_eq!(
        evaluate(
            &[allow(json!("s3:GetObject"), json!("*"))],
            Some(&broad),
            &ctx("ec2:RunInstances")
        ),
        Decision::ImplicitDeny
    );
    let deny = policy(
        json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}]}),
    );
    assert_eq!(
        evaluate(&ids, Some(&deny), &ctx("s3:GetObject")),
        Decision::ExplicitDeny
    );
}

#[test]
fn trust_policy_for_web_identity() {
    let trust = policy(json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:pool"},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}
            }
        }]
    }));
    let ctx = |aud: &str, amr: &[&str]| {
        RequestContext::new("sts:AssumeRoleWithWebIdentity", "")
            .principal(Principal::Federated(
                "cognito-identity.amazonaws.com".into(),
            ))
            .with("cognito-identity.amazonaws.com:aud", aud)
            .with_values(
                "cognito-identity.amazonaws.com:amr",
                amr.iter().map(|s| s.to_string()).collect(),
            )
    };
    assert_eq!(
        evaluate_trust(&trust, &ctx("us-east-1:pool", &["authenticated"])),
        Decision::Allow
    );
    assert_eq!(
        evaluate_trust(&trust, &ctx("us-east-1:other", &["authenticated"])),
        Decision::ImplicitDeny
    );
    assert_eq!(
        evaluate_trust(&trust, &ctx("us-east-1:pool", &["unauthenticated"])),
        Decision::ImplicitDeny
    );
    let google = ctx("us-east-1:pool", &["authenticated"])
        .principal(Principal::Federated("accounts.google.com".into()));
    assert_eq!(evaluate_trust(&trust, &google), Decision::ImplicitDeny);
    let wrong_action = RequestContext::new("sts:AssumeRole", "")
        .principal(Principal::Federated(
            "cognito-identity.amazonaws.com".into(),
        ))
        .with("cognito-identity.amazonaws.com:aud", "us-east-1:pool");
    assert_eq!(
        evaluate_trust(&trust, &wrong_action),
        Decision::ImplicitDeny
    );
    // Identity evaluation of a trust policy finds no Resource: nothing is allowed.
    assert_eq!(
        evaluate(&[trust], None, &ctx("us-east-1:pool", &["authenticated"])),
        Decision::ImplicitDeny
    );
}

#[test]
fn trust_statement_without_principal_never_applies() {
    let p = policy(json!({"Statement": {"Effect": "Allow", "Action": "sts:*"}}));
    let ctx =
        RequestContext::new("sts:AssumeRole", "").principal(Principal::Aws("111122223333".into()));
    assert_eq!(evaluate_trust(&p, &ctx), Decision::ImplicitDeny);
    let deny_others = policy(json!({"Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "NotPrincipal": {"AWS": "111122223333"}, "Action": "sts:AssumeRole"}]}));
    assert_eq!(evaluate_trust(&deny_others, &ctx), Decision::Allow);
    let other =
        RequestContext::new("sts:AssumeRole", "").principal(Principal::Aws("444455556666".into()));
    assert_eq!(evaluate_trust(&deny_others, &other), Decision::ExplicitDeny);
}
