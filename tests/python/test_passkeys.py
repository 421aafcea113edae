"""WebAuthn passkeys with a software authenticator (softpasskey.py), on every
backend: registration, listing, the WEB_AUTHN first factor of USER_AUTH, a
replayed or foreign answer refused, deletion."""

from __future__ import annotations

import json

from idpool_testlib import PASSWORD_POLICY, App, raises_cognito, unique
from softpasskey import SoftPasskey
from test_srp_mfa import PASSWORD, make_user

ORIGIN = "http://localhost:3000"


def passkey_app(cognito) -> App:
    app = App.create(
        cognito,
        pool_overrides={
            "Policies": {
                "PasswordPolicy": dict(PASSWORD_POLICY),
                "SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "WEB_AUTHN"]},
            }
        },
        client_overrides={"ExplicitAuthFlows": ["ALLOW_USER_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]},
    )
    cognito.set_user_pool_mfa_config(
        UserPoolId=app.pool_id,
        WebAuthnConfiguration={"RelyingPartyId": "localhost", "UserVerification": "required"},
        MfaConfiguration="OFF",
    )
    return app


def sign_in_password(app: App, username: str) -> str:
    out = app.cognito.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=app.client_id,
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    return out["AuthenticationResult"]["AccessToken"]


def test_register_list_sign_in_and_delete_a_passkey(idp):
    cognito = idp.client()
    app = passkey_app(cognito)
    username = make_user(app, email=f"{unique('k')}@example.com")
    access = sign_in_password(app, username)

    options = cognito.start_web_authn_registration(AccessToken=access)["CredentialCreationOptions"]
    assert options["rp"]["id"] == "localhost"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    authenticator = SoftPasskey()
    # An answer for another relying party is refused.
    with raises_cognito("WebAuthnRelyingPartyMismatchException"):
        cognito.complete_web_authn_registration(
            AccessToken=access, Credential=authenticator.create(options, ORIGIN, rp_id="evil.example")
        )
    options = cognito.start_web_authn_registration(AccessToken=access)["CredentialCreationOptions"]
    cognito.complete_web_authn_registration(AccessToken=access, Credential=authenticator.create(options, ORIGIN))
    creds = cognito.list_web_authn_credentials(AccessToken=access)["Credentials"]
    assert len(creds) == 1
    assert creds[0]["RelyingPartyId"] == "localhost"
    assert creds[0]["AuthenticatorAttachment"] == "platform"
    assert creds[0]["AuthenticatorTransports"] == ["internal"]
    factors = cognito.get_user_auth_factors(AccessToken=access)["ConfiguredUserAuthFactors"]
    assert factors == ["PASSWORD", "WEB_AUTHN"]

    def web_authn_challenge():
        out = cognito.initiate_auth(
            AuthFlow="USER_AUTH",
            ClientId=app.client_id,
            AuthParameters={"USERNAME": username, "PREFERRED_CHALLENGE": "WEB_AUTHN"},
        )
        assert out["ChallengeName"] == "WEB_AUTHN"
        return out, json.loads(out["ChallengeParameters"]["CREDENTIAL_REQUEST_OPTIONS"])

    challenge, request = web_authn_challenge()
    assert request["rpId"] == "localhost"
    answer = authenticator.get(request, ORIGIN)
    done = cognito.respond_to_auth_challenge(
        ClientId=app.client_id,
        ChallengeName="WEB_AUTHN",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": username, "CREDENTIAL": json.dumps(answer)},
    )
    assert done["AuthenticationResult"]["IdToken"]
    # The same answer again: the session is spent.
    with raises_cognito("NotAuthorizedException"):
        cognito.respond_to_auth_challenge(
            ClientId=app.client_id,
            ChallengeName="WEB_AUTHN",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": username, "CREDENTIAL": json.dumps(answer)},
        )
    # A key that was never registered cannot answer.
    challenge, request = web_authn_challenge()
    stranger = SoftPasskey()
    stranger.credential_id = authenticator.credential_id
    with raises_cognito("NotAuthorizedException", "Passkey sign-in failed."):
        cognito.respond_to_auth_challenge(
            ClientId=app.client_id,
            ChallengeName="WEB_AUTHN",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": username, "CREDENTIAL": json.dumps(stranger.get(request, ORIGIN))},
        )
    # The SELECT_CHALLENGE path offers it too.
    select = cognito.initiate_auth(
        AuthFlow="USER_AUTH", ClientId=app.client_id, AuthParameters={"USERNAME": username}
    )
    assert select["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP", "WEB_AUTHN"]

    cognito.delete_web_authn_credential(AccessToken=access, CredentialId=creds[0]["CredentialId"])
    assert cognito.list_web_authn_credentials(AccessToken=access)["Credentials"] == []
    with raises_cognito("ResourceNotFoundException"):
        cognito.delete_web_authn_credential(AccessToken=access, CredentialId=creds[0]["CredentialId"])


def test_passkeys_need_the_pool_to_allow_them(idp):
    cognito = idp.client()
    app = App.create(cognito)
    username = make_user(app)
    access = sign_in_password(app, username)
    with raises_cognito("WebAuthnNotEnabledException"):
        cognito.start_web_authn_registration(AccessToken=access)
