"""The team phone line: incoming and missed calls in a channel, one-click call back by one agent,
call outcomes and notes, and the team activity digest.

Kaleyra's `dial` method lists the incoming calls forwarded to agent numbers. `poll()` reads it
(every page) and posts each call once: the store remembers every call it has seen by Kaleyra's id,
so later polls and restarts post nothing twice. The first agent to click **Call back** claims the
call in the store (one statement, so exactly one click wins, across restarts) and dials from their
own verified number through the normal click-to-call flow.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from bot.grammar import UsageError
from bot.kaleyra import KaleyraClient, KaleyraError
from bot.kaleyra.models import CallDetail, LogQuery
from bot.models import (
    NOTE_MAX,
    OUTCOME_KINDS,
    ActivityDigest,
    AgentActivity,
    Blacklisted,
    CallOutcome,
    CallRow,
    DialOutcome,
    DigestSettings,
    FeedCall,
    FollowupDraft,
    IncomingCall,
    OutcomeDraft,
)
from bot.phones import InvalidNumber, Phone, mask_text, parse_phone
from bot.runtime.background import Background
from bot.services.agents import Agents, NotRegistered, Refused
from bot.services.followup import Followups
from bot.slack.notify import MAYBE_POSTED, NOT_POSTED, Notifier, Posted
from bot.store import Store, iso
from bot.views import callfeed as views
from bot.views.common import describe_kaleyra_error

log = logging.getLogger("voicebot.callfeed")

CHANNEL_KEY, OUTAGE_KEY = "calls_channel", "callfeed_outage"
PAGE_SIZE = 100  # rows a `dial` request; Kaleyra's default is 50
MAX_PAGES = 50  # 5,000 calls a poll at most
POST_BATCH = 200  # pending calls read from the store at a time
POST_WITHIN = timedelta(hours=24)  # a call first seen later than this is remembered, not posted
WAITING_FOR = timedelta(days=3)  # how far back "Missed calls waiting" looks
CLAIM_EXPIRES = timedelta(minutes=15)  # a claim with no call placed by then is released
# A call back whose outcome is still unknown this long after its claim (a dial that timed out,
# tracking that gave up, a call pruned) is released with a note, so the caller waits again.
CALLBACK_UNKNOWN_RELEASE = timedelta(hours=1)
CALLED_BACK_WITHIN = timedelta(hours=1)
DIGEST_WINDOW = timedelta(hours=24)
MAX_REBOOKINGS = 3  # a time changed while its booking was on its way, booked again
DIGEST_GRACE = timedelta(hours=3)  # a digest missed while down is still sent this late
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
FEED_EVENT = "voicebot_feed_call"  # the metadata a channel post carries: its call's key
RECONCILE_SLACK = timedelta(minutes=2)  # Slack's clock and ours differ: look back this much more

# (user id, their agent number, customer, the feed call claimed) -> request_dial's outcome
Dial = Callable[[str, Phone, Phone, str], Awaitable[DialOutcome]]


async def _no_health_digest() -> DigestSettings:
    return DigestSettings(None, "09:00")


class OutcomeProblems(Exception):
    """What is wrong with a submitted outcome, by field (outcome, note, followup_at)."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = problems


@dataclass(frozen=True)
class Claimed:
    """This click won: the call back is being dialled from the clicker's number."""

    feed: FeedCall
    # Dialling; AskFirst when the agent called them a minute ago; Blacklisted (then, without an
    # admin's override to offer, the claim is already released)
    dialled: DialOutcome


@dataclass(frozen=True)
class AlreadyClaimed:
    """Someone (maybe the clicker) clicked first: nothing was dialled."""

    feed: FeedCall


CallBackResult = Claimed | AlreadyClaimed


