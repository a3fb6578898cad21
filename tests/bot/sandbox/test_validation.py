"""The sandbox's documented validation, checked one error at a time over HTTP."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest


def legacy(sandbox, headers: dict[str, str] | None = None, **form: str) -> dict:
    response = httpx.post(
        sandbox.voice_url,
        data={"format": "json", **form},
        headers={"x-api-key": "k"} if headers is None else headers,
    )
    assert response.status_code == 200
    return response.json()


def io(
    sandbox, headers: dict[str, str] | None = None, sid: str = "HX1", **form: str
) -> httpx.Response:
    return httpx.post(
        f"{sandbox.url}/v1/{sid}/voice/outbound",
        data=form,
        headers={"api-key": "k"} if headers is None else headers,
    )


GOOD_C2C = {"method": "dial.click2call", "caller": "9876543210", "receiver": "9123456789"}
SOUND = json.dumps([{"sound": [13]}])


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"method": "dial.click2call", "caller": "9876543210"}, "E103"),
        ({**GOOD_C2C, "receiver": "+919123456789"}, "E104"),
        ({**GOOD_C2C, "receiver": "12345"}, "E104"),
        ({**GOOD_C2C, "retry": "3"}, "E106"),
        ({**GOOD_C2C, "delay": "901"}, "E106"),
        ({"method": "dial.nothing"}, "E102"),
        ({"method": "dial.c2cstatus", "id": "c2c_unknown"}, "E108"),
        ({"method": "block"}, "E103"),
        ({"method": "block", "number": "9876543210", "action": "purge"}, "E106"),
        (
            {"method": "followup", "phone": "8712345678", "name": "J", "follower": "9712345678"},
            "E103",
        ),
        (
            {
                "method": "followup",
                "phone": "8712345678",
                "name": "J",
                "follower": "9712345678",
                "ontime": "2026-12-01 10:00",
            },
            "E106",
        ),
        ({"method": "followup", "id": "999", "action": "delete"}, "E108"),
        ({"method": "autodial.add", "name": "c", "number": "9712345678"}, "E103"),
        ({"method": "autodial.add", "name": "c", "number": "9712345678", "meta": "{nope"}, "E106"),
        ({"method": "voice.call", "numbers": "9712345678"}, "E103"),
        ({"method": "voice.call", "numbers": "9712345678", "play": "999.sound"}, "E109"),
        ({"method": "voice.call", "numbers": "9712345678", "play": "ivr:777"}, "E110"),
        ({"method": "voice.call", "group": "555", "play": "123.sound"}, "E111"),
        (
            {"method": "voice.call", "numbers": "9712345678", "play": "123.sound", "retries": "5"},
            "E106",
        ),
        (
            {
                "method": "voice.call",
                "numbers": "9712345678",
                "play": "123.sound",
                "scheduletime": "2026-11-23 11:05:00",
            },
            "E107",
        ),
        (
            {
                "method": "voice.call",
                "numbers": "9712345678",
                "play": "123.sound",
                "scheduletime": "2027-03-01 10:00:00",
            },
            "E107",
        ),
        ({"method": "voice.status", "id": "1-1"}, "E108"),
        ({"method": "voice.groupstatus", "groupid": "42"}, "E108"),
        ({"method": "voice.status"}, "E103"),
    ],
)
def test_legacy_validation(sandbox, form: dict[str, str], code: str) -> None:
    body = legacy(sandbox, **form)
    assert body["status"] == code, body
    assert body["message"]


def test_followup_in_past(sandbox) -> None:
    body = legacy(
        sandbox,
        method="followup",
        phone="8712345678",
        name="J",
        follower="9712345678",
        ontime="22-11-2026 10:00",
    )
    assert body["status"] == "E107"


def test_voice_call_more_than_200_numbers(sandbox) -> None:
    numbers = ",".join(str(9100000000 + i) for i in range(201))
    body = legacy(sandbox, method="voice.call", numbers=numbers, play="123.sound")
    assert body["status"] == "E105" and "201 given" in body["message"]


def test_autodial_import_keeps_only_first_1000(sandbox) -> None:
    rows = [{"number": str(9100000000 + i)} for i in range(1200)]
    response = httpx.post(
        sandbox.voice_url,
        params={"method": "autodial.import", "name": "c", "format": "json"},
        json={"data": rows},
        headers={"x-api-key": "k"},
    )
    body = response.json()
    assert body["status"] == "OK " and "Processed Records(s) - 1000" in body["message"]
    assert len(sandbox.state.dialer["c"]) == 1000


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "E100"),
        ({"x-api-key": "wrong"}, "E101"),
        ({"api_key": "right"}, "200"),
        ({"api-key": "right"}, "200"),
    ],
)
def test_legacy_key_headers(sandbox, headers: dict[str, str], code: str) -> None:
    sandbox.state.api_key = "right"
    assert legacy(sandbox, headers=headers, method="block", number="9876543210")["status"] == code


def test_legacy_key_as_form_field(sandbox) -> None:
    sandbox.state.api_key = "right"
    assert (
        legacy(sandbox, headers={}, method="block", number="9876543210", api_key="right")["status"]
        == "200"
    )


def test_legacy_accepts_multipart_like_postman(sandbox) -> None:
    response = httpx.post(
        sandbox.voice_url,
        files={"method": (None, "block"), "number": (None, "9876543210")},
        headers={"x-api-key": "k"},
    )
    assert response.json()["status"] == "200" and "9876543210" in sandbox.state.blacklist


def test_monitor_plugin_missing(sandbox) -> None:
    sandbox.state.monitor_subscribed = False
    assert legacy(sandbox, method="monitor")["status"] == "E542"


@pytest.mark.parametrize(
    ("form", "code", "status"),
    [
        ({}, "RBC3004", 400),
        ({"to": "+919876543210", "target": SOUND, "bridge": "+910000000000"}, "RBC3119", 400),
        ({"to": "9876543210", "target": SOUND}, "RBC3109", 400),
        ({"to": "+919876543210", "target": json.dumps([{"ivr": ["nope"]}])}, "RBC3115", 400),
        ({"to": "+919876543210", "target": json.dumps([{"sound": [999]}])}, "RBC3114", 400),
        ({"to": "+919876543210", "target": SOUND, "custom": "x" * 101}, "RBC3004", 400),
        ({"to": "+919876543210", "target": SOUND, "retry": "3"}, "RBC3004", 400),
        ({"to": ",".join(f"+9198{i:08d}" for i in range(101)), "target": SOUND}, "RBC3004", 400),
        ({"to": "+919876543210", "target": SOUND}, "RBC3007", 202),
        ({"to": "9876543210", "prefix": "91", "target": SOUND}, "RBC3007", 202),
    ],
)
def test_outbound_validation(sandbox, form: dict[str, str], code: str, status: int) -> None:
    response = io(sandbox, **form)
    assert (response.json()["code"], response.status_code) == (code, status), response.json()


def test_outbound_missing_fields_are_named(sandbox) -> None:
    body = io(sandbox).json()
    assert body["error"] == {
        "to": "to field has to be filled",
        "target": "target field has to be filled",
    }


@pytest.mark.parametrize(
    ("minutes", "code"), [(5, "RBC3108"), (20, "RBC3007"), (60 * 24 * 91, "RBC3108")]
)
def test_outbound_schedule_window(sandbox, clock, minutes: int, code: str) -> None:
    when = (clock.now + timedelta(minutes=minutes)).isoformat(timespec="seconds")
    assert io(sandbox, to="+919876543210", target=SOUND, time=when).json()["code"] == code


def test_outbound_bad_key_and_sid(sandbox) -> None:
    sandbox.state.api_key, sandbox.state.sid = "right", "HX1"
    assert (
        io(sandbox, headers={"api-key": "wrong"}, to="+919876543210", target=SOUND).json()["code"]
        == "RBC201"
    )
    assert (
        io(
            sandbox, headers={"api-key": "right"}, sid="HX2", to="+919876543210", target=SOUND
        ).status_code
        == 401
    )
    assert (
        io(sandbox, headers={"api-key": "right"}, to="+919876543210", target=SOUND).status_code
        == 202
    )


def test_control_endpoints_inject_faults_and_list_requests(sandbox) -> None:
    httpx.post(
        f"{sandbox.url}/_sandbox/faults",
        json={"operation": "monitor", "error_rate": 1.0, "http_status": 500},
    )
    assert (
        httpx.post(
            sandbox.voice_url, data={"method": "monitor"}, headers={"x-api-key": "k"}
        ).status_code
        == 500
    )
    httpx.request("DELETE", f"{sandbox.url}/_sandbox/faults", params={"operation": "monitor"})
    assert legacy(sandbox, method="monitor")["status"] == "E701"
    httpx.post(
        f"{sandbox.url}/_sandbox/incidents",
        json=[{"region": "X", "region_code": "X-IN", "type": "warning"}],
    )
    assert legacy(sandbox, method="monitor")["data"]["incidents"][0]["type"] == "warning"
    recorded = httpx.get(f"{sandbox.url}/_sandbox/requests").json()
    assert [r["operation"] for r in recorded] == ["monitor", "monitor", "monitor"]
