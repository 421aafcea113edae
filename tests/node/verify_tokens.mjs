// Verifies idpool's ID and access tokens with aws-jwt-verify, the way a Node
// backend would verify Cognito tokens.
//
//   IDPOOL_ENDPOINT=http://127.0.0.1:9229 node --test tests/node/verify_tokens.mjs
//
// The server must run in --dev mode (the admin calls below are unsigned).
// tests/python/test_node.py runs this against the pytest server.

import { test, before } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";

import { JwtRsaVerifier } from "aws-jwt-verify";
import { SimpleJwksCache } from "aws-jwt-verify/jwk";

import { cognito, endpoint } from "./lib.mjs";

const PASSWORD = "Passw0rd-Node1";

// aws-jwt-verify's Node fetcher speaks HTTPS only; idpool in tests is plain
// HTTP on loopback, so hand the JWKS cache a fetcher built on global fetch.
const httpFetcher = {
  async fetch(uri) {
    const res = await fetch(uri, { signal: AbortSignal.timeout(10_000) });
    if (res.status !== 200) {
      throw new Error(`GET ${uri} -> ${res.status}`);
    }
    return res.arrayBuffer();
  },
};


function decodePart(token, index) {
  return JSON.parse(Buffer.from(token.split(".")[index], "base64url").toString("utf8"));
}

/** Same header and signature, different payload. */
function tamper(token, changes) {
  const [h, , s] = token.split(".");
  const payload = { ...decodePart(token, 1), ...changes };
  return `${h}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${s}`;
}

const ctx = {};

before(async () => {
  assert.ok(endpoint, "set IDPOOL_ENDPOINT, e.g. http://127.0.0.1:9229");
  const suffix = randomBytes(4).toString("hex");

  const pool = await cognito("CreateUserPool", {
    PoolName: `node-pool-${suffix}`,
    Policies: {
      PasswordPolicy: {
        MinimumLength: 8,
        RequireUppercase: true,
        RequireLowercase: true,
        RequireNumbers: true,
        RequireSymbols: false,
      },
    },
  });
  ctx.poolId = pool.UserPool.Id;

  const client = await cognito("CreateUserPoolClient", {
    UserPoolId: ctx.poolId,
    ClientName: `node-client-${suffix}`,
    GenerateSecret: false,
    ExplicitAuthFlows: ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
  });
  ctx.clientId = client.UserPoolClient.ClientId;

  ctx.username = `node-user-${suffix}`;
  ctx.email = `${ctx.username}@example.com`;
  await cognito("AdminCreateUser", {
    UserPoolId: ctx.poolId,
    Username: ctx.username,
    MessageAction: "SUPPRESS",
    UserAttributes: [
      { Name: "email", Value: ctx.email },
      { Name: "email_verified", Value: "true" },
    ],
  });
  await cognito("AdminSetUserPassword", {
    UserPoolId: ctx.poolId,
    Username: ctx.username,
    Password: PASSWORD,
    Permanent: true,
  });

  const auth = await cognito("InitiateAuth", {
    ClientId: ctx.clientId,
    AuthFlow: "USER_PASSWORD_AUTH",
    AuthParameters: { USERNAME: ctx.username, PASSWORD: PASSWORD },
  });
  assert.equal(auth.ChallengeName, undefined, `unexpected challenge: ${JSON.stringify(auth)}`);
  ctx.tokens = auth.AuthenticationResult;
  assert.ok(ctx.tokens.IdToken && ctx.tokens.AccessToken && ctx.tokens.RefreshToken);

  ctx.issuer = `${endpoint}/${ctx.poolId}`;
  ctx.jwksUri = `${ctx.issuer}/.well-known/jwks.json`;
  ctx.idVerifier = JwtRsaVerifier.create(
    { issuer: ctx.issuer, audience: ctx.clientId, jwksUri: ctx.jwksUri },
    { jwksCache: new SimpleJwksCache({ fetcher: httpFetcher }) },
  );
  ctx.accessVerifier = JwtRsaVerifier.create(
    {
      issuer: ctx.issuer,
      audience: null,
      jwksUri: ctx.jwksUri,
      customJwtCheck: ({ payload }) => {
        if (payload.token_use !== "access") throw new Error(`token_use is ${payload.token_use}`);
        if (payload.client_id !== ctx.clientId) throw new Error(`client_id is ${payload.client_id}`);
      },
    },
    { jwksCache: new SimpleJwksCache({ fetcher: httpFetcher }) },
  );
});

