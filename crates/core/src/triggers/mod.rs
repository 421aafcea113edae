//! Lambda triggers: which function a pool's `LambdaConfig` names for a hook, the event
//! Cognito sends it, and what its answer may say. Invoking the function is the server's
//! business (`server/src/invoke`); this module is the contract, pure and testable.
//!
//! Events follow Cognito's shape exactly, so a handler written for Cognito runs
//! unchanged: `version`, `triggerSource`, `region`, `userPoolId`, `userName`,
//! `callerContext` {`awsSdkVersion`, `clientId`}, `request`, and a `response` whose
//! fields start out as Cognito starts them (false or null).

pub mod token_overrides;

use serde_json::{Map, Value, json};

/// A hook of `LambdaConfig`. The name is both the config key and the word Cognito puts
/// in its error messages ("PreSignUp failed with error ...").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    PreSignUp,
    PostConfirmation,
    PreAuthentication,
    PostAuthentication,
    DefineAuthChallenge,
    CreateAuthChallenge,
    VerifyAuthChallengeResponse,
    PreTokenGeneration,
    CustomMessage,
    UserMigration,
    CustomEmailSender,
    CustomSmsSender,
}

impl Trigger {
    pub fn name(self) -> &'static str {
        match self {
            Trigger::PreSignUp => "PreSignUp",
            Trigger::PostConfirmation => "PostConfirmation",
            Trigger::PreAuthentication => "PreAuthentication",
            Trigger::PostAuthentication => "PostAuthentication",
            Trigger::DefineAuthChallenge => "DefineAuthChallenge",
            Trigger::CreateAuthChallenge => "CreateAuthChallenge",
            Trigger::VerifyAuthChallengeResponse => "VerifyAuthChallengeResponse",
            Trigger::PreTokenGeneration => "PreTokenGeneration",
            Trigger::CustomMessage => "CustomMessage",
            Trigger::UserMigration => "UserMigration",
            Trigger::CustomEmailSender => "CustomEmailSender",
            Trigger::CustomSmsSender => "CustomSMSSender",
        }
    }

    /// The function this pool runs for the hook and the event version it asks for, or
    /// None when the hook is not configured. PreTokenGeneration prefers
    /// `PreTokenGenerationConfig` (which carries V1_0/V2_0/V3_0) over the older plain
    /// ARN, as Cognito does; the custom senders are objects with a version too.
    pub fn function(self, lambda_config: &Value) -> Option<(String, String)> {
        fn arn_of(v: &Value) -> Option<(String, String)> {
            let arn = v["LambdaArn"].as_str().filter(|a| !a.is_empty())?;
            let version = v["LambdaVersion"].as_str().unwrap_or("V1_0");
            Some((arn.to_string(), version.to_string()))
        }
        let plain = |key: &str| {
            lambda_config[key]
                .as_str()
                .filter(|a| !a.is_empty())
                .map(|a| (a.to_string(), "V1_0".to_string()))
        };
        match self {
            Trigger::PreTokenGeneration => arn_of(&lambda_config["PreTokenGenerationConfig"])
                .or_else(|| plain("PreTokenGeneration")),
            Trigger::CustomEmailSender | Trigger::CustomSmsSender => {
                arn_of(&lambda_config[self.name()])
            }
            _ => plain(self.name()),
        }
    }

    /// The `response` object Cognito sends before the function fills it in.
    pub fn initial_response(self) -> Value {
        match self {
            Trigger::PreSignUp => json!({
                "autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false
            }),
            Trigger::DefineAuthChallenge => json!({
                "challengeName": null, "issueTokens": null, "failAuthentication": null
            }),
            Trigger::CreateAuthChallenge => json!({
                "publicChallengeParameters": null, "privateChallengeParameters": null,
                "challengeMetadata": null
            }),
            Trigger::VerifyAuthChallengeResponse => json!({"answerCorrect": null}),
            Trigger::PreTokenGeneration => json!({"claimsOverrideDetails": null}),
            Trigger::CustomMessage => json!({
                "smsMessage": null, "emailMessage": null, "emailSubject": null
            }),
            Trigger::UserMigration => json!({
                "userAttributes": null, "forceAliasCreation": null, "enableSMSMFA": null,
                "finalUserStatus": null, "messageAction": null, "desiredDeliveryMediums": null
            }),
            _ => json!({}),
        }
    }
}

/// Everything an event needs besides its `request`.
pub struct EventContext<'a> {
    pub trigger: Trigger,
    /// `LambdaVersion` of the hook: V1_0 events say "1", V2_0 "2", V3_0 "3".
    pub version: &'a str,
    pub source: &'a str,
    pub region: &'a str,
    pub pool_id: &'a str,
    pub user_name: &'a str,
    pub client_id: Option<&'a str>,
}

