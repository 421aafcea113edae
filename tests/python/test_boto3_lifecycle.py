"""The password lifecycle of a user pool through boto3, on every storage backend.

Every test gets the `idp` fixture: a dev-mode server (SQLite, then PostgreSQL)
that was wiped just before the test.  Codes are read from the dev outbox.
"""

from __future__ import annotations

import base64
import json
import time

import jwt as pyjwt
import pytest

from idpool_testlib import (
    App,
    attrs_dict,
    create_client,
    create_pool,
    jwt_claims,
    jwt_header,
    raises_cognito,
    secret_hash,
    unique,
    wrong_code,
)

PW1 = "Passw0rd-One"
PW2 = "Passw0rd-Two"
PW3 = "Passw0rd-Three"
PW4 = "Passw0rd-Four"

SECRET_IDS = ["public-client", "secret-client"]


def check_tokens(server, app: App, result: dict, username: str, *, email: str | None = None) -> dict:
    """Decode and verify the ID and access tokens against the pool's JWKS."""
    issuer = f"{server.endpoint}/{app.pool_id}"
    jwks = pyjwt.PyJWKClient(f"{issuer}/.well-known/jwks.json", cache_keys=False)

    id_token, access_token = result["IdToken"], result["AccessToken"]
    for token in (id_token, access_token):
        header = jwt_header(token)
        assert header.get("alg") == "RS256", header
        assert header.get("kid"), header

    id_claims = pyjwt.decode(
        id_token,
        jwks.get_signing_key_from_jwt(id_token).key,
        algorithms=["RS256"],
        audience=app.client_id,
        issuer=issuer,
        leeway=5,
    )
    assert id_claims["token_use"] == "id", id_claims
    assert id_claims["cognito:username"] == username, id_claims
    assert id_claims["aud"] == app.client_id, id_claims
    assert id_claims["sub"], id_claims
    if email is not None:
        assert id_claims.get("email") == email, id_claims

    access_claims = pyjwt.decode(
        access_token,
        jwks.get_signing_key_from_jwt(access_token).key,
        algorithms=["RS256"],
        issuer=issuer,
        options={"verify_aud": False},
        leeway=5,
    )
    assert access_claims["token_use"] == "access", access_claims
    assert access_claims["client_id"] == app.client_id, access_claims
    assert access_claims["username"] == username, access_claims
    assert access_claims["sub"] == id_claims["sub"], (access_claims, id_claims)
    assert "aud" not in access_claims, access_claims
    assert access_claims["exp"] > time.time(), access_claims
    return {"id": id_claims, "access": access_claims}


# --------------------------------------------------------------------- the full lifecycle


