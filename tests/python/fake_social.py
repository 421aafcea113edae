"""Facebook's Graph API, Login with Amazon and Twitter's API on one loopback port, for
identity pools' logins with those providers' access tokens.

Each API lives under its own prefix (`/facebook`, `/amazon`, `/twitter`), which is
what idpool's `[social-apis]` URLs point at. Tests register tokens (`facebook_token`,
`amazon_token`, `twitter_token`), can make every API fail (`fail_status`) and read what
was asked (`seen`).

The Twitter API checks OAuth 1.0a as Twitter does, computed here independently of
idpool (RFC 5849 with hmac/hashlib): the HMAC-SHA1 signature over the method, the base
URI and every query and oauth_* parameter, a fresh nonce, a timestamp within five
minutes, and a token issued to the signing consumer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def oauth_encode(s: str) -> str:
    """RFC 5849 3.6: RFC 3986 unreserved characters stay, the rest is %XX."""
    return urllib.parse.quote(s, safe="-._~")


def oauth_signature(method: str, base_uri: str, params: list[tuple[str, str]],
                    consumer_secret: str, token_secret: str) -> str:
    normalized = "&".join(f"{k}={v}" for k, v in sorted((oauth_encode(k), oauth_encode(v)) for k, v in params))
    base = "&".join([method.upper(), oauth_encode(base_uri), oauth_encode(normalized)])
    key = f"{oauth_encode(consumer_secret)}&{oauth_encode(token_secret)}"
    return base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()


def parse_oauth_header(value: str) -> dict[str, str] | None:
    if not value.startswith("OAuth "):
        return None
    fields = re.findall(r'([A-Za-z0-9_%.~-]+)="([^"]*)"', value[len("OAuth "):])
    return {urllib.parse.unquote(k): urllib.parse.unquote(v) for k, v in fields}


class FakeSocial:
    def __init__(self):
        self.facebook: dict[str, tuple[str, str]] = {}  # token -> (app id, user id)
        self.amazon: dict[str, dict] = {}  # token -> tokeninfo
        self.twitter_consumers: dict[str, str] = {}  # consumer key -> secret
        self.twitter: dict[str, dict] = {}  # token -> {secret, consumer, id, screen_name}
        self.nonces: set[str] = set()
        self.fail_status: int | None = None
        self.seen: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
                fake.seen.append({"path": url.path, "query": dict(query),
                                  "authorization": self.headers.get("Authorization")})
                if fake.fail_status is not None:
                    return self._json(fake.fail_status, {"message": "unavailable"})
                routes = {
                    "/facebook/app": fake._facebook_app,
                    "/facebook/me": fake._facebook_me,
                    "/amazon/auth/o2/tokeninfo": fake._amazon_tokeninfo,
                    "/twitter/1.1/account/verify_credentials.json": fake._twitter_verify,
                }
                route = routes.get(url.path)
                if route is None:
                    return self._json(404, {"message": "not found"})
                status, body = route(self, url.path, query)
                self._json(status, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # ---- tokens

    def facebook_token(self, app_id: str, user_id: str) -> str:
        token = "EAAB" + secrets.token_urlsafe(24).replace("-", "").replace("_", "")
        self.facebook[token] = (app_id, user_id)
        return token

    def amazon_token(self, client_id: str, user_id: str, app_id: str = "amzn1.application.fake") -> str:
        # Real Login with Amazon tokens start "Atza|": the '|' must be encoded in the query.
        token = "Atza|" + secrets.token_urlsafe(24)
        self.amazon[token] = {"iss": "https://www.amazon.com", "user_id": user_id, "aud": client_id,
                              "app_id": app_id, "exp": 3600, "iat": int(time.time())}
        return token

    def twitter_consumer(self, key: str) -> str:
        """Registers a consumer (an app); returns its secret, with a character that
        OAuth's percent-encoding must handle (and the API's pattern allows)."""
        secret = secrets.token_hex(8) + "/.-_" + secrets.token_hex(4)
        self.twitter_consumers[key] = secret
        return secret

    def twitter_token(self, consumer_key: str, user_id: str, screen_name: str) -> tuple[str, str]:
        token = f"{user_id}-{secrets.token_hex(10)}"
        secret = secrets.token_urlsafe(20)
        self.twitter[token] = {"secret": secret, "consumer": consumer_key, "id": user_id, "screen_name": screen_name}
        return token, secret

    # ---- the APIs

    def _facebook_grant(self, query):
        grant = self.facebook.get(dict(query).get("access_token", ""))
        if grant is None:
            return None, (400, {"error": {"message": "Invalid OAuth access token - Cannot parse access token",
                                          "type": "OAuthException", "code": 190}})
        return grant, None

    def _facebook_app(self, handler, path, query):
        grant, error = self._facebook_grant(query)
        if error:
            return error
        return 200, {"id": grant[0], "name": "Fake app", "link": "https://www.facebook.com/games/?app_id=" + grant[0]}

    def _facebook_me(self, handler, path, query):
        grant, error = self._facebook_grant(query)
        if error:
            return error
        return 200, {"id": grant[1]}

    def _amazon_tokeninfo(self, handler, path, query):
        info = self.amazon.get(dict(query).get("access_token", ""))
        if info is None:
            return 400, {"error": "invalid_token",
                         "error_description": "The request has an invalid parameter : access_token"}
        return 200, info

    def _twitter_verify(self, handler, path, query):
        def refuse(code, message):
            return 401, {"errors": [{"code": code, "message": message}]}

        oauth = parse_oauth_header(handler.headers.get("Authorization") or "")
        if oauth is None:
            return 400, {"errors": [{"code": 215, "message": "Bad Authentication data."}]}
        consumer_secret = self.twitter_consumers.get(oauth.get("oauth_consumer_key", ""))
        grant = self.twitter.get(oauth.get("oauth_token", ""))
        if consumer_secret is None or grant is None or grant["consumer"] != oauth["oauth_consumer_key"]:
            return refuse(89, "Invalid or expired token.")
        if oauth.get("oauth_signature_method") != "HMAC-SHA1" or oauth.get("oauth_version", "1.0") != "1.0":
            return refuse(32, "Could not authenticate you.")
        if abs(int(oauth.get("oauth_timestamp", "0")) - time.time()) > 300:
            return refuse(135, "Timestamp out of bounds.")
        nonce = oauth.get("oauth_nonce", "")
        if not nonce or nonce in self.nonces:
            return refuse(32, "Could not authenticate you.")
        params = [(k, v) for k, v in oauth.items() if k not in ("oauth_signature", "realm")] + list(query)
        base_uri = f"http://{handler.headers['Host']}{path}"
        expected = oauth_signature("GET", base_uri, params, consumer_secret, grant["secret"])
        if not hmac.compare_digest(expected, oauth.get("oauth_signature", "")):
            return refuse(32, "Could not authenticate you.")
        self.nonces.add(nonce)
        return 200, {"id": int(grant["id"]), "id_str": grant["id"], "screen_name": grant["screen_name"],
                     "name": grant["screen_name"].title()}
