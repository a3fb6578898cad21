"""/voicehealth: incidents by region now, and the daily digest's channel and time."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.deps import Deps
from bot.grammar import Help, UsageError
from bot.grammar.voicehealth import DigestOff, DigestSet, HealthNow, parse_voicehealth
from bot.kaleyra import KaleyraError
from bot.services.home import DIGEST_CHANNEL, DIGEST_TIME, refresh_home_later
from bot.views import health as views
from bot.views.common import describe_kaleyra_error, error_message


class VoiceHealthHandlers:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.sandbox = deps.uses_sandbox

    async def command(self, ack: AsyncAck, command: dict, respond: AsyncRespond) -> None:
        user_id = command["user_id"]
        try:
            parsed = parse_voicehealth(command.get("text", ""))
        except UsageError as exc:
            await ack(**error_message(str(exc), sandbox=self.sandbox))
            return
        if isinstance(parsed, HealthNow):
            await ack()
            self.deps.background.spawn(self._report(respond), name="voicehealth")
            return
        if isinstance(parsed, Help):
            await ack(**views.help_message(sandbox=self.sandbox))
            return
        if not self.deps.is_admin(user_id):
            self.deps.store.audit(
                user_id=user_id, action="voicehealth.digest", outcome="refused: not admin"
            )
            await ack(
                **error_message("Only admins can change the health digest.", sandbox=self.sandbox)
            )
            return
        await ack(**self._change_digest(user_id, parsed))

    async def _report(self, respond: AsyncRespond) -> None:
        try:
            report = await self.deps.kaleyra.health()
        except KaleyraError as exc:
            await respond(**error_message(describe_kaleyra_error(exc), sandbox=self.sandbox))
            return
        await respond(**views.health_message(report, sandbox=self.sandbox))

    def _change_digest(self, user_id: str, change: DigestSet | DigestOff) -> dict:
        store = self.deps.store
        if isinstance(change, DigestOff):
            store.set_setting(DIGEST_CHANNEL, "off")
            store.audit(user_id=user_id, action="voicehealth.digest", outcome="off")
            return views.digest_off_message(sandbox=self.sandbox)
        at = (
            change.at.strftime("%H:%M")
            if change.at
            else (store.get_setting(DIGEST_TIME) or self.deps.settings.health_digest_time)
        )
        store.set_setting(DIGEST_CHANNEL, change.channel_id)
        store.set_setting(DIGEST_TIME, at)
        store.audit(
            user_id=user_id,
            action="voicehealth.digest",
            outcome="set",
            detail={"channel": change.channel_id, "at": at},
        )
        refresh_home_later(self.deps, user_id)
        self.deps.scheduler.reschedule_digest()  # takes effect without a restart
        return views.digest_set_message(
            change.channel_id, f"{at} {self.deps.settings.timezone}", sandbox=self.sandbox
        )


def register(app: AsyncApp, deps: Deps) -> None:
    h = VoiceHealthHandlers(deps)
    app.command("/voicehealth")(h.command)
