"""The seed's photo app enforced end to end on idpool's S3 endpoint, with boto3 only:
sign in to a user pool, GetId + GetCredentialsForIdentity, then S3 requests signed
with the temporary credentials, each authorized by the role's IAM policy: own prefix
allowed, another identity's objects denied, listing under the `s3:prefix` condition,
guests confined to `mybucket/assets/*`, presigned URLs, production mode refusing
anonymous and unknown callers, and expired credentials rejected."""

from __future__ import annotations

import datetime
import glob
import json

import boto3
import botocore.auth
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from idpool_testlib import REGION, IdpoolServer, unique
from photo_app import PhotoApp, session_keys

BUCKET = "mybucket"  # the seed's policy names it


def s3(server, creds: dict | None = None, keys: dict | None = None):
    """An S3 client for the server's S3 endpoint: temporary credentials, explicit keys,
    or any key (the admin, in dev mode)."""
    keys = keys or (session_keys(creds) if creds else {"aws_access_key_id": "test", "aws_secret_access_key": "test"})
    return boto3.session.Session(region_name=REGION, **keys).client(
        "s3", endpoint_url=server.s3_endpoint,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}),
    )


def error_code(call) -> tuple[str, int]:
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def ensure_bucket(admin) -> None:
    try:
        admin.create_bucket(Bucket=BUCKET)
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


def keys_of(listing: dict) -> list[str]:
    return [o["Key"] for o in listing.get("Contents", [])]


def test_photo_app_on_s3(idp):
    photos = PhotoApp(idp)
    admin = s3(idp)
    ensure_bucket(admin)
    admin.put_object(Bucket=BUCKET, Key="assets/logo.png", Body=b"logo")

    alice_id, alice_creds = photos.credentials(photos.user("alice"))
    bob_id, bob_creds = photos.credentials(photos.user("bob"))
    alice, bob = s3(idp, alice_creds), s3(idp, bob_creds)

    # Each user writes and reads their own prefix.
    alice.put_object(Bucket=BUCKET, Key=f"{alice_id}/photo.jpg", Body=b"alice's photo")
    bob.put_object(Bucket=BUCKET, Key=f"{bob_id}/photo.jpg", Body=b"bob's photo")
    assert alice.get_object(Bucket=BUCKET, Key=f"{alice_id}/photo.jpg")["Body"].read() == b"alice's photo"
    assert alice.head_object(Bucket=BUCKET, Key=f"{alice_id}/photo.jpg")["ContentLength"] == 13

    # ... and nobody else's.
    code, status = error_code(lambda: bob.get_object(Bucket=BUCKET, Key=f"{alice_id}/photo.jpg"))
    assert (code, status) == ("AccessDenied", 403)
    assert error_code(lambda: bob.put_object(Bucket=BUCKET, Key=f"{alice_id}/evil.jpg", Body=b"x"))[0] == "AccessDenied"
    assert error_code(lambda: alice.get_object(Bucket=BUCKET, Key="assets/logo.png"))[0] == "AccessDenied"
    assert error_code(lambda: alice.delete_object(Bucket=BUCKET, Key=f"{alice_id}/photo.jpg"))[0] == "AccessDenied"
    assert error_code(lambda: alice.create_bucket(Bucket=unique("other").lower()))[0] == "AccessDenied"
    assert error_code(lambda: alice.list_buckets())[0] == "AccessDenied"
    with pytest.raises(ClientError) as denied:
        bob.get_object(Bucket=BUCKET, Key=f"{alice_id}/photo.jpg")
    assert f"s3:GetObject on resource: arn:aws:s3:::{BUCKET}/{alice_id}/photo.jpg" in str(denied.value)

    # Listing: only under one's own prefix (the seed's s3:prefix condition).
    listing = alice.list_objects_v2(Bucket=BUCKET, Prefix=f"{alice_id}/")
    assert keys_of(listing) == [f"{alice_id}/photo.jpg"]
    assert keys_of(alice.list_objects(Bucket=BUCKET, Prefix=f"{alice_id}/")) == [f"{alice_id}/photo.jpg"]
    assert error_code(lambda: alice.list_objects_v2(Bucket=BUCKET, Prefix=f"{bob_id}/"))[0] == "AccessDenied"
    assert error_code(lambda: alice.list_objects_v2(Bucket=BUCKET))[0] == "AccessDenied"

    # Presigned URLs carry the same credentials and the same limits.
    mine = alice.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": f"{alice_id}/photo.jpg"})
    assert requests.get(mine, timeout=10).content == b"alice's photo"
    theirs = alice.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": f"{bob_id}/photo.jpg"})
    refused = requests.get(theirs, timeout=10)
    assert refused.status_code == 403 and b"<Code>AccessDenied</Code>" in refused.content

    # Guests read the public assets and nothing else.
    guest_id, guest_creds = photos.credentials(None)
    guest = s3(idp, guest_creds)
    assert guest.get_object(Bucket=BUCKET, Key="assets/logo.png")["Body"].read() == b"logo"
    assert error_code(lambda: guest.get_object(Bucket=BUCKET, Key=f"{alice_id}/photo.jpg"))[0] == "AccessDenied"
    assert error_code(lambda: guest.put_object(Bucket=BUCKET, Key="assets/x.png", Body=b"x"))[0] == "AccessDenied"
    assert error_code(lambda: guest.list_objects_v2(Bucket=BUCKET, Prefix="assets/"))[0] == "AccessDenied"

    # A changed role policy applies to credentials already issued.
    photos.iam.put_role_policy(
        RoleName=photos.user_role.rsplit("/", 1)[1], PolicyName="secrets-and-deletes",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*/secret*"},
            {"Effect": "Allow", "Action": "s3:DeleteObject",
             "Resource": f"arn:aws:s3:::{BUCKET}/${{cognito-identity.amazonaws.com:sub}}/*"},
        ]}))
    alice.put_object(Bucket=BUCKET, Key=f"{alice_id}/secret.txt", Body=b"s")
    assert error_code(lambda: alice.get_object(Bucket=BUCKET, Key=f"{alice_id}/secret.txt"))[0] == "AccessDenied"
    alice.delete_object(Bucket=BUCKET, Key=f"{alice_id}/secret.txt")
    assert keys_of(alice.list_objects_v2(Bucket=BUCKET, Prefix=f"{alice_id}/")) == [f"{alice_id}/photo.jpg"]


