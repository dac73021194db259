"""Named points where a worker can be made to stop, so a test can kill -9 it exactly there.

`SMVUE_FAILPOINT=writeback.after_provider_call` (comma-separated for several) makes the worker
announce the point on stderr and block until it is killed. Unset in production: a no-op.
"""

from __future__ import annotations

import os
import sys
import threading

ENV = "SMVUE_FAILPOINT"
POINTS = (
    "writeback.after_claim",
    "writeback.before_provider_call",
    "writeback.after_provider_call",
)


def armed(env: dict[str, str] | None = None) -> frozenset[str]:
    raw = (os.environ if env is None else env).get(ENV, "")
    return frozenset(p.strip() for p in raw.split(",") if p.strip())


def reach(name: str, points: frozenset[str] | None = None) -> None:
    """Block forever at `name` when it is armed (the process is meant to be killed here)."""
    if name not in (armed() if points is None else points):
        return
    print(f"failpoint {name} reached pid={os.getpid()}", file=sys.stderr, flush=True)
    threading.Event().wait()
