"""Graph's state model: mailboxes with calendars, events (series with exceptions and cancelled
occurrences), subscriptions and the change log that delta rounds read.

Every method expects the caller to hold `state.lock`; nothing here does network I/O (change
notifications are only queued on the notifier).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import orjson

from calendar_emulator.backend import ProviderBackend
from calendar_emulator.microsoft import ids
from calendar_emulator.microsoft.errors import GraphApiError, bad_request, not_found
from calendar_emulator.microsoft.patterns import build_rules
from calendar_emulator.microsoft.validation import Timing, invalid, make_timing, parse_event, stored_body
from calendar_emulator.recurrence import MAX_INSTANCES, occurrence_starts
from calendar_emulator.store import User

if TYPE_CHECKING:
    from dateutil.rrule import rruleset


DELETED_ITEMS = "deleteditems"
CHANGE_TYPES = ("created", "updated", "deleted")
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")
# Fields an exception may override; the rest always come from the series master.
OVERRIDABLE = (
    "subject",
    "body",
    "bodyPreview",
    "attendees",
    "location",
    "locations",
    "showAs",
    "importance",
    "sensitivity",
    "categories",
    "isReminderOn",
    "reminderMinutesBeforeStart",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "onlineMeeting",
)
SIMPLE_DEFAULTS = {
    "showAs": "busy",
    "importance": "normal",
    "sensitivity": "normal",
    "categories": [],
    "isReminderOn": True,
    "reminderMinutesBeforeStart": 15,
    "responseRequested": True,
    "allowNewTimeProposals": True,
    "hideAttendees": False,
}


@dataclass
class Calendar:
    calendar_id: str
    name: str
    is_default: bool
    change_key: str = field(default_factory=lambda: secrets.token_urlsafe(12))


@dataclass
class Override:
    """An exception: one occurrence of a series changed on its own."""

    occurrence: str
    original_start: datetime
    timing: Timing
    fields: dict
    seq: int
    created: datetime
    modified: datetime
    change_key: str
    render_cache: tuple | None = field(default=None, repr=False, compare=False)


@dataclass
class StoredEvent:
    key: bytes
    calendar_id: str  # the calendar it was created in (delta and subscriptions follow it)
    folder: str  # where it is now: its calendar, or Deleted Items after a cancel
    timing: Timing
    fields: dict
    is_organizer: bool
    recurrence: dict | None
    rules: rruleset | None
    extended: dict[str, dict]  # lower-cased id -> {"id", "value"}
    transaction_id: str | None
    uid: str
    created: datetime
    modified: datetime
    change_key: str
    seq: int
    created_seq: int
    deleted: bool = False
    overrides: dict[str, Override] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)
    removed_log: dict[str, int] = field(default_factory=dict)  # occurrence key -> seq it went away
    render_cache: tuple | None = field(default=None, repr=False, compare=False)  # see serialize._static

    @property
    def is_series(self) -> bool:
        return self.recurrence is not None

    @property
    def gone(self) -> bool:
        """Deleted, or moved out of its calendar (cancelled into Deleted Items)."""
        return self.deleted or self.folder != self.calendar_id


@dataclass(slots=True)
class Instance:
    """One row of a calendar view: a single event, an occurrence or an exception."""

    event: StoredEvent
    kind: str  # singleInstance | occurrence | exception | seriesMaster
    occurrence: str | None
    original_start: datetime | None
    timing: Timing
    override: Override | None = None


@dataclass
class Mailbox:
    user: User
    default_calendar_id: str
    calendars: dict[str, Calendar] = field(default_factory=dict)
    events: dict[bytes, StoredEvent] = field(default_factory=dict)
    transactions: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)  # id -> (fingerprint, key)
    seq: int = 0
    generation: int = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


@dataclass
class Subscription:
    subscription_id: str
    user: User
    resource: str
    calendar_id: str | None  # None: every calendar of the mailbox (me/events)
    change_types: tuple[str, ...]
    notification_url: str
    lifecycle_url: str | None
    expiration: datetime
    client_state: str | None
    immutable_ids: bool
    application_id: str
    deleted: bool = False
    paused: bool = False  # after reauthorizationRequired, until reauthorize / renew


def occurrence_key(start: datetime) -> str:
    """Stable key of an occurrence's original start (UTC instant; the date for all-day series)."""
    if start.tzinfo is None:
        return start.strftime("%Y%m%d")
    return start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _new_change_key() -> str:
    return secrets.token_urlsafe(12)


