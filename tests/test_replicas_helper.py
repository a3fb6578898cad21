"""tests/support/replicas.py itself: real `voicebot serve` processes, started, asked, killed."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.harness import AGENT, shared_hosts, text_of
from tests.support.replicas import BOT_TOKEN, Replicas
from tests.support.sandbox import RunningSandbox


@pytest.fixture
def replicas(tmp_path: Path, sandbox: RunningSandbox) -> Iterator[Replicas]:
    fake = shared_hosts()[0].fresh()
    with Replicas(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'data' / 'voicebot.db'}",
        slack=fake,
        sandbox=sandbox,
        env={"SCHEDULER_ENABLED": "false"},
    ) as started:
        yield started


def test_one_sqlite_replica_starts_answers_signed_commands_and_dies_by_sigkill(
    replicas: Replicas, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    [replica] = replicas.start(1)
    health = replica.healthz()
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["kaleyra"] == "live"
    assert (tmp_path / "data" / "voicebot.db").exists()

    help_ = replicas.command(0, "/c2c", "help")
    assert help_.status_code == 200
    assert "/c2c register 9876543210" in text_of(help_.json())
    unsigned = replica.driver.http.post(
        f"{replica.url}/slack/events", content="command=%2Fc2c&text=help"
    )
    assert unsigned.status_code == 401

    # Registration goes through the test's sandbox and fake Slack: the environment reached it.
    replicas.register(AGENT, "9876543210")
    whoami = replicas.command(0, "/c2c", "whoami")
    assert "agent number *+91 98765 43210*" in text_of(whoami.json())
    assert not sandbox.state.recorded("voice.call")  # the verification call was taken out
    dialled = replicas.command(0, "/c2c", "9123456789")
    assert "Dialling +91 91234 56789" in text_of(dialled.json())
    card = replicas.wait_for_slack("chat.postMessage", lambda p: p["channel"] == AGENT)
    assert "Call in progress" in text_of(card) and card["_token_seen"]
    [dial] = sandbox.state.recorded("dial.click2call")
    assert (dial.form["caller"], dial.form["receiver"]) == ("9876543210", "9123456789")

    assert replica.kill() == -signal.SIGKILL and not replica.alive
    with pytest.raises(httpx.ConnectError):
        replica.healthz(timeout=1)
    assert BOT_TOKEN not in replica.log()


def test_a_replica_that_cannot_start_is_reported_with_its_log(
    replicas: Replicas,
) -> None:
    with pytest.raises(RuntimeError, match="exited with 2") as failed:
        replicas.start(1, SLACK_SIGNING_SECRET="")
    assert "SLACK_SIGNING_SECRET is not set" in str(failed.value)
