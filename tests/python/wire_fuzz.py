"""Model-driven fuzzing of idpool's services: cognito-idp and cognito-identity (AWS
JSON), cognito-sync (REST JSON), STS and idpool's IAM subset (Query).

Every request is built from botocore's own service model: the operation's input
shape, filled with values that are sometimes valid, sometimes at or past the
model's limits, sometimes of the wrong JSON type, and often the ids of real
objects (a pool, a client, a signed-in user, a group, an identity pool, and what
earlier answers named) so that the handlers run past their first lookup. botocore's
own serializer lays out the REST and Query requests. Each answer is judged as an SDK
would see it:

* the connection must answer (no panic, no dropped connection) with a status below
  500;
* an error must carry a code the operation's model declares, or one of the errors
  every operation of its protocol may return (validation, serialization, throttling);
* a success must have the output shape's members and types (JSON services), or be
  readable by botocore's own parser (the others).

`python wire_fuzz.py ENDPOINT [ROUNDS] [SEED] [OP,OP...]` fuzzes a running
`idpool serve --dev` (WIRE_FUZZ_STATS=1 prints what each operation answered);
`test_wire_fuzz.py` runs a fixed-seed share of it on both backends.
"""

from __future__ import annotations

import json
import os
import random
import sys
import urllib.parse
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import botocore.parsers
import botocore.serialize
import botocore.session
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REGION = "us-east-1"

# Errors any operation of an AWS JSON 1.1 service may answer, declared or not: the
# service framework's own (botocore knows them without a model entry).
FRAMEWORK_ERRORS = {
    "SerializationException",
    "ValidationException",
    "UnknownOperationException",
    "InternalFailure",  # never expected: a 500 fails before this is looked at
    "ThrottlingException",
    "RequestEntityTooLargeException",
    # idpool's answer for an operation of the model it does not implement yet
    # (docs/operations.md lists them).
    "NotImplementedException",
}

# Strings that have broken servers before: empty, control characters, NUL (which
# PostgreSQL text refuses), surrogate-free astral characters, SQL and LIKE
# metacharacters, path tricks, a long run, and JSON-looking text.
AWKWARD_STRINGS = [
    "",
    " ",
    "a",
    "\u0000",
    "x\u0000y",
    "\t\n\r",
    "%",
    "_",
    "\\",
    "'",
    "' OR '1'='1",
    '"; DROP TABLE users; --',
    "../../etc/passwd",
    "😀" * 3,
    "Ω≈ç√",
    "a" * 2049,
    "{}",
    "[]",
    "null",
    "-1",
    "9" * 40,
    "us-east-1_",
    "us-east-1:00000000-0000-0000-0000-000000000000",
    "arn:aws:iam::123456789012:role/x",
    "https://example.com/cb",
    "email",
    "custom:x",
    "cognito:user_status",
]


# The IAM subset idpool serves (iam/mod.rs ACTIONS); the rest of IAM is InvalidAction.
IAM_ACTIONS = [
    "CreateRole", "GetRole", "ListRoles", "DeleteRole", "UpdateAssumeRolePolicy", "TagRole", "UntagRole",
    "ListRoleTags", "PutRolePolicy", "GetRolePolicy", "DeleteRolePolicy", "ListRolePolicies", "CreatePolicy",
    "GetPolicy", "GetPolicyVersion", "DeletePolicy", "AttachRolePolicy", "DetachRolePolicy",
    "ListAttachedRolePolicies", "CreateOpenIDConnectProvider", "GetOpenIDConnectProvider",
    "ListOpenIDConnectProviders", "DeleteOpenIDConnectProvider", "AddClientIDToOpenIDConnectProvider",
    "RemoveClientIDFromOpenIDConnectProvider", "UpdateOpenIDConnectProviderThumbprint", "CreateSAMLProvider",
    "GetSAMLProvider", "ListSAMLProviders", "UpdateSAMLProvider", "DeleteSAMLProvider",
]

# Response members whose values are worth sending back in later requests.
HARVESTED = {
    "ClientId",
    "GroupName",
    "IdentityId",
    "IdentityPoolId",
    "Identifier",
    "JobId",
    "ProviderName",
    "Session",
    "DeviceKey",
    "ManagedLoginBrandingId",
    "TermsId",
    "SecretId",
    "EventId",
    "DeveloperUserIdentifier",
    "Username",
    "AccessToken",
    "RefreshToken",
}


