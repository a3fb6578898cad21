from __future__ import annotations

from datetime import UTC, datetime

from bot.kaleyra.models import KeyStyle
from bot.models import KaleyraAccount
from bot.sandbox import Fault
from tests.support.harness import ADMIN, AGENT, text_of


def test_all_clear(bot) -> None:
    response = bot.command("/voicehealth", "", user_id=AGENT)
    assert response.status_code == 200
    assert "All clear" in text_of(bot.replies()[-1])
    assert bot.sandbox.state.recorded("monitor")[0].form == {"method": "monitor", "format": "json"}


def test_incidents_grouped_by_region_worst_first_and_escaped(bot) -> None:
    bot.sandbox.state.incidents = [
        {
            "region": "Karnataka",
            "region_code": "KA-IN",
            "type": "operational",
            "service": "all",
            "numbers": ["+918012345628"],
        },
        {
            "region": "New Delhi",
            "region_code": "ND-IN",
            "type": "critical",
            "service": "outgoing",
            "numbers": ["+911112345605"],
        },
        {
            "region": "Karnataka",
            "region_code": "KA-IN",
            "type": "warning",
            "service": "incoming",
            "numbers": ["+918012345656", "+918012345658"],
        },
        {
            "region": "<!channel>",
            "region_code": "XX",
            "type": "warning",
            "service": "all",
            "numbers": [],
        },
    ]
    bot.command("/voicehealth")
    reply = text_of(bot.replies()[-1])
    assert (
        reply.index("*New Delhi*") < reply.index("*&lt;!channel&gt;*") < reply.index("*Karnataka*")
    )
    assert ":red_circle: critical · outgoing · +911112345605" in reply
    assert ":large_yellow_circle: warning · incoming · +918012345656, +918012345658" in reply
    assert "<!channel>" not in reply
    assert "4 entries across 3 regions: critical incidents." in reply


def test_kaleyra_down_is_a_clear_message(bot) -> None:
    bot.sandbox.state.set_fault("monitor", Fault(error_rate=1.0, http_status=503))
    bot.command("/voicehealth")
    assert "Kaleyra had a problem (Kaleyra answered HTTP 503.)" in text_of(bot.replies()[-1])


async def test_digest_settings_are_for_admins(bot) -> None:
    refused = bot.command("/voicehealth", "digest <#C0OPS|ops> 08:30", user_id=AGENT)
    assert "Only admins" in text_of(refused.json())
    assert await bot.deps.store.get_setting("digest_channel") is None
    ok = bot.command("/voicehealth", "digest <#C0OPS|ops> 08:30", user_id=ADMIN)
    assert "posted in <#C0OPS> at 08:30 Asia/Kolkata" in text_of(ok.json())
    assert (
        await bot.deps.store.get_setting("digest_channel"),
        await bot.deps.store.get_setting("digest_time"),
    ) == ("C0OPS", "08:30")
    bot.command("/voicehealth", "digest off", user_id=ADMIN)
    assert await bot.deps.store.get_setting("digest_channel") == "off"
    bad = bot.command("/voicehealth", "digest ops 25:00", user_id=ADMIN)
    assert "`ops` is not a channel" in text_of(bad.json())


def test_app_home_is_published_on_open(bot) -> None:
    bot.register()
    bot.slack.event({"type": "app_home_opened", "user": AGENT, "channel": "D0AGENT", "tab": "home"})
    bot.settle()
    published = bot.fake.of("views.publish")[-1]
    assert published["user_id"] == AGENT and published["view"]["type"] == "home"
    assert "Your agent number is *+91 98765 43210*" in text_of(published["view"])


async def test_admins_see_how_the_client_talks_to_the_account(bot) -> None:
    bot.command("/voicehealth", user_id=ADMIN)
    assert "Kaleyra account (admins): not checked yet. Run `voicebot doctor`" in text_of(
        bot.replies()[-1]
    )
    await bot.deps.store.set_kaleyra_account(
        KaleyraAccount(
            key_style=KeyStyle.API_KEY_PARAMETER,
            group_status_method="voice.groupStatus",
            checked_at=datetime(2026, 11, 23, 5, 0, tzinfo=UTC),
        )
    )
    bot.command("/voicehealth", user_id=ADMIN)
    assert (
        "Kaleyra account (admins): key in the api_key parameter · group status read with"
        " `voice.groupStatus` · checked by `voicebot doctor` 2026-11-23 05:00 UTC"
    ) in text_of(bot.replies()[-1])
    bot.command("/voicehealth", user_id=AGENT)
    assert "Kaleyra account" not in text_of(bot.replies()[-1])
