"""Runs the Node.js tests (node:test) against the session's dev server, so one pytest
run covers the JavaScript clients too:
- tests/node/verify_tokens.mjs: aws-jwt-verify accepts idpool's tokens;
- tests/node/cognito_identity_js.mjs: amazon-cognito-identity-js (SRP, TOTP, SMS MFA,
  remembered devices);
- tests/node/amplify.mjs: Amplify v6 (SRP, TOTP set-up and challenge, passwordless
  USER_AUTH);
- tests/node/hosted_ui.mjs: the hosted pages in headless Chromium (playwright-core) with
  openid-client as the app: sign-up and confirmation, TOTP, forgot password."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from idpool_testlib import REPO_ROOT

NODE_DIR = REPO_ROOT / "tests" / "node"


@pytest.mark.parametrize(
    "script,package,minimum",
    [
        ("verify_tokens.mjs", "aws-jwt-verify", 1),
        ("cognito_identity_js.mjs", "amazon-cognito-identity-js", 5),
        ("amplify.mjs", "aws-amplify", 3),
        ("hosted_ui.mjs", "playwright-core", 5),
    ],
    ids=["aws-jwt-verify", "amazon-cognito-identity-js", "amplify-v6", "hosted-ui-chromium"],
)
def test_node_client(idpool, script, package, minimum):
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not found: install Node.js 18+ (scripts/setup-test-deps.sh)", pytrace=False)
    if not (NODE_DIR / "node_modules" / package).is_dir():
        pytest.fail("tests/node/node_modules is missing: run scripts/setup-test-deps.sh", pytrace=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NODE_")}
    env["IDPOOL_ENDPOINT"] = idpool.endpoint
    r = subprocess.run(
        [node, "--test", "--test-reporter=spec", str((NODE_DIR / script).relative_to(REPO_ROOT))],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert r.returncode == 0, f"node --test failed ({r.returncode})\n--- stdout ---\n{r.stdout}\n--- stderr ---\n{r.stderr}"
    passed = re.search(r"^(?:ℹ|#) pass (\d+)$", r.stdout, re.MULTILINE)
    assert passed and int(passed.group(1)) >= minimum, f"node ran fewer tests than expected:\n{r.stdout}"
    assert re.search(r"^(?:ℹ|#) fail 0$", r.stdout, re.MULTILINE), r.stdout
