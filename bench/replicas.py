"""Paced acks through a load balancer (issue 19): two `voicebot serve` replicas on one PostgreSQL
database behind HAProxy, beside two bare Bolt apps behind the same kind of HAProxy.

The load is bench/acks.py's (signed `/c2c <customer>` at 200 a second, open loop, Kaleyra at 2 s a
request, a new customer of one of 100 agents each, so every one really dials). HAProxy's settings
are deploy/haproxy.cfg's (HTTP mode, round robin per request, the same timeouts and health check
on /healthz), with loopback addresses; both sides pay the same proxy hop. Afterwards: every dial
reached Kaleyra exactly once, and both replicas served requests.

Needs HAProxy (`apt-get install haproxy`) and PostgreSQL: BENCH_DATABASE_URL names an empty
database, or a fresh one is made on postgresql://postgres@127.0.0.1:5432 and dropped after.
Run: .venv/bin/python bench/replicas.py [--requests 500] [--rate 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
from support import (
    ROOT,
    ack_table,
    bare_bolt,
    command_body,
    cpu_seconds,
    customer_number,
    fake_slack,
    free_port,
    loadavg,
    paced,
    process,
    register_agents,
    run,
    sandbox,
    table,
    user_id,
    voicebot,
    wait_until,
)

AGENTS = 100
SERVER = "postgresql://postgres@127.0.0.1:5432"


@contextmanager
def database() -> Iterator[str]:
    """BENCH_DATABASE_URL, or a fresh database dropped afterwards."""
    if "BENCH_DATABASE_URL" in os.environ:
        yield os.environ["BENCH_DATABASE_URL"]
        return
    import psycopg

    name = f"voicebot_bench_{secrets.token_hex(4)}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{SERVER}/{name}"
    finally:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def haproxy_config(port: int, backends: list[str]) -> str:
    """deploy/haproxy.cfg with loopback addresses (no Docker resolver, no logging)."""
    deployed = (ROOT / "deploy" / "haproxy.cfg").read_text()
    defaults = deployed.split("defaults", 1)[1].split("resolvers", 1)[0]
    defaults = "\n".join(line for line in defaults.splitlines() if "log" not in line)
    servers = "\n".join(
        f"    server s{i} {url.removeprefix('http://')}" for i, url in enumerate(backends)
    )
    return (
        "global\n    maxconn 4096\n\ndefaults"
        + defaults
        + f"\nfrontend front\n    bind 127.0.0.1:{port}\n    default_backend back\n\n"
        "backend back\n    balance roundrobin\n    option httpchk\n"
        "    http-check send meth GET uri /healthz\n    http-check expect status 200\n"
        "    default-server check inter 2s fall 2 rise 2\n" + servers + "\n"
    )


@contextmanager
def haproxy(backends: list[str]) -> Iterator[str]:
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as cfg:
        cfg.write(haproxy_config(port, backends))
    try:
        with process(["haproxy", "-f", cfg.name, "-db"], health=f"http://127.0.0.1:{port}/healthz"):
            yield f"http://127.0.0.1:{port}"
    finally:
        os.unlink(cfg.name)


def served(url: str) -> int:
    """Slash commands this replica handled (its /metrics)."""
    text = httpx.get(url + "/metrics", timeout=5).text
    found = re.findall(
        r'voicebot_commands_total\{name="/c2c",outcome="[a-z_]+"\} ([0-9.e+]+)', text
    )
    return int(sum(float(n) for n in found))


async def main(requests: int, rate: float, latency: float, rounds: int) -> dict[str, float]:
    rows: list[tuple[str, dict[str, float]]] = []
    ratios: list[float] = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = stack.enter_context(database())
        kaleyra = stack.enter_context(sandbox(latency=0.0))
        slack = stack.enter_context(fake_slack())
        bots = [
            stack.enter_context(voicebot(kaleyra, slack, tmp / f"r{i}.db", DATABASE_URL=url))
            for i in range(2)
        ]
        bare = [stack.enter_context(bare_bolt(slack)) for _ in range(2)]
        front = stack.enter_context(haproxy([b[0] for b in bots]))
        bare_front = stack.enter_context(haproxy(bare))
        register_agents(front, slack, AGENTS)  # through the balancer: both replicas see them
        warm = [command_body(slack, "/c2c", "help", user_id(0), n) for n in range(300)]
        await paced(front, warm, rate)
        await paced(bare_front, warm, rate)
        kaleyra.set_latency(latency)
        load = loadavg()
        cpu_before = [cpu_seconds(proc.pid) for _, proc, _ in bots]
        served_before = [served(b[0]) for b in bots]
        dials_before = len(kaleyra.stamps("dial.click2call"))
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
            theirs = (await paced(bare_front, bodies, rate)).summary()
            ours = (await paced(front, bodies, rate)).summary()
            rows += [(f"round {r + 1}: 2 bare AsyncApps behind HAProxy", theirs)]
            rows += [(f"round {r + 1}: 2 voicebot replicas behind HAProxy", ours)]
            ratios.append(ours["p99"] / theirs["p99"])
        expected = rounds * requests
        wait_until(
            lambda: len(kaleyra.stamps("dial.click2call")) - dials_before >= expected,
            timeout=60,
            step=0.5,
        )
        time.sleep(latency + 1)  # a dial sent twice would arrive by now
        placed = len(kaleyra.stamps("dial.click2call")) - dials_before
        cpu = [
            cpu_seconds(proc.pid) - before
            for (_, proc, _), before in zip(bots, cpu_before, strict=True)
        ]
        shares = [served(b[0]) - before for b, before in zip(bots, served_before, strict=True)]
    print(
        f"\n## Paced acks through HAProxy: {requests} signed /c2c at {rate:.0f}/s, Kaleyra"
        f" {latency:.1f} s a request, {rounds} rounds, 2 replicas on one PostgreSQL database"
        f" (load average before: {load})\n"
    )
    print(ack_table(rows))
    print()
    print(
        table(
            ["round", "p99 ratio replicas / bare"],
            [(r + 1, f"{ratios[r]:.2f}x") for r in range(rounds)],
        )
    )
    print(
        f"\ndials reaching Kaleyra: {placed} for {expected} commands"
        f" ({'each once' if placed == expected else 'NOT each once'});"
        f" commands served per replica: {shares[0]} and {shares[1]};"
        f" CPU per replica: {cpu[0]:.2f} s and {cpu[1]:.2f} s"
    )
    return {"ratio": sorted(ratios)[len(ratios) // 2], "placed_once": float(placed == expected)}


if __name__ == "__main__":
    if shutil.which("haproxy") is None:
        sys.exit("bench/replicas.py needs HAProxy: apt-get install haproxy (Debian) and rerun")
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    run(main(args.requests, args.rate, args.latency, args.rounds))