test("JWKS is published with RSA signing keys", async () => {
  const jwks = JSON.parse(Buffer.from(await httpFetcher.fetch(ctx.jwksUri)).toString("utf8"));
  assert.ok(Array.isArray(jwks.keys) && jwks.keys.length > 0, JSON.stringify(jwks));
  for (const key of jwks.keys) {
    assert.equal(key.kty, "RSA");
    assert.ok(key.kid && key.n && key.e, JSON.stringify(key));
    if (key.alg) assert.equal(key.alg, "RS256");
    if (key.use) assert.equal(key.use, "sig");
  }
  const kid = decodePart(ctx.tokens.IdToken, 0).kid;
  assert.ok(jwks.keys.some((k) => k.kid === kid), `kid ${kid} not in JWKS`);
});

test("ID token verifies", async () => {
  const payload = await ctx.idVerifier.verify(ctx.tokens.IdToken);
  assert.equal(payload.token_use, "id");
  assert.equal(payload.iss, ctx.issuer);
  assert.equal(payload.aud, ctx.clientId);
  assert.equal(payload["cognito:username"], ctx.username);
  assert.equal(payload.email, ctx.email);
  assert.match(payload.sub, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.ok(payload.exp > Date.now() / 1000);
});

test("access token verifies", async () => {
  const payload = await ctx.accessVerifier.verify(ctx.tokens.AccessToken);
  assert.equal(payload.token_use, "access");
  assert.equal(payload.client_id, ctx.clientId);
  assert.equal(payload.username, ctx.username);
  assert.equal(payload.iss, ctx.issuer);
  assert.equal(payload.aud, undefined);
  const id = decodePart(ctx.tokens.IdToken, 1);
  assert.equal(payload.sub, id.sub);
});

test("an ID token is not accepted as an access token, nor the reverse", async () => {
  await assert.rejects(ctx.accessVerifier.verify(ctx.tokens.IdToken));
  // The access token has no aud, so the ID verifier (audience = client id) refuses it.
  await assert.rejects(ctx.idVerifier.verify(ctx.tokens.AccessToken));
});

test("tampered tokens fail", async () => {
  await assert.rejects(
    ctx.idVerifier.verify(tamper(ctx.tokens.IdToken, { "cognito:username": "mallory" })),
    (err) => /signature/i.test(String(err?.message)),
  );
  await assert.rejects(
    ctx.accessVerifier.verify(tamper(ctx.tokens.AccessToken, { username: "mallory" })),
    (err) => /signature/i.test(String(err?.message)),
  );
  // Flip one character of the signature.
  const t = ctx.tokens.AccessToken;
  const flipped = t.slice(0, -2) + (t.at(-2) === "A" ? "B" : "A") + t.at(-1);
  await assert.rejects(ctx.accessVerifier.verify(flipped));
});

test("a verifier for another issuer or audience refuses the tokens", async () => {
  const wrongIssuer = JwtRsaVerifier.create(
    { issuer: `${endpoint}/us-east-1_NotAPool1`, audience: ctx.clientId, jwksUri: ctx.jwksUri },
    { jwksCache: new SimpleJwksCache({ fetcher: httpFetcher }) },
  );
  await assert.rejects(wrongIssuer.verify(ctx.tokens.IdToken), /issuer/i);
  const wrongAudience = JwtRsaVerifier.create(
    { issuer: ctx.issuer, audience: "someotherclientid000000000", jwksUri: ctx.jwksUri },
    { jwksCache: new SimpleJwksCache({ fetcher: httpFetcher }) },
  );
  await assert.rejects(wrongAudience.verify(ctx.tokens.IdToken), /audience/i);
});

test("refreshed tokens verify too", async () => {
  const refreshed = await cognito("InitiateAuth", {
    ClientId: ctx.clientId,
    AuthFlow: "REFRESH_TOKEN_AUTH",
    AuthParameters: { REFRESH_TOKEN: ctx.tokens.RefreshToken },
  });
  const result = refreshed.AuthenticationResult;
  const id = await ctx.idVerifier.verify(result.IdToken);
  assert.equal(id["cognito:username"], ctx.username);
  const access = await ctx.accessVerifier.verify(result.AccessToken);
  assert.equal(access.client_id, ctx.clientId);
});

test("the server refuses a tampered access token", async () => {
  await assert.rejects(
    cognito("GetUser", { AccessToken: tamper(ctx.tokens.AccessToken, { username: "mallory" }) }),
    (err) => err.type === "NotAuthorizedException",
  );
  const me = await cognito("GetUser", { AccessToken: ctx.tokens.AccessToken });
  assert.equal(me.Username, ctx.username);
});
