"""Production mode (no --dev): IAM-authorized operations need a SigV4
signature from the configured admin key pair; public operations do not."""

from __future__ import annotations

import datetime
import json
import secrets
from unittest import mock

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config as BotoConfig
from botocore.credentials import Credentials
from botocore.exceptions import ClientError as BotoClientError

from idpool_testlib import (
    REGION,
    aws_error_message,
    aws_error_type,
    cognito_client,
    create_client,
    create_pool,
    jwt_claims,
    raises_cognito,
    unique,
)

ACCESS_KEY = "AKIAIDPOOLTEST" + secrets.token_hex(3).upper()
SECRET_KEY = secrets.token_urlsafe(30)
TARGET_PREFIX = "AWSCognitoIdentityProviderService."
PW = "Passw0rd-One"


@pytest.fixture(scope="module")
def prod(start_idpool):
    return start_idpool(
        "production",
        dev=False,
        env={
            "IDPOOL_ADMIN_ACCESS_KEY_ID": ACCESS_KEY,
            "IDPOOL_ADMIN_SECRET_ACCESS_KEY": SECRET_KEY,
        },
    )


@pytest.fixture(scope="module")
def admin(prod):
    return cognito_client(prod.endpoint, ACCESS_KEY, SECRET_KEY)


@pytest.fixture(scope="module")
def public(prod):
    return cognito_client(prod.endpoint, unsigned=True)


@pytest.fixture(scope="module")
def app(admin):
    pool_id = create_pool(admin, AutoVerifiedAttributes=[])
    client_id, _ = create_client(admin, pool_id)
    return pool_id, client_id


def raw_request(endpoint: str, op: str, body: dict | str) -> AWSRequest:
    data = body if isinstance(body, str) else json.dumps(body)
    return AWSRequest(
        method="POST",
        url=f"{endpoint}/",
        data=data.encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": TARGET_PREFIX + op,
        },
    )


def sign(req: AWSRequest, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY, *, at=None) -> AWSRequest:
    signer = SigV4Auth(Credentials(access_key, secret_key), "cognito-idp", REGION)
    if at is None:
        signer.add_auth(req)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=at):
            signer.add_auth(req)
        assert req.headers["X-Amz-Date"] == at.strftime("%Y%m%dT%H%M%SZ")
    return req


def send(req: AWSRequest, *, body: bytes | None = None) -> requests.Response:
    headers = {k: v for k, v in req.headers.items()}
    return requests.post(req.url, data=req.body if body is None else body, headers=headers, timeout=30)


def utcnow_naive() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


# --------------------------------------------------------------------- signed admin operations


def test_right_keys_work(prod, admin, app):
    pool_id, client_id = app
    pools = admin.list_user_pools(MaxResults=60)["UserPools"]
    assert pool_id in {p["Id"] for p in pools}
    assert admin.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]["ClientId"] == client_id
    username = unique("admin-made")
    admin.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
    admin.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PW, Permanent=True)
    assert admin.admin_get_user(UserPoolId=pool_id, Username=username)["UserStatus"] == "CONFIRMED"


def test_raw_signed_request_works(prod):
    r = send(sign(raw_request(prod.endpoint, "ListUserPools", {"MaxResults": 10})))
    assert r.status_code == 200, r.text
    assert "UserPools" in r.json()
    assert r.headers.get("x-amzn-RequestId"), r.headers


def test_unknown_access_key(prod):
    other = cognito_client(prod.endpoint, "AKIANOTCONFIGURED000", SECRET_KEY)
    with raises_cognito("UnrecognizedClientException"):
        other.list_user_pools(MaxResults=10)
    with raises_cognito("UnrecognizedClientException"):
        other.create_user_pool(PoolName=unique("nope"))


def test_wrong_secret(prod):
    other = cognito_client(prod.endpoint, ACCESS_KEY, SECRET_KEY + "x")
    with raises_cognito("InvalidSignatureException"):
        other.list_user_pools(MaxResults=10)
    with raises_cognito("InvalidSignatureException"):
        other.admin_get_user(UserPoolId=f"{REGION}_AAAAAAAAA", Username="someone")


def test_dev_credentials_are_not_accepted(prod):
    dev_like = cognito_client(prod.endpoint, "test", "test")
    with pytest.raises(Exception) as ei:
        dev_like.list_user_pools(MaxResults=10)
    code = getattr(ei.value, "response", {}).get("Error", {}).get("Code")
    assert code in ("UnrecognizedClientException", "InvalidSignatureException"), ei.value


def test_unsigned_iam_operation(prod):
    r = send(raw_request(prod.endpoint, "ListUserPools", {"MaxResults": 10}))
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert aws_error_type(r) == "MissingAuthenticationTokenException", (r.headers, r.text)

    r = send(raw_request(prod.endpoint, "AdminGetUser", {"UserPoolId": f"{REGION}_AAAAAAAAA", "Username": "x"}))
    assert aws_error_type(r) == "MissingAuthenticationTokenException", (r.headers, r.text)

    # boto3 with signing turned off gets the same answer.
    with raises_cognito("MissingAuthenticationTokenException"):
        cognito_client(prod.endpoint, unsigned=True).list_user_pools(MaxResults=10)


def test_expired_signature(prod):
    old = utcnow_naive() - datetime.timedelta(minutes=20)
    r = send(sign(raw_request(prod.endpoint, "ListUserPools", {"MaxResults": 10}), at=old))
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert aws_error_type(r) == "InvalidSignatureException", (r.headers, r.text)
    assert "Signature expired" in aws_error_message(r), r.text


