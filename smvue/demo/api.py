"""The demo as the SMVue app: every organisation, connection and meeting goes through the gateway's
HTTP API (CONTRACT.md, "Gateway HTTP API") with the bearer token, never into the store directly."""

from __future__ import annotations

import time
from datetime import date
from urllib.parse import urljoin

import requests

from smvue.demo.organisation import Manager, Rep
from smvue.errors import CliError

TIMEOUT = 30.0
# Deadlines that only detect a stuck stack: a busy machine takes several times the quiet figures.
WRITEBACK_SETTLE_SECONDS = 120.0


class GatewayClient:
    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.http = requests.Session()
        self.http.trust_env = False  # loopback: never through a proxy from the environment
        self.token = token

    def call(self, method: str, path: str, *, auth: bool = True, **kwargs) -> dict:
        headers = dict(kwargs.pop("headers", None) or {})
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            answer = self.http.request(method, self.url + path, headers=headers, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise CliError(f"{method} {path}: gateway unreachable ({type(exc).__name__})") from None
        if answer.status_code >= 400:
            raise CliError(f"{method} {path}: {answer.status_code} {_error_text(answer)}")
        return answer.json() if answer.content else {}

    # --- the roster (F9) ----------------------------------------------------------------------
    def put_manager(self, manager: Manager) -> dict:
        return self.call(
            "PUT", f"/v1/managers/{manager.manager_id}", json={"name": manager.name, "email": manager.email}
        )

    def put_team_member(self, manager: Manager, rep: Rep, today: date) -> dict:
        body = {
            "manager_id": manager.manager_id,
            "name": rep.name,
            "email": rep.email,
            "start_date": rep.start_date(today),
        }
        return self.call("PUT", f"/v1/team-members/{rep.rep_id}", json=body)

    # --- connecting a calendar (F1, F2) ---------------------------------------------------------
    def connect(self, manager: Manager) -> dict:
        """The browser's part of the OAuth round trip, hop by hop: the gateway's start redirects to
        the provider's consent screen (the emulator approves the login_hint user at once), which
        redirects to the gateway's callback with `code` and `state`; the callback's JSON is the
        new connection (its calendars, watches and the queued initial import)."""
        start = f"/oauth/{manager.provider}/start"
        authorize = self._redirect("GET", start, params={"manager_id": manager.manager_id})
        callback = self._follow(authorize, "the provider's authorize endpoint")
        answer = self._get_absolute(callback)
        if answer.status_code != 200:
            raise CliError(f"OAuth callback for {manager.email}: {answer.status_code} {_error_text(answer)}")
        return answer.json()

    def _redirect(self, method: str, path: str, **kwargs) -> str:
        answer = self.http.request(
            method,
            self.url + path,
            headers={"Authorization": f"Bearer {self.token}"},
            allow_redirects=False,
            timeout=TIMEOUT,
            **kwargs,
        )
        if answer.status_code != 302:
            raise CliError(f"{method} {path}: expected a 302, got {answer.status_code} {_error_text(answer)}")
        return urljoin(self.url + path, answer.headers["Location"])

    def _follow(self, url: str, what: str) -> str:
        answer = self._get_absolute(url)
        if answer.status_code != 302:
            raise CliError(f"{what}: expected a 302, got {answer.status_code} {_error_text(answer)}")
        return urljoin(url, answer.headers["Location"])

    def _get_absolute(self, url: str) -> requests.Response:
        try:
            return self.http.get(url, allow_redirects=False, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise CliError(f"GET {url.split('?')[0]}: unreachable ({type(exc).__name__})") from None

    # --- connections (F15) ----------------------------------------------------------------------
    def connections(self) -> list[dict]:
        return self.call("GET", "/v1/connections")["connections"]

    def sync_now(self, connection_id: str) -> dict:
        return self.call("POST", f"/v1/connections/{connection_id}/sync")

    def select_calendars(self, connection_id: str, calendar_ids: list[str]) -> dict:
        return self.call(
            "PUT", f"/v1/connections/{connection_id}/calendars", json={"calendar_ids": calendar_ids}
        )

    # --- meetings (F14) -------------------------------------------------------------------------
    def settled(self, meeting_id: str, timeout: float = WRITEBACK_SETTLE_SECONDS) -> dict:
        """The meeting once the gateway's write-back workers are done with its latest change."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.call("GET", f"/v1/meetings/{meeting_id}")
            if state["writeback"] != "pending":
                return state
            if time.monotonic() > deadline:
                raise CliError(f"meeting {meeting_id}: write-back still pending after {timeout:.0f} s")
            time.sleep(0.05)


def _error_text(answer: requests.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:200].replace("\n", " ")
    error = body.get("error") if isinstance(body, dict) else None
    return str(error if error is not None else body)[:200]