@pytest.mark.parametrize("with_secret", [False, True], ids=SECRET_IDS)
def test_password_lifecycle(idp, with_secret):
    cognito = idp.client()
    app = App.create(cognito, secret=with_secret)
    username, email = "alice", "alice@example.com"

    # --- SignUp -> code from the outbox -> ConfirmSignUp
    resp = app.sign_up(username, PW1, email)
    assert resp["UserConfirmed"] is False, resp
    assert resp["UserSub"], resp
    delivery = resp.get("CodeDeliveryDetails", {})
    assert delivery.get("DeliveryMedium") == "EMAIL", resp
    assert delivery.get("AttributeName") == "email", resp

    msg = idp.wait_for_message(app.pool_id, username)
    assert msg["channel"] == "EMAIL", msg
    assert msg["destination"] == email, msg
    assert msg["userPoolId"] == app.pool_id, msg
    assert msg["code"] in msg["message"], msg

    user = cognito.admin_get_user(UserPoolId=app.pool_id, Username=username)
    assert user["UserStatus"] == "UNCONFIRMED", user

    app.confirm_sign_up(username, msg["code"])
    user = cognito.admin_get_user(UserPoolId=app.pool_id, Username=username)
    assert user["UserStatus"] == "CONFIRMED", user
    assert user["Enabled"] is True, user
    assert attrs_dict(user["UserAttributes"]).get("email_verified") == "true", user

    # --- USER_PASSWORD_AUTH -> GetUser
    tokens = app.sign_in(username, PW1)
    claims = check_tokens(idp, app, tokens, username, email=email)
    assert claims["id"]["sub"] == resp["UserSub"]

    me = cognito.get_user(AccessToken=tokens["AccessToken"])
    assert me["Username"] == username, me
    mine = attrs_dict(me["UserAttributes"])
    assert mine["email"] == email, me
    assert mine["sub"] == resp["UserSub"], me

    # --- UpdateUserAttributes
    cognito.update_user_attributes(
        AccessToken=tokens["AccessToken"],
        UserAttributes=[{"Name": "name", "Value": "Alice Liddell"}],
    )
    me = cognito.get_user(AccessToken=tokens["AccessToken"])
    assert attrs_dict(me["UserAttributes"]).get("name") == "Alice Liddell", me

    # --- ChangePassword (a wrong previous password is refused)
    with raises_cognito("NotAuthorizedException"):
        cognito.change_password(
            AccessToken=tokens["AccessToken"], PreviousPassword="Wr0ng-Password", ProposedPassword=PW2
        )
    cognito.change_password(AccessToken=tokens["AccessToken"], PreviousPassword=PW1, ProposedPassword=PW2)
    with raises_cognito("NotAuthorizedException", "Incorrect username or password."):
        app.password_auth(username, PW1)
    tokens = app.sign_in(username, PW2)

    # --- REFRESH_TOKEN_AUTH
    refreshed = app.refresh(username, tokens["RefreshToken"])["AuthenticationResult"]
    assert refreshed.get("AccessToken") and refreshed.get("IdToken"), refreshed
    refreshed_claims = check_tokens(idp, app, refreshed, username, email=email)
    assert refreshed_claims["id"]["sub"] == resp["UserSub"]
    assert cognito.get_user(AccessToken=refreshed["AccessToken"])["Username"] == username

    # --- GlobalSignOut revokes access and refresh tokens
    cognito.global_sign_out(AccessToken=tokens["AccessToken"])
    with raises_cognito("NotAuthorizedException"):
        cognito.get_user(AccessToken=tokens["AccessToken"])
    with raises_cognito("NotAuthorizedException"):
        cognito.get_user(AccessToken=refreshed["AccessToken"])
    with raises_cognito("NotAuthorizedException"):
        app.refresh(username, tokens["RefreshToken"])

    # --- ForgotPassword -> code -> ConfirmForgotPassword -> sign in
    before = idp.outbox_count(app.pool_id, username)
    fp = app.forgot_password(username)
    assert fp["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL", fp
    msg = idp.wait_for_message(app.pool_id, username, after=before)
    assert msg["destination"] == email, msg
    with raises_cognito("CodeMismatchException"):
        app.confirm_forgot_password(username, wrong_code(msg["code"]), PW3)
    app.confirm_forgot_password(username, msg["code"], PW3)
    with raises_cognito("NotAuthorizedException", "Incorrect username or password."):
        app.password_auth(username, PW2)
    tokens = app.sign_in(username, PW3)
    assert cognito.get_user(AccessToken=tokens["AccessToken"])["Username"] == username


@pytest.mark.parametrize("with_secret", [False, True], ids=SECRET_IDS)
def test_admin_create_user_new_password_required(idp, with_secret):
    cognito = idp.client()
    app = App.create(cognito, secret=with_secret)
    username, email = "carol", "carol@example.com"

    created = cognito.admin_create_user(
        UserPoolId=app.pool_id,
        Username=username,
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true"},
        ],
        DesiredDeliveryMediums=["EMAIL"],
    )["User"]
    assert created["Username"] == username, created
    assert created["UserStatus"] == "FORCE_CHANGE_PASSWORD", created
    assert created["Enabled"] is True, created

    invite = idp.wait_for_message(app.pool_id, username)
    assert invite["channel"] == "EMAIL" and invite["destination"] == email, invite
    temp_password = invite["code"]
    assert temp_password in invite["message"], invite

    resp = app.password_auth(username, temp_password)
    assert resp.get("ChallengeName") == "NEW_PASSWORD_REQUIRED", resp
    assert resp.get("Session"), resp
    assert "AuthenticationResult" not in resp, resp

    # A password that breaks the pool's policy is refused.
    with raises_cognito("InvalidPasswordException"):
        cognito.respond_to_auth_challenge(
            ClientId=app.client_id,
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=resp["Session"],
            ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": "short", **app.sh_param(username)},
        )
    # The refusal may consume the session (Cognito's sessions are single-use
    # once answered); start over.
    resp = app.password_auth(username, temp_password)
    assert resp.get("ChallengeName") == "NEW_PASSWORD_REQUIRED", resp

    answered = cognito.respond_to_auth_challenge(
        ClientId=app.client_id,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=resp["Session"],
        ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": PW1, **app.sh_param(username)},
    )
    result = answered["AuthenticationResult"]
    check_tokens(idp, app, result, username, email=email)
    assert cognito.admin_get_user(UserPoolId=app.pool_id, Username=username)["UserStatus"] == "CONFIRMED"

    with raises_cognito("NotAuthorizedException"):
        app.password_auth(username, temp_password)
    app.sign_in(username, PW1)


