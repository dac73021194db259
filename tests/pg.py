"""The tests' throwaway PostgreSQL server (bench/postgres.py), and a fresh database on it per test:
the operational-store, gateway and journey tests that take the `opstore_backend` fixture (or the
gateway's session settings) run once on SQLite and once on this."""

from bench.postgres import PostgresServer, throwaway_server

__all__ = ["PostgresServer", "throwaway_server"]
