"""Text messages through the SMS webhook (--sms-webhook-url): a real HTTP server stands
in for the operator's SMS gateway. SMS MFA codes arrive there signed, a refused
delivery becomes a `userNotification` log record, and a webhook that would carry codes
in clear text over a network is refused at start."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from idpool_testlib import REGION, App, idpool_bin

SECRET = "gateway-shared-secret"
PW = "Correct-Horse-42"
PHONE = "+15555550142"


class Gateway:
    """Keeps every request; answers with `status`."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gateway.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                self.send_response(gateway.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.time() + timeout
        while len(self.requests) < count and time.time() < deadline:
            time.sleep(0.02)
        return self.requests


@pytest.fixture(scope="module")
def gateway():
    g = Gateway()
    yield g
    g.httpd.shutdown()


@pytest.fixture(scope="module")
def sms_server(start_idpool, gateway):
    return start_idpool(
        "sms-webhook",
        extra_args=[
            "--sms-webhook-url",
            f"http://127.0.0.1:{gateway.port}/sms",
            "--sms-webhook-secret",
            SECRET,
        ],
    )


def sms_mfa_app(server) -> App:
    c = server.client()
    app = App.create(
        c,
        pool_overrides={
            "MfaConfiguration": "ON",
            "SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms"},
        },
    )
    c.admin_create_user(
        UserPoolId=app.pool_id,
        Username="ann",
        UserAttributes=[
            {"Name": "phone_number", "Value": PHONE},
            {"Name": "phone_number_verified", "Value": "true"},
        ],
        MessageAction="SUPPRESS",
    )
    c.admin_set_user_password(UserPoolId=app.pool_id, Username="ann", Password=PW, Permanent=True)
    return app


def sign_in(app: App) -> dict:
    return app.cognito.admin_initiate_auth(
        UserPoolId=app.pool_id,
        ClientId=app.client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ann", "PASSWORD": PW},
    )


def test_sms_mfa_codes_reach_the_gateway_signed(sms_server, gateway):
    app = sms_mfa_app(sms_server)
    before = len(gateway.requests)
    challenge = sign_in(app)
    assert challenge["ChallengeName"] == "SMS_MFA"
    request = gateway.wait(before + 1)[before]
    assert request["path"] == "/sms"
    assert request["headers"]["content-type"] == "application/json"
    body = json.loads(request["body"])
    assert body["to"] == PHONE and body["userPoolId"] == app.pool_id and body["username"] == "ann"
    # The signature covers the time and the exact body.
    signature = dict(part.split("=", 1) for part in request["headers"]["x-idpool-signature"].split(","))
    assert abs(int(signature["t"]) - time.time()) < 60
    expected = hmac.new(SECRET.encode(), f"{signature['t']}.".encode() + request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature["v1"], expected)
    # What the user reads on their phone completes the sign-in.
    code = re.search(r"\d{6}", body["message"]).group(0)
    done = app.cognito.admin_respond_to_auth_challenge(
        UserPoolId=app.pool_id,
        ClientId=app.client_id,
        ChallengeName="SMS_MFA",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "ann", "SMS_MFA_CODE": code},
    )
    assert done["AuthenticationResult"]["AccessToken"]


def test_a_refused_text_is_a_user_notification_error(sms_server, gateway):
    app = sms_mfa_app(sms_server)
    app.cognito.set_log_delivery_configuration(
        UserPoolId=app.pool_id,
        LogConfigurations=[
            {
                "EventSource": "userNotification",
                "LogLevel": "ERROR",
                "CloudWatchLogsConfiguration": {
                    "LogGroupArn": f"arn:aws:logs:{REGION}:123456789012:log-group:sms/{app.pool_id}"
                },
            }
        ],
    )
    gateway.status = 503
    try:
        # The code is still issued (it is in the outbox), as Cognito answers once a
        # message is queued.
        assert sign_in(app)["ChallengeName"] == "SMS_MFA"
    finally:
        gateway.status = 200
    path = sms_server.data_dir / "logs" / "sms" / f"{app.pool_id}.jsonl"
    deadline = time.time() + 5
    while not path.exists() and time.time() < deadline:
        time.sleep(0.05)
    (record,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert record["eventSource"] == "USER_NOTIFICATION"
    assert record["message"]["deliveryMedium"] == "SMS"
    assert "503" in record["message"]["details"]
    assert PHONE not in json.dumps(record)


def test_codes_never_cross_a_network_in_clear_text(tmp_path):
    r = subprocess.run(
        [
            str(idpool_bin()),
            "serve",
            "--data-dir",
            str(tmp_path),
            "--listen",
            "127.0.0.1:0",
            "--sms-webhook-url",
            "http://sms-gateway.example.com/send",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0
    assert "--sms-webhook-url" in r.stderr and "clear text" in r.stderr, r.stderr
    r = subprocess.run(
        [str(idpool_bin()), "serve", "--data-dir", str(tmp_path), "--sms-webhook-secret", "x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and "--sms-webhook-url is not" in r.stderr, r.stderr
