"""Helpers for the out-of-process idpool tests: starting the binary, the dev
outbox, PostgreSQL scratch databases, SECRET_HASH, JWT decoding and Cognito
error assertions.  Fixtures that use these live in conftest.py."""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"

#: Seconds to wait for a server to print its listening line and answer /health.
START_TIMEOUT = float(os.environ.get("IDPOOL_TEST_START_TIMEOUT", "90"))


# --------------------------------------------------------------------- env


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def in_ci() -> bool:
    return truthy(os.environ.get("CI"))


def postgres_url() -> str | None:
    return os.environ.get("IDPOOL_TEST_POSTGRES_URL") or None


def postgres_required() -> bool:
    """PostgreSQL tests may be skipped only on a developer machine without the
    URL.  In CI, or whenever the URL is given, a skipped postgres test is a
    failure (scripts/test.sh relies on this)."""
    return in_ci() or postgres_url() is not None


def idpool_bin() -> Path:
    env = os.environ.get("IDPOOL_BIN")
    if env:
        return Path(env).resolve()
    target = os.environ.get("CARGO_TARGET_DIR")
    base = Path(target) if target else REPO_ROOT / "target"
    if not base.is_absolute():
        base = REPO_ROOT / base
    return base / "debug" / "idpool"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


# --------------------------------------------------------------------- server

_LIVE_SERVERS: list["IdpoolServer"] = []


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL the server if pytest itself dies (Linux), so that a
    killed test run leaves no idpool behind."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_LIVE_SERVERS):
        server.stop()


def live_servers() -> list["IdpoolServer"]:
    return list(_LIVE_SERVERS)


class ServerStartError(RuntimeError):
    pass


