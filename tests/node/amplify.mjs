// Amplify v6 (aws-amplify/auth) against idpool through `userPoolEndpoint`: signIn with
// its default SRP flow, confirmSignIn for a TOTP code and for TOTP set-up during
// sign-in, passwordless USER_AUTH with an email code, getCurrentUser and
// fetchAuthSession, signOut.
//
//   IDPOOL_ENDPOINT=http://127.0.0.1:9229 node --test tests/node/amplify.mjs
//
// Amplify is one configured singleton, so the steps run in order in one test each
// and sign out at the end.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Amplify } from "aws-amplify";
import {
  confirmSignIn,
  fetchAuthSession,
  getCurrentUser,
  signIn,
  signOut,
} from "aws-amplify/auth";

import { cognito, endpoint, lastCode, newPool, newUser, PASSWORD, totp } from "./lib.mjs";

function configure({ poolId, clientId }) {
  Amplify.configure({
    Auth: {
      Cognito: {
        userPoolId: poolId,
        userPoolClientId: clientId,
        userPoolEndpoint: `${endpoint}/`,
      },
    },
  });
}

const FLOWS = {
  ExplicitAuthFlows: [
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_USER_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
  ],
};

test("signIn (SRP), getCurrentUser, fetchAuthSession, signOut", async () => {
  const pool = await newPool({}, FLOWS);
  const username = await newUser(pool.poolId);
  configure(pool);
  const result = await signIn({ username, password: PASSWORD });
  assert.equal(result.isSignedIn, true);
  assert.equal(result.nextStep.signInStep, "DONE");
  const current = await getCurrentUser();
  assert.equal(current.username, username);
  const session = await fetchAuthSession();
  assert.equal(session.tokens.accessToken.payload.client_id, pool.clientId);
  assert.equal(session.tokens.idToken.payload["cognito:username"], username);
  await signOut();
  await assert.rejects(signIn({ username, password: "Wrong-password1" }), (err) => {
    assert.equal(err.name, "NotAuthorizedException");
    return true;
  });
});

test("TOTP: set up during sign-in, then required at the next sign-in", async () => {
  const pool = await newPool({}, FLOWS);
  await cognito("SetUserPoolMfaConfig", {
    UserPoolId: pool.poolId,
    SoftwareTokenMfaConfiguration: { Enabled: true },
    MfaConfiguration: "ON",
  });
  const username = await newUser(pool.poolId);
  configure(pool);

  const setup = await signIn({ username, password: PASSWORD });
  assert.equal(setup.nextStep.signInStep, "CONTINUE_SIGN_IN_WITH_TOTP_SETUP");
  const secret = setup.nextStep.totpSetupDetails.sharedSecret;
  assert.match(secret, /^[A-Z2-7]{32}$/);
  const done = await confirmSignIn({ challengeResponse: totp(secret) });
  assert.equal(done.isSignedIn, true);
  await signOut();

  const again = await signIn({ username, password: PASSWORD });
  assert.equal(again.nextStep.signInStep, "CONFIRM_SIGN_IN_WITH_TOTP_CODE");
  const signedIn = await confirmSignIn({ challengeResponse: totp(secret, 1) });
  assert.equal(signedIn.isSignedIn, true);
  assert.equal((await getCurrentUser()).username, username);
  await signOut();
});

test("USER_AUTH: passwordless sign-in with an email code", async () => {
  const pool = await newPool(
    {
      Policies: {
        PasswordPolicy: { MinimumLength: 8 },
        SignInPolicy: { AllowedFirstAuthFactors: ["PASSWORD", "EMAIL_OTP"] },
      },
    },
    FLOWS,
  );
  const username = await newUser(pool.poolId, [
    { Name: "email", Value: `${uniqueName()}@example.com` },
    { Name: "email_verified", Value: "true" },
  ]);
  configure(pool);
  const start = await signIn({
    username,
    options: { authFlowType: "USER_AUTH", preferredChallenge: "EMAIL_OTP" },
  });
  assert.equal(start.nextStep.signInStep, "CONFIRM_SIGN_IN_WITH_EMAIL_CODE");
  const done = await confirmSignIn({ challengeResponse: await lastCode(pool.poolId, username) });
  assert.equal(done.isSignedIn, true);
  await signOut();
});

function uniqueName() {
  return `amp${Date.now().toString(36)}`;
}
