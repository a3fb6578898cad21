"""Runs every check, keeps what it learnt about the Kaleyra account, and says whether to go ahead."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from pydantic import BaseModel

from bot.doctor import config, kaleyra, public_url, slack
from bot.doctor.checks import Check, Status
from bot.kaleyra.models import GROUP_STATUS_METHODS
from bot.models import KaleyraAccount
from bot.services.callfeed import CHANNEL_KEY as CALLS_CHANNEL_KEY
from bot.services.voicehealth import DIGEST_CHANNEL as DIGEST_CHANNEL_KEY
from bot.settings import Settings

AREAS = ("configuration", "slack", "kaleyra", "public_url")


class DoctorReport(BaseModel):
    checks: list[Check]
    learnt: KaleyraAccount | None = None  # stored for the client, when the doctor found it

    @property
    def failed(self) -> bool:
        return any(c.status is Status.FAIL for c in self.checks)


def _now() -> datetime:
    return datetime.now(UTC)


async def run_doctor(
    settings: Settings,
    setting_checks: list[Check] | None = None,
    *,
    skip: frozenset[str] = frozenset(),
    clock: Callable[[], datetime] = _now,
    kaleyra_transport: httpx.AsyncBaseTransport | None = None,
) -> DoctorReport:
    """`setting_checks` are config.load's (invalid variables); the rest are run here."""
    now = clock()
    checks = list(setting_checks or [])
    if "configuration" not in skip:
        checks.extend(config.check_settings(settings, now))
    database_ok = not any(c.name == "database" and c.status is Status.FAIL for c in checks)
    if "slack" not in skip:
        channels = await _channels(settings, database_ok)
        checks.extend(await slack.check_slack(settings, channels))
    learnt = None
    if "kaleyra" not in skip:
        today = now.astimezone(settings.tz).date()
        found, findings = await kaleyra.check_kaleyra(settings, today, kaleyra_transport)
        checks.extend(found)
        if findings.key_style is not None:
            learnt, kept = await _keep(settings, findings, now, database_ok)
            checks.append(kept)
    if "public_url" not in skip:
        checks.append(await public_url.check_public_url(settings))
    checks.extend(Check.skip(area, "all", "skipped (--skip)") for area in AREAS if area in skip)
    secrets = [
        s.get_secret_value()
        for s in (
            settings.slack_bot_token,
            settings.slack_app_token,
            settings.slack_signing_secret,
            settings.kaleyra_api_key,
        )
        if s is not None and s.get_secret_value()
    ]
    return DoctorReport(checks=[c.redacted(secrets) for c in checks], learnt=learnt)


async def _channels(settings: Settings, database_ok: bool) -> list[slack.Channel]:
    """Where the bot posts: what an admin set from Slack wins over the environment."""
    store = config.open_store(settings, create=False) if database_ok else None
    try:
        stored = {
            key: await store.get_setting(key) if store is not None else None
            for key in (CALLS_CHANNEL_KEY, DIGEST_CHANNEL_KEY)
        }
    finally:
        if store is not None:
            await store.aclose()

    def chosen(key: str, default: str | None) -> str | None:
        return None if stored[key] == "off" else (stored[key] or default)

    return [
        slack.Channel(
            "calls channel",
            chosen(CALLS_CHANNEL_KEY, settings.calls_channel),
            "CALLS_CHANNEL or /c2c feed",
            True,  # incoming calls and their Call back go there
        ),
        slack.Channel(
            "digest channel",
            chosen(DIGEST_CHANNEL_KEY, settings.health_digest_channel),
            "HEALTH_DIGEST_CHANNEL or /voicehealth digest",
            False,
        ),
    ]


async def _keep(
    settings: Settings, findings: kaleyra.Findings, now: datetime, database_ok: bool
) -> tuple[KaleyraAccount, Check]:
    """Store the account's dialect where the client reads it at start."""
    assert findings.key_style is not None
    store = config.open_store(settings, create=True) if database_ok else None
    try:
        previous = await store.kaleyra_account() if store is not None else None
        method = findings.group_status_method or (
            previous.group_status_method if previous else GROUP_STATUS_METHODS[0]
        )
        account = KaleyraAccount(
            key_style=findings.key_style, group_status_method=method, checked_at=now.astimezone(UTC)
        )
        if store is not None:
            await store.set_kaleyra_account(account)
    finally:
        if store is not None:
            await store.aclose()
    what = f"key in the {account.key_style.value}, call groups with {method}"
    if store is None:
        return account, Check.warn(
            "kaleyra", "stored", f"{what}: not stored (the doctor cannot open this database yet)"
        )
    return account, Check.ok("kaleyra", "stored", f"{what}: the bot uses this from its next start")
