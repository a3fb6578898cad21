"""A small error hierarchy: every Kaleyra failure the user can see is one of these."""

from __future__ import annotations


class KaleyraError(Exception):
    """Base for everything the Kaleyra client raises."""

    user_message = "Kaleyra could not be reached."

    def __init__(self, message: str = "", *, outcome_unknown: bool = False) -> None:
        super().__init__(message or self.user_message)
        self.message = message or self.user_message
        # True when a call-placing request may have reached Kaleyra: never re-send it.
        self.outcome_unknown = outcome_unknown


class KaleyraAPIError(KaleyraError):
    """Kaleyra answered and said no: legacy `status` or kaleyra.io `code`, with its message."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field_errors: dict[str, str] | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.field_errors = field_errors or {}
        self.http_status = http_status

    @property
    def is_auth_error(self) -> bool:
        return self.code in {"RBC201", "E100", "E101"}


class KaleyraConnectionError(KaleyraError):
    user_message = "Kaleyra could not be reached (connection failed). Nothing was sent."


class KaleyraServerError(KaleyraError):
    """Kaleyra answered 5xx, or with something that is not its JSON (an HTML error page)."""

    user_message = "Kaleyra answered with an error page instead of a result."

    def __init__(
        self, message: str = "", *, http_status: int | None = None, outcome_unknown: bool = False
    ) -> None:
        super().__init__(message, outcome_unknown=outcome_unknown)
        self.http_status = http_status


class KaleyraTimeout(KaleyraError):
    """No answer in time. For a call-placing request the call may or may not have been placed."""

    user_message = "Kaleyra did not answer in time."
