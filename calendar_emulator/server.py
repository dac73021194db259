"""Serving the emulator: in the foreground (`smvue emulator`) or in a background thread (tests, demo).

Either way it is a real uvicorn server on loopback, so the clients talk real HTTP to it.
"""

from __future__ import annotations

import logging
import threading
import time

import uvicorn

from calendar_emulator.app import create_app
from calendar_emulator.providers import new_state
from calendar_emulator.state import EmulatorConfig, EmulatorState
from calendar_emulator.tls import TlsFiles

# Google's and Microsoft's front ends keep idle connections open far longer than uvicorn's 5 s
# default; with 5 s, pooled clients (httplib2) hit BrokenPipe on POSTs after a short pause.
KEEP_ALIVE_SECONDS = 120
TLS_SHUTDOWN_SECONDS = 2


class EmulatorServer:
    """A running emulator: `with EmulatorServer() as emu: emu.url`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        state: EmulatorState | None = None,
        config: EmulatorConfig | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        self.state = state or new_state(config)
        self.app = create_app(self.state)
        self.tls = tls
        self._config = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            **_tls_options(tls),
        )
        self._server = uvicorn.Server(self._config)
        self._thread: threading.Thread | None = None
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.run, name="calendar-emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"calendar emulator failed to start on {self.host}:{self.port}")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.state.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _tls_options(tls: TlsFiles | None) -> dict:
    if tls is None:
        return {}
    return {
        "ssl_certfile": str(tls.cert_file),
        "ssl_keyfile": str(tls.key_file),
        # A TLS handshake cut short (a client probing while the server starts) can leave a
        # connection that never closes; without a bound, shutdown waits on it forever.
        "timeout_graceful_shutdown": TLS_SHUTDOWN_SECONDS,
    }


def serve_forever(
    host: str, port: int, config: EmulatorConfig | None = None, tls: TlsFiles | None = None
) -> None:
    """Foreground server for `smvue emulator`; SIGINT/SIGTERM stop it cleanly."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    state = new_state(config)
    if tls is not None:
        # What a client must trust; printed (not logged) so scripts can read it.
        print(f"emulator CA file: {tls.ca_file}", flush=True)
        print(f"serving https://{host}:{port}", flush=True)
    try:
        uvicorn.run(
            create_app(state),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            **_tls_options(tls),
        )
    finally:
        state.close()
