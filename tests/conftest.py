"""Shared fixtures: a real emulator on loopback, and helpers to act as its users."""

from __future__ import annotations

import uuid

import pytest

from calendar_emulator.actors import EmulatorAdminClient
from calendar_emulator.server import EmulatorServer


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
    """Provider-first helpers for tests, over calendar_emulator.actors.EmulatorAdminClient."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.client = EmulatorAdminClient(base_url, timeout=30)
        self.http = self.client.http
        self._call = self.client.call

    def new_user(self, provider: str, name: str = "Test User") -> dict:
        email = f"{provider[:1]}-{uuid.uuid4().hex[:10]}@example.com"
        return self._call("POST", "users", json={"email": email, "provider": provider, "name": name})

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
        return self._call("POST", "notifications/wait", params={"timeout": timeout})
