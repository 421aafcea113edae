"""Threat protection (advanced security) acting on sign-ins, through boto3 against the
real server on both backends: risk levels recorded in the event history, the
account-takeover actions (block, adaptive MFA, notify), one-click feedback links from
the notification email, IP exceptions, and compromised-credentials detection."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import re

import requests

from idpool_testlib import App, raises_cognito

PW = "Correct-Horse-42"
HOME = "203.0.113.7"
HOME_NEIGHBOUR = "203.0.113.99"
ELSEWHERE = "198.51.100.20"
SMS = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms"}


def add_user(app: App, username: str, password: str = PW, phone: str | None = None) -> None:
    attrs = [{"Name": "email", "Value": f"{username}@example.com"}, {"Name": "email_verified", "Value": "true"}]
    if phone:
        attrs.append({"Name": "phone_number", "Value": phone})
    app.cognito.admin_create_user(
        UserPoolId=app.pool_id, Username=username, UserAttributes=attrs, MessageAction="SUPPRESS"
    )
    app.cognito.admin_set_user_password(UserPoolId=app.pool_id, Username=username, Password=password, Permanent=True)


def sign_in_from(
    app: App, username: str, ip: str, password: str = PW, user_agent: str | None = None, encoded: str | None = None
):
    """ADMIN_USER_PASSWORD_AUTH as a server reporting its user's address, and what it
    knows of the user's browser (User-Agent) and device (EncodedData)."""
    context = {"IpAddress": ip, "ServerName": "app.example.com", "ServerPath": "/login", "HttpHeaders": []}
    if user_agent:
        context["HttpHeaders"] = [{"headerName": "User-Agent", "headerValue": user_agent}]
    if encoded:
        context["EncodedData"] = encoded
    return app.cognito.admin_initiate_auth(
        UserPoolId=app.pool_id,
        ClientId=app.client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
        ContextData=context,
    )


def events(app: App, username: str) -> list[dict]:
    return app.cognito.admin_list_user_auth_events(UserPoolId=app.pool_id, Username=username, MaxResults=60)[
        "AuthEvents"
    ]


def enforced_app(c, actions: dict, **risk) -> App:
    app = App.create(
        c,
        pool_overrides={
            "UserPoolAddOns": {"AdvancedSecurityMode": "ENFORCED"},
            "MfaConfiguration": "OPTIONAL",
            "SmsConfiguration": SMS,
        },
    )
    notify = {
        "SourceArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com",
        "BlockEmail": {
            "Subject": "Blocked sign-in for {username}",
            "HtmlBody": "<p>blocked</p>",
            "TextBody": "Blocked {username} from {ip-address}. Not you? {one-click-link-invalid} Was you? {one-click-link-valid}",
        },
    }
    c.set_risk_configuration(
        UserPoolId=app.pool_id,
        AccountTakeoverRiskConfiguration={"NotifyConfiguration": notify, "Actions": actions},
        **risk,
    )
    return app


def test_audit_mode_scores_but_never_acts(idp):
    c = idp.client()
    app = App.create(c, pool_overrides={"UserPoolAddOns": {"AdvancedSecurityMode": "AUDIT"}})
    add_user(app, "ann")
    c.set_risk_configuration(
        UserPoolId=app.pool_id,
        AccountTakeoverRiskConfiguration={
            "Actions": {a: {"Notify": False, "EventAction": "BLOCK"} for a in ("LowAction", "MediumAction", "HighAction")}
        },
    )
    for ip in (HOME, HOME, HOME_NEIGHBOUR, ELSEWHERE):
        assert "AuthenticationResult" in sign_in_from(app, "ann", ip)
    got = events(app, "ann")[:4]
    assert [e["EventContextData"]["IpAddress"] for e in got] == [ELSEWHERE, HOME_NEIGHBOUR, HOME, HOME]
    assert all(e["EventResponse"] == "Pass" for e in got)
    # A new user, then a familiar address: no risk; the same network: low; elsewhere: medium.
    assert [e["EventRisk"]["RiskDecision"] for e in got] == ["AccountTakeover", "AccountTakeover", "NoRisk", "NoRisk"]
    assert [e["EventRisk"].get("RiskLevel") for e in got] == ["Medium", "Low", None, None]
    assert not any(e["EventRisk"]["CompromisedCredentialsDetected"] for e in got)