/// The event JSON sent to a function.
pub fn event(cx: &EventContext<'_>, request: Value) -> Value {
    let version = match cx.version {
        "V2_0" => "2",
        "V3_0" => "3",
        _ => "1",
    };
    let mut response = cx.trigger.initial_response();
    if cx.trigger == Trigger::PreTokenGeneration && version != "1" {
        response = json!({"claimsAndScopeOverrideDetails": null});
    }
    json!({
        "version": version,
        "triggerSource": cx.source,
        "region": cx.region,
        "userPoolId": cx.pool_id,
        // A machine-to-machine token has no user: an empty name (never a username)
        // says so, and the event carries null.
        "userName": (!cx.user_name.is_empty()).then_some(cx.user_name),
        "callerContext": {
            // Cognito names the SDK that made the call; the SDK is not known here.
            "awsSdkVersion": "aws-sdk-unknown-unknown",
            "clientId": cx.client_id.unwrap_or("CLIENT_ID_NOT_APPLICABLE"),
        },
        "request": request,
        "response": response,
    })
}

/// Associated data of a custom sender code's encryption.
pub const SENDER_CODE_AAD: &[u8] = b"idpool custom sender code";

/// Encrypts a code for CustomEmailSender / CustomSMSSender. Cognito encrypts these with
/// the pool's KMS key so that the code never appears in clear in the event (and in the
/// function's logs); idpool's stand-in for that KMS key is a configured 32-byte key:
/// AES-256-GCM, `base64(nonce[12] || ciphertext || tag[16])`, associated data
/// `SENDER_CODE_AAD`. docs/triggers.md shows the decryption in Node.js.
pub fn seal_sender_code(key: &[u8], code: &str) -> Result<String, crate::DomainError> {
    Ok(crate::crypto::MasterKey::from_bytes(key)?.encrypt(code.as_bytes(), SENDER_CODE_AAD))
}

/// Why a function's output was refused (InvalidLambdaResponseException).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadResponse(pub String);

/// The `response` object of a function's output. The output must be a JSON object (the
/// event, returned); a missing or null `response` counts as an empty one.
pub fn response_of(output: &Value) -> Result<Map<String, Value>, BadResponse> {
    let Value::Object(out) = output else {
        return Err(BadResponse("Unrecognizable lambda output".into()));
    };
    match out.get("response") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(r)) => Ok(r.clone()),
        Some(_) => Err(BadResponse("Unrecognizable lambda output".into())),
    }
}

/// A boolean field of a response: absent or null is false; a string "true"/"false" is
/// accepted as Lambda runtimes serialise some booleans that way; anything else is refused.
pub fn flag(response: &Map<String, Value>, name: &str) -> Result<bool, BadResponse> {
    match response.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
        Some(_) => Err(BadResponse(format!(
            "Invalid lambda response: {name} must be a boolean"
        ))),
    }
}

/// An optional string field of a response.
pub fn text<'a>(
    response: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, BadResponse> {
    match response.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(BadResponse(format!(
            "Invalid lambda response: {name} must be a string"
        ))),
    }
}

/// A string-to-string map field (challenge parameters, user attributes). Numbers and
/// booleans are turned into strings, as Cognito's map<string,string> would carry them.
pub fn string_map(
    response: &Map<String, Value>,
    name: &str,
) -> Result<Map<String, Value>, BadResponse> {
    match response.get(name) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => {
            let mut out = Map::new();
            for (k, v) in m {
                let s = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => {
                        return Err(BadResponse(format!(
                            "Invalid lambda response: {name}.{k} must be a string"
                        )));
                    }
                };
                out.insert(k.clone(), Value::String(s));
            }
            Ok(out)
        }
        Some(_) => Err(BadResponse(format!(
            "Invalid lambda response: {name} must be a map of strings"
        ))),
    }
}

/// What DefineAuthChallenge decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthDecision {
    IssueTokens,
    Fail,
    /// Ask this challenge next: CUSTOM_CHALLENGE, PASSWORD_VERIFIER (after SRP_A), or
    /// another of Cognito's challenges.
    Challenge(String),
}

