"""Every client operation against the sandbox over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from bot.kaleyra import KaleyraAPIError, KaleyraClient
from bot.kaleyra.models import (
    ClickToCallRequest,
    DialerRow,
    FollowupQuery,
    FollowupRequest,
    LogQuery,
    ObdJsonCall,
    ObdJsonRequest,
    ObdRequest,
    OutboundRequest,
    OutboundTarget,
)
from bot.sandbox import Fault


def in_batch_order(requests, batch: list[str], field: str, key=lambda r, f: r.form[f]) -> list:
    """Chunks go out a few at a time, so arrival order varies: order them by their first number."""
    position = {n: i for i, n in enumerate(batch)}
    return sorted(requests, key=lambda r: position[key(r, field).split(",")[0]])


async def test_click_to_call_sends_documented_fields(kaleyra: KaleyraClient, sandbox) -> None:
    result = await kaleyra.click_to_call(
        ClickToCallRequest(
            caller="9876543210",
            receiver="9123456789",
            retry=1,
            delay=30,
            caller_id="8047000000",
            custom="deal-42",
            meta={"crm": "x"},
            callback="http://127.0.0.1:9/cb?s={status}",
        )
    )
    assert result.id and result.id.startswith("c2c_")
    [sent] = sandbox.state.recorded("dial.click2call")
    assert sent.key_header == "x-api-key"
    assert sent.form == {
        "method": "dial.click2call",
        "format": "json",
        "caller": "9876543210",
        "receiver": "9123456789",
        "retry": "1",
        "delay": "30",
        "caller_id": "8047000000",
        "custom": "deal-42",
        "meta": '{"crm":"x"}',
        "callback": "http://127.0.0.1:9/cb?s={status}",
        "return": "1",
    }


async def test_click_to_call_progresses_to_final_status(kaleyra, sandbox, clock) -> None:
    placed = await kaleyra.click_to_call(
        ClickToCallRequest(caller="9876543210", receiver="9123456789")
    )
    call = await kaleyra.c2c_status(placed.id)
    assert (call.status, call.status2, call.is_final) == (None, None, False)
    clock.advance(seconds=2)
    call = await kaleyra.c2c_status(placed.id)
    assert (call.status, call.status2, call.is_final) == ("ANSWER", None, False)
    clock.advance(seconds=60)
    call = await kaleyra.c2c_status(placed.id)
    assert (call.status, call.status2, call.is_final) == ("ANSWER", "ANSWER", True)
    assert call.duration and call.billsec and call.recording_url.startswith("https://")


async def test_busy_agent_ends_on_first_leg(kaleyra, sandbox, clock) -> None:
    placed = await kaleyra.click_to_call(
        ClickToCallRequest(caller="9876543200", receiver="9123456789")
    )
    clock.advance(seconds=5)
    call = await kaleyra.c2c_status(placed.id)
    assert (call.status, call.status2, call.is_final) == ("BUSY", None, True)


async def test_c2c_log_with_range_limit_and_page(kaleyra, sandbox) -> None:
    for receiver in ("9123456781", "9123456782", "9123456783"):
        await kaleyra.click_to_call(ClickToCallRequest(caller="9876543210", receiver=receiver))
    page2 = await kaleyra.c2c_log(
        LogQuery(
            fromdate=datetime(2026, 11, 22).date(),
            todate=datetime(2026, 11, 23).date(),
            limit=2,
            page=2,
        )
    )
    assert [c.callto for c in page2] == ["9123456783"]
    sent = sandbox.state.recorded("dial.c2cstatus")[-1]
    assert (
        sent.form["fromdate"] == "2026/11/22"
        and sent.form["limit"] == "2"
        and sent.form["page"] == "2"
    )
    only = await kaleyra.c2c_log(LogQuery(call_to="9123456782"))
    assert [c.callto for c in only] == ["9123456782"]
    assert sandbox.state.recorded("dial.c2cstatus")[-1].form["call to"] == "9123456782"


async def test_c2c_status_unknown_id(kaleyra, sandbox) -> None:
    with pytest.raises(KaleyraAPIError) as err:
        await kaleyra.c2c_status("c2c_nope")
    assert err.value.code == "E108"


async def test_call_details_filters(kaleyra, sandbox) -> None:
    sandbox.state.incoming.extend(
        [
            {
                "id": "a1",
                "callfrom": "9512345678",
                "callto": "9912345678",
                "start_time": "2026-11-22 10:00:00",
                "status": "ANSWER",
            },
            {
                "id": "a2",
                "callfrom": "9512345679",
                "callto": "9812345678",
                "start_time": "2026-11-23 10:00:00",
                "status": "NOANSWER",
            },
        ]
    )
    rows = await kaleyra.call_details(
        LogQuery(fromdate="2026/11/23", call_to="9812345678", limit=10, page=1)
    )
    assert [r.id for r in rows] == ["a2"]
    assert [r.id for r in await kaleyra.call_details(LogQuery(id="a1"))] == ["a1"]
    sent = sandbox.state.recorded("dial")[-1]
    assert sent.form == {"method": "dial", "format": "json", "id": "a1"}


async def test_blacklist_several_numbers(kaleyra, sandbox) -> None:
    await kaleyra.blacklist_add(["9876543210", "9123456789"])
    assert sandbox.state.blacklist == {"9876543210", "9123456789"}
    assert sandbox.state.recorded("block")[0].form["number"] == "9876543210,9123456789"
    await kaleyra.blacklist_remove(["9876543210"])
    assert sandbox.state.blacklist == {"9123456789"}
    assert sandbox.state.recorded("block")[1].form["action"] == "delete"


async def test_followup_lifecycle(kaleyra, sandbox) -> None:
    request = FollowupRequest(
        phone="8712345678",
        name="John Doe",
        follower="9712345678",
        ontime=datetime(2026, 11, 24, 19, 30),
        autocall=True,
        notes="renewal",
    )
    fid = await kaleyra.followup_create(request)
    sent = sandbox.state.recorded("followup")[0]
    assert sent.form["ontime"] == "24-11-2026 19:30" and sent.form["autocall"] == "1"
    assert await kaleyra.followup_edit(fid, request.model_copy(update={"name": "Jane"})) == fid
    [row] = await kaleyra.followup_report(FollowupQuery(follower="9712345678"))
    assert (row.id, row.name, row.note, row.ontime) == (
        fid,
        "Jane",
        "renewal",
        "24-11-2026 07:30:00 PM",
    )
    await kaleyra.followup_delete(fid)
    assert await kaleyra.followup_report() == []
    with pytest.raises(KaleyraAPIError):
        await kaleyra.followup_delete(fid)


async def test_followup_in_the_past_is_refused(kaleyra, sandbox) -> None:
    with pytest.raises(KaleyraAPIError) as err:
        await kaleyra.followup_create(
            FollowupRequest(
                phone="8712345678",
                name="J",
                follower="9712345678",
                ontime=datetime(2026, 11, 1, 9, 0),
            )
        )
    assert err.value.code == "E107"


async def test_health_incidents_and_all_clear(kaleyra, sandbox) -> None:
    assert (await kaleyra.health()).all_clear
    sandbox.state.incidents = [
        {
            "region": "Karnataka",
            "region_code": "KA-IN",
            "type": "critical",
            "service": "outgoing",
            "numbers": ["+918012345628"],
        }
    ]
    report = await kaleyra.health()
    assert not report.all_clear and report.incidents[0].type == "critical"


async def test_dialer_add_and_bulk_import_in_chunks_of_1000(kaleyra, sandbox) -> None:
    result = await kaleyra.dialer_add("camp", "9712345678", {"profile": "custom1"})
    assert result.processed == 1
    rows = [DialerRow(number=str(9100000000 + i), amount=str(i)) for i in range(2500)]
    bulk = await kaleyra.dialer_import("camp", rows)
    numbers = [r.number for r in rows]
    sent = in_batch_order(
        sandbox.state.recorded("autodial.import"),
        numbers,
        "data",
        lambda r, f: r.json[f][0]["number"],
    )
    assert [len(r.json["data"]) for r in sent] == [1000, 1000, 500]
    assert sent[0].query == {"method": "autodial.import", "name": "camp", "format": "json"}
    assert sent[0].json["data"][3] == {"number": "9100000003", "amount": "3"}
    assert [c.result.processed for c in bulk.chunks] == [1000, 1000, 500]
    assert len(bulk.accepted) == 2500 and len(sandbox.state.dialer["camp"]) == 2501


async def test_obd_450_numbers_are_three_requests_and_every_number_accounted(
    kaleyra, sandbox
) -> None:
    batch = [str(9100000010 + i) for i in range(450)]
    result = await kaleyra.obd_call(
        ObdRequest(numbers=batch, play="123.sound", campaign="promo", retries=2)
    )
    sent = in_batch_order(sandbox.state.recorded("voice.call"), batch, "numbers")
    assert [len(r.form["numbers"].split(",")) for r in sent] == [200, 200, 50]
    assert [len(c.numbers) for c in result.chunks] == [200, 200, 50]
    assert [n for r in sent for n in r.form["numbers"].split(",")] == batch  # order kept, none lost
    assert sent[0].form["play"] == "123.sound" and sent[0].form["retries"] == "2"
    assert result.accepted == batch and result.rejected == [] and result.unknown == []
    assert sum(len(c.result.calls) for c in result.chunks) == 450


async def test_obd_group_message_schedule_and_status(kaleyra, sandbox, clock) -> None:
    when = clock.now + timedelta(hours=1)
    result = await kaleyra.obd_call(
        ObdRequest(
            group="4477",
            message="Your order shipped",
            scheduletime=when.replace(tzinfo=None),
            newgroup=True,
            delay=10,
            meta={"k": "v"},
            custom="ref1",
            callback="http://127.0.0.1:9/obd?id={obdid}",
        )
    )
    sent = sandbox.state.recorded("voice.call")[0]
    assert "numbers" not in sent.form and sent.form["group"] == "4477"
    assert (
        sent.form["scheduletime"] == when.strftime("%Y-%m-%d %H:%M:%S")
        and sent.form["newgroup"] == "1"
    )
    group_id = result.chunks[0].result.group_id
    rows = await kaleyra.obd_group_status(group_id)
    assert len(rows) == 5 and {r.status for r in rows} == {"SCHEDULED"}
    clock.advance(hours=2)
    one = await kaleyra.obd_status(rows[0].id)
    assert one[0].status == "COMPLETED"


async def test_obd_json_several_call_groups(kaleyra, sandbox) -> None:
    result = await kaleyra.obd_json(
        ObdJsonRequest(
            campaign="c",
            call=[
                ObdJsonCall(to="9712345678,8612345678", play="1122.sound", custom="A"),
                ObdJsonCall(group="4477", play="1122.sound"),
                ObdJsonCall(to="9612345678", message="this is message"),
            ],
        )
    )
    assert len(result.calls) == 8 and result.group_id
    sent = sandbox.state.recorded("voice.json")[0]
    assert sent.query == {"method": "voice.json", "format": "json"}
    assert sent.json["call"][1] == {"group": "4477", "play": "1122.sound"}


async def test_outbound_all_target_forms_and_fields(kaleyra, sandbox, clock) -> None:
    targets = [
        [OutboundTarget.for_ivr("SG_5a6-e4")],
        [OutboundTarget.for_sounds(13, 34, 38)],
        [OutboundTarget.for_text("hello", speech_rate=1.0, language="en-IN")],
        [OutboundTarget(sound=[123], message={"text": "and more"})],
    ]
    for target in targets:
        result = await kaleyra.outbound(
            OutboundRequest(to=["+919876543210"], target=target, bridge="+918047000000")
        )
        assert result.chunks[0].state == "accepted"
    await kaleyra.outbound(
        OutboundRequest(
            to=["9876543210"],
            prefix="+91",
            target=targets[1],
            bridge="+918047000000",
            retry=[{"count": 2, "status": ["busy"]}],
            interval=20,
            dlrurl="https://example.invalid/dlr?id=id",
            time=clock.now + timedelta(hours=1),
            timeout=[60],
            callback={"call_start": {"url": ["https://example.invalid/cb"]}},
            delay=60,
            custom="T1",
        )
    )
    sent = sandbox.state.recorded("outbound")
    assert sent[0].path == "/v1/HX123/voice/outbound" and sent[0].key_header == "api-key"
    assert json.loads(sent[2].form["target"]) == [
        {"message": {"text": "hello", "speech_rate": 1.0, "language": "en-IN"}}
    ]
    last = sent[-1].form
    assert last["time"] == (clock.now + timedelta(hours=1)).isoformat(timespec="seconds")
    assert last["time"].endswith("+05:30")
    assert json.loads(last["retry"]) == [{"count": 2, "status": ["busy"]}]
    assert last["interval"] == "20" and last["prefix"] == "+91" and last["timeout"] == "[60]"
    assert sandbox.state.outbound_jobs[-1]["to"] == "+919876543210"


async def test_outbound_250_numbers_are_100_100_50(kaleyra, sandbox) -> None:
    to = [f"+9198{i:08d}" for i in range(250)]
    result = await kaleyra.outbound(
        OutboundRequest(to=to, target=[OutboundTarget.for_sounds(123)], bridge="+918047000000")
    )
    sent = in_batch_order(sandbox.state.recorded("outbound"), to, "to")
    assert [len(r.form["to"].split(",")) for r in sent] == [100, 100, 50]
    assert [n for r in sent for n in r.form["to"].split(",")] == to
    assert [len(c.numbers) for c in result.chunks] == [100, 100, 50]
    assert result.accepted == to


async def test_outbound_errors_carry_code_and_fields(kaleyra, sandbox) -> None:
    result = await kaleyra.outbound(
        OutboundRequest(
            to=["+919876543210"], target=[OutboundTarget.for_sounds(999)], bridge="+918047000000"
        )
    )
    assert result.chunks[0].state == "rejected" and result.chunks[0].error.code == "RBC3114"
    result = await kaleyra.outbound(
        OutboundRequest(
            to=["+919876543210"], target=[OutboundTarget.for_sounds(13)], bridge="+910000000000"
        )
    )
    assert result.chunks[0].error.code == "RBC3119"


async def test_a_failed_chunk_does_not_hide_the_others(kaleyra, sandbox) -> None:
    batch = [str(9100000010 + i) for i in range(450)]
    batch[250] = "12345"  # the sandbox refuses this chunk's invalid number
    result = await kaleyra.obd_call(ObdRequest(numbers=batch, play="123.sound"))
    assert [c.state for c in result.chunks] == ["accepted", "rejected", "accepted"]
    assert result.rejected == batch[200:400] and result.chunks[1].error.code == "E104"
    assert len(result.accepted) + len(result.rejected) == 450


async def test_bad_key(sandbox) -> None:
    sandbox.state.api_key = "right"
    client = KaleyraClient(
        api_key="wrong", voice_url=sandbox.voice_url, io_url=sandbox.url + "/v1/", sid="HX1"
    )
    with pytest.raises(KaleyraAPIError) as err:
        await client.health()
    assert (err.value.code, err.value.is_auth_error) == ("E101", True)
    result = await client.outbound(
        OutboundRequest(to=["+919876543210"], target=[OutboundTarget.for_sounds(13)])
    )
    assert result.chunks[0].error.code == "RBC201"
    await client.aclose()


async def test_html_error_page_is_a_clear_error(kaleyra, sandbox) -> None:
    from bot.kaleyra import KaleyraServerError

    sandbox.state.set_fault("monitor", Fault(error_rate=1.0, http_status=502))
    with pytest.raises(KaleyraServerError, match="HTTP 502"):
        await kaleyra.health()
    assert len(sandbox.state.recorded("monitor")) == 3  # a read: first try and two retries
