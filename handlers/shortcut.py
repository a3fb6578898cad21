"""Message shortcut "Call this number": the numbers a reader can see in the message, checked
like typed ones, always shown before anything is dialled (one: a Call button; more: a form)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.grammar.c2c import numbers_in_message
from bot.models import Click
from bot.phones import InvalidNumber, parse_phone
from bot.services.agents import NotRegistered, Refused
from bot.services.c2c import ClickToCall
from bot.slack.forms import Form
from bot.slack.replies import later, open_modal
from bot.views import c2c as c2c_views
from bot.views import shortcut as views
from bot.views.common import error_message


class ShortcutHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.replies = deps.replies
        self.region = deps.settings.default_region

    @property
    def c2c(self) -> ClickToCall:  # read on each use: a restart in a test replaces it
        return self.deps.c2c

    async def call_this_number(
        self, ack: AsyncAck, shortcut: dict, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        found = numbers_in_message((shortcut.get("message") or {}).get("text") or "", self.region)
        try:
            agent = await self.deps.agents.first_leg(shortcut["user"]["id"])
        except NotRegistered as exc:
            later(self.deps, respond, **self.replies.error(exc))
            return
        if not found.valid:
            later(self.deps, respond, **self.replies.show(views.nothing_to_call_message(found)))
        elif len(found.valid) == 1:  # shown, and dialled only when the user clicks Call
            confirm = views.confirm_message(agent, found.valid[0], found)
            later(self.deps, respond, **self.replies.show(confirm))
        else:  # the form must open within the trigger's 3 seconds, so not in the background
            modal = views.pick_modal(found.valid, found)
            sandbox = self.deps.uses_sandbox
            await open_modal(
                client, shortcut["trigger_id"], modal, respond, "/c2c 9876543210", sandbox=sandbox
            )

    async def confirmed(
        self, ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond
    ) -> None:
        await ack()
        try:
            customer = parse_phone(action.get("value") or "", self.region)  # the same rules again
            outcome = await self.c2c.request_dial(
                body["user"]["id"], customer, click=Click.of(body, action)
            )
        except (InvalidNumber, Refused, NotRegistered) as exc:
            later(self.deps, respond, **self.replies.error(exc))
            return
        if shown := c2c_views.outcome_message(outcome):
            later(self.deps, respond, replace_original=True, **self.replies.show(shown))

    async def cancelled(self, ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        shown = self.replies.show(c2c_views.not_dialled_message())
        later(self.deps, respond, replace_original=True, **shown)

    async def picked(self, ack: AsyncAck, body: dict, view: dict) -> None:
        await ack()
        user_id = body["user"]["id"]
        choice = Form(view).choice(views.PICK_BLOCK, views.PICK_INPUT) or ""
        try:
            outcome = await self.c2c.request_dial(user_id, parse_phone(choice, self.region))
            payload = c2c_views.outcome_message(outcome)
        except (InvalidNumber, Refused, NotRegistered) as exc:
            payload = error_message(str(exc))
        if payload:  # a form has no reply in place: the DM it is
            self.deps.background.spawn(self.deps.notify.dm(user_id, payload), name="shortcut-dm")


def register(app: AsyncApp, deps: Deps) -> None:
    h = ShortcutHandlers(deps)
    app.shortcut(views.CALL_SHORTCUT)(h.call_this_number)
    app.action(views.CALL_CONFIRM)(h.confirmed)
    app.action(views.CALL_CANCEL)(h.cancelled)
    app.view(views.PICK_MODAL)(h.picked)
