"""Planning a broadcast: numbers through the phone rules and the blacklist, the schedule
and the calling window checked, the chunks (Kaleyra requests) counted; stored pending until
its Start click."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.grammar import UsageError
from bot.grammar.csvnumbers import MAX_BYTES, CsvResult, parse_csv
from bot.grammar.obd import DialerUpload, ObdForm, ObdStart
from bot.kaleyra.bulk import (
    DIALER_IMPORT_LIMIT,
    OUTBOUND_TO_LIMIT,
    VOICE_CALL_LIMIT,
    chunked,
)
from bot.models import (
    CONFIRMATION_MINUTES,
    BroadcastPlan,
    Campaign,
)
from bot.phones import Phone, parse_number_list
from bot.services.obd.base import BroadcastsBase
from bot.services.obd.config import JSON_CALL_GROUPS
from bot.store.db import iso
from bot.views import obd as views


class Planning(BroadcastsBase):
    # ------------------------------------------------------------------ planning

    async def propose(self, user_id: str, command: ObdStart | DialerUpload) -> Campaign:
        """Check a typed command and store it as a pending campaign awaiting its Start click."""
        await self.require_admin(user_id)
        if isinstance(command, DialerUpload):
            return await self._create(user_id, await self.plan_dialer(command))
        return await self._create(user_id, await self.plan(command))

    async def propose_form(self, user_id: str, form: ObdForm) -> Campaign:
        """The form's job, planned off the event loop (a 100 000-row file takes seconds)."""
        await self.require_admin(user_id)
        if form.files:
            data = await self._download(form.files[0])
            plan = await self._plan_upload(data, form)
        elif form.dialer:
            plan = await self.plan_dialer(DialerUpload(form.dialer, form.numbers_text))
        else:
            plan = await self.plan(form.start())
        return await self._create(user_id, plan)

    async def again(self, job_id: int, user_id: str) -> Campaign:
        """A new campaign, to confirm like any other, of the numbers a finished one did not reach
        (busy, no answer, failed, congestion, unavailable; the blacklist is checked again)."""
        await self.require_admin(user_id)
        campaign = await self.store.get_job(job_id)
        unreached = campaign.result.unreached if campaign and campaign.result else []
        if campaign is None or not unreached:
            raise UsageError(f"Broadcast #{job_id} has no unreached number to call again.")
        old = campaign.plan
        start = ObdStart(play=old.play, say=old.say, campaign=old.campaign, retries=old.retries)
        # The numbers Kaleyra reported are planned like typed ones: a number of another country
        # is refused (and listed) for the Voice API, never sent without its country code.
        numbers = await self._numbers("\n".join(unreached), allow_foreign=self.via_io)
        plan = await self.plan(start, numbers)
        messages = {n: old.messages[n] for n in plan.numbers if n in old.messages}
        plan = plan.model_copy(update={"again_of": job_id, "messages": messages})
        plan = self._with_requests(plan)
        # One click, one proposal: a second click while one waits for its Start gets that one.
        since = iso(self.clock() - timedelta(minutes=CONFIRMATION_MINUTES))
        proposal = await self.store.create_rerun(user_id, plan, since)
        existing = await self.store.get_job(proposal)
        assert existing is not None
        return existing

    async def _create(self, user_id: str, plan: BroadcastPlan) -> Campaign:
        job_id = await self.store.create_job(plan.kind, user_id, plan)
        now = iso(self.clock())
        return Campaign(
            id=job_id,
            kind=plan.kind,
            user_id=user_id,
            state="pending",
            plan=plan,
            created_at=now,
            updated_at=now,
        )

    async def _download(self, file: dict[str, Any]) -> bytes:
        if self.fetch is None:
            raise UsageError("Uploaded files cannot be read here.")
        try:
            return await self.fetch(file, MAX_BYTES)
        except ValueError as exc:  # larger than the limit: the message says so
            raise UsageError(f"I could not read the uploaded file: {exc}.") from None
        except Exception as exc:  # a download that failed: say so, without a stack trace
            raise UsageError(
                f"I could not read the uploaded file ({type(exc).__name__})."
            ) from None

    async def _plan_upload(self, data: bytes, form: ObdForm) -> BroadcastPlan:
        foreign = self.via_io and not form.dialer
        result = parse_csv(data, self.config.region, allow_foreign=foreign)
        if form.numbers_text:
            typed = form.numbers_text.replace(",", "\n").encode()
            result = result.merged(parse_csv(typed, self.config.region, allow_foreign=foreign))
        return await self.plan_rows(result, form.start(), form.dialer)

    async def _numbers(self, text: str, *, allow_foreign: bool) -> dict[str, Any]:
        parsed = parse_number_list(text, self.config.region, allow_foreign=allow_foreign)
        return await self._screen(
            parsed.valid, [str(b) for b in parsed.invalid], [str(b) for b in parsed.duplicates]
        )

    async def _screen(
        self, phones: Sequence[Phone], invalid: list[str], duplicates: list[str]
    ) -> dict[str, Any]:
        """The numbers to call, without the blacklisted (named, as skipped)."""
        listed = await self.store.blacklisted(p.e164 for p in phones)
        keep = [p for p in phones if p.e164 not in listed]
        return {
            "numbers": [p.e164 for p in keep],
            "national": [p.national for p in keep],  # parsed once here, not again at the click
            "invalid": invalid,
            "duplicates": duplicates,
            "blacklisted": [Phone.known(n).pretty for n in sorted(listed)],
        }

    async def plan(self, start: ObdStart, numbers: dict[str, Any] | None = None) -> BroadcastPlan:
        if start.group and self.via_io:
            raise UsageError(
                "Contact groups work with the legacy Voice API only; list the numbers instead."
            )
        if self.via_io and not self.config.bridge:
            raise UsageError(
                "KALEYRA_SID is set but KALEYRA_BRIDGE is not: an admin must set the DID to call from."
            )
        if not start.group:
            numbers = numbers or await self._numbers(start.numbers_text, allow_foreign=self.via_io)
            if not numbers["numbers"]:
                shown = numbers["invalid"][:5] + numbers["blacklisted"][:5]
                raise UsageError(
                    "No number is left to call: "
                    + "; ".join(shown + numbers["duplicates"][:5])
                    + "."
                )
        plan = BroadcastPlan(
            kind="obd",
            group=start.group,
            play=start.play,
            say=start.say,
            campaign=start.campaign,
            retries=start.retries,
            via_io=self.via_io,
            calls_per_minute=self.config.calls_per_minute,
            api_name="kaleyra.io Outbound Calling" if self.via_io else "the Voice API (voice.call)",
            **(numbers or {}),
        )
        when, at_text = self._check_schedule(start.at, plan)
        return self._with_requests(plan.model_copy(update={"at": when, "at_text": at_text}))

    async def plan_dialer(
        self, upload: DialerUpload, numbers: dict[str, Any] | None = None
    ) -> BroadcastPlan:
        numbers = numbers or await self._numbers(upload.numbers_text, allow_foreign=False)
        if not numbers["numbers"]:
            raise UsageError(
                "No number is left to upload: "
                + "; ".join(numbers["invalid"][:5] + numbers["blacklisted"][:5])
                + "."
            )
        count = len(numbers["numbers"])
        plan = BroadcastPlan(
            kind="dialer",
            campaign=upload.campaign,
            api_name="autodial.add" if count == 1 else "autodial.import",
            **numbers,
        )
        return self._with_requests(plan)

    async def plan_rows(
        self, result: CsvResult, start: ObdStart, dialer: str | None
    ) -> BroadcastPlan:
        """A plan from an uploaded CSV: every row called, skipped with its reason, or uploaded."""
        numbers = await self._screen(
            [r.phone for r in result.rows], result.errors, result.duplicates
        )
        kept = set(numbers["numbers"])
        keep = [r for r in result.rows if r.phone.e164 in kept]
        if dialer:
            plan = await self.plan_dialer(DialerUpload(dialer, ""), numbers)
            return plan.model_copy(update={"fields": {r.phone.e164: r.fields for r in keep}})
        column = next((k for r in keep for k in r.fields if k.lower() == "message"), None)
        messages = {r.phone.e164: r.fields[column] for r in keep if column and r.fields.get(column)}
        if messages and self.via_io:
            raise UsageError(
                "A message per row needs the legacy Voice API (voice.json); KALEYRA_SID routes broadcasts to kaleyra.io."
            )
        if len(messages) < len(keep) and not (start.play or start.say):
            raise UsageError(
                f"{len(keep) - len(messages)} rows have no message: give a sound or a message for them in the form."
            )
        plan = await self.plan(start, numbers)
        if not messages:
            return plan
        update = {"messages": messages, "api_name": "the Voice API (voice.json, a message per row)"}
        return self._with_requests(plan.model_copy(update=update))

    def _with_requests(self, plan: BroadcastPlan) -> BroadcastPlan:
        return plan.model_copy(update={"requests": len(self.chunks_of(plan))})

    def _check_schedule(
        self, at: datetime | None, plan: BroadcastPlan
    ) -> tuple[datetime | None, str | None]:
        tz = self.config.tz
        now = self.clock().astimezone(tz)
        when = (at if at.tzinfo else at.replace(tzinfo=tz)).astimezone(tz) if at else None
        if when is not None:
            if when < now + timedelta(minutes=15):
                raise UsageError(
                    f"The time {when:%Y-%m-%d %H:%M} must be at least 15 minutes from now ({now:%Y-%m-%d %H:%M} {self.config.timezone})."
                )
            limit = timedelta(days=90) if self.via_io else timedelta(days=61)
            if when > now + limit:
                raise UsageError(
                    f"The time {when:%Y-%m-%d %H:%M} is too far ahead: at most {'90 days' if self.via_io else '2 months'}."
                )
        moment = when or now
        if not self._in_window(moment):
            raise UsageError(self._outside_window(moment, now, scheduled=when is not None))
        minutes = plan.estimated_minutes
        window = self.config.calling_hours
        if when is not None and minutes and window:
            end = when + timedelta(minutes=minutes)
            if end.date() != when.date() or end.time() > window[1]:
                raise UsageError(
                    f"At {plan.calls_per_minute} calls a minute the {plan.total} numbers take "
                    f"{views.duration(minutes)}, so starting at {when:%H:%M} they would ring past "
                    f"{window[1]:%H:%M} {self.config.timezone}. Start earlier or send fewer numbers."
                )
        return when, (f"{when:%Y-%m-%d %H:%M} {self.config.timezone}" if when else None)

    # ------------------------------------------------------------------ chunks

    def chunks_of(self, plan: BroadcastPlan) -> list[tuple[list[str], int]]:
        """(numbers, size) of every request, in sending order: filled in order, remainder last.

        With OBD_CALLS_PER_MINUTE below a request's limit, a request holds at most a minute's
        numbers, so no minute sends more than the rate.
        """
        if plan.group:
            return [([], 1)]
        if plan.kind == "dialer":
            size = 1 if len(plan.numbers) == 1 else DIALER_IMPORT_LIMIT
            return [(part, len(part)) for part in chunked(plan.numbers, size)]
        cap = plan.calls_per_minute if plan.paced else None
        if plan.messages:
            parts = _json_parts(plan, cap)
        else:
            limit = OUTBOUND_TO_LIMIT if plan.via_io else VOICE_CALL_LIMIT
            parts = chunked(plan.numbers, min(limit, cap or limit))
        return [(part, len(part)) for part in parts]


def _json_parts(plan: BroadcastPlan, cap: int | None) -> list[list[str]]:
    """voice.json requests: numbers grouped by message, 200 to a call group, five call groups
    (and at most `cap` numbers, when paced) to a request."""
    by_message: dict[str | None, list[str]] = {}
    for number in plan.numbers:
        by_message.setdefault(plan.messages.get(number), []).append(number)
    size = min(VOICE_CALL_LIMIT, cap or VOICE_CALL_LIMIT)
    groups = [part for numbers in by_message.values() for part in chunked(numbers, size)]
    requests: list[list[str]] = []
    current: list[str] = []
    count = 0
    for group in groups:
        if current and (count == JSON_CALL_GROUPS or (cap and len(current) + len(group) > cap)):
            requests.append(current)
            current, count = [], 0
        current.extend(group)
        count += 1
    if current:
        requests.append(current)
    return requests
