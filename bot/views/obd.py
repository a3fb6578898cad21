"""Views for /obd: confirmation, the live progress message with its controls, the restart DM,
results, status, list, help. Pure functions of the models in bot.models."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from bot.kaleyra.models import ObdCall
from bot.models import (
    CONFIRMATION_MINUTES,
    BroadcastPlan,
    Campaign,
    CampaignListing,
    CampaignProgress,
    CampaignResults,
    ControlOutcome,
    StartOutcome,
)
from bot.phones import mask, mask_text
from bot.views.common import (
    actions,
    button,
    context,
    escape,
    form,
    header,
    input_block,
    message,
    plural,
    retry_options,
    section,
    sections,
    status_words,
    text_element,
)

OBD_CONFIRM, OBD_CANCEL, OBD_BLOCK = "obd_confirm", "obd_cancel", "obd_confirm_block"
OBD_PAUSE, OBD_RESUME, OBD_STOP = "obd_pause", "obd_resume", "obd_stop"
OBD_AGAIN = "obd_again"
OBD_CONFIRM_ANYWAY = "obd_confirm_anyway"  # Start although another broadcast calls its numbers
OBD_RESULTS = "obd_results_file"  # an admin asks for a results file its owner may not have
CONTROL_VERBS = {OBD_PAUSE: "pause", OBD_RESUME: "resume", OBD_STOP: "cancel"}
PROGRESS_BLOCK, RECOVERY_BLOCK, RESULTS_BLOCK = "obd_controls", "obd_recovery", "obd_results"
OBD_MODAL = "obd_modal"
NUMBERS_BLOCK, NUMBERS_INPUT = "obd_numbers", "numbers"
PLAY_BLOCK, PLAY_INPUT = "obd_play", "play"
SAY_BLOCK, SAY_INPUT = "obd_say", "say"
AT_BLOCK, AT_INPUT = "obd_at", "at"
CAMPAIGN_BLOCK, CAMPAIGN_INPUT = "obd_campaign", "campaign"
RETRIES_BLOCK, RETRIES_INPUT = "obd_retries", "retries"
FILE_BLOCK, FILE_INPUT = "obd_file", "csv"
DIALER_BLOCK, DIALER_INPUT = "obd_dialer", "dialer_campaign"
# The form's fields, by the names bot.grammar.obd.form_problems gives them.
FIELD_BLOCKS = {
    "numbers": NUMBERS_BLOCK,
    "play": PLAY_BLOCK,
    "say": SAY_BLOCK,
    "dialer": DIALER_BLOCK,
}

INTERNAL_ERROR = (
    "Something went wrong in the bot while sending; the outcome is unknown and nothing was re-sent."
)
HELP = """*Outbound voice broadcasts* (admins). Every job shows what it will do and waits for your click.
• `/obd 9876543210, 9123456789 play 123.sound` play a sound (or `ivr:1234`, `1234.ivr`)
• `/obd 9876543210 say "Your order has shipped"` speak a message
• … then optionally `at 2026-11-24 10:00` `campaign diwali` `retries 2`
• `/obd group 4477 play 123.sound` call a contact group
• `/obd dialer <campaign> <numbers>` upload to the progressive dialer
• `/obd list` recent broadcasts with their state and counts (anyone)
• `/obd status #12` one of them; `/obd status 217691534` a Kaleyra group, `217691534-1` one call
• `/obd` a form (numbers, or a CSV)
A running broadcast can be paused, resumed and cancelled from its progress message."""

BAR = 10
NO_FINAL = "NO_FINAL"  # Kaleyra reported no final status before the bot stopped following
OUTCOME_WORDS = {
    NO_FINAL: "outcome unknown (no final status from Kaleyra in time)",
    "REFUSED": "refused by Kaleyra",
    "UNKNOWN": "outcome unknown",
    "NOT_SENT": "not sent",
    "SUBMITTED": "submitted",
    "NOT_REPORTED": "not reported by Kaleyra",
}


def outcome_words(outcome: str) -> str:
    """A Kaleyra status, or one of the bot's own outcomes, in words."""
    return OUTCOME_WORDS.get(outcome) or status_words(outcome)


