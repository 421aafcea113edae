"""SRP sign-in, MFA and remembered devices with the real Python clients:
pycognito's SRP (with and without a client secret) and boto3 answering TOTP
challenges with codes from pyotp, on every storage backend. The JavaScript
clients (amazon-cognito-identity-js, Amplify v6) run from test_node.py."""

from __future__ import annotations

import time

import pyotp
import pytest
from pycognito import Cognito
from pycognito.aws_srp import AWSSRP

from idpool_testlib import PASSWORD_POLICY, App, create_client, jwt_claims, raises_cognito, unique

PASSWORD = "Passw0rd-Srp1"


def make_user(app: App, **attrs) -> str:
    username = unique("u")
    app.cognito.admin_create_user(
        UserPoolId=app.pool_id,
        Username=username,
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": k, "Value": v} for k, v in attrs.items()],
    )
    app.cognito.admin_set_user_password(
        UserPoolId=app.pool_id, Username=username, Password=PASSWORD, Permanent=True
    )
    return username


def srp(app: App, username: str, password: str = PASSWORD) -> AWSSRP:
    return AWSSRP(
        username=username,
        password=password,
        pool_id=app.pool_id,
        client_id=app.client_id,
        client_secret=app.client_secret,
        client=app.cognito,
    )


def password_verifier(app: App, username: str, password: str = PASSWORD) -> dict:
    """Both SRP round trips by hand; returns RespondToAuthChallenge's answer."""
    aws = srp(app, username, password)
    params = aws.get_auth_params()
    first = app.cognito.initiate_auth(
        AuthFlow="USER_SRP_AUTH", AuthParameters=params, ClientId=app.client_id
    )
    assert first["ChallengeName"] == "PASSWORD_VERIFIER"
    answers = aws.process_challenge(first["ChallengeParameters"], params)
    return app.cognito.respond_to_auth_challenge(
        ClientId=app.client_id,
        ChallengeName="PASSWORD_VERIFIER",
        ChallengeResponses=answers,
        Session=first["Session"],
    )


def next_totp(secret: str, used: set[str]) -> str:
    """A valid code not used yet: idpool, like Cognito, accepts each code once."""
    totp = pyotp.TOTP(secret)
    for offset in (0, 30, -30):
        code = totp.at(time.time() + offset)
        if code not in used:
            used.add(code)
            return code
    raise AssertionError("no unused TOTP code in the window")


@pytest.mark.parametrize("secret", [False, True], ids=["public-client", "secret-client"])
def test_pycognito_authenticate_with_srp(idp, secret):
    app = App.create(idp.client(), secret=secret)
    username = make_user(app, email=f"{unique('e')}@example.com")
    u = Cognito(
        app.pool_id,
        app.client_id,
        client_secret=app.client_secret,
        username=username,
        user_pool_region="us-east-1",
        boto3_client_kwargs={"endpoint_url": idp.endpoint, "aws_access_key_id": "t", "aws_secret_access_key": "t"},
    )
    u.authenticate(password=PASSWORD)
    assert u.access_token and u.id_token and u.refresh_token
    u.verify_tokens()  # pycognito checks signature and claims against our JWKS
    assert u.get_user().username == username

    with raises_cognito("NotAuthorizedException", "Incorrect username or password."):
        srp(app, username, "Wrong-password1").authenticate_user()


def test_srp_by_email_alias_returns_user_id_for_srp(idp):
    cognito = idp.client()
    app = App.create(cognito, pool_overrides={"AliasAttributes": ["email"]})
    email = f"{unique('a')}@example.com"
    username = make_user(app, email=email, email_verified="true")
    aws = srp(app, email)
    params = aws.get_auth_params()
    first = cognito.initiate_auth(AuthFlow="USER_SRP_AUTH", AuthParameters=params, ClientId=app.client_id)
    assert first["ChallengeParameters"]["USER_ID_FOR_SRP"] == username
    assert first["ChallengeParameters"]["USERNAME"] == username
    answers = aws.process_challenge(first["ChallengeParameters"], params)
    out = cognito.respond_to_auth_challenge(
        ClientId=app.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answers
    )
    assert out["AuthenticationResult"]["AccessToken"]


