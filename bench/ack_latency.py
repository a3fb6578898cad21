"""Ack latency of signed /c2c commands while the sandbox takes 2 s a request, against a bare Bolt app.

Run: .venv/bin/python bench/ack_latency.py [--requests 4000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from support import bare_bolt, command_body, fake_slack, load, sandbox, table, voicebot

USERS = 50


async def main(requests: int, concurrency: int, latency: float) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        sandbox(latency) as kaleyra,
        fake_slack() as slack,
        voicebot(kaleyra, slack, Path(tmp)) as (bot_url, _proc, _startup),
        bare_bolt(slack) as bare_url,
    ):
        users = [f"U{n:08d}" for n in range(USERS)]
        registrations = [
            command_body("/c2c", f"register 98{n:08d}", u, n) for n, u in enumerate(users)
        ]
        await load(bot_url, registrations, 5)
        # Every dial is new (distinct customer), so each one really goes to Kaleyra.
        dials = [command_body("/c2c", f"91{n:08d}", users[n % USERS], n) for n in range(requests)]
        warm = [command_body("/c2c", "help", users[0], n) for n in range(300)]
        await load(bot_url, warm, concurrency)
        await load(bare_url, warm, concurrency)
        # The yardstick first, on a quiet machine: nothing of ours is running yet.
        bare = await load(bare_url, dials, concurrency)
        paced = await load(bot_url, dials[: requests // 4], concurrency, rate=100)
        ours = await load(bot_url, dials[requests // 4 :], concurrency)
        # The same again while our queued dials are being placed, for context only.
        bare_busy = await load(bare_url, dials, concurrency)
    print(
        f"\nconcurrency {concurrency}, sandbox latency {latency:.1f} s per request, {requests} signed commands each\n"
    )
    print(
        table(
            [
                ("bare AsyncApp ack-only, flat out", bare),
                ("voicebot /c2c dials, paced 100/s", paced),
                ("voicebot /c2c dials, flat out", ours),
                ("bare again, voicebot busy behind it", bare_busy),
            ]
        )
    )
    print(
        f"\np99 ratio voicebot / bare: {ours['p99'] / bare['p99']:.2f}x; "
        f"throughput ratio: {ours['rps'] / bare['rps']:.2f}x"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency", type=float, default=2.0)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.concurrency, args.latency))
