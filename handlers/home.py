"""App Home: published when the user opens it."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.views.home import home_view


class HomeHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def opened(self, event: dict, client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        await publish_home(self.deps, client, event["user"])


async def publish_home(deps: Deps, client: AsyncWebClient, user_id: str) -> None:
    agent = deps.store.get_agent(user_id)
    role = "admin" if deps.is_admin(user_id) else "agent"
    calls = deps.store.recent_calls(user_id, limit=10)
    view = home_view(
        user_id, agent.number if agent else None, role, calls, sandbox=deps.uses_sandbox
    )
    await client.views_publish(user_id=user_id, view=view)


def register(app: AsyncApp, deps: Deps) -> None:
    h = HomeHandlers(deps)
    app.event("app_home_opened")(h.opened)
