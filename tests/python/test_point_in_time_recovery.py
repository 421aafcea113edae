"""Point-in-time recovery with boto3, on every backend: a pool's users, group
memberships, MFA settings and groups go back to a past instant; passwords changed since
are kept, and so are sign-outs; writes pause from the preview to the end of the
restore while sign-in and reads go on; the lifecycle, quotas and refusals.

The servers run with `--recovery-min-age-seconds 1` so a restore point a second old
is allowed (Cognito's, and idpool's default, is 15 minutes)."""

from __future__ import annotations

import html
import re
import time
import urllib.parse

import pytest

from idpool_testlib import App, raises_cognito, server_on_backend, unique

PASSWORD = "Passw0rd-Recovery1"
NEW_PASSWORD = "Passw0rd-Recovery2"
MIN_AGE = 1.0
SMS_ROLE = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, start_idpool):
    with server_on_backend(
        start_idpool, request.param, "recovery", extra_args=["--recovery-min-age-seconds", "1"]
    ) as server:
        yield server


def make_user(app: App, username: str, **attrs) -> str:
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


def instant() -> float:
    """A restore point strictly between what was done before and what is done after."""
    time.sleep(0.05)
    t = time.time()
    time.sleep(0.05)
    return t


def old_enough(t: float) -> None:
    time.sleep(max(0.0, t + MIN_AGE + 0.2 - time.time()))


def wait_for(cognito, pool_id: str, restore_id: str, status: str) -> dict:
    deadline = time.time() + 20
    while True:
        r = cognito.describe_point_in_time_recovery(UserPoolId=pool_id, RestoreId=restore_id)["Restoration"]
        if r["RestoreStatus"] == status or time.time() > deadline:
            assert r["RestoreStatus"] == status, r
            return r
        time.sleep(0.1)


def preview(restoration: dict) -> dict:
    return {
        p["Entity"]: (p["CreateCount"], p["UpdateCount"], p["DeleteCount"])
        for p in restoration["RestorePreview"]
    }


def groups_of(app: App, username: str) -> list[str]:
    return sorted(
        g["GroupName"]
        for g in app.cognito.admin_list_groups_for_user(UserPoolId=app.pool_id, Username=username)["Groups"]
    )


