"""The cadence report the demo ends with: one row per manager × rep from the published snapshot
(`analytics.cadence_metrics` with the roster's names), as a downstream reader would query it."""

from __future__ import annotations

from datetime import datetime

from smvue_core.settings import Settings
from smvue_core.warehouse.database import open_database

REPORT_SQL = """
SELECT m.name AS manager, t.name AS rep, c.tenure_days, c.cadence_status, c.days_since_last_held,
       c.suggested_interval_days, c.overdue_after_days, c.held_last_30d, c.next_scheduled_at,
       c.suggestion_reason
FROM analytics.cadence_metrics c
JOIN app.managers m USING (manager_id)
JOIN app.team_members t USING (rep_id)
ORDER BY m.name,
         CASE c.cadence_status WHEN 'overdue' THEN 0 WHEN 'never_met' THEN 1 WHEN 'due' THEN 2 ELSE 3 END,
         t.name
"""
HEADERS = ("manager", "rep", "tenure", "status", "since last / interval", "held 30d", "next scheduled", "why")


def cadence_rows(settings: Settings) -> list[tuple]:
    con = open_database(settings.published_path, settings.warehouse_key, read_only=True)
    try:
        return con.execute(REPORT_SQL).fetchall()
    finally:
        con.close()


def _since(days: int | None, interval: int, overdue_after: int) -> str:
    last = "never" if days is None else f"{days} d"
    return f"{last} / {interval} d (overdue > {overdue_after})"


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%a %d %b %H:%M UTC")


def format_report(rows: list[tuple]) -> list[str]:
    """Aligned text columns; the manager's name only on their first row."""
    table = []
    previous = None
    for manager, rep, tenure, status, since, interval, overdue, held, next_at, reason in rows:
        table.append(
            (
                manager if manager != previous else "",
                rep,
                "unknown" if tenure is None else f"{tenure} d",
                status,
                _since(since, interval, overdue),
                str(held),
                _when(next_at),
                reason,
            )
        )
        previous = manager
    widths = [max(len(str(r[i])) for r in [HEADERS, *table]) for i in range(len(HEADERS))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in table]
    return lines


def status_counts(rows: list[tuple]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[3]] = counts.get(row[3], 0) + 1
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
