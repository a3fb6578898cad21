"""/obd: broadcasts and dialer uploads (admins), each confirmed before anything is sent; their
progress messages' Pause / Resume / Cancel, the restart DM, and "Call the unreached again"."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.grammar import Help, OpenModal, UsageError
from bot.grammar.obd import (
    DialerUpload,
    ObdForm,
    ObdList,
    ObdStart,
    ObdStatus,
    form_problems,
    parse_obd,
)
from bot.kaleyra import KaleyraError
from bot.services.agents import Refused
from bot.slack.forms import Form, field_errors
from bot.slack.replies import open_modal, reply
from bot.views import obd as views
from bot.views.common import describe_kaleyra_error, error_message

INLINE_PLAN_CHARS = 2000  # about 150 numbers: checked within the ack; longer lists after it


def _job_id(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 10 else None


class ObdHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.obd = deps.obd
        self.replies = deps.replies

    def _spawn(self, work, name: str) -> None:
        self.deps.background.spawn(work, name=name)

    # ------------------------------------------------------------------ the command

    async def command(
        self, ack: AsyncAck, command: dict, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        user_id, text = command["user_id"], command.get("text", "")
        try:
            parsed = parse_obd(text)
            if isinstance(parsed, Help | ObdList | ObdStatus):
                await self._lookup(ack, respond, parsed, user_id)
                return
            await self.obd.require_admin(user_id)  # refused in the ack, audited
            if isinstance(parsed, OpenModal):
                await ack()
                example = "/obd 9876543210 play 123.sound"
                await open_modal(client, command["trigger_id"], views.obd_modal(), respond, example)
            elif len(text) <= INLINE_PLAN_CHARS:
                await ack(**await self._confirmation(user_id, parsed))
            else:  # a long list takes a while to check: ack now, confirm by response_url
                await ack(**self.replies.info(":hourglass_flowing_sand: Checking the numbers…"))
                self._spawn(self._confirm_later(respond, user_id, parsed), "obd-plan")
        except (UsageError, Refused) as exc:
            await ack(**self.replies.error(exc))

    async def _lookup(
        self, ack: AsyncAck, respond: AsyncRespond, parsed: Help | ObdList | ObdStatus, user_id: str
    ) -> None:
        """What anyone may read: help, the recent campaigns, a status."""
        if isinstance(parsed, Help):
            await ack(**self.replies.show(views.help_message()))
        elif isinstance(parsed, ObdList):
            await ack(**self.replies.show(views.list_message(await self.obd.recent())))
        else:
            await ack()
            self._spawn(self._status(respond, parsed, user_id), "obd-status")

    async def _confirmation(self, user_id: str, parsed: ObdStart | DialerUpload) -> dict:
        return self.replies.show(views.confirm_message(await self.obd.propose(user_id, parsed)))

    async def _confirm_later(
        self, respond: AsyncRespond, user_id: str, parsed: ObdStart | DialerUpload
    ) -> None:
        try:
            confirmation = await self._confirmation(user_id, parsed)
        except (UsageError, Refused) as exc:
            confirmation = self.replies.error(exc)
        await reply(respond, **confirmation)

    async def _status(self, respond: AsyncRespond, status: ObdStatus, user_id: str) -> None:
        try:
            found = await self.obd.status(status, user_id)
        except UsageError as exc:
            await reply(respond, **self.replies.error(exc))
            return
        if isinstance(found, tuple):
            admin = await self.deps.agents.is_admin(user_id)  # others see masked numbers
            shown = views.status_message(*found, show_numbers=admin)
            await reply(respond, **self.replies.show(shown))
        else:
            await reply(respond, **self.replies.show(views.campaign_status_message(found)))

    # ------------------------------------------------------------------ the confirmation

    async def confirm(self, ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond) -> None:
        await ack()
        job_id = _job_id(str(action.get("value", "")))
        anyway = action.get("action_id") == views.OBD_CONFIRM_ANYWAY
        if job_id is not None:
            work = self._start(respond, body["user"]["id"], job_id, anyway)
            self._spawn(work, f"obd-start-{job_id}")

    async def _start(self, respond: AsyncRespond, user_id: str, job_id: int, anyway: bool) -> None:
        # Double clicks and Slack retries find the job already claimed: nothing is sent twice.
        try:
            started = await self.obd.start(job_id, user_id, anyway=anyway)
        except (UsageError, Refused) as exc:
            await reply(respond, **self.replies.error(exc))
            return
        if started is not None:
            message = self.replies.show(views.start_message(started))
            await reply(respond, replace_original=True, **message)

    async def cancel(self, ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond) -> None:
        await ack()
        job_id = _job_id(str(action.get("value", "")))
        if job_id is not None and await self.obd.discard(job_id, body["user"]["id"]):
            message = self.replies.show(views.cancelled_message(job_id))
            self._spawn(reply(respond, replace_original=True, **message), "reply")

    # ------------------------------------------------------------------ a running campaign

    async def control(self, ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond) -> None:
        """Pause, Resume, Cancel: on the progress message or the restart DM."""
        await ack()
        job_id = _job_id(str(action.get("value", "")))
        verb = views.CONTROL_VERBS.get(action.get("action_id", ""))
        if job_id is None or verb is None:
            return
        replace = action.get("block_id") == views.RECOVERY_BLOCK  # the DM's buttons go
        self._spawn(self._control(respond, body["user"]["id"], job_id, verb, replace), "obd-ctl")

    async def _control(
        self, respond: AsyncRespond, user_id: str, job_id: int, verb, replace: bool
    ) -> None:
        try:
            outcome = await self.obd.control(job_id, user_id, verb)
        except (UsageError, Refused) as exc:
            await reply(respond, **self.replies.error(exc))
            return
        message = self.replies.show(views.control_message(outcome))
        await reply(respond, replace_original=replace, **message)

    async def again(self, ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond) -> None:
        """Call the unreached again: a new campaign, shown for confirmation like any other."""
        await ack()
        job_id = _job_id(str(action.get("value", "")))
        if job_id is not None:
            self._spawn(self._again(respond, body["user"]["id"], job_id), "obd-again")

    async def _again(self, respond: AsyncRespond, user_id: str, job_id: int) -> None:
        try:
            campaign = await self.obd.again(job_id, user_id)
        except (UsageError, Refused) as exc:
            await reply(respond, **self.replies.error(exc))
            return
        await reply(respond, **self.replies.show(views.confirm_message(campaign)))

    async def results(self, ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond) -> None:
        """An admin's "Send me the results file" on `/obd status #id`."""
        await ack()
        job_id = _job_id(str(action.get("value", "")))
        if job_id is not None:
            self._spawn(self._results(respond, body["user"]["id"], job_id), "obd-results")

    async def _results(self, respond: AsyncRespond, user_id: str, job_id: int) -> None:
        try:
            await self.obd.send_results(job_id, user_id)
        except (UsageError, Refused, KaleyraError) as exc:
            problem = describe_kaleyra_error(exc) if isinstance(exc, KaleyraError) else exc
            await reply(respond, **self.replies.error(problem))
            return
        await reply(
            respond, **self.replies.info(f"The results file of broadcast #{job_id} is in our DM.")
        )

    # ------------------------------------------------------------------ the form

    async def submit(self, ack: AsyncAck, body: dict, view: dict, client: AsyncWebClient) -> None:
        user_id, request = body["user"]["id"], self._read_form(Form(view))
        try:
            await self.obd.require_admin(user_id)
            problems = form_problems(request)
        except Refused as exc:
            problems = {"numbers": str(exc)}
        if problems:
            await ack(**field_errors({views.FIELD_BLOCKS[k]: v for k, v in problems.items()}))
            return
        await ack()
        self._spawn(self._review(user_id, request), "obd-form")

    def _read_form(self, form: Form) -> ObdForm:
        moment = form.moment(views.AT_BLOCK, views.AT_INPUT, self.deps.settings.tz)
        retries = form.choice(views.RETRIES_BLOCK, views.RETRIES_INPUT)
        return ObdForm(
            numbers_text=form.text(views.NUMBERS_BLOCK, views.NUMBERS_INPUT),
            files=tuple(form.files(views.FILE_BLOCK, views.FILE_INPUT)[:1]),
            play=form.text(views.PLAY_BLOCK, views.PLAY_INPUT).lower() or None,
            say=form.text(views.SAY_BLOCK, views.SAY_INPUT) or None,
            at=moment.replace(tzinfo=None) if moment else None,
            campaign=form.text(views.CAMPAIGN_BLOCK, views.CAMPAIGN_INPUT) or None,
            retries=int(retries) if retries and retries.isdigit() else None,
            dialer=form.text(views.DIALER_BLOCK, views.DIALER_INPUT) or None,
        )

    async def _review(self, user_id: str, request: ObdForm) -> None:
        """Plan the job off the ack path and post the confirmation in the DM."""
        try:
            campaign = await self.obd.propose_form(user_id, request)
        except (ValueError, Refused) as exc:  # UsageError and CsvError are ValueErrors
            await self.deps.notify.post(user_id, error_message(f"{exc} Nothing was sent."))
            return
        await self.deps.notify.post(user_id, views.confirm_message(campaign))


def register(app: AsyncApp, deps: Deps) -> None:
    h = ObdHandlers(deps)
    app.command("/obd")(h.command)
    app.action(views.OBD_CONFIRM)(h.confirm)
    app.action(views.OBD_CONFIRM_ANYWAY)(h.confirm)
    app.action(views.OBD_CANCEL)(h.cancel)
    for action_id in views.CONTROL_VERBS:
        app.action(action_id)(h.control)
    app.action(views.OBD_AGAIN)(h.again)
    app.action(views.OBD_RESULTS)(h.results)
    app.view(views.OBD_MODAL)(h.submit)