def test_admin_initiate_auth_new_password_required(idp):
    cognito = idp.client()
    app = App.create(cognito, secret=True)
    username = "dave"
    cognito.admin_create_user(
        UserPoolId=app.pool_id,
        Username=username,
        TemporaryPassword="Temp0rary-Pass",
        UserAttributes=[{"Name": "email", "Value": "dave@example.com"}, {"Name": "email_verified", "Value": "true"}],
        MessageAction="SUPPRESS",
    )
    assert idp.outbox_count(app.pool_id, username) == 0, "MessageAction=SUPPRESS sent a message"

    resp = app.admin_password_auth(username, "Temp0rary-Pass")
    assert resp.get("ChallengeName") == "NEW_PASSWORD_REQUIRED", resp
    answered = cognito.admin_respond_to_auth_challenge(
        UserPoolId=app.pool_id,
        ClientId=app.client_id,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=resp["Session"],
        ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": PW1, **app.sh_param(username)},
    )
    check_tokens(idp, app, answered["AuthenticationResult"], username)
    result = app.admin_password_auth(username, PW1)["AuthenticationResult"]
    assert result["AccessToken"]


# --------------------------------------------------------------------- error cases


def test_sign_up_errors(idp):
    cognito = idp.client()
    app = App.create(cognito)
    username = "erin"

    with raises_cognito("InvalidPasswordException"):
        app.sign_up(username, "short", "erin@example.com")
    with raises_cognito("InvalidPasswordException"):
        app.sign_up(username, "alllowercase1", "erin@example.com")

    app.sign_up(username, PW1, "erin@example.com")
    with raises_cognito("UsernameExistsException"):
        app.sign_up(username, PW1, "erin@example.com")

    first = idp.wait_for_message(app.pool_id, username)
    with raises_cognito("CodeMismatchException"):
        app.confirm_sign_up(username, wrong_code(first["code"]))
    assert cognito.admin_get_user(UserPoolId=app.pool_id, Username=username)["UserStatus"] == "UNCONFIRMED"

    # ResendConfirmationCode delivers a (new) code that confirms the user.
    resent = cognito.resend_confirmation_code(ClientId=app.client_id, Username=username)
    assert resent["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL", resent
    second = idp.wait_for_message(app.pool_id, username, after=1)
    app.confirm_sign_up(username, second["code"])
    assert cognito.admin_get_user(UserPoolId=app.pool_id, Username=username)["UserStatus"] == "CONFIRMED"

    # A confirmed username still cannot be signed up again.
    with raises_cognito("UsernameExistsException"):
        app.sign_up(username, PW2, "erin2@example.com")


def test_sign_in_errors(idp):
    cognito = idp.client()
    app = App.create(cognito)

    # Unconfirmed user: the right password gives UserNotConfirmedException.
    app.sign_up("frank", PW1, "frank@example.com")
    with raises_cognito("UserNotConfirmedException"):
        app.password_auth("frank", PW1)

    # Wrong password.
    app.sign_up("grace", PW1, "grace@example.com")
    cognito.admin_confirm_sign_up(UserPoolId=app.pool_id, Username="grace")
    with raises_cognito("NotAuthorizedException", "Incorrect username or password."):
        app.password_auth("grace", "Wr0ng-Password")
    with raises_cognito("NotAuthorizedException", "Incorrect username or password."):
        app.admin_password_auth("grace", "Wr0ng-Password")

    # Unknown user: UserNotFoundException, or NotAuthorizedException when the
    # client prevents user existence errors.
    with pytest.raises(Exception) as ei:
        app.password_auth("nobody-here", PW1)
    assert getattr(ei.value, "response", {}).get("Error", {}).get("Code") in (
        "UserNotFoundException",
        "NotAuthorizedException",
    ), ei.value

    # Disabled user, then enabled again.
    app.sign_in("grace", PW1)
    cognito.admin_disable_user(UserPoolId=app.pool_id, Username="grace")
    assert cognito.admin_get_user(UserPoolId=app.pool_id, Username="grace")["Enabled"] is False
    with raises_cognito("NotAuthorizedException", "User is disabled."):
        app.password_auth("grace", PW1)
    cognito.admin_enable_user(UserPoolId=app.pool_id, Username="grace")
    assert cognito.admin_get_user(UserPoolId=app.pool_id, Username="grace")["Enabled"] is True
    app.sign_in("grace", PW1)


def test_secret_hash_required_and_checked(idp):
    cognito = idp.client()
    app = App.create(cognito, secret=True)
    cognito.admin_create_user(UserPoolId=app.pool_id, Username="heidi", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=app.pool_id, Username="heidi", Password=PW1, Permanent=True)

    with raises_cognito("NotAuthorizedException"):
        cognito.initiate_auth(
            ClientId=app.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "heidi", "PASSWORD": PW1},
        )
    with raises_cognito("NotAuthorizedException"):
        cognito.initiate_auth(
            ClientId=app.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={
                "USERNAME": "heidi",
                "PASSWORD": PW1,
                "SECRET_HASH": secret_hash("heidi", app.client_id, "not-the-secret"),
            },
        )
    with raises_cognito("NotAuthorizedException"):
        cognito.sign_up(ClientId=app.client_id, Username="ivan", Password=PW1)
    app.sign_in("heidi", PW1)


