"""Issue 13's benchmark: a 100,000-number campaign from a CSV, end to end over loopback.

Targets: every number accounted for, peak RSS of the bot under 200 MB, wall time (from the
Start click to the last voice.call answer) within 1.1x of the ideal for the bot's request
concurrency and, in the paced run, OBD_CALLS_PER_MINUTE.

What runs (all on 127.0.0.1, each a process, all stopped at the end, also on failure):
the bot (`voicebot serve` under uvicorn, bench/support.py), the Kaleyra sandbox (its
timestamping front, bench/stamped_sandbox.py) answering voice.call after `--latency` seconds,
and a fake Slack Web API (bench/fake_slack.py: bot/local/fakeslack.py plus read-back routes
and a route to put the uploaded CSV where a form's file_input has it).

Each run, as the admin would: `/obd` opens the form; the form is submitted with the CSV
uploaded; the confirmation's Start button is clicked; the store file is polled read-only
until every chunk is settled; then the accounting is checked twice (the store's chunks, and
the voice.call requests the sandbox received): accepted + refused + unknown = every number,
no number twice, none lost. Unless `--no-results`, the run then waits for the owner's results
CSV (voice.groupstatus of every group, uploaded with files_upload_v2) and checks it lists
every number once. Peak RSS is the bot's VmHWM (/proc/<pid>/status).

Ideal wall time:
- unpaced: ceil(requests / concurrency) rounds of `--latency` seconds, where requests =
  ceil(numbers / 200) and concurrency is KaleyraClient's chunk_concurrency (read from the code);
- paced: numbers / OBD_CALLS_PER_MINUTE minutes (settings cap the rate at 100,000 a minute).

Besides the ideal, the table gives the sandbox's measured time per request and the wall time
against the ideal recomputed with it (what remains is the bot's, and the machine's), and
"slot idle": how long, on average, a freed request slot stayed empty before its next request.

Run (heavy: about 3 minutes of both cores; run it alone, other benches and tests skew it):
    cd bench && ../.venv/bin/python campaign.py
    ../.venv/bin/python campaign.py --numbers 20000 --runs unpaced      # a quick check
Diagnoses (each slows the bot; never for the table): `--trace FILE` times every step of a chunk
in the bot and samples its RSS every 20 ms (printed per run), `--profile FILE` writes a cProfile
of its event loop, `--stub-geocoder` runs it without phonenumbers' geocoder data (~100 MB).
"""

from __future__ import annotations

import argparse
import csv
import inspect
import io
import json
import math
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from support import (
    ADMIN,
    ROOT,
    SECRET,
    Kaleyra,
    Slack,
    cpu_seconds,
    fake_slack,
    loadavg,
    rss_mb,
    sandbox,
    table,
    voicebot,
    wait_until,
)

from bot.kaleyra import KaleyraClient
from bot.kaleyra.bulk import VOICE_CALL_LIMIT
from bot.local.fakeslack import SlackDriver
from bot.views import obd as views

FILE_ID = "F0CAMPAIGN"
MAX_RATE = 100_000  # Settings.obd_calls_per_minute's upper bound


def chunk_concurrency() -> int:
    """Requests of one campaign in flight at once: BroadcastConfig gets KaleyraClient's."""
    return int(inspect.signature(KaleyraClient).parameters["chunk_concurrency"].default)


# ----------------------------------------------------------------------------- the fake Slack


def put_file(slack: Slack, content: bytes) -> dict[str, Any]:
    url = f"{slack.url}/_bench/files/{FILE_ID}"
    return httpx.put(url, content=content, params={"name": "customers.csv"}, timeout=60).json()


# ----------------------------------------------------------------------------- reading back


def vm_hwm_mb(pid: int) -> float:
    """The process's peak resident set so far (VmHWM), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class StoreReader:
    """The bot's SQLite file, read-only (WAL: reading never blocks the bot's writes)."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        self.conn.execute("PRAGMA query_only = 1")

    def close(self) -> None:
        self.conn.close()

    def job(self, job_id: int) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT state, results_at FROM jobs WHERE id = ?", [job_id]
        ).fetchone()
        return {"state": row[0], "results_at": row[1]} if row else {}

    def states(self, job_id: int) -> dict[str, tuple[int, int]]:
        """state → (chunks, numbers)."""
        rows = self.conn.execute(
            "SELECT state, COUNT(*), COALESCE(SUM(size), 0) FROM campaign_chunks"
            " WHERE job_id = ? GROUP BY state",
            [job_id],
        ).fetchall()
        return {state: (int(chunks), int(numbers)) for state, chunks, numbers in rows}

    def chunk_numbers(self, job_id: int) -> list[tuple[str, list[str], int]]:
        rows = self.conn.execute(
            "SELECT state, numbers, size FROM campaign_chunks WHERE job_id = ? ORDER BY idx",
            [job_id],
        ).fetchall()
        return [(state, json.loads(numbers or "[]"), int(size)) for state, numbers, size in rows]


