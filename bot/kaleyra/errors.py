"""A small error hierarchy: every Kaleyra failure the user can see is one of these.

Each error says in `user_message` what went wrong and what to do, in words a user reads: never a
stack trace, a secret or a raw answer. This is the one wording of Kaleyra errors.
"""

from __future__ import annotations

AUTH_CODES = frozenset({"RBC201", "E100", "E101"})
UNKNOWN_TAIL = "whether it went through is unknown, so nothing was re-sent."


class KaleyraError(Exception):
    """Base for everything the Kaleyra client raises."""

    default_message = "Something went wrong talking to Kaleyra."

    def __init__(self, message: str = "", *, outcome_unknown: bool = False) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        # True when a call-placing request may have reached Kaleyra: never re-send it.
        self.outcome_unknown = outcome_unknown

    @property
    def user_message(self) -> str:
        if self.message != self.default_message:  # written for the user where it was raised
            return self.message
        return f"{self.default_message} Try again in a minute."


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
        return self.code in AUTH_CODES

    @property
    def user_message(self) -> str:
        hint = (
            " Check KALEYRA_API_KEY (and KALEYRA_SID) with your admin."
            if self.is_auth_error
            else ""
        )
        fields = "; ".join(f"{k}: {v}" for k, v in self.field_errors.items() if k != "scalar")
        detail = f" ({fields})" if fields else ""
        return f"Kaleyra refused it: {self.message}{detail} [code {self.code}].{hint}"


class KaleyraConnectionError(KaleyraError):
    default_message = "Kaleyra could not be reached (connection failed). Nothing was sent."

    @property
    def user_message(self) -> str:
        if self.outcome_unknown:
            return "The connection to Kaleyra broke mid-request; the outcome is unknown."
        return "Kaleyra could not be reached, so nothing was sent. Try again in a minute."


class KaleyraServerError(KaleyraError):
    """Kaleyra answered 5xx, or with something that is not its JSON (an HTML error page)."""

    default_message = "Kaleyra answered with an error page instead of a result."

    def __init__(
        self, message: str = "", *, http_status: int | None = None, outcome_unknown: bool = False
    ) -> None:
        super().__init__(message, outcome_unknown=outcome_unknown)
        self.http_status = http_status

    @property
    def user_message(self) -> str:
        if self.outcome_unknown:
            return f"Kaleyra had a problem ({self.message}); {UNKNOWN_TAIL}"
        return f"Kaleyra had a problem ({self.message}). Try again in a few minutes."


class KaleyraBadAnswer(KaleyraServerError):
    """Kaleyra answered 200 with something the documents do not describe.

    Not JSON, a row without its `id`, a field of the wrong type: the client raises this instead
    of letting a decoding error escape. For a call-placing request the call may have been placed
    (`outcome_unknown`), so it is never re-sent.
    """

    default_message = "Kaleyra's answer was not in the expected shape."

    def __init__(
        self,
        operation: str,
        problem: str = "",
        *,
        http_status: int | None = 200,
        outcome_unknown: bool = False,
    ) -> None:
        what = f"Kaleyra's answer to {operation} was not in the expected shape"
        super().__init__(
            f"{what} ({problem})" if problem else what,
            http_status=http_status,
            outcome_unknown=outcome_unknown,
        )
        self.operation = operation
        self.problem = problem


class KaleyraTimeout(KaleyraError):
    """No answer in time. For a call-placing request the call may or may not have been placed."""

    default_message = "Kaleyra did not answer in time."

    @property
    def user_message(self) -> str:
        if self.outcome_unknown:
            return "Kaleyra did not answer in time; the outcome is unknown and nothing was re-sent."
        return "Kaleyra did not answer in time. Try again in a minute."


def describe(exc: BaseException) -> str:
    """The user's wording of any failure met while talking to Kaleyra."""
    if isinstance(exc, KaleyraError):
        return exc.user_message
    return KaleyraError().user_message
