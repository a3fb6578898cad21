"""Two real `voicebot serve` replicas on one PostgreSQL database: what they share, and what one
takes over when the other is killed with SIGKILL."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.sandbox import Fault
from bot.views import c2c as c2c_views
from bot.views import obd as obd_views
from tests.support.databases import fresh_postgres
from tests.support.harness import ADMIN, AGENT, shared_hosts, text_of
from tests.support.replicas import Replicas
from tests.support.sandbox import RunningSandbox


@pytest.fixture
def postgres() -> Iterator[str]:
    yield from fresh_postgres()


@pytest.fixture
def replicas(tmp_path: Path, sandbox: RunningSandbox, postgres: str) -> Iterator[Replicas]:
    fake = shared_hosts()[0].fresh()
    with Replicas(
        tmp_path,
        database_url=postgres,
        slack=fake,
        sandbox=sandbox,
        env={
            "OBD_CALLING_HOURS": "",
            "ADMIN_USER_IDS": ADMIN,
            # A dead sender's broadcast is found within 3 s and the check's period (1 s), not
            # the default 30 s and 15 s: the same code path, a shorter wait.
            "KALEYRA_TIMEOUT_SECONDS": "2",
            "CAMPAIGN_LEASE_SECONDS": "3",
        },
    ) as started:
        yield started


def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Wait for `check()` to be true (work done by another process), at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def press(replicas: Replicas, index: int, action_id: str, value: str, user_id: str = AGENT):
    """A button press on one message, as Slack sends it, to replica `index`."""
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEAM"},
        "user": {"id": user_id},
        "api_app_id": "A0APP",
        "trigger_id": f"{time.time_ns()}.{index}.trigger",
        "container": {"type": "message", "message_ts": "1700000000.000500", "channel_id": "D0X"},
        "message": {"ts": "1700000000.000500", "text": ""},
        "response_url": f"{replicas[index].driver.slack_url}/response/press-{time.time_ns()}",
        "actions": [{"action_id": action_id, "block_id": "b", "value": value, "type": "button"}],
    }
    return replicas[index].driver.interactive(payload)


def leaders(replicas: Replicas) -> list[int]:
    roles = []
    for i, replica in enumerate(replicas):
        if replica.alive and replica.healthz().json().get("scheduler") == "leader":
            roles.append(i)
    return roles


def test_a_double_click_across_replicas_dials_once_and_a_repeat_through_the_other_asks(
    replicas: Replicas, sandbox: RunningSandbox
) -> None:
    replicas.start(2)
    replicas.register(AGENT, "9876543210", via=0)
    first = replicas.command(0, "/c2c", "9123456789")
    assert "Dialling +91 91234 56789" in text_of(first.json())
    until(lambda: sandbox.state.recorded("dial.click2call"), 15, "the first call placed")

    ask = replicas.command(1, "/c2c", "9123456789").json()  # the other replica, within 60 s
    assert "less than a minute ago. Dial again?" in text_of(ask)
    value = ask["blocks"][1]["elements"][0]["value"]
    press(replicas, 0, c2c_views.REDIAL_CONFIRM, value)  # one double click, two replicas
    press(replicas, 1, c2c_views.REDIAL_CONFIRM, value)
    until(lambda: len(sandbox.state.recorded("dial.click2call")) >= 2, 15, "the redial placed")
    time.sleep(2)  # a second redial would have been placed by now: the dial queue is immediate
    assert len(sandbox.state.recorded("dial.click2call")) == 2


def test_one_replica_leads_the_scheduler_and_the_survivor_takes_over_within_30_s(
    replicas: Replicas,
) -> None:
    replicas.start(2)
    [leader] = until(lambda: leaders(replicas) or None, 15, "a leader")
    health = replicas[leader].healthz().json()
    assert health["database"] == "ok"
    other = 1 - leader
    assert replicas[other].healthz().json()["scheduler"] == "standby"
    # Only the leader runs the scheduled jobs (alerts, digests, reminders, the feed): once each.
    until(lambda: "scheduler started" in replicas[leader].log(), 15, "the leader's jobs")
    assert "scheduler started" not in replicas[other].log()
    killed = time.monotonic()
    replicas.kill(leader)
    until(lambda: leaders(replicas) == [other], 30, "the survivor leads")
    assert time.monotonic() - killed < 30
    until(lambda: "scheduler started" in replicas[other].log(), 15, "the survivor's jobs")


def test_a_killed_sender_s_broadcast_is_reported_by_the_survivor_and_resumed_without_repeats(
    replicas: Replicas, sandbox: RunningSandbox
) -> None:
    replicas.start(2)
    [leader] = until(lambda: leaders(replicas) or None, 15, "a leader")
    sender = 1 - leader  # the leader survives: its reclaim job finds the lost campaign
    sandbox.state.faults["voice.call"] = Fault(latency=0.5)
    numbers = [f"91000{n:05d}" for n in range(4000)]
    confirm = replicas.command(sender, "/obd", " ".join(numbers) + " play 123.sound", user_id=ADMIN)
    message = confirm.json()
    if "Checking the numbers" in text_of(message):
        message = replicas.wait_for_slack(
            "response_url", lambda p: "Confirm broadcast" in text_of(p), timeout=30
        )
    job = next(
        e["value"]
        for b in message["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == obd_views.OBD_CONFIRM
    )
    press(replicas, sender, obd_views.OBD_CONFIRM, job, user_id=ADMIN)
    until(lambda: len(sandbox.state.recorded("voice.call")) >= 4, 30, "some chunks sent")
    replicas.kill(sender)
    killed = time.monotonic()

    told = replicas.wait_for_slack(
        "chat.postMessage",
        lambda p: p["channel"] == ADMIN and "was interrupted" in text_of(p),
        timeout=60,
    )
    assert time.monotonic() - killed < 60 and f"#{job}" in text_of(told)
    sandbox.state.faults.clear()
    press(replicas, leader, obd_views.OBD_RESUME, job, user_id=ADMIN)

    def sent() -> list[str]:
        return [
            n for r in sandbox.state.recorded("voice.call") for n in r.form["numbers"].split(",")
        ]

    until(lambda: len(sent()) >= 3000, 60, "the rest sent after Resume")
    time.sleep(2)
    assert len(sent()) == len(set(sent()))  # no number twice
    assert set(sent()) <= set(numbers)


def card_recorded(url: str) -> bool:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT message_ts FROM calls ORDER BY id DESC LIMIT 1").fetchone()
    return bool(row and row[0])


def test_a_killed_replica_s_call_card_still_reaches_its_final_status(
    replicas: Replicas, sandbox: RunningSandbox, clock, postgres: str
) -> None:
    replicas.start(2)
    [leader] = until(lambda: leaders(replicas) or None, 15, "a leader")
    replicas.register(AGENT, "9876543210", via=leader)
    dialled = replicas.command(leader, "/c2c", "9123456789")  # followed by the leader
    assert "Dialling +91 91234 56789" in text_of(dialled.json())
    replicas.wait_for_slack("chat.postMessage", lambda p: p["channel"] == AGENT, timeout=15)
    until(lambda: card_recorded(postgres), 15, "the card's message recorded with its call")
    replicas.kill(leader)
    clock.advance(seconds=60)  # the sandbox's call ends
    final = replicas.wait_for_slack(
        "chat.update", lambda p: "Call completed" in text_of(p), timeout=45
    )
    assert "Call completed" in text_of(final)


def test_healthz_says_the_database_answers(replicas: Replicas) -> None:
    [replica] = replicas.start(1)
    health = httpx.get(f"{replica.url}/healthz").json()
    assert health["database"] == "ok" and health["scheduler"] in {"leader", "standby"}


def job_runs(replica: Any, job: str) -> float:
    """How many times `job` ran on this replica (its /metrics)."""
    text = httpx.get(replica.url + "/metrics", timeout=2).text
    pattern = rf'voicebot_scheduler_jobs_total\{{job="{job}",outcome="ok"\}} ([0-9.e+]+)'
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


def test_a_health_change_is_announced_once_and_a_reminder_sent_once_with_two_replicas(
    replicas: Replicas, sandbox: RunningSandbox
) -> None:
    karnataka = {
        "region": "Karnataka",
        "region_code": "KA-IN",
        "type": "operational",
        "numbers": [],
    }
    sandbox.state.incidents = [karnataka]
    # Both replicas would run every job each second if both led; only the leader must.
    replicas.start(
        2,
        HEALTH_DIGEST_CHANNEL="C0OPS",
        HEALTH_POLL_MINUTES="0.02",
        REMINDERS_POLL_SECONDS="1",
        FOLLOWUP_REMINDER_MINUTES="10",
    )
    [leader] = until(lambda: leaders(replicas) or None, 15, "a leader")
    until(lambda: job_runs(replicas[leader], "health-poll") >= 1, 15, "the baseline poll")
    replicas.register(AGENT, "9876543210", via=0)
    soon = datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(minutes=5)
    added = replicas.command(
        1 - leader, "/followup", f"add 8712345678 {soon:%Y-%m-%d %H:%M} John Doe", user_id=AGENT
    )
    assert added.status_code == 200
    replicas.wait_for_slack("response_url", lambda p: "John Doe" in text_of(p), timeout=15)
    sandbox.state.incidents = [{**karnataka, "type": "critical"}]

    def alerts() -> list[dict]:
        return [
            c.payload
            for c in list(replicas.slack.calls)
            if c.method == "chat.postMessage"
            and c.payload.get("channel") == "C0OPS"
            and "critical" in text_of(c.payload)
        ]

    def reminders() -> list[dict]:
        return [
            c.payload
            for c in list(replicas.slack.calls)
            if c.method == "chat.postMessage" and "reminder" in str(c.payload.get("text")).lower()
        ]

    until(alerts, 20, "the health change announced")
    until(reminders, 20, "the reminder sent")
    # Three more runs of each job on the leader: a second copy would have gone by now.
    polls, sweeps = (job_runs(replicas[leader], j) for j in ("health-poll", "followup-reminders"))
    until(lambda: job_runs(replicas[leader], "health-poll") >= polls + 3, 20, "more polls")
    until(lambda: job_runs(replicas[leader], "followup-reminders") >= sweeps + 3, 20, "more runs")
    assert len(alerts()) == 1 and len(reminders()) == 1
    assert "Karnataka" in text_of(alerts()[0]) and "John Doe" in text_of(reminders()[0])
    standby = replicas[1 - leader]
    assert job_runs(standby, "health-poll") == job_runs(standby, "followup-reminders") == 0


def test_socket_mode_connections_of_two_replicas_share_the_rules(
    replicas: Replicas, sandbox: RunningSandbox
) -> None:
    """Slack gives each envelope to one of the app's Socket Mode connections: a retry may reach
    the other replica, and the two clicks of a double click may too."""
    fake = replicas.slack
    replicas.start(2, SLACK_APP_TOKEN="xapp-test")
    until(lambda: len(fake.sockets) == 2, 15, "both replicas connected")
    host = shared_hosts()[0]
    acks = iter(range(1, 1000))

    def deliver(to: int, kind: str, payload: dict, envelope_id: str | None = None) -> dict:
        envelope_id = envelope_id or f"env-{next(acks)}"
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload}
        envelope["accepts_response_payload"] = True
        host.run(fake.push(envelope, to))
        assert fake.socket_replies[envelope_id].wait(15)
        return next(a for a in reversed(fake.of("socket_ack")) if a["envelope_id"] == envelope_id)

    def command(to: int, text: str, user_id: str, trigger: str) -> dict:
        payload = {
            "team_id": "T0TEAM",
            "user_id": user_id,
            "channel_id": "C0SALES",
            "command": "/c2c",
            "text": text,
            "api_app_id": "A0APP",
            "response_url": f"{fake.base_url}/response/{trigger}",
            "trigger_id": trigger,
        }
        return deliver(to, "slash_commands", payload)

    assigned = command(0, f"register <@{AGENT}> 9876543210", ADMIN, "t.1")
    assert "now calls from +91 98765 43210" in text_of(assigned.get("payload", {}))
    # Slack's retry of a command reaches the other connection: one call.
    first = command(1, "9123456789", AGENT, "t.2")
    assert "Dialling +91 91234 56789" in text_of(first["payload"])
    again = command(0, "9123456789", AGENT, "t.2")  # the same trigger_id: the same delivery
    assert not again.get("payload")  # taken as done: not even the repeat question
    until(lambda: sandbox.state.recorded("dial.click2call"), 15, "the call placed")
    ask = command(0, "9123456789", AGENT, "t.3")["payload"]  # a new command: asks first
    assert "less than a minute ago. Dial again?" in text_of(ask)
    value = ask["blocks"][1]["elements"][0]["value"]
    for to, trigger in ((0, "t.4"), (1, "t.5")):  # one double click, two connections
        click = {
            "type": "block_actions",
            "team": {"id": "T0TEAM"},
            "user": {"id": AGENT},
            "api_app_id": "A0APP",
            "trigger_id": trigger,
            "container": {"type": "message", "message_ts": "1700000000.000900"},
            "message": {"ts": "1700000000.000900", "text": ""},
            "channel": {"id": "D0X"},
            "response_url": f"{fake.base_url}/response/{trigger}",
            "actions": [
                {
                    "action_id": c2c_views.REDIAL_CONFIRM,
                    "block_id": "b",
                    "value": value,
                    "type": "button",
                }
            ],
        }
        deliver(to, "interactive", click)
    until(lambda: len(sandbox.state.recorded("dial.click2call")) >= 2, 15, "the redial placed")
    time.sleep(1.5)  # a second redial, or the retried command, would have reached Kaleyra
    assert len(sandbox.state.recorded("dial.click2call")) == 2
