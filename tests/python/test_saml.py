"""Sign-in through a SAML 2.0 identity provider (user pool federation).

The provider is tests/python/fake_saml.py on a loopback port: it publishes metadata,
reads the pool's AuthnRequest and answers with a response signed by signxml (lxml's
canonicalization, not idpool's). The app is Authlib's OAuth2Session and the browser
follows redirects and posts the provider's auto-submitting form like test_oauth's.
Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import secrets
import urllib.parse

import pytest
import requests
from cryptography import x509

import fake_saml
from fake_saml import FakeSamlProvider, self_signed
from idpool_testlib import IdpoolServer, attrs_dict, raises_cognito
from test_s3_enforced import libfaketime
from test_oauth import CALLBACK, LOGOUT_URL, Browser, OAuthApp, callback_params


@pytest.fixture
def corp():
    provider = FakeSamlProvider()
    yield provider
    provider.close()


class SamlApp(OAuthApp):
    """An OAuthApp whose pool federates with `corp` as the SAML provider "CorpSAML"."""

    def __init__(self, server, corp, details=None):
        super().__init__(server)
        self.corp = corp
        self.cognito.create_identity_provider(
            UserPoolId=self.pool_id,
            ProviderName="CorpSAML",
            ProviderType="SAML",
            ProviderDetails=details or {"MetadataURL": f"{corp.url}/metadata"},
            AttributeMapping={"email": "email", "family_name": "groups"},
        )
        self.cognito.update_user_pool_client(
            UserPoolId=self.pool_id,
            ClientId=self.client_id,
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "email", "profile"],
            CallbackURLs=[CALLBACK],
            SupportedIdentityProviders=["CorpSAML"],
        )
        self.acs = f"{self.base}/saml2/idpresponse"

    def start(self, browser):
        """/oauth2/authorize up to the provider's auto-submitting form."""
        rp = self.rp()
        verifier = secrets.token_urlsafe(48)
        url, state = rp.create_authorization_url(
            self.discovery["authorization_endpoint"], code_verifier=verifier, identity_provider="CorpSAML"
        )
        r = browser.get(url)
        assert r.status_code == 200 and "SAMLResponse" in r.text, r.text[:2000]
        return rp, verifier, state

    def sign_in(self, browser=None):
        browser = browser or Browser()
        rp, verifier, state = self.start(browser)
        r = browser.submit("/saml2/idpresponse")
        got = callback_params(r)
        assert "error" not in got, got
        assert got["state"] == state
        return rp.fetch_token(
            self.discovery["token_endpoint"], authorization_response=r.headers["Location"], code_verifier=verifier
        )

    def post(self, saml_response: str, relay_state: str | None, browser=None):
        http = browser.http if browser else requests.Session()
        data = {"SAMLResponse": saml_response}
        if relay_state is not None:
            data["RelayState"] = relay_state
        return http.post(self.acs, data=data, allow_redirects=False, timeout=30)


def test_sp_initiated_sign_in_creates_the_user_from_the_assertion(idp, corp):
    app = SamlApp(idp, corp)
    provider = app.cognito.describe_identity_provider(UserPoolId=app.pool_id, ProviderName="CorpSAML")[
        "IdentityProvider"
    ]
    # Cognito derives the endpoints from the metadata.
    assert provider["ProviderDetails"]["SSORedirectBindingURI"] == f"{corp.url}/sso"
    assert provider["ProviderDetails"]["SLORedirectBindingURI"] == f"{corp.url}/slo"
    assert provider["ProviderDetails"]["MetadataURL"] == f"{corp.url}/metadata"

    corp.next_user = {
        "name_id": "jane@corp.example",
        "attributes": {"email": ["jane@corp.example"], "groups": ["engineering", "admins"]},
    }
    tokens = app.sign_in()
    claims = app.id_claims(tokens["id_token"])
    assert claims["cognito:username"] == "CorpSAML_jane@corp.example"
    assert claims["email"] == "jane@corp.example"
    # Several values of one SAML attribute, as Cognito writes them.
    assert claims["family_name"] == "[engineering, admins]"
    [identity] = claims["identities"]
    assert identity["providerName"] == "CorpSAML" and identity["providerType"] == "SAML"
    assert identity["userId"] == "jane@corp.example" and identity["issuer"] == corp.entity_id

    # What the provider was sent: an AuthnRequest from the pool's entity id, to be
    # answered at the pool's ACS URL.
    [request] = corp.seen
    assert request["issuer"] == f"urn:amazon:cognito:sp:{app.pool_id}"
    assert request["acs"] == app.acs
    assert request["destination"] == f"{corp.url}/sso"
    assert request["sig_alg"] is None

    user = app.cognito.admin_get_user(UserPoolId=app.pool_id, Username="CorpSAML_jane@corp.example")
    assert user["UserStatus"] == "EXTERNAL_PROVIDER"
    assert attrs_dict(user["UserAttributes"])["email"] == "jane@corp.example"

    # The next sign-in is the same user with the provider's current attributes.
    corp.next_user["attributes"] = {"email": ["jane.doe@corp.example"], "groups": ["engineering"]}
    claims = app.id_claims(app.sign_in()["id_token"])
    assert claims["cognito:username"] == "CorpSAML_jane@corp.example"
    assert claims["email"] == "jane.doe@corp.example" and claims["family_name"] == "engineering"


