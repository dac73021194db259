"""`GoogleCalendarClient`: Google Calendar v3 through google-api-python-client.

Requests go through one `_execute` that honours Retry-After (googleapiclient's own retries do
not), backs off with jitter otherwise, refreshes tokens through google-auth and persists them
the moment they change, and maps errors onto the provider-neutral ones.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from urllib.parse import urlencode

import google.auth.exceptions
import google_auth_httplib2
import httplib2
import orjson
import requests
from google.auth.transport.requests import Request as GoogleAuthRequest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.model import JsonModel
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from smvue_core.providers import oauth
from smvue_core.providers.base import (
    SMVUE_TAG,
    AuthResult,
    AuthStart,
    CalendarGone,
    CalendarInfo,
    CalendarProvider,
    CursorExpired,
    EventConflict,
    EventNotFound,
    MeetingSpec,
    ProviderError,
    ProviderEvent,
    ProviderName,
    ProviderSession,
    ProviderUnavailable,
    ReauthRequired,
    RequestStats,
    SyncPage,
    SyncWindow,
    WatchInfo,
    WatchRefused,
)
from smvue_core.providers.google.mapping import (
    EVENT_FIELDS,
    LIST_FIELDS,
    classify,
    event_id_for_meeting,
    to_provider_event,
)
from smvue_core.providers.retry import RetryPolicy
from smvue_core.settings import GOOGLE_AUTH_BASE, GOOGLE_REVOKE_URI, GOOGLE_TOKEN_URI

GOOGLE_USERINFO_URI = "https://openidconnect.googleapis.com/v1/userinfo"

# Narrowest scopes that cover reading calendars and events and writing SMVue's own events (F14).
GOOGLE_SCOPES = (
    "openid",
    "email",
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
    "https://www.googleapis.com/auth/calendar.events.owned",
)
RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
RETRYABLE_STATUS = {429, 500, 502, 503, 504}
PAGE_SIZE = 2500


class GoogleCalendarClient(BaseModel, CalendarProvider):
    """Google Calendar v3 and Google OAuth; endpoints configurable so tests use the emulator."""

    # Configuration, fixed once built; a misspelt setting is an error, not silently ignored.
    model_config = ConfigDict(frozen=True, extra="forbid")

    api_base: str = Field(description="Calendar API root, ending in /calendar/v3/")
    auth_base: str = Field(default=GOOGLE_AUTH_BASE, description="OAuth root: <base>v2/auth, token, revoke")
    client_id: str
    client_secret: str
    request_timeout_seconds: float = 30.0
    max_attempts: int = 6
    # Retry timing is configuration, not a private attribute: the Dagster resource that builds this
    # client carries only fields from definition to run.
    retry_base_seconds: float = Field(0.5, description="backoff base when no Retry-After is given")
    retry_cap_seconds: float = Field(30.0, description="longest backoff between two attempts")
    max_retry_after_seconds: float = Field(
        120.0, description="longest Retry-After sat through inside a run; beyond it the run reports"
    )
    page_size: int = Field(PAGE_SIZE, ge=1, le=2500, description="events.list maxResults")
    _retry: RetryPolicy | None = PrivateAttr(default=None)

    @property
    def provider(self) -> ProviderName:
        return "google"

    def with_retry(self, policy: RetryPolicy) -> GoogleCalendarClient:
        """Same client, another retry policy (tests inject a recording sleep)."""
        self._retry = policy
        return self

    @property
    def retry_policy(self) -> RetryPolicy:
        if self._retry is None:
            self._retry = RetryPolicy.timing(
                self.retry_base_seconds, self.retry_cap_seconds, self.max_retry_after_seconds
            )
        return self._retry

    @property
    def authorize_uri(self) -> str:
        return self.auth_base + "v2/auth"

    @property
    def token_uri(self) -> str:
        return GOOGLE_TOKEN_URI if self.auth_base == GOOGLE_AUTH_BASE else self.auth_base + "token"

    @property
    def revoke_uri(self) -> str:
        return GOOGLE_REVOKE_URI if self.auth_base == GOOGLE_AUTH_BASE else self.auth_base + "revoke"

    # --- connect -----------------------------------------------------------------------------
    def start_authorization(self, redirect_uri: str, login_hint: str | None) -> AuthStart:
        state, verifier = oauth.new_state(), oauth.new_verifier()
        params = {
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": " ".join(GOOGLE_SCOPES),
            "state": state,
            "code_challenge": oauth.s256_challenge(verifier),
            "code_challenge_method": "S256",
            "access_type": "offline",  # a refresh token
            "prompt": "consent",  # a refresh token again on reconnect
            # No incremental authorization: the token carries exactly the scopes above, never
            # broader ones the account may have granted this client before.
            "include_granted_scopes": "false",
        }
        if login_hint:
            params["login_hint"] = login_hint
        flow = {"state": state, "code_verifier": verifier, "redirect_uri": redirect_uri}
        return AuthStart(url=f"{self.authorize_uri}?{urlencode(params)}", state=state, flow=flow)

    def finish_authorization(self, flow: dict, callback_params: dict[str, str]) -> AuthResult:
        oauth.check_state(flow["state"], callback_params.get("state"))
        if callback_params.get("error"):
            raise ProviderError(f"authorization refused: {callback_params['error']}")
        try:
            response = self._http().post(
                self.token_uri,
                data={
                    "grant_type": "authorization_code",
                    "code": callback_params.get("code", ""),
                    "code_verifier": flow["code_verifier"],
                    "redirect_uri": flow["redirect_uri"],
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                },
                timeout=self.request_timeout_seconds,
            )
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"code exchange failed: {type(exc).__name__}") from None
        payload = _json_or_empty(response)
        if response.status_code != 200 or "access_token" not in payload:
            raise ProviderError(f"code exchange failed: {payload.get('error', response.status_code)}")
        if not payload.get("refresh_token"):
            raise ProviderError("code exchange returned no refresh token (offline access refused)")
        credentials = _credentials_json(
            payload["access_token"], payload["refresh_token"], payload.get("expires_in")
        )
        claims = oauth.id_token_claims(payload.get("id_token"))
        if not (claims.get("sub") and claims.get("email")):
            claims = self._userinfo(payload["access_token"])
        if not (claims.get("sub") and claims.get("email")):
            raise ProviderError("the identity provider did not say which account consented")
        return AuthResult(
            account_email=claims["email"],
            credentials=credentials,
            account_subject=f"google:{claims['sub']}",
            # Google sends a JSON boolean; anything else is not a verification.
            email_verified=claims.get("email_verified") is True,
        )

    @property
    def userinfo_uri(self) -> str:
        return GOOGLE_USERINFO_URI if self.auth_base == GOOGLE_AUTH_BASE else self.auth_base + "v3/userinfo"

    def _userinfo(self, access_token: str) -> dict:
        """The OpenID userinfo of the account behind a fresh token (when no usable id_token came)."""
        try:
            response = self._http().get(
                self.userinfo_uri,
                headers={"Authorization": f"Bearer {access_token}"},
                timeout=self.request_timeout_seconds,
            )
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"userinfo failed: {type(exc).__name__}") from None
        return _json_or_empty(response) if response.status_code == 200 else {}

    def revoke(self, credentials: str) -> bool:
        """True once Google no longer honours the grant; ProviderUnavailable when that is not
        known (a 5xx, a 429, no answer): the caller keeps the token and tries again."""
        data = json.loads(credentials)
        token = data.get("refresh_token") or data.get("token")
        try:
            response = self._http().post(
                self.revoke_uri, data={"token": token}, timeout=self.request_timeout_seconds
            )
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"revoke failed: {type(exc).__name__}") from None
        # 400 invalid_token: already revoked or expired — the outcome we wanted.
        if response.status_code in (200, 400):
            return True
        raise ProviderUnavailable(f"revoke answered {response.status_code}")

    def session(self, credentials: str, on_credentials: Callable[[str], None]) -> GoogleSession:
        return GoogleSession(self, credentials, on_credentials)

    def _http(self) -> requests.Session:
        http = requests.Session()
        http.trust_env = False
        return http


def _credentials_json(
    token: str, refresh_token: str, expires_in: int | None, expiry: datetime | None = None
) -> str:
    if expiry is None and expires_in:
        expiry = datetime.now(UTC).timestamp() + int(expires_in)
        expiry = datetime.fromtimestamp(expiry, UTC)
    return json.dumps(
        {"token": token, "refresh_token": refresh_token, "expiry": expiry.isoformat() if expiry else None}
    )


def _json_or_empty(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class GoogleSession(ProviderSession):
    def __init__(self, client: GoogleCalendarClient, credentials: str, on_credentials: Callable[[str], None]):
        data = json.loads(credentials)
        expiry = data.get("expiry")
        self._client = client
        self._on_credentials = on_credentials
        self._retry = client.retry_policy
        self.stats = RequestStats()
        self._creds = Credentials(
            token=data.get("token"),
            refresh_token=data.get("refresh_token"),
            token_uri=client.token_uri,
            client_id=client.client_id,
            client_secret=client.client_secret,
            # google-auth compares expiry as naive UTC.
            expiry=datetime.fromisoformat(expiry).astimezone(UTC).replace(tzinfo=None) if expiry else None,
        )
        self._saved = (self._creds.token, self._creds.refresh_token)
        self._http = google_auth_httplib2.AuthorizedHttp(
            self._creds, http=httplib2.Http(timeout=client.request_timeout_seconds)
        )
        self._service = _shared_service(client.api_base)

    def close(self) -> None:
        self._http.http.close()

    # --- plumbing ----------------------------------------------------------------------------
    def _execute(self, request, *, not_found_ok: bool = False):
        last_error: object = None
        for attempt in range(self._client.max_attempts):
            if attempt:
                self.stats.retries += 1
            try:
                self._ensure_fresh_token()
                self.stats.requests += 1
                result = request.execute(http=self._http, num_retries=0)
                self._persist_if_refreshed()
                if isinstance(result, str) and result:
                    # googleapiclient hands back a body it could not parse as JSON as a plain
                    # string: a truncated response, as transient as a dropped connection.
                    raise ValueError("truncated response body")
                return result
            except HttpError as exc:
                self._persist_if_refreshed()
                status, reason = exc.resp.status, _reason(exc)
                if status == 410 and reason in ("fullSyncRequired", "updatedMinTooLongAgo"):
                    raise CursorExpired(reason) from None
                if status in (404, 410) and not_found_ok:
                    return None
                if status in (404, 410):
                    raise EventNotFound(reason or str(status)) from None
                if status in (409, 412):
                    raise EventConflict(reason or str(status)) from None
                if status == 401:
                    # The token was refused although fresh: refresh once more, then give up.
                    self._refresh()
                    last_error = "401"
                    continue
                retryable = status in RETRYABLE_STATUS or (status == 403 and reason in RATE_LIMIT_REASONS)
                if not retryable:
                    if status == 403 and reason == "quotaExceeded":
                        raise ProviderUnavailable("Google daily quota exceeded") from None
                    raise ProviderError(f"Google API {status} {reason}") from None
                if status in (403, 429):
                    self.stats.throttled += 1
                last_error = f"{status} {reason}".strip()  # not str(exc): it carries the URL
                self._retry.wait(attempt, exc.resp.get("retry-after"))
            except google.auth.exceptions.RefreshError as exc:
                raise _refresh_failure(exc) from None
            except (TimeoutError, httplib2.HttpLib2Error, ConnectionError, ValueError) as exc:
                # ValueError: a truncated body that is not JSON. All are transient.
                last_error = f"{type(exc).__name__}: {exc}"
                self._retry.wait(attempt, None)
        raise ProviderUnavailable(
            f"Google API unavailable after {self._client.max_attempts} attempts: {last_error}"
        )

    def _ensure_fresh_token(self) -> None:
        if not self._creds.valid:
            self._refresh()

    def _refresh(self) -> None:
        try:
            self._creds.refresh(GoogleAuthRequest(session=_plain_session()))
        except google.auth.exceptions.RefreshError as exc:
            raise _refresh_failure(exc) from None
        except google.auth.exceptions.TransportError as exc:
            raise ProviderUnavailable(f"token refresh failed: {exc}") from None
        self._persist_if_refreshed()

    def _persist_if_refreshed(self) -> None:
        current = (self._creds.token, self._creds.refresh_token)
        if current != self._saved:
            self._saved = current
            expiry = self._creds.expiry.replace(tzinfo=UTC) if self._creds.expiry else None
            self._on_credentials(
                _credentials_json(self._creds.token, self._creds.refresh_token, None, expiry)
            )

    # --- reading -----------------------------------------------------------------------------
    def primary_email(self) -> str:
        entry = self._execute(self._service.calendarList().get(calendarId="primary", fields="id"))
        return entry["id"]

    def list_calendars(self) -> list[CalendarInfo]:
        calendars, page_token = [], None
        while True:
            response = self._execute(
                self._service.calendarList().list(
                    pageToken=page_token, fields="nextPageToken,items(id,summary,summaryOverride,primary)"
                )
            )
            for item in response.get("items", []):
                name = item.get("summaryOverride") or item.get("summary") or item["id"]
                calendars.append(CalendarInfo(item["id"], name, bool(item.get("primary"))))
            page_token = response.get("nextPageToken")
            if not page_token:
                return calendars

    def full_sync(self, calendar_id: str, window: SyncWindow) -> Iterator[SyncPage]:
        return self._pages(
            calendar_id,
            {"timeMin": _rfc3339(window.start), "timeMax": _rfc3339(window.end), "singleEvents": True},
        )

    def incremental_sync(self, calendar_id: str, cursor: str) -> Iterator[SyncPage]:
        sync_token = json.loads(cursor)["sync_token"]
        # Same singleEvents as the full sync: Google requires every parameter to match (trap 5).
        return self._pages(calendar_id, {"syncToken": sync_token, "singleEvents": True})

    def _missing_calendar(self, calendar_id: str) -> ProviderError:
        """The listing answered 404. Forgetting a calendar drops its rows, so a 404 counts as
        "gone" only once the calendar list confirms it; otherwise it is an error to retry."""
        entry = self._execute(
            self._service.calendarList().get(calendarId=calendar_id, fields="id"), not_found_ok=True
        )
        if entry is None:
            return CalendarGone(calendar_id)
        return ProviderUnavailable("events.list answered 404 for a calendar that still exists")

    def _pages(self, calendar_id: str, params: dict) -> Iterator[SyncPage]:
        page_token = None
        while True:
            try:
                response = self._execute(
                    self._service.events().list(
                        calendarId=calendar_id,
                        maxResults=self._client.page_size,
                        pageToken=page_token,
                        fields=LIST_FIELDS,
                        **params,
                    )
                )
            except EventNotFound:
                raise self._missing_calendar(calendar_id) from None
            self.stats.pages += 1
            records, removals = classify(calendar_id, response.get("items", []))
            page_token = response.get("nextPageToken")
            cursor = None
            if not page_token and response.get("nextSyncToken"):
                # Without a sync token there is no cursor: the next sync is a full one again.
                cursor = json.dumps({"sync_token": response["nextSyncToken"]})
            yield SyncPage(events=records, removals=removals, cursor=cursor)
            if not page_token:
                return

    # --- watching ----------------------------------------------------------------------------
    def watch(
        self, calendar_id: str, address: str, secret: str, expires_at: datetime, lifecycle_address: str
    ) -> WatchInfo:
        body = {
            "id": f"smvue-{uuid.uuid4().hex}",
            "type": "web_hook",
            "address": address,
            "token": secret,
            "expiration": int(expires_at.timestamp() * 1000),
        }
        try:
            response = self._execute(self._service.events().watch(calendarId=calendar_id, body=body))
        except ProviderError as exc:
            raise WatchRefused(str(exc)) from None
        expiration = datetime.fromtimestamp(int(response["expiration"]) / 1000, UTC)
        return WatchInfo(
            watch_id=response["id"], resource_id=response.get("resourceId"), expires_at=expiration
        )

    def renew_watch(self, calendar_id, watch, address, secret, expires_at, lifecycle_address) -> WatchInfo:
        # Google channels cannot be extended: open a new one; the caller stops the old after overlap.
        return self.watch(calendar_id, address, secret, expires_at, lifecycle_address)

    def stop_watch(self, watch_id: str, resource_id: str | None) -> None:
        self._execute(
            self._service.channels().stop(body={"id": watch_id, "resourceId": resource_id}), not_found_ok=True
        )

    def reauthorize_watch(self, watch_id: str, expires_at: datetime) -> None:
        return None  # Google has no reauthorization for channels

    # --- writing SMVue's own events ----------------------------------------------------------
    def create_event(self, calendar_id: str, meeting: MeetingSpec) -> ProviderEvent:
        event_id = event_id_for_meeting(meeting.meeting_id)
        body = {"id": event_id, **_event_body(meeting)}
        try:
            created = self._execute(
                self._service.events().insert(
                    calendarId=calendar_id, body=body, sendUpdates="all", fields=EVENT_FIELDS
                )
            )
            return to_provider_event(created)
        except EventConflict:
            pass
        # 409 duplicate: an earlier attempt created it (or its tombstone holds the id). Fetch it; the
        # caller verifies the tag and brings it up to date.
        return self.get_event(calendar_id, event_id)

    def find_event(self, calendar_id: str, meeting_id: str) -> ProviderEvent | None:
        item = self._execute(
            self._service.events().get(
                calendarId=calendar_id, eventId=event_id_for_meeting(meeting_id), fields=EVENT_FIELDS
            ),
            not_found_ok=True,
        )
        return to_provider_event(item) if item else None

    def get_event(self, calendar_id: str, event_id: str) -> ProviderEvent:
        item = self._execute(
            self._service.events().get(calendarId=calendar_id, eventId=event_id, fields=EVENT_FIELDS)
        )
        return to_provider_event(item)

    def update_event(self, calendar_id: str, event_id: str, meeting: MeetingSpec) -> ProviderEvent:
        patched = self._execute(
            self._service.events().patch(
                calendarId=calendar_id,
                eventId=event_id,
                body={**_event_body(meeting), "status": "confirmed"},
                sendUpdates="all",
                fields=EVENT_FIELDS,
            )
        )
        return to_provider_event(patched)

    def cancel_event(self, calendar_id: str, event_id: str) -> None:
        # 410 deleted / 404: already gone, which is what cancelling wants.
        self._execute(
            self._service.events().delete(calendarId=calendar_id, eventId=event_id, sendUpdates="all"),
            not_found_ok=True,
        )


_SERVICES: dict[str, object] = {}
_SERVICES_LOCK = threading.Lock()


class _FastJsonModel(JsonModel):
    """googleapiclient's JSON model with orjson: parsing dominates a large import's CPU. Bodies that
    are not JSON still come back as text, as the stock model does (`_execute` retries those)."""

    def deserialize(self, content):
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            return content.decode("utf-8", "replace") if isinstance(content, bytes) else content


def _shared_service(api_base: str):
    """One discovery-built service per API root and process: building one parses the ~400 kB
    discovery document, which per session cost time and memory. Requests carry their session's
    authorized http at execute time, so sharing it shares no credentials."""
    with _SERVICES_LOCK:
        if api_base not in _SERVICES:
            _SERVICES[api_base] = build(
                "calendar",
                "v3",
                http=httplib2.Http(),
                client_options={"api_endpoint": api_base},
                static_discovery=True,
                cache_discovery=False,
                model=_FastJsonModel(),
            )
        return _SERVICES[api_base]


def _event_body(meeting: MeetingSpec) -> dict:
    attendee = {"email": meeting.attendee_email}
    if meeting.attendee_name:
        attendee["displayName"] = meeting.attendee_name
    return {
        "summary": meeting.title,
        "start": {"dateTime": _rfc3339(meeting.start_at), "timeZone": "UTC"},
        "end": {"dateTime": _rfc3339(meeting.end_at), "timeZone": "UTC"},
        "attendees": [attendee],
        "extendedProperties": {"private": {SMVUE_TAG: meeting.meeting_id}},
    }


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reason(exc: HttpError) -> str:
    try:
        body = json.loads(exc.content)
        errors = body.get("error", {}).get("errors") or []
        return errors[0].get("reason", "") if errors else body.get("error", {}).get("status", "")
    except (ValueError, AttributeError, TypeError):
        return ""


def _refresh_failure(exc: google.auth.exceptions.RefreshError) -> ProviderError:
    """A refused grant (invalid_grant and the like) needs the user; a token endpoint that is down
    (google-auth marks 5xx / 429 retryable, after its own retries) only needs time."""
    if getattr(exc, "retryable", False):
        return ProviderUnavailable(f"token refresh failed: {_refresh_error(exc)}")
    return ReauthRequired(_refresh_error(exc))


def _refresh_error(exc: Exception) -> str:
    """A short reason: the OAuth error code when there is one (never the response body)."""
    details = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
    error = details.get("error")
    if isinstance(error, str):
        return error
    if isinstance(error, dict):  # a non-OAuth error body (e.g. a 503 from a front end)
        return f"{error.get('code', '')} {error.get('status') or error.get('message', '')}".strip()
    text = str(exc)
    return "invalid_grant" if "invalid_grant" in text else text.splitlines()[0][:200]


def _plain_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session
