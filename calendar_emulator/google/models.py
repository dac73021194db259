"""Google Calendar state: calendars, events (with recurrence exceptions and tombstones), sync
tokens, page cursors and push channels. Callers hold `state.lock` around every method.

Deleted events stay stored as tombstones (status cancelled), so their ids stay taken (409 on
re-insert, 410 on a second delete) and incremental sync can report them.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from calendar_emulator.backend import ProviderBackend
from calendar_emulator.google import calendar_list, eventdata, instances, listing
from calendar_emulator.google.channels import ChannelRegistry
from calendar_emulator.google.conference import conference_data
from calendar_emulator.google.errors import GoogleApiError, bad_request, not_found, sync_token_gone
from calendar_emulator.google.eventdata import format_updated, load_zone
from calendar_emulator.google.records import Calendar, StoredEvent
from calendar_emulator.store import User

DEFAULT_TIME_ZONE = "UTC"
DEFAULT_REMINDERS = [{"method": "popup", "minutes": 10}]
# The order Google writes an event's fields in; anything else the client set follows.
FIELD_ORDER = (
    "kind",
    "etag",
    "id",
    "status",
    "htmlLink",
    "created",
    "updated",
    "summary",
    "description",
    "location",
    "colorId",
    "creator",
    "organizer",
    "start",
    "end",
    "endTimeUnspecified",
    "recurrence",
    "recurringEventId",
    "originalStartTime",
    "transparency",
    "visibility",
    "iCalUID",
    "sequence",
    "attendees",
    "guestsCanInviteOthers",
    "guestsCanModify",
    "guestsCanSeeOtherGuests",
    "hangoutLink",
    "conferenceData",
    "extendedProperties",
    "reminders",
    "source",
    "eventType",
)

# Fields _assemble derives itself; never copied from the client's content as they are.
HANDLED_FIELDS = frozenset(
    {
        "id",
        "iCalUID",
        "recurrence",
        "attendees",
        "conferenceData",
        "hangoutLink",
        "extendedProperties",
        "reminders",
        "start",
        "end",
        "description",
    }
)


def deleted_error() -> GoogleApiError:
    return GoogleApiError(410, "deleted", "Resource has been deleted")


def cannot_delete_primary() -> GoogleApiError:
    return GoogleApiError(
        400, "cannotDeletePrimaryCalendar", "Cannot delete primary calendar.", domain="calendar"
    )


class GoogleBackend(ProviderBackend):
    def __init__(self, state) -> None:
        super().__init__(state)
        self.calendars: dict[str, Calendar] = {}  # by lower-cased id
        self.primary: dict[str, str] = {}  # lower-cased email -> primary calendar id
        self.owned: dict[str, list[str]] = {}  # lower-cased email -> calendar ids
        self.seq = 0
        self.global_generation = 0
        self.user_generation: dict[str, int] = {}
        self.pages = listing.PageTokens()
        self.list_pages = calendar_list.list_pages()
        self.removed_entries: dict[str, list[tuple[int, dict]]] = {}  # email -> calendar list tombstones
        self.channels = ChannelRegistry(state.notifier)

    # --- admin side (ProviderBackend) ----------------------------------------------------------
    def create_mailbox(self, user: User) -> str:
        key = user.email.lower()
        if key not in self.primary:
            self._new_calendar(user, user.email, user.email, primary=True)
            self.primary[key] = user.email
        return self.primary[key]

    def add_calendar(self, user: User, name: str) -> str:
        self.create_mailbox(user)
        calendar_id = f"{secrets.token_hex(13)}@group.calendar.google.com"
        self._new_calendar(user, calendar_id, name, primary=False)
        return calendar_id

    def invalidate_sync_tokens(self, user: User | None = None) -> None:
        if user is None:
            self.global_generation += 1
        else:
            key = user.email.lower()
            self.user_generation[key] = self.user_generation.get(key, 0) + 1

    def seed_events(self, user: User, calendar_id: str | None, events: list[dict]) -> list[str]:
        self.create_mailbox(user)
        calendar = self.calendar_for(user, calendar_id or "primary", lookup_error=True)
        ids = []
        try:
            for index, body in enumerate(events):
                if not isinstance(body, dict):
                    raise ValueError(f"events[{index}]: must be an object")
                try:
                    ids.append(
                        self.insert_event(calendar, body, conference_version=1, notify=False, seeded=True)[
                            "id"
                        ]
                    )
                except GoogleApiError as exc:
                    raise ValueError(f"events[{index}]: {exc.message}") from None
        finally:
            if ids:
                self._notify(calendar)
        return ids

    def dump(self, user: User) -> list[dict]:
        return [
            {"calendar_id": calendar.id, "id": item.id, "deleted": item.cancelled, "event": item.body}
            for calendar in self.calendars_of(user)
            for item in calendar.events.values()
        ]

    def watches(self) -> list[dict]:
        return self.channels.listing(self._now())

    # --- calendars -----------------------------------------------------------------------------
    def _new_calendar(self, user: User, calendar_id: str, summary: str, primary: bool) -> Calendar:
        now = format_updated(self._now())
        calendar = Calendar(
            id=calendar_id,
            owner=user,
            summary=summary,
            time_zone=DEFAULT_TIME_ZONE,
            primary=primary,
            resource_id=secrets.token_urlsafe(20),
            etag=f'"{secrets.randbelow(10**16)}"',
            updated=now,
            list_seq=self._next_seq(),
        )
        self.calendars[calendar_id.lower()] = calendar
        self.owned.setdefault(user.email.lower(), []).append(calendar_id)
        return calendar

    def calendar_for(self, user: User, calendar_id: str, lookup_error: bool = False) -> Calendar:
        """The user's calendar named by id or `primary`; someone else's calendar is Not Found."""
        if calendar_id == "primary":
            calendar_id = self.primary.get(user.email.lower(), "")
        calendar = self.calendars.get(calendar_id.lower())
        if calendar is None or calendar.owner.email.lower() != user.email.lower():
            if lookup_error:
                raise LookupError(f"calendar_id: no calendar {calendar_id!r} for {user.email}")
            raise not_found()
        return calendar

    def delete_calendar(self, user: User, calendar_id: str) -> None:
        """calendars.delete: a secondary calendar goes with all its events. Dropping it from the
        lookups is enough: every call naming it (events, its sync and page tokens, watch) resolves
        the calendar first and answers 404, and its channels never fire again since nothing can
        change it any more. Google sends no notification for the deletion itself."""
        calendar = self.calendar_for(user, calendar_id)
        if calendar.primary:
            raise cannot_delete_primary()
        del self.calendars[calendar.id.lower()]
        self.owned[user.email.lower()].remove(calendar.id)
        tombstone = {**self.calendar_entry(calendar), "deleted": True}
        self.removed_entries.setdefault(user.email.lower(), []).append((self._next_seq(), tombstone))

    def calendar_list(self, user: User, query: calendar_list.CalendarListQuery) -> dict:
        """calendarList.list, full or incremental (see calendar_list.py)."""
        key = user.email.lower()
        point = self._list_sync_point(user)
        watermark = None
        if query.sync_token and not query.page_token:
            given = listing.decode_sync_token(query.sync_token)
            if (
                given.calendar_id != point.calendar_id
                or given.global_generation != point.global_generation
                or given.user_generation != point.user_generation
                or given.watermark > point.watermark
            ):
                raise sync_token_gone()
            watermark = given.watermark
        live = [(c.list_seq, self.calendar_entry(c)) for c in self.calendars_of(user)]
        return calendar_list.page(
            self.list_pages,
            key,
            query,
            live,
            self.removed_entries.get(key, []),
            watermark,
            listing.encode_sync_token(point),
        )

    def _list_sync_point(self, user: User) -> listing.SyncPoint:
        key = user.email.lower()
        return listing.SyncPoint(
            f"calendarList:{key}", self.global_generation, self.user_generation.get(key, 0), self.seq
        )

    def calendars_of(self, user: User) -> list[Calendar]:
        return [self.calendars[cid.lower()] for cid in self.owned.get(user.email.lower(), ())]

    @staticmethod
    def calendar_entry(calendar: Calendar) -> dict:
        entry = {
            "kind": "calendar#calendarListEntry",
            "etag": calendar.etag,
            "id": calendar.id,
            "summary": calendar.summary,
            "timeZone": calendar.time_zone,
            "colorId": "14" if calendar.primary else "7",
            "backgroundColor": "#9fe1e7" if calendar.primary else "#42d692",
            "foregroundColor": "#000000",
            "selected": True,
            "accessRole": "owner",
            "defaultReminders": DEFAULT_REMINDERS if calendar.primary else [],
            "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
        }
        if calendar.primary:
            entry["primary"] = True
        return entry

    # --- reading events ------------------------------------------------------------------------
    def find_event(self, calendar: Calendar, event_id: str) -> tuple[StoredEvent | None, dict | None]:
        """(stored item, None), or (None, generated instance body) for an unmodified instance."""
        item = calendar.events.get(event_id)
        if item is not None:
            return item, None
        split = instances.split_instance_id(event_id)
        if split is not None:
            master = calendar.events.get(split[0])
            if master is not None and master.rules is not None and not master.cancelled:
                original = instances.original_start_of(master, split[1])
                if original is not None and instances.occurrence_id(master.id, original) == event_id:
                    return None, instances.instance_body(master, original, calendar.id, self._zone(calendar))[
                        0
                    ]
        raise not_found()

    def get_event(self, calendar: Calendar, event_id: str) -> dict:
        item, generated = self.find_event(calendar, event_id)
        return item.body if item is not None else generated  # type: ignore[return-value]

    def list_events(self, user: User, calendar: Calendar, query: listing.ListQuery) -> dict:
        if query.page_token:
            owner = user.email.lower()
            snapshot, offset = self.pages.resolve(
                query.page_token, lambda listed: listed.calendar_id == calendar.id and listed.owner == owner
            )
        else:
            watermark = None
            if query.sync_token:
                watermark = self._check_sync_token(user, calendar, query.sync_token)
            rows = listing.collect(calendar, query, watermark)
            sync_token = None
            if not query.filtered:
                sync_token = listing.encode_sync_token(self._sync_point(user, calendar))
            snapshot, offset = listing.Snapshot(calendar.id, user.email.lower(), rows, sync_token), 0
        end = offset + query.max_results
        response = {
            "kind": "calendar#events",
            "etag": f'"p{self.seq}"',
            "summary": calendar.summary,
            "description": "",
            "updated": calendar.updated,
            "timeZone": query.time_zone or calendar.time_zone,
            "accessRole": "owner",
            "defaultReminders": DEFAULT_REMINDERS if calendar.primary else [],
        }
        if end < len(snapshot.rows):
            response["nextPageToken"] = self.pages.mint(snapshot, end)
        elif snapshot.sync_token is not None:
            response["nextSyncToken"] = snapshot.sync_token
        response["items"] = snapshot.rows[offset:end]
        return response

    def list_instances(self, user: User, calendar: Calendar, event_id: str, query: listing.ListQuery) -> dict:
        master = calendar.events.get(event_id)
        if master is None or master.master_id is not None:
            raise not_found()
        if master.cancelled:
            raise deleted_error()
        query.single_events = True
        query.master_id = event_id
        response = self.list_events(user, calendar, query)
        if master.rules is None:  # a single event is its own only instance
            response["items"] = [master.body] if not query.page_token else []
        return response

    def _sync_point(self, user: User, calendar: Calendar) -> listing.SyncPoint:
        return listing.SyncPoint(
            calendar.id, self.global_generation, self.user_generation.get(user.email.lower(), 0), self.seq
        )

    def _check_sync_token(self, user: User, calendar: Calendar, token: str) -> int:
        point = listing.decode_sync_token(token)
        current = self._sync_point(user, calendar)
        if (
            point.calendar_id != calendar.id
            or point.global_generation != current.global_generation
            or point.user_generation != current.user_generation
            or point.watermark > current.watermark
        ):
            raise sync_token_gone()
        return point.watermark

    # --- writing events ------------------------------------------------------------------------
    def insert_event(
        self,
        calendar: Calendar,
        raw: dict,
        conference_version: int = 0,
        notify: bool = True,
        seeded: bool = False,
    ) -> dict:
        eventdata.check_body(raw)
        event_id = raw.get("id")
        if event_id is not None:
            eventdata.check_client_id(event_id)
            if raw.get("iCalUID") is not None:
                raise bad_request("invalid", "Only one of id and iCalUID may be given.")
            if event_id in calendar.events:
                raise GoogleApiError(409, "duplicate", "The requested identifier already exists.")
        else:
            event_id = eventdata.new_event_id()
        content = eventdata.writable(raw)
        content.pop("id", None)
        item = self._assemble(
            calendar, event_id, content, conference_version=conference_version, seeded=seeded
        )
        self._store(calendar, item, notify)
        return item.body

    def update_event(
        self, calendar: Calendar, event_id: str, raw: dict, conference_version: int, if_match: str | None
    ) -> dict:
        eventdata.check_body(raw)
        previous, generated = self.find_event(calendar, event_id)
        _check_etag(previous.body if previous else generated, if_match)  # type: ignore[union-attr]
        content = eventdata.writable(raw)
        return self._rewrite(calendar, event_id, previous, generated, content, conference_version)

    def patch_event(
        self, calendar: Calendar, event_id: str, raw: dict, conference_version: int, if_match: str | None
    ) -> dict:
        eventdata.check_body(raw)
        previous, generated = self.find_event(calendar, event_id)
        current = previous.body if previous else generated
        _check_etag(current, if_match)  # type: ignore[arg-type]
        patch = {key: value for key, value in raw.items() if key not in eventdata.SERVER_FIELDS}
        content = eventdata.deep_merge(eventdata.writable(current), patch)  # type: ignore[arg-type]
        return self._rewrite(calendar, event_id, previous, generated, content, conference_version)

    def delete_event(self, calendar: Calendar, event_id: str, if_match: str | None) -> None:
        previous, generated = self.find_event(calendar, event_id)
        current = previous.body if previous else generated
        _check_etag(current, if_match)  # type: ignore[arg-type]
        if previous is not None and previous.cancelled:
            raise deleted_error()
        base = previous if previous is not None else self._exception_base(calendar, event_id)
        now = self._now()
        self._store(calendar, self._cancelled_copy(base, now), notify=False)
        if base.rules is not None:  # a whole series goes: its exceptions go with it
            for exception_id in sorted(calendar.exceptions.get(base.id, ())):
                exception = calendar.events[exception_id]
                if not exception.cancelled:
                    self._store(calendar, self._cancelled_copy(exception, now), notify=False)
        self._notify(calendar)

    def _rewrite(
        self,
        calendar: Calendar,
        event_id: str,
        previous: StoredEvent | None,
        generated: dict | None,
        content: dict,
        conference_version: int,
    ) -> dict:
        content.pop("id", None)
        if previous is None:  # the first change to an instance makes it an exception
            previous = self._exception_base(calendar, event_id)
        if previous.master_id is not None:
            content.pop("recurrence", None)
        item = self._assemble(
            calendar, event_id, content, previous=previous, conference_version=conference_version
        )
        times_changed = previous.start != item.start or previous.end != item.end
        self._store(calendar, item, notify=False)
        if previous.rules is not None and (
            times_changed or previous.body.get("recurrence") != item.body.get("recurrence")
        ):
            self._drop_orphan_exceptions(calendar, item)
        self._notify(calendar)
        return item.body

    def _exception_base(self, calendar: Calendar, instance_id: str) -> StoredEvent:
        """A not-yet-stored exception: the unmodified instance, as the base of its first change."""
        master_id, suffix = instances.split_instance_id(instance_id)  # type: ignore[misc]
        master = calendar.events[master_id]
        original = instances.original_start_of(master, suffix)
        assert original is not None
        body, start = instances.instance_body(master, original, calendar.id, self._zone(calendar))
        _, end = instances.occurrence_times(master, original, self._zone(calendar))
        return StoredEvent(body, master.seq, start, end, master_id=master_id, original_start=original)

    def _drop_orphan_exceptions(self, calendar: Calendar, master: StoredEvent) -> None:
        """After the series' times or rules change (or it stops recurring), exceptions of vanished
        instances are deleted."""
        now = self._now()
        for exception_id in sorted(calendar.exceptions.get(master.id, ())):
            exception = calendar.events[exception_id]
            if exception.cancelled or exception.original_start is None:
                continue
            original = exception.original_start
            if master.rules is None or not master.rules.between(original, original, inc=True):
                self._store(calendar, self._cancelled_copy(exception, now), notify=False)

    def _cancelled_copy(self, item: StoredEvent, now: datetime) -> StoredEvent:
        seq = self._next_seq()
        body = dict(item.body)
        body.update(status="cancelled", etag=_etag(now, seq), updated=format_updated(now))
        return StoredEvent(body, seq, item.start, item.end, item.rules, item.master_id, item.original_start)

    def _assemble(
        self,
        calendar: Calendar,
        event_id: str,
        content: dict,
        previous: StoredEvent | None = None,
        conference_version: int = 0,
        seeded: bool = False,
    ) -> StoredEvent:
        """The stored form of a new or rewritten event, from validated client content."""
        content = eventdata.prune_nulls(content)
        zone = self._zone(calendar)
        start = eventdata.parse_event_time(content.get("start"), "start", zone)
        end = eventdata.parse_event_time(content.get("end"), "end", zone)
        if start.all_day != end.all_day:
            raise bad_request("invalid", "Start and end times must either both be date or both be dateTime.")
        if end.instant < start.instant or (start.all_day and end.instant == start.instant):
            raise GoogleApiError(
                400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar"
            )
        master_id = previous.master_id if previous else None
        recurrence = (
            eventdata.check_recurrence_lines(content.get("recurrence") or []) if not master_id else []
        )
        rules = None
        if recurrence:
            if not start.all_day and start.zone is None:
                raise bad_request("invalid", "Missing time zone definition for start time.")
            rules = instances.build_rules(recurrence, start)
        now = self._now()
        seq = self._next_seq()
        owner = calendar.owner
        body: dict = {
            "kind": "calendar#event",
            "etag": _etag(now, seq),
            "id": event_id,
            "status": content.get("status") or "confirmed",
            "htmlLink": eventdata.html_link(event_id, calendar.id),
            "created": previous.body["created"] if previous else format_updated(now),
            "updated": format_updated(now),
        }
        for key in ("summary",):
            if key in content:
                body[key] = content[key]
        body["description"] = self._description(content.get("description"), seeded)
        for key in ("location", "colorId"):
            if key in content:
                body[key] = content[key]
        body["creator"] = {"email": owner.email, "self": True}
        body["organizer"] = self._organizer(calendar)
        body["start"] = start.render()
        body["end"] = end.render()
        if recurrence:
            body["recurrence"] = recurrence
        if previous is not None and master_id:
            body["recurringEventId"] = master_id
            body["originalStartTime"] = previous.body["originalStartTime"]
        if previous is not None:
            body["iCalUID"] = previous.body["iCalUID"]
        else:
            body["iCalUID"] = content.get("iCalUID") or f"{event_id}@google.com"
        sequence = previous.body.get("sequence", 0) if previous else 0
        if previous is not None and (
            previous.start != start
            or previous.end != end
            or previous.body.get("recurrence", []) != recurrence
        ):
            sequence += 1
        body["sequence"] = sequence
        if content.get("attendees"):
            body["attendees"] = eventdata.clean_attendees(content["attendees"], owner.email)
        conference = conference_data(content, previous.body if previous else None, conference_version)
        if conference is not None:
            video = [e for e in conference.get("entryPoints", ()) if e.get("entryPointType") == "video"]
            solution = (conference.get("conferenceSolution") or {}).get("key") or {}
            if video and solution.get("type") == "hangoutsMeet":
                body["hangoutLink"] = video[0].get("uri")
            body["conferenceData"] = conference
        if content.get("extendedProperties"):
            body["extendedProperties"] = eventdata.clean_extended_properties(content["extendedProperties"])
        body["reminders"] = eventdata.clean_reminders(content.get("reminders") or {"useDefault": True})
        body["eventType"] = content.get("eventType") or "default"
        # The remaining plain fields (transparency, visibility, guestsCan*, source, ...) as given.
        for key in (*FIELD_ORDER, *content):
            if key not in body and key in content and key not in HANDLED_FIELDS:
                body[key] = content[key]
        return StoredEvent(
            body,
            seq,
            start,
            end,
            rules=rules,
            master_id=master_id,
            original_start=previous.original_start if previous else None,
        )

    @staticmethod
    def _organizer(calendar: Calendar) -> dict:
        if calendar.primary:
            return {"email": calendar.owner.email, "self": True}
        return {"email": calendar.id, "displayName": calendar.summary, "self": True}

    # --- move, import, quickAdd ----------------------------------------------------------------
    def move_event(self, source: Calendar, event_id: str, destination: Calendar) -> dict:
        """events.move: the event (a whole series with its exceptions) changes calendar and
        organizer, keeping its id; the source keeps a tombstone so its incremental sync reports
        the event as cancelled. Instances cannot be moved on their own."""
        item, generated = self.find_event(source, event_id)
        if item is None or item.master_id is not None:
            raise GoogleApiError(
                400,
                "cannotChangeOrganizerOfInstance",
                "Cannot change the organizer of an instance.",
                domain="calendar",
            )
        if item.cancelled:
            raise deleted_error()
        if item.body.get("eventType", "default") != "default":
            raise bad_request("eventTypeRestriction", "Only default events can be moved.")
        if destination.id == source.id:
            return item.body
        moving = [item] + [
            source.events[e]
            for e in sorted(source.exceptions.get(item.id, ()))
            if not source.events[e].cancelled
        ]
        if any(m.id in destination.events for m in moving):
            raise GoogleApiError(409, "duplicate", "The requested identifier already exists.")
        now = self._now()
        for moved in moving:
            self._store(source, self._cancelled_copy(moved, now), notify=False)
            seq = self._next_seq()
            body = dict(moved.body)
            body.update(
                etag=_etag(now, seq),
                updated=format_updated(now),
                htmlLink=eventdata.html_link(moved.id, destination.id),
                organizer=self._organizer(destination),
            )
            self._store(
                destination,
                StoredEvent(
                    body, seq, moved.start, moved.end, moved.rules, moved.master_id, moved.original_start
                ),
                notify=False,
            )
        self._notify(source)
        self._notify(destination)
        return destination.events[item.id].body

    def import_event(self, calendar: Calendar, raw: dict, conference_version: int) -> dict:
        """events.import: a private copy keyed by iCalUID. A second import of the same iCalUID
        updates the copy it made (keeping its id); the given organizer is kept."""
        eventdata.check_body(raw)
        ical_uid = raw.get("iCalUID")
        if not isinstance(ical_uid, str) or not ical_uid:
            raise bad_request("required", "Missing iCalUID.", "iCalUID")
        if raw.get("eventType", "default") != "default":
            raise bad_request("eventTypeRestriction", "Only default events can be imported.")
        content = eventdata.writable(raw)
        existing = next(
            (
                e
                for e in calendar.events.values()
                if e.master_id is None and not e.cancelled and e.body.get("iCalUID") == ical_uid
            ),
            None,
        )
        if existing is not None:
            content.pop("id", None)
            item = self._assemble(
                calendar, existing.id, content, previous=existing, conference_version=conference_version
            )
        else:
            event_id = content.pop("id", None)
            if event_id is not None:
                eventdata.check_client_id(event_id)
                if event_id in calendar.events:
                    raise GoogleApiError(409, "duplicate", "The requested identifier already exists.")
            else:
                event_id = eventdata.new_event_id()
            item = self._assemble(calendar, event_id, content, conference_version=conference_version)
        organizer = raw.get("organizer")
        if isinstance(organizer, dict) and isinstance(organizer.get("email"), str):
            body = dict(item.body)
            own = organizer["email"].lower() in (calendar.id.lower(), calendar.owner.email.lower())
            body["organizer"] = {
                "email": organizer["email"],
                **({"displayName": organizer["displayName"]} if organizer.get("displayName") else {}),
                **({"self": True} if own else {}),
            }
            item.body = body
        self._store(calendar, item, notify=True)
        return item.body

    def quick_add(self, calendar: Calendar, text: str) -> dict:
        """events.quickAdd: Google parses dates and times out of the text; the emulator does not,
        and makes a one-hour event at the next full hour titled with the whole text."""
        zone = self._zone(calendar)
        start = self._now().astimezone(zone).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        end = start + timedelta(hours=1)
        body = {
            "summary": text,
            "start": {"dateTime": start.isoformat(), "timeZone": calendar.time_zone},
            "end": {"dateTime": end.isoformat(), "timeZone": calendar.time_zone},
        }
        return self.insert_event(calendar, body)

    def _description(self, description: str | None, seeded: bool) -> str:
        canary = self.state.identity.canary_to_add(description, seeded)
        if canary is None:
            return description  # type: ignore[return-value]
        return f"{description}\n\n{canary}" if description else canary

    # --- channels ------------------------------------------------------------------------------
    def watch(self, user: User, calendar: Calendar, body: dict, resource_uri: str) -> dict:
        channel = self.channels.open(
            user, calendar, body, resource_uri, self._now(), self.state.config.google_max_channel_seconds
        )
        return channel.response()

    def stop_channel(self, user: User, body: dict) -> None:
        self.channels.stop(user, body)

    # --- plumbing ------------------------------------------------------------------------------
    def _store(self, calendar: Calendar, item: StoredEvent, notify: bool = True) -> None:
        calendar.events[item.id] = item
        calendar.record_change(item.seq, item.id)
        calendar.updated = item.updated
        if item.master_id is not None:
            calendar.exceptions.setdefault(item.master_id, set()).add(item.id)
        if notify:
            self._notify(calendar)

    def _notify(self, calendar: Calendar) -> None:
        self.channels.notify(calendar.id, self._now())

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _now(self) -> datetime:
        return self.state.clock.now()

    @staticmethod
    def _zone(calendar: Calendar) -> ZoneInfo:
        return load_zone(calendar.time_zone) or ZoneInfo("UTC")


def _etag(now: datetime, seq: int) -> str:
    return f'"{int(now.timestamp() * 1000)}{seq % 1000:03d}"'


def _check_etag(current: dict, if_match: str | None) -> None:
    if if_match is None:
        return
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in wanted and current["etag"] not in wanted:
        raise GoogleApiError(
            412, "conditionNotMet", "Precondition Failed", location="If-Match", location_type="header"
        )
