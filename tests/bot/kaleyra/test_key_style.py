"""The client passes the key the way the account takes it, and reads group status in its spelling."""

from __future__ import annotations

import httpx
import pytest

from bot.kaleyra import KaleyraAPIError, KaleyraClient
from bot.kaleyra.models import DialerRow, KeyStyle, LogQuery


def _client(sandbox, style: KeyStyle, spelling: str = "voice.groupstatus") -> KaleyraClient:
    return KaleyraClient(
        api_key="k1",
        voice_url=sandbox.voice_url,
        timeout=5.0,
        backoff_seconds=0,
        key_style=style,
        group_status_method=spelling,
    )


@pytest.mark.parametrize("style", list(KeyStyle))
async def test_each_style_puts_the_key_in_one_place(sandbox, style: KeyStyle) -> None:
    sandbox.state.key_styles = frozenset({style.value})
    client = _client(sandbox, style)
    try:
        await client.c2c_log(LogQuery())
        # A JSON body: the key goes beside `method`, in the query string.
        await client.dialer_import("renewals", [DialerRow(number="9876543210")])
    finally:
        await client.aclose()
    sent = sandbox.state.recorded()
    assert [(r.operation, r.key_place) for r in sent] == [
        ("dial.c2cstatus", style.value),
        ("autodial.import", style.value),
    ]
    assert all("api_key" not in r.form and "api_key" not in r.query for r in sent)


async def test_a_style_the_account_ignores_is_a_missing_key(sandbox) -> None:
    sandbox.state.key_styles = frozenset({"api_key parameter"})
    client = _client(sandbox, KeyStyle.X_API_KEY_HEADER)
    try:
        with pytest.raises(KaleyraAPIError) as refused:
            await client.health()
    finally:
        await client.aclose()
    assert refused.value.code == "E100"


@pytest.mark.parametrize("spelling", ["voice.groupstatus", "voice.groupStatus"])
async def test_group_status_goes_out_in_the_accounts_spelling(sandbox, spelling: str) -> None:
    sandbox.state.group_status_spelling = spelling
    right, wrong = (
        _client(sandbox, KeyStyle.X_API_KEY_HEADER, spelling),
        _client(sandbox, KeyStyle.X_API_KEY_HEADER, spelling.swapcase()),
    )
    try:
        with pytest.raises(KaleyraAPIError) as unknown_group:
            await right.obd_group_status("1")
        with pytest.raises(KaleyraAPIError) as unknown_method:
            await wrong.obd_group_status("1")
    finally:
        await right.aclose()
        await wrong.aclose()
    assert (unknown_group.value.code, unknown_method.value.code) == ("E108", "E102")
    assert sandbox.state.recorded()[0].operation == spelling


def test_the_control_endpoint_sets_the_dialect(sandbox) -> None:
    httpx.post(
        f"{sandbox.url}/_sandbox/state",
        json={"key_styles": ["api_key header"], "group_status_spelling": "voice.groupStatus"},
    ).raise_for_status()
    assert sandbox.state.key_styles == frozenset({"api_key header"})
    assert sandbox.state.group_status_spelling == "voice.groupStatus"
