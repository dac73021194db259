"""A delivery process that dies: `python -m tests.cadence_pipeline.reminder_child STORE URL NOW WHEN`.

WHEN = "after-claim": claim the due reminders, then die before sending anything;
WHEN = "after-post": send the first one, then die before marking it sent.
Dies with os._exit, like kill -9: no cleanup, no finally blocks.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta

from smvue_core.opstore import OpStore
from smvue_core.opstore.reminders import ReminderRepository
from smvue_core.reminders.delivery import DeliveryPolicy, deliver_due

LEASE = timedelta(minutes=2)


def main(store_path: str, url: str, now_text: str, when: str) -> None:
    repo = ReminderRepository(OpStore(store_path))
    now = datetime.fromisoformat(now_text)
    if when == "after-claim":
        claimed = repo.claim_due(now, "doomed-sender", LEASE)
        print(len(claimed), flush=True)
        os._exit(17)
    if when == "after-post":

        def die(_reminder) -> None:
            os._exit(17)

        deliver_due(repo, url, now, policy=DeliveryPolicy(lease=LEASE), owner="doomed-sender", after_post=die)
    raise SystemExit(f"unknown crash point {when}")


if __name__ == "__main__":
    main(*sys.argv[1:])
