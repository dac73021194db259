"""The emulator's admin client with the suite's deadlines: its HTTP timeout and the emulator-side
wait for in-flight notifications are both stretched by SMVUE_TEST_SLOWDOWN."""

from __future__ import annotations

from calendar_emulator.actors import EmulatorAdminClient
from tests.waiting import scaled

# Longer than any notification wait a test asks for, so the emulator answers before the client
# gives up.
HTTP_TIMEOUT = 40.0


class AdminClient(EmulatorAdminClient):
    def __init__(self, base_url: str, timeout: float = HTTP_TIMEOUT) -> None:
        super().__init__(base_url, timeout=scaled(timeout))

    def wait_notifications(self, timeout: float = 10) -> dict:
        """`idle` once the emulator has delivered everything in flight, or after `scaled(timeout)` s."""
        return super().wait_notifications(scaled(timeout))
