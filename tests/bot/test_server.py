"""The HTTP front: replay protection kept in memory, and the metrics names of requests."""

import hashlib
import hmac

import pytest

from bot.runtime.metrics import listener_name, outcome
from bot.runtime.recent import RecentKeys
from bot.server import REPLAY_WINDOW_SECONDS, SlackSignature, parse_slack_body


def test_a_signature_is_refused_the_second_time_until_it_expires() -> None:
    now = [1000.0]
    assert REPLAY_WINDOW_SECONDS == 360
    guard = RecentKeys(REPLAY_WINDOW_SECONDS, clock=lambda: now[0])
    assert guard.first_time("v0=aa")
    assert not guard.first_time("v0=aa")
    assert guard.first_time("v0=bb")
    now[0] += 359
    assert not guard.first_time("v0=aa")
    now[0] += 2  # 361 s after the first delivery: Bolt itself refuses that timestamp by now
    assert guard.first_time("v0=aa")
    assert len(guard._seen) == 1  # expired entries are dropped, so memory stays bounded


def test_requests_are_named_by_what_they_are_for() -> None:
    assert listener_name({"command": "/c2c", "text": "9876543210"}) == "/c2c"
    assert listener_name({"actions": [{"action_id": "c2c_redial"}]}) == "action:c2c_redial"
    assert listener_name({"view": {"callback_id": "obd_modal"}}) == "view:obd_modal"
    assert listener_name({"callback_id": "call_this_number"}) == "shortcut:call_this_number"
    assert listener_name({"event": {"type": "app_home_opened"}}) == "event:app_home_opened"
    assert listener_name({"type": "url_verification"}) == "other"


def test_outcomes_say_how_a_request_ended() -> None:
    assert outcome(200, '{"text": "Dialling"}') == "ok"
    assert outcome(200, '{"text": ":warning: Only admins can"}') == "refused"
    assert outcome(200, '{"response_action": "errors", "errors": {}}') == "refused"
    assert outcome(401, "") == "rejected" and outcome(500, "") == "failed"


def test_signatures_are_checked_over_the_raw_bytes_and_malformed_ones_cost_nothing() -> None:
    now = 1_700_000_000
    signing = SlackSignature("s3cret", clock=lambda: now)
    body = b"text=\xff\xfe"  # not UTF-8: slack_sdk's verifier would raise on it

    def signed(ts: int, data: bytes = body) -> str:
        mac = hmac.new(b"s3cret", f"v0:{ts}:".encode() + data, hashlib.sha256).hexdigest()
        return f"v0={mac}"

    assert signing.valid(body, str(now), signed(now))
    assert not signing.valid(body + b"x", str(now), signed(now))
    assert not signing.valid(body, str(now - 301), signed(now - 301))  # 5 minutes old
    assert not signing.valid(body, str(now + 301), signed(now + 301))
    assert not signing.valid(body, "soon", signed(now))
    assert not signing.valid(body, str(now), signed(now).upper())
    assert not signing.valid(body, str(now), "v0=" + "a" * 65536)
    assert not SlackSignature(None).valid(body, str(now), signed(now))


def test_slack_bodies_are_read_as_slack_sends_them() -> None:
    form = "command=%2Fc2c&text=payload+team&channel_name=payload"
    assert parse_slack_body(form, "application/x-www-form-urlencoded")["text"] == "payload team"
    assert parse_slack_body('payload={"type":"block_actions"}', None) == {"type": "block_actions"}
    assert parse_slack_body('{"type":"url_verification"}', "application/json")["type"]
    assert parse_slack_body("", None) == {}
    for bad in ("[1]", '"x"', "{nope", "payload=[1]", "payload={nope"):
        with pytest.raises(ValueError):
            parse_slack_body(bad, "application/json" if bad[0] in '[{"' else None)
