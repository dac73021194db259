"""The demo's organisation: two sales managers (one on Google, one on Outlook), reps of every tenure
bucket, and a realistic month of meetings around today — recurring 1:1s with a moved and a
cancelled instance, group meetings, a room booking, a declined 1:1, an all-day offsite."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Rep:
    rep_id: str
    name: str
    email: str
    tenure_days: int | None  # None: start date unknown

    def start_date(self, today: date) -> str | None:
        return None if self.tenure_days is None else (today - timedelta(days=self.tenure_days)).isoformat()


@dataclass(frozen=True)
class Manager:
    manager_id: str
    name: str
    email: str
    provider: str
    time_zone: str
    reps: tuple[Rep, ...]


@dataclass
class MeetingPlan:
    """A provider-neutral meeting to put on a manager's calendar."""

    title: str
    start: datetime
    minutes: int
    attendees: list[tuple[str, str]]  # (email, name)
    rooms: list[tuple[str, str]] = field(default_factory=list)
    weekly_every: int | None = None  # 1 weekly, 2 biweekly
    count: int | None = None
    all_day: bool = False
    declined_by: str | None = None
    # After seeding, these instances (by index) are moved a day later or cancelled, as the user would.
    move_instance: int | None = None
    cancel_instance: int | None = None
    secondary_calendar: bool = False


ORGANISATION = (
    Manager(
        "mgr-maya",
        "Maya Chen",
        "maya.chen@acme-sales.test",
        "google",
        "America/New_York",
        (
            Rep("rep-liam", "Liam Ortiz", "liam.ortiz@acme-sales.test", 40),
            Rep("rep-ava", "Ava Patel", "ava.patel@acme-sales.test", 150),
            Rep("rep-noah", "Noah Kim", "noah.kim@acme-sales.test", 300),
            Rep("rep-emma", "Emma Rossi", "emma.rossi@acme-sales.test", None),
        ),
    ),
    Manager(
        "mgr-omar",
        "Omar Haddad",
        "omar.haddad@acme-sales.test",
        "microsoft",
        "Europe/London",
        (
            Rep("rep-sofia", "Sofia Lind", "sofia.lind@acme-sales.test", 20),
            Rep("rep-jack", "Jack Byrne", "jack.byrne@acme-sales.test", 200),
            Rep("rep-mia", "Mia Novak", "mia.novak@acme-sales.test", 700),
        ),
    ),
)
ROOM = ("room-harbor@acme-sales.test", "Harbor Room")
DIRECTOR = ("dana.director@acme-sales.test", "Dana Director")


def _at(day: date, hour: int, minute: int, zone: str) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _weekday_on_or_before(day: date, weekday: int) -> date:
    return day - timedelta(days=(day.weekday() - weekday) % 7)


def _suggested_interval_days(rep: Rep) -> int:
    """The default policy's interval (SPEC F10): weekly up to 180 days of tenure, else biweekly."""
    return 7 if rep.tenure_days is not None and rep.tenure_days <= 180 else 14


def month_of_meetings(manager: Manager, today: date) -> list[MeetingPlan]:
    """About five weeks back and a few ahead, different for each rep so every cadence status shows
    whatever the day: the first rep on track (weekly series), the second due, the third overdue
    (a 1:1 on the Coaching calendar 26 days ago, the next one booked too late), the fourth never met."""
    zone = manager.time_zone
    reps = manager.reps
    me = (manager.email, manager.name)
    start_week = _weekday_on_or_before(today - timedelta(days=35), 0)  # a Monday five weeks back
    plans = [
        MeetingPlan(
            f"{reps[0].name.split()[0]} / {manager.name.split()[0]} weekly 1:1",
            _at(start_week + timedelta(days=1), 10, 0, zone),
            30,
            [me, (reps[0].email, reps[0].name)],
            weekly_every=1,
            count=8,
            move_instance=2,
            cancel_instance=3,
        ),
        MeetingPlan(
            "Team pipeline sync",
            _at(start_week, 9, 0, zone),
            45,
            [me, *[(r.email, r.name) for r in reps]],
            weekly_every=1,
            count=7,
        ),
        MeetingPlan(
            "Quarter kickoff offsite",
            _at(today - timedelta(days=9), 0, 0, "UTC"),
            24 * 60,
            [me],
            all_day=True,
        ),
        MeetingPlan(
            f"Deal review: {reps[1].name.split()[0]} + {DIRECTOR[1].split()[0]}",
            _at(today - timedelta(days=6), 15, 0, zone),
            30,
            [me, (reps[1].email, reps[1].name), DIRECTOR],
        ),
    ]
    if len(reps) > 1:
        # Biweekly, but the last one was two days longer ago than the rep's cadence asks and none
        # is booked: `due`, whatever the weekday the demo runs on.
        gap = _suggested_interval_days(reps[1]) + 2
        plans.append(
            MeetingPlan(
                f"1:1 {manager.name.split()[0]} <> {reps[1].name.split()[0]}",
                _at(today - timedelta(days=gap + 28), 14, 0, zone),
                45,
                [me, (reps[1].email, reps[1].name)],
                weekly_every=2,
                count=3,
            )
        )
        plans.append(
            MeetingPlan(
                f"1:1 {reps[1].name.split()[0]} (declined)",
                _at(today - timedelta(days=4), 11, 0, zone),
                30,
                [me, (reps[1].email, reps[1].name)],
                declined_by=reps[1].email,
            )
        )
    if len(reps) > 2:
        plans.append(
            MeetingPlan(
                f"Coaching: {reps[2].name}",
                _at(today - timedelta(days=26), 16, 0, zone),
                50,
                [me, (reps[2].email, reps[2].name)],
                secondary_calendar=True,
            )
        )
        plans.append(
            MeetingPlan(
                f"1:1 {reps[2].name.split()[0]} in the {ROOM[1]}",
                # Booked beyond the rep's cadence: with the last 1:1 26 days ago, `overdue`.
                _at(today + timedelta(days=16), 13, 30, zone),
                30,
                [me, (reps[2].email, reps[2].name)],
                rooms=[ROOM],
            )
        )
    return plans
