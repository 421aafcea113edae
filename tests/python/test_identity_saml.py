"""SAML logins for identity pools: IAM's SAML provider operations through boto3, an
identity pool trusting the provider by ARN, base64 SAML responses (signed by signxml in
tests/python/fake_saml.py) as logins, and the role chosen from the assertion's
`https://aws.amazon.com/SAML/Attributes/Role` attribute. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64

import pytest

from fake_saml import FakeSamlProvider, self_signed
from idpool_testlib import raises_cognito, unique
from photo_app import ACCOUNT, aws, session_keys, trust_policy
from test_identity_oidc_providers import iam_code

AWS_SAML = "https://signin.aws.amazon.com/saml"
ROLE_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/Role"


@pytest.fixture
def corp():
    provider = FakeSamlProvider()
    yield provider
    provider.close()


def test_iam_saml_providers(idp, corp):
    iam = aws(idp, "iam")
    name = unique("corp")
    arn = iam.create_saml_provider(Name=name, SAMLMetadataDocument=corp.metadata(),
                                   Tags=[{"Key": "team", "Value": "id"}])["SAMLProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:saml-provider/{name}"
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == corp.metadata() and got["Tags"] == [{"Key": "team", "Value": "id"}]
    assert arn in [p["Arn"] for p in iam.list_saml_providers()["SAMLProviderList"]]
    assert iam_code(iam.create_saml_provider, Name=name, SAMLMetadataDocument=corp.metadata())[0] == \
        "EntityAlreadyExists"
    padded = "<x>" + " " * 1200 + "</x>"
    assert iam_code(iam.create_saml_provider, Name=unique("bad"), SAMLMetadataDocument=padded)[0] == "InvalidInput"
    _, other_cert = self_signed("rolled")
    iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=corp.metadata(cert=other_cert))
    assert iam.get_saml_provider(SAMLProviderArn=arn)["SAMLMetadataDocument"] == corp.metadata(cert=other_cert)
    iam.delete_saml_provider(SAMLProviderArn=arn)
    assert iam_code(iam.get_saml_provider, SAMLProviderArn=arn) == ("NoSuchEntity", f"Manifest not found for arn {arn}")


class SamlIdentityPool:
    def __init__(self, server, corp):
        self.ci, self.iam, self.sts = aws(server, "cognito-identity"), aws(server, "iam"), aws(server, "sts")
        self.server, self.corp = server, corp
        self.arn = self.iam.create_saml_provider(
            Name=unique("corp"), SAMLMetadataDocument=corp.metadata())["SAMLProviderArn"]
        self.pool = self.ci.create_identity_pool(IdentityPoolName=unique("saml"), AllowUnauthenticatedIdentities=False,
                                                 SamlProviderARNs=[self.arn])["IdentityPoolId"]
        trust = trust_policy(self.pool, "authenticated")
        self.readers = self.iam.create_role(RoleName=unique("readers"), AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        self.admins = self.iam.create_role(RoleName=unique("admins"), AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        self.ci.set_identity_pool_roles(IdentityPoolId=self.pool, Roles={"authenticated": self.readers})

    def login(self, name_id="jane@corp.example", roles=(), **kw):
        attributes = {"email": [name_id]}
        if roles:
            attributes[ROLE_ATTRIBUTE] = [f"{role},{self.arn}" for role in roles]
        response = self.corp.response(acs=kw.pop("acs", AWS_SAML), audience=kw.pop("audience", AWS_SAML),
                                      in_response_to=None, name_id=name_id, attributes=attributes, **kw)
        return {self.arn: response}

    def credentials(self, logins, **kw):
        identity = self.ci.get_id(IdentityPoolId=self.pool, Logins=logins)["IdentityId"]
        creds = self.ci.get_credentials_for_identity(IdentityId=identity, Logins=logins, **kw)["Credentials"]
        return identity, creds

    def assumed_role(self, creds):
        sts = aws(self.server, "sts", session_keys(creds))
        return sts.get_caller_identity()["Arn"].split("/")[1]


def test_saml_logins_give_stable_identities_and_the_assertions_role(idp, corp):
    app = SamlIdentityPool(idp, corp)
    jane, creds = app.credentials(app.login(roles=[app.admins]))
    assert app.assumed_role(creds) == app.admins.split("/")[-1]
    # The same response serves GetId and then GetCredentialsForIdentity; a new one for
    # the same NameID is the same identity.
    again, _ = app.credentials(app.login())
    assert again == jane
    assert app.ci.describe_identity(IdentityId=jane)["Logins"] == [app.arn]
    other, creds = app.credentials(app.login("joe@corp.example"))
    assert other != jane
    # Without a Role attribute: the pool's authenticated role.
    assert app.assumed_role(creds) == app.readers.split("/")[-1]

    # Several roles: the caller chooses among them, and only among them.
    both = app.login(roles=[app.readers, app.admins])
    with raises_cognito("InvalidParameterException", "several roles"):
        app.credentials(both)
    _, creds = app.credentials(both, CustomRoleArn=app.readers)
    assert app.assumed_role(creds) == app.readers.split("/")[-1]
    with raises_cognito("InvalidParameterException", "not one of the roles"):
        app.credentials(app.login(roles=[app.readers]), CustomRoleArn=app.admins)

    # ADFS names AWS by its entity id, and IdPs may use the regional sign-in endpoint
    # (of the region the request is signed for); STS takes both.
    region = app.ci.meta.region_name
    regional = f"https://{region}.signin.aws.amazon.com/saml"
    for audience, acs in (("urn:amazon:webservices", AWS_SAML), (regional, regional),
                          (f"urn:amazon:webservices:{region}", regional)):
        assert app.credentials(app.login(audience=audience, acs=acs))[0] == jane, audience
    with raises_cognito("NotAuthorizedException", "another endpoint"):
        app.credentials(app.login(acs="https://eu-north-9.signin.aws.amazon.com/saml"))


def test_forged_foreign_and_expired_saml_logins_are_refused(idp, corp):
    app = SamlIdentityPool(idp, corp)

    def refused(logins, message):
        with raises_cognito("NotAuthorizedException", message):
            app.ci.get_id(IdentityPoolId=app.pool, Logins=logins)

    good = app.login()[app.arn]
    xml = base64.b64decode(good).replace(b">jane@corp.example<", b">admin@corp.example<")
    refused({app.arn: base64.b64encode(xml).decode()}, "digest")
    refused(app.login(sign=None), "signed")
    refused(app.login(audience="urn:amazon:cognito:sp:us-east-1_x"), "audience")
    refused(app.login(acs="https://evil.example.com/saml"), "another endpoint")
    refused(app.login(not_on_or_after_s=-600), "expired")
    refused({app.arn: "not base64 at all!"}, "not base64")
    real = corp.key, corp.cert
    corp.key, corp.cert = self_signed("attacker")
    try:
        refused(app.login(), "signing certificate")
    finally:
        corp.key, corp.cert = real
    # A provider the pool does not trust, and one IAM no longer has.
    with raises_cognito("InvalidParameterException", "not a provider of this identity pool"):
        app.ci.get_id(IdentityPoolId=app.pool, Logins={app.arn + "x": good})
    app.iam.delete_saml_provider(SAMLProviderArn=app.arn)
    with raises_cognito("InvalidParameterException", "does not exist"):
        app.ci.get_id(IdentityPoolId=app.pool, Logins={app.arn: good})


def pem_key(traditional: bool = False):
    """A fresh RSA key and its unencrypted PEM: PKCS#8, or PKCS#1 (openssl's
    traditional `RSA PRIVATE KEY`)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fmt = serialization.PrivateFormat.TraditionalOpenSSL if traditional else serialization.PrivateFormat.PKCS8
    pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
    return key, pem


