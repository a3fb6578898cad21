"""A year of data (issue 14 target 3): what reading the store costs as the history grows.

For each size (10k, 100k and 1M rows in the calls and audit tables; follow-ups a fifth of it,
blacklist a twentieth, agents a hundredth, 200 of them active) a store is migrated, seeded
directly with executemany, then the paths a user waits on are timed in this process, the way
the bot runs them: synchronously on the event loop (a store call's time is a stall of every
ack behind it). Each path runs many times; p50/p99/max in ms, and the file size on disk.

The paths: App Home build, a page of the bot's own call history, the reminder scan (the clock
moves a minute each run), the daily digest, `/blacklist list`; and the store reads under them
(open calls, calls being placed, `blacklisted()` of 200 numbers, the blacklist page) plus one
retention batch. It adapts to the code it runs against (the names a path has on main and on the
current tree), so one script measures before and after; each row says what it called.
Target: each path p99 under 50 ms at every size, flat or logarithmic growth.

On PostgreSQL (`--database-url postgresql://…` or BENCH_DATABASE_URL): the same SQLite file is
copied into a new database on that server by `voicebot db copy`'s code and analysed, then the same
paths are timed through the same store; there a path's time is the time awaited (the event loop
is free meanwhile, the pool's connection is not), and the size is pg_database_size.

Run: .venv/bin/python bench/year.py [--sizes 10000,100000,1000000] [--runs 100] [--database-url …]
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import json
import os
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from support import loadavg, pct, run, table

NOW = datetime(2026, 11, 23, 5, 30, tzinfo=UTC)
YEAR = 365 * 86400
ACTIVE = 200
ADMIN = "U0ADMIN"
BUDGET_S = 12.0  # per path and size: stop early when a path is that slow


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def user(n: int) -> str:
    return f"U{n:08d}"


def agent_e164(n: int) -> str:
    return f"+9198{n:08d}"


def customer_e164(n: int) -> str:
    return f"+9191{n:08d}"


# ----------------------------------------------------------------------------- seeding


class Seeder:
    """Rows for whatever columns the migrated schema has (it differs between trees)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def columns(self, table: str) -> list[str]:
        return [r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")]

    def has(self, table: str) -> bool:
        return bool(self.columns(table))

    def insert(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        cols = self.columns(table)
        if not cols:
            return 0
        rows = iter(rows)
        first = next(rows, None)
        if first is None:
            return 0
        names = [c for c in cols if c in first]
        sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        count = 0

        def values():
            nonlocal count
            for row in itertools.chain([first], rows):
                count += 1
                yield [row.get(c) for c in names]

        with self.conn:
            self.conn.executemany(sql, values())
        return count


def seed(path: Path, size: int) -> dict[str, int]:
    rng = random.Random(size)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    s = Seeder(conn)
    now = NOW.timestamp()
    agents = max(ACTIVE, size // 100)
    counts = {}
    counts["agents"] = s.insert(
        "agents",
        (
            {
                "user_id": user(n),
                "number": agent_e164(n),
                "role": "agent",
                "created_at": iso(now - YEAR),
                "updated_at": iso(now - YEAR),
            }
            for n in range(agents)
        ),
    )
    if s.has("verifications"):
        s.insert(
            "verifications",
            (
                {
                    "user_id": user(n),
                    "number": agent_e164(n),
                    "state": "verified",
                    "tries": 0,
                    "calls_sent": 1,
                    "verified_by": user(n),
                    "created_at": iso(now - YEAR),
                    "updated_at": iso(now - YEAR),
                }
                for n in range(agents)
            ),
        )

    def calls():
        for i in range(size):
            created = now - YEAR + YEAR * i / size
            left = size - i
            if left <= 5:
                state = "placing"
            elif left <= 60:
                state = "placed"  # the open calls of the last minutes
            else:
                roll = rng.random()
                state = "unknown" if roll < 0.001 else "failed" if roll < 0.02 else "final"
            placed = state in {"placed", "final"}
            yield {
                "id": i + 1,
                "kind": "c2c",
                "user_id": user(i % ACTIVE),
                "agent_number": agent_e164(i % ACTIVE),
                "customer_number": customer_e164(i),
                "kaleyra_id": f"c2c_{i:012x}" if placed else None,
                "state": state,
                "status1": "ANSWER" if state == "final" else None,
                "status2": "ANSWER" if state == "final" else None,
                "duration": 95 if state == "final" else None,
                "billsec": 80 if state == "final" else None,
                "channel": f"D{i % ACTIVE:08d}",
                "message_ts": f"{1700000000 + i}.000100",
                "callback_token": f"{i + 1}-{rng.getrandbits(128):032x}",
                "error": "Kaleyra did not answer in time." if state == "unknown" else None,
                "created_at": iso(created),
                "updated_at": iso(created + 100),
                "final_at": iso(created + 100) if state == "final" else None,
            }

    counts["calls"] = s.insert("calls", calls())

    def audit():
        actions = ["c2c.dial", "c2c.final", "obd.start", "blacklist.add", "followup.add"]
        for i in range(size):
            at = now - YEAR + YEAR * i / size
            yield {
                "id": i + 1,
                "at": iso(at),
                "user_id": user(i % ACTIVE),
                "action": actions[i % len(actions)],
                "outcome": "placed",
                "numbers": "98******10,91******12",
                "kaleyra_ids": f"c2c_{i:012x}",
                "detail": json.dumps({"call_row": i + 1}),
            }

    counts["audit"] = s.insert("audit", audit())

    followups = size // 5
    reminders = []

    def followup_rows():
        for i in range(followups):
            ontime = now - YEAR + (YEAR + 30 * 86400) * i / followups
            past = ontime < now
            owner = i % ACTIVE
            if past:
                reminders.append((i, ontime))
            yield {
                "id": str(100000 + i),
                "user_id": user(owner),
                "follower": agent_e164(owner),
                "phone": customer_e164(i),
                "name": f"Customer {i}",
                "ontime": iso(ontime),
                "notes": "",
                "autocall": 0,
                "state": ("done" if i % 2 else "active") if past else "active",
                "source": "slack",
                "reminder_state": "sent" if past else "pending",
                "remind_at": None,
                "created_at": iso(ontime - 86400),
                "updated_at": iso(ontime - 86400),
            }

    counts["followups"] = s.insert("followups", followup_rows())
    counts["sent_log"] = s.insert(
        "sent_log",
        (
            {
                "key": f"reminder:{100000 + i}:{iso(t - 600)}",
                "kind": "reminder",
                "due_at": iso(t - 600),
                "state": "sent",
                "late": 0,
                "at": iso(t - 600),
            }
            for i, t in reminders
        ),
    )
    counts["blacklist"] = s.insert(
        "blacklist",
        (
            {
                "number": f"+9190{i:08d}",
                "added_by": user(i % ACTIVE),
                "added_at": iso(now - YEAR + YEAR * i / (size // 20)),
                "reason": "asked not to be called",
            }
            for i in range(size // 20)
        ),
    )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    conn.close()
    return counts


# ----------------------------------------------------------------------------- the bot


class NullSlack(AsyncWebClient):
    """Answers every Web API call at once with ok: the time measured is the bot's own."""

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        data = {"ok": True, "channel": {"id": "D0BENCH"}, "ts": "1700000000.000100"}
        if api_method != "conversations.open":
            data["channel"] = "D0BENCH"
        return AsyncSlackResponse(
            client=self,
            http_verb="POST",
            api_url=api_method,
            req_args={},
            data=data,
            headers={},
            status_code=200,
        )


def monitor_all_clear(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"status": "E701", "message": "No incidents found"})


def build(path: Path, clock: list[datetime], database_url: str | None = None):
    from bot.deps import Tuning, build_deps
    from bot.kaleyra import KaleyraClient
    from bot.settings import Settings
    from bot.store import Store

    settings = Settings(
        _env_file=None,
        slack_bot_token="xoxb-bench",
        slack_signing_secret="bench",
        kaleyra_api_key="bench-key",
        database_path=str(path),
        database_url=database_url,
        scheduler_enabled=False,
        health_digest_channel="C0DIGEST",
        admin_user_ids=ADMIN,
        log_level="CRITICAL",
    )
    store = Store(database_url or path, clock=lambda: clock[0])
    kaleyra = KaleyraClient(api_key="k", transport=httpx.MockTransport(monitor_all_clear))
    kw: dict[str, Any] = {"store": store, "kaleyra": kaleyra, "clock": lambda: clock[0]}
    kw["slack"] = NullSlack(token="xoxb-bench")
    # The stand-in Slack takes everything: no per-channel spacing (one post a second) is waited.
    kw["tuning"] = Tuning(auto_track=False, slack_limits=False)
    return build_deps(settings, **kw)


async def timed(fn: Callable[[int], Any], runs: int) -> tuple[list[float], int]:
    samples: list[float] = []
    started = time.perf_counter()
    for i in range(runs):
        t = time.perf_counter()
        out = fn(i)
        if inspect.isawaitable(out):
            await out
        samples.append((time.perf_counter() - t) * 1000)
        if time.perf_counter() - started > BUDGET_S and len(samples) >= 5:
            break
    return samples, len(samples)


def paths(deps: Any, clock: list[datetime], size: int) -> list[tuple[str, str, Callable]]:
    """(name, what it calls, fn(i)) for the code at hand."""
    store = deps.store
    out: list[tuple[str, str, Callable]] = []
    users = [user(n) for n in range(ACTIVE)] + [ADMIN]

    home = getattr(deps, "home", None)
    if home is not None and hasattr(home, "view"):
        out.append(("App Home build", "deps.home.view(user)", lambda i: home.view(users[i % 201])))
    else:
        from bot.services.home import publish_home

        out.append(
            (
                "App Home build",
                "publish_home(deps, slack, user)",
                lambda i: publish_home(deps, deps.slack, users[i % 201]),
            )
        )

    if hasattr(store, "call_history"):
        deepest = max(1, size - 50 * ACTIVE)
        out.append(
            (
                "call history page",
                "store.call_history(user, before_id, 20)",
                lambda i: store.call_history(
                    users[i % ACTIVE], before_id=None if i % 2 else deepest, limit=20
                ),
            )
        )
    else:
        out.append(
            (
                "call history page",
                "store.recent_calls(user, 20)",
                lambda i: store.recent_calls(users[i % ACTIVE], limit=20),
            )
        )

    def scan(_i: int):
        clock[0] += timedelta(minutes=1)
        return deps.reminders.run_due()

    out.append(("reminder scan", "deps.reminders.run_due()", scan))

    def digest(i: int):
        return deps.voicehealth.digest(NOW - timedelta(days=i + 1))

    out.append(("daily digest", "deps.voicehealth.digest(due)", digest))
    callfeed = getattr(deps, "callfeed", None)
    if callfeed is not None and hasattr(callfeed, "activity_digest"):
        out.append(
            (
                "activity digest",
                "deps.callfeed.activity_digest()",
                lambda i: callfeed.activity_digest(),
            )
        )

    blacklist = getattr(deps, "blacklist", None)
    if blacklist is not None and hasattr(blacklist, "page"):
        out.append(
            ("/blacklist list", "deps.blacklist.page(admin)", lambda i: blacklist.page(ADMIN))
        )
    else:
        from bot.views import blacklist as views

        async def listing(_i: int):
            entries = await store.blacklist_entries()
            return views.list_message(entries, show_numbers=True)

        out.append(("/blacklist list", "store.blacklist_entries() + view", listing))

    # --- the store reads under them
    out.append(("· open calls (every 2 s)", "store.open_calls()", lambda i: store.open_calls()))
    out.append(
        ("· calls being placed", "store.calls_being_placed()", lambda i: store.calls_being_placed())
    )
    listed = [f"+9190{n * 7:08d}" for n in range(100)] + [customer_e164(n) for n in range(100)]
    out.append(
        (
            "· blacklisted(200 numbers)",
            "store.blacklisted(numbers)",
            lambda i: store.blacklisted(listed),
        )
    )
    if hasattr(store, "blacklist_page"):
        out.append(
            ("· blacklist page", "store.blacklist_page(limit=60)", lambda i: store.blacklist_page())
        )
    return out


async def measure(size: int, runs: int, tmp: Path) -> dict[str, Any]:
    path = tmp / f"year-{size}.db"
    from bot.store import Store

    Store(path).close()  # the schema as this tree migrates it
    started = time.perf_counter()
    counts = seed(path, size)
    seeded = time.perf_counter() - started
    clock = [NOW]
    database_url = None
    if SERVER:  # PostgreSQL: the same rows, copied by `voicebot db copy`'s code, then analysed
        from bot.store.copy import copy_database

        database_url = create_database(size)
        await copy_database("sqlite:///" + str(path), database_url, say=lambda _line: None)
        analyse(database_url)
        seeded = time.perf_counter() - started
    deps = build(path, clock, database_url)
    await deps.store.open()
    results: dict[str, Any] = {"counts": counts, "seed_s": seeded, "rows": {}}
    for name, what, fn in paths(deps, clock, size):
        await timed(fn, 3)  # warm: first reads load pages into the cache
        samples, n = await timed(fn, runs)
        results["rows"][name] = {
            "what": what,
            "n": n,
            "p50": pct(samples, 50),
            "p99": pct(samples, 99),
            "max": max(samples),
        }
    if hasattr(deps.store, "prune_history"):
        samples = []
        for _ in range(20):
            t = time.perf_counter()
            await deps.store.prune_history(NOW, audit_days=300, call_days=300)
            samples.append((time.perf_counter() - t) * 1000)
        results["rows"]["· retention batch (100 + 100 rows)"] = {
            "what": "store.prune_history(now, 300, 300)",
            "n": len(samples),
            "p50": pct(samples, 50),
            "p99": pct(samples, 99),
            "max": max(samples),
        }
    await deps.kaleyra.aclose()
    await deps.store.aclose()
    if database_url:
        results["mb"], results["breakdown"] = postgres_sizes(database_url)
        drop_database(database_url)
    else:
        results["mb"] = (
            sum(os.path.getsize(p) for p in tmp.glob(f"year-{size}.db*") if p.is_file()) / 1e6
        )
        results["breakdown"] = breakdown(path)
    for p in tmp.glob(f"year-{size}.db*"):
        p.unlink()
    return results


# BENCH_DATABASE_URL=postgresql://user@host:port/any (or --database-url): each size runs in a
# new database on that server, created and dropped here; unset: SQLite files, as before.
SERVER = ""


def _admin_url() -> str:
    return SERVER.rsplit("/", 1)[0] + "/postgres"


def create_database(size: int) -> str:
    import psycopg

    name = f"voicebot_year_{size}_{random.randrange(16**6):06x}"
    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return SERVER.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


def analyse(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def postgres_sizes(url: str) -> tuple[float, dict[str, float]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        total = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        tables = conn.execute(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class"
            " WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
        ).fetchall()
    return total / 1e6, {name: size / 1e6 for name, size in tables}


def breakdown(path: Path) -> dict[str, float]:
    """MB per table with its indexes (dbstat), when SQLite has it."""
    try:
        conn = sqlite3.connect(path)
        rows = conn.execute(
            "SELECT m.tbl_name, SUM(s.pgsize) FROM dbstat s JOIN sqlite_master m ON m.name = s.name"
            " GROUP BY m.tbl_name"
        ).fetchall()
        conn.close()
    except sqlite3.Error:
        return {}
    return {name: size / 1e6 for name, size in rows}


async def main(sizes: list[int], runs: int) -> None:
    load = loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        results = {size: await measure(size, runs, Path(tmp)) for size in sizes}
    names = list(next(iter(results.values()))["rows"])
    labels = [f"{s // 1000}k" if s < 1_000_000 else f"{s // 1_000_000}M" for s in sizes]
    where = "PostgreSQL (local server)" if SERVER else "SQLite"
    print(
        f"\n## A year of data on {where}: p99 ms (p50, runs) at each size"
        f" (load average before: {load})\n"
    )
    rows = []
    for name in names:
        cells = []
        for size in sizes:
            r = results[size]["rows"].get(name)
            cells.append("–" if r is None else f"**{r['p99']:.1f}** ({r['p50']:.1f}, {r['n']})")
        worst = max(results[s]["rows"][name]["p99"] for s in sizes if name in results[s]["rows"])
        verdict = "" if name.startswith("·") else ("met" if worst < 50 else "not met")
        rows.append((name, *cells, verdict))
    print(table(["path", *labels, "p99 < 50 ms"], rows))
    print()
    print(
        table(
            ["what each row calls", ""], [(n, results[sizes[-1]]["rows"][n]["what"]) for n in names]
        )
    )
    print()
    size_rows = []
    for size, label in zip(sizes, labels, strict=True):
        r = results[size]
        parts = ", ".join(
            f"{k} {v:.0f}" for k, v in sorted(r["breakdown"].items(), key=lambda kv: -kv[1])[:5]
        )
        size_rows.append((label, f"{r['mb']:.0f}", parts, f"{r['seed_s']:.0f}"))
    print(
        table(["size", "file MB", "largest tables with their indexes, MB", "seeding s"], size_rows)
    )
    print(
        "\nrows seeded at the largest size: "
        + ", ".join(f"{k} {v:,}" for k, v in results[sizes[-1]]["counts"].items())
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    args = parser.parse_args()
    SERVER = args.database_url
    run(main([int(s) for s in args.sizes.split(",")], args.runs))
