//! The management operations and newer flows through the Rust SDK: groups in tokens,
//! client-secret rotation, refresh-token rotation (GetTokensFromRefreshToken) and the
//! signing certificate.

use crate::{backends, dev_server};
use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, ExplicitAuthFlowsType, FeatureType, RefreshTokenRotationType,
};
use idpool_core::crypto::secret_hash;
use idpool_core::tokens::jwt;

const PASSWORD: &str = "Passw0rd-Rust";

#[tokio::test]
async fn groups_secrets_and_refresh_rotation() {
    for backend in backends() {
        let s = dev_server(backend).await;
        let c = s.sdk();
        let pool = c.create_user_pool().pool_name("mgmt").send().await.unwrap();
        let pool_id = pool.user_pool().unwrap().id().unwrap().to_string();
        let created = c
            .create_user_pool_client()
            .user_pool_id(&pool_id)
            .client_name("rotating")
            .generate_secret(true)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .refresh_token_rotation(
                RefreshTokenRotationType::builder()
                    .feature(FeatureType::Enabled)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let client = created.user_pool_client().unwrap();
        let client_id = client.client_id().unwrap().to_string();
        let first_secret = client.client_secret().unwrap().to_string();

        c.create_group()
            .user_pool_id(&pool_id)
            .group_name("editors")
            .send()
            .await
            .unwrap();
        c.admin_create_user()
            .user_pool_id(&pool_id)
            .username("rita")
            .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
            .send()
            .await
            .unwrap();
        c.admin_set_user_password()
            .user_pool_id(&pool_id)
            .username("rita")
            .password(PASSWORD)
            .permanent(true)
            .send()
            .await
            .unwrap();
        c.admin_add_user_to_group()
            .user_pool_id(&pool_id)
            .username("rita")
            .group_name("editors")
            .send()
            .await
            .unwrap();

        // A second secret: a SECRET_HASH made with it signs in.
        let second_secret = c
            .add_user_pool_client_secret()
            .user_pool_id(&pool_id)
            .client_id(&client_id)
            .send()
            .await
            .unwrap()
            .client_secret_descriptor()
            .unwrap()
            .client_secret_value()
            .unwrap()
            .to_string();
        let signed_in = c
            .admin_initiate_auth()
            .user_pool_id(&pool_id)
            .client_id(&client_id)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", "rita")
            .auth_parameters("PASSWORD", PASSWORD)
            .auth_parameters(
                "SECRET_HASH",
                secret_hash(&second_secret, "rita", &client_id),
            )
            .send()
            .await
            .unwrap();
        let tokens = signed_in.authentication_result().unwrap();
        let claims = jwt::decode(tokens.id_token().unwrap()).unwrap().claims;
        assert_eq!(claims["cognito:groups"], serde_json::json!(["editors"]));

        // Rotation: a new refresh token, and the old one is spent.
        let renew = |token: String, secret: String| {
            let c = c.clone();
            let client_id = client_id.clone();
            async move {
                c.get_tokens_from_refresh_token()
                    .client_id(client_id)
                    .client_secret(secret)
                    .refresh_token(token)
                    .send()
                    .await
            }
        };
        let original = tokens.refresh_token().unwrap().to_string();
        let renewed = renew(original.clone(), first_secret.clone()).await.unwrap();
        let replacement = renewed
            .authentication_result()
            .unwrap()
            .refresh_token()
            .unwrap();
        assert_ne!(replacement, original);
        let reused = renew(original, first_secret.clone()).await.unwrap_err();
        assert_eq!(
            reused.into_service_error().meta().code(),
            Some("RefreshTokenReuseException")
        );

        // Retire the first secret: it no longer proves the client.
        let listed = c
            .list_user_pool_client_secrets()
            .user_pool_id(&pool_id)
            .client_id(&client_id)
            .send()
            .await
            .unwrap();
        assert_eq!(listed.client_secrets().len(), 2);
        c.delete_user_pool_client_secret()
            .user_pool_id(&pool_id)
            .client_id(&client_id)
            .client_secret_id(listed.client_secrets()[0].client_secret_id().unwrap())
            .send()
            .await
            .unwrap();
        let refused = renew(replacement.to_string(), first_secret)
            .await
            .unwrap_err();
        assert_eq!(
            refused.into_service_error().meta().code(),
            Some("NotAuthorizedException")
        );
        renew(replacement.to_string(), second_secret).await.unwrap();

        let certificate = c
            .get_signing_certificate()
            .user_pool_id(&pool_id)
            .send()
            .await
            .unwrap();
        assert!(certificate.certificate().is_some_and(|c| c.len() > 500));
    }
}
