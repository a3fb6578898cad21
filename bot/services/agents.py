"""Who may do what: agent numbers and their proof, admins, and every permission rule.

A number a user registers for themselves is theirs only once they prove they hold it: the bot
rings it and reads out a 6-digit code, which they type as `/c2c verify <code>`. Until then the
number rings nobody first and grants nothing. An admin assigning a number needs no proof.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.models import AdminChanged, AdminRoster, Agent, AgentStatus, Registration, Verification
from bot.phones import Phone
from bot.store import Store, StoreError

ADMIN_ONLY = "Only admins can {what}. Ask an admin, or use `/{command} help` for what you can do."
NOT_REGISTERED = (
    "You have no agent number yet. Register the phone you answer with: `/c2c register 9876543210`."
)
NOT_VERIFIED = (
    "Your agent number {number} is not verified yet, so it cannot ring first. Type"
    " `/c2c verify <code>` with the code the verification call read out, or"
    " `/c2c register {number}` again for a new call."
)
CODE_TTL = timedelta(minutes=10)
MAX_TRIES = 5  # wrong codes before a code stops working
CALLS_PER_DAY = 5  # verification calls one user may ask for in 24 hours
CALL_BUDGET = timedelta(hours=24)
Clock = Callable[[], datetime]


class Refused(Exception):
    """A rule said no. The text says why and what to do."""


class NotRegistered(Exception):
    """The user has no usable agent number to call from."""

    def __init__(self, text: str = NOT_REGISTERED) -> None:
        super().__init__(text)


class NotVerified(NotRegistered):
    """The user registered a number but has not proven it yet."""

    def __init__(self, number: Phone) -> None:
        super().__init__(NOT_VERIFIED.format(number=number.pretty))


class Agents:
    def __init__(
        self, store: Store, *, env_admins: frozenset[str], clock: Clock | None = None
    ) -> None:
        self.store = store
        self.env_admins = env_admins
        self.clock = clock or store.clock
        self._secret: bytes | None = None

    # ------------------------------------------------------------------ who is who

    async def is_admin(self, user_id: str) -> bool:
        return user_id in self.env_admins or await self.store.is_admin(user_id)

    async def role(self, user_id: str) -> str:
        return "admin" if await self.is_admin(user_id) else "agent"

    async def agent(self, user_id: str) -> Agent | None:
        """The registered mapping, proven or not (use `number` for anything that rings)."""
        return await self.store.get_agent(user_id)

    async def number(self, user_id: str) -> Phone | None:
        """The number this user calls from: registered AND proven (or assigned by an admin)."""
        number = await self.store.proven_number(user_id)
        return Phone.known(number) if number else None

    async def status(self, user_id: str) -> AgentStatus:
        agent = await self.store.get_agent(user_id)
        return AgentStatus(
            user_id=user_id,
            number=agent.number if agent else await self._pending_number(user_id),
            role="admin" if await self.is_admin(user_id) else "agent",
            verified=bool(agent and await self._proven(user_id, agent.number)),
        )

    async def _pending_number(self, user_id: str) -> str | None:
        """A number being proven beside someone else's claim (no mapping yet), if any."""
        proof = await self.store.verification(user_id)
        pending = proof is not None and proof.state == "pending" and proof.code_hash
        return proof.number if pending and proof and proof.number else None

    async def _proven(self, user_id: str, number: str) -> bool:
        proof = await self.store.verification(user_id)
        return proof is not None and proof.state == "verified" and proof.number == number

    # ------------------------------------------------------------------ permission rules

    async def refuse(
        self, user_id: str, what: str, *, action: str, command: str = "c2c"
    ) -> Refused:
        """Audit an admin-only refusal and return it, to raise: written the same way everywhere."""
        await self.store.audit(
            user_id=user_id, action=f"{action}.refused", outcome="not admin", detail={"what": what}
        )
        return Refused(ADMIN_ONLY.format(what=what, command=command))

    async def require_admin(
        self, user_id: str, what: str, *, action: str, command: str = "c2c"
    ) -> None:
        if not await self.is_admin(user_id):
            raise await self.refuse(user_id, what, action=action, command=command)

    async def first_leg(self, user_id: str, requested: Phone | None = None) -> Phone:
        """The number that rings first: the user's own proven one, or (admins only) any."""
        return (await self.choose_first_leg(user_id, requested))[0]

    async def choose_first_leg(
        self, user_id: str, requested: Phone | None = None
    ) -> tuple[Phone, bool]:
        """`first_leg`, and whether it is the user's own number."""
        mine = await self.number(user_id)
        if requested is not None and (mine is None or requested.e164 != mine.e164):
            await self.require_admin(user_id, "choose the first leg of a call", action="c2c")
            return requested, False
        if mine is None:
            agent = await self.store.get_agent(user_id)
            pending = agent.number if agent else await self._pending_number(user_id)
            raise NotVerified(Phone.known(pending)) if pending else NotRegistered()
        return mine, True

    # ------------------------------------------------------------------ registration

    async def register(self, actor: str, number: Phone, target: str | None = None) -> Registration:
        """Map `target` (default: the actor) to `number`.

        An admin naming a user assigns the number outright. Registering oneself stores the
        number unproven and returns the code a verification call must read out.
        """
        assigning = target is not None and await self.is_admin(actor)
        user_id = target or actor
        if user_id != actor and not assigning:
            raise await self.refuse(actor, "register or unregister someone else", action="c2c")
        current = await self.store.get_agent(user_id)
        same = current is not None and current.number == number.e164
        if not assigning and same and await self._proven(user_id, number.e164):
            return Registration(user_id, number, verified=True, unchanged=True)
        if not assigning:
            await self._check_call_budget(user_id)
        contested = await self._release_unproven_claim(actor, number, user_id, assigning=assigning)
        if contested:
            # Someone else's unproven claim, code still live: it does not block this one. Both
            # may prove the number; whoever types their code first holds it.
            await self.store.unregister_agent(user_id)
        else:
            try:
                await self.store.register_agent(user_id, number.e164)
            except StoreError as exc:
                raise Refused(str(exc)) from None
        if assigning:
            await self.store.set_verified(user_id, number.e164, by=actor)
            await self._audit_registration(actor, user_id, number, "ok: assigned")
            return Registration(user_id, number, verified=True)
        code = f"{secrets.randbelow(10**6):06d}"
        expires = self.clock() + CODE_TTL
        await self.store.start_verification(
            user_id, number.e164, await self._hash(user_id, number, code), expires
        )
        await self._audit_registration(actor, user_id, number, "ok: verification call")
        return Registration(user_id, number, verified=False, code=code)

    async def _check_call_budget(self, user_id: str) -> None:
        proof = await self.store.verification(user_id)
        if proof is None or proof.first_call_at is None or proof.calls_sent < CALLS_PER_DAY:
            return
        if self.clock() - datetime.fromisoformat(proof.first_call_at) < CALL_BUDGET:
            await self.store.audit(
                user_id=user_id, action="c2c.register", outcome="refused: call budget"
            )
            raise Refused(
                f"You asked for {CALLS_PER_DAY} verification calls in the last 24 hours; try again"
                " tomorrow, or ask an admin to assign your number (`/c2c register @you <number>`)."
            )

    async def _release_unproven_claim(
        self, actor: str, number: Phone, user_id: str, *, assigning: bool
    ) -> bool:
        """Nobody's unproven claim keeps a number from its holder or from an admin.

        An expired claim, or any unproven claim when an admin assigns the number, is released.
        True when someone else's claim is still being proven (code live) and this is a
        self-registration: it goes ahead beside it. A proven number is left to register_agent,
        which refuses it.
        """
        holder = await self.store.holder_of(number.e164)
        if holder is None or holder.user_id == user_id:
            return False
        proof = await self.store.verification(holder.user_id)
        if proof is not None and proof.state == "verified" and proof.number == number.e164:
            return False  # theirs: register_agent refuses
        live = proof is not None and proof.number == number.e164 and not self._expired(proof)
        if live and not assigning:
            return True
        await self._release(actor, holder.user_id, number, "ok: unproven claim released")
        return False

    async def _release(self, actor: str, holder: str, number: Phone, outcome: str) -> None:
        await self.store.unregister_agent(holder)
        await self.store.drop_verification(holder)
        await self.store.audit(
            user_id=actor,
            action="c2c.unregister",
            outcome=outcome,
            numbers=[number.e164],
            detail={"target": holder},
        )

    async def _audit_registration(
        self, actor: str, user_id: str, number: Phone, outcome: str
    ) -> None:
        await self.store.audit(
            user_id=actor,
            action="c2c.register",
            outcome=outcome,
            numbers=[number.e164],
            detail={"target": user_id},
        )

    async def verify(self, user_id: str, code: str) -> Phone:
        """Check the code read out by the verification call; 10 minutes, 5 tries, audited."""
        # The code is checked against the database, never a cache: a code replaced through
        # another replica a moment ago is void here too.
        proof = await self.store.verification(user_id, fresh=True)
        agent = await self.store.get_agent(user_id)
        if agent and await self._proven(user_id, agent.number):
            raise Refused(f"Your number {Phone.known(agent.number).pretty} is already verified.")
        # No mapping at all: the number was claimed beside someone else's unproven claim.
        stale = agent is not None and proof is not None and agent.number != proof.number
        if proof is None or not proof.code_hash or not proof.number or stale:
            await self._audit_verify(user_id, "none pending")
            raise Refused(
                "No verification is waiting for you. Start with `/c2c register 9876543210`:"
                " the bot rings that phone and reads out your code."
            )
        number = Phone.known(proof.number)
        again = f"`/c2c register {number.pretty}` again for a new call."
        if proof.tries >= MAX_TRIES:
            await self._audit_verify(user_id, "too many", number)
            raise Refused(f"Too many wrong codes, so that code no longer works. Type {again}")
        if self._expired(proof):
            await self._audit_verify(user_id, "expired", number)
            raise Refused(f"That code has expired (codes last 10 minutes). Type {again}")
        if not hmac.compare_digest(await self._hash(user_id, number, code), proof.code_hash):
            left = MAX_TRIES - await self.store.wrong_code(user_id)
            await self._audit_verify(user_id, "wrong code", number)
            more = f"{left} {'try' if left == 1 else 'tries'} left." if left else f"Type {again}"
            raise Refused(f"That is not the code. {more}")
        if agent is None:
            await self._take_contested(user_id, number)
        await self.store.set_verified(user_id, proof.number, by="self")
        await self._audit_verify(user_id, "ok", number)
        return number

    async def _take_contested(self, user_id: str, number: Phone) -> None:
        """The first proof wins: an unproven claim of someone else's is released; a number
        proven by someone else in the meantime is refused."""
        holder = await self.store.holder_of(number.e164)
        if holder is not None and holder.user_id != user_id:
            if await self._proven(holder.user_id, number.e164):
                await self.store.drop_verification(user_id)
                await self._audit_verify(user_id, "proven by someone else first", number)
                raise Refused(
                    f"{number.pretty} was proven by another Slack user first; ask an admin"
                    " if it is yours."
                )
            await self._release(user_id, holder.user_id, number, "ok: proven by someone else first")
        try:
            await self.store.register_agent(user_id, number.e164)
        except StoreError as exc:
            raise Refused(str(exc)) from None

    def _expired(self, proof: Verification) -> bool:
        return proof.expires_at is None or self.clock() > datetime.fromisoformat(proof.expires_at)

    async def _audit_verify(self, user_id: str, outcome: str, number: Phone | None = None) -> None:
        numbers = [number.e164] if number else []
        await self.store.audit(
            user_id=user_id, action="c2c.verify", outcome=outcome, numbers=numbers
        )

    async def _hash(self, user_id: str, number: Phone, code: str) -> str:
        if self._secret is None:
            self._secret = (await self.store.secret("verification_secret")).encode()
        message = f"{user_id}:{number.e164}:{code}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    async def unregister(self, actor: str, target: str | None = None) -> bool:
        user_id = target or actor
        if user_id != actor:
            await self.require_admin(actor, "register or unregister someone else", action="c2c")
        removed = await self.store.unregister_agent(user_id)
        await self.store.drop_verification(user_id)
        await self.store.audit(
            user_id=actor, action="c2c.unregister", outcome="ok", detail={"target": user_id}
        )
        return removed

    # ------------------------------------------------------------------ admins

    async def _require_admin_to_manage(self, actor: str, action: str) -> None:
        await self.require_admin(actor, "see or change who is an admin", action=f"admin.{action}")

    async def roster(self, actor: str) -> AdminRoster:
        await self._require_admin_to_manage(actor, "list")
        everyone = tuple(sorted(self.env_admins | await self.store.admins()))
        await self.store.audit(user_id=actor, action="admin.list", outcome="ok")
        return AdminRoster(everyone, self.env_admins)

    async def grant(self, actor: str, target: str) -> AdminChanged:
        await self._require_admin_to_manage(actor, "grant")
        await self.store.grant_admin(target, actor)
        await self.store.audit(
            user_id=actor, action="admin.grant", outcome="ok", detail={"target": target}
        )
        return AdminChanged("grant", target, changed=True)

    async def revoke(self, actor: str, target: str) -> AdminChanged:
        await self._require_admin_to_manage(actor, "revoke")
        if target in self.env_admins:
            raise Refused("That admin comes from ADMIN_USER_IDS; remove them there and restart.")
        if target == actor:
            raise Refused("You cannot revoke your own admin rights; ask another admin.")
        changed = await self.store.revoke_admin(target)
        await self.store.audit(
            user_id=actor, action="admin.revoke", outcome="ok", detail={"target": target}
        )
        return AdminChanged("revoke", target, changed=changed)
