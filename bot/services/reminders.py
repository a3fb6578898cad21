"""Follow-up reminders: a DM to the follower, once, before the follow-up is due."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from bot.kaleyra import KaleyraError
from bot.services.followup import Followup, followup_from_row
from bot.views import followup as views

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger("voicebot.reminders")
LATE_AFTER = timedelta(minutes=2)  # a reminder sent this long after its time says it is late
REMINDER_GRACE = timedelta(
    minutes=30
)  # older than this (or past the follow-up) is too late to send
SNOOZE = timedelta(minutes=10)


class Reminders:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def remind_at(self, item: Followup, snoozed: str | None) -> datetime:
        if snoozed:
            return datetime.fromisoformat(snoozed)
        return item.ontime - timedelta(minutes=self.deps.settings.followup_reminder_minutes)

    async def run_due(self) -> int:
        """Send every reminder that is due and not yet sent; report the ones too old to send."""
        store, now, sent = self.deps.store, self.deps.clock(), 0
        for row in store.followups():
            item = followup_from_row(row)
            due = self.remind_at(item, row.get("remind_at"))
            if due > now:
                continue
            key = f"reminder:{item.id}:{due.isoformat()}"
            agent = store.agent_by_number(item.follower)
            if now - due > REMINDER_GRACE or now > item.ontime + REMINDER_GRACE:
                store.mark_missed(
                    key, "reminder", due, f"reminder for follow-up #{item.id} ({item.name})"
                )
                continue
            if agent is None:
                store.mark_missed(
                    key,
                    "reminder",
                    due,
                    f"follow-up #{item.id}: no Slack user has its follower number",
                )
                continue
            late = now - due > LATE_AFTER
            if not store.claim(key, "reminder", due, late=late):
                continue
            try:
                opened = await self.deps.slack.conversations_open(users=agent.user_id)
                await self.deps.slack.chat_postMessage(
                    channel=opened["channel"]["id"],
                    **views.reminder_message(
                        item,
                        tz=self.deps.settings.tz,
                        tz_name=self.deps.settings.timezone,
                        late=late,
                        sandbox=self.deps.uses_sandbox,
                    ),
                )
            except SlackApiError as exc:
                log.warning("reminder %s not sent: %s", key, exc.response.get("error"))
                store.release(key)
                continue
            store.mark_sent(key)
            sent += 1
        return sent

    def snooze(self, followup_id: str) -> datetime:
        until = self.deps.clock() + SNOOZE
        self.deps.store.snooze_followup(followup_id, until)
        return until

    def done(self, followup_id: str) -> None:
        self.deps.store.set_followup_state(followup_id, "done")

    async def sync(self) -> int:
        """Follow-ups made outside Slack, for followers mapped to a Slack user, join the store."""
        try:
            records = await self.deps.kaleyra.followup_report()
        except KaleyraError as exc:
            log.warning("follow-up sync failed: %s", exc)
            return 0
        added = 0
        store = self.deps.store
        for record in records:
            if store.get_followup(record.id):
                continue
            item = self.deps.followup.from_report(record)
            agent = store.agent_by_number(item.follower)
            if agent is None or record.ontime_local() is None:
                continue
            store.save_followup(
                {
                    "id": item.id,
                    "user_id": agent.user_id,
                    "follower": item.follower,
                    "phone": item.phone,
                    "name": item.name,
                    "ontime": item.ontime.astimezone(UTC).isoformat(),
                    "notes": item.notes,
                    "autocall": 0,
                    "remind_at": None,
                }
            )
            added += 1
        return added
