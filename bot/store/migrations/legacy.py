"""The schema, as numbered migrations; PRAGMA user_version records how far a file has come."""

from __future__ import annotations

import re

import sqlite_utils

SCHEMA_VERSION = 13


# Later migrations, one per feature, each a function of its own: tables are created
# if missing, so each is safe to run on a file that already has them.
def _v7_verification(db: sqlite_utils.Database) -> None:
    """Agent numbers proven by a verification call (issue 12).

    One row per user who registered: the number, the pending code's HMAC, its expiry and wrong
    tries, who verified it, and the day's count of verification calls. Mappings made before
    this migration have no row, so they are unproven until registered again (or assigned by an
    admin).
    """
    db["verifications"].create(
        {
            "user_id": str,
            "number": str,
            "state": str,
            "code_hash": str,
            "tries": int,
            "expires_at": str,
            "verified_by": str,
            "calls_sent": int,
            "first_call_at": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="user_id",
        not_null={"number", "state", "tries", "calls_sent", "created_at", "updated_at"},
        defaults={"tries": 0, "calls_sent": 0},
        if_not_exists=True,
    )


def _v8_campaigns(db: sqlite_utils.Database) -> None:
    """Broadcast campaigns stored chunk by chunk (issue 13).

    A campaign is its `jobs` row (who paused it and why, when it started, when its results went
    out); each Kaleyra request is a `campaign_chunks` row, marked `sending` before the request
    and settled (accepted, refused, unknown) after it, so a restart knows what went out.
    """
    jobs = db["jobs"]
    for column in ("pause_reason", "paused_by", "started_at", "results_at"):
        if column not in jobs.columns_dict:
            jobs.add_column(column, str)
    jobs.create_index(["state"], if_not_exists=True)
    db["campaign_chunks"].create(
        {
            "job_id": int,
            "idx": int,
            "numbers": str,  # JSON list of E.164
            "size": int,
            "state": str,
            "group_ids": str,  # JSON list
            "code": str,
            "error": str,
            "sent_at": str,
            "done_at": str,
        },
        pk=("job_id", "idx"),
        not_null={"size", "state"},
        if_not_exists=True,
    )
    db["campaign_chunks"].create_index(["job_id", "state", "idx"], if_not_exists=True)


def _v9_followups_and_audit(db: sqlite_utils.Database) -> None:
    """Follow-up, blacklist and audit indexes (issues 11, 12).

    A follow-up's reminder has a state of its own, read by index, so the reminder scan reads only
    pending reminders; follow-ups already past when this runs have nothing left to remind.
    """
    followups = db["followups"]
    if "source" not in followups.columns_dict:
        followups.add_column("source", str, not_null_default="slack")
    if "reminder_state" not in followups.columns_dict:
        followups.add_column("reminder_state", str, not_null_default="pending")
        db.execute(
            "UPDATE followups SET reminder_state = 'none'"
            " WHERE ontime < strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')"
        )
    followups.create_index(["reminder_state", "ontime"], if_not_exists=True)
    db["blacklist"].create_index(["added_at"], if_not_exists=True)
    db["sent_log"].create_index(["state", "at"], if_not_exists=True)
    db["audit"].create_index(["action", "id"], if_not_exists=True)


def _v10_callfeed(db: sqlite_utils.Database) -> None:
    """The incoming-call feed: posted calls, claims, outcomes (issue 15)."""
    # One row per Kaleyra incoming call (its id is the key): posted once, claimed once.
    db["feed_calls"].create(
        {
            "key": str,
            "caller": str,
            "agent_number": str,
            "agent_user": str,
            "started_at": str,
            "billsec": int,
            "status": str,
            "location": str,
            "missed": int,
            "state": str,
            "channel": str,
            "message_ts": str,
            "claimed_by": str,
            "claimed_at": str,
            "callback_call_id": int,
            "callback_state": str,
            "callback_billsec": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="key",
        if_not_exists=True,
    )
    db["feed_calls"].create_index(["state", "started_at"], if_not_exists=True)
    db["feed_calls"].create_index(["started_at"], if_not_exists=True)
    db["feed_calls"].create_index(["callback_call_id"], if_not_exists=True)
    # What came of a call the bot placed (calls.id), logged by its caller.
    db["call_outcomes"].create(
        {
            "call_id": int,
            "user_id": str,
            "outcome": str,
            "note": str,
            "followup_at": str,
            "followup_id": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="call_id",
        if_not_exists=True,
    )


def _v11_scale(db: sqlite_utils.Database) -> None:
    """Indexes and retention for a year of history (issue 14).

    - partial indexes of the open calls (tracked every 2 s) and of the calls being placed (read
      at start-up): they hold only those rows, so they are found without reading a year of
      finished calls, and the planner picks them whatever ANALYZE says of `state` (a plain index
      of five values loses to a table scan once statistics exist). Their WHERE is the one the
      store's queries use, term for term, as SQLite requires of a partial index;
    - calls(user_id, id): a user's latest calls (App Home, the call history pages) walk the index
      backwards from the newest and stop at the page's end, with no sort;
    - blacklist(added_at, number): `/blacklist list` pages in order without sorting the list;
    - partial indexes of the sent log's missed items (the digest lists them) and claims (swept
      when stale): a year of sent reminders stays out of both reads.
    Retention (`prune_history`) deletes by the existing audit(at) and calls(created_at) indexes.
    """
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_calls_open ON calls(id)"
        " WHERE state IN ('placed', 'unknown')"
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_calls_placing ON calls(id) WHERE state = 'placing'")
    # 'unknown' calls have no Kaleyra id and are never polled; a tracker reading only the
    # placed ones stays as cheap after a year of timeouts as on the first day.
    db.execute("CREATE INDEX IF NOT EXISTS idx_calls_placed ON calls(id) WHERE state = 'placed'")
    db["calls"].create_index(["user_id", "id"], if_not_exists=True)
    db["blacklist"].create_index(["added_at", "number"], if_not_exists=True)
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_sent_log_missed ON sent_log(due_at) WHERE state = 'missed'"
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_sent_log_claimed ON sent_log(at) WHERE state = 'claimed'"
    )


# Tables whose ids other rows (or Slack buttons, or callback tokens) refer to, and where.
_REFERENCED_IDS = {
    "calls": (("call_outcomes", "call_id"), ("feed_calls", "callback_call_id")),
    "jobs": (("campaign_chunks", "job_id"),),
    "audit": (),
}


def _v12_teamline(db: sqlite_utils.Database) -> None:
    """The team line's second audit (issue 18).

    - ids are never reused: `INTEGER PRIMARY KEY` hands out the largest id + 1, so once
      retention deleted the newest calls, a new call took an old id, with its outcome, note,
      claim and callback token. The tables are rebuilt with AUTOINCREMENT, and the counter starts
      above every id still referred to anywhere;
    - feed_calls.caller_problem: why a caller Kaleyra reported cannot be dialled (another
      country, premium rate, not a number), so the channel shows no Call back for it; and the
      claims still being followed, read by caller when a *Dial again* re-checks them;
    - slack_deliveries: the Events API deliveries (and commands, interactions) already taken,
      by their own identity, so a Slack retry is processed once and only once.
    """
    if db.conn.in_transaction:
        db.conn.commit()
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        for table, references in _REFERENCED_IDS.items():
            _autoincrement(db, table, references)
        if "caller_problem" not in db["feed_calls"].columns_dict:
            db.conn.execute("ALTER TABLE feed_calls ADD COLUMN caller_problem TEXT")
        db.conn.execute(
            "CREATE INDEX IF NOT EXISTS idx_feed_claims_open ON feed_calls(caller)"
            " WHERE callback_state IN ('dialling', 'unknown')"
        )
        db.conn.execute(
            "CREATE TABLE IF NOT EXISTS slack_deliveries (id TEXT PRIMARY KEY, at TEXT NOT NULL)"
        )
        db.conn.execute(
            "CREATE INDEX IF NOT EXISTS idx_slack_deliveries_at ON slack_deliveries(at)"
        )
        db.conn.execute("COMMIT")
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise


def _autoincrement(
    db: sqlite_utils.Database, table: str, references: tuple[tuple[str, str], ...]
) -> None:
    """Rebuild `table` with `id INTEGER PRIMARY KEY AUTOINCREMENT`, its rows, ids and indexes."""
    conn = db.conn
    (create,) = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
    ).fetchone()
    if "AUTOINCREMENT" not in create.upper():
        indexes = [
            sql
            for (sql,) in conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
                " AND sql IS NOT NULL",
                [table],
            )
        ]
        rebuilt, count = re.subn(
            r"(\[id\]|\bid\b)\s+INTEGER\s+PRIMARY\s+KEY",
            r"\1 INTEGER PRIMARY KEY AUTOINCREMENT",
            create,
            count=1,
            flags=re.IGNORECASE,
        )
        if not count:
            raise RuntimeError(f"{table}: no integer id column to make AUTOINCREMENT")
        columns = ", ".join(f"[{c}]" for c in db[table].columns_dict)
        conn.execute(f"ALTER TABLE [{table}] RENAME TO [{table}_before_v12]")
        conn.execute(rebuilt)
        conn.execute(
            f"INSERT INTO [{table}] ({columns}) SELECT {columns} FROM [{table}_before_v12]"
        )
        conn.execute(f"DROP TABLE [{table}_before_v12]")
        for sql in indexes:
            conn.execute(sql)
    # Ids retention already deleted may still be named elsewhere: start above those too.
    highest = [conn.execute(f"SELECT MAX(id) FROM [{table}]").fetchone()[0] or 0]
    for other, column in references:
        if other in db.table_names():
            highest.append(
                conn.execute(f"SELECT MAX([{column}]) FROM [{other}]").fetchone()[0] or 0
            )
    floor = max(int(n) for n in highest)
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", [table]).fetchone()
    if row is None:
        conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", [table, floor])
    elif int(row[0] or 0) < floor:
        conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = ?", [floor, table])


def _v13_campaigns(db: sqlite_utils.Database) -> None:
    """Who is sending a campaign (issue 18).

    `jobs.sender_until`: the lease of the task sending a running campaign, renewed while it
    sends (and across its pacing waits) and cleared when it stops. A running campaign whose
    lease is empty or past has no sender, so the minute job starts one; a replica never starts
    a second sender while another's lease holds. Only adds a column if missing, so it applies
    after any v12.
    """
    if "sender_until" not in db["jobs"].columns_dict:
        db["jobs"].add_column("sender_until", str)


LATER = (
    (7, _v7_verification),
    (8, _v8_campaigns),
    (9, _v9_followups_and_audit),
    (10, _v10_callfeed),
    (11, _v11_scale),
    (12, _v12_teamline),
    (13, _v13_campaigns),
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