# --------------------------------------------------------------------- admin operations


def test_admin_user_management(idp):
    cognito = idp.client()
    app = App.create(cognito)
    pool = app.pool_id

    for name, email in [("judy", "judy@example.com"), ("judith", "judith@example.org"), ("ken", "ken@example.com")]:
        app.sign_up(name, PW1, email)
        cognito.admin_confirm_sign_up(UserPoolId=pool, Username=name)
        assert cognito.admin_get_user(UserPoolId=pool, Username=name)["UserStatus"] == "CONFIRMED"
        # AdminConfirmSignUp does not verify the email; reset codes need a verified one.
        cognito.admin_update_user_attributes(
            UserPoolId=pool, Username=name, UserAttributes=[{"Name": "email_verified", "Value": "true"}]
        )

    # ListUsers with filters
    everyone = cognito.list_users(UserPoolId=pool)["Users"]
    assert sorted(u["Username"] for u in everyone) == ["judith", "judy", "ken"]
    exact = cognito.list_users(UserPoolId=pool, Filter='email = "judy@example.com"')["Users"]
    assert [u["Username"] for u in exact] == ["judy"], exact
    assert attrs_dict(exact[0]["Attributes"])["email"] == "judy@example.com"
    prefix = cognito.list_users(UserPoolId=pool, Filter='email ^= "jud"')["Users"]
    assert sorted(u["Username"] for u in prefix) == ["judith", "judy"], prefix
    none = cognito.list_users(UserPoolId=pool, Filter='email = "nobody@example.com"')["Users"]
    assert none == []

    # AdminUpdateUserAttributes / AdminDeleteUserAttributes
    cognito.admin_update_user_attributes(
        UserPoolId=pool,
        Username="judy",
        UserAttributes=[{"Name": "given_name", "Value": "Judy"}, {"Name": "family_name", "Value": "Hopps"}],
    )
    got = attrs_dict(cognito.admin_get_user(UserPoolId=pool, Username="judy")["UserAttributes"])
    assert got["given_name"] == "Judy" and got["family_name"] == "Hopps", got
    cognito.admin_delete_user_attributes(UserPoolId=pool, Username="judy", UserAttributeNames=["given_name"])
    got = attrs_dict(cognito.admin_get_user(UserPoolId=pool, Username="judy")["UserAttributes"])
    assert "given_name" not in got and got["family_name"] == "Hopps", got

    # AdminSetUserPassword (permanent)
    cognito.admin_set_user_password(UserPoolId=pool, Username="judy", Password=PW2, Permanent=True)
    with raises_cognito("NotAuthorizedException"):
        app.password_auth("judy", PW1)
    tokens = app.sign_in("judy", PW2)

    # AdminSetUserPassword (temporary) forces a new password
    cognito.admin_set_user_password(UserPoolId=pool, Username="ken", Password="Temp0rary-Pass", Permanent=False)
    assert cognito.admin_get_user(UserPoolId=pool, Username="ken")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert app.password_auth("ken", "Temp0rary-Pass").get("ChallengeName") == "NEW_PASSWORD_REQUIRED"

    # AdminUserGlobalSignOut revokes judy's tokens
    cognito.admin_user_global_sign_out(UserPoolId=pool, Username="judy")
    with raises_cognito("NotAuthorizedException"):
        cognito.get_user(AccessToken=tokens["AccessToken"])
    with raises_cognito("NotAuthorizedException"):
        app.refresh("judy", tokens["RefreshToken"])

    # AdminResetUserPassword needs a user with a password of their own, and enabled
    with raises_cognito("NotAuthorizedException", "User password cannot be reset in the current state."):
        cognito.admin_reset_user_password(UserPoolId=pool, Username="ken")
    cognito.admin_disable_user(UserPoolId=pool, Username="judith")
    with raises_cognito("NotAuthorizedException", "User is disabled"):
        cognito.admin_reset_user_password(UserPoolId=pool, Username="judith")
    cognito.admin_enable_user(UserPoolId=pool, Username="judith")

    # AdminResetUserPassword -> PasswordResetRequiredException -> code -> new password
    before = idp.outbox_count(pool, "judith")
    cognito.admin_reset_user_password(UserPoolId=pool, Username="judith")
    assert cognito.admin_get_user(UserPoolId=pool, Username="judith")["UserStatus"] == "RESET_REQUIRED"
    with raises_cognito("PasswordResetRequiredException"):
        app.password_auth("judith", PW1)
    code = idp.latest_code(pool, "judith", after=before)
    app.confirm_forgot_password("judith", code, PW3)
    assert cognito.admin_get_user(UserPoolId=pool, Username="judith")["UserStatus"] == "CONFIRMED"
    app.sign_in("judith", PW3)

    # AdminDeleteUser
    cognito.admin_delete_user(UserPoolId=pool, Username="ken")
    with raises_cognito("UserNotFoundException"):
        cognito.admin_get_user(UserPoolId=pool, Username="ken")
    assert sorted(u["Username"] for u in cognito.list_users(UserPoolId=pool)["Users"]) == ["judith", "judy"]


