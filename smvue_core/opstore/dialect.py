"""What differs between the two backends of the operational store, in one place.

The repositories write one SQL text, in SQLite's spelling (`?`, `?1`, `:name` placeholders,
`json_each(?)` for a bound list); `PostgresDialect.translate` rewrites it for psycopg once per
statement (cached). What cannot be rewritten mechanically is spelled here as a fragment the
repositories ask for: the row-lock clause of a claim (`FOR UPDATE SKIP LOCKED`).
"""

from __future__ import annotations

import re
from functools import lru_cache

# A statement's `json_each(?)` list (a JSON array bound as one parameter), in PostgreSQL.
_JSON_EACH = re.compile(r"\(\s*SELECT\s+value\s+FROM\s+json_each\(\s*\?\s*\)\s*\)", re.IGNORECASE)
_BEGIN_IMMEDIATE = re.compile(r"^\s*BEGIN\s+IMMEDIATE\s*$", re.IGNORECASE)


class SqliteDialect:
    name = "sqlite"
    # SQLite has no row locks: BEGIN IMMEDIATE already holds the single write lock.
    skip_locked = ""

    @staticmethod
    def translate(sql: str) -> str:
        return sql

    @staticmethod
    def params(sql: str, params):
        return params


class PostgresDialect:
    name = "postgresql"
    # A claim takes the due rows no other claimer holds right now, and locks them until COMMIT.
    skip_locked = " FOR UPDATE SKIP LOCKED"

    @staticmethod
    def translate(sql: str) -> str:
        return _translate(sql)[0]

    @staticmethod
    def params(sql: str, params):
        """`?1`-style statements bind a tuple by position number: psycopg takes them by name."""
        if _translate(sql)[1] and isinstance(params, tuple | list):
            return {f"p{i}": value for i, value in enumerate(params, start=1)}
        return params


@lru_cache(maxsize=2048)
def _translate(sql: str) -> tuple[str, bool]:
    """(psycopg's text, whether it numbers its parameters). Literals, quoted names and comments
    are copied as they are (only `%` is doubled there, psycopg's escape)."""
    if _BEGIN_IMMEDIATE.match(sql):
        return "BEGIN", False
    sql = _JSON_EACH.sub("(SELECT json_array_elements_text(?::json))", sql)
    out: list[str] = []
    numbered = False
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            end = sql.find(ch, i + 1)
            end = n if end < 0 else end + 1
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif ch == "%":
            out.append("%%")
            i += 1
        elif ch == "?":
            j = i + 1
            while j < n and sql[j].isdigit():
                j += 1
            if j > i + 1:
                out.append(f"%(p{sql[i + 1 : j]})s")
                numbered = True
            else:
                out.append("%s")
            i = j
        elif ch == ":" and sql.startswith("::", i):
            out.append("::")
            i += 2
        elif ch == ":" and i + 1 < n and (sql[i + 1].isalpha() or sql[i + 1] == "_"):
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] == "_"):
                j += 1
            out.append(f"%({sql[i + 1 : j]})s")
            i = j
        else:
            out.append(ch)
            i += 1
    return "".join(out), numbered


SQLITE = SqliteDialect()
POSTGRES = PostgresDialect()