def duration(minutes: float) -> str:
    if minutes < 1.5:
        return "about a minute"
    if minutes < 90:
        return f"about {round(minutes)} {plural(round(minutes), 'minute')}"
    hours, rest = divmod(round(minutes), 60)
    return f"about {hours} h {rest} min" if rest else f"about {hours} h"


def help_message() -> dict[str, Any]:
    return message([section(HELP)], "Broadcast help")


def bar(done: int, total: int) -> str:
    filled = 0 if total == 0 else round(BAR * done / total)
    return "█" * filled + "░" * (BAR - filled)


def _noun(kind: str) -> str:
    return "dialer upload" if kind == "dialer" else "broadcast"


def _what(plan: BroadcastPlan) -> str:
    what = f"play `{escape(plan.play)}`" if plan.play else f"say “{escape(plan.say or '')}”"
    if plan.messages:
        what = "a message per number" + (f", else {what}" if plan.play or plan.say else "")
    if plan.campaign:
        what += f" · campaign `{escape(plan.campaign)}`"
    if plan.at_text:
        what += f" · at {escape(plan.at_text)}"
    if plan.retries is not None:
        what += f" · retries {plan.retries}"
    return what


def _skipped_lines(plan: BroadcastPlan) -> list[str]:
    lines = []
    for label, entries in (
        ("invalid", plan.invalid),
        ("repeated", plan.duplicates),
        ("blacklisted", plan.blacklisted),
    ):
        if entries:
            shown = "; ".join(escape(e) for e in entries[:8])
            more = f"; and {len(entries) - 8} more" if len(entries) > 8 else ""
            lines.append(f"• {len(entries)} {label}: {shown}{more}")
    return lines


def _pace(plan: BroadcastPlan) -> str | None:
    minutes = plan.estimated_minutes
    if minutes is None:
        return None
    start = f"from {escape(plan.at_text)} " if plan.at_text else ""
    return (
        f"Pace: at most {plan.calls_per_minute} calls a minute (OBD_CALLS_PER_MINUTE), "
        f"so the calls go out {start}over {duration(minutes)}."
    )


def confirm_message(campaign: Campaign) -> dict[str, Any]:
    job_id, plan = campaign.id, campaign.plan
    kind = _noun(plan.kind)
    if plan.kind == "dialer":
        lines = [
            f":loudspeaker: *Confirm dialer upload #{job_id}*: add *{len(plan.numbers)}* {plural(len(plan.numbers), 'number')} to campaign `{escape(plan.campaign)}`"
        ]
    else:
        target = (
            f"contact group `{escape(plan.group)}`"
            if plan.group
            else f"*{len(plan.numbers)}* {plural(len(plan.numbers), 'number')}"
        )
        lines = [f":loudspeaker: *Confirm {kind} #{job_id}*: call {target}", _what(plan)]
    if plan.again_of:
        lines.append(f"The numbers broadcast #{plan.again_of} did not reach, called again.")
    if plan.skipped:
        lines.append(f"Skipped {plan.skipped}:")
        lines.extend(_skipped_lines(plan))
    requests = plan.requests
    lines.append(
        f"Cost: {requests} Kaleyra request{'s' if requests != 1 else ''} via {plan.api_name}."
    )
    pace = _pace(plan)
    if pace:
        lines.append(pace)
    start = "Start" if kind == "broadcast" else "Upload"
    return message(
        [
            section("\n".join(lines)),
            actions(
                OBD_BLOCK,
                button(start, OBD_CONFIRM, str(job_id), style="primary"),
                button("Cancel", OBD_CANCEL, str(job_id)),
            ),
            context(
                f"Nothing has been sent. Only you can start this job, within {CONFIRMATION_MINUTES} minutes."
            ),
        ],
        f"Confirm {kind} #{job_id}",
    )


