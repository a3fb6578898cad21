"""Views for /blacklist."""

from __future__ import annotations

from typing import Any

from bot.models import BlacklistPage
from bot.phones import Phone, mask
from bot.views.common import (
    clip,
    context,
    escape,
    form,
    header,
    input_block,
    message,
    plural,
    section,
    sections,
    slack_date,
    text_element,
)

BLACKLIST_MODAL = "blacklist_modal"
NUMBERS_BLOCK, NUMBERS_INPUT = "bl_numbers", "numbers"
REASON_BLOCK, REASON_INPUT = "bl_reason", "reason"
REASON_MAX = 200  # the form's limit; a longer reason typed in the command is shown cut to it

HELP = """*Blacklist* stops Kaleyra calling a number, and stops voicebot's broadcasts to it.
• `/blacklist add 9876543210, 9123456789` (anyone); add `because <reason>` to say why
• `/blacklist remove 9876543210` (admins)
• `/blacklist list` what this workspace has blacklisted, who and when
• `/blacklist` a form with a reason field"""


def help_message() -> dict[str, Any]:
    return message([section(HELP)], "Blacklist help")


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
                REASON_BLOCK,
                "Reason",
                text_element(REASON_INPUT, max_length=REASON_MAX),
                optional=True,
            ),
        ],
    )


def _numbers(phones: list[Phone]) -> str:
    listed = ", ".join(escape(p.pretty) for p in phones[:20])
    more = f" and {len(phones) - 20} more" if len(phones) > 20 else ""
    return f"{len(phones)} number{'s' if len(phones) != 1 else ''}: {listed}{more}"


def changed_message(verb: str, phones: list[Phone]) -> dict[str, Any]:
    text = f":no_entry_sign: {verb} {_numbers(phones)}."
    return message([section(text)], text)


def removed_message(removed: list[Phone], unlisted: list[Phone]) -> dict[str, Any]:
    lines = []
    if removed:
        lines.append(f":white_check_mark: Removed from the blacklist {_numbers(removed)}.")
    if unlisted:
        one = len(unlisted) == 1
        lines.append(
            f":grey_question: Not on the blacklist, so nothing to remove: {_numbers(unlisted)}."
            if not one
            else f":grey_question: {escape(unlisted[0].pretty)} is not on the blacklist, so"
            " nothing was removed."
        )
    text = "\n".join(lines)
    return message([section(text)], text)


def list_message(page: BlacklistPage) -> dict[str, Any]:
    """The newest entries; numbers masked unless `page.show_numbers` (admins)."""
    if not page.entries:
        return message([section("Nothing is blacklisted yet.")], "Blacklist is empty")
    lines = []
    for entry in page.entries:
        number = Phone.known(entry.number).pretty if page.show_numbers else mask(entry.number)
        reason = f" · {escape(clip(entry.reason, REASON_MAX))}" if entry.reason else ""
        lines.append(
            f"{escape(number)} · <@{escape(entry.added_by)}> · {slack_date(entry.added_at, '{date_short_pretty}')}{reason}"
        )
    blocks = [header(f"Blacklist ({page.total})"), *sections(lines)]
    if page.total > len(page.entries):
        blocks.append(context(f"{page.total - len(page.entries)} more not shown."))
    if not page.show_numbers:
        blocks.append(context("Numbers are masked; admins see them in full."))
    return message(blocks, f"Blacklist: {page.total} {plural(page.total, 'number')}")
