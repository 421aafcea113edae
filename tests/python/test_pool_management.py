"""The user-pool management API (groups, resource servers, identity providers,
domains, custom attributes, tags, ...) through boto3, on every storage backend.
"""

from __future__ import annotations

import base64

from idpool_testlib import App, create_client, jwt_claims, raises_cognito, unique

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


# --------------------------------------------------------------------- resource servers


def test_resource_servers(idp):
    c = idp.client()
    pool_id = App.create(c).pool_id
    scopes = [{"ScopeName": "read", "ScopeDescription": "Read"}, {"ScopeName": "write", "ScopeDescription": "Write"}]
    rs = c.create_resource_server(UserPoolId=pool_id, Identifier="https://api.example.com", Name="api", Scopes=scopes)
    assert rs["ResourceServer"] == {
        "UserPoolId": pool_id,
        "Identifier": "https://api.example.com",
        "Name": "api",
        "Scopes": scopes,
    }
    with raises_cognito("InvalidParameterException", f"https://api.example.com already exists in user pool {pool_id}."):
        c.create_resource_server(UserPoolId=pool_id, Identifier="https://api.example.com", Name="again")
    with raises_cognito("InvalidParameterException", "Duplicate scope name"):
        c.create_resource_server(UserPoolId=pool_id, Identifier="dup", Name="dup", Scopes=scopes + scopes[:1])

    # UpdateResourceServer replaces name and scopes.
    c.update_resource_server(UserPoolId=pool_id, Identifier="https://api.example.com", Name="api2", Scopes=scopes[:1])
    got = c.describe_resource_server(UserPoolId=pool_id, Identifier="https://api.example.com")["ResourceServer"]
    assert got["Name"] == "api2" and got["Scopes"] == scopes[:1]

    for i in range(4):
        c.create_resource_server(UserPoolId=pool_id, Identifier=f"svc{i}", Name=f"svc {i}")
    first = c.list_resource_servers(UserPoolId=pool_id, MaxResults=3)
    second = c.list_resource_servers(UserPoolId=pool_id, MaxResults=3, NextToken=first["NextToken"])
    ids = [r["Identifier"] for r in first["ResourceServers"] + second["ResourceServers"]]
    assert sorted(ids) == sorted(["https://api.example.com", "svc0", "svc1", "svc2", "svc3"])
    assert "NextToken" not in second

    c.delete_resource_server(UserPoolId=pool_id, Identifier="svc0")
    with raises_cognito("ResourceNotFoundException", "Resource server svc0 does not exist."):
        c.describe_resource_server(UserPoolId=pool_id, Identifier="svc0")
    with raises_cognito("ResourceNotFoundException"):
        c.delete_resource_server(UserPoolId=pool_id, Identifier="svc0")
    with raises_cognito("InvalidParameterException", "name"):
        c.create_resource_server(UserPoolId=pool_id, Identifier="x", Name="bad{name}")


# --------------------------------------------------------------------- identity providers

GOOGLE = {"client_id": "gid", "client_secret": "gsecret", "authorize_scopes": "openid email"}
OIDC = {
    "client_id": "oid",
    "client_secret": "osecret",
    "attributes_request_method": "GET",
    "oidc_issuer": "https://idp.example.com",
    "authorize_scopes": "openid",
}


