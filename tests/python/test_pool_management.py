"""The user-pool management API (groups, resource servers, identity providers,
domains, custom attributes, tags, ...) through boto3, on every storage backend.
"""

from __future__ import annotations

import pytest

from idpool_testlib import App, jwt_claims, raises_cognito, unique

PW = "Passw0rd-One"
ROLE_A = "arn:aws:iam::123456789012:role/admins"
ROLE_R = "arn:aws:iam::123456789012:role/readers"


def confirmed_user(app: App, username: str) -> None:
    app.cognito.admin_create_user(
        UserPoolId=app.pool_id,
        Username=username,
        UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"}],
        MessageAction="SUPPRESS",
    )
    app.cognito.admin_set_user_password(UserPoolId=app.pool_id, Username=username, Password=PW, Permanent=True)


# --------------------------------------------------------------------- groups


def test_groups_feed_token_claims(idp):
    c = idp.client()
    app = App.create(c)
    confirmed_user(app, "ann")
    c.create_group(UserPoolId=app.pool_id, GroupName="readers", RoleArn=ROLE_R, Precedence=10)
    c.create_group(UserPoolId=app.pool_id, GroupName="admins", RoleArn=ROLE_A, Precedence=1, Description="d")
    c.create_group(UserPoolId=app.pool_id, GroupName="plain")

    tokens = app.sign_in("ann", PW)
    assert "cognito:groups" not in jwt_claims(tokens["IdToken"])

    for g in ("readers", "admins", "plain"):
        c.admin_add_user_to_group(UserPoolId=app.pool_id, Username="ann", GroupName=g)
    tokens = app.sign_in("ann", PW)
    id_claims, access_claims = jwt_claims(tokens["IdToken"]), jwt_claims(tokens["AccessToken"])
    assert id_claims["cognito:groups"] == ["admins", "readers", "plain"]
    assert access_claims["cognito:groups"] == ["admins", "readers", "plain"]
    assert id_claims["cognito:roles"] == [ROLE_A, ROLE_R]
    assert id_claims["cognito:preferred_role"] == ROLE_A
    assert "cognito:roles" not in access_claims

    # A precedence change shows in the next refresh.
    c.update_group(UserPoolId=app.pool_id, GroupName="readers", Precedence=0)
    refreshed = app.refresh("ann", tokens["RefreshToken"])["AuthenticationResult"]
    assert jwt_claims(refreshed["IdToken"])["cognito:preferred_role"] == ROLE_R

    # Leaving a group or deleting it removes it from tokens.
    c.admin_remove_user_from_group(UserPoolId=app.pool_id, Username="ann", GroupName="readers")
    c.delete_group(UserPoolId=app.pool_id, GroupName="plain")
    id_claims = jwt_claims(app.sign_in("ann", PW)["IdToken"])
    assert id_claims["cognito:groups"] == ["admins"]
    assert id_claims["cognito:roles"] == [ROLE_A]


