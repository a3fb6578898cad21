"""/c2c: click-to-call, its modal, the repeat-call confirmation, and agent registration."""

from __future__ import annotations

import json
from datetime import date, timedelta
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
    Register,
    Unregister,
    WhoAmI,
    parse_c2c,
)
from bot.kaleyra import KaleyraError
from bot.kaleyra.models import LogQuery
from bot.phones import InvalidNumber, Phone, parse_phone
from bot.services.home import refresh_home_later
from bot.slack.replies import later, open_modal
from bot.store import StoreError
from bot.views import c2c as views
from bot.views.common import describe_kaleyra_error, error_message, info_message

ADMIN_ONLY = "Only admins can {what}. Ask an admin, or use `/c2c help` for what you can do."


class C2CHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.sandbox = deps.uses_sandbox

    def _refuse(self, ack_or_respond: Any, user_id: str, what: str) -> Any:
        self.deps.store.audit(
            user_id=user_id, action="c2c.refused", outcome="not admin", detail={"what": what}
        )
        return ack_or_respond(**error_message(ADMIN_ONLY.format(what=what), sandbox=self.sandbox))

    async def command(
        self, ack: AsyncAck, command: dict, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        user_id = command["user_id"]
        try:
            parsed = parse_c2c(command.get("text", ""), self.deps.settings.default_region)
        except UsageError as exc:
            await ack(**error_message(str(exc), sandbox=self.sandbox))
            return
        match parsed:
            case Dial():
                await self._dial(ack, user_id, parsed)
            case OpenModal():
                await ack()
                await self._open_modal(client, command["trigger_id"], user_id, respond)
            case CallStatus(call_id):
                await ack()
                self.deps.background.spawn(self._status(respond, call_id), name="c2c-status")
            case CallLog():
                await ack()
                self.deps.background.spawn(self._log(respond, parsed), name="c2c-log")
            case Register() | Unregister():
                await self._registration(ack, user_id, parsed)
            case AdminChange():
                await ack(**self._admins(user_id, parsed))
            case WhoAmI():
                agent = self.deps.store.get_agent(user_id)
                role = "admin" if self.deps.is_admin(user_id) else "agent"
                number = Phone.known(agent.number).pretty if agent else None
                await ack(**views.whoami_message(user_id, number, role, sandbox=self.sandbox))
            case Help():
                await ack(**views.help_message(sandbox=self.sandbox))

    async def _dial(
        self,
        ack: AsyncAck,
        user_id: str,
        dial: Dial,
        retry: int | None = None,
        delay: int | None = None,
    ) -> None:
        agent = self.deps.store.get_agent(user_id)
        if (
            dial.agent is not None
            and not self.deps.is_admin(user_id)
            and (agent is None or dial.agent.e164 != agent.number)
        ):
            await self._refuse(ack, user_id, "choose the first leg of a call")
            return
        first_leg = dial.agent or (Phone.known(agent.number) if agent else None)
        if first_leg is None:
            await ack(**views.not_registered_message(sandbox=self.sandbox))
            return
        if self.deps.c2c.recent_repeat(user_id, first_leg, dial.customer):
            value = json.dumps(
                {"a": first_leg.e164, "c": dial.customer.e164, "r": retry, "d": delay}
            )
            await ack(
                **views.redial_confirm(
                    first_leg.pretty, dial.customer.pretty, value, sandbox=self.sandbox
                )
            )
            return
        await ack(
            **info_message(
                f":telephone_receiver: Dialling {dial.customer.pretty}: your phone {first_leg.pretty} rings first. I'll keep you posted in our DM.",
                sandbox=self.sandbox,
            )
        )
        self.deps.c2c.dial(user_id, first_leg, dial.customer, retry=retry, delay=delay)

    async def _open_modal(
        self, client: AsyncWebClient, trigger_id: str, user_id: str, respond: AsyncRespond
    ) -> None:
        agent = self.deps.store.get_agent(user_id)
        view = views.dial_modal(
            agent.number if agent else None, can_change_agent=self.deps.is_admin(user_id)
        )
        await open_modal(client, trigger_id, view, respond, "/c2c 9876543210", sandbox=self.sandbox)

    async def _status(self, respond: AsyncRespond, call_id: str) -> None:
        try:
            call = await self.deps.kaleyra.c2c_status(call_id)
        except KaleyraError as exc:
            await respond(**error_message(describe_kaleyra_error(exc), sandbox=self.sandbox))
            return
        if call is None:
            await respond(
                **error_message(
                    f"No call {call_id} in the last 3 days. Check the id with `/c2c log`.",
                    sandbox=self.sandbox,
                )
            )
            return
        await respond(**views.status_message(call, sandbox=self.sandbox))

    async def _log(self, respond: AsyncRespond, log: CallLog) -> None:
        today = self.deps.clock().astimezone(self.deps.settings.tz).date()
        start: date = log.from_date or (today - timedelta(days=2) if log.kind == "log" else today)
        query = LogQuery(
            fromdate=start, todate=log.to_date or today, limit=views.LOG_PAGE_SIZE + 1, page=1
        )
        try:
            rows = await (
                self.deps.kaleyra.c2c_log(query)
                if log.kind == "log"
                else self.deps.kaleyra.call_details(query)
            )
        except KaleyraError as exc:
            await respond(**error_message(describe_kaleyra_error(exc), sandbox=self.sandbox))
            return
        title = "Click-to-call log" if log.kind == "log" else "Incoming calls forwarded to agents"
        title += f" {start:%Y-%m-%d} to {(log.to_date or today):%Y-%m-%d}"
        more = len(rows) > views.LOG_PAGE_SIZE
        await respond(
            **views.log_message(title, rows[: views.LOG_PAGE_SIZE], more=more, sandbox=self.sandbox)
        )

    def _admins(self, user_id: str, change: AdminChange) -> dict:
        store, env_admins = self.deps.store, self.deps.settings.admins
        if not self.deps.is_admin(user_id):
            store.audit(
                user_id=user_id, action=f"admin.{change.action}", outcome="refused: not admin"
            )
            return error_message(
                "Only admins can see or change who is an admin.", sandbox=self.sandbox
            )
        if change.action == "list":
            everyone = sorted(env_admins | store.admins())
            return info_message(
                "Admins: "
                + ", ".join(
                    f"<@{u}>" + (" (ADMIN_USER_IDS)" if u in env_admins else "") for u in everyone
                ),
                sandbox=self.sandbox,
            )
        target = change.user_id or ""
        if change.action == "grant":
            store.grant_admin(target, user_id)
            text = f":key: <@{target}> is now an admin."
        elif target in env_admins:
            return error_message(
                "That admin comes from ADMIN_USER_IDS; remove them there and restart.",
                sandbox=self.sandbox,
            )
        elif target == user_id:
            return error_message(
                "You cannot revoke your own admin rights; ask another admin.", sandbox=self.sandbox
            )
        else:
            text = (
                f"<@{target}> is no longer an admin."
                if store.revoke_admin(target)
                else f"<@{target}> was not an admin."
            )
        store.audit(
            user_id=user_id,
            action=f"admin.{change.action}",
            outcome="ok",
            detail={"target": target},
        )
        return info_message(text, sandbox=self.sandbox)

    async def _registration(
        self, ack: AsyncAck, user_id: str, change: Register | Unregister
    ) -> None:
        target = change.user_id or user_id
        if target != user_id and not self.deps.is_admin(user_id):
            await self._refuse(ack, user_id, "register or unregister someone else")
            return
        try:
            if isinstance(change, Register):
                agent = self.deps.store.register_agent(target, change.number.e164)
                text = f":white_check_mark: <@{target}> now calls from {change.number.pretty}."
            else:
                removed = self.deps.store.unregister_agent(target)
                text = (
                    f":white_check_mark: <@{target}> has no agent number now."
                    if removed
                    else f"<@{target}> had no agent number."
                )
        except StoreError as exc:
            await ack(**error_message(str(exc), sandbox=self.sandbox))
            return
        refresh_home_later(self.deps, target)
        self.deps.store.audit(
            user_id=user_id,
            action=f"c2c.{type(change).__name__.lower()}",
            outcome="ok",
            numbers=[agent.number] if isinstance(change, Register) else [],
            detail={"target": target},
        )
        await ack(**info_message(text, sandbox=self.sandbox))

    # ------------------------------------------------------------------ modal and buttons

    async def submit(self, ack: AsyncAck, body: dict, view: dict) -> None:
        user_id = body["user"]["id"]
        values = view["state"]["values"]
        region = self.deps.settings.default_region
        errors: dict[str, str] = {}
        numbers: dict[str, Phone] = {}
        for block, action, label in (
            (views.AGENT_BLOCK, views.AGENT_INPUT, "agent"),
            (views.CUSTOMER_BLOCK, views.CUSTOMER_INPUT, "customer"),
        ):
            try:
                numbers[label] = parse_phone(values[block][action].get("value") or "", region)
            except InvalidNumber as exc:
                errors[block] = f"The {label} number {exc}."[:150]
        agent = self.deps.store.get_agent(user_id)
        if (
            "agent" in numbers
            and not self.deps.is_admin(user_id)
            and (agent is None or numbers["agent"].e164 != agent.number)
        ):
            errors[views.AGENT_BLOCK] = (
                "Only admins can call from a number other than their own. Register it with /c2c register."
            )
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        retry = (
            values.get(views.RETRY_BLOCK, {}).get(views.RETRY_INPUT, {}).get("selected_option")
            or {}
        ).get("value")
        delay = values.get(views.DELAY_BLOCK, {}).get(views.DELAY_INPUT, {}).get("value")
        self.deps.c2c.dial(
            user_id,
            numbers["agent"],
            numbers["customer"],
            retry=int(retry) if retry else None,
            delay=int(delay) if delay else None,
        )

    async def redial(self, ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond) -> None:
        await ack()
        user_id = body["user"]["id"]
        # A double-clicked button arrives twice with the same action_ts: dial once.
        if not self.deps.store.first_time(f"redial:{user_id}:{action.get('action_ts')}"):
            return
        value = json.loads(action["value"])
        mine = getattr(self.deps.store.get_agent(user_id), "number", None)
        if value["a"] != mine and not self.deps.is_admin(user_id):
            self.deps.background.spawn(
                self._refuse(respond, user_id, "choose the first leg of a call")
            )
            return
        agent, customer = Phone.known(value["a"]), Phone.known(value["c"])
        self.deps.c2c.dial(user_id, agent, customer, retry=value.get("r"), delay=value.get("d"))
        text = ":telephone_receiver: Dialling again. I'll keep you posted in our DM."
        later(self.deps, respond, replace_original=True, **info_message(text, sandbox=self.sandbox))

    async def cancel_redial(self, ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        later(
            self.deps,
            respond,
            replace_original=True,
            **info_message("Not dialled.", sandbox=self.sandbox),
        )

    async def refresh(self, ack: AsyncAck, body: dict, action: dict) -> None:
        await ack()
        for call in self.deps.store.recent_calls(body["user"]["id"], limit=20):
            if call.kaleyra_id == action["value"]:
                self.deps.background.spawn(self.deps.c2c.poll_once(call.id), name="c2c-refresh")


def register(app: AsyncApp, deps: Deps) -> None:
    h = C2CHandlers(deps)
    app.command("/c2c")(h.command)
    app.view(views.C2C_MODAL)(h.submit)
    app.action(views.REDIAL_CONFIRM)(h.redial)
    app.action(views.REDIAL_CANCEL)(h.cancel_redial)
    app.action(views.CALL_STATUS_REFRESH)(h.refresh)
