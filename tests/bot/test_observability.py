"""Metrics over the wire; logs as JSON with request ids, numbers masked and secrets removed."""

from __future__ import annotations

import io
import json
import logging

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.runtime.logs import REQUEST_ID, JsonFormatter, PrivacyFilter


def sample(text: str, metric: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == metric and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def test_metrics_count_commands_and_kaleyra_requests(bot) -> None:
    url = f"{bot.app_server.url}/metrics"
    before = httpx.get(url).text
    bot.register()
    bot.command("/c2c", "9123456789")
    bot.command("/c2c", "call me maybe")
    after = httpx.get(url).text

    def delta(metric: str, **labels: str) -> float:
        return sample(after, metric, **labels) - sample(before, metric, **labels)

    assert delta("voicebot_commands_total", name="/c2c", outcome="ok") == 2  # register and dial
    assert delta("voicebot_commands_total", name="/c2c", outcome="refused") == 1
    assert delta("voicebot_kaleyra_requests_total", operation="dial.click2call", status="ok") == 1
    assert delta("voicebot_kaleyra_request_seconds_count", operation="dial.click2call") == 1


def test_json_logs_carry_request_id_and_hide_numbers_and_secrets() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PrivacyFilter(["sup3r-signing-secret", "A1234567key"]))
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("slack_sdk.web.async_base_client")  # a library's own debug log
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    token = REQUEST_ID.set("req-42")
    try:
        logger.debug(
            "Sending a request - body: caller=9876543210&token=xoxb-123-456 secret=sup3r-signing-secret key=A1234567key"
        )
    finally:
        REQUEST_ID.reset(token)
        logger.removeHandler(handler)
    record = json.loads(stream.getvalue())
    assert record["request_id"] == "req-42" and record["level"] == "DEBUG"
    assert "98******10" in record["message"] and "9876543210" not in record["message"]
    assert (
        "xoxb-123" not in record["message"]
        and "sup3r" not in record["message"]
        and "A1234567key" not in record["message"]
    )


def test_tracebacks_are_cleaned_in_both_formats() -> None:
    from bot.runtime.logs import ConsoleFormatter

    for formatter in (ConsoleFormatter(), JsonFormatter()):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.addFilter(PrivacyFilter(["sup3r-signing-secret"]))
        handler.setFormatter(formatter)
        logger = logging.getLogger("voicebot.test.tracebacks")
        logger.addHandler(handler)
        try:
            raise RuntimeError("caller=9876543210 xoxb-123-456 sup3r-signing-secret\nforged")
        except RuntimeError:
            logger.exception("dial failed")
        finally:
            logger.removeHandler(handler)
        out = stream.getvalue()
        assert "RuntimeError" in out and "98******10" in out
        assert "9876543210" not in out and "xoxb-123" not in out and "sup3r" not in out
        if isinstance(formatter, ConsoleFormatter):
            assert all(
                line.startswith("    | ") for line in out.splitlines()[1:]
            )  # the traceback is indented under its record, the forged line too


def test_kaleyra_status_labels_are_bounded() -> None:
    from bot.runtime.metrics import kaleyra_status

    assert kaleyra_status("ok") == "ok" and kaleyra_status("E101") == "E101"
    assert kaleyra_status("RBC3007") == "RBC3007" and kaleyra_status("502") == "502"
    assert kaleyra_status("E999") == "other" and kaleyra_status("<b>x</b>") == "other"
    assert kaleyra_status("9999") == "other" and kaleyra_status("") == "other"
