"""App Home: my agent number and my recent calls."""

from __future__ import annotations

from typing import Any

from bot.phones import Phone
from bot.store import CallRow
from bot.views.common import context, escape, header, section, status_words


def home_view(
    user_id: str, number: str | None, role: str, calls: list[CallRow], *, sandbox: bool
) -> dict[str, Any]:
    mine = (
        f"Your agent number is *{escape(Phone(number, '').pretty)}* (role: {role})."
        if number
        else "You have no agent number yet. Register it with `/c2c register 9876543210`."
    )
    blocks: list[dict[str, Any]] = [header("Voice calls"), section(mine), header("Recent calls")]
    if not calls:
        blocks.append(section("No calls yet. Try `/c2c 9876543210`."))
    for call in calls:
        outcome = (
            f"{status_words(call.status1)} / {status_words(call.status2)}"
            if call.state == "final"
            else call.state
        )
        blocks.append(
            section(
                f"{escape(Phone(call.customer_number, '').pretty)}: {outcome} · {escape(call.created_at[:16])} UTC"
            )
        )
    if sandbox:
        blocks.append(
            context(":test_tube: Sandbox: no real calls are placed (KALEYRA_API_KEY is not set).")
        )
    return {"type": "home", "blocks": blocks[:100]}
