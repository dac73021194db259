"""Serving the gateway with uvicorn: in the foreground (`smvue gateway`) or on a background thread
(tests, `smvue up`). Either way a real HTTP server; SIGTERM/SIGINT stop it cleanly, and the app's
lifespan stops the intake and the background workers. Either way `server_config` bounds what a
client can hold: the read deadline (webhook_gateway/protocol.py), idle keep-alive, and the number
of open connections (GatewayLimits)."""

from __future__ import annotations

import gc
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType

import uvicorn
from fastapi import FastAPI

from smvue_core.settings import Settings
from webhook_gateway.app import create_app
from webhook_gateway.limits import GatewayLimits
from webhook_gateway.protocol import read_deadline_protocol

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # uvicorn re-raises captured signals once it has shut down; after a graceful shutdown on
        # SIGTERM the process exits 0 instead of dying by the signal (supervisors read that as a crash).
        captured = getattr(self, "_captured_signals", None)
        if sig == signal.SIGTERM and captured and captured[-1] == signal.SIGTERM:
            captured.pop()


def tune_garbage_collector() -> None:
    """For a process that is the gateway and nothing else (not a test run sharing it).

    Everything loaded at start (the provider clients, pydantic and FastAPI internals: well over a
    hundred thousand objects) lives as long as the process; frozen, a full collection no longer
    walks it (each one paused the event loop for 50-90 ms under load). And since notifications wait
    across event-loop turns for their group commit, their objects outlive the default
    700-allocation young generation: it is collected less often, in larger steps.
    """
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


def server_config(app: FastAPI, limits: GatewayLimits | None = None, **options) -> uvicorn.Config:
    """uvicorn's configuration for the gateway; `limits` defaults to the app's own (create_app)."""
    limits = limits or getattr(app.state, "limits", None) or GatewayLimits.from_env()
    return uvicorn.Config(
        app,
        http=read_deadline_protocol(limits.request_read_timeout),
        timeout_keep_alive=limits.keep_alive_timeout,
        # Past it, a new request is answered 503 at once (providers retry): connections stay bounded
        # whatever clients hold open, while the read deadline frees the slow ones.
        limit_concurrency=limits.max_connections,
        log_level="warning",
        access_log=False,
        **options,
    )


def serve(host: str, port: int, settings: Settings | None = None) -> None:
    """Foreground server for `smvue gateway` until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app(settings or Settings.from_env())
    tune_garbage_collector()
    log.info("starting the gateway on http://%s:%d", host, port)
    _Server(server_config(app, host=host, port=port)).run()
    log.info("gateway stopped")


class GatewayServer:
    """A gateway on a background thread: `with GatewayServer(lambda url: create_app(...)) as gw`.

    The socket is bound first, so an app factory receives the server's own URL (to use as
    SMVUE_PUBLIC_URL: the address providers deliver to)."""

    def __init__(
        self,
        app: FastAPI | Callable[[str], FastAPI],
        host: str = "127.0.0.1",
        port: int = 0,
        limits: GatewayLimits | None = None,
    ) -> None:
        self.host = host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port = self._sock.getsockname()[1]
        self.app = app if isinstance(app, FastAPI) else app(self.url)
        self.config = server_config(self.app, limits, lifespan="on")
        self._server = uvicorn.Server(self.config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> GatewayServer:
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="gateway", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"gateway failed to start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> GatewayServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
