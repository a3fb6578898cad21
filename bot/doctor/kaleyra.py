"""Kaleyra, read-only: which way the account takes the key and how it spells voice.groupstatus.

Only reads are sent: `monitor`, `dial.c2cstatus` and `dial` for today, each with every key
style the documents name, then `voice.groupstatus` in both spellings for a group that does not
exist. None of them can ring a phone or change the account. kaleyra.io has no read-only
request in its documents, so its SID and key are reported as not checkable without a call.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

import httpx

from bot.doctor.checks import Check
from bot.kaleyra import KaleyraClient
from bot.kaleyra.errors import (
    KaleyraAPIError,
    KaleyraBadAnswer,
    KaleyraConnectionError,
    KaleyraError,
    KaleyraServerError,
    KaleyraTimeout,
)
from bot.kaleyra.models import GROUP_STATUS_METHODS, KeyStyle, LogQuery
from bot.settings import Settings

AREA = "kaleyra"
READS = ("monitor", "dial.c2cstatus", "dial")
PROBE_GROUP = "0"  # no group has this id: the answer says whether the method is known


class Answer(NamedTuple):
    key_refused: bool  # the answer is about the key, so the request never got past it
    unreachable: bool  # no answer at all
    ok: bool  # a 200 (or monitor's all clear)
    detail: str


class Findings(NamedTuple):
    key_style: KeyStyle | None
    group_status_method: str | None


def _key_problem(exc: KaleyraAPIError) -> bool:
    # The sandbox's E100/E101; the real account's codes are not documented, its message is.
    return (
        exc.code in {"E100", "E101", "RBC201"}
        or any(word in exc.message.lower() for word in ("key", "auth"))
        or exc.http_status in {401, 403}
    )


def _method_unknown(exc: KaleyraAPIError) -> bool:
    return exc.code == "E102" or "method" in exc.message.lower()


async def _read(client: KaleyraClient, operation: str, today: date) -> Answer:
    query = LogQuery(fromdate=today, todate=today)
    try:
        match operation:
            case "monitor":
                report = await client.health()
                count = len(report.incidents)
                detail = f"{count} incident{'s' if count != 1 else ''}" if count else "all clear"
            case "dial.c2cstatus":
                calls = await client.c2c_log(query)
                detail = f"{len(calls)} click-to-call{'s' if len(calls) != 1 else ''} today"
            case _:
                rows = await client.call_details(query)
                detail = f"{len(rows)} incoming call{'s' if len(rows) != 1 else ''} today"
    except KaleyraAPIError as exc:
        return Answer(_key_problem(exc), False, False, f"{exc.code} {exc.message}")
    except (KaleyraConnectionError, KaleyraTimeout) as exc:
        return Answer(False, True, False, str(exc))
    except KaleyraBadAnswer as exc:
        return Answer(False, False, False, f"an answer the bot cannot read ({exc})")
    except (KaleyraServerError, KaleyraError) as exc:
        return Answer(False, False, False, str(exc))
    return Answer(False, False, True, detail)


def _client(
    settings: Settings,
    style: KeyStyle,
    transport: httpx.AsyncBaseTransport | None,
    group_status_method: str = GROUP_STATUS_METHODS[0],
) -> KaleyraClient:
    assert settings.kaleyra_api_key is not None
    return KaleyraClient(
        api_key=settings.kaleyra_api_key.get_secret_value(),
        voice_url=settings.kaleyra_voice_url,
        io_url=settings.kaleyra_io_url,
        sid=settings.kaleyra_sid,
        timeout=settings.kaleyra_timeout_seconds,
        read_retries=0,
        transport=transport,
        key_style=style,
        group_status_method=group_status_method,
    )


async def check_kaleyra(
    settings: Settings, today: date, transport: httpx.AsyncBaseTransport | None = None
) -> tuple[list[Check], Findings]:
    if settings.kaleyra_api_key is None:
        return [
            Check.fail(
                AREA,
                "account",
                "KALEYRA_API_KEY is not set: the bot runs on its built-in sandbox and no"
                " phone rings",
                "set KALEYRA_API_KEY to the key of your Kaleyra Voice account",
            )
        ], Findings(None, None)
    answers: dict[tuple[KeyStyle, str], Answer] = {}
    for style in KeyStyle:
        client = _client(settings, style, transport)
        try:
            for operation in READS:
                answer = answers[style, operation] = await _read(client, operation, today)
                if answer.unreachable:
                    return [_unreachable(settings, answer)], Findings(None, None)
        finally:
            await client.aclose()
    style, checks = _key_style(answers)
    if style is None:
        return [*checks, *_io(settings)], Findings(None, None)
    checks.extend(_reads(style, answers))
    method, spelling = await _group_status(settings, style, transport)
    return [*checks, spelling, *_io(settings)], Findings(style, method)


def _unreachable(settings: Settings, answer: Answer) -> Check:
    return Check.fail(
        AREA,
        "voice API",
        f"{settings.kaleyra_voice_url} cannot be reached from this host: {answer.detail}",
        "check KALEYRA_VOICE_URL and this host's DNS, proxy and firewall for HTTPS",
    )


def _key_style(answers: dict[tuple[KeyStyle, str], Answer]) -> tuple[KeyStyle | None, list[Check]]:
    """The first style (documents' order) that gets every read past the key check."""
    taken = [s for s in KeyStyle if not any(answers[s, op].key_refused for op in READS)]
    tried = "; ".join(
        f"{s.value}: " + ("accepted" if s in taken else _refusal(answers, s)) for s in KeyStyle
    )
    if taken:
        return taken[0], [
            Check.ok(
                AREA, "key style", f"the account takes the key in the {taken[0].value} ({tried})"
            )
        ]
    partly = [s for s in KeyStyle if any(not answers[s, op].key_refused for op in READS)]
    if partly:
        return None, [
            Check.fail(
                AREA,
                "key style",
                f"no one way of passing the key works for every read ({_per_read(answers)})",
                "ask Kaleyra support how this account takes the API key; until then every"
                " request that refuses it fails",
            )
        ]
    return None, [
        Check.fail(
            AREA,
            "key style",
            f"Kaleyra refused the key every documented way ({tried})",
            "KALEYRA_API_KEY is wrong, expired or another account's: copy it again from"
            " your Kaleyra Voice account",
        )
    ]


def _refusal(answers: dict[tuple[KeyStyle, str], Answer], style: KeyStyle) -> str:
    refused = next(answers[style, op] for op in READS if answers[style, op].key_refused)
    return f"refused ({refused.detail})"


def _per_read(answers: dict[tuple[KeyStyle, str], Answer]) -> str:
    parts = []
    for op in READS:
        ways = [s.value for s in KeyStyle if not answers[s, op].key_refused] or ["none"]
        parts.append(f"{op}: {', '.join(ways)}")
    return "; ".join(parts)


def _reads(style: KeyStyle, answers: dict[tuple[KeyStyle, str], Answer]) -> list[Check]:
    checks = []
    for op in READS:
        answer = answers[style, op]
        name = op if op == "monitor" else f"{op} (today)"
        if answer.ok:
            checks.append(Check.ok(AREA, name, answer.detail))
        elif op == "monitor":  # health alerts and the digest need it; calls do not
            checks.append(
                Check.warn(
                    AREA,
                    name,
                    f"refused: {answer.detail}",
                    "/voicehealth and the digest need the account's network monitor; ask"
                    " Kaleyra support to enable it",
                )
            )
        else:
            checks.append(
                Check.fail(
                    AREA,
                    name,
                    f"refused: {answer.detail}",
                    "the bot follows calls with this read; ask Kaleyra support to enable it"
                    " for this key",
                )
            )
    return checks


async def _try_group_status(
    settings: Settings, style: KeyStyle, transport: httpx.AsyncBaseTransport | None, method: str
) -> KaleyraError | None:
    client = _client(settings, style, transport, method)
    try:
        await client.obd_group_status(PROBE_GROUP)
    except KaleyraBadAnswer:
        return None  # an answer, even an odd one, means the method is known
    except KaleyraError as exc:
        return exc
    finally:
        await client.aclose()
    return None


async def _group_status(
    settings: Settings, style: KeyStyle, transport: httpx.AsyncBaseTransport | None
) -> tuple[str | None, Check]:
    known, said = [], []
    for method in GROUP_STATUS_METHODS:
        problem = await _try_group_status(settings, style, transport, method)
        if isinstance(problem, KaleyraAPIError) and _method_unknown(problem):
            said.append(f"{method}: {problem.code} {problem.message}")
        elif problem is None or isinstance(problem, KaleyraAPIError):
            known.append(method)  # an error about the group, not the method
        else:
            return None, Check.warn(
                AREA,
                "group status",
                f"{method} could not be tried: {problem}",
                "run the doctor again; until then the tables' voice.groupstatus is used",
            )
    if not known:
        return None, Check.fail(
            AREA,
            "group status",
            f"the account knows neither spelling ({'; '.join(said)})",
            "ask Kaleyra support which method reads a call group's status; until then"
            " broadcast progress and /obd status cannot be read",
        )
    other = f"; {'; '.join(said)}" if said else "; both spellings answer"
    return known[0], Check.ok(
        AREA, "group status", f"the account reads call groups with {known[0]}{other}"
    )


def _io(settings: Settings) -> list[Check]:
    if not settings.kaleyra_sid:
        return [Check.skip(AREA, "kaleyra.io", "not used (KALEYRA_SID not set)")]
    checks = []
    if not settings.kaleyra_bridge:
        checks.append(
            Check.fail(
                AREA,
                "kaleyra.io bridge",
                "KALEYRA_SID is set without KALEYRA_BRIDGE: broadcasts through kaleyra.io"
                " have no number to call from",
                "set KALEYRA_BRIDGE to a DID of the account, with its country code (+91…)",
            )
        )
    checks.append(
        Check.warn(
            AREA,
            "kaleyra.io",
            "the SID and key cannot be checked without placing a call: the Outbound Calling"
            " API's only request places calls",
            "the first broadcast checks them: send one to your own phone first, e.g."
            ' /obd <your number> say "test"',
        )
    )
    return checks
