"""`make bench`: every benchmark in turn, each bounded and stopping by itself; tables to stdout.

Each runs as its own process with a time limit (it is killed past it, and the run goes on); the
output is printed as it comes and also written to bench/last_run.md. Everything listens on
127.0.0.1 only. The machine has two cores: run this when nothing else is running, and read the
load average each section prints.

Run: .venv/bin/python bench/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

FULL = [
    ("time to ring", ["ring.py"], 240),
    ("paced acks beside the bare Bolt app", ["acks.py", "--rounds", "3"], 300),
    ("two replicas behind HAProxy (PostgreSQL)", ["replicas.py", "--rounds", "3"], 400),
    ("a year of data", ["year.py"], 1200),
    ("no starvation, bulk OBD, memory, start-up", ["workloads.py"], 400),
    ("CPU per ack, in-process", ["ack_cpu.py", "--requests", "2000"], 300),
    ("a 100,000-number campaign from a CSV", ["campaign.py"], 900),
]
QUICK = [
    ("time to ring", ["ring.py", "--agents", "40", "--rate", "40"], 180),
    ("paced acks beside the bare Bolt app", ["acks.py", "--rounds", "1", "--requests", "200"], 180),
    ("two replicas behind HAProxy", ["replicas.py", "--rounds", "1", "--requests", "200"], 240),
    ("a year of data", ["year.py", "--sizes", "10000,100000", "--runs", "30"], 600),
    ("CPU per ack, in-process", ["ack_cpu.py", "--requests", "500"], 180),
    ("a 20,000-number campaign", ["campaign.py", "--numbers", "20000", "--runs", "unpaced"], 300),
]


def bounded(args: list[str], limit: float) -> tuple[int, str]:
    """Run one benchmark in a process group of its own; past `limit` it gets SIGINT (its
    `with` blocks stop what it started), then the whole group SIGKILL: nothing outlives it."""
    proc = subprocess.Popen(
        args,
        cwd=BENCH.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            out, err = "", ""
        out += f"\n(stopped after {limit:.0f} s)\n"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything it left behind
        proc.wait()
    if proc.returncode:
        out += f"\n(exit {proc.returncode})\n{err[-2000:]}"
    return proc.returncode, out


def main(quick: bool) -> int:
    out = [f"# Benchmark run {time.strftime('%Y-%m-%d %H:%M:%S')}\n"]
    failed = 0
    for title, args, limit in QUICK if quick else FULL:
        print(f"\n=== {title} ({' '.join(args)}, at most {limit} s)", flush=True)
        started = time.monotonic()
        code, text = bounded([sys.executable, str(BENCH / args[0]), *args[1:]], limit)
        failed += code != 0
        print(text, flush=True)
        out.append(f"\n## {title} ({time.monotonic() - started:.0f} s)\n{text}")
    (BENCH / "last_run.md").write_text("".join(out))
    print(f"\nwritten to {BENCH / 'last_run.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller loads, about 5 minutes")
    sys.exit(main(parser.parse_args().quick))
