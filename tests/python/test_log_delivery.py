"""Log export (SetLogDeliveryConfiguration) through boto3 against the real server on
both backends: threat protection's user activity (`userAuthEvents`) written to a log
group's file and to a bucket of idpool's S3 endpoint, message-delivery errors
(`userNotification`) when SMTP fails, and the configurations Cognito refuses."""

from __future__ import annotations

import json
import re
import secrets
import socket
import time

import boto3
from botocore.config import Config

from idpool_testlib import REGION, App, raises_cognito
from test_pool_management import PW
from test_pool_management import confirmed_user as add_user

ACCOUNT = "123456789012"


def s3_admin(server):
    return boto3.session.Session(
        region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    ).client("s3", endpoint_url=server.s3_endpoint, config=Config(s3={"addressing_style": "path"}))


def log_group(name: str) -> dict:
    return {"LogGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"}


def sign_in(app: App, username: str, password: str = PW):
    return app.cognito.admin_initiate_auth(
        UserPoolId=app.pool_id,
        ClientId=app.client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )


def read_lines(path, at_least: int, timeout: float = 5.0) -> list[dict]:
    deadline = time.time() + timeout
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= at_least or time.time() > deadline:
            return [json.loads(line) for line in lines]
        time.sleep(0.05)


def test_auth_events_go_to_a_log_group_file_and_an_s3_bucket(idp):
    c = idp.client()
    app = App.create(c, pool_overrides={"UserPoolAddOns": {"AdvancedSecurityMode": "AUDIT"}})
    add_user(app, "ann")
    group = f"/idpool/tests/{app.pool_id}"
    set_to = c.set_log_delivery_configuration(
        UserPoolId=app.pool_id,
        LogConfigurations=[
            {"EventSource": "userAuthEvents", "LogLevel": "INFO", "CloudWatchLogsConfiguration": log_group(group)}
        ],
    )["LogDeliveryConfiguration"]
    assert c.get_log_delivery_configuration(UserPoolId=app.pool_id)["LogDeliveryConfiguration"] == set_to

    sign_in(app, "ann")
    with raises_cognito("NotAuthorizedException", "Incorrect username or password."):
        sign_in(app, "ann", "Wrong-Password-42")
    path = idp.data_dir / "logs" / "idpool" / "tests" / f"{app.pool_id}.jsonl"
    records = read_lines(path, 3)
    # The sign-in is exported open (with its risk) and again with its outcome.
    assert [r["message"]["EventResponse"] for r in records] == ["InProgress", "Pass", "Fail"]
    first = records[0]
    assert first["eventSource"] == "USER_AUTH_EVENTS" and first["logLevel"] == "INFO"
    assert first["logSourceId"]["userPoolId"] == app.pool_id
    assert int(first["eventTimestamp"]) > 0
    assert records[0]["message"]["EventId"] == records[1]["message"]["EventId"]
    assert records[1]["message"]["EventRisk"]["RiskDecision"] == "NoRisk"
    assert {r["message"]["Username"] for r in records} == {"ann"}
    events = c.admin_list_user_auth_events(UserPoolId=app.pool_id, Username="ann")["AuthEvents"]
    assert records[2]["message"]["EventId"] == events[0]["EventId"]

    # To a bucket of idpool's own S3 endpoint: one object per record.
    s3 = s3_admin(idp)
    bucket = f"auth-logs-{secrets.token_hex(4)}"
    missing = {"EventSource": "userAuthEvents", "LogLevel": "INFO", "S3Configuration": {"BucketArn": f"arn:aws:s3:::{bucket}"}}
    with raises_cognito("InvalidParameterException", f"The S3 bucket {bucket} does not exist"):
        c.set_log_delivery_configuration(UserPoolId=app.pool_id, LogConfigurations=[missing])
    s3.create_bucket(Bucket=bucket)
    c.set_log_delivery_configuration(UserPoolId=app.pool_id, LogConfigurations=[missing])
    sign_in(app, "ann")
    prefix = f"AWSLogs/{ACCOUNT}/CognitoIdentityProvider/{REGION}/{app.pool_id}/"
    deadline = time.time() + 5
    while True:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
        if len(keys) >= 2 or time.time() > deadline:
            break
        time.sleep(0.05)
    assert len(keys) == 2, keys
    assert all(re.fullmatch(re.escape(prefix) + r"\d{4}/\d{2}/\d{2}/\d+-[0-9a-f-]+\.json", k) for k in keys), keys
    bodies = [json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys]
    assert sorted(b["message"]["EventResponse"] for b in bodies) == ["InProgress", "Pass"]
    # The log group no longer gets records.
    assert len(read_lines(path, 3)) == 3

    # An empty configuration stops the export.
    c.set_log_delivery_configuration(UserPoolId=app.pool_id, LogConfigurations=[])
    assert c.get_log_delivery_configuration(UserPoolId=app.pool_id)["LogDeliveryConfiguration"]["LogConfigurations"] == []
    sign_in(app, "ann")
    assert len(s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])) == 2


