// The hosted pages in a real browser (Debian's Chromium, driven by playwright-core),
// with openid-client as the app: discovery, authorization code + PKCE, the ID token's
// checks (issuer, audience, nonce, signature), userinfo and refresh.
//
//   IDPOOL_ENDPOINT=http://127.0.0.1:9229 node --test tests/node/hosted_ui.mjs
//
// Needs a --dev server (unsigned admin calls, the outbox). With SCREENSHOTS_DIR set,
// each page is saved there as PNG (docs/screenshots holds the ones in the docs).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

import { chromium } from "playwright-core";
import * as oidc from "openid-client";

import { cognito, endpoint, lastCode, newUser, PASSWORD, totp } from "./lib.mjs";

const CALLBACK = "https://app.example.com/callback";
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const shots = process.env.SCREENSHOTS_DIR;

const ctx = {};

before(async () => {
  assert.ok(endpoint, "set IDPOOL_ENDPOINT");
  const { UserPool } = await cognito("CreateUserPool", {
    PoolName: `hosted-${randomBytes(3).toString("hex")}`,
    AutoVerifiedAttributes: ["email"],
    Schema: [{ Name: "email", AttributeDataType: "String", Required: true, Mutable: true }],
    MfaConfiguration: "OPTIONAL",
  });
  ctx.poolId = UserPool.Id;
  await cognito("SetUserPoolMfaConfig", {
    UserPoolId: ctx.poolId,
    MfaConfiguration: "OPTIONAL",
    SoftwareTokenMfaConfiguration: { Enabled: true },
  });
  const { UserPoolClient } = await cognito("CreateUserPoolClient", {
    UserPoolId: ctx.poolId,
    ClientName: "web",
    GenerateSecret: true,
    AllowedOAuthFlowsUserPoolClient: true,
    AllowedOAuthFlows: ["code"],
    AllowedOAuthScopes: ["openid", "email", "profile"],
    CallbackURLs: [CALLBACK],
    SupportedIdentityProviders: ["COGNITO"],
    ExplicitAuthFlows: ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
  });
  ctx.client = UserPoolClient;
  // The app: configured from the issuer alone, as any OIDC relying party is.
  ctx.oidc = await oidc.discovery(
    new URL(`${endpoint}/${ctx.poolId}`),
    UserPoolClient.ClientId,
    UserPoolClient.ClientSecret,
    undefined,
    { execute: [oidc.allowInsecureRequests] },
  );
  ctx.browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  await ctx.browser?.close();
});

/** A fresh browser context whose visits to the app's callback are captured. */
async function newPage() {
  const context = await ctx.browser.newContext();
  const page = await context.newPage();
  page.callbacks = [];
  await context.route(`${new URL(CALLBACK).origin}/**`, (route) => {
    page.callbacks.push(route.request().url());
    route.fulfill({ status: 200, contentType: "text/plain", body: "signed in" });
  });
  return page;
}

async function shot(page, name) {
  if (!shots) return;
  fs.mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

/** Starts an authorization the way an app does; returns what it must remember. */
async function authorize(page) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(ctx.oidc, {
    redirect_uri: CALLBACK,
    scope: "openid email profile",
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
  });
  await page.goto(url.href);
  return { verifier, state, nonce };
}

/** The app's side once the browser is back at the callback. */
async function finish(page, started) {
  await page.waitForURL(`${CALLBACK}**`);
  assert.equal(page.callbacks.length, 1, `callbacks: ${page.callbacks}`);
  const tokens = await oidc.authorizationCodeGrant(ctx.oidc, new URL(page.callbacks[0]), {
    pkceCodeVerifier: started.verifier,
    expectedState: started.state,
    expectedNonce: started.nonce,
  });
  const claims = tokens.claims();
  const info = await oidc.fetchUserInfo(ctx.oidc, tokens.access_token, claims.sub);
  return { tokens, claims, info };
}

async function signIn(page, username, password) {
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.click("button[type=submit]");
}

