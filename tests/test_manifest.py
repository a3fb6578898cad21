"""app_manifest.yaml validates against Slack's schema and matches what the code registers."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from handlers import register_all
from tests.support.harness import Harness

ROOT = Path(__file__).parents[1]
MANIFEST = yaml.safe_load((ROOT / "app_manifest.yaml").read_text())


def test_manifest_validates_against_slacks_schema() -> None:
    schema = json.loads((ROOT / "tests/fixtures/manifest.schema.1.0.0.json").read_text())
    jsonschema.validate(MANIFEST, schema)
    assert MANIFEST["_metadata"]["major_version"] == 1


class RecordingApp:
    """Stands in for AsyncApp in register_all and notes what each handler module registers."""

    def __init__(self) -> None:
        self.registered: dict[str, set[str]] = {}

    def __getattr__(self, kind: str):
        def register(name, *args, **kwargs):
            key = name if isinstance(name, str) else json.dumps(name, sort_keys=True)
            self.registered.setdefault(kind, set()).add(key)
            return lambda handler: handler

        return register


def _registered(bot: Harness) -> dict[str, set[str]]:
    app = RecordingApp()
    register_all(app, bot.deps)  # type: ignore[arg-type]
    return app.registered


def test_commands_in_code_and_manifest_match(bot) -> None:
    registered = _registered(bot)
    assert registered["command"] == {c["command"] for c in MANIFEST["features"]["slash_commands"]}
    assert registered["shortcut"] == {s["callback_id"] for s in MANIFEST["features"]["shortcuts"]}
    assert registered["event"] == set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])


def test_every_command_has_a_hint_and_escapes_mentions() -> None:
    for command in MANIFEST["features"]["slash_commands"]:
        assert command["usage_hint"] and command["description"]
        assert command["should_escape"] is True  # mentions arrive as <@U…> ids we can parse
        assert command["url"].endswith("/slack/events")


def test_scopes_are_only_what_the_app_calls() -> None:
    # commands: slash commands and the shortcut; chat:write: messages; im:write: reminder DMs;
    # files:read: CSV files uploaded in the /obd form; files:write: the results CSV of a
    # broadcast, uploaded to its owner's DM (files_upload_v2); channels:history and
    # groups:history: finding the calls-channel post a crash interrupted, so it is not posted
    # twice.
    assert sorted(MANIFEST["oauth_config"]["scopes"]["bot"]) == [
        "channels:history",
        "chat:write",
        "commands",
        "files:read",
        "files:write",
        "groups:history",
        "im:write",
    ]