def test_configurations_cognito_refuses(idp):
    c = idp.client()
    app = App.create(c)

    def refused(message: str, *configs: dict) -> None:
        with raises_cognito("InvalidParameterException", message):
            c.set_log_delivery_configuration(UserPoolId=app.pool_id, LogConfigurations=list(configs))

    group = log_group("/idpool/ok")
    refused(
        "userNotification logs are exported at LogLevel ERROR.",
        {"EventSource": "userNotification", "LogLevel": "INFO", "CloudWatchLogsConfiguration": group},
    )
    refused(
        "userAuthEvents logs are exported at LogLevel INFO.",
        {"EventSource": "userAuthEvents", "LogLevel": "ERROR", "CloudWatchLogsConfiguration": group},
    )
    refused(
        "userNotification logs are exported to CloudWatch Logs only.",
        {"EventSource": "userNotification", "LogLevel": "ERROR", "S3Configuration": {"BucketArn": "arn:aws:s3:::abc"}},
    )
    refused(
        "exactly one destination",
        {
            "EventSource": "userAuthEvents",
            "LogLevel": "INFO",
            "CloudWatchLogsConfiguration": group,
            "S3Configuration": {"BucketArn": "arn:aws:s3:::abc"},
        },
    )
    refused(
        "Only one log configuration per EventSource",
        {"EventSource": "userAuthEvents", "LogLevel": "INFO", "CloudWatchLogsConfiguration": group},
        {"EventSource": "userAuthEvents", "LogLevel": "INFO", "CloudWatchLogsConfiguration": group},
    )
    # A name that would climb out of the logs directory.
    refused(
        "is not a valid log group name",
        {"EventSource": "userAuthEvents", "LogLevel": "INFO", "CloudWatchLogsConfiguration": log_group("a/../../etc")},
    )
    refused(
        "is not the ARN of a CloudWatch Logs log group",
        {
            "EventSource": "userAuthEvents",
            "LogLevel": "INFO",
            "CloudWatchLogsConfiguration": {"LogGroupArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:queue-name"},
        },
    )
    with raises_cognito("ResourceNotFoundException"):
        c.set_log_delivery_configuration(UserPoolId=f"{REGION}_nonexist0", LogConfigurations=[])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_failed_email_delivery_is_a_user_notification_error(start_idpool):
    server = start_idpool("log-delivery-smtp-down", extra_args=["--smtp-url", f"smtp://127.0.0.1:{closed_port()}"])
    c = server.client()
    app = App.create(c)
    c.set_log_delivery_configuration(
        UserPoolId=app.pool_id,
        LogConfigurations=[
            {"EventSource": "userNotification", "LogLevel": "ERROR", "CloudWatchLogsConfiguration": log_group("notify")}
        ],
    )
    # The invitation cannot be mailed; the user is still created, as in Cognito.
    c.admin_create_user(
        UserPoolId=app.pool_id,
        Username="bob",
        UserAttributes=[{"Name": "email", "Value": "bob@example.com"}],
        DesiredDeliveryMediums=["EMAIL"],
    )
    (record,) = read_lines(server.data_dir / "logs" / "notify.jsonl", 1)
    assert record["eventSource"] == "USER_NOTIFICATION" and record["logLevel"] == "ERROR"
    assert record["logSourceId"]["userPoolId"] == app.pool_id
    message = record["message"]
    assert message["deliveryMedium"] == "EMAIL" and message["Username"] == "bob"
    assert message["details"]
    # Neither the temporary password nor the address is written to the log.
    (invitation,) = server.outbox(app.pool_id, "bob")
    assert invitation["code"] and invitation["code"] not in json.dumps(record)
    assert "bob@example.com" not in json.dumps(record)
