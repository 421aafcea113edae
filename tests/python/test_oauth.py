"""The OAuth 2.0 / OpenID Connect authorization server and the hosted pages.

The relying party is Authlib's OAuth2Session (authorization code + PKCE, refresh,
userinfo, ID-token validation against the JWKS); the "browser" is a requests.Session
that follows the server-rendered forms exactly as a browser without JavaScript would
(cookies, hidden fields, redirects). Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import html
import re
import secrets
import time
import urllib.parse

import pyotp
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt

from idpool_testlib import attrs_dict, jwt_claims, raises_cognito, unique

CALLBACK = "https://app.example.com/callback"
LOGOUT_URL = "https://app.example.com/signed-out"
PASSWORD = "Passw0rd-OAuth1"


class OAuthApp:
    """A pool with an OAuth app client, addressed through the path form."""

    def __init__(self, server, *, secret=True, flows=("code", "implicit"), scopes=None, pool_overrides=None):
        self.server = server
        self.cognito = server.client()
        params = {
            "PoolName": unique("oauth"),
            "AutoVerifiedAttributes": ["email"],
            "Policies": {"PasswordPolicy": {"MinimumLength": 8, "RequireUppercase": True,
                                            "RequireLowercase": True, "RequireNumbers": True,
                                            "RequireSymbols": False}},
        }
        params.update(pool_overrides or {})
        self.pool_id = self.cognito.create_user_pool(**params)["UserPool"]["Id"]
        client = self.cognito.create_user_pool_client(
            UserPoolId=self.pool_id,
            ClientName="web",
            GenerateSecret=secret,
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=list(flows),
            AllowedOAuthScopes=scopes or ["openid", "email", "profile"],
            CallbackURLs=[CALLBACK],
            LogoutURLs=[LOGOUT_URL],
            SupportedIdentityProviders=["COGNITO"],
        )["UserPoolClient"]
        self.client_id = client["ClientId"]
        self.client_secret = client.get("ClientSecret")
        self.base = f"{server.endpoint}/{self.pool_id}"
        self.discovery = requests.get(f"{self.base}/.well-known/openid-configuration", timeout=10).json()

    def user(self, username=None, email=None):
        username = username or unique("user")
        self.cognito.admin_create_user(
            UserPoolId=self.pool_id,
            Username=username,
            MessageAction="SUPPRESS",
            UserAttributes=[
                {"Name": "email", "Value": email or f"{username}@example.com"},
                {"Name": "email_verified", "Value": "true"},
            ],
        )
        self.cognito.admin_set_user_password(
            UserPoolId=self.pool_id, Username=username, Password=PASSWORD, Permanent=True
        )
        return username

    def update_branding(self, **changes):
        """UpdateManagedLoginBranding of the client's style."""
        style = self.cognito.describe_managed_login_branding_by_client(UserPoolId=self.pool_id, ClientId=self.client_id)
        self.cognito.update_managed_login_branding(
            UserPoolId=self.pool_id,
            ManagedLoginBrandingId=style["ManagedLoginBranding"]["ManagedLoginBrandingId"],
            **changes,
        )

    def rp(self, scope="openid email profile"):
        return OAuth2Session(
            self.client_id,
            self.client_secret,
            scope=scope,
            redirect_uri=CALLBACK,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none",
        )

    def id_claims(self, id_token, nonce=None):
        jwks = requests.get(self.discovery["jwks_uri"], timeout=10).json()
        claims = jwt.decode(
            id_token,
            JsonWebKey.import_key_set(jwks),
            claims_options={
                "iss": {"essential": True, "value": self.discovery["issuer"]},
                "aud": {"essential": True, "value": self.client_id},
                "nonce": {"essential": nonce is not None, "value": nonce},
            },
        )
        claims.validate()
        return claims


class Browser:
    """Follows the hosted pages like a browser without JavaScript."""

    def __init__(self):
        self.http = requests.Session()
        self.page = None

    def get(self, url):
        r = self.http.get(url, allow_redirects=False, timeout=30)
        while r.status_code in (301, 302, 303) and not r.headers["Location"].startswith(CALLBACK) \
                and not r.headers["Location"].startswith(LOGOUT_URL):
            r = self.http.get(urllib.parse.urljoin(r.url, r.headers["Location"]), allow_redirects=False, timeout=30)
        self.page = r
        return r

    def form(self, action_suffix):
        """The hidden fields of the page's form posting to `action_suffix`."""
        forms = re.findall(r'<form method="post" action="([^"]+)">(.*?)</form>', self.page.text, re.S)
        for action, body in forms:
            action = html.unescape(action)
            if action.endswith(action_suffix):
                fields = dict(
                    (html.unescape(n), html.unescape(v))
                    for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', body)
                )
                return urllib.parse.urljoin(self.page.url, action), fields
        raise AssertionError(f"no form posting to {action_suffix} on {self.page.url}:\n{self.page.text[:3000]}")

    def submit(self, action_suffix, **values):
        url, fields = self.form(action_suffix)
        fields.update(values)
        r = self.http.post(url, data=fields, allow_redirects=False, timeout=30)
        self.page = r
        return r

    def error(self):
        m = re.search(r'<p class="error" role="alert">(.*?)</p>', self.page.text, re.S)
        return html.unescape(m.group(1)) if m else None


