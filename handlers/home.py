"""App Home: published when opened and after each action of the user; the "set my number" form,
which rings the number and asks for the code it read out, like `/c2c register`."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.grammar import UsageError
from bot.grammar.c2c import parse_code
from bot.phones import InvalidNumber, parse_phone
from bot.services.agents import Refused
from bot.services.c2c import ClickToCall
from bot.slack.forms import Form, field_errors
from bot.views import c2c as views


class HomeHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @property
    def c2c(self) -> ClickToCall:  # read on each use: a restart in a test replaces it
        return self.deps.c2c

    async def opened(self, event: dict) -> None:
        if event.get("tab", "home") == "home":  # events are acked only when this returns
            self.deps.home.open(event["user"])

    async def open_register(self, ack: AsyncAck, body: dict, client: AsyncWebClient) -> None:
        await ack()
        agent = await self.deps.agents.agent(body["user"]["id"])
        view = views.register_modal(agent.number if agent else None)
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    async def save_register(self, ack: AsyncAck, body: dict, view: dict) -> None:
        user_id = body["user"]["id"]
        text = Form(view).text(views.REGISTER_BLOCK, views.REGISTER_INPUT)
        try:
            done = await self.c2c.register(
                user_id, parse_phone(text, self.deps.settings.default_region)
            )
        except (InvalidNumber, Refused) as exc:
            await ack(**field_errors({views.REGISTER_BLOCK: str(exc)}))
            return
        if done.verified:
            await ack()
            return
        modal = views.verify_modal(done, show_code=self.deps.uses_sandbox)
        await ack(response_action="update", view=modal)  # the code is typed right here

    async def save_code(self, ack: AsyncAck, body: dict, view: dict) -> None:
        try:
            code = parse_code(Form(view).text(views.VERIFY_BLOCK, views.VERIFY_INPUT))
            await self.c2c.verify(body["user"]["id"], code)
        except (UsageError, Refused) as exc:
            await ack(**field_errors({views.VERIFY_BLOCK: str(exc)}))
            return
        await ack()


def register(app: AsyncApp, deps: Deps) -> None:
    h = HomeHandlers(deps)
    app.event("app_home_opened")(h.opened)
    app.action(views.REGISTER_BUTTON)(h.open_register)
    app.view(views.REGISTER_MODAL)(h.save_register)
    app.view(views.VERIFY_MODAL)(h.save_code)
