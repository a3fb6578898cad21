"""Time to ring (issue 14 target 1): how soon each agent's click-to-call reaches Kaleyra.

A burst of 100 signed `/c2c <customer>` from 100 agents at 50 a second (open loop) while Kaleyra
takes 2 s a request. For each command: the time from its send to its `dial.click2call` arriving
at the sandbox (stamped on arrival by bench/stamped_sandbox.py, same monotonic clock).
Target: p99 under 1 s.

Run: .venv/bin/python bench/ring.py [--agents 100] [--rate 50] [--latency 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from support import (
    ack_table,
    command_body,
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
    wait_until,
)


async def main(agents: int, rate: float, latency: float) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        sandbox(latency=0.0) as kaleyra,
        fake_slack() as slack,
        voicebot(kaleyra, slack, Path(tmp) / "ring.db") as (url, _proc, _startup),
    ):
        register_agents(url, slack, agents)
        warm = [command_body(slack, "/c2c", "help", user_id(0), n) for n in range(100)]
        await paced(url, warm, 200)
        kaleyra.set_latency(latency)
        bodies = [
            command_body(slack, "/c2c", customer_number(n), user_id(n), 10_000 + n)
            for n in range(agents)
        ]
        load = loadavg()
        run = await paced(url, bodies, rate)
        sent_at = {customer_number(s.index): s.sent for s in run.sent}
        arrived = wait_until(
            lambda: len(kaleyra.stamps("dial.click2call")) >= agents, timeout=60, step=0.2
        )
        stamps = kaleyra.stamps("dial.click2call")
        # let the calls be followed for a moment, so the table says what tracking cost
        time.sleep(1)
    rings = sorted(
        (s["arrived"] - sent_at[s["receiver"]]) * 1000 for s in stamps if s["receiver"] in sent_at
    )
    result = {
        "dials": len(rings),
        "p50": pct(rings, 50),
        "p90": pct(rings, 90),
        "p99": pct(rings, 99),
        "max": max(rings) if rings else float("nan"),
    }
    print(
        f"\n## Time to ring: {agents} /c2c from {agents} agents at {rate:.0f}/s,"
        f" Kaleyra {latency:.1f} s a request (load average before: {load})\n"
    )
    print(
        table(
            ["dials reaching Kaleyra", "p50 ms", "p90 ms", "p99 ms", "max ms", "target p99"],
            [
                (
                    f"{len(rings)} of {agents}" + ("" if arrived else " (timed out)"),
                    result["p50"],
                    result["p90"],
                    result["p99"],
                    result["max"],
                    "under 1000 ms: " + ("met" if result["p99"] < 1000 else "not met"),
                )
            ],
        )
    )
    print()
    print(ack_table([("the same commands' acks", run.summary())]))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--latency", type=float, default=2.0)
    args = parser.parse_args()
    run(main(args.agents, args.rate, args.latency))
