"""Views for /c2c: the modal, the live call card, logs, registration, help."""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Any

from bot.kaleyra.models import C2CCall, CallDetail
from bot.models import (
    AdminChanged,
    AdminRoster,
    AgentStatus,
    AlreadyHandled,
    AskFirst,
    Blacklisted,
    CallHistory,
    CallLogPage,
    ClaimTaken,
    Dialling,
    DialOutcome,
    Registration,
)
from bot.phones import Phone, mask
from bot.views.callfeed import log_outcome_button, outcome_line
from bot.views.common import (
    actions,
    button,
    context,
    escape,
    form,
    header,
    info_message,
    input_block,
    local_time,
    message,
    plural,
    retry_options,
    section,
    sections,
    slack_date,
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
BLACKLIST_OVERRIDE = "c2c_blacklist_override"
CALL_STATUS_REFRESH = "c2c_status_refresh"
REGISTER_BUTTON = "c2c_register_open"
HISTORY_OLDER = "c2c_history_older"
REGISTER_MODAL = "c2c_register_modal"
REGISTER_BLOCK, REGISTER_INPUT = "reg_number", "number"
VERIFY_MODAL = "c2c_verify_modal"
VERIFY_BLOCK, VERIFY_INPUT = "verify_code", "code"
LOG_PAGE_SIZE = 20
# A link Slack may render: https only, and nothing that could end the link or add a label.
SAFE_LINK = re.compile(r"^https://[^\s<>|\"'`]{1,500}$")

HELP = """*Click-to-call* bridges your agent phone and a customer: your phone rings first, then the customer's.
• `/c2c 9876543210` call a customer from your registered number
• `/c2c <agent> <customer>` choose the first leg too (admins)
• `/c2c` open a form
• `/c2c status <call-id>` one call's status
• `/c2c log [from [to]]` your account's click-to-call log (last 3 days), dates as YYYY-MM-DD
• `/c2c calls [from [to]]` incoming calls forwarded to agents
• `/c2c register 9876543210` map yourself to your agent number; the bot rings it and reads out a code
• `/c2c verify <code>` prove the number with that code (10 minutes, 5 tries)
• `/c2c register @someone 9876543210` map someone else (admins)
• `/c2c unregister [@someone]` remove a mapping
• `/c2c whoami` your number and role
• `/c2c history` the calls you placed through the bot, with their outcomes
• `/c2c admin grant @someone`, `admin revoke @someone`, `admin list` (admins)
• `/c2c feed #channel`, `/c2c feed off` where incoming and missed calls are posted (admins)
Numbers may be typed as 9876543210, 09876543210 or +91 98765 43210."""


def help_message() -> dict[str, Any]:
    return message([section(HELP)], "Click-to-call help")


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
    return f"*{label}* {escape(number)}: {escape(status_words(status)) if status else waiting}"


def _recording_line(url: str | None) -> str | None:
    return f"*Recording* <{url}|listen>" if url and SAFE_LINK.match(url) else None


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
    call_id: int | None = None,
) -> dict[str, Any]:
    """The one message that shows a call and is updated as it progresses.

    With `call_id`, a call that has ended offers Log outcome (the outcome and notes form).
    """
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
    if link := _recording_line(recording):
        lines.append(link)
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
    if call_id is not None and state in {"final", "untracked"}:
        blocks.append(actions("c2c_card_outcome", log_outcome_button(call_id)))
    text = f"Call {escape(agent)} → {escape(customer)}: {headline.split(' ', 1)[1]}"
    return message(blocks, text)


def redial_confirm(ask: AskFirst) -> dict[str, Any]:
    value = ask.redial.encode()
    return message(
        [
            section(
                f":repeat: You called {escape(ask.customer.pretty)} from {escape(ask.agent.pretty)}"
                " less than a minute ago. Dial again?"
            ),
            actions(
                REDIAL_BLOCK,
                button("Dial again", REDIAL_CONFIRM, value, style="primary"),
                button("Cancel", REDIAL_CANCEL, value),
            ),
        ],
        "You called this number less than a minute ago. Dial again?",
    )


def dialling_text(dialling: Dialling) -> str:
    if dialling.again:
        return ":telephone_receiver: Dialling again. I'll keep you posted in our DM."
    first = (
        f"your phone {escape(dialling.agent.pretty)} rings first"
        if dialling.own
        else f"the agent phone {escape(dialling.agent.pretty)} (not yours) rings first"
    )
    return (
        f":telephone_receiver: Dialling {escape(dialling.customer.pretty)}: {first}."
        " I'll keep you posted in our DM."
    )