def test_group_crud_and_errors(idp):
    c = idp.client()
    app = App.create(c)
    g = c.create_group(UserPoolId=app.pool_id, GroupName="ops", Description="first", Precedence=3)["Group"]
    assert g["GroupName"] == "ops" and g["UserPoolId"] == app.pool_id and g["Precedence"] == 3
    assert "RoleArn" not in g
    with raises_cognito("GroupExistsException"):
        c.create_group(UserPoolId=app.pool_id, GroupName="ops")
    # Group names are case-sensitive.
    c.create_group(UserPoolId=app.pool_id, GroupName="Ops")

    # UpdateGroup changes what it names and keeps the rest.
    updated = c.update_group(UserPoolId=app.pool_id, GroupName="ops", RoleArn=ROLE_A)["Group"]
    assert updated["Description"] == "first" and updated["Precedence"] == 3 and updated["RoleArn"] == ROLE_A
    assert c.get_group(UserPoolId=app.pool_id, GroupName="ops")["Group"]["RoleArn"] == ROLE_A

    with raises_cognito("ResourceNotFoundException", "Group not found."):
        c.get_group(UserPoolId=app.pool_id, GroupName="nope")
    with raises_cognito("ResourceNotFoundException"):
        c.delete_group(UserPoolId=app.pool_id, GroupName="nope")
    with raises_cognito("ResourceNotFoundException"):
        c.create_group(UserPoolId="us-east-1_nopenope", GroupName="x")
    with raises_cognito("InvalidParameterException", "roleArn"):
        c.create_group(UserPoolId=app.pool_id, GroupName="bad", RoleArn="not-an-arn-at-all-really")

    confirmed_user(app, "bob")
    with raises_cognito("UserNotFoundException"):
        c.admin_add_user_to_group(UserPoolId=app.pool_id, Username="nobody", GroupName="ops")
    with raises_cognito("ResourceNotFoundException"):
        c.admin_add_user_to_group(UserPoolId=app.pool_id, Username="bob", GroupName="nope")
    # Adding twice and removing a non-member are no-ops.
    c.admin_add_user_to_group(UserPoolId=app.pool_id, Username="bob", GroupName="ops")
    c.admin_add_user_to_group(UserPoolId=app.pool_id, Username="bob", GroupName="ops")
    c.admin_remove_user_from_group(UserPoolId=app.pool_id, Username="bob", GroupName="Ops")
    users = c.list_users_in_group(UserPoolId=app.pool_id, GroupName="ops")["Users"]
    assert [u["Username"] for u in users] == ["bob"]

    # A deleted user leaves every group.
    c.admin_delete_user(UserPoolId=app.pool_id, Username="bob")
    assert c.list_users_in_group(UserPoolId=app.pool_id, GroupName="ops")["Users"] == []


def test_group_listings_paginate(idp):
    c = idp.client()
    app = App.create(c)
    names = sorted(unique("g") for _ in range(7))
    for n in names:
        c.create_group(UserPoolId=app.pool_id, GroupName=n)
    users = sorted(unique("u") for _ in range(5))
    for u in users:
        confirmed_user(app, u)
        c.admin_add_user_to_group(UserPoolId=app.pool_id, Username=u, GroupName=names[0])
    for n in names:
        c.admin_add_user_to_group(UserPoolId=app.pool_id, Username=users[0], GroupName=n)

    def collect(call, key, **kw):
        seen, token = [], None
        while True:
            page = call(**kw, Limit=3, **({"NextToken": token} if token else {}))
            assert len(page[key]) <= 3
            seen += page[key]
            token = page.get("NextToken")
            if not token:
                return seen

    groups = collect(c.list_groups, "Groups", UserPoolId=app.pool_id)
    assert [g["GroupName"] for g in groups] == names
    mine = collect(c.admin_list_groups_for_user, "Groups", UserPoolId=app.pool_id, Username=users[0])
    assert [g["GroupName"] for g in mine] == names
    members = collect(c.list_users_in_group, "Users", UserPoolId=app.pool_id, GroupName=names[0])
    assert [u["Username"] for u in members] == users

    # Paging while groups are added: nothing already listed is repeated or skipped.
    first = c.list_groups(UserPoolId=app.pool_id, Limit=3)
    c.create_group(UserPoolId=app.pool_id, GroupName="0-before-everything")
    c.create_group(UserPoolId=app.pool_id, GroupName="zzz-after-everything")
    rest: list = []
    token = first["NextToken"]
    while token:
        page = c.list_groups(UserPoolId=app.pool_id, Limit=3, NextToken=token)
        rest += page["Groups"]
        token = page.get("NextToken")
    listed = [g["GroupName"] for g in first["Groups"] + rest]
    assert listed == names + ["zzz-after-everything"]

    with raises_cognito("InvalidParameterException"):
        c.list_groups(UserPoolId=app.pool_id, NextToken="!!not-a-token!!")