def test_recovery_restores_user_data_and_keeps_passwords_and_sign_outs(server):
    cognito = server.client()
    app = App.create(cognito, pool_overrides={"SmsConfiguration": SMS_ROLE})
    cognito.set_user_pool_mfa_config(
        UserPoolId=app.pool_id,
        SmsMfaConfiguration={"SmsAuthenticationMessage": "Code: {####}", "SmsConfiguration": SMS_ROLE},
        MfaConfiguration="OPTIONAL",
    )
    alice = make_user(app, unique("alice"), given_name="Alice")
    bob = make_user(app, unique("bob"), phone_number="+15555550100", phone_number_verified="true")
    cognito.admin_set_user_mfa_preference(
        UserPoolId=app.pool_id, Username=bob, SMSMfaSettings={"Enabled": True}
    )
    cognito.create_group(UserPoolId=app.pool_id, GroupName="staff", Precedence=1)
    cognito.admin_add_user_to_group(UserPoolId=app.pool_id, Username=alice, GroupName="staff")
    old_token = app.admin_password_auth(alice, PASSWORD)["AuthenticationResult"]["AccessToken"]

    t = instant()
    # The damage: bob deleted, alice edited, her group deleted, another group and a
    # user made. Alice also changes her password and is signed out everywhere.
    cognito.admin_delete_user(UserPoolId=app.pool_id, Username=bob)
    cognito.admin_update_user_attributes(
        UserPoolId=app.pool_id, Username=alice, UserAttributes=[{"Name": "given_name", "Value": "Mallory"}]
    )
    cognito.delete_group(UserPoolId=app.pool_id, GroupName="staff")
    cognito.create_group(UserPoolId=app.pool_id, GroupName="intruders")
    carol = make_user(app, unique("carol"))
    cognito.admin_set_user_password(UserPoolId=app.pool_id, Username=alice, Password=NEW_PASSWORD, Permanent=True)
    cognito.admin_user_global_sign_out(UserPoolId=app.pool_id, Username=alice)
    old_enough(t)

    started = cognito.initiate_point_in_time_recovery(UserPoolId=app.pool_id, RestoreTimestamp=t)["Restoration"]
    restore_id = started["RestoreId"]
    assert started["RestoreStatus"] == "PREVIEW_GENERATED"
    assert abs(started["RestoreTimestamp"].timestamp() - t) < 0.01
    assert started["TriggerTimestamp"].timestamp() > t + MIN_AGE
    assert preview(started) == {
        # bob back, carol gone, alice's name and membership back
        "Users": (1, 1, 1),
        "Groups": (1, 0, 1),
        # bob's SMS MFA
        "User MFAs": (1, 0, 0),
        "Passkeys": (0, 0, 0),
    }
    assert cognito.describe_point_in_time_recovery(UserPoolId=app.pool_id, RestoreId=restore_id)[
        "Restoration"
    ] == started
    listed = cognito.list_point_in_time_recoveries(UserPoolId=app.pool_id)["Restorations"]
    assert [(r["RestoreId"], r["RestoreStatus"]) for r in listed] == [(restore_id, "PREVIEW_GENERATED")]

    # Paused: writes of user data, from the admin API and from users themselves.
    with raises_cognito("OperationNotEnabledException", "paused"):
        cognito.admin_create_user(UserPoolId=app.pool_id, Username=unique("dave"), MessageAction="SUPPRESS")
    with raises_cognito("OperationNotEnabledException"):
        app.sign_up(unique("eve"), PASSWORD, f"{unique('e')}@example.com")
    with raises_cognito("OperationNotEnabledException"):
        cognito.create_group(UserPoolId=app.pool_id, GroupName="more")
    # Sign-in and reads go on.
    token = app.admin_password_auth(alice, NEW_PASSWORD)["AuthenticationResult"]["AccessToken"]
    assert cognito.get_user(AccessToken=token)["Username"] == alice
    assert len(cognito.list_users(UserPoolId=app.pool_id)["Users"]) == 2
    with raises_cognito("OperationNotEnabledException"):
        cognito.update_user_attributes(AccessToken=token, UserAttributes=[{"Name": "given_name", "Value": "X"}])
    # A forged token learns nothing about the pool.
    with raises_cognito("NotAuthorizedException"):
        cognito.update_user_attributes(AccessToken=token[:-4] + "AAAA", UserAttributes=[])
    with raises_cognito("LimitExceededException", "active"):
        cognito.initiate_point_in_time_recovery(UserPoolId=app.pool_id, RestoreTimestamp=t)

    begun = cognito.start_point_in_time_recovery(UserPoolId=app.pool_id, RestoreId=restore_id)["Restoration"]
    assert begun["RestoreStatus"] in ("RESTORING", "RESTORE_COMPLETED")
    done = wait_for(cognito, app.pool_id, restore_id, "RESTORE_COMPLETED")
    assert "RestorePreview" not in done

    # Restored: bob with his phone and MFA, alice's name and group, the groups.
    users = {u["Username"] for u in cognito.list_users(UserPoolId=app.pool_id)["Users"]}
    assert users == {alice, bob}, users
    got_bob = cognito.admin_get_user(UserPoolId=app.pool_id, Username=bob)
    assert got_bob["UserMFASettingList"] == ["SMS_MFA"]
    assert {a["Name"]: a["Value"] for a in got_bob["UserAttributes"]}["phone_number"] == "+15555550100"
    got_alice = cognito.admin_get_user(UserPoolId=app.pool_id, Username=alice)
    assert {a["Name"]: a["Value"] for a in got_alice["UserAttributes"]}["given_name"] == "Alice"
    assert groups_of(app, alice) == ["staff"]
    assert cognito.get_group(UserPoolId=app.pool_id, GroupName="staff")["Group"]["Precedence"] == 1
    with raises_cognito("ResourceNotFoundException"):
        cognito.get_group(UserPoolId=app.pool_id, GroupName="intruders")
    with raises_cognito("UserNotFoundException"):
        cognito.admin_get_user(UserPoolId=app.pool_id, Username=carol)
    # What must not go back: alice's new password, and her sign-out of the old token.
    app.admin_password_auth(alice, NEW_PASSWORD)
    with raises_cognito("NotAuthorizedException"):
        app.admin_password_auth(alice, PASSWORD)
    with raises_cognito("NotAuthorizedException"):
        cognito.get_user(AccessToken=old_token)
    # bob signs in with the password he had, and is asked for his SMS code again.
    assert app.admin_password_auth(bob, PASSWORD)["ChallengeName"] == "SMS_MFA"

    # Writes resume; one completed recovery a day.
    cognito.admin_create_user(UserPoolId=app.pool_id, Username=unique("dave"), MessageAction="SUPPRESS")
    with raises_cognito("LimitExceededException", "24-hour"):
        cognito.initiate_point_in_time_recovery(UserPoolId=app.pool_id, RestoreTimestamp=t)
    with raises_cognito("InvalidParameterException", "RESTORE_COMPLETED"):
        cognito.start_point_in_time_recovery(UserPoolId=app.pool_id, RestoreId=restore_id)


