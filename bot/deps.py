"""The composition root: the one place that builds the services and hands each its collaborators.

Entry points (server, Socket Mode, console, tests, benches) call `build_deps`; handlers receive
the result. No service imports this module: each says in its constructor what it needs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk.web.async_client import AsyncWebClient

from bot.kaleyra import KaleyraClient
from bot.runtime.background import Background
from bot.runtime.scheduler import ScheduledJob, Scheduler, daily_at
from bot.services.agents import Agents
from bot.services.c2c import ClickToCall
from bot.services.followup import Followups
from bot.services.obd import Broadcasts
from bot.services.reminders import Reminders
from bot.services.voicehealth import HealthWatch
from bot.settings import Settings
from bot.slack.client import PacedWebClient
from bot.slack.notify import Notifier
from bot.slack.replies import Replies
from bot.store import Store

if TYPE_CHECKING:
    from bot.sandbox import Sandbox

Clock = Callable[[], datetime]
log = logging.getLogger("voicebot.deps")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Tuning:
    """Knobs tests and benches turn; production uses the defaults."""

    poll_seconds: float = 2.0  # click-to-call status polling interval
    track_for_seconds: float = 30 * 60  # stop tracking a call after this long
    auto_track: bool = True  # tests turn this off and drive the trackers themselves
    progress_interval: float = 1.0  # at most one progress update a second per message
    freeze_heap: bool = True  # gc.freeze() after start-up; tests starting many apps turn it off


@dataclass
class Deps:
    """What handlers and entry points are given: infrastructure, then one service per feature."""

    settings: Settings
    store: Store
    kaleyra: KaleyraClient
    slack: AsyncWebClient
    clock: Clock
    tuning: Tuning
    background: Background
    replies: Replies
    notify: Notifier
    agents: Agents
    sandbox: Sandbox | None = None
    # The services below are built by build_deps, in dependency order.
    c2c: ClickToCall = field(init=False)
    obd: Broadcasts = field(init=False)
    followup: Followups = field(init=False)
    reminders: Reminders = field(init=False)
    voicehealth: HealthWatch = field(init=False)
    scheduler: Scheduler = field(init=False)
    # Transitional fields still read by services that take Deps; removed as each is converted.
    homes_to_refresh: set[str] = field(default_factory=set)

    @property
    def uses_sandbox(self) -> bool:
        return self.settings.uses_sandbox

    def is_admin(self, user_id: str) -> bool:
        return self.agents.is_admin(user_id)

    # Transitional read-through of the tuning for services still taking Deps.
    @property
    def poll_seconds(self) -> float:
        return self.tuning.poll_seconds

    @property
    def track_for_seconds(self) -> float:
        return self.tuning.track_for_seconds

    @property
    def auto_track(self) -> bool:
        return self.tuning.auto_track

    @property
    def progress_interval(self) -> float:
        return self.tuning.progress_interval

    async def aclose(self) -> None:
        await self.background.cancel_all()
        await self.kaleyra.aclose()
        self.store.close()


# ---------------------------------------------------------------------- one factory per service
# Each builds one service from what is already built; the order below is the dependency order.


def _c2c(d: Deps) -> ClickToCall:
    return ClickToCall(d)


def _followup(d: Deps) -> Followups:
    return Followups(d)


def _reminders(d: Deps) -> Reminders:
    return Reminders(d)


def _obd(d: Deps) -> Broadcasts:
    return Broadcasts(d)


def _voicehealth(d: Deps) -> HealthWatch:
    return HealthWatch(d)


HEALTH_POLL, HEALTH_DIGEST = "health-poll", "health-digest"
REMINDERS, FOLLOWUP_SYNC = "followup-reminders", "followup-sync"
TRACK_CALLS, TRACK_BROADCASTS = "track-calls", "track-broadcasts"
JOB_IDS = (HEALTH_POLL, HEALTH_DIGEST, REMINDERS, FOLLOWUP_SYNC, TRACK_CALLS, TRACK_BROADCASTS)


def scheduled_jobs(d: Deps) -> list[ScheduledJob]:
    """Every periodic job of the product, built afresh so triggers follow run-time settings."""
    settings = d.settings
    return [
        ScheduledJob(
            HEALTH_POLL, d.voicehealth.poll, IntervalTrigger(minutes=settings.health_poll_minutes)
        ),
        ScheduledJob(
            HEALTH_DIGEST,
            d.voicehealth.digest,
            daily_at(d.voicehealth.digest_time(), settings.timezone),
        ),
        ScheduledJob(REMINDERS, d.reminders.run_due, IntervalTrigger(minutes=1)),
        ScheduledJob(FOLLOWUP_SYNC, d.reminders.sync, IntervalTrigger(minutes=10)),
        ScheduledJob(TRACK_CALLS, d.c2c.poll_open, IntervalTrigger(seconds=d.tuning.poll_seconds)),
        ScheduledJob(TRACK_BROADCASTS, d.obd.poll_tracking, IntervalTrigger(seconds=30)),
    ]


async def _catch_up(d: Deps) -> None:
    """What fell due while the process was down: reminders within their grace, the digest."""
    await d.reminders.run_due()
    outcome = await d.voicehealth.catch_up()
    log.info("digest catch-up: %s", outcome)


def scheduler_for(d: Deps) -> Scheduler:
    return Scheduler(
        d.settings.tz,
        lambda: scheduled_jobs(d),
        catch_up=lambda: _catch_up(d),
        spawn=lambda coro: d.background.spawn(coro, name="scheduler-catch-up"),
    )


def _sandbox_kaleyra(settings: Settings) -> tuple[KaleyraClient, Sandbox]:
    from bot.sandbox import Sandbox, SandboxState

    state = SandboxState(timezone=settings.timezone)
    if settings.kaleyra_bridge:
        state.dids.add(settings.kaleyra_bridge)
    sandbox = Sandbox(state)
    client = KaleyraClient(
        api_key="sandbox",
        voice_url="http://sandbox/v1/",
        io_url="http://sandbox/v1/",
        sid=settings.kaleyra_sid or "SANDBOX",
        timeout=settings.kaleyra_timeout_seconds,
        transport=httpx.ASGITransport(app=sandbox.app),
    )
    return client, sandbox


def _live_kaleyra(settings: Settings) -> KaleyraClient:
    assert settings.kaleyra_api_key is not None
    return KaleyraClient(
        api_key=settings.kaleyra_api_key.get_secret_value(),
        voice_url=settings.kaleyra_voice_url,
        io_url=settings.kaleyra_io_url,
        sid=settings.kaleyra_sid,
        timeout=settings.kaleyra_timeout_seconds,
    )


def build_deps(
    settings: Settings,
    *,
    store: Store | None = None,
    kaleyra: KaleyraClient | None = None,
    slack: AsyncWebClient | None = None,
    clock: Clock | None = None,
    tuning: Tuning | None = None,
    **_unused: Any,
) -> Deps:
    """Production wiring by default: the real Kaleyra, or the embedded sandbox without a key.

    Tests and benches pass their own store, Kaleyra client, Slack client, clock and tuning.
    """
    sandbox = None
    if kaleyra is None:
        if settings.uses_sandbox:
            kaleyra, sandbox = _sandbox_kaleyra(settings)
        else:
            kaleyra = _live_kaleyra(settings)
    if slack is None:
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
        slack = PacedWebClient(token=token, base_url=settings.slack_api_url)
    clock = clock or utc_now
    store = store or Store(settings.database_path, clock=clock)
    if tuning is None:
        # With the scheduler on, its jobs follow calls; without it, one loop does.
        tuning = Tuning(auto_track=not settings.scheduler_enabled)
    deps = Deps(
        settings=settings,
        store=store,
        kaleyra=kaleyra,
        slack=slack,
        clock=clock,
        tuning=tuning,
        background=Background(),
        replies=Replies(sandbox=settings.uses_sandbox),
        notify=Notifier(slack, sandbox=settings.uses_sandbox),
        agents=Agents(store, env_admins=settings.admins),
        sandbox=sandbox,
    )
    deps.c2c = _c2c(deps)
    deps.followup = _followup(deps)
    deps.reminders = _reminders(deps)
    deps.obd = _obd(deps)
    deps.voicehealth = _voicehealth(deps)
    deps.scheduler = scheduler_for(deps)
    return deps