def _overlap_message(outcome: StartOutcome) -> dict[str, Any]:
    job = outcome.job_id
    others = "; ".join(
        f"broadcast #{other} of <@{owner}>"
        + (f" ({shared} of these numbers)" if shared else " (the same contact group)")
        for other, owner, shared in outcome.overlaps[:5]
    )
    text = (
        f":warning: Broadcast #{job} has not started: {others} already called or is calling "
        "these numbers within the last hour. Starting it would ring them again."
    )
    return message(
        [
            section(text),
            actions(
                OBD_BLOCK,
                button("Start anyway", OBD_CONFIRM_ANYWAY, str(job), style="danger"),
                button("Cancel", OBD_CANCEL, str(job)),
            ),
            context("Nothing has been sent."),
        ],
        f"Broadcast #{job} has not started: its numbers are already being called",
    )


def start_message(outcome: StartOutcome) -> dict[str, Any]:
    if outcome.overlaps:
        return _overlap_message(outcome)
    if not outcome.started:
        text = (
            f":hourglass: This confirmation of job #{outcome.job_id} expired: a confirmation is valid for "
            f"{CONFIRMATION_MINUTES} minutes. Nothing was sent; run the command again for a fresh one."
        )
        return message([section(text)], f"Job #{outcome.job_id} expired")
    text = f":rocket: Job #{outcome.job_id} started. Progress is in our DM."
    if outcome.left_out:
        text += (
            f" {outcome.left_out} {plural(outcome.left_out, 'number')} blacklisted since the"
            f" confirmation {plural(outcome.left_out, 'was', 'were')} left out."
        )
    return message([section(text)], text)


def _state_line(progress: CampaignProgress) -> str | None:
    campaign, counts = progress.campaign, progress.counts
    noun = _noun(campaign.kind)
    if campaign.state == "paused" and campaign.pause_reason == "window":
        return (
            f":double_vertical_bar: *Paused*: outside the calling hours ({escape(progress.window)}); "
            f"it resumes by itself at {escape(progress.resumes_at)}. {counts.never_sent} {plural(counts.never_sent, 'number waits', 'numbers wait')}."
        )
    if campaign.state == "paused":
        who = f" by <@{campaign.paused_by}>" if campaign.paused_by else ""
        return f":double_vertical_bar: *Paused*{who}: {counts.never_sent} {plural(counts.never_sent, 'number')} not sent yet. Resume to go on."
    if campaign.state == "interrupted":
        return (
            f":zap: *Interrupted* by a restart: {counts.never_sent} {plural(counts.never_sent, 'number')} never sent, "
            f"{counts.of('unknown')} with an unknown outcome (never re-sent). Resume sends only the never-sent."
        )
    if campaign.state == "cancelled":
        return f":octagonal_sign: *Cancelled*: {counts.of('cancelled')} {plural(counts.of('cancelled'), 'number was', 'numbers were')} not called."
    if campaign.state == "pending":
        return f"This {noun} has not been started."
    return None


def _controls(progress: CampaignProgress, block_id: str) -> dict[str, Any] | None:
    job = str(progress.campaign.id)
    state = progress.campaign.state
    stop = {
        **button("Cancel", OBD_STOP, job, style="danger"),
        "confirm": {
            "title": {
                "type": "plain_text",
                "text": f"Cancel {_noun(progress.campaign.kind)} #{job}?",
            },
            "text": {
                "type": "plain_text",
                "text": "Numbers not sent yet will not be called. Calls already placed go on.",
            },
            "confirm": {"type": "plain_text", "text": "Cancel it"},
            "deny": {"type": "plain_text", "text": "Keep it"},
        },
    }
    if state == "running":
        return actions(block_id, button("Pause", OBD_PAUSE, job), stop)
    if state in ("paused", "interrupted") and progress.counts.never_sent:
        return actions(block_id, button("Resume", OBD_RESUME, job, style="primary"), stop)
    return None


