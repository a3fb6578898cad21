"""Views for /obd: confirmation, the live progress message, status, help."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bot.kaleyra.models import ObdCall
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

OBD_CONFIRM, OBD_CANCEL, OBD_BLOCK = "obd_confirm", "obd_cancel", "obd_confirm_block"
OBD_MODAL = "obd_modal"
NUMBERS_BLOCK, NUMBERS_INPUT = "obd_numbers", "numbers"
PLAY_BLOCK, PLAY_INPUT = "obd_play", "play"
SAY_BLOCK, SAY_INPUT = "obd_say", "say"
AT_BLOCK, AT_INPUT = "obd_at", "at"
CAMPAIGN_BLOCK, CAMPAIGN_INPUT = "obd_campaign", "campaign"
RETRIES_BLOCK, RETRIES_INPUT = "obd_retries", "retries"
FILE_BLOCK, FILE_INPUT = "obd_file", "csv"
DIALER_BLOCK, DIALER_INPUT = "obd_dialer", "dialer_campaign"

HELP = """*Outbound voice broadcasts* (admins). Every job shows what it will do and waits for your click.
• `/obd 9876543210, 9123456789 play 123.sound` play a sound (or `ivr:1234`, `1234.ivr`)
• `/obd 9876543210 say "Your order has shipped"` speak a message
• … then optionally `at 2026-11-24 10:00` `campaign diwali` `retries 2`
• `/obd group 4477 play 123.sound` call a contact group
• `/obd status 217691534` a group, `/obd status 217691534-1` one call (anyone)
• `/obd dialer <campaign> <numbers>` upload to the progressive dialer
• `/obd` a form"""

BAR = 10


def help_message(*, sandbox: bool = False) -> dict[str, Any]:
    return message([section(HELP)], "Broadcast help", sandbox=sandbox)


def bar(done: int, total: int) -> str:
    filled = 0 if total == 0 else round(BAR * done / total)
    return "█" * filled + "░" * (BAR - filled)


def _what(payload: dict[str, Any]) -> str:
    what = (
        f"play `{escape(payload['play'])}`"
        if payload.get("play")
        else f"say “{escape(payload.get('say') or '')}”"
    )
    if payload.get("campaign"):
        what += f" · campaign `{escape(payload['campaign'])}`"
    if payload.get("at"):
        what += f" · at {escape(payload['at_text'])}"
    if payload.get("retries") is not None:
        what += f" · retries {payload['retries']}"
    return what


def _skipped_lines(payload: dict[str, Any]) -> list[str]:
    lines = []
    for label, key in (
        ("invalid", "invalid"),
        ("repeated", "duplicates"),
        ("blacklisted", "blacklisted"),
    ):
        entries = payload.get(key) or []
        if entries:
            shown = "; ".join(escape(e) for e in entries[:8])
            more = f"; and {len(entries) - 8} more" if len(entries) > 8 else ""
            lines.append(f"• {len(entries)} {label}: {shown}{more}")
    return lines


def confirm_message(
    job_id: int, payload: dict[str, Any], *, sandbox: bool = False
) -> dict[str, Any]:
    kind = "progressive dialer upload" if payload.get("kind") == "dialer" else "broadcast"
    target = (
        f"contact group `{escape(payload['group'])}`"
        if payload.get("group")
        else f"*{len(payload['numbers'])}* numbers"
    )
    lines = [f":loudspeaker: *Confirm {kind} #{job_id}*: call {target}"]
    if payload.get("kind") == "dialer":
        lines = [
            f":loudspeaker: *Confirm dialer upload #{job_id}*: add *{len(payload['numbers'])}* numbers to campaign `{escape(payload['campaign'])}`"
        ]
    else:
        lines.append(_what(payload))
    skipped = _skipped_lines(payload)
    if skipped:
        lines.append(
            f"Skipped {sum(len(payload.get(k) or []) for k in ('invalid', 'duplicates', 'blacklisted'))}:"
        )
        lines.extend(skipped)
    requests = payload["requests"]
    lines.append(
        f"Cost: {requests} Kaleyra request{'s' if requests != 1 else ''} via {payload['api_name']}."
    )
    return message(
        [
            section("\n".join(lines)),
            actions(
                OBD_BLOCK,
                button(
                    "Start" if kind == "broadcast" else "Upload",
                    OBD_CONFIRM,
                    str(job_id),
                    style="primary",
                ),
                button("Cancel", OBD_CANCEL, str(job_id)),
            ),
            context("Nothing has been sent. Only you can start this job."),
        ],
        f"Confirm {kind} #{job_id}",
        sandbox=sandbox,
    )


def progress_message(
    job_id: int, payload: dict[str, Any], result: dict[str, Any], *, sandbox: bool = False
) -> dict[str, Any]:
    total = result["total"]
    done = result["accepted"] + result["rejected"] + result["unknown"]
    finished = result.get("finished", False)
    icon = (
        ":white_check_mark:"
        if finished and not (result["rejected"] or result["unknown"])
        else ":loudspeaker:"
    )
    if finished and (result["rejected"] or result["unknown"]):
        icon = ":warning:"
    noun = "dialer upload" if payload.get("kind") == "dialer" else "broadcast"
    lines = [
        f"{icon} *{noun.capitalize()} #{job_id}*"
        + ("" if payload.get("kind") == "dialer" else f" · {_what(payload)}"),
        f"`{bar(done, total)}` {done} of {total} numbers sent ({result['chunks_done']} of {result['chunks']} requests)",
        f"accepted {result['accepted']} · rejected {result['rejected']} · outcome unknown {result['unknown']}",
    ]
    blocks: list[dict[str, Any]] = [section("\n".join(lines))]
    if result.get("errors"):
        blocks.append(section("\n".join(f":x: {escape(e)}" for e in result["errors"][:5])))
    if result["unknown"]:
        blocks.append(
            section(
                f"Kaleyra did not confirm {result['unknown']} numbers; they were *not* re-sent. Check with `/obd status` before trying again."
            )
        )
    if result.get("statuses"):
        counts = " · ".join(
            f"{status_words(k)} {v}"
            for k, v in sorted(result["statuses"].items(), key=lambda kv: -kv[1])
        )
        blocks.append(section(f"*Call statuses*: {counts}"))
    if result.get("group_ids"):
        blocks.append(
            context("Group ids: " + ", ".join(f"`{g}`" for g in result["group_ids"][:20]))
        )
    if result.get("note"):
        blocks.append(context(escape(result["note"])))
    return message(
        blocks, f"{noun.capitalize()} #{job_id}: {done} of {total} sent", sandbox=sandbox
    )


def cancelled_message(job_id: int, *, sandbox: bool = False) -> dict[str, Any]:
    return message(
        [section(f"Job #{job_id} cancelled. Nothing was sent.")], "Cancelled", sandbox=sandbox
    )


def status_message(ident: str, rows: list[ObdCall], *, sandbox: bool = False) -> dict[str, Any]:
    counts = Counter((r.status or "UNKNOWN").upper() for r in rows)
    summary = " · ".join(f"{status_words(k)} {v}" for k, v in counts.most_common())
    lines = [
        f"`{escape(r.id)}` {escape(r.mobile or '?')}: {status_words(r.status)}"
        + (f" · {escape(r.senttime)}" if r.senttime else "")
        for r in rows[:20]
    ]
    blocks = [
        header(f"OBD {ident}"),
        section(f"*{len(rows)} calls*: {summary}"),
        section("\n".join(lines) or "No calls."),
    ]
    if len(rows) > 20:
        blocks.append(context(f"{len(rows) - 20} more calls not listed."))
    return message(blocks, f"OBD {ident}: {summary}", sandbox=sandbox)


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
