"""The make-believe workspace the local Slack page and the console share: people, channels, and
the escaping Slack applies to a slash command's text (the manifest sets `should_escape`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    name: str
    purpose: str


ADMIN = "U0ASHA"  # the first admin when ADMIN_USER_IDS is unset
PEOPLE = (
    Person(ADMIN, "asha"),
    Person("U0RAVI", "ravi"),
    Person("U0MEERA", "meera"),
)
SALES, CALLS, OPS = "C0SALES", "C0CALLS", "C0OPS"
CHANNELS = (
    Channel(SALES, "sales", "Where the team works: type a command below"),
    Channel(CALLS, "calls", "Incoming and missed calls (CALLS_CHANNEL)"),
    Channel(OPS, "ops", "Voice network health digest and alerts (HEALTH_DIGEST_CHANNEL)"),
)

_MENTION = re.compile(r"(?<![\w<|])@([a-z0-9][a-z0-9._-]*)", re.IGNORECASE)
_CHANNEL = re.compile(r"(?<![\w<|&])#([a-z0-9][a-z0-9_-]*)", re.IGNORECASE)


def person_named(name: str, people: tuple[Person, ...] = PEOPLE) -> Person | None:
    return next((p for p in people if p.name.lower() == name.lower()), None)


def escape_like_slack(
    text: str, people: tuple[Person, ...] = PEOPLE, channels: tuple[Channel, ...] = CHANNELS
) -> str:
    """What Slack sends for typed text: `&<>` as entities, `@name` as `<@U…|name>`, `#name` as
    `<#C…|name>` (names Slack does not know stay as typed)."""
    # Markup typed as Slack would have sent it (`<@U0ASHA>`) passes as it is.
    parts = re.split(r"(<[@#!][^<>\s]*>)", text)
    text = "".join(
        part if i % 2 else part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        for i, part in enumerate(parts)
    )

    def user(match: re.Match[str]) -> str:
        person = person_named(match[1], people)
        return f"<@{person.id}|{person.name}>" if person else match[0]

    def channel(match: re.Match[str]) -> str:
        found = next((c for c in channels if c.name.lower() == match[1].lower()), None)
        return f"<#{found.id}|{found.name}>" if found else match[0]

    return _CHANNEL.sub(channel, _MENTION.sub(user, text))


@dataclass(frozen=True, slots=True)
class SlashCommand:
    command: str
    description: str
    usage_hint: str


MANIFEST = Path(__file__).resolve().parents[2] / "app_manifest.yaml"


def manifest_commands(path: Path = MANIFEST) -> list[SlashCommand]:
    """The slash commands and their usage hints, read from the manifest beside the code."""
    try:
        text = path.read_text()
    except OSError:
        return []
    found: list[SlashCommand] = []
    for chunk in re.split(r"\n\s*- command: ", text)[1:]:
        command = chunk.split("\n", 1)[0].strip()
        description = re.search(r"description: (.*)", chunk)
        hint = re.search(r'usage_hint: "(.*)"', chunk)
        found.append(
            SlashCommand(
                command,
                description[1].strip() if description else "",
                hint[1].replace('\\"', '"') if hint else "",
            )
        )
    return found
