"""`OutlookCalendarClient`: Microsoft Graph through msal (auth) and requests (API).

msal insists on an https authority. To run against the emulator the authority stays Microsoft's
and msal gets an `http_client` that routes login.microsoftonline.com to the emulator; the same
routing rewrites the authorize URL the user is sent to.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import msal
import orjson
import requests
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from smvue_core.providers import oauth
from smvue_core.providers.base import (
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
from smvue_core.providers.http_routing import RoutedHttpClient
from smvue_core.providers.outlook.mapping import (
    EVENT_SELECT,
    MASTER_SELECT,
    TAG_PROPERTY_ID,
    TRANSACTION_PREFIX,
    removal,
    to_provider_event,
    to_record,
)
from smvue_core.providers.retry import RetryPolicy
from smvue_core.settings import GRAPH_API_BASE, MS_AUTHORITY


class ForeignLink(ProviderError):
    """Graph handed out a paging or delta link outside the configured Graph base: it is refused,
    never requested (it would carry the user's bearer token to another host)."""


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:  # a port that is not a number
        port = -1
    return scheme, (parts.hostname or "").lower(), port


def check_graph_link(link: str, api_base: str) -> str:
    """`link` itself when it has the Graph base's scheme, host and port; ForeignLink otherwise.
    The message names the origin only: the full link carries the delta token."""
    if _origin(link) != _origin(api_base):
        scheme, host, port = _origin(link)
        raise ForeignLink(
            f"refused a Graph link to {scheme}://{host}:{port}, outside the configured Graph base "
            f"{urlsplit(api_base).scheme}://{urlsplit(api_base).netloc} (the token was not sent)"
        )
    return link


# The callback is a GET carrying code and state (CONTRACT.md), protected by PKCE and the state check;
# msal's advice to prefer form_post does not apply to it.
warnings.filterwarnings("ignore", message="response_mode='form_post' is recommended", category=UserWarning)
# msal's DEBUG records carry authorization codes, PKCE verifiers and refresh-token grant bodies
# (msal.token_cache logs each token event). Logs never hold secrets, whatever level the root
# logger is at, so msal is held at INFO and above (nothing it logs there carries a token).
logging.getLogger("msal").setLevel(logging.INFO)
MICROSOFT_LOGIN = "https://login.microsoftonline.com/"
# Calendars.ReadWrite is the narrowest Graph scope that lets SMVue create its own events (F14);
# msal adds openid, profile and offline_access itself.
GRAPH_SCOPES = ["https://graph.microsoft.com/Calendars.ReadWrite"]
RETRYABLE_STATUS = {429, 500, 502, 503, 504}
SYNC_STATE_CODES = {"syncstatenotfound", "resyncrequired", "syncstateinvalid"}
DELTA_PAGE_SIZE = 1000
DISCOVERY_TTL_SECONDS = 24 * 3600  # what msal itself caches discovery for


class OutlookCalendarClient(BaseModel, CalendarProvider):
    """Microsoft Graph calendars and the Microsoft identity platform (msal)."""

    # Configuration, fixed once built; a misspelt setting is an error, not silently ignored.
    model_config = ConfigDict(frozen=True, extra="forbid")

    api_base: str = Field(default=GRAPH_API_BASE, description="Graph root, ending in /v1.0/")
    authority: str = Field(
        default=MS_AUTHORITY, description="https://login.microsoftonline.com/<tenant>, or the emulator's"
    )
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
    delta_page_size: int = Field(
        DELTA_PAGE_SIZE, ge=1, le=1000, description="Prefer: odata.maxpagesize on delta"
    )
    _retry: RetryPolicy | None = PrivateAttr(default=None)

    @property
    def provider(self) -> ProviderName:
        return "microsoft"

    def with_retry(self, policy: RetryPolicy) -> OutlookCalendarClient:
        self._retry = policy
        return self

    @property
    def retry_policy(self) -> RetryPolicy:
        if self._retry is None:
            self._retry = RetryPolicy.timing(
                self.retry_base_seconds, self.retry_cap_seconds, self.max_retry_after_seconds
            )
        return self._retry

    # --- msal plumbing -----------------------------------------------------------------------
    def _msal_authority_and_routes(self) -> tuple[str, dict[str, str]]:
        if self.authority.startswith("https://"):
            return self.authority, {}
        # An http authority is the emulator: keep Microsoft's URL for msal, route its requests.
        parts = urlsplit(self.authority)
        tenant = parts.path.rstrip("/").rsplit("/", 1)[-1]
        identity_root = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/').rsplit('/', 1)[0]}/"
        return MICROSOFT_LOGIN + tenant, {MICROSOFT_LOGIN: identity_root}

    def msal_app(
        self, cache: msal.SerializableTokenCache | None = None
    ) -> msal.ConfidentialClientApplication:
        authority, routes = self._msal_authority_and_routes()
        return msal.ConfidentialClientApplication(
            self.client_id,
            client_credential=self.client_secret,
            authority=authority,
            token_cache=cache or msal.SerializableTokenCache(),
            http_client=_DiscoveryCachingClient(routes, timeout=self.request_timeout_seconds),
            timeout=self.request_timeout_seconds,
        )

    def _browser_url(self, url: str) -> str:
        _, routes = self._msal_authority_and_routes()
        for prefix, target in routes.items():
            if url.startswith(prefix):
                return target + url[len(prefix) :]
        return url

    # --- connect -----------------------------------------------------------------------------
    def start_authorization(self, redirect_uri: str, login_hint: str | None) -> AuthStart:
        state = oauth.new_state()
        flow = self.msal_app().initiate_auth_code_flow(
            GRAPH_SCOPES,
            redirect_uri=redirect_uri,
            state=state,
            login_hint=login_hint,
            prompt="select_account",
        )
        return AuthStart(url=self._browser_url(flow["auth_uri"]), state=state, flow=flow)

    def finish_authorization(self, flow: dict, callback_params: dict[str, str]) -> AuthResult:
        oauth.check_state(flow["state"], callback_params.get("state"))
        cache = msal.SerializableTokenCache()
        app = self.msal_app(cache)
        try:
            result = app.acquire_token_by_auth_code_flow(flow, dict(callback_params))
        except ValueError as exc:  # msal: state mismatch or a malformed callback
            raise ProviderError(f"authorization callback rejected: {exc}") from None
        except (requests.RequestException, msal.exceptions.MsalError) as exc:
            raise ProviderUnavailable(f"code exchange failed: {type(exc).__name__}") from None
        if "error" in result:
            raise ProviderError(f"code exchange failed: {result['error']}")
        accounts = app.get_accounts()
        if not accounts:
            raise ProviderError("the identity provider returned no account (client_info missing)")
        claims = result.get("id_token_claims") or {}
        email = claims.get("preferred_username") or claims.get("email") or accounts[0].get("username")
        if not (claims.get("oid") and claims.get("tid") and email):
            raise ProviderError("the identity provider did not say which account consented")
        return AuthResult(
            account_email=email,
            credentials=_bundle(cache, accounts[0]["home_account_id"], email),
            # oid is unique within the tenant only; the pair names the account for good.
            account_subject=f"microsoft:{claims['tid']}/{claims['oid']}",
            # The sign-in name of an Entra account is the tenant's own record, not a claim the
            # user typed; there is no email_verified to read.
            email_verified=True,
        )

    def revoke(self, credentials: str) -> bool:
        # Graph has no per-app token revocation endpoint; forgetting the tokens is what we can do.
        return False

    def session(self, credentials: str, on_credentials: Callable[[str], None]) -> OutlookSession:
        return OutlookSession(self, credentials, on_credentials)


class _DiscoveryCachingClient(RoutedHttpClient):
    """msal fetches the authority's OpenID configuration every time an application object is
    built — once per connection per run. The document is public and stable, so one fetch per
    process serves every session (msal's own cache dies with each application object)."""

    _cache: dict[str, tuple[float, requests.Response]] = {}
    _lock = threading.Lock()

    def get(self, url: str, params=None, headers=None, **kwargs) -> requests.Response:
        if params or "/.well-known/openid-configuration" not in url:
            return super().get(url, params=params, headers=headers, **kwargs)
        key = self.route(url)
        with self._lock:
            hit = self._cache.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        response = super().get(url, params=params, headers=headers, **kwargs)
        if response.status_code == 200:
            response.text  # noqa: B018 - read the body now, so the cached response is complete
            with self._lock:
                self._cache[key] = (time.monotonic() + DISCOVERY_TTL_SECONDS, response)
        return response


def _bundle(cache: msal.SerializableTokenCache, home_account_id: str, email: str) -> str:
    return json.dumps(
        {"msal_cache": cache.serialize(), "home_account_id": home_account_id, "account_email": email}
    )


class OutlookSession(ProviderSession):
    def __init__(
        self, client: OutlookCalendarClient, credentials: str, on_credentials: Callable[[str], None]
    ):
        data = json.loads(credentials)
        self._client = client
        self._on_credentials = on_credentials
        self._retry = client.retry_policy
        self._home_account_id = data["home_account_id"]
        self.account_email = data.get("account_email")
        self._cache = msal.SerializableTokenCache()
        self._cache.deserialize(data["msal_cache"])
        self._app = client.msal_app(self._cache)
        self._http = requests.Session()
        self._http.trust_env = False
        self._token: str | None = None
        self._masters: dict[str, dict] = {}
        self.stats = RequestStats()

    def close(self) -> None:
        self._http.close()
        self._app.http_client.close()

    # --- plumbing ----------------------------------------------------------------------------
    def _access_token(self, force_refresh: bool = False) -> str:
        if self._token and not force_refresh:
            return self._token
        account = next(
            (a for a in self._app.get_accounts() if a["home_account_id"] == self._home_account_id), None
        )
        if account is None:
            raise ReauthRequired("no account in the stored token cache")
        try:
            result = self._app.acquire_token_silent_with_error(
                GRAPH_SCOPES, account=account, force_refresh=force_refresh
            )
        except (requests.RequestException, msal.exceptions.MsalError, ValueError) as exc:
            # The token endpoint is down or answered garbage: transient, not a dead grant.
            raise ProviderUnavailable(f"token refresh failed: {type(exc).__name__}") from None
        if not result or "access_token" not in result:
            error = (result or {}).get("error", "no token")
            if error in ("invalid_grant", "interaction_required", "no token"):
                raise ReauthRequired(error)
            raise ProviderUnavailable(f"token refresh failed: {error}")
        if self._cache.has_state_changed:
            self._on_credentials(_bundle(self._cache, self._home_account_id, self.account_email or ""))
            self._cache.has_state_changed = False
        self._token = result["access_token"]
        return self._token

    def _request(
        self,
        method: str,
        url: str,
        *,
        json_body: dict | None = None,
        headers: dict | None = None,
        not_found_ok: bool = False,
    ) -> dict | None:
        if not url.startswith("http"):
            url = self._client.api_base + url
        else:  # a nextLink / deltaLink (or a stored cursor): only to Graph itself
            check_graph_link(url, self._client.api_base)
        last_error: object = None
        refreshed = False
        for attempt in range(self._client.max_attempts):
            if attempt:
                self.stats.retries += 1
            request_headers = {
                "Authorization": f"Bearer {self._access_token()}",
                # Immutable ids on every request, so moving an event never changes its id (trap 9).
                "Prefer": 'IdType="ImmutableId", outlook.timezone="UTC"',
                **(headers or {}),
            }
            try:
                self.stats.requests += 1
                response = self._http.request(
                    method,
                    url,
                    json=json_body,
                    headers=request_headers,
                    timeout=self._client.request_timeout_seconds,
                )
            except (requests.Timeout, requests.ConnectionError) as exc:
                last_error = type(exc).__name__  # not str(exc): it carries the URL (and delta token)
                self._retry.wait(attempt, None)
                continue
            status = response.status_code
            if status < 300:
                if status == 204 or not response.content:
                    return {}
                try:
                    return orjson.loads(response.content)
                except orjson.JSONDecodeError as exc:  # a truncated body
                    last_error = exc
                    self._retry.wait(attempt, None)
                    continue
            code = _error_code(response)
            if status == 410 or code.lower() in SYNC_STATE_CODES:
                raise CursorExpired(code or "410")
            if status == 404:
                if not_found_ok:
                    return None
                raise EventNotFound(code or "404")
            if status == 401 and not refreshed:
                refreshed = True
                self._access_token(force_refresh=True)
                continue
            if status == 409 or code == "ErrorDuplicateTransactionId":
                raise EventConflict(code or "409")
            if status in RETRYABLE_STATUS:
                if status == 429:
                    self.stats.throttled += 1
                last_error = f"{status} {code}"
                self._retry.wait(attempt, response.headers.get("Retry-After"))
                continue
            raise ProviderError(f"Graph {status} {code}")
        raise ProviderUnavailable(
            f"Graph unavailable after {self._client.max_attempts} attempts: {last_error}"
        )

    # --- reading -----------------------------------------------------------------------------
    def list_calendars(self) -> list[CalendarInfo]:
        calendars, url = [], "me/calendars?$select=id,name,isDefaultCalendar"
        while url:
            page = self._request("GET", url) or {}
            for item in page.get("value", []):
                calendars.append(
                    CalendarInfo(
                        item["id"], item.get("name") or item["id"], bool(item.get("isDefaultCalendar"))
                    )
                )
            url = page.get("@odata.nextLink")
        return calendars

    def full_sync(self, calendar_id: str, window: SyncWindow) -> Iterator[SyncPage]:
        start, end = _graph_time(window.start), _graph_time(window.end)
        url = f"me/calendars/{quote(calendar_id, safe='')}/calendarView/delta?startDateTime={start}&endDateTime={end}"
        return self._delta_pages(calendar_id, url)

    def incremental_sync(self, calendar_id: str, cursor: str) -> Iterator[SyncPage]:
        return self._delta_pages(calendar_id, json.loads(cursor)["delta_link"])

    def _missing_calendar(self, calendar_id: str) -> ProviderError:
        """The delta answered 404. Forgetting a calendar drops its rows, so a 404 counts as
        "gone" only once the calendar itself answers 404; otherwise it is an error to retry."""
        found = self._request(
            "GET", f"me/calendars/{quote(calendar_id, safe='')}?$select=id", not_found_ok=True
        )
        if found is None:
            return CalendarGone(calendar_id)
        return ProviderUnavailable("calendarView/delta answered 404 for a calendar that still exists")

    def _delta_pages(self, calendar_id: str, url: str) -> Iterator[SyncPage]:
        headers = {
            "Prefer": f'IdType="ImmutableId", outlook.timezone="UTC", odata.maxpagesize={self._client.delta_page_size}'
        }
        while True:
            try:
                page = self._request("GET", url, headers=headers) or {}
            except EventNotFound:
                raise self._missing_calendar(calendar_id) from None
            self.stats.pages += 1
            events, removals = [], []
            for item in page.get("value", []):
                if "@removed" in item:
                    removals.append(removal(calendar_id, item))
                elif item.get("type") == "seriesMaster":
                    continue  # instances carry everything the warehouse keeps
                elif item.get("type") == "occurrence":
                    events.append(
                        to_record(calendar_id, item, self.account_email, self._master(item["seriesMasterId"]))
                    )
                else:
                    events.append(to_record(calendar_id, item, self.account_email))
            next_link, delta_link = page.get("@odata.nextLink"), page.get("@odata.deltaLink")
            for link in (next_link, delta_link):
                if link:  # refused before a foreign deltaLink could become the stored cursor
                    check_graph_link(link, self._client.api_base)
            cursor = json.dumps({"delta_link": delta_link}) if delta_link and not next_link else None
            yield SyncPage(events=events, removals=removals, cursor=cursor)
            if not next_link:
                return
            url = next_link

    def _master(self, master_id: str) -> dict:
        """Delta occurrences are sparse (id, type, seriesMasterId, start, end): fill in from the
        series master, fetched once per session with $select so no body comes back."""
        if master_id not in self._masters:
            self._masters[master_id] = (
                self._request(
                    "GET", f"me/events/{quote(master_id, safe='')}?$select={MASTER_SELECT}", not_found_ok=True
                )
                or {}
            )
        return self._masters[master_id]

    # --- watching ----------------------------------------------------------------------------
    def watch(
        self, calendar_id: str, address: str, secret: str, expires_at: datetime, lifecycle_address: str
    ) -> WatchInfo:
        body = {
            "changeType": "created,updated,deleted",
            "notificationUrl": address,
            "lifecycleNotificationUrl": lifecycle_address,
            "resource": f"me/calendars/{calendar_id}/events",
            "expirationDateTime": _iso(expires_at),
            "clientState": secret,
        }
        try:
            created = self._request("POST", "subscriptions", json_body=body) or {}
        except (ProviderError, ProviderUnavailable) as exc:
            raise WatchRefused(str(exc)) from None
        return self._watch_info(created["id"], created, _parse(created["expirationDateTime"]))

    def renew_watch(self, calendar_id, watch, address, secret, expires_at, lifecycle_address) -> WatchInfo:
        renewed = self._request(
            "PATCH",
            f"subscriptions/{watch.watch_id}",
            json_body={"expirationDateTime": _iso(expires_at)},
            not_found_ok=True,
        )
        if renewed is None:  # gone (expired or removed): recreate
            return self.watch(calendar_id, address, secret, expires_at, lifecycle_address)
        return self._watch_info(
            watch.watch_id, renewed, _parse(renewed.get("expirationDateTime")) or expires_at
        )

    def _watch_info(self, watch_id: str, subscription: dict, expires_at: datetime) -> WatchInfo:
        # Whose notifications these are: home_account_id is "<object id>.<tenant id>" (msal builds it
        # from client_info's uid.utid), and Graph names the subscription's creator in creatorId.
        uid, _, tenant = self._home_account_id.partition(".")
        owner = subscription.get("creatorId") or uid
        return WatchInfo(watch_id, None, expires_at, tenant_id=tenant or None, owner_id=owner or None)

    def stop_watch(self, watch_id: str, resource_id: str | None) -> None:
        self._request("DELETE", f"subscriptions/{watch_id}", not_found_ok=True)

    def reauthorize_watch(self, watch_id: str, expires_at: datetime) -> None:
        self._request("POST", f"subscriptions/{watch_id}/reauthorize", json_body={})

    # --- writing SMVue's own events ----------------------------------------------------------
    def create_event(self, calendar_id: str, meeting: MeetingSpec) -> ProviderEvent:
        body = {
            **_event_body(meeting),
            # transactionId lets Graph drop a replayed POST; the extended property is the tag
            # write-back checks and looks events up by.
            "transactionId": TRANSACTION_PREFIX + meeting.meeting_id,
            "singleValueExtendedProperties": [{"id": TAG_PROPERTY_ID, "value": meeting.meeting_id}],
        }
        try:
            created = (
                self._request("POST", f"me/calendars/{quote(calendar_id, safe='')}/events", json_body=body)
                or {}
            )
        except EventConflict:
            found = self.find_event(calendar_id, meeting.meeting_id)
            if found is None:
                raise
            return found
        created.setdefault("singleValueExtendedProperties", body["singleValueExtendedProperties"])
        return to_provider_event(created)

    def find_event(self, calendar_id: str, meeting_id: str) -> ProviderEvent | None:
        value = meeting_id.replace("'", "''")
        query = (
            f"$filter=singleValueExtendedProperties/Any(ep: ep/id eq '{TAG_PROPERTY_ID}' and ep/value eq '{value}')"
            f"&$select={EVENT_SELECT}&$expand=singleValueExtendedProperties($filter=id eq '{TAG_PROPERTY_ID}')"
        )
        page = self._request("GET", f"me/calendars/{quote(calendar_id, safe='')}/events?{query}") or {}
        items = page.get("value") or []
        return to_provider_event(items[0]) if items else None

    def get_event(self, calendar_id: str, event_id: str) -> ProviderEvent:
        item = self._request(
            "GET",
            f"me/events/{quote(event_id, safe='')}?$select={EVENT_SELECT}"
            f"&$expand=singleValueExtendedProperties($filter=id eq '{TAG_PROPERTY_ID}')",
        )
        return to_provider_event(item or {})

    def update_event(self, calendar_id: str, event_id: str, meeting: MeetingSpec) -> ProviderEvent:
        self._request("PATCH", f"me/events/{quote(event_id, safe='')}", json_body=_event_body(meeting))
        return self.get_event(calendar_id, event_id)

    def cancel_event(self, calendar_id: str, event_id: str) -> None:
        self._request(
            "POST",
            f"me/events/{quote(event_id, safe='')}/cancel",
            json_body={"comment": "Cancelled in SMVue."},
            not_found_ok=True,
        )


def _event_body(meeting: MeetingSpec) -> dict:
    return {
        "subject": meeting.title,
        "start": {"dateTime": _graph_local(meeting.start_at), "timeZone": "UTC"},
        "end": {"dateTime": _graph_local(meeting.end_at), "timeZone": "UTC"},
        "attendees": [
            {
                "emailAddress": {
                    "address": meeting.attendee_email,
                    "name": meeting.attendee_name or meeting.attendee_email,
                },
                "type": "required",
            }
        ],
    }


def _error_code(response: requests.Response) -> str:
    try:
        return (response.json().get("error") or {}).get("code", "") or ""
    except (ValueError, AttributeError):
        return ""


def _graph_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _graph_local(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.rstrip("Z")
    if "." in text:
        head, fraction = text.split(".", 1)
        text = f"{head}.{fraction[:6]}"
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
