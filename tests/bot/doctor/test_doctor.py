"""The issue's scenario: an account that takes the key one way and spells voice.groupStatus one
way, a token missing a scope, a bot outside the calls channel and an unreachable PUBLIC_URL.
Each is reported with its fix, the client then uses what the doctor found, and Kaleyra saw no
request that could ring a phone."""

from __future__ import annotations

import pytest

from bot.deps import build_deps
from bot.doctor import Status, render, run_doctor
from bot.kaleyra import KaleyraAPIError
from bot.kaleyra.models import KeyStyle, LogQuery
from bot.local.serverthread import free_port
from bot.store import Store
from tests.bot.doctor.conftest import CALL_PLACING, CALLS, EVERY_SCOPE, KEY, READS, doctor_settings


def _by_name(report):
    return {check.name: check for check in report.checks}


@pytest.fixture
def account(sandbox):
    """The sandbox as a real account might be: the key only as a parameter, one spelling."""
    sandbox.state.key_styles = frozenset({"api_key parameter"})
    sandbox.state.group_status_spelling = "voice.groupStatus"
    sandbox.state.api_key = KEY
    return sandbox


async def test_each_problem_is_reported_with_its_fix(account, fake_slack, tmp_path, clock) -> None:
    fake_slack.oauth_scopes = [s for s in EVERY_SCOPE if s != "chat:write"]
    fake_slack.not_member = {CALLS}
    unreachable = f"http://127.0.0.1:{free_port()}"
    settings = doctor_settings(account, fake_slack, tmp_path, public_url=unreachable)

    report = await run_doctor(settings, clock=lambda: clock.now)
    checks = _by_name(report)

    assert report.failed
    assert checks["key style"].status is Status.OK
    assert "takes the key in the api_key parameter" in checks["key style"].detail
    assert "x-api-key header: refused (E100 API key is missing)" in checks["key style"].detail
    assert checks["group status"].status is Status.OK
    assert "reads call groups with voice.groupStatus" in checks["group status"].detail
    assert "voice.groupstatus: E102" in checks["group status"].detail

    scope = checks["scope chat:write"]
    assert scope.status is Status.FAIL
    assert "every message the bot posts" in scope.detail
    assert scope.fix is not None and "add chat:write under OAuth & Permissions" in scope.fix

    calls = checks["calls channel"]
    assert calls.status is Status.FAIL and "not a member" in calls.detail
    assert calls.fix == f"in the channel {CALLS} type `/invite @voicebot`"
    assert checks["digest channel"].status is Status.OK

    url = checks["PUBLIC_URL"]
    assert url.status is Status.FAIL and "cannot be reached from this host" in url.detail
    assert url.fix is not None and "unset PUBLIC_URL to poll call status" in url.fix

    table = render(report.checks)
    words = " ".join(table.split())  # the table wraps long lines
    for check in (scope, calls, url):
        assert f"fix: {' '.join((check.fix or '').split())}" in words
    assert table.endswith("3 problems a call would hit.")
    assert KEY not in table and "xoxb-doctor-token" not in table

    # Kaleyra saw reads only: nothing that rings a phone or changes the account.
    operations = {r.operation for r in account.state.recorded()}
    assert operations <= READS and not operations & CALL_PLACING
    assert {"monitor", "dial.c2cstatus", "dial"} <= operations


async def test_the_client_then_uses_what_the_doctor_found(account, fake_slack, tmp_path, clock):
    settings = doctor_settings(account, fake_slack, tmp_path)
    report = await run_doctor(settings, clock=lambda: clock.now)
    assert report.learnt is not None and report.learnt.key_style is KeyStyle.API_KEY_PARAMETER

    stored = Store(settings.database_path)
    assert await stored.kaleyra_account() == report.learnt
    account.state.clear_requests()
    deps = build_deps(settings, store=stored)  # production wiring: the live client
    deps.kaleyra.adapt(await stored.kaleyra_account())  # as the lifecycle does at start
    try:
        assert deps.kaleyra.key_style is KeyStyle.API_KEY_PARAMETER
        await deps.kaleyra.health()
        await deps.kaleyra.c2c_log(LogQuery())
        with pytest.raises(KaleyraAPIError) as refused:
            await deps.kaleyra.obd_group_status("217691534")
        assert refused.value.code == "E108"  # the group is unknown; the method is not
    finally:
        await deps.aclose()
    sent = account.state.recorded()
    assert [r.key_place for r in sent] == ["api_key parameter"] * 3
    assert sent[-1].operation == "voice.groupStatus"
    assert all("api_key" not in r.form for r in sent)  # the record never keeps the key


async def test_a_healthy_installation_passes(sandbox, fake_slack, tmp_path, clock) -> None:
    report = await run_doctor(
        doctor_settings(sandbox, fake_slack, tmp_path), clock=lambda: clock.now
    )
    assert not report.failed, render(report.checks)
    checks = _by_name(report)
    assert "takes the key in the x-api-key header (x-api-key header: accepted;" in (
        checks["key style"].detail
    )
    assert "voice.groupstatus; both spellings answer" in checks["group status"].detail
    assert checks["stored"].status is Status.OK
