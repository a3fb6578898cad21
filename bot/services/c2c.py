"""Click-to-call: every dial goes through `request_dial`; placed once, shown once, followed.

`request_dial` is the one door for `/c2c`, the dial form, *Dial again*, the message shortcut,
follow-up *Call now* and the App Home: it applies the first-leg rule, the 60-second repeat check
and the double-click guard, and answers with a typed outcome each entry point renders.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import urlencode

from bot.kaleyra import KaleyraAPIError, KaleyraClient, KaleyraError
from bot.kaleyra.errors import describe
from bot.kaleyra.models import (
    FINAL_STATUSES,
    C2CCall,
    ClickToCallRequest,
    LogQuery,
    ObdRequest,
    OutboundRequest,
    OutboundTarget,
)
from bot.models import (
    AlreadyHandled,
    AskFirst,
    Blacklisted,
    CallLogPage,
    CallProgress,
    CallRow,
    ClaimTaken,
    Click,
    Dialling,
    DialOutcome,
    Followup,
    Redial,
    Registration,
)
from bot.phones import InvalidNumber, Phone, parse_phone
from bot.runtime.background import Background
from bot.runtime.logs import CALL_ID, REQUEST_ID
from bot.runtime.recent import RecentKeys
from bot.services.agents import Agents, Refused
from bot.services.home import Home
from bot.slack.budget import Priority
from bot.slack.notify import Notifier
from bot.store import Store, iso
from bot.views.c2c import (
    LOG_PAGE_SIZE,
    SAFE_LINK,
    call_card,
    verification_call_text,
    verification_failed_message,
)
from bot.views.common import error_message

log = logging.getLogger("voicebot.calls")
Clock = Callable[[], datetime]
FindFollowup = Callable[[str], Awaitable[Followup | None]]

REPEAT_WINDOW = timedelta(seconds=60)
CLICK_WINDOW = timedelta(seconds=10)  # a second press of the same button within this does nothing
REDIAL_KEEP = timedelta(hours=1)  # a *Dial again* payload works once within this
TOKEN_TTL = timedelta(hours=24)  # callbacks for a call are accepted this long after it was placed
TRACK_CONCURRENCY = 20  # status reads in flight at once, however many calls are open
INTERRUPTED = (
    "The bot restarted while placing this call, so whether it rang is unknown."
    " Check `/c2c log` before dialling again."
)
NO_CALL_ID = (
    "Kaleyra accepted the call but gave no call id, so it cannot be followed here."
    " Check `/c2c log` before dialling again."
)
CALLBACK_VARIABLES = {
    "status1": "{status1}",
    "status2": "{status2}",
    "duration": "{duration}",
    "billsec": "{billsec}",
    "recordpath": "{recordpath}",
}
_TOKEN = re.compile(r"^([1-9]\d{0,17})-([0-9a-f]{32})$", re.ASCII)
_STATUS_WORD = re.compile(r"^[A-Z][A-Z_-]{0,23}$", re.ASCII)
_SECONDS = re.compile(r"^\d{1,6}$", re.ASCII)


@dataclass(slots=True)
class _Order:
    """A dial acked to the user, waiting for its row (next batch) and then for a slot."""

    user_id: str
    agent: Phone
    customer: Phone
    retry: int | None
    delay: int | None
    request_id: str | None
    claim: str | None = None  # the feed call this dial calls back

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.user_id, self.agent.e164, self.customer.e164)


def _is_final(status1: str | None, status2: str | None) -> bool:
    """Final once the first leg ended without an answer, or the second leg ended."""
    if status1 in FINAL_STATUSES and status1 != "ANSWER":
        return True
    return status2 in FINAL_STATUSES


def _forward(before: str | None, after: str | None) -> str | None:
    """A leg's status only moves forward: a final status stays, nothing is wiped."""
    if after is None or before in FINAL_STATUSES:
        return before
    return after


