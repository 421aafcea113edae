"""Identity pools' Facebook, Login with Amazon and Twitter logins (SupportedLoginProviders
`graph.facebook.com`, `www.amazon.com`, `api.twitter.com`): access tokens that idpool
checks with the provider's own API, here tests/python/fake_social.py on a loopback port,
which idpool's `[social-apis]` config points at. The fake Twitter checks idpool's OAuth
1.0a signatures itself. Through boto3's cognito-identity, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess

import pytest

from fake_social import FakeSocial, oauth_signature
from photo_app import aws, trust_policy
from test_identity_credentials import authorize

from idpool_testlib import ScratchDatabase, idpool_bin, jwt_claims, postgres_url, raises_cognito, unique

FB_APP = "1234567890123"
LWA_CLIENT = "amzn1.application-oa2-client.0123456789abcdef"
TW_CONSUMER = "fakeConsumerKey123"

FACEBOOK, AMAZON, TWITTER = "graph.facebook.com", "www.amazon.com", "api.twitter.com"


def social_apis_toml(base: str) -> str:
    return (f'[social-apis]\nfacebook-graph-url = "{base}/facebook"\n'
            f'amazon-api-url = "{base}/amazon"\ntwitter-api-url = "{base}/twitter"\n')


@pytest.fixture(scope="module")
def fake():
    f = FakeSocial()
    yield f
    f.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, fake, start_idpool, tmp_path_factory):
    config = tmp_path_factory.mktemp("social-config") / "idpool.toml"
    config.write_text(social_apis_toml(fake.url))
    db = None
    kwargs = {}
    if request.param == "postgres":
        url = postgres_url()
        if url is None:
            pytest.skip("IDPOOL_TEST_POSTGRES_URL not set")
        db = ScratchDatabase(url).create()
        kwargs["database_url"] = db.url
    srv = start_idpool(f"social-{request.param}", extra_args=["--config", str(config)], **kwargs)
    yield srv
    srv.stop()
    if db is not None:
        db.drop()


@pytest.fixture
def world(server, fake):
    fake.fail_status = None
    yield server
    fake.fail_status = None


def social_pool(ci, consumer_secret: str = "", **providers) -> str:
    supported = {FACEBOOK: FB_APP, AMAZON: LWA_CLIENT,
                 TWITTER: f"{TW_CONSUMER};{consumer_secret}", **providers}
    return ci.create_identity_pool(IdentityPoolName=unique("social"), AllowUnauthenticatedIdentities=False,
                                   SupportedLoginProviders=supported)["IdentityPoolId"]


def with_role(server, pool: str, **role_mappings) -> str:
    iam = aws(server, "iam")
    name = unique("social-role")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy(pool, "authenticated"))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
    aws(server, "cognito-identity").set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": arn},
                                                            **role_mappings)
    return arn


def credentials(ci, pool: str, logins: dict) -> tuple[str, dict]:
    identity = ci.get_id(IdentityPoolId=pool, Logins=logins)["IdentityId"]
    got = ci.get_credentials_for_identity(IdentityId=identity, Logins=logins)
    assert got["IdentityId"] == identity
    return identity, got["Credentials"]


def test_fake_twitter_checks_signatures_like_twitters_example():
    """The fake's own signer reproduces Twitter's documented signature, so it checks
    idpool's signatures independently."""
    params = [("status", "Hello Ladies + Gentlemen, a signed OAuth request!"), ("include_entities", "true"),
              ("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
              ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
              ("oauth_signature_method", "HMAC-SHA1"), ("oauth_timestamp", "1318622958"),
              ("oauth_token", "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"), ("oauth_version", "1.0")]
    assert oauth_signature("POST", "https://api.twitter.com/1.1/statuses/update.json", params,
                           "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
                           "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE") == "hCtSmYh+iHYCEqBWrE7C7hYmtUk="


def test_facebook_logins(world, fake):
    ci = aws(world, "cognito-identity")
    pool = social_pool(ci)
    with_role(world, pool)
    token = fake.facebook_token(FB_APP, "10150000000000001")
    identity, creds = credentials(ci, pool, {FACEBOOK: token})
    assert creds["AccessKeyId"].startswith("ASIA")
    assert authorize(world, creds, "s3:GetObject", "arn:aws:s3:::b/k")["Decision"] == "Allow"
    assert ci.describe_identity(IdentityId=identity)["Logins"] == [FACEBOOK]

    # A new token of the same user (Facebook issues several) is the same identity.
    again = fake.facebook_token(FB_APP, "10150000000000001")
    assert ci.get_id(IdentityPoolId=pool, Logins={FACEBOOK: again})["IdentityId"] == identity
    other = ci.get_id(IdentityPoolId=pool, Logins={FACEBOOK: fake.facebook_token(FB_APP, "10150000000000002")})
    assert other["IdentityId"] != identity

    # The classic flow's OpenID token names the provider.
    openid = ci.get_open_id_token(IdentityId=identity, Logins={FACEBOOK: token})
    assert openid["IdentityId"] == identity
    assert jwt_claims(openid["Token"])["amr"] == ["authenticated", FACEBOOK]

    asked = [s for s in fake.seen if s["query"].get("access_token") == token]
    assert {s["path"] for s in asked} == {"/facebook/app", "/facebook/me"}
    assert all(s["query"].get("fields", "id") == "id" for s in asked)


def test_facebook_refusals(world, fake):
    ci = aws(world, "cognito-identity")
    pool = social_pool(ci)
    with raises_cognito("NotAuthorizedException", "Token is not from a supported provider of this identity pool."):
        ci.get_id(IdentityPoolId=pool, Logins={FACEBOOK: fake.facebook_token("5555555", "10150000000000003")})
    with raises_cognito("NotAuthorizedException",
                        "Invalid login token. Facebook did not accept the access token: Invalid OAuth access token"):
        ci.get_id(IdentityPoolId=pool, Logins={FACEBOOK: "EAABnot-a-token"})
    fake.fail_status = 503
    with raises_cognito("ExternalServiceException", "Facebook"):
        ci.get_id(IdentityPoolId=pool, Logins={FACEBOOK: fake.facebook_token(FB_APP, "10150000000000003")})
    fake.fail_status = 500
    token = fake.facebook_token(FB_APP, "10150000000000003")
    with raises_cognito("ExternalServiceException"):
        ci.get_id(IdentityPoolId=pool, Logins={FACEBOOK: token})
    fake.fail_status = None
    identity = ci.get_id(IdentityPoolId=pool, Logins={FACEBOOK: token})["IdentityId"]
    fake.fail_status = 502
    with raises_cognito("ExternalServiceException"):
        ci.get_credentials_for_identity(IdentityId=identity, Logins={FACEBOOK: token})
    with raises_cognito("ExternalServiceException"):
        ci.get_open_id_token(IdentityId=identity, Logins={FACEBOOK: token})


def test_amazon_logins(world, fake):
    ci = aws(world, "cognito-identity")
    pool = social_pool(ci)
    with_role(world, pool)
    token = fake.amazon_token(LWA_CLIENT, "amzn1.account.AF2EXAMPLE")
    identity, creds = credentials(ci, pool, {AMAZON: token})
    assert authorize(world, creds, "s3:GetObject", "arn:aws:s3:::b/k")["Decision"] == "Allow"
    assert ci.get_id(IdentityPoolId=pool, Logins={
        AMAZON: fake.amazon_token(LWA_CLIENT, "amzn1.account.AF2EXAMPLE")})["IdentityId"] == identity
    assert [s["query"]["access_token"] for s in fake.seen if s["path"] == "/amazon/auth/o2/tokeninfo"][0] \
        .startswith("Atza|"), "the token arrives intact, '|' and all"

    # A pool may name the app (amzn1.application...) instead of the security profile's client.
    by_app = social_pool(ci, **{AMAZON: "amzn1.application.fake"})
    assert ci.get_id(IdentityPoolId=by_app, Logins={AMAZON: token})["IdentityId"] != identity

    with raises_cognito("NotAuthorizedException", "Token is not from a supported provider of this identity pool."):
        ci.get_id(IdentityPoolId=pool, Logins={
            AMAZON: fake.amazon_token("amzn1.application-oa2-client.other", "u", app_id="amzn1.application.other")})
    with raises_cognito("NotAuthorizedException", "Invalid login token. Login with Amazon did not accept"):
        ci.get_id(IdentityPoolId=pool, Logins={AMAZON: "Atza|expired"})
    fake.fail_status = 503
    with raises_cognito("ExternalServiceException", "Login with Amazon"):
        ci.get_id(IdentityPoolId=pool, Logins={AMAZON: token})


def test_twitter_logins_are_signed_with_oauth_1(world, fake):
    ci = aws(world, "cognito-identity")
    consumer_secret = fake.twitter_consumer(TW_CONSUMER)
    pool = social_pool(ci, consumer_secret=consumer_secret)
    with_role(world, pool)
    token, secret = fake.twitter_token(TW_CONSUMER, "783214", "twitterdev")
    identity, creds = credentials(ci, pool, {TWITTER: f"{token};{secret}"})
    assert authorize(world, creds, "s3:GetObject", "arn:aws:s3:::b/k")["Decision"] == "Allow"
    seen = [s for s in fake.seen if s["path"] == "/twitter/1.1/account/verify_credentials.json"]
    assert seen[-1]["authorization"].startswith("OAuth ")
    assert seen[-1]["query"] == {"include_entities": "false", "skip_status": "true"}

    token2, secret2 = fake.twitter_token(TW_CONSUMER, "783214", "twitterdev")
    assert ci.get_id(IdentityPoolId=pool, Logins={TWITTER: f"{token2};{secret2}"})["IdentityId"] == identity

    def refused(login, message, pool=pool):
        with raises_cognito("NotAuthorizedException", message):
            ci.get_id(IdentityPoolId=pool, Logins={TWITTER: login})

    # A tampered token secret makes the signature wrong: Twitter refuses it.
    refused(f"{token};{secret}x", "Twitter did not accept the access token: Could not authenticate you.")
    refused(f"nope;{secret}", "Invalid or expired token.")
    refused(token, 'A Twitter login is "accessToken;accessTokenSecret".')
    # The pool's consumer secret is part of the signature too.
    wrong_secret = social_pool(ci, consumer_secret="not-the-secret")
    refused(f"{token};{secret}", "Could not authenticate you.", pool=wrong_secret)
    # A token another consumer (app) was issued.
    fake.twitter_consumer("otherConsumer")
    theirs, theirs_secret = fake.twitter_token("otherConsumer", "99", "someone")
    refused(f"{theirs};{theirs_secret}", "Invalid or expired token.")
    broken = social_pool(ci, **{TWITTER: "no-separator"})
    refused(f"{token};{secret}", "consumerKey;consumerSecret", pool=broken)
    fake.fail_status = 503
    with raises_cognito("ExternalServiceException", "Twitter"):
        ci.get_id(IdentityPoolId=pool, Logins={TWITTER: f"{token};{secret}"})


def test_one_identity_holds_several_social_logins(world, fake):
    ci = aws(world, "cognito-identity")
    pool = social_pool(ci, consumer_secret=fake.twitter_consumer(TW_CONSUMER))
    fb = fake.facebook_token(FB_APP, "10150000000000009")
    identity = ci.get_id(IdentityPoolId=pool, Logins={FACEBOOK: fb})["IdentityId"]
    tw_token, tw_secret = fake.twitter_token(TW_CONSUMER, "4242", "linked")
    both = {FACEBOOK: fb, TWITTER: f"{tw_token};{tw_secret}"}
    assert ci.get_id(IdentityPoolId=pool, Logins=both)["IdentityId"] == identity
    assert sorted(ci.describe_identity(IdentityId=identity)["Logins"]) == [TWITTER, FACEBOOK]
    assert ci.get_id(IdentityPoolId=pool, Logins={TWITTER: f"{tw_token};{tw_secret}"})["IdentityId"] == identity


def test_role_mapping_rules_on_facebook_claims(world, fake):
    ci, iam = aws(world, "cognito-identity"), aws(world, "iam")
    pool = social_pool(ci)
    admin_role = unique("fb-admins")
    admins = iam.create_role(RoleName=admin_role,
                             AssumeRolePolicyDocument=trust_policy(pool, "authenticated"))["Role"]["Arn"]
    iam.put_role_policy(RoleName=admin_role, PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    with_role(world, pool, RoleMappings={FACEBOOK: {
        "Type": "Rules", "AmbiguousRoleResolution": "AuthenticatedRole",
        "RulesConfiguration": {"Rules": [
            {"Claim": "sub", "MatchType": "Equals", "Value": "10150000000000042", "RoleARN": admins}]}}})
    _, admin = credentials(ci, pool, {FACEBOOK: fake.facebook_token(FB_APP, "10150000000000042")})
    assert authorize(world, admin, "s3:DeleteObject", "arn:aws:s3:::b/k")["Decision"] == "Allow"
    _, reader = credentials(ci, pool, {FACEBOOK: fake.facebook_token(FB_APP, "10150000000000043")})
    assert authorize(world, reader, "s3:GetObject", "arn:aws:s3:::b/k")["Decision"] == "Allow"
    assert authorize(world, reader, "s3:DeleteObject", "arn:aws:s3:::b/k")["Decision"] == "ImplicitDeny"


def test_clear_text_provider_urls_are_refused_in_production(tmp_path):
    config = tmp_path / "idpool.toml"
    config.write_text(social_apis_toml("http://graph.example"))
    done = subprocess.run(
        [str(idpool_bin()), "serve", "--config", str(config), "--data-dir", str(tmp_path / "data"),
         "--listen", "127.0.0.1:0", "--s3-listen", "off"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "clear text" in done.stderr and "facebook-graph-url" in done.stderr
