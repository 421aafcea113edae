"""Every operation of cognito-idp, cognito-identity, cognito-sync, STS and the IAM
subset, fuzzed from botocore's models.

A fixed seed keeps the run repeatable; `WIRE_FUZZ_ROUNDS` and `WIRE_FUZZ_SEED` make it
longer or different (`python tests/python/wire_fuzz.py ENDPOINT ROUNDS SEED` does the
same against a running server). What is judged is in wire_fuzz.py: no 5xx or dropped
connection, only declared errors, and successes botocore can parse. The debug build the
tests run also asserts, inside the server, that no operation answers an exception its
model does not declare, so such a slip shows up here as a dropped connection.
"""

from __future__ import annotations

import os

from wire_fuzz import Fuzzer


def test_fuzzed_requests_get_declared_errors_or_well_formed_answers(idp):
    rounds = int(os.environ.get("WIRE_FUZZ_ROUNDS", "4"))
    seed = int(os.environ.get("WIRE_FUZZ_SEED", "20261207"))
    fuzzer = Fuzzer(idp.endpoint, seed)
    findings = fuzzer.run(rounds)
    assert idp.alive(), "the server died while being fuzzed"
    assert "panicked" not in idp.log_since(0), "the server panicked while being fuzzed"
    assert not findings, f"{len(findings)} of {fuzzer.requests} requests:\n\n" + "\n\n".join(
        str(f) for f in findings[:15]
    )
