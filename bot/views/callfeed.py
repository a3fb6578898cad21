"""Views for the team phone line: the channel posts, Call back replies, the outcome form, the
activity digest and App Home's "Missed calls waiting". Customer numbers are always masked here."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from bot.models import (
    NOTE_MAX,
    OUTCOME_KINDS,
    OUTCOME_WORDS,
    ActivityDigest,
    AgentActivity,
    CallOutcome,
    CallRow,
    FeedCall,
)
from bot.phones import mask
from bot.views.common import (
    actions,
    button,
    context,
    escape,
    form,
    header,
    info_message,
    input_block,
    message,
    plural,
    section,
    sections,
    slack_date,
    status_words,
    text_element,
)

CALL_BACK = "callfeed_call_back"
LOG_OUTCOME = "callfeed_log_outcome"
OUTCOME_MODAL = "callfeed_outcome"
OUTCOME_BLOCK, OUTCOME_INPUT = "outcome_kind", "outcome"
NOTE_BLOCK, NOTE_INPUT = "outcome_note", "note"
FOLLOWUP_BLOCK, FOLLOWUP_INPUT = "outcome_followup", "followup_at"
FEED_ACTIONS = "callfeed_actions"
# The service names what is wrong by field; the form shows it under that field's block.
OUTCOME_FIELDS = {"outcome": OUTCOME_BLOCK, "note": NOTE_BLOCK, "followup_at": FOLLOWUP_BLOCK}


def talk_time(seconds: int | None) -> str:
    """3 min 12 s; 45 s."""
    seconds = max(int(seconds or 0), 0)
    minutes, rest = divmod(seconds, 60)
    if minutes and rest:
        return f"{minutes} min {rest} s"
    return f"{minutes} min" if minutes else f"{rest} s"


def _when(iso_utc: str, tz: tzinfo, today: datetime | None = None) -> str:
    """When a call started, in each reader's own zone ("today 10:40")."""
    return slack_date(iso_utc)


def _caller(feed: FeedCall) -> str:
    where = f" ({escape(feed.location)})" if feed.location else ""
    return f"*{escape(mask(feed.caller))}*{where}"


def _agent(feed: FeedCall) -> str:
    return f"<@{feed.agent_user}>" if feed.agent_user else escape(mask(feed.agent_number))


def _callback_line(feed: FeedCall, outcome: CallOutcome | None) -> str | None:
    if not feed.claimed_by:
        return None
    who = f"<@{feed.claimed_by}>"
    line = {
        "dialling": f":telephone_receiver: {who} is calling back",
        "connected": f":white_check_mark: {who} called back: connected, {talk_time(feed.callback_billsec)}",
        "not_connected": f":no_entry: {who} called back: did not connect",
        "unknown": f":grey_question: {who} called back: outcome unknown, so far",
    }.get(feed.callback_state or "dialling", f":telephone_receiver: {who} is calling back")
    if outcome is not None:
        line += f" · outcome: *{escape(OUTCOME_WORDS.get(outcome.outcome, outcome.outcome))}*"
    return line


