"""voicebot console: the same Bolt app, driven from a terminal, with no accounts at all."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from bot.local.console import render_mrkdwn, run_console
from bot.settings import Settings


def console_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "KALEYRA_"))}
    env.update(DATABASE_PATH=str(tmp_path / "voicebot.db"), ADMIN_USER_IDS="")
    return env


def test_piped_session_registers_dials_and_reaches_final_status(tmp_path: Path) -> None:
    voicebot = Path(sys.executable).with_name("voicebot")
    result = subprocess.run(
        [str(voicebot), "console"],
        input="/c2c register 9876543210\n/c2c 9123456789\n",
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
    settings = Settings(_env_file=None, database_path=str(tmp_path / "v.db"))
    typed = (
        "\n".join(["/c2c register 9876543210", "/c2c", "", "12345", "", "", "9123456789", "quit"])
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
