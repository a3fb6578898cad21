"""The edge, over the wire: foreign numbers, unauthenticated and malformed requests, long text,
SQLite locks and a full disk, what logs keep, metrics labels, where the bot token may go, and
`voicebot serve` without a signing secret (issue 12, items 1, 10-14)."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import os
import select
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import bot as bot_package
import handlers.c2c as handlers_c2c
from bot.local.serverthread import ServerThread, free_port
from bot.runtime.logs import configure_logging
from bot.sandbox import Fault
from bot.slack.files import allowed, download
from tests.support.harness import ADMIN, AGENT, OTHER, SIGNING_SECRET, text_of

FORM = "application/x-www-form-urlencoded"
UK = "+44 20 7946 0958 is a United Kingdom number; the Voice API calls only India numbers (+91)"
US = "+1 201-555-0123 is a United States number; the Voice API calls only India numbers (+91)"


def said(response: httpx.Response) -> str:
    return text_of(response.json()) if response.content else ""


def sign(body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 signature over the raw bytes (slack_sdk's generator only takes UTF-8)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(
        SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256
    ).hexdigest()
    return {"x-slack-request-timestamp": ts, "x-slack-signature": f"v0={digest}"}


def post(bot, body: bytes | str, headers: dict[str, str], **kw) -> httpx.Response:
    response = httpx.post(
        f"{bot.app_server.url}/slack/events", content=body, headers=headers, timeout=30, **kw
    )
    bot.settle()
    return response


def replays(bot):
    """The replay memory of the app mounted for this test."""
    return bot.app_server.switch.target.state.replays


# ============================================================== item 1: foreign numbers


@pytest.mark.parametrize(
    ("typed", "country"),
    [
        ("+44 20 7946 0958", UK),
        ("+442079460958", UK),
        ("0044 20 7946 0958", UK),  # the international prefix dialled from India
        ("+1 201-555-0123", US),
        ("+971 50 123 4567", "is a United Arab Emirates number"),
    ],
)
def test_c2c_to_a_foreign_number_is_refused_by_name_and_nothing_is_dialled(
    bot, typed: str, country: str
) -> None:
    bot.register()
    bot.sandbox.state.clear_requests()
    text = said(bot.command("/c2c", typed))
    assert country in text
    assert bot.sandbox.state.recorded() == []  # old code sent receiver=2079460958, a Pune line


def test_c2c_with_a_foreign_first_leg_is_refused_by_name(bot) -> None:
    text = said(bot.command("/c2c", "+44 20 7946 0958 9123456789", user_id=ADMIN))
    assert UK in text
    assert bot.sandbox.state.recorded() == []


async def test_blacklist_add_of_a_foreign_number_is_refused_by_name(bot) -> None:
    text = said(bot.command("/blacklist", "add +1 201-555-0123"))
    assert US in text and "Nothing was done" in text
    assert bot.sandbox.state.recorded() == []  # no `block` of 2015550123
    assert await bot.deps.store.blacklisted() == set()


def test_blacklist_add_names_the_foreign_one_among_good_ones(bot) -> None:
    text = said(bot.command("/blacklist", "add 9876543210, +44 20 7946 0958", user_id=ADMIN))
    assert "#2 " + UK in text
    assert bot.sandbox.state.recorded() == []


def test_followup_for_a_foreign_number_is_refused(bot) -> None:
    bot.register()
    bot.sandbox.state.clear_requests()
    text = said(bot.command("/followup", "add +44 20 7946 0958 2026-11-24 10:00 John"))
    if not text:
        text = text_of(bot.replies()[-1])
    assert "United Kingdom number" in text
    assert bot.sandbox.state.recorded("followup") == []


# ============================================================== item 10: unauthenticated input


def test_a_forged_request_carrying_a_real_signature_does_not_block_the_real_one(bot) -> None:
    """Old code remembered every signature before checking it: whoever saw a signature (or
    guessed none at all, but raced Slack) could have Slack's own request dropped as a replay."""
    bot.register()
    bot.sandbox.state.clear_requests()
    body = bot.slack.command_body("/c2c", "9123456789")
    headers = {"content-type": FORM, **sign(body.encode())}
    forged = post(bot, body.replace("9123456789", "9123456780"), headers)
    genuine = post(bot, body, headers)
    assert forged.status_code == 401
    assert genuine.status_code == 200 and "Dialling" in said(genuine)
    [sent] = bot.sandbox.state.recorded("dial.click2call")
    assert sent.form["receiver"] == "9123456789"