def blacklisted_message(refusal: Blacklisted, *, masked: bool = False) -> dict[str, Any]:
    """Who blacklisted the number, when and why; an admin also gets *Call anyway*."""
    number = mask(refusal.customer.national) if masked else refusal.customer.pretty
    why = f"because \u201c{escape(refusal.reason)}\u201d" if refusal.reason else "(no reason given)"
    text = (
        f":no_entry: {escape(number)} is on the bot's blacklist: <@{refusal.added_by}> added it"
        f" on {refusal.added_at:%d %b %Y at %H:%M} {why}. Nothing was dialled."
    )
    blocks = [section(text)]
    if refusal.override is not None:
        value = refusal.override.encode()
        blocks += [
            context("As an admin you may call it anyway; that is recorded in the audit log."),
            actions(
                REDIAL_BLOCK,
                button("Call anyway", BLACKLIST_OVERRIDE, value, style="danger"),
                button("Cancel", REDIAL_CANCEL, value),
            ),
        ]
    return message(blocks, f"{mask(refusal.customer.national)} is on the blacklist: not dialled")


def claim_taken_message(taken: ClaimTaken) -> dict[str, Any]:
    number = escape(mask(taken.customer.national))
    if taken.holder:
        text = f":no_entry: <@{taken.holder}> is calling back {number} now, so nothing was dialled."
    else:
        text = (
            f":no_entry: Your call back of {number} was released, so nothing was dialled. Press"
            " *Call back* on the missed call to claim it again."
        )
    return message([section(text)], f"Nothing was dialled to {mask(taken.customer.national)}")


def outcome_message(outcome: DialOutcome) -> dict[str, Any] | None:
    """What the person who asked for a call is shown; nothing for a repeated click."""
    match outcome:
        case Dialling():
            text = dialling_text(outcome)
            return message([section(text)], text)
        case AskFirst():
            return redial_confirm(outcome)
        case Blacklisted():
            return blacklisted_message(outcome)
        case ClaimTaken():
            return claim_taken_message(outcome)
        case AlreadyHandled():
            return None


def dm_after(outcome: DialOutcome) -> dict[str, Any] | None:
    """What to DM after a dial asked from a form or a button with no reply in place: the
    repeat question or the refusal (a dial shows its card; a repeated click shows nothing)."""
    if isinstance(outcome, Dialling):
        return None
    return outcome_message(outcome)


def not_dialled_message() -> dict[str, Any]:
    return message([section("Not dialled.")], "Not dialled.")


def status_message(call: C2CCall, tz: tzinfo | None = None) -> dict[str, Any]:
    """One call's status; `tz` is the zone Kaleyra wrote its times in (the account's)."""
    lines = [
        f"*Call* `{escape(call.id)}`",
        _leg_line("Agent", call.callfrom or "?", call.status, "ringing"),
        _leg_line("Customer", call.callto or "?", call.status2, "not dialled"),
    ]
    if call.start_time:
        started = local_time(call.start_time, tz) if tz else escape(call.start_time)
        lines.append(f"*Started* {started}")
    if call.is_final:
        lines.append(f"*Duration* {call.duration or 0} s, talk time {call.billsec or 0} s")
    if link := _recording_line(call.recording_url):
        lines.append(link)
    return message([section("\n".join(lines))], f"Call {escape(call.id)}")


def _shown(number: str | None, full: bool) -> str:
    if not number:
        return "?"
    return escape(number) if full else mask(number)


def _log_line(row: C2CCall | CallDetail, full: bool, tz: tzinfo | None) -> str:
    raw = row.start_time or getattr(row, "date", None) or ""
    when = local_time(raw, tz) if tz else escape(raw)
    legs = f"{_shown(row.callfrom, full)} → {_shown(row.callto, full)}"
    outcome = escape(status_words(row.status))
    if row.status2:
        outcome += f" / {escape(status_words(row.status2))}"
    return f"`{escape(row.id)}` {when} {legs}: {outcome}, {row.duration or 0} s"


def log_message(
    title: str,
    rows: list[C2CCall] | list[CallDetail],
    *,
    more: bool,
    full_numbers: frozenset[str] | None = None,
    tz: tzinfo | None = None,
) -> dict[str, Any]:
    """A page of the call log; numbers of rows not in `full_numbers` are masked (None: none).
    `tz` is the zone Kaleyra wrote the times in; they are shown in each reader's own."""
    if not rows:
        return message([section(f"*{escape(title)}*\nNo calls in that range.")], escape(title))
    shown = rows[:LOG_PAGE_SIZE]
    lines = [_log_line(r, full_numbers is None or r.id in full_numbers, tz) for r in shown]
    blocks = [header(title), *sections(lines)]
    hidden = len(rows) - len(shown)
    if hidden > 0 or more:
        extra = f"{hidden} more" if hidden > 0 and not more else "More"
        blocks.append(context(f"{extra} calls not shown: narrow the dates to see them."))
    if full_numbers is not None and any(r.id not in full_numbers for r in shown):
        blocks.append(
            context("Numbers of other people's calls are masked; admins see them in full.")
        )
    return message(blocks, f"{escape(title)}: {len(rows)} {plural(len(rows), 'call')}")


def log_page_message(page: CallLogPage, tz: tzinfo | None = None) -> dict[str, Any]:
    return log_message(page.title, page.rows, more=page.more, full_numbers=page.full_numbers, tz=tz)


