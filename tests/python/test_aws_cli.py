"""The core user-pool flow driven through the AWS CLI (`.venv/bin/aws`), as a
developer would script it against `--endpoint-url`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from idpool_testlib import REPO_ROOT, attrs_dict, jwt_claims, unique

PW1 = "Passw0rd-One"
PW2 = "Passw0rd-Two"


def aws_executable() -> str:
    venv_aws = REPO_ROOT / ".venv" / "bin" / "aws"
    if venv_aws.exists():
        return str(venv_aws)
    found = shutil.which("aws")
    if found is None:
        pytest.fail("aws CLI not found: run scripts/setup-test-deps.sh", pytrace=False)
    return found


class AwsCli:
    def __init__(self, endpoint: str, workdir: Path):
        self.endpoint = endpoint
        self.exe = aws_executable()
        missing = str(workdir / "missing")
        self.env = {
            k: v for k, v in os.environ.items() if not (k.startswith("AWS_") or k.startswith("IDPOOL_"))
        }
        self.env.update(
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE=missing,
            AWS_SHARED_CREDENTIALS_FILE=missing,
            AWS_EC2_METADATA_DISABLED="true",
            AWS_PAGER="",
            AWS_MAX_ATTEMPTS="1",
        )

    def run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [self.exe, "cognito-idp", *args, "--endpoint-url", self.endpoint, "--output", "json"]
        return subprocess.run(
            cmd, env=self.env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
        )

    def __call__(self, *args: str):
        r = self.run(*args)
        assert r.returncode == 0, (
            f"aws cognito-idp {' '.join(args)} exited {r.returncode}\n"
            f"stdout: {r.stdout}\nstderr: {r.stderr}"
        )
        return json.loads(r.stdout) if r.stdout.strip() else None

    def fails(self, error_code: str, *args: str) -> str:
        r = self.run(*args)
        assert r.returncode != 0, f"aws cognito-idp {' '.join(args)} succeeded: {r.stdout}"
        assert f"({error_code})" in r.stderr, f"expected {error_code}, got: {r.stderr}"
        return r.stderr


@pytest.fixture
def aws(idpool, tmp_path):
    return AwsCli(idpool.endpoint, tmp_path)


def test_cli_core_flow(idpool, aws):
    pool_name = unique("cli-pool")
    pool = aws(
        "create-user-pool",
        "--pool-name", pool_name,
        "--auto-verified-attributes", "email",
        "--policies", json.dumps({"PasswordPolicy": {
            "MinimumLength": 8, "RequireUppercase": True, "RequireLowercase": True,
            "RequireNumbers": True, "RequireSymbols": False}}),
    )["UserPool"]
    pool_id = pool["Id"]
    assert pool["Name"] == pool_name

    described = aws("describe-user-pool", "--user-pool-id", pool_id)["UserPool"]
    assert described["Id"] == pool_id
    listed = aws("list-user-pools", "--max-results", "20")["UserPools"]
    assert pool_id in {p["Id"] for p in listed}

    client = aws(
        "create-user-pool-client",
        "--user-pool-id", pool_id,
        "--client-name", "cli-client",
        "--explicit-auth-flows", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
        "--no-generate-secret",
    )["UserPoolClient"]
    client_id = client["ClientId"]
    clients = aws("list-user-pool-clients", "--user-pool-id", pool_id)["UserPoolClients"]
    assert [c["ClientId"] for c in clients] == [client_id]

    # sign-up -> code from the outbox -> confirm-sign-up
    signed_up = aws(
        "sign-up",
        "--client-id", client_id,
        "--username", "olivia",
        "--password", PW1,
        "--user-attributes", "Name=email,Value=olivia@example.com",
    )
    assert signed_up["UserConfirmed"] is False
    code = idpool.latest_code(pool_id, "olivia")

    aws.fails("CodeMismatchException", "confirm-sign-up", "--client-id", client_id,
              "--username", "olivia", "--confirmation-code", "000000" if code != "000000" else "111111")
    aws("confirm-sign-up", "--client-id", client_id, "--username", "olivia", "--confirmation-code", code)
    user = aws("admin-get-user", "--user-pool-id", pool_id, "--username", "olivia")
    assert user["UserStatus"] == "CONFIRMED"

    found = aws("list-users", "--user-pool-id", pool_id, "--filter", 'email = "olivia@example.com"')["Users"]
    assert [u["Username"] for u in found] == ["olivia"]

    # initiate-auth (wrong password first)
    auth = ["initiate-auth", "--client-id", client_id, "--auth-flow", "USER_PASSWORD_AUTH", "--auth-parameters"]
    err = aws.fails("NotAuthorizedException", *auth, json.dumps({"USERNAME": "olivia", "PASSWORD": "Wr0ng-Password"}))
    assert "Incorrect username or password." in err
    tokens = aws(*auth, json.dumps({"USERNAME": "olivia", "PASSWORD": PW1}))["AuthenticationResult"]
    assert jwt_claims(tokens["AccessToken"])["token_use"] == "access"
    assert jwt_claims(tokens["IdToken"])["iss"] == f"{idpool.endpoint}/{pool_id}"

    me = aws("get-user", "--access-token", tokens["AccessToken"])
    assert me["Username"] == "olivia"
    assert attrs_dict(me["UserAttributes"])["email"] == "olivia@example.com"

    aws("update-user-attributes", "--access-token", tokens["AccessToken"],
        "--user-attributes", "Name=name,Value=Olivia")
    me = aws("get-user", "--access-token", tokens["AccessToken"])
    assert attrs_dict(me["UserAttributes"]).get("name") == "Olivia"

    aws("change-password", "--access-token", tokens["AccessToken"],
        "--previous-password", PW1, "--proposed-password", PW2)
    aws.fails("NotAuthorizedException", *auth, json.dumps({"USERNAME": "olivia", "PASSWORD": PW1}))
    tokens = aws(*auth, json.dumps({"USERNAME": "olivia", "PASSWORD": PW2}))["AuthenticationResult"]

    refreshed = aws("initiate-auth", "--client-id", client_id, "--auth-flow", "REFRESH_TOKEN_AUTH",
                    "--auth-parameters", json.dumps({"REFRESH_TOKEN": tokens["RefreshToken"]}))
    assert refreshed["AuthenticationResult"]["AccessToken"]

    aws("global-sign-out", "--access-token", tokens["AccessToken"])
    aws.fails("NotAuthorizedException", "get-user", "--access-token", tokens["AccessToken"])

    # admin-create-user -> temporary password -> NEW_PASSWORD_REQUIRED
    created = aws("admin-create-user", "--user-pool-id", pool_id, "--username", "peggy",
                  "--user-attributes", "Name=email,Value=peggy@example.com", "Name=email_verified,Value=true",
                  "--desired-delivery-mediums", "EMAIL")["User"]
    assert created["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    temp = idpool.latest_code(pool_id, "peggy")
    challenge = aws(*auth, json.dumps({"USERNAME": "peggy", "PASSWORD": temp}))
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    answered = aws("respond-to-auth-challenge", "--client-id", client_id,
                   "--challenge-name", "NEW_PASSWORD_REQUIRED", "--session", challenge["Session"],
                   "--challenge-responses", json.dumps({"USERNAME": "peggy", "NEW_PASSWORD": PW1}))
    assert answered["AuthenticationResult"]["IdToken"]

    # disable -> refused; delete -> gone
    aws("admin-disable-user", "--user-pool-id", pool_id, "--username", "peggy")
    aws.fails("NotAuthorizedException", *auth, json.dumps({"USERNAME": "peggy", "PASSWORD": PW1}))
    aws("admin-delete-user", "--user-pool-id", pool_id, "--username", "peggy")
    aws.fails("UserNotFoundException", "admin-get-user", "--user-pool-id", pool_id, "--username", "peggy")

    aws("delete-user-pool-client", "--user-pool-id", pool_id, "--client-id", client_id)
    aws("delete-user-pool", "--user-pool-id", pool_id)
    aws.fails("ResourceNotFoundException", "describe-user-pool", "--user-pool-id", pool_id)


def test_cli_pool_management(idpool, aws):
    """The management operations a team scripts: groups, resource servers, domains,
    client-secret rotation and the signing certificate."""
    pool_id = aws("create-user-pool", "--pool-name", unique("cli-mgmt"))["UserPool"]["Id"]
    client = aws(
        "create-user-pool-client", "--user-pool-id", pool_id, "--client-name", "confidential", "--generate-secret"
    )["UserPoolClient"]
    ids = ["--user-pool-id", pool_id, "--client-id", client["ClientId"]]

    aws("create-group", "--user-pool-id", pool_id, "--group-name", "admins", "--precedence", "1")
    aws("admin-create-user", "--user-pool-id", pool_id, "--username", "ops", "--message-action", "SUPPRESS")
    aws("admin-add-user-to-group", "--user-pool-id", pool_id, "--username", "ops", "--group-name", "admins")
    groups = aws("admin-list-groups-for-user", "--user-pool-id", pool_id, "--username", "ops")["Groups"]
    assert [g["GroupName"] for g in groups] == ["admins"]
    aws.fails("ResourceNotFoundException", "get-group", "--user-pool-id", pool_id, "--group-name", "nobody")

    server = aws(
        "create-resource-server",
        "--user-pool-id",
        pool_id,
        "--identifier",
        "orders-api",
        "--name",
        "api",
        "--scopes",
        "ScopeName=read,ScopeDescription=reads",
    )["ResourceServer"]
    assert server["Scopes"] == [{"ScopeName": "read", "ScopeDescription": "reads"}]

    domain = unique("cli-domain").lower()
    aws("create-user-pool-domain", "--user-pool-id", pool_id, "--domain", domain)
    assert aws("describe-user-pool-domain", "--domain", domain)["DomainDescription"]["UserPoolId"] == pool_id

    added = aws("add-user-pool-client-secret", *ids)["ClientSecretDescriptor"]
    assert added["ClientSecretValue"] != client["ClientSecret"]
    listed = aws("list-user-pool-client-secrets", *ids)["ClientSecrets"]
    assert len(listed) == 2
    aws("delete-user-pool-client-secret", *ids, "--client-secret-id", listed[0]["ClientSecretId"])
    described = aws("describe-user-pool-client", *ids)["UserPoolClient"]
    assert described["ClientSecret"] == added["ClientSecretValue"]

    assert aws("get-signing-certificate", "--user-pool-id", pool_id)["Certificate"]
