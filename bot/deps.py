"""The composition root: the one place that builds the services and hands each its collaborators.

Entry points (server, Socket Mode, console, tests, benches) call `build_deps`; handlers receive
the result. No service imports this module: each says in its constructor what it needs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk.web.async_client import AsyncWebClient

from bot.kaleyra import KaleyraClient
from bot.runtime.background import Background
from bot.runtime.scheduler import ScheduledJob, Scheduler, daily_at
from bot.services.agents import Agents
from bot.services.blacklist import Blacklist
from bot.services.c2c import ClickToCall
from bot.services.callfeed import CallFeed
from bot.services.deliveries import Deliveries
from bot.services.followup import Followups
from bot.services.home import Home
from bot.services.obd import BroadcastConfig, Broadcasts
from bot.services.reminders import Reminders
from bot.services.retention import Retention
from bot.services.voicehealth import HealthWatch
from bot.settings import Settings
from bot.slack.budget import SlackBudget
from bot.slack.client import PacedWebClient
from bot.slack.files import download
from bot.slack.notify import Notifier
from bot.slack.replies import Replies
from bot.store import Store

if TYPE_CHECKING:
    from bot.models import FeedCall
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
    # The Slack budget (bot/slack/budget.py); the end-to-end harness sends at once instead.
    progress_hold: float = 2.0  # a card's progress tick waits this long for a newer state
    home_quiet: float = 3.0  # a Home refresh waits this long for the changes that follow it
    home_spacing: float = 5.0  # and goes at most once per this many seconds per user
    slack_clock: Callable[[], float] = time.monotonic  # the budget's clock
    slack_dispatch: bool = True  # False: nothing waits on its own, the caller pumps the budget
    slack_limits: bool = True  # False: no rate is kept (a stand-in Slack that takes everything)


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
    deliveries: Deliveries
    sandbox: Sandbox | None = None
    # The services below are built by build_deps, in dependency order.
    home: Home = field(init=False)
    c2c: ClickToCall = field(init=False)
    obd: Broadcasts = field(init=False)
    followup: Followups = field(init=False)
    reminders: Reminders = field(init=False)
    voicehealth: HealthWatch = field(init=False)
    blacklist: Blacklist = field(init=False)
    callfeed: CallFeed = field(init=False)
    retention: Retention = field(init=False)
    scheduler: Scheduler = field(init=False)

    @property
    def uses_sandbox(self) -> bool:
        return self.settings.uses_sandbox

    async def aclose(self) -> None:
        await self.background.cancel_all()
        await self.notify.budget.aclose()
        if isinstance(self.slack, PacedWebClient):
            await self.slack.aclose()
        await self.kaleyra.aclose()
        await self.store.aclose()


# ---------------------------------------------------------------------- one factory per service
# Each builds one service from what is already built; the order below is the dependency order.


def _home(d: Deps) -> Home:
    settings = d.settings
    return Home(
        d.store,
        d.notify,
        d.agents,
        d.background,
        d.clock,
        tz=settings.tz,
        tz_name=settings.timezone,
        sandbox=settings.uses_sandbox,
        # HealthWatch owns the digest settings; it is built later, so read them when needed.
        digest=lambda: d.voicehealth.digest_settings(),
        # The team line is built later too: read lazily, and only when a feed channel is set.
        missed_calls=lambda: _missed_calls(d),
        outcomes=lambda ids: d.callfeed.outcomes_for(ids),
        quiet=d.tuning.home_quiet,
        spacing=d.tuning.home_spacing,
    )


def _c2c(d: Deps) -> ClickToCall:
    settings, tuning = d.settings, d.tuning
    return ClickToCall(
        d.store,
        d.kaleyra,
        d.notify,
        d.agents,
        d.home,
        d.background,
        d.clock,
        public_url=settings.public_url,
        region=settings.default_region,
        tz=settings.tz,
        # Verification calls read their code through kaleyra.io when it is configured.
        io_bridge=settings.kaleyra_bridge if settings.kaleyra_sid else None,
        # Follow-ups are built after click-to-call; *Call now* looks one up when clicked.
        find_followup=lambda followup_id: d.followup.find(followup_id),
        poll_seconds=tuning.poll_seconds,
        track_for_seconds=tuning.track_for_seconds,
        dial_concurrency=settings.dial_concurrency,
        auto_track=tuning.auto_track,
        shared_database=d.store.dialect == "postgresql",
    )


def _followup(d: Deps) -> Followups:
    settings = d.settings
    return Followups(
        d.store,
        d.kaleyra,
        d.agents,
        clock=d.clock,
        tz=settings.tz,
        tz_name=settings.timezone,
        region=settings.default_region,
        reminder_lead=timedelta(minutes=settings.followup_reminder_minutes),
        on_change=d.home.refresh_later,
    )


def _reminders(d: Deps) -> Reminders:
    settings = d.settings
    return Reminders(
        d.store, d.followup, d.notify, clock=d.clock, tz=settings.tz, tz_name=settings.timezone
    )


def _blacklist(d: Deps) -> Blacklist:
    return Blacklist(d.store, d.kaleyra, d.agents)


def _obd(d: Deps) -> Broadcasts:
    settings, tuning = d.settings, d.tuning
    return Broadcasts(
        store=d.store,
        kaleyra=d.kaleyra,
        notify=d.notify,
        agents=d.agents,
        background=d.background,
        clock=d.clock,
        config=BroadcastConfig(
            timezone=settings.timezone,
            region=settings.default_region,
            via_io=bool(settings.kaleyra_sid),
            bridge=settings.kaleyra_bridge,
            calling_hours=settings.calling_hours,
            calls_per_minute=settings.obd_calls_per_minute,
            concurrency=d.kaleyra.chunk_concurrency,
            progress_interval=tuning.progress_interval,
            follow_calls=tuning.auto_track,
            shared_database=d.store.dialect == "postgresql",
            sender_lease=timedelta(seconds=settings.campaign_lease_seconds),
        ),
        # CSV files from the form, read with the bot token.
        fetch=lambda file, limit: download(d.slack, file, limit),
    )


def _voicehealth(d: Deps) -> HealthWatch:
    settings = d.settings
    return HealthWatch(
        d.store,
        d.kaleyra,
        d.notify,
        d.agents,
        clock=d.clock,
        tz=settings.tz,
        tz_name=settings.timezone,
        default_channel=settings.health_digest_channel,
        default_time=settings.health_digest_time,
        on_change=d.home.refresh_later,
        # The scheduler is built after the services; the digest job re-reads the time.
        reschedule=lambda _at: _digest_time_changed(d),
        sandbox=settings.uses_sandbox,
    )


async def _missed_calls(d: Deps) -> Sequence[FeedCall] | None:
    return await d.callfeed.missed_waiting(5) if await d.callfeed.channel() else None


async def _missed_calls(d: Deps) -> Sequence[FeedCall] | None:
    return await d.callfeed.missed_waiting(5) if await d.callfeed.channel() else None


def _callfeed(d: Deps) -> CallFeed:
    settings = d.settings
    return CallFeed(
        d.store,
        d.kaleyra,
        d.notify,
        d.agents,
        d.followup,
        d.background,
        # A call back is a click-to-call like any other: first leg, repeat check, its card.
        dial=lambda user_id, agent, customer, key: d.c2c.request_dial(
            user_id, customer, agent=agent, claim=key
        ),
        clock=d.clock,
        tz=settings.tz,
        tz_name=settings.timezone,
        region=settings.default_region,
        default_channel=settings.calls_channel,
        activity_time=settings.activity_digest_time,
        health_digest=lambda: d.voicehealth.digest_settings(),
    )


HEALTH_POLL, HEALTH_DIGEST = "health-poll", "health-digest"
REMINDERS, FOLLOWUP_SYNC = "followup-reminders", "followup-sync"
TRACK_CALLS, TRACK_BROADCASTS = "track-calls", "track-broadcasts"
CALL_FEED, ACTIVITY_DIGEST = "call-feed", "activity-digest"
BROADCAST_WINDOW, CAMPAIGN_LEASES = "broadcast-window", "campaign-leases"
HISTORY_PRUNE = "history-prune"
JOB_IDS = (
    HEALTH_POLL,
    HEALTH_DIGEST,
    REMINDERS,
    FOLLOWUP_SYNC,
    TRACK_CALLS,
    TRACK_BROADCASTS,
    BROADCAST_WINDOW,
    CAMPAIGN_LEASES,
    CALL_FEED,
    ACTIVITY_DIGEST,
    HISTORY_PRUNE,
)


async def scheduled_jobs(d: Deps) -> list[ScheduledJob]:
    """Every periodic job of the product, built afresh so triggers follow run-time settings."""
    settings = d.settings
    return [
        ScheduledJob(
            HEALTH_POLL, d.voicehealth.poll, IntervalTrigger(minutes=settings.health_poll_minutes)
        ),
        ScheduledJob(
            HEALTH_DIGEST,
            d.voicehealth.digest,
            daily_at(await d.voicehealth.digest_time(), settings.timezone),
        ),
        ScheduledJob(
            REMINDERS, d.reminders.run_due, IntervalTrigger(seconds=settings.reminders_poll_seconds)
        ),
        ScheduledJob(FOLLOWUP_SYNC, d.reminders.sync, IntervalTrigger(minutes=10)),
        ScheduledJob(TRACK_CALLS, d.c2c.poll_open, IntervalTrigger(seconds=d.tuning.poll_seconds)),
        ScheduledJob(TRACK_BROADCASTS, d.obd.poll_tracking, IntervalTrigger(seconds=30)),
        # Paused by the calling window closing: resumed when it opens again.
        ScheduledJob(BROADCAST_WINDOW, d.obd.tick, IntervalTrigger(minutes=1)),
        # A dead replica's campaign is reported within its lease and this period (half of it).
        ScheduledJob(
            CAMPAIGN_LEASES,
            d.obd.reclaim,
            IntervalTrigger(seconds=max(1, settings.campaign_lease_seconds // 2)),
        ),
        ScheduledJob(
            CALL_FEED, d.callfeed.poll, IntervalTrigger(seconds=settings.calls_poll_seconds)
        ),
        ScheduledJob(
            ACTIVITY_DIGEST,
            d.callfeed.post_digest,
            daily_at(await d.callfeed.digest_time(), settings.timezone),
        ),
        ScheduledJob(HISTORY_PRUNE, d.retention.prune, IntervalTrigger(minutes=10)),
    ]


async def _catch_up(d: Deps) -> None:
    """What fell due while the process was down: reminders within their grace, the digest."""
    await d.reminders.run_due()
    outcome = await d.voicehealth.catch_up()
    log.info("digest catch-up: %s", outcome)
    await d.callfeed.catch_up()


async def _digest_time_changed(d: Deps) -> None:
    # The activity digest follows the health digest's time unless ACTIVITY_DIGEST_TIME is set.
    await d.scheduler.refresh(HEALTH_DIGEST)
    await d.scheduler.refresh(ACTIVITY_DIGEST)


def scheduler_for(d: Deps) -> Scheduler:
    return Scheduler(
        d.settings.tz,
        lambda: scheduled_jobs(d),
        catch_up=lambda: _catch_up(d),
        spawn=lambda coro: d.background.spawn(coro, name="scheduler-catch-up"),
    )


def _sandbox_kaleyra(settings: Settings) -> tuple[KaleyraClient, Sandbox]:
    from bot.sandbox import Sandbox, SandboxState

    state = SandboxState(timezone=settings.timezone, step_seconds=settings.sandbox_step_seconds)
    if settings.kaleyra_bridge:
        state.dids.add(settings.kaleyra_bridge)
    sandbox = Sandbox(state)
    client = KaleyraClient(
        api_key="sandbox",
        voice_url="http://sandbox/v1/",
        io_url="http://sandbox/v1/",
        sid=settings.kaleyra_sid or "SANDBOX",
        timeout=settings.kaleyra_timeout_seconds,
        calls_in_flight=settings.dial_concurrency,
        transport=httpx.ASGITransport(app=sandbox.app),
    )
    return client, sandbox


def _live_kaleyra(settings: Settings) -> KaleyraClient:
    """The client with its defaults; the lifecycle applies what `voicebot doctor` found about
    the account (key style, method spellings) once the store is open."""
    assert settings.kaleyra_api_key is not None
    return KaleyraClient(
        api_key=settings.kaleyra_api_key.get_secret_value(),
        voice_url=settings.kaleyra_voice_url,
        io_url=settings.kaleyra_io_url,
        sid=settings.kaleyra_sid,
        timeout=settings.kaleyra_timeout_seconds,
        calls_in_flight=settings.dial_concurrency,
    )


def build_deps(
    settings: Settings,
    *,
    store: Store | None = None,
    kaleyra: KaleyraClient | None = None,
    slack: AsyncWebClient | None = None,
    clock: Clock | None = None,
    tuning: Tuning | None = None,
) -> Deps:
    """Production wiring by default: the real Kaleyra, or the embedded sandbox without a key.

    Tests and benches pass their own store, Kaleyra client, Slack client, clock and tuning.
    """
    clock = clock or utc_now
    store = store or Store(settings.database, clock=clock)
    sandbox = None
    if kaleyra is None:
        if settings.uses_sandbox:
            kaleyra, sandbox = _sandbox_kaleyra(settings)
        else:
            kaleyra = _live_kaleyra(settings)
    if slack is None:
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
        slack = PacedWebClient(token=token, base_url=settings.slack_api_url)
    if tuning is None:
        # With the scheduler on, its jobs follow calls; without it, one loop does.
        tuning = Tuning(auto_track=not settings.scheduler_enabled)
    background = Background()
    budget = SlackBudget(
        clock=tuning.slack_clock,
        spawn=lambda coro: background.spawn(coro, name="slack-call"),
        dispatch=tuning.slack_dispatch,
        rates=None if tuning.slack_limits else {},
        per_channel=None if tuning.slack_limits else {},
    )
    notify = Notifier(
        slack, sandbox=settings.uses_sandbox, budget=budget, progress_hold=tuning.progress_hold
    )
    deps = Deps(
        settings=settings,
        store=store,
        kaleyra=kaleyra,
        slack=slack,
        clock=clock,
        tuning=tuning,
        background=background,
        replies=Replies(sandbox=settings.uses_sandbox),
        notify=notify,
        agents=Agents(store, env_admins=settings.admins),
        deliveries=Deliveries(store),
        sandbox=sandbox,
    )
    deps.home = _home(deps)
    deps.c2c = _c2c(deps)
    deps.followup = _followup(deps)
    deps.reminders = _reminders(deps)
    deps.obd = _obd(deps)
    deps.voicehealth = _voicehealth(deps)
    deps.blacklist = _blacklist(deps)
    deps.callfeed = _callfeed(deps)
    deps.retention = Retention(
        store,
        clock,
        audit_days=settings.audit_retention_days,
        call_days=settings.call_retention_days,
    )
    deps.scheduler = scheduler_for(deps)
    return deps
