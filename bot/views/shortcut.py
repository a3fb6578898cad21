"""Views for the "Call this number" message shortcut."""

from __future__ import annotations

from typing import Any

from bot.phones import Phone
from bot.views.common import form, section

CALL_SHORTCUT = "call_this_number"
PICK_MODAL = "call_pick_modal"
PICK_BLOCK, PICK_INPUT = "pick_number", "number"
MAX_CHOICES = 10


def pick_modal(numbers: list[Phone]) -> dict[str, Any]:
    options = [
        {"text": {"type": "plain_text", "text": p.pretty}, "value": p.e164}
        for p in numbers[:MAX_CHOICES]
    ]
    return form(
        PICK_MODAL,
        "Call this number",
        "Call",
        [
            section("Your phone rings first, then the number you pick."),
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
        ],
    )
