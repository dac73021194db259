"""One interface for every calendar provider (STYLE.md: `CalendarProvider`).

The sync engine, the gateway and the write-back jobs speak only these types; Google's and
Microsoft's quirks stay inside their clients. Records carry no description or body: the clients
drop them at the boundary, before anything is stored or logged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

ProviderName = Literal["google", "microsoft"]

# The extended-property name SMVue tags its own events with (Google private property key; Graph
# single-value extended property name). Short enough for Google's 44-character key limit.
SMVUE_TAG = "smvueMeetingId"


# --- errors ------------------------------------------------------------------------------------
class ProviderError(Exception):
    """Base of everything a provider client raises on purpose."""


class ReauthRequired(ProviderError):
    """The refresh token is dead (invalid_grant, revoked): the user must connect again."""


class CursorExpired(ProviderError):
    """The sync token / delta link is gone (410): the calendar needs a full resync."""


class CalendarGone(ProviderError):
    """The calendar itself no longer exists: its owner deleted it (or lost access to it)."""


class ProviderUnavailable(ProviderError):
    """Retries exhausted on throttling, server errors or timeouts."""


class EventNotFound(ProviderError):
    """The event does not exist (or no longer exists) on the calendar."""


class EventConflict(ProviderError):
    """The id is taken (Google 409 duplicate) or the write raced another (412)."""


class WatchRefused(ProviderError):
    """The provider would not create the channel / subscription (e.g. validation failed)."""


# --- values ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CalendarInfo:
    calendar_id: str
    name: str
    is_primary: bool


@dataclass(frozen=True)
class SyncWindow:
    start: datetime
    end: datetime


@dataclass
class Attendee:
    email: str
    name: str | None
    response_status: str | None  # accepted | declined | tentative | needsAction (provider-neutral)
    is_organizer: bool
    is_resource: bool


@dataclass
class EventRecord:
    """One event instance as SMVue keeps it: the columns of raw.calendar_events, nothing more."""

    calendar_id: str
    event_id: str
    ical_uid: str | None
    recurring_event_id: str | None
    original_start_at: datetime | None
    status: str  # confirmed | tentative | cancelled
    title: str | None
    start_at: datetime | None
    end_at: datetime | None
    is_all_day: bool
    time_zone: str | None
    organizer_email: str | None
    attendees: list[Attendee]
    location: str | None
    video_link: str | None
    smvue_meeting_id: str | None
    provider_updated_at: datetime | None


@dataclass
class Removal:
    """An event the provider says is gone. `series` means every instance of that series."""

    calendar_id: str
    event_id: str
    series: bool = False
    # Graph also reports events that merely left the delta window as removed (providers.md 2.1);
    # the engine applies those only inside the window.
    window_only: bool = False


@dataclass
class SyncPage:
    events: list[EventRecord] = field(default_factory=list)
    removals: list[Removal] = field(default_factory=list)
    cursor: str | None = None  # set on the last page only


@dataclass
class RequestStats:
    requests: int = 0
    pages: int = 0
    retries: int = 0
    throttled: int = 0


@dataclass
class AuthStart:
    """Where to send the user, and what to keep (encrypted) until the callback."""

    url: str
    state: str
    flow: dict


@dataclass
class AuthResult:
    """Who consented, and the tokens. The connect flow accepts the account only when it is the
    manager's (or the one already on the connection), so the identity comes from the provider's
    own answer (id_token / userinfo), never from what the flow was started for."""

    account_email: str
    credentials: str  # provider-specific, serialized; encrypted before it is stored
    # The provider's stable id of the account: "google:<sub>", "microsoft:<tid>/<oid>".
    account_subject: str = ""
    # False when the provider says it never verified the address (Google `email_verified`).
    email_verified: bool = False


@dataclass
class WatchInfo:
    watch_id: str  # Google channel id / Graph subscription id
    resource_id: str | None
    expires_at: datetime
    # Graph: the tenant and user (object id) the subscription belongs to; its notifications carry them.
    tenant_id: str | None = None
    owner_id: str | None = None


@dataclass
class MeetingSpec:
    """What write-back puts on the manager's calendar for an SMVue meeting."""

    meeting_id: str
    title: str
    start_at: datetime
    end_at: datetime
    attendee_email: str
    attendee_name: str | None = None


