"""Client ID Metadata Documents with boto3, Authlib and the hosted pages, on every
backend: CIMD policies, an external client naming itself by an https URL whose
metadata document a test HTTPS server serves (under a test CA the server trusts
through SSL_CERT_FILE), the sign-in and token exchange it gets, the document cache,
and the refusals."""

from __future__ import annotations

import datetime
import html
import json
import secrets
import ssl
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from idpool_testlib import jwt_claims, raises_cognito, server_on_backend, unique
from test_oauth import PASSWORD, Browser, OAuthApp

REDIRECT = "http://127.0.0.1:33418/callback"


def _certificate(subject, issuer_name, key, issuer_key, ca: bool):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class MetadataHost:
    """An HTTPS server for `localhost` serving metadata documents by path, counting
    fetches; its certificate comes from a CA made for the test."""

    def __init__(self, directory):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _certificate("idpool test CA", "idpool test CA", ca_key, ca_key, ca=True)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate("localhost", "idpool test CA", key, ca_key, ca=False)
        self.ca_file = directory / "ca.pem"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        cert_file, key_file = directory / "cert.pem", directory / "key.pem"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.documents: dict[str, tuple[dict, dict]] = {}
        self.fetches: dict[str, int] = {}
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                host.fetches[self.path] = host.fetches.get(self.path, 0) + 1
                doc, headers = host.documents.get(self.path, (None, {}))
                if doc is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.base = f"https://localhost:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return self.base + path

    def serve(self, path: str, headers=None, **overrides) -> str:
        url = self.url(path)
        doc = {
            "client_id": url,
            "client_name": "MCP Tool",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": "openid email",
        }
        doc.update(overrides)
        self.documents[path] = ({k: v for k, v in doc.items() if v is not None}, headers or {})
        return url


@pytest.fixture(scope="module")
def metadata_host(tmp_path_factory):
    host = MetadataHost(tmp_path_factory.mktemp("cimd-tls"))
    yield host
    host.httpd.shutdown()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, start_idpool, metadata_host):
    with server_on_backend(
        start_idpool, request.param, "cimd", env={"SSL_CERT_FILE": str(metadata_host.ca_file)}
    ) as server:
        yield server


def external_app(server, metadata_host):
    """A pool whose public app client (openid, email, profile) a CIMD policy lends to
    the URLs under /clients/ of the metadata host."""
    app = OAuthApp(server, secret=False, flows=("code",))
    policy = app.cognito.create_cimd_policy(
        UserPoolId=app.pool_id,
        ClientId=app.client_id,
        PolicyName="mcp clients",
        URLPatterns=[metadata_host.url("/clients/*")],
    )["CIMDPolicy"]
    return app, policy


def sign_in(app, browser, client_url, username, **extra):
    rp = OAuth2Session(
        client_url, None, scope=extra.pop("scope", "openid email"), redirect_uri=REDIRECT,
        code_challenge_method="S256", token_endpoint_auth_method="none",
    )
    verifier = secrets.token_urlsafe(48)
    url, state = rp.create_authorization_url(app.discovery["authorization_endpoint"], code_verifier=verifier)
    r = browser.get(url)
    assert r.status_code == 200 and "Sign in" in r.text, r.text[:2000]
    r = browser.submit("/login", username=username, password=PASSWORD)
    assert r.status_code == 302 and r.headers["Location"].startswith(REDIRECT), r.text[:2000]
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.headers["Location"]).query))
    assert params["state"] == state
    token = rp.fetch_token(
        app.discovery["token_endpoint"], authorization_response=r.headers["Location"], code_verifier=verifier
    )
    return rp, token


def test_an_external_client_signs_a_user_in_with_its_metadata_url(server, metadata_host):
    app, policy = external_app(server, metadata_host)
    assert app.discovery["client_id_metadata_document_supported"] is True
    path = f"/clients/{unique('tool')}.json"
    client_url = metadata_host.serve(path, headers={"Cache-Control": "max-age=172800"})
    username = app.user()

    rp, token = sign_in(app, Browser(), client_url, username)
    access = jwt_claims(token["access_token"])
    assert access["client_id"] == client_url
    # Both the app client and the document must allow a scope.
    assert sorted(access["scope"].split()) == ["email", "openid"]
    assert jwt_claims(token["id_token"])["aud"] == client_url
    # A public client renews with its URL alone.
    renewed = rp.refresh_token(app.discovery["token_endpoint"], refresh_token=token["refresh_token"])
    assert jwt_claims(renewed["access_token"])["client_id"] == client_url

    # Fetched once, cached for the document's max-age (two days, within Cognito's
    # bounds), and listed with its dates.
    sign_in(app, Browser(), client_url, username)
    assert metadata_host.fetches[path] == 1
    urls = app.cognito.list_client_metadata_urls(UserPoolId=app.pool_id, CIMDPolicyId=policy["CIMDPolicyId"])[
        "ClientMetadataURLs"
    ]
    assert [u["URL"] for u in urls] == [client_url]
    lifetime = urls[0]["ExpirationDate"] - urls[0]["CachedDate"]
    assert lifetime == datetime.timedelta(seconds=172800), lifetime

    # REFRESH fetches again; INVALIDATE forgets, and the next sign-in fetches again.
    app.cognito.update_client_metadata_url_state(
        UserPoolId=app.pool_id, CIMDPolicyId=policy["CIMDPolicyId"], URL=client_url, Action="REFRESH"
    )
    assert metadata_host.fetches[path] == 2
    app.cognito.update_client_metadata_url_state(
        UserPoolId=app.pool_id, CIMDPolicyId=policy["CIMDPolicyId"], URL=client_url, Action="INVALIDATE"
    )
    assert app.cognito.list_client_metadata_urls(UserPoolId=app.pool_id, CIMDPolicyId=policy["CIMDPolicyId"])[
        "ClientMetadataURLs"
    ] == []
    with raises_cognito("CachedCIMDURLDoesNotExistException"):
        app.cognito.update_client_metadata_url_state(
            UserPoolId=app.pool_id, CIMDPolicyId=policy["CIMDPolicyId"], URL=client_url, Action="INVALIDATE"
        )
    sign_in(app, Browser(), client_url, username)
    assert metadata_host.fetches[path] == 3


