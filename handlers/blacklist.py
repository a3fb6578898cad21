"""/blacklist: add (anyone), remove (admins), list, and a form with a reason."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.grammar import Help, OpenModal, UsageError, strict_numbers
from bot.grammar.blacklist import BlacklistAdd, BlacklistList, BlacklistRemove, parse_blacklist
from bot.kaleyra import KaleyraError
from bot.slack.replies import dm_responder, open_modal
from bot.views import blacklist as views
from bot.views.common import describe_kaleyra_error, error_message


class BlacklistHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.sandbox = deps.uses_sandbox

    async def command(
        self, ack: AsyncAck, command: dict, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        user_id = command["user_id"]
        try:
            parsed = parse_blacklist(command.get("text", ""), self.deps.settings.default_region)
        except UsageError as exc:
            await ack(**error_message(str(exc), sandbox=self.sandbox))
            return
        match parsed:
            case Help():
                await ack(**views.help_message(sandbox=self.sandbox))
            case OpenModal():
                await ack()
                await open_modal(
                    client,
                    command["trigger_id"],
                    views.modal(),
                    respond,
                    "/blacklist add 9876543210",
                    sandbox=self.sandbox,
                )
            case BlacklistList():
                show = self.deps.is_admin(user_id)
                await ack(
                    **views.list_message(
                        self.deps.store.blacklist_entries(), show_numbers=show, sandbox=self.sandbox
                    )
                )
            case BlacklistRemove() if not self.deps.is_admin(user_id):
                self.deps.store.audit(
                    user_id=user_id, action="blacklist.remove", outcome="refused: not admin"
                )
                await ack(
                    **error_message(
                        "Only admins can remove numbers from the blacklist.", sandbox=self.sandbox
                    )
                )
            case BlacklistAdd() | BlacklistRemove():
                await ack()
                self.deps.background.spawn(self.apply(respond, user_id, parsed), name="blacklist")

    async def apply(
        self, respond: AsyncRespond, user_id: str, change: BlacklistAdd | BlacklistRemove
    ) -> None:
        phones = list(change.numbers)
        national = [p.national for p in phones]
        adding = isinstance(change, BlacklistAdd)
        try:
            await (
                self.deps.kaleyra.blacklist_add(national)
                if adding
                else self.deps.kaleyra.blacklist_remove(national)
            )
        except KaleyraError as exc:
            self.deps.store.audit(
                user_id=user_id,
                action="blacklist.add" if adding else "blacklist.remove",
                outcome="failed",
                numbers=national,
                detail={"error": str(exc)},
            )
            await respond(
                **error_message(
                    describe_kaleyra_error(exc) + " Nothing was changed.", sandbox=self.sandbox
                )
            )
            return
        if adding:
            self.deps.store.blacklist_add([p.e164 for p in phones], user_id, change.reason)
        else:
            self.deps.store.blacklist_remove([p.e164 for p in phones])
        self.deps.store.audit(
            user_id=user_id,
            action="blacklist.add" if adding else "blacklist.remove",
            outcome="ok",
            numbers=national,
        )
        await respond(
            **views.changed_message(
                "Blacklisted" if adding else "Removed from the blacklist",
                phones,
                sandbox=self.sandbox,
            )
        )

    async def submit(self, ack: AsyncAck, body: dict, view: dict, client: AsyncWebClient) -> None:
        values = view["state"]["values"]
        text = values[views.NUMBERS_BLOCK][views.NUMBERS_INPUT].get("value") or ""
        reason = (values[views.REASON_BLOCK][views.REASON_INPUT].get("value") or "").strip()
        try:
            phones = strict_numbers(text, self.deps.settings.default_region)
        except UsageError as exc:
            await ack(response_action="errors", errors={views.NUMBERS_BLOCK: str(exc)[:150]})
            return
        await ack()
        user_id = body["user"]["id"]
        respond = dm_responder(client, user_id)
        self.deps.background.spawn(
            self.apply(respond, user_id, BlacklistAdd(tuple(phones), reason)),
            name="blacklist-modal",
        )


def register(app: AsyncApp, deps: Deps) -> None:
    h = BlacklistHandlers(deps)
    app.command("/blacklist")(h.command)
    app.view(views.BLACKLIST_MODAL)(h.submit)