def callback_params(r) -> dict:
    assert r.status_code == 302, f"{r.status_code}: {r.text[:2000]}"
    location = r.headers["Location"]
    assert location.startswith(CALLBACK), location
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def sign_in_code_flow(app, browser, username, password=PASSWORD, rp=None, **extra):
    rp = rp or app.rp()
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(12)
    url, state = rp.create_authorization_url(
        app.discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra
    )
    r = browser.get(url)
    assert r.status_code == 200 and "Sign in" in r.text, r.text[:2000]
    r = browser.submit("/login", username=username, password=password)
    params = callback_params(r)
    assert params["state"] == state
    token = rp.fetch_token(
        app.discovery["token_endpoint"],
        authorization_response=r.headers["Location"],
        code_verifier=verifier,
    )
    return rp, token, nonce, params


@pytest.fixture
def server(idp):
    return idp


def test_discovery_names_every_endpoint(server):
    app = OAuthApp(server)
    d = app.discovery
    assert d["issuer"] == app.base
    for key, path in [
        ("authorization_endpoint", "/oauth2/authorize"),
        ("token_endpoint", "/oauth2/token"),
        ("userinfo_endpoint", "/oauth2/userInfo"),
        ("revocation_endpoint", "/oauth2/revoke"),
        ("jwks_uri", "/.well-known/jwks.json"),
    ]:
        assert d[key] == app.base + path
    assert "S256" in d["code_challenge_methods_supported"]


