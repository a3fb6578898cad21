"""One wording of Kaleyra errors: `user_message` on the error, used by every reply and card."""

from __future__ import annotations

import pytest

from bot.kaleyra.errors import (
    KaleyraAPIError,
    KaleyraBadAnswer,
    KaleyraConnectionError,
    KaleyraError,
    KaleyraServerError,
    KaleyraTimeout,
    describe,
)
from bot.views.common import describe_kaleyra_error


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (
            KaleyraAPIError("E109", "Sound file not found: 999.sound"),
            "Kaleyra refused it: Sound file not found: 999.sound [code E109].",
        ),
        (
            KaleyraAPIError("RBC201", "Invalid API key"),
            "Kaleyra refused it: Invalid API key [code RBC201]."
            " Check KALEYRA_API_KEY (and KALEYRA_SID) with your admin.",
        ),
        (
            KaleyraAPIError("RBC3004", "Validation", field_errors={"to": "bad", "scalar": "x"}),
            "Kaleyra refused it: Validation (to: bad) [code RBC3004].",
        ),
        (KaleyraTimeout(), "Kaleyra did not answer in time. Try again in a minute."),
        (
            KaleyraTimeout(outcome_unknown=True),
            "Kaleyra did not answer in time; the outcome is unknown and nothing was re-sent.",
        ),
        (
            KaleyraConnectionError(),
            "Kaleyra could not be reached, so nothing was sent. Try again in a minute.",
        ),
        (
            KaleyraConnectionError(outcome_unknown=True),
            "The connection to Kaleyra broke mid-request; the outcome is unknown.",
        ),
        (
            KaleyraServerError("Kaleyra answered HTTP 503.", http_status=503),
            "Kaleyra had a problem (Kaleyra answered HTTP 503.). Try again in a few minutes.",
        ),
        (
            KaleyraBadAnswer("monitor", "data.incidents.0.type: value error"),
            "Kaleyra had a problem (Kaleyra's answer to monitor was not in the expected shape"
            " (data.incidents.0.type: value error)). Try again in a few minutes.",
        ),
        (
            KaleyraError("KALEYRA_SID is not set, so kaleyra.io cannot be used."),
            "KALEYRA_SID is not set, so kaleyra.io cannot be used.",
        ),
        (KaleyraError(), "Something went wrong talking to Kaleyra. Try again in a minute."),
    ],
)
def test_user_message(error: KaleyraError, words: str) -> None:
    assert error.user_message == words
    assert describe(error) == words and describe_kaleyra_error(error) == words


def test_anything_else_gets_the_generic_words() -> None:
    assert describe_kaleyra_error(RuntimeError("token xoxb-secret")) == (
        "Something went wrong talking to Kaleyra. Try again in a minute."
    )


def test_api_error_keeps_kaleyras_message_and_code() -> None:
    error = KaleyraAPIError("E104", "Invalid number", http_status=200)
    assert (error.code, error.message, error.http_status, str(error)) == (
        "E104",
        "Invalid number",
        200,
        "E104: Invalid number",
    )


def test_bad_answer_is_a_server_error_with_its_operation() -> None:
    error = KaleyraBadAnswer("dial.click2call", "no call id", outcome_unknown=True)
    assert isinstance(error, KaleyraServerError) and error.http_status == 200
    assert (error.operation, error.problem, error.outcome_unknown) == (
        "dial.click2call",
        "no call id",
        True,
    )
