"""Owner-only files under SMVUE_HOME.

Only tokens (always) and the warehouse (with SMVUE_WAREHOUSE_KEY) are encrypted at rest; the
operational store, Dagster's storage, the logs and the dashboard hold calendar data protected by
file modes alone, so nothing SMVue creates there may be readable by the group or others.
"""

from __future__ import annotations

import os
from pathlib import Path

OWNER_ONLY_UMASK = 0o077
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def owner_only_umask() -> None:
    """Every file and folder this process (and whatever it starts) creates is owner-only.

    Set before anything is written: Dagster's storage and compute logs, SQLite's -wal/-shm and
    DuckDB's temporary files are created by libraries that take their mode from the umask."""
    current = os.umask(OWNER_ONLY_UMASK)
    os.umask(current | OWNER_ONLY_UMASK)


def private_dir(path: str | Path) -> Path:
    """`path` as a folder only its owner can enter (created if missing, tightened if not)."""
    folder = Path(path)
    folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    # mkdir leaves a folder that already existed as it was (an older SMVue made them 0755).
    folder.chmod(PRIVATE_DIR_MODE)
    return folder


def write_private_text(path: str | Path, text: str) -> Path:
    """Replace `path` atomically with `text`, owner-only (a reader never sees half a file)."""
    target = Path(path)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), PRIVATE_FILE_MODE)  # a leftover staging file kept its old mode
        handle.write(text)
    os.replace(staging, target)
    return target


def open_private_append(path: str | Path):
    """A binary append handle on `path`, created owner-only (the children's logs)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)
    os.fchmod(fd, PRIVATE_FILE_MODE)
    return os.fdopen(fd, "ab")


def group_or_world_access(mode: int) -> bool:
    return bool(mode & 0o077)