@dataclass
class Finding:
    service: str
    operation: str
    problem: str
    request: dict
    status: int | None = None
    body: str = ""

    def __str__(self) -> str:
        req = json.dumps(self.request, ensure_ascii=True)[:600]
        return (
            f"{self.service}.{self.operation}: {self.problem}\n"
            f"  request: {req}\n  status {self.status}: {self.body[:400]}"
        )


@dataclass
class Known:
    """Ids of real objects, so fuzzed requests reach past their first lookup."""

    values: dict[str, list] = field(default_factory=dict)

    def add(self, key: str, value) -> None:
        if value is not None:
            self.values.setdefault(key, []).append(value)

    def pick(self, rng: random.Random, member: str):
        for key, vals in self.values.items():
            if key == member and vals:
                return rng.choice(vals)
        return None


class JsonService:
    """One AWS JSON 1.1 service of idpool, its botocore model, and a SigV4 signer."""

    def __init__(self, endpoint: str, name: str, signing_name: str):
        self.endpoint = endpoint.rstrip("/")
        self.name = name
        self.model = botocore.session.get_session().get_service_model(name)
        self.signing_name = signing_name
        self.target_prefix = self.model.metadata["targetPrefix"]
        self.http = requests.Session()
        self.creds = Credentials("AKIDFUZZ", "fuzz-secret")

    def send(self, operation: str, body: bytes) -> requests.Response:
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"{self.target_prefix}.{operation}",
        }
        req = AWSRequest(method="POST", url=self.endpoint + "/", data=body, headers=headers)
        SigV4Auth(self.creds, self.signing_name, REGION).add_auth(req)
        prepared = req.prepare()
        return self.http.post(self.endpoint + "/", data=body, headers=dict(prepared.headers), timeout=60)


class Generator:
    def __init__(self, rng: random.Random, known: Known):
        self.rng = rng
        self.known = known

    def value(self, shape, member: str, depth: int = 0):
        rng = self.rng
        real = self.known.pick(rng, member)
        if real is not None and rng.random() < 0.75:
            return real
        if rng.random() < 0.04:
            return self.wrong_type(shape)
        kind = shape.type_name
        if kind == "structure":
            if depth > 4:
                return {}
            out = {}
            required = set(shape.required_members)
            for name, member_shape in shape.members.items():
                if name in required and rng.random() < 0.97 or rng.random() < 0.45:
                    out[name] = self.value(member_shape, name, depth + 1)
            return out
        if kind == "list":
            count = rng.choice([0, 1, 1, 2, 3])
            return [self.value(shape.member, member, depth + 1) for _ in range(count)]
        if kind == "map":
            count = rng.choice([0, 1, 2])
            return {
                str(self.value(shape.key, member, depth + 1)): self.value(shape.value, member, depth + 1)
                for _ in range(count)
            }
        if kind == "string":
            enum = shape.enum
            if enum and rng.random() < 0.85:
                return rng.choice(enum)
            return self.string(shape)
        if kind in ("integer", "long"):
            lo = shape.metadata.get("min", 0)
            hi = shape.metadata.get("max", 1000)
            return rng.choice([lo, hi, lo - 1, hi + 1, 0, 1, -1, 2**31, 2**63 - 1, rng.randint(lo, max(lo, hi))])
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "timestamp":
            return rng.choice([0, 1.5, 1_800_000_000, -1, 1e15])
        if kind == "blob":
            return rng.choice(["", "AAAA", "bm90IGJhc2U2NA==", "***"])
        if kind in ("double", "float"):
            return rng.choice([0.0, -1.0, 1e308, 3.25])
        if kind == "document":
            return rng.choice([{}, [], "x", 1, None, {"a": [1, {"b": None}]}])
        return None

    def string(self, shape) -> str:
        rng = self.rng
        lo = shape.metadata.get("min", 0)
        hi = shape.metadata.get("max", 64)
        choice = rng.random()
        if choice < 0.45:
            return rng.choice(AWKWARD_STRINGS)
        if choice < 0.65:
            return "x" * rng.choice([lo, min(hi, 4096), hi + 1 if hi < 100_000 else 5])
        if choice < 0.8:
            return str(uuid.UUID(int=rng.getrandbits(128)))
        return "".join(rng.choice("abcXYZ019-_.@+:/ ") for _ in range(rng.randint(1, 40)))

    def wrong_type(self, shape):
        kind = shape.type_name
        options = [1, -7, True, None, 1.5, "s", [], {}, [1, "a"], {"k": {"n": None}}]
        if kind == "string":
            options = [o for o in options if not isinstance(o, str)]
        if kind in ("structure", "map"):
            options = [o for o in options if not isinstance(o, dict)]
        if kind == "list":
            options = [o for o in options if not isinstance(o, list)]
        return self.rng.choice(options)