def test_authorization_code_with_pkce_userinfo_and_refresh(server):
    app = OAuthApp(server)
    username = app.user()
    browser = Browser()
    rp, token, nonce, params = sign_in_code_flow(app, browser, username)
    claims = app.id_claims(token["id_token"], nonce)
    assert claims["cognito:username"] == username
    assert claims["email"] == f"{username}@example.com"
    assert claims["auth_time"] <= time.time() + 5
    assert "at_hash" in claims
    assert claims["amr"] == ["pwd"]
    access = jwt_claims(token["access_token"])
    assert access["scope"].split() == ["openid", "email", "profile"]
    assert access["token_use"] == "access" and access["client_id"] == app.client_id
    assert token["token_type"].lower() == "bearer" and token["refresh_token"]

    info = rp.get(app.discovery["userinfo_endpoint"]).json()
    assert info["sub"] == claims["sub"] and info["email"] == f"{username}@example.com"
    assert info["username"] == username

    # A code works once, and only with its own redirect_uri and verifier.
    again = requests.post(
        app.discovery["token_endpoint"],
        data={"grant_type": "authorization_code", "code": params["code"], "redirect_uri": CALLBACK,
              "client_id": app.client_id, "client_secret": app.client_secret},
        timeout=10,
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    refreshed = rp.refresh_token(app.discovery["token_endpoint"], refresh_token=token["refresh_token"])
    assert jwt_claims(refreshed["access_token"])["scope"].split() == ["openid", "email", "profile"]
    assert jwt_claims(refreshed["id_token"])["auth_time"] == claims["auth_time"]

    # Revocation: the refresh token stops working.
    r = requests.post(app.discovery["revocation_endpoint"], data={"token": token["refresh_token"]},
                      auth=(app.client_id, app.client_secret), timeout=10)
    assert r.status_code == 200, r.text
    r = requests.post(app.discovery["token_endpoint"],
                      data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
                      auth=(app.client_id, app.client_secret), timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_codes_are_bound_to_verifier_redirect_and_client(server):
    app = OAuthApp(server)
    username = app.user()
    browser = Browser()
    rp = app.rp()
    verifier = secrets.token_urlsafe(48)
    url, _ = rp.create_authorization_url(app.discovery["authorization_endpoint"], code_verifier=verifier)
    browser.get(url)
    code = callback_params(browser.submit("/login", username=username, password=PASSWORD))["code"]

    def exchange(**overrides):
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                "code_verifier": verifier}
        data.update(overrides)
        return requests.post(app.discovery["token_endpoint"], data=data,
                             auth=(app.client_id, app.client_secret), timeout=10)

    assert exchange(code_verifier="wrong-" + verifier).json()["error"] == "invalid_grant"
    assert exchange(redirect_uri=CALLBACK + "/other").json()["error"] == "invalid_grant"
    r = requests.post(app.discovery["token_endpoint"], timeout=10,
                      data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                            "code_verifier": verifier, "client_id": app.client_id, "client_secret": "nope"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert "Basic" in r.headers["WWW-Authenticate"]
    assert exchange().status_code == 200


def test_single_sign_on_prompt_and_logout(server):
    app = OAuthApp(server)
    username = app.user()
    browser = Browser()
    sign_in_code_flow(app, browser, username)
    # Signed in: the next authorization returns straight to the app.
    rp = app.rp()
    url, state = rp.create_authorization_url(app.discovery["authorization_endpoint"])
    assert callback_params(browser.get(url))["state"] == state
    # prompt=login asks again.
    url, _ = rp.create_authorization_url(app.discovery["authorization_endpoint"], prompt="login")
    r = browser.get(url)
    assert r.status_code == 200 and 'name="password"' in r.text
    # A browser without the session gets login_required with prompt=none.
    url, state = rp.create_authorization_url(app.discovery["authorization_endpoint"], prompt="none")
    params = callback_params(Browser().get(url))
    assert params["error"] == "login_required" and params["state"] == state

    # Logout to a registered URL ends the session; an unregistered one is refused.
    bad = browser.get(f"{app.base}/logout?client_id={app.client_id}&logout_uri=https://evil.example/")
    assert bad.status_code == 400
    r = browser.get(f"{app.base}/logout?client_id={app.client_id}&logout_uri={urllib.parse.quote(LOGOUT_URL)}")
    assert r.status_code == 302 and r.headers["Location"] == LOGOUT_URL
    url, _ = rp.create_authorization_url(app.discovery["authorization_endpoint"])
    r = browser.get(url)
    assert r.status_code == 200 and 'name="password"' in r.text


def test_a_clients_sso_session_validity_bounds_silent_sign_in(server):
    app = OAuthApp(server)
    username = app.user()
    app.cognito.set_user_pool_session_configuration(
        UserPoolId=app.pool_id, UserSessionTracking="ENABLED", TokenSession={"MaxPerUser": 5}
    )
    browser = Browser()
    _, token, _, _ = sign_in_code_flow(app, browser, username)
    sessions = app.cognito.list_user_sessions(AccessToken=token["access_token"])["Sessions"]
    assert sorted((s["ClientId"], s["SessionType"], s["IsCurrentSession"]) for s in sessions) == [
        (app.client_id, "SSO", False), (app.client_id, "TOKEN", True)
    ]
    # Within the default 60 minutes the browser's sign-in is reused silently ...
    rp = app.rp()
    url, state = rp.create_authorization_url(app.discovery["authorization_endpoint"])
    assert callback_params(browser.get(url))["state"] == state
    # ... and not at all once the client allows none.
    app.cognito.set_user_pool_client_session_configuration(
        UserPoolId=app.pool_id, ClientId=app.client_id, SSOSession={"MaxValidityMinutes": 0}
    )
    url, _ = rp.create_authorization_url(app.discovery["authorization_endpoint"])
    r = browser.get(url)
    assert r.status_code == 200 and 'name="password"' in r.text


def renew(app, refresh_token):
    r = requests.post(
        app.discovery["token_endpoint"],
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(app.client_id, app.client_secret),
        timeout=10,
    )
    return r.status_code, r.json()


def silent_sign_in(app, browser):
    """An authorization answered by the browser's SSO session, and its tokens."""
    rp = app.rp()
    verifier = secrets.token_urlsafe(48)
    url, state = rp.create_authorization_url(app.discovery["authorization_endpoint"], code_verifier=verifier)
    r = browser.get(url)
    assert callback_params(r)["state"] == state
    return rp.fetch_token(
        app.discovery["token_endpoint"], authorization_response=r.headers["Location"], code_verifier=verifier
    )


def test_hosted_sign_ins_are_sso_sessions_linked_to_their_token_sessions(server):
    app = OAuthApp(server)
    username = app.user()
    cognito = app.cognito
    cognito.set_user_pool_session_configuration(
        UserPoolId=app.pool_id, UserSessionTracking="ENABLED", TokenSession={"MaxPerUser": 10}
    )

    def listed():
        sessions = cognito.admin_list_user_sessions(UserPoolId=app.pool_id, Username=username)["Sessions"]
        sso = [s for s in sessions if s["SessionType"] == "SSO"]
        tokens = [s for s in sessions if s["SessionType"] == "TOKEN"]
        return sso, tokens

    browser = Browser()
    _, first, _, _ = sign_in_code_flow(app, browser, username)
    second = silent_sign_in(app, browser)
    sso, tokens = listed()
    assert len(sso) == 1 and re.fullmatch(r"sso[a-z0-9]{25}", sso[0]["SessionId"]), sso
    assert sso[0]["ClientId"] == app.client_id and sso[0]["IsCurrentSession"] is False
    assert "OriginSessionId" not in sso[0]
    # Both token sessions began in it, and a renewal keeps that.
    assert renew(app, second["refresh_token"])[0] == 200
    sso, tokens = listed()
    assert [t["OriginSessionId"] for t in tokens] == [sso[0]["SessionId"]] * 2

    # Revoking the SSO session with LINKED ends single sign-on and both token sessions.
    cognito.admin_revoke_user_session(
        UserPoolId=app.pool_id, Username=username, SessionId=sso[0]["SessionId"],
        RevokeAssociatedSessions="LINKED",
    )
    assert listed() == ([], [])
    for token in (first, second):
        assert renew(app, token["refresh_token"])[0] == 400
    url, _ = app.rp().create_authorization_url(app.discovery["authorization_endpoint"])
    r = browser.get(url)
    assert r.status_code == 200 and 'name="password"' in r.text

    # Revoking a token session with LINKED ends its SSO session, not the other token
    # session of that SSO session, which is the caller's.
    _, third, _, _ = sign_in_code_flow(app, browser, username)
    fourth = silent_sign_in(app, browser)
    sso, tokens = listed()
    current = cognito.list_user_sessions(AccessToken=fourth["access_token"])["Sessions"]
    other = next(s["SessionId"] for s in current if s["SessionType"] == "TOKEN" and not s["IsCurrentSession"])
    # Revoking the SSO session with LINKED would revoke the caller's own session too.
    with raises_cognito("InvalidParameterException", "itself"):
        cognito.revoke_user_session(
            AccessToken=fourth["access_token"], SessionId=sso[0]["SessionId"], RevokeAssociatedSessions="LINKED"
        )
    cognito.revoke_user_session(
        AccessToken=fourth["access_token"], SessionId=other, RevokeAssociatedSessions="LINKED"
    )
    sso, tokens = listed()
    assert sso == [] and len(tokens) == 1
    assert cognito.get_user(AccessToken=fourth["access_token"])["Username"] == username
    assert renew(app, third["refresh_token"])[0] == 400

    # Signing out at /logout ends the SSO session too; without LINKED only the named
    # session ends.
    sign_in_code_flow(app, browser, username)
    assert len(listed()[0]) == 1
    browser.get(f"{app.base}/logout?client_id={app.client_id}&logout_uri={urllib.parse.quote(LOGOUT_URL)}")
    assert listed()[0] == []
    _, fifth, _, _ = sign_in_code_flow(app, browser, username)
    sso, _ = listed()
    cognito.admin_revoke_user_session(UserPoolId=app.pool_id, Username=username, SessionId=sso[0]["SessionId"])
    assert renew(app, fifth["refresh_token"])[0] == 200
    # A user signed out everywhere has no SSO session left.
    sign_in_code_flow(app, browser, username)
    cognito.admin_user_global_sign_out(UserPoolId=app.pool_id, Username=username)
    assert listed() == ([], [])


def test_authorization_errors_never_redirect_to_unregistered_uris(server):
    app = OAuthApp(server)
    endpoint = app.discovery["authorization_endpoint"]

    def authorize(**params):
        q = {"client_id": app.client_id, "response_type": "code", "redirect_uri": CALLBACK, "state": "s1"}
        q.update(params)
        return requests.get(endpoint, params={k: v for k, v in q.items() if v is not None},
                            allow_redirects=False, timeout=10)

    r = authorize(redirect_uri="https://evil.example/cb")
    assert r.status_code == 400 and "Location" not in r.headers
    assert "redirect_mismatch" in r.text
    r = authorize(client_id="nonexistentclient")
    assert r.status_code == 400 and "Location" not in r.headers
    params = callback_params(authorize(response_type="id_token"))
    assert params == {"error": "unsupported_response_type", "state": "s1",
                      "error_description": params["error_description"]}
    params = callback_params(authorize(scope="openid admin/everything"))
    assert params["error"] == "invalid_scope" and params["state"] == "s1"
    params = callback_params(authorize(code_challenge="abc", code_challenge_method="S512"))
    assert params["error"] == "invalid_request"


def test_implicit_flow_returns_tokens_in_the_fragment(server):
    app = OAuthApp(server, secret=False)
    username = app.user()
    browser = Browser()
    r = browser.get(f"{app.discovery['authorization_endpoint']}?" + urllib.parse.urlencode({
        "client_id": app.client_id, "response_type": "token", "redirect_uri": CALLBACK,
        "scope": "openid email", "state": "xyz", "nonce": "n-1"}))
    r = browser.submit("/login", username=username, password=PASSWORD)
    assert r.status_code == 302
    location = r.headers["Location"]
    assert location.startswith(CALLBACK + "#")
    frag = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).fragment))
    assert frag["state"] == "xyz" and frag["token_type"] == "Bearer"
    assert "refresh_token" not in frag
    assert app.id_claims(frag["id_token"], "n-1")["cognito:username"] == username
    assert jwt_claims(frag["access_token"])["scope"] == "openid email"


