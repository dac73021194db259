"""Issue 13, item 7: a Graph @odata.nextLink / deltaLink outside the configured Graph base is
refused, never requested: the bearer token does not leave for another host, the calendar's sync
fails visibly, and no foreign link becomes the stored cursor."""

from __future__ import annotations

import pytest

from tests.receiver import NotificationReceiver
from tests.sync.test_retries import LIST_ROUTES, seed_one


@pytest.mark.parametrize("kind", ["full", "incremental"])
def test_a_foreign_graph_link_is_refused_and_never_requested(harness, kind):
    mailbox = harness.connect("microsoft", second_calendar=False)
    event_id = seed_one(mailbox)
    seed_one(mailbox)  # two events, one per page: the first page carries a nextLink
    if kind == "incremental":
        assert harness.materialize().success  # a genuine cursor first
        cursor = harness.sync_state(mailbox.connection_id)
    with NotificationReceiver() as foreign:
        harness.admin.faults(
            {
                "rules": [
                    {
                        "kind": "foreign_link",
                        "user": mailbox.email,
                        "path": LIST_ROUTES,
                        "link_base": foreign.url,
                    }
                ]
            }
        )
        # One connection's failure never fails the run.
        assert harness.materialize(microsoft={"delta_page_size": 1}).success
        harness.admin.clear_faults()
        assert foreign.received == []  # no request, so no token, reached the foreign host

    connection = harness.connection(mailbox.connection_id)
    assert connection.status == "error"
    assert connection.last_error.startswith("ForeignLink: refused a Graph link to http://127.0.0.1:")
    assert "deltatoken" not in connection.last_error.lower()  # the message names the origin only
    if kind == "incremental":
        assert harness.sync_state(mailbox.connection_id) == cursor  # the foreign deltaLink not stored
    else:
        assert harness.sync_state(mailbox.connection_id) == {}
    # Graph's genuine links again: the next run syncs.
    assert harness.materialize().success
    assert harness.connection(mailbox.connection_id).status == "connected"
    assert event_id in harness.rows(mailbox.connection_id)
