"""What a test of SMVue's files at rest checks: nothing under SMVUE_HOME open to the group or others."""

from __future__ import annotations

import os
from pathlib import Path


def group_or_world_accessible(root: Path | str) -> list[str]:
    """Every file and folder under `root` (itself included) whose mode lets the group or others in,
    as "relative/path MODE"."""
    found = []
    for folder, names, files in os.walk(root):
        for path in [folder, *(os.path.join(folder, n) for n in names + files)]:
            mode = os.lstat(path).st_mode & 0o777
            if mode & 0o077:
                found.append(f"{os.path.relpath(path, root)} {mode:04o}")
    return found