def test_a_signed_response_and_a_metadata_file_work_too(idp, corp):
    app = SamlApp(idp, corp, details={"MetadataFile": corp.metadata()})
    corp.sign = "response"
    claims = app.id_claims(app.sign_in()["id_token"])
    assert claims["cognito:username"] == "CorpSAML_jane@corp.example"
    corp.sign = "both"
    assert app.sign_in()["id_token"]


def test_unsigned_tampered_and_foreign_responses_are_refused(idp, corp):
    app = SamlApp(idp, corp)

    def refused_with(make_response) -> str:
        browser = Browser()
        app.start(browser)
        relay_state = browser.form("/saml2/idpresponse")[1]["RelayState"]
        request_id = corp.seen[-1]["id"]
        r = app.post(make_response(request_id), relay_state, browser)
        got = callback_params(r)
        assert "code" not in got, got
        assert got["error"] == "invalid_request"
        return got["error_description"]

    def response(request_id, **kw):
        args = dict(acs=app.acs, audience=f"urn:amazon:cognito:sp:{app.pool_id}", in_response_to=request_id,
                    name_id="jane@corp.example", attributes={})
        args.update(kw)
        return corp.response(**args)

    assert "signed" in refused_with(lambda rid: response(rid, sign=None))

    def tampered(rid):
        xml = response(rid, raw=True).replace(b">jane@corp.example<", b">admin@corp.example<")
        return base64.b64encode(xml).decode()

    assert "digest" in refused_with(tampered)
    assert "audience" in refused_with(lambda rid: response(rid, audience="urn:amazon:cognito:sp:us-east-1_other"))
    assert "another request" in refused_with(lambda rid: response(rid, in_response_to="_not-the-request"))
    assert "expired" in refused_with(lambda rid: response(rid, not_on_or_after_s=-600))
    assert "issuer" in refused_with(lambda rid: response(rid, issuer="https://evil.example.com"))

    # Signed by a key the metadata does not hold (the attacker's own IdP).
    real_key, real_cert = corp.key, corp.cert
    corp.key, corp.cert = self_signed("attacker")
    try:
        assert "signing certificate" in refused_with(response)
    finally:
        corp.key, corp.cert = real_key, real_cert
    assert not app.cognito.list_users(UserPoolId=app.pool_id)["Users"]


def test_the_relay_state_is_bound_to_the_browser_and_responses_need_it(idp, corp):
    app = SamlApp(idp, corp)
    victim, attacker = Browser(), Browser()
    app.start(attacker)
    _, fields = attacker.form("/saml2/idpresponse")
    # Login CSRF: the attacker's response, replayed into another browser, is refused.
    r = app.post(fields["SAMLResponse"], fields["RelayState"], victim)
    assert r.status_code == 400 and "another browser" in r.text
    # Without a RelayState the response is an unsolicited one, which this provider may
    # not send (IDPInit is off).
    r = app.post(fields["SAMLResponse"], None, attacker)
    assert r.status_code == 400
    r = requests.post(app.acs, data={"RelayState": fields["RelayState"]}, timeout=10)
    assert r.status_code == 400 and "SAMLResponse" in r.text


