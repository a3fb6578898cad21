from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.local.fakeslack import FakeSlack
from bot.settings import Settings
from tests.support.harness import shared_hosts
from tests.support.sandbox import RunningSandbox

EVERY_SCOPE = [
    "commands",
    "chat:write",
    "channels:history",
    "groups:history",
    "im:write",
    "files:read",
    "files:write",
    "channels:read",
]
CALLS, OPS = "C0CALLS", "C0OPS"
KEY = "doctor-key-123"
# What the doctor may send Kaleyra: reads only.
READS = {"monitor", "dial.c2cstatus", "dial", "voice.groupstatus", "voice.groupStatus"}
CALL_PLACING = {"dial.click2call", "voice.call", "voice.json", "outbound"}


@pytest.fixture
def fake_slack() -> FakeSlack:
    """A fresh fake Slack whose token has every scope of the manifest, plus channels:read."""
    fake = shared_hosts()[0].fresh()
    fake.oauth_scopes = list(EVERY_SCOPE)
    return fake


def doctor_settings(
    sandbox: RunningSandbox, fake: FakeSlack | None, tmp_path: Path, **overrides: Any
) -> Settings:
    base: dict[str, Any] = {
        "slack_bot_token": "xoxb-doctor-token",
        "slack_signing_secret": "doctor-secret",
        "slack_api_url": (fake.base_url if fake else "http://127.0.0.1:9") + "/api/",
        "kaleyra_api_key": KEY,
        "kaleyra_voice_url": sandbox.voice_url,
        "kaleyra_io_url": sandbox.url + "/v1/",
        "database_path": str(tmp_path / "voicebot.db"),
        "calls_channel": CALLS,
        "health_digest_channel": OPS,
    }
    return Settings(_env_file=None, **{**base, **overrides})
