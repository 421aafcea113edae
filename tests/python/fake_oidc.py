"""A small OpenID provider on a loopback port, standing in for a company's IdP (Okta,
Entra ID, Keycloak, ...) that a user pool federates with.

It implements what a relying party meets: discovery, a JWKS, an authorization endpoint
that signs in `next_user` at once (no page), a token endpoint that checks the client
secret, the redirect URI and the PKCE verifier, and a userinfo endpoint. Tests can
make it misbehave (`tamper` rewrites the ID token's claims, `foreign_key` signs with a
key the JWKS does not hold), rotate its keys, mint ID tokens directly (`token`, for
identity-pool logins) and read what it was sent (`seen`, `fetches`)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from authlib.jose import JsonWebKey, jwt


_kids = itertools.count(1)


def new_key(kid: str | None = None):
    """An RS256 signing key. Kids are unique per process unless given: a later test's
    provider may get a port an earlier one had, and idpool may still cache its keys."""
    kid = kid or f"fake-{next(_kids)}"
    return JsonWebKey.generate_key("RSA", 2048, {"kid": kid, "use": "sig", "alg": "RS256"}, is_private=True)


class FakeOidcProvider:
    def __init__(self, client_id: str = "idpool-rp", client_secret: str = "rp-secret"):
        self.client_id = client_id
        self.client_secret = client_secret
        self.keys = [new_key()]  # published; the first one signs
        self.other_key = new_key(self.keys[0].kid)  # same kid, not published
        self.fetches = {"discovery": 0, "jwks": 0}
        self.next_user: dict = {"sub": "user-1", "email": "user1@corp.example"}
        self.userinfo_extra: dict = {}
        self.tamper = None  # callable(claims) -> claims
        self.foreign_key = False
        self.deny = False
        self.codes: dict[str, dict] = {}
        self.seen: list[dict] = []
        provider = self

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
                query = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/.well-known/openid-configuration":
                    provider.fetches["discovery"] += 1
                    return self._json(200, provider.discovery())
                if url.path == "/jwks":
                    provider.fetches["jwks"] += 1
                    return self._json(200, {"keys": [k.as_dict(is_private=False) for k in provider.keys]})
                if url.path == "/authorize":
                    return provider._authorize(self, query)
                if url.path == "/userinfo":
                    return provider._userinfo(self)
                self._json(404, {"error": "not_found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                if urllib.parse.urlsplit(self.path).path == "/token":
                    return provider._token(self, form)
                if urllib.parse.urlsplit(self.path).path == "/userinfo":
                    return provider._userinfo(self)
                self._json(404, {"error": "not_found"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # How identity pools name the provider: its URL without the scheme.
        self.name = self.issuer.removeprefix("http://")
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def rotate(self, kid: str | None = None):
        """A new signing key, published beside the old ones."""
        self.keys.insert(0, new_key(kid))

    def token(self, sub: str, key=None, **overrides) -> str:
        """An ID token for `sub`, as the token endpoint would issue it."""
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": sub, "aud": self.client_id, "iat": now, "exp": now + 300, **overrides}
        return self._sign(claims, key)

    def _sign(self, claims: dict, key=None) -> str:
        key = key or (self.other_key if self.foreign_key else self.keys[0])
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key).decode()

    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def provider_details(self, **extra) -> dict:
        """ProviderDetails for CreateIdentityProvider (ProviderType OIDC)."""
        details = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "attributes_request_method": "GET",
            "oidc_issuer": self.issuer,
            "authorize_scopes": "openid email profile",
        }
        details.update(extra)
        return details

    # ----------------------------------------------------------------- endpoints

    def _authorize(self, handler, query):
        self.seen.append({"endpoint": "authorize", **query})
        redirect = query["redirect_uri"]
        if self.deny:
            params = {"error": "access_denied", "error_description": "The user said no", "state": query["state"]}
        else:
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"user": dict(self.next_user), **query}
            params = {"code": code, "state": query["state"]}
        handler.send_response(302)
        handler.send_header("Location", f"{redirect}?{urllib.parse.urlencode(params)}")
        handler.end_headers()

    def _token(self, handler, form):
        auth = handler.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            method = "client_secret_basic"
        else:
            cid, secret, method = form.get("client_id"), form.get("client_secret"), "client_secret_post"
        self.seen.append({"endpoint": "token", "auth_method": method, **form})
        if cid != self.client_id or secret != self.client_secret:
            return handler._json(401, {"error": "invalid_client"})
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
            return handler._json(400, {"error": "invalid_grant"})
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if grant.get("code_challenge") and challenge != grant["code_challenge"]:
            return handler._json(400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.get("nonce"),
            **grant["user"],
        }
        if self.tamper:
            claims = self.tamper(claims)
        id_token = self._sign(claims)
        access_token = secrets.token_urlsafe(24)
        self.codes[f"access:{access_token}"] = grant["user"]
        handler._json(200, {"access_token": access_token, "id_token": id_token, "token_type": "Bearer", "expires_in": 300})

    def _userinfo(self, handler):
        token = handler.headers.get("Authorization", "").removeprefix("Bearer ")
        user = self.codes.get(f"access:{token}")
        self.seen.append({"endpoint": "userinfo"})
        if user is None:
            return handler._json(401, {"error": "invalid_token"})
        handler._json(200, {**user, **self.userinfo_extra})
