from __future__ import annotations

from bot.views.c2c import REGISTER_BLOCK, REGISTER_BUTTON, REGISTER_INPUT
from tests.support.harness import ADMIN, AGENT, text_of


def open_home(bot, user_id: str) -> str:
    bot.slack.event({"type": "app_home_opened", "user": user_id, "channel": "D0X", "tab": "home"})
    bot.settle()
    published = [p for p in bot.fake.of("views.publish") if p["user_id"] == user_id][-1]
    return text_of(published["view"])


async def test_agent_home_shows_number_followups_and_calls(bot, clock) -> None:
    bot.register()
    bot.command("/followup", "add 8712345678 2026-11-24 19:30 John Doe")
    bot.command("/c2c", "9123456789")
    clock.advance(seconds=90)
    bot.run(bot.deps.c2c.poll_once((await bot.deps.store.recent_calls(AGENT))[0].id))
    home = open_home(bot, AGENT)
    assert "Your agent number is *+91 98765 43210* (role: agent)" in home
    assert (
        "*John Doe* +91 87123 45678 · <!date^1795528800^{date_short_pretty} {time}|2026-11-24 14:00 UTC>"
        in home
        and "Call now" in home
    )
    assert "+91 91234 56789: answered / answered" in home
    assert "Recent audit" not in home and "Health digest" not in home


def test_admin_home_shows_digest_and_audit(bot) -> None:
    bot.command("/voicehealth", "digest <#C0OPS|ops> 08:30", user_id=ADMIN)
    home = open_home(bot, ADMIN)
    assert "*Health digest*: <#C0OPS> at 08:30 Asia/Kolkata" in home
    assert "voicehealth.digest: set" in home


async def test_set_my_number_from_home(bot) -> None:
    home = open_home(bot, AGENT)
    assert "no agent number yet" in home
    bot.slack.block_action(REGISTER_BUTTON, "")
    bot.settle()
    view = bot.fake.of("views.open")[-1]["view"]
    bad = bot.slack.view_submission(
        view, {REGISTER_BLOCK: {REGISTER_INPUT: {"type": "plain_text_input", "value": "12"}}}
    )
    assert '"12" is too short' in bad.json()["errors"][REGISTER_BLOCK]
    bot.slack.view_submission(
        view,
        {REGISTER_BLOCK: {REGISTER_INPUT: {"type": "plain_text_input", "value": "98765 43210"}}},
    )
    bot.settle()
    assert (await bot.deps.store.get_agent(AGENT)).number == "+919876543210"
    latest = text_of([p for p in bot.fake.of("views.publish") if p["user_id"] == AGENT][-1]["view"])
    assert "Your agent number is *+91 98765 43210*" in latest


def test_a_burst_of_calls_refreshes_home_a_few_times_and_ends_current(bot) -> None:
    from bot.phones import parse_phone

    bot.register()
    before = len(bot.fake.of("views.publish"))
    agent = parse_phone("9876543210")
    customers = [parse_phone(f"91234567{n}0") for n in range(8)]

    async def burst() -> None:
        for customer in customers:
            await bot.deps.c2c.dial(AGENT, agent, customer)

    bot.run(burst())
    bot.settle()
    published = [p for p in bot.fake.of("views.publish")[before:] if p["user_id"] == AGENT]
    assert 1 <= len(published) < len(customers)  # refreshes waiting together were built once
    latest = text_of(published[-1]["view"])
    assert all(c.pretty in latest for c in customers)  # the last one shows every call
