"""Putting the demo's meetings on the emulator's calendars, in each provider's own shapes, and then
moving and cancelling instances as the managers would, through the provider APIs."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from calendar_emulator.actors import EmulatorAdminClient, GoogleActor, GraphActor
from smvue.demo.organisation import Manager, MeetingPlan

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def google_body(plan: MeetingPlan, manager: Manager) -> dict:
    zone = manager.time_zone
    if plan.all_day:
        day = plan.start.date()
        start, end = {"date": day.isoformat()}, {"date": (day + timedelta(days=1)).isoformat()}
    else:
        local = plan.start.astimezone(ZoneInfo(zone))
        start = {"dateTime": local.isoformat(), "timeZone": zone}
        end = {"dateTime": (local + timedelta(minutes=plan.minutes)).isoformat(), "timeZone": zone}
    attendees = [
        {
            "email": email,
            "displayName": name,
            "organizer": email == manager.email,
            "responseStatus": "declined" if email == plan.declined_by else "accepted",
        }
        for email, name in plan.attendees
        if len(plan.attendees) > 1
    ]
    attendees += [
        {"email": e, "displayName": n, "resource": True, "responseStatus": "accepted"} for e, n in plan.rooms
    ]
    body = {"summary": plan.title, "start": start, "end": end, "description": "Agenda and private notes."}
    if attendees:
        body["attendees"] = attendees
    if plan.rooms:
        body["location"] = plan.rooms[0][1]
    if plan.weekly_every:
        body["recurrence"] = [f"RRULE:FREQ=WEEKLY;INTERVAL={plan.weekly_every};COUNT={plan.count}"]
    return body


def graph_body(plan: MeetingPlan, manager: Manager) -> dict:
    zone = manager.time_zone
    local = plan.start.astimezone(ZoneInfo(zone))
    if plan.all_day:
        day = plan.start.date()
        start = {"dateTime": f"{day.isoformat()}T00:00:00", "timeZone": zone}
        end = {"dateTime": f"{(day + timedelta(days=1)).isoformat()}T00:00:00", "timeZone": zone}
    else:
        start = {"dateTime": local.replace(tzinfo=None).isoformat(), "timeZone": zone}
        end = {
            "dateTime": (local + timedelta(minutes=plan.minutes)).replace(tzinfo=None).isoformat(),
            "timeZone": zone,
        }
    attendees = [
        {
            "emailAddress": {"address": email, "name": name},
            "type": "required",
            "status": {"response": "declined" if email == plan.declined_by else "accepted"},
        }
        for email, name in plan.attendees
        if email != manager.email
    ]
    attendees += [{"emailAddress": {"address": e, "name": n}, "type": "resource"} for e, n in plan.rooms]
    body = {
        "subject": plan.title,
        "start": start,
        "end": end,
        "isAllDay": plan.all_day,
        "attendees": attendees,
        "body": {"contentType": "text", "content": "Agenda and private notes."},
    }
    if not plan.all_day and len(plan.attendees) > 1:
        body |= {"isOnlineMeeting": True, "onlineMeetingProvider": "teamsForBusiness"}
    if plan.rooms:
        body["location"] = {"displayName": plan.rooms[0][1]}
    if plan.weekly_every:
        body["recurrence"] = {
            "pattern": {
                "type": "weekly",
                "interval": plan.weekly_every,
                "daysOfWeek": [WEEKDAYS[local.weekday()]],
                "firstDayOfWeek": "monday",
            },
            "range": {
                "type": "numbered",
                "startDate": local.date().isoformat(),
                "numberOfOccurrences": plan.count,
                "recurrenceTimeZone": zone,
            },
        }
    return body


def seed_manager(
    admin: EmulatorAdminClient, base_url: str, manager: Manager, plans: list[MeetingPlan]
) -> dict:
    """Create the manager's mailbox (with a second calendar) and their month; returns counts."""
    admin.create_user(manager.email, manager.provider, manager.name)
    secondary = admin.add_calendar(manager.email, manager.provider, "Coaching")
    token = admin.token(manager.email, manager.provider)
    moved = cancelled = 0
    if manager.provider == "google":
        actor = GoogleActor(base_url, token)
        for plan in plans:
            event = actor.insert(
                google_body(plan, manager), secondary if plan.secondary_calendar else "primary"
            )
            if plan.weekly_every:
                instances = actor.instances(event["id"])
                if plan.move_instance is not None:
                    _move_google(actor, instances[plan.move_instance])
                    moved += 1
                if plan.cancel_instance is not None:
                    actor.delete(instances[plan.cancel_instance]["id"])
                    cancelled += 1
    else:
        actor = GraphActor(base_url, token)
        for plan in plans:
            event = actor.create(graph_body(plan, manager), secondary if plan.secondary_calendar else None)
            if plan.weekly_every:
                span_end = plan.start + timedelta(weeks=(plan.count or 1) * plan.weekly_every + 1)
                occurrences = sorted(
                    actor.occurrences(event["id"], plan.start - timedelta(days=1), span_end),
                    key=lambda o: o["start"]["dateTime"],
                )
                if plan.move_instance is not None:
                    _move_graph(actor, occurrences[plan.move_instance])
                    moved += 1
                if plan.cancel_instance is not None:
                    actor.delete(occurrences[plan.cancel_instance]["id"])
                    cancelled += 1
    return {"meetings": len(plans), "moved": moved, "cancelled": cancelled}


def _move_google(actor: GoogleActor, instance: dict) -> None:
    from datetime import datetime

    def later(value: dict) -> dict:
        moved = datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00")) + timedelta(days=1)
        return {"dateTime": moved.isoformat(), "timeZone": value.get("timeZone", "UTC")}

    actor.patch(instance["id"], {"start": later(instance["start"]), "end": later(instance["end"])})


def _move_graph(actor: GraphActor, occurrence: dict) -> None:
    from datetime import datetime

    def later(value: dict) -> dict:
        moved = datetime.fromisoformat(value["dateTime"][:19]) + timedelta(days=1)
        return {"dateTime": moved.isoformat(), "timeZone": value.get("timeZone", "UTC")}

    actor.patch(occurrence["id"], {"start": later(occurrence["start"]), "end": later(occurrence["end"])})
