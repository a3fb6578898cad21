"""Incoming calls: seeded through the control endpoint, then listed by method `dial`, paged."""

from __future__ import annotations

import httpx


def incoming(sandbox, **payload) -> httpx.Response:
    return httpx.post(f"{sandbox.url}/_sandbox/incoming", json=payload)


def dial(sandbox, **form: str) -> dict:
    response = httpx.post(
        sandbox.voice_url,
        data={"method": "dial", "format": "json", **form},
        headers={"x-api-key": "k"},
    )
    return response.json()


def test_seeded_calls_appear_in_dial_with_the_examples_fields(sandbox, clock) -> None:
    answered = incoming(
        sandbox, caller="9812345678", agent="9876543210", outcome="answered", billsec=192
    ).json()
    missed = incoming(
        sandbox, caller="9812345679", agent="9876543210", outcome="missed", location="KERALA"
    ).json()
    rows = dial(sandbox)["data"]
    assert [r["id"] for r in rows] == [answered["id"], missed["id"]]
    assert rows[0]["status"] == "ANSWER" and rows[0]["billsec"] == "192"
    assert rows[0]["end_time"] == clock.now.strftime("%Y-%m-%d %H:%M:%S")
    assert rows[1]["status"] == "NOANSWER" and rows[1]["billsec"] == "0"
    assert (rows[1]["callfrom"], rows[1]["callto"], rows[1]["location"]) == (
        "9812345679",
        "9876543210",
        "KERALA",
    )
    assert set(rows[0]) == {
        "id",
        "uniqid",
        "parent_id",
        "callfrom",
        "callto",
        "start_time",
        "end_time",
        "duration",
        "billsec",
        "notes",
        "location",
        "provider",
        "credits",
        "status",
        "recording",
        "date",
        "caller_id",
    }
    assert len({r["id"] for r in rows}) == 2


def test_dial_pages_with_limit_and_page(sandbox) -> None:
    for i in range(7):
        sandbox.state.add_incoming(f"98123456{i:02d}", "9876543210", answered=i % 2 == 0)
    everything = [r["id"] for r in dial(sandbox, limit="100")["data"]]
    pages = [[r["id"] for r in dial(sandbox, limit="3", page=str(p))["data"]] for p in (1, 2, 3, 4)]
    assert [len(p) for p in pages] == [3, 3, 1, 0]
    assert [key for page in pages for key in page] == everything


def test_bad_incoming_calls_are_refused_with_a_reason(sandbox) -> None:
    bad_number = incoming(sandbox, caller="12345", agent="9876543210")
    assert bad_number.status_code == 400 and "caller must be a 10-digit number" in bad_number.text
    bad_outcome = incoming(sandbox, caller="9812345678", agent="9876543210", outcome="maybe")
    assert bad_outcome.status_code == 400 and "answered or missed" in bad_outcome.text
    assert dial(sandbox)["data"] == []
    assert httpx.get(f"{sandbox.url}/_sandbox/incoming").json() == []


def test_verification_codes_are_announced(sandbox) -> None:
    heard: list[str] = []
    sandbox.state.listeners.append(heard.append)
    httpx.post(
        sandbox.voice_url,
        data={
            "method": "voice.call",
            "numbers": "9876543210",
            "message": "Your voicebot code is 4 0 7 1 9 2. Again: 4 0 7 1 9 2.",
        },
        headers={"x-api-key": "k"},
    )
    httpx.post(
        f"{sandbox.url}/v1/HX1/voice/outbound",
        data={
            "to": "+919876543211",
            "target": '[{"message":{"text":"Your voicebot code is 5 5 1 2 3 9"}}]',
        },
        headers={"api-key": "k"},
    )
    httpx.post(
        sandbox.voice_url,
        data={"method": "voice.call", "numbers": "9876543212", "message": "Sale today"},
        headers={"x-api-key": "k"},
    )
    assert heard == [
        "the verification call would read out: 407192 (to 98******10)",
        "the verification call would read out: 551239 (to 98******11)",
    ]
    assert sandbox.state.notices == heard
