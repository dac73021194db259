"""kill -9 of a write-back worker process between the provider call and the state update, then a
restart: still exactly one event on the calendar, and the meeting `synced` — on both providers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests import processes
from tests.waiting import scaled
from tests.writeback.conftest import event_times, smvue_tag

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 5


def start_worker(failpoint: str) -> tuple[subprocess.Popen, processes.Output]:
    child = processes.spawn(
        [
            sys.executable,
            "-m",
            "smvue_core.writeback",
            "--lease-seconds",
            str(LEASE_SECONDS),
            "--interval",
            "0.1",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SMVUE_FAILPOINT": failpoint},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return child, processes.Output(child, child.stderr)


@pytest.mark.parametrize("moved_meanwhile", [False, True], ids=["same", "rescheduled_meanwhile"])
@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_kill_after_provider_call_then_restart_leaves_one_event(wb, provider, moved_meanwhile):
    team = wb.team(provider)
    meeting_id = wb.service.schedule(wb.request(team)).meeting_id

    child, lines = start_worker("writeback.after_provider_call")
    try:
        lines.wait_for("failpoint writeback.after_provider_call reached", 60)
        # The calendar has the event; SMVue has not recorded it yet.
        assert [smvue_tag(r) for r in wb.events(team, live_only=True)] == [meeting_id]
        stuck = wb.meeting(meeting_id)
        assert (stuck.writeback_state, stuck.provider_event_id) == ("pending", None)
        assert wb.outbox.latest(meeting_id).lease_owner is not None
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=scaled(30)) == -signal.SIGKILL
    finally:
        processes.stop(child)

    if moved_meanwhile:
        # Rescheduled while the dead worker's lease still holds the meeting: the new row waits for
        # it, and the event it finds by tag (Graph: a different payload, so no transactionId replay)
        # is moved rather than duplicated.
        start = wb.meeting(meeting_id).start_at + timedelta(days=1)
        wb.service.reschedule(meeting_id, start, start + timedelta(minutes=30))
        assert wb.worker().run_once() == 0
    # A new worker takes the row over once the dead one's lease lapsed (clock moved past it, not slept).
    wb.clock.now = wb.clock.now + timedelta(seconds=LEASE_SECONDS + 60)
    restarted = wb.worker()
    assert restarted.run_once() == 1

    meeting = wb.meeting(meeting_id)
    live = wb.events(team, live_only=True)
    assert len(live) == 1 and smvue_tag(live[0]) == meeting_id
    event_ids = {live[0]["id"], live[0].get("immutable_id")}
    assert meeting.writeback_state == "synced" and meeting.provider_event_id in event_ids
    assert event_times(live[0]) == (meeting.start_at, meeting.end_at)
    states = [(o.state, o.attempts, o.lease_owner) for o in wb.outbox.for_meeting(meeting_id)]
    if moved_meanwhile:
        assert meeting.version == 2 and states == [("superseded", 1, None), ("done", 1, None)]
    else:
        assert states == [("done", 2, None)]
