"""Slack: token, scopes (x-oauth-scopes) against the manifest's, channels, Socket Mode; nothing posted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from bot.doctor import Status
from bot.doctor.slack import SCOPES, Channel, _clock, check_slack
from tests.bot.doctor.conftest import CALLS, OPS, doctor_settings

ROOT = Path(__file__).parents[3]
CHANNELS = [
    Channel("calls channel", CALLS, "CALLS_CHANNEL", True),
    Channel("digest channel", OPS, "HEALTH_DIGEST_CHANNEL", False),
]


def _by_name(checks):
    return {check.name: check for check in checks}


def test_the_doctor_knows_every_scope_of_the_manifest() -> None:
    manifest = yaml.safe_load((ROOT / "app_manifest.yaml").read_text())
    assert list(SCOPES) == manifest["oauth_config"]["scopes"]["bot"]


async def test_everything_in_order_and_nothing_posted(sandbox, fake_slack, tmp_path) -> None:
    checks = await check_slack(doctor_settings(sandbox, fake_slack, tmp_path), CHANNELS)
    assert all(c.status in {Status.OK, Status.SKIP} for c in checks), checks
    assert "U0VOICEBOT" in _by_name(checks)["token"].detail
    assert [p["channel"] for p in fake_slack.of("conversations.info")] == [CALLS, OPS]
    assert not [c for c in fake_slack.calls if c.method.startswith(("chat.", "files."))]


async def test_a_missing_scope_that_calls_do_not_need_is_a_warning(sandbox, fake_slack, tmp_path):
    fake_slack.oauth_scopes = [s for s in fake_slack.oauth_scopes if s != "im:write"]
    checks = _by_name(await check_slack(doctor_settings(sandbox, fake_slack, tmp_path), CHANNELS))
    scope = checks["scope im:write"]
    assert scope.status is Status.WARN and "follow-up reminders" in scope.detail
    assert "scopes" not in checks


async def test_without_read_scopes_the_channels_are_not_guessed(sandbox, fake_slack, tmp_path):
    fake_slack.oauth_scopes = list(SCOPES)  # the manifest's: no channels:read
    checks = _by_name(await check_slack(doctor_settings(sandbox, fake_slack, tmp_path), CHANNELS))
    calls = checks["calls channel"]
    assert calls.status is Status.WARN and "cannot be checked without posting" in calls.detail
    assert calls.fix is not None and f"in the channel {CALLS} type `/invite @voicebot`" in calls.fix
    assert fake_slack.of("conversations.info") == []


async def test_a_digest_channel_without_the_bot_is_a_warning(sandbox, fake_slack, tmp_path):
    fake_slack.not_member = {OPS}
    checks = _by_name(await check_slack(doctor_settings(sandbox, fake_slack, tmp_path), CHANNELS))
    assert checks["calls channel"].status is Status.OK
    assert checks["digest channel"].status is Status.WARN


async def test_no_scope_header_is_said(sandbox, fake_slack, tmp_path) -> None:
    fake_slack.oauth_scopes = None
    checks = _by_name(await check_slack(doctor_settings(sandbox, fake_slack, tmp_path), CHANNELS))
    assert checks["scopes"].status is Status.WARN and "x-oauth-scopes" in checks["scopes"].detail


async def test_a_revoked_token_is_a_failure(sandbox, fake_slack, tmp_path) -> None:
    fake_slack.fail("auth.test", "token_revoked")
    checks = await check_slack(doctor_settings(sandbox, fake_slack, tmp_path), CHANNELS)
    assert [(c.name, c.status) for c in checks] == [("token", Status.FAIL)]
    assert "token_revoked" in checks[0].detail


async def test_socket_mode_app_token(sandbox, fake_slack, tmp_path) -> None:
    settings = doctor_settings(sandbox, fake_slack, tmp_path, slack_app_token="xapp-1-doctor")
    checks = _by_name(await check_slack(settings, CHANNELS))
    assert checks["socket mode"].status is Status.OK
    fake_slack.fail("apps.connections.open", "invalid_auth")
    checks = _by_name(await check_slack(settings, CHANNELS))
    assert checks["socket mode"].status is Status.FAIL
    assert "invalid_auth" in checks["socket mode"].detail


def test_a_clock_off_slacks_is_a_failure() -> None:
    slack_time = datetime(2026, 11, 23, 5, 30, tzinfo=UTC)
    headers = {"date": "Mon, 23 Nov 2026 05:30:00 GMT"}
    assert _clock(headers, slack_time + timedelta(seconds=30)).status is Status.OK
    late = _clock(headers, slack_time + timedelta(minutes=7))
    assert late.status is Status.FAIL and "HTTP 401" in late.detail