@dataclass
class ProviderEvent:
    event_id: str
    smvue_meeting_id: str | None  # the tag, as read back from the provider
    status: str
    start_at: datetime | None
    end_at: datetime | None
    etag: str | None = None
    # The provider's last-modified stamp (Google `updated`, Graph `lastModifiedDateTime`), the same
    # clock as raw.calendar_events.provider_updated_at.
    updated_at: datetime | None = None


# --- interfaces --------------------------------------------------------------------------------
class ProviderSession(ABC):
    """One connection's authenticated client. Refreshed credentials go to `on_credentials`."""

    stats: RequestStats

    def close(self) -> None:  # noqa: B027 - optional hook, most sessions hold nothing to release
        """Release connections held by the session (the engine calls it when a connection is done)."""

    @abstractmethod
    def list_calendars(self) -> list[CalendarInfo]: ...

    @abstractmethod
    def full_sync(self, calendar_id: str, window: SyncWindow) -> Iterator[SyncPage]:
        """Every event instance overlapping the window; the last page carries the cursor."""

    @abstractmethod
    def incremental_sync(self, calendar_id: str, cursor: str) -> Iterator[SyncPage]:
        """What changed since the cursor; raises CursorExpired when the provider says 410."""

    @abstractmethod
    def watch(
        self, calendar_id: str, address: str, secret: str, expires_at: datetime, lifecycle_address: str
    ) -> WatchInfo:
        """Create a channel / subscription delivering to `address`, verified with `secret`."""

    @abstractmethod
    def renew_watch(
        self,
        calendar_id: str,
        watch: WatchInfo,
        address: str,
        secret: str,
        expires_at: datetime,
        lifecycle_address: str,
    ) -> WatchInfo:
        """Extend a watch (Graph: PATCH) or replace it (Google: a new channel; the caller stops the old)."""

    @abstractmethod
    def stop_watch(self, watch_id: str, resource_id: str | None) -> None:
        """Stop a channel / delete a subscription; an already-gone watch is not an error."""

    @abstractmethod
    def reauthorize_watch(self, watch_id: str, expires_at: datetime) -> None:
        """Graph reauthorizationRequired; Google has nothing to do."""

    @abstractmethod
    def create_event(self, calendar_id: str, meeting: MeetingSpec) -> ProviderEvent:
        """Create the meeting's event exactly once, even when retried after a crash."""

    @abstractmethod
    def find_event(self, calendar_id: str, meeting_id: str) -> ProviderEvent | None:
        """The event SMVue created for this meeting, looked up by its tag."""

    @abstractmethod
    def get_event(self, calendar_id: str, event_id: str) -> ProviderEvent:
        """Re-read one event (EventNotFound when gone)."""

    @abstractmethod
    def update_event(self, calendar_id: str, event_id: str, meeting: MeetingSpec) -> ProviderEvent: ...

    @abstractmethod
    def cancel_event(self, calendar_id: str, event_id: str) -> None:
        """Cancel (Google: delete; Graph: cancel as organizer); already-gone is success."""


class CalendarProvider(ABC):
    """A provider's OAuth client and session factory. Plain Python: the gateway and the write-back
    worker build it from Settings (`factory`), the Dagster layer from its resources' config."""

    @property
    @abstractmethod
    def provider(self) -> ProviderName: ...

    @abstractmethod
    def start_authorization(self, redirect_uri: str, login_hint: str | None) -> AuthStart: ...

    @abstractmethod
    def finish_authorization(self, flow: dict, callback_params: dict[str, str]) -> AuthResult: ...

    @abstractmethod
    def revoke(self, credentials: str) -> bool:
        """Revoke the grant where the provider allows it (True); False where it has no revocation.
        Raises ProviderUnavailable when the outcome is unknown (5xx, no answer): retry later."""

    @abstractmethod
    def session(self, credentials: str, on_credentials: Callable[[str], None]) -> ProviderSession: ...
