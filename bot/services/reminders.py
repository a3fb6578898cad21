"""Follow-up reminders: a DM to the follower, once, before the follow-up is due.

Each reminder is claimed in the sent log before it is sent. A send that fails in any way
releases its claim, so the next run tries again until the reminder is too old, and then it is
listed as missed in the digest; a claim left by a process that stopped mid-send is swept into
the missed list too. Nothing stays claimed and unseen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo

from bot.kaleyra import KaleyraError
from bot.models import Followup
from bot.services.followup import Followups
from bot.slack.notify import Notifier
from bot.store import Store
from bot.views import followup as views

log = logging.getLogger("voicebot.reminders")
Clock = Callable[[], datetime]
LATE_AFTER = timedelta(minutes=2)  # a reminder sent this long after its time says it is late
REMINDER_GRACE = timedelta(minutes=30)  # older than this (or past the follow-up): too late
SNOOZE = timedelta(minutes=10)
STALE_CLAIM = timedelta(minutes=10)  # a claim this old was never sent: list it as missed


class Reminders:
    def __init__(
        self,
        store: Store,
        followups: Followups,
        notify: Notifier,
        *,
        clock: Clock,
        tz: tzinfo,
        tz_name: str,
    ) -> None:
        self.store = store
        self.followups = followups
        self.notify = notify
        self.clock = clock
        self.tz = tz
        self.tz_name = tz_name

    async def run_due(self) -> int:
        """Send every reminder that is due and not yet sent; report the ones too old to send."""
        now = self.clock()
        await self.store.sweep_stale_claims(now - STALE_CLAIM)
        sent = 0
        pending = await self.store.followups_to_remind(now + self.followups.reminder_lead)
        for item in pending:
            due = self.followups.reminder_due(item)
            if due > now:
                continue  # snoozed to later
            try:
                sent += await self._remind(item, due, now)
            except Exception:  # one bad follow-up must not hold up the others
                log.exception("reminder for follow-up %s failed", item.id)
        return sent

    async def _missed(self, item: Followup, key: str, due: datetime, detail: str) -> int:
        await self.store.mark_missed(key, "reminder", due, detail)
        await self.store.set_reminder_state(item.id, "missed")
        return 0

    async def _remind(self, item: Followup, due: datetime, now: datetime) -> int:
        key = f"reminder:{item.id}:{due.isoformat()}"
        if now - due > REMINDER_GRACE or now > item.ontime + REMINDER_GRACE:
            return await self._missed(item, key, due, _missed_detail(item))
        user_id = await self.followups.holder(item.follower)
        if user_id is None:
            detail = f"follow-up #{item.id}: no Slack user has its follower number"
            return await self._missed(item, key, due, detail)
        late = now - due > LATE_AFTER
        if not await self.store.claim(key, "reminder", due, late=late, detail=_missed_detail(item)):
            await self.store.set_reminder_state(item.id, "sent")  # settled by an earlier run
            return 0
        posted = None
        try:
            payload = views.reminder_message(item, tz=self.tz, tz_name=self.tz_name, late=late)
            posted = await self.notify.open_dm(user_id, payload)
        finally:
            if posted is None:
                log.warning("reminder %s not sent; released for the next run", key)
                await self.store.release(key)
        if posted is None:
            return 0
        await self.store.mark_sent(key)
        await self.store.set_reminder_state(item.id, "sent")
        return 1

    async def snooze(self, user_id: str, followup_id: str) -> datetime:
        """Remind again in ten minutes; only who may change the follow-up can snooze it."""
        await self.followups.stored_for_change(user_id, followup_id, "followup.snooze")
        until = self.clock() + SNOOZE
        await self.store.snooze_followup(followup_id, until)
        return until

    async def done(self, user_id: str, followup_id: str) -> None:
        await self.followups.stored_for_change(user_id, followup_id, "followup.done")
        await self.store.set_followup_state(followup_id, "done")

    async def sync(self) -> int:
        """Follow-ups made outside Slack, for followers who are verified users, join the store.

        One already past when it is first seen was never due while we ran: it is kept without a
        reminder, so it is neither reminded nor reported missed. One whose reminder time has
        just passed is reminded at once.
        """
        try:
            fresh = await self.followups.made_outside_slack()
        except KaleyraError as exc:
            log.warning("follow-up sync failed: %s", exc)
            return 0
        now, added = self.clock(), 0
        for item in fresh:
            owner = await self.followups.holder(item.follower)
            if owner is None:
                continue
            past = item.ontime <= now
            synced = item.model_copy(
                update={"user_id": owner, "reminder": "none" if past else "pending"}
            )
            await self.store.save_followup(self.followups.first_reminder(synced))
            added += 1
        return added


def _missed_detail(item: Followup) -> str:
    """What the digest channel reads: customer names only for follow-ups made in Slack."""
    if item.source == "slack":
        return f"reminder for follow-up #{item.id} ({item.name})"
    return f"reminder for follow-up #{item.id} (made outside Slack)"
