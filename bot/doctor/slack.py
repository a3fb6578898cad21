"""Slack: the token, its scopes against the manifest's, the channels the bot posts in, Socket Mode.

Read-only: auth.test, conversations.info (only when the token's scopes allow it) and, with an
app token, apps.connections.open, which hands out a WebSocket URL and changes nothing (the URL
is never opened and expires). Nothing is posted.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.doctor.checks import Check
from bot.settings import Settings

AREA = "slack"


class Scope(NamedTuple):
    stops: str  # what stops working without it
    call_needs: bool  # True: a call fails without it (the doctor exits non-zero)


# The bot scopes of app_manifest.yaml (tests/bot/doctor keeps the two equal), and their uses.
SCOPES = {
    "commands": Scope("every slash command (/c2c …) and the Call this number shortcut", True),
    "chat:write": Scope("every message the bot posts: call cards, the calls feed, digests", True),
    "channels:history": Scope(
        "finding a calls-feed post after a crash, so it is updated instead of posted twice"
        " (public calls channel)",
        False,
    ),
    "groups:history": Scope("the same for a private calls channel", False),
    "im:write": Scope("follow-up reminders (opening the DM a reminder goes to)", False),
    "files:read": Scope("CSV files uploaded in the /obd form", False),
    "files:write": Scope("the results CSV of a finished campaign", False),
}
# conversations.info answers for public channels with channels:read, private with groups:read.
READ_SCOPES = ("channels:read", "groups:read")
CLOCK_SKEW_SECONDS = 300  # Slack refuses requests signed more than 5 minutes off


class Channel(NamedTuple):
    role: str  # "calls channel", "digest channel"
    id: str | None
    variable: str
    call_needs: bool


def _error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "error"))
    return type(exc).__name__


FAILURES = (SlackApiError, aiohttp.ClientError, asyncio.TimeoutError, OSError)


async def check_slack(
    settings: Settings, channels: list[Channel], wall_now: datetime | None = None
) -> list[Check]:
    """`wall_now`: this host's clock (default: now), compared with Slack's `Date`."""
    if settings.slack_bot_token is None:
        return [
            Check.fail(
                AREA,
                "token",
                "SLACK_BOT_TOKEN is not set",
                "set it to the Bot User OAuth Token (OAuth & Permissions, xoxb-…)",
            )
        ]
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=10,
    )
    try:
        answer = await client.auth_test()
    except FAILURES as exc:
        return [_token_refused(settings, exc)]
    headers = {k.lower(): v for k, v in (answer.headers or {}).items()}
    scopes = _scopes(headers)
    checks = [
        Check.ok(
            AREA,
            "token",
            f"auth.test: bot {answer.get('user')} ({answer.get('user_id')})"
            f" in {answer.get('team')} ({answer.get('team_id')})",
        ),
        _clock(headers, wall_now or datetime.now(UTC)),
        *_scope_checks(scopes),
    ]
    for channel in channels:
        checks.append(await _channel(client, channel, scopes))
    checks.append(await _socket_mode(settings))
    return checks


def _token_refused(settings: Settings, exc: Exception) -> Check:
    error = _error(exc)
    if isinstance(exc, SlackApiError):
        return Check.fail(
            AREA,
            "token",
            f"auth.test answered {error}",
            "copy the Bot User OAuth Token again (OAuth & Permissions, xoxb-…); a revoked or"
            " uninstalled app needs reinstalling to the workspace first",
        )
    return Check.fail(
        AREA,
        "token",
        f"Slack cannot be reached at {settings.slack_api_url} ({error})",
        "check this host's DNS, proxy and firewall for HTTPS to slack.com (or SLACK_API_URL)",
    )


def _scopes(headers: dict[str, str]) -> set[str] | None:
    raw = headers.get("x-oauth-scopes")
    if raw is None:
        return None
    return {s.strip() for s in raw.split(",") if s.strip()}


def _clock(headers: dict[str, str], now: datetime) -> Check:
    try:
        slack_time = parsedate_to_datetime(headers["date"])
    except (KeyError, TypeError, ValueError):
        return Check.skip(AREA, "clock", "Slack's answer had no Date header to compare with")
    skew = abs((now.astimezone(UTC) - slack_time.astimezone(UTC)).total_seconds())
    if skew > CLOCK_SKEW_SECONDS:
        return Check.fail(
            AREA,
            "clock",
            f"this host's clock is {skew / 60:.0f} minutes off Slack's: every request from"
            " Slack would be refused (HTTP 401 from /slack/events)",
            "synchronise the clock (NTP, e.g. systemd-timesyncd or chrony)",
        )
    return Check.ok(AREA, "clock", f"within {skew:.0f} s of Slack's")


def _scope_checks(scopes: set[str] | None) -> list[Check]:
    if scopes is None:
        return [
            Check.warn(
                AREA,
                "scopes",
                "Slack's answer did not say which scopes the token has (no x-oauth-scopes)",
                "compare OAuth & Permissions → Bot Token Scopes with app_manifest.yaml by hand",
            )
        ]
    missing = [name for name in SCOPES if name not in scopes]
    if not missing:
        every = ", ".join(SCOPES)
        return [Check.ok(AREA, "scopes", f"the token has every scope of the manifest: {every}")]
    return [
        (Check.fail if SCOPES[name].call_needs else Check.warn)(
            AREA,
            f"scope {name}",
            f"missing: without it these fail: {SCOPES[name].stops}",
            f"add {name} under OAuth & Permissions → Bot Token Scopes (it is in"
            " app_manifest.yaml), then reinstall the app to the workspace",
        )
        for name in missing
    ]


async def _channel(client: AsyncWebClient, channel: Channel, scopes: set[str] | None) -> Check:
    name = channel.role
    if channel.id is None:
        return Check.skip(AREA, name, f"not set ({channel.variable})")
    invite = f"in the channel {channel.id} type `/invite @voicebot`"
    if scopes is not None and not scopes & set(READ_SCOPES):
        return Check.warn(
            AREA,
            name,
            f"{channel.id}: cannot be checked without posting (the token has neither"
            " channels:read nor groups:read)",
            f"make sure the bot is a member: {invite}; granting channels:read lets the"
            " doctor check",
        )
    try:
        answer = await client.conversations_info(channel=channel.id)
    except FAILURES as exc:
        return _channel_unknown(channel, _error(exc), invite)
    info: dict[str, Any] = answer.get("channel") or {}
    if info.get("is_member"):
        return Check.ok(AREA, name, f"{channel.id}: the bot is a member and can post")
    make = Check.fail if channel.call_needs else Check.warn
    return make(
        AREA,
        name,
        f"{channel.id}: the bot is not a member, so every post there fails (not_in_channel)",
        invite,
    )


def _channel_unknown(channel: Channel, error: str, invite: str) -> Check:
    if error == "missing_scope":
        return Check.warn(
            AREA,
            channel.role,
            f"{channel.id}: cannot be checked without posting (conversations.info: {error})",
            f"make sure the bot is a member: {invite}",
        )
    return Check.warn(
        AREA,
        channel.role,
        f"{channel.id}: conversations.info answered {error}; a private channel needs"
        " groups:read to be checked, and a wrong id is not found either",
        f"check {channel.variable} is the channel's id (channel details, at the bottom),"
        f" then {invite}",
    )


async def _socket_mode(settings: Settings) -> Check:
    if settings.slack_app_token is None:
        return Check.skip(AREA, "socket mode", "HTTP mode (SLACK_APP_TOKEN not set)")
    token = settings.slack_app_token.get_secret_value()
    client = AsyncWebClient(base_url=settings.slack_api_url, timeout=10)
    try:
        await client.apps_connections_open(app_token=token)
    except FAILURES as exc:
        return Check.fail(
            AREA,
            "socket mode",
            f"apps.connections.open answered {_error(exc)} for SLACK_APP_TOKEN",
            "create an app-level token with connections:write (Basic Information → App-Level"
            " Tokens) and turn Socket Mode on in the app's settings",
        )
    return Check.ok(AREA, "socket mode", "SLACK_APP_TOKEN accepted: Slack hands out connections")
