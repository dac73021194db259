"""Acting as a mailbox owner against the emulator: the admin API mints a token, then every change
goes through the provider's own API (google-api-python-client for Google, Graph over HTTP) — the
way a user's calendar app would make it. Used by the demo, the tests and the benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import requests


class EmulatorAdminClient:
    """The admin API of CONTRACT.md, for scripts."""

    def __init__(self, base_url: str, timeout: float = 60) -> None:
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url
        self.timeout = timeout
        self.http = requests.Session()
        self.http.trust_env = False

    def call(self, method: str, path: str, **kwargs) -> dict:
        response = self.http.request(method, f"{self.base_url}/_admin/{path}", timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            raise requests.HTTPError(
                f"emulator admin {method} {path}: {response.status_code} {response.text[:300]}",
                response=response,
            )
        return response.json()

    def create_user(
        self, email: str, provider: str, name: str = "Emulated User", email_verified: bool = True
    ) -> dict:
        body = {"email": email, "provider": provider, "name": name, "email_verified": email_verified}
        return self.call("POST", "users", json=body)

    def add_calendar(self, email: str, provider: str, name: str) -> str:
        return self.call("POST", "calendars", json={"email": email, "provider": provider, "name": name})[
            "calendar_id"
        ]

    def token(self, email: str, provider: str) -> str:
        return self.call("POST", "tokens", json={"email": email, "provider": provider})["access_token"]

    def seed(
        self, email: str, provider: str, events: list[dict], calendar_id: str | None = None
    ) -> list[str]:
        body = {"email": email, "provider": provider, "calendar_id": calendar_id, "events": events}
        return self.call("POST", "events", json=body)["ids"]

    def dump(self, email: str, provider: str) -> list[dict]:
        return self.call("GET", "events", params={"email": email, "provider": provider})["events"]

    def faults(self, plan: dict) -> dict:
        return self.call("POST", "faults", json=plan)

    def clear_faults(self) -> None:
        self.call("DELETE", "faults")

    def stats(self) -> dict:
        return self.call("GET", "stats")

    def reset_stats(self) -> None:
        self.call("DELETE", "stats")

    def secrets(self) -> dict:
        return self.call("GET", "secrets")

    def watches(self) -> dict:
        return self.call("GET", "watches")

    def revoke(self, email: str, provider: str) -> dict:
        return self.call("POST", "revoke", json={"email": email, "provider": provider})

    def wait_notifications(self, timeout: float = 10) -> dict:
        return self.call("POST", "notifications/wait", params={"timeout": timeout})


@dataclass
class GoogleActor:
    """A Google user editing their calendar with google-api-python-client."""

    base_url: str
    token: str

    def __post_init__(self) -> None:
        from google.oauth2.credentials import Credentials
        from googleapiclient.discovery import build

        self.service = build(
            "calendar",
            "v3",
            credentials=Credentials(self.token),
            client_options={"api_endpoint": f"{self.base_url.rstrip('/')}/google/calendar/v3/"},
            static_discovery=True,
            cache_discovery=False,
        )

    def insert(self, body: dict, calendar_id: str = "primary") -> dict:
        return self.service.events().insert(calendarId=calendar_id, body=body).execute()

    def patch(self, event_id: str, body: dict, calendar_id: str = "primary") -> dict:
        return self.service.events().patch(calendarId=calendar_id, eventId=event_id, body=body).execute()

    def delete(self, event_id: str, calendar_id: str = "primary") -> None:
        self.service.events().delete(calendarId=calendar_id, eventId=event_id).execute()

    def delete_calendar(self, calendar_id: str) -> None:
        """calendars.delete of a secondary calendar (its events go with it); HttpError on failure."""
        self.service.calendars().delete(calendarId=calendar_id).execute()

    def get(self, event_id: str, calendar_id: str = "primary") -> dict:
        return self.service.events().get(calendarId=calendar_id, eventId=event_id).execute()

    def instances(self, event_id: str, calendar_id: str = "primary") -> list[dict]:
        return (
            self.service.events()
            .instances(calendarId=calendar_id, eventId=event_id)
            .execute()
            .get("items", [])
        )

    def list(self, calendar_id: str = "primary", **params) -> list[dict]:
        items, token = [], None
        while True:
            page = self.service.events().list(calendarId=calendar_id, pageToken=token, **params).execute()
            items.extend(page.get("items", []))
            token = page.get("nextPageToken")
            if not token:
                return items


@dataclass
class GraphActor:
    """A Microsoft 365 user editing their calendar through Graph."""

    base_url: str
    token: str

    def __post_init__(self) -> None:
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers.update({"Authorization": f"Bearer {self.token}", "Prefer": 'IdType="ImmutableId"'})
        self.root = f"{self.base_url.rstrip('/')}/microsoft/v1.0/"

    def _call(self, method: str, path: str, **kwargs) -> dict:
        response = self.http.request(method, self.root + path, timeout=30, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"Graph {method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else {}

    def create(self, body: dict, calendar_id: str | None = None) -> dict:
        path = f"me/calendars/{quote(calendar_id, safe='')}/events" if calendar_id else "me/events"
        return self._call("POST", path, json=body)

    def patch(self, event_id: str, body: dict) -> dict:
        return self._call("PATCH", f"me/events/{quote(event_id, safe='')}", json=body)

    def delete(self, event_id: str) -> None:
        self._call("DELETE", f"me/events/{quote(event_id, safe='')}")

    def delete_calendar(self, calendar_id: str) -> None:
        """DELETE me/calendars/{id} of a secondary calendar (its events go with it)."""
        self._call("DELETE", f"me/calendars/{quote(calendar_id, safe='')}")

    def cancel(self, event_id: str, comment: str = "") -> None:
        self._call("POST", f"me/events/{quote(event_id, safe='')}/cancel", json={"comment": comment})

    def occurrences(self, series_id: str, start: datetime, end: datetime) -> list[dict]:
        """Occurrences of a series in [start, end), through calendarView."""
        items, url = [], (f"me/calendarView?startDateTime={_z(start)}&endDateTime={_z(end)}&$top=1000")
        while url:
            page = self._call("GET", url.removeprefix(self.root))
            items.extend(i for i in page.get("value", []) if i.get("seriesMasterId") == series_id)
            url = page.get("@odata.nextLink")
        return items


def _z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
