// Verifies an ID and an access token with aws-jwt-verify, as a Node backend would, and
// prints both verified payloads as JSON: {"id": {...}, "access": {...}}.
//   IDPOOL_ENDPOINT=... POOL_ID=... CLIENT_ID=... ID_TOKEN=... ACCESS_TOKEN=... node verify_claims.mjs
import { JwtRsaVerifier } from "aws-jwt-verify";
import { SimpleJwksCache } from "aws-jwt-verify/jwk";

const endpoint = process.env.IDPOOL_ENDPOINT.replace(/\/+$/, "");
const issuer = `${endpoint}/${process.env.POOL_ID}`;
const jwksUri = `${issuer}/.well-known/jwks.json`;
const clientId = process.env.CLIENT_ID;

// aws-jwt-verify's own fetcher speaks HTTPS only; the test server is plain HTTP.
const jwksCache = new SimpleJwksCache({
  fetcher: {
    async fetch(uri) {
      const res = await fetch(uri, { signal: AbortSignal.timeout(10_000) });
      if (res.status !== 200) throw new Error(`GET ${uri} -> ${res.status}`);
      return res.arrayBuffer();
    },
  },
});

const idVerifier = JwtRsaVerifier.create({ issuer, audience: clientId, jwksUri }, { jwksCache });
const accessVerifier = JwtRsaVerifier.create(
  {
    issuer,
    audience: null,
    jwksUri,
    customJwtCheck: ({ payload }) => {
      if (payload.token_use !== "access") throw new Error(`token_use is ${payload.token_use}`);
      if (payload.client_id !== clientId) throw new Error(`client_id is ${payload.client_id}`);
    },
  },
  { jwksCache },
);

const id = await idVerifier.verify(process.env.ID_TOKEN);
const access = await accessVerifier.verify(process.env.ACCESS_TOKEN);
process.stdout.write(JSON.stringify({ id, access }));
