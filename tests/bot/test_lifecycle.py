"""One start-up and shut-down for every entry point: what runs, in which order, and when not."""

from __future__ import annotations

import pytest

from bot.deps import Tuning, build_deps
from bot.lifecycle import Lifecycle
from bot.settings import Settings


@pytest.fixture
def deps(tmp_path):
    settings = Settings(
        _env_file=None, database_path=str(tmp_path / "v.db"), scheduler_enabled=True
    )
    return build_deps(settings, tuning=Tuning(freeze_heap=False))


async def test_start_runs_the_scheduler_and_resumes_tracking_then_is_ready(deps, mocker) -> None:
    start = mocker.patch.object(deps.scheduler, "start")
    resume = mocker.patch.object(deps.c2c, "resume_tracking", return_value=2)
    recover = mocker.patch.object(deps.obd, "recover_interrupted", return_value=1)
    lifecycle = Lifecycle(deps)
    assert not lifecycle.ready
    await lifecycle.start()
    start.assert_called_once_with()
    resume.assert_called_once_with()
    recover.assert_awaited_once_with()
    assert lifecycle.ready and deps.slack.session is not None
    shutdown = mocker.patch.object(deps.scheduler, "shutdown")
    await lifecycle.stop()
    shutdown.assert_called_once_with()
    assert not lifecycle.ready and deps.slack.session is None


async def test_without_the_scheduler_nothing_is_scheduled(deps, mocker) -> None:
    deps.settings.scheduler_enabled = False
    start = mocker.patch.object(deps.scheduler, "start")
    mocker.patch.object(deps.c2c, "resume_tracking", return_value=0)
    mocker.patch.object(deps.obd, "recover_interrupted", return_value=0)
    lifecycle = Lifecycle(deps)
    await lifecycle.start()
    start.assert_not_called()
    await lifecycle.stop()
