// CUSTOM_AUTH with amazon-cognito-identity-js, the way a web app does it:
// authenticationFlowType CUSTOM_AUTH with a password makes the library start with SRP
// (CHALLENGE_NAME SRP_A), answer PASSWORD_VERIFIER itself, then hand each
// CUSTOM_CHALLENGE to the app's `customChallenge` callback.
//   IDPOOL_ENDPOINT POOL_ID CLIENT_ID USERNAME PASSWORD TRIGGER_STATE_DIR
// Prints {"challenges": [...public parameters...], "idToken": "..."}.
import fs from "node:fs";
import path from "node:path";
import { AuthenticationDetails, CognitoUser, CognitoUserPool } from "amazon-cognito-identity-js";

const env = process.env;
const pool = new CognitoUserPool({
  UserPoolId: env.POOL_ID,
  ClientId: env.CLIENT_ID,
  endpoint: `${env.IDPOOL_ENDPOINT.replace(/\/+$/, "")}/`,
});
const user = new CognitoUser({ Username: env.USERNAME, Pool: pool });
user.setAuthenticationFlowType("CUSTOM_AUTH");

function lastMailedCode(to) {
  const file = path.join(env.TRIGGER_STATE_DIR, "mail.jsonl");
  const mails = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  return mails.filter((m) => m.to === to).pop().code;
}

function answer(params) {
  switch (params.kind) {
    case "email-code":
      return lastMailedCode(params.destination);
    case "question":
      return "42";
    case "echo":
      return params.nonce.split("").reverse().join("");
    default:
      throw new Error(`unexpected challenge ${JSON.stringify(params)}`);
  }
}

const challenges = [];
const session = await new Promise((resolve, reject) => {
  const callbacks = {
    onSuccess: resolve,
    onFailure: reject,
    customChallenge(params) {
      challenges.push(params);
      user.sendCustomChallengeAnswer(answer(params), callbacks);
    },
  };
  user.authenticateUser(
    new AuthenticationDetails({ Username: env.USERNAME, Password: env.PASSWORD }),
    callbacks,
  );
});
process.stdout.write(
  JSON.stringify({ challenges, idToken: session.getIdToken().getJwtToken() }),
);
