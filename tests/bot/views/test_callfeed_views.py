"""The team line's views within Block Kit's limits, with the largest realistic inputs."""

from __future__ import annotations

from datetime import datetime

from bot.local.blockkit import check_message, check_view
from bot.models import ActivityDigest, AgentActivity, CallOutcome, CallRow, FeedCall
from bot.views import callfeed as views
from tests.support.sandbox import IST

NOW = datetime(2026, 11, 23, 11, 0, tzinfo=IST)


def feed(**changes) -> FeedCall:
    fields = {
        "key": "k" * 60,
        "caller": "+919812345678",
        "agent_number": "+919876543210",
        "agent_user": "U0AGENT",
        "started_at": "2026-11-23T05:29:00+00:00",
        "billsec": 0,
        "status": "NOANSWER",
        "location": "<!channel> " + "L" * 200,
        "missed": True,
        "state": "posted",
        "channel": "C0CALLS",
        "message_ts": "1.1",
        "claimed_by": None,
        "claimed_at": None,
        "callback_call_id": None,
        "callback_state": None,
        "callback_billsec": None,
        "created_at": "2026-11-23T05:30:00+00:00",
        "updated_at": "2026-11-23T05:30:00+00:00",
    }
    return FeedCall(**{**fields, **changes})


OUTCOME = CallOutcome(
    7, "U0AGENT", "call_back", "n" * 1000, "2026-11-24T10:00:00+00:00", "2351", "", ""
)
CALL = CallRow.from_row(
    {
        "id": 7,
        "user_id": "U0AGENT",
        "customer_number": "+919123456789",
        "created_at": "2026-11-23T05:00:00+00:00",
    }
)


def test_feed_messages_are_within_limits_and_escape_what_kaleyra_sent() -> None:
    for item in (
        feed(),
        feed(missed=False, billsec=3600, status="ANSWER"),
        feed(claimed_by="U0B", claimed_at="x", callback_state="connected", callback_billsec=5),
        feed(agent_user=None),
    ):
        payload = views.feed_message(item, IST, outcome=OUTCOME, released_by="U0C", now=NOW)
        assert check_message(payload) == []
        assert "<!channel>" not in str(payload) and "9812345678" not in str(payload)


def test_outcome_modal_and_digest_are_within_limits() -> None:
    assert check_view(views.outcome_modal(CALL, OUTCOME, IST)) == []
    assert check_view(views.outcome_modal(CALL, None, IST)) == []
    agents = tuple(AgentActivity(f"U{i:08d}", 99, 50, 99_999, 9, 9) for i in range(200))
    digest = ActivityDigest(NOW, NOW, agents, 1, 2, 3, 4, 5, 6, {"BUSY": 1, "DND": 2}, 7)
    assert check_message(views.activity_digest_message(digest, "Asia/Kolkata")) == []
    home = {"type": "home", "blocks": views.missed_calls_section([feed()] * 20, IST)}
    assert check_view(home) == []


def test_talk_time_reads_like_a_person_would_say_it() -> None:
    assert [views.talk_time(s) for s in (0, 45, 60, 192)] == ["0 s", "45 s", "1 min", "3 min 12 s"]
