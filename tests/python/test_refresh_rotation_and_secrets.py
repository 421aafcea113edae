"""Client-secret rotation (Add/Delete/ListUserPoolClientSecrets) and refresh-token
rotation (GetTokensFromRefreshToken), through boto3, on every storage backend.
"""

from __future__ import annotations

import time

from idpool_testlib import App, jwt_claims, raises_cognito, secret_hash, unique

PW = "Passw0rd-One"


def confirmed_user(app: App, username: str) -> None:
    app.cognito.admin_create_user(
        UserPoolId=app.pool_id, Username=username, MessageAction="SUPPRESS"
    )
    app.cognito.admin_set_user_password(UserPoolId=app.pool_id, Username=username, Password=PW, Permanent=True)


def sign_in_with_secret(app: App, username: str, client_secret: str):
    return app.cognito.initiate_auth(
        ClientId=app.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={
            "USERNAME": username,
            "PASSWORD": PW,
            "SECRET_HASH": secret_hash(username, app.client_id, client_secret),
        },
    )["AuthenticationResult"]


# ------------------------------------------------------------- client secrets


def test_client_secret_rotation(idp):
    c = idp.client()
    app = App.create(c, secret=True)
    confirmed_user(app, "ann")
    ids = dict(UserPoolId=app.pool_id, ClientId=app.client_id)

    listed = c.list_user_pool_client_secrets(**ids)["ClientSecrets"]
    assert len(listed) == 1 and "ClientSecretValue" not in listed[0], listed
    first_id = listed[0]["ClientSecretId"]
    assert first_id.startswith(app.client_id)

    added = c.add_user_pool_client_secret(**ids)["ClientSecretDescriptor"]
    second = added["ClientSecretValue"]
    assert second != app.client_secret and len(second) == 51
    assert added["ClientSecretCreateDate"]
    assert [s["ClientSecretId"] for s in c.list_user_pool_client_secrets(**ids)["ClientSecrets"]] == [
        first_id,
        added["ClientSecretId"],
    ]

    # While both exist, either one proves the client, for SECRET_HASH and RevokeToken.
    sign_in_with_secret(app, "ann", app.client_secret)
    tokens = sign_in_with_secret(app, "ann", second)
    c.revoke_token(Token=tokens["RefreshToken"], ClientId=app.client_id, ClientSecret=second)
    with raises_cognito("LimitExceededException", "maximum of 2"):
        c.add_user_pool_client_secret(**ids)

    # Retiring the first secret: it stops working, the second becomes the described one.
    c.delete_user_pool_client_secret(**ids, ClientSecretId=first_id)
    with raises_cognito("NotAuthorizedException", "Unable to verify secret hash"):
        sign_in_with_secret(app, "ann", app.client_secret)
    sign_in_with_secret(app, "ann", second)
    described = c.describe_user_pool_client(**ids)["UserPoolClient"]
    assert described["ClientSecret"] == second
    with raises_cognito("InvalidParameterException", "last client secret"):
        c.delete_user_pool_client_secret(**ids, ClientSecretId=added["ClientSecretId"])
    with raises_cognito("ResourceNotFoundException"):
        c.delete_user_pool_client_secret(**ids, ClientSecretId=first_id)

    # A secret the caller chose is not echoed back, and works.
    custom = "Custom_secret_value_" + unique("s").replace("-", "_")
    chosen = c.add_user_pool_client_secret(**ids, ClientSecret=custom)["ClientSecretDescriptor"]
    assert "ClientSecretValue" not in chosen, chosen
    sign_in_with_secret(app, "ann", custom)
    with raises_cognito("InvalidParameterException"):
        c.add_user_pool_client_secret(**ids, ClientSecret="dashes-are-not-allowed-here-x")

    public = App.create(c)
    with raises_cognito("InvalidParameterException", "confidential"):
        c.add_user_pool_client_secret(UserPoolId=public.pool_id, ClientId=public.client_id)
    assert c.list_user_pool_client_secrets(UserPoolId=public.pool_id, ClientId=public.client_id)[
        "ClientSecrets"
    ] == []
    with raises_cognito("ResourceNotFoundException"):
        c.list_user_pool_client_secrets(UserPoolId=public.pool_id, ClientId="nosuchclient")


# ------------------------------------------------------- refresh-token renewal