def test_identity_providers(idp):
    c = idp.client()
    pool_id = App.create(c).pool_id
    google = c.create_identity_provider(
        UserPoolId=pool_id, ProviderName="Google", ProviderType="Google", ProviderDetails=GOOGLE,
        AttributeMapping={"email": "email"},
    )["IdentityProvider"]
    assert google["ProviderDetails"]["oidc_issuer"] == "https://accounts.google.com"
    assert google["AttributeMapping"] == {"email": "email", "username": "sub"}

    with raises_cognito("DuplicateProviderException"):
        c.create_identity_provider(UserPoolId=pool_id, ProviderName="Google", ProviderType="Google", ProviderDetails=GOOGLE)
    with raises_cognito("InvalidParameterException", "must be Google"):
        c.create_identity_provider(UserPoolId=pool_id, ProviderName="MyGoogle", ProviderType="Google", ProviderDetails=GOOGLE)
    with raises_cognito("InvalidParameterException", "client_secret"):
        c.create_identity_provider(
            UserPoolId=pool_id, ProviderName="Facebook", ProviderType="Facebook",
            ProviderDetails={"client_id": "x", "authorize_scopes": "email"},
        )
    with raises_cognito("InvalidParameterException", "MetadataURL or MetadataFile"):
        c.create_identity_provider(UserPoolId=pool_id, ProviderName="corp-saml", ProviderType="SAML", ProviderDetails={})

    c.create_identity_provider(
        UserPoolId=pool_id, ProviderName="corp", ProviderType="OIDC", ProviderDetails=OIDC,
        IdpIdentifiers=["example.com"],
    )
    with raises_cognito("DuplicateProviderException", "example.com"):
        c.create_identity_provider(
            UserPoolId=pool_id, ProviderName="corp2", ProviderType="OIDC", ProviderDetails=OIDC,
            IdpIdentifiers=["example.com"],
        )
    found = c.get_identity_provider_by_identifier(UserPoolId=pool_id, IdpIdentifier="example.com")
    assert found["IdentityProvider"]["ProviderName"] == "corp"
    # ACR levels map to the OIDC provider's own values; other kinds take none.
    acr = c.update_identity_provider(
        UserPoolId=pool_id, ProviderName="corp", AcrMapping={"Level1": "urn:corp:pwd", "Level3": "urn:corp:mfa"}
    )["IdentityProvider"]["AcrMapping"]
    assert acr == {"Level1": "urn:corp:pwd", "Level3": "urn:corp:mfa"}
    assert c.describe_identity_provider(UserPoolId=pool_id, ProviderName="corp")["IdentityProvider"]["AcrMapping"] == acr
    with raises_cognito("InvalidParameterException", "Level5"):
        c.update_identity_provider(UserPoolId=pool_id, ProviderName="corp", AcrMapping={"Level5": "x"})
    with raises_cognito("InvalidParameterException", "only for OIDC"):
        c.update_identity_provider(UserPoolId=pool_id, ProviderName="Google", AcrMapping={"Level1": "x"})
    with raises_cognito("ResourceNotFoundException"):
        c.get_identity_provider_by_identifier(UserPoolId=pool_id, IdpIdentifier="other.com")

    # Update merges details and checks them whole.
    updated = c.update_identity_provider(
        UserPoolId=pool_id, ProviderName="corp", ProviderDetails={"authorize_scopes": "openid email"}
    )["IdentityProvider"]
    assert updated["ProviderDetails"]["authorize_scopes"] == "openid email"
    assert updated["ProviderDetails"]["client_id"] == "oid"
    with raises_cognito("InvalidParameterException", "attributes_request_method"):
        c.update_identity_provider(
            UserPoolId=pool_id, ProviderName="corp", ProviderDetails={"attributes_request_method": "PUT"}
        )
    with raises_cognito("ResourceNotFoundException"):
        c.update_identity_provider(UserPoolId=pool_id, ProviderName="nope", ProviderDetails={})

    listed = c.list_identity_providers(UserPoolId=pool_id, MaxResults=1)
    assert len(listed["Providers"]) == 1 and listed["NextToken"]
    rest = c.list_identity_providers(UserPoolId=pool_id, MaxResults=5, NextToken=listed["NextToken"])
    assert {p["ProviderName"] for p in listed["Providers"] + rest["Providers"]} == {"Google", "corp"}

    c.delete_identity_provider(UserPoolId=pool_id, ProviderName="corp")
    with raises_cognito("ResourceNotFoundException"):
        c.describe_identity_provider(UserPoolId=pool_id, ProviderName="corp")


def test_link_and_disable_provider_for_user(idp):
    c = idp.client()
    app = App.create(c)
    c.create_identity_provider(UserPoolId=app.pool_id, ProviderName="Google", ProviderType="Google", ProviderDetails=GOOGLE)
    confirmed_user(app, "ann")
    source = {"ProviderName": "Google", "ProviderAttributeName": "Cognito_Subject", "ProviderAttributeValue": "1234"}
    dest = {"ProviderName": "Cognito", "ProviderAttributeValue": "ann"}
    c.admin_link_provider_for_user(UserPoolId=app.pool_id, DestinationUser=dest, SourceUser=source)
    attrs = {a["Name"]: a["Value"] for a in c.admin_get_user(UserPoolId=app.pool_id, Username="ann")["UserAttributes"]}
    import json

    identities = json.loads(attrs["identities"])
    assert identities[0]["providerName"] == "Google" and identities[0]["userId"] == "1234"

    confirmed_user(app, "bob")
    with raises_cognito("AliasExistsException"):
        c.admin_link_provider_for_user(
            UserPoolId=app.pool_id, DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "bob"}, SourceUser=source
        )
    with raises_cognito("ResourceNotFoundException"):
        c.admin_link_provider_for_user(
            UserPoolId=app.pool_id, DestinationUser=dest, SourceUser={**source, "ProviderName": "Facebook"}
        )
    with raises_cognito("UserNotFoundException"):
        c.admin_link_provider_for_user(
            UserPoolId=app.pool_id, DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "nobody"}, SourceUser=source
        )

    c.admin_disable_provider_for_user(UserPoolId=app.pool_id, User=source)
    attrs = {a["Name"]: a["Value"] for a in c.admin_get_user(UserPoolId=app.pool_id, Username="ann")["UserAttributes"]}
    assert "identities" not in attrs
    # The identity is free again: it can be linked to another user.
    c.admin_link_provider_for_user(
        UserPoolId=app.pool_id, DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "bob"}, SourceUser=source
    )


