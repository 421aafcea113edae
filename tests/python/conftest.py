"""Fixtures for the out-of-process tests.

- `sqlite_server`   session-scoped `idpool serve --dev` on SQLite in a temp dir
- `postgres_server` session-scoped, on a fresh PostgreSQL database created from
                    IDPOOL_TEST_POSTGRES_URL (skipped without it, except in CI)
- `idpool`          the SQLite server, reset (POST /_idpool/reset) before the test
- `idp`             parametrized over both backends, reset before the test
- `start_idpool`    factory for extra servers (production mode, SMTP, ...),
                    stopped at the end of the test module that started them

When a test fails, the stderr that every running server wrote during the test
is attached to the report ("idpool stderr (...)" section).
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from idpool_testlib import (  # noqa: E402
    IdpoolServer,
    ScratchDatabase,
    ServerStartError,
    in_ci,
    live_servers,
    postgres_required,
    postgres_url,
)

# boto3/awscli must never pick up a developer's profile, or wait on IMDS.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ.pop("AWS_PROFILE", None)

BACKENDS = ["sqlite", "postgres"]

_skipped_postgres: list[str] = []
_ran_postgres: list[str] = []


# --------------------------------------------------------------------- hooks


def pytest_collection_modifyitems(config, items):
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "postgres" in callspec.params.values():
            item.add_marker(pytest.mark.postgres)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item._idpool_log_marks = {id(s): s.log_size() for s in live_servers()}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if item.get_closest_marker("postgres") is not None:
        if rep.skipped:
            _skipped_postgres.append(item.nodeid)
        elif rep.when == "call":
            _ran_postgres.append(item.nodeid)
    if rep.failed:
        marks = getattr(item, "_idpool_log_marks", {})
        for server in live_servers():
            text = server.log_since(marks.get(id(server), 0))
            if server.proc is not None and server.proc.poll() is not None:
                text += f"\n[idpool exited with status {server.proc.returncode}]"
            if text.strip():
                rep.sections.append((f"idpool stderr ({server.name}, {rep.when})", text))


def pytest_sessionfinish(session, exitstatus):
    if not postgres_required():
        return
    problem = None
    if _skipped_postgres:
        problem = (
            f"{len(_skipped_postgres)} PostgreSQL test(s) were skipped although "
            "PostgreSQL is required (CI=true or IDPOOL_TEST_POSTGRES_URL set): "
            + ", ".join(_skipped_postgres[:5])
        )
    elif in_ci() and session.testscollected and not _ran_postgres and not session.config.option.collectonly:
        problem = "no PostgreSQL test ran, but CI=true requires the PostgreSQL backend to be tested"
    if problem:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_sep("!", "postgres backend not tested", red=True)
            reporter.write_line(problem, red=True)
        else:
            print(problem, file=sys.stderr)
        if session.exitstatus == 0:
            session.exitstatus = 1


# --------------------------------------------------------------------- servers


def _start(server: IdpoolServer) -> IdpoolServer:
    try:
        return server.start()
    except ServerStartError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def sqlite_server(tmp_path_factory):
    server = _start(IdpoolServer("sqlite", tmp_path_factory.mktemp("idpool-sqlite")))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    url = postgres_url()
    if url is None:
        if postgres_required():
            pytest.fail(
                "IDPOOL_TEST_POSTGRES_URL is not set, but CI=true requires the PostgreSQL "
                "backend (e.g. postgres://postgres@127.0.0.1:5432/postgres)",
                pytrace=False,
            )
        pytest.skip("IDPOOL_TEST_POSTGRES_URL not set")
    try:
        db = ScratchDatabase(url).create()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    server = None
    try:
        server = _start(
            IdpoolServer("postgres", tmp_path_factory.mktemp("idpool-postgres"), database_url=db.url)
        )
        yield server
    finally:
        if server is not None:
            server.stop()
        db.drop()


@pytest.fixture
def idpool(sqlite_server):
    """The session's SQLite dev server, wiped before the test."""
    sqlite_server.ensure_alive()
    sqlite_server.reset()
    return sqlite_server


@pytest.fixture(params=BACKENDS)
def idp(request):
    """The session's dev server for each storage backend, wiped before the test."""
    server = request.getfixturevalue(f"{request.param}_server")
    server.ensure_alive()
    server.reset()
    return server


@pytest.fixture
def cognito(idpool):
    return idpool.client()


@pytest.fixture(scope="module")
def start_idpool(tmp_path_factory):
    """Factory: start_idpool(name, dev=..., extra_args=[...], env={...})."""
    started: list[IdpoolServer] = []

    def start(name: str, **kwargs) -> IdpoolServer:
        server = _start(IdpoolServer(name, tmp_path_factory.mktemp(f"idpool-{name}"), **kwargs))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