def progress_message(progress: CampaignProgress, *, controls: bool = True) -> dict[str, Any]:
    campaign, counts = progress.campaign, progress.counts
    plan, result = campaign.plan, campaign.result
    total, done = counts.total or plan.total, counts.sent
    problems = counts.of("refused") or counts.of("unknown")
    icon = ":loudspeaker:"
    if progress.finished:
        icon = ":warning:" if problems else ":white_check_mark:"
    noun = _noun(campaign.kind).capitalize()
    lines = [
        f"{icon} *{noun} #{campaign.id}*" + ("" if plan.kind == "dialer" else f" · {_what(plan)}"),
        f"`{bar(done, total)}` {done} of {total} {plural(total, 'number')} sent ({counts.chunks_done} of {counts.chunks_total or plan.requests} {plural(counts.chunks_total or plan.requests, 'request')})",
        f"accepted {counts.of('accepted')} · rejected {counts.of('refused')} · outcome unknown {counts.of('unknown')}",
    ]
    state = _state_line(progress)
    if state:
        lines.append(state)
    blocks: list[dict[str, Any]] = [section("\n".join(lines))]
    if progress.errors:
        # Kaleyra's text may echo numbers: in full for admins only.
        shown = progress.errors if progress.show_numbers else map(mask_text, progress.errors)
        blocks.append(section("\n".join(f":x: {escape(e)}" for e in list(shown)[:5])))
    if counts.of("unknown"):
        blocks.append(
            section(
                f"Kaleyra did not confirm {counts.of('unknown')} {plural(counts.of('unknown'), 'number')}; {plural(counts.of('unknown'), 'it was', 'they were')} *not* re-sent. Check with `/obd status` before trying again."
            )
        )
    if result and result.statuses:
        shown = " · ".join(
            f"{escape(outcome_words(k))} {v}"
            for k, v in sorted(result.statuses.items(), key=lambda kv: -kv[1])
        )
        blocks.append(section(f"*Call statuses*: {shown}"))
    if progress.group_ids:
        ids = ", ".join(f"`{escape(g)}`" for g in progress.group_ids[:20])
        more = f" and {len(progress.group_ids) - 20} more" if len(progress.group_ids) > 20 else ""
        blocks.append(context(f"Group ids: {ids}{more}"))
    if result and result.note:
        blocks.append(context(escape(result.note)))
    buttons = _controls(progress, PROGRESS_BLOCK) if controls else None
    if buttons:
        blocks.append(buttons)
    if progress.offer_results:
        blocks.append(
            section(
                f"Its owner <@{campaign.user_id}> is no longer an admin, so its results file "
                "went to nobody: it holds every number in full, for admins only."
            )
        )
        blocks.append(
            actions(
                RESULTS_BLOCK, button("Send me the results file", OBD_RESULTS, str(campaign.id))
            )
        )
    return message(blocks, f"{noun} #{campaign.id}: {done} of {total} sent")


def interrupted_message(progress: CampaignProgress) -> dict[str, Any]:
    """The owner's DM after a restart found the campaign running."""
    campaign, counts = progress.campaign, progress.counts
    noun = _noun(campaign.kind)
    lines = [
        f":zap: *{noun.capitalize()} #{campaign.id} was interrupted*: the bot stopped while it was sending.",
        f"accepted {counts.of('accepted')} · outcome unknown {counts.of('unknown')} · never sent {counts.never_sent}",
    ]
    if counts.of("unknown"):
        lines.append(
            f"The {counts.of('unknown')} numbers whose outcome is unknown are never sent again: check "
            f"`/obd status #{campaign.id}`, and put them in a new {noun} only if you are sure."
        )
    blocks = [section("\n".join(lines))]
    if counts.never_sent:
        blocks.append(
            section(
                f"*Resume* sends only the {counts.never_sent} {plural(counts.never_sent, 'number')} never sent."
            )
        )
        buttons = _controls(progress, RECOVERY_BLOCK)
        if buttons:
            blocks.append(buttons)
    else:
        blocks.append(section("Every request had gone out, so there is nothing to resume."))
    return message(blocks, f"{noun.capitalize()} #{campaign.id} was interrupted")


