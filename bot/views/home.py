"""App Home: my number, my next follow-ups, my recent calls; for admins, digest and audit."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from bot.models import CallRow
from bot.phones import Phone
from bot.views.c2c import REGISTER_BUTTON
from bot.views.common import SANDBOX_NOTICE, button, context, escape, header, section, status_words
from bot.views.followup import FOLLOWUP_CALL

MAX_HOME_BLOCKS = 100


def home_view(
    *,
    number: str | None,
    role: str,
    calls: list[CallRow],
    followups: list[Any],
    tz: ZoneInfo,
    tz_name: str,
    digest: tuple[str | None, str] | None = None,
    audit: list[dict[str, Any]] | None = None,
    sandbox: bool = False,
) -> dict[str, Any]:
    if number:
        mine = section(
            f"Your agent number is *{escape(Phone(number, '').pretty)}* (role: {role}).",
            accessory=button("Change", REGISTER_BUTTON),
        )
    else:
        mine = section(
            "You have no agent number yet, so calls cannot ring you first.",
            accessory=button("Set my number", REGISTER_BUTTON, style="primary"),
        )
    blocks: list[dict[str, Any]] = [header("Voice calls"), mine, header("Next follow-ups")]
    if not followups:
        blocks.append(section("None scheduled. Add one with `/followup`."))
    for item in followups[:5]:
        local = item.ontime.astimezone(tz)
        blocks.append(
            section(
                f"*{escape(item.name)}* {escape(Phone(item.phone, '').pretty)} · {local:%a %d %b %H:%M} {tz_name}",
                accessory=button("Call now", FOLLOWUP_CALL, item.id),
            )
        )
    blocks.append(header("Recent calls"))
    if not calls:
        blocks.append(section("No calls yet. Try `/c2c 9876543210`."))
    for call in calls[:10]:
        outcome = (
            f"{status_words(call.status1)} / {status_words(call.status2)}"
            if call.state == "final"
            else {"placed": "in progress", "placing": "dialling"}.get(call.state, call.state)
        )
        blocks.append(
            section(
                f"{escape(Phone(call.customer_number, '').pretty)}: {outcome} · {escape(call.created_at[:16].replace('T', ' '))} UTC"
            )
        )
    if digest is not None:
        channel, at = digest
        where = f"<#{channel}> at {escape(at)} {tz_name}" if channel else "off"
        blocks += [
            header("Admin"),
            section(
                f"*Health digest*: {where}. Change it with `/voicehealth digest #channel HH:MM`."
            ),
        ]
    if audit:
        lines = [
            f"{escape(a['at'][:16].replace('T', ' '))} <@{a['user_id']}> {escape(a['action'])}: {escape(a['outcome'])}"
            for a in audit[:10]
        ]
        blocks += [header("Recent audit"), section("\n".join(lines))]
    if sandbox:
        blocks.append(context(SANDBOX_NOTICE))
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}
