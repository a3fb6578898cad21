"""Start what a benchmark needs on 127.0.0.1 as separate processes, and stop it afterwards."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import httpx
from slack_sdk.signature import SignatureVerifier

ROOT = Path(__file__).parents[1]
PY = sys.executable
SECRET = "bench-signing-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 20.0) -> float:
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
def process(args: list[str], env: dict[str, str] | None = None, health: str | None = None):
    proc = subprocess.Popen(
        args,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        if health:
            wait_http(health)
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def sandbox(latency: float = 0.0):
    port = free_port()
    with process(
        [PY, "-m", "bot.cli", "sandbox", "--port", str(port)],
        health=f"http://127.0.0.1:{port}/healthz",
    ):
        url = f"http://127.0.0.1:{port}"
        if latency:
            httpx.post(f"{url}/_sandbox/faults", json={"operation": "*", "latency": latency})
        yield url


@contextmanager
def fake_slack():
    port = free_port()
    code = (
        "import uvicorn; from bot.local.fakeslack import FakeSlack; "
        f"uvicorn.run(FakeSlack().app, host='127.0.0.1', port={port}, log_level='warning')"
    )
    with process([PY, "-c", code]):
        url = f"http://127.0.0.1:{port}"
        RESPONSE_BASE["url"] = url
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                httpx.post(f"{url}/api/auth.test", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield url


@contextmanager
def voicebot(sandbox_url: str, slack_url: str, tmp: Path, **extra_env: str):
    port = free_port()
    env = {
        "PORT": str(port),
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack_url + "/api/",
        "KALEYRA_API_KEY": "bench-key",
        "KALEYRA_VOICE_URL": sandbox_url + "/v1/",
        "DATABASE_PATH": str(tmp / "bench.db"),
        "SCHEDULER_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        **extra_env,
    }
    started = time.perf_counter()
    with process(
        [PY, "-m", "bot.cli", "serve"], env=env, health=f"http://127.0.0.1:{port}/healthz"
    ) as proc:
        yield f"http://127.0.0.1:{port}", proc, time.perf_counter() - started


@contextmanager
def bare_bolt(slack_url: str):
    port = free_port()
    args = [PY, str(ROOT / "bench" / "bare_app.py"), str(port), slack_url + "/api/", SECRET]
    with process(args, health=f"http://127.0.0.1:{port}/healthz"):
        yield f"http://127.0.0.1:{port}"


def signed(body: str, verifier: SignatureVerifier) -> dict[str, str]:
    ts = str(int(time.time()))
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": verifier.generate_signature(timestamp=ts, body=body),
    }


RESPONSE_BASE = {"url": "http://127.0.0.1:9"}  # set to the fake Slack once it runs


def command_body(command: str, text: str, user_id: str, n: int) -> str:
    return urlencode(
        {
            "team_id": "T0VOICE",
            "channel_id": "C0BENCH",
            "user_id": user_id,
            "command": command,
            "text": text,
            "api_app_id": "A0VOICE",
            "response_url": f"{RESPONSE_BASE['url']}/response/{n}",
            "trigger_id": f"{n}.t",
        }
    )


async def load(
    url: str, bodies: list[str], concurrency: int, rate: float | None = None
) -> dict[str, float]:
    """POST each signed body once, `concurrency` at a time (paced to `rate` a second if given)."""
    verifier = SignatureVerifier(SECRET)
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for index, body in enumerate(bodies):
        queue.put_nowait((index, body))
    connector = aiohttp.TCPConnector(limit=concurrency)
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                index, body = queue.get_nowait()
                if rate:
                    delay = started + index / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                start = time.perf_counter()
                try:
                    async with session.post(
                        f"{url}/slack/events", data=body, headers=signed(body, verifier)
                    ) as r:
                        await r.read()
                        if r.status != 200:
                            errors += 1
                except aiohttp.ClientError:
                    errors += 1
                latencies.append((time.perf_counter() - start) * 1000)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / wall,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "max": latencies[-1],
    }


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def table(rows: list[tuple[str, dict[str, float]]]) -> str:
    out = [
        f"| {'what':<38} | requests | errors | req/s | p50 ms | p99 ms | max ms |",
        "|" + "---|" * 7,
    ]
    for name, r in rows:
        out.append(
            f"| {name:<38} | {r['requests']:>8.0f} | {r['errors']:>6.0f} | {r['rps']:>5.0f} | "
            f"{r['p50']:>6.1f} | {r['p99']:>6.1f} | {r['max']:>6.1f} |"
        )
    return "\n".join(out)
