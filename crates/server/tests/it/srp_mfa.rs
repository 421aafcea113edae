//! USER_SRP_AUTH, TOTP MFA and a remembered device through the Rust AWS SDK, on every
//! backend. The client side of SRP is `idpool_core::auth::srp::client`, checked in turn
//! against the real JavaScript and Python clients by tests/node and tests/python.

use crate::{backends, dev_server};
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, ChallengeNameType, DeviceConfigurationType, DeviceRememberedStatusType,
    DeviceSecretVerifierConfigType, SoftwareTokenMfaConfigType, SoftwareTokenMfaSettingsType,
    UserPoolMfaType,
};
use idpool_core::auth::mfa;
use idpool_core::auth::srp::{self, client};
use idpool_core::crypto;
use std::collections::HashMap;

const PASSWORD: &str = "Passw0rd!srp";

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The PASSWORD_VERIFIER (or DEVICE_PASSWORD_VERIFIER) answers for a challenge.
fn prove(
    params: &HashMap<String, String>,
    eph: &client::ClientEphemeral,
    realm: &str,
    username: &str,
    x: [u8; 32],
) -> HashMap<String, String> {
    let b = hex::decode(&params["SRP_B"]).unwrap();
    let key = client::session_key(eph, &b, &client::ClientSecret::new(x));
    let ts = srp::format_timestamp(now_s());
    let block = &params["SECRET_BLOCK"];
    let sig = srp::claim_signature(
        &key,
        realm,
        username,
        &crypto::b64_decode(block).unwrap(),
        &ts,
    );
    HashMap::from([
        ("PASSWORD_CLAIM_SECRET_BLOCK".to_string(), block.clone()),
        ("PASSWORD_CLAIM_SIGNATURE".to_string(), crypto::b64(&sig)),
        ("TIMESTAMP".to_string(), ts),
    ])
}

async fn srp_sign_in(
    c: &Client,
    pool_id: &str,
    client_id: &str,
    username: &str,
    password: &str,
    device_key: Option<&str>,
) -> Result<
    aws_sdk_cognitoidentityprovider::operation::respond_to_auth_challenge::RespondToAuthChallengeOutput,
    String,
>{
    let eph = client::ephemeral();
    let mut init = c
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("SRP_A", hex::encode(&eph.big_a));
    if let Some(dk) = device_key {
        init = init.auth_parameters("DEVICE_KEY", dk);
    }
    let first = init.send().await.map_err(|e| format!("{e:?}"))?;
    assert_eq!(
        first.challenge_name(),
        Some(&ChallengeNameType::PasswordVerifier)
    );
    let params = first.challenge_parameters().unwrap();
    let user_id = params["USER_ID_FOR_SRP"].clone();
    let salt = hex::decode(&params["SALT"]).unwrap();
    let x = srp::private_key_x(pool_id, &user_id, password, &salt);
    let mut answers = prove(params, &eph, srp::pool_name(pool_id), &user_id, x);
    answers.insert("USERNAME".into(), user_id);
    if let Some(dk) = device_key {
        answers.insert("DEVICE_KEY".into(), dk.to_string());
    }
    c.respond_to_auth_challenge()
        .client_id(client_id)
        .challenge_name(ChallengeNameType::PasswordVerifier)
        .session(first.session().unwrap())
        .set_challenge_responses(Some(answers))
        .send()
        .await
        .map_err(|e| {
            e.into_service_error()
                .meta()
                .message()
                .unwrap_or_default()
                .to_string()
        })
}