/// Reads DefineAuthChallenge's answer. `failAuthentication` wins over `issueTokens`; a
/// response that decides nothing is invalid, as Cognito refuses it.
pub fn define_decision(response: &Map<String, Value>) -> Result<AuthDecision, BadResponse> {
    if flag(response, "failAuthentication")? {
        return Ok(AuthDecision::Fail);
    }
    if flag(response, "issueTokens")? {
        return Ok(AuthDecision::IssueTokens);
    }
    match text(response, "challengeName")? {
        Some(name) if !name.is_empty() => Ok(AuthDecision::Challenge(name.to_string())),
        _ => Err(BadResponse(
            "Invalid lambda response: DefineAuthChallenge must set challengeName, issueTokens or failAuthentication".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_come_from_lambda_config() {
        let cfg = json!({
            "PreSignUp": "arn:aws:lambda:us-east-1:1:function:a",
            "PreTokenGeneration": "arn:old",
            "PreTokenGenerationConfig": {"LambdaArn": "arn:new", "LambdaVersion": "V2_0"},
            "CustomEmailSender": {"LambdaArn": "arn:mail", "LambdaVersion": "V1_0"},
        });
        assert_eq!(
            Trigger::PreSignUp.function(&cfg),
            Some((
                "arn:aws:lambda:us-east-1:1:function:a".into(),
                "V1_0".into()
            ))
        );
        assert_eq!(
            Trigger::PreTokenGeneration.function(&cfg),
            Some(("arn:new".into(), "V2_0".into()))
        );
        assert_eq!(
            Trigger::PreTokenGeneration.function(&json!({"PreTokenGeneration": "arn:old"})),
            Some(("arn:old".into(), "V1_0".into()))
        );
        assert_eq!(
            Trigger::CustomEmailSender.function(&cfg),
            Some(("arn:mail".into(), "V1_0".into()))
        );
        assert_eq!(Trigger::PostConfirmation.function(&cfg), None);
        assert_eq!(Trigger::PreSignUp.function(&json!({"PreSignUp": ""})), None);
    }

    #[test]
    fn events_have_cognitos_envelope() {
        let e = event(
            &EventContext {
                trigger: Trigger::PreTokenGeneration,
                version: "V2_0",
                source: "TokenGeneration_Authentication",
                region: "eu-west-1",
                pool_id: "eu-west-1_abc",
                user_name: "alice",
                client_id: Some("client1"),
            },
            json!({"userAttributes": {"sub": "s"}}),
        );
        assert_eq!(e["version"], "2");
        assert_eq!(e["triggerSource"], "TokenGeneration_Authentication");
        assert_eq!(e["callerContext"]["clientId"], "client1");
        assert_eq!(e["request"]["userAttributes"]["sub"], "s");
        assert!(e["response"]["claimsAndScopeOverrideDetails"].is_null());
        assert!(
            e["response"]
                .as_object()
                .unwrap()
                .contains_key("claimsAndScopeOverrideDetails")
        );
    }

    #[test]
    fn responses_are_checked() {
        assert_eq!(response_of(&json!({"response": null})).unwrap().len(), 0);
        assert!(response_of(&json!("nope")).is_err());
        assert!(response_of(&json!({"response": [1]})).is_err());
        let r = response_of(&json!({"response": {"autoConfirmUser": true, "x": "true"}})).unwrap();
        assert!(flag(&r, "autoConfirmUser").unwrap());
        assert!(flag(&r, "x").unwrap());
        assert!(!flag(&r, "missing").unwrap());
        let bad = response_of(&json!({"response": {"autoConfirmUser": 3}})).unwrap();
        assert!(flag(&bad, "autoConfirmUser").is_err());
    }

    #[test]
    fn sender_codes_open_with_the_same_key_only() {
        let key = [7u8; 32];
        let sealed = seal_sender_code(&key, "123456").unwrap();
        let k = crate::crypto::MasterKey::from_bytes(&key).unwrap();
        assert_eq!(k.decrypt_str(&sealed, SENDER_CODE_AAD).unwrap(), "123456");
        let other = crate::crypto::MasterKey::from_bytes(&[8u8; 32]).unwrap();
        assert!(other.decrypt(&sealed, SENDER_CODE_AAD).is_err());
        assert!(seal_sender_code(&[1u8; 16], "1").is_err());
    }

    #[test]
    fn define_decides_one_thing() {
        let r = |v: Value| response_of(&json!({ "response": v })).unwrap();
        assert_eq!(
            define_decision(&r(json!({"issueTokens": true, "failAuthentication": true}))),
            Ok(AuthDecision::Fail)
        );
        assert_eq!(
            define_decision(&r(json!({"issueTokens": true}))),
            Ok(AuthDecision::IssueTokens)
        );
        assert_eq!(
            define_decision(&r(
                json!({"challengeName": "CUSTOM_CHALLENGE", "issueTokens": false})
            )),
            Ok(AuthDecision::Challenge("CUSTOM_CHALLENGE".into()))
        );
        assert!(define_decision(&r(json!({}))).is_err());
    }
}
