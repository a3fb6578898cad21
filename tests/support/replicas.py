"""Several real `voicebot serve` processes on loopback, for tests of what replicas share.

Each replica is `python -m bot.cli serve` in its own working directory (so no `.env` is read),
on an ephemeral port, with the environment a deployment would give it: one `DATABASE_URL`, Slack
pointing at the test process's recording fake Slack, Kaleyra at the test process's sandbox. Tests
send Slack-signed requests to the replica they choose, kill one with SIGKILL, and read what
Slack and Kaleyra saw in the test process, where both are recorded.

    fake = shared_hosts()[0].fresh()
    with Replicas(tmp_path, database_url=url, slack=fake, sandbox=sandbox) as replicas:
        replicas.start(2)
        replicas.register(AGENT, "9876543210", via=0)
        replicas[0].driver.block_action(...); replicas[1].driver.block_action(...)
        replicas.kill(0)
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.local.fakeslack import FakeSlack, SlackCall, SlackDriver
from bot.local.serverthread import free_port
from tests.support.harness import ADMIN, AGENT, SIGNING_SECRET, VERIFICATION_CODE, text_of
from tests.support.sandbox import RunningSandbox

BOT_TOKEN = "xoxb-replica-test"
KALEYRA_KEY = "test-key"
# What a deployment's environment sets; anything of these in the test's own environment is dropped.
_OWN = ("SLACK_", "KALEYRA_", "DATABASE_", "VIRTUAL_ENV", "PORT", "SCHEDULER_", "ADMIN_USER_IDS")
_READ_OUT = re.compile(r"would read out: (\d{6})")


@dataclass
class Replica:
    """One `voicebot serve` process."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    driver: SlackDriver  # Slack-signed requests to this replica

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def healthz(self, timeout: float = 2.0) -> httpx.Response:
        return self.driver.http.get(f"{self.url}/healthz", timeout=timeout)

    def command(self, command: str, text: str = "", **kw: Any) -> httpx.Response:
        return self.driver.command(command, text, **kw)

    def kill(self) -> int:
        """SIGKILL: nothing of the process's own clean-up runs, as when a pod is lost."""
        if self.alive:
            self.process.send_signal(signal.SIGKILL)
        return self.process.wait(timeout=30)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM (a graceful shutdown), then SIGKILL if it has not ended within `timeout`."""
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Replicas:
    """N replicas of voicebot on one database; a context manager that always cleans up."""

    def __init__(
        self,
        workdir: Path,
        *,
        database_url: str,
        slack: FakeSlack,
        sandbox: RunningSandbox | None = None,
        env: Mapping[str, str] | None = None,
        signing_secret: str = SIGNING_SECRET,
        start_timeout: float = 60.0,
    ) -> None:
        self.workdir = workdir
        self.database_url = database_url
        self.slack = slack
        self.sandbox = sandbox
        self.extra_env = dict(env or {})
        self.signing_secret = signing_secret
        self.start_timeout = start_timeout
        self.replicas: list[Replica] = []

    def environment(self, port: int) -> dict[str, str]:
        """What one replica is started with (also what deploy/compose.yaml gives each)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN)}
        env.update(
            PORT=str(port),
            DATABASE_URL=self.database_url,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=self.signing_secret,
            SLACK_API_URL=self.slack.base_url + "/api/",
            ADMIN_USER_IDS=ADMIN,
            LOG_FORMAT="json",
        )
        if self.database_url.startswith("sqlite:///"):
            # Settings that predate DATABASE_URL read the file from DATABASE_PATH.
            env["DATABASE_PATH"] = self.database_url.removeprefix("sqlite:///")
        if self.sandbox is not None:
            env.update(
                KALEYRA_API_KEY=KALEYRA_KEY,
                KALEYRA_VOICE_URL=self.sandbox.voice_url,
                KALEYRA_IO_URL=self.sandbox.url + "/v1/",
            )
        env.update(self.extra_env)
        return env

    def start(self, count: int = 2, **env: str) -> list[Replica]:
        """Start `count` more replicas (`env` on top of the shared environment) and wait until
        each answers /healthz with 200. Started together, so they race for start-up locks as a
        deployment's replicas do."""
        started = [self._spawn(env) for _ in range(count)]
        deadline = time.monotonic() + self.start_timeout
        for replica in started:
            self.wait_ready(replica, deadline)
        return started

    def _spawn(self, env: Mapping[str, str]) -> Replica:
        name = f"replica-{len(self.replicas)}"
        home = self.workdir / name
        home.mkdir(parents=True, exist_ok=True)
        port = free_port()
        log_path = home / "serve.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve"],
                env={**self.environment(port), **env},
                cwd=home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        replica = Replica(
            name,
            port,
            process,
            log_path,
            SlackDriver(f"http://127.0.0.1:{port}", self.signing_secret, self.slack.base_url),
        )
        self.replicas.append(replica)
        return replica

    def wait_ready(self, replica: Replica, deadline: float) -> None:
        while True:
            if not replica.alive:
                raise RuntimeError(
                    f"{replica.name} exited with {replica.process.returncode}:\n{replica.log()}"
                )
            try:
                if replica.healthz(timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{replica.name} never answered /healthz:\n{replica.log()}")
            time.sleep(0.05)  # a process starting up: nothing to wait on but its port

    def __getitem__(self, index: int) -> Replica:
        return self.replicas[index]

    def __len__(self) -> int:
        return len(self.replicas)

    def __iter__(self) -> Iterator[Replica]:
        return iter(self.replicas)

    def command(self, index: int, command: str, text: str = "", **kw: Any) -> httpx.Response:
        return self.replicas[index].command(command, text, **kw)

    def kill(self, index: int) -> int:
        return self.replicas[index].kill()

    def wait_for_slack(
        self,
        method: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda _payload: True,
        *,
        timeout: float = 15.0,
        since: int = 0,
    ) -> dict[str, Any]:
        """The first call of `method` (a Web API method or "response_url") from the `since`-th
        recorded call on that matches; waits for it (no polling) up to `timeout` seconds."""
        found: list[dict[str, Any]] = []
        arrived = threading.Event()

        def listen(call: SlackCall) -> None:
            if call.method == method and predicate(call.payload):
                found.append(call.payload)
                arrived.set()

        self.slack.listeners.append(listen)
        try:
            with self.slack.lock:
                earlier = [
                    c.payload
                    for c in self.slack.calls[since:]
                    if c.method == method and predicate(c.payload)
                ]
            if earlier:
                return earlier[0]
            if not arrived.wait(timeout):
                raise TimeoutError(f"no {method} matching within {timeout} s")
            return found[0]
        finally:
            self.slack.listeners.remove(listen)

    def register(self, user_id: str = AGENT, number: str = "9876543210", *, via: int = 0) -> None:
        """Register and verify `number` for `user_id` through replica `via`, as a person does:
        `/c2c register`, the sandbox's verification call reads out a code, `/c2c verify <code>`.
        The verification call is taken out of the sandbox's record."""
        if self.sandbox is None:
            raise RuntimeError("register needs the sandbox: Replicas(..., sandbox=...)")
        state = self.sandbox.state
        codes: list[str] = []
        read_out = threading.Event()

        def listen(notice: str) -> None:
            match = _READ_OUT.search(notice)
            if match:
                codes.append(match.group(1))
                read_out.set()

        seen = len(state.recorded())
        state.listeners.append(listen)
        try:
            answer = self.command(via, "/c2c", f"register {number}", user_id=user_id)
            assert answer.status_code == 200, answer.text
            if "already calls from" in text_of(answer.json()):
                return
            if not read_out.wait(15):
                raise TimeoutError(f"no verification call: {text_of(answer.json())}")
        finally:
            state.listeners.remove(listen)
        with state.lock:
            for request in state.requests[seen:]:
                if VERIFICATION_CODE.search(
                    request.form.get("message") or request.form.get("target") or ""
                ):
                    state.requests.remove(request)
                    break
        verified = self.command(via, "/c2c", f"verify {codes[-1]}", user_id=user_id)
        assert "Verified" in text_of(verified.json()), text_of(verified.json())

    def close(self) -> None:
        for replica in self.replicas:
            replica.stop()
            replica.driver.close()

    def __enter__(self) -> Replicas:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
