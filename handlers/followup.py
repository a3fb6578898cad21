"""/followup: add, list, edit (form pre-filled), delete; Snooze and Done on reminders.

The reminder's "Call now" button is registered by handlers/c2c.py (every dial goes through
request_dial).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.grammar import Help, OpenModal, UsageError
from bot.grammar.followup import (
    FollowupAdd,
    FollowupDelete,
    FollowupEdit,
    FollowupList,
    parse_followup,
)
from bot.kaleyra import KaleyraError
from bot.models import FollowupDraft
from bot.phones import InvalidNumber, Phone, parse_phone
from bot.services.agents import NotRegistered, Refused
from bot.slack.forms import Form, field_errors
from bot.slack.replies import Responder, dm_responder, later, open_modal
from bot.views import followup as views
from bot.views.common import describe_kaleyra_error

REFUSALS = (UsageError, Refused, NotRegistered)
FIELD_BLOCKS = {
    "follower": views.FOLLOWER_BLOCK,
    "when": views.WHEN_BLOCK,
    "name": views.NAME_BLOCK,
}


class FollowupHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.replies = deps.replies
        self.service = deps.followup
        self.tz, self.tz_name = deps.settings.tz, deps.settings.timezone

    async def command(
        self, ack: AsyncAck, command: dict, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        user_id = command["user_id"]
        try:
            parsed = parse_followup(command.get("text", ""), self.deps.settings.default_region)
            match parsed:
                case Help():
                    await ack(**self.replies.show(views.help_message()))
                case FollowupList():
                    follower = await self.service.list_scope(user_id, parsed.scope)
                    await ack()
                    self._spawn(self._list(respond, follower, parsed.scope), "followup-list")
                case OpenModal():
                    await self._open_form(ack, client, command["trigger_id"], respond, user_id)
                case FollowupAdd():
                    draft = await self.service.draft_add(
                        user_id, parsed.phone, parsed.name, parsed.when
                    )
                    await ack()
                    self._spawn(self._save(respond, draft), "followup-add")
                case FollowupEdit() | FollowupDelete():
                    await self.service.acting_number(user_id)
                    await ack()
                    change = self._change(respond, client, command["trigger_id"], user_id, parsed)
                    self._spawn(change, "followup-change")
        except REFUSALS as exc:
            await ack(**self.replies.error(exc))

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        self.deps.background.spawn(work, name=name)

    async def _open_form(
        self,
        ack: AsyncAck,
        client: AsyncWebClient,
        trigger_id: str,
        respond: AsyncRespond,
        user_id: str,
    ) -> None:
        mine = await self.service.acting_number(user_id)
        await ack()
        view = views.modal(
            follower=mine.e164 if mine else None,
            can_change_follower=await self.deps.agents.is_admin(user_id),
        )
        example = "/followup add 9876543210 2026-11-24 16:30 Asha"
        await open_modal(client, trigger_id, view, respond, example)

    async def _save(self, respond: Responder, draft: FollowupDraft) -> None:
        try:
            item = await self.service.save(draft)
        except KaleyraError as exc:
            problem = describe_kaleyra_error(exc) + " The follow-up was not saved."
            await respond(**self.replies.error(problem))
            return
        except REFUSALS as exc:
            await respond(**self.replies.error(f"{exc} The follow-up was not saved."))
            return
        edited = bool(draft.followup_id)
        message = views.saved_message(item, tz=self.tz, tz_name=self.tz_name, edited=edited)
        await respond(**self.replies.show(message))

    async def _list(self, respond: AsyncRespond, follower: Phone | None, scope: str) -> None:
        try:
            items = await self.service.listing(follower)
        except KaleyraError as exc:
            await respond(**self.replies.error(describe_kaleyra_error(exc)))
            return
        now = self.deps.clock()
        message = views.list_message(items, scope=scope, tz=self.tz, tz_name=self.tz_name, now=now)
        await respond(**self.replies.show(message))

    async def _change(
        self,
        respond: AsyncRespond,
        client: AsyncWebClient,
        trigger_id: str,
        user_id: str,
        change: FollowupEdit | FollowupDelete,
    ) -> None:
        try:
            if isinstance(change, FollowupDelete):
                item = await self.service.delete(user_id, change.followup_id)
                await respond(**self.replies.show(views.deleted_message(item)))
                return
            item = await self.service.find_for_change(user_id, change.followup_id, "followup.edit")
        except KaleyraError as exc:
            await respond(**self.replies.error(describe_kaleyra_error(exc)))
            return
        except REFUSALS as exc:
            await respond(**self.replies.error(exc))
            return
        admin = await self.deps.agents.is_admin(user_id)
        view = views.modal(follower=item.follower, can_change_follower=admin, item=item)
        await open_modal(
            client, trigger_id, view, respond, f"/followup delete {item.id}, then add it again"
        )

    async def submit(self, ack: AsyncAck, body: dict, view: dict, client: AsyncWebClient) -> None:
        user_id, form = body["user"]["id"], Form(view)
        numbers, errors = self._form_numbers(form)
        when = form.moment(views.WHEN_BLOCK, views.WHEN_INPUT, self.tz)
        name = form.text(views.NAME_BLOCK, views.NAME_INPUT)
        problems = await self.service.form_problems(
            user_id, follower=numbers.get("follower"), when=when, name=name
        )
        errors.update(
            {FIELD_BLOCKS[k]: v for k, v in problems.items() if FIELD_BLOCKS[k] not in errors}
        )
        if errors or when is None:  # no time picked is one of the errors
            await ack(**field_errors(errors))
            return
        await ack()
        draft = FollowupDraft(
            user_id=user_id,
            phone=numbers["customer"],
            name=name,
            follower=numbers["follower"],
            when=when,
            notes=form.text(views.NOTES_BLOCK, views.NOTES_INPUT),
            autocall=bool(form.checked(views.AUTOCALL_BLOCK, views.AUTOCALL_INPUT)),
            followup_id=form.private_metadata or None,
        )
        self._spawn(self._save(dm_responder(client, user_id), draft), "followup-modal")

    def _form_numbers(self, form: Form) -> tuple[dict[str, Phone], dict[str, str]]:
        numbers: dict[str, Phone] = {}
        errors: dict[str, str] = {}
        region = self.deps.settings.default_region
        for block, action, label in (
            (views.PHONE_BLOCK, views.PHONE_INPUT, "customer"),
            (views.FOLLOWER_BLOCK, views.FOLLOWER_INPUT, "follower"),
        ):
            try:
                numbers[label] = parse_phone(form.text(block, action), region)
            except InvalidNumber as exc:
                errors[block] = f"The {label} number {exc}."
        return numbers, errors

    async def snooze(self, ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond) -> None:
        await ack()
        try:
            until = await self.deps.reminders.snooze(body["user"]["id"], action["value"])
        except REFUSALS as exc:
            later(self.deps, respond, response_type="ephemeral", **self.replies.error(exc))
            return
        message = views.snoozed_message(until, tz=self.tz, tz_name=self.tz_name)
        later(self.deps, respond, replace_original=True, **self.replies.show(message))

    async def done(self, ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond) -> None:
        await ack()
        try:
            await self.deps.reminders.done(body["user"]["id"], action["value"])
        except REFUSALS as exc:
            later(self.deps, respond, response_type="ephemeral", **self.replies.error(exc))
            return
        message = views.done_message(action["value"])
        later(self.deps, respond, replace_original=True, **self.replies.show(message))


def register(app: AsyncApp, deps: Deps) -> None:
    h = FollowupHandlers(deps)
    app.action(views.FOLLOWUP_SNOOZE)(h.snooze)
    app.action(views.FOLLOWUP_DONE)(h.done)
    app.command("/followup")(h.command)
    app.view(views.FOLLOWUP_MODAL)(h.submit)
