"""Sign-in through an external OpenID provider (user pool federation).

The provider is tests/python/fake_oidc.py on a loopback port; the app is Authlib's
OAuth2Session; the browser follows redirects like test_oauth's. Each test runs on
SQLite and PostgreSQL."""

from __future__ import annotations

import html
import secrets
import time
import urllib.parse

import pytest
import requests

from fake_oidc import FakeOidcProvider
from idpool_testlib import attrs_dict, unique
from test_oauth import CALLBACK, Browser, OAuthApp, callback_params


@pytest.fixture
def corp():
    provider = FakeOidcProvider()
    yield provider
    provider.close()


class FederatedApp(OAuthApp):
    """An OAuthApp whose pool federates with `corp` as the OIDC provider "Corp"."""

    def __init__(self, server, corp, providers=("COGNITO", "Corp"), pool_overrides=None):
        super().__init__(server, pool_overrides=pool_overrides)
        self.corp = corp
        self.cognito.create_identity_provider(
            UserPoolId=self.pool_id,
            ProviderName="Corp",
            ProviderType="OIDC",
            ProviderDetails=corp.provider_details(),
            AttributeMapping={"email": "email", "name": "name", "email_verified": "email_verified"},
            IdpIdentifiers=["corp.example"],
        )
        client = self.cognito.create_user_pool_client(
            UserPoolId=self.pool_id,
            ClientName="federated",
            GenerateSecret=True,
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "email", "profile"],
            CallbackURLs=[CALLBACK],
            SupportedIdentityProviders=list(providers),
        )["UserPoolClient"]
        self.client_id = client["ClientId"]
        self.client_secret = client["ClientSecret"]

    def sign_in(self, browser=None, **params):
        """The whole round trip; returns (tokens, nonce)."""
        browser = browser or Browser()
        rp = self.rp()
        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(12)
        url, state = rp.create_authorization_url(
            self.discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **params
        )
        r = browser.get(url)
        got = callback_params(r)
        assert got.get("state") == state
        assert "error" not in got, got
        tokens = rp.fetch_token(
            self.discovery["token_endpoint"], authorization_response=r.headers["Location"], code_verifier=verifier
        )
        return tokens, nonce

    def refused(self, **params) -> dict:
        """Starts a sign-in that must come back to the app with an error."""
        url, _ = self.rp().create_authorization_url(
            self.discovery["authorization_endpoint"], code_verifier=secrets.token_urlsafe(48), **params
        )
        got = callback_params(Browser().get(url))
        assert "code" not in got, got
        return got

    def federated_users(self) -> list[dict]:
        users = self.cognito.list_users(UserPoolId=self.pool_id)["Users"]
        return [u for u in users if u["Username"].startswith("Corp_")]


def test_sign_in_through_an_oidc_provider_creates_then_updates_the_user(idp, corp):
    app = FederatedApp(idp, corp)
    corp.next_user = {"sub": "emp-42", "email": "ada@corp.example", "email_verified": True, "name": "Ada"}
    tokens, nonce = app.sign_in(identity_provider="Corp")

    claims = app.id_claims(tokens["id_token"], nonce)
    assert claims["cognito:username"] == "Corp_emp-42"
    assert claims["email"] == "ada@corp.example"
    assert claims["email_verified"] is True
    assert claims["name"] == "Ada"
    [identity] = claims["identities"]
    assert identity["providerName"] == "Corp" and identity["providerType"] == "OIDC"
    assert identity["userId"] == "emp-42" and identity["primary"] == "true"

    user = app.cognito.admin_get_user(UserPoolId=app.pool_id, Username="Corp_emp-42")
    assert user["UserStatus"] == "EXTERNAL_PROVIDER"
    assert attrs_dict(user["UserAttributes"])["email"] == "ada@corp.example"

    # What the provider saw: our registered callback, a nonce, PKCE, our secret.
    authorize = [s for s in corp.seen if s["endpoint"] == "authorize"][-1]
    assert authorize["redirect_uri"] == f"{app.base}/oauth2/idpresponse"
    assert authorize["scope"] == "openid email profile"
    assert authorize["code_challenge_method"] == "S256" and authorize["nonce"]
    token_call = [s for s in corp.seen if s["endpoint"] == "token"][-1]
    assert token_call["auth_method"] == "client_secret_post"
    assert any(s["endpoint"] == "userinfo" for s in corp.seen)

    # The next sign-in is the same user, with the provider's current attributes.
    corp.next_user = {"sub": "emp-42", "email": "ada.l@corp.example", "name": "Ada L."}
    tokens, nonce = app.sign_in(identity_provider="Corp")
    claims = app.id_claims(tokens["id_token"], nonce)
    assert claims["cognito:username"] == "Corp_emp-42" and claims["email"] == "ada.l@corp.example"
    assert len(app.federated_users()) == 1

    # Federated tokens work like any: refresh and userInfo.
    info = requests.get(
        app.discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=10
    ).json()
    assert info["username"] == "Corp_emp-42"
    refreshed = app.rp().refresh_token(app.discovery["token_endpoint"], refresh_token=tokens["refresh_token"])
    assert app.id_claims(refreshed["id_token"])["cognito:username"] == "Corp_emp-42"


