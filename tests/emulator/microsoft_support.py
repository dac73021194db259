"""Helpers for the Graph conformance tests: a thin `requests` client and event bodies."""

from __future__ import annotations

import requests

from tests.waiting import scaled

WINDOW = {"startDateTime": "2030-01-01T00:00:00Z", "endDateTime": "2030-02-01T00:00:00Z"}
READ_WRITE = "https://graph.microsoft.com/Calendars.ReadWrite"


class Graph:
    """Calls /microsoft/v1.0 as one user, with optional default Prefer values."""

    def __init__(self, emulator_url: str, token: str, prefer: str | None = None) -> None:
        self.base = f"{emulator_url}/microsoft/v1.0"
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers["Authorization"] = f"Bearer {token}"
        if prefer:
            self.http.headers["Prefer"] = prefer

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base}/{path.lstrip('/')}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.http.request(method, self.url(path), timeout=scaled(30), **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def create(self, body: dict, path: str = "me/events", **kwargs) -> dict:
        response = self.post(path, json=body, **kwargs)
        assert response.status_code == 201, response.text
        return response.json()

    def delta_round(self, url: str, page_size: int | None = None, headers: dict | None = None):
        """Follow nextLinks to the deltaLink: (items, delta_link, pages)."""
        items, pages = [], []
        extra = dict(headers or {})
        if page_size:
            extra["Prefer"] = f"odata.maxpagesize={page_size}"
        while True:
            response = self.get(url, headers=extra)
            assert response.status_code == 200, response.text
            page = response.json()
            pages.append(page)
            items.extend(page["value"])
            if "@odata.deltaLink" in page:
                return items, page["@odata.deltaLink"], pages
            url = page["@odata.nextLink"]


def new_user(admin, emulator) -> tuple[dict, Graph]:
    user = admin.new_user("microsoft")
    return user, Graph(emulator.url, admin.token("microsoft", user["email"]))


def event(subject: str, start: str, end: str, zone: str = "UTC", **extra) -> dict:
    return {
        "subject": subject,
        "start": {"dateTime": start, "timeZone": zone},
        "end": {"dateTime": end, "timeZone": zone},
        **extra,
    }


def weekly(subject: str, start: str, end: str, days: list[str], count: int, **extra) -> dict:
    return event(
        subject,
        start,
        end,
        recurrence={
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": days},
            "range": {"type": "numbered", "startDate": start[:10], "numberOfOccurrences": count},
        },
        **extra,
    )


def graph_error(response: requests.Response, status: int, code: str | None = None) -> dict:
    """Assert a Graph-shaped error and return its body."""
    assert response.status_code == status, (response.status_code, response.text)
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "innerError"}
    if code is not None:
        assert error["code"] == code, error
    return error