def feed_message(
    feed: FeedCall,
    tz: tzinfo,
    *,
    outcome: CallOutcome | None = None,
    released_by: str | None = None,
    unknown: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One incoming call in the calls channel: answered compactly, missed with Call back.

    `released_by`: the agent whose call back did not go through (or, `unknown`, whose outcome
    stayed unknown too long), so the call waits again.
    """
    at = _when(feed.started_at, tz, now)
    if not feed.missed:
        # 0 billed seconds on an answered call: Kaleyra's value could not be read.
        talk = f", {talk_time(feed.billsec)}" if feed.billsec else ""
        text = (
            f":telephone_receiver: Incoming call from {_caller(feed)} answered by "
            f"{_agent(feed)}{talk} · {at}"
        )
        return message([section(text)], f"Incoming call from {mask(feed.caller)}, answered")
    blocks = [section(f":no_entry: *Missed call* from {_caller(feed)} to {_agent(feed)} · {at}")]
    if line := _callback_line(feed, outcome):
        blocks.append(context(line))
    elif feed.caller_problem:
        blocks.append(context(_cannot_call_back(feed)))
    else:
        blocks.append(actions(FEED_ACTIONS, button("Call back", CALL_BACK, feed.key, "primary")))
    if released_by and unknown:
        blocks.append(
            context(
                f"<@{released_by}>'s call back ended with no known outcome (check `/c2c log`"
                " before calling again), so the call is waiting again."
            )
        )
    elif released_by:
        blocks.append(
            context(
                f"<@{released_by}>'s call back did not go through, so the call is waiting again."
            )
        )
    return message(blocks, f"Missed call from {mask(feed.caller)}")


def feed_channel_message(channel: str | None) -> dict[str, Any]:
    if channel:
        return info_message(
            f":telephone_receiver: Incoming and missed calls are posted to <#{channel}> from now"
            " on. Invite me there if I am not in it yet."
        )
    return info_message("Incoming and missed calls are no longer posted to a channel.")


def feed_outage_message(problem: str, *, recovered: bool = False) -> dict[str, Any]:
    if recovered:
        text = ":large_green_circle: Kaleyra answers again: incoming calls are posted as before."
    else:
        text = (
            ":red_circle: Incoming calls cannot be read from Kaleyra right now, so none are"
            f" posted here. {escape(problem)} I will say so here when it answers again."
        )
    return message([section(text)], text)


# ------------------------------------------------------------------ Call back


def calling_back_message(feed: FeedCall) -> dict[str, Any]:
    return info_message(
        f":telephone_receiver: You are calling back {escape(mask(feed.caller))}: your phone"
        " rings first. The call card is in our DM."
    )


def already_claimed_message(feed: FeedCall, user_id: str) -> dict[str, Any]:
    if feed.claimed_by == user_id:
        text = (
            f"You are already calling back {escape(mask(feed.caller))}. Nothing more was dialled."
        )
    else:
        text = (
            f"<@{feed.claimed_by}> is already calling back {escape(mask(feed.caller))}, so"
            " nothing was dialled."
        )
    return info_message(text)


# ------------------------------------------------------------------ outcome form


def log_outcome_button(call_id: int) -> dict[str, Any]:
    """The card's **Log outcome** button (for the click-to-call card once the call has ended)."""
    return button("Log outcome", LOG_OUTCOME, str(call_id))


def _option(value: str) -> dict[str, Any]:
    return {
        "text": {"type": "plain_text", "text": OUTCOME_WORDS[value].capitalize()},
        "value": value,
    }


def outcome_modal(call: CallRow, existing: CallOutcome | None, tz: tzinfo) -> dict[str, Any]:
    options = [_option(kind) for kind in OUTCOME_KINDS]
    select: dict[str, Any] = {
        "type": "static_select",
        "action_id": OUTCOME_INPUT,
        "options": options,
    }
    if existing is not None and existing.outcome in OUTCOME_WORDS:
        select["initial_option"] = _option(existing.outcome)
    picker: dict[str, Any] = {"type": "datetimepicker", "action_id": FOLLOWUP_INPUT}
    if existing is not None and existing.followup_at:
        picker["initial_date_time"] = int(datetime.fromisoformat(existing.followup_at).timestamp())
    started = datetime.fromisoformat(call.created_at).astimezone(tz)
    note = text_element(
        NOTE_INPUT,
        initial=existing.note if existing else None,
        multiline=True,
        max_length=NOTE_MAX,
    )
    return form(
        OUTCOME_MODAL,
        "Log outcome",
        "Save",
        [
            section(f"Your call to *{escape(mask(call.customer_number))}* {slack_date(started)}"),
            input_block(OUTCOME_BLOCK, "Outcome", select),
            input_block(
                NOTE_BLOCK, "Note", note, optional=True, hint=f"Up to {NOTE_MAX} characters"
            ),
            input_block(
                FOLLOWUP_BLOCK,
                "Call back at",
                picker,
                optional=True,
                hint="For “call back”: a Kaleyra follow-up rings you then, like /followup add.",
            ),
        ],
        private_metadata=str(call.id),
    )


def outcome_errors(problems: dict[str, str]) -> dict[str, str]:
    """The service's problems by field, as the form's errors by block."""
    return {OUTCOME_FIELDS.get(name, OUTCOME_BLOCK): text for name, text in problems.items()}


def outcome_line(outcome: CallOutcome) -> str:
    """One line for a call's history (App Home's recent calls, the call history)."""
    line = f"outcome: *{escape(OUTCOME_WORDS.get(outcome.outcome, outcome.outcome))}*"
    if outcome.note:
        note = outcome.note if len(outcome.note) <= 80 else outcome.note[:79] + "…"
        line += f" · {escape(note)}"
    return line


def followup_made_message(followup_id: str, when: datetime, tz_name: str) -> dict[str, Any]:
    return info_message(
        f":calendar: Follow-up `{escape(followup_id)}` set: Kaleyra calls you back at"
        f" {when:%a %d %b %H:%M} {escape(tz_name)}. See it with `/followup list`."
    )


def followup_failed_message(problem: str) -> dict[str, Any]:
    return info_message(
        f":warning: The outcome is saved, but the follow-up was not created: {escape(problem)}"
        " Add it with `/followup add`."
    )


# ------------------------------------------------------------------ App Home, digest


def missed_calls_section(missed: list[FeedCall], tz: tzinfo) -> list[dict[str, Any]]:
    """App Home's "Missed calls waiting": each unclaimed missed call with its Call back button."""
    blocks: list[dict[str, Any]] = [header("Missed calls waiting")]
    if not missed:
        blocks.append(section("None: every missed call has been called back."))
    for feed in missed[:10]:
        line = f"{_caller(feed)} for {_agent(feed)} · {_when(feed.started_at, tz)}"
        if feed.caller_problem:
            blocks.append(section(f"{line}\n{_cannot_call_back(feed)}"))
        else:
            blocks.append(section(line, accessory=button("Call back", CALL_BACK, feed.key)))
    return blocks


def _cannot_call_back(feed: FeedCall) -> str:
    return f":no_entry_sign: No Call back: {escape(feed.caller_problem or '')}."


def _agent_parts(agent: AgentActivity) -> list[str]:
    parts = []
    if agent.placed:
        parts.append(
            f"{agent.placed} placed, {round(agent.answered_share * 100)}% answered,"
            f" talk time {talk_time(agent.talk_seconds)}"
        )
    if agent.incoming_answered:
        parts.append(f"{agent.incoming_answered} incoming answered")
    if agent.followups_due:
        parts.append(f"{agent.followups_due} {plural(agent.followups_due, 'follow-up')} due today")
    return parts


def activity_digest_message(digest: ActivityDigest, tz_name: str) -> dict[str, Any]:
    span = f"{digest.since:%d %b %H:%M} to {digest.until:%d %b %H:%M} {tz_name}"
    blocks: list[dict[str, Any]] = [header("Team activity"), context(escape(span))]
    if digest.agents:
        lines = ["*Agents*"] + [
            f"<@{a.user_id}>: " + ", ".join(_agent_parts(a)) for a in digest.agents
        ]
        blocks.extend(sections(lines))
    else:
        blocks.append(section("*Agents*\nNo calls placed."))
    blocks.append(
        section(
            f"*Incoming* {digest.incoming_answered} answered, {digest.incoming_missed} missed;"
            f" {digest.missed_called_back_within_hour} of the missed called back within an hour,"
            f" {digest.missed_waiting} still waiting"
        )
    )
    outcomes = ", ".join(
        f"{count} {escape(status_words(status))}"
        for status, count in sorted(digest.broadcast_outcomes.items(), key=lambda kv: -kv[1])
    )
    broadcast = (
        f"*Broadcasts* {digest.broadcasts} sent to {digest.broadcast_numbers}"
        f" {plural(digest.broadcast_numbers, 'number')}"
    )
    blocks.append(section(broadcast + (f": {outcomes}" if outcomes else "")))
    blocks.append(section(f"*Follow-ups due today* {digest.followups_due_today}"))
    return message(blocks, f"Team activity {escape(span)}")