def whoami_message(status: AgentStatus) -> dict[str, Any]:
    if status.number and status.verified:
        number = escape(Phone.known(status.number).pretty)
        text = f"<@{status.user_id}>: agent number *{number}*, role *{status.role}*."
    elif status.number:
        number = escape(Phone.known(status.number).pretty)
        text = (
            f"<@{status.user_id}>: agent number *{number}*, unverified — type"
            f" `/c2c verify <code>` with the code the verification call read out"
            f" (or `/c2c register {number}` again for a new call). Role *{status.role}*."
        )
    else:
        text = (
            f"<@{status.user_id}>: no agent number yet (role *{status.role}*). "
            "Register with `/c2c register 9876543210`."
        )
    return message([section(text)], text)


def registration_message(registration: Registration, *, show_code: bool = False) -> dict[str, Any]:
    """The answer to `/c2c register`; `show_code` in the sandbox, where no call really rings."""
    who, number = f"<@{registration.user_id}>", escape(registration.number.pretty)
    if registration.unchanged:
        text = f":white_check_mark: {who} already calls from {number} (verified)."
    elif registration.verified:
        text = f":white_check_mark: {who} now calls from {number}."
    else:
        text = (
            f":telephone_receiver: {who} now calls from {number} once it is verified: I am"
            " ringing that phone to read out a 6-digit code. Type `/c2c verify <code>` within"
            " 10 minutes. Until then it rings nobody first."
        )
        if show_code and registration.code:
            text += f"\n:test_tube: Sandbox: the call would read out `{registration.code}`."
    return message([section(text)], text)


def verified_message(number: Phone) -> dict[str, Any]:
    text = (
        f":white_check_mark: Verified: you now call from {escape(number.pretty)}."
        " `/c2c <customer>` rings it first."
    )
    return message([section(text)], text)


def unregistered_message(user_id: str, removed: bool) -> dict[str, Any]:
    text = (
        f":white_check_mark: <@{user_id}> has no agent number now."
        if removed
        else f"<@{user_id}> had no agent number."
    )
    return message([section(text)], text)


def admins_message(result: AdminRoster | AdminChanged) -> dict[str, Any]:
    if isinstance(result, AdminRoster):
        text = "Admins: " + ", ".join(
            f"<@{u}>" + (" (ADMIN_USER_IDS)" if u in result.from_env else "") for u in result.admins
        )
    elif result.action == "grant":
        text = f":key: <@{result.target}> is now an admin."
    elif result.changed:
        text = f"<@{result.target}> is no longer an admin."
    else:
        text = f"<@{result.target}> was not an admin."
    return message([section(text)], text)


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
                hint="The bot rings it and reads out a 6-digit code to prove it is yours.",
            )
        ],
    )


def verify_modal(registration: Registration, *, show_code: bool = False) -> dict[str, Any]:
    """After the number form: the code the verification call reads out, typed right here."""
    intro = (
        f":telephone_receiver: I am ringing {escape(registration.number.pretty)} to read out a"
        " 6-digit code. Type it below within 10 minutes (or later with `/c2c verify <code>`)."
    )
    if show_code and registration.code:
        intro += f"\n:test_tube: Sandbox: the call would read out `{registration.code}`."
    return form(
        VERIFY_MODAL,
        "Verify my number",
        "Verify",
        [
            section(intro),
            input_block(
                VERIFY_BLOCK,
                "Code",
                text_element(VERIFY_INPUT, max_length=12, placeholder="123456"),
            ),
        ],
    )


def verification_call_text(code: str) -> str:
    """What the verification call says: the code twice, digit by digit."""
    spoken = " ".join(code)
    return (
        f"Your voicebot code is {spoken}. Again, your code is {spoken}."
        " If you did not ask for it, ignore this call."
    )


def verification_failed_message(number: Phone, problem: str) -> dict[str, Any]:
    text = (
        f"I could not ring {escape(number.pretty)} to read out your code: {escape(problem)}"
        f" Try `/c2c register {escape(number.pretty)}` again in a minute."
    )
    return message([section(f":warning: {text}")], text)


def history_message(history: CallHistory) -> dict[str, Any]:
    """The bot's own call history: my calls, newest first, with what I logged of each."""
    if not history.calls:
        return info_message("No calls placed through the bot yet. Try `/c2c 9876543210`.")
    lines = []
    for call in history.calls:
        when = slack_date(call.created_at)
        customer = escape(Phone.known(call.customer_number).pretty)
        state = (
            f"{escape(status_words(call.status1))} / {escape(status_words(call.status2))}"
            if call.state == "final"
            else escape(call.state)
        )
        line = f"{when} · {customer} · {state}"
        if call.billsec:
            line += f" · talk {call.billsec} s"
        if logged := history.outcomes.get(call.id):
            line += f" · {outcome_line(logged)}"
        lines.append(line)
    blocks = [header("Your calls"), *sections(lines)]
    if history.older is not None:
        blocks.append(
            actions("c2c_history_actions", button("Older calls", HISTORY_OLDER, str(history.older)))
        )
    return message(blocks, f"Your last {len(history.calls)} {plural(len(history.calls), 'call')}")
