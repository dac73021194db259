"""Shared fixtures: a real emulator on loopback, and helpers to act as its users; the suite's
time budgets (stretched by SMVUE_TEST_SLOWDOWN) and its check that no process outlives it."""

from __future__ import annotations

import uuid

import pytest

from calendar_emulator.server import EmulatorServer
from tests import dbt_manifest, processes
from tests.admin import AdminClient
from tests.waiting import SLOWDOWN, scaled

# The ini's `timeout` is the budget of a test that names none, on a quiet machine.
DEFAULT_TEST_BUDGET = 120.0


def pytest_configure(config: pytest.Config) -> None:
    processes.mark_session()
    # Before collection: test modules import Dagster's definitions, built from the dbt manifest.
    dbt_manifest.prepare()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Stretch every test's pytest-timeout budget by the same factor as its waits."""
    default = float(config.getini("timeout") or DEFAULT_TEST_BUDGET)
    for item in items:
        marker = item.get_closest_marker("timeout")
        budget = float(marker.args[0]) if marker is not None and marker.args else default
        item.add_marker(pytest.mark.timeout(scaled(budget)), append=False)


def pytest_report_header(config: pytest.Config) -> str:
    return f"SMVUE_TEST_SLOWDOWN={SLOWDOWN:g} (every deadline and test budget stretched by it)"


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any process it started is still alive (and stop those)."""
    left = processes.leftovers()
    if not left:
        return
    processes.kill([pid for pid, _ in left])
    lines = "\n".join(f"  pid {pid}: {argv}" for pid, argv in left)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = f"{len(left)} process(es) started by the tests outlived them (now killed):\n{lines}"
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line(message, red=True, bold=True)
    else:
        print(message)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL server for the session, started by the first test that needs it."""
    from tests.pg import throwaway_server

    with throwaway_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def opstore_backend(request, tmp_path):
    """Where the operational store lives: a SQLite file, or a fresh PostgreSQL database (a URL)."""
    if request.param == "sqlite":
        yield tmp_path / "operational.sqlite"
        return
    server = request.getfixturevalue("postgres_server")
    with server.database() as url:
        yield url


@pytest.fixture(scope="session")
def emulator():
    """One emulator for the session; tests keep apart by creating their own users."""
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def admin(emulator):
    """A small client of the emulator's admin API."""
    return EmulatorAdmin(emulator.url)


class EmulatorAdmin:
    """Provider-first helpers for tests, over calendar_emulator.actors.AdminClient."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.client = AdminClient(base_url)
        self.http = self.client.http
        self._call = self.client.call

    def new_user(self, provider: str, name: str = "Test User", email_verified: bool = True) -> dict:
        email = f"{provider[:1]}-{uuid.uuid4().hex[:10]}@example.com"
        body = {"email": email, "provider": provider, "name": name, "email_verified": email_verified}
        return self._call("POST", "users", json=body)

    def add_calendar(self, provider: str, email: str, name: str) -> str:
        body = {"email": email, "provider": provider, "name": name}
        return self._call("POST", "calendars", json=body)["calendar_id"]

    def token(self, provider: str, email: str) -> str:
        return self._call("POST", "tokens", json={"email": email, "provider": provider})["access_token"]

    def seed(
        self, provider: str, email: str, events: list[dict], calendar_id: str | None = None
    ) -> list[str]:
        body = {"email": email, "provider": provider, "calendar_id": calendar_id, "events": events}
        return self._call("POST", "events", json=body)["ids"]

    def dump(self, provider: str, email: str) -> list[dict]:
        return self._call("GET", "events", params={"email": email, "provider": provider})["events"]

    def faults(self, plan: dict) -> dict:
        return self._call("POST", "faults", json=plan)

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def stats(self) -> dict:
        return self._call("GET", "stats")

    def secrets(self) -> dict:
        return self._call("GET", "secrets")

    def watches(self) -> dict:
        return self._call("GET", "watches")

    def lifecycle(self, subscription_id: str, event: str) -> dict:
        return self._call(
            "POST", f"subscriptions/{subscription_id}/lifecycle", json={"lifecycleEvent": event}
        )

    def revoke(self, provider: str, email: str) -> dict:
        return self._call("POST", "revoke", json={"email": email, "provider": provider})

    def clock(self, **body) -> dict:
        return self._call("POST", "clock", json=body)

    def wait_notifications(self, timeout: float = 10) -> dict:
        return self.client.wait_notifications(timeout)
