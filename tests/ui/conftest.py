"""Headless Chromium for screenshots: Debian's `chromium` package, installed here when missing.

Screenshots land in test-artifacts/ at the repository root (gitignored), kept after the run.
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from pathlib import Path

import pytest

from tests import processes

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WINDOW = (1600, 1000)
# Budgets on a quiet machine (stretched by SMVUE_TEST_SLOWDOWN). Installing Debian's chromium is
# three apt steps at most; the first UI test pays for it in its setup (INSTALL_CHROMIUM).
APT_STEP = 300
INSTALL_CHROMIUM = 3 * APT_STEP
SCREENSHOT = 120


def _find_browser() -> str | None:
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def _apt_install() -> str:
    """Install Debian's chromium package; '' on success, else why not."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available to install Debian's chromium package"
    if os.geteuid() != 0:
        return "installing chromium with apt-get needs root"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "chromium"]
    if processes.run(install, env=env, timeout=APT_STEP).returncode != 0:
        # A fresh machine may not have read the package lists yet.
        processes.run(["apt-get", "update", "-qq"], env=env, timeout=APT_STEP)
        done = processes.run(install, env=env, timeout=APT_STEP)
        if done.returncode != 0:
            return f"apt-get install chromium failed: {done.stderr.strip().splitlines()[-1:]}"
    return ""


@pytest.fixture(scope="session")
def chromium() -> str:
    browser = _find_browser()
    if browser is None:
        reason = _apt_install()
        browser = _find_browser()
        if browser is None:
            pytest.skip(reason or "chromium installed but not found on PATH")
    return browser


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def screenshot(browser: str, url: str, out: Path, profile: Path, budget_ms: int = 20_000) -> Path:
    """One headless page load, rendered for `budget_ms` of virtual time, saved as a PNG."""
    out.unlink(missing_ok=True)
    argv = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--virtual-time-budget={budget_ms}",
        f"--screenshot={out}",
        url,
    ]
    done = processes.run(argv, timeout=SCREENSHOT)
    assert out.exists(), f"chromium wrote no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    return out


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of RGB(A) pixels of an 8-bit non-interlaced PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    offset, idat = 8, b""
    width = height = channels = 0
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and colour in (2, 6), (depth, colour, interlace)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, [bytes(r) for r in rows]


def distinct_colours(path: Path, step: int = 4) -> int:
    """Distinct RGB colours on a grid of every `step`-th pixel: a blank page has one or two."""
    width, _, rows = png_pixels(path)
    channels = len(rows[0]) // width
    colours = set()
    for row in rows[::step]:
        for x in range(0, width, step):
            colours.add(row[x * channels : x * channels + 3])
    return len(colours)
