// Shared helpers of the Node tests: raw cognito-idp calls against a --dev server,
// TOTP codes, throwaway pools and users.

import { createHmac, randomBytes } from "node:crypto";

export const endpoint = (process.env.IDPOOL_ENDPOINT || "").replace(/\/+$/, "");
export const PASSWORD = "Passw0rd-Srp1";

// A raw cognito-idp call; a failure throws with `type` (the exception name) and `status`.
export async function cognito(op, body) {
  const res = await fetch(`${endpoint}/`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": `AWSCognitoIdentityProviderService.${op}`,
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : {};
  if (res.status !== 200) {
    const err = new Error(`${op} -> ${res.status} ${text}`);
    err.type = (res.headers.get("x-amzn-errortype") || data.__type || "").split(":")[0].split("#").pop();
    err.status = res.status;
    throw err;
  }
  return data;
}

export function base32Decode(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/=+$/, "")) {
    value = (value << 5) | alphabet.indexOf(c.toUpperCase());
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

// RFC 6238 (SHA-1, 30 s, 6 digits). `offset` picks a neighbouring step so a test
// never answers with the code it already used in the same 30 seconds.
export function totp(secret, offset = 0) {
  const step = Math.floor(Date.now() / 30_000) + offset;
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", base32Decode(secret)).update(counter).digest();
  const o = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, "0");
}

export async function newPool(extra = {}, clientExtra = {}) {
  const { UserPool } = await cognito("CreateUserPool", {
    PoolName: `node-${randomBytes(4).toString("hex")}`,
    ...extra,
  });
  const { UserPoolClient } = await cognito("CreateUserPoolClient", {
    UserPoolId: UserPool.Id,
    ClientName: "web",
    ...clientExtra,
  });
  return { poolId: UserPool.Id, clientId: UserPoolClient.ClientId };
}

export async function newUser(poolId, attributes = []) {
  const username = `u${randomBytes(5).toString("hex")}`;
  await cognito("AdminCreateUser", {
    UserPoolId: poolId,
    Username: username,
    MessageAction: "SUPPRESS",
    UserAttributes: attributes,
  });
  await cognito("AdminSetUserPassword", {
    UserPoolId: poolId,
    Username: username,
    Password: PASSWORD,
    Permanent: true,
  });
  return username;
}

// The newest code the dev outbox holds for the user.
export async function lastCode(poolId, username) {
  const res = await fetch(`${endpoint}/_idpool/outbox?userPoolId=${poolId}&username=${username}`);
  const messages = await res.json();
  return messages[messages.length - 1].code;
}
