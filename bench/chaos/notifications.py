"""Chaos on push: the emulator drops 20% of notifications, duplicates 20% and delays them at random
(so they arrive reordered) while users change their calendars; the live stack (gateway + Dagster
daemon, as `smvue up`) must converge to a clean import within a reconcile.

The reconcile schedule runs every minute here (SMVUE_RECONCILE_CRON), so "within a reconcile" is
measured: the seconds from the last change until the published snapshot equals a clean import,
beside the end of the first reconcile run launched after the last change.

Runs in a child process (`python -m bench.chaos.notifications`): the live stack reads its
configuration from the process environment.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bench.chaos.checks import compare, live_rows, scan, secrets_of
from bench.common import PYTHON, EmulatorProcess, emit, organisation, run_child, seed_organisation
from bench.incremental import KINDS, mutate
from bench.smvue_sync import SmvueHome, load_result

USERS = 6
EVENTS = 60
FAULTS = {
    "seed": 20,
    "notifications": {"drop": 0.2, "duplicate": 0.2, "delay_ms_min": 0, "delay_ms_max": 3000},
}


def notifications(args, workdir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMVUE_") and k != "DAGSTER_HOME"}
    argv = [
        PYTHON,
        "-m",
        "bench.chaos.notifications",
        "--workdir",
        str(workdir),
        "--changes",
        str(args.changes),
    ]
    child = run_child(argv, env=env, timeout=1200)
    found = child.result()
    if found is None:
        raise RuntimeError(f"notification chaos printed no result (exit {child.returncode}): {child.tail()}")
    return found


def child(workdir: Path, changes: int) -> int:
    import requests

    from bench.burst import connect_through_gateway
    from smvue.demo.live import LiveStack, wait_for
    from smvue.demo.run import point_at_emulator
    from smvue_core.security.cipher import TokenCipher

    home = workdir / "chaos-home"
    os.environ |= {
        "SMVUE_HOME": str(home),
        "SMVUE_SECRET_KEY": TokenCipher.generate_key(),
        "SMVUE_API_TOKEN": f"bench-{uuid.uuid4().hex}",
        "SMVUE_RECONCILE_CRON": "* * * * *",
    }
    now = datetime.now(UTC)
    with EmulatorProcess(workdir / "emulator.log") as emulator:
        point_at_emulator(emulator.url)
        admin = emulator.admin
        mailboxes = organisation(USERS, uuid.uuid4().hex[:6])
        seed_organisation(admin, mailboxes, EVENTS, now)
        with LiveStack(port=0) as live:
            api = requests.Session()
            api.trust_env = False
            api.headers["Authorization"] = f"Bearer {live.settings.api_token()}"
            browser = requests.Session()
            browser.trust_env = False
            for m in mailboxes:
                connect_through_gateway(live, api, browser, m.manager_id, m.email, m.provider)
            if not wait_for(lambda: live.check() or live.idle(), 600, 0.5):
                raise RuntimeError("the initial imports did not drain within 600 s")

            admin.reset_stats()
            admin.faults(FAULTS)
            for k in range(changes):
                mailbox = mailboxes[k % len(mailboxes)]
                mutate(emulator, mailbox, 1, k, now, [k // len(mailboxes)], (KINDS[k % len(KINDS)],))
                time.sleep(0.25)  # changes spread out: several notification batches per calendar
            last_change = time.time()
            admin.wait_notifications(timeout=30)
            stats = admin.stats()

            clean_home = SmvueHome(workdir / "clean-home", emulator.url)
            clean_home.connect(mailboxes)
            clean_home.close()
            if not load_result(clean_home.sync())["success"]:
                raise RuntimeError("the clean import failed")
            clean = live_rows(clean_home)

            chaos_home = SmvueHome(home, emulator.url)
            published = live.settings.published_path
            state: dict = {}

            def converged() -> bool:
                live.check()
                try:
                    state["compare"] = compare(live_rows(chaos_home, published), clean)
                except Exception as exc:  # noqa: BLE001 - a snapshot mid-replace: next poll
                    state["error"] = f"{type(exc).__name__}"
                    return False
                return state["compare"]["equal"]

            done = wait_for(converged, 300, 1.0)
            converged_s = time.time() - last_change if done else None
            admin.clear_faults()
            # The first reconcile launched after the last change, once it has finished.
            reconcile = wait_for(
                lambda: live.check() or first_reconcile_after(live.settings, last_change), 240, 2
            )
            leaks = scan([home, workdir / "clean-home"], secrets_of(admin))

    window = reconcile["ended_s"] if reconcile else None
    within = bool(done) and window is not None and converged_s <= window + 5
    emit(
        {
            "passed": within and leaks["hits"] == 0,
            "figures": {
                "changes": changes,
                "notifications": stats["notifications"],
                "converged": bool(done),
                "converged_s_after_last_change": round(converged_s, 1) if converged_s is not None else None,
                "first_reconcile_after_last_change_ended_s": window,
                "converged_within_reconcile": within,
                "rows": state.get("compare", {}).get("rows"),
                "canary_hits": leaks["hits"],
            },
            "compare": state.get("compare"),
            "reconcile_run": reconcile,
            "scan": leaks,
        }
    )
    return 0


def first_reconcile_after(settings, since: float) -> dict | None:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        records = instance.get_run_records(dg.RunsFilter(tags={"smvue/trigger": "reconcile"}), limit=20)
    after = sorted(
        (r for r in records if r.create_timestamp.timestamp() >= since and r.end_time),
        key=lambda r: r.create_timestamp,
    )
    if not after:
        return None
    run = after[0]
    return {
        "run_id": run.dagster_run.run_id,
        "created_s": round(run.create_timestamp.timestamp() - since, 1),
        "ended_s": round(run.end_time - since, 1),
        "status": run.dagster_run.status.value,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--changes", type=int, default=30)
    args = parser.parse_args(argv)
    return child(args.workdir, args.changes)


if __name__ == "__main__":
    sys.exit(main())
