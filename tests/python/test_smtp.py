"""Email delivery over SMTP: a real SMTP server (aiosmtpd) receives the
confirmation code that the dev outbox also records."""

from __future__ import annotations

import email
import email.policy
import threading
import time

import pytest
from aiosmtpd.controller import Controller

from idpool_testlib import App, free_port

FROM = "noreply@example.com"
PW = "Passw0rd-One"


class Recorder:
    """aiosmtpd handler keeping every message it is given."""

    def __init__(self):
        self.lock = threading.Lock()
        self.messages: list[dict] = []

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": list(envelope.rcpt_tos),
                    "message": msg,
                    "text": body_text(msg),
                }
            )
        return "250 Message accepted for delivery"

    def wait_for(self, rcpt: str, *, after: int = 0, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                mine = [m for m in self.messages if rcpt in m["rcpt_tos"]]
            if len(mine) > after:
                return mine[-1]
            if time.monotonic() > deadline:
                with self.lock:
                    seen = [(m["mail_from"], m["rcpt_tos"]) for m in self.messages]
                raise AssertionError(f"no email #{after + 1} to {rcpt} within {timeout}s; received: {seen}")
            time.sleep(0.1)


def body_text(msg) -> str:
    """All text parts, decoded (quoted-printable/base64 undone)."""
    parts = []
    for part in msg.walk() if msg.is_multipart() else [msg]:
        if part.get_content_maintype() == "text":
            try:
                parts.append(part.get_content())
            except (LookupError, ValueError):
                parts.append(part.get_payload(decode=True).decode("utf-8", "replace"))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def smtp():
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=True, ready_timeout=10)
    controller.start()
    recorder.port = controller.port
    yield recorder
    controller.stop()


@pytest.fixture(scope="module")
def mail_server(start_idpool, smtp):
    return start_idpool(
        "smtp",
        dev=True,
        extra_args=["--smtp-url", f"smtp://127.0.0.1:{smtp.port}", "--smtp-from", FROM],
    )


def test_sign_up_code_arrives_by_email(mail_server, smtp):
    cognito = mail_server.client()
    app = App.create(cognito)
    username, address = "quinn", "quinn@example.com"

    app.sign_up(username, PW, address)
    outbox = mail_server.wait_for_message(app.pool_id, username)
    assert outbox["channel"] == "EMAIL" and outbox["destination"] == address, outbox

    mail = smtp.wait_for(address)
    msg = mail["message"]
    assert mail["rcpt_tos"] == [address], mail["rcpt_tos"]
    assert FROM in (mail["mail_from"] or ""), mail["mail_from"]
    assert FROM in str(msg.get("From", "")), msg.get("From")
    assert address in str(msg.get("To", "")), msg.get("To")
    if outbox.get("subject"):
        assert str(msg.get("Subject", "")).strip() == outbox["subject"].strip(), (msg.get("Subject"), outbox)
    assert outbox["code"] in mail["text"], f"code {outbox['code']!r} not in email body:\n{mail['text']}"

    # The code from the email confirms the user.
    app.confirm_sign_up(username, outbox["code"])
    assert cognito.admin_get_user(UserPoolId=app.pool_id, Username=username)["UserStatus"] == "CONFIRMED"

    # A second message (forgot password) is delivered too, with its own code.
    app.forgot_password(username)
    second_outbox = mail_server.wait_for_message(app.pool_id, username, after=1)
    second_mail = smtp.wait_for(address, after=1)
    assert second_outbox["code"] in second_mail["text"], second_mail["text"]
