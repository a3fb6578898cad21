"""Reads retry with backoff; call-placing requests are sent at most once."""

from __future__ import annotations

import httpx
import pytest

from bot.kaleyra import KaleyraClient, KaleyraConnectionError, KaleyraTimeout
from bot.kaleyra.models import ClickToCallRequest, ObdRequest
from bot.sandbox import Fault

OK_MONITOR = b'{"status":"E701","message":"No incidents found"}'


def scripted(*answers: object) -> tuple[KaleyraClient, list[httpx.Request], list[float]]:
    """A client whose transport plays `answers` in order: a status code, bytes, or an exception."""
    seen: list[httpx.Request] = []
    sleeps: list[float] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, int):
            return httpx.Response(answer, text="<html>busy</html>")
        return httpx.Response(200, content=answer)

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    client = KaleyraClient(
        api_key="k", transport=httpx.MockTransport(handler), sleep=fake_sleep, backoff_seconds=0.5
    )
    return client, seen, sleeps


async def test_read_503_then_200_succeeds_after_backoff() -> None:
    client, seen, sleeps = scripted(503, OK_MONITOR)
    report = await client.health()
    assert report.all_clear and len(seen) == 2 and sleeps == [0.5]


async def test_read_connection_errors_back_off_exponentially_then_give_up() -> None:
    error = httpx.ConnectError("refused")
    client, seen, sleeps = scripted(error, error, error)
    with pytest.raises(KaleyraConnectionError):
        await client.health()
    assert len(seen) == 3 and sleeps == [0.5, 1.0]


async def test_click_to_call_timeout_is_sent_once_and_unknown() -> None:
    client, seen, sleeps = scripted(httpx.ReadTimeout("slow"))
    with pytest.raises(KaleyraTimeout) as err:
        await client.click_to_call(ClickToCallRequest(caller="9876543210", receiver="9123456789"))
    assert err.value.outcome_unknown is True
    assert len(seen) == 1 and sleeps == []


async def test_click_to_call_503_is_not_retried() -> None:
    client, seen, _ = scripted(503, b'{"status":"200","message":"OK","data":{"id":"c2c_1"}}')
    with pytest.raises(Exception) as err:
        await client.click_to_call(ClickToCallRequest(caller="9876543210", receiver="9123456789"))
    assert err.value.outcome_unknown is True and len(seen) == 1


async def test_click_to_call_refused_connection_means_nothing_was_sent() -> None:
    client, seen, _ = scripted(httpx.ConnectError("refused"))
    with pytest.raises(KaleyraConnectionError) as err:
        await client.click_to_call(ClickToCallRequest(caller="9876543210", receiver="9123456789"))
    assert err.value.outcome_unknown is False and len(seen) == 1


async def test_real_timeout_against_sandbox_is_sent_once(sandbox) -> None:
    sandbox.state.set_fault("dial.click2call", Fault(timeout=True, hang_seconds=2))
    client = KaleyraClient(api_key="k", voice_url=sandbox.voice_url, timeout=0.3)
    with pytest.raises(KaleyraTimeout) as err:
        await client.click_to_call(ClickToCallRequest(caller="9876543210", receiver="9123456789"))
    assert err.value.outcome_unknown
    assert len(sandbox.state.recorded("dial.click2call")) == 1
    await client.aclose()


async def test_obd_chunk_that_times_out_is_unknown_and_not_resent(sandbox) -> None:
    sandbox.state.set_fault("voice.call", Fault(timeout=True, hang_seconds=2))
    client = KaleyraClient(api_key="k", voice_url=sandbox.voice_url, timeout=0.3)
    batch = [str(9100000010 + i) for i in range(250)]
    result = await client.obd_call(ObdRequest(numbers=batch, play="123.sound"))
    assert result.unknown == batch and result.accepted == []
    assert len(sandbox.state.recorded("voice.call")) == 2
    await client.aclose()


async def test_malformed_json_is_a_clear_error() -> None:
    client, _, _ = scripted(b'{"status": "200", "message": ', b"not json", b"still not")
    with pytest.raises(Exception, match="not JSON"):
        await client.health()
