"""View builders: pure functions checked against Slack's limits and for escaping."""

from __future__ import annotations

import json

from bot.kaleyra.models import C2CCall, HealthReport, Incident
from bot.views import c2c
from bot.views import voicehealth as health
from bot.views.common import (
    MAX_BLOCKS,
    MAX_SECTION_TEXT,
    escape,
    message,
    section,
    status_words,
    with_notice,
)


def all_sections(payload: dict) -> list[str]:
    return [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]


def test_escape_neutralises_mentions_and_links() -> None:
    assert (
        escape("<!channel> & <@U1> <https://evil|click>")
        == "&lt;!channel&gt; &amp; &lt;@U1&gt; &lt;https://evil|click&gt;"
    )


def test_message_never_exceeds_50_blocks_or_3000_chars() -> None:
    payload = message([section("x" * 5000) for _ in range(80)], "t")
    assert len(payload["blocks"]) == MAX_BLOCKS
    assert all(len(t) <= MAX_SECTION_TEXT for t in all_sections(payload))
    assert "cut to fit" in json.dumps(payload["blocks"][-1])


def test_sandbox_notice_is_added() -> None:
    assert "Sandbox" in json.dumps(with_notice(message([section("x")], "t")))


def test_every_status_in_words() -> None:
    """What a user reads for each of Kaleyra's status words, written out here (not read back
    from the table the product uses)."""
    expected = {
        "ANSWER": "answered",
        "BUSY": "busy",
        "CANCEL": "cancelled",
        "FAILED": "failed",
        "CONGESTION": "network congestion",
        "NOANSWER": "no answer",
        "CHANUNAVAIL": "unreachable (switched off or out of coverage)",
        "DND": "blocked by Do-Not-Disturb",
        "BLOCKED": "blacklisted",
        "MAX-USE": "daily call limit reached",
        "OFF-HOUR": "outside allowed calling hours",
        "NOTALLOWED": "not allowed for this account",
        "busy": "busy",  # any case
        "SOMETHING-NEW": "something-new",  # a word we do not know is shown as it came
        "": "waiting",
        None: "waiting",
    }
    assert {status: status_words(status) for status in expected} == expected


def test_log_of_500_rows_fits() -> None:
    rows = [
        C2CCall(id=f"c2c_{i}", callfrom="9", callto="<!here>" * 20, status="BUSY")
        for i in range(500)
    ]
    payload = c2c.log_message("Log", rows, more=True)
    assert len(payload["blocks"]) <= MAX_BLOCKS
    assert all(len(t) <= MAX_SECTION_TEXT for t in all_sections(payload))
    assert "<!here>" not in json.dumps(payload)


def test_health_with_many_regions_fits() -> None:
    report = HealthReport(
        incidents=[
            Incident(region=f"R{i}", region_code=f"R{i}", type="warning", numbers=["+1"] * 400)
            for i in range(120)
        ]
    )
    payload = health.health_message(report)
    assert len(payload["blocks"]) <= MAX_BLOCKS
    assert all(len(t) <= MAX_SECTION_TEXT for t in all_sections(payload))


def test_modal_ids_and_limits() -> None:
    view = c2c.dial_modal("+919876543210", can_change_agent=False)
    assert view["callback_id"] == c2c.C2C_MODAL
    assert [b["block_id"] for b in view["blocks"]] == [
        c2c.AGENT_BLOCK,
        c2c.CUSTOMER_BLOCK,
        c2c.RETRY_BLOCK,
        c2c.DELAY_BLOCK,
    ]
    assert len(view["title"]["text"]) <= 24 and len(view["blocks"]) <= 100
    assert "Only admins may change it" in json.dumps(view)


def test_call_card_states() -> None:
    unknown = c2c.call_card(
        agent="+91 98765 43210", customer="+91 91234 56789", kaleyra_id=None, state="unknown"
    )
    assert "not* sent again" in json.dumps(unknown)
    done = c2c.call_card(
        agent="a", customer="b", kaleyra_id="c2c_1", state="final", status1="NOANSWER"
    )
    text = "\n".join(all_sections(done))
    assert (
        "did not connect" in text
        and "*Agent* a: no answer" in text
        and "*Customer* b: not dialled" in text
    )
