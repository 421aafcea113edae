"""Identity pools to enforced permissions, through boto3 only: roles defined with IAM,
GetCredentialsForIdentity (enhanced flow) and GetOpenIdToken + STS
AssumeRoleWithWebIdentity (basic flow), role mappings, and every decision checked by
requests signed with the temporary credentials (idpool's IAM itself, and the
authorization API `POST /_idpool/authorize`). On SQLite and PostgreSQL."""

from __future__ import annotations

import json

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from idpool_testlib import REGION, raises_cognito, unique
from photo_app import ACCOUNT, GUEST_POLICY, PASSWORD, USER_POLICY, PhotoApp, aws, session_keys, trust_policy

def authorize(server, creds: dict, action: str, resource: str, context: dict | None = None) -> dict:
    """Asks the authorization API, signing the request with the temporary credentials."""
    body = json.dumps({"Action": action, "Resource": resource, "Context": context or {}})
    keys = session_keys(creds)
    request = AWSRequest(method="POST", url=f"{server.endpoint}/_idpool/authorize", data=body,
                         headers={"content-type": "application/json"})
    SigV4Auth(Credentials(keys["aws_access_key_id"], keys["aws_secret_access_key"], keys["aws_session_token"]),
              "s3", REGION).add_auth(request)
    response = requests.post(request.url, data=body, headers=dict(request.headers), timeout=10)
    return {"status": response.status_code, **response.json()}


