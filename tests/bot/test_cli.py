"""voicebot's command line: what `serve` does before the server starts."""

from __future__ import annotations


def test_a_new_database_is_migrated_by_a_child_so_the_server_never_loads_alembic(
    tmp_path,
) -> None:
    import os
    import subprocess
    import sys

    from bot.store.migrations import HEAD, current_revision

    path = tmp_path / "data" / "voicebot.db"
    probe = (
        "import sys\n"
        "from bot.cli import migrate_apart\n"
        "from bot.settings import Settings\n"
        "from bot.store import Store\n"
        f"settings = Settings(_env_file=None, database_path={str(path)!r})\n"
        "migrate_apart(settings)\n"
        "Store(settings.database).close()\n"
        "print(sorted(m for m in ('alembic', 'sqlalchemy') if m in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    env["DATABASE_PATH"] = str(path)  # what the child reads, as serve's environment
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert out.strip() == "[]"  # the server process stays without them (about 25 MB)
    assert current_revision(str(path)) == HEAD
