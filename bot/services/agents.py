"""Who may do what: agent numbers, admins, and every permission rule, audited in one spelling."""

from __future__ import annotations

from bot.models import Agent
from bot.phones import Phone
from bot.store import Store

ADMIN_ONLY = "Only admins can {what}. Ask an admin, or use `/{command} help` for what you can do."
NOT_REGISTERED = (
    "You have no agent number yet. Register the phone you answer with: `/c2c register 9876543210`."
)


class Refused(Exception):
    """A permission rule said no. The text says why and what to do; the refusal is audited."""


class NotRegistered(Exception):
    """The user has no agent number to call from."""

    def __init__(self) -> None:
        super().__init__(NOT_REGISTERED)


class Agents:
    def __init__(self, store: Store, *, env_admins: frozenset[str]) -> None:
        self.store = store
        self.env_admins = env_admins

    def is_admin(self, user_id: str) -> bool:
        return user_id in self.env_admins or self.store.is_admin(user_id)

    def role(self, user_id: str) -> str:
        return "admin" if self.is_admin(user_id) else "agent"

    def agent(self, user_id: str) -> Agent | None:
        return self.store.get_agent(user_id)

    def number(self, user_id: str) -> Phone | None:
        """The number this user calls from, when they have one."""
        agent = self.store.get_agent(user_id)
        return Phone.known(agent.number) if agent else None

    def refuse(self, user_id: str, what: str, *, action: str, command: str = "c2c") -> Refused:
        """Audit a refusal and return it, to raise: every refusal is written the same way."""
        self.store.audit(
            user_id=user_id, action=f"{action}.refused", outcome="not admin", detail={"what": what}
        )
        return Refused(ADMIN_ONLY.format(what=what, command=command))

    def require_admin(self, user_id: str, what: str, *, action: str, command: str = "c2c") -> None:
        if not self.is_admin(user_id):
            raise self.refuse(user_id, what, action=action, command=command)

    def first_leg(self, user_id: str, requested: Phone | None = None) -> Phone:
        """The number that rings first: the user's own, or (admins only) one they choose."""
        mine = self.number(user_id)
        if requested is not None and (mine is None or requested.e164 != mine.e164):
            self.require_admin(user_id, "choose the first leg of a call", action="c2c")
            return requested
        if mine is None:
            raise NotRegistered()
        return mine