def control_message(outcome: ControlOutcome) -> dict[str, Any]:
    job = f"#{outcome.job_id}"
    state = escape(outcome.state)
    if outcome.verb == "pause":
        text = (
            f":double_vertical_bar: Broadcast {job} paused: no further request goes out until it is resumed."
            if outcome.changed
            else f"Broadcast {job} is not running (it is {state}); nothing changed."
        )
    elif outcome.verb == "resume" and outcome.resumes_at:
        text = (
            f":double_vertical_bar: It is outside the calling hours: broadcast {job} resumes by itself "
            f"at {escape(outcome.resumes_at)}."
        )
    elif outcome.verb == "resume":
        text = (
            f":arrow_forward: Broadcast {job} resumed: sending the numbers never sent."
            if outcome.changed
            else f"Broadcast {job} is already sending."
            if outcome.state == "running"
            else f"Broadcast {job} cannot be resumed (it is {state})."
        )
    else:
        text = (
            f":octagonal_sign: Broadcast {job} cancelled: {outcome.not_called} {plural(outcome.not_called, 'number was', 'numbers were')} not called."
            if outcome.changed
            else f"Broadcast {job} is {state}; there was nothing to cancel."
        )
    return message([section(text)], text)


def cancelled_message(job_id: int) -> dict[str, Any]:
    return message([section(f"Job #{job_id} cancelled. Nothing was sent.")], "Cancelled")