# --------------------------------------------------------------------- domains


def test_user_pool_domains(idp):
    c = idp.client()
    pool_id = App.create(c).pool_id
    other_pool = App.create(c).pool_id
    prefix = unique("my-app").lower().replace("_", "-")
    created = c.create_user_pool_domain(UserPoolId=pool_id, Domain=prefix)
    assert created["CloudFrontDomain"] == "127.0.0.1"
    assert created["ManagedLoginVersion"] == 1
    with raises_cognito("InvalidParameterException", "Domain already associated with another user pool."):
        c.create_user_pool_domain(UserPoolId=other_pool, Domain=prefix)
    with raises_cognito("InvalidParameterException", "already has a domain"):
        c.create_user_pool_domain(UserPoolId=pool_id, Domain=prefix + "-2")
    with raises_cognito("InvalidParameterException", "reserved word: cognito"):
        c.create_user_pool_domain(UserPoolId=other_pool, Domain="my-cognito-app")
    with raises_cognito("InvalidParameterException", "CustomDomainConfig"):
        c.create_user_pool_domain(UserPoolId=pool_id, Domain="auth.example.com")
    with raises_cognito("InvalidParameterException", "domain"):
        c.create_user_pool_domain(UserPoolId=pool_id, Domain="Not_Valid")

    cert = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    c.create_user_pool_domain(
        UserPoolId=pool_id, Domain="auth.example.com", CustomDomainConfig={"CertificateArn": cert}, ManagedLoginVersion=2
    )
    pool = c.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert pool["Domain"] == prefix and pool["CustomDomain"] == "auth.example.com"

    d = c.describe_user_pool_domain(Domain="auth.example.com")["DomainDescription"]
    assert d["UserPoolId"] == pool_id and d["Status"] == "ACTIVE" and d["AWSAccountId"] == "123456789012"
    assert d["CustomDomainConfig"] == {"CertificateArn": cert} and d["ManagedLoginVersion"] == 2
    c.update_user_pool_domain(UserPoolId=pool_id, Domain=prefix, ManagedLoginVersion=2)
    assert c.describe_user_pool_domain(Domain=prefix)["DomainDescription"]["ManagedLoginVersion"] == 2

    with raises_cognito("InvalidParameterException"):
        c.delete_user_pool_domain(UserPoolId=other_pool, Domain=prefix)
    c.delete_user_pool_domain(UserPoolId=pool_id, Domain=prefix)
    # An unknown domain is described as empty, as Cognito does.
    assert c.describe_user_pool_domain(Domain=prefix)["DomainDescription"] == {}
    c.create_user_pool_domain(UserPoolId=other_pool, Domain=prefix)


# --------------------------------------------------------------------- attribute verification


