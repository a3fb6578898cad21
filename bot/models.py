"""The app's own data, typed: what the store returns, services pass around and views render."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Agent:
    user_id: str
    number: str  # E.164
    role: str
    created_at: str
    updated_at: str


@dataclass
class CallRow:
    id: int
    kind: str
    user_id: str
    agent_number: str
    customer_number: str
    kaleyra_id: str | None
    state: str  # placing, placed, unknown, failed, final
    status1: str | None
    status2: str | None
    duration: int | None
    billsec: int | None
    recording: str | None
    channel: str | None
    message_ts: str | None
    callback_token: str | None
    error: str | None
    created_at: str
    updated_at: str
    final_at: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CallRow:
        return cls(**{k: row.get(k) for k in cls.__dataclass_fields__})
