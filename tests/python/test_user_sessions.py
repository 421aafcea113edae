"""Session management with boto3: the pool's and app clients' session configuration,
ListUserSessions / RevokeUserSession and their Admin twins, and the eviction of a
user's least recently used session at the pool's MaxPerUser, on every backend."""

from __future__ import annotations

import re

import boto3
import pytest
from botocore.config import Config

from idpool_testlib import App, create_client, raises_cognito, unique

PASSWORD = "Passw0rd-Sessions1"
SESSION_ID = re.compile(r"^tkn[a-z0-9]{25}$")


def make_user(app: App) -> str:
    username = unique("s")
    app.cognito.admin_create_user(UserPoolId=app.pool_id, Username=username, MessageAction="SUPPRESS")
    app.cognito.admin_set_user_password(
        UserPoolId=app.pool_id, Username=username, Password=PASSWORD, Permanent=True
    )
    return username


def enable_tracking(app: App, max_per_user: int = 20) -> dict:
    return app.cognito.set_user_pool_session_configuration(
        UserPoolId=app.pool_id, UserSessionTracking="ENABLED", TokenSession={"MaxPerUser": max_per_user}
    )


def test_session_configuration_defaults_validation_and_tier(idp):
    cognito = idp.client()
    app = App.create(cognito)
    config = cognito.get_user_pool_session_configuration(UserPoolId=app.pool_id)
    assert (config["UserPoolId"], config["UserSessionTracking"], config["TokenSession"]) == (
        app.pool_id, "DISABLED", {"MaxPerUser": 20}
    )
    client = cognito.get_user_pool_client_session_configuration(UserPoolId=app.pool_id, ClientId=app.client_id)
    assert client["SSOSession"] == {"MaxValidityMinutes": 60}
    # The client-level setting needs tracking on.
    with raises_cognito("OperationNotEnabledException", "not enabled"):
        cognito.set_user_pool_client_session_configuration(
            UserPoolId=app.pool_id, ClientId=app.client_id, SSOSession={"MaxValidityMinutes": 5}
        )
    applied = enable_tracking(app, 7)
    assert (applied["UserSessionTracking"], applied["TokenSession"]) == ("ENABLED", {"MaxPerUser": 7})
    cognito.set_user_pool_client_session_configuration(
        UserPoolId=app.pool_id, ClientId=app.client_id, SSOSession={"MaxValidityMinutes": 5}
    )
    # UpdateUserPool and UpdateUserPoolClient replace settings, not the session configuration.
    cognito.update_user_pool(UserPoolId=app.pool_id, MfaConfiguration="OFF")
    cognito.update_user_pool_client(UserPoolId=app.pool_id, ClientId=app.client_id, ClientName="renamed")
    assert cognito.get_user_pool_session_configuration(UserPoolId=app.pool_id)["TokenSession"] == {"MaxPerUser": 7}
    assert cognito.get_user_pool_client_session_configuration(
        UserPoolId=app.pool_id, ClientId=app.client_id
    )["SSOSession"] == {"MaxValidityMinutes": 5}
    assert "idpoolSessionConfiguration" not in str(cognito.describe_user_pool(UserPoolId=app.pool_id))

    with raises_cognito("InvalidParameterException", "tokenSession.maxPerUser"):
        cognito.set_user_pool_session_configuration(
            UserPoolId=app.pool_id, UserSessionTracking="ENABLED", TokenSession={"MaxPerUser": 101}
        )
    with raises_cognito("ResourceNotFoundException"):
        cognito.get_user_pool_session_configuration(UserPoolId="us-east-1_doesnotexist")
    with raises_cognito("ResourceNotFoundException"):
        cognito.get_user_pool_client_session_configuration(UserPoolId=app.pool_id, ClientId="a" * 26)
    lite = App.create(cognito, pool_overrides={"UserPoolTier": "LITE"})
    with raises_cognito("FeatureUnavailableInTierException"):
        enable_tracking(lite)