def test_signed_authn_requests_verify_with_the_pool_signing_certificate(idp, corp):
    app = SamlApp(idp, corp)
    app.cognito.update_identity_provider(
        UserPoolId=app.pool_id, ProviderName="CorpSAML", ProviderDetails={"RequestSigningAlgorithm": "rsa-sha256"}
    )
    pem = app.cognito.get_signing_certificate(UserPoolId=app.pool_id)["Certificate"]
    corp.sp_certificate = x509.load_der_x509_certificate(base64.b64decode(pem))
    assert app.sign_in()["id_token"]
    request = corp.seen[-1]
    assert request["sig_alg"] == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    assert request["signature_valid"] is True


def test_idp_initiated_sign_in_when_allowed_once_per_assertion(idp, corp):
    app = SamlApp(idp, corp)
    relay_state = urllib.parse.urlencode({
        "identity_provider": "CorpSAML", "client_id": app.client_id, "redirect_uri": CALLBACK,
        "response_type": "code", "scope": "openid email",
    })
    audience = f"urn:amazon:cognito:sp:{app.pool_id}"
    unsolicited = corp.response(acs=app.acs, audience=audience, in_response_to=None,
                                name_id="jo@corp.example", attributes={"email": ["jo@corp.example"]})
    r = app.post(unsolicited, relay_state)
    assert r.status_code == 400 and "IDPInit" in r.text

    app.cognito.update_identity_provider(
        UserPoolId=app.pool_id, ProviderName="CorpSAML", ProviderDetails={"IDPInit": "true"}
    )
    got = callback_params(app.post(unsolicited, relay_state))
    assert "code" in got, got
    tokens = app.rp().fetch_token(app.discovery["token_endpoint"], code=got["code"])
    assert app.id_claims(tokens["id_token"])["cognito:username"] == "CorpSAML_jo@corp.example"

    # The same assertion again (a replay) is refused.
    got = callback_params(app.post(unsolicited, relay_state))
    assert "code" not in got and "already been used" in got["error_description"]
    # So is an unsolicited assertion older than six minutes, and one answering a request.
    stale = corp.response(acs=app.acs, audience=audience, in_response_to=None, name_id="jo@corp.example",
                          attributes={}, issued_s=-7 * 60, not_on_or_after_s=600)
    assert "6 minutes" in callback_params(app.post(stale, relay_state))["error_description"]
    solicited = corp.response(acs=app.acs, audience=audience, in_response_to="_req", name_id="jo@corp.example",
                              attributes={})
    assert "answers a request" in callback_params(app.post(solicited, relay_state))["error_description"]


def test_saml_provider_configuration_is_checked(idp, corp):
    app = OAuthApp(idp)

    def create(details):
        app.cognito.create_identity_provider(
            UserPoolId=app.pool_id, ProviderName="Bad", ProviderType="SAML", ProviderDetails=details
        )

    with raises_cognito("InvalidParameterException", "Invalid SAML metadata"):
        create({"MetadataFile": "<not-metadata/>"})
    with raises_cognito("InvalidParameterException", "Invalid SAML metadata"):
        create({"MetadataFile": "this is not XML"})
    _, expired = self_signed("old", days=-1, not_before_days=30)
    with raises_cognito("InvalidParameterException", "expired"):
        create({"MetadataFile": corp.metadata(cert=expired)})
    with raises_cognito("InvalidParameterException", "EncryptedResponses must be true or false"):
        create({"MetadataFile": corp.metadata(), "EncryptedResponses": "yes"})
    with raises_cognito("InvalidParameterException", "Could not fetch the SAML metadata"):
        create({"MetadataURL": f"{corp.url}/no-such-metadata"})
    assert not app.cognito.list_identity_providers(UserPoolId=app.pool_id)["Providers"]


