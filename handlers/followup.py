"""/followup: add, list, edit (form pre-filled), delete; the "Call now" button."""

from __future__ import annotations

from datetime import datetime

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
from bot.phones import InvalidNumber, Phone, parse_phone
from bot.slack.replies import Responder, dm_responder, later, open_modal
from bot.views import followup as views
from bot.views.c2c import not_registered_message
from bot.views.common import describe_kaleyra_error, error_message, info_message


class FollowupHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.sandbox = deps.uses_sandbox
        self.service = deps.followup

    def _my_number(self, user_id: str) -> Phone | None:
        agent = self.deps.store.get_agent(user_id)
        return Phone.known(agent.number) if agent else None

    async def command(
        self, ack: AsyncAck, command: dict, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        user_id = command["user_id"]
        try:
            parsed = parse_followup(command.get("text", ""), self.deps.settings.default_region)
            if isinstance(parsed, FollowupAdd):
                self.service.check_future(parsed.when)
        except UsageError as exc:
            await ack(**error_message(str(exc), sandbox=self.sandbox))
            return
        mine = self._my_number(user_id)
        match parsed:
            case Help():
                await ack(**views.help_message(sandbox=self.sandbox))
            case FollowupList(scope="all") if not self.deps.is_admin(user_id):
                await ack(
                    **error_message(
                        "Only admins can list everyone's follow-ups; `/followup list` shows yours.",
                        sandbox=self.sandbox,
                    )
                )
            case FollowupList():
                if parsed.scope == "mine" and mine is None:
                    await ack(**not_registered_message(sandbox=self.sandbox))
                    return
                await ack()
                self.deps.background.spawn(
                    self._list(respond, None if parsed.scope == "all" else mine, parsed.scope),
                    name="followup-list",
                )
            case _ if mine is None and not self.deps.is_admin(user_id):
                await ack(**not_registered_message(sandbox=self.sandbox))
            case OpenModal():
                await ack()
                view = views.modal(
                    follower=mine.e164 if mine else None,
                    can_change_follower=self.deps.is_admin(user_id),
                )
                await open_modal(
                    client,
                    command["trigger_id"],
                    view,
                    respond,
                    "/followup add 9876543210 2026-11-24 16:30 Asha",
                    sandbox=self.sandbox,
                )
            case FollowupAdd():
                if mine is None:
                    await ack(**not_registered_message(sandbox=self.sandbox))
                    return
                await ack()
                self.deps.background.spawn(
                    self._save(respond, user_id, parsed.phone, parsed.name, mine, parsed.when),
                    name="followup-add",
                )
            case FollowupEdit() | FollowupDelete():
                await ack()
                self.deps.background.spawn(
                    self._change(respond, client, command["trigger_id"], user_id, parsed),
                    name="followup-change",
                )

    async def _save(
        self,
        respond: Responder,
        user_id: str,
        phone: Phone,
        name: str,
        follower: Phone,
        when: datetime,
        notes: str = "",
        autocall: bool = False,
        followup_id: str | None = None,
    ) -> None:
        try:
            item = await self.service.save(
                user_id=user_id,
                phone=phone,
                name=name,
                follower=follower,
                when=when,
                notes=notes,
                autocall=autocall,
                followup_id=followup_id,
            )
        except (KaleyraError, UsageError) as exc:
            problem = describe_kaleyra_error(exc) if isinstance(exc, KaleyraError) else str(exc)
            await respond(
                **error_message(problem + " The follow-up was not saved.", sandbox=self.sandbox)
            )
            return
        await respond(
            **views.saved_message(
                item,
                tz=self.deps.settings.tz,
                tz_name=self.deps.settings.timezone,
                edited=bool(followup_id),
                sandbox=self.sandbox,
            )
        )

    async def _list(self, respond: AsyncRespond, follower: Phone | None, scope: str) -> None:
        try:
            items = await self.service.listing(follower)
        except KaleyraError as exc:
            await respond(**error_message(describe_kaleyra_error(exc), sandbox=self.sandbox))
            return
        await respond(
            **views.list_message(
                items,
                scope=scope,
                tz=self.deps.settings.tz,
                tz_name=self.deps.settings.timezone,
                now=self.deps.clock(),
                sandbox=self.sandbox,
            )
        )

    async def _change(
        self,
        respond: AsyncRespond,
        client: AsyncWebClient,
        trigger_id: str,
        user_id: str,
        change: FollowupEdit | FollowupDelete,
    ) -> None:
        try:
            item = await self.service.find(change.followup_id)
            if item is None:
                raise UsageError(
                    f"There is no follow-up #{change.followup_id}. See `/followup list`."
                )
            if not self.service.may_change(user_id, item):
                self.deps.store.audit(
                    user_id=user_id,
                    action="followup.change",
                    outcome="refused: not owner",
                    kaleyra_ids=[item.id],
                )
                raise UsageError(
                    f"Follow-up #{item.id} belongs to someone else; only its follower or an admin can change it."
                )
            if isinstance(change, FollowupDelete):
                await self.service.delete(user_id, item)
                await respond(
                    **info_message(
                        f":wastebasket: Deleted follow-up `#{item.id}`.", sandbox=self.sandbox
                    )
                )
                return
        except KaleyraError as exc:
            await respond(**error_message(describe_kaleyra_error(exc), sandbox=self.sandbox))
            return
        except UsageError as exc:
            await respond(**error_message(str(exc), sandbox=self.sandbox))
            return
        view = views.modal(
            follower=item.follower,
            can_change_follower=self.deps.is_admin(user_id),
            followup_id=item.id,
            phone=item.phone,
            name=item.name,
            when_epoch=int(item.ontime.timestamp()),
            autocall=item.autocall,
            notes=item.notes,
        )
        await open_modal(
            client,
            trigger_id,
            view,
            respond,
            f"/followup delete {item.id}, then add it again",
            sandbox=self.sandbox,
        )

    async def submit(self, ack: AsyncAck, body: dict, view: dict, client: AsyncWebClient) -> None:
        user_id, values = body["user"]["id"], view["state"]["values"]
        region, errors = self.deps.settings.default_region, {}

        def text(block: str, action: str) -> str:
            return (values[block][action].get("value") or "").strip()

        numbers: dict[str, Phone] = {}
        for block, action, label in (
            (views.PHONE_BLOCK, views.PHONE_INPUT, "customer"),
            (views.FOLLOWER_BLOCK, views.FOLLOWER_INPUT, "follower"),
        ):
            try:
                numbers[label] = parse_phone(text(block, action), region)
            except InvalidNumber as exc:
                errors[block] = f"The {label} number {exc}."[:150]
        mine = self._my_number(user_id)
        if (
            "follower" in numbers
            and not self.deps.is_admin(user_id)
            and numbers["follower"] != mine
        ):
            errors[views.FOLLOWER_BLOCK] = "Only admins can set another agent as follower."
        picked = values[views.WHEN_BLOCK][views.WHEN_INPUT].get("selected_date_time")
        when = datetime.fromtimestamp(int(picked), self.deps.settings.tz) if picked else None
        try:
            if when is None:
                raise UsageError("Pick a date and time.")
            self.service.check_future(when)
        except UsageError as exc:
            errors[views.WHEN_BLOCK] = str(exc)[:150]
        if not text(views.NAME_BLOCK, views.NAME_INPUT):
            errors[views.NAME_BLOCK] = "Give the customer's name."
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        autocall = bool(values[views.AUTOCALL_BLOCK][views.AUTOCALL_INPUT].get("selected_options"))
        self.deps.background.spawn(
            self._save(
                dm_responder(client, user_id),
                user_id,
                numbers["customer"],
                text(views.NAME_BLOCK, views.NAME_INPUT),
                numbers["follower"],
                when,
                text(views.NOTES_BLOCK, views.NOTES_INPUT),
                autocall,
                view.get("private_metadata") or None,
            ),
            name="followup-modal",
        )

    async def call_now(
        self, ack: AsyncAck, body: dict, action: dict, client: AsyncWebClient
    ) -> None:
        await ack()
        self.deps.background.spawn(
            self._call_now(body["user"]["id"], action["value"], client), name="followup-call"
        )

    async def _call_now(self, user_id: str, followup_id: str, client: AsyncWebClient) -> None:
        item = await self.service.find(followup_id)
        mine = self._my_number(user_id)
        respond = dm_responder(client, user_id)
        if mine is None:
            await respond(**not_registered_message(sandbox=self.sandbox))
        elif item is None:
            await respond(**error_message("That follow-up no longer exists.", sandbox=self.sandbox))
        else:
            self.deps.c2c.dial(user_id, mine, Phone.known(item.phone))

    async def snooze(self, ack: AsyncAck, action: dict, respond: AsyncRespond) -> None:
        await ack()
        until = self.deps.reminders.snooze(action["value"]).astimezone(self.deps.settings.tz)
        text = (
            f":zzz: Snoozed: I'll remind you again at {until:%H:%M} {self.deps.settings.timezone}."
        )
        later(self.deps, respond, replace_original=True, **info_message(text, sandbox=self.sandbox))

    async def done(self, ack: AsyncAck, action: dict, respond: AsyncRespond) -> None:
        await ack()
        self.deps.reminders.done(action["value"])
        text = f":white_check_mark: Follow-up `#{action['value']}` is done. No more reminders."
        later(self.deps, respond, replace_original=True, **info_message(text, sandbox=self.sandbox))


def register(app: AsyncApp, deps: Deps) -> None:
    h = FollowupHandlers(deps)
    app.action(views.FOLLOWUP_SNOOZE)(h.snooze)
    app.action(views.FOLLOWUP_DONE)(h.done)
    app.command("/followup")(h.command)
    app.view(views.FOLLOWUP_MODAL)(h.submit)
    app.action(views.FOLLOWUP_CALL)(h.call_now)