def test_encrypted_saml_logins_with_the_providers_private_keys(idp, corp):
    app = SamlIdentityPool(idp, corp)
    iam = app.iam
    # No private key yet: plaintext works, an encrypted assertion cannot be opened.
    first, first_pem = pem_key()
    corp.encrypt_to = first
    with raises_cognito("NotAuthorizedException", "AddPrivateKey"):
        app.credentials(app.login())
    assert iam_code(iam.update_saml_provider, SAMLProviderArn=app.arn, AssertionEncryptionMode="Required")[0] == \
        "InvalidInput"
    assert iam_code(iam.update_saml_provider, SAMLProviderArn=app.arn, AssertionEncryptionMode="Sometimes")[0] == \
        "ValidationError"
    assert iam_code(iam.update_saml_provider, SAMLProviderArn=app.arn, AddPrivateKey="-----BEGIN CERTIFICATE-----")[0] \
        == "InvalidInput"

    iam.update_saml_provider(SAMLProviderArn=app.arn, AddPrivateKey=first_pem, AssertionEncryptionMode="Required")
    got = iam.get_saml_provider(SAMLProviderArn=app.arn)
    assert got["AssertionEncryptionMode"] == "Required" and len(got["PrivateKeyList"]) == 1
    first_id = got["PrivateKeyList"][0]["KeyId"]
    assert len(first_id) >= 22 and first_id.isalnum() and first_id.isupper()
    assert "BEGIN" not in str(got)  # IAM never gives a private key back
    jane, _ = app.credentials(app.login())
    corp.encryption = "aes128-cbc"
    assert app.credentials(app.login())[0] == jane
    # Required: a plaintext assertion is refused.
    corp.encrypt_to = None
    with raises_cognito("NotAuthorizedException", "AssertionEncryptionMode is Required"):
        app.credentials(app.login())

    # Rotation: a second key (PKCS#1 PEM), a third over the quota, then the old one out.
    second, second_pem = pem_key(traditional=True)
    assert iam_code(iam.update_saml_provider, SAMLProviderArn=app.arn, AddPrivateKey=second_pem,
                    RemovePrivateKey=first_id)[0] == "InvalidInput"
    iam.update_saml_provider(SAMLProviderArn=app.arn, AddPrivateKey=second_pem)
    assert iam_code(iam.update_saml_provider, SAMLProviderArn=app.arn, AddPrivateKey=pem_key()[1])[0] == \
        "LimitExceeded"
    for key in (first, second):
        corp.encrypt_to = key
        assert app.credentials(app.login())[0] == jane
    iam.update_saml_provider(SAMLProviderArn=app.arn, RemovePrivateKey=first_id)
    assert len(iam.get_saml_provider(SAMLProviderArn=app.arn)["PrivateKeyList"]) == 1
    corp.encrypt_to = first
    with raises_cognito("NotAuthorizedException", "could not be decrypted"):
        app.credentials(app.login())
    assert iam_code(iam.update_saml_provider, SAMLProviderArn=app.arn, RemovePrivateKey=first_id)[0] == "InvalidInput"
    # Allowed: both forms again.
    iam.update_saml_provider(SAMLProviderArn=app.arn, AssertionEncryptionMode="Allowed")
    corp.encrypt_to = second
    assert app.credentials(app.login())[0] == jane
    corp.encrypt_to = None
    assert app.credentials(app.login())[0] == jane