def test_signature_from_the_future(prod):
    future = utcnow_naive() + datetime.timedelta(minutes=20)
    r = send(sign(raw_request(prod.endpoint, "ListUserPools", {"MaxResults": 10}), at=future))
    assert aws_error_type(r) == "InvalidSignatureException", (r.headers, r.text)


def test_small_clock_skew_is_accepted(prod):
    slightly_old = utcnow_naive() - datetime.timedelta(minutes=3)
    r = send(sign(raw_request(prod.endpoint, "ListUserPools", {"MaxResults": 10}), at=slightly_old))
    assert r.status_code == 200, r.text


def test_tampered_body(prod):
    req = sign(raw_request(prod.endpoint, "ListUserPools", '{"MaxResults": 10}'))
    tampered = b'{"MaxResults": 11}'
    assert len(tampered) == len(req.body)
    r = send(req, body=tampered)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert aws_error_type(r) == "InvalidSignatureException", (r.headers, r.text)


def test_tampered_target(prod):
    req = sign(raw_request(prod.endpoint, "ListUserPools", {"MaxResults": 10}))
    del req.headers["X-Amz-Target"]
    req.headers["X-Amz-Target"] = TARGET_PREFIX + "DeleteUserPool"
    r = send(req, body=json.dumps({"UserPoolId": f"{REGION}_AAAAAAAAA"}).encode())
    assert aws_error_type(r) == "InvalidSignatureException", (r.headers, r.text)


# --------------------------------------------------------------------- public operations


def test_public_operations_need_no_signature(prod, admin, public, app):
    pool_id, client_id = app
    username = unique("public-user")

    # boto3 (the model marks these operations unsigned; signing is off anyway)
    resp = public.sign_up(ClientId=client_id, Username=username, Password=PW,
                          UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"}])
    assert resp["UserConfirmed"] is False
    with raises_cognito("UserNotConfirmedException"):
        public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": username, "PASSWORD": PW})
    admin.admin_confirm_sign_up(UserPoolId=pool_id, Username=username)
    result = public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": username, "PASSWORD": PW})["AuthenticationResult"]
    assert jwt_claims(result["IdToken"])["iss"] == f"{prod.endpoint}/{pool_id}"
    assert public.get_user(AccessToken=result["AccessToken"])["Username"] == username
    with raises_cognito("NotAuthorizedException", "Incorrect username or password."):
        public.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": username, "PASSWORD": "Wr0ng-Password"})

    # plain HTTP, no Authorization header at all
    raw_user = unique("raw-user")
    r = send(raw_request(prod.endpoint, "SignUp", {"ClientId": client_id, "Username": raw_user, "Password": PW}))
    assert r.status_code == 200, r.text
    assert r.json()["UserConfirmed"] is False
    admin.admin_confirm_sign_up(UserPoolId=pool_id, Username=raw_user)
    r = send(raw_request(prod.endpoint, "InitiateAuth", {
        "ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": raw_user, "PASSWORD": PW}}))
    assert r.status_code == 200, r.text
    access = r.json()["AuthenticationResult"]["AccessToken"]
    r = send(raw_request(prod.endpoint, "GetUser", {"AccessToken": access}))
    assert r.status_code == 200 and r.json()["Username"] == raw_user, r.text


def test_dev_endpoints_are_off(prod, admin, app):
    pool_id, _ = app
    r = requests.get(f"{prod.endpoint}/_idpool/outbox", params={"userPoolId": pool_id, "username": "x"}, timeout=10)
    assert r.status_code >= 400, (r.status_code, r.text)
    r = requests.post(f"{prod.endpoint}/_idpool/reset", timeout=10)
    assert r.status_code >= 400, (r.status_code, r.text)
    # and nothing was wiped
    assert admin.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Id"] == pool_id


def test_sts_and_iam_require_the_admin_signature_in_production(prod):
    """The Query edge (STS, IAM) authenticates like the JSON services: the admin key
    signs; unsigned, unknown-key and tampered requests get AWS's errors."""
    def iam(**kw):
        return boto3.session.Session(region_name="us-east-1", **kw).client(
            "iam", endpoint_url=prod.endpoint, config=BotoConfig(retries={"max_attempts": 1}))

    admin_iam = iam(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    assert "Roles" in admin_iam.list_roles()
    me = boto3.session.Session(region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
                               aws_secret_access_key=SECRET_KEY).client(
        "sts", endpoint_url=prod.endpoint).get_caller_identity()
    assert me["Arn"].endswith(":root")

    def code(client):
        try:
            client.list_roles()
        except BotoClientError as e:
            return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
        raise AssertionError("accepted")

    assert code(iam(aws_access_key_id="AKIDUNKNOWN", aws_secret_access_key=SECRET_KEY)) == (
        "InvalidClientTokenId", 403)
    assert code(iam(aws_access_key_id=ACCESS_KEY, aws_secret_access_key="wrong")) == (
        "SignatureDoesNotMatch", 403)
    unsigned = boto3.session.Session(region_name="us-east-1").client(
        "iam", endpoint_url=prod.endpoint, config=BotoConfig(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    assert code(unsigned) == ("MissingAuthenticationToken", 403)
    # A made-up session token is not a session.
    assert code(iam(aws_access_key_id="ASIAFAKEFAKEFAKEFAKE", aws_secret_access_key="x",
                    aws_session_token="bm90IGEgdG9rZW4=")) == ("InvalidClientTokenId", 403)