def _status_word(value: object) -> str | None:
    word = str(value or "").strip().upper()
    return word if _STATUS_WORD.match(word) else None


def _seconds(value: object) -> int | None:
    text = str(value or "").strip()
    return int(text) if _SECONDS.match(text) else None


def safe_recording(url: object) -> str | None:
    """A recording link as it may be shown: https only (Kaleyra's `//host/…` gets https:)."""
    text = str(url or "").strip()
    if text.startswith("//"):
        text = "https:" + text
    return text if SAFE_LINK.match(text) else None


class ClickToCall:
    def __init__(
        self,
        store: Store,
        kaleyra: KaleyraClient,
        notify: Notifier,
        agents: Agents,
        home: Home,
        background: Background,
        clock: Clock,
        *,
        public_url: str | None,
        region: str,
        tz: tzinfo,
        io_bridge: str | None = None,
        find_followup: FindFollowup | None = None,
        poll_seconds: float = 2.0,
        track_for_seconds: float = 30 * 60,
        dial_concurrency: int = 200,
        auto_track: bool = True,
        shared_database: bool = False,
    ) -> None:
        self.store = store
        self.kaleyra = kaleyra
        self.notify = notify
        self.agents = agents
        self.home = home
        self.background = background
        self.clock = clock
        self.public_url = public_url
        self.region = region
        self.tz = tz
        self.io_bridge = io_bridge  # set: verification calls go through kaleyra.io from this DID
        self.find_followup = find_followup
        self.poll_seconds = poll_seconds
        self.track_for_seconds = track_for_seconds
        # Dial workflows at once: as many as the load asks for, up to DIAL_CONCURRENCY. Each
        # mostly waits on Kaleyra, so a burst rings in about one Kaleyra round trip.
        self.dial_concurrency = max(1, dial_concurrency)
        self.auto_track = auto_track
        self._poller: asyncio.Task | None = None
        self._secret: bytes | None = None  # read once from the store
        self._unrecorded: list[_Order] = []  # acked, row not yet written
        # (user, agent, customer) of the calls of the last REPEAT_WINDOW: the repeat check
        # runs on every dial, so it is answered from memory.
        self._recent: RecentKeys | None = None
        self._clicks = RecentKeys(CLICK_WINDOW, clock)  # the double-click guard
        # Replicas share the database: the guards read it too (one process on SQLite keeps
        # them in memory, where they cost nothing).
        self.shared_database = shared_database
        self._recording: asyncio.Task | None = None
        self._queue: deque[tuple[CallRow, _Order]] = deque()  # recorded, waiting for a slot
        self._workers = 0
        self._gone: set[int] = set()  # calls found missing, logged once

    # ------------------------------------------------------------------ the one door

    async def request_dial(
        self,
        user_id: str,
        customer: Phone,
        *,
        agent: Phone | None = None,
        retry: int | None = None,
        delay: int | None = None,
        click: Click | None = None,
        redial: Redial | None = None,
        claim: str | None = None,
    ) -> DialOutcome:
        """Dial `customer` for `user_id`, or say why not.

        `click` is the button press that asked (a second press within CLICK_WINDOW dials
        nothing); `redial` the *Dial again* (or *Call anyway*) payload that confirms a repeat
        (usable once); `claim` the feed call this dial calls back. Every number meets the rules
        a typed one does, a number on the bot's blacklist is not dialled (an admin may confirm),
        and a *Dial again* of a claimed caller re-checks the claim. Refusals raise `Refused` /
        `NotRegistered`; nothing is sent to Kaleyra then.
        """
        if click is not None and not await self._first_press(click):
            return AlreadyHandled()
        if not (retry is None or 0 <= retry <= 2) or not (delay is None or 0 <= delay <= 900):
            raise Refused("Retries go from 0 to 2 and the delay from 0 to 900 seconds.")
        customer = self._dialable(customer, "customer")
        first_leg, own = await self.agents.choose_first_leg(
            user_id, agent and self._dialable(agent, "agent")
        )
        if redial is not None:
            once = f"redial:{redial.nonce}"
            if redial.nonce and not await self.store.first_time(once, within=REDIAL_KEEP):
                return AlreadyHandled()
            claim = redial.claim
            if taken := await self._claim_taken(user_id, customer, claim):
                return taken
        if blocked := await self._blacklisted(
            user_id, first_leg, customer, retry, delay, claim, redial
        ):
            return blocked
        if redial is None and await self.recent_repeat(user_id, first_leg, customer):
            ask = self._redial(first_leg, customer, retry, delay, claim=claim)
            return AskFirst(first_leg, customer, ask)
        await self.dial(user_id, first_leg, customer, retry=retry, delay=delay, claim=claim)
        return Dialling(first_leg, customer, again=redial is not None, own=own)

    def _dialable(self, number: Phone, leg: str) -> Phone:
        """The rules a typed number meets, again: a number from a button, a stored row or
        Kaleyra never loses its country code on the way to the Voice API."""
        try:
            return parse_phone(number.e164, self.region)
        except InvalidNumber as exc:
            raise Refused(f"The {leg} number {exc}. Nothing was dialled.") from None

    async def _claim_taken(
        self, user_id: str, customer: Phone, claim: str | None
    ) -> ClaimTaken | None:
        """A *Dial again* of a caller someone is calling back: the claim as it is now decides."""
        if claim is not None:
            feed = await self.store.feed_call(claim)
            holder = feed.claimed_by if feed is not None else None
            mine = (
                holder == user_id
                and feed is not None
                and feed.callback_state in {"dialling", "unknown"}
            )
            if mine:
                return None
        else:
            feed = await self.store.open_claim_on(customer.e164)
            if feed is None or feed.claimed_by == user_id:
                return None
            holder = feed.claimed_by
        await self.store.audit(
            user_id=user_id,
            action="c2c.dial.refused",
            outcome="claimed by someone else" if holder else "claim released",
            numbers=[customer.e164],
            kaleyra_ids=[claim] if claim else [],
        )
        return ClaimTaken(customer, holder)

    async def _blacklisted(
        self,
        user_id: str,
        agent: Phone,
        customer: Phone,
        retry: int | None,
        delay: int | None,
        claim: str | None,
        redial: Redial | None,
    ) -> Blacklisted | None:
        """None when the customer may be dialled; else the refusal (with, for an admin, the
        confirmation that overrides it). An admin's confirmed override is audited."""
        entry = await self.store.blacklist_entry(customer.e164)
        if entry is None:
            return None
        admin = await self.agents.is_admin(user_id)
        detail = {"added_by": entry.added_by, "added_at": entry.added_at}
        overriding = admin and redial is not None and redial.override
        await self.store.audit(
            user_id=user_id,
            action="c2c.dial.blacklist_override" if overriding else "c2c.dial.refused",
            outcome="ok" if overriding else "blacklisted",
            numbers=[customer.e164],
            detail=detail,
        )
        if overriding:
            return None
        override = (
            self._redial(agent, customer, retry, delay, claim=claim, override=True)
            if admin
            else None
        )
        return Blacklisted(
            agent,
            customer,
            added_by=entry.added_by,
            added_at=datetime.fromisoformat(entry.added_at).astimezone(self.tz),
            reason=entry.reason,
            override=override,
        )

    @staticmethod
    def _redial(
        agent: Phone,
        customer: Phone,
        retry: int | None,
        delay: int | None,
        *,
        claim: str | None = None,
        override: bool = False,
    ) -> Redial:
        """The one place a *Dial again* (or *Call anyway*) payload is made."""
        return Redial(
            agent.e164,
            customer.e164,
            retry,
            delay,
            nonce=secrets.token_hex(8),
            claim=claim,
            override=override,
        )

    async def call_followup(self, click: Click) -> DialOutcome | None:
        """Follow-up *Call now*: the follow-up's customer, from the clicker's own number.

        None when the follow-up no longer exists.
        """
        if not await self._first_press(click):
            return AlreadyHandled()  # a double click: not even looked up twice
        item = await self.find_followup(click.value) if self.find_followup else None
        if item is None:
            return None
        try:
            customer = parse_phone(item.phone, self.region)
        except InvalidNumber as exc:
            raise Refused(f"That follow-up's number cannot be dialled: {exc}.") from None
        return await self.request_dial(click.user_id, customer)

    async def _first_press(self, click: Click) -> bool:
        """The double-click guard: (user, message or view, button, value), a few seconds; in
        the shared database too with replicas, where the two clicks may reach two of them."""
        key = (click.user_id, click.where, click.action_id, click.value)
        if not self._clicks.first_time(key):
            return False
        if self.shared_database:
            return await self.store.first_time("click:" + "|".join(key), within=CLICK_WINDOW)
        return True

    async def recent_repeat(self, user_id: str, agent: Phone, customer: Phone) -> bool:
        """The same call placed (or about to be) in the last minute: ask before ringing again."""
        if (user_id, agent.e164, customer.e164) in await self._recent_calls():
            return True
        if self.shared_database:  # placed through another replica
            since = iso(self.clock() - REPEAT_WINDOW)
            return await self.store.placed_since(user_id, agent.e164, customer.e164, since)
        return False

    async def _recent_calls(self) -> RecentKeys:
        if self._recent is None:  # after a start: the calls the store holds from the last minute
            self._recent = RecentKeys(REPEAT_WINDOW, self.clock)
            for user_id, agent, customer, at in await self.store.recent_call_keys(REPEAT_WINDOW):
                self._recent.add((user_id, agent, customer), datetime.fromisoformat(at))
        return self._recent

    # ------------------------------------------------------------------ registration

    async def register(self, actor: str, number: Phone, target: str | None = None) -> Registration:
        """Agents decides; a self-registered number then gets its verification call."""
        registration = await self.agents.register(actor, number, target)
        if registration.code:
            self.background.spawn(self._ring_code(registration), name="c2c-verify-call")
        self.home.refresh_later(registration.user_id)
        return registration

    async def verify(self, user_id: str, code: str) -> Phone:
        number = await self.agents.verify(user_id, code)
        self.home.refresh_later(user_id)
        return number

    async def unregister(self, actor: str, target: str | None = None) -> bool:
        removed = await self.agents.unregister(actor, target)
        self.home.refresh_later(target or actor)
        return removed

    async def _ring_code(self, registration: Registration) -> None:
        """Ring the number and read out the code; tell the user when the call could not go."""
        assert registration.code is not None
        number, text = registration.number, verification_call_text(registration.code)
        try:
            if self.io_bridge:
                target = [OutboundTarget.for_text(text)]
                request = OutboundRequest(to=[number.e164], target=target, bridge=self.io_bridge)
                chunk = (await self.kaleyra.outbound(request)).chunks[0]
            else:
                request = ObdRequest(numbers=[number.national], message=text)
                chunk = (await self.kaleyra.obd_call(request)).chunks[0]
            state, error = chunk.state, chunk.error
        except Exception as exc:  # an answer of an odd shape: the call may have gone
            log.warning("verification call: %s", type(exc).__name__)
            state, error = "unknown", exc
        await self.store.audit(
            user_id=registration.user_id,
            action="c2c.verify.call",
            outcome=state,
            numbers=[number.e164],
        )
        if state == "rejected":
            problem = describe(error) if error else "Kaleyra refused the call."
            await self.notify.dm(registration.user_id, verification_failed_message(number, problem))

    # ------------------------------------------------------------------ lookups

    async def lookup(self, call_id: str) -> C2CCall | None:
        """dial.c2cstatus for one call; KaleyraError says why it could not be read."""
        return await self.kaleyra.c2c_status(call_id)

    async def call_log(
        self, user_id: str, kind: str, from_date: date | None, to_date: date | None
    ) -> CallLogPage:
        """A page of the click-to-call log or the incoming calls; masked but for my own calls."""
        today = self.clock().astimezone(self.tz).date()
        start = from_date or (today - timedelta(days=2) if kind == "log" else today)
        end = to_date or today
        query = LogQuery(fromdate=start, todate=end, limit=LOG_PAGE_SIZE + 1, page=1)
        rows: list[Any] = list(
            await (
                self.kaleyra.c2c_log(query) if kind == "log" else self.kaleyra.call_details(query)
            )
        )
        title = "Click-to-call log" if kind == "log" else "Incoming calls forwarded to agents"
        title += f" {start:%Y-%m-%d} to {end:%Y-%m-%d}"
        page = rows[:LOG_PAGE_SIZE]
        full = None if await self.agents.is_admin(user_id) else await self._mine(user_id, page)
        return CallLogPage(title, page, more=len(rows) > LOG_PAGE_SIZE, full_numbers=full)

    async def _mine(self, user_id: str, rows: list[Any]) -> frozenset[str]:
        """Ids of the rows that are this user's calls: placed by them, or on their own number."""
        placed = {
            c.kaleyra_id for c in await self.store.recent_calls(user_id, limit=200) if c.kaleyra_id
        }
        mine = await self.agents.number(user_id)
        own = {mine.national, "0" + mine.national, mine.e164.lstrip("+")} if mine else set()
        return frozenset(
            row.id
            for row in rows
            if row.id in placed
            or (own and (_digits(row.callfrom) in own or _digits(row.callto) in own))
        )

    async def refresh(self, user_id: str, kaleyra_id: str) -> None:
        """The card's Refresh button: read the call's status now (my own calls only)."""
        for call in await self.store.recent_calls(user_id, limit=20):
            if call.kaleyra_id == kaleyra_id:
                self.background.spawn(self.poll_once(call.id), name="c2c-refresh")

    # ------------------------------------------------------------------ placing

    async def dial(
        self,
        user_id: str,
        agent: Phone,
        customer: Phone,
        *,
        retry: int | None = None,
        delay: int | None = None,
        claim: str | None = None,
    ) -> None:
        """Queue one click-to-call; it is recorded, placed exactly once, shown and followed.

        Rules are applied by `request_dial`; this only places. Nothing here waits: a burst of
        dials is written to the store in one transaction on the next turn of the loop, then
        up to `dial_concurrency` workers place them in order, so the work after each ack never crowds
        out the acks still coming in.
        """
        order = _Order(user_id, agent, customer, retry, delay, REQUEST_ID.get(), claim)
        self._unrecorded.append(order)
        (await self._recent_calls()).add(order.key)
        if self._recording is None or self._recording.done():
            self._recording = self.background.spawn(self._record(), name="c2c-record")

    async def _record(self) -> None:
        # Dials queued while a batch is being written wait for this task, not for a later dial:
        # it records batches until none is left.
        while self._unrecorded:
            orders, self._unrecorded = self._unrecorded, []
            await self._record_batch(orders)

    async def _record_batch(self, orders: list[_Order]) -> None:
        try:
            await self._load_secret()
            rows = await self.store.create_calls(
                "c2c",
                [(o.user_id, o.agent.e164, o.customer.e164) for o in orders],
                token_for=self.callback_token,
            )
        except Exception:
            log.exception("could not record %d dials", len(orders))
            for order in orders:
                (await self._recent_calls()).discard(order.key)
                self.background.spawn(self._not_recorded(order), name="c2c-not-recorded")
            return
        for row, order in zip(rows, orders, strict=True):
            if order.claim:  # the call back's claim knows its call from the start
                await self.store.link_callback(order.claim, order.user_id, row.id)
        self._queue.extend(zip(rows, orders, strict=True))
        for _ in range(min(self.dial_concurrency - self._workers, len(self._queue))):
            self._workers += 1
            self.background.spawn(self._work(), name="c2c-dial")

    async def _work(self) -> None:
        try:
            while self._queue:
                call, order = self._queue.popleft()
                REQUEST_ID.set(order.request_id)
                CALL_ID.set(call.id)
                try:
                    await self._place(call, order)
                except Exception:
                    # Kaleyra may have placed it: whatever broke here, the user gets a card.
                    log.exception("dial of call %s failed", call.id)
                    await self._last_resort_card(call)
        finally:
            self._workers -= 1

    async def _not_recorded(self, order: _Order) -> None:
        text = (
            f"Could not place the call to {order.customer.pretty}: the bot could not record it."
            " Nothing was dialled; try again in a minute."
        )
        await self.notify.dm(order.user_id, error_message(text))

    async def _place(self, call: CallRow, order: _Order) -> CallRow:
        try:
            request = ClickToCallRequest(
                caller=order.agent.national,
                receiver=order.customer.national,
                retry=order.retry,
                delay=order.delay,
                custom=f"voicebot-{call.id}",
                callback=self.callback_url(call),
            )
        except ValueError:  # nothing was sent
            problem = KaleyraError("The bot could not build this call's request; nothing was sent.")
            return await self._not_placed(call, problem)
        try:
            result = await self.kaleyra.click_to_call(request)
        except Exception as exc:  # KaleyraError, or an answer nobody foresaw
            return await self._not_placed(call, exc)
        await self.background.turn()
        if not result.id:
            call = await self.store.update_call(call.id, state="untracked", error=NO_CALL_ID)
        else:
            call = await self.store.update_call(call.id, state="placed", kaleyra_id=result.id)
        await self._audit(call, "placed")
        self.home.refresh_later(call.user_id)
        # The ack already said "Dialling"; the card appears once Kaleyra has answered.
        call = await self._post_card(call)
        if result.id:
            self.ensure_poller()
        return call

    async def _not_placed(self, call: CallRow, exc: Exception) -> CallRow:
        await self.background.turn()
        if not isinstance(exc, KaleyraError):
            log.error("click-to-call answer not understood: %s", type(exc).__name__)
        unknown = not isinstance(exc, KaleyraError) or exc.outcome_unknown
        state = "unknown" if unknown else "failed"
        call = await self.store.update_call(call.id, state=state, error=describe(exc))
        if state == "failed":  # it rang nobody: dialling again needs no confirmation
            (await self._recent_calls()).discard(
                (call.user_id, call.agent_number, call.customer_number)
            )
        await self._audit(call, state, error=exc)
        return await self._post_card(call)

    async def _last_resort_card(self, call: CallRow) -> None:
        shown = replace(
            call,
            state="unknown",
            error="Something went wrong after the call was sent; whether it rang is unknown.",
        )
        try:
            shown = await self.store.update_call(call.id, state="unknown", error=shown.error)
        except Exception:
            log.exception("call %s: state not saved", call.id)
        if shown.channel and shown.message_ts:
            await self.render(shown)
        else:
            await self.notify.dm(call.user_id, self.card(shown))

    async def _audit(self, call: CallRow, outcome: str, error: Exception | None = None) -> None:
        detail: dict[str, Any] = {"call_row": call.id}
        if isinstance(error, KaleyraAPIError):
            detail.update(code=error.code, message=error.message)
        elif error is not None:
            detail.update(error=type(error).__name__)
        await self.store.audit(
            user_id=call.user_id,
            action="c2c.dial",
            outcome=outcome,
            numbers=[call.agent_number, call.customer_number],
            kaleyra_ids=[call.kaleyra_id] if call.kaleyra_id else [],
            detail=detail,
        )

    # ------------------------------------------------------------------ the card

    def card(self, call: CallRow) -> dict[str, Any]:
        return call_card(
            agent=Phone.known(call.agent_number).pretty,
            customer=Phone.known(call.customer_number).pretty,
            kaleyra_id=call.kaleyra_id,
            state=call.state,
            status1=call.status1,
            status2=call.status2,
            duration=call.duration,
            billsec=call.billsec,
            recording=call.recording,
            error=call.error,
            call_id=call.id,
        )

    async def _post_card(self, call: CallRow) -> CallRow:
        # Posting to the user id lands in the app's DM with them: the card is private.
        posted = await self.notify.dm(call.user_id, self.card(call))
        if posted is None or not posted.ts:
            return call
        await self.background.turn()
        return await self.store.update_call(call.id, channel=posted.channel, message_ts=posted.ts)

    async def render(self, call: CallRow) -> None:
        if call.channel and call.message_ts:
            # A call in progress is a tick a newer state may replace; any other state is final.
            priority = Priority.PROGRESS if call.state == "placed" else Priority.URGENT
            await self.notify.update(
                call.channel, call.message_ts, self.card(call), priority=priority
            )

    # ------------------------------------------------------------------ following a call

    async def poll_once(self, call_id: int) -> bool:
        """Read dial.c2cstatus once; update the row and card on change. True once final
        (or gone: a call retention pruned is logged once and no longer followed)."""
        call = await self.store.find_call(call_id)
        if call is None:
            if call_id not in self._gone:
                self._gone.add(call_id)
                log.warning("call %s is gone from the store; no longer followed", call_id)
            return True
        if call.state == "final":
            return True
        if not call.kaleyra_id:
            return False
        try:
            status = await self.kaleyra.c2c_status(call.kaleyra_id)
        except KaleyraError as exc:
            log.warning("status of call %s not read: %s", call.id, exc)
            return False
        if status is None:
            return False
        progress = CallProgress(
            status1=_status_word(status.status),
            status2=_status_word(status.status2),
            duration=status.duration,
            billsec=status.billsec,
            recording=safe_recording(status.recording_url),
            final=status.is_final,
        )
        return await self.apply(call, progress)

    async def apply(self, call: CallRow, progress: CallProgress) -> bool:
        """Merge what Kaleyra said: forward only; a final call is never changed again."""
        await self.background.turn()  # polls and callbacks come back in bursts
        found = await self.store.find_call(call.id)  # a poll and a callback may have raced
        if found is None or found.state == "final":
            return True
        call = found
        status1 = _forward(call.status1, progress.status1)
        status2 = _forward(call.status2, progress.status2)
        final = progress.final or _is_final(status1, status2)
        fields = {
            "status1": status1,
            "status2": status2,
            "duration": call.duration if progress.duration is None else progress.duration,
            "billsec": call.billsec if progress.billsec is None else progress.billsec,
            "recording": call.recording if progress.recording is None else progress.recording,
            "state": "final" if final else call.state,
        }
        if all(getattr(call, k) == v for k, v in fields.items()):
            return final
        before = self.card(call)
        call = await self.store.update_call(call.id, **fields)
        if self.card(call) != before:  # Slack only hears of changes a person can see
            await self.render(call)
        if final:
            self.home.refresh_later(call.user_id)
            await self.store.audit(
                user_id=call.user_id,
                action="c2c.final",
                outcome=f"{status1 or '-'}/{status2 or '-'}",
                numbers=[call.agent_number, call.customer_number],
                kaleyra_ids=[call.kaleyra_id] if call.kaleyra_id else [],
            )
        return final

    async def poll_open(self) -> None:
        """Follow every open call (a bounded number at a time); give up on one after a while."""
        if self.public_url:
            return  # Kaleyra's callbacks report progress instead
        now, due = self.clock(), []
        for ref in await self.store.open_call_refs():
            age = (now - datetime.fromisoformat(ref.created_at)).total_seconds()
            if age <= self.track_for_seconds:
                due.append(ref.id)
                continue
            minutes = self.track_for_seconds / 60
            call = await self.store.update_call(
                ref.id,
                state="untracked",
                error=f"No final status after {minutes:.0f} minutes; check `/c2c status {ref.kaleyra_id}`.",
            )
            await self.render(call)
        # A few workers, not a task per open call: 500 tasks made at once would queue 500 steps
        # ahead of every ack that arrives meanwhile.
        queue = deque(due)

        async def worker() -> None:
            while queue:
                await self.poll_once(queue.popleft())

        await asyncio.gather(*(worker() for _ in range(min(TRACK_CONCURRENCY, len(queue)))))

    def ensure_poller(self) -> None:
        """Without the scheduler: one loop follows all open calls (not a task per call)."""
        if not self.auto_track or self.public_url:
            return
        if self._poller is None or self._poller.done():
            self._poller = self.background.spawn(
                self._poll_loop(), name="track-calls", lasting=True
            )

    async def _poll_loop(self) -> None:
        while await self.store.has_open_calls():
            await asyncio.sleep(self.poll_seconds)
            await self.poll_open()

    async def resume_tracking(self) -> int:
        """After a restart: follow every call that had not reached a final status.

        Dials still queued or waiting for Kaleyra when the process stopped may or may not have
        rung: they are marked unknown and their user is shown a card saying so.
        """
        for call in await self.store.calls_being_placed():
            call = await self.store.update_call(call.id, state="unknown", error=INTERRUPTED)
            self.background.spawn(self._post_card(call), name="c2c-interrupted")
        calls = [c for c in await self.store.open_calls() if c.kaleyra_id]
        if calls:
            self.ensure_poller()
        return len(calls)

    # ------------------------------------------------------------------ callbacks

    async def _load_secret(self) -> bytes:
        if self._secret is None:
            self._secret = (await self.store.secret("callback_secret")).encode()
        return self._secret

    def callback_token(self, call_id: int) -> str:
        """The token minted for `call_id` (the secret is loaded before the first call)."""
        assert self._secret is not None
        digest = hmac.new(self._secret, f"c2c:{call_id}".encode(), hashlib.sha256).hexdigest()
        return f"{call_id}-{digest[:32]}"

    async def call_for_token(self, token: object) -> CallRow | None:
        """The call a callback token was minted for, while it is valid; None for anything else.

        Total: no string makes this raise. A token is valid for TOKEN_TTL after its call.
        """
        try:
            match = _TOKEN.match(token) if isinstance(token, str) else None
            if match is None:
                return None
            await self._load_secret()
            expected = self.callback_token(int(match.group(1)))
            if not hmac.compare_digest(token.encode(), expected.encode()):  # type: ignore[union-attr]
                return None
            call = await self.store.call_by_token(expected)
            if call is None:
                return None
            if self.clock() - datetime.fromisoformat(call.created_at) > TOKEN_TTL:
                return None
            return call
        except Exception:
            log.warning("callback token not checked", exc_info=True)
            return None

    def callback_url(self, call: CallRow) -> str | None:
        base = self.public_url
        if not base or not call.callback_token:
            return None
        # Kaleyra replaces the {variables}; urlencode must leave the braces alone.
        return f"{base}/kaleyra/callback/{call.callback_token}?" + urlencode(
            CALLBACK_VARIABLES, safe="{}"
        )

    async def on_callback(self, call: CallRow, query: Mapping[str, str]) -> None:
        """Kaleyra's progress report: checked word by word, applied forward only, never raises."""
        try:
            status1 = _status_word(query.get("status1"))
            status2 = _status_word(query.get("status2"))
            progress = CallProgress(
                status1=status1,
                status2=status2,
                duration=_seconds(query.get("duration")),
                billsec=_seconds(query.get("billsec")),
                recording=safe_recording(query.get("recordpath")),
                final=_is_final(status1, status2),
            )
            await self.apply(call, progress)
        except Exception:
            log.exception("callback for call %s not applied", call.id)


def _digits(number: str | None) -> str:
    return re.sub(r"\D", "", number or "")