def test_revoke_token_and_delete_user(idp):
    cognito = idp.client()
    for with_secret in (False, True):
        app = App.create(cognito, secret=with_secret)
        cognito.admin_create_user(UserPoolId=app.pool_id, Username="leo", MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=app.pool_id, Username="leo", Password=PW1, Permanent=True)

        first = app.sign_in("leo", PW1)
        second = app.sign_in("leo", PW1)
        revoke = {"Token": first["RefreshToken"], "ClientId": app.client_id}
        if app.client_secret:
            revoke["ClientSecret"] = app.client_secret
        cognito.revoke_token(**revoke)
        with raises_cognito("NotAuthorizedException"):
            app.refresh("leo", first["RefreshToken"])
        # Revocation is per refresh token: the other session still refreshes.
        assert app.refresh("leo", second["RefreshToken"])["AuthenticationResult"]["AccessToken"]

        cognito.delete_user(AccessToken=second["AccessToken"])
        with raises_cognito("UserNotFoundException"):
            cognito.admin_get_user(UserPoolId=app.pool_id, Username="leo")
        with pytest.raises(Exception) as ei:
            cognito.get_user(AccessToken=second["AccessToken"])
        assert getattr(ei.value, "response", {}).get("Error", {}).get("Code") in (
            "NotAuthorizedException", "UserNotFoundException"), ei.value


# --------------------------------------------------------------------- pools and clients


