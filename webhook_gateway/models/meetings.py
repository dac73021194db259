"""Meetings scheduled in SMVue (F14) and meeting annotations (F16)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, field_validator

from webhook_gateway.models.common import Identifier, Strict

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
MeetingType = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
WritebackState = Literal["pending", "synced", "failed"]


def _iso_text(value: object) -> object:
    # Only ISO-8601 text: pydantic alone would also take numbers as Unix timestamps.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an ISO-8601 date-time with a time zone offset")
    return value


class MeetingTimes(Strict):
    start: AwareDatetime = Field(
        description="ISO-8601 with a time zone offset", examples=["2026-01-05T09:00:00+01:00"]
    )
    end: AwareDatetime = Field(
        description="after start; at most 24 hours later", examples=["2026-01-05T09:30:00+01:00"]
    )

    @field_validator("start", "end", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        return _iso_text(value)


class MeetingIn(MeetingTimes):
    manager_id: Identifier
    rep_id: Identifier = Field(description="a rep on that manager's team")
    title: Title
    meeting_type: MeetingType | None = Field(None, examples=["Weekly", "Pipeline Review"])


class RescheduleIn(MeetingTimes):
    pass


class MeetingTypeIn(Strict):
    meeting_type: MeetingType | None = Field(description="null clears the type", examples=["Pipeline Review"])


class ArchiveIn(Strict):
    is_archived: bool = Field(True, description="false un-archives")


class MeetingAccepted(BaseModel):
    """The change is stored and its calendar write queued; follow it with GET /v1/meetings/{id}."""

    meeting_id: str
    writeback: WritebackState


class MeetingOut(BaseModel):
    meeting_id: str
    manager_id: str
    rep_id: str
    title: str
    meeting_type: str | None
    start: datetime
    end: datetime
    status: Literal["scheduled", "cancelled"]
    writeback: WritebackState = Field(description="pending: queued or retrying; synced: the calendar has it")
    writeback_error: str | None = Field(description="why write-back failed (or the last retried error)")
    writeback_attempts: int
    provider_event_id: str | None = Field(description="the event on the manager's calendar")
    connection_id: str | None
    calendar_id: str | None
    version: int = Field(description="increments with every change")
    is_archived: bool
    created_at: datetime
    updated_at: datetime


class AnnotationOut(BaseModel):
    one_on_one_id: str = Field(description="an SMVue meeting id or a calendar 1:1's one_on_one_id")
    source: Literal["smvue", "calendar"]
    is_archived: bool
    meeting_type: str | None
    updated_at: datetime