def test_attribute_verification(idp):
    c = idp.client()
    app = App.create(c)
    confirmed_user(app, "ann")
    c.admin_update_user_attributes(
        UserPoolId=app.pool_id, Username="ann", UserAttributes=[{"Name": "email_verified", "Value": "true"}]
    )
    token = app.sign_in("ann", PW)["AccessToken"]

    # A changed email is unverified and gets a code (the pool auto-verifies email).
    sent = c.update_user_attributes(AccessToken=token, UserAttributes=[{"Name": "email", "Value": "new@example.com"}])
    assert sent["CodeDeliveryDetailsList"] == [
        {"Destination": "n***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    ]
    attrs = {a["Name"]: a["Value"] for a in c.get_user(AccessToken=token)["UserAttributes"]}
    assert attrs["email"] == "new@example.com" and attrs["email_verified"] == "false"
    with raises_cognito("CodeMismatchException"):
        c.verify_user_attribute(AccessToken=token, AttributeName="email", Code="000000")

    # A fresh code replaces the first; the first no longer works.
    first = idp.latest_code(app.pool_id, "ann")
    c.get_user_attribute_verification_code(AccessToken=token, AttributeName="email")
    second = idp.latest_code(app.pool_id, "ann")
    if first != second:
        with raises_cognito("CodeMismatchException"):
            c.verify_user_attribute(AccessToken=token, AttributeName="email", Code=first)
    c.verify_user_attribute(AccessToken=token, AttributeName="email", Code=second)
    attrs = {a["Name"]: a["Value"] for a in c.get_user(AccessToken=token)["UserAttributes"]}
    assert attrs["email_verified"] == "true"
    with raises_cognito("CodeMismatchException"):
        c.verify_user_attribute(AccessToken=token, AttributeName="email", Code=second)

    with raises_cognito("InvalidParameterException", "Only email and phone_number"):
        c.get_user_attribute_verification_code(AccessToken=token, AttributeName="name")
    with raises_cognito("InvalidParameterException", "no phone_number"):
        c.get_user_attribute_verification_code(AccessToken=token, AttributeName="phone_number")
    with raises_cognito("NotAuthorizedException"):
        c.get_user_attribute_verification_code(AccessToken="not-a-token", AttributeName="email")


def test_attributes_require_verification_before_update(idp):
    c = idp.client()
    app = App.create(
        c,
        pool_overrides={"UserAttributeUpdateSettings": {"AttributesRequireVerificationBeforeUpdate": ["email"]}},
    )
    confirmed_user(app, "ann")
    c.admin_update_user_attributes(
        UserPoolId=app.pool_id, Username="ann", UserAttributes=[{"Name": "email_verified", "Value": "true"}]
    )
    token = app.sign_in("ann", PW)["AccessToken"]
    c.update_user_attributes(AccessToken=token, UserAttributes=[{"Name": "email", "Value": "new@example.com"}])
    # The verified old address stays in force until the new one is proven.
    attrs = {a["Name"]: a["Value"] for a in c.get_user(AccessToken=token)["UserAttributes"]}
    assert attrs["email"] == "ann@example.com" and attrs["email_verified"] == "true"
    message = idp.outbox(app.pool_id, "ann")[-1]
    assert message["destination"] == "new@example.com"
    c.verify_user_attribute(AccessToken=token, AttributeName="email", Code=message["code"])
    attrs = {a["Name"]: a["Value"] for a in c.get_user(AccessToken=token)["UserAttributes"]}
    assert attrs["email"] == "new@example.com" and attrs["email_verified"] == "true"


# --------------------------------------------------------------------- custom attributes, tags, settings

PNG_1PX = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_add_custom_attributes(idp):
    c = idp.client()
    app = App.create(c)
    c.add_custom_attributes(UserPoolId=app.pool_id, CustomAttributes=[{"Name": "team", "AttributeDataType": "String"}])
    schema = {a["Name"]: a for a in c.describe_user_pool(UserPoolId=app.pool_id)["UserPool"]["SchemaAttributes"]}
    assert schema["custom:team"]["AttributeDataType"] == "String"
    with raises_cognito("InvalidParameterException", "custom:team: Existing attribute already has name custom:team."):
        c.add_custom_attributes(UserPoolId=app.pool_id, CustomAttributes=[{"Name": "team", "AttributeDataType": "String"}])
    # The new attribute is usable at once.
    confirmed_user(app, "ann")
    c.admin_update_user_attributes(
        UserPoolId=app.pool_id, Username="ann", UserAttributes=[{"Name": "custom:team", "Value": "blue"}]
    )
    attrs = {a["Name"]: a["Value"] for a in c.admin_get_user(UserPoolId=app.pool_id, Username="ann")["UserAttributes"]}
    assert attrs["custom:team"] == "blue"
    with raises_cognito("ResourceNotFoundException"):
        c.add_custom_attributes(UserPoolId="us-east-1_nopenope", CustomAttributes=[{"Name": "x", "AttributeDataType": "String"}])


def test_tags(idp):
    c = idp.client()
    pool = c.describe_user_pool(UserPoolId=App.create(c).pool_id)["UserPool"]
    arn = pool["Arn"]
    c.tag_resource(ResourceArn=arn, Tags={"env": "dev", "team": "id"})
    c.tag_resource(ResourceArn=arn, Tags={"env": "prod"})
    assert c.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"env": "prod", "team": "id"}
    c.untag_resource(ResourceArn=arn, TagKeys=["team", "absent"])
    assert c.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"env": "prod"}
    assert c.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]["UserPoolTags"] == {"env": "prod"}
    with raises_cognito("ResourceNotFoundException"):
        c.list_tags_for_resource(ResourceArn=arn.replace(pool["Id"], "us-east-1_nopenope"))
    with raises_cognito("InvalidParameterException", "at most 50 tags"):
        c.tag_resource(ResourceArn=arn, Tags={f"k{i}": "v" for i in range(50)})


def test_ui_customization(idp):
    import requests

    c = idp.client()
    app = App.create(c)
    empty = c.get_ui_customization(UserPoolId=app.pool_id)["UICustomization"]
    assert empty == {"UserPoolId": app.pool_id, "ClientId": "ALL"}
    pool_wide = c.set_ui_customization(UserPoolId=app.pool_id, CSS=".banner-customizable {background-color: black;}", ImageFile=base64.b64decode(PNG_1PX))
    ui = pool_wide["UICustomization"]
    assert ui["ClientId"] == "ALL" and ui["CSS"].startswith(".banner") and ui["CSSVersion"]
    logo = requests.get(ui["ImageUrl"], timeout=10)
    assert logo.status_code == 200 and logo.headers["content-type"] == "image/png"
    # A client without its own settings gets the pool's.
    inherited = c.get_ui_customization(UserPoolId=app.pool_id, ClientId=app.client_id)["UICustomization"]
    assert inherited["CSS"] == ui["CSS"]
    c.set_ui_customization(UserPoolId=app.pool_id, ClientId=app.client_id, CSS=".label-customizable {font-weight: 400;}")
    own = c.get_ui_customization(UserPoolId=app.pool_id, ClientId=app.client_id)["UICustomization"]
    assert own["ClientId"] == app.client_id and own["CSS"].startswith(".label") and "ImageUrl" not in own
    with raises_cognito("InvalidParameterException", "PNG or JPEG"):
        c.set_ui_customization(UserPoolId=app.pool_id, ImageFile=b"GIF89a not really")
    with raises_cognito("ResourceNotFoundException"):
        c.set_ui_customization(UserPoolId=app.pool_id, ClientId="a" * 26, CSS="")


