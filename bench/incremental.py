"""Incremental sync after 1% of events change (SPEC.md, Performance: requests ≤ 1.1 × the minimum
possible, one delta round per calendar).

After an initial import of N users × M events, each user changes 1% of their events through the
provider's own API, as a calendar app would: moves, creates, cancels and deletes. Then one sync
(the raw_calendar_events asset, incremental: Google syncToken, Graph deltaLink). Requests are
counted by the emulator; the minimum is one request per calendar (each delta fits one page).
Every change is checked in raw.calendar_events afterwards; the initial import's requests and
seconds are the anchor (incremental cost = incremental ÷ initial).
"""

from __future__ import annotations

import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from bench.common import (
    EmulatorProcess,
    Mailbox,
    google_event,
    graph_event,
    organisation,
    seed_organisation,
    verdict,
)
from bench.initial_import import smvue_import
from bench.smvue_sync import SmvueHome, load_result

KINDS = ("move", "create", "cancel", "move", "delete")


@dataclass
class Change:
    mailbox: Mailbox
    kind: str
    title: str
    new_start: datetime | None = None


def mutate(
    emulator: EmulatorProcess,
    mailbox: Mailbox,
    count: int,
    seed: int,
    now: datetime,
    picks: list[int] | None = None,
    kinds: tuple[str, ...] = KINDS,
) -> list[Change]:
    """`count` changes to one mailbox as its owner, through Google's or Graph's REST API; `picks`
    names the seeded events (by index) to change, else they are drawn at random."""
    rng = random.Random(seed)
    http = requests.Session()
    http.trust_env = False
    http.headers["Authorization"] = f"Bearer {emulator.admin.token(mailbox.email, mailbox.provider)}"
    picks = picks if picks is not None else rng.sample(range(len(mailbox.event_ids)), count)
    changes = []
    for k, index in enumerate(picks):
        kind = kinds[k % len(kinds)]
        event_id = mailbox.event_ids[index]
        title = f"Meeting {index}"
        change = Change(mailbox, kind, title)
        if mailbox.provider == "google":
            base = f"{emulator.url}/google/calendar/v3/calendars/{mailbox.calendar_id}/events"
            if kind == "move":
                change.new_start = (now + timedelta(days=rng.randint(1, 20))).replace(
                    minute=0, second=0, microsecond=0
                )
                body = {
                    "start": {"dateTime": _z(change.new_start), "timeZone": "UTC"},
                    "end": {"dateTime": _z(change.new_start + timedelta(minutes=30)), "timeZone": "UTC"},
                }
                answer = http.patch(f"{base}/{event_id}", json=body, timeout=30)
            elif kind == "create":
                change.title = f"Created {k} {uuid.uuid4().hex[:6]}"
                body = google_event(rng, mailbox.email, now, 0) | {"summary": change.title}
                answer = http.post(base, json=body, timeout=30)
            elif kind == "cancel":
                answer = http.patch(f"{base}/{event_id}", json={"status": "cancelled"}, timeout=30)
            else:
                answer = http.delete(f"{base}/{event_id}", timeout=30)
        else:
            base = f"{emulator.url}/microsoft/v1.0/me/events"
            if kind == "move":
                change.new_start = (now + timedelta(days=rng.randint(1, 20))).replace(
                    minute=0, second=0, microsecond=0
                )
                body = {
                    "start": {
                        "dateTime": change.new_start.replace(tzinfo=None).isoformat(),
                        "timeZone": "UTC",
                    },
                    "end": {
                        "dateTime": (change.new_start + timedelta(minutes=30))
                        .replace(tzinfo=None)
                        .isoformat(),
                        "timeZone": "UTC",
                    },
                }
                answer = http.patch(f"{base}/{event_id}", json=body, timeout=30)
            elif kind == "create":
                change.title = f"Created {k} {uuid.uuid4().hex[:6]}"
                body = graph_event(rng, mailbox.email, now, 0) | {"subject": change.title}
                answer = http.post(base, json=body, timeout=30)
            elif kind == "cancel":
                answer = http.post(f"{base}/{event_id}/cancel", json={"comment": ""}, timeout=30)
            else:
                answer = http.delete(f"{base}/{event_id}", timeout=30)
        if answer.status_code >= 400:
            raise RuntimeError(f"{mailbox.provider} {kind}: {answer.status_code} {answer.text[:200]}")
        changes.append(change)
    return changes


