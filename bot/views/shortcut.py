"""Views for the "Call this number" message shortcut: always show the number, then ask."""

from __future__ import annotations

from typing import Any

from bot.phones import NumberList, Phone
from bot.views.common import actions, button, context, escape, form, message, section

CALL_SHORTCUT = "call_this_number"
PICK_MODAL = "call_pick_modal"
PICK_BLOCK, PICK_INPUT = "pick_number", "number"
CONFIRM_BLOCK = "call_confirm"
CALL_CONFIRM, CALL_CANCEL = "call_confirm_yes", "call_confirm_no"
MAX_CHOICES = 10
MAX_REFUSED_SHOWN = 5
NO_NUMBER = "I found no phone number in that message. Type it instead: `/c2c 9876543210`."


def _refused_lines(found: NumberList) -> list[str]:
    lines = [
        f"• {escape(bad.reason)}"
        for bad in found.invalid[:MAX_REFUSED_SHOWN]
        if bad.reason  # the reason names the number as it was written
    ]
    if len(found.invalid) > MAX_REFUSED_SHOWN:
        lines.append(f"• and {len(found.invalid) - MAX_REFUSED_SHOWN} more")
    return lines


def _refused_note(found: NumberList) -> str:
    lines = _refused_lines(found)
    return "Not offered, as typed numbers would be refused:\n" + "\n".join(lines) if lines else ""


def nothing_to_call_message(found: NumberList) -> dict[str, Any]:
    blocks = [section(f":warning: {NO_NUMBER}")]
    if note := _refused_note(found):
        blocks.append(context(note))
    return message(blocks, f"Problem: {NO_NUMBER}")


def confirm_message(agent: Phone, customer: Phone, found: NumberList) -> dict[str, Any]:
    """One number found: show it, and dial only when the user clicks Call."""
    question = (
        f":telephone_receiver: Call *{escape(customer.pretty)}*? Your phone"
        f" {escape(agent.pretty)} rings first, then that number."
    )
    blocks = [
        section(question),
        actions(
            CONFIRM_BLOCK,
            button(f"Call {customer.pretty}", CALL_CONFIRM, customer.e164, style="primary"),
            button("Cancel", CALL_CANCEL, customer.e164),
        ),
    ]
    if note := _refused_note(found):
        blocks.append(context(note))
    return message(blocks, f"Call {customer.pretty}?")


def pick_modal(numbers: list[Phone], found: NumberList | None = None) -> dict[str, Any]:
    options = [
        {"text": {"type": "plain_text", "text": p.pretty}, "value": p.e164}
        for p in numbers[:MAX_CHOICES]
    ]
    intro = "Your phone rings first, then the number you pick."
    note = _refused_note(found) if found else ""
    blocks: list[dict[str, Any]] = [
        section(intro),
        {
            "type": "input",
            "block_id": PICK_BLOCK,
            "label": {"type": "plain_text", "text": "Which number?"},
            "element": {
                "type": "radio_buttons",
                "action_id": PICK_INPUT,
                "options": options,
                "initial_option": options[0],
            },
        },
    ]
    if note:
        blocks.append(context(note))
    return form(PICK_MODAL, "Call this number", "Call", blocks)
