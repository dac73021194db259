"""Markdown previews in asset metadata, and what they may show when the warehouse is encrypted.

Dagster's event log is plain SQLite under $SMVUE_HOME/dagster: with SMVUE_WAREHOUSE_KEY set, a
preview of titles or emails there would be a plaintext copy of the encrypted calendar. So with a
key the previews keep ids, enumerated states and counts only; without one they show everything.
"""

from __future__ import annotations

from collections.abc import Sequence

# Opaque ids, enumerated states and counts. Left out: titles, names, emails (a calendar id or
# name is often one), free-text labels (meeting_type), times, and error texts (they quote URLs
# and provider messages that carry either).
ENCRYPTED_PREVIEW_COLUMNS = frozenset(
    {
        # ids
        "connection_id",
        "manager_id",
        "rep_id",
        "meeting_id",
        "one_on_one_id",
        "reminder_id",
        "event_id",
        "provider_event_id",
        "meeting",
        "event",
        # states
        "provider",
        "status",
        "state",
        "writeback_state",
        "cadence_status",
        "source",
        "change",
        "is_archived",
        # counts
        "attendees",
        "attempts",
        "duration_minutes",
        "days_since_last_held",
        "suggested_interval_days",
        "held_last_30d",
    }
)


def markdown_table(columns: list[str], rows: list[tuple]) -> str:
    def cell(value) -> str:
        return "" if value is None else str(value).replace("|", "/").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def preview_table(columns: Sequence[str], rows: Sequence[Sequence], *, encrypted: bool) -> str:
    """A Markdown table of `rows`; with the warehouse encrypted, only the columns above."""
    if not encrypted:
        return markdown_table(list(columns), [tuple(row) for row in rows])
    keep = [i for i, name in enumerate(columns) if name in ENCRYPTED_PREVIEW_COLUMNS]
    return markdown_table([columns[i] for i in keep], [tuple(row[i] for i in keep) for row in rows])


def error_summary(error: BaseException | None, text: str, *, encrypted: bool) -> str:
    """An error for metadata: its one-line text, or only its type when the warehouse is encrypted."""
    if not encrypted:
        return text
    return type(error).__name__ if error is not None else "error"