test("sign up, confirm with the emailed code, sign in, and the app gets its tokens", async () => {
  const page = await newPage();
  const started = await authorize(page);
  await shot(page, "sign-in");
  await page.click("text=Sign up");
  const username = `web${randomBytes(4).toString("hex")}`;
  await page.fill("#username", username);
  await page.fill("#attr-email", `${username}@example.com`);
  await page.fill("#password", PASSWORD);
  await shot(page, "sign-up");
  await page.click("button[type=submit]");
  await page.waitForSelector("text=Confirm your account");
  await shot(page, "confirm-sign-up");
  await page.fill("#code", await lastCode(ctx.poolId, username));
  await page.click("button[value=confirm]");
  await page.waitForSelector("text=Your account is confirmed");
  await signIn(page, username, PASSWORD);
  const { tokens, claims, info } = await finish(page, started);
  assert.equal(claims["cognito:username"], username);
  assert.equal(claims.email, `${username}@example.com`);
  assert.equal(info.email, `${username}@example.com`);
  assert.ok(tokens.refresh_token);
  const refreshed = await oidc.refreshTokenGrant(ctx.oidc, tokens.refresh_token);
  assert.equal(refreshed.claims().sub, claims.sub);
  await page.context().close();
});

test("a user with an authenticator app signs in through the TOTP page", async () => {
  const username = await newUser(ctx.poolId, [
    { Name: "email", Value: "totp@example.com" },
    { Name: "email_verified", Value: "true" },
  ]);
  const auth = await cognito("InitiateAuth", {
    ClientId: ctx.client.ClientId,
    AuthFlow: "USER_PASSWORD_AUTH",
    AuthParameters: {
      USERNAME: username,
      PASSWORD,
      SECRET_HASH: createHmac("sha256", ctx.client.ClientSecret)
        .update(username + ctx.client.ClientId)
        .digest("base64"),
    },
  });
  const access = auth.AuthenticationResult.AccessToken;
  const { SecretCode } = await cognito("AssociateSoftwareToken", { AccessToken: access });
  await cognito("VerifySoftwareToken", { AccessToken: access, UserCode: totp(SecretCode, -1) });
  await cognito("SetUserMFAPreference", {
    AccessToken: access,
    SoftwareTokenMfaSettings: { Enabled: true, PreferredMfa: true },
  });

  const page = await newPage();
  const started = await authorize(page);
  await signIn(page, username, PASSWORD);
  await page.waitForSelector("text=Enter your authenticator code");
  await shot(page, "mfa-code");
  await page.fill("#code", totp(SecretCode));
  await page.click("button[type=submit]");
  const { claims } = await finish(page, started);
  assert.equal(claims["cognito:username"], username);
  await page.context().close();
});

test("forgot password end to end", async () => {
  const username = await newUser(ctx.poolId, [
    { Name: "email", Value: "forgot@example.com" },
    { Name: "email_verified", Value: "true" },
  ]);
  const page = await newPage();
  const started = await authorize(page);
  await page.click("text=Forgot your password?");
  await page.fill("#username", username);
  await shot(page, "forgot-password");
  await page.click("button[type=submit]");
  await page.waitForSelector("text=Reset your password");
  await page.fill("#code", await lastCode(ctx.poolId, username));
  await page.fill("#password", "Changed-Passw0rd1");
  await shot(page, "reset-password");
  await page.click("button[type=submit]");
  await page.waitForSelector("text=Your password has been changed");
  await signIn(page, username, "Wrong-Passw0rd1");
  await page.waitForSelector("text=Incorrect username or password.");
  await shot(page, "sign-in-error");
  await signIn(page, username, "Changed-Passw0rd1");
  const { claims } = await finish(page, started);
  assert.equal(claims["cognito:username"], username);
  await page.context().close();
});

