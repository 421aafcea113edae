// amazon-cognito-identity-js against idpool, changing nothing but the endpoint:
// SRP sign-in, TOTP MFA (set up with an access token and during sign-in as
// MFA_SETUP), SMS MFA with the code read from the dev outbox, remembered devices
// that skip MFA through DEVICE_SRP_AUTH, and a wrong password.
//
//   IDPOOL_ENDPOINT=http://127.0.0.1:9229 node --test tests/node/cognito_identity_js.mjs
//
// The server must run in --dev mode (the admin calls below are unsigned).

import { test } from "node:test";
import assert from "node:assert/strict";
import { cognito, endpoint, lastCode, newPool, newUser, PASSWORD, totp } from "./lib.mjs";

import {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserPool,
} from "amazon-cognito-identity-js";

function userPool({ poolId, clientId }) {
  return new CognitoUserPool({ UserPoolId: poolId, ClientId: clientId, endpoint: `${endpoint}/` });
}

// authenticateUser as a promise; `handlers` answer the challenge callbacks and
// record which ones fired.
function signIn(user, password, handlers = {}) {
  const fired = [];
  return new Promise((resolve, reject) => {
    const callbacks = {
      onSuccess: (session, confirmationNecessary) =>
        resolve({ session, fired, confirmationNecessary }),
      onFailure: (err) => reject(Object.assign(err, { fired })),
    };
    for (const name of ["totpRequired", "mfaRequired", "mfaSetup", "selectMFAType", "newPasswordRequired"]) {
      callbacks[name] = (...args) => {
        fired.push(name);
        if (!handlers[name]) {
          reject(new Error(`unexpected ${name}`));
          return;
        }
        handlers[name](callbacks, ...args);
      };
    }
    user.authenticateUser(
      new AuthenticationDetails({ Username: user.getUsername(), Password: password }),
      callbacks,
    );
  });
}

const call = (fn) =>
  new Promise((resolve, reject) => fn((err, result) => (err ? reject(err) : resolve(result))));

test("SRP sign-in returns tokens for the user", async () => {
  const pool = await newPool();
  const username = await newUser(pool.poolId);
  const user = new CognitoUser({ Username: username, Pool: userPool(pool) });
  const { session, fired } = await signIn(user, PASSWORD);
  assert.deepEqual(fired, []);
  assert.equal(session.getIdToken().decodePayload()["cognito:username"], username);
  assert.equal(session.getAccessToken().decodePayload().client_id, pool.clientId);
  assert.ok(session.getRefreshToken().getToken());
});

test("SRP with a wrong password is NotAuthorizedException", async () => {
  const pool = await newPool();
  const username = await newUser(pool.poolId);
  const user = new CognitoUser({ Username: username, Pool: userPool(pool) });
  await assert.rejects(signIn(user, "Wrong-password1"), (err) => {
    assert.equal(err.code, "NotAuthorizedException");
    assert.equal(err.message, "Incorrect username or password.");
    return true;
  });
});

