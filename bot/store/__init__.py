"""The SQLite store: one class per table group, composed into Store. The only package that speaks SQL."""

from __future__ import annotations

from bot.models import Agent, CallRow
from bot.store.agents import AgentsTable
from bot.store.audit import AuditTable
from bot.store.blacklist import BlacklistTable
from bot.store.calls import CallsTable
from bot.store.db import Clock, Db, StoreError, iso, utc_now
from bot.store.followups import FollowupsTable
from bot.store.jobs import JobsTable
from bot.store.schema import SCHEMA_VERSION
from bot.store.sentlog import SentLogTable
from bot.store.settings import SettingsTable


class Store(
    AgentsTable,
    CallsTable,
    AuditTable,
    SettingsTable,
    BlacklistTable,
    JobsTable,
    FollowupsTable,
    SentLogTable,
):
    """Every table, over one connection."""


__all__ = [
    "SCHEMA_VERSION",
    "Agent",
    "CallRow",
    "Clock",
    "Db",
    "Store",
    "StoreError",
    "iso",
    "utc_now",
]
