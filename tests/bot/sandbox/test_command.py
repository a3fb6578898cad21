"""`voicebot sandbox` on its own: it serves, and prints what a verification call would read out."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from pathlib import Path

import httpx


def lines_of(stream) -> queue.Queue[str]:
    """The stream's lines as they come, so a test waits for one with a timeout."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x.strip()) for x in stream], daemon=True).start()
    return lines


def test_standalone_sandbox_takes_incoming_calls_and_prints_codes(tmp_path: Path) -> None:
    voicebot = Path(sys.executable).with_name("voicebot")
    proc = subprocess.Popen(
        [str(voicebot), "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        printed = lines_of(proc.stdout)
        first = printed.get(timeout=20)
        assert first.startswith("listening on http://127.0.0.1:")
        url = first.removeprefix("listening on ")
        seeded = httpx.post(
            f"{url}/_sandbox/incoming",
            json={"caller": "9812345678", "agent": "9876543210", "outcome": "missed"},
        )
        assert seeded.status_code == 200
        rows = httpx.post(
            f"{url}/v1/", data={"method": "dial", "format": "xml"}, headers={"x-api-key": "k"}
        )
        assert f"<id>{seeded.json()['id']}</id>" in rows.text
        httpx.post(
            f"{url}/v1/",
            data={
                "method": "voice.call",
                "numbers": "9876543210",
                "message": "Your voicebot code is 3 1 4 1 5 9. Again, your code is 3 1 4 1 5 9.",
            },
            headers={"x-api-key": "k"},
        )
        assert printed.get(timeout=10) == (
            "the verification call would read out: 314159 (to 98******10)"
        )
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
