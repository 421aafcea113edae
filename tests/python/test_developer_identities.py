"""cognito-identity through boto3: developer-authenticated identities
(GetOpenIdTokenForDeveloperIdentity, LookupDeveloperIdentity, MergeDeveloperIdentities,
UnlinkDeveloperIdentity), logins linked to one identity (GetId, UnlinkIdentity), the
classic-flow switch, principal tags from developer tokens, and identity pool tags. On
SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ClientError
from test_identity_credentials import aws, authorize, trust_policy

from idpool_testlib import REGION, App, raises_cognito, unique

ACCOUNT = "123456789012"
DEV = "login.myapp"
NO_SUCH_IDENTITY = f"{REGION}:00000000-0000-0000-0000-000000000000"
PASSWORD = "Passw0rd-Devid1"


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def dev_pool(ci, **kwargs) -> str:
    return ci.create_identity_pool(IdentityPoolName=unique("dev"), DeveloperProviderName=DEV,
                                   **{"AllowUnauthenticatedIdentities": False, **kwargs})["IdentityPoolId"]


def test_developer_identities_lifecycle(idp):
    ci = aws(idp, "cognito-identity")
    pool = dev_pool(ci)

    first = ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "user-1"},
                                                        TokenDuration=600)
    alice = first["IdentityId"]
    assert alice.startswith(f"{REGION}:")
    c = claims(first["Token"])
    assert c["aud"] == pool and c["sub"] == alice and c["exp"] - c["iat"] == 600
    assert c["amr"][:2] == ["authenticated", DEV] and c["amr"][2].endswith(":user-1")
    assert c["iss"] == f"{idp.endpoint}/cognito-identity"
    again = ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "user-1"})
    assert again["IdentityId"] == alice, "a developer user keeps its identity"
    default = claims(again["Token"])
    assert default["exp"] - default["iat"] == 900, "15 minutes by default"
    assert ci.describe_identity(IdentityId=alice)["Logins"] == [DEV]

    # A second developer user linked to the same identity by IdentityId.
    linked = ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool, IdentityId=alice,
                                                         Logins={DEV: "user-1b"})
    assert linked["IdentityId"] == alice
    assert ci.lookup_developer_identity(IdentityPoolId=pool, DeveloperUserIdentifier="user-1b",
                                        MaxResults=10)["IdentityId"] == alice
    page = ci.lookup_developer_identity(IdentityPoolId=pool, IdentityId=alice, MaxResults=1)
    assert page["IdentityId"] == alice and page["DeveloperUserIdentifierList"] == ["user-1"]
    rest = ci.lookup_developer_identity(IdentityPoolId=pool, IdentityId=alice, MaxResults=1,
                                        NextToken=page["NextToken"])
    assert rest["DeveloperUserIdentifierList"] == ["user-1b"] and "NextToken" not in rest
    both = ci.lookup_developer_identity(IdentityPoolId=pool, IdentityId=alice, DeveloperUserIdentifier="user-1")
    assert both["IdentityId"] == alice

    bob = ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "user-2"})["IdentityId"]
    assert bob != alice
    with raises_cognito("DeveloperUserAlreadyRegisteredException", "already registered"):
        ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool, IdentityId=bob, Logins={DEV: "user-1"})
    with raises_cognito("ResourceConflictException"):
        ci.lookup_developer_identity(IdentityPoolId=pool, IdentityId=bob, DeveloperUserIdentifier="user-1")
    with raises_cognito("InvalidParameterException"):
        ci.lookup_developer_identity(IdentityPoolId=pool)
    with raises_cognito("ResourceNotFoundException"):
        ci.lookup_developer_identity(IdentityPoolId=pool, DeveloperUserIdentifier="nobody")
    with raises_cognito("ResourceNotFoundException"):
        ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool, IdentityId=NO_SUCH_IDENTITY,
                                                    Logins={DEV: "user-9"})
    with raises_cognito("InvalidParameterException", "not a provider of this identity pool"):
        ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={"login.other": "user-1"})
    with raises_cognito("ValidationException", "tokenDuration"):
        ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "u"}, TokenDuration=86401)
    no_dev = ci.create_identity_pool(IdentityPoolName=unique("nodev"), AllowUnauthenticatedIdentities=True)
    with raises_cognito("InvalidParameterException"):
        ci.get_open_id_token_for_developer_identity(IdentityPoolId=no_dev["IdentityPoolId"], Logins={DEV: "u"})

    # Merging: the source user's identity joins the destination's.
    with raises_cognito("NotAuthorizedException", "developer provider"):
        ci.merge_developer_identities(SourceUserIdentifier="user-2", DestinationUserIdentifier="user-1",
                                      DeveloperProviderName="login.other", IdentityPoolId=pool)
    other_pool = dev_pool(ci)
    ci.get_open_id_token_for_developer_identity(IdentityPoolId=other_pool, Logins={DEV: "user-3"})
    with raises_cognito("ResourceNotFoundException"):
        ci.merge_developer_identities(SourceUserIdentifier="user-3", DestinationUserIdentifier="user-1",
                                      DeveloperProviderName=DEV, IdentityPoolId=pool)
    merged = ci.merge_developer_identities(SourceUserIdentifier="user-2", DestinationUserIdentifier="user-1",
                                           DeveloperProviderName=DEV, IdentityPoolId=pool)
    assert merged["IdentityId"] == alice
    assert ci.lookup_developer_identity(IdentityPoolId=pool, DeveloperUserIdentifier="user-2")["IdentityId"] == alice
    assert sorted(ci.lookup_developer_identity(IdentityPoolId=pool, IdentityId=alice)["DeveloperUserIdentifierList"]) == [
        "user-1", "user-1b", "user-2"]
    with raises_cognito("ResourceNotFoundException"):
        ci.describe_identity(IdentityId=bob)

    # Unlinking: the user is a new identity next time.
    ci.unlink_developer_identity(IdentityId=alice, IdentityPoolId=pool, DeveloperProviderName=DEV,
                                 DeveloperUserIdentifier="user-2")
    with raises_cognito("ResourceNotFoundException"):
        ci.lookup_developer_identity(IdentityPoolId=pool, DeveloperUserIdentifier="user-2")
    with raises_cognito("ResourceConflictException"):
        ci.unlink_developer_identity(IdentityId=alice, IdentityPoolId=pool, DeveloperProviderName=DEV,
                                     DeveloperUserIdentifier="user-2")
    with raises_cognito("ResourceNotFoundException"):
        ci.unlink_developer_identity(IdentityId=NO_SUCH_IDENTITY, IdentityPoolId=pool, DeveloperProviderName=DEV,
                                     DeveloperUserIdentifier="user-1")
    fresh = ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "user-2"})["IdentityId"]
    assert fresh not in (alice, bob)


def test_developer_identity_credentials_and_principal_tags(idp):
    ci, iam, sts = aws(idp, "cognito-identity"), aws(idp, "iam"), aws(idp, "sts")
    pool = dev_pool(ci)
    role = unique("devrole")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust_policy(pool, "authenticated"))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="by-team", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                       "Resource": "arn:aws:s3:::teams/${aws:PrincipalTag/team}/*"}]}))
    ci.set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": role_arn})

    got = ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "carol"},
                                                      PrincipalTags={"team": "blue"})
    carol, token = got["IdentityId"], got["Token"]
    assert claims(token)["https://aws.amazon.com/tags"] == {"principal_tags": {"team": ["blue"]}}

    # The enhanced flow: the token is the login `cognito-identity.amazonaws.com`.
    login = {"cognito-identity.amazonaws.com": token}
    assert ci.get_id(IdentityPoolId=pool, Logins=login)["IdentityId"] == carol
    creds = ci.get_credentials_for_identity(IdentityId=carol, Logins=login)["Credentials"]
    assert authorize(idp, creds, "s3:GetObject", "arn:aws:s3:::teams/blue/plan.txt")["Decision"] == "Allow"
    assert authorize(idp, creds, "s3:GetObject", "arn:aws:s3:::teams/red/plan.txt")["Decision"] == "ImplicitDeny"

    # The basic flow: STS takes the same token, with the same tags.
    assumed = sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="carol", WebIdentityToken=token)
    assert assumed["SubjectFromWebIdentityToken"] == carol
    assert authorize(idp, assumed["Credentials"], "s3:GetObject", "arn:aws:s3:::teams/blue/x")["Decision"] == "Allow"

    dave = ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "dave"})
    with raises_cognito("NotAuthorizedException", "Logins don't match"):
        ci.get_credentials_for_identity(IdentityId=carol, Logins={"cognito-identity.amazonaws.com": dave["Token"]})
    with raises_cognito("NotAuthorizedException", "Logins don't match"):
        ci.get_credentials_for_identity(IdentityId=carol)
    with raises_cognito("NotAuthorizedException", "Invalid login token"):
        ci.get_credentials_for_identity(IdentityId=carol, Logins={"cognito-identity.amazonaws.com": token[:-6] + "AAAAAA"})
    # A token of another identity pool is not a login here.
    other = dev_pool(ci)
    foreign = ci.get_open_id_token_for_developer_identity(IdentityPoolId=other, Logins={DEV: "carol"})["Token"]
    with raises_cognito("NotAuthorizedException", "Incorrect token audience"):
        ci.get_id(IdentityPoolId=pool, Logins={"cognito-identity.amazonaws.com": foreign})
    # The developer provider itself is not a login for GetId.
    with raises_cognito("NotAuthorizedException", "GetOpenIdTokenForDeveloperIdentity"):
        ci.get_id(IdentityPoolId=pool, Logins={DEV: "carol"})


def test_classic_flow_switch(idp):
    ci = aws(idp, "cognito-identity")
    closed = ci.create_identity_pool(IdentityPoolName=unique("enhanced"), AllowUnauthenticatedIdentities=True,
                                     AllowClassicFlow=False)["IdentityPoolId"]
    guest = ci.get_id(IdentityPoolId=closed)["IdentityId"]
    with raises_cognito("InvalidParameterException", "Basic (classic) flow is not enabled, please use enhanced flow."):
        ci.get_open_id_token(IdentityId=guest)
    opened = ci.create_identity_pool(IdentityPoolName=unique("classic"), AllowUnauthenticatedIdentities=True,
                                     AllowClassicFlow=True)["IdentityPoolId"]
    guest = ci.get_id(IdentityPoolId=opened)["IdentityId"]
    assert claims(ci.get_open_id_token(IdentityId=guest)["Token"])["amr"] == ["unauthenticated"]


def test_identity_pool_tags(idp):
    ci = aws(idp, "cognito-identity")
    pool = ci.create_identity_pool(IdentityPoolName=unique("tagged"), AllowUnauthenticatedIdentities=False,
                                   IdentityPoolTags={"team": "id"})["IdentityPoolId"]
    arn = f"arn:aws:cognito-identity:{REGION}:{ACCOUNT}:identitypool/{pool}"
    assert ci.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "id"}
    ci.tag_resource(ResourceArn=arn, Tags={"env": "test", "team": "core"})
    assert ci.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "core", "env": "test"}
    ci.untag_resource(ResourceArn=arn, TagKeys=["team", "absent"])
    assert ci.describe_identity_pool(IdentityPoolId=pool)["IdentityPoolTags"] == {"env": "test"}
    with raises_cognito("InvalidParameterException", "Invalid ARN"):
        ci.list_tags_for_resource(ResourceArn=f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{REGION}_abc")
    with raises_cognito("ResourceNotFoundException"):
        ci.tag_resource(ResourceArn=f"arn:aws:cognito-identity:{REGION}:{ACCOUNT}:identitypool/{NO_SUCH_IDENTITY}",
                        Tags={"a": "b"})
    with raises_cognito("InvalidParameterException", "at most 50 tags"):
        ci.tag_resource(ResourceArn=arn, Tags={f"k{i}": "v" for i in range(50)})


class TwoUserPools:
    """An identity pool trusting two user pools, so one person can hold two logins."""

    def __init__(self, idp):
        self.idp = idp
        self.ci = aws(idp, "cognito-identity")
        self.apps = [App.create(idp.client()), App.create(idp.client())]
        self.providers = [f"cognito-idp.{REGION}.amazonaws.com/{a.pool_id}" for a in self.apps]
        self.pool = self.ci.create_identity_pool(
            IdentityPoolName=unique("linked"), AllowUnauthenticatedIdentities=True,
            CognitoIdentityProviders=[{"ProviderName": p, "ClientId": a.client_id}
                                      for p, a in zip(self.providers, self.apps)],
        )["IdentityPoolId"]

    def token(self, which: int, prefix: str) -> str:
        app, client, name = self.apps[which], self.idp.client(), unique(prefix)
        client.admin_create_user(UserPoolId=app.pool_id, Username=name, MessageAction="SUPPRESS")
        client.admin_set_user_password(UserPoolId=app.pool_id, Username=name, Password=PASSWORD, Permanent=True)
        return app.sign_in(name, PASSWORD)["IdToken"]

    def get_id(self, **logins_by_index) -> str:
        logins = {self.providers[int(k[1:])]: v for k, v in logins_by_index.items()}
        return self.ci.get_id(IdentityPoolId=self.pool, Logins=logins)["IdentityId"]


def test_logins_link_to_one_identity(idp):
    two = TwoUserPools(idp)
    a, b = two.providers
    alice_a, alice_b = two.token(0, "alice"), two.token(1, "alice")
    alice = two.get_id(p0=alice_a, p1=alice_b)
    assert sorted(two.ci.describe_identity(IdentityId=alice)["Logins"]) == sorted([a, b])
    assert two.get_id(p1=alice_b) == alice, "either login finds the identity"

    # A second login added later is linked too.
    bob_a = two.token(0, "bob")
    bob = two.get_id(p0=bob_a)
    bob_b = two.token(1, "bob")
    assert two.get_id(p0=bob_a, p1=bob_b) == bob
    assert two.get_id(p1=bob_b) == bob

    # Logins of two identities in one request conflict.
    with raises_cognito("ResourceConflictException"):
        two.get_id(p0=alice_a, p1=bob_b)
    # An identity holds one user per provider.
    carol_b = two.token(1, "carol")
    with raises_cognito("ResourceConflictException"):
        two.ci.get_open_id_token(IdentityId=alice, Logins={a: alice_a, b: carol_b})

    # A guest that signs in keeps its identity.
    guest = two.ci.get_id(IdentityPoolId=two.pool)["IdentityId"]
    dave_a = two.token(0, "dave")
    assert two.ci.get_open_id_token(IdentityId=guest, Logins={a: dave_a})["IdentityId"] == guest
    assert two.get_id(p0=dave_a) == guest
    with raises_cognito("NotAuthorizedException", "Logins don't match"):
        two.ci.get_open_id_token(IdentityId=guest)

    # UnlinkIdentity: proven by a login of the identity, removes the providers named.
    with raises_cognito("NotAuthorizedException", "Logins don't match"):
        two.ci.unlink_identity(IdentityId=alice, Logins={a: bob_a}, LoginsToRemove=[b])
    with raises_cognito("ResourceNotFoundException"):
        two.ci.unlink_identity(IdentityId=NO_SUCH_IDENTITY, Logins={a: alice_a}, LoginsToRemove=[b])
    two.ci.unlink_identity(IdentityId=alice, Logins={a: alice_a}, LoginsToRemove=[b])
    assert two.ci.describe_identity(IdentityId=alice)["Logins"] == [a]
    assert two.get_id(p1=alice_b) != alice, "an unlinked login is a new identity next time"


def test_developer_operations_need_the_admin_signature_in_production(start_idpool):
    """GetOpenIdTokenForDeveloperIdentity and the other developer operations are
    IAM-authorized (your backend calls them); UnlinkIdentity is public. And IAM takes
    only https:// OIDC provider URLs outside dev mode."""
    import secrets

    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    access, secret = "AKIAIDPOOLDEV" + secrets.token_hex(3).upper(), secrets.token_urlsafe(30)
    prod = start_idpool("production-devid", dev=False,
                        env={"IDPOOL_ADMIN_ACCESS_KEY_ID": access, "IDPOOL_ADMIN_SECRET_ACCESS_KEY": secret})

    def client(service, **keys):
        return boto3.session.Session(region_name=REGION, **keys).client(
            service, endpoint_url=prod.endpoint, config=Config(retries={"max_attempts": 1}, **(
                {} if keys else {"signature_version": UNSIGNED})))

    admin = client("cognito-identity", aws_access_key_id=access, aws_secret_access_key=secret)
    pool = dev_pool(admin)
    got = admin.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "u1"})
    unsigned = client("cognito-identity")
    with raises_cognito("MissingAuthenticationTokenException"):
        unsigned.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "u1"})
    with raises_cognito("MissingAuthenticationTokenException"):
        unsigned.lookup_developer_identity(IdentityPoolId=pool, DeveloperUserIdentifier="u1")
    # Public: answered on its merits (the developer token proves the identity), but a
    # user cannot undo the developer's links.
    proof = {"cognito-identity.amazonaws.com": got["Token"]}
    with raises_cognito("InvalidParameterException", "UnlinkDeveloperIdentity"):
        unsigned.unlink_identity(IdentityId=got["IdentityId"], Logins=proof, LoginsToRemove=[DEV])
    unsigned.unlink_identity(IdentityId=got["IdentityId"], Logins=proof, LoginsToRemove=["accounts.example.com"])
    assert admin.describe_identity(IdentityId=got["IdentityId"])["Logins"] == [DEV]

    iam = client("iam", aws_access_key_id=access, aws_secret_access_key=secret)
    with pytest.raises(ClientError) as refused:
        iam.create_open_id_connect_provider(Url="http://127.0.0.1:9/", ClientIDList=["a"])
    assert refused.value.response["Error"]["Code"] == "InvalidInput"
    assert iam.create_open_id_connect_provider(Url="https://accounts.example.com", ClientIDList=["a"])[
        "OpenIDConnectProviderArn"].endswith(":oidc-provider/accounts.example.com")