def test_enforced_block_notifies_and_feedback_link_trusts_the_place(idp):
    c = idp.client()
    app = enforced_app(
        c,
        {
            "LowAction": {"Notify": False, "EventAction": "NO_ACTION"},
            "MediumAction": {"Notify": True, "EventAction": "BLOCK"},
            "HighAction": {"Notify": True, "EventAction": "BLOCK"},
        },
    )
    add_user(app, "ann")
    sign_in_from(app, "ann", HOME)
    before = idp.outbox_count(app.pool_id, "ann")
    with raises_cognito("NotAuthorizedException", "Unable to login because of security reasons."):
        sign_in_from(app, "ann", ELSEWHERE)
    blocked = events(app, "ann")[0]
    assert blocked["EventResponse"] == "Fail"
    assert blocked["EventRisk"] == {
        "RiskDecision": "Block",
        "RiskLevel": "Medium",
        "CompromisedCredentialsDetected": False,
    }
    mails = idp.outbox(app.pool_id, "ann")
    assert len(mails) == before + 1
    mail = mails[-1]
    assert mail["subject"] == "Blocked sign-in for ann", mail
    assert f"Blocked ann from {ELSEWHERE}." in mail["message"]
    links = re.findall(r"https?://\S+", mail["message"])
    assert len(links) == 2, mail["message"]
    invalid, valid = links
    assert parse_qs(urlparse(valid).query)["event"] == [blocked["EventId"]]
    # Opening a link only asks for confirmation (mail scanners open links too) ...
    page = requests.get(valid, timeout=10)
    assert page.status_code == 200 and '<form method="post">' in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "EventFeedback" not in events(app, "ann")[0]
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page.text))
    assert fields == {k: v[0] for k, v in parse_qs(urlparse(valid).query).items()}
    # ... a tampered answer is refused, and the confirmed one is recorded.
    r = requests.post(valid.split("?")[0], data=dict(fields, token="x" + fields["token"]), timeout=10)
    assert r.status_code == 400
    r = requests.post(valid.split("?")[0], data=fields, timeout=10)
    assert r.status_code == 200 and "recorded" in r.text
    rated = events(app, "ann")[0]
    assert rated["EventFeedback"]["FeedbackValue"] == "Valid" and rated["EventFeedback"]["Provider"] == "User"
    # "That was me": the address is now familiar.
    assert "AuthenticationResult" in sign_in_from(app, "ann", ELSEWHERE)
    assert events(app, "ann")[0]["EventRisk"]["RiskDecision"] == "NoRisk"
    # The token of the link also works with UpdateAuthEventFeedback; "not me" makes that
    # network high risk from now on.
    token = parse_qs(urlparse(invalid).query)["token"][0]
    c.update_auth_event_feedback(
        UserPoolId=app.pool_id, Username="ann", EventId=blocked["EventId"], FeedbackToken=token, FeedbackValue="Invalid"
    )
    with raises_cognito("NotAuthorizedException", "security reasons"):
        sign_in_from(app, "ann", "198.51.100.77")
    assert events(app, "ann")[0]["EventRisk"]["RiskLevel"] == "High"