def test_cancel_quotas_and_refusals(server):
    cognito = server.client()
    app = App.create(cognito)
    alice = make_user(app, unique("alice"))
    t = instant()
    cognito.admin_update_user_attributes(
        UserPoolId=app.pool_id, Username=alice, UserAttributes=[{"Name": "given_name", "Value": "Later"}]
    )

    with raises_cognito("InvalidParameterException", "at least 1 second in the past"):
        cognito.initiate_point_in_time_recovery(UserPoolId=app.pool_id, RestoreTimestamp=time.time())
    with raises_cognito("InvalidParameterException", "creation time"):
        cognito.initiate_point_in_time_recovery(UserPoolId=app.pool_id, RestoreTimestamp=t - 3600)
    old_enough(t)

    ids = []
    for _ in range(3):
        r = cognito.initiate_point_in_time_recovery(UserPoolId=app.pool_id, RestoreTimestamp=t)["Restoration"]
        assert preview(r)["Users"] == (0, 1, 0)
        with raises_cognito("OperationNotEnabledException"):
            cognito.admin_delete_user(UserPoolId=app.pool_id, Username=alice)
        cancelled = cognito.cancel_point_in_time_recovery(UserPoolId=app.pool_id, RestoreId=r["RestoreId"])
        assert cancelled["Restoration"]["RestoreStatus"] == "PREVIEW_CANCELLED"
        ids.append(r["RestoreId"])
    # Cancelling resumed writes and changed nothing.
    got = cognito.admin_get_user(UserPoolId=app.pool_id, Username=alice)
    assert {a["Name"]: a["Value"] for a in got["UserAttributes"]}["given_name"] == "Later"
    cognito.admin_update_user_attributes(
        UserPoolId=app.pool_id, Username=alice, UserAttributes=[{"Name": "family_name", "Value": "Writes"}]
    )
    with raises_cognito("InvalidParameterException", "PREVIEW_CANCELLED"):
        cognito.cancel_point_in_time_recovery(UserPoolId=app.pool_id, RestoreId=ids[0])
    with raises_cognito("InvalidParameterException", "PREVIEW_CANCELLED"):
        cognito.start_point_in_time_recovery(UserPoolId=app.pool_id, RestoreId=ids[0])
    with raises_cognito("LimitExceededException", "3 recovery previews"):
        cognito.initiate_point_in_time_recovery(UserPoolId=app.pool_id, RestoreTimestamp=t)

    # Newest first, paginated.
    first = cognito.list_point_in_time_recoveries(UserPoolId=app.pool_id, MaxResults=2)
    assert [r["RestoreId"] for r in first["Restorations"]] == ids[::-1][:2]
    rest = cognito.list_point_in_time_recoveries(
        UserPoolId=app.pool_id, MaxResults=2, NextToken=first["NextToken"]
    )
    assert [r["RestoreId"] for r in rest["Restorations"]] == [ids[0]]
    assert "NextToken" not in rest

    with raises_cognito("ResourceNotFoundException"):
        cognito.describe_point_in_time_recovery(
            UserPoolId=app.pool_id, RestoreId="00000000-0000-4000-8000-000000000000"
        )
    with raises_cognito("ResourceNotFoundException"):
        cognito.list_point_in_time_recoveries(UserPoolId="us-east-1_doesnotexist")