TYPE_CHECKS = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "timestamp": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "double": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "blob": lambda v: isinstance(v, str),
    "structure": lambda v: isinstance(v, dict),
    "list": lambda v: isinstance(v, list),
    "map": lambda v: isinstance(v, dict),
    "document": lambda v: True,
}


def output_problems(shape, value, path: str) -> list[str]:
    """Where a success body breaks its output shape, as botocore's parser would meet it."""
    if value is None or getattr(shape, "is_document_type", False):
        return []
    kind = shape.type_name
    if not TYPE_CHECKS.get(kind, lambda v: True)(value):
        return [f"{path} is {type(value).__name__}, the model says {kind}"]
    problems = []
    if kind == "structure":
        for name, member in value.items():
            if name not in shape.members:
                problems.append(f"{path}.{name} is not in {shape.name}")
            else:
                problems += output_problems(shape.members[name], member, f"{path}.{name}")
    elif kind == "list":
        for i, item in enumerate(value[:20]):
            problems += output_problems(shape.member, item, f"{path}[{i}]")
    elif kind == "map":
        for k, item in list(value.items())[:20]:
            problems += output_problems(shape.value, item, f"{path}.{k}")
    elif kind == "string" and shape.enum and value not in shape.enum:
        problems.append(f"{path} = {value!r} is outside the enum of {shape.name}")
    return problems


def judge(operation, response: requests.Response) -> str | None:
    status = response.status_code
    if status >= 500:
        return f"status {status}"
    try:
        body = response.json() if response.content.strip() else {}
    except ValueError:
        return "the body is not JSON"
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    if status >= 400:
        kind = str(body.get("__type", "")).split("#")[-1]
        if not kind:
            return "an error without __type"
        declared = {e.name for e in operation.error_shapes}
        if kind not in declared and kind not in FRAMEWORK_ERRORS:
            return f"{kind} is not an error {operation.name} declares"
        if not isinstance(body.get("message", body.get("Message", "")), str):
            return "the error message is not a string"
        return None
    if operation.output_shape is None:
        return None
    problems = output_problems(operation.output_shape, body, "")
    return "; ".join(problems[:3]) if problems else None


class ModelService:
    """A service of another protocol (cognito-sync's REST JSON, STS and IAM's Query),
    whose requests botocore's own serializer lays out from fuzzed parameters and whose
    answers botocore's own parser must be able to read."""

    def __init__(self, endpoint: str, name: str, operations: list[str] | None = None):
        session = botocore.session.get_session()
        self.endpoint = endpoint.rstrip("/")
        self.name = name
        self.model = session.get_service_model(name)
        self.protocol = self.model.metadata["protocol"]
        self.serializer = botocore.serialize.create_serializer(self.protocol, include_validation=False)
        self.parser = botocore.parsers.create_parser(self.protocol)
        self.operations = operations or list(self.model.operation_names)
        self.http = requests.Session()
        self.creds = Credentials("AKIDFUZZ", "fuzz-secret")

    def send(self, operation, params: dict) -> requests.Response:
        serialized = self.serializer.serialize_to_request(params, operation)
        url = self.endpoint + serialized["url_path"]
        if serialized["query_string"]:
            url += "?" + urllib.parse.urlencode(serialized["query_string"], doseq=True)
        body = serialized["body"]
        if isinstance(body, dict):
            body = urllib.parse.urlencode(body, doseq=True)
        if isinstance(body, str):
            body = body.encode()
        req = AWSRequest(method=serialized["method"], url=url, data=body, headers=dict(serialized["headers"]))
        if self.protocol == "query":
            req.headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
        SigV4Auth(self.creds, self.model.signing_name, REGION).add_auth(req)
        prepared = req.prepare()
        return self.http.request(prepared.method, prepared.url, data=body, headers=dict(prepared.headers), timeout=60)

    def judge(self, operation, response: requests.Response) -> str | None:
        if response.status_code >= 500:
            return f"status {response.status_code}"
        raw = {"status_code": response.status_code, "headers": dict(response.headers), "body": response.content}
        try:
            parsed = self.parser.parse(raw, operation.output_shape)
        except Exception as e:  # noqa: BLE001 - any failure to parse is the finding
            return f"botocore cannot parse the answer: {e!r}"
        if response.status_code >= 300:
            code = parsed.get("Error", {}).get("Code", "")
            declared = {e.metadata.get("error", {}).get("code", e.name) for e in operation.error_shapes}
            declared |= {e.name for e in operation.error_shapes}
            if not code:
                return "an error without a code"
            if code not in declared and code not in QUERY_AND_REST_ERRORS:
                return f"{code} is not an error {operation.name} declares"
        return None


