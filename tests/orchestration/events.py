"""Calendar edits as the user would make them, in either provider's own API shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def slot(days_ahead: int = 2, hour: int = 10, minutes: int = 30) -> tuple[datetime, datetime]:
    start = (datetime.now(UTC) + timedelta(days=days_ahead)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )
    return start, start + timedelta(minutes=minutes)


def create(mailbox, title: str, calendar_id: str | None = None, when=None) -> str:
    start, end = when or slot()
    actor = mailbox.actor()
    if mailbox.provider == "google":
        body = {"summary": title, "start": {"dateTime": _z(start)}, "end": {"dateTime": _z(end)}}
        return actor.insert(body, calendar_id or "primary")["id"]
    body = {
        "subject": title,
        "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
    }
    return actor.create(body, calendar_id)["id"]


def rename(mailbox, event_id: str, title: str, calendar_id: str | None = None) -> None:
    actor = mailbox.actor()
    if mailbox.provider == "google":
        actor.patch(event_id, {"summary": title}, calendar_id or "primary")
    else:
        actor.patch(event_id, {"subject": title})


def delete(mailbox, event_id: str, calendar_id: str | None = None) -> None:
    actor = mailbox.actor()
    if mailbox.provider == "google":
        actor.delete(event_id, calendar_id or "primary")
    else:
        actor.delete(event_id)


def _z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
