"""App Home: my number, my next follow-ups, my recent calls; for admins, digest and audit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from bot.models import AgentStatus, AuditEntry, CallOutcome, CallRow, FeedCall, Followup
from bot.phones import Phone
from bot.views.c2c import REGISTER_BUTTON
from bot.views.callfeed import missed_calls_section, outcome_line
from bot.views.common import (
    button,
    escape,
    header,
    section,
    sections,
    slack_date,
    status_words,
)
from bot.views.followup import FOLLOWUP_CALL

MAX_HOME_BLOCKS = 100
IN_PROGRESS = {"placed": "in progress", "placing": "dialling", "unknown": "outcome unknown"}


def _mine(status: AgentStatus) -> dict[str, Any]:
    if status.number and status.verified:
        return section(
            f"Your agent number is *{escape(Phone.known(status.number).pretty)}* (role: {status.role}).",
            accessory=button("Change", REGISTER_BUTTON),
        )
    if status.number:
        return section(
            f"Your agent number is *{escape(Phone.known(status.number).pretty)}*, unverified"
            " — type `/c2c verify <code>` with the code the verification call read out"
            f" (role: {status.role}).",
            accessory=button("Change", REGISTER_BUTTON),
        )
    return section(
        "You have no agent number yet, so calls cannot ring you first.",
        accessory=button("Set my number", REGISTER_BUTTON, style="primary"),
    )


def _outcome(call: CallRow) -> str:
    if call.state == "final":
        return f"{escape(status_words(call.status1))} / {escape(status_words(call.status2))}"
    return IN_PROGRESS.get(call.state, escape(call.state))


def home_view(
    *,
    status: AgentStatus,
    calls: Sequence[CallRow],
    followups: Sequence[Followup],
    tz: ZoneInfo,
    tz_name: str,
    digest: tuple[str | None, str] | None = None,
    audit: Sequence[AuditEntry] | None = None,
    missed: Sequence[FeedCall] | None = None,
    outcomes: Mapping[int, CallOutcome] | None = None,
) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [header("Voice calls"), _mine(status), header("Next follow-ups")]
    if not followups:
        blocks.append(section("None scheduled. Add one with `/followup`."))
    for item in followups[:5]:
        blocks.append(
            section(
                f"*{escape(item.name)}* {escape(Phone.known(item.phone).pretty)} · {slack_date(item.ontime)}",
                accessory=button("Call now", FOLLOWUP_CALL, item.id),
            )
        )
    blocks.append(header("Recent calls"))
    if not calls:
        blocks.append(section("No calls yet. Try `/c2c 9876543210`."))
    for call in calls[:10]:
        customer = escape(Phone.known(call.customer_number).pretty)
        line = f"{customer}: {_outcome(call)} · {slack_date(call.created_at)}"
        if outcomes and (logged := outcomes.get(call.id)):
            line += f" · {outcome_line(logged)}"
        blocks.append(section(line))
    if missed is not None:
        blocks += missed_calls_section(list(missed), tz)
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
            f"{slack_date(a.at)} <@{escape(a.user_id)}> {escape(a.action)}: {escape(a.outcome)}"
            for a in audit[:10]
        ]
        blocks += [header("Recent audit"), *sections(lines)]
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}
