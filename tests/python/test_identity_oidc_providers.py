"""Logins from an external OpenID Connect provider: IAM's OIDC provider operations
through boto3, an identity pool trusting the provider by ARN, and ID tokens checked
against the provider's published keys (signature, issuer, audience, expiry), with the
keys cached. The provider is tests/python/fake_oidc.py on a loopback port, with its own
RSA keys. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from botocore.exceptions import ClientError

from fake_oidc import FakeOidcProvider, new_key
from test_identity_credentials import authorize, aws, trust_policy

from idpool_testlib import raises_cognito, unique

CLIENT_ID = "my-oidc-app"


@pytest.fixture
def provider():
    p = FakeOidcProvider(client_id=CLIENT_ID)
    yield p
    p.close()


def iam_code(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_iam_oidc_providers(idp, provider):
    iam = aws(idp, "iam")
    created = iam.create_open_id_connect_provider(Url=provider.issuer, ClientIDList=[CLIENT_ID, "other"],
                                                  ThumbprintList=["a" * 40], Tags=[{"Key": "team", "Value": "id"}])
    arn = created["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::123456789012:oidc-provider/{provider.name}"
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == provider.name, "IAM gives the URL without its scheme"
    assert got["ClientIDList"] == [CLIENT_ID, "other"] and got["ThumbprintList"] == ["a" * 40]
    assert got["Tags"] == [{"Key": "team", "Value": "id"}]
    assert {"Arn": arn} in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert iam_code(iam.create_open_id_connect_provider, Url=provider.issuer, ClientIDList=[CLIENT_ID])[0] == \
        "EntityAlreadyExists"
    assert iam_code(iam.create_open_id_connect_provider, Url="ftp://example.com", ClientIDList=[CLIENT_ID])[0] == \
        "InvalidInput"
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="third")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="third")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="other")
    iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=["b" * 40])
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["ClientIDList"] == [CLIENT_ID, "third"] and got["ThumbprintList"] == ["b" * 40]
    missing = arn + "/nope"
    assert iam_code(iam.get_open_id_connect_provider, OpenIDConnectProviderArn=missing) == (
        "NoSuchEntity", f"OpenIDConnect Provider not found for arn {missing}")
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert iam_code(iam.delete_open_id_connect_provider, OpenIDConnectProviderArn=arn)[0] == "NoSuchEntity"
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []


def test_oidc_logins(idp, provider):
    ci, iam = aws(idp, "cognito-identity"), aws(idp, "iam")
    arn = iam.create_open_id_connect_provider(Url=provider.issuer, ClientIDList=[CLIENT_ID])["OpenIDConnectProviderArn"]
    pool = ci.create_identity_pool(IdentityPoolName=unique("oidc"), AllowUnauthenticatedIdentities=False,
                                   OpenIdConnectProviderARNs=[arn])["IdentityPoolId"]
    name = provider.name

    alice = ci.get_id(IdentityPoolId=pool, Logins={name: provider.token("alice")})["IdentityId"]
    assert ci.get_id(IdentityPoolId=pool, Logins={name: provider.token("alice")})["IdentityId"] == alice
    bob = ci.get_id(IdentityPoolId=pool, Logins={name: provider.token("bob")})["IdentityId"]
    assert bob != alice
    assert ci.describe_identity(IdentityId=alice)["Logins"] == [name]
    assert provider.fetches == {"discovery": 1, "jwks": 1}, "the keys are fetched once, then cached"

    def refused(token, message):
        with raises_cognito("NotAuthorizedException", message):
            ci.get_id(IdentityPoolId=pool, Logins={name: token})

    refused(provider.token("alice", exp=int(time.time()) - 10), "Invalid login token. Token expired")
    good = provider.token("alice")
    head, body, sig = good.split(".")
    forged_body = jwt.utils.base64url_encode(json.dumps(
        {**jwt.decode(good, options={"verify_signature": False}), "sub": "bob"}).encode()).decode()
    refused(f"{head}.{forged_body}.{sig}", "Invalid login token. Couldn't verify signed token.")
    refused(provider.token("alice", aud="another-app"), "Invalid login token. Incorrect token audience.")
    refused(provider.token("alice", iss="http://evil.example"), "Invalid login token. Issuer doesn't match providerName")
    impostor = new_key(provider.keys[0].kid)
    refused(provider.token("alice", key=impostor), "Couldn't verify signed token")
    refused("not-a-jwt", "Couldn't verify signed token")
    assert provider.fetches == {"discovery": 1, "jwks": 1}, "bad tokens never refetch within the cache's minimum"

    # A provider the pool does not trust.
    with raises_cognito("InvalidParameterException", "not a provider of this identity pool"):
        ci.get_id(IdentityPoolId=pool, Logins={"accounts.example.com": good})

    # A deleted IAM provider no longer signs anyone in.
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    with raises_cognito("InvalidParameterException", "does not exist"):
        ci.get_id(IdentityPoolId=pool, Logins={name: good})


def test_oidc_key_rotation_refetches(idp, provider):
    ci, iam = aws(idp, "cognito-identity"), aws(idp, "iam")
    arn = iam.create_open_id_connect_provider(Url=provider.issuer, ClientIDList=[CLIENT_ID])["OpenIDConnectProviderArn"]
    pool = ci.create_identity_pool(IdentityPoolName=unique("rot"), AllowUnauthenticatedIdentities=False,
                                   OpenIdConnectProviderARNs=[arn])["IdentityPoolId"]
    first = ci.get_id(IdentityPoolId=pool, Logins={provider.name: provider.token("erin")})["IdentityId"]
    provider.rotate(unique("k2-"))
    # Within the minimum interval an unknown kid is refused without asking the provider...
    with raises_cognito("NotAuthorizedException", "Couldn't verify signed token"):
        ci.get_id(IdentityPoolId=pool, Logins={provider.name: provider.token("erin")})
    assert provider.fetches["jwks"] == 1
    # ...after it, the unknown kid makes idpool fetch the provider's new keys.
    time.sleep(10.5)
    assert ci.get_id(IdentityPoolId=pool, Logins={provider.name: provider.token("erin")})["IdentityId"] == first
    assert provider.fetches["jwks"] == 2


def test_oidc_credentials_with_principal_tags(idp, provider):
    ci, iam = aws(idp, "cognito-identity"), aws(idp, "iam")
    arn = iam.create_open_id_connect_provider(Url=provider.issuer, ClientIDList=[CLIENT_ID])["OpenIDConnectProviderArn"]
    pool = ci.create_identity_pool(IdentityPoolName=unique("tags"), AllowUnauthenticatedIdentities=False,
                                   OpenIdConnectProviderARNs=[arn])["IdentityPoolId"]
    role = unique("oidcrole")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust_policy(pool, "authenticated"))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="dept", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                       "Resource": "arn:aws:s3:::depts/${aws:PrincipalTag/dept}/*"}]}))
    ci.set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": role_arn})
    ci.set_principal_tag_attribute_map(IdentityPoolId=pool, IdentityProviderName=provider.name,
                                       UseDefaults=False, PrincipalTags={"dept": "department"})

    token = provider.token("frank", department="eng")
    identity = ci.get_id(IdentityPoolId=pool, Logins={provider.name: token})["IdentityId"]
    creds = ci.get_credentials_for_identity(IdentityId=identity, Logins={provider.name: token})["Credentials"]
    assert authorize(idp, creds, "s3:GetObject", "arn:aws:s3:::depts/eng/a")["Decision"] == "Allow"
    assert authorize(idp, creds, "s3:GetObject", "arn:aws:s3:::depts/ops/a")["Decision"] == "ImplicitDeny"
    with raises_cognito("NotAuthorizedException", "Logins don't match"):
        ci.get_credentials_for_identity(IdentityId=identity, Logins={provider.name: provider.token("grace")})


def test_unreachable_provider_and_social_logins(idp, provider):
    ci, iam = aws(idp, "cognito-identity"), aws(idp, "iam")
    arn = iam.create_open_id_connect_provider(Url=provider.issuer, ClientIDList=[CLIENT_ID])["OpenIDConnectProviderArn"]
    pool = ci.create_identity_pool(IdentityPoolName=unique("down"), AllowUnauthenticatedIdentities=False,
                                   OpenIdConnectProviderARNs=[arn],
                                   SupportedLoginProviders={"www.digits.com": "1234567890"})["IdentityPoolId"]
    token = provider.token("henry")
    provider.close()
    # The provider's failure, not the token's: Cognito's ExternalServiceException.
    with raises_cognito("ExternalServiceException"):
        ci.get_id(IdentityPoolId=pool, Logins={provider.name: token})
    # Digits, a provider Cognito has retired, is refused by name.
    with raises_cognito("NotAuthorizedException", "Logins from www.digits.com are not supported"):
        ci.get_id(IdentityPoolId=pool, Logins={"www.digits.com": "digits-token"})


def test_oidc_role_mapping_rules(idp, provider):
    """Rules on an OIDC provider's claims choose the role, keyed by the provider name."""
    ci, iam = aws(idp, "cognito-identity"), aws(idp, "iam")
    arn = iam.create_open_id_connect_provider(Url=provider.issuer, ClientIDList=[CLIENT_ID])["OpenIDConnectProviderArn"]
    pool = ci.create_identity_pool(IdentityPoolName=unique("rules"), AllowUnauthenticatedIdentities=False,
                                   OpenIdConnectProviderARNs=[arn])["IdentityPoolId"]

    def role(name, action):
        role_name = unique(name)
        created = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust_policy(pool, "authenticated"))
        iam.put_role_policy(RoleName=role_name, PolicyName="p", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}))
        return created["Role"]["Arn"]

    readers, admins = role("readers", "s3:GetObject"), role("admins", "s3:*")
    ci.set_identity_pool_roles(
        IdentityPoolId=pool, Roles={"authenticated": readers},
        RoleMappings={provider.name: {"Type": "Rules", "AmbiguousRoleResolution": "AuthenticatedRole",
                                      "RulesConfiguration": {"Rules": [
                                          {"Claim": "groups", "MatchType": "Contains", "Value": "admin",
                                           "RoleARN": admins}]}}})

    def creds(sub, **claims):
        token = provider.token(sub, **claims)
        identity = ci.get_id(IdentityPoolId=pool, Logins={provider.name: token})["IdentityId"]
        return ci.get_credentials_for_identity(IdentityId=identity, Logins={provider.name: token})["Credentials"]

    admin = creds("ivy", groups=["staff", "admin"])
    assert authorize(idp, admin, "s3:DeleteObject", "arn:aws:s3:::b/k")["Decision"] == "Allow"
    reader = creds("jack", groups=["staff"])
    assert authorize(idp, reader, "s3:GetObject", "arn:aws:s3:::b/k")["Decision"] == "Allow"
    assert authorize(idp, reader, "s3:DeleteObject", "arn:aws:s3:::b/k")["Decision"] == "ImplicitDeny"