def test_srp_refuses_bad_values_and_replays(idp):
    cognito = idp.client()
    app = App.create(cognito)
    username = make_user(app)
    # A = N (so A mod N == 0) would make the session key independent of the password.
    aws = srp(app, username)
    n_hex = format(aws.big_n, "x")
    with raises_cognito("InvalidParameterException", "SRP_A"):
        cognito.initiate_auth(
            AuthFlow="USER_SRP_AUTH", AuthParameters={"USERNAME": username, "SRP_A": n_hex}, ClientId=app.client_id
        )
    with raises_cognito("InvalidParameterException", "SRP_A"):
        cognito.initiate_auth(
            AuthFlow="USER_SRP_AUTH", AuthParameters={"USERNAME": username, "SRP_A": "0"}, ClientId=app.client_id
        )

    params = aws.get_auth_params()
    first = cognito.initiate_auth(AuthFlow="USER_SRP_AUTH", AuthParameters=params, ClientId=app.client_id)
    answers = aws.process_challenge(first["ChallengeParameters"], params)
    ok = cognito.respond_to_auth_challenge(
        ClientId=app.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answers
    )
    assert ok["AuthenticationResult"]["IdToken"]
    with raises_cognito("NotAuthorizedException", "only be used once"):
        cognito.respond_to_auth_challenge(
            ClientId=app.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answers
        )

    # A TIMESTAMP far from the server's clock is refused.
    first = cognito.initiate_auth(AuthFlow="USER_SRP_AUTH", AuthParameters=params, ClientId=app.client_id)
    answers = aws.process_challenge(first["ChallengeParameters"], params)
    answers["TIMESTAMP"] = "Mon Jan 5 10:00:00 UTC 2015"
    with raises_cognito("NotAuthorizedException"):
        cognito.respond_to_auth_challenge(
            ClientId=app.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answers
        )


def test_unknown_user_srp_with_prevent_user_existence_errors(idp):
    cognito = idp.client()
    app = App.create(cognito, client_overrides={"PreventUserExistenceErrors": "ENABLED"})
    aws = srp(app, "nobody-here")
    params = aws.get_auth_params()
    # A decoy challenge that looks like a real one...
    first = cognito.initiate_auth(AuthFlow="USER_SRP_AUTH", AuthParameters=params, ClientId=app.client_id)
    assert first["ChallengeName"] == "PASSWORD_VERIFIER"
    assert set(first["ChallengeParameters"]) >= {"SALT", "SRP_B", "SECRET_BLOCK", "USER_ID_FOR_SRP"}
    # Its Session and SECRET_BLOCK look like a real user's.
    real_user = make_user(app)
    real = srp(app, real_user)
    real_first = cognito.initiate_auth(
        AuthFlow="USER_SRP_AUTH", AuthParameters=real.get_auth_params(), ClientId=app.client_id
    )
    assert abs(len(real_first["Session"]) - len(first["Session"])) < 48
    assert abs(len(real_first["ChallengeParameters"]["SECRET_BLOCK"]) - len(first["ChallengeParameters"]["SECRET_BLOCK"])) < 48
    answers = aws.process_challenge(first["ChallengeParameters"], params)
    # ...whose answer fails exactly as a wrong password does.
    with raises_cognito("NotAuthorizedException", "Incorrect username or password."):
        cognito.respond_to_auth_challenge(
            ClientId=app.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answers
        )
    app2 = App.create(cognito)
    with raises_cognito("UserNotFoundException"):
        cognito.initiate_auth(
            AuthFlow="USER_SRP_AUTH", AuthParameters=srp(app2, "nobody").get_auth_params(), ClientId=app2.client_id
        )


