"""uvicorn's HTTP protocol with a read deadline: a request must arrive whole within
`request_read_timeout` seconds of its first byte (or of the connection opening).

uvicorn bounds only the idle time between keep-alive requests; a client that sends its headers a
byte at a time, or declares a body and never sends it, holds a connection (and, once its headers
are in, a running request) for as long as it likes. ASGI middleware cannot see a request before its
headers are complete, so the deadline lives here: armed when the connection opens and whenever
bytes of a new request arrive, cleared when the request's last byte is parsed. When it fires, the
client gets a 408 (unless a response has started) and the connection is closed; a request still
waiting for its body sees a disconnect.
"""

from __future__ import annotations

import asyncio
from asyncio import TimerHandle

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 65_536  # request line and headers; a notification's are well under 2 KB


def _answer(status: bytes, error: str) -> bytes:
    body = b'{"error":"%s"}' % error.encode()
    return (
        b"HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n%s" % (status, len(body), body)
    )


_TIMED_OUT = _answer(b"408 Request Timeout", "request: not received within the read timeout")
_HEAD_TOO_LARGE = _answer(
    b"431 Request Header Fields Too Large", f"headers: larger than the {MAX_HEAD_BYTES}-byte limit"
)


class ReadDeadlineProtocol(HttpToolsProtocol):
    request_read_timeout: float = 10.0  # replaced per server by `read_deadline_protocol`
    timed_out = 0  # connections cut so far, in this process (the probes and tests read it)

    _read_deadline: TimerHandle | None = None
    _awaiting_headers = True
    _head_bytes = 0  # received while the current request's headers are incomplete
    _message_completed = False  # in the chunk being parsed

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_read_deadline()  # a connection that never sends a byte is cut too

    def data_received(self, data: bytes) -> None:
        # Before parsing: a chunk that completes the request clears the deadline as it is parsed.
        if self._read_deadline is None:
            self._arm_read_deadline()
        self._message_completed = False
        super().data_received(data)
        # httptools keeps no limit on the request line and headers (h11 does): capped here. A chunk
        # that also ended the previous request is not counted (at most one read's worth, 256 KB).
        if self._awaiting_headers and not self._message_completed and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(_HEAD_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._read_deadline is None:  # a pipelined request, in the chunk that ended the last one
            self._arm_read_deadline()

    def on_headers_complete(self) -> None:
        self._awaiting_headers, self._head_bytes = False, 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._clear_read_deadline()
        self._awaiting_headers, self._message_completed = True, True
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._clear_read_deadline()
        super().connection_lost(exc)

    def _arm_read_deadline(self) -> None:
        self._read_deadline = self.loop.call_later(self.request_read_timeout, self._read_timed_out)

    def _clear_read_deadline(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _read_timed_out(self) -> None:
        self._read_deadline = None
        if self.transport.is_closing():
            return
        type(self).timed_out += 1
        self._refuse(_TIMED_OUT)

    def _refuse(self, answer: bytes) -> None:
        """Answer (unless a response has started) and close; a request waiting for its body ends."""
        self._clear_read_deadline()
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            self.transport.write(answer)
        self.transport.close()
        if cycle is not None and not cycle.response_complete:
            # What connection_lost does, now: the app waiting for the body stops waiting.
            cycle.disconnected = True
            cycle.message_event.set()


def read_deadline_protocol(request_read_timeout: float) -> type[ReadDeadlineProtocol]:
    """The protocol class for one server (uvicorn instantiates the class it is given)."""
    return type(
        "ReadDeadlineProtocol", (ReadDeadlineProtocol,), {"request_read_timeout": request_read_timeout}
    )
