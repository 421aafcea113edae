//! Production mode: IAM operations need a SigV4 signature from the admin key.

use crate::backends;
use idpool_testkit::TestServer;

#[tokio::test]
async fn production_mode_checks_signatures() {
    for backend in backends() {
        let s = TestServer::production(backend).await.unwrap();
        s.sdk()
            .list_user_pools()
            .max_results(10)
            .send()
            .await
            .unwrap();

        let unknown = s
            .sdk_with("AKIAUNKNOWN", "x")
            .list_user_pools()
            .max_results(10)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            unknown.into_service_error().meta().code(),
            Some("UnrecognizedClientException")
        );

        let wrong = s
            .sdk_with(&s.admin_key.0, "wrong")
            .list_user_pools()
            .max_results(10)
            .send()
            .await
            .unwrap_err();
        let wrong = wrong.into_service_error();
        assert_eq!(wrong.meta().code(), Some("InvalidSignatureException"));
        assert!(
            wrong
                .meta()
                .message()
                .unwrap()
                .starts_with("The request signature we calculated does not match")
        );

        let (status, _, body) = s
            .raw(
                Some("AWSCognitoIdentityProviderService.ListUserPools"),
                r#"{"MaxResults": 1}"#,
            )
            .await;
        assert_eq!(status, 403);
        assert_eq!(body["__type"], "MissingAuthenticationTokenException");

        // Public operations need no signature, even in production.
        let (_, _, body) = s
            .raw(
                Some("AWSCognitoIdentityProviderService.SignUp"),
                r#"{"ClientId": "abc", "Username": "u", "Password": "Passw0rd!"}"#,
            )
            .await;
        assert_eq!(body["__type"], "ResourceNotFoundException");
    }
}
