"""Cognito Sync through boto3's `cognito-sync` client (REST JSON): datasets synced by two
devices of one identity (a conflict, then its resolution), the identity's own
temporary credentials, errors, pool configuration and usage, Cognito Streams delivered
to an HTTP stream target and bulk publish, and the server-sent-events endpoint. On
SQLite and PostgreSQL; production-mode signatures on SQLite."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from idpool_testlib import REGION, ScratchDatabase, postgres_url, raises_cognito, server_on_backend, unique

ACCOUNT = "123456789012"
GUEST_ROLE = f"arn:aws:iam::{ACCOUNT}:role/sync-guests"
PUSH = {"ApplicationArns": [f"arn:aws:sns:{REGION}:{ACCOUNT}:app/GCM/notes"],
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/push"}
STREAM_ROLE = f"arn:aws:iam::{ACCOUNT}:role/streams"
TRIGGER_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sync-trigger"
PUSH_SECRET = "push-relay-secret"


def aws(server, service: str, creds: dict | None = None):
    keys = creds or {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    return boto3.session.Session(region_name=REGION, **keys).client(
        service, endpoint_url=server.endpoint, config=Config(retries={"max_attempts": 1, "mode": "standard"})
    )


def session_keys(c: dict) -> dict:
    return {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretKey"],
        "aws_session_token": c["SessionToken"],
    }


def guest_pool(ci) -> str:
    pool = ci.create_identity_pool(IdentityPoolName=unique("sync"), AllowUnauthenticatedIdentities=True)
    pool_id = pool["IdentityPoolId"]
    ci.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"unauthenticated": GUEST_ROLE})
    return pool_id


def guest(ci, pool_id: str) -> tuple[str, dict]:
    """A new guest identity and its temporary credentials."""
    identity = ci.get_id(IdentityPoolId=pool_id)["IdentityId"]
    creds = ci.get_credentials_for_identity(IdentityId=identity)["Credentials"]
    return identity, session_keys(creds)


class Device:
    """One app install: a cognito-sync client with the identity's credentials, its
    DeviceId and its local copy of a dataset (records and last sync count), synced the
    way the mobile SDKs do (ListRecords, then UpdateRecords with the session token)."""

    def __init__(self, server, pool_id: str, identity: str, creds: dict, device_id: str, dataset: str):
        self.cs = aws(server, "cognito-sync", creds)
        self.pool_id, self.identity, self.device_id, self.dataset = pool_id, identity, device_id, dataset
        self.local: dict[str, dict] = {}
        self.sync_count = 0

    def ids(self) -> dict:
        return {"IdentityPoolId": self.pool_id, "IdentityId": self.identity, "DatasetName": self.dataset}

    def pull(self) -> dict:
        got = self.cs.list_records(**self.ids(), LastSyncCount=self.sync_count)
        for r in got["Records"]:
            self.local[r["Key"]] = r
        self.sync_count = got["DatasetSyncCount"]
        return got

    def push(self, token: str, changes: dict[str, str | None]) -> list[dict]:
        patches = []
        for key, value in changes.items():
            patch = {"Op": "remove" if value is None else "replace", "Key": key,
                     "SyncCount": self.local.get(key, {}).get("SyncCount", 0)}
            if value is not None:
                patch["Value"] = value
            patches.append(patch)
        stored = self.cs.update_records(**self.ids(), DeviceId=self.device_id, RecordPatches=patches,
                                        SyncSessionToken=token)["Records"]
        for r in stored:
            self.local[r["Key"]] = r
        if stored:
            self.sync_count = stored[0]["SyncCount"]
        return stored


def test_two_devices_sync_with_a_conflict_and_its_resolution(idp):
    ci, dev = aws(idp, "cognito-identity"), aws(idp, "cognito-sync")
    pool_id = guest_pool(ci)
    identity, creds = guest(ci, pool_id)
    dev.set_identity_pool_configuration(IdentityPoolId=pool_id, PushSync=PUSH)
    phone_cs = aws(idp, "cognito-sync", creds)
    phone_id = phone_cs.register_device(IdentityPoolId=pool_id, IdentityId=identity, Platform="GCM",
                                        Token="phone-token")["DeviceId"]
    tablet_id = phone_cs.register_device(IdentityPoolId=pool_id, IdentityId=identity, Platform="GCM",
                                         Token="tablet-token")["DeviceId"]
    assert phone_id != tablet_id
    assert phone_cs.register_device(IdentityPoolId=pool_id, IdentityId=identity, Platform="GCM",
                                    Token="phone-token")["DeviceId"] == phone_id, "re-registering is stable"
    phone = Device(idp, pool_id, identity, creds, phone_id, "settings")
    tablet = Device(idp, pool_id, identity, creds, tablet_id, "settings")

    first = phone.pull()
    assert first["DatasetExists"] is False and first["Records"] == [] and first["DatasetSyncCount"] == 0
    stored = phone.push(first["SyncSessionToken"], {"theme": "dark", "font": "serif"})
    assert {(r["Key"], r["Value"], r["SyncCount"], r["LastModifiedBy"]) for r in stored} == {
        ("theme", "dark", 1, phone_id), ("font", "serif", 1, phone_id)}

    got = tablet.pull()
    assert got["DatasetExists"] is True and got["DatasetSyncCount"] == 1 and got["Count"] == 2
    assert {r["Key"]: r["Value"] for r in got["Records"]} == {"theme": "dark", "font": "serif"}

    # The phone changes the theme; the tablet, which pulled before that, changes it too.
    tablet_token = tablet.pull()["SyncSessionToken"]
    token = phone.pull()["SyncSessionToken"]
    phone.push(token, {"theme": "light"})
    with raises_cognito("ResourceConflictException", "Current SyncCount for: theme is: 2 not: 1") as ei:
        tablet.push(tablet_token, {"theme": "solarized", "font": "mono"})
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    # Nothing of the refused update was stored.
    assert phone.pull()["Records"] == []

    # The tablet pulls the remote change, merges, and pushes with the new count.
    pulled = tablet.pull()
    assert [(r["Key"], r["Value"], r["SyncCount"], r["LastModifiedBy"]) for r in pulled["Records"]] == [
        ("theme", "light", 2, phone_id)]
    merged = tablet.push(pulled["SyncSessionToken"], {"theme": "light+solarized", "font": "mono"})
    assert {r["SyncCount"] for r in merged} == {3}

    # The phone sees the tablet's resolution, then removes a record.
    got = phone.pull()
    assert {r["Key"]: (r["Value"], r["LastModifiedBy"]) for r in got["Records"]} == {
        "theme": ("light+solarized", tablet_id), "font": ("mono", tablet_id)}
    phone.push(got["SyncSessionToken"], {"font": None})
    removed = tablet.pull()["Records"]
    assert [(r["Key"], r.get("Value"), r["SyncCount"]) for r in removed] == [("font", None, 4)]

    ds = phone.cs.describe_dataset(IdentityPoolId=pool_id, IdentityId=identity, DatasetName="settings")["Dataset"]
    assert ds["NumRecords"] == 1 and ds["LastModifiedBy"] == phone_id
    assert ds["DataStorage"] == len("theme") + len("light+solarized")
    listed = phone.cs.list_datasets(IdentityPoolId=pool_id, IdentityId=identity)
    assert listed["Count"] == 1 and listed["Datasets"][0]["DatasetName"] == "settings"
    usage = phone.cs.describe_identity_usage(IdentityPoolId=pool_id, IdentityId=identity)["IdentityUsage"]
    assert usage["DatasetCount"] == 1 and usage["DataStorage"] == ds["DataStorage"]

    # Subscriptions are the registered device's own.
    phone.cs.subscribe_to_dataset(IdentityPoolId=pool_id, IdentityId=identity, DatasetName="settings",
                                  DeviceId=phone_id)
    phone.cs.unsubscribe_from_dataset(IdentityPoolId=pool_id, IdentityId=identity, DatasetName="settings",
                                      DeviceId=phone_id)
    with raises_cognito("ResourceNotFoundException", "Device"):
        phone.cs.subscribe_to_dataset(IdentityPoolId=pool_id, IdentityId=identity, DatasetName="settings",
                                      DeviceId="not-a-device")

    # Deleting the dataset: devices learn it was deleted after their sync count.
    deleted = dev.delete_dataset(IdentityPoolId=pool_id, IdentityId=identity, DatasetName="settings")["Dataset"]
    assert deleted["NumRecords"] == 1
    after = tablet.cs.list_records(IdentityPoolId=pool_id, IdentityId=identity, DatasetName="settings",
                                   LastSyncCount=4)
    assert after["DatasetExists"] is False and after["DatasetDeletedAfterRequestedSyncCount"] is True
    assert after["DatasetSyncCount"] == 5
    assert dev.list_datasets(IdentityPoolId=pool_id, IdentityId=identity)["Datasets"] == []


def test_identity_credentials_reach_only_their_own_identity(idp):
    ci, dev = aws(idp, "cognito-identity"), aws(idp, "cognito-sync")
    pool_id = guest_pool(ci)
    alice, alice_creds = guest(ci, pool_id)
    bob, _ = guest(ci, pool_id)
    as_alice = aws(idp, "cognito-sync", alice_creds)
    token = as_alice.list_records(IdentityPoolId=pool_id, IdentityId=alice, DatasetName="d")["SyncSessionToken"]
    as_alice.update_records(IdentityPoolId=pool_id, IdentityId=alice, DatasetName="d", SyncSessionToken=token,
                            RecordPatches=[{"Op": "replace", "Key": "k", "Value": "v", "SyncCount": 0}])
    for call in (
        lambda: as_alice.list_datasets(IdentityPoolId=pool_id, IdentityId=bob),
        lambda: as_alice.list_records(IdentityPoolId=pool_id, IdentityId=bob, DatasetName="d"),
        lambda: as_alice.describe_identity_usage(IdentityPoolId=pool_id, IdentityId=bob),
        lambda: as_alice.delete_dataset(IdentityPoolId=pool_id, IdentityId=bob, DatasetName="d"),
    ):
        with raises_cognito("NotAuthorizedException", bob):
            call()
    # Developer-only operations refuse an identity's credentials, even in dev mode.
    for call in (
        lambda: as_alice.get_identity_pool_configuration(IdentityPoolId=pool_id),
        lambda: as_alice.describe_identity_pool_usage(IdentityPoolId=pool_id),
        lambda: as_alice.bulk_publish(IdentityPoolId=pool_id),
        lambda: as_alice.set_cognito_events(IdentityPoolId=pool_id, Events={}),
    ):
        with raises_cognito("NotAuthorizedException", "developer credentials"):
            call()
    # A token from one identity's ListRecords does not open another's dataset.
    bob_token = dev.list_records(IdentityPoolId=pool_id, IdentityId=bob, DatasetName="d")["SyncSessionToken"]
    with raises_cognito("InvalidParameterException", "another dataset"):
        as_alice.update_records(IdentityPoolId=pool_id, IdentityId=alice, DatasetName="d",
                                SyncSessionToken=bob_token,
                                RecordPatches=[{"Op": "replace", "Key": "k", "Value": "w", "SyncCount": 1}])
    # The developer reaches everyone.
    assert dev.describe_dataset(IdentityPoolId=pool_id, IdentityId=alice, DatasetName="d")["Dataset"]["NumRecords"] == 1


def test_errors(idp):
    ci, cs = aws(idp, "cognito-identity"), aws(idp, "cognito-sync")
    pool_id = guest_pool(ci)
    identity, _ = guest(ci, pool_id)
    missing_pool = f"{REGION}:00000000-0000-4000-8000-000000000000"
    missing_identity = f"{REGION}:00000000-0000-4000-8000-000000000001"
    ids = {"IdentityPoolId": pool_id, "IdentityId": identity}

    with raises_cognito("InvalidParameterException", "datasetName"):
        cs.describe_dataset(**ids, DatasetName="no spaces allowed")
    with raises_cognito("ResourceNotFoundException", "IdentityPool"):
        cs.describe_identity_pool_usage(IdentityPoolId=missing_pool)
    with raises_cognito("ResourceNotFoundException", "Identity"):
        cs.describe_identity_usage(IdentityPoolId=pool_id, IdentityId=missing_identity)
    with raises_cognito("NotAuthorizedException", "not found"):
        cs.list_datasets(IdentityPoolId=missing_pool, IdentityId=identity)
    with raises_cognito("ResourceNotFoundException", "Dataset 'nothing' not found."):
        cs.describe_dataset(**ids, DatasetName="nothing")
    with raises_cognito("ResourceNotFoundException"):
        cs.delete_dataset(**ids, DatasetName="nothing")

    with raises_cognito("InvalidParameterException", "SyncSessionToken"):
        cs.update_records(**ids, DatasetName="d", SyncSessionToken="forged",
                          RecordPatches=[{"Op": "replace", "Key": "k", "Value": "v", "SyncCount": 0}])
    token = cs.list_records(**ids, DatasetName="d")["SyncSessionToken"]
    with raises_cognito("InvalidParameterException", "another dataset"):
        cs.update_records(**ids, DatasetName="other", SyncSessionToken=token,
                          RecordPatches=[{"Op": "replace", "Key": "k", "Value": "v", "SyncCount": 0}])
    with raises_cognito("InvalidParameterException", "Duplicate record key"):
        cs.update_records(**ids, DatasetName="d", SyncSessionToken=token,
                          RecordPatches=[{"Op": "replace", "Key": "k", "Value": "v", "SyncCount": 0},
                                         {"Op": "remove", "Key": "k", "SyncCount": 0}])
    with raises_cognito("InvalidParameterException", "enum value set"):
        cs.update_records(**ids, DatasetName="d", SyncSessionToken=token,
                          RecordPatches=[{"Op": "upsert", "Key": "k", "Value": "v", "SyncCount": 0}])
    with raises_cognito("InvalidParameterException", "No such SyncCount: 3 exists for this Dataset"):
        cs.list_records(**ids, DatasetName="d", LastSyncCount=3)

    # Cognito's quotas: 20 datasets per identity, 1 MB per dataset.
    for i in range(20):
        cs.update_records(**ids, DatasetName=f"d{i}", SyncSessionToken=cs.list_records(
            **ids, DatasetName=f"d{i}")["SyncSessionToken"],
            RecordPatches=[{"Op": "replace", "Key": "k", "Value": "v", "SyncCount": 0}])
    token = cs.list_records(**ids, DatasetName="d20")["SyncSessionToken"]
    with raises_cognito("LimitExceededException", "datasets"):
        cs.update_records(**ids, DatasetName="d20", SyncSessionToken=token,
                          RecordPatches=[{"Op": "replace", "Key": "k", "Value": "v", "SyncCount": 0}])
    token = cs.list_records(**ids, DatasetName="d0")["SyncSessionToken"]
    big = "x" * 600_000
    with raises_cognito("LimitExceededException", "size"):
        cs.update_records(**ids, DatasetName="d0", SyncSessionToken=token,
                          RecordPatches=[{"Op": "replace", "Key": "a", "Value": big, "SyncCount": 0},
                                         {"Op": "replace", "Key": "b", "Value": big, "SyncCount": 0}])
    assert cs.describe_dataset(**ids, DatasetName="d0")["Dataset"]["NumRecords"] == 1

    with raises_cognito("InvalidConfigurationException", "Push sync"):
        cs.register_device(**ids, Platform="GCM", Token="t")
    with raises_cognito("InvalidParameterException", "SyncTrigger"):
        cs.set_cognito_events(IdentityPoolId=pool_id, Events={"Nope": "arn:aws:lambda:us-east-1:1:function:f"})
    with raises_cognito("InvalidParameterException", "not enabled"):
        cs.bulk_publish(IdentityPoolId=pool_id)


def test_unknown_routes_are_unknown_operations(idp):
    r = requests.get(f"{idp.endpoint}/identitypools/{REGION}:abc/nothing-here")
    assert r.status_code == 400
    assert r.headers["x-amzn-ErrorType"] == "UnknownOperationException"


def test_pool_configuration_events_and_usage(idp):
    ci, cs = aws(idp, "cognito-identity"), aws(idp, "cognito-sync")
    pool_id = guest_pool(ci)
    empty = cs.get_identity_pool_configuration(IdentityPoolId=pool_id)
    assert empty["IdentityPoolId"] == pool_id and "PushSync" not in empty and "CognitoStreams" not in empty
    streams = {"StreamName": "app-stream", "RoleArn": STREAM_ROLE, "StreamingStatus": "DISABLED"}
    got = cs.set_identity_pool_configuration(IdentityPoolId=pool_id, PushSync=PUSH, CognitoStreams=streams)
    assert got["PushSync"] == PUSH and got["CognitoStreams"] == streams
    # Each part is kept when the other is set.
    cs.set_identity_pool_configuration(IdentityPoolId=pool_id, CognitoStreams={**streams, "StreamingStatus": "ENABLED"})
    got = cs.get_identity_pool_configuration(IdentityPoolId=pool_id)
    assert got["PushSync"] == PUSH and got["CognitoStreams"]["StreamingStatus"] == "ENABLED"

    assert cs.get_cognito_events(IdentityPoolId=pool_id)["Events"] == {}
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sync-trigger"
    cs.set_cognito_events(IdentityPoolId=pool_id, Events={"SyncTrigger": arn})
    assert cs.get_cognito_events(IdentityPoolId=pool_id)["Events"] == {"SyncTrigger": arn}
    cs.set_cognito_events(IdentityPoolId=pool_id, Events={})
    assert cs.get_cognito_events(IdentityPoolId=pool_id)["Events"] == {}

    assert cs.get_bulk_publish_details(IdentityPoolId=pool_id)["BulkPublishStatus"] == "NOT_STARTED"
    usage = cs.describe_identity_pool_usage(IdentityPoolId=pool_id)["IdentityPoolUsage"]
    assert usage["SyncSessionsCount"] == 0 and usage["DataStorage"] == 0
    identity, _ = guest(ci, pool_id)
    ids = {"IdentityPoolId": pool_id, "IdentityId": identity, "DatasetName": "d"}
    token = cs.list_records(**ids)["SyncSessionToken"]
    cs.update_records(**ids, SyncSessionToken=token,
                      RecordPatches=[{"Op": "replace", "Key": "key", "Value": "value", "SyncCount": 0}])
    usage = cs.describe_identity_pool_usage(IdentityPoolId=pool_id)["IdentityPoolUsage"]
    assert usage["SyncSessionsCount"] == 1 and usage["DataStorage"] == len("keyvalue")
    assert "LastModifiedDate" in usage

    others = [guest_pool(ci) for _ in range(2)]
    seen, token = [], None
    while True:
        page = cs.list_identity_pool_usage(MaxResults=2, **({"NextToken": token} if token else {}))
        assert page["Count"] == len(page["IdentityPoolUsages"]) <= 2
        seen += [u["IdentityPoolId"] for u in page["IdentityPoolUsages"]]
        token = page.get("NextToken")
        if not token:
            break
    assert set(seen) >= {pool_id, *others}

    # Deleting the identity pool takes its Sync data and settings along.
    ci.delete_identity_pool(IdentityPoolId=pool_id)
    with raises_cognito("ResourceNotFoundException"):
        cs.get_identity_pool_configuration(IdentityPoolId=pool_id)
    with raises_cognito("NotAuthorizedException", "not found"):
        cs.list_records(IdentityPoolId=pool_id, IdentityId=identity, DatasetName="d")


# --------------------------------------------------------------------- Cognito Streams


class StreamReceiver:
    """A stand-in for the Kinesis stream: an HTTP server keeping every POSTed record."""

    def __init__(self):
        self.records: queue.Queue = queue.Queue()
        receiver = self

        self.trigger_events: queue.Queue = queue.Queue()
        self.pushes: queue.Queue = queue.Queue()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["content-length"]))
                body = json.loads(raw)
                if self.path == "/push":
                    # A push relay: keeps the notification and its signature.
                    receiver.pushes.put((self.headers.get("x-idpool-signature"), raw, body))
                    self.send_response(200)
                    self.end_headers()
                    return
                if self.path == "/trigger":
                    # A SyncTrigger function: upper-cases values, drops the record "skip".
                    receiver.trigger_events.put(json.loads(json.dumps(body)))
                    records = body["datasetRecords"]
                    records.pop("skip", None)
                    for r in records.values():
                        if isinstance(r.get("newValue"), str):
                            r["newValue"] = r["newValue"].upper()
                    answer = json.dumps(body).encode()
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                    return
                receiver.records.put((self.headers.get("x-idpool-stream-name"), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/records"
        self.trigger_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/trigger"
        self.push_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/push"

    def next(self, timeout: float = 10) -> tuple[str, dict]:
        return self.records.get(timeout=timeout)

    def drain(self) -> list:
        out = []
        while True:
            try:
                out.append(self.records.get(timeout=0.5))
            except queue.Empty:
                return out


@pytest.fixture(scope="module")
def receiver():
    r = StreamReceiver()
    yield r
    r.httpd.shutdown()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def streams_server(request, receiver, start_idpool, tmp_path_factory):
    config = tmp_path_factory.mktemp("sync-config") / "idpool.toml"
    config.write_text(
        f'[streams."app-stream"]\nurl = "{receiver.url}"\n'
        f'[functions."{TRIGGER_ARN}"]\nurl = "{receiver.trigger_url}"\n'
    )
    with server_on_backend(
        start_idpool, request.param, "sync-streams",
        extra_args=["--config", str(config), "--push-webhook-url", receiver.push_url,
                    "--push-webhook-secret", PUSH_SECRET],
    ) as server:
        yield server


def sync_once(cs, pool_id, identity, dataset, changes: dict, counts: dict | None = None):
    ids = {"IdentityPoolId": pool_id, "IdentityId": identity, "DatasetName": dataset}
    token = cs.list_records(**ids)["SyncSessionToken"]
    patches = [{"Op": "remove" if v is None else "replace", "Key": k, "SyncCount": (counts or {}).get(k, 0),
                **({} if v is None else {"Value": v})} for k, v in changes.items()]
    return cs.update_records(**ids, SyncSessionToken=token, RecordPatches=patches, DeviceId="device-1")


def test_streams_deliver_every_change_and_bulk_publish(streams_server, receiver):
    ci, cs = aws(streams_server, "cognito-identity"), aws(streams_server, "cognito-sync")
    receiver.drain()
    pool_id = guest_pool(ci)
    identity, _ = guest(ci, pool_id)
    # Not streamed until the pool names an enabled stream.
    sync_once(cs, pool_id, identity, "early", {"k": "v"})
    cs.set_identity_pool_configuration(IdentityPoolId=pool_id, CognitoStreams={
        "StreamName": "app-stream", "RoleArn": STREAM_ROLE, "StreamingStatus": "ENABLED"})
    assert receiver.drain() == []

    sync_once(cs, pool_id, identity, "game", {"level": "3", "score": "1200"})
    stream, record = receiver.next()
    assert stream == "app-stream"
    assert record["identityPoolId"] == pool_id and record["identityId"] == identity
    assert record["dataSetName"] == "game" and record["operation"] == "replace"
    assert record["payloadType"] == "Inline" and record["syncCount"] == 1
    assert {(r["key"], r["value"], r["syncCount"], r["op"]) for r in record["kinesisSyncRecords"]} == {
        ("level", "3", 1, "replace"), ("score", "1200", 1, "replace")}
    assert isinstance(record["lastModifiedDate"], int)

    sync_once(cs, pool_id, identity, "game", {"score": None}, counts={"score": 1})
    _, record = receiver.next()
    assert [(r["key"], r["value"], r["op"]) for r in record["kinesisSyncRecords"]] == [("score", None, "remove")]

    cs.delete_dataset(IdentityPoolId=pool_id, IdentityId=identity, DatasetName="game")
    _, record = receiver.next()
    assert record["operation"] == "remove" and record["dataSetName"] == "game"
    assert record["kinesisSyncRecords"] == []

    # Bulk publish: every existing dataset, once a day.
    other, _ = guest(ci, pool_id)
    sync_once(cs, pool_id, other, "profile", {"name": "Bob"})
    receiver.next()
    assert cs.bulk_publish(IdentityPoolId=pool_id)["IdentityPoolId"] == pool_id
    deadline = time.time() + 10
    while (details := cs.get_bulk_publish_details(IdentityPoolId=pool_id))["BulkPublishStatus"] != "SUCCEEDED":
        assert details["BulkPublishStatus"] == "IN_PROGRESS" and time.time() < deadline
        time.sleep(0.1)
    assert details["BulkPublishStartTime"] <= details["BulkPublishCompleteTime"]
    published = {(r["identityId"], r["dataSetName"]): {k["key"]: k["value"] for k in r["kinesisSyncRecords"]}
                 for _, r in [receiver.next(), receiver.next()]}
    assert published == {(identity, "early"): {"k": "v"}, (other, "profile"): {"name": "Bob"}}
    with raises_cognito("AlreadyStreamedException"):
        cs.bulk_publish(IdentityPoolId=pool_id)

    # Disabled again: nothing more is delivered.
    cs.set_identity_pool_configuration(IdentityPoolId=pool_id, CognitoStreams={
        "StreamName": "app-stream", "RoleArn": STREAM_ROLE, "StreamingStatus": "DISABLED"})
    sync_once(cs, pool_id, identity, "late", {"k": "v"})
    assert receiver.drain() == []


def test_push_sync_wakes_the_other_subscribed_devices(streams_server, receiver):
    ci, admin = aws(streams_server, "cognito-identity"), aws(streams_server, "cognito-sync")
    pool_id = guest_pool(ci)
    apns = f"arn:aws:sns:{REGION}:{ACCOUNT}:app/APNS/notes"
    admin.set_identity_pool_configuration(IdentityPoolId=pool_id, PushSync={
        "ApplicationArns": [PUSH["ApplicationArns"][0], apns], "RoleArn": PUSH["RoleArn"]})
    identity, creds = guest(ci, pool_id)
    cs = aws(streams_server, "cognito-sync", creds)
    ids = {"IdentityPoolId": pool_id, "IdentityId": identity}
    phone = cs.register_device(**ids, Platform="GCM", Token="fcm-phone-token")["DeviceId"]
    tablet = cs.register_device(**ids, Platform="APNS", Token="apns-tablet-token")["DeviceId"]
    watch = cs.register_device(**ids, Platform="GCM", Token="fcm-watch-token")["DeviceId"]
    for device in (phone, tablet):
        cs.subscribe_to_dataset(**ids, DatasetName="notes", DeviceId=device)
    cs.subscribe_to_dataset(**ids, DatasetName="other", DeviceId=watch)
    while not receiver.pushes.empty():
        receiver.pushes.get()

    # The phone writes: the tablet is told (through its platform's application), the
    # phone itself and the watch, not subscribed to "notes", are not.
    token = cs.list_records(**ids, DatasetName="notes")["SyncSessionToken"]
    cs.update_records(**ids, DatasetName="notes", DeviceId=phone, SyncSessionToken=token,
                      RecordPatches=[{"Op": "replace", "Key": "todo", "Value": "milk", "SyncCount": 0}])
    signature, raw, body = receiver.pushes.get(timeout=10)
    assert body == {
        "platform": "APNS",
        "token": "apns-tablet-token",
        "deviceId": tablet,
        "applicationArn": apns,
        "data": {"source": "cognito-sync", "type": "SyncTrigger", "syncCount": 1,
                 "identityPoolId": pool_id, "identityId": identity, "datasetName": "notes"},
    }
    parts = dict(p.split("=", 1) for p in signature.split(","))
    expected = hmac.new(PUSH_SECRET.encode(), parts["t"].encode() + b"." + raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    time.sleep(0.5)
    assert receiver.pushes.empty()

    # A change made without a device id wakes both subscribed devices.
    token = cs.list_records(**ids, DatasetName="notes")["SyncSessionToken"]
    cs.update_records(**ids, DatasetName="notes", SyncSessionToken=token,
                      RecordPatches=[{"Op": "replace", "Key": "todo", "Value": "eggs", "SyncCount": 1}])
    woken = {receiver.pushes.get(timeout=10)[2]["token"] for _ in range(2)}
    assert woken == {"fcm-phone-token", "apns-tablet-token"}
    # Unsubscribed: no more notifications.
    cs.unsubscribe_from_dataset(**ids, DatasetName="notes", DeviceId=tablet)
    cs.unsubscribe_from_dataset(**ids, DatasetName="notes", DeviceId=phone)
    token = cs.list_records(**ids, DatasetName="notes")["SyncSessionToken"]
    cs.update_records(**ids, DatasetName="notes", SyncSessionToken=token,
                      RecordPatches=[{"Op": "remove", "Key": "todo", "SyncCount": 2}])
    time.sleep(0.5)
    assert receiver.pushes.empty()


def test_sync_trigger_sees_and_rewrites_the_records(streams_server, receiver):
    ci, cs = aws(streams_server, "cognito-identity"), aws(streams_server, "cognito-sync")
    pool_id = guest_pool(ci)
    identity, _ = guest(ci, pool_id)
    cs.set_cognito_events(IdentityPoolId=pool_id, Events={"SyncTrigger": TRIGGER_ARN})
    stored = sync_once(cs, pool_id, identity, "profile", {"name": "bob", "skip": "x"})["Records"]
    assert [(r["Key"], r["Value"]) for r in stored] == [("name", "BOB")]
    event = receiver.trigger_events.get(timeout=5)
    assert event["eventType"] == "SyncTrigger" and event["version"] == 2
    assert event["identityPoolId"] == pool_id and event["identityId"] == identity
    assert event["datasetName"] == "profile"
    assert event["datasetRecords"]["name"] == {"oldValue": None, "newValue": "bob", "op": "replace"}
    sync_once(cs, pool_id, identity, "profile", {"name": "carol"}, counts={"name": 1})
    event = receiver.trigger_events.get(timeout=5)
    assert event["datasetRecords"]["name"]["oldValue"] == "BOB"
    ds = cs.describe_dataset(IdentityPoolId=pool_id, IdentityId=identity, DatasetName="profile")["Dataset"]
    assert ds["NumRecords"] == 1
    cs.set_cognito_events(IdentityPoolId=pool_id, Events={})
    stored = sync_once(cs, pool_id, identity, "profile", {"name": "dave"}, counts={"name": 2})["Records"]
    assert stored[0]["Value"] == "dave"
    assert receiver.trigger_events.empty()


# --------------------------------------------------------------------- server-sent events


class EventReader:
    """Reads a text/event-stream response in a thread: (id, data) per event."""

    def __init__(self, response: requests.Response):
        self.response = response
        self.events: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        event_id, data = None, []
        try:
            for raw in self.response.iter_lines(decode_unicode=True):
                if raw == "":
                    if data:
                        self.events.put((event_id, json.loads("\n".join(data))))
                    event_id, data = None, []
                elif raw.startswith("id:"):
                    event_id = raw[3:].strip()
                elif raw.startswith("data:"):
                    data.append(raw[5:].strip())
        except Exception:  # the test closed the response
            pass

    def next(self, timeout: float = 10):
        return self.events.get(timeout=timeout)

    def close(self):
        # Shut the socket down first: closing alone would wait for the reader thread,
        # blocked until the next keep-alive comment.
        conn = getattr(self.response.raw, "connection", None)
        sock = getattr(conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.response.close()


def subscribe(server, pool_id: str, headers: dict | None = None) -> EventReader:
    r = requests.get(f"{server.endpoint}/_idpool/sync/streams/{pool_id}", headers=headers or {},
                     stream=True, timeout=15)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    return EventReader(r)


def test_server_sent_events_follow_the_change_log(idp):
    ci, cs = aws(idp, "cognito-identity"), aws(idp, "cognito-sync")
    pool_id = guest_pool(ci)
    identity, _ = guest(ci, pool_id)
    sync_once(cs, pool_id, identity, "notes", {"a": "1"})

    reader = subscribe(idp, pool_id)
    try:
        first_id, first = reader.next()
        assert first["dataSetName"] == "notes" and first["kinesisSyncRecords"][0]["key"] == "a"
        # Changes made after subscribing arrive as they are committed.
        sync_once(cs, pool_id, identity, "notes", {"b": "2"})
        second_id, second = reader.next()
        assert int(second_id) > int(first_id)
        assert [r["key"] for r in second["kinesisSyncRecords"]] == ["b"]
        cs.delete_dataset(IdentityPoolId=pool_id, IdentityId=identity, DatasetName="notes")
        third_id, third = reader.next()
        assert third["operation"] == "remove"
    finally:
        reader.close()

    # Reconnecting with Last-Event-ID resumes after it.
    resumed = subscribe(idp, pool_id, {"Last-Event-ID": second_id})
    try:
        got_id, got = resumed.next()
        assert got_id == third_id and got["operation"] == "remove"
        with pytest.raises(queue.Empty):
            resumed.next(timeout=1.5)
    finally:
        resumed.close()

    missing = requests.get(f"{idp.endpoint}/_idpool/sync/streams/{REGION}:00000000-0000-4000-8000-000000000000",
                           timeout=5)
    assert missing.status_code == 404


@pytest.mark.postgres
def test_two_nodes_sharing_postgresql(start_idpool):
    """A SyncSessionToken from one node works on the other, and a subscriber on one node
    sees the changes made on the other (the change log is in the database)."""
    url = postgres_url()
    if url is None:
        pytest.skip("IDPOOL_TEST_POSTGRES_URL not set")
    db = ScratchDatabase(url).create()
    try:
        key = secrets.token_hex(32)
        a = start_idpool("sync-node-a", database_url=db.url, extra_args=["--master-key", key])
        b = start_idpool("sync-node-b", database_url=db.url, extra_args=["--master-key", key])
        ci = aws(a, "cognito-identity")
        pool_id = guest_pool(ci)
        identity, creds = guest(ci, pool_id)
        on_a, on_b = aws(a, "cognito-sync", creds), aws(b, "cognito-sync", creds)
        reader = subscribe(b, pool_id)
        try:
            ids = {"IdentityPoolId": pool_id, "IdentityId": identity, "DatasetName": "shared"}
            token = on_a.list_records(**ids)["SyncSessionToken"]
            on_b.update_records(**ids, SyncSessionToken=token,
                                RecordPatches=[{"Op": "replace", "Key": "k", "Value": "from-b", "SyncCount": 0}])
            token = on_b.list_records(**ids)["SyncSessionToken"]
            on_a.update_records(**ids, SyncSessionToken=token,
                                RecordPatches=[{"Op": "replace", "Key": "k", "Value": "from-a", "SyncCount": 1}])
            seen = [reader.next()[1], reader.next()[1]]
            assert [r["kinesisSyncRecords"][0]["value"] for r in seen] == ["from-b", "from-a"]
            assert [r["syncCount"] for r in seen] == [1, 2]
        finally:
            reader.close()
        a.stop()
        b.stop()
    finally:
        db.drop()


# --------------------------------------------------------------------- production signatures

ADMIN_KEY = "AKIAIDPOOLSYNC" + secrets.token_hex(3).upper()
ADMIN_SECRET = secrets.token_urlsafe(30)


@pytest.fixture(scope="module")
def prod(start_idpool):
    return start_idpool("sync-production", dev=False, env={
        "IDPOOL_ADMIN_ACCESS_KEY_ID": ADMIN_KEY, "IDPOOL_ADMIN_SECRET_ACCESS_KEY": ADMIN_SECRET})


def signed_get(url: str, keys: dict, headers: dict | None = None) -> requests.Response:
    creds = Credentials(keys["aws_access_key_id"], keys["aws_secret_access_key"], keys.get("aws_session_token"))
    req = AWSRequest(method="GET", url=url, headers=headers or {})
    SigV4Auth(creds, "cognito-sync", REGION).add_auth(req)
    return requests.get(url, headers=dict(req.headers), stream=True, timeout=15)


def test_production_accepts_the_admin_key_and_the_identitys_own_credentials(prod):
    admin_keys = {"aws_access_key_id": ADMIN_KEY, "aws_secret_access_key": ADMIN_SECRET}
    ci, iam, admin = aws(prod, "cognito-identity", admin_keys), aws(prod, "iam", admin_keys), \
        aws(prod, "cognito-sync", admin_keys)
    pool_id = ci.create_identity_pool(IdentityPoolName=unique("prod-sync"),
                                      AllowUnauthenticatedIdentities=True)["IdentityPoolId"]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": pool_id},
                      "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "unauthenticated"}}}]})
    role = iam.create_role(RoleName=unique("sync-guest"), AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    ci.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"unauthenticated": role})
    alice, alice_keys = guest(ci, pool_id)
    bob, bob_keys = guest(ci, pool_id)
    as_alice, as_bob = aws(prod, "cognito-sync", alice_keys), aws(prod, "cognito-sync", bob_keys)

    sync_once(as_alice, pool_id, alice, "prefs", {"k": "alice"})
    sync_once(as_bob, pool_id, bob, "prefs", {"k": "bob"})
    with raises_cognito("NotAuthorizedException", alice):
        as_bob.list_records(IdentityPoolId=pool_id, IdentityId=alice, DatasetName="prefs")
    with raises_cognito("NotAuthorizedException", "developer credentials"):
        as_alice.describe_identity_pool_usage(IdentityPoolId=pool_id)
    # The admin key reaches every identity and the pool settings.
    assert admin.describe_identity_pool_usage(IdentityPoolId=pool_id)["IdentityPoolUsage"]["SyncSessionsCount"] == 2
    records = admin.list_records(IdentityPoolId=pool_id, IdentityId=alice, DatasetName="prefs")["Records"]
    assert [(r["Key"], r["Value"]) for r in records] == [("k", "alice")]
    admin.set_identity_pool_configuration(IdentityPoolId=pool_id, PushSync=PUSH)
    # Push sync devices are the identity's own business.
    with raises_cognito("NotAuthorizedException", "temporary credentials"):
        admin.register_device(IdentityPoolId=pool_id, IdentityId=alice, Platform="GCM", Token="t")
    assert as_alice.register_device(IdentityPoolId=pool_id, IdentityId=alice, Platform="GCM", Token="t")["DeviceId"]

    # Unsigned, unknown keys and bad signatures are refused.
    anonymous = requests.get(f"{prod.endpoint}/identitypools/{pool_id}/identities/{alice}/datasets")
    assert anonymous.status_code == 403
    assert anonymous.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    with raises_cognito("UnrecognizedClientException"):
        aws(prod, "cognito-sync", {"aws_access_key_id": "AKIAUNKNOWN", "aws_secret_access_key": "x"}).list_datasets(
            IdentityPoolId=pool_id, IdentityId=alice)
    with raises_cognito("InvalidSignatureException"):
        aws(prod, "cognito-sync", {**alice_keys, "aws_secret_access_key": "wrong"}).list_datasets(
            IdentityPoolId=pool_id, IdentityId=alice)

    # The event stream: the admin sees every identity, an identity only itself.
    url = f"{prod.endpoint}/_idpool/sync/streams/{pool_id}"
    assert requests.get(url, timeout=5).status_code == 403
    everyone = EventReader(signed_get(url, admin_keys))
    own = EventReader(signed_get(url, alice_keys))
    try:
        assert {everyone.next()[1]["identityId"], everyone.next()[1]["identityId"]} == {alice, bob}
        assert own.next()[1]["identityId"] == alice
        with pytest.raises(queue.Empty):
            own.next(timeout=1.5)
    finally:
        everyone.close()
        own.close()