def test_risk_and_log_delivery_configuration(idp):
    c = idp.client()
    app = App.create(c)
    empty = c.describe_risk_configuration(UserPoolId=app.pool_id)["RiskConfiguration"]
    assert empty == {"UserPoolId": app.pool_id}
    cfg = {
        "CompromisedCredentialsRiskConfiguration": {"EventFilter": ["SIGN_IN"], "Actions": {"EventAction": "BLOCK"}},
        "RiskExceptionConfiguration": {"BlockedIPRangeList": ["192.0.2.0/24"]},
    }
    c.set_risk_configuration(UserPoolId=app.pool_id, **cfg)
    got = c.describe_risk_configuration(UserPoolId=app.pool_id, ClientId=app.client_id)["RiskConfiguration"]
    assert got["CompromisedCredentialsRiskConfiguration"] == cfg["CompromisedCredentialsRiskConfiguration"]
    assert got["ClientId"] == app.client_id and "LastModifiedDate" in got
    with raises_cognito("InvalidParameterException", "NotifyConfiguration"):
        c.set_risk_configuration(
            UserPoolId=app.pool_id,
            AccountTakeoverRiskConfiguration={"Actions": {"HighAction": {"Notify": True, "EventAction": "BLOCK"}}},
        )

    assert c.get_log_delivery_configuration(UserPoolId=app.pool_id)["LogDeliveryConfiguration"] == {
        "UserPoolId": app.pool_id,
        "LogConfigurations": [],
    }
    logs = [{
        "LogLevel": "ERROR",
        "EventSource": "userNotification",
        "CloudWatchLogsConfiguration": {"LogGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:cognito"},
    }]
    c.set_log_delivery_configuration(UserPoolId=app.pool_id, LogConfigurations=logs)
    assert c.get_log_delivery_configuration(UserPoolId=app.pool_id)["LogDeliveryConfiguration"]["LogConfigurations"] == logs
    with raises_cognito("InvalidParameterException", "exactly one destination"):
        c.set_log_delivery_configuration(
            UserPoolId=app.pool_id, LogConfigurations=[{"LogLevel": "ERROR", "EventSource": "userNotification"}]
        )


# --------------------------------------------------------------------- managed login branding and terms


