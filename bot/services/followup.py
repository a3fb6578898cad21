"""Follow-ups: Kaleyra keeps the auto-call, the store keeps who owns it (for reminders).

Who may act on a follow-up: an admin, or a user with a verified agent number who created it or
whose number follows it. A number alone (claimed, not proven) grants nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo

from bot.grammar import UsageError
from bot.kaleyra import KaleyraClient
from bot.kaleyra.models import FollowupQuery, FollowupRecord, FollowupRequest
from bot.models import Followup, FollowupDraft
from bot.phones import InvalidNumber, Phone, parse_phone
from bot.services.agents import Agents, Refused
from bot.store import Store

Clock = Callable[[], datetime]
NOT_OWNER = "Follow-up #{id} belongs to someone else; only its follower or an admin can change it."


def _nothing(_user_id: str) -> None:
    return None


class Followups:
    def __init__(
        self,
        store: Store,
        kaleyra: KaleyraClient,
        agents: Agents,
        *,
        clock: Clock,
        tz: tzinfo,
        tz_name: str,
        region: str,
        reminder_lead: timedelta,
        on_change: Callable[[str], None] = _nothing,
    ) -> None:
        self.store = store
        self.kaleyra = kaleyra
        self.agents = agents
        self.clock = clock
        self.tz = tz
        self.tz_name = tz_name
        self.region = region
        self.reminder_lead = reminder_lead
        self.on_change = on_change  # the user's App Home shows their follow-ups

    # ------------------------------------------------------------------ time

    def _local(self, when: datetime) -> datetime:
        """Any datetime to a naive time in the account time zone (what Kaleyra expects)."""
        aware = when if when.tzinfo else when.replace(tzinfo=self.tz)
        return aware.astimezone(self.tz).replace(tzinfo=None, second=0, microsecond=0)

    def check_future(self, when: datetime) -> datetime:
        """The naive local time of `when`, refused when it is not in the future."""
        local = self._local(when)
        now = self.clock().astimezone(self.tz)
        if local.replace(tzinfo=self.tz) <= now:
            raise UsageError(
                f"{local:%Y-%m-%d %H:%M} {self.tz_name} is in the past (it is"
                f" {now:%Y-%m-%d %H:%M} there now). Pick a later time."
            )
        return local

    def reminder_due(self, item: Followup) -> datetime:
        """When the follower is reminded: snoozed to `remind_at`, else the lead before its time."""
        return item.remind_at or item.ontime - self.reminder_lead

    def first_reminder(self, item: Followup) -> Followup:
        """A new follow-up due sooner than the reminder lead is reminded at once (not "late")."""
        now = self.clock().replace(microsecond=0)
        if item.remind_at is None and self.reminder_due(item) < now < item.ontime:
            return item.model_copy(update={"remind_at": now})
        return item

    # ------------------------------------------------------------------ who

    async def my_number(self, user_id: str) -> Phone | None:
        """The user's verified agent number."""
        return await self.agents.number(user_id)

    async def holder(self, number: str) -> str | None:
        """The Slack user whose verified agent number is `number` (E.164), if any."""
        agent = await self.store.agent_by_number(number)
        if agent is None:
            return None
        mine = await self.agents.number(agent.user_id)
        return agent.user_id if mine is not None and mine.e164 == number else None

    async def may_change(self, user_id: str, item: Followup) -> bool:
        if await self.agents.is_admin(user_id):
            return True
        mine = await self.agents.number(user_id)
        return mine is not None and (item.user_id == user_id or mine.e164 == item.follower)

    async def _refuse_not_owner(self, user_id: str, item: Followup, action: str) -> Refused:
        await self.store.audit(
            user_id=user_id,
            action=f"{action}.refused",
            outcome="not owner",
            kaleyra_ids=[item.id],
        )
        return Refused(NOT_OWNER.format(id=item.id))

    async def require_change(self, user_id: str, item: Followup, action: str) -> None:
        """Refuse (audited) unless `user_id` may change `item`."""
        if not await self.may_change(user_id, item):
            raise await self._refuse_not_owner(user_id, item, action)

    # ------------------------------------------------------------------ drafts

    async def draft_add(
        self, user_id: str, phone: Phone, name: str, when: datetime
    ) -> FollowupDraft:
        """`/followup add`: the follower is the user's own verified number."""
        mine = await self.agents.first_leg(user_id)  # NotRegistered / NotVerified say what to do
        self.check_future(when)
        return FollowupDraft(user_id=user_id, phone=phone, name=name, follower=mine, when=when)

    async def acting_number(self, user_id: str) -> Phone | None:
        """The user's number, to act on follow-ups (forms, edit, delete); admins need none."""
        if await self.agents.is_admin(user_id):
            return await self.my_number(user_id)
        return await self.agents.first_leg(user_id)

    async def form_problems(
        self, user_id: str, *, follower: Phone | None, when: datetime | None, name: str
    ) -> dict[str, str]:
        """What is wrong with a submitted form, by field: follower, when, name."""
        problems: dict[str, str] = {}
        if follower is not None and not await self._may_follow(user_id, follower):
            problems["follower"] = str(
                await self.agents.refuse(
                    user_id,
                    "set another agent as follower",
                    action="followup.follower",
                    command="followup",
                )
            )
        try:
            if when is None:
                raise UsageError("Pick a date and time.")
            self.check_future(when)
        except UsageError as exc:
            problems["when"] = str(exc)
        if not name:
            problems["name"] = "Give the customer's name."
        return problems

    async def _may_follow(self, user_id: str, follower: Phone) -> bool:
        mine = await self.my_number(user_id)
        return await self.agents.is_admin(user_id) or (
            mine is not None and mine.e164 == follower.e164
        )

    # ------------------------------------------------------------------ save, find, delete

    async def save(self, draft: FollowupDraft) -> Followup:
        """Create or edit at Kaleyra, then record who owns it. Rights are checked again here."""
        local = self.check_future(draft.when)
        if not await self._may_follow(draft.user_id, draft.follower):
            raise await self.agents.refuse(
                draft.user_id,
                "set another agent as follower",
                action="followup.follower",
                command="followup",
            )
        existing = await self._editable(draft) if draft.followup_id else None
        request = FollowupRequest(
            phone=draft.phone.national,
            name=draft.name,
            follower=draft.follower.national,
            ontime=local,
            autocall=draft.autocall,
            notes=draft.notes or None,
        )
        new_id = await (
            self.kaleyra.followup_edit(draft.followup_id, request)
            if draft.followup_id
            else self.kaleyra.followup_create(request)
        )
        item = Followup(
            id=new_id,
            phone=draft.phone.e164,
            name=draft.name,
            follower=draft.follower.e164,
            ontime=local.replace(tzinfo=self.tz).astimezone(UTC),
            notes=draft.notes,
            autocall=draft.autocall,
            user_id=(existing.user_id if existing else None) or draft.user_id,
            source=existing.source if existing else "slack",
        )  # an edit moves the reminder along with the new time
        if existing is None:
            item = self.first_reminder(item)
        await self.store.save_followup(item)
        await self.store.audit(
            user_id=draft.user_id,
            action="followup.edit" if draft.followup_id else "followup.add",
            outcome="ok",
            numbers=[draft.phone.e164, draft.follower.e164],
            kaleyra_ids=[new_id],
        )
        self.on_change(draft.user_id)
        return item

    async def _editable(self, draft: FollowupDraft) -> Followup:
        assert draft.followup_id is not None
        return await self.find_for_change(draft.user_id, draft.followup_id, "followup.edit")

    async def find(self, followup_id: str) -> Followup | None:
        """From the store when it is ours and active, else from Kaleyra's report."""
        item = await self.store.get_followup(followup_id)
        if item is not None and item.state == "active":
            return item
        for record in await self.kaleyra.followup_report():
            if record.id == followup_id:
                return self.from_report(record)
        return None

    async def find_for_change(self, user_id: str, followup_id: str, action: str) -> Followup:
        """The follow-up `user_id` means to edit or delete: it exists and they may change it."""
        item = await self.find(followup_id)
        if item is None:
            raise UsageError(f"There is no follow-up #{followup_id}. See `/followup list`.")
        await self.require_change(user_id, item, action)
        return item

    async def stored_for_change(self, user_id: str, followup_id: str, action: str) -> Followup:
        """A stored, active follow-up `user_id` may act on (Snooze, Done)."""
        item = await self.store.get_followup(followup_id)
        if item is None or item.state != "active":
            raise UsageError(f"There is no follow-up #{followup_id} to remind you of any more.")
        await self.require_change(user_id, item, action)
        return item

    async def delete(self, user_id: str, followup_id: str) -> Followup:
        item = await self.find_for_change(user_id, followup_id, "followup.delete")
        await self.kaleyra.followup_delete(item.id)
        await self.store.delete_followup(item.id)
        await self.store.audit(
            user_id=user_id,
            action="followup.delete",
            outcome="ok",
            numbers=[item.phone],
            kaleyra_ids=[item.id],
        )
        self.on_change(user_id)
        return item

    # ------------------------------------------------------------------ listing

    async def list_scope(self, user_id: str, scope: str) -> Phone | None:
        """Whose follow-ups `user_id` may list: their own (verified number) or, admins, all (None)."""
        if scope == "all":
            await self.agents.require_admin(
                user_id, "list everyone's follow-ups", action="followup.list", command="followup"
            )
            return None
        return await self.agents.first_leg(user_id)

    async def listing(self, follower: Phone | None) -> list[Followup]:
        """followup.reports merged with the store: Kaleyra says what exists, the store who owns it."""
        query = FollowupQuery(follower=follower.national if follower else None)
        records = await self.kaleyra.followup_report(query)
        stored = {f.id: f for f in await self.store.followups(follower.e164 if follower else None)}
        merged = [stored.get(record.id) or self.from_report(record) for record in records]
        return sorted(merged, key=lambda f: f.ontime)

    # ------------------------------------------------------------------ made outside Slack

    def from_report(self, record: FollowupRecord) -> Followup:
        local = record.ontime_local() or datetime(1970, 1, 1)
        return Followup(
            id=record.id,
            phone=self._e164(record.phone),
            name=record.name,
            follower=self._e164(record.follower),
            ontime=local.replace(tzinfo=self.tz).astimezone(UTC),
            notes=record.note or "",
            source="kaleyra",
        )

    async def made_outside_slack(self) -> list[Followup]:
        """Follow-ups Kaleyra has that the store does not, with a readable time."""
        records = [r for r in await self.kaleyra.followup_report() if r.ontime_local()]
        known = await self.store.known_followup_ids(r.id for r in records)
        return [self.from_report(r) for r in records if r.id not in known]

    def _e164(self, number: str) -> str:
        try:
            return parse_phone(number, self.region).e164
        except InvalidNumber:
            return number
