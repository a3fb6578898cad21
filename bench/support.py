"""What every benchmark needs: processes on 127.0.0.1 that stop afterwards, signed bodies, an
open-loop (paced) load generator, percentiles and tables.

Everything listens on loopback only; every process started here is stopped when its `with`
block ends (SIGINT, then SIGKILL after 10 s), whatever happens inside it.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
from slack_sdk.signature import SignatureVerifier

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
# The tree this bench lives in is the one measured, in this process and every one it starts.
sys.path.insert(0, str(ROOT))
PY = sys.executable
SECRET = "bench-signing-secret"
ADMIN = "U0ADMIN"
HOST = "127.0.0.1"  # nothing here listens anywhere else


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def process(
    args: list[str], env: dict[str, str] | None = None, health: str | None = None
) -> Iterator[subprocess.Popen]:
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed below) stderr, shown if it does not start
    proc = subprocess.Popen(
        args,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        if health:
            try:
                wait_http(health)
            except RuntimeError:
                log.seek(0)
                sys.stderr.write(log.read().decode(errors="replace")[-3000:])
                raise
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# ----------------------------------------------------------------------------- the pieces


@dataclass
class Kaleyra:
    """The sandbox behind a timestamping front (bench/stamped_sandbox.py)."""

    url: str

    def stamps(self, operation: str | None = None) -> list[dict[str, Any]]:
        query = {"operation": operation} if operation else {}
        return httpx.get(f"{self.url}/_bench/stamps", params=query, timeout=30).json()

    def requests(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/_sandbox/requests", timeout=60).json()

    def set_latency(self, seconds: float) -> None:
        httpx.post(f"{self.url}/_sandbox/faults", json={"operation": "*", "latency": seconds})


@contextmanager
def sandbox(latency: float = 0.0, step_seconds: float = 2.0) -> Iterator[Kaleyra]:
    port = free_port()
    args = [PY, str(BENCH / "stamped_sandbox.py"), str(port), str(step_seconds)]
    with process(args, health=f"http://{HOST}:{port}/healthz"):
        kaleyra = Kaleyra(f"http://{HOST}:{port}")
        if latency:
            kaleyra.set_latency(latency)
        yield kaleyra


@dataclass
class Slack:
    """The fake Slack Web API with a read-back route (bench/fake_slack.py)."""

    url: str

    def calls(self, method: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"since": since}
        if method:
            query["method"] = method
        return httpx.get(f"{self.url}/_bench/calls", params=query, timeout=60).json()

    def count(self) -> int:
        return int(httpx.get(f"{self.url}/_bench/count", timeout=10).json()["count"])


@contextmanager
def fake_slack() -> Iterator[Slack]:
    port = free_port()
    with process(
        [PY, str(BENCH / "fake_slack.py"), str(port)], health=f"http://{HOST}:{port}/_bench/count"
    ):
        yield Slack(f"http://{HOST}:{port}")


@contextmanager
def voicebot(
    kaleyra: Kaleyra, slack: Slack, db: Path, **extra_env: str
) -> Iterator[tuple[str, subprocess.Popen, float]]:
    """`voicebot serve` in HTTP mode; yields its URL, the process and its start-up time."""
    port = free_port()
    db.parent.mkdir(parents=True, exist_ok=True)
    env = {
        "PORT": str(port),
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.url + "/api/",
        "KALEYRA_API_KEY": "bench-key",
        "KALEYRA_VOICE_URL": kaleyra.url + "/v1/",
        "DATABASE_PATH": str(db),
        "ADMIN_USER_IDS": ADMIN,
        "OBD_CALLING_HOURS": "",
        "SCHEDULER_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        # BENCH_DATABASE_URL=postgresql://… runs the same benchmark on PostgreSQL.
        **(
            {"DATABASE_URL": os.environ["BENCH_DATABASE_URL"]}
            if "BENCH_DATABASE_URL" in os.environ
            else {}
        ),
        **extra_env,
    }
    started = time.perf_counter()
    with process(
        [PY, "-m", "bot.cli", "serve"], env=env, health=f"http://{HOST}:{port}/healthz"
    ) as proc:
        startup = time.perf_counter() - started
        with profiled(proc.pid):
            yield f"http://{HOST}:{port}", proc, startup


@contextmanager
def profiled(pid: int) -> Iterator[None]:
    """With BENCH_PYSPY=<py-spy binary> and BENCH_PROFILE=<file>: sample the bot meanwhile
    (collapsed stacks, for finding what holds the event loop); otherwise nothing."""
    spy, out = os.environ.get("BENCH_PYSPY"), os.environ.get("BENCH_PROFILE")
    if not (spy and out):
        yield
        return
    args = [spy, "record", "-p", str(pid), "-r", "250", "-f", "raw", "-o", out, "--nonblocking"]
    recorder = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        try:
            recorder.wait(timeout=20)
        except subprocess.TimeoutExpired:
            recorder.kill()


@contextmanager
def bare_bolt(slack: Slack) -> Iterator[str]:
    port = free_port()
    args = [PY, str(BENCH / "bare_app.py"), str(port), slack.url + "/api/", SECRET]
    with process(args, health=f"http://{HOST}:{port}/healthz"):
        yield f"http://{HOST}:{port}"


# ----------------------------------------------------------------------------- Slack requests

_VERIFIER = SignatureVerifier(SECRET)


def signed(body: str, content_type: str = "application/x-www-form-urlencoded") -> dict[str, str]:
    ts = str(int(time.time()))
    return {
        "content-type": content_type,
        "x-slack-request-timestamp": ts,
        "x-slack-signature": _VERIFIER.generate_signature(timestamp=ts, body=body),
    }


def command_body(slack: Slack, command: str, text: str, user_id: str, n: int) -> str:
    return urlencode(
        {
            "team_id": "T0VOICE",
            "channel_id": "C0BENCH",
            "user_id": user_id,
            "command": command,
            "text": text,
            "api_app_id": "A0VOICE",
            "response_url": f"{slack.url}/response/{n}",
            "trigger_id": f"{n}.t",
        }
    )


def action_body(slack: Slack, user_id: str, action: dict[str, Any], n: int) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": user_id},
        "team": {"id": "T0VOICE"},
        "api_app_id": "A0VOICE",
        "trigger_id": f"{n}.t",
        "channel": {"id": "C0BENCH"},
        "container": {"type": "message", "message_ts": f"{1700000000 + n}.000100"},
        "response_url": f"{slack.url}/response/click-{n}",
        "actions": [
            {
                "action_id": action["action_id"],
                "value": action.get("value", ""),
                "block_id": action.get("block_id", "b"),
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def post(url: str, body: str, timeout: float = 60) -> httpx.Response:
    return httpx.post(f"{url}/slack/events", content=body, headers=signed(body), timeout=timeout)


def agent_number(n: int) -> str:
    return f"98{n:08d}"


def customer_number(n: int) -> str:
    return f"91{n:08d}"


def user_id(n: int) -> str:
    return f"U{n:08d}"


def register_agents(url: str, slack: Slack, count: int) -> None:
    """Admin-assigned numbers: they need no verification call, so every agent can dial."""
    for n in range(count):
        text = f"register <@{user_id(n)}> {agent_number(n)}"
        response = post(url, command_body(slack, "/c2c", text, ADMIN, 900_000 + n))
        assert response.status_code == 200, response.text


# ----------------------------------------------------------------------------- open-loop load


@dataclass
class Sent:
    index: int
    due: float  # when the schedule said to send (monotonic)
    sent: float  # when it went
    done: float  # when the answer was read
    status: int

    @property
    def latency_ms(self) -> float:
        return (self.done - self.sent) * 1000

    @property
    def lag_ms(self) -> float:
        return (self.sent - self.due) * 1000


@dataclass
class Run:
    sent: list[Sent] = field(default_factory=list)
    wall: float = 0.0

    @property
    def errors(self) -> int:
        return sum(1 for s in self.sent if s.status != 200)

    def latencies(self) -> list[float]:
        return [s.latency_ms for s in self.sent]

    def summary(self) -> dict[str, float]:
        lat = self.latencies()
        return {
            "requests": len(lat),
            "errors": self.errors,
            "rps": len(lat) / self.wall if self.wall else 0.0,
            "p50": pct(lat, 50),
            "p90": pct(lat, 90),
            "p99": pct(lat, 99),
            "max": max(lat) if lat else float("nan"),
            "lag_p99": pct([s.lag_ms for s in self.sent], 99),
        }


async def paced(url: str, bodies: Sequence[str], rate: float) -> Run:
    """Open loop: body i is sent at start + i/rate whatever the answers before it are doing.

    Signatures are made before the clock starts; each request is its own task, so a slow
    answer never delays the next send (that would be a closed loop measuring throughput).
    """
    headers = [signed(b) for b in bodies]
    run = Run()
    connector = aiohttp.TCPConnector(limit=1000, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(index: int, due: float) -> None:
            sent = time.monotonic()
            status = 0
            try:
                async with session.post(
                    f"{url}/slack/events", data=bodies[index], headers=headers[index]
                ) as r:
                    await r.read()
                    status = r.status
            except (aiohttp.ClientError, TimeoutError):
                status = -1
            run.sent.append(Sent(index, due, sent, time.monotonic(), status))

        start = time.monotonic() + 0.05
        tasks = []
        for index in range(len(bodies)):
            due = start + index / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index, due)))
        await asyncio.gather(*tasks)
        run.wall = time.monotonic() - start
    run.sent.sort(key=lambda s: s.index)
    return run


async def closed(url: str, bodies: Sequence[str], concurrency: int) -> Run:
    """Closed loop, `concurrency` at a time: only for warming up and for /voicehealth acks."""
    headers = [signed(b) for b in bodies]
    run = Run()
    queue = list(range(len(bodies)))[::-1]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while queue:
                index = queue.pop()
                sent = time.monotonic()
                status = 0
                try:
                    async with session.post(
                        f"{url}/slack/events", data=bodies[index], headers=headers[index]
                    ) as r:
                        await r.read()
                        status = r.status
                except aiohttp.ClientError:
                    status = -1
                run.sent.append(Sent(index, sent, sent, time.monotonic(), status))

        start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        run.wall = time.monotonic() - start
    return run


# ----------------------------------------------------------------------------- numbers


def pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p99 of 100 values is the 99th smallest)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[0]


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "–" if math.isnan(value) else f"{value:.1f}"
        return str(value)

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def ack_table(rows: Sequence[tuple[str, dict[str, float]]]) -> str:
    return table(
        ["what", "requests", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"],
        [
            (
                name,
                int(r["requests"]),
                int(r["errors"]),
                f"{r['rps']:.0f}",
                r["p50"],
                r["p90"],
                r["p99"],
                r["max"],
            )
            for name, r in rows
        ],
    )


def wait_until(check, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return False


def run(main: Any) -> Any:
    """Run a benchmark's coroutine on uvloop when installed (the load generator's CPU is shared)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
