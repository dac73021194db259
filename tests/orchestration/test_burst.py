"""The sensor against real syncs: a 5,000-notification burst, and duplicated / reordered
notifications, each drained by one run that settles everything it covered."""

from __future__ import annotations

import random

from smvue_pipeline.sensors.change_queue import RAW_OP, build_change_queue_sensor

from . import events


def test_burst_of_5000_notifications_over_100_calendars_is_one_run_and_loses_nothing(pipeline):
    mailboxes = [
        pipeline.connect("google" if i % 2 == 0 else "microsoft", extra_calendars=9) for i in range(10)
    ]
    calendars = [(m.connection_id, c) for m in mailboxes for c in m.calendar_ids]
    assert len(calendars) == 100
    sensor = build_change_queue_sensor()

    # The initial imports: the connect rows, one run.
    first = pipeline.tick(sensor)
    [initial] = first.run_requests
    assert sorted(initial.run_config["ops"][RAW_OP]["config"]["connection_ids"]) == sorted(
        m.connection_id for m in mailboxes
    )
    pipeline.execute(initial)
    assert pipeline.queue.depth() == 0

    rng = random.Random(5000)
    burst = calendars + [rng.choice(calendars) for _ in range(5000 - len(calendars))]
    rng.shuffle(burst)
    ids = pipeline.queue.enqueue_many((c, k, "notification", False) for c, k in burst)
    assert len(ids) == 5000

    tick = pipeline.tick(sensor, first.cursor)
    [request] = tick.run_requests
    config = request.run_config["ops"][RAW_OP]["config"]
    assert config["connection_ids"] == []
    assert sorted((c["connection_id"], c["calendar_id"]) for c in config["calendars"]) == sorted(calendars)
    assert config["queue_up_to"] == max(ids)
    assert request.run_key == f"queue-{min(ids)}-{max(ids)}"
    assert request.tags["smvue/provider"] == "google,microsoft"

    pipeline.execute(request)
    assert pipeline.queue.depth() == 0
    after = pipeline.tick(sensor, tick.cursor)
    assert after.run_requests == []
    assert after.skip_message == f"queue empty after id {max(ids)}"


def test_duplicated_and_reordered_notifications_make_one_correct_sync(pipeline):
    mailbox = pipeline.connect("microsoft", extra_calendars=1)
    primary, second = mailbox.calendar_ids
    sensor = build_change_queue_sensor()
    first = pipeline.tick(sensor)
    pipeline.execute(first.run_requests[0])

    kept = events.create(mailbox, "Pipeline review", primary)
    dropped = events.create(mailbox, "Forecast", primary)
    events.rename(mailbox, kept, "Pipeline review (moved)", primary)
    events.delete(mailbox, dropped, primary)
    other = events.create(mailbox, "Coaching", second)
    # Five changes' notifications, each delivered twice, arriving in no particular order.
    notifications = [primary] * 4 + [second]
    notifications = notifications * 2
    random.Random(3).shuffle(notifications)
    pipeline.queue.enqueue_many((mailbox.connection_id, k, "notification", False) for k in notifications)

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
