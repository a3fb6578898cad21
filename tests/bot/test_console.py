"""voicebot console: the same Bolt app, driven from a terminal, with no accounts at all."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bot.local.console import render_mrkdwn, run_console
from bot.settings import Settings


def console_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "KALEYRA_"))}
    env.update(
        DATABASE_PATH=str(tmp_path / "voicebot.db"), ADMIN_USER_IDS="", SANDBOX_STEP_SECONDS="0.2"
    )
    return env


def test_piped_session_registers_dials_and_reaches_final_status(tmp_path: Path) -> None:
    voicebot = Path(sys.executable).with_name("voicebot")
    result = subprocess.run(
        [str(voicebot), "console"],
        # An admin assigning a number needs no verification call (the console user is an admin).
        input="/c2c register <@U0CONSOLE> 9876543210\n/c2c 9123456789\n",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=console_env(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "talking to the Kaleyra sandbox (no real calls)" in out
    assert "@U0CONSOLE now calls from +91 98765 43210" in out
    assert "Dialling +91 91234 56789" in out
    assert (
        out.index("Dialling +91 91234 56789")
        < out.index("Call in progress")
        < out.index("Call completed")
    )
    assert "*Customer* +91 91234 56789: answered" in out
    assert "Recording* listen (https://play.solutionsinfini.com/" in out
    assert "Traceback" not in out + result.stderr
    # The console keeps its make-believe calls away from the real store.
    assert (tmp_path / "console-voicebot.db").exists() and not (tmp_path / "voicebot.db").exists()


def test_modal_is_filled_field_by_field_with_inline_errors(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None, database_path=str(tmp_path / "v.db"), sandbox_step_seconds=0.2
    )
    typed = (
        "\n".join(
            [
                "/c2c register <@U0CONSOLE> 9876543210",
                "/c2c",
                "",
                "12345",
                "",
                "",
                "9123456789",
                "quit",
            ]
        )
        + "\n"
    )
    out = io.StringIO()
    assert run_console(settings, io.StringIO(typed), out) == 0
    text = out.getvalue()
    assert "[form: Click-to-call]" in text
    assert "Agent number (first leg) [+919876543210]: " in text
    assert '! The customer number "12345" is too short.' in text
    assert text.index("! The customer number") < text.index("[form submitted]")
    assert "Call in progress" in text


def test_mrkdwn_renders_as_plain_text() -> None:
    assert render_mrkdwn("<https://x.example/a|listen> &lt;!channel&gt; <@U1> <#C1|ops>") == (
        "listen (https://x.example/a) <!channel> @U1 #C1"
    )


class Typist:
    """Stdin for the console that types each line when it is asked for, so a line may depend on
    what the console printed so far (a verification code, a button's number)."""

    def __init__(self, out: io.StringIO, lines: list[str | Callable[[str], str]]) -> None:
        self.out, self.lines = out, list(lines)

    def readline(self) -> str:
        if not self.lines:
            return ""
        line = self.lines.pop(0)
        return (line(self.out.getvalue()) if callable(line) else line) + "\n"

    def isatty(self) -> bool:
        return False


def verify(out: str) -> str:
    code = re.findall(r"the verification call would read out: (\d{6})", out)[-1]
    return f"/c2c verify {code}"


def press_call_back(out: str) -> str:
    return "press " + re.findall(r"\[(\d+)\] Call back", out)[-1]


def test_team_line_incoming_call_and_call_back(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None, database_path=str(tmp_path / "v.db"), sandbox_step_seconds=0.2
    )
    out = io.StringIO()
    typed = Typist(
        out,
        [
            "/c2c register 9876543210",
            verify,
            "incoming 9812345678 to 9876543210 missed",
            press_call_back,
            "incoming 9812345600 to 9876543210 answered 75",
            "incoming 12 to 9876543210",
        ],
    )
    assert run_console(settings, typed, out) == 0  # type: ignore[arg-type]
    text = out.getvalue()
    assert "[sandbox, no phone rang] the verification call would read out: " in text
    assert "> incoming call from 98******78 to +91 98765 43210, missed" in text
    assert "[message in #C0CALLS]" in text
    assert "Missed call* from *98******78* (KARNATAKA) to @U0CONSOLE" in text
    assert "You are calling back 98******78" in text
    assert "@U0CONSOLE is calling back" in text
    assert "answered by @U0CONSOLE, 1 min 15 s" in text
    assert 'Not a call the sandbox can take: "12" is too short' in text
    assert text.index("is calling back") < text.index("@U0CONSOLE called back: connected")
    assert "Traceback" not in text


def console_says(tmp_path: Path, typed: str, **settings: object) -> str:
    out = io.StringIO()
    base = Settings(
        _env_file=None, database_path=str(tmp_path / "v.db"), sandbox_step_seconds=0.2, **settings
    )  # type: ignore[arg-type]
    assert run_console(base, io.StringIO(typed), out) == 0
    return out.getvalue()


def test_input_that_ends_inside_a_form_closes_the_form(tmp_path: Path) -> None:
    text = console_says(tmp_path, "/c2c\n")
    assert "[form: Click-to-call]" in text
    assert text.count("Agent number (first leg)") == 1
    assert "[form closed: the input ended before it was submitted]" in text


def test_mentions_and_channels_are_escaped_as_slack_does(tmp_path: Path) -> None:
    text = console_says(
        tmp_path, "/c2c register @asha 9000012399\n/voicehealth digest #ops 08:30\n"
    )
    assert "@U0ASHA now calls from +91 90000 12399" in text
    assert "posted in #C0OPS at 08:30" in text


def test_typos_get_a_did_you_mean(tmp_path: Path) -> None:
    text = console_says(tmp_path, "/c2 9876543210\nhome1\n")
    assert "/c2 is not a valid command. Did you mean /c2c?" in text
    assert "Did you mean `home`?" in text
    assert "Unhandled request" not in text


def test_a_button_opens_its_form(tmp_path: Path) -> None:
    text = console_says(tmp_path, "home\npress 1\n9876543211\n")
    assert "> pressed [1] Set my number" in text
    assert "[form: My agent number]" in text
    assert "the verification call would read out" in text


def test_a_csv_given_as_a_path_fills_the_broadcast_form(tmp_path: Path) -> None:
    csv = tmp_path / "numbers.csv"
    csv.write_text("number\n9876500021\n9876500022\n9876500023\n")
    fields = ["", str(csv), "123.sound", "", "", "renewals", "", ""]
    text = console_says(tmp_path, "/obd\n" + "\n".join(fields) + "\n", obd_calling_hours="")
    assert "[form: Voice broadcast]" in text
    assert "…or upload a CSV (optional) (a file's path): " in text
    assert "Confirm broadcast #1" in text and "*3* numbers" in text


def test_the_call_this_number_shortcut(tmp_path: Path) -> None:
    text = console_says(
        tmp_path, "/c2c register @me 9876543210\ncall Please ring Ravi on 9123456789 today\n"
    )
    assert '"Call this number" on a message saying' in text
    assert "+91 91234 56789" in text.split("Call this number", 1)[1]


def test_each_run_starts_fresh(tmp_path: Path) -> None:
    first = console_says(tmp_path, "/c2c register @me 9876543210\n/c2c 9123456789\n")
    second = console_says(tmp_path, "/c2c whoami\n")
    assert "now calls from +91 98765 43210" in first
    assert "+91 98765 43210" not in second  # the earlier run's mapping is gone with its calls


def test_a_button_of_a_replaced_message_dials_nothing(tmp_path: Path) -> None:
    out = io.StringIO()
    typed = Typist(
        out,
        [
            "/c2c register @me 9876543210",
            "/c2c 9123456789",
            "/c2c 9123456789",
            lambda said: "press " + re.findall(r"\[(\d+)\] Cancel", said)[-1],
            lambda said: "press " + re.findall(r"\[(\d+)\] Dial again", said)[-1],
        ],
    )
    settings = Settings(
        _env_file=None, database_path=str(tmp_path / "v.db"), sandbox_step_seconds=0.2
    )
    assert run_console(settings, typed, out) == 0  # type: ignore[arg-type]
    text = out.getvalue()
    assert "Not dialled." in text
    assert "is gone: its message was replaced." in text
    assert text.count("Dialling +91 91234 56789") == 1


def test_a_paced_broadcast_does_not_end_the_console(tmp_path: Path) -> None:
    numbers = " ".join(f"98765000{n}" for n in range(21, 27))
    text = console_says(
        tmp_path,
        f"/obd {numbers} play 123.sound\npress 1\n/c2c whoami\n",
        obd_calling_hours="",
        obd_calls_per_minute=2,
    )
    assert "Job #1 started" in text
    assert "0 of 6 numbers sent" in text or "2 of 6 numbers sent" in text
    assert "@U0CONSOLE: no agent number yet" in text  # the console went on
    assert "Traceback" not in text and "TimeoutError" not in text


def test_voicebot_help_lists_its_commands_cleanly() -> None:
    from bot.cli import build_parser

    shown = build_parser().format_help()
    assert "==SUPPRESS==" not in shown and "configured" not in shown
    for command in ("serve", "local", "console", "sandbox"):
        assert f"    {command} " in shown