test("TOTP: associate and verify with the access token, then totpRequired; a remembered device skips MFA", async () => {
  const pool = await newPool({
    DeviceConfiguration: { ChallengeRequiredOnNewDevice: true, DeviceOnlyRememberedOnUserPrompt: true },
  });
  await cognito("SetUserPoolMfaConfig", {
    UserPoolId: pool.poolId,
    SoftwareTokenMfaConfiguration: { Enabled: true },
    MfaConfiguration: "OPTIONAL",
  });
  const username = await newUser(pool.poolId);
  const cognitoPool = userPool(pool);

  // First sign-in: no MFA yet; the new device is confirmed by the library.
  const user = new CognitoUser({ Username: username, Pool: cognitoPool });
  const first = await signIn(user, PASSWORD);
  assert.equal(first.confirmationNecessary, true, "DeviceOnlyRememberedOnUserPrompt asks the user");
  const secret = await new Promise((resolve, reject) =>
    user.associateSoftwareToken({ associateSecretCode: resolve, onFailure: reject }),
  );
  assert.match(secret, /^[A-Z2-7]{32}$/);
  await new Promise((resolve, reject) =>
    user.verifySoftwareToken(totp(secret), "phone", { onSuccess: resolve, onFailure: reject }),
  );
  await call((cb) => user.setUserMfaPreference(null, { PreferredMfa: true, Enabled: true }, cb));
  const attrs = await call((cb) => user.getUserData(cb, { bypassCache: true }));
  assert.deepEqual(attrs.UserMFASettingList, ["SOFTWARE_TOKEN_MFA"]);
  assert.equal(attrs.PreferredMfaSetting, "SOFTWARE_TOKEN_MFA");

  // The device is known but not remembered: MFA is still asked.
  const again = new CognitoUser({ Username: username, Pool: cognitoPool });
  const second = await signIn(again, PASSWORD, {
    totpRequired: (cb) => again.sendMFACode(totp(secret, 1), cb, "SOFTWARE_TOKEN_MFA"),
  });
  assert.deepEqual(second.fired, ["totpRequired"]);

  // Remember it; the next sign-in proves the device instead of asking for a code.
  await call((cb) =>
    again.setDeviceStatusRemembered({ onSuccess: (r) => cb(null, r), onFailure: (e) => cb(e) }),
  );
  const devices = await call((cb) =>
    again.listDevices(10, null, { onSuccess: (r) => cb(null, r), onFailure: (e) => cb(e) }),
  );
  assert.equal(devices.Devices.length, 1);
  const status = devices.Devices[0].DeviceAttributes.find(
    (a) => a.Name === "dev:device_remembered_status",
  );
  assert.equal(status.Value, "remembered");

  const third = new CognitoUser({ Username: username, Pool: cognitoPool });
  const skipped = await signIn(third, PASSWORD);
  assert.deepEqual(skipped.fired, [], "a remembered device skips MFA");
  assert.ok(skipped.session.isValid());

  // Forget it: MFA comes back.
  await call((cb) => third.forgetDevice({ onSuccess: (r) => cb(null, r), onFailure: (e) => cb(e) }));
  const fourth = new CognitoUser({ Username: username, Pool: cognitoPool });
  await assert.rejects(
    signIn(fourth, PASSWORD, {
      totpRequired: (cb) => cb.onFailure(Object.assign(new Error("asked"), { code: "ASKED" })),
    }),
    (err) => err.code === "ASKED",
  );
});

test("MFA ON with no factor: mfaSetup, associate and verify with the session, then tokens", async () => {
  const pool = await newPool();
  await cognito("SetUserPoolMfaConfig", {
    UserPoolId: pool.poolId,
    SoftwareTokenMfaConfiguration: { Enabled: true },
    MfaConfiguration: "ON",
  });
  const username = await newUser(pool.poolId);
  const user = new CognitoUser({ Username: username, Pool: userPool(pool) });
  const result = await signIn(user, PASSWORD, {
    mfaSetup: (cb) =>
      user.associateSoftwareToken({
        associateSecretCode: (secret) =>
          user.verifySoftwareToken(totp(secret), "laptop", cb),
        onFailure: cb.onFailure,
      }),
  });
  assert.deepEqual(result.fired, ["mfaSetup"]);
  assert.ok(result.session.getAccessToken().getJwtToken());
  const attrs = await call((cb) => user.getUserData(cb, { bypassCache: true }));
  assert.deepEqual(attrs.UserMFASettingList, ["SOFTWARE_TOKEN_MFA"]);
});

test("SMS MFA: mfaRequired, the code from the outbox, tokens", async () => {
  const pool = await newPool({
    SmsConfiguration: { SnsCallerArn: "arn:aws:iam::123456789012:role/sms" },
    MfaConfiguration: "ON",
  });
  const username = await newUser(pool.poolId, [
    { Name: "phone_number", Value: "+15555550123" },
    { Name: "phone_number_verified", Value: "true" },
  ]);
  const user = new CognitoUser({ Username: username, Pool: userPool(pool) });
  let destination;
  const result = await signIn(user, PASSWORD, {
    mfaRequired: async (cb, challengeName, params) => {
      destination = params.CODE_DELIVERY_DESTINATION;
      user.sendMFACode(await lastCode(pool.poolId, username), cb);
    },
  });
  assert.deepEqual(result.fired, ["mfaRequired"]);
  assert.equal(destination, "+*******0123");
});
