"""The unchanged targets (issue 14 target 4): no starvation, bulk OBD, memory, start-up.

- `/voicehealth` acks (closed loop, 20 at a time) idle, then while 20 broadcasts of 1,000 numbers
  run with Kaleyra at 2 s a request: p99 under 50 ms;
- a broadcast of 10,000 numbers, Kaleyra at 200 ms a request: from the Start click to the last
  chunk answered, within 1.1x of ideal (50 requests, 4 in flight: 13 rounds of 0.2 s), every number
  sent exactly once;
- RSS idle under 100 MB and after the bulk job under 150 MB; start-up under 1.5 s.

Broadcasts are driven as a user would: `/obd …`, then the primary button of the confirmation the
bot posts (read back from the fake Slack), so the bench does not depend on how jobs are stored.
Run: .venv/bin/python bench/workloads.py
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import Any

from support import (
    ADMIN,
    Slack,
    ack_table,
    action_body,
    closed,
    command_body,
    fake_slack,
    loadavg,
    post,
    rss_mb,
    run,
    sandbox,
    table,
    voicebot,
    wait_until,
)


def buttons(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if node.get("type") == "button" else []
        return found + [b for v in node.values() for b in buttons(v)]
    if isinstance(node, list):
        return [b for v in node for b in buttons(v)]
    return []


def confirmation(slack: Slack, ident: str, since: int) -> dict[str, Any] | None:
    """The Start button of the confirmation posted for command `ident`, once it is there."""
    for call in reversed(slack.calls("response_url", since=since)):
        if call["payload"].get("_response_url") != ident:
            continue
        primary = [b for b in buttons(call["payload"]) if b.get("style") == "primary"]
        if primary:
            return primary[0]
    return None


def start_broadcast(url: str, slack: Slack, numbers: list[str], n: int) -> float:
    """Plan a broadcast with /obd, click Start; returns when the click went (monotonic)."""
    since = slack.count()
    text = ", ".join(numbers) + " play 123.sound"
    assert post(url, command_body(slack, "/obd", text, ADMIN, n)).status_code == 200
    button: dict[str, Any] | None = None

    def posted() -> bool:
        nonlocal button
        button = confirmation(slack, str(n), since)
        return button is not None

    assert wait_until(posted, timeout=60, step=0.02), "no confirmation was posted"
    assert button is not None
    clicked = time.monotonic()
    assert post(url, action_body(slack, ADMIN, button, n)).status_code == 200
    return clicked


def voicehealth_bodies(slack: Slack, count: int, first: int) -> list[str]:
    return [command_body(slack, "/voicehealth", "", "U1", first + n) for n in range(count)]


async def main() -> None:
    rows: list[tuple[str, dict[str, float]]] = []
    load = loadavg()
    with tempfile.TemporaryDirectory() as tmp, fake_slack() as slack:
        # --- start-up and idle memory
        with (
            sandbox() as kaleyra,
            voicebot(kaleyra, slack, Path(tmp) / "a.db") as (_, proc, startup),
        ):
            time.sleep(1)
            idle = rss_mb(proc.pid)

        # --- no starvation: /voicehealth acks while 20 broadcasts of 1000 numbers run
        with sandbox() as kaleyra, voicebot(kaleyra, slack, Path(tmp) / "b.db") as (url, proc, _):
            await closed(url, voicehealth_bodies(slack, 200, 0), 20)
            rows.append(
                (
                    "/voicehealth acks, idle",
                    (await closed(url, voicehealth_bodies(slack, 2000, 1000), 20)).summary(),
                )
            )
            kaleyra.set_latency(2.0)
            for j in range(20):
                numbers = [str(9100000000 + j * 1000 + i) for i in range(1000)]
                start_broadcast(url, slack, numbers, 10_000 + j)
            busy = await closed(url, voicehealth_bodies(slack, 2000, 20_000), 20)
            chunks = len(kaleyra.stamps("voice.call"))
            rows.append(
                (
                    f"/voicehealth acks, 20 broadcasts running ({chunks} chunks sent meanwhile)",
                    busy.summary(),
                )
            )

        # --- bulk OBD: 10 000 numbers, 200 ms a request
        with (
            sandbox(latency=0.2) as kaleyra,
            voicebot(kaleyra, slack, Path(tmp) / "c.db") as (url, proc, _),
        ):
            numbers = [str(9100000000 + i) for i in range(10_000)]
            clicked = start_broadcast(url, slack, numbers, 1)

            def all_sent() -> bool:
                stamps = kaleyra.stamps("voice.call")
                answered = [s for s in stamps if s["done"] is not None]
                return sum(s["numbers"] for s in answered) >= len(numbers)

            wait_until(all_sent, timeout=120, step=0.02)
            stamps = kaleyra.stamps("voice.call")
            wall = max(s["done"] or 0.0 for s in stamps) - clicked
            sent = [r for r in kaleyra.requests() if r["operation"] == "voice.call"]
            called = [n for r in sent for n in r["form"]["numbers"].split(",")]
            time.sleep(0.5)
            after_bulk = rss_mb(proc.pid)
    requests, concurrency = math.ceil(10_000 / 200), 4
    ideal = math.ceil(requests / concurrency) * 0.2
    print(f"\n## No starvation: /voicehealth acks, 20 at a time (load average before: {load})\n")
    print(ack_table(rows))
    p99 = rows[1][1]["p99"]
    print(
        f"\np99 with 20 broadcasts running: {p99:.1f} ms; target under 50 ms: {'met' if p99 < 50 else 'not met'}"
    )
    print("\n## Bulk OBD: 10,000 numbers, Kaleyra 200 ms a request\n")
    ratio = wall / ideal
    print(
        table(
            [
                "requests",
                "in flight",
                "ideal s",
                "click to last chunk s",
                "ratio",
                "numbers sent",
                "distinct",
                "target 1.1x",
            ],
            [
                (
                    len(sent),
                    concurrency,
                    f"{ideal:.2f}",
                    f"{wall:.2f}",
                    f"{ratio:.2f}x",
                    len(called),
                    len(set(called)),
                    "met" if ratio <= 1.1 else "not met",
                )
            ],
        )
    )
    print("\n## Memory and start-up\n")
    print(
        table(
            [
                "RSS idle MB",
                "RSS after bulk MB",
                "start-up to 200 on /healthz s",
                "targets (100 MB, 150 MB, 1.5 s)",
            ],
            [
                (
                    f"{idle:.0f}",
                    f"{after_bulk:.0f}",
                    f"{startup:.2f}",
                    "met" if idle < 100 and after_bulk < 150 and startup < 1.5 else "not met",
                )
            ],
        )
    )


if __name__ == "__main__":
    run(main())
