"""Paced acks (issue 14 target 2): voicebot's ack latency beside a bare Bolt app, same paced load.

500 signed `/c2c <customer>` at 200 a second (open loop), Kaleyra at 2 s a request, each a new
customer of one of 100 agents, so every one really dials: a row, a Kaleyra request, a card, status
polls of every open call. In the same run, the same load against a bare Bolt `AsyncApp` that only
acks (bench/bare_app.py). Rounds alternate bare, voicebot; a round's voicebot load starts while
the previous rounds' calls are still being placed and followed.
Targets: voicebot p99 under 50 ms and at most 1.5x the bare app's p99.

Run: .venv/bin/python bench/acks.py [--requests 500] [--rate 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from support import (
    ack_table,
    bare_bolt,
    command_body,
    cpu_seconds,
    customer_number,
    fake_slack,
    loadavg,
    paced,
    pct,
    register_agents,
    run,
    sandbox,
    table,
    user_id,
    voicebot,
)

AGENTS = 100


async def main(requests: int, rate: float, latency: float, rounds: int) -> dict[str, float]:
    rows: list[tuple[str, dict[str, float]]] = []
    ratios: list[float] = []
    bot_p99: list[float] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        sandbox(latency=0.0) as kaleyra,
        fake_slack() as slack,
        voicebot(kaleyra, slack, Path(tmp) / "acks.db") as (url, proc, _startup),
        bare_bolt(slack) as bare_url,
    ):
        register_agents(url, slack, AGENTS)
        warm = [command_body(slack, "/c2c", "help", user_id(0), n) for n in range(300)]
        await paced(url, warm, rate)
        await paced(bare_url, warm, rate)
        kaleyra.set_latency(latency)
        load = loadavg()
        cpu_before = cpu_seconds(proc.pid)
        for r in range(rounds):
            first = r * requests
            bodies = [
                command_body(
                    slack,
                    "/c2c",
                    customer_number(first + n),
                    user_id((first + n) % AGENTS),
                    20_000 + first + n,
                )
                for n in range(requests)
            ]
            bare = (await paced(bare_url, bodies, rate)).summary()
            ours = (await paced(url, bodies, rate)).summary()
            rows += [(f"round {r + 1}: bare AsyncApp ack-only", bare)]
            rows += [(f"round {r + 1}: voicebot /c2c dials", ours)]
            ratios.append(ours["p99"] / bare["p99"])
            bot_p99.append(ours["p99"])
        cpu = cpu_seconds(proc.pid) - cpu_before
    print(
        f"\n## Paced acks: {requests} signed /c2c at {rate:.0f}/s, Kaleyra {latency:.1f} s a"
        f" request, {rounds} rounds (load average before: {load})\n"
    )
    print(ack_table(rows))
    print()
    print(
        table(
            [
                "round",
                "voicebot p99 ms",
                "p99 ratio voicebot / bare",
                "targets (p99 < 50 ms, ≤ 1.5x)",
            ],
            [
                (
                    r + 1,
                    bot_p99[r],
                    f"{ratios[r]:.2f}x",
                    "met" if bot_p99[r] < 50 and ratios[r] <= 1.5 else "not met",
                )
                for r in range(rounds)
            ],
        )
    )
    print(f"\nvoicebot CPU over the rounds: {cpu:.2f} s for {rounds * requests} dials")
    return {"p99": pct(bot_p99, 50), "ratio": pct(ratios, 50)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    run(main(args.requests, args.rate, args.latency, args.rounds))
