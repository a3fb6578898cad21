"""The App Home tab: built from the store, published on open and after each of my actions."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.followup import followup_from_row
from bot.views.home import home_view

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger("voicebot.home")
DIGEST_CHANNEL, DIGEST_TIME = "digest_channel", "digest_time"


async def publish_home(deps: Deps, client: AsyncWebClient, user_id: str) -> None:
    await deps.background.turn()
    deps.homes_to_refresh.discard(user_id)  # later changes need a refresh of their own
    agent = deps.store.get_agent(user_id)
    admin = deps.is_admin(user_id)
    now = deps.clock()
    followups = [followup_from_row(r) for r in deps.store.followups(agent.number)] if agent else []
    upcoming = [f for f in followups if f.ontime > now]
    store = deps.store
    digest = (
        store.get_setting(DIGEST_CHANNEL) or deps.settings.health_digest_channel,
        store.get_setting(DIGEST_TIME) or deps.settings.health_digest_time,
    )
    view = home_view(
        number=agent.number if agent else None,
        role="admin" if admin else "agent",
        calls=store.recent_calls(user_id, limit=10),
        followups=upcoming,
        tz=deps.settings.tz,
        tz_name=deps.settings.timezone,
        digest=((None if digest[0] == "off" else digest[0]), digest[1]) if admin else None,
        audit=store.audit_entries(10) if admin else None,
        sandbox=deps.uses_sandbox,
    )
    try:
        await client.views_publish(user_id=user_id, view=view)
    except SlackApiError as exc:  # a Home tab that cannot refresh is not worth a message
        log.info("views.publish for %s failed: %s", user_id, exc.response.get("error"))


def refresh_home_later(deps: Deps, user_id: str) -> None:
    """After an action of the user: refresh their Home tab without delaying anything.

    A refresh already waiting will read the store after this change, so it is not repeated:
    a burst of calls publishes the tab once or twice, not once a call.
    """
    if user_id in deps.homes_to_refresh:
        return
    deps.homes_to_refresh.add(user_id)
    deps.background.spawn(publish_home(deps, deps.slack, user_id), name=f"home-{user_id}")
