"""A manager's calendar, made through the provider's own API as the user, and the rows SMVue must
hold for it. One shape, two providers: the expectations are written once and must hold for both."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

from tests.sync.conftest import Mailbox

IANA_ZONE = "America/New_York"
WINDOWS_ZONE = "Eastern Standard Time"  # Graph accepts Windows names; the same zone
ZONE = ZoneInfo(IANA_ZONE)
SERIES_COUNT = 6
MOVED_INDEX = 3  # next week's instance moves a day and an hour later
CANCELLED_INDEX = 4  # the week after is cancelled
ROOM = "room-4b@resource.smvue-test.example"
REP_A = "ana.rep@smvue-test.example"
REP_B = "bo.rep@smvue-test.example"


@dataclass(frozen=True)
class Expected:
    calendar: str  # calendar name
    title: str
    start: datetime  # UTC
    end: datetime
    is_all_day: bool = False
    recurring_event_id: str | None = None
    original_start_at: datetime | None = None
    attendees: frozenset[tuple[str, str, bool, bool]] = frozenset()  # email, response, organizer, resource
    video_link: str | None = None
    location: str | None = None
    status: str = "confirmed"


@dataclass
class Scenario:
    mailbox: Mailbox
    today: date
    primary_name: str
    expected: dict[str, Expected] = field(default_factory=dict)  # by event id
    single_id: str = ""
    series_id: str = ""
    instance_ids: list[str] = field(default_factory=list)  # in order, before any change
    group_id: str = ""
    all_day_id: str = ""
    second_id: str = ""

    def live(self) -> dict[str, Expected]:
        return {k: v for k, v in self.expected.items() if v.status != "cancelled"}


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def series_start(today: date, index: int) -> datetime:
    """Instance `index` of the weekly series: 09:00 New York, starting two weeks ago (DST-proof)."""
    return local(today - timedelta(days=14) + timedelta(weeks=index), 9)


# --- provider shapes ---------------------------------------------------------------------------
def google_time(value: datetime) -> dict:
    return {"dateTime": value.isoformat(), "timeZone": IANA_ZONE}


def graph_time(value: datetime) -> dict:
    return {"dateTime": value.replace(tzinfo=None).isoformat(), "timeZone": WINDOWS_ZONE}


# Descriptions come back exactly as written, so what the user writes carries the test's own
# canary; the privacy tests search every file for it (the emulator's canary only marks events
# seeded or written without a description).
PRIVATE_NOTES = f"Private agenda: compensation talk. SCENARIO-CANARY-{uuid.uuid4().hex[:12]}"


def google_event(title: str, start: datetime, minutes: int, **extra) -> dict:
    body = {
        "summary": title,
        "start": google_time(start),
        "end": google_time(start + timedelta(minutes=minutes)),
        "description": PRIVATE_NOTES,
    }
    return body | extra


def graph_event(title: str, start: datetime, minutes: int, **extra) -> dict:
    body = {
        "subject": title,
        "start": graph_time(start),
        "end": graph_time(start + timedelta(minutes=minutes)),
        "body": {"contentType": "text", "content": PRIVATE_NOTES},
    }
    return body | extra


def build(mailbox: Mailbox, today: date | None = None) -> Scenario:
    """The initial calendar of test 1, made as the user; returns what must be synced."""
    today = today or datetime.now(UTC).date()
    primary_name = mailbox.email if mailbox.provider == "google" else "Calendar"
    scenario = Scenario(mailbox, today, primary_name)
    if mailbox.provider == "google":
        _build_google(scenario)
    else:
        _build_graph(scenario)
    return scenario


def _organizer(email: str) -> tuple[str, str, bool, bool]:
    return (email.lower(), "accepted", True, False)


GROUP_ATTENDEES = frozenset(
    [(REP_A, "accepted", False, False), (REP_B, "tentative", False, False), (ROOM, "accepted", False, True)]
)


def _expect_common(s: Scenario) -> dict:
    """Expectations that do not depend on provider ids."""
    t = s.today
    return {
        "single": Expected(s.primary_name, "Pipeline review", utc(local(t + timedelta(days=2), 10)),
                           utc(local(t + timedelta(days=2), 10, 30))),
        "all_day": Expected(s.primary_name, "Offsite", datetime(*(t + timedelta(days=5)).timetuple()[:3], tzinfo=UTC),
                            datetime(*(t + timedelta(days=6)).timetuple()[:3], tzinfo=UTC), is_all_day=True),
        "group": Expected(s.primary_name, "Team sync", utc(local(t + timedelta(days=2), 13)),
                          utc(local(t + timedelta(days=2), 14)),
                          attendees=GROUP_ATTENDEES | {_organizer(s.mailbox.email)}, location="Room 4B"),
        "second": Expected("Coaching", "Coaching block", utc(local(t + timedelta(days=1), 15)),
                           utc(local(t + timedelta(days=1), 16))),
    }  # fmt: skip


def _expect_series(s: Scenario) -> None:
    for index, instance_id in enumerate(s.instance_ids):
        if index == CANCELLED_INDEX:
            continue
        original = utc(series_start(s.today, index))
        start = original + (timedelta(days=1, hours=1) if index == MOVED_INDEX else timedelta())
        s.expected[instance_id] = Expected(
            s.primary_name,
            "Weekly 1:1",
            start,
            start + timedelta(minutes=30),
            recurring_event_id=s.series_id,
            original_start_at=original,
        )


def _build_google(s: Scenario) -> None:
    actor = s.mailbox.actor()
    me = s.mailbox.email
    common = _expect_common(s)
    t = s.today
    single = actor.insert(google_event("Pipeline review", local(t + timedelta(days=2), 10), 30))
    series = actor.insert(
        google_event(
            "Weekly 1:1",
            series_start(t, 0),
            30,
            recurrence=[f"RRULE:FREQ=WEEKLY;COUNT={SERIES_COUNT}"],
            attendees=[
                {"email": me, "responseStatus": "accepted", "organizer": True},
                {"email": REP_A, "responseStatus": "accepted"},
            ],
        )
    )
    instances = actor.instances(series["id"])
    assert len(instances) == SERIES_COUNT
    moved = instances[MOVED_INDEX]
    new_start = series_start(t, MOVED_INDEX) + timedelta(days=1, hours=1)
    actor.patch(
        moved["id"],
        {"start": google_time(new_start), "end": google_time(new_start + timedelta(minutes=30))},
    )
    actor.delete(instances[CANCELLED_INDEX]["id"])
    day = t + timedelta(days=5)
    all_day = actor.insert(
        {
            "summary": "Offsite",
            "start": {"date": day.isoformat()},
            "end": {"date": (day + timedelta(days=1)).isoformat()},
        }
    )
    group = (
        actor.service.events()
        .insert(
            calendarId="primary",
            conferenceDataVersion=1,
            body=google_event(
                "Team sync",
                local(t + timedelta(days=2), 13),
                60,
                location="Room 4B",
                attendees=[
                    {"email": me, "responseStatus": "accepted", "organizer": True},
                    {"email": REP_A, "responseStatus": "accepted"},
                    {"email": REP_B, "responseStatus": "tentative"},
                    {"email": ROOM, "responseStatus": "accepted", "resource": True},
                ],
                conferenceData={"createRequest": {"requestId": uuid.uuid4().hex}},
            ),
        )
        .execute()
    )
    assert group.get("hangoutLink")
    second = actor.insert(
        google_event("Coaching block", local(t + timedelta(days=1), 15), 60), s.mailbox.second_calendar_id
    )
    s.single_id, s.series_id, s.group_id = single["id"], series["id"], group["id"]
    s.all_day_id, s.second_id = all_day["id"], second["id"]
    s.instance_ids = [i["id"] for i in instances]
    s.expected[s.single_id] = common["single"]
    s.expected[s.all_day_id] = common["all_day"]
    s.expected[s.group_id] = replace(common["group"], video_link=group["hangoutLink"])
    s.expected[s.second_id] = common["second"]
    _expect_series(s)
    for instance_id in s.instance_ids:
        if instance_id in s.expected:
            s.expected[instance_id] = replace(
                s.expected[instance_id],
                attendees=frozenset([_organizer(me), (REP_A, "accepted", False, False)]),
            )


def _build_graph(s: Scenario) -> None:
    actor = s.mailbox.actor()
    me = s.mailbox.email
    common = _expect_common(s)
    t = s.today
    single = actor.create(graph_event("Pipeline review", local(t + timedelta(days=2), 10), 30))
    first = series_start(t, 0)
    series = actor.create(
        graph_event(
            "Weekly 1:1",
            first,
            30,
            attendees=[
                {
                    "emailAddress": {"address": REP_A, "name": "Ana Rep"},
                    "type": "required",
                    "status": {"response": "accepted"},
                }
            ],
            recurrence={
                "pattern": {
                    "type": "weekly",
                    "interval": 1,
                    "daysOfWeek": [first.strftime("%A").lower()],
                    "firstDayOfWeek": "monday",
                },
                "range": {
                    "type": "numbered",
                    "startDate": first.date().isoformat(),
                    "numberOfOccurrences": SERIES_COUNT,
                    "recurrenceTimeZone": WINDOWS_ZONE,
                },
            },
        )
    )
    occurrences = sorted(
        actor.occurrences(series["id"], first - timedelta(days=1), first + timedelta(weeks=SERIES_COUNT + 1)),
        key=lambda o: o["start"]["dateTime"],
    )
    assert len(occurrences) == SERIES_COUNT
    new_start = series_start(t, MOVED_INDEX) + timedelta(days=1, hours=1)
    actor.patch(
        occurrences[MOVED_INDEX]["id"],
        {"start": graph_time(new_start), "end": graph_time(new_start + timedelta(minutes=30))},
    )
    actor.delete(occurrences[CANCELLED_INDEX]["id"])
    day = t + timedelta(days=5)
    all_day = actor.create(
        {
            "subject": "Offsite",
            "isAllDay": True,
            "start": {"dateTime": f"{day.isoformat()}T00:00:00", "timeZone": WINDOWS_ZONE},
            "end": {
                "dateTime": f"{(day + timedelta(days=1)).isoformat()}T00:00:00",
                "timeZone": WINDOWS_ZONE,
            },
        }
    )
    group = actor.create(
        graph_event(
            "Team sync",
            local(t + timedelta(days=2), 13),
            60,
            location={"displayName": "Room 4B"},
            isOnlineMeeting=True,
            onlineMeetingProvider="teamsForBusiness",
            attendees=[
                {"emailAddress": {"address": REP_A}, "type": "required", "status": {"response": "accepted"}},
                {
                    "emailAddress": {"address": REP_B},
                    "type": "optional",
                    "status": {"response": "tentativelyAccepted"},
                },
                {"emailAddress": {"address": ROOM}, "type": "resource", "status": {"response": "accepted"}},
            ],
        )
    )
    join_url = (group.get("onlineMeeting") or {}).get("joinUrl")
    assert join_url
    second = actor.create(
        graph_event("Coaching block", local(t + timedelta(days=1), 15), 60), s.mailbox.second_calendar_id
    )
    s.single_id, s.series_id, s.group_id = single["id"], series["id"], group["id"]
    s.all_day_id, s.second_id = all_day["id"], second["id"]
    s.instance_ids = [o["id"] for o in occurrences]
    s.expected[s.single_id] = common["single"]
    s.expected[s.all_day_id] = common["all_day"]
    s.expected[s.group_id] = replace(common["group"], video_link=join_url)
    s.expected[s.second_id] = common["second"]
    _expect_series(s)
    for instance_id in s.instance_ids:
        if instance_id in s.expected:
            s.expected[instance_id] = replace(
                s.expected[instance_id],
                attendees=frozenset([_organizer(me), (REP_A, "accepted", False, False)]),
            )


def attendee_set(row: dict) -> frozenset[tuple[str, str, bool, bool]]:
    return frozenset(
        (a["email"].lower(), a["response_status"], a["is_organizer"], a["is_resource"])
        for a in row["attendees"] or []
    )


def actual(row: dict) -> Expected:
    """A warehouse row in the shape of an expectation."""
    return Expected(
        calendar=row["calendar_name"],
        title=row["title"],
        start=row["start_at"].astimezone(UTC),
        end=row["end_at"].astimezone(UTC),
        is_all_day=row["is_all_day"],
        recurring_event_id=row["recurring_event_id"],
        original_start_at=row["original_start_at"].astimezone(UTC) if row["original_start_at"] else None,
        attendees=attendee_set(row),
        video_link=row["video_link"],
        location=row["location"],
        status=row["status"],
    )


# --- changes after the import (test 2) ---------------------------------------------------------
@dataclass
class Changes:
    created_id: str
    moved_id: str
    cancelled_instance_id: str
    cancelled_event_id: str
    deleted_id: str
    moved_second_id: str
    touched_series: int  # series whose instances a Graph delta may report sparsely


def change(s: Scenario) -> Changes:
    """As the user: create an event, move one (and one on the second calendar), cancel one
    instance and one whole event, delete another. Updates `s.expected` to what must follow."""
    t = s.today
    actor = s.mailbox.actor()
    created_start = local(t + timedelta(days=3), 11)
    moved_start = local(t + timedelta(days=2), 16)
    second_start = local(t + timedelta(days=4), 8)
    last_instance = s.instance_ids[SERIES_COUNT - 1]
    if s.mailbox.provider == "google":
        created = actor.insert(google_event("Fresh 1:1", created_start, 45))
        actor.patch(
            s.single_id,
            {"start": google_time(moved_start), "end": google_time(moved_start + timedelta(minutes=30))},
        )
        actor.patch(
            s.second_id,
            {"start": google_time(second_start), "end": google_time(second_start + timedelta(minutes=60))},
            s.mailbox.second_calendar_id,
        )
        actor.delete(last_instance)
        actor.patch(s.group_id, {"status": "cancelled"})
        actor.delete(s.all_day_id)
        actor.patch(s.series_id, {"summary": "Weekly 1:1 (renamed)"})
        titles = {i: actor.get(i)["summary"] for i in s.instance_ids}
    else:
        created = actor.create(graph_event("Fresh 1:1", created_start, 45))
        actor.patch(
            s.single_id,
            {"start": graph_time(moved_start), "end": graph_time(moved_start + timedelta(minutes=30))},
        )
        actor.patch(
            s.second_id,
            {"start": graph_time(second_start), "end": graph_time(second_start + timedelta(minutes=60))},
        )
        actor.delete(last_instance)
        actor.cancel(s.group_id, "Cancelled: off this week")
        actor.delete(s.all_day_id)
        actor.patch(s.series_id, {"subject": "Weekly 1:1 (renamed)"})
        titles = {
            i: actor._call("GET", f"me/events/{quote(i, safe='')}?$select=subject")["subject"]
            for i in s.instance_ids
            if i not in (last_instance, s.instance_ids[CANCELLED_INDEX])
        }
    s.expected[created["id"]] = Expected(
        s.primary_name, "Fresh 1:1", utc(created_start), utc(created_start + timedelta(minutes=45))
    )
    s.expected[s.single_id] = replace(
        s.expected[s.single_id], start=utc(moved_start), end=utc(moved_start + timedelta(minutes=30))
    )
    s.expected[s.second_id] = replace(
        s.expected[s.second_id], start=utc(second_start), end=utc(second_start + timedelta(minutes=60))
    )
    # Renaming the series touches every instance; the provider says which titles follow.
    assert "Weekly 1:1 (renamed)" in titles.values()
    for instance_id, title in titles.items():
        if instance_id in s.expected and instance_id != last_instance:
            s.expected[instance_id] = replace(s.expected[instance_id], title=title)
    for gone in (last_instance, s.group_id, s.all_day_id):
        s.expected[gone] = replace(s.expected[gone], status="cancelled")
    return Changes(created["id"], s.single_id, last_instance, s.group_id, s.all_day_id, s.second_id, 1)
