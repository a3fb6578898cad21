"""Every feature's handlers, wired in one place."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.deps import Deps
from handlers import blacklist, c2c, followup, home, obd, shortcut, voicehealth

MODULES = (c2c, obd, voicehealth, blacklist, followup, shortcut, home)


def register_all(app: AsyncApp, deps: Deps) -> None:
    for module in MODULES:
        module.register(app, deps)
