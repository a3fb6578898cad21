"""The schema, as numbered migrations; PRAGMA user_version records how far a file has come."""

from __future__ import annotations

import sqlite_utils

SCHEMA_VERSION = 11


# Later migrations, one per feature, each a function of its own: tables are created
# if missing, so each is safe to run on a file that already has them.
def _v7_verification(db: sqlite_utils.Database) -> None:
    """Agent numbers proven by a verification call (issue 12)."""


def _v8_campaigns(db: sqlite_utils.Database) -> None:
    """Broadcast campaigns stored chunk by chunk (issue 13)."""


def _v9_followups_and_audit(db: sqlite_utils.Database) -> None:
    """Follow-up, blacklist and audit indexes (issues 11, 12)."""


def _v10_callfeed(db: sqlite_utils.Database) -> None:
    """The incoming-call feed: posted calls, claims, outcomes (issue 15)."""


def _v11_scale(db: sqlite_utils.Database) -> None:
    """Indexes and retention for a year of history (issue 14)."""


LATER = (
    (7, _v7_verification),
    (8, _v8_campaigns),
    (9, _v9_followups_and_audit),
    (10, _v10_callfeed),
    (11, _v11_scale),
)


def migrate(db: sqlite_utils.Database) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version < 1:
        db["agents"].create(
            {"user_id": str, "number": str, "role": str, "created_at": str, "updated_at": str},
            pk="user_id",
            if_not_exists=True,
        )
        db["agents"].create_index(["number"], unique=True, if_not_exists=True)
        db["calls"].create(
            {
                "id": int,
                "kind": str,
                "user_id": str,
                "agent_number": str,
                "customer_number": str,
                "kaleyra_id": str,
                "state": str,
                "status1": str,
                "status2": str,
                "duration": int,
                "billsec": int,
                "recording": str,
                "channel": str,
                "message_ts": str,
                "callback_token": str,
                "error": str,
                "created_at": str,
                "updated_at": str,
                "final_at": str,
            },
            pk="id",
            if_not_exists=True,
        )
        db["calls"].create_index(["kaleyra_id"], if_not_exists=True)
        db["calls"].create_index(["user_id", "created_at"], if_not_exists=True)
        db["calls"].create_index(["callback_token"], unique=True, if_not_exists=True)
        db["audit"].create(
            {
                "id": int,
                "at": str,
                "user_id": str,
                "action": str,
                "outcome": str,
                "numbers": str,
                "kaleyra_ids": str,
                "detail": str,
            },
            pk="id",
            if_not_exists=True,
        )
        db["audit"].create_index(["at"], if_not_exists=True)
        db["settings"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
        db["seen_requests"].create({"key": str, "at": str}, pk="key", if_not_exists=True)
    if version < 2:
        db["blacklist"].create(
            {"number": str, "added_by": str, "added_at": str, "reason": str},
            pk="number",
            if_not_exists=True,
        )
        db["jobs"].create(
            {
                "id": int,
                "kind": str,
                "user_id": str,
                "state": str,
                "payload": str,
                "result": str,
                "channel": str,
                "message_ts": str,
                "created_at": str,
                "updated_at": str,
            },
            pk="id",
            if_not_exists=True,
        )
        db["followups"].create(
            {
                "id": str,
                "user_id": str,
                "follower": str,
                "phone": str,
                "name": str,
                "ontime": str,
                "notes": str,
                "autocall": int,
                "state": str,
                "created_at": str,
                "updated_at": str,
            },
            pk="id",
            if_not_exists=True,
        )
        db["followups"].create_index(["follower", "ontime"], if_not_exists=True)
    if version < 3:
        db["sent_log"].create(
            {
                "key": str,
                "kind": str,
                "due_at": str,
                "state": str,
                "late": int,
                "at": str,
                "detail": str,
            },
            pk="key",
            if_not_exists=True,
        )
        db["sent_log"].create_index(["kind", "state"], if_not_exists=True)
        if "remind_at" not in db["followups"].columns_dict:
            db["followups"].add_column("remind_at", str)
    if version < 4:
        db["roles"].create(
            {"user_id": str, "role": str, "granted_by": str, "at": str},
            pk="user_id",
            if_not_exists=True,
        )
    if version < 5:
        db["seen_requests"].create_index(["at"], if_not_exists=True)
    if version < 6:  # the repeat-call check reads the last minute's calls at start-up
        db["calls"].create_index(["created_at"], if_not_exists=True)
    for number, step in LATER:
        if version < number:
            step(db)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
