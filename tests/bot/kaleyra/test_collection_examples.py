"""Every example response in the Postman collection (and the kaleyra.io document) decodes."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from bot.kaleyra import KaleyraAPIError, KaleyraClient
from bot.kaleyra.models import (
    ClickToCallRequest,
    DialerRow,
    FollowupRequest,
    ObdJsonCall,
    ObdJsonRequest,
    ObdRequest,
    OutboundRequest,
    OutboundTarget,
)

FIXTURES = Path(__file__).parents[2] / "fixtures"


def _json_examples() -> dict[str, str]:
    collection = json.loads((FIXTURES / "voice-api.postman_collection.json").read_text())
    examples = {}
    for item in collection["item"]:
        for response in item.get("response", []):
            if response.get("_postman_previewlanguage") == "json":
                examples[item["name"]] = response["body"]
    return examples


EXAMPLES = _json_examples()


def client_answering(body: str, status: int = 200) -> KaleyraClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, content=body.encode(), headers={"content-type": "application/json"}
        )

    return KaleyraClient(
        api_key="k", sid="HX1", transport=httpx.MockTransport(handler), backoff_seconds=0
    )


def test_collection_has_a_json_example_for_every_endpoint() -> None:
    assert len(EXAMPLES) == 15


FOLLOWUP = FollowupRequest(
    phone="8712345678", name="John", follower="9712345678", ontime=datetime(2026, 12, 1, 19, 0)
)


async def test_click_to_call() -> None:
    result = await client_answering(EXAMPLES["Click-to-Call"]).click_to_call(
        ClickToCallRequest(caller="9512345678", receiver="9912345678")
    )
    assert result.id == "c2c_5a7d85903dd7xxxx"


async def test_click_to_call_status_is_a_list() -> None:
    call = await client_answering(EXAMPLES["Click-to-Call Status"]).c2c_status("c2c_57XXXXXXXXXX")
    assert call is not None
    assert (call.status, call.status2, call.duration, call.billsec) == ("ANSWER", "ANSWER", 36, 28)
    assert call.is_final
    assert call.recording_url == "https://play.solutionsinfini.com/?id=94XXXXXX"


async def test_call_details() -> None:
    rows = await client_answering(EXAMPLES["Get Call Details"]).call_details()
    assert rows[0].parent_id == "XXXXXX20215ba50XXXc542"
    assert rows[0].caller_id == "80XXXXXXXX" and rows[0].notes == "hello"


@pytest.mark.parametrize("name", ["Blacklist a Number", "Undo Number Blacklist"])
async def test_blacklist(name: str) -> None:
    client = client_answering(EXAMPLES[name])
    assert await client.blacklist_add(["9876543210"]) == "OK"
    assert await client.blacklist_remove(["9876543210"]) == "OK"


async def test_followup_create_and_edit() -> None:
    assert (
        await client_answering(EXAMPLES["Create Call Follow Up"]).followup_create(FOLLOWUP)
        == "2354"
    )
    edited = await client_answering(EXAMPLES["Edit a Call Follow Up"]).followup_edit(
        "2360", FOLLOWUP
    )
    assert edited == "2360"


async def test_followup_report() -> None:
    rows = await client_answering(EXAMPLES["Get Call Follow Up Report"]).followup_report()
    assert rows[0].id == "1864" and rows[0].name == "John"
    assert rows[0].ontime_local() == datetime(2015, 10, 14, 19, 0)


async def test_health() -> None:
    report = await client_answering(EXAMPLES["Health status API"]).health()
    assert len(report.incidents) == 8
    assert report.incidents[1].region_code == "KA-IN"
    assert report.incidents[1].numbers == ["+9180xxxxxx28", "+9180xxxxxx95"]
    assert report.all_clear


async def test_health_no_incidents_is_all_clear_not_an_error() -> None:
    report = await client_answering('{"status":"E701","message":"No incidents found"}').health()
    assert report.incidents == [] and report.all_clear


async def test_health_plugin_missing_is_an_error() -> None:
    with pytest.raises(KaleyraAPIError) as err:
        await client_answering(
            '{"status":"E542","message":"User Plugin not found or inactive"}'
        ).health()
    assert err.value.code == "E542"


async def test_dialer_answers_ok_with_trailing_space() -> None:
    single = await client_answering(EXAMPLES["Progressive dialer upload API"]).dialer_add(
        "camp", "9712345678", {"profile": "custom1"}
    )
    assert (single.total, single.processed) == (1, 1)
    bulk = await client_answering(EXAMPLES["Progressive dialer Bulk upload API"]).dialer_import(
        "camp", [DialerRow(number="9712345678"), DialerRow(number="8012345678")]
    )
    assert bulk.chunks[0].state == "accepted" and bulk.chunks[0].result.processed == 2


async def test_voice_call_may_answer_only_status_and_message() -> None:
    result = await client_answering(EXAMPLES["Start OBD Call"]).obd_call(
        ObdRequest(numbers=["9912345678"], play="123.sound")
    )
    chunk = result.chunks[0]
    assert chunk.state == "accepted" and chunk.result.group_id is None and chunk.result.calls == []


async def test_voice_json_rows_keyed_by_position_beside_group_id() -> None:
    result = await client_answering(EXAMPLES["OBD call using JSON data"]).obd_json(
        ObdJsonRequest(call=[ObdJsonCall(to="9988123456,9756123456", play="123.sound")])
    )
    assert result.group_id == "217691534"
    assert [(c.id, c.status) for c in result.calls] == [
        ("217691534-1", "SENT"),
        ("217691534-2", "SENT"),
    ]


@pytest.mark.parametrize("name", ["Check Obd Call Status", "Check OBD call group status"])
async def test_obd_status(name: str) -> None:
    client = client_answering(EXAMPLES[name])
    rows = await (
        client.obd_status("123456-1") if "group" not in name else client.obd_group_status("123456")
    )
    assert [(r.id, r.status, r.senttime) for r in rows] == [
        ("123456-1", "COMPLETED", "2017-08-17 12:09:16")
    ]


OUTBOUND_EXAMPLES = json.loads((FIXTURES / "outbound-examples.json").read_text())


@pytest.mark.parametrize(
    "example", OUTBOUND_EXAMPLES, ids=lambda e: e["response"]["code"] + " " + e["title"][:40]
)
async def test_outbound_examples(example: dict) -> None:
    body = json.dumps(example["response"])
    request = OutboundRequest(to=["+13236123457"], target=[OutboundTarget.for_ivr("SG_1")])
    client = client_answering(body, 202 if example["response"]["code"] == "RBC3007" else 400)
    result = await client.outbound(request)
    chunk = result.chunks[0]
    if example["response"]["code"] == "RBC3007":
        assert chunk.state == "accepted" and chunk.result.data["to"] == "+13236xxxxx7"
    else:
        assert chunk.state == "rejected"
        assert chunk.error.code == example["response"]["code"]
        assert chunk.error.message == example["response"]["message"]
        if chunk.error.code == "RBC3004":
            assert chunk.error.field_errors == {
                "to": "to field has to be filled",
                "target": "target field has to be filled",
            }
