"""App Home: published when opened and after each action of the user; the "set my number" form."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.phones import InvalidNumber, parse_phone
from bot.services.home import publish_home
from bot.store import StoreError
from bot.views.c2c import (
    REGISTER_BLOCK,
    REGISTER_BUTTON,
    REGISTER_INPUT,
    REGISTER_MODAL,
    register_modal,
)


class HomeHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def opened(self, event: dict, client: AsyncWebClient) -> None:
        if event.get("tab", "home") == "home":  # events are acked only when this returns
            self.deps.background.spawn(
                publish_home(self.deps, client, event["user"]), name="home-open"
            )

    async def open_register(self, ack: AsyncAck, body: dict, client: AsyncWebClient) -> None:
        await ack()
        agent = self.deps.store.get_agent(body["user"]["id"])
        await client.views_open(
            trigger_id=body["trigger_id"], view=register_modal(agent.number if agent else None)
        )

    async def save_register(
        self, ack: AsyncAck, body: dict, view: dict, client: AsyncWebClient
    ) -> None:
        user_id = body["user"]["id"]
        text = view["state"]["values"][REGISTER_BLOCK][REGISTER_INPUT].get("value") or ""
        try:
            phone = parse_phone(text, self.deps.settings.default_region)
            self.deps.store.register_agent(user_id, phone.e164)
        except (InvalidNumber, StoreError) as exc:
            await ack(response_action="errors", errors={REGISTER_BLOCK: str(exc)[:150]})
            return
        await ack()
        self.deps.store.audit(
            user_id=user_id,
            action="c2c.register",
            outcome="ok",
            numbers=[phone.e164],
            detail={"target": user_id},
        )
        self.deps.background.spawn(publish_home(self.deps, client, user_id), name="home-register")


def register(app: AsyncApp, deps: Deps) -> None:
    h = HomeHandlers(deps)
    app.event("app_home_opened")(h.opened)
    app.action(REGISTER_BUTTON)(h.open_register)
    app.view(REGISTER_MODAL)(h.save_register)
