"""Acting as a Google user against the emulator through google-api-python-client, with every API
response checked against the discovery document's schemas."""

from __future__ import annotations

from dataclasses import dataclass

import google.oauth2.credentials
import google_auth_httplib2
import httplib2
import pytest
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import HttpRequest

from tests.emulator import google_schema
from tests.waiting import scaled

VALIDATED: list[str] = []  # method ids whose responses were validated (a sanity check for the suite)


class ValidatingRequest(HttpRequest):
    """An HttpRequest whose successful results must fit the method's response schema."""

    def execute(self, http=None, num_retries=0):
        result = super().execute(http=http, num_retries=num_retries)
        schema = google_schema.response_schema(self.methodId)
        if schema is not None:
            google_schema.validate(result, schema)
            VALIDATED.append(self.methodId)
        return result


def calendar_service(base_url: str, token: str | None = None, credentials=None):
    credentials = credentials or google.oauth2.credentials.Credentials(token)
    # No proxy: the emulator is on loopback.
    http = google_auth_httplib2.AuthorizedHttp(
        credentials, http=httplib2.Http(proxy_info=None, timeout=scaled(30))
    )
    return build(
        "calendar",
        "v3",
        http=http,
        requestBuilder=ValidatingRequest,
        client_options={"api_endpoint": f"{base_url}/google/calendar/v3/"},
        static_discovery=True,
    )


@dataclass
class Mailbox:
    email: str
    token: str
    service: object

    @property
    def events(self):
        return self.service.events()  # type: ignore[attr-defined]


def new_mailbox(emulator, admin, name: str = "Test User") -> Mailbox:
    user = admin.new_user("google", name=name)
    token = admin.token("google", user["email"])
    return Mailbox(user["email"], token, calendar_service(emulator.url, token))


def http_error(call) -> HttpError:
    """The HttpError a request must raise (the test fails when it succeeds)."""
    with pytest.raises(HttpError) as caught:
        call.execute()
    return caught.value


def error_reason(exc: HttpError) -> str:
    """The first error reason of a Google error body (asserting its shape on the way)."""
    import json

    body = json.loads(exc.content)
    error = body["error"]
    assert error["code"] == exc.resp.status
    assert isinstance(error["message"], str) and error["errors"], body
    for item in error["errors"]:
        assert {"domain", "reason", "message"} <= set(item), item
    return error["errors"][0]["reason"]


def timed(start: str, end: str, tz: str | None = None, **extra) -> dict:
    """An event body with dateTime start/end."""
    start_field = {"dateTime": start, **({"timeZone": tz} if tz else {})}
    end_field = {"dateTime": end, **({"timeZone": tz} if tz else {})}
    return {"start": start_field, "end": end_field, **extra}


def list_all(events, **params) -> tuple[list[dict], str | None, int]:
    """Every item of a list query (following page tokens), the final sync token, and the page count."""
    items, pages, token = [], 0, None
    while True:
        page = events.list(pageToken=token, **params).execute()
        pages += 1
        items.extend(page.get("items", []))
        assert not ("nextPageToken" in page and "nextSyncToken" in page)
        token = page.get("nextPageToken")
        if not token:
            return items, page.get("nextSyncToken"), pages


GOOGLE_CLIENT = ("smvue-google-dev", "smvue-google-dev-secret")
REDIRECT_URI = "http://127.0.0.1:8799/oauth/google/callback"


def http_session():
    import requests

    session = requests.Session()
    session.trust_env = False  # loopback only, never through a proxy
    return session


def pkce_pair() -> tuple[str, str]:
    import base64
    import hashlib
    import secrets

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(base_url: str, email: str, scope: str, **overrides):
    """GET the authorize endpoint (no redirect following); returns (response, verifier)."""
    verifier, challenge = pkce_pair()
    params = {
        "client_id": GOOGLE_CLIENT[0],
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": scope,
        "state": "st-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "access_type": "offline",
        "prompt": "consent",
        "login_hint": email,
        **overrides,
    }
    params = {key: value for key, value in params.items() if value is not None}
    response = http_session().get(f"{base_url}/google/oauth2/v2/auth", params=params, allow_redirects=False)
    return response, verifier


def oauth_tokens(base_url: str, email: str, scope: str, access_type: str = "offline") -> dict:
    """The whole code flow with PKCE, as a web app does it; returns the token response."""
    from urllib.parse import parse_qs, urlsplit

    response, verifier = authorize(base_url, email, scope, access_type=access_type)
    assert response.status_code == 302, response.text
    code = parse_qs(urlsplit(response.headers["location"]).query)["code"][0]
    token = http_session().post(
        f"{base_url}/google/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": GOOGLE_CLIENT[0],
            "client_secret": GOOGLE_CLIENT[1],
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.text
    return token.json()
