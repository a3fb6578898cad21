"""/blacklist: add (anyone), remove (admins), list, and a form with a reason."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.grammar import Help, OpenModal, UsageError, strict_numbers
from bot.grammar.blacklist import BlacklistAdd, BlacklistList, BlacklistRemove, parse_blacklist
from bot.kaleyra import KaleyraError
from bot.phones import Phone
from bot.services.agents import Refused
from bot.slack.forms import Form, field_errors
from bot.slack.replies import Responder, dm_responder, open_modal
from bot.views import blacklist as views
from bot.views.common import describe_kaleyra_error


class BlacklistHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.replies = deps.replies
        self.service = deps.blacklist

    async def command(
        self, ack: AsyncAck, command: dict, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        user_id = command["user_id"]
        try:
            parsed = parse_blacklist(command.get("text", ""), self.deps.settings.default_region)
            match parsed:
                case Help():
                    await ack(**self.replies.show(views.help_message()))
                case OpenModal():
                    await ack()
                    example = "/blacklist add 9876543210"
                    await open_modal(client, command["trigger_id"], views.modal(), respond, example)
                case BlacklistList():
                    await ack(
                        **self.replies.show(views.list_message(await self.service.page(user_id)))
                    )
                case BlacklistAdd() | BlacklistRemove():
                    if isinstance(parsed, BlacklistRemove):
                        await self.service.check_remove(user_id)  # refused in the ack, audited
                    await ack()
                    self._spawn(self.apply(respond, user_id, parsed), "blacklist")
        except (UsageError, Refused) as exc:
            await ack(**self.replies.error(exc))

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self.deps.background.spawn(work, name=name)

    async def apply(
        self, respond: Responder, user_id: str, change: BlacklistAdd | BlacklistRemove
    ) -> None:
        phones = list(change.numbers)
        unlisted: list[Phone] = []
        try:
            if isinstance(change, BlacklistAdd):
                await self.service.add(user_id, phones, change.reason)
            else:
                unlisted = await self.service.remove(user_id, phones)
        except KaleyraError as exc:
            problem = describe_kaleyra_error(exc) + " Nothing was changed."
            await respond(**self.replies.error(problem))
            return
        except Refused as exc:
            await respond(**self.replies.error(exc))
            return
        if isinstance(change, BlacklistAdd):
            shown = views.changed_message("Blacklisted", phones)
        else:
            shown = views.removed_message([p for p in phones if p not in unlisted], unlisted)
        await respond(**self.replies.show(shown))

    async def submit(self, ack: AsyncAck, body: dict, view: dict, client: AsyncWebClient) -> None:
        form = Form(view)
        text = form.text(views.NUMBERS_BLOCK, views.NUMBERS_INPUT)
        reason = form.text(views.REASON_BLOCK, views.REASON_INPUT)
        try:
            phones = strict_numbers(text, self.deps.settings.default_region)
        except UsageError as exc:
            await ack(**field_errors({views.NUMBERS_BLOCK: str(exc)}))
            return
        await ack()
        user_id = body["user"]["id"]
        change = BlacklistAdd(tuple(phones), reason)
        self._spawn(self.apply(dm_responder(client, user_id), user_id, change), "blacklist-modal")


def register(app: AsyncApp, deps: Deps) -> None:
    h = BlacklistHandlers(deps)
    app.command("/blacklist")(h.command)
    app.view(views.BLACKLIST_MODAL)(h.submit)
