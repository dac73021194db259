"""The sensor against real syncs: a 5,000-notification burst posted to the gateway's webhook routes,
and notifications the emulator duplicates and reorders, each drained by one run that settles
everything it covered."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from smvue_pipeline.sensors.change_queue import RAW_OP, build_change_queue_sensor

from . import events


def test_burst_of_5000_notifications_over_100_calendars_is_one_run_and_loses_nothing(gateway_pipeline):
    pipeline = gateway_pipeline
    mailboxes = [
        pipeline.connect("google" if i % 2 == 0 else "microsoft", extra_calendars=9) for i in range(10)
    ]
    calendars = [(m, c) for m in mailboxes for c in m.calendar_ids]
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

    # 5,000 genuine notifications (every calendar at least once), posted as the providers would.
    watches = {(m.connection_id, c): pipeline.watch_of(m.connection_id, c) for m, c in calendars}
    rng = random.Random(5000)
    burst = calendars + [rng.choice(calendars) for _ in range(5000 - len(calendars))]
    rng.shuffle(burst)
    local = threading.local()

    # Google posts one notification per request; Graph batches them (here 25 per POST).
    google = [t for t in burst if t[0].provider == "google"]
    graph = [watches[(m.connection_id, c)] for m, c in burst if m.provider == "microsoft"]
    requests_to_send = [("google", t) for t in google] + [
        ("microsoft", graph[i : i + 25]) for i in range(0, len(graph), 25)
    ]

    def post(item) -> int:
        if not hasattr(local, "http"):
            local.http = requests.Session()
            local.http.trust_env = False
        provider, payload = item
        if provider == "microsoft":
            return pipeline.notify_graph_batch(local.http, payload)
        mailbox, calendar_id = payload
        watch, secret = watches[(mailbox.connection_id, calendar_id)]
        return pipeline.notify(local.http, "google", watch, secret)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(post, requests_to_send)) == 5000
    assert pipeline.queue.depth() == 5000
    ids = [c.queue_id for c in pipeline.queue.pending()]

    tick = pipeline.tick(sensor, first.cursor)
    [request] = tick.run_requests
    config = request.run_config["ops"][RAW_OP]["config"]
    assert config["connection_ids"] == []
    assert sorted((c["connection_id"], c["calendar_id"]) for c in config["calendars"]) == sorted(
        (m.connection_id, c) for m, c in calendars
    )
    assert config["queue_up_to"] == max(ids)
    assert request.run_key == f"queue-{min(ids)}-{max(ids)}"
    assert request.tags["smvue/provider"] == "google,microsoft"

    pipeline.execute(request)
    assert pipeline.queue.depth() == 0
    after = pipeline.tick(sensor, tick.cursor)
    assert after.run_requests == []
    assert after.skip_message == f"queue empty after id {max(ids)}"


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
