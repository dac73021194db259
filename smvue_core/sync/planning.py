"""Planning one change-queue tick: the queue rows past the cursor become one sync request.

Pure: the caller reads the queue and the connections it names (smvue_core/opstore/queue.py) and
launches what `plan_tick` decides (smvue_pipeline/sensors/change_queue.py). The run it launches
settles exactly the rows it covered (`queue_up_to`) after its warehouse commit, so planning never
deletes anything: a row still queued long after its run was launched means the run failed or was
lost, and it is planned again.
"""

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from smvue_core.clock import parse_utc
from smvue_core.opstore.queue import ConnectionView, QueuedChange
from smvue_core.sync.request import CalendarRef, SyncRequest

DEFAULT_STALE_AFTER = timedelta(minutes=15)
TAG_LIST_CHARS = 60

__all__ = [
    "DEFAULT_STALE_AFTER",
    "ConnectionView",
    "QueueCursor",
    "SyncPlan",
    "TickOutcome",
    "describe_many",
    "held_reason",
    "plan_tick",
]


# --- the cursor ------------------------------------------------------------------------------------
@dataclass
class QueueCursor:
    """What the sensor has launched: readable JSON in the Dagster UI.

    `last_queue_id` is the newest queue row read (launched, or held with a reason in the skip
    message); `last_run` / `launched_at` the latest launch; `in_flight` maps each connection that
    still has launched-but-unsettled rows to the run covering them and when it was launched
    (staleness is measured from there). A bare integer set by hand is read as `last_queue_id`.
    """

    last_queue_id: int = 0
    last_run: str | None = None
    launched_at: str | None = None
    in_flight: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str | None) -> "QueueCursor":
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
        except ValueError:
            # A bare integer (set by hand in the UI) is read as the last queue id.
            return cls(last_queue_id=int(raw))
        if isinstance(data, int):
            return cls(last_queue_id=data)
        return cls(
            last_queue_id=int(data.get("last_queue_id", 0)),
            last_run=data.get("last_run"),
            launched_at=data.get("launched_at"),
            in_flight=dict(data.get("in_flight") or {}),
        )

    def dump(self) -> str:
        return json.dumps(
            {
                "last_queue_id": self.last_queue_id,
                "last_run": self.last_run,
                "launched_at": self.launched_at,
                "in_flight": self.in_flight,
            },
            sort_keys=True,
        )


def held_reason(change: QueuedChange, connections: dict[str, ConnectionView]) -> str | None:
    """Why a row cannot be synced now (it stays queued), or None when it can."""
    connection = connections.get(change.connection_id)
    if connection is None:
        return "unknown connection"
    if not connection.can_sync:
        return f"connection {connection.status}" if connection.has_credentials else "no credentials"
    if not connection.selected:
        return "no calendar selected"
    if change.calendar_id is not None and change.calendar_id not in connection.selected:
        return "calendar not selected"
    return None


# --- planning one tick (pure) -------------------------------------------------------------------------
@dataclass
class SyncPlan:
    """One sync run: whole connections, single calendars, and the queue rows it covers."""

    run_key: str
    whole_connections: list[str]
    full_connections: list[str]
    calendars: list[tuple[str, str]]
    queue_up_to: int
    changes: int
    new_range: tuple[int, int] | None
    retried_connections: list[str]
    providers: list[str]
    # When the oldest change this run covers was received: the run's metadata measures the
    # sensor's wait from it.
    oldest_received_at: str | None = None

    @property
    def connection_ids(self) -> list[str]:
        return sorted(set(self.whole_connections) | {c for c, _ in self.calendars})

    @property
    def request(self) -> SyncRequest:
        """The sync run this plan launches."""
        return SyncRequest(
            connection_ids=tuple(self.whole_connections),
            calendars=tuple(CalendarRef(c, k) for c, k in self.calendars),
            full_connection_ids=tuple(self.full_connections),
            queue_up_to=self.queue_up_to,
        )

    def tags(self) -> dict[str, str]:
        connections = self.connection_ids
        return {
            "smvue/trigger": "change_queue_retry" if not self.new_range else "change_queue",
            "smvue/provider": ",".join(self.providers),
            "smvue/connection": describe_many(connections, "connections"),
            "smvue/scope": f"{len(self.whole_connections)} whole connections, {len(self.calendars)} calendars",
            "smvue/queue_up_to": str(self.queue_up_to),
            **(
                {"smvue/triggered_at": f"{parse_utc(self.oldest_received_at).timestamp():.3f}"}
                if self.oldest_received_at
                else {}
            ),
        }


def describe_many(items: list[str], noun: str) -> str:
    """One item as itself; several as a count and a truncated list (tags stay short)."""
    if len(items) == 1:
        return items[0]
    listed = ""
    for index, item in enumerate(items):
        more = f",+{len(items) - index} more"
        candidate = f"{listed},{item}" if listed else item
        if len(candidate) + len(more) > TAG_LIST_CHARS and index < len(items) - 1:
            listed = f"{listed}{more}" if listed else more.lstrip(",")
            break
        listed = candidate
    return f"{len(items)} {noun}: {listed}"


@dataclass
class TickOutcome:
    plan: SyncPlan | None
    cursor: QueueCursor
    skip_reason: str | None
    held: dict[str, int]


