"""Everything a handler needs, built once in the entry point and passed down."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
from slack_sdk.web.async_client import AsyncWebClient

from bot.kaleyra import KaleyraClient
from bot.runtime.background import Background
from bot.settings import Settings
from bot.slack.client import PacedWebClient
from bot.store import Store

if TYPE_CHECKING:
    from bot.runtime.scheduler import Scheduler
    from bot.sandbox import Sandbox
    from bot.services.c2c import ClickToCall
    from bot.services.followup import Followups
    from bot.services.obd import Broadcasts
    from bot.services.reminders import Reminders
    from bot.services.voicehealth import HealthWatch


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Deps:
    settings: Settings
    kaleyra: KaleyraClient
    store: Store
    slack: AsyncWebClient
    clock: Callable[[], datetime] = utc_now
    background: Background = field(default_factory=Background)
    sandbox: Sandbox | None = None
    poll_seconds: float = 2.0  # click-to-call status polling interval
    track_for_seconds: float = 30 * 60  # stop tracking a call after this long
    auto_track: bool = True  # tests turn this off and drive calls.poll_once themselves
    progress_interval: float = 1.0  # at most one progress update a second per message
    homes_to_refresh: set[str] = field(default_factory=set)  # App Home refreshes not yet built
    calls: ClickToCall = field(init=False)
    broadcasts: Broadcasts = field(init=False)
    followups: Followups = field(init=False)
    health: HealthWatch = field(init=False)
    reminders: Reminders = field(init=False)
    scheduler: Scheduler = field(init=False)

    def __post_init__(self) -> None:
        from bot.runtime.scheduler import Scheduler
        from bot.services.c2c import ClickToCall
        from bot.services.followup import Followups
        from bot.services.obd import Broadcasts
        from bot.services.reminders import Reminders
        from bot.services.voicehealth import HealthWatch

        self.calls = ClickToCall(self)
        self.broadcasts = Broadcasts(self)
        self.followups = Followups(self)
        self.health = HealthWatch(self)
        self.reminders = Reminders(self)
        self.scheduler = Scheduler(self)

    @property
    def uses_sandbox(self) -> bool:
        return self.settings.uses_sandbox

    def is_admin(self, user_id: str) -> bool:
        if user_id in self.settings.admins:
            return True
        return self.store.is_admin(user_id)

    async def aclose(self) -> None:
        await self.background.cancel_all()
        await self.kaleyra.aclose()
        self.store.close()


def build_deps(settings: Settings, **overrides: object) -> Deps:
    """Production wiring: the real Kaleyra, or the embedded sandbox when no key is set."""
    sandbox = None
    transport = None
    api_key = settings.kaleyra_api_key.get_secret_value() if settings.kaleyra_api_key else ""
    voice_url, io_url = settings.kaleyra_voice_url, settings.kaleyra_io_url
    if settings.uses_sandbox:
        from bot.sandbox import Sandbox, SandboxState

        state = SandboxState(timezone=settings.timezone)
        if settings.kaleyra_bridge:
            state.dids.add(settings.kaleyra_bridge)
        sandbox = Sandbox(state)
        transport = httpx.ASGITransport(app=sandbox.app)
        api_key, voice_url, io_url = "sandbox", "http://sandbox/v1/", "http://sandbox/v1/"
    kaleyra = KaleyraClient(
        api_key=api_key,
        voice_url=voice_url,
        io_url=io_url,
        sid=settings.kaleyra_sid or ("SANDBOX" if sandbox else None),
        timeout=settings.kaleyra_timeout_seconds,
        transport=transport,
    )
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    slack = PacedWebClient(token=token, base_url=settings.slack_api_url)
    return Deps(
        settings=settings,
        kaleyra=kaleyra,
        store=Store(settings.database_path),
        slack=slack,
        sandbox=sandbox,
        # With the scheduler on, its jobs follow calls; without it, one task per call does.
        **{"auto_track": not settings.scheduler_enabled, **overrides},  # type: ignore[arg-type]
    )
