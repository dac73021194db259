"""SMVue's own sync, as the benchmarks and the chaos harness drive it.

`SmvueHome` is a private SMVUE_HOME pointed at an emulator: managers go into the roster and connect
through the real OAuth flow (authorize → the emulator's consent → callback → ConnectService.finish,
which stores encrypted tokens and lists calendars). The sync itself runs in a child process
(`python -m bench.smvue_sync`): the `raw_calendar_events` asset materialized by Dagster with the
real provider clients — the path `sync_calendars_job` takes — so its wall time, CPU and peak RSS
are the sync's alone. The child prints one BENCH_RESULT line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from bench.common import PYTHON, ChildResult, Mailbox, emit, run_child

PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "TZ")


def smvue_env(home: Path, emulator_url: str, secret_key: str, **extra: str) -> dict[str, str]:
    """A child's whole environment: only what SMVue reads, so nothing of the caller's leaks in."""
    env = {name: os.environ[name] for name in PASSTHROUGH if name in os.environ}
    env |= {
        "SMVUE_HOME": str(home),
        "SMVUE_SECRET_KEY": secret_key,
        "SMVUE_API_TOKEN": "bench-api-token-not-a-secret-" + "x" * 16,
        "SMVUE_GOOGLE_API_BASE": f"{emulator_url}/google/calendar/v3/",
        "SMVUE_GOOGLE_AUTH_BASE": f"{emulator_url}/google/oauth2/",
        "SMVUE_GRAPH_API_BASE": f"{emulator_url}/microsoft/v1.0/",
        "SMVUE_MS_AUTHORITY": f"{emulator_url}/microsoft/common",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "DO_NOT_TRACK": "1",
        "PYTHONUNBUFFERED": "1",
    }
    return env | extra


class SmvueHome:
    """One SMVUE_HOME wired to one emulator, with its roster and OAuth connections."""

    def __init__(self, home: Path, emulator_url: str) -> None:
        from smvue_core.security.cipher import TokenCipher
        from smvue_core.settings import Settings

        self.home = home
        self.emulator_url = emulator_url
        self.env = smvue_env(home, emulator_url, TokenCipher.generate_key())
        self.settings = Settings.from_env(self.env)
        self._service = None

    @property
    def service(self):
        """ConnectService with the real Google and Outlook clients (built on first use)."""
        if self._service is None:
            from smvue_core.connect import ConnectService
            from smvue_core.opstore import OpStore
            from smvue_core.providers.factory import calendar_providers
            from smvue_core.security.cipher import TokenCipher

            s = self.settings
            providers = calendar_providers(s)
            self._service = ConnectService(
                OpStore(s.opstore_target), TokenCipher(s.secret_key()), providers, s.public_url
            )
        return self._service

    def connect(self, mailboxes: list[Mailbox], workers: int = 4) -> dict[str, str]:
        """Every mailbox into the roster and through OAuth; returns email -> connection id."""
        import requests

        service = self.service
        for mailbox in mailboxes:
            service.roster.upsert_manager(mailbox.manager_id, f"Manager {mailbox.email}", mailbox.email)

        def one(mailbox: Mailbox) -> tuple[str, str]:
            http = requests.Session()
            http.trust_env = False
            url = service.start(mailbox.manager_id, mailbox.provider)
            answer = http.get(url, allow_redirects=False, timeout=60)
            if answer.status_code != 302:
                raise RuntimeError(f"authorize {mailbox.email}: {answer.status_code} {answer.text[:200]}")
            params = dict(parse_qsl(urlsplit(answer.headers["Location"]).query))
            outcome = service.finish(mailbox.provider, params)
            return mailbox.email, outcome.connection.connection_id

        with ThreadPoolExecutor(max_workers=workers) as pool:
            return dict(pool.map(one, mailboxes))

    def sync(self, *, full: bool = False, timeout: float = 1800, **options) -> ChildResult:
        """One materialization of raw_calendar_events in a child process."""
        argv = [PYTHON, "-m", "bench.smvue_sync"]
        if full:
            argv.append("--full")
        for name, value in options.items():
            if value is not None and value is not False:
                argv += [f"--{name.replace('_', '-')}"] + ([] if value is True else [str(value)])
        return run_child(argv, env=self.env, timeout=timeout)

    def start_sync(self, **options):
        """The same child, started and left running (the chaos harness kills it)."""
        import subprocess

        argv = [PYTHON, "-m", "bench.smvue_sync", "--announce"]
        for name, value in options.items():
            if value:
                argv += [f"--{name.replace('_', '-')}"] + ([] if value is True else [str(value)])
        return subprocess.Popen(
            argv,
            cwd=Path(__file__).resolve().parent.parent,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )

    def query(self, sql: str, params: list | None = None, path: Path | None = None) -> list[tuple]:
        from smvue_core.warehouse.database import open_database

        con = open_database(path or self.settings.warehouse_path, read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def close(self) -> None:
        if self._service is not None:
            self._service.store.close()


# --- the child -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="materialize raw_calendar_events once (bench child)")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--page-size", type=int, default=None, help="Google maxResults and Graph maxpagesize")
    parser.add_argument("--announce", action="store_true", help="print 'applied ...' after each calendar")
    parser.add_argument("--retry-cap", type=float, default=None, help="longest backoff between attempts")
    parser.add_argument("--request-timeout", type=float, default=None, help="seconds per provider request")
    args = parser.parse_args(argv)

    import_started = time.perf_counter()
    import dagster as dg

    from smvue_core.settings import Settings
    from smvue_core.sync import engine
    from smvue_pipeline.assets.raw_events import raw_calendar_events
    from smvue_pipeline.resources.bindings import build_resources

    settings = Settings.from_env()
    tuning: dict = {}
    if args.retry_cap is not None:
        tuning |= {"retry_cap_seconds": args.retry_cap, "retry_base_seconds": min(0.5, args.retry_cap)}
    if args.request_timeout is not None:
        tuning |= {"request_timeout_seconds": args.request_timeout}
    resources = build_resources(
        settings,
        google={**tuning, **({"page_size": args.page_size} if args.page_size else {})},
        microsoft={**tuning, **({"delta_page_size": args.page_size} if args.page_size else {})},
    )

    # Time spent inside SyncEngine.run (fetch + apply), apart from Dagster's run around it.
    engine_time: list[float] = []
    original_run = engine.SyncEngine.run

    def timed_run(self, jobs):
        began = time.perf_counter()
        try:
            return original_run(self, jobs)
        finally:
            engine_time.append(time.perf_counter() - began)

    engine.SyncEngine.run = timed_run
    # Where the engine's time goes: applying (DuckDB, on the run's thread, one transaction per
    # batch of calendars) and fetching (provider calls and parsing, on the fetch threads; summed).
    spent = {"apply_s": 0.0, "fetch_s": 0.0}
    original_apply, original_fetch = engine.apply_batch, engine.SyncEngine.fetch

    def timed_apply(con, batch, now):
        began = time.perf_counter()
        try:
            return original_apply(con, batch, now)
        finally:
            spent["apply_s"] += time.perf_counter() - began

    def timed_fetch(session, plan, window):
        began = time.perf_counter()
        try:
            return original_fetch(session, plan, window)
        finally:
            spent["fetch_s"] += time.perf_counter() - began

    engine.apply_batch = timed_apply
    engine.SyncEngine.fetch = staticmethod(timed_fetch)
    if args.announce:
        apply = engine.apply_batch

        def apply_and_announce(con, batch, now):
            counts = apply(con, batch, now)
            for changes in batch:
                print("applied", changes.connection_id, changes.calendar_id, flush=True)
            return counts

        engine.apply_batch = apply_and_announce
        print("syncing", flush=True)

    request = {"full": True} if args.full else {}
    began = time.perf_counter()
    result = dg.materialize(
        [raw_calendar_events],
        resources=resources,
        run_config={"ops": {"raw_calendar_events": {"config": request}}},
        raise_on_error=False,
    )
    wall = time.perf_counter() - began
    metadata = {}
    for event in result.asset_materializations_for_node("raw_calendar_events"):
        metadata = {k: getattr(v, "value", v) for k, v in event.metadata.items() if k != "per_connection"}
    emit(
        {
            "success": result.success,
            "materialize_s": round(wall, 3),
            "engine_s": round(sum(engine_time), 3),
            "apply_s": round(spent["apply_s"], 3),
            "fetch_s_summed_over_threads": round(spent["fetch_s"], 3),
            "imports_s": round(began - import_started, 3),
            "rows_in_table": metadata.get("dagster/row_count"),
            "rows_inserted": metadata.get("rows_inserted"),
            "rows_updated": metadata.get("rows_updated"),
            "rows_cancelled": metadata.get("rows_cancelled"),
            "connections_failed": metadata.get("connections_failed"),
            "pages": metadata.get("pages"),
            "requests": metadata.get("requests"),
        }
    )
    return 0 if result.success else 1


def load_result(child: ChildResult) -> dict:
    found = child.result()
    if found is None:
        raise RuntimeError(f"the sync child printed no result (exit {child.returncode}): {child.tail()}")
    return found


if __name__ == "__main__":
    sys.exit(main())
