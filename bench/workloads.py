"""Starvation, bulk OBD, memory and start-up benchmarks. Run: cd bench && ../.venv/bin/python workloads.py"""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier
from support import (
    RESPONSE_BASE,
    SECRET,
    command_body,
    fake_slack,
    load,
    rss_mb,
    sandbox,
    signed,
    table,
    voicebot,
)

ADMIN = "U0ADMIN"


def post(url: str, body: str) -> httpx.Response:
    return httpx.post(
        f"{url}/slack/events",
        content=body,
        headers=signed(body, SignatureVerifier(SECRET)),
        timeout=60,
    )


def pending_job(db: Path, after: int) -> int:
    """Long lists are confirmed after the ack: wait for the planned job to appear."""
    deadline = time.time() + 60
    while time.time() < deadline:
        with sqlite3.connect(db) as conn:
            row = conn.execute(
                "SELECT max(id) FROM jobs WHERE state = 'pending' AND id > ?", [after]
            ).fetchone()
        if row and row[0]:
            return int(row[0])
        time.sleep(0.01)
    raise RuntimeError("the job was not planned")


def start_job(url: str, db: Path, numbers: list[str], n: int, after: int = 0) -> tuple[int, float]:
    """Plan the job with /obd, then click Start; returns the job id and when the click went."""
    text = ", ".join(numbers) + " play 123.sound"
    assert post(url, command_body("/obd", text, ADMIN, n)).status_code == 200
    button = {"value": str(pending_job(db, after))}
    payload = {
        "type": "block_actions",
        "user": {"id": ADMIN},
        "team": {"id": "T0VOICE"},
        "api_app_id": "A0VOICE",
        "trigger_id": f"{n}.t",
        "response_url": f"{RESPONSE_BASE['url']}/response/click-{n}",
        "actions": [
            {
                "action_id": "obd_confirm",
                "value": button["value"],
                "block_id": "b",
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    clicked = time.perf_counter()
    assert post(url, urlencode({"payload": json.dumps(payload)})).status_code == 200
    return int(button["value"]), clicked


def jobs_done(db: Path, ids: list[int]) -> bool:
    with sqlite3.connect(db) as conn:
        marks = ",".join("?" * len(ids))
        states = [r[0] for r in conn.execute(f"SELECT state FROM jobs WHERE id IN ({marks})", ids)]
    return len(states) == len(ids) and all(s in {"tracking", "done"} for s in states)


async def main() -> None:
    env = {"ADMIN_USER_IDS": ADMIN, "OBD_CALLING_HOURS": "", "SCHEDULER_ENABLED": "false"}
    rows: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp, fake_slack() as slack:
        # --- start-up and idle memory
        with (
            sandbox() as kaleyra,
            voicebot(kaleyra, slack, Path(tmp) / "a", **env) as (url, proc, startup),
        ):
            time.sleep(1)
            idle = rss_mb(proc.pid)

        # --- no starvation: /voicehealth acks while 20 broadcasts of 1000 numbers run (2 s a request)
        with (
            sandbox(latency=2.0) as kaleyra,
            voicebot(kaleyra, slack, Path(tmp) / "b", **env) as (url, proc, _),
        ):
            warm = [command_body("/voicehealth", "", "U1", n) for n in range(200)]
            await load(url, warm, 20)
            baseline = await load(
                url, [command_body("/voicehealth", "", "U1", n) for n in range(2000)], 20
            )
            last = 0
            for j in range(20):
                numbers = [str(9100000000 + j * 1000 + i) for i in range(1000)]
                last, _ = start_job(
                    url, Path(tmp) / "b" / "bench.db", numbers, 10_000 + j, after=last
                )
            busy = await load(
                url, [command_body("/voicehealth", "", "U1", n) for n in range(2000)], 20
            )
            rows += [
                ("/voicehealth acks, idle", baseline),
                ("/voicehealth acks, 20 OBD jobs running", busy),
            ]

        # --- bulk OBD: 10 000 numbers, 200 ms a request
        with (
            sandbox(latency=0.2) as kaleyra,
            voicebot(kaleyra, slack, Path(tmp) / "c", **env) as (url, proc, _),
        ):
            numbers = [str(9100000000 + i) for i in range(10_000)]
            db = Path(tmp) / "c" / "bench.db"
            job, started = start_job(url, db, numbers, 1)
            while not jobs_done(db, [job]):
                await asyncio.sleep(0.02)
            wall = time.perf_counter() - started
            sent = [
                r
                for r in httpx.get(f"{kaleyra}/_sandbox/requests").json()
                if r["operation"] == "voice.call"
            ]
            called = [n for r in sent for n in r["form"]["numbers"].split(",")]
            after_bulk = rss_mb(proc.pid)
    requests, concurrency = math.ceil(10_000 / 200), 4
    ideal = math.ceil(requests / concurrency) * 0.2
    print("\n## Ack latency under load (concurrency 20)\n")
    print(table(rows))
    print("\n## Bulk OBD: 10 000 numbers, sandbox 200 ms a request\n")
    print(
        "| requests | chunk concurrency | ideal s | wall s (click to last chunk) | ratio | numbers sent | distinct |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {len(sent)} | {concurrency} | {ideal:.2f} | {wall:.2f} | {wall / ideal:.2f}x | {len(called)} | {len(set(called))} |"
    )
    print("\n## Memory and start-up\n")
    print("| RSS idle MB | RSS after bulk job MB | start-up to 200 on /healthz s |")
    print("|---|---|---|")
    print(f"| {idle:.0f} | {after_bulk:.0f} | {startup:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
