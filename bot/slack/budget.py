"""The Slack Web API budget: each method's published rate, spent deliberately, latest state first.

Slack limits every method per app per workspace (Tier 3, e.g. chat.update: 50 a minute; Tier 4,
e.g. views.publish: 100; chat.postMessage: about one a second per channel) and answers HTTP 429
with Retry-After past that. slack_sdk only retries after a 429; this budget keeps the bot under
the limits so that, in normal operation, Slack never has to say no:

- every call spends from its method's window (and posts from their channel's), sent at once while
  the window has room, else queued until it has;
- a call has a *key* (a message for chat.update, a user for views.publish): a newer state for the
  same key replaces the queued one, so a card that is behind goes straight to its latest state
  and nothing is sent twice for one key at the same time;
- queued calls go by priority: final states and what a person must act on before the rest, and
  progress ticks may use only part of a window, so they never take the room a final state needs;
- a 429 that happens anyway blocks the method (or channel) for Retry-After and the refused call
  is queued again, unless a newer state for its key has replaced it meanwhile.

In-process only: each replica keeps its own ledger (see `Ledger`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from slack_sdk.errors import SlackApiError

log = logging.getLogger("voicebot.budget")

# Set while the budget sends a call: the client neither paces it again nor retries its 429.
BUDGETED: ContextVar[bool] = ContextVar("slack_budgeted", default=False)


class Priority(IntEnum):
    URGENT = 0  # a final state, or something a person must act on
    NORMAL = 1
    PROGRESS = 2  # a progress tick: it may wait, and a newer state replaces it


@dataclass(frozen=True, slots=True)
class Rate:
    limit: int
    per: float  # seconds


# What voicebot spends: the published tiers, over a window one second longer than Slack's
# minute, so calls that reach Slack a little late still fit in its window.
MINUTE = 61.0
RATES: dict[str, Rate] = {
    "chat.update": Rate(50, MINUTE),  # Tier 3
    "conversations.open": Rate(50, MINUTE),  # Tier 3
    "views.publish": Rate(100, MINUTE),  # Tier 4
    "files.getUploadURLExternal": Rate(100, MINUTE),  # Tier 4
    "files.completeUploadExternal": Rate(100, MINUTE),  # Tier 4
}
# Slack's special tier: about one message a second per channel (short bursts allowed: unused).
PER_CHANNEL: dict[str, Rate] = {"chat.postMessage": Rate(1, 1.05)}
# The part of a window each priority may fill: progress ticks leave half for final states.
SHARE = {Priority.URGENT: 1.0, Priority.NORMAL: 1.0, Priority.PROGRESS: 0.5}
REMEMBERED_KEYS = 10_000  # last send time per key, for spacing
PUMP_BATCH = 20  # calls started in one turn of the event loop


class Ledger:
    """When calls of one scope (a method, or a method in a channel) went out: a sliding window.

    A shared budget for several replicas would replace this class: the same two questions
    (`free_at`, `spend`) answered by one store all replicas see (e.g. a Redis sorted set or a
    PostgreSQL row per scope), so the replicas together keep to Slack's per-workspace limits.
    """

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self.sent: deque[float] = deque()
        self.blocked_until = 0.0  # Slack said 429: nothing before this

    def free_at(self, now: float, share: float) -> float:
        """The earliest time a call of this share of the window may go (`now` if it may now)."""
        while self.sent and self.sent[0] <= now - self.rate.per:
            self.sent.popleft()
        allowed = max(1, int(self.rate.limit * share))
        at = now
        if len(self.sent) >= allowed:
            at = self.sent[len(self.sent) - allowed] + self.rate.per
        return max(at, self.blocked_until)

    def spend(self, now: float) -> None:
        self.sent.append(now)


QUEUED = object()  # the answer an impatient caller gets when Slack said 429: it will go later


@dataclass(eq=False)
class _Job:
    method: str
    key: Hashable
    scope: str
    send: Callable[[], Awaitable[Any]]
    priority: Priority
    not_before: float
    seq: int
    patient: bool  # its callers wait through a 429 (a post, whose ts they need)
    waiters: list[asyncio.Future[Any]] = field(default_factory=list)
    held: float = 0.0  # Slack's Retry-After: a newer state does not go sooner either


@dataclass(frozen=True, slots=True)
class Submitted:
    """A call handed to the budget: its result, and whether it went at once (else it waits)."""

    result: asyncio.Future[Any]
    went: bool


def retry_after(exc: BaseException) -> float | None:
    """Slack's Retry-After in seconds when `exc` is its 429, else None."""
    if not isinstance(exc, SlackApiError) or getattr(exc.response, "status_code", None) != 429:
        return None
    headers = getattr(exc.response, "headers", None) or {}
    raw = headers.get("Retry-After") or headers.get("retry-after") or "1"
    try:
        return max(1.0, float(raw))
    except ValueError:
        return 1.0


