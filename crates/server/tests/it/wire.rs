//! Golden wire bodies for errors, and malformed input that must never crash the server.

use crate::{backends, dev_server};
use idpool_testkit::Backend;
use serde_json::json;

const T: &str = "AWSCognitoIdentityProviderService";

#[tokio::test]
async fn framework_errors_are_aws_json() {
    let s = dev_server(Backend::Sqlite).await;
    let (status, headers, body) = s.raw(None, "{}").await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "UnknownOperationException");
    assert!(headers.contains_key("x-amzn-requestid"));

    let (status, _, body) = s.raw(Some(&format!("{T}.NoSuchThing")), "{}").await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("UnknownOperationException"))
    );

    let (status, headers, body) = s
        .raw(Some(&format!("{T}.ListUserPools")), "{not json")
        .await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("SerializationException"))
    );
    assert_eq!(headers["x-amzn-errortype"], "SerializationException");

    let (_, _, body) = s
        .raw(
            Some(&format!("{T}.ListUserPools")),
            r#"{"MaxResults": "ten"}"#,
        )
        .await;
    assert_eq!(body["__type"], "SerializationException");

    let (_, _, body) = s.raw(Some(&format!("{T}.ListUserPools")), "[1,2]").await;
    assert_eq!(body["__type"], "SerializationException");

    let big = format!(r#"{{"PoolName": "{}"}}"#, "x".repeat(3 * 1024 * 1024));
    let (status, _, body) = s.raw(Some(&format!("{T}.CreateUserPool")), &big).await;
    assert_eq!(
        (status, body["__type"].as_str()),
        (413, Some("RequestEntityTooLargeException"))
    );
}

#[tokio::test]
async fn validation_errors_match_cognito_text() {
    let s = dev_server(Backend::Sqlite).await;
    let (status, _, body) = s.raw(Some(&format!("{T}.ListUserPools")), "{}").await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({
            "__type": "InvalidParameterException",
            "message": "1 validation error detected: Value null at 'maxResults' failed to satisfy constraint: Member must not be null"
        })
    );
    let (_, _, body) = s
        .raw(
            Some(&format!("{T}.DescribeUserPool")),
            r#"{"UserPoolId": "us-east-1_nope"}"#,
        )
        .await;
    assert_eq!(
        body,
        json!({"__type": "ResourceNotFoundException", "message": "User pool us-east-1_nope does not exist."})
    );
}

#[tokio::test]
async fn signing_certificate_is_stable_der() {
    for backend in backends() {
        let s = dev_server(backend).await;
        let (_, _, created) = s
            .raw(
                Some(&format!("{T}.CreateUserPool")),
                r#"{"PoolName": "certs"}"#,
            )
            .await;
        let pool_id = created["UserPool"]["Id"].as_str().unwrap().to_string();
        let get = |id: String| {
            let s = &s;
            async move {
                s.raw(
                    Some(&format!("{T}.GetSigningCertificate")),
                    &json!({ "UserPoolId": id }).to_string(),
                )
                .await
            }
        };
        let (status, _, first) = get(pool_id.clone()).await;
        assert_eq!(status, 200, "{first}");
        let (_, _, second) = get(pool_id.clone()).await;
        assert_eq!(first, second, "the same certificate every time");
        let der = idpool_core::crypto::b64_decode(first["Certificate"].as_str().unwrap()).unwrap();
        assert_eq!(der[0], 0x30, "a DER SEQUENCE");
        let (status, _, body) = get("us-east-1_nope".into()).await;
        assert_eq!(status, 400);
        assert_eq!(body["__type"], "ResourceNotFoundException");
    }
}

#[test]
fn operations_doc_is_current() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/operations.md"
    ))
    .unwrap_or_default();
    assert_eq!(
        doc,
        idpool_server::api::operations_table(),
        "run `cargo run -- operations > docs/operations.md`"
    );
}

#[tokio::test]
async fn forged_tokens_are_refused() {
    let s = dev_server(Backend::Sqlite).await;
    let b64 = |v: serde_json::Value| idpool_core::crypto::b64url(v.to_string().as_bytes());
    // A well-formed RS256 token naming a pool that has no keys, and one with alg none.
    let forged = format!(
        "{}.{}.{}",
        b64(json!({"alg": "RS256", "kid": "k"})),
        b64(
            json!({"iss": format!("{}/us-east-1_forged", s.url), "token_use": "access", "username": "x", "sub": "x", "exp": 9_999_999_999i64})
        ),
        idpool_core::crypto::b64url(b"sig")
    );
    let none = forged.replacen(
        &b64(json!({"alg": "RS256", "kid": "k"})),
        &b64(json!({"alg": "none", "kid": "k"})),
        1,
    );
    for token in [forged, none, "not-a-jwt".to_string()] {
        let (status, _, body) = s
            .raw(
                Some(&format!("{T}.GetUser")),
                &json!({"AccessToken": token}).to_string(),
            )
            .await;
        assert_eq!(status, 400);
        assert_eq!(body["__type"], "NotAuthorizedException", "{body}");
    }
}
