"""cognito-identity through boto3: identity pools and identities (GetId with guests and
with user-pool ID tokens), on SQLite and PostgreSQL."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

from idpool_testlib import REGION, App, raises_cognito, unique

PASSWORD = "Passw0rd-Ident1"


def identity_client(server):
    return boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
    ).client(
        "cognito-identity",
        endpoint_url=server.endpoint,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def test_identity_pool_lifecycle(idp):
    ci = identity_client(idp)
    created = ci.create_identity_pool(
        IdentityPoolName="Test Pool",
        AllowUnauthenticatedIdentities=False,
        SupportedLoginProviders={"graph.facebook.com": "123456789012345"},
        DeveloperProviderName="login.example",
        CognitoIdentityProviders=[
            {"ProviderName": "cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc", "ClientId": "client1",
             "ServerSideTokenCheck": True}
        ],
        IdentityPoolTags={"team": "id"},
    )
    pool_id = created["IdentityPoolId"]
    assert pool_id.startswith(f"{REGION}:")
    described = ci.describe_identity_pool(IdentityPoolId=pool_id)
    for key in ("IdentityPoolName", "AllowUnauthenticatedIdentities", "SupportedLoginProviders",
                "DeveloperProviderName", "CognitoIdentityProviders", "IdentityPoolTags"):
        assert described[key] == created[key], key

    updated = ci.update_identity_pool(
        IdentityPoolId=pool_id,
        IdentityPoolName="Renamed",
        AllowUnauthenticatedIdentities=True,
        DeveloperProviderName="login.example",
        SupportedLoginProviders={},
    )
    assert updated["IdentityPoolName"] == "Renamed"
    assert updated["SupportedLoginProviders"] == {}
    assert "CognitoIdentityProviders" not in updated, "an update replaces every setting"
    assert updated["IdentityPoolTags"] == {"team": "id"}
    assert ci.describe_identity_pool(IdentityPoolId=pool_id)["IdentityPoolName"] == "Renamed"
    with raises_cognito("InvalidParameterException", "DeveloperProviderName"):
        ci.update_identity_pool(IdentityPoolId=pool_id, IdentityPoolName="Renamed",
                                AllowUnauthenticatedIdentities=True, DeveloperProviderName="other.example")

    others = [ci.create_identity_pool(IdentityPoolName=f"p{i}", AllowUnauthenticatedIdentities=True)["IdentityPoolId"]
              for i in range(3)]
    seen, token = [], None
    while True:
        page = ci.list_identity_pools(MaxResults=2, **({"NextToken": token} if token else {}))
        assert len(page["IdentityPools"]) <= 2
        seen += [p["IdentityPoolId"] for p in page["IdentityPools"]]
        token = page.get("NextToken")
        if not token:
            break
    assert set(seen) >= {pool_id, *others} and len(seen) == len(set(seen))

    ci.delete_identity_pool(IdentityPoolId=pool_id)
    with raises_cognito("ResourceNotFoundException"):
        ci.describe_identity_pool(IdentityPoolId=pool_id)
    with raises_cognito("ResourceNotFoundException"):
        ci.delete_identity_pool(IdentityPoolId=pool_id)


def test_identity_pool_validation(idp):
    ci = identity_client(idp)
    with raises_cognito(
        "ValidationException",
        "1 validation error detected: Value 'pool#name' at 'identityPoolName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w\\s+=,.@-]+",
    ):
        ci.create_identity_pool(IdentityPoolName="pool#name", AllowUnauthenticatedIdentities=False)
    with raises_cognito("ValidationException", "at 'identityPoolId'"):
        ci.describe_identity_pool(IdentityPoolId="not-an-id")
    with raises_cognito("ResourceNotFoundException"):
        ci.describe_identity_pool(IdentityPoolId=f"{REGION}:00000000-0000-0000-0000-000000000000")


def test_get_id_for_guests_and_user_pool_users(idp):
    ci = identity_client(idp)
    app = App.create(idp.client())
    provider = f"cognito-idp.{REGION}.amazonaws.com/{app.pool_id}"
    pool_id = ci.create_identity_pool(
        IdentityPoolName=unique("ids"),
        AllowUnauthenticatedIdentities=True,
        CognitoIdentityProviders=[{"ProviderName": provider, "ClientId": app.client_id}],
    )["IdentityPoolId"]

    guest_a = ci.get_id(IdentityPoolId=pool_id)["IdentityId"]
    guest_b = ci.get_id(IdentityPoolId=pool_id)["IdentityId"]
    assert guest_a != guest_b and guest_a.startswith(f"{REGION}:")

    def id_token(username):
        idp.client().admin_create_user(UserPoolId=app.pool_id, Username=username, MessageAction="SUPPRESS")
        idp.client().admin_set_user_password(UserPoolId=app.pool_id, Username=username, Password=PASSWORD,
                                             Permanent=True)
        return app.sign_in(username, PASSWORD)["IdToken"]

    alice = id_token(unique("alice"))
    first = ci.get_id(IdentityPoolId=pool_id, Logins={provider: alice})["IdentityId"]
    assert ci.get_id(IdentityPoolId=pool_id, Logins={provider: alice})["IdentityId"] == first
    bob = ci.get_id(IdentityPoolId=pool_id, Logins={provider: id_token(unique("bob"))})["IdentityId"]
    assert bob != first

    described = ci.describe_identity(IdentityId=first)
    assert described["Logins"] == [provider]
    listed = ci.list_identities(IdentityPoolId=pool_id, MaxResults=60)["Identities"]
    assert {i["IdentityId"] for i in listed} == {guest_a, guest_b, first, bob}

    with raises_cognito("NotAuthorizedException", "Invalid login token"):
        ci.get_id(IdentityPoolId=pool_id, Logins={provider: alice[:-4] + "AAAA"})
    other = App.create(idp.client(), client_overrides={})
    assert other.client_id
    with raises_cognito("InvalidParameterException", "not a provider of this identity pool"):
        ci.get_id(IdentityPoolId=pool_id,
                  Logins={f"cognito-idp.{REGION}.amazonaws.com/{other.pool_id}": alice})

    ci.delete_identities(IdentityIdsToDelete=[first])
    with raises_cognito("ResourceNotFoundException"):
        ci.describe_identity(IdentityId=first)
    # Deleted, the same login starts a new identity.
    assert ci.get_id(IdentityPoolId=pool_id, Logins={provider: alice})["IdentityId"] != first

    closed = ci.create_identity_pool(IdentityPoolName=unique("closed"), AllowUnauthenticatedIdentities=False)
    with raises_cognito("NotAuthorizedException", "Unauthenticated access is not supported"):
        ci.get_id(IdentityPoolId=closed["IdentityPoolId"])
