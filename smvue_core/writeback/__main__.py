"""`python -m smvue_core.writeback`: a write-back worker as its own process.

The gateway runs the same workers as threads; a separate process is for scaling out, for operators
draining a backlog (`--once`), and for crash tests (kill -9 at a failpoint, then start another).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from smvue_core.opstore import OpStore
from smvue_core.security.cipher import TokenCipher
from smvue_core.settings import ConfigError, Settings
from smvue_core.writeback.worker import WorkerConfig, WritebackWorker, writeback_providers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smvue_core.writeback", description=__doc__)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between outbox polls")
    parser.add_argument("--lease-seconds", type=float, default=WorkerConfig.lease_seconds)
    parser.add_argument("--max-attempts", type=int, default=WorkerConfig.max_attempts)
    parser.add_argument("--once", action="store_true", help="drain what is due now, then exit")
    args = parser.parse_args(argv)
    if args.interval <= 0 or args.lease_seconds <= 0 or args.max_attempts < 1:
        print("writeback: --interval and --lease-seconds must be > 0, --max-attempts >= 1", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
        key = settings.secret_key()
    except ConfigError as exc:  # a short token, a key file others can read: one line, no traceback
        print(f"writeback: {exc}", file=sys.stderr)
        return 2
    worker = WritebackWorker(
        OpStore(settings.opstore_target),
        TokenCipher(key),
        writeback_providers(settings),
        config=WorkerConfig(lease_seconds=args.lease_seconds, max_attempts=args.max_attempts),
    )
    print(f"writeback worker {worker.owner} ready", file=sys.stderr, flush=True)
    if args.once:
        while worker.run_once():
            pass
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker.run(stop, args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