def test_adaptive_mfa_for_users_without_mfa(idp):
    c = idp.client()
    app = enforced_app(
        c,
        {
            "LowAction": {"Notify": False, "EventAction": "MFA_IF_CONFIGURED"},
            "MediumAction": {"Notify": False, "EventAction": "MFA_REQUIRED"},
            "HighAction": {"Notify": False, "EventAction": "BLOCK"},
        },
    )
    add_user(app, "ann", phone="+15555550100")
    add_user(app, "bob")
    for user in ("ann", "bob"):
        sign_in_from(app, user, HOME)
    # Low risk, a phone to text: an SMS challenge although ann never turned MFA on.
    before = idp.outbox_count(app.pool_id, "ann")
    challenge = sign_in_from(app, "ann", HOME_NEIGHBOUR)
    assert challenge["ChallengeName"] == "SMS_MFA", challenge
    code = idp.wait_for_message(app.pool_id, "ann", after=before)["code"]
    done = c.admin_respond_to_auth_challenge(
        UserPoolId=app.pool_id,
        ClientId=app.client_id,
        ChallengeName="SMS_MFA",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "ann", "SMS_MFA_CODE": code},
        ContextData={"IpAddress": HOME_NEIGHBOUR, "ServerName": "s", "ServerPath": "/", "HttpHeaders": []},
    )
    assert "AuthenticationResult" in done
    ev = events(app, "ann")[0]
    assert ev["EventResponse"] == "Pass" and ev["EventRisk"]["RiskLevel"] == "Low", ev
    assert ev["ChallengeResponses"] == [
        {"ChallengeName": "Password", "ChallengeResponse": "Success"},
        {"ChallengeName": "Mfa", "ChallengeResponse": "Success"},
    ]
    # Low risk, nothing to send a code to: MFA_IF_CONFIGURED lets bob in.
    assert "AuthenticationResult" in sign_in_from(app, "bob", HOME_NEIGHBOUR)
    # Medium risk, MFA_REQUIRED: bob cannot receive a factor (this pool offers SMS only).
    with raises_cognito("NotAuthorizedException", "security reasons"):
        sign_in_from(app, "bob", ELSEWHERE)
    assert events(app, "bob")[0]["EventResponse"] == "Fail"


