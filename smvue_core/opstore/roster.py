"""Managers and their reps (F9), as SMVue sends them through the gateway."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from smvue_core.clock import now_iso
from smvue_core.opstore.db import OpStore


@dataclass
class Manager:
    manager_id: str
    name: str
    email: str


@dataclass
class TeamMember:
    rep_id: str
    manager_id: str
    name: str
    email: str
    start_date: str | None


class RosterRepository:
    def __init__(self, store: OpStore) -> None:
        self.store = store

    def upsert_manager(self, manager_id: str, name: str, email: str) -> bool:
        """Returns True when the manager is new."""
        now = now_iso()
        with self.store.transaction() as conn:
            existed = conn.execute("SELECT 1 FROM managers WHERE manager_id = ?", (manager_id,)).fetchone()
            conn.execute(
                """INSERT INTO managers (manager_id, name, email, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (manager_id) DO UPDATE SET name = excluded.name, email = excluded.email,
                       updated_at = excluded.updated_at""",
                (manager_id, name, email, now, now),
            )
        return existed is None

    def upsert_team_member(
        self, rep_id: str, manager_id: str, name: str, email: str, start_date: str | None
    ) -> bool:
        now = now_iso()
        with self.store.transaction() as conn:
            existed = conn.execute("SELECT 1 FROM team_members WHERE rep_id = ?", (rep_id,)).fetchone()
            conn.execute(
                """INSERT INTO team_members (rep_id, manager_id, name, email, start_date, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (rep_id) DO UPDATE SET manager_id = excluded.manager_id, name = excluded.name,
                       email = excluded.email, start_date = excluded.start_date, updated_at = excluded.updated_at""",
                (rep_id, manager_id, name, email, start_date, now, now),
            )
        return existed is None

    def delete_team_member(self, rep_id: str) -> bool:
        with self.store.transaction() as conn:
            return conn.execute("DELETE FROM team_members WHERE rep_id = ?", (rep_id,)).rowcount > 0

    def manager(self, manager_id: str) -> Manager | None:
        row = self.store.query_one(
            "SELECT manager_id, name, email FROM managers WHERE manager_id = ?", (manager_id,)
        )
        return Manager(row["manager_id"], row["name"], row["email"]) if row else None

    def managers(self) -> list[Manager]:
        rows = self.store.query("SELECT manager_id, name, email FROM managers ORDER BY manager_id")
        return [Manager(r["manager_id"], r["name"], r["email"]) for r in rows]

    def team_member(self, rep_id: str) -> TeamMember | None:
        row = self.store.query_one("SELECT * FROM team_members WHERE rep_id = ?", (rep_id,))
        return _member(row) if row else None

    # Inside a caller's transaction (scheduling a meeting checks the people in the one it writes in).
    @staticmethod
    def has_manager(conn: sqlite3.Connection, manager_id: str) -> bool:
        return (
            conn.execute("SELECT 1 FROM managers WHERE manager_id = ?", (manager_id,)).fetchone() is not None
        )

    @staticmethod
    def manager_of(conn: sqlite3.Connection, rep_id: str) -> str | None:
        """The rep's manager's id; None when there is no such rep."""
        row = conn.execute("SELECT manager_id FROM team_members WHERE rep_id = ?", (rep_id,)).fetchone()
        return None if row is None else row["manager_id"]

    def team_members(self, manager_id: str | None = None) -> list[TeamMember]:
        if manager_id is None:
            rows = self.store.query("SELECT * FROM team_members ORDER BY manager_id, rep_id")
        else:
            rows = self.store.query(
                "SELECT * FROM team_members WHERE manager_id = ? ORDER BY rep_id", (manager_id,)
            )
        return [_member(r) for r in rows]


def _member(r) -> TeamMember:
    return TeamMember(r["rep_id"], r["manager_id"], r["name"], r["email"], r["start_date"])