def test_managed_login_branding(idp):
    c = idp.client()
    app = App.create(c)
    settings = {"components": {"primaryButton": {"lightMode": {"defaults": {"backgroundColor": "0972d3ff"}}}}}
    asset = {"Category": "PAGE_HEADER_LOGO", "ColorMode": "LIGHT", "Extension": "PNG", "Bytes": base64.b64decode(PNG_1PX)}
    created = c.create_managed_login_branding(
        UserPoolId=app.pool_id, ClientId=app.client_id, Settings=settings, Assets=[asset]
    )["ManagedLoginBranding"]
    bid = created["ManagedLoginBrandingId"]
    assert created["UserPoolId"] == app.pool_id and created["Settings"] == settings
    assert created["UseCognitoProvidedValues"] is False
    assert created["Assets"][0]["Bytes"] == base64.b64decode(PNG_1PX)
    with raises_cognito("ManagedLoginBrandingExistsException"):
        c.create_managed_login_branding(UserPoolId=app.pool_id, ClientId=app.client_id, UseCognitoProvidedValues=True)
    by_client = c.describe_managed_login_branding_by_client(UserPoolId=app.pool_id, ClientId=app.client_id)
    assert by_client["ManagedLoginBranding"]["ManagedLoginBrandingId"] == bid
    assert by_client["ManagedLoginBranding"]["Settings"] == settings

    # ReturnMergedResources: the style over the defaults of everything it left unset.
    merged = c.describe_managed_login_branding(
        UserPoolId=app.pool_id, ManagedLoginBrandingId=bid, ReturnMergedResources=True
    )["ManagedLoginBranding"]["Settings"]
    button = merged["components"]["primaryButton"]
    assert button["lightMode"]["defaults"] == {"backgroundColor": "0972d3ff", "textColor": "ffffffff"}
    assert button["darkMode"]["defaults"]["backgroundColor"]
    assert merged["categories"]["global"]["colorSchemeMode"] == "LIGHT"
    assert merged["componentClasses"]["input"]["borderRadius"] == 4

    # Update keeps what it does not name: settings key by key, assets by category and mode.
    footer_logo = {"Category": "PAGE_FOOTER_LOGO", "ColorMode": "LIGHT", "Extension": "PNG", "Bytes": base64.b64decode(PNG_1PX)}
    header_dark = dict(asset, ColorMode="DARK")
    updated = c.update_managed_login_branding(
        UserPoolId=app.pool_id,
        ManagedLoginBrandingId=bid,
        Settings={"categories": {"global": {"colorSchemeMode": "DARK"}}},
        Assets=[footer_logo, header_dark, asset],
    )["ManagedLoginBranding"]
    assert updated["Settings"] == {**settings, "categories": {"global": {"colorSchemeMode": "DARK"}}}
    assert sorted((a["Category"], a["ColorMode"]) for a in updated["Assets"]) == [
        ("PAGE_FOOTER_LOGO", "LIGHT"),
        ("PAGE_HEADER_LOGO", "DARK"),
        ("PAGE_HEADER_LOGO", "LIGHT"),
    ]

    with raises_cognito("InvalidParameterException", "UseCognitoProvidedValues"):
        c.update_managed_login_branding(
            UserPoolId=app.pool_id, ManagedLoginBrandingId=bid, UseCognitoProvidedValues=True, Settings=settings
        )
    updated = c.update_managed_login_branding(
        UserPoolId=app.pool_id, ManagedLoginBrandingId=bid, UseCognitoProvidedValues=True
    )["ManagedLoginBranding"]
    assert updated["UseCognitoProvidedValues"] is True and "Settings" not in updated

    c.delete_managed_login_branding(UserPoolId=app.pool_id, ManagedLoginBrandingId=bid)
    with raises_cognito("ResourceNotFoundException"):
        c.describe_managed_login_branding(UserPoolId=app.pool_id, ManagedLoginBrandingId=bid)
    with raises_cognito("ResourceNotFoundException"):
        c.describe_managed_login_branding_by_client(UserPoolId=app.pool_id, ClientId=app.client_id)
    # Deleted, the style no longer holds the client: it may get a new one.
    again = c.create_managed_login_branding(UserPoolId=app.pool_id, ClientId=app.client_id, UseCognitoProvidedValues=True)
    assert c.describe_managed_login_branding_by_client(UserPoolId=app.pool_id, ClientId=app.client_id)[
        "ManagedLoginBranding"]["ManagedLoginBrandingId"] == again["ManagedLoginBranding"]["ManagedLoginBrandingId"]


def test_terms(idp):
    c = idp.client()
    app = App.create(c)
    links = {"cognito:default": "https://example.com/terms"}
    t = c.create_terms(
        UserPoolId=app.pool_id, ClientId=app.client_id, TermsName="terms-of-use",
        TermsSource="LINK", Enforcement="NONE", Links=links,
    )["Terms"]
    assert t["ClientId"] == app.client_id and t["Links"] == links
    with raises_cognito("TermsExistsException"):
        c.create_terms(
            UserPoolId=app.pool_id, ClientId=app.client_id, TermsName="terms-of-use",
            TermsSource="LINK", Enforcement="NONE", Links=links,
        )
    p = c.create_terms(
        UserPoolId=app.pool_id, ClientId=app.client_id, TermsName="privacy-policy",
        TermsSource="LINK", Enforcement="NONE", Links={"cognito:default": "https://example.com/privacy"},
    )["Terms"]
    with raises_cognito("InvalidParameterException", "termsName"):
        c.create_terms(
            UserPoolId=app.pool_id, ClientId=app.client_id, TermsName="cookies",
            TermsSource="LINK", Enforcement="NONE", Links=links,
        )
    new_links = {"cognito:default": "https://example.com/terms-v2", "cognito:french": "https://example.com/fr"}
    c.update_terms(UserPoolId=app.pool_id, TermsId=t["TermsId"], Links=new_links)
    assert c.describe_terms(UserPoolId=app.pool_id, TermsId=t["TermsId"])["Terms"]["Links"] == new_links
    by_client = c.describe_terms_by_client(UserPoolId=app.pool_id, ClientId=app.client_id, TermsName="terms-of-use")
    assert (by_client["Terms"]["TermsId"], by_client["Terms"]["Links"]) == (t["TermsId"], new_links)
    other_client, _ = create_client(c, app.pool_id)
    with raises_cognito("ResourceNotFoundException", "no terms-of-use terms"):
        c.describe_terms_by_client(UserPoolId=app.pool_id, ClientId=other_client, TermsName="terms-of-use")
    with raises_cognito("TermsExistsException"):
        c.update_terms(UserPoolId=app.pool_id, TermsId=p["TermsId"], TermsName="terms-of-use")
    listed = c.list_terms(UserPoolId=app.pool_id, MaxResults=1)
    rest = c.list_terms(UserPoolId=app.pool_id, MaxResults=1, NextToken=listed["NextToken"])
    assert {x["TermsName"] for x in listed["Terms"] + rest["Terms"]} == {"terms-of-use", "privacy-policy"}
    c.delete_terms(UserPoolId=app.pool_id, TermsId=t["TermsId"])
    with raises_cognito("ResourceNotFoundException"):
        c.describe_terms(UserPoolId=app.pool_id, TermsId=t["TermsId"])