def test_get_tokens_from_refresh_token_without_rotation(idp):
    c = idp.client()
    app = App.create(c, secret=True)
    confirmed_user(app, "bob")
    tokens = app.sign_in("bob", PW)
    origin = jwt_claims(tokens["AccessToken"])["origin_jti"]

    with raises_cognito("NotAuthorizedException", "ClientSecret was not received"):
        c.get_tokens_from_refresh_token(RefreshToken=tokens["RefreshToken"], ClientId=app.client_id)
    with raises_cognito("NotAuthorizedException", "Unable to verify secret"):
        c.get_tokens_from_refresh_token(
            RefreshToken=tokens["RefreshToken"], ClientId=app.client_id, ClientSecret="x" * 51
        )
    for _ in range(2):
        renewed = c.get_tokens_from_refresh_token(
            RefreshToken=tokens["RefreshToken"], ClientId=app.client_id, ClientSecret=app.client_secret
        )["AuthenticationResult"]
        assert "RefreshToken" not in renewed, "no rotation: the same refresh token stays valid"
        assert jwt_claims(renewed["AccessToken"])["origin_jti"] == origin
        assert c.get_user(AccessToken=renewed["AccessToken"])["Username"] == "bob"

    with raises_cognito("NotAuthorizedException", "Invalid Refresh Token"):
        c.get_tokens_from_refresh_token(
            RefreshToken="not-a-token", ClientId=app.client_id, ClientSecret=app.client_secret
        )
    c.admin_disable_user(UserPoolId=app.pool_id, Username="bob")
    with raises_cognito("NotAuthorizedException", "User is disabled"):
        c.get_tokens_from_refresh_token(
            RefreshToken=tokens["RefreshToken"], ClientId=app.client_id, ClientSecret=app.client_secret
        )


def test_refresh_token_rotation(idp):
    c = idp.client()
    app = App.create(c, client_overrides={"RefreshTokenRotation": {"Feature": "ENABLED"}})
    described = c.describe_user_pool_client(UserPoolId=app.pool_id, ClientId=app.client_id)["UserPoolClient"]
    assert described["RefreshTokenRotation"]["Feature"] == "ENABLED"
    confirmed_user(app, "cy")
    first = app.sign_in("cy", PW)
    session = jwt_claims(first["AccessToken"])

    def renew(refresh_token: str) -> dict:
        return c.get_tokens_from_refresh_token(RefreshToken=refresh_token, ClientId=app.client_id)[
            "AuthenticationResult"
        ]

    second = renew(first["RefreshToken"])
    assert second["RefreshToken"] != first["RefreshToken"]
    claims = jwt_claims(second["AccessToken"])
    assert (claims["origin_jti"], claims["auth_time"]) == (session["origin_jti"], session["auth_time"])
    # No grace period: the replaced token is spent at once.
    with raises_cognito("RefreshTokenReuseException"):
        renew(first["RefreshToken"])
    third = renew(second["RefreshToken"])

    # REFRESH_TOKEN_AUTH could not hand back the replacement, so a rotating client refuses it.
    with raises_cognito("InvalidParameterException", "GetTokensFromRefreshToken"):
        app.refresh("cy", third["RefreshToken"])

    # Revoking the newest token ends the whole session, older access tokens included.
    assert c.get_user(AccessToken=second["AccessToken"])["Username"] == "cy"
    c.revoke_token(Token=third["RefreshToken"], ClientId=app.client_id)
    with raises_cognito("NotAuthorizedException", "revoked"):
        c.get_user(AccessToken=second["AccessToken"])
    with raises_cognito("NotAuthorizedException", "revoked"):
        renew(third["RefreshToken"])


def test_refresh_token_rotation_grace_period(idp):
    c = idp.client()
    app = App.create(
        c, client_overrides={"RefreshTokenRotation": {"Feature": "ENABLED", "RetryGracePeriodSeconds": 1}}
    )
    confirmed_user(app, "dee")
    old = app.sign_in("dee", PW)["RefreshToken"]
    renew = lambda t: c.get_tokens_from_refresh_token(RefreshToken=t, ClientId=app.client_id)[  # noqa: E731
        "AuthenticationResult"
    ]
    a = renew(old)["RefreshToken"]
    # A client that lost the answer may retry with the old token within the grace period.
    b = renew(old)["RefreshToken"]
    assert a != b
    time.sleep(1.3)
    with raises_cognito("RefreshTokenReuseException"):
        renew(old)
    assert renew(b)["RefreshToken"]
    with raises_cognito("InvalidParameterException"):
        c.update_user_pool_client(
            UserPoolId=app.pool_id,
            ClientId=app.client_id,
            RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 61},
        )


# ------------------------------------------------------- signing certificate


def test_signing_certificate_matches_the_jwks(idp):
    """GetSigningCertificate: a parseable, self-signed X.509 certificate of the key that
    signs the pool's tokens, the same on every call, valid for about ten years."""
    import base64

    import requests
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import padding

    c = idp.client()
    app = App.create(c)
    first = c.get_signing_certificate(UserPoolId=app.pool_id)["Certificate"]
    assert c.get_signing_certificate(UserPoolId=app.pool_id)["Certificate"] == first
    cert = x509.load_der_x509_certificate(base64.b64decode(first))
    assert cert.version == x509.Version.v3
    assert cert.subject == cert.issuer
    assert app.pool_id in cert.subject.rfc4514_string()
    years = (cert.not_valid_after_utc - cert.not_valid_before_utc).days / 365
    assert 9.9 < years < 10.1, years
    public = cert.public_key()
    public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)

    jwks = requests.get(f"{idp.endpoint}/{app.pool_id}/.well-known/jwks.json", timeout=10).json()
    n = int.from_bytes(base64.urlsafe_b64decode(jwks["keys"][0]["n"] + "=="), "big")
    assert public.public_numbers().n == n, "the certificate is for the pool's signing key"
    with raises_cognito("ResourceNotFoundException"):
        c.get_signing_certificate(UserPoolId="us-east-1_nope")
