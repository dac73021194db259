"""Fixtures of the emulator conformance tests (the session emulator and `admin` come from tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.emulator.google_client import new_mailbox


@pytest.fixture
def alice(emulator, admin):
    """A fresh Google mailbox with a calendar service acting as its owner."""
    return new_mailbox(emulator, admin, name="Alice")
