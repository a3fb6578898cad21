"""/c2c: click-to-call, its modal, the repeat-call confirmation, follow-up *Call now*, and agent
registration with its verification. Every dial goes through `ClickToCall.request_dial`."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.grammar import Help, OpenModal, UsageError
from bot.grammar.c2c import (
    AdminChange,
    CallLog,
    CallStatus,
    Dial,
    Feed,
    History,
    Register,
    Unregister,
    Verify,
    WhoAmI,
    parse_c2c,
)
from bot.kaleyra import KaleyraError
from bot.models import Click, DialOutcome, Redial
from bot.phones import InvalidNumber, Phone, parse_phone
from bot.services.agents import NotRegistered, Refused
from bot.services.c2c import ClickToCall
from bot.slack.forms import Form, field_errors
from bot.slack.replies import Responder, later, open_modal
from bot.views import c2c as views
from bot.views import callfeed as callfeed_views
from bot.views.common import describe_kaleyra_error, error_message
from bot.views.followup import FOLLOWUP_CALL

Refusal = (UsageError, Refused, NotRegistered)
GONE = "That follow-up no longer exists."


class C2CHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.agents = deps.agents
        self.replies = deps.replies
        self.region = deps.settings.default_region

    @property
    def c2c(self) -> ClickToCall:  # read on each use: a restart in a test replaces it
        return self.deps.c2c

    async def command(
        self, ack: AsyncAck, command: dict, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        user_id = command["user_id"]
        try:
            parsed = parse_c2c(command.get("text", ""), self.region)
            answer = await self._answer(user_id, parsed)
        except Refusal as exc:
            await ack(**self.replies.error(exc))
            return
        await ack(**answer)
        match parsed:
            case OpenModal():
                await self._open_modal(client, command["trigger_id"], user_id, respond)
            case CallStatus(call_id):
                self._spawn(self._status(respond, call_id), "c2c-status")
            case CallLog():
                self._spawn(self._log(respond, user_id, parsed), "c2c-log")

    async def _answer(self, user_id: str, parsed: Any) -> dict[str, Any]:
        """The ack of a command answered at once (empty for work that follows the ack)."""
        sandbox = self.deps.uses_sandbox
        match parsed:
            case Dial():
                outcome = await self.c2c.request_dial(user_id, parsed.customer, agent=parsed.agent)
                return self._shown(outcome) or {}
            case Register():
                done = await self.c2c.register(user_id, parsed.number, parsed.user_id)
                return self.replies.show(views.registration_message(done, show_code=sandbox))
            case Verify():
                return self.replies.show(
                    views.verified_message(await self.c2c.verify(user_id, parsed.code))
                )
            case Unregister():
                removed = await self.c2c.unregister(user_id, parsed.user_id)
                return self.replies.show(
                    views.unregistered_message(parsed.user_id or user_id, removed)
                )
            case AdminChange() | Feed():
                return await self._admin(user_id, parsed)
            case History(before_id):
                return self.replies.show(
                    views.history_message(await self.deps.home.history(user_id, before_id))
                )
            case WhoAmI():
                return self.replies.show(views.whoami_message(await self.agents.status(user_id)))
            case Help():
                return self.replies.show(views.help_message())
        return {}

    async def _admin(self, user_id: str, parsed: AdminChange | Feed) -> dict[str, Any]:
        if isinstance(parsed, Feed):
            chosen = await self.deps.callfeed.set_channel(user_id, parsed.channel_id)
            return self.replies.show(callfeed_views.feed_channel_message(chosen))
        return self.replies.show(views.admins_message(await self._admins(user_id, parsed)))

    async def _admins(self, user_id: str, change: AdminChange) -> Any:
        if change.action == "list":
            return await self.agents.roster(user_id)
        if change.action == "grant":
            return await self.agents.grant(user_id, change.user_id or "")
        return await self.agents.revoke(user_id, change.user_id or "")

    def _shown(self, outcome: DialOutcome) -> dict[str, Any] | None:
        payload = views.outcome_message(outcome)
        return self.replies.show(payload) if payload else None

    def _spawn(self, work: Any, name: str) -> None:
        self.deps.background.spawn(work, name=name)

    async def _open_modal(
        self, client: AsyncWebClient, trigger_id: str, user_id: str, respond: AsyncRespond
    ) -> None:
        agent = await self.agents.agent(user_id)
        view = views.dial_modal(
            agent.number if agent else None, can_change_agent=await self.agents.is_admin(user_id)
        )
        example = "/c2c 9876543210"
        await open_modal(client, trigger_id, view, respond, example, sandbox=self.deps.uses_sandbox)

    async def _status(self, respond: Responder, call_id: str) -> None:
        try:
            call = await self.c2c.lookup(call_id)
        except KaleyraError as exc:
            await respond(**self.replies.error(describe_kaleyra_error(exc)))
            return
        if call is None:
            problem = f"No call {call_id} in the last 3 days. Check the id with `/c2c log`."
            await respond(**self.replies.error(problem))
            return
        await respond(**self.replies.show(views.status_message(call, self.deps.settings.tz)))

    async def _log(self, respond: Responder, user_id: str, log: CallLog) -> None:
        try:
            page = await self.c2c.call_log(user_id, log.kind, log.from_date, log.to_date)
        except KaleyraError as exc:
            await respond(**self.replies.error(describe_kaleyra_error(exc)))
            return
        await respond(**self.replies.show(views.log_page_message(page, self.deps.settings.tz)))

    # ------------------------------------------------------------------ modal and buttons

    async def submit(self, ack: AsyncAck, body: dict, view: dict) -> None:
        user_id, form = body["user"]["id"], Form(view)
        numbers, errors = self._modal_numbers(form)
        if errors:
            await ack(**field_errors(errors))
            return
        retry = form.choice(views.RETRY_BLOCK, views.RETRY_INPUT)
        try:
            outcome = await self.c2c.request_dial(
                user_id,
                numbers["customer"],
                agent=numbers["agent"],
                retry=int(retry) if retry and retry.isdigit() else None,
                delay=form.number(views.DELAY_BLOCK, views.DELAY_INPUT),
            )
        except (Refused, NotRegistered) as exc:
            await ack(**field_errors({views.AGENT_BLOCK: str(exc)}))
            return
        await ack()
        if payload := views.dm_after(outcome):
            self._spawn(self.deps.notify.dm(user_id, payload), "c2c-ask-first")

    def _modal_numbers(self, form: Form) -> tuple[dict[str, Phone], dict[str, str]]:
        numbers: dict[str, Phone] = {}
        errors: dict[str, str] = {}
        for block, action, label in (
            (views.AGENT_BLOCK, views.AGENT_INPUT, "agent"),
            (views.CUSTOMER_BLOCK, views.CUSTOMER_INPUT, "customer"),
        ):
            try:
                numbers[label] = parse_phone(form.text(block, action), self.region)
            except InvalidNumber as exc:
                errors[block] = f"The {label} number {exc}."
        return numbers, errors

    async def redial(self, ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond) -> None:
        await ack()
        redial = Redial.decode(action.get("value") or "")
        if redial is None:
            return
        try:
            outcome = await self.c2c.request_dial(
                body["user"]["id"],
                Phone.known(redial.customer),
                agent=Phone.known(redial.agent),
                retry=redial.retry,
                delay=redial.delay,
                click=Click.of(body, action),
                redial=redial,
            )
        except (Refused, NotRegistered) as exc:
            later(self.deps, respond, **self.replies.error(exc))
            return
        if shown := self._shown(outcome):
            later(self.deps, respond, replace_original=True, **shown)

    async def cancel_redial(self, ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        later(
            self.deps,
            respond,
            replace_original=True,
            **self.replies.show(views.not_dialled_message()),
        )

    async def refresh(self, ack: AsyncAck, body: dict, action: dict) -> None:
        await ack()
        await self.c2c.refresh(body["user"]["id"], action.get("value") or "")

    async def call_now(self, ack: AsyncAck, body: dict, action: dict) -> None:
        """Follow-up *Call now* (reminder DM, `/followup list`, App Home)."""
        await ack()
        self._spawn(self._call_now(Click.of(body, action)), "followup-call")

    async def _call_now(self, click: Click) -> None:
        try:
            outcome = await self.c2c.call_followup(click)
            payload = views.dm_after(outcome) if outcome else error_message(GONE)
        except (Refused, NotRegistered) as exc:
            payload = error_message(str(exc))
        except KaleyraError as exc:
            payload = error_message(describe_kaleyra_error(exc))
        if payload:
            await self.deps.notify.dm(click.user_id, payload)

    async def older(self, ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond) -> None:
        """The history's Older button: the next page, in place of this one."""
        await ack()
        before = int(action["value"]) if str(action.get("value", "")).isdigit() else None
        page = await self.deps.home.history(body["user"]["id"], before)
        later(
            self.deps,
            respond,
            replace_original=True,
            **self.replies.show(views.history_message(page)),
        )


def register(app: AsyncApp, deps: Deps) -> None:
    h = C2CHandlers(deps)
    app.command("/c2c")(h.command)
    app.view(views.C2C_MODAL)(h.submit)
    app.action(views.REDIAL_CONFIRM)(h.redial)
    app.action(views.BLACKLIST_OVERRIDE)(h.redial)
    app.action(views.REDIAL_CANCEL)(h.cancel_redial)
    app.action(views.CALL_STATUS_REFRESH)(h.refresh)
    app.action(views.HISTORY_OLDER)(h.older)
    app.action(FOLLOWUP_CALL)(h.call_now)
