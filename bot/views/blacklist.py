"""Views for /blacklist."""

from __future__ import annotations

from typing import Any

from bot.phones import Phone, mask
from bot.views.common import (
    context,
    escape,
    form,
    header,
    input_block,
    message,
    section,
    text_element,
)

BLACKLIST_MODAL = "blacklist_modal"
NUMBERS_BLOCK, NUMBERS_INPUT = "bl_numbers", "numbers"
REASON_BLOCK, REASON_INPUT = "bl_reason", "reason"
LIST_LIMIT = 60

HELP = """*Blacklist* stops Kaleyra calling a number, and stops voicebot's broadcasts to it.
• `/blacklist add 9876543210, 9123456789` (anyone); add `because <reason>` to say why
• `/blacklist remove 9876543210` (admins)
• `/blacklist list` what this workspace has blacklisted, who and when
• `/blacklist` a form with a reason field"""


def help_message(*, sandbox: bool = False) -> dict[str, Any]:
    return message([section(HELP)], "Blacklist help", sandbox=sandbox)


def modal() -> dict[str, Any]:
    return form(
        BLACKLIST_MODAL,
        "Blacklist numbers",
        "Blacklist",
        [
            input_block(
                NUMBERS_BLOCK,
                "Numbers",
                text_element(NUMBERS_INPUT, multiline=True),
                hint="Separated by commas, spaces or new lines",
            ),
            input_block(
                REASON_BLOCK, "Reason", text_element(REASON_INPUT, max_length=200), optional=True
            ),
        ],
    )


def changed_message(verb: str, phones: list[Phone], *, sandbox: bool = False) -> dict[str, Any]:
    listed = ", ".join(p.pretty for p in phones[:20])
    more = f" and {len(phones) - 20} more" if len(phones) > 20 else ""
    text = f":no_entry_sign: {verb} {len(phones)} number{'s' if len(phones) != 1 else ''}: {listed}{more}."
    return message([section(text)], text, sandbox=sandbox)


def list_message(
    entries: list[dict[str, Any]], *, show_numbers: bool, sandbox: bool = False
) -> dict[str, Any]:
    if not entries:
        return message(
            [section("Nothing is blacklisted yet.")], "Blacklist is empty", sandbox=sandbox
        )
    lines = []
    for entry in entries[:LIST_LIMIT]:
        number = Phone.known(entry["number"]).pretty if show_numbers else mask(entry["number"])
        reason = f" · {escape(entry['reason'])}" if entry.get("reason") else ""
        lines.append(
            f"{escape(number)} · <@{entry['added_by']}> · {entry['added_at'][:10]}{reason}"
        )
    blocks = [header(f"Blacklist ({len(entries)})"), section("\n".join(lines))]
    if len(entries) > LIST_LIMIT:
        blocks.append(context(f"{len(entries) - LIST_LIMIT} more not shown."))
    if not show_numbers:
        blocks.append(context("Numbers are masked; admins see them in full."))
    return message(blocks, f"Blacklist: {len(entries)} numbers", sandbox=sandbox)