def test_photo_app_permissions_are_enforced(idp):
    photos = PhotoApp(idp)
    alice_id, alice = photos.credentials(photos.user("alice"))
    bob_id, bob = photos.credentials(photos.user("bob"))
    assert alice["AccessKeyId"].startswith("ASIA") and alice["AccessKeyId"] != bob["AccessKeyId"]

    own = authorize(idp, alice, "s3:PutObject", f"arn:aws:s3:::mybucket/{alice_id}/photo.jpg")
    assert own["status"] == 200 and own["Decision"] == "Allow", own
    assert own["IdentityId"] == alice_id
    assert own["Principal"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{photos.user_role.split('/')[-1]}/CognitoIdentityCredentials"
    assert authorize(idp, alice, "s3:GetObject", f"arn:aws:s3:::mybucket/{bob_id}/photo.jpg")["Decision"] == "ImplicitDeny"
    assert authorize(idp, bob, "s3:GetObject", f"arn:aws:s3:::mybucket/{bob_id}/photo.jpg")["Decision"] == "Allow"
    assert authorize(idp, alice, "s3:DeleteObject", f"arn:aws:s3:::mybucket/{alice_id}/photo.jpg")["Decision"] == "ImplicitDeny"
    # Listing is allowed only under the caller's own prefix (the policy's s3:prefix condition).
    assert authorize(idp, alice, "s3:ListBucket", "arn:aws:s3:::mybucket", {"s3:prefix": f"{alice_id}/"})["Decision"] == "Allow"
    assert authorize(idp, alice, "s3:ListBucket", "arn:aws:s3:::mybucket", {"s3:prefix": f"{bob_id}/"})["Decision"] == "ImplicitDeny"
    assert authorize(idp, alice, "s3:ListBucket", "arn:aws:s3:::mybucket")["Decision"] == "ImplicitDeny"

    # Guests get the unauthenticated role: the public assets only.
    guest_id, guest = photos.credentials(None)
    assert authorize(idp, guest, "s3:GetObject", "arn:aws:s3:::mybucket/assets/logo.png")["Decision"] == "Allow"
    assert authorize(idp, guest, "s3:GetObject", f"arn:aws:s3:::mybucket/{guest_id}/x")["Decision"] == "ImplicitDeny"
    assert authorize(idp, guest, "s3:PutObject", "arn:aws:s3:::mybucket/assets/logo.png")["Decision"] == "ImplicitDeny"

    # A role policy changed in IAM applies to credentials already issued.
    photos.iam.put_role_policy(RoleName=photos.user_role.split("/")[-1], PolicyName="no-deletes", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": f"arn:aws:s3:::mybucket/{alice_id}/private/*"}],
    }))
    assert authorize(idp, alice, "s3:GetObject", f"arn:aws:s3:::mybucket/{alice_id}/private/a")["Decision"] == "ExplicitDeny"

    # Credentials are checked: a wrong secret or a tampered session token is refused.
    forged = dict(alice, SecretKey="x" * 40)
    assert authorize(idp, forged, "s3:GetObject", f"arn:aws:s3:::mybucket/{alice_id}/a")["status"] == 403
    tampered = dict(alice, SessionToken=alice["SessionToken"][:-8] + "AAAAAAA=")
    refused = authorize(idp, tampered, "s3:GetObject", f"arn:aws:s3:::mybucket/{alice_id}/a")
    assert refused["status"] == 403 and refused["__type"] == "InvalidClientTokenId"
    swapped = dict(alice, SessionToken=bob["SessionToken"])
    assert authorize(idp, swapped, "s3:GetObject", f"arn:aws:s3:::mybucket/{alice_id}/a")["status"] == 403

    # STS knows who the credentials are.
    me = aws(idp, "sts", session_keys(alice)).get_caller_identity()
    assert me["Arn"] == own["Principal"] and me["Account"] == ACCOUNT


def test_logins_must_belong_to_the_identity(idp):
    photos = PhotoApp(idp)
    alice_token = photos.user("alice")
    alice_id, _ = photos.credentials(alice_token)
    bob_token = photos.user("bob")
    photos.credentials(bob_token)
    with raises_cognito("NotAuthorizedException", "Logins don't match"):
        photos.ci.get_credentials_for_identity(IdentityId=alice_id, Logins={photos.provider: bob_token})
    with raises_cognito("NotAuthorizedException", "Logins don't match"):
        photos.ci.get_credentials_for_identity(IdentityId=alice_id)
    with raises_cognito("NotAuthorizedException", "Logins don't match"):
        photos.ci.get_open_id_token(IdentityId=alice_id)
    with raises_cognito("ResourceNotFoundException"):
        photos.ci.get_credentials_for_identity(IdentityId=f"{REGION}:00000000-0000-0000-0000-000000000000")


def test_basic_flow_with_sts_and_trust_policies(idp):
    photos = PhotoApp(idp)
    token = photos.user("carol")
    identity = photos.ci.get_id(IdentityPoolId=photos.pool_id, Logins={photos.provider: token})["IdentityId"]
    open_id = photos.ci.get_open_id_token(IdentityId=identity, Logins={photos.provider: token})
    assert open_id["IdentityId"] == identity

    sts = aws(idp, "sts")
    assumed = sts.assume_role_with_web_identity(RoleArn=photos.user_role, RoleSessionName="carol-app",
                                                WebIdentityToken=open_id["Token"], DurationSeconds=900)
    assert assumed["SubjectFromWebIdentityToken"] == identity
    assert assumed["Audience"] == photos.pool_id
    assert assumed["AssumedRoleUser"]["Arn"].endswith("/carol-app")
    creds = assumed["Credentials"]
    assert authorize(idp, creds, "s3:PutObject", f"arn:aws:s3:::mybucket/{identity}/a.jpg")["Decision"] == "Allow"

    # A session policy narrows the role.
    narrowed = sts.assume_role_with_web_identity(
        RoleArn=photos.user_role, RoleSessionName="carol-ro", WebIdentityToken=open_id["Token"],
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))["Credentials"]
    assert authorize(idp, narrowed, "s3:GetObject", f"arn:aws:s3:::mybucket/{identity}/a.jpg")["Decision"] == "Allow"
    assert authorize(idp, narrowed, "s3:PutObject", f"arn:aws:s3:::mybucket/{identity}/a.jpg")["Decision"] == "ImplicitDeny"

    # The guest role trusts unauthenticated identities only.
    with pytest.raises(ClientError) as refused:
        sts.assume_role_with_web_identity(RoleArn=photos.guest_role, RoleSessionName="refused",
                                          WebIdentityToken=open_id["Token"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as bad_token:
        sts.assume_role_with_web_identity(RoleArn=photos.user_role, RoleSessionName="refused",
                                          WebIdentityToken=token)
    assert bad_token.value.response["Error"]["Code"] == "InvalidIdentityToken"

    # A role that does not trust this identity pool: the enhanced flow reports the
    # pool's configuration, as Cognito does.
    other_pool = photos.ci.create_identity_pool(IdentityPoolName=unique("other"),
                                                AllowUnauthenticatedIdentities=True)["IdentityPoolId"]
    photos.ci.set_identity_pool_roles(IdentityPoolId=other_pool, Roles={"unauthenticated": photos.guest_role})
    guest = photos.ci.get_id(IdentityPoolId=other_pool)["IdentityId"]
    with raises_cognito("InvalidIdentityPoolConfigurationException"):
        photos.ci.get_credentials_for_identity(IdentityId=guest)


def test_role_mappings_choose_the_role(idp):
    photos = PhotoApp(idp)
    admin_role = photos.role("admins", "authenticated", {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    cognito = idp.client()
    cognito.add_custom_attributes(UserPoolId=photos.app.pool_id,
                                  CustomAttributes=[{"Name": "tier", "AttributeDataType": "String"}])
    key = f"{photos.provider}:{photos.app.client_id}"
    photos.ci.set_identity_pool_roles(
        IdentityPoolId=photos.pool_id,
        Roles={"authenticated": photos.user_role, "unauthenticated": photos.guest_role},
        RoleMappings={key: {"Type": "Rules", "AmbiguousRoleResolution": "AuthenticatedRole",
                            "RulesConfiguration": {"Rules": [
                                {"Claim": "custom:tier", "MatchType": "Equals", "Value": "gold", "RoleARN": admin_role}]}}},
    )
    got = photos.ci.get_identity_pool_roles(IdentityPoolId=photos.pool_id)
    assert got["RoleMappings"][key]["RulesConfiguration"]["Rules"][0]["RoleARN"] == admin_role

    _, gold = photos.credentials(photos.user("gold", **{"custom:tier": "gold"}))
    assert authorize(idp, gold, "s3:DeleteBucket", "arn:aws:s3:::anything")["Decision"] == "Allow"
    plain_id, plain = photos.credentials(photos.user("plain"))
    assert authorize(idp, plain, "s3:DeleteBucket", "arn:aws:s3:::anything")["Decision"] == "ImplicitDeny"

    # Token-based mapping: the group's role arrives as cognito:preferred_role.
    cognito.create_group(UserPoolId=photos.app.pool_id, GroupName="staff", RoleArn=admin_role, Precedence=1)
    photos.ci.set_identity_pool_roles(
        IdentityPoolId=photos.pool_id,
        Roles={"authenticated": photos.user_role},
        RoleMappings={key: {"Type": "Token", "AmbiguousRoleResolution": "Deny"}},
    )
    staff = unique("staff")
    cognito.admin_create_user(UserPoolId=photos.app.pool_id, Username=staff, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=photos.app.pool_id, Username=staff, Password=PASSWORD, Permanent=True)
    cognito.admin_add_user_to_group(UserPoolId=photos.app.pool_id, Username=staff, GroupName="staff")
    _, staff_creds = photos.credentials(photos.app.sign_in(staff, PASSWORD)["IdToken"])
    assert authorize(idp, staff_creds, "s3:DeleteBucket", "arn:aws:s3:::anything")["Decision"] == "Allow"
    with raises_cognito("NotAuthorizedException", "ambiguous role mapping rules denied"):
        photos.credentials(photos.user("nogroup"))

    with raises_cognito("InvalidParameterException", "RulesConfiguration"):
        photos.ci.set_identity_pool_roles(IdentityPoolId=photos.pool_id, Roles={},
                                          RoleMappings={key: {"Type": "Rules", "AmbiguousRoleResolution": "Deny"}})
    assert plain_id


def test_iam_roles_and_policies(idp):
    iam = aws(idp, "iam")
    name = unique("role")
    trust = trust_policy(f"{REGION}:00000000-0000-0000-0000-000000000000", "authenticated")
    created = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust, Path="/app/",
                              Tags=[{"Key": "team", "Value": "photos"}])["Role"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/app/{name}"
    assert created["RoleId"].startswith("AROA")
    got = iam.get_role(RoleName=name)["Role"]
    assert got["AssumeRolePolicyDocument"] == json.loads(trust), "botocore decodes the URL-encoded document"
    assert got["Tags"] == [{"Key": "team", "Value": "photos"}]
    with pytest.raises(ClientError) as dup:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    assert dup.value.response["Error"]["Code"] == "EntityAlreadyExists"

    iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(GUEST_POLICY))
    assert iam.get_role_policy(RoleName=name, PolicyName="inline")["PolicyDocument"] == GUEST_POLICY
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["inline"]
    managed = iam.create_policy(PolicyName=unique("managed"), PolicyDocument=json.dumps(USER_POLICY))["Policy"]
    iam.attach_role_policy(RoleName=name, PolicyArn=managed["Arn"])
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == [
        {"PolicyName": managed["PolicyName"], "PolicyArn": managed["Arn"]}]
    assert iam.get_policy(PolicyArn=managed["Arn"])["Policy"]["AttachmentCount"] == 1
    version = iam.get_policy_version(PolicyArn=managed["Arn"], VersionId="v1")["PolicyVersion"]
    assert version["Document"] == USER_POLICY and version["IsDefaultVersion"]
    assert name in [r["RoleName"] for r in iam.list_roles(PathPrefix="/app/")["Roles"]]

    def code(call, **kw):
        with pytest.raises(ClientError) as e:
            call(**kw)
        return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]

    assert code(iam.delete_role, RoleName=name) == ("DeleteConflict", 409)
    assert code(iam.delete_policy, PolicyArn=managed["Arn"]) == ("DeleteConflict", 409)
    assert code(iam.get_role, RoleName="nope") == ("NoSuchEntity", 404)
    assert code(iam.put_role_policy, RoleName=name, PolicyName="bad", PolicyDocument="{not json") == (
        "MalformedPolicyDocument", 400)
    assert code(iam.put_role_policy, RoleName=name, PolicyName="bad", PolicyDocument=trust) == (
        "MalformedPolicyDocument", 400)
    assert code(iam.create_role, RoleName=unique("r"), AssumeRolePolicyDocument=json.dumps(GUEST_POLICY)) == (
        "MalformedPolicyDocument", 400)

    iam.detach_role_policy(RoleName=name, PolicyArn=managed["Arn"])
    iam.delete_role_policy(RoleName=name, PolicyName="inline")
    iam.delete_policy(PolicyArn=managed["Arn"])
    iam.delete_role(RoleName=name)
    assert code(iam.get_role, RoleName=name) == ("NoSuchEntity", 404)


def test_temporary_credentials_calling_iam_need_permission(idp):
    photos = PhotoApp(idp)
    _, creds = photos.credentials(photos.user("dave"))
    as_user = aws(idp, "iam", session_keys(creds))
    with pytest.raises(ClientError) as denied:
        as_user.list_roles()
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert "is not authorized to perform: iam:ListRoles" in denied.value.response["Error"]["Message"]
    photos.iam.put_role_policy(RoleName=photos.user_role.split("/")[-1], PolicyName="read-iam", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:List*", "Resource": "*"}]}))
    assert as_user.list_roles()["Roles"]
    with pytest.raises(ClientError) as still_denied:
        as_user.delete_role(RoleName=photos.user_role.split("/")[-1])
    assert still_denied.value.response["Error"]["Code"] == "AccessDenied"
