"""The fetch floor: the same pages SMVue's sync asks for (same URLs, field masks, page sizes, Graph
delta pages and series-master look-ups), fetched with stdlib http.client and parsed with json,
storing nothing. No sync can beat it on this machine with this emulator: it is the ceiling the
initial import is measured against (SPEC.md, Performance).

Run by the harness as a child: `python -m bench.fetch_floor SPEC.json` prints one BENCH_RESULT line.
The spec names the emulator URL, the calendars (email, provider, calendar id), the sync window and
the number of concurrent connections; tokens come from the admin API before the clock starts.
"""

from __future__ import annotations

import http.client
import json
import queue
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from bench.common import cpu_seconds, emit, self_cpu_s
from calendar_emulator.actors import EmulatorAdminClient
from smvue_core.providers.google.mapping import LIST_FIELDS
from smvue_core.providers.outlook.mapping import MASTER_SELECT

GOOGLE_PAGE_SIZE = 2500  # GoogleCalendarClient.page_size default (Google's maximum)
GRAPH_PAGE_SIZE = 1000  # OutlookCalendarClient.delta_page_size default


class Fetcher:
    """One keep-alive connection to the emulator; counts requests and parsed items."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.requests = 0
        self.rows = 0

    def get(self, path: str, headers: dict[str, str]) -> dict:
        self.conn.request("GET", path, headers=headers)
        response = self.conn.getresponse()
        body = response.read()
        self.requests += 1
        if response.status != 200:
            raise RuntimeError(f"GET {path[:80]}: {response.status} {body[:200]!r}")
        return json.loads(body)

    def google(self, calendar_id: str, token: str, window: tuple[str, str], page_size: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        params = {
            "timeMin": window[0],
            "timeMax": window[1],
            "singleEvents": "true",
            "maxResults": str(page_size),
            "fields": LIST_FIELDS,
        }
        base = f"/google/calendar/v3/calendars/{quote(calendar_id, safe='')}/events?"
        page_token = None
        while True:
            query = params | ({"pageToken": page_token} if page_token else {})
            page = self.get(base + urlencode(query), headers)
            self.rows += len(page.get("items", []))
            page_token = page.get("nextPageToken")
            if not page_token:
                return

    def graph(self, calendar_id: str, token: str, window: tuple[str, str], page_size: int) -> None:
        headers = {
            "Authorization": f"Bearer {token}",
            "Prefer": f'IdType="ImmutableId", outlook.timezone="UTC", odata.maxpagesize={page_size}',
        }
        path = f"/microsoft/v1.0/me/calendars/{quote(calendar_id, safe='')}/calendarView/delta?" + urlencode(
            {"startDateTime": window[0], "endDateTime": window[1]}
        )
        masters: set[str] = set()
        while True:
            page = self.get(path, headers)
            for item in page.get("value", []):
                if "@removed" in item or item.get("type") == "seriesMaster":
                    continue
                if item.get("type") == "occurrence" and item["seriesMasterId"] not in masters:
                    # SMVue fills sparse delta occurrences from their series master, once each.
                    masters.add(item["seriesMasterId"])
                    master = quote(item["seriesMasterId"], safe="")
                    self.get(f"/microsoft/v1.0/me/events/{master}?$select={MASTER_SELECT}", headers)
                self.rows += 1
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            parts = urlsplit(next_link)
            path = parts.path + ("?" + parts.query if parts.query else "")


def fetch_all(
    url: str, calendars: list[dict], window: tuple[str, str], workers: int, pages: dict, server_pid: int = 0
) -> dict:
    """Every calendar once, over `workers` connections; returns rows, requests and seconds."""
    work: queue.Queue = queue.Queue()
    for calendar in calendars:
        work.put(calendar)
    fetchers = [Fetcher(url) for _ in range(workers)]
    errors: list[str] = []

    def drain(fetcher: Fetcher) -> None:
        while True:
            try:
                calendar = work.get_nowait()
            except queue.Empty:
                return
            try:
                if calendar["provider"] == "google":
                    fetcher.google(calendar["calendar_id"], calendar["token"], window, pages["google"])
                else:
                    fetcher.graph(calendar["calendar_id"], calendar["token"], window, pages["microsoft"])
            except Exception as exc:  # noqa: BLE001 - reported, never hidden
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=drain, args=(f,)) for f in fetchers]
    cpu_before, server_before = self_cpu_s(), cpu_seconds(server_pid) if server_pid else None
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cpu = self_cpu_s() - cpu_before
    server_after = cpu_seconds(server_pid) if server_pid else None
    rows = sum(f.rows for f in fetchers)
    return {
        "workers": workers,
        "rows": rows,
        "requests": sum(f.requests for f in fetchers),
        "wall_s": round(wall, 3),
        "client_cpu_s": round(cpu, 3),
        "emulator_cpu_s": round(server_after - server_before, 3) if server_before is not None else None,
        "rows_per_s": round(rows / wall) if wall else None,
        "errors": errors[:5],
    }


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    admin = EmulatorAdminClient(spec["url"], timeout=300)
    calendars = [
        c | {"token": admin.token(c["email"], c["provider"])} for c in spec["calendars"]
    ]  # minted before the clock starts, as SMVue holds its tokens before a sync
    window = (spec["window"][0], spec["window"][1])
    pages = {
        "google": spec.get("google_page_size", GOOGLE_PAGE_SIZE),
        "microsoft": spec.get("graph_page_size", GRAPH_PAGE_SIZE),
    }
    runs = []
    for workers in spec.get("workers", [1, 4]):
        # A warm-up pass over a few calendars, then the timed pass over all of them.
        fetch_all(spec["url"], calendars[: min(4, len(calendars))], window, 1, pages)
        runs.append(fetch_all(spec["url"], calendars, window, workers, pages, spec.get("emulator_pid", 0)))
    best = max(runs, key=lambda r: r["rows_per_s"] or 0)
    emit({"runs": runs, "best": best})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
