"""Every feature's handlers, wired in one place."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.deps import Deps
from handlers import blacklist, c2c, callfeed, followup, home, obd, shortcut, voicehealth

MODULES = (c2c, callfeed, obd, voicehealth, blacklist, followup, shortcut, home)


def register_all(app: AsyncApp, deps: Deps) -> None:
    for module in MODULES:
        module.register(app, deps)