def test_encrypted_responses_need_the_providers_encryption_certificate(idp, corp):
    app = SamlApp(idp, corp, details={"MetadataURL": f"{corp.url}/metadata", "EncryptedResponses": "true"})

    def describe():
        return app.cognito.describe_identity_provider(UserPoolId=app.pool_id, ProviderName="CorpSAML")[
            "IdentityProvider"
        ]["ProviderDetails"]

    details = describe()
    assert details["EncryptedResponses"] == "true"
    certificate = x509.load_der_x509_certificate(base64.b64decode(details["ActiveEncryptionCertificate"]))
    # Cognito's user pool certificates are valid for ten years.
    validity = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert validity.days >= 3650
    # Each provider has its own key, not the pool's signing key.
    signing = base64.b64decode(app.cognito.get_signing_certificate(UserPoolId=app.pool_id)["Certificate"])
    assert x509.load_der_x509_certificate(signing).public_key() != certificate.public_key()

    # Until the provider encrypts, its (signed, plaintext) assertions are refused.
    browser = Browser()
    app.start(browser)
    got = callback_params(browser.submit("/saml2/idpresponse"))
    assert got["error"] == "invalid_request" and "EncryptedResponses is on" in got["error_description"]

    corp.encrypt_to = certificate
    for encryption in ("aes256-gcm", "aes128-cbc"):
        corp.encryption = encryption
        claims = app.id_claims(app.sign_in()["id_token"])
        assert claims["cognito:username"] == "CorpSAML_jane@corp.example", encryption
    # A signed response around an unsigned encrypted assertion works too.
    corp.sign = "response"
    assert app.sign_in()["id_token"]

    # Anyone can encrypt to the certificate: an unsigned assertion is refused, and with
    # the same words as a ciphertext for another key (no oracle for CBC attacks).
    corp.sign = None
    browser = Browser()
    app.start(browser)
    unsigned = callback_params(browser.submit("/saml2/idpresponse"))["error_description"]
    corp.sign = "assertion"
    corp.encrypt_to = self_signed("someone-else")[1]
    browser = Browser()
    app.start(browser)
    foreign = callback_params(browser.submit("/saml2/idpresponse"))["error_description"]
    assert unsigned == foreign and "could not be decrypted" in unsigned

    # Turned off, the certificate is no longer shown and encrypted assertions are
    # refused; turned on again, the same certificate (the IdP's copy still works).
    corp.encrypt_to = certificate
    app.cognito.update_identity_provider(
        UserPoolId=app.pool_id, ProviderName="CorpSAML", ProviderDetails={"EncryptedResponses": "false"}
    )
    assert "ActiveEncryptionCertificate" not in describe()
    browser = Browser()
    app.start(browser)
    got = callback_params(browser.submit("/saml2/idpresponse"))
    assert "EncryptedResponses is off" in got["error_description"]
    app.cognito.update_identity_provider(
        UserPoolId=app.pool_id, ProviderName="CorpSAML", ProviderDetails={"EncryptedResponses": "true"}
    )
    assert describe()["ActiveEncryptionCertificate"] == details["ActiveEncryptionCertificate"]
    assert app.sign_in()["id_token"]


def test_a_metadata_url_is_fetched_again_after_six_hours(idp, corp, tmp_path, monkeypatch):
    """The provider rolls its signing certificate over. A node in the present keeps the
    metadata it fetched (and refuses the new signatures); a node of the same deployment
    whose clock is seven hours on fetches the metadata again and signs the user in."""
    app = SamlApp(idp, corp)
    before = app.cognito.describe_identity_provider(UserPoolId=app.pool_id, ProviderName="CorpSAML")[
        "IdentityProvider"
    ]
    corp.key, corp.cert = self_signed("fake-saml-idp-2027")
    browser = Browser()
    app.start(browser)
    got = callback_params(browser.submit("/saml2/idpresponse"))
    assert got["error"] == "invalid_request" and "signing certificate" in got["error_description"], got

    later = IdpoolServer(
        f"{idp.name}-later", tmp_path / "later", database_url=idp.database_url,
        env={"LD_PRELOAD": libfaketime(), "FAKETIME": "+7h", "FAKETIME_DONT_FAKE_MONOTONIC": "1"},
    )
    later.data_dir = idp.data_dir
    later.start()
    try:
        real_instant = fake_saml.instant
        monkeypatch.setattr(fake_saml, "instant", lambda delta_s=0: real_instant(delta_s + 7 * 3600))
        app.base = f"{later.endpoint}/{app.pool_id}"
        app.acs = f"{app.base}/saml2/idpresponse"
        app.discovery = requests.get(f"{app.base}/.well-known/openid-configuration", timeout=10).json()
        # The tokens are checked by the test's clock, so only the code exchange matters.
        browser = Browser()
        app.start(browser)
        got = callback_params(browser.submit("/saml2/idpresponse"))
        assert "code" in got, got
    finally:
        later.stop()
    after = app.cognito.describe_identity_provider(UserPoolId=app.pool_id, ProviderName="CorpSAML")[
        "IdentityProvider"
    ]
    # A refresh is not the owner's change.
    assert after["LastModifiedDate"] == before["LastModifiedDate"]


