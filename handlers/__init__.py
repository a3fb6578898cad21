"""Every feature's handlers, wired in one place."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.deps import Deps
from handlers import blacklist, c2c, callfeed, followup, home, obd, shortcut, voicehealth

# Bolt tries listeners in registration order, building each matcher's arguments as it goes
# (tens of microseconds each): the one-listener /voicehealth goes first, so its ack, which must
# stay fast while broadcasts run, matches at once; /c2c's command is the next listener.
MODULES = (voicehealth, c2c, callfeed, obd, blacklist, followup, shortcut, home)


def register_all(app: AsyncApp, deps: Deps) -> None:
    for module in MODULES:
        module.register(app, deps)
