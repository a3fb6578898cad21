"""Blacklist: Kaleyra first, then the store and the audit; removal for admins only."""

from __future__ import annotations

import pytest

from bot.models import BlacklistEntry
from bot.phones import parse_phone
from bot.sandbox import Fault
from bot.services.agents import Agents, Refused
from bot.services.blacklist import LIST_LIMIT, Blacklist
from bot.store import Store

ADMIN, AGENT = "U0ADMIN", "U0AGENT"
PHONES = [parse_phone("9876543210"), parse_phone("9123456789")]


@pytest.fixture
def store(tmp_path, clock):
    s = Store(tmp_path / "b.db", clock=clock)
    yield s
    s.close()


@pytest.fixture
def blacklist(store, kaleyra) -> Blacklist:
    return Blacklist(store, kaleyra, Agents(store, env_admins=frozenset({ADMIN})))


async def test_add_blocks_at_kaleyra_then_records_who_and_why(blacklist, store, sandbox) -> None:
    await blacklist.add(AGENT, PHONES, "asked twice")
    [sent] = sandbox.state.recorded("block")
    assert sent.form["number"] == "9876543210,9123456789"
    entries = await store.blacklist_entries()
    assert all(isinstance(e, BlacklistEntry) for e in entries)
    assert {(e.number, e.added_by, e.reason) for e in entries} == {
        ("+919876543210", AGENT, "asked twice"),
        ("+919123456789", AGENT, "asked twice"),
    }
    assert await store.blacklisted(["+919876543210", "+910000000000"]) == {"+919876543210"}
    [entry] = await store.audit_entries(action="blacklist.add")
    assert (entry.outcome, entry.numbers) == ("ok", "98******10,91******89")


async def test_a_kaleyra_failure_changes_nothing_and_is_audited(blacklist, store, sandbox) -> None:
    from bot.kaleyra import KaleyraError

    sandbox.state.set_fault("block", Fault(error_rate=1.0, http_status=503))
    with pytest.raises(KaleyraError):
        await blacklist.add(AGENT, PHONES)
    assert await store.blacklist_entries() == []
    assert (await store.audit_entries(action="blacklist.add"))[0].outcome == "failed"


async def test_remove_is_for_admins_and_the_refusal_is_audited(blacklist, store, sandbox) -> None:
    await blacklist.add(AGENT, PHONES[:1])
    with pytest.raises(Refused, match="Only admins can remove numbers from the blacklist"):
        await blacklist.remove(AGENT, PHONES[:1])
    assert len(sandbox.state.recorded("block")) == 1
    assert (await store.audit_entries(action="blacklist.remove.refused"))[0].user_id == AGENT
    await blacklist.remove(ADMIN, PHONES[:1])
    assert sandbox.state.recorded("block")[-1].form["action"] == "delete"
    assert await store.blacklist_entries() == []


async def test_the_page_is_bounded_and_counts_the_rest(blacklist, store) -> None:
    await store.blacklist_add([f"+9198765{i:05d}" for i in range(LIST_LIMIT + 5)], AGENT)
    page = await blacklist.page(AGENT)
    assert (len(page.entries), page.total, page.show_numbers) == (LIST_LIMIT, LIST_LIMIT + 5, False)
    assert (await blacklist.page(ADMIN)).show_numbers