def plan_tick(
    pending: list[QueuedChange],
    cursor: QueueCursor,
    connections: dict[str, ConnectionView],
    now: datetime,
    stale_after: timedelta,
) -> TickOutcome:
    """Decide this tick: what is new, what is stale, what is held, and the single run to launch."""
    held: dict[str, int] = defaultdict(int)
    launchable: list[QueuedChange] = []
    for change in pending:
        reason = held_reason(change, connections)
        if reason:
            held[reason] += 1
        else:
            launchable.append(change)

    new = [c for c in launchable if c.queue_id > cursor.last_queue_id]
    older = [c for c in launchable if c.queue_id <= cursor.last_queue_id]
    stale = _stale_connections(older, cursor, now, stale_after)
    touched = {c.connection_id for c in new} | stale
    newest_seen = max((c.queue_id for c in pending), default=cursor.last_queue_id)
    next_cursor = QueueCursor(
        last_queue_id=max(cursor.last_queue_id, newest_seen),
        last_run=cursor.last_run,
        launched_at=cursor.launched_at,
        in_flight=dict(cursor.in_flight),
    )

    plan = None
    if touched:
        # Every queued row of a touched connection rides along, so the run may settle them all.
        covered = [c for c in launchable if c.connection_id in touched]
        plan = _coalesce(covered, new, stale, connections, now)
        stamp = now.astimezone(UTC).isoformat(timespec="seconds")
        next_cursor.last_run = plan.run_key
        next_cursor.launched_at = stamp
        for connection_id in touched:
            next_cursor.in_flight[connection_id] = {"run": plan.run_key, "at": stamp}

    # Keep only connections that still have rows waiting on a launched run.
    waiting = {c.connection_id for c in launchable if c.queue_id <= next_cursor.last_queue_id}
    next_cursor.in_flight = {k: v for k, v in next_cursor.in_flight.items() if k in waiting}

    skip = None if plan else _skip_reason(pending, older, held, cursor, stale_after)
    return TickOutcome(plan, next_cursor, skip, dict(held))


def _stale_connections(
    older: list[QueuedChange], cursor: QueueCursor, now: datetime, stale_after: timedelta
) -> set[str]:
    latest_received: dict[str, str] = {}
    for change in older:
        latest_received[change.connection_id] = max(
            latest_received.get(change.connection_id, ""), change.received_at
        )
    stale = set()
    for connection_id, received in latest_received.items():
        launched = cursor.in_flight.get(connection_id, {}).get("at") or received
        if now - parse_utc(launched) >= stale_after:
            stale.add(connection_id)
    return stale


def _coalesce(
    covered: list[QueuedChange],
    new: list[QueuedChange],
    stale: set[str],
    connections: dict[str, ConnectionView],
    now: datetime,
) -> SyncPlan:
    whole, full = set(), set()
    calendars: dict[str, set[str]] = defaultdict(set)
    for change in covered:
        if change.calendar_id is None:
            whole.add(change.connection_id)
        else:
            calendars[change.connection_id].add(change.calendar_id)
        if change.full_sync:
            whole.add(change.connection_id)
            full.add(change.connection_id)
    pairs = sorted((c, k) for c, ks in calendars.items() if c not in whole for k in ks)
    if new:
        new_range = (min(c.queue_id for c in new), max(c.queue_id for c in new))
        run_key = f"queue-{new_range[0]}-{new_range[1]}"
    else:
        new_range = None
        ids = [c.queue_id for c in covered]
        run_key = f"queue-{min(ids)}-{max(ids)}-retry-{now.astimezone(UTC):%Y%m%dT%H%M%S}"
    touched = {c.connection_id for c in covered}
    return SyncPlan(
        run_key=run_key,
        whole_connections=sorted(whole),
        full_connections=sorted(full),
        calendars=pairs,
        queue_up_to=max(c.queue_id for c in covered),
        changes=len(covered),
        new_range=new_range,
        retried_connections=sorted(stale),
        providers=sorted({connections[c].provider for c in touched}),
        oldest_received_at=min((c.received_at for c in new or covered), default=None),
    )


def _skip_reason(
    pending: list[QueuedChange],
    older: list[QueuedChange],
    held: dict[str, int],
    cursor: QueueCursor,
    stale_after: timedelta,
) -> str:
    if not pending:
        return f"queue empty after id {cursor.last_queue_id}"
    parts = []
    if older:
        targets = {(c.connection_id, c.calendar_id) for c in older}
        runs = sorted({cursor.in_flight.get(c.connection_id, {}).get("run") or "?" for c in older})
        minutes = int(stale_after.total_seconds() // 60)
        parts.append(
            f"{len(older)} changes for {len(targets)} calendars already covered by "
            f"run{'s' if len(runs) > 1 else ''} {', '.join(runs)} (launched again if still queued "
            f"{minutes} min after launch)"
        )
    if held:
        detail = ", ".join(f"{n} {reason}" for reason, n in sorted(held.items()))
        parts.append(f"{sum(held.values())} changes held until their connection can sync ({detail})")
    return "; ".join(parts) + f"; nothing new after id {cursor.last_queue_id}"
