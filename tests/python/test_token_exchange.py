"""Token exchange (RFC 8693): GetDerivedToken with boto3, and the token endpoint's
token-exchange grant, on every backend. A user signs in on the hosted pages for an API
with read and write scopes; a service exchanges the user's token for a read-only token
bound to one resource server, on its own (impersonation) or naming itself with its own
token (delegation, the `act` claim)."""

from __future__ import annotations

import requests

from idpool_testlib import jwt_claims, raises_cognito
from test_oauth import CALLBACK, Browser, OAuthApp, sign_in_code_flow

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
ID = "urn:ietf:params:oauth:token-type:id_token"
SCOPES = ["openid", "email", "orders/read", "orders/write"]


def exchange_app(server) -> OAuthApp:
    app = OAuthApp(server, flows=("code",))
    app.cognito.create_resource_server(
        UserPoolId=app.pool_id, Identifier="orders", Name="Orders",
        Scopes=[{"ScopeName": "read", "ScopeDescription": "read"}, {"ScopeName": "write", "ScopeDescription": "write"}],
    )
    app.cognito.update_user_pool_client(
        UserPoolId=app.pool_id, ClientId=app.client_id, ClientName="web",
        AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"], AllowedOAuthScopes=SCOPES,
        CallbackURLs=[CALLBACK], SupportedIdentityProviders=["COGNITO"],
        ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_TOKEN_EXCHANGE_IMPERSONATION", "ALLOW_TOKEN_EXCHANGE_DELEGATION"],
    )
    return app


def user_tokens(app: OAuthApp) -> dict:
    username = app.user()
    _, token, _, _ = sign_in_code_flow(app, Browser(), username, rp=app.rp(scope=" ".join(SCOPES)))
    return token


def test_get_derived_token_narrows_scopes_and_binds_a_resource(idp):
    app = exchange_app(idp)
    user = user_tokens(app)
    subject = jwt_claims(user["access_token"])
    assert set(subject["scope"].split()) == set(SCOPES)

    derived = app.cognito.get_derived_token(
        ClientId=app.client_id, ClientSecret=app.client_secret,
        SubjectToken=user["access_token"], SubjectTokenType="ACCESS_TOKEN",
        Scopes=["orders/read", "orders/delete"], Resources=["orders"],
    )
    assert (derived["IssuedTokenType"], derived["TokenType"], derived["Scopes"]) == ("ACCESS_TOKEN", "Bearer", ["orders/read"])
    assert derived["ExpiresIn"] == 3600
    claims = jwt_claims(derived["IssuedToken"])
    assert (claims["sub"], claims["username"], claims["token_use"]) == (subject["sub"], subject["username"], "access")
    assert (claims["aud"], claims["scope"], claims["client_id"]) == ("orders", "orders/read", app.client_id)
    assert claims["origin_jti"] == subject["origin_jti"] and "act" not in claims
    # The derived token is a token of the pool: it works where the user's would.
    assert app.cognito.get_user(AccessToken=derived["IssuedToken"])["Username"] == subject["username"]

    # Without Scopes, the subject token's; an ID token can be asked for, for an audience.
    same = app.cognito.get_derived_token(
        ClientId=app.client_id, ClientSecret=app.client_secret, SubjectToken=user["access_token"],
        SubjectTokenType="ACCESS_TOKEN", Audiences=["billing-service"], RequestedTokenType="ID_TOKEN",
    )
    assert (same["IssuedTokenType"], same["TokenType"]) == ("ID_TOKEN", "N_A")
    id_claims = jwt_claims(same["IssuedToken"])
    assert (id_claims["token_use"], id_claims["aud"], id_claims["email"]) == ("id", "billing-service", subject["username"] + "@example.com")

    with raises_cognito("InvalidParameterException", "not both"):
        app.cognito.get_derived_token(
            ClientId=app.client_id, ClientSecret=app.client_secret, SubjectToken=user["access_token"],
            SubjectTokenType="ACCESS_TOKEN", Audiences=["a"], Resources=["orders"],
        )
    with raises_cognito("InvalidParameterException", "not a resource server"):
        app.cognito.get_derived_token(
            ClientId=app.client_id, ClientSecret=app.client_secret, SubjectToken=user["access_token"],
            SubjectTokenType="ACCESS_TOKEN", Resources=["payments"],
        )
    with raises_cognito("InvalidParameterException", "SAML"):
        app.cognito.get_derived_token(
            ClientId=app.client_id, SubjectToken="PHNhbWw+", SubjectTokenType="SAML2",
        )
    with raises_cognito("NotAuthorizedException", "subject token"):
        app.cognito.get_derived_token(
            ClientId=app.client_id, SubjectToken=user["access_token"] + "x", SubjectTokenType="ACCESS_TOKEN",
        )
    with raises_cognito("NotAuthorizedException", "subject token"):
        # An ID token offered as an access token.
        app.cognito.get_derived_token(ClientId=app.client_id, SubjectToken=user["id_token"], SubjectTokenType="ACCESS_TOKEN")
    with raises_cognito("NotAuthorizedException", "Invalid client secret"):
        app.cognito.get_derived_token(
            ClientId=app.client_id, ClientSecret="notTheSecretOfThisAppClient", SubjectToken=user["access_token"],
            SubjectTokenType="ACCESS_TOKEN",
        )

    # A derived token ends with the session it came from.
    app.cognito.revoke_token(Token=user["refresh_token"], ClientId=app.client_id, ClientSecret=app.client_secret)
    with raises_cognito("NotAuthorizedException"):
        app.cognito.get_user(AccessToken=derived["IssuedToken"])
    with raises_cognito("NotAuthorizedException", "subject token"):
        app.cognito.get_derived_token(ClientId=app.client_id, SubjectToken=user["access_token"], SubjectTokenType="ACCESS_TOKEN")


