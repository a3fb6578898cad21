"""The image's way of running, without a container engine: the built wheel in a clean venv."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_wheel_in_a_clean_venv_serves_healthz(tmp_path: Path) -> None:
    dist, venv = tmp_path / "dist", tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True,
        timeout=300,
    )
    [wheel] = dist.glob("voicebot-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True, timeout=600
    )

    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "KALEYRA_", "VIRTUAL_ENV"))
    }
    env.update(
        PORT=str(port),
        DATABASE_PATH=str(tmp_path / "data" / "voicebot.db"),
        LOG_FORMAT="json",
        SLACK_BOT_TOKEN="xoxb-deploy-test",
        SLACK_SIGNING_SECRET="deploy-secret",
        SLACK_API_URL="http://127.0.0.1:9/api/",
    )
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(venv / "bin" / "voicebot"), "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        health = None
        while time.monotonic() - started < 30:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        assert health is not None and health.status_code == 200, (
            proc.stderr.read() if proc.poll() else "no answer"
        )
        assert health.json()["status"] == "ok" and health.json()["kaleyra"] == "sandbox"
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert metrics.status_code == 200 and "voicebot_kaleyra_requests_total" in metrics.text
        assert (tmp_path / "data" / "voicebot.db").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells the truth.
    assert proc.returncode in (0, -signal.SIGTERM) and "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and all(json.loads(line)["level"] for line in lines)  # one JSON object a line
    assert "deploy-secret" not in stderr and "xoxb-deploy-test" not in stderr
