"""The sensor against real syncs: notifications the emulator duplicates and reorders, posted to the
gateway's webhook routes, drained by one run that settles everything it covered.

How a tick coalesces a burst is proven on plan_tick alone (test_plan_tick.py); the 5,000-notification
burst through the running stack is a figure of `make bench` (bench/burst.py)."""

from __future__ import annotations

from smvue_pipeline.sensors.change_queue import build_change_queue_sensor

from . import events
from .conftest import RAW_OP


def test_duplicated_and_reordered_notifications_make_one_correct_sync(gateway_pipeline):
    pipeline = gateway_pipeline
    mailbox = pipeline.connect("microsoft", extra_calendars=1)
    primary, second = mailbox.calendar_ids
    sensor = build_change_queue_sensor()
    first = pipeline.tick(sensor)
    pipeline.execute(first.run_requests[0])

    # Every notification delivered twice, after a random delay: they arrive out of order.
    pipeline.admin.faults(
        {"seed": 3, "notifications": {"duplicate": 1.0, "delay_ms_min": 0, "delay_ms_max": 400}}
    )
    kept = events.create(mailbox, "Pipeline review", primary)
    dropped = events.create(mailbox, "Forecast", primary)
    events.rename(mailbox, kept, "Pipeline review (moved)", primary)
    events.delete(mailbox, dropped, primary)
    other = events.create(mailbox, "Coaching", second)
    assert pipeline.admin.wait_notifications(timeout=20)["idle"]
    queued = pipeline.queue.pending()
    assert len(queued) >= 10  # five changes, each notified twice
    assert {c.calendar_id for c in queued} == {primary, second}

    tick = pipeline.tick(sensor, first.cursor)
    [request] = tick.run_requests
    assert len(request.run_config["ops"][RAW_OP]["config"]["calendars"]) == 2
    pipeline.execute(request)

    rows = pipeline.raw_titles(mailbox.connection_id)
    assert rows[kept] == ("Pipeline review (moved)", "confirmed")
    assert rows.get(dropped, (None, "cancelled"))[1] == "cancelled"
    assert rows[other][0] == "Coaching"
    assert pipeline.queue.depth() == 0
    assert pipeline.tick(sensor, tick.cursor).run_requests == []
