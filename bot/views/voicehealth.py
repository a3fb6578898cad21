"""Views for /voicehealth: incidents by region, all clear, digest settings."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bot.kaleyra.models import HealthReport, Incident
from bot.models import AccountNote, HealthChange, SentEntry
from bot.views.common import (
    context,
    escape,
    header,
    message,
    plural,
    section,
    sections,
    slack_date,
)

ICONS = {
    "operational": ":large_green_circle:",
    "warning": ":large_yellow_circle:",
    "critical": ":red_circle:",
}
SEVERITY = {"critical": 0, "warning": 1, "operational": 2}
HELP = """*Voice network health*
• `/voicehealth` incidents by region now
• `/voicehealth digest #channel [HH:MM]` post a daily digest there (admins)
• `/voicehealth digest off` stop the digest (admins)"""


def help_message() -> dict[str, Any]:
    return message([section(HELP)], "Voice health help")


def account_context(note: AccountNote) -> dict[str, Any]:
    """Admins: the key style and spelling the client uses, and since when."""
    found = note.found
    if found is None:
        return context(
            "Kaleyra account (admins): not checked yet. Run `voicebot doctor` where the bot"
            " runs: it finds how the account takes the key and spells `voice.groupstatus`."
        )
    checked = found.checked_at.strftime("%Y-%m-%d %H:%M %Z").strip()
    return context(
        f"Kaleyra account (admins): key in the {escape(found.key_style.value)}"
        f" · group status read with `{escape(found.group_status_method)}`"
        f" · checked by `voicebot doctor` {escape(checked)}"
    )


def health_message(report: HealthReport, note: AccountNote | None = None) -> dict[str, Any]:
    if not report.incidents:
        text = ":large_green_circle: *All clear*: Kaleyra reports no incidents."
        blocks = [section(text)] + ([account_context(note)] if note else [])
        return message(blocks, "Voice network: all clear")
    by_region: dict[tuple[str, str], list] = defaultdict(list)
    for incident in report.incidents:
        by_region[(incident.region, incident.region_code)].append(incident)
    ordered = sorted(
        by_region.items(),
        key=lambda kv: (min(SEVERITY.get(i.type, 3) for i in kv[1]), kv[0][0]),
    )
    blocks: list[dict[str, Any]] = [header("Voice network health")]
    for (region, code), incidents in ordered:
        lines = [f"*{escape(region)}* ({escape(code)})"]
        for incident in incidents:
            icon = ICONS.get(incident.type, ":white_circle:")
            numbers = ", ".join(escape(n) for n in incident.numbers) or "all numbers"
            lines.append(f"{icon} {escape(incident.type)} · {escape(incident.service)} · {numbers}")
        blocks.append(section("\n".join(lines)))
    worst = min((SEVERITY.get(i.type, 3) for i in report.incidents), default=2)
    summary = {0: "critical incidents", 1: "warnings", 2: "all operational"}.get(worst, "unknown")
    blocks.append(
        context(
            f"{len(report.incidents)} {plural(len(report.incidents), 'entry', 'entries')} across"
            f" {len(by_region)} {plural(len(by_region), 'region')}: {summary}."
        )
    )
    if note:
        blocks.append(account_context(note))
    return message(blocks, f"Voice network: {summary}")


def digest_set_message(channel_id: str, at: str) -> dict[str, Any]:
    text = (
        f":calendar: The daily health digest will be posted in <#{escape(channel_id)}>"
        f" at {escape(at)}."
    )
    return message([section(text)], text)


def digest_off_message() -> dict[str, Any]:
    text = ":no_bell: The daily health digest is off."
    return message([section(text)], text)


def _incident_line(incident: Incident) -> str:
    icon = ICONS.get(incident.type, ":white_circle:")
    numbers = ", ".join(escape(n) for n in incident.numbers) or "all numbers"
    return (
        f"{icon} *{escape(incident.region)}* ({escape(incident.region_code)})"
        f" {escape(incident.type)} · {escape(incident.service)} · {numbers}"
    )


def changes_lines(changes: list[HealthChange]) -> list[str]:
    lines = []
    for change in changes:
        if change.kind == "new" and change.now is not None:
            lines.append("New: " + _incident_line(change.now))
        elif change.kind == "cleared" and change.before is not None:
            lines.append("Cleared: " + _incident_line(change.before))
        elif change.before is not None and change.now is not None:
            lines.append(f"{escape(change.before.type)} → " + _incident_line(change.now))
    return lines


def alert_message(changes: list[HealthChange]) -> dict[str, Any]:
    lines = [":rotating_light: *Voice network changed*", *changes_lines(changes)]
    return message(sections(lines), "Voice network changed")


def outage_message(problem: str, *, recovered: bool = False) -> dict[str, Any]:
    if recovered:
        text = ":large_green_circle: Kaleyra's health status answers again; alerts resume."
    else:
        text = f":warning: Kaleyra's health status cannot be read: {escape(problem)} I'll say when it answers again."
    return message([section(text)], text)


MISSED_SHOWN = 20
DIGEST_HEALTH_BLOCKS = 30


def digest_message(
    report: HealthReport | None,
    changes: list[HealthChange],
    missed: list[SentEntry],
    *,
    late: bool = False,
    problem: str | None = None,
) -> dict[str, Any]:
    title = "Daily voice health digest" + (
        " (late: the bot was down at the usual time)" if late else ""
    )
    blocks: list[dict[str, Any]] = [header(title)]
    if report is None:
        blocks.append(
            section(f":warning: Kaleyra's health status could not be read: {escape(problem or '')}")
        )
    else:
        health = health_message(report)["blocks"][1 if report.incidents else 0 :]
        if len(health) > DIGEST_HEALTH_BLOCKS:  # leave room for the changes and missed sends
            hidden = len(health) - DIGEST_HEALTH_BLOCKS + 1
            health = [
                *health[: DIGEST_HEALTH_BLOCKS - 1],
                context(f"…and {hidden} more: `/voicehealth` shows every region."),
            ]
        blocks.extend(health)
    if changes:
        blocks.extend(sections(["*Since the last digest*:", *changes_lines(changes)]))
    else:
        blocks.append(section("*Since the last digest*: no changes."))
    if missed:
        lines = [
            f"• {escape(m.kind)} due {slack_date(m.due_at)}: {escape(m.detail or '')}"
            for m in missed[:MISSED_SHOWN]
        ]
        if len(missed) > MISSED_SHOWN:
            lines.append(f"…and {len(missed) - MISSED_SHOWN} more.")
        blocks.extend(sections(["*Missed while the bot was down* (too old to send late):", *lines]))
    return message(blocks, title)