def test_passwordless_sign_in_is_assessed_once_its_code_is_right(idp):
    """A one-time code is a whole first factor: ENFORCED blocks a risky passwordless
    sign-in after the code, and lets an MFA action through (passwordless users have no
    MFA), notifying the user."""
    c = idp.client()
    app = App.create(
        c,
        pool_overrides={
            "UserPoolAddOns": {"AdvancedSecurityMode": "ENFORCED"},
            "Policies": {"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "EMAIL_OTP"]}},
        },
        client_overrides={"ExplicitAuthFlows": ["ALLOW_USER_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]},
    )

    def actions(medium: dict) -> None:
        c.set_risk_configuration(
            UserPoolId=app.pool_id,
            AccountTakeoverRiskConfiguration={
                "NotifyConfiguration": {"SourceArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com"},
                "Actions": {
                    "LowAction": {"Notify": False, "EventAction": "NO_ACTION"},
                    "MediumAction": medium,
                    "HighAction": {"Notify": False, "EventAction": "BLOCK"},
                }
            },
        )

    def email_otp_from(ip: str) -> dict:
        context = {"IpAddress": ip, "ServerName": "app.example.com", "ServerPath": "/login", "HttpHeaders": []}
        before = idp.outbox_count(app.pool_id, "ann")
        otp = c.admin_initiate_auth(
            UserPoolId=app.pool_id,
            ClientId=app.client_id,
            AuthFlow="USER_AUTH",
            AuthParameters={"USERNAME": "ann", "PREFERRED_CHALLENGE": "EMAIL_OTP"},
            ContextData=context,
        )
        assert otp["ChallengeName"] == "EMAIL_OTP"
        code = idp.wait_for_message(app.pool_id, "ann", after=before)["code"]
        return c.admin_respond_to_auth_challenge(
            UserPoolId=app.pool_id,
            ClientId=app.client_id,
            ChallengeName="EMAIL_OTP",
            Session=otp["Session"],
            ChallengeResponses={"USERNAME": "ann", "EMAIL_OTP_CODE": code},
            ContextData=context,
        )

    actions({"Notify": False, "EventAction": "BLOCK"})
    add_user(app, "ann")
    assert "AuthenticationResult" in email_otp_from(HOME)
    assert events(app, "ann")[0]["EventRisk"]["RiskDecision"] == "NoRisk"
    # The code is listed as what it is, not as a password.
    assert events(app, "ann")[0]["ChallengeResponses"] == [{"ChallengeName": "Mfa", "ChallengeResponse": "Success"}]
    with raises_cognito("NotAuthorizedException", "Unable to login because of security reasons."):
        email_otp_from(ELSEWHERE)
    blocked = events(app, "ann")[0]
    assert (blocked["EventResponse"], blocked["EventRisk"]["RiskDecision"]) == ("Fail", "Block")
    assert blocked["EventContextData"]["IpAddress"] == ELSEWHERE

    actions({"Notify": True, "EventAction": "MFA_REQUIRED"})
    mails_before = len([m for m in idp.outbox(app.pool_id, "ann") if m.get("subject") == "New sign-in attempt"])
    assert "AuthenticationResult" in email_otp_from("192.0.2.9")
    latest = events(app, "ann")[0]
    assert (latest["EventResponse"], latest["EventRisk"]["RiskLevel"]) == ("Pass", "Medium")
    notices = [m for m in idp.outbox(app.pool_id, "ann") if m.get("subject") == "New sign-in attempt"]
    assert len(notices) == mails_before + 1
    assert "192.0.2.9" in notices[-1]["message"]


def test_ip_exceptions_and_reported_addresses(idp):
    c = idp.client()
    app = enforced_app(
        c,
        {a: {"Notify": False, "EventAction": "BLOCK"} for a in ("LowAction", "MediumAction", "HighAction")},
        RiskExceptionConfiguration={"BlockedIPRangeList": ["192.0.2.0/24"], "SkippedIPRangeList": ["198.51.100.0/24"]},
    )
    add_user(app, "ann")
    sign_in_from(app, "ann", HOME)
    with raises_cognito("NotAuthorizedException", "security reasons"):
        sign_in_from(app, "ann", "192.0.2.10")
    assert "AuthenticationResult" in sign_in_from(app, "ann", ELSEWHERE)
    assert events(app, "ann")[0]["EventRisk"]["RiskDecision"] == "NoRisk"
    with raises_cognito("InvalidParameterException", "CIDR"):
        c.set_risk_configuration(
            UserPoolId=app.pool_id, RiskExceptionConfiguration={"BlockedIPRangeList": ["10.0.0.0/33"]}
        )
    # A public client's reported address counts only with EnablePropagateAdditionalUserContextData.
    def public_sign_in(client_id: str):
        return c.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "ann", "PASSWORD": PW},
            UserContextData={"IpAddress": "192.0.2.10"},
        )

    # SetRiskConfiguration replaces the whole configuration.
    c.set_risk_configuration(
        UserPoolId=app.pool_id,
        AccountTakeoverRiskConfiguration={
            "Actions": {"MediumAction": {"Notify": False, "EventAction": "BLOCK"}},
        },
        RiskExceptionConfiguration={"BlockedIPRangeList": ["192.0.2.0/24"]},
    )
    plain = c.create_user_pool_client(
        UserPoolId=app.pool_id, ClientName="plain", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    propagating = c.create_user_pool_client(
        UserPoolId=app.pool_id,
        ClientName="propagating",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
        EnablePropagateAdditionalUserContextData=True,
    )["UserPoolClient"]["ClientId"]
    # The plain client is judged by its own (loopback) address: new, so blocked as
    # medium risk, not because of the claimed range.
    with raises_cognito("NotAuthorizedException"):
        public_sign_in(plain)
    assert events(app, "ann")[0]["EventContextData"]["IpAddress"] == "127.0.0.1"
    with raises_cognito("NotAuthorizedException"):
        public_sign_in(propagating)
    assert events(app, "ann")[0]["EventContextData"]["IpAddress"] == "192.0.2.10"


def test_compromised_credentials(idp):
    c = idp.client()
    app = App.create(c, pool_overrides={"UserPoolAddOns": {"AdvancedSecurityMode": "ENFORCED"}})
    add_user(app, "ann", password="Password123!")
    c.set_risk_configuration(
        UserPoolId=app.pool_id,
        CompromisedCredentialsRiskConfiguration={"EventFilter": ["SIGN_UP"], "Actions": {"EventAction": "BLOCK"}},
    )
    # Sign-in is not in the filter: not checked.
    assert "AuthenticationResult" in sign_in_from(app, "ann", HOME, password="Password123!")
    assert events(app, "ann")[0]["EventRisk"]["CompromisedCredentialsDetected"] is False
    with raises_cognito("InvalidPasswordException", "data breach"):
        app.sign_up("bob", "Password1!", "bob@example.com")
    app.sign_up("bob", PW, "bob@example.com")

    c.set_risk_configuration(
        UserPoolId=app.pool_id,
        CompromisedCredentialsRiskConfiguration={"Actions": {"EventAction": "BLOCK"}},
    )
    with raises_cognito("PasswordResetRequiredException"):
        sign_in_from(app, "ann", HOME, password="Password123!")
    assert c.admin_get_user(UserPoolId=app.pool_id, Username="ann")["UserStatus"] == "RESET_REQUIRED"
    assert events(app, "ann")[0]["EventRisk"] == {"RiskDecision": "Block", "CompromisedCredentialsDetected": True}
    app.forgot_password("ann")
    code = idp.latest_code(app.pool_id, "ann")
    with raises_cognito("InvalidPasswordException", "data breach"):
        app.confirm_forgot_password("ann", code, "P@ssw0rd1")
    app.confirm_forgot_password("ann", code, PW)
    assert "AuthenticationResult" in sign_in_from(app, "ann", HOME)


def test_breached_password_list_file_and_trusted_proxies(start_idpool, tmp_path):
    import hashlib

    leaked = ["Leaked-Secret-1", "Another-Leak-22", "Third-Leak-333"]
    hashes = sorted(hashlib.sha1(p.encode()).hexdigest().upper() for p in leaked)
    hashes += ["F" * 40]
    listing = tmp_path / "pwned.txt"
    listing.write_text("".join(f"{h}:{i + 7}\r\n" for i, h in enumerate(sorted(hashes))))
    server = start_idpool(
        "breached",
        extra_args=["--breached-passwords", str(listing), "--trusted-proxies", "127.0.0.0/8, 10.0.0.0/8"],
    )
    c = server.client()
    app = App.create(c, pool_overrides={"UserPoolAddOns": {"AdvancedSecurityMode": "ENFORCED"}})
    c.set_risk_configuration(
        UserPoolId=app.pool_id,
        CompromisedCredentialsRiskConfiguration={"Actions": {"EventAction": "BLOCK"}},
    )
    for i, password in enumerate(leaked):
        with raises_cognito("InvalidPasswordException", "data breach"):
            app.sign_up(f"user{i}", password, f"user{i}@example.com")
    app.sign_up("fine", PW, "fine@example.com")

    # Behind trusted proxies, the user is the nearest X-Forwarded-For hop that is not a
    # proxy; what the client itself put further left is ignored.
    add_user(app, "ann")

    def initiate(forwarded: str) -> requests.Response:
        return requests.post(
            server.endpoint,
            headers={
                "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
                "Content-Type": "application/x-amz-json-1.1",
                "X-Forwarded-For": forwarded,
            },
            json={
                "ClientId": app.client_id,
                "AuthFlow": "USER_PASSWORD_AUTH",
                "AuthParameters": {"USERNAME": "ann", "PASSWORD": PW},
            },
            timeout=10,
        )

    assert initiate("192.0.2.1, 203.0.113.7, 10.1.2.3").status_code == 200
    assert initiate("garbage").status_code == 200
    got = [e["EventContextData"]["IpAddress"] for e in events(app, "ann")[:2]]
    assert got == ["127.0.0.1", "203.0.113.7"]


def test_places_and_devices_with_a_geoip_database(start_idpool, tmp_path):
    """With --geoip-database, events name the city and country of each sign-in and the
    device its browser reports; a new address in a city the user signed in from is low
    risk, and the notification email names the place and device."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City", languages=["en"])
    place = lambda city, country: {"city": {"names": {"en": city}}, "country": {"names": {"en": country}}}
    writer.insert_network(IPSet(["203.0.113.0/24"]), place("Lyon", "France"))
    writer.insert_network(IPSet(["198.51.100.0/24"]), place("Lyon", "France"))
    writer.insert_network(IPSet(["192.0.2.0/24"]), place("Osaka", "Japan"))
    database = tmp_path / "cities.mmdb"
    writer.to_db_file(str(database))
    server = start_idpool("geoip", extra_args=["--geoip-database", str(database)])
    c = server.client()
    app = enforced_app(
        c,
        {
            "LowAction": {"Notify": True, "EventAction": "NO_ACTION"},
            "MediumAction": {"Notify": True, "EventAction": "BLOCK"},
            "HighAction": {"Notify": True, "EventAction": "BLOCK"},
        },
    )
    add_user(app, "ann")
    firefox = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"

    def sign_in(ip: str):
        return sign_in_from(app, "ann", ip, user_agent=firefox)

    sign_in(HOME)
    first = events(app, "ann")[0]["EventContextData"]
    assert first == {"IpAddress": HOME, "City": "Lyon", "Country": "France", "DeviceName": "Firefox 127, Linux"}
    # Another network of the same city: low risk, let in, the user told where and how.
    sign_in("198.51.100.20")
    latest = events(app, "ann")[0]
    assert latest["EventRisk"]["RiskLevel"] == "Low" and latest["EventResponse"] == "Pass"
    notice = server.outbox(app.pool_id, "ann")[-1]["message"]
    assert "Location: Lyon, France" in notice and "Device: Firefox 127, Linux" in notice
    # Another city: medium, blocked.
    with raises_cognito("NotAuthorizedException", "Unable to login because of security reasons."):
        sign_in("192.0.2.30")
    blocked = events(app, "ann")[0]
    assert blocked["EventContextData"]["City"] == "Osaka" and blocked["EventRisk"]["RiskLevel"] == "Medium"
    # An address the database does not know has no place, only its address.
    c.admin_update_auth_event_feedback(
        UserPoolId=app.pool_id, Username="ann", EventId=blocked["EventId"], FeedbackValue="Valid"
    )
    with raises_cognito("NotAuthorizedException", "Unable to login because of security reasons."):
        sign_in("100.64.0.1")
    assert "City" not in events(app, "ann")[0]["EventContextData"]


def encoded_context(context: dict, username: str, client_id: str, pool_id: str, version: str = "JS20171115") -> str:
    """UserContextData.EncodedData as Cognito's advanced-security libraries build it: the
    payload signed with HMAC-SHA256 keyed by the app client id, wrapped in base64 JSON."""
    import base64
    import hashlib
    import hmac
    import json
    import time

    payload = json.dumps(
        {
            "contextData": context,
            "username": username,
            "userPoolId": pool_id,
            "timestamp": str(int(time.time() * 1000)),
        }
    )
    signature = base64.b64encode(
        hmac.new(client_id.encode(), (version + payload).encode(), hashlib.sha256).digest()
    ).decode()
    envelope = {"payload": payload, "signature": signature, "version": version}
    return base64.b64encode(json.dumps(envelope).encode()).decode()


def test_encoded_context_data_names_the_devices_time_zone(idp):
    """The time zone and name a device reports in EncodedData reach the event history,
    from public and admin sign-ins; data signed for another client or pool, or not data
    at all, is ignored and the sign-in still succeeds."""
    c = idp.client()
    app = App.create(c, pool_overrides={"UserPoolAddOns": {"AdvancedSecurityMode": "AUDIT"}})
    add_user(app, "ann")
    browser = {
        "ClientTimezone": "+09:00",
        "UserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        "Platform": "MacIntel",
    }
    app.cognito.initiate_auth(
        ClientId=app.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "ann", "PASSWORD": PW},
        UserContextData={"EncodedData": encoded_context(browser, "ann", app.client_id, app.pool_id)},
    )
    context = events(app, "ann")[0]["EventContextData"]
    assert context["Timezone"] == "+09:00"
    assert context["DeviceName"].startswith("Safari 17"), context

    # A phone's SDK names the device itself; the server's own User-Agent says nothing.
    phone = {"ClientTimezone": "-03:30", "DeviceName": "Pixel 8", "Platform": "ANDROID"}
    sign_in_from(app, "ann", HOME, encoded=encoded_context(phone, "ann", app.client_id, app.pool_id, "ANDROID20171114"))
    context = events(app, "ann")[0]["EventContextData"]
    assert context == {"IpAddress": HOME, "DeviceName": "Pixel 8", "Timezone": "-03:30"}

    other_pool = App.create(c)
    for forged in [
        encoded_context(phone, "ann", other_pool.client_id, app.pool_id),
        encoded_context(phone, "ann", app.client_id, other_pool.pool_id),
        "bm90IGpzb24=",
        "%%%",
    ]:
        app.cognito.initiate_auth(
            ClientId=app.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "ann", "PASSWORD": PW},
            UserContextData={"EncodedData": forged},
        )
        context = events(app, "ann")[0]["EventContextData"]
        assert "Timezone" not in context and context.get("DeviceName") != "Pixel 8", context


def test_a_device_fingerprint_seen_before_lowers_the_risk_of_a_new_network(idp):
    """The DeviceFingerprint of EncodedData: a device the user signed in from before is
    low risk from a new network, another device medium; the history keeps only a hash,
    and Cognito's event shape never shows it."""
    import json

    c = idp.client()
    app = App.create(c, pool_overrides={"UserPoolAddOns": {"AdvancedSecurityMode": "AUDIT"}})
    add_user(app, "ann")

    def sign_in(ip: str, fingerprint: str):
        data = encoded_context({"DeviceFingerprint": fingerprint, "ClientTimezone": "+01:00"}, "ann", app.client_id, app.pool_id)
        sign_in_from(app, "ann", ip, encoded=data)
        return events(app, "ann")[0]

    laptop = "Mozilla/5.0:1920x1080:24:Europe/Paris:laptop-7f3a"
    sign_in(HOME, laptop)
    assert sign_in(ELSEWHERE, laptop)["EventRisk"]["RiskLevel"] == "Low"
    assert sign_in("192.0.2.44", "a stranger's phone")["EventRisk"]["RiskLevel"] == "Medium"
    listed = json.dumps(c.admin_list_user_auth_events(UserPoolId=app.pool_id, Username="ann"), default=str)
    assert laptop not in listed and "idpoolDeviceHash" not in listed


def test_the_hosted_sign_in_page_reports_the_browsers_time_zone_and_device(start_idpool):
    """The hosted pages run no advanced-security script: the sign-in page's own script
    posts the browser's UTC offset, and a device cookie tells the same browser again,
    so a hosted sign-in from a new network on a known browser is low risk."""
    from test_oauth import PASSWORD as HOSTED_PASSWORD
    from test_oauth import Browser, OAuthApp, callback_params

    server = start_idpool("hosted-devices", extra_args=["--trusted-proxies", "127.0.0.0/8"])
    app = OAuthApp(server, pool_overrides={"UserPoolAddOns": {"AdvancedSecurityMode": "AUDIT"}})
    username = app.user()

    def hosted_sign_in(browser: Browser, ip: str, tz: str) -> dict:
        browser.http.headers["X-Forwarded-For"] = ip
        url, _ = app.rp().create_authorization_url(app.discovery["authorization_endpoint"], prompt="login")
        assert browser.get(url).status_code == 200
        callback_params(browser.submit("/login", username=username, password=HOSTED_PASSWORD, tz=tz))
        return events(app, username)[0]

    laptop = Browser()
    first = hosted_sign_in(laptop, HOME, "+09:00")
    assert first["EventContextData"]["Timezone"] == "+09:00"
    assert first["EventContextData"]["IpAddress"] == HOME
    device = next(c for c in laptop.http.cookies if c.name == "idpool-device")
    assert device.has_nonstandard_attr("HttpOnly") and len(device.value) >= 22
    assert hosted_sign_in(laptop, ELSEWHERE, "+09:00")["EventRisk"]["RiskLevel"] == "Low"
    stranger = hosted_sign_in(Browser(), "192.0.2.44", "Asia/Tokyo")
    assert stranger["EventRisk"]["RiskLevel"] == "Medium"
    assert "Timezone" not in stranger["EventContextData"], "only ±hh:mm offsets are kept"
