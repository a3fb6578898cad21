"""Message shortcut "Call this number": finds the numbers in a message and bridges the chosen one."""

from __future__ import annotations

import json

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.phones import Phone, find_numbers
from bot.slack.replies import Responder, dm_responder, later, open_modal
from bot.views import c2c as c2c_views
from bot.views import shortcut as views
from bot.views.common import error_message, info_message


class ShortcutHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.sandbox = deps.uses_sandbox

    async def call_this_number(
        self, ack: AsyncAck, shortcut: dict, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        user_id = shortcut["user"]["id"]
        agent = self.deps.store.get_agent(user_id)
        numbers = find_numbers(
            shortcut.get("message", {}).get("text", ""), self.deps.settings.default_region
        )
        if agent is None:
            later(self.deps, respond, **c2c_views.not_registered_message(sandbox=self.sandbox))
        elif not numbers:
            problem = "I found no phone number in that message. Type it instead: `/c2c 9876543210`."
            later(self.deps, respond, **error_message(problem, sandbox=self.sandbox))
        elif len(numbers) == 1:
            self._dial(respond, user_id, Phone.known(agent.number), numbers[0])
        else:  # the form must open within the trigger's 3 seconds, so not in the background
            await open_modal(
                client,
                shortcut["trigger_id"],
                views.pick_modal(numbers),
                respond,
                "/c2c 9876543210",
                sandbox=self.sandbox,
            )

    def _dial(self, respond: Responder, user_id: str, agent: Phone, customer: Phone) -> None:
        if self.deps.c2c.recent_repeat(user_id, agent, customer):
            value = json.dumps({"a": agent.e164, "c": customer.e164, "r": None, "d": None})
            later(
                self.deps,
                respond,
                **c2c_views.redial_confirm(
                    agent.pretty, customer.pretty, value, sandbox=self.sandbox
                ),
            )
            return
        text = f":telephone_receiver: Dialling {customer.pretty}: your phone {agent.pretty} rings first."
        later(self.deps, respond, **info_message(text, sandbox=self.sandbox))
        self.deps.c2c.dial(user_id, agent, customer)

    async def picked(self, ack: AsyncAck, body: dict, view: dict, client: AsyncWebClient) -> None:
        await ack()
        user_id = body["user"]["id"]
        agent = self.deps.store.get_agent(user_id)
        choice = view["state"]["values"][views.PICK_BLOCK][views.PICK_INPUT]["selected_option"][
            "value"
        ]
        respond = dm_responder(client, user_id)
        if agent is None:
            later(self.deps, respond, **c2c_views.not_registered_message(sandbox=self.sandbox))
            return
        self._dial(respond, user_id, Phone.known(agent.number), Phone.known(choice))


def register(app: AsyncApp, deps: Deps) -> None:
    h = ShortcutHandlers(deps)
    app.shortcut(views.CALL_SHORTCUT)(h.call_this_number)
    app.view(views.PICK_MODAL)(h.picked)
