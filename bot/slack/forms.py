"""Typed reads of a submitted modal's state: one place that knows Slack's value shapes."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Value(BaseModel):
    """One element's state; each input type fills one of these fields."""

    model_config = ConfigDict(extra="ignore")

    value: str | None = None
    selected_option: dict[str, Any] | None = None
    selected_options: list[dict[str, Any]] = Field(default_factory=list)
    selected_date_time: int | None = None
    selected_date: str | None = None
    selected_time: str | None = None
    files: list[dict[str, Any]] = Field(default_factory=list)


class Form:
    """A view_submission's values, read by (block_id, action_id); a missing block reads empty."""

    def __init__(self, view: dict[str, Any]) -> None:
        state = (view.get("state") or {}).get("values") or {}
        self._values = {
            (block, action): _Value.model_validate(element or {})
            for block, elements in state.items()
            for action, element in (elements or {}).items()
        }
        self.private_metadata: str = view.get("private_metadata") or ""

    def _get(self, block: str, action: str) -> _Value:
        return self._values.get((block, action)) or _Value()

    def text(self, block: str, action: str) -> str:
        """A text input, stripped; empty when left blank."""
        return (self._get(block, action).value or "").strip()

    def choice(self, block: str, action: str) -> str | None:
        """The value of a static select or radio button, or None."""
        option = self._get(block, action).selected_option
        return option.get("value") if option else None

    def checked(self, block: str, action: str) -> list[str]:
        """The values of the ticked checkboxes."""
        return [o.get("value", "") for o in self._get(block, action).selected_options]

    def moment(self, block: str, action: str, tz: tzinfo) -> datetime | None:
        """A datetimepicker's choice in `tz`, or None."""
        picked = self._get(block, action).selected_date_time
        return datetime.fromtimestamp(int(picked), tz) if picked else None

    def number(self, block: str, action: str) -> int | None:
        """A number input (or a text one holding digits), or None when blank."""
        raw = self.text(block, action)
        return int(raw) if raw.lstrip("-").isdigit() else None

    def files(self, block: str, action: str) -> list[dict[str, Any]]:
        return self._get(block, action).files


def field_errors(errors: dict[str, str]) -> dict[str, Any]:
    """The ack that shows `errors` under their blocks (Slack cuts each at 150 characters)."""
    return {"response_action": "errors", "errors": {k: v[:150] for k, v in errors.items()}}
