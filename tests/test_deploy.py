"""The image's way of running, without a container engine: the built wheel in a clean venv."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import sysconfig
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
    # The wheel alone goes into a new venv (what the image installs); its dependencies are
    # this environment's, already installed, seen through a .pth file after the venv's own
    # packages, so `bot` is the wheel's copy, not the checkout. `pip check` then proves the
    # wheel's declared requirements are what it runs with: downloading them again would add
    # 20 s and prove nothing more.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    subprocess.run([*pip, "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300)
    [site] = (venv / "lib").glob("python3*/site-packages")
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([*pip, "check"], check=True, timeout=120)
    where = subprocess.run(
        [str(python), "-c", "import bot; print(bot.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(site))  # the wheel's package, with its data files, runs below

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