def test_wrong_srp_proofs_lock_the_account(idp):
    cognito = idp.client()
    app = App.create(cognito)
    username = make_user(app)
    for _ in range(5):
        with raises_cognito("NotAuthorizedException", "Incorrect username or password."):
            password_verifier(app, username, "Wrong-password1")
    with raises_cognito("NotAuthorizedException", "Password attempts exceeded"):
        password_verifier(app, username)


def test_totp_setup_and_sign_in_with_boto3_and_pyotp(idp):
    cognito = idp.client()
    app = App.create(cognito)
    cognito.set_user_pool_mfa_config(
        UserPoolId=app.pool_id, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="OPTIONAL"
    )
    config = cognito.get_user_pool_mfa_config(UserPoolId=app.pool_id)
    assert config["MfaConfiguration"] == "OPTIONAL"
    assert config["SoftwareTokenMfaConfiguration"] == {"Enabled": True}
    username = make_user(app)
    tokens = password_verifier(app, username)["AuthenticationResult"]
    access = tokens["AccessToken"]

    with raises_cognito("InvalidParameterException", "not verified software token"):
        cognito.set_user_mfa_preference(
            AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
        )
    secret = cognito.associate_software_token(AccessToken=access)["SecretCode"]
    assert len(secret) == 32
    used: set[str] = set()
    with raises_cognito("EnableSoftwareTokenMFAException"):
        cognito.verify_software_token(AccessToken=access, UserCode="000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    assert cognito.verify_software_token(AccessToken=access, UserCode=next_totp(secret, used))["Status"] == "SUCCESS"
    cognito.set_user_mfa_preference(AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    user = cognito.admin_get_user(UserPoolId=app.pool_id, Username=username)
    assert user["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
    assert user["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"

    challenge = password_verifier(app, username)
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    with raises_cognito("CodeMismatchException"):
        bad = next(c for c in ("123456", "654321") if c not in {pyotp.TOTP(secret).at(time.time() + d) for d in (-30, 0, 30)})
        cognito.respond_to_auth_challenge(
            ClientId=app.client_id,
            ChallengeName="SOFTWARE_TOKEN_MFA",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": bad},
        )
    code = next_totp(secret, used)
    done = cognito.respond_to_auth_challenge(
        ClientId=app.client_id,
        ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": code},
    )
    assert done["AuthenticationResult"]["AccessToken"]
    # The session is spent, and the code is spent.
    with raises_cognito("NotAuthorizedException"):
        cognito.respond_to_auth_challenge(
            ClientId=app.client_id,
            ChallengeName="SOFTWARE_TOKEN_MFA",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": next_totp(secret, used)},
        )
    again = password_verifier(app, username)
    with raises_cognito("ExpiredCodeException", "already been used once"):
        cognito.respond_to_auth_challenge(
            ClientId=app.client_id,
            ChallengeName="SOFTWARE_TOKEN_MFA",
            Session=again["Session"],
            ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": code},
        )


def test_sms_and_email_mfa_with_select_mfa_type(idp):
    cognito = idp.client()
    app = App.create(
        cognito,
        pool_overrides={"SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms"}},
    )
    cognito.set_user_pool_mfa_config(
        UserPoolId=app.pool_id,
        SmsMfaConfiguration={
            "SmsAuthenticationMessage": "Code: {####}",
            "SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms"},
        },
        EmailMfaConfiguration={"Message": "Your code is {####}", "Subject": "Sign-in code"},
        MfaConfiguration="OPTIONAL",
    )
    email = f"{unique('m')}@example.com"
    username = make_user(app, email=email, email_verified="true", phone_number="+15555550188")
    cognito.admin_set_user_mfa_preference(
        UserPoolId=app.pool_id,
        Username=username,
        SMSMfaSettings={"Enabled": True},
        EmailMfaSettings={"Enabled": True},
    )
    user = cognito.admin_get_user(UserPoolId=app.pool_id, Username=username)
    assert sorted(user["UserMFASettingList"]) == ["EMAIL_OTP", "SMS_MFA"]
    assert user["MFAOptions"] == [{"DeliveryMedium": "SMS", "AttributeName": "phone_number"}]

    choose = cognito.admin_initiate_auth(
        UserPoolId=app.pool_id,
        ClientId=app.client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    assert choose["ChallengeName"] == "SELECT_MFA_TYPE"
    assert sorted(eval(choose["ChallengeParameters"]["MFAS_CAN_CHOOSE"])) == ["EMAIL_OTP", "SMS_MFA"]

    before = idp.outbox_count(app.pool_id, username)
    sms = cognito.admin_respond_to_auth_challenge(
        UserPoolId=app.pool_id,
        ClientId=app.client_id,
        ChallengeName="SELECT_MFA_TYPE",
        Session=choose["Session"],
        ChallengeResponses={"USERNAME": username, "ANSWER": "SMS_MFA"},
    )
    assert sms["ChallengeName"] == "SMS_MFA"
    assert sms["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"] == "+*******0188"
    msg = idp.wait_for_message(app.pool_id, username, after=before)
    assert msg["channel"] == "SMS" and msg["message"] == f"Code: {msg['code']}"
    done = cognito.admin_respond_to_auth_challenge(
        UserPoolId=app.pool_id,
        ClientId=app.client_id,
        ChallengeName="SMS_MFA",
        Session=sms["Session"],
        ChallengeResponses={"USERNAME": username, "SMS_MFA_CODE": msg["code"]},
    )
    assert done["AuthenticationResult"]["IdToken"]

    # Email as the preferred factor: EMAIL_OTP directly, the code by email.
    cognito.admin_set_user_mfa_preference(
        UserPoolId=app.pool_id, Username=username, EmailMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    before = idp.outbox_count(app.pool_id, username)
    otp = cognito.admin_initiate_auth(
        UserPoolId=app.pool_id,
        ClientId=app.client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    assert otp["ChallengeName"] == "EMAIL_OTP"
    assert otp["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"] == "EMAIL"
    msg = idp.wait_for_message(app.pool_id, username, after=before)
    assert msg["channel"] == "EMAIL" and msg["destination"] == email
    with raises_cognito("CodeMismatchException"):
        cognito.admin_respond_to_auth_challenge(
            UserPoolId=app.pool_id,
            ClientId=app.client_id,
            ChallengeName="EMAIL_OTP",
            Session=otp["Session"],
            ChallengeResponses={"USERNAME": username, "EMAIL_OTP_CODE": "1" + msg["code"][1:] if msg["code"][0] != "1" else "2" + msg["code"][1:]},
        )
    done = cognito.admin_respond_to_auth_challenge(
        UserPoolId=app.pool_id,
        ClientId=app.client_id,
        ChallengeName="EMAIL_OTP",
        Session=otp["Session"],
        ChallengeResponses={"USERNAME": username, "EMAIL_OTP_CODE": msg["code"]},
    )
    assert done["AuthenticationResult"]["AccessToken"]


def test_mfa_on_requires_setup_with_session(idp):
    cognito = idp.client()
    app = App.create(cognito)
    cognito.set_user_pool_mfa_config(
        UserPoolId=app.pool_id, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="ON"
    )
    username = make_user(app)
    setup = password_verifier(app, username)
    assert setup["ChallengeName"] == "MFA_SETUP"
    assert setup["ChallengeParameters"]["MFAS_CAN_SETUP"] == '["SOFTWARE_TOKEN_MFA"]'
    with raises_cognito("InvalidParameterException", "not complete"):
        cognito.respond_to_auth_challenge(
            ClientId=app.client_id, ChallengeName="MFA_SETUP", Session=setup["Session"],
            ChallengeResponses={"USERNAME": username},
        )
    assoc = cognito.associate_software_token(Session=setup["Session"])
    verified = cognito.verify_software_token(
        Session=assoc["Session"], UserCode=pyotp.TOTP(assoc["SecretCode"]).now()
    )
    assert verified["Status"] == "SUCCESS"
    done = cognito.respond_to_auth_challenge(
        ClientId=app.client_id, ChallengeName="MFA_SETUP", Session=verified["Session"],
        ChallengeResponses={"USERNAME": username},
    )
    assert done["AuthenticationResult"]["AccessToken"]
    assert cognito.admin_get_user(UserPoolId=app.pool_id, Username=username)["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
    factors = cognito.admin_get_user_auth_factors(UserPoolId=app.pool_id, Username=username)
    assert factors["Username"] == username
    assert factors["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
    assert factors["ConfiguredUserAuthFactors"] == ["PASSWORD", "SOFTWARE_TOKEN"]
    access = done["AuthenticationResult"]["AccessToken"]
    assert cognito.get_user_auth_factors(AccessToken=access)["ConfiguredUserAuthFactors"] == ["PASSWORD", "SOFTWARE_TOKEN"]

    # The phone is lost: the administrator deletes the token, and with MFA ON the next
    # sign-in sets a new one up.
    cognito.admin_delete_software_token(UserPoolId=app.pool_id, Username=username)
    user = cognito.admin_get_user(UserPoolId=app.pool_id, Username=username)
    assert "PreferredMfaSetting" not in user and not user.get("UserMFASettingList")
    assert cognito.admin_get_user_auth_factors(UserPoolId=app.pool_id, Username=username)[
        "ConfiguredUserAuthFactors"
    ] == ["PASSWORD"]
    with raises_cognito("ResourceNotFoundException", "software token"):
        cognito.admin_delete_software_token(UserPoolId=app.pool_id, Username=username)
    with raises_cognito("UserNotFoundException"):
        cognito.admin_delete_software_token(UserPoolId=app.pool_id, Username="nobody-here")
    with raises_cognito("UserNotFoundException"):
        cognito.admin_get_user_auth_factors(UserPoolId=app.pool_id, Username="nobody-here")
    assert password_verifier(app, username)["ChallengeName"] == "MFA_SETUP"


def test_device_operations(idp):
    cognito = idp.client()
    app = App.create(
        cognito,
        pool_overrides={"DeviceConfiguration": {"ChallengeRequiredOnNewDevice": False, "DeviceOnlyRememberedOnUserPrompt": True}},
    )
    username = make_user(app)
    result = password_verifier(app, username)["AuthenticationResult"]
    meta = result["NewDeviceMetadata"]
    assert meta["DeviceKey"].startswith("us-east-1_") and meta["DeviceGroupKey"]
    access = result["AccessToken"]
    with raises_cognito("InvalidParameterException"):
        cognito.confirm_device(AccessToken=access, DeviceKey=meta["DeviceKey"],
                               DeviceSecretVerifierConfig={"PasswordVerifier": "", "Salt": "c2FsdA=="})
    confirmed = cognito.confirm_device(
        AccessToken=access,
        DeviceKey=meta["DeviceKey"],
        DeviceSecretVerifierConfig={"PasswordVerifier": "AQID", "Salt": "c2FsdA=="},
        DeviceName="laptop",
    )
    assert confirmed["UserConfirmationNecessary"] is True
    listed = cognito.admin_list_devices(UserPoolId=app.pool_id, Username=username)["Devices"]
    assert [d["DeviceKey"] for d in listed] == [meta["DeviceKey"]]
    attrs = {a["Name"]: a["Value"] for a in listed[0]["DeviceAttributes"]}
    assert attrs["device_name"] == "laptop"
    assert attrs["dev:device_remembered_status"] == "not_remembered"
    cognito.update_device_status(AccessToken=access, DeviceKey=meta["DeviceKey"], DeviceRememberedStatus="remembered")
    got = cognito.get_device(AccessToken=access, DeviceKey=meta["DeviceKey"])["Device"]
    assert {a["Name"]: a["Value"] for a in got["DeviceAttributes"]}["dev:device_remembered_status"] == "remembered"
    # With device tracking the tokens belong to the device: the access token names it,
    # and only that device renews the refresh token.
    assert jwt_claims(access)["device_key"] == meta["DeviceKey"]
    refresh = result["RefreshToken"]

    def renew(**params):
        return cognito.initiate_auth(AuthFlow="REFRESH_TOKEN_AUTH", ClientId=app.client_id,
                                     AuthParameters={"REFRESH_TOKEN": refresh, **params})["AuthenticationResult"]

    renewed = renew(DEVICE_KEY=meta["DeviceKey"])
    assert jwt_claims(renewed["AccessToken"])["device_key"] == meta["DeviceKey"]
    for params in ({}, {"DEVICE_KEY": "us-east-1_00000000-0000-4000-8000-000000000000"}):
        with raises_cognito("NotAuthorizedException", "Invalid Refresh Token"):
            renew(**params)
    got = cognito.get_tokens_from_refresh_token(RefreshToken=refresh, ClientId=app.client_id,
                                                DeviceKey=meta["DeviceKey"])["AuthenticationResult"]
    assert jwt_claims(got["AccessToken"])["device_key"] == meta["DeviceKey"]
    with raises_cognito("NotAuthorizedException", "Invalid Refresh Token"):
        cognito.get_tokens_from_refresh_token(RefreshToken=refresh, ClientId=app.client_id)

    cognito.admin_forget_device(UserPoolId=app.pool_id, Username=username, DeviceKey=meta["DeviceKey"])
    with raises_cognito("ResourceNotFoundException"):
        cognito.admin_get_device(UserPoolId=app.pool_id, Username=username, DeviceKey=meta["DeviceKey"])
    assert cognito.list_devices(AccessToken=access)["Devices"] == []
    # A forgotten device's refresh tokens stop working (a stolen device's tokens die).
    with raises_cognito("NotAuthorizedException", "Invalid Refresh Token"):
        renew(DEVICE_KEY=meta["DeviceKey"])


def test_choice_based_sign_in_user_auth(idp):
    """USER_AUTH: SELECT_CHALLENGE, passwordless EMAIL_OTP and SMS_OTP, PASSWORD and
    PASSWORD_SRP as first factors, GetUserAuthFactors."""

    cognito = idp.client()
    app = App.create(
        cognito,
        pool_overrides={
            "Policies": {
                "PasswordPolicy": dict(PASSWORD_POLICY),
                "SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "EMAIL_OTP", "SMS_OTP"]},
            }
        },
        client_overrides={"ExplicitAuthFlows": ["ALLOW_USER_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]},
    )
    email = f"{unique('p')}@example.com"
    username = make_user(app, email=email, email_verified="true")

    def user_auth(**params):
        return cognito.initiate_auth(
            AuthFlow="USER_AUTH", ClientId=app.client_id, AuthParameters={"USERNAME": username, **params}
        )

    select = user_auth()
    assert select["ChallengeName"] == "SELECT_CHALLENGE"
    assert select["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP", "EMAIL_OTP"]

    before = idp.outbox_count(app.pool_id, username)
    otp = cognito.respond_to_auth_challenge(
        ClientId=app.client_id,
        ChallengeName="SELECT_CHALLENGE",
        Session=select["Session"],
        ChallengeResponses={"USERNAME": username, "ANSWER": "EMAIL_OTP"},
    )
    assert otp["ChallengeName"] == "EMAIL_OTP"
    msg = idp.wait_for_message(app.pool_id, username, after=before)
    assert msg["destination"] == email
    done = cognito.respond_to_auth_challenge(
        ClientId=app.client_id,
        ChallengeName="EMAIL_OTP",
        Session=otp["Session"],
        ChallengeResponses={"USERNAME": username, "EMAIL_OTP_CODE": msg["code"]},
    )
    access = done["AuthenticationResult"]["AccessToken"]
    factors = cognito.get_user_auth_factors(AccessToken=access)
    assert factors["Username"] == username
    assert factors["ConfiguredUserAuthFactors"] == ["PASSWORD", "EMAIL_OTP"]

    # A preferred PASSWORD goes straight to the password check.
    with raises_cognito("NotAuthorizedException", "Incorrect username or password."):
        user_auth(PREFERRED_CHALLENGE="PASSWORD", PASSWORD="Wrong-password1")
    ok = user_auth(PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)
    assert ok["AuthenticationResult"]["IdToken"]

    # PASSWORD_SRP: PASSWORD_VERIFIER, answered by pycognito's SRP.
    aws = srp(app, username)
    params = aws.get_auth_params()
    verifier = user_auth(PREFERRED_CHALLENGE="PASSWORD_SRP", SRP_A=params["SRP_A"])
    assert verifier["ChallengeName"] == "PASSWORD_VERIFIER"
    answers = aws.process_challenge(verifier["ChallengeParameters"], params)
    out = cognito.respond_to_auth_challenge(
        ClientId=app.client_id, ChallengeName="PASSWORD_VERIFIER", Session=verifier["Session"],
        ChallengeResponses=answers,
    )
    assert out["AuthenticationResult"]["AccessToken"]

    # SMS_OTP once the user has a phone number.
    cognito.admin_update_user_attributes(
        UserPoolId=app.pool_id, Username=username,
        UserAttributes=[{"Name": "phone_number", "Value": "+15555550177"}],
    )
    before = idp.outbox_count(app.pool_id, username)
    sms = user_auth(PREFERRED_CHALLENGE="SMS_OTP")
    assert sms["ChallengeName"] == "SMS_OTP"
    assert sms["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"] == "+*******0177"
    msg = idp.wait_for_message(app.pool_id, username, after=before)
    assert msg["channel"] == "SMS"
    done = cognito.respond_to_auth_challenge(
        ClientId=app.client_id,
        ChallengeName="SMS_OTP",
        Session=sms["Session"],
        ChallengeResponses={"USERNAME": username, "SMS_OTP_CODE": msg["code"]},
    )
    assert done["AuthenticationResult"]["RefreshToken"]

    # A client without ALLOW_USER_AUTH cannot start the flow.
    other, _ = create_client(cognito, app.pool_id)
    with raises_cognito("InvalidParameterException"):
        cognito.initiate_auth(AuthFlow="USER_AUTH", ClientId=other, AuthParameters={"USERNAME": username})


def test_mfa_guesses_lock_the_account_even_with_the_right_password(idp):
    """Knowing the password must not reset the counter between guesses at the code."""
    cognito = idp.client()
    app = App.create(cognito)
    cognito.set_user_pool_mfa_config(
        UserPoolId=app.pool_id, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="OPTIONAL"
    )
    username = make_user(app)
    access = password_verifier(app, username)["AuthenticationResult"]["AccessToken"]
    secret = cognito.associate_software_token(AccessToken=access)["SecretCode"]
    cognito.verify_software_token(AccessToken=access, UserCode=pyotp.TOTP(secret).now())
    cognito.set_user_mfa_preference(AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    valid = {pyotp.TOTP(secret).at(time.time() + d) for d in (-30, 0, 30)}
    wrong = next(c for c in ("111111", "222222", "333333", "444444") if c not in valid)
    for _ in range(5):
        challenge = password_verifier(app, username)
        assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
        with raises_cognito("CodeMismatchException"):
            cognito.respond_to_auth_challenge(
                ClientId=app.client_id,
                ChallengeName="SOFTWARE_TOKEN_MFA",
                Session=challenge["Session"],
                ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": wrong},
            )
    with raises_cognito("NotAuthorizedException", "Password attempts exceeded"):
        password_verifier(app, username)
