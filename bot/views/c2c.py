"""Views for /c2c: the modal, the live call card, logs, registration, help."""

from __future__ import annotations

from typing import Any

from bot.kaleyra.models import C2CCall, CallDetail
from bot.views.common import (
    actions,
    button,
    context,
    escape,
    form,
    header,
    input_block,
    message,
    retry_options,
    section,
    status_words,
    text_element,
)

C2C_MODAL = "c2c_modal"
AGENT_BLOCK, AGENT_INPUT = "c2c_agent", "agent_number"
CUSTOMER_BLOCK, CUSTOMER_INPUT = "c2c_customer", "customer_number"
RETRY_BLOCK, RETRY_INPUT = "c2c_retry", "retry"
DELAY_BLOCK, DELAY_INPUT = "c2c_delay", "delay"
REDIAL_BLOCK = "c2c_redial"
REDIAL_CONFIRM = "c2c_redial_confirm"
REDIAL_CANCEL = "c2c_redial_cancel"
CALL_STATUS_REFRESH = "c2c_status_refresh"
REGISTER_BUTTON = "c2c_register_open"
REGISTER_MODAL = "c2c_register_modal"
REGISTER_BLOCK, REGISTER_INPUT = "reg_number", "number"
LOG_PAGE_SIZE = 20

HELP = """*Click-to-call* bridges your agent phone and a customer: your phone rings first, then the customer's.
• `/c2c 9876543210` call a customer from your registered number
• `/c2c <agent> <customer>` choose the first leg too (admins)
• `/c2c` open a form
• `/c2c status <call-id>` one call's status
• `/c2c log [from [to]]` your account's click-to-call log (last 3 days), dates as YYYY-MM-DD
• `/c2c calls [from [to]]` incoming calls forwarded to agents
• `/c2c register 9876543210` map yourself to your agent number
• `/c2c register @someone 9876543210` map someone else (admins)
• `/c2c unregister [@someone]` remove a mapping
• `/c2c whoami` your number and role
• `/c2c admin grant @someone`, `admin revoke @someone`, `admin list` (admins)
Numbers may be typed as 9876543210, 09876543210 or +91 98765 43210."""


def help_message(*, sandbox: bool = False) -> dict[str, Any]:
    return message([section(HELP)], "Click-to-call help", sandbox=sandbox)


def dial_modal(agent_number: str | None, *, can_change_agent: bool) -> dict[str, Any]:
    hint = "Your phone rings first." + ("" if can_change_agent else " Only admins may change it.")
    retries = retry_options()
    agent = text_element(AGENT_INPUT, initial=agent_number, placeholder="9876543210")
    customer = text_element(CUSTOMER_INPUT, placeholder="+91 98765 43210")
    return form(
        C2C_MODAL,
        "Click-to-call",
        "Call",
        [
            input_block(AGENT_BLOCK, "Agent number (first leg)", agent, hint=hint),
            input_block(CUSTOMER_BLOCK, "Customer number (second leg)", customer),
            input_block(
                RETRY_BLOCK,
                "Retries if the agent does not answer",
                {
                    "type": "static_select",
                    "action_id": RETRY_INPUT,
                    "options": retries,
                    "initial_option": retries[0],
                },
                optional=True,
            ),
            input_block(
                DELAY_BLOCK,
                "Delay before dialling (seconds)",
                {
                    "type": "number_input",
                    "action_id": DELAY_INPUT,
                    "is_decimal_allowed": False,
                    "min_value": "0",
                    "max_value": "900",
                },
                optional=True,
                hint="0 to 900",
            ),
        ],
    )


def _leg_line(label: str, number: str, status: str | None, waiting: str) -> str:
    return f"*{label}* {escape(number)}: {status_words(status) if status else waiting}"


