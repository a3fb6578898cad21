"""`voicebot doctor`: the table on stdout, exit 0 when a call would work, 1 when not."""

from __future__ import annotations

import pytest

from bot.cli import main
from tests.bot.doctor.conftest import CALLS, KEY


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, sandbox, fake_slack, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env of the repository's
    for name, value in {
        "SLACK_BOT_TOKEN": "xoxb-cli-token",
        "SLACK_SIGNING_SECRET": "cli-secret",
        "SLACK_API_URL": fake_slack.base_url + "/api/",
        "KALEYRA_API_KEY": KEY,
        "KALEYRA_VOICE_URL": sandbox.voice_url,
        "DATABASE_PATH": str(tmp_path / "voicebot.db"),
        "CALLS_CHANNEL": CALLS,
    }.items():
        monkeypatch.setenv(name, value)
    return fake_slack


def test_a_working_installation_exits_0(env, capsys) -> None:
    assert main(["doctor", "--skip", "public_url"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("AREA")
    assert "public_url     all" in out and "Nothing a call needs is broken" in out


def test_a_broken_one_exits_1_and_says_why(env, capsys, monkeypatch) -> None:
    env.not_member = {CALLS}
    monkeypatch.setenv("OBD_CALLING_HOURS", "late")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "OBD_CALLING_HOURS must be HH:MM-HH:MM" in out
    assert f"fix: in the channel {CALLS} type `/invite @voicebot`" in out
    assert KEY not in out and "xoxb-cli-token" not in out
