"""A local HTTP receiver for push notifications: records every request it gets.

Tests point channels and subscriptions at it and wait on conditions, never on sleeps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.waiting import scaled


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class NotificationReceiver:
    """`with NotificationReceiver() as rx: ... rx.wait_for(lambda got: len(got) >= 2)`.

    By default it answers Graph's validation handshake (echoing the decoded token as text/plain)
    and 202 to everything else; `respond` overrides that per request.
    """

    def __init__(self, respond: Callable[[Received], tuple[int, str, bytes]] | None = None) -> None:
        self.received: list[Received] = []
        self._cond = threading.Condition()
        self.respond = respond or self.default_response
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                item = Received(parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
                # Recorded before it is answered: whoever reacts to the answer (the emulator's
                # validation, a retry) finds the request already here.
                with receiver._cond:
                    receiver.received.append(item)
                    receiver._cond.notify_all()
                status, content_type, payload = receiver.respond(item)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            # A GET is recorded too: a test playing a foreign host proves nothing reached it.
            do_GET = do_POST  # noqa: N815 - http.server's naming

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @staticmethod
    def default_response(item: Received) -> tuple[int, str, bytes]:
        token = item.query.get("validationToken")
        if token:
            return 200, "text/plain", token[0].encode()
        return 202, "text/plain", b""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def wait_for(self, condition: Callable[[list[Received]], bool], timeout: float = 10.0) -> list[Received]:
        """What was received once `condition` holds; an AssertionError after `scaled(timeout)` s."""
        limit = scaled(timeout)
        deadline = time.monotonic() + limit
        with self._cond:
            while not condition(self.received):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"condition not met in {limit:g}s; received {len(self.received)}")
                self._cond.wait(remaining)
            return list(self.received)

    def __enter__(self) -> NotificationReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