def test_client_credentials_with_resource_server_scopes(server):
    cognito = server.client()
    app = OAuthApp(server, flows=("code",))
    cognito.create_resource_server(
        UserPoolId=app.pool_id, Identifier="orders", Name="Orders",
        Scopes=[{"ScopeName": "read", "ScopeDescription": "read"}, {"ScopeName": "write", "ScopeDescription": "write"}],
    )
    m2m = cognito.create_user_pool_client(
        UserPoolId=app.pool_id, ClientName="worker", GenerateSecret=True,
        AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=["orders/read", "orders/write"],
    )["UserPoolClient"]
    rp = OAuth2Session(m2m["ClientId"], m2m["ClientSecret"], scope="orders/read")
    token = rp.fetch_token(app.discovery["token_endpoint"], grant_type="client_credentials")
    claims = jwt_claims(token["access_token"])
    assert claims["sub"] == m2m["ClientId"] and claims["client_id"] == m2m["ClientId"]
    assert claims["scope"] == "orders/read" and claims["token_use"] == "access"
    assert "id_token" not in token and "refresh_token" not in token
    r = requests.post(app.discovery["token_endpoint"], data={"grant_type": "client_credentials", "scope": "orders/delete"},
                      auth=(m2m["ClientId"], m2m["ClientSecret"]), timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    # The code-flow client may not use it.
    r = requests.post(app.discovery["token_endpoint"], data={"grant_type": "client_credentials"},
                      auth=(app.client_id, app.client_secret), timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
    r = requests.post(app.discovery["token_endpoint"], data={"grant_type": "password"},
                      auth=(app.client_id, app.client_secret), timeout=10)
    assert r.json()["error"] == "unsupported_grant_type"

    # GetClientToken is the same grant through the API: the client's secret is its
    # credential, so it needs no AWS signature.
    unsigned = server.client(unsigned=True)
    result = unsigned.get_client_token(ClientId=m2m["ClientId"], Secret=m2m["ClientSecret"])[
        "ClientAuthenticationResult"
    ]
    assert result["TokenType"] == "Bearer" and result["ExpiresIn"] == 3600
    claims = jwt_claims(result["AccessToken"])
    assert (claims["sub"], claims["scope"], claims["token_use"]) == (m2m["ClientId"], "orders/read orders/write", "access")
    assert cognito.get_client_token(ClientId=m2m["ClientId"], Secret=m2m["ClientSecret"], Scopes=["orders/write"])[
        "ClientAuthenticationResult"
    ]["AccessToken"]
    with raises_cognito("NotAuthorizedException", "Invalid client secret"):
        unsigned.get_client_token(ClientId=m2m["ClientId"], Secret="notTheSecretOfThisAppClient")
    with raises_cognito("InvalidParameterException", "orders/delete"):
        unsigned.get_client_token(ClientId=m2m["ClientId"], Secret=m2m["ClientSecret"], Scopes=["orders/delete"])
    with raises_cognito("OperationNotEnabledException", "client_credentials"):
        unsigned.get_client_token(ClientId=app.client_id, Secret=app.client_secret)
    with raises_cognito("ResourceNotFoundException"):
        unsigned.get_client_token(ClientId="a" * 26, Secret="y" * 40)


def test_sign_up_confirm_and_sign_in_on_the_hosted_pages(server):
    app = OAuthApp(server)
    browser = Browser()
    rp = app.rp()
    url, state = rp.create_authorization_url(app.discovery["authorization_endpoint"])
    # The client's terms are linked from the sign-up page; a link that is no web
    # address is left out.
    for name, link in (("terms-of-use", "https://example.com/terms"), ("privacy-policy", "javascript:alert(1)")):
        app.cognito.create_terms(
            UserPoolId=app.pool_id, ClientId=app.client_id, TermsName=name, TermsSource="LINK",
            Enforcement="NONE", Links={"cognito:default": link},
        )
    browser.get(url)
    signup = re.search(r'href="([^"]*/signup\?req=[^"]+)"', browser.page.text)
    browser.get(urllib.parse.urljoin(browser.page.url, html.unescape(signup.group(1))))
    assert 'you agree to our <a href="https://example.com/terms" rel="noopener noreferrer" target="_blank">Terms of use</a>.' in html.unescape(browser.page.text)
    assert "javascript:" not in browser.page.text
    username = unique("hosted")
    r = browser.submit("/signup", username=username, password=PASSWORD, **{"attr:email": f"{username}@example.com"})
    assert r.status_code == 200 and "Confirm your account" in r.text, r.text[:2000]
    code = server.latest_code(app.pool_id, username)
    r = browser.submit("/confirm", code="000000" if code != "000000" else "111111", action="confirm")
    assert "Invalid verification code" in browser.error()
    r = browser.submit("/confirm", code=code, action="confirm")
    assert "Your account is confirmed" in r.text
    params = callback_params(browser.submit("/login", username=username, password=PASSWORD))
    assert params["state"] == state
    user = app.cognito.admin_get_user(UserPoolId=app.pool_id, Username=username)
    assert user["UserStatus"] == "CONFIRMED"
    assert attrs_dict(user["UserAttributes"])["email_verified"] == "true"


def test_wrong_password_and_csrf(server):
    app = OAuthApp(server)
    username = app.user()
    browser = Browser()
    url, _ = app.rp().create_authorization_url(app.discovery["authorization_endpoint"])
    r = browser.get(url)
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Frame-Options"] == "DENY"
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    # Its one script (the browser's time zone for threat protection) is the page's own,
    # allowed by this response's nonce only.
    nonce = re.search(r"script-src 'nonce-([A-Za-z0-9_-]+)'; ", csp).group(1)
    assert re.findall(r"<script nonce=\"([^\"]+)\">", r.text) == [nonce]
    r = browser.submit("/login", username=username, password="Wrong-Passw0rd")
    assert r.status_code == 200 and browser.error() == "Incorrect username or password."
    # The same form from a browser without the CSRF cookie is refused.
    action, fields = browser.form("/login")
    fields.update(username=username, password=PASSWORD)
    r = requests.post(action, data=fields, allow_redirects=False, timeout=10)
    assert r.status_code == 403


def test_totp_mfa_on_the_hosted_pages(server):
    app = OAuthApp(server, pool_overrides={"MfaConfiguration": "OPTIONAL"})
    app.cognito.set_user_pool_mfa_config(
        UserPoolId=app.pool_id, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="OPTIONAL"
    )
    username = app.user()
    # Set up TOTP through the user's own access token, from the hosted UI's code flow.
    _, tokens, _, _ = sign_in_code_flow(app, Browser(), username, rp=app.rp("openid email profile"))
    tokens = {"AccessToken": tokens["access_token"]}
    secret = app.cognito.associate_software_token(AccessToken=tokens["AccessToken"])["SecretCode"]
    totp = pyotp.TOTP(secret)
    app.cognito.verify_software_token(AccessToken=tokens["AccessToken"], UserCode=totp.at(time.time() - 30))
    app.cognito.set_user_mfa_preference(
        AccessToken=tokens["AccessToken"], SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    browser = Browser()
    url, state = app.rp().create_authorization_url(app.discovery["authorization_endpoint"])
    browser.get(url)
    r = browser.submit("/login", username=username, password=PASSWORD)
    assert r.status_code == 200 and "authenticator" in r.text.lower(), r.text[:2000]
    r = browser.submit("/challenge", code="000000" if totp.now() != "000000" else "111111")
    assert r.status_code == 200 and browser.error(), r.text[:2000]
    r = browser.submit("/challenge", code=totp.now())
    assert callback_params(r)["state"] == state
    token = app.rp().fetch_token(
        app.discovery["token_endpoint"], authorization_response=r.headers["Location"]
    )
    # The ID token says how the user signed in (RFC 8176), and single sign-on keeps it.
    assert app.id_claims(token["id_token"])["amr"] == ["pwd", "mfa", "otp"]
    url, _ = app.rp().create_authorization_url(app.discovery["authorization_endpoint"])
    r = browser.get(url)
    sso = app.rp().fetch_token(app.discovery["token_endpoint"], authorization_response=r.headers["Location"])
    assert app.id_claims(sso["id_token"])["amr"] == ["pwd", "mfa", "otp"]


def test_forgot_password_on_the_hosted_pages(server):
    app = OAuthApp(server)
    username = app.user()
    browser = Browser()
    url, state = app.rp().create_authorization_url(app.discovery["authorization_endpoint"])
    browser.get(url)
    link = re.search(r'href="([^"]*/forgotPassword\?req=[^"]+)"', browser.page.text)
    browser.get(urllib.parse.urljoin(browser.page.url, html.unescape(link.group(1))))
    r = browser.submit("/forgotPassword", username=username)
    assert "Reset your password" in r.text
    code = server.latest_code(app.pool_id, username)
    r = browser.submit("/confirmForgotPassword", code=code, password="Reset-Passw0rd1")
    assert "Your password has been changed" in r.text
    params = callback_params(browser.submit("/login", username=username, password="Reset-Passw0rd1"))
    assert params["state"] == state


def test_domain_host_form(server):
    app = OAuthApp(server)
    prefix = unique("login").lower()
    app.cognito.create_user_pool_domain(UserPoolId=app.pool_id, Domain=prefix)
    host = f"{prefix}.auth.us-east-1.amazoncognito.com"
    r = requests.get(
        f"{server.endpoint}/oauth2/authorize",
        params={"client_id": app.client_id, "response_type": "code", "redirect_uri": CALLBACK},
        headers={"Host": host}, allow_redirects=False, timeout=10,
    )
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?req="), r.headers
    r = requests.get(f"{server.endpoint}/oauth2/authorize", headers={"Host": "nobody.auth.us-east-1.amazoncognito.com"},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 404


def test_required_mfa_is_set_up_on_the_hosted_pages_with_a_qr_code(server):
    app = OAuthApp(server)
    app.cognito.set_user_pool_mfa_config(
        UserPoolId=app.pool_id, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="ON"
    )
    username = app.user()
    browser = Browser()
    url, state = app.rp().create_authorization_url(app.discovery["authorization_endpoint"])
    browser.get(url)
    r = browser.submit("/login", username=username, password=PASSWORD)
    assert r.status_code == 200 and "Set up an authenticator app" in r.text, r.text[:2000]
    qr = re.search(r'<img class="qr" src="([^"]+)"', r.text)
    assert qr and html.unescape(qr.group(1)).startswith("data:image/svg+xml;base64,")
    secret = re.search(r'<code class="secret" id="totp-secret">([A-Z2-7=]+)</code>', r.text).group(1)
    r = browser.submit("/challenge", code=pyotp.TOTP(secret).now())
    assert callback_params(r)["state"] == state
    mfa = app.cognito.admin_get_user(UserPoolId=app.pool_id, Username=username)
    assert "SOFTWARE_TOKEN_MFA" in mfa.get("UserMFASettingList", [])


def test_templates_are_overridable_from_a_directory(start_idpool, tmp_path):
    from idpool_testlib import IdpoolServer, ServerStartError

    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "error.html").write_text(
        '{% extends "base.html" %}{% block content %}<h1>Acme cannot sign you in</h1>'
        "<p>{{ message }}</p>{% endblock %}"
    )
    server = start_idpool("ui-templates", extra_args=["--ui-templates-dir", str(templates)])
    app = OAuthApp(server)
    r = requests.get(app.discovery["authorization_endpoint"], allow_redirects=False, timeout=10,
                     params={"client_id": app.client_id, "response_type": "code",
                             "redirect_uri": "https://evil.example/cb"})
    assert r.status_code == 400
    assert "Acme cannot sign you in" in r.text and "redirect_mismatch" in r.text
    # The built-in pages are still there.
    url, _ = app.rp().create_authorization_url(app.discovery["authorization_endpoint"])
    assert 'name="password"' in Browser().get(url).text

    # A file that is not a template, or one that does not parse, stops the server at start.
    (templates / "logn.html").write_text("typo")
    with pytest.raises(ServerStartError, match="logn.html is not a hosted-UI template"):
        IdpoolServer("bad-templates", tmp_path / "bad", extra_args=["--ui-templates-dir", str(templates)]).start()


def test_ui_customization_and_a_managed_login_branding_style_dress_the_pages(server):
    app = OAuthApp(server)
    app.cognito.set_ui_customization(
        UserPoolId=app.pool_id, CSS=".banner-customizable {background-color: black;}"
    )
    url, _ = app.rp().create_authorization_url(app.discovery["authorization_endpoint"])
    page = Browser().get(url)
    assert ".banner-customizable {background-color: black;}" in page.text

    svg = base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>').decode()
    app.cognito.create_managed_login_branding(
        UserPoolId=app.pool_id,
        ClientId=app.client_id,
        Settings={
            "components": {
                "pageBackground": {"lightMode": {"color": "112233ff"}},
                "primaryButton": {"lightMode": {"defaults": {"backgroundColor": "ff6600ff", "textColor": "000000ff"}}},
                "form": {"borderRadius": 16, "lightMode": {"backgroundColor": "</style><script>alert(1)</script>"}},
            },
        },
        Assets=[{"Category": "FORM_LOGO", "ColorMode": "LIGHT", "Extension": "SVG", "Bytes": base64.b64decode(svg)}],
    )
    page = Browser().get(url)
    assert page.status_code == 200
    # The classic customization stays, and the style's rules come after it.
    assert page.text.index(".banner-customizable") < page.text.index("body { background-color: #112233ff; }")
    assert "button { background-color: #ff6600ff; }" in page.text
    assert "main { border-radius: 16px; }" in page.text
    assert "alert(1)" not in page.text
    assert f'src="data:image/svg+xml;base64,{svg}"' in html.unescape(page.text)
    # What the style leaves unset keeps idpool's look; a footer shows once turned on.
    assert "input { border-color: #879596ff; }" in page.text
    assert "<footer" not in page.text
    app.update_branding(
        Settings={
            "categories": {"global": {"pageFooter": {"enabled": True}}},
            "components": {"pageFooter": {"logo": {"location": "CENTER"}, "lightMode": {"borderColor": "abcdefff"}}},
        },
        Assets=[{"Category": "PAGE_FOOTER_LOGO", "ColorMode": "LIGHT", "Extension": "SVG", "Bytes": base64.b64decode(svg)}],
    )
    page = Browser().get(url)
    assert '<footer class="page-footer align-center">' in page.text
    assert "footer.page-footer { border-color: #abcdefff; }" in page.text
    # The earlier settings stayed.
    assert "button { background-color: #ff6600ff; }" in page.text
    assert 'class="graphic"' not in page.text
    # Spacing, the form's place, and the password step's picture.
    app.update_branding(
        Settings={
            "categories": {
                "global": {"spacingDensity": "COMPACT"},
                "form": {"location": {"horizontal": "START"}},
            },
        },
        Assets=[{"Category": "PASSWORD_GRAPHIC", "ColorMode": "LIGHT", "Extension": "SVG", "Bytes": base64.b64decode(svg)}],
    )
    page = Browser().get(url)
    assert "main { padding: 1.2rem; margin-top: 1.5rem; }" in page.text
    assert "main { margin-left: 2rem; margin-right: auto; }" in page.text
    assert f'<img class="graphic" src="data:image/svg+xml;base64,{svg}"' in html.unescape(page.text)
    # Branding brings no script: the page runs only its own, by nonce.
    assert re.search(r"script-src 'nonce-[A-Za-z0-9_-]+'; ", page.headers["Content-Security-Policy"])
    assert page.text.count("<script") == 1


def catalogue(lang):
    """The hosted pages' texts in one language, as the server compiles them in."""
    import json
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[2] / "crates/server/src/ui/i18n" / f"{lang}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def test_pages_speak_the_language_the_app_or_the_browser_asks_for(server):
    app = OAuthApp(server)
    username = app.user()
    assert "de" in app.discovery["ui_locales_supported"] and len(app.discovery["ui_locales_supported"]) == 12
    de, fr = catalogue("de"), catalogue("fr")
    app.cognito.create_terms(
        UserPoolId=app.pool_id, ClientId=app.client_id, TermsName="terms-of-use", TermsSource="LINK",
        Enforcement="NONE", Links={"cognito:default": "https://example.com/terms", "cognito:german": "https://example.com/de/agb"},
    )
    url, _ = app.rp().create_authorization_url(app.discovery["authorization_endpoint"])

    # Managed login's `lang` parameter: the sign-in page, and the pages after it, in German.
    browser = Browser()
    page = browser.get(url + "&lang=de")
    text = html.unescape(page.text)
    assert '<html lang="de">' in text and f"<h1>{de['sign_in']}</h1>" in text and "Passwort" in text
    browser.submit("/login", username=username, password="Wrong-Passw0rd")
    assert browser.error() == de["api_incorrect_credentials"] != "Incorrect username or password."
    signup = re.search(r'href="([^"]*/signup\?req=[^"]+)"', browser.page.text)
    page = browser.get(urllib.parse.urljoin(browser.page.url, html.unescape(signup.group(1))))
    text = html.unescape(page.text)
    assert f"<h1>{de['sign_up']}</h1>" in text
    # The German terms document, under its German name.
    assert f'<a href="https://example.com/de/agb" rel="noopener noreferrer" target="_blank">{de["terms_of_use"]}</a>' in text

    # The language selector: off by default (Cognito's pages have none), on with a
    # branding style's languageSelector; a plain GET form back to the same page.
    assert 'class="language"' not in page.text
    app.cognito.create_managed_login_branding(
        UserPoolId=app.pool_id, ClientId=app.client_id,
        Settings={"categories": {"form": {"languageSelector": {"enabled": True}}}},
    )
    page = browser.get(page.url)
    selector = re.search(r'<form method="get" action="([^"]+)" class="language">(.*?)</form>', page.text, re.S)
    options = re.findall(r'<option value="([^"]+)"', selector.group(2))
    assert len(options) == 12 and {"en", "ja", "pt-BR", "zh-TW"} <= set(options)
    assert re.search(r'<option value="de"[^>]* selected>Deutsch</option>', selector.group(2))
    req = re.search(r'name="req" value="([^"]*)"', selector.group(2)).group(1)
    page = browser.get(
        urllib.parse.urljoin(browser.page.url, html.unescape(selector.group(1)))
        + "?" + urllib.parse.urlencode({"req": html.unescape(req), "lang": "fr"})
    )
    assert f"<h1>{html.escape(fr['sign_up'])}</h1>" in page.text
    # ... and the choice holds on the next page without asking again.
    login = re.search(r'href="([^"]*/login\?req=[^"]+)"', page.text)
    page = browser.get(urllib.parse.urljoin(page.url, html.unescape(login.group(1))))
    assert '<html lang="fr">' in page.text

    # Without a choice, the browser's Accept-Language; OIDC's ui_locales wins over it.
    japanese = requests.get(url, headers={"Accept-Language": "sv-SE,ja;q=0.8,en;q=0.5"}, timeout=10)
    assert '<html lang="ja">' in japanese.text and catalogue("ja")["password"] in japanese.text
    page = Browser().get(url + "&ui_locales=sv%20ko")
    assert '<html lang="ko">' in page.text
    # A language idpool does not have falls back to English.
    page = Browser().get(url + "&lang=xx")
    assert '<html lang="en">' in page.text and "<h1>Sign in</h1>" in page.text
