"""Planning prep reminders (F12) from the 1:1 table: one per 1:1 occurrence, at start − lead time.

The decision is a pure function (`plan`) over the 1:1 copies and the existing reminders, so the
rules read in one place:
- an occurrence is the set of 1:1 rows sharing manager, rep, iCalendar UID and original start
  (the same meeting on two calendars; a moved instance of a series) — it gets one reminder;
- a reminder follows its 1:1 when it moves (remind_at moves with it) until it is sent;
- cancelled, declined or archived before sending → withdrawn; a sent reminder is never touched;
- a reminder a sender holds (live lease) is left alone until the sender settles it;
- a 1:1 that already started keeps whatever state its reminder had (delivery expires late ones).
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb

from smvue_core.opstore.reminders import Reminder, ReminderRepository, reminder_id_for

DEFAULT_LEAD = timedelta(hours=24)
# How far back planning looks: reminders of 1:1s that started long ago are settled history.
LOOKBACK = timedelta(days=2)


@dataclass(frozen=True)
class OneOnOneCopy:
    one_on_one_id: str
    manager_id: str
    rep_id: str
    start_at: datetime
    status: str
    is_archived: bool
    occurrence_uid: str
    occurrence_start_at: datetime

    @property
    def occurrence(self) -> tuple:
        return (self.manager_id, self.rep_id, self.occurrence_uid, self.occurrence_start_at)


@dataclass(frozen=True)
class Create:
    copy: OneOnOneCopy
    remind_at: datetime


@dataclass(frozen=True)
class Move:
    reminder: Reminder
    copy: OneOnOneCopy
    remind_at: datetime
    reset: bool  # a withdrawn or failed reminder comes back with a clean slate


@dataclass(frozen=True)
class Withdraw:
    reminder: Reminder
    reason: str


@dataclass
class Plan:
    creates: list[Create] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    withdrawals: list[Withdraw] = field(default_factory=list)
    keeps: list[tuple[Reminder, OneOnOneCopy]] = field(default_factory=list)


def _why_not_live(copies: list[OneOnOneCopy]) -> str | None:
    """None when the occurrence started (its reminder is history), else why it gets no reminder."""
    if any(c.is_archived for c in copies):
        return "archived"
    statuses = {c.status for c in copies}
    if statuses & {"held", "scheduled"}:
        return None  # it is happening or happened: not a withdrawal
    if "declined" in statuses:
        return "declined"
    return "cancelled"


def plan(
    copies: list[OneOnOneCopy],
    reminders: list[Reminder],
    lead_for: Callable[[str], timedelta],
    now: datetime,
) -> Plan:
    result = Plan()
    by_occurrence: dict[tuple, list[OneOnOneCopy]] = defaultdict(list)
    for copy in copies:
        by_occurrence[copy.occurrence].append(copy)
    occurrence_of = {copy.one_on_one_id: copy.occurrence for copy in copies}
    attached: dict[tuple, list[Reminder]] = defaultdict(list)
    for reminder in reminders:
        key = occurrence_of.get(reminder.one_on_one_id)
        if key is None:
            # Its 1:1 is gone (rep left the team, event deleted for good): nothing to remind of.
            if reminder.state == "scheduled" and not reminder.is_leased(now):
                result.withdrawals.append(Withdraw(reminder, "1:1 no longer found"))
            continue
        attached[key].append(reminder)

    for key, group in by_occurrence.items():
        existing = attached.get(key, [])
        if any(r.state == "sent" for r in existing):
            # Exactly once: the occurrence had its reminder. Any other open one is a duplicate.
            for r in existing:
                if r.state == "scheduled" and not r.is_leased(now):
                    result.withdrawals.append(Withdraw(r, "occurrence already reminded"))
            continue
        if any(r.is_leased(now) for r in existing):
            continue  # a sender holds it; planning resumes once it settles
        archived = any(c.is_archived for c in group)
        live = [c for c in group if c.status == "scheduled" and not archived and c.start_at > now]
        if not live:
            reason = _why_not_live(group)
            if reason is not None:
                for r in existing:
                    if r.state == "scheduled":
                        result.withdrawals.append(Withdraw(r, reason))
            continue
        by_id = {c.one_on_one_id: c for c in live}
        # Keep the reminder whose copy is still live (a scheduled one first); the others go.
        keeper = next(
            (
                r
                for r in sorted(existing, key=lambda r: (r.state != "scheduled", r.reminder_id))
                if r.one_on_one_id in by_id
            ),
            None,
        )
        for r in existing:
            if r is not keeper and r.state == "scheduled":
                result.withdrawals.append(Withdraw(r, "superseded by another copy of the 1:1"))
        if keeper is None:
            target = sorted(live, key=lambda c: (-c.start_at.timestamp(), c.one_on_one_id))[0]
            result.creates.append(Create(target, target.start_at - lead_for(target.manager_id)))
            continue
        target = by_id[keeper.one_on_one_id]
        remind_at = target.start_at - lead_for(target.manager_id)
        moved = keeper.meeting_start_at != target.start_at or keeper.remind_at != remind_at
        if keeper.state == "scheduled" and not moved:
            result.keeps.append((keeper, target))
        elif keeper.state == "scheduled":
            result.moves.append(Move(keeper, target, remind_at, reset=False))
        elif keeper.state == "withdrawn" or (keeper.state == "failed" and moved):
            # Back from a cancel/archive, or a failed one whose 1:1 moved: a fresh chance.
            result.moves.append(Move(keeper, target, remind_at, reset=True))
        # a failed reminder of an unmoved 1:1 stays failed: visible, with its error
    return result


@dataclass(frozen=True)
class PlanOutcome:
    created: int
    moved: int
    withdrawn: int
    unchanged: int


def load_copies(con: duckdb.DuckDBPyConnection, now: datetime, extra_ids: list[str]) -> list[OneOnOneCopy]:
    """1:1 rows planning needs: upcoming and recent ones, and those existing reminders point at.
    Every copy of an occurrence that has one row in range is loaded too."""
    rows = con.execute(
        """
        WITH occurrences AS (
            SELECT one_on_one_id, manager_id, rep_id, start_at, status, is_archived,
                   coalesce(ical_uid, one_on_one_id) AS occurrence_uid,
                   coalesce(original_start_at, start_at) AS occurrence_start_at
            FROM analytics.one_on_one_meetings
        ),
        wanted AS (
            SELECT DISTINCT manager_id, rep_id, occurrence_uid, occurrence_start_at FROM occurrences
            WHERE start_at >= $since OR one_on_one_id IN (SELECT unnest($ids))
        )
        SELECT o.one_on_one_id, o.manager_id, o.rep_id, o.start_at, o.status, o.is_archived,
               o.occurrence_uid, o.occurrence_start_at
        FROM occurrences o JOIN wanted USING (manager_id, rep_id, occurrence_uid, occurrence_start_at)
        """,
        {"since": now - LOOKBACK, "ids": extra_ids},
    ).fetchall()
    return [OneOnOneCopy(*row) for row in rows]


def load_payloads(con: duckdb.DuckDBPyConnection, one_on_one_ids: list[str]) -> dict[str, str]:
    """The notification body per 1:1: who, when, where, and the coaching brief when dbt built one."""
    if not one_on_one_ids:
        return {}
    has_briefs = con.execute(
        """SELECT count(*) FROM information_schema.tables
           WHERE table_schema = 'analytics' AND table_name = 'coaching_briefs'"""
    ).fetchone()[0]
    brief = (
        "(SELECT any_value(b.brief_markdown) FROM analytics.coaching_briefs b WHERE b.one_on_one_id = o.one_on_one_id)"
        if has_briefs
        else "CAST(NULL AS VARCHAR)"
    )
    rows = con.execute(
        f"""SELECT o.one_on_one_id, o.manager_id, m.name, o.rep_id, t.name, o.title,
                   strftime(o.start_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ'),
                   strftime(o.end_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ'),
                   o.video_link, o.meeting_type, {brief}
            FROM analytics.one_on_one_meetings o
            LEFT JOIN app.managers m ON m.manager_id = o.manager_id
            LEFT JOIN app.team_members t ON t.rep_id = o.rep_id
            WHERE o.one_on_one_id IN (SELECT unnest($ids))""",
        {"ids": one_on_one_ids},
    ).fetchall()
    keys = (
        "one_on_one_id",
        "manager_id",
        "manager_name",
        "rep_id",
        "rep_name",
        "title",
        "start_at",
        "end_at",
        "video_link",
        "meeting_type",
        "brief_markdown",
    )
    return {row[0]: json.dumps(dict(zip(keys, row, strict=True)), sort_keys=True) for row in rows}


def plan_and_store(
    con: duckdb.DuckDBPyConnection,
    repo: ReminderRepository,
    now: datetime,
    default_lead: timedelta = DEFAULT_LEAD,
) -> PlanOutcome:
    """Read the 1:1s (warehouse), decide, and write the reminders in ONE opstore transaction."""
    with repo.store.transaction() as tx:
        reminders = repo.relevant(tx, now - LOOKBACK)
        leads = repo.lead_times(tx)
        copies = load_copies(con, now, [r.one_on_one_id for r in reminders])
        decided = plan(copies, reminders, lambda manager_id: leads.get(manager_id, default_lead), now)
        ids = [c.copy.one_on_one_id for c in decided.creates] + [m.copy.one_on_one_id for m in decided.moves]
        ids += [copy.one_on_one_id for _, copy in decided.keeps]
        payloads = load_payloads(con, ids)
        _apply(tx, decided, payloads, now)
    return PlanOutcome(
        created=len(decided.creates),
        moved=len(decided.moves),
        withdrawn=len(decided.withdrawals),
        unchanged=len(decided.keeps),
    )


def _apply(tx: sqlite3.Connection, decided: Plan, payloads: dict[str, str], now: datetime) -> None:
    for create in decided.creates:
        copy = create.copy
        ReminderRepository.create(
            tx,
            one_on_one_id=copy.one_on_one_id,
            manager_id=copy.manager_id,
            rep_id=copy.rep_id,
            meeting_start_at=copy.start_at,
            remind_at=create.remind_at,
            payload=payloads.get(copy.one_on_one_id),
            now=now,
        )
    for move in decided.moves:
        ReminderRepository.reschedule(
            tx,
            move.reminder.reminder_id,
            meeting_start_at=move.copy.start_at,
            remind_at=move.remind_at,
            payload=payloads.get(move.copy.one_on_one_id),
            reset=move.reset,
            now=now,
        )
    for withdrawal in decided.withdrawals:
        ReminderRepository.withdraw(tx, withdrawal.reminder.reminder_id, withdrawal.reason, now)
    for reminder, copy in decided.keeps:
        ReminderRepository.refresh_payload(tx, reminder.reminder_id, payloads.get(copy.one_on_one_id), now)


__all__ = ["DEFAULT_LEAD", "OneOnOneCopy", "Plan", "PlanOutcome", "plan", "plan_and_store", "reminder_id_for"]