test("a passkey made in the browser signs the user in on the hosted page", async () => {
  const { UserPool } = await cognito("CreateUserPool", {
    PoolName: `passkey-${randomBytes(3).toString("hex")}`,
    Policies: { SignInPolicy: { AllowedFirstAuthFactors: ["PASSWORD", "WEB_AUTHN"] } },
  });
  const poolId = UserPool.Id;
  await cognito("SetUserPoolMfaConfig", {
    UserPoolId: poolId,
    MfaConfiguration: "OFF",
    WebAuthnConfiguration: { RelyingPartyId: "localhost", UserVerification: "required" },
  });
  const { UserPoolClient } = await cognito("CreateUserPoolClient", {
    UserPoolId: poolId,
    ClientName: "web",
    AllowedOAuthFlowsUserPoolClient: true,
    AllowedOAuthFlows: ["code"],
    AllowedOAuthScopes: ["openid"],
    CallbackURLs: [CALLBACK],
    SupportedIdentityProviders: ["COGNITO"],
    ExplicitAuthFlows: ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
  });
  const clientId = UserPoolClient.ClientId;
  const username = await newUser(poolId);
  const auth = await cognito("InitiateAuth", {
    ClientId: clientId,
    AuthFlow: "USER_PASSWORD_AUTH",
    AuthParameters: { USERNAME: username, PASSWORD },
  });
  const access = auth.AuthenticationResult.AccessToken;

  // WebAuthn wants a host name, not an IP address: the browser uses localhost.
  const local = endpoint.replace("127.0.0.1", "localhost");
  const page = await newPage();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  // Registration: the options from the API, the ceremony in the browser on idpool's origin.
  await page.goto(`${local}/${poolId}/.well-known/openid-configuration`);
  const { CredentialCreationOptions } = await cognito("StartWebAuthnRegistration", { AccessToken: access });
  const credential = await page.evaluate(async (options) => {
    const made = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options),
    });
    return made.toJSON();
  }, CredentialCreationOptions);
  await cognito("CompleteWebAuthnRegistration", { AccessToken: access, Credential: credential });

  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const authorizeUrl = new URL(`${local}/${poolId}/oauth2/authorize`);
  for (const [k, v] of Object.entries({
    response_type: "code",
    client_id: clientId,
    redirect_uri: CALLBACK,
    scope: "openid",
    state,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  })) authorizeUrl.searchParams.set(k, v);
  await page.goto(authorizeUrl.href);
  await page.fill("#passkey-username", username);
  // The passkey page asks the authenticator at once and posts its answer; the app's
  // callback is read off the request (this context's route does not always see it
  // once a CDP session is attached).
  const callback = page.waitForRequest((r) => r.url().startsWith(CALLBACK));
  await page.click("text=Sign in with a passkey");
  const back = new URL((await callback).url());
  assert.equal(back.searchParams.get("state"), state);
  const res = await fetch(`${endpoint}/${poolId}/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: back.searchParams.get("code"),
      redirect_uri: CALLBACK,
      client_id: clientId,
      code_verifier: verifier,
    }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const { id_token } = await res.json();
  const claims = JSON.parse(Buffer.from(id_token.split(".")[1], "base64url").toString());
  assert.equal(claims["cognito:username"], username);
  assert.deepEqual(claims.amr, ["hwk"]);
  await page.context().close();
});

/** Another code-flow client of the pool (for a branding style of its own) and the
 * authorization URL that opens its sign-in page. */
async function brandedClient(name) {
  const { UserPoolClient } = await cognito("CreateUserPoolClient", {
    UserPoolId: ctx.poolId,
    ClientName: name,
    AllowedOAuthFlowsUserPoolClient: true,
    AllowedOAuthFlows: ["code"],
    AllowedOAuthScopes: ["openid"],
    CallbackURLs: [CALLBACK],
    SupportedIdentityProviders: ["COGNITO"],
  });
  const url = new URL(`${endpoint}/${ctx.poolId}/oauth2/authorize`);
  for (const [k, v] of Object.entries({
    response_type: "code",
    client_id: UserPoolClient.ClientId,
    redirect_uri: CALLBACK,
    scope: "openid",
  })) url.searchParams.set(k, v);
  return { UserPoolClient, url };
}

test("a DYNAMIC branding style follows the browser's colour scheme, with header and favicon", async () => {
  const { UserPoolClient, url } = await brandedClient("branded");
  const svg = (fill) =>
    Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="${fill}"/></svg>`).toString("base64");
  await cognito("CreateManagedLoginBranding", {
    UserPoolId: ctx.poolId,
    ClientId: UserPoolClient.ClientId,
    Settings: {
      categories: { global: { colorSchemeMode: "DYNAMIC", pageHeader: { enabled: true } } },
      components: {
        pageBackground: { lightMode: { color: "ffffffff" }, darkMode: { color: "102030ff" } },
        pageHeader: { logo: { location: "CENTER" }, lightMode: { background: { color: "eeeeeeff" } }, darkMode: { background: { color: "000000ff" } } },
      },
    },
    Assets: [
      { Category: "FORM_LOGO", ColorMode: "LIGHT", Extension: "SVG", Bytes: svg("white") },
      { Category: "FORM_LOGO", ColorMode: "DARK", Extension: "SVG", Bytes: svg("black") },
      { Category: "PAGE_HEADER_LOGO", ColorMode: "DYNAMIC", Extension: "SVG", Bytes: svg("red") },
      { Category: "FAVICON_SVG", ColorMode: "DYNAMIC", Extension: "SVG", Bytes: svg("blue") },
    ],
  });
  const looks = {};
  for (const colorScheme of ["light", "dark"]) {
    const context = await ctx.browser.newContext({ colorScheme });
    const page = await context.newPage();
    await page.goto(url.href);
    looks[colorScheme] = await page.evaluate(() => ({
      body: getComputedStyle(document.body).backgroundColor,
      header: getComputedStyle(document.querySelector("header.page-header")).backgroundColor,
      headerAlign: getComputedStyle(document.querySelector("header.page-header")).justifyContent,
      headerLogo: document.querySelector("header.page-header img")?.currentSrc ?? "",
      logo: document.querySelector("img.logo").currentSrc,
      favicon: document.querySelector("link[rel=icon]")?.href ?? "",
    }));
    await shot(page, `branding-${colorScheme}`);
    await context.close();
  }
  assert.equal(looks.light.body, "rgb(255, 255, 255)");
  assert.equal(looks.dark.body, "rgb(16, 32, 48)");
  assert.equal(looks.light.header, "rgb(238, 238, 238)");
  assert.equal(looks.dark.header, "rgb(0, 0, 0)");
  assert.equal(looks.light.headerAlign, "center");
  assert.ok(looks.light.headerLogo.endsWith(svg("red")));
  assert.ok(looks.light.logo.endsWith(svg("white")), looks.light.logo.slice(0, 80));
  assert.ok(looks.dark.logo.endsWith(svg("black")), looks.dark.logo.slice(0, 80));
  assert.ok(looks.light.favicon.endsWith(svg("blue")));
});

