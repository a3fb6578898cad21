"""Click-to-call: place once, show one message, follow it to a final status per leg."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from slack_sdk.errors import SlackApiError

from bot.kaleyra import KaleyraAPIError, KaleyraError
from bot.kaleyra.models import FINAL_STATUSES, ClickToCallRequest
from bot.models import CallRow
from bot.phones import Phone
from bot.runtime.logs import CALL_ID, REQUEST_ID
from bot.runtime.recent import RecentKeys
from bot.services.home import refresh_home_later
from bot.views.c2c import call_card
from bot.views.common import describe_kaleyra_error, error_message

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger("voicebot.calls")

REPEAT_WINDOW = timedelta(seconds=60)
TRACK_CONCURRENCY = 20  # status reads in flight at once, however many calls are open
DIALS_IN_FLIGHT = 20  # dial workflows running at once; more wait their turn
INTERRUPTED = (
    "The bot restarted while placing this call, so whether it rang is unknown."
    " Check `/c2c log` before dialling again."
)
CALLBACK_VARIABLES = {
    "status1": "{status1}",
    "status2": "{status2}",
    "duration": "{duration}",
    "billsec": "{billsec}",
    "recordpath": "{recordpath}",
}


@dataclass(slots=True)
class _Order:
    """A dial acked to the user, waiting for its row (next batch) and then for a slot."""

    user_id: str
    agent: Phone
    customer: Phone
    retry: int | None
    delay: int | None
    request_id: str | None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.user_id, self.agent.e164, self.customer.e164)


class ClickToCall:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._poller: asyncio.Task | None = None
        self._secret: bytes | None = None  # read once from the store
        self._unrecorded: list[_Order] = []  # acked, row not yet written
        # (user, agent, customer) of the calls of the last REPEAT_WINDOW: the repeat check
        # runs on every dial, so it is answered from memory.
        self._recent: RecentKeys | None = None
        self._recording: asyncio.Task | None = None
        self._queue: deque[tuple[CallRow, _Order]] = deque()  # recorded, waiting for a slot
        self._workers = 0

    # ------------------------------------------------------------------ placing

    def recent_repeat(self, user_id: str, agent: Phone, customer: Phone) -> bool:
        """The same call placed (or about to be) in the last minute: ask before ringing again."""
        return (user_id, agent.e164, customer.e164) in self._recent_calls()

    def _recent_calls(self) -> RecentKeys:
        if self._recent is None:  # after a start: the calls the store holds from the last minute
            self._recent = RecentKeys(REPEAT_WINDOW, self.deps.clock)
            for user_id, agent, customer, at in self.deps.store.recent_call_keys(REPEAT_WINDOW):
                self._recent.add((user_id, agent, customer), datetime.fromisoformat(at))
        return self._recent

    def dial(
        self,
        user_id: str,
        agent: Phone,
        customer: Phone,
        *,
        retry: int | None = None,
        delay: int | None = None,
    ) -> None:
        """Queue one click-to-call; it is recorded, placed exactly once, shown and followed.

        Nothing here waits: a burst of dials is written to the store in one transaction on the
        next turn of the loop, then DIALS_IN_FLIGHT workers place them in order, so the work
        after each ack never crowds out the acks still coming in.
        """
        order = _Order(user_id, agent, customer, retry, delay, REQUEST_ID.get())
        self._unrecorded.append(order)
        self._recent_calls().add(order.key)
        if self._recording is None or self._recording.done():
            self._recording = self.deps.background.spawn(self._record(), name="c2c-record")

    async def _record(self) -> None:
        orders, self._unrecorded = self._unrecorded, []
        try:
            rows = self.deps.store.create_calls(
                "c2c",
                [(o.user_id, o.agent.e164, o.customer.e164) for o in orders],
                token_for=self.callback_token,
            )
        except Exception:
            log.exception("could not record %d dials", len(orders))
            for order in orders:
                self._recent_calls().discard(order.key)
                self.deps.background.spawn(self._not_recorded(order), name="c2c-not-recorded")
            return
        self._queue.extend(zip(rows, orders, strict=True))
        while self._workers < min(DIALS_IN_FLIGHT, len(self._queue)):
            self._workers += 1
            self.deps.background.spawn(self._work(), name="c2c-dial")

    async def _work(self) -> None:
        try:
            while self._queue:
                call, order = self._queue.popleft()
                REQUEST_ID.set(order.request_id)
                CALL_ID.set(call.id)
                try:
                    await self._place(
                        call, order.agent, order.customer, retry=order.retry, delay=order.delay
                    )
                except Exception:
                    log.exception("dial of call %s failed", call.id)
        finally:
            self._workers -= 1

    async def _not_recorded(self, order: _Order) -> None:
        text = (
            f"Could not place the call to {order.customer.pretty}: the bot could not record it."
            " Nothing was dialled; try again in a minute."
        )
        with contextlib.suppress(SlackApiError):
            await self.deps.slack.chat_postMessage(
                channel=order.user_id, **error_message(text, sandbox=self.deps.uses_sandbox)
            )

    async def _place(
        self, call: CallRow, agent: Phone, customer: Phone, *, retry: int | None, delay: int | None
    ) -> CallRow:
        deps, user_id = self.deps, call.user_id
        request = ClickToCallRequest(
            caller=agent.national,
            receiver=customer.national,
            retry=retry,
            delay=delay,
            custom=f"voicebot-{call.id}",
            callback=self.callback_url(call),
        )
        try:
            result = await deps.kaleyra.click_to_call(request)
        except KaleyraError as exc:
            await deps.background.turn()
            state = "unknown" if exc.outcome_unknown else "failed"
            call = deps.store.update_call(call.id, state=state, error=describe_kaleyra_error(exc))
            if state == "failed":  # it rang nobody: dialling again needs no confirmation
                self._recent_calls().discard(
                    (call.user_id, call.agent_number, call.customer_number)
                )
            self._audit(call, state, error=exc)
            await self._post_card(call)
            return call
        await deps.background.turn()
        call = deps.store.update_call(call.id, state="placed", kaleyra_id=result.id)
        self._audit(call, "placed")
        refresh_home_later(deps, user_id)
        # The ack already said "Dialling"; the card appears once Kaleyra has answered.
        call = await self._post_card(call)
        if result.id:
            self.ensure_poller()
        return call

    def _audit(self, call: CallRow, outcome: str, error: KaleyraError | None = None) -> None:
        detail: dict[str, Any] = {"call_row": call.id}
        if isinstance(error, KaleyraAPIError):
            detail.update(code=error.code, message=error.message)
        elif error is not None:
            detail.update(error=type(error).__name__)
        self.deps.store.audit(
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
            sandbox=self.deps.uses_sandbox,
        )

    async def _post_card(self, call: CallRow) -> CallRow:
        try:
            # Posting to the user id lands in the app's DM with them: the card is private.
            response = await self.deps.slack.chat_postMessage(
                channel=call.user_id, **self.card(call)
            )
        except SlackApiError as exc:
            log.warning("could not post call card: %s", exc.response.get("error"))
            return call
        await self.deps.background.turn()
        return self.deps.store.update_call(
            call.id, channel=response["channel"], message_ts=response["ts"]
        )

    async def render(self, call: CallRow) -> None:
        if not call.channel or not call.message_ts:
            return
        try:
            await self.deps.slack.chat_update(
                channel=call.channel, ts=call.message_ts, **self.card(call)
            )
        except SlackApiError as exc:
            log.warning("could not update call card: %s", exc.response.get("error"))

    # ------------------------------------------------------------------ following a call

    async def poll_once(self, call_id: int) -> bool:
        """Read dial.c2cstatus once; update the row and card on change. True once final."""
        call = self.deps.store.get_call(call_id)
        if call.state == "final":
            return True
        if not call.kaleyra_id:
            return False
        try:
            status = await self.deps.kaleyra.c2c_status(call.kaleyra_id)
        except KaleyraError as exc:
            log.warning("status of call %s not read: %s", call.id, exc)
            return False
        if status is None:
            return False
        return await self.apply(
            call,
            status1=status.status,
            status2=status.status2,
            duration=status.duration,
            billsec=status.billsec,
            recording=status.recording_url,
            final=status.is_final,
        )

    async def apply(
        self,
        call: CallRow,
        *,
        status1: str | None,
        status2: str | None,
        duration: int | None,
        billsec: int | None,
        recording: str | None,
        final: bool,
    ) -> bool:
        await self.deps.background.turn()  # polls and callbacks come back in bursts
        fields = {
            "status1": status1,
            "status2": status2,
            "duration": duration,
            "billsec": billsec,
            "recording": recording,
            "state": "final" if final else call.state,
        }
        if all(getattr(call, k) == v for k, v in fields.items()):
            return final
        before = self.card(call)
        call = self.deps.store.update_call(call.id, **fields)
        if self.card(call) != before:  # Slack only hears of changes a person can see
            await self.render(call)
        if final:
            refresh_home_later(self.deps, call.user_id)
            self.deps.store.audit(
                user_id=call.user_id,
                action="c2c.final",
                outcome=f"{status1 or '-'}/{status2 or '-'}",
                numbers=[call.agent_number, call.customer_number],
                kaleyra_ids=[call.kaleyra_id] if call.kaleyra_id else [],
            )
        return final

    async def poll_open(self) -> None:
        """Follow every open call (a bounded number at a time); give up on one after a while."""
        if self.deps.settings.public_url:
            return  # Kaleyra's callbacks report progress instead
        now, due = self.deps.clock(), []
        for call in self.deps.store.open_calls():
            if not call.kaleyra_id:
                continue
            age = (now - datetime.fromisoformat(call.created_at)).total_seconds()
            if age <= self.deps.track_for_seconds:
                due.append(call.id)
                continue
            minutes = self.deps.track_for_seconds / 60
            call = self.deps.store.update_call(
                call.id,
                state="untracked",
                error=f"No final status after {minutes:.0f} minutes; check `/c2c status {call.kaleyra_id}`.",
            )
            await self.render(call)
        gate = asyncio.Semaphore(TRACK_CONCURRENCY)

        async def one(call_id: int) -> None:
            async with gate:
                await self.poll_once(call_id)

        await asyncio.gather(*(one(call_id) for call_id in due))

    def ensure_poller(self) -> None:
        """Without the scheduler: one loop follows all open calls (not a task per call)."""
        if not self.deps.auto_track or self.deps.settings.public_url:
            return
        if self._poller is None or self._poller.done():
            self._poller = self.deps.background.spawn(self._poll_loop(), name="track-calls")

    async def _poll_loop(self) -> None:
        while self.deps.store.open_calls():
            await asyncio.sleep(self.deps.poll_seconds)
            await self.poll_open()

    def resume_tracking(self) -> int:
        """After a restart: follow every call that had not reached a final status.

        Dials still queued or waiting for Kaleyra when the process stopped may or may not have
        rung: they are marked unknown and their user is shown a card saying so.
        """
        for call in self.deps.store.calls_being_placed():
            call = self.deps.store.update_call(call.id, state="unknown", error=INTERRUPTED)
            self.deps.background.spawn(self._post_card(call), name="c2c-interrupted")
        calls = [c for c in self.deps.store.open_calls() if c.kaleyra_id]
        if calls:
            self.ensure_poller()
        return len(calls)

    # ------------------------------------------------------------------ callbacks

    def callback_token(self, call_id: int) -> str:
        if self._secret is None:
            self._secret = self.deps.store.secret("callback_secret").encode()
        digest = hmac.new(self._secret, f"c2c:{call_id}".encode(), hashlib.sha256).hexdigest()
        return f"{call_id}-{digest[:32]}"

    def call_for_token(self, token: str) -> CallRow | None:
        call_id, _, _ = token.partition("-")
        if not call_id.isdigit() or not hmac.compare_digest(
            token, self.callback_token(int(call_id))
        ):
            return None
        return self.deps.store.call_by_token(token)

    def callback_url(self, call: CallRow) -> str | None:
        base = self.deps.settings.public_url
        if not base or not call.callback_token:
            return None
        # Kaleyra replaces the {variables}; urlencode must leave the braces alone.
        return f"{base}/kaleyra/callback/{call.callback_token}?" + urlencode(
            CALLBACK_VARIABLES, safe="{}"
        )

    async def on_callback(self, call: CallRow, query: Mapping[str, str]) -> None:
        status1 = (query.get("status1") or "").upper() or None
        status2 = (query.get("status2") or "").upper() or None
        first_final = status1 in FINAL_STATUSES and status1 != "ANSWER"
        final = first_final or (status2 in FINAL_STATUSES)
        recording = query.get("recordpath") or None
        if recording and recording.startswith("//"):
            recording = "https:" + recording
        await self.apply(
            call,
            status1=status1,
            status2=status2,
            duration=_int_or_none(query.get("duration")),
            billsec=_int_or_none(query.get("billsec")),
            recording=recording,
            final=final,
        )


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None