def test_pool_and_client_management(idp):
    cognito = idp.client()
    name = unique("mgmt-pool")
    pool_id = create_pool(cognito, name=name)

    pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert pool["Id"] == pool_id and pool["Name"] == name, pool
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 8, pool
    assert pool.get("AutoVerifiedAttributes") == ["email"], pool

    cognito.update_user_pool(
        UserPoolId=pool_id,
        Policies={"PasswordPolicy": {"MinimumLength": 12, "RequireUppercase": False,
                                     "RequireLowercase": True, "RequireNumbers": False,
                                     "RequireSymbols": False}},
        AutoVerifiedAttributes=["email"],
    )
    pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 12, pool

    other_id = create_pool(cognito)
    listed = cognito.list_user_pools(MaxResults=60)["UserPools"]
    assert {p["Id"] for p in listed} >= {pool_id, other_id}, listed
    assert next(p for p in listed if p["Id"] == pool_id)["Name"] == name

    public_id, _ = create_client(cognito, pool_id, secret=False, ClientName="public")
    secret_id, secret = create_client(cognito, pool_id, secret=True, ClientName="confidential")
    assert public_id != secret_id
    assert len(public_id) == 26 and public_id.isalnum() and public_id == public_id.lower(), public_id

    described = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=secret_id)["UserPoolClient"]
    assert described["ClientName"] == "confidential" and described["ClientSecret"] == secret, described
    assert set(described["ExplicitAuthFlows"]) >= {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}

    cognito.update_user_pool_client(
        UserPoolId=pool_id, ClientId=public_id, ClientName="renamed",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )
    clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    assert {c["ClientId"]: c["ClientName"] for c in clients} == {public_id: "renamed", secret_id: "confidential"}
    # Clients made by CreateUserPoolClient are REGULAR; none came from dynamic registration.
    assert described["ClientType"] == "REGULAR"
    assert len(cognito.list_user_pool_clients(UserPoolId=pool_id, ClientType="REGULAR")["UserPoolClients"]) == 2
    assert cognito.list_user_pool_clients(UserPoolId=pool_id, ClientType="DCR")["UserPoolClients"] == []

    # A flow the client does not allow any more.
    cognito.admin_create_user(UserPoolId=pool_id, Username="mallory", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool_id, Username="mallory", Password="longpassword-ok", Permanent=True)
    with pytest.raises(Exception) as ei:
        cognito.admin_initiate_auth(
            UserPoolId=pool_id, ClientId=public_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "mallory", "PASSWORD": "longpassword-ok"},
        )
    assert getattr(ei.value, "response", {}).get("Error", {}).get("Code") in (
        "InvalidParameterException", "NotAuthorizedException"), ei.value

    cognito.delete_user_pool_client(UserPoolId=pool_id, ClientId=public_id)
    with raises_cognito("ResourceNotFoundException"):
        cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=public_id)
    clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    assert [c["ClientId"] for c in clients] == [secret_id]

    cognito.delete_user_pool(UserPoolId=other_id)
    with raises_cognito("ResourceNotFoundException"):
        cognito.describe_user_pool(UserPoolId=other_id)
    assert other_id not in {p["Id"] for p in cognito.list_user_pools(MaxResults=60)["UserPools"]}


def test_token_claims_and_jwks(idp):
    cognito = idp.client()
    app = App.create(cognito)
    cognito.admin_create_user(
        UserPoolId=app.pool_id, Username="nina", MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": "nina@example.com"}, {"Name": "email_verified", "Value": "true"}],
    )
    cognito.admin_set_user_password(UserPoolId=app.pool_id, Username="nina", Password=PW1, Permanent=True)
    result = app.sign_in("nina", PW1)

    claims = check_tokens(idp, app, result, "nina", email="nina@example.com")
    idc, acc = claims["id"], claims["access"]
    assert idc["iss"] == f"{idp.endpoint}/{app.pool_id}"
    assert idc["email_verified"] in (True, "true"), idc
    for c in (idc, acc):
        for key in ("sub", "iss", "token_use", "auth_time", "exp", "iat", "jti", "origin_jti", "event_id"):
            assert key in c, f"{key} missing from {c}"
        assert c["exp"] > c["iat"]
    assert acc["scope"] == "aws.cognito.signin.user.admin", acc
    assert jwt_header(result["IdToken"])["kid"] in {
        k.key_id for k in pyjwt.PyJWKClient(f"{idp.endpoint}/{app.pool_id}/.well-known/jwks.json").get_jwk_set().keys
    }

    # A token whose payload was changed does not verify.
    h, p, s = result["AccessToken"].split(".")
    forged_claims = dict(acc, username="mallory")
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    forged = f"{h}.{forged_payload}.{s}"
    with pytest.raises(pyjwt.InvalidSignatureError):
        key = pyjwt.PyJWKClient(f"{idp.endpoint}/{app.pool_id}/.well-known/jwks.json").get_signing_key_from_jwt(forged)
        pyjwt.decode(forged, key.key, algorithms=["RS256"], options={"verify_aud": False})
    with pytest.raises(Exception) as ei:
        cognito.get_user(AccessToken=forged)
    assert getattr(ei.value, "response", {}).get("Error", {}).get("Code") == "NotAuthorizedException", ei.value

    # Tokens of one pool are not accepted as another pool's (different keys).
    other = App.create(cognito)
    assert jwt_claims(result["IdToken"])["iss"] != f"{idp.endpoint}/{other.pool_id}"