@dataclass
class DeltaRound:
    """One round of delta pages (delta.py computes it; the backend keeps it for its skiptokens)."""

    round_id: str
    user_id: str
    calendar_id: str
    window: tuple[datetime, datetime]
    generation: int
    end_seq: int
    stream: list  # Instance to render | (event, occurrence) removed | None for a hidden master


def _fingerprint(payload: dict) -> bytes:
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).digest()


class GraphBackend(ProviderBackend):
    def __init__(self, state) -> None:
        super().__init__(state)
        self.mailboxes: dict[str, Mailbox] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.delta_rounds: OrderedDict[str, DeltaRound] = OrderedDict()
        self.token_secret = secrets.token_bytes(16)

    # --- mailboxes and calendars ------------------------------------------------------------
    def create_mailbox(self, user: User) -> str:
        mailbox = self.mailboxes.get(user.user_id)
        if mailbox is None:
            calendar = Calendar(ids.new_calendar_id(), "Calendar", True)
            mailbox = Mailbox(user=user, default_calendar_id=calendar.calendar_id)
            mailbox.calendars[calendar.calendar_id] = calendar
            self.mailboxes[user.user_id] = mailbox
        return mailbox.default_calendar_id

    def add_calendar(self, user: User, name: str) -> str:
        mailbox = self.mailbox(user)
        calendar = Calendar(ids.new_calendar_id(), name, False)
        mailbox.calendars[calendar.calendar_id] = calendar
        return calendar.calendar_id

    def delete_calendar(self, mailbox: Mailbox, calendar_id: str) -> None:
        """DELETE /calendars/{id}: a secondary calendar goes with its events. Its events are marked
        deleted as a DELETE of each would (404 by id, `deleted` in dumps); every path naming the
        calendar (views, events, delta and its delta/next links, new subscriptions) looks it up
        first and answers 404. As a folder deletion it sends no change notifications: subscriptions
        on it just never fire again, nothing can change in it any more."""
        calendar = self.calendar(mailbox, calendar_id)
        if calendar.is_default:
            # Exchange refuses to delete distinguished folders, the default calendar among them.
            raise bad_request(
                "Distinguished folders cannot be deleted.", code="ErrorDeleteDistinguishedFolder"
            )
        del mailbox.calendars[calendar.calendar_id]
        now = self.state.clock.now()
        for event in self.calendar_events(mailbox, calendar.calendar_id):
            event.deleted = True
            event.seq, event.modified = mailbox.next_seq(), now
        for round_id in [
            r
            for r, round_ in self.delta_rounds.items()
            if round_.user_id == mailbox.user.user_id and round_.calendar_id == calendar.calendar_id
        ]:
            del self.delta_rounds[round_id]

    def mailbox(self, user: User) -> Mailbox:
        self.create_mailbox(user)
        return self.mailboxes[user.user_id]

    def calendar(self, mailbox: Mailbox, calendar_id: str | None) -> Calendar:
        if calendar_id is None:
            return mailbox.calendars[mailbox.default_calendar_id]
        calendar = mailbox.calendars.get(calendar_id)
        if calendar is None:
            raise not_found("The specified calendar was not found in the store.")
        return calendar

    # --- ids ----------------------------------------------------------------------------------
    @staticmethod
    def event_id(event: StoredEvent, immutable: bool, occurrence: str | None = None) -> str:
        if immutable:
            return ids.immutable_id(event.key, occurrence)
        return ids.rest_id(event.key, event.folder, occurrence)

    def find(
        self, mailbox: Mailbox, event_id: str, allow_gone: bool = True
    ) -> tuple[StoredEvent, str | None]:
        """The event (and occurrence key) an id names; 400 for malformed ids, 404 for stale ones."""
        parsed = ids.parse_id(event_id)
        if parsed is None:
            raise bad_request("Id is malformed.", code="ErrorInvalidIdMalformed")
        event = mailbox.events.get(parsed.key)
        if event is None or event.deleted or (not allow_gone and event.gone):
            raise not_found()
        if not parsed.immutable and parsed.folder_tag != ids.folder_tag(event.folder):
            raise not_found()  # a REST id from before the item moved folders
        if parsed.occurrence is not None:
            if not event.is_series or self._original_start(event, parsed.occurrence) is None:
                raise not_found()
            if parsed.occurrence in event.cancelled:
                raise not_found()
        return event, parsed.occurrence

    # --- expansion ---------------------------------------------------------------------------
    @staticmethod
    def _original_start(event: StoredEvent, key: str) -> datetime | None:
        """The original start an occurrence key names, if the series really has it."""
        try:
            if event.timing.all_day:
                candidate = datetime.strptime(key, "%Y%m%d")
            else:
                utc = datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
                candidate = utc.astimezone(event.timing.start.tzinfo)
        except ValueError:
            return None
        if key in event.overrides:
            return event.overrides[key].original_start
        found = event.rules.after(candidate - timedelta(seconds=1), inc=True) if event.rules else None
        return candidate if found == candidate else None

    def instances(
        self, event: StoredEvent, window_start: datetime | None, window_end: datetime | None
    ) -> list[Instance]:
        """Rows of a calendar view for one stored event (masters expand into their instances)."""
        if not event.is_series:
            if window_start is None or event.timing.overlaps(window_start, window_end):  # type: ignore[arg-type]
                return [Instance(event, "singleInstance", None, None, event.timing)]
            return []
        rows = []
        duration = event.timing.duration
        for start in occurrence_starts(event.rules, event.timing.start, duration, window_start, window_end):  # type: ignore[arg-type]
            key = occurrence_key(start)
            if key in event.cancelled or key in event.overrides:
                continue
            rows.append(Instance(event, "occurrence", key, start, event.timing.shifted(start)))
        for key, override in event.overrides.items():
            if key in event.cancelled:
                continue
            if window_start is None or override.timing.overlaps(window_start, window_end):  # type: ignore[arg-type]
                rows.append(
                    Instance(event, "exception", key, override.original_start, override.timing, override)
                )
        return rows

    def _all_occurrence_keys(self, event: StoredEvent) -> set[str]:
        if not event.is_series:
            return set()
        return {
            occurrence_key(start)
            for start in occurrence_starts(
                event.rules, event.timing.start, event.timing.duration, limit=MAX_INSTANCES
            )  # type: ignore[arg-type]
        }

    def instance(self, event: StoredEvent, occurrence: str | None) -> Instance:
        """The row an id names: the event itself, an occurrence or an exception."""
        if occurrence is None:
            return Instance(
                event, "seriesMaster" if event.is_series else "singleInstance", None, None, event.timing
            )
        override = event.overrides.get(occurrence)
        if override is not None:
            return Instance(
                event, "exception", occurrence, override.original_start, override.timing, override
            )
        start = self._original_start(event, occurrence)
        assert start is not None  # find() checked it
        return Instance(event, "occurrence", occurrence, start, event.timing.shifted(start))

    def calendar_events(self, mailbox: Mailbox, calendar_id: str) -> list[StoredEvent]:
        return [e for e in mailbox.events.values() if e.folder == calendar_id and not e.deleted]

    # --- writes -------------------------------------------------------------------------------
    def create_event(
        self, mailbox: Mailbox, calendar_id: str | None, payload: dict, seeded: bool = False
    ) -> tuple[StoredEvent, bool]:
        """POST /events. Returns (event, replayed): an identical transactionId replay returns the
        event it created before instead of a second one."""
        calendar = self.calendar(mailbox, calendar_id)
        values = parse_event(payload, creating=True)
        transaction_id = values.get("transactionId")
        if transaction_id:
            seen = mailbox.transactions.get(transaction_id)
            if seen is not None:
                fingerprint, key = seen
                existing = mailbox.events.get(key)
                if fingerprint == _fingerprint(payload) and existing is not None and not existing.deleted:
                    return existing, True
                raise bad_request(
                    f"An event with transactionId '{transaction_id}' already exists with different "
                    "content (or was deleted).",
                    code="ErrorDuplicateTransactionId",
                )
        now = self.state.clock.now()
        timing = make_timing(values["start"], values["end"], values.get("isAllDay", False))
        recurrence = values.get("recurrence")
        organizer = values.get("organizer") or {
            "emailAddress": {"name": mailbox.user.name or mailbox.user.email, "address": mailbox.user.email}
        }
        seq = mailbox.next_seq()
        key = ids.new_key()
        event = StoredEvent(
            key=key,
            calendar_id=calendar.calendar_id,
            folder=calendar.calendar_id,
            timing=timing,
            fields={},
            is_organizer=organizer["emailAddress"]["address"].lower() == mailbox.user.email.lower(),
            recurrence=recurrence,
            rules=build_rules(recurrence, timing.start) if recurrence else None,
            extended={},
            transaction_id=transaction_id,
            uid="040000008200E00074C5B7101A82E008" + "00000000" + key.hex().upper(),
            created=now,
            modified=now,
            change_key=_new_change_key(),
            seq=seq,
            created_seq=seq,
        )
        event.fields.update(SIMPLE_DEFAULTS)
        event.fields.update(
            {
                "subject": "",
                "attendees": [],
                "location": {"displayName": "", "locationType": "default", "uniqueIdType": "unknown"},
                "locations": [],
                "isOnlineMeeting": False,
                "onlineMeetingProvider": "unknown",
                "onlineMeeting": None,
                "organizer": organizer,
            }
        )
        self._apply(event.fields, values, event_body=True, seeded=seeded)
        event.extended = {p["id"].lower(): p for p in values.get("singleValueExtendedProperties", [])}
        if recurrence and not any(True for _ in self.instances(event, None, None)):
            raise invalid("The recurrence pattern produces no occurrences.")
        mailbox.events[key] = event
        if transaction_id:
            mailbox.transactions[transaction_id] = (_fingerprint(payload), key)
        self.notify(mailbox, event, "created")
        return event, False

    def _apply(self, target: dict, values: dict, event_body: bool, seeded: bool = False) -> None:
        """Copy validated values onto stored fields (master fields or an exception's overrides)."""
        for name, value in values.items():
            if name in (
                "start",
                "end",
                "isAllDay",
                "recurrence",
                "singleValueExtendedProperties",
                "transactionId",
            ):
                continue
            target[name] = value
        if "body" in values or (event_body and "body" not in target):
            body = values.get("body")
            canary = self.state.identity.canary_to_add((body or {}).get("content"), seeded)
            target["body"], target["bodyPreview"] = stored_body(body, canary)
        if "location" in values and "locations" not in values:
            location = values["location"]
            target["locations"] = [location] if location.get("displayName") else []
        elif "locations" in values and "location" not in values:
            target["location"] = (
                values["locations"][0]
                if values["locations"]
                else {"displayName": "", "locationType": "default", "uniqueIdType": "unknown"}
            )
        if "isOnlineMeeting" in values or "onlineMeetingProvider" in values:
            online = target.get("isOnlineMeeting", False)
            provider = target.get("onlineMeetingProvider", "unknown")
            if online and provider == "unknown":
                provider = target["onlineMeetingProvider"] = "teamsForBusiness"
            target["onlineMeeting"] = (
                {
                    "joinUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{secrets.token_hex(16)}%40thread.v2/0"
                }
                if online and provider == "teamsForBusiness"
                else None
            )

    def update_event(
        self, mailbox: Mailbox, event: StoredEvent, occurrence: str | None, payload: dict
    ) -> Instance:
        """PATCH: partial update of an event, a series (all instances) or one occurrence (exception)."""
        values = parse_event(payload, creating=False)
        if event.gone:
            raise not_found()
        if "transactionId" in values and values["transactionId"] != event.transaction_id:
            raise invalid("transactionId cannot be changed after the event is created.")
        now = self.state.clock.now()
        if occurrence is not None:
            return self._update_occurrence(mailbox, event, occurrence, values, now)
        start = values.get("start", self._local(event.timing.start, event.timing.start_zone))
        end = values.get("end", self._local(event.timing.end, event.timing.end_zone))
        all_day = values.get("isAllDay", event.timing.all_day)
        timing = make_timing(start, end, all_day)
        recurrence = values.get("recurrence", event.recurrence)
        series_changed = event.is_series and (timing != event.timing or recurrence != event.recurrence)
        became_series = not event.is_series and recurrence is not None
        old_keys = self._all_occurrence_keys(event) if series_changed else set()
        event.timing, event.recurrence = timing, recurrence
        event.rules = build_rules(recurrence, timing.start) if recurrence else None
        self._apply(event.fields, values, event_body=False)
        if "singleValueExtendedProperties" in values:
            for prop in values["singleValueExtendedProperties"]:
                event.extended[prop["id"].lower()] = prop
        seq = mailbox.next_seq()
        if became_series:
            event.removed_log[""] = seq  # the single instance's own id leaves the calendar view
        if series_changed:
            # Outlook drops exceptions and cancellations when a series' timing or pattern changes.
            new_keys = self._all_occurrence_keys(event)
            for key in (old_keys | set(event.overrides) | event.cancelled) - new_keys:
                event.removed_log[key] = seq
            event.overrides.clear()
            event.cancelled.clear()
        event.seq, event.modified, event.change_key = seq, now, _new_change_key()
        self.notify(mailbox, event, "updated")
        return self.instance(event, None)

    def _update_occurrence(
        self, mailbox: Mailbox, event: StoredEvent, key: str, values: dict, now
    ) -> Instance:
        forbidden = {"recurrence", "isAllDay", "singleValueExtendedProperties", "organizer"} & values.keys()
        if forbidden:
            raise invalid(f"{sorted(forbidden)[0]} cannot be changed on a single occurrence of a series.")
        current = self.instance(event, key)
        start = values.get("start", self._local(current.timing.start, current.timing.start_zone))
        end = values.get("end", self._local(current.timing.end, current.timing.end_zone))
        timing = make_timing(start, end, event.timing.all_day)
        seq = mailbox.next_seq()
        override = event.overrides.get(key)
        if override is None:
            override = Override(key, current.original_start, timing, {}, seq, now, now, _new_change_key())  # type: ignore[arg-type]
            event.overrides[key] = override
        self._apply(override.fields, values, event_body=False)
        override.timing, override.seq, override.modified, override.change_key = (
            timing,
            seq,
            now,
            _new_change_key(),
        )
        self.notify(mailbox, event, "updated", occurrence=key)
        return self.instance(event, key)

    @staticmethod
    def _local(value: datetime, zone_name: str) -> tuple[datetime, str]:
        return value, zone_name

    def delete_event(self, mailbox: Mailbox, event: StoredEvent, occurrence: str | None) -> None:
        """DELETE: the whole event (404 afterwards), or just one occurrence of a series."""
        seq = mailbox.next_seq()
        if occurrence is not None:
            event.cancelled.add(occurrence)
            event.overrides.pop(occurrence, None)
            event.removed_log[occurrence] = seq
            event.modified, event.change_key = self.state.clock.now(), _new_change_key()
            self.notify(mailbox, event, "updated")
            return
        event.deleted = True
        event.seq, event.modified = seq, self.state.clock.now()
        self.notify(mailbox, event, "deleted")

    def cancel_event(
        self, mailbox: Mailbox, event: StoredEvent, occurrence: str | None, comment: str
    ) -> None:
        """POST /cancel: organizer only; the event (or one occurrence) is cancelled and the item
        moves to Deleted Items, which changes its REST id."""
        if not event.is_organizer:
            raise bad_request(
                "Your request can't be completed. You need to be an organizer to cancel a meeting.",
                code="ErrorAccessDenied",
            )
        if event.gone:
            raise not_found()
        if occurrence is not None:
            self.delete_event(mailbox, event, occurrence)
            return
        event.fields["isCancelled"] = True
        event.fields["cancellationComment"] = comment
        event.folder = DELETED_ITEMS
        event.seq, event.modified, event.change_key = (
            mailbox.next_seq(),
            self.state.clock.now(),
            _new_change_key(),
        )
        self.notify(mailbox, event, "deleted")

    # --- ProviderBackend ------------------------------------------------------------------------
    def invalidate_sync_tokens(self, user: User | None = None) -> None:
        for mailbox in self.mailboxes.values():
            if user is None or mailbox.user.user_id == user.user_id:
                mailbox.generation += 1
        for round_id in [
            r for r, round_ in self.delta_rounds.items() if user is None or round_.user_id == user.user_id
        ]:
            del self.delta_rounds[round_id]

    def seed_events(self, user: User, calendar_id: str | None, events: list[dict]) -> list[str]:
        mailbox = self.mailbox(user)
        if calendar_id is not None and calendar_id not in mailbox.calendars:
            raise LookupError(f"calendar_id: no calendar {calendar_id!r} for {user.email}")
        created = []
        for index, body in enumerate(events):
            try:
                event, _ = self.create_event(mailbox, calendar_id, body, seeded=True)
            except GraphApiError as exc:
                raise ValueError(f"events[{index}]: {exc.message}") from None
            created.append(self.event_id(event, immutable=False))
        return created

    def watches(self) -> list[dict]:
        now = self.state.clock.now()
        return [
            {
                "id": sub.subscription_id,
                "provider": "microsoft",
                "email": sub.user.email,
                "active": self.is_active(sub, now),
                "paused": sub.paused,
                "deleted": sub.deleted,
                "resource": sub.resource,
                "changeType": ",".join(sub.change_types),
                "notificationUrl": sub.notification_url,
                "lifecycleNotificationUrl": sub.lifecycle_url,
                "expirationDateTime": sub.expiration.isoformat(),
                "clientState": sub.client_state,
            }
            for sub in self.subscriptions.values()
        ]

    # --- subscriptions --------------------------------------------------------------------------
    @staticmethod
    def is_active(sub: Subscription, now: datetime) -> bool:
        return not sub.deleted and sub.expiration > now

    def add_subscription(self, sub: Subscription) -> None:
        self.subscriptions[sub.subscription_id] = sub

    def subscription(self, user: User, subscription_id: str) -> Subscription:
        sub = self.subscriptions.get(subscription_id)
        if sub is None or sub.deleted or sub.user.user_id != user.user_id:
            raise GraphApiError(
                404, "ResourceNotFound", f"The object '{subscription_id}' doesn't exist.", None
            )
        return sub

    def notify(
        self, mailbox: Mailbox, event: StoredEvent, change_type: str, occurrence: str | None = None
    ) -> None:
        """Queue a change notification for every live subscription that covers the event."""
        now = self.state.clock.now()
        for sub in self.subscriptions.values():
            if (
                sub.user.user_id != mailbox.user.user_id
                or sub.paused
                or not self.is_active(sub, now)
                or change_type not in sub.change_types
                or (sub.calendar_id is not None and sub.calendar_id != event.calendar_id)
            ):
                continue
            event_id = self.event_id(event, sub.immutable_ids, occurrence)
            resource = f"Users/{mailbox.user.user_id}/Events/{event_id}"
            item = {
                "subscriptionId": sub.subscription_id,
                "subscriptionExpirationDateTime": sub.expiration.isoformat(),
                "changeType": change_type,
                "resource": resource,
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Event",
                    "@odata.id": resource,
                    "@odata.etag": f'W/"{event.change_key}"',
                    "id": event_id,
                },
                "clientState": sub.client_state,
                "tenantId": mailbox.user.tenant_id,
            }
            self.state.notifier.send_graph(sub.notification_url, item)

    def trigger_lifecycle(self, subscription_id: str, event: str) -> None:
        """Send a lifecycle notification (admin API) and apply its effect on the subscription."""
        sub = self.subscriptions.get(subscription_id)
        if sub is None or sub.deleted:
            raise LookupError(f"no Graph subscription {subscription_id!r}")
        if event not in LIFECYCLE_EVENTS:
            raise ValueError(f"lifecycleEvent must be one of {list(LIFECYCLE_EVENTS)}")
        item = {
            "subscriptionId": sub.subscription_id,
            "subscriptionExpirationDateTime": sub.expiration.isoformat(),
            "tenantId": sub.user.tenant_id,
            "clientState": sub.client_state,
            "lifecycleEvent": event,
        }
        if event == "reauthorizationRequired":
            sub.paused = True
        elif event == "subscriptionRemoved":
            sub.deleted = True
        self.state.notifier.send_graph(sub.lifecycle_url or sub.notification_url, item, lifecycle=True)

    @staticmethod
    def new_subscription_id() -> str:
        return str(uuid.uuid4())