def authorize_error(app, client_url, **params) -> str:
    """The error page, or redirect, an authorization request gets."""
    query = {
        "client_id": client_url, "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSMw-cM8", "code_challenge_method": "S256",
    }
    query.update(params)
    query = {k: v for k, v in query.items() if v is not None}
    r = requests.get(
        app.discovery["authorization_endpoint"] + "?" + urllib.parse.urlencode(query),
        allow_redirects=False, timeout=30,
    )
    if r.status_code in (301, 302, 303):
        location = r.headers["Location"]
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query)).get("error_description", location)
    return html.unescape(r.text)


def test_refusals(server, metadata_host):
    app, policy = external_app(server, metadata_host)
    cases = {
        "no CIMD policy": metadata_host.serve("/elsewhere/tool.json"),
        "not its own URL": metadata_host.serve(
            f"/clients/{unique('a')}.json", client_id="https://localhost/clients/other.json"
        ),
        "token_endpoint_auth_method must be none": metadata_host.serve(
            f"/clients/{unique('b')}.json", token_endpoint_auth_method="client_secret_basic"
        ),
        "HTTP 404": metadata_host.url(f"/clients/{unique('missing')}.json"),
        "query or fragment": metadata_host.url("/clients/tool.json?v=1"),
    }
    for expected, url in cases.items():
        assert expected in authorize_error(app, url), (expected, authorize_error(app, url))
    good = metadata_host.serve(f"/clients/{unique('good')}.json")
    assert "redirect_mismatch" in authorize_error(app, good, redirect_uri="https://evil.test/cb")
    assert "PKCE" in authorize_error(app, good, code_challenge_method="plain")
    assert "PKCE" in authorize_error(app, good, code_challenge=None, code_challenge_method=None)
    # A document that does not allow the code grant gets nothing from this app client.
    implicit_only = metadata_host.serve(f"/clients/{unique('c')}.json", grant_types=["implicit"])
    assert "code flow" in authorize_error(app, implicit_only)
    # URL client ids exist only at the OAuth endpoints.
    with raises_cognito("InvalidParameterException"):
        app.cognito.initiate_auth(ClientId=good, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={})


def test_policies(server, metadata_host):
    app, policy = external_app(server, metadata_host)
    cognito = app.cognito
    policy_id = policy["CIMDPolicyId"]
    assert policy["ClientId"] == app.client_id and policy["CacheDuration"] == 86400
    assert cognito.describe_cimd_policy(UserPoolId=app.pool_id, CIMDPolicyId=policy_id)["CIMDPolicy"] == policy
    second = cognito.create_cimd_policy(
        UserPoolId=app.pool_id, ClientId=app.client_id, PolicyName="second", CacheDuration=604800,
        URLPatterns=["https://*.tools.example/cimd/*"],
    )["CIMDPolicy"]
    listed = cognito.list_cimd_policies(UserPoolId=app.pool_id)["CIMDPolicies"]
    assert sorted(p["CIMDPolicyId"] for p in listed) == sorted([policy_id, second["CIMDPolicyId"]])
    page = cognito.list_cimd_policies(UserPoolId=app.pool_id, MaxResults=1)
    assert len(page["CIMDPolicies"]) == 1 and "NextToken" in page

    # Changing the patterns drops the cached documents they no longer admit.
    client_url = metadata_host.serve(f"/clients/{unique('t')}.json")
    sign_in(app, Browser(), client_url, app.user())
    updated = cognito.update_cimd_policy(
        UserPoolId=app.pool_id, CIMDPolicyId=policy_id, ClientId=app.client_id,
        URLPatterns=[metadata_host.url("/other/*")],
    )["CIMDPolicy"]
    assert updated["PolicyName"] == "mcp clients" and updated["URLPatterns"] == [metadata_host.url("/other/*")]
    assert cognito.list_client_metadata_urls(UserPoolId=app.pool_id, CIMDPolicyId=policy_id)["ClientMetadataURLs"] == []

    with raises_cognito("ResourceNotFoundException"):
        cognito.create_cimd_policy(
            UserPoolId=app.pool_id, ClientId="a" * 26, PolicyName="x", URLPatterns=["https://a.example/c/*"]
        )
    with raises_cognito("InvalidParameterException", "path"):
        cognito.create_cimd_policy(
            UserPoolId=app.pool_id, ClientId=app.client_id, PolicyName="x", URLPatterns=["https://a.example"]
        )
    # The app client's id is left out once the client is gone.
    cognito.delete_user_pool_client(UserPoolId=app.pool_id, ClientId=app.client_id)
    assert "ClientId" not in cognito.describe_cimd_policy(UserPoolId=app.pool_id, CIMDPolicyId=policy_id)["CIMDPolicy"]
    cognito.delete_cimd_policy(UserPoolId=app.pool_id, CIMDPolicyId=policy_id)
    with raises_cognito("ResourceNotFoundException"):
        cognito.describe_cimd_policy(UserPoolId=app.pool_id, CIMDPolicyId=policy_id)
