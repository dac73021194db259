"""A burst of notifications over 100 calendars through the running stack (SPEC.md, Performance:
zero lost; runs launched ≤ 1 per calendar per sensor tick).

The whole stack as `smvue up` runs it — the gateway and the Dagster daemon (LiveStack) — on a
private SMVUE_HOME, with the emulator in its own process. Ten managers (half Google, half Outlook)
with ten calendars each connect through the gateway's OAuth routes; every calendar is selected and
watched. After the initial import has drained, N genuine notifications (valid channel tokens /
clientStates, as the emulator lists them) are posted to /webhooks/google and /webhooks/microsoft
from 8 threads, every calendar at least once, in random order. Then the daemon drains the queue.

Figures: acknowledged vs queued rows vs settled (lost = anything acknowledged that never reached a
committed sync); from Dagster's own records, the runs each sensor tick launched and how many of
them covered the same calendar; the time from the first notification to an idle pipeline.

Runs as a child of the harness (`python -m bench.burst --child ...`), because the live stack reads
its configuration from the process environment.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.common import PYTHON, EmulatorProcess, emit, make_events, run_child, verdict

MANAGERS = 10
CALENDARS_PER_MANAGER = 10
EVENTS_PER_CALENDAR = 20


def run(args, workdir: Path) -> dict:
    """The harness side: the child does the work; its figures come back as JSON."""
    argv = [
        PYTHON,
        "-m",
        "bench.burst",
        "--child",
        "--notifications",
        str(args.burst_size),
        "--workdir",
        str(workdir),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMVUE_") and k != "DAGSTER_HOME"}
    child = run_child(argv, env=env, timeout=1500)
    found = child.result()
    if found is None:
        raise RuntimeError(f"burst child printed no result (exit {child.returncode}): {child.tail()}")
    lost = found["lost"]
    figures = [
        {
            "figure": f"lost, {found['notifications']:,} notifications over {found['calendars']} calendars",
            "value": f"{lost} lost ({found['acknowledged']:,} acked, {found['queued']:,} queued, "
            f"{found['unsettled']} unsettled)",
            "anchor": f"posted at {found['post_rate_per_s']:,}/s; idle {found['drain_s']:.1f} s after the first",
            **verdict(lost, "<=", 0, ""),
        },
        {
            "figure": "runs per calendar per sensor tick (max)",
            "value": f"{found['max_runs_per_calendar_per_tick']} "
            f"({found['runs']} runs over {found['ticks_with_runs']} ticks)",
            "anchor": f"{found['notifications']:,} notifications -> {found['runs']} runs "
            f"({found['runs'] / found['notifications']:.4f} runs/notification)",
            **verdict(found["max_runs_per_calendar_per_tick"], "<=", 1, ""),
        },
    ]
    return {"figures": figures, "details": found | {"process_wall_s": round(child.wall_s, 1)}}


# --- the child ---------------------------------------------------------------------------------------
def connect_through_gateway(
    live, api: requests.Session, browser: requests.Session, manager_id, email, provider
):
    answer = api.put(
        f"{live.url}/v1/managers/{manager_id}", json={"name": f"Burst {email}", "email": email}, timeout=60
    )
    if answer.status_code >= 400:
        raise RuntimeError(f"PUT manager: {answer.status_code} {answer.text[:200]}")
    start = api.get(
        f"{live.url}/oauth/{provider}/start",
        params={"manager_id": manager_id},
        allow_redirects=False,
        timeout=60,
    )
    consent = browser.get(start.headers["location"], allow_redirects=False, timeout=60)
    # The start's cookie binds the flow to the browser that started it.
    callback = browser.get(
        consent.headers["location"], cookies=start.cookies, allow_redirects=False, timeout=120
    )
    if callback.status_code != 200:
        raise RuntimeError(f"connect {email}: {callback.status_code} {callback.text[:200]}")
    return callback.json()["connection_id"]


def child(notifications: int, workdir: Path) -> int:
    from smvue.demo.live import LiveStack, wait_for
    from smvue.demo.run import point_at_emulator
    from smvue_core.opstore import OpStore
    from smvue_core.opstore.connections import ConnectionRepository
    from smvue_core.opstore.queue import ChangeQueue
    from smvue_core.security.cipher import TokenCipher

    home = workdir / "home"
    os.environ["SMVUE_HOME"] = str(home)
    os.environ["SMVUE_SECRET_KEY"] = TokenCipher.generate_key()
    os.environ["SMVUE_API_TOKEN"] = f"bench-{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:6]
    with EmulatorProcess(workdir / "emulator.log") as emulator:
        point_at_emulator(emulator.url)
        admin = emulator.admin
        people = []
        for m in range(MANAGERS):
            provider = "google" if m % 2 == 0 else "microsoft"
            email = f"burst{m}.{tag}@bench.example"
            admin.create_user(email, provider, f"Burst {m}")
            calendars = [None] + [
                admin.call(
                    "POST", "calendars", json={"email": email, "provider": provider, "name": f"Team {k}"}
                )["calendar_id"]
                for k in range(CALENDARS_PER_MANAGER - 1)
            ]
            for k, calendar_id in enumerate(calendars):
                admin.seed(
                    email,
                    provider,
                    make_events(provider, email, EVENTS_PER_CALENDAR, m * 100 + k, now),
                    calendar_id,
                )
            people.append((f"mgr_{tag}_{m}", email, provider))

        with LiveStack(port=0) as live:
            api = requests.Session()
            api.trust_env = False
            api.headers["Authorization"] = f"Bearer {live.settings.api_token()}"
            browser = requests.Session()
            browser.trust_env = False
            store = OpStore(live.settings.opstore_target)
            repo = ConnectionRepository(store, TokenCipher(live.settings.secret_key()))
            queue = ChangeQueue(store)
            for manager_id, email, provider in people:
                connection_id = connect_through_gateway(live, api, browser, manager_id, email, provider)
                every = repo.calendars(connection_id, selected_only=False)
                repo.select_calendars(connection_id, {c.calendar_id for c in every})
                queue.enqueue(connection_id, None, "bench: every calendar selected")
            live.open_watches()
            if not wait_for(lambda: live.check() or live.idle(), 600, 0.5):
                raise RuntimeError("the initial imports did not drain within 600 s")

            watches = admin.call("GET", "watches")
            # Numbers above any the emulator's channels sent, rising per channel as Google's do.
            numbers = {c["id"]: c["message_number"] + 1000 for c in watches["google_channels"]}
            targets = [
                ("google", c["id"], c["resource_id"], c["token"])
                for c in watches["google_channels"]
                if c["active"] and not c["stopped"]
            ] + [
                ("microsoft", s["id"], None, s["clientState"])
                for s in watches["graph_subscriptions"]
                if s["active"] and not s["deleted"]
            ]
            # Graph names the subscription's tenant and user in every notification.
            owners = {
                row["watch_id"]: (row["tenant_id"], row["owner_id"])
                for row in store.query("SELECT watch_id, tenant_id, owner_id FROM watches")
            }
            rng = random.Random(5000)
            burst = targets + [rng.choice(targets) for _ in range(max(0, notifications - len(targets)))]
            rng.shuffle(burst)
            local = threading.local()
            outcomes: Counter = Counter()
            enqueued = [0]
            lock = threading.Lock()

            def post(target) -> None:
                if not hasattr(local, "http"):
                    local.http = requests.Session()
                    local.http.trust_env = False
                provider, watch_id, resource_id, secret = target
                if provider == "google":
                    numbers[watch_id] += 1  # one lane per channel (below): no race, no reordering
                    headers = {
                        "X-Goog-Channel-ID": watch_id,
                        "X-Goog-Resource-ID": resource_id,
                        "X-Goog-Resource-State": "exists",
                        "X-Goog-Message-Number": str(numbers[watch_id]),
                        "X-Goog-Channel-Token": secret,
                    }
                    answer = local.http.post(f"{live.url}/webhooks/google", headers=headers, timeout=60)
                else:
                    tenant_id, owner_id = owners.get(watch_id, (None, None))
                    item = {
                        "subscriptionId": watch_id,
                        "clientState": secret,
                        "changeType": "updated",
                        "tenantId": tenant_id,
                        "resource": f"Users/{owner_id}/Events/AAMkAD-bench",
                    }
                    answer = local.http.post(
                        f"{live.url}/webhooks/microsoft", json={"value": [item]}, timeout=60
                    )
                with lock:
                    outcomes[answer.status_code] += 1
                    if answer.status_code == 202:
                        enqueued[0] += int(answer.json().get("enqueued", 0))

            started_wall = time.time()
            began = time.perf_counter()
            # Each calendar's notifications in order on one of 8 lanes, as a provider delivers a
            # channel's messages: a later message number must not overtake an earlier one.
            lanes: list[list] = [[] for _ in range(8)]
            for target in burst:
                lanes[hash(target[1]) % len(lanes)].append(target)
            with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
                list(pool.map(lambda lane: [post(t) for t in lane], lanes))
            posted_s = time.perf_counter() - began
            drained = wait_for(lambda: live.check() or live.idle(), 900, 0.2)
            drain_s = time.perf_counter() - began
            unsettled = queue.depth()
            runs, ticks = dagster_records(live.settings, started_wall, repo)
            store.close()

    per_tick = []
    for tick in ticks:
        covered: Counter = Counter()
        for run_id in tick["run_ids"]:
            covered.update(runs.get(run_id, {}).get("calendars", ()))
        per_tick.append(max(covered.values(), default=0))
    acknowledged = outcomes.get(202, 0)
    emit(
        {
            "notifications": len(burst),
            "calendars": len(targets),
            "statuses": {str(k): v for k, v in outcomes.items()},
            "acknowledged": acknowledged,
            "queued": enqueued[0],
            "unsettled": unsettled,
            "drained": bool(drained),
            "lost": (len(burst) - acknowledged) + max(0, acknowledged - enqueued[0]) + unsettled,
            "post_s": round(posted_s, 2),
            "post_rate_per_s": round(len(burst) / posted_s),
            "drain_s": round(drain_s, 1),
            "runs": len(runs),
            "ticks_with_runs": len(ticks),
            "runs_per_tick": [len(t["run_ids"]) for t in ticks],
            "max_runs_per_calendar_per_tick": max(per_tick, default=0),
            "calendars_per_run": [len(r["calendars"]) for r in runs.values()],
        }
    )
    return 0


def dagster_records(settings, since: float, repo) -> tuple[dict, list[dict]]:
    """The change-queue runs launched since `since`, with the calendars each covered, and the
    sensor's ticks in that time with the runs each launched."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        runs = {}
        for record in instance.get_run_records(
            dg.RunsFilter(tags={"smvue/trigger": ["change_queue", "change_queue_retry"]})
        ):
            if record.create_timestamp.timestamp() < since - 1:
                continue
            config = record.dagster_run.run_config["ops"]["raw_calendar_events"]["config"]
            calendars = {(c["connection_id"], c["calendar_id"]) for c in config.get("calendars", [])}
            for connection_id in config.get("connection_ids", []):
                calendars |= {(connection_id, c.calendar_id) for c in repo.calendars(connection_id)}
            runs[record.dagster_run.run_id] = {"calendars": sorted(calendars)}
        ticks = []
        for state in instance.all_instigator_state():
            if state.instigator_name != "change_queue_sensor":
                continue
            for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id, after=since - 1):
                if tick.run_ids:
                    ticks.append({"timestamp": tick.timestamp, "run_ids": list(tick.run_ids)})
    return runs, ticks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--notifications", type=int, default=5000)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args(argv)
    return child(args.notifications, args.workdir)


if __name__ == "__main__":
    sys.exit(main())