def check(home: SmvueHome, connections: dict[str, str], changes: list[Change]) -> list[str]:
    """What raw.calendar_events should say about each change; returns the mismatches."""
    rows = {
        (c, t): (status, start)
        for c, t, status, start in home.query(
            "SELECT connection_id, title, status, start_at FROM raw.calendar_events"
        )
    }
    wrong = []
    for change in changes:
        found = rows.get((connections[change.mailbox.email], change.title))
        if change.kind in ("cancel", "delete"):
            ok = found is None or found[0] == "cancelled"
        elif change.kind == "create":
            ok = found is not None and found[0] != "cancelled"
        else:
            ok = found is not None and found[1] == change.new_start
        if not ok:
            wrong.append(f"{change.mailbox.provider} {change.kind} {change.title}: {found}")
    return wrong


def run(args, workdir: Path) -> dict:
    users, events = args.users, args.events
    per_user = max(1, round(events * 0.01))
    tag = uuid.uuid4().hex[:6]
    log = args.log
    now = datetime.now(UTC)
    with EmulatorProcess(workdir / "emulator.log") as emulator:
        mailboxes = organisation(users, tag)
        seed_organisation(emulator.admin, mailboxes, events, now)
        home = SmvueHome(workdir / "home", emulator.url)
        try:
            connections = home.connect(mailboxes)
        finally:
            home.close()
        initial = smvue_import(emulator, home, users * events)
        log(f"    initial import: {initial['requests']} requests, {initial['materialize_s']:.1f} s")

        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            batches = pool.map(
                lambda pair: mutate(emulator, pair[1], per_user, pair[0], now), enumerate(mailboxes)
            )
            changes = [c for batch in batches for c in batch]
        mutate_s = time.perf_counter() - began
        log(f"    {len(changes)} changes made as the users in {mutate_s:.1f} s")

        emulator.admin.reset_stats()
        cpu_before = emulator.cpu_s()
        child = home.sync()
        emulator_cpu = emulator.cpu_s() - cpu_before
        stats = emulator.admin.stats()
        result = load_result(child)
        if not result["success"]:
            raise RuntimeError(f"the incremental run failed: {child.tail()}")
        wrong = check(home, connections, changes)

    calendars = len(mailboxes)
    minimum = calendars  # one delta round (one page) per calendar
    requests_made = stats["requests_total"]
    api_requests = sum(n for endpoint, n in stats["requests"].items() if "/calendar" in endpoint)
    ratio = requests_made / minimum
    kinds = {k: sum(c.kind == k for c in changes) for k in sorted(set(KINDS))}
    figures = [
        {
            "figure": f"requests, {len(changes)} changes over {calendars} calendars",
            "value": f"{requests_made} = {ratio:.3f}x min",
            "anchor": f"minimum {minimum}; initial import made {initial['requests']}",
            **verdict(ratio, "<=", 1.1, "x min"),
        },
        {
            "figure": "changes found in raw.calendar_events",
            "value": f"{len(changes) - len(wrong)} of {len(changes)}",
            "anchor": ", ".join(f"{n} {k}" for k, n in kinds.items()),
            **verdict(len(wrong), "<=", 0, " wrong"),
        },
        {
            "figure": "incremental sync wall",
            "value": f"{result['materialize_s']:.2f} s ({1000 * result['materialize_s'] / len(changes):.1f} ms/change)",
            "anchor": f"initial import {initial['materialize_s']:.1f} s "
            f"({result['materialize_s'] / initial['materialize_s']:.2f}x)",
            "target": "-",
            "verdict": "info",
        },
    ]
    return {
        "figures": figures,
        "details": {
            "users": users,
            "events_per_user": events,
            "changes": len(changes),
            "changes_by_kind": kinds,
            "mutate_s": round(mutate_s, 1),
            "initial": initial,
            "incremental": result
            | {
                "requests_total": requests_made,
                "calendar_api_requests": api_requests,
                "requests_by_endpoint": stats["requests"],
                "process_wall_s": round(child.wall_s, 2),
                "peak_rss_mb": child.peak_rss_mb,
                "emulator_cpu_s": round(emulator_cpu, 2),
            },
            "minimum_requests": minimum,
            "incremental_cost": {
                "requests_ratio_to_initial": round(requests_made / initial["requests"], 3),
                "seconds_per_changed_event": round(result["materialize_s"] / len(changes), 4),
            },
            "mismatches": wrong[:20],
        },
    }


def _z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