#[tokio::test]
async fn srp_totp_and_remembered_device() {
    for backend in backends() {
        let s = dev_server(backend).await;
        let c = s.sdk();
        let pool_id = c
            .create_user_pool()
            .pool_name("srp")
            .device_configuration(
                DeviceConfigurationType::builder()
                    .challenge_required_on_new_device(true)
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .user_pool()
            .unwrap()
            .id()
            .unwrap()
            .to_string();
        let client_id = c
            .create_user_pool_client()
            .user_pool_id(&pool_id)
            .client_name("web")
            .send()
            .await
            .unwrap()
            .user_pool_client()
            .unwrap()
            .client_id()
            .unwrap()
            .to_string();
        c.admin_create_user()
            .user_pool_id(&pool_id)
            .username("sam")
            .send()
            .await
            .unwrap();
        c.admin_set_user_password()
            .user_pool_id(&pool_id)
            .username("sam")
            .password(PASSWORD)
            .permanent(true)
            .send()
            .await
            .unwrap();

        let wrong = srp_sign_in(&c, &pool_id, &client_id, "sam", "Wr0ng!pass", None)
            .await
            .unwrap_err();
        assert_eq!(wrong, "Incorrect username or password.");

        // No MFA yet: tokens and a new device.
        let done = srp_sign_in(&c, &pool_id, &client_id, "sam", PASSWORD, None)
            .await
            .unwrap();
        let result = done.authentication_result().unwrap();
        let access = result.access_token().unwrap().to_string();
        let meta = result.new_device_metadata().unwrap();
        let (device_key, group_key) = (
            meta.device_key().unwrap().to_string(),
            meta.device_group_key().unwrap().to_string(),
        );

        // TOTP on, preferred.
        c.set_user_pool_mfa_config()
            .user_pool_id(&pool_id)
            .software_token_mfa_configuration(
                SoftwareTokenMfaConfigType::builder().enabled(true).build(),
            )
            .mfa_configuration(UserPoolMfaType::Optional)
            .send()
            .await
            .unwrap();
        let secret = c
            .associate_software_token()
            .access_token(&access)
            .send()
            .await
            .unwrap()
            .secret_code()
            .unwrap()
            .to_string();
        let raw = mfa::base32_decode(&secret).unwrap();
        let step = mfa::step_of(now_s() * 1000);
        c.verify_software_token()
            .access_token(&access)
            .user_code(mfa::code_at(&raw, step - 1))
            .send()
            .await
            .unwrap();
        c.set_user_mfa_preference()
            .access_token(&access)
            .software_token_mfa_settings(
                SoftwareTokenMfaSettingsType::builder()
                    .enabled(true)
                    .preferred_mfa(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();

        // Confirm the device with its own verifier, as amazon-cognito-identity-js does.
        let device_password = "device-random-password";
        let device_salt = [0x42u8; 16];
        let device_x =
            srp::realm_private_key_x(&group_key, &device_key, device_password, &device_salt);
        c.confirm_device()
            .access_token(&access)
            .device_key(&device_key)
            .device_secret_verifier_config(
                DeviceSecretVerifierConfigType::builder()
                    .password_verifier(crypto::b64(&srp::verifier(&device_x)))
                    .salt(crypto::b64(&device_salt))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        c.update_device_status()
            .access_token(&access)
            .device_key(&device_key)
            .device_remembered_status(DeviceRememberedStatusType::NotRemembered)
            .send()
            .await
            .unwrap();

        // A device that is not remembered: the TOTP challenge.
        let mfa_step = srp_sign_in(&c, &pool_id, &client_id, "sam", PASSWORD, Some(&device_key))
            .await
            .unwrap();
        assert_eq!(
            mfa_step.challenge_name(),
            Some(&ChallengeNameType::SoftwareTokenMfa)
        );
        let ok = c
            .respond_to_auth_challenge()
            .client_id(&client_id)
            .challenge_name(ChallengeNameType::SoftwareTokenMfa)
            .session(mfa_step.session().unwrap())
            .challenge_responses("USERNAME", "sam")
            .challenge_responses("SOFTWARE_TOKEN_MFA_CODE", mfa::code_at(&raw, step))
            .send()
            .await
            .unwrap();
        assert!(ok.authentication_result().unwrap().access_token().is_some());
        assert!(
            ok.authentication_result()
                .unwrap()
                .new_device_metadata()
                .is_none(),
            "a known device gets no new metadata"
        );

        // Remembered: DEVICE_SRP_AUTH instead of MFA.
        c.admin_update_device_status()
            .user_pool_id(&pool_id)
            .username("sam")
            .device_key(&device_key)
            .device_remembered_status(DeviceRememberedStatusType::Remembered)
            .send()
            .await
            .unwrap();
        let dev = srp_sign_in(&c, &pool_id, &client_id, "sam", PASSWORD, Some(&device_key))
            .await
            .unwrap();
        assert_eq!(
            dev.challenge_name(),
            Some(&ChallengeNameType::DeviceSrpAuth)
        );
        let eph = client::ephemeral();
        let chal = c
            .respond_to_auth_challenge()
            .client_id(&client_id)
            .challenge_name(ChallengeNameType::DeviceSrpAuth)
            .session(dev.session().unwrap())
            .challenge_responses("USERNAME", "sam")
            .challenge_responses("DEVICE_KEY", &device_key)
            .challenge_responses("SRP_A", hex::encode(&eph.big_a))
            .send()
            .await
            .unwrap();
        assert_eq!(
            chal.challenge_name(),
            Some(&ChallengeNameType::DevicePasswordVerifier)
        );
        let params = chal.challenge_parameters().unwrap();
        assert_eq!(hex::decode(&params["SALT"]).unwrap(), device_salt);
        let mut answers = prove(params, &eph, &group_key, &device_key, device_x);
        answers.insert("USERNAME".into(), "sam".into());
        answers.insert("DEVICE_KEY".into(), device_key.clone());
        let done = c
            .respond_to_auth_challenge()
            .client_id(&client_id)
            .challenge_name(ChallengeNameType::DevicePasswordVerifier)
            .session(chal.session().unwrap())
            .set_challenge_responses(Some(answers))
            .send()
            .await
            .unwrap();
        assert!(done.authentication_result().unwrap().id_token().is_some());

        let listed = c
            .admin_list_devices()
            .user_pool_id(&pool_id)
            .username("sam")
            .send()
            .await
            .unwrap();
        assert_eq!(listed.devices().len(), 1);
    }
}
