"""PUBLIC_URL: reachable from here and serving this bot's /healthz."""

from __future__ import annotations

from bot.doctor import Status
from bot.doctor.public_url import check_public_url
from bot.local.serverthread import free_port
from tests.bot.doctor.conftest import doctor_settings


async def test_this_bot_serving_is_ok(bot, tmp_path) -> None:
    settings = doctor_settings(bot.sandbox, None, tmp_path, public_url=bot.app_server.url)
    check = await check_public_url(settings)
    assert check.status is Status.OK and "this voicebot is serving" in check.detail


async def test_another_voicebot_is_a_failure(bot, tmp_path) -> None:
    settings = doctor_settings(
        bot.sandbox, None, tmp_path, public_url=bot.app_server.url, slack_app_token="xapp-1-x"
    )
    check = await check_public_url(settings)
    assert check.status is Status.FAIL
    assert (
        "another voicebot (kaleyra live, mode http; this configuration: kaleyra live, mode socket)"
        in check.detail
    )


async def test_something_else_is_a_failure(sandbox, tmp_path) -> None:
    check = await check_public_url(doctor_settings(sandbox, None, tmp_path, public_url=sandbox.url))
    assert check.status is Status.FAIL and "not with voicebot's /healthz" in check.detail


async def test_unreachable_and_unset(sandbox, tmp_path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    check = await check_public_url(doctor_settings(sandbox, None, tmp_path, public_url=url))
    assert check.status is Status.FAIL and check.fix is not None
    assert "--skip public_url" in check.fix
    unset = await check_public_url(doctor_settings(sandbox, None, tmp_path))
    assert unset.status is Status.SKIP and "polling" in unset.detail