# --------------------------------------------------------------------- password history


def test_password_history(idp):
    c = idp.client()
    policy = {
        "MinimumLength": 8, "RequireUppercase": True, "RequireLowercase": True,
        "RequireNumbers": True, "RequireSymbols": False, "PasswordHistorySize": 3,
    }
    app = App.create(c, pool_overrides={"Policies": {"PasswordPolicy": policy}})
    confirmed_user(app, "ann")
    token = app.sign_in("ann", PW)["AccessToken"]
    with raises_cognito("PasswordHistoryPolicyViolationException"):
        c.change_password(AccessToken=token, PreviousPassword=PW, ProposedPassword=PW)
    c.change_password(AccessToken=token, PreviousPassword=PW, ProposedPassword="Second-Pass1")
    c.change_password(AccessToken=token, PreviousPassword="Second-Pass1", ProposedPassword="Third-Pass1")
    # The last three (current included) are refused...
    for old in (PW, "Second-Pass1", "Third-Pass1"):
        with raises_cognito("PasswordHistoryPolicyViolationException"):
            c.change_password(AccessToken=token, PreviousPassword="Third-Pass1", ProposedPassword=old)
    # ...also through a password reset...
    app.forgot_password("ann")
    with raises_cognito("PasswordHistoryPolicyViolationException"):
        app.confirm_forgot_password("ann", idp.latest_code(app.pool_id, "ann"), "Second-Pass1")
    # ...and a fourth change frees the oldest.
    c.change_password(AccessToken=token, PreviousPassword="Third-Pass1", ProposedPassword="Fourth-Pass1")
    c.change_password(AccessToken=token, PreviousPassword="Fourth-Pass1", ProposedPassword=PW)
    # Admins are not held to the history.
    c.admin_set_user_password(UserPoolId=app.pool_id, Username="ann", Password=PW, Permanent=True)
    app.sign_in("ann", PW)


# --------------------------------------------------------------------- auth events


def test_auth_event_history(idp):
    c = idp.client()
    off = App.create(c)
    confirmed_user(off, "ann")
    with raises_cognito("UserPoolAddOnNotEnabledException"):
        c.admin_list_user_auth_events(UserPoolId=off.pool_id, Username="ann")

    app = App.create(c, pool_overrides={"UserPoolAddOns": {"AdvancedSecurityMode": "AUDIT"}})
    confirmed_user(app, "ann")
    with raises_cognito("NotAuthorizedException"):
        app.password_auth("ann", "Wrong-Pass1")
    token = app.sign_in("ann", PW)["AccessToken"]
    c.change_password(AccessToken=token, PreviousPassword=PW, ProposedPassword="Second-Pass1")

    events = c.admin_list_user_auth_events(UserPoolId=app.pool_id, Username="ann", MaxResults=2)
    first = events["AuthEvents"]
    assert [e["EventType"] for e in first] == ["PasswordChange", "SignIn"]
    assert first[1]["EventResponse"] == "Pass"
    rest = c.admin_list_user_auth_events(
        UserPoolId=app.pool_id, Username="ann", MaxResults=2, NextToken=events["NextToken"]
    )["AuthEvents"]
    assert len(rest) == 1
    failed = rest[0]
    assert failed["EventType"] == "SignIn" and failed["EventResponse"] == "Fail"
    assert failed["ChallengeResponses"] == [{"ChallengeName": "Password", "ChallengeResponse": "Failure"}]

    c.admin_update_auth_event_feedback(
        UserPoolId=app.pool_id, Username="ann", EventId=failed["EventId"], FeedbackValue="Invalid"
    )
    again = c.admin_list_user_auth_events(UserPoolId=app.pool_id, Username="ann")["AuthEvents"]
    rated = next(e for e in again if e["EventId"] == failed["EventId"])
    assert rated["EventFeedback"]["FeedbackValue"] == "Invalid" and rated["EventFeedback"]["Provider"] == "Admin"
    with raises_cognito("ResourceNotFoundException"):
        c.admin_update_auth_event_feedback(UserPoolId=app.pool_id, Username="ann", EventId="nope", FeedbackValue="Valid")
    with raises_cognito("NotAuthorizedException"):
        c.update_auth_event_feedback(
            UserPoolId=app.pool_id, Username="ann", EventId=failed["EventId"], FeedbackToken="forged", FeedbackValue="Valid"
        )


# --------------------------------------------------------------------- user import


def _wait_for_job(c, pool_id: str, job_id: str) -> dict:
    import time

    for _ in range(100):
        job = c.describe_user_import_job(UserPoolId=pool_id, JobId=job_id)["UserImportJob"]
        if job["Status"] in ("Succeeded", "Failed", "Stopped"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"import job still {job['Status']}")


