from __future__ import annotations

import os

import pytest

from bot.kaleyra import KaleyraClient
from tests.support.databases import database_for
from tests.support.sandbox import FrozenClock, RunningSandbox, default_clock, start_sandbox


@pytest.fixture(scope="session")
def sandbox_server():
    yield from start_sandbox()


@pytest.fixture
def clock() -> FrozenClock:
    return default_clock()


@pytest.fixture
def sandbox(sandbox_server: RunningSandbox, clock: FrozenClock) -> RunningSandbox:
    """The session's sandbox with fresh state: calls complete in 2 s steps of the frozen clock."""
    sandbox_server.reset(clock=clock, step_seconds=2.0, dids={"+918047000000"})
    return sandbox_server


@pytest.fixture
async def kaleyra(sandbox: RunningSandbox):
    client = KaleyraClient(
        api_key="test-key",
        voice_url=sandbox.voice_url,
        io_url=sandbox.url + "/v1/",
        sid="HX123",
        timeout=5.0,
        backoff_seconds=0,
    )
    yield client
    await client.aclose()


@pytest.fixture
def database(request, tmp_path):
    """The DATABASE_URL of a fresh database: SQLite unless a module parametrizes it (indirect)
    with "postgresql" too (tests/support/databases.py)."""
    yield from database_for(getattr(request, "param", "sqlite"), tmp_path)


@pytest.fixture
def bot(sandbox: RunningSandbox, tmp_path, clock: FrozenClock, database: str):
    """The app over the wire; a test fails if the app sent anything Slack would refuse."""
    from tests.support.harness import Harness

    harness = Harness(sandbox, tmp_path, clock, database_url=database)
    yield harness
    refused = list(harness.fake.invalid)
    harness.close()
    if refused:
        shown = "\n".join(
            f"{method}: {'; '.join(problems[:5])}" for method, problems in refused[:10]
        )
        pytest.fail(f"payloads Slack would refuse (invalid_blocks):\n{shown}", pytrace=False)


@pytest.fixture
def slack_accepts_every_message(request):
    """Everything the bot sent (posts, updates, replies) is within Block Kit's limits; a module
    asks for it with `pytestmark = pytest.mark.usefixtures("slack_accepts_every_message")`."""
    from bot.local.blockkit import check_message
    from tests.support.harness import Harness

    yield
    for harness in (v for v in request.node.funcargs.values() if isinstance(v, Harness)):
        replies = [check_message(r) for r in harness.replies()]
        assert harness.fake.invalid == [] and not any(replies)


@pytest.fixture
def paced_bot(sandbox: RunningSandbox, tmp_path, clock: FrozenClock):
    """The app over the wire with OBD_CALLS_PER_MINUTE=200."""
    from tests.support.harness import Harness

    harness = Harness(sandbox, tmp_path, clock, obd_calls_per_minute=200)
    yield harness
    harness.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module that sets BOTH_DATABASES runs its tests of the app on PostgreSQL as well;
    TEST_ALL_ON_POSTGRES=1 does it for every module (a longer run than `make test` affords),
    but for the tests marked sqlite_only (the SQLite file's own locks and disk)."""
    if "database" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("sqlite_only"):
        return
    if getattr(metafunc.module, "BOTH_DATABASES", False) or os.environ.get("TEST_ALL_ON_POSTGRES"):
        metafunc.parametrize("database", ["sqlite", "postgresql"], indirect=True)


# The modules that wait longest on real processes and browsers go first, so pytest-xdist's
# workers start them early and fill the rest of the run with everything else.
FIRST = (
    "tests/test_replicas.py",
    "tests/bot/local/test_page_browser.py",
    "tests/bot/test_console.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return FIRST.index(path) if path in FIRST else len(FIRST)

    items.sort(key=rank)  # stable: within a rank, the collection order stays