def test_feature_plans(server):
    cognito = server.client()
    lite = App.create(cognito, pool_overrides={"UserPoolTier": "LITE"})
    t = instant()
    old_enough(t)
    with raises_cognito("FeatureUnavailableInTierException", "Essentials or Plus"):
        cognito.initiate_point_in_time_recovery(UserPoolId=lite.pool_id, RestoreTimestamp=t)
    # Upgraded after the restore point: the pool was on LITE then.
    cognito.update_user_pool(UserPoolId=lite.pool_id, UserPoolTier="ESSENTIALS")
    with raises_cognito("FeatureUnavailableInTierException", "LITE"):
        cognito.initiate_point_in_time_recovery(UserPoolId=lite.pool_id, RestoreTimestamp=t)
    # A restore point after the upgrade is fine.
    t2 = instant()
    old_enough(t2)
    r = cognito.initiate_point_in_time_recovery(UserPoolId=lite.pool_id, RestoreTimestamp=t2)["Restoration"]
    assert preview(r) == {e: (0, 0, 0) for e in ("Users", "Groups", "User MFAs", "Passkeys")}
    assert "idpoolTierHistory" not in str(cognito.describe_user_pool(UserPoolId=lite.pool_id))


def test_hosted_sign_up_waits_for_the_recovery(server):
    from test_oauth import Browser, OAuthApp  # the hosted pages' own test harness

    app = OAuthApp(server)
    t = instant()
    old_enough(t)
    restore_id = app.cognito.initiate_point_in_time_recovery(UserPoolId=app.pool_id, RestoreTimestamp=t)[
        "Restoration"
    ]["RestoreId"]
    browser = Browser()
    url, _ = app.rp().create_authorization_url(app.discovery["authorization_endpoint"])
    browser.get(url)
    signup = re.search(r'href="([^"]*/signup\?req=[^"]+)"', browser.page.text)
    browser.get(urllib.parse.urljoin(browser.page.url, html.unescape(signup.group(1))))
    username = unique("hosted")
    fields = {"username": username, "password": PASSWORD, "attr:email": f"{username}@example.com"}
    browser.submit("/signup", **fields)
    assert "paused" in (browser.error() or ""), browser.page.text[:2000]
    with raises_cognito("UserNotFoundException"):
        app.cognito.admin_get_user(UserPoolId=app.pool_id, Username=username)
    app.cognito.cancel_point_in_time_recovery(UserPoolId=app.pool_id, RestoreId=restore_id)
    r = browser.submit("/signup", **fields)
    assert "Confirm your account" in r.text, r.text[:2000]


def test_account_quotas_count_every_pool(start_idpool):
    """The account is the whole server: at most 5 active recoveries and 10 previews a
    day across its pools (a server of its own, so no other test's previews count)."""
    with server_on_backend(
        start_idpool, "sqlite", "recovery-account", extra_args=["--recovery-min-age-seconds", "1"]
    ) as server:
        cognito = server.client()
        pools = [App.create(cognito).pool_id for _ in range(6)]
        t = instant()
        old_enough(t)
        started = [
            cognito.initiate_point_in_time_recovery(UserPoolId=p, RestoreTimestamp=t)["Restoration"]["RestoreId"]
            for p in pools[:5]
        ]
        with raises_cognito("LimitExceededException", "5 active"):
            cognito.initiate_point_in_time_recovery(UserPoolId=pools[5], RestoreTimestamp=t)
        # Cancelled previews still count towards the day's ten.
        for pool_id, restore_id in zip(pools, started):
            cognito.cancel_point_in_time_recovery(UserPoolId=pool_id, RestoreId=restore_id)
        for pool_id in pools[:5]:
            r = cognito.initiate_point_in_time_recovery(UserPoolId=pool_id, RestoreTimestamp=t)["Restoration"]
            cognito.cancel_point_in_time_recovery(UserPoolId=pool_id, RestoreId=r["RestoreId"])
        with raises_cognito("LimitExceededException", "10 recovery previews"):
            cognito.initiate_point_in_time_recovery(UserPoolId=pools[5], RestoreTimestamp=t)