def test_sign_in_attributes_stay_unique(idp):
    """In a pool where users sign in with their email or phone, the value names one user:
    taking another user's is refused, at creation and on update, verified or not."""
    cognito = idp.client()
    pool = create_pool(cognito, UsernameAttributes=["email", "phone_number"])
    for n in (1, 2):
        cognito.admin_create_user(
            UserPoolId=pool,
            Username=f"user{n}@example.com",
            UserAttributes=[{"Name": "phone_number", "Value": f"+1555000000{n}"}],
            MessageAction="SUPPRESS",
        )
    with raises_cognito("UsernameExistsException", "An account with the given email already exists."):
        cognito.admin_create_user(UserPoolId=pool, Username="user1@example.com", MessageAction="SUPPRESS")
    with raises_cognito("AliasExistsException", "An account with the given email already exists."):
        cognito.admin_update_user_attributes(
            UserPoolId=pool, Username="user1@example.com", UserAttributes=[{"Name": "email", "Value": "user2@example.com"}]
        )
    with raises_cognito("AliasExistsException", "An account with the given phone_number already exists."):
        cognito.admin_update_user_attributes(
            UserPoolId=pool, Username="user1@example.com", UserAttributes=[{"Name": "phone_number", "Value": "+15550000002"}]
        )
    # Re-writing one's own value, or a free one, is fine.
    cognito.admin_update_user_attributes(
        UserPoolId=pool,
        Username="user1@example.com",
        UserAttributes=[
            {"Name": "phone_number", "Value": "+15550000001"},
            {"Name": "email", "Value": "user1-new@example.com"},
        ],
    )
    attrs = attrs_dict(cognito.admin_get_user(UserPoolId=pool, Username="user1-new@example.com")["UserAttributes"])
    assert attrs["email"] == "user1-new@example.com"

    # Without UsernameAttributes, two users may share an email.
    plain = create_pool(cognito)
    for name in ("a", "b"):
        cognito.admin_create_user(
            UserPoolId=plain, Username=name, UserAttributes=[{"Name": "email", "Value": "shared@example.com"}], MessageAction="SUPPRESS"
        )
    with raises_cognito("InvalidParameterException", "Invalid user attributes: user.custom:nope: Attribute does not exist in the schema."):
        cognito.admin_delete_user_attributes(UserPoolId=plain, Username="a", UserAttributeNames=["custom:nope"])


def test_a_verified_alias_signs_in_one_user_force_alias_creation_moves_it(idp):
    cognito = idp.client()
    app = App.create(cognito, pool_overrides={"AliasAttributes": ["email"], "AutoVerifiedAttributes": ["email"]})
    email = f"{unique('shared')}@example.com"

    def admin_create(username, force=None):
        extra = {} if force is None else {"ForceAliasCreation": force}
        return cognito.admin_create_user(
            UserPoolId=app.pool_id, Username=username, MessageAction="SUPPRESS", TemporaryPassword=PW1,
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}], **extra,
        )

    admin_create("first")
    with raises_cognito("AliasExistsException", "An account with the given email already exists."):
        admin_create("second")
    with raises_cognito("UserNotFoundException"):
        cognito.admin_get_user(UserPoolId=app.pool_id, Username="second")
    admin_create("second", force=True)
    first = attrs_dict(cognito.admin_get_user(UserPoolId=app.pool_id, Username="first")["UserAttributes"])
    assert first["email_verified"] == "false"
    cognito.admin_set_user_password(UserPoolId=app.pool_id, Username="second", Password=PW2, Permanent=True)
    assert jwt_claims(app.sign_in(email, PW2)["IdToken"])["cognito:username"] == "second"

    # ConfirmSignUp verifies the email (AutoVerifiedAttributes) and so claims the alias.
    app.sign_up("third", PW1, email=email)
    code = idp.latest_code(app.pool_id, "third")
    with raises_cognito("AliasExistsException"):
        app.confirm_sign_up("third", code)
    assert cognito.admin_get_user(UserPoolId=app.pool_id, Username="third")["UserStatus"] == "UNCONFIRMED"
    cognito.confirm_sign_up(ClientId=app.client_id, Username="third", ConfirmationCode=code, ForceAliasCreation=True)
    assert jwt_claims(app.sign_in(email, PW1)["IdToken"])["cognito:username"] == "third"
