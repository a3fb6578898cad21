"""The store (SQLite or PostgreSQL): one class per table group, composed into Store. The only package that speaks SQL."""

from __future__ import annotations

from bot.models import Agent, CallRow
from bot.store.audit import AuditTable
from bot.store.base import StoreBusy, StoreDown, StoreError, StoreFull, StoreUnavailable
from bot.store.blacklist import BlacklistTable
from bot.store.callfeed import CallFeedTable
from bot.store.calls import CallsTable
from bot.store.campaigns import CampaignsTable
from bot.store.db import Clock, Db, iso, utc_now
from bot.store.followups import FollowupsTable
from bot.store.history import HistoryTable
from bot.store.jobs import JobsTable
from bot.store.migrations import HEAD as SCHEMA_REVISION
from bot.store.migrations.legacy import SCHEMA_VERSION
from bot.store.sentlog import SentLogTable
from bot.store.settings import SettingsTable
from bot.store.verification import VerificationTable


class Store(
    VerificationTable,  # and AgentsTable, which it builds on
    CallsTable,
    AuditTable,
    SettingsTable,
    BlacklistTable,
    CampaignsTable,
    JobsTable,
    FollowupsTable,
    SentLogTable,
    CallFeedTable,
    HistoryTable,
):
    """Every table, over one connection."""


__all__ = [
    "SCHEMA_REVISION",
    "SCHEMA_VERSION",
    "Agent",
    "CallRow",
    "Clock",
    "Db",
    "Store",
    "StoreBusy",
    "StoreDown",
    "StoreError",
    "StoreFull",
    "StoreUnavailable",
    "iso",
    "utc_now",
]