# Errors of the Query and REST protocols any operation may answer.
QUERY_AND_REST_ERRORS = FRAMEWORK_ERRORS | {
    "InvalidAction",
    "MissingParameter",
    "ValidationError",
    "InvalidParameterValue",
    "InvalidParameterException",
    "MissingAuthenticationToken",
    "MalformedQueryString",
}


class Fuzzer:
    def __init__(self, endpoint: str, seed: int):
        self.endpoint = endpoint.rstrip("/")
        self.rng = random.Random(seed)
        self.idp = JsonService(endpoint, "cognito-idp", "cognito-idp")
        self.identity = JsonService(endpoint, "cognito-identity", "cognito-identity")
        self.known = Known()
        self.findings: list[Finding] = []
        self.requests = 0
        self.outcomes: dict[str, Counter] = defaultdict(Counter)

    @staticmethod
    def outcome(r: requests.Response) -> str:
        if r.status_code < 300:
            return "ok"
        try:
            return str(r.json().get("__type", "?")).split("#")[-1]
        except ValueError:
            return f"status {r.status_code}"

    def call(self, service: JsonService, operation: str, request: dict) -> dict:
        r = service.send(operation, json.dumps(request).encode())
        r.raise_for_status()
        return r.json()

    def seed_objects(self) -> None:
        """A pool with a client, a signed-in user and a group; an identity pool."""
        known = Known()
        pool = self.call(
            self.idp,
            "CreateUserPool",
            {"PoolName": f"fuzz-{uuid.uuid4().hex[:8]}", "AutoVerifiedAttributes": ["email"]},
        )["UserPool"]
        pool_id = pool["Id"]
        known.add("UserPoolId", pool_id)
        client = self.call(
            self.idp,
            "CreateUserPoolClient",
            {
                "UserPoolId": pool_id,
                "ClientName": "fuzz",
                "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_AUTH"],
                "AllowedOAuthFlowsUserPoolClient": True,
                "AllowedOAuthFlows": ["code"],
                "AllowedOAuthScopes": ["openid", "email"],
                "CallbackURLs": ["https://example.com/cb"],
            },
        )["UserPoolClient"]
        known.add("ClientId", client["ClientId"])
        username = f"fuzzer{self.rng.randint(0, 10**6)}"
        password = "Fuzz-Passw0rd!"
        self.call(
            self.idp,
            "AdminCreateUser",
            {
                "UserPoolId": pool_id,
                "Username": username,
                "MessageAction": "SUPPRESS",
                "UserAttributes": [
                    {"Name": "email", "Value": f"{username}@example.com"},
                    {"Name": "email_verified", "Value": "true"},
                ],
            },
        )
        self.call(
            self.idp,
            "AdminSetUserPassword",
            {"UserPoolId": pool_id, "Username": username, "Password": password, "Permanent": True},
        )
        known.add("Username", username)
        known.add("PreviousPassword", password)
        known.add("Password", password)
        auth = self.call(
            self.idp,
            "InitiateAuth",
            {
                "AuthFlow": "USER_PASSWORD_AUTH",
                "ClientId": client["ClientId"],
                "AuthParameters": {"USERNAME": username, "PASSWORD": password},
            },
        )["AuthenticationResult"]
        known.add("AccessToken", auth["AccessToken"])
        known.add("Token", auth["RefreshToken"])
        known.add("RefreshToken", auth["RefreshToken"])
        known.add("AuthParameters", {"USERNAME": username, "PASSWORD": password})
        known.add("AuthParameters", {"REFRESH_TOKEN": auth["RefreshToken"]})
        group = self.call(self.idp, "CreateGroup", {"UserPoolId": pool_id, "GroupName": "fuzzers"})
        known.add("GroupName", group["Group"]["GroupName"])
        known.add("Domain", f"fuzz-{uuid.uuid4().hex[:10]}")
        known.add("Identifier", "https://api.example.com")
        known.add("ProviderName", "Google")
        known.add("ProviderName", "COGNITO")
        known.add("ResourceArn", pool["Arn"])
        known.add("Filter", 'username ^= "fuzz"')
        known.add("Filter", 'email = "x@example.com"')
        known.add("AttributeName", "email")
        known.add("Name", "email")
        ipool = self.call(
            self.identity,
            "CreateIdentityPool",
            {
                "IdentityPoolName": "fuzz",
                "AllowUnauthenticatedIdentities": True,
                "DeveloperProviderName": "login.fuzz",
                "CognitoIdentityProviders": [
                    {"ProviderName": f"cognito-idp.{REGION}.amazonaws.com/{pool_id}", "ClientId": client["ClientId"]}
                ],
            },
        )
        known.add("IdentityPoolId", ipool["IdentityPoolId"])
        known.add("ResourceArn", f"arn:aws:cognito-identity:{REGION}:123456789012:identitypool/{ipool['IdentityPoolId']}")
        known.add("DeveloperProviderName", "login.fuzz")
        identity = self.call(self.identity, "GetId", {"IdentityPoolId": ipool["IdentityPoolId"]})
        known.add("IdentityId", identity["IdentityId"])
        known.add("IdentityIdsToDelete", [identity["IdentityId"]])
        self.known = known

    def fuzz_operation(self, service: JsonService, name: str, rounds: int) -> None:
        operation = service.model.operation_model(name)
        gen = Generator(self.rng, self.known)
        for _ in range(rounds):
            request = gen.value(operation.input_shape, "") if operation.input_shape else {}
            if self.rng.random() < 0.03:
                body = self.rng.choice([b"", b"{", b"[]", b"null", b'{"a":1}{', json.dumps(request).encode()[:-1]])
            else:
                body = json.dumps(request).encode()
            self.requests += 1
            try:
                r = service.send(name, body)
            except requests.RequestException as e:
                self.findings.append(Finding(service.name, name, f"no answer: {e}", request))
                return
            self.outcomes[f"{service.name}.{name}"][self.outcome(r)] += 1
            problem = judge(operation, r)
            if problem:
                self.findings.append(Finding(service.name, name, problem, request, r.status_code, r.text))
            elif r.status_code == 200:
                self.harvest(r.json() if r.content.strip() else {})

    def harvest(self, body, depth: int = 0) -> None:
        """Ids a success names become values for later requests, so operations chain."""
        if depth > 3:
            return
        items = body.items() if isinstance(body, dict) else enumerate(body) if isinstance(body, list) else []
        for key, value in items:
            if isinstance(value, str) and key in HARVESTED and len(self.known.values.get(key, [])) < 30:
                self.known.add(key, value)
            elif isinstance(value, (dict, list)):
                self.harvest(value, depth + 1)

    def fuzz_model_operation(self, service: ModelService, name: str, rounds: int) -> None:
        operation = service.model.operation_model(name)
        gen = Generator(self.rng, self.known)
        for _ in range(rounds):
            request = gen.value(operation.input_shape, "") if operation.input_shape else {}
            self.requests += 1
            try:
                r = service.send(operation, request)
            except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL):
                continue  # requests would not send it: nothing reached the server
            except requests.RequestException as e:
                self.findings.append(Finding(service.name, name, f"no answer: {e}", request))
                return
            except Exception:  # noqa: BLE001 - botocore could not lay out the request: not ours
                continue
            self.outcomes[f"{service.name}.{name}"][self.outcome(r)] += 1
            problem = service.judge(operation, r)
            if problem:
                self.findings.append(Finding(service.name, name, problem, request, r.status_code, r.text))

    def run(self, rounds: int, operations: list[str] | None = None) -> list[Finding]:
        work = [(self.idp, op) for op in self.idp.model.operation_names]
        work += [(self.identity, op) for op in self.identity.model.operation_names]
        if operations:
            work = [(s, op) for s, op in work if op in operations]
        others = [
            ModelService(self.endpoint, "cognito-sync"),
            ModelService(self.endpoint, "sts", ["AssumeRoleWithWebIdentity", "GetCallerIdentity"]),
            ModelService(self.endpoint, "iam", IAM_ACTIONS),
        ]
        work += [(s, op) for s in others for op in s.operations]
        if operations:
            work = [(s, op) for s, op in work if op in operations]
        self.rng.shuffle(work)
        for i, (service, name) in enumerate(work):
            if i % 10 == 0:
                self.seed_objects()
            if isinstance(service, ModelService):
                self.fuzz_model_operation(service, name, rounds)
            else:
                self.fuzz_operation(service, name, rounds)
        return self.findings


def main() -> int:
    endpoint = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    only = sys.argv[4].split(",") if len(sys.argv) > 4 else None
    fuzzer = Fuzzer(endpoint, seed)
    findings = fuzzer.run(rounds, only)
    for f in findings:
        print(f, end="\n\n")
    if os.environ.get("WIRE_FUZZ_STATS"):
        for op, counts in sorted(fuzzer.outcomes.items()):
            print(op, dict(counts.most_common()))
    print(f"{fuzzer.requests} requests, {len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
