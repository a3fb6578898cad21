"""/voicehealth: incidents by region now, and the daily digest's channel and time."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.deps import Deps
from bot.grammar import Help, UsageError
from bot.grammar.voicehealth import DigestOff, DigestSet, HealthNow, parse_voicehealth
from bot.kaleyra import KaleyraError
from bot.services.agents import Refused
from bot.views import voicehealth as views
from bot.views.common import describe_kaleyra_error


class VoiceHealthHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.replies = deps.replies
        self.service = deps.voicehealth

    async def command(self, ack: AsyncAck, command: dict, respond: AsyncRespond) -> None:
        user_id = command["user_id"]
        try:
            match parse_voicehealth(command.get("text", "")):
                case HealthNow():
                    await ack()
                    self.deps.background.spawn(self._report(respond, user_id), name="voicehealth")
                case Help():
                    await ack(**self.replies.show(views.help_message()))
                case DigestOff():
                    await self.service.digest_off(user_id)
                    await ack(**self.replies.show(views.digest_off_message()))
                case DigestSet() as change:
                    settings = await self.service.set_digest(user_id, change.channel_id, change.at)
                    when = f"{settings.at} {self.deps.settings.timezone}"
                    await ack(
                        **self.replies.show(views.digest_set_message(change.channel_id, when))
                    )
        except (UsageError, Refused) as exc:
            await ack(**self.replies.error(exc))

    async def _report(self, respond: AsyncRespond, user_id: str) -> None:
        try:
            report = await self.service.report()
        except KaleyraError as exc:
            await respond(**self.replies.error(describe_kaleyra_error(exc)))
            return
        note = await self.service.account_note(user_id)
        await respond(**self.replies.show(views.health_message(report, note)))


def register(app: AsyncApp, deps: Deps) -> None:
    h = VoiceHealthHandlers(deps)
    app.command("/voicehealth")(h.command)
