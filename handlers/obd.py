"""/obd: broadcasts and dialer uploads (admins), each confirmed before anything is sent."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.grammar import Help, OpenModal, UsageError
from bot.grammar.csvnumbers import MAX_BYTES, CsvError, parse_csv
from bot.grammar.obd import DialerUpload, ObdStart, ObdStatus, parse_obd
from bot.kaleyra import KaleyraError
from bot.slack.files import download
from bot.slack.replies import Responder, dm_responder, later, open_modal
from bot.views import obd as views
from bot.views.common import describe_kaleyra_error, error_message, info_message

INLINE_PLAN_CHARS = 2000  # about 150 numbers: checked within the ack; longer lists after it
ADMINS_ONLY = (
    "Only admins can start broadcasts or dialer uploads. `/obd status <id>` is open to everyone."
)


class ObdHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.sandbox = deps.uses_sandbox

    def _refuse(self, user_id: str) -> dict:
        self.deps.store.audit(user_id=user_id, action="obd.refused", outcome="not admin")
        return error_message(ADMINS_ONLY, sandbox=self.sandbox)

    async def command(
        self, ack: AsyncAck, command: dict, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        user_id = command["user_id"]
        try:
            parsed = parse_obd(command.get("text", ""))
            if isinstance(parsed, ObdStatus | Help):
                await ack(**views.help_message(sandbox=self.sandbox)) if isinstance(
                    parsed, Help
                ) else await ack()
                if isinstance(parsed, ObdStatus):
                    self.deps.background.spawn(self._status(respond, parsed), name="obd-status")
                return
            if not self.deps.is_admin(user_id):
                await ack(**self._refuse(user_id))
                return
            if isinstance(parsed, OpenModal):
                await ack()
                await open_modal(
                    client,
                    command["trigger_id"],
                    views.obd_modal(),
                    respond,
                    "/obd 9876543210 play 123.sound",
                    sandbox=self.sandbox,
                )
                return
            if len(command.get("text", "")) <= INLINE_PLAN_CHARS:
                await ack(**self._confirm(user_id, parsed))
                return
            # A long list takes a while to check: ack now, confirm by response_url from a thread.
            await ack(
                **info_message(
                    ":hourglass_flowing_sand: Checking the numbers…", sandbox=self.sandbox
                )
            )
            self.deps.background.spawn(
                self._confirm_later(respond, user_id, parsed), name="obd-plan"
            )
        except UsageError as exc:
            await ack(**error_message(str(exc), sandbox=self.sandbox))

    def _confirm(self, user_id: str, parsed: ObdStart | DialerUpload) -> dict:
        broadcasts = self.deps.obd
        payload = (
            broadcasts.plan_dialer(parsed)
            if isinstance(parsed, DialerUpload)
            else broadcasts.plan(parsed)
        )
        job_id = self.deps.store.create_job(payload["kind"], user_id, payload)
        return views.confirm_message(job_id, payload, sandbox=self.sandbox)

    async def _confirm_later(
        self, respond: AsyncRespond, user_id: str, parsed: ObdStart | DialerUpload
    ) -> None:
        try:
            confirmation = await asyncio.to_thread(self._confirm, user_id, parsed)
        except UsageError as exc:
            confirmation = error_message(str(exc), sandbox=self.sandbox)
        await respond(**confirmation)

    async def _status(self, respond: AsyncRespond, status: ObdStatus) -> None:
        kaleyra = self.deps.kaleyra
        try:
            rows = await (
                kaleyra.obd_group_status(status.ident)
                if status.is_group
                else kaleyra.obd_status(status.ident)
            )
        except KaleyraError as exc:
            await respond(**error_message(describe_kaleyra_error(exc), sandbox=self.sandbox))
            return
        await respond(**views.status_message(status.ident, rows, sandbox=self.sandbox))

    async def confirm(self, ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond) -> None:
        await ack()
        user_id, job_id = body["user"]["id"], int(action["value"])
        if not self.deps.is_admin(user_id):
            later(self.deps, respond, **self._refuse(user_id))
            return
        # Double clicks and Slack retries find the job already claimed: nothing is sent twice.
        if not self.deps.store.claim_job(job_id, user_id):
            return
        self.deps.background.spawn(self.deps.obd.start(job_id, user_id), name=f"obd-{job_id}")
        text = f":rocket: Job #{job_id} started. Progress is in our DM."
        later(self.deps, respond, replace_original=True, **info_message(text, sandbox=self.sandbox))

    async def cancel(self, ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond) -> None:
        await ack()
        job_id = int(action["value"])
        if self.deps.store.claim_job(job_id, body["user"]["id"]):
            self.deps.store.update_job(job_id, state="cancelled")
            later(
                self.deps,
                respond,
                replace_original=True,
                **views.cancelled_message(job_id, sandbox=self.sandbox),
            )

    async def submit(self, ack: AsyncAck, body: dict, view: dict, client: AsyncWebClient) -> None:
        user_id, values = body["user"]["id"], view["state"]["values"]

        def value(block: str, action: str) -> str:
            return (values.get(block, {}).get(action, {}).get("value") or "").strip()

        picked = values.get(views.AT_BLOCK, {}).get(views.AT_INPUT, {}).get("selected_date_time")
        at = (
            datetime.fromtimestamp(int(picked), self.deps.settings.tz).replace(tzinfo=None)
            if picked
            else None
        )
        retries = (
            values.get(views.RETRIES_BLOCK, {}).get(views.RETRIES_INPUT, {}).get("selected_option")
            or {}
        ).get("value")
        play, say = (
            value(views.PLAY_BLOCK, views.PLAY_INPUT).lower() or None,
            value(views.SAY_BLOCK, views.SAY_INPUT) or None,
        )
        files = values.get(views.FILE_BLOCK, {}).get(views.FILE_INPUT, {}).get("files") or []
        dialer = value(views.DIALER_BLOCK, views.DIALER_INPUT) or None
        typed = value(views.NUMBERS_BLOCK, views.NUMBERS_INPUT)
        errors = {}
        if not self.deps.is_admin(user_id):
            errors[views.NUMBERS_BLOCK] = ADMINS_ONLY[:150]
        elif not typed and not files:
            errors[views.NUMBERS_BLOCK] = "Paste the numbers, or upload a CSV below."
        elif play and say:
            errors[views.PLAY_BLOCK] = "Give a sound or IVR to play, or a message to say, not both."
        elif not (play or say or dialer or files):
            errors[views.PLAY_BLOCK] = "Give a sound or IVR to play, or a message to say."
        elif dialer and not re.fullmatch(r"[\w.-]{1,64}", dialer):
            errors[views.DIALER_BLOCK] = "Letters, digits, _ . and - only."
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        start = ObdStart(
            numbers_text=typed,
            play=play,
            say=say,
            at=at,
            campaign=value(views.CAMPAIGN_BLOCK, views.CAMPAIGN_INPUT) or None,
            retries=int(retries) if retries else None,
        )
        await ack()
        respond = dm_responder(client, user_id)
        self.deps.background.spawn(
            self._review(respond, client, user_id, start, files[:1], dialer), name="obd-form"
        )

    async def _review(
        self,
        respond: Responder,
        client: AsyncWebClient,
        user_id: str,
        start: ObdStart,
        files: list[dict],
        dialer: str | None,
    ) -> None:
        """Plan the job off the ack path (a 100 000-row file takes seconds) and post the confirmation."""
        region = self.deps.settings.default_region
        broadcasts = self.deps.obd
        try:
            if files:
                data = await download(client, files[0], MAX_BYTES)
                result = await asyncio.to_thread(parse_csv, data, region)
                if start.numbers_text:
                    typed = await asyncio.to_thread(
                        parse_csv, start.numbers_text.replace(",", "\n").encode(), region
                    )
                    result.rows += [
                        r
                        for r in typed.rows
                        if r.phone.e164 not in {x.phone.e164 for x in result.rows}
                    ]
                    result.errors += typed.errors
                payload = await asyncio.to_thread(broadcasts.plan_rows, result, start, dialer)
            elif dialer:
                payload = broadcasts.plan_dialer(DialerUpload(dialer, start.numbers_text))
            else:
                payload = await asyncio.to_thread(broadcasts.plan, start)
        except (UsageError, CsvError, ValueError) as exc:
            await respond(**error_message(f"{exc} Nothing was sent.", sandbox=self.sandbox))
            return
        except Exception as exc:  # a download that failed: say so, without a stack trace
            await respond(
                **error_message(
                    f"I could not read the uploaded file ({type(exc).__name__}). Nothing was sent.",
                    sandbox=self.sandbox,
                )
            )
            return
        job_id = self.deps.store.create_job(payload["kind"], user_id, payload)
        await respond(**views.confirm_message(job_id, payload, sandbox=self.sandbox))


def register(app: AsyncApp, deps: Deps) -> None:
    h = ObdHandlers(deps)
    app.command("/obd")(h.command)
    app.action(views.OBD_CONFIRM)(h.confirm)
    app.action(views.OBD_CANCEL)(h.cancel)
    app.view(views.OBD_MODAL)(h.submit)