def test_provider_choice_by_identifier_button_or_the_only_provider(idp, corp):
    app = FederatedApp(idp, corp)
    corp.next_user = {"sub": "by-identifier"}
    tokens, nonce = app.sign_in(idp_identifier="CORP.example")
    assert app.id_claims(tokens["id_token"], nonce)["cognito:username"] == "Corp_by-identifier"

    # The hosted sign-in page offers the provider as a button.
    browser = Browser()
    url, _ = app.rp().create_authorization_url(
        app.discovery["authorization_endpoint"], code_verifier=secrets.token_urlsafe(48)
    )
    page = browser.get(url)
    assert page.status_code == 200 and "Continue with Corp" in page.text
    link = html.unescape(page.text.split('class="provider" href="')[1].split('"')[0])
    corp.next_user = {"sub": "by-button"}
    r = browser.get(urllib.parse.urljoin(page.url, link))
    assert "code" in callback_params(r)

    # A client whose only provider is Corp goes straight there, and its users cannot
    # use the pool's own password form.
    only = FederatedApp(idp, corp, providers=("Corp",))
    corp.next_user = {"sub": "straight"}
    tokens, nonce = only.sign_in()
    assert only.id_claims(tokens["id_token"], nonce)["cognito:username"] == "Corp_straight"


def test_requests_for_unusable_providers_are_refused(idp, corp):
    app = FederatedApp(idp, corp)
    got = app.refused(identity_provider="Nope")
    assert got["error"] == "unauthorized_client"
    got = app.refused(idp_identifier="unknown.example")
    assert got["error"] == "invalid_request"
    cognito_only = FederatedApp(idp, corp, providers=("COGNITO",))
    got = cognito_only.refused(identity_provider="Corp")
    assert got["error"] == "unauthorized_client" and "Corp" in got["error_description"]
    corp_only = FederatedApp(idp, corp, providers=("Corp",))
    assert corp_only.refused(identity_provider="COGNITO")["error"] == "unauthorized_client"

    corp.deny = True
    got = app.refused(identity_provider="Corp")
    assert got["error"] == "access_denied" and "The user said no" in got["error_description"]
    assert app.federated_users() == []


@pytest.mark.parametrize(
    "attack, tamper",
    [
        ("another audience", lambda c: {**c, "aud": "someone-else"}),
        ("a replayed nonce", lambda c: {**c, "nonce": "from-another-sign-in"}),
        ("expired", lambda c: {**c, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}),
        ("another issuer", lambda c: {**c, "iss": "http://127.0.0.1:1"}),
        ("a foreign key", None),
    ],
)
def test_id_tokens_that_fail_verification_sign_nobody_in(idp, corp, attack, tamper):
    app = FederatedApp(idp, corp)
    corp.tamper = tamper
    corp.foreign_key = tamper is None
    got = app.refused(identity_provider="Corp")
    assert got["error"] == "invalid_request", attack
    assert "Corp" in got["error_description"]
    assert app.federated_users() == []


def test_the_provider_callback_only_completes_in_the_browser_that_started(idp, corp):
    app = FederatedApp(idp, corp)
    url, _ = app.rp().create_authorization_url(
        app.discovery["authorization_endpoint"], code_verifier=secrets.token_urlsafe(48), identity_provider="Corp"
    )
    attacker = Browser()
    r = attacker.http.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"].startswith(corp.issuer)
    r = attacker.http.get(r.headers["Location"], allow_redirects=False, timeout=10)
    callback = r.headers["Location"]
    assert "/oauth2/idpresponse?" in callback
    # The victim's browser is handed the attacker's callback URL: refused.
    victim = requests.get(callback, allow_redirects=False, timeout=10)
    assert victim.status_code == 400 and "another browser" in victim.text
    # A forged state is refused too.
    forged = callback.split("state=")[0] + "state=forged"
    assert attacker.http.get(forged, allow_redirects=False, timeout=10).status_code == 400


def test_an_admin_linked_identity_signs_in_as_the_existing_user(idp, corp):
    app = FederatedApp(idp, corp)
    native = app.user("grace")
    app.cognito.admin_link_provider_for_user(
        UserPoolId=app.pool_id,
        DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": native},
        SourceUser={"ProviderName": "Corp", "ProviderAttributeName": "Cognito_Subject", "ProviderAttributeValue": "emp-7"},
    )
    corp.next_user = {"sub": "emp-7", "email": "grace@corp.example"}
    tokens, nonce = app.sign_in(identity_provider="Corp")
    assert app.id_claims(tokens["id_token"], nonce)["cognito:username"] == native
    assert app.federated_users() == []
