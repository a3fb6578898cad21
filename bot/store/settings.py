"""Settings, secrets and de-duplication keys."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

from pydantic import ValidationError

from bot.models import KaleyraAccount
from bot.store.db import Db, iso

SEEN_KEEP = timedelta(hours=2)  # longer than any de-duplication window
# Slack retries a delivery three times, the last about 5 minutes after the first: an hour covers
# every retry, and the table stays a few thousand rows however busy the workspace.
DELIVERY_KEEP = timedelta(hours=1)
# What `voicebot doctor` learnt about the Kaleyra account, one settings row each.
KALEYRA_ACCOUNT_KEYS = {
    "key_style": "kaleyra_key_style",
    "group_status_method": "kaleyra_group_status_method",
    "checked_at": "kaleyra_checked_at",
}


class SettingsTable(Db):
    async def get_setting(self, key: str, default: str | None = None) -> str | None:
        row = await self._one("SELECT value FROM settings WHERE key = ?", [key])
        return row["value"] if row else default

    async def set_setting(self, key: str, value: str | None) -> None:
        async with self._tx() as tx:
            if value is None:
                await tx.write("DELETE FROM settings WHERE key = ?", [key])
            else:
                await tx.write(
                    "INSERT INTO settings (key, value) VALUES (?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [key, value],
                )

    async def kaleyra_account(self) -> KaleyraAccount | None:
        """The account's dialect as the doctor last found it; None before its first run."""
        rows = await self._all(
            "SELECT key, value FROM settings WHERE key IN (?, ?, ?)",
            KALEYRA_ACCOUNT_KEYS.values(),
        )
        stored = {row["key"]: row["value"] for row in rows}
        try:
            return KaleyraAccount.model_validate(
                {name: stored.get(key) for name, key in KALEYRA_ACCOUNT_KEYS.items()}
            )
        except ValidationError:  # not checked yet, or written by a version that spelt it otherwise
            return None

    async def set_kaleyra_account(self, account: KaleyraAccount) -> None:
        values = account.model_dump(mode="json")
        async with self._tx() as tx:
            await tx.many(
                "INSERT INTO settings (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [[key, values[name]] for name, key in KALEYRA_ACCOUNT_KEYS.items()],
            )

    async def secret(self, key: str) -> str:
        """A random secret minted once and kept (callback token signing)."""
        value = await self.get_setting(key)
        if value is None:
            # Two replicas minting at once: the first write wins and both read it back.
            await self._write(
                "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [key, secrets.token_hex(32)],
            )
            value = await self.get_setting(key)
        assert value is not None
        return value

    async def first_time(self, key: str, within: timedelta = timedelta(hours=1)) -> bool:
        """True the first time `key` is seen within `within` (Slack retries, replays, double clicks)."""
        return await self._seen_once("seen_requests", "key", key, within, SEEN_KEEP)

    async def first_delivery(self, identity: str) -> bool:
        """True the first time Slack delivers `identity` (an event_id, a command's or an
        interaction's own id) within DELIVERY_KEEP; shared by every replica on the database."""
        return await self._seen_once(
            "slack_deliveries", "id", identity, DELIVERY_KEEP, DELIVERY_KEEP
        )

    async def _seen_once(
        self, table: str, column: str, key: str, within: timedelta, keep: timedelta
    ) -> bool:
        """One statement decides, for every replica: True when `key` is new in `table` (or was
        last seen more than `within` ago). Rows older than `keep` are pruned every 30 s or so
        (indexed, and not on every request)."""
        now = self.clock()
        async with self._tx() as tx:
            if time.monotonic() - self._last_prune.get(table, 0.0) > 30:
                self._last_prune[table] = time.monotonic()
                await tx.write(f"DELETE FROM {table} WHERE at < ?", [iso(now - keep)])
            cursor = await tx.write(
                f"INSERT INTO {table} ({column}, at) VALUES (?, ?) ON CONFLICT({column}) DO UPDATE"
                f" SET at = excluded.at WHERE {table}.at < ?",
                [key, iso(now), iso(now - within)],
            )
            return cursor.rowcount == 1

    async def forget_delivery(self, identity: str) -> None:
        """The delivery did nothing (it failed before its work): Slack's retry may do it."""
        await self._write("DELETE FROM slack_deliveries WHERE id = ?", [identity])
