"""The seed documents' photo app, shared by the identity-pool tests: a user pool, an
identity pool with a role for signed-in users (their own prefix of `mybucket`) and one
for guests (`mybucket/assets/*`), the roles defined through idpool's IAM."""

from __future__ import annotations

import json

import boto3
from botocore.config import Config

from idpool_testlib import REGION, App, unique

PASSWORD = "Passw0rd-Creds1"
ACCOUNT = "123456789012"

# The seed documents' photo app: each identity reads and writes only its own prefix.
USER_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Action": ["s3:ListBucket"],
            "Effect": "Allow",
            "Resource": ["arn:aws:s3:::mybucket"],
            "Condition": {"StringLike": {"s3:prefix": ["${cognito-identity.amazonaws.com:sub}/*"]}},
        },
        {
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Effect": "Allow",
            "Resource": ["arn:aws:s3:::mybucket/${cognito-identity.amazonaws.com:sub}/*"],
        },
    ],
}
GUEST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Action": ["s3:GetObject"], "Effect": "Allow", "Resource": ["arn:aws:s3:::mybucket/assets/*"]}],
}


def trust_policy(identity_pool_id: str, amr: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": identity_pool_id},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": amr},
            },
        }],
    })


def aws(server, service: str, creds: dict | None = None):
    keys = creds or {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    return boto3.session.Session(region_name=REGION, **keys).client(
        service, endpoint_url=server.endpoint, config=Config(retries={"max_attempts": 1, "mode": "standard"})
    )


def session_keys(c: dict) -> dict:
    """boto3 keyword arguments for credentials from cognito-identity or STS."""
    return {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c.get("SecretKey") or c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }


class PhotoApp:
    """A user pool, an identity pool with user and guest roles, and the roles in IAM."""

    def __init__(self, server):
        self.server = server
        self.ci = aws(server, "cognito-identity")
        self.iam = aws(server, "iam")
        self.app = App.create(server.client())
        self.provider = f"cognito-idp.{REGION}.amazonaws.com/{self.app.pool_id}"
        self.pool_id = self.ci.create_identity_pool(
            IdentityPoolName=unique("photos"),
            AllowUnauthenticatedIdentities=True,
            CognitoIdentityProviders=[{"ProviderName": self.provider, "ClientId": self.app.client_id}],
        )["IdentityPoolId"]
        self.user_role = self.role("users", "authenticated", USER_POLICY)
        self.guest_role = self.role("guests", "unauthenticated", GUEST_POLICY)
        self.ci.set_identity_pool_roles(
            IdentityPoolId=self.pool_id,
            Roles={"authenticated": self.user_role, "unauthenticated": self.guest_role},
        )

    def role(self, name: str, amr: str, policy: dict) -> str:
        name = unique(name)
        arn = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy(self.pool_id, amr))["Role"]["Arn"]
        self.iam.put_role_policy(RoleName=name, PolicyName="access", PolicyDocument=json.dumps(policy))
        return arn

    def user(self, prefix: str = "user", **attrs) -> str:
        username = unique(prefix)
        client = self.server.client()
        client.admin_create_user(UserPoolId=self.app.pool_id, Username=username, MessageAction="SUPPRESS",
                                 UserAttributes=[{"Name": k, "Value": v} for k, v in attrs.items()])
        client.admin_set_user_password(UserPoolId=self.app.pool_id, Username=username, Password=PASSWORD,
                                       Permanent=True)
        return self.app.sign_in(username, PASSWORD)["IdToken"]

    def credentials(self, id_token: str | None, **kwargs) -> tuple[str, dict]:
        logins = {"Logins": {self.provider: id_token}} if id_token else {}
        identity = self.ci.get_id(IdentityPoolId=self.pool_id, **logins)["IdentityId"]
        got = self.ci.get_credentials_for_identity(IdentityId=identity, **logins, **kwargs)
        assert got["IdentityId"] == identity
        return identity, got["Credentials"]