def test_unsigned_requests_with_huge_signatures_leave_nothing_behind(bot) -> None:
    body = bot.slack.command_body("/c2c", "help")
    statuses = set()
    with httpx.Client(timeout=30) as http:
        for n in range(300):
            headers = {
                "content-type": FORM,
                "x-slack-request-timestamp": str(int(time.time())),
                "x-slack-signature": "v0=" + f"{n:08x}" * (64 * 1024 // 8),
            }
            statuses.add(
                http.post(
                    f"{bot.app_server.url}/slack/events", content=body, headers=headers
                ).status_code
            )
    assert statuses <= {400, 401, 431}  # refused (uvicorn may refuse the header itself)
    assert len(replays(bot)) == 0
    assert bot.fake.calls == [] and bot.sandbox.state.recorded() == []
    assert httpx.get(f"{bot.app_server.url}/healthz").status_code == 200


MALFORMED = [
    ("signature not hex", {"x-slack-signature": "v0=" + "g" * 64}),
    ("signature short", {"x-slack-signature": "v0=abc"}),
    ("signature other version", {"x-slack-signature": "v1=" + "a" * 64}),
    ("signature upper case", None),
    ("timestamp not a number", {"x-slack-request-timestamp": "soon"}),
    ("timestamp float", {"x-slack-request-timestamp": "1.7e9"}),
    ("timestamp negative", {"x-slack-request-timestamp": "-1"}),
    ("timestamp huge", {"x-slack-request-timestamp": "9" * 40}),
    ("no timestamp", {"x-slack-request-timestamp": None}),
]


@pytest.mark.parametrize(("case", "change"), MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_malformed_signature_headers_are_401_and_remembered_nowhere(
    bot, case: str, change: dict | None
) -> None:
    body = bot.slack.command_body("/c2c", "register 9876543210")
    headers = {"content-type": FORM, **sign(body.encode())}
    if change is None:
        headers["x-slack-signature"] = headers["x-slack-signature"].upper()
    else:
        for key, value in change.items():
            if value is None:
                headers.pop(key)
            else:
                headers[key] = value
    response = post(bot, body, headers)
    assert response.status_code == 401, response.text
    assert len(replays(bot)) == 0
    assert await bot.deps.store.get_agent(AGENT) is None and bot.sandbox.state.recorded() == []


def test_a_body_over_one_megabyte_is_413_before_anything_else(bot) -> None:
    body = b"text=" + b"9" * (1024 * 1024 + 1)
    response = post(bot, body, {"content-type": FORM, **sign(body)})
    assert response.status_code == 413
    assert len(replays(bot)) == 0 and bot.fake.calls == []


def test_a_streamed_body_without_length_is_cut_off_at_one_megabyte(bot) -> None:
    """50 MB offered in chunks with no length: the 413 comes back once about 1 MB has arrived,
    while the client is still sending (a server that read it all answered only at 50 MB)."""
    sent, answer = stream_until_answered(bot, total=50 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:80]
    assert sent < 16 * 1024 * 1024, f"{sent:,} bytes were taken before the 413"
    assert len(replays(bot)) == 0 and bot.fake.calls == []
    assert httpx.get(f"{bot.app_server.url}/healthz").status_code == 200


def stream_until_answered(bot, total: int, piece: int = 64 * 1024) -> tuple[int, bytes]:
    """POST `total` bytes chunked, no Content-Length; stop sending once the server answers.
    Returns the bytes of body sent until then and the start of the answer."""
    url = httpx.URL(bot.app_server.url)
    head = (
        f"POST /slack/events HTTP/1.1\r\nHost: {url.host}\r\nContent-Type: {FORM}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = f"{piece:x}\r\n".encode() + b"9" * piece + b"\r\n"
    sent = 0
    with socket.create_connection((url.host, url.port), timeout=10) as sock:
        sock.sendall(head.encode())
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except OSError:  # the server closed while we were sending: read its answer
                break
            sent += piece
        else:
            sock.sendall(b"0\r\n\r\n")
        try:
            answer = sock.recv(4096)
        except OSError:
            answer = b""
    bot.settle()
    return sent, answer


def test_a_body_just_under_the_cap_is_served(bot) -> None:
    body = bot.slack.command_body("/c2c", "help") + "&pad=" + "x" * (1024 * 1024 - 2000)
    response = post(bot, body, {"content-type": FORM, **sign(body.encode())})
    assert response.status_code == 200 and "/c2c" in said(response)


UNDECODABLE = [
    ("not utf-8", b"command=%2Fc2c&text=\xff\xfe\xfa", FORM),
    ("json not json", b"{not json", "application/json"),
    ("json a list", b"[1, 2, 3]", "application/json"),
    ("json a string", b'"hello"', "application/json"),
    ("payload not json", b"payload=%7Bnot", FORM),
    ("payload a list", b"payload=%5B1%5D", FORM),
    ("json nested too deep", b"[" * 200_000 + b"]" * 200_000, "application/json"),
]


@pytest.mark.parametrize(
    ("case", "body", "content_type"), UNDECODABLE, ids=[u[0] for u in UNDECODABLE]
)
def test_signed_but_undecodable_bodies_are_400_never_500(
    bot, case: str, body: bytes, content_type: str
) -> None:
    response = post(bot, body, {"content-type": content_type, **sign(body)})
    assert response.status_code == 400
    assert bot.fake.calls == [] and bot.sandbox.state.recorded() == []


def test_a_command_from_a_channel_named_payload_is_not_read_as_empty(bot) -> None:
    """Bolt reads any form containing the word "payload" as an interactive payload: a command
    typed in #payload-team arrived empty and was answered 404."""
    bot.register()
    bot.sandbox.state.clear_requests()
    body = bot.slack.command_body("/c2c", "9123456789").replace(
        "channel_name=sales", "channel_name=payload-team"
    )
    response = post(bot, body, {"content-type": FORM, **sign(body.encode())})
    assert response.status_code == 200 and "Dialling" in said(response)
    assert len(bot.sandbox.state.recorded("dial.click2call")) == 1


def test_a_callback_with_a_huge_query_is_refused_before_it_is_read(bot, mocker) -> None:
    checked = mocker.spy(bot.deps.c2c, "call_for_token")
    response = httpx.get(
        f"{bot.app_server.url}/kaleyra/callback/1-abc", params={"status1": "A" * 20_000}
    )
    assert response.status_code == 414 and checked.call_count == 0


def test_healthz_and_metrics_are_unaffected_by_the_body_cap(bot) -> None:
    assert httpx.get(f"{bot.app_server.url}/healthz").json()["status"] == "ok"
    assert httpx.get(f"{bot.app_server.url}/metrics").status_code == 200


# ============================================================== item 11: long text


def test_a_12_kb_c2c_is_refused_before_it_is_parsed(bot, mocker) -> None:
    """Parsing 12 KB on the ack path held every other user's ack for about 6 s: text over the
    cap is refused unread, so nothing of it reaches the grammar."""
    bot.register()
    parsed = mocker.spy(handlers_c2c, "parse_c2c")
    answers = [said(bot.slack.command("/c2c", "- " * 6000, user_id=OTHER)) for _ in range(3)]
    assert parsed.call_count == 0
    assert (
        answers
        == [
            ":warning: I could not read that: it is 12,000 characters, and `/c2c` takes at most"
            " 4,000. Nothing was done."
        ]
        * 3
    )
    assert "/c2c" in said(bot.slack.command("/c2c", "help", user_id=AGENT))
    assert parsed.call_count == 1
    assert bot.sandbox.state.recorded("dial.click2call") == []


@pytest.mark.parametrize(
    ("command", "text", "limit"),
    [
        ("/c2c", "9123456789 " * 400, "4,000"),
        ("/blacklist", "add " + "+91 91234 56789, " * 1300, "20,000"),
        ("/followup", "add 8712345678 2026-11-24 10:00 " + "N" * 4000, "4,000"),
        ("/voicehealth", "x" * 5000, "4,000"),
    ],
)
def test_command_text_over_the_cap_is_refused_with_a_clear_message(
    bot, command: str, text: str, limit: str
) -> None:
    reply = said(bot.command(command, text, user_id=ADMIN))
    assert f"`{command}` takes at most {limit}" in reply and "Nothing was done" in reply
    assert bot.sandbox.state.recorded() == []


def test_a_thousand_numbers_to_blacklist_are_still_taken(bot) -> None:
    numbers = ", ".join(f"+91 {9100000000 + i}" for i in range(1000))
    assert len(numbers) > 12_000
    response = bot.slack.command("/blacklist", "add " + numbers, user_id=ADMIN)
    assert response.status_code == 200
    assert "takes at most" not in said(response)


def test_text_under_the_cap_of_dashes_is_answered_quickly_and_briefly(bot) -> None:
    bot.register()
    reply = said(bot.command("/c2c", "- " * 1999))  # quick: parsing is linear (below)
    assert reply and len(reply) < 1000  # the input is not echoed back in full
    assert bot.sandbox.state.recorded("dial.click2call") == []


def test_obd_lists_are_not_capped_and_are_checked_after_the_ack(bot) -> None:
    numbers = ", ".join(str(9100000000 + i) for i in range(1000))  # 12 KB
    ack = said(bot.command("/obd", numbers + " play 123.sound", user_id=ADMIN))
    assert "takes at most" not in ack
    assert "call *1000* numbers" in text_of(bot.replies()[-1])


def test_number_list_parsing_is_linear() -> None:
    from bot.phones import parse_number_list, split_entries

    def timed(n: int) -> float:
        text = "- " * n
        best = float("inf")
        for _ in range(5):  # this thread's CPU time: other work on the machine does not count
            started = time.thread_time()
            split_entries(text)
            parse_number_list(text, "IN")
            best = min(best, time.thread_time() - started)
        return best

    # 40 KB and 160 KB: linear is 4x, quadratic 16x (the old splitter: 12 KB took 6 s, so
    # 160 KB would take about 17 minutes).
    small, large = timed(20_000), timed(80_000)
    assert large < 8 * small + 0.02


# ============================================================== item 12: SQLite locks and a full disk


@pytest.fixture
def write_lock(bot) -> Iterator[sqlite3.Connection]:
    """Another program holding the database's write lock."""
    other = sqlite3.connect(bot.settings.database_path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    yield other
    other.execute("ROLLBACK")
    other.close()


@pytest.mark.sqlite_only  # the SQLite file's own lock and disk
def test_a_held_write_lock_gives_a_clear_answer_at_once_not_a_frozen_bot(bot, write_lock) -> None:
    # A non-admin's removal is refused and audited before the ack: a write on the ack path.
    response = bot.command("/blacklist", "remove 9876543210", user_id=AGENT)
    assert response.status_code == 200  # old code: 10 s, then a 500
    assert said(response) == (
        ":warning: The bot's database is busy (another program is holding a lock on it), so"
        " nothing was saved. Try again in a minute; if it keeps happening, tell an admin."
    )
    assert waits_at_most_ms(bot) == 150  # per statement, then that answer: the ack is not held
    # Reads go on meanwhile (WAL): another user's help is answered while the lock is held.
    assert "/c2c" in said(bot.command("/c2c", "help", user_id=OTHER))
    assert bot.sandbox.state.recorded() == []


def waits_at_most_ms(bot) -> int:
    """How long SQLite waits for another program's lock before the store says it is busy."""
    return bot.deps.store.db.execute("PRAGMA busy_timeout").fetchone()[0]


@pytest.mark.sqlite_only  # the SQLite file's own lock and disk
def test_after_the_lock_is_released_the_same_command_works(bot) -> None:
    other = sqlite3.connect(bot.settings.database_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    assert "busy" in said(bot.command("/blacklist", "remove 9876543210", user_id=AGENT))
    other.execute("ROLLBACK")
    other.close()
    assert "Only admins" in said(bot.command("/blacklist", "remove 9876543210", user_id=AGENT))


@pytest.mark.sqlite_only  # the SQLite file's own lock and disk
async def test_store_writes_under_a_held_lock_fail_fast_and_then_work(bot, write_lock) -> None:
    from bot.store.db import StoreBusy

    with pytest.raises(StoreBusy, match="database is busy"):
        await bot.deps.store.audit(user_id=AGENT, action="test", outcome="x")
    assert waits_at_most_ms(bot) == 150  # old code: a 10 s wait on the event loop
    assert isinstance(StoreBusy(), sqlite3.OperationalError)  # callers catching sqlite still do
    write_lock.execute("ROLLBACK")
    write_lock.execute("BEGIN")  # the fixture's own ROLLBACK at teardown needs a transaction
    await bot.deps.store.audit(user_id=AGENT, action="test", outcome="x")


def test_an_unexpected_failure_in_a_command_is_a_sentence_not_dispatch_failed(bot, mocker) -> None:
    mocker.patch.object(
        bot.deps.blacklist,
        "check_remove",
        side_effect=RuntimeError("boom for 9876543210 with xoxb-test-token"),
    )
    url = f"{bot.app_server.url}/metrics"
    failed_before = _sample(httpx.get(url).text, name="/blacklist", outcome="failed")
    response = bot.command("/blacklist", "remove 9876543210", user_id=AGENT)
    assert response.status_code == 200  # old code: 500, which Slack shows as "dispatch_failed"
    text = said(response)
    assert "Something went wrong inside the bot (reference " in text
    assert "9876543210" not in text and "xoxb" not in text and "Traceback" not in text
    assert _sample(httpx.get(url).text, name="/blacklist", outcome="failed") == failed_before + 1
    assert bot.sandbox.state.recorded() == []


def _sample(text: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "voicebot_commands_total" and all(
                s.labels.get(k) == v for k, v in labels.items()
            ):
                return s.value
    return 0.0


async def fill_the_disk(bot) -> None:
    """Cap the file at its current size and use up every free byte, as a full disk would."""
    from bot.store.db import StoreFull

    store = bot.deps.store
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages + 1}")
    for size in (2000, 500, 100, 20, 1, 0):
        for _ in range(10_000):
            try:
                await store.audit(
                    user_id="U0FILLER", action="fill", outcome="x", detail={"pad": "x" * size}
                )
            except StoreFull:
                break


@pytest.mark.sqlite_only  # the SQLite file's own lock and disk
async def test_a_full_disk_gives_a_clear_message_never_a_traceback_or_a_hang(bot) -> None:
    await fill_the_disk(bot)
    response = bot.command("/blacklist", "remove 9876543210", user_id=AGENT)
    assert response.status_code == 200
    assert said(response) == (
        ":warning: The bot's database is full (the server's disk has no space left), so nothing"
        " was saved. Tell an admin: the bot needs disk space before it can record anything."
    )
    assert bot.sandbox.state.recorded() == []


# ============================================================== item 13: logs


@pytest.fixture
def captured_logs(bot) -> Iterator[Callable[..., io.StringIO]]:
    """The process's own log set-up (configure_logging), writing to a buffer."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def start(log_format: str = "console") -> io.StringIO:
        configure_logging(bot.settings.model_copy(update={"log_format": log_format}))
        stream = io.StringIO()
        root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        return stream

    yield start
    root.handlers[:] = handlers
    root.setLevel(level)


LEAKY = (
    "caller=9876543210 key=test-key token xoxb-test-token secret "
    f"{SIGNING_SECRET}\n2026-11-23 11:00:00 INFO    voicebot.c2c: forged line"
)


def _break_token_check(bot, mocker) -> None:
    mocker.patch.object(bot.deps.c2c, "call_for_token", side_effect=RuntimeError(LEAKY))


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_tracebacks_in_logs_are_cleaned_of_numbers_tokens_and_secrets(
    bot, mocker, captured_logs, log_format: str
) -> None:
    stream = captured_logs(log_format)
    _break_token_check(bot, mocker)
    response = httpx.get(f"{bot.app_server.url}/kaleyra/callback/1-abc?status=ANSWER")
    assert response.status_code == 404  # old code: 500, and the traceback printed in clear
    out = stream.getvalue()
    assert "Traceback" in out and "RuntimeError" in out  # operators still get the traceback
    for leak in ("9876543210", "xoxb-test-token", SIGNING_SECRET, "test-key"):
        assert leak not in out, leak
    assert "98******10" in out
    if log_format == "json":
        records = [json.loads(line) for line in out.splitlines() if line.strip()]
        assert any("RuntimeError" in r.get("exception", "") for r in records)
    else:
        # Nothing from outside starts a line: the forged line stays inside the traceback.
        assert not any(line.startswith("2026-11-23 11:00:00") for line in out.splitlines())


def test_console_log_lines_are_one_record_each(bot, captured_logs) -> None:
    stream = captured_logs("console")
    logging.getLogger("voicebot.kaleyra").warning(
        "Kaleyra said: %s", "bad\nINFO forged: admin granted\r\x1b[31mred"
    )
    [line] = stream.getvalue().splitlines()
    assert "bad\\nINFO forged: admin granted\\r\\x1b[31mred" in line


# ============================================================== item 14: serve, metrics, files


def test_serve_in_http_mode_without_a_signing_secret_refuses_to_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "KALEYRA_"))}
    env.update(
        SLACK_BOT_TOKEN="xoxb-no-secret",
        PORT=str(free_port()),
        DATABASE_PATH=str(tmp_path / "voicebot.db"),
        PYTHONPATH=str(Path(bot_package.__file__).parents[1]),  # the code under test
    )
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "serve"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:  # old code: it started, and answered every request 500
        pytest.fail("voicebot serve started without SLACK_SIGNING_SECRET")
    assert done.returncode == 2
    assert "SLACK_SIGNING_SECRET is not set" in done.stderr and "Traceback" not in done.stderr


def test_serve_problem_names_each_missing_credential() -> None:
    from bot.cli import serve_problem
    from bot.settings import Settings

    def problem(**env: str) -> str | None:
        return serve_problem(Settings(_env_file=None, **env))

    assert "SLACK_BOT_TOKEN" in (problem() or "")
    assert "SLACK_SIGNING_SECRET" in (problem(slack_bot_token="xoxb-1") or "")
    assert problem(slack_bot_token="xoxb-1", slack_signing_secret="s3cret") is None
    assert problem(slack_bot_token="xoxb-1", slack_app_token="xapp-1") is None  # Socket Mode


def _label_values(text: str, metric: str, label: str) -> set[str]:
    return {
        s.labels[label]
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == metric and label in s.labels
    }


def test_metrics_labels_take_no_free_form_kaleyra_words(bot) -> None:
    for n in range(20):
        code = f"WEIRD-{n}-<script>"
        bot.sandbox.state.set_fault("monitor", Fault(error_rate=1.0, api_error=(code, "odd")))
        bot.command("/voicehealth")
    text = httpx.get(f"{bot.app_server.url}/metrics").text
    statuses = _label_values(text, "voicebot_kaleyra_requests_total", "status")
    assert not any("WEIRD" in s for s in statuses)
    assert "other" in statuses


def test_requests_no_listener_takes_get_no_label_of_their_own(bot) -> None:
    for n in range(5):
        bot.slack.block_action(f"made_up_action_{n}", "x")
    text = httpx.get(f"{bot.app_server.url}/metrics").text
    names = _label_values(text, "voicebot_commands_total", "name")
    assert not any("made_up_action" in name for name in names)


def _submit_file(bot, file: dict) -> None:
    from tests.handlers.test_obd_csv import submit

    submit(bot, file)


@pytest.mark.parametrize(
    "where",
    [
        "http://localhost:{port}/files/F1",  # the fake Slack under another name
        "https://evil.example/files/F1",
        "http://files.slack.com/files-pri/T1-F1/numbers.csv",  # not https
        "https://files.slack.com.evil.example/F1",
        "https://files.slack.com@evil.example/F1",
    ],
)
def test_the_csv_download_sends_the_bot_token_only_to_slacks_file_hosts(bot, where: str) -> None:
    file = bot.fake.upload("F1", b"mobile\n9876543210\n")
    file["url_private_download"] = where.format(port=bot.slack_server.server.port)
    _submit_file(bot, file)
    assert bot.fake.of("file_download") == []  # old code: downloaded with the token
    told = " ".join(text_of(p) for p in bot.fake.of("chat.postMessage"))
    assert "not on Slack's file servers" in told
    assert bot.sandbox.state.recorded() == []


def test_the_csv_download_from_the_configured_slack_still_works(bot) -> None:
    _submit_file(bot, bot.fake.upload("F1", b"mobile\n9876543210\n"))
    [download_seen] = bot.fake.of("file_download")
    assert download_seen["auth"] == "Bearer xoxb-test-token"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://files.slack.com/files-pri/T1-F1/numbers.csv", True),
        ("https://files-edge.slack-edge.com/x.csv", True),
        ("https://FILES.SLACK.COM/x.csv", True),
        ("https://files.slack.com:443/x.csv", True),
        ("http://files.slack.com/x.csv", False),
        ("https://files.slack.com:8443/x.csv", False),
        ("https://evilslack-edge.com/x.csv", False),
        ("https://slack-edge.com.evil.example/x.csv", False),
        ("https://user:pw@files.slack.com/x.csv", False),
        ("https://slack.com/x.csv", False),
        ("ftp://files.slack.com/x.csv", False),
        ("https://[::1/x.csv", False),
        ("", False),
        ("http://127.0.0.1:8000/files/F1", True),  # SLACK_API_URL's own host and scheme
        ("http://127.0.0.1:8001/files/F1", False),
    ],
)
def test_which_file_urls_may_receive_the_token(url: str, ok: bool) -> None:
    assert allowed(url, "http://127.0.0.1:8000/api/") is ok


def test_a_redirect_away_from_slack_is_not_followed_with_the_token() -> None:
    from slack_sdk.web.async_client import AsyncWebClient
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import RedirectResponse, Response
    from starlette.routing import Route

    hits: list[tuple[str, str]] = []

    async def files(request: Request) -> Response:
        hits.append((request.url.hostname or "", request.headers.get("authorization", "")))
        if request.path_params["name"] == "hop":
            return RedirectResponse(f"{request.url.scheme}://localhost:{port}/files/end")
        return Response(b"mobile\n9876543210\n")

    server = ServerThread(Starlette(routes=[Route("/files/{name}", files)])).start()
    port = server.port
    try:
        import asyncio

        client = AsyncWebClient(token="xoxb-secret-token", base_url=f"{server.url}/api/")
        with pytest.raises(ValueError, match="not on Slack's file servers"):
            asyncio.run(download(client, {"url_private_download": f"{server.url}/files/hop"}, 10))
    finally:
        server.stop()
    assert hits == [("127.0.0.1", "Bearer xoxb-secret-token")]  # localhost never asked