def test_users_list_and_revoke_their_sessions(idp):
    cognito = idp.client()
    app = App.create(cognito)
    phone_client, _ = create_client(cognito, app.pool_id, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    phone = App(cognito, app.pool_id, phone_client, None)
    username = make_user(app)

    laptop = app.sign_in(username, PASSWORD)
    with raises_cognito("OperationNotEnabledException", "Session tracking is not enabled"):
        cognito.list_user_sessions(AccessToken=laptop["AccessToken"])
    with raises_cognito("OperationNotEnabledException"):
        cognito.admin_list_user_sessions(UserPoolId=app.pool_id, Username=username)

    enable_tracking(app)
    # Sessions begun before tracking was on were never recorded.
    assert cognito.list_user_sessions(AccessToken=laptop["AccessToken"])["Sessions"] == []
    web = app.sign_in(username, PASSWORD)
    iphone_ua = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
    )
    phone.cognito = boto3.client(
        "cognito-idp",
        endpoint_url=idp.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(user_agent=iphone_ua),
    )
    mobile = phone.sign_in(username, PASSWORD)

    listed = cognito.list_user_sessions(AccessToken=web["AccessToken"])["Sessions"]
    assert len(listed) == 2
    by_client = {s["ClientId"]: s for s in listed}
    mine, other = by_client[app.client_id], by_client[phone_client]
    for s in listed:
        assert SESSION_ID.match(s["SessionId"]), s
        assert s["SessionType"] == "TOKEN"
        assert s["LastIPAddress"] == "127.0.0.1"
        assert s["CreateDate"] <= s["LastActiveDate"]
        assert "OriginSessionId" not in s
    assert (mine["IsCurrentSession"], other["IsCurrentSession"]) == (True, False)
    assert mine["DeviceType"].startswith("Boto3"), mine
    assert other["DeviceType"].startswith("Safari") and "iOS" in other["DeviceType"], other
    admin_view = cognito.admin_list_user_sessions(UserPoolId=app.pool_id, Username=username)["Sessions"]
    assert sorted(s["SessionId"] for s in admin_view) == sorted(s["SessionId"] for s in listed)
    assert not any(s["IsCurrentSession"] for s in admin_view)

    with raises_cognito("InvalidParameterException", "cannot revoke itself"):
        cognito.revoke_user_session(AccessToken=web["AccessToken"], SessionId=mine["SessionId"])
    with raises_cognito("ResourceNotFoundException"):
        cognito.revoke_user_session(AccessToken=web["AccessToken"], SessionId="tkn" + "0" * 25)
    with raises_cognito("InvalidParameterException", "sessionId"):
        cognito.revoke_user_session(AccessToken=web["AccessToken"], SessionId="sso-is-not-a-session-id-1234")
    # Signing the phone out from the laptop ends its refresh and access tokens.
    cognito.revoke_user_session(AccessToken=web["AccessToken"], SessionId=other["SessionId"])
    with raises_cognito("NotAuthorizedException"):
        phone.refresh(username, mobile["RefreshToken"])
    with raises_cognito("NotAuthorizedException"):
        cognito.get_user(AccessToken=mobile["AccessToken"])
    assert cognito.get_user(AccessToken=web["AccessToken"])["Username"] == username
    assert [s["SessionId"] for s in cognito.list_user_sessions(AccessToken=web["AccessToken"])["Sessions"]] == [
        mine["SessionId"]
    ]

    # An administrator may end any session, but only as its owner's.
    other_user = make_user(app)
    with raises_cognito("ResourceNotFoundException"):
        cognito.admin_revoke_user_session(UserPoolId=app.pool_id, Username=other_user, SessionId=mine["SessionId"])
    cognito.admin_revoke_user_session(UserPoolId=app.pool_id, Username=username, SessionId=mine["SessionId"])
    with raises_cognito("NotAuthorizedException"):
        cognito.list_user_sessions(AccessToken=web["AccessToken"])
    with raises_cognito("UserNotFoundException"):
        cognito.admin_list_user_sessions(UserPoolId=app.pool_id, Username="nobody-at-all")

    # Turning tracking off and on again starts a fresh record.
    again = app.sign_in(username, PASSWORD)
    cognito.set_user_pool_session_configuration(
        UserPoolId=app.pool_id, UserSessionTracking="DISABLED", TokenSession={"MaxPerUser": 20}
    )
    enable_tracking(app)
    assert cognito.list_user_sessions(AccessToken=again["AccessToken"])["Sessions"] == []


def test_a_sign_in_past_max_per_user_evicts_the_least_recently_used_session(idp):
    cognito = idp.client()
    app = App.create(cognito)
    username = make_user(app)
    enable_tracking(app, max_per_user=2)
    first = app.sign_in(username, PASSWORD)
    second = app.sign_in(username, PASSWORD)
    third = app.sign_in(username, PASSWORD)
    sessions = cognito.admin_list_user_sessions(UserPoolId=app.pool_id, Username=username)["Sessions"]
    assert len(sessions) == 2
    with raises_cognito("NotAuthorizedException"):
        app.refresh(username, first["RefreshToken"])
    with raises_cognito("NotAuthorizedException"):
        cognito.get_user(AccessToken=first["AccessToken"])
    for kept in (second, third):
        assert app.refresh(username, kept["RefreshToken"])["AuthenticationResult"]["AccessToken"]
    # Lowering the limit evicts nothing by itself; the next sign-in brings the user back
    # within it.
    enable_tracking(app, max_per_user=1)
    assert len(cognito.admin_list_user_sessions(UserPoolId=app.pool_id, Username=username)["Sessions"]) == 2
    fourth = app.sign_in(username, PASSWORD)
    left = cognito.list_user_sessions(AccessToken=fourth["AccessToken"])["Sessions"]
    assert len(left) == 1 and left[0]["IsCurrentSession"] is True


def test_a_renewal_is_the_sessions_last_activity(idp):
    """REFRESH_TOKEN_AUTH without rotation keeps the token, but moves the session's
    LastActiveDate and reports where the renewal came from."""
    import time

    cognito = idp.client()
    app = App.create(cognito)
    username = make_user(app)
    enable_tracking(app)
    tokens = app.sign_in(username, PASSWORD)
    (before,) = cognito.list_user_sessions(AccessToken=tokens["AccessToken"])["Sessions"]
    assert before["DeviceType"].startswith("Boto3")
    time.sleep(1.1)
    tablet = boto3.client(
        "cognito-idp", endpoint_url=idp.endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"),
    )
    renewed = App(tablet, app.pool_id, app.client_id, None).refresh(username, tokens["RefreshToken"])["AuthenticationResult"]
    assert "RefreshToken" not in renewed, "no rotation on this client"
    (after,) = cognito.list_user_sessions(AccessToken=renewed["AccessToken"])["Sessions"]
    assert after["SessionId"] == before["SessionId"] and after["CreateDate"] == before["CreateDate"]
    assert after["LastActiveDate"] > before["LastActiveDate"]
    assert after["DeviceType"].startswith("Chrome"), after
    assert after["IsCurrentSession"] is True


@pytest.mark.parametrize("operation", ["admin_list_user_sessions", "admin_revoke_user_session"])
def test_admin_session_operations_need_a_known_pool(idp, operation):
    cognito = idp.client()
    kwargs = {"UserPoolId": "us-east-1_doesnotexist", "Username": "someone"}
    if operation == "admin_revoke_user_session":
        kwargs["SessionId"] = "tkn" + "a" * 25
    with raises_cognito("ResourceNotFoundException"):
        getattr(cognito, operation)(**kwargs)