def test_logout_signs_the_user_out_at_the_provider_with_idp_signout(idp, corp):
    app = SamlApp(idp, corp, details={"MetadataURL": f"{corp.url}/metadata", "IDPSignout": "true"})
    app.cognito.update_user_pool_client(
        UserPoolId=app.pool_id, ClientId=app.client_id, AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid", "email", "profile"],
        CallbackURLs=[CALLBACK], LogoutURLs=[LOGOUT_URL], SupportedIdentityProviders=["CorpSAML", "COGNITO"],
    )
    corp.sp_logout_url = f"{app.base}/saml2/logout"
    corp.sp_certificate = x509.load_der_x509_certificate(
        base64.b64decode(app.cognito.get_signing_certificate(UserPoolId=app.pool_id)["Certificate"])
    )
    browser = Browser()
    app.sign_in(browser)
    silent, _ = app.rp().create_authorization_url(app.discovery["authorization_endpoint"], prompt="none")
    assert "code" in callback_params(browser.get(silent))
    logout = f"{app.base}/logout?" + urllib.parse.urlencode({"client_id": app.client_id, "logout_uri": LOGOUT_URL})
    # /logout sends the browser to the provider's SingleLogoutService, whose answer
    # comes back to /saml2/logout and on to the app's sign-out URL.
    r = browser.get(logout)
    assert r.status_code == 200 and "SAMLResponse" in r.text, r.text[:2000]
    [request] = corp.logouts
    assert request["destination"] == f"{corp.url}/slo"
    assert request["issuer"] == f"urn:amazon:cognito:sp:{app.pool_id}"
    assert request["name_id"] == "jane@corp.example"
    assert request["session_index"] == corp.session_indexes[-1]
    assert request["signature_valid"] is True
    relay_state = browser.form("/saml2/logout")[1]["RelayState"]
    r = browser.submit("/saml2/logout")
    assert r.status_code == 302 and r.headers["Location"] == LOGOUT_URL, r.text[:2000]
    # The pool's session is gone.
    assert callback_params(browser.get(silent))["error"] == "login_required"

    # The RelayState must be idpool's and the response must answer its request.
    forged = corp.logout_response(in_response_to=request["id"])
    r = requests.post(corp.sp_logout_url, data={"SAMLResponse": forged, "RelayState": "made-up"}, timeout=10)
    assert r.status_code == 400 and "RelayState" in r.text
    other = corp.logout_response(in_response_to="_another-request")
    r = requests.post(corp.sp_logout_url, data={"SAMLResponse": other, "RelayState": relay_state}, timeout=10)
    assert r.status_code == 400 and "does not answer" in r.text
    foreign = corp.logout_response(in_response_to=request["id"], issuer="https://evil.example/saml")
    r = requests.post(corp.sp_logout_url, data={"SAMLResponse": foreign, "RelayState": relay_state}, timeout=10)
    assert r.status_code == 400
    # A provider that could not sign the user out still returns them to the app.
    failed = corp.logout_response(in_response_to=request["id"], status="Responder")
    r = requests.post(corp.sp_logout_url, data={"SAMLResponse": failed, "RelayState": relay_state},
                      allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == LOGOUT_URL

    # Without IDPSignout, /logout goes straight back to the app.
    app.cognito.update_identity_provider(
        UserPoolId=app.pool_id, ProviderName="CorpSAML", ProviderDetails={"IDPSignout": "false"}
    )
    browser = Browser()
    app.sign_in(browser)
    r = browser.get(logout)
    assert r.status_code == 302 and r.headers["Location"] == LOGOUT_URL
    assert len(corp.logouts) == 1
