"""RecentKeys: the sliding window behind replay protection and the repeat-call check."""

from datetime import UTC, datetime, timedelta

from bot.runtime.recent import RecentKeys


def test_keys_expire_with_a_datetime_clock_and_can_be_seeded_and_dropped() -> None:
    now = [datetime(2026, 11, 23, 5, 30, tzinfo=UTC)]
    keys = RecentKeys(timedelta(seconds=60), lambda: now[0])
    keys.add("placed 50 s ago", now[0] - timedelta(seconds=50))  # seeded, oldest first
    keys.add("placed now")
    keys.add("refused")
    keys.discard("refused")
    assert "placed 50 s ago" in keys and "placed now" in keys and "refused" not in keys
    now[0] += timedelta(seconds=10)
    assert "placed 50 s ago" not in keys and len(keys) == 1
    keys.add("placed now")  # seen again: its minute starts over
    now[0] += timedelta(seconds=55)
    assert "placed now" in keys
