"""Issue 12 item 9: every 200 answer the client cannot read is a KaleyraError the user reads.

Answers are played by httpx.MockTransport; each test asserts the error class, whether the
outcome is unknown (call-placing requests are never re-sent), and the words the user sees.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bot.kaleyra import KaleyraBadAnswer, KaleyraClient, KaleyraError, KaleyraServerError
from bot.kaleyra.models import (
    ClickToCallRequest,
    FollowupRequest,
    LogQuery,
    ObdRequest,
    OutboundRequest,
    OutboundTarget,
)
from bot.views.common import describe_kaleyra_error

DIAL = ClickToCallRequest(caller="9876543210", receiver="9123456789")


def answering(*answers: Any) -> tuple[KaleyraClient, list[httpx.Request]]:
    """A client whose transport plays `answers` in order (a dict/list is JSON, bytes are raw)."""
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, bytes):
            return httpx.Response(200, content=answer)
        return httpx.Response(200, content=json.dumps(answer).encode())

    async def no_sleep(_seconds: float) -> None:
        return None

    client = KaleyraClient(
        api_key="k", sid="HX1", transport=httpx.MockTransport(handler), sleep=no_sleep
    )
    return client, seen


def ok(data: Any) -> dict[str, Any]:
    return {"status": "200", "message": "OK", "data": data}


# ----------------------------------------------------------------------------- tolerated shapes


async def test_numeric_click_to_call_id_is_read_as_text() -> None:
    client, _ = answering(ok({"id": 5012345}))
    assert (await client.click_to_call(DIAL)).id == "5012345"


async def test_click_to_call_id_in_a_list_is_read() -> None:
    client, _ = answering(ok([{"id": "c2c_1"}]))
    assert (await client.click_to_call(DIAL)).id == "c2c_1"


async def test_numeric_ids_and_numbers_in_status_rows_are_text() -> None:
    row = {"id": 77, "callfrom": 9876543210, "callto": 9123456789, "credits": 1.2}
    client, _ = answering(ok([row]))
    (call,) = await client.c2c_log()
    assert (call.id, call.callfrom, call.callto, call.credits) == (
        "77",
        "9876543210",
        "9123456789",
        "1.2",
    )


async def test_incident_with_null_region_is_unknown_region() -> None:
    incidents = [{"region": None, "region_code": None, "type": "critical", "service": None}]
    client, _ = answering(ok({"incidents": incidents}))
    (incident,) = (await client.health()).incidents
    assert (incident.region, incident.region_code, incident.service, incident.type) == (
        "unknown",
        "",
        "all",
        "critical",
    )


async def test_followup_rows_with_numbers_and_nulls() -> None:
    row = {"id": 1864, "phone": 8712345678, "name": None, "follower": 9712345678, "ontime": None}
    client, _ = answering(ok([row]))
    (record,) = await client.followup_report()
    assert (record.id, record.phone, record.name, record.follower, record.ontime) == (
        "1864",
        "8712345678",
        "",
        "9712345678",
        "",
    )


async def test_numeric_followup_id_on_create() -> None:
    client, _ = answering(ok({"id": 2354}))
    request = FollowupRequest(
        phone="9123456789", name="Asha", follower="9876543210", ontime="2030-01-02T10:00"
    )
    assert await client.followup_create(request) == "2354"


async def test_numeric_obd_ids_and_group() -> None:
    client, _ = answering(ok({"0": {"id": 123, "mobile": 9123456789}, "group_id": 9}))
    result = await client.obd_call(ObdRequest(numbers=["9123456789"], play="1.sound"))
    answer = result.chunks[0].result
    assert result.accepted == ["9123456789"]
    assert (answer.group_id, answer.calls[0].id, answer.calls[0].mobile) == (
        "9",
        "123",
        "9123456789",
    )


# ----------------------------------------------------------------------------- reads that fail


@pytest.mark.parametrize(
    ("answer", "where"),
    [
        (ok([{"callfrom": "9876543210", "status": "ANSWER"}]), "id"),
        (ok([{"id": {"nested": True}}]), "id"),
        ({"status": "200", "message": "OK", "data": [{"id": ["x"]}]}, "id"),
    ],
    ids=["row without id", "id is an object", "id is a list"],
)
async def test_status_row_that_cannot_be_read(answer: dict[str, Any], where: str) -> None:
    client, seen = answering(answer)
    with pytest.raises(KaleyraBadAnswer) as err:
        await client.c2c_status("c2c_1")
    assert err.value.outcome_unknown is False and where in err.value.problem
    words = describe_kaleyra_error(err.value)
    assert words.startswith("Kaleyra had a problem (Kaleyra's answer to dial.c2cstatus")
    assert "Try again in a few minutes." in words
    assert len(seen) == 1  # the row was read once; a bad row is not a reason to ask again


async def test_bad_row_never_shows_the_value_it_carried() -> None:
    client, _ = answering(ok([{"id": None, "callto": "9123456789"}]))
    with pytest.raises(KaleyraBadAnswer) as err:
        await client.c2c_log(LogQuery())
    assert "9123456789" not in err.value.user_message and "9123456789" not in str(err.value)


@pytest.mark.parametrize(
    "answer",
    [
        ok({"incidents": [{"region": "Karnataka", "numbers": {"a": 1}}]}),
        ok({"incidents": [{"region": "Karnataka", "type": ["critical"]}]}),
    ],
    ids=["numbers not a list", "type not text"],
)
async def test_monitor_incident_that_cannot_be_read(answer: dict[str, Any]) -> None:
    client, _ = answering(answer)
    with pytest.raises(KaleyraBadAnswer) as err:
        await client.health()
    assert "monitor" in err.value.user_message


async def test_call_detail_without_id() -> None:
    client, _ = answering(ok({"0": {"callfrom": "9876543210"}}))
    with pytest.raises(KaleyraBadAnswer, match="dial"):
        await client.call_details()


async def test_followup_report_row_without_phone() -> None:
    client, _ = answering(ok([{"id": "1"}]))
    with pytest.raises(KaleyraBadAnswer, match="phone"):
        await client.followup_report()


async def test_obd_status_row_without_id() -> None:
    client, _ = answering(ok({"0": {"mobile": "9123456789", "status": "ANSWER"}}))
    with pytest.raises(KaleyraBadAnswer):
        await client.obd_status("123-1")


async def test_followup_create_without_id_is_an_error_not_an_empty_id() -> None:
    client, _ = answering(ok({"note": "saved"}))
    request = FollowupRequest(
        phone="9123456789", name="Asha", follower="9876543210", ontime="2030-01-02T10:00"
    )
    with pytest.raises(KaleyraBadAnswer, match="no follow-up id"):
        await client.followup_create(request)


async def test_envelope_that_is_not_an_object_is_a_bad_answer_and_retried_for_reads() -> None:
    client, seen = answering([1, 2, 3])
    with pytest.raises(KaleyraBadAnswer) as err:
        await client.health()
    assert isinstance(err.value, KaleyraServerError)  # callers catching the old class still do
    assert len(seen) == 3 and "not JSON" in err.value.user_message


async def test_envelope_message_of_another_type_is_text() -> None:
    client, _ = answering({"status": 200, "message": 7, "data": {"id": "c2c_1"}})
    assert (await client.click_to_call(DIAL)).message == "7"


# ----------------------------------------------------------------------------- calls placed


async def test_click_to_call_200_without_id_is_unknown_and_not_resent() -> None:
    client, seen = answering(ok({}))
    with pytest.raises(KaleyraBadAnswer) as err:
        await client.click_to_call(DIAL)
    assert err.value.outcome_unknown is True and len(seen) == 1
    assert describe_kaleyra_error(err.value) == (
        "Kaleyra had a problem (Kaleyra's answer to dial.click2call was not in the expected"
        " shape (no call id)); whether it went through is unknown, so nothing was re-sent."
    )


@pytest.mark.parametrize(
    "answer",
    [b"<html>OK</html>", ok({"id": {"x": 1}}), ok(["not a row"]), ok({"id": True})],
    ids=["html", "id object", "list of text", "id bool"],
)
async def test_click_to_call_odd_200_is_unknown_never_a_stray_exception(answer: Any) -> None:
    client, seen = answering(answer)
    with pytest.raises(KaleyraError) as err:
        await client.click_to_call(DIAL)
    assert isinstance(err.value, KaleyraBadAnswer)
    assert err.value.outcome_unknown is True and len(seen) == 1


async def test_voice_call_row_without_id_is_an_unknown_chunk() -> None:
    client, seen = answering(ok({"0": {"mobile": "9123456789"}, "group_id": "9"}))
    result = await client.obd_call(ObdRequest(numbers=["9123456789"], play="1.sound"))
    (chunk,) = result.chunks
    assert chunk.state == "unknown" and isinstance(chunk.error, KaleyraBadAnswer)
    assert result.unknown == ["9123456789"] and len(seen) == 1


async def test_voice_json_bad_rows_are_unknown() -> None:
    from bot.kaleyra.models import ObdJsonCall, ObdJsonRequest

    client, seen = answering(ok({"0": {"status": "queued"}}))
    request = ObdJsonRequest(call=[ObdJsonCall(to="9123456789", play="1.sound")])
    with pytest.raises(KaleyraBadAnswer) as err:
        await client.obd_json(request)
    assert err.value.outcome_unknown is True and len(seen) == 1


async def test_outbound_answer_of_the_wrong_shape_is_an_unknown_chunk() -> None:
    client, seen = answering({"code": None, "message": "accepted"})
    request = OutboundRequest(to=["+919123456789"], target=[OutboundTarget.for_sounds(1)])
    result = await client.outbound(request)
    assert result.chunks[0].state == "unknown" and len(seen) == 1
    assert isinstance(result.chunks[0].error, KaleyraBadAnswer)


async def test_outbound_numeric_code_is_read_as_text() -> None:
    client, _ = answering({"code": 3007, "message": "submitted"})
    request = OutboundRequest(to=["+919123456789"], target=[OutboundTarget.for_sounds(1)])
    result = await client.outbound(request)
    # 3007 is not the documented "RBC3007": a refusal with its code, not a decoding crash.
    assert result.chunks[0].state == "rejected" and result.chunks[0].error.code == "3007"
