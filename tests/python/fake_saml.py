"""A small SAML 2.0 identity provider on a loopback port, standing in for a company's
ADFS, Okta or Entra ID that a user pool federates with.

It publishes metadata (`/metadata`), and its single sign-on service (`/sso`, HTTP-Redirect
binding) reads the pool's AuthnRequest, signs `next_user` in at once and answers with
the HTTP-POST binding's auto-submitting form, as real providers do. Responses are signed
with signxml, whose canonicalization is lxml's (libxml2's), so a response idpool accepts
was not canonicalized by idpool's own code. Tests can also mint responses directly
(`response`, for IdP-initiated sign-in and attacks) and read what the provider was sent
(`seen`)."""

from __future__ import annotations

import base64
import datetime as dt
import html
import os
import secrets
import threading
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
XENC = "http://www.w3.org/2001/04/xmlenc#"
DS = "http://www.w3.org/2000/09/xmldsig#"


def self_signed(common_name: str, days: int = 365, not_before_days: int = 1):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=not_before_days))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def instant(delta_s: int = 0) -> str:
    t = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=delta_s)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def cert_b64(cert) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


class FakeSamlProvider:
    def __init__(self):
        self.key, self.cert = self_signed("fake-saml-idp")
        self.next_user: dict = {"name_id": "jane@corp.example", "attributes": {"email": ["jane@corp.example"]}}
        self.sign = "assertion"  # "assertion", "response", "both" or None
        self.seen: list[dict] = []
        self.sp_certificate = None  # the pool's signing certificate, to check signed requests
        # The provider's ActiveEncryptionCertificate: when set, assertions are encrypted
        # to it with `encryption` ("aes256-gcm" or "aes128-cbc", as ADFS still defaults).
        self.encrypt_to = None
        self.encryption = "aes256-gcm"
        # Single logout: where the pool takes LogoutResponses, the status to answer,
        # and the LogoutRequests received.
        self.sp_logout_url = None
        self.logout_status = "Success"
        self.logouts: list[dict] = []
        self.session_indexes: list[str] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body: str, content_type="text/html; charset=utf-8"):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                if url.path == "/metadata":
                    return self._send(200, provider.metadata(), "application/samlmetadata+xml")
                if url.path == "/sso":
                    return provider._sso(self, url.query)
                if url.path == "/slo":
                    return provider._slo(self, url.query)
                self._send(404, "not found")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.entity_id = f"{self.url}/saml"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()

    def metadata(self, cert=None) -> str:
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{self.entity_id}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data><ds:X509Certificate>{cert_b64(cert or self.cert)}</ds:X509Certificate></ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{self.url}/slo"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{self.url}/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"""

    def _sso(self, handler, raw_query: str):
        query = dict(urllib.parse.parse_qsl(raw_query))
        request_xml = zlib.decompress(base64.b64decode(query["SAMLRequest"]), -15)
        request = etree.fromstring(request_xml)
        seen = {
            "id": request.get("ID"),
            "acs": request.get("AssertionConsumerServiceURL"),
            "destination": request.get("Destination"),
            "issuer": request.findtext(f"{{{SAML}}}Issuer"),
            "relay_state": query.get("RelayState"),
            "sig_alg": query.get("SigAlg"),
            "signature_valid": None,
        }
        seen["signature_valid"] = self._redirect_signature_valid(raw_query, query)
        self.seen.append(seen)
        user = self.next_user
        response = self.response(
            acs=seen["acs"], audience=seen["issuer"], in_response_to=seen["id"],
            name_id=user["name_id"], attributes=user.get("attributes", {}),
        )
        handler._send(200, self.post_form(seen["acs"], response, query.get("RelayState")))

    def _redirect_signature_valid(self, raw_query: str, query: dict):
        """HTTP-Redirect binding: the signature covers the query string as sent, minus
        the Signature parameter itself. None when unsigned or no certificate is known."""
        if "Signature" not in query or self.sp_certificate is None:
            return None
        signed = "&".join(p for p in raw_query.split("&") if not p.startswith("Signature="))
        try:
            self.sp_certificate.public_key().verify(
                base64.b64decode(query["Signature"]), signed.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
            return True
        except InvalidSignature:
            return False

    def _slo(self, handler, raw_query: str):
        query = dict(urllib.parse.parse_qsl(raw_query))
        request = etree.fromstring(zlib.decompress(base64.b64decode(query["SAMLRequest"]), -15))
        seen = {
            "id": request.get("ID"),
            "destination": request.get("Destination"),
            "issuer": request.findtext(f"{{{SAML}}}Issuer"),
            "name_id": request.findtext(f"{{{SAML}}}NameID"),
            "session_index": request.findtext(f"{{{SAMLP}}}SessionIndex"),
            "sig_alg": query.get("SigAlg"),
            "signature_valid": self._redirect_signature_valid(raw_query, query),
        }
        self.logouts.append(seen)
        response = self.logout_response(in_response_to=seen["id"])
        handler._send(200, self.post_form(self.sp_logout_url, response, query.get("RelayState")))

    def logout_response(self, *, in_response_to: str, status: str | None = None, issuer: str | None = None) -> str:
        """A base64 LogoutResponse to the pool's /saml2/logout, signed unless sign is None."""
        response_id = "_l" + secrets.token_hex(16)
        response = etree.fromstring(
            f"""<samlp:LogoutResponse xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{response_id}" Version="2.0" IssueInstant="{instant()}" Destination="{html.escape(self.sp_logout_url)}" InResponseTo="{html.escape(in_response_to)}">
  <saml:Issuer>{html.escape(issuer or self.entity_id)}</saml:Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:{status or self.logout_status}"/></samlp:Status>
</samlp:LogoutResponse>""".encode()
        )
        if self.sign is not None:
            response = self._signed(response, response_id)
        return base64.b64encode(etree.tostring(response)).decode()

    @staticmethod
    def post_form(acs: str, response_b64: str, relay_state: str | None) -> str:
        relay = (
            f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">' if relay_state else ""
        )
        return (
            f'<html><body onload="document.forms[0].submit()"><form method="post" action="{html.escape(acs)}">'
            f'<input type="hidden" name="SAMLResponse" value="{response_b64}">{relay}'
            f"<noscript><button>Continue</button></noscript></form></body></html>"
        )

    def _signed(self, element, reference_id: str):
        signer = XMLSigner(
            signature_algorithm=SignatureMethod.RSA_SHA256,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
        )
        key_pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        cert_pem = self.cert.public_bytes(serialization.Encoding.PEM)
        return signer.sign(element, key=key_pem, cert=cert_pem, reference_uri=reference_id)

    def _encrypted(self, assertion):
        """XML Encryption of the (signed) assertion, written here with `cryptography`
        rather than by idpool's code: a fresh AES key for the content, wrapped to the
        certificate with RSA-OAEP (MGF1 and digest SHA-1, rsa-oaep-mgf1p)."""
        plain = etree.tostring(assertion)
        if self.encryption == "aes256-gcm":
            key = os.urandom(32)
            nonce = os.urandom(12)
            data = nonce + AESGCM(key).encrypt(nonce, plain, None)
            algorithm = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
        else:
            key = os.urandom(16)
            iv = os.urandom(16)
            pad = 16 - len(plain) % 16
            padded = plain + os.urandom(pad - 1) + bytes([pad])
            encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
            data = iv + encryptor.update(padded) + encryptor.finalize()
            algorithm = XENC + "aes128-cbc"
        wrapped = self.encrypt_to.public_key().encrypt(
            key, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
        )
        b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
        return etree.fromstring(
            f"""<saml:EncryptedAssertion xmlns:saml="{SAML}">
  <xenc:EncryptedData xmlns:xenc="{XENC}" Type="{XENC}Element">
    <xenc:EncryptionMethod Algorithm="{algorithm}"/>
    <ds:KeyInfo xmlns:ds="{DS}">
      <xenc:EncryptedKey>
        <xenc:EncryptionMethod Algorithm="{XENC}rsa-oaep-mgf1p"><ds:DigestMethod Algorithm="{DS}sha1"/></xenc:EncryptionMethod>
        <xenc:CipherData><xenc:CipherValue>{b64(wrapped)}</xenc:CipherValue></xenc:CipherData>
      </xenc:EncryptedKey>
    </ds:KeyInfo>
    <xenc:CipherData><xenc:CipherValue>{b64(data)}</xenc:CipherValue></xenc:CipherData>
  </xenc:EncryptedData>
</saml:EncryptedAssertion>""".encode()
        )

    def response(
        self, *, acs: str, audience: str, in_response_to: str | None, name_id: str, attributes: dict,
        not_on_or_after_s: int = 300, issued_s: int = 0, issuer: str | None = None, sign: str | None = "default",
        raw: bool = False,
    ):
        """A base64 SAMLResponse (or, with raw=True, its XML)."""
        sign = self.sign if sign == "default" else sign
        issuer = issuer or self.entity_id
        irt = f' InResponseTo="{in_response_to}"' if in_response_to else ""
        assertion_id = "_a" + secrets.token_hex(16)
        session_index = "_s" + secrets.token_hex(8)
        self.session_indexes.append(session_index)
        attrs = "".join(
            f'<saml:Attribute Name="{html.escape(name)}">'
            + "".join(f"<saml:AttributeValue>{html.escape(v)}</saml:AttributeValue>" for v in values)
            + "</saml:Attribute>"
            for name, values in attributes.items()
        )
        assertion_xml = f"""<saml:Assertion xmlns:saml="{SAML}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="{assertion_id}" Version="2.0" IssueInstant="{instant(issued_s)}">
  <saml:Issuer>{html.escape(issuer)}</saml:Issuer>
  <saml:Subject>
    <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{html.escape(name_id)}</saml:NameID>
    <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
      <saml:SubjectConfirmationData{irt} NotOnOrAfter="{instant(not_on_or_after_s)}" Recipient="{html.escape(acs)}"/>
    </saml:SubjectConfirmation>
  </saml:Subject>
  <saml:Conditions NotBefore="{instant(issued_s - 60)}" NotOnOrAfter="{instant(not_on_or_after_s)}">
    <saml:AudienceRestriction><saml:Audience>{html.escape(audience)}</saml:Audience></saml:AudienceRestriction>
  </saml:Conditions>
  <saml:AuthnStatement AuthnInstant="{instant(issued_s)}" SessionIndex="{session_index}">
    <saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>
  </saml:AuthnStatement>
  <saml:AttributeStatement>{attrs}</saml:AttributeStatement>
</saml:Assertion>"""
        assertion = etree.fromstring(assertion_xml.encode())
        if sign in ("assertion", "both"):
            assertion = self._signed(assertion, assertion_id)
        response_id = "_r" + secrets.token_hex(16)
        response = etree.fromstring(
            f"""<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{response_id}" Version="2.0" IssueInstant="{instant(issued_s)}" Destination="{html.escape(acs)}"{irt}>
  <saml:Issuer>{html.escape(issuer)}</saml:Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
</samlp:Response>""".encode()
        )
        response.append(self._encrypted(assertion) if self.encrypt_to is not None else assertion)
        if sign in ("response", "both"):
            response = self._signed(response, response_id)
        xml = etree.tostring(response)
        return xml if raw else base64.b64encode(xml).decode()
