"""`voicebot console`: a terminal stand-in for Slack, running the real app end to end.

What you type is sent to the Bolt app as Slack would send it (a signed request over HTTP on
127.0.0.1); every Web API call the app makes lands in a local fake Slack and is printed here.
With no KALEYRA_API_KEY the embedded sandbox answers, so no account of any kind is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import html
import queue
import re
import secrets
import sys
import threading
import time
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, TextIO

from bot.deps import Tuning, build_deps
from bot.local.directory import PEOPLE, Person, escape_like_slack, manifest_commands
from bot.local.fakeslack import SlackCall
from bot.local.stack import Stack
from bot.phones import InvalidNumber, parse_phone
from bot.server import create_asgi
from bot.settings import Settings

CONSOLE_USER = "U0CONSOLE"
CONSOLE_CALLS = "C0CALLS"  # the calls channel, unless CALLS_CHANNEL names one
PEOPLE_HERE = (Person(CONSOLE_USER, "me"), *PEOPLE)  # @asha, @ravi, @meera are typeable too
HELP = """Type slash commands as in Slack, e.g. /c2c register @me 9876543210 then /c2c 9123456789.
  /c2c help, /voicehealth help   usage of each command (@asha and #ops work as in Slack)
  press N                        click button N of the last message
  home                           open your App Home tab
  call <message text>            the "Call this number" shortcut on a message with that text
  as U0SOMEONE                   act as another Slack user (you are an admin by default)
  incoming 9812345678 to 9876543210 missed|answered [seconds]
                                 a call to the team line (sandbox), posted to the calls channel
  quit                           leave (piped input leaves when it ends, once calls finish)
In a form, type each field's answer (Enter keeps the one in [brackets]); a file field takes a
path, checkboxes take values separated by commas."""
CONSOLE_WORDS = ("help", "press", "home", "call", "as", "incoming", "quit", "exit")
INCOMING = re.compile(
    r"^incoming\s+(?P<caller>.+?)\s+to\s+(?P<agent>.+?)"
    r"(?:\s+(?P<outcome>missed|answered))?(?:\s+(?P<seconds>\d+))?\s*$",
    re.IGNORECASE,
)


EMOJI = {
    ":telephone_receiver:": "📞",
    ":white_check_mark:": "✅",
    ":warning:": "⚠️",
    ":test_tube:": "🧪",
    ":x:": "❌",
    ":no_entry:": "⛔",
    ":grey_question:": "❔",
    ":repeat:": "🔁",
    ":wave:": "👋",
    ":large_green_circle:": "🟢",
    ":large_yellow_circle:": "🟡",
    ":red_circle:": "🔴",
    ":calendar:": "📅",
    ":no_bell:": "🔕",
    ":loudspeaker:": "📢",
    ":double_vertical_bar:": "⏸",
    ":rocket:": "🚀",
    ":hourglass:": "⌛",
    ":octagonal_sign:": "🛑",
    ":zap:": "⚡",
    ":white_circle:": "⚪",
    ":no_entry_sign:": "🚫",
    ":rotating_light:": "🚨",
    ":alarm_clock:": "⏰",
    ":spiral_calendar_pad:": "🗓",
    ":bar_chart:": "📊",
    ":key:": "🔑",
    ":zzz:": "💤",
    ":wastebasket:": "🗑",
    ":arrow_forward:": "▶",
}


def render_mrkdwn(text: str) -> str:
    for code, symbol in EMOJI.items():
        text = text.replace(code, symbol)
    text = re.sub(r"<!date\^\d+\^[^|>]*\|([^>]*)>", r"\1", text)  # its labelled fallback
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2 (\1)", text)
    text = re.sub(r"<@([A-Z0-9]+)(?:\|[^>]*)?>", r"@\1", text)
    text = re.sub(r"<#([A-Z0-9]+)(?:\|[^>]*)?>", r"#\1", text)
    return html.unescape(text)


def _button_line(element: dict[str, Any], buttons: list[dict[str, Any]]) -> str:
    buttons.append(element)
    return f"  [{len(buttons)}] {element['text']['text']}"


def render_blocks(blocks: list[dict[str, Any]], buttons: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind in {"section", "header"}:
            lines.append(render_mrkdwn(block["text"]["text"]))
            accessory = block.get("accessory") or {}
            if accessory.get("type") == "button":  # App Home's buttons beside a line
                lines.append(_button_line(accessory, buttons))
        elif kind == "context":
            lines.extend("  " + render_mrkdwn(e.get("text", "")) for e in block.get("elements", []))
        elif kind == "actions":
            for element in block.get("elements", []):
                if element.get("type") == "button":
                    lines.append(_button_line(element, buttons))
        elif kind == "input":
            lines.append(f"  · {block['label']['text']}")
    return lines


class Console:
    def __init__(self, settings: Settings, out: TextIO = sys.stdout) -> None:
        self.out = out
        secret = secrets.token_hex(16)
        db = Path(settings.database_path)
        # Console calls are make-believe: kept apart from the real store, and fresh each run as
        # the sandbox is, so no id the sandbox hands out again can meet an earlier run's row.
        console_db = db.with_name("console-" + db.name)
        for leftover in (console_db, *(Path(f"{console_db}{x}") for x in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
        # The same loopback stack the end-to-end tests use: fake Slack, the app, a signed driver.
        self.stack = Stack(secret)
        self.fake = self.stack.fake
        self.settings = settings.model_copy(
            update={
                "slack_bot_token": _secret("xoxb-console"),
                "slack_signing_secret": _secret(secret),
                "slack_app_token": None,
                "slack_api_url": self.stack.slack_api_url,
                "database_path": str(console_db),
                "admin_user_ids": settings.admin_user_ids or CONSOLE_USER,
                "public_url": None,
                "calls_channel": settings.calls_channel or CONSOLE_CALLS,
            }
        )
        self.deps = build_deps(
            self.settings,
            # The console waits for what each line set off before the next: nothing is held
            # back for Slack's rate limits (its fake Slack has none), or every line would wait
            # out the App Home's coalescing and the cards' progress hold.
            tuning=Tuning(
                poll_seconds=1.0,
                auto_track=not self.settings.scheduler_enabled,
                progress_hold=0.0,
                home_quiet=0.0,
                home_spacing=0.0,
            ),
        )
        self.stack.mount(create_asgi(self.deps))
        self.driver = self.stack.driver
        self.user = CONSOLE_USER
        self.show_home = False  # App Home refreshes print only when you open it
        self.buttons: list[dict[str, Any]] = []
        # Which message each button is on; a message replaced or removed takes its buttons
        # along, as in Slack (a Dial again pressed after Cancel must dial nothing).
        self._button_message: list[int] = []
        self._messages = 0
        self._gone: set[int] = set()
        self._pressed: int | None = None
        self.events: queue.Queue[SlackCall] = queue.Queue()
        self.gate = threading.Lock()  # the ack prints before what followed it
        self.fake.listeners.append(self.events.put)
        if self.deps.sandbox is not None:  # what the sandbox's calls would have said
            self.deps.sandbox.state.listeners.append(
                lambda notice: self.events.put(SlackCall(SANDBOX_NOTICE, {"text": notice}))
            )
        self.printer = threading.Thread(target=self._print_events, daemon=True)
        self.printer.start()

    # ------------------------------------------------------------------ output

    def say(self, *lines: str) -> None:
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()

    def _print_events(self) -> None:
        while True:
            call = self.events.get()
            with self.gate:
                self._print_call(call)
            self.events.task_done()

    def _print_call(self, call: SlackCall) -> None:
        p = call.payload
        titles = {
            "chat.postMessage": (
                f"[DM from voicebot to {p.get('channel')}]"
                if str(p.get("channel", "")).startswith(("U", "D"))
                else f"[message in #{p.get('channel')}]"
            ),
            "chat.update": "[message updated]",
            "chat.postEphemeral": "[only you can see this]",
            "response_url": "[reply, only you can see this]",
            "views.publish": "[App Home]",
        }
        if call.method == SANDBOX_NOTICE:
            self.say(f"[sandbox, no phone rang] {p['text']}", "")
            return
        if call.method == "views.publish" and not self.show_home:
            return
        self.show_home = self.show_home and call.method != "views.publish"
        replaced = p.get("replace_original") or p.get("delete_original")
        if call.method == "response_url" and replaced and self._pressed is not None:
            self._gone.add(self._pressed)  # the message whose button answered this
        if call.method in titles:
            body = p.get("view", p)
            self.say(titles[call.method], *self._message_lines(body), "")
        elif call.method == "views.open":
            self.say(f"[form: {p['view']['title']['text']}]")

    def _message_lines(self, payload: dict[str, Any]) -> list[str]:
        if payload.get("delete_original"):
            return ["(message removed)"]
        self._messages += 1
        start = len(self.buttons)
        lines = render_blocks(payload.get("blocks") or [], self.buttons)
        self._button_message += [self._messages] * (len(self.buttons) - start)
        return lines or [render_mrkdwn(str(payload.get("text", "")))]

    # ------------------------------------------------------------------ input

    def settle(self, timeout: float = 60.0) -> None:
        """Wait for what a request set off, up to `timeout`; longer work (a paced broadcast)
        goes on in the background and prints when it posts."""
        with contextlib.suppress(TimeoutError):
            asyncio.run_coroutine_threadsafe(
                self.deps.background.drain(timeout, lasting=False), self.stack.app_host.loop
            ).result(timeout + 5)
        self.events.join()

    def handle(self, line: str, lines: Any) -> bool:
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        if line in {"quit", "exit"}:
            return False
        if line == "help":
            self.say(HELP)
        elif line.startswith("as "):
            self.user = line.split()[1]
            self.say(f"(you are now {self.user})")
        elif line == "home":
            self.show_home = True
            self.driver.event(
                {
                    "type": "app_home_opened",
                    "user": self.user,
                    "channel": "D0CONSOLE",
                    "tab": "home",
                }
            )
            self.settle(timeout=5)
        elif line.startswith("press "):
            self._press(line.split()[1], lines)
        elif line.startswith("call "):
            self._shortcut(line[5:], lines)
        elif line.lower().startswith("incoming"):
            self._incoming(line)
        elif line.startswith("/"):
            self._command(line, lines)
        else:
            guess = difflib.get_close_matches(line.split()[0].lower(), CONSOLE_WORDS, n=1)
            also = f" Did you mean `{guess[0]}`?" if guess else ""
            self.say(
                f"Commands start with /, e.g. /c2c help.{also} Type help for the console's own"
                " commands."
            )
        return True

    def _opened(self, before: int, lines: Any) -> None:
        """The form a request opened, if it opened one, filled here."""
        opened = self.fake.of("views.open")
        if len(opened) > before:
            self._fill_modal(opened[-1]["view"], lines)

    def _shortcut(self, text: str, lines: Any) -> None:
        self.say(f'> "Call this number" on a message saying: {text}')
        before = len(self.fake.of("views.open"))
        self.driver.message_shortcut(
            "call_this_number", escape_like_slack(text, PEOPLE_HERE), user_id=self.user
        )
        self.settle(timeout=5)
        self._opened(before, lines)

    def _command(self, line: str, lines: Any) -> None:
        command, _, text = line.partition(" ")
        self.say(f"> {line}")
        known = [c.command for c in manifest_commands()]
        if known and command not in known:  # Slack itself answers these; the app never hears
            guess = difflib.get_close_matches(command, known, n=1)
            also = f" Did you mean {guess[0]}?" if guess else f" Try {', '.join(known)}."
            self.say(f"{command} is not a valid command.{also}", "")
            return
        before = len(self.fake.of("views.open"))
        with self.gate:
            response = self.driver.command(
                command,
                escape_like_slack(text.strip(), PEOPLE_HERE),
                user_id=self.user,
                channel_id="C0CONSOLE",
            )
            self._print_ack(response)
        self.settle(timeout=5)
        self._opened(before, lines)

    def _incoming(self, line: str) -> None:
        """A call to the team line: the sandbox lists it in `dial`, the feed posts it now."""
        match = INCOMING.match(line)
        if not match:
            self.say("Use: incoming 9812345678 to 9876543210 missed|answered [seconds]")
            return
        sandbox = self.deps.sandbox
        if sandbox is None:
            self.say("Incoming calls can be made up only with the sandbox (KALEYRA_API_KEY unset).")
            return
        region = self.settings.default_region
        try:
            caller = parse_phone(match["caller"], region)
            agent = parse_phone(match["agent"], region)
            seconds = int(match["seconds"]) if match["seconds"] else None
            answered = (match["outcome"] or "answered").lower() == "answered"
            sandbox.state.add_incoming(
                caller.national, agent.national, answered=answered, billsec=seconds
            )
        except (InvalidNumber, ValueError) as exc:
            self.say(f"Not a call the sandbox can take: {exc}")
            return
        outcome = "answered" if answered else "missed"
        self.say(f"> incoming call from {caller.masked} to {agent.pretty}, {outcome}")
        asyncio.run_coroutine_threadsafe(
            self.deps.callfeed.poll(), self.stack.app_host.loop
        ).result(30)
        self.settle(timeout=5)

    def _print_ack(self, response: Any) -> None:
        if response.status_code != 200:
            self.say(f"[Slack would show: the app answered HTTP {response.status_code}]")
        elif response.content:
            self.say("[only you can see this]", *self._message_lines(response.json()), "")

    def _fill_modal(self, view: dict[str, Any], lines: Any) -> None:
        inputs = [b for b in view["blocks"] if b["type"] == "input"]
        answers: dict[str, str] = {}
        while True:
            for block in inputs:
                if block["block_id"] in answers:
                    continue
                element = block["element"]
                default = (
                    element.get("initial_value")
                    or (element.get("initial_option") or {}).get("value")
                    or _moment_text(element.get("initial_date_time"), self.settings.tz)
                    or ""
                )
                optional = " (optional)" if block.get("optional") else ""
                prompt = (
                    f"  {block['label']['text']}{optional}{_choices(element)}"
                    + (f" [{default}]" if default else "")
                    + ": "
                )
                self.out.write(prompt)
                self.out.flush()
                typed = next(lines, None)
                if typed is None:  # the input ended inside the form: close it, as Esc would
                    self.say("", "[form closed: the input ended before it was submitted]", "")
                    return
                value = typed.strip()
                self.say(value)
                answers[block["block_id"]] = value or default
            try:
                values = {
                    b["block_id"]: {
                        b["element"]["action_id"]: self._value(b["element"], answers[b["block_id"]])
                    }
                    for b in inputs
                }
            except OSError as exc:
                self.say(f"  ! That file cannot be read: {exc.strerror or exc}")
                answers = {k: v for k, v in answers.items() if not _is_file(inputs, k)}
                continue
            with self.gate:
                response = self.driver.view_submission(view, values, user_id=self.user)
            body = response.json() if response.content else {}
            action = body.get("response_action")
            if action in {"update", "push"}:  # the form goes on with the view it answered
                self.say(f"[form: {body['view']['title']['text']}]")
                view = {**body["view"], "id": view.get("id", "V0")}
                inputs = [b for b in view["blocks"] if b["type"] == "input"]
                answers = {}
                continue
            if action != "errors":
                self.say("[form submitted]", "")
                self.settle(timeout=5)
                return
            for block_id, problem in body["errors"].items():
                self.say(f"  ! {problem}")
                answers.pop(block_id, None)

    def _value(self, element: dict[str, Any], value: str) -> dict[str, Any]:
        if element["type"] == "file_input":
            if not value:
                return {"type": "file_input", "files": []}
            path = Path(value).expanduser()
            file_id = "F" + secrets.token_hex(5).upper()
            return {
                "type": "file_input",
                "files": [self.fake.upload(file_id, path.read_bytes(), path.name)],
            }
        return _value(element, value, self.settings.tz)

    def _press(self, number: str, lines: Any) -> None:
        if not number.isdigit() or not 1 <= int(number) <= len(self.buttons):
            self.say(f"There is no button {number}.")
            return
        button = self.buttons[int(number) - 1]
        if self._button_message[int(number) - 1] in self._gone:
            self.say(f"Button {number} is gone: its message was replaced.")
            return
        self._pressed = self._button_message[int(number) - 1]
        self.say(f"> pressed [{number}] {button['text']['text']}")
        before = len(self.fake.of("views.open"))
        self.driver.block_action(button["action_id"], button.get("value", ""), user_id=self.user)
        self.settle(timeout=5)
        self._opened(before, lines)

    def run(self, stdin: TextIO) -> int:
        mode = (
            "the Kaleyra sandbox (no real calls)"
            if self.deps.uses_sandbox
            else "your real Kaleyra account"
        )
        self.say(f"voicebot console: you are {self.user}, talking to {mode}. Type help.", "")
        interactive = stdin.isatty()

        def typed() -> Any:
            while True:
                if interactive:  # a prompt once what the last line set off has printed
                    self.out.write("voicebot> ")
                    self.out.flush()
                line = stdin.readline()
                if not line:
                    return
                yield line

        lines = typed()
        for line in lines:
            if not self.handle(line, lines):
                break
        if not interactive:
            self._finish_calls()
        return 0

    def _on_loop(self, coro: Any) -> Any:
        """Run one of the store's coroutines on the app's loop (the console reads from its own thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self.stack.app_host.loop).result(timeout=10)

    def _finish_calls(self, limit: float = 90.0) -> None:
        """Piped input: wait for calls to reach a final status before leaving."""
        deadline = time.monotonic() + limit
        while self._on_loop(self.deps.store.open_calls()) and time.monotonic() < deadline:
            time.sleep(0.2)
        # The calls channel shows how the call backs ended, as its next poll would.
        asyncio.run_coroutine_threadsafe(
            self.deps.callfeed.poll(), self.stack.app_host.loop
        ).result(30)
        self.settle(timeout=5)

    def close(self) -> None:
        self.stack.close()


SANDBOX_NOTICE = "sandbox.notice"  # not a Slack method: a line the sandbox announced
MOMENT = "%Y-%m-%d %H:%M"


def _is_file(inputs: list[dict[str, Any]], block_id: str) -> bool:
    return any(b["block_id"] == block_id and b["element"]["type"] == "file_input" for b in inputs)


def _choices(element: dict[str, Any]) -> str:
    if element["type"] in {"static_select", "radio_buttons"}:
        return " (" + " | ".join(o["value"] for o in element.get("options", [])) + ")"
    if element["type"] == "checkboxes":
        return " (any of " + ", ".join(o["value"] for o in element.get("options", [])) + ")"
    if element["type"] == "file_input":
        return " (a file's path)"
    if element["type"] == "datetimepicker":
        return " (YYYY-MM-DD HH:MM)"
    return ""


def _moment_text(epoch: int | None, tz: tzinfo) -> str:
    return datetime.fromtimestamp(epoch, tz).strftime(MOMENT) if epoch else ""


def _value(element: dict[str, Any], value: str, tz: tzinfo) -> dict[str, Any]:
    kind = element["type"]
    if kind in {"static_select", "radio_buttons"}:
        return {"type": kind, "selected_option": {"value": value} if value else None}
    if kind == "checkboxes":
        picked = {v.strip() for v in value.split(",") if v.strip()}
        options = [o for o in element.get("options", []) if o["value"] in picked]
        return {"type": kind, "selected_options": options}
    if kind == "datetimepicker":
        try:
            moment = datetime.strptime(value, MOMENT).replace(tzinfo=tz) if value else None
        except ValueError:
            moment = None  # the form says what is missing
        return {"type": kind, "selected_date_time": int(moment.timestamp()) if moment else None}
    return {"type": kind, "value": value or None}


def _secret(value: str):
    from pydantic import SecretStr

    return SecretStr(value)


def run_console(settings: Settings, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    console = Console(settings, out)
    try:
        return console.run(stdin)
    except KeyboardInterrupt:
        return 0
    finally:
        console.close()
