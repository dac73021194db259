"""Meetings scheduled in SMVue (F14) and meeting annotations (F16).

A change answers 202 as soon as the meeting and its write-back are stored (one transaction); the
gateway's write-back workers put it on the manager's calendar and GET shows how that went.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Body, Depends, Header, Path, Response

from smvue_core.writeback.scheduling import (
    AnnotationResult,
    MeetingError,
    MeetingService,
    MeetingView,
    ScheduleRequest,
)
from webhook_gateway.auth import require_api_token
from webhook_gateway.dependencies import Services
from webhook_gateway.errors import ApiError
from webhook_gateway.models import error_responses
from webhook_gateway.models.common import Identifier
from webhook_gateway.models.meetings import (
    AnnotationOut,
    ArchiveIn,
    MeetingAccepted,
    MeetingIn,
    MeetingOut,
    MeetingTypeIn,
    RescheduleIn,
)
from webhook_gateway.writeback_worker import kick_writeback

router = APIRouter(
    prefix="/v1/meetings",
    tags=["meetings"],
    dependencies=[Depends(require_api_token)],
    responses=error_responses(401, 422),
)
MeetingId = Annotated[Identifier, Path(description="an SMVue meeting id (or, for annotations, a 1:1 id)")]
T = TypeVar("T")


def get_meeting_service(services: Services) -> MeetingService:
    settings = services.settings
    return MeetingService(
        services.store,
        settings.published_path,
        settings.warehouse_key,
        clock=services.workers.clock,
        on_change=lambda: kick_writeback(services.workers),
    )


Meetings = Annotated[MeetingService, Depends(get_meeting_service)]


def _answer(call: Callable[[], T]) -> T:
    """Service errors name their field; they become the API's `{"error": "<field>: …"}` 4xx."""
    try:
        return call()
    except MeetingError as exc:
        raise ApiError(str(exc), exc.status) from None


def _meeting_out(view: MeetingView) -> MeetingOut:
    m = view.meeting
    return MeetingOut(
        meeting_id=m.meeting_id,
        manager_id=m.manager_id,
        rep_id=m.rep_id,
        title=m.title,
        meeting_type=m.meeting_type,
        start=m.start_at,
        end=m.end_at,
        status=m.status,  # type: ignore[arg-type]
        writeback=m.writeback_state,  # type: ignore[arg-type]
        writeback_error=m.writeback_error
        or (view.latest.last_error if view.latest and view.latest.state == "pending" else None),
        writeback_attempts=view.latest.attempts if view.latest else 0,
        provider_event_id=m.provider_event_id,
        connection_id=m.connection_id,
        calendar_id=m.calendar_id,
        version=m.version,
        is_archived=bool(view.annotation and view.annotation.is_archived),
        created_at=m.created_at,  # type: ignore[arg-type]
        updated_at=m.updated_at,  # type: ignore[arg-type]
    )


def _annotation_out(annotated: AnnotationResult) -> AnnotationOut:
    annotation = annotated.annotation
    return AnnotationOut(
        one_on_one_id=annotation.one_on_one_id,
        source=annotated.source,  # type: ignore[arg-type]
        is_archived=annotation.is_archived,
        meeting_type=annotation.meeting_type,
        updated_at=annotation.updated_at,  # type: ignore[arg-type]
    )


@router.post("", status_code=202, response_model=MeetingAccepted, responses=error_responses(409))
def schedule_meeting(
    body: MeetingIn,
    meetings: Meetings,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            description="retries with the same key get the first answer; another body with it is a 422",
        ),
    ] = None,
) -> MeetingAccepted:
    """Schedule a 1:1 on the manager's connected calendar, the rep as attendee (422 naming the field
    when the times, the manager, the rep or the manager's calendar connection are not right)."""
    request = ScheduleRequest(
        body.manager_id, body.rep_id, body.start, body.end, body.title, body.meeting_type
    )
    accepted = _answer(lambda: meetings.schedule(request, idempotency_key))
    response.status_code = accepted.status_code
    return MeetingAccepted(**accepted.body())


@router.get("/{id}", response_model=MeetingOut, responses=error_responses(404))
def get_meeting(id: MeetingId, meetings: Meetings) -> MeetingOut:  # noqa: A002 - the API's name
    """The meeting, its write-back state (pending, synced, failed with the error) and its event id."""
    return _meeting_out(_answer(lambda: meetings.get(id)))


@router.patch("/{id}", status_code=202, response_model=MeetingAccepted, responses=error_responses(404, 409))
def reschedule_meeting(id: MeetingId, body: RescheduleIn, meetings: Meetings) -> MeetingAccepted:  # noqa: A002
    """Move the meeting; its event follows. 409 for a cancelled meeting or a 1:1 that came from the
    calendar (move that one in the calendar)."""
    accepted = _answer(lambda: meetings.reschedule(id, body.start, body.end))
    return MeetingAccepted(**accepted.body())


@router.delete("/{id}", status_code=202, response_model=MeetingAccepted, responses=error_responses(404, 409))
def cancel_meeting(id: MeetingId, meetings: Meetings) -> MeetingAccepted:  # noqa: A002
    """Cancel the meeting; its event is cancelled on the calendar (only ever SMVue's own event)."""
    accepted = _answer(lambda: meetings.cancel(id))
    return MeetingAccepted(**accepted.body())


@router.post("/{id}/archive", response_model=AnnotationOut, responses=error_responses(404))
def archive_meeting(
    id: MeetingId,  # noqa: A002
    meetings: Meetings,
    body: Annotated[ArchiveIn | None, Body()] = None,
) -> AnnotationOut:
    """Archive an SMVue meeting or a calendar 1:1 (by its one_on_one_id): left out of cadence, Up Next
    and reminders. Survives every resync. `{"is_archived": false}` restores it."""
    archived = body.is_archived if body is not None else True
    return _annotation_out(_answer(lambda: meetings.archive(id, archived)))


@router.put("/{id}/type", response_model=AnnotationOut, responses=error_responses(404))
def set_meeting_type(id: MeetingId, body: MeetingTypeIn, meetings: Meetings) -> AnnotationOut:  # noqa: A002
    """Tag the meeting's type (Weekly, Pipeline Review, …); null clears it. Survives every resync."""
    return _annotation_out(_answer(lambda: meetings.set_type(id, body.meeting_type)))
