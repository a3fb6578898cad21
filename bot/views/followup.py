"""Views for /followup: the modal (date-time picker in the user's zone), list, confirmations."""

from __future__ import annotations

import contextlib
from datetime import datetime, tzinfo
from typing import Any

from phonenumbers import NumberParseException

from bot.models import Followup
from bot.phones import Phone
from bot.views.common import (
    actions,
    button,
    context,
    escape,
    form,
    header,
    input_block,
    message,
    section,
    sections,
    slack_date,
    text_element,
)

FOLLOWUP_MODAL = "followup_modal"
PHONE_BLOCK, PHONE_INPUT = "fu_phone", "phone"
NAME_BLOCK, NAME_INPUT = "fu_name", "name"
FOLLOWER_BLOCK, FOLLOWER_INPUT = "fu_follower", "follower"
WHEN_BLOCK, WHEN_INPUT = "fu_when", "when"
AUTOCALL_BLOCK, AUTOCALL_INPUT = "fu_autocall", "autocall"
NOTES_BLOCK, NOTES_INPUT = "fu_notes", "notes"
FOLLOWUP_CALL = "followup_call_now"
LIST_LIMIT = 40

HELP = """*Follow-ups* remind you to call a customer back, and can have Kaleyra ring you both.
• `/followup add 9876543210 2026-11-24 16:30 Asha Rao` (time in the account's zone)
• `/followup list` or `list mine` yours · `list all` everyone's (admins)
• `/followup edit 2351` change one in a form · `/followup delete 2351`
• `/followup` a form with date and time in your own time zone"""


def help_message() -> dict[str, Any]:
    return message([section(HELP)], "Follow-up help")


def _shown(number: str) -> str:
    """A stored number for people to read (Kaleyra's own text when it was not a number)."""
    with contextlib.suppress(NumberParseException):
        return Phone.known(number).pretty
    return number


def _text(
    block_id: str,
    action_id: str,
    label: str,
    initial: str | None,
    *,
    optional: bool = False,
    multiline: bool = False,
) -> dict[str, Any]:
    return input_block(
        block_id,
        label,
        text_element(action_id, initial=initial, multiline=multiline),
        optional=optional,
    )


def modal(
    *, follower: str | None, can_change_follower: bool, item: Followup | None = None
) -> dict[str, Any]:
    """The follow-up form: empty, or pre-filled with `item` to edit it."""
    picker: dict[str, Any] = {"type": "datetimepicker", "action_id": WHEN_INPUT}
    if item is not None:
        picker["initial_date_time"] = int(item.ontime.timestamp())
    option = {
        "text": {"type": "plain_text", "text": "Have Kaleyra ring us both at that time"},
        "value": "autocall",
    }
    checkbox: dict[str, Any] = {
        "type": "checkboxes",
        "action_id": AUTOCALL_INPUT,
        "options": [option],
    }
    if item is not None and item.autocall:
        checkbox["initial_options"] = [option]
    follower_block = _text(FOLLOWER_BLOCK, FOLLOWER_INPUT, "Follower (agent number)", follower)
    if not can_change_follower:
        follower_block["hint"] = {
            "type": "plain_text",
            "text": "Your agent number; only admins may pick another.",
        }
    return form(
        FOLLOWUP_MODAL,
        "Edit follow-up" if item else "New follow-up",
        "Save",
        [
            _text(PHONE_BLOCK, PHONE_INPUT, "Customer number", item.phone if item else None),
            _text(NAME_BLOCK, NAME_INPUT, "Customer name", item.name if item else None),
            follower_block,
            input_block(WHEN_BLOCK, "When (your time zone)", picker),
            input_block(AUTOCALL_BLOCK, "Auto-call", checkbox, optional=True),
            _text(
                NOTES_BLOCK,
                NOTES_INPUT,
                "Notes",
                item.notes if item else None,
                optional=True,
                multiline=True,
            ),
        ],
        private_metadata=item.id if item else "",
    )


def _line(item: Followup, tz: tzinfo, tz_name: str, now: datetime) -> str:
    late = " · :hourglass: past" if item.ontime <= now else ""
    owner = f" · <@{item.user_id}>" if item.user_id else " · made outside Slack"
    notes = f"\n    _{escape(item.notes[:200])}_" if item.notes else ""
    return (
        f"`#{escape(item.id)}` *{escape(item.name)}* {escape(_shown(item.phone))} · "
        f"{slack_date(item.ontime)} · follower {escape(_shown(item.follower))}{owner}{late}{notes}"
    )


def list_message(
    items: list[Followup], *, scope: str, tz: tzinfo, tz_name: str, now: datetime
) -> dict[str, Any]:
    title = "Your follow-ups" if scope == "mine" else "All follow-ups"
    if not items:
        return message([section(f"*{title}*: none. Add one with `/followup add`.")], title)
    blocks = [
        header(f"{title} ({len(items)})"),
        *sections([_line(i, tz, tz_name, now) for i in items[:LIST_LIMIT]]),
    ]
    if len(items) > LIST_LIMIT:
        blocks.append(context(f"{len(items) - LIST_LIMIT} more not shown."))
    return message(blocks, f"{title}: {len(items)}")


def saved_message(item: Followup, *, tz: tzinfo, tz_name: str, edited: bool) -> dict[str, Any]:
    verb = "Updated" if edited else "Saved"
    text = (
        f":spiral_calendar_pad: {verb} follow-up `#{escape(item.id)}`: *{escape(item.name)}* "
        f"{escape(_shown(item.phone))} on {slack_date(item.ontime, '{date_long_pretty} at {time}')}"
        + (", and Kaleyra will ring you both then." if item.autocall else ".")
    )
    return message([section(text)], text)


def deleted_message(item: Followup) -> dict[str, Any]:
    text = f":wastebasket: Deleted follow-up `#{escape(item.id)}`."
    return message([section(text)], text)


def snoozed_message(until: datetime, *, tz: tzinfo, tz_name: str) -> dict[str, Any]:
    text = f":zzz: Snoozed: I'll remind you again at {slack_date(until, '{time}')}."
    return message([section(text)], text)


def done_message(followup_id: str) -> dict[str, Any]:
    text = f":white_check_mark: Follow-up `#{escape(followup_id)}` is done. No more reminders."
    return message([section(text)], text)


FOLLOWUP_SNOOZE = "followup_snooze"
FOLLOWUP_DONE = "followup_done"


def reminder_message(item: Followup, *, tz: tzinfo, tz_name: str, late: bool) -> dict[str, Any]:
    local = item.ontime.astimezone(tz)
    lead = ":alarm_clock: *Follow-up reminder*" + (
        " (late: the bot was down when it was due)" if late else ""
    )
    lines = [
        lead,
        f"Call *{escape(item.name)}* on {escape(_shown(item.phone))} at {slack_date(item.ontime, '{time} ({date_short_pretty})')}.",
    ]
    if item.notes:
        lines.append(f"Notes: _{escape(item.notes[:500])}_")
    if item.autocall:
        lines.append("Kaleyra will ring you both at that time.")
    return message(
        [
            section("\n".join(lines)),
            actions(
                f"fu_reminder_{item.id}"[:255],
                button("Call now", FOLLOWUP_CALL, item.id, style="primary"),
                button("Snooze 10 min", FOLLOWUP_SNOOZE, item.id),
                button("Done", FOLLOWUP_DONE, item.id),
            ),
        ],
        f"Reminder: call {escape(item.name)} at {local:%H:%M} {escape(tz_name)}",
    )
