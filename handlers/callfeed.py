"""The team phone line: Call back on a missed call (channel or App Home), and the outcome form
the click-to-call card's Log outcome button opens."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.deps import Deps
from bot.grammar import UsageError
from bot.models import AskFirst, Blacklisted, OutcomeDraft
from bot.services.agents import NotRegistered, Refused
from bot.services.callfeed import Claimed, OutcomeProblems
from bot.slack.forms import Form, field_errors
from bot.slack.replies import Responder, dm_responder, reply
from bot.views import c2c as c2c_views
from bot.views import callfeed as views

PRIVATE = {"response_type": "ephemeral", "replace_original": False}
FORM_DID_NOT_OPEN = "The form could not open in time: press Log outcome again."


class CallFeedHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.feed = deps.callfeed
        self.replies = deps.replies

    def _responder(self, body: dict, respond: AsyncRespond, client: AsyncWebClient) -> Responder:
        # Buttons in App Home come without a response_url: answer those in the DM.
        return respond if body.get("response_url") else dm_responder(client, body["user"]["id"])

    async def call_back(
        self, ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        answer = self._responder(body, respond, client)
        work = self._call_back(body["user"]["id"], action.get("value", ""), answer)
        self.deps.background.spawn(work, name="callfeed-call-back")

    async def _call_back(self, user_id: str, key: str, answer: Responder) -> None:
        try:
            result = await self.feed.call_back(user_id, key)
        except (Refused, NotRegistered, UsageError) as exc:
            await reply(answer, **PRIVATE, **self.replies.error(exc))
            return
        match result:
            case Claimed(dialled=AskFirst() as ask):  # they called them a minute ago: ask first
                view = c2c_views.redial_confirm(ask)
            case Claimed(dialled=Blacklisted() as refusal):
                view = c2c_views.blacklisted_message(refusal, masked=True)
            case Claimed():
                view = views.calling_back_message(result.feed)
            case _:
                view = views.already_claimed_message(result.feed, user_id)
        await reply(answer, **PRIVATE, **self.replies.show(view))

    async def open_outcome(
        self, ack: AsyncAck, body: dict, action: dict, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        answer = self._responder(body, respond, client)
        try:
            call, existing = await self.feed.outcome_form(body["user"]["id"], int(action["value"]))
        except (Refused, UsageError, ValueError) as exc:
            await reply(answer, **PRIVATE, **self.replies.error(exc))
            return
        view = views.outcome_modal(call, existing, self.deps.settings.tz)
        try:
            await client.views_open(trigger_id=body["trigger_id"], view=view)
        except SlackApiError:  # an expired trigger: the click came too late to open a form
            await reply(answer, **PRIVATE, **self.replies.error(FORM_DID_NOT_OPEN))

    async def submit_outcome(self, ack: AsyncAck, body: dict, view: dict) -> None:
        form = Form(view)
        draft = OutcomeDraft(
            user_id=body["user"]["id"],
            call_id=int(form.private_metadata) if form.private_metadata.isdigit() else 0,
            outcome=form.choice(views.OUTCOME_BLOCK, views.OUTCOME_INPUT) or "",
            note=form.text(views.NOTE_BLOCK, views.NOTE_INPUT),
            followup_at=form.moment(
                views.FOLLOWUP_BLOCK, views.FOLLOWUP_INPUT, self.deps.settings.tz
            ),
        )
        try:
            await self.feed.log_outcome(draft)
        except OutcomeProblems as exc:
            await ack(**field_errors(views.outcome_errors(exc.problems)))
            return
        except (Refused, UsageError) as exc:
            await ack(**field_errors({views.OUTCOME_BLOCK: str(exc)}))
            return
        await ack()


def register(app: AsyncApp, deps: Deps) -> None:
    h = CallFeedHandlers(deps)
    app.action(views.CALL_BACK)(h.call_back)
    app.action(views.LOG_OUTCOME)(h.open_outcome)
    app.view(views.OUTCOME_MODAL)(h.submit_outcome)