def buttons(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if node.get("type") == "button" else []
        return found + [b for v in node.values() for b in buttons(v)]
    if isinstance(node, list):
        return [b for v in node for b in buttons(v)]
    return []


def text_of(payload: dict[str, Any]) -> str:
    parts = [str(payload.get("text") or "")]
    for block in payload.get("blocks") or []:
        if isinstance(block, dict) and isinstance(block.get("text"), dict):
            parts.append(str(block["text"].get("text", "")))
    return "\n".join(parts)


# ----------------------------------------------------------------------------- one run


@dataclass
class Result:
    name: str
    numbers: int
    requests: int
    concurrency: int
    latency: float
    rate: int | None
    ideal: float = 0.0
    plan_s: float = 0.0  # form submitted → confirmation posted
    first_s: float = 0.0  # Start click → first voice.call arrived
    wall_s: float = 0.0  # Start click → last voice.call answered
    settled_s: float = 0.0  # Start click → the store showed every chunk settled (polled)
    by_state: dict[str, int] = field(default_factory=dict)
    accounted: int = 0
    distinct_stored: int = 0
    duplicates: int = 0
    lost: int = 0
    sent: int = 0
    distinct_sent: int = 0
    csv_rows: int | None = None
    csv_distinct: int | None = None
    csv_outcomes: dict[str, int] = field(default_factory=dict)
    results_s: float | None = None  # Start click → results CSV uploaded
    rss_idle: float = 0.0
    hwm_planned: float = 0.0  # peak up to the confirmation (the CSV parsed and planned)
    hwm_sending: float = 0.0
    hwm_end: float = 0.0
    cpu_s: float = 0.0  # the bot's CPU from the click to the last answer
    gap_ms: float = float("nan")  # mean time from a request slot freeing to its next request
    answer_s: float = float("nan")  # the sandbox's own time per voice.call (arrived → answered)
    invalid_slack: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.wall_s / self.ideal if self.ideal else float("nan")

    @property
    def answered_ideal(self) -> float:
        """The ideal again with the sandbox's measured time per request instead of the
        configured latency: what is left above it is the bot's (and the machine's) doing."""
        if self.rate:
            return self.ideal
        return math.ceil(self.requests / self.concurrency) * self.answer_s

    @property
    def every_number(self) -> bool:
        csv_ok = self.csv_rows is None or (
            self.csv_rows == self.numbers and self.csv_distinct == self.numbers
        )
        return (
            self.accounted == self.numbers
            and self.distinct_stored == self.numbers
            and self.duplicates == 0
            and self.lost == 0
            and self.sent == self.numbers
            and self.distinct_sent == self.numbers
            and csv_ok
        )


def numbers_csv(count: int) -> tuple[bytes, list[str]]:
    """A spreadsheet export: a header, a number and a name a row; and the E.164 expected."""
    national = [str(9100000000 + i) for i in range(count)]
    lines = ["mobile,name"] + [f"{n},Customer {i}" for i, n in enumerate(national)]
    return ("\n".join(lines) + "\n").encode(), ["+91" + n for n in national]


def set_call_latency(kaleyra: Kaleyra, seconds: float) -> None:
    """Only voice.call is slow: the ideal is about those requests (status reads answer at once)."""
    response = httpx.post(
        f"{kaleyra.url}/_sandbox/faults",
        json={"operation": "voice.call", "latency": seconds},
        timeout=10,
    )
    response.raise_for_status()


def submit_form(driver: SlackDriver, slack: Slack, file: dict[str, Any]) -> None:
    since = slack.count()
    response = driver.command("/obd", "", user_id=ADMIN)
    assert response.status_code == 200, response.text
    opened: list[dict[str, Any]] = []

    def modal() -> bool:
        opened[:] = slack.calls("views.open", since=since)
        return bool(opened)

    assert wait_until(modal, timeout=30, step=0.05), "/obd did not open the form"
    view = opened[-1]["payload"]["view"]
    view = json.loads(view) if isinstance(view, str) else view
    values = {
        views.NUMBERS_BLOCK: {views.NUMBERS_INPUT: {"type": "plain_text_input", "value": None}},
        views.FILE_BLOCK: {views.FILE_INPUT: {"type": "file_input", "files": [file]}},
        views.PLAY_BLOCK: {views.PLAY_INPUT: {"type": "plain_text_input", "value": "123.sound"}},
        views.SAY_BLOCK: {views.SAY_INPUT: {"type": "plain_text_input", "value": None}},
        views.AT_BLOCK: {views.AT_INPUT: {"type": "datetimepicker", "selected_date_time": None}},
        views.CAMPAIGN_BLOCK: {views.CAMPAIGN_INPUT: {"type": "plain_text_input", "value": None}},
        views.RETRIES_BLOCK: {
            views.RETRIES_INPUT: {"type": "static_select", "selected_option": None}
        },
        views.DIALER_BLOCK: {views.DIALER_INPUT: {"type": "plain_text_input", "value": None}},
    }
    response = driver.view_submission(view, values, user_id=ADMIN)
    assert response.status_code == 200 and not response.text, response.text


def wait_confirmation(slack: Slack, since: int, timeout: float) -> dict[str, Any]:
    """The Start button of the confirmation the bot DMs the admin once the CSV is planned."""
    found: list[dict[str, Any]] = []

    def posted() -> bool:
        for call in slack.calls("chat.postMessage", since=since):
            payload = call["payload"]
            if payload.get("channel") != ADMIN:
                continue
            start = [b for b in buttons(payload) if b.get("action_id") == views.OBD_CONFIRM]
            if start:
                found[:] = [start[0], payload]
                return True
            raise RuntimeError(f"the form was refused: {text_of(payload)[:500]}")
        return False

    assert wait_until(posted, timeout=timeout, step=0.1), "no confirmation was posted"
    return found[0] | {"_text": text_of(found[1])}


def results_csv(slack: Slack, job_id: int) -> bytes | None:
    response = httpx.get(
        f"{slack.url}/_bench/uploaded",
        params={"title": f"Broadcast #{job_id} results"},
        timeout=60,
    )
    return response.content if response.status_code == 200 else None


async def one_run(
    name: str,
    *,
    tmp: Path,
    numbers: int,
    latency: float,
    rate: int | None,
    concurrency: int,
    results: bool,
    profile: Path | None,
    stub_geocoder: bool,
    trace: Path | None = None,
) -> Result:
    content, expected = numbers_csv(numbers)
    requests = math.ceil(numbers / VOICE_CALL_LIMIT)
    result = Result(name, numbers, requests, concurrency, latency, rate)
    if rate:
        result.ideal = numbers / rate * 60
    else:
        result.ideal = math.ceil(requests / concurrency) * latency
    env: dict[str, str] = {"OBD_CALLING_HOURS": ""}
    if rate:
        env["OBD_CALLS_PER_MINUTE"] = str(rate)
    env.update(hook_env(tmp, profile, stub_geocoder, trace))
    db = tmp / f"campaign-{time.monotonic_ns()}.db"
    with (
        fake_slack() as slack,
        sandbox() as kaleyra,
        voicebot(kaleyra, slack, db, **env) as (url, proc, _startup),
    ):
        set_call_latency(kaleyra, latency)
        driver = SlackDriver(url, SECRET, slack.url)
        store = StoreReader(db)
        try:
            time.sleep(0.5)
            result.rss_idle = rss_mb(proc.pid)
            file = put_file(slack, content)
            since = slack.count()
            submitted = time.monotonic()
            submit_form(driver, slack, file)
            button = wait_confirmation(slack, since, timeout=180)
            result.plan_s = time.monotonic() - submitted
            if f"call *{numbers}* numbers" not in button["_text"]:
                result.problems.append("confirmation: " + button["_text"][:300])
            job_id = int(button["value"])
            time.sleep(0.5)  # the confirmation is posted just before the planning thread ends
            result.hwm_planned = vm_hwm_mb(proc.pid)

            cpu_before = cpu_seconds(proc.pid)
            clicked = time.monotonic()
            response = driver.block_action(views.OBD_CONFIRM, button["value"], user_id=ADMIN)
            assert response.status_code == 200, response.text

            def settled() -> bool:
                states = store.states(job_id)
                chunks = sum(c for c, _ in states.values())
                return chunks == requests and not {"pending", "sending"} & set(states)

            budget = result.ideal * 3 + 120
            if not wait_until(settled, timeout=budget, step=0.05):
                result.problems.append(f"not settled after {budget:.0f} s: {store.states(job_id)}")
            result.settled_s = time.monotonic() - clicked
            result.cpu_s = cpu_seconds(proc.pid) - cpu_before
            result.hwm_sending = vm_hwm_mb(proc.pid)

            stamps = kaleyra.stamps("voice.call")
            if stamps:
                result.first_s = min(s["arrived"] for s in stamps) - clicked
                result.wall_s = max(s["done"] or 0.0 for s in stamps) - clicked
                result.gap_ms = slot_gap_ms(stamps, concurrency)
                answered = [s["done"] - s["arrived"] for s in stamps if s["done"] is not None]
                result.answer_s = sum(answered) / len(answered)
                if trace:
                    marks = {"clicked": clicked, "stamps": stamps}
                    trace.with_suffix(".stamps.json").write_text(json.dumps(marks))
            account(result, store.chunk_numbers(job_id), expected)
            sent = [r for r in kaleyra.requests() if r["operation"] == "voice.call"]
            called = [n for r in sent for n in r["form"]["numbers"].split(",")]
            result.sent, result.distinct_sent = len(called), len(set(called))
            if set(called) != {n.removeprefix("+91") for n in expected}:
                result.problems.append("the numbers Kaleyra got are not the CSV's")

            if results:
                wait_results(result, slack, store, job_id, clicked, expected)
            result.hwm_end = vm_hwm_mb(proc.pid)
            invalid = httpx.get(f"{slack.url}/_bench/invalid", timeout=30).json()
            result.invalid_slack = len(invalid)
            if invalid:
                method, problems = invalid[0]
                result.problems.append(f"Slack would refuse a {method}: {problems[:2]}")
            if proc.poll() is not None:
                result.problems.append(f"the bot exited ({proc.returncode})")
        finally:
            store.close()
            driver.close()
    return result


def slot_gap_ms(stamps: list[dict[str, Any]], concurrency: int) -> float:
    """How long, on average, a freed request slot stayed empty: the k-th request could go
    once the (k - concurrency + 1)-th answer was back (the per-chunk overhead on the loop)."""
    arrived = sorted(s["arrived"] for s in stamps)
    done = sorted(s["done"] for s in stamps if s["done"] is not None)
    gaps = [arrived[k] - done[k - concurrency] for k in range(concurrency, len(arrived))]
    return sum(gaps) / len(gaps) * 1000 if gaps else float("nan")


def account(result: Result, chunks: list[tuple[str, list[str], int]], expected: list[str]) -> None:
    """Every number in exactly one settled chunk: accepted + refused + unknown = all."""
    by_state: Counter[str] = Counter()
    stored: list[str] = []
    for state, numbers, size in chunks:
        by_state[state] += size
        stored.extend(numbers)
        if len(numbers) != size:
            result.problems.append(f"a {state} chunk has {len(numbers)} numbers, size {size}")
    result.by_state = dict(by_state)
    result.accounted = sum(by_state[s] for s in ("accepted", "refused", "unknown"))
    distinct = set(stored)
    result.distinct_stored = len(distinct)
    result.duplicates = len(stored) - len(distinct)
    result.lost = len(set(expected) - distinct)


def wait_results(
    result: Result,
    slack: Slack,
    store: StoreReader,
    job_id: int,
    clicked: float,
    expected: list[str],
) -> None:
    """The owner's results: every call final (groupstatus), the CSV uploaded; check it."""
    content: list[bytes] = []

    def delivered() -> bool:
        if not store.job(job_id).get("results_at"):
            return False
        got = results_csv(slack, job_id)
        if got:
            content.append(got)
        return bool(got)

    if not wait_until(delivered, timeout=240, step=0.25):
        result.problems.append(f"no results CSV after 240 s (job {store.job(job_id)})")
        return
    result.results_s = time.monotonic() - clicked
    rows = list(csv.DictReader(io.StringIO(content[0].decode())))
    result.csv_rows = len(rows)
    listed = {r["number"] for r in rows}
    result.csv_distinct = len(listed)
    result.csv_outcomes = dict(Counter(r["outcome"] for r in rows))
    if listed != set(expected):
        result.problems.append(f"results CSV: {len(set(expected) - listed)} numbers missing")


# ----------------------------------------------------------------------------- profiling

_SITECUSTOMIZE = """
import atexit, cProfile, os, sys, types
if "bot.cli" in " ".join(sys.orig_argv):
    if os.environ.get("BENCH_STUB_GEOCODER"):
        # Diagnosis only: phonenumbers.geocoder without its ~100 MB of prefix data.
        stub = types.ModuleType("phonenumbers.geocoder")
        stub.country_name_for_number = lambda *args, **kwargs: ""
        sys.modules["phonenumbers.geocoder"] = stub
    if os.environ.get("BENCH_TRACE"):
        import json, time
        from bot.kaleyra.client import KaleyraClient
        from bot.services import obd
        from bot.services.obd import plan as obd_plan, results as obd_results, sender as obd_sender
        from bot.store import Store

        _trace, _t = [], time.monotonic

        def _async(owner, name):
            inner = getattr(owner, name)

            async def timed(*args, **kwargs):
                start = _t()
                try:
                    return await inner(*args, **kwargs)
                finally:
                    _trace.append((name, start, _t()))

            setattr(owner, name, timed)

        def _sync(owner, name):
            inner = getattr(owner, name)

            def timed(*args, **kwargs):
                start = _t()
                try:
                    return inner(*args, **kwargs)
                finally:
                    _trace.append((name, start, _t()))

            setattr(owner, name, timed)

        for _name in ("_next_chunk", "_send_chunk", "_refresh", "_post_progress", "start",
                      "propose_form", "poll_once", "_read_calls", "_deliver_results"):
            _async(obd.Broadcasts, _name)
        _async(obd_sender.Sender, "__call__")
        _async(KaleyraClient, "_send_once")
        for _name in ("next_chunk", "claim_chunk", "settle_chunk", "campaign_state",
                      "chunk_outline", "has_pending_chunks", "get_job", "start_campaign",
                      "chunks", "create_job"):
            _sync(Store, _name)
        for _name in ("_plan_upload", "plan_rows", "_outcome_rows", "_recheck"):
            _sync(obd.Broadcasts, _name)
        _sync(obd_plan, "parse_csv")
        _sync(obd_results, "results_csv")

        def _rss():  # the resident set every 20 ms, MB, as ("rss", time, MB)
            import threading
            page = os.sysconf("SC_PAGE_SIZE") / 2**20

            def sample():
                while True:
                    with open("/proc/self/statm") as statm:
                        _trace.append(("rss", _t(), int(statm.read().split()[1]) * page))
                    time.sleep(0.02)

            threading.Thread(target=sample, daemon=True).start()

        _rss()

        def _lag():  # how late the loop runs a 5 ms timer: time spent away from the loop
            import asyncio
            loop = asyncio.get_running_loop()
            due = loop.time() + 0.005
            def fire():
                nonlocal due
                _trace.append(("loop_lag", due, loop.time()))
                due = loop.time() + 0.005
                loop.call_at(due, fire)
            loop.call_at(due, fire)

        _run = obd.Broadcasts._run  # already unwrapped: start the lag probe with the first run

        async def _run_with_lag(self, job_id):
            _lag()
            return await _run(self, job_id)

        obd.Broadcasts._run = _run_with_lag

        def _dump():
            with open(os.environ["BENCH_TRACE"], "w") as out:
                json.dump(_trace, out)

        atexit.register(_dump)
    if os.environ.get("BENCH_CPROFILE"):
        _profile = cProfile.Profile()
        _profile.enable()
        atexit.register(
            lambda: (_profile.disable(), _profile.dump_stats(os.environ["BENCH_CPROFILE"]))
        )
"""


def hook_env(
    tmp: Path, profile: Path | None, stub_geocoder: bool, trace: Path | None = None
) -> dict[str, str]:
    """A sitecustomize for the bot's process: cProfile of its main thread (the event loop),
    written when it stops; timings of each step of a chunk (`trace`, JSON of (step, start,
    end) on the monotonic clock the sandbox's stamps use); phonenumbers.geocoder stubbed out.
    All three are diagnoses: the measured runs use none."""
    if not (profile or stub_geocoder or trace):
        return {}
    hook = tmp / "bench-hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    env = {"PYTHONPATH": f"{hook}:{ROOT}"}
    if profile:
        env["BENCH_CPROFILE"] = str(profile)
    if stub_geocoder:
        env["BENCH_STUB_GEOCODER"] = "1"
    if trace:
        env["BENCH_TRACE"] = str(trace)
    return env


def analyse_trace(trace: Path) -> str:
    """Where the time between two requests goes: each step's count, mean and total, within
    the sending window (first request to last answer), and the event loop's lateness."""
    marks = json.loads(trace.with_suffix(".stamps.json").read_text())
    stamps = marks["stamps"]
    begin = min(s["arrived"] for s in stamps)
    end = max(s["done"] for s in stamps if s["done"] is not None)
    steps: dict[str, list[float]] = {}
    entries = json.loads(trace.read_text())
    for name, start, stop in entries:
        if name != "rss" and begin <= start <= end:
            steps.setdefault(name, []).append(stop - start)
    rows = [
        (name, len(d), f"{sum(d) / len(d) * 1000:.2f}", f"{max(d) * 1000:.1f}", f"{sum(d):.2f}")
        for name, d in sorted(steps.items(), key=lambda kv: -sum(kv[1]))
    ]
    lag = steps.get("loop_lag", [])
    late = [x for x in lag if x > 0.002]
    head = (
        f"trace {trace.name}: sending window {end - begin:.2f} s; loop late > 2 ms"
        f" {len(late)} times, {sum(late):.2f} s in all (CPU on the loop, or waiting for a core)"
    )
    timing = table(["step", "calls", "mean ms", "max ms", "total s"], rows)
    return head + "\n" + timing + "\n\n" + memory_steps(entries, marks["clicked"])


HEAVY_STEPS = (
    "propose_form",
    "_plan_upload",
    "parse_csv",
    "plan_rows",
    "create_job",
    "start",
    "_recheck",
    "start_campaign",
    "poll_once",
    "_read_calls",
    "_deliver_results",
    "chunks",
    "_outcome_rows",
    "results_csv",
)


def memory_steps(entries: list[list[Any]], clicked: float) -> str:
    """The bot's resident set around each heavy step (sampled every 20 ms in the bot)."""
    samples = sorted((t, mb) for name, t, mb in entries if name == "rss")
    if not samples:
        return ""

    def around(start: float, stop: float) -> tuple[float, float, float]:
        before = [mb for t, mb in samples if t <= start] or [samples[0][1]]
        during = [mb for t, mb in samples if start <= t <= stop] or before[-1:]
        after = [mb for t, mb in samples if t >= stop] or during[-1:]
        return before[-1], max(during), after[0]

    rows = []
    for name, start, stop in entries:
        if name in HEAVY_STEPS and stop - start > 0.05:
            b, peak, a = around(start, stop)
            rows.append(
                (
                    name,
                    f"{start - clicked:+.2f}",
                    f"{stop - start:.2f}",
                    f"{b:.0f}",
                    f"{peak:.0f}",
                    f"{a:.0f}",
                )
            )
    top = max(mb for _, mb in samples)
    return f"RSS samples: peak {top:.0f} MB\n" + table(
        ["step", "at s (from click)", "took s", "RSS before", "max during", "after"], rows
    )


# ----------------------------------------------------------------------------- the report


def report(results: list[Result], load: str, args: argparse.Namespace) -> str:
    out = [
        f"Load average before: {load} (2 shared cores; other helpers may be running tests).",
        "",
        table(
            [
                "run",
                "numbers",
                "requests",
                "in flight",
                "Kaleyra s/req",
                "rate /min",
                "ideal s",
                "click → first req s",
                "click → last answer s",
                "slot idle ms/req",
                "ratio",
                "target 1.1x",
                "sandbox s/req measured",
                "ratio to that",
            ],
            [
                (
                    r.name,
                    r.numbers,
                    r.requests,
                    r.concurrency,
                    f"{r.latency:.2f}",
                    r.rate or "no limit",
                    f"{r.ideal:.2f}",
                    f"{r.first_s:.2f}",
                    f"{r.wall_s:.2f}",
                    "–" if r.rate else f"{r.gap_ms:.1f}",  # paced: the slots wait on purpose
                    f"{r.ratio:.3f}x",
                    "met" if r.ratio <= 1.1 else "**not met**",
                    f"{r.answer_s:.4f}",
                    f"{r.wall_s / r.answered_ideal:.3f}x",
                )
                for r in results
            ],
        ),
        "",
        table(
            [
                "run",
                "accepted / refused / unknown",
                "accounted",
                "distinct in store",
                "dup",
                "lost",
                "sent to Kaleyra (distinct)",
                "results CSV rows (distinct)",
                "every number",
            ],
            [
                (
                    r.name,
                    " / ".join(
                        str(r.by_state.get(s, 0)) for s in ("accepted", "refused", "unknown")
                    ),
                    r.accounted,
                    r.distinct_stored,
                    r.duplicates,
                    r.lost,
                    f"{r.sent} ({r.distinct_sent})",
                    "–" if r.csv_rows is None else f"{r.csv_rows} ({r.csv_distinct})",
                    "met" if r.every_number else "**not met**",
                )
                for r in results
            ],
        ),
        "",
        table(
            [
                "run",
                "form → confirmation s",
                "click → results CSV s",
                "bot CPU s (sending)",
                "RSS idle MB",
                "peak RSS planned MB",
                "peak RSS sending MB",
                "peak RSS with results MB",
                "target 200 MB",
            ],
            [
                (
                    r.name,
                    f"{r.plan_s:.2f}",
                    "–" if r.results_s is None else f"{r.results_s:.1f}",
                    f"{r.cpu_s:.2f}",
                    f"{r.rss_idle:.0f}",
                    f"{r.hwm_planned:.0f}",
                    f"{r.hwm_sending:.0f}",
                    f"{r.hwm_end:.0f}",
                    "met" if max(r.hwm_sending, r.hwm_end) < 200 else "**not met**",
                )
                for r in results
            ],
        ),
    ]
    outcomes = [r for r in results if r.csv_outcomes]
    if outcomes:
        out += ["", "Outcomes in the results CSV (the sandbox's by number suffix):"]
        out += [f"- {r.name}: {dict(sorted(r.csv_outcomes.items()))}" for r in outcomes]
    problems = [f"- {r.name}: {p}" for r in results for p in r.problems]
    problems += [
        f"- {r.name}: {r.invalid_slack} invalid Slack payloads" for r in results if r.invalid_slack
    ]
    out += ["", "Problems:", *problems] if problems else []
    return "\n".join(out)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.2, help="voice.call answer time, s")
    parser.add_argument(
        "--rate", type=int, default=MAX_RATE, help="OBD_CALLS_PER_MINUTE, paced run"
    )
    parser.add_argument("--runs", default="unpaced,paced", help="unpaced, paced or both")
    parser.add_argument("--no-results", action="store_true", help="skip the results CSV phase")
    parser.add_argument("--profile", type=Path, help="cProfile the bot into this file (.prof)")
    parser.add_argument(
        "--stub-geocoder",
        action="store_true",
        help="diagnosis: run the bot with phonenumbers.geocoder stubbed (its data is ~100 MB)",
    )
    parser.add_argument("--trace", type=Path, help="time each step of a chunk in the bot")
    parser.add_argument("--max-seconds", type=int, default=1200, help="abort after this long")
    args = parser.parse_args()

    def abort(signum: int, _frame: Any) -> None:
        raise TimeoutError(f"stopped by signal {signum} (bound: --max-seconds {args.max_seconds})")

    signal.signal(signal.SIGALRM, abort)
    signal.signal(signal.SIGTERM, abort)
    signal.alarm(args.max_seconds)
    assert threading.current_thread() is threading.main_thread()
    load = loadavg()
    concurrency = chunk_concurrency()
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in [n.strip() for n in args.runs.split(",") if n.strip()]:
            profile = args.profile.with_suffix(f".{name}.prof") if args.profile else None
            trace = args.trace.with_suffix(f".{name}.json") if args.trace else None
            label = f"{name}, geocoder stubbed" if args.stub_geocoder else name
            results.append(
                await one_run(
                    label,
                    tmp=Path(tmp),
                    numbers=args.numbers,
                    latency=args.latency,
                    rate=args.rate if name == "paced" else None,
                    concurrency=concurrency,
                    results=not args.no_results,
                    profile=profile,
                    stub_geocoder=args.stub_geocoder,
                    trace=trace,
                )
            )
            if trace:
                print(analyse_trace(trace), file=sys.stderr)
            print(f"{name}: done ({results[-1].wall_s:.2f} s)", file=sys.stderr, flush=True)
    signal.alarm(0)
    print(report(results, load, args))
    ok = all(
        r.every_number and not r.problems and r.ratio <= 1.1 and max(r.hwm_sending, r.hwm_end) < 200
        for r in results
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
