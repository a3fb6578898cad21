"""Follow-ups: Kaleyra keeps the auto-call, the store keeps who owns it (for reminders)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.grammar import UsageError
from bot.kaleyra.models import FollowupQuery, FollowupRequest
from bot.phones import Phone

if TYPE_CHECKING:
    from bot.deps import Deps


@dataclass
class Followup:
    id: str
    phone: str  # E.164
    name: str
    follower: str  # E.164
    ontime: datetime  # aware
    notes: str = ""
    autocall: bool = False
    user_id: str | None = None  # who made it in Slack; None = made outside Slack

    def ontime_local(self, deps: Deps) -> datetime:
        return self.ontime.astimezone(deps.settings.tz)


class Followups:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def _local(self, when: datetime) -> datetime:
        """Any datetime to a naive time in the account time zone (what Kaleyra expects)."""
        tz = self.deps.settings.tz
        aware = when if when.tzinfo else when.replace(tzinfo=tz)
        return aware.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)

    def check_future(self, when: datetime) -> datetime:
        tz = self.deps.settings.tz
        local = self._local(when)
        now = self.deps.clock().astimezone(tz)
        if local.replace(tzinfo=tz) <= now:
            raise UsageError(
                f"{local:%Y-%m-%d %H:%M} {self.deps.settings.timezone} is in the past (it is {now:%Y-%m-%d %H:%M} there now). Pick a later time."
            )
        return local

    async def save(
        self,
        *,
        user_id: str,
        phone: Phone,
        name: str,
        follower: Phone,
        when: datetime,
        notes: str = "",
        autocall: bool = False,
        followup_id: str | None = None,
    ) -> Followup:
        local = self.check_future(when)
        request = FollowupRequest(
            phone=phone.national,
            name=name,
            follower=follower.national,
            ontime=local,
            autocall=autocall,
            notes=notes or None,
        )
        kaleyra = self.deps.kaleyra
        new_id = await (
            kaleyra.followup_edit(followup_id, request)
            if followup_id
            else kaleyra.followup_create(request)
        )
        aware = local.replace(tzinfo=self.deps.settings.tz)
        owner = user_id
        if followup_id and (existing := self.deps.store.get_followup(followup_id)):
            owner = existing["user_id"] or user_id
        self.deps.store.save_followup(
            {
                "id": new_id,
                "user_id": owner,
                "follower": follower.e164,
                "phone": phone.e164,
                "name": name,
                "ontime": aware.astimezone(UTC).isoformat(),
                "notes": notes,
                "autocall": int(autocall),
                "remind_at": None,  # an edit moves the reminder along with the new time
            }
        )
        self.deps.store.audit(
            user_id=user_id,
            action="followup.edit" if followup_id else "followup.add",
            outcome="ok",
            numbers=[phone.e164, follower.e164],
            kaleyra_ids=[new_id],
        )
        _refresh_home(self.deps, user_id)
        return Followup(new_id, phone.e164, name, follower.e164, aware, notes, autocall, owner)

    def may_change(self, user_id: str, followup: Followup) -> bool:
        if self.deps.is_admin(user_id) or followup.user_id == user_id:
            return True
        agent = self.deps.store.get_agent(user_id)
        return agent is not None and agent.number == followup.follower

    async def find(self, followup_id: str) -> Followup | None:
        row = self.deps.store.get_followup(followup_id)
        if row and row["state"] == "active":
            return followup_from_row(row)
        for record in await self.deps.kaleyra.followup_report():
            if record.id == followup_id:
                return self.from_report(record)
        return None

    async def delete(self, user_id: str, followup: Followup) -> None:
        await self.deps.kaleyra.followup_delete(followup.id)
        self.deps.store.delete_followup(followup.id)
        _refresh_home(self.deps, user_id)
        self.deps.store.audit(
            user_id=user_id,
            action="followup.delete",
            outcome="ok",
            numbers=[followup.phone],
            kaleyra_ids=[followup.id],
        )

    async def listing(self, follower: Phone | None) -> list[Followup]:
        """followup.reports merged with the store: Kaleyra says what exists, the store who owns it."""
        query = FollowupQuery(follower=follower.national if follower else None)
        records = await self.deps.kaleyra.followup_report(query)
        stored = {
            r["id"]: r for r in self.deps.store.followups(follower.e164 if follower else None)
        }
        merged = []
        for record in records:
            item = (
                followup_from_row(stored[record.id])
                if record.id in stored
                else self.from_report(record)
            )
            merged.append(item)
        return sorted(merged, key=lambda f: f.ontime)

    def from_report(self, record: Any) -> Followup:
        region = self.deps.settings.default_region
        local = record.ontime_local() or datetime(1970, 1, 1)
        return Followup(
            id=record.id,
            phone=_e164(record.phone, region),
            name=record.name,
            follower=_e164(record.follower, region),
            ontime=local.replace(tzinfo=self.deps.settings.tz),
            notes=record.note or "",
        )


def followup_from_row(row: dict[str, Any]) -> Followup:
    return Followup(
        id=row["id"],
        phone=row["phone"],
        name=row["name"],
        follower=row["follower"],
        ontime=datetime.fromisoformat(row["ontime"]),
        notes=row["notes"] or "",
        autocall=bool(row["autocall"]),
        user_id=row["user_id"],
    )


def _e164(number: str, region: str) -> str:
    from bot.phones import InvalidNumber, parse_phone

    try:
        return parse_phone(number, region).e164
    except InvalidNumber:
        return number


def _refresh_home(deps: Deps, user_id: str) -> None:
    from bot.services.home import refresh_home_later  # bot.services.home imports this module

    refresh_home_later(deps, user_id)