def test_delegation_names_the_actor_and_each_kind_needs_its_flow(idp):
    app = exchange_app(idp)
    user = user_tokens(app)
    # The service proves itself with a machine-to-machine token of its own client.
    service = app.cognito.create_user_pool_client(
        UserPoolId=app.pool_id, ClientName="orders-agent", GenerateSecret=True,
        AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["client_credentials"], AllowedOAuthScopes=["orders/read"],
    )["UserPoolClient"]
    actor = app.cognito.get_client_token(ClientId=service["ClientId"], Secret=service["ClientSecret"])[
        "ClientAuthenticationResult"]["AccessToken"]

    delegated = app.cognito.get_derived_token(
        ClientId=app.client_id, ClientSecret=app.client_secret,
        SubjectToken=user["id_token"], SubjectTokenType="ID_TOKEN",
        ActorToken=actor, ActorTokenType="ACCESS_TOKEN", Audiences=["orders-api"],
    )
    claims = jwt_claims(delegated["IssuedToken"])
    assert claims["act"] == {"sub": service["ClientId"], "client_id": service["ClientId"]}
    assert claims["sub"] == jwt_claims(user["id_token"])["sub"] and claims["aud"] == "orders-api"
    assert claims["scope"] == "openid", "an ID token carries no more than openid"

    # The token endpoint speaks RFC 8693.
    token_url = app.discovery["token_endpoint"]
    assert EXCHANGE in app.discovery["grant_types_supported"]
    r = requests.post(
        token_url,
        data={"grant_type": EXCHANGE, "subject_token": user["access_token"], "subject_token_type": ACCESS,
              "actor_token": actor, "actor_token_type": ACCESS, "scope": "orders/read", "resource": "orders"},
        auth=(app.client_id, app.client_secret), timeout=10,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["issued_token_type"], body["token_type"], body["scope"]) == (ACCESS, "Bearer", "orders/read")
    assert "refresh_token" not in body
    assert jwt_claims(body["access_token"])["act"]["sub"] == service["ClientId"]
    r = requests.post(
        token_url, data={"grant_type": EXCHANGE, "subject_token": "nonsense", "subject_token_type": ACCESS},
        auth=(app.client_id, app.client_secret), timeout=10,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = requests.post(
        token_url, data={"grant_type": EXCHANGE, "subject_token": user["access_token"], "subject_token_type": ACCESS,
                         "resource": "payments"},
        auth=(app.client_id, app.client_secret), timeout=10,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_target"
    r = requests.post(
        token_url, data={"grant_type": EXCHANGE, "subject_token": user["access_token"],
                         "subject_token_type": "urn:ietf:params:oauth:token-type:saml2"},
        auth=(app.client_id, app.client_secret), timeout=10,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"

    # Each kind of exchange needs its flow on the requesting client.
    app.cognito.update_user_pool_client(
        UserPoolId=app.pool_id, ClientId=app.client_id, ClientName="web",
        AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"], AllowedOAuthScopes=SCOPES,
        CallbackURLs=[CALLBACK], SupportedIdentityProviders=["COGNITO"],
        ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_TOKEN_EXCHANGE_IMPERSONATION"],
    )
    with raises_cognito("OperationNotEnabledException", "ALLOW_TOKEN_EXCHANGE_DELEGATION"):
        app.cognito.get_derived_token(
            ClientId=app.client_id, SubjectToken=user["access_token"], SubjectTokenType="ACCESS_TOKEN",
            ActorToken=actor, ActorTokenType="ACCESS_TOKEN",
        )
    assert app.cognito.get_derived_token(
        ClientId=app.client_id, SubjectToken=user["access_token"], SubjectTokenType="ACCESS_TOKEN"
    )["IssuedToken"]
    r = requests.post(
        token_url, data={"grant_type": EXCHANGE, "subject_token": user["access_token"], "subject_token_type": ACCESS,
                         "actor_token": actor, "actor_token_type": ACCESS},
        auth=(app.client_id, app.client_secret), timeout=10,
    )
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
    # A machine's own token is no subject: it names no user.
    with raises_cognito("NotAuthorizedException", "names no user"):
        app.cognito.get_derived_token(ClientId=app.client_id, SubjectToken=actor, SubjectTokenType="ACCESS_TOKEN")
