//! The password lifecycle through the Rust AWS SDK, on every backend.

use crate::{backends, dev_server};
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, AuthFlowType, ChallengeNameType, ExplicitAuthFlowsType, VerifiedAttributeType,
};

fn attr(name: &str, value: &str) -> AttributeType {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .unwrap()
}

#[tokio::test]
async fn sign_up_confirm_sign_in_refresh_sign_out() {
    for backend in backends() {
        let s = dev_server(backend).await;
        let c = s.sdk();
        let pool = c
            .create_user_pool()
            .pool_name("p")
            .auto_verified_attributes(VerifiedAttributeType::Email)
            .send()
            .await
            .unwrap();
        let pool_id = pool.user_pool().unwrap().id().unwrap().to_string();
        assert!(pool_id.starts_with("us-east-1_"));
        let client = c
            .create_user_pool_client()
            .user_pool_id(&pool_id)
            .client_name("app")
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .send()
            .await
            .unwrap();
        let client_id = client
            .user_pool_client()
            .unwrap()
            .client_id()
            .unwrap()
            .to_string();
        assert_eq!(client_id.len(), 26);

        // Weak password: Cognito's message.
        let err = c
            .sign_up()
            .client_id(&client_id)
            .username("ann")
            .password("weak")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err.into_service_error().meta().code(),
            Some("InvalidPasswordException")
        );

        let up = c
            .sign_up()
            .client_id(&client_id)
            .username("ann")
            .password("Passw0rd!")
            .user_attributes(attr("email", "ann@example.com"))
            .send()
            .await
            .unwrap();
        assert!(!up.user_confirmed());
        assert_eq!(
            up.code_delivery_details().unwrap().destination(),
            Some("a***@e***")
        );

        let dup = c
            .sign_up()
            .client_id(&client_id)
            .username("ann")
            .password("Passw0rd!")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            dup.into_service_error().meta().code(),
            Some("UsernameExistsException")
        );

        let auth = |pw: &'static str| {
            c.initiate_auth()
                .client_id(&client_id)
                .auth_flow(AuthFlowType::UserPasswordAuth)
                .auth_parameters("USERNAME", "ann")
                .auth_parameters("PASSWORD", pw)
                .send()
        };
        let unconfirmed = auth("Passw0rd!").await.unwrap_err();
        assert_eq!(
            unconfirmed.into_service_error().meta().code(),
            Some("UserNotConfirmedException")
        );

        let wrong = c
            .confirm_sign_up()
            .client_id(&client_id)
            .username("ann")
            .confirmation_code("000000")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            wrong.into_service_error().meta().code(),
            Some("CodeMismatchException")
        );
        let code = s.last_code(&pool_id, "ann").await;
        c.confirm_sign_up()
            .client_id(&client_id)
            .username("ann")
            .confirmation_code(&code)
            .send()
            .await
            .unwrap();
        let reuse = c
            .confirm_sign_up()
            .client_id(&client_id)
            .username("ann")
            .confirmation_code(&code)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            reuse.into_service_error().meta().code(),
            Some("NotAuthorizedException")
        );

        let bad = auth("Wr0ng-pass").await.unwrap_err().into_service_error();
        assert_eq!(bad.meta().code(), Some("NotAuthorizedException"));
        assert_eq!(
            bad.meta().message(),
            Some("Incorrect username or password.")
        );

        let tokens = auth("Passw0rd!").await.unwrap();
        let result = tokens.authentication_result().unwrap();
        let access = result.access_token().unwrap().to_string();
        let refresh = result.refresh_token().unwrap().to_string();
        assert_eq!(result.expires_in(), 3600);

        let me = c.get_user().access_token(&access).send().await.unwrap();
        assert_eq!(me.username(), "ann");
        let email_verified = me
            .user_attributes()
            .iter()
            .find(|a| a.name() == "email_verified")
            .and_then(|a| a.value());
        assert_eq!(email_verified, Some("true"));

        let refreshed = c
            .initiate_auth()
            .client_id(&client_id)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", &refresh)
            .send()
            .await
            .unwrap();
        let new_access = refreshed
            .authentication_result()
            .unwrap()
            .access_token()
            .unwrap()
            .to_string();
        assert!(
            refreshed
                .authentication_result()
                .unwrap()
                .refresh_token()
                .is_none()
        );

        c.global_sign_out()
            .access_token(&new_access)
            .send()
            .await
            .unwrap();
        let gone = c.get_user().access_token(&access).send().await.unwrap_err();
        assert_eq!(
            gone.into_service_error().meta().code(),
            Some("NotAuthorizedException")
        );
        let stale = c
            .initiate_auth()
            .client_id(&client_id)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", &refresh)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            stale.into_service_error().meta().code(),
            Some("NotAuthorizedException")
        );

        // Forgot password end to end.
        c.forgot_password()
            .client_id(&client_id)
            .username("ann")
            .send()
            .await
            .unwrap();
        let reset = s.last_code(&pool_id, "ann").await;
        c.confirm_forgot_password()
            .client_id(&client_id)
            .username("ann")
            .confirmation_code(&reset)
            .password("N3w-Passw0rd")
            .send()
            .await
            .unwrap();
        auth("N3w-Passw0rd").await.unwrap();
        c.delete_user_pool()
            .user_pool_id(&pool_id)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn admin_created_user_must_set_a_new_password() {
    for backend in backends() {
        let s = dev_server(backend).await;
        let c = s.sdk();
        let pool_id = c
            .create_user_pool()
            .pool_name("p")
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
            .client_name("app")
            .generate_secret(true)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .send()
            .await
            .unwrap();
        let client = client_id.user_pool_client().unwrap();
        let (client_id, secret) = (
            client.client_id().unwrap().to_string(),
            client.client_secret().unwrap().to_string(),
        );
        let created = c
            .admin_create_user()
            .user_pool_id(&pool_id)
            .username("bob")
            .user_attributes(attr("email", "bob@example.com"))
            .desired_delivery_mediums(
                aws_sdk_cognitoidentityprovider::types::DeliveryMediumType::Email,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            created.user().unwrap().user_status().unwrap().as_str(),
            "FORCE_CHANGE_PASSWORD"
        );
        let temp = s.last_code(&pool_id, "bob").await;
        let hash = idpool_core::crypto::secret_hash(&secret, "bob", &client_id);

        let no_hash = c
            .admin_initiate_auth()
            .user_pool_id(&pool_id)
            .client_id(&client_id)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", "bob")
            .auth_parameters("PASSWORD", &temp)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            no_hash.into_service_error().meta().code(),
            Some("NotAuthorizedException")
        );

        let challenge = c
            .admin_initiate_auth()
            .user_pool_id(&pool_id)
            .client_id(&client_id)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", "bob")
            .auth_parameters("PASSWORD", &temp)
            .auth_parameters("SECRET_HASH", &hash)
            .send()
            .await
            .unwrap();
        assert_eq!(
            challenge.challenge_name(),
            Some(&ChallengeNameType::NewPasswordRequired)
        );
        let done = c
            .admin_respond_to_auth_challenge()
            .user_pool_id(&pool_id)
            .client_id(&client_id)
            .challenge_name(ChallengeNameType::NewPasswordRequired)
            .session(challenge.session().unwrap())
            .challenge_responses("USERNAME", "bob")
            .challenge_responses("NEW_PASSWORD", "Perm-Passw0rd")
            .challenge_responses("SECRET_HASH", &hash)
            .send()
            .await
            .unwrap();
        assert!(done.authentication_result().unwrap().id_token().is_some());
        let user = c
            .admin_get_user()
            .user_pool_id(&pool_id)
            .username("BOB")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            user.into_service_error().meta().code(),
            Some("UserNotFoundException"),
            "usernames are case-sensitive by default"
        );
        let user = c
            .admin_get_user()
            .user_pool_id(&pool_id)
            .username("bob")
            .send()
            .await
            .unwrap();
        assert_eq!(user.user_status().unwrap().as_str(), "CONFIRMED");

        c.admin_disable_user()
            .user_pool_id(&pool_id)
            .username("bob")
            .send()
            .await
            .unwrap();
        let disabled = c
            .admin_initiate_auth()
            .user_pool_id(&pool_id)
            .client_id(&client_id)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", "bob")
            .auth_parameters("PASSWORD", "Perm-Passw0rd")
            .auth_parameters("SECRET_HASH", &hash)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(disabled.meta().message(), Some("User is disabled."));

        for name in ["carl", "carla", "dora"] {
            c.admin_create_user()
                .user_pool_id(&pool_id)
                .username(name)
                .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
                .send()
                .await
                .unwrap();
        }
        let listed = c
            .list_users()
            .user_pool_id(&pool_id)
            .filter("username ^= \"car\"")
            .send()
            .await
            .unwrap();
        let names: Vec<_> = listed
            .users()
            .iter()
            .map(|u| u.username().unwrap())
            .collect();
        assert_eq!(names, ["carl", "carla"]);
        let page = c
            .list_users()
            .user_pool_id(&pool_id)
            .limit(2)
            .send()
            .await
            .unwrap();
        assert_eq!(page.users().len(), 2);
        let rest = c
            .list_users()
            .user_pool_id(&pool_id)
            .limit(10)
            .pagination_token(page.pagination_token().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(rest.users().len(), 2);
        assert!(rest.pagination_token().is_none());
    }
}