def test_concurrent_first_sign_ins_share_one_identity(idp):
    """Many first sign-ins of one developer user at once: one identity, no errors
    (the store's unique login key decides, the losers find the winner's identity)."""
    from concurrent.futures import ThreadPoolExecutor

    ci = aws(idp, "cognito-identity")
    pool = dev_pool(ci)

    def sign_in(_):
        client = aws(idp, "cognito-identity")
        return client.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "racer"})["IdentityId"]

    with ThreadPoolExecutor(max_workers=8) as pool_of_threads:
        ids = set(pool_of_threads.map(sign_in, range(16)))
    assert len(ids) == 1
    assert ci.list_identities(IdentityPoolId=pool, MaxResults=60)["Identities"][0]["IdentityId"] in ids
    assert len(ci.list_identities(IdentityPoolId=pool, MaxResults=60)["Identities"]) == 1


def test_developer_logins_beside_public_ones(idp):
    """GetOpenIdTokenForDeveloperIdentity links public logins given beside the developer
    user; merging two identities that hold different users of one public provider is
    a conflict."""
    ci = aws(idp, "cognito-identity")
    app = App.create(idp.client())
    provider = f"cognito-idp.{REGION}.amazonaws.com/{app.pool_id}"
    pool = ci.create_identity_pool(IdentityPoolName=unique("mixed"), AllowUnauthenticatedIdentities=False,
                                   DeveloperProviderName=DEV,
                                   CognitoIdentityProviders=[{"ProviderName": provider,
                                                              "ClientId": app.client_id}])["IdentityPoolId"]

    def id_token(prefix):
        name, client = unique(prefix), idp.client()
        client.admin_create_user(UserPoolId=app.pool_id, Username=name, MessageAction="SUPPRESS")
        client.admin_set_user_password(UserPoolId=app.pool_id, Username=name, Password=PASSWORD, Permanent=True)
        return app.sign_in(name, PASSWORD)["IdToken"]

    alice_token, bob_token = id_token("alice"), id_token("bob")
    alice = ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool,
                                                        Logins={DEV: "d-alice", provider: alice_token})
    assert sorted(ci.describe_identity(IdentityId=alice["IdentityId"])["Logins"]) == sorted([DEV, provider])
    amr = claims(alice["Token"])["amr"]
    assert DEV in amr and provider in amr
    # The user pool login alone finds the same identity.
    assert ci.get_id(IdentityPoolId=pool, Logins={provider: alice_token})["IdentityId"] == alice["IdentityId"]

    ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "d-bob", provider: bob_token})
    with raises_cognito("ResourceConflictException"):
        ci.merge_developer_identities(SourceUserIdentifier="d-bob", DestinationUserIdentifier="d-alice",
                                      DeveloperProviderName=DEV, IdentityPoolId=pool)
    # A developer user given with a public login of another identity conflicts too.
    with raises_cognito("ResourceConflictException"):
        ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "d-alice", provider: bob_token})
