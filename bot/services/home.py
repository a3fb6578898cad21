"""The App Home tab: built from the store, published on open and after each of my actions."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, tzinfo

from bot.models import CallHistory, CallOutcome, DigestSettings, FeedCall
from bot.runtime.background import Background
from bot.services.agents import Agents
from bot.slack.notify import Notifier
from bot.store import Store
from bot.views.common import with_notice
from bot.views.home import home_view

log = logging.getLogger("voicebot.home")
Clock = Callable[[], datetime]


class Home:
    def __init__(
        self,
        store: Store,
        notify: Notifier,
        agents: Agents,
        background: Background,
        clock: Clock,
        *,
        tz: tzinfo,
        tz_name: str,
        sandbox: bool,
        digest: Callable[[], Awaitable[DigestSettings | tuple[str | None, str]]],
        missed_calls: Callable[[], Awaitable[Sequence[FeedCall] | None]] | None = None,
        outcomes: Callable[[list[int]], Awaitable[Mapping[int, CallOutcome]]] | None = None,
        quiet: float = 0.0,
        spacing: float = 0.0,
    ) -> None:
        self.store = store
        self.notify = notify
        self.agents = agents
        self.background = background
        self.clock = clock
        self.tz = tz
        self.tz_name = tz_name
        self.sandbox = sandbox
        self.digest = digest  # (channel or None when off, "HH:MM"), read when a tab is built
        self.missed_calls = missed_calls  # the team line's missed calls waiting, when it is on
        self.outcomes = outcomes  # logged outcomes of my recent calls
        # A refresh after an action waits `quiet` seconds for the changes that follow it (a
        # call placed, then ended) and goes at most once per `spacing` seconds per user.
        self.quiet = quiet
        self.spacing = spacing

    async def view(self, user_id: str) -> dict:
        status = await self.agents.status(user_id)
        admin = status.role == "admin"
        mine = await self.agents.number(user_id)  # follow-ups are shown for a proven number only
        now = self.clock()
        upcoming = await self.store.upcoming_followups(mine.e164, now, limit=5) if mine else []
        calls = await self.store.recent_calls(user_id, limit=10)
        view = home_view(
            status=status,
            calls=calls,
            followups=upcoming,
            tz=self.tz,
            tz_name=self.tz_name,
            digest=tuple(await self.digest()) if admin else None,
            audit=await self.store.audit_entries(10) if admin else None,
            missed=await self.missed_calls() if self.missed_calls else None,
            outcomes=await self.outcomes([c.id for c in calls]) if self.outcomes else {},
        )
        return with_notice(view) if self.sandbox else view

    async def history(
        self, user_id: str, before_id: int | None = None, limit: int = 20
    ) -> CallHistory:
        """`/c2c history`: my calls through the bot, a page at a time, with their outcomes."""
        calls = await self.store.call_history(user_id, before_id=before_id, limit=limit + 1)
        page, more = tuple(calls[:limit]), len(calls) > limit
        outcomes = dict(await self.outcomes([c.id for c in page])) if self.outcomes else {}
        return CallHistory(user_id, page, outcomes, page[-1].id if more and page else None)

    async def publish(self, user_id: str) -> bool:
        await self.background.turn()
        return await self.notify.publish(user_id, await self.view(user_id))

    def open(self, user_id: str) -> None:
        """The user opened the tab: publish it after the event is acked."""
        self.background.spawn(self.publish(user_id), name="home-open")

    def refresh_later(self, user_id: str) -> None:
        """After an action of the user: refresh their Home tab without delaying anything.

        A refresh already waiting builds the view when it goes, after this change, so it is not
        repeated: a burst of calls publishes the tab once or twice, not once a call.
        """
        self.notify.publish_later(
            user_id, lambda: self.view(user_id), delay=self.quiet, spacing=self.spacing
        )