class IdpoolServer:
    """One `idpool serve` child process on 127.0.0.1:<free port>.

    stdout and stderr go to files in `workdir` (no pipes, so a chatty server can
    never block on a full pipe); `log_since()` reads them back for failure
    reports.
    """

    def __init__(
        self,
        name: str,
        workdir: Path,
        *,
        dev: bool = True,
        database_url: str | None = None,
        extra_args: list[str] | tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ):
        self.name = name
        self.workdir = Path(workdir)
        self.dev = dev
        self.database_url = database_url
        self.extra_args = list(extra_args)
        self.extra_env = dict(env or {})
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.data_dir = self.workdir / "data"
        self.stdout_path = self.workdir / "stdout.log"
        self.stderr_path = self.workdir / "stderr.log"
        self.http = requests.Session()

    # ---- lifecycle

    @property
    def endpoint(self) -> str:
        assert self.port is not None, "server not started"
        return f"http://127.0.0.1:{self.port}"

    @property
    def s3_endpoint(self) -> str:
        """The S3 endpoint's URL, as the server printed it at its last start."""
        marker = "idpool S3 endpoint on "
        lines = [l for l in self._read(self.stdout_path).splitlines() if l.startswith(marker)]
        assert lines, "the server did not start its S3 endpoint"
        return lines[-1][len(marker):].strip()

    def command(self, port: int) -> list[str]:
        cmd = [str(idpool_bin()), "serve"]
        if self.dev:
            cmd.append("--dev")
        cmd += ["--listen", f"127.0.0.1:{port}", "--data-dir", str(self.data_dir)]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        if not any(a.startswith("--s3-listen") for a in self.extra_args):
            # Many servers run at once: the S3 endpoint takes a free port too.
            cmd += ["--s3-listen", "127.0.0.1:0"]
        return cmd + self.extra_args

    def child_env(self) -> dict[str, str]:
        # The server reads IDPOOL_* as configuration: pass none of ours
        # (IDPOOL_TEST_POSTGRES_URL, IDPOOL_BIN, ...) except the ones asked for.
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDPOOL_")}
        env.setdefault("RUST_BACKTRACE", "1")
        env.setdefault("NO_COLOR", "1")
        env.update(self.extra_env)
        return env

    def start(self) -> "IdpoolServer":
        binary = idpool_bin()
        if not binary.exists():
            raise ServerStartError(
                f"idpool binary not found at {binary}: run `cargo build` first "
                "(or set IDPOOL_BIN)"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        last_error = ""
        for _attempt in range(3):
            port = free_port()
            self._spawn(port)
            ok, last_error = self._wait_ready(port)
            if ok:
                self.port = port
                _LIVE_SERVERS.append(self)
                return self
            self._terminate()
            if "in use" not in last_error.lower():
                break  # not a port race: retrying won't help
        raise ServerStartError(
            f"idpool ({self.name}) did not become ready: {last_error}\n"
            f"command: {' '.join(self.command(port))}\n"
            f"--- stdout ---\n{self._read(self.stdout_path)[-10000:]}\n"
            f"--- stderr ---\n{self._read(self.stderr_path)[-20000:]}"
        )

    def _spawn(self, port: int) -> None:
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            err.write(f"\n===== starting {' '.join(self.command(port))}\n".encode())
            err.flush()
            self.proc = subprocess.Popen(
                self.command(port),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=self.workdir,  # no stray idpool.toml from the caller's cwd
                env=self.child_env(),
                start_new_session=True,  # a Ctrl-C on pytest is not sent to it
                preexec_fn=_die_with_parent,
            )

    def _wait_ready(self, port: int) -> tuple[bool, str]:
        line = f"idpool listening on http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT
        saw_line = False
        health = "not tried"
        while time.monotonic() < deadline:
            assert self.proc is not None
            code = self.proc.poll()
            if code is not None:
                return False, (
                    f"process exited with status {code} during start-up "
                    f"({self._read(self.stderr_path)[-300:].strip()})"
                )
            if not saw_line:
                saw_line = line in self._read(self.stdout_path)
            if saw_line:
                try:
                    r = requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
                    health = f"HTTP {r.status_code}"
                    if r.status_code == 200:
                        return True, ""
                except requests.RequestException as e:
                    health = f"{type(e).__name__}"
            time.sleep(0.05)
        if not saw_line:
            return False, f"no line {line!r} on stdout after {START_TIMEOUT:.0f}s"
        return False, f"GET /health never answered 200 within {START_TIMEOUT:.0f}s (last: {health})"

    def _terminate(self) -> int | None:
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        return proc.returncode

    def stop(self) -> None:
        self._terminate()
        if self in _LIVE_SERVERS:
            _LIVE_SERVERS.remove(self)
        self.http.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure_alive(self) -> None:
        if not self.alive():
            code = self.proc.returncode if self.proc else None
            pytest.fail(
                f"idpool ({self.name}) is no longer running (exit status {code})\n"
                f"--- stderr (tail) ---\n{self._read(self.stderr_path)[-20000:]}",
                pytrace=False,
            )

    # ---- logs

    @staticmethod
    def _read(path: Path) -> str:
        try:
            return path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_size(self) -> int:
        try:
            return self.stderr_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int, limit: int = 30000) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            return ""
        text = data.decode("utf-8", "replace")
        if len(text) > limit:
            text = f"[... {len(text) - limit} characters cut ...]\n" + text[-limit:]
        return text

    # ---- dev endpoints

    def reset(self) -> None:
        r = self.http.post(f"{self.endpoint}/_idpool/reset", timeout=30)
        assert 200 <= r.status_code < 300, f"POST /_idpool/reset -> {r.status_code} {r.text}"

    def outbox(self, pool_id: str, username: str) -> list[dict]:
        r = self.http.get(
            f"{self.endpoint}/_idpool/outbox",
            params={"userPoolId": pool_id, "username": username},
            timeout=10,
        )
        assert r.status_code == 200, f"GET /_idpool/outbox -> {r.status_code} {r.text}"
        messages = r.json()
        assert isinstance(messages, list), messages
        return messages

    def wait_for_message(
        self, pool_id: str, username: str, *, after: int = 0, timeout: float = 15.0
    ) -> dict:
        """The newest outbox message for the user once there are more than
        `after` of them (delivery may be asynchronous)."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.outbox(pool_id, username)
            if len(messages) > after:
                msg = messages[-1]
                for key in ("userPoolId", "username", "channel", "destination", "message", "code"):
                    assert key in msg, f"outbox message lacks {key!r}: {msg}"
                assert isinstance(msg["code"], str) and msg["code"], msg
                return msg
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no outbox message #{after + 1} for {username!r} in {pool_id} "
                    f"after {timeout}s (have {len(messages)}: {messages})"
                )
            time.sleep(0.1)

    def latest_code(self, pool_id: str, username: str, *, after: int = 0) -> str:
        return self.wait_for_message(pool_id, username, after=after)["code"]

    def outbox_count(self, pool_id: str, username: str) -> int:
        return len(self.outbox(pool_id, username))

    # ---- clients

    def client(
        self,
        *,
        access_key: str = "test",
        secret_key: str = "test",
        unsigned: bool = False,
    ):
        return cognito_client(self.endpoint, access_key, secret_key, unsigned=unsigned)


def cognito_client(endpoint: str, access_key: str = "test", secret_key: str = "test", *, unsigned: bool = False):
    config = Config(
        region_name=REGION,
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=10,
        read_timeout=120,
    )
    if unsigned:
        config = config.merge(Config(signature_version=UNSIGNED))
    session = boto3.session.Session(
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=REGION,
    )
    return session.client("cognito-idp", endpoint_url=endpoint, config=config)


# --------------------------------------------------------------------- postgres


class ScratchDatabase:
    """A fresh PostgreSQL database created (and dropped) with psql, so the
    harness needs no Python PostgreSQL driver."""

    def __init__(self, admin_url: str, prefix: str = "idpool_py"):
        self.admin_url = admin_url
        self.name = f"{prefix}_{secrets.token_hex(6)}"
        parts = urllib.parse.urlsplit(admin_url)
        self.url = urllib.parse.urlunsplit(parts._replace(path=f"/{self.name}"))

    def _psql(self, sql: str) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        env.setdefault("PGCONNECT_TIMEOUT", "10")
        return subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.admin_url, "-c", sql],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    def create(self) -> "ScratchDatabase":
        try:
            r = self._psql(f'CREATE DATABASE "{self.name}"')
        except FileNotFoundError:
            raise RuntimeError("psql not found: run scripts/setup-test-deps.sh") from None
        if r.returncode != 0:
            raise RuntimeError(
                f"could not create database {self.name} via {self.admin_url}: {r.stderr.strip()}"
            )
        return self

    def drop(self) -> None:
        r = self._psql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        if r.returncode != 0:  # PostgreSQL < 13 has no WITH (FORCE)
            self._psql(f'DROP DATABASE IF EXISTS "{self.name}"')


@contextlib.contextmanager
def server_on_backend(start_idpool, backend: str, name: str, **kwargs):
    """A server of its own (`start_idpool`'s factory, its own flags or env) on
    `backend`: "sqlite", or "postgres" on a scratch database dropped afterwards."""
    db = None
    if backend == "postgres":
        url = postgres_url()
        if url is None:
            pytest.skip("IDPOOL_TEST_POSTGRES_URL not set")
        db = ScratchDatabase(url).create()
        kwargs["database_url"] = db.url
    server = start_idpool(f"{name}-{backend}", **kwargs)
    try:
        yield server
    finally:
        server.stop()
        if db is not None:
            db.drop()


# --------------------------------------------------------------------- cognito helpers

PASSWORD_POLICY = {
    "MinimumLength": 8,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": False,
    "TemporaryPasswordValidityDays": 7,
}

AUTH_FLOWS = [
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
    "ALLOW_USER_SRP_AUTH",
]


def secret_hash(username: str, client_id: str, client_secret: str) -> str:
    digest = hmac.new(
        client_secret.encode("utf-8"),
        (username + client_id).encode("utf-8"),
        hashlib.sha256,
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def create_pool(cognito, name: str | None = None, **overrides) -> str:
    params = {
        "PoolName": name or unique("pool"),
        "Policies": {"PasswordPolicy": dict(PASSWORD_POLICY)},
        "AutoVerifiedAttributes": ["email"],
    }
    params.update(overrides)
    pool = cognito.create_user_pool(**params)["UserPool"]
    assert pool["Id"].startswith(f"{REGION}_"), pool["Id"]
    return pool["Id"]


def create_client(cognito, pool_id: str, *, secret: bool = False, **overrides) -> tuple[str, str | None]:
    params = {
        "UserPoolId": pool_id,
        "ClientName": unique("client"),
        "GenerateSecret": secret,
        "ExplicitAuthFlows": list(AUTH_FLOWS),
    }
    params.update(overrides)
    client = cognito.create_user_pool_client(**params)["UserPoolClient"]
    client_secret = client.get("ClientSecret")
    if secret:
        assert client_secret, f"GenerateSecret=True but no ClientSecret: {client}"
    else:
        assert not client_secret, client
    return client["ClientId"], client_secret


class App:
    """A pool + app client, adding SECRET_HASH wherever the client needs it."""

    def __init__(self, cognito, pool_id: str, client_id: str, client_secret: str | None):
        self.cognito = cognito
        self.pool_id = pool_id
        self.client_id = client_id
        self.client_secret = client_secret

    @classmethod
    def create(cls, cognito, *, secret: bool = False, pool_overrides=None, client_overrides=None) -> "App":
        pool_id = create_pool(cognito, **(pool_overrides or {}))
        client_id, client_secret = create_client(cognito, pool_id, secret=secret, **(client_overrides or {}))
        return cls(cognito, pool_id, client_id, client_secret)

    def secret_hash(self, username: str) -> str | None:
        if not self.client_secret:
            return None
        return secret_hash(username, self.client_id, self.client_secret)

    def sh_kw(self, username: str) -> dict:
        """`SecretHash=` keyword for operations that take it as a parameter."""
        h = self.secret_hash(username)
        return {"SecretHash": h} if h else {}

    def sh_param(self, username: str) -> dict:
        """`SECRET_HASH` entry for AuthParameters / ChallengeResponses."""
        h = self.secret_hash(username)
        return {"SECRET_HASH": h} if h else {}

    def sign_up(self, username: str, password: str, email: str, extra_attrs=None):
        attrs = [{"Name": "email", "Value": email}] + list(extra_attrs or [])
        return self.cognito.sign_up(
            ClientId=self.client_id,
            Username=username,
            Password=password,
            UserAttributes=attrs,
            **self.sh_kw(username),
        )

    def confirm_sign_up(self, username: str, code: str):
        return self.cognito.confirm_sign_up(
            ClientId=self.client_id, Username=username, ConfirmationCode=code, **self.sh_kw(username)
        )

    def password_auth(self, username: str, password: str):
        return self.cognito.initiate_auth(
            ClientId=self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password, **self.sh_param(username)},
        )

    def admin_password_auth(self, username: str, password: str):
        return self.cognito.admin_initiate_auth(
            UserPoolId=self.pool_id,
            ClientId=self.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password, **self.sh_param(username)},
        )

    def refresh(self, username: str, refresh_token: str):
        return self.cognito.initiate_auth(
            ClientId=self.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": refresh_token, **self.sh_param(username)},
        )

    def sign_in(self, username: str, password: str) -> dict:
        """USER_PASSWORD_AUTH that must succeed without a challenge."""
        resp = self.password_auth(username, password)
        assert "ChallengeName" not in resp, resp
        result = resp["AuthenticationResult"]
        for key in ("AccessToken", "IdToken", "RefreshToken"):
            assert result.get(key), f"{key} missing from {result}"
        assert result.get("TokenType") == "Bearer", result
        assert int(result.get("ExpiresIn", 0)) > 0, result
        return result

    def forgot_password(self, username: str):
        return self.cognito.forgot_password(ClientId=self.client_id, Username=username, **self.sh_kw(username))

    def confirm_forgot_password(self, username: str, code: str, password: str):
        return self.cognito.confirm_forgot_password(
            ClientId=self.client_id,
            Username=username,
            ConfirmationCode=code,
            Password=password,
            **self.sh_kw(username),
        )


def attrs_dict(attributes: list[dict]) -> dict:
    return {a["Name"]: a.get("Value") for a in attributes}


def wrong_code(code: str) -> str:
    """A code of the same shape as `code` that is certainly different."""
    if code.isdigit():
        return str((int(code) + 1) % (10 ** len(code))).zfill(len(code))
    return "000000" if code != "000000" else "111111"


def _b64url_json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def jwt_header(token: str) -> dict:
    return _b64url_json(token.split(".")[0])


def jwt_claims(token: str) -> dict:
    """Claims of a JWT, unverified (verification: see test_boto3_lifecycle)."""
    parts = token.split(".")
    assert len(parts) == 3, f"not a JWS compact token: {token[:40]}..."
    return _b64url_json(parts[1])


def error_code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


def error_message(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Message", "")


@contextlib.contextmanager
def raises_cognito(code: str, message: str | None = None):
    """Expect a botocore ClientError with Error.Code == code (and, optionally,
    a message containing `message`)."""
    with pytest.raises(ClientError) as ei:
        yield ei
    got_code, got_msg = error_code(ei.value), error_message(ei.value)
    assert got_code == code, f"expected {code}, got {got_code}: {got_msg!r}"
    if message is not None:
        assert message in got_msg, f"{code}: expected message containing {message!r}, got {got_msg!r}"


def aws_error_type(response: requests.Response) -> str:
    """The exception name of a raw AWS JSON 1.1 error response, from
    x-amzn-ErrorType or the body's __type (either may carry a
    `namespace#` prefix or a `:http...` suffix)."""
    raw = response.headers.get("x-amzn-ErrorType", "")
    if not raw:
        try:
            raw = response.json().get("__type", "")
        except ValueError:
            raw = ""
    return raw.split(":")[0].split("#")[-1]


def aws_error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text
    return body.get("message") or body.get("Message") or ""