def test_tampered_or_foreign_credentials_are_refused(idp):
    photos = PhotoApp(idp)
    ensure_bucket(s3(idp))
    alice_id, alice_creds = photos.credentials(photos.user("alice"))
    _, bob_creds = photos.credentials(photos.user("bob"))
    key = f"{alice_id}/photo.jpg"

    wrong_secret = dict(alice_creds, SecretKey="x" * 40)
    assert error_code(lambda: s3(idp, wrong_secret).get_object(Bucket=BUCKET, Key=key)) == ("SignatureDoesNotMatch", 403)
    # Bob's session token with Alice's key pair: the token names its own key.
    mixed = dict(alice_creds, SessionToken=bob_creds["SessionToken"])
    assert error_code(lambda: s3(idp, mixed).get_object(Bucket=BUCKET, Key=key))[0] == "InvalidToken"
    garbage = dict(alice_creds, SessionToken="not-a-token")
    assert error_code(lambda: s3(idp, garbage).get_object(Bucket=BUCKET, Key=key))[0] == "InvalidToken"


@pytest.fixture(scope="module")
def prod_s3(start_idpool):
    return start_idpool(
        "s3-prod", dev=False,
        env={"IDPOOL_ADMIN_ACCESS_KEY_ID": "AKIAS3ADMINKEY000001", "IDPOOL_ADMIN_SECRET_ACCESS_KEY": "s3-admin-secret"},
    )


def test_production_s3_needs_known_credentials(prod_s3):
    admin = s3(prod_s3, keys={"aws_access_key_id": "AKIAS3ADMINKEY000001", "aws_secret_access_key": "s3-admin-secret"})
    bucket = unique("prod").lower()
    admin.create_bucket(Bucket=bucket)
    admin.put_object(Bucket=bucket, Key="a.txt", Body=b"a")
    assert admin.get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"a"

    anonymous = requests.get(f"{prod_s3.s3_endpoint}/{bucket}/a.txt", timeout=10)
    assert anonymous.status_code == 403 and b"AccessDenied" in anonymous.content
    stranger = s3(prod_s3, keys={"aws_access_key_id": "test", "aws_secret_access_key": "test"})
    assert error_code(lambda: stranger.get_object(Bucket=bucket, Key="a.txt")) == ("InvalidAccessKeyId", 403)
    wrong = s3(prod_s3, keys={"aws_access_key_id": "AKIAS3ADMINKEY000001", "aws_secret_access_key": "nope"})
    assert error_code(lambda: wrong.get_object(Bucket=bucket, Key="a.txt")) == ("SignatureDoesNotMatch", 403)


def libfaketime() -> str:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found:
        pytest.fail("libfaketime is missing: run scripts/setup-test-deps.sh", pytrace=False)
    return found[0]


def test_expired_credentials_are_rejected(start_idpool, tmp_path, monkeypatch):
    """Credentials issued now are refused by a node whose clock is two hours on (they
    last one hour). The second node shares the first's database and master key, as
    nodes of one deployment do, and has verified nothing before: the session token
    alone carries the grant and its expiry."""
    now_node = start_idpool("s3-now")
    photos = PhotoApp(now_node)
    ensure_bucket(s3(now_node))
    alice_id, alice_creds = photos.credentials(photos.user("alice"))
    s3(now_node, alice_creds).put_object(Bucket=BUCKET, Key=f"{alice_id}/photo.jpg", Body=b"p")
    s3(now_node).put_object(Bucket=BUCKET, Key="assets/logo.png", Body=b"logo")

    later_node = IdpoolServer(
        "s3-later", tmp_path / "later",
        env={"LD_PRELOAD": libfaketime(), "FAKETIME": "+2h", "FAKETIME_DONT_FAKE_MONOTONIC": "1"},
    )
    later_node.data_dir = now_node.data_dir
    later_node.start()
    try:
        # The client lives two hours on too, or every signature would be skewed.
        real_now = botocore.auth.get_current_datetime
        monkeypatch.setattr(botocore.auth, "get_current_datetime",
                            lambda: real_now() + datetime.timedelta(hours=2))
        code, status = error_code(lambda: s3(later_node, alice_creds).get_object(Bucket=BUCKET, Key=f"{alice_id}/photo.jpg"))
        assert (code, status) == ("ExpiredToken", 400)

        # Credentials issued on the later node, in its time, work there.
        later_ci = boto3.session.Session(region_name=REGION, aws_access_key_id="test",
                                         aws_secret_access_key="test").client(
            "cognito-identity", endpoint_url=later_node.endpoint)
        guest = later_ci.get_id(IdentityPoolId=photos.pool_id)["IdentityId"]
        guest_creds = later_ci.get_credentials_for_identity(IdentityId=guest)["Credentials"]
        assert s3(later_node, guest_creds).get_object(Bucket=BUCKET, Key="assets/logo.png")["Body"].read() == b"logo"
        monkeypatch.undo()
        # And the first node, in real time, still takes Alice's.
        assert s3(now_node, alice_creds).get_object(Bucket=BUCKET, Key=f"{alice_id}/photo.jpg")["Body"].read() == b"p"
    finally:
        later_node.stop()