class CallFeed:
    def __init__(
        self,
        store: Store,
        kaleyra: KaleyraClient,
        notify: Notifier,
        agents: Agents,
        followups: Followups,
        background: Background,
        *,
        dial: Dial,
        clock: Callable[[], datetime],
        tz: tzinfo,
        tz_name: str,
        region: str,
        default_channel: str | None,
        activity_time: str | None = None,
        health_digest: Callable[[], Awaitable[DigestSettings]] = _no_health_digest,
    ) -> None:
        self.store = store
        self.kaleyra = kaleyra
        self.notify = notify
        self.agents = agents
        self.followups = followups
        self.background = background
        self.dial = dial
        self.clock = clock
        self.tz = tz
        self.tz_name = tz_name
        self.region = region
        self.default_channel = default_channel
        self.activity_time = activity_time  # ACTIVITY_DIGEST_TIME; None = with the health digest
        self.health_digest = health_digest  # where and when the health digest goes
        self._making_followup: set[int] = set()  # calls whose follow-up is being created
        self._unfollowable: set[str] = set()  # feed calls whose follow-up failure was logged
        self._posting: set[str] = set()  # feed calls this process is posting right now

    # ------------------------------------------------------------------ the channel

    async def channel(self) -> str | None:
        """Where calls are posted: `/c2c feed` when set (or `off`), else CALLS_CHANNEL."""
        stored = await self.store.get_setting(CHANNEL_KEY)
        if stored == "off":
            return None
        return stored or self.default_channel

    async def set_channel(self, user_id: str, channel: str | None) -> str | None:
        """`/c2c feed #channel` or `/c2c feed off` (admins only)."""
        await self.agents.require_admin(
            user_id, "choose where incoming calls are posted", action="callfeed.channel"
        )
        await self.store.set_setting(CHANNEL_KEY, channel or "off")
        await self.store.audit(
            user_id=user_id,
            action="callfeed.channel",
            outcome="set" if channel else "off",
            detail={"channel": channel},
        )
        return channel

    # ------------------------------------------------------------------ reading `dial`

    async def poll(self) -> int:
        """The scheduler's job: post every new incoming call once; follow the call backs.

        Returns how many calls were posted. A Kaleyra outage is posted once, and its end once.
        """
        channel = await self.channel()
        if not channel:
            return 0
        now = self.clock()
        try:
            rows = await self._read_dial(now)
        except KaleyraError as exc:
            if await self.store.get_setting(OUTAGE_KEY) != "1":
                await self.store.set_setting(OUTAGE_KEY, "1")
                await self.notify.post(
                    channel, views.feed_outage_message(describe_kaleyra_error(exc))
                )
            return 0
        if await self.store.get_setting(OUTAGE_KEY) == "1":
            await self.store.set_setting(OUTAGE_KEY, None)
            await self.notify.post(channel, views.feed_outage_message("", recovered=True))
        # A row without a status is a call still ringing or talking: read it again next poll.
        calls = [self._incoming(row, now) for row in rows if row.status]
        agent_users = {
            c.agent_number: agent.user_id
            for c in calls
            if (agent := await self.store.agent_by_number(c.agent_number)) is not None
        }
        await self.store.remember_incoming(calls, agent_users, post_after=iso(now - POST_WITHIN))
        posted = await self._post_pending(channel, now)
        await self.follow_callbacks()
        return posted

    async def _read_dial(self, now: datetime) -> list[CallDetail]:
        """Every page of `dial` from yesterday to today (local), each row once."""
        today = now.astimezone(self.tz).date()
        start = (now - POST_WITHIN).astimezone(self.tz).date()
        seen: dict[str, CallDetail] = {}
        for page in range(1, MAX_PAGES + 1):
            query = LogQuery(fromdate=start, todate=today, limit=PAGE_SIZE, page=page)
            rows = await self.kaleyra.call_details(query)
            for row in rows:
                seen.setdefault(row.id, row)
            if len(rows) < PAGE_SIZE:
                break
        else:
            log.warning("dial had more than %d pages; the rest waits for the next poll", MAX_PAGES)
        return list(seen.values())

    def _number(self, text: str | None) -> str:
        try:
            return parse_phone(text or "", self.region).e164
        except InvalidNumber:
            return text or ""

    def _caller(self, text: str | None) -> tuple[str, str | None]:
        """The caller as the feed keeps it, and why it cannot be dialled back (None: it can).

        A number read from Kaleyra meets the rules a typed one does: another country's number
        keeps its country code here and is never dialled, since the Voice API would cut it.
        """
        raw = (text or "").strip()
        try:
            return parse_phone(raw, self.region).e164, None
        except InvalidNumber as exc:
            with contextlib.suppress(InvalidNumber):
                return parse_phone(raw, self.region, allow_foreign=True).e164, mask_text(str(exc))
            return raw, mask_text(str(exc))

    def _incoming(self, row: CallDetail, now: datetime) -> IncomingCall:
        try:
            started = datetime.strptime(row.start_time or "", "%Y-%m-%d %H:%M:%S")
            started_at = iso(started.replace(tzinfo=self.tz))
        except ValueError:
            started_at = iso(now)
        caller, problem = self._caller(row.callfrom)
        return IncomingCall(
            key=row.id,
            caller=caller,
            agent_number=self._number(row.callto),
            started_at=started_at,
            billsec=row.billsec,
            status=(row.status or "").upper(),
            location=row.location or "",
            caller_problem=problem,
        )

    async def _post_pending(self, channel: str, now: datetime) -> int:
        """Post each new call once: the intent is recorded first, so a post whose outcome was
        lost (a crash, a timeout) is found in the channel and updated, never posted twice."""
        await self._reconcile()
        posted = 0
        while batch := await self.store.feed_to_post(POST_BATCH):
            for feed in batch:
                if not await self.store.mark_feed_posting(feed.key):
                    continue  # another poll took it
                self._posting.add(feed.key)
                try:
                    where = await self.notify.post_once(channel, self._feed_post(feed, now))
                    if where == NOT_POSTED:
                        await self.store.mark_feed_pending(feed.key)
                        return posted  # Slack refused or is down: the rest waits for the next poll
                    if where == MAYBE_POSTED:
                        return posted  # the next poll looks for it in the channel first
                    assert isinstance(where, Posted)
                    await self.store.mark_feed_posted(feed.key, where.channel, where.ts)
                finally:
                    self._posting.discard(feed.key)
                posted += 1
        return posted

    def _feed_post(self, feed: FeedCall, now: datetime) -> dict[str, Any]:
        """The channel message, tagged with the call's key so the channel can be searched."""
        payload = views.feed_message(feed, self.tz, now=now)
        payload["metadata"] = {"event_type": FEED_EVENT, "event_payload": {"key": feed.key}}
        return payload

    async def _reconcile(self) -> None:
        """Posts begun by an earlier poll (or process) that never learnt where they landed:
        the one message found in the channel is updated and kept; one never posted is posted.

        When the channel's history cannot be read, nothing is posted again: the call waits for
        a later poll (and shows in App Home meanwhile).
        """
        channel = await self.channel()
        if not channel:
            return
        for feed in await self.store.feed_posting():
            if feed.key in self._posting:
                continue  # this process is posting it right now
            since = datetime.fromisoformat(feed.updated_at) - RECONCILE_SLACK
            found = await self.notify.find_posted(channel, FEED_EVENT, feed.key, since.timestamp())
            if found == MAYBE_POSTED:
                if feed.key not in self._unfollowable:
                    self._unfollowable.add(feed.key)
                    log.warning(
                        "feed call %s: its post cannot be checked; not posted again", feed.key
                    )
                continue
            if isinstance(found, Posted):
                feed = await self.store.mark_feed_posted(feed.key, found.channel, found.ts)
                await self._render(feed)  # the one message, brought up to date
                continue
            await self.store.mark_feed_pending(feed.key)  # it never landed: post it

    # ------------------------------------------------------------------ call back

    async def call_back(self, user_id: str, key: str) -> CallBackResult:
        """The first click claims the call and dials it from the clicker's verified number."""
        feed = await self.store.feed_call(key)
        if feed is None or not feed.missed:
            raise UsageError("That call is not in the feed any more.")
        caller = await self._callable(
            feed, user_id
        )  # the rules a typed number meets, checked again
        agent = await self.agents.first_leg(
            user_id
        )  # their own verified number, or "register first"
        if not await self.store.claim_callback(key, user_id):
            claimed = await self.store.feed_call(key)
            assert claimed is not None
            return AlreadyClaimed(claimed)
        try:
            dialled = await self.dial(user_id, agent, caller, key)
        except (Refused, NotRegistered, UsageError):
            await self.store.release_callback(key, user_id)
            raise
        if isinstance(dialled, Blacklisted) and dialled.override is None:
            await self.store.release_callback(key, user_id)  # refused: the call is free again
            return Claimed(feed, dialled)
        await self.store.audit(
            user_id=user_id,
            action="callfeed.call_back",
            outcome="claimed",
            numbers=[feed.caller],
            kaleyra_ids=[key],
        )
        claimed = await self.store.feed_call(key)
        assert claimed is not None
        self.background.spawn(self._render(claimed), name="callfeed-claimed")
        return Claimed(claimed, dialled)

    async def _callable(self, feed: FeedCall, user_id: str) -> Phone:
        """The caller as a number that can be dialled, or UsageError saying why not."""
        try:
            return parse_phone(feed.caller, self.region)
        except InvalidNumber as exc:
            problem = feed.caller_problem or mask_text(str(exc))
            await self.store.audit(
                action="callfeed.call_back",
                user_id=user_id,
                outcome="refused: caller cannot be dialled",
                kaleyra_ids=[feed.key],
            )
            raise UsageError(
                f"This caller cannot be called back from here: {problem}. Nothing was dialled."
            ) from None

    async def _render(
        self, feed: FeedCall, released_by: str | None = None, *, unknown: bool = False
    ) -> bool:
        if not feed.channel or not feed.message_ts:
            return False
        outcome = (
            await self.store.get_outcome(feed.callback_call_id) if feed.callback_call_id else None
        )
        payload = views.feed_message(
            feed,
            self.tz,
            outcome=outcome,
            released_by=released_by,
            unknown=unknown,
            now=self.clock(),
        )
        return await self.notify.update(feed.channel, feed.message_ts, payload)

    async def follow_callbacks(self) -> None:
        """Each open claim: find the call it placed, and show what it came to.

        A claim whose outcome stays unknown (the dial timed out, tracking gave up, or its call is
        gone) is released after CALLBACK_UNKNOWN_RELEASE with a note. One claim that cannot be
        followed is logged once and skipped: it never stops the poll.
        """
        now = self.clock()
        for feed in await self.store.callbacks_open():
            try:
                await self._follow(feed, now)
            except Exception:
                if feed.key not in self._unfollowable:
                    self._unfollowable.add(feed.key)
                    log.exception("the call back of feed call %s could not be followed", feed.key)

    async def _follow(self, feed: FeedCall, now: datetime) -> None:
        assert feed.claimed_by is not None and feed.claimed_at is not None
        claimed_for = now - datetime.fromisoformat(feed.claimed_at)
        if feed.callback_call_id is None:
            call = await self.store.call_placed_by(feed.claimed_by, feed.caller, feed.claimed_at)
            if call is None:
                if claimed_for > CLAIM_EXPIRES:
                    await self._release(feed)  # nothing was dialled after all (a repeat asked)
                return
            feed = await self.store.update_callback(feed.key, call_id=call.id)
        else:
            call = await self.store.find_call(feed.callback_call_id)
            if call is None and feed.key not in self._unfollowable:
                self._unfollowable.add(feed.key)
                log.warning(
                    "feed call %s: its call back (call %s) is gone; its outcome is unknown",
                    feed.key,
                    feed.callback_call_id,
                )
        state = _callback_state(call) if call is not None else "unknown"
        if state == "not_placed":
            await self._release(feed)
        elif state in {"connected", "not_connected"}:
            assert call is not None
            feed = await self.store.update_callback(
                feed.key, state=state, billsec=call.billsec or 0
            )
            await self._render(feed)
        elif claimed_for > CALLBACK_UNKNOWN_RELEASE:
            await self._release(feed, unknown=True)
        elif state == "unknown" and feed.callback_state != "unknown":
            await self._render(await self.store.update_callback(feed.key, state="unknown"))

    async def _release(self, feed: FeedCall, *, unknown: bool = False) -> None:
        assert feed.claimed_by is not None
        await self.store.release_callback(feed.key, feed.claimed_by)
        await self.store.audit(
            user_id=feed.claimed_by,
            action="callfeed.call_back",
            outcome="released: outcome unknown" if unknown else "released: not placed",
            kaleyra_ids=[feed.key],
        )
        released = await self.store.feed_call(feed.key)
        assert released is not None
        await self._render(released, released_by=feed.claimed_by, unknown=unknown)

    async def missed_waiting(self, limit: int = 10) -> list[FeedCall]:
        """Missed calls nobody has called back yet, newest first (App Home)."""
        return await self.store.missed_waiting(iso(self.clock() - WAITING_FOR), limit)

    # ------------------------------------------------------------------ outcomes

    async def outcome_form(self, user_id: str, call_id: int) -> tuple[CallRow, CallOutcome | None]:
        """The call and its outcome so far, for the form; only its caller may log it."""
        call = await self._own_call(user_id, call_id)
        return call, await self.store.get_outcome(call_id)

    async def _own_call(self, user_id: str, call_id: int) -> CallRow:
        try:
            call = await self.store.get_call(call_id)
        except Exception:
            raise UsageError(f"There is no call {call_id}.") from None
        if call.user_id != user_id:
            await self.store.audit(
                user_id=user_id, action="call.outcome.refused", outcome="not the caller"
            )
            raise Refused("Only the person who placed a call can log its outcome.")
        return call

    async def log_outcome(self, draft: OutcomeDraft) -> CallOutcome:
        """Store an outcome (a new one or an edit); "call back" also books a Kaleyra follow-up.

        Checked first, so the form can show what is wrong; the follow-up is created after the
        form has closed, and its result (or Kaleyra's refusal) arrives as a DM.
        """
        call = await self._own_call(draft.user_id, draft.call_id)
        problems: dict[str, str] = {}
        if draft.outcome not in OUTCOME_KINDS:
            problems["outcome"] = "Pick an outcome."
        if len(draft.note) > NOTE_MAX:
            problems["note"] = f"Keep the note to {NOTE_MAX} characters ({len(draft.note)} now)."
        when = draft.followup_at if draft.outcome == "call_back" else None
        if draft.outcome == "call_back":
            try:
                if when is None:
                    raise UsageError("Pick when to call back.")
                self.followups.check_future(when)
            except UsageError as exc:
                problems["followup_at"] = str(exc)
        if problems:
            raise OutcomeProblems(problems)
        before = await self.store.get_outcome(call.id)
        saved = await self.store.save_outcome(
            call.id, draft.user_id, draft.outcome, draft.note, iso(when) if when else None
        )
        await self.store.audit(
            user_id=draft.user_id,
            action="call.outcome",
            outcome=draft.outcome,
            numbers=[call.customer_number],
            kaleyra_ids=[call.kaleyra_id] if call.kaleyra_id else [],
            detail={"call_row": call.id},
        )
        # Book it when new or moved, or when booking it failed before; never twice at once.
        moved = before is None or before.followup_at != saved.followup_at
        wanted = moved or saved.followup_id is None
        if when is not None and wanted and call.id not in self._making_followup:
            self._making_followup.add(call.id)
            self.background.spawn(self._followup(call, saved, when), name="outcome-followup")
        if feed := await self.store.feed_for_call(call.id):
            self.background.spawn(self._render(feed), name="callfeed-outcome")
        return saved

    async def _followup(self, call: CallRow, outcome: CallOutcome, when: datetime) -> None:
        """Book (or move) the outcome's follow-up with Kaleyra. A change of time saved while a
        booking was on its way is booked right after it, so Kaleyra always keeps the time the
        outcome shows (or the user is told it could not)."""
        try:
            for _ in range(MAX_REBOOKINGS):
                made = await self._book(call, outcome, when)
                if made is None:
                    return
                await self.store.set_outcome_followup(call.id, made.id)
                latest = await self.store.get_outcome(call.id)
                if latest is None or latest.outcome != "call_back" or not latest.followup_at:
                    break
                wanted = datetime.fromisoformat(latest.followup_at)
                if wanted == made.ontime or wanted == when:
                    break
                outcome, when = dataclasses.replace(latest, followup_id=made.id), wanted
        finally:
            self._making_followup.discard(call.id)
        local = made.ontime.astimezone(self.tz)
        await self.notify.dm(
            call.user_id, views.followup_made_message(made.id, local, self.tz_name)
        )

    async def _book(self, call: CallRow, outcome: CallOutcome, when: datetime) -> Any:
        draft = FollowupDraft(
            user_id=call.user_id,
            phone=Phone.known(call.customer_number),
            name="Call back",
            follower=Phone.known(call.agent_number),
            when=when,
            notes=outcome.note,
            followup_id=outcome.followup_id,
        )
        try:
            return await self.followups.save(draft)
        except (KaleyraError, UsageError, Refused, NotRegistered) as exc:
            problem = describe_kaleyra_error(exc) if isinstance(exc, KaleyraError) else str(exc)
            await self.notify.dm(call.user_id, views.followup_failed_message(problem))
            return None

    async def outcomes_for(self, call_ids: list[int]) -> dict[int, CallOutcome]:
        """Outcomes by calls.id, for App Home's recent calls and the call history."""
        return await self.store.outcomes_for(call_ids)

    # ------------------------------------------------------------------ the activity digest

    async def activity(self, now: datetime | None = None) -> ActivityDigest:
        """The last 24 hours: calls placed per agent, incoming calls, broadcasts, follow-ups."""
        until = (now or self.clock()).astimezone(self.tz)
        since = until - DIGEST_WINDOW
        start, end = iso(since), iso(until)
        placed: dict[str, list[CallRow]] = defaultdict(list)
        for call in await self.store.calls_between(start, end):
            placed[call.user_id].append(call)
        feed = await self.store.feed_between(start, end)
        incoming_by: Counter[str] = Counter(
            f.agent_user for f in feed if not f.missed and f.agent_user
        )
        midnight = until.replace(hour=0, minute=0, second=0, microsecond=0)
        due: Counter[str] = Counter()
        followups_due = await self.store.followers_due_between(
            iso(midnight), iso(midnight + timedelta(days=1))
        )
        for number in followups_due:
            if (agent := await self.store.agent_by_number(number)) is not None:
                due[agent.user_id] += 1
        users = sorted(set(placed) | set(incoming_by) | set(due))
        agents = tuple(
            AgentActivity(
                user_id=user,
                placed=len(placed[user]),
                answered=sum(1 for c in placed[user] if (c.status2 or "").upper() == "ANSWER"),
                talk_seconds=sum(c.billsec or 0 for c in placed[user]),
                incoming_answered=incoming_by[user],
                followups_due=due[user],
            )
            for user in users
        )
        broadcasts = await self.store.broadcasts_between(start, end)
        outcomes: Counter[str] = Counter()
        for broadcast in broadcasts:
            outcomes.update(broadcast.statuses)
        missed = [f for f in feed if f.missed]
        return ActivityDigest(
            since=since,
            until=until,
            agents=agents,
            incoming_answered=len(feed) - len(missed),
            incoming_missed=len(missed),
            missed_called_back_within_hour=sum(
                [1 for f in missed if await self._called_back_soon(f)]
            ),
            missed_waiting=sum(1 for f in missed if not f.claimed_by),
            broadcasts=len(broadcasts),
            broadcast_numbers=sum(b.numbers for b in broadcasts),
            broadcast_outcomes=dict(outcomes),
            followups_due_today=len(followups_due),
        )

    async def _called_back_soon(self, feed: FeedCall) -> bool:
        if not feed.claimed_by or feed.callback_state not in {"connected", "not_connected"}:
            return False
        call = await self.store.find_call(feed.callback_call_id) if feed.callback_call_id else None
        if call is None:  # pruned: not counted
            return False
        started = datetime.fromisoformat(feed.started_at)
        return datetime.fromisoformat(call.created_at) - started <= CALLED_BACK_WITHIN

    async def activity_digest(self, now: datetime | None = None) -> dict[str, Any]:
        """The digest as a message payload."""
        return views.activity_digest_message(await self.activity(now), self.tz_name)

    async def digest_channel(self) -> str | None:
        """The calls channel, else the health digest's channel."""
        return await self.channel() or (await self.health_digest()).channel

    async def digest_time(self) -> str:
        """HH:MM, local: ACTIVITY_DIGEST_TIME, else the health digest's time."""
        if self.activity_time and HHMM.match(self.activity_time.strip()):
            return self.activity_time.strip()
        if self.activity_time:
            log.warning(
                "ACTIVITY_DIGEST_TIME %r is not HH:MM; using the health digest's time",
                self.activity_time,
            )
        return (await self.health_digest()).at

    async def catch_up(self) -> bool:
        """On start: today's digest, when its time passed while the process was down (grace)."""
        now = self.clock().astimezone(self.tz)
        hour, minute = (int(x) for x in (await self.digest_time()).split(":"))
        due = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if due > now or now - due > DIGEST_GRACE:
            return False
        return await self.post_digest(due)

    async def post_digest(self, due: datetime | None = None) -> bool:
        """Post the activity digest due at `due` (default: now) once; False when not posted."""
        channel = await self.digest_channel()
        if not channel:
            return False
        due = due or self.clock()
        key = f"activity-digest:{due.astimezone(self.tz):%Y-%m-%d}"
        if not await self.store.claim(key, "activity-digest", due, detail="team activity digest"):
            return False
        if await self.notify.post(channel, await self.activity_digest(due)) is None:
            await self.store.release(key)
            return False
        await self.store.mark_sent(key)
        return True


def _callback_state(call: CallRow) -> str:
    """What a call back came to, from the call the bot placed."""
    if call.state == "failed":
        return "not_placed"
    if call.state == "final":
        return "connected" if (call.status2 or "").upper() == "ANSWER" else "not_connected"
    if call.state == "untracked" or (call.state == "unknown" and not call.kaleyra_id):
        return "unknown"  # no status will come: the dial's answer was lost, or tracking gave up
    return "dialling"


__all__ = [
    "AlreadyClaimed",
    "CallBackResult",
    "CallFeed",
    "Claimed",
    "OutcomeProblems",
]
