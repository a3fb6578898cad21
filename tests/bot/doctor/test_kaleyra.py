"""Kaleyra, read-only: the key style and spelling the account accepts, named; reads only."""

from __future__ import annotations

import pytest

from bot.doctor import Status, run_doctor
from bot.doctor.kaleyra import check_kaleyra
from bot.kaleyra.models import KeyStyle
from bot.local.serverthread import free_port
from bot.store import Store
from tests.bot.doctor.conftest import CALL_PLACING, READS, doctor_settings

ONLY_KALEYRA = frozenset({"configuration", "slack", "public_url"})


def _by_name(checks):
    return {check.name: check for check in checks}


@pytest.mark.parametrize("style", list(KeyStyle))
async def test_the_one_key_style_the_account_takes_is_named_and_stored(
    sandbox, tmp_path, clock, style: KeyStyle
) -> None:
    sandbox.state.key_styles = frozenset({style.value})
    settings = doctor_settings(sandbox, None, tmp_path)
    report = await run_doctor(settings, skip=ONLY_KALEYRA, clock=lambda: clock.now)
    checks = _by_name(report.checks)
    assert not report.failed
    assert f"takes the key in the {style.value} (" in checks["key style"].detail
    for other in set(KeyStyle) - {style}:
        assert f"{other.value}: refused (E100 API key is missing)" in checks["key style"].detail
    assert (await Store(settings.database_path).kaleyra_account()).key_style is style
    # The reads that found it: monitor, then today's click-to-call log and incoming calls.
    tried = [r for r in sandbox.state.recorded() if r.key_place == style.value]
    assert [r.operation for r in tried][:3] == ["monitor", "dial.c2cstatus", "dial"]
    assert tried[1].form["fromdate"] == tried[1].form["todate"] == "2026/11/23"


async def test_a_wrong_key_is_refused_every_way_and_nothing_is_stored(
    sandbox, tmp_path, clock
) -> None:
    sandbox.state.api_key = "the-right-key"
    settings = doctor_settings(sandbox, None, tmp_path)
    report = await run_doctor(settings, skip=ONLY_KALEYRA, clock=lambda: clock.now)
    key = _by_name(report.checks)["key style"]
    assert report.failed and key.status is Status.FAIL
    assert "refused the key every documented way" in key.detail
    assert "E101 Invalid API key" in key.detail
    assert key.fix is not None and "KALEYRA_API_KEY is wrong" in key.fix
    assert report.learnt is None
    assert await Store(settings.database_path).kaleyra_account() is None
    assert "group status" not in _by_name(report.checks)  # no spelling probe without a key


async def test_the_tables_spelling_when_the_account_knows_only_it(sandbox, tmp_path, clock):
    sandbox.state.group_status_spelling = "voice.groupstatus"
    checks, findings = await check_kaleyra(
        doctor_settings(sandbox, None, tmp_path), clock.now.date()
    )
    assert findings.group_status_method == "voice.groupstatus"
    assert "voice.groupStatus: E102 Invalid method" in _by_name(checks)["group status"].detail


async def test_neither_spelling_is_a_failure_with_what_to_ask(sandbox, tmp_path, clock) -> None:
    sandbox.state.group_status_spelling = "VOICE.GROUPSTATUS"
    checks, findings = await check_kaleyra(
        doctor_settings(sandbox, None, tmp_path), clock.now.date()
    )
    spelling = _by_name(checks)["group status"]
    assert spelling.status is Status.FAIL and findings.group_status_method is None
    assert spelling.fix is not None and "ask Kaleyra support" in spelling.fix


async def test_an_unreachable_voice_api_is_one_failure(sandbox, tmp_path, clock) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1/"
    checks, findings = await check_kaleyra(
        doctor_settings(sandbox, None, tmp_path, kaleyra_voice_url=url), clock.now.date()
    )
    assert [c.name for c in checks] == ["voice API"]
    assert (
        checks[0].status is Status.FAIL and "cannot be reached from this host" in checks[0].detail
    )
    assert findings.key_style is None


async def test_without_a_key_the_sandbox_is_a_failure(sandbox, tmp_path, clock) -> None:
    settings = doctor_settings(sandbox, None, tmp_path, kaleyra_api_key=None)
    checks, _ = await check_kaleyra(settings, clock.now.date())
    assert checks[0].status is Status.FAIL and "built-in sandbox" in checks[0].detail
    assert sandbox.state.recorded() == []


async def test_kaleyra_io_is_named_as_not_checkable_and_never_called(sandbox, tmp_path, clock):
    settings = doctor_settings(sandbox, None, tmp_path, kaleyra_sid="HX123")
    checks = _by_name((await check_kaleyra(settings, clock.now.date()))[0])
    assert checks["kaleyra.io bridge"].status is Status.FAIL  # KALEYRA_BRIDGE unset
    io = checks["kaleyra.io"]
    assert io.status is Status.WARN
    assert "cannot be checked without placing a call" in io.detail
    operations = {r.operation for r in sandbox.state.recorded()}
    assert operations <= READS and not operations & CALL_PLACING
