"""The HTTP front: replay protection kept in memory, and the metrics names of requests."""

from bot.runtime.metrics import listener_name, outcome
from bot.runtime.recent import RecentKeys
from bot.server import REPLAY_WINDOW_SECONDS


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