def results_message(results: CampaignResults, *, again: bool = True) -> dict[str, Any]:
    campaign = results.campaign
    noun = _noun(campaign.kind).capitalize()
    shown = " · ".join(
        f"{escape(outcome_words(k))} {v}"
        for k, v in sorted(results.outcomes.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    lines = [f":bar_chart: *{noun} #{campaign.id} results* · {_what(campaign.plan)}", shown]
    if not results.status_api:
        lines.append(
            "kaleyra.io has no call status API, so what became of each call cannot be read here: "
            "the CSV lists every number as submitted, refused, unknown or not sent."
        )
    if results.outcomes.get(NO_FINAL):
        lines.append(
            f"Kaleyra gave no final status for {results.outcomes[NO_FINAL]} numbers within "
            f"{escape(results.tracked_for)} of sending, so their outcome is unknown."
        )
    if results.file_withheld:
        lines.append(
            f"<@{campaign.user_id}> is no longer an admin, so the CSV with every number goes to "
            f"admins only: an admin gets it with `/obd status #{campaign.id}`."
        )
    else:
        lines.append("The CSV with every number and its outcome follows.")
    blocks: list[dict[str, Any]] = [section("\n".join(lines))]
    if results.unreached and results.status_api and again and not results.file_withheld:
        blocks.append(
            actions(
                RESULTS_BLOCK,
                button(
                    f"Call the unreached again ({results.unreached})",
                    OBD_AGAIN,
                    str(campaign.id),
                ),
            )
        )
        blocks.append(
            context(
                "Busy, no answer, failed, congestion or unreachable; never DND, blocked or "
                "blacklisted. You confirm before anything is sent."
            )
        )
    return message(blocks, f"{noun} #{campaign.id} results: {shown}")


def status_message(ident: str, rows: list[ObdCall], *, show_numbers: bool = True) -> dict[str, Any]:
    """Kaleyra's calls of a group or one call; numbers in full for admins only."""
    counts = Counter((r.status or "UNKNOWN").upper() for r in rows)
    summary = " · ".join(f"{escape(status_words(k))} {v}" for k, v in counts.most_common())
    lines = [
        f"`{escape(r.id)}` {escape((r.mobile if show_numbers else mask(r.mobile)) or '?')}:"
        f" {escape(_shown(status_words(r.status), show_numbers))}"
        + (f" · {escape(r.senttime)}" if r.senttime else "")
        for r in rows[:20]
    ]
    blocks = [
        header(f"OBD {ident}"),
        section(f"*{len(rows)} {plural(len(rows), 'call')}*: {summary}"),
        section("\n".join(lines) or "No calls."),
    ]
    if len(rows) > 20:
        blocks.append(context(f"{len(rows) - 20} more calls not listed."))
    return message(blocks, f"OBD {ident}: {summary}")


def _shown(text: str, show_numbers: bool) -> str:
    """Kaleyra's own words, with any number in them masked unless the reader is an admin."""
    return text if show_numbers else mask_text(text)


def campaign_status_message(progress: CampaignProgress) -> dict[str, Any]:
    return progress_message(progress, controls=False)


def _when(iso_utc: str) -> str:
    """A moment in the reader's own time zone (Slack renders it)."""
    epoch = int(datetime.fromisoformat(iso_utc).timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{escape(iso_utc[:16])} UTC>"


def list_message(listings: list[CampaignListing]) -> dict[str, Any]:
    if not listings:
        return message(
            [section("No broadcast has been started yet. `/obd help` shows how.")],
            "No broadcasts yet",
        )
    lines = []
    for item in listings:
        c = item.counts
        name = f" `{escape(item.name)}`" if item.name else ""
        counts = (
            f"accepted {c.of('accepted')} · rejected {c.of('refused')} · unknown {c.of('unknown')}"
        )
        if c.never_sent:
            counts += f" · not sent {c.never_sent}"
        if c.of("cancelled"):
            counts += f" · cancelled {c.of('cancelled')}"
        lines.append(
            f"`#{item.id}` {_noun(item.kind)}{name} · *{escape(item.state)}* · {item.total} {plural(item.total, 'number')}: "
            f"{counts} · <@{item.user_id}> · {_when(item.created_at)}"
        )
    return message(
        [
            header("Recent broadcasts"),
            *sections(lines),
            context("`/obd status #<id>` shows one."),
        ],
        f"{len(listings)} recent broadcasts",
    )


def _text_input(
    block_id: str, action_id: str, label: str, *, multiline: bool = False, hint: str | None = None
) -> dict[str, Any]:
    return input_block(
        block_id, label, text_element(action_id, multiline=multiline), optional=True, hint=hint
    )


def obd_modal() -> dict[str, Any]:
    return form(
        OBD_MODAL,
        "Voice broadcast",
        "Review",
        [
            _text_input(
                NUMBERS_BLOCK,
                NUMBERS_INPUT,
                "Numbers",
                multiline=True,
                hint="Paste a column from a sheet, or separate with commas",
            ),
            {
                "type": "input",
                "block_id": FILE_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "…or upload a CSV"},
                "hint": {
                    "type": "plain_text",
                    "text": "A number column; a 'message' column speaks its own text per row; for the dialer, other columns become custom fields",
                },
                "element": {
                    "type": "file_input",
                    "action_id": FILE_INPUT,
                    "filetypes": ["csv", "txt"],
                    "max_files": 1,
                },
            },
            _text_input(
                PLAY_BLOCK,
                PLAY_INPUT,
                "Sound or IVR to play",
                hint="123.sound, ivr:1234 or 1234.ivr",
            ),
            _text_input(SAY_BLOCK, SAY_INPUT, "…or a message to say", multiline=True),
            {
                "type": "input",
                "block_id": AT_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Schedule (your time zone)"},
                "element": {"type": "datetimepicker", "action_id": AT_INPUT},
            },
            _text_input(CAMPAIGN_BLOCK, CAMPAIGN_INPUT, "Campaign"),
            {
                "type": "input",
                "block_id": RETRIES_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Retries"},
                "element": {
                    "type": "static_select",
                    "action_id": RETRIES_INPUT,
                    "options": retry_options(),
                },
            },
            _text_input(
                DIALER_BLOCK, DIALER_INPUT, "Upload to this dialer campaign instead of calling"
            ),
        ],
    )
