"""Lambda triggers with real handler code.

The handlers in tests/node/triggers/handlers/ are written the way Lambda handlers are
(`exports.handler = async (event) => ...`). This module starts an idpool whose config
maps function ARNs to all three invocation targets:
- `command`: tests/node/triggers/run-handler.cjs (event on stdin, result on stdout);
- `url`: tests/node/triggers/lambda-server.cjs's /url/{name};
- the Lambda Invoke API of that same server (SigV4 checked there), for ARNs not mapped.
Handlers append every event they get to $TRIGGER_STATE_DIR/events.jsonl, which is how
the tests see what idpool sent and how often."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest
import requests

from idpool_testlib import (
    REPO_ROOT,
    App,
    ScratchDatabase,
    attrs_dict,
    jwt_claims,
    postgres_required,
    postgres_url,
    raises_cognito,
    unique,
)

TRIGGERS_DIR = REPO_ROOT / "tests" / "node" / "triggers"
HANDLERS_DIR = TRIGGERS_DIR / "handlers"
ACCOUNT = "123456789012"
PASSWORD = "Passw0rd-Trig1"

#: Mapped to a command: the handler runs in a fresh `node` per call.
COMMAND_FUNCTIONS = [
    "pre-sign-up",
    "pre-authentication",
    "custom-message",
    "user-migration",
    "define-auth-challenge",
    "verify-auth-challenge",
    "fail-throws",
    "fail-slow",
    "fail-garbage",
    "custom-email-sender",
]
#: Mapped to a URL of the stand-in Lambda server.
URL_FUNCTIONS = ["post-confirmation", "post-authentication", "pre-token-v1"]
# Everything else (pre-token-generation, create-auth-challenge, missing-function) goes
# through the Lambda Invoke API of the [lambda] endpoint.

TIMEOUT_MS = 2500
ATTEMPTS = 3
KMS_KEY_ID = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/idpool-test"
SENDER_KEY_HEX = "7f" * 32


def arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"


def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.fail("node not found: install Node.js 18+ (scripts/setup-test-deps.sh)", pytrace=False)
    return path


class TriggerWorld:
    def __init__(self, server, state_dir):
        self.server = server
        self.state_dir = state_dir
        self.cognito = server.client()

    def events(self, source_prefix: str = "") -> list[dict]:
        path = self.state_dir / "events.jsonl"
        if not path.exists():
            return []
        out = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [e for e in out if e.get("triggerSource", "").startswith(source_prefix)]

    def pool_events(self, pool_id: str, source_prefix: str = "") -> list[dict]:
        return [e for e in self.events(source_prefix) if e.get("userPoolId") == pool_id]

    def app(self, lambda_config: dict, **pool_overrides) -> App:
        overrides = {"LambdaConfig": lambda_config}
        overrides.update(pool_overrides)
        app = App.create(
            self.cognito,
            pool_overrides=overrides,
            client_overrides={
                "ExplicitAuthFlows": [
                    "ALLOW_USER_PASSWORD_AUTH",
                    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                    "ALLOW_REFRESH_TOKEN_AUTH",
                    "ALLOW_USER_SRP_AUTH",
                    "ALLOW_CUSTOM_AUTH",
                ]
            },
        )
        return app

    def confirmed_user(self, app: App, username: str, email: str, extra_attrs=()):
        self.cognito.admin_create_user(
            UserPoolId=app.pool_id,
            Username=username,
            MessageAction="SUPPRESS",
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
                *extra_attrs,
            ],
        )
        self.cognito.admin_set_user_password(
            UserPoolId=app.pool_id, Username=username, Password=PASSWORD, Permanent=True
        )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request, start_idpool, tmp_path_factory):
    database_url = None
    scratch = None
    if request.param == "postgres":
        url = postgres_url()
        if url is None:
            if postgres_required():
                pytest.fail("IDPOOL_TEST_POSTGRES_URL is not set, but the PostgreSQL backend is required", pytrace=False)
            pytest.skip("IDPOOL_TEST_POSTGRES_URL not set")
        scratch = ScratchDatabase(url).create()
        database_url = scratch.url
    node_bin = node()
    server = None
    state_dir = tmp_path_factory.mktemp("trigger-state")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NODE_")}
    env["TRIGGER_STATE_DIR"] = str(state_dir)
    env["SENDER_KEY_HEX"] = SENDER_KEY_HEX
    lambda_server = subprocess.Popen(
        [node_bin, str(TRIGGERS_DIR / "lambda-server.cjs"), str(HANDLERS_DIR)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        line = lambda_server.stdout.readline()
        assert line.startswith("LISTENING "), f"lambda-server.cjs did not start: {line!r}"
        port = int(line.split()[1])
        lines = []
        for name in COMMAND_FUNCTIONS:
            lines += [
                f'[functions."{arn(name)}"]',
                "command = " + json.dumps([node_bin, str(TRIGGERS_DIR / "run-handler.cjs"), str(HANDLERS_DIR / f"{name}.js")]),
            ]
        for name in URL_FUNCTIONS:
            lines += [f'[functions."{arn(name)}"]', f'url = "http://127.0.0.1:{port}/url/{name}"']
        lines += [
            "[lambda]",
            f'endpoint = "http://127.0.0.1:{port}"',
            f"timeout-ms = {TIMEOUT_MS}",
            f"attempts = {ATTEMPTS}",
            "[sender-keys]",
            f'"{KMS_KEY_ID}" = "{SENDER_KEY_HEX}"',
        ]
        config = state_dir / "idpool.toml"
        config.write_text("\n".join(lines) + "\n")
        server = start_idpool(
            f"triggers-{request.param}",
            database_url=database_url,
            extra_args=["--config", str(config)],
            env={"TRIGGER_STATE_DIR": str(state_dir), "SENDER_KEY_HEX": SENDER_KEY_HEX},
        )
        yield TriggerWorld(server, state_dir)
    finally:
        lambda_server.kill()
        lambda_server.wait()
        if server is not None:
            server.stop()
        if scratch is not None:
            scratch.drop()


def verified_claims(world: TriggerWorld, app: App, tokens: dict) -> dict:
    """Both tokens' payloads, as aws-jwt-verify accepts them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NODE_")}
    env.update(
        IDPOOL_ENDPOINT=world.server.endpoint,
        POOL_ID=app.pool_id,
        CLIENT_ID=app.client_id,
        ID_TOKEN=tokens["IdToken"],
        ACCESS_TOKEN=tokens["AccessToken"],
    )
    r = subprocess.run(
        [node(), str(TRIGGERS_DIR / "verify_claims.mjs")],
        cwd=REPO_ROOT / "tests" / "node",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, f"aws-jwt-verify refused the tokens:\n{r.stdout}\n{r.stderr}"
    return json.loads(r.stdout)


# ------------------------------------------------------------------ sign-up


def test_pre_sign_up_auto_confirms_and_post_confirmation_runs(world):
    app = world.app({"PreSignUp": arn("pre-sign-up"), "PostConfirmation": arn("post-confirmation")})
    username = unique("auto")
    resp = world.cognito.sign_up(
        ClientId=app.client_id,
        Username=username,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": f"{username}@auto.example"}],
        ValidationData=[{"Name": "invite", "Value": "XYZ"}],
        ClientMetadata={"campaign": "winter"},
    )
    assert resp["UserConfirmed"] is True
    assert "CodeDeliveryDetails" not in resp, "an auto-confirmed user gets no code"
    user = world.cognito.admin_get_user(UserPoolId=app.pool_id, Username=username)
    assert user["UserStatus"] == "CONFIRMED"
    assert attrs_dict(user["UserAttributes"])["email_verified"] == "true"
    assert world.server.outbox(app.pool_id, username) == []

    (pre,) = world.pool_events(app.pool_id, "PreSignUp_")
    assert pre["triggerSource"] == "PreSignUp_SignUp"
    assert pre["version"] == "1"
    assert pre["region"] == "us-east-1"
    assert pre["userName"] == username
    assert pre["callerContext"]["clientId"] == app.client_id
    assert "awsSdkVersion" in pre["callerContext"]
    assert pre["request"]["userAttributes"]["email"] == f"{username}@auto.example"
    assert pre["request"]["validationData"] == {"invite": "XYZ"}
    assert pre["request"]["clientMetadata"] == {"campaign": "winter"}

    (post,) = world.pool_events(app.pool_id, "PostConfirmation_")
    assert post["triggerSource"] == "PostConfirmation_ConfirmSignUp"
    assert post["request"]["userAttributes"]["sub"] == resp["UserSub"]
    assert post["request"]["userAttributes"]["cognito:user_status"] == "CONFIRMED"

    app.sign_in(username, PASSWORD)


def test_federated_first_sign_in_runs_pre_sign_up_external_provider(world):
    from fake_oidc import FakeOidcProvider
    from test_federation import FederatedApp

    corp = FakeOidcProvider()
    try:
        triggers = {"PreSignUp": arn("pre-sign-up"), "PostConfirmation": arn("post-confirmation")}
        app = FederatedApp(world.server, corp, pool_overrides={"LambdaConfig": triggers})
        corp.next_user = {"sub": "ext-1", "email": "ext1@auto.example"}
        app.sign_in(identity_provider="Corp")
        (pre,) = world.pool_events(app.pool_id, "PreSignUp_")
        assert pre["triggerSource"] == "PreSignUp_ExternalProvider"
        assert pre["userName"] == "Corp_ext-1"
        assert pre["callerContext"]["clientId"] == app.client_id
        assert pre["request"]["userAttributes"]["email"] == "ext1@auto.example"
        (post,) = world.pool_events(app.pool_id, "PostConfirmation_")
        assert post["triggerSource"] == "PostConfirmation_ConfirmSignUp"
        assert post["request"]["userAttributes"]["cognito:user_status"] == "EXTERNAL_PROVIDER"
        # autoVerifyEmail applies to the provider's email.
        user = world.cognito.admin_get_user(UserPoolId=app.pool_id, Username="Corp_ext-1")
        assert attrs_dict(user["UserAttributes"])["email_verified"] == "true"
        # Later sign-ins are not sign-ups.
        app.sign_in(identity_provider="Corp")
        assert len(world.pool_events(app.pool_id, "PreSignUp_")) == 1

        refusing = FederatedApp(world.server, corp, pool_overrides={"LambdaConfig": {"PreSignUp": arn("fail-throws")}})
        got = refusing.refused(identity_provider="Corp")
        assert "PreSignUp failed with error Nobody signs up today" in got["error_description"]
        assert refusing.federated_users() == []
    finally:
        corp.close()


def test_pre_sign_up_refusal_creates_no_user(world):
    app = world.app({"PreSignUp": arn("pre-sign-up")})
    username = unique("blocked")
    with raises_cognito(
        "UserLambdaValidationException",
        "PreSignUp failed with error Sign-ups from blocked.example are not allowed.",
    ):
        app.sign_up(username, PASSWORD, f"{username}@blocked.example")
    with raises_cognito("UserNotFoundException"):
        world.cognito.admin_get_user(UserPoolId=app.pool_id, Username=username)
    # AdminCreateUser runs PreSignUp too (PreSignUp_AdminCreateUser) and is refused alike.
    with raises_cognito("UserLambdaValidationException", "PreSignUp failed with error"):
        world.cognito.admin_create_user(
            UserPoolId=app.pool_id,
            Username=username,
            UserAttributes=[{"Name": "email", "Value": f"{username}@blocked.example"}],
        )
    assert [e["triggerSource"] for e in world.pool_events(app.pool_id)] == [
        "PreSignUp_SignUp",
        "PreSignUp_AdminCreateUser",
    ]
    # An ordinary address goes through the usual confirmation by code.
    other = unique("plain")
    resp = app.sign_up(other, PASSWORD, f"{other}@example.com")
    assert resp["UserConfirmed"] is False


def test_failed_post_confirmation_leaves_the_user_unconfirmed(world):
    app = world.app({"PostConfirmation": arn("post-confirmation")})
    username = unique("postfail")
    app.sign_up(username, PASSWORD, f"postfail-{username}@example.com")
    code = world.server.latest_code(app.pool_id, username)
    with raises_cognito(
        "UserLambdaValidationException", "PostConfirmation failed with error Profile store unavailable."
    ):
        app.confirm_sign_up(username, code)
    user = world.cognito.admin_get_user(UserPoolId=app.pool_id, Username=username)
    assert user["UserStatus"] == "UNCONFIRMED"
    with raises_cognito("UserNotConfirmedException"):
        app.password_auth(username, PASSWORD)


def test_custom_message_rewrites_the_sign_up_email(world):
    app = world.app({"CustomMessage": arn("custom-message")})
    username = unique("msg")
    email = f"{username}@example.com"
    app.sign_up(username, PASSWORD, email)
    msg = world.server.wait_for_message(app.pool_id, username)
    assert msg["subject"] == "Welcome to Acme"
    assert msg["message"] == f"Welcome to Acme, {email}! Your code is {msg['code']}."
    (event,) = world.pool_events(app.pool_id, "CustomMessage_")
    assert event["triggerSource"] == "CustomMessage_SignUp"
    assert event["request"]["codeParameter"] == "{####}"
    assert event["request"]["usernameParameter"] is None
    # ResendConfirmationCode is its own source; the handler leaves it alone there.
    world.cognito.resend_confirmation_code(ClientId=app.client_id, Username=username)
    msg = world.server.wait_for_message(app.pool_id, username, after=1)
    assert msg["message"] != f"Welcome to Acme, {email}! Your code is {msg['code']}."
    assert msg["code"] in msg["message"]
    assert [e["triggerSource"] for e in world.pool_events(app.pool_id, "CustomMessage_")] == [
        "CustomMessage_SignUp",
        "CustomMessage_ResendCode",
    ]
    app.confirm_sign_up(username, msg["code"])


def test_custom_email_sender_gets_the_code_encrypted(world):
    app = world.app(
        {
            "CustomEmailSender": {"LambdaVersion": "V1_0", "LambdaArn": arn("custom-email-sender")},
            "KMSKeyID": KMS_KEY_ID,
        }
    )
    username = unique("sender")
    email = f"{username}@example.com"
    resp = app.sign_up(username, PASSWORD, email)
    assert resp["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    # The sender delivered it: idpool itself sent nothing.
    assert world.server.outbox(app.pool_id, username) == []
    (event,) = world.pool_events(app.pool_id, "CustomEmailSender_")
    assert event["triggerSource"] == "CustomEmailSender_SignUp"
    assert event["request"]["type"] == "customEmailSenderRequestV1"
    code = mailed_code(world, email)
    assert code.isdigit() and code not in event["request"]["code"]
    app.confirm_sign_up(username, code)
    app.forgot_password(username)
    assert world.pool_events(app.pool_id, "CustomEmailSender_")[-1]["triggerSource"] == "CustomEmailSender_ForgotPassword"
    app.confirm_forgot_password(username, mailed_code(world, email), "Sent-Passw0rd1")
    app.sign_in(username, "Sent-Passw0rd1")


def test_custom_sms_sender_delivers_sign_up_and_mfa_codes(world):
    app = world.app(
        {
            "CustomSMSSender": {"LambdaVersion": "V1_0", "LambdaArn": arn("custom-sms-sender")},
            "KMSKeyID": KMS_KEY_ID,
        },
        AutoVerifiedAttributes=["phone_number"],
        MfaConfiguration="OPTIONAL",
        SmsConfiguration={"SnsCallerArn": f"arn:aws:iam::{ACCOUNT}:role/sms", "ExternalId": "idpool"},
    )
    username = unique("sms")
    phone = "+15550123"
    resp = world.cognito.sign_up(
        ClientId=app.client_id, Username=username, Password=PASSWORD,
        UserAttributes=[{"Name": "phone_number", "Value": phone}, {"Name": "email", "Value": f"{username}@example.com"}],
    )
    assert resp["CodeDeliveryDetails"]["DeliveryMedium"] == "SMS"
    assert world.server.outbox(app.pool_id, username) == []
    (event,) = world.pool_events(app.pool_id, "CustomSMSSender_")
    assert event["triggerSource"] == "CustomSMSSender_SignUp"
    assert event["request"]["type"] == "customSMSSenderRequestV1"
    app.confirm_sign_up(username, mailed_code(world, phone))

    world.cognito.admin_set_user_mfa_preference(
        UserPoolId=app.pool_id, Username=username, SMSMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    challenge = app.password_auth(username, PASSWORD)
    assert challenge["ChallengeName"] == "SMS_MFA"
    assert world.pool_events(app.pool_id, "CustomSMSSender_")[-1]["triggerSource"] == "CustomSMSSender_Authentication"
    code = mailed_code(world, phone)
    assert code.isdigit() and code not in json.dumps(world.pool_events(app.pool_id, "CustomSMSSender_"))
    done = world.cognito.respond_to_auth_challenge(
        ClientId=app.client_id, ChallengeName="SMS_MFA", Session=challenge["Session"],
        ChallengeResponses={"USERNAME": username, "SMS_MFA_CODE": code},
    )
    assert done["AuthenticationResult"]["IdToken"]


def test_attach_a_trigger_with_the_aws_cli(world, tmp_path):
    """docs/triggers.md's recipe: update-user-pool --lambda-config."""
    from test_aws_cli import AwsCli

    aws = AwsCli(world.server.endpoint, tmp_path)
    pool_id = aws("create-user-pool", "--pool-name", unique("cli-triggers"))["UserPool"]["Id"]
    client_id = aws(
        "create-user-pool-client", "--user-pool-id", pool_id, "--client-name", "app"
    )["UserPoolClient"]["ClientId"]
    aws(
        "update-user-pool",
        "--user-pool-id", pool_id,
        "--auto-verified-attributes", "email",
        "--lambda-config", f"PreSignUp={arn('pre-sign-up')}",
    )
    described = aws("describe-user-pool", "--user-pool-id", pool_id)["UserPool"]
    assert described["LambdaConfig"] == {"PreSignUp": arn("pre-sign-up")}
    err = aws.fails(
        "UserLambdaValidationException",
        "sign-up", "--client-id", client_id, "--username", "mallory", "--password", PASSWORD,
        "--user-attributes", "Name=email,Value=mallory@blocked.example",
    )
    assert "PreSignUp failed with error Sign-ups from blocked.example are not allowed." in err
    out = aws(
        "sign-up", "--client-id", client_id, "--username", "alice", "--password", PASSWORD,
        "--user-attributes", "Name=email,Value=alice@auto.example",
    )
    assert out["UserConfirmed"] is True


# ------------------------------------------------------------------ sign-in


def test_pre_and_post_authentication(world):
    app = world.app(
        {"PreAuthentication": arn("pre-authentication"), "PostAuthentication": arn("post-authentication")},
        Schema=[{"Name": "suspended", "AttributeDataType": "String", "Mutable": True}],
    )
    ok, suspended = unique("ok"), unique("suspended")
    world.confirmed_user(app, ok, f"{ok}@example.com")
    world.confirmed_user(
        app, suspended, f"{suspended}@example.com", [{"Name": "custom:suspended", "Value": "yes"}]
    )
    app.sign_in(ok, PASSWORD)
    with raises_cognito("UserLambdaValidationException", "PreAuthentication failed with error Account suspended."):
        app.password_auth(suspended, PASSWORD)
    sources = [(e["triggerSource"], e["userName"]) for e in world.pool_events(app.pool_id)]
    assert sources == [
        ("PreAuthentication_Authentication", ok),
        ("PostAuthentication_Authentication", ok),
        ("PreAuthentication_Authentication", suspended),
    ]
    post = world.pool_events(app.pool_id, "PostAuthentication_")[0]
    assert post["request"]["userAttributes"]["email"] == f"{ok}@example.com"
    assert post["request"]["newDeviceUsed"] is False


def test_a_refused_token_leaves_no_tracked_device(world):
    """PreTokenGeneration runs last: when it refuses, the sign-in made no device."""
    app = world.app(
        {"PreTokenGeneration": arn("fail-throws")},
        DeviceConfiguration={"ChallengeRequiredOnNewDevice": False, "DeviceOnlyRememberedOnUserPrompt": True},
    )
    name = unique("dev")
    world.confirmed_user(app, name, f"{name}@example.com")
    with raises_cognito("UserLambdaValidationException", "PreTokenGeneration failed with error"):
        app.password_auth(name, PASSWORD)
    devices = app.cognito.admin_list_devices(UserPoolId=app.pool_id, Username=name)["Devices"]
    assert devices == []


def test_pre_token_generation_v2_through_the_lambda_invoke_api(world):
    app = world.app(
        {"PreTokenGenerationConfig": {"LambdaVersion": "V2_0", "LambdaArn": arn("pre-token-generation")}}
    )
    world.cognito.create_group(UserPoolId=app.pool_id, GroupName="readers")
    username = unique("claims")
    world.confirmed_user(app, username, f"{username}@example.com", [{"Name": "phone_number", "Value": "+15555550100"}])
    world.cognito.admin_add_user_to_group(UserPoolId=app.pool_id, Username=username, GroupName="readers")
    tokens = app.sign_in(username, PASSWORD)
    claims = verified_claims(world, app, tokens)
    assert claims["id"]["tenant"] == "acme"
    assert claims["id"]["plan"] == {"name": "gold", "seats": 5}
    assert "phone_number" not in claims["id"]
    assert claims["id"]["email"] == f"{username}@example.com"
    assert claims["id"]["cognito:groups"] == ["from-trigger"]
    assert claims["access"]["tenant"] == "acme"
    assert claims["access"]["scope"].split() == ["aws.cognito.signin.user.admin", "api/read"]
    assert claims["access"]["cognito:groups"] == ["from-trigger"]

    (event,) = world.pool_events(app.pool_id, "TokenGeneration_")
    assert event["version"] == "2"
    assert event["triggerSource"] == "TokenGeneration_Authentication"
    assert event["request"]["groupConfiguration"]["groupsToOverride"] == ["readers"]
    assert "claimsAndScopeOverrideDetails" in event["response"]

    refreshed = app.refresh(username, tokens["RefreshToken"])["AuthenticationResult"]
    assert jwt_claims(refreshed["IdToken"])["tenant"] == "acme"
    assert [e["triggerSource"] for e in world.pool_events(app.pool_id, "TokenGeneration_")] == [
        "TokenGeneration_Authentication",
        "TokenGeneration_RefreshTokens",
    ]


def test_pre_token_generation_v3_changes_machine_to_machine_tokens(world):
    app = world.app(
        {"PreTokenGenerationConfig": {"LambdaVersion": "V3_0", "LambdaArn": arn("pre-token-generation")}}
    )
    world.cognito.create_resource_server(
        UserPoolId=app.pool_id, Identifier="api", Name="API",
        Scopes=[{"ScopeName": "read", "ScopeDescription": "read"}, {"ScopeName": "write", "ScopeDescription": "write"}],
    )
    m2m = world.cognito.create_user_pool_client(
        UserPoolId=app.pool_id, ClientName="worker", GenerateSecret=True,
        AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=["api/write"],
    )["UserPoolClient"]
    result = world.server.client(unsigned=True).get_client_token(
        ClientId=m2m["ClientId"], Secret=m2m["ClientSecret"], ClientMetadata={"job": "nightly"}
    )["ClientAuthenticationResult"]
    claims = jwt_claims(result["AccessToken"])
    assert claims["tenant"] == "acme" and claims["sub"] == m2m["ClientId"]
    assert claims["scope"].split() == ["api/write", "api/read"]
    assert "cognito:groups" not in claims, "a machine has no groups to override"
    (event,) = world.pool_events(app.pool_id, "TokenGeneration_")
    assert (event["version"], event["triggerSource"], event["userName"]) == ("3", "TokenGeneration_ClientCredentials", None)
    assert event["callerContext"]["clientId"] == m2m["ClientId"]
    assert event["request"]["scopes"] == ["api/write"] and event["request"]["userAttributes"] == {}
    assert event["request"]["clientMetadata"] == {"job": "nightly"}

    # The token endpoint's grant too, with its aws_client_metadata.
    token_url = f"{world.server.endpoint}/{app.pool_id}/oauth2/token"
    r = requests.post(token_url, data={"grant_type": "client_credentials", "aws_client_metadata": '{"job":"hourly"}'},
                      auth=(m2m["ClientId"], m2m["ClientSecret"]), timeout=10)
    assert r.status_code == 200, r.text
    assert jwt_claims(r.json()["access_token"])["tenant"] == "acme"
    assert world.pool_events(app.pool_id, "TokenGeneration_")[-1]["request"]["clientMetadata"] == {"job": "hourly"}
    r = requests.post(token_url, data={"grant_type": "client_credentials", "aws_client_metadata": "[1]"},
                      auth=(m2m["ClientId"], m2m["ClientSecret"]), timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"

    # A V2_0 function is not sent machine-to-machine grants.
    world.cognito.update_user_pool(
        UserPoolId=app.pool_id,
        LambdaConfig={"PreTokenGenerationConfig": {"LambdaVersion": "V2_0", "LambdaArn": arn("pre-token-generation")}},
    )
    before = len(world.pool_events(app.pool_id, "TokenGeneration_"))
    plain = world.server.client(unsigned=True).get_client_token(ClientId=m2m["ClientId"], Secret=m2m["ClientSecret"])
    assert "tenant" not in jwt_claims(plain["ClientAuthenticationResult"]["AccessToken"])
    assert len(world.pool_events(app.pool_id, "TokenGeneration_")) == before


def test_pre_token_generation_v1_on_a_new_password_challenge(world):
    app = world.app({"PreTokenGeneration": arn("pre-token-v1")})
    username = unique("v1")
    world.cognito.admin_create_user(
        UserPoolId=app.pool_id,
        Username=username,
        TemporaryPassword="Temp-Passw0rd1",
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"}],
    )
    resp = app.password_auth(username, "Temp-Passw0rd1")
    assert resp["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert world.pool_events(app.pool_id) == [], "no tokens yet, so no PreTokenGeneration"
    tokens = world.cognito.respond_to_auth_challenge(
        ClientId=app.client_id,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=resp["Session"],
        ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    claims = verified_claims(world, app, tokens)
    assert claims["id"]["department"] == "engineering"
    assert "email" not in claims["id"]
    assert claims["id"]["cognito:groups"] == ["v1-group"]
    assert claims["id"]["cognito:roles"] == ["arn:aws:iam::123456789012:role/v1"]
    assert claims["id"]["cognito:preferred_role"] == "arn:aws:iam::123456789012:role/v1"
    assert claims["access"]["cognito:groups"] == ["v1-group"]
    assert "department" not in claims["access"], "V1 changes the ID token only"
    (event,) = world.pool_events(app.pool_id)
    assert event["version"] == "1"
    assert event["triggerSource"] == "TokenGeneration_NewPasswordChallenge"
    assert event["response"] == {"claimsOverrideDetails": None}


def test_user_migration_on_sign_in_and_forgot_password(world):
    app = world.app({"UserMigration": arn("user-migration")})
    with raises_cognito("UserLambdaValidationException", "UserMigration failed with error Bad password."):
        app.password_auth("legacy-user", "WrongPass1")
    with raises_cognito("UserNotFoundException"):
        world.cognito.admin_get_user(UserPoolId=app.pool_id, Username="legacy-user")

    tokens = app.sign_in("legacy-user", "LegacyPass1")
    assert jwt_claims(tokens["IdToken"])["email"] == "legacy@example.com"
    user = world.cognito.admin_get_user(UserPoolId=app.pool_id, Username="legacy-user")
    assert user["UserStatus"] == "CONFIRMED"
    assert attrs_dict(user["UserAttributes"])["email_verified"] == "true"
    # Migrated once: the next sign-in is an ordinary one.
    app.sign_in("legacy-user", "LegacyPass1")
    (event,) = world.pool_events(app.pool_id, "UserMigration_Authentication")[-1:]
    assert event["request"]["password"] == "LegacyPass1"
    assert len(world.pool_events(app.pool_id, "UserMigration_Authentication")) == 2

    # ForgotPassword of a legacy user: migrated as RESET_REQUIRED, and the code goes out.
    resp = app.forgot_password("legacy-reset")
    assert resp["CodeDeliveryDetails"]["AttributeName"] == "email"
    user = world.cognito.admin_get_user(UserPoolId=app.pool_id, Username="legacy-reset")
    assert user["UserStatus"] == "RESET_REQUIRED"
    code = world.server.latest_code(app.pool_id, "legacy-reset")
    app.confirm_forgot_password("legacy-reset", code, "NewPassw0rd1")
    app.sign_in("legacy-reset", "NewPassw0rd1")
    assert world.pool_events(app.pool_id, "UserMigration_ForgotPassword")[0]["userName"] == "legacy-reset"


def test_user_migration_alias_takeover_and_sms_mfa(world):
    app = world.app({"UserMigration": arn("user-migration")}, AliasAttributes=["email"])
    world.confirmed_user(app, unique("holder"), "taken@example.com")
    holder = world.cognito.list_users(UserPoolId=app.pool_id)["Users"][0]["Username"]

    # Without forceAliasCreation the verified alias stays with its holder.
    with raises_cognito(
        "UserLambdaValidationException", "UserMigration failed with error An account with the given email already exists."
    ):
        app.password_auth("legacy-clash", "ClashPass1")
    with raises_cognito("UserNotFoundException"):
        world.cognito.admin_get_user(UserPoolId=app.pool_id, Username="legacy-clash")

    # With it, the alias moves to the migrated user; enableSMSMFA turns SMS MFA on.
    app.sign_in("legacy-alias", "AliasPass1")
    migrated = world.cognito.admin_get_user(UserPoolId=app.pool_id, Username="legacy-alias")
    assert migrated["UserMFASettingList"] == ["SMS_MFA"]
    old = world.cognito.admin_get_user(UserPoolId=app.pool_id, Username=holder)
    assert attrs_dict(old["UserAttributes"])["email_verified"] == "false"
    tokens = app.sign_in("taken@example.com", "AliasPass1")
    assert jwt_claims(tokens["IdToken"])["cognito:username"] == "legacy-alias"


# ------------------------------------------------------------------ CUSTOM_AUTH


CUSTOM_AUTH_CONFIG = {
    "DefineAuthChallenge": arn("define-auth-challenge"),
    "CreateAuthChallenge": arn("create-auth-challenge"),
    "VerifyAuthChallengeResponse": arn("verify-auth-challenge"),
}


def mailed_code(world: TriggerWorld, to: str) -> str:
    mails = [json.loads(l) for l in (world.state_dir / "mail.jsonl").read_text().splitlines()]
    return [m for m in mails if m["to"] == to][-1]["code"]


def test_custom_auth_three_rounds(world):
    app = world.app(CUSTOM_AUTH_CONFIG)
    username = unique("custom")
    email = f"{username}@example.com"
    world.confirmed_user(app, username, email)

    resp = world.cognito.initiate_auth(
        ClientId=app.client_id, AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": username}
    )
    answers = []
    for expected_kind in ["email-code", "question", "echo"]:
        assert resp["ChallengeName"] == "CUSTOM_CHALLENGE", resp
        params = resp["ChallengeParameters"]
        assert params["kind"] == expected_kind
        assert params["USERNAME"] == username
        assert "answer" not in params, "private challenge parameters must not reach the client"
        answer = {
            "email-code": lambda: mailed_code(world, email),
            "question": lambda: "42",
            "echo": lambda: params["nonce"][::-1],
        }[expected_kind]()
        answers.append(answer)
        resp = world.cognito.respond_to_auth_challenge(
            ClientId=app.client_id,
            ChallengeName="CUSTOM_CHALLENGE",
            Session=resp["Session"],
            ChallengeResponses={"USERNAME": username, "ANSWER": answer},
        )
    tokens = resp["AuthenticationResult"]
    assert jwt_claims(tokens["IdToken"])["cognito:username"] == username

    defines = world.pool_events(app.pool_id, "DefineAuthChallenge_")
    assert len(defines) == 4
    assert [r["challengeMetadata"] for r in defines[-1]["request"]["session"]] == ["EMAIL_CODE", "QUESTION", "ECHO"]
    assert all(r["challengeResult"] for r in defines[-1]["request"]["session"])
    verify = world.pool_events(app.pool_id, "VerifyAuthChallengeResponse_")[0]
    assert verify["request"]["privateChallengeParameters"]["answer"] == answers[0]
    assert verify["request"]["challengeAnswer"] == answers[0]


def test_custom_auth_wrong_answer_fails_and_sessions_are_single_use(world):
    app = world.app(CUSTOM_AUTH_CONFIG)
    username = unique("custom")
    world.confirmed_user(app, username, f"{username}@example.com")
    resp = world.cognito.initiate_auth(
        ClientId=app.client_id, AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": username}
    )
    with raises_cognito("NotAuthorizedException", "Incorrect username or password."):
        world.cognito.respond_to_auth_challenge(
            ClientId=app.client_id,
            ChallengeName="CUSTOM_CHALLENGE",
            Session=resp["Session"],
            ChallengeResponses={"USERNAME": username, "ANSWER": "000000-wrong"},
        )
    with raises_cognito("NotAuthorizedException", "session can only be used once"):
        world.cognito.respond_to_auth_challenge(
            ClientId=app.client_id,
            ChallengeName="CUSTOM_CHALLENGE",
            Session=resp["Session"],
            ChallengeResponses={"USERNAME": username, "ANSWER": mailed_code(world, f"{username}@example.com")},
        )
    # Without the three functions the flow is refused as Cognito refuses it.
    plain = world.app({})
    with raises_cognito("InvalidUserPoolConfigurationException", "Custom auth lambda trigger is not configured"):
        world.cognito.initiate_auth(
            ClientId=plain.client_id, AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": username}
        )


def test_custom_auth_after_srp_with_amazon_cognito_identity_js(world):
    if not (REPO_ROOT / "tests" / "node" / "node_modules" / "amazon-cognito-identity-js").is_dir():
        pytest.fail("tests/node/node_modules is missing: run scripts/setup-test-deps.sh", pytrace=False)
    app = world.app(CUSTOM_AUTH_CONFIG)
    username = unique("srpcustom")
    world.confirmed_user(app, username, f"{username}@example.com")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NODE_")}
    env.update(
        IDPOOL_ENDPOINT=world.server.endpoint,
        POOL_ID=app.pool_id,
        CLIENT_ID=app.client_id,
        USERNAME=username,
        PASSWORD=PASSWORD,
        TRIGGER_STATE_DIR=str(world.state_dir),
    )
    r = subprocess.run(
        [node(), str(TRIGGERS_DIR / "custom_auth_client.mjs")],
        cwd=REPO_ROOT / "tests" / "node",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, f"custom_auth_client.mjs failed:\n{r.stdout}\n{r.stderr}"
    out = json.loads(r.stdout)
    assert [c["kind"] for c in out["challenges"]] == ["email-code", "question", "echo"]
    assert jwt_claims(out["idToken"])["cognito:username"] == username
    sessions = [e["request"]["session"] for e in world.pool_events(app.pool_id, "DefineAuthChallenge_")]
    assert [r["challengeName"] for r in sessions[0]] == ["SRP_A"]
    assert [r["challengeName"] for r in sessions[-1]] == [
        "SRP_A",
        "PASSWORD_VERIFIER",
        "CUSTOM_CHALLENGE",
        "CUSTOM_CHALLENGE",
        "CUSTOM_CHALLENGE",
    ]


def custom_sign_in_from(world: TriggerWorld, app: App, username: str, ip: str) -> dict:
    """CUSTOM_AUTH through the admin API, as a server reporting its user's address."""
    context = {"IpAddress": ip, "ServerName": "app.example.com", "ServerPath": "/login", "HttpHeaders": []}
    resp = world.cognito.admin_initiate_auth(
        UserPoolId=app.pool_id,
        ClientId=app.client_id,
        AuthFlow="CUSTOM_AUTH",
        AuthParameters={"USERNAME": username},
        ContextData=context,
    )
    while "ChallengeName" in resp:
        params = resp["ChallengeParameters"]
        answer = {
            "email-code": lambda: mailed_code(world, params["destination"]),
            "question": lambda: "42",
            "echo": lambda: params["nonce"][::-1],
        }[params["kind"]]()
        resp = world.cognito.admin_respond_to_auth_challenge(
            UserPoolId=app.pool_id,
            ClientId=app.client_id,
            ChallengeName="CUSTOM_CHALLENGE",
            Session=resp["Session"],
            ChallengeResponses={"USERNAME": username, "ANSWER": answer},
            ContextData=context,
        )
    return resp["AuthenticationResult"]


def test_threat_protection_of_custom_auth_has_its_own_mode(world):
    """CustomAuthMode ENFORCED blocks a risky custom sign-in once its challenges pass,
    while the pool's AUDIT mode only scores password sign-ins; without CustomAuthMode
    custom sign-ins are not assessed at all."""
    add_ons = {"AdvancedSecurityMode": "AUDIT", "AdvancedSecurityAdditionalFlows": {"CustomAuthMode": "ENFORCED"}}
    app = world.app(CUSTOM_AUTH_CONFIG, UserPoolAddOns=add_ons)
    block = {"EventAction": "BLOCK", "Notify": False}
    world.cognito.set_risk_configuration(
        UserPoolId=app.pool_id,
        AccountTakeoverRiskConfiguration={
            "Actions": {"LowAction": block, "MediumAction": block, "HighAction": block}
        },
    )
    username = unique("riskycustom")
    world.confirmed_user(app, username, f"{username}@example.com")

    def events():
        return world.cognito.admin_list_user_auth_events(UserPoolId=app.pool_id, Username=username)["AuthEvents"]

    # A new user has no history to differ from.
    assert custom_sign_in_from(world, app, username, "203.0.113.7")["AccessToken"]
    assert events()[0]["EventRisk"]["RiskDecision"] == "NoRisk"
    assert events()[0]["EventResponse"] == "Pass"
    assert events()[0]["ChallengeResponses"] == [], "custom challenges are no password"
    # Every challenge answered right, from an address never seen: blocked.
    with raises_cognito("NotAuthorizedException", "Unable to login because of security reasons."):
        custom_sign_in_from(world, app, username, "198.51.100.20")
    latest = events()[0]
    assert (latest["EventResponse"], latest["EventRisk"]["RiskDecision"]) == ("Fail", "Block")
    assert latest["EventRisk"]["RiskLevel"] == "Medium"
    assert latest["EventContextData"]["IpAddress"] == "198.51.100.20"
    # The standard mode is AUDIT: a password sign-in from there is scored, not blocked.
    world.cognito.admin_initiate_auth(
        UserPoolId=app.pool_id,
        ClientId=app.client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        ContextData={"IpAddress": "198.51.100.21", "ServerName": "a", "ServerPath": "/", "HttpHeaders": []},
    )
    latest = events()[0]
    assert (latest["EventResponse"], latest["EventRisk"]["RiskDecision"]) == ("Pass", "AccountTakeover")

    # Without CustomAuthMode, custom sign-ins are not assessed: no block, no risk recorded.
    world.cognito.update_user_pool(
        UserPoolId=app.pool_id,
        LambdaConfig=CUSTOM_AUTH_CONFIG,
        UserPoolAddOns={"AdvancedSecurityMode": "AUDIT"},
    )
    assert custom_sign_in_from(world, app, username, "192.0.2.55")["AccessToken"]
    latest = events()[0]
    assert latest["EventResponse"] == "Pass"
    assert "EventRisk" not in latest


# ------------------------------------------------------------------ failures


def test_handler_errors_timeouts_and_garbage(world):
    throws = world.app({"PreSignUp": arn("fail-throws")})
    with raises_cognito("UserLambdaValidationException", "PreSignUp failed with error Nobody signs up today."):
        throws.sign_up(unique("u"), PASSWORD, "someone@example.com")

    garbage = world.app({"PreSignUp": arn("fail-garbage")})
    with raises_cognito("InvalidLambdaResponseException", "Unrecognizable lambda output"):
        garbage.sign_up(unique("u"), PASSWORD, "someone@example.com")

    missing = world.app({"PreSignUp": arn("missing-function")})
    with raises_cognito(
        "UnexpectedLambdaException", "PreSignUp invocation failed due to error ResourceNotFoundException."
    ):
        missing.sign_up(unique("u"), PASSWORD, "someone@example.com")

    slow = world.app({"PreSignUp": arn("fail-slow")})
    username = unique("slow")
    started = time.monotonic()
    with raises_cognito(
        "UnexpectedLambdaException",
        "PreSignUp invocation failed due to error Socket timeout while invoking Lambda function.",
    ):
        slow.sign_up(username, PASSWORD, "someone@example.com")
    elapsed = time.monotonic() - started
    attempts = [e for e in world.events("fail-slow-attempt") if e["userPoolId"] == slow.pool_id]
    assert len(attempts) == ATTEMPTS, f"expected {ATTEMPTS} attempts, got {len(attempts)}"
    assert elapsed >= ATTEMPTS * TIMEOUT_MS / 1000 - 0.5, elapsed
    for app in (throws, garbage, missing, slow):
        assert world.cognito.list_users(UserPoolId=app.pool_id)["Users"] == []