def call_card(
    *,
    agent: str,
    customer: str,
    kaleyra_id: str | None,
    state: str,
    status1: str | None = None,
    status2: str | None = None,
    duration: int | None = None,
    billsec: int | None = None,
    recording: str | None = None,
    error: str | None = None,
    sandbox: bool = False,
) -> dict[str, Any]:
    """The one message that shows a call and is updated as it progresses."""
    first_waiting = "ringing" if state in {"placed"} else "not dialled yet"
    second_waiting = "rings once the agent answers"
    if status1 and status1 != "ANSWER":
        second_waiting = "not dialled"
    if state == "final" and status1 == "ANSWER" and not status2:
        second_waiting = "not dialled"
    headline = {
        "placing": ":telephone_receiver: Dialling…",
        "placed": ":telephone_receiver: Call in progress",
        "unknown": ":grey_question: Outcome unknown",
        "failed": ":x: Call not placed",
        "untracked": ":grey_question: No final status yet",
        "final": (
            ":white_check_mark: Call completed"
            if status1 == "ANSWER" and status2 == "ANSWER"
            else ":no_entry: Call did not connect"
        ),
    }[state]
    lines = [
        _leg_line("Agent", agent, status1, first_waiting),
        _leg_line("Customer", customer, status2, second_waiting),
    ]
    if state == "final" and duration is not None:
        talk = f", talk time {billsec} s" if billsec else ""
        lines.append(f"*Duration* {duration} s{talk}")
    if recording:
        lines.append(f"*Recording* <{escape(recording)}|listen>")
    blocks: list[dict[str, Any]] = [section(f"{headline}\n" + "\n".join(lines))]
    if error:
        blocks.append(section(f":warning: {escape(error)}"))
    if state == "unknown":
        blocks.append(
            section(
                "Kaleyra did not confirm this call in time, so it may or may not ring. "
                "It was *not* sent again. Check with `/c2c log` before calling again."
            )
        )
    if kaleyra_id:
        blocks.append(context(f"Call id `{escape(kaleyra_id)}`"))
    if kaleyra_id and state == "placed":
        blocks.append(
            actions("c2c_card_actions", button("Refresh", CALL_STATUS_REFRESH, kaleyra_id))
        )
    text = f"Call {escape(agent)} → {escape(customer)}: {headline.split(' ', 1)[1]}"
    return message(blocks, text, sandbox=sandbox)


def redial_confirm(agent: str, customer: str, value: str, *, sandbox: bool = False):
    return message(
        [
            section(
                f":repeat: You called {escape(customer)} from {escape(agent)} less than a minute "
                "ago. Dial again?"
            ),
            actions(
                REDIAL_BLOCK,
                button("Dial again", REDIAL_CONFIRM, value, style="primary"),
                button("Cancel", REDIAL_CANCEL, value),
            ),
        ],
        "You called this number less than a minute ago. Dial again?",
        sandbox=sandbox,
    )


def status_message(call: C2CCall, *, sandbox: bool = False) -> dict[str, Any]:
    lines = [
        f"*Call* `{escape(call.id)}`",
        _leg_line("Agent", call.callfrom or "?", call.status, "ringing"),
        _leg_line("Customer", call.callto or "?", call.status2, "not dialled"),
    ]
    if call.start_time:
        lines.append(f"*Started* {escape(call.start_time)}")
    if call.is_final:
        lines.append(f"*Duration* {call.duration or 0} s, talk time {call.billsec or 0} s")
    if call.recording_url:
        lines.append(f"*Recording* <{escape(call.recording_url)}|listen>")
    return message([section("\n".join(lines))], f"Call {call.id}", sandbox=sandbox)


def _log_line(row: C2CCall | CallDetail) -> str:
    when = escape(row.start_time or getattr(row, "date", None) or "")
    legs = f"{escape(row.callfrom or '?')} → {escape(row.callto or '?')}"
    outcome = status_words(row.status)
    if row.status2:
        outcome += f" / {status_words(row.status2)}"
    return f"`{escape(row.id)}` {when} {legs}: {outcome}, {row.duration or 0} s"


def log_message(
    title: str, rows: list[C2CCall] | list[CallDetail], *, more: bool, sandbox: bool = False
) -> dict[str, Any]:
    if not rows:
        return message(
            [section(f"*{escape(title)}*\nNo calls in that range.")], title, sandbox=sandbox
        )
    shown = rows[:LOG_PAGE_SIZE]
    body = "\n".join(_log_line(r) for r in shown)
    blocks = [header(title), section(body)]
    hidden = len(rows) - len(shown)
    if hidden > 0 or more:
        extra = f"{hidden} more" if hidden > 0 and not more else "More"
        blocks.append(context(f"{extra} calls not shown: narrow the dates to see them."))
    return message(blocks, f"{title}: {len(rows)} calls", sandbox=sandbox)


def whoami_message(
    user_id: str, number: str | None, role: str, *, sandbox: bool = False
) -> dict[str, Any]:
    if number:
        text = f"<@{user_id}>: agent number *{escape(number)}*, role *{role}*."
    else:
        text = (
            f"<@{user_id}>: no agent number yet (role *{role}*). "
            "Register with `/c2c register 9876543210`."
        )
    return message([section(text)], text, sandbox=sandbox)


def not_registered_message(*, sandbox: bool = False) -> dict[str, Any]:
    text = (
        ":wave: You have no agent number yet, so I don't know which phone to ring first. "
        "Register it once with `/c2c register 9876543210`, then `/c2c <customer>` dials."
    )
    return message([section(text)], "Register your agent number first", sandbox=sandbox)


def register_modal(number: str | None) -> dict[str, Any]:
    return form(
        REGISTER_MODAL,
        "My agent number",
        "Save",
        [
            input_block(
                REGISTER_BLOCK,
                "The phone that rings first when you call",
                text_element(REGISTER_INPUT, initial=number),
            )
        ],
    )