class SlackBudget:
    """Holds Slack calls to each method's rate, newest state per key, urgent ones first.

    `clock` is monotonic seconds; `spawn` starts a send (the app's Background, so draining it
    waits for calls in flight); with `dispatch` off nothing waits on its own: whoever drives
    the clock calls `pump()` (tests with an injected clock).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        spawn: Callable[[Coroutine[Any, Any, Any]], Any] | None = None,
        dispatch: bool = True,
        rates: dict[str, Rate] | None = None,
        per_channel: dict[str, Rate] | None = None,
    ) -> None:
        self.clock = clock
        self._spawn = spawn
        self.dispatch = dispatch
        self.rates = RATES if rates is None else rates
        self.per_channel = PER_CHANNEL if per_channel is None else per_channel
        self.sent: Counter[str] = Counter()  # calls sent, per method
        self.limited: Counter[str] = Counter()  # 429s met anyway, per method
        self.replaced: Counter[str] = Counter()  # states never sent: a newer one took their place
        self._ledgers: dict[str, Ledger] = {}
        self._queued: dict[Hashable, _Job] = {}
        self._flying: set[Hashable] = set()
        self._last: OrderedDict[Hashable, float] = OrderedDict()
        self._seq = 0
        self._dispatcher: asyncio.Task[None] | None = None
        self._own_tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ handing calls in

    def submit(
        self,
        method: str,
        send: Callable[[], Awaitable[Any]],
        *,
        key: Hashable | None = None,
        channel: str | None = None,
        priority: Priority = Priority.NORMAL,
        delay: float = 0.0,
        spacing: float = 0.0,
        patient: bool = True,
    ) -> Submitted:
        """Queue `send` (a call of `method`), replacing what is queued for `key`.

        `delay`: not before this many seconds from now (a tick that a newer state may replace);
        `spacing`: not sooner than this after the last call sent for the same key;
        `patient`: after a 429 the result waits for the call sent again, else it is `QUEUED`.
        """
        now = self.clock()
        self._seq += 1
        if key is None:
            key = (method, "call", self._seq)  # never replaced: every post is its own message
        not_before = now + delay
        if spacing > 0 and key in self._last:
            not_before = max(not_before, self._last[key] + spacing)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        queued = self._queued.get(key)
        if queued is not None:  # the newer state takes the older one's place (and its waiters)
            self.replaced[method] += 1
            queued.send = send
            queued.priority = min(queued.priority, priority)
            queued.not_before = max(min(queued.not_before, not_before), queued.held)
            queued.waiters.append(future)
        else:
            scope = (
                method if channel is None or method not in self.per_channel else method + channel
            )
            job = _Job(method, key, scope, send, priority, not_before, self._seq, patient, [future])
            self._queued[key] = job
        went = self.pump(only=key)
        self._wake()
        return Submitted(future, went)

    async def call(self, method: str, send: Callable[[], Awaitable[Any]], **kw: Any) -> Any:
        """Submit and wait for Slack's answer (posts, whose `ts` the caller needs)."""
        return await self.submit(method, send, **kw).result

    # ------------------------------------------------------------------ sending

    def pump(self, only: Hashable | None = None) -> bool:
        """Start every queued call that may go now (or only `key`'s); True if any went.

        A scope with no room is passed over without sorting its calls, and at most
        PUMP_BATCH calls start in one turn of the loop (the rest in the next): a long queue
        never holds the loop.
        """
        now = self.clock()
        jobs = [self._queued[only]] if only is not None else list(self._queued.values())
        full: dict[str, bool] = {}
        ready = []
        for job in jobs:
            if job.key in self._flying or job.not_before > now:
                continue
            ledger = self._ledger(job)
            if ledger is not None:
                if job.scope not in full:
                    full[job.scope] = ledger.free_at(now, 1.0) > now
                if full[job.scope]:
                    continue
            ready.append(job)
        ready.sort(key=lambda j: (j.priority, j.seq))
        started = 0
        for job in ready:
            if started == PUMP_BATCH:
                asyncio.get_running_loop().call_soon(self.pump)
                break
            ledger = self._ledger(job)
            if ledger is None or ledger.free_at(now, SHARE[job.priority]) <= now:
                if ledger is not None:
                    ledger.spend(now)
                self._start(job, now)
                started += 1
        return started > 0

    def next_due(self) -> float | None:
        """When the next queued call may go (None: nothing waits, or only behind a call in flight)."""
        now = self.clock()
        due = [
            max(job.not_before, self._free_at(job, now))
            for job in self._queued.values()
            if job.key not in self._flying
        ]
        return min(due) if due else None

    @property
    def waiting(self) -> int:
        return len(self._queued)

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing on its way to Slack."""
        return not self._queued and not self._flying

    def _ledger(self, job: _Job) -> Ledger | None:
        rate = self.rates.get(job.method) or self.per_channel.get(job.method)
        if rate is None:
            return None  # a method without a budget here (the client's own retry covers it)
        ledger = self._ledgers.get(job.scope)
        if ledger is None:
            ledger = self._ledgers[job.scope] = Ledger(rate)
        return ledger

    def _free_at(self, job: _Job, now: float) -> float:
        ledger = self._ledger(job)
        return now if ledger is None else ledger.free_at(now, SHARE[job.priority])

    def _start(self, job: _Job, now: float) -> None:
        del self._queued[job.key]
        self._flying.add(job.key)
        self.sent[job.method] += 1
        if job.key in self._last or len(self._last) < REMEMBERED_KEYS:
            self._last[job.key] = now
            self._last.move_to_end(job.key)
        else:
            self._last.popitem(last=False)
            self._last[job.key] = now
        coro = self._run(job)
        if self._spawn is not None:
            self._spawn(coro)
        else:
            task = asyncio.get_running_loop().create_task(coro)
            self._own_tasks.add(task)
            task.add_done_callback(self._own_tasks.discard)

    async def _run(self, job: _Job) -> None:
        BUDGETED.set(True)
        try:
            result = await job.send()
        except asyncio.CancelledError:
            self._settle(job, error=asyncio.CancelledError())
            raise
        except Exception as exc:
            wait = retry_after(exc)
            if wait is None:
                self._settle(job, error=exc)
            else:
                self._refused(job, wait)
        else:
            self._settle(job, result=result)
        finally:
            self._flying.discard(job.key)
        self.pump()
        self._wake()

    def _settle(self, job: _Job, *, result: Any = None, error: BaseException | None = None) -> None:
        for waiter in job.waiters:
            if waiter.done():
                continue
            if error is None:
                waiter.set_result(result)
            elif isinstance(error, asyncio.CancelledError):
                waiter.cancel()
            else:
                waiter.set_exception(error)
                waiter.exception()  # retrieved: a fire-and-forget caller logs nothing twice

    def _refused(self, job: _Job, wait: float) -> None:
        """Slack said 429 anyway: block the scope for Retry-After, keep the refused state queued."""
        self.limited[job.method] += 1
        now = self.clock()
        log.warning(
            "%s: Slack asked to wait %.0f s (429); the call is queued again", job.method, wait
        )
        ledger = self._ledger(job)
        if ledger is not None:
            ledger.blocked_until = max(ledger.blocked_until, now + wait)
        job.held = now + wait
        job.not_before = max(job.not_before, job.held)
        if not job.patient:  # its callers go on; the budget sends it again
            for waiter in job.waiters:
                if not waiter.done():
                    waiter.set_result(QUEUED)
            job.waiters = []
        newer = self._queued.get(job.key)
        if newer is not None:  # a newer state is already waiting: it answers these waiters too
            newer.waiters.extend(job.waiters)
            newer.priority = min(newer.priority, job.priority)
            newer.held = job.held
            newer.not_before = max(newer.not_before, job.held)
        else:
            self._queued[job.key] = job

    # ------------------------------------------------------------------ waiting on the clock

    def _wake(self) -> None:
        """With dispatch on, one task sleeps until the next queued call may go."""
        if not self.dispatch or not self._queued:
            return
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch())

    async def _dispatch(self) -> None:
        while True:
            due = self.next_due()
            if due is None:
                return
            await asyncio.sleep(max(0.0, due - self.clock()))
            self.pump()

    async def aclose(self) -> None:
        tasks = [t for t in (self._dispatcher, *self._own_tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
