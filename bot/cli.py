"""voicebot: a Slack app for your Kaleyra Voice account (serve), or try it locally (local, console)."""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import sys
from pathlib import Path

from bot.settings import Settings, SettingsError, load_settings, serve_problem


def _settings_or_exit():
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"voicebot: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_sandbox(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.sandbox import Sandbox, SandboxState

    sandbox = Sandbox(
        SandboxState(
            api_key=args.api_key,
            step_seconds=args.step_seconds,
            key_styles=frozenset(args.key_style) if args.key_style else None,
            group_status_spelling=args.group_status_spelling,
        )
    )
    # No phone rings here: what a call would have said (a verification code) is printed.
    sandbox.state.listeners.append(lambda notice: print(notice, flush=True))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(128)  # connections queue from here on, so "listening" is true when printed
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(sandbox.app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def cmd_serve(_args: argparse.Namespace) -> int:
    from bot.server import serve

    settings = _settings_or_exit()
    problem = serve_problem(settings)
    if problem:
        print(f"voicebot: configuration error: {problem}", file=sys.stderr)
        return 2
    migrate_apart(settings)
    return serve(settings)


def migrate_apart(settings: Settings) -> None:
    """A database behind the newest revision is migrated by a child process (what `voicebot db
    upgrade` does), so Alembic and SQLAlchemy never load into the server: about 25 MB it would
    keep for its whole life. Anything odd is left to the store, which migrates in-process as
    before (the child's failure included)."""
    from bot.store.migrations import HEAD, current_revision
    from bot.store.urls import sqlite_path

    try:
        path = sqlite_path(settings.database)
        if path == ":memory:":
            return
        if path is not None and not Path(path).exists():
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        elif current_revision(settings.database) == HEAD:
            return
    except Exception:
        return
    # A forked child already holds every module imported so far: only Alembic loads anew.
    child = multiprocessing.get_context("fork").Process(
        target=_upgrade, args=(settings.database,), name="voicebot-migrate"
    )
    child.start()
    child.join()


def _upgrade(url: str) -> None:
    """`voicebot db upgrade` for one URL, in the child `migrate_apart` forks."""
    import asyncio

    from bot.store import Store

    async def upgrade() -> None:
        store = Store(url)
        await store.open()
        await store.aclose()

    asyncio.run(upgrade())


def cmd_console(_args: argparse.Namespace) -> int:
    from bot.local.console import run_console

    return run_console(_settings_or_exit())


def cmd_doctor(args: argparse.Namespace) -> int:
    """Read-only checks of this installation; exit 1 when something a call needs is broken."""
    import asyncio
    import logging

    from bot.doctor import load, render, run_doctor

    logging.basicConfig(level=logging.WARNING)  # the table says it all; no request logs
    settings, setting_checks = load()
    report = asyncio.run(run_doctor(settings, setting_checks, skip=frozenset(args.skip or ())))
    print(render(report.checks))
    return 1 if report.failed else 0


def cmd_local(args: argparse.Namespace) -> int:
    from bot.local.page import serve_local

    settings = _settings_or_exit()
    if args.port is not None:
        settings = settings.model_copy(update={"port": args.port})
    return serve_local(settings)


def cmd_db_upgrade(_args: argparse.Namespace) -> int:
    """Migrate DATABASE_URL (serve also does it at start, one replica at a time)."""
    import asyncio

    from bot.store import Store
    from bot.store.migrations import current_revision
    from bot.store.urls import redacted

    url = _settings_or_exit().database

    async def upgrade() -> None:
        store = Store(url)
        await store.open()
        await store.aclose()

    asyncio.run(upgrade())
    print(f"{redacted(url)}: at revision {current_revision(url)}")
    return 0


def cmd_db_copy(args: argparse.Namespace) -> int:
    import asyncio

    from bot.store import StoreError
    from bot.store.copy import copy_database
    from bot.store.urls import redacted

    try:
        copied = asyncio.run(copy_database(args.source, args.target))
    except StoreError as exc:
        print(f"voicebot: {exc}", file=sys.stderr)
        return 1
    print(f"copied {sum(copied.values())} rows to {redacted(args.target)}")
    return 0


def cmd_configured(_args: argparse.Namespace) -> int:
    """Exit 0 when Slack credentials are configured (used by `make run`)."""
    return 0 if _settings_or_exit().slack_configured else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voicebot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("serve", help="run the Slack app (HTTP or Socket Mode)").set_defaults(
        func=cmd_serve
    )
    sub.add_parser("console", help="a terminal stand-in for Slack").set_defaults(func=cmd_console)
    local = sub.add_parser("local", help="a local Slack in the browser, on 127.0.0.1:PORT")
    local.add_argument("--port", type=int, default=None, help="default: PORT (3000)")
    local.set_defaults(func=cmd_local)
    sandbox = sub.add_parser("sandbox", help="serve the Kaleyra sandbox on 127.0.0.1")
    sandbox.add_argument("--port", type=int, default=0, help="0 picks a free port")
    sandbox.add_argument("--api-key", default=None, help="accept only this key (default: any)")
    sandbox.add_argument("--step-seconds", type=float, default=2.0, help="time per call stage")
    sandbox.add_argument(
        "--key-style",
        action="append",
        choices=["x-api-key header", "api_key header", "api_key parameter"],
        help="look for the key only there, as an account might (repeatable; default: anywhere)",
    )
    sandbox.add_argument(
        "--group-status-spelling",
        choices=["voice.groupstatus", "voice.groupStatus"],
        help="know only this spelling of voice.groupstatus (default: any case)",
    )
    sandbox.set_defaults(func=cmd_sandbox)
    db = sub.add_parser("db", help="the database: migrate it, or copy a deployment's data")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="apply the migrations to DATABASE_URL")
    upgrade.set_defaults(func=cmd_db_upgrade)
    copy = db_sub.add_parser("copy", help="copy every row into a new, empty database")
    copy.add_argument("--from", dest="source", required=True, help="sqlite:///… or postgresql://…")
    copy.add_argument("--to", dest="target", required=True, help="sqlite:///… or postgresql://…")
    copy.set_defaults(func=cmd_db_copy)
    doctor = sub.add_parser(
        "doctor", help="read-only checks of this installation (never places a call)"
    )
    doctor.add_argument(
        "--skip",
        action="append",
        choices=["configuration", "slack", "kaleyra", "public_url"],
        help="leave out these checks (repeatable), e.g. public_url before `serve` runs",
    )
    doctor.set_defaults(func=cmd_doctor)
    # For `make run`; left out of --help (a parser given no help is not listed).
    sub.add_parser("configured").set_defaults(func=cmd_configured)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