test("the sign-in page's script reports the browser's UTC offset, and the CSP allows only it", async () => {
  for (const [timezoneId, offset] of [["Asia/Kolkata", "+05:30"], ["America/St_Johns", null]]) {
    const context = await ctx.browser.newContext({ timezoneId });
    const page = await context.newPage();
    const errors = [];
    // A script error, or the CSP refusing a script (a 404 for /favicon.ico is neither).
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => /Content Security Policy|Refused/.test(m.text()) && errors.push(m.text()));
    await authorize(page);
    const reported = await page.inputValue('form[action$="/login"] input[name="tz"]');
    // Newfoundland is -03:30 or, in summer, -02:30: whichever the browser says now.
    const expected = offset ?? (await page.evaluate(() => {
      const m = -new Date().getTimezoneOffset();
      const a = Math.abs(m);
      return `${m < 0 ? "-" : "+"}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
    }));
    assert.equal(reported, expected);
    assert.match(expected, /^-0[23]:30$|^\+05:30$/);
    assert.deepEqual(errors, [], "no CSP violation or script error");
    await context.close();
  }
});

test("the pages follow the browser's language, and the language selector changes it", async () => {
  // The selector is a branding style's choice; the client of the other tests keeps
  // the plain pages.
  const { UserPoolClient, url } = await brandedClient("multilingual");
  await cognito("CreateManagedLoginBranding", {
    UserPoolId: ctx.poolId,
    ClientId: UserPoolClient.ClientId,
    Settings: {
      categories: { form: { languageSelector: { enabled: true } } },
      componentClasses: { dropDown: { borderRadius: 10, lightMode: { defaults: { itemBackgroundColor: "fafad2ff" } } } },
      components: { secondaryButton: { lightMode: { defaults: { textColor: "8b0000ff" } } } },
    },
  });
  // Chromium's locale is what it sends as Accept-Language.
  const context = await ctx.browser.newContext({ locale: "de-DE" });
  const page = await context.newPage();
  await page.goto(url.href);
  assert.equal(await page.getAttribute("html", "lang"), "de");
  assert.equal(await page.textContent("h1"), "Anmelden");
  await shot(page, "sign-in-german");
  // The style's drop-down and secondary button, as the browser draws them.
  const drawn = await page.evaluate(() => ({
    radius: getComputedStyle(document.querySelector("#language-select")).borderTopLeftRadius,
    background: getComputedStyle(document.querySelector("#language-select")).backgroundColor,
    button: getComputedStyle(document.querySelector("form.language button")).color,
  }));
  assert.deepEqual(drawn, { radius: "10px", background: "rgb(250, 250, 210)", button: "rgb(139, 0, 0)" });
  // The selector is a plain form: it works with or without script.
  await page.selectOption("#language-select", "ja");
  await page.click("form.language button");
  await page.waitForURL(/lang=ja/);
  assert.equal(await page.getAttribute("html", "lang"), "ja");
  assert.equal(await page.inputValue("#language-select"), "ja");
  // The choice outlives the page: the sign-up page it links to is Japanese too.
  await page.click("p.links a[href*='/signup']");
  assert.equal(await page.getAttribute("html", "lang"), "ja");
  await context.close();
});