def test_user_import_job(idp):
    import requests

    c = idp.client()
    app = App.create(c)
    confirmed_user(app, "taken")
    header = c.get_csv_header(UserPoolId=app.pool_id)["CSVHeader"]
    assert header[-2:] == ["cognito:mfa_enabled", "cognito:username"] and "email" in header and "sub" not in header

    def line(**values):
        return ",".join(values.get(col.replace(":", "_"), "") for col in header)

    csv = "\n".join([
        ",".join(header),
        line(cognito_username="imp1", email="imp1@example.com", email_verified="true", cognito_mfa_enabled="false"),
        line(cognito_username="imp2", email="\"imp2@example.com\"", cognito_mfa_enabled="false", name="\"Doe, Jane\""),
        line(cognito_username="taken", email="t@example.com", cognito_mfa_enabled="false"),
        line(cognito_username="bad", email="not-an-email", cognito_mfa_enabled="false"),
        line(email="nameless@example.com", cognito_mfa_enabled="false"),
    ]) + "\n"

    job = c.create_user_import_job(
        UserPoolId=app.pool_id, JobName="first", CloudWatchLogsRoleArn="arn:aws:iam::123456789012:role/import"
    )["UserImportJob"]
    assert job["Status"] == "Created" and job["JobId"].startswith("import-")
    assert "PasswordHashingAlgorithm" not in job
    other_pool = App.create(c).pool_id
    hashed = c.create_user_import_job(
        UserPoolId=other_pool, JobName="hashes", CloudWatchLogsRoleArn="arn:aws:iam::123456789012:role/import",
        PasswordHashingAlgorithm="BCRYPT",
    )["UserImportJob"]
    assert hashed["PasswordHashingAlgorithm"] == "BCRYPT"
    assert c.describe_user_import_job(UserPoolId=other_pool, JobId=hashed["JobId"])["UserImportJob"][
        "PasswordHashingAlgorithm"] == "BCRYPT"
    with raises_cognito("PreconditionNotMetException"):
        c.start_user_import_job(UserPoolId=app.pool_id, JobId=job["JobId"])

    url = job["PreSignedUrl"]
    assert requests.put(url.replace("signature=", "signature=x"), data=csv, timeout=10).status_code == 403
    r = requests.put(url, data=csv.encode(), headers={"Content-Type": "text/csv"}, timeout=10)
    assert r.status_code == 200, r.text
    started = c.start_user_import_job(UserPoolId=app.pool_id, JobId=job["JobId"])["UserImportJob"]
    assert started["Status"] in ("InProgress", "Succeeded")
    done = _wait_for_job(c, app.pool_id, job["JobId"])
    assert done["Status"] == "Succeeded", done
    assert (done["ImportedUsers"], done["FailedUsers"], done["SkippedUsers"]) == (2, 2, 1), done
    with raises_cognito("InvalidParameterException"):
        c.start_user_import_job(UserPoolId=app.pool_id, JobId=job["JobId"])

    imp2 = c.admin_get_user(UserPoolId=app.pool_id, Username="imp2")
    assert imp2["UserStatus"] == "RESET_REQUIRED"
    assert {a["Name"]: a["Value"] for a in imp2["UserAttributes"]}["name"] == "Doe, Jane"
    # An imported user must reset their password, then signs in.
    with raises_cognito("PasswordResetRequiredException"):
        app.password_auth("imp1", PW)
    app.forgot_password("imp1")
    app.confirm_forgot_password("imp1", idp.latest_code(app.pool_id, "imp1"), PW)
    app.sign_in("imp1", PW)

    jobs = c.list_user_import_jobs(UserPoolId=app.pool_id, MaxResults=10)["UserImportJobs"]
    assert [j["JobId"] for j in jobs] == [job["JobId"]]
    with raises_cognito("ResourceNotFoundException"):
        c.describe_user_import_job(UserPoolId=app.pool_id, JobId="import-nope")

    bad = c.create_user_import_job(
        UserPoolId=app.pool_id, JobName="bad-header", CloudWatchLogsRoleArn="arn:aws:iam::123456789012:role/import"
    )["UserImportJob"]
    requests.put(bad["PreSignedUrl"], data="cognito:username,shoe_size\nx,42\n", timeout=10)
    c.start_user_import_job(UserPoolId=app.pool_id, JobId=bad["JobId"])
    failed = _wait_for_job(c, app.pool_id, bad["JobId"])
    assert failed["Status"] == "Failed" and "shoe_size" in failed["CompletionMessage"]

    stopped = c.create_user_import_job(
        UserPoolId=app.pool_id, JobName="never", CloudWatchLogsRoleArn="arn:aws:iam::123456789012:role/import"
    )["UserImportJob"]
    assert c.stop_user_import_job(UserPoolId=app.pool_id, JobId=stopped["JobId"])["UserImportJob"]["Status"] == "Stopped"
